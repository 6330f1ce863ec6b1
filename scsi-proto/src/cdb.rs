//! CDB decoding for every command a disk target meets (SPC-5, SBC-4), in all sizes.
//!
//! Each command is described once, in [`COMMANDS`], by the position of every field it has in
//! its CDB. A [`Command`] keeps the CDB's bytes and reads fields through that description, so
//! decoding, emitting, the field pointers of errors and the CDB USAGE DATA reported by REPORT
//! SUPPORTED OPERATION CODES all come from the same table and cannot disagree.
//!
//! Validation follows Linux LIO: reserved and obsolete bits are ignored (and kept, so emit
//! reproduces the CDB), while values the standard declares invalid are rejected with
//! [`Error::InvalidField`] pointing at the exact byte and bit. Fields a device may not support
//! (RDPROTECT, BYTCHK, IMMED...) are exposed for the device to reject, with
//! [`Command::field_pointer`] giving the position for the sense data.

use crate::Wire;
use crate::error::{Error, FieldPointer, Location, Result, check_len};
use crate::mode::{ModeSenseRequest, PageControl};
use zerocopy::FromBytes;
use zerocopy::byteorder::big_endian::U64;

/// Operation codes (CDB byte 0).
pub mod opcode {
    #![allow(missing_docs)]
    pub const TEST_UNIT_READY: u8 = 0x00;
    pub const REQUEST_SENSE: u8 = 0x03;
    pub const FORMAT_UNIT: u8 = 0x04;
    pub const READ_6: u8 = 0x08;
    pub const WRITE_6: u8 = 0x0a;
    pub const INQUIRY: u8 = 0x12;
    pub const MODE_SELECT_6: u8 = 0x15;
    pub const RESERVE_6: u8 = 0x16;
    pub const RELEASE_6: u8 = 0x17;
    pub const MODE_SENSE_6: u8 = 0x1a;
    pub const START_STOP_UNIT: u8 = 0x1b;
    pub const PREVENT_ALLOW_MEDIUM_REMOVAL: u8 = 0x1e;
    pub const READ_CAPACITY_10: u8 = 0x25;
    pub const READ_10: u8 = 0x28;
    pub const WRITE_10: u8 = 0x2a;
    pub const WRITE_AND_VERIFY_10: u8 = 0x2e;
    pub const VERIFY_10: u8 = 0x2f;
    pub const PRE_FETCH_10: u8 = 0x34;
    pub const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    pub const WRITE_BUFFER: u8 = 0x3b;
    pub const READ_BUFFER_10: u8 = 0x3c;
    pub const WRITE_SAME_10: u8 = 0x41;
    pub const UNMAP: u8 = 0x42;
    pub const MODE_SELECT_10: u8 = 0x55;
    pub const RESERVE_10: u8 = 0x56;
    pub const RELEASE_10: u8 = 0x57;
    pub const MODE_SENSE_10: u8 = 0x5a;
    pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
    pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
    pub const VARIABLE_LENGTH: u8 = 0x7f;
    pub const EXTENDED_COPY: u8 = 0x83;
    pub const RECEIVE_COPY_RESULTS: u8 = 0x84;
    pub const READ_16: u8 = 0x88;
    pub const COMPARE_AND_WRITE: u8 = 0x89;
    pub const WRITE_16: u8 = 0x8a;
    pub const WRITE_AND_VERIFY_16: u8 = 0x8e;
    pub const VERIFY_16: u8 = 0x8f;
    pub const PRE_FETCH_16: u8 = 0x90;
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    pub const WRITE_SAME_16: u8 = 0x93;
    pub const SERVICE_ACTION_IN_16: u8 = 0x9e;
    pub const REPORT_LUNS: u8 = 0xa0;
    pub const MAINTENANCE_IN: u8 = 0xa3;
    pub const READ_12: u8 = 0xa8;
    pub const WRITE_12: u8 = 0xaa;
    pub const WRITE_AND_VERIFY_12: u8 = 0xae;
    pub const VERIFY_12: u8 = 0xaf;
}

/// Service actions of the operation codes that have them.
pub mod service_action {
    #![allow(missing_docs)]
    /// SERVICE ACTION IN(16).
    pub const READ_CAPACITY_16: u16 = 0x10;
    pub const GET_LBA_STATUS: u16 = 0x12;
    /// MAINTENANCE IN.
    pub const REPORT_SUPPORTED_OPERATION_CODES: u16 = 0x0c;
    pub const REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS: u16 = 0x0d;
    /// Variable-length (7Fh) CDBs.
    pub const READ_32: u16 = 0x0009;
    pub const VERIFY_32: u16 = 0x000a;
    pub const WRITE_32: u16 = 0x000b;
    pub const WRITE_AND_VERIFY_32: u16 = 0x000c;
    pub const WRITE_SAME_32: u16 = 0x000d;
    /// EXTENDED COPY.
    pub const EXTENDED_COPY_LID1: u16 = 0x00;
    pub const EXTENDED_COPY_LID4: u16 = 0x01;
    /// RECEIVE COPY RESULTS.
    pub const COPY_STATUS: u16 = 0x00;
    pub const RECEIVE_DATA: u16 = 0x01;
    pub const OPERATING_PARAMETERS: u16 = 0x03;
    pub const FAILED_SEGMENT_DETAILS: u16 = 0x04;
    /// PERSISTENT RESERVE IN.
    pub const READ_KEYS: u16 = 0x00;
    pub const READ_RESERVATION: u16 = 0x01;
    pub const REPORT_CAPABILITIES: u16 = 0x02;
    pub const READ_FULL_STATUS: u16 = 0x03;
    /// PERSISTENT RESERVE OUT.
    pub const REGISTER: u16 = 0x00;
    pub const RESERVE: u16 = 0x01;
    pub const RELEASE: u16 = 0x02;
    pub const CLEAR: u16 = 0x03;
    pub const PREEMPT: u16 = 0x04;
    pub const PREEMPT_AND_ABORT: u16 = 0x05;
    pub const REGISTER_AND_IGNORE_EXISTING_KEY: u16 = 0x06;
    pub const REGISTER_AND_MOVE: u16 = 0x07;
}

/// The length of the CDB starting with `cdb[0]`, from its group code (SPC-5 4.2.5.1), or for
/// a variable-length CDB 8 plus its ADDITIONAL CDB LENGTH. `None` for an empty input, a
/// reserved or vendor-specific group, or a variable-length CDB without its byte 7.
pub fn cdb_length(cdb: &[u8]) -> Option<usize> {
    let op = *cdb.first()?;
    match op >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        3 if op == opcode::VARIABLE_LENGTH => Some(8 + usize::from(*cdb.get(7)?)),
        4 => Some(16),
        5 => Some(12),
        _ => None,
    }
}

/// What a command is, independent of its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Kind {
    TestUnitReady,
    RequestSense,
    Inquiry,
    ModeSense,
    ModeSelect,
    ReadCapacity10,
    ReadCapacity16,
    Read,
    Write,
    WriteAndVerify,
    Verify,
    WriteSame,
    Unmap,
    CompareAndWrite,
    SynchronizeCache,
    PreFetch,
    GetLbaStatus,
    ReportSupportedOperationCodes,
    ReportSupportedTaskManagementFunctions,
    StartStopUnit,
    PreventAllowMediumRemoval,
    FormatUnit,
    ReportLuns,
    ReadBuffer,
    WriteBuffer,
    ExtendedCopy,
    ReceiveCopyResults,
    PersistentReserveIn,
    PersistentReserveOut,
    Reserve,
    Release,
}

/// Which way data moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataDirection {
    /// No data transfer.
    None,
    /// Data-In: device to initiator (READ, INQUIRY...).
    FromDevice,
    /// Data-Out: initiator to device (WRITE, MODE SELECT, UNMAP...).
    ToDevice,
    /// Both (none of the commands here; kept for completeness of the type).
    Bidirectional,
}

