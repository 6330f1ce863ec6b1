//! Mode pages and mode parameter data (SPC-5 7.5, SBC-4 6.5). Each page is a [`ModePage`]
//! whose `other` bits make `parse` then `emit` give back the exact bytes.
//! A device's pages and its MODE SENSE / MODE SELECT behaviour are `tcmu`'s emulation.

mod pages;
mod parameters;

pub use pages::{
    Caching, CachingPage, Control, ControlPage, InformationalExceptions,
    InformationalExceptionsPage, ReadWriteErrorRecovery, ReadWriteErrorRecoveryPage,
};
pub use parameters::{
    BLOCK_DESCRIPTOR_LENGTH, BlockDescriptor, LOGICAL_BLOCK_LENGTH, MODE_DATA_LENGTH, ModePageIter,
    ModeParameterHeader6, ModeParameterHeader10, ModeParameters, RawModePage, ShortBlockDescriptor,
};

use crate::Wire;
use crate::bits::{Layout, Spec};
use crate::error::{Location, Result, check_len, check_out};
use core::ops::{Deref, DerefMut};

/// The page codes of the implemented pages, and the "all" codes of a MODE SENSE CDB.
pub mod page_code {
    /// Read-Write Error Recovery.
    pub const READ_WRITE_ERROR_RECOVERY: u8 = 0x01;
    /// Caching.
    pub const CACHING: u8 = 0x08;
    /// Control.
    pub const CONTROL: u8 = 0x0A;
    /// Informational Exceptions Control.
    pub const INFORMATIONAL_EXCEPTIONS_CONTROL: u8 = 0x1C;
    /// All pages.
    pub const ALL_PAGES: u8 = 0x3F;
    /// The subpage code of a page_0 format page.
    pub const SUBPAGE_NONE: u8 = 0x00;
    /// All subpages.
    pub const ALL_SUBPAGES: u8 = 0xFF;
}

/// The WP bit of the device-specific parameter (SBC-4 6.5).
pub const DEVICE_SPECIFIC_WP: u8 = 0x80;
/// The DPOFUA bit of the device-specific parameter (SBC-4 6.5).
pub const DEVICE_SPECIFIC_DPOFUA: u8 = 0x10;

// The page header (SPC-5 7.5.7), page_0 then sub_page format.
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

/// The named fields of a mode page: a `layout!` structure over the whole page.
pub trait PageFields: Layout + Copy {
    /// The PAGE CODE.
    const CODE: u8;
}

/// A mode page in the page_0 format, `N` bytes long; it dereferences to its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModePage<F, const N: usize> {
    /// PS (always 0 from this target: no saved values).
    pub ps: bool,
    /// The named fields.
    pub fields: F,
    /// The bits no field covers (reserved, obsolete, vendor-specific); the others are zero.
    pub other: [u8; N],
}

impl<F: PageFields, const N: usize> ModePage<F, N> {
    /// The PAGE LENGTH field value: the bytes after it.
    pub const PAGE_LENGTH: u8 = (N - 2) as u8;

    /// Every field and bit zero.
    pub fn cleared() -> Self {
        Self::read(&[])
    }

    /// The bits of `b` (zero past its end) that neither the header nor a named field covers.
    fn unmodeled(b: &[u8]) -> [u8; N] {
        const { assert!(N == F::LEN && N >= 2) };
        let mut other = [0; N];
        for ((o, &x), m) in other.iter_mut().zip(b).zip(F::mask()).skip(2) {
            *o = x & !m;
        }
        other
    }

    /// Reads the page without looking at its header; bytes past `b`'s end read as zero.
    fn read(b: &[u8]) -> Self {
        ModePage { ps: PS.get(b) != 0, fields: F::read(b), other: Self::unmodeled(b) }
    }
}

impl<F: PageFields + Default, const N: usize> Default for ModePage<F, N> {
    fn default() -> Self {
        ModePage { fields: F::default(), ..Self::cleared() }
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

/// A page on its own, its PAGE CODE, SPF and PAGE LENGTH checked.
impl<F: PageFields, const N: usize> Wire for ModePage<F, N> {
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(F::WHAT, Location::Data, buf, 2)?;
        for (spec, want) in [(PAGE_CODE, F::CODE), (SPF, 0), (PAGE_LENGTH, Self::PAGE_LENGTH)] {
            if spec.get(buf) != u64::from(want) {
                return Err(spec.invalid(F::WHAT, Location::Data, 0));
            }
        }
        check_len(F::WHAT, Location::Data, buf, N)?;
        Ok(Self::read(buf))
    }

    fn buffer_len(&self) -> usize {
        N
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(F::WHAT, buf, N)?;
        buf[..N].copy_from_slice(&Self::unmodeled(&self.other));
        PS.put(buf, self.ps.into());
        PAGE_CODE.put(buf, F::CODE.into());
        PAGE_LENGTH.put(buf, Self::PAGE_LENGTH.into());
        self.fields.write(buf)?;
        Ok(N)
    }
}

/// The PC (page control) field of MODE SENSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageControl {
    /// Current values.
    Current,
    /// Changeable values: a mask of the bits MODE SELECT may change.
    Changeable,
    /// Default values.
    Default,
    /// Saved values (not implemented).
    Saved,
}

impl PageControl {
    /// Decodes the low two bits of `pc`.
    pub const fn from_bits(pc: u8) -> Self {
        [Self::Current, Self::Changeable, Self::Default, Self::Saved][(pc & 0x03) as usize]
    }
}

/// A decoded MODE SENSE(6) or (10) CDB, as far as the response depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeSenseRequest {
    /// MODE SENSE(10) rather than MODE SENSE(6).
    pub ten: bool,
    /// DBD.
    pub dbd: bool,
    /// LLBAA (ignored for MODE SENSE(6)).
    pub llbaa: bool,
    /// PC.
    pub pc: PageControl,
    /// PAGE CODE.
    pub page_code: u8,
    /// SUBPAGE CODE.
    pub subpage_code: u8,
}

#[cfg(test)]
mod tests;
