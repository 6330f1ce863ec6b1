//! The `tcmu` program on a host without LIO: clear errors that say what to do, never a panic.

use std::process::Command;

fn tcmu(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcmu")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (ok, out, _) = tcmu(&["--help"]);
    assert!(ok);
    for c in ["serve", "list", "cleanup"] {
        assert!(out.contains(c), "{out}");
    }
}

#[test]
fn without_lio_the_errors_say_what_to_do() {
    let on_lio_host = std::path::Path::new("/sys/kernel/config/target/core").is_dir();
    if on_lio_host {
        return; // this host has LIO: the VM tests cover the real thing
    }
    for args in [&["list"][..], &["cleanup"]] {
        let (ok, _, err) = tcmu(args);
        assert!(!ok, "{args:?} should fail without LIO");
        assert!(
            err.contains("mount -t configfs")
                || err.contains("modprobe")
                || err.contains("needs root"),
            "{args:?}: {err}"
        );
    }
    let img = std::env::temp_dir().join(format!("tcmu-cli-{}.img", std::process::id()));
    let (ok, _, err) = tcmu(&["serve", img.to_str().unwrap(), "--size", "1M"]);
    assert!(!ok);
    assert!(
        err.contains("mount -t configfs") || err.contains("modprobe") || err.contains("needs root"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 1 << 20, "the image was created");
    std::fs::remove_file(&img).unwrap();
    let (ok, _, err) = tcmu(&["serve", "/nonexistent/x.img"]);
    assert!(!ok && err.contains("/nonexistent/x.img"), "{err}");
    let (ok, _, err) = tcmu(&["serve", "x.img", "--size", "lots"]);
    assert!(!ok && err.contains("not a number"), "{err}");
}

#[test]
fn bad_block_sizes_and_image_sizes_are_refused_clearly() {
    let img = std::env::temp_dir().join(format!("tcmu-cli-bs-{}.img", std::process::id()));
    std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
    let path = img.to_str().unwrap();
    for bs in ["0", "1000", "2097152", "lots"] {
        let (ok, _, err) = tcmu(&["serve", path, "--block-size", bs]);
        assert!(!ok, "--block-size {bs} accepted");
        assert!(!err.contains("panicked"), "--block-size {bs}: {err}");
        assert!(err.contains("--block-size"), "--block-size {bs}: {err}");
        if bs != "lots" {
            assert!(
                err.contains("is not a power of two from 512 to 65536"),
                "--block-size {bs}: {err}"
            );
        }
    }
    // Smaller than one block, and not a whole number of blocks.
    std::fs::write(&img, vec![0u8; 100]).unwrap();
    let (ok, _, err) = tcmu(&["serve", path]);
    assert!(!ok && err.contains(path) && err.contains("less than one block"), "{err}");
    std::fs::write(&img, vec![0u8; 5000]).unwrap();
    let (ok, _, err) = tcmu(&["serve", path, "--block-size", "4096"]);
    assert!(
        !ok && err.contains(path) && err.contains("not a whole number of 4096-byte blocks"),
        "{err}"
    );
    // --size must be whole blocks as well, for an image as for memory.
    std::fs::remove_file(&img).unwrap();
    let (ok, _, err) = tcmu(&["serve", path, "--size", "1000"]);
    assert!(!ok && err.contains("not a positive multiple"), "{err}");
    assert!(!img.exists(), "nothing created");
    let (ok, _, err) = tcmu(&["serve", "--memory", "--size", "6K", "--block-size", "4096"]);
    assert!(!ok && err.contains("not a positive multiple"), "{err}");
}

#[test]
fn an_image_being_served_is_refused_naming_it_and_its_holder() {
    let img = std::env::temp_dir().join(format!("tcmu-cli-lock-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&img);
    let path = img.to_str().unwrap();
    // This test process stands for the first server.
    let first = tcmu::FileDisk::create(&img, 1 << 20, 512).unwrap();
    for extra in [&[][..], &["--read-only"], &["--size", "2M"]] {
        let mut args = vec!["serve", path, "--name", "second"];
        args.extend_from_slice(extra);
        let (ok, _, err) = tcmu(&args);
        assert!(!ok, "{extra:?}");
        let holder = format!("is in use by process {}", std::process::id());
        assert!(err.contains(path) && err.contains(&holder), "{extra:?}: {err}");
    }
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 1 << 20, "not grown");
    drop(first);
    // Read-only servers share (without LIO here, the serve then fails on configfs; on a host
    // with LIO it would serve until killed, so it is not run there).
    let on_lio_host = std::path::Path::new("/sys/kernel/config/target/core").is_dir();
    if !on_lio_host {
        // A process another test spawns holds a copy of `first`'s descriptor (and lock) from
        // its fork to its exec: wait that out.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let reader = loop {
            match tcmu::FileDisk::open(&img, 512, true) {
                Ok(d) => break d,
                Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let (ok, _, err) = tcmu(&["serve", path, "--read-only"]);
        assert!(!ok && !err.contains("in use"), "{err}");
        drop(reader);
    }
    std::fs::remove_file(&img).unwrap();
}

#[test]
fn crash_test_goes_with_neither_memory_nor_read_only() {
    let img = std::env::temp_dir().join(format!("tcmu-cli-crash-{}.img", std::process::id()));
    std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
    for args in [
        &["serve", "--memory", "--size", "1M", "--crash-test"][..],
        &["serve", img.to_str().unwrap(), "--read-only", "--crash-test"],
    ] {
        let (ok, _, err) = tcmu(args);
        assert!(!ok, "{args:?} accepted");
        assert!(
            err.contains("cannot be used with") && err.contains("--crash-test"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_file(&img).unwrap();
}

/// `tcmu serve` takes an image's format from its name (`.qcow2`) or `--format`, never from
/// its content: `--size` makes a new qcow2 image for a missing `.qcow2` path; a qcow2 image
/// named otherwise is raw unless `--format qcow2`, and is not grown as raw; `--direct` is
/// refused for qcow2. (The image is opened before LIO is looked for, so this runs on any
/// host.)
#[test]
fn qcow2_images_are_chosen_by_name_or_format_never_by_content() {
    let dir = std::env::temp_dir().join(format!("tcmu-cli-qcow2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let new = dir.join("new.qcow2");
    let _ = tcmu(&["serve", new.to_str().unwrap(), "--size", "1M"]);
    let bytes = std::fs::read(&new).unwrap();
    assert_eq!(&bytes[..4], b"QFI\xfb", "a qcow2 image was made");
    assert!(bytes.len() < 1 << 20, "sparse: {} bytes", bytes.len());
    let (ok, _, err) = tcmu(&["serve", new.to_str().unwrap(), "--direct"]);
    assert!(!ok && err.contains("qcow2") && err.contains("--direct"), "{err}");
    // Named otherwise, it is raw: not grown as raw, and qcow2 only when asked.
    let renamed = dir.join("disk.img");
    std::fs::rename(&new, &renamed).unwrap();
    let (ok, _, err) = tcmu(&["serve", renamed.to_str().unwrap(), "--size", "2M"]);
    assert!(!ok && err.contains("holds a qcow2 image but is served raw"), "{err}");
    assert_eq!(std::fs::read(&renamed).unwrap(), bytes);
    let (ok, _, err) = tcmu(&["serve", renamed.to_str().unwrap(), "--format", "qcow2", "--direct"]);
    assert!(!ok && err.contains("is a qcow2 image: --direct"), "{err}");
    assert!(err.contains(renamed.to_str().unwrap()), "{err}");
    // Served raw (it fails later, at LIO, on a host without it): warned, not probed.
    let (_, _, err) = tcmu(&["serve", renamed.to_str().unwrap(), "--direct"]);
    assert!(!err.contains("is a qcow2 image: --direct"), "{err}");
    let (ok, _, err) =
        tcmu(&["serve", renamed.to_str().unwrap(), "--format", "qcow2", "--size", "2M"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&renamed).unwrap(), bytes);
    // A missing path with another ending is still made raw.
    let raw = dir.join("raw.img");
    let _ = tcmu(&["serve", raw.to_str().unwrap(), "--size", "1M"]);
    assert_eq!(std::fs::metadata(&raw).unwrap().len(), 1 << 20);
    assert_ne!(&std::fs::read(&raw).unwrap()[..4], b"QFI\xfb");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `tcmu runner --config`: a mistake in the file stops it with the line named; its handler
/// options reach `--check` (no kernel needed for either).
#[test]
fn the_runner_reads_its_config_file() {
    let dir = std::env::temp_dir().join(format!("tcmu-cli-runner-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("runner.conf");
    let missing = format!("file/{}/missing.img", dir.display());
    std::fs::write(&conf, "log_level = 3\nthreads = 2\ncolour = blue\n").unwrap();
    let (ok, _, err) = tcmu(&["runner", "--config", conf.to_str().unwrap(), "--check", &missing]);
    assert!(!ok && err.contains("line 3: unknown setting \"colour\""), "{err}");
    std::fs::write(&conf, "# no new images\nfile.create = false\n").unwrap();
    let (ok, _, err) = tcmu(&["runner", "--config", conf.to_str().unwrap(), "--check", &missing]);
    assert!(!ok && err.contains("does not exist (not created"), "{err}");
    std::fs::write(&conf, "file.create = true\n").unwrap();
    let (ok, out, err) = tcmu(&["runner", "--config", conf.to_str().unwrap(), "--check", &missing]);
    assert!(ok && out.contains(": ok"), "{out} {err}");
    let (ok, _, err) =
        tcmu(&["runner", "--config", dir.join("nope.conf").to_str().unwrap(), "--check", &missing]);
    assert!(!ok && err.contains("nope.conf"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rbd_specs_are_checked_and_a_missing_librbd_is_named() {
    // Parsed before anything is opened: a secret or an unknown option never reaches Ceph.
    for (spec, says) in [
        ("rbd:rbd/disk@key=AQBsecret", "keyring=PATH"),
        ("rbd:rbd/disk@mon_host=1.2.3.4", "unknown option"),
        ("rbd:justapool", "POOL/IMAGE"),
        ("rbd:rbd/disk;key=AQBsecret", "POOL/IMAGE"),
        ("rbd:rbd/disk,key=AQBsecret", "POOL/IMAGE"),
    ] {
        let (ok, _, err) = tcmu(&["serve", spec]);
        assert!(!ok, "{spec}");
        assert!(err.contains(says), "{spec}: {err}");
        assert!(!err.contains("AQBsecret"), "the secret is not echoed: {err}");
    }
    let (ok, _, err) = tcmu(&["serve", "rbd:rbd/disk", "--size", "1G"]);
    assert!(!ok && err.contains("rbd create"), "{err}");
    // Gateways: RBD only, through iSCSI, writable, no local disk, groups checked; refused
    // before anything is made.
    let gw = ["serve", "rbd:rbd/disk", "--iscsi", "iqn.2026-12.x:gw", "--alua-group", "1"];
    let with =
        |extra: &[&'static str]| -> Vec<&'static str> { gw.iter().chain(extra).copied().collect() };
    let needs = "needs an rbd: image and --iscsi";
    for (args, says) in [
        (vec!["serve", "--memory", "--size", "1M", "--alua-group", "1"], needs),
        (vec!["serve", "rbd:rbd/disk", "--alua-group", "1"], needs),
        (with(&["--read-only"]), needs),
        (with(&["--crash-test"]), needs),
        (with(&["--write-cache", "true"]), needs),
        (with(&["--node", "/tmp/gw-node"]), needs),
        (vec!["serve", "rbd:rbd/disk", "--alua-group", "0"], "0 is not in 1..=65535"),
        (vec!["serve", "rbd:rbd/disk", "--alua-group", "70000"], "70000 is not in 1..=65535"),
    ] {
        let (ok, _, err) = tcmu(&args);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
    }

    // Without librbd (every librbd.so.1 the loader knows hidden in a private mount namespace:
    // /dev/null bound over it), the program names the library and the package. Needs root and
    // unshare; skipped (exit 77) where the namespace or the bind mount cannot be made.
    let libs = Command::new("sh")
        .args(["-c", "ldconfig -p | sed -n 's/.*librbd.so.1 .*=> //p'"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let hide: String =
        libs.lines().map(|l| format!("mount --bind /dev/null {} || exit 77; ", l.trim())).collect();
    let script = format!("{hide}exec \"$0\" serve rbd:rbd/disk");
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script, env!("CARGO_BIN_EXE_tcmu")])
        .output();
    let out = out.ok().filter(|o| {
        o.status.code() != Some(77) && !String::from_utf8_lossy(&o.stderr).contains("unshare:")
    });
    let Some(out) = out else {
        eprintln!("skipped: no private mount namespace here (needs root and unshare)");
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("librbd.so.1 cannot be loaded"), "{err}");
    assert!(err.contains("apt install librbd1"), "{err}");
}