/// A CDB field, named as the standards name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Field {
    Lba,
    /// TRANSFER LENGTH, VERIFICATION LENGTH, NUMBER OF LOGICAL BLOCKS, PREFETCH LENGTH.
    TransferLength,
    AllocationLength,
    ParameterListLength,
    /// RDPROTECT, WRPROTECT or VRPROTECT.
    Protect,
    Dpo,
    Fua,
    GroupNumber,
    Bytchk,
    Immed,
    Anchor,
    Unmap,
    Ndob,
    Evpd,
    PageCode,
    SubpageCode,
    Dbd,
    Llbaa,
    PageControl,
    Pf,
    Sp,
    Pmi,
    Desc,
    Rctd,
    ReportingOptions,
    RequestedOperationCode,
    RequestedServiceAction,
    Repd,
    PowerConditionModifier,
    PowerCondition,
    NoFlush,
    Loej,
    Start,
    Prevent,
    Fmtpinfo,
    Longlist,
    Fmtdata,
    Cmplst,
    DefectListFormat,
    SelectReport,
    Mode,
    ModeSpecific,
    BufferId,
    BufferOffset,
    ListIdentifier,
    Scope,
    Type,
    ReportType,
    /// EXPECTED INITIAL LOGICAL BLOCK REFERENCE TAG (32-byte CDBs).
    ReferenceTag,
    /// EXPECTED LOGICAL BLOCK APPLICATION TAG (32-byte CDBs).
    ApplicationTag,
    /// LOGICAL BLOCK APPLICATION TAG MASK (32-byte CDBs).
    ApplicationTagMask,
    Control,
}

impl Field {
    /// The field's name as the standards spell it.
    pub const fn name(self) -> &'static str {
        use Field::*;
        match self {
            Lba => "LOGICAL BLOCK ADDRESS",
            TransferLength => "TRANSFER LENGTH",
            AllocationLength => "ALLOCATION LENGTH",
            ParameterListLength => "PARAMETER LIST LENGTH",
            Protect => "PROTECT",
            Dpo => "DPO",
            Fua => "FUA",
            GroupNumber => "GROUP NUMBER",
            Bytchk => "BYTCHK",
            Immed => "IMMED",
            Anchor => "ANCHOR",
            Unmap => "UNMAP",
            Ndob => "NDOB",
            Evpd => "EVPD",
            PageCode => "PAGE CODE",
            SubpageCode => "SUBPAGE CODE",
            Dbd => "DBD",
            Llbaa => "LLBAA",
            PageControl => "PC",
            Pf => "PF",
            Sp => "SP",
            Pmi => "PMI",
            Desc => "DESC",
            Rctd => "RCTD",
            ReportingOptions => "REPORTING OPTIONS",
            RequestedOperationCode => "REQUESTED OPERATION CODE",
            RequestedServiceAction => "REQUESTED SERVICE ACTION",
            Repd => "REPD",
            PowerConditionModifier => "POWER CONDITION MODIFIER",
            PowerCondition => "POWER CONDITION",
            NoFlush => "NO_FLUSH",
            Loej => "LOEJ",
            Start => "START",
            Prevent => "PREVENT",
            Fmtpinfo => "FMTPINFO",
            Longlist => "LONGLIST",
            Fmtdata => "FMTDATA",
            Cmplst => "CMPLST",
            DefectListFormat => "DEFECT LIST FORMAT",
            SelectReport => "SELECT REPORT",
            Mode => "MODE",
            ModeSpecific => "MODE SPECIFIC",
            BufferId => "BUFFER ID",
            BufferOffset => "BUFFER OFFSET",
            ListIdentifier => "LIST IDENTIFIER",
            Scope => "SCOPE",
            Type => "TYPE",
            ReportType => "REPORT TYPE",
            ReferenceTag => "EXPECTED INITIAL LOGICAL BLOCK REFERENCE TAG",
            ApplicationTag => "EXPECTED LOGICAL BLOCK APPLICATION TAG",
            ApplicationTagMask => "LOGICAL BLOCK APPLICATION TAG MASK",
            Control => "CONTROL",
        }
    }
}

/// Where a field sits: `bits` bits, the lowest at bit `shift` of the big-endian number that
/// starts at byte `byte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field.
    pub field: Field,
    /// First (most significant) byte.
    pub byte: u8,
    /// Bit position of the field's least significant bit in its last byte.
    pub shift: u8,
    /// Width in bits (1..=64).
    pub bits: u8,
}

impl FieldSpec {
    const fn nbytes(&self) -> usize {
        (self.shift as usize + self.bits as usize).div_ceil(8)
    }

    const fn mask(&self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }

    /// The sense-key-specific pointer to this field: its first byte, and for a field narrower
    /// than a byte its most significant bit.
    pub const fn pointer(&self) -> FieldPointer {
        if self.bits < 8 {
            FieldPointer::cdb_bit(self.byte as u16, self.shift + self.bits - 1)
        } else {
            FieldPointer::cdb(self.byte as u16)
        }
    }

    fn read(&self, cdb: &[u8]) -> u64 {
        let start = usize::from(self.byte);
        let n = self.nbytes();
        let mut be = [0u8; 8];
        if let Some(src) = cdb.get(start..start + n) {
            be[8 - n..].copy_from_slice(src);
        }
        let v = U64::read_from_bytes(&be).map(|v| v.get()).unwrap_or(0);
        (v >> self.shift) & self.mask()
    }

    fn write(&self, cdb: &mut [u8], value: u64) {
        let start = usize::from(self.byte);
        let n = self.nbytes();
        let Some(dst) = cdb.get_mut(start..start + n) else {
            return;
        };
        let mut be = [0u8; 8];
        be[8 - n..].copy_from_slice(dst);
        let old = U64::read_from_bytes(&be).map(|v| v.get()).unwrap_or(0);
        let mask = self.mask() << self.shift;
        let new = (old & !mask) | ((value << self.shift) & mask);
        dst.copy_from_slice(&U64::new(new).to_bytes_be()[8 - n..]);
    }

    /// The bits this field occupies in each of its bytes, for the CDB USAGE DATA.
    fn usage(&self, usage: &mut [u8]) {
        let mut ones = [0u8; 32];
        self.write(&mut ones, u64::MAX);
        for (u, o) in usage.iter_mut().zip(ones) {
            *u |= o;
        }
    }
}

trait BeBytes {
    fn to_bytes_be(self) -> [u8; 8];
}

impl BeBytes for U64 {
    fn to_bytes_be(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(zerocopy::IntoBytes::as_bytes(&self));
        out
    }
}

const fn f(field: Field, byte: u8, shift: u8, bits: u8) -> FieldSpec {
    FieldSpec {
        field,
        byte,
        shift,
        bits,
    }
}

/// One decodable command: operation code, service action, size, and its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// What the command is.
    pub kind: Kind,
    /// Operation code.
    pub opcode: u8,
    /// Service action, for operation codes that have them.
    pub service_action: Option<u16>,
    /// Name, e.g. "READ(10)".
    pub name: &'static str,
    /// CDB length in bytes.
    pub cdb_length: u8,
    /// Every field the decoder reads, with its position.
    pub fields: &'static [FieldSpec],
}

impl CommandInfo {
    /// The CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES (SPC-5 6.35.4): the operation
    /// code, then for each CDB byte the bits this decoder reads. The service action field is
    /// set to the service action's value; the CONTROL byte reports 00h (NACA is not supported).
    pub fn usage_data(&self) -> Vec<u8> {
        let mut usage = vec![0u8; usize::from(self.cdb_length)];
        for spec in self.fields.iter().filter(|s| s.field != Field::Control) {
            spec.usage(&mut usage);
        }
        if let Some(first) = usage.first_mut() {
            *first = self.opcode;
        }
        // The service action field carries the service action itself (SPC-5 6.35.4).
        if let Some(sa) = self.service_action {
            if self.opcode == opcode::VARIABLE_LENGTH {
                let [hi, lo] = sa.to_be_bytes();
                for (i, b) in [(7, 0xff), (8, hi), (9, lo)] {
                    if let Some(u) = usage.get_mut(i) {
                        *u = b;
                    }
                }
            } else if let Some(b) = usage.get_mut(1) {
                *b = (*b & !0x1f) | (sa as u8 & 0x1f);
            }
        }
        usage
    }

    /// The position of `field` in this command, if it has it.
    pub fn spec(&self, field: Field) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|s| s.field == field)
    }
}

use Field as F;

