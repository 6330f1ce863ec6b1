//! [`SenseData`]: its fields, the shorthands a target builds it with, and its two formats.

use core::fmt;

use super::{AdditionalSense, FIXED_LEN, SenseFormat, SenseKey, SenseKeySpecific};
use crate::bits::{Layout, Spec, layout};
use crate::cdb::service_action_spec;
use crate::error::{check_len, invalid, zeroed_out};
use crate::{Error, FieldPointer, Location, Result, Wire};

/// Sense data, fixed or descriptor format (SPC-5 4.4), such that `parse(emit(x)) == x`.
///
/// - Fixed format: `information` above `u32::MAX` is emitted with VALID = 0 (it parses back as
///   `None`), `command_specific` above it as zero, and zero COMMAND-SPECIFIC INFORMATION parses
///   as `None`.
/// - Descriptor format: information (VALID = 1), command-specific, sense key specific, FRU
///   (when non-zero), then stream commands (FILEMARK or EOM set) or block commands (only ILI);
///   parse skips unknown descriptor types.
/// - Parse tolerates a buffer shorter than ADDITIONAL SENSE LENGTH says (cut by an allocation
///   length): a cut fixed field reads as zero, a cut descriptor is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SenseData {
    /// Fixed or descriptor format.
    pub format: SenseFormat,
    /// A deferred error (response code 71h/73h) rather than a current one (70h/72h).
    pub deferred: bool,
    /// SENSE KEY.
    pub key: SenseKey,
    /// ADDITIONAL SENSE CODE and QUALIFIER.
    pub additional: AdditionalSense,
    /// INFORMATION, when valid: the LBA of a medium error, the offset of a miscompare...
    pub information: Option<u64>,
    /// COMMAND-SPECIFIC INFORMATION, when reported.
    pub command_specific: Option<u64>,
    /// The sense key specific field, when SKSV = 1.
    pub sense_key_specific: Option<SenseKeySpecific>,
    /// FIELD REPLACEABLE UNIT CODE; 0 when no specific unit is reported.
    pub field_replaceable_unit: u8,
    /// FILEMARK (sequential-access devices).
    pub filemark: bool,
    /// EOM, end of medium (sequential-access devices).
    pub eom: bool,
    /// ILI, incorrect length indicator (READ LONG / WRITE LONG, SBC-4).
    pub ili: bool,
}

/// The shorthands: a sense key with any ASC/ASCQ, or a sense key and ASC/ASCQ.
macro_rules! shorthands {
    ($($f:ident = $key:ident $name:literal;)* $(@ $g:ident = $k:ident / $asc:ident;)*) => {
        impl SenseData {
            $(
                #[doc = concat!($name, " with `additional`.")]
                pub const fn $f(additional: AdditionalSense) -> Self {
                    Self::new(SenseKey::$key, additional)
                }
            )*
            $(
                #[doc = concat!("[`SenseKey::", stringify!($k), "`] / [`AdditionalSense::", stringify!($asc), "`].")]
                pub const fn $g() -> Self {
                    Self::new(SenseKey::$k, AdditionalSense::$asc)
                }
            )*
        }
    };
}

shorthands! {
    illegal_request = IllegalRequest "ILLEGAL REQUEST";
    unit_attention = UnitAttention "UNIT ATTENTION";
    not_ready = NotReady "NOT READY";
    hardware_error = HardwareError "HARDWARE ERROR";
    aborted_command = AbortedCommand "ABORTED COMMAND";
    @ lba_out_of_range = IllegalRequest / LBA_OUT_OF_RANGE;
    @ medium_error_read = MediumError / UNRECOVERED_READ_ERROR;
    @ medium_error_write = MediumError / WRITE_ERROR;
    @ write_protected = DataProtect / WRITE_PROTECTED;
    @ internal_target_failure = HardwareError / INTERNAL_TARGET_FAILURE;
}

impl SenseData {
    /// Current, fixed format sense data with `key` and `additional` and nothing else.
    pub const fn new(key: SenseKey, additional: AdditionalSense) -> Self {
        SenseData {
            format: SenseFormat::Fixed,
            deferred: false,
            key,
            additional,
            information: None,
            command_specific: None,
            sense_key_specific: None,
            field_replaceable_unit: 0,
            filemark: false,
            eom: false,
            ili: false,
        }
    }

    /// The same sense data in `format` (from the Control mode page's D_SENSE bit).
    #[must_use]
    pub const fn in_format(mut self, format: SenseFormat) -> Self {
        self.format = format;
        self
    }

    /// The same sense data with INFORMATION set (and VALID = 1).
    #[must_use]
    pub const fn with_information(mut self, information: u64) -> Self {
        self.information = Some(information);
        self
    }

