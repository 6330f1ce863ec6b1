//! The `tcmu` program on a host without LIO: clear errors that say what to do, never a panic.

use std::process::Command;

fn tcmu(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tcmu"))
        .args(args)
        .output()
        .unwrap();
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
    assert_eq!(
        std::fs::metadata(&img).unwrap().len(),
        1 << 20,
        "the image was created"
    );
    std::fs::remove_file(&img).unwrap();
    let (ok, _, err) = tcmu(&["serve", "/nonexistent/x.img"]);
    assert!(!ok && err.contains("/nonexistent/x.img"), "{err}");
    let (ok, _, err) = tcmu(&["serve", "x.img", "--size", "lots"]);
    assert!(!ok && err.contains("not a number"), "{err}");
}
