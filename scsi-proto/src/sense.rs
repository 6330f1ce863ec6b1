//! Sense data (SPC-5 4.4): what a target returns with CHECK CONDITION status, in fixed or
//! descriptor format, with the sense keys, ASC/ASCQ codes and SCSI status codes it needs.
//!
//! A target builds a [`SenseData`] with one of the shorthands ([`SenseData::invalid_field_in_cdb`],
//! [`SenseData::lba_out_of_range`], ...) or from an [`Error`] ([`SenseData::from_error`]), picks
//! the format the Control mode page's D_SENSE bit asks for ([`SenseData::in_format`]) and emits
//! it with [`Wire::emit`]. Everything this module emits is at most 48 bytes, well within the
//! 96-byte sense buffer of a TCMU command ring entry (`TCMU_SENSE_BUFFERSIZE`).
//!
//! ```
//! use scsi_proto::{FieldPointer, Wire};
//! use scsi_proto::sense::{SenseData, SenseFormat};
//!
//! // INVALID FIELD IN CDB, pointing at CDB byte 1 bit 4, in descriptor format.
//! let sense = SenseData::invalid_field_in_cdb(FieldPointer::cdb_bit(1, 4))
//!     .in_format(SenseFormat::Descriptor);
//! let bytes = sense.to_vec();
//! assert_eq!(&bytes[..4], &[0x72, 0x05, 0x24, 0x00]);
//! assert_eq!(SenseData::parse(&bytes).unwrap(), sense);
//! ```

use core::fmt;

use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{check_len, check_out};
use crate::{Error, FieldPointer, Location, Result, Wire};

/// The largest sense data SPC-5 allows (4.4.1: ADDITIONAL SENSE LENGTH at most 244).
///
/// Only a bound for buffers: this module emits at most 48 bytes, which also fits the 96-byte
/// sense buffer TCMU gives each command.
pub const MAX_LEN: usize = 252;

/// The length of fixed format sense data as this module emits it (SPC-5 4.4.3: bytes 0..=17,
/// ADDITIONAL SENSE LENGTH 0Ah).
pub const FIXED_LEN: usize = 18;

/// SCSI status codes (SAM-5 5.3), the byte a target completes every command with.
pub mod status {
    /// GOOD: the command completed successfully.
    pub const GOOD: u8 = 0x00;
    /// CHECK CONDITION: sense data describes what went wrong.
    pub const CHECK_CONDITION: u8 = 0x02;
    /// CONDITION MET: a PRE-FETCH found room in the cache.
    pub const CONDITION_MET: u8 = 0x04;
    /// BUSY: the logical unit cannot take the command now; retry later.
    pub const BUSY: u8 = 0x08;
    /// RESERVATION CONFLICT: the command conflicts with a persistent reservation.
    pub const RESERVATION_CONFLICT: u8 = 0x18;
    /// TASK SET FULL: the task set has no room for the command.
    pub const TASK_SET_FULL: u8 = 0x28;
    /// ACA ACTIVE: an auto contingent allegiance condition is in effect.
    pub const ACA_ACTIVE: u8 = 0x30;
    /// TASK ABORTED: the command was aborted by another I_T nexus (TAS=1).
    pub const TASK_ABORTED: u8 = 0x40;
}

// ---------------------------------------------------------------------------------------------
// Sense keys
// ---------------------------------------------------------------------------------------------

/// The SENSE KEY field (SPC-5 4.4, "Sense key descriptions" table): the general category of the
/// condition. All sixteen 4-bit values have a variant, so every sense key parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SenseKey {
    /// 0h NO SENSE: nothing to report (or only a progress indication / flag bits).
    NoSense = 0x0,
    /// 1h RECOVERED ERROR: the command completed after recovery by the device.
    RecoveredError = 0x1,
    /// 2h NOT READY: the logical unit is not accessible.
    NotReady = 0x2,
    /// 3h MEDIUM ERROR: a non-recoverable error in or on the medium.
    MediumError = 0x3,
    /// 4h HARDWARE ERROR: a non-recoverable hardware (or, for us, internal) failure.
    HardwareError = 0x4,
    /// 5h ILLEGAL REQUEST: the CDB or parameter list was invalid; nothing was changed.
    IllegalRequest = 0x5,
    /// 6h UNIT ATTENTION: an event (reset, parameter change...) the initiator must notice.
    UnitAttention = 0x6,
    /// 7h DATA PROTECT: a write or read to a protected block was refused.
    DataProtect = 0x7,
    /// 8h BLANK CHECK: blank or non-blank medium met unexpectedly.
    BlankCheck = 0x8,
    /// 9h VENDOR SPECIFIC.
    VendorSpecific = 0x9,
    /// Ah COPY ABORTED: an EXTENDED COPY or similar was aborted.
    CopyAborted = 0xA,
    /// Bh ABORTED COMMAND: the device server aborted the command; a retry may succeed.
    AbortedCommand = 0xB,
    /// Ch: obsolete (EQUAL in SCSI-2). Kept so that every 4-bit value parses.
    Obsolete = 0xC,
    /// Dh VOLUME OVERFLOW: a buffered device reached the end of partition.
    VolumeOverflow = 0xD,
    /// Eh MISCOMPARE: source data did not match the medium (VERIFY, COMPARE AND WRITE).
    Miscompare = 0xE,
    /// Fh COMPLETED: command completed sense data to report along with GOOD (SAM-5).
    Completed = 0xF,
}

impl SenseKey {
    /// The sense key with value `v`, or `None` when `v` does not fit in the 4-bit field.
    pub const fn from_u8(v: u8) -> Option<Self> {
        if v > 0x0F {
            None
        } else {
            Some(Self::from_low_nibble(v))
        }
    }

    /// The sense key held in the low four bits of `v` (the rest are ignored).
    const fn from_low_nibble(v: u8) -> Self {
        match v & 0x0F {
            0x0 => SenseKey::NoSense,
            0x1 => SenseKey::RecoveredError,
            0x2 => SenseKey::NotReady,
            0x3 => SenseKey::MediumError,
            0x4 => SenseKey::HardwareError,
            0x5 => SenseKey::IllegalRequest,
            0x6 => SenseKey::UnitAttention,
            0x7 => SenseKey::DataProtect,
            0x8 => SenseKey::BlankCheck,
            0x9 => SenseKey::VendorSpecific,
            0xA => SenseKey::CopyAborted,
            0xB => SenseKey::AbortedCommand,
            0xC => SenseKey::Obsolete,
            0xD => SenseKey::VolumeOverflow,
            0xE => SenseKey::Miscompare,
            _ => SenseKey::Completed,
        }
    }

    /// The name as the standard spells it, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            SenseKey::NoSense => "NO SENSE",
            SenseKey::RecoveredError => "RECOVERED ERROR",
            SenseKey::NotReady => "NOT READY",
            SenseKey::MediumError => "MEDIUM ERROR",
            SenseKey::HardwareError => "HARDWARE ERROR",
            SenseKey::IllegalRequest => "ILLEGAL REQUEST",
            SenseKey::UnitAttention => "UNIT ATTENTION",
            SenseKey::DataProtect => "DATA PROTECT",
            SenseKey::BlankCheck => "BLANK CHECK",
            SenseKey::VendorSpecific => "VENDOR SPECIFIC",
            SenseKey::CopyAborted => "COPY ABORTED",
            SenseKey::AbortedCommand => "ABORTED COMMAND",
            SenseKey::Obsolete => "OBSOLETE (0Ch)",
            SenseKey::VolumeOverflow => "VOLUME OVERFLOW",
            SenseKey::Miscompare => "MISCOMPARE",
            SenseKey::Completed => "COMPLETED",
        }
    }
}

impl From<SenseKey> for u8 {
    fn from(key: SenseKey) -> u8 {
        key as u8
    }
}

impl fmt::Display for SenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// Additional sense codes
// ---------------------------------------------------------------------------------------------

/// An ADDITIONAL SENSE CODE and its QUALIFIER (ASC/ASCQ): the precise condition within the
/// sense key. Any pair parses; the constants name the ones a disk target answers, with the
/// descriptions of the SPC-5 ASC/ASCQ assignment table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdditionalSense {
    /// ADDITIONAL SENSE CODE.
    pub asc: u8,
    /// ADDITIONAL SENSE CODE QUALIFIER.
    pub ascq: u8,
}

impl AdditionalSense {
    /// The pair `asc`/`ascq`.
    pub const fn new(asc: u8, ascq: u8) -> Self {
        AdditionalSense { asc, ascq }
    }
}

/// Defines the named ASC/ASCQ constants and their descriptions from one table, so the two
/// cannot drift apart; a duplicated pair makes the `description` match unreachable (a lint
/// error under `-D warnings`).
macro_rules! additional_sense_codes {
    ($($name:ident = ($asc:literal, $ascq:literal, $desc:literal);)*) => {
        impl AdditionalSense {
            $(
                #[doc = concat!("ASC/ASCQ ", stringify!($asc), "/", stringify!($ascq), ": ", $desc, ".")]
                pub const $name: AdditionalSense = AdditionalSense::new($asc, $ascq);
            )*

            /// The standard's description of this ASC/ASCQ pair, for logging; `None` for pairs
            /// this module has no constant for.
            pub const fn description(self) -> Option<&'static str> {
                match (self.asc, self.ascq) {
                    $(($asc, $ascq) => Some($desc),)*
                    _ => None,
                }
            }

            /// Every named pair, for the tests.
            #[cfg(test)]
            const KNOWN: &'static [(AdditionalSense, &'static str)] =
                &[$((AdditionalSense::$name, $desc),)*];
        }
    };
}

