//! iSCSI PDUs (RFC 7143 section 11): the 48-byte Basic Header Segment, the typed PDUs an
//! initiator sends and receives during login, discovery and logout, and the framing of a PDU
//! on the byte stream (AHS, padding, header and data digests).
//!
//! The model is buffer-parse-emit: [`Bhs`] is the raw header with typed accessors; each typed
//! PDU is an owned struct built by `parse(&Bhs, data)` and turned back into a header by `emit`
//! (the [`PduBody`] trait). [`Pdu`] is the sum of them, and [`Framer`] (or [`decode`] and
//! [`Pdu::encode`]) cuts PDUs out of, and into, a TCP byte stream.
//!
//! Nothing here panics on input from the network: every length is checked before it is used
//! and every failure is a [`PduError`].
//!
//! ```
//! use iscsi_nl::pdu::{Digests, Framer, NopOut, Pdu};
//!
//! let ping = Pdu::NopOut(NopOut { itt: 7, ttt: 0xffff_ffff, data: b"ping".to_vec(), ..NopOut::default() });
//! let framer = Framer::new(Digests::CRC32C, 8192);
//! let wire = framer.encode(&ping).unwrap();
//! assert_eq!(wire.len(), 48 + 4 + 4 + 4); // BHS, header digest, data, data digest
//! let (pdu, used) = framer.decode(&wire).unwrap().unwrap();
//! assert_eq!((pdu, used), (ping, wire.len()));
//! ```

mod bhs;
mod framing;
mod login;
mod logout;
mod nop;
#[cfg(test)]
mod props;
mod reject;
mod scsi;
#[cfg(test)]
mod tests;
mod text;

pub use bhs::Bhs;
pub use framing::{Digest, Digests, Framer, crc32c, decode};
pub use login::{LoginRequest, LoginResponse, Stage};
pub use logout::{LogoutReason, LogoutRequest, LogoutResponse, LogoutResponseCode};
pub use nop::{NopIn, NopOut};
pub use reject::{Reject, RejectReason};
pub use scsi::ScsiCommandHeader;
pub use text::{TextRequest, TextResponse};

/// The reserved value of the Initiator Task Tag and Target Transfer Tag (RFC 7143 11.18, 11.19):
/// "no task" / "no answer expected".
pub const RESERVED_TAG: u32 = 0xffff_ffff;

/// Errors of parsing and emitting PDUs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// The opcode (the low six bits of byte 0) is not one RFC 7143 defines.
    #[error("unknown iSCSI opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A typed PDU was parsed from a header carrying another opcode.
    #[error("expected opcode {expected:?}, found {found:?}")]
    UnexpectedOpcode {
        /// The opcode of the PDU type asked for.
        expected: Opcode,
        /// The opcode in the header.
        found: Opcode,
    },
    /// A buffer is shorter than the structure it must hold.
    #[error("{what}: need {need} bytes, have {have}")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// The bytes it needs.
        need: usize,
        /// The bytes there are.
        have: usize,
    },
    /// A field holds a value RFC 7143 reserves or forbids.
    #[error("invalid {field}: {value:#x}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u32,
    },
    /// The received header digest is not the CRC32C of the header.
    #[error("header digest mismatch: received {received:#010x}, computed {computed:#010x}")]
    HeaderDigest {
        /// The digest on the wire.
        received: u32,
        /// The digest of the bytes received.
        computed: u32,
    },
    /// The received data digest is not the CRC32C of the data segment and its padding.
    #[error("data digest mismatch: received {received:#010x}, computed {computed:#010x}")]
    DataDigest {
        /// The digest on the wire.
        received: u32,
        /// The digest of the bytes received.
        computed: u32,
    },
    /// The peer announced a data segment larger than we said we could receive
    /// (MaxRecvDataSegmentLength).
    #[error("data segment of {len} bytes exceeds the maximum of {max}")]
    DataSegmentTooLong {
        /// DataSegmentLength from the header.
        len: u32,
        /// Our MaxRecvDataSegmentLength.
        max: u32,
    },
    /// A data segment to emit does not fit the 24-bit DataSegmentLength field.
    #[error("data segment of {0} bytes does not fit in 24 bits")]
    DataSegmentOverflow(usize),
    /// An AHS to emit is not a whole number of 4-byte words, or exceeds 255 words.
    #[error("additional header segments of {0} bytes: not a multiple of 4 up to 1020")]
    AhsLength(usize),
}

