//! Discovery tests: answers in one and several PDUs, errors, NOP-In, logout, and a whole
//! discovery session after a login against the simulated target.

use super::*;
use crate::keys::SessionParams;
use crate::pdu::{Digests, Reject};

fn session() -> Session {
    Session {
        params: SessionParams::default(),
        isid: [0x80, 0, 0, 0, 0, 9],
        tsih: 7,
        cid: 2,
        cmd_sn: 10,
        stat_sn: 99,
        exp_stat_sn: 100,
        exp_cmd_sn: 10,
        max_cmd_sn: 40,
        next_itt: 20,
        digests: Digests::NONE,
    }
}

/// An answer in the style of RFC 7143 appendix C: two targets, one with three portals (one
/// IPv6), the other with one.
const ANSWER: &[u8] = b"TargetName=iqn.1993-11.com.example:diskarray.sn.8675309\0\
TargetAddress=10.1.0.45:5300,1\0\
TargetAddress=10.1.1.45:5300,2\0\
TargetAddress=[2001:db8::45]:3260,3\0\
TargetName=iqn.1993-11.com.example:diskarray.sn.1234567\0\
TargetAlias=the other one\0\
TargetAddress=10.1.0.45:5300,1\0";

fn expected() -> Vec<DiscoveredTarget> {
    vec![
        DiscoveredTarget {
            name: "iqn.1993-11.com.example:diskarray.sn.8675309".into(),
            addresses: vec![
                ("10.1.0.45".into(), 5300, 1),
                ("10.1.1.45".into(), 5300, 2),
                ("2001:db8::45".into(), 3260, 3),
            ],
        },
        DiscoveredTarget {
            name: "iqn.1993-11.com.example:diskarray.sn.1234567".into(),
            addresses: vec![("10.1.0.45".into(), 5300, 1)],
        },
    ]
}

fn response(data: &[u8], final_: bool, cont: bool, ttt: u32, stat_sn: u32) -> Pdu {
    Pdu::TextResponse(TextResponse {
        final_,
        cont,
        itt: 20,
        ttt,
        stat_sn,
        exp_cmd_sn: 11,
        max_cmd_sn: 41,
        data: data.to_vec(),
        ..TextResponse::default()
    })
}

#[test]
fn the_request() {
    let (d, pdu) = Discovery::new(&session());
    let Pdu::TextRequest(req) = pdu else { panic!() };
    assert_eq!(req.data, b"SendTargets=All\0");
    assert!(req.final_ && !req.cont && !req.immediate);
    assert_eq!((req.itt, req.ttt, req.cmd_sn, req.exp_stat_sn), (20, RESERVED_TAG, 10, 100));
    assert_eq!(d.cmd_sn(), 11);
    let (_, pdu) = Discovery::query(&session(), "iqn.x");
    let Pdu::TextRequest(req) = pdu else { panic!() };
    assert_eq!(req.data, b"SendTargets=iqn.x\0");
}

#[test]
fn answer_in_one_pdu() {
    let (mut d, _) = Discovery::new(&session());
    let step = d.receive(response(ANSWER, true, false, RESERVED_TAG, 100)).unwrap();
    assert_eq!(step, DiscoveryStep::Targets(expected()));
    assert_eq!(d.exp_stat_sn(), 101);
    assert_eq!(d.command_window(), (11, 41));
}

