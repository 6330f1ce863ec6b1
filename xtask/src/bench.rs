//! `cargo xtask bench`: one guest run of `xtask/vm/bench.sh` (fio against our device, LIO's
//! kernel fileio backstore and tcmu-runner), printed as one table of ratios to fileio.
//!
//! Each round serves every device in turn and runs every workload on it; a cell's ratio is
//! taken per round (the device against fileio in the same round), and the table shows the
//! median with the lowest and highest. The table also goes to `target/bench.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The devices, in the table's order: (name in bench.sh, column title).
const DEVICES: &[(&str, &str)] = &[
    ("fileio", "kernel fileio"),
    ("ours-file", "ours, file"),
    ("ours-direct", "ours, file, --direct"),
    ("ours-mem", "ours, memory"),
    ("ours-poll", "ours, file, --poll-us 2000"),
    ("tcmu-runner", "tcmu-runner 1.5.4, qcow2"),
    ("ublk", "ublk loop (rublk 0.2.15)"),
    ("rbd-bench", "rbd bench (librbd alone)"),
    ("fio-rbd", "fio's rbd engine (librbd, no block layer)"),
    ("krbd", "kernel rbd driver (no user space)"),
    ("ours-rbd", "ours, rbd"),
    ("runner-rbd", "tcmu-runner 1.5.4, rbd"),
];

/// The devices on a Ceph cluster, whose table is in ratios to `rbd bench` (when asked for
/// without fileio).
const RBD_REFERENCE: &str = "rbd-bench";

/// rublk, the ublk loop target the 6.12 guest measures: built from crates.io into the cache.
const RUBLK_VERSION: &str = "0.2.15";

/// What the bench measures.
pub struct Options {
    /// Seconds each cell runs (after one second of ramp).
    pub seconds: u64,
    /// Rounds.
    pub runs: u64,
    /// Workload names (empty: all).
    pub workloads: Vec<String>,
    /// Device names (empty: all but ours-direct).
    pub devices: Vec<String>,
    /// Images on an ext4 file system on a virtio disk (a raw file in the VM cache, opened by
    /// QEMU with O_DIRECT), not on tmpfs: where O_DIRECT means something.
    pub disk: bool,
}

/// ` NAME A,B` for a list option given, nothing for one left out.
fn list_option(name: &str, values: &[String]) -> String {
    if values.is_empty() { String::new() } else { format!(" {name} {}", values.join(",")) }
}

/// One measured cell: (read IOPS, write IOPS, read KiB/s, write KiB/s).
type Cell = [f64; 4];

/// Runs the bench in the guest and prints the tables.
pub fn run(root: &Path, tcmu: &Path, o: &Options) -> Result<(), String> {
    crate::vm::ensure_host_packages(&[("tcmu-runner", "tcmu-runner"), ("qemu-img", "qemu-utils")])?;
    for d in &o.devices {
        if !DEVICES.iter().any(|(name, _)| name == d) {
            let known: Vec<&str> = DEVICES.iter().map(|(name, _)| *name).collect();
            return Err(format!("unknown device `{d}` (known: {})", known.join(" ")));
        }
    }
    if o.devices.iter().any(|d| d == "ours-direct") && !o.disk {
        return Err("ours-direct reads its image with O_DIRECT: it needs --disk (tmpfs has no \
                    O_DIRECT before Linux 6.6)"
            .into());
    }
    let script =
        std::fs::read_to_string(root.join("xtask/vm/bench.sh")).map_err(|e| e.to_string())?;
    // ublk needs 6.12 (Debian's 6.1 has no ublk_drv).
    let rublk =
        if crate::vm::kernel() == crate::vm::Kernel::V6_12 { rublk()? } else { String::new() };
    let devices = if o.devices.is_empty() { DEVICES.len() } else { o.devices.len() } as u64;
    if o.devices.iter().any(|d| d.contains("rbd")) {
        crate::ensure_ceph()?;
    }
    let workloads = if o.workloads.is_empty() { 17 } else { o.workloads.len() } as u64;
    let timeout = o.runs * devices * (workloads * (o.seconds + 4) + 60) + 300;
    if o.disk {
        let raw = crate::vm::cache().join("bench-disk.raw");
        // Sparse: 2 GiB of room for the images, nothing kept between runs.
        std::fs::File::create(&raw)
            .and_then(|f| f.set_len(2 << 30))
            .map_err(|e| format!("{}: {e}", raw.display()))?;
        crate::vm::use_disk(Some(raw));
    }
    let text = format!(
        "TCMU={}\nCEPH_SCRIPT={}\nRUBLK={rublk}\nSECS={}\nRUNS={}\nWORKLOADS='{}'\nDEVICES='{}'\nDISK={}\n{script}",
        tcmu.display(),
        root.join("xtask/ceph/cluster.sh").display(),
        o.seconds,
        o.runs,
        o.workloads.join(" "),
        o.devices.join(" "),
        u8::from(o.disk)
    );
    let rc = crate::vm::run(&text, Duration::from_secs(timeout));
    crate::vm::use_disk(None);
    let rc = rc?;
    if rc != 0 {
        return Err(format!("the bench failed in the VM (exit status {rc})"));
    }
    let tsv = std::fs::read_to_string(crate::vm::results_dir().join("bench.tsv"))
        .map_err(|e| format!("the guest wrote no results: {e}"))?;
    // The raw numbers are kept beside the table (the guest's folder goes with the next run).
    let raw = root.join("target/bench.tsv");
    std::fs::write(&raw, &tsv).map_err(|e| format!("{}: {e}", raw.display()))?;
    let table = report(&tsv, o)?;
    print!("\n{table}");
    let out = root.join("target/bench.md");
    std::fs::write(&out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("xtask: the table is also in {}", out.display());
    Ok(())
}

/// Builds rublk (without its GPU target) into the VM cache once; its path.
fn rublk() -> Result<String, String> {
    let dir = crate::vm::cache().join(format!("rublk-{RUBLK_VERSION}"));
    let bin = dir.join("bin/rublk");
    if !bin.exists() {
        // libublk's bindings are generated with bindgen, which loads libclang.
        let libclang = std::process::Command::new("sh")
            .args(["-c", "ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1"])
            .status()
            .is_ok_and(|s| s.success());
        if !libclang {
            crate::vm::ensure_host_packages(&[("/nonexistent/libclang", "libclang-dev")])?;
        }
        eprintln!("xtask: building rublk {RUBLK_VERSION} from crates.io (once)");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["install", "--locked", "--no-default-features", "--version", RUBLK_VERSION])
            .arg("--root")
            .arg(&dir)
            .arg("rublk")
            .status()
            .map_err(|e| format!("cannot run cargo install: {e}"))?;
        if !status.success() {
            return Err(format!("cargo install rublk failed ({status})"));
        }
    }
    Ok(bin.display().to_string())
}

