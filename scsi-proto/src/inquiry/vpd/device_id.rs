use super::designator::{Designator, WHAT};
use crate::bits::Layout;
use crate::error::within;
use crate::inquiry::{Page, Peripheral, VpdHeader};
use crate::{Result, Wire};

/// Device Identification VPD page, 83h (SPC-5 7.7.6): a list of designation descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentification {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// The designation descriptors, in page order.
    pub designators: Vec<Designator>,
}

impl Page for DeviceIdentification {
    const NAME: &'static str = "Device Identification VPD page";

    fn body_len(&self) -> usize {
        self.designators.iter().map(Wire::buffer_len).fold(0, usize::saturating_add)
    }

    /// Each descriptor must fit inside PAGE LENGTH (an overrun is an invalid DESIGNATOR
    /// LENGTH, pointer at that descriptor's byte 3); each step advances at least 4 bytes.
    fn read_page(page: &[u8]) -> Result<Self> {
        let mut designators = Vec::new();
        let mut off = VpdHeader::LEN;
        while off < page.len() {
            let (d, used) = Designator::read_at(page, off, Self::NAME)?;
            designators.push(d);
            off += used;
        }
        Ok(DeviceIdentification { peripheral: Peripheral::read(page), designators })
    }

    fn write_page(&self, page: &mut [u8]) -> Result<()> {
        let mut off = VpdHeader::LEN;
        for d in &self.designators {
            off += d.emit(&mut page[off..]).map_err(|e| within(e, WHAT, off))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
