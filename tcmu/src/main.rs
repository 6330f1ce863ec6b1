//! `tcmu`: serve an image as a SCSI disk through LIO's TCMU backstore, list this host's
//! devices, and clean up what a crashed run left.
#![forbid(unsafe_code)]

mod cli_error;
mod iscsi_cmd;

use clap::{Parser, Subcommand};
use cli_error::{BlockSizeError, CliError, EndCause, SizeError};
use lio_config::ConfigFs;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tcmu::{
    BlockDevice, Device, DeviceBuilder, FileDisk, Keep, MemoryDisk, PowerSwitch, Qcow2Disk,
    ReadOnly, VolatileCache,
};

#[derive(Parser)]
#[command(
    name = "tcmu",
    version,
    about = "Serve SCSI block devices from user space through LIO's TCMU"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve IMAGE (a file or block device) as a disk until interrupted, then remove it.
    ///
    /// The image is locked while it is served, the way QEMU locks its images: no second
    /// server, QEMU or qemu-nbd may open it, except that read-only servers share it with one
    /// another. A block device served read-write is opened exclusively, so it cannot be mounted
    /// meanwhile; one that is mounted is refused.
    ///
    /// Exit status: 0 when SIGINT, SIGTERM or SIGHUP stopped it and everything was removed; 1
    /// on any
    /// error, including the device going away while served (removed by `tcmu cleanup --force`
    /// or another tool) or its ring breaking: it then removes what is left of the device and
    /// says why on stderr.
    Serve(Box<ServeArgs>),
    /// List the TCMU backstores and targets on this host.
    List,
    /// An iSCSI initiator in user space: discover, log in (the kernel takes the session over),
    /// log out.
    #[command(subcommand)]
    Iscsi(iscsi_cmd::IscsiCmd),
    /// Remove every configfs object this project left behind (and so its disks); devices a
    /// running `tcmu serve` still serves are left alone unless --force.
    ///
    /// A `tcmu serve` holds its device's lock (in /run/tcmu-rs/devices) from before it makes
    /// the backstore until it has removed it; cleanup takes that lock before it judges a
    /// device and holds it while it removes it, so a device being set up, served or torn
    /// down is kept.
    Cleanup {
        /// Also remove devices a running process serves (its I/O then fails).
        #[arg(long)]
        force: bool,
    },
    /// A drop-in for tcmu-runner: serve the TCMU devices other tools make (targetcli's
    /// `user:file`, `user:qcow2` and `user:mem` backstores), chosen by their config string
    /// `<subtype>/<config>`, until SIGINT or SIGTERM (SIGHUP is logged and ignored).
    ///
    /// It takes tcmu-runner's lock file (/run/tcmu.lock), so it refuses to start beside it,
    /// naming it. Started again after a crash (even SIGKILL in the middle of I/O), it takes
    /// every device back; commands in flight are failed BUSY and retried by the initiator.
    /// Devices made by `tcmu serve` are left to their own process.
    Runner(RunnerArgs),
}

#[derive(clap::Args)]
struct RunnerArgs {
    /// Serving threads per device [default: the config file's `threads`, or 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: Option<u64>,
    /// Busy-poll each ring for up to this many microseconds between the commands of a stream
    /// (see `tcmu serve --poll-us`) [default: the config file's `poll_us`, or 0].
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    poll_us: Option<u64>,
    /// The config file: `key = value` lines (`log_level`, `threads`, `poll_us`, `file.create`,
    /// `qcow2.create`); the command line wins over it, RUST_LOG over its `log_level`. The
    /// default path may be missing; a path given must exist.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The lock file shared with tcmu-runner.
    #[arg(long, default_value = tcmu::runner::LOCK_FILE)]
    lock_file: PathBuf,
    /// Only check CONFIG (`<subtype>/<config>`, as targetcli's CheckConfig is given it) and
    /// exit: 0 if a subtype serves it, 1 with the reason if not.
    #[arg(long, value_name = "CONFIG")]
    check: Option<String>,
}

