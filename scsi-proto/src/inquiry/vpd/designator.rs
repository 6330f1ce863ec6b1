use crate::bits::{Layout, Spec, layout};
use crate::error::{invalid, within, zeroed_out};
use crate::inquiry::{AsciiField, PAGE_LENGTH};
use crate::{Error, FieldPointer, Location, Result, Wire};

/// What a designation descriptor's errors name.
pub(super) const WHAT: &str = "designation descriptor";

consts! { u8;
    CODE_SET_BINARY = 0x1, "CODE SET: binary values.";
    CODE_SET_ASCII = 0x2, "CODE SET: printable ASCII.";
    CODE_SET_UTF8 = 0x3, "CODE SET: UTF-8 (0h and 4h..=Fh are reserved).";
}

/// ASSOCIATION of a designation descriptor; 11b is reserved and rejected by parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Association {
    /// 00b: the addressed logical unit.
    LogicalUnit,
    /// 01b: the target port that received the command.
    TargetPort,
    /// 10b: the SCSI target device containing the logical unit.
    TargetDevice,
}

layout! {
    /// The header of a designation descriptor (SPC-5 Table 573).
    struct Header: "designation descriptor", 4 {
        protocol_identifier: u8 = "PROTOCOL IDENTIFIER" (0, 4, 4),
        code_set: u8 = "CODE SET" (0, 0, 4),
        piv: bool = "PIV" (1, 7, 1),
        association: u8 = "ASSOCIATION" (1, 4, 2),
        designator_type: u8 = "DESIGNATOR TYPE" (1, 0, 4),
        /// Wider than its field, so a designator too long for it fails the range check.
        designator_length: u16 = "DESIGNATOR LENGTH" (3, 0, 8),
    }
}

layout! {
    /// An NAA 5h designator (bytes 0..8) or NAA 6h designator (bytes 0..16) (SPC-5 7.7.6.6).
    struct NaaFields: "designation descriptor", 16 {
        naa: u8 = "NAA" (0, 4, 4),
        company_id: u32 = "IEEE COMPANY_ID" (0, 4, 24),
        vendor_specific: u64 = "VENDOR SPECIFIC IDENTIFIER" (3, 0, 36),
        extension: u64 = "VENDOR SPECIFIC IDENTIFIER EXTENSION" (8, 0, 64),
    }
}

/// The identifier of the 4-byte designators of types 4h, 5h and 6h.
const SHORT_IDENTIFIER: Spec = Spec::new("IDENTIFIER", 2, 0, 16);

const BAD_LENGTH: Error = invalid(WHAT, "DESIGNATOR LENGTH", FieldPointer::data(3, None));

/// The error for a field at the start of the designator (byte 4 of the descriptor).
fn bad_designator(field: &'static str) -> Error {
    invalid(WHAT, field, FieldPointer::data(4, None))
}

/// NAA designator formats (SPC-5 7.7.6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naa {
    /// NAA 5h, IEEE Registered (8 bytes).
    IeeeRegistered {
        /// IEEE COMPANY_ID (OUI), 24 bits.
        company_id: u32,
        /// VENDOR SPECIFIC IDENTIFIER, 36 bits.
        vendor_specific: u64,
    },
    /// NAA 6h, IEEE Registered Extended (16 bytes): what LIO reports (company id 001405h).
    IeeeRegisteredExtended {
        /// IEEE COMPANY_ID (OUI), 24 bits.
        company_id: u32,
        /// VENDOR SPECIFIC IDENTIFIER, 36 bits.
        vendor_specific: u64,
        /// VENDOR SPECIFIC IDENTIFIER EXTENSION.
        extension: u64,
    },
    /// Any other NAA: the designator's bytes, NAA nibble included; not empty, not 5h or 6h.
    Other(Vec<u8>),
}