additional_sense_codes! {
    NO_ADDITIONAL_SENSE = (0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION");
    OPERATION_IN_PROGRESS = (0x00, 0x16, "OPERATION IN PROGRESS");
    LUN_NOT_READY_CAUSE_NOT_REPORTABLE = (0x04, 0x00, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE");
    LUN_BECOMING_READY = (0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY");
    LUN_NOT_READY_INITIALIZING_COMMAND_REQUIRED = (0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED");
    LUN_NOT_READY_MANUAL_INTERVENTION = (0x04, 0x03, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED");
    LUN_NOT_READY_FORMAT_IN_PROGRESS = (0x04, 0x04, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS");
    LUN_NOT_READY_OPERATION_IN_PROGRESS = (0x04, 0x07, "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS");
    LUN_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION = (0x04, 0x0A, "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION");
    LUN_NOT_ACCESSIBLE_TARGET_PORT_IN_STANDBY_STATE = (0x04, 0x0B, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE");
    LUN_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE = (0x04, 0x0C, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE");
    LUN_NOT_READY_SPACE_ALLOCATION_IN_PROGRESS = (0x04, 0x14, "LOGICAL UNIT NOT READY, SPACE ALLOCATION IN PROGRESS");
    LUN_NOT_READY_SANITIZE_IN_PROGRESS = (0x04, 0x1B, "LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS");
    LUN_COMMUNICATION_FAILURE = (0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE");
    LUN_COMMUNICATION_TIMEOUT = (0x08, 0x01, "LOGICAL UNIT COMMUNICATION TIME-OUT");
    WRITE_ERROR = (0x0C, 0x00, "WRITE ERROR");
    COPY_TARGET_DEVICE_NOT_REACHABLE = (0x0D, 0x02, "COPY TARGET DEVICE NOT REACHABLE");
    INCORRECT_COPY_TARGET_DEVICE_TYPE = (0x0D, 0x03, "INCORRECT COPY TARGET DEVICE TYPE");
    COPY_TARGET_DEVICE_DATA_UNDERRUN = (0x0D, 0x04, "COPY TARGET DEVICE DATA UNDERRUN");
    COPY_TARGET_DEVICE_DATA_OVERRUN = (0x0D, 0x05, "COPY TARGET DEVICE DATA OVERRUN");
    LOGICAL_BLOCK_GUARD_CHECK_FAILED = (0x10, 0x01, "LOGICAL BLOCK GUARD CHECK FAILED");
    LOGICAL_BLOCK_APPLICATION_TAG_CHECK_FAILED = (0x10, 0x02, "LOGICAL BLOCK APPLICATION TAG CHECK FAILED");
    LOGICAL_BLOCK_REFERENCE_TAG_CHECK_FAILED = (0x10, 0x03, "LOGICAL BLOCK REFERENCE TAG CHECK FAILED");
    UNRECOVERED_READ_ERROR = (0x11, 0x00, "UNRECOVERED READ ERROR");
    PARAMETER_LIST_LENGTH_ERROR = (0x1A, 0x00, "PARAMETER LIST LENGTH ERROR");
    MISCOMPARE_DURING_VERIFY = (0x1D, 0x00, "MISCOMPARE DURING VERIFY OPERATION");
    MISCOMPARE_VERIFY_OF_UNMAPPED_LBA = (0x1D, 0x01, "MISCOMPARE VERIFY OF UNMAPPED LBA");
    INVALID_COMMAND_OPERATION_CODE = (0x20, 0x00, "INVALID COMMAND OPERATION CODE");
    ACCESS_DENIED_NO_ACCESS_RIGHTS = (0x20, 0x02, "ACCESS DENIED - NO ACCESS RIGHTS");
    LBA_OUT_OF_RANGE = (0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE");
    UNALIGNED_WRITE_COMMAND = (0x21, 0x04, "UNALIGNED WRITE COMMAND");
    INVALID_FIELD_IN_CDB = (0x24, 0x00, "INVALID FIELD IN CDB");
    LUN_NOT_SUPPORTED = (0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED");
    INVALID_FIELD_IN_PARAMETER_LIST = (0x26, 0x00, "INVALID FIELD IN PARAMETER LIST");
    PARAMETER_NOT_SUPPORTED = (0x26, 0x01, "PARAMETER NOT SUPPORTED");
    PARAMETER_VALUE_INVALID = (0x26, 0x02, "PARAMETER VALUE INVALID");
    INVALID_RELEASE_OF_PERSISTENT_RESERVATION = (0x26, 0x04, "INVALID RELEASE OF PERSISTENT RESERVATION");
    TOO_MANY_TARGET_DESCRIPTORS = (0x26, 0x06, "TOO MANY TARGET DESCRIPTORS");
    UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE = (0x26, 0x07, "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE");
    TOO_MANY_SEGMENT_DESCRIPTORS = (0x26, 0x08, "TOO MANY SEGMENT DESCRIPTORS");
    UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE = (0x26, 0x09, "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE");
    UNEXPECTED_INEXACT_SEGMENT = (0x26, 0x0A, "UNEXPECTED INEXACT SEGMENT");
    INLINE_DATA_LENGTH_EXCEEDED = (0x26, 0x0B, "INLINE DATA LENGTH EXCEEDED");
    INVALID_OPERATION_FOR_COPY_SOURCE_OR_DESTINATION = (0x26, 0x0C, "INVALID OPERATION FOR COPY SOURCE OR DESTINATION");
    COPY_SEGMENT_GRANULARITY_VIOLATION = (0x26, 0x0D, "COPY SEGMENT GRANULARITY VIOLATION");
    WRITE_PROTECTED = (0x27, 0x00, "WRITE PROTECTED");
    HARDWARE_WRITE_PROTECTED = (0x27, 0x01, "HARDWARE WRITE PROTECTED");
    LUN_SOFTWARE_WRITE_PROTECTED = (0x27, 0x02, "LOGICAL UNIT SOFTWARE WRITE PROTECTED");
    SPACE_ALLOCATION_FAILED_WRITE_PROTECT = (0x27, 0x07, "SPACE ALLOCATION FAILED WRITE PROTECT");
    NOT_READY_TO_READY_CHANGE = (0x28, 0x00, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED");
    POWER_ON_RESET_OR_BUS_DEVICE_RESET = (0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED");
    POWER_ON_OCCURRED = (0x29, 0x01, "POWER ON OCCURRED");
    BUS_DEVICE_RESET_FUNCTION_OCCURRED = (0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED");
    DEVICE_INTERNAL_RESET = (0x29, 0x04, "DEVICE INTERNAL RESET");
    I_T_NEXUS_LOSS_OCCURRED = (0x29, 0x07, "I_T NEXUS LOSS OCCURRED");
    PARAMETERS_CHANGED = (0x2A, 0x00, "PARAMETERS CHANGED");
    MODE_PARAMETERS_CHANGED = (0x2A, 0x01, "MODE PARAMETERS CHANGED");
    LOG_PARAMETERS_CHANGED = (0x2A, 0x02, "LOG PARAMETERS CHANGED");
    RESERVATIONS_PREEMPTED = (0x2A, 0x03, "RESERVATIONS PREEMPTED");
    RESERVATIONS_RELEASED = (0x2A, 0x04, "RESERVATIONS RELEASED");
    REGISTRATIONS_PREEMPTED = (0x2A, 0x05, "REGISTRATIONS PREEMPTED");
    ASYMMETRIC_ACCESS_STATE_CHANGED = (0x2A, 0x06, "ASYMMETRIC ACCESS STATE CHANGED");
    CAPACITY_DATA_HAS_CHANGED = (0x2A, 0x09, "CAPACITY DATA HAS CHANGED");
    COMMAND_SEQUENCE_ERROR = (0x2C, 0x00, "COMMAND SEQUENCE ERROR");
    COMMANDS_CLEARED_BY_ANOTHER_INITIATOR = (0x2F, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR");
    COMMANDS_CLEARED_BY_DEVICE_SERVER = (0x2F, 0x02, "COMMANDS CLEARED BY DEVICE SERVER");
    MEDIUM_FORMAT_CORRUPTED = (0x31, 0x00, "MEDIUM FORMAT CORRUPTED");
    THIN_PROVISIONING_SOFT_THRESHOLD_REACHED = (0x38, 0x07, "THIN PROVISIONING SOFT THRESHOLD REACHED");
    SAVING_PARAMETERS_NOT_SUPPORTED = (0x39, 0x00, "SAVING PARAMETERS NOT SUPPORTED");
    MEDIUM_NOT_PRESENT = (0x3A, 0x00, "MEDIUM NOT PRESENT");
    LOGICAL_UNIT_FAILURE = (0x3E, 0x01, "LOGICAL UNIT FAILURE");
    MICROCODE_HAS_BEEN_CHANGED = (0x3F, 0x01, "MICROCODE HAS BEEN CHANGED");
    INQUIRY_DATA_HAS_CHANGED = (0x3F, 0x03, "INQUIRY DATA HAS CHANGED");
    REPORTED_LUNS_DATA_HAS_CHANGED = (0x3F, 0x0E, "REPORTED LUNS DATA HAS CHANGED");
    INTERNAL_TARGET_FAILURE = (0x44, 0x00, "INTERNAL TARGET FAILURE");
    OVERLAPPED_COMMANDS_ATTEMPTED = (0x4E, 0x00, "OVERLAPPED COMMANDS ATTEMPTED");
    MEDIUM_REMOVAL_PREVENTED = (0x53, 0x02, "MEDIUM REMOVAL PREVENTED");
    INSUFFICIENT_RESERVATION_RESOURCES = (0x55, 0x02, "INSUFFICIENT RESERVATION RESOURCES");
    INSUFFICIENT_RESOURCES = (0x55, 0x03, "INSUFFICIENT RESOURCES");
    INSUFFICIENT_REGISTRATION_RESOURCES = (0x55, 0x04, "INSUFFICIENT REGISTRATION RESOURCES");
}

impl fmt::Display for AdditionalSense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(d) => write!(f, "{d} ({:02X}h/{:02X}h)", self.asc, self.ascq),
            None => write!(f, "ASC/ASCQ {:02X}h/{:02X}h", self.asc, self.ascq),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------------------------

/// Which of the two sense data formats to emit (SPC-5 4.4.1): the Control mode page's D_SENSE
/// bit chooses, per logical unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SenseFormat {
    /// Fixed format, response codes 70h/71h (D_SENSE = 0, the default).
    #[default]
    Fixed,
    /// Descriptor format, response codes 72h/73h (D_SENSE = 1).
    Descriptor,
}

impl SenseFormat {
    /// The format the Control mode page's D_SENSE bit asks for.
    pub const fn from_d_sense(d_sense: bool) -> Self {
        if d_sense {
            SenseFormat::Descriptor
        } else {
            SenseFormat::Fixed
        }
    }

    /// The RESPONSE CODE for this format, for current or deferred errors (SPC-5 4.4.1).
    pub const fn response_code(self, deferred: bool) -> u8 {
        match (self, deferred) {
            (SenseFormat::Fixed, false) => RC_FIXED_CURRENT,
            (SenseFormat::Fixed, true) => RC_FIXED_DEFERRED,
            (SenseFormat::Descriptor, false) => RC_DESC_CURRENT,
            (SenseFormat::Descriptor, true) => RC_DESC_DEFERRED,
        }
    }
}

const RC_FIXED_CURRENT: u8 = 0x70;
const RC_FIXED_DEFERRED: u8 = 0x71;
const RC_DESC_CURRENT: u8 = 0x72;
const RC_DESC_DEFERRED: u8 = 0x73;
/// RESPONSE CODE occupies bits 6..0 of byte 0; bit 7 is VALID (fixed) or reserved (descriptor).
const RC_MASK: u8 = 0x7F;

// ---------------------------------------------------------------------------------------------
// Sense key specific field
// ---------------------------------------------------------------------------------------------

/// The SENSE KEY SPECIFIC field (SPC-5 4.4.2.4.1, "Sense key specific field"), present when
/// SKSV = 1. Its meaning depends on the sense key, so [`SenseData::parse`] decodes it by the
/// sense key (SPC-5 table "Sense key specific field definitions"):
///
/// | sense key                                   | variant                    |
/// |---------------------------------------------|----------------------------|
/// | ILLEGAL REQUEST                             | [`Self::FieldPointer`]     |
/// | RECOVERED ERROR, MEDIUM ERROR, HARDWARE ERROR | [`Self::ActualRetryCount`] |
/// | NO SENSE, NOT READY                         | [`Self::ProgressIndication`] |
/// | COPY ABORTED                                | [`Self::SegmentPointer`]   |
/// | UNIT ATTENTION                              | [`Self::UnitAttentionOverflow`] |
/// | any other                                   | [`Self::Other`]            |
///
/// Emit writes whatever variant it is given; a variant that does not match the sense key
/// parses back as the key's interpretation of the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenseKeySpecific {
    /// Field pointer (ILLEGAL REQUEST): the CDB or parameter list byte, and optionally bit, of
    /// the offending field. C/D = 1 for [`Location::Cdb`], 0 otherwise ([`Location::Data`]
    /// is never reported and is emitted as C/D = 0); BPV = 1 with BIT POINTER when `bit` is
    /// `Some(0..=7)` (a larger bit number is emitted with BPV = 0).
    FieldPointer(FieldPointer),
    /// Actual retry count (RECOVERED / MEDIUM / HARDWARE ERROR): retries of the recovery
    /// algorithm.
    ActualRetryCount(u16),
    /// Progress indication (NO SENSE, NOT READY): the fraction complete, numerator over 65536
    /// (a FORMAT UNIT or SANITIZE in progress).
    ProgressIndication(u16),
    /// Segment pointer (COPY ABORTED): where in the EXTENDED COPY parameter list the copy
    /// stopped.
    SegmentPointer {
        /// SD: `true` if `field_pointer` is relative to the start of the segment descriptor,
        /// `false` if relative to the start of the parameter list.
        segment_descriptor: bool,
        /// BPV and BIT POINTER: the bit of the byte, when reported (0..=7).
        bit: Option<u8>,
        /// FIELD POINTER: the byte.
        field_pointer: u16,
    },
    /// Unit attention condition queue overflow (UNIT ATTENTION): the OVERFLOW bit.
    UnitAttentionOverflow(bool),
    /// The field for a sense key that gives it no meaning: the three bytes as sent, with the
    /// SKSV bit (byte 0 bit 7) cleared.
    Other([u8; 3]),
}

/// The three bytes of the sense key specific field; byte 0 carries SKSV and the flag bits.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct SksField {
    flags: u8,
    value: U16,
}
const _: () = assert!(size_of::<SksField>() == 3);

const SKSV: u8 = 0x80;
const SKS_CD: u8 = 0x40;
const SKS_SD: u8 = 0x20;
const SKS_BPV: u8 = 0x08;
const SKS_BIT_POINTER: u8 = 0x07;
const SKS_OVERFLOW: u8 = 0x01;

/// BPV and BIT POINTER for an optional bit number; bits beyond 7 cannot be pointed at.
const fn bit_pointer(bit: Option<u8>) -> u8 {
    match bit {
        Some(b) if b <= 7 => SKS_BPV | b,
        _ => 0,
    }
}

/// The bit number of a BPV / BIT POINTER pair.
const fn decode_bit_pointer(flags: u8) -> Option<u8> {
    if flags & SKS_BPV != 0 {
        Some(flags & SKS_BIT_POINTER)
    } else {
        None
    }
}

impl SenseKeySpecific {
    /// The field's three bytes, SKSV set.
    pub fn to_bytes(&self) -> [u8; 3] {
        zerocopy::transmute!(self.field())
    }

    /// Decodes the three bytes of the field as `key` defines them; `None` when SKSV is 0.
    pub fn from_bytes(key: SenseKey, bytes: [u8; 3]) -> Option<Self> {
        let field: SksField = zerocopy::transmute!(bytes);
        Self::from_field(key, &field)
    }

    fn field(&self) -> SksField {
        let (flags, value) = match *self {
            SenseKeySpecific::FieldPointer(p) => {
                let cd = match p.location {
                    Location::Cdb => SKS_CD,
                    Location::ParameterList | Location::Data => 0,
                };
                (cd | bit_pointer(p.bit), p.byte)
            }
            SenseKeySpecific::ActualRetryCount(n) | SenseKeySpecific::ProgressIndication(n) => {
                (0, n)
            }
            SenseKeySpecific::SegmentPointer {
                segment_descriptor,
                bit,
                field_pointer,
            } => {
                let sd = if segment_descriptor { SKS_SD } else { 0 };
                (sd | bit_pointer(bit), field_pointer)
            }
            SenseKeySpecific::UnitAttentionOverflow(overflow) => {
                (if overflow { SKS_OVERFLOW } else { 0 }, 0)
            }
            SenseKeySpecific::Other(bytes) => {
                let mut field: SksField = zerocopy::transmute!(bytes);
                field.flags |= SKSV;
                return field;
            }
        };
        SksField {
            flags: SKSV | flags,
            value: U16::new(value),
        }
    }

    fn from_field(key: SenseKey, field: &SksField) -> Option<Self> {
        let flags = field.flags;
        if flags & SKSV == 0 {
            return None;
        }
        let value = field.value.get();
        Some(match key {
            SenseKey::IllegalRequest => SenseKeySpecific::FieldPointer(FieldPointer {
                location: if flags & SKS_CD != 0 {
                    Location::Cdb
                } else {
                    Location::ParameterList
                },
                byte: value,
                bit: decode_bit_pointer(flags),
            }),
            SenseKey::RecoveredError | SenseKey::MediumError | SenseKey::HardwareError => {
                SenseKeySpecific::ActualRetryCount(value)
            }
            SenseKey::NoSense | SenseKey::NotReady => SenseKeySpecific::ProgressIndication(value),
            SenseKey::CopyAborted => SenseKeySpecific::SegmentPointer {
                segment_descriptor: flags & SKS_SD != 0,
                bit: decode_bit_pointer(flags),
                field_pointer: value,
            },
            SenseKey::UnitAttention => {
                SenseKeySpecific::UnitAttentionOverflow(flags & SKS_OVERFLOW != 0)
            }
            SenseKey::DataProtect
            | SenseKey::BlankCheck
            | SenseKey::VendorSpecific
            | SenseKey::AbortedCommand
            | SenseKey::Obsolete
            | SenseKey::VolumeOverflow
            | SenseKey::Miscompare
            | SenseKey::Completed => {
                let mut bytes: [u8; 3] = zerocopy::transmute!(*field);
                bytes[0] &= !SKSV;
                SenseKeySpecific::Other(bytes)
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Wire layouts
// ---------------------------------------------------------------------------------------------

/// Fixed format sense data, bytes 0..=17 (SPC-5 4.4.3, "Fixed format sense data" table).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct FixedSense {
    /// VALID (bit 7), RESPONSE CODE (bits 6..0).
    response_code: u8,
    obsolete: u8,
    /// FILEMARK (7), EOM (6), ILI (5), SDAT_OVFL (4), SENSE KEY (3..0).
    flags_key: u8,
    information: U32,
    additional_length: u8,
    command_specific: U32,
    asc: u8,
    ascq: u8,
    fru: u8,
    sks: SksField,
}
const _: () = assert!(size_of::<FixedSense>() == FIXED_LEN);

const FIXED_VALID: u8 = 0x80;
const FILEMARK: u8 = 0x80;
const EOM: u8 = 0x40;
const ILI: u8 = 0x20;
const SENSE_KEY_MASK: u8 = 0x0F;

/// Descriptor format sense data header (SPC-5 4.4.2.1, "Descriptor format sense data" table).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct DescriptorHeader {
    /// Reserved (bit 7), RESPONSE CODE (bits 6..0).
    response_code: u8,
    /// Reserved (7..4), SENSE KEY (3..0).
    key: u8,
    asc: u8,
    ascq: u8,
    /// SDAT_OVFL (bit 7).
    flags: u8,
    reserved: [u8; 2],
    additional_length: u8,
}
const _: () = assert!(size_of::<DescriptorHeader>() == 8);

/// Every sense data descriptor starts with its type and ADDITIONAL LENGTH (n - 1).
const DESC_HEADER_LEN: usize = 2;

const DESC_INFORMATION: u8 = 0x00;
const DESC_COMMAND_SPECIFIC: u8 = 0x01;
const DESC_SENSE_KEY_SPECIFIC: u8 = 0x02;
const DESC_FRU: u8 = 0x03;
const DESC_STREAM: u8 = 0x04;
const DESC_BLOCK: u8 = 0x05;

/// Information sense data descriptor (SPC-5 4.4.2.2): type 00h, ADDITIONAL LENGTH 0Ah.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct InformationDescriptor {
    desc_type: u8,
    additional_length: u8,
    /// VALID (bit 7), shall be one.
    valid: u8,
    reserved: u8,
    information: U64,
}
const _: () = assert!(size_of::<InformationDescriptor>() == 12);
const DESC_VALID: u8 = 0x80;

/// Command-specific information sense data descriptor (SPC-5 4.4.2.3): type 01h, 0Ah.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct CommandSpecificDescriptor {
    desc_type: u8,
    additional_length: u8,
    reserved: [u8; 2],
    command_specific: U64,
}
const _: () = assert!(size_of::<CommandSpecificDescriptor>() == 12);

/// Sense key specific sense data descriptor (SPC-5 4.4.2.4): type 02h, ADDITIONAL LENGTH 06h.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct SenseKeySpecificDescriptor {
    desc_type: u8,
    additional_length: u8,
    reserved: [u8; 2],
    sks: SksField,
    reserved2: u8,
}
const _: () = assert!(size_of::<SenseKeySpecificDescriptor>() == 8);

/// The four-byte descriptors: field replaceable unit (03h, byte 3 = FRU CODE), stream
/// commands (04h, SSC-4: byte 3 = FILEMARK/EOM/ILI) and block commands (05h, SBC-4: byte 3 =
/// ILI), all with ADDITIONAL LENGTH 02h.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct ShortDescriptor {
    desc_type: u8,
    additional_length: u8,
    reserved: u8,
    value: u8,
}
const _: () = assert!(size_of::<ShortDescriptor>() == 4);

/// Reads a fixed-layout struct from the start of `buf`, as a truncation error if too short.
fn read<T: FromBytes + KnownLayout + Immutable>(what: &'static str, buf: &[u8]) -> Result<T> {
    T::read_from_prefix(buf)
        .map(|(t, _)| t)
        .map_err(|_| Error::Truncated {
            what,
            location: Location::Data,
            needed: size_of::<T>(),
            actual: buf.len(),
        })
}

/// Writes `bytes` at `*off` and advances it; the caller has checked the total length.
fn put(buf: &mut [u8], off: &mut usize, bytes: &[u8]) -> Result<()> {
    let end = off.saturating_add(bytes.len());
    let actual = buf.len();
    let dst = buf.get_mut(*off..end).ok_or(Error::BufferTooShort {
        what: WHAT_DESC,
        needed: end,
        actual,
    })?;
    dst.copy_from_slice(bytes);
    *off = end;
    Ok(())
}

const WHAT: &str = "sense data";
const WHAT_FIXED: &str = "fixed format sense data";
const WHAT_DESC: &str = "descriptor format sense data";

// ---------------------------------------------------------------------------------------------
// SenseData
// ---------------------------------------------------------------------------------------------

/// Sense data, fixed or descriptor format (SPC-5 4.4).
///
/// Representation rules, so that `parse(emit(x)) == x` holds for every value the format can
/// carry:
/// - Fixed format has 4-byte INFORMATION and COMMAND-SPECIFIC INFORMATION fields. An
///   `information` above `u32::MAX` is emitted with VALID = 0 and a zero field, as SPC-5 asks
///   when the value cannot be reported (it parses back as `None`); a `command_specific` above
///   `u32::MAX` is emitted as zero. Fixed format has no way to tell "absent" from zero
///   COMMAND-SPECIFIC INFORMATION, so parse returns `None` for zero.
/// - Descriptor format emits an information descriptor (with VALID = 1), a command-specific
///   information descriptor, a sense key specific descriptor, a field replaceable unit
///   descriptor (when the code is non-zero), and a stream commands descriptor (when
///   FILEMARK or EOM is set, carrying ILI too) or else a block commands descriptor (when only
///   ILI is set), in that order. Parse skips descriptor types it does not know.
/// - SDAT_OVFL is never set: this module emits at most 48 bytes.
/// - Parse reads ADDITIONAL SENSE LENGTH but tolerates a buffer shorter than it says (SPC-5:
///   sense data cut by an ALLOCATION LENGTH keeps its original ADDITIONAL SENSE LENGTH): a
///   fixed format field that was cut off reads as zero; a descriptor that was cut off is an
///   error. Bytes beyond the ADDITIONAL SENSE LENGTH are ignored.
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

    /// The same sense data as a deferred (`true`) or current (`false`) error.
    #[must_use]
    pub const fn with_deferred(mut self, deferred: bool) -> Self {
        self.deferred = deferred;
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

    /// The same sense data with a field pointer in the sense key specific field (meaningful
    /// with ILLEGAL REQUEST).
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

    /// The same sense data with the ILI bit set or cleared.
    #[must_use]
    pub const fn with_ili(mut self, ili: bool) -> Self {
        self.ili = ili;
        self
    }

    /// ILLEGAL REQUEST with `additional`.
    pub const fn illegal_request(additional: AdditionalSense) -> Self {
        Self::new(SenseKey::IllegalRequest, additional)
    }

    /// ILLEGAL REQUEST / INVALID FIELD IN CDB pointing at `pointer` (reported with C/D = 1,
    /// whatever `pointer.location` says).
    pub const fn invalid_field_in_cdb(pointer: FieldPointer) -> Self {
        Self::illegal_request(AdditionalSense::INVALID_FIELD_IN_CDB).with_field_pointer(
            FieldPointer {
                location: Location::Cdb,
                ..pointer
            },
        )
    }

    /// ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST pointing at `pointer` (reported with
    /// C/D = 0, whatever `pointer.location` says).
    pub const fn invalid_field_in_parameter_list(pointer: FieldPointer) -> Self {
        Self::illegal_request(AdditionalSense::INVALID_FIELD_IN_PARAMETER_LIST).with_field_pointer(
            FieldPointer {
                location: Location::ParameterList,
                ..pointer
            },
        )
    }

    /// ILLEGAL REQUEST / LOGICAL BLOCK ADDRESS OUT OF RANGE.
    pub const fn lba_out_of_range() -> Self {
        Self::illegal_request(AdditionalSense::LBA_OUT_OF_RANGE)
    }

    /// ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, pointing at CDB byte 0.
    pub const fn invalid_opcode() -> Self {
        Self::illegal_request(AdditionalSense::INVALID_COMMAND_OPERATION_CODE)
            .with_field_pointer(FieldPointer::cdb(0))
    }

    /// MEDIUM ERROR / UNRECOVERED READ ERROR. Add the LBA with [`Self::with_information`].
    pub const fn medium_error_read() -> Self {
        Self::new(
            SenseKey::MediumError,
            AdditionalSense::UNRECOVERED_READ_ERROR,
        )
    }

    /// MEDIUM ERROR / WRITE ERROR. Add the LBA with [`Self::with_information`].
    pub const fn medium_error_write() -> Self {
        Self::new(SenseKey::MediumError, AdditionalSense::WRITE_ERROR)
    }

    /// MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION with INFORMATION set to `offset`, the
    /// offset of the first byte that did not match (SBC-4 COMPARE AND WRITE, VERIFY BYTCHK).
    pub const fn miscompare(offset: u64) -> Self {
        Self::new(
            SenseKey::Miscompare,
            AdditionalSense::MISCOMPARE_DURING_VERIFY,
        )
        .with_information(offset)
    }

    /// DATA PROTECT / WRITE PROTECTED.
    pub const fn write_protected() -> Self {
        Self::new(SenseKey::DataProtect, AdditionalSense::WRITE_PROTECTED)
    }

    /// UNIT ATTENTION with `additional`.
    pub const fn unit_attention(additional: AdditionalSense) -> Self {
        Self::new(SenseKey::UnitAttention, additional)
    }

    /// NOT READY with `additional`.
    pub const fn not_ready(additional: AdditionalSense) -> Self {
        Self::new(SenseKey::NotReady, additional)
    }

    /// HARDWARE ERROR with `additional`.
    pub const fn hardware_error(additional: AdditionalSense) -> Self {
        Self::new(SenseKey::HardwareError, additional)
    }

    /// ABORTED COMMAND with `additional`.
    pub const fn aborted_command(additional: AdditionalSense) -> Self {
        Self::new(SenseKey::AbortedCommand, additional)
    }

    /// The sense data a target returns for a command this crate rejected with `e`:
    ///
    /// - [`Error::UnsupportedOpcode`] without a service action: ILLEGAL REQUEST / INVALID
    ///   COMMAND OPERATION CODE, field pointer CDB byte 0;
    /// - with a service action: ILLEGAL REQUEST / INVALID FIELD IN CDB pointing at the
    ///   SERVICE ACTION field, CDB byte 1 bit 4 (byte 8 for variable-length CDBs, 7Fh);
    /// - [`Error::InvalidField`] in the CDB: INVALID FIELD IN CDB (C/D = 1); in the parameter
    ///   list: INVALID FIELD IN PARAMETER LIST (C/D = 0); both with the field pointer;
    /// - [`Error::Truncated`] in the CDB: INVALID FIELD IN CDB without a field pointer, since
    ///   the missing bytes lie past the end of what was sent and no field of it can be blamed;
    /// - [`Error::Truncated`] in the parameter list and [`Error::ParameterListLength`]:
    ///   PARAMETER LIST LENGTH ERROR;
    /// - anything about [`Location::Data`] and [`Error::BufferTooShort`]: HARDWARE ERROR /
    ///   INTERNAL TARGET FAILURE, since the fault is the target's own, not the initiator's.
    ///
    /// The result is current, fixed format; apply [`Self::in_format`] as D_SENSE asks.
    pub const fn from_error(e: &Error) -> Self {
        match *e {
            Error::UnsupportedOpcode {
                service_action: None,
                ..
            } => Self::invalid_opcode(),
            Error::UnsupportedOpcode {
                opcode,
                service_action: Some(_),
            } => Self::invalid_field_in_cdb(if opcode == VARIABLE_LENGTH_CDB {
                FieldPointer::cdb(8)
            } else {
                FieldPointer::cdb_bit(1, 4)
            }),
            Error::InvalidField { pointer, .. } => match pointer.location {
                Location::Cdb => Self::invalid_field_in_cdb(pointer),
                Location::ParameterList => Self::invalid_field_in_parameter_list(pointer),
                Location::Data => Self::internal_target_failure(),
            },
            Error::Truncated { location, .. } => match location {
                Location::Cdb => Self::illegal_request(AdditionalSense::INVALID_FIELD_IN_CDB),
                Location::ParameterList => {
                    Self::illegal_request(AdditionalSense::PARAMETER_LIST_LENGTH_ERROR)
                }
                Location::Data => Self::internal_target_failure(),
            },
            Error::ParameterListLength { .. } => {
                Self::illegal_request(AdditionalSense::PARAMETER_LIST_LENGTH_ERROR)
            }
            Error::BufferTooShort { .. } => Self::internal_target_failure(),
        }
    }

    const fn internal_target_failure() -> Self {
        Self::hardware_error(AdditionalSense::INTERNAL_TARGET_FAILURE)
    }

    /// The RESPONSE CODE this sense data is emitted with (70h..=73h).
    pub const fn response_code(&self) -> u8 {
        self.format.response_code(self.deferred)
    }

    fn flag_bits(&self) -> u8 {
        let mut b = 0;
        if self.filemark {
            b |= FILEMARK;
        }
        if self.eom {
            b |= EOM;
        }
        if self.ili {
            b |= ILI;
        }
        b
    }

    fn parse_fixed(buf: &[u8], deferred: bool) -> Result<Self> {
        check_len(WHAT_FIXED, Location::Data, buf, 8)?;
        // Copy what is there (up to the ADDITIONAL SENSE LENGTH) over zeroes: a field the
        // device did not send, or that an allocation length cut off, reads as zero.
        let declared = 8usize.saturating_add(usize::from(buf[7]));
        let avail = buf.len().min(declared).min(FIXED_LEN);
        let mut raw = [0u8; FIXED_LEN];
        raw[..avail].copy_from_slice(&buf[..avail]);
        let hdr: FixedSense = read(WHAT_FIXED, &raw)?;

        let key = SenseKey::from_low_nibble(hdr.flags_key);
        let information =
            (hdr.response_code & FIXED_VALID != 0).then(|| u64::from(hdr.information.get()));
        let csi = hdr.command_specific.get();
        Ok(SenseData {
            format: SenseFormat::Fixed,
            deferred,
            key,
            additional: AdditionalSense::new(hdr.asc, hdr.ascq),
            information,
            command_specific: (csi != 0).then_some(u64::from(csi)),
            sense_key_specific: SenseKeySpecific::from_field(key, &hdr.sks),
            field_replaceable_unit: hdr.fru,
            filemark: hdr.flags_key & FILEMARK != 0,
            eom: hdr.flags_key & EOM != 0,
            ili: hdr.flags_key & ILI != 0,
        })
    }

    fn parse_descriptor(buf: &[u8], deferred: bool) -> Result<Self> {
        let hdr: DescriptorHeader = read(WHAT_DESC, buf)?;
        let key = SenseKey::from_low_nibble(hdr.key);
        let mut sense = SenseData {
            format: SenseFormat::Descriptor,
            deferred,
            ..SenseData::new(key, AdditionalSense::new(hdr.asc, hdr.ascq))
        };

        let declared = 8usize.saturating_add(usize::from(hdr.additional_length));
        let end = buf.len().min(declared);
        let area = buf.get(8..end).unwrap_or(&[]);
        let mut seen = [false; 6];
        let mut off = 0usize;
        // Each step consumes at least DESC_HEADER_LEN bytes, so the walk always ends.
        while off < area.len() {
            let rest = &area[off..];
            let at = 8usize.saturating_add(off);
            if rest.len() < DESC_HEADER_LEN {
                return Err(Error::Truncated {
                    what: "sense data descriptor",
                    location: Location::Data,
                    needed: DESC_HEADER_LEN,
                    actual: rest.len(),
                });
            }
            let len = DESC_HEADER_LEN + usize::from(rest[1]);
            check_len("sense data descriptor", Location::Data, rest, len)?;
            let desc = &rest[..len];
            let desc_type = desc[0];
            let first = match seen.get_mut(usize::from(desc_type)) {
                Some(s) => !core::mem::replace(s, true),
                None => false,
            };
            // A repeated descriptor type is ignored: the first one counts.
            if first {
                sense.apply_descriptor(desc_type, desc, at)?;
            }
            off = off.saturating_add(len);
        }
        Ok(sense)
    }

    /// Folds one known descriptor (`desc`, starting at byte `at` of the sense data) in.
    fn apply_descriptor(&mut self, desc_type: u8, desc: &[u8], at: usize) -> Result<()> {
        // A known descriptor shorter than its layout is malformed: point at its length.
        let too_short = |needed: usize| -> Result<()> {
            if desc.len() < needed {
                Err(Error::InvalidField {
                    what: "sense data descriptor",
                    field: "ADDITIONAL LENGTH",
                    pointer: FieldPointer::data(
                        u16::try_from(at.saturating_add(1)).unwrap_or(u16::MAX),
                        None,
                    ),
                })
            } else {
                Ok(())
            }
        };
        match desc_type {
            DESC_INFORMATION => {
                too_short(size_of::<InformationDescriptor>())?;
                let d: InformationDescriptor = read(WHAT_DESC, desc)?;
                self.information = (d.valid & DESC_VALID != 0).then(|| d.information.get());
            }
            DESC_COMMAND_SPECIFIC => {
                too_short(size_of::<CommandSpecificDescriptor>())?;
                let d: CommandSpecificDescriptor = read(WHAT_DESC, desc)?;
                self.command_specific = Some(d.command_specific.get());
            }
            DESC_SENSE_KEY_SPECIFIC => {
                too_short(size_of::<SenseKeySpecificDescriptor>())?;
                let d: SenseKeySpecificDescriptor = read(WHAT_DESC, desc)?;
                self.sense_key_specific = SenseKeySpecific::from_field(self.key, &d.sks);
            }
            DESC_FRU | DESC_STREAM | DESC_BLOCK => {
                too_short(size_of::<ShortDescriptor>())?;
                let d: ShortDescriptor = read(WHAT_DESC, desc)?;
                match desc_type {
                    DESC_FRU => self.field_replaceable_unit = d.value,
                    DESC_STREAM => {
                        self.filemark |= d.value & FILEMARK != 0;
                        self.eom |= d.value & EOM != 0;
                        self.ili |= d.value & ILI != 0;
                    }
                    _ => self.ili |= d.value & ILI != 0,
                }
            }
            // Another progress indication, ATA status return, OSD, vendor specific...:
            // nothing a block target needs.
            _ => {}
        }
        Ok(())
    }

    fn descriptor_len(&self) -> usize {
        let mut n = size_of::<DescriptorHeader>();
        if self.information.is_some() {
            n += size_of::<InformationDescriptor>();
        }
        if self.command_specific.is_some() {
            n += size_of::<CommandSpecificDescriptor>();
        }
        if self.sense_key_specific.is_some() {
            n += size_of::<SenseKeySpecificDescriptor>();
        }
        if self.field_replaceable_unit != 0 {
            n += size_of::<ShortDescriptor>();
        }
        if self.filemark || self.eom || self.ili {
            n += size_of::<ShortDescriptor>();
        }
        n
    }

    fn emit_fixed(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(WHAT_FIXED, buf, FIXED_LEN)?;
        // SPC-5: an INFORMATION value that does not fit the 4-byte field is not reported.
        let information = self.information.and_then(|v| u32::try_from(v).ok());
        let valid = if information.is_some() {
            FIXED_VALID
        } else {
            0
        };
        let csi = self
            .command_specific
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0);
        let hdr = FixedSense {
            response_code: valid | self.response_code(),
            obsolete: 0,
            flags_key: self.flag_bits() | (self.key as u8 & SENSE_KEY_MASK),
            information: U32::new(information.unwrap_or(0)),
            additional_length: (FIXED_LEN - 8) as u8,
            command_specific: U32::new(csi),
            asc: self.additional.asc,
            ascq: self.additional.ascq,
            fru: self.field_replaceable_unit,
            sks: self
                .sense_key_specific
                .map_or(SksField::new_zeroed(), |s| s.field()),
        };
        buf[..FIXED_LEN].copy_from_slice(hdr.as_bytes());
        Ok(FIXED_LEN)
    }

    fn emit_descriptor(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.descriptor_len();
        check_out(WHAT_DESC, buf, total)?;
        let hdr = DescriptorHeader {
            response_code: self.response_code(),
            key: self.key as u8 & SENSE_KEY_MASK,
            asc: self.additional.asc,
            ascq: self.additional.ascq,
            flags: 0,
            reserved: [0; 2],
            // At most 48 - 8: always fits.
            additional_length: u8::try_from(total - size_of::<DescriptorHeader>())
                .unwrap_or(u8::MAX),
        };
        let mut off = 0;
        put(buf, &mut off, hdr.as_bytes())?;
        if let Some(information) = self.information {
            let d = InformationDescriptor {
                desc_type: DESC_INFORMATION,
                additional_length: desc_additional_length::<InformationDescriptor>(),
                valid: DESC_VALID,
                reserved: 0,
                information: U64::new(information),
            };
            put(buf, &mut off, d.as_bytes())?;
        }
        if let Some(csi) = self.command_specific {
            let d = CommandSpecificDescriptor {
                desc_type: DESC_COMMAND_SPECIFIC,
                additional_length: desc_additional_length::<CommandSpecificDescriptor>(),
                reserved: [0; 2],
                command_specific: U64::new(csi),
            };
            put(buf, &mut off, d.as_bytes())?;
        }
        if let Some(sks) = self.sense_key_specific {
            let d = SenseKeySpecificDescriptor {
                desc_type: DESC_SENSE_KEY_SPECIFIC,
                additional_length: desc_additional_length::<SenseKeySpecificDescriptor>(),
                reserved: [0; 2],
                sks: sks.field(),
                reserved2: 0,
            };
            put(buf, &mut off, d.as_bytes())?;
        }
        if self.field_replaceable_unit != 0 {
            let d = ShortDescriptor {
                desc_type: DESC_FRU,
                additional_length: desc_additional_length::<ShortDescriptor>(),
                reserved: 0,
                value: self.field_replaceable_unit,
            };
            put(buf, &mut off, d.as_bytes())?;
        }
        if self.filemark || self.eom || self.ili {
            // FILEMARK and EOM only exist in the stream commands descriptor (SSC-4); a disk's
            // ILI goes in the block commands descriptor (SBC-4).
            let desc_type = if self.filemark || self.eom {
                DESC_STREAM
            } else {
                DESC_BLOCK
            };
            let d = ShortDescriptor {
                desc_type,
                additional_length: desc_additional_length::<ShortDescriptor>(),
                reserved: 0,
                value: self.flag_bits(),
            };
            put(buf, &mut off, d.as_bytes())?;
        }
        Ok(off)
    }
}

/// The VARIABLE LENGTH CDB operation code, whose SERVICE ACTION is in bytes 8..=9.
const VARIABLE_LENGTH_CDB: u8 = 0x7F;

/// The ADDITIONAL LENGTH of a fixed-size descriptor: its size less the two header bytes.
const fn desc_additional_length<T>() -> u8 {
    (size_of::<T>() - DESC_HEADER_LEN) as u8
}

impl Wire for SenseData {
    /// Parses sense data, detecting the format from the RESPONSE CODE: 70h/71h fixed,
    /// 72h/73h descriptor, anything else an error.
    fn parse(buf: &[u8]) -> Result<Self> {
        let Some(&first) = buf.first() else {
            return Err(Error::Truncated {
                what: WHAT,
                location: Location::Data,
                needed: 8,
                actual: 0,
            });
        };
        match first & RC_MASK {
            RC_FIXED_CURRENT => Self::parse_fixed(buf, false),
            RC_FIXED_DEFERRED => Self::parse_fixed(buf, true),
            RC_DESC_CURRENT => Self::parse_descriptor(buf, false),
            RC_DESC_DEFERRED => Self::parse_descriptor(buf, true),
            _ => Err(Error::InvalidField {
                what: WHAT,
                field: "RESPONSE CODE",
                pointer: FieldPointer::data(0, Some(6)),
            }),
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

impl From<&Error> for SenseData {
    fn from(e: &Error) -> Self {
        SenseData::from_error(e)
    }
}

impl From<Error> for SenseData {
    fn from(e: Error) -> Self {
        SenseData::from_error(&e)
    }
}

impl fmt::Display for SenseData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.deferred {
            f.write_str("deferred ")?;
        }
        write!(f, "{}: {}", self.key, self.additional)?;
        if let Some(info) = self.information {
            write!(f, ", information {info:#x}")?;
        }
        if let Some(csi) = self.command_specific {
            write!(f, ", command-specific {csi:#x}")?;
        }
        match self.sense_key_specific {
            Some(SenseKeySpecific::FieldPointer(p)) => write!(f, ", field at {p}")?,
            Some(SenseKeySpecific::ActualRetryCount(n)) => write!(f, ", {n} retries")?,
            Some(SenseKeySpecific::ProgressIndication(n)) => {
                write!(f, ", progress {}%", u32::from(n) * 100 / 65536)?;
            }
            Some(SenseKeySpecific::SegmentPointer {
                segment_descriptor,
                bit,
                field_pointer,
            }) => {
                let base = if segment_descriptor {
                    "segment descriptor"
                } else {
                    "parameter list"
                };
                write!(f, ", {base} byte {field_pointer}")?;
                if let Some(b) = bit {
                    write!(f, " bit {b}")?;
                }
            }
            Some(SenseKeySpecific::UnitAttentionOverflow(true)) => {
                f.write_str(", unit attention queue overflow")?;
            }
            Some(SenseKeySpecific::UnitAttentionOverflow(false)) | None => {}
            Some(SenseKeySpecific::Other(b)) => {
                write!(
                    f,
                    ", sense key specific {:02x}{:02x}{:02x}",
                    b[0], b[1], b[2]
                )?;
            }
        }
        if self.ili {
            f.write_str(", ILI")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_roundtrip;
    use proptest::prelude::*;

    /// TCMU's per-command sense buffer (`TCMU_SENSE_BUFFERSIZE`).
    const TCMU_SENSE_BUFFERSIZE: usize = 96;
    const _: () = assert!(TCMU_SENSE_BUFFERSIZE <= MAX_LEN);

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect()
    }

    #[test]
    fn sense_keys() {
        for v in 0..=0x0Fu8 {
            let key = SenseKey::from_u8(v).expect("4-bit key");
            assert_eq!(u8::from(key), v);
        }
        assert_eq!(SenseKey::from_u8(0x0C), Some(SenseKey::Obsolete));
        assert_eq!(SenseKey::from_u8(0x05), Some(SenseKey::IllegalRequest));
        assert_eq!(SenseKey::from_u8(0x10), None);
        assert_eq!(SenseKey::IllegalRequest.to_string(), "ILLEGAL REQUEST");
    }

    #[test]
    fn additional_sense_table() {
        let mut seen = std::collections::HashSet::new();
        for &(code, desc) in AdditionalSense::KNOWN {
            assert!(seen.insert(code), "duplicate {code:?}");
            assert_eq!(code.description(), Some(desc));
        }
        assert_eq!(
            AdditionalSense::INVALID_FIELD_IN_CDB,
            AdditionalSense::new(0x24, 0)
        );
        assert_eq!(
            AdditionalSense::COPY_SEGMENT_GRANULARITY_VIOLATION,
            AdditionalSense::new(0x26, 0x0D)
        );
        assert_eq!(
            AdditionalSense::REPORTED_LUNS_DATA_HAS_CHANGED,
            AdditionalSense::new(0x3F, 0x0E)
        );
        assert_eq!(AdditionalSense::new(0x7E, 0x7E).description(), None);
        assert_eq!(
            AdditionalSense::LBA_OUT_OF_RANGE.to_string(),
            "LOGICAL BLOCK ADDRESS OUT OF RANGE (21h/00h)"
        );
    }

    #[test]
    fn sense_key_specific_encodings() {
        // Field pointer: SKSV | C/D | BPV | bit 3, byte 2.
        let fp = SenseKeySpecific::FieldPointer(FieldPointer::cdb_bit(2, 3));
        assert_eq!(fp.to_bytes(), [0xCB, 0x00, 0x02]);
        // Parameter list byte 0x0123, no bit: SKSV only.
        let fp = SenseKeySpecific::FieldPointer(FieldPointer::param(0x0123));
        assert_eq!(fp.to_bytes(), [0x80, 0x01, 0x23]);
        assert_eq!(
            SenseKeySpecific::from_bytes(SenseKey::IllegalRequest, [0x80, 0x01, 0x23]),
            Some(fp)
        );
        // A data location is reported as C/D = 0; a bit beyond 7 without BPV.
        let odd = SenseKeySpecific::FieldPointer(FieldPointer::data(4, Some(9)));
        assert_eq!(odd.to_bytes(), [0x80, 0x00, 0x04]);
        assert_eq!(
            SenseKeySpecific::ActualRetryCount(0x0102).to_bytes(),
            [0x80, 0x01, 0x02]
        );
        assert_eq!(
            SenseKeySpecific::ProgressIndication(0x8000).to_bytes(),
            [0x80, 0x80, 0x00]
        );
        let seg = SenseKeySpecific::SegmentPointer {
            segment_descriptor: true,
            bit: Some(5),
            field_pointer: 0x10,
        };
        assert_eq!(seg.to_bytes(), [0xAD, 0x00, 0x10]);
        assert_eq!(
            SenseKeySpecific::from_bytes(SenseKey::CopyAborted, [0xAD, 0x00, 0x10]),
            Some(seg)
        );
        assert_eq!(
            SenseKeySpecific::UnitAttentionOverflow(true).to_bytes(),
            [0x81, 0x00, 0x00]
        );
        assert_eq!(
            SenseKeySpecific::from_bytes(SenseKey::Miscompare, [0xFF, 0x12, 0x34]),
            Some(SenseKeySpecific::Other([0x7F, 0x12, 0x34]))
        );
        // SKSV = 0: nothing, whatever the other bits say.
        assert_eq!(
            SenseKeySpecific::from_bytes(SenseKey::IllegalRequest, [0x4B, 0x00, 0x02]),
            None
        );
    }

    #[test]
    fn invalid_field_in_cdb_fixed() {
        let s = SenseData::invalid_field_in_cdb(FieldPointer::cdb_bit(2, 3));
        let expected = hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 cb 00 02");
        assert_eq!(s.to_vec(), expected);
        let p = SenseData::parse(&expected).unwrap();
        assert_eq!(p, s);
        assert_eq!(p.key, SenseKey::IllegalRequest);
        assert_eq!(p.additional, AdditionalSense::INVALID_FIELD_IN_CDB);
        assert_eq!(p.information, None);
        assert_eq!(
            p.sense_key_specific,
            Some(SenseKeySpecific::FieldPointer(FieldPointer::cdb_bit(2, 3)))
        );
        assert_eq!(
            p.to_string(),
            "ILLEGAL REQUEST: INVALID FIELD IN CDB (24h/00h), field at CDB byte 2, bit 3"
        );
    }

    #[test]
    fn invalid_field_in_cdb_descriptor() {
        let s = SenseData::invalid_field_in_cdb(FieldPointer::cdb_bit(2, 3))
            .in_format(SenseFormat::Descriptor);
        // Header, then the sense key specific descriptor (02h, length 06h).
        let expected = hex("72 05 24 00 00 00 00 08  02 06 00 00 cb 00 02 00");
        assert_eq!(s.to_vec(), expected);
        assert_eq!(SenseData::parse(&expected).unwrap(), s);
    }

    #[test]
    fn invalid_field_in_parameter_list_forces_cd_zero() {
        // Even when handed a CDB pointer, the parameter list shorthand reports C/D = 0.
        let s = SenseData::invalid_field_in_parameter_list(FieldPointer::cdb(7));
        let expected = hex("70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 80 00 07");
        assert_eq!(s.to_vec(), expected);
    }

    #[test]
    fn miscompare_both_formats() {
        let s = SenseData::miscompare(0x1234);
        let fixed = hex("f0 00 0e 00 00 12 34 0a 00 00 00 00 1d 00 00 00 00 00");
        assert_eq!(s.to_vec(), fixed);
        let p = SenseData::parse(&fixed).unwrap();
        assert_eq!(p.key, SenseKey::Miscompare);
        assert_eq!(p.additional, AdditionalSense::MISCOMPARE_DURING_VERIFY);
        assert_eq!(p.information, Some(0x1234));
        assert_eq!(p, s);

        let d = s.in_format(SenseFormat::Descriptor);
        let desc = hex("72 0e 1d 00 00 00 00 0c  00 0a 80 00 00 00 00 00 00 00 12 34");
        assert_eq!(d.to_vec(), desc);
        assert_eq!(SenseData::parse(&desc).unwrap(), d);
    }

    #[test]
    fn information_beyond_32_bits() {
        let s = SenseData::medium_error_read().with_information(0x1_2345_6789);
        // Fixed: VALID = 0, INFORMATION zero (SPC-5: not reportable in 4 bytes).
        let fixed = s.to_vec();
        assert_eq!(
            fixed,
            hex("70 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 00 00 00")
        );
        assert_eq!(SenseData::parse(&fixed).unwrap().information, None);
        // Descriptor: all eight bytes.
        let d = s.in_format(SenseFormat::Descriptor);
        assert_eq!(
            d.to_vec(),
            hex("72 03 11 00 00 00 00 0c  00 0a 80 00 00 00 00 01 23 45 67 89")
        );
        assert_roundtrip(&d);
        // COMMAND-SPECIFIC INFORMATION beyond 32 bits is emitted as zero in fixed format.
        let c = SenseData::new(SenseKey::CopyAborted, AdditionalSense::NO_ADDITIONAL_SENSE)
            .with_command_specific(u64::MAX);
        assert_eq!(&c.to_vec()[8..12], &[0, 0, 0, 0]);
    }

    #[test]
    fn ili_and_flags() {
        let s = SenseData::new(
            SenseKey::IllegalRequest,
            AdditionalSense::INVALID_FIELD_IN_CDB,
        )
        .with_ili(true)
        .with_information(8);
        assert_eq!(
            s.to_vec(),
            hex("f0 00 25 00 00 00 08 0a 00 00 00 00 24 00 00 00 00 00")
        );
        let d = s.in_format(SenseFormat::Descriptor);
        // Information descriptor, then the block commands descriptor with ILI.
        assert_eq!(
            d.to_vec(),
            hex("72 05 24 00 00 00 00 10  00 0a 80 00 00 00 00 00 00 00 00 08  05 02 00 20")
        );
        assert_roundtrip(&d);
        // FILEMARK/EOM need the stream commands descriptor, which carries ILI too.
        let t = SenseData {
            filemark: true,
            ..d
        };
        let bytes = t.to_vec();
        assert_eq!(&bytes[bytes.len() - 4..], &[0x04, 0x02, 0x00, 0xA0]);
        assert_roundtrip(&t);
    }

    #[test]
    fn fru_code() {
        let s = SenseData::hardware_error(AdditionalSense::INTERNAL_TARGET_FAILURE);
        let s = SenseData {
            field_replaceable_unit: 0x42,
            ..s
        };
        assert_eq!(s.to_vec()[14], 0x42);
        let d = s.in_format(SenseFormat::Descriptor);
        assert_eq!(d.to_vec(), hex("72 04 44 00 00 00 00 04  03 02 00 42"));
        assert_roundtrip(&d);
    }

    #[test]
    fn linux_unit_attention() {
        // What a Linux initiator logs after a target reset.
        let b = hex("70 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00");
        let s = SenseData::parse(&b).unwrap();
        assert_eq!(
            s,
            SenseData::unit_attention(AdditionalSense::POWER_ON_RESET_OR_BUS_DEVICE_RESET)
        );
        assert_eq!(s.format, SenseFormat::Fixed);
        assert!(!s.deferred);
        assert_eq!(s.to_vec(), b);
    }

    #[test]
    fn real_devices() {
        // SAT ATA PASS-THROUGH with CK_COND: RECOVERED ERROR, ATA PASS THROUGH INFORMATION
        // AVAILABLE, with an ATA status return descriptor (09h) that we skip.
        let b = hex("72 01 00 1d 00 00 00 0e 09 0c 00 00 00 00 00 00 00 00 00 00 50 00");
        let s = SenseData::parse(&b).unwrap();
        assert_eq!(s.format, SenseFormat::Descriptor);
        assert_eq!(s.key, SenseKey::RecoveredError);
        assert_eq!(s.additional, AdditionalSense::new(0x00, 0x1D));
        assert_eq!(s.information, None);
        assert_eq!(s.sense_key_specific, None);

        // A disk's medium error with LBA and retry count, 0x28 additional bytes of which
        // REQUEST SENSE with ALLOCATION LENGTH 18 returned the first 18 (the ADDITIONAL
        // SENSE LENGTH is not adjusted for truncation).
        let b = hex("f0 00 03 00 12 34 56 28 00 00 00 00 11 00 00 80 00 03");
        let s = SenseData::parse(&b).unwrap();
        assert_eq!(s.key, SenseKey::MediumError);
        assert_eq!(s.additional, AdditionalSense::UNRECOVERED_READ_ERROR);
        assert_eq!(s.information, Some(0x0012_3456));
        assert_eq!(
            s.sense_key_specific,
            Some(SenseKeySpecific::ActualRetryCount(3))
        );

        // Old devices: ADDITIONAL SENSE LENGTH 6, so no SKS field (bytes 14.. are garbage).
        let b = hex("70 00 02 00 00 00 00 06 00 00 00 00 04 01 ff ff ff ff");
        let s = SenseData::parse(&b).unwrap();
        assert_eq!(s.additional, AdditionalSense::LUN_BECOMING_READY);
        assert_eq!(s.field_replaceable_unit, 0);
        assert_eq!(s.sense_key_specific, None);

        // FORMAT UNIT in progress, descriptor format, deferred-free, half done.
        let b = hex("72 02 04 04 00 00 00 08 02 06 00 00 80 80 00 00");
        let s = SenseData::parse(&b).unwrap();
        assert_eq!(
            s.sense_key_specific,
            Some(SenseKeySpecific::ProgressIndication(0x8000))
        );
        assert_eq!(
            s.to_string(),
            "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS (04h/04h), progress 50%"
        );
    }

    #[test]
    fn deferred_errors() {
        let s = SenseData::medium_error_write().with_deferred(true);
        assert_eq!(s.to_vec()[0], 0x71);
        assert_roundtrip(&s);
        let d = s.in_format(SenseFormat::Descriptor);
        assert_eq!(d.to_vec()[0], 0x73);
        assert_roundtrip(&d);
    }

    #[test]
    fn bad_response_codes() {
        for rc in [0x00, 0x7F, 0x74, 0x6F, 0xFF] {
            let mut b = vec![0u8; 18];
            b[0] = rc;
            assert_eq!(
                SenseData::parse(&b),
                Err(Error::InvalidField {
                    what: "sense data",
                    field: "RESPONSE CODE",
                    pointer: FieldPointer::data(0, Some(6)),
                }),
                "response code {rc:#x}"
            );
        }
        assert!(matches!(
            SenseData::parse(&[]),
            Err(Error::Truncated { needed: 8, .. })
        ));
        assert!(matches!(
            SenseData::parse(&[0x70, 0, 5]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            SenseData::parse(&[0x72, 0, 5, 0, 0, 0, 0]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn descriptor_walking() {
        // A descriptor whose additional length runs past the end.
        let b = hex("72 05 24 00 00 00 00 08 02 0a 00 00 cb 00 02 00");
        assert!(matches!(SenseData::parse(&b), Err(Error::Truncated { .. })));
        // ADDITIONAL SENSE LENGTH promises more than the buffer holds, cutting a descriptor.
        let b = hex("72 05 24 00 00 00 00 08 02 06 00 00 cb");
        assert!(SenseData::parse(&b).is_err());
        // A lone byte where a descriptor header should be.
        let b = hex("72 05 24 00 00 00 00 01 02");
        assert!(SenseData::parse(&b).is_err());
        // A known descriptor with too small an ADDITIONAL LENGTH.
        let b = hex("72 05 24 00 00 00 00 04 02 02 00 00");
        assert_eq!(
            SenseData::parse(&b),
            Err(Error::InvalidField {
                what: "sense data descriptor",
                field: "ADDITIONAL LENGTH",
                pointer: FieldPointer::data(9, None),
            })
        );
        // Unknown and vendor specific descriptors are skipped, empty ones too; bytes past
        // the ADDITIONAL SENSE LENGTH are ignored; the first of two like descriptors wins.
        let b = hex(
            "72 05 24 00 00 00 00 17  80 03 aa bb cc  0a 00  02 06 00 00 cb 00 02 00  \
             02 06 00 00 80 00 09 00  ff ff ff",
        );
        let s = SenseData::parse(&b).unwrap();
        assert_eq!(
            s.sense_key_specific,
            Some(SenseKeySpecific::FieldPointer(FieldPointer::cdb_bit(2, 3)))
        );
        // An information descriptor with VALID = 0 reports nothing.
        let b = hex("72 03 11 00 00 00 00 0c  00 0a 00 00 00 00 00 00 00 00 12 34");
        assert_eq!(SenseData::parse(&b).unwrap().information, None);
    }

    #[test]
    fn emit_needs_room() {
        let s = SenseData::lba_out_of_range();
        assert!(matches!(
            s.emit(&mut [0u8; 17]),
            Err(Error::BufferTooShort { needed: 18, .. })
        ));
        let d = SenseData::miscompare(1).in_format(SenseFormat::Descriptor);
        assert!(matches!(
            d.emit(&mut [0u8; 19]),
            Err(Error::BufferTooShort { needed: 20, .. })
        ));
    }

    #[test]
    fn shorthands() {
        let cases = [
            (
                SenseData::lba_out_of_range(),
                SenseKey::IllegalRequest,
                (0x21, 0x00),
            ),
            (
                SenseData::invalid_opcode(),
                SenseKey::IllegalRequest,
                (0x20, 0x00),
            ),
            (
                SenseData::medium_error_read(),
                SenseKey::MediumError,
                (0x11, 0x00),
            ),
            (
                SenseData::medium_error_write(),
                SenseKey::MediumError,
                (0x0C, 0x00),
            ),
            (
                SenseData::write_protected(),
                SenseKey::DataProtect,
                (0x27, 0x00),
            ),
            (
                SenseData::not_ready(AdditionalSense::MEDIUM_NOT_PRESENT),
                SenseKey::NotReady,
                (0x3A, 0x00),
            ),
            (
                SenseData::aborted_command(AdditionalSense::COMMANDS_CLEARED_BY_DEVICE_SERVER),
                SenseKey::AbortedCommand,
                (0x2F, 0x02),
            ),
        ];
        for (s, key, (asc, ascq)) in cases {
            let b = s.to_vec();
            assert_eq!(b[2] & 0x0F, key as u8);
            assert_eq!((b[12], b[13]), (asc, ascq));
            assert_roundtrip(&s);
            assert_roundtrip(&s.in_format(SenseFormat::Descriptor));
        }
        assert_eq!(SenseFormat::from_d_sense(true), SenseFormat::Descriptor);
        assert_eq!(SenseFormat::from_d_sense(false), SenseFormat::Fixed);
        assert_eq!(SenseFormat::default(), SenseFormat::Fixed);
    }

    fn check_from_error(e: Error, key: SenseKey, asc: AdditionalSense, sks: Option<[u8; 3]>) {
        let s = SenseData::from_error(&e);
        assert_eq!(s.key, key, "{e}");
        assert_eq!(s.additional, asc, "{e}");
        assert_eq!(s.sense_key_specific.map(|k| k.to_bytes()), sks, "{e}");
        assert_eq!(s.format, SenseFormat::Fixed);
        assert_eq!(SenseData::from(e), s);
        assert_roundtrip(&s);
    }

    #[test]
    fn from_error_mappings() {
        use AdditionalSense as A;
        use SenseKey::*;
        check_from_error(
            Error::UnsupportedOpcode {
                opcode: 0xC1,
                service_action: None,
            },
            IllegalRequest,
            A::INVALID_COMMAND_OPERATION_CODE,
            Some([0xC0, 0x00, 0x00]),
        );
        check_from_error(
            Error::UnsupportedOpcode {
                opcode: 0x9E,
                service_action: Some(0x1F),
            },
            IllegalRequest,
            A::INVALID_FIELD_IN_CDB,
            Some([0xCC, 0x00, 0x01]),
        );
        check_from_error(
            Error::UnsupportedOpcode {
                opcode: 0x7F,
                service_action: Some(0x0009),
            },
            IllegalRequest,
            A::INVALID_FIELD_IN_CDB,
            Some([0xC0, 0x00, 0x08]),
        );
        check_from_error(
            Error::InvalidField {
                what: "WRITE SAME(16)",
                field: "ANCHOR",
                pointer: FieldPointer::cdb_bit(1, 4),
            },
            IllegalRequest,
            A::INVALID_FIELD_IN_CDB,
            Some([0xCC, 0x00, 0x01]),
        );
        check_from_error(
            Error::InvalidField {
                what: "MODE SELECT(10)",
                field: "PS",
                pointer: FieldPointer::param_bit(8, 7),
            },
            IllegalRequest,
            A::INVALID_FIELD_IN_PARAMETER_LIST,
            Some([0x8F, 0x00, 0x08]),
        );
        check_from_error(
            Error::InvalidField {
                what: "INQUIRY data",
                field: "PERIPHERAL DEVICE TYPE",
                pointer: FieldPointer::data(0, Some(4)),
            },
            HardwareError,
            A::INTERNAL_TARGET_FAILURE,
            None,
        );
        check_from_error(
            Error::Truncated {
                what: "READ(16)",
                location: Location::Cdb,
                needed: 16,
                actual: 10,
            },
            IllegalRequest,
            A::INVALID_FIELD_IN_CDB,
            None,
        );
        check_from_error(
            Error::Truncated {
                what: "UNMAP parameter list",
                location: Location::ParameterList,
                needed: 24,
                actual: 8,
            },
            IllegalRequest,
            A::PARAMETER_LIST_LENGTH_ERROR,
            None,
        );
        check_from_error(
            Error::Truncated {
                what: "INQUIRY data",
                location: Location::Data,
                needed: 36,
                actual: 5,
            },
            HardwareError,
            A::INTERNAL_TARGET_FAILURE,
            None,
        );
        check_from_error(
            Error::ParameterListLength {
                what: "MODE SELECT(6)",
                len: 3,
            },
            IllegalRequest,
            A::PARAMETER_LIST_LENGTH_ERROR,
            None,
        );
        check_from_error(
            Error::BufferTooShort {
                what: "READ CAPACITY(16) data",
                needed: 32,
                actual: 8,
            },
            HardwareError,
            A::INTERNAL_TARGET_FAILURE,
            None,
        );
    }

    #[test]
    fn largest_fits_tcmu() {
        let s = SenseData {
            format: SenseFormat::Descriptor,
            deferred: true,
            key: SenseKey::IllegalRequest,
            additional: AdditionalSense::INVALID_FIELD_IN_CDB,
            information: Some(u64::MAX),
            command_specific: Some(u64::MAX),
            sense_key_specific: Some(SenseKeySpecific::FieldPointer(FieldPointer::cdb(1))),
            field_replaceable_unit: 1,
            filemark: true,
            eom: true,
            ili: true,
        };
        assert_eq!(s.buffer_len(), 48);
        assert!(s.buffer_len() <= TCMU_SENSE_BUFFERSIZE);
        assert_roundtrip(&s);
    }

    fn arb_key() -> impl Strategy<Value = SenseKey> {
        (0u8..16).prop_map(SenseKey::from_low_nibble)
    }

    /// Any value `format` can carry: fixed format limits INFORMATION and COMMAND-SPECIFIC
    /// INFORMATION to 32 bits (and the latter to non-zero), and the sense key specific
    /// field is the one the sense key defines.
    fn arb_sense(format: SenseFormat) -> impl Strategy<Value = SenseData> {
        let fixed = format == SenseFormat::Fixed;
        let info_max = if fixed { u64::from(u32::MAX) } else { u64::MAX };
        (
            (any::<bool>(), arb_key(), any::<(u8, u8)>()),
            proptest::option::of(0..=info_max),
            proptest::option::of(u64::from(fixed)..=info_max),
            proptest::option::of(any::<[u8; 3]>()),
            (any::<u8>(), any::<bool>(), any::<bool>(), any::<bool>()),
        )
            .prop_map(
                move |((deferred, key, (asc, ascq)), information, csi, sks, flags)| {
                    let (fru, filemark, eom, ili) = flags;
                    SenseData {
                        format,
                        deferred,
                        key,
                        additional: AdditionalSense::new(asc, ascq),
                        information,
                        command_specific: csi,
                        sense_key_specific: sks.and_then(|[a, b, c]| {
                            SenseKeySpecific::from_bytes(key, [a | SKSV, b, c])
                        }),
                        field_replaceable_unit: fru,
                        filemark,
                        eom,
                        ili,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn roundtrip_fixed(s in arb_sense(SenseFormat::Fixed)) {
            prop_assert_eq!(s.buffer_len(), FIXED_LEN);
            assert_roundtrip(&s);
        }

        #[test]
        fn roundtrip_descriptor(s in arb_sense(SenseFormat::Descriptor)) {
            prop_assert!(s.buffer_len() <= TCMU_SENSE_BUFFERSIZE);
            assert_roundtrip(&s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            // Whatever parses is representable, so it survives a round trip.
            if let Ok(s) = SenseData::parse(&b) {
                assert_roundtrip(&s);
            }
        }

        #[test]
        fn arbitrary_descriptors_never_panic(
            deferred in any::<bool>(),
            tail in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut b = vec![if deferred { 0x73 } else { 0x72 }, 0x05, 0x24, 0x00, 0, 0, 0];
            b.push(u8::try_from(tail.len()).unwrap_or(u8::MAX));
            b.extend_from_slice(&tail);
            if let Ok(s) = SenseData::parse(&b) {
                prop_assert_eq!(s.deferred, deferred);
                assert_roundtrip(&s);
            }
        }

        #[test]
        fn sks_roundtrip(key in arb_key(), bytes in any::<[u8; 3]>()) {
            if let Some(sks) = SenseKeySpecific::from_bytes(key, bytes) {
                let again = sks.to_bytes();
                prop_assert_eq!(SenseKeySpecific::from_bytes(key, again), Some(sks));
            } else {
                prop_assert_eq!(bytes[0] & SKSV, 0);
            }
        }
    }
}
