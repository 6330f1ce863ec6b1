//! GET LBA STATUS parameter data (SBC-4 5.8.2).

use super::{encode, list_header, list_items, stream};
use crate::bits::{Layout, Spec};
use crate::error::check_out;
use crate::{Result, Wire};

const GLS: &str = "GET LBA STATUS data";

const PARAMETER_DATA_LENGTH: Spec = Spec::new("PARAMETER DATA LENGTH", 0, 0, 32);

crate::bits::layout! {
    /// One extent of LBAs sharing a provisioning status (SBC-4 5.8.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct LbaStatusDescriptor: "GET LBA STATUS data", 16 {
        lba: u64 = "LBA STATUS LOGICAL BLOCK ADDRESS" (0, 0, 64),
        number_of_blocks: u32 = "NUMBER OF LOGICAL BLOCKS" (8, 0, 32),
        /// One of the `MAPPED`, `DEALLOCATED`, `ANCHORED` constants.
        provisioning_status: u8 = "PROVISIONING STATUS" (12, 0, 4),
        additional_status: u8 = "ADDITIONAL STATUS" (13, 0, 8),
    }
}

impl LbaStatusDescriptor {
    /// PROVISIONING STATUS 0h: mapped (or unknown).
    pub const MAPPED: u8 = 0;
    /// PROVISIONING STATUS 1h: deallocated.
    pub const DEALLOCATED: u8 = 1;
    /// PROVISIONING STATUS 2h: anchored.
    pub const ANCHORED: u8 = 2;
}

/// GET LBA STATUS parameter data (SBC-4 5.8.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LbaStatus {
    /// The extents, in ascending LBA order starting at the LBA the CDB asked about.
    pub descriptors: Vec<LbaStatusDescriptor>,
}

impl LbaStatus {
    /// The response cut to `allocation_length` and `out`, stating its full length: the bytes
    /// of `copy_truncated(&self.to_vec(), ..)` without building them.
    pub fn emit_truncated(&self, allocation_length: usize, out: &mut [u8]) -> Result<usize> {
        let n = self.descriptors.len();
        let header = list_header(GLS, &PARAMETER_DATA_LENGTH, 4, n.saturating_mul(16))?;
        let items = self.descriptors.iter().enumerate();
        let items = items.map(|(i, d)| encode::<_, 16>(d, 8 + 16 * i));
        stream(&header, items, allocation_length, out)
    }
}

impl Wire for LbaStatus {
    fn parse(buf: &[u8]) -> Result<Self> {
        let items = list_items(GLS, buf, &PARAMETER_DATA_LENGTH, 4, 16)?;
        let descriptors = items.map(LbaStatusDescriptor::read).collect();
        Ok(LbaStatus { descriptors })
    }

    fn buffer_len(&self) -> usize {
        8 + LbaStatusDescriptor::LEN * self.descriptors.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(GLS, buf, self.buffer_len())?;
        self.emit_truncated(self.buffer_len(), buf)
    }
}

#[cfg(test)]
mod tests;
