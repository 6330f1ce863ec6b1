//! Mode pages, MODE SENSE data and MODE SELECT parameter lists (SPC-5 7.5, SBC-4 6.5).
//!
//! A disk target keeps four mode pages, [`ModePages`]: Read-Write Error Recovery (01h),
//! Caching (08h), Control (0Ah) and Informational Exceptions Control (1Ch). Each page is an
//! owned struct with the fields a target uses and an `other` array keeping every remaining bit
//! (reserved, obsolete, vendor-specific), so `parse` then `emit` gives back the exact bytes.
//!
//! - [`ModePages::sense`] builds the MODE SENSE(6)/(10) response: header, block descriptor,
//!   then one page or all of them.
//! - [`ModePages::select`] checks a MODE SELECT(6)/(10) parameter list against the
//!   *changeable* masks ([`ModePages::changeable`], a [`PageSet`] whose set bits may change) and
//!   returns the new pages without touching `self`, so a target applies them atomically. Every
//!   rejection carries the exact parameter-list byte and bit of the offending field.
//! - [`ModeParameters`] parses and emits mode parameter data as an initiator sees it.
//!
//! Saved values are not implemented: the pages are reported with PS = 0, MODE SENSE with
//! PC = 11b fails (see [`is_saving_parameters_not_supported`]) and MODE SELECT with SP = 1 fails
//! with INVALID FIELD IN CDB (SPC-5, MODE SELECT: "the logical unit does not implement saved mode
//! pages").
//!
//! Once a MODE SELECT changes a page, the target must act on it: a cleared WCE means every
//! write is made durable before it completes; a changed D_SENSE switches the sense data format.
//! It should also establish the MODE PARAMETERS CHANGED unit attention for the other I_T nexuses
//! (SPC-5 7.5); that is the target's business, not this module's.

use crate::Wire;
use crate::error::{Error, FieldPointer, Location, Result, check_len, check_out};
use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Mode page codes (SPC-5 7.5 and SBC-4 6.5, mode page codes for direct access block
/// devices). Only the four pages of [`ModePages`] are implemented; the others are named
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

/// PS: parameters saveable (SPC-5 7.5.7), bit 7 of a page's first byte.
const PS: u8 = 0x80;
/// SPF: sub_page format (SPC-5 7.5.7), bit 6 of a page's first byte.
const SPF: u8 = 0x40;
/// The PAGE CODE field, bits 5..0 of a page's first byte.
const PAGE_CODE_MASK: u8 = 0x3F;

const fn bit(v: bool, n: u8) -> u8 {
    (v as u8) << n
}

const fn flag(b: u8, n: u8) -> bool {
    b & (1 << n) != 0
}

fn u24_get(b: [u8; 3]) -> u32 {
    u32::from_be_bytes([0, b[0], b[1], b[2]])
}

fn u24_set(v: u32) -> [u8; 3] {
    let [_, a, b, c] = v.to_be_bytes();
    [a, b, c]
}

/// Saturating conversion of an offset into a field pointer byte.
fn ptr_byte(off: usize) -> u16 {
    u16::try_from(off).unwrap_or(u16::MAX)
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/// One named field of a page, for error messages and field pointers: `len` bytes from `byte`;
/// a one-byte field narrower than a byte covers the bits of `mask`.
struct Field {
    byte: usize,
    len: usize,
    mask: u8,
    name: &'static str,
}

const fn field(byte: usize, mask: u8, name: &'static str) -> Field {
    Field {
        byte,
        len: 1,
        mask,
        name,
    }
}

const fn wide(byte: usize, len: usize, name: &'static str) -> Field {
    Field {
        byte,
        len,
        mask: 0xFF,
        name,
    }
}

/// What the four page types share, for the generic parse/emit/MODE SELECT code.
trait Page: Sized {
    const CODE: u8;
    /// The whole page, header included (PAGE LENGTH + 2).
    const LEN: usize;
    const WHAT: &'static str;
    /// Fields, for naming and pointing at the field a MODE SELECT may not change.
    const FIELDS: &'static [Field];
    /// Builds the page from `b`, whose header has been checked and which holds `LEN` bytes.
    fn read(b: &[u8]) -> Result<Self>;
    /// Writes `LEN` bytes.
    fn write(&self, out: &mut [u8]) -> Result<usize>;
}

/// Keeps the bits of `b` outside `modeled`: the `other` array of a page.
fn other_bits<const N: usize>(b: &[u8], modeled: &[u8; N]) -> [u8; N] {
    let mut other = [0u8; N];
    for ((o, &x), &m) in other.iter_mut().zip(b).zip(modeled) {
        *o = x & !m;
    }
    other
}

/// Merges the named fields (`fields`, laid out by a zerocopy struct) with the `other` bits.
fn merge_out<const N: usize>(
    what: &'static str,
    out: &mut [u8],
    fields: &[u8],
    other: &[u8; N],
    modeled: &[u8; N],
) -> Result<usize> {
    check_out(what, out, N)?;
    for (((o, &x), &r), &m) in out.iter_mut().zip(fields).zip(other).zip(modeled) {
        *o = (x & m) | (r & !m);
    }
    Ok(N)
}

fn layout_err(what: &'static str, needed: usize, actual: usize) -> Error {
    Error::Truncated {
        what,
        location: Location::Data,
        needed,
        actual,
    }
}

/// Parses a page on its own (device data, [`Location::Data`]): checks PAGE CODE, SPF and
/// PAGE LENGTH before reading.
fn parse_page<P: Page>(buf: &[u8]) -> Result<P> {
    check_len(P::WHAT, Location::Data, buf, 2)?;
    if buf[0] & PAGE_CODE_MASK != P::CODE {
        return Err(Error::InvalidField {
            what: P::WHAT,
            field: "PAGE CODE",
            pointer: FieldPointer::data(0, Some(5)),
        });
    }
    if buf[0] & SPF != 0 {
        return Err(Error::InvalidField {
            what: P::WHAT,
            field: "SPF",
            pointer: FieldPointer::data(0, Some(6)),
        });
    }
    if usize::from(buf[1]) + 2 != P::LEN {
        return Err(Error::InvalidField {
            what: P::WHAT,
            field: "PAGE LENGTH",
            pointer: FieldPointer::data(1, None),
        });
    }
    check_len(P::WHAT, Location::Data, buf, P::LEN)?;
    P::read(buf)
}

macro_rules! wire_page {
    ($t:ty) => {
        impl Wire for $t {
            fn parse(buf: &[u8]) -> Result<Self> {
                parse_page::<Self>(buf)
            }

            fn buffer_len(&self) -> usize {
                <Self as Page>::LEN
            }

            fn emit(&self, buf: &mut [u8]) -> Result<usize> {
                Page::write(self, buf)
            }
        }
    };
}

// --- 01h Read-Write Error Recovery (SBC-4 6.5) -----------------------------------------------

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RwErrorRecoveryLayout {
    page_code: u8,
    page_length: u8,
    flags: u8,
    read_retry_count: u8,
    obsolete: [u8; 3],
    byte7: u8,
    write_retry_count: u8,
    reserved: u8,
    recovery_time_limit: U16,
}
const _: () = assert!(size_of::<RwErrorRecoveryLayout>() == 12);

const RWER_MODELED: [u8; 12] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0xFF,
];

/// The Read-Write Error Recovery mode page, 01h (SBC-4 6.5), page length 0Ah.
///
/// The default ([`Default`]) is all zeros, as LIO reports: a virtual disk neither retries nor
/// reallocates by itself, the backing store does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadWriteErrorRecoveryPage {
    /// PS, parameters saveable (byte 0 bit 7). Always 0 from this target: no saved values.
    pub ps: bool,
    /// AWRE, automatic write reallocation enabled (byte 2 bit 7).
    pub awre: bool,
    /// ARRE, automatic read reallocation enabled (byte 2 bit 6).
    pub arre: bool,
    /// TB, transfer block (byte 2 bit 5).
    pub tb: bool,
    /// RC, read continuous (byte 2 bit 4).
    pub rc: bool,
    /// EER, enable early recovery (byte 2 bit 3).
    pub eer: bool,
    /// PER, post error (byte 2 bit 2).
    pub per: bool,
    /// DTE, data terminate on error (byte 2 bit 1).
    pub dte: bool,
    /// DCR, disable correction (byte 2 bit 0).
    pub dcr: bool,
    /// READ RETRY COUNT (byte 3).
    pub read_retry_count: u8,
    /// WRITE RETRY COUNT (byte 8).
    pub write_retry_count: u8,
    /// RECOVERY TIME LIMIT in milliseconds (bytes 10..=11).
    pub recovery_time_limit: u16,
    /// Every other bit, by page byte (obsolete bytes 4..=6, LBPERE and reserved bits of byte 7,
    /// reserved byte 9). Bits of the named fields above are ignored on emit and zero after parse.
    pub other: [u8; 12],
}

impl ReadWriteErrorRecoveryPage {
    /// The page code, 01h.
    pub const PAGE_CODE: u8 = page_code::READ_WRITE_ERROR_RECOVERY;
    /// The PAGE LENGTH field value, 0Ah.
    pub const PAGE_LENGTH: u8 = 0x0A;

    /// Every field zero: as a changeable mask, nothing may change.
    pub const fn cleared() -> Self {
        ReadWriteErrorRecoveryPage {
            ps: false,
            awre: false,
            arre: false,
            tb: false,
            rc: false,
            eer: false,
            per: false,
            dte: false,
            dcr: false,
            read_retry_count: 0,
            write_retry_count: 0,
            recovery_time_limit: 0,
            other: [0; 12],
        }
    }
}

impl Page for ReadWriteErrorRecoveryPage {
    const CODE: u8 = Self::PAGE_CODE;
    const LEN: usize = 12;
    const WHAT: &'static str = "Read-Write Error Recovery mode page";
    const FIELDS: &'static [Field] = &[
        field(2, 0x80, "AWRE"),
        field(2, 0x40, "ARRE"),
        field(2, 0x20, "TB"),
        field(2, 0x10, "RC"),
        field(2, 0x08, "EER"),
        field(2, 0x04, "PER"),
        field(2, 0x02, "DTE"),
        field(2, 0x01, "DCR"),
        field(3, 0xFF, "READ RETRY COUNT"),
        wide(4, 3, "obsolete"),
        field(7, 0x80, "LBPERE"),
        field(8, 0xFF, "WRITE RETRY COUNT"),
        wide(10, 2, "RECOVERY TIME LIMIT"),
    ];

    fn read(b: &[u8]) -> Result<Self> {
        let (l, _) = RwErrorRecoveryLayout::read_from_prefix(b)
            .map_err(|_| layout_err(Self::WHAT, Self::LEN, b.len()))?;
        Ok(ReadWriteErrorRecoveryPage {
            ps: flag(l.page_code, 7),
            awre: flag(l.flags, 7),
            arre: flag(l.flags, 6),
            tb: flag(l.flags, 5),
            rc: flag(l.flags, 4),
            eer: flag(l.flags, 3),
            per: flag(l.flags, 2),
            dte: flag(l.flags, 1),
            dcr: flag(l.flags, 0),
            read_retry_count: l.read_retry_count,
            write_retry_count: l.write_retry_count,
            recovery_time_limit: l.recovery_time_limit.get(),
            other: other_bits(b, &RWER_MODELED),
        })
    }

    fn write(&self, out: &mut [u8]) -> Result<usize> {
        let mut l = RwErrorRecoveryLayout::new_zeroed();
        l.page_code = bit(self.ps, 7) | Self::CODE;
        l.page_length = Self::PAGE_LENGTH;
        l.flags = bit(self.awre, 7)
            | bit(self.arre, 6)
            | bit(self.tb, 5)
            | bit(self.rc, 4)
            | bit(self.eer, 3)
            | bit(self.per, 2)
            | bit(self.dte, 1)
            | bit(self.dcr, 0);
        l.read_retry_count = self.read_retry_count;
        l.write_retry_count = self.write_retry_count;
        l.recovery_time_limit = U16::new(self.recovery_time_limit);
        merge_out(Self::WHAT, out, l.as_bytes(), &self.other, &RWER_MODELED)
    }
}
wire_page!(ReadWriteErrorRecoveryPage);

// --- 08h Caching (SBC-4 6.5) -----------------------------------------------------------------

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct CachingLayout {
    page_code: u8,
    page_length: u8,
    flags: u8,
    retention: u8,
    disable_prefetch_transfer_length: U16,
    minimum_prefetch: U16,
    maximum_prefetch: U16,
    maximum_prefetch_ceiling: U16,
    flags2: u8,
    number_of_cache_segments: u8,
    cache_segment_size: U16,
    reserved: u8,
    obsolete: [u8; 3],
}
const _: () = assert!(size_of::<CachingLayout>() == 20);

const CACHING_MODELED: [u8; 20] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xE1, 0xFF, 0xFF, 0xFF,
    0x00, 0x00, 0x00, 0x00,
];

