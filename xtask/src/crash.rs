//! Power-cut tests: `cargo xtask crash-test --cuts N` (and a few cuts inside `vm-test`).
//!
//! The host boots the VM and runs `xtask crash-guest` in it. Each cut serves a fresh image with
//! `tcmu serve --crash-test` (a volatile write cache in the server that loses what was not
//! flushed), runs a workload on the disk that records what the disk promised (an fsync that
//! returned, a write that completed with no write cache, a SYNCHRONIZE CACHE), cuts the power
//! at a random moment (SIGUSR1), removes the dead disk with `tcmu cleanup`, and checks the image
//! itself, below any page cache: every promise holds, and an ext4 file system replays its
//! journal and passes `e2fsck -fn`.
//!
//! Scenarios, in turn:
//! - `ext4`: write cache on; ext4 on the disk; files created, appended to, overwritten,
//!   renamed and removed, each followed by fsync (and an fsync of the directory); after the
//!   cut every fsync'd file holds exactly its fsync'd content.
//! - `direct-wce0`: no write cache; O_DIRECT writes of stamped blocks, WRITE SAME (data, zeroes
//!   with UNMAP), UNMAP and COMPARE AND WRITE (sg3_utils); after the cut every command that
//!   completed is there.
//! - `cached-sync`: write cache on; the same mix, with a SYNCHRONIZE CACHE every few commands;
//!   everything before a completed SYNCHRONIZE CACHE is there.
//! - `dsync-fua`: write cache on; O_DIRECT | O_DSYNC writes (the kernel sends them with FUA);
//!   every write that completed is there.
//!
//! Half of the cuts keep a random subset of the unflushed writes (`--crash-keep random`), as
//! a real disk may have written part of its cache back.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The scenarios, run in turn.
const SCENARIOS: [Scenario; 4] =
    [Scenario::Ext4, Scenario::DirectWce0, Scenario::CachedSync, Scenario::DsyncFua];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Write cache on; ext4 with fsync'd files.
    Ext4,
    /// No write cache; O_DIRECT writes and sg3_utils commands.
    DirectWce0,
    /// Write cache on; the same mix with SYNCHRONIZE CACHE every third command.
    CachedSync,
    /// Write cache on; O_DIRECT | O_DSYNC writes (FUA).
    DsyncFua,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Ext4 => "ext4",
            Scenario::DirectWce0 => "direct-wce0",
            Scenario::CachedSync => "cached-sync",
            Scenario::DsyncFua => "dsync-fua",
        }
    }

    /// The scenario called `name`.
    pub fn parse(name: &str) -> Result<Scenario, String> {
        SCENARIOS.into_iter().find(|s| s.name() == name).ok_or_else(|| {
            let names: Vec<_> = SCENARIOS.iter().map(|s| s.name()).collect();
            format!("no scenario {name:?} (there are {})", names.join(", "))
        })
    }
}

/// `cargo xtask crash-test`: boots the VM and runs `cuts` power cuts in it (`tcmu` built
/// already), of every scenario in turn or of `only` one.
pub fn host(root: &Path, cuts: u32, seed: u64, only: Option<Scenario>) -> Result<(), String> {
    let tcmu = root.join("target/release/tcmu");
    let xtask = std::env::current_exe().map_err(|e| format!("cannot find xtask itself: {e}"))?;
    let only = only.map_or(String::new(), |s| format!(" --scenario {}", s.name()));
    let script = format!(
        "{} crash-guest --tcmu {} --cuts {cuts} --seed {seed}{only}\n",
        xtask.display(),
        tcmu.display()
    );
    // About 15 s a cut under TCG, with room to spare.
    let timeout = Duration::from_secs(180 + 45 * u64::from(cuts));
    match crate::vm::run(&script, timeout)? {
        0 => Ok(()),
        rc => Err(format!("power-cut tests failed in the VM (exit status {rc})")),
    }
}

/// SplitMix64, for reproducible workloads from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }

    /// `lo..hi` random bytes (how many, at random).
    fn some_bytes(&mut self, lo: u64, hi: u64) -> Vec<u8> {
        let n = self.range(lo, hi) as usize;
        self.bytes(n)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Runs in the VM: `cuts` power cuts, scenarios in turn; fails if any promise was broken.
pub fn guest(args: &[String]) -> Result<(), String> {
    let mut tcmu = None;
    let mut cuts = 4u32;
    let mut seed = 1u64;
    let mut only = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--tcmu" => tcmu = Some(PathBuf::from(value()?)),
            "--cuts" => cuts = value()?.parse().map_err(|e| format!("--cuts: {e}"))?,
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--scenario" => only = Some(Scenario::parse(value()?)?),
            other => return Err(format!("crash-guest: unexpected argument {other}")),
        }
    }
    let tcmu = tcmu.ok_or("crash-guest needs --tcmu")?;
    // Write dirty pages back within a second, so the writes nobody fsyncs reach the disk (and
    // its volatile cache) while the workload runs, not only at the next fsync.
    for (knob, value) in [
        ("/proc/sys/vm/dirty_expire_centisecs", "100"),
        ("/proc/sys/vm/dirty_writeback_centisecs", "50"),
    ] {
        let _ = std::fs::write(knob, value);
    }
    let mut failed = 0;
    let start = Instant::now();
    for i in 0..cuts {
        let scenario = only.unwrap_or(SCENARIOS[i as usize % SCENARIOS.len()]);
        // Every other cut keeps a random subset, so each scenario meets both kinds in turn.
        // The seed decides where the alternation starts, so runs with different seeds (CI's
        // four cuts) meet both kinds in every scenario over time.
        let keep_random = (u64::from(i + i / SCENARIOS.len() as u32) ^ seed) % 2 == 1;
        let s = seed.wrapping_mul(1000).wrapping_add(u64::from(i));
        let t = Instant::now();
        let label = format!(
            "power cut {}/{cuts}: {} (seed {s}, keep {})",
            i + 1,
            scenario.name(),
            if keep_random { "random" } else { "nothing" }
        );
        match one_cut(&tcmu, i, scenario, keep_random, s) {
            Ok(summary) => println!("PASS {label}: {summary} ({:.1} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                println!("FAIL {label}: {e}");
                failed += 1;
            }
        }
    }
    println!(
        "power cuts: {} passed, {failed} failed, {:.0} s",
        cuts - failed,
        start.elapsed().as_secs_f64()
    );
    if failed > 0 { Err(format!("{failed} of {cuts} power cuts broke a promise")) } else { Ok(()) }
}

