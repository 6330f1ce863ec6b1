//! Block Device Characteristics VPD page, B1h (SBC-4 6.6.2, Table 231).

use crate::bits::layout;
use crate::inquiry::Peripheral;

/// MEDIUM ROTATION RATE 0000h: not reported.
pub const ROTATION_RATE_NOT_REPORTED: u16 = 0x0000;
/// MEDIUM ROTATION RATE 0001h: non-rotating medium (solid state); what LIO reports with
/// `is_nonrot`.
pub const ROTATION_RATE_NON_ROTATING: u16 = 0x0001;

layout! {
    /// Block Device Characteristics VPD page, B1h (SBC-4 6.6.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct BlockDeviceCharacteristics: "Block Device Characteristics VPD page", 64 {
        /// PERIPHERAL QUALIFIER and PERIPHERAL DEVICE TYPE.
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        /// [`ROTATION_RATE_NON_ROTATING`], or rpm.
        medium_rotation_rate: u16 = "MEDIUM ROTATION RATE" (4, 0, 16),
        /// 0 = not indicated.
        product_type: u8 = "PRODUCT TYPE" (6, 0, 8),
        /// Write after block erase required.
        wabereq: u8 = "WABEREQ" (7, 6, 2),
        /// Write after cryptographic erase required.
        wacereq: u8 = "WACEREQ" (7, 4, 2),
        /// 0 = not reported.
        nominal_form_factor: u8 = "NOMINAL FORM FACTOR" (7, 0, 4),
        /// 0 = not reported, 1 = host aware, 2 = device managed.
        zoned: u8 = "ZONED" (8, 4, 2),
        /// Background operation control supported.
        bocs: bool = "BOCS" (8, 2, 1),
        /// SYNCHRONIZE CACHE behaves like FUA writes.
        fuab: bool = "FUAB" (8, 1, 1),
        /// VERIFY BYTCHK=0 checks unmapped LBAs.
        vbuls: bool = "VBULS" (8, 0, 1),
    }
}

fixed_vpd!(BlockDeviceCharacteristics, 0xB1);

#[cfg(test)]
mod tests;