/// The Caching mode page, 08h (SBC-4 6.5), page length 12h.
///
/// [`CachingPage::new`] builds what this target reports: WCE as the device is configured,
/// DRA = 1 (the target does no read-ahead of its own; LIO reports the same), every other field
/// zero. [`Default`] is `new(true)`: reporting a write-back cache makes initiators send
/// SYNCHRONIZE CACHE, which is harmless on a write-through store and vital on a caching one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachingPage {
    /// PS, parameters saveable (byte 0 bit 7).
    pub ps: bool,
    /// IC, initiator control (byte 2 bit 7).
    pub ic: bool,
    /// ABPF, abort pre-fetch (byte 2 bit 6).
    pub abpf: bool,
    /// CAP, caching analysis permitted (byte 2 bit 5).
    pub cap: bool,
    /// DISC, discontinuity (byte 2 bit 4).
    pub disc: bool,
    /// SIZE, size enable (byte 2 bit 3).
    pub size: bool,
    /// WCE, writeback cache enable (byte 2 bit 2).
    pub wce: bool,
    /// MF, multiplication factor (byte 2 bit 1).
    pub mf: bool,
    /// RCD, read cache disable (byte 2 bit 0).
    pub rcd: bool,
    /// DEMAND READ RETENTION PRIORITY (byte 3 bits 7..4; only the low 4 bits are emitted).
    pub demand_read_retention_priority: u8,
    /// WRITE RETENTION PRIORITY (byte 3 bits 3..0; only the low 4 bits are emitted).
    pub write_retention_priority: u8,
    /// DISABLE PRE-FETCH TRANSFER LENGTH (bytes 4..=5).
    pub disable_prefetch_transfer_length: u16,
    /// MINIMUM PRE-FETCH (bytes 6..=7).
    pub minimum_prefetch: u16,
    /// MAXIMUM PRE-FETCH (bytes 8..=9).
    pub maximum_prefetch: u16,
    /// MAXIMUM PRE-FETCH CEILING (bytes 10..=11).
    pub maximum_prefetch_ceiling: u16,
    /// FSW, force sequential write (byte 12 bit 7).
    pub fsw: bool,
    /// LBCSS, logical block cache segment size (byte 12 bit 6).
    pub lbcss: bool,
    /// DRA, disable read-ahead (byte 12 bit 5).
    pub dra: bool,
    /// NV_DIS, non-volatile cache disable (byte 12 bit 0).
    pub nv_dis: bool,
    /// NUMBER OF CACHE SEGMENTS (byte 13).
    pub number_of_cache_segments: u8,
    /// CACHE SEGMENT SIZE (bytes 14..=15).
    pub cache_segment_size: u16,
    /// Every other bit, by page byte (vendor-specific and SYNC_PROG bits 4..1 of byte 12,
    /// reserved byte 16, obsolete bytes 17..=19). Bits of the named fields are ignored on emit
    /// and zero after parse.
    pub other: [u8; 20],
}

impl CachingPage {
    /// The page code, 08h.
    pub const PAGE_CODE: u8 = page_code::CACHING;
    /// The PAGE LENGTH field value, 12h.
    pub const PAGE_LENGTH: u8 = 0x12;

    /// The page this target reports, with WCE = `write_cache`.
    pub const fn new(write_cache: bool) -> Self {
        CachingPage {
            wce: write_cache,
            dra: true,
            ..Self::cleared()
        }
    }

    /// Every field zero: as a changeable mask, nothing may change.
    pub const fn cleared() -> Self {
        CachingPage {
            ps: false,
            ic: false,
            abpf: false,
            cap: false,
            disc: false,
            size: false,
            wce: false,
            mf: false,
            rcd: false,
            demand_read_retention_priority: 0,
            write_retention_priority: 0,
            disable_prefetch_transfer_length: 0,
            minimum_prefetch: 0,
            maximum_prefetch: 0,
            maximum_prefetch_ceiling: 0,
            fsw: false,
            lbcss: false,
            dra: false,
            nv_dis: false,
            number_of_cache_segments: 0,
            cache_segment_size: 0,
            other: [0; 20],
        }
    }
}

impl Default for CachingPage {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Page for CachingPage {
    const CODE: u8 = Self::PAGE_CODE;
    const LEN: usize = 20;
    const WHAT: &'static str = "Caching mode page";
    const FIELDS: &'static [Field] = &[
        field(2, 0x80, "IC"),
        field(2, 0x40, "ABPF"),
        field(2, 0x20, "CAP"),
        field(2, 0x10, "DISC"),
        field(2, 0x08, "SIZE"),
        field(2, 0x04, "WCE"),
        field(2, 0x02, "MF"),
        field(2, 0x01, "RCD"),
        field(3, 0xF0, "DEMAND READ RETENTION PRIORITY"),
        field(3, 0x0F, "WRITE RETENTION PRIORITY"),
        wide(4, 2, "DISABLE PRE-FETCH TRANSFER LENGTH"),
        wide(6, 2, "MINIMUM PRE-FETCH"),
        wide(8, 2, "MAXIMUM PRE-FETCH"),
        wide(10, 2, "MAXIMUM PRE-FETCH CEILING"),
        field(12, 0x80, "FSW"),
        field(12, 0x40, "LBCSS"),
        field(12, 0x20, "DRA"),
        field(12, 0x18, "vendor specific"),
        field(12, 0x06, "SYNC_PROG"),
        field(12, 0x01, "NV_DIS"),
        field(13, 0xFF, "NUMBER OF CACHE SEGMENTS"),
        wide(14, 2, "CACHE SEGMENT SIZE"),
        wide(17, 3, "obsolete"),
    ];

    fn read(b: &[u8]) -> Result<Self> {
        let (l, _) = CachingLayout::read_from_prefix(b)
            .map_err(|_| layout_err(Self::WHAT, Self::LEN, b.len()))?;
        Ok(CachingPage {
            ps: flag(l.page_code, 7),
            ic: flag(l.flags, 7),
            abpf: flag(l.flags, 6),
            cap: flag(l.flags, 5),
            disc: flag(l.flags, 4),
            size: flag(l.flags, 3),
            wce: flag(l.flags, 2),
            mf: flag(l.flags, 1),
            rcd: flag(l.flags, 0),
            demand_read_retention_priority: l.retention >> 4,
            write_retention_priority: l.retention & 0x0F,
            disable_prefetch_transfer_length: l.disable_prefetch_transfer_length.get(),
            minimum_prefetch: l.minimum_prefetch.get(),
            maximum_prefetch: l.maximum_prefetch.get(),
            maximum_prefetch_ceiling: l.maximum_prefetch_ceiling.get(),
            fsw: flag(l.flags2, 7),
            lbcss: flag(l.flags2, 6),
            dra: flag(l.flags2, 5),
            nv_dis: flag(l.flags2, 0),
            number_of_cache_segments: l.number_of_cache_segments,
            cache_segment_size: l.cache_segment_size.get(),
            other: other_bits(b, &CACHING_MODELED),
        })
    }

    fn write(&self, out: &mut [u8]) -> Result<usize> {
        let mut l = CachingLayout::new_zeroed();
        l.page_code = bit(self.ps, 7) | Self::CODE;
        l.page_length = Self::PAGE_LENGTH;
        l.flags = bit(self.ic, 7)
            | bit(self.abpf, 6)
            | bit(self.cap, 5)
            | bit(self.disc, 4)
            | bit(self.size, 3)
            | bit(self.wce, 2)
            | bit(self.mf, 1)
            | bit(self.rcd, 0);
        l.retention = ((self.demand_read_retention_priority & 0x0F) << 4)
            | (self.write_retention_priority & 0x0F);
        l.disable_prefetch_transfer_length = U16::new(self.disable_prefetch_transfer_length);
        l.minimum_prefetch = U16::new(self.minimum_prefetch);
        l.maximum_prefetch = U16::new(self.maximum_prefetch);
        l.maximum_prefetch_ceiling = U16::new(self.maximum_prefetch_ceiling);
        l.flags2 = bit(self.fsw, 7) | bit(self.lbcss, 6) | bit(self.dra, 5) | bit(self.nv_dis, 0);
        l.number_of_cache_segments = self.number_of_cache_segments;
        l.cache_segment_size = U16::new(self.cache_segment_size);
        merge_out(Self::WHAT, out, l.as_bytes(), &self.other, &CACHING_MODELED)
    }
}
wire_page!(CachingPage);

// --- 0Ah Control (SPC-5 7.5) -----------------------------------------------------------------

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct ControlLayout {
    page_code: u8,
    page_length: u8,
    byte2: u8,
    byte3: u8,
    byte4: u8,
    byte5: u8,
    obsolete: [u8; 2],
    busy_timeout_period: U16,
    extended_self_test_completion_time: U16,
}
const _: () = assert!(size_of::<ControlLayout>() == 12);

const CONTROL_MODELED: [u8; 12] = [
    0xFF, 0xFF, 0xFF, 0xFE, 0x78, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// The Control mode page, 0Ah (SPC-5 7.5), page length 0Ah.
///
/// [`Default`] is what LIO reports for a disk: TST = 0 (one task set), GLTSD = 1 (log
/// parameters are not saved), D_SENSE = 0 (fixed format sense, what most initiators expect),
/// QUEUE ALGORITHM MODIFIER = 1 (unrestricted reordering of SIMPLE commands), QERR = 0,
/// UA_INTLCK_CTRL = 0, SWP = 0, TAS = 1 (commands aborted by another I_T nexus complete with
/// TASK ABORTED), ATO = 0, BUSY TIMEOUT PERIOD = FFFFh (unlimited), EXTENDED SELF-TEST
/// COMPLETION TIME = 30 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPage {
    /// PS, parameters saveable (byte 0 bit 7).
    pub ps: bool,
    /// TST, task set type (byte 2 bits 7..5; only the low 3 bits are emitted).
    pub tst: u8,
    /// TMF_ONLY, allow task management functions only (byte 2 bit 4).
    pub tmf_only: bool,
    /// DPICZ, disable protection information check if protect field is zero (byte 2 bit 3).
    pub dpicz: bool,
    /// D_SENSE, descriptor format sense data (byte 2 bit 2).
    pub d_sense: bool,
    /// GLTSD, global logging target save disable (byte 2 bit 1).
    pub gltsd: bool,
    /// RLEC, report log exception condition (byte 2 bit 0).
    pub rlec: bool,
    /// QUEUE ALGORITHM MODIFIER (byte 3 bits 7..4; only the low 4 bits are emitted).
    pub queue_algorithm_modifier: u8,
    /// NUAR, no unit attention on release (byte 3 bit 3).
    pub nuar: bool,
    /// QERR, queue error management (byte 3 bits 2..1; only the low 2 bits are emitted).
    pub qerr: u8,
    /// RAC, report a check (byte 4 bit 6).
    pub rac: bool,
    /// UA_INTLCK_CTRL, unit attention interlocks control (byte 4 bits 5..4; low 2 bits
    /// emitted).
    pub ua_intlck_ctrl: u8,
    /// SWP, software write protect (byte 4 bit 3).
    pub swp: bool,
    /// ATO, application tag owner (byte 5 bit 7).
    pub ato: bool,
    /// TAS, task aborted status (byte 5 bit 6).
    pub tas: bool,
    /// ATMPE, application tag mode page enabled (byte 5 bit 5).
    pub atmpe: bool,
    /// RWWP, reject write without protection (byte 5 bit 4).
    pub rwwp: bool,
    /// SBLP, supported block lengths and protection information (byte 5 bit 3).
    pub sblp: bool,
    /// AUTOLOAD MODE (byte 5 bits 2..0; only the low 3 bits are emitted).
    pub autoload_mode: u8,
    /// BUSY TIMEOUT PERIOD in 100 ms units, FFFFh = unlimited (bytes 8..=9).
    pub busy_timeout_period: u16,
    /// EXTENDED SELF-TEST COMPLETION TIME in seconds (bytes 10..=11).
    pub extended_self_test_completion_time: u16,
    /// Every other bit, by page byte (obsolete bit 0 of byte 3, vendor-specific bit 7 and
    /// obsolete bits 2..0 of byte 4, obsolete bytes 6..=7). Bits of the named fields are ignored
    /// on emit and zero after parse.
    pub other: [u8; 12],
}

impl ControlPage {
    /// The page code, 0Ah.
    pub const PAGE_CODE: u8 = page_code::CONTROL;
    /// The PAGE LENGTH field value, 0Ah.
    pub const PAGE_LENGTH: u8 = 0x0A;

    /// Every field zero: as a changeable mask, nothing may change.
    pub const fn cleared() -> Self {
        ControlPage {
            ps: false,
            tst: 0,
            tmf_only: false,
            dpicz: false,
            d_sense: false,
            gltsd: false,
            rlec: false,
            queue_algorithm_modifier: 0,
            nuar: false,
            qerr: 0,
            rac: false,
            ua_intlck_ctrl: 0,
            swp: false,
            ato: false,
            tas: false,
            atmpe: false,
            rwwp: false,
            sblp: false,
            autoload_mode: 0,
            busy_timeout_period: 0,
            extended_self_test_completion_time: 0,
            other: [0; 12],
        }
    }
}

impl Default for ControlPage {
    fn default() -> Self {
        ControlPage {
            gltsd: true,
            queue_algorithm_modifier: 1,
            tas: true,
            busy_timeout_period: 0xFFFF,
            extended_self_test_completion_time: 30,
            ..Self::cleared()
        }
    }
}

