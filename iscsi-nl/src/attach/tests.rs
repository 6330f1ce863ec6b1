use super::*;
use std::fs;

/// A fresh directory under the system's temporary one.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iscsi-nl-attach-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn url(portal: &str, target: &str, lun: u64) -> IscsiUrl {
    IscsiUrl { portal: portal.into(), target: target.into(), lun }
}

#[test]
fn urls() {
    assert_eq!(
        "iscsi://127.0.0.1:3261/iqn.2026-11.x:t/2".parse::<IscsiUrl>().unwrap(),
        url("127.0.0.1:3261", "iqn.2026-11.x:t", 2)
    );
    assert_eq!("iscsi://[::1]/iqn.x/0".parse::<IscsiUrl>().unwrap(), url("[::1]", "iqn.x", 0));
    for bad in ["http://h/t/0", "iscsi://h/t", "iscsi://h/t/x", "iscsi:///t/0"] {
        assert!(bad.parse::<IscsiUrl>().is_err(), "{bad}");
    }
    let u = "iscsi://[::1]:3261/iqn.x:y/7";
    assert_eq!(u.parse::<IscsiUrl>().unwrap().to_string(), u);
}

#[test]
fn a_bad_url_fails_before_anything_is_touched() {
    let e = attach("iscsi://h/t", &AttachOptions::default()).unwrap_err();
    assert!(matches!(e, AttachError::BadUrl(_)), "{e}");
    assert_eq!(e.to_string(), "\"iscsi://h/t\" is not iscsi://HOST[:PORT]/TARGET-IQN/LUN");
}

#[test]
fn initiator_names() {
    let file = "# a comment\n#InitiatorName=iqn.no\n  InitiatorName=iqn.1993-08.org.debian:01:ab\n";
    assert_eq!(initiator_name_in(file).as_deref(), Some("iqn.1993-08.org.debian:01:ab"));
    assert_eq!(initiator_name_in("# InitiatorName=iqn.x\n"), None);
    assert_eq!(iqn_for_host("Build_Host.lan\n"), "iqn.2026-11.rs.tcmu:build-host.lan");
}

#[test]
fn the_state_dir_tells_our_sessions() {
    let dir = scratch("state");
    let state = dir.join("iscsi");
    remember(&state, 4, "iqn.x:a", [0x80, 0x12, 0x34, 0x56, 0, 0x0a], false);
    assert!(made_by_us(&state, 4, "iqn.x:a"));
    // The ISID is noted for the supervisor's re-logins; a note without one (older) reads.
    let isid = Some([0x80, 0x12, 0x34, 0x56, 0, 0x0a]);
    assert_eq!(noted(&state, 4), Some(("iqn.x:a".to_string(), isid)));
    fs::write(state.join("session6"), "iqn.x:c").unwrap();
    assert_eq!(noted(&state, 6), Some(("iqn.x:c".to_string(), None)));
    assert!(made_by_us(&state, 6, "iqn.x:c"));
    fs::write(state.join("session7"), "iqn.x:d\nisid 80123456zz0a\n").unwrap();
    assert_eq!(noted(&state, 7), Some(("iqn.x:d".to_string(), None)));
    fs::write(state.join("session8"), "iqn.x:e\nisid +f123456780a\n").unwrap();
    assert_eq!(noted(&state, 8), Some(("iqn.x:e".to_string(), None)));
    // A claim by this process is not another's; one by a live other process (pid 1) is; one
    // by a process that is gone is not.
    claim(&state, 4);
    claim(&state, 4);
    assert!(!claimed_by_another(&state, 4));
    let me = format!("supervisor {}", std::process::id());
    let text = fs::read_to_string(state.join("session4")).unwrap();
    assert_eq!(text.lines().filter(|l| *l == me).count(), 1, "{text}");
    // A claim never brings back a file a logout removed.
    claim(&state, 5);
    assert!(!state.join("session5").exists());
    assert!(made_by_us(&state, 4, "iqn.x:a"));
    fs::write(state.join("session9"), "iqn.x:f\nsupervisor 1\n").unwrap();
    assert!(claimed_by_another(&state, 9));
    fs::write(state.join("session9"), "iqn.x:f\nsupervisor 4194304999\n").unwrap();
    assert!(!claimed_by_another(&state, 9));
    // A reused session number to another target, or one never noted, is not ours.
    assert!(!made_by_us(&state, 4, "iqn.x:b"));
    assert!(!made_by_us(&state, 5, "iqn.x:a"));
    forget(&state, 4);
    assert!(!made_by_us(&state, 4, "iqn.x:a"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_lun_of_a_disk_is_read_from_its_scsi_address() {
    let sysfs = scratch("lun");
    let class = sysfs.join("class/block/sdc");
    fs::create_dir_all(&class).unwrap();
    std::os::unix::fs::symlink("../../../devices/x/7:0:0:12", class.join("device")).unwrap();
    assert_eq!(lun_of(&sysfs, 7, Path::new("/dev/sdc")), Some(12));
    // Another host's disk, or a disk sysfs does not know, has no LUN here.
    assert_eq!(lun_of(&sysfs, 17, Path::new("/dev/sdc")), None);
    assert_eq!(lun_of(&sysfs, 7, Path::new("/dev/sdd")), None);
    fs::remove_dir_all(&sysfs).unwrap();
}

#[test]
fn a_mounted_or_held_disk_is_busy() {
    let sysfs = scratch("busy");
    let block = sysfs.join("block/sdc");
    fs::create_dir_all(block.join("holders")).unwrap();
    fs::write(block.join("dev"), "8:32\n").unwrap();
    fs::create_dir_all(block.join("sdc1")).unwrap();
    fs::write(block.join("sdc1/dev"), "8:33\n").unwrap();
    let disk = Path::new("/dev/sdc");
    let other = "36 25 8:1 / / rw - ext4 /dev/sda1 rw\n";
    assert_eq!(busy(&sysfs, disk, other), None);
    // Its partition is mounted.
    let mounted = format!("{other}40 25 8:33 / /mnt/i rw - ext4 /dev/sdc1 rw\n");
    let b = busy(&sysfs, disk, &mounted).unwrap();
    assert_eq!(b, Busy::Mounted { disk: disk.into(), at: "/mnt/i".into() });
    assert_eq!(b.to_string(), "/dev/sdc is mounted on /mnt/i: unmount it first");
    // Held by LVM: said before any mount.
    fs::create_dir_all(block.join("holders/dm-0")).unwrap();
    assert_eq!(busy(&sysfs, disk, &mounted), Some(Busy::Held(disk.into())));
    fs::remove_dir_all(&sysfs).unwrap();
}