    /// The same sense data with COMMAND-SPECIFIC INFORMATION set.
    #[must_use]
    pub const fn with_command_specific(mut self, command_specific: u64) -> Self {
        self.command_specific = Some(command_specific);
        self
    }

    /// The same sense data with `pointer` as its sense key specific field (for ILLEGAL REQUEST).
    #[must_use]
    pub const fn with_field_pointer(self, pointer: FieldPointer) -> Self {
        self.with_sense_key_specific(SenseKeySpecific::FieldPointer(pointer))
    }

    /// The same sense data with the sense key specific field set (SKSV = 1).
    #[must_use]
    pub const fn with_sense_key_specific(mut self, sks: SenseKeySpecific) -> Self {
        self.sense_key_specific = Some(sks);
        self
    }

    /// ILLEGAL REQUEST / INVALID FIELD IN CDB at `pointer`, with C/D = 1 always.
    pub const fn invalid_field_in_cdb(pointer: FieldPointer) -> Self {
        Self::illegal_request(AdditionalSense::INVALID_FIELD_IN_CDB)
            .with_field_pointer(FieldPointer { location: Location::Cdb, ..pointer })
    }

    /// ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST at `pointer`, with C/D = 0 always.
    pub const fn invalid_field_in_parameter_list(pointer: FieldPointer) -> Self {
        Self::illegal_request(AdditionalSense::INVALID_FIELD_IN_PARAMETER_LIST)
            .with_field_pointer(FieldPointer { location: Location::ParameterList, ..pointer })
    }

    /// ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, pointing at CDB byte 0.
    pub const fn invalid_opcode() -> Self {
        Self::illegal_request(AdditionalSense::INVALID_COMMAND_OPERATION_CODE)
            .with_field_pointer(FieldPointer::cdb(0))
    }

    /// MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION with INFORMATION set to `offset`, the
    /// offset of the first byte that did not match (SBC-4 COMPARE AND WRITE, VERIFY BYTCHK).
    pub const fn miscompare(offset: u64) -> Self {
        Self::new(SenseKey::Miscompare, AdditionalSense::MISCOMPARE_DURING_VERIFY)
            .with_information(offset)
    }

    /// The sense data, current and fixed format, for a command this crate rejected with `e`:
    /// ILLEGAL REQUEST (with the field pointer where one applies), or HARDWARE ERROR / INTERNAL
    /// TARGET FAILURE for a fault in the target's own data or buffers.
    pub const fn from_error(e: &Error) -> Self {
        use AdditionalSense as A;
        use Location::{Cdb, Data, ParameterList};
        match *e {
            Error::UnsupportedOpcode { service_action: None, .. } => Self::invalid_opcode(),
            Error::UnsupportedOpcode { opcode, .. } => {
                Self::invalid_field_in_cdb(service_action_spec(opcode).pointer(Cdb, 0))
            }
            Error::InvalidField { pointer: p, .. } => match p.location {
                Cdb => Self::invalid_field_in_cdb(p),
                ParameterList => Self::invalid_field_in_parameter_list(p),
                Data => Self::internal_target_failure(),
            },
            Error::Truncated { location: Cdb, .. } => {
                Self::illegal_request(A::INVALID_FIELD_IN_CDB)
            }
            Error::Truncated { location: ParameterList, .. }
            | Error::ParameterListLength { .. } => {
                Self::illegal_request(A::PARAMETER_LIST_LENGTH_ERROR)
            }
            Error::Truncated { location: Data, .. } | Error::BufferTooShort { .. } => {
                Self::internal_target_failure()
            }
        }
    }
}

layout! {
    /// Fixed format sense data (SPC-5 4.4.3), bytes 0..=17.
    pub(super) struct Fixed: "fixed format sense data", 18 {
        valid: bool = "VALID" (0, 7, 1),
        response_code: u8 = "RESPONSE CODE" (0, 0, 7),
        filemark: bool = "FILEMARK" (2, 7, 1),
        eom: bool = "EOM" (2, 6, 1),
        ili: bool = "ILI" (2, 5, 1),
        key: SenseKey = "SENSE KEY" (2, 0, 4),
        information: u32 = "INFORMATION" (3, 0, 32),
        additional_length: u8 = "ADDITIONAL SENSE LENGTH" (7, 0, 8),
        command_specific: u32 = "COMMAND-SPECIFIC INFORMATION" (8, 0, 32),
        additional: AdditionalSense = "ADDITIONAL SENSE CODE" (12, 0, 16),
        fru: u8 = "FIELD REPLACEABLE UNIT CODE" (14, 0, 8),
        sks: u32 = "SENSE KEY SPECIFIC" (15, 0, 24),
    }
}