impl Naa {
    /// Checks the fields' ranges (the pointers are in the descriptor) and writes `out`.
    fn write(&self, out: &mut [u8]) -> Result<()> {
        let (naa, company_id, vendor_specific, extension) = match *self {
            Naa::IeeeRegistered { company_id: c, vendor_specific: v } => (5, c, v, 0),
            Naa::IeeeRegisteredExtended { company_id: c, vendor_specific: v, extension: e } => {
                (6, c, v, e)
            }
            // An empty one has no NAA field; a 5h/6h one would parse as the typed variant.
            Naa::Other(ref bytes) if matches!(bytes[..], [] | [0x50..=0x6F, ..]) => {
                return Err(invalid(WHAT, "NAA", FieldPointer::data(4, Some(7))));
            }
            Naa::Other(ref bytes) => {
                out.copy_from_slice(bytes);
                return Ok(());
            }
        };
        let (field, byte) = if company_id > 0xFF_FFFF {
            ("IEEE COMPANY_ID", 4)
        } else if vendor_specific > 0xF_FFFF_FFFF {
            ("VENDOR SPECIFIC IDENTIFIER", 7)
        } else {
            return NaaFields { naa, company_id, vendor_specific, extension }.write(out);
        };
        Err(invalid(WHAT, field, FieldPointer::data(byte, Some(3))))
    }

    fn read(bytes: &[u8]) -> Result<Self> {
        let NaaFields { naa, company_id, vendor_specific, extension } = NaaFields::read(bytes);
        Ok(match (naa, bytes.len()) {
            (5, 8) => Naa::IeeeRegistered { company_id, vendor_specific },
            (6, 16) => Naa::IeeeRegisteredExtended { company_id, vendor_specific, extension },
            (5 | 6, _) | (_, 0) => return Err(BAD_LENGTH),
            _ => Naa::Other(bytes.to_vec()),
        })
    }
}

/// DESIGNATOR TYPE and DESIGNATOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesignatorKind {
    /// 1h: T10 vendor ID based (LIO's vendor specific part: `"<product>:<serial>"`).
    T10VendorId {
        /// T10 VENDOR IDENTIFICATION.
        vendor: AsciiField<8>,
        /// VENDOR SPECIFIC IDENTIFIER.
        vendor_specific: Vec<u8>,
    },
    /// 2h: EUI-64 based, 8, 12 or 16 bytes.
    Eui64(Vec<u8>),
    /// 3h.
    Naa(Naa),
    /// 4h: relative target port identifier.
    RelativeTargetPort(u16),
    /// 5h: target port group.
    TargetPortGroup(u16),
    /// 6h: logical unit group.
    LogicalUnitGroup(u16),
    /// 8h: UTF-8 without NULs, at most 251 bytes (emitted NUL-terminated, padded to 4n bytes).
    ScsiNameString(String),
    /// Any other type, raw; not one of the types above.
    Other {
        /// DESIGNATOR TYPE, 4 bits.
        designator_type: u8,
        /// The DESIGNATOR field.
        bytes: Vec<u8>,
    },
}

impl DesignatorKind {
    /// DESIGNATOR TYPE and the length of the DESIGNATOR field this kind emits.
    fn type_and_len(&self) -> (u8, usize) {
        match self {
            Self::T10VendorId { vendor_specific, .. } => (1, 8 + vendor_specific.len()),
            Self::Eui64(bytes) => (2, bytes.len()),
            Self::Naa(Naa::IeeeRegistered { .. }) => (3, 8),
            Self::Naa(Naa::IeeeRegisteredExtended { .. }) => (3, 16),
            Self::Naa(Naa::Other(bytes)) => (3, bytes.len()),
            Self::RelativeTargetPort(_) => (4, 4),
            Self::TargetPortGroup(_) => (5, 4),
            Self::LogicalUnitGroup(_) => (6, 4),
            // The string, at least one NUL, padded to a multiple of four.
            Self::ScsiNameString(name) => (8, (name.len() + 1).next_multiple_of(4)),
            Self::Other { designator_type, bytes } => (*designator_type, bytes.len()),
        }
    }

