//! Standard INQUIRY data and the vital product data (VPD) pages of a disk: SPC-5 6.7 (INQUIRY),
//! 7.7 (VPD parameters) and SBC-4 6.6 (block device VPD pages).
//!
//! - [`StandardInquiry`]: the standard INQUIRY data (SPC-5 Table 148), with its ASCII
//!   identification fields held as [`AsciiField`]s.
//! - One owned representation per VPD page a modern disk reports: [`SupportedVpdPages`] (00h),
//!   [`UnitSerialNumber`] (80h), [`DeviceIdentification`] (83h) made of [`Designator`]s,
//!   [`ExtendedInquiryData`] (86h), [`BlockLimits`] (B0h), [`BlockDeviceCharacteristics`] (B1h)
//!   and [`LogicalBlockProvisioning`] (B2h); [`VpdPage`] dispatches on the page code.
//!
//! Every VPD page starts with the same 4-byte header (SPC-5 7.7.1, Table 562): peripheral
//! qualifier and device type, PAGE CODE, and a 2-byte PAGE LENGTH counting the bytes after the
//! header. `parse` checks the page code and that the buffer holds PAGE LENGTH bytes; `emit`
//! writes the header with the page length.
//!
//! The pages with a fixed length of 3Ch (86h, B0h, B1h) are parsed leniently: a shorter page is
//! read as if the missing bytes were zero (LIO itself returns a Block Limits page of length 10h
//! when thin provisioning is off, and older devices return SBC-2's shorter pages), and bytes past
//! 3Ch are ignored. They are always emitted with PAGE LENGTH 3Ch.
//!
//! Errors carry [`Location::Data`] pointers: this is data a device sends, so a field pointer is
//! for logs and tests, not for sense data.

use crate::Wire;
use crate::error::{Error, FieldPointer, Location, Result, check_len, check_out};
use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

/// PERIPHERAL DEVICE TYPE of a direct access block device (SPC-5 Table 149).
pub const DEVICE_TYPE_DISK: u8 = 0x00;
/// PERIPHERAL DEVICE TYPE "unknown or no device type" (SPC-5 Table 149), used with peripheral
/// qualifier 3h for a LUN that does not exist.
pub const DEVICE_TYPE_UNKNOWN: u8 = 0x1F;

/// PERIPHERAL QUALIFIER 000b: a device of the indicated type is connected (SPC-5 Table 147).
pub const QUALIFIER_CONNECTED: u8 = 0b000;
/// PERIPHERAL QUALIFIER 001b: the device type is supported but no device is connected now.
pub const QUALIFIER_NOT_CONNECTED: u8 = 0b001;
/// PERIPHERAL QUALIFIER 011b: the device server cannot support a device on this logical unit.
pub const QUALIFIER_NOT_SUPPORTED: u8 = 0b011;

/// VERSION 05h: the device claims SPC-3 (what LIO reported before Linux 4.x).
pub const VERSION_SPC3: u8 = 0x05;
/// VERSION 06h: the device claims SPC-4 (what LIO reports today).
pub const VERSION_SPC4: u8 = 0x06;
/// VERSION 07h: the device claims SPC-5 (SPC-5 Table 150, "VERSION field").
pub const VERSION_SPC5: u8 = 0x07;

/// The only RESPONSE DATA FORMAT SPC-5 defines (values below 2h are obsolete, above reserved).
pub const RESPONSE_DATA_FORMAT: u8 = 2;

/// TPGS 00b: asymmetric logical unit access is not supported (SPC-5 Table 151).
pub const TPGS_NOT_SUPPORTED: u8 = 0b00;
/// TPGS 01b: only implicit ALUA.
pub const TPGS_IMPLICIT: u8 = 0b01;
/// TPGS 10b: only explicit ALUA (SET TARGET PORT GROUPS).
pub const TPGS_EXPLICIT: u8 = 0b10;
/// TPGS 11b: implicit and explicit ALUA (what LIO reports with its default port group).
pub const TPGS_BOTH: u8 = 0b11;

/// VERSION DESCRIPTOR values a LIO disk reports (SPC-5 6.7.2, Table 150 refers to T10's list of
/// version descriptor values; these are the "no version claimed" codes, checked against the
/// Linux kernel's `enum scsi_version_descriptor` in `include/scsi/scsi_proto.h` and the table in
/// sg3_utils' `sg_inq_data.c`). A version descriptor of 0000h means "none"; its low 5 bits pick
/// a revision of the standard, 0 meaning no particular one.
pub mod version_descriptor {
    /// SAM-5 (no version claimed).
    pub const SAM5: u16 = 0x00A0;
    /// SPC-4 (no version claimed).
    pub const SPC4: u16 = 0x0460;
    /// SPC-5 (no version claimed).
    pub const SPC5: u16 = 0x05C0;
    /// SBC-3 (no version claimed).
    pub const SBC3: u16 = 0x04C0;
    /// SBC-4 (no version claimed).
    pub const SBC4: u16 = 0x0600;
    /// iSCSI (no version claimed): the transport descriptor LIO's iSCSI fabric reports.
    pub const ISCSI: u16 = 0x0960;
    /// FCP-4 (no version claimed): LIO's Fibre Channel fabrics.
    pub const FCP4: u16 = 0x0A40;
    /// SAS-3 (no version claimed): LIO's SAS fabrics.
    pub const SAS3: u16 = 0x0C60;
    /// SRP (no version claimed): LIO's SRP fabric.
    pub const SRP: u16 = 0x0940;
    /// SBP-3 (no version claimed): LIO's FireWire fabric.
    pub const SBP3: u16 = 0x0980;
}

/// PROTOCOL IDENTIFIER values (SPC-5 7.6.1, Table 488), as used in designation descriptors
/// with PIV set.
pub mod protocol_identifier {
    /// Fibre Channel (FCP-4).
    pub const FCP: u8 = 0x0;
    /// Parallel SCSI (obsolete).
    pub const SPI: u8 = 0x1;
    /// SSA.
    pub const SSA: u8 = 0x2;
    /// IEEE 1394 (SBP-3).
    pub const SBP: u8 = 0x3;
    /// SCSI RDMA Protocol.
    pub const SRP: u8 = 0x4;
    /// iSCSI.
    pub const ISCSI: u8 = 0x5;
    /// SAS Serial SCSI Protocol.
    pub const SAS: u8 = 0x6;
    /// Automation/Drive Interface (ADT-2).
    pub const ADT: u8 = 0x7;
    /// AT Attachment Interface (ACS).
    pub const ATA: u8 = 0x8;
    /// USB Attached SCSI.
    pub const UAS: u8 = 0x9;
    /// SCSI over PCI Express.
    pub const SOP: u8 = 0xA;
    /// PCI Express protocols.
    pub const PCIE: u8 = 0xB;
    /// No specific protocol.
    pub const NONE: u8 = 0xF;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

fn invalid(what: &'static str, field: &'static str, pointer: FieldPointer) -> Error {
    Error::InvalidField {
        what,
        field,
        pointer,
    }
}

/// Rejects `value > max`: how `emit` refuses a field that does not fit its bits.
fn check_max(
    what: &'static str,
    field: &'static str,
    value: u64,
    max: u64,
    pointer: FieldPointer,
) -> Result<()> {
    if value > max {
        Err(invalid(what, field, pointer))
    } else {
        Ok(())
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    u8::from(set) << bit
}

fn is_set(byte: u8, bit: u8) -> bool {
    (byte >> bit) & 1 == 1
}

/// A byte offset as a field pointer byte; offsets past 65535 cannot happen in INQUIRY data (its
/// ALLOCATION LENGTH is 16 bits) but saturate rather than wrap.
fn offset16(off: usize) -> u16 {
    u16::try_from(off).unwrap_or(u16::MAX)
}

/// Moves an error's field pointer by `off` bytes, for a structure parsed inside a larger one.
fn shift_err(e: Error, off: usize) -> Error {
    match e {
        Error::InvalidField {
            what,
            field,
            pointer,
        } => Error::InvalidField {
            what,
            field,
            pointer: pointer.shifted(offset16(off)),
        },
        other => other,
    }
}

fn data_ptr(byte: usize, bit: Option<u8>) -> FieldPointer {
    FieldPointer::data(offset16(byte), bit)
}

/// SPC-5 4.3.1: ASCII data fields hold only the printable characters 20h..=7Eh.
fn is_printable(c: u8) -> bool {
    (0x20..=0x7E).contains(&c)
}

/// SPC-5 4.3.1: printable ASCII, optionally terminated by one or more NULs (and nothing after).
fn is_ascii_data(bytes: &[u8]) -> bool {
    let mut in_nul_tail = false;
    for &c in bytes {
        if c == 0 {
            in_nul_tail = true;
        } else if in_nul_tail || !is_printable(c) {
            return false;
        }
    }
    true
}

/// The text of validated ASCII data, without its NUL terminator. Never fails for bytes that
/// passed [`is_ascii_data`]; anything else reads as empty rather than panicking.
fn ascii_text(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes)
        .unwrap_or("")
        .trim_end_matches('\0')
}

// ---------------------------------------------------------------------------------------------
// Peripheral qualifier / device type
// ---------------------------------------------------------------------------------------------

/// Byte 0 of standard INQUIRY data and of every VPD page: PERIPHERAL QUALIFIER (bits 7..5) and
/// PERIPHERAL DEVICE TYPE (bits 4..0) (SPC-5 6.7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peripheral {
    /// PERIPHERAL QUALIFIER, 3 bits (`QUALIFIER_*`).
    pub qualifier: u8,
    /// PERIPHERAL DEVICE TYPE, 5 bits ([`DEVICE_TYPE_DISK`]...).
    pub device_type: u8,
}

impl Peripheral {
    /// A connected direct access block device: qualifier 000b, device type 00h.
    pub const DISK: Peripheral = Peripheral {
        qualifier: QUALIFIER_CONNECTED,
        device_type: DEVICE_TYPE_DISK,
    };

    /// What a device server reports for a LUN it does not have (SPC-5 6.7.2): qualifier 011b,
    /// device type 1Fh.
    pub const NO_LUN: Peripheral = Peripheral {
        qualifier: QUALIFIER_NOT_SUPPORTED,
        device_type: DEVICE_TYPE_UNKNOWN,
    };

    /// Splits byte 0.
    pub const fn from_byte(byte: u8) -> Self {
        Peripheral {
            qualifier: byte >> 5,
            device_type: byte & 0x1F,
        }
    }

    /// Builds byte 0, or `None` if a field does not fit its bits.
    pub const fn to_byte(self) -> Option<u8> {
        if self.qualifier > 0b111 || self.device_type > 0x1F {
            None
        } else {
            Some((self.qualifier << 5) | self.device_type)
        }
    }

    fn encode(self, what: &'static str) -> Result<u8> {
        check_max(
            what,
            "PERIPHERAL QUALIFIER",
            u64::from(self.qualifier),
            0b111,
            FieldPointer::data(0, Some(7)),
        )?;
        check_max(
            what,
            "PERIPHERAL DEVICE TYPE",
            u64::from(self.device_type),
            0x1F,
            FieldPointer::data(0, Some(4)),
        )?;
        Ok((self.qualifier << 5) | self.device_type)
    }
}

impl Default for Peripheral {
    /// [`Peripheral::DISK`], so the fixed pages can derive `Default`.
    fn default() -> Self {
        Peripheral::DISK
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed-width ASCII fields
// ---------------------------------------------------------------------------------------------

/// A fixed-width, left-aligned ASCII data field (SPC-5 4.3.1) such as T10 VENDOR
/// IDENTIFICATION: printable ASCII (20h..=7Eh) padded with spaces, or terminated by NULs.
///
/// The invariant is checked when the value is built, so the text accessors never fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AsciiField<const N: usize>([u8; N]);

impl<const N: usize> AsciiField<N> {
    /// Left-aligns `text` and pads it with spaces, as SPC-5 4.3.1 asks. `None` if `text` is
    /// longer than `N` bytes or holds anything but printable ASCII.
    pub fn new(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() > N || !bytes.iter().all(|&c| is_printable(c)) {
            return None;
        }
        let mut field = [b' '; N];
        field[..bytes.len()].copy_from_slice(bytes);
        Some(AsciiField(field))
    }

    /// Takes the field's bytes as they are on the wire: printable ASCII, optionally followed by
    /// NULs. `None` otherwise.
    pub fn from_bytes(bytes: [u8; N]) -> Option<Self> {
        is_ascii_data(&bytes).then_some(AsciiField(bytes))
    }

    /// The bytes as they go on the wire, padding included.
    pub const fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// The text without its trailing padding (spaces or NULs).
    pub fn as_str(&self) -> &str {
        ascii_text(&self.0).trim_end_matches(' ')
    }
}

// ---------------------------------------------------------------------------------------------
// Standard INQUIRY data
// ---------------------------------------------------------------------------------------------

const STD_WHAT: &str = "standard INQUIRY data";
/// Length of standard INQUIRY data without the optional fields (SPC-5 6.7.2).
const STD_SHORT_LEN: usize = 36;
/// Length of the full emitted form: through the version descriptors (byte 74) and the reserved
/// bytes 74..96, as LIO emits it (ADDITIONAL LENGTH 91).
const STD_FULL_LEN: usize = 96;
/// At most eight VERSION DESCRIPTOR fields, bytes 58..74.
const MAX_VERSION_DESCRIPTORS: usize = 8;
const VERSION_DESCRIPTORS_OFFSET: usize = 58;

/// Bytes 0..36 of standard INQUIRY data (SPC-5 Table 148).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct StdInquiryHeader {
    peripheral: u8,
    /// RMB (7), LU_CONG (6), HOT PLUGGABLE (5..4).
    byte1: u8,
    version: u8,
    /// NORMACA (5), HISUP (4), RESPONSE DATA FORMAT (3..0).
    byte3: u8,
    additional_length: u8,
    /// SCCS (7), ACC (6), TPGS (5..4), 3PC (3), PROTECT (0).
    byte5: u8,
    /// ENCSERV (6), VS (5), MULTIP (4).
    byte6: u8,
    /// CMDQUE (1), VS (0).
    byte7: u8,
    vendor: [u8; 8],
    product: [u8; 16],
    revision: [u8; 4],
}
const _: () = assert!(size_of::<StdInquiryHeader>() == STD_SHORT_LEN);

/// Bytes 0..96: the header, VENDOR SPECIFIC (36..56), reserved/obsolete bytes 56..58, eight
/// VERSION DESCRIPTORs (58..74) and reserved bytes 74..96.
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct StdInquiryFull {
    header: StdInquiryHeader,
    vendor_specific: [u8; 20],
    reserved56: [u8; 2],
    version_descriptors: [U16; MAX_VERSION_DESCRIPTORS],
    reserved74: [u8; 22],
}
const _: () = assert!(size_of::<StdInquiryFull>() == STD_FULL_LEN);

/// Standard INQUIRY data (SPC-5 6.7.2, Table 148).
///
/// Emitted as 36 bytes when there are no version descriptors and no vendor specific data, as
/// 96 bytes (ADDITIONAL LENGTH 91, reserved bytes 74..96 zero, like LIO) otherwise. Obsolete
/// and vendor specific bits of bytes 6 and 7, and bytes past 96, are not represented: parse
/// ignores them and emit writes zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardInquiry {
    /// PERIPHERAL QUALIFIER and PERIPHERAL DEVICE TYPE (byte 0).
    pub peripheral: Peripheral,
    /// RMB: removable medium (byte 1 bit 7).
    pub rmb: bool,
    /// LU_CONG: the logical unit is a conglomerate (byte 1 bit 6).
    pub lu_cong: bool,
    /// HOT PLUGGABLE, 2 bits (byte 1 bits 5..4; added by SPC-5): 0 = not reported.
    pub hot_pluggable: u8,
    /// VERSION (byte 2): [`VERSION_SPC4`], [`VERSION_SPC5`]...
    pub version: u8,
    /// NORMACA: the NACA bit of the CONTROL byte is supported (byte 3 bit 5).
    pub normaca: bool,
    /// HISUP: hierarchical LUN addressing in REPORT LUNS (byte 3 bit 4).
    pub hisup: bool,
    /// RESPONSE DATA FORMAT (byte 3 bits 3..0); must be [`RESPONSE_DATA_FORMAT`] (2).
    pub response_data_format: u8,
    /// SCCS: embedded storage array controller (byte 5 bit 7).
    pub sccs: bool,
    /// ACC: an access controls coordinator is addressed (byte 5 bit 6).
    pub acc: bool,
    /// TPGS, 2 bits (byte 5 bits 5..4): `TPGS_*`.
    pub tpgs: u8,
    /// 3PC: third-party copy commands supported (byte 5 bit 3).
    pub third_party_copy: bool,
    /// PROTECT: protection information supported (byte 5 bit 0).
    pub protect: bool,
    /// ENCSERV: embedded enclosure services (byte 6 bit 6).
    pub encserv: bool,
    /// MULTIP: more than one target port (byte 6 bit 4).
    pub multip: bool,
    /// CMDQUE: command management model of SAM-5 supported (byte 7 bit 1); set on any modern
    /// target.
    pub cmdque: bool,
    /// T10 VENDOR IDENTIFICATION (bytes 8..16).
    pub vendor_identification: AsciiField<8>,
    /// PRODUCT IDENTIFICATION (bytes 16..32).
    pub product_identification: AsciiField<16>,
    /// PRODUCT REVISION LEVEL (bytes 32..36).
    pub product_revision_level: AsciiField<4>,
    /// VENDOR SPECIFIC bytes 36..56; all zero means "absent".
    pub vendor_specific: [u8; 20],
    /// VERSION DESCRIPTORs (bytes 58..74), at most eight ([`version_descriptor`]). Zero
    /// descriptors at the end mean "unused" and are dropped by parse.
    pub version_descriptors: Vec<u16>,
}