#[test]
fn answer_in_three_pdus() {
    let (mut d, _) = Discovery::new(&session());
    // Cut inside a pair (C set), then on a pair boundary with F clear, then the rest.
    let cut1 = 30;
    let cut2 = ANSWER.iter().skip(100).position(|b| *b == 0).unwrap() + 101;
    let step = d.receive(response(&ANSWER[..cut1], false, true, 0x100, 100)).unwrap();
    let DiscoveryStep::Send(pdus) = step else { panic!("{step:?}") };
    let [Pdu::TextRequest(req)] = pdus.as_slice() else { panic!() };
    assert!(req.data.is_empty() && req.final_ && !req.cont);
    assert_eq!((req.itt, req.ttt, req.cmd_sn, req.exp_stat_sn), (20, 0x100, 11, 101));

    let step = d.receive(response(&ANSWER[cut1..cut2], false, false, 0x101, 101)).unwrap();
    let DiscoveryStep::Send(pdus) = step else { panic!("{step:?}") };
    let [Pdu::TextRequest(req)] = pdus.as_slice() else { panic!() };
    assert_eq!((req.ttt, req.cmd_sn, req.exp_stat_sn), (0x101, 12, 102));

    let step = d.receive(response(&ANSWER[cut2..], true, false, RESERVED_TAG, 102)).unwrap();
    assert_eq!(step, DiscoveryStep::Targets(expected()));
    assert_eq!((d.cmd_sn(), d.exp_stat_sn()), (13, 103));
}

#[test]
fn empty_answer() {
    let (mut d, _) = Discovery::new(&session());
    let step = d.receive(response(b"", true, false, RESERVED_TAG, 100)).unwrap();
    assert_eq!(step, DiscoveryStep::Targets(Vec::new()));
}

#[test]
fn parse_errors() {
    let run = |t: &[u8]| parse_send_targets(&crate::text::parse(t).unwrap());
    assert!(matches!(
        run(b"TargetAddress=10.0.0.1:3260,1\0"),
        Err(DiscoveryError::AddressBeforeName(_))
    ));
    assert!(matches!(
        run(b"TargetName=t\0TargetAddress=[::1:3260,1\0"),
        Err(DiscoveryError::Address { .. })
    ));
    // No tag: the default one. No address: an empty list.
    assert_eq!(
        run(b"TargetName=a\0TargetAddress=h\0TargetName=b\0").unwrap(),
        vec![
            DiscoveredTarget {
                name: "a".into(),
                addresses: vec![("h".into(), 3260, DEFAULT_TPGT)]
            },
            DiscoveredTarget { name: "b".into(), addresses: Vec::new() },
        ]
    );
}

#[test]
fn bad_responses() {
    let (mut d, _) = Discovery::new(&session());
    assert_eq!(
        d.receive(response(b"", false, false, RESERVED_TAG, 100)),
        Err(DiscoveryError::MissingTtt)
    );
    assert_eq!(
        d.receive(response(b"", true, false, RESERVED_TAG, 100)),
        Err(DiscoveryError::Finished)
    );

    let (mut d, _) = Discovery::new(&session());
    let mut r = response(ANSWER, true, false, RESERVED_TAG, 100);
    if let Pdu::TextResponse(t) = &mut r {
        t.itt = 21;
    }
    assert_eq!(d.receive(r), Err(DiscoveryError::IttMismatch { expected: 20, got: 21 }));

    let (mut d, _) = Discovery::new(&session());
    assert!(matches!(
        d.receive(response(b"TargetName", true, false, RESERVED_TAG, 100)),
        Err(DiscoveryError::Text(_))
    ));

    let (mut d, _) = Discovery::new(&session());
    let reject = Reject { reason: RejectReason::CommandNotSupported, ..Reject::default() };
    assert_eq!(
        d.receive(Pdu::Reject(reject)),
        Err(DiscoveryError::Rejected(RejectReason::CommandNotSupported))
    );

    let (mut d, _) = Discovery::new(&session());
    assert_eq!(
        d.receive(Pdu::LogoutResponse(LogoutResponse::default())),
        Err(DiscoveryError::UnexpectedPdu(Opcode::LogoutResponse))
    );
}