layout! {
    /// Descriptor format sense data's header (SPC-5 4.4.2.1); SDAT_OVFL is never set.
    struct Header: "descriptor format sense data", 8 {
        response_code: u8 = "RESPONSE CODE" (0, 0, 7),
        key: SenseKey = "SENSE KEY" (1, 0, 4),
        additional: AdditionalSense = "ADDITIONAL SENSE CODE" (2, 0, 16),
        additional_length: u8 = "ADDITIONAL SENSE LENGTH" (7, 0, 8),
    }
}

/// The sense data descriptors this module knows (SPC-5 4.4.2), indexed by type: each one's
/// length (2 + its ADDITIONAL LENGTH) and the field holding its value.
const DESCRIPTORS: [(usize, Spec); 6] = [
    (12, Spec::new("INFORMATION", 4, 0, 64)),
    (12, Spec::new("COMMAND-SPECIFIC INFORMATION", 4, 0, 64)),
    (8, Spec::new("SENSE KEY SPECIFIC", 4, 0, 24)),
    (4, Spec::new("FIELD REPLACEABLE UNIT CODE", 3, 0, 8)),
    // Stream commands (SSC-4) and block commands (SBC-4).
    (4, Spec::new("FILEMARK, EOM, ILI", 3, 5, 3)),
    (4, Spec::new("ILI", 3, 5, 1)),
];
/// A sense data descriptor's ADDITIONAL LENGTH.
const DESCRIPTOR_LENGTH: Spec = Spec::new("ADDITIONAL LENGTH", 1, 0, 8);
/// The information descriptor's VALID bit, which shall be one.
const INFORMATION_VALID: Spec = Spec::new("VALID", 2, 7, 1);
const WHAT_DESCRIPTOR: &str = "sense data descriptor";

impl SenseData {
    /// The descriptors emitted, in the order [`SenseData`] gives, as (type, value).
    fn descriptors(&self) -> impl Iterator<Item = (u8, u64)> {
        let (fru, filemark, eom) = (self.field_replaceable_unit, self.filemark, self.eom);
        // FILEMARK, EOM and ILI as the stream commands descriptor has them (bits 2..0).
        let flags = u64::from(filemark) << 2 | u64::from(eom) << 1 | u64::from(self.ili);
        [
            (0, self.information),
            (1, self.command_specific),
            (2, self.sense_key_specific.map(SenseKeySpecific::to_bits)),
            (3, (fru != 0).then_some(u64::from(fru))),
            (if filemark || eom { 4 } else { 5 }, (flags != 0).then_some(flags)),
        ]
        .into_iter()
        .filter_map(|(code, value)| Some((code, value?)))
    }

    fn descriptor_len(&self) -> usize {
        Header::LEN + self.descriptors().map(|(c, _)| DESCRIPTORS[usize::from(c)].0).sum::<usize>()
    }

    fn parse_fixed(buf: &[u8], deferred: bool) -> Result<Self> {
        check_len(Fixed::WHAT, Location::Data, buf, 8)?;
        // A field the device did not send, or that an allocation length cut off, reads as zero.
        let f = Fixed::read(&buf[..buf.len().min(8 + usize::from(buf[7]))]);
        Ok(SenseData {
            deferred,
            information: f.valid.then_some(u64::from(f.information)),
            command_specific: (f.command_specific != 0).then_some(u64::from(f.command_specific)),
            sense_key_specific: SenseKeySpecific::from_bits(f.key, u64::from(f.sks)),
            field_replaceable_unit: f.fru,
            filemark: f.filemark,
            eom: f.eom,
            ili: f.ili,
            ..SenseData::new(f.key, f.additional)
        })
    }

    fn parse_descriptor(buf: &[u8], deferred: bool) -> Result<Self> {
        let h = Header::parse_fixed(buf, Location::Data)?;
        let mut sense = SenseData::new(h.key, h.additional).in_format(SenseFormat::Descriptor);
        sense.deferred = deferred;
        let end = buf.len().min(Header::LEN + usize::from(h.additional_length));
        let mut seen = [false; DESCRIPTORS.len()];
        let mut at = Header::LEN;
        // Each step consumes at least the two header bytes, so the walk always ends.
        while at < end {
            let desc = &buf[at..end];
            let len = DESCRIPTOR_LENGTH.counted(WHAT_DESCRIPTOR, desc, 2)?.len();
            let code = usize::from(desc[0]);
            // The first of like descriptors counts; other types are nothing a block target needs.
            if let Some(&(needed, spec)) = DESCRIPTORS.get(code)
                && !core::mem::replace(&mut seen[code], true)
            {
                if len < needed {
                    return Err(DESCRIPTOR_LENGTH.invalid(WHAT_DESCRIPTOR, Location::Data, at));
                }
                let v = spec.get(desc);
                match code {
                    0 => sense.information = (INFORMATION_VALID.get(desc) != 0).then_some(v),
                    1 => sense.command_specific = Some(v),
                    2 => sense.sense_key_specific = SenseKeySpecific::from_bits(sense.key, v),
                    3 => sense.field_replaceable_unit = v as u8,
                    // Stream commands: FILEMARK, EOM, ILI; block commands: ILI alone.
                    _ => {
                        sense.filemark |= v & 4 != 0;
                        sense.eom |= v & 2 != 0;
                        sense.ili |= v & 1 != 0;
                    }
                }
            }
            at += len;
        }
        Ok(sense)
    }