impl StandardInquiry {
    /// Standard INQUIRY data of a connected disk claiming SPC-5, with CMDQUE set, the
    /// identification fields left-aligned and space-padded, and every other field zero.
    ///
    /// Fails with [`Error::InvalidField`] naming "T10 VENDOR IDENTIFICATION", "PRODUCT
    /// IDENTIFICATION" or "PRODUCT REVISION LEVEL" when a string is longer than its field (8,
    /// 16, 4 bytes) or holds anything but printable ASCII.
    pub fn disk(vendor: &str, product: &str, revision: &str) -> Result<Self> {
        let vendor_identification = AsciiField::new(vendor).ok_or(invalid(
            STD_WHAT,
            "T10 VENDOR IDENTIFICATION",
            FieldPointer::data(8, None),
        ))?;
        let product_identification = AsciiField::new(product).ok_or(invalid(
            STD_WHAT,
            "PRODUCT IDENTIFICATION",
            FieldPointer::data(16, None),
        ))?;
        let product_revision_level = AsciiField::new(revision).ok_or(invalid(
            STD_WHAT,
            "PRODUCT REVISION LEVEL",
            FieldPointer::data(32, None),
        ))?;
        Ok(StandardInquiry {
            peripheral: Peripheral::DISK,
            rmb: false,
            lu_cong: false,
            hot_pluggable: 0,
            version: VERSION_SPC5,
            normaca: false,
            hisup: false,
            response_data_format: RESPONSE_DATA_FORMAT,
            sccs: false,
            acc: false,
            tpgs: TPGS_NOT_SUPPORTED,
            third_party_copy: false,
            protect: false,
            encserv: false,
            multip: false,
            cmdque: true,
            vendor_identification,
            product_identification,
            product_revision_level,
            vendor_specific: [0; 20],
            version_descriptors: Vec::new(),
        })
    }

    /// T10 VENDOR IDENTIFICATION without its padding.
    pub fn vendor_identification(&self) -> &str {
        self.vendor_identification.as_str()
    }

    /// PRODUCT IDENTIFICATION without its padding.
    pub fn product_identification(&self) -> &str {
        self.product_identification.as_str()
    }

    /// PRODUCT REVISION LEVEL without its padding.
    pub fn product_revision_level(&self) -> &str {
        self.product_revision_level.as_str()
    }

    fn is_short(&self) -> bool {
        self.version_descriptors.is_empty() && self.vendor_specific == [0; 20]
    }
}

impl Wire for StandardInquiry {
    /// Parses at least 36 bytes. The optional fields are read as far as both the buffer and the
    /// ADDITIONAL LENGTH reach (an initiator may have truncated the data with its ALLOCATION
    /// LENGTH). Identification fields must be printable ASCII (optionally NUL-terminated).
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(STD_WHAT, Location::Data, buf, STD_SHORT_LEN)?;
        let header = StdInquiryHeader::read_from_prefix(buf)
            .map_err(|_| Error::Truncated {
                what: STD_WHAT,
                location: Location::Data,
                needed: STD_SHORT_LEN,
                actual: buf.len(),
            })?
            .0;
        // The optional fields: what the buffer holds, within ADDITIONAL LENGTH, zero beyond.
        let end = buf
            .len()
            .min(usize::from(header.additional_length) + 5)
            .clamp(STD_SHORT_LEN, STD_FULL_LEN);
        let mut raw = [0u8; STD_FULL_LEN];
        raw[..end].copy_from_slice(&buf[..end]);
        let full = StdInquiryFull::read_from_bytes(&raw).map_err(|_| Error::Truncated {
            what: STD_WHAT,
            location: Location::Data,
            needed: STD_FULL_LEN,
            actual: raw.len(),
        })?;

        let response_data_format = header.byte3 & 0x0F;
        if response_data_format != RESPONSE_DATA_FORMAT {
            return Err(invalid(
                STD_WHAT,
                "RESPONSE DATA FORMAT",
                FieldPointer::data(3, Some(3)),
            ));
        }
        let vendor_identification = AsciiField::from_bytes(header.vendor).ok_or(invalid(
            STD_WHAT,
            "T10 VENDOR IDENTIFICATION",
            FieldPointer::data(8, None),
        ))?;
        let product_identification = AsciiField::from_bytes(header.product).ok_or(invalid(
            STD_WHAT,
            "PRODUCT IDENTIFICATION",
            FieldPointer::data(16, None),
        ))?;
        let product_revision_level = AsciiField::from_bytes(header.revision).ok_or(invalid(
            STD_WHAT,
            "PRODUCT REVISION LEVEL",
            FieldPointer::data(32, None),
        ))?;

        // Only whole descriptors that were actually sent count.
        let present = (end.saturating_sub(VERSION_DESCRIPTORS_OFFSET) / 2).min(8);
        let mut version_descriptors: Vec<u16> = full
            .version_descriptors
            .iter()
            .take(present)
            .map(|d| d.get())
            .collect();
        while version_descriptors.last() == Some(&0) {
            version_descriptors.pop();
        }

        Ok(StandardInquiry {
            peripheral: Peripheral::from_byte(header.peripheral),
            rmb: is_set(header.byte1, 7),
            lu_cong: is_set(header.byte1, 6),
            hot_pluggable: (header.byte1 >> 4) & 0b11,
            version: header.version,
            normaca: is_set(header.byte3, 5),
            hisup: is_set(header.byte3, 4),
            response_data_format,
            sccs: is_set(header.byte5, 7),
            acc: is_set(header.byte5, 6),
            tpgs: (header.byte5 >> 4) & 0b11,
            third_party_copy: is_set(header.byte5, 3),
            protect: is_set(header.byte5, 0),
            encserv: is_set(header.byte6, 6),
            multip: is_set(header.byte6, 4),
            cmdque: is_set(header.byte7, 1),
            vendor_identification,
            product_identification,
            product_revision_level,
            vendor_specific: full.vendor_specific,
            version_descriptors,
        })
    }

    fn buffer_len(&self) -> usize {
        if self.is_short() {
            STD_SHORT_LEN
        } else {
            STD_FULL_LEN
        }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        check_out(STD_WHAT, buf, len)?;
        let peripheral = self.peripheral.encode(STD_WHAT)?;
        check_max(
            STD_WHAT,
            "HOT PLUGGABLE",
            u64::from(self.hot_pluggable),
            0b11,
            FieldPointer::data(1, Some(5)),
        )?;
        if self.response_data_format != RESPONSE_DATA_FORMAT {
            return Err(invalid(
                STD_WHAT,
                "RESPONSE DATA FORMAT",
                FieldPointer::data(3, Some(3)),
            ));
        }
        check_max(
            STD_WHAT,
            "TPGS",
            u64::from(self.tpgs),
            0b11,
            FieldPointer::data(5, Some(5)),
        )?;
        if self.version_descriptors.len() > MAX_VERSION_DESCRIPTORS {
            return Err(invalid(
                STD_WHAT,
                "VERSION DESCRIPTOR",
                data_ptr(
                    VERSION_DESCRIPTORS_OFFSET + 2 * MAX_VERSION_DESCRIPTORS,
                    None,
                ),
            ));
        }

        let mut full = StdInquiryFull::new_zeroed();
        let h = &mut full.header;
        h.peripheral = peripheral;
        h.byte1 = flag(self.rmb, 7) | flag(self.lu_cong, 6) | (self.hot_pluggable << 4);
        h.version = self.version;
        h.byte3 = flag(self.normaca, 5) | flag(self.hisup, 4) | self.response_data_format;
        // `len` is 36 or 96, so the additional length (len - 5) always fits a byte.
        h.additional_length = u8::try_from(len - 5).unwrap_or(u8::MAX);
        h.byte5 = flag(self.sccs, 7)
            | flag(self.acc, 6)
            | (self.tpgs << 4)
            | flag(self.third_party_copy, 3)
            | flag(self.protect, 0);
        h.byte6 = flag(self.encserv, 6) | flag(self.multip, 4);
        h.byte7 = flag(self.cmdque, 1);
        h.vendor = *self.vendor_identification.as_bytes();
        h.product = *self.product_identification.as_bytes();
        h.revision = *self.product_revision_level.as_bytes();
        full.vendor_specific = self.vendor_specific;
        for (slot, &d) in full
            .version_descriptors
            .iter_mut()
            .zip(&self.version_descriptors)
        {
            *slot = U16::new(d);
        }
        buf[..len].copy_from_slice(&full.as_bytes()[..len]);
        Ok(len)
    }
}

// ---------------------------------------------------------------------------------------------
// VPD page framing
// ---------------------------------------------------------------------------------------------

/// The 4-byte header of every VPD page (SPC-5 7.7.1, Table 562).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct VpdHeader {
    peripheral: u8,
    page_code: u8,
    page_length: U16,
}
const VPD_HEADER_LEN: usize = 4;
const _: () = assert!(size_of::<VpdHeader>() == VPD_HEADER_LEN);

/// Reads a VPD header: the peripheral byte, the page code and the page body (PAGE LENGTH bytes
/// after the header, which the buffer must hold).
fn parse_vpd_any<'a>(what: &'static str, buf: &'a [u8]) -> Result<(Peripheral, u8, &'a [u8])> {
    let (header, rest) = VpdHeader::read_from_prefix(buf).map_err(|_| Error::Truncated {
        what,
        location: Location::Data,
        needed: VPD_HEADER_LEN,
        actual: buf.len(),
    })?;
    let page_length = usize::from(header.page_length.get());
    let body = rest.get(..page_length).ok_or(Error::Truncated {
        what,
        location: Location::Data,
        needed: VPD_HEADER_LEN + page_length,
        actual: buf.len(),
    })?;
    Ok((
        Peripheral::from_byte(header.peripheral),
        header.page_code,
        body,
    ))
}

/// [`parse_vpd_any`] for one page code.
fn parse_vpd<'a>(
    what: &'static str,
    page_code: u8,
    buf: &'a [u8],
) -> Result<(Peripheral, &'a [u8])> {
    let (peripheral, code, body) = parse_vpd_any(what, buf)?;
    if code != page_code {
        return Err(invalid(what, "PAGE CODE", FieldPointer::data(1, None)));
    }
    Ok((peripheral, body))
}

/// Checks the output length, writes the header and returns the body (`body_len` bytes) to fill.
fn emit_vpd<'a>(
    what: &'static str,
    page_code: u8,
    peripheral: Peripheral,
    body_len: usize,
    buf: &'a mut [u8],
) -> Result<&'a mut [u8]> {
    let total = body_len.saturating_add(VPD_HEADER_LEN);
    check_out(what, buf, total)?;
    let header = VpdHeader {
        peripheral: peripheral.encode(what)?,
        page_code,
        page_length: U16::new(
            u16::try_from(body_len)
                .map_err(|_| invalid(what, "PAGE LENGTH", FieldPointer::data(2, None)))?,
        ),
    };
    let (head, rest) = buf.split_at_mut(VPD_HEADER_LEN);
    head.copy_from_slice(header.as_bytes());
    Ok(&mut rest[..body_len])
}

/// PAGE LENGTH of the fixed-length pages 86h, B0h and B1h.
const FIXED_PAGE_LENGTH: usize = 0x3C;

/// Reads the body of a fixed-length page, zero-filling a short one (see the module docs).
fn fixed_body<T: FromBytes>(what: &'static str, body: &[u8]) -> Result<T> {
    let mut raw = [0u8; FIXED_PAGE_LENGTH];
    let n = body.len().min(FIXED_PAGE_LENGTH);
    raw[..n].copy_from_slice(&body[..n]);
    T::read_from_bytes(&raw).map_err(|_| Error::Truncated {
        what,
        location: Location::Data,
        needed: size_of::<T>(),
        actual: FIXED_PAGE_LENGTH,
    })
}

// ---------------------------------------------------------------------------------------------
// 00h Supported VPD Pages
// ---------------------------------------------------------------------------------------------

/// Supported VPD Pages VPD page, 00h (SPC-5 7.7.16): the page codes the device returns, in
/// ascending order (not enforced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedVpdPages {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// The SUPPORTED VPD PAGE LIST.
    pub pages: Vec<u8>,
}

impl SupportedVpdPages {
    /// The page code.
    pub const PAGE_CODE: u8 = 0x00;
    const WHAT: &'static str = "Supported VPD Pages VPD page";
}

impl Wire for SupportedVpdPages {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        Ok(SupportedVpdPages {
            peripheral,
            pages: body.to_vec(),
        })
    }

    fn buffer_len(&self) -> usize {
        VPD_HEADER_LEN.saturating_add(self.pages.len())
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            self.pages.len(),
            buf,
        )?;
        body.copy_from_slice(&self.pages);
        Ok(self.buffer_len())
    }
}

// ---------------------------------------------------------------------------------------------
// 80h Unit Serial Number
// ---------------------------------------------------------------------------------------------

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
        invalid(
            Self::WHAT,
            "PRODUCT SERIAL NUMBER",
            FieldPointer::data(4, None),
        )
    }

    /// A serial number of exactly `serial`'s bytes, which must be printable ASCII.
    pub fn new(peripheral: Peripheral, serial: &str) -> Result<Self> {
        if !serial.bytes().all(is_printable) {
            return Err(Self::bad_serial());
        }
        Ok(UnitSerialNumber {
            peripheral,
            serial: serial.as_bytes().to_vec(),
        })
    }

    /// A serial number right-aligned in a field of `width` bytes, padded with leading spaces
    /// (SPC-5 4.3.1). Fails if `serial` is longer than `width` or not printable ASCII.
    pub fn right_aligned(peripheral: Peripheral, serial: &str, width: usize) -> Result<Self> {
        let pad = width
            .checked_sub(serial.len())
            .ok_or_else(Self::bad_serial)?;
        let mut padded = " ".repeat(pad);
        padded.push_str(serial);
        Self::new(peripheral, &padded)
    }

    /// A serial number from its wire bytes: printable ASCII optionally followed by NULs.
    pub fn from_bytes(peripheral: Peripheral, bytes: &[u8]) -> Result<Self> {
        if !is_ascii_data(bytes) {
            return Err(Self::bad_serial());
        }
        Ok(UnitSerialNumber {
            peripheral,
            serial: bytes.to_vec(),
        })
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
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        Self::from_bytes(peripheral, body)
    }

    fn buffer_len(&self) -> usize {
        VPD_HEADER_LEN.saturating_add(self.serial.len())
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            self.serial.len(),
            buf,
        )?;
        body.copy_from_slice(&self.serial);
        Ok(self.buffer_len())
    }
}

// ---------------------------------------------------------------------------------------------
// 83h Device Identification: designation descriptors
// ---------------------------------------------------------------------------------------------

const DESIGNATOR_WHAT: &str = "designation descriptor";

/// CODE SET of a designation descriptor (SPC-5 7.7.6.1, Table 575).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeSet {
    /// 1h: binary values.
    Binary,
    /// 2h: printable ASCII.
    Ascii,
    /// 3h: UTF-8.
    Utf8,
    /// Any other 4-bit value (0h and 4h..=Fh are reserved).
    Reserved(u8),
}

impl CodeSet {
    /// Decodes the low 4 bits of `bits`.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x0F {
            1 => CodeSet::Binary,
            2 => CodeSet::Ascii,
            3 => CodeSet::Utf8,
            other => CodeSet::Reserved(other),
        }
    }

    /// The 4-bit value, or `None` for a `Reserved` value that is not a reserved code (1..=3,
    /// which have their own variants, or anything above Fh).
    pub const fn bits(self) -> Option<u8> {
        match self {
            CodeSet::Binary => Some(1),
            CodeSet::Ascii => Some(2),
            CodeSet::Utf8 => Some(3),
            CodeSet::Reserved(v @ (0 | 4..=15)) => Some(v),
            CodeSet::Reserved(_) => None,
        }
    }
}

/// ASSOCIATION of a designation descriptor (SPC-5 7.7.6.1, Table 574); 11b is reserved and
/// rejected by parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Association {
    /// 00b: the addressed logical unit.
    LogicalUnit,
    /// 01b: the target port that received the command.
    TargetPort,
    /// 10b: the SCSI target device containing the logical unit.
    TargetDevice,
}

impl Association {
    const fn bits(self) -> u8 {
        match self {
            Association::LogicalUnit => 0b00,
            Association::TargetPort => 0b01,
            Association::TargetDevice => 0b10,
        }
    }
}

/// NAA designator formats (SPC-5 7.7.6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naa {
    /// NAA 5h, IEEE Registered (8 bytes): 24-bit IEEE COMPANY_ID and 36-bit VENDOR SPECIFIC
    /// IDENTIFIER.
    IeeeRegistered {
        /// IEEE COMPANY_ID (OUI), 24 bits.
        company_id: u32,
        /// VENDOR SPECIFIC IDENTIFIER, 36 bits.
        vendor_specific: u64,
    },
    /// NAA 6h, IEEE Registered Extended (16 bytes): as NAA 5h plus a 64-bit VENDOR SPECIFIC
    /// IDENTIFIER EXTENSION. What LIO reports for every LUN (company id 001405h).
    IeeeRegisteredExtended {
        /// IEEE COMPANY_ID (OUI), 24 bits.
        company_id: u32,
        /// VENDOR SPECIFIC IDENTIFIER, 36 bits.
        vendor_specific: u64,
        /// VENDOR SPECIFIC IDENTIFIER EXTENSION.
        extension: u64,
    },
    /// Any other NAA (2h IEEE Extended, 3h Locally Assigned, reserved values): the designator's
    /// raw bytes, NAA nibble included. Must not be empty nor start with NAA 5h or 6h.
    Other(Vec<u8>),
}

