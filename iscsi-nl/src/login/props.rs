//! Property tests: whatever a target sends, `Login::receive` answers with a value, never a
//! panic.

use super::*;
use crate::chap::{ChapError, Credentials};
use crate::pdu::{Digests, decode};
use proptest::prelude::*;

struct Counter(u8);

impl ChallengeSource for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChapError> {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

fn login(chap: bool, split: usize) -> Login {
    let mut cfg = LoginConfig::normal("iqn.i", [1, 2, 3, 4, 5, 6], "iqn.t");
    cfg.max_send_segment = split;
    if chap {
        cfg.chap = Some(Credentials::new("u", "secret-one"));
        cfg.mutual_chap = Some(Credentials::new("t", "secret-two"));
    }
    Login::new(cfg, Counter(0)).unwrap().0
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        Just(Stage::SecurityNegotiation),
        Just(Stage::LoginOperationalNegotiation),
        Just(Stage::FullFeaturePhase),
    ]
}

/// Texts built from the words a login uses, so the machine gets past its first checks.
fn text_data() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        proptest::sample::select(
            crate::keys::Key::ALL.iter().map(|k| k.name()).collect::<Vec<_>>()
        )
        .prop_map(str::to_owned),
        proptest::sample::select(vec!["CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R", "X-a"])
            .prop_map(str::to_owned),
    ];
    let value = prop_oneof![
        proptest::sample::select(vec![
            "None",
            "CHAP",
            "5",
            "7",
            "0x0102",
            "0bAQI=",
            "Yes",
            "No",
            "Reject",
            "Irrelevant",
            "NotUnderstood",
            "1",
            "0",
            "65536",
            "16777216",
            "CRC32C",
            "",
            "t",
            "300",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
    ];
    let pairs = proptest::collection::vec((key, value), 0..6);
    prop_oneof![
        4 => pairs.prop_map(|p| {
            let mut out = Vec::new();
            for (k, v) in p {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                out.extend_from_slice(v.as_bytes());
                out.push(0);
            }
            out
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn response() -> impl Strategy<Value = Pdu> {
    (
        (any::<bool>(), any::<bool>(), stage(), stage()),
        (0u8..4, 0u8..4, prop_oneof![Just(0u8), any::<u8>()]),
        (any::<bool>(), any::<u16>(), any::<u32>(), text_data()),
    )
        .prop_map(|((t, c, csg, nsg), (class, detail, version), (own_itt, tsih, sn, data))| {
            let (transit, cont) = if t && c { (true, false) } else { (t, c) };
            Pdu::LoginResponse(LoginResponse {
                transit,
                cont,
                csg,
                nsg,
                version_active: version,
                isid: [1, 2, 3, 4, 5, 6],
                itt: if own_itt { 0 } else { sn },
                tsih,
                stat_sn: sn,
                status_class: if class == 0 || detail == 0 { 0 } else { class },
                status_detail: detail,
                data,
                ..LoginResponse::default()
            })
        })
}

/// A response with the success status, right tags and our stage, to go deeper.
fn plausible(stage: Stage, transit: bool, data: Vec<u8>) -> Pdu {
    Pdu::LoginResponse(LoginResponse {
        transit,
        csg: stage,
        nsg: if stage == Stage::SecurityNegotiation {
            Stage::LoginOperationalNegotiation
        } else {
            Stage::FullFeaturePhase
        },
        isid: [1, 2, 3, 4, 5, 6],
        tsih: 1,
        data,
        ..LoginResponse::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_responses_never_panic(
        chap in any::<bool>(),
        split in prop_oneof![Just(8192usize), 1usize..64],
        pdus in proptest::collection::vec(response(), 1..8),
    ) {
        let mut login = login(chap, split);
        for pdu in pdus {
            let _ = login.receive(pdu);
        }
    }

    #[test]
    fn plausible_responses_never_panic(
        chap in any::<bool>(),
        steps in proptest::collection::vec((any::<bool>(), any::<bool>(), text_data()), 1..10),
    ) {
        let mut login = login(chap, 8192);
        for (next_stage, transit, data) in steps {
            let stage = if next_stage { Stage::LoginOperationalNegotiation } else { login.stage() };
            match login.receive(plausible(stage, transit, data)) {
                Ok(Step::Send(pdus)) => prop_assert_eq!(pdus.len(), 1),
                Ok(_) | Err(_) => prop_assert!(login.is_over()),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 48..160)) {
        let mut login = login(true, 8192);
        let mut rest = bytes.as_slice();
        while let Ok(Some((pdu, used))) = decode(rest, Digests::NONE, 8192) {
            let _ = login.receive(pdu);
            rest = rest.get(used..).unwrap_or(&[]);
        }
    }
}