/// An image's format (`tcmu serve --format`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// The disk's bytes, as they are.
    Raw,
    /// A qcow2 image (QEMU's format), read and written through the imago library.
    Qcow2,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The image file or block device: raw, or qcow2 (with its backing chain) when its name
    /// ends in `.qcow2` or --format says so. With --size, a missing path is created in that
    /// format. Or a Ceph RBD image: `rbd:POOL/[NAMESPACE/]IMAGE[@OPTIONS]`, OPTIONS being
    /// comma-separated `conf=PATH` (default: $CEPH_CONF, /etc/ceph/ceph.conf),
    /// `id=CLIENT` (default admin), `keyring=PATH` and `osd_op_timeout=SECONDS`; never a key
    /// itself (needs librbd1 installed; a file whose name starts with `rbd:` is `./rbd:...`).
    #[arg(required_unless_present = "memory")]
    image: Option<PathBuf>,
    /// The image's format (default: qcow2 for a name ending in `.qcow2`, raw otherwise). The
    /// content is never probed: a raw disk whose user wrote a qcow2 header into it stays raw,
    /// so that header cannot make the server open other files as its backing chain.
    #[arg(long, value_enum, conflicts_with = "memory")]
    format: Option<Format>,
    /// Serve a disk held in memory (of --size bytes, zeroed; gone on exit) instead of an image.
    #[arg(long, conflicts_with = "image", requires = "size")]
    memory: bool,
    /// Create the image with this size if it is missing, or grow it (never shrinks):
    /// bytes, or with a K, M, G or T suffix (powers of 1024). A qcow2 image is only created,
    /// never grown (qemu-img resize does that).
    #[arg(long)]
    size: Option<String>,
    /// The backstore's name (default: the image's file name).
    #[arg(long)]
    name: Option<String>,
    /// Logical block size in bytes, a power of two: 512 to 4096 (up to 65536 on kernels with
    /// large block support; 6.1 makes an empty disk of larger blocks, and serve then fails).
    /// The image's size must be a whole number of blocks.
    #[arg(long, default_value_t = 512, value_parser = parse_block_size)]
    block_size: u32,
    /// Refuse writes; the disk reports itself write-protected.
    #[arg(long)]
    read_only: bool,
    /// Read and write the image with O_DIRECT: data moves between the disk and the kernel's
    /// data area with no copy here and no page cache (for an image on a real disk; tmpfs
    /// before Linux 6.6 refuses it, and some file systems quietly buffer such I/O anyway).
    /// Flushes still reach the disk.
    #[arg(long, conflicts_with = "memory")]
    direct: bool,
    /// Worker threads: the commands run at once (default 4; 16 for an RBD image, whose
    /// commands mostly wait on the network).
    #[arg(long)]
    threads: Option<usize>,
    /// Busy-poll the ring for up to this many microseconds before sleeping, while commands
    /// come that quickly (0: never). Cuts the latency of a queue depth of one by a thread
    /// wake-up; costs CPU while such a stream lasts. At most one second.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    poll_us: u64,
    /// The kernel's data area for the device, in MiB: the shared memory the commands' data
    /// passes through; when it is full, further commands wait in the kernel. At least 4: the
    /// kernel fails a command larger than the whole data area (Linux sends up to 1.25 MiB
    /// through tcm_loop).
    #[arg(long, default_value_t = tcmu::DEFAULT_DATA_AREA_MB, value_parser = clap::value_parser!(u32).range(4..=65536))]
    data_area_mb: u32,
    /// N of configfs `core/user_N`.
    #[arg(long, default_value_t = 1)]
    hba: u32,
    /// Seconds the kernel waits for a command before failing it (0: forever). A command
    /// still queued here about that long (a second less) is answered ABORTED COMMAND without
    /// running, since the kernel has failed it already and the initiator retries it.
    #[arg(long, default_value_t = 30)]
    cmd_time_out: u32,
    /// Also make a block device node for the disk at this path (removed on exit).
    #[arg(long)]
    node: Option<PathBuf>,
    /// Vendor identification reported by INQUIRY (up to 8 characters).
    #[arg(long)]
    vendor: Option<String>,
    /// Product identification (up to 16 characters).
    #[arg(long)]
    product: Option<String>,
    /// Unit serial number (up to 64 characters; default: derived from the name).
    #[arg(long)]
    serial: Option<String>,
    /// Report a volatile write cache (true) or none (false); default: what the image has
    /// (a file goes through the page cache, or with --direct the disk's cache, so true).
    #[arg(long)]
    write_cache: Option<bool>,
    /// Serve an RBD image as one of several gateways, through this target port group (1 to
    /// 65535, one per gateway): implicit ALUA, active/optimized while this gateway holds the
    /// image's exclusive lock, active/non-optimized otherwise; a write arriving without the
    /// lock takes it over (the holder is blocklisted). The lock is taken at start if free.
    /// librbd's cache is off; the serial number and NAA come from the image's id, so every
    /// gateway of the image reports the same disk and multipath groups their paths.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    alua_group: Option<u16>,
    /// Also export the disk through LIO's iSCSI fabric as LUN 0 of this target IQN.
    #[arg(long)]
    iscsi: Option<String>,
    /// The iSCSI portal to listen on.
    #[arg(long, default_value = "127.0.0.1:3260", requires = "iscsi")]
    portal: String,
    /// Only this initiator may log in, with CHAP (user --chap-user, secret from
    /// $TCMU_TARGET_CHAP_SECRET or --chap-secret-file); without it any initiator may, with no
    /// authentication.
    #[arg(long, requires_all = ["iscsi", "chap_user"])]
    chap_initiator: Option<String>,
    /// The CHAP user name the initiator logs in with.
    #[arg(long, requires = "chap_initiator")]
    chap_user: Option<String>,
    /// A file holding the CHAP secret (its first line).
    #[arg(long, requires = "chap_initiator")]
    chap_secret_file: Option<PathBuf>,
    /// Mutual CHAP: the user name the target answers with (secret from
    /// $TCMU_TARGET_MUTUAL_SECRET or --mutual-secret-file).
    #[arg(long, requires = "chap_initiator")]
    mutual_user: Option<String>,
    /// A file holding the mutual CHAP secret.
    #[arg(long, requires = "mutual_user")]
    mutual_secret_file: Option<PathBuf>,
    /// Allow an iSCSI export on a non-loopback portal without CHAP.
    #[arg(long, requires = "iscsi", conflicts_with = "chap_initiator")]
    no_auth: bool,
    /// Power-cut testing: writes stay in a volatile cache in memory until the initiator
    /// flushes (SYNCHRONIZE CACHE) or writes with FUA; `kill -USR1` the server to cut the power:
    /// what was never flushed is lost (see --crash-keep), the server stops answering at once
    /// and exits, leaving the dead disk in place, and the image holds what a disk would after
    /// losing power. Remove the dead disk with `tcmu cleanup` (until then, commands sent to it
    /// wait out --cmd-time-out and fail); cleanup does not remove a --node file: remove that
    /// yourself. Then serve the image again to check what survived. An orderly stop (SIGINT, SIGTERM, SIGHUP) writes
    /// the cache back to the image first, as a disk does when it is shut down.
    #[arg(long, conflicts_with_all = ["read_only", "memory"])]
    crash_test: bool,
    /// What a power cut keeps of the unflushed writes: `nothing`, or `random` (each cached
    /// write, a block of data or a whole zeroed or discarded range, with probability 1/2, as
    /// a disk may have written some of its cache back).
    #[arg(long, default_value = "nothing", requires = "crash_test", value_parser = ["nothing", "random"])]
    crash_keep: String,
    /// Seed of the random choice of --crash-keep random (default: from the clock).
    #[arg(long, requires = "crash_test")]
    crash_seed: Option<u64>,
}

