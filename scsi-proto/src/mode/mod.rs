//! Mode pages and mode parameter data (SPC-5 7.5, SBC-4 6.5).
//!
//! Each page is a [`ModePage`]: PS, its named fields (declared once with `layout!`, one file
//! per page) and an `other` array keeping every remaining bit (reserved, obsolete,
//! vendor-specific), so `parse` then `emit` gives back the exact bytes. [`ModeParameters`]
//! parses and emits mode parameter data as an initiator sees it. A device's pages, its MODE
//! SENSE data and its MODE SELECT checks are device behaviour, in `tcmu`'s emulation.

mod caching;
mod control;
mod informational_exceptions;
mod parameters;
mod rw_error_recovery;

pub use caching::{Caching, CachingPage};
pub use control::{Control, ControlPage};
pub use informational_exceptions::{InformationalExceptions, InformationalExceptionsPage};
pub use parameters::{
    BLOCK_DESCRIPTOR_LENGTH, BlockDescriptor, LOGICAL_BLOCK_LENGTH, MODE_DATA_LENGTH, ModePageIter,
    ModeParameterHeader6, ModeParameterHeader10, ModeParameters, RawModePage, ShortBlockDescriptor,
};
pub use rw_error_recovery::{ReadWriteErrorRecovery, ReadWriteErrorRecoveryPage};

use crate::Wire;
use crate::bits::{Layout, Spec};
use crate::error::{Error, Location, Result, check_len, check_out};
use core::ops::{Deref, DerefMut};

/// Mode page codes (SPC-5 7.5 and SBC-4 6.5, mode page codes for direct access block
/// devices). Only four pages are implemented (Read-Write Error Recovery,
/// Caching, Control, Informational Exceptions Control); the others are named
/// because initiators ask for them and a target logs what it refused.
pub mod page_code {
    /// Read-Write Error Recovery mode page (SBC-4 6.5).
    pub const READ_WRITE_ERROR_RECOVERY: u8 = 0x01;
    /// Disconnect-Reconnect mode page (SPC-5 7.5): not implemented.
    pub const DISCONNECT_RECONNECT: u8 = 0x02;
    /// Format Device mode page (obsolete; Solaris asks for it): not implemented.
    pub const FORMAT_DEVICE: u8 = 0x03;
    /// Rigid Disk Geometry mode page (obsolete): not implemented.
    pub const RIGID_DISK_GEOMETRY: u8 = 0x04;
    /// Verify Error Recovery mode page (SBC-4 6.5): not implemented.
    pub const VERIFY_ERROR_RECOVERY: u8 = 0x07;
    /// Caching mode page (SBC-4 6.5).
    pub const CACHING: u8 = 0x08;
    /// Control mode page (SPC-5 7.5).
    pub const CONTROL: u8 = 0x0A;
    /// Power Condition mode page (SPC-5 7.5): not implemented.
    pub const POWER_CONDITION: u8 = 0x1A;
    /// Informational Exceptions Control mode page (SPC-5 7.5).
    pub const INFORMATIONAL_EXCEPTIONS_CONTROL: u8 = 0x1C;
    /// "Return all pages" in a MODE SENSE CDB (SPC-5, mode page code usage).
    pub const ALL_PAGES: u8 = 0x3F;
    /// Subpage code of a page in the page_0 format.
    pub const SUBPAGE_NONE: u8 = 0x00;
    /// "Return all subpages" in a MODE SENSE CDB (SPC-5, mode page code usage).
    pub const ALL_SUBPAGES: u8 = 0xFF;
}

/// The WP (write protected) bit of the device-specific parameter (SBC-4 6.5).
pub const DEVICE_SPECIFIC_WP: u8 = 0x80;
/// The DPOFUA bit of the device-specific parameter: DPO and FUA are supported (SBC-4 6.5).
pub const DEVICE_SPECIFIC_DPOFUA: u8 = 0x10;

// The header every page starts with (SPC-5 7.5.7): page_0 format, then the sub_page format's
// SUBPAGE CODE and two-byte PAGE LENGTH.
/// PS, parameters saveable, of a page header.
pub const PS: Spec = Spec::new("PS", 0, 7, 1);
/// SPF, sub_page format, of a page header.
pub const SPF: Spec = Spec::new("SPF", 0, 6, 1);
/// PAGE CODE of a page header.
pub const PAGE_CODE: Spec = Spec::new("PAGE CODE", 0, 0, 6);
/// PAGE LENGTH of a page_0 format page header.
pub const PAGE_LENGTH: Spec = Spec::new("PAGE LENGTH", 1, 0, 8);
const SUBPAGE_CODE: Spec = Spec::new("SUBPAGE CODE", 1, 0, 8);
const SUBPAGE_PAGE_LENGTH: Spec = Spec::new("PAGE LENGTH", 2, 0, 16);

/// The error naming `spec`, a field of a structure `offset` bytes into `location`.
fn bad_field(what: &'static str, spec: &Spec, location: Location, offset: usize) -> Error {
    let offset = u16::try_from(offset).unwrap_or(u16::MAX);
    Error::InvalidField {
        what,
        field: spec.field,
        pointer: spec.pointer(location, offset),
    }
}

/// `e`, from writing a structure `offset` bytes into `what`'s data, said of `what`.
fn within(e: Error, what: &'static str, offset: usize) -> Error {
    match e {
        Error::InvalidField { field, pointer, .. } => Error::InvalidField {
            what,
            field,
            pointer: pointer.shifted(u16::try_from(offset).unwrap_or(u16::MAX)),
        },
        e => e,
    }
}