const NAA_IEEE_REGISTERED: u8 = 0x5;
const NAA_IEEE_REGISTERED_EXTENDED: u8 = 0x6;
const COMPANY_ID_MAX: u32 = 0xFF_FFFF;
const NAA_VENDOR_SPECIFIC_MAX: u64 = 0xF_FFFF_FFFF;

impl Naa {
    /// The NAA value (high nibble of the designator); `None` for an empty `Other`.
    pub fn naa(&self) -> Option<u8> {
        match self {
            Naa::IeeeRegistered { .. } => Some(NAA_IEEE_REGISTERED),
            Naa::IeeeRegisteredExtended { .. } => Some(NAA_IEEE_REGISTERED_EXTENDED),
            Naa::Other(bytes) => bytes.first().map(|b| b >> 4),
        }
    }

    /// The first 8 bytes of NAA 5h/6h: NAA (4 bits), company id (24), vendor specific (36).
    fn head(naa: u8, company_id: u32, vendor_specific: u64) -> Result<U64> {
        check_max(
            DESIGNATOR_WHAT,
            "IEEE COMPANY_ID",
            u64::from(company_id),
            u64::from(COMPANY_ID_MAX),
            FieldPointer::data(4, Some(3)),
        )?;
        check_max(
            DESIGNATOR_WHAT,
            "VENDOR SPECIFIC IDENTIFIER",
            vendor_specific,
            NAA_VENDOR_SPECIFIC_MAX,
            FieldPointer::data(7, Some(3)),
        )?;
        Ok(U64::new(
            (u64::from(naa) << 60) | (u64::from(company_id) << 36) | vendor_specific,
        ))
    }

    /// Splits the first 8 bytes into company id and vendor specific identifier.
    fn split_head(head: u64) -> (u32, u64) {
        let company_id = u32::try_from((head >> 36) & u64::from(COMPANY_ID_MAX)).unwrap_or(0);
        (company_id, head & NAA_VENDOR_SPECIFIC_MAX)
    }
}

/// The 16-byte NAA 6h designator.
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct NaaExtended {
    head: U64,
    extension: U64,
}
const _: () = assert!(size_of::<NaaExtended>() == 16);

/// The 4-byte designators of types 4h, 5h and 6h: two reserved bytes and a 16-bit value.
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct ShortDesignator {
    reserved: [u8; 2],
    value: U16,
}
const _: () = assert!(size_of::<ShortDesignator>() == 4);

/// The 4-byte header of a designation descriptor (SPC-5 7.7.6.1, Table 573).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct DesignatorHeader {
    /// PROTOCOL IDENTIFIER (7..4), CODE SET (3..0).
    byte0: u8,
    /// PIV (7), ASSOCIATION (5..4), DESIGNATOR TYPE (3..0).
    byte1: u8,
    reserved: u8,
    designator_length: u8,
}
const DESIGNATOR_HEADER_LEN: usize = 4;
const _: () = assert!(size_of::<DesignatorHeader>() == DESIGNATOR_HEADER_LEN);

/// The largest DESIGNATOR LENGTH of a SCSI name string: a multiple of four that fits the 1-byte
/// DESIGNATOR LENGTH field (SPC-5's limit of 256 cannot be encoded).
const SCSI_NAME_MAX_LEN: usize = 252;

/// The DESIGNATOR field, by DESIGNATOR TYPE (SPC-5 7.7.6.1, Table 576).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesignatorKind {
    /// Type 1h, T10 vendor ID based (SPC-5 7.7.6.4): T10 VENDOR IDENTIFICATION and a vendor
    /// specific identifier (LIO: `"<product>:<serial>"` and a NUL).
    T10VendorId {
        /// T10 VENDOR IDENTIFICATION.
        vendor: AsciiField<8>,
        /// VENDOR SPECIFIC IDENTIFIER, kept as bytes.
        vendor_specific: Vec<u8>,
    },
    /// Type 2h, EUI-64 based (SPC-5 7.7.6.5): 8, 12 or 16 bytes.
    Eui64(Vec<u8>),
    /// Type 3h, NAA (SPC-5 7.7.6.6).
    Naa(Naa),
    /// Type 4h, relative target port identifier (SPC-5 7.7.6.7).
    RelativeTargetPort(u16),
    /// Type 5h, target port group (SPC-5 7.7.6.8).
    TargetPortGroup(u16),
    /// Type 6h, logical unit group (SPC-5 7.7.6.9).
    LogicalUnitGroup(u16),
    /// Type 8h, SCSI name string (SPC-5 7.7.6.11): UTF-8 without NULs, emitted NUL-terminated
    /// and NUL-padded to a multiple of four bytes; at most 251 bytes.
    ScsiNameString(String),
    /// Any other type (0h vendor specific, 7h MD5, 9h PCI Express routing ID, Ah UUID,
    /// reserved types): the raw designator. Must not use a type that has its own variant.
    Other {
        /// DESIGNATOR TYPE, 4 bits.
        designator_type: u8,
        /// The DESIGNATOR field.
        bytes: Vec<u8>,
    },
}

impl DesignatorKind {
    /// The DESIGNATOR TYPE code.
    pub fn designator_type(&self) -> u8 {
        match self {
            DesignatorKind::T10VendorId { .. } => 0x1,
            DesignatorKind::Eui64(_) => 0x2,
            DesignatorKind::Naa(_) => 0x3,
            DesignatorKind::RelativeTargetPort(_) => 0x4,
            DesignatorKind::TargetPortGroup(_) => 0x5,
            DesignatorKind::LogicalUnitGroup(_) => 0x6,
            DesignatorKind::ScsiNameString(_) => 0x8,
            DesignatorKind::Other {
                designator_type, ..
            } => *designator_type,
        }
    }

    /// The length of the DESIGNATOR field this kind emits.
    fn len(&self) -> usize {
        match self {
            DesignatorKind::T10VendorId {
                vendor_specific, ..
            } => vendor_specific.len().saturating_add(8),
            DesignatorKind::Eui64(bytes) | DesignatorKind::Other { bytes, .. } => bytes.len(),
            DesignatorKind::Naa(Naa::IeeeRegistered { .. }) => 8,
            DesignatorKind::Naa(Naa::IeeeRegisteredExtended { .. }) => 16,
            DesignatorKind::Naa(Naa::Other(bytes)) => bytes.len(),
            DesignatorKind::RelativeTargetPort(_)
            | DesignatorKind::TargetPortGroup(_)
            | DesignatorKind::LogicalUnitGroup(_) => 4,
            // The string, at least one NUL, padded to a multiple of four.
            DesignatorKind::ScsiNameString(name) => {
                name.len().saturating_add(1).next_multiple_of(4)
            }
        }
    }

    /// Checks what the types cannot (lengths, ranges), then writes exactly `self.len()` bytes.
    fn write(&self, out: &mut [u8]) -> Result<()> {
        let length_ptr = FieldPointer::data(3, None);
        let designator_ptr = FieldPointer::data(4, None);
        match self {
            DesignatorKind::T10VendorId {
                vendor,
                vendor_specific,
            } => {
                let (head, tail) = out.split_at_mut(8);
                head.copy_from_slice(vendor.as_bytes());
                tail.copy_from_slice(vendor_specific);
            }
            DesignatorKind::Eui64(bytes) => {
                if !matches!(bytes.len(), 8 | 12 | 16) {
                    return Err(invalid(DESIGNATOR_WHAT, "DESIGNATOR LENGTH", length_ptr));
                }
                out.copy_from_slice(bytes);
            }
            DesignatorKind::Naa(Naa::IeeeRegistered {
                company_id,
                vendor_specific,
            }) => {
                let head = Naa::head(NAA_IEEE_REGISTERED, *company_id, *vendor_specific)?;
                out.copy_from_slice(head.as_bytes());
            }
            DesignatorKind::Naa(Naa::IeeeRegisteredExtended {
                company_id,
                vendor_specific,
                extension,
            }) => {
                let naa = NaaExtended {
                    head: Naa::head(NAA_IEEE_REGISTERED_EXTENDED, *company_id, *vendor_specific)?,
                    extension: U64::new(*extension),
                };
                out.copy_from_slice(naa.as_bytes());
            }
            DesignatorKind::Naa(naa @ Naa::Other(bytes)) => {
                // An empty one has no NAA field; a 5h/6h one would parse as the typed variant.
                if matches!(
                    naa.naa(),
                    None | Some(NAA_IEEE_REGISTERED | NAA_IEEE_REGISTERED_EXTENDED)
                ) {
                    return Err(invalid(
                        DESIGNATOR_WHAT,
                        "NAA",
                        FieldPointer::data(4, Some(7)),
                    ));
                }
                out.copy_from_slice(bytes);
            }
            DesignatorKind::RelativeTargetPort(v)
            | DesignatorKind::TargetPortGroup(v)
            | DesignatorKind::LogicalUnitGroup(v) => {
                let short = ShortDesignator {
                    reserved: [0; 2],
                    value: U16::new(*v),
                };
                out.copy_from_slice(short.as_bytes());
            }
            DesignatorKind::ScsiNameString(name) => {
                if name.len() >= SCSI_NAME_MAX_LEN || name.contains('\0') {
                    return Err(invalid(DESIGNATOR_WHAT, "SCSI NAME STRING", designator_ptr));
                }
                let (text, nuls) = out.split_at_mut(name.len());
                text.copy_from_slice(name.as_bytes());
                nuls.fill(0);
            }
            DesignatorKind::Other {
                designator_type,
                bytes,
            } => {
                if *designator_type > 0x0F || matches!(designator_type, 0x1..=0x6 | 0x8) {
                    return Err(invalid(
                        DESIGNATOR_WHAT,
                        "DESIGNATOR TYPE",
                        FieldPointer::data(1, Some(3)),
                    ));
                }
                out.copy_from_slice(bytes);
            }
        }
        Ok(())
    }

    /// Decodes a DESIGNATOR field of type `designator_type`; pointers are relative to the
    /// descriptor, whose designator starts at byte 4.
    fn read(designator_type: u8, bytes: &[u8]) -> Result<Self> {
        let bad_length = || {
            invalid(
                DESIGNATOR_WHAT,
                "DESIGNATOR LENGTH",
                FieldPointer::data(3, None),
            )
        };
        Ok(match designator_type {
            0x1 => {
                let (vendor, vendor_specific) =
                    bytes.split_first_chunk::<8>().ok_or_else(bad_length)?;
                DesignatorKind::T10VendorId {
                    vendor: AsciiField::from_bytes(*vendor).ok_or(invalid(
                        DESIGNATOR_WHAT,
                        "T10 VENDOR IDENTIFICATION",
                        FieldPointer::data(4, None),
                    ))?,
                    vendor_specific: vendor_specific.to_vec(),
                }
            }
            0x2 => {
                if !matches!(bytes.len(), 8 | 12 | 16) {
                    return Err(bad_length());
                }
                DesignatorKind::Eui64(bytes.to_vec())
            }
            0x3 => {
                let naa = bytes.first().ok_or_else(bad_length)? >> 4;
                DesignatorKind::Naa(match naa {
                    NAA_IEEE_REGISTERED => {
                        let head = U64::read_from_bytes(bytes).map_err(|_| bad_length())?;
                        let (company_id, vendor_specific) = Naa::split_head(head.get());
                        Naa::IeeeRegistered {
                            company_id,
                            vendor_specific,
                        }
                    }
                    NAA_IEEE_REGISTERED_EXTENDED => {
                        let ext = NaaExtended::read_from_bytes(bytes).map_err(|_| bad_length())?;
                        let (company_id, vendor_specific) = Naa::split_head(ext.head.get());
                        Naa::IeeeRegisteredExtended {
                            company_id,
                            vendor_specific,
                            extension: ext.extension.get(),
                        }
                    }
                    _ => Naa::Other(bytes.to_vec()),
                })
            }
            0x4..=0x6 => {
                let value = ShortDesignator::read_from_bytes(bytes)
                    .map_err(|_| bad_length())?
                    .value
                    .get();
                match designator_type {
                    0x4 => DesignatorKind::RelativeTargetPort(value),
                    0x5 => DesignatorKind::TargetPortGroup(value),
                    _ => DesignatorKind::LogicalUnitGroup(value),
                }
            }
            0x8 => {
                // Null-terminated, null-padded; tolerate a missing terminator.
                let text = bytes.split(|&c| c == 0).next().unwrap_or(&[]);
                let name = core::str::from_utf8(text).map_err(|_| {
                    invalid(
                        DESIGNATOR_WHAT,
                        "SCSI NAME STRING",
                        FieldPointer::data(4, None),
                    )
                })?;
                DesignatorKind::ScsiNameString(name.to_owned())
            }
            _ => DesignatorKind::Other {
                designator_type,
                bytes: bytes.to_vec(),
            },
        })
    }
}

/// A designation descriptor (SPC-5 7.7.6.1, Table 573), of the Device Identification VPD page
/// or a provisioning group descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designator {
    /// PROTOCOL IDENTIFIER when PIV is set (`Some`, 4 bits, [`protocol_identifier`]); SPC-5
    /// gives it meaning only for target port and target device associations. With PIV clear
    /// the field is ignored on parse and written as zero.
    pub protocol_identifier: Option<u8>,
    /// CODE SET.
    pub code_set: CodeSet,
    /// ASSOCIATION.
    pub association: Association,
    /// DESIGNATOR TYPE and DESIGNATOR.
    pub designator: DesignatorKind,
}

impl Designator {
    /// An NAA 5h IEEE Registered designator of the logical unit (binary). Fails if
    /// `company_id` exceeds 24 bits or `vendor_specific` 36 bits.
    pub fn naa_ieee_registered(company_id: u32, vendor_specific: u64) -> Result<Self> {
        Naa::head(NAA_IEEE_REGISTERED, company_id, vendor_specific)?;
        Ok(Self::logical_unit(DesignatorKind::Naa(
            Naa::IeeeRegistered {
                company_id,
                vendor_specific,
            },
        )))
    }

    /// An NAA 6h IEEE Registered Extended designator of the logical unit (binary), the form LIO
    /// reports. Fails if `oui` exceeds 24 bits or `vendor_specific` 36 bits.
    pub fn naa_ieee_registered_extended(
        oui: u32,
        vendor_specific: u64,
        extension: u64,
    ) -> Result<Self> {
        Naa::head(NAA_IEEE_REGISTERED_EXTENDED, oui, vendor_specific)?;
        Ok(Self::logical_unit(DesignatorKind::Naa(
            Naa::IeeeRegisteredExtended {
                company_id: oui,
                vendor_specific,
                extension,
            },
        )))
    }

    /// A T10 vendor ID based designator of the logical unit (ASCII): `vendor` left-aligned and
    /// space-padded to 8 bytes, followed by `vendor_specific`. Fails if `vendor` is not
    /// printable ASCII of at most 8 bytes, or the designator exceeds 255 bytes.
    pub fn t10_vendor_id(vendor: &str, vendor_specific: &[u8]) -> Result<Self> {
        let vendor = AsciiField::new(vendor).ok_or(invalid(
            DESIGNATOR_WHAT,
            "T10 VENDOR IDENTIFICATION",
            FieldPointer::data(4, None),
        ))?;
        let d = Self {
            code_set: CodeSet::Ascii,
            ..Self::logical_unit(DesignatorKind::T10VendorId {
                vendor,
                vendor_specific: vendor_specific.to_vec(),
            })
        };
        d.length_byte()?;
        Ok(d)
    }

    /// An EUI-64 designator of the logical unit (binary, 8 bytes).
    pub fn eui64(id: u64) -> Self {
        Self::logical_unit(DesignatorKind::Eui64(id.to_be_bytes().to_vec()))
    }

    /// A relative target port identifier (association target port, binary), with PIV set when
    /// `protocol` is given.
    pub fn relative_target_port(protocol: Option<u8>, id: u16) -> Self {
        Self::target_port(protocol, DesignatorKind::RelativeTargetPort(id))
    }

    /// A target port group identifier (association target port, binary).
    pub fn target_port_group(protocol: Option<u8>, id: u16) -> Self {
        Self::target_port(protocol, DesignatorKind::TargetPortGroup(id))
    }

    /// A logical unit group identifier (association logical unit, binary).
    pub fn logical_unit_group(id: u16) -> Self {
        Self::logical_unit(DesignatorKind::LogicalUnitGroup(id))
    }

    /// A SCSI name string designator (UTF-8), such as an iSCSI name. Fails if `name` contains a
    /// NUL or is longer than 251 bytes (the NUL terminator and padding must fit 252 bytes).
    pub fn scsi_name_string(
        protocol: Option<u8>,
        association: Association,
        name: &str,
    ) -> Result<Self> {
        if name.len() >= SCSI_NAME_MAX_LEN || name.contains('\0') {
            return Err(invalid(
                DESIGNATOR_WHAT,
                "SCSI NAME STRING",
                FieldPointer::data(4, None),
            ));
        }
        Ok(Designator {
            protocol_identifier: protocol,
            code_set: CodeSet::Utf8,
            association,
            designator: DesignatorKind::ScsiNameString(name.to_owned()),
        })
    }

    fn logical_unit(designator: DesignatorKind) -> Self {
        Designator {
            protocol_identifier: None,
            code_set: CodeSet::Binary,
            association: Association::LogicalUnit,
            designator,
        }
    }

