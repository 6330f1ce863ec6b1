//! The one error type of this crate: which field of which command or page was wrong, and where.

use core::fmt;

/// Where a [`FieldPointer`] points: the C/D bit of the sense-key-specific field pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The command descriptor block (C/D = 1).
    Cdb,
    /// The Data-Out buffer: a parameter list such as MODE SELECT or UNMAP data (C/D = 0).
    ParameterList,
    /// Data sent by a device and parsed by an initiator; never reported in sense data.
    Data,
}

/// The byte, and optionally the bit, of an offending field: the sense-key-specific field pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldPointer {
    /// CDB or parameter list.
    pub location: Location,
    /// Offset of the field's most significant byte.
    pub byte: u16,
    /// For fields narrower than a byte, its most significant bit (0..=7).
    pub bit: Option<u8>,
}

impl FieldPointer {
    /// A pointer to a whole-byte field of the CDB.
    pub const fn cdb(byte: u16) -> Self {
        FieldPointer { location: Location::Cdb, byte, bit: None }
    }

    /// A pointer to a bit field of the CDB whose most significant bit is `bit`.
    pub const fn cdb_bit(byte: u16, bit: u8) -> Self {
        FieldPointer { location: Location::Cdb, byte, bit: Some(bit) }
    }

    /// A pointer to a whole-byte field of the parameter list.
    pub const fn param(byte: u16) -> Self {
        FieldPointer { location: Location::ParameterList, byte, bit: None }
    }

    /// A pointer to a bit field of the parameter list whose most significant bit is `bit`.
    pub const fn param_bit(byte: u16, bit: u8) -> Self {
        FieldPointer { location: Location::ParameterList, byte, bit: Some(bit) }
    }

    /// A pointer into data parsed on the initiator side (never reported in sense data).
    pub const fn data(byte: u16, bit: Option<u8>) -> Self {
        FieldPointer { location: Location::Data, byte, bit }
    }

    /// The same field, `offset` bytes further on: for a structure parsed at an offset inside a
    /// larger one (a mode page inside a MODE SELECT parameter list). Saturates; never panics.
    pub const fn shifted(self, offset: u16) -> Self {
        FieldPointer { byte: self.byte.saturating_add(offset), ..self }
    }
}

impl fmt::Display for FieldPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = ["CDB", "parameter list", "data"][self.location as usize];
        write!(f, "{place} byte {}", self.byte)?;
        self.bit.map_or(Ok(()), |bit| write!(f, ", bit {bit}"))
    }
}

/// Everything that can go wrong parsing or emitting a SCSI structure, naming the structure at
/// fault; [`crate::sense::SenseData::from_error`] turns it into sense data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is shorter than the structure it has to hold.
    #[error("{what}: {actual} bytes given, at least {needed} needed ({location:?})")]
    Truncated {
        /// The command, page or list being parsed.
        what: &'static str,
        /// Whether the short input was a CDB, a parameter list, or device data.
        location: Location,
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The output buffer handed to `emit` is shorter than [`crate::Wire::buffer_len`].
    #[error("{what}: output buffer of {actual} bytes, {needed} needed")]
    BufferTooShort {
        /// The structure being emitted.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        actual: usize,
    },
    /// A field holds a value the standard forbids, or one it cannot represent.
    #[error("{what}: invalid {field} at {pointer}")]
    InvalidField {
        /// The command, page or list.
        what: &'static str,
        /// The field's name as the standard spells it.
        field: &'static str,
        /// Where the field is, for the sense-key-specific field pointer.
        pointer: FieldPointer,
    },
    /// An operation code (and service action) this crate does not decode.
    #[error("unsupported operation code {opcode:#04x}{}",
        service_action.map_or(String::new(), |sa| format!(" service action {sa:#06x}")))]
    UnsupportedOpcode {
        /// The operation code (CDB byte 0).
        opcode: u8,
        /// The service action, when the (known) operation code has them.
        service_action: Option<u16>,
    },
    /// A parameter list whose length (from the CDB or its own header) is inconsistent.
    #[error("{what}: parameter list length {len} is invalid")]
    ParameterListLength {
        /// The list.
        what: &'static str,
        /// The offending length.
        len: usize,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Checks that `buf`, a CDB, parameter list or device data (`at`), holds `needed` bytes.
pub(crate) fn check_len(what: &'static str, at: Location, buf: &[u8], needed: usize) -> Result<()> {
    if buf.len() < needed {
        return Err(Error::Truncated { what, location: at, needed, actual: buf.len() });
    }
    Ok(())
}

/// Checks that an output buffer can take `needed` bytes.
pub(crate) fn check_out(what: &'static str, buf: &[u8], needed: usize) -> Result<()> {
    if buf.len() < needed {
        return Err(Error::BufferTooShort { what, needed, actual: buf.len() });
    }
    Ok(())
}

/// The first `len` bytes of an output buffer, which must hold them, zeroed.
pub(crate) fn zeroed_out<'a>(
    what: &'static str,
    buf: &'a mut [u8],
    len: usize,
) -> Result<&'a mut [u8]> {
    check_out(what, buf, len)?;
    buf[..len].fill(0);
    Ok(&mut buf[..len])
}

/// An [`Error::InvalidField`]: `field` of `what`, at `at`.
pub(crate) const fn invalid(what: &'static str, field: &'static str, at: FieldPointer) -> Error {
    Error::InvalidField { what, field, pointer: at }
}

/// `e`, about a part `offset` bytes into `what`, as an error about `what`.
pub(crate) fn within(e: Error, what: &'static str, offset: usize) -> Error {
    let Error::InvalidField { field, pointer, .. } = e else { return e };
    invalid(what, field, pointer.shifted(ptr_byte(offset)))
}

/// A byte offset as a field pointer's byte; saturates (sense data cannot point past 65535).
pub(crate) fn ptr_byte(offset: usize) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests;
