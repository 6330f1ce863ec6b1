//! Device Identification VPD page, 83h (SPC-5 7.7.6).

use super::designator::{Designator, WHAT};
use crate::bits::Layout;
use crate::inquiry::{Peripheral, VpdHeader, emit_page, invalid, parse_page, within};
use crate::{FieldPointer, Result, Wire};

/// Device Identification VPD page, 83h (SPC-5 7.7.6): a list of designation descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentification {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// The designation descriptors, in page order.
    pub designators: Vec<Designator>,
}

impl DeviceIdentification {
    /// The page code.
    pub const PAGE_CODE: u8 = 0x83;
    const WHAT: &'static str = "Device Identification VPD page";
}

impl Wire for DeviceIdentification {
    /// Walks the descriptors: each must fit inside PAGE LENGTH (an overrun is an invalid
    /// DESIGNATOR LENGTH, pointer at that descriptor's byte 3), and every step advances at
    /// least 4 bytes, so the walk ends.
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_page(Self::WHAT, Self::PAGE_CODE, buf)?;
        let mut designators = Vec::new();
        let mut off = 0;
        while let Some(rest) = body.get(off..).filter(|r| !r.is_empty()) {
            if rest.len() < 4 {
                // Trailing bytes too short for a descriptor header: PAGE LENGTH is wrong.
                let pointer = FieldPointer::data(2, None);
                return Err(invalid(Self::WHAT, "PAGE LENGTH", pointer));
            }
            let (d, used) =
                Designator::read(rest).map_err(|e| within(e, Self::WHAT, VpdHeader::LEN + off))?;
            designators.push(d);
            off += used;
        }
        Ok(DeviceIdentification {
            peripheral,
            designators,
        })
    }

    fn buffer_len(&self) -> usize {
        let body = self.designators.iter().map(Wire::buffer_len);
        body.fold(VpdHeader::LEN, usize::saturating_add)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        emit_page(Self::WHAT, Self::PAGE_CODE, self.peripheral, len - 4, buf)?;
        let mut off = VpdHeader::LEN;
        for d in &self.designators {
            off += d.emit(&mut buf[off..]).map_err(|e| within(e, WHAT, off))?;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
