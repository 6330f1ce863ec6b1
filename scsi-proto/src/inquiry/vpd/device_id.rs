//! Device Identification VPD page, 83h (SPC-5 7.7.6), and its designation descriptors.

use crate::bits::{Layout, Spec, Value, layout};
use crate::error::{check_len, check_out};
use crate::inquiry::{AsciiField, Peripheral, invalid, parse_page, within};
use crate::inquiry::{VpdHeader, emit_page};
use crate::{Error, FieldPointer, Location, Result, Wire};

/// What a designation descriptor's errors name.
pub(super) const WHAT: &str = "designation descriptor";

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

impl Value for CodeSet {
    fn from_bits(v: u64) -> Self {
        CodeSet::from_bits(v as u8)
    }

    /// A `Reserved` value that is not a reserved code yields one too large for the field.
    fn to_bits(self) -> u64 {
        self.bits().map_or(u64::MAX, u64::from)
    }
}

/// ASSOCIATION of a designation descriptor (SPC-5 7.7.6.1, Table 574); 11b is reserved and
/// rejected by parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Association {
    /// 00b: the addressed logical unit.
    LogicalUnit = 0b00,
    /// 01b: the target port that received the command.
    TargetPort = 0b01,
    /// 10b: the SCSI target device containing the logical unit.
    TargetDevice = 0b10,
}

/// The associations by value.
const ASSOCIATIONS: [Association; 3] = [
    Association::LogicalUnit,
    Association::TargetPort,
    Association::TargetDevice,
];

