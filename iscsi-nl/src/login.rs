//! The initiator's login (RFC 7143 sections 6 and 7) as a pure state machine: it takes the
//! target's PDUs and returns the PDUs to send, with no I/O, sockets or clocks.
//!
//! [`Login::new`] gives the first Login Request; every Login Response then goes to
//! [`Login::receive`], which answers with a [`Step`]: PDUs to send, the finished [`Session`],
//! or a redirection to another portal. Failures are [`LoginError`]s; the target's refusals
//! are [`StatusError`]s ("authentication failed", "target not found"...).
//!
//! The stages:
//!
//! - Security: InitiatorName, SessionType, TargetName and AuthMethod (`None`, or `CHAP` when
//!   credentials are configured), then the CHAP exchange of [`crate::chap`], one-way or mutual.
//! - Operational: every negotiated key is offered with its rule (the values of
//!   [`LoginConfig::offers`]), the answers checked by [`crate::keys::negotiate`]; keys the target
//!   offers are answered by [`crate::keys::respond`]; declarations are recorded.
//! - The move to the Full Feature Phase (T bit, CSG/NSG), which returns the [`Session`].
//!
//! Texts may span PDUs both ways (the C bit): a response with C set is fetched whole with
//! empty requests before it is read, and a text of ours longer than
//! [`LoginConfig::max_send_segment`] goes over several requests, each acknowledged by an empty
//! response. All requests carry the login's ITT and CmdSN, and ExpStatSN one past the last
//! StatSN seen.
//!
//! ```
//! use iscsi_nl::chap::OsRandom;
//! use iscsi_nl::login::{Login, LoginConfig};
//! use iscsi_nl::pdu::{Pdu, Stage};
//!
//! let cfg = LoginConfig::normal("iqn.2024-01.org.example:host", [0x80, 0, 0, 0, 0, 1], "iqn.2024-01.org.example:disk");
//! let (_login, first) = Login::new(cfg, OsRandom).unwrap();
//! let Pdu::LoginRequest(req) = first else { unreachable!() };
//! assert_eq!((req.csg, req.nsg, req.transit), (Stage::SecurityNegotiation, Stage::LoginOperationalNegotiation, true));
//! assert!(String::from_utf8_lossy(&req.data).contains("AuthMethod=None"));
//! ```

mod config;
mod error;
#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;

pub use config::{LoginConfig, Session, SessionKind};
pub use error::{LoginError, StatusError};

use crate::address::TargetAddress;
use crate::chap::{ChallengeSource, ChapError, ChapInitiator};
use crate::keys::{Key, NegotiationError, Outcome, Rule, SessionParams};
use crate::pdu::{LoginRequest, LoginResponse, Pdu, Stage};
use crate::text::{self, Special, TextAssembler};

/// The most login responses accepted before giving up: far more than any negotiation
/// needs, even with texts cut into 512-byte segments.
pub const MAX_RESPONSES: u32 = 256;

/// What to do after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these PDUs (during login, always one) and feed the answer to
    /// [`Login::receive`].
    Send(Vec<Pdu>),
    /// The login succeeded: the connection is in the Full Feature Phase.
    Done(Box<Session>),
    /// The target sent us elsewhere (status class 1): close this connection and log in
    /// there.
    Redirect {
        /// The host to connect to (an IPv6 address without brackets).
        address: String,
        /// The port.
        port: u16,
        /// Whether the target moved for good (detail 0x02) or for now (0x01).
        permanent: bool,
    },
}

/// Where the security stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// AuthMethod offered.
    AwaitMethod,
    /// CHAP_A sent, waiting for the challenge.
    AwaitChallenge,
    /// CHAP response sent, waiting for the target's verdict (and mutual response).
    AwaitResult,
    /// Authentication over.
    Done,
}

/// The initiator's login: see the [module documentation](self).
pub struct Login {
    cfg: LoginConfig,
    rng: Box<dyn ChallengeSource + Send>,
    chap: Option<ChapInitiator>,
    params: SessionParams,
    stage: Stage,
    auth: Auth,
    /// Our offers not answered yet.
    pending: Vec<(Key, String)>,
    /// Keys settled: ours answered, the target's answered or recorded.
    settled: Vec<String>,
    /// Our text still being sent, its position, and the T bit and NSG of its last PDU.
    outgoing: Vec<u8>,
    out_pos: usize,
    out_transit: bool,
    out_nsg: Stage,
    /// The NSG of our last request, when it had T set.
    asked: Option<Stage>,
    assembler: TextAssembler,
    stat_sn: u32,
    exp_stat_sn: u32,
    exp_cmd_sn: u32,
    max_cmd_sn: u32,
    responses: u32,
    over: bool,
}

