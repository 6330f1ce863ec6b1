//! The login and operational keys of RFC 7143 (sections 12 and 13) and their negotiation.
//!
//! Each [`Key`] has a [`Rule`]: a list (the responder picks the first value of the offer it
//! supports), a numerical minimum or maximum, a Boolean OR or AND, or a declaration (no
//! negotiation). [`negotiate`] checks the target's answer to our offer against that rule and
//! the key's legal range and returns the result, or a typed error. [`respond`] is the other
//! direction: the answer we give to a key the target offers. [`SessionParams`] holds the RFC
//! defaults and takes the results in.
//!
//! Keys this module does not know (the `X-`, `X#` and `Z#` extension keys, the iSER keys of
//! RFC 7145, TaskReporting, iSCSIProtocolLevel...) are not interpreted: [`Key::from_name`]
//! returns `None` for them and the caller passes them through untouched (or answers
//! `NotUnderstood`).
//!
//! ```
//! use iscsi_nl::keys::{Key, Outcome, SessionParams, Value};
//!
//! let mut params = SessionParams::default();
//! let out = params.negotiate(Key::MaxBurstLength, "262144", Some("65536")).unwrap();
//! assert_eq!(out, Outcome::Value(Value::Number(65536)));
//! assert_eq!(params.max_burst_length, 65536);
//! assert!(params.negotiate(Key::HeaderDigest, "CRC32C", Some("None")).is_err());
//! ```

mod negotiate;
mod session;
#[cfg(test)]
mod tests;

pub use negotiate::{negotiate, respond};
pub use session::{SessionParams, SessionType};

use crate::text::{self, Special, TextError};
use core::ops::RangeInclusive;

/// How a key's value is agreed (RFC 7143 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The originator offers a list in order of preference; the responder answers the first
    /// value it supports.
    List,
    /// The result is the smaller of offer and responder's value.
    Min,
    /// The result is the larger of offer and responder's value.
    Max,
    /// The result is the OR of offer and responder's value.
    Or,
    /// The result is the AND of offer and responder's value.
    And,
    /// Each side states its own value; nothing is answered.
    Declarative,
}

/// What a key's values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A number within [`Key::range`].
    Number,
    /// `Yes` or `No`.
    Bool,
    /// Free text (names, addresses, list items).
    Text,
}

/// A key RFC 7143 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// HeaderDigest (13.1): list of `CRC32C`, `None`.
    HeaderDigest,
    /// DataDigest (13.1): list of `CRC32C`, `None`.
    DataDigest,
    /// MaxConnections (13.2): minimum, 1..=65535, default 1.
    MaxConnections,
    /// SendTargets (13.3): declarative, in discovery sessions.
    SendTargets,
    /// TargetName (13.4): declarative.
    TargetName,
    /// InitiatorName (13.5): declarative.
    InitiatorName,
    /// TargetAlias (13.6): declarative, from the target.
    TargetAlias,
    /// InitiatorAlias (13.7): declarative.
    InitiatorAlias,
    /// TargetAddress (13.8): declarative, from the target.
    TargetAddress,
    /// TargetPortalGroupTag (13.9): declarative, from the target, 0..=65535.
    TargetPortalGroupTag,
    /// InitialR2T (13.10): OR, default Yes.
    InitialR2T,
    /// ImmediateData (13.11): AND, default Yes.
    ImmediateData,
    /// MaxRecvDataSegmentLength (13.12): declarative per direction, 512..=2^24-1,
    /// default 8192.
    MaxRecvDataSegmentLength,
    /// MaxBurstLength (13.13): minimum, 512..=2^24-1, default 262144.
    MaxBurstLength,
    /// FirstBurstLength (13.14): minimum, 512..=2^24-1, default 65536.
    FirstBurstLength,
    /// DefaultTime2Wait (13.15): maximum, 0..=3600, default 2.
    DefaultTime2Wait,
    /// DefaultTime2Retain (13.16): minimum, 0..=3600, default 20.
    DefaultTime2Retain,
    /// MaxOutstandingR2T (13.17): minimum, 1..=65535, default 1.
    MaxOutstandingR2T,
    /// DataPDUInOrder (13.18): OR, default Yes.
    DataPduInOrder,
    /// DataSequenceInOrder (13.19): OR, default Yes.
    DataSequenceInOrder,
    /// ErrorRecoveryLevel (13.20): minimum, 0..=2, default 0.
    ErrorRecoveryLevel,
    /// SessionType (13.21): declarative, `Discovery` or `Normal`, default Normal.
    SessionType,
    /// AuthMethod (12.1): list of `KRB5`, `SRP`, `CHAP`, `None`.
    AuthMethod,
}