// Field layouts, shared by the commands that have the same shape (SBC-4 5.x, SPC-5 6.x).
const CTL5: &[FieldSpec] = &[f(F::Control, 5, 0, 8)];
const REQUEST_SENSE: &[FieldSpec] = &[
    f(F::Desc, 1, 0, 1),
    f(F::AllocationLength, 4, 0, 8),
    f(F::Control, 5, 0, 8),
];
const INQUIRY: &[FieldSpec] = &[
    f(F::Evpd, 1, 0, 1),
    f(F::PageCode, 2, 0, 8),
    f(F::AllocationLength, 3, 0, 16),
    f(F::Control, 5, 0, 8),
];
const MODE_SELECT_6: &[FieldSpec] = &[
    f(F::Pf, 1, 4, 1),
    f(F::Sp, 1, 0, 1),
    f(F::ParameterListLength, 4, 0, 8),
    f(F::Control, 5, 0, 8),
];
const MODE_SELECT_10: &[FieldSpec] = &[
    f(F::Pf, 1, 4, 1),
    f(F::Sp, 1, 0, 1),
    f(F::ParameterListLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const MODE_SENSE_6: &[FieldSpec] = &[
    f(F::Dbd, 1, 3, 1),
    f(F::PageControl, 2, 6, 2),
    f(F::PageCode, 2, 0, 6),
    f(F::SubpageCode, 3, 0, 8),
    f(F::AllocationLength, 4, 0, 8),
    f(F::Control, 5, 0, 8),
];
const MODE_SENSE_10: &[FieldSpec] = &[
    f(F::Llbaa, 1, 4, 1),
    f(F::Dbd, 1, 3, 1),
    f(F::PageControl, 2, 6, 2),
    f(F::PageCode, 2, 0, 6),
    f(F::SubpageCode, 3, 0, 8),
    f(F::AllocationLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const READ_CAPACITY_10: &[FieldSpec] = &[
    f(F::Lba, 2, 0, 32),
    f(F::Pmi, 8, 0, 1),
    f(F::Control, 9, 0, 8),
];
const READ_CAPACITY_16: &[FieldSpec] =
    &[f(F::AllocationLength, 10, 0, 32), f(F::Control, 15, 0, 8)];
const RW6: &[FieldSpec] = &[
    f(F::Lba, 1, 0, 21),
    f(F::TransferLength, 4, 0, 8),
    f(F::Control, 5, 0, 8),
];
const RW10: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Fua, 1, 3, 1),
    f(F::Lba, 2, 0, 32),
    f(F::GroupNumber, 6, 0, 6),
    f(F::TransferLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const RW12: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Fua, 1, 3, 1),
    f(F::Lba, 2, 0, 32),
    f(F::TransferLength, 6, 0, 32),
    f(F::GroupNumber, 10, 0, 6),
    f(F::Control, 11, 0, 8),
];
const RW16: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Fua, 1, 3, 1),
    f(F::Lba, 2, 0, 64),
    f(F::TransferLength, 10, 0, 32),
    f(F::GroupNumber, 14, 0, 6),
    f(F::Control, 15, 0, 8),
];
const RW32: &[FieldSpec] = &[
    f(F::Control, 1, 0, 8),
    f(F::GroupNumber, 6, 0, 6),
    f(F::Protect, 10, 5, 3),
    f(F::Dpo, 10, 4, 1),
    f(F::Fua, 10, 3, 1),
    f(F::Lba, 12, 0, 64),
    f(F::ReferenceTag, 20, 0, 32),
    f(F::ApplicationTag, 24, 0, 16),
    f(F::ApplicationTagMask, 26, 0, 16),
    f(F::TransferLength, 28, 0, 32),
];
// WRITE AND VERIFY and VERIFY: PROTECT, DPO, BYTCHK (bits 2..1); no FUA.
const VERIFY10: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Bytchk, 1, 1, 2),
    f(F::Lba, 2, 0, 32),
    f(F::GroupNumber, 6, 0, 6),
    f(F::TransferLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const VERIFY12: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Bytchk, 1, 1, 2),
    f(F::Lba, 2, 0, 32),
    f(F::TransferLength, 6, 0, 32),
    f(F::GroupNumber, 10, 0, 6),
    f(F::Control, 11, 0, 8),
];
const VERIFY16: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Bytchk, 1, 1, 2),
    f(F::Lba, 2, 0, 64),
    f(F::TransferLength, 10, 0, 32),
    f(F::GroupNumber, 14, 0, 6),
    f(F::Control, 15, 0, 8),
];
const VERIFY32: &[FieldSpec] = &[
    f(F::Control, 1, 0, 8),
    f(F::GroupNumber, 6, 0, 6),
    f(F::Protect, 10, 5, 3),
    f(F::Dpo, 10, 4, 1),
    f(F::Bytchk, 10, 1, 2),
    f(F::Lba, 12, 0, 64),
    f(F::ReferenceTag, 20, 0, 32),
    f(F::ApplicationTag, 24, 0, 16),
    f(F::ApplicationTagMask, 26, 0, 16),
    f(F::TransferLength, 28, 0, 32),
];
const WRITE_SAME_10: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Anchor, 1, 4, 1),
    f(F::Unmap, 1, 3, 1),
    f(F::Lba, 2, 0, 32),
    f(F::GroupNumber, 6, 0, 6),
    f(F::TransferLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const WRITE_SAME_16: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Anchor, 1, 4, 1),
    f(F::Unmap, 1, 3, 1),
    f(F::Ndob, 1, 0, 1),
    f(F::Lba, 2, 0, 64),
    f(F::TransferLength, 10, 0, 32),
    f(F::GroupNumber, 14, 0, 6),
    f(F::Control, 15, 0, 8),
];
const WRITE_SAME_32: &[FieldSpec] = &[
    f(F::Control, 1, 0, 8),
    f(F::GroupNumber, 6, 0, 6),
    f(F::Protect, 10, 5, 3),
    f(F::Anchor, 10, 4, 1),
    f(F::Unmap, 10, 3, 1),
    f(F::Ndob, 10, 0, 1),
    f(F::Lba, 12, 0, 64),
    f(F::ReferenceTag, 20, 0, 32),
    f(F::ApplicationTag, 24, 0, 16),
    f(F::ApplicationTagMask, 26, 0, 16),
    f(F::TransferLength, 28, 0, 32),
];
const UNMAP: &[FieldSpec] = &[
    f(F::Anchor, 1, 0, 1),
    f(F::GroupNumber, 6, 0, 6),
    f(F::ParameterListLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const COMPARE_AND_WRITE: &[FieldSpec] = &[
    f(F::Protect, 1, 5, 3),
    f(F::Dpo, 1, 4, 1),
    f(F::Fua, 1, 3, 1),
    f(F::Lba, 2, 0, 64),
    f(F::TransferLength, 13, 0, 8),
    f(F::GroupNumber, 14, 0, 6),
    f(F::Control, 15, 0, 8),
];
// SYNCHRONIZE CACHE and PRE-FETCH share their shape.
const CACHE10: &[FieldSpec] = &[
    f(F::Immed, 1, 1, 1),
    f(F::Lba, 2, 0, 32),
    f(F::GroupNumber, 6, 0, 6),
    f(F::TransferLength, 7, 0, 16),
    f(F::Control, 9, 0, 8),
];
const CACHE16: &[FieldSpec] = &[
    f(F::Immed, 1, 1, 1),
    f(F::Lba, 2, 0, 64),
    f(F::TransferLength, 10, 0, 32),
    f(F::GroupNumber, 14, 0, 6),
    f(F::Control, 15, 0, 8),
];
const GET_LBA_STATUS: &[FieldSpec] = &[
    f(F::Lba, 2, 0, 64),
    f(F::AllocationLength, 10, 0, 32),
    f(F::ReportType, 14, 0, 2),
    f(F::Control, 15, 0, 8),
];
const RSOC: &[FieldSpec] = &[
    f(F::Rctd, 2, 7, 1),
    f(F::ReportingOptions, 2, 0, 3),
    f(F::RequestedOperationCode, 3, 0, 8),
    f(F::RequestedServiceAction, 4, 0, 16),
    f(F::AllocationLength, 6, 0, 32),
    f(F::Control, 11, 0, 8),
];
const RSTMF: &[FieldSpec] = &[
    f(F::Repd, 2, 7, 1),
    f(F::AllocationLength, 6, 0, 32),
    f(F::Control, 11, 0, 8),
];
const START_STOP: &[FieldSpec] = &[
    f(F::Immed, 1, 0, 1),
    f(F::PowerConditionModifier, 3, 0, 4),
    f(F::PowerCondition, 4, 4, 4),
    f(F::NoFlush, 4, 2, 1),
    f(F::Loej, 4, 1, 1),
    f(F::Start, 4, 0, 1),
    f(F::Control, 5, 0, 8),
];
const PREVENT: &[FieldSpec] = &[f(F::Prevent, 4, 0, 2), f(F::Control, 5, 0, 8)];
const FORMAT_UNIT: &[FieldSpec] = &[
    f(F::Fmtpinfo, 1, 6, 2),
    f(F::Longlist, 1, 5, 1),
    f(F::Fmtdata, 1, 4, 1),
    f(F::Cmplst, 1, 3, 1),
    f(F::DefectListFormat, 1, 0, 3),
    f(F::Control, 5, 0, 8),
];
const REPORT_LUNS: &[FieldSpec] = &[
    f(F::SelectReport, 2, 0, 8),
    f(F::AllocationLength, 6, 0, 32),
    f(F::Control, 11, 0, 8),
];
const READ_BUFFER: &[FieldSpec] = &[
    f(F::Mode, 1, 0, 5),
    f(F::BufferId, 2, 0, 8),
    f(F::BufferOffset, 3, 0, 24),
    f(F::AllocationLength, 6, 0, 24),
    f(F::Control, 9, 0, 8),
];
const WRITE_BUFFER: &[FieldSpec] = &[
    f(F::ModeSpecific, 1, 5, 3),
    f(F::Mode, 1, 0, 5),
    f(F::BufferId, 2, 0, 8),
    f(F::BufferOffset, 3, 0, 24),
    f(F::ParameterListLength, 6, 0, 24),
    f(F::Control, 9, 0, 8),
];
const EXTENDED_COPY: &[FieldSpec] = &[
    f(F::ParameterListLength, 10, 0, 32),
    f(F::Control, 15, 0, 8),
];
const RECEIVE_COPY_RESULTS: &[FieldSpec] = &[
    f(F::ListIdentifier, 2, 0, 8),
    f(F::AllocationLength, 10, 0, 32),
    f(F::Control, 15, 0, 8),
];
const PR_IN: &[FieldSpec] = &[f(F::AllocationLength, 7, 0, 16), f(F::Control, 9, 0, 8)];
const PR_OUT: &[FieldSpec] = &[
    f(F::Scope, 2, 4, 4),
    f(F::Type, 2, 0, 4),
    f(F::ParameterListLength, 5, 0, 32),
    f(F::Control, 9, 0, 8),
];
const RESERVE_10: &[FieldSpec] = &[f(F::ParameterListLength, 7, 0, 16), f(F::Control, 9, 0, 8)];

const fn c(
    kind: Kind,
    opcode: u8,
    name: &'static str,
    len: u8,
    fields: &'static [FieldSpec],
) -> CommandInfo {
    CommandInfo {
        kind,
        opcode,
        service_action: None,
        name,
        cdb_length: len,
        fields,
    }
}

const fn sa(
    kind: Kind,
    opcode: u8,
    service_action: u16,
    name: &'static str,
    len: u8,
    fields: &'static [FieldSpec],
) -> CommandInfo {
    CommandInfo {
        kind,
        opcode,
        service_action: Some(service_action),
        name,
        cdb_length: len,
        fields,
    }
}

use opcode as op;
use service_action as sva;

/// Every command this module decodes, one entry per operation code, service action and size.
pub const COMMANDS: &[CommandInfo] = &[
    c(
        Kind::TestUnitReady,
        op::TEST_UNIT_READY,
        "TEST UNIT READY",
        6,
        CTL5,
    ),
    c(
        Kind::RequestSense,
        op::REQUEST_SENSE,
        "REQUEST SENSE",
        6,
        REQUEST_SENSE,
    ),
    c(
        Kind::FormatUnit,
        op::FORMAT_UNIT,
        "FORMAT UNIT",
        6,
        FORMAT_UNIT,
    ),
    c(Kind::Read, op::READ_6, "READ(6)", 6, RW6),
    c(Kind::Write, op::WRITE_6, "WRITE(6)", 6, RW6),
    c(Kind::Inquiry, op::INQUIRY, "INQUIRY", 6, INQUIRY),
    c(
        Kind::ModeSelect,
        op::MODE_SELECT_6,
        "MODE SELECT(6)",
        6,
        MODE_SELECT_6,
    ),
    c(Kind::Reserve, op::RESERVE_6, "RESERVE(6)", 6, CTL5),
    c(Kind::Release, op::RELEASE_6, "RELEASE(6)", 6, CTL5),
    c(
        Kind::ModeSense,
        op::MODE_SENSE_6,
        "MODE SENSE(6)",
        6,
        MODE_SENSE_6,
    ),
    c(
        Kind::StartStopUnit,
        op::START_STOP_UNIT,
        "START STOP UNIT",
        6,
        START_STOP,
    ),
    c(
        Kind::PreventAllowMediumRemoval,
        op::PREVENT_ALLOW_MEDIUM_REMOVAL,
        "PREVENT ALLOW MEDIUM REMOVAL",
        6,
        PREVENT,
    ),
    c(
        Kind::ReadCapacity10,
        op::READ_CAPACITY_10,
        "READ CAPACITY(10)",
        10,
        READ_CAPACITY_10,
    ),
    c(Kind::Read, op::READ_10, "READ(10)", 10, RW10),
    c(Kind::Write, op::WRITE_10, "WRITE(10)", 10, RW10),
    c(
        Kind::WriteAndVerify,
        op::WRITE_AND_VERIFY_10,
        "WRITE AND VERIFY(10)",
        10,
        VERIFY10,
    ),
    c(Kind::Verify, op::VERIFY_10, "VERIFY(10)", 10, VERIFY10),
    c(
        Kind::PreFetch,
        op::PRE_FETCH_10,
        "PRE-FETCH(10)",
        10,
        CACHE10,
    ),
    c(
        Kind::SynchronizeCache,
        op::SYNCHRONIZE_CACHE_10,
        "SYNCHRONIZE CACHE(10)",
        10,
        CACHE10,
    ),
    c(
        Kind::WriteBuffer,
        op::WRITE_BUFFER,
        "WRITE BUFFER",
        10,
        WRITE_BUFFER,
    ),
    c(
        Kind::ReadBuffer,
        op::READ_BUFFER_10,
        "READ BUFFER(10)",
        10,
        READ_BUFFER,
    ),
    c(
        Kind::WriteSame,
        op::WRITE_SAME_10,
        "WRITE SAME(10)",
        10,
        WRITE_SAME_10,
    ),
    c(Kind::Unmap, op::UNMAP, "UNMAP", 10, UNMAP),
    c(
        Kind::ModeSelect,
        op::MODE_SELECT_10,
        "MODE SELECT(10)",
        10,
        MODE_SELECT_10,
    ),
    c(Kind::Reserve, op::RESERVE_10, "RESERVE(10)", 10, RESERVE_10),
    c(Kind::Release, op::RELEASE_10, "RELEASE(10)", 10, RESERVE_10),
    c(
        Kind::ModeSense,
        op::MODE_SENSE_10,
        "MODE SENSE(10)",
        10,
        MODE_SENSE_10,
    ),
    sa(
        Kind::PersistentReserveIn,
        op::PERSISTENT_RESERVE_IN,
        sva::READ_KEYS,
        "PERSISTENT RESERVE IN (READ KEYS)",
        10,
        PR_IN,
    ),
    sa(
        Kind::PersistentReserveIn,
        op::PERSISTENT_RESERVE_IN,
        sva::READ_RESERVATION,
        "PERSISTENT RESERVE IN (READ RESERVATION)",
        10,
        PR_IN,
    ),
    sa(
        Kind::PersistentReserveIn,
        op::PERSISTENT_RESERVE_IN,
        sva::REPORT_CAPABILITIES,
        "PERSISTENT RESERVE IN (REPORT CAPABILITIES)",
        10,
        PR_IN,
    ),
    sa(
        Kind::PersistentReserveIn,
        op::PERSISTENT_RESERVE_IN,
        sva::READ_FULL_STATUS,
        "PERSISTENT RESERVE IN (READ FULL STATUS)",
        10,
        PR_IN,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::REGISTER,
        "PERSISTENT RESERVE OUT (REGISTER)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::RESERVE,
        "PERSISTENT RESERVE OUT (RESERVE)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::RELEASE,
        "PERSISTENT RESERVE OUT (RELEASE)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::CLEAR,
        "PERSISTENT RESERVE OUT (CLEAR)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::PREEMPT,
        "PERSISTENT RESERVE OUT (PREEMPT)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::PREEMPT_AND_ABORT,
        "PERSISTENT RESERVE OUT (PREEMPT AND ABORT)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::REGISTER_AND_IGNORE_EXISTING_KEY,
        "PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::PersistentReserveOut,
        op::PERSISTENT_RESERVE_OUT,
        sva::REGISTER_AND_MOVE,
        "PERSISTENT RESERVE OUT (REGISTER AND MOVE)",
        10,
        PR_OUT,
    ),
    sa(
        Kind::Read,
        op::VARIABLE_LENGTH,
        sva::READ_32,
        "READ(32)",
        32,
        RW32,
    ),
    sa(
        Kind::Verify,
        op::VARIABLE_LENGTH,
        sva::VERIFY_32,
        "VERIFY(32)",
        32,
        VERIFY32,
    ),
    sa(
        Kind::Write,
        op::VARIABLE_LENGTH,
        sva::WRITE_32,
        "WRITE(32)",
        32,
        RW32,
    ),
    sa(
        Kind::WriteAndVerify,
        op::VARIABLE_LENGTH,
        sva::WRITE_AND_VERIFY_32,
        "WRITE AND VERIFY(32)",
        32,
        VERIFY32,
    ),
    sa(
        Kind::WriteSame,
        op::VARIABLE_LENGTH,
        sva::WRITE_SAME_32,
        "WRITE SAME(32)",
        32,
        WRITE_SAME_32,
    ),
    sa(
        Kind::ExtendedCopy,
        op::EXTENDED_COPY,
        sva::EXTENDED_COPY_LID1,
        "EXTENDED COPY(LID1)",
        16,
        EXTENDED_COPY,
    ),
    sa(
        Kind::ExtendedCopy,
        op::EXTENDED_COPY,
        sva::EXTENDED_COPY_LID4,
        "EXTENDED COPY(LID4)",
        16,
        EXTENDED_COPY,
    ),
    sa(
        Kind::ReceiveCopyResults,
        op::RECEIVE_COPY_RESULTS,
        sva::COPY_STATUS,
        "RECEIVE COPY RESULTS (COPY STATUS)",
        16,
        RECEIVE_COPY_RESULTS,
    ),
    sa(
        Kind::ReceiveCopyResults,
        op::RECEIVE_COPY_RESULTS,
        sva::RECEIVE_DATA,
        "RECEIVE COPY RESULTS (RECEIVE DATA)",
        16,
        RECEIVE_COPY_RESULTS,
    ),
    sa(
        Kind::ReceiveCopyResults,
        op::RECEIVE_COPY_RESULTS,
        sva::OPERATING_PARAMETERS,
        "RECEIVE COPY RESULTS (OPERATING PARAMETERS)",
        16,
        RECEIVE_COPY_RESULTS,
    ),
    sa(
        Kind::ReceiveCopyResults,
        op::RECEIVE_COPY_RESULTS,
        sva::FAILED_SEGMENT_DETAILS,
        "RECEIVE COPY RESULTS (FAILED SEGMENT DETAILS)",
        16,
        RECEIVE_COPY_RESULTS,
    ),
    c(Kind::Read, op::READ_16, "READ(16)", 16, RW16),
    c(
        Kind::CompareAndWrite,
        op::COMPARE_AND_WRITE,
        "COMPARE AND WRITE",
        16,
        COMPARE_AND_WRITE,
    ),
    c(Kind::Write, op::WRITE_16, "WRITE(16)", 16, RW16),
    c(
        Kind::WriteAndVerify,
        op::WRITE_AND_VERIFY_16,
        "WRITE AND VERIFY(16)",
        16,
        VERIFY16,
    ),
    c(Kind::Verify, op::VERIFY_16, "VERIFY(16)", 16, VERIFY16),
    c(
        Kind::PreFetch,
        op::PRE_FETCH_16,
        "PRE-FETCH(16)",
        16,
        CACHE16,
    ),
    c(
        Kind::SynchronizeCache,
        op::SYNCHRONIZE_CACHE_16,
        "SYNCHRONIZE CACHE(16)",
        16,
        CACHE16,
    ),
    c(
        Kind::WriteSame,
        op::WRITE_SAME_16,
        "WRITE SAME(16)",
        16,
        WRITE_SAME_16,
    ),
    sa(
        Kind::ReadCapacity16,
        op::SERVICE_ACTION_IN_16,
        sva::READ_CAPACITY_16,
        "READ CAPACITY(16)",
        16,
        READ_CAPACITY_16,
    ),
    sa(
        Kind::GetLbaStatus,
        op::SERVICE_ACTION_IN_16,
        sva::GET_LBA_STATUS,
        "GET LBA STATUS(16)",
        16,
        GET_LBA_STATUS,
    ),
    c(
        Kind::ReportLuns,
        op::REPORT_LUNS,
        "REPORT LUNS",
        12,
        REPORT_LUNS,
    ),
    sa(
        Kind::ReportSupportedOperationCodes,
        op::MAINTENANCE_IN,
        sva::REPORT_SUPPORTED_OPERATION_CODES,
        "REPORT SUPPORTED OPERATION CODES",
        12,
        RSOC,
    ),
    sa(
        Kind::ReportSupportedTaskManagementFunctions,
        op::MAINTENANCE_IN,
        sva::REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS,
        "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
        12,
        RSTMF,
    ),
    c(Kind::Read, op::READ_12, "READ(12)", 12, RW12),
    c(Kind::Write, op::WRITE_12, "WRITE(12)", 12, RW12),
    c(
        Kind::WriteAndVerify,
        op::WRITE_AND_VERIFY_12,
        "WRITE AND VERIFY(12)",
        12,
        VERIFY12,
    ),
    c(Kind::Verify, op::VERIFY_12, "VERIFY(12)", 12, VERIFY12),
];

/// Whether `opcode` is one of those whose service action selects the command.
fn has_service_action(opcode: u8) -> bool {
    COMMANDS
        .iter()
        .any(|i| i.opcode == opcode && i.service_action.is_some())
}

/// The table entry for an operation code and service action.
pub fn command_info(opcode: u8, service_action: Option<u16>) -> Option<&'static CommandInfo> {
    COMMANDS
        .iter()
        .find(|i| i.opcode == opcode && i.service_action == service_action)
}

/// A decoded command: its table entry and the CDB's bytes.
#[derive(Clone, Copy)]
pub struct Command {
    info: &'static CommandInfo,
    bytes: [u8; 32],
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        // The bytes hold the operation code and service action, so they identify the entry.
        self.bytes == other.bytes && self.info.cdb_length == other.info.cdb_length
    }
}