/// A secret from a file's first line, else from the environment variable `env`. Empty and
/// `NULL` (LIO's "no password") are refused.
fn read_secret(file: &Option<PathBuf>, env: &'static str) -> Result<String, CliError> {
    let secret = iscsi_cmd::secret(file, env, "the CHAP secret")?;
    if secret.is_empty() || secret == "NULL" {
        return Err(CliError::EmptySecret {
            from: file.as_ref().map_or_else(|| format!("${env}"), |f| f.display().to_string()),
        });
    }
    if secret.len() < 12 {
        tracing::warn!("a CHAP secret shorter than 12 characters; many initiators refuse it");
    }
    Ok(secret)
}

/// The iSCSI export `serve` was asked for, if any.
fn iscsi_export(args: &ServeArgs) -> Result<Option<tcmu::IscsiExport>, CliError> {
    let Some(iqn) = &args.iscsi else {
        return Ok(None);
    };
    let access = match (&args.chap_initiator, &args.chap_user) {
        (Some(initiator), Some(user)) => {
            let mutual = match &args.mutual_user {
                Some(mu) => Some((
                    mu.clone(),
                    read_secret(&args.mutual_secret_file, "TCMU_TARGET_MUTUAL_SECRET")?,
                )),
                None => None,
            };
            let secret = read_secret(&args.chap_secret_file, "TCMU_TARGET_CHAP_SECRET")?;
            if mutual.as_ref().is_some_and(|(_, m)| *m == secret) {
                return Err(CliError::SameMutualSecret);
            }
            lio_config::IscsiAccess::Chap {
                initiator: initiator.clone(),
                user: user.clone(),
                secret,
                mutual,
            }
        }
        _ => {
            let loopback = args.portal.starts_with("127.") || args.portal.starts_with("[::1]");
            if !loopback && !args.no_auth {
                return Err(CliError::OpenExport { portal: args.portal.clone() });
            }
            lio_config::IscsiAccess::Open
        }
    };
    Ok(Some(tcmu::IscsiExport { iqn: iqn.clone(), portal: args.portal.clone(), access }))
}

