//! `RbdDisk` against a real (single-node, throwaway) Ceph cluster: what it writes is read back
//! by another client (`rbd export`, a separate process with its own cache, so the bytes are the
//! cluster's), FUA and flush put writes in the cluster while the disk's own cache holds the
//! rest, unmapped blocks read back as zeroes, errors name the image, and the `tcmu` program
//! says what is missing without librbd.
//!
//! The cluster is started by `xtask/ceph/cluster.sh` in a folder of the build's temporary
//! directory, on ports of its own, and stopped at the end (and a cluster an interrupted run
//! left there, its process gone, is stopped at the start). It
//! needs Ceph's daemons (Debian: ceph-mon, ceph-osd, ceph-common, which `cargo xtask test`
//! installs); without them the test fails, saying so.

use std::io::{IoSlice, IoSliceMut};
use std::path::{Path, PathBuf};
use std::process::Command;
use tcmu::BlockDevice;
use tcmu::rbd::RbdDisk;

const BS: u32 = 512;
const MIB: u64 = 1 << 20;

/// The test's own cluster, stopped when dropped.
struct Ceph {
    conf: PathBuf,
    dir: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/ceph/cluster.sh")
}

impl Ceph {
    fn start() -> Ceph {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Clusters of runs that were interrupted (no Drop ran: their process is gone) are
        // stopped and removed; a running test's cluster is left alone.
        for old in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("ceph-").and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = Command::new("sh").arg(script()).arg("down").arg(old.path()).status();
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        let dir = tmp.join(format!("ceph-{}", std::process::id()));
        // Ports of our own: never a real cluster's (3300 / 6789) on the same host.
        let base = 20_000 + (std::process::id() % 10_000) * 2;
        let out = Command::new("sh")
            .arg(script())
            .args(["up"])
            .arg(&dir)
            .env("CEPH_MON_PORT_V2", base.to_string())
            .env("CEPH_MON_PORT_V1", (base + 1).to_string())
            .output()
            .expect("sh runs");
        assert!(
            out.status.success(),
            "starting a test cluster failed (these tests need Ceph's daemons: Debian \
             ceph-mon ceph-osd ceph-common, which `cargo xtask test` installs):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ceph { conf: dir.join("ceph.conf"), dir }
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `program` (`rbd`, `ceph`) as the admin client; its stdout. Fails the test if it
    /// fails.
    fn admin(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(program)
            .arg("--conf")
            .arg(&self.conf)
            .args(args)
            .output()
            .expect("the Ceph tools run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{program} {args:?}: {err}");
        out.stdout
    }

    /// Runs `rbd` as the admin client; its stdout.
    fn rbd(&self, args: &[&str]) -> Vec<u8> {
        self.admin("rbd", args)
    }

    /// The image's bytes, as a separate client reads them from the cluster.
    fn export(&self, image: &str) -> Vec<u8> {
        self.rbd(&["export", &format!("rbd/{image}"), "-"])
    }

    /// The spec of `image` for the non-admin client `tcmu`, with a config whose client cache
    /// keeps writes until a flush (so a missing flush shows).
    fn spec(&self, image: &str) -> ceph_rbd::ImageSpec {
        let conf = self.dir().join("client-cache.conf");
        let mut text = std::fs::read_to_string(&self.conf).unwrap();
        text.push_str(
            "\n[client]\nrbd cache = true\nrbd cache policy = writeback\n\
             rbd cache writethrough until flush = false\nrbd cache max dirty age = 600\n",
        );
        std::fs::write(&conf, text).unwrap();
        let keyring = self.dir().join("client.tcmu.keyring");
        ceph_rbd::ImageSpec::parse(&format!(
            "rbd/{image}@conf={},id=tcmu,keyring={}",
            conf.display(),
            keyring.display()
        ))
        .unwrap()
    }
}

impl Drop for Ceph {
    fn drop(&mut self) {
        let _ = Command::new("sh").arg(script()).arg("down").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn write(disk: &RbdDisk, lba: u64, data: &[u8], fua: bool) {
    disk.write(lba, &[IoSlice::new(data)], fua).unwrap();
}

fn read(disk: &RbdDisk, lba: u64, len: usize) -> Vec<u8> {
    let (mut a, mut b) = (vec![0u8; len / 2], vec![0u8; len - len / 2]);
    disk.read(lba, &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).unwrap();
    a.extend_from_slice(&b);
    a
}

fn at(image: &[u8], lba: u64, len: usize) -> &[u8] {
    let start = (lba * u64::from(BS)) as usize;
    &image[start..start + len]
}

#[test]
fn rbd_disk_against_a_cluster() {
    let ceph = Ceph::start();
    let (t1, odd) = ("t1", "odd");
    ceph.rbd(&["create", "--size", "16M", &format!("rbd/{t1}")]);
    let disk = RbdDisk::open(&ceph.spec(t1), BS, false).unwrap();
    assert_eq!(disk.num_blocks(), 16 * MIB / u64::from(BS));
    assert_eq!(disk.name(), format!("rbd/{t1}"));
    assert!(disk.write_cache(), "librbd's cache is a volatile write cache: WCE=1");

    // Written through two buffers, read back through two others, here and by another client
    // once flushed.
    let a = pattern(1, 64 << 10);
    write(&disk, 8, &a, false);
    assert!(read(&disk, 8, a.len()) == a, "read back");
    disk.flush().unwrap();
    assert!(at(&ceph.export(t1), 8, a.len()) == &a[..], "a flushed write is in the cluster");

    // Without a flush, this client's cache may hold it (here it does: the dirty age is 10
    // minutes); with FUA, it is in the cluster when the write returns.
    let b = pattern(2, 4096);
    write(&disk, 1000, &b, false);
    assert!(at(&ceph.export(t1), 1000, b.len()) != &b[..], "the cache holds unflushed writes");
    let c = pattern(3, 4096);
    write(&disk, 2000, &c, true);
    assert!(at(&ceph.export(t1), 2000, c.len()) == &c[..], "a FUA write is in the cluster");

    // Unmapped blocks read back as zeroes: a whole 4 MiB object and a part of one (which a
    // plain discard would leave as it was).
    let whole = pattern(4, 4 * MIB as usize);
    write(&disk, 4 * MIB / u64::from(BS), &whole, false);
    write(&disk, 16, &pattern(5, 8192), false);
    disk.flush().unwrap();
    disk.discard(4 * MIB / u64::from(BS), 4 * MIB / u64::from(BS)).unwrap();
    disk.discard(16 + 2, 8).unwrap();
    disk.flush().unwrap();
    let img = ceph.export(t1);
    assert!(at(&img, 4 * MIB / u64::from(BS), whole.len()).iter().all(|&x| x == 0));
    assert!(at(&img, 18, 8 * BS as usize).iter().all(|&x| x == 0), "a partial unmap zeroes");
    assert!(at(&img, 16, 1024) == &pattern(5, 8192)[..1024], "what is around it stays");
    assert!(at(&img, 26, 1024) == &pattern(5, 8192)[5120..6144]);
    assert!(read(&disk, 18, 4096).iter().all(|&x| x == 0));

    // WRITE SAME of zeroes.
    disk.write_zeroes(8, 16).unwrap();
    disk.flush().unwrap();
    assert!(at(&ceph.export(t1), 8, 16 * BS as usize).iter().all(|&x| x == 0));
    assert!(at(&ceph.export(t1), 40, 512) == &a[32 * 512..33 * 512], "what is past it stays");

    // WRITE SAME of another block: the block over the range, nothing past it.
    let block = pattern(6, BS as usize);
    disk.write_same(300, 40, &block).unwrap();
    disk.flush().unwrap();
    let img = ceph.export(t1);
    assert!(at(&img, 300, 40 * BS as usize).chunks(BS as usize).all(|c| c == &block[..]));
    assert!(at(&img, 340, BS as usize).iter().all(|&x| x == 0), "past the range: untouched");
    assert!(at(&img, 299, BS as usize).iter().all(|&x| x == 0), "before it: untouched");

    // An image shrunk while served: the disk's size follows at once (librbd re-reads the
    // header), a write across its new end is refused (librbd would cut it short and report
    // success), one before it still lands.
    let cluster = ceph_rbd::Cluster::connect(&ceph.spec(t1).cluster).unwrap();
    let other = cluster.open("rbd", None, t1, false).unwrap();
    other.resize(15 * MIB).unwrap();
    drop(other);
    let end = 15 * MIB / u64::from(BS);
    assert_eq!(disk.num_blocks(), end);
    let e = disk.write(end - 4, &[IoSlice::new(&[7u8; 4096])], false).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    let kind = |r: std::io::Result<()>| r.unwrap_err().kind();
    assert_eq!(kind(disk.write_zeroes(end - 1, 2)), std::io::ErrorKind::InvalidInput);
    assert_eq!(kind(disk.write_same(end - 1, 2, &[1u8; 512])), std::io::ErrorKind::InvalidInput);
    let mut buf = [0u8; 4096];
    assert_eq!(
        kind(disk.read(end - 4, &mut [IoSliceMut::new(&mut buf)])),
        std::io::ErrorKind::InvalidInput,
        "a read past the new end too"
    );
    write(&disk, end - 8, &[9u8; 4096], true);
    assert!(at(&ceph.export(t1), end - 8, 4096).iter().all(|&x| x == 9));

    // Out of range: refused before librbd sees it.
    assert!(disk.read(disk.num_blocks(), &mut [IoSliceMut::new(&mut [0u8; 512])]).is_err());
    assert!(disk.write_zeroes(disk.num_blocks() - 1, 2).is_err());
    // Closing writes the cache back: an unflushed write is in the cluster once the disk is gone.
    let last = pattern(8, 4096);
    write(&disk, 500, &last, false);
    assert!(at(&ceph.export(t1), 500, 4096) != &last[..], "held in the cache until then");
    drop(disk);
    assert!(at(&ceph.export(t1), 500, 4096) == &last[..], "written back at close");

    // Read-only: writes refused (write-protected), reads served.
    let ro = RbdDisk::open(&ceph.spec(t1), BS, true).unwrap();
    assert!(read(&ro, 2000, 4096) == c);
    let e = ro.write(0, &[IoSlice::new(&[0u8; 512])], false).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(!ro.supports_discard());
    drop(ro);

    // Errors name the image: missing, or a size that is not a whole number of blocks.
    let e = RbdDisk::open(&ceph.spec("nope"), BS, false).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("rbd:rbd/nope"), "{e}");
    ceph.rbd(&["create", "--size", "1M", &format!("rbd/{odd}")]);
    let spec = ceph.spec(odd);
    let cluster = ceph_rbd::Cluster::connect(&spec.cluster).unwrap();
    let image = cluster.open("rbd", None, odd, false).unwrap();
    image.resize(MIB + 512).unwrap();
    assert_eq!(image.size().unwrap(), MIB + 512);
    drop(image);
    let e = RbdDisk::open(&spec, 4096, false).unwrap_err();
    assert!(e.to_string().contains("not a whole number of 4096-byte blocks"), "{e}");
    assert_eq!(RbdDisk::open(&spec, 512, false).unwrap().num_blocks(), 2049);
    // The discard unit (an object; an object set with fancy striping), in blocks.
    let t1_disk = RbdDisk::open(&ceph.spec(t1), BS, false).unwrap();
    assert_eq!(t1_disk.discard_granularity(), 4 * MIB / u64::from(BS), "4 MiB objects");
    drop(t1_disk);
    let striped = "striped";
    ceph.rbd(&[
        "create",
        "--size",
        "8M",
        "--object-size",
        "1M",
        "--stripe-unit",
        "256K",
        "--stripe-count",
        "2",
        &format!("rbd/{striped}"),
    ]);
    let s_disk = RbdDisk::open(&ceph.spec(striped), 4096, false).unwrap();
    assert_eq!(s_disk.discard_granularity(), 2 * MIB / 4096, "two 1 MiB objects a set");
    drop(s_disk);
    // A client whose key is not in the keyring it names is refused, not hung.
    let mut spec = ceph.spec(t1);
    spec.cluster = spec.cluster.with_id("nobody");
    let e = RbdDisk::open(&spec, BS, false).unwrap_err();
    assert!(e.to_string().contains("rados_connect"), "{e}");

    resized_while_served(&ceph);
    started_io(&ceph);
    gateways(&ceph);
}

/// A request for `RbdDisk::start_read` / `start_write`: a buffer, and a channel its result
/// and the buffer go to.
struct Req(Vec<u8>, usize, std::sync::mpsc::Sender<(usize, std::io::Result<()>, Vec<u8>)>);

impl tcmu::IoRequest for Req {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
        // Two segments: the command's buffers are scattered.
        let (a, b) = self.0.split_at_mut(4096);
        vec![IoSliceMut::new(a), IoSliceMut::new(b)]
    }
    fn finish(self: Box<Self>, result: std::io::Result<()>) {
        let Req(buf, i, tx) = *self;
        let _ = tx.send((i, result, buf));
    }
}

/// Reads and writes started without waiting: 32 of each in flight at once from this one
/// thread, each finished from librbd's completion; the bytes in the cluster.
fn started_io(ceph: &Ceph) {
    let name = "started";
    ceph.rbd(&["create", "--size", "8M", &format!("rbd/{name}")]);
    let disk = RbdDisk::open(&ceph.spec(name), BS, false).unwrap();
    assert!(disk.starts_io(false, false) && disk.starts_io(true, false));
    // A durable write with librbd's cache on is written and flushed by a serving thread.
    assert!(!disk.starts_io(true, true));
    let (tx, rx) = std::sync::mpsc::channel();
    let chunk = 64 << 10;
    for i in 0..32 {
        let lba = (i * chunk / BS as usize) as u64;
        disk.start_write(lba, Box::new(Req(pattern(i as u8, chunk), i, tx.clone())), false);
    }
    let mut done = 0;
    while done < 32 {
        let (i, result, _) = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
        assert!(result.is_ok(), "write {i}: {result:?}");
        done += 1;
    }
    disk.flush().unwrap();
    let img = ceph.export(name);
    for i in 0..32 {
        let lba = (i * chunk / BS as usize) as u64;
        assert!(at(&img, lba, chunk) == &pattern(i as u8, chunk)[..], "write {i} in the cluster");
    }
    for i in 0..32 {
        let lba = (i * chunk / BS as usize) as u64;
        disk.start_read(lba, Box::new(Req(vec![0; chunk], i, tx.clone())));
    }
    for _ in 0..32 {
        let (i, result, buf) = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
        assert!(result.is_ok(), "read {i}: {result:?}");
        let want = pattern(i as u8, chunk);
        let diff = buf.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            diff.is_none(),
            "read {i}: first difference at {diff:?}: {:?} vs {:?}",
            &buf[..8],
            &want[..8]
        );
    }
    // A flush started without waiting.
    let (flushed_tx, flushed) = std::sync::mpsc::channel();
    disk.image().start_flush(move |r| {
        let _ = flushed_tx.send(r.is_ok());
    });
    assert_eq!(flushed.recv_timeout(std::time::Duration::from_secs(30)), Ok(true));
    // Past the end: finished with the error at once, nothing started.
    disk.start_read(disk.num_blocks() - 1, Box::new(Req(vec![0; chunk], 99, tx.clone())));
    let (i, result, _) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!((i, result.unwrap_err().kind()), (99, std::io::ErrorKind::InvalidInput));
    // Closing waits for what was started, its completion included: a request whose finish
    // is held keeps the close waiting until it is let go (librbd's close waits for its
    // callbacks; `Image`'s `Drop` waits too, should a librbd not).
    let (hold, held) = std::sync::mpsc::channel::<()>();
    disk.start_write(0, Box::new(Held(Req(pattern(77, chunk), 100, tx), held)), false);
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let closer = {
        let closed = std::sync::Arc::clone(&closed);
        std::thread::spawn(move || {
            drop(disk);
            closed.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!closed.load(std::sync::atomic::Ordering::SeqCst), "closed under a finish running");
    hold.send(()).unwrap();
    closer.join().unwrap();
    let (i, result, _) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert!(i == 100 && result.is_ok());
    assert!(at(&ceph.export(name), 0, chunk) == &pattern(77, chunk)[..]);
}

/// A request whose finish waits until the test lets it go.
struct Held(Req, std::sync::mpsc::Receiver<()>);

impl tcmu::IoRequest for Held {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
        self.0.segments()
    }
    fn finish(self: Box<Self>, result: std::io::Result<()>) {
        let Held(req, held) = *self;
        let _ = held.recv_timeout(std::time::Duration::from_secs(30));
        Box::new(req).finish(result);
    }
}

/// An image resized (`rbd resize`, another process) while a device serves it: the next
/// command is answered CAPACITY DATA HAS CHANGED, once; READ CAPACITY then gives the new
/// size; a write past the old end lands in the cluster; after a shrink, a write across the
/// new end is LOGICAL BLOCK ADDRESS OUT OF RANGE.
fn resized_while_served(ceph: &Ceph) {
    use tcmu::{AdditionalSense, Emulator, Identity, Reply, SenseKey};
    let name = "resized";
    ceph.rbd(&["create", "--size", "8M", &format!("rbd/{name}")]);
    let emu = Emulator::new(
        RbdDisk::open(&ceph.spec(name), BS, false).unwrap(),
        Identity::for_name(name),
    );
    let tur = || emu.execute(&[0u8; 6], &mut Vec::new());
    let sense = |r: Reply| r.sense.map(|s| (s.key, s.additional));
    let changed = Some((SenseKey::UnitAttention, AdditionalSense::CAPACITY_DATA_HAS_CHANGED));
    let last_lba = || {
        let mut data = vec![0u8; 32];
        let reply =
            emu.execute(&[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], &mut data);
        assert_eq!(reply, Reply::good());
        u64::from_be_bytes(data[..8].try_into().unwrap())
    };
    assert_eq!(tur(), Reply::good());
    assert_eq!(last_lba(), 8 * MIB / u64::from(BS) - 1);

    ceph.rbd(&["resize", "--size", "12M", &format!("rbd/{name}")]);
    assert_eq!(sense(tur()), changed, "a grown image is reported");
    assert_eq!(tur(), Reply::good(), "once");
    assert_eq!(last_lba(), 12 * MIB / u64::from(BS) - 1);
    // WRITE (16), FUA, of 8 blocks at 10 MiB: past the old end.
    let lba = 10 * MIB / u64::from(BS);
    let mut cdb = [0u8; 16];
    cdb[0] = 0x8a;
    cdb[1] = 0x08;
    cdb[2..10].copy_from_slice(&lba.to_be_bytes());
    cdb[13] = 8;
    let data = pattern(11, 4096);
    assert_eq!(emu.execute(&cdb, &mut data.clone()), Reply::good());
    assert!(at(&ceph.export(name), lba, 4096) == &data[..], "written past the old end");

    ceph.rbd(&["resize", "--size", "6M", "--allow-shrink", &format!("rbd/{name}")]);
    assert_eq!(sense(tur()), changed, "a shrunk image is reported");
    cdb[2..10].copy_from_slice(&(6 * MIB / u64::from(BS) - 4).to_be_bytes());
    let reply = emu.execute(&cdb, &mut data.clone());
    let out_of_range = (SenseKey::IllegalRequest, AdditionalSense::LBA_OUT_OF_RANGE);
    assert_eq!(sense(reply), Some(out_of_range), "a write across the new end");
    assert_eq!(last_lba(), 6 * MIB / u64::from(BS) - 1);
}

/// Two gateways of one image (two clients, as two gateway processes are): the first takes
/// the free lock and is active/optimized; the second reads without moving it; a write on the
/// second takes the lock over, and Ceph fences the first: its next write fails, its group is
/// unavailable, and the cluster holds the second's bytes, not the first's late write.
fn gateways(ceph: &Ceph) {
    use scsi_proto::params::AccessState;
    use std::io::ErrorKind;
    let gw = "gw";
    ceph.rbd(&["create", "--size", "8M", &format!("rbd/{gw}")]);
    // Gateway mode turns librbd's cache off whatever the config says (the spec's says
    // writeback): what a gateway acknowledged must be in the cluster.
    let a = RbdDisk::open_gateway(&ceph.spec(gw), BS).unwrap();
    let b = RbdDisk::open_gateway(&ceph.spec(gw), BS).unwrap();
    assert_eq!(a.identity_seed().unwrap(), b.identity_seed().unwrap());
    assert!(a.identity_seed().unwrap().starts_with("rbd:rbd/"));
    assert!(!a.write_cache() && !b.write_cache(), "no volatile cache is reported");
    assert_eq!(a.access_state(), AccessState::ActiveOptimized, "the free lock is taken at start");
    assert_eq!(b.access_state(), AccessState::ActiveNonOptimized);

    let (x, y, z) = (pattern(1, 4096), pattern(2, 4096), pattern(3, 4096));
    write(&a, 0, &x, false);
    assert!(at(&ceph.export(gw), 0, 4096) == x, "no flush needed: the cache is off");
    // Reads move nothing (an initiator reads its partition table through every path).
    assert!(read(&b, 0, 4096) == x);
    assert_eq!(b.access_state(), AccessState::ActiveNonOptimized);
    assert_eq!(a.access_state(), AccessState::ActiveOptimized);

    // A write on the second gateway: it takes the lock over, and Ceph blocklists the first.
    let holder = a.image().lock_owners().unwrap();
    assert_eq!(holder.len(), 1);
    let (a_changes, b_changes) = (a.access_state_changes(), b.access_state_changes());
    write(&b, 8, &y, false);
    // The change is counted (it becomes ASYMMETRIC ACCESS STATE CHANGED to the initiator).
    assert_ne!(b.access_state_changes(), b_changes, "the takeover is a state change");
    assert_eq!(b.access_state(), AccessState::ActiveOptimized);
    let blocklist = String::from_utf8(ceph.admin("ceph", &["osd", "blocklist", "ls"])).unwrap();
    assert!(blocklist.contains(&holder[0]), "{} not in the blocklist: {blocklist}", holder[0]);
    // The first gateway is fenced: its write fails as a lost device and never lands.
    let e = a.write(16, &[IoSlice::new(&z)], false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotConnected, "{e}");
    assert_ne!(a.access_state_changes(), a_changes, "being fenced is a state change");
    assert_eq!(a.access_state(), AccessState::Unavailable);
    let image = ceph.export(gw);
    assert!(at(&image, 0, 4096) == x && at(&image, 8, 4096) == y);
    assert!(at(&image, 16, 4096).iter().all(|&b| b == 0), "the fenced gateway's write landed");
    // Fenced, it reads nothing either (the cluster may still serve its reads).
    let mut buf = [0u8; 512];
    assert_eq!(
        a.read(0, &mut [IoSliceMut::new(&mut buf)]).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    // A gateway started again (a new client) joins without the lock.
    drop(a);
    let again = RbdDisk::open_gateway(&ceph.spec(gw), BS).unwrap();
    assert_eq!(again.access_state(), AccessState::ActiveNonOptimized);
    assert!(read(&again, 8, 4096) == y);
    // COMPARE AND WRITE on a gateway without the lock takes it before comparing (so no other
    // gateway's write lands between its compare and its write): even one that miscompares.
    let emu = tcmu::Emulator::new(again, tcmu::Identity::for_name("gw"));
    let mut data = vec![0xa5u8; 2 * 512]; // compares 0xa5 with block 8 (y): a miscompare
    let caw = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0];
    let reply = emu.execute(&caw, &mut data);
    assert_eq!(reply.status, 2, "a miscompare");
    assert_eq!(reply.sense.map(|s| s.key), Some(tcmu::SenseKey::Miscompare));
    assert_eq!(emu.device().access_state(), AccessState::ActiveOptimized, "the lock came first");
    let e = b.write(24, &[IoSlice::new(&z)], false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotConnected, "the former holder is fenced: {e}");
    assert!(at(&ceph.export(gw), 8, 4096) == y, "the miscompare wrote nothing");
    drop((emu, b));

    // A pool or image override of a gateway setting is refused, naming it.
    ceph.rbd(&["config", "image", "set", "rbd/gw", "rbd_cache", "true"]);
    let e = RbdDisk::open_gateway(&ceph.spec(gw), BS).unwrap_err();
    assert!(e.to_string().contains("image's setting rbd_cache=true"), "{e}");
    ceph.rbd(&["config", "image", "rm", "rbd/gw", "rbd_cache"]);
    ceph.rbd(&["config", "pool", "set", "rbd", "rbd_blocklist_on_break_lock", "false"]);
    let e = RbdDisk::open_gateway(&ceph.spec(gw), BS).unwrap_err();
    assert!(e.to_string().contains("pool's setting rbd_blocklist_on_break_lock=false"), "{e}");
    // The pool's settings hold for an image in a namespace too (librbd reads them from the
    // pool's default namespace).
    ceph.rbd(&["namespace", "create", "rbd/ns1"]);
    ceph.rbd(&["create", "--size", "1M", "rbd/ns1/gwns"]);
    let mut spec = ceph.spec(gw);
    spec.namespace = Some("ns1".into());
    spec.image = "gwns".into();
    let e = RbdDisk::open_gateway(&spec, BS).unwrap_err();
    assert!(e.to_string().contains("pool's setting rbd_blocklist_on_break_lock=false"), "{e}");
    ceph.rbd(&["config", "pool", "rm", "rbd", "rbd_blocklist_on_break_lock"]);
    RbdDisk::open_gateway(&spec, BS).unwrap();
    ceph.rbd(&["config", "pool", "set", "rbd", "rbd_blocklist_expire_seconds", "5"]);
    let e = RbdDisk::open_gateway(&spec, BS).unwrap_err();
    assert!(e.to_string().contains("pool's setting rbd_blocklist_expire_seconds=5"), "{e}");
    ceph.rbd(&["config", "pool", "rm", "rbd", "rbd_blocklist_expire_seconds"]);
    RbdDisk::open_gateway(&ceph.spec(gw), BS).unwrap();
    // A journaled image needs the lock to read: refused.
    let features = "layering,exclusive-lock,journaling";
    ceph.rbd(&["create", "--size", "1M", "--image-feature", features, "rbd/journaled"]);
    let e = RbdDisk::open_gateway(&ceph.spec("journaled"), BS).unwrap_err();
    assert!(e.to_string().contains("journaling"), "{e}");

    // Without the exclusive-lock feature there is no deciding who writes: refused.
    ceph.rbd(&["create", "--size", "1M", "--image-feature", "layering", "rbd/nolock"]);
    let e = RbdDisk::open_gateway(&ceph.spec("nolock"), BS).unwrap_err();
    assert!(e.to_string().contains("exclusive-lock"), "{e}");
}
