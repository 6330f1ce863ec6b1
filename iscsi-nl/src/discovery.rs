//! SendTargets discovery (RFC 7143 section 13.3 and appendix C) over a logged-in discovery
//! session, then its logout, as a pure state machine: PDUs in, PDUs out, no I/O.
//!
//! [`Discovery::new`] gives the Text Request `SendTargets=All`. Each Text Response goes to
//! [`Discovery::receive`]: while the answer is not final (F clear, or C set) the machine asks
//! for the rest with an empty Text Request echoing the target's Target Transfer Tag; once it
//! is final the text is parsed into [`DiscoveredTarget`]s. [`Discovery::logout`] then gives
//! the Logout Request, and the Logout Response closes the machine.
//!
//! ```
//! use iscsi_nl::discovery::parse_send_targets;
//!
//! let text = iscsi_nl::text::parse(b"TargetName=iqn.2024-01.org.example:disk\0TargetAddress=192.0.2.1:3260,1\0").unwrap();
//! let targets = parse_send_targets(&text).unwrap();
//! assert_eq!(targets[0].name, "iqn.2024-01.org.example:disk");
//! assert_eq!(targets[0].addresses, vec![("192.0.2.1".to_string(), 3260, 1)]);
//! ```

#[cfg(test)]
mod tests;

use crate::address::{AddressError, TargetAddress};
use crate::login::Session;
use crate::pdu::{
    LogoutReason, LogoutRequest, LogoutResponse, LogoutResponseCode, NopIn, NopOut, Opcode, Pdu,
    PduError, RESERVED_TAG, RejectReason, TextRequest, TextResponse,
};
use crate::text::{TextAssembler, TextError};

/// The portal group tag given to an address that names none (RFC 7143 requires one in
/// SendTargets answers; 1 is what targets use for their first portal group).
pub const DEFAULT_TPGT: u16 = 1;

/// The longest SendTargets answer accepted, in bytes.
pub const MAX_ANSWER_LEN: usize = 1 << 20;

/// The most Text Responses accepted for one answer.
pub const MAX_RESPONSES: u32 = 4096;

/// A target as SendTargets lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiscoveredTarget {
    /// The target's iSCSI name.
    pub name: String,
    /// Its portals: host (IPv6 without brackets), port and portal group tag. Empty when the
    /// target lists none: it is then reached through the portal that answered.
    pub addresses: Vec<(String, u16, u16)>,
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The answer's text is malformed or too long.
    #[error("malformed SendTargets answer: {0}")]
    Text(#[from] TextError),
    /// A TargetAddress could not be read.
    #[error("bad TargetAddress {value:?}: {source}")]
    Address {
        /// The value.
        value: String,
        /// What was wrong.
        source: AddressError,
    },
    /// A TargetAddress came before any TargetName.
    #[error("TargetAddress {0:?} before any TargetName")]
    AddressBeforeName(String),
    /// A response belongs to another task.
    #[error("response ITT {got:#x} is not ours ({expected:#x})")]
    IttMismatch {
        /// Our ITT.
        expected: u32,
        /// The response's.
        got: u32,
    },
    /// A response says more follows but gives no Target Transfer Tag to ask with.
    #[error("a partial answer without a Target Transfer Tag")]
    MissingTtt,
    /// The target rejected a request.
    #[error("the target rejected a request: {0:?}")]
    Rejected(RejectReason),
    /// A PDU that has no place here.
    #[error("unexpected {0:?} PDU")]
    UnexpectedPdu(Opcode),
    /// A hand-built PDU that is not valid.
    #[error(transparent)]
    Pdu(#[from] PduError),
    /// The target refused the logout.
    #[error("logout failed: {0:?}")]
    LogoutFailed(LogoutResponseCode),
    /// The answer took more responses than any target list needs.
    #[error("no final answer within {0} responses")]
    TooManyResponses(u32),
    /// `receive` was called after the exchange ended or failed.
    #[error("discovery is already over")]
    Finished,
}

/// What to do after a PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryStep {
    /// Send these PDUs (possibly none) and feed the answers to [`Discovery::receive`].
    Send(Vec<Pdu>),
    /// The SendTargets answer is complete. [`Discovery::logout`] ends the session.
    Targets(Vec<DiscoveredTarget>),
    /// The target confirmed the logout: close the connection (after `time2wait` seconds
    /// before reconnecting).
    Closed {
        /// Time2Wait from the Logout Response.
        time2wait: u16,
    },
}