/// The median, lowest and highest of `v` (not empty).
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    (median, v[0], v[n - 1])
}

/// Whether a workload is measured in bytes per second (64 KiB and up) rather than IOPS.
fn by_throughput(workload: &str) -> bool {
    workload.starts_with("sr") || workload.starts_with("sw")
}

/// A cell's figure of merit: IOPS, or KiB/s for [`by_throughput`] workloads.
fn merit(workload: &str, c: &Cell) -> f64 {
    if by_throughput(workload) { c[2] + c[3] } else { c[0] + c[1] }
}

/// Builds the tables from bench.sh's output.
fn report(tsv: &str, o: &Options) -> Result<String, String> {
    // (device, workload) -> round -> cell; (device, key) -> values over rounds.
    let mut cells: BTreeMap<(String, String), BTreeMap<u64, Cell>> = BTreeMap::new();
    let mut info: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    // Every device measured, including one whose cells all failed (its column shows "-").
    let mut seen = std::collections::BTreeSet::new();
    for line in tsv.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["cell", dev, name, round, rest @ ..] => {
                seen.insert(dev.to_string());
                let nums: Vec<f64> = rest.iter().filter_map(|s| s.parse().ok()).collect();
                let [a, b, c, d] = nums[..] else {
                    // The cell shows "-": the other cells still count.
                    eprintln!("xtask: fio gave no result for {dev} {name} round {round}");
                    continue;
                };
                let round = round.parse().map_err(|_| format!("bad line `{line}`"))?;
                cells
                    .entry((dev.to_string(), name.to_string()))
                    .or_default()
                    .insert(round, [a, b, c, d]);
                if !order.iter().any(|n| n == name) {
                    order.push(name.to_string());
                }
            }
            ["info", dev, _round, key, value] => {
                let v = value.parse().map_err(|_| format!("bad line `{line}`"))?;
                info.entry((dev.to_string(), key.to_string())).or_default().push(v);
            }
            _ => {}
        }
    }
    let shown: Vec<&(&str, &str)> = DEVICES.iter().filter(|(d, _)| seen.contains(*d)).collect();
    // Ratios to fileio; on a Ceph-only run, to `rbd bench`.
    let base = if !seen.contains("fileio") && seen.contains(RBD_REFERENCE) {
        RBD_REFERENCE
    } else {
        "fileio"
    };
    let mut t = String::new();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let _ = writeln!(
        t,
        "`cargo xtask bench --seconds {} --runs {}{}` on {}: a TCG guest (Linux {}) with 2 vCPUs, 256 MiB \
         disks through tcm_loop, images on {}, fio libaio O_DIRECT. {base}'s column is its \
         median (IOPS, or MB/s for 64 KiB and 1 MiB); the others are ratios to {base} in the \
         same round, median (lowest-highest) of {} rounds.\n",
        o.seconds,
        o.runs,
        [
            if o.disk { " --disk".to_string() } else { String::new() },
            list_option("--workloads", &o.workloads),
            list_option("--devices", &o.devices),
        ]
        .concat(),
        date.trim(),
        crate::vm::kernel().name(),
        if o.disk { "ext4 on a virtio disk (QEMU cache=none)" } else { "tmpfs" },
        o.runs
    );
    let _ = write!(t, "| workload |");
    for (_, title) in &shown {
        let _ = write!(t, " {title} |");
    }
    let _ = write!(t, "\n| --- |");
    for _ in &shown {
        let _ = write!(t, " --- |");
    }
    t.push('\n');
    for name in &order {
        let Some(reference) = cells.get(&(base.to_string(), name.clone())) else { continue };
        let _ = write!(t, "| {name} |");
        for (dev, _) in &shown {
            let Some(rounds) = cells.get(&(dev.to_string(), name.clone())) else {
                let _ = write!(t, " - |");
                continue;
            };
            if *dev == base {
                let mut v: Vec<f64> = rounds.values().map(|c| merit(name, c)).collect();
                let (m, _, _) = spread(&mut v);
                let text = if by_throughput(name) {
                    format!("{:.0} MB/s", m * 1024.0 / 1e6)
                } else {
                    format!("{m:.0} IOPS")
                };
                let _ = write!(t, " {text} |");
                continue;
            }
            let mut ratios: Vec<f64> = rounds
                .iter()
                .filter_map(|(r, c)| {
                    let base = merit(name, reference.get(r)?);
                    (base > 0.0).then(|| merit(name, c) / base)
                })
                .collect();
            if ratios.is_empty() {
                let _ = write!(t, " - |");
                continue;
            }
            let (m, lo, hi) = spread(&mut ratios);
            let _ = write!(t, " {m:.2} ({lo:.2}-{hi:.2}) |");
        }
        t.push('\n');
    }
    let _ = writeln!(
        t,
        "\n| per device | data area | peak server RSS | server CPU per GiB moved | guest CPU per GiB moved |\n| --- | --- | --- | --- | --- |"
    );
    for (dev, title) in &shown {
        let get =
            |key: &str| info.get(&(dev.to_string(), key.to_string())).cloned().unwrap_or_default();
        let total = |key: &str| get(key).iter().sum::<f64>();
        let gib = total("kib_moved") / (1024.0 * 1024.0);
        let per_gib = |ticks: f64| {
            if gib > 0.0 { format!("{:.2} s", ticks / 100.0 / gib) } else { "-".into() }
        };
        let max = |key: &str| get(key).into_iter().fold(0.0, f64::max);
        let (area, rss) = (max("data_area_bytes"), max("rss_kib"));
        let server = if *dev == "fileio" {
            "- (in the kernel)".into()
        } else {
            per_gib(total("server_cpu_ticks"))
        };
        let _ = writeln!(
            t,
            "| {title} | {} | {} | {server} | {} |",
            if area > 0.0 { format!("{:.0} MiB", area / 1048576.0) } else { "-".into() },
            if rss > 0.0 { format!("{:.0} MiB", rss / 1024.0) } else { "-".into() },
            per_gib(total("busy_cpu_ticks")),
        );
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options { seconds: 4, runs: 3, workloads: Vec::new(), devices: Vec::new(), disk: false }
    }

    #[test]
    fn ratios_are_per_round_with_the_median_and_the_spread() {
        // fileio: 1000, 2000, 4000 IOPS; ours: 500, 500, 3000 => ratios 0.5, 0.25, 0.75.
        let tsv = "\
cell fileio rr4k-qd1 1 1000 0 4000 0
cell fileio rr4k-qd1 2 2000 0 8000 0
cell fileio rr4k-qd1 3 4000 0 16000 0
cell ours-file rr4k-qd1 1 500 0 2000 0
cell ours-file rr4k-qd1 2 500 0 2000 0
cell ours-file rr4k-qd1 3 3000 0 12000 0
cell fileio sr1m-qd16 1 10 0 1000000 0
cell ours-file sr1m-qd16 1 5 0 250000 0
info ours-file 1 data_area_bytes 67108864
info ours-file 1 rss_kib 20480
info ours-file 1 server_cpu_ticks 200
info ours-file 1 busy_cpu_ticks 400
info ours-file 1 kib_moved 2097152
";
        let t = report(tsv, &options()).unwrap();
        assert!(t.contains("| rr4k-qd1 | 2000 IOPS | 0.50 (0.25-0.75) |"), "{t}");
        // Throughput in MB/s (KiB/s x 1024 / 1e6), and the ratio of bytes per second.
        assert!(t.contains("| sr1m-qd16 | 1024 MB/s | 0.25 (0.25-0.25) |"), "{t}");
        // 2 GiB moved, 2 s of server CPU, 4 s of guest CPU.
        assert!(t.contains("| ours, file | 64 MiB | 20 MiB | 1.00 s | 2.00 s |"), "{t}");
    }

    #[test]
    fn a_cell_fio_gave_nothing_for_is_left_out() {
        let tsv = "\
cell fileio rr4k-qd1 1 1000 0 4000 0
cell ours-file rr4k-qd1 1
cell ours-mem rr4k-qd1 1 800 0 3200 0
";
        let t = report(tsv, &options()).unwrap();
        assert!(t.contains("| rr4k-qd1 | 1000 IOPS | - | 0.80 (0.80-0.80) |"), "{t}");
    }
}
