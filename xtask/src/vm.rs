//! A QEMU guest with a real Debian kernel for the tests that need LIO (this host's kernel has
//! no configfs, target core or UIO): 6.1 from bookworm by default, or 6.12 from
//! bookworm-backports (`use_kernel`), which also has ublk.
//!
//! Provisioning is idempotent and cached under `$HOME/.cache/tcmu-rs-vm`: the Debian packages
//! (qemu-system-x86, busybox-static, cpio, kmod), and the newest `linux-image-6.1.*-amd64-unsigned`
//! (or `6.12.*`, read from a private apt list so the machine's sources stay as they are)
//! package, downloaded and extracted, never installed. The guest boots from a small busybox
//! initramfs (about 3 s under TCG), loads the LIO modules, mounts the host's root read-only over
//! 9p with a tmpfs overlay on top, and runs a shell script in it as root, so every host tool and
//! the project's own binaries run as they are. Results come back through a second 9p share.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Modules the guest loads, in order (their dependencies come along).
const MODULES: &[&str] = &[
    "virtio_pci",
    // The bench's --disk.
    "virtio_blk",
    "9pnet_virtio",
    "9p",
    "overlay",
    "ext4",
    "crc32c_generic",
    "configfs",
    "uio",
    "target_core_mod",
    "target_core_user",
    "target_core_file",
    "tcm_loop",
    "iscsi_target_mod",
    "iscsi_tcp",
    "sd_mod",
    "sg",
    // The gateways' failover (rbd.sh): multipath over the ALUA state of each path.
    "scsi_dh_alua",
    "dm_multipath",
    "dm_round_robin",
    "dm_service_time",
];

/// Modules loaded where the kernel has them: ublk (6.12; Debian's 6.1 has none).
const OPTIONAL_MODULES: &[&str] = &["ublk_drv"];

/// Modules put in the guest (with their dependencies) for a script to load when it wants them:
/// the kernel's rbd driver (the bench's `krbd` bound), and the socket diagnostics `ss -K`
/// needs to reset a connection (the initiator's recovery test).
const ON_DEMAND_MODULES: &[&str] = &["rbd", "tcp_diag"];

const INIT: &str = r#"#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in @MODULES@; do modprobe $m || echo "vm: modprobe $m failed"; done
mount -t configfs none /sys/kernel/config
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host || echo "vm: host mount failed"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /results || echo "vm: results mount failed"
mount -t tmpfs tmp /ovl; mkdir -p /ovl/up /ovl/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/up,workdir=/ovl/work /newroot || echo "vm: overlay failed"
for d in proc sys dev results; do mkdir -p /newroot/$d; mount -o bind /$d /newroot/$d; done
# The guest's modules where modprobe and libkmod (tcmu-runner) look for them.
K=/lib/modules/$(uname -r); mkdir -p /newroot$K; mount -o bind $K /newroot$K
mount -t configfs none /newroot/sys/kernel/config 2>/dev/null
ip link set lo up
echo "vm: guest ready after $(cut -d' ' -f1 /proc/uptime) s"
chroot /newroot /bin/sh /results/cmd > /results/out 2>&1
echo $? > /results/rc
sync
poweroff -f
"#;

/// The folder everything the guests need is cached in.
pub fn cache() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/root".into());
    home.join(".cache/tcmu-rs-vm")
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Installs the Debian packages whose programs are missing: `(program, package)` pairs.
pub fn ensure_host_packages(wanted: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> =
        wanted.iter().filter(|(program, _)| !have(program)).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} (once)", missing.join(" "));
    sh("apt-get update -qq")?;
    sh(&format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {} >/dev/null",
        missing.join(" ")
    ))
    .map(|_| ())
}

