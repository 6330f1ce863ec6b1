//! Sense data (SPC-5 4.4): what a target returns with CHECK CONDITION status, in fixed or
//! descriptor format, with the sense keys, ASC/ASCQ codes and status codes it needs. A target
//! builds a [`SenseData`] with a shorthand or [`SenseData::from_error`], picks the format D_SENSE
//! asks for ([`SenseData::in_format`]) and emits it (at most 48 bytes).
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

/// The largest sense data SPC-5 allows, a bound for buffers (this module emits at most 48).
pub const MAX_LEN: usize = 252;

/// The length of fixed format sense data as this module emits it.
pub const FIXED_LEN: usize = data::Fixed::LEN;

/// Which of the two sense data formats to emit: the Control mode page's D_SENSE bit chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum SenseFormat {
    /// Fixed format, response codes 70h/71h (D_SENSE = 0, the default).
    #[default]
    Fixed = 0,
    /// Descriptor format, response codes 72h/73h (D_SENSE = 1).
    Descriptor = 1,
}

impl SenseFormat {
    /// The format the Control mode page's D_SENSE bit asks for.
    pub const fn from_d_sense(d_sense: bool) -> Self {
        if d_sense { SenseFormat::Descriptor } else { SenseFormat::Fixed }
    }

    /// The RESPONSE CODE for this format, for current or deferred errors: 70h..=73h.
    pub const fn response_code(self, deferred: bool) -> u8 {
        0x70 + 2 * (self as u8) + deferred as u8
    }
}

/// The SENSE KEY SPECIFIC field (SPC-5 4.4.2.4), present when SKSV = 1, decoded by the sense
/// key each variant names (any other key: [`Self::Other`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenseKeySpecific {
    /// Field pointer (ILLEGAL REQUEST): C/D = 1 only for [`Location::Cdb`]; a bit above 7 is
    /// emitted with BPV = 0.
    FieldPointer(FieldPointer),
    /// Actual retry count (RECOVERED / MEDIUM / HARDWARE ERROR).
    ActualRetryCount(u16),
    /// Progress indication (NO SENSE, NOT READY): fraction complete, over 65536.
    ProgressIndication(u16),
    /// Segment pointer (COPY ABORTED): where in the EXTENDED COPY parameter list it stopped.
    SegmentPointer {
        /// SD: `field_pointer` is relative to the segment descriptor, not the parameter list.
        segment_descriptor: bool,
        /// BPV and BIT POINTER: the bit of the byte, when reported (0..=7).
        bit: Option<u8>,
        /// FIELD POINTER: the byte.
        field_pointer: u16,
    },
    /// Unit attention condition queue overflow (UNIT ATTENTION): the OVERFLOW bit.
    UnitAttentionOverflow(bool),
    /// For a sense key that gives the field no meaning: the bytes as sent, SKSV cleared.
    Other([u8; 3]),
}

const SKSV: Spec = Spec::new("SKSV", 0, 7, 1);
const CD: Spec = Spec::new("C/D", 0, 6, 1);
const SD: Spec = Spec::new("SD", 0, 5, 1);
const BPV: Spec = Spec::new("BPV", 0, 3, 1);
const BIT_POINTER: Spec = Spec::new("BIT POINTER", 0, 0, 3);
const OVERFLOW: Spec = Spec::new("OVERFLOW", 0, 0, 1);
/// FIELD POINTER, ACTUAL RETRY COUNT or PROGRESS INDICATION.
const VALUE: Spec = Spec::new("FIELD POINTER", 1, 0, 16);

impl SenseKeySpecific {
    /// The field's three bytes, SKSV set.
    pub fn to_bytes(&self) -> [u8; 3] {
        // The flag at bit 6 or 5 or 0 of byte 0, the bit pointer and the 16-bit value.
        let ((flag, set), bit, value) = match *self {
            Self::FieldPointer(p) => ((CD, p.location == Location::Cdb), p.bit, p.byte),
            Self::ActualRetryCount(n) | Self::ProgressIndication(n) => ((CD, false), None, n),
            Self::SegmentPointer { segment_descriptor, bit, field_pointer } => {
                ((SD, segment_descriptor), bit, field_pointer)
            }
            Self::UnitAttentionOverflow(overflow) => ((OVERFLOW, overflow), None, 0),
            Self::Other([x, y, z]) => return [x | 0x80, y, z], // SKSV
        };
        let mut b = [0u8; 3];
        flag.put(&mut b, u64::from(set));
        if let Some(n @ 0..=7) = bit {
            BPV.put(&mut b, 1);
            BIT_POINTER.put(&mut b, u64::from(n));
        }
        VALUE.put(&mut b, u64::from(value));
        SKSV.put(&mut b, 1);
        b
    }

    /// Decodes the three bytes of the field as `key` defines them; `None` when SKSV is 0.
    pub fn from_bytes(key: SenseKey, b: [u8; 3]) -> Option<Self> {
        if SKSV.get(&b) == 0 {
            return None;
        }
        let value = VALUE.get(&b) as u16;
        let bit = (BPV.get(&b) != 0).then_some(BIT_POINTER.get(&b) as u8);
        Some(match key {
            SenseKey::IllegalRequest => Self::FieldPointer(FieldPointer {
                location: if CD.get(&b) != 0 { Location::Cdb } else { Location::ParameterList },
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
            _ => Self::Other([b[0] & 0x7F, b[1], b[2]]), // SKSV cleared
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
