//! Mode pages and mode parameter data (SPC-5 7.5, SBC-4 6.5). Each page is a [`ModePage`]
//! whose `other` bits make `parse` then `emit` give back the exact bytes.
//! A device's pages and its MODE SENSE / MODE SELECT behaviour are `tcmu`'s emulation.

mod parameters;

pub use parameters::*;

use crate::Wire;
use crate::bits::{Layout, Spec, layout};
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

/// Declares a page: its named fields (a `layout!` structure), their PAGE CODE and [`Default`]
/// values (the others zero), and its type.
macro_rules! page {
    (
        $(#[$doc:meta])* $page:ident, $fields:ident: $what:literal, $code:ident, $len:literal
        { $($body:tt)* } default { $($field:ident: $value:expr),* $(,)? }
    ) => {
        layout! {
            #[doc = concat!("The named fields of [`", stringify!($page), "`].")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $fields: $what, $len { $($body)* }
        }

        impl PageFields for $fields {
            const CODE: u8 = page_code::$code;
        }

        impl Default for $fields {
            fn default() -> Self {
                $fields { $($field: $value,)* ..<$fields as Layout>::read(&[]) }
            }
        }

        $(#[$doc])*
        pub type $page = ModePage<$fields, $len>;
    };
}

page! {
    /// The Read-Write Error Recovery mode page, 01h (SBC-4 6.5); all zeros by default, as LIO.
    ReadWriteErrorRecoveryPage,
    ReadWriteErrorRecovery: "Read-Write Error Recovery mode page", READ_WRITE_ERROR_RECOVERY, 12 {
        awre: bool = "AWRE" (2, 7, 1),
        arre: bool = "ARRE" (2, 6, 1),
        tb: bool = "TB" (2, 5, 1),
        rc: bool = "RC" (2, 4, 1),
        eer: bool = "EER" (2, 3, 1),
        per: bool = "PER" (2, 2, 1),
        dte: bool = "DTE" (2, 1, 1),
        dcr: bool = "DCR" (2, 0, 1),
        read_retry_count: u8 = "READ RETRY COUNT" (3, 0, 8),
        write_retry_count: u8 = "WRITE RETRY COUNT" (8, 0, 8),
        /// Recovery time limit in milliseconds.
        recovery_time_limit: u16 = "RECOVERY TIME LIMIT" (10, 0, 16),
    } default {}
}

page! {
    /// The Caching mode page, 08h (SBC-4 6.5). [`Default`] is `new(true)`: a reported write-back
    /// cache makes initiators send SYNCHRONIZE CACHE, vital on a caching store.
    CachingPage, Caching: "Caching mode page", CACHING, 20 {
        ic: bool = "IC" (2, 7, 1),
        abpf: bool = "ABPF" (2, 6, 1),
        cap: bool = "CAP" (2, 5, 1),
        disc: bool = "DISC" (2, 4, 1),
        size: bool = "SIZE" (2, 3, 1),
        wce: bool = "WCE" (2, 2, 1),
        mf: bool = "MF" (2, 1, 1),
        rcd: bool = "RCD" (2, 0, 1),
        demand_read_retention_priority: u8 = "DEMAND READ RETENTION PRIORITY" (3, 4, 4),
        write_retention_priority: u8 = "WRITE RETENTION PRIORITY" (3, 0, 4),
        disable_prefetch_transfer_length: u16 = "DISABLE PRE-FETCH TRANSFER LENGTH" (4, 0, 16),
        minimum_prefetch: u16 = "MINIMUM PRE-FETCH" (6, 0, 16),
        maximum_prefetch: u16 = "MAXIMUM PRE-FETCH" (8, 0, 16),
        maximum_prefetch_ceiling: u16 = "MAXIMUM PRE-FETCH CEILING" (10, 0, 16),
        fsw: bool = "FSW" (12, 7, 1),
        lbcss: bool = "LBCSS" (12, 6, 1),
        dra: bool = "DRA" (12, 5, 1),
        nv_dis: bool = "NV_DIS" (12, 0, 1),
        number_of_cache_segments: u8 = "NUMBER OF CACHE SEGMENTS" (13, 0, 8),
        cache_segment_size: u16 = "CACHE SEGMENT SIZE" (14, 0, 16),
    } default { wce: true, dra: true }
}

impl CachingPage {
    /// The page this target reports: WCE = `write_cache`, DRA (no read-ahead, as LIO).
    pub fn new(write_cache: bool) -> Self {
        ModePage { fields: Caching { wce: write_cache, ..Caching::default() }, ..Self::cleared() }
    }
}

page! {
    /// The Control mode page, 0Ah (SPC-5 7.5). [`Default`] is what LIO reports for a disk.
    ControlPage, Control: "Control mode page", CONTROL, 12 {
        tst: u8 = "TST" (2, 5, 3),
        tmf_only: bool = "TMF_ONLY" (2, 4, 1),
        dpicz: bool = "DPICZ" (2, 3, 1),
        d_sense: bool = "D_SENSE" (2, 2, 1),
        gltsd: bool = "GLTSD" (2, 1, 1),
        rlec: bool = "RLEC" (2, 0, 1),
        queue_algorithm_modifier: u8 = "QUEUE ALGORITHM MODIFIER" (3, 4, 4),
        nuar: bool = "NUAR" (3, 3, 1),
        qerr: u8 = "QERR" (3, 1, 2),
        rac: bool = "RAC" (4, 6, 1),
        ua_intlck_ctrl: u8 = "UA_INTLCK_CTRL" (4, 4, 2),
        swp: bool = "SWP" (4, 3, 1),
        ato: bool = "ATO" (5, 7, 1),
        tas: bool = "TAS" (5, 6, 1),
        atmpe: bool = "ATMPE" (5, 5, 1),
        rwwp: bool = "RWWP" (5, 4, 1),
        sblp: bool = "SBLP" (5, 3, 1),
        autoload_mode: u8 = "AUTOLOAD MODE" (5, 0, 3),
        /// Busy timeout period in 100 ms units, FFFFh = unlimited.
        busy_timeout_period: u16 = "BUSY TIMEOUT PERIOD" (8, 0, 16),
        /// Extended self-test completion time in seconds.
        extended_self_test_completion_time: u16 =
            "EXTENDED SELF-TEST COMPLETION TIME" (10, 0, 16),
    } default {
        gltsd: true,
        queue_algorithm_modifier: 1,
        tas: true,
        busy_timeout_period: 0xFFFF,
        extended_self_test_completion_time: 30,
    }
}

page! {
    /// The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5). [`Default`] sets only
    /// DEXCPT: the target predicts no failures.
    InformationalExceptionsPage,
    InformationalExceptions: "Informational Exceptions Control mode page",
        INFORMATIONAL_EXCEPTIONS_CONTROL, 12 {
        perf: bool = "PERF" (2, 7, 1),
        ebf: bool = "EBF" (2, 5, 1),
        ewasc: bool = "EWASC" (2, 4, 1),
        dexcpt: bool = "DEXCPT" (2, 3, 1),
        test: bool = "TEST" (2, 2, 1),
        ebackerr: bool = "EBACKERR" (2, 1, 1),
        logerr: bool = "LOGERR" (2, 0, 1),
        mrie: u8 = "MRIE" (3, 0, 4),
        /// Interval timer in 100 ms units.
        interval_timer: u32 = "INTERVAL TIMER" (4, 0, 32),
        report_count: u32 = "REPORT COUNT" (8, 0, 32),
    } default { dexcpt: true }
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
