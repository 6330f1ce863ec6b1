//! Tests of the NETLINK_ISCSI encoding: byte-exact requests (little-endian, as on x86_64),
//! replies and events read back, and arbitrary bytes never panicking the readers.

use netlink_packet_core::NetlinkPayload;
use proptest::prelude::*;

use super::uevent::offset;
use super::*;

const HANDLE: u64 = 0xffff_8880_1234_5678;
const HANDLE_LE: [u8; 8] = [0x78, 0x56, 0x34, 0x12, 0x80, 0x88, 0xff, 0xff];

/// The 56 bytes of a uevent: type, zero iferror, [`HANDLE`], then `tail` from offset 16.
fn uevent(kind: u8, tail: &[(usize, &[u8])]) -> Vec<u8> {
    let mut v = vec![0u8; UEVENT_SIZE];
    v[0] = kind;
    v[8..16].copy_from_slice(&HANDLE_LE);
    for (at, bytes) in tail {
        v[*at..*at + bytes.len()].copy_from_slice(bytes);
    }
    v
}

#[test]
fn layout_matches_the_c_struct() {
    // offsetof() of Linux 6.1's struct iscsi_uevent, compiled with gcc on x86_64.
    assert_eq!(UEVENT_SIZE, 56);
    assert_eq!((offset::TYPE, offset::IFERROR, offset::TRANSPORT_HANDLE), (0, 4, 8));
    assert_eq!((offset::U, offset::R), (16, 40));
    assert_eq!(offset::C_SESSION_INITIAL_CMDSN, 16);
    assert_eq!((offset::C_SESSION_CMDS_MAX, offset::C_SESSION_QUEUE_DEPTH), (20, 22));
    assert_eq!((offset::U_SID, offset::U_CID), (16, 20));
    assert_eq!((offset::B_CONN_TRANSPORT_EPH, offset::B_CONN_IS_LEADING), (24, 32));
    assert_eq!((offset::SET_PARAM_PARAM, offset::SET_PARAM_LEN), (24, 28));
    assert_eq!((offset::STOP_CONN_CONN_HANDLE, offset::STOP_CONN_FLAG), (24, 32));
    assert_eq!((offset::R_RETCODE, offset::R_SID, offset::R_HOST_NO), (40, 40, 44));
    assert_eq!((offset::R_CID, offset::R_ERROR), (44, 48));
    assert_eq!((offset::R_D_SESSION_HOST_NO, offset::R_D_SESSION_SID), (40, 44));
}

#[test]
fn numbering_matches_the_header() {
    assert_eq!(UeventType::CreateSession.code(), 11);
    assert_eq!(UeventType::StopConn.code(), 18);
    assert_eq!(UeventType::CreateBoundSession.code(), 28);
    assert_eq!(UeventType::DestroySessionAsync.code(), 43);
    assert_eq!(UeventType::ConnError.code(), 102);
    assert_eq!(UeventType::KCreateSession.code(), 106);
    assert_eq!(UeventType::ConnLoginState.code(), 109);
    assert_eq!(UeventType::PingComp.code(), 111);
    // enum iscsi_param counts up from 0 without gaps to ISCSI_PARAM_MAX.
    for (i, p) in Param::ALL.iter().enumerate() {
        assert_eq!(p.code(), i as u32, "{p}");
    }
    assert_eq!(Param::ALL.len() as u32, codes::ISCSI_PARAM_MAX);
    assert_eq!(Param::SessRecoveryTmo.code(), 19);
    assert_eq!(Param::Isid.code(), 33);
    assert_eq!(Param::InitiatorName.code(), 34);
    assert_eq!(Param::DefTime2wait.code(), 49);
    assert_eq!(Param::LocalIpaddr.code(), 71);
    assert_eq!(IscsiErr::NopTimedout.code(), 1022);
    assert_eq!(StopConnFlag::Term.code(), 1);
    assert_eq!(UeventType::from_code(17), Some(UeventType::StartConn));
    assert_eq!(UeventType::from_code(44), None);
    assert_eq!(Param::TargetName.c_name(), "ISCSI_PARAM_TARGET_NAME");
}

#[cfg(target_endian = "little")]
mod little_endian {
    use super::*;