fn parse_block_size(s: &str) -> Result<u32, BlockSizeError> {
    let n: u32 = s.trim().parse().map_err(|_| BlockSizeError::NotANumber(s.to_string()))?;
    if tcmu::backend::is_valid_block_size(n) { Ok(n) } else { Err(BlockSizeError::Invalid(n)) }
}

fn parse_size(s: &str) -> Result<u64, SizeError> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 10),
        Some('M') => (&s[..s.len() - 1], 20),
        Some('G') => (&s[..s.len() - 1], 30),
        Some('T') => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: u64 = digits.trim().parse().map_err(|_| SizeError::NotANumber(s.to_string()))?;
    n.checked_mul(1 << shift).ok_or_else(|| SizeError::TooLarge(s.to_string()))
}

/// What `serve` serves.
enum Disk {
    File(FileDisk),
    Qcow2(Qcow2Disk),
    Memory(MemoryDisk),
    Rbd(tcmu::rbd::RbdDisk),
}

/// The image a `rbd:` argument names (`rbd:POOL/[NAMESPACE/]IMAGE[@OPTIONS]`), if it is one.
fn rbd_spec(image: &std::path::Path) -> Option<Result<ceph_rbd::ImageSpec, CliError>> {
    let s = image.to_str()?.strip_prefix("rbd:")?;
    // Named without its options: a refused one may be a secret, which is not echoed.
    let name = s.split(['@', ';', ',']).next().unwrap_or_default();
    Some(ceph_rbd::ImageSpec::parse(s).map_err(|e| CliError::Rbd(format!("rbd:{name}"), e)))
}

/// `--crash-test`'s handle on the served disk's volatile cache.
struct CrashTest {
    /// Cuts the power (SIGUSR1), or writes the cache back on an orderly stop.
    switch: PowerSwitch,
}

impl CrashTest {
    /// Puts a volatile cache in front of `disk`: what the device serves, and the handle.
    fn wrap<B: BlockDevice + 'static>(disk: B) -> (VolatileCache<B>, CrashTest) {
        let cache = VolatileCache::new(disk);
        let switch = cache.switch();
        (cache, CrashTest { switch })
    }

    /// Writes the cache back to the image and flushes it, as a disk does when it is shut
    /// down in order; logs how many blocks it wrote.
    fn write_back(&self, when: &'static str) -> Result<(), CliError> {
        let blocks =
            self.switch.write_back().map_err(|source| CliError::WriteBack { when, source })?;
        tracing::info!(blocks, "--crash-test: cache written back to the image {when}");
        Ok(())
    }
}

fn start<B: BlockDevice + 'static>(
    builder: DeviceBuilder,
    disk: B,
    read_only: bool,
    crash_test: bool,
) -> Result<(Device, Option<CrashTest>), tcmu::DeviceError> {
    if crash_test {
        let (cache, handles) = CrashTest::wrap(disk);
        builder.serve_block(cache).map(|d| (d, Some(handles)))
    } else if read_only {
        builder.serve_block(ReadOnly(disk)).map(|d| (d, None))
    } else {
        builder.serve_block(disk).map(|d| (d, None))
    }
}

