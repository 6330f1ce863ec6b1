//! Unit Serial Number VPD page, 80h (SPC-5 7.7.18).

use crate::inquiry::{Peripheral, ascii_text, emit_bytes, invalid, is_ascii_data, parse_page};
use crate::{Error, FieldPointer, Result, Wire};

/// Unit Serial Number VPD page, 80h (SPC-5 7.7.18): PRODUCT SERIAL NUMBER, right-aligned ASCII
/// data of any length.
///
/// The serial is kept as its wire bytes: printable ASCII, optionally followed by NULs (LIO
/// appends one NUL terminator, and it round-trips).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSerialNumber {
    /// Byte 0.
    pub peripheral: Peripheral,
    serial: Vec<u8>,
}

impl UnitSerialNumber {
    /// The page code.
    pub const PAGE_CODE: u8 = 0x80;
    const WHAT: &'static str = "Unit Serial Number VPD page";

    fn bad_serial() -> Error {
        let pointer = FieldPointer::data(4, None);
        invalid(Self::WHAT, "PRODUCT SERIAL NUMBER", pointer)
    }

    /// A serial number of exactly `serial`'s bytes, which must be printable ASCII.
    pub fn new(peripheral: Peripheral, serial: &str) -> Result<Self> {
        if serial.contains('\0') {
            return Err(Self::bad_serial());
        }
        Self::from_bytes(peripheral, serial.as_bytes())
    }

    /// A serial number right-aligned in a field of `width` bytes, padded with leading spaces
    /// (SPC-5 4.3.1). Fails if `serial` is longer than `width` or not printable ASCII.
    pub fn right_aligned(peripheral: Peripheral, serial: &str, width: usize) -> Result<Self> {
        let pad = width.checked_sub(serial.len());
        let pad = pad.ok_or_else(Self::bad_serial)?;
        Self::new(peripheral, &format!("{}{serial}", " ".repeat(pad)))
    }

    /// A serial number from its wire bytes: printable ASCII optionally followed by NULs.
    pub fn from_bytes(peripheral: Peripheral, bytes: &[u8]) -> Result<Self> {
        if !is_ascii_data(bytes) {
            return Err(Self::bad_serial());
        }
        let serial = bytes.to_vec();
        Ok(UnitSerialNumber { peripheral, serial })
    }

    /// The PRODUCT SERIAL NUMBER field as on the wire, padding and NULs included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.serial
    }

    /// The serial number without its padding: leading spaces and trailing NULs and spaces.
    pub fn serial(&self) -> &str {
        ascii_text(&self.serial).trim_matches(' ')
    }
}

impl Wire for UnitSerialNumber {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_page(Self::WHAT, Self::PAGE_CODE, buf)?;
        Self::from_bytes(peripheral, body)
    }

    fn buffer_len(&self) -> usize {
        self.serial.len().saturating_add(4)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        emit_bytes(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            &self.serial,
            buf,
        )
    }
}

#[cfg(test)]
mod tests;
