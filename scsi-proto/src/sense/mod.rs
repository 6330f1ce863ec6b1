//! Sense data (SPC-5 4.4): what a target returns with CHECK CONDITION status, in fixed or
//! descriptor format, with the sense keys, ASC/ASCQ codes and SCSI status codes it needs.
//!
//! A target builds a [`SenseData`] with one of the shorthands ([`SenseData::invalid_field_in_cdb`],
//! [`SenseData::lba_out_of_range`], ...) or from an [`Error`](crate::Error)
//! ([`SenseData::from_error`]), picks the format the Control mode page's D_SENSE bit asks for
//! ([`SenseData::in_format`]) and emits it with [`Wire::emit`](crate::Wire::emit). Everything
//! this module emits is at most 48 bytes, well within the 96-byte sense buffer of a TCMU command
//! ring entry (`TCMU_SENSE_BUFFERSIZE`).
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

mod codes;
mod data;

pub use codes::{AdditionalSense, SenseKey, status};
pub use data::SenseData;

use crate::bits::{Layout, Spec};
use crate::{FieldPointer, Location};

/// The largest sense data SPC-5 allows (4.4.1: ADDITIONAL SENSE LENGTH at most 244).
///
/// Only a bound for buffers: this module emits at most 48 bytes, which also fits the 96-byte
/// sense buffer TCMU gives each command.
pub const MAX_LEN: usize = 252;

/// The length of fixed format sense data as this module emits it (SPC-5 4.4.3: bytes 0..=17,
/// ADDITIONAL SENSE LENGTH 0Ah).
pub const FIXED_LEN: usize = data::Fixed::LEN;

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
            (SenseFormat::Fixed, false) => 0x70,
            (SenseFormat::Fixed, true) => 0x71,
            (SenseFormat::Descriptor, false) => 0x72,
            (SenseFormat::Descriptor, true) => 0x73,
        }
    }
}

/// The SENSE KEY SPECIFIC field (SPC-5 4.4.2.4), present when SKSV = 1. Its meaning depends
/// on the sense key, so parse decodes it by the sense key each variant names (any other key:
/// [`Self::Other`]). Emit writes whatever variant it is given; a variant that does not match
/// the sense key parses back as the key's interpretation of the same bytes.
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

// The sense key specific field's parts (SPC-5 4.4.2.4); which of them a form has depends on
// the sense key.
const SKSV: Spec = Spec::new("SKSV", 0, 7, 1);
const CD: Spec = Spec::new("C/D", 0, 6, 1);
const SD: Spec = Spec::new("SD", 0, 5, 1);
/// BPV (bit 3) and BIT POINTER (bits 2..0).
const BIT: Spec = Spec::new("BPV, BIT POINTER", 0, 0, 4);
const BPV: u64 = 0x8;
const OVERFLOW: Spec = Spec::new("OVERFLOW", 0, 0, 1);
/// FIELD POINTER, ACTUAL RETRY COUNT or PROGRESS INDICATION.
const VALUE: Spec = Spec::new("FIELD POINTER", 1, 0, 16);

impl SenseKeySpecific {
    /// The field's three bytes, SKSV set.
    pub fn to_bytes(&self) -> [u8; 3] {
        let mut b = [0u8; 3];
        // BPV and BIT POINTER for a bit number; bits beyond 7 cannot be pointed at.
        let put_bit = |b: &mut [u8; 3], bit: Option<u8>| match bit {
            Some(n) if n <= 7 => BIT.put(b, BPV | u64::from(n)),
            _ => {}
        };
        match *self {
            Self::FieldPointer(p) => {
                CD.put(&mut b, u64::from(p.location == Location::Cdb));
                put_bit(&mut b, p.bit);
                VALUE.put(&mut b, u64::from(p.byte));
            }
            Self::ActualRetryCount(n) | Self::ProgressIndication(n) => {
                VALUE.put(&mut b, u64::from(n));
            }
            Self::SegmentPointer {
                segment_descriptor,
                bit,
                field_pointer,
            } => {
                SD.put(&mut b, u64::from(segment_descriptor));
                put_bit(&mut b, bit);
                VALUE.put(&mut b, u64::from(field_pointer));
            }
            Self::UnitAttentionOverflow(overflow) => OVERFLOW.put(&mut b, u64::from(overflow)),
            Self::Other(bytes) => b = bytes,
        }
        SKSV.put(&mut b, 1);
        b
    }

    /// Decodes the three bytes of the field as `key` defines them; `None` when SKSV is 0.
    pub fn from_bytes(key: SenseKey, mut b: [u8; 3]) -> Option<Self> {
        if SKSV.get(&b) == 0 {
            return None;
        }
        let value = VALUE.get(&b) as u16;
        let bit = BIT.get(&b);
        let bit = (bit & BPV != 0).then_some((bit & !BPV) as u8);
        Some(match key {
            SenseKey::IllegalRequest => Self::FieldPointer(FieldPointer {
                location: if CD.get(&b) != 0 {
                    Location::Cdb
                } else {
                    Location::ParameterList
                },
                byte: value,
                bit,
            }),
            SenseKey::RecoveredError | SenseKey::MediumError | SenseKey::HardwareError => {
                Self::ActualRetryCount(value)
            }
            SenseKey::NoSense | SenseKey::NotReady => Self::ProgressIndication(value),
            SenseKey::CopyAborted => Self::SegmentPointer {
                segment_descriptor: SD.get(&b) != 0,
                bit,
                field_pointer: value,
            },
            SenseKey::UnitAttention => Self::UnitAttentionOverflow(OVERFLOW.get(&b) != 0),
            _ => {
                SKSV.put(&mut b, 0);
                Self::Other(b)
            }
        })
    }

    /// The field as the 24-bit number sense data carries.
    fn to_bits(self) -> u64 {
        let [x, y, z] = self.to_bytes();
        u64::from_be_bytes([0, 0, 0, 0, 0, x, y, z])
    }

    /// [`Self::from_bytes`] on the 24-bit number sense data carries.
    fn from_bits(key: SenseKey, v: u64) -> Option<Self> {
        let [.., x, y, z] = v.to_be_bytes();
        Self::from_bytes(key, [x, y, z])
    }
}

#[cfg(test)]
mod tests;
