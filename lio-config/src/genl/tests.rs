//! The TCM-USER family against byte fixtures built as the kernel builds its messages
//! (`genlmsg_put` + `nla_put_*`), without the kernel.

use super::*;
use netlink_packet_core::NLMSG_ERROR;
use proptest::prelude::*;

/// The family id the fixtures use (dynamic in the kernel).
const FAM: u16 = 0x1a;

/// An attribute as `nla_put` writes it: length (header + value, without padding), kind,
/// value, padding to 4 bytes.
fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut v = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(value);
    v.resize((v.len() + 3) & !3, 0);
    v
}

/// A message as the kernel multicasts it: nlmsghdr (type `family`, flags, seq and port 0),
/// genlmsghdr (cmd, version 2, reserved 0), attributes.
fn kernel_msg(family: u16, cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = [vec![cmd, 2, 0, 0], attrs.concat()].concat();
    let mut v = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
    v.extend_from_slice(&family.to_ne_bytes());
    v.extend_from_slice(&[0; 10]);
    v.extend_from_slice(&body);
    v
}

fn device(name: &str) -> Vec<u8> {
    nla(ATTR_DEVICE, &[name.as_bytes(), b"\0"].concat())
}

fn minor(m: u32) -> Vec<u8> {
    nla(ATTR_MINOR, &m.to_ne_bytes())
}

fn device_id(id: u32) -> Vec<u8> {
    nla(ATTR_DEVICE_ID, &id.to_ne_bytes())
}

fn event(kind: EventKind, name: &str, minor: u32, device_id: u32) -> DeviceEvent {
    DeviceEvent { kind, uio_name: name.into(), minor, device_id }
}

/// The three events of one datagram, and the events they are.
fn datagram() -> (Vec<u8>, Vec<DeviceEvent>) {
    let bytes = [
        kernel_msg(FAM, 1, &[device("tcm-user/1/d0/file/a"), minor(0), device_id(3)]),
        // Another family's message is skipped.
        kernel_msg(FAM + 1, 1, &[device("other"), minor(9), device_id(9)]),
        kernel_msg(
            FAM,
            3,
            &[
                device("tcm-user/1/d0/file/a"),
                minor(0),
                nla(3, &[]),
                nla(ATTR_DEV_SIZE, &(1u64 << 40).to_ne_bytes()),
                device_id(3),
            ],
        ),
        kernel_msg(FAM, 2, &[device("tcm-user/2/d1"), minor(1), device_id(4)]),
    ]
    .concat();
    let events = vec![
        event(EventKind::Added, "tcm-user/1/d0/file/a", 0, 3),
        event(EventKind::Reconfig(Reconfig::Size(1 << 40)), "tcm-user/1/d0/file/a", 0, 3),
        event(EventKind::Removed, "tcm-user/2/d1", 1, 4),
    ];
    (bytes, events)
}

fn ok_events(results: Vec<Result<DeviceEvent, GenlError>>) -> Vec<DeviceEvent> {
    results.into_iter().filter_map(Result::ok).collect()
}