    /// Checks lengths and ranges, then writes into `out`, zeroed and as long as `type_and_len`.
    fn write(&self, out: &mut [u8]) -> Result<()> {
        match self {
            Self::T10VendorId { vendor, vendor_specific } => {
                out[..8].copy_from_slice(vendor.as_bytes());
                out[8..].copy_from_slice(vendor_specific);
            }
            Self::Eui64(bytes) if !matches!(bytes.len(), 8 | 12 | 16) => return Err(BAD_LENGTH),
            Self::Naa(naa) => naa.write(out)?,
            Self::RelativeTargetPort(v) | Self::TargetPortGroup(v) | Self::LogicalUnitGroup(v) => {
                SHORT_IDENTIFIER.put(out, u64::from(*v));
            }
            // The longest that fits DESIGNATOR LENGTH with its NUL (not SPC-5's 256).
            Self::ScsiNameString(name) if name.len() > 251 || name.contains('\0') => {
                return Err(bad_designator("SCSI NAME STRING"));
            }
            Self::ScsiNameString(name) => out[..name.len()].copy_from_slice(name.as_bytes()),
            Self::Other { designator_type: 0x1..=0x6 | 0x8, .. } => {
                return Err(invalid(WHAT, "DESIGNATOR TYPE", FieldPointer::data(1, Some(3))));
            }
            Self::Eui64(bytes) | Self::Other { bytes, .. } => out.copy_from_slice(bytes),
        }
        Ok(())
    }

    /// Decodes a DESIGNATOR field of type `designator_type`.
    fn read(designator_type: u8, bytes: &[u8]) -> Result<Self> {
        Ok(match (designator_type, bytes.len()) {
            (0x1, 8..) => {
                let vendor = bytes.first_chunk().and_then(|v| AsciiField::from_bytes(*v));
                Self::T10VendorId {
                    vendor: vendor.ok_or(bad_designator("T10 VENDOR IDENTIFICATION"))?,
                    vendor_specific: bytes[8..].to_vec(),
                }
            }
            (0x2, 8 | 12 | 16) => Self::Eui64(bytes.to_vec()),
            (0x3, _) => Self::Naa(Naa::read(bytes)?),
            (0x4, 4) => Self::RelativeTargetPort(SHORT_IDENTIFIER.get(bytes) as u16),
            (0x5, 4) => Self::TargetPortGroup(SHORT_IDENTIFIER.get(bytes) as u16),
            (0x6, 4) => Self::LogicalUnitGroup(SHORT_IDENTIFIER.get(bytes) as u16),
            (0x1 | 0x2 | 0x4..=0x6, _) => return Err(BAD_LENGTH),
            (0x8, _) => {
                // NUL-terminated, NUL-padded; tolerate a missing terminator.
                let text = bytes.split(|&c| c == 0).next().unwrap_or(&[]);
                let name = core::str::from_utf8(text);
                Self::ScsiNameString(name.map_err(|_| bad_designator("SCSI NAME STRING"))?.into())
            }
            _ => Self::Other { designator_type, bytes: bytes.to_vec() },
        })
    }
}

/// A designation descriptor (SPC-5 7.7.6.1) of a Device Identification page or provisioning group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designator {
    /// PROTOCOL IDENTIFIER ([`protocol_identifier`](crate::inquiry::protocol_identifier)) when
    /// PIV is set; with PIV clear the field is ignored on parse and written as zero.
    pub protocol_identifier: Option<u8>,
    /// CODE SET (`CODE_SET_*`), 4 bits.
    pub code_set: u8,
    /// ASSOCIATION.
    pub association: Association,
    /// DESIGNATOR TYPE and DESIGNATOR.
    pub designator: DesignatorKind,
}

