//! Reads an RBD image to stdout: `rbd_copy POOL/IMAGE[@OPTIONS] > image.raw` (the cluster from
//! `$CEPH_CONF` or the options). Like `rbd export POOL/IMAGE -`, through this crate.

use ceph_rbd::{Cluster, ImageSpec};
use std::io::{IoSliceMut, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1).ok_or("usage: rbd_copy POOL/IMAGE[@OPTIONS]")?;
    let spec = ImageSpec::parse(&arg)?;
    let cluster = Cluster::connect(&spec.cluster)?;
    let image = cluster.open(&spec.pool, spec.namespace.as_deref(), &spec.image, true)?;
    let size = image.size()?;
    let mut buf = vec![0u8; 4 << 20];
    let mut out = std::io::stdout().lock();
    let mut offset = 0u64;
    while offset < size {
        let n = (size - offset).min(buf.len() as u64) as usize;
        image.read(offset, &mut [IoSliceMut::new(&mut buf[..n])])?;
        out.write_all(&buf[..n])?;
        offset += n as u64;
    }
    Ok(())
}