#[cfg(target_endian = "little")]
#[test]
fn added_event_as_the_kernel_sends_it() {
    let bytes = [
        &[0x38, 0, 0, 0, 0x1a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        &[1, 2, 0, 0],
        &[0x14, 0, 1, 0],
        b"tcm-user/1/d0/f\0",
        &[8, 0, 2, 0, 3, 0, 0, 0],
        &[8, 0, 8, 0, 7, 0, 0, 0],
    ]
    .concat();
    let got: Vec<_> = parse_events(&bytes, 0x1a).into_iter().map(Result::unwrap).collect();
    assert_eq!(got, vec![event(EventKind::Added, "tcm-user/1/d0/f", 3, 7)]);
    assert_eq!(got[0].reply_command(), 4);
    assert_eq!(parse_events(&bytes, 0x1b).len(), 0, "another family's id");
}

#[test]
fn messages_of_one_datagram_are_all_read_and_others_skipped() {
    let (bytes, events) = datagram();
    let got: Vec<_> = parse_events(&bytes, FAM).into_iter().map(Result::unwrap).collect();
    assert_eq!(got, events);
    let commands: Vec<u8> = got.iter().map(DeviceEvent::reply_command).collect();
    assert_eq!(commands, [4, 6, 5]);
}

#[test]
fn reconfig_carries_one_setting_and_unknown_attributes_are_skipped() {
    let parse = |extra: Vec<Vec<u8>>| {
        let mut attrs = vec![device("tcm-user/1/d0/file/a"), minor(2)];
        attrs.extend(extra);
        attrs.push(device_id(5));
        let mut r = parse_events(&kernel_msg(FAM, 3, &attrs), FAM);
        assert_eq!(r.len(), 1);
        match r.pop().unwrap().unwrap() {
            DeviceEvent { kind: EventKind::Reconfig(c), minor: 2, device_id: 5, .. } => c,
            other => panic!("{other:?}"),
        }
    };
    // `echo file/b > dev_config` writes the newline; nla_put_string adds the NUL.
    assert_eq!(
        parse(vec![nla(42, b"xyz"), nla(ATTR_DEV_CFG, b"file/b\n\0")]),
        Reconfig::Config("file/b".into())
    );
    assert_eq!(parse(vec![nla(ATTR_DEV_CFG, b"file/b\n\0\0")]), Reconfig::Config("file/b".into()));
    assert_eq!(
        parse(vec![nla(3, &[]), nla(ATTR_DEV_SIZE, &4096u64.to_ne_bytes())]),
        Reconfig::Size(4096)
    );
    assert_eq!(parse(vec![nla(ATTR_WRITECACHE, &[1])]), Reconfig::WriteCache(true));
    assert_eq!(parse(vec![nla(ATTR_WRITECACHE, &[0])]), Reconfig::WriteCache(false));
    assert_eq!(parse(vec![nla(42, &[1, 2, 3, 4, 5])]), Reconfig::Unknown);
}

#[test]
fn an_event_missing_an_attribute_is_an_error_keeping_what_answers_it() {
    let one = |attrs: &[Vec<u8>]| {
        let mut r = parse_events(&kernel_msg(FAM, 1, attrs), FAM);
        assert_eq!(r.len(), 1);
        r.pop().unwrap().unwrap_err()
    };
    let e = one(&[device("tcm-user/1/d0"), minor(0)]);
    assert!(
        matches!(e, GenlError::BadEvent { command: 1, device_id: None, ref reason } if reason.contains("DEVICE_ID")),
        "{e}"
    );
    let e = one(&[minor(0), device_id(7)]);
    assert!(matches!(e, GenlError::BadEvent { command: 1, device_id: Some(7), .. }), "{e}");
    let e = one(&[device("tcm-user/1/d0"), device_id(7)]);
    assert!(
        matches!(e, GenlError::BadEvent { device_id: Some(7), ref reason, .. } if reason.contains("MINOR")),
        "{e}"
    );
    // A MINOR of 2 bytes: refused, yet DEVICE_ID after it is still found.
    let e = one(&[device("tcm-user/1/d0"), nla(ATTR_MINOR, &[0, 0]), device_id(7)]);
    assert!(matches!(e, GenlError::BadEvent { device_id: Some(7), .. }), "{e}");
    // A name that is not UTF-8.
    let e = one(&[nla(ATTR_DEVICE, b"\xff\0"), minor(0), device_id(7)]);
    assert!(matches!(e, GenlError::BadEvent { device_id: Some(7), .. }), "{e}");
    // Everything there, but a setting that cannot be read: no guess at what was asked.
    let e = parse_events(
        &kernel_msg(
            FAM,
            3,
            &[device("tcm-user/1/d0"), minor(0), nla(ATTR_DEV_SIZE, &[0; 4]), device_id(7)],
        ),
        FAM,
    )
    .pop()
    .unwrap()
    .unwrap_err();
    assert!(matches!(e, GenlError::BadEvent { command: 3, device_id: Some(7), .. }), "{e}");
    // A command the kernel never multicasts.
    let mut r = parse_events(&kernel_msg(FAM, 4, &[device("x"), minor(0), device_id(7)]), FAM);
    assert!(matches!(r.pop(), Some(Err(GenlError::BadEvent { command: 4, .. }))));
}

#[test]
fn every_truncation_gives_errors_or_fewer_events() {
    let (bytes, events) = datagram();
    for len in 0..bytes.len() {
        let got = parse_events(&bytes[..len], FAM);
        let ok = ok_events(got);
        assert!(ok.len() < events.len(), "{len} bytes gave {ok:?}");
        assert_eq!(ok[..], events[..ok.len()], "{len} bytes: what is read is right");
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bytes in [
        &[][..],
        &[0; 3],
        &[0; 16],
        &[0xff; 40],
        // nlmsg_len 16 with our type: no genl header.
        &[16, 0, 0, 0, 0x1a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        assert!(ok_events(parse_events(bytes, FAM)).is_empty());
    }
    // An attribute whose length runs past the message.
    let mut bytes = kernel_msg(FAM, 1, &[device("tcm-user/1/d0"), minor(0), device_id(1)]);
    let at = 20; // the first attribute's length
    bytes[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
    assert!(matches!(parse_events(&bytes, FAM).pop(), Some(Err(GenlError::BadEvent { .. }))));
}

proptest! {
    #[test]
    fn random_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let got = parse_events(&bytes, FAM);
        prop_assert!(got.len() <= bytes.len() / 16 + 1);
    }

    /// Random attributes behind a valid header of our family, so the attribute parser runs.
    #[test]
    fn random_attributes_never_panic(
        cmd in 0u8..8,
        attrs in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = kernel_msg(FAM, cmd, &[]);
        bytes.extend_from_slice(&attrs);
        let len = bytes.len() as u32;
        bytes[..4].copy_from_slice(&len.to_ne_bytes());
        prop_assert_eq!(parse_events(&bytes, FAM).len(), 1);
    }

    /// Valid attributes of any kind and value, in any order.
    #[test]
    fn random_attribute_lists_never_panic(
        attrs in proptest::collection::vec((0u16..12, proptest::collection::vec(any::<u8>(), 0..12)), 0..8),
    ) {
        let attrs: Vec<Vec<u8>> = attrs.iter().map(|(k, v)| nla(*k, v)).collect();
        let r = parse_events(&kernel_msg(FAM, 3, &attrs), FAM);
        prop_assert_eq!(r.len(), 1);
    }
}

#[cfg(target_endian = "little")]
#[test]
fn reply_bytes() {
    let ev = event(EventKind::Added, "tcm-user/1/d0/f", 3, 7);
    let want = [
        &[0x24, 0, 0, 0, 0x1a, 0, 0x05, 0, 0x2a, 0, 0, 0, 0, 0, 0, 0][..],
        &[4, 2, 0, 0],
        &[8, 0, 7, 0, 0xfe, 0xff, 0xff, 0xff],
        &[8, 0, 8, 0, 7, 0, 0, 0],
    ]
    .concat();
    assert_eq!(encode_reply(0x1a, &ev, -2, 42), want);
    let removed = encode_reply(0x1a, &event(EventKind::Removed, "", 0, 7), 0, 1);
    assert_eq!(removed[16..20], [5, 2, 0, 0]);
    let reconfig = event(EventKind::Reconfig(Reconfig::Unknown), "", 0, 7);
    assert_eq!(encode_reply(0x1a, &reconfig, 0, 1)[16..20], [6, 2, 0, 0]);
    // Read back as the kernel would.
    let NetlinkPayload::InnerMessage(m) =
        NetlinkMessage::<GenlMessage<TcmuMessage>>::deserialize(&want).unwrap().payload
    else {
        panic!("not a TCM-USER message");
    };
    assert_eq!(m.payload.attrs, [TcmuAttr::CmdStatus(-2), TcmuAttr::DeviceId(7)]);
}

#[cfg(target_endian = "little")]
#[test]
fn set_features_bytes() {
    let want = [
        &[0x1c, 0, 0, 0, 0x1a, 0, 0x05, 0, 9, 0, 0, 0, 0, 0, 0, 0][..],
        &[7, 2, 0, 0],
        &[5, 0, 9, 0, 1, 0, 0, 0],
    ]
    .concat();
    assert_eq!(encode_set_features(0x1a, true, 9), want);
    assert_eq!(encode_set_features(0x1a, false, 9)[24], 0);
}

/// nlctrl's answer to GETFAMILY as the kernel builds it (`ctrl_fill_info`), with an attribute
/// kind newer than this code.
fn family_answer(groups: &[(&str, u32)]) -> Vec<u8> {
    let groups: Vec<Vec<u8>> = groups
        .iter()
        .enumerate()
        .map(|(i, (name, id))| {
            let inner = [
                nla(CTRL_ATTR_MCAST_GRP_ID, &id.to_ne_bytes()),
                nla(CTRL_ATTR_MCAST_GRP_NAME, &[name.as_bytes(), b"\0"].concat()),
            ]
            .concat();
            nla(i as u16 + 1, &inner)
        })
        .collect();
    kernel_msg(
        netlink_packet_generic::constants::GENL_ID_CTRL,
        1, // CTRL_CMD_NEWFAMILY
        &[
            nla(2, b"TCM-USER\0"),
            nla(CTRL_ATTR_FAMILY_ID, &FAM.to_ne_bytes()),
            nla(3, &2u32.to_ne_bytes()),
            nla(99, b"future"),
            nla(CTRL_ATTR_MCAST_GROUPS, &groups.concat()),
        ],
    )
}

/// An `NLMSG_ERROR` carrying `code` (0 = ACK) and the request's header.
fn error_msg(code: i32) -> Vec<u8> {
    let mut v = 36u32.to_ne_bytes().to_vec();
    v.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
    v.extend_from_slice(&[0; 10]);
    v.extend_from_slice(&code.to_ne_bytes());
    v.extend_from_slice(&[0; 16]);
    v
}

#[test]
fn the_family_and_group_come_from_nlctrl() {
    let answer = family_answer(&[("other", 4), ("config", 11)]);
    assert_eq!(family_from_answer(&answer, GROUP_NAME).unwrap(), (FAM, 11));
    let answer = family_answer(&[("other", 4)]);
    assert!(matches!(family_from_answer(&answer, GROUP_NAME), Err(GenlError::NoGroup)));
    let e = family_from_answer(&error_msg(-2), GROUP_NAME).unwrap_err();
    assert!(matches!(e, GenlError::ModuleNotLoaded), "{e}");
    assert!(e.to_string().contains("modprobe target_core_user"), "{e}");
    let e = family_from_answer(&error_msg(-13), GROUP_NAME).unwrap_err();
    assert!(matches!(e, GenlError::Kernel { errno: 13, .. }), "{e}");
}

#[test]
fn acks_name_what_to_do() {
    assert_eq!(ack_outcome(&error_msg(0), "op", 19).unwrap(), None);
    assert_eq!(ack_outcome(&error_msg(-19), "op", 19).unwrap(), Some(19));
    let e = ack_outcome(&error_msg(-1), "op", 19).unwrap_err();
    assert!(matches!(e, GenlError::NotPermitted { .. }), "{e}");
    assert!(e.to_string().contains("CAP_NET_ADMIN"), "{e}");
    let e = ack_outcome(&error_msg(-22), "op", 19).unwrap_err();
    assert!(matches!(e, GenlError::Kernel { errno: 22, .. }), "{e}");
    let e = ack_outcome(&kernel_msg(FAM, 4, &[]), "op", 19).unwrap_err();
    assert!(matches!(e, GenlError::Malformed(_)), "{e}");
}

#[test]
fn open_without_the_module_says_to_load_it() {
    if Path::new("/sys/module/target_core_user").exists() {
        eprintln!("skipped: target_core_user is loaded");
        return;
    }
    let e = TcmuNetlink::open().unwrap_err();
    assert!(matches!(e, GenlError::ModuleNotLoaded), "{e}");
}

/// Sockets of the generic netlink protocol, not joined to any group: the kernel part that
/// does not need target_core_user.
fn unjoined() -> TcmuNetlink {
    let socket = || {
        let mut s = Socket::new(NETLINK_GENERIC).unwrap();
        s.bind_auto().unwrap();
        s
    };
    let control = socket();
    control.connect(&SocketAddr::new(0, 0)).unwrap();
    let events = socket();
    events.set_non_blocking(true).unwrap();
    TcmuNetlink { events, control, family: FAM, seq: AtomicU32::new(1) }
}

#[test]
fn nlctrl_answers_on_the_control_socket() {
    let nl = unjoined();
    // nlctrl registers itself (id 16) with its group "notify".
    let (id, _group) = resolve(&nl.control, 77, "nlctrl", "notify").unwrap();
    assert_eq!(id, netlink_packet_generic::constants::GENL_ID_CTRL);
    let e = resolve(&nl.control, 78, "no-such-family", "x").unwrap_err();
    assert!(matches!(e, GenlError::ModuleNotLoaded), "{e}");
}

/// The control path against the kernel, without TCM-USER: the kernel acknowledges a message
/// of type 0 (below `NLMSG_MIN_TYPE`) without acting on it, so a "family" of 0 gets each
/// request sent and its ACK read.
#[test]
fn requests_are_sent_and_their_acks_read() {
    let nl = TcmuNetlink { family: 0, ..unjoined() };
    assert!(nl.set_features(true).unwrap());
    let ev = event(EventKind::Removed, "tcm-user/1/d0", 0, 7);
    assert_eq!(nl.reply(&ev, 0).unwrap(), Replied::Accepted);
    assert_eq!(nl.reply_to(3, 7, -95).unwrap(), Replied::Accepted);
    // No reply exists to anything but an event: nothing is sent.
    for cmd in [0, 4, 7, 255] {
        let e = nl.reply_to(cmd, 7, 0).unwrap_err();
        assert!(matches!(e, GenlError::BadEvent { device_id: Some(7), .. }), "{cmd}: {e}");
    }
}

#[test]
fn silence_is_no_events() {
    let nl = unjoined();
    let start = Instant::now();
    assert!(nl.recv(Duration::from_millis(30)).unwrap().is_empty());
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(25) && waited < Duration::from_secs(2), "{waited:?}");
}

/// A temporary folder standing for the module's parameters.
struct Params {
    dir: PathBuf,
    params: ModuleParams,
}

impl Params {
    fn new(tag: &str, files: &[(&str, &str)]) -> Params {
        let dir =
            std::env::temp_dir().join(format!("lio-config-genl-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, value) in files {
            fs::write(dir.join(name), value).unwrap();
        }
        Params { params: ModuleParams::new(&dir), dir }
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap()
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn module_parameters() {
    let p = Params::new("set", &[("block_netlink", ""), ("reset_netlink", "")]);
    p.params.block_netlink(true).unwrap();
    p.params.reset_netlink().unwrap();
    p.params.block_netlink(false).unwrap();
    assert_eq!(p.read("block_netlink"), "10");
    assert_eq!(p.read("reset_netlink"), "1");

    let p = Params::new("get", &[("block_netlink", "blocked\n")]);
    assert!(p.params.netlink_blocked().unwrap());
    fs::write(p.dir.join("block_netlink"), "unblocked\n").unwrap();
    assert!(!p.params.netlink_blocked().unwrap());
    fs::write(p.dir.join("block_netlink"), "1\n").unwrap();
    let e = p.params.netlink_blocked().unwrap_err();
    assert!(matches!(e, GenlError::ParamValue { .. }), "{e}");
}

#[test]
fn missing_module_parameters_are_their_own_error() {
    let p = Params::new("missing", &[]);
    let e = p.params.block_netlink(true).unwrap_err();
    assert!(
        matches!(e, GenlError::ParamMissing { ref path } if path.ends_with("block_netlink")),
        "{e}"
    );
    assert!(matches!(p.params.reset_netlink(), Err(GenlError::ParamMissing { .. })));
    assert!(matches!(p.params.netlink_blocked(), Err(GenlError::ParamMissing { .. })));
    // Never created: the kernel's files exist or the feature does not.
    assert!(!p.dir.join("block_netlink").exists());
    assert_eq!(ModuleParams::system().root, Path::new("/sys/module/target_core_user/parameters"));
}
