//! Login tests: the machine against the simulated target of `sim.rs`, no network.

use super::sim::SimTarget;
use super::*;
use crate::chap::{ChapError, Credentials};
use crate::keys::SessionType;
use crate::pdu::{Digest, NopIn, Reject, RejectReason};

/// A deterministic challenge source.
struct Fixed(u8);

impl ChallengeSource for Fixed {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChapError> {
        buf.fill(self.0);
        Ok(())
    }
}

const INI: &str = "iqn.2024-01.org.example:ini";
const TGT: &str = "iqn.2024-01.org.example:disk";
const ISID: [u8; 6] = [0x80, 0x12, 0x34, 0x56, 0, 1];

fn cfg() -> LoginConfig {
    let mut c = LoginConfig::normal(INI, ISID, TGT);
    c.itt = 5;
    c.cmd_sn = 42;
    c.cid = 3;
    c
}

fn ini_creds() -> Credentials {
    Credentials::new("ini-user", "ini-secret-0123")
}

fn tgt_creds() -> Credentials {
    Credentials::new("tgt-user", "tgt-secret-4567")
}

/// Runs a login against the target until it ends; also returns how many PDUs we sent.
fn drive(cfg: LoginConfig, target: &mut SimTarget) -> (Result<Step, LoginError>, usize) {
    let (mut login, mut pdu) = Login::new(cfg, Fixed(0x3c)).unwrap();
    for sent in 1..100 {
        let reply = target.handle(&pdu);
        match login.receive(reply) {
            Ok(Step::Send(mut pdus)) => {
                assert_eq!(pdus.len(), 1);
                pdu = pdus.remove(0);
            }
            other => {
                assert!(login.is_over());
                assert_eq!(login.receive(Pdu::NopIn(NopIn::default())), Err(LoginError::Finished));
                return (other, sent);
            }
        }
    }
    panic!("login did not end");
}

fn session(cfg: LoginConfig, target: &mut SimTarget) -> Session {
    match drive(cfg, target).0 {
        Ok(Step::Done(s)) => *s,
        other => panic!("login failed: {other:?}"),
    }
}

fn received<'a>(target: &'a SimTarget, key: &str) -> Option<&'a str> {
    text::get(&target.received, key)
}

#[test]
fn no_authentication() {
    let mut target = SimTarget::new(TGT);
    let s = session(cfg(), &mut target);
    assert_eq!(s.tsih, 0x1234);
    assert_eq!((s.isid, s.cid, s.cmd_sn, s.next_itt), (ISID, 3, 42, 6));
    assert_eq!(s.exp_stat_sn, s.stat_sn + 1);
    assert_eq!((s.exp_cmd_sn, s.max_cmd_sn), (42, 42 + 31));
    assert_eq!(s.params.max_burst_length, 131_072);
    assert_eq!(s.params.target_max_recv_data_segment_length, 65_536);
    assert_eq!(s.params.max_recv_data_segment_length, 8192);
    assert_eq!(s.params.target_portal_group_tag, Some(1));
    assert_eq!(s.params.target_alias.as_deref(), Some("sim disk"));
    assert_eq!(s.params.target_name.as_deref(), Some(TGT));
    assert_eq!(s.params.session_type, SessionType::Normal);
    assert_eq!(s.params.auth_method, "None");
    assert_eq!(s.digests, crate::pdu::Digests::NONE);
    for (key, value) in [
        ("InitiatorName", INI),
        ("TargetName", TGT),
        ("SessionType", "Normal"),
        ("AuthMethod", "None"),
        ("MaxBurstLength", "262144"),
        ("ErrorRecoveryLevel", "0"),
        ("MaxRecvDataSegmentLength", "8192"),
        ("DataSequenceInOrder", "Yes"),
    ] {
        assert_eq!(received(&target, key), Some(value), "{key}");
    }
}

