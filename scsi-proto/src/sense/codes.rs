//! Status codes, sense keys and additional sense codes: what the numbers of sense data mean.

use core::fmt;

use crate::bits::Value;

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

/// Declares [`SenseKey`], its values and its standard names from one list.
macro_rules! sense_keys {
    ($($key:ident = $v:literal $name:literal,)*) => {
        /// The SENSE KEY field (SPC-5 4.4, "Sense key descriptions" table): the general category
        /// of the condition. All sixteen 4-bit values have a variant, so every sense key parses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum SenseKey {
            $(#[doc = concat!(stringify!($v), " ", $name, ".")] $key = $v,)*
        }

        impl SenseKey {
            /// Every sense key, by value.
            const ALL: [SenseKey; 16] = [$(SenseKey::$key),*];

            /// The name as the standard spells it, for logs.
            pub const fn name(self) -> &'static str {
                [$($name),*][self as usize]
            }
        }
    };
}

sense_keys! {
    NoSense = 0x0 "NO SENSE",
    RecoveredError = 0x1 "RECOVERED ERROR",
    NotReady = 0x2 "NOT READY",
    MediumError = 0x3 "MEDIUM ERROR",
    HardwareError = 0x4 "HARDWARE ERROR",
    IllegalRequest = 0x5 "ILLEGAL REQUEST",
    UnitAttention = 0x6 "UNIT ATTENTION",
    DataProtect = 0x7 "DATA PROTECT",
    BlankCheck = 0x8 "BLANK CHECK",
    VendorSpecific = 0x9 "VENDOR SPECIFIC",
    CopyAborted = 0xA "COPY ABORTED",
    AbortedCommand = 0xB "ABORTED COMMAND",
    Obsolete = 0xC "OBSOLETE (0Ch)",
    VolumeOverflow = 0xD "VOLUME OVERFLOW",
    Miscompare = 0xE "MISCOMPARE",
    Completed = 0xF "COMPLETED",
}

/// The SENSE KEY field's four bits; higher bits are ignored.
impl Value for SenseKey {
    fn from_bits(v: u64) -> Self {
        Self::ALL[(v & 0x0F) as usize]
    }
    fn to_bits(self) -> u64 {
        u64::from(self as u8)
    }
}

impl fmt::Display for SenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An ADDITIONAL SENSE CODE and QUALIFIER (ASC/ASCQ): the precise condition within the sense key.
/// Any pair parses; the constants name those a disk target answers, as SPC-5's table does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdditionalSense {
    /// ADDITIONAL SENSE CODE.
    pub asc: u8,
    /// ADDITIONAL SENSE CODE QUALIFIER.
    pub ascq: u8,
}

/// Defines the named ASC/ASCQ constants and their descriptions from one table, so the two
/// cannot drift apart; a duplicated pair makes the `description` match unreachable (a lint
/// error under `-D warnings`).
macro_rules! additional_sense_codes {
    ($($name:ident = ($asc:literal, $ascq:literal, $desc:literal);)*) => {
        impl AdditionalSense {
            /// The pair `asc`/`ascq`.
            pub const fn new(asc: u8, ascq: u8) -> Self {
                AdditionalSense { asc, ascq }
            }

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

/// ADDITIONAL SENSE CODE and QUALIFIER as one 16-bit field (ASC the high byte).
impl Value for AdditionalSense {
    fn from_bits(v: u64) -> Self {
        let [.., asc, ascq] = v.to_be_bytes();
        AdditionalSense::new(asc, ascq)
    }
    fn to_bits(self) -> u64 {
        u64::from(u16::from_be_bytes([self.asc, self.ascq]))
    }
}

#[cfg(test)]
mod tests;