layout! {
    /// The header of a designation descriptor (SPC-5 7.7.6.1, Table 573).
    struct Header: "designation descriptor", 4 {
        protocol_identifier: u8 = "PROTOCOL IDENTIFIER" (0, 4, 4),
        code_set: CodeSet = "CODE SET" (0, 0, 4),
        piv: bool = "PIV" (1, 7, 1),
        association: u8 = "ASSOCIATION" (1, 4, 2),
        designator_type: u8 = "DESIGNATOR TYPE" (1, 0, 4),
        /// Wider than its field, so a designator too long for it is refused by the range check.
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

/// The largest DESIGNATOR LENGTH of a SCSI name string: a multiple of four that fits the 1-byte
/// DESIGNATOR LENGTH field (SPC-5's limit of 256 cannot be encoded).
const SCSI_NAME_MAX_LEN: usize = 252;

fn bad_length() -> Error {
    invalid(WHAT, "DESIGNATOR LENGTH", FieldPointer::data(3, None))
}

/// The error for a field that starts at the designator (byte 4 of the descriptor).
fn bad_designator(field: &'static str) -> Error {
    invalid(WHAT, field, FieldPointer::data(4, None))
}

fn check_scsi_name(name: &str) -> Result<()> {
    if name.len() >= SCSI_NAME_MAX_LEN || name.contains('\0') {
        return Err(bad_designator("SCSI NAME STRING"));
    }
    Ok(())
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

impl Naa {
    /// The NAA value (high nibble of the designator); `None` for an empty `Other`.
    pub fn naa(&self) -> Option<u8> {
        match self {
            Naa::IeeeRegistered { .. } => Some(NAA_IEEE_REGISTERED),
            Naa::IeeeRegisteredExtended { .. } => Some(NAA_IEEE_REGISTERED_EXTENDED),
            Naa::Other(bytes) => bytes.first().map(|b| b >> 4),
        }
    }

    /// Checks the ranges of the fields NAA 5h and 6h share; the pointers are in the descriptor.
    fn check(company_id: u32, vendor_specific: u64) -> Result<()> {
        if company_id > 0xFF_FFFF {
            let pointer = FieldPointer::data(4, Some(3));
            return Err(invalid(WHAT, "IEEE COMPANY_ID", pointer));
        }
        if vendor_specific > 0xF_FFFF_FFFF {
            let pointer = FieldPointer::data(7, Some(3));
            return Err(invalid(WHAT, "VENDOR SPECIFIC IDENTIFIER", pointer));
        }
        Ok(())
    }

    fn len(&self) -> usize {
        match self {
            Naa::IeeeRegistered { .. } => 8,
            Naa::IeeeRegisteredExtended { .. } => 16,
            Naa::Other(bytes) => bytes.len(),
        }
    }

    fn write(&self, out: &mut [u8]) -> Result<()> {
        let (naa, company_id, vendor_specific, extension) = match *self {
            Naa::IeeeRegistered {
                company_id,
                vendor_specific,
            } => (NAA_IEEE_REGISTERED, company_id, vendor_specific, 0),
            Naa::IeeeRegisteredExtended {
                company_id,
                vendor_specific,
                extension,
            } => (
                NAA_IEEE_REGISTERED_EXTENDED,
                company_id,
                vendor_specific,
                extension,
            ),
            Naa::Other(ref bytes) => {
                // An empty one has no NAA field; a 5h/6h one would parse as the typed variant.
                if matches!(self.naa(), None | Some(0x5 | 0x6)) {
                    return Err(invalid(WHAT, "NAA", FieldPointer::data(4, Some(7))));
                }
                out.copy_from_slice(bytes);
                return Ok(());
            }
        };
        Naa::check(company_id, vendor_specific)?;
        let fields = NaaFields {
            naa,
            company_id,
            vendor_specific,
            extension,
        };
        fields.write(out)
    }

    fn read(bytes: &[u8]) -> Result<Self> {
        let f = NaaFields::read(bytes);
        Ok(match (f.naa, bytes.len()) {
            (NAA_IEEE_REGISTERED, 8) => Naa::IeeeRegistered {
                company_id: f.company_id,
                vendor_specific: f.vendor_specific,
            },
            (NAA_IEEE_REGISTERED_EXTENDED, 16) => Naa::IeeeRegisteredExtended {
                company_id: f.company_id,
                vendor_specific: f.vendor_specific,
                extension: f.extension,
            },
            (NAA_IEEE_REGISTERED | NAA_IEEE_REGISTERED_EXTENDED, _) | (_, 0) => {
                return Err(bad_length());
            }
            _ => Naa::Other(bytes.to_vec()),
        })
    }
}

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
            DesignatorKind::Naa(naa) => naa.len(),
            DesignatorKind::RelativeTargetPort(_)
            | DesignatorKind::TargetPortGroup(_)
            | DesignatorKind::LogicalUnitGroup(_) => 4,
            // The string, at least one NUL, padded to a multiple of four.
            DesignatorKind::ScsiNameString(name) => {
                name.len().saturating_add(1).next_multiple_of(4)
            }
        }
    }

    /// Checks what the types cannot (lengths, ranges), then writes the designator into `out`:
    /// exactly `self.len()` zeroed bytes.
    fn write(&self, out: &mut [u8]) -> Result<()> {
        match self {
            DesignatorKind::T10VendorId {
                vendor,
                vendor_specific,
            } => {
                let (head, tail) = out.split_at_mut(8);
                head.copy_from_slice(vendor.as_bytes());
                tail.copy_from_slice(vendor_specific);
            }
            DesignatorKind::Eui64(bytes) if !matches!(bytes.len(), 8 | 12 | 16) => {
                return Err(bad_length());
            }
            DesignatorKind::Naa(naa) => naa.write(out)?,
            DesignatorKind::RelativeTargetPort(v)
            | DesignatorKind::TargetPortGroup(v)
            | DesignatorKind::LogicalUnitGroup(v) => SHORT_IDENTIFIER.put(out, u64::from(*v)),
            DesignatorKind::ScsiNameString(name) => {
                check_scsi_name(name)?;
                out[..name.len()].copy_from_slice(name.as_bytes());
            }
            DesignatorKind::Other {
                designator_type: 0x1..=0x6 | 0x8,
                ..
            } => {
                let pointer = FieldPointer::data(1, Some(3));
                return Err(invalid(WHAT, "DESIGNATOR TYPE", pointer));
            }
            DesignatorKind::Eui64(bytes) | DesignatorKind::Other { bytes, .. } => {
                out.copy_from_slice(bytes);
            }
        }
        Ok(())
    }

    /// Decodes a DESIGNATOR field of type `designator_type`.
    fn read(designator_type: u8, bytes: &[u8]) -> Result<Self> {
        Ok(match designator_type {
            0x1 => {
                let (vendor, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad_length)?;
                DesignatorKind::T10VendorId {
                    vendor: AsciiField::from_bytes(*vendor)
                        .ok_or(bad_designator("T10 VENDOR IDENTIFICATION"))?,
                    vendor_specific: rest.to_vec(),
                }
            }
            0x2 if matches!(bytes.len(), 8 | 12 | 16) => DesignatorKind::Eui64(bytes.to_vec()),
            0x2 => return Err(bad_length()),
            0x3 => DesignatorKind::Naa(Naa::read(bytes)?),
            0x4..=0x6 => {
                if bytes.len() != 4 {
                    return Err(bad_length());
                }
                let value = SHORT_IDENTIFIER.get(bytes) as u16;
                match designator_type {
                    0x4 => DesignatorKind::RelativeTargetPort(value),
                    0x5 => DesignatorKind::TargetPortGroup(value),
                    _ => DesignatorKind::LogicalUnitGroup(value),
                }
            }
            0x8 => {
                // Null-terminated, null-padded; tolerate a missing terminator.
                let text = bytes.split(|&c| c == 0).next().unwrap_or(&[]);
                let name =
                    core::str::from_utf8(text).map_err(|_| bad_designator("SCSI NAME STRING"))?;
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
    /// PROTOCOL IDENTIFIER when PIV is set (`Some`, 4 bits,
    /// [`protocol_identifier`](crate::inquiry::protocol_identifier)); SPC-5 gives it meaning
    /// only for target port and target device associations. With PIV clear the field is
    /// ignored on parse and written as zero.
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
        Naa::check(company_id, vendor_specific)?;
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
        Naa::check(oui, vendor_specific)?;
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
        let vendor = AsciiField::new(vendor).ok_or(bad_designator("T10 VENDOR IDENTIFICATION"))?;
        let d = Self {
            code_set: CodeSet::Ascii,
            ..Self::logical_unit(DesignatorKind::T10VendorId {
                vendor,
                vendor_specific: vendor_specific.to_vec(),
            })
        };
        d.header().write(&mut [0; 4])?;
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
        check_scsi_name(name)?;
        Ok(Designator {
            protocol_identifier: protocol,
            code_set: CodeSet::Utf8,
            association,
            designator: DesignatorKind::ScsiNameString(name.to_owned()),
        })
    }

    fn logical_unit(designator: DesignatorKind) -> Self {
        Designator {
            association: Association::LogicalUnit,
            ..Self::target_port(None, designator)
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

    fn header(&self) -> Header {
        Header {
            protocol_identifier: self.protocol_identifier.unwrap_or(0),
            code_set: self.code_set,
            piv: self.protocol_identifier.is_some(),
            association: self.association as u8,
            designator_type: self.designator.designator_type(),
            designator_length: u16::try_from(self.designator.len()).unwrap_or(u16::MAX),
        }
    }

    /// Parses the descriptor at the start of `buf` (at least 4 bytes), which must hold all of
    /// it; an overrun is reported as an invalid DESIGNATOR LENGTH. Returns the descriptor and
    /// its length.
    pub(super) fn read(buf: &[u8]) -> Result<(Self, usize)> {
        check_len(WHAT, Location::Data, buf, Header::LEN)?;
        let h = Header::read(buf);
        let end = Header::LEN + usize::from(h.designator_length);
        let bytes = buf.get(Header::LEN..end).ok_or_else(bad_length)?;
        let association = ASSOCIATIONS.get(usize::from(h.association));
        let association =
            *association.ok_or(invalid(WHAT, "ASSOCIATION", FieldPointer::data(1, Some(5))))?;
        let designator = Designator {
            protocol_identifier: h.piv.then_some(h.protocol_identifier),
            code_set: h.code_set,
            association,
            designator: DesignatorKind::read(h.designator_type, bytes)?,
        };
        Ok((designator, end))
    }
}

impl Wire for Designator {
    /// Parses one descriptor from the start of `buf`; bytes after it are ignored.
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(WHAT, Location::Data, buf, Header::LEN)?;
        let needed = Header::LEN + usize::from(Header::read(buf).designator_length);
        check_len(WHAT, Location::Data, buf, needed)?;
        Designator::read(buf).map(|(d, _)| d)
    }

    fn buffer_len(&self) -> usize {
        self.designator.len().saturating_add(Header::LEN)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        check_out(WHAT, buf, len)?;
        buf[..len].fill(0);
        self.header().write(buf)?;
        self.designator.write(&mut buf[Header::LEN..len])?;
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
        let (peripheral, body) = parse_page(Self::WHAT, Self::PAGE_CODE, buf)?;
        let mut designators = Vec::new();
        let mut off = 0;
        while let Some(rest) = body.get(off..).filter(|r| !r.is_empty()) {
            if rest.len() < Header::LEN {
                // Trailing bytes too short for a descriptor header: PAGE LENGTH is wrong.
                let pointer = FieldPointer::data(2, None);
                return Err(invalid(Self::WHAT, "PAGE LENGTH", pointer));
            }
            let (d, used) =
                Designator::read(rest).map_err(|e| within(e, Self::WHAT, VpdHeader::LEN + off))?;
            designators.push(d);
            off += used;
        }
        Ok(DeviceIdentification {
            peripheral,
            designators,
        })
    }

    fn buffer_len(&self) -> usize {
        let body = self.designators.iter().map(Wire::buffer_len);
        body.fold(VpdHeader::LEN, usize::saturating_add)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        emit_page(Self::WHAT, Self::PAGE_CODE, self.peripheral, len - 4, buf)?;
        let mut off = VpdHeader::LEN;
        for d in &self.designators {
            off += d.emit(&mut buf[off..]).map_err(|e| within(e, WHAT, off))?;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