impl Eq for Command {}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct(self.info.name);
        for spec in self.info.fields {
            d.field(spec.field.name(), &spec.read(&self.bytes));
        }
        d.finish()
    }
}

const SA_POINTER: FieldPointer = FieldPointer::cdb_bit(1, 4);
const SA32_POINTER: FieldPointer = FieldPointer::cdb(8);

impl Command {
    /// Decodes a CDB. The input may be longer than the command (the kernel hands a padded
    /// buffer); extra bytes are ignored.
    pub fn parse(cdb: &[u8]) -> Result<Command> {
        let Some(&opcode) = cdb.first() else {
            return Err(Error::Truncated {
                what: "CDB",
                location: Location::Cdb,
                needed: 1,
                actual: 0,
            });
        };
        let service_action = if opcode == opcode::VARIABLE_LENGTH {
            check_len("variable-length CDB", Location::Cdb, cdb, 10)?;
            if cdb[7] != 0x18 {
                return Err(invalid(
                    "variable-length CDB",
                    "ADDITIONAL CDB LENGTH",
                    FieldPointer::cdb(7),
                ));
            }
            Some(u16::from_be_bytes([cdb[8], cdb[9]]))
        } else if has_service_action(opcode) {
            check_len("CDB", Location::Cdb, cdb, 2)?;
            Some(u16::from(cdb[1] & 0x1f))
        } else {
            None
        };
        let info = match command_info(opcode, service_action) {
            Some(info) => info,
            None if service_action.is_some() => {
                let pointer = if opcode == opcode::VARIABLE_LENGTH {
                    SA32_POINTER
                } else {
                    SA_POINTER
                };
                return Err(invalid("CDB", "SERVICE ACTION", pointer));
            }
            None => {
                return Err(Error::UnsupportedOpcode {
                    opcode,
                    service_action: None,
                });
            }
        };
        let len = usize::from(info.cdb_length);
        check_len(info.name, Location::Cdb, cdb, len)?;
        let mut bytes = [0u8; 32];
        bytes[..len].copy_from_slice(&cdb[..len]);
        let cmd = Command { info, bytes };
        cmd.validate()?;
        Ok(cmd)
    }