    fn emit_fixed(&self, buf: &mut [u8]) -> Result<usize> {
        // SPC-5: an INFORMATION value that does not fit the 4-byte field is not reported.
        let information = self.information.and_then(|v| u32::try_from(v).ok());
        let command_specific = self.command_specific.and_then(|v| u32::try_from(v).ok());
        Fixed {
            valid: information.is_some(),
            response_code: self.format.response_code(self.deferred),
            filemark: self.filemark,
            eom: self.eom,
            ili: self.ili,
            key: self.key,
            information: information.unwrap_or(0),
            additional_length: (FIXED_LEN - 8) as u8,
            command_specific: command_specific.unwrap_or(0),
            additional: self.additional,
            fru: self.field_replaceable_unit,
            sks: self.sense_key_specific.map_or(0, |s| s.to_bits() as u32),
        }
        .emit_fixed(buf)
    }

    fn emit_descriptor(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.descriptor_len();
        let out = zeroed_out(Header::WHAT, buf, total)?;
        Header {
            response_code: self.format.response_code(self.deferred),
            key: self.key,
            additional: self.additional,
            // At most 48 - 8: always fits.
            additional_length: (total - Header::LEN) as u8,
        }
        .put(out);
        let mut at = Header::LEN;
        for (code, value) in self.descriptors() {
            let (len, spec) = DESCRIPTORS[usize::from(code)];
            let desc = &mut out[at..at + len];
            desc[..2].copy_from_slice(&[code, (len - 2) as u8]);
            INFORMATION_VALID.put(desc, u64::from(code == 0));
            spec.put(desc, value);
            at += len;
        }
        Ok(at)
    }
}

impl Wire for SenseData {
    /// Parses sense data, detecting the format from the RESPONSE CODE: 70h/71h fixed,
    /// 72h/73h descriptor, anything else an error.
    fn parse(buf: &[u8]) -> Result<Self> {
        if buf.is_empty() {
            check_len("sense data", Location::Data, buf, 8)?;
        }
        let deferred = buf[0] & 1 != 0;
        match buf[0] & 0x7F {
            0x70 | 0x71 => Self::parse_fixed(buf, deferred),
            0x72 | 0x73 => Self::parse_descriptor(buf, deferred),
            _ => Err(invalid("sense data", "RESPONSE CODE", FieldPointer::data(0, Some(6)))),
        }
    }

    fn buffer_len(&self) -> usize {
        match self.format {
            SenseFormat::Fixed => FIXED_LEN,
            SenseFormat::Descriptor => self.descriptor_len(),
        }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        match self.format {
            SenseFormat::Fixed => self.emit_fixed(buf),
            SenseFormat::Descriptor => self.emit_descriptor(buf),
        }
    }
}

impl fmt::Display for SenseData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SenseKeySpecific as S;
        let deferred = if self.deferred { "deferred " } else { "" };
        write!(f, "{deferred}{}: {}", self.key, self.additional)?;
        if let Some(info) = self.information {
            write!(f, ", information {info:#x}")?;
        }
        if let Some(csi) = self.command_specific {
            write!(f, ", command-specific {csi:#x}")?;
        }
        match self.sense_key_specific {
            Some(S::FieldPointer(p)) => write!(f, ", field at {p}")?,
            Some(S::ActualRetryCount(n)) => write!(f, ", {n} retries")?,
            Some(S::ProgressIndication(n)) => {
                write!(f, ", progress {}%", u32::from(n) * 100 / 65536)?
            }
            Some(S::SegmentPointer { segment_descriptor, bit, field_pointer }) => {
                let base = if segment_descriptor { "segment descriptor" } else { "parameter list" };
                write!(f, ", {base} byte {field_pointer}")?;
                if let Some(b) = bit {
                    write!(f, " bit {b}")?;
                }
            }
            Some(S::UnitAttentionOverflow(true)) => {
                f.write_str(", unit attention queue overflow")?
            }
            Some(S::UnitAttentionOverflow(false)) | None => {}
            Some(S::Other([x, y, z])) => write!(f, ", sense key specific {x:02x}{y:02x}{z:02x}")?,
        }
        f.write_str(if self.ili { ", ILI" } else { "" })
    }
}

#[cfg(test)]
mod tests;