    fn target_port(protocol: Option<u8>, designator: DesignatorKind) -> Self {
        Designator {
            protocol_identifier: protocol,
            code_set: CodeSet::Binary,
            association: Association::TargetPort,
            designator,
        }
    }

    fn length_byte(&self) -> Result<u8> {
        u8::try_from(self.designator.len()).map_err(|_| {
            invalid(
                DESIGNATOR_WHAT,
                "DESIGNATOR LENGTH",
                FieldPointer::data(3, None),
            )
        })
    }

    /// Parses the descriptor at the start of `buf`, which must hold all of it; an overrun is
    /// reported as an invalid DESIGNATOR LENGTH. Returns the descriptor and its length.
    fn read(what: &'static str, buf: &[u8]) -> Result<(Self, usize)> {
        let (header, rest) =
            DesignatorHeader::read_from_prefix(buf).map_err(|_| Error::Truncated {
                what,
                location: Location::Data,
                needed: DESIGNATOR_HEADER_LEN,
                actual: buf.len(),
            })?;
        let length = usize::from(header.designator_length);
        let bytes = rest.get(..length).ok_or(invalid(
            what,
            "DESIGNATOR LENGTH",
            FieldPointer::data(3, None),
        ))?;
        let association = match (header.byte1 >> 4) & 0b11 {
            0b00 => Association::LogicalUnit,
            0b01 => Association::TargetPort,
            0b10 => Association::TargetDevice,
            _ => {
                return Err(invalid(what, "ASSOCIATION", FieldPointer::data(1, Some(5))));
            }
        };
        let designator = DesignatorKind::read(header.byte1 & 0x0F, bytes).map_err(|e| match e {
            Error::InvalidField { field, pointer, .. } => Error::InvalidField {
                what,
                field,
                pointer,
            },
            other => other,
        })?;
        let designator = Designator {
            protocol_identifier: is_set(header.byte1, 7).then_some(header.byte0 >> 4),
            code_set: CodeSet::from_bits(header.byte0),
            association,
            designator,
        };
        Ok((designator, DESIGNATOR_HEADER_LEN + length))
    }
}

impl Wire for Designator {
    /// Parses one descriptor from the start of `buf`; bytes after it are ignored.
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(DESIGNATOR_WHAT, Location::Data, buf, DESIGNATOR_HEADER_LEN)?;
        let needed = DESIGNATOR_HEADER_LEN + usize::from(buf[3]);
        check_len(DESIGNATOR_WHAT, Location::Data, buf, needed)?;
        Designator::read(DESIGNATOR_WHAT, buf).map(|(d, _)| d)
    }

    fn buffer_len(&self) -> usize {
        self.designator.len().saturating_add(DESIGNATOR_HEADER_LEN)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        check_out(DESIGNATOR_WHAT, buf, len)?;
        let designator_length = self.length_byte()?;
        let code_set = self.code_set.bits().ok_or(invalid(
            DESIGNATOR_WHAT,
            "CODE SET",
            FieldPointer::data(0, Some(3)),
        ))?;
        let protocol = self.protocol_identifier.unwrap_or(0);
        check_max(
            DESIGNATOR_WHAT,
            "PROTOCOL IDENTIFIER",
            u64::from(protocol),
            0x0F,
            FieldPointer::data(0, Some(7)),
        )?;
        let designator_type = self.designator.designator_type();
        check_max(
            DESIGNATOR_WHAT,
            "DESIGNATOR TYPE",
            u64::from(designator_type),
            0x0F,
            FieldPointer::data(1, Some(3)),
        )?;
        let header = DesignatorHeader {
            byte0: (protocol << 4) | code_set,
            byte1: flag(self.protocol_identifier.is_some(), 7)
                | (self.association.bits() << 4)
                | designator_type,
            reserved: 0,
            designator_length,
        };
        let (head, rest) = buf.split_at_mut(DESIGNATOR_HEADER_LEN);
        head.copy_from_slice(header.as_bytes());
        self.designator
            .write(&mut rest[..usize::from(designator_length)])?;
        Ok(len)
    }
}

/// Device Identification VPD page, 83h (SPC-5 7.7.6): a list of designation descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentification {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// The designation descriptors, in page order.
    pub designators: Vec<Designator>,
}

impl DeviceIdentification {
    /// The page code.
    pub const PAGE_CODE: u8 = 0x83;
    const WHAT: &'static str = "Device Identification VPD page";
}

impl Wire for DeviceIdentification {
    /// Walks the descriptors: each must fit inside PAGE LENGTH (an overrun is an invalid
    /// DESIGNATOR LENGTH, pointer at that descriptor's byte 3), and every step advances at
    /// least 4 bytes, so the walk ends.
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        let mut designators = Vec::new();
        let mut off = 0;
        while let Some(rest) = body.get(off..).filter(|r| !r.is_empty()) {
            if rest.len() < DESIGNATOR_HEADER_LEN {
                // Trailing bytes too short for a descriptor header: PAGE LENGTH is wrong.
                return Err(invalid(
                    Self::WHAT,
                    "PAGE LENGTH",
                    FieldPointer::data(2, None),
                ));
            }
            let (d, used) = Designator::read(Self::WHAT, rest)
                .map_err(|e| shift_err(e, VPD_HEADER_LEN + off))?;
            designators.push(d);
            off += used;
        }
        Ok(DeviceIdentification {
            peripheral,
            designators,
        })
    }

    fn buffer_len(&self) -> usize {
        self.designators
            .iter()
            .fold(VPD_HEADER_LEN, |n, d| n.saturating_add(d.buffer_len()))
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            total - VPD_HEADER_LEN,
            buf,
        )?;
        let mut off = 0;
        for d in &self.designators {
            let n = d
                .emit(&mut body[off..])
                .map_err(|e| shift_err(e, VPD_HEADER_LEN + off))?;
            off += n;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// 86h Extended INQUIRY Data
// ---------------------------------------------------------------------------------------------

/// Bytes 4..64 of the Extended INQUIRY Data VPD page (SPC-5 Table 590).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct ExtendedInquiryBody {
    /// ACTIVATE MICROCODE (7..6), SPT (5..3), GRD_CHK (2), APP_CHK (1), REF_CHK (0).
    byte4: u8,
    /// UASK_SUP (5), GROUP_SUP (4), PRIOR_SUP (3), HEADSUP (2), ORDSUP (1), SIMPSUP (0).
    byte5: u8,
    /// WU_SUP (3), CRD_SUP (2), NV_SUP (1), V_SUP (0).
    byte6: u8,
    /// NO_PI_CHK (5), P_I_I_SUP (4), LUICLR (0).
    byte7: u8,
    /// LU_COLL_TYPE (7..5), R_SUP (4), RTD_SUP (3), HSSRELEF (1), CBCS (0, obsolete in SPC-5).
    byte8: u8,
    /// MULTI I_T NEXUS MICROCODE DOWNLOAD (3..0).
    byte9: u8,
    extended_self_test_completion_minutes: U16,
    /// POA_SUP (7), HRA_SUP (6), VSA_SUP (5), DMS_VALID (4).
    byte12: u8,
    maximum_supported_sense_data_length: u8,
    reserved: [u8; 50],
}
const _: () = assert!(size_of::<ExtendedInquiryBody>() == FIXED_PAGE_LENGTH);

/// Extended INQUIRY Data VPD page, 86h (SPC-5 7.7.7): the fields a disk target uses; every
/// other field is ignored on parse and emitted as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtendedInquiryData {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// SPT, 3 bits: supported protection types (byte 4 bits 5..3).
    pub spt: u8,
    /// GRD_CHK: the guard tag is checked (byte 4 bit 2).
    pub grd_chk: bool,
    /// APP_CHK: the application tag is checked (byte 4 bit 1).
    pub app_chk: bool,
    /// REF_CHK: the reference tag is checked (byte 4 bit 0).
    pub ref_chk: bool,
    /// UASK_SUP: sense-key specific data is returned with UNIT ATTENTION (byte 5 bit 5).
    pub uask_sup: bool,
    /// GROUP_SUP: the GROUP NUMBER field is supported (byte 5 bit 4).
    pub group_sup: bool,
    /// PRIOR_SUP: command priority supported (byte 5 bit 3).
    pub prior_sup: bool,
    /// HEADSUP: HEAD OF QUEUE task attribute supported (byte 5 bit 2).
    pub headsup: bool,
    /// ORDSUP: ORDERED task attribute supported (byte 5 bit 1).
    pub ordsup: bool,
    /// SIMPSUP: SIMPLE task attribute supported (byte 5 bit 0).
    pub simpsup: bool,
    /// WU_SUP: WRITE UNCORRECTABLE's WR_UNCOR supported (byte 6 bit 3).
    pub wu_sup: bool,
    /// CRD_SUP: correction disable supported (byte 6 bit 2; obsolete in SPC-5).
    pub crd_sup: bool,
    /// NV_SUP: a non-volatile cache exists (byte 6 bit 1).
    pub nv_sup: bool,
    /// V_SUP: a volatile cache exists (byte 6 bit 0); LIO sets it when write cache emulation
    /// is on.
    pub v_sup: bool,
    /// P_I_I_SUP: protection information intervals supported (byte 7 bit 4).
    pub p_i_i_sup: bool,
    /// LUICLR: I_T nexus loss clears the unit attention (byte 7 bit 0).
    pub luiclr: bool,
    /// R_SUP: referrals supported (byte 8 bit 4).
    pub r_sup: bool,
    /// CBCS: capability-based command security (byte 8 bit 0; obsolete in SPC-5).
    pub cbcs: bool,
    /// MULTI I_T NEXUS MICROCODE DOWNLOAD, 4 bits (byte 9).
    pub multi_it_nexus_microcode_download: u8,
    /// EXTENDED SELF-TEST COMPLETION MINUTES (bytes 10..12).
    pub extended_self_test_completion_minutes: u16,
    /// POA_SUP: power on activation supported (byte 12 bit 7).
    pub poa_sup: bool,
    /// HRA_SUP: hard reset activation supported (byte 12 bit 6).
    pub hra_sup: bool,
    /// VSA_SUP: vendor specific activation supported (byte 12 bit 5).
    pub vsa_sup: bool,
    /// MAXIMUM SUPPORTED SENSE DATA LENGTH (byte 13); 0 = not reported.
    pub maximum_supported_sense_data_length: u8,
}

impl ExtendedInquiryData {
    /// The page code.
    pub const PAGE_CODE: u8 = 0x86;
    const WHAT: &'static str = "Extended INQUIRY Data VPD page";
}

impl Wire for ExtendedInquiryData {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        let b: ExtendedInquiryBody = fixed_body(Self::WHAT, body)?;
        Ok(ExtendedInquiryData {
            peripheral,
            spt: (b.byte4 >> 3) & 0b111,
            grd_chk: is_set(b.byte4, 2),
            app_chk: is_set(b.byte4, 1),
            ref_chk: is_set(b.byte4, 0),
            uask_sup: is_set(b.byte5, 5),
            group_sup: is_set(b.byte5, 4),
            prior_sup: is_set(b.byte5, 3),
            headsup: is_set(b.byte5, 2),
            ordsup: is_set(b.byte5, 1),
            simpsup: is_set(b.byte5, 0),
            wu_sup: is_set(b.byte6, 3),
            crd_sup: is_set(b.byte6, 2),
            nv_sup: is_set(b.byte6, 1),
            v_sup: is_set(b.byte6, 0),
            p_i_i_sup: is_set(b.byte7, 4),
            luiclr: is_set(b.byte7, 0),
            r_sup: is_set(b.byte8, 4),
            cbcs: is_set(b.byte8, 0),
            multi_it_nexus_microcode_download: b.byte9 & 0x0F,
            extended_self_test_completion_minutes: b.extended_self_test_completion_minutes.get(),
            poa_sup: is_set(b.byte12, 7),
            hra_sup: is_set(b.byte12, 6),
            vsa_sup: is_set(b.byte12, 5),
            maximum_supported_sense_data_length: b.maximum_supported_sense_data_length,
        })
    }

    fn buffer_len(&self) -> usize {
        VPD_HEADER_LEN + FIXED_PAGE_LENGTH
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(Self::WHAT, buf, self.buffer_len())?;
        check_max(
            Self::WHAT,
            "SPT",
            u64::from(self.spt),
            0b111,
            FieldPointer::data(4, Some(5)),
        )?;
        check_max(
            Self::WHAT,
            "MULTI I_T NEXUS MICROCODE DOWNLOAD",
            u64::from(self.multi_it_nexus_microcode_download),
            0x0F,
            FieldPointer::data(9, Some(3)),
        )?;
        let mut b = ExtendedInquiryBody::new_zeroed();
        b.byte4 =
            (self.spt << 3) | flag(self.grd_chk, 2) | flag(self.app_chk, 1) | flag(self.ref_chk, 0);
        b.byte5 = flag(self.uask_sup, 5)
            | flag(self.group_sup, 4)
            | flag(self.prior_sup, 3)
            | flag(self.headsup, 2)
            | flag(self.ordsup, 1)
            | flag(self.simpsup, 0);
        b.byte6 = flag(self.wu_sup, 3)
            | flag(self.crd_sup, 2)
            | flag(self.nv_sup, 1)
            | flag(self.v_sup, 0);
        b.byte7 = flag(self.p_i_i_sup, 4) | flag(self.luiclr, 0);
        b.byte8 = flag(self.r_sup, 4) | flag(self.cbcs, 0);
        b.byte9 = self.multi_it_nexus_microcode_download;
        b.extended_self_test_completion_minutes =
            U16::new(self.extended_self_test_completion_minutes);
        b.byte12 = flag(self.poa_sup, 7) | flag(self.hra_sup, 6) | flag(self.vsa_sup, 5);
        b.maximum_supported_sense_data_length = self.maximum_supported_sense_data_length;
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            FIXED_PAGE_LENGTH,
            buf,
        )?;
        body.copy_from_slice(b.as_bytes());
        Ok(self.buffer_len())
    }
}

// ---------------------------------------------------------------------------------------------
// B0h Block Limits
// ---------------------------------------------------------------------------------------------

/// Bytes 4..64 of the Block Limits VPD page (SBC-4 6.6.4, Table 236).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct BlockLimitsBody {
    /// WSNZ (0).
    byte4: u8,
    maximum_compare_and_write_length: u8,
    optimal_transfer_length_granularity: U16,
    maximum_transfer_length: U32,
    optimal_transfer_length: U32,
    maximum_prefetch_length: U32,
    maximum_unmap_lba_count: U32,
    maximum_unmap_block_descriptor_count: U32,
    optimal_unmap_granularity: U32,
    /// UGAVALID (bit 31), UNMAP GRANULARITY ALIGNMENT (30..0).
    unmap_granularity_alignment: U32,
    maximum_write_same_length: U64,
    maximum_atomic_transfer_length: U32,
    atomic_alignment: U32,
    atomic_transfer_length_granularity: U32,
    maximum_atomic_transfer_length_with_atomic_boundary: U32,
    maximum_atomic_boundary_size: U32,
}
const _: () = assert!(size_of::<BlockLimitsBody>() == FIXED_PAGE_LENGTH);

const UGAVALID: u32 = 1 << 31;

/// Block Limits VPD page, B0h (SBC-4 6.6.4). Lengths are in logical blocks; zero means "not
/// reported" / "no limit" as SBC-4 says for each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockLimits {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS zero is rejected (byte 4 bit 0).
    pub wsnz: bool,
    /// MAXIMUM COMPARE AND WRITE LENGTH (byte 5).
    pub maximum_compare_and_write_length: u8,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY (bytes 6..8).
    pub optimal_transfer_length_granularity: u16,
    /// MAXIMUM TRANSFER LENGTH (bytes 8..12).
    pub maximum_transfer_length: u32,
    /// OPTIMAL TRANSFER LENGTH (bytes 12..16).
    pub optimal_transfer_length: u32,
    /// MAXIMUM PREFETCH LENGTH (bytes 16..20).
    pub maximum_prefetch_length: u32,
    /// MAXIMUM UNMAP LBA COUNT (bytes 20..24).
    pub maximum_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (bytes 24..28).
    pub maximum_unmap_block_descriptor_count: u32,
    /// OPTIMAL UNMAP GRANULARITY (bytes 28..32).
    pub optimal_unmap_granularity: u32,
    /// UNMAP GRANULARITY ALIGNMENT (31 bits, bytes 32..36) when UGAVALID is set.
    pub unmap_granularity_alignment: Option<u32>,
    /// MAXIMUM WRITE SAME LENGTH (bytes 36..44).
    pub maximum_write_same_length: u64,
    /// MAXIMUM ATOMIC TRANSFER LENGTH (bytes 44..48).
    pub maximum_atomic_transfer_length: u32,
    /// ATOMIC ALIGNMENT (bytes 48..52).
    pub atomic_alignment: u32,
    /// ATOMIC TRANSFER LENGTH GRANULARITY (bytes 52..56).
    pub atomic_transfer_length_granularity: u32,
    /// MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY (bytes 56..60).
    pub maximum_atomic_transfer_length_with_atomic_boundary: u32,
    /// MAXIMUM ATOMIC BOUNDARY SIZE (bytes 60..64).
    pub maximum_atomic_boundary_size: u32,
}

impl BlockLimits {
    /// The page code.
    pub const PAGE_CODE: u8 = 0xB0;
    const WHAT: &'static str = "Block Limits VPD page";
}