    /// A command of the given table entry with every field zero (the operation code, service
    /// action and, for 32-byte CDBs, the ADDITIONAL CDB LENGTH set), to fill with
    /// [`Command::set`].
    pub fn new(info: &'static CommandInfo) -> Command {
        let mut bytes = [0u8; 32];
        bytes[0] = info.opcode;
        if let Some(sa) = info.service_action {
            if info.opcode == opcode::VARIABLE_LENGTH {
                bytes[7] = 0x18;
                bytes[8..10].copy_from_slice(&sa.to_be_bytes());
            } else {
                bytes[1] = (sa & 0x1f) as u8;
            }
        }
        Command { info, bytes }
    }

    /// Sets a field. A value that does not fit the field, or a field the command does not
    /// have, is an [`Error::InvalidField`]. For READ(6)/WRITE(6) a TRANSFER LENGTH of 256 is
    /// written as 0, as SBC-4 encodes it.
    pub fn set(&mut self, field: Field, value: u64) -> Result<&mut Self> {
        let Some(spec) = self.info.spec(field) else {
            return Err(invalid(self.info.name, field.name(), FieldPointer::cdb(0)));
        };
        let value = if self.is_six_byte_rw() && field == Field::TransferLength {
            match value {
                1..=255 => value,
                256 => 0,
                _ => return Err(invalid(self.info.name, field.name(), spec.pointer())),
            }
        } else {
            value
        };
        if value > spec.mask() {
            return Err(invalid(self.info.name, field.name(), spec.pointer()));
        }
        spec.write(&mut self.bytes, value);
        Ok(self)
    }