impl Page for ControlPage {
    const CODE: u8 = Self::PAGE_CODE;
    const LEN: usize = 12;
    const WHAT: &'static str = "Control mode page";
    const FIELDS: &'static [Field] = &[
        field(2, 0xE0, "TST"),
        field(2, 0x10, "TMF_ONLY"),
        field(2, 0x08, "DPICZ"),
        field(2, 0x04, "D_SENSE"),
        field(2, 0x02, "GLTSD"),
        field(2, 0x01, "RLEC"),
        field(3, 0xF0, "QUEUE ALGORITHM MODIFIER"),
        field(3, 0x08, "NUAR"),
        field(3, 0x06, "QERR"),
        field(3, 0x01, "obsolete"),
        field(4, 0x80, "vendor specific"),
        field(4, 0x40, "RAC"),
        field(4, 0x30, "UA_INTLCK_CTRL"),
        field(4, 0x08, "SWP"),
        field(4, 0x07, "obsolete"),
        field(5, 0x80, "ATO"),
        field(5, 0x40, "TAS"),
        field(5, 0x20, "ATMPE"),
        field(5, 0x10, "RWWP"),
        field(5, 0x08, "SBLP"),
        field(5, 0x07, "AUTOLOAD MODE"),
        wide(6, 2, "obsolete"),
        wide(8, 2, "BUSY TIMEOUT PERIOD"),
        wide(10, 2, "EXTENDED SELF-TEST COMPLETION TIME"),
    ];

    fn read(b: &[u8]) -> Result<Self> {
        let (l, _) = ControlLayout::read_from_prefix(b)
            .map_err(|_| layout_err(Self::WHAT, Self::LEN, b.len()))?;
        Ok(ControlPage {
            ps: flag(l.page_code, 7),
            tst: l.byte2 >> 5,
            tmf_only: flag(l.byte2, 4),
            dpicz: flag(l.byte2, 3),
            d_sense: flag(l.byte2, 2),
            gltsd: flag(l.byte2, 1),
            rlec: flag(l.byte2, 0),
            queue_algorithm_modifier: l.byte3 >> 4,
            nuar: flag(l.byte3, 3),
            qerr: (l.byte3 >> 1) & 0x03,
            rac: flag(l.byte4, 6),
            ua_intlck_ctrl: (l.byte4 >> 4) & 0x03,
            swp: flag(l.byte4, 3),
            ato: flag(l.byte5, 7),
            tas: flag(l.byte5, 6),
            atmpe: flag(l.byte5, 5),
            rwwp: flag(l.byte5, 4),
            sblp: flag(l.byte5, 3),
            autoload_mode: l.byte5 & 0x07,
            busy_timeout_period: l.busy_timeout_period.get(),
            extended_self_test_completion_time: l.extended_self_test_completion_time.get(),
            other: other_bits(b, &CONTROL_MODELED),
        })
    }

    fn write(&self, out: &mut [u8]) -> Result<usize> {
        let mut l = ControlLayout::new_zeroed();
        l.page_code = bit(self.ps, 7) | Self::CODE;
        l.page_length = Self::PAGE_LENGTH;
        l.byte2 = ((self.tst & 0x07) << 5)
            | bit(self.tmf_only, 4)
            | bit(self.dpicz, 3)
            | bit(self.d_sense, 2)
            | bit(self.gltsd, 1)
            | bit(self.rlec, 0);
        l.byte3 = ((self.queue_algorithm_modifier & 0x0F) << 4)
            | bit(self.nuar, 3)
            | ((self.qerr & 0x03) << 1);
        l.byte4 = bit(self.rac, 6) | ((self.ua_intlck_ctrl & 0x03) << 4) | bit(self.swp, 3);
        l.byte5 = bit(self.ato, 7)
            | bit(self.tas, 6)
            | bit(self.atmpe, 5)
            | bit(self.rwwp, 4)
            | bit(self.sblp, 3)
            | (self.autoload_mode & 0x07);
        l.busy_timeout_period = U16::new(self.busy_timeout_period);
        l.extended_self_test_completion_time = U16::new(self.extended_self_test_completion_time);
        merge_out(Self::WHAT, out, l.as_bytes(), &self.other, &CONTROL_MODELED)
    }
}
wire_page!(ControlPage);

// --- 1Ch Informational Exceptions Control (SPC-5 7.5) ----------------------------------------

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct InformationalExceptionsLayout {
    page_code: u8,
    page_length: u8,
    flags: u8,
    mrie: u8,
    interval_timer: U32,
    report_count: U32,
}
const _: () = assert!(size_of::<InformationalExceptionsLayout>() == 12);

const IEC_MODELED: [u8; 12] = [
    0xFF, 0xFF, 0xBF, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5), page length 0Ah.
///
/// [`Default`] has DEXCPT = 1 (informational exception reporting disabled: the target does
/// not predict failures, the backing store's own monitoring does) and every other field zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InformationalExceptionsPage {
    /// PS, parameters saveable (byte 0 bit 7).
    pub ps: bool,
    /// PERF, performance (byte 2 bit 7).
    pub perf: bool,
    /// EBF, enable background function (byte 2 bit 5).
    pub ebf: bool,
    /// EWASC, enable warning (byte 2 bit 4).
    pub ewasc: bool,
    /// DEXCPT, disable exception control (byte 2 bit 3).
    pub dexcpt: bool,
    /// TEST (byte 2 bit 2).
    pub test: bool,
    /// EBACKERR, enable background error reporting (byte 2 bit 1).
    pub ebackerr: bool,
    /// LOGERR, log errors (byte 2 bit 0).
    pub logerr: bool,
    /// MRIE, method of reporting informational exceptions (byte 3 bits 3..0; low 4 bits
    /// emitted).
    pub mrie: u8,
    /// INTERVAL TIMER in 100 ms units (bytes 4..=7).
    pub interval_timer: u32,
    /// REPORT COUNT (bytes 8..=11).
    pub report_count: u32,
    /// Every other bit, by page byte (reserved bit 6 of byte 2, reserved bits 7..4 of byte 3).
    /// Bits of the named fields are ignored on emit and zero after parse.
    pub other: [u8; 12],
}

impl InformationalExceptionsPage {
    /// The page code, 1Ch.
    pub const PAGE_CODE: u8 = page_code::INFORMATIONAL_EXCEPTIONS_CONTROL;
    /// The PAGE LENGTH field value, 0Ah.
    pub const PAGE_LENGTH: u8 = 0x0A;

    /// Every field zero: as a changeable mask, nothing may change.
    pub const fn cleared() -> Self {
        InformationalExceptionsPage {
            ps: false,
            perf: false,
            ebf: false,
            ewasc: false,
            dexcpt: false,
            test: false,
            ebackerr: false,
            logerr: false,
            mrie: 0,
            interval_timer: 0,
            report_count: 0,
            other: [0; 12],
        }
    }
}

impl Default for InformationalExceptionsPage {
    fn default() -> Self {
        InformationalExceptionsPage {
            dexcpt: true,
            ..Self::cleared()
        }
    }
}

impl Page for InformationalExceptionsPage {
    const CODE: u8 = Self::PAGE_CODE;
    const LEN: usize = 12;
    const WHAT: &'static str = "Informational Exceptions Control mode page";
    const FIELDS: &'static [Field] = &[
        field(2, 0x80, "PERF"),
        field(2, 0x20, "EBF"),
        field(2, 0x10, "EWASC"),
        field(2, 0x08, "DEXCPT"),
        field(2, 0x04, "TEST"),
        field(2, 0x02, "EBACKERR"),
        field(2, 0x01, "LOGERR"),
        field(3, 0x0F, "MRIE"),
        wide(4, 4, "INTERVAL TIMER"),
        wide(8, 4, "REPORT COUNT"),
    ];

    fn read(b: &[u8]) -> Result<Self> {
        let (l, _) = InformationalExceptionsLayout::read_from_prefix(b)
            .map_err(|_| layout_err(Self::WHAT, Self::LEN, b.len()))?;
        Ok(InformationalExceptionsPage {
            ps: flag(l.page_code, 7),
            perf: flag(l.flags, 7),
            ebf: flag(l.flags, 5),
            ewasc: flag(l.flags, 4),
            dexcpt: flag(l.flags, 3),
            test: flag(l.flags, 2),
            ebackerr: flag(l.flags, 1),
            logerr: flag(l.flags, 0),
            mrie: l.mrie & 0x0F,
            interval_timer: l.interval_timer.get(),
            report_count: l.report_count.get(),
            other: other_bits(b, &IEC_MODELED),
        })
    }

    fn write(&self, out: &mut [u8]) -> Result<usize> {
        let mut l = InformationalExceptionsLayout::new_zeroed();
        l.page_code = bit(self.ps, 7) | Self::CODE;
        l.page_length = Self::PAGE_LENGTH;
        l.flags = bit(self.perf, 7)
            | bit(self.ebf, 5)
            | bit(self.ewasc, 4)
            | bit(self.dexcpt, 3)
            | bit(self.test, 2)
            | bit(self.ebackerr, 1)
            | bit(self.logerr, 0);
        l.mrie = self.mrie & 0x0F;
        l.interval_timer = U32::new(self.interval_timer);
        l.report_count = U32::new(self.report_count);
        merge_out(Self::WHAT, out, l.as_bytes(), &self.other, &IEC_MODELED)
    }
}
wire_page!(InformationalExceptionsPage);

/// The largest page we hold (Caching, 20 bytes): scratch buffers are this long.
const MAX_PAGE_LEN: usize = 20;

// ---------------------------------------------------------------------------------------------
// Page sets, page control, the device's pages
// ---------------------------------------------------------------------------------------------

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
        match self {
            PageControl::Current => 0,
            PageControl::Changeable => 1,
            PageControl::Default => 2,
            PageControl::Saved => 3,
        }
    }
}

/// The four mode pages of a disk target: either values (current, default) or masks
/// (changeable: a one for every bit an initiator may change with MODE SELECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSet {
    /// Read-Write Error Recovery, 01h.
    pub read_write_error_recovery: ReadWriteErrorRecoveryPage,
    /// Caching, 08h.
    pub caching: CachingPage,
    /// Control, 0Ah.
    pub control: ControlPage,
    /// Informational Exceptions Control, 1Ch.
    pub informational_exceptions: InformationalExceptionsPage,
}

impl PageSet {
    /// The values a disk target reports (each page's documented default), with WCE =
    /// `write_cache`.
    pub fn disk_defaults(write_cache: bool) -> Self {
        PageSet {
            read_write_error_recovery: ReadWriteErrorRecoveryPage::default(),
            caching: CachingPage::new(write_cache),
            control: ControlPage::default(),
            informational_exceptions: InformationalExceptionsPage::default(),
        }
    }

    /// All masks zero: nothing may change.
    pub const fn cleared() -> Self {
        PageSet {
            read_write_error_recovery: ReadWriteErrorRecoveryPage::cleared(),
            caching: CachingPage::cleared(),
            control: ControlPage::cleared(),
            informational_exceptions: InformationalExceptionsPage::cleared(),
        }
    }

    /// The conservative changeable masks: Control D_SENSE, and Caching WCE when
    /// `write_cache_changeable` (only if the device can really switch its write cache). Nothing
    /// else; in particular RCD, SWP, QERR, TST and the IEC fields stay fixed.
    pub const fn changeable_masks(write_cache_changeable: bool) -> Self {
        let mut m = Self::cleared();
        m.caching.wce = write_cache_changeable;
        m.control.d_sense = true;
        m
    }

    /// Appends page `code` (one of [`ModePages::SUPPORTED_PAGES`]) with PS forced to 0, the
    /// target not implementing saved values. Returns false for any other code.
    fn push_page(&self, code: u8, out: &mut Vec<u8>) -> bool {
        let mut b = [0u8; MAX_PAGE_LEN];
        let n = match code {
            page_code::READ_WRITE_ERROR_RECOVERY => self.read_write_error_recovery.write(&mut b),
            page_code::CACHING => self.caching.write(&mut b),
            page_code::CONTROL => self.control.write(&mut b),
            page_code::INFORMATIONAL_EXCEPTIONS_CONTROL => {
                self.informational_exceptions.write(&mut b)
            }
            _ => return false,
        };
        match n {
            Ok(n) => {
                b[0] &= !PS;
                out.extend_from_slice(b.get(..n).unwrap_or_default());
                true
            }
            Err(_) => false,
        }
    }

    /// Applies one MODE SELECT page (`given`, exactly the page length, header already
    /// checked) found at offset `off` of the parameter list.
    fn apply(
        &mut self,
        masks: &PageSet,
        code: u8,
        given: &[u8],
        off: usize,
        what: &'static str,
    ) -> Result<()> {
        match code {
            page_code::READ_WRITE_ERROR_RECOVERY => apply_page(
                &mut self.read_write_error_recovery,
                &masks.read_write_error_recovery,
                given,
                off,
                what,
            ),
            page_code::CACHING => apply_page(&mut self.caching, &masks.caching, given, off, what),
            page_code::CONTROL => apply_page(&mut self.control, &masks.control, given, off, what),
            page_code::INFORMATIONAL_EXCEPTIONS_CONTROL => apply_page(
                &mut self.informational_exceptions,
                &masks.informational_exceptions,
                given,
                off,
                what,
            ),
            _ => Err(Error::InvalidField {
                what,
                field: "PAGE CODE",
                pointer: FieldPointer::param_bit(ptr_byte(off), 5),
            }),
        }
    }
}

/// Checks that `given` differs from `slot` only in bits `mask` allows, then replaces `slot`.
/// The first offending field is reported at its parameter-list position: its first byte, and
/// for a field narrower than a byte its leftmost bit (SPC-5 4.4.2.2).
fn apply_page<P: Page>(
    slot: &mut P,
    mask: &P,
    given: &[u8],
    off: usize,
    what: &'static str,
) -> Result<()> {
    let mut cur = [0u8; MAX_PAGE_LEN];
    let mut m = [0u8; MAX_PAGE_LEN];
    slot.write(&mut cur)?;
    mask.write(&mut m)?;
    // Bytes 0 and 1 (PS, SPF, PAGE CODE, PAGE LENGTH) were checked by the caller.
    for (i, ((&g, &c), &m)) in given
        .iter()
        .zip(&cur)
        .zip(&m)
        .enumerate()
        .take(P::LEN)
        .skip(2)
    {
        let bad = (g ^ c) & !m;
        if bad == 0 {
            continue;
        }
        let msb = 7 - bad.leading_zeros() as u8;
        let hit = P::FIELDS
            .iter()
            .find(|f| i >= f.byte && i - f.byte < f.len && (f.len > 1 || f.mask & (1 << msb) != 0));
        let (name, pointer) = match hit {
            Some(f) if f.mask == 0xFF => (f.name, FieldPointer::param(ptr_byte(off + f.byte))),
            Some(f) => (
                f.name,
                FieldPointer::param_bit(ptr_byte(off + f.byte), 7 - f.mask.leading_zeros() as u8),
            ),
            None => ("reserved", FieldPointer::param_bit(ptr_byte(off + i), msb)),
        };
        return Err(Error::InvalidField {
            what,
            field: name,
            pointer,
        });
    }
    *slot = P::read(given)?;
    Ok(())
}

/// What MODE SENSE and MODE SELECT need to know of the device: its capacity for the block
/// descriptor and the device-specific parameter bits (SBC-4 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDeviceInfo {
    /// Number of logical blocks of the medium (the capacity, not the last LBA).
    pub number_of_blocks: u64,
    /// Logical block length in bytes.
    pub block_length: u32,
    /// WP: the logical unit is write protected.
    pub write_protect: bool,
    /// DPOFUA: the device honours DPO and FUA.
    pub dpofua: bool,
}