fn sh(script: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .args(["-c", script])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{script}` failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The guest kernels: Debian's 6.1 (bookworm) and 6.12 (bookworm-backports, with ublk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `linux-image-6.1.*-amd64-unsigned` from bookworm, the default.
    V6_1,
    /// `linux-image-6.12.*-amd64-unsigned` from bookworm-backports.
    V6_12,
}

impl Kernel {
    /// Both, in the order `vm-test` runs them.
    pub const ALL: [Kernel; 2] = [Kernel::V6_1, Kernel::V6_12];

    /// "6.1" or "6.12".
    pub fn name(self) -> &'static str {
        match self {
            Kernel::V6_1 => "6.1",
            Kernel::V6_12 => "6.12",
        }
    }

    /// From `--kernel`'s value.
    pub fn parse(s: &str) -> Result<Kernel, String> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown kernel `{s}` (known: 6.1, 6.12)"))
    }

    /// The folder its package is extracted into (6.1's keeps the first harness's name).
    fn tree(self) -> PathBuf {
        match self {
            Kernel::V6_1 => cache().join("kernel"),
            Kernel::V6_12 => cache().join("kernel-6.12"),
        }
    }
}

/// The kernel guests boot (`use_kernel`); 6.1 unless asked.
static KERNEL: std::sync::Mutex<Kernel> = std::sync::Mutex::new(Kernel::V6_1);

/// Makes every following guest of this process boot `k`.
pub fn use_kernel(k: Kernel) {
    *KERNEL.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = k;
}

static DISK: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Gives every following guest of this process `raw` (a raw image on the host) as its
/// virtio disk `/dev/vda` (host page cache bypassed), or none.
pub fn use_disk(raw: Option<PathBuf>) {
    *DISK.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = raw;
}

/// The kernel guests boot now.
pub fn kernel() -> Kernel {
    *KERNEL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// apt options that read bookworm-backports from a private list, for one download: the
/// machine's own sources are left alone.
fn backports_apt() -> Result<String, String> {
    let dir = cache().join("apt-backports");
    std::fs::create_dir_all(dir.join("lists/partial")).map_err(|e| e.to_string())?;
    let list = dir.join("sources.list");
    std::fs::write(&list, "deb http://deb.debian.org/debian bookworm-backports main\n")
        .map_err(|e| e.to_string())?;
    let opts = format!(
        "-o APT::Sandbox::User=root -o Dir::Etc::sourcelist={} -o Dir::Etc::sourceparts=- \
         -o Dir::State::Lists={}",
        list.display(),
        dir.join("lists").display()
    );
    sh(&format!("apt-get {opts} update -qq"))?;
    Ok(opts)
}

/// Installs what the guest needs and returns (vmlinuz, kernel version, extracted tree).
fn provision() -> Result<(PathBuf, String, PathBuf), String> {
    let tools = [
        "qemu-system-x86_64",
        "busybox",
        "cpio",
        "depmod",
        "fio",
        "sg_inq",
        "mkfs.ext4",
        "iscsi-test-cu",
        "ip",
        "iscsiadm",
    ];
    if !tools.iter().all(|t| have(t)) {
        eprintln!(
            "vm: installing qemu-system-x86, busybox-static, cpio, kmod, fio, sg3-utils, \
             libiscsi-bin, iproute2, open-iscsi (once)"
        );
        sh("apt-get update -qq")?;
        // bookworm's qemu-system-x86 conflicts with a backported qemu-utils: take both from
        // the same release.
        let v = sh("apt-cache madison qemu-system-x86 | awk 'NR==1{print $3}'")?;
        sh(&format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades \
             qemu-system-x86 'qemu-utils={v}' busybox-static cpio kmod fio sg3-utils e2fsprogs \
             libiscsi-bin iproute2 open-iscsi >/dev/null"
        ))?;
    }
    let dir = cache();
    let k = kernel();
    let tree = k.tree();
    let existing =
        sh(&format!("ls {}/boot 2>/dev/null | grep '^vmlinuz-' | head -1", tree.display()))
            .unwrap_or_default();
    if existing.is_empty() {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let opts = match k {
            Kernel::V6_1 => String::new(),
            Kernel::V6_12 => backports_apt()?,
        };
        let pattern = match k {
            Kernel::V6_1 => "^linux-image-6\\.1\\.0-[0-9]+-amd64-unsigned$",
            Kernel::V6_12 => "^linux-image-6\\.12\\.[0-9.+~a-z]+-amd64-unsigned$",
        };
        let newest = || {
            sh(&format!(
                "apt-cache {opts} search --names-only '{pattern}' | awk '{{print $1}}' | sort -V | tail -1"
            ))
        };
        let mut pkg = newest()?;
        if pkg.is_empty() && k == Kernel::V6_1 {
            // Empty package lists on a fresh machine: read them once, then look again.
            sh("apt-get update -qq")?;
            pkg = newest()?;
        }
        if pkg.is_empty() {
            return Err(format!(
                "no linux-image-{}.*-amd64-unsigned package in apt's lists",
                k.name()
            ));
        }
        eprintln!("vm: downloading {pkg} (once)");
        let work = dir.join(format!("download-{}", k.name()));
        sh(&format!(
            "rm -rf {w} {t} && mkdir -p {w} && cd {w} && apt-get {opts} download -qq {pkg} 2>/dev/null \
             && dpkg-deb -x *.deb {t} && cd / && rm -rf {w}",
            w = work.display(),
            t = tree.display()
        ))?;
    }
    let vmlinuz = sh(&format!("ls {}/boot/vmlinuz-* | head -1", tree.display()))?;
    let version = vmlinuz.rsplit("vmlinuz-").next().unwrap_or_default().to_string();
    if !tree.join(format!("lib/modules/{version}/modules.dep")).exists() {
        sh(&format!("depmod -b {} {version}", tree.display()))?;
    }
    Ok((PathBuf::from(vmlinuz), version, tree))
}

/// Builds the initramfs: busybox, the modules with their dependencies, /init.
fn initramfs(tree: &Path, version: &str) -> Result<PathBuf, String> {
    let dir = run_dir();
    let root = dir.join("initrd");
    let _ = std::fs::remove_dir_all(&root);
    let mods = tree.join(format!("lib/modules/{version}"));
    let dep = std::fs::read_to_string(mods.join("modules.dep"))
        .map_err(|e| format!("{}: {e}", mods.display()))?;
    let deps: Vec<(String, Vec<String>)> = dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.split_whitespace().map(String::from).collect()))
        .collect();
    let by_name = |name: &str| {
        deps.iter().find(|(k, _)| {
            let base = k.rsplit('/').next().unwrap_or(k);
            base.split(".ko").next().unwrap_or(base).replace('-', "_") == name
        })
    };
    let mut need = BTreeSet::new();
    let mut stack: Vec<String> = Vec::new();
    let builtin = std::fs::read_to_string(mods.join("modules.builtin")).unwrap_or_default();
    let is_builtin = |name: &str| {
        builtin.lines().any(|l| {
            let base = l.rsplit('/').next().unwrap_or(l);
            base.split(".ko").next().unwrap_or(base).replace('-', "_") == name
        })
    };
    // Loaded by /init, in order: every module not built in.
    let mut load: Vec<&str> = Vec::new();
    for m in MODULES.iter().chain(OPTIONAL_MODULES) {
        match by_name(m) {
            Some((k, _)) => {
                stack.push(k.clone());
                load.push(m);
            }
            None if is_builtin(m) || OPTIONAL_MODULES.contains(m) => {}
            None => return Err(format!("module {m} not in the kernel package")),
        }
    }
    for m in ON_DEMAND_MODULES {
        if let Some((k, _)) = by_name(m) {
            stack.push(k.clone());
        }
    }
    while let Some(k) = stack.pop() {
        if need.insert(k.clone())
            && let Some((_, d)) = deps.iter().find(|(key, _)| *key == k)
        {
            stack.extend(d.iter().cloned());
        }
    }
    let target = root.join(format!("lib/modules/{version}"));
    for k in &need {
        let to = target.join(k);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
        }
        std::fs::copy(mods.join(k), &to).map_err(|e| format!("{k}: {e}"))?;
    }
    // The text files for busybox's modprobe, the indexes for libkmod (tcmu-runner's lookup).
    for f in [
        "modules.dep",
        "modules.alias",
        "modules.builtin",
        "modules.order",
        "modules.softdep",
        "modules.dep.bin",
        "modules.alias.bin",
        "modules.builtin.bin",
        "modules.builtin.alias.bin",
        "modules.symbols.bin",
    ] {
        let _ = std::fs::copy(mods.join(f), target.join(f));
    }
    for d in ["bin", "proc", "sys", "dev", "host", "ovl", "newroot", "results"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(sh("command -v busybox")?, root.join("bin/busybox"))
        .map_err(|e| e.to_string())?;
    for applet in [
        "sh", "mount", "mkdir", "modprobe", "chroot", "poweroff", "cat", "cut", "echo", "ip",
        "sync", "uname",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
            .map_err(|e| e.to_string())?;
    }
    let init = root.join("init");
    std::fs::write(&init, INIT.replace("@MODULES@", &load.join(" "))).map_err(|e| e.to_string())?;
    sh(&format!("chmod +x {}", init.display()))?;
    let out = dir.join("initrd.gz");
    sh(&format!(
        "cd {} && find . | cpio -o -H newc 2>/dev/null | gzip -1 > {}",
        root.display(),
        out.display()
    ))?;
    Ok(out)
}

/// This process's own folder for a guest (initramfs, console log, results), so that several
/// VMs can run at once.
fn run_dir() -> PathBuf {
    cache().join(format!("run-{}", std::process::id()))
}

/// Removes the folders of runs whose process is gone.
fn remove_stale_runs() {
    let Ok(entries) = std::fs::read_dir(cache()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("run-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The folder the guest sees as `/results` (emptied at the start of every run).
pub fn results_dir() -> PathBuf {
    run_dir().join("results")
}

/// Boots the guest, runs `script` (sh) in it as root, prints its output as it comes, and
/// returns its exit status.
pub fn run(script: &str, timeout: Duration) -> Result<i32, String> {
    let (vmlinuz, version, tree) = provision()?;
    remove_stale_runs();
    let initrd = initramfs(&tree, &version)?;
    let _ = std::fs::remove_dir_all(run_dir().join("initrd"));
    let results = results_dir();
    let _ = std::fs::remove_dir_all(&results);
    std::fs::create_dir_all(&results).map_err(|e| e.to_string())?;
    std::fs::write(results.join("cmd"), script).map_err(|e| e.to_string())?;
    let console = run_dir().join("console.log");
    let log = std::fs::File::create(&console).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut qemu = Command::new("qemu-system-x86_64")
        .args(["-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "2", "-m", "3072"])
        .arg("-kernel")
        .arg(&vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1 rdinit=/init", "-nographic", "-no-reboot"])
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ])
        .arg("-virtfs")
        .arg(format!("local,path={},mount_tag=results,security_model=none", results.display()))
        .args(DISK.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().flat_map(
            |raw| {
                let drive =
                    format!("file={},if=virtio,format=raw,cache=none,aio=threads", raw.display());
                ["-drive".to_string(), drive]
            },
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    // The guest's output is shown as it is written (the results folder is shared).
    let mut shown = 0;
    let show = |shown: &mut usize| {
        if let Ok(out) = std::fs::read(results.join("out"))
            && out.len() > *shown
        {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&out[*shown..]);
            let _ = stdout.flush();
            *shown = out.len();
        }
    };
    loop {
        show(&mut shown);
        if let Some(status) = qemu.try_wait().map_err(|e| e.to_string())? {
            if !status.success() {
                eprintln!("vm: qemu exited with {status}");
            }
            break;
        }
        if start.elapsed() > timeout {
            let _ = qemu.kill();
            let _ = qemu.wait();
            return Err(format!(
                "the guest did not finish within {timeout:?}; console in {}",
                console.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    show(&mut shown);
    let console_text = std::fs::read_to_string(&console).unwrap_or_default();
    if let Some(line) = console_text.lines().find(|l| l.contains("vm: guest ready")) {
        eprintln!("{}", line.trim());
    }
    eprintln!("vm: finished after {:.1} s", start.elapsed().as_secs_f64());
    match std::fs::read_to_string(results.join("rc")) {
        Ok(rc) => rc.trim().parse().map_err(|_| format!("bad exit status {rc:?}")),
        Err(_) => Err(format!(
            "the guest wrote no exit status; console in {}:\n{}",
            console.display(),
            console_text
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}