    fn is_six_byte_rw(&self) -> bool {
        matches!(self.info.kind, Kind::Read | Kind::Write) && self.info.cdb_length == 6
    }

    /// Raw value of a field, if the command has it.
    pub fn get(&self, field: Field) -> Option<u64> {
        let v = self.info.spec(field)?.read(&self.bytes);
        if self.is_six_byte_rw() && field == Field::TransferLength && v == 0 {
            return Some(256);
        }
        Some(v)
    }

    fn flag(&self, field: Field) -> bool {
        self.get(field).is_some_and(|v| v != 0)
    }

    fn pointer(&self, field: Field) -> FieldPointer {
        self.field_pointer(field).unwrap_or(FieldPointer::cdb(0))
    }

    /// The sense-key-specific pointer to `field` in this CDB, for a device that rejects the
    /// value (e.g. a non-zero RDPROTECT on a device without protection information).
    pub fn field_pointer(&self, field: Field) -> Option<FieldPointer> {
        self.info.spec(field).map(FieldSpec::pointer)
    }

    /// Values the standards declare invalid.
    fn validate(&self) -> Result<()> {
        let name = self.info.name;
        let bad = |field: Field| Err(invalid(name, field.name(), self.pointer(field)));
        match self.info.kind {
            Kind::Inquiry if !self.flag(Field::Evpd) && self.flag(Field::PageCode) => {
                bad(Field::PageCode)
            }
            Kind::ReadCapacity10 if !self.flag(Field::Pmi) && self.flag(Field::Lba) => {
                bad(Field::Lba)
            }
            Kind::WriteSame if self.flag(Field::Anchor) && !self.flag(Field::Unmap) => {
                bad(Field::Anchor)
            }
            // BYTCHK 10b is reserved; 11b (one block compared against each) is VERIFY's only.
            Kind::Verify if self.get(Field::Bytchk) == Some(2) => bad(Field::Bytchk),
            Kind::WriteAndVerify if self.get(Field::Bytchk).is_some_and(|v| v >= 2) => {
                bad(Field::Bytchk)
            }
            Kind::ReportSupportedOperationCodes
                if self.get(Field::ReportingOptions).is_some_and(|v| v > 3) =>
            {
                bad(Field::ReportingOptions)
            }
            _ => Ok(()),
        }
    }

