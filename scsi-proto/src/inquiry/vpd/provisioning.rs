//! Logical Block Provisioning VPD page, B2h (SBC-4 6.6.6, Table 240).

use super::designator::{Designator, WHAT as DESIGNATOR};
use crate::bits::{Layout, Spec};
use crate::inquiry::{Peripheral, VpdHeader, emit_page, invalid, parse_page, within};
use crate::{FieldPointer, Result, Wire};

/// PROVISIONING TYPE 000b: not reported, or fully provisioned (SBC-4 Table 241).
pub const PROVISIONING_TYPE_NOT_REPORTED: u8 = 0b000;
/// PROVISIONING TYPE 001b: resource provisioned.
pub const PROVISIONING_TYPE_RESOURCE: u8 = 0b001;
/// PROVISIONING TYPE 010b: thin provisioned.
pub const PROVISIONING_TYPE_THIN: u8 = 0b010;

/// DP: a provisioning group descriptor follows the fixed part; set exactly when
/// `provisioning_group` is `Some`.
const DP: Spec = Spec::new("DP", 5, 0, 1);

layout_plus! {
    /// Logical Block Provisioning VPD page, B2h (SBC-4 6.6.6).
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

impl LogicalBlockProvisioning {
    /// The page code.
    pub const PAGE_CODE: u8 = 0xB2;
}

impl Wire for LogicalBlockProvisioning {
    /// PAGE LENGTH must be at least 4; with DP set, a designation descriptor must follow
    /// within it. Bytes after the fixed fields (DP clear) or the descriptor are ignored.
    fn parse(buf: &[u8]) -> Result<Self> {
        let (_, body) = parse_page(Fixed::WHAT, Self::PAGE_CODE, buf)?;
        let bad_length = || invalid(Fixed::WHAT, "PAGE LENGTH", FieldPointer::data(2, None));
        let rest = body
            .get(Fixed::LEN - VpdHeader::LEN..)
            .ok_or_else(bad_length)?;
        let fixed = Fixed::read(buf);
        let provisioning_group = if DP.get(buf) == 1 {
            if rest.len() < 4 {
                // Too short for a descriptor header.
                return Err(bad_length());
            }
            let read = Designator::read(rest).map_err(|e| within(e, Fixed::WHAT, Fixed::LEN))?;
            Some(read.0)
        } else {
            None
        };
        Ok(Self::from_fixed(fixed, provisioning_group))
    }

    fn buffer_len(&self) -> usize {
        let descriptor = self.provisioning_group.as_ref().map_or(0, Wire::buffer_len);
        Fixed::LEN.saturating_add(descriptor)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        emit_page(Fixed::WHAT, Self::PAGE_CODE, self.peripheral, len - 4, buf)?;
        self.fixed().write(buf)?;
        if let Some(d) = &self.provisioning_group {
            DP.put(buf, 1);
            d.emit(&mut buf[Fixed::LEN..])
                .map_err(|e| within(e, DESIGNATOR, Fixed::LEN))?;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