impl BlockDeviceInfo {
    /// The device-specific parameter byte of the mode parameter header (SBC-4 6.5).
    pub const fn device_specific_parameter(&self) -> u8 {
        bit(self.write_protect, 7) | bit(self.dpofua, 4)
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

/// Whether `err`, returned by [`ModePages::sense`] or [`ModePages::page`], is the request for
/// saved values (PC = 11b): the target answers ILLEGAL REQUEST, SAVING PARAMETERS NOT SUPPORTED
/// (39h/00h, SPC-5, MODE SENSE, saved values) rather than INVALID FIELD IN CDB.
pub fn is_saving_parameters_not_supported(err: &Error) -> bool {
    matches!(err, Error::InvalidField { what, field: "PC", pointer }
        if what.starts_with("MODE SENSE") && *pointer == FieldPointer::cdb_bit(2, 7))
}

/// The mode pages of one logical unit: the current values (the four page fields), the
/// changeable masks and the default values.
///
/// [`ModePages::new`] and [`Default`] give the documented defaults of every page, with the
/// masks of [`PageSet::changeable_masks`]. All fields are public: a target configures what it
/// reports and what it lets initiators change by setting them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModePages {
    /// Current Read-Write Error Recovery page.
    pub read_write_error_recovery: ReadWriteErrorRecoveryPage,
    /// Current Caching page.
    pub caching: CachingPage,
    /// Current Control page.
    pub control: ControlPage,
    /// Current Informational Exceptions Control page.
    pub informational_exceptions: InformationalExceptionsPage,
    /// The bits MODE SELECT may change (reported for PC = 01b).
    pub changeable: PageSet,
    /// The default values (reported for PC = 10b): the power-on values, there being no saved
    /// ones.
    pub defaults: PageSet,
}

impl Default for ModePages {
    fn default() -> Self {
        Self::new(true, true)
    }
}

impl ModePages {
    /// The page codes this target has, in the ascending order MODE SENSE returns them.
    pub const SUPPORTED_PAGES: [u8; 4] = [
        page_code::READ_WRITE_ERROR_RECOVERY,
        page_code::CACHING,
        page_code::CONTROL,
        page_code::INFORMATIONAL_EXCEPTIONS_CONTROL,
    ];

    /// Defaults for a disk ([`PageSet::disk_defaults`]) with WCE = `write_cache`, D_SENSE
    /// changeable, and WCE changeable when `write_cache_changeable`.
    pub fn new(write_cache: bool, write_cache_changeable: bool) -> Self {
        Self::from_sets(
            PageSet::disk_defaults(write_cache),
            PageSet::changeable_masks(write_cache_changeable),
        )
    }

    /// Pages whose current and default values are `defaults`, with the masks `changeable`.
    pub fn from_sets(defaults: PageSet, changeable: PageSet) -> Self {
        ModePages {
            read_write_error_recovery: defaults.read_write_error_recovery,
            caching: defaults.caching,
            control: defaults.control,
            informational_exceptions: defaults.informational_exceptions,
            changeable,
            defaults,
        }
    }

    /// The current values as a [`PageSet`].
    pub fn current(&self) -> PageSet {
        PageSet {
            read_write_error_recovery: self.read_write_error_recovery,
            caching: self.caching,
            control: self.control,
            informational_exceptions: self.informational_exceptions,
        }
    }

    /// Replaces the current values.
    pub fn set_current(&mut self, set: PageSet) {
        self.read_write_error_recovery = set.read_write_error_recovery;
        self.caching = set.caching;
        self.control = set.control;
        self.informational_exceptions = set.informational_exceptions;
    }

    fn values(&self, pc: PageControl, what: &'static str) -> Result<PageSet> {
        match pc {
            PageControl::Current => Ok(self.current()),
            PageControl::Changeable => Ok(self.changeable),
            PageControl::Default => Ok(self.defaults),
            PageControl::Saved => Err(Error::InvalidField {
                what,
                field: "PC",
                pointer: FieldPointer::cdb_bit(2, 7),
            }),
        }
    }

    /// The bytes of one page as MODE SENSE reports it for `pc` (PS = 0): current, default, or
    /// for [`PageControl::Changeable`] the mask. An unknown code is an invalid PAGE CODE (CDB
    /// byte 2 bit 5); [`PageControl::Saved`] is an error for which
    /// [`is_saving_parameters_not_supported`] is true.
    pub fn page(&self, page_code: u8, pc: PageControl) -> Result<Vec<u8>> {
        const WHAT: &str = "MODE SENSE";
        if !Self::SUPPORTED_PAGES.contains(&page_code) {
            return Err(unknown_page(WHAT));
        }
        let set = self.values(pc, WHAT)?;
        let mut out = Vec::with_capacity(MAX_PAGE_LEN);
        set.push_page(page_code, &mut out);
        Ok(out)
    }

    /// Builds the MODE SENSE(6) or MODE SENSE(10) parameter data (SPC-5 7.5): header,
    /// block descriptor unless DBD, then the page asked for, or every page in ascending order
    /// for page code 3Fh. The caller truncates to the ALLOCATION LENGTH
    /// ([`crate::copy_truncated`]).
    ///
    /// The block descriptor carries the real capacity whatever PC is. With LLBAA (MODE
    /// SENSE(10) only) it is the 16-byte long LBA descriptor and LONGLBA is set; otherwise the
    /// 8-byte short one, whose NUMBER OF LOGICAL BLOCKS is FFFFFFFFh if the capacity does not
    /// fit (SBC-4 6.5, short LBA mode parameter block descriptor). Subpage FFh with a single
    /// page code returns that page: we have no subpages to add.
    ///
    /// Errors: an unknown page code is an invalid PAGE CODE (CDB byte 2 bit 5); a subpage code
    /// other than 00h or FFh an invalid SUBPAGE CODE (CDB byte 3); PC = 11b is the error of
    /// [`is_saving_parameters_not_supported`]; MODE SENSE(6) data longer than its one-byte
    /// MODE DATA LENGTH can say is an invalid PAGE CODE too (the initiator must use MODE
    /// SENSE(10) for it; it cannot happen with the four pages here).
    pub fn sense(&self, req: &ModeSenseRequest, device: &BlockDeviceInfo) -> Result<Vec<u8>> {
        let what = if req.ten {
            "MODE SENSE(10)"
        } else {
            "MODE SENSE(6)"
        };
        let codes: &[u8] = if req.page_code == page_code::ALL_PAGES {
            &Self::SUPPORTED_PAGES
        } else if Self::SUPPORTED_PAGES.contains(&req.page_code) {
            core::slice::from_ref(&req.page_code)
        } else {
            return Err(unknown_page(what));
        };
        if req.subpage_code != page_code::SUBPAGE_NONE
            && req.subpage_code != page_code::ALL_SUBPAGES
        {
            return Err(Error::InvalidField {
                what,
                field: "SUBPAGE CODE",
                pointer: FieldPointer::cdb(3),
            });
        }
        let set = self.values(req.pc, what)?;
        let mut pages = Vec::with_capacity(codes.len() * MAX_PAGE_LEN);
        for &code in codes {
            set.push_page(code, &mut pages);
        }
        let block_descriptors = if req.dbd {
            Vec::new()
        } else {
            vec![BlockDescriptor {
                number_of_blocks: device.number_of_blocks,
                block_length: device.block_length,
            }]
        };
        let data = ModeParameters {
            medium_type: 0,
            device_specific_parameter: device.device_specific_parameter(),
            long_lba: req.ten && req.llbaa && !req.dbd,
            block_descriptors,
            pages,
        };
        if !req.ten && data.buffer_len(false) > usize::from(u8::MAX) + 1 {
            return Err(unknown_page(what));
        }
        data.to_vec(req.ten)
    }

    /// Applies a MODE SELECT(6) (`ten` false) or MODE SELECT(10) parameter list (SPC-5, MODE
    /// SELECT(6) and (10), 7.5) and returns the new pages; `self` is untouched, so the target
    /// swaps them in at once or not at all. A list of length zero, or of a header alone,
    /// changes nothing.
    ///
    /// Rejected, with the field's parameter-list position (INVALID FIELD IN PARAMETER LIST):
    /// a non-zero MODE DATA LENGTH (reserved in MODE SELECT); a BLOCK DESCRIPTOR LENGTH other
    /// than 0 or 8 (16 with LONGLBA in MODE SELECT(10)); a LOGICAL BLOCK LENGTH other than the
    /// device's; the SPF bit (we have no subpages); a PAGE CODE we do not have; PS = 1
    /// (reserved in MODE SELECT, SPC-5 7.5.7); a PAGE LENGTH other than ours; any bit that
    /// differs from the current value where the changeable mask has a zero (reserved bits
    /// included). A list cut short (the header, the block descriptors or a page) is
    /// [`Error::ParameterListLength`]. In the CDB: SP = 1 is an invalid SP (byte 1 bit 0,
    /// INVALID FIELD IN CDB, what SPC-5 MODE SELECT asks of a logical unit without saved
    /// pages) and PF = 0 with pages present an invalid PF (byte 1 bit 4, as LIO does).
    ///
    /// Lenient on purpose: MEDIUM TYPE, the device-specific parameter and the reserved header
    /// bits are ignored (Linux has sent back what it read), and so is the block descriptor's
    /// NUMBER OF LOGICAL BLOCKS (it only matters to a FORMAT UNIT this target does not do).
    /// A page given twice is applied twice, in order.
    pub fn select(
        &self,
        ten: bool,
        pf: bool,
        sp: bool,
        parameter_list: &[u8],
        device: &BlockDeviceInfo,
    ) -> Result<ModePages> {
        let what = if ten {
            "MODE SELECT(10)"
        } else {
            "MODE SELECT(6)"
        };
        let list = parameter_list;
        let len_err = || Error::ParameterListLength {
            what,
            len: list.len(),
        };
        if sp {
            return Err(Error::InvalidField {
                what,
                field: "SP",
                pointer: FieldPointer::cdb_bit(1, 0),
            });
        }
        if list.is_empty() {
            return Ok(self.clone());
        }
        // Header: mode data length must be zero; block descriptor length and LONGLBA.
        let (header_len, bdl, long_lba, bdl_byte) = if ten {
            let (h, _) = ModeParameterHeader10::read_from_prefix(list).map_err(|_| len_err())?;
            if h.mode_data_length.get() != 0 {
                return Err(mode_data_length_err(what));
            }
            (
                8,
                usize::from(h.block_descriptor_length.get()),
                h.long_lba(),
                6,
            )
        } else {
            let (h, _) = ModeParameterHeader6::read_from_prefix(list).map_err(|_| len_err())?;
            if h.mode_data_length != 0 {
                return Err(mode_data_length_err(what));
            }
            (4, usize::from(h.block_descriptor_length), false, 3)
        };
        let bd_err = Error::InvalidField {
            what,
            field: "BLOCK DESCRIPTOR LENGTH",
            pointer: FieldPointer::param(bdl_byte),
        };
        let bd_len_field = match (bdl, long_lba) {
            (0, _) => None,
            (8, false) => Some(header_len + 5),
            (16, true) => Some(header_len + 12),
            _ => return Err(bd_err),
        };
        let pages_start = header_len + bdl;
        let descriptor = list.get(header_len..pages_start).ok_or_else(len_err)?;
        if let Some(at) = bd_len_field {
            let block_length = if long_lba {
                LongBlockDescriptor::read_from_prefix(descriptor)
                    .map_err(|_| len_err())?
                    .0
                    .block_length
                    .get()
            } else {
                ShortBlockDescriptor::read_from_prefix(descriptor)
                    .map_err(|_| len_err())?
                    .0
                    .block_length()
            };
            if block_length != device.block_length {
                return Err(Error::InvalidField {
                    what,
                    field: "LOGICAL BLOCK LENGTH",
                    pointer: FieldPointer::param(ptr_byte(at)),
                });
            }
        }
        if list.len() > pages_start && !pf {
            return Err(Error::InvalidField {
                what,
                field: "PF",
                pointer: FieldPointer::cdb_bit(1, 4),
            });
        }
        let mut new = self.current();
        let mut off = pages_start;
        while let Some(rest) = list.get(off..).filter(|r| !r.is_empty()) {
            let &[b0, b1, ..] = rest else {
                return Err(len_err());
            };
            if b0 & SPF != 0 {
                return Err(Error::InvalidField {
                    what,
                    field: "SPF",
                    pointer: FieldPointer::param_bit(ptr_byte(off), 6),
                });
            }
            let code = b0 & PAGE_CODE_MASK;
            let Some(page_len) = page_len(code) else {
                return Err(Error::InvalidField {
                    what,
                    field: "PAGE CODE",
                    pointer: FieldPointer::param_bit(ptr_byte(off), 5),
                });
            };
            if b0 & PS != 0 {
                return Err(Error::InvalidField {
                    what,
                    field: "PS",
                    pointer: FieldPointer::param_bit(ptr_byte(off), 7),
                });
            }
            if usize::from(b1) + 2 != page_len {
                return Err(Error::InvalidField {
                    what,
                    field: "PAGE LENGTH",
                    pointer: FieldPointer::param(ptr_byte(off + 1)),
                });
            }
            let given = rest.get(..page_len).ok_or_else(len_err)?;
            new.apply(&self.changeable, code, given, off, what)?;
            off += page_len;
        }
        let mut out = self.clone();
        out.set_current(new);
        Ok(out)
    }
}

fn page_len(code: u8) -> Option<usize> {
    match code {
        page_code::READ_WRITE_ERROR_RECOVERY => Some(ReadWriteErrorRecoveryPage::LEN),
        page_code::CACHING => Some(CachingPage::LEN),
        page_code::CONTROL => Some(ControlPage::LEN),
        page_code::INFORMATIONAL_EXCEPTIONS_CONTROL => Some(InformationalExceptionsPage::LEN),
        _ => None,
    }
}

fn unknown_page(what: &'static str) -> Error {
    Error::InvalidField {
        what,
        field: "PAGE CODE",
        pointer: FieldPointer::cdb_bit(2, 5),
    }
}

fn mode_data_length_err(what: &'static str) -> Error {
    Error::InvalidField {
        what,
        field: "MODE DATA LENGTH",
        pointer: FieldPointer::param(0),
    }
}

// ---------------------------------------------------------------------------------------------
// Mode parameter data: headers, block descriptors, the whole list
// ---------------------------------------------------------------------------------------------

/// The mode parameter header of MODE SENSE(6)/MODE SELECT(6) (SPC-5 7.5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ModeParameterHeader6 {
    /// MODE DATA LENGTH: the bytes that follow this field (reserved, zero, in MODE SELECT).
    pub mode_data_length: u8,
    /// MEDIUM TYPE (00h for a disk).
    pub medium_type: u8,
    /// Device-specific parameter: WP bit 7, DPOFUA bit 4 for a disk (SBC-4 6.5).
    pub device_specific_parameter: u8,
    /// BLOCK DESCRIPTOR LENGTH in bytes.
    pub block_descriptor_length: u8,
}
const _: () = assert!(size_of::<ModeParameterHeader6>() == 4);