/// The 512..=2^24-1 range of the data segment and burst lengths.
const LENGTHS: RangeInclusive<u64> = 512..=(1 << 24) - 1;

impl Key {
    /// Every key, in the order of RFC 7143 section 13 (AuthMethod last).
    pub const ALL: [Key; 23] = [
        Key::HeaderDigest,
        Key::DataDigest,
        Key::MaxConnections,
        Key::SendTargets,
        Key::TargetName,
        Key::InitiatorName,
        Key::TargetAlias,
        Key::InitiatorAlias,
        Key::TargetAddress,
        Key::TargetPortalGroupTag,
        Key::InitialR2T,
        Key::ImmediateData,
        Key::MaxRecvDataSegmentLength,
        Key::MaxBurstLength,
        Key::FirstBurstLength,
        Key::DefaultTime2Wait,
        Key::DefaultTime2Retain,
        Key::MaxOutstandingR2T,
        Key::DataPduInOrder,
        Key::DataSequenceInOrder,
        Key::ErrorRecoveryLevel,
        Key::SessionType,
        Key::AuthMethod,
    ];

    /// The key as sent.
    pub fn name(self) -> &'static str {
        match self {
            Key::HeaderDigest => "HeaderDigest",
            Key::DataDigest => "DataDigest",
            Key::MaxConnections => "MaxConnections",
            Key::SendTargets => "SendTargets",
            Key::TargetName => "TargetName",
            Key::InitiatorName => "InitiatorName",
            Key::TargetAlias => "TargetAlias",
            Key::InitiatorAlias => "InitiatorAlias",
            Key::TargetAddress => "TargetAddress",
            Key::TargetPortalGroupTag => "TargetPortalGroupTag",
            Key::InitialR2T => "InitialR2T",
            Key::ImmediateData => "ImmediateData",
            Key::MaxRecvDataSegmentLength => "MaxRecvDataSegmentLength",
            Key::MaxBurstLength => "MaxBurstLength",
            Key::FirstBurstLength => "FirstBurstLength",
            Key::DefaultTime2Wait => "DefaultTime2Wait",
            Key::DefaultTime2Retain => "DefaultTime2Retain",
            Key::MaxOutstandingR2T => "MaxOutstandingR2T",
            Key::DataPduInOrder => "DataPDUInOrder",
            Key::DataSequenceInOrder => "DataSequenceInOrder",
            Key::ErrorRecoveryLevel => "ErrorRecoveryLevel",
            Key::SessionType => "SessionType",
            Key::AuthMethod => "AuthMethod",
        }
    }

    /// The key with this name (case-sensitive), or `None` for keys to pass through.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The negotiation rule.
    pub fn rule(self) -> Rule {
        match self {
            Key::HeaderDigest | Key::DataDigest | Key::AuthMethod => Rule::List,
            Key::MaxConnections
            | Key::MaxBurstLength
            | Key::FirstBurstLength
            | Key::DefaultTime2Retain
            | Key::MaxOutstandingR2T
            | Key::ErrorRecoveryLevel => Rule::Min,
            Key::DefaultTime2Wait => Rule::Max,
            Key::InitialR2T | Key::DataPduInOrder | Key::DataSequenceInOrder => Rule::Or,
            Key::ImmediateData => Rule::And,
            Key::SendTargets
            | Key::TargetName
            | Key::InitiatorName
            | Key::TargetAlias
            | Key::InitiatorAlias
            | Key::TargetAddress
            | Key::TargetPortalGroupTag
            | Key::MaxRecvDataSegmentLength
            | Key::SessionType => Rule::Declarative,
        }
    }

    /// The legal range of a numerical key.
    pub fn range(self) -> Option<RangeInclusive<u64>> {
        match self {
            Key::MaxConnections | Key::MaxOutstandingR2T => Some(1..=65535),
            Key::TargetPortalGroupTag => Some(0..=65535),
            Key::MaxRecvDataSegmentLength | Key::MaxBurstLength | Key::FirstBurstLength => {
                Some(LENGTHS)
            }
            Key::DefaultTime2Wait | Key::DefaultTime2Retain => Some(0..=3600),
            Key::ErrorRecoveryLevel => Some(0..=2),
            _ => None,
        }
    }

    /// What the values look like.
    pub fn kind(self) -> Kind {
        if self.range().is_some() {
            Kind::Number
        } else if matches!(self.rule(), Rule::Or | Rule::And) {
            Kind::Bool
        } else {
            Kind::Text
        }
    }

    /// The values RFC 7143 defines for a list or enumerated key. Extension values (`X-`,
    /// `X#`, `Z#`) are legal besides these.
    pub fn known_values(self) -> Option<&'static [&'static str]> {
        match self {
            Key::HeaderDigest | Key::DataDigest => Some(&["CRC32C", "None"]),
            Key::AuthMethod => Some(&["KRB5", "SRP", "CHAP", "None"]),
            Key::SessionType => Some(&["Discovery", "Normal"]),
            _ => None,
        }
    }

    /// The default value (RFC 7143 section 13), for keys that have one.
    pub fn default_value(self) -> Option<&'static str> {
        Some(match self {
            Key::HeaderDigest | Key::DataDigest => "None",
            Key::MaxConnections | Key::MaxOutstandingR2T => "1",
            Key::InitialR2T
            | Key::ImmediateData
            | Key::DataPduInOrder
            | Key::DataSequenceInOrder => "Yes",
            Key::MaxRecvDataSegmentLength => "8192",
            Key::MaxBurstLength => "262144",
            Key::FirstBurstLength => "65536",
            Key::DefaultTime2Wait => "2",
            Key::DefaultTime2Retain => "20",
            Key::ErrorRecoveryLevel => "0",
            Key::SessionType => "Normal",
            _ => return None,
        })
    }
}

