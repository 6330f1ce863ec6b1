//! Why a login fails: the target's status (RFC 7143 11.13.5) and the initiator's own checks.

use crate::chap::ChapError;
use crate::keys::NegotiationError;
use crate::pdu::{Opcode, PduError, RejectReason, Stage};
use crate::text::TextError;

/// A login status other than success or a usable redirection (RFC 7143 11.13.5): what the
/// target answered, readable by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum StatusError {
    /// 0x01xx other than 01 and 02: a redirection this crate does not know.
    #[error("redirected (status detail {0:#04x})")]
    Redirection(u8),
    /// 0x0200: miscellaneous initiator error.
    #[error("the target reports an initiator error")]
    InitiatorError,
    /// 0x0201: the initiator could not be authenticated.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// 0x0202: the initiator may not log in to this target.
    #[error("authorization failed: this initiator may not access the target")]
    AuthorizationFailed,
    /// 0x0203: no such target.
    #[error("target not found")]
    NotFound,
    /// 0x0204: the target has been removed.
    #[error("target removed")]
    TargetRemoved,
    /// 0x0205: the requested iSCSI version range is not supported.
    #[error("unsupported iSCSI version")]
    UnsupportedVersion,
    /// 0x0206: too many connections on this session.
    #[error("too many connections")]
    TooManyConnections,
    /// 0x0207: a required key is missing.
    #[error("missing parameter")]
    MissingParameter,
    /// 0x0208: the connection cannot be added to the session.
    #[error("cannot include the connection in the session")]
    CantIncludeInSession,
    /// 0x0209: the session type is not supported.
    #[error("session type not supported")]
    SessionTypeNotSupported,
    /// 0x020a: the session to add a connection to or reinstate does not exist.
    #[error("session does not exist")]
    SessionDoesNotExist,
    /// 0x020b: the request is invalid during login.
    #[error("invalid request during login")]
    InvalidDuringLogin,
    /// 0x0300: the target failed.
    #[error("target error")]
    TargetError,
    /// 0x0301: the service is temporarily unavailable.
    #[error("service unavailable")]
    ServiceUnavailable,
    /// 0x0302: the target is out of resources.
    #[error("target out of resources")]
    OutOfResources,
    /// A class and detail RFC 7143 does not define.
    #[error("unknown login status {class:#04x}/{detail:#04x}")]
    Unknown {
        /// Status-Class.
        class: u8,
        /// Status-Detail.
        detail: u8,
    },
}

const CODES: [(StatusError, u8, u8); 15] = [
    (StatusError::InitiatorError, 2, 0x00),
    (StatusError::AuthenticationFailed, 2, 0x01),
    (StatusError::AuthorizationFailed, 2, 0x02),
    (StatusError::NotFound, 2, 0x03),
    (StatusError::TargetRemoved, 2, 0x04),
    (StatusError::UnsupportedVersion, 2, 0x05),
    (StatusError::TooManyConnections, 2, 0x06),
    (StatusError::MissingParameter, 2, 0x07),
    (StatusError::CantIncludeInSession, 2, 0x08),
    (StatusError::SessionTypeNotSupported, 2, 0x09),
    (StatusError::SessionDoesNotExist, 2, 0x0a),
    (StatusError::InvalidDuringLogin, 2, 0x0b),
    (StatusError::TargetError, 3, 0x00),
    (StatusError::ServiceUnavailable, 3, 0x01),
    (StatusError::OutOfResources, 3, 0x02),
];

impl StatusError {
    /// The error for a Status-Class and Status-Detail that are not success (class 0).
    pub fn from_status(class: u8, detail: u8) -> StatusError {
        if class == 1 {
            return StatusError::Redirection(detail);
        }
        CODES
            .iter()
            .find(|(_, c, d)| (*c, *d) == (class, detail))
            .map_or(StatusError::Unknown { class, detail }, |(e, _, _)| *e)
    }

