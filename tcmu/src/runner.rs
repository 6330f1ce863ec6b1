//! Runner mode: a daemon that serves the TCMU devices other tools make (targetcli, rtslib,
//! ceph-iscsi, a shell writing configfs), as tcmu-runner does, each by the [`Subtype`] its
//! `dev_config` names (`<subtype>/<config>`).
//!
//! The kernel tells the daemon about devices over the generic-netlink family `TCM-USER`
//! ([`lio_config::genl`]): a device added (its `enable` written) waits until the daemon
//! replies, so a device no subtype claims is refused with an error (`enable` fails with
//! ENOENT), never left waiting. Devices made by `tcmu serve` (config `tcmu-rs/...`) are served by
//! their own process and left alone.
//!
//! Start-up follows the sequence the kernel was built for, so a daemon killed in the middle of
//! I/O and started again takes every device back with no failed I/O: netlink blocked (and any
//! command pending from the dead daemon's time failed), then for every existing device: blocked,
//! its ring reset (in-flight commands completed BUSY, which the initiator retries), its
//! handler opened again, unblocked; then netlink unblocked. The lock file is tcmu-runner's own
//! (`/run/tcmu.lock`), so the two never run at once.

use crate::backend::{BlockDevice, FileDisk, MemoryDisk};
use crate::device::DeviceIdentity;
use crate::handler::{EmulationOnly, LogicalUnit};
use crate::server::{ServeOptions, Server};
use lio_config::genl::{DeviceEvent, EventKind, ModuleParams, Reconfig, TcmuNetlink};
use lio_config::{CONFIG_PREFIX, ConfigFs, UserBackstore};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tcmu_ring::uio::{SYSFS_CLASS_UIO, TcmuName, UioInfo};
use tcmu_ring::{Ring, Uio};

/// The lock file tcmu-runner takes (an `fcntl` write lock on the whole file): taken here too,
/// so the two daemons never serve the same devices at once.
pub const LOCK_FILE: &str = "/run/tcmu.lock";

/// How long the event loop waits for netlink before it looks for a stop request and for
/// devices whose serving ended on its own.
const TICK: Duration = Duration::from_millis(200);

/// A kind of device the runner serves, chosen by the subtype of the device's `dev_config`
/// (`<subtype>/<config>`, compared exactly), as tcmu-runner's handler plugins are. A program
/// can register its own next to the built-in [`FileSubtype`] and [`MemorySubtype`].
pub trait Subtype: Send + Sync {
    /// The subtype (`file`, `mem`, ...).
    fn name(&self) -> &str;
    /// What the config after `<subtype>/` means, shown by targetcli's `help create`.
    fn description(&self) -> &str;
    /// Checks a config (the part after `<subtype>/`) without opening anything that lasts;
    /// the reason is shown to the user who asked.
    fn check_config(&self, config: &str) -> Result<(), String>;
    /// Opens the device's disk: `device.size` bytes in blocks of `device.block_size`.
    fn open(&self, device: &RunnerDevice) -> Result<Box<dyn BlockDevice>, String>;
}

/// A device the kernel asks the runner to serve, as its configfs folder describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerDevice {
    /// N of `core/user_N`.
    pub hba: u32,
    /// The backstore's name.
    pub name: String,
    /// The config after `<subtype>/`.
    pub config: String,
    /// The size the kernel was given (`dev_size`), in bytes.
    pub size: u64,
    /// The logical block size (`hw_block_size`).
    pub block_size: u32,
    /// Whether a missing image may be created: true for a device the kernel adds now, false
    /// for one taken back at start, whose image must already exist.
    pub may_create: bool,
}

/// `file/<path>`: a raw image, created sparse at the device's size when missing; an existing
/// image must have exactly that size (a shorter or longer one is refused rather than grown or
/// cut silently).
#[derive(Debug, Clone, Copy)]
pub struct FileSubtype {
    /// Create a missing image (default); off, a config naming a missing file is refused, so
    /// a mistyped path never makes a stray image.
    pub create: bool,
}

impl Default for FileSubtype {
    fn default() -> Self {
        FileSubtype { create: true }
    }
}

