//! The parameters of a session and its connection: RFC 7143 defaults, then what login
//! negotiated.

use super::{Key, Kind, NegotiationError, Outcome, Response, Value, negotiate, respond};
use crate::pdu::{Digest, Digests};

/// SessionType (RFC 7143 13.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SessionType {
    /// A session to a target, for SCSI commands.
    #[default]
    Normal,
    /// A discovery session, for SendTargets.
    Discovery,
}

impl SessionType {
    /// The value as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::Normal => "Normal",
            SessionType::Discovery => "Discovery",
        }
    }
}

/// Session and connection parameters. [`Default`] gives the RFC 7143 defaults, which hold for
/// every key not negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// HeaderDigest.
    pub header_digest: Digest,
    /// DataDigest.
    pub data_digest: Digest,
    /// MaxConnections.
    pub max_connections: u16,
    /// InitialR2T.
    pub initial_r2t: bool,
    /// ImmediateData.
    pub immediate_data: bool,
    /// Our MaxRecvDataSegmentLength: the largest data segment the target may send us.
    pub max_recv_data_segment_length: u32,
    /// The target's MaxRecvDataSegmentLength: the largest data segment we may send it.
    pub target_max_recv_data_segment_length: u32,
    /// MaxBurstLength.
    pub max_burst_length: u32,
    /// FirstBurstLength.
    pub first_burst_length: u32,
    /// DefaultTime2Wait, seconds.
    pub default_time2wait: u16,
    /// DefaultTime2Retain, seconds.
    pub default_time2retain: u16,
    /// MaxOutstandingR2T.
    pub max_outstanding_r2t: u16,
    /// DataPDUInOrder.
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder.
    pub data_sequence_in_order: bool,
    /// ErrorRecoveryLevel.
    pub error_recovery_level: u8,
    /// SessionType.
    pub session_type: SessionType,
    /// AuthMethod, as chosen in the security stage (`None` unless negotiated).
    pub auth_method: String,
    /// InitiatorName, as declared.
    pub initiator_name: Option<String>,
    /// InitiatorAlias, as declared.
    pub initiator_alias: Option<String>,
    /// TargetName, as declared.
    pub target_name: Option<String>,
    /// TargetAlias, as the target declared it.
    pub target_alias: Option<String>,
    /// TargetPortalGroupTag, as the target declared it.
    pub target_portal_group_tag: Option<u16>,
}

impl Default for SessionParams {
    fn default() -> Self {
        SessionParams {
            header_digest: Digest::None,
            data_digest: Digest::None,
            max_connections: 1,
            initial_r2t: true,
            immediate_data: true,
            max_recv_data_segment_length: 8192,
            target_max_recv_data_segment_length: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            session_type: SessionType::Normal,
            auth_method: "None".into(),
            initiator_name: None,
            initiator_alias: None,
            target_name: None,
            target_alias: None,
            target_portal_group_tag: None,
        }
    }
}

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Number(_) => Kind::Number,
        Value::Bool(_) => Kind::Bool,
        Value::Text(_) => Kind::Text,
    }
}

