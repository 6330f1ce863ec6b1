//! `fuzz_parse` on random bytes and on mutated real PDUs: it must not panic.

use super::*;
use proptest::prelude::*;

fn login_response_wire() -> Vec<u8> {
    let resp = pdu::Pdu::LoginResponse(pdu::LoginResponse {
        transit: true,
        nsg: pdu::Stage::LoginOperationalNegotiation,
        isid: [0x80, 0, 0, 0, 0, 1],
        data: b"AuthMethod=None\0TargetPortalGroupTag=1\0".to_vec(),
        ..pdu::LoginResponse::default()
    });
    let text = pdu::Pdu::TextResponse(pdu::TextResponse {
        data: b"TargetName=iqn.t\0TargetAddress=[::1]:3260,1\0".to_vec(),
        ..pdu::TextResponse::default()
    });
    let mut wire = resp.encode(pdu::Digests::NONE).unwrap();
    wire.extend(text.encode(pdu::Digests::NONE).unwrap());
    wire
}

#[test]
fn known_inputs() {
    fuzz_parse(&[]);
    fuzz_parse(&login_response_wire());
    fuzz_parse(b"SendTargets=All\0CHAP_C=0b====\0MaxBurstLength=0x\0");
    fuzz_parse(&[0u8; 48]);
}

proptest! {
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzz_parse(&bytes);
    }

    #[test]
    fn mutated_pdus(flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6)) {
        let mut wire = login_response_wire();
        for (at, value) in flips {
            let len = wire.len();
            wire[at % len] = value;
        }
        fuzz_parse(&wire);
    }
}