impl Wire for BlockLimits {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        let b: BlockLimitsBody = fixed_body(Self::WHAT, body)?;
        let uga = b.unmap_granularity_alignment.get();
        Ok(BlockLimits {
            peripheral,
            wsnz: is_set(b.byte4, 0),
            maximum_compare_and_write_length: b.maximum_compare_and_write_length,
            optimal_transfer_length_granularity: b.optimal_transfer_length_granularity.get(),
            maximum_transfer_length: b.maximum_transfer_length.get(),
            optimal_transfer_length: b.optimal_transfer_length.get(),
            maximum_prefetch_length: b.maximum_prefetch_length.get(),
            maximum_unmap_lba_count: b.maximum_unmap_lba_count.get(),
            maximum_unmap_block_descriptor_count: b.maximum_unmap_block_descriptor_count.get(),
            optimal_unmap_granularity: b.optimal_unmap_granularity.get(),
            unmap_granularity_alignment: (uga & UGAVALID != 0).then_some(uga & !UGAVALID),
            maximum_write_same_length: b.maximum_write_same_length.get(),
            maximum_atomic_transfer_length: b.maximum_atomic_transfer_length.get(),
            atomic_alignment: b.atomic_alignment.get(),
            atomic_transfer_length_granularity: b.atomic_transfer_length_granularity.get(),
            maximum_atomic_transfer_length_with_atomic_boundary: b
                .maximum_atomic_transfer_length_with_atomic_boundary
                .get(),
            maximum_atomic_boundary_size: b.maximum_atomic_boundary_size.get(),
        })
    }

    fn buffer_len(&self) -> usize {
        VPD_HEADER_LEN + FIXED_PAGE_LENGTH
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(Self::WHAT, buf, self.buffer_len())?;
        let uga = match self.unmap_granularity_alignment {
            None => 0,
            Some(a) => {
                check_max(
                    Self::WHAT,
                    "UNMAP GRANULARITY ALIGNMENT",
                    u64::from(a),
                    u64::from(!UGAVALID),
                    FieldPointer::data(32, Some(6)),
                )?;
                a | UGAVALID
            }
        };
        let b = BlockLimitsBody {
            byte4: flag(self.wsnz, 0),
            maximum_compare_and_write_length: self.maximum_compare_and_write_length,
            optimal_transfer_length_granularity: U16::new(self.optimal_transfer_length_granularity),
            maximum_transfer_length: U32::new(self.maximum_transfer_length),
            optimal_transfer_length: U32::new(self.optimal_transfer_length),
            maximum_prefetch_length: U32::new(self.maximum_prefetch_length),
            maximum_unmap_lba_count: U32::new(self.maximum_unmap_lba_count),
            maximum_unmap_block_descriptor_count: U32::new(
                self.maximum_unmap_block_descriptor_count,
            ),
            optimal_unmap_granularity: U32::new(self.optimal_unmap_granularity),
            unmap_granularity_alignment: U32::new(uga),
            maximum_write_same_length: U64::new(self.maximum_write_same_length),
            maximum_atomic_transfer_length: U32::new(self.maximum_atomic_transfer_length),
            atomic_alignment: U32::new(self.atomic_alignment),
            atomic_transfer_length_granularity: U32::new(self.atomic_transfer_length_granularity),
            maximum_atomic_transfer_length_with_atomic_boundary: U32::new(
                self.maximum_atomic_transfer_length_with_atomic_boundary,
            ),
            maximum_atomic_boundary_size: U32::new(self.maximum_atomic_boundary_size),
        };
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            FIXED_PAGE_LENGTH,
            buf,
        )?;
        body.copy_from_slice(b.as_bytes());
        Ok(self.buffer_len())
    }
}

// ---------------------------------------------------------------------------------------------
// B1h Block Device Characteristics
// ---------------------------------------------------------------------------------------------

/// Bytes 4..64 of the Block Device Characteristics VPD page (SBC-4 6.6.2, Table 231).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct BlockDeviceCharacteristicsBody {
    medium_rotation_rate: U16,
    product_type: u8,
    /// WABEREQ (7..6), WACEREQ (5..4), NOMINAL FORM FACTOR (3..0).
    byte7: u8,
    /// ZONED (5..4), BOCS (2), FUAB (1), VBULS (0).
    byte8: u8,
    reserved: [u8; 55],
}
const _: () = assert!(size_of::<BlockDeviceCharacteristicsBody>() == FIXED_PAGE_LENGTH);

/// MEDIUM ROTATION RATE 0000h: not reported.
pub const ROTATION_RATE_NOT_REPORTED: u16 = 0x0000;
/// MEDIUM ROTATION RATE 0001h: non-rotating medium (solid state); what LIO reports with
/// `is_nonrot`.
pub const ROTATION_RATE_NON_ROTATING: u16 = 0x0001;

/// Block Device Characteristics VPD page, B1h (SBC-4 6.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockDeviceCharacteristics {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// MEDIUM ROTATION RATE (bytes 4..6): [`ROTATION_RATE_NON_ROTATING`], or rpm.
    pub medium_rotation_rate: u16,
    /// PRODUCT TYPE (byte 6): 0 = not indicated.
    pub product_type: u8,
    /// WABEREQ, 2 bits (byte 7 bits 7..6).
    pub wabereq: u8,
    /// WACEREQ, 2 bits (byte 7 bits 5..4).
    pub wacereq: u8,
    /// NOMINAL FORM FACTOR, 4 bits (byte 7 bits 3..0): 0 = not reported.
    pub nominal_form_factor: u8,
    /// ZONED, 2 bits (byte 8 bits 5..4): 0 = not reported, 1 = host aware, 2 = device managed.
    pub zoned: u8,
    /// BOCS: background operation control supported (byte 8 bit 2).
    pub bocs: bool,
    /// FUAB: SYNCHRONIZE CACHE behaves like FUA writes (byte 8 bit 1).
    pub fuab: bool,
    /// VBULS: VERIFY BYTCHK=0 checks unmapped LBAs (byte 8 bit 0).
    pub vbuls: bool,
}

impl BlockDeviceCharacteristics {
    /// The page code.
    pub const PAGE_CODE: u8 = 0xB1;
    const WHAT: &'static str = "Block Device Characteristics VPD page";
}

impl Wire for BlockDeviceCharacteristics {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        let b: BlockDeviceCharacteristicsBody = fixed_body(Self::WHAT, body)?;
        Ok(BlockDeviceCharacteristics {
            peripheral,
            medium_rotation_rate: b.medium_rotation_rate.get(),
            product_type: b.product_type,
            wabereq: b.byte7 >> 6,
            wacereq: (b.byte7 >> 4) & 0b11,
            nominal_form_factor: b.byte7 & 0x0F,
            zoned: (b.byte8 >> 4) & 0b11,
            bocs: is_set(b.byte8, 2),
            fuab: is_set(b.byte8, 1),
            vbuls: is_set(b.byte8, 0),
        })
    }

    fn buffer_len(&self) -> usize {
        VPD_HEADER_LEN + FIXED_PAGE_LENGTH
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(Self::WHAT, buf, self.buffer_len())?;
        let two_bits = [
            ("WABEREQ", self.wabereq, FieldPointer::data(7, Some(7))),
            ("WACEREQ", self.wacereq, FieldPointer::data(7, Some(5))),
            ("ZONED", self.zoned, FieldPointer::data(8, Some(5))),
        ];
        for (field, value, pointer) in two_bits {
            check_max(Self::WHAT, field, u64::from(value), 0b11, pointer)?;
        }
        check_max(
            Self::WHAT,
            "NOMINAL FORM FACTOR",
            u64::from(self.nominal_form_factor),
            0x0F,
            FieldPointer::data(7, Some(3)),
        )?;
        let mut b = BlockDeviceCharacteristicsBody::new_zeroed();
        b.medium_rotation_rate = U16::new(self.medium_rotation_rate);
        b.product_type = self.product_type;
        b.byte7 = (self.wabereq << 6) | (self.wacereq << 4) | self.nominal_form_factor;
        b.byte8 = (self.zoned << 4) | flag(self.bocs, 2) | flag(self.fuab, 1) | flag(self.vbuls, 0);
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            FIXED_PAGE_LENGTH,
            buf,
        )?;
        body.copy_from_slice(b.as_bytes());
        Ok(self.buffer_len())
    }
}

// ---------------------------------------------------------------------------------------------
// B2h Logical Block Provisioning
// ---------------------------------------------------------------------------------------------

/// Bytes 4..8 of the Logical Block Provisioning VPD page (SBC-4 6.6.6, Table 240).
#[repr(C)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
struct LogicalBlockProvisioningBody {
    threshold_exponent: u8,
    /// LBPU (7), LBPWS (6), LBPWS10 (5), LBPRZ (4..2), ANC_SUP (1), DP (0).
    byte5: u8,
    /// MINIMUM PERCENTAGE (7..3), PROVISIONING TYPE (2..0).
    byte6: u8,
    threshold_percentage: u8,
}
const LBP_FIXED_LEN: usize = 4;
const _: () = assert!(size_of::<LogicalBlockProvisioningBody>() == LBP_FIXED_LEN);

/// PROVISIONING TYPE 000b: not reported, or fully provisioned (SBC-4 Table 241).
pub const PROVISIONING_TYPE_NOT_REPORTED: u8 = 0b000;
/// PROVISIONING TYPE 001b: resource provisioned.
pub const PROVISIONING_TYPE_RESOURCE: u8 = 0b001;
/// PROVISIONING TYPE 010b: thin provisioned.
pub const PROVISIONING_TYPE_THIN: u8 = 0b010;

/// Logical Block Provisioning VPD page, B2h (SBC-4 6.6.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogicalBlockProvisioning {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// THRESHOLD EXPONENT (byte 4): 0 = thresholds not supported.
    pub threshold_exponent: u8,
    /// LBPU: UNMAP supported (byte 5 bit 7).
    pub lbpu: bool,
    /// LBPWS: WRITE SAME(16) with UNMAP supported (byte 5 bit 6).
    pub lbpws: bool,
    /// LBPWS10: WRITE SAME(10) with UNMAP supported (byte 5 bit 5).
    pub lbpws10: bool,
    /// LBPRZ, 3 bits in SBC-4 (byte 5 bits 4..2): 001b = unmapped blocks read as zeros.
    pub lbprz: u8,
    /// ANC_SUP: ANCHOR supported (byte 5 bit 1).
    pub anc_sup: bool,
    /// MINIMUM PERCENTAGE, 5 bits (byte 6 bits 7..3).
    pub minimum_percentage: u8,
    /// PROVISIONING TYPE, 3 bits (byte 6 bits 2..0): `PROVISIONING_TYPE_*`.
    pub provisioning_type: u8,
    /// THRESHOLD PERCENTAGE (byte 7).
    pub threshold_percentage: u8,
    /// The provisioning group descriptor (bytes 8..), present exactly when DP is set.
    pub provisioning_group: Option<Designator>,
}

impl LogicalBlockProvisioning {
    /// The page code.
    pub const PAGE_CODE: u8 = 0xB2;
    const WHAT: &'static str = "Logical Block Provisioning VPD page";
}

