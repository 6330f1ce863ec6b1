//! Tests of the PDU layer: known layouts, digest vectors and framing edge cases.

use super::*;

fn roundtrip(pdu: &Pdu, digests: Digests) -> Vec<u8> {
    let wire = pdu.encode(digests).unwrap();
    assert_eq!(wire.len() % 4, 0, "PDUs are a whole number of words");
    let (back, used) = decode(&wire, digests, 1 << 24).unwrap().unwrap();
    assert_eq!(&back, pdu);
    assert_eq!(used, wire.len());
    wire
}

#[test]
fn crc32c_vectors() {
    // RFC 3720 B.4 / RFC 7143 (CRC examples) and the CRC-32/ISCSI check value.
    assert_eq!(crc32c(&[0; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[0xff; 32]), 0x62A8_AB43);
    let inc: Vec<u8> = (0..32).collect();
    assert_eq!(crc32c(&inc), 0x46DD_794E);
    let dec: Vec<u8> = (0..32).rev().collect();
    assert_eq!(crc32c(&dec), 0x113F_DB5C);
}

#[test]
fn digest_is_sent_least_significant_byte_first() {
    // A 48-byte header is not 32 bytes, so check the byte order on a data segment of 32 zeros:
    // the RFC lists its CRC as the bytes aa 36 91 8a.
    let pdu = Pdu::NopOut(NopOut { data: vec![0; 32], ..NopOut::default() });
    let wire = roundtrip(&pdu, Digests::CRC32C);
    assert_eq!(wire.len(), 48 + 4 + 32 + 4);
    assert_eq!(&wire[84..], &[0xaa, 0x36, 0x91, 0x8a]);
    assert_eq!(&wire[48..52], &crc32c(&wire[..48]).to_le_bytes());
}

#[test]
fn opcodes() {
    for op in Opcode::ALL {
        assert_eq!(Opcode::try_from(op as u8), Ok(op));
        assert_eq!(op.is_target(), u8::from(op) >= 0x20);
    }
    assert_eq!(Opcode::try_from(0x07), Err(PduError::UnknownOpcode(0x07)));
    assert_eq!(Opcode::try_from(0x3e), Err(PduError::UnknownOpcode(0x3e)));
    let known = (0..=0x3fu8).filter(|v| Opcode::try_from(*v).is_ok()).count();
    assert_eq!(known, 18);
}

#[test]
fn bhs_common_fields() {
    let mut bhs = Bhs::new(Opcode::TextRequest);
    bhs.set_immediate(true);
    bhs.set_final_bit(true);
    bhs.set_total_ahs_length(3);
    bhs.set_data_segment_length(0x00ab_cdef).unwrap();
    bhs.set_lun(0x0102_0304_0506_0708);
    bhs.set_itt(0xdead_beef);
    let b = bhs.as_bytes();
    assert_eq!(&b[..8], &[0x44, 0x80, 0, 0, 3, 0xab, 0xcd, 0xef]);
    assert_eq!(&b[8..20], &[1, 2, 3, 4, 5, 6, 7, 8, 0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(bhs.opcode(), Ok(Opcode::TextRequest));
    assert!(bhs.immediate() && bhs.final_bit());
    assert_eq!(bhs.ahs_len(), 12);
    assert_eq!(bhs.data_segment_length(), 0x00ab_cdef);
    assert_eq!(bhs.set_data_segment_length(1 << 24), Err(PduError::DataSegmentOverflow(1 << 24)));
    assert!(matches!(Bhs::parse(&[0; 47]), Err(PduError::Truncated { need: 48, have: 47, .. })));
    // Out-of-range offsets clamp instead of panicking.
    assert_eq!(bhs.u32_at(1000), bhs.u32_at(44));
    assert_eq!(bhs.array_at::<64>(0), [0; 64]);
}

fn login_request() -> LoginRequest {
    LoginRequest {
        transit: true,
        cont: false,
        csg: Stage::LoginOperationalNegotiation,
        nsg: Stage::FullFeaturePhase,
        version_max: 0,
        version_min: 0,
        isid: [0x80, 0x12, 0x34, 0x56, 0x78, 0x9a],
        tsih: 0x0102,
        itt: 0x1122_3344,
        cid: 0x0506,
        cmd_sn: 7,
        exp_stat_sn: 9,
        data: b"InitiatorName=iqn.2024-01.test:x\0".to_vec(),
    }
}

#[test]
fn login_request_layout() {
    let req = login_request();
    let bhs = req.emit().unwrap();
    let b = bhs.as_bytes();
    assert_eq!(b[0], 0x43, "login requests carry the I bit");
    assert_eq!(b[1], 0x87, "T, CSG=1, NSG=3");
    assert_eq!(&b[5..8], &[0, 0, 33]);
    assert_eq!(&b[8..16], &[0x80, 0x12, 0x34, 0x56, 0x78, 0x9a, 0x01, 0x02]);
    assert_eq!(&b[16..24], &[0x11, 0x22, 0x33, 0x44, 0x05, 0x06, 0, 0]);
    assert_eq!(&b[24..32], &[0, 0, 0, 7, 0, 0, 0, 9]);
    let wire = roundtrip(&Pdu::LoginRequest(req), Digests::NONE);
    assert_eq!(wire.len(), 48 + 36, "33 bytes of text padded to 36");
    assert_eq!(&wire[81..], &[0, 0, 0]);
}

#[test]
fn login_flags_invalid() {
    let mut bhs = login_request().emit().unwrap();
    bhs.set_flags(0xc0); // T and C
    assert!(matches!(LoginRequest::parse(&bhs, &[]), Err(PduError::InvalidField { .. })));
    bhs.set_flags(0x08); // CSG = 2, reserved
    assert!(matches!(LoginRequest::parse(&bhs, &[]), Err(PduError::InvalidField { .. })));
    assert!(matches!(
        LoginResponse::parse(&login_request().emit().unwrap(), &[]),
        Err(PduError::UnexpectedOpcode {
            expected: Opcode::LoginResponse,
            found: Opcode::LoginRequest
        })
    ));
}

#[test]
fn login_response_layout() {
    let rsp = LoginResponse {
        transit: true,
        csg: Stage::SecurityNegotiation,
        nsg: Stage::LoginOperationalNegotiation,
        isid: [1, 2, 3, 4, 5, 6],
        tsih: 0x0a0b,
        itt: 5,
        stat_sn: 0x100,
        exp_cmd_sn: 0x200,
        max_cmd_sn: 0x300,
        status_class: 2,
        status_detail: 1,
        data: b"AuthMethod=None\0".to_vec(),
        ..LoginResponse::default()
    };
    let b = *rsp.emit().unwrap().as_bytes();
    assert_eq!(&b[..4], &[0x23, 0x81, 0, 0]);
    assert_eq!(&b[24..38], &[0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 2, 1]);
    assert!(!rsp.is_success());
    roundtrip(&Pdu::LoginResponse(rsp), Digests::CRC32C);
}

#[test]
fn text_logout_nop_reject_scsi_layouts() {
    let req = TextRequest { itt: 1, data: b"SendTargets=All\0".to_vec(), ..TextRequest::default() };
    let b = *req.emit().unwrap().as_bytes();
    assert_eq!(&b[..2], &[0x04, 0x80]);
    assert_eq!(&b[20..24], &[0xff; 4]);
    roundtrip(&Pdu::TextRequest(req), Digests::NONE);

    let rsp = TextResponse { final_: false, cont: true, ttt: 0x77, ..TextResponse::default() };
    assert_eq!(rsp.emit().unwrap().as_bytes()[..2], [0x24, 0x40]);
    roundtrip(&Pdu::TextResponse(rsp), Digests::NONE);

    let lo = LogoutRequest {
        immediate: true,
        reason: LogoutReason::CloseConnection,
        cid: 3,
        ..LogoutRequest::default()
    };
    let b = *lo.emit().unwrap().as_bytes();
    assert_eq!(&b[..2], &[0x46, 0x81]);
    assert_eq!(&b[20..22], &[0, 3]);
    roundtrip(&Pdu::LogoutRequest(lo), Digests::NONE);

    let lr = LogoutResponse {
        response: LogoutResponseCode::CidNotFound,
        time2wait: 2,
        time2retain: 20,
        ..LogoutResponse::default()
    };
    let b = *lr.emit().unwrap().as_bytes();
    assert_eq!(&b[..3], &[0x26, 0x80, 1]);
    assert_eq!(&b[40..44], &[0, 2, 0, 20]);
    roundtrip(&Pdu::LogoutResponse(lr), Digests::NONE);

    let nop_in = NopIn { itt: RESERVED_TAG, ttt: 9, data: vec![1, 2, 3], ..NopIn::default() };
    assert_eq!(nop_in.emit().unwrap().as_bytes()[..2], [0x20, 0x80]);
    roundtrip(&Pdu::NopIn(nop_in), Digests::CRC32C);

    let rejected = login_request().emit().unwrap();
    let rej = Reject {
        reason: RejectReason::InvalidPduField,
        data: rejected.as_bytes().to_vec(),
        ..Reject::default()
    };
    let b = *rej.emit().unwrap().as_bytes();
    assert_eq!(&b[..3], &[0x3f, 0x80, 0x09]);
    assert_eq!(&b[16..20], &[0xff; 4]);
    assert_eq!(rej.rejected_header(), Some(rejected));
    roundtrip(&Pdu::Reject(rej), Digests::NONE);

    let cmd = ScsiCommandHeader {
        final_: true,
        read: true,
        attr: 1,
        lun: 1 << 48,
        edtl: 512,
        cdb: [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        ..ScsiCommandHeader::default()
    };
    let b = *cmd.emit().unwrap().as_bytes();
    assert_eq!(&b[..2], &[0x01, 0xc1]);
    assert_eq!(&b[8..10], &[0, 1]);
    assert_eq!(&b[20..24], &[0, 0, 2, 0]);
    assert_eq!(b[32], 0x28);
    roundtrip(&Pdu::ScsiCommand(cmd), Digests::CRC32C);
}

#[test]
fn framing_short_buffers_need_more() {
    let pdu = Pdu::LoginRequest(login_request());
    for digests in [Digests::NONE, Digests::CRC32C] {
        let wire = pdu.encode(digests).unwrap();
        for n in 0..wire.len() {
            assert_eq!(decode(&wire[..n], digests, 8192), Ok(None), "prefix of {n}");
        }
    }
}

#[test]
fn framing_back_to_back_and_no_data_digest_without_data() {
    let a = Pdu::LogoutRequest(LogoutRequest::default());
    let b = Pdu::NopOut(NopOut { data: vec![9; 5], ..NopOut::default() });
    let framer = Framer::new(Digests::CRC32C, 8192);
    let wa = framer.encode(&a).unwrap();
    assert_eq!(wa.len(), 52, "no data: no data digest");
    let mut stream = wa.clone();
    stream.extend(framer.encode(&b).unwrap());
    let (first, used) = framer.decode(&stream).unwrap().unwrap();
    assert_eq!((first, used), (a, 52));
    let (second, used2) = framer.decode(&stream[used..]).unwrap().unwrap();
    assert_eq!(second, b);
    assert_eq!(used + used2, stream.len());
    assert_eq!(used2, 48 + 4 + 8 + 4);
}

#[test]
fn framing_digest_mismatches() {
    let pdu = Pdu::NopOut(NopOut { data: b"hello".to_vec(), ..NopOut::default() });
    let wire = pdu.encode(Digests::CRC32C).unwrap();
    let mut bad = wire.clone();
    bad[20] ^= 1;
    assert!(matches!(decode(&bad, Digests::CRC32C, 8192), Err(PduError::HeaderDigest { .. })));
    let mut bad = wire.clone();
    bad[48] ^= 0x80; // the header digest itself
    assert!(matches!(decode(&bad, Digests::CRC32C, 8192), Err(PduError::HeaderDigest { .. })));
    let mut bad = wire.clone();
    bad[54] ^= 1;
    assert!(matches!(decode(&bad, Digests::CRC32C, 8192), Err(PduError::DataDigest { .. })));
    let mut bad = wire;
    bad[59] ^= 1; // padding is covered too
    assert!(matches!(decode(&bad, Digests::CRC32C, 8192), Err(PduError::DataDigest { .. })));
}

#[test]
fn framing_data_segment_limit_checked_from_the_header_alone() {
    let pdu = Pdu::NopIn(NopIn { data: vec![0; 600], ..NopIn::default() });
    let wire = pdu.encode(Digests::NONE).unwrap();
    assert_eq!(
        decode(&wire[..48], Digests::NONE, 512),
        Err(PduError::DataSegmentTooLong { len: 600, max: 512 })
    );
    assert!(decode(&wire, Digests::NONE, 600).unwrap().is_some());
}

#[test]
fn framing_unknown_opcode_and_other_pdus_with_ahs() {
    let mut raw = [0u8; 48];
    raw[0] = 0x07;
    assert_eq!(decode(&raw, Digests::NONE, 8192), Err(PduError::UnknownOpcode(0x07)));
    let mut bhs = Bhs::new(Opcode::DataIn);
    bhs.set_itt(42);
    let other = Pdu::Other { bhs, ahs: vec![1, 2, 3, 4, 5, 6, 7, 8], data: vec![0xaa; 3] };
    let wire = other.encode(Digests::CRC32C).unwrap();
    assert_eq!(wire[4], 2, "TotalAHSLength in words");
    assert_eq!(wire.len(), 48 + 8 + 4 + 4 + 4);
    let (back, _) = decode(&wire, Digests::CRC32C, 8192).unwrap().unwrap();
    let Pdu::Other { bhs: b, ahs, data } = back else {
        panic!("not kept raw");
    };
    assert_eq!((b.itt(), ahs, data), (42, vec![1, 2, 3, 4, 5, 6, 7, 8], vec![0xaa; 3]));
    let bad = Pdu::Other { bhs, ahs: vec![1, 2, 3], data: vec![] };
    assert_eq!(bad.encode(Digests::NONE), Err(PduError::AhsLength(3)));
    // A typed PDU with an AHS: the AHS is skipped.
    let mut wire = Pdu::NopIn(NopIn::default()).encode(Digests::NONE).unwrap();
    wire[4] = 1;
    wire.extend([0; 4]);
    assert_eq!(decode(&wire, Digests::NONE, 0).unwrap(), Some((Pdu::NopIn(NopIn::default()), 52)));
}
