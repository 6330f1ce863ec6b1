//! What runs without root or the kernel modules: sysfs against fake trees, and the
//! parameters a session gives the kernel.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::keys::SessionParams;
use crate::netlink::Param;
use crate::pdu::{Digest, Digests};

/// A fresh empty folder under the system's temporary one.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "iscsi-nl-kernel-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn transport_handle_from_sysfs() {
    let sys = TempDir::new();
    let err = transport_handle(&sys.0, "tcp").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("iscsi_tcp"), "{err}");
    let path = transport_handle_path(&sys.0, "tcp");
    assert!(path.ends_with("class/iscsi_transport/tcp/handle"));
    write(&path, "18446744072641543808\n");
    assert_eq!(transport_handle(&sys.0, "tcp").unwrap(), 18_446_744_072_641_543_808);
    write(&path, "oops\n");
    let err = transport_handle(&sys.0, "tcp").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

fn session() -> Session {
    let params = SessionParams {
        max_recv_data_segment_length: 262_144,
        target_max_recv_data_segment_length: 65_536,
        immediate_data: true,
        initial_r2t: false,
        max_outstanding_r2t: 3,
        target_portal_group_tag: Some(1),
        target_alias: Some("disk-a".into()),
        ..SessionParams::default()
    };
    Session {
        params,
        isid: [0x80, 0x12, 0x34, 0x56, 0x78, 0x9a],
        tsih: 0x0100,
        cid: 0,
        cmd_sn: 5,
        stat_sn: 41,
        exp_stat_sn: 42,
        exp_cmd_sn: 5,
        max_cmd_sn: 36,
        next_itt: 2,
        digests: Digests { header: Digest::Crc32c, data: Digest::None },
    }
}

#[test]
fn params_of_a_session() {
    let portal: SocketAddr = "192.0.2.7:3260".parse().unwrap();
    let list = kernel_params(
        &session(),
        "iqn.2024-01.org.example:disk",
        "iqn.2024-01.org.example:host",
        portal,
        &Timeouts::default(),
    );
    let got: Vec<(Param, &str, bool)> =
        list.iter().map(|p| (p.param, p.value.as_str(), p.required)).collect();
    let want = vec![
        (Param::MaxRecvDlength, "262144", true),
        (Param::MaxXmitDlength, "65536", true),
        (Param::HdrdgstEn, "1", true),
        (Param::DatadgstEn, "0", true),
        (Param::InitialR2tEn, "0", true),
        (Param::MaxR2t, "2", true),
        (Param::ImmDataEn, "1", true),
        (Param::FirstBurst, "65536", true),
        (Param::MaxBurst, "262144", true),
        (Param::PduInorderEn, "1", true),
        (Param::DataseqInorderEn, "1", true),
        (Param::Erl, "0", true),
        (Param::ExpStatsn, "42", true),
        (Param::TargetName, "iqn.2024-01.org.example:disk", true),
        (Param::Tpgt, "1", true),
        (Param::PersistentAddress, "192.0.2.7", true),
        (Param::PersistentPort, "3260", true),
        (Param::SessRecoveryTmo, "120", true),
        (Param::AbortTmo, "15", true),
        (Param::LuResetTmo, "30", true),
        (Param::TgtResetTmo, "30", true),
        (Param::PingTmo, "5", true),
        (Param::RecvTmo, "5", true),
        (Param::InitiatorName, "iqn.2024-01.org.example:host", true),
        (Param::TargetAlias, "disk-a", true),
        (Param::Isid, "80123456789a", false),
        (Param::DefTime2wait, "2", false),
        (Param::DefTime2retain, "20", false),
    ];
    assert_eq!(got, want);
    // Every value is one the kernel takes: no NUL, within a page.
    for p in &list {
        let req = crate::netlink::Request::SetParam {
            sid: 1,
            cid: 0,
            param: p.param,
            value: p.value.clone(),
        };
        req.validate().unwrap();
    }
}

#[test]
fn params_without_tpgt_or_alias_and_ipv6_portal() {
    let mut s = session();
    s.params.target_portal_group_tag = None;
    s.params.target_alias = None;
    s.params.max_outstanding_r2t = 1;
    let portal: SocketAddr = "[2001:db8::1]:3261".parse().unwrap();
    let list = kernel_params(&s, "t", "i", portal, &Timeouts::default());
    assert!(list.iter().all(|p| p.param != Param::Tpgt));
    assert!(list.iter().all(|p| p.param != Param::TargetAlias));
    let value = |param| list.iter().find(|p| p.param == param).map(|p| p.value.clone());
    assert_eq!(value(Param::PersistentAddress).as_deref(), Some("2001:db8::1"));
    assert_eq!(value(Param::PersistentPort).as_deref(), Some("3261"));
    assert_eq!(value(Param::MaxR2t).as_deref(), Some("1"));
}

#[test]
fn helpers() {
    assert_eq!(isid_hex([0x40, 0, 0, 0, 0, 1]), "400000000001");
    for (n, want) in [(0, 1), (1, 1), (2, 2), (3, 2), (4, 4), (1000, 512), (65535, 32768)] {
        assert_eq!(params::power_of_two_at_most(n), want, "{n}");
    }
    let h = HandOff::new("t", "i", "127.0.0.1:3260".parse().unwrap());
    assert_eq!((h.cmds_max, h.queue_depth), (128, 32));
}

/// A fake SCSI host 3 with a session, a target and these LUNs with block devices.
fn fake_host(sys: &Path, luns: &[(u32, &str)]) {
    let host = scsi_host_path(sys, 3);
    write(&host.join("scan"), "");
    for (lun, disk) in luns {
        let dir = host
            .join("device/session1/target3:0:0")
            .join(format!("3:0:0:{lun}"))
            .join("block")
            .join(disk);
        fs::create_dir_all(dir).unwrap();
    }
    // Noise that is not a disk of host 3.
    fs::create_dir_all(host.join("device/power")).unwrap();
    fs::create_dir_all(host.join("device/session1/target3:0:0/subsystem")).unwrap();
}

#[test]
fn scan_writes_and_finds_disks() {
    let sys = TempDir::new();
    fake_host(&sys.0, &[(1, "sdc"), (0, "sdb")]);
    let disks = scan_and_find_disks(&sys.0, 3, Duration::from_secs(2)).unwrap();
    assert_eq!(disks, vec![PathBuf::from("/dev/sdb"), PathBuf::from("/dev/sdc")]);
    let scan = fs::read_to_string(scsi_host_path(&sys.0, 3).join("scan")).unwrap();
    assert_eq!(scan, "- - -");
}

#[test]
fn scan_without_luns_gives_up_in_time() {
    let sys = TempDir::new();
    fake_host(&sys.0, &[]);
    let start = Instant::now();
    let disks = scan_and_find_disks(&sys.0, 3, Duration::from_millis(250)).unwrap();
    assert!(disks.is_empty());
    assert!(start.elapsed() < Duration::from_secs(2));
    // No such host: the scan file cannot be written.
    assert!(scan_and_find_disks(&sys.0, 9, Duration::from_millis(10)).is_err());
}

#[test]
fn host_gone() {
    let sys = TempDir::new();
    fake_host(&sys.0, &[(0, "sdb")]);
    assert!(!wait_host_gone(&sys.0, 3, Duration::from_millis(150)));
    fs::remove_dir_all(scsi_host_path(&sys.0, 3)).unwrap();
    assert!(wait_host_gone(&sys.0, 3, Duration::from_millis(150)));
}