impl core::fmt::Debug for Login {
    /// Shows the state; credentials are redacted and the random source left out.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Login")
            .field("cfg", &self.cfg)
            .field("chap", &self.chap)
            .field("stage", &self.stage)
            .field("auth", &self.auth)
            .field("pending", &self.pending)
            .field("exp_stat_sn", &self.exp_stat_sn)
            .field("responses", &self.responses)
            .field("over", &self.over)
            .finish_non_exhaustive()
    }
}

fn pair(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

/// Checks one offer of ours: every list item, or the single value, must be legal.
fn check_offer(key: Key, value: &str) -> Result<(), NegotiationError> {
    if key.rule() == Rule::List {
        let items = text::parse_list(value);
        if items.is_empty() {
            return Err(NegotiationError::EmptyOffer { key: key.name() });
        }
        for item in items {
            key.parse_value(item)?;
        }
        Ok(())
    } else {
        key.parse_value(value).map(|_| ())
    }
}

impl Login {
    /// Starts a login: checks the configuration and returns the machine with the first Login
    /// Request to send. `rng` supplies the mutual CHAP challenge ([`crate::chap::OsRandom`]
    /// for real use).
    pub fn new(
        cfg: LoginConfig,
        rng: impl ChallengeSource + Send + 'static,
    ) -> Result<(Login, Pdu), LoginError> {
        if cfg.initiator_name.is_empty() {
            return Err(LoginError::Config("empty InitiatorName"));
        }
        if matches!(&cfg.kind, SessionKind::Normal { target_name } if target_name.is_empty()) {
            return Err(LoginError::Config("empty TargetName"));
        }
        if cfg.mutual_chap.is_some() && cfg.chap.is_none() {
            return Err(LoginError::Config("mutual CHAP needs initiator credentials"));
        }
        for key in cfg.operational_keys().iter().copied() {
            check_offer(key, &cfg.our_value(key).unwrap_or_default())?;
        }
        let chap = cfg
            .chap
            .clone()
            .map(|ours| ChapInitiator::new(ours, cfg.mutual_chap.clone()))
            .transpose()?;
        let mut params = SessionParams::default();
        let mut first = vec![pair("InitiatorName", cfg.initiator_name.clone())];
        if let Some(alias) = &cfg.initiator_alias {
            first.push(pair("InitiatorAlias", alias.clone()));
        }
        first.push(pair("SessionType", cfg.session_type().as_str()));
        if let SessionKind::Normal { target_name } = &cfg.kind {
            first.push(pair("TargetName", target_name.clone()));
        }
        for (k, v) in &first {
            if let Some(key) = Key::from_name(k) {
                params.apply(key, &key.parse_value(v)?)?;
            }
        }
        let mrdsl = Key::MaxRecvDataSegmentLength;
        let ours = cfg.offers.max_recv_data_segment_length.to_string();
        params.apply(mrdsl, &mrdsl.parse_value(&ours)?)?;
        let method = if chap.is_some() { "CHAP" } else { "None" };
        first.push(pair("AuthMethod", method));
        let mut login = Login {
            cfg,
            rng: Box::new(rng),
            chap,
            params,
            stage: Stage::SecurityNegotiation,
            auth: Auth::AwaitMethod,
            pending: vec![(Key::AuthMethod, method.to_owned())],
            settled: Vec::new(),
            outgoing: Vec::new(),
            out_pos: 0,
            out_transit: false,
            out_nsg: Stage::LoginOperationalNegotiation,
            asked: None,
            assembler: TextAssembler::default(),
            stat_sn: 0,
            exp_stat_sn: 0,
            exp_cmd_sn: 0,
            max_cmd_sn: 0,
            responses: 0,
            over: false,
        };
        // With CHAP the transit waits for the exchange; with None we are ready at once.
        let transit = login.chap.is_none();
        let pdu = login.send_text(&first, transit, Stage::LoginOperationalNegotiation)?;
        Ok((login, pdu))
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The parameters negotiated so far.
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// Whether the login is over (done, redirected or failed): `receive` accepts nothing more.
    pub fn is_over(&self) -> bool {
        self.over
    }

    /// Takes the target's next PDU. Any error ends the login (the connection should be
    /// closed); so do [`Step::Done`] and [`Step::Redirect`].
    pub fn receive(&mut self, pdu: Pdu) -> Result<Step, LoginError> {
        if self.over {
            return Err(LoginError::Finished);
        }
        let result = match pdu {
            Pdu::LoginResponse(resp) => self.on_response(resp),
            Pdu::Reject(r) => Err(LoginError::Rejected(r.reason)),
            other => Err(match other.opcode() {
                Ok(op) => LoginError::UnexpectedPdu(op),
                Err(e) => LoginError::Pdu(e),
            }),
        };
        if !matches!(result, Ok(Step::Send(_))) {
            self.over = true;
        }
        result
    }

    /// A Login Request of the current stage.
    fn request(&self, data: Vec<u8>, transit: bool, cont: bool) -> Pdu {
        Pdu::LoginRequest(LoginRequest {
            transit,
            cont,
            csg: self.stage,
            nsg: self.out_nsg,
            version_max: 0,
            version_min: 0,
            isid: self.cfg.isid,
            tsih: self.cfg.tsih,
            itt: self.cfg.itt,
            cid: self.cfg.cid,
            cmd_sn: self.cfg.cmd_sn,
            exp_stat_sn: self.exp_stat_sn,
            data,
        })
    }

    /// Starts sending a text; its last PDU carries `transit` and `nsg`.
    fn send_text(
        &mut self,
        pairs: &[(String, String)],
        transit: bool,
        nsg: Stage,
    ) -> Result<Pdu, LoginError> {
        self.outgoing = text::emit(pairs)?;
        self.out_pos = 0;
        self.out_transit = transit;
        self.out_nsg = nsg;
        Ok(self.next_chunk())
    }

    /// The next PDU of the text being sent.
    fn next_chunk(&mut self) -> Pdu {
        let max = self.cfg.max_send_segment.max(1);
        let end = self.outgoing.len().min(self.out_pos.saturating_add(max));
        let data = self.outgoing.get(self.out_pos..end).unwrap_or(&[]).to_vec();
        self.out_pos = end;
        let cont = end < self.outgoing.len();
        if !cont {
            self.outgoing.clear();
            self.out_pos = 0;
        }
        let transit = !cont && self.out_transit;
        self.asked = transit.then_some(self.out_nsg);
        self.request(data, transit, cont)
    }

    fn send(&mut self, pairs: &[(String, String)], transit: bool) -> Result<Step, LoginError> {
        let nsg = match self.stage {
            Stage::SecurityNegotiation => Stage::LoginOperationalNegotiation,
            _ => Stage::FullFeaturePhase,
        };
        Ok(Step::Send(vec![self.send_text(pairs, transit, nsg)?]))
    }
}

impl Login {
    fn on_response(&mut self, resp: LoginResponse) -> Result<Step, LoginError> {
        self.responses += 1;
        if self.responses > MAX_RESPONSES {
            return Err(LoginError::TooManyRounds(MAX_RESPONSES));
        }
        if resp.itt != self.cfg.itt {
            return Err(LoginError::IttMismatch { expected: self.cfg.itt, got: resp.itt });
        }
        match (resp.status_class, resp.status_detail) {
            (0, _) => {}
            (1, 1 | 2) => return redirect(&resp),
            (class, detail) => return Err(StatusError::from_status(class, detail).into()),
        }
        if resp.version_active != 0 {
            return Err(LoginError::VersionMismatch(resp.version_active));
        }
        if resp.isid != self.cfg.isid {
            return Err(LoginError::IsidMismatch(resp.isid));
        }
        self.stat_sn = resp.stat_sn;
        self.exp_stat_sn = resp.stat_sn.wrapping_add(1);
        self.exp_cmd_sn = resp.exp_cmd_sn;
        self.max_cmd_sn = resp.max_cmd_sn;
        if resp.csg != self.stage {
            return Err(LoginError::StageMismatch { expected: self.stage, got: resp.csg });
        }
        if resp.transit {
            let later = |a: Stage, b: Stage| (a as u8) > (b as u8);
            match self.asked {
                Some(asked) if later(resp.nsg, self.stage) && !later(resp.nsg, asked) => {}
                asked => {
                    return Err(LoginError::BadTransition { asked, got: resp.nsg });
                }
            }
        }
        if !self.outgoing.is_empty() {
            // The target acknowledges a part of our text: it must say nothing yet.
            if !resp.data.is_empty() || resp.cont || resp.transit {
                return Err(LoginError::TextInterrupted);
            }
            return Ok(Step::Send(vec![self.next_chunk()]));
        }
        let Some(pairs) = self.assembler.push(&resp.data, resp.cont)? else {
            // More of the target's text to come: ask for it with an empty request.
            self.asked = None;
            return Ok(Step::Send(vec![self.request(Vec::new(), false, false)]));
        };
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(other, _)| other == k) {
                return Err(LoginError::DuplicateKey(k.clone()));
            }
        }
        let (answers, chap) = self.absorb(pairs)?;
        let transit = resp.transit;
        match self.stage {
            Stage::SecurityNegotiation => self.security(transit, answers, chap),
            Stage::LoginOperationalNegotiation if transit => self.finish(&resp, &answers),
            Stage::LoginOperationalNegotiation => self.send(&answers, true),
            Stage::FullFeaturePhase => Err(LoginError::Finished),
        }
    }

    /// Takes in the target's pairs: answers to our offers are negotiated, its declarations
    /// recorded, its offers answered. Returns our answers and the CHAP pairs.
    #[allow(clippy::type_complexity)]
    fn absorb(
        &mut self,
        pairs: Vec<(String, String)>,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), LoginError> {
        let mut answers = Vec::new();
        let mut chap = Vec::new();
        for (k, v) in pairs {
            if k.starts_with("CHAP_") {
                chap.push((k, v));
                continue;
            }
            if let Some(i) = self.pending.iter().position(|(key, _)| key.name() == k) {
                let (key, offered) = self.pending.remove(i);
                let outcome = self.params.negotiate(key, &offered, Some(&v))?;
                if key == Key::AuthMethod && !matches!(outcome, Outcome::Value(_)) {
                    return Err(LoginError::AuthMethodRefused { offered, answer: v });
                }
                self.settled.push(k);
                continue;
            }
            if self.settled.contains(&k) {
                return Err(LoginError::DuplicateKey(k));
            }
            match Key::from_name(&k) {
                Some(key) if key.rule() == Rule::Declarative => {
                    // A special value here answers one of our declarations: nothing to do.
                    let from_target = matches!(
                        key,
                        Key::TargetAlias
                            | Key::TargetPortalGroupTag
                            | Key::TargetAddress
                            | Key::TargetName
                            | Key::MaxRecvDataSegmentLength
                    );
                    if from_target && Special::parse(&v).is_none() {
                        self.params.apply_peer_declaration(key, &v)?;
                    }
                }
                Some(key) => {
                    let answer = match self.cfg.our_value(key) {
                        // A malformed or out-of-range offer is answered Reject (RFC 7143 6.2).
                        Some(ours) => match self.params.respond(key, &v, &ours) {
                            Ok(r) => r.answer,
                            Err(_) => Some(Special::Reject.as_str().to_owned()),
                        },
                        None => Some(Special::Reject.as_str().to_owned()),
                    };
                    if let Some(a) = answer {
                        answers.push(pair(&k, a));
                    }
                }
                None if Special::parse(&v).is_none() => {
                    answers.push(pair(&k, Special::NotUnderstood.as_str()));
                }
                None => {}
            }
            self.settled.push(k);
        }
        Ok((answers, chap))
    }

    fn security(
        &mut self,
        transit: bool,
        mut answers: Vec<(String, String)>,
        chap_pairs: Vec<(String, String)>,
    ) -> Result<Step, LoginError> {
        let out_of_order = |what| LoginError::Chap(ChapError::OutOfOrder(what));
        match (self.auth, self.chap.as_mut()) {
            (Auth::AwaitMethod, _) if !chap_pairs.is_empty() => {
                return Err(out_of_order("CHAP keys before AuthMethod=CHAP"));
            }
            (Auth::AwaitMethod, chap) => {
                if self.pending.iter().any(|(k, _)| *k == Key::AuthMethod) {
                    if transit {
                        let key = Key::AuthMethod.name();
                        return Err(NegotiationError::NotAnswered { key }.into());
                    }
                    let ready = chap.is_none();
                    return self.send(&answers, ready);
                }
                if let Some(chap) = chap {
                    // AuthMethod=CHAP agreed (it was the only offer).
                    answers.extend(chap.offer());
                    self.auth = Auth::AwaitChallenge;
                    return self.send(&answers, false);
                }
                self.auth = Auth::Done;
            }
            (Auth::AwaitChallenge, Some(chap)) => {
                let reply = chap.on_challenge(&chap_pairs, &mut *self.rng)?;
                answers.extend(reply);
                self.auth = Auth::AwaitResult;
                return self.send(&answers, true);
            }
            (Auth::AwaitResult, Some(chap)) => {
                if chap.awaits_target_response() {
                    chap.on_target_response(&chap_pairs)?;
                } else if !chap_pairs.is_empty() {
                    return Err(out_of_order("CHAP keys after the exchange"));
                }
                self.auth = Auth::Done;
            }
            (Auth::Done, _) if !chap_pairs.is_empty() => {
                return Err(out_of_order("CHAP keys after the exchange"));
            }
            (Auth::Done, _) => {}
            (_, None) => return Err(out_of_order("CHAP without credentials")),
        }
        if !transit {
            return self.send(&answers, true);
        }
        if let Some((k, _)) = answers.first() {
            return Err(LoginError::OfferOnTransit(k.clone()));
        }
        self.enter_operational()
    }

    /// Moves to the operational stage and offers every key there.
    fn enter_operational(&mut self) -> Result<Step, LoginError> {
        self.stage = Stage::LoginOperationalNegotiation;
        self.assembler.reset();
        let mut pairs = Vec::new();
        for key in self.cfg.operational_keys().iter().copied() {
            if self.settled.iter().any(|k| k == key.name()) {
                continue;
            }
            let value = self.cfg.our_value(key).unwrap_or_default();
            pairs.push(pair(key.name(), value.clone()));
            self.pending.push((key, value));
        }
        let mrdsl = self.cfg.offers.max_recv_data_segment_length.to_string();
        pairs.push(pair(Key::MaxRecvDataSegmentLength.name(), mrdsl));
        self.send(&pairs, true)
    }

    /// The target moved to the Full Feature Phase: settle what is left and hand over.
    fn finish(
        &mut self,
        resp: &LoginResponse,
        answers: &[(String, String)],
    ) -> Result<Step, LoginError> {
        if let Some((k, _)) = answers.first() {
            return Err(LoginError::OfferOnTransit(k.clone()));
        }
        for (key, offered) in core::mem::take(&mut self.pending) {
            // Unanswered keys: only OR offered Yes and AND offered No need no answer.
            self.params.negotiate(key, &offered, None)?;
        }
        self.params.validate()?;
        if resp.tsih == 0 || (self.cfg.tsih != 0 && resp.tsih != self.cfg.tsih) {
            return Err(LoginError::BadTsih { expected: self.cfg.tsih, got: resp.tsih });
        }
        self.stage = Stage::FullFeaturePhase;
        Ok(Step::Done(Box::new(Session {
            params: self.params.clone(),
            isid: self.cfg.isid,
            tsih: resp.tsih,
            cid: self.cfg.cid,
            cmd_sn: self.cfg.cmd_sn,
            stat_sn: self.stat_sn,
            exp_stat_sn: self.exp_stat_sn,
            exp_cmd_sn: self.exp_cmd_sn,
            max_cmd_sn: self.max_cmd_sn,
            next_itt: self.cfg.itt.wrapping_add(1),
            digests: self.params.digests(),
        })))
    }
}

/// Reads a redirection's TargetAddress.
fn redirect(resp: &LoginResponse) -> Result<Step, LoginError> {
    let bad = |why: String| LoginError::BadRedirect(why);
    let pairs = text::parse(&resp.data).map_err(|e| bad(e.to_string()))?;
    let value = text::get(&pairs, Key::TargetAddress.name())
        .ok_or_else(|| bad("no TargetAddress".into()))?;
    let address: TargetAddress = value.parse().map_err(|e| bad(format!("{e}")))?;
    Ok(Step::Redirect {
        address: address.host,
        port: address.port,
        permanent: resp.status_detail == 2,
    })
}