/// The checks of a config naming an image: an absolute path to a regular file or block
/// device, or (when `create`) a missing file in an existing folder.
fn check_image_path(config: &str, create: bool) -> Result<(), String> {
    let path = Path::new(config);
    if !path.is_absolute() {
        return Err(format!("{config:?} is not an absolute path"));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() || std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()) => {
            Ok(())
        }
        Ok(_) => Err(format!("{config} is not a regular file or a block device")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => Err(format!(
            "{config} does not exist (not created: file.create or qcow2.create is off, or \
                 the device existed before this start and its image should too)"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match path.parent() {
            Some(dir) if dir.is_dir() => Ok(()),
            _ => Err(format!("{config}: its folder does not exist")),
        },
        Err(e) => Err(format!("{config}: {e}")),
    }
}

/// An opened disk must hold exactly the device's size: a shorter or longer image is refused
/// rather than grown or cut silently.
fn check_size(
    disk: Box<dyn BlockDevice>,
    device: &RunnerDevice,
) -> Result<Box<dyn BlockDevice>, String> {
    let bytes = disk.num_blocks().saturating_mul(u64::from(disk.block_size()));
    if bytes != device.size {
        return Err(format!(
            "{} holds {bytes} bytes but the device is {} bytes: resize one to the other",
            device.config, device.size
        ));
    }
    Ok(disk)
}

impl Subtype for FileSubtype {
    fn name(&self) -> &str {
        "file"
    }

    fn description(&self) -> &str {
        "The path of a raw image file (created, sparse, if missing)."
    }

    fn check_config(&self, config: &str) -> Result<(), String> {
        check_image_path(config, self.create)
    }

    fn open(&self, device: &RunnerDevice) -> Result<Box<dyn BlockDevice>, String> {
        check_image_path(&device.config, self.create && device.may_create)?;
        let path = Path::new(&device.config);
        let disk = if path.exists() {
            FileDisk::open(path, device.block_size, false)
        } else {
            FileDisk::create(path, device.size, device.block_size)
        }
        .map_err(|e| e.to_string())?;
        check_size(Box::new(disk), device)
    }
}

/// `qcow2/<path>` (and `qcow/<path>`, tcmu-runner's name for it): a qcow2 image with its
/// backing chain, created (qcow2 v3, sparse) at the device's size when missing; an existing
/// image's virtual size must be the device's.
#[derive(Debug, Clone, Copy)]
pub struct Qcow2Subtype {
    name: &'static str,
    /// Create a missing image (default); off, a config naming a missing file is refused.
    pub create: bool,
}

impl Qcow2Subtype {
    /// The subtype `qcow2`.
    pub const QCOW2: Qcow2Subtype = Qcow2Subtype { name: "qcow2", create: true };
    /// The same under tcmu-runner's name, `qcow`, so its saved configurations keep working.
    pub const QCOW: Qcow2Subtype = Qcow2Subtype { name: "qcow", create: true };
}

impl Subtype for Qcow2Subtype {
    fn name(&self) -> &str {
        self.name
    }

    fn description(&self) -> &str {
        "The path of a qcow2 image (created, qcow2 v3, if missing); its backing chain is used."
    }

    fn check_config(&self, config: &str) -> Result<(), String> {
        check_image_path(config, self.create)?;
        let path = Path::new(config);
        match crate::qcow2::is_qcow2(path) {
            Ok(true) => Ok(()),
            Ok(false) if !path.exists() => Ok(()),
            Ok(false) => Err(format!("{config} is not a qcow2 image")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn open(&self, device: &RunnerDevice) -> Result<Box<dyn BlockDevice>, String> {
        check_image_path(&device.config, self.create && device.may_create)?;
        self.check_config(&device.config)?;
        let path = Path::new(&device.config);
        let disk = if path.exists() {
            crate::qcow2::Qcow2Disk::open(path, device.block_size, false)
        } else {
            crate::qcow2::Qcow2Disk::create(path, device.size, device.block_size)
        }
        .map_err(|e| e.to_string())?;
        check_size(Box::new(disk), device)
    }
}

/// `rbd/POOL/[NAMESPACE/]IMAGE[;OPTION]...`: a Ceph RBD image, in tcmu-runner's form
/// (options `osd_op_timeout=SECONDS`, `conf=PATH`, `id=CLIENT`, and `keyring=PATH`, which
/// tcmu-runner lacks). The image must exist and have the device's size (`rbd create` makes
/// it); librbd is loaded when the first one is opened.
#[cfg(feature = "rbd")]
#[derive(Debug, Default, Clone, Copy)]
pub struct RbdSubtype;

#[cfg(feature = "rbd")]
impl Subtype for RbdSubtype {
    fn name(&self) -> &str {
        "rbd"
    }

    fn description(&self) -> &str {
        "POOL/IMAGE or POOL/NAMESPACE/IMAGE of an existing Ceph RBD image, then optional \
         ;osd_op_timeout=SECONDS ;conf=CEPH_CONF_PATH ;id=CLIENT_ID ;keyring=PATH"
    }

    fn check_config(&self, config: &str) -> Result<(), String> {
        ceph_rbd::ImageSpec::parse_runner(config).map(drop).map_err(|e| e.to_string())
    }

    fn open(&self, device: &RunnerDevice) -> Result<Box<dyn BlockDevice>, String> {
        let spec = ceph_rbd::ImageSpec::parse_runner(&device.config).map_err(|e| e.to_string())?;
        let disk = crate::rbd::RbdDisk::open(&spec, device.block_size, false)
            .map_err(|e| e.to_string())?;
        check_size(Box::new(disk), device)
    }
}

/// `mem/<anything>`: a disk in memory, zeroed, gone when the daemon stops (for tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct MemorySubtype;

impl Subtype for MemorySubtype {
    fn name(&self) -> &str {
        "mem"
    }

    fn description(&self) -> &str {
        "Any label: a zeroed disk in the daemon's memory, lost when it stops."
    }

    fn check_config(&self, _config: &str) -> Result<(), String> {
        Ok(())
    }

    fn open(&self, device: &RunnerDevice) -> Result<Box<dyn BlockDevice>, String> {
        // The size comes from configfs: one larger than the memory free now is refused rather
        // than an allocation that would abort the daemon and every device it serves.
        let available = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| mem_available(&m))
            .unwrap_or(0);
        if device.size > available {
            return Err(format!(
                "a memory disk of {} bytes: only {available} bytes of memory are available",
                device.size
            ));
        }
        let blocks = device.size / u64::from(device.block_size.max(1));
        MemoryDisk::new(blocks, device.block_size)
            .map(|d| Box::new(d) as Box<dyn BlockDevice>)
            .map_err(|e| e.to_string())
    }
}

/// What a runner's config file says (`tcmu runner --config`): `key = value` lines, `#`
/// comments. Keys: `log_level` (`error`, `warn`, `info`, `debug`, `trace`, or tcmu-runner's
/// 0-5 from `/etc/tcmu/tcmu.conf`), `threads` (1-64), `poll_us` (0-1000000), `file.create`
/// and `qcow2.create` (`true`/`false`: whether a missing image is created). A setting left
/// out is `None`: the command line or the default decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunnerConfig {
    /// A `tracing` level name.
    pub log_level: Option<String>,
    /// Serving threads per device.
    pub threads: Option<usize>,
    /// Busy-polling window, in microseconds.
    pub poll_us: Option<u64>,
    /// Whether the `file` subtype creates a missing image.
    pub file_create: Option<bool>,
    /// Whether the `qcow2` (and `qcow`) subtype creates a missing image.
    pub qcow2_create: Option<bool>,
}

impl RunnerConfig {
    /// Parses a config file's text; an error names the line and what is wrong with it.
    pub fn parse(text: &str) -> Result<RunnerConfig, String> {
        let mut c = RunnerConfig::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = |what: String| format!("line {}: {what}", n + 1);
            let Some((key, value)) = line.split_once('=') else {
                return Err(at(format!("{line:?} is not `key = value`")));
            };
            let (key, value) = (key.trim(), value.trim().trim_matches('"'));
            let number = |max: u64| -> Result<u64, String> {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|v| *v <= max)
                    .ok_or_else(|| at(format!("{key} = {value:?}: a number from 0 to {max}")))
            };
            let boolean = || match value {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(at(format!("{key} = {value:?}: true or false"))),
            };
            match key {
                "log_level" => {
                    let level = match value {
                        "0" | "1" | "error" => "error",
                        "2" | "warn" => "warn",
                        "3" | "info" => "info",
                        "4" | "debug" => "debug",
                        "5" | "trace" => "trace",
                        _ => {
                            return Err(at(format!(
                                "log_level = {value:?}: error, warn, info, debug, trace or 0-5"
                            )));
                        }
                    };
                    c.log_level = Some(level.to_string());
                }
                "threads" => {
                    let t = number(64)?;
                    if t == 0 {
                        return Err(at("threads = 0: at least one".to_string()));
                    }
                    c.threads = usize::try_from(t).ok();
                }
                "poll_us" => c.poll_us = Some(number(1_000_000)?),
                "file.create" => c.file_create = Some(boolean()?),
                "qcow2.create" => c.qcow2_create = Some(boolean()?),
                _ => return Err(at(format!("unknown setting {key:?}"))),
            }
        }
        Ok(c)
    }

    /// Reads and parses `path`; `Ok(None)` when it does not exist and `optional`.
    pub fn read(path: &Path, optional: bool) -> Result<Option<RunnerConfig>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                RunnerConfig::parse(&text).map(Some).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let kib = meminfo.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    kib.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?.checked_mul(1024)
}

/// Why the runner could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// Another daemon holds the lock file.
    #[error("{holder} holds {path}: only one TCMU daemon may run at a time (stop it first)")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as well as can be told ("tcmu-runner (pid 812)").
        holder: String,
    },
    /// The lock file could not be opened or locked.
    #[error("{path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The netlink family could not be used.
    #[error(transparent)]
    Netlink(#[from] lio_config::genl::GenlError),
    /// configfs could not be used.
    #[error(transparent)]
    Config(#[from] lio_config::Error),
}

/// How the runner serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// Serving threads per device.
    pub threads: usize,
    /// Busy-polling window per device ([`ServeOptions::poll`]).
    pub poll: Duration,
    /// The lock file (default [`LOCK_FILE`]).
    pub lock_file: PathBuf,
    /// Whether the built-in `file` subtype creates missing images (default true).
    pub file_create: bool,
    /// Whether the built-in `qcow2`/`qcow` subtypes create missing images (default true).
    pub qcow2_create: bool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            threads: 4,
            poll: Duration::ZERO,
            lock_file: PathBuf::from(LOCK_FILE),
            file_create: true,
            qcow2_create: true,
        }
    }
}