fn serve(args: ServeArgs) -> Result<(), CliError> {
    let export = iscsi_export(&args)?;
    let ServeArgs { image, size, name, block_size, read_only, threads, hba, .. } = args;
    let what = match &image {
        Some(image) => image.display().to_string(),
        None => "memory".to_string(),
    };
    let rbd = image.as_deref().and_then(rbd_spec).transpose()?;
    let name = match (name, &image) {
        (Some(n), _) => n,
        (None, None) => "memory".to_string(),
        (None, Some(_)) if rbd.is_some() => {
            let image = rbd.as_ref().map_or("rbd", |s| s.image.as_str());
            image.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
        }
        (None, Some(image)) => image
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect())
            .ok_or_else(|| CliError::NoName(what.clone()))?,
    };
    let size = size.as_deref().map(parse_size).transpose()?;
    // The signals are blocked in every thread (the serving threads inherit this mask) and
    // read from a signalfd by `wait_for_stop`, so the device is always torn down. Blocked
    // before the disk is opened: librbd starts threads of its own as it connects, and a
    // thread that left SIGTERM unblocked would take it and end the process with no teardown
    // (and librbd's cache unwritten). With --crash-test, SIGUSR1 cuts the power (no teardown:
    // the disk is left dead).
    let mut stop_signals = STOP_SIGNALS.to_vec();
    if args.crash_test {
        stop_signals.push(Signal::SIGUSR1);
    }
    let gateway = match args.alua_group {
        Some(_)
            if rbd.is_none()
                || read_only
                || args.crash_test
                || args.write_cache.is_some()
                || args.iscsi.is_none()
                || args.node.is_some() =>
        {
            return Err(CliError::AluaNeedsRbd);
        }
        Some(group) => Some(tcmu::emulate::alua::PortGroups::new(group)?),
        None => None,
    };
    let signals = block_signals(&stop_signals)?;
    let disk = match (&image, size) {
        (None, size) => {
            let size = size.unwrap_or(0);
            let blocks = size / u64::from(block_size);
            if size == 0 || size % u64::from(block_size) != 0 {
                return Err(CliError::MemorySize { size, block_size });
            }
            Disk::Memory(MemoryDisk::new(blocks, block_size).map_err(CliError::Disk)?)
        }
        (Some(_), size) if rbd.is_some() => {
            if size.is_some() || args.format.is_some() || args.direct {
                return Err(CliError::RbdFileOptions);
            }
            let spec = rbd.as_ref().ok_or(CliError::RbdFileOptions)?;
            let disk = match args.alua_group {
                Some(_) => tcmu::rbd::RbdDisk::open_gateway(spec, block_size),
                None => tcmu::rbd::RbdDisk::open(spec, block_size, read_only),
            };
            Disk::Rbd(disk.map_err(CliError::Disk)?)
        }
        (Some(image), size) => {
            let by_name = if image.extension().is_some_and(|e| e == "qcow2") {
                Format::Qcow2
            } else {
                Format::Raw
            };
            if args.format.unwrap_or(by_name) == Format::Qcow2 {
                Disk::Qcow2(open_qcow2(image, size, block_size, read_only, args.direct)?)
            } else {
                if tcmu::qcow2::is_qcow2(image).map_err(CliError::Disk)? {
                    if size.is_some() {
                        return Err(CliError::GrowQcow2AsRaw(image.display().to_string()));
                    }
                    tracing::warn!(
                        image = %image.display(),
                        "the image starts with a qcow2 header but is served raw (its name does \
                         not end in .qcow2); pass --format qcow2 to serve it as qcow2"
                    );
                }
                // The errors name the image.
                let disk = match size {
                    Some(_) if read_only => return Err(CliError::SizeReadOnly),
                    Some(size) => FileDisk::create(image, size, block_size),
                    None => FileDisk::open(image, block_size, read_only),
                };
                let disk = if args.direct { disk.and_then(FileDisk::direct) } else { disk };
                Disk::File(disk.map_err(CliError::Disk)?)
            }
        }
    };

    let threads = threads.unwrap_or(if matches!(disk, Disk::Rbd(_)) { 16 } else { 4 });
    let mut builder = DeviceBuilder::new(&name)
        .hba(hba)
        .threads(threads)
        .poll(std::time::Duration::from_micros(args.poll_us))
        .cmd_time_out(args.cmd_time_out)
        .max_data_area_mb(args.data_area_mb);
    if let Some(node) = &args.node {
        builder = builder.loopback(tcmu::Loopback::new().node(node));
    }
    if let Some(v) = &args.vendor {
        builder = builder.vendor(v);
    }
    if let Some(p) = &args.product {
        builder = builder.product(p);
    }
    if let Some(s) = &args.serial {
        builder = builder.serial(s);
    }
    if let Some(on) = args.write_cache {
        builder = builder.write_cache(on);
    }
    match export {
        // A gateway (which needs --iscsi): the iSCSI export only, as a local loopback disk of
        // the shared image would let a local writer (a mount, the host's own multipath) take
        // the lock from the gateway in use.
        Some(export) if gateway.is_some() => {
            builder = builder.exports([tcmu::Export::Iscsi(export)]);
        }
        Some(export) => builder = builder.iscsi(export),
        None => {}
    }
    if let (Some(groups), Disk::Rbd(d)) = (gateway, &disk) {
        let seed = d.identity_seed().map_err(CliError::Disk)?;
        tracing::info!(seed, group = groups.group(), "serving as a gateway");
        builder = builder.identity_seed(&seed).port_groups(groups);
    }
    let (device, crash) = match disk {
        Disk::File(d) => start(builder, d, read_only, args.crash_test),
        Disk::Qcow2(d) => start(builder, d, read_only, args.crash_test),
        Disk::Memory(d) => start(builder, d, read_only, args.crash_test),
        Disk::Rbd(d) => start(builder, d, read_only, args.crash_test),
    }?;
    match device.disk() {
        Some(d) => println!("{}", d.display()),
        None => println!("(no disk)"),
    }
    tracing::info!(image = %what, name, "serving; Ctrl-C to stop");
    let stop = wait_for_stop(&signals, &device);
    if let (Ok(Stop::Signal(Signal::SIGUSR1)), Some(crash)) = (&stop, &crash) {
        power_cut(&crash.switch, &args.crash_keep, args.crash_seed, args.node.as_deref());
    }
    if let Ok(Stop::Signal(sig)) = &stop {
        tracing::info!(?sig, "stopping");
    }
    // Any other end is no power cut: a --crash-test disk writes its cache back, before the
    // teardown (whatever becomes of that) and again after it, for what the kernel wrote
    // meanwhile (the device is gone then: nothing races with it).
    let mut wrote_back = crash.as_ref().map_or(Ok(()), |c| c.write_back("before the teardown"));
    let closed = device.close();
    if let Some(crash) = &crash {
        let after = crash.write_back("after the teardown");
        wrote_back = wrote_back.and(after);
    }
    let ended = match stop {
        Ok(Stop::Signal(_)) => closed.map_err(CliError::Device),
        Ok(Stop::ServerEnded) => {
            // Nothing answers the kernel any more: what is left was removed; fail.
            let why = match closed {
                Err(tcmu::DeviceError::Serve(tcmu::server::ServeError::Doorbell(e))) => {
                    EndCause::DeviceGone(e)
                }
                Err(e) => EndCause::Teardown(e),
                Ok(()) => EndCause::NoError,
            };
            Err(CliError::ServingEnded { name, why })
        }
        Err(e) => Err(e),
    };
    match (ended, wrote_back) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(e), Err(w)) => Err(CliError::Both(Box::new(e), Box::new(w))),
    }
}