/// An iSCSI opcode (RFC 7143 11.1.1): the low six bits of the first header byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// NOP-Out (initiator).
    NopOut = 0x00,
    /// SCSI Command (initiator).
    ScsiCommand = 0x01,
    /// SCSI Task Management Function Request (initiator).
    TaskMgmtRequest = 0x02,
    /// Login Request (initiator).
    LoginRequest = 0x03,
    /// Text Request (initiator).
    TextRequest = 0x04,
    /// SCSI Data-Out (initiator).
    DataOut = 0x05,
    /// Logout Request (initiator).
    LogoutRequest = 0x06,
    /// SNACK Request (initiator).
    SnackRequest = 0x10,
    /// NOP-In (target).
    NopIn = 0x20,
    /// SCSI Response (target).
    ScsiResponse = 0x21,
    /// SCSI Task Management Function Response (target).
    TaskMgmtResponse = 0x22,
    /// Login Response (target).
    LoginResponse = 0x23,
    /// Text Response (target).
    TextResponse = 0x24,
    /// SCSI Data-In (target).
    DataIn = 0x25,
    /// Logout Response (target).
    LogoutResponse = 0x26,
    /// Ready To Transfer (target).
    R2t = 0x31,
    /// Asynchronous Message (target).
    AsyncMessage = 0x32,
    /// Reject (target).
    Reject = 0x3f,
}

impl Opcode {
    /// Every opcode, initiator ones first.
    pub const ALL: [Opcode; 18] = [
        Opcode::NopOut,
        Opcode::ScsiCommand,
        Opcode::TaskMgmtRequest,
        Opcode::LoginRequest,
        Opcode::TextRequest,
        Opcode::DataOut,
        Opcode::LogoutRequest,
        Opcode::SnackRequest,
        Opcode::NopIn,
        Opcode::ScsiResponse,
        Opcode::TaskMgmtResponse,
        Opcode::LoginResponse,
        Opcode::TextResponse,
        Opcode::DataIn,
        Opcode::LogoutResponse,
        Opcode::R2t,
        Opcode::AsyncMessage,
        Opcode::Reject,
    ];

    /// Whether the opcode is one a target sends (bit 5 set).
    pub fn is_target(self) -> bool {
        (self as u8) & 0x20 != 0
    }
}

impl TryFrom<u8> for Opcode {
    type Error = PduError;

    /// Converts the six opcode bits; the I bit and the reserved bit 7 must already be masked.
    fn try_from(v: u8) -> Result<Self, PduError> {
        Opcode::ALL.iter().copied().find(|op| *op as u8 == v).ok_or(PduError::UnknownOpcode(v))
    }
}

impl From<Opcode> for u8 {
    fn from(op: Opcode) -> u8 {
        op as u8
    }
}

/// A typed PDU: parsed from a header and its data segment, emitted back to a header.
///
/// The contract, relied on by the tests: `parse` never panics; for every value `x` whose
/// fields are in range, `parse(&x.emit()?, x.data()) == Ok(x)`.
pub trait PduBody: Sized {
    /// The opcode of this PDU type.
    const OPCODE: Opcode;

    /// Builds the PDU from its header and data segment (padding and digests removed).
    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError>;

    /// The header of this PDU, DataSegmentLength included (TotalAHSLength is 0).
    fn emit(&self) -> Result<Bhs, PduError>;

    /// The data segment (without padding).
    fn data(&self) -> &[u8];
}

/// Starts a header for `T`, with the data segment length of `data` filled in.
pub(crate) fn header_for<T: PduBody>(data: &[u8]) -> Result<Bhs, PduError> {
    let mut bhs = Bhs::new(T::OPCODE);
    bhs.set_data_segment_length(data.len())?;
    Ok(bhs)
}

/// Any PDU: the typed ones this crate models, and the rest kept raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// NOP-Out.
    NopOut(NopOut),
    /// SCSI Command.
    ScsiCommand(ScsiCommandHeader),
    /// Login Request.
    LoginRequest(LoginRequest),
    /// Text Request.
    TextRequest(TextRequest),
    /// Logout Request.
    LogoutRequest(LogoutRequest),
    /// NOP-In.
    NopIn(NopIn),
    /// Login Response.
    LoginResponse(LoginResponse),
    /// Text Response.
    TextResponse(TextResponse),
    /// Logout Response.
    LogoutResponse(LogoutResponse),
    /// Reject.
    Reject(Reject),
    /// A PDU with a known opcode this crate does not model (Data-In, R2T, SCSI Response...),
    /// kept raw.
    Other {
        /// The header as received. [`Pdu::encode`] rewrites its TotalAHSLength and
        /// DataSegmentLength from `ahs` and `data`.
        bhs: Bhs,
        /// The additional header segments, raw (a multiple of 4 bytes).
        ahs: Vec<u8>,
        /// The data segment without padding.
        data: Vec<u8>,
    },
}