impl ModeParameterHeader6 {
    /// WP: the medium is write protected.
    pub const fn write_protect(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_WP != 0
    }

    /// DPOFUA: DPO and FUA are supported.
    pub const fn dpofua(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_DPOFUA != 0
    }
}

/// The mode parameter header of MODE SENSE(10)/MODE SELECT(10) (SPC-5 7.5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ModeParameterHeader10 {
    /// MODE DATA LENGTH: the bytes that follow this field (reserved, zero, in MODE SELECT).
    pub mode_data_length: U16,
    /// MEDIUM TYPE (00h for a disk).
    pub medium_type: u8,
    /// Device-specific parameter: WP bit 7, DPOFUA bit 4 for a disk (SBC-4 6.5).
    pub device_specific_parameter: u8,
    /// Reserved bits 7..1 and LONGLBA bit 0.
    pub flags: u8,
    /// Reserved.
    pub reserved: u8,
    /// BLOCK DESCRIPTOR LENGTH in bytes.
    pub block_descriptor_length: U16,
}
const _: () = assert!(size_of::<ModeParameterHeader10>() == 8);

impl ModeParameterHeader10 {
    /// WP: the medium is write protected.
    pub const fn write_protect(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_WP != 0
    }

    /// DPOFUA: DPO and FUA are supported.
    pub const fn dpofua(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_DPOFUA != 0
    }

    /// LONGLBA: the block descriptors are 16-byte long LBA descriptors.
    pub const fn long_lba(&self) -> bool {
        self.flags & 0x01 != 0
    }
}

/// The short LBA mode parameter block descriptor (SBC-4 6.5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ShortBlockDescriptor {
    /// NUMBER OF LOGICAL BLOCKS, FFFFFFFFh if the capacity does not fit.
    pub number_of_blocks: U32,
    /// Reserved.
    pub reserved: u8,
    /// LOGICAL BLOCK LENGTH, 24 bits: see [`ShortBlockDescriptor::block_length`].
    pub block_length: [u8; 3],
}
const _: () = assert!(size_of::<ShortBlockDescriptor>() == 8);

impl ShortBlockDescriptor {
    /// The LOGICAL BLOCK LENGTH field.
    pub fn block_length(&self) -> u32 {
        u24_get(self.block_length)
    }
}

/// The long LBA mode parameter block descriptor (SBC-4 6.5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct LongBlockDescriptor {
    /// NUMBER OF LOGICAL BLOCKS.
    pub number_of_blocks: U64,
    /// Reserved.
    pub reserved: [u8; 4],
    /// LOGICAL BLOCK LENGTH.
    pub block_length: U32,
}
const _: () = assert!(size_of::<LongBlockDescriptor>() == 16);

/// One block descriptor, short or long as the header's LONGLBA says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDescriptor {
    /// NUMBER OF LOGICAL BLOCKS. In a short descriptor a value above FFFFFFFFh is emitted as
    /// FFFFFFFFh (SBC-4 6.5).
    pub number_of_blocks: u64,
    /// LOGICAL BLOCK LENGTH (at most FFFFFFh in a short descriptor).
    pub block_length: u32,
}

/// One mode page in raw form, as [`ModeParameters::pages`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawModePage<'a> {
    /// PS, parameters saveable.
    pub ps: bool,
    /// SPF: the page is in the sub_page format.
    pub spf: bool,
    /// PAGE CODE.
    pub page_code: u8,
    /// SUBPAGE CODE (00h for a page_0 format page).
    pub subpage_code: u8,
    /// The whole page, header included.
    pub bytes: &'a [u8],
}

/// Iterator over the pages of a [`ModeParameters`]; stops at the first malformed page.
#[derive(Debug, Clone)]
pub struct ModePageIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ModePageIter<'a> {
    type Item = RawModePage<'a>;

    fn next(&mut self) -> Option<RawModePage<'a>> {
        let rest = self.rest;
        let b0 = *rest.first()?;
        let spf = b0 & SPF != 0;
        let (subpage_code, len) = if spf {
            // sub_page format: SUBPAGE CODE, then a two-byte PAGE LENGTH (SPC-5 7.5.7).
            let sub = rest.get(1).copied();
            let len = rest.get(2..).and_then(|b| U16::read_from_prefix(b).ok());
            match (sub, len) {
                (Some(s), Some((l, _))) => (s, usize::from(l.get()) + 4),
                _ => (0, usize::MAX),
            }
        } else {
            (0, rest.get(1).map_or(usize::MAX, |&l| usize::from(l) + 2))
        };
        let Some((bytes, tail)) = rest.split_at_checked(len) else {
            self.rest = &[];
            return None;
        };
        self.rest = tail;
        Some(RawModePage {
            ps: b0 & PS != 0,
            spf,
            page_code: b0 & PAGE_CODE_MASK,
            subpage_code,
            bytes,
        })
    }
}

/// Mode parameter data as an initiator receives it from MODE SENSE (SPC-5 7.5): header,
/// block descriptors, pages. Parsed and emitted with `ten` saying whether it is the (10)
/// form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeParameters {
    /// MEDIUM TYPE.
    pub medium_type: u8,
    /// Device-specific parameter (WP, DPOFUA for a disk).
    pub device_specific_parameter: u8,
    /// LONGLBA: the descriptors are long LBA ones. Only in the (10) form.
    pub long_lba: bool,
    /// The block descriptors.
    pub block_descriptors: Vec<BlockDescriptor>,
    /// The mode pages, concatenated; see [`ModeParameters::pages`].
    pub pages: Vec<u8>,
}

