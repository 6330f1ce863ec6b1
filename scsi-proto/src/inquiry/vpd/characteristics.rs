use crate::bits::layout;
use crate::inquiry::Peripheral;

/// MEDIUM ROTATION RATE 0000h: not reported.
pub const ROTATION_RATE_NOT_REPORTED: u16 = 0x0000;
/// MEDIUM ROTATION RATE 0001h: non-rotating (solid state) medium, as LIO reports `is_nonrot`.
pub const ROTATION_RATE_NON_ROTATING: u16 = 0x0001;

layout! {
    /// Block Device Characteristics VPD page, B1h (SBC-4 6.6.2, Table 231).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct BlockDeviceCharacteristics: "Block Device Characteristics VPD page", 64 {
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        /// [`ROTATION_RATE_NON_ROTATING`], or rpm.
        medium_rotation_rate: u16 = "MEDIUM ROTATION RATE" (4, 0, 16),
        product_type: u8 = "PRODUCT TYPE" (6, 0, 8),
        wabereq: u8 = "WABEREQ" (7, 6, 2),
        wacereq: u8 = "WACEREQ" (7, 4, 2),
        nominal_form_factor: u8 = "NOMINAL FORM FACTOR" (7, 0, 4),
        zoned: u8 = "ZONED" (8, 4, 2),
        bocs: bool = "BOCS" (8, 2, 1),
        fuab: bool = "FUAB" (8, 1, 1),
        vbuls: bool = "VBULS" (8, 0, 1),
    }
}

#[cfg(test)]
mod tests;
