//! The project's automation, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask test`: everything CI checks, in order: formatting, clippy and the docs with
//!   warnings denied, the workspace's tests, the integration tests in a VM, and a short run of every fuzz target.
//! - `cargo xtask vm-run -- COMMAND` / `cargo xtask vm-test`: a real Linux kernel (Debian 6.1
//!   under QEMU) for what needs LIO.
//! - `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the fuzz targets (all by default).
//!
//! Each step installs what it needs when a fresh machine lacks it (cargo-fuzz), so the same
//! command works on a newcomer's machine and in CI.
#![forbid(unsafe_code)]

mod bench;
mod conformance;
mod crash;
mod vm;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [--fuzz-seconds N] [--no-fuzz] [--no-vm] [--no-conformance]
                                         fmt, clippy, tests, the VM tests, a short run of every fuzz target
  fuzz [--seconds N] [TARGET...]        run fuzz targets (all of them by default, 60 s each)
  vm-run [--timeout S] -- COMMAND...     run COMMAND as root in a VM (Debian's 6.1 kernel, or --kernel)
  vm-test                                build `tcmu` and run the integration tests in the VM
  conformance [--rbd]                    libiscsi's iscsi-test-cu against our devices and the
                                         kernel's fileio in the VM; writes docs/conformance.md
                                         (--rbd: also an RBD image on a guest Ceph, ~10 min more)
  crash-test [--cuts N] [--seed S] [--scenario NAME]
                                         power cuts in the VM (`tcmu serve --crash-test`): after
                                         each, every fsync'd file and every write the disk
                                         promised is on the image (default 100 cuts, the
                                         scenarios ext4, direct-wce0, cached-sync, dsync-fua
                                         in turn, or only NAME)
  bench [--seconds N] [--runs N] [--workloads A,B] [--devices A,B] [--disk]
                                         fio in the VM against our device, LIO's kernel fileio
                                         and tcmu-runner: one table of ratios to fileio
                                         (default 5 s per cell, 3 rounds; target/bench.md)
  demo                                   serve an image in the VM, mkfs, mount, use it; the
                                         image is left in target/demo.img
  help                                  this text

Every command that boots a guest takes --kernel 6.1 (the default) or --kernel 6.12 (Debian's
bookworm-backports kernel, with ublk); vm-test runs on both unless told one.
";

/// Seconds each fuzz target runs for inside `cargo xtask test`.
const TEST_FUZZ_SECONDS: u64 = 8;

fn main() -> ExitCode {
    let mut args: Vec<String> = env::args().skip(1).collect();
    let kernel = match take_kernel(&mut args) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(k) = kernel {
        vm::use_kernel(k);
    }
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        Some("vm-run") => vm_run(&args[1..]),
        Some("vm-test") => no_extra(&args[1..]).and_then(|()| vm_test(kernel, false)),
        Some("demo") => no_extra(&args[1..]).and_then(|()| demo()),
        Some("conformance") => {
            let mut rest = args[1..].to_vec();
            let rbd = take_flag(&mut rest, "--rbd");
            no_extra(&rest).and_then(|()| {
                let root = root();
                cargo(&root, &["build", "--release", "-p", "tcmu"])?;
                if rbd {
                    ensure_ceph()?;
                }
                conformance::host(&root, &root.join("target/release/tcmu"), rbd)
            })
        }
        Some("crash-test") => crash_test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        // Run by `crash-test` inside the VM.
        Some("crash-guest") => crash::guest(&args[1..]),
        // Run by `conformance` inside the VM.
        Some("conformance-guest") => match &args[1..] {
            [tcmu, out] => conformance::guest(Path::new(tcmu), Path::new(out), false),
            [tcmu, out, flag] if flag == "--rbd" => {
                conformance::guest(Path::new(tcmu), Path::new(out), true)
            }
            _ => Err("usage: conformance-guest TCMU OUT_DIR [--rbd]".into()),
        },
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of this crate's folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs a command in `dir`, echoing it first; an error names the command that failed.
fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn cargo(dir: &Path, args: &[&str]) -> Result<(), String> {
    run(dir, env!("CARGO"), args, &[])
}

/// Takes `NAME VALUE` out of `args`, looking only before a `--` (what follows is a guest's
/// command).
fn take_value(args: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some(i) = args[..end].iter().position(|a| a == name) else { return Ok(None) };
    let value = args.get(i + 1).filter(|_| i + 1 < end).cloned();
    let value = value.ok_or_else(|| format!("{name} needs a value"))?;
    args.drain(i..=i + 1);
    Ok(Some(value))
}

/// Parses `--name N` from `args`, removing both words.
fn take_number(args: &mut Vec<String>, name: &str) -> Result<Option<u64>, String> {
    take_value(args, name)?
        .map(|v| v.parse().map_err(|_| format!("{name} needs a whole number")))
        .transpose()
}

fn take_flag(args: &mut Vec<String>, name: &str) -> bool {
    let before = args.len();
    args.retain(|a| a != name);
    args.len() != before
}

fn no_extra(args: &[String]) -> Result<(), String> {
    match args.first() {
        Some(a) => Err(format!("unexpected argument `{a}`\n\n{USAGE}")),
        None => Ok(()),
    }
}

/// `cargo xtask test`: the one command that runs every check CI runs.
fn test(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    let fuzz_seconds = take_number(&mut args, "--fuzz-seconds")?.unwrap_or(TEST_FUZZ_SECONDS);
    let no_fuzz = take_flag(&mut args, "--no-fuzz");
    let no_vm = take_flag(&mut args, "--no-vm");
    let no_conformance = take_flag(&mut args, "--no-conformance");
    no_extra(&args)?;

    let root = root();
    let fuzz_dir = root.join("fuzz");
    let mut steps: Vec<(&str, f64)> = Vec::new();
    let mut step = |name: &'static str, f: &dyn Fn() -> Result<(), String>| {
        eprintln!("\nxtask: ==> {name}");
        let start = Instant::now();
        f().map_err(|e| format!("step `{name}` failed: {e}"))?;
        steps.push((name, start.elapsed().as_secs_f64()));
        Ok::<(), String>(())
    };

    step("format", &|| {
        cargo(&root, &["fmt", "--all", "--check"])?;
        cargo(&fuzz_dir, &["fmt", "--all", "--check"])
    })?;
    step("clippy", &|| {
        cargo(&root, &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
    })?;
    step("docs with warnings denied", &|| {
        run(
            &root,
            env!("CARGO"),
            &["doc", "--workspace", "--no-deps"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    })?;
    step("unit and property tests", &|| {
        // tcmu's tests/dbus.rs runs a private dbus-daemon; its qcow2 tests check images with
        // qemu-img and qemu-io.
        vm::ensure_host_packages(&[
            ("dbus-daemon", "dbus-daemon"),
            ("qemu-img", "qemu-utils"),
            ("qemu-io", "qemu-utils"),
        ])?;
        // tcmu's tests/rbd.rs starts a throwaway Ceph cluster.
        ensure_ceph()?;
        cargo(&root, &["test", "--workspace"])
    })?;
    step("iSCSI login and discovery against tgtd", &|| {
        vm::ensure_host_packages(&[("tgtd", "tgt")])?;
        cargo(&root, &["test", "-p", "iscsi-nl", "--test", "tgtd", "--", "--ignored"])
    })?;
    if !no_vm {
        step("integration tests in a VM (Linux 6.1)", &|| vm_test(Some(vm::Kernel::V6_1), false))?;
        step("integration tests in a VM (Linux 6.12)", &|| vm_test(Some(vm::Kernel::V6_12), true))?;
        step("the README's demo (cargo xtask demo)", &demo)?;
        if !no_conformance {
            step("conformance: iscsi-test-cu, ours vs the kernel's", &|| {
                conformance::host(&root, &root.join("target/release/tcmu"), false)
            })?;
        }
    }
    if !no_fuzz {
        step("fuzz (short run of every target)", &|| fuzz(&[], fuzz_seconds))?;
    }

    eprintln!("\nxtask: all steps passed:");
    for (name, secs) in &steps {
        eprintln!("xtask:   {name:<36} {secs:>7.1} s");
    }
    Ok(())
}

/// `cargo xtask vm-run [--timeout S] -- COMMAND...`.
fn vm_run(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    let timeout = take_number(&mut args, "--timeout")?.unwrap_or(600);
    let words: Vec<&str> = args.iter().map(String::as_str).skip_while(|a| *a == "--").collect();
    if words.is_empty() {
        return Err(format!("vm-run needs a command\n\n{USAGE}"));
    }
    let rc = vm::run(&words.join(" "), std::time::Duration::from_secs(timeout))?;
    if rc == 0 { Ok(()) } else { Err(format!("the command exited with {rc} in the VM")) }
}

/// Builds `tcmu` and its examples and runs `xtask/vm/SCRIPT` in the VM with `$TCMU` (the
/// program) and `$EXAMPLES` (the examples' folder) set; the script's exit status.
fn run_vm_script(script: &str, timeout_secs: u64) -> Result<i32, String> {
    run_vm_script_with(script, "", timeout_secs)
}

/// [`run_vm_script`] with `env` (shell assignments, one per line) set before the script.
fn run_vm_script_with(script: &str, env: &str, timeout_secs: u64) -> Result<i32, String> {
    let root = root();
    cargo(&root, &["build", "--release", "-p", "tcmu", "--bins", "--examples"])?;
    let tcmu = root.join("target/release/tcmu");
    let examples = root.join("target/release/examples");
    let path = root.join("xtask/vm").join(script);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ceph = root.join("xtask/ceph/cluster.sh");
    let text = format!(
        "TCMU={}\nEXAMPLES={}\nCEPH_SCRIPT={}\nVM_SCRIPTS={}\n{env}\n{text}",
        tcmu.display(),
        examples.display(),
        ceph.display(),
        root.join("xtask/vm").display()
    );
    vm::run(&text, std::time::Duration::from_secs(timeout_secs))
}

/// `cargo xtask vm-test`: the integration tests in a real kernel, then a few power cuts (one
/// per scenario).
///
/// `short`: every kernel of this call is a second one (see below). Without `--kernel`, the
/// second kernel's run is short.
fn vm_test(kernel: Option<vm::Kernel>, short: bool) -> Result<(), String> {
    // runner.sh: targetcli drives `tcmu runner` over a system bus; tcmu-runner is the other
    // daemon it must not run beside.
    vm::ensure_host_packages(&[
        ("targetcli", "targetcli-fb"),
        ("dbus-daemon", "dbus-daemon"),
        ("tcmu-runner", "tcmu-runner"),
        // rbd.sh's gateways: multipathd over the two iSCSI paths.
        ("multipathd", "multipath-tools"),
    ])?;
    ensure_ceph()?;
    let kernels = kernel.map_or(vm::Kernel::ALL.to_vec(), |k| vec![k]);
    let before = vm::kernel();
    let result = kernels.into_iter().enumerate().try_for_each(|(i, k)| {
        vm::use_kernel(k);
        eprintln!("xtask: integration tests on Linux {}", k.name());
        // On the second kernel, what does not depend on it is cut short: rbd.sh (a Ceph
        // cluster in the guest) is not run, runner.sh kills twice and leaves targetcli out,
        // the initiator's recovery (recover.sh) cuts the connection once.
        let full = !short && i == 0;
        let rbd = full.then_some("rbd.sh");
        let env = if full { "" } else { "RUNNER_KILLS=2\nRUNNER_TARGETCLI=0\nRECOVER_CUTS=5" };
        for script in ["tests.sh", "runner.sh"].into_iter().chain(rbd) {
            if run_vm_script_with(script, env, 600)? != 0 {
                return Err(format!("{script} failed in the VM (Linux {})", k.name()));
            }
        }
        crash::host(&root(), VM_TEST_CUTS, seed_from_clock(k), None)
    });
    vm::use_kernel(before);
    result
}

/// Installs Ceph's monitor, OSD and command-line tools (for the single-node clusters of the
/// RBD tests, on the host and in the guest, which runs the host's programs) when missing.
fn ensure_ceph() -> Result<(), String> {
    let root = root();
    run(&root, "sh", &["xtask/ceph/cluster.sh", "install"], &[])
}

/// `--kernel 6.1|6.12` anywhere before a `--`: the kernel every guest boots.
fn take_kernel(args: &mut Vec<String>) -> Result<Option<vm::Kernel>, String> {
    take_value(args, "--kernel")?.map(|v| vm::Kernel::parse(&v)).transpose()
}

/// Power cuts inside `vm-test` (and so CI): each scenario once.
const VM_TEST_CUTS: u32 = 4;

/// A seed for randomised tests, printed so a failure can be replayed with `--seed`.
fn seed_from_clock(kernel: vm::Kernel) -> u64 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let kernel = kernel.name();
    eprintln!(
        "xtask: power-cut seed {seed} (replay with `cargo xtask crash-test --kernel {kernel} \
         --seed {seed}`)"
    );
    seed
}

/// `cargo xtask crash-test [--cuts N] [--seed S] [--scenario NAME]`.
fn crash_test(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    let cuts = take_number(&mut args, "--cuts")?.unwrap_or(100);
    let seed = take_number(&mut args, "--seed")?;
    let only =
        take_value(&mut args, "--scenario")?.map(|s| crash::Scenario::parse(&s)).transpose()?;
    no_extra(&args)?;
    let root = root();
    cargo(&root, &["build", "--release", "-p", "tcmu"])?;
    let cuts = u32::try_from(cuts).map_err(|_| "--cuts is too large".to_string())?;
    crash::host(&root, cuts, seed.unwrap_or_else(|| seed_from_clock(vm::kernel())), only)
}

/// `cargo xtask bench [--seconds N] [--runs N] [--workloads A,B] [--devices A,B]`.
fn bench(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    let seconds = take_number(&mut args, "--seconds")?.unwrap_or(5).max(1);
    let runs = take_number(&mut args, "--runs")?.unwrap_or(3).max(1);
    let list = |args: &mut Vec<String>, name: &str| -> Result<Vec<String>, String> {
        let value = take_value(args, name)?.unwrap_or_default();
        Ok(value.split(',').filter(|s| !s.is_empty()).map(String::from).collect())
    };
    let workloads = list(&mut args, "--workloads")?;
    let devices = list(&mut args, "--devices")?;
    let disk = take_flag(&mut args, "--disk");
    no_extra(&args)?;
    let root = root();
    cargo(&root, &["build", "--release", "-p", "tcmu"])?;
    let options = bench::Options { seconds, runs, workloads, devices, disk };
    bench::run(&root, &root.join("target/release/tcmu"), &options)
}

/// `cargo xtask demo`: the main job (serve an image, mkfs, mount, use it) in the VM; the image
/// comes back to the host.
fn demo() -> Result<(), String> {
    let rc = run_vm_script("demo.sh", 600)?;
    if rc != 0 {
        return Err(format!("the demo failed in the VM (exit status {rc})"));
    }
    let out = root().join("target/demo.img");
    std::fs::copy(vm::results_dir().join("demo.img"), &out)
        .map_err(|e| format!("cannot copy the image to {}: {e}", out.display()))?;
    println!(
        "\nThe image the VM's disk was served from is now {}: an ext4 file system holding the\n\
         files above (try `e2fsck -fn {0}` or `debugfs -R 'ls -l /' {0}`).",
        out.display()
    );
    Ok(())
}

/// `cargo xtask fuzz [--seconds N] [TARGET...]`.
fn fuzz_cmd(args: &[String]) -> Result<(), String> {
    let mut args = args.to_vec();
    let seconds = take_number(&mut args, "--seconds")?.unwrap_or(60);
    if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
        return Err(format!("unknown option `{flag}`\n\n{USAGE}"));
    }
    fuzz(&args, seconds)
}

/// The fuzz targets, read from `fuzz/Cargo.toml` so a new target needs no change here.
fn fuzz_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let manifest = std::fs::read_to_string(fuzz_dir.join("Cargo.toml"))
        .map_err(|e| format!("cannot read fuzz/Cargo.toml: {e}"))?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(rest) = line.strip_prefix("name") {
            let name = rest.trim_start().trim_start_matches('=').trim().trim_matches('"');
            targets.push(name.to_string());
        }
    }
    if targets.is_empty() {
        return Err("fuzz/Cargo.toml declares no [[bin]] targets".into());
    }
    Ok(targets)
}