#[test]
fn the_first_request() {
    let (login, pdu) = Login::new(cfg(), Fixed(0)).unwrap();
    let Pdu::LoginRequest(req) = pdu else { panic!() };
    assert!(req.transit && !req.cont);
    assert_eq!(
        (req.csg, req.nsg),
        (Stage::SecurityNegotiation, Stage::LoginOperationalNegotiation)
    );
    assert_eq!((req.itt, req.cmd_sn, req.cid, req.tsih, req.isid), (5, 42, 3, 0, ISID));
    assert_eq!(login.stage(), Stage::SecurityNegotiation);
    assert_eq!(login.params().initiator_name.as_deref(), Some(INI));
}

#[test]
fn chap_one_way() {
    let mut target = SimTarget::new(TGT);
    target.chap = Some(ini_creds());
    let mut c = cfg();
    c.chap = Some(ini_creds());
    let (result, sent) = drive(c, &mut target);
    let Ok(Step::Done(s)) = result else { panic!("{result:?}") };
    assert_eq!(s.params.auth_method, "CHAP");
    // AuthMethod, CHAP_A, CHAP_R, the operational offers.
    assert_eq!(sent, 4);
    assert_eq!(received(&target, "CHAP_N"), Some("ini-user"));
    assert_eq!(received(&target, "CHAP_I"), None);
}

#[test]
fn chap_mutual() {
    let mut target = SimTarget::new(TGT);
    target.chap = Some(ini_creds());
    target.own = Some(tgt_creds());
    let mut c = cfg();
    c.chap = Some(ini_creds());
    c.mutual_chap = Some(tgt_creds());
    let s = session(c, &mut target);
    assert_eq!(s.params.auth_method, "CHAP");
    assert_eq!(received(&target, "CHAP_I"), Some("60"));
}

#[test]
fn chap_wrong_secret() {
    let mut target = SimTarget::new(TGT);
    target.chap = Some(ini_creds());
    let mut c = cfg();
    c.chap = Some(Credentials::new("ini-user", "not-the-secret"));
    let err = drive(c, &mut target).0.unwrap_err();
    assert_eq!(err, LoginError::Status(StatusError::AuthenticationFailed));
    assert_eq!(err.to_string(), "authentication failed");
}

#[test]
fn chap_required_but_not_configured() {
    let mut target = SimTarget::new(TGT);
    target.chap = Some(ini_creds());
    let err = drive(cfg(), &mut target).0.unwrap_err();
    assert_eq!(err, LoginError::Status(StatusError::AuthenticationFailed));
}

#[test]
fn chap_impostor_target() {
    let mut target = SimTarget::new(TGT);
    target.chap = Some(ini_creds());
    target.own = Some(Credentials::new("tgt-user", "guessed-secret"));
    let mut c = cfg();
    c.chap = Some(ini_creds());
    c.mutual_chap = Some(tgt_creds());
    let err = drive(c, &mut target).0.unwrap_err();
    assert_eq!(err, LoginError::Chap(ChapError::TargetAuthenticationFailed));
}

#[test]
fn unknown_target() {
    let mut target = SimTarget::new("iqn.2024-01.org.example:other");
    let err = drive(cfg(), &mut target).0.unwrap_err();
    assert_eq!(err, LoginError::Status(StatusError::NotFound));
    assert_eq!(err.to_string(), "target not found");
}

#[test]
fn redirection() {
    let mut target = SimTarget::new(TGT);
    target.redirect = Some((1, "[2001:db8::5]:3261,2".into()));
    let step = drive(cfg(), &mut target).0.unwrap();
    assert_eq!(
        step,
        Step::Redirect { address: "2001:db8::5".into(), port: 3261, permanent: false }
    );
    target.redirect = Some((2, "192.0.2.9".into()));
    let mut target2 = SimTarget::new(TGT);
    target2.redirect = target.redirect.clone();
    let step = drive(cfg(), &mut target2).0.unwrap();
    assert_eq!(step, Step::Redirect { address: "192.0.2.9".into(), port: 3260, permanent: true });
    let mut target3 = SimTarget::new(TGT);
    target3.redirect = Some((1, "[::1".into()));
    assert!(matches!(drive(cfg(), &mut target3).0, Err(LoginError::BadRedirect(_))));
}