impl ModeParameters {
    fn what(ten: bool) -> &'static str {
        if ten {
            "MODE SENSE(10) data"
        } else {
            "MODE SENSE(6) data"
        }
    }

    fn descriptor_len(&self) -> usize {
        if self.long_lba { 16 } else { 8 }
    }

    /// The pages, one by one.
    pub fn pages(&self) -> ModePageIter<'_> {
        ModePageIter { rest: &self.pages }
    }

    /// WP: the medium is write protected.
    pub const fn write_protect(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_WP != 0
    }

    /// DPOFUA: DPO and FUA are supported.
    pub const fn dpofua(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_DPOFUA != 0
    }

    /// Parses MODE SENSE(6) (`ten` false) or MODE SENSE(10) data. Reads MODE DATA LENGTH
    /// bytes after that field and ignores anything further; data shorter than MODE DATA
    /// LENGTH says (cut by the allocation length) is [`Error::Truncated`]. The pages must
    /// exactly fill what remains after the block descriptors.
    pub fn parse(buf: &[u8], ten: bool) -> Result<Self> {
        let what = Self::what(ten);
        let header_len = if ten { 8 } else { 4 };
        check_len(what, Location::Data, buf, header_len)?;
        let (data_len, medium_type, dsp, long_lba, bdl, bdl_byte) = if ten {
            let (h, _) = ModeParameterHeader10::read_from_prefix(buf)
                .map_err(|_| layout_err(what, header_len, buf.len()))?;
            let len = usize::from(h.mode_data_length.get()) + 2;
            let bdl = usize::from(h.block_descriptor_length.get());
            (
                len,
                h.medium_type,
                h.device_specific_parameter,
                h.long_lba(),
                bdl,
                6,
            )
        } else {
            let (h, _) = ModeParameterHeader6::read_from_prefix(buf)
                .map_err(|_| layout_err(what, header_len, buf.len()))?;
            let len = usize::from(h.mode_data_length) + 1;
            let bdl = usize::from(h.block_descriptor_length);
            (
                len,
                h.medium_type,
                h.device_specific_parameter,
                false,
                bdl,
                3,
            )
        };
        if data_len < header_len {
            return Err(Error::InvalidField {
                what,
                field: "MODE DATA LENGTH",
                pointer: FieldPointer::data(0, None),
            });
        }
        check_len(what, Location::Data, buf, data_len)?;
        let data = &buf[..data_len];
        let desc_len = if long_lba { 16 } else { 8 };
        let bd_err = Error::InvalidField {
            what,
            field: "BLOCK DESCRIPTOR LENGTH",
            pointer: FieldPointer::data(bdl_byte, None),
        };
        let pages_start = header_len + bdl;
        let descriptors = data.get(header_len..pages_start).ok_or(bd_err)?;
        if bdl % desc_len != 0 {
            return Err(bd_err);
        }
        let mut block_descriptors = Vec::with_capacity(bdl / desc_len);
        for d in descriptors.chunks_exact(desc_len) {
            let bd = if long_lba {
                let (l, _) = LongBlockDescriptor::read_from_prefix(d)
                    .map_err(|_| layout_err(what, desc_len, d.len()))?;
                BlockDescriptor {
                    number_of_blocks: l.number_of_blocks.get(),
                    block_length: l.block_length.get(),
                }
            } else {
                let (s, _) = ShortBlockDescriptor::read_from_prefix(d)
                    .map_err(|_| layout_err(what, desc_len, d.len()))?;
                BlockDescriptor {
                    number_of_blocks: u64::from(s.number_of_blocks.get()),
                    block_length: s.block_length(),
                }
            };
            block_descriptors.push(bd);
        }
        let pages = data.get(pages_start..).unwrap_or_default();
        let mut iter = ModePageIter { rest: pages };
        let mut consumed = 0usize;
        for p in iter.by_ref() {
            consumed += p.bytes.len();
        }
        if consumed != pages.len() {
            return Err(Error::InvalidField {
                what,
                field: "PAGE LENGTH",
                pointer: FieldPointer::data(ptr_byte(pages_start + consumed + 1), None),
            });
        }
        Ok(ModeParameters {
            medium_type,
            device_specific_parameter: dsp,
            long_lba,
            block_descriptors,
            pages: pages.to_vec(),
        })
    }

    /// The number of bytes [`ModeParameters::emit`] writes.
    pub fn buffer_len(&self, ten: bool) -> usize {
        let header_len = if ten { 8 } else { 4 };
        self.block_descriptors
            .len()
            .saturating_mul(self.descriptor_len())
            .saturating_add(header_len)
            .saturating_add(self.pages.len())
    }

    /// Emits the data in the (6) or (10) form, returning the length written. Errors when a
    /// length does not fit its field, when LONGLBA is asked of the (6) form, or when a short
    /// descriptor's block length exceeds 24 bits.
    pub fn emit(&self, ten: bool, buf: &mut [u8]) -> Result<usize> {
        let what = Self::what(ten);
        let total = self.buffer_len(ten);
        let header_len = if ten { 8 } else { 4 };
        let bdl = self
            .block_descriptors
            .len()
            .saturating_mul(self.descriptor_len());
        let too_long = |field, byte| Error::InvalidField {
            what,
            field,
            pointer: FieldPointer::data(byte, None),
        };
        check_out(what, buf, total)?;
        if ten {
            let h = ModeParameterHeader10 {
                mode_data_length: U16::new(
                    u16::try_from(total - 2).map_err(|_| too_long("MODE DATA LENGTH", 0))?,
                ),
                medium_type: self.medium_type,
                device_specific_parameter: self.device_specific_parameter,
                flags: u8::from(self.long_lba),
                reserved: 0,
                block_descriptor_length: U16::new(
                    u16::try_from(bdl).map_err(|_| too_long("BLOCK DESCRIPTOR LENGTH", 6))?,
                ),
            };
            h.write_to_prefix(buf)
                .map_err(|_| too_long("MODE DATA LENGTH", 0))?;
        } else {
            if self.long_lba {
                return Err(too_long("LONGLBA", 0));
            }
            let h = ModeParameterHeader6 {
                mode_data_length: u8::try_from(total - 1)
                    .map_err(|_| too_long("MODE DATA LENGTH", 0))?,
                medium_type: self.medium_type,
                device_specific_parameter: self.device_specific_parameter,
                block_descriptor_length: u8::try_from(bdl)
                    .map_err(|_| too_long("BLOCK DESCRIPTOR LENGTH", 3))?,
            };
            h.write_to_prefix(buf)
                .map_err(|_| too_long("MODE DATA LENGTH", 0))?;
        }
        let mut off = header_len;
        for bd in &self.block_descriptors {
            let out = buf.get_mut(off..).unwrap_or_default();
            let written = if self.long_lba {
                LongBlockDescriptor {
                    number_of_blocks: U64::new(bd.number_of_blocks),
                    reserved: [0; 4],
                    block_length: U32::new(bd.block_length),
                }
                .write_to_prefix(out)
                .is_ok()
            } else {
                if bd.block_length > 0x00FF_FFFF {
                    return Err(too_long("LOGICAL BLOCK LENGTH", ptr_byte(off + 5)));
                }
                ShortBlockDescriptor {
                    number_of_blocks: U32::new(
                        u32::try_from(bd.number_of_blocks).unwrap_or(u32::MAX),
                    ),
                    reserved: 0,
                    block_length: u24_set(bd.block_length),
                }
                .write_to_prefix(out)
                .is_ok()
            };
            if !written {
                return Err(too_long("BLOCK DESCRIPTOR LENGTH", 0));
            }
            off += self.descriptor_len();
        }
        let end = off.saturating_add(self.pages.len());
        let out = buf
            .get_mut(off..end)
            .ok_or(too_long("MODE DATA LENGTH", 0))?;
        out.copy_from_slice(&self.pages);
        Ok(end)
    }

    /// Emits into a new vector of exactly [`ModeParameters::buffer_len`] bytes.
    pub fn to_vec(&self, ten: bool) -> Result<Vec<u8>> {
        let mut v = vec![0; self.buffer_len(ten)];
        let n = self.emit(ten, &mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_roundtrip;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// 2 Mi blocks of 512 bytes, writable, DPO/FUA supported.
    const DEV: BlockDeviceInfo = BlockDeviceInfo {
        number_of_blocks: 0x0020_0000,
        block_length: 512,
        write_protect: false,
        dpofua: true,
    };

    // Default pages, byte by byte from the SBC-4 Read-Write Error Recovery and Caching and the
    // SPC-5 Control and Informational Exceptions Control page tables, with the values
    // documented on each page type.
    const RWER_DEFAULT: [u8; 12] = [0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const CACHING_WCE: [u8; 20] = [
        0x08, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    const CONTROL_DEFAULT: [u8; 12] = [
        0x0A, 0x0A, 0x02, 0x10, 0x00, 0x40, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x1E,
    ];
    const IEC_DEFAULT: [u8; 12] = [0x1C, 0x0A, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
    /// Short block descriptor of DEV: 0x200000 blocks, 512 bytes.
    const DEV_SHORT_BD: [u8; 8] = [0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00];

    fn req(ten: bool, dbd: bool, pc: PageControl, page_code: u8) -> ModeSenseRequest {
        ModeSenseRequest {
            ten,
            dbd,
            llbaa: false,
            pc,
            page_code,
            subpage_code: 0,
        }
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn invalid(what: &'static str, field: &'static str, pointer: FieldPointer) -> Error {
        Error::InvalidField {
            what,
            field,
            pointer,
        }
    }

    #[test]
    fn default_pages_bytes() {
        assert_eq!(ReadWriteErrorRecoveryPage::default().to_vec(), RWER_DEFAULT);
        assert_eq!(CachingPage::default().to_vec(), CACHING_WCE);
        let mut no_wce = CACHING_WCE;
        no_wce[2] = 0;
        assert_eq!(CachingPage::new(false).to_vec(), no_wce);
        assert_eq!(ControlPage::default().to_vec(), CONTROL_DEFAULT);
        assert_eq!(InformationalExceptionsPage::default().to_vec(), IEC_DEFAULT);
        // And back.
        assert_eq!(
            ControlPage::parse(&CONTROL_DEFAULT),
            Ok(ControlPage::default())
        );
        assert_eq!(
            InformationalExceptionsPage::parse(&IEC_DEFAULT),
            Ok(InformationalExceptionsPage::default())
        );
    }

    #[test]
    fn rwer_decode_every_field() {
        let b = [
            0x81, 0x0A, 0xC1, 0x05, 0xAA, 0xBB, 0xCC, 0x80, 0x07, 0x00, 0x27, 0x10,
        ];
        let p = ReadWriteErrorRecoveryPage::parse(&b).unwrap();
        assert!(p.ps && p.awre && p.arre && p.dcr);
        assert!(!p.tb && !p.rc && !p.eer && !p.per && !p.dte);
        assert_eq!(p.read_retry_count, 5);
        assert_eq!(p.write_retry_count, 7);
        assert_eq!(p.recovery_time_limit, 10_000);
        assert_eq!(p.other, [0, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0x80, 0, 0, 0, 0]);
        assert_eq!(p.to_vec(), b);
    }

    #[test]
    fn caching_decode_every_field() {
        let b = [
            0x88, 0x12, 0xA5, 0x3C, 0x12, 0x34, 0x00, 0x40, 0xFF, 0xFE, 0x01, 0x02, 0xBB, 0x10,
            0x80, 0x00, 0x5A, 0xAA, 0xBB, 0xCC,
        ];
        let p = CachingPage::parse(&b).unwrap();
        assert!(p.ps);
        assert!(p.ic && !p.abpf && p.cap && !p.disc && !p.size && p.wce && !p.mf && p.rcd);
        assert_eq!(p.demand_read_retention_priority, 3);
        assert_eq!(p.write_retention_priority, 0xC);
        assert_eq!(p.disable_prefetch_transfer_length, 0x1234);
        assert_eq!(p.minimum_prefetch, 0x0040);
        assert_eq!(p.maximum_prefetch, 0xFFFE);
        assert_eq!(p.maximum_prefetch_ceiling, 0x0102);
        assert!(p.fsw && !p.lbcss && p.dra && p.nv_dis);
        assert_eq!(p.number_of_cache_segments, 0x10);
        assert_eq!(p.cache_segment_size, 0x8000);
        let mut other = [0u8; 20];
        other[12] = 0x1A;
        other[16] = 0x5A;
        other[17..].copy_from_slice(&[0xAA, 0xBB, 0xCC]);
        assert_eq!(p.other, other);
        assert_eq!(p.to_vec(), b);
    }

    #[test]
    fn control_decode_every_field() {
        let b = [
            0x0A, 0x0A, 0x65, 0x1B, 0xFA, 0xDD, 0x12, 0x34, 0x01, 0x02, 0x0E, 0x10,
        ];
        let p = ControlPage::parse(&b).unwrap();
        assert!(!p.ps);
        assert_eq!(p.tst, 3);
        assert!(!p.tmf_only && !p.dpicz && p.d_sense && !p.gltsd && p.rlec);
        assert_eq!(p.queue_algorithm_modifier, 1);
        assert!(p.nuar);
        assert_eq!(p.qerr, 1);
        assert!(p.rac && p.swp);
        assert_eq!(p.ua_intlck_ctrl, 3);
        assert!(p.ato && p.tas && !p.atmpe && p.rwwp && p.sblp);
        assert_eq!(p.autoload_mode, 5);
        assert_eq!(p.busy_timeout_period, 0x0102);
        assert_eq!(p.extended_self_test_completion_time, 3600);
        assert_eq!(p.other, [0, 0, 0, 0x01, 0x82, 0, 0x12, 0x34, 0, 0, 0, 0]);
        assert_eq!(p.to_vec(), b);
    }

    #[test]
    fn iec_decode_every_field() {
        let b = [
            0x1C, 0x0A, 0xFF, 0x56, 0x00, 0x00, 0x0B, 0xB8, 0x00, 0x00, 0x00, 0x01,
        ];
        let p = InformationalExceptionsPage::parse(&b).unwrap();
        assert!(p.perf && p.ebf && p.ewasc && p.dexcpt && p.test && p.ebackerr && p.logerr);
        assert_eq!(p.mrie, 6);
        assert_eq!(p.interval_timer, 3000);
        assert_eq!(p.report_count, 1);
        assert_eq!(p.other, [0, 0, 0x40, 0x50, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.to_vec(), b);
    }

    #[test]
    fn page_parse_rejects_wrong_header() {
        let mut b = CACHING_WCE;
        b[0] = 0x0A;
        assert_eq!(
            CachingPage::parse(&b),
            Err(invalid(
                "Caching mode page",
                "PAGE CODE",
                FieldPointer::data(0, Some(5))
            ))
        );
        b[0] = 0x48;
        assert_eq!(
            CachingPage::parse(&b),
            Err(invalid(
                "Caching mode page",
                "SPF",
                FieldPointer::data(0, Some(6))
            ))
        );
        b[0] = 0x08;
        b[1] = 0x0A;
        assert_eq!(
            CachingPage::parse(&b),
            Err(invalid(
                "Caching mode page",
                "PAGE LENGTH",
                FieldPointer::data(1, None)
            ))
        );
        assert!(matches!(
            CachingPage::parse(&CACHING_WCE[..19]),
            Err(Error::Truncated { needed: 20, .. })
        ));
        assert!(ControlPage::parse(&[]).is_err());
        // Emit into a short buffer fails.
        assert!(ControlPage::default().emit(&mut [0u8; 11]).is_err());
    }

    #[test]
    fn emit_ignores_named_bits_in_other() {
        let p = ControlPage {
            other: [0xFF; 12],
            ..ControlPage::default()
        };
        let b = p.to_vec();
        // Named fields come from the fields; only unnamed bits come from `other`.
        assert_eq!(
            b,
            [
                0x0A, 0x0A, 0x02, 0x11, 0x87, 0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x1E
            ]
        );
    }

    #[test]
    fn page_control_bits() {
        for v in 0..4u8 {
            assert_eq!(PageControl::from_bits(v).bits(), v);
        }
        assert_eq!(PageControl::from_bits(0x41), PageControl::Changeable);
        assert_eq!(PageControl::from_bits(3), PageControl::Saved);
    }

    #[test]
    fn sense6_caching_with_and_without_block_descriptor() {
        let m = ModePages::default();
        let with_bd = m
            .sense(
                &req(false, false, PageControl::Current, page_code::CACHING),
                &DEV,
            )
            .unwrap();
        assert_eq!(
            with_bd,
            cat(&[&[0x1F, 0x00, 0x10, 0x08], &DEV_SHORT_BD, &CACHING_WCE])
        );
        let dbd = m
            .sense(
                &req(false, true, PageControl::Current, page_code::CACHING),
                &DEV,
            )
            .unwrap();
        assert_eq!(dbd, cat(&[&[0x17, 0x00, 0x10, 0x00], &CACHING_WCE]));
    }

    #[test]
    fn sense10_caching_short_and_without_descriptor() {
        let m = ModePages::default();
        let d = m
            .sense(
                &req(true, false, PageControl::Current, page_code::CACHING),
                &DEV,
            )
            .unwrap();
        assert_eq!(
            d,
            cat(&[
                &[0x00, 0x22, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08],
                &DEV_SHORT_BD,
                &CACHING_WCE
            ])
        );
        let d = m
            .sense(
                &req(true, true, PageControl::Current, page_code::CACHING),
                &DEV,
            )
            .unwrap();
        assert_eq!(
            d,
            cat(&[
                &[0x00, 0x1A, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00],
                &CACHING_WCE
            ])
        );
    }

    #[test]
    fn sense10_llbaa_long_descriptor_and_wp() {
        let dev = BlockDeviceInfo {
            number_of_blocks: 0x1_2345_6789,
            block_length: 4096,
            write_protect: true,
            dpofua: false,
        };
        let mut r = req(true, false, PageControl::Current, page_code::CACHING);
        r.llbaa = true;
        let d = ModePages::default().sense(&r, &dev).unwrap();
        assert_eq!(
            d,
            cat(&[
                &[0x00, 0x2A, 0x00, 0x80, 0x01, 0x00, 0x00, 0x10],
                &[
                    0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0x00, 0x00, 0x00, 0x00, 0x00,
                    0x00, 0x10, 0x00
                ],
                &CACHING_WCE
            ])
        );
        // The same capacity in a short descriptor saturates (SBC-4 6.5).
        r.llbaa = false;
        let d = ModePages::default().sense(&r, &dev).unwrap();
        assert_eq!(
            &d[..16],
            &[
                0x00, 0x22, 0x00, 0x80, 0x00, 0x00, 0x00, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00,
                0x10, 0x00
            ]
        );
        // LLBAA is not a MODE SENSE(6) bit.
        r.ten = false;
        r.llbaa = true;
        let d = ModePages::default().sense(&r, &dev).unwrap();
        assert_eq!(&d[..8], &[0x1F, 0x00, 0x80, 0x08, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn sense_all_pages_in_order() {
        let m = ModePages::default();
        let d = m
            .sense(
                &req(false, true, PageControl::Current, page_code::ALL_PAGES),
                &DEV,
            )
            .unwrap();
        let expected = cat(&[
            &[0x3B, 0x00, 0x10, 0x00],
            &RWER_DEFAULT,
            &CACHING_WCE,
            &CONTROL_DEFAULT,
            &IEC_DEFAULT,
        ]);
        assert_eq!(d.len(), 60);
        assert_eq!(d, expected);

        let mut r = req(true, false, PageControl::Current, page_code::ALL_PAGES);
        r.subpage_code = page_code::ALL_SUBPAGES;
        let d = m.sense(&r, &DEV).unwrap();
        assert_eq!(d.len(), 72);
        assert_eq!(&d[..8], &[0x00, 0x46, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08]);
        let parsed = ModeParameters::parse(&d, true).unwrap();
        assert_eq!(
            parsed.block_descriptors,
            [BlockDescriptor {
                number_of_blocks: 0x20_0000,
                block_length: 512
            }]
        );
        assert!(parsed.dpofua() && !parsed.write_protect() && !parsed.long_lba);
        let codes: Vec<u8> = parsed.pages().map(|p| p.page_code).collect();
        assert_eq!(codes, [0x01, 0x08, 0x0A, 0x1C]);
        assert_eq!(parsed.pages, &d[16..]);
    }

    #[test]
    fn sense_changeable_returns_masks() {
        let m = ModePages::default();
        let d = m
            .sense(
                &req(false, true, PageControl::Changeable, page_code::ALL_PAGES),
                &DEV,
            )
            .unwrap();
        let mut caching_mask = [0u8; 20];
        caching_mask[..3].copy_from_slice(&[0x08, 0x12, 0x04]);
        let expected = cat(&[
            &[0x3B, 0x00, 0x10, 0x00],
            &[0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &caching_mask,
            &[0x0A, 0x0A, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x1C, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]);
        assert_eq!(d, expected);
        // WCE fixed: the caching mask is all zero.
        let fixed = ModePages::new(false, false);
        assert_eq!(
            fixed.page(page_code::CACHING, PageControl::Changeable),
            Ok(cat(&[&[0x08, 0x12], &[0u8; 18]]))
        );
        assert_eq!(
            fixed.page(page_code::CONTROL, PageControl::Default),
            Ok(CONTROL_DEFAULT.to_vec())
        );
    }

    #[test]
    fn sense_errors() {
        let m = ModePages::default();
        let e = m
            .sense(&req(false, false, PageControl::Current, 0x19), &DEV)
            .unwrap_err();
        assert_eq!(
            e,
            invalid("MODE SENSE(6)", "PAGE CODE", FieldPointer::cdb_bit(2, 5))
        );
        let mut r = req(true, false, PageControl::Current, page_code::CACHING);
        r.subpage_code = 0x01;
        assert_eq!(
            m.sense(&r, &DEV),
            Err(invalid(
                "MODE SENSE(10)",
                "SUBPAGE CODE",
                FieldPointer::cdb(3)
            ))
        );
        r.page_code = page_code::ALL_PAGES;
        assert_eq!(
            m.sense(&r, &DEV),
            Err(invalid(
                "MODE SENSE(10)",
                "SUBPAGE CODE",
                FieldPointer::cdb(3)
            ))
        );
        // Page 08h, all subpages: just page 08h.
        r.page_code = page_code::CACHING;
        r.subpage_code = page_code::ALL_SUBPAGES;
        let d = m.sense(&r, &DEV).unwrap();
        assert_eq!(&d[16..], &CACHING_WCE);
        // Saved values.
        let e = m
            .sense(
                &req(false, false, PageControl::Saved, page_code::CACHING),
                &DEV,
            )
            .unwrap_err();
        assert!(is_saving_parameters_not_supported(&e));
        assert!(is_saving_parameters_not_supported(
            &m.page(page_code::CONTROL, PageControl::Saved).unwrap_err()
        ));
        assert!(!is_saving_parameters_not_supported(
            &m.page(0x19, PageControl::Current).unwrap_err()
        ));
        // A short descriptor cannot hold a block length above 24 bits.
        let huge = BlockDeviceInfo {
            block_length: 0x0100_0000,
            ..DEV
        };
        assert!(
            m.sense(
                &req(false, false, PageControl::Current, page_code::CACHING),
                &huge
            )
            .is_err()
        );
    }

    /// MODE SELECT(6) list: header with an 8-byte block descriptor, then `page`.
    fn list6_bd(page: &[u8]) -> Vec<u8> {
        cat(&[&[0x00, 0x00, 0x00, 0x08], &DEV_SHORT_BD, page])
    }

    #[test]
    fn select_accepts_wce_flip() {
        let m = ModePages::default();
        let mut page = CACHING_WCE;
        page[2] = 0x00;
        let new = m
            .select(false, true, false, &list6_bd(&page), &DEV)
            .unwrap();
        assert!(!new.caching.wce);
        assert_eq!(
            new.caching,
            CachingPage {
                wce: false,
                ..m.caching
            }
        );
        assert_eq!(new.control, m.control);
        assert_eq!(new.changeable, m.changeable);
        assert!(m.caching.wce, "self is untouched");
        // The current values report the change, the defaults do not.
        assert_eq!(
            new.page(page_code::CACHING, PageControl::Current),
            Ok(page.to_vec())
        );
        assert_eq!(
            new.page(page_code::CACHING, PageControl::Default),
            Ok(CACHING_WCE.to_vec())
        );
    }

    #[test]
    fn select_two_pages_in_one_list() {
        let m = ModePages::default();
        let mut caching = CACHING_WCE;
        caching[2] = 0;
        let mut control = CONTROL_DEFAULT;
        control[2] |= 0x04;
        let list = cat(&[&[0, 0, 0, 0, 0, 0, 0, 0], &control, &caching]);
        let new = m.select(true, true, false, &list, &DEV).unwrap();
        assert!(new.control.d_sense);
        assert!(!new.caching.wce);
    }

    #[test]
    fn select_rejects_non_changeable_bits() {
        let m = ModePages::default();
        let what = "MODE SELECT(6)";
        // RCD: caching page at list offset 12, page byte 2 bit 0.
        let mut page = CACHING_WCE;
        page[2] |= 0x01;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "RCD", FieldPointer::param_bit(14, 0)))
        );
        // WCE flip and RCD: the first offending bit is still RCD, WCE being changeable.
        page[2] = 0x01;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "RCD", FieldPointer::param_bit(14, 0)))
        );
        // DRA: page byte 12 bit 5 = list byte 24.
        let mut page = CACHING_WCE;
        page[12] = 0x00;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "DRA", FieldPointer::param_bit(24, 5)))
        );
        // A two-byte field is pointed at by its first byte, without a bit.
        let mut page = CACHING_WCE;
        page[9] = 0x01;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "MAXIMUM PRE-FETCH", FieldPointer::param(20)))
        );
        // A multi-bit field by its leftmost bit: QERR in a MODE SELECT(10) list, page at 8.
        let mut control = CONTROL_DEFAULT;
        control[3] |= 0x02;
        let list = cat(&[&[0; 8], &control]);
        assert_eq!(
            m.select(true, true, false, &list, &DEV),
            Err(invalid(
                "MODE SELECT(10)",
                "QERR",
                FieldPointer::param_bit(11, 2)
            ))
        );
        // A reserved bit: IEC byte 2 bit 6.
        let mut iec = IEC_DEFAULT;
        iec[2] |= 0x40;
        let list = cat(&[&[0; 4], &iec]);
        assert_eq!(
            m.select(false, true, false, &list, &DEV),
            Err(invalid(what, "reserved", FieldPointer::param_bit(6, 6)))
        );
        // WCE itself when the device cannot switch its cache.
        let fixed = ModePages::new(true, false);
        let mut page = CACHING_WCE;
        page[2] = 0;
        assert_eq!(
            fixed.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "WCE", FieldPointer::param_bit(14, 2)))
        );
        // Sending the current value of a non-changeable field is fine.
        assert!(
            fixed
                .select(false, true, false, &list6_bd(&CACHING_WCE), &DEV)
                .is_ok()
        );
    }

    #[test]
    fn select_rejects_bad_page_headers() {
        let m = ModePages::default();
        let what = "MODE SELECT(6)";
        let mut page = CACHING_WCE;
        page[0] |= 0x80;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "PS", FieldPointer::param_bit(12, 7)))
        );
        let mut page = CACHING_WCE;
        page[1] = 0x13;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "PAGE LENGTH", FieldPointer::param(13)))
        );
        let mut page = CACHING_WCE;
        page[0] = 0x48;
        assert_eq!(
            m.select(false, true, false, &list6_bd(&page), &DEV),
            Err(invalid(what, "SPF", FieldPointer::param_bit(12, 6)))
        );
        let unknown = [0x19, 0x06, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            m.select(false, true, false, &list6_bd(&unknown), &DEV),
            Err(invalid(what, "PAGE CODE", FieldPointer::param_bit(12, 5)))
        );
        // Truncated page, truncated page header.
        let list = list6_bd(&CACHING_WCE[..10]);
        assert_eq!(
            m.select(false, true, false, &list, &DEV),
            Err(Error::ParameterListLength { what, len: 22 })
        );
        let list = list6_bd(&CACHING_WCE[..1]);
        assert_eq!(
            m.select(false, true, false, &list, &DEV),
            Err(Error::ParameterListLength { what, len: 13 })
        );
        // A whole page followed by a stray byte.
        let list = cat(&[&list6_bd(&CACHING_WCE), &[0x08]]);
        assert_eq!(
            m.select(false, true, false, &list, &DEV),
            Err(Error::ParameterListLength { what, len: 33 })
        );
    }

    #[test]
    fn select_header_and_descriptor_checks() {
        let m = ModePages::default();
        let w6 = "MODE SELECT(6)";
        let w10 = "MODE SELECT(10)";
        // Empty list, header alone: no change.
        assert_eq!(m.select(false, true, false, &[], &DEV), Ok(m.clone()));
        assert_eq!(m.select(false, true, false, &[0; 4], &DEV), Ok(m.clone()));
        assert_eq!(m.select(true, false, false, &[0; 8], &DEV), Ok(m.clone()));
        assert_eq!(
            m.select(false, true, false, &DEV_SHORT_BD[..0], &DEV),
            Ok(m.clone())
        );
        // Header or descriptor cut short.
        assert_eq!(
            m.select(false, true, false, &[0, 0], &DEV),
            Err(Error::ParameterListLength { what: w6, len: 2 })
        );
        assert_eq!(
            m.select(true, true, false, &[0; 7], &DEV),
            Err(Error::ParameterListLength { what: w10, len: 7 })
        );
        assert_eq!(
            m.select(false, true, false, &[0, 0, 0, 8, 0, 0x20], &DEV),
            Err(Error::ParameterListLength { what: w6, len: 6 })
        );
        // MODE DATA LENGTH is reserved.
        assert_eq!(
            m.select(false, true, false, &[0x03, 0, 0, 0], &DEV),
            Err(invalid(w6, "MODE DATA LENGTH", FieldPointer::param(0)))
        );
        assert_eq!(
            m.select(true, true, false, &[0, 0x06, 0, 0, 0, 0, 0, 0], &DEV),
            Err(invalid(w10, "MODE DATA LENGTH", FieldPointer::param(0)))
        );
        // Block descriptor lengths.
        assert_eq!(
            m.select(false, true, false, &[0, 0, 0, 4, 0, 0, 0, 0], &DEV),
            Err(invalid(
                w6,
                "BLOCK DESCRIPTOR LENGTH",
                FieldPointer::param(3)
            ))
        );
        let short10 = cat(&[&[0, 0, 0, 0, 0, 0, 0, 16], &DEV_SHORT_BD, &DEV_SHORT_BD]);
        assert_eq!(
            m.select(true, true, false, &short10, &DEV),
            Err(invalid(
                w10,
                "BLOCK DESCRIPTOR LENGTH",
                FieldPointer::param(6)
            ))
        );
        let long_with_8 = cat(&[&[0, 0, 0, 0, 1, 0, 0, 8], &DEV_SHORT_BD]);
        assert_eq!(
            m.select(true, true, false, &long_with_8, &DEV),
            Err(invalid(
                w10,
                "BLOCK DESCRIPTOR LENGTH",
                FieldPointer::param(6)
            ))
        );
        // A long descriptor with the device's block length, then a page.
        let long_bd = [0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00];
        let mut page = CACHING_WCE;
        page[2] = 0;
        let list = cat(&[&[0, 0, 0, 0, 1, 0, 0, 16], &long_bd, &page]);
        assert!(
            !m.select(true, true, false, &list, &DEV)
                .unwrap()
                .caching
                .wce
        );
        // Block length changes are refused, short and long.
        let mut bd = DEV_SHORT_BD;
        bd[6] = 0x10;
        let list = cat(&[&[0, 0, 0, 8], &bd]);
        assert_eq!(
            m.select(false, true, false, &list, &DEV),
            Err(invalid(w6, "LOGICAL BLOCK LENGTH", FieldPointer::param(9)))
        );
        let mut bd = long_bd;
        bd[14] = 0x10;
        let list = cat(&[&[0, 0, 0, 0, 1, 0, 0, 16], &bd]);
        assert_eq!(
            m.select(true, true, false, &list, &DEV),
            Err(invalid(
                w10,
                "LOGICAL BLOCK LENGTH",
                FieldPointer::param(20)
            ))
        );
        // The number of blocks is ignored.
        let mut bd = DEV_SHORT_BD;
        bd[0] = 0xFF;
        assert!(
            m.select(false, true, false, &cat(&[&[0, 0, 0, 8], &bd]), &DEV)
                .is_ok()
        );
    }

    #[test]
    fn select_cdb_bits() {
        let m = ModePages::default();
        assert_eq!(
            m.select(false, true, true, &[0; 4], &DEV),
            Err(invalid("MODE SELECT(6)", "SP", FieldPointer::cdb_bit(1, 0)))
        );
        assert_eq!(
            m.select(true, false, false, &cat(&[&[0; 8], &CACHING_WCE]), &DEV),
            Err(invalid(
                "MODE SELECT(10)",
                "PF",
                FieldPointer::cdb_bit(1, 4)
            ))
        );
        // PF = 0 without pages is harmless.
        assert!(m.select(false, false, false, &[0; 4], &DEV).is_ok());
    }

    #[test]
    fn mode_parameters_parse_errors() {
        // MODE DATA LENGTH below the header.
        assert!(matches!(
            ModeParameters::parse(&[0x02, 0, 0, 0], false),
            Err(Error::InvalidField {
                field: "MODE DATA LENGTH",
                ..
            })
        ));
        // Cut by the allocation length.
        assert!(matches!(
            ModeParameters::parse(&[0x1F, 0, 0, 8, 0, 0], false),
            Err(Error::Truncated { needed: 32, .. })
        ));
        // Block descriptor length not a multiple of 8.
        assert!(matches!(
            ModeParameters::parse(&[0x07, 0, 0, 4, 0, 0, 0, 0], false),
            Err(Error::InvalidField {
                field: "BLOCK DESCRIPTOR LENGTH",
                ..
            })
        ));
        // A page running past the data.
        assert_eq!(
            ModeParameters::parse(&[0x05, 0, 0, 0, 0x08, 0x12], false),
            Err(invalid(
                "MODE SENSE(6) data",
                "PAGE LENGTH",
                FieldPointer::data(5, None)
            ))
        );
        // Bytes after MODE DATA LENGTH are ignored; a sub_page format page is walked.
        let d = [0x09, 0, 0x80, 0, 0x4A, 0x01, 0x00, 0x02, 0xAB, 0xCD, 0xEE];
        let p = ModeParameters::parse(&d, false).unwrap();
        assert!(p.write_protect());
        let pages: Vec<_> = p.pages().collect();
        assert_eq!(pages.len(), 1);
        assert!(pages[0].spf && !pages[0].ps);
        assert_eq!((pages[0].page_code, pages[0].subpage_code), (0x0A, 0x01));
        assert_eq!(pages[0].bytes, &d[4..10]);
        // LONGLBA cannot be emitted in the (6) form.
        let long = ModeParameters {
            long_lba: true,
            ..p
        };
        assert!(long.to_vec(false).is_err());
        assert!(long.to_vec(true).is_ok());
    }

    // --- proptest strategies ---

    fn masked<const N: usize>(mut o: [u8; N], m: &[u8; N]) -> [u8; N] {
        for (x, m) in o.iter_mut().zip(m) {
            *x &= !m;
        }
        o
    }

    fn rwer() -> impl Strategy<Value = ReadWriteErrorRecoveryPage> {
        (
            any::<bool>(),
            any::<[bool; 8]>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<[u8; 12]>(),
        )
            .prop_map(|(ps, f, rrc, wrc, rtl, other)| ReadWriteErrorRecoveryPage {
                ps,
                awre: f[0],
                arre: f[1],
                tb: f[2],
                rc: f[3],
                eer: f[4],
                per: f[5],
                dte: f[6],
                dcr: f[7],
                read_retry_count: rrc,
                write_retry_count: wrc,
                recovery_time_limit: rtl,
                other: masked(other, &RWER_MODELED),
            })
    }

    fn caching() -> impl Strategy<Value = CachingPage> {
        (
            any::<bool>(),
            any::<[bool; 8]>(),
            (0..16u8, 0..16u8),
            any::<[u16; 4]>(),
            any::<[bool; 4]>(),
            any::<u8>(),
            any::<u16>(),
            any::<[u8; 20]>(),
        )
            .prop_map(|(ps, f, (drrp, wrp), pf, g, ncs, css, other)| CachingPage {
                ps,
                ic: f[0],
                abpf: f[1],
                cap: f[2],
                disc: f[3],
                size: f[4],
                wce: f[5],
                mf: f[6],
                rcd: f[7],
                demand_read_retention_priority: drrp,
                write_retention_priority: wrp,
                disable_prefetch_transfer_length: pf[0],
                minimum_prefetch: pf[1],
                maximum_prefetch: pf[2],
                maximum_prefetch_ceiling: pf[3],
                fsw: g[0],
                lbcss: g[1],
                dra: g[2],
                nv_dis: g[3],
                number_of_cache_segments: ncs,
                cache_segment_size: css,
                other: masked(other, &CACHING_MODELED),
            })
    }

    fn control() -> impl Strategy<Value = ControlPage> {
        (
            (any::<bool>(), 0..8u8, any::<[bool; 5]>()),
            (0..16u8, any::<bool>(), 0..4u8),
            (any::<bool>(), 0..4u8, any::<bool>()),
            (any::<[bool; 5]>(), 0..8u8),
            any::<[u16; 2]>(),
            any::<[u8; 12]>(),
        )
            .prop_map(
                |((ps, tst, b2), (qam, nuar, qerr), (rac, ua, swp), (b5, al), t, other)| {
                    ControlPage {
                        ps,
                        tst,
                        tmf_only: b2[0],
                        dpicz: b2[1],
                        d_sense: b2[2],
                        gltsd: b2[3],
                        rlec: b2[4],
                        queue_algorithm_modifier: qam,
                        nuar,
                        qerr,
                        rac,
                        ua_intlck_ctrl: ua,
                        swp,
                        ato: b5[0],
                        tas: b5[1],
                        atmpe: b5[2],
                        rwwp: b5[3],
                        sblp: b5[4],
                        autoload_mode: al,
                        busy_timeout_period: t[0],
                        extended_self_test_completion_time: t[1],
                        other: masked(other, &CONTROL_MODELED),
                    }
                },
            )
    }

    fn iec() -> impl Strategy<Value = InformationalExceptionsPage> {
        (
            any::<bool>(),
            any::<[bool; 7]>(),
            0..16u8,
            any::<u32>(),
            any::<u32>(),
            any::<[u8; 12]>(),
        )
            .prop_map(|(ps, f, mrie, it, rc, other)| InformationalExceptionsPage {
                ps,
                perf: f[0],
                ebf: f[1],
                ewasc: f[2],
                dexcpt: f[3],
                test: f[4],
                ebackerr: f[5],
                logerr: f[6],
                mrie,
                interval_timer: it,
                report_count: rc,
                other: masked(other, &IEC_MODELED),
            })
    }

    fn page_set() -> impl Strategy<Value = PageSet> {
        (rwer(), caching(), control(), iec()).prop_map(|(a, b, c, d)| PageSet {
            read_write_error_recovery: a,
            caching: b,
            control: c,
            informational_exceptions: d,
        })
    }

    /// `cur` with the bits of `flips` that `mask` allows flipped, in page bytes 2.. .
    fn mutate<P: Page + Wire>(cur: &P, mask: &P, flips: &P) -> P {
        let (mut c, m, f) = (cur.to_vec(), mask.to_vec(), flips.to_vec());
        for i in 2..c.len() {
            c[i] ^= f[i] & m[i];
        }
        P::parse(&c).unwrap()
    }

    fn block_descriptor(long: bool) -> impl Strategy<Value = BlockDescriptor> {
        let (max_blocks, max_len) = if long {
            (u64::MAX, u32::MAX)
        } else {
            (u64::from(u32::MAX), 0x00FF_FFFF)
        };
        (0..=max_blocks, 0..=max_len).prop_map(|(n, l)| BlockDescriptor {
            number_of_blocks: n,
            block_length: l,
        })
    }

    /// Well-formed pages of either format, concatenated.
    fn raw_pages() -> impl Strategy<Value = Vec<u8>> {
        vec(
            (
                any::<bool>(),
                any::<u8>(),
                any::<u8>(),
                vec(any::<u8>(), 0..30),
            ),
            0..4,
        )
        .prop_map(|pages| {
            let mut out = Vec::new();
            for (spf, b0, sub, body) in pages {
                if spf {
                    out.extend_from_slice(&[b0 | SPF, sub, 0, body.len() as u8]);
                } else {
                    out.extend_from_slice(&[b0 & !SPF, body.len() as u8]);
                }
                out.extend_from_slice(&body);
            }
            out
        })
    }

    fn mode_parameters() -> impl Strategy<Value = (bool, ModeParameters)> {
        (any::<bool>(), any::<bool>())
            .prop_flat_map(|(ten, long)| {
                let long = ten && long;
                (
                    Just(ten),
                    any::<u8>(),
                    any::<u8>(),
                    Just(long),
                    vec(block_descriptor(long), 0..3),
                    raw_pages(),
                )
            })
            .prop_map(|(ten, mt, dsp, long_lba, block_descriptors, pages)| {
                (
                    ten,
                    ModeParameters {
                        medium_type: mt,
                        device_specific_parameter: dsp,
                        long_lba,
                        block_descriptors,
                        pages,
                    },
                )
            })
    }

    fn any_request() -> impl Strategy<Value = ModeSenseRequest> {
        (
            any::<[bool; 3]>(),
            0..4u8,
            prop_oneof![
                Just(0x01u8),
                Just(0x08),
                Just(0x0A),
                Just(0x1C),
                Just(0x3F),
                0..64u8
            ],
            prop_oneof![Just(0u8), Just(0xFF), any::<u8>()],
        )
            .prop_map(|(b, pc, page_code, subpage_code)| ModeSenseRequest {
                ten: b[0],
                dbd: b[1],
                llbaa: b[2],
                pc: PageControl::from_bits(pc),
                page_code,
                subpage_code,
            })
    }

    proptest! {
        #[test]
        fn rwer_roundtrip(p in rwer()) {
            assert_roundtrip(&p);
        }

        #[test]
        fn caching_roundtrip(p in caching()) {
            assert_roundtrip(&p);
        }

        #[test]
        fn control_roundtrip(p in control()) {
            assert_roundtrip(&p);
        }

        #[test]
        fn iec_roundtrip(p in iec()) {
            assert_roundtrip(&p);
        }

        /// Every byte pattern with a valid header comes back exactly.
        #[test]
        fn page_bytes_exact(b in any::<[u8; 20]>()) {
            let mut c = b;
            c[0] = (c[0] & PS) | 0x08;
            c[1] = 0x12;
            prop_assert_eq!(CachingPage::parse(&c).unwrap().to_vec(), c);
            for (code, len) in [(0x01u8, 12usize), (0x0A, 12), (0x1C, 12)] {
                let mut s = [0u8; 12];
                s.copy_from_slice(&b[..12]);
                s[0] = (s[0] & PS) | code;
                s[1] = 0x0A;
                let out = match code {
                    0x01 => ReadWriteErrorRecoveryPage::parse(&s).unwrap().to_vec(),
                    0x0A => ControlPage::parse(&s).unwrap().to_vec(),
                    _ => InformationalExceptionsPage::parse(&s).unwrap().to_vec(),
                };
                prop_assert_eq!(out.len(), len);
                prop_assert_eq!(out, s);
            }
        }

        #[test]
        fn mode_parameters_roundtrip((ten, p) in mode_parameters()) {
            let v = p.to_vec(ten).unwrap();
            prop_assert_eq!(v.len(), p.buffer_len(ten));
            prop_assert_eq!(ModeParameters::parse(&v, ten).unwrap(), p.clone());
            prop_assert!(p.emit(ten, &mut vec![0; v.len() - 1]).is_err());
        }

        /// MODE SELECT of the MODE SENSE data of a mutation the masks allow applies exactly it.
        #[test]
        fn select_of_sense_applies_the_mutation(
            cur in page_set(),
            masks in page_set(),
            flips in page_set(),
            req in any_request(),
            which in 0usize..5,
        ) {
            let mut cur = cur;
            cur.read_write_error_recovery.ps = false;
            cur.caching.ps = false;
            cur.control.ps = false;
            cur.informational_exceptions.ps = false;
            let mutated = PageSet {
                read_write_error_recovery: mutate(
                    &cur.read_write_error_recovery,
                    &masks.read_write_error_recovery,
                    &flips.read_write_error_recovery,
                ),
                caching: mutate(&cur.caching, &masks.caching, &flips.caching),
                control: mutate(&cur.control, &masks.control, &flips.control),
                informational_exceptions: mutate(
                    &cur.informational_exceptions,
                    &masks.informational_exceptions,
                    &flips.informational_exceptions,
                ),
            };
            let original = ModePages::from_sets(cur, masks);
            let mut changed = original.clone();
            changed.set_current(mutated);
            let page_code = [0x01, 0x08, 0x0A, 0x1C, 0x3F][which];
            let req = ModeSenseRequest {
                pc: PageControl::Current,
                page_code,
                subpage_code: 0,
                ..req
            };
            let mut list = changed.sense(&req, &DEV).unwrap();
            list[0] = 0;
            if req.ten {
                list[1] = 0;
            }
            let new = original.select(req.ten, true, false, &list, &DEV).unwrap();
            let mut expected = cur;
            match page_code {
                0x01 => expected.read_write_error_recovery = mutated.read_write_error_recovery,
                0x08 => expected.caching = mutated.caching,
                0x0A => expected.control = mutated.control,
                0x1C => expected.informational_exceptions = mutated.informational_exceptions,
                _ => expected = mutated,
            }
            prop_assert_eq!(new.current(), expected);
            prop_assert_eq!(new.changeable, masks);
            prop_assert_eq!(new.defaults, cur);
        }

        /// Flipping one bit the mask forbids is refused, pointing into that page.
        #[test]
        fn select_refuses_a_forbidden_bit(masks in page_set(), i in 2usize..20, b in 0u8..8) {
            let m = ModePages::from_sets(PageSet::disk_defaults(true), masks);
            let mask = masks.caching.to_vec();
            prop_assume!(mask[i] & (1 << b) == 0);
            let mut page = m.caching.to_vec();
            page[i] ^= 1 << b;
            let list = cat(&[&[0; 4], &page]);
            match m.select(false, true, false, &list, &DEV) {
                Err(Error::InvalidField { pointer, .. }) => {
                    prop_assert_eq!(pointer.location, Location::ParameterList);
                    prop_assert!(usize::from(pointer.byte) <= 4 + i);
                    prop_assert!(usize::from(pointer.byte) >= 4 + 2);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn sense_never_panics(req in any_request(), n in any::<u64>(), l in any::<u32>()) {
            let dev = BlockDeviceInfo { number_of_blocks: n, block_length: l, ..DEV };
            if let Ok(d) = ModePages::default().sense(&req, &dev) {
                let p = ModeParameters::parse(&d, req.ten).unwrap();
                prop_assert_eq!(p.block_descriptors.len(), usize::from(!req.dbd));
            }
        }

        #[test]
        fn select_never_panics(
            list in vec(any::<u8>(), 0..300),
            flags in any::<[bool; 3]>(),
        ) {
            let _ = ModePages::default().select(flags[0], flags[1], flags[2], &list, &DEV);
        }

        /// Random page bodies behind a valid header and page header, to get past the first
        /// checks into the mask comparison, with only the unnamed bits changeable.
        #[test]
        fn select_structured_never_panics(
            ten in any::<bool>(),
            which in 0usize..4,
            body in vec(any::<u8>(), 0..40),
        ) {
            let code = ModePages::SUPPORTED_PAGES[which];
            let len = page_len(code).unwrap();
            let mut list = vec![0u8; if ten { 8 } else { 4 }];
            list.extend_from_slice(&[code, (len - 2) as u8]);
            list.extend_from_slice(&body);
            let mut all = PageSet::cleared();
            all.read_write_error_recovery.other = [0xFF; 12];
            all.caching.other = [0xFF; 20];
            all.control.other = [0xFF; 12];
            all.informational_exceptions.other = [0xFF; 12];
            let m = ModePages::from_sets(PageSet::disk_defaults(true), all);
            let r = m.select(ten, true, false, &list, &DEV);
            if body.len() == len - 2 {
                // Unnamed bits changeable but named ones not: only an all-unnamed change passes.
                if let Ok(new) = r {
                    prop_assert_eq!(new.changeable, all);
                }
            } else if body.len() < len - 2 {
                let short = matches!(r, Err(Error::ParameterListLength { .. }));
                prop_assert!(short);
            }
        }

        #[test]
        fn mode_parameters_parse_never_panics(
            buf in vec(any::<u8>(), 0..300),
            ten in any::<bool>(),
        ) {
            if let Ok(p) = ModeParameters::parse(&buf, ten) {
                let v = p.to_vec(ten).unwrap();
                prop_assert_eq!(ModeParameters::parse(&v, ten).unwrap(), p.clone());
                let total: usize = p.pages().map(|pg| pg.bytes.len()).sum();
                prop_assert_eq!(total, p.pages.len());
            }
        }

        #[test]
        fn page_parsers_never_panic(buf in vec(any::<u8>(), 0..300)) {
            if let Ok(p) = ReadWriteErrorRecoveryPage::parse(&buf) {
                prop_assert_eq!(&p.to_vec()[..], &buf[..12]);
            }
            if let Ok(p) = CachingPage::parse(&buf) {
                prop_assert_eq!(&p.to_vec()[..], &buf[..20]);
            }
            if let Ok(p) = ControlPage::parse(&buf) {
                prop_assert_eq!(&p.to_vec()[..], &buf[..12]);
            }
            if let Ok(p) = InformationalExceptionsPage::parse(&buf) {
                prop_assert_eq!(&p.to_vec()[..], &buf[..12]);
            }
            let _ = (ModePageIter { rest: &buf }).count();
        }
    }
}
