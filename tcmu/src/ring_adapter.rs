//! The emulation on the TCMU ring: a command's [`DataBuffers`] are its [`CommandData`], and a
//! [`Reply`] becomes the ring's [`Response`].

use crate::emulate::{CommandData, Reply};
use tcmu_ring::{DataBuffers, Response};

impl CommandData for DataBuffers {
    fn len(&self) -> usize {
        DataBuffers::len(self)
    }

    fn segments(&mut self) -> Vec<&mut [u8]> {
        self.iter_mut().collect()
    }

    fn read_at(&mut self, offset: usize, dst: &mut [u8]) -> usize {
        self.copy_to_slice_at(offset, dst)
    }

    fn write_at(&mut self, offset: usize, src: &[u8]) -> usize {
        self.copy_from_slice_at(offset, src)
    }

    fn zero_from(&mut self, offset: usize) {
        DataBuffers::zero_from(self, offset);
    }

    /// The main buffers and a bidirectional command's Data-In buffers.
    fn zero_all(&mut self) {
        DataBuffers::zero_from(self, 0);
        self.zero_bidi();
    }
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Response {
        let mut rsp = match reply.sense {
            Some(_) => Response::check_condition(&reply.sense_bytes()),
            None => Response::good(),
        };
        rsp.status = reply.status;
        // A buffer on the ring is smaller than 4 GiB.
        rsp.read_len = reply.read_len.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        rsp
    }
}