fn sh(cmd: &str) -> Result<String, String> {
    let out = Command::new("sh").args(["-c", cmd]).output().map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{cmd}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A `tcmu serve` process and the disk it printed.
struct Served {
    child: Child,
    disk: PathBuf,
    err: PathBuf,
}

fn serve(tcmu: &Path, image: &Path, name: &str, extra: &[&str]) -> Result<Served, String> {
    let out = PathBuf::from(format!("/tmp/{name}.out"));
    let err = PathBuf::from(format!("/tmp/{name}.err"));
    let child = Command::new(tcmu)
        // Each operation on the volatile cache, for a failure's report.
        .env("RUST_LOG", "info,tcmu::crash=debug,tcmu::server=debug,tcmu::emulate=debug")
        .env("NO_COLOR", "1")
        .arg("serve")
        .arg(image)
        .args(["--name", name, "--cmd-time-out", "10"])
        .args(extra)
        .stdout(File::create(&out).map_err(|e| e.to_string())?)
        .stderr(File::create(&err).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("{}: {e}", tcmu.display()))?;
    let mut served = Served { child, disk: PathBuf::new(), err };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            served.disk = PathBuf::from(line.trim());
            if served.disk.exists() {
                return Ok(served);
            }
        }
        if let Ok(Some(st)) = served.child.try_wait() {
            return Err(format!("tcmu serve exited ({st}): {}", served.stderr()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = served.child.kill();
    Err(format!("tcmu serve printed no disk: {}", served.stderr()))
}

impl Served {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default().trim().to_string()
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        sh(&format!("kill -{sig} {}", self.child.id())).map(|_| ())
    }

    /// Waits up to `secs` for the process to end; its exit status.
    fn wait(&mut self, secs: u64) -> Result<std::process::ExitStatus, String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(format!("tcmu serve did not end within {secs} s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops a normal server (SIGTERM) and checks it ended well.
    fn stop(mut self) -> Result<(), String> {
        self.signal("TERM")?;
        let st = self.wait(60)?;
        if !st.success() {
            return Err(format!("tcmu serve ended with {st}: {}", self.stderr()));
        }
        Ok(())
    }
}

/// One power cut: serve, run the workload, cut, clean up, check.
fn one_cut(
    tcmu: &Path,
    i: u32,
    scenario: Scenario,
    keep_random: bool,
    seed: u64,
) -> Result<String, String> {
    let image = PathBuf::from(format!("/tmp/crash{i}.img"));
    let _ = std::fs::remove_file(&image);
    let size = 64u64 << 20;
    File::create(&image)
        .and_then(|f| f.set_len(size))
        .map_err(|e| format!("{}: {e}", image.display()))?;
    if scenario == Scenario::Ext4 {
        sh(&format!("mkfs.ext4 -q -F {}", image.display()))?;
    }
    let name = format!("crash{i}");
    let seed_s = seed.to_string();
    let mut extra = vec!["--crash-test", "--crash-seed", &seed_s];
    if keep_random {
        extra.extend(["--crash-keep", "random"]);
    }
    if scenario == Scenario::DirectWce0 {
        extra.extend(["--write-cache", "false"]);
    }
    let mut served = serve(tcmu, &image, &name, &extra)?;
    let disk = served.disk.clone();
    let mut rng = Rng(seed);
    // The cut comes at a random moment once the workload has made a few promises, so no cut
    // passes for want of anything to check.
    let min_promises = if scenario == Scenario::Ext4 { 8 } else { 4 };
    // ext4 gets longer: background write-back (a second) puts unsynced data in the cache.
    let extra_delay = match scenario {
        Scenario::Ext4 => Duration::from_millis(rng.range(1000, 4000)),
        _ => Duration::from_millis(rng.range(0, 2500)),
    };

    let mount = PathBuf::from(format!("/mnt/{name}"));
    let log = Arc::new(Mutex::new(Log::default()));
    let worker = {
        let (disk, mount, log) = (disk.clone(), mount.clone(), Arc::clone(&log));
        let wseed = rng.next();
        std::thread::spawn(move || match scenario {
            Scenario::Ext4 => ext4_workload(&disk, &mount, &log, wseed),
            _ => block_workload(&disk, scenario, &log, wseed),
        })
    };
    let started = Instant::now();
    let progress_deadline = started + Duration::from_secs(90);
    loop {
        let promised = log.lock().map_or(0, |l| l.promised);
        if promised >= min_promises {
            break;
        }
        if worker.is_finished() || Instant::now() > progress_deadline {
            let _ = served.signal("KILL");
            let _ = served.wait(30);
            let _ = sh(&format!("{} cleanup", tcmu.display()));
            let why = if worker.is_finished() {
                worker.join().unwrap_or_else(|_| "panicked".into())
            } else {
                "still running".into()
            };
            return Err(format!(
                "the workload made {promised} promises in {:.0} s before the cut (it says: {why})",
                started.elapsed().as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(extra_delay);
    if worker.is_finished() {
        // It stopped on its own: a cut now would hit an idle disk and prove nothing.
        let _ = served.signal("KILL");
        let _ = served.wait(30);
        let _ = sh(&format!("{} cleanup", tcmu.display()));
        let why = worker.join().unwrap_or_else(|_| "panicked".into());
        return Err(format!("the workload stopped before the cut: {why}"));
    }
    let cut_after = started.elapsed();
    let cut_clock = clock();
    // Marked before the signal: a command that ended before this ended before the cut.
    if let Ok(mut l) = log.lock() {
        l.cut = true;
    }
    served.signal("USR1")?;
    let cut_at = Instant::now();
    let st = served.wait(30)?;
    let said = served.stderr();
    if !st.success() || !said.contains("power cut") {
        return Err(format!("the server did not report a power cut ({st}): {said}"));
    }
    // The dead disk: `tcmu cleanup` answers its ring with errors and removes it.
    let cleaned = sh(&format!("{} cleanup", tcmu.display()))?;
    if !cleaned.contains(&format!("user_1/{name}")) {
        return Err(format!("tcmu cleanup did not remove the dead disk: {cleaned}"));
    }
    let cleaned_after = cut_at.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !worker.is_finished() {
        if Instant::now() > deadline {
            return Err("the workload is stuck after the power cut".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ended = worker.join().map_err(|_| "the workload panicked".to_string())?;
    let ended_after = cut_at.elapsed();
    if scenario == Scenario::Ext4 {
        let _ = sh(&format!("umount -l {}", mount.display()));
    }
    let log = std::mem::take(&mut *log.lock().map_err(|_| "log poisoned")?);
    let cut_note = said
        .lines()
        .find(|l| l.contains("power cut"))
        .and_then(|l| l.split(": ").nth(2))
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    let summary = match scenario {
        Scenario::Ext4 => check_ext4(tcmu, &image, &name, &log),
        _ => check_blocks(&image, &log),
    }
    .map_err(|e| {
        // What the server did last, to tell a lost promise's story.
        // The cut's own lines (one per cached entry) would crowd out the commands before it.
        let at_cut = "dropped or kept at the cut";
        let lines: Vec<&str> = said.lines().filter(|l| !l.contains(at_cut)).collect();
        let dropped = said.lines().count() - lines.len();
        let last = lines[lines.len().saturating_sub(40)..].join("\n    ");
        format!(
            "{e}\n  the cut came at {cut_clock}; the server's log ends ({dropped} lines of \
             cached entries {at_cut} left out):\n    {last}"
        )
    })?;
    let _ = std::fs::remove_file(&image);
    Ok(format!(
        "cut after {} ms and {} promises; dead disk removed {} ms later, workload ended {} ms \
         later with \"{}\"; {cut_note}; {summary}",
        cut_after.as_millis(),
        log.promised,
        cleaned_after.as_millis(),
        ended_after.as_millis(),
        ended.lines().next().unwrap_or("")
    ))
}

// ---------------------------------------------------------------------------------------------
// ext4

/// What the workload was promised, and what was in flight when the power went.
#[derive(Debug, Default)]
struct Log {
    /// ext4: each file's content at its last fsync (None: removed), and whether that is
    /// certain (no operation on it was in flight at the cut).
    files: HashMap<String, (Option<Vec<u8>>, bool)>,
    /// Blocks: per 512-byte block of the region, what it may hold.
    blocks: Vec<BlockState>,
    /// Operations whose completion promised durability.
    promised: u64,
    /// Blocks: each command issued, by number ("UNMAP 4288+53, promise 40").
    ops: HashMap<u64, String>,
    /// Blocks: the promises a SYNCHRONIZE CACHE made, by number.
    syncs: Vec<u64>,
    /// Whether the power cut has been (or is about to be) signalled.
    ///
    /// A command sent through SG_IO (the sg3_utils tools) that ends after this is set is not
    /// taken as a promise, whatever it says: while a disk is being removed, SG_IO can report
    /// success for a command that never reached the target. Seen on Linux 6.12: an UNMAP issued
    /// 16 ms before the cut, never received by the server (its log has it serve nothing after
    /// the command before), ended with GOOD 450 ms after the cut, while `tcmu cleanup` removed
    /// the dead disk. Writes through the block layer (O_DIRECT, fsync) report such failures as
    /// errors, so their success is always believed.
    cut: bool,
}

impl Log {
    /// What command `seq` was, for a report.
    fn what(&self, seq: u64) -> &str {
        self.ops.get(&seq).map_or("not issued by this workload", String::as_str)
    }
}

fn ext4_workload(disk: &Path, mount: &Path, log: &Mutex<Log>, seed: u64) -> String {
    let _ = std::fs::create_dir_all(mount);
    if let Err(e) = sh(&format!("mount {} {}", disk.display(), mount.display())) {
        return format!("mount failed: {e}");
    }
    let dir = mount.join("d");
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| sync_dir(mount)) {
        return format!("mkdir: {e}");
    }
    let mut rng = Rng(seed);
    let mut names: Vec<String> = Vec::new();
    for i in 0u64.. {
        let op = rng.range(0, 12);
        let r = if op >= 10 {
            // A write nobody fsyncs: dirty data in the page cache, written back (into the
            // disk's volatile cache) whenever the kernel likes. Not promised, and never
            // checked but by e2fsck; it keeps unflushed blocks around for the cut to lose.
            let name = format!("u{}", op - 10);
            let content = rng.some_bytes(1, 256 << 10);
            step_unpromised(log, &name, || {
                std::fs::write(dir.join(&name), &content)?;
                Ok(())
            })
        } else if names.len() < 4 || op < 4 {
            // Create a file, fsync it and the directory.
            let name = format!("n{i}");
            let content = rng.some_bytes(1, 48 << 10);
            step(log, &[&name], || {
                let mut f = File::create(dir.join(&name))?;
                f.write_all(&content)?;
                f.sync_all()?;
                sync_dir(&dir)?;
                Ok(vec![(name.clone(), Some(content.clone()))])
            })
            .map(|()| names.push(name))
        } else {
            let k = rng.range(0, names.len() as u64) as usize;
            let name = names[k].clone();
            let current = log
                .lock()
                .ok()
                .and_then(|l| l.files.get(&name).and_then(|f| f.0.clone()))
                .unwrap_or_default();
            match op {
                4 | 5 => {
                    // Append, fsync.
                    let more = rng.some_bytes(1, 16 << 10);
                    step(log, &[&name], || {
                        let mut f = OpenOptions::new().append(true).open(dir.join(&name))?;
                        f.write_all(&more)?;
                        f.sync_all()?;
                        Ok(vec![(name.clone(), Some([current.clone(), more.clone()].concat()))])
                    })
                }
                6 => {
                    // Overwrite part in place, fdatasync.
                    let at = rng.range(0, current.len() as u64) as usize;
                    let patch = rng.some_bytes(1, 8 << 10);
                    step(log, &[&name], || {
                        let f = OpenOptions::new().write(true).open(dir.join(&name))?;
                        f.write_all_at(&patch, at as u64)?;
                        f.sync_data()?;
                        let mut now = current.clone();
                        now.resize(now.len().max(at + patch.len()), 0);
                        now[at..at + patch.len()].copy_from_slice(&patch);
                        Ok(vec![(name.clone(), Some(now))])
                    })
                }
                7 | 8 => {
                    // Rename, fsync the directory.
                    let to = format!("r{i}");
                    step(log, &[&name, &to], || {
                        std::fs::rename(dir.join(&name), dir.join(&to))?;
                        sync_dir(&dir)?;
                        Ok(vec![(name.clone(), None), (to.clone(), Some(current.clone()))])
                    })
                    .map(|()| names[k] = to)
                }
                _ => {
                    // Remove, fsync the directory.
                    step(log, &[&name], || {
                        std::fs::remove_file(dir.join(&name))?;
                        sync_dir(&dir)?;
                        Ok(vec![(name.clone(), None)])
                    })
                    .map(|()| {
                        names.swap_remove(k);
                    })
                }
            }
        };
        if let Err(e) = r {
            return e.to_string();
        }
    }
    unreachable!("the loop ends on the first error")
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Runs one file operation: the names it touches are uncertain while it runs; when it
/// returns Ok, what it promised is recorded.
type Outcome = Vec<(String, Option<Vec<u8>>)>;

fn step(
    log: &Mutex<Log>,
    names: &[&str],
    op: impl FnOnce() -> std::io::Result<Outcome>,
) -> std::io::Result<()> {
    {
        let mut l = log.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        for n in names {
            l.files.entry((*n).to_string()).or_insert((None, true)).1 = false;
        }
    }
    let outcome = op()?;
    let mut l = log.lock().map_err(|_| std::io::Error::other("poisoned"))?;
    for (n, content) in outcome {
        l.files.insert(n, (content, true));
    }
    l.promised += 1;
    Ok(())
}

/// Runs a file operation that promises nothing: the name stays uncertain.
fn step_unpromised(
    log: &Mutex<Log>,
    name: &str,
    op: impl FnOnce() -> std::io::Result<()>,
) -> std::io::Result<()> {
    log.lock()
        .map_err(|_| std::io::Error::other("poisoned"))?
        .files
        .insert(name.to_string(), (None, false));
    op()
}

/// Serves the image again, mounts it (journal replay), checks every certain file, unmounts,
/// stops the server and runs `e2fsck -fn` on the image.
fn check_ext4(tcmu: &Path, image: &Path, name: &str, log: &Log) -> Result<String, String> {
    let check_name = format!("{name}c");
    let served = serve(tcmu, image, &check_name, &[])?;
    let mount = PathBuf::from(format!("/mnt/{check_name}"));
    std::fs::create_dir_all(&mount).map_err(|e| e.to_string())?;
    let r = (|| {
        sh(&format!("mount {} {}", served.disk.display(), mount.display()))
            .map_err(|e| format!("the file system does not mount after the cut: {e}"))?;
        let mut checked = 0;
        let mut problems = Vec::new();
        for (n, (content, certain)) in &log.files {
            if !certain {
                continue;
            }
            checked += 1;
            let path = mount.join("d").join(n);
            match (content, std::fs::read(&path)) {
                (Some(want), Ok(got)) if *want == got => {}
                (Some(want), Ok(got)) => problems.push(format!(
                    "{n}: {} bytes after the cut, {} fsync'd",
                    got.len(),
                    want.len()
                )),
                (Some(_), Err(e)) => problems.push(format!("{n}: fsync'd, now {e}")),
                (None, Ok(_)) => problems.push(format!("{n}: removed and fsync'd, now back")),
                (None, Err(_)) => {}
            }
        }
        let _ = sh(&format!("umount {}", mount.display()));
        if !problems.is_empty() {
            problems.truncate(8);
            return Err(format!("fsync'd data lost: {}", problems.join("; ")));
        }
        Ok(checked)
    })();
    let _ = sh(&format!("umount {} 2>/dev/null", mount.display()));
    served.stop()?;
    let checked = r?;
    let fsck = Command::new("e2fsck")
        .args(["-fn"])
        .arg(image)
        .output()
        .map_err(|e| format!("e2fsck: {e}"))?;
    if !fsck.status.success() {
        return Err(format!(
            "e2fsck -fn after journal replay: {}\n{}",
            fsck.status,
            String::from_utf8_lossy(&fsck.stdout)
        ));
    }
    Ok(format!("{checked} fsync'd files intact, journal replayed, e2fsck -fn clean"))
}

// ---------------------------------------------------------------------------------------------
// Blocks

const BLOCK: usize = 512;
/// The part of the disk the block workloads use: 8 MiB, so commands overlap often.
const REGION_BLOCKS: u64 = 16384;
const MAGIC: u64 = 0x7463_6d75_6372_7368; // "tcmucrsh"

/// What one block may hold.
#[derive(Debug, Clone, Default)]
struct BlockState {
    /// What the last promised command left (None: zeroes, as the image started).
    done: Option<Content>,
    /// The command whose promise set `done` (None: nothing promised yet).
    done_by: Option<u64>,
    /// Later contents that may or may not have reached the medium (completed without a
    /// promise, or in flight at the cut), with the command that wrote each.
    maybe: Vec<(u64, Option<Content>)>,
}

/// A stamped block: written by command `seq`, tagged with an LBA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Content {
    seq: u64,
    tag: u64,
}

fn stamp(c: Content) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    for (i, w) in b.chunks_exact_mut(8).enumerate() {
        let v = match i % 3 {
            0 => MAGIC,
            1 => c.seq,
            _ => c.tag,
        };
        w.copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// One block workload command: the blocks it covers and what it puts there.
struct BlockOp {
    /// The command's number in the workload (what its stamps carry).
    seq: u64,
    /// What it is, for a failure's report: "UNMAP 4288+53".
    what: String,
    /// How it reached the disk.
    route: Route,
    lba: u64,
    blocks: u64,
    /// Per block: None for zeroes.
    content: Box<dyn Fn(u64) -> Option<Content> + Send>,
}

fn block_workload(disk: &Path, scenario: Scenario, log: &Mutex<Log>, seed: u64) -> String {
    let mut rng = Rng(seed);
    if let Ok(mut l) = log.lock() {
        l.blocks = vec![BlockState::default(); REGION_BLOCKS as usize];
    }
    let mut flags = nix::fcntl::OFlag::O_DIRECT.bits();
    if scenario == Scenario::DsyncFua {
        flags |= nix::fcntl::OFlag::O_DSYNC.bits();
    }
    let dev = match OpenOptions::new().read(true).write(true).custom_flags(flags).open(disk) {
        Ok(f) => f,
        Err(e) => return format!("open {}: {e}", disk.display()),
    };
    // A page-aligned buffer for O_DIRECT, found inside a larger one.
    let mut raw = vec![0u8; (256 << 10) + 4096];
    let skip = raw.as_ptr().align_offset(4096);
    let promise_each = scenario != Scenario::CachedSync;
    let scratch = format!("/tmp/crash-scratch-{seed}");
    for seq in 1u64.. {
        let kind = if scenario == Scenario::DsyncFua { 0 } else { rng.range(0, 10) };
        let lba = rng.range(0, REGION_BLOCKS / 8 - 32) * 8;
        // Whether this command carries FUA (only COMPARE AND WRITE here; O_DSYNC writes get it
        // from the kernel).
        let mut fua = false;
        let r: Result<BlockOp, String> = match kind {
            0..=4 => {
                // An O_DIRECT write of stamped blocks, 4 KiB to 64 KiB.
                let blocks = rng.range(1, 17) * 8;
                let op = BlockOp {
                    seq,
                    what: format!("O_DIRECT write {lba}+{blocks}"),
                    route: Route::BlockLayer,
                    lba,
                    blocks,
                    content: Box::new(move |b| Some(Content { seq, tag: b })),
                };
                run_block_op(log, op, |op| {
                    let buf = &mut raw[skip..skip + op.blocks as usize * BLOCK];
                    for (k, chunk) in buf.chunks_exact_mut(BLOCK).enumerate() {
                        chunk.copy_from_slice(&stamp(Content { seq, tag: op.lba + k as u64 }));
                    }
                    dev.write_all_at(buf, op.lba * BLOCK as u64)
                        .map_err(|e| format!("O_DIRECT write: {e}"))
                })
            }
            5 | 6 => {
                // WRITE SAME(16) of a stamped block, or of zeroes with UNMAP.
                let blocks = rng.range(1, 129);
                let zero = rng.range(0, 3) == 0;
                let block = if zero { [0u8; BLOCK] } else { stamp(Content { seq, tag: lba }) };
                // Zeroes by UNMAP (the data-out block is zeroes) or by NDOB (no data-out
                // block); data by WRITE SAME(10) or (16).
                let (how, data_out) = match (zero, rng.range(0, 2)) {
                    (true, 0) => ("--16 --unmap", true),
                    (true, _) => ("--16 --ndob", false),
                    (false, 0) => ("--10", true),
                    (false, _) => ("--16", true),
                };
                let input = if data_out { format!("--in={scratch}") } else { String::new() };
                let op = BlockOp {
                    seq,
                    what: format!("WRITE SAME {how} {lba}+{blocks}"),
                    route: Route::SgIo,
                    lba,
                    blocks,
                    content: Box::new(move |_| (!zero).then_some(Content { seq, tag: lba })),
                };
                run_block_op(log, op, |op| {
                    std::fs::write(&scratch, block).map_err(|e| e.to_string())?;
                    sh(&format!(
                        "sg_write_same {how} {input} --lba={} --num={} {}",
                        op.lba,
                        op.blocks,
                        disk.display()
                    ))
                    .map(|_| ())
                })
            }
            7 => {
                // UNMAP.
                let blocks = rng.range(1, 129);
                let op = BlockOp {
                    seq,
                    what: format!("UNMAP {lba}+{blocks}"),
                    route: Route::SgIo,
                    lba,
                    blocks,
                    content: Box::new(|_| None),
                };
                run_block_op(log, op, |op| {
                    sh(&format!(
                        "sg_unmap --force --lba={} --num={} {}",
                        op.lba,
                        op.blocks,
                        disk.display()
                    ))
                    .map(|_| ())
                })
            }
            _ => {
                // COMPARE AND WRITE of 1 to 8 blocks against what the disk holds now.
                let blocks = rng.range(1, 9);
                let current: Vec<Option<Content>> = match log.lock() {
                    Ok(l) => (lba..lba + blocks)
                        .map(|b| {
                            let s = &l.blocks[b as usize];
                            s.maybe.last().map_or(s.done, |m| m.1)
                        })
                        .collect(),
                    Err(_) => return "log poisoned".into(),
                };
                fua = rng.range(0, 2) == 0;
                let op = BlockOp {
                    seq,
                    what: format!(
                        "COMPARE AND WRITE {lba}+{blocks}{}",
                        if fua { " FUA" } else { "" }
                    ),
                    route: Route::SgIo,
                    lba,
                    blocks,
                    content: Box::new(move |b| Some(Content { seq, tag: b })),
                };
                let mut both = Vec::with_capacity(2 * blocks as usize * BLOCK);
                for c in &current {
                    both.extend_from_slice(&c.map_or([0; BLOCK], stamp));
                }
                for b in lba..lba + blocks {
                    both.extend_from_slice(&stamp(Content { seq, tag: b }));
                }
                run_block_op(log, op, |op| {
                    std::fs::write(&scratch, &both).map_err(|e| e.to_string())?;
                    sh(&format!(
                        "sg_compare_and_write {} --in={scratch} --lba={} --num={} {}",
                        if fua { "--fua" } else { "" },
                        op.lba,
                        op.blocks,
                        disk.display()
                    ))
                    .map(|_| ())
                })
            }
        };
        let op = match r {
            Ok(op) => op,
            Err(e) => return e,
        };
        if promise_each || fua {
            promise_ended(log, &op);
        }
        if !promise_each && seq % 3 == 0 {
            // SYNCHRONIZE CACHE: everything completed before it is promised.
            if let Err(e) = sh(&format!("sg_sync {}", disk.display())) {
                return e;
            }
            if believed(log, Route::SgIo) {
                promise(log, None);
            }
        }
    }
    unreachable!("the loop ends on the first error")
}

/// Runs one command: its blocks may hold its content from the moment it is issued.
fn run_block_op(
    log: &Mutex<Log>,
    op: BlockOp,
    f: impl FnOnce(&BlockOp) -> Result<(), String>,
) -> Result<BlockOp, String> {
    {
        let mut l = log.lock().map_err(|_| "log poisoned")?;
        for b in op.lba..op.lba + op.blocks {
            let c = (op.content)(b);
            l.blocks[b as usize].maybe.push((op.seq, c));
        }
        l.ops.insert(op.seq, format!("{}, issued {}", op.what, clock()));
    }
    let r = f(&op);
    if let Ok(mut l) = log.lock()
        && let Some(what) = l.ops.get_mut(&op.seq)
    {
        what.push_str(&format!(", ended {}", clock()));
    }
    r?;
    Ok(op)
}

/// How a command reached the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Through the block layer (O_DIRECT): its success is always believed.
    BlockLayer,
    /// Through SG_IO (sg3_utils): its success is believed only before the cut ([`Log::cut`]).
    SgIo,
}

/// Records the promise of `op`, which ended well, unless it came by SG_IO after the cut.
fn promise_ended(log: &Mutex<Log>, op: &BlockOp) {
    if believed(log, op.route) {
        promise(log, Some(op));
    }
}

/// Whether a command that came by `route` and ended well now is taken at its word: always
/// through the block layer, through SG_IO only before the cut was signalled ([`Log::cut`]).
fn believed(log: &Mutex<Log>, route: Route) -> bool {
    route == Route::BlockLayer || !log.lock().map_or(true, |l| l.cut)
}

/// The time of day (UTC) to the microsecond, as the server's log has it: to line the
/// workload's commands up with what the server did.
fn clock() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let s = t.as_secs() % 86400;
    format!("{:02}:{:02}:{:02}.{:06}", s / 3600, s / 60 % 60, s % 60, t.subsec_micros())
}

/// Records a promise: `op`'s blocks hold its content (it completed with FUA or no write
/// cache), or, for None, everything completed so far (a SYNCHRONIZE CACHE completed).
fn promise(log: &Mutex<Log>, op: Option<&BlockOp>) {
    let Ok(mut l) = log.lock() else { return };
    l.promised += 1;
    let n = l.promised;
    match op {
        Some(op) => {
            for b in op.lba..op.lba + op.blocks {
                let s = &mut l.blocks[b as usize];
                s.done = (op.content)(b);
                s.done_by = Some(op.seq);
                s.maybe.clear();
            }
            if let Some(what) = l.ops.get_mut(&op.seq) {
                what.push_str(&format!(", promise {n}"));
            }
        }
        None => {
            for s in &mut l.blocks {
                if let Some((seq, last)) = s.maybe.pop() {
                    s.done = last;
                    s.done_by = Some(seq);
                    s.maybe.clear();
                }
            }
            l.syncs.push(n);
        }
    }
}

/// Reads the image (what is on the medium after the cut) and checks every block of the region
/// holds what was promised, or something written after the promise.
fn check_blocks(image: &Path, log: &Log) -> Result<String, String> {
    let mut f = File::open(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let mut all = vec![0u8; REGION_BLOCKS as usize * BLOCK];
    f.read_exact(&mut all).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    let mut promised_blocks = 0;
    let mut later = 0;
    for (b, s) in log.blocks.iter().enumerate() {
        let got = &all[b * BLOCK..(b + 1) * BLOCK];
        let is = |c: &Option<Content>| match c {
            None => got.iter().all(|&x| x == 0),
            Some(c) => got == stamp(*c),
        };
        if s.done.is_some() {
            promised_blocks += 1;
        }
        if is(&s.done) {
            continue;
        }
        if s.maybe.iter().any(|m| is(&m.1)) {
            later += 1;
            continue;
        }
        let word = |i: usize| u64::from_le_bytes(got[i..i + 8].try_into().unwrap_or_default());
        let found = if got.iter().all(|&x| x == 0) {
            "zeroes".to_string()
        } else if word(0) == MAGIC {
            format!("command {}'s block for {} ({})", word(8), word(16), log.what(word(8)))
        } else {
            "unrecognised bytes".to_string()
        };
        let promised = match s.done {
            None => "zeroes".to_string(),
            Some(c) => format!("command {}'s block for {}", c.seq, c.tag),
        };
        let by = s.done_by.map_or("the image as created".into(), |seq| {
            format!("command {seq} ({})", log.what(seq))
        });
        problems.push(format!("block {b}: promised {promised} by {by}, found {found}"));
    }
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(6);
        let syncs = if log.syncs.is_empty() {
            String::new()
        } else {
            format!("; SYNCHRONIZE CACHE made promises {:?}", log.syncs)
        };
        return Err(format!(
            "{n} blocks lost what was promised: {}{syncs}; {} commands issued, the last {}",
            problems.join("; "),
            log.ops.len(),
            log.ops.keys().max().map_or("none".into(), |&s| format!("{s} ({})", log.what(s)))
        ));
    }
    Ok(format!("{promised_blocks} promised blocks intact ({later} hold later, unpromised writes)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> Log {
        Log { blocks: vec![BlockState::default(); REGION_BLOCKS as usize], ..Log::default() }
    }

    fn op(lba: u64, blocks: u64, seq: u64) -> BlockOp {
        BlockOp {
            seq,
            what: format!("write {lba}+{blocks}"),
            route: Route::SgIo,
            lba,
            blocks,
            content: Box::new(move |b| Some(Content { seq, tag: b })),
        }
    }

    /// An image of the region with `fill(lba)` in each block.
    fn image(tag: &str, fill: impl Fn(u64) -> Option<Content>) -> PathBuf {
        let path = std::env::temp_dir().join(format!("crash-check-{}-{tag}", std::process::id()));
        let mut bytes = Vec::with_capacity(REGION_BLOCKS as usize * BLOCK);
        for b in 0..REGION_BLOCKS {
            bytes.extend_from_slice(&fill(b).map_or([0; BLOCK], stamp));
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_promised_write_must_be_there() {
        let log = Mutex::new(log());
        let w = run_block_op(&log, op(8, 8, 1), |_| Ok(())).unwrap();
        promise(&log, Some(&w));
        let l = log.lock().unwrap();
        let good = image("good", |b| (8..16).contains(&b).then_some(Content { seq: 1, tag: b }));
        assert!(check_blocks(&good, &l).is_ok());
        let lost = image("lost", |_| None);
        let e = check_blocks(&lost, &l).unwrap_err();
        assert!(e.contains("8 blocks lost"), "{e}");
        assert!(
            e.contains(
                "block 8: promised command 1's block for 8 by command 1 (write 8+8, issued "
            ) && e.contains(", promise 1), found zeroes"),
            "{e}"
        );
        let torn = image("torn", |b| (8..12).contains(&b).then_some(Content { seq: 1, tag: b }));
        assert!(check_blocks(&torn, &l).is_err(), "half a promised write is a lost promise");
        for p in [good, lost, torn] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn unpromised_writes_may_land_whole_or_torn_but_nothing_older_comes_back() {
        let log = Mutex::new(log());
        let w1 = run_block_op(&log, op(0, 8, 1), |_| Ok(())).unwrap();
        promise(&log, Some(&w1));
        // Cached, never flushed, then another in flight at the cut.
        run_block_op(&log, op(0, 8, 2), |_| Ok(())).unwrap();
        run_block_op(&log, op(4, 8, 3), |_| Ok(())).unwrap();
        let l = log.lock().unwrap();
        let mixed = image("mixed", |b| match b {
            0 | 1 => Some(Content { seq: 1, tag: b }),
            2 | 3 => Some(Content { seq: 2, tag: b }),
            4..=5 => Some(Content { seq: 3, tag: b }),
            6 | 7 => Some(Content { seq: 1, tag: b }),
            _ => None,
        });
        assert!(check_blocks(&mixed, &l).is_ok());
        // Blocks 8 and 9 never held anything but zeroes or command 3's data: command 1's is
        // wrong there.
        let wrong = image("wrong", |b| (b < 10).then_some(Content { seq: 1, tag: b }));
        assert!(check_blocks(&wrong, &l).is_err());
        for p in [mixed, wrong] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn an_sg_io_success_after_the_cut_promises_nothing() {
        let log = Mutex::new(log());
        let w = run_block_op(&log, op(0, 8, 1), |_| Ok(())).unwrap();
        promise_ended(&log, &w);
        log.lock().unwrap().cut = true;
        let late = run_block_op(&log, op(0, 8, 2), |_| Ok(())).unwrap();
        promise_ended(&log, &late);
        let l = log.lock().unwrap();
        assert_eq!(l.promised, 1, "the SG_IO command ended before the cut is promised");
        let first = image("first", |b| (b < 8).then_some(Content { seq: 1, tag: b }));
        assert!(check_blocks(&first, &l).is_ok(), "the late command may not have landed");
        let none = image("none", |_| None);
        assert!(check_blocks(&none, &l).is_err());
        drop(l);
        let direct = BlockOp { route: Route::BlockLayer, ..op(0, 8, 3) };
        let direct = run_block_op(&log, direct, |_| Ok(())).unwrap();
        promise_ended(&log, &direct);
        let l = log.lock().unwrap();
        assert_eq!(l.promised, 2, "a block-layer write is believed after the cut too");
        assert!(check_blocks(&first, &l).is_err());
        for p in [first, none] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn a_synchronize_cache_promises_everything_before_it() {
        let log = Mutex::new(log());
        run_block_op(&log, op(0, 8, 1), |_| Ok(())).unwrap();
        run_block_op(&log, op(0, 8, 2), |_| Ok(())).unwrap();
        promise(&log, None);
        run_block_op(&log, op(0, 8, 3), |_| Ok(())).unwrap();
        let l = log.lock().unwrap();
        assert_eq!(l.promised, 1);
        let older = image("older", |b| (b < 8).then_some(Content { seq: 1, tag: b }));
        assert!(check_blocks(&older, &l).is_err(), "the synced write is 2, not 1");
        let synced = image("synced", |b| (b < 8).then_some(Content { seq: 2, tag: b }));
        assert!(check_blocks(&synced, &l).is_ok());
        let later = image("later", |b| (b < 8).then_some(Content { seq: 3, tag: b }));
        assert!(check_blocks(&later, &l).is_ok());
        for p in [older, synced, later] {
            let _ = std::fs::remove_file(p);
        }
    }
}