    /// The table entry.
    pub fn info(&self) -> &'static CommandInfo {
        self.info
    }

    /// What the command is.
    pub fn kind(&self) -> Kind {
        self.info.kind
    }

    /// The CDB bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.info.cdb_length)]
    }

    /// Operation code.
    pub fn opcode(&self) -> u8 {
        self.info.opcode
    }

    /// Service action, for operation codes that have them.
    pub fn service_action(&self) -> Option<u16> {
        self.info.service_action
    }

    /// Name, e.g. "READ(10)".
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// LOGICAL BLOCK ADDRESS.
    pub fn lba(&self) -> Option<u64> {
        self.get(Field::Lba)
    }

    /// Number of logical blocks: TRANSFER LENGTH, VERIFICATION LENGTH, WRITE SAME's NUMBER OF
    /// LOGICAL BLOCKS, COMPARE AND WRITE's NUMBER OF LOGICAL BLOCKS, SYNCHRONIZE CACHE's and
    /// PRE-FETCH's count. READ(6)/WRITE(6) report 256 for a zero field.
    pub fn transfer_length(&self) -> Option<u32> {
        self.get(Field::TransferLength)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// ALLOCATION LENGTH.
    pub fn allocation_length(&self) -> Option<u32> {
        self.get(Field::AllocationLength)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// PARAMETER LIST LENGTH.
    pub fn parameter_list_length(&self) -> Option<u32> {
        self.get(Field::ParameterListLength)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// DPO.
    pub fn dpo(&self) -> bool {
        self.flag(Field::Dpo)
    }

    /// FUA.
    pub fn fua(&self) -> bool {
        self.flag(Field::Fua)
    }

    /// GROUP NUMBER.
    pub fn group_number(&self) -> Option<u8> {
        self.get(Field::GroupNumber).map(|v| v as u8)
    }

    /// RDPROTECT / WRPROTECT / VRPROTECT.
    pub fn protect(&self) -> Option<u8> {
        self.get(Field::Protect).map(|v| v as u8)
    }

    /// CONTROL byte.
    pub fn control(&self) -> u8 {
        self.get(Field::Control).map_or(0, |v| v as u8)
    }

    /// Which way data moves.
    pub fn data_direction(&self) -> DataDirection {
        use Kind::*;
        match self.info.kind {
            RequestSense
            | Inquiry
            | ModeSense
            | ReadCapacity10
            | ReadCapacity16
            | Read
            | GetLbaStatus
            | ReportSupportedOperationCodes
            | ReportSupportedTaskManagementFunctions
            | ReportLuns
            | ReadBuffer
            | ReceiveCopyResults
            | PersistentReserveIn => DataDirection::FromDevice,
            Write | WriteAndVerify | CompareAndWrite | Unmap | ModeSelect | WriteBuffer
            | ExtendedCopy | PersistentReserveOut => DataDirection::ToDevice,
            Verify if self.flag(Field::Bytchk) => DataDirection::ToDevice,
            WriteSame if !self.flag(Field::Ndob) => DataDirection::ToDevice,
            FormatUnit if self.flag(Field::Fmtdata) => DataDirection::ToDevice,
            Reserve | Release if self.flag(Field::ParameterListLength) => DataDirection::ToDevice,
            _ => DataDirection::None,
        }
    }

    /// The Data-Out bytes the command carries for a device of `block_length`-byte blocks;
    /// `None` when the CDB alone does not say (FORMAT UNIT's parameter list) or on overflow.
    pub fn data_out_length(&self, block_length: u32) -> Option<u64> {
        use Kind::*;
        let blocks = u64::from(self.transfer_length().unwrap_or(0));
        let bl = u64::from(block_length);
        match self.info.kind {
            Write | WriteAndVerify => blocks.checked_mul(bl),
            Verify => match self.get(Field::Bytchk) {
                Some(1) => blocks.checked_mul(bl),
                Some(3) => Some(bl),
                _ => Some(0),
            },
            WriteSame => Some(if self.flag(Field::Ndob) { 0 } else { bl }),
            CompareAndWrite => blocks.checked_mul(bl)?.checked_mul(2),
            FormatUnit if self.flag(Field::Fmtdata) => None,
            _ => Some(self.parameter_list_length().map_or(0, u64::from)),
        }
    }

    /// For MODE SENSE(6)/(10): the request the `mode` module answers.
    pub fn mode_sense_request(&self) -> Option<ModeSenseRequest> {
        if self.info.kind != Kind::ModeSense {
            return None;
        }
        Some(ModeSenseRequest {
            ten: self.info.cdb_length == 10,
            dbd: self.flag(Field::Dbd),
            llbaa: self.flag(Field::Llbaa),
            pc: PageControl::from_bits(self.get(Field::PageControl)? as u8),
            page_code: self.get(Field::PageCode)? as u8,
            subpage_code: self.get(Field::SubpageCode)? as u8,
        })
    }
}

fn invalid(what: &'static str, field: &'static str, pointer: FieldPointer) -> Error {
    Error::InvalidField {
        what,
        field,
        pointer,
    }
}

impl Wire for Command {
    fn parse(buf: &[u8]) -> Result<Self> {
        Command::parse(buf)
    }

    fn buffer_len(&self) -> usize {
        usize::from(self.info.cdb_length)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        crate::error::check_out(self.info.name, buf, n)?;
        buf[..n].copy_from_slice(self.as_bytes());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_roundtrip;
    use proptest::prelude::*;

    fn parse(hex: &str) -> Result<Command> {
        let bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        Command::parse(&bytes)
    }

    fn invalid_at(r: Result<Command>, pointer: FieldPointer) {
        match r {
            Err(Error::InvalidField { pointer: p, .. }) => assert_eq!(p, pointer),
            other => panic!("expected an invalid field at {pointer}, got {other:?}"),
        }
    }

    #[test]
    fn lengths_from_group_codes() {
        assert_eq!(cdb_length(&[0x00]), Some(6));
        assert_eq!(cdb_length(&[0x28]), Some(10));
        assert_eq!(cdb_length(&[0x5a]), Some(10));
        assert_eq!(cdb_length(&[0x88]), Some(16));
        assert_eq!(cdb_length(&[0xa8]), Some(12));
        assert_eq!(cdb_length(&[0x7f, 0, 0, 0, 0, 0, 0, 0x18]), Some(32));
        assert_eq!(cdb_length(&[0x7f]), None);
        assert_eq!(cdb_length(&[0x60]), None);
        assert_eq!(cdb_length(&[0xc0]), None);
        assert_eq!(cdb_length(&[]), None);
    }

    #[test]
    fn read_family_in_every_size() {
        let c = parse("08 1f ff ff 00 00").unwrap();
        assert_eq!(
            (c.name(), c.lba(), c.transfer_length()),
            ("READ(6)", Some(0x1f_ffff), Some(256))
        );
        let c = parse("28 fa 00 00 12 34 17 00 08 00").unwrap();
        assert_eq!(c.name(), "READ(10)");
        assert_eq!(
            (c.lba(), c.transfer_length(), c.group_number()),
            (Some(0x1234), Some(8), Some(0x17))
        );
        assert_eq!((c.protect(), c.dpo(), c.fua()), (Some(7), true, true));
        let c = parse("a8 08 01 02 03 04 00 01 00 00 05 00").unwrap();
        assert_eq!(
            (c.lba(), c.transfer_length(), c.group_number()),
            (Some(0x0102_0304), Some(0x10000), Some(5))
        );
        let c = parse("8a 10 01 02 03 04 05 06 07 08 00 00 01 00 3f 00").unwrap();
        assert_eq!(c.name(), "WRITE(16)");
        assert_eq!(
            (c.lba(), c.transfer_length(), c.dpo(), c.fua()),
            (Some(0x0102_0304_0506_0708), Some(256), true, false)
        );
        assert_eq!(c.group_number(), Some(0x3f));
        assert_eq!(c.data_out_length(4096), Some(256 * 4096));
        let c = parse("7f 00 00 00 00 00 02 18 00 09 28 00 00 00 00 00 00 00 00 40 11 22 33 44 55 66 77 88 00 00 00 10")
            .unwrap();
        assert_eq!(c.name(), "READ(32)");
        assert_eq!(
            (c.lba(), c.transfer_length(), c.group_number(), c.fua()),
            (Some(0x40), Some(16), Some(2), true)
        );
        assert_eq!(c.get(Field::ReferenceTag), Some(0x1122_3344));
        assert_eq!(c.get(Field::ApplicationTag), Some(0x5566));
        assert_eq!(c.get(Field::ApplicationTagMask), Some(0x7788));
        assert_eq!(
            c.field_pointer(Field::Protect),
            Some(FieldPointer::cdb_bit(10, 7))
        );
        assert_eq!(c.data_direction(), DataDirection::FromDevice);
    }

    #[test]
    fn read6_transfer_length_256_is_zero_on_the_wire() {
        let mut c = Command::new(command_info(opcode::WRITE_6, None).unwrap());
        c.set(Field::Lba, 0x1234)
            .unwrap()
            .set(Field::TransferLength, 256)
            .unwrap();
        assert_eq!(c.as_bytes(), &[0x0a, 0x00, 0x12, 0x34, 0x00, 0x00]);
        assert_eq!(c.transfer_length(), Some(256));
        assert!(c.set(Field::TransferLength, 257).is_err());
        assert!(c.set(Field::TransferLength, 0).is_err());
        invalid_at(
            Command::new(c.info())
                .set(Field::Lba, 0x20_0000)
                .map(|c| *c),
            FieldPointer::cdb(1),
        );
    }

    #[test]
    fn everyday_commands() {
        let c = parse("12 01 b0 01 00 00").unwrap();
        assert_eq!(
            (
                c.get(Field::Evpd),
                c.get(Field::PageCode),
                c.allocation_length()
            ),
            (Some(1), Some(0xb0), Some(256))
        );
        invalid_at(parse("12 00 80 00 ff 00"), FieldPointer::cdb(2));
        let c = parse("5a 18 7f 00 00 00 00 02 00 00").unwrap();
        let req = c.mode_sense_request().unwrap();
        assert!(req.ten && req.dbd && req.llbaa);
        assert_eq!(
            (req.pc, req.page_code, req.subpage_code),
            (PageControl::Changeable, 0x3f, 0)
        );
        assert_eq!(c.allocation_length(), Some(512));
        let c = parse("15 10 00 00 18 00").unwrap();
        assert_eq!(
            (
                c.get(Field::Pf),
                c.get(Field::Sp),
                c.parameter_list_length()
            ),
            (Some(1), Some(0), Some(0x18))
        );
        assert_eq!(c.data_out_length(512), Some(0x18));
        let c = parse("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00").unwrap();
        assert_eq!(
            (c.name(), c.allocation_length()),
            ("READ CAPACITY(16)", Some(32))
        );
        invalid_at(parse("25 00 00 00 00 01 00 00 00 00"), FieldPointer::cdb(2));
        assert!(parse("25 00 00 00 00 01 00 00 01 00").is_ok());
        let c = parse("9e 12 00 00 00 00 00 00 10 00 00 00 10 00 01 00").unwrap();
        assert_eq!(
            (
                c.name(),
                c.lba(),
                c.allocation_length(),
                c.get(Field::ReportType)
            ),
            ("GET LBA STATUS(16)", Some(0x1000), Some(0x1000), Some(1))
        );
        let c = parse("42 01 00 00 00 00 05 00 18 00").unwrap();
        assert_eq!(
            (
                c.get(Field::Anchor),
                c.group_number(),
                c.parameter_list_length()
            ),
            (Some(1), Some(5), Some(24))
        );
        let c = parse("89 00 00 00 00 00 00 00 00 10 00 00 00 02 00 00").unwrap();
        assert_eq!(
            (c.lba(), c.transfer_length(), c.data_out_length(512)),
            (Some(16), Some(2), Some(2048))
        );
        let c = parse("35 02 00 00 00 00 00 00 00 00").unwrap();
        assert_eq!(
            (c.get(Field::Immed), c.lba(), c.transfer_length()),
            (Some(1), Some(0), Some(0))
        );
        let c = parse("a3 0c 82 28 00 00 00 00 02 00 00 00").unwrap();
        assert_eq!(
            (
                c.get(Field::Rctd),
                c.get(Field::ReportingOptions),
                c.get(Field::RequestedOperationCode)
            ),
            (Some(1), Some(2), Some(0x28))
        );
        invalid_at(
            parse("a3 0c 07 28 00 00 00 00 02 00 00 00"),
            FieldPointer::cdb_bit(2, 2),
        );
        let c = parse("1b 01 00 02 31 00").unwrap();
        assert_eq!(
            (
                c.get(Field::Immed),
                c.get(Field::PowerConditionModifier),
                c.get(Field::PowerCondition),
                c.get(Field::Start)
            ),
            (Some(1), Some(2), Some(3), Some(1))
        );
        let c = parse("5f 01 35 00 00 00 00 00 18 00").unwrap();
        assert_eq!(
            (
                c.name(),
                c.get(Field::Scope),
                c.get(Field::Type),
                c.parameter_list_length()
            ),
            (
                "PERSISTENT RESERVE OUT (RESERVE)",
                Some(3),
                Some(5),
                Some(24)
            )
        );
        let c = parse("3b e2 01 00 10 00 00 02 00 00").unwrap();
        assert_eq!(
            (
                c.get(Field::ModeSpecific),
                c.get(Field::Mode),
                c.get(Field::BufferOffset),
                c.parameter_list_length()
            ),
            (Some(7), Some(2), Some(0x1000), Some(0x200))
        );
        let c = parse("a0 00 02 00 00 00 00 00 10 00 00 00").unwrap();
        assert_eq!(
            (c.get(Field::SelectReport), c.allocation_length()),
            (Some(2), Some(4096))
        );
    }

    #[test]
    fn write_same_and_verify_rules() {
        // ANCHOR without UNMAP: invalid, pointing at ANCHOR in each size.
        invalid_at(
            parse("41 10 00 00 00 00 00 00 01 00"),
            FieldPointer::cdb_bit(1, 4),
        );
        invalid_at(
            parse("93 10 00 00 00 00 00 00 00 00 00 00 00 08 00 00"),
            FieldPointer::cdb_bit(1, 4),
        );
        let c = parse("93 19 00 00 00 00 00 00 00 00 00 00 00 08 00 00").unwrap();
        assert_eq!(
            (
                c.get(Field::Anchor),
                c.get(Field::Unmap),
                c.get(Field::Ndob)
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(
            (c.data_direction(), c.data_out_length(512)),
            (DataDirection::None, Some(0))
        );
        let c = parse("93 08 00 00 00 00 00 00 00 00 00 00 00 08 00 00").unwrap();
        assert_eq!(
            (c.data_direction(), c.data_out_length(512)),
            (DataDirection::ToDevice, Some(512))
        );
        invalid_at(
            parse("2f 04 00 00 00 00 00 00 01 00"),
            FieldPointer::cdb_bit(1, 2),
        );
        let c = parse("2f 06 00 00 00 00 00 00 04 00").unwrap();
        assert_eq!(c.data_out_length(512), Some(512));
        let c = parse("2f 02 00 00 00 00 00 00 04 00").unwrap();
        assert_eq!(c.data_out_length(512), Some(2048));
        assert_eq!(
            parse("2f 00 00 00 00 00 00 00 04 00")
                .unwrap()
                .data_direction(),
            DataDirection::None
        );
        invalid_at(
            parse("2e 06 00 00 00 00 00 00 01 00"),
            FieldPointer::cdb_bit(1, 2),
        );
    }

    #[test]
    fn opcode_and_service_action_errors() {
        assert_eq!(
            parse("c1 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
            Err(Error::UnsupportedOpcode {
                opcode: 0xc1,
                service_action: None
            })
        );
        invalid_at(
            parse("9e 1f 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
            FieldPointer::cdb_bit(1, 4),
        );
        invalid_at(
            parse("5e 07 00 00 00 00 00 00 00 00"),
            FieldPointer::cdb_bit(1, 4),
        );
        invalid_at(
            parse(
                "7f 00 00 00 00 00 00 18 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            ),
            FieldPointer::cdb(8),
        );
        invalid_at(parse("7f 00 00 00 00 00 00 10 00 09"), FieldPointer::cdb(7));
        assert!(matches!(
            parse("28 00 00 00"),
            Err(Error::Truncated {
                location: Location::Cdb,
                needed: 10,
                actual: 4,
                ..
            })
        ));
        assert!(matches!(Command::parse(&[]), Err(Error::Truncated { .. })));
    }

    #[test]
    fn the_table_is_consistent() {
        for info in COMMANDS {
            let usage = info.usage_data();
            assert_eq!(usage.len(), usize::from(info.cdb_length), "{}", info.name);
            assert_eq!(usage[0], info.opcode);
            assert_eq!(
                command_info(info.opcode, info.service_action),
                Some(info),
                "{} is listed twice",
                info.name
            );
            let c = Command::new(info);
            let mut raw = c.as_bytes().to_vec();
            if info.kind == Kind::ReadCapacity10 {
                raw[8] = 1;
            }
            let parsed = Command::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", info.name));
            assert_eq!(
                (parsed.opcode(), parsed.service_action(), parsed.name()),
                (info.opcode, info.service_action, info.name)
            );
            assert_eq!(cdb_length(&raw), Some(usize::from(info.cdb_length)));
            for spec in info.fields {
                let end = usize::from(spec.byte) + spec.nbytes();
                assert!(
                    end <= usize::from(info.cdb_length),
                    "{} {:?} outside the CDB",
                    info.name,
                    spec.field
                );
            }
        }
        // READ(10): everything but the CONTROL byte, as LIO reports it.
        let read10 = command_info(opcode::READ_10, None).unwrap();
        assert_eq!(
            read10.usage_data(),
            vec![0x28, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00]
        );
        let rc16 = command_info(opcode::SERVICE_ACTION_IN_16, Some(0x10)).unwrap();
        assert_eq!(rc16.usage_data()[..2], [0x9e, 0x10]);
        let read32 = command_info(opcode::VARIABLE_LENGTH, Some(0x0009)).unwrap();
        assert_eq!(read32.usage_data()[7..10], [0xff, 0x00, 0x09]);
    }

    fn any_command() -> impl Strategy<Value = Command> {
        (
            0..COMMANDS.len(),
            proptest::collection::vec(any::<u64>(), 16),
        )
            .prop_filter_map("valid combination", |(i, values)| {
                let info = &COMMANDS[i];
                let mut c = Command::new(info);
                for (spec, v) in info.fields.iter().zip(values) {
                    let mut v = v & spec.mask();
                    if spec.field == Field::TransferLength && c.is_six_byte_rw() {
                        v = v % 256 + 1;
                    }
                    c.set(spec.field, v).ok()?;
                }
                c.validate().ok()?;
                Some(c)
            })
    }

    proptest! {
        #[test]
        fn roundtrip(c in any_command()) {
            assert_roundtrip(&c);
            for spec in c.info().fields {
                let v = c.get(spec.field).unwrap();
                let mut d = Command::new(c.info());
                d.set(spec.field, v).unwrap();
                prop_assert_eq!(d.get(spec.field), Some(v));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(c) = Command::parse(&bytes) {
                let again = Command::parse(&c.to_vec()).unwrap();
                prop_assert_eq!(again, c);
                let _ = (c.lba(), c.transfer_length(), c.allocation_length(), c.data_out_length(u32::MAX), format!("{c:?}"));
            }
        }

        #[test]
        fn every_opcode_reaches_its_decoder(i in 0..COMMANDS.len(), mut bytes in proptest::collection::vec(any::<u8>(), 32)) {
            let info = &COMMANDS[i];
            bytes[0] = info.opcode;
            if info.opcode == opcode::VARIABLE_LENGTH {
                bytes[7] = 0x18;
            }
            if let Ok(c) = Command::parse(&bytes) {
                prop_assert_eq!(c.as_bytes(), &bytes[..usize::from(c.info().cdb_length)]);
                prop_assert_eq!(Command::parse(&c.to_vec()).unwrap(), c);
            }
        }
    }
}