#[test]
fn target_answers_across_two_pdus() {
    let mut target = SimTarget::new(TGT);
    target.split = true;
    let (result, sent) = drive(cfg(), &mut target);
    let Ok(Step::Done(s)) = result else { panic!("{result:?}") };
    assert_eq!(s.params.max_burst_length, 131_072);
    // Security, offers, the empty fetch, then the transit the fetch could not carry.
    assert_eq!(sent, 4);
}

#[test]
fn our_text_across_several_pdus() {
    let mut target = SimTarget::new(TGT);
    let mut c = cfg();
    c.max_send_segment = 48;
    c.initiator_alias = Some("a rather long alias to make the first text longer".into());
    let (result, sent) = drive(c, &mut target);
    let Ok(Step::Done(s)) = result else { panic!("{result:?}") };
    assert!(sent > 8, "{sent}");
    assert_eq!(
        s.params.initiator_alias.as_deref(),
        Some("a rather long alias to make the first text longer")
    );
    assert_eq!(received(&target, "ErrorRecoveryLevel"), Some("0"));
}

#[test]
fn both_directions_split() {
    let mut target = SimTarget::new(TGT);
    target.split = true;
    let mut c = cfg();
    c.max_send_segment = 100;
    assert!(matches!(drive(c, &mut target).0, Ok(Step::Done(_))));
}

#[test]
fn digests_negotiated() {
    let mut target = SimTarget::new(TGT);
    target.pref("HeaderDigest", "CRC32C").pref("DataDigest", "None");
    let mut c = cfg();
    c.header_digest = "CRC32C,None".into();
    c.data_digest = "CRC32C,None".into();
    let s = session(c, &mut target);
    assert_eq!((s.digests.header, s.digests.data), (Digest::Crc32c, Digest::None));
    assert_eq!(received(&target, "HeaderDigest"), Some("CRC32C,None"));
}