impl SessionParams {
    /// Records the result of negotiating `key` (for declarative keys: the value we declared).
    ///
    /// The value is checked again (kind, range, known values), so a hand-made one cannot put
    /// the parameters out of range. SendTargets and TargetAddress are not parameters and are
    /// accepted without effect.
    pub fn apply(&mut self, key: Key, value: &Value) -> Result<(), NegotiationError> {
        if kind_of(value) != key.kind() {
            return Err(key.wrong_kind(kind_of(value)));
        }
        let text = match value {
            Value::Text(s) => s.clone(),
            other => other.to_string(),
        };
        // Re-parse the text form: one place checks range and known values.
        let checked = key.parse_value(&text)?;
        let num = |v: &Value| match v {
            Value::Number(n) => *n,
            _ => 0,
        };
        let n = num(&checked);
        // In-range values fit their fields; saturate rather than panic regardless.
        let n16 = u16::try_from(n).unwrap_or(u16::MAX);
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        let b = matches!(checked, Value::Bool(true));
        match key {
            Key::HeaderDigest => self.header_digest = digest(key, &text)?,
            Key::DataDigest => self.data_digest = digest(key, &text)?,
            Key::MaxConnections => self.max_connections = n16,
            Key::InitialR2T => self.initial_r2t = b,
            Key::ImmediateData => self.immediate_data = b,
            Key::MaxRecvDataSegmentLength => self.max_recv_data_segment_length = n32,
            Key::MaxBurstLength => self.max_burst_length = n32,
            Key::FirstBurstLength => self.first_burst_length = n32,
            Key::DefaultTime2Wait => self.default_time2wait = n16,
            Key::DefaultTime2Retain => self.default_time2retain = n16,
            Key::MaxOutstandingR2T => self.max_outstanding_r2t = n16,
            Key::DataPduInOrder => self.data_pdu_in_order = b,
            Key::DataSequenceInOrder => self.data_sequence_in_order = b,
            Key::ErrorRecoveryLevel => {
                self.error_recovery_level = u8::try_from(n).unwrap_or(u8::MAX)
            }
            Key::SessionType => {
                self.session_type =
                    if text == "Discovery" { SessionType::Discovery } else { SessionType::Normal }
            }
            Key::AuthMethod => self.auth_method = text,
            Key::InitiatorName => self.initiator_name = Some(text),
            Key::InitiatorAlias => self.initiator_alias = Some(text),
            Key::TargetName => self.target_name = Some(text),
            Key::TargetAlias => self.target_alias = Some(text),
            Key::TargetPortalGroupTag => self.target_portal_group_tag = Some(n16),
            Key::SendTargets | Key::TargetAddress => {}
        }
        Ok(())
    }

    /// Records a value the target declares. For MaxRecvDataSegmentLength that is the
    /// target's own limit (what we may send), not ours; other keys are as [`SessionParams::apply`].
    pub fn apply_peer_declaration(
        &mut self,
        key: Key,
        value: &str,
    ) -> Result<(), NegotiationError> {
        let v = key.parse_value(value)?;
        match (key, &v) {
            (Key::MaxRecvDataSegmentLength, Value::Number(n)) => {
                self.target_max_recv_data_segment_length = u32::try_from(*n).unwrap_or(u32::MAX);
                Ok(())
            }
            _ => self.apply(key, &v),
        }
    }

    /// [`negotiate`]s our offer against the target's answer and records an agreed value.
    /// Other outcomes leave the parameters as they are.
    pub fn negotiate(
        &mut self,
        key: Key,
        offered: &str,
        answer: Option<&str>,
    ) -> Result<Outcome, NegotiationError> {
        let outcome = negotiate(key, offered, answer)?;
        if let Outcome::Value(v) = &outcome {
            self.apply(key, v)?;
        }
        Ok(outcome)
    }

    /// [`respond`]s to a key the target offered and records the result (for a declaration,
    /// as [`SessionParams::apply_peer_declaration`]).
    pub fn respond(
        &mut self,
        key: Key,
        peer_offer: &str,
        ours: &str,
    ) -> Result<Response, NegotiationError> {
        let response = respond(key, peer_offer, ours)?;
        if let Outcome::Value(v) = &response.outcome {
            if response.answer.is_none() {
                self.apply_peer_declaration(key, &v.to_string())?;
            } else {
                self.apply(key, v)?;
            }
        }
        Ok(response)
    }

    /// Whether FirstBurstLength matters: not when InitialR2T=Yes and ImmediateData=No, as no
    /// unsolicited data is sent then (RFC 7143 13.14).
    pub fn first_burst_relevant(&self) -> bool {
        !self.initial_r2t || self.immediate_data
    }

    /// Checks the rules between keys once negotiation is over: FirstBurstLength must not
    /// exceed MaxBurstLength (RFC 7143 13.14), when it is relevant.
    pub fn validate(&self) -> Result<(), NegotiationError> {
        if self.first_burst_relevant() && self.first_burst_length > self.max_burst_length {
            return Err(NegotiationError::Inconsistent("FirstBurstLength exceeds MaxBurstLength"));
        }
        Ok(())
    }

    /// The digests of the Full Feature Phase.
    pub fn digests(&self) -> Digests {
        Digests { header: self.header_digest, data: self.data_digest }
    }
}

/// The digest a name stands for; extension digests are legal values but not ones this crate
/// computes.
fn digest(key: Key, name: &str) -> Result<Digest, NegotiationError> {
    match name {
        "CRC32C" => Ok(Digest::Crc32c),
        "None" => Ok(Digest::None),
        _ => Err(NegotiationError::UnknownValue { key: key.name(), value: name.to_owned() }),
    }
}