/// Reads a SendTargets answer: each TargetName starts a target, the TargetAddress keys
/// after it are its portals. Other keys (TargetAlias...) are skipped.
pub fn parse_send_targets(
    pairs: &[(String, String)],
) -> Result<Vec<DiscoveredTarget>, DiscoveryError> {
    let mut targets: Vec<DiscoveredTarget> = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "TargetName" => {
                targets.push(DiscoveredTarget { name: value.clone(), addresses: Vec::new() })
            }
            "TargetAddress" => {
                let target = targets
                    .last_mut()
                    .ok_or_else(|| DiscoveryError::AddressBeforeName(value.clone()))?;
                let a: TargetAddress = value
                    .parse()
                    .map_err(|source| DiscoveryError::Address { value: value.clone(), source })?;
                target.addresses.push((a.host, a.port, a.tpgt.unwrap_or(DEFAULT_TPGT)));
            }
            _ => {}
        }
    }
    Ok(targets)
}

/// Where the exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (more of) the SendTargets answer.
    Querying,
    /// The answer is in.
    Listed,
    /// Logout sent.
    LoggingOut,
    /// Over (closed or failed).
    Over,
}

/// SendTargets over a discovery session, then logout: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Discovery {
    itt: u32,
    logout_itt: u32,
    cid: u16,
    cmd_sn: u32,
    exp_stat_sn: u32,
    exp_cmd_sn: u32,
    max_cmd_sn: u32,
    assembler: TextAssembler,
    responses: u32,
    state: State,
}

impl Discovery {
    /// Starts `SendTargets=All` on a logged-in session; returns the machine and the Text
    /// Request to send.
    pub fn new(session: &Session) -> (Discovery, Pdu) {
        Discovery::query(session, "All")
    }

    /// Starts a SendTargets with another value: a target name (that target's portals only),
    /// or the empty string (the session's own target, in a normal session).
    pub fn query(session: &Session, value: &str) -> (Discovery, Pdu) {
        let mut d = Discovery {
            itt: session.next_itt,
            logout_itt: session.next_itt.wrapping_add(1),
            cid: session.cid,
            cmd_sn: session.cmd_sn,
            exp_stat_sn: session.exp_stat_sn,
            exp_cmd_sn: session.exp_cmd_sn,
            max_cmd_sn: session.max_cmd_sn,
            assembler: TextAssembler::new(MAX_ANSWER_LEN),
            responses: 0,
            state: State::Querying,
        };
        let mut data = b"SendTargets=".to_vec();
        data.extend_from_slice(value.as_bytes());
        data.push(0);
        let pdu = d.text_request(data, RESERVED_TAG);
        (d, pdu)
    }

    /// The CmdSN of the next non-immediate command.
    pub fn cmd_sn(&self) -> u32 {
        self.cmd_sn
    }

    /// The ExpStatSN we send: one past the last StatSN received.
    pub fn exp_stat_sn(&self) -> u32 {
        self.exp_stat_sn
    }

    /// ExpCmdSN and MaxCmdSN, as the target last gave them.
    pub fn command_window(&self) -> (u32, u32) {
        (self.exp_cmd_sn, self.max_cmd_sn)
    }

    /// A non-immediate Text Request; it takes a CmdSN.
    fn text_request(&mut self, data: Vec<u8>, ttt: u32) -> Pdu {
        let pdu = Pdu::TextRequest(TextRequest {
            immediate: false,
            final_: true,
            cont: false,
            lun: 0,
            itt: self.itt,
            ttt,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
            data,
        });
        self.cmd_sn = self.cmd_sn.wrapping_add(1);
        pdu
    }