impl Pdu {
    /// Builds a PDU from its parts. Typed PDUs ignore the AHS (RFC 7143 defines none for them
    /// except the SCSI Command's, which this minimal model skips); `Other` keeps it.
    pub fn parse(bhs: &Bhs, ahs: &[u8], data: &[u8]) -> Result<Self, PduError> {
        Ok(match bhs.opcode()? {
            Opcode::NopOut => Pdu::NopOut(NopOut::parse(bhs, data)?),
            Opcode::ScsiCommand => Pdu::ScsiCommand(ScsiCommandHeader::parse(bhs, data)?),
            Opcode::LoginRequest => Pdu::LoginRequest(LoginRequest::parse(bhs, data)?),
            Opcode::TextRequest => Pdu::TextRequest(TextRequest::parse(bhs, data)?),
            Opcode::LogoutRequest => Pdu::LogoutRequest(LogoutRequest::parse(bhs, data)?),
            Opcode::NopIn => Pdu::NopIn(NopIn::parse(bhs, data)?),
            Opcode::LoginResponse => Pdu::LoginResponse(LoginResponse::parse(bhs, data)?),
            Opcode::TextResponse => Pdu::TextResponse(TextResponse::parse(bhs, data)?),
            Opcode::LogoutResponse => Pdu::LogoutResponse(LogoutResponse::parse(bhs, data)?),
            Opcode::Reject => Pdu::Reject(Reject::parse(bhs, data)?),
            _ => Pdu::Other { bhs: *bhs, ahs: ahs.to_vec(), data: data.to_vec() },
        })
    }

    /// The opcode. For `Other` it is read from the stored header, which [`Pdu::parse`] has
    /// checked; a hand-built `Other` with an unknown opcode gives the error.
    pub fn opcode(&self) -> Result<Opcode, PduError> {
        Ok(match self {
            Pdu::NopOut(_) => Opcode::NopOut,
            Pdu::ScsiCommand(_) => Opcode::ScsiCommand,
            Pdu::LoginRequest(_) => Opcode::LoginRequest,
            Pdu::TextRequest(_) => Opcode::TextRequest,
            Pdu::LogoutRequest(_) => Opcode::LogoutRequest,
            Pdu::NopIn(_) => Opcode::NopIn,
            Pdu::LoginResponse(_) => Opcode::LoginResponse,
            Pdu::TextResponse(_) => Opcode::TextResponse,
            Pdu::LogoutResponse(_) => Opcode::LogoutResponse,
            Pdu::Reject(_) => Opcode::Reject,
            Pdu::Other { bhs, .. } => bhs.opcode()?,
        })
    }

    /// The header, AHS and data segment of this PDU, lengths filled in.
    pub fn to_parts(&self) -> Result<(Bhs, &[u8], &[u8]), PduError> {
        fn typed<T: PduBody>(p: &T) -> Result<(Bhs, &[u8], &[u8]), PduError> {
            Ok((p.emit()?, &[], p.data()))
        }
        match self {
            Pdu::NopOut(p) => typed(p),
            Pdu::ScsiCommand(p) => typed(p),
            Pdu::LoginRequest(p) => typed(p),
            Pdu::TextRequest(p) => typed(p),
            Pdu::LogoutRequest(p) => typed(p),
            Pdu::NopIn(p) => typed(p),
            Pdu::LoginResponse(p) => typed(p),
            Pdu::TextResponse(p) => typed(p),
            Pdu::LogoutResponse(p) => typed(p),
            Pdu::Reject(p) => typed(p),
            Pdu::Other { bhs, ahs, data } => {
                let words = (ahs.len() % 4 == 0)
                    .then_some(ahs.len() / 4)
                    .and_then(|w| u8::try_from(w).ok())
                    .ok_or(PduError::AhsLength(ahs.len()))?;
                let mut bhs = *bhs;
                bhs.set_total_ahs_length(words);
                bhs.set_data_segment_length(data.len())?;
                Ok((bhs, ahs, data))
            }
        }
    }

    /// The PDU as bytes on the wire: header, AHS, header digest, padded data segment and data
    /// digest, as `digests` asks.
    ///
    /// Fails only if the data segment does not fit in 24 bits or an `Other` PDU's AHS is not
    /// a whole number of words.
    pub fn encode(&self, digests: Digests) -> Result<Vec<u8>, PduError> {
        let (bhs, ahs, data) = self.to_parts()?;
        Ok(framing::encode_parts(&bhs, ahs, data, digests))
    }
}
