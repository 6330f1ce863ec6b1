//! Property tests of the PDU layer: round trips over arbitrary field values, and arbitrary or
//! corrupted bytes never panic the decoder.

use super::*;
use proptest::prelude::*;

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        Just(Stage::SecurityNegotiation),
        Just(Stage::LoginOperationalNegotiation),
        Just(Stage::FullFeaturePhase),
    ]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..70)
}

/// T/C or F/C pairs that are legal together.
fn two_flags() -> impl Strategy<Value = (bool, bool)> {
    prop_oneof![Just((false, false)), Just((true, false)), Just((false, true))]
}

fn login_request() -> impl Strategy<Value = Pdu> {
    (
        (two_flags(), stage(), stage(), any::<u8>(), any::<u8>()),
        (any::<[u8; 6]>(), any::<u16>(), any::<u32>(), any::<u16>()),
        (any::<u32>(), any::<u32>(), data()),
    )
        .prop_map(|(((t, c), csg, nsg, vmax, vmin), (isid, tsih, itt, cid), (cmd, exp, d))| {
            Pdu::LoginRequest(LoginRequest {
                transit: t,
                cont: c,
                csg,
                nsg,
                version_max: vmax,
                version_min: vmin,
                isid,
                tsih,
                itt,
                cid,
                cmd_sn: cmd,
                exp_stat_sn: exp,
                data: d,
            })
        })
}

fn login_response() -> impl Strategy<Value = Pdu> {
    (
        (two_flags(), stage(), stage(), any::<u8>(), any::<u8>()),
        (any::<[u8; 6]>(), any::<u16>(), any::<u32>()),
        (any::<[u32; 3]>(), any::<u8>(), any::<u8>(), data()),
    )
        .prop_map(|(((t, c), csg, nsg, vmax, vact), (isid, tsih, itt), (sn, sc, sd, d))| {
            Pdu::LoginResponse(LoginResponse {
                transit: t,
                cont: c,
                csg,
                nsg,
                version_max: vmax,
                version_active: vact,
                isid,
                tsih,
                itt,
                stat_sn: sn[0],
                exp_cmd_sn: sn[1],
                max_cmd_sn: sn[2],
                status_class: sc,
                status_detail: sd,
                data: d,
            })
        })
}

fn text() -> impl Strategy<Value = Pdu> {
    (any::<bool>(), two_flags(), any::<u64>(), any::<[u32; 5]>(), data()).prop_map(
        |(imm, (f, c), lun, n, d)| {
            if imm {
                Pdu::TextRequest(TextRequest {
                    immediate: n[4] & 1 != 0,
                    final_: f,
                    cont: c,
                    lun,
                    itt: n[0],
                    ttt: n[1],
                    cmd_sn: n[2],
                    exp_stat_sn: n[3],
                    data: d,
                })
            } else {
                Pdu::TextResponse(TextResponse {
                    final_: f,
                    cont: c,
                    lun,
                    itt: n[0],
                    ttt: n[1],
                    stat_sn: n[2],
                    exp_cmd_sn: n[3],
                    max_cmd_sn: n[4],
                    data: d,
                })
            }
        },
    )
}

fn logout() -> impl Strategy<Value = Pdu> {
    (any::<bool>(), any::<u8>(), any::<u16>(), any::<[u32; 4]>(), any::<[u16; 2]>()).prop_map(
        |(req, code, cid, n, t)| {
            if req {
                Pdu::LogoutRequest(LogoutRequest {
                    immediate: t[0] & 1 != 0,
                    reason: LogoutReason::from(code),
                    itt: n[0],
                    cid,
                    cmd_sn: n[1],
                    exp_stat_sn: n[2],
                })
            } else {
                Pdu::LogoutResponse(LogoutResponse {
                    response: LogoutResponseCode::from(code),
                    itt: n[0],
                    stat_sn: n[1],
                    exp_cmd_sn: n[2],
                    max_cmd_sn: n[3],
                    time2wait: t[0],
                    time2retain: t[1],
                })
            }
        },
    )
}