    /// Status-Class and Status-Detail.
    pub fn code(self) -> (u8, u8) {
        match self {
            StatusError::Redirection(d) => (1, d),
            StatusError::Unknown { class, detail } => (class, detail),
            e => CODES
                .iter()
                .find(|(known, _, _)| *known == e)
                .map_or((0xff, 0xff), |(_, c, d)| (*c, *d)),
        }
    }

    /// Whether trying again later may succeed (RFC 7143 11.13.5: the target errors, and too
    /// many connections).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            StatusError::TargetError
                | StatusError::ServiceUnavailable
                | StatusError::OutOfResources
                | StatusError::TooManyConnections
        )
    }
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The target refused the login with this status.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The target redirected us without a usable TargetAddress.
    #[error("redirected without a valid TargetAddress: {0}")]
    BadRedirect(String),
    /// The target answered with a Reject PDU.
    #[error("the target rejected a login request: {0:?}")]
    Rejected(RejectReason),
    /// A PDU that has no place in a login.
    #[error("unexpected {0:?} PDU during login")]
    UnexpectedPdu(Opcode),
    /// CHAP failed (the target's side of the exchange, or mutual authentication).
    #[error(transparent)]
    Chap(#[from] ChapError),
    /// A key's negotiation failed: a bad answer, or a bad configured offer.
    #[error("negotiation failed: {0}")]
    Negotiation(#[from] NegotiationError),
    /// The text of a response is malformed.
    #[error("malformed login text: {0}")]
    Text(#[from] TextError),
    /// A PDU could not be built (text too long for a data segment).
    #[error(transparent)]
    Pdu(#[from] PduError),
    /// The target refused the authentication methods offered.
    #[error("the target refused AuthMethod {offered}: answered {answer:?}")]
    AuthMethodRefused {
        /// What we offered.
        offered: String,
        /// What the target answered.
        answer: String,
    },
    /// The response belongs to another task (its ITT is not ours).
    #[error("response ITT {got:#x} is not the login's {expected:#x}")]
    IttMismatch {
        /// The login's ITT.
        expected: u32,
        /// The response's.
        got: u32,
    },
    /// The response carries another session's ISID.
    #[error("response ISID {0:02x?} is not ours")]
    IsidMismatch([u8; 6]),
    /// The target speaks a version other than RFC 7143's 0.
    #[error("the target's active version is {0}, only 0 is supported")]
    VersionMismatch(u8),
    /// The response's current stage is not ours.
    #[error("response in stage {got:?}, we are in {expected:?}")]
    StageMismatch {
        /// Our stage.
        expected: Stage,
        /// The response's CSG.
        got: Stage,
    },
    /// The target moved to a stage we did not ask for.
    #[error("the target moved to {got:?}, we asked for {asked:?}")]
    BadTransition {
        /// The stage we asked to move to, if any.
        asked: Option<Stage>,
        /// The target's NSG.
        got: Stage,
    },
    /// The target sent the same key twice, or negotiated one already settled.
    #[error("the target sent {0} more than once")]
    DuplicateKey(String),
    /// The target answered data while we were still sending a multi-PDU text.
    #[error("the target answered before our text was complete")]
    TextInterrupted,
    /// The target offered keys in the response that ends the login, leaving no room to
    /// answer them.
    #[error("the target offered {0} while completing the login")]
    OfferOnTransit(String),
    /// The final response has no TSIH (or not the one we resumed).
    #[error("the final login response carries TSIH {got}, expected {expected}")]
    BadTsih {
        /// The TSIH we asked to resume, or 0 for "any non-zero".
        expected: u16,
        /// The response's.
        got: u16,
    },
    /// The target kept the login going far longer than any real negotiation takes.
    #[error("login did not finish within {0} responses")]
    TooManyRounds(u32),
    /// The configuration is unusable (an empty name, a bad offer...).
    #[error("invalid login configuration: {0}")]
    Config(&'static str),
    /// `receive` was called after the login finished or failed.
    #[error("the login is already over")]
    Finished,
}