/// The daemon: the subtypes it serves and the devices it serves now.
pub struct Runner {
    subtypes: Vec<Arc<dyn Subtype>>,
    options: RunnerOptions,
    /// By UIO minor.
    served: HashMap<u32, Served>,
}

/// A device being served.
struct Served {
    name: String,
    /// Its backstore, blocked around the stop at shutdown.
    store: UserBackstore,
    server: Server,
    /// What it was opened with: a RECONFIG to these same values (targetcli's restoreconfig
    /// writes every attribute again) changes nothing and is accepted.
    dev_config: String,
    size: u64,
    write_cache: bool,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.subtypes.iter().map(|s| s.name().to_string()).collect();
        f.debug_struct("Runner")
            .field("subtypes", &names)
            .field("served", &self.served.len())
            .finish()
    }
}

impl Runner {
    /// A runner with the built-in subtypes (`file`, `qcow2`, `qcow`, `mem`, and `rbd` with
    /// feature `rbd`).
    pub fn new(options: RunnerOptions) -> Self {
        let mut r = Runner { subtypes: Vec::new(), options, served: HashMap::new() };
        let (file_create, qcow2_create) = (r.options.file_create, r.options.qcow2_create);
        r.register(FileSubtype { create: file_create });
        r.register(Qcow2Subtype { create: qcow2_create, ..Qcow2Subtype::QCOW2 });
        r.register(Qcow2Subtype { create: qcow2_create, ..Qcow2Subtype::QCOW });
        r.register(MemorySubtype);
        #[cfg(feature = "rbd")]
        r.register(RbdSubtype);
        r
    }