/// Opens the qcow2 image `image`, or with a size creates it (it must be missing: a qcow2
/// image is neither grown nor overwritten here).
fn open_qcow2(
    image: &Path,
    size: Option<u64>,
    block_size: u32,
    read_only: bool,
    direct: bool,
) -> Result<Qcow2Disk, CliError> {
    if direct {
        return Err(CliError::Qcow2Direct(image.display().to_string()));
    }
    match size {
        Some(_) if read_only => Err(CliError::SizeReadOnly),
        Some(size) => Qcow2Disk::create(image, size, block_size).map_err(CliError::Disk),
        None => Qcow2Disk::open(image, block_size, read_only).map_err(CliError::Disk),
    }
}

/// The signals that stop `tcmu serve`. To handle one more (always, or only in some mode),
/// pass it to [`block_signals`] with these and give it an arm where `serve` matches
/// [`Stop::Signal`].
///
/// SIGHUP (the terminal went away, or a service manager's stop) is one: the device is torn
/// down in order rather than left behind by the default action, which ends the process.
const STOP_SIGNALS: &[Signal] = &[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Blocks `signals` in this thread (threads started later inherit the mask) and opens a
/// signalfd that receives them, for [`wait_for_stop`]. Call it before any thread is started.
fn block_signals(signals: &[Signal]) -> Result<SignalFd, CliError> {
    let ignored =
        std::fs::read_to_string("/proc/self/status").map(|s| ignored_signals(&s)).unwrap_or(0);
    let mut set = SigSet::empty();
    for &sig in signals {
        // A signal the parent set to be ignored (`nohup` does so for SIGHUP) stays ignored:
        // blocked, it would still be queued and read, and stop the server the user asked to
        // keep running.
        if ignored & (1u64 << ((sig as i32 - 1) & 63)) == 0 {
            set.add(sig);
        }
    }
    set.thread_block()
        .map_err(|source| CliError::Signals { what: "cannot block signals", source })?;
    SignalFd::new(&set)
        .map_err(|source| CliError::Signals { what: "cannot receive signals", source })
}

/// The `SigIgn` mask of a `/proc/PID/status` text: bit N-1 set when signal N is ignored.
fn ignored_signals(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0)
}

/// What ended [`wait_for_stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// One of the signals given to [`block_signals`] arrived.
    Signal(Signal),
    /// The device's serving loop ended on its own: the device is gone or its ring broke.
    ServerEnded,
}