    #[test]
    fn create_session() {
        let req =
            Request::CreateSession { initial_cmdsn: 0x0102_0304, cmds_max: 128, queue_depth: 32 };
        let want = uevent(11, &[(16, &[4, 3, 2, 1]), (20, &[128, 0]), (22, &[32, 0])]);
        assert_eq!(req.to_bytes(HANDLE).unwrap(), want);
    }

    #[test]
    fn destroy_session() {
        let req = Request::DestroySession { sid: 7 };
        assert_eq!(req.to_bytes(HANDLE).unwrap(), uevent(12, &[(16, &[7, 0, 0, 0])]));
    }

    #[test]
    fn create_destroy_start_conn() {
        let sid_cid: &[(usize, &[u8])] = &[(16, &[0x34, 0x12, 0, 0]), (20, &[2, 0, 0, 0])];
        for (req, kind) in [
            (Request::CreateConn { sid: 0x1234, cid: 2 }, 13),
            (Request::DestroyConn { sid: 0x1234, cid: 2 }, 14),
            (Request::StartConn { sid: 0x1234, cid: 2 }, 17),
        ] {
            assert_eq!(req.to_bytes(HANDLE).unwrap(), uevent(kind, sid_cid), "{req:?}");
        }
    }

    #[test]
    fn bind_conn() {
        let req = Request::BindConn { sid: 1, cid: 0, transport_eph: 5, is_leading: true };
        let want = uevent(15, &[(16, &[1, 0, 0, 0]), (24, &[5, 0, 0, 0, 0, 0, 0, 0]), (32, &[1])]);
        assert_eq!(req.to_bytes(HANDLE).unwrap(), want);
    }

    #[test]
    fn set_param_appends_the_value_and_its_nul() {
        let req =
            Request::SetParam { sid: 3, cid: 0, param: Param::TargetName, value: "iqn.x".into() };
        let mut want =
            uevent(16, &[(16, &[3, 0, 0, 0]), (24, &[15, 0, 0, 0]), (28, &[6, 0, 0, 0])]);
        want.extend_from_slice(b"iqn.x\0");
        assert_eq!(req.to_bytes(HANDLE).unwrap(), want);
        assert_eq!(req.encoded_len(), 62);
    }

    #[test]
    fn stop_conn() {
        let req = Request::StopConn { sid: 9, cid: 1, flag: StopConnFlag::Term };
        let want = uevent(18, &[(16, &[9, 0, 0, 0]), (20, &[1, 0, 0, 0]), (32, &[1, 0, 0, 0])]);
        assert_eq!(req.to_bytes(HANDLE).unwrap(), want);
    }