fn nop_reject() -> impl Strategy<Value = Pdu> {
    (0..3u8, any::<u64>(), any::<[u32; 5]>(), any::<u8>(), data()).prop_map(
        |(kind, lun, n, code, d)| match kind {
            0 => Pdu::NopOut(NopOut {
                immediate: code & 1 != 0,
                lun,
                itt: n[0],
                ttt: n[1],
                cmd_sn: n[2],
                exp_stat_sn: n[3],
                data: d,
            }),
            1 => Pdu::NopIn(NopIn {
                lun,
                itt: n[0],
                ttt: n[1],
                stat_sn: n[2],
                exp_cmd_sn: n[3],
                max_cmd_sn: n[4],
                data: d,
            }),
            _ => Pdu::Reject(Reject {
                reason: RejectReason::from(code),
                stat_sn: n[0],
                exp_cmd_sn: n[1],
                max_cmd_sn: n[2],
                data_sn_or_r2t_sn: n[3],
                data: d,
            }),
        },
    )
}

fn scsi() -> impl Strategy<Value = Pdu> {
    (any::<[bool; 4]>(), 0..8u8, any::<u64>(), any::<[u32; 4]>(), any::<[u8; 16]>(), data())
        .prop_map(|(b, attr, lun, n, cdb, d)| {
            Pdu::ScsiCommand(ScsiCommandHeader {
                immediate: b[0],
                final_: b[1],
                read: b[2],
                write: b[3],
                attr,
                lun,
                itt: n[0],
                edtl: n[1],
                cmd_sn: n[2],
                exp_stat_sn: n[3],
                cdb,
                data: d,
            })
        })
}

fn other() -> impl Strategy<Value = Pdu> {
    let ops = [
        Opcode::TaskMgmtRequest,
        Opcode::DataOut,
        Opcode::SnackRequest,
        Opcode::ScsiResponse,
        Opcode::TaskMgmtResponse,
        Opcode::DataIn,
        Opcode::R2t,
        Opcode::AsyncMessage,
    ];
    (proptest::sample::select(ops.to_vec()), any::<[u8; 48]>(), 0..4usize, data()).prop_map(
        |(op, raw, words, d)| {
            let mut bhs = Bhs::from_bytes(raw);
            bhs.set_opcode(op);
            bhs.set_total_ahs_length(words as u8);
            bhs.set_data_segment_length(d.len()).unwrap();
            Pdu::Other { bhs, ahs: (0..words * 4).map(|i| i as u8).collect(), data: d }
        },
    )
}

fn pdu() -> impl Strategy<Value = Pdu> {
    prop_oneof![login_request(), login_response(), text(), logout(), nop_reject(), scsi(), other(),]
}

fn digests() -> impl Strategy<Value = Digests> {
    (any::<bool>(), any::<bool>()).prop_map(|(h, d)| Digests {
        header: if h { Digest::Crc32c } else { Digest::None },
        data: if d { Digest::Crc32c } else { Digest::None },
    })
}

proptest! {
    #[test]
    fn encode_decode_round_trip(pdu in pdu(), digests in digests()) {
        let wire = pdu.encode(digests).unwrap();
        prop_assert_eq!(wire.len() % 4, 0);
        let (back, used) = decode(&wire, digests, 1 << 24).unwrap().unwrap();
        prop_assert_eq!(back, pdu);
        prop_assert_eq!(used, wire.len());
        // Every strict prefix asks for more bytes.
        let cut = wire.len() / 2;
        prop_assert_eq!(decode(&wire[..cut], digests, 1 << 24), Ok(None));
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(
        buf in proptest::collection::vec(any::<u8>(), 0..200),
        digests in digests(),
        max in 0..300u32,
    ) {
        if let Ok(Some((_, used))) = decode(&buf, digests, max) {
            prop_assert!(used <= buf.len());
        }
    }

    #[test]
    fn decode_mutated_pdus_never_panics(
        pdu in pdu(),
        digests in digests(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut wire = pdu.encode(digests).unwrap();
        let i = at.index(wire.len());
        wire[i] = byte;
        if let Ok(Some((_, used))) = decode(&wire, digests, 1 << 24) {
            prop_assert!(used <= wire.len());
        }
    }

    #[test]
    fn header_corruption_is_caught_by_the_digest(
        pdu in pdu(),
        at in 0..48usize,
        bit in 0..8u8,
    ) {
        let mut wire = pdu.encode(Digests::CRC32C).unwrap();
        wire[at] ^= 1 << bit;
        let caught = matches!(
            decode(&wire, Digests::CRC32C, 1 << 24),
            Err(PduError::HeaderDigest { .. }) | Ok(None)
        );
        prop_assert!(caught);
    }
}