impl core::fmt::Display for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a key name is an extension key (RFC 7143 13.22: `X-`, `X#` or `Z#`), to be passed
/// through untouched.
pub fn is_extension(name: &str) -> bool {
    ["X-", "X#", "Z#"].iter().any(|p| name.starts_with(p))
}

/// A key's value, typed by its [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A number.
    Number(u64),
    /// `Yes` (true) or `No`.
    Bool(bool),
    /// Text: a name, an address, or the value chosen from a list.
    Text(String),
}

impl core::fmt::Display for Value {
    /// The value as sent: numbers in decimal, booleans as `Yes`/`No`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Bool(b) => f.write_str(text::format_bool(*b)),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// The result of one key's negotiation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The value agreed on (or declared).
    Value(Value),
    /// The responder refused the value: the key keeps its current (default) value.
    Rejected,
    /// The responder found the key irrelevant: the key keeps its current value.
    Irrelevant,
    /// The responder does not know the key: the key keeps its current value.
    NotUnderstood,
}

impl From<Special> for Outcome {
    fn from(s: Special) -> Outcome {
        match s {
            Special::Reject => Outcome::Rejected,
            Special::Irrelevant => Outcome::Irrelevant,
            Special::NotUnderstood => Outcome::NotUnderstood,
        }
    }
}

/// Our answer to a key the peer offered, from [`respond`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// The result of the negotiation (for a declaration: the peer's value).
    pub outcome: Outcome,
    /// The value to send back; `None` for declarations, which are not answered.
    pub answer: Option<String>,
}