/// Installs cargo-fuzz when the machine lacks it.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = Command::new(env!("CARGO"))
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is missing; installing it (about 90 s, once)");
    cargo(&root(), &["install", "cargo-fuzz", "--locked"])
}

/// Builds all fuzz targets once, then runs each for `seconds`. A crash fails the run and leaves
/// the reproducer in `fuzz/artifacts/TARGET/`.
fn fuzz(selected: &[String], seconds: u64) -> Result<(), String> {
    let fuzz_dir = root().join("fuzz");
    let all = fuzz_targets(&fuzz_dir)?;
    for t in selected {
        if !all.contains(t) {
            return Err(format!("no fuzz target `{t}`; the targets are: {}", all.join(", ")));
        }
    }
    let targets = if selected.is_empty() { all } else { selected.to_vec() };
    ensure_cargo_fuzz()?;
    // cargo-fuzz passes -Z sanitizer flags; on the stable toolchain they need RUSTC_BOOTSTRAP.
    let env = [("RUSTC_BOOTSTRAP", "1")];
    let program = env!("CARGO");
    run(&fuzz_dir, program, &["fuzz", "build", "--release"], &env)?;
    let max_time = format!("-max_total_time={seconds}");
    for target in &targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let seeds = fuzz_dir.join("seeds").join(target);
        let mut args = vec!["fuzz", "run", "--release", target.as_str()];
        let corpus_s = corpus.to_string_lossy().into_owned();
        let seeds_s = seeds.to_string_lossy().into_owned();
        args.push(&corpus_s);
        if seeds.is_dir() {
            args.push(&seeds_s);
        }
        args.extend(["--", max_time.as_str(), "-print_final_stats=1"]);
        run(&fuzz_dir, program, &args, &env)?;
    }
    Ok(())
}