/// The named fields of a mode page: a `layout!` structure over the whole page, header
/// included, whose [`Layout::WHAT`] names the page.
pub trait PageFields: Layout + Copy {
    /// The PAGE CODE.
    const CODE: u8;
}

/// A mode page in the page_0 format, `N` bytes long: PS, the named fields `F`, and every
/// other bit. It dereferences to its fields (`caching.wce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModePage<F, const N: usize> {
    /// PS, parameters saveable (byte 0 bit 7). Always 0 from this target: no saved values.
    pub ps: bool,
    /// The named fields.
    pub fields: F,
    /// Every bit neither the header nor a named field covers, by page byte. Bits the header
    /// or a named field covers are ignored on emit and zero after parse.
    pub other: [u8; N],
}

impl<F: PageFields, const N: usize> ModePage<F, N> {
    /// The PAGE LENGTH field value: the bytes after it.
    pub const PAGE_LENGTH: u8 = (N - 2) as u8;

    /// Every field and bit zero: as a changeable mask, nothing may change.
    pub fn cleared() -> Self {
        Self::read(&[])
    }

    /// The bits the header and the named fields cover.
    fn modeled() -> [u8; N] {
        const { assert!(N == F::LEN && N >= 2) };
        let mut m = [0xFF; N];
        for (m, f) in m.iter_mut().zip(F::mask()).skip(2) {
            *m = f;
        }
        m
    }

    /// Reads the page without looking at its header; bytes past `b`'s end read as zero.
    fn read(b: &[u8]) -> Self {
        let mut other = [0; N];
        for ((o, &x), m) in other.iter_mut().zip(b).zip(Self::modeled()) {
            *o = x & !m;
        }
        ModePage {
            ps: PS.get(b) != 0,
            fields: F::read(b),
            other,
        }
    }
}

impl<F: PageFields + Default, const N: usize> Default for ModePage<F, N> {
    fn default() -> Self {
        ModePage {
            ps: false,
            fields: F::default(),
            other: [0; N],
        }
    }
}

impl<F, const N: usize> Deref for ModePage<F, N> {
    type Target = F;
    fn deref(&self) -> &F {
        &self.fields
    }
}

impl<F, const N: usize> DerefMut for ModePage<F, N> {
    fn deref_mut(&mut self) -> &mut F {
        &mut self.fields
    }
}

/// Parses a page on its own (device data): PAGE CODE, SPF and PAGE LENGTH are checked first.
impl<F: PageFields, const N: usize> Wire for ModePage<F, N> {
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(F::WHAT, Location::Data, buf, 2)?;
        let bad = |spec| Err(bad_field(F::WHAT, spec, Location::Data, 0));
        if PAGE_CODE.get(buf) != u64::from(F::CODE) {
            return bad(&PAGE_CODE);
        }
        if SPF.get(buf) != 0 {
            return bad(&SPF);
        }
        if PAGE_LENGTH.get(buf) != u64::from(Self::PAGE_LENGTH) {
            return bad(&PAGE_LENGTH);
        }
        check_len(F::WHAT, Location::Data, buf, N)?;
        Ok(Self::read(buf))
    }

    fn buffer_len(&self) -> usize {
        N
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(F::WHAT, buf, N)?;
        for ((b, &x), m) in buf.iter_mut().zip(&self.other).zip(Self::modeled()) {
            *b = x & !m;
        }
        PS.put(buf, self.ps.into());
        PAGE_CODE.put(buf, F::CODE.into());
        PAGE_LENGTH.put(buf, Self::PAGE_LENGTH.into());
        self.fields.write(buf)?;
        Ok(N)
    }
}

/// The PC (page control) field of MODE SENSE, CDB byte 2 bits 7..6 (SPC-5, MODE SENSE(6)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageControl {
    /// 00b: current values.
    Current,
    /// 01b: changeable values, a mask with a one for every bit MODE SELECT may change.
    Changeable,
    /// 10b: default values.
    Default,
    /// 11b: saved values (not implemented by this target).
    Saved,
}

impl PageControl {
    /// Decodes the two-bit PC field (the low two bits of `pc`; higher bits are ignored).
    pub const fn from_bits(pc: u8) -> Self {
        match pc & 0x03 {
            0 => PageControl::Current,
            1 => PageControl::Changeable,
            2 => PageControl::Default,
            _ => PageControl::Saved,
        }
    }

    /// The two-bit PC field value.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// A decoded MODE SENSE(6) or MODE SENSE(10) CDB, as far as the response depends on it
/// (SPC-5, MODE SENSE(6) and MODE SENSE(10)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeSenseRequest {
    /// MODE SENSE(10) rather than MODE SENSE(6).
    pub ten: bool,
    /// DBD, disable block descriptors (CDB byte 1 bit 3).
    pub dbd: bool,
    /// LLBAA, long LBA accepted (MODE SENSE(10) CDB byte 1 bit 4; ignored for MODE SENSE(6)).
    pub llbaa: bool,
    /// PC, page control (CDB byte 2 bits 7..6).
    pub pc: PageControl,
    /// PAGE CODE (CDB byte 2 bits 5..0); 3Fh for all pages.
    pub page_code: u8,
    /// SUBPAGE CODE (CDB byte 3); 00h, or FFh for all subpages.
    pub subpage_code: u8,
}

#[cfg(test)]
mod tests;
