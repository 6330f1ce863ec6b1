//! lio-config against a temporary folder standing for /sys/kernel/config/target and /sys.

use lio_config::{ConfigFs, Error, IscsiAccess, UserBackstoreSpec, naa_wwn};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

struct Tree {
    dir: PathBuf,
    cfs: ConfigFs,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("lio-config-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("target/core")).unwrap();
        fs::create_dir_all(dir.join("sys")).unwrap();
        let cfs = ConfigFs::at(dir.join("target"), dir.join("sys")).unwrap();
        Tree { dir, cfs }
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.dir.join("target").join(rel)).unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_daemon_served_backstore_lets_enable_wait_for_the_daemon() {
    let t = Tree::new("daemon");
    let mut spec = UserBackstoreSpec::new(2, "d0", 1 << 20, "file//tmp/d0.img");
    spec.daemon = true;
    t.cfs.create_user_backstore(&spec).unwrap();
    assert_eq!(
        t.read("core/user_2/d0/control"),
        "dev_size=1048576dev_config=file//tmp/d0.imghw_block_size=512",
        "no nl_reply_supported=-1: the kernel waits for the daemon's reply"
    );
    assert_eq!(t.read("core/user_2/d0/enable"), "1");
}

#[test]
fn user_backstore_sequence() {
    let t = Tree::new("user");
    let spec = UserBackstoreSpec::new(1, "disk0", 64 << 20, "tcmu-rs/disk0")
        .attribute("cmd_time_out", 30)
        .attribute("emulate_write_cache", 1);
    let store = t.cfs.create_user_backstore(&spec).unwrap();
    assert!(store.exists());
    assert_eq!(store.path(), t.dir.join("target/core/user_1/disk0"));
    // Each token was one write; the folder keeps them in order.
    assert_eq!(
        t.read("core/user_1/disk0/control"),
        "dev_size=67108864dev_config=tcmu-rs/disk0hw_block_size=512nl_reply_supported=-1"
    );
    assert_eq!(t.read("core/user_1/disk0/enable"), "1");
    assert_eq!(store.attribute("cmd_time_out").unwrap(), "30");
    assert_eq!(store.attribute("emulate_write_cache").unwrap(), "1");

    // A second create never clobbers the first.
    let again = t.cfs.create_user_backstore(&spec);
    assert!(
        matches!(again, Err(Error::AlreadyExists(ref p)) if p.ends_with("user_1/disk0")),
        "{again:?}"
    );
    assert_eq!(t.read("core/user_1/disk0/enable"), "1");
    assert!(t.read("core/user_1/disk0/control").starts_with("dev_size=67108864dev_config"));

    store.remove().unwrap();
    assert!(!store.exists());
    assert!(!t.dir.join("target/core/user_1").exists(), "the empty HBA goes too");
    store.remove().unwrap(); // idempotent
}

#[test]
fn names_are_checked() {
    let t = Tree::new("names");
    for bad in ["", "..", "a/b", "../../etc", "x y"] {
        let r = t.cfs.create_user_backstore(&UserBackstoreSpec::new(1, bad, 1 << 20, "tcmu-rs/x"));
        assert!(matches!(r, Err(Error::InvalidName(_))), "{bad:?}: {r:?}");
    }
    assert!(
        !t.dir.join("target/core/user_1").exists()
            || fs::read_dir(t.dir.join("target/core/user_1")).unwrap().count() == 0
    );
}

#[test]
fn missing_target_core_names_the_module() {
    let t = Tree::new("nomod");
    fs::remove_dir_all(t.dir.join("target/core")).unwrap();
    let e = t
        .cfs
        .create_user_backstore(&UserBackstoreSpec::new(1, "d", 1 << 20, "tcmu-rs/d"))
        .unwrap_err();
    assert!(e.to_string().contains("modprobe target_core_mod"), "{e}");
    assert!(Error::NotMounted.to_string().contains("mount -t configfs"));
}

#[test]
fn loopback_lun_and_disk() {
    let t = Tree::new("loop");
    let store = t
        .cfs
        .create_user_backstore(&UserBackstoreSpec::new(2, "d1", 1 << 20, "tcmu-rs/d1"))
        .unwrap();
    let wwn = naa_wwn(0xabc);
    assert_eq!(wwn, "naa.5001405000000abc");
    let lo = t.cfs.create_loopback(&wwn).unwrap();
    assert_eq!(t.read(&format!("loopback/{wwn}/tpgt_1/nexus")), "naa.5001405000000abf");
    lo.add_lun(0, &store).unwrap();
    let link = t.dir.join(format!("target/loopback/{wwn}/tpgt_1/lun/lun_0/d1"));
    assert_eq!(fs::read_link(&link).unwrap(), store.path());
    assert_eq!(lo.lun_targets().unwrap(), vec![store.path().to_path_buf()]);
    assert!(matches!(lo.add_lun(0, &store), Err(Error::AlreadyExists(_))));

    // No disk yet: a bounded wait, then a clear timeout.
    fs::write(t.dir.join(format!("target/loopback/{wwn}/tpgt_1/address")), "3:0:1\n").unwrap();
    let e = lo.wait_for_disk(0, Duration::from_millis(120)).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    // The kernel's disk appears in sysfs.
    fs::create_dir_all(t.dir.join("sys/bus/scsi/devices/3:0:1:0/block/sdq")).unwrap();
    assert_eq!(lo.wait_for_disk(0, Duration::from_secs(1)).unwrap(), PathBuf::from("/dev/sdq"));
    assert_eq!(lo.disk(1).unwrap(), None);

    lo.remove().unwrap();
    assert!(!lo.path().exists());
    lo.remove().unwrap();
    assert!(store.exists(), "removing a target leaves its backstore");
}

#[test]
fn cleanup_removes_only_ours() {
    let t = Tree::new("cleanup");
    let ours = t
        .cfs
        .create_user_backstore(&UserBackstoreSpec::new(1, "ours", 1 << 20, "tcmu-rs/ours"))
        .unwrap();
    let theirs = t
        .cfs
        .create_user_backstore(&UserBackstoreSpec::new(1, "theirs", 1 << 20, "rbd/pool/img"))
        .unwrap();
    // The kernel reports the config in `info`.
    fs::write(ours.path().join("info"), "Status: ACTIVATED  Max DMA Sectors: 2048\n        Config: tcmu-rs/ours Size: 1048576 MaxDataAreaMB: 1024\n").unwrap();
    fs::write(
        theirs.path().join("info"),
        "Status: ACTIVATED\n        Config: rbd/pool/img Size: 1048576\n",
    )
    .unwrap();
    let lo_ours = t.cfs.create_loopback(&naa_wwn(1)).unwrap();
    lo_ours.add_lun(0, &ours).unwrap();
    let lo_theirs = t.cfs.create_loopback(&naa_wwn(2)).unwrap();
    lo_theirs.add_lun(0, &theirs).unwrap();
    // The kernel shows LUN links as relative paths; such a target is found as well.
    let lo_relative = t.cfs.create_loopback(&naa_wwn(3)).unwrap();
    let lun = lo_relative.path().join("tpgt_1/lun/lun_0");
    fs::create_dir_all(&lun).unwrap();
    std::os::unix::fs::symlink("../../../../../core/user_1/ours", lun.join("ours")).unwrap();
    let iscsi = t.cfs.create_iscsi("iqn.2026-11.rs.tcmu:t1", "127.0.0.1:3260").unwrap();
    iscsi.add_lun(0, &ours).unwrap();
    // A target exporting both someone else's backstore and ours loses only our LUN.
    let shared = t.cfs.create_iscsi("iqn.2026-11.example:shared", "127.0.0.1:3261").unwrap();
    shared.add_lun(0, &theirs).unwrap();
    shared.add_lun(1, &ours).unwrap();

    // The fabric's own group is not a target.
    fs::create_dir_all(t.cfs.root().join("loopback/discovery_auth")).unwrap();
    let inv = t.cfs.list().unwrap();
    assert_eq!(inv.user_backstores.len(), 2);
    assert_eq!(inv.loopback.len(), 3);
    assert_eq!(inv.iscsi.len(), 2);

    let removed = t.cfs.cleanup().unwrap();
    assert_eq!(removed.len(), 5, "{removed:?}");
    assert!(!ours.exists() && !lo_ours.path().exists() && !iscsi.path().exists());
    assert!(shared.path().exists(), "a target with someone else's LUN stays");
    assert_eq!(
        shared.lun_targets().unwrap(),
        vec![theirs.path().to_path_buf()],
        "only our LUN went"
    );
    assert!(!lo_relative.path().exists());
    assert!(theirs.exists() && lo_theirs.path().exists(), "someone else's objects stay");
    assert!(t.cfs.cleanup().unwrap().is_empty(), "cleanup is idempotent");
}

#[test]
fn iscsi_target_with_chap() {
    let t = Tree::new("iscsi");
    let store =
        t.cfs.create_user_backstore(&UserBackstoreSpec::new(1, "d", 1 << 20, "tcmu-rs/d")).unwrap();
    let iqn = "iqn.2026-11.rs.tcmu:disk";
    let target = t.cfs.create_iscsi(iqn, "127.0.0.1:3260").unwrap();
    assert!(t.dir.join(format!("target/iscsi/{iqn}/tpgt_1/np/127.0.0.1:3260")).is_dir());
    target.add_lun(0, &store).unwrap();
    let init = "iqn.2026-11.rs.tcmu:initiator";
    target
        .set_access(&IscsiAccess::Chap {
            initiator: init.into(),
            user: "alice".into(),
            secret: "secret-123456".into(),
            mutual: Some(("target".into(), "mutual-654321".into())),
        })
        .unwrap();
    target.enable().unwrap();
    let tpg = format!("iscsi/{iqn}/tpgt_1");
    assert_eq!(t.read(&format!("{tpg}/attrib/authentication")), "1");
    assert_eq!(t.read(&format!("{tpg}/acls/{init}/auth/userid")), "alice");
    assert_eq!(t.read(&format!("{tpg}/acls/{init}/auth/password_mutual")), "mutual-654321");
    assert!(t.dir.join(format!("target/{tpg}/acls/{init}/lun_0/lun")).is_symlink());
    assert_eq!(t.read(&format!("{tpg}/enable")), "1");
    target.remove().unwrap();
    assert!(!target.path().exists());
    target.remove().unwrap();

    let open = t.cfs.create_iscsi("iqn.2026-11.rs.tcmu:open", "127.0.0.1:3261").unwrap();
    open.set_access(&IscsiAccess::Open).unwrap();
    assert_eq!(t.read("iscsi/iqn.2026-11.rs.tcmu:open/tpgt_1/attrib/generate_node_acls"), "1");
    assert_eq!(t.read("iscsi/iqn.2026-11.rs.tcmu:open/tpgt_1/attrib/demo_mode_write_protect"), "0");
}