#[test]
fn nop_in_is_answered() {
    let (mut d, _) = Discovery::new(&session());
    let ping = NopIn { ttt: 0x55, lun: 0, data: b"hi".to_vec(), stat_sn: 100, ..NopIn::default() };
    let step = d.receive(Pdu::NopIn(ping)).unwrap();
    let DiscoveryStep::Send(pdus) = step else { panic!() };
    let [Pdu::NopOut(out)] = pdus.as_slice() else { panic!() };
    assert_eq!((out.itt, out.ttt, out.data.as_slice()), (RESERVED_TAG, 0x55, &b"hi"[..]));
    assert_eq!(out.exp_stat_sn, 100, "an unsolicited NOP-In does not advance StatSN");
    let quiet = NopIn { ttt: RESERVED_TAG, ..NopIn::default() };
    assert_eq!(d.receive(Pdu::NopIn(quiet)), Ok(DiscoveryStep::Send(Vec::new())));
    // The answer still arrives.
    let step = d.receive(response(ANSWER, true, false, RESERVED_TAG, 100)).unwrap();
    assert_eq!(step, DiscoveryStep::Targets(expected()));
}

#[test]
fn logout() {
    let (mut d, _) = Discovery::new(&session());
    d.receive(response(ANSWER, true, false, RESERVED_TAG, 100)).unwrap();
    let Pdu::LogoutRequest(req) = d.logout() else { panic!() };
    assert!(req.immediate);
    assert_eq!(req.reason, LogoutReason::CloseSession);
    assert_eq!((req.itt, req.cid, req.cmd_sn, req.exp_stat_sn), (21, 2, 11, 101));
    let ok = LogoutResponse { itt: 21, stat_sn: 101, time2wait: 2, ..LogoutResponse::default() };
    assert_eq!(
        d.receive(Pdu::LogoutResponse(ok.clone())),
        Ok(DiscoveryStep::Closed { time2wait: 2 })
    );
    assert_eq!(d.receive(Pdu::LogoutResponse(ok)), Err(DiscoveryError::Finished));

    let (mut d, _) = Discovery::new(&session());
    d.logout();
    let failed = LogoutResponse {
        itt: 21,
        response: LogoutResponseCode::CleanupFailed,
        ..LogoutResponse::default()
    };
    assert_eq!(
        d.receive(Pdu::LogoutResponse(failed)),
        Err(DiscoveryError::LogoutFailed(LogoutResponseCode::CleanupFailed))
    );
}

#[test]
fn login_then_discovery() {
    use crate::chap::OsRandom;
    use crate::login::{Login, LoginConfig, Step, sim::SimTarget};

    let mut target = SimTarget::new("iqn.t");
    let (mut login, mut pdu) =
        Login::new(LoginConfig::discovery("iqn.i", [1; 6]), OsRandom).unwrap();
    let session = loop {
        match login.receive(target.handle(&pdu)).unwrap() {
            Step::Send(mut p) => pdu = p.remove(0),
            Step::Done(s) => break *s,
            other => panic!("{other:?}"),
        }
    };
    let (mut d, Pdu::TextRequest(req)) = Discovery::new(&session) else { panic!() };
    assert_eq!(req.exp_stat_sn, session.exp_stat_sn);
    assert_eq!(req.itt, session.next_itt);
    let answer = response(ANSWER, true, false, RESERVED_TAG, session.exp_stat_sn);
    let Pdu::TextResponse(mut answer) = answer else { panic!() };
    answer.itt = req.itt;
    assert_eq!(d.receive(Pdu::TextResponse(answer)), Ok(DiscoveryStep::Targets(expected())));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_pdus_never_panic(bytes in proptest::collection::vec(any::<u8>(), 48..200), logout in any::<bool>()) {
            let (mut d, _) = Discovery::new(&session());
            if logout {
                d.logout();
            }
            let mut rest = bytes.as_slice();
            while let Ok(Some((pdu, used))) = crate::pdu::decode(rest, Digests::NONE, 8192) {
                let _ = d.receive(pdu);
                rest = rest.get(used..).unwrap_or(&[]);
            }
        }

        #[test]
        fn arbitrary_answers_never_panic(
            parts in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40), any::<bool>(), any::<bool>(), any::<u32>()), 1..6),
        ) {
            let (mut d, _) = Discovery::new(&session());
            for (data, fin, cont, ttt) in parts {
                let (fin, cont) = if fin && cont { (true, false) } else { (fin, cont) };
                let _ = d.receive(response(&data, fin, cont, ttt, 100));
            }
        }
    }
}