    /// Adds a subtype (replacing a registered one of the same name).
    pub fn register(&mut self, subtype: impl Subtype + 'static) {
        self.subtypes.retain(|s| s.name() != subtype.name());
        self.subtypes.push(Arc::new(subtype));
    }

    /// The registered subtypes.
    pub fn subtypes(&self) -> impl Iterator<Item = &dyn Subtype> {
        self.subtypes.iter().map(|s| &**s)
    }

    /// The subtype a `dev_config` names (`<subtype>/<config>`, compared exactly) and the config
    /// after it.
    fn subtype_of<'a>(&self, dev_config: &'a str) -> Option<(Arc<dyn Subtype>, &'a str)> {
        let (name, config) = dev_config.split_once('/').unwrap_or((dev_config, ""));
        self.subtypes.iter().find(|s| s.name() == name).map(|s| (Arc::clone(s), config))
    }

    /// Checks a `dev_config` as targetcli's CheckConfig does: a known subtype whose config it
    /// accepts.
    pub fn check(&self, dev_config: &str) -> Result<(), String> {
        match self.subtype_of(dev_config) {
            Some((s, config)) => s.check_config(config),
            None => Err(self.unknown(dev_config)),
        }
    }

    fn unknown(&self, dev_config: &str) -> String {
        let subtype = dev_config.split('/').next().unwrap_or("");
        let known: Vec<_> = self.subtypes.iter().map(|s| s.name()).collect();
        format!("no handler for subtype {subtype:?} (this runner serves: {})", known.join(", "))
    }

    /// Runs until `stop` is set: takes the lock, takes back the devices that exist, then
    /// serves what the kernel adds and stops serving what it removes. On the way out every
    /// device is blocked, its serving stopped, and unblocked (commands wait in the kernel for
    /// the next daemon).
    pub fn run(mut self, stop: &AtomicBool) -> Result<(), RunnerError> {
        let _lock = take_lock(&self.options.lock_file)?;
        let cfs = ConfigFs::system()?;
        let params = ModuleParams::system();
        // Blocked, netlink fails the commands that would wait for a reply (EAGAIN) rather than
        // queueing them for a daemon that is still taking its devices back.
        let blocked = match params.block_netlink(true) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("netlink not blocked during start-up (an old kernel?): {e}");
                false
            }
        };
        let unblock = || {
            if blocked && let Err(e) = params.block_netlink(false) {
                tracing::error!("netlink left blocked: {e}");
            }
        };
        if blocked {
            // Commands the dead daemon left waiting fail (EINTR) instead of waiting forever.
            if let Err(e) = params.reset_netlink() {
                tracing::debug!("reset_netlink: {e}");
            }
        }
        let netlink = match TcmuNetlink::open().and_then(|n| n.set_features(true).map(|r| (n, r))) {
            Ok((n, replies)) => {
                if !replies {
                    tracing::warn!(
                        "the kernel does not wait for replies: devices served unchecked"
                    );
                }
                n
            }
            Err(e) => {
                unblock();
                return Err(e.into());
            }
        };
        self.recover(&cfs, false);
        // On the bus before netlink opens: meanwhile a new device's `enable` fails at once
        // (EAGAIN), where an event this thread could not answer yet would hold it.
        #[cfg(feature = "dbus")]
        let _dbus = self.announce();
        unblock();
        tracing::info!(subtypes = ?self.subtypes().map(|s| s.name()).collect::<Vec<_>>(), "serving");
        let mut result = Ok(());
        while !stop.load(Ordering::Acquire) {
            match netlink.recv(TICK) {
                Ok(events) => self.answer(&cfs, &netlink, events),
                Err(lio_config::genl::GenlError::Overrun) => {
                    tracing::warn!("netlink events lost (receive buffer overrun): looking again");
                    self.recover(&cfs, false);
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
            if self.reap() {
                // A device whose serving ended on its own (a broken ring) is taken back, as
                // at start; one the kernel removed is gone from the list.
                self.recover(&cfs, false);
            }
        }
        self.shutdown();
        // What came meanwhile is answered, so no configfs write waits for the next daemon.
        if let Ok(events) = netlink.recv(Duration::ZERO) {
            for ev in events.into_iter().flatten() {
                let status = match ev.kind {
                    EventKind::Removed => 0,
                    _ => -nix::libc::EAGAIN,
                };
                if let Err(e) = netlink.reply(&ev, status) {
                    tracing::error!(uio = %ev.uio_name, "could not reply to the kernel: {e}");
                }
            }
        }
        result
    }

    /// Answers every event of a datagram; one that could not be read whole but names its
    /// device is refused (EINVAL), so its configfs writer does not wait forever.
    fn answer(
        &mut self,
        cfs: &ConfigFs,
        netlink: &TcmuNetlink,
        events: Vec<Result<DeviceEvent, lio_config::genl::GenlError>>,
    ) {
        for event in events {
            match event {
                Ok(ev) => self.handle(cfs, netlink, &ev),
                Err(lio_config::genl::GenlError::BadEvent {
                    command,
                    device_id: Some(id),
                    reason,
                }) => {
                    tracing::warn!(device_id = id, "refused an unreadable event: {reason}");
                    if let Err(e) = netlink.reply_to(command, id, -nix::libc::EINVAL) {
                        tracing::error!(device_id = id, "could not reply to the kernel: {e}");
                    }
                }
                Err(e) => tracing::warn!("unusable netlink message: {e}"),
            }
        }
    }

    /// Offers the subtypes on the system bus as tcmu-runner does (`org.kernel.TCMUService1`,
    /// what targetcli lists as `user:<subtype>` backstores and asks to check a config). Without
    /// a bus, or not allowed on it, the devices are still served: only targetcli is blind.
    #[cfg(feature = "dbus")]
    fn announce(&self) -> Option<crate::dbus::DbusService> {
        use crate::dbus::{BUS_NAME, DbusHandler, DbusService};
        let handlers = self
            .subtypes
            .iter()
            .map(|s| {
                let subtype = Arc::clone(s);
                DbusHandler {
                    subtype: s.name().to_string(),
                    description: s.description().to_string(),
                    // targetcli sends `<subtype>/<config>`.
                    check: Arc::new(move |cfg: &str| match cfg.split_once('/') {
                        Some((name, config)) if name == subtype.name() => {
                            subtype.check_config(config)
                        }
                        _ => Err(format!("{cfg:?} is not a {} config", subtype.name())),
                    }),
                }
            })
            .collect();
        match DbusService::start(handlers) {
            Ok(service) => {
                tracing::info!("on the system bus as {BUS_NAME}");
                Some(service)
            }
            Err(e) => {
                tracing::warn!("not on D-Bus (targetcli will not list user: backstores): {e}");
                None
            }
        }
    }

    /// Answers one event: serves an added device, stops serving a removed one, refuses what
    /// it cannot do; always replies, so nothing waits in the kernel.
    fn handle(&mut self, cfs: &ConfigFs, netlink: &TcmuNetlink, ev: &DeviceEvent) {
        let status = match &ev.kind {
            EventKind::Added => self.added(cfs, ev),
            EventKind::Removed => {
                if let Some(s) = self.served.remove(&ev.minor) {
                    tracing::info!(device = %s.name, "removed by the kernel: no longer served");
                    if let Err(e) = s.server.stop() {
                        tracing::debug!(device = %s.name, "serving ended: {e}");
                    }
                }
                0
            }
            EventKind::Reconfig(what) => self.reconfig(ev, what),
        };
        match netlink.reply(ev, status) {
            Ok(_) => {}
            Err(e) => tracing::error!(uio = %ev.uio_name, "could not reply to the kernel: {e}"),
        }
    }

    /// Answers a RECONFIG: the value the device already has is accepted (nothing changes);
    /// a change while served is refused (EOPNOTSUPP: the kernel keeps the old value and the
    /// configfs write fails), as is any change to a device not served here (ENODEV).
    fn reconfig(&self, ev: &DeviceEvent, what: &Reconfig) -> i32 {
        let Some(s) = self.served.get(&ev.minor) else {
            tracing::warn!(uio = %ev.uio_name, "refused a change to a device not served here");
            return -nix::libc::ENODEV;
        };
        let (same, what) = match what {
            Reconfig::Config(c) => (*c == s.dev_config, format!("dev_config {c:?}")),
            Reconfig::Size(n) => (*n == s.size, format!("size {n}")),
            Reconfig::WriteCache(on) => (*on == s.write_cache, format!("write cache {on}")),
            Reconfig::Unknown => (false, "an unknown setting".to_string()),
        };
        if same {
            tracing::debug!(device = %s.name, "{what}: unchanged");
            return 0;
        }
        tracing::warn!(device = %s.name, "refused a change of {what} while served: not supported");
        -nix::libc::EOPNOTSUPP
    }

    /// Serves an added device; the status for the kernel (0 or a negative errno).
    fn added(&mut self, cfs: &ConfigFs, ev: &DeviceEvent) -> i32 {
        let Some(name) = TcmuName::parse(&ev.uio_name) else {
            tracing::warn!(uio = %ev.uio_name, "refused: not a TCMU device name");
            return -nix::libc::EINVAL;
        };
        if name.config.starts_with(CONFIG_PREFIX) {
            // `tcmu serve` serves it itself.
            return 0;
        }
        match self.serve(cfs, ev.minor, &name, true) {
            Ok(()) => 0,
            Err((errno, why)) => {
                tracing::error!(device = %label(&name), "refused: {why}");
                -errno
            }
        }
    }

    /// Opens the device's subtype and starts serving its ring.
    fn serve(
        &mut self,
        cfs: &ConfigFs,
        minor: u32,
        name: &TcmuName,
        may_create: bool,
    ) -> Result<(), (i32, String)> {
        use nix::libc::{EBUSY, EINVAL, EIO, ENOENT};
        if let Some(s) = self.served.get(&minor) {
            if s.name == label(name) && s.dev_config == name.config && !s.server.is_finished() {
                return Ok(());
            }
            // The minor went to another device (a REMOVED we never saw), or serving ended.
            if let Some(old) = self.served.remove(&minor) {
                tracing::info!(device = %old.name, "no longer served: its UIO device is reused");
                let _ = old.server.stop();
            }
        }
        let Some((subtype, config)) = self.subtype_of(&name.config) else {
            return Err((ENOENT, self.unknown(&name.config)));
        };
        let store = cfs.user_backstore(name.hba, &name.device);
        let attr = |a: &str| store.attribute(a).map_err(|e| (EINVAL, e.to_string()));
        let parse = |a: &str| -> Result<u64, (i32, String)> {
            let v = attr(a)?;
            v.trim().parse().map_err(|_| (EINVAL, format!("attrib/{a} reads {v:?}")))
        };
        let size = parse("dev_size")?;
        let block_size = u32::try_from(parse("hw_block_size")?).unwrap_or(0);
        let write_cache = parse("emulate_write_cache").unwrap_or(0) != 0;
        let cmd_time_out = parse("cmd_time_out").unwrap_or(30);
        let device = RunnerDevice {
            hba: name.hba,
            name: name.device.clone(),
            config: config.to_string(),
            size,
            block_size,
            may_create,
        };
        let disk = subtype.open(&device).map_err(|e| (EIO, e))?;
        let identity = DeviceIdentity {
            serial: store.unit_serial().filter(|s| s.len() <= 64),
            write_cache: Some(write_cache),
            ..DeviceIdentity::default()
        };
        let emulator =
            identity.emulator(&name.device, disk).map_err(|e| (EINVAL, e.to_string()))?;
        let unit = Arc::new(LogicalUnit::new(EmulationOnly, emulator));
        let info =
            UioInfo::read(Path::new(SYSFS_CLASS_UIO), minor).map_err(|e| (EIO, e.to_string()))?;
        let uio = Uio::open(Path::new("/dev"), info).map_err(|e| {
            let busy = matches!(&e, tcmu_ring::UioError::Io { source, .. } if source.raw_os_error() == Some(EBUSY));
            (if busy { EBUSY } else { EIO }, e.to_string())
        })?;
        let ring = Ring::new(uio.region()).map_err(|e| (EIO, e.to_string()))?;
        let options = ServeOptions::new(self.options.threads)
            .cmd_time_out(Duration::from_secs(cmd_time_out))
            .poll(self.options.poll);
        let server = Server::spawn_with(ring, Arc::new(uio), unit, options);
        tracing::info!(device = %label(name), minor, size, block_size, write_cache, "serving");
        let dev_config = name.config.clone();
        self.served.insert(
            minor,
            Served { name: label(name), store, server, dev_config, size, write_cache },
        );
        Ok(())
    }

    /// Takes back every device that exists and that a registered subtype serves: blocked, its
    /// ring reset (in-flight commands completed BUSY, retried by the initiator), served,
    /// unblocked. Devices of `tcmu serve`, of unknown subtypes, or already served are left.
    /// A missing image is not created here (`may_create` false): a device that existed before
    /// has its data somewhere, perhaps on a file system not mounted yet, and a blank image in
    /// its place would hand the initiator zeroes and take its writes.
    fn recover(&mut self, cfs: &ConfigFs, may_create: bool) {
        let infos = match UioInfo::list(Path::new(SYSFS_CLASS_UIO)) {
            Ok(i) => i,
            Err(e) => {
                tracing::error!("cannot list the UIO devices: {e}");
                return;
            }
        };
        for info in infos {
            let Some(name) = info.tcmu_name() else { continue };
            if self.served.contains_key(&info.index) || name.config.starts_with(CONFIG_PREFIX) {
                continue;
            }
            if self.subtype_of(&name.config).is_none() {
                tracing::warn!(device = %label(&name), "left alone: {}", self.unknown(&name.config));
                continue;
            }
            let store = cfs.user_backstore(name.hba, &name.device);
            let blocked = store.action("block_dev", "1").is_ok();
            if blocked && let Err(e) = store.action("reset_ring", "1") {
                tracing::warn!(device = %label(&name), "reset_ring: {e}");
            }
            match self.serve(cfs, info.index, &name, may_create) {
                Ok(()) => tracing::info!(device = %label(&name), "taken back"),
                Err((_, why)) => tracing::error!(device = %label(&name), "not served: {why}"),
            }
            if blocked && let Err(e) = store.action("block_dev", "0") {
                tracing::error!(device = %label(&name), "left blocked: {e}");
            }
        }
    }

    /// Forgets devices whose serving ended on its own (removed while netlink was blocked, or
    /// a broken ring).
    fn reap(&mut self) -> bool {
        let ended: Vec<u32> =
            self.served.iter().filter(|(_, s)| s.server.is_finished()).map(|(m, _)| *m).collect();
        let any = !ended.is_empty();
        for minor in ended {
            if let Some(s) = self.served.remove(&minor) {
                match s.server.stop() {
                    Ok(()) => tracing::info!(device = %s.name, "serving ended"),
                    Err(e) => tracing::warn!(device = %s.name, "serving ended: {e}"),
                }
            }
        }
        any
    }

    /// Stops serving every device: blocked first (commands the kernel holds wait for the
    /// next daemon), serving stopped, unblocked.
    fn shutdown(&mut self) {
        for (_, s) in self.served.drain() {
            let blocked = s.store.action("block_dev", "1").is_ok();
            if let Err(e) = s.server.stop() {
                tracing::debug!(device = %s.name, "serving ended: {e}");
            }
            if blocked && let Err(e) = s.store.action("block_dev", "0") {
                tracing::warn!(device = %s.name, "left blocked: {e}");
            }
            tracing::info!(device = %s.name, "no longer served");
        }
    }
}