/// How often the wait looks at the server between signals.
const SERVER_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits for a signal the signalfd from [`block_signals`] takes, or for the device's server to
/// end, whichever comes first.
fn wait_for_stop(signals: &SignalFd, device: &Device) -> Result<Stop, CliError> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let timeout = PollTimeout::try_from(SERVER_CHECK).unwrap_or(PollTimeout::MAX);
    loop {
        if device.server_finished() {
            return Ok(Stop::ServerEnded);
        }
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(source) => {
                return Err(CliError::Signals { what: "waiting for a signal", source });
            }
        }
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) => continue,
            Err(source) => {
                return Err(CliError::Signals { what: "reading a signal", source });
            }
        };
        // The signalfd receives only the signals it was made for.
        let signo = i32::try_from(info.ssi_signo).unwrap_or(-1);
        match Signal::try_from(signo) {
            Ok(sig) => return Ok(Stop::Signal(sig)),
            Err(_) => tracing::warn!(signo, "ignoring an unknown signal number"),
        }
    }
}

/// `--crash-test`'s power cut: drop (or keep a random part of) the unflushed writes, then end
/// the process at once, without removing the device: the disk stops answering, as one that
/// lost power, and `tcmu cleanup` removes it. Nothing removes the `--node` file, if one was
/// made: `tcmu cleanup` knows nothing of it, so the message says to remove it.
fn power_cut(switch: &PowerSwitch, keep: &str, seed: Option<u64>, node: Option<&Path>) -> ! {
    let keep = match keep {
        "random" => Keep::RandomSubset {
            seed: seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            }),
        },
        _ => Keep::Nothing,
    };
    let r = switch.cut(keep);
    let how = match keep {
        Keep::Nothing => "none kept".to_string(),
        Keep::RandomSubset { seed } => format!("a random subset kept, seed {seed}"),
    };
    let node = node.map_or_else(String::new, |n| {
        format!(
            "; `tcmu cleanup` does not remove the node {0}: remove it yourself (`rm {0}`), as \
             once the disk is gone its device numbers may name another disk",
            n.display()
        )
    });
    eprintln!(
        "tcmu: power cut: {} unflushed blocks lost, {} kept ({how}); the disk no longer \
         answers and this server exits now: remove the dead disk with `tcmu cleanup`{node}",
        r.dropped, r.kept
    );
    std::process::exit(0)
}

fn list() -> Result<(), CliError> {
    let cfs = ConfigFs::system()?;
    let inv = cfs.list()?;
    for b in &inv.user_backstores {
        let config = b.config().unwrap_or_default();
        let ours = if b.is_ours() { " (tcmu-rs)" } else { "" };
        println!("backstore user_{}/{}  {config}{ours}", b.hba(), b.name());
    }
    for lo in &inv.loopback {
        let disk = lo.disk(0).ok().flatten().map(|d| d.display().to_string()).unwrap_or_default();
        println!("loopback  {}  {disk}", lo.path().display());
    }
    for t in &inv.iscsi {
        println!("iscsi     {}", t.path().display());
    }
    Ok(())
}

fn cleanup(force: bool) -> Result<(), CliError> {
    let cfs = ConfigFs::system()?;
    let report = tcmu::cleanup(
        &cfs,
        Path::new(tcmu_ring::uio::SYSFS_CLASS_UIO),
        Path::new("/dev"),
        Path::new(tcmu::device::DEVICE_LOCK_DIR),
        force,
    )?;
    for p in &report.removed {
        println!("removed {}", p.display());
    }
    for kept in &report.in_use {
        println!("kept {}: {} (stop it, or use --force)", kept.path.display(), kept.why);
    }
    if report.removed.is_empty() && report.in_use.is_empty() {
        println!("nothing of ours to remove");
    }
    Ok(())
}