    /// The Logout Request closing the session (immediate: it takes no CmdSN). Any answer
    /// still being gathered is dropped.
    pub fn logout(&mut self) -> Pdu {
        self.state = State::LoggingOut;
        self.assembler.reset();
        Pdu::LogoutRequest(LogoutRequest {
            immediate: true,
            reason: LogoutReason::CloseSession,
            itt: self.logout_itt,
            cid: self.cid,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
        })
    }

    /// Takes the target's next PDU. An error ends the exchange.
    pub fn receive(&mut self, pdu: Pdu) -> Result<DiscoveryStep, DiscoveryError> {
        if self.state == State::Over {
            return Err(DiscoveryError::Finished);
        }
        let result = self.dispatch(pdu);
        if result.is_err() || matches!(result, Ok(DiscoveryStep::Closed { .. })) {
            self.state = State::Over;
        }
        result
    }

    fn dispatch(&mut self, pdu: Pdu) -> Result<DiscoveryStep, DiscoveryError> {
        match (pdu, self.state) {
            (Pdu::TextResponse(r), State::Querying) => self.on_text(r),
            (Pdu::LogoutResponse(r), State::LoggingOut) => self.on_logout(r),
            (Pdu::NopIn(nop), _) => Ok(self.on_nop(nop)),
            (Pdu::Reject(r), _) => Err(DiscoveryError::Rejected(r.reason)),
            (other, _) => Err(match other.opcode() {
                Ok(op) => DiscoveryError::UnexpectedPdu(op),
                Err(e) => DiscoveryError::Pdu(e),
            }),
        }
    }

    /// Records the sequence numbers of a target PDU.
    fn track(&mut self, stat_sn: u32, exp_cmd_sn: u32, max_cmd_sn: u32) {
        self.exp_stat_sn = stat_sn.wrapping_add(1);
        self.exp_cmd_sn = exp_cmd_sn;
        self.max_cmd_sn = max_cmd_sn;
    }

    fn on_text(&mut self, r: TextResponse) -> Result<DiscoveryStep, DiscoveryError> {
        self.responses += 1;
        if self.responses > MAX_RESPONSES {
            return Err(DiscoveryError::TooManyResponses(MAX_RESPONSES));
        }
        if r.itt != self.itt {
            return Err(DiscoveryError::IttMismatch { expected: self.itt, got: r.itt });
        }
        self.track(r.stat_sn, r.exp_cmd_sn, r.max_cmd_sn);
        let more = !r.final_ || r.cont;
        if more && r.ttt == RESERVED_TAG {
            return Err(DiscoveryError::MissingTtt);
        }
        // Partial answers are joined whole: C only says a pair is cut, F says more follows.
        match self.assembler.push(&r.data, more)? {
            None => Ok(DiscoveryStep::Send(vec![self.text_request(Vec::new(), r.ttt)])),
            Some(pairs) => {
                self.state = State::Listed;
                parse_send_targets(&pairs).map(DiscoveryStep::Targets)
            }
        }
    }

    fn on_logout(&mut self, r: LogoutResponse) -> Result<DiscoveryStep, DiscoveryError> {
        if r.itt != self.logout_itt {
            return Err(DiscoveryError::IttMismatch { expected: self.logout_itt, got: r.itt });
        }
        self.track(r.stat_sn, r.exp_cmd_sn, r.max_cmd_sn);
        match r.response {
            LogoutResponseCode::Success => Ok(DiscoveryStep::Closed { time2wait: r.time2wait }),
            code => Err(DiscoveryError::LogoutFailed(code)),
        }
    }

    /// A NOP-In asking for an answer (its TTT is not reserved) gets a NOP-Out echoing it
    /// (RFC 7143 11.19); others need nothing. An unsolicited NOP-In does not advance StatSN.
    fn on_nop(&mut self, nop: NopIn) -> DiscoveryStep {
        self.exp_cmd_sn = nop.exp_cmd_sn;
        self.max_cmd_sn = nop.max_cmd_sn;
        if nop.ttt == RESERVED_TAG {
            return DiscoveryStep::Send(Vec::new());
        }
        DiscoveryStep::Send(vec![Pdu::NopOut(NopOut {
            immediate: true,
            lun: nop.lun,
            itt: RESERVED_TAG,
            ttt: nop.ttt,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
            data: nop.data,
        })])
    }
}