impl Wire for LogicalBlockProvisioning {
    /// PAGE LENGTH must be at least 4; with DP set, a designation descriptor must follow
    /// within it. Bytes after the fixed fields (DP clear) or the descriptor are ignored.
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_vpd(Self::WHAT, Self::PAGE_CODE, buf)?;
        let (b, rest) = LogicalBlockProvisioningBody::read_from_prefix(body)
            .map_err(|_| invalid(Self::WHAT, "PAGE LENGTH", FieldPointer::data(2, None)))?;
        let provisioning_group = if is_set(b.byte5, 0) {
            if rest.len() < DESIGNATOR_HEADER_LEN {
                return Err(invalid(
                    Self::WHAT,
                    "PAGE LENGTH",
                    FieldPointer::data(2, None),
                ));
            }
            let (d, _) = Designator::read(Self::WHAT, rest)
                .map_err(|e| shift_err(e, VPD_HEADER_LEN + LBP_FIXED_LEN))?;
            Some(d)
        } else {
            None
        };
        Ok(LogicalBlockProvisioning {
            peripheral,
            threshold_exponent: b.threshold_exponent,
            lbpu: is_set(b.byte5, 7),
            lbpws: is_set(b.byte5, 6),
            lbpws10: is_set(b.byte5, 5),
            lbprz: (b.byte5 >> 2) & 0b111,
            anc_sup: is_set(b.byte5, 1),
            minimum_percentage: b.byte6 >> 3,
            provisioning_type: b.byte6 & 0b111,
            threshold_percentage: b.threshold_percentage,
            provisioning_group,
        })
    }

    fn buffer_len(&self) -> usize {
        let descriptor = self.provisioning_group.as_ref().map_or(0, Wire::buffer_len);
        (VPD_HEADER_LEN + LBP_FIXED_LEN).saturating_add(descriptor)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(Self::WHAT, buf, total)?;
        check_max(
            Self::WHAT,
            "LBPRZ",
            u64::from(self.lbprz),
            0b111,
            FieldPointer::data(5, Some(4)),
        )?;
        check_max(
            Self::WHAT,
            "MINIMUM PERCENTAGE",
            u64::from(self.minimum_percentage),
            0x1F,
            FieldPointer::data(6, Some(7)),
        )?;
        check_max(
            Self::WHAT,
            "PROVISIONING TYPE",
            u64::from(self.provisioning_type),
            0b111,
            FieldPointer::data(6, Some(2)),
        )?;
        let b = LogicalBlockProvisioningBody {
            threshold_exponent: self.threshold_exponent,
            byte5: flag(self.lbpu, 7)
                | flag(self.lbpws, 6)
                | flag(self.lbpws10, 5)
                | (self.lbprz << 2)
                | flag(self.anc_sup, 1)
                | flag(self.provisioning_group.is_some(), 0),
            byte6: (self.minimum_percentage << 3) | self.provisioning_type,
            threshold_percentage: self.threshold_percentage,
        };
        let body = emit_vpd(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            total - VPD_HEADER_LEN,
            buf,
        )?;
        let (fixed, rest) = body.split_at_mut(LBP_FIXED_LEN);
        fixed.copy_from_slice(b.as_bytes());
        if let Some(d) = &self.provisioning_group {
            d.emit(rest)
                .map_err(|e| shift_err(e, VPD_HEADER_LEN + LBP_FIXED_LEN))?;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// Any VPD page
// ---------------------------------------------------------------------------------------------

/// Any VPD page, decoded by page code. Pages B0h..B2h are decoded as the SBC-4 pages whatever
/// the peripheral device type (this crate serves disks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpdPage {
    /// 00h.
    SupportedVpdPages(SupportedVpdPages),
    /// 80h.
    UnitSerialNumber(UnitSerialNumber),
    /// 83h.
    DeviceIdentification(DeviceIdentification),
    /// 86h.
    ExtendedInquiryData(ExtendedInquiryData),
    /// B0h.
    BlockLimits(BlockLimits),
    /// B1h.
    BlockDeviceCharacteristics(BlockDeviceCharacteristics),
    /// B2h.
    LogicalBlockProvisioning(LogicalBlockProvisioning),
    /// Any other page, kept as its body. Its page code must not be one decoded above.
    Unknown {
        /// Byte 0.
        peripheral: Peripheral,
        /// PAGE CODE.
        page_code: u8,
        /// The PAGE LENGTH bytes after the header.
        data: Vec<u8>,
    },
}

/// Page codes [`VpdPage`] decodes into their own variants.
const KNOWN_PAGE_CODES: [u8; 7] = [
    SupportedVpdPages::PAGE_CODE,
    UnitSerialNumber::PAGE_CODE,
    DeviceIdentification::PAGE_CODE,
    ExtendedInquiryData::PAGE_CODE,
    BlockLimits::PAGE_CODE,
    BlockDeviceCharacteristics::PAGE_CODE,
    LogicalBlockProvisioning::PAGE_CODE,
];

impl VpdPage {
    const WHAT: &'static str = "VPD page";

    /// The PAGE CODE.
    pub fn page_code(&self) -> u8 {
        match self {
            VpdPage::SupportedVpdPages(_) => SupportedVpdPages::PAGE_CODE,
            VpdPage::UnitSerialNumber(_) => UnitSerialNumber::PAGE_CODE,
            VpdPage::DeviceIdentification(_) => DeviceIdentification::PAGE_CODE,
            VpdPage::ExtendedInquiryData(_) => ExtendedInquiryData::PAGE_CODE,
            VpdPage::BlockLimits(_) => BlockLimits::PAGE_CODE,
            VpdPage::BlockDeviceCharacteristics(_) => BlockDeviceCharacteristics::PAGE_CODE,
            VpdPage::LogicalBlockProvisioning(_) => LogicalBlockProvisioning::PAGE_CODE,
            VpdPage::Unknown { page_code, .. } => *page_code,
        }
    }
}

impl Wire for VpdPage {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, page_code, body) = parse_vpd_any(Self::WHAT, buf)?;
        Ok(match page_code {
            SupportedVpdPages::PAGE_CODE => VpdPage::SupportedVpdPages(Wire::parse(buf)?),
            UnitSerialNumber::PAGE_CODE => VpdPage::UnitSerialNumber(Wire::parse(buf)?),
            DeviceIdentification::PAGE_CODE => VpdPage::DeviceIdentification(Wire::parse(buf)?),
            ExtendedInquiryData::PAGE_CODE => VpdPage::ExtendedInquiryData(Wire::parse(buf)?),
            BlockLimits::PAGE_CODE => VpdPage::BlockLimits(Wire::parse(buf)?),
            BlockDeviceCharacteristics::PAGE_CODE => {
                VpdPage::BlockDeviceCharacteristics(Wire::parse(buf)?)
            }
            LogicalBlockProvisioning::PAGE_CODE => {
                VpdPage::LogicalBlockProvisioning(Wire::parse(buf)?)
            }
            _ => VpdPage::Unknown {
                peripheral,
                page_code,
                data: body.to_vec(),
            },
        })
    }

    fn buffer_len(&self) -> usize {
        match self {
            VpdPage::SupportedVpdPages(p) => p.buffer_len(),
            VpdPage::UnitSerialNumber(p) => p.buffer_len(),
            VpdPage::DeviceIdentification(p) => p.buffer_len(),
            VpdPage::ExtendedInquiryData(p) => p.buffer_len(),
            VpdPage::BlockLimits(p) => p.buffer_len(),
            VpdPage::BlockDeviceCharacteristics(p) => p.buffer_len(),
            VpdPage::LogicalBlockProvisioning(p) => p.buffer_len(),
            VpdPage::Unknown { data, .. } => VPD_HEADER_LEN.saturating_add(data.len()),
        }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            VpdPage::SupportedVpdPages(p) => p.emit(buf),
            VpdPage::UnitSerialNumber(p) => p.emit(buf),
            VpdPage::DeviceIdentification(p) => p.emit(buf),
            VpdPage::ExtendedInquiryData(p) => p.emit(buf),
            VpdPage::BlockLimits(p) => p.emit(buf),
            VpdPage::BlockDeviceCharacteristics(p) => p.emit(buf),
            VpdPage::LogicalBlockProvisioning(p) => p.emit(buf),
            VpdPage::Unknown {
                peripheral,
                page_code,
                data,
            } => {
                check_out(Self::WHAT, buf, self.buffer_len())?;
                if KNOWN_PAGE_CODES.contains(page_code) {
                    return Err(invalid(
                        Self::WHAT,
                        "PAGE CODE",
                        FieldPointer::data(1, None),
                    ));
                }
                let body = emit_vpd(Self::WHAT, *page_code, *peripheral, data.len(), buf)?;
                body.copy_from_slice(data);
                Ok(self.buffer_len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_roundtrip;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn field_of(e: Error) -> (&'static str, FieldPointer) {
        match e {
            Error::InvalidField { field, pointer, .. } => (field, pointer),
            other => panic!("expected InvalidField, got {other:?}"),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Standard INQUIRY
    // -----------------------------------------------------------------------------------------

    /// What LIO returns for a TCMU-backed disk exported over iSCSI, with the default ALUA port
    /// group (SCCS, TPGS 11b) and emulate_3pc on: spc_emulate_inquiry_std() writes VERSION 06h,
    /// ADDITIONAL LENGTH 91 and the SAM-5, iSCSI, SPC-4 and SBC-3 version descriptors.
    fn lio_tcmu_inquiry() -> Vec<u8> {
        let mut v = vec![
            0x00, // PQ 000b, PDT 00h
            0x00, // RMB 0, LU_CONG 0
            0x06, // VERSION: SPC-4
            0x02, // NORMACA 0, HISUP 0, RESPONSE DATA FORMAT 2
            0x5B, // ADDITIONAL LENGTH 91
            0xB8, // SCCS 1, ACC 0, TPGS 11b, 3PC 1, PROTECT 0
            0x00, // ENCSERV 0, MULTIP 0
            0x02, // CMDQUE 1
        ];
        v.extend_from_slice(b"LIO-ORG ");
        v.extend_from_slice(b"TCMU device     ");
        v.extend_from_slice(b"0002");
        v.extend_from_slice(&[0; 22]); // vendor specific 36..56, bytes 56..58
        v.extend_from_slice(&[0x00, 0xA0, 0x09, 0x60, 0x04, 0x60, 0x04, 0xC0]);
        v.extend_from_slice(&[0; 30]); // descriptors 5..8, reserved 74..96
        assert_eq!(v.len(), 96);
        v
    }

    #[test]
    fn lio_standard_inquiry_decodes_field_by_field() {
        let bytes = lio_tcmu_inquiry();
        let inq = StandardInquiry::parse(&bytes).unwrap();
        assert_eq!(inq.peripheral, Peripheral::DISK);
        assert!(!inq.rmb && !inq.lu_cong);
        assert_eq!(inq.hot_pluggable, 0);
        assert_eq!(inq.version, VERSION_SPC4);
        assert!(!inq.normaca && !inq.hisup);
        assert_eq!(inq.response_data_format, 2);
        assert!(inq.sccs && !inq.acc);
        assert_eq!(inq.tpgs, TPGS_BOTH);
        assert!(inq.third_party_copy && !inq.protect);
        assert!(!inq.encserv && !inq.multip);
        assert!(inq.cmdque);
        assert_eq!(inq.vendor_identification(), "LIO-ORG");
        assert_eq!(inq.product_identification(), "TCMU device");
        assert_eq!(inq.product_revision_level(), "0002");
        assert_eq!(inq.vendor_identification.as_bytes(), b"LIO-ORG ");
        assert_eq!(inq.vendor_specific, [0; 20]);
        assert_eq!(
            inq.version_descriptors,
            [
                version_descriptor::SAM5,
                version_descriptor::ISCSI,
                version_descriptor::SPC4,
                version_descriptor::SBC3
            ]
        );
    }

    #[test]
    fn lio_standard_inquiry_emits_the_same_bytes() {
        let mut inq = StandardInquiry::disk("LIO-ORG", "TCMU device", "0002").unwrap();
        inq.version = VERSION_SPC4;
        inq.sccs = true;
        inq.tpgs = TPGS_BOTH;
        inq.third_party_copy = true;
        inq.version_descriptors = vec![
            version_descriptor::SAM5,
            version_descriptor::ISCSI,
            version_descriptor::SPC4,
            version_descriptor::SBC3,
        ];
        assert_eq!(inq.buffer_len(), 96);
        assert_eq!(inq.to_vec(), lio_tcmu_inquiry());
        assert_roundtrip(&inq);
    }

    #[test]
    fn short_standard_inquiry_is_36_bytes_and_padded() {
        let inq = StandardInquiry::disk("LIO", "disk", "1").unwrap();
        let bytes = inq.to_vec();
        let mut expected = vec![0x00, 0x00, 0x07, 0x02, 0x1F, 0x00, 0x00, 0x02];
        expected.extend_from_slice(b"LIO     disk            1   ");
        assert_eq!(bytes, expected);
        assert_eq!(inq.vendor_identification.as_bytes(), b"LIO     ");
        assert_eq!(inq.vendor_identification(), "LIO");
        assert_roundtrip(&inq);

        // Vendor specific data alone selects the long form too.
        let mut long = inq.clone();
        long.vendor_specific[0] = 0x42;
        let bytes = long.to_vec();
        assert_eq!(bytes.len(), 96);
        assert_eq!(bytes[4], 91);
        assert_eq!(bytes[36], 0x42);
        assert_roundtrip(&long);
    }

    #[test]
    fn standard_inquiry_truncated_by_allocation_length() {
        let bytes = lio_tcmu_inquiry();
        let inq = StandardInquiry::parse(&bytes[..36]).unwrap();
        assert!(inq.version_descriptors.is_empty());
        assert_eq!(inq.vendor_identification(), "LIO-ORG");
        // Half of descriptor 2 sent: only whole descriptors count.
        let inq = StandardInquiry::parse(&bytes[..61]).unwrap();
        assert_eq!(inq.version_descriptors, [version_descriptor::SAM5]);
        // ADDITIONAL LENGTH limits what is read even when the buffer is longer.
        let mut short_len = bytes.clone();
        short_len[4] = 31;
        let inq = StandardInquiry::parse(&short_len).unwrap();
        assert!(inq.version_descriptors.is_empty());
        assert!(matches!(
            StandardInquiry::parse(&bytes[..35]),
            Err(Error::Truncated {
                needed: 36,
                actual: 35,
                ..
            })
        ));
    }

    #[test]
    fn standard_inquiry_rejects_bad_identifiers() {
        let cases: [(&str, &str, &str, &str, u16); 6] = [
            ("LIO-ORG-X", "p", "r", "T10 VENDOR IDENTIFICATION", 8),
            ("LIÖ", "p", "r", "T10 VENDOR IDENTIFICATION", 8),
            (
                "v",
                "a product that is too long",
                "r",
                "PRODUCT IDENTIFICATION",
                16,
            ),
            ("v", "tab\there", "r", "PRODUCT IDENTIFICATION", 16),
            ("v", "p", "00002", "PRODUCT REVISION LEVEL", 32),
            ("v", "p", "0\u{7f}", "PRODUCT REVISION LEVEL", 32),
        ];
        for (vendor, product, revision, field, byte) in cases {
            let e = StandardInquiry::disk(vendor, product, revision).unwrap_err();
            assert_eq!(
                e,
                Error::InvalidField {
                    what: "standard INQUIRY data",
                    field,
                    pointer: FieldPointer::data(byte, None),
                },
                "{vendor:?} {product:?} {revision:?}"
            );
        }
        // Exactly full fields are fine.
        let inq = StandardInquiry::disk("12345678", "0123456789abcdef", "wxyz").unwrap();
        assert_eq!(inq.product_identification(), "0123456789abcdef");
    }

    #[test]
    fn standard_inquiry_parse_checks() {
        let mut bytes = lio_tcmu_inquiry();
        bytes[3] = 0x01; // RESPONSE DATA FORMAT 1 (obsolete)
        assert_eq!(
            field_of(StandardInquiry::parse(&bytes).unwrap_err()),
            ("RESPONSE DATA FORMAT", FieldPointer::data(3, Some(3)))
        );
        let mut bytes = lio_tcmu_inquiry();
        bytes[17] = 0x07; // BEL in PRODUCT IDENTIFICATION
        assert_eq!(
            field_of(StandardInquiry::parse(&bytes).unwrap_err()),
            ("PRODUCT IDENTIFICATION", FieldPointer::data(16, None))
        );
        // NUL-terminated identification is valid ASCII data (SPC-5 4.3.1), but not a NUL in
        // the middle.
        let mut bytes = lio_tcmu_inquiry();
        bytes[11..16].fill(0);
        let inq = StandardInquiry::parse(&bytes).unwrap();
        assert_eq!(inq.vendor_identification(), "LIO");
        assert_roundtrip(&inq);
        bytes[13] = b'X';
        assert!(StandardInquiry::parse(&bytes).is_err());
        // Every other bit of bytes 1, 3, 5, 6, 7.
        let mut bytes = lio_tcmu_inquiry();
        bytes[0] = 0x7F;
        bytes[1] = 0xF0;
        bytes[3] = 0x32;
        bytes[5] = 0x49;
        bytes[6] = 0x50;
        bytes[7] = 0x00;
        let inq = StandardInquiry::parse(&bytes).unwrap();
        assert_eq!(inq.peripheral, Peripheral::NO_LUN);
        assert!(inq.rmb && inq.lu_cong && inq.normaca && inq.hisup);
        assert_eq!(inq.hot_pluggable, 3);
        assert!(!inq.sccs && inq.acc && inq.protect && inq.third_party_copy);
        assert_eq!(inq.tpgs, 0);
        assert!(inq.encserv && inq.multip && !inq.cmdque);
        assert_eq!(inq.to_vec(), bytes);
    }

    #[test]
    fn standard_inquiry_emit_checks() {
        let good = StandardInquiry::disk("A", "B", "C").unwrap();
        let mut bad = good.clone();
        bad.tpgs = 4;
        assert_eq!(
            field_of(bad.to_vec_checked()),
            ("TPGS", FieldPointer::data(5, Some(5)))
        );
        let mut bad = good.clone();
        bad.response_data_format = 1;
        assert_eq!(field_of(bad.to_vec_checked()).0, "RESPONSE DATA FORMAT");
        let mut bad = good.clone();
        bad.version_descriptors = vec![1; 9];
        assert_eq!(field_of(bad.to_vec_checked()).0, "VERSION DESCRIPTOR");
        let mut bad = good.clone();
        bad.peripheral.device_type = 0x20;
        assert_eq!(field_of(bad.to_vec_checked()).0, "PERIPHERAL DEVICE TYPE");
        assert_eq!(
            good.emit(&mut [0; 35]),
            Err(Error::BufferTooShort {
                what: "standard INQUIRY data",
                needed: 36,
                actual: 35
            })
        );
    }

    trait EmitChecked {
        fn to_vec_checked(&self) -> Error;
    }
    impl<T: Wire> EmitChecked for T {
        /// Emits into a large enough buffer and returns the (expected) error.
        fn to_vec_checked(&self) -> Error {
            let mut buf = vec![0; self.buffer_len()];
            self.emit(&mut buf).expect_err("emit should have failed")
        }
    }

    #[test]
    fn ascii_field_rules() {
        assert_eq!(AsciiField::<8>::new("LIO").unwrap().as_bytes(), b"LIO     ");
        assert_eq!(AsciiField::<4>::new("").unwrap().as_bytes(), b"    ");
        assert!(AsciiField::<4>::new("12345").is_none());
        assert!(AsciiField::<4>::new("é").is_none());
        assert!(AsciiField::<4>::from_bytes(*b"ab\0\0").is_some());
        assert!(AsciiField::<4>::from_bytes(*b"a\0b\0").is_none());
        assert!(AsciiField::<4>::from_bytes([b'a', 0xFF, b' ', b' ']).is_none());
        assert_eq!(
            AsciiField::<4>::from_bytes(*b"ab\0\0").unwrap().as_str(),
            "ab"
        );
        assert_eq!(AsciiField::<6>::new(" x y").unwrap().as_str(), " x y");
    }

    // -----------------------------------------------------------------------------------------
    // VPD pages: known bytes
    // -----------------------------------------------------------------------------------------

    #[test]
    fn supported_vpd_pages_of_lio() {
        let bytes = [
            0x00, 0x00, 0x00, 0x08, 0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xB3,
        ];
        let page = SupportedVpdPages::parse(&bytes).unwrap();
        assert_eq!(page.peripheral, Peripheral::DISK);
        assert_eq!(page.pages, [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xB3]);
        assert_eq!(page.to_vec(), bytes);
        // A page truncated by the allocation length is an error for the page parsers.
        assert!(matches!(
            SupportedVpdPages::parse(&bytes[..10]),
            Err(Error::Truncated {
                needed: 12,
                actual: 10,
                ..
            })
        ));
        // Extra bytes after the page are not part of it.
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(&[0xEE; 4]);
        assert_eq!(SupportedVpdPages::parse(&longer).unwrap(), page);
    }

    #[test]
    fn unit_serial_number_with_lio_nul_terminator() {
        let serial = "5c3f8e0a-4ac9-4f3a-9b26-2e8d3c5f7a11";
        let mut bytes = vec![0x00, 0x80, 0x00, 0x25];
        bytes.extend_from_slice(serial.as_bytes());
        bytes.push(0);
        let page = UnitSerialNumber::parse(&bytes).unwrap();
        assert_eq!(page.serial(), serial);
        assert_eq!(page.as_bytes().len(), 37);
        assert_eq!(page.to_vec(), bytes);

        let padded = UnitSerialNumber::right_aligned(Peripheral::DISK, "ABC", 8).unwrap();
        assert_eq!(padded.as_bytes(), b"     ABC");
        assert_eq!(padded.serial(), "ABC");
        assert_eq!(
            padded.to_vec(),
            [
                0x00, 0x80, 0x00, 0x08, b' ', b' ', b' ', b' ', b' ', b'A', b'B', b'C'
            ]
        );
        assert!(UnitSerialNumber::right_aligned(Peripheral::DISK, "ABCDEFGHI", 8).is_err());
        assert_eq!(
            field_of(UnitSerialNumber::new(Peripheral::DISK, "serial\n").unwrap_err()),
            ("PRODUCT SERIAL NUMBER", FieldPointer::data(4, None))
        );
        let mut bad = bytes.clone();
        bad[5] = 0x80;
        assert!(UnitSerialNumber::parse(&bad).is_err());
    }

    /// A Device Identification page as LIO builds it for an iSCSI LUN: an NAA 6h designator of
    /// the logical unit (company id 001405h), a T10 vendor ID designator ("LIO-ORG " then
    /// product:serial) and the relative target port identifier with PIV and protocol iSCSI.
    fn lio_device_identification() -> Vec<u8> {
        let mut v = vec![0x00, 0x83, 0x00, 0x38];
        // NAA: code set binary, PIV 0, association LU, type 3, length 16.
        v.extend_from_slice(&[0x01, 0x03, 0x00, 0x10]);
        v.extend_from_slice(&[0x60, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12]);
        v.extend_from_slice(&[0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11]);
        // T10 vendor ID: code set ASCII, association LU, type 1, length 24.
        v.extend_from_slice(&[0x02, 0x01, 0x00, 0x18]);
        v.extend_from_slice(b"LIO-ORG TCMU device:0123");
        // Relative target port: protocol iSCSI (5), binary; PIV 1, association target port
        // (01b), type 4; length 4; identifier 1.
        v.extend_from_slice(&[0x51, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(v.len(), 4 + 0x38);
        v
    }

    #[test]
    fn device_identification_decodes_field_by_field() {
        let bytes = lio_device_identification();
        let page = DeviceIdentification::parse(&bytes).unwrap();
        assert_eq!(page.peripheral, Peripheral::DISK);
        assert_eq!(page.designators.len(), 3);

        let naa = &page.designators[0];
        assert_eq!(naa.protocol_identifier, None);
        assert_eq!(naa.code_set, CodeSet::Binary);
        assert_eq!(naa.association, Association::LogicalUnit);
        assert_eq!(naa.designator.designator_type(), 3);
        assert_eq!(
            naa.designator,
            DesignatorKind::Naa(Naa::IeeeRegisteredExtended {
                company_id: 0x001405,
                vendor_specific: 0xA_BCDE_F012,
                extension: 0x3456_789A_BCDE_F011,
            })
        );
        assert_eq!(
            *naa,
            Designator::naa_ieee_registered_extended(
                0x001405,
                0xA_BCDE_F012,
                0x3456_789A_BCDE_F011
            )
            .unwrap()
        );

        let t10 = &page.designators[1];
        assert_eq!(t10.protocol_identifier, None);
        assert_eq!(t10.code_set, CodeSet::Ascii);
        assert_eq!(t10.association, Association::LogicalUnit);
        match &t10.designator {
            DesignatorKind::T10VendorId {
                vendor,
                vendor_specific,
            } => {
                assert_eq!(vendor.as_str(), "LIO-ORG");
                assert_eq!(vendor_specific, b"TCMU device:0123");
            }
            other => panic!("not a T10 vendor ID: {other:?}"),
        }
        assert_eq!(
            *t10,
            Designator::t10_vendor_id("LIO-ORG", b"TCMU device:0123").unwrap()
        );

        let port = &page.designators[2];
        assert_eq!(port.protocol_identifier, Some(protocol_identifier::ISCSI));
        assert_eq!(port.code_set, CodeSet::Binary);
        assert_eq!(port.association, Association::TargetPort);
        assert_eq!(port.designator, DesignatorKind::RelativeTargetPort(1));
        assert_eq!(
            *port,
            Designator::relative_target_port(Some(protocol_identifier::ISCSI), 1)
        );

        assert_eq!(page.to_vec(), bytes);
        assert_roundtrip(&page);
    }

    #[test]
    fn scsi_name_string_is_nul_terminated_and_padded() {
        // "iqn.2003-01.org.linux-iscsi.t:x" is 31 bytes: one NUL makes 32.
        let name = "iqn.2003-01.org.linux-iscsi.t:x";
        let d = Designator::scsi_name_string(
            Some(protocol_identifier::ISCSI),
            Association::TargetDevice,
            name,
        )
        .unwrap();
        let bytes = d.to_vec();
        assert_eq!(&bytes[..4], &[0x53, 0xA8, 0x00, 0x20]);
        assert_eq!(&bytes[4..35], name.as_bytes());
        assert_eq!(bytes[35], 0);
        assert_eq!(Designator::parse(&bytes).unwrap(), d);
        // 32 bytes of name need a NUL and three more of padding.
        let d =
            Designator::scsi_name_string(None, Association::TargetPort, &"n".repeat(32)).unwrap();
        let bytes = d.to_vec();
        assert_eq!(bytes[3], 36);
        assert_eq!(&bytes[36..], &[0, 0, 0, 0]);
        // Limits: 251 bytes fit (252 with the NUL), 252 do not; no NULs inside.
        assert!(
            Designator::scsi_name_string(None, Association::TargetPort, &"a".repeat(251)).is_ok()
        );
        assert!(
            Designator::scsi_name_string(None, Association::TargetPort, &"a".repeat(252)).is_err()
        );
        assert!(Designator::scsi_name_string(None, Association::TargetPort, "a\0b").is_err());
        // Invalid UTF-8 is rejected on parse.
        let bad = [0x03, 0x08, 0x00, 0x04, b'a', 0xFF, 0x00, 0x00];
        assert_eq!(
            field_of(Designator::parse(&bad).unwrap_err()),
            ("SCSI NAME STRING", FieldPointer::data(4, None))
        );
    }

    #[test]
    fn other_designator_types() {
        let eui = Designator::eui64(0x0011_2233_4455_6677);
        assert_eq!(
            eui.to_vec(),
            [
                0x01, 0x02, 0x00, 0x08, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77
            ]
        );
        let naa5 = Designator::naa_ieee_registered(0x001405, 0xA_BCDE_F012).unwrap();
        assert_eq!(
            naa5.to_vec(),
            [
                0x01, 0x03, 0x00, 0x08, 0x50, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12
            ]
        );
        let tpg = Designator::target_port_group(Some(protocol_identifier::SAS), 0x1234);
        assert_eq!(
            tpg.to_vec(),
            [0x61, 0x95, 0x00, 0x04, 0x00, 0x00, 0x12, 0x34]
        );
        let lug = Designator::logical_unit_group(7);
        assert_eq!(
            lug.to_vec(),
            [0x01, 0x06, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07]
        );
        // A UUID designator (type Ah) and a locally assigned NAA (3h) round trip raw.
        let uuid = [0x01, 0x0A, 0x00, 0x04, 0x10, 0x00, 0xAB, 0xCD];
        let d = Designator::parse(&uuid).unwrap();
        assert_eq!(
            d.designator,
            DesignatorKind::Other {
                designator_type: 0xA,
                bytes: vec![0x10, 0x00, 0xAB, 0xCD]
            }
        );
        assert_eq!(d.to_vec(), uuid);
        let local = [0x01, 0x03, 0x00, 0x08, 0x31, 2, 3, 4, 5, 6, 7, 8];
        let d = Designator::parse(&local).unwrap();
        assert_eq!(
            d.designator,
            DesignatorKind::Naa(Naa::Other(local[4..].to_vec()))
        );
        assert_eq!(d.to_vec(), local);
        // A reserved code set survives.
        let reserved = [0x0F, 0x00, 0x00, 0x01, 0x42];
        let d = Designator::parse(&reserved).unwrap();
        assert_eq!(d.code_set, CodeSet::Reserved(0xF));
        assert_eq!(d.to_vec(), reserved);
    }

    #[test]
    fn designator_constructors_reject_out_of_range() {
        let e = Designator::naa_ieee_registered_extended(0x100_0000, 0, 0).unwrap_err();
        assert_eq!(
            field_of(e),
            ("IEEE COMPANY_ID", FieldPointer::data(4, Some(3)))
        );
        let e = Designator::naa_ieee_registered_extended(0x001405, 1 << 36, 0).unwrap_err();
        assert_eq!(
            field_of(e),
            ("VENDOR SPECIFIC IDENTIFIER", FieldPointer::data(7, Some(3)))
        );
        assert!(Designator::naa_ieee_registered(0xFF_FFFF, 0xF_FFFF_FFFF).is_ok());
        assert!(Designator::naa_ieee_registered(0xFF_FFFF, 0x10_0000_0000).is_err());
        assert!(Designator::t10_vendor_id("TOO-LONG-", b"").is_err());
        assert!(Designator::t10_vendor_id("V", &[0; 248]).is_err());
        assert!(Designator::t10_vendor_id("V", &[0; 247]).is_ok());
        // Emit refuses values whose parse would give something else.
        let mut d = Designator::eui64(1);
        d.designator = DesignatorKind::Eui64(vec![0; 9]);
        assert_eq!(field_of(d.to_vec_checked()).0, "DESIGNATOR LENGTH");
        d.designator = DesignatorKind::Naa(Naa::Other(vec![0x50; 8]));
        assert_eq!(field_of(d.to_vec_checked()).0, "NAA");
        d.designator = DesignatorKind::Other {
            designator_type: 4,
            bytes: vec![0; 4],
        };
        assert_eq!(field_of(d.to_vec_checked()).0, "DESIGNATOR TYPE");
        d.designator = DesignatorKind::RelativeTargetPort(1);
        d.protocol_identifier = Some(0x10);
        assert_eq!(field_of(d.to_vec_checked()).0, "PROTOCOL IDENTIFIER");
        d.protocol_identifier = None;
        d.code_set = CodeSet::Reserved(2);
        assert_eq!(field_of(d.to_vec_checked()).0, "CODE SET");
    }

    #[test]
    fn device_identification_walk_errors() {
        // The descriptor claims 16 bytes but the page holds 8 more after its header.
        let mut bytes = vec![0x00, 0x83, 0x00, 0x0C, 0x01, 0x03, 0x00, 0x10];
        bytes.extend_from_slice(&[0x60, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12]);
        assert_eq!(
            DeviceIdentification::parse(&bytes).unwrap_err(),
            Error::InvalidField {
                what: "Device Identification VPD page",
                field: "DESIGNATOR LENGTH",
                pointer: FieldPointer::data(7, None),
            }
        );
        // Same with the buffer holding the rest: the page length still bounds the walk.
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(
            field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
            ("DESIGNATOR LENGTH", FieldPointer::data(7, None))
        );
        // The second descriptor overruns: pointer at its byte 3 (page offset 4 + 8 + 3).
        let bytes = [
            0x00, 0x83, 0x00, 0x0E, 0x01, 0x06, 0x00, 0x04, 0, 0, 0, 1, 0x01, 0x04, 0x00, 0x09, 0,
            0,
        ];
        assert_eq!(
            field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
            ("DESIGNATOR LENGTH", FieldPointer::data(15, None))
        );
        // Two stray bytes after the last descriptor.
        let bytes = [
            0x00, 0x83, 0x00, 0x0A, 0x01, 0x06, 0x00, 0x04, 0, 0, 0, 1, 0, 0,
        ];
        assert_eq!(
            field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
            ("PAGE LENGTH", FieldPointer::data(2, None))
        );
        // Association 11b is reserved.
        let bytes = [0x00, 0x83, 0x00, 0x08, 0x01, 0x34, 0x00, 0x04, 0, 0, 0, 1];
        assert_eq!(
            field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
            ("ASSOCIATION", FieldPointer::data(5, Some(5)))
        );
        // A relative target port designator must be 4 bytes.
        let bytes = [0x00, 0x83, 0x00, 0x06, 0x01, 0x14, 0x00, 0x02, 0, 1];
        assert_eq!(
            field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
            ("DESIGNATOR LENGTH", FieldPointer::data(7, None))
        );
        // An empty page is fine.
        let page = DeviceIdentification::parse(&[0x00, 0x83, 0x00, 0x00]).unwrap();
        assert!(page.designators.is_empty());
    }

    #[test]
    fn extended_inquiry_data_of_lio_and_every_field() {
        // LIO with write cache emulation: HEADSUP, ORDSUP, SIMPSUP, V_SUP.
        let mut bytes = vec![0x00, 0x86, 0x00, 0x3C, 0x00, 0x07, 0x01];
        bytes.resize(64, 0);
        let page = ExtendedInquiryData::parse(&bytes).unwrap();
        assert_eq!(
            page,
            ExtendedInquiryData {
                headsup: true,
                ordsup: true,
                simpsup: true,
                v_sup: true,
                ..Default::default()
            }
        );
        assert_eq!(page.to_vec(), bytes);

        let mut bytes = vec![
            0x00, 0x86, 0x00, 0x3C, //
            0x1D, // SPT 011b, GRD_CHK, REF_CHK
            0x3A, // UASK_SUP, GROUP_SUP, PRIOR_SUP, ORDSUP
            0x0E, // WU_SUP, CRD_SUP, NV_SUP
            0x11, // P_I_I_SUP, LUICLR
            0x11, // R_SUP, CBCS
            0x05, // MULTI I_T NEXUS MICROCODE DOWNLOAD
            0x01, 0x2C, // 300 minutes
            0xE0, // POA_SUP, HRA_SUP, VSA_SUP
            0xFC, // MAXIMUM SUPPORTED SENSE DATA LENGTH
        ];
        bytes.resize(64, 0);
        let page = ExtendedInquiryData::parse(&bytes).unwrap();
        assert_eq!(page.spt, 3);
        assert!(page.grd_chk && !page.app_chk && page.ref_chk);
        assert!(page.uask_sup && page.group_sup && page.prior_sup);
        assert!(!page.headsup && page.ordsup && !page.simpsup);
        assert!(page.wu_sup && page.crd_sup && page.nv_sup && !page.v_sup);
        assert!(page.p_i_i_sup && page.luiclr);
        assert!(page.r_sup && page.cbcs);
        assert_eq!(page.multi_it_nexus_microcode_download, 5);
        assert_eq!(page.extended_self_test_completion_minutes, 300);
        assert!(page.poa_sup && page.hra_sup && page.vsa_sup);
        assert_eq!(page.maximum_supported_sense_data_length, 252);
        assert_eq!(page.to_vec(), bytes);

        let bad = ExtendedInquiryData { spt: 8, ..page };
        assert_eq!(
            field_of(bad.to_vec_checked()),
            ("SPT", FieldPointer::data(4, Some(5)))
        );
    }

    #[test]
    fn block_limits_with_and_without_thin_provisioning() {
        // LIO without TPU/TPWS: PAGE LENGTH 10h, WSNZ, CAW 1, granularity 1, 8192, 128.
        let short = [
            0x00, 0xB0, 0x00, 0x10, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
            0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
        ];
        let page = BlockLimits::parse(&short).unwrap();
        assert_eq!(
            page,
            BlockLimits {
                wsnz: true,
                maximum_compare_and_write_length: 1,
                optimal_transfer_length_granularity: 1,
                maximum_transfer_length: 8192,
                optimal_transfer_length: 128,
                ..Default::default()
            }
        );
        // Emitted in the full SBC-4 length.
        let full = page.to_vec();
        assert_eq!(full.len(), 64);
        assert_eq!(&full[..4], &[0x00, 0xB0, 0x00, 0x3C]);
        assert_eq!(&full[4..20], &short[4..]);
        assert!(full[20..].iter().all(|&b| b == 0));

        let mut bytes = vec![0x00, 0xB0, 0x00, 0x3C, 0x01, 0x01, 0x00, 0x08];
        for v in [0x0000_4000u32, 0x100, 0x200, 0x0040_0000, 0x100, 8] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        bytes.extend_from_slice(&(0x8000_0002u32).to_be_bytes()); // UGAVALID, alignment 2
        bytes.extend_from_slice(&0x0000_0000_0001_0000u64.to_be_bytes());
        for v in [0x80u32, 4, 2, 0x40, 0x20] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(bytes.len(), 64);
        let page = BlockLimits::parse(&bytes).unwrap();
        assert!(page.wsnz);
        assert_eq!(page.maximum_compare_and_write_length, 1);
        assert_eq!(page.optimal_transfer_length_granularity, 8);
        assert_eq!(page.maximum_transfer_length, 0x4000);
        assert_eq!(page.optimal_transfer_length, 0x100);
        assert_eq!(page.maximum_prefetch_length, 0x200);
        assert_eq!(page.maximum_unmap_lba_count, 0x40_0000);
        assert_eq!(page.maximum_unmap_block_descriptor_count, 0x100);
        assert_eq!(page.optimal_unmap_granularity, 8);
        assert_eq!(page.unmap_granularity_alignment, Some(2));
        assert_eq!(page.maximum_write_same_length, 0x1_0000);
        assert_eq!(page.maximum_atomic_transfer_length, 0x80);
        assert_eq!(page.atomic_alignment, 4);
        assert_eq!(page.atomic_transfer_length_granularity, 2);
        assert_eq!(
            page.maximum_atomic_transfer_length_with_atomic_boundary,
            0x40
        );
        assert_eq!(page.maximum_atomic_boundary_size, 0x20);
        assert_eq!(page.to_vec(), bytes);

        let bad = BlockLimits {
            unmap_granularity_alignment: Some(0x8000_0000),
            ..page
        };
        assert_eq!(
            field_of(bad.to_vec_checked()).0,
            "UNMAP GRANULARITY ALIGNMENT"
        );
        // Wrong page code.
        let mut b1 = bytes.clone();
        b1[1] = 0xB1;
        assert_eq!(
            field_of(BlockLimits::parse(&b1).unwrap_err()),
            ("PAGE CODE", FieldPointer::data(1, None))
        );
    }

    #[test]
    fn block_device_characteristics_bytes() {
        // LIO with is_nonrot.
        let mut bytes = vec![0x00, 0xB1, 0x00, 0x3C, 0x00, 0x01];
        bytes.resize(64, 0);
        let page = BlockDeviceCharacteristics::parse(&bytes).unwrap();
        assert_eq!(page.medium_rotation_rate, ROTATION_RATE_NON_ROTATING);
        assert_eq!(
            page,
            BlockDeviceCharacteristics {
                medium_rotation_rate: 1,
                ..Default::default()
            }
        );
        assert_eq!(page.to_vec(), bytes);

        // 7200 rpm, product type 0, WABEREQ 01b, WACEREQ 10b, 2.5", ZONED 10b, BOCS, FUAB, VBULS.
        let mut bytes = vec![0x00, 0xB1, 0x00, 0x3C, 0x1C, 0x20, 0x00, 0x63, 0x27];
        bytes.resize(64, 0);
        let page = BlockDeviceCharacteristics::parse(&bytes).unwrap();
        assert_eq!(page.medium_rotation_rate, 7200);
        assert_eq!(page.product_type, 0);
        assert_eq!(page.wabereq, 1);
        assert_eq!(page.wacereq, 2);
        assert_eq!(page.nominal_form_factor, 3);
        assert_eq!(page.zoned, 2);
        assert!(page.bocs && page.fuab && page.vbuls);
        assert_eq!(page.to_vec(), bytes);
        let bad = BlockDeviceCharacteristics { zoned: 4, ..page };
        assert_eq!(
            field_of(bad.to_vec_checked()),
            ("ZONED", FieldPointer::data(8, Some(5)))
        );
    }

    #[test]
    fn logical_block_provisioning_bytes() {
        // LIO with emulate_tpu, emulate_tpws and unmap_zeroes_data.
        let bytes = [0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x00, 0x00];
        let page = LogicalBlockProvisioning::parse(&bytes).unwrap();
        assert_eq!(
            page,
            LogicalBlockProvisioning {
                lbpu: true,
                lbpws: true,
                lbpws10: true,
                lbprz: 1,
                ..Default::default()
            }
        );
        assert_eq!(page.to_vec(), bytes);

        // DP with an NAA 5h provisioning group descriptor; minimum percentage 10, thin.
        let bytes = [
            0x00, 0xB2, 0x00, 0x10, 0x08, 0x1B, 0x52, 0x50, 0x01, 0x03, 0x00, 0x08, 0x50, 0x01,
            0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12,
        ];
        let page = LogicalBlockProvisioning::parse(&bytes).unwrap();
        assert_eq!(page.threshold_exponent, 8);
        assert!(!page.lbpu && !page.lbpws && !page.lbpws10);
        assert_eq!(page.lbprz, 0b110);
        assert!(page.anc_sup);
        assert_eq!(page.minimum_percentage, 10);
        assert_eq!(page.provisioning_type, PROVISIONING_TYPE_THIN);
        assert_eq!(page.threshold_percentage, 0x50);
        assert_eq!(
            page.provisioning_group,
            Some(Designator::naa_ieee_registered(0x001405, 0xA_BCDE_F012).unwrap())
        );
        assert_eq!(page.to_vec(), bytes);

        // DP set but no room for the descriptor, or a descriptor overrunning the page.
        let bytes = [0x00, 0xB2, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00];
        assert_eq!(
            field_of(LogicalBlockProvisioning::parse(&bytes).unwrap_err()).0,
            "PAGE LENGTH"
        );
        let bytes = [
            0x00, 0xB2, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x01, 0x03, 0x00, 0x08,
        ];
        assert_eq!(
            field_of(LogicalBlockProvisioning::parse(&bytes).unwrap_err()),
            ("DESIGNATOR LENGTH", FieldPointer::data(11, None))
        );
        // PAGE LENGTH below 4.
        let bytes = [0x00, 0xB2, 0x00, 0x02, 0x00, 0x00];
        assert!(LogicalBlockProvisioning::parse(&bytes).is_err());
        let bad = LogicalBlockProvisioning {
            provisioning_type: 8,
            ..Default::default()
        };
        assert_eq!(field_of(bad.to_vec_checked()).0, "PROVISIONING TYPE");
    }

    #[test]
    fn vpd_page_dispatch() {
        let mut inquiry_data = vec![0x00, 0x86, 0x00, 0x3C];
        inquiry_data.resize(64, 0);
        let cases: [(Vec<u8>, u8); 4] = [
            (vec![0x00, 0x00, 0x00, 0x02, 0x00, 0x83], 0x00),
            (lio_device_identification(), 0x83),
            (inquiry_data, 0x86),
            (vec![0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x00, 0x00], 0xB2),
        ];
        for (bytes, code) in cases {
            let page = VpdPage::parse(&bytes).unwrap();
            assert_eq!(page.page_code(), code);
            assert_eq!(page.to_vec(), bytes);
        }
        assert!(matches!(
            VpdPage::parse(&lio_device_identification()).unwrap(),
            VpdPage::DeviceIdentification(_)
        ));
        // Third-party Copy (8Fh) is not decoded: kept whole.
        let bytes = [0x00, 0x8F, 0x00, 0x03, 1, 2, 3];
        let page = VpdPage::parse(&bytes).unwrap();
        assert_eq!(
            page,
            VpdPage::Unknown {
                peripheral: Peripheral::DISK,
                page_code: 0x8F,
                data: vec![1, 2, 3]
            }
        );
        assert_eq!(page.to_vec(), bytes);
        let pretend = VpdPage::Unknown {
            peripheral: Peripheral::DISK,
            page_code: 0xB0,
            data: vec![],
        };
        assert_eq!(field_of(pretend.to_vec_checked()).0, "PAGE CODE");
        // Errors from the page parsers come through.
        assert!(VpdPage::parse(&[0x00, 0x83, 0x00, 0x02, 0x01, 0x03]).is_err());
    }

    // -----------------------------------------------------------------------------------------
    // proptest
    // -----------------------------------------------------------------------------------------

    fn peripheral() -> impl Strategy<Value = Peripheral> {
        (0u8..8, 0u8..32).prop_map(|(qualifier, device_type)| Peripheral {
            qualifier,
            device_type,
        })
    }

    fn ascii<const N: usize>() -> impl Strategy<Value = AsciiField<N>> {
        (vec(0x20u8..=0x7E, 0..=N), any::<bool>()).prop_map(|(text, nul_padded)| {
            let mut bytes = [if nul_padded { 0 } else { b' ' }; N];
            bytes[..text.len()].copy_from_slice(&text);
            AsciiField::from_bytes(bytes).unwrap()
        })
    }

    prop_compose! {
        fn standard_inquiry()(
            peripheral in peripheral(),
            flags in any::<[bool; 11]>(),
            hot_pluggable in 0u8..4,
            version in any::<u8>(),
            tpgs in 0u8..4,
            vendor in ascii::<8>(),
            product in ascii::<16>(),
            revision in ascii::<4>(),
            vendor_specific in prop_oneof![Just([0u8; 20]), any::<[u8; 20]>()],
            mut version_descriptors in vec(any::<u16>(), 0..=8),
        ) -> StandardInquiry {
            while version_descriptors.last() == Some(&0) {
                version_descriptors.pop();
            }
            let [rmb, lu_cong, normaca, hisup, sccs, acc, third_party_copy, protect, encserv,
                 multip, cmdque] = flags;
            StandardInquiry {
                peripheral, rmb, lu_cong, hot_pluggable, version, normaca, hisup,
                response_data_format: RESPONSE_DATA_FORMAT, sccs, acc, tpgs, third_party_copy,
                protect, encserv, multip, cmdque,
                vendor_identification: vendor,
                product_identification: product,
                product_revision_level: revision,
                vendor_specific, version_descriptors,
            }
        }
    }

    fn designator_kind() -> impl Strategy<Value = DesignatorKind> {
        prop_oneof![
            (ascii::<8>(), vec(any::<u8>(), 0..=247)).prop_map(|(vendor, vendor_specific)| {
                DesignatorKind::T10VendorId {
                    vendor,
                    vendor_specific,
                }
            }),
            prop_oneof![Just(8usize), Just(12), Just(16)]
                .prop_flat_map(|n| vec(any::<u8>(), n))
                .prop_map(DesignatorKind::Eui64),
            (0..=COMPANY_ID_MAX, 0..=NAA_VENDOR_SPECIFIC_MAX).prop_map(
                |(company_id, vendor_specific)| DesignatorKind::Naa(Naa::IeeeRegistered {
                    company_id,
                    vendor_specific
                })
            ),
            (
                0..=COMPANY_ID_MAX,
                0..=NAA_VENDOR_SPECIFIC_MAX,
                any::<u64>()
            )
                .prop_map(|(company_id, vendor_specific, extension)| {
                    DesignatorKind::Naa(Naa::IeeeRegisteredExtended {
                        company_id,
                        vendor_specific,
                        extension,
                    })
                }),
            (prop_oneof![0u8..5, 7u8..16], vec(any::<u8>(), 1..=255)).prop_map(
                |(naa, mut bytes)| {
                    bytes[0] = (naa << 4) | (bytes[0] & 0x0F);
                    DesignatorKind::Naa(Naa::Other(bytes))
                }
            ),
            any::<u16>().prop_map(DesignatorKind::RelativeTargetPort),
            any::<u16>().prop_map(DesignatorKind::TargetPortGroup),
            any::<u16>().prop_map(DesignatorKind::LogicalUnitGroup),
            "[^\u{0}]{0,60}".prop_map(DesignatorKind::ScsiNameString),
            (
                prop_oneof![Just(0u8), Just(7u8), 9u8..16],
                vec(any::<u8>(), 0..=255)
            )
                .prop_map(|(designator_type, bytes)| DesignatorKind::Other {
                    designator_type,
                    bytes
                }),
        ]
    }

    fn designator() -> impl Strategy<Value = Designator> {
        (
            proptest::option::of(0u8..16),
            prop_oneof![
                Just(CodeSet::Binary),
                Just(CodeSet::Ascii),
                Just(CodeSet::Utf8),
                Just(CodeSet::Reserved(0)),
                (4u8..16).prop_map(CodeSet::Reserved),
            ],
            prop_oneof![
                Just(Association::LogicalUnit),
                Just(Association::TargetPort),
                Just(Association::TargetDevice),
            ],
            designator_kind(),
        )
            .prop_map(|(protocol_identifier, code_set, association, designator)| {
                Designator {
                    protocol_identifier,
                    code_set,
                    association,
                    designator,
                }
            })
    }

    fn supported_vpd_pages() -> impl Strategy<Value = SupportedVpdPages> {
        (peripheral(), vec(any::<u8>(), 0..300))
            .prop_map(|(peripheral, pages)| SupportedVpdPages { peripheral, pages })
    }

    fn unit_serial_number() -> impl Strategy<Value = UnitSerialNumber> {
        (peripheral(), vec(0x20u8..=0x7E, 0..100), 0usize..4).prop_map(
            |(peripheral, mut serial, nuls)| {
                serial.resize(serial.len() + nuls, 0);
                UnitSerialNumber::from_bytes(peripheral, &serial).unwrap()
            },
        )
    }

    fn device_identification() -> impl Strategy<Value = DeviceIdentification> {
        (peripheral(), vec(designator(), 0..6)).prop_map(|(peripheral, designators)| {
            DeviceIdentification {
                peripheral,
                designators,
            }
        })
    }

    prop_compose! {
        fn extended_inquiry_data()(
            peripheral in peripheral(),
            spt in 0u8..8,
            f in any::<[bool; 21]>(),
            multi_it_nexus_microcode_download in 0u8..16,
            extended_self_test_completion_minutes in any::<u16>(),
            maximum_supported_sense_data_length in any::<u8>(),
        ) -> ExtendedInquiryData {
            ExtendedInquiryData {
                peripheral, spt,
                grd_chk: f[0], app_chk: f[1], ref_chk: f[2], uask_sup: f[3], group_sup: f[4],
                prior_sup: f[5], headsup: f[6], ordsup: f[7], simpsup: f[8], wu_sup: f[9],
                crd_sup: f[10], nv_sup: f[11], v_sup: f[12], p_i_i_sup: f[13], luiclr: f[14],
                r_sup: f[15], cbcs: f[16], poa_sup: f[17], hra_sup: f[18], vsa_sup: f[19],
                multi_it_nexus_microcode_download, extended_self_test_completion_minutes,
                maximum_supported_sense_data_length,
            }
        }
    }

    prop_compose! {
        fn block_limits()(
            peripheral in peripheral(),
            wsnz in any::<bool>(),
            maximum_compare_and_write_length in any::<u8>(),
            optimal_transfer_length_granularity in any::<u16>(),
            u in any::<[u32; 11]>(),
            unmap_granularity_alignment in proptest::option::of(0u32..=0x7FFF_FFFF),
            maximum_write_same_length in any::<u64>(),
        ) -> BlockLimits {
            BlockLimits {
                peripheral, wsnz, maximum_compare_and_write_length,
                optimal_transfer_length_granularity,
                maximum_transfer_length: u[0], optimal_transfer_length: u[1],
                maximum_prefetch_length: u[2], maximum_unmap_lba_count: u[3],
                maximum_unmap_block_descriptor_count: u[4], optimal_unmap_granularity: u[5],
                unmap_granularity_alignment, maximum_write_same_length,
                maximum_atomic_transfer_length: u[6], atomic_alignment: u[7],
                atomic_transfer_length_granularity: u[8],
                maximum_atomic_transfer_length_with_atomic_boundary: u[9],
                maximum_atomic_boundary_size: u[10],
            }
        }
    }

    prop_compose! {
        fn block_device_characteristics()(
            peripheral in peripheral(),
            medium_rotation_rate in any::<u16>(),
            product_type in any::<u8>(),
            wabereq in 0u8..4,
            wacereq in 0u8..4,
            nominal_form_factor in 0u8..16,
            zoned in 0u8..4,
            f in any::<[bool; 3]>(),
        ) -> BlockDeviceCharacteristics {
            BlockDeviceCharacteristics {
                peripheral, medium_rotation_rate, product_type, wabereq, wacereq,
                nominal_form_factor, zoned, bocs: f[0], fuab: f[1], vbuls: f[2],
            }
        }
    }

    prop_compose! {
        fn logical_block_provisioning()(
            peripheral in peripheral(),
            threshold_exponent in any::<u8>(),
            f in any::<[bool; 4]>(),
            lbprz in 0u8..8,
            minimum_percentage in 0u8..32,
            provisioning_type in 0u8..8,
            threshold_percentage in any::<u8>(),
            provisioning_group in proptest::option::of(designator()),
        ) -> LogicalBlockProvisioning {
            LogicalBlockProvisioning {
                peripheral, threshold_exponent, lbpu: f[0], lbpws: f[1], lbpws10: f[2], lbprz,
                anc_sup: f[3], minimum_percentage, provisioning_type, threshold_percentage,
                provisioning_group,
            }
        }
    }

    fn vpd_page() -> impl Strategy<Value = VpdPage> {
        prop_oneof![
            supported_vpd_pages().prop_map(VpdPage::SupportedVpdPages),
            unit_serial_number().prop_map(VpdPage::UnitSerialNumber),
            device_identification().prop_map(VpdPage::DeviceIdentification),
            extended_inquiry_data().prop_map(VpdPage::ExtendedInquiryData),
            block_limits().prop_map(VpdPage::BlockLimits),
            block_device_characteristics().prop_map(VpdPage::BlockDeviceCharacteristics),
            logical_block_provisioning().prop_map(VpdPage::LogicalBlockProvisioning),
            (
                peripheral(),
                any::<u8>().prop_filter("decoded page code", |c| !KNOWN_PAGE_CODES.contains(c)),
                vec(any::<u8>(), 0..300)
            )
                .prop_map(|(peripheral, page_code, data)| VpdPage::Unknown {
                    peripheral,
                    page_code,
                    data
                }),
        ]
    }

    /// Arbitrary bytes, and arbitrary bytes framed as a VPD page of `page_code` whose PAGE
    /// LENGTH matches the buffer (so the body parsers are reached).
    fn fuzz_input(page_code: u8) -> impl Strategy<Value = Vec<u8>> {
        (vec(any::<u8>(), 0..300), 0u8..3).prop_map(move |(mut bytes, mode)| {
            if mode > 0 && bytes.len() >= 4 {
                bytes[1] = page_code;
                if mode == 2 {
                    let len = u16::try_from(bytes.len() - 4).unwrap();
                    bytes[2..4].copy_from_slice(&len.to_be_bytes());
                }
            }
            bytes
        })
    }

    proptest! {
        #[test]
        fn standard_inquiry_roundtrips(x in standard_inquiry()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn designator_roundtrips(x in designator()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn supported_vpd_pages_roundtrip(x in supported_vpd_pages()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn unit_serial_number_roundtrips(x in unit_serial_number()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn device_identification_roundtrips(x in device_identification()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn extended_inquiry_data_roundtrips(x in extended_inquiry_data()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn block_limits_roundtrip(x in block_limits()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn block_device_characteristics_roundtrip(x in block_device_characteristics()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn logical_block_provisioning_roundtrips(x in logical_block_provisioning()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn vpd_page_roundtrips(x in vpd_page()) {
            assert_roundtrip(&x);
            let bytes = x.to_vec();
            prop_assert_eq!(bytes[1], x.page_code());
        }

        #[test]
        fn standard_inquiry_parse_never_panics(bytes in vec(any::<u8>(), 0..300)) {
            let _ = StandardInquiry::parse(&bytes);
        }

        #[test]
        fn designator_parse_never_panics(bytes in vec(any::<u8>(), 0..300)) {
            let _ = Designator::parse(&bytes);
        }

        #[test]
        fn supported_vpd_pages_parse_never_panics(bytes in fuzz_input(0x00)) {
            let _ = SupportedVpdPages::parse(&bytes);
        }

        #[test]
        fn unit_serial_number_parse_never_panics(bytes in fuzz_input(0x80)) {
            let _ = UnitSerialNumber::parse(&bytes);
        }

        #[test]
        fn device_identification_parse_never_panics(bytes in fuzz_input(0x83)) {
            // Whatever it decodes must emit again without panicking.
            if let Ok(page) = DeviceIdentification::parse(&bytes) {
                let _ = page.emit(&mut vec![0; page.buffer_len()]);
            }
        }

        #[test]
        fn extended_inquiry_data_parse_never_panics(bytes in fuzz_input(0x86)) {
            let _ = ExtendedInquiryData::parse(&bytes);
        }

        #[test]
        fn block_limits_parse_never_panics(bytes in fuzz_input(0xB0)) {
            let _ = BlockLimits::parse(&bytes);
        }

        #[test]
        fn block_device_characteristics_parse_never_panics(bytes in fuzz_input(0xB1)) {
            let _ = BlockDeviceCharacteristics::parse(&bytes);
        }

        #[test]
        fn logical_block_provisioning_parse_never_panics(bytes in fuzz_input(0xB2)) {
            let _ = LogicalBlockProvisioning::parse(&bytes);
        }

        #[test]
        fn vpd_page_parse_never_panics(
            bytes in prop_oneof![
                fuzz_input(0x00), fuzz_input(0x80), fuzz_input(0x83), fuzz_input(0x86),
                fuzz_input(0xB0), fuzz_input(0xB1), fuzz_input(0xB2), fuzz_input(0x8F),
            ]
        ) {
            if let Ok(page) = VpdPage::parse(&bytes) {
                let _ = page.emit(&mut vec![0; page.buffer_len()]);
            }
        }
    }
}
