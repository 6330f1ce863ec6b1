use crate::bits::Layout;
use crate::error::invalid;
use crate::inquiry::{Page, Peripheral, is_ascii_data};
use crate::{Error, FieldPointer, Result};

/// Unit Serial Number VPD page, 80h (SPC-5 7.7.18): PRODUCT SERIAL NUMBER, right-aligned ASCII data
/// of any length, kept as its wire bytes: printable ASCII, optionally followed by NULs (LIO appends
/// one NUL, and it round-trips).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSerialNumber {
    /// Byte 0.
    pub peripheral: Peripheral,
    serial: Vec<u8>,
}

const BAD_SERIAL: Error =
    invalid(UnitSerialNumber::NAME, "PRODUCT SERIAL NUMBER", FieldPointer::data(4, None));

impl UnitSerialNumber {
    /// A serial number of exactly `serial`'s bytes, which must be printable ASCII.
    pub fn new(peripheral: Peripheral, serial: &str) -> Result<Self> {
        if serial.contains('\0') {
            return Err(BAD_SERIAL);
        }
        Self::from_bytes(peripheral, serial.as_bytes())
    }

    /// A serial number from its wire bytes: printable ASCII optionally followed by NULs.
    pub fn from_bytes(peripheral: Peripheral, bytes: &[u8]) -> Result<Self> {
        let serial = is_ascii_data(bytes).then(|| bytes.to_vec()).ok_or(BAD_SERIAL)?;
        Ok(UnitSerialNumber { peripheral, serial })
    }

    /// The serial number without its padding: leading spaces and trailing NULs and spaces.
    pub fn serial(&self) -> &str {
        core::str::from_utf8(&self.serial).unwrap_or("").trim_end_matches('\0').trim_matches(' ')
    }
}

impl Page for UnitSerialNumber {
    const NAME: &'static str = "Unit Serial Number VPD page";

    fn body_len(&self) -> usize {
        self.serial.len()
    }

    fn read_page(page: &[u8]) -> Result<Self> {
        Self::from_bytes(Peripheral::read(page), &page[4..])
    }

    fn write_page(&self, page: &mut [u8]) -> Result<()> {
        page[4..].copy_from_slice(&self.serial);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