    #[test]
    fn netlink_header() {
        let req = Request::CreateConn { sid: 1, cid: 0 };
        let bytes = encode_request(HANDLE, &req, 7).unwrap();
        assert_eq!(bytes.len(), 16 + 56);
        assert_eq!(&bytes[..16], &[72, 0, 0, 0, 13, 0, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&bytes[16..], &req.to_bytes(HANDLE).unwrap()[..]);
        let set = Request::SetParam { sid: 1, cid: 0, param: Param::Tpgt, value: "1".into() };
        let bytes = encode_request(HANDLE, &set, 8).unwrap();
        assert_eq!(&bytes[..6], &[74, 0, 0, 0, 16, 0]);
    }

    /// A netlink message as the kernel sends it: `nlmsg_total_size` rounds up to 4.
    fn from_kernel(nl_type: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((16 + payload.len()) as u32).to_le_bytes());
        v.extend_from_slice(&nl_type.to_le_bytes());
        v.extend_from_slice(&[0; 10]);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reply_to_create_session() {
        let mut ev = Request::CreateSession { initial_cmdsn: 1, cmds_max: 128, queue_depth: 32 }
            .to_bytes(HANDLE)
            .unwrap();
        ev[40..44].copy_from_slice(&5u32.to_le_bytes());
        ev[44..48].copy_from_slice(&2u32.to_le_bytes());
        let got = decode_datagram(&from_kernel(11, &ev));
        assert_eq!(got.len(), 1);
        let msg = got.into_iter().next().unwrap().unwrap();
        assert_eq!(
            msg.payload,
            NetlinkPayload::InnerMessage(Incoming::Reply {
                request: UeventType::CreateSession,
                reply: Reply::SessionCreated { sid: 5, host_no: 2 },
            })
        );
    }

    #[test]
    fn refused_request_is_if_error() {
        let mut ev =
            Request::SetParam { sid: 1, cid: 0, param: Param::Isid, value: "400000000000".into() }
                .to_bytes(HANDLE)
                .unwrap();
        ev[0..4].copy_from_slice(&103u32.to_le_bytes());
        ev[4..8].copy_from_slice(&(-38i32).to_le_bytes());
        assert_eq!(Reply::parse(UeventType::SetParam, &ev), Ok(Reply::IfError { errno: -38 }));
    }

    #[test]
    fn retcode_of_bind() {
        let mut ev = uevent(15, &[]);
        ev[40..44].copy_from_slice(&(-9i32).to_le_bytes());
        assert_eq!(Reply::parse(UeventType::BindConn, &ev), Ok(Reply::Done { retcode: -9 }));
        assert_eq!(
            Reply::parse(UeventType::StartConn, &ev),
            Err(ParseError::Mismatch { request: UeventType::StartConn, found: 15 })
        );
    }

    #[test]
    fn conn_error_event() {
        let ev =
            uevent(102, &[(40, &[3, 0, 0, 0]), (44, &[0, 0, 0, 0]), (48, &1020u32.to_le_bytes())]);
        let got = decode_datagram(&from_kernel(0, &ev));
        let msg = got.into_iter().next().unwrap().unwrap();
        let NetlinkPayload::InnerMessage(Incoming::Event(event)) = msg.payload else {
            panic!("not an event: {:?}", msg.payload);
        };
        assert_eq!(event, Event::ConnError { sid: 3, cid: 0, error: 1020 });
        assert_eq!(event.conn_error(), Some(IscsiErr::TcpConnClose));
        assert_eq!(event.sid(), Some(3));
    }

    #[test]
    fn session_events() {
        // ISCSI_KEVENT_DESTROY_SESSION puts host_no first, sid second.
        let ev = uevent(104, &[(40, &[4, 0, 0, 0]), (44, &[9, 0, 0, 0])]);
        assert_eq!(Event::parse(&ev), Ok(Event::SessionDestroyed { sid: 9, host_no: 4 }));
        let ev = uevent(106, &[(40, &[9, 0, 0, 0]), (44, &[4, 0, 0, 0])]);
        assert_eq!(Event::parse(&ev), Ok(Event::SessionCreated { sid: 9, host_no: 4 }));
        let mut ev = uevent(101, &[(40, &[9, 0, 0, 0]), (44, &[1, 0, 0, 0])]);
        ev.extend_from_slice(&[0x23; 48]);
        let Ok(Event::RecvPdu { sid: 9, cid: 1, pdu }) = Event::parse(&ev) else {
            panic!("not a PDU");
        };
        assert_eq!(pdu.len(), 48);
    }
}

#[test]
fn short_and_odd_input() {
    assert_eq!(Event::parse(&[0; 55]), Err(ParseError::Short(55)));
    assert_eq!(Event::parse(&[0xff; 56]), Err(ParseError::UnknownType(u32::MAX)));
    let mut ev = vec![0; 56];
    ev[..4].copy_from_slice(&UeventType::CreateConn.code().to_ne_bytes());
    assert_eq!(Event::parse(&ev), Err(ParseError::Unexpected(UeventType::CreateConn)));
    assert_eq!(
        Reply::parse(UeventType::ConnError, &ev),
        Err(ParseError::Unexpected(UeventType::ConnError))
    );
    assert!(decode_datagram(&[1, 2, 3])[0].is_err());
    assert!(decode_datagram(&[]).is_empty());
}

#[test]
fn values_the_kernel_would_cut_are_refused() {
    let req = |value: String| Request::SetParam { sid: 1, cid: 0, param: Param::TargetName, value };
    assert_eq!(req("a\0b".into()).to_bytes(0), Err(EncodeError::NulInValue(Param::TargetName)));
    assert!(req("a".repeat(4095)).to_bytes(0).is_ok());
    assert!(matches!(
        encode_request(0, &req("a".repeat(4096)), 1),
        Err(EncodeError::ValueTooLong { len: 4097, .. })
    ));
}

fn any_request() -> impl Strategy<Value = Request> {
    let flag = prop::sample::select(StopConnFlag::ALL.to_vec());
    let param = prop::sample::select(Param::ALL.to_vec());
    prop_oneof![
        (any::<u32>(), any::<u16>(), any::<u16>()).prop_map(|(a, b, c)| Request::CreateSession {
            initial_cmdsn: a,
            cmds_max: b,
            queue_depth: c
        }),
        any::<u32>().prop_map(|sid| Request::DestroySession { sid }),
        (any::<u32>(), any::<u32>()).prop_map(|(sid, cid)| Request::CreateConn { sid, cid }),
        (any::<u32>(), any::<u32>()).prop_map(|(sid, cid)| Request::DestroyConn { sid, cid }),
        (any::<u32>(), any::<u32>()).prop_map(|(sid, cid)| Request::StartConn { sid, cid }),
        (any::<u32>(), any::<u32>(), any::<u64>(), any::<bool>()).prop_map(|(s, c, e, l)| {
            Request::BindConn { sid: s, cid: c, transport_eph: e, is_leading: l }
        }),
        (any::<u32>(), any::<u32>(), param, "[^\0]{0,64}")
            .prop_map(|(s, c, p, v)| { Request::SetParam { sid: s, cid: c, param: p, value: v } }),
        (any::<u32>(), any::<u32>(), flag).prop_map(|(sid, cid, flag)| Request::StopConn {
            sid,
            cid,
            flag
        }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_datagram(&bytes);
        let _ = Event::parse(&bytes);
        let _ = RawUevent::parse(&bytes);
        for t in UeventType::ALL {
            let _ = Reply::parse(*t, &bytes);
        }
    }

    #[test]
    fn framed_garbage_never_panics(
        kind in 0u32..120,
        nl_type in prop::sample::select(vec![0u16, 1, 2, 3, 4, 11, 13, 16, 43, 99, 102]),
        body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut payload = body;
        if payload.len() >= 4 {
            payload[..4].copy_from_slice(&kind.to_ne_bytes());
        }
        let mut msg = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        msg.extend_from_slice(&nl_type.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&payload);
        let _ = decode_datagram(&msg);
    }

    #[test]
    fn requests_read_back(req in any_request(), handle in any::<u64>()) {
        let bytes = req.to_bytes(handle).unwrap();
        prop_assert_eq!(bytes.len(), req.encoded_len());
        let raw = RawUevent::parse(&bytes).unwrap();
        prop_assert_eq!(raw.kind, req.event_type().code());
        prop_assert_eq!(raw.transport_handle, handle);
        prop_assert_eq!(raw.iferror, 0);
        prop_assert_eq!(raw.r, [0; 16]);
        if let Request::SetParam { param, value, sid, cid } = &req {
            prop_assert_eq!(raw.u_u32(offset::U_SID), *sid);
            prop_assert_eq!(raw.u_u32(offset::U_CID), *cid);
            prop_assert_eq!(raw.u_u32(offset::SET_PARAM_PARAM), param.code());
            prop_assert_eq!(raw.u_u32(offset::SET_PARAM_LEN) as usize, value.len() + 1);
            prop_assert_eq!(&raw.data[..value.len()], value.as_bytes());
            prop_assert_eq!(raw.data.last(), Some(&0));
        }
        // The kernel's success reply is the request echoed: it must read back as one.
        let reply = Reply::parse(req.event_type(), &bytes).unwrap();
        let ok = matches!(reply, Reply::Done { retcode: 0 }
            | Reply::SessionCreated { .. } | Reply::ConnCreated { .. });
        prop_assert!(ok);
    }
}

#[test]
fn send_pdu_puts_the_header_and_data_after_the_struct() {
    let mut header = [0u8; 48];
    header[0] = 0x46; // immediate Logout Request
    let req = Request::SendPdu { sid: 3, cid: 1, header, data: vec![9, 8, 7] };
    let bytes = req.to_bytes(0x1234).unwrap();
    assert_eq!(bytes.len(), UEVENT_SIZE + 48 + 3);
    let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 19, "ISCSI_UEVENT_SEND_PDU");
    assert_eq!((u32_at(16), u32_at(20), u32_at(24), u32_at(28)), (3, 1, 48, 3));
    assert_eq!(bytes[56], 0x46);
    assert_eq!(&bytes[104..], &[9, 8, 7]);
}