/// `tcmu runner`: the daemon until a stop signal, or `--check`.
fn runner(args: RunnerArgs, config: tcmu::runner::RunnerConfig) -> Result<(), CliError> {
    let mut options = tcmu::runner::RunnerOptions::default();
    options.threads =
        args.threads.and_then(|t| usize::try_from(t).ok()).or(config.threads).unwrap_or(4);
    options.poll = std::time::Duration::from_micros(args.poll_us.or(config.poll_us).unwrap_or(0));
    options.lock_file = args.lock_file;
    options.file_create = config.file_create.unwrap_or(true);
    options.qcow2_create = config.qcow2_create.unwrap_or(true);
    let runner = tcmu::runner::Runner::new(options);
    if let Some(config) = args.check {
        runner.check(&config).map_err(CliError::Check)?;
        println!("{config}: ok");
        return Ok(());
    }
    // Blocked before any thread starts, so every thread inherits the mask and the signals
    // reach only the signalfd.
    let signals = block_signals(STOP_SIGNALS)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            loop {
                match signals.read_signal() {
                    // A hang-up (a service manager's reload, a closed terminal) is not a stop:
                    // the devices stay served, as tcmu-runner's do.
                    Ok(Some(info)) if info.ssi_signo == Signal::SIGHUP as u32 => {
                        tracing::info!("SIGHUP: nothing to reload; still serving");
                    }
                    Ok(Some(info)) => {
                        tracing::info!(signal = info.ssi_signo, "stopping");
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!("reading signals: {e}; stopping");
                        break;
                    }
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Release);
        })
    };
    let r = runner.run(&stop);
    drop(watcher);
    r.map_err(CliError::from)
}

/// Where `tcmu runner` looks for its config file when none is named.
const RUNNER_CONFIG: &str = "/etc/tcmu/tcmu-rs-runner.conf";

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The runner's config file may set the log level: read before logging starts.
    let runner_config = match &cli.command {
        Cmd::Runner(args) => {
            let (path, optional) = match &args.config {
                Some(p) => (p.clone(), false),
                None => (PathBuf::from(RUNNER_CONFIG), true),
            };
            match tcmu::runner::RunnerConfig::read(&path, optional) {
                Ok(c) => c.unwrap_or_default(),
                Err(e) => {
                    eprintln!("tcmu: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => tcmu::runner::RunnerConfig::default(),
    };
    let level = runner_config.log_level.clone().unwrap_or_else(|| "info".to_string());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log line to a terminal that went away (EIO after a hang-up) must not become a
        // panic in the middle of a teardown.
        .log_internal_errors(false)
        // Colours for a terminal only: logs kept in files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .init();
    let r = match cli.command {
        Cmd::Serve(args) => serve(*args),
        Cmd::List => list(),
        Cmd::Iscsi(cmd) => iscsi_cmd::run(cmd).map_err(CliError::from),
        Cmd::Cleanup { force } => cleanup(force),
        Cmd::Runner(args) => runner(args, runner_config),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcmu: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, IoSlice, IoSliceMut};

    #[test]
    fn signals_the_parent_ignores_are_read_from_proc() {
        let status = "Name:\ttcmu\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000001\n";
        let ignored = ignored_signals(status);
        assert_eq!(ignored, 1, "SIGHUP (1) is bit 0");
        assert_eq!(ignored_signals("SigIgn:\t0000000000004000\n"), 1 << 14);
        assert_eq!(ignored_signals("garbage"), 0);
        // What `nohup` leaves: SIGHUP ignored, so it is not among the stop signals blocked.
        assert!(ignored & (1 << (Signal::SIGHUP as i32 - 1)) != 0);
        assert!(ignored & (1 << (Signal::SIGTERM as i32 - 1)) == 0);
    }

    #[test]
    fn sighup_stops_the_server_in_order() {
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            assert!(STOP_SIGNALS.contains(&sig), "{sig:?}");
        }
    }

    /// What the device below a `--crash-test` cache holds at `lba`.
    fn below(image: &MemoryDisk, lba: usize) -> u8 {
        image.snapshot()[lba * 512]
    }

    #[test]
    fn a_crash_test_disk_is_written_back_through_the_handle_serve_keeps() {
        let (served, crash) = CrashTest::wrap(MemoryDisk::new(64, 512).unwrap());
        // What the device sees is the cache: a write stays in it...
        served.write(3, &[IoSlice::new(&[7; 512])], false).unwrap();
        assert!(served.write_cache() && served.allocation(0).unwrap().is_none());
        assert_eq!(crash.switch.dirty_blocks(), 1);
        assert_eq!(below(served.inner(), 3), 0);
        // ...until the orderly stop writes it back.
        crash.write_back("now").unwrap();
        assert_eq!(below(served.inner(), 3), 7);
        assert_eq!(crash.switch.dirty_blocks(), 0);
        // After a cut, the served disk fails as one that lost power.
        served.write(4, &[IoSlice::new(&[8; 512])], false).unwrap();
        crash.switch.cut(Keep::Nothing);
        let mut b = [0u8; 512];
        let e = served.read(4, &mut [IoSliceMut::new(&mut b)]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
        assert_eq!(below(served.inner(), 4), 0);
        assert!(crash.write_back("after the cut").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999T").is_err());
    }
}
