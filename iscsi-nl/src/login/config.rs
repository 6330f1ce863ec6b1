//! What a login starts from ([`LoginConfig`]) and what it ends with ([`Session`]).

use crate::chap::Credentials;
use crate::keys::{Key, SessionParams, SessionType};
use crate::pdu::Digests;
use crate::text;

/// The session a login opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKind {
    /// A normal session to the target with this iSCSI name.
    Normal {
        /// TargetName.
        target_name: String,
    },
    /// A discovery session (SessionType=Discovery), for SendTargets.
    Discovery,
}

/// The initiator's login settings.
///
/// Secrets stay out of `Debug` output ([`Credentials`] redacts them).
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// InitiatorName.
    pub initiator_name: String,
    /// InitiatorAlias, if any.
    pub initiator_alias: Option<String>,
    /// The initiator part of the session identifier.
    pub isid: [u8; 6],
    /// Normal session to a target, or discovery.
    pub kind: SessionKind,
    /// CHAP credentials to authenticate ourselves; `None` logs in with AuthMethod=None.
    pub chap: Option<Credentials>,
    /// The credentials the target must prove (mutual CHAP); needs `chap`.
    pub mutual_chap: Option<Credentials>,
    /// The HeaderDigest offer: `None`, `CRC32C`, or a list such as `CRC32C,None`.
    pub header_digest: String,
    /// The DataDigest offer, as `header_digest`.
    pub data_digest: String,
    /// The operational offers: every negotiated key is offered with its value here (the RFC
    /// defaults unless changed), and `max_recv_data_segment_length` is declared as ours.
    /// Its digest fields are not used: the two strings above are the offers.
    pub offers: SessionParams,
    /// TSIH: 0 for a new session, the session's to add a connection or reinstate one.
    pub tsih: u16,
    /// The connection ID.
    pub cid: u16,
    /// The Initiator Task Tag of the login.
    pub itt: u32,
    /// The CmdSN the login carries (the session's first command uses it again).
    pub cmd_sn: u32,
    /// The largest data segment we send during login (the target's MaxRecvDataSegmentLength
    /// is 8192 until it declares another; longer texts go over several PDUs).
    pub max_send_segment: usize,
}

impl LoginConfig {
    /// A login with the RFC defaults, no authentication and no digests.
    pub fn new(initiator_name: impl Into<String>, isid: [u8; 6], kind: SessionKind) -> Self {
        LoginConfig {
            initiator_name: initiator_name.into(),
            initiator_alias: None,
            isid,
            kind,
            chap: None,
            mutual_chap: None,
            header_digest: "None".into(),
            data_digest: "None".into(),
            offers: SessionParams::default(),
            tsih: 0,
            cid: 0,
            itt: 0,
            cmd_sn: 0,
            max_send_segment: 8192,
        }
    }

    /// A normal session to `target_name`.
    pub fn normal(
        initiator_name: impl Into<String>,
        isid: [u8; 6],
        target_name: impl Into<String>,
    ) -> Self {
        let target_name = target_name.into();
        LoginConfig::new(initiator_name, isid, SessionKind::Normal { target_name })
    }

    /// A discovery session.
    pub fn discovery(initiator_name: impl Into<String>, isid: [u8; 6]) -> Self {
        LoginConfig::new(initiator_name, isid, SessionKind::Discovery)
    }

    /// The session type declared.
    pub fn session_type(&self) -> SessionType {
        match self.kind {
            SessionKind::Normal { .. } => SessionType::Normal,
            SessionKind::Discovery => SessionType::Discovery,
        }
    }

    /// The keys offered in the operational stage, in order. Discovery sessions offer only the
    /// keys that matter to them (RFC 7143 13: the others are Irrelevant there).
    pub(super) fn operational_keys(&self) -> &'static [Key] {
        match self.kind {
            SessionKind::Discovery => &[
                Key::HeaderDigest,
                Key::DataDigest,
                Key::DefaultTime2Wait,
                Key::DefaultTime2Retain,
            ],
            SessionKind::Normal { .. } => &[
                Key::HeaderDigest,
                Key::DataDigest,
                Key::MaxConnections,
                Key::InitialR2T,
                Key::ImmediateData,
                Key::MaxBurstLength,
                Key::FirstBurstLength,
                Key::DefaultTime2Wait,
                Key::DefaultTime2Retain,
                Key::MaxOutstandingR2T,
                Key::DataPduInOrder,
                Key::DataSequenceInOrder,
                Key::ErrorRecoveryLevel,
            ],
        }
    }

    /// Our value of a negotiated key: the offer we make, or the value we answer a target's
    /// offer with. `None` for keys we have no value for.
    pub(super) fn our_value(&self, key: Key) -> Option<String> {
        let p = &self.offers;
        let b = |v: bool| text::format_bool(v).to_owned();
        Some(match key {
            Key::HeaderDigest => self.header_digest.clone(),
            Key::DataDigest => self.data_digest.clone(),
            Key::MaxConnections => p.max_connections.to_string(),
            Key::InitialR2T => b(p.initial_r2t),
            Key::ImmediateData => b(p.immediate_data),
            Key::MaxRecvDataSegmentLength => p.max_recv_data_segment_length.to_string(),
            Key::MaxBurstLength => p.max_burst_length.to_string(),
            Key::FirstBurstLength => p.first_burst_length.to_string(),
            Key::DefaultTime2Wait => p.default_time2wait.to_string(),
            Key::DefaultTime2Retain => p.default_time2retain.to_string(),
            Key::MaxOutstandingR2T => p.max_outstanding_r2t.to_string(),
            Key::DataPduInOrder => b(p.data_pdu_in_order),
            Key::DataSequenceInOrder => b(p.data_sequence_in_order),
            Key::ErrorRecoveryLevel => p.error_recovery_level.to_string(),
            _ => return None,
        })
    }
}

/// A logged-in session (its first connection): what the Full Feature Phase starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The negotiated parameters.
    pub params: SessionParams,
    /// The initiator part of the session identifier.
    pub isid: [u8; 6],
    /// The target-assigned session handle.
    pub tsih: u16,
    /// The connection ID.
    pub cid: u16,
    /// The CmdSN of the next non-immediate command (the login's: login requests are
    /// immediate).
    pub cmd_sn: u32,
    /// The StatSN of the final login response.
    pub stat_sn: u32,
    /// The next StatSN expected: `stat_sn + 1`.
    pub exp_stat_sn: u32,
    /// ExpCmdSN from the final login response.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN from the final login response.
    pub max_cmd_sn: u32,
    /// The next free Initiator Task Tag (the login used the one before).
    pub next_itt: u32,
    /// The digests of the Full Feature Phase.
    pub digests: Digests,
}