#[test]
fn out_of_range_answer_is_an_error() {
    let mut target = SimTarget::new(TGT);
    target.overrides.push(("MaxBurstLength", "16777216".into()));
    let err = drive(cfg(), &mut target).0.unwrap_err();
    assert!(
        matches!(
            err,
            LoginError::Negotiation(NegotiationError::OutOfRange { key: "MaxBurstLength", .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("MaxBurstLength"));

    let mut target = SimTarget::new(TGT);
    target.overrides.push(("MaxBurstLength", "300000".into()));
    let err = drive(cfg(), &mut target).0.unwrap_err();
    assert!(matches!(err, LoginError::Negotiation(NegotiationError::AboveOffer { .. })));

    let mut target = SimTarget::new(TGT);
    target.overrides.push(("HeaderDigest", "CRC32C".into()));
    let err = drive(cfg(), &mut target).0.unwrap_err();
    assert!(matches!(err, LoginError::Negotiation(NegotiationError::NotInOffer { .. })));
}

#[test]
fn rejected_and_irrelevant_answers_keep_defaults() {
    let mut target = SimTarget::new(TGT);
    target.overrides.push(("MaxBurstLength", "Reject".into()));
    target.overrides.push(("MaxConnections", "Irrelevant".into()));
    let mut c = cfg();
    c.offers.max_burst_length = 65_536;
    let s = session(c, &mut target);
    assert_eq!(s.params.max_burst_length, 262_144);
    assert_eq!(s.params.max_connections, 1);
}

#[test]
fn discovery_session_and_target_offers() {
    let mut target = SimTarget::new(TGT);
    target.offers = vec![
        ("MaxBurstLength".into(), "65536".into()),
        ("X-com.example.feature".into(), "on".into()),
        ("FirstBurstLength".into(), "12".into()),
    ];
    let c = LoginConfig::discovery(INI, ISID);
    let s = session(c, &mut target);
    assert_eq!(s.params.session_type, SessionType::Discovery);
    assert_eq!(s.params.max_burst_length, 65_536);
    assert_eq!(received(&target, "SessionType"), Some("Discovery"));
    assert_eq!(received(&target, "TargetName"), None);
    assert_eq!(received(&target, "ErrorRecoveryLevel"), None);
    // Our answers to the target's offers.
    assert_eq!(received(&target, "MaxBurstLength"), Some("65536"));
    assert_eq!(received(&target, "X-com.example.feature"), Some("NotUnderstood"));
    assert_eq!(received(&target, "FirstBurstLength"), Some("Reject"));
}

/// A login that has sent its first request, and a response to start from.
fn started() -> (Login, LoginResponse) {
    let (login, _) = Login::new(cfg(), Fixed(0)).unwrap();
    let resp = LoginResponse {
        transit: true,
        csg: Stage::SecurityNegotiation,
        nsg: Stage::LoginOperationalNegotiation,
        isid: ISID,
        itt: 5,
        data: b"AuthMethod=None\0".to_vec(),
        ..LoginResponse::default()
    };
    (login, resp)
}

fn first_error(edit: impl FnOnce(&mut LoginResponse)) -> LoginError {
    let (mut login, mut resp) = started();
    edit(&mut resp);
    let err = login.receive(Pdu::LoginResponse(resp)).unwrap_err();
    assert!(login.is_over());
    err
}

#[test]
fn every_status_is_a_readable_error() {
    let cases: [((u8, u8), StatusError, &str); 16] = [
        ((1, 3), StatusError::Redirection(3), "redirected"),
        ((2, 0), StatusError::InitiatorError, "initiator error"),
        ((2, 1), StatusError::AuthenticationFailed, "authentication failed"),
        ((2, 2), StatusError::AuthorizationFailed, "authorization failed"),
        ((2, 3), StatusError::NotFound, "target not found"),
        ((2, 4), StatusError::TargetRemoved, "target removed"),
        ((2, 5), StatusError::UnsupportedVersion, "unsupported iSCSI version"),
        ((2, 6), StatusError::TooManyConnections, "too many connections"),
        ((2, 7), StatusError::MissingParameter, "missing parameter"),
        ((2, 8), StatusError::CantIncludeInSession, "cannot include"),
        ((2, 9), StatusError::SessionTypeNotSupported, "session type not supported"),
        ((2, 10), StatusError::SessionDoesNotExist, "session does not exist"),
        ((2, 11), StatusError::InvalidDuringLogin, "invalid request during login"),
        ((3, 0), StatusError::TargetError, "target error"),
        ((3, 1), StatusError::ServiceUnavailable, "service unavailable"),
        ((3, 2), StatusError::OutOfResources, "out of resources"),
    ];
    for ((class, detail), expected, words) in cases {
        assert_eq!(StatusError::from_status(class, detail), expected);
        assert_eq!(expected.code(), (class, detail));
        let err = first_error(|r| (r.status_class, r.status_detail) = (class, detail));
        assert_eq!(err, LoginError::Status(expected));
        assert!(err.to_string().contains(words), "{err}");
    }
    let unknown = StatusError::from_status(2, 0x40);
    assert_eq!(unknown, StatusError::Unknown { class: 2, detail: 0x40 });
    assert_eq!(unknown.code(), (2, 0x40));
    assert!(StatusError::ServiceUnavailable.is_transient());
    assert!(!StatusError::NotFound.is_transient());
}

#[test]
fn protocol_violations() {
    assert_eq!(first_error(|r| r.itt = 6), LoginError::IttMismatch { expected: 5, got: 6 });
    assert!(matches!(first_error(|r| r.isid[0] = 0), LoginError::IsidMismatch(_)));
    assert_eq!(first_error(|r| r.version_active = 1), LoginError::VersionMismatch(1));
    assert!(matches!(
        first_error(|r| r.csg = Stage::LoginOperationalNegotiation),
        LoginError::StageMismatch { .. }
    ));
    assert!(matches!(
        first_error(|r| r.nsg = Stage::FullFeaturePhase),
        LoginError::BadTransition { .. }
    ));
    assert_eq!(
        first_error(|r| r.data = b"AuthMethod=None\0AuthMethod=None\0".to_vec()),
        LoginError::DuplicateKey("AuthMethod".into())
    );
    assert!(matches!(
        first_error(|r| r.data = b"AuthMethod=CHAP\0".to_vec()),
        LoginError::Negotiation(NegotiationError::NotInOffer { .. })
    ));
    assert!(matches!(
        first_error(|r| r.data = b"AuthMethod=Reject\0".to_vec()),
        LoginError::AuthMethodRefused { .. }
    ));
    assert!(matches!(first_error(|r| r.data = b"TargetAlias=x".to_vec()), LoginError::Text(_)));
    assert!(matches!(
        first_error(|r| r.data = b"CHAP_C=0x01\0".to_vec()),
        LoginError::Chap(ChapError::OutOfOrder(_))
    ));
    assert!(matches!(
        first_error(|r| r.data = b"TargetPortalGroupTag=70000\0AuthMethod=None\0".to_vec()),
        LoginError::Negotiation(NegotiationError::OutOfRange { .. })
    ));
    assert!(matches!(
        first_error(|r| r.data.clear()),
        LoginError::Negotiation(NegotiationError::NotAnswered { key: "AuthMethod" })
    ));
    assert!(matches!(
        first_error(|r| (r.status_class, r.status_detail, r.data) = (1, 1, Vec::new())),
        LoginError::BadRedirect(_)
    ));
}

#[test]
fn other_pdus_end_the_login() {
    let (mut login, _) = started();
    let reject = Reject { reason: RejectReason::ProtocolError, ..Reject::default() };
    assert_eq!(
        login.receive(Pdu::Reject(reject)),
        Err(LoginError::Rejected(RejectReason::ProtocolError))
    );
    let (mut login, _) = started();
    assert_eq!(
        login.receive(Pdu::NopIn(NopIn::default())),
        Err(LoginError::UnexpectedPdu(crate::pdu::Opcode::NopIn))
    );
    assert_eq!(login.receive(Pdu::NopIn(NopIn::default())), Err(LoginError::Finished));
}

#[test]
fn zero_tsih_is_refused() {
    let mut target = SimTarget::new(TGT);
    target.tsih = 0;
    assert!(matches!(
        drive(cfg(), &mut target).0,
        Err(LoginError::BadTsih { expected: 0, got: 0 })
    ));
}

#[test]
fn a_target_that_never_finishes() {
    let (mut login, _) = started();
    let mut resp = started().1;
    resp.transit = false;
    resp.data.clear();
    let mut result = login.receive(Pdu::LoginResponse(resp.clone()));
    resp.data.clear();
    for _ in 0..MAX_RESPONSES {
        result = login.receive(Pdu::LoginResponse(resp.clone()));
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(LoginError::TooManyRounds(_)) | Err(LoginError::Negotiation(_))));
}

#[test]
fn configuration_errors() {
    let mut c = cfg();
    c.initiator_name.clear();
    assert!(matches!(Login::new(c, Fixed(0)), Err(LoginError::Config(_))));
    let mut c = cfg();
    c.mutual_chap = Some(tgt_creds());
    assert!(matches!(Login::new(c, Fixed(0)), Err(LoginError::Config(_))));
    let mut c = cfg();
    c.header_digest = "MD5".into();
    assert!(matches!(Login::new(c, Fixed(0)), Err(LoginError::Negotiation(_))));
    let mut c = cfg();
    c.offers.max_burst_length = 100;
    assert!(matches!(Login::new(c, Fixed(0)), Err(LoginError::Negotiation(_))));
    let mut c = cfg();
    c.chap = Some(Credentials::new("u", "same"));
    c.mutual_chap = Some(Credentials::new("t", "same"));
    assert_eq!(Login::new(c, Fixed(0)).err(), Some(LoginError::Chap(ChapError::SameSecret)));
}

#[test]
fn secrets_stay_out_of_debug() {
    let mut c = cfg();
    c.chap = Some(ini_creds());
    c.mutual_chap = Some(tgt_creds());
    let (login, _) = Login::new(c, Fixed(0)).unwrap();
    let shown = format!("{login:?}");
    assert!(shown.contains("<redacted>"));
    assert!(!shown.contains("ini-secret") && !shown.contains("tgt-secret"));
}