impl Designator {
    /// A designator, PIV set when `protocol` is given, in the code set its kind uses. Fails,
    /// naming the field, where emit would: on a value out of range or one parse reads otherwise.
    pub fn new(
        protocol: Option<u8>,
        association: Association,
        designator: DesignatorKind,
    ) -> Result<Self> {
        let code_set = match designator {
            DesignatorKind::T10VendorId { .. } => CODE_SET_ASCII,
            DesignatorKind::ScsiNameString(_) => CODE_SET_UTF8,
            _ => CODE_SET_BINARY,
        };
        let d = Designator { protocol_identifier: protocol, code_set, association, designator };
        d.emit(&mut vec![0; d.buffer_len()])?;
        Ok(d)
    }

    /// An NAA 6h designator of the logical unit, the form LIO reports. Fails if `oui` exceeds
    /// 24 bits or `vendor_specific` 36 bits.
    pub fn naa_ieee_registered_extended(oui: u32, vendor_specific: u64, ext: u64) -> Result<Self> {
        let naa = Naa::IeeeRegisteredExtended { company_id: oui, vendor_specific, extension: ext };
        Self::new(None, Association::LogicalUnit, DesignatorKind::Naa(naa))
    }

    /// A T10 vendor ID based designator of the logical unit: `vendor` space-padded to 8 bytes, then
    /// `specific`. Fails on a `vendor` not printable ASCII of at most 8 bytes, or over 255 in all.
    pub fn t10_vendor_id(vendor: &str, specific: &[u8]) -> Result<Self> {
        let vendor = AsciiField::new(vendor).ok_or(bad_designator("T10 VENDOR IDENTIFICATION"))?;
        let kind = DesignatorKind::T10VendorId { vendor, vendor_specific: specific.to_vec() };
        Self::new(None, Association::LogicalUnit, kind)
    }

    /// The descriptor at the start of `buf` and its length; an overrun is an invalid
    /// DESIGNATOR LENGTH.
    pub(super) fn read(buf: &[u8]) -> Result<(Self, usize)> {
        let h = Header::read(buf);
        let end = Header::LEN + usize::from(h.designator_length);
        let bytes = buf.get(Header::LEN..end).ok_or(BAD_LENGTH)?;
        let designator = Designator {
            protocol_identifier: h.piv.then_some(h.protocol_identifier),
            code_set: h.code_set,
            association: match h.association {
                0 => Association::LogicalUnit,
                1 => Association::TargetPort,
                2 => Association::TargetDevice,
                _ => return Err(invalid(WHAT, "ASSOCIATION", FieldPointer::data(1, Some(5)))),
            },
            designator: DesignatorKind::read(h.designator_type, bytes)?,
        };
        Ok((designator, end))
    }

    /// [`read`](Self::read) at `off` in the VPD page `what`, whose PAGE LENGTH is wrong if
    /// fewer than 4 bytes are left; errors point into the page.
    pub(super) fn read_at(page: &[u8], off: usize, what: &'static str) -> Result<(Self, usize)> {
        let rest = page.get(off..).filter(|r| r.len() >= 4);
        let rest = rest.ok_or(PAGE_LENGTH.invalid(what, Location::Data, 0))?;
        Designator::read(rest).map_err(|e| within(e, what, off))
    }
}

impl Wire for Designator {
    /// Parses one descriptor from the start of `buf`; bytes after it are ignored.
    fn parse(buf: &[u8]) -> Result<Self> {
        Header::FIELDS[5].counted(WHAT, buf, Header::LEN)?;
        Designator::read(buf).map(|(d, _)| d)
    }

    fn buffer_len(&self) -> usize {
        self.designator.type_and_len().1.saturating_add(Header::LEN)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let (designator_type, len) = self.designator.type_and_len();
        let out = zeroed_out(WHAT, buf, len.saturating_add(Header::LEN))?;
        let header = Header {
            protocol_identifier: self.protocol_identifier.unwrap_or(0),
            code_set: self.code_set,
            piv: self.protocol_identifier.is_some(),
            association: self.association as u8,
            designator_type,
            designator_length: u16::try_from(len).unwrap_or(u16::MAX),
        };
        header.write(out)?;
        self.designator.write(&mut out[Header::LEN..])?;
        Ok(out.len())
    }
}

#[cfg(test)]
mod tests;