/// Why a negotiation failed. Offers we make that break the rules are errors too: they are
/// bugs or bad configuration, caught before they reach the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// A value is not of the key's form (not a number, not `Yes`/`No`...).
    #[error("{key}: invalid value {value:?}: {source}")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// What was wrong with it.
        source: TextError,
    },
    /// A number is outside the key's legal range.
    #[error("{key}: {value} is outside {min}..={max}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value.
        value: u64,
        /// The smallest legal value.
        min: u64,
        /// The largest legal value.
        max: u64,
    },
    /// A value is neither one RFC 7143 defines for the key nor an extension value.
    #[error("{key}: unknown value {value:?}")]
    UnknownValue {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// A list offer is empty.
    #[error("{key}: empty list offered")]
    EmptyOffer {
        /// The key.
        key: &'static str,
    },
    /// The answer to a list key is not one of the values offered.
    #[error("{key}: answer {answer:?} was not offered")]
    NotInOffer {
        /// The key.
        key: &'static str,
        /// The answer.
        answer: String,
    },
    /// The answer to a minimum key is larger than the offer.
    #[error("{key}: answer {answer} exceeds the offered minimum {offered}")]
    AboveOffer {
        /// The key.
        key: &'static str,
        /// Our offer.
        offered: u64,
        /// The answer.
        answer: u64,
    },
    /// The answer to a maximum key is smaller than the offer.
    #[error("{key}: answer {answer} is below the offered maximum {offered}")]
    BelowOffer {
        /// The key.
        key: &'static str,
        /// Our offer.
        offered: u64,
        /// The answer.
        answer: u64,
    },
    /// The answer to a Boolean key contradicts its function (`No` to an OR offered `Yes`,
    /// `Yes` to an AND offered `No`).
    #[error("{key}: answer {answer} contradicts the offer {offered}")]
    BoolMismatch {
        /// The key.
        key: &'static str,
        /// Our offer.
        offered: bool,
        /// The answer.
        answer: bool,
    },
    /// A key that needs an answer got none.
    #[error("{key}: not answered")]
    NotAnswered {
        /// The key.
        key: &'static str,
    },
    /// A value of the wrong kind was given to [`SessionParams::apply`].
    #[error("{key}: a {found:?} value where a {expected:?} one is needed")]
    WrongKind {
        /// The key.
        key: &'static str,
        /// The key's kind.
        expected: Kind,
        /// The value's kind.
        found: Kind,
    },
    /// The negotiated values break a rule between keys.
    #[error("inconsistent parameters: {0}")]
    Inconsistent(&'static str),
}

impl Key {
    /// Reads one value of this key, checking its form and range. For list keys this is one
    /// item of the list; items must be known values or extension values (`X-`, `X#`, `Z#`).
    pub fn parse_value(self, s: &str) -> Result<Value, NegotiationError> {
        let key = self.name();
        let invalid = |source| NegotiationError::InvalidValue { key, value: s.to_owned(), source };
        match self.kind() {
            Kind::Number => {
                let n = text::parse_number(s).map_err(invalid)?;
                let range = self.range().unwrap_or(0..=u64::MAX);
                if !range.contains(&n) {
                    return Err(NegotiationError::OutOfRange {
                        key,
                        value: n,
                        min: *range.start(),
                        max: *range.end(),
                    });
                }
                Ok(Value::Number(n))
            }
            Kind::Bool => text::parse_bool(s).map(Value::Bool).map_err(invalid),
            Kind::Text => {
                if let Some(known) = self.known_values() {
                    if !known.contains(&s) && !is_extension(s) {
                        return Err(NegotiationError::UnknownValue { key, value: s.to_owned() });
                    }
                }
                Ok(Value::Text(s.to_owned()))
            }
        }
    }

    /// Reads a whole list offer, checking every item.
    fn parse_offer_list(self, offered: &str) -> Result<Vec<&str>, NegotiationError> {
        let items = text::parse_list(offered);
        if items.is_empty() {
            return Err(NegotiationError::EmptyOffer { key: self.name() });
        }
        for item in &items {
            self.parse_value(item)?;
        }
        Ok(items)
    }

    fn parse_number(self, s: &str) -> Result<u64, NegotiationError> {
        match self.parse_value(s)? {
            Value::Number(n) => Ok(n),
            _ => Err(self.wrong_kind(Kind::Number)),
        }
    }

    fn parse_bool(self, s: &str) -> Result<bool, NegotiationError> {
        match self.parse_value(s)? {
            Value::Bool(b) => Ok(b),
            _ => Err(self.wrong_kind(Kind::Bool)),
        }
    }

    pub(crate) fn wrong_kind(self, found: Kind) -> NegotiationError {
        NegotiationError::WrongKind { key: self.name(), expected: self.kind(), found }
    }
}
