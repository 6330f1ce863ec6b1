use super::designator::{Designator, WHAT as DESIGNATOR};
use crate::bits::{Layout, Spec};
use crate::error::within;
use crate::inquiry::{PAGE_LENGTH, Page, Peripheral, VpdHeader};
use crate::{Location, Result, Wire};

/// PROVISIONING TYPE 000b: not reported, or fully provisioned (SBC-4 Table 241).
pub const PROVISIONING_TYPE_NOT_REPORTED: u8 = 0b000;
/// PROVISIONING TYPE 001b: resource provisioned.
pub const PROVISIONING_TYPE_RESOURCE: u8 = 0b001;
/// PROVISIONING TYPE 010b: thin provisioned.
pub const PROVISIONING_TYPE_THIN: u8 = 0b010;

/// DP: a provisioning group descriptor follows; set exactly when `provisioning_group` is `Some`.
const DP: Spec = Spec::new("DP", 5, 0, 1);

crate::bits::layout! {
    /// Logical Block Provisioning VPD page, B2h (SBC-4 6.6.6, Table 240).
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct LogicalBlockProvisioning (Fixed: "Logical Block Provisioning VPD page", 8) {
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        threshold_exponent: u8 = "THRESHOLD EXPONENT" (4, 0, 8),
        lbpu: bool = "LBPU" (5, 7, 1),
        lbpws: bool = "LBPWS" (5, 6, 1),
        lbpws10: bool = "LBPWS10" (5, 5, 1),
        lbprz: u8 = "LBPRZ" (5, 2, 3),
        anc_sup: bool = "ANC_SUP" (5, 1, 1),
        minimum_percentage: u8 = "MINIMUM PERCENTAGE" (6, 3, 5),
        /// `PROVISIONING_TYPE_*`.
        provisioning_type: u8 = "PROVISIONING TYPE" (6, 0, 3),
        threshold_percentage: u8 = "THRESHOLD PERCENTAGE" (7, 0, 8),
    } + {
        /// The provisioning group descriptor (bytes 8..), present exactly when DP is set.
        provisioning_group: Option<Designator>,
    }
}

impl Page for LogicalBlockProvisioning {
    const NAME: &'static str = Fixed::WHAT;

    fn body_len(&self) -> usize {
        self.provisioning_group.as_ref().map_or(0, Wire::buffer_len) + (Fixed::LEN - VpdHeader::LEN)
    }

    /// PAGE LENGTH must be at least 4; with DP set, a designation descriptor must follow
    /// within it. Bytes after the fixed fields (DP clear) or the descriptor are ignored.
    fn read_page(page: &[u8]) -> Result<Self> {
        if page.len() < Fixed::LEN {
            return Err(PAGE_LENGTH.invalid(Fixed::WHAT, Location::Data, 0));
        }
        let group = (DP.get(page) == 1).then(|| Designator::read_at(page, Fixed::LEN, Fixed::WHAT));
        Ok(Self::from_fixed(Fixed::read(page), group.transpose()?.map(|(d, _)| d)))
    }

    fn write_page(&self, page: &mut [u8]) -> Result<()> {
        self.fixed().write(page)?;
        if let Some(d) = &self.provisioning_group {
            DP.put(page, 1);
            d.emit(&mut page[Fixed::LEN..]).map_err(|e| within(e, DESIGNATOR, Fixed::LEN))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
