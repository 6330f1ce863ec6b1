//! Logical unit numbers and REPORT LUNS parameter data (SAM-5 4.7, SPC-5 6.33.2).

use super::{list_header, list_items, stream};
use crate::bits::Spec;
use crate::error::{check_out, invalid};
use crate::{FieldPointer, Result, Wire};

const LUNS: &str = "REPORT LUNS data";

const LUN_LIST_LENGTH: Spec = Spec::new("LUN LIST LENGTH", 0, 0, 32);

/// An 8-byte logical unit number (SAM-5 4.7), raw. [`Lun::from_index`] and [`Lun::index`]
/// handle the two single-level forms a target uses; anything else is in the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// Length of a LUN.
    pub const LEN: usize = 8;

    /// The single-level LUN for `index`, as LIO does: peripheral device addressing below 256,
    /// flat space below 16384, [`Error::InvalidField`](crate::Error::InvalidField) ("LUN") above.
    pub fn from_index(index: u16) -> Result<Lun> {
        let [hi, lo] = index.to_be_bytes();
        match index {
            0..=0xFF => Ok(Lun([0, lo, 0, 0, 0, 0, 0, 0])),
            0x100..=0x3FFF => Ok(Lun([0x40 | hi, lo, 0, 0, 0, 0, 0, 0])),
            _ => Err(invalid(LUNS, "LUN", FieldPointer::data(0, Some(5)))),
        }
    }

    /// The index of a single-level LUN of the forms [`Lun::from_index`] makes; `None` for any
    /// other.
    pub fn index(&self) -> Option<u16> {
        match self.0 {
            [0, b1, 0, 0, 0, 0, 0, 0] => Some(u16::from(b1)),
            [b0 @ 0x40..=0x7F, b1, 0, 0, 0, 0, 0, 0] => Some(u16::from_be_bytes([b0 & 0x3F, b1])),
            _ => None,
        }
    }
}

/// REPORT LUNS parameter data (SPC-5 6.33.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportLuns {
    /// The LUNs, in the order they are reported.
    pub luns: Vec<Lun>,
}

impl ReportLuns {
    /// As [`LbaStatus::emit_truncated`](super::LbaStatus::emit_truncated).
    pub fn emit_truncated(&self, allocation_length: usize, out: &mut [u8]) -> Result<usize> {
        let len = self.luns.len().saturating_mul(Lun::LEN);
        let header = list_header(LUNS, &LUN_LIST_LENGTH, 0, len)?;
        let items = self.luns.iter().map(|l| Ok(l.0));
        stream(&header, items, allocation_length, out)
    }
}

impl Wire for ReportLuns {
    fn parse(buf: &[u8]) -> Result<Self> {
        let items = list_items(LUNS, buf, &LUN_LIST_LENGTH, 0, Lun::LEN)?;
        let luns = items.map(|b| Lun(b.try_into().unwrap_or_default())).collect();
        Ok(ReportLuns { luns })
    }

    fn buffer_len(&self) -> usize {
        8 + Lun::LEN * self.luns.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(LUNS, buf, self.buffer_len())?;
        self.emit_truncated(self.buffer_len(), buf)
    }
}

#[cfg(test)]
mod tests;