/// `user_N/NAME`, as logs and targetcli name a backstore.
fn label(name: &TcmuName) -> String {
    format!("user_{}/{}", name.hba, name.device)
}

/// Takes tcmu-runner's lock file (an open file description lock, which conflicts with the
/// `fcntl` record lock tcmu-runner takes): held while the returned file is open.
fn take_lock(path: &Path) -> Result<File, RunnerError> {
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;
    let err = |source| RunnerError::Lock { path: path.to_path_buf(), source };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    let whole = |kind: libc::c_int| libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    match fcntl(&file, FcntlArg::F_OFD_SETLK(&whole(libc::F_WRLCK))) {
        Ok(_) => Ok(file),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => {
            let mut probe = whole(libc::F_WRLCK);
            let holder = match fcntl(&file, FcntlArg::F_OFD_GETLK(&mut probe)) {
                // A record lock names its process; an open file description lock does not.
                Ok(_) if probe.l_pid > 0 => {
                    let comm = std::fs::read_to_string(format!("/proc/{}/comm", probe.l_pid))
                        .unwrap_or_default();
                    format!("{} (pid {})", comm.trim(), probe.l_pid)
                }
                _ => "another TCMU daemon (tcmu runner)".to_string(),
            };
            Err(RunnerError::Locked { path: path.to_path_buf(), holder })
        }
        Err(e) => Err(err(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "rbd")]
    #[test]
    fn rbd_configs_in_tcmu_runner_form() {
        let r = Runner::new(RunnerOptions::default());
        let rbd = r.subtypes.iter().find(|s| s.name() == "rbd").expect("registered");
        for ok in
            ["rbd/img", "rbd/ns/img;osd_op_timeout=30", "p/i;conf=/etc/ceph/ceph.conf;id=admin"]
        {
            assert_eq!(rbd.check_config(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("img", "POOL/IMAGE"),
            ("p/i;key=AQB", "keyring"),
            ("p/i;osd_op_timeout=soon", "osd_op_timeout"),
            ("p/i;rbd_cache=false", "unknown option"),
        ] {
            let e = rbd.check_config(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn subtypes_are_matched_exactly_not_by_prefix() {
        let r = Runner::new(RunnerOptions::default());
        assert!(r.check("mem/x").is_ok());
        assert!(r.check("mem").is_ok(), "an empty config is the subtype's to judge");
        let e = r.check("me/x").unwrap_err();
        assert!(e.contains("no handler for subtype \"me\""), "{e}");
        let e = r.check("memory/x").unwrap_err();
        assert!(e.contains("\"memory\"") && e.contains("file, qcow2, qcow, mem"), "{e}");
        assert!(r.check("").is_err());
    }

    #[test]
    fn file_configs_are_checked_before_anything_is_made() {
        let r = Runner::new(RunnerOptions::default());
        let dir = std::env::temp_dir();
        assert!(r.check(&format!("file/{}/new.img", dir.display())).is_ok());
        assert!(r.check("file/relative.img").unwrap_err().contains("not an absolute path"));
        assert!(
            r.check("file//no/such/folder/a.img").unwrap_err().contains("folder does not exist")
        );
        assert!(
            r.check(&format!("file/{}", dir.display())).unwrap_err().contains("not a regular file")
        );
    }

    #[test]
    fn a_file_image_is_made_at_the_device_size_and_must_keep_it() {
        let dir = std::env::temp_dir().join(format!("tcmu-runner-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("a.img");
        let dev = RunnerDevice {
            hba: 1,
            name: "a".into(),
            config: img.display().to_string(),
            size: 1 << 20,
            block_size: 512,
            may_create: true,
        };
        let disk = FileSubtype::default().open(&dev).unwrap();
        assert_eq!(disk.num_blocks(), 2048);
        assert_eq!(std::fs::metadata(&img).unwrap().len(), 1 << 20);
        drop(disk);
        let bigger = RunnerDevice { size: 2 << 20, ..dev };
        let e = FileSubtype::default().open(&bigger).err().unwrap();
        assert!(e.contains("holds 1048576 bytes but the device is 2097152"), "{e}");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), 1 << 20, "not grown");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_qcow2_image_is_made_at_the_device_size_and_a_raw_one_refused() {
        let dir = std::env::temp_dir().join(format!("tcmu-runner-qcow2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("a.qcow2");
        let dev = RunnerDevice {
            hba: 1,
            name: "a".into(),
            config: img.display().to_string(),
            size: 4 << 20,
            block_size: 512,
            may_create: true,
        };
        let disk = Qcow2Subtype::QCOW2.open(&dev).unwrap();
        assert_eq!(disk.num_blocks(), 8192);
        drop(disk);
        assert!(crate::qcow2::is_qcow2(&img).unwrap());
        let e =
            Qcow2Subtype::QCOW.open(&RunnerDevice { size: 8 << 20, ..dev.clone() }).err().unwrap();
        assert!(e.contains("holds 4194304 bytes but the device is 8388608"), "{e}");
        let raw = dir.join("raw.img");
        std::fs::write(&raw, vec![0u8; 4096]).unwrap();
        let r = Runner::new(RunnerOptions::default());
        let e = r.check(&format!("qcow2/{}", raw.display())).unwrap_err();
        assert!(e.contains("is not a qcow2 image"), "{e}");
        assert!(r.check(&format!("qcow/{}", img.display())).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_config_file_is_read_and_its_mistakes_named() {
        let c = RunnerConfig::parse(
            "# tcmu runner\nlog_level = 4\nthreads=8 # per device\n\npoll_us = 2000\n\
             file.create = false\nqcow2.create = yes\n",
        )
        .unwrap();
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!((c.threads, c.poll_us), (Some(8), Some(2000)));
        assert_eq!((c.file_create, c.qcow2_create), (Some(false), Some(true)));
        assert_eq!(RunnerConfig::parse("").unwrap(), RunnerConfig::default());
        assert_eq!(
            RunnerConfig::parse("log_level = warn").unwrap().log_level.as_deref(),
            Some("warn")
        );
        for (text, says) in [
            ("threads = 0", "line 1: threads = 0"),
            ("\nthreads = 65", "line 2: threads = \"65\": a number from 0 to 64"),
            ("poll_us = -1", "poll_us"),
            ("log_level = loud", "log_level = \"loud\""),
            ("file.create = maybe", "true or false"),
            ("colour = blue", "unknown setting \"colour\""),
            ("threads", "is not `key = value`"),
        ] {
            let e = RunnerConfig::parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
        let missing = std::env::temp_dir().join("tcmu-no-such-runner.conf");
        assert_eq!(RunnerConfig::read(&missing, true).unwrap(), None);
        assert!(RunnerConfig::read(&missing, false).is_err());
    }

    #[test]
    fn a_runner_that_creates_no_images_refuses_a_missing_one() {
        let options =
            RunnerOptions { file_create: false, qcow2_create: false, ..Default::default() };
        let r = Runner::new(options);
        let dir = std::env::temp_dir();
        for sub in ["file", "qcow2", "qcow"] {
            let e = r.check(&format!("{sub}/{}/tcmu-no-such.img", dir.display())).unwrap_err();
            assert!(e.contains("does not exist (not created"), "{sub}: {e}");
        }
        assert!(
            Runner::new(RunnerOptions::default())
                .check(&format!("file/{}/tcmu-no-such.img", dir.display()))
                .is_ok()
        );
    }

    #[test]
    fn a_device_taken_back_never_gets_a_new_image() {
        let dir = std::env::temp_dir().join(format!("tcmu-runner-back-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("gone.img");
        let dev = RunnerDevice {
            hba: 1,
            name: "gone".into(),
            config: img.display().to_string(),
            size: 1 << 20,
            block_size: 512,
            may_create: false,
        };
        let e = FileSubtype::default().open(&dev).err().unwrap();
        assert!(e.contains("does not exist"), "{e}");
        let qimg = dir.join("gone.qcow2");
        let qdev = RunnerDevice { config: qimg.display().to_string(), ..dev };
        let e = Qcow2Subtype::QCOW2.open(&qdev).err().unwrap();
        assert!(e.contains("does not exist"), "{e}");
        assert!(!img.exists() && !qimg.exists(), "nothing made");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_memory_disk_larger_than_free_memory_is_refused() {
        assert_eq!(mem_available("MemTotal: 100 kB\nMemAvailable:    2048 kB\n"), Some(2 << 20));
        assert_eq!(mem_available("MemAvailable: lots\n"), None);
        assert_eq!(mem_available(""), None);
        let dev = RunnerDevice {
            hba: 1,
            name: "m".into(),
            config: String::new(),
            size: 1 << 60,
            block_size: 512,
            may_create: true,
        };
        let e = MemorySubtype.open(&dev).err().unwrap();
        assert!(e.contains("bytes of memory are available"), "{e}");
        assert!(MemorySubtype.open(&RunnerDevice { size: 1 << 20, ..dev }).is_ok());
    }

    #[test]
    fn a_second_runner_is_refused_while_the_lock_is_held() {
        let path = std::env::temp_dir().join(format!("tcmu-runner-lock-{}", std::process::id()));
        let held = take_lock(&path).unwrap();
        match take_lock(&path) {
            Err(RunnerError::Locked { holder, .. }) => {
                assert!(holder.contains("tcmu runner"), "{holder}")
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        take_lock(&path).expect("free once the holder closed it");
        let _ = std::fs::remove_file(&path);
    }
}
