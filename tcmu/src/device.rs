//! A served device: the configfs objects, the ring being served, and the disk the kernel made,
//! in the spirit of go-tcmu's `OpenTCMUDevice`. Closing or dropping it tears everything down
//! in reverse order.
//!
//! From before its backstore is made until after it is removed, a device's [`DeviceLock`] is
//! held, so [`crate::cleanup()`] never takes a device that is still being brought up (its
//! backstore made but not yet enabled looks abandoned) or torn down for a leftover.

use crate::backend::{BlockDevice, locks};
use crate::emulate::alua::PortGroups;
use crate::emulate::{Emulator, Identity};
use crate::handler::{EmulationOnly, Handler, LogicalUnit};
use crate::server::{Doorbell, ServeError, ServeOptions, Server};
use lio_config::{
    CONFIG_PREFIX, ConfigFs, IscsiAccess, IscsiTarget, LoopbackTarget, UserBackstore,
    UserBackstoreSpec,
};
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tcmu_ring::uio::{SYSFS_CLASS_UIO, UioInfo};
use tcmu_ring::{Ring, Uio};

/// What can go wrong bringing a device up or down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// configfs refused or is not there (the message says what to do).
    #[error(transparent)]
    Config(#[from] lio_config::Error),
    /// The UIO device could not be found or opened.
    #[error(transparent)]
    Uio(#[from] tcmu_ring::UioError),
    /// The ring's mailbox was not usable.
    #[error("TCMU ring: {0}")]
    Ring(#[from] tcmu_ring::RingError),
    /// Serving stopped on its own: the kernel's device went away, or the ring broke.
    #[error("serving stopped: {0}")]
    Serve(#[from] ServeError),
    /// A vendor, product or serial the SCSI standard cannot carry.
    #[error("{what} {value:?} must be 1 to {max} printable ASCII characters")]
    BadIdentity {
        /// Which field.
        what: &'static str,
        /// The value given.
        value: String,
        /// Its longest legal length.
        max: usize,
    },
    /// The device node could not be made or removed.
    #[error("device node {path}: {source}")]
    Node {
        /// The path asked for.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A logical block size that is not a power of two from 512 to 65536.
    #[error(
        "block size {block_size} is not a power of two from {} to {}",
        crate::backend::MIN_BLOCK_SIZE,
        crate::backend::MAX_BLOCK_SIZE
    )]
    BadBlockSize {
        /// The block size given.
        block_size: u32,
    },
    /// Another process holds the device's lock: a `tcmu serve` bringing it up, serving it or
    /// tearing it down, or a `tcmu cleanup` removing it.
    #[error(
        "user_{hba}/{name} is locked by {holder}: it is being set up, served or removed \
         (lock {})",
        lock.display()
    )]
    Locked {
        /// The backstore's HBA.
        hba: u32,
        /// The backstore's name.
        name: String,
        /// Who holds it, as far as `/proc` tells ("another process" when it does not).
        holder: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file could not be made or locked.
    #[error("device lock {path}: {source}")]
    LockFile {
        /// The lock file or its folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel made the disk empty: it takes no logical blocks this large.
    #[error(
        "this kernel makes an empty disk of {block_size}-byte blocks (it takes 512, 1024, 2048 \
         or 4096; larger blocks need a kernel with large block size support)"
    )]
    BlockSizeUnsupported {
        /// The block size given.
        block_size: u32,
    },
    /// A size that is not a whole number of blocks, or zero.
    #[error("size {size} is not a positive multiple of the block size {block_size}")]
    BadSize {
        /// Bytes.
        size: u64,
        /// Block size.
        block_size: u32,
    },
}

/// Where `tcmu serve` and `tcmu cleanup` keep the devices' lock files (a tmpfs: emptied at
/// boot, as the devices are).
pub const DEVICE_LOCK_DIR: &str = "/run/tcmu-rs/devices";

/// The lock on one device, `core/user_HBA/NAME`: a lock file `user_HBA-NAME.lock` in the lock
/// folder, locked exclusively (an open file description lock: it goes when the file is
/// closed, however the process ends). Dropping it removes the file, then unlocks it.
#[derive(Debug)]
pub struct DeviceLock {
    /// Open (and locked) for as long as the lock is held.
    _file: File,
    path: PathBuf,
}

impl DeviceLock {
    /// Takes the lock of `core/user_HBA/NAME` in `dir` (made if missing, mode 0700), without
    /// waiting: [`DeviceError::Locked`] if another holds it.
    pub fn try_lock(dir: &Path, hba: u32, name: &str) -> Result<DeviceLock, DeviceError> {
        lio_config::check_name(name)?;
        let lock_file_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DeviceError::LockFile { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(lock_file_error(dir))?;
        let path = dir.join(format!("user_{hba}-{name}.lock"));
        // A holder removes the file before it unlocks it, so a lock taken on a file that is no
        // longer at `path` is worthless: then try again on the new one.
        for _ in 0..100 {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(lock_file_error(&path))?;
            match locks::lock_exclusive(&file) {
                Ok(()) => {}
                Err(locks::LockError::Conflict) => {
                    let id = locks::file_id(&file);
                    drop(file);
                    let holder = id
                        .and_then(locks::holder)
                        .map_or_else(|| "another process".to_string(), |h| h.to_string());
                    return Err(DeviceError::Locked {
                        hba,
                        name: name.to_string(),
                        holder,
                        lock: path,
                    });
                }
                Err(locks::LockError::Os(source)) => {
                    return Err(DeviceError::LockFile { path, source });
                }
            }
            let still_there = match (locks::file_id(&file), std::fs::metadata(&path)) {
                (Some(id), Ok(m)) => id == (m.dev(), m.ino()),
                _ => false,
            };
            if still_there {
                return Ok(DeviceLock { _file: file, path });
            }
        }
        Err(DeviceError::LockFile {
            path,
            source: std::io::Error::other("the lock file keeps being replaced"),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DeviceLock {
    fn drop(&mut self) {
        // Removed while still locked; `self._file` closes (unlocks) after this.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the device says about itself, whatever answers its commands: the emulation answers
/// INQUIRY, the VPD pages and MODE SENSE with it behind every [`Handler`], so it holds for
/// every way of serving. Unset parts take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The T10 vendor identification (default `TCMU-RS`; 1 to 8 printable ASCII characters).
    pub vendor: Option<String>,
    /// The product identification (default `Rust TCMU disk`; 1 to 16).
    pub product: Option<String>,
    /// The unit serial number, VPD page 80h (default: derived from the device's name; 1 to
    /// 64).
    pub serial: Option<String>,
    /// Whether the disk reports a volatile write cache (WCE in the Caching mode page), so the
    /// kernel sends SYNCHRONIZE CACHE (default: what the [`BlockDevice`] says).
    pub write_cache: Option<bool>,
    /// The name the default serial number and NAA identifier are derived from (default: the
    /// device's name). Devices given the same seed report the same logical unit: two
    /// gateways serving one image through two ports, which multipath groups.
    pub seed: Option<String>,
    /// Implicit asymmetric access through these target port groups (ALUA: see
    /// [`Emulator::with_port_groups`]); default none.
    pub port_groups: Option<PortGroups>,
}

impl DeviceIdentity {
    /// The identity INQUIRY reports for device `name`: [`Identity::for_name`] with the vendor,
    /// product and serial given here; [`DeviceError::BadIdentity`] for one SCSI cannot carry.
    pub fn resolve(&self, name: &str) -> Result<Identity, DeviceError> {
        let mut id = Identity::for_name(self.seed.as_deref().unwrap_or(name));
        for (what, value, max, field) in [
            ("vendor", &self.vendor, 8, &mut id.vendor),
            ("product", &self.product, 16, &mut id.product),
            ("serial", &self.serial, 64, &mut id.serial),
        ] {
            if let Some(v) = value {
                let printable = v.bytes().all(|b| (0x20..0x7f).contains(&b));
                if v.is_empty() || v.len() > max || !printable {
                    return Err(DeviceError::BadIdentity { what, value: v.clone(), max });
                }
                *field = v.clone();
            }
        }
        Ok(id)
    }

    /// The emulation of `dev` as device `name`, with this identity and write cache.
    pub fn emulator<B: BlockDevice>(&self, name: &str, dev: B) -> Result<Emulator<B>, DeviceError> {
        let emu = Emulator::new(dev, self.resolve(name)?);
        let emu = match self.write_cache {
            Some(on) => emu.with_write_cache(on),
            None => emu,
        };
        Ok(match &self.port_groups {
            Some(groups) => emu.with_port_groups(groups.clone()),
            None => emu,
        })
    }
}

/// The data area a device asks for by default, in MiB: 64 commands of 1 MiB in flight at once
/// (the kernel sends at most `hw_queue_depth`, 128, and tcm_loop's disks send at most 1.25 MiB
/// each), where the kernel's default of 1 GiB per device is what tcmu-runner users complain of.
pub const DEFAULT_DATA_AREA_MB: u32 = 64;

/// The TCMU backstore `core/user_HBA/NAME` and how its ring is served.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Backstore {
    /// The backstore's name (also the default identity's seed).
    pub name: String,
    /// `core/user_HBA` (default 1).
    pub hba: u32,
    /// Worker threads (default 4; at least one runs).
    pub threads: usize,
    /// The busy-polling window (default zero: never poll; see
    /// [`ServeOptions::poll`](crate::server::ServeOptions::poll)).
    pub poll: Duration,
    /// The kernel's data area for this device, in MiB: the shared memory every command's data
    /// passes through (default [`DEFAULT_DATA_AREA_MB`]; `None`: the kernel's own default,
    /// 1024 on 6.1). When it is full, further commands wait in the kernel until some complete.
    pub max_data_area_mb: Option<u32>,
    /// How long the kernel waits for a command before failing it, in seconds (default 30;
    /// 0: forever). A command still queued here that long after it was taken off the ring
    /// (less a margin, see [`crate::server::late_after`]) is answered ABORTED COMMAND without
    /// running: the kernel has failed it already, and running it late could overwrite newer
    /// data.
    pub cmd_time_out: u32,
    /// Where the device's lock file goes (default [`DEVICE_LOCK_DIR`]). `tcmu cleanup` must
    /// look in the same place.
    pub lock_dir: PathBuf,
    configfs: Option<ConfigFs>,
    uio_class: PathBuf,
    uio_dev: PathBuf,
}

impl Backstore {
    /// Backstore `name` with the defaults.
    pub fn new(name: &str) -> Self {
        Backstore {
            name: name.to_string(),
            hba: 1,
            threads: 4,
            poll: Duration::ZERO,
            max_data_area_mb: Some(DEFAULT_DATA_AREA_MB),
            cmd_time_out: 30,
            lock_dir: PathBuf::from(DEVICE_LOCK_DIR),
            configfs: None,
            uio_class: PathBuf::from(SYSFS_CLASS_UIO),
            uio_dev: PathBuf::from("/dev"),
        }
    }

    fn config_string(&self) -> String {
        format!("{CONFIG_PREFIX}{}", self.name)
    }
}

/// A loopback target with the device as one LUN: the kernel makes a local disk of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loopback {
    /// The target's WWN (default: derived from the backstore's HBA and name; a second
    /// loopback export needs its own).
    pub wwn: Option<String>,
    /// The LUN (default 0).
    pub lun: u32,
    /// An extra block device node made for the disk at this path (as go-tcmu's `DevPath`
    /// does), removed again on close. An existing file there is an error, never replaced.
    pub node: Option<PathBuf>,
    /// How long to wait for the kernel to make the disk (default 30 s).
    pub disk_timeout: Duration,
}

impl Default for Loopback {
    fn default() -> Self {
        Loopback { wwn: None, lun: 0, node: None, disk_timeout: Duration::from_secs(30) }
    }
}

impl Loopback {
    /// LUN 0 of a target with the default WWN, no extra node, a 30 s wait for the disk.
    pub fn new() -> Self {
        Loopback::default()
    }

    /// The target's WWN.
    pub fn wwn(mut self, wwn: &str) -> Self {
        self.wwn = Some(wwn.to_string());
        self
    }

    /// The LUN.
    pub fn lun(mut self, lun: u32) -> Self {
        self.lun = lun;
        self
    }

    /// Also makes a block device node for the disk at `path`.
    pub fn node(mut self, path: &Path) -> Self {
        self.node = Some(path.to_path_buf());
        self
    }

    /// How long to wait for the disk.
    pub fn disk_timeout(mut self, t: Duration) -> Self {
        self.disk_timeout = t;
        self
    }
}

/// How the device is exported: through which fabric, to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Export {
    /// A local disk through the loopback fabric (module `tcm_loop`).
    Loopback(Loopback),
    /// LUN 0 of an iSCSI target of its own (module `iscsi_target_mod`).
    Iscsi(IscsiExport),
}

/// Builds and serves a TCMU device from three parts: what it says about itself
/// ([`DeviceIdentity`]), its backstore and serving settings ([`Backstore`]), and how it is
/// exported (a list of [`Export`]s, by default one [`Loopback`]). The setters below reach into
/// the parts.
#[derive(Debug, Clone)]
pub struct DeviceBuilder {
    identity: DeviceIdentity,
    backstore: Backstore,
    exports: Vec<Export>,
}

/// An export of the device through LIO's iSCSI fabric (LUN 0 of its own target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IscsiExport {
    /// The target's IQN.
    pub iqn: String,
    /// The portal, `ADDRESS:PORT` (e.g. `127.0.0.1:3260`, `0.0.0.0:3260`).
    pub portal: String,
    /// Who may log in.
    pub access: IscsiAccess,
}

impl DeviceBuilder {
    /// A device called `name` (the backstore's name under `core/user_HBA/`), with the default
    /// identity and backstore settings, exported as a loopback disk.
    pub fn new(name: &str) -> Self {
        DeviceBuilder {
            identity: DeviceIdentity::default(),
            backstore: Backstore::new(name),
            exports: vec![Export::Loopback(Loopback::default())],
        }
    }

    /// What the device says about itself (replacing any vendor, product, serial or write
    /// cache set before).
    pub fn identity(mut self, identity: DeviceIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// The backstore and serving settings (replacing any set before; its name is the
    /// device's). Locations set with [`DeviceBuilder::roots`] are kept, before or after.
    pub fn backstore(mut self, backstore: Backstore) -> Self {
        let old = std::mem::replace(&mut self.backstore, backstore);
        self.backstore.configfs = old.configfs;
        self.backstore.uio_class = old.uio_class;
        self.backstore.uio_dev = old.uio_dev;
        self
    }

    /// The exports, in the order they are made (replacing the default loopback disk). None:
    /// the backstore is made and served, and a target made elsewhere may use it.
    pub fn exports(mut self, exports: impl IntoIterator<Item = Export>) -> Self {
        self.exports = exports.into_iter().collect();
        self
    }

    /// The loopback export: replaces the loopback exports there are (the default one) and
    /// comes first.
    pub fn loopback(mut self, loopback: Loopback) -> Self {
        self.exports.retain(|e| !matches!(e, Export::Loopback(_)));
        self.exports.insert(0, Export::Loopback(loopback));
        self
    }

    /// Also exports the device through LIO's iSCSI fabric: replaces the iSCSI exports there
    /// are (a second call replaces the first) and comes after the others. More than one iSCSI
    /// export: [`DeviceBuilder::exports`].
    pub fn iscsi(mut self, export: IscsiExport) -> Self {
        self.exports.retain(|e| !matches!(e, Export::Iscsi(_)));
        self.exports.push(Export::Iscsi(export));
        self
    }

    /// The vendor identification INQUIRY reports (see [`DeviceIdentity::vendor`]).
    pub fn vendor(mut self, vendor: &str) -> Self {
        self.identity.vendor = Some(vendor.to_string());
        self
    }

    /// The product identification (see [`DeviceIdentity::product`]).
    pub fn product(mut self, product: &str) -> Self {
        self.identity.product = Some(product.to_string());
        self
    }

    /// The unit serial number (see [`DeviceIdentity::serial`]).
    pub fn serial(mut self, serial: &str) -> Self {
        self.identity.serial = Some(serial.to_string());
        self
    }

    /// Whether the disk reports a volatile write cache (see [`DeviceIdentity::write_cache`]).
    pub fn write_cache(mut self, on: bool) -> Self {
        self.identity.write_cache = Some(on);
        self
    }

    /// The seed of the default serial and NAA (see [`DeviceIdentity::seed`]).
    pub fn identity_seed(mut self, seed: &str) -> Self {
        self.identity.seed = Some(seed.to_string());
        self
    }

    /// Implicit ALUA through these target port groups (see [`DeviceIdentity::port_groups`]).
    pub fn port_groups(mut self, groups: PortGroups) -> Self {
        self.identity.port_groups = Some(groups);
        self
    }

    /// `core/user_HBA` (see [`Backstore::hba`]).
    pub fn hba(mut self, hba: u32) -> Self {
        self.backstore.hba = hba;
        self
    }

    /// Worker threads (see [`Backstore::threads`]).
    pub fn threads(mut self, n: usize) -> Self {
        self.backstore.threads = n.max(1);
        self
    }

    /// The busy-polling window (see [`Backstore::poll`]).
    pub fn poll(mut self, window: Duration) -> Self {
        self.backstore.poll = window;
        self
    }

    /// The kernel's data area in MiB (see [`Backstore::max_data_area_mb`]).
    pub fn max_data_area_mb(mut self, mb: u32) -> Self {
        self.backstore.max_data_area_mb = Some(mb);
        self
    }

    /// The kernel's command time-out in seconds (see [`Backstore::cmd_time_out`]).
    pub fn cmd_time_out(mut self, seconds: u32) -> Self {
        self.backstore.cmd_time_out = seconds;
        self
    }

    /// Where the device's lock file goes (see [`Backstore::lock_dir`]; tests use their own).
    pub fn lock_dir(mut self, dir: &Path) -> Self {
        self.backstore.lock_dir = dir.to_path_buf();
        self
    }

    /// Another configfs / sysfs / UIO location (tests).
    pub fn roots(mut self, configfs: ConfigFs, uio_class: &Path, uio_dev: &Path) -> Self {
        self.backstore.configfs = Some(configfs);
        self.backstore.uio_class = uio_class.to_path_buf();
        self.backstore.uio_dev = uio_dev.to_path_buf();
        self
    }

    fn default_wwn(&self) -> String {
        let b = &self.backstore;
        lio_config::naa_wwn(u64::from(b.hba) << 24 ^ Identity::for_name(&b.name).naa_id)
    }

    /// Serves a block device with the built-in emulation: no handler needed.
    pub fn serve_block<B: BlockDevice + 'static>(self, disk: B) -> Result<Device, DeviceError> {
        self.serve(EmulationOnly, disk)
    }

    /// Serves `handler` in front of the emulation of `disk` (which says the size and block
    /// size: a power of two from 512 to 65536, at least one block), through the kernel's UIO
    /// device. Every command the handler declines is emulated with the device's identity.
    pub fn serve<H, B>(self, handler: H, disk: B) -> Result<Device, DeviceError>
    where
        H: Handler + 'static,
        B: BlockDevice + 'static,
    {
        let dev_dir = self.backstore.uio_dev.clone();
        let mut device = self.serve_with(handler, disk, {
            let dev_dir = dev_dir.clone();
            move |info| {
                let uio = Uio::open(&dev_dir, info.clone())?;
                let ring = Ring::new(uio.region())?;
                Ok((ring, Arc::new(uio)))
            }
        })?;
        device.uio_dev = Some(dev_dir);
        Ok(device)
    }

    /// [`DeviceBuilder::serve`] with the ring and doorbell made by `open` from the UIO device's
    /// description (tests serve the simulated kernel this way).
    pub fn serve_with<H, B, D, F>(self, handler: H, disk: B, open: F) -> Result<Device, DeviceError>
    where
        H: Handler + 'static,
        B: BlockDevice + 'static,
        D: Doorbell + 'static,
        F: FnOnce(&UioInfo) -> Result<(Ring, Arc<D>), DeviceError>,
    {
        let block_size = disk.block_size();
        if !crate::backend::is_valid_block_size(block_size) {
            return Err(DeviceError::BadBlockSize { block_size });
        }
        let size = disk.num_blocks().checked_mul(u64::from(block_size));
        let Some(size) = size.filter(|&s| s > 0) else {
            return Err(DeviceError::BadSize {
                size: disk.num_blocks().saturating_mul(u64::from(block_size)),
                block_size,
            });
        };
        let b = &self.backstore;
        let tmr = handler.wants_task_management();
        let unit = LogicalUnit::new(handler, self.identity.emulator(&b.name, disk)?);
        let cfs = match &b.configfs {
            Some(c) => c.clone(),
            None => ConfigFs::system()?,
        };
        // Held until the teardown has removed the backstore.
        let lock = DeviceLock::try_lock(&b.lock_dir, b.hba, &b.name)?;
        let mut spec = UserBackstoreSpec::new(b.hba, &b.name, size, &b.config_string());
        spec.block_size = block_size;
        spec.max_data_area_mb = b.max_data_area_mb;
        let mut spec = spec.attribute("cmd_time_out", b.cmd_time_out);
        if tmr {
            // Without it the kernel sends no task management notices.
            spec = spec.attribute("tmr_notification", 1);
        }
        let mut device = Device {
            lock: Some(lock),
            server: None,
            uio: None,
            uio_dev: None,
            store: None,
            exports: Vec::new(),
        };
        device.store = Some(cfs.create_user_backstore(&spec)?);

        // The ring is served before any LUN is linked: the kernel sends INQUIRY at once.
        let info = UioInfo::find_tcmu(&b.uio_class, b.hba, &b.name)?;
        let (ring, doorbell) = open(&info)?;
        device.uio = Some(info);
        let options = ServeOptions::new(b.threads)
            .cmd_time_out(Duration::from_secs(u64::from(b.cmd_time_out)))
            .poll(b.poll);
        device.server = Some(Server::spawn_with(ring, doorbell, Arc::new(unit), options));

        let Some(store) = &device.store else {
            return Ok(device);
        };
        for export in &self.exports {
            match export {
                Export::Loopback(lo) => {
                    let wwn = lo.wwn.clone().unwrap_or_else(|| self.default_wwn());
                    let target = cfs.create_loopback(&wwn)?;
                    device.exports.push(Exported::Loopback {
                        target: target.clone(),
                        disk: None,
                        node: None,
                    });
                    target.add_lun(lo.lun, store)?;
                    let disk = target.wait_for_disk(lo.lun, lo.disk_timeout)?;
                    // Kernels without large block support make a disk of blocks over 4096
                    // bytes, but an empty one ("Unsupported sector size"): say so rather than
                    // serve nothing.
                    if block_size > 4096 && disk_sectors(&disk, cfs.sysfs()) == Some(0) {
                        return Err(DeviceError::BlockSizeUnsupported { block_size });
                    }
                    if let Some(path) = &lo.node {
                        make_node(path, &disk, cfs.sysfs())
                            .map_err(|source| DeviceError::Node { path: path.clone(), source })?;
                    }
                    if let Some(Exported::Loopback { disk: d, node, .. }) =
                        device.exports.last_mut()
                    {
                        *d = Some(disk);
                        *node = lo.node.clone();
                    }
                }
                Export::Iscsi(export) => {
                    let t = cfs.create_iscsi(&export.iqn, &export.portal)?;
                    device.exports.push(Exported::Iscsi(t.clone()));
                    t.add_lun(0, store)?;
                    t.set_access(&export.access)?;
                    t.enable()?;
                }
            }
        }
        Ok(device)
    }
}

/// A target made for one export, with what came of it.
#[derive(Debug)]
enum Exported {
    Loopback {
        target: LoopbackTarget,
        /// The disk the kernel made, once it did.
        disk: Option<PathBuf>,
        /// The extra node made for it.
        node: Option<PathBuf>,
    },
    Iscsi(IscsiTarget),
}

/// A device being served. [`Device::close`] (or dropping it) removes the LUN while the ring is
/// still served (the kernel flushes the disk on removal), then stops serving, then removes the
/// backstore. If serving had ended on its own (a broken ring), the ring is reset first, so
/// the kernel fails the commands nobody answered instead of waiting for them (forever, with
/// `cmd_time_out` 0), and a ring opened by [`DeviceBuilder::serve`] is answered with NOT READY
/// while the LUN goes.
#[derive(Debug)]
pub struct Device {
    /// Released last, once everything else is gone.
    lock: Option<DeviceLock>,
    server: Option<Server>,
    /// The ring's UIO device.
    uio: Option<UioInfo>,
    /// Where its node is, when it was opened there ([`DeviceBuilder::serve`]) and can be
    /// opened again to answer the ring after a reset.
    uio_dev: Option<PathBuf>,
    store: Option<UserBackstore>,
    /// The targets made, in order.
    exports: Vec<Exported>,
}

/// The size of `disk` (a `/dev/sdX` path) in 512-byte sectors, from `sysfs`'s
/// `class/block/sdX/size`; `None` if unreadable.
fn disk_sectors(disk: &Path, sysfs: &Path) -> Option<u64> {
    let name = disk.file_name()?;
    let size = std::fs::read_to_string(sysfs.join("class/block").join(name).join("size")).ok()?;
    size.trim().parse().ok()
}

/// Makes a block device node at `path` with the device numbers of `disk` (a `/dev/sdX` path),
/// read from `sysfs`'s `class/block/sdX/dev`.
fn make_node(path: &Path, disk: &Path, sysfs: &Path) -> std::io::Result<()> {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    let name = disk.file_name().ok_or_else(|| std::io::Error::other("the disk has no name"))?;
    let dev = std::fs::read_to_string(sysfs.join("class/block").join(name).join("dev"))?;
    let (major, minor) = dev
        .trim()
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .ok_or_else(|| std::io::Error::other(format!("unreadable device numbers {dev:?}")))?;
    // mknod fails with EEXIST rather than replacing whatever is there.
    mknod(path, SFlag::S_IFBLK, Mode::from_bits_truncate(0o660), makedev(major, minor))
        .map_err(std::io::Error::from)
}

impl Device {
    /// The block device node of the (first) loopback export, e.g. `/dev/sdb`.
    pub fn disk(&self) -> Option<&Path> {
        self.exports.iter().find_map(|e| match e {
            Exported::Loopback { disk, .. } => disk.as_deref(),
            Exported::Iscsi(_) => None,
        })
    }

    /// The extra device node made for it ([`Loopback::node`]), if any.
    pub fn node(&self) -> Option<&Path> {
        self.exports.iter().find_map(|e| match e {
            Exported::Loopback { node, .. } => node.as_deref(),
            Exported::Iscsi(_) => None,
        })
    }

    /// The (first) iSCSI target's configfs folder, when exported through iSCSI.
    pub fn iscsi_target(&self) -> Option<&Path> {
        self.exports.iter().find_map(|e| match e {
            Exported::Iscsi(t) => Some(t.path()),
            Exported::Loopback { .. } => None,
        })
    }

    /// The backstore's configfs folder.
    pub fn backstore(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.path())
    }

    /// Whether serving has ended on its own (the kernel removed the device, or the ring
    /// broke): nothing answers the kernel any more. [`Device::close`] then says why.
    pub fn server_finished(&self) -> bool {
        self.server.as_ref().is_none_or(|s| s.is_finished())
    }

    /// Waits up to `timeout` for serving to end on its own; true if it has.
    pub fn wait_server(&self, timeout: Duration) -> bool {
        self.server.as_ref().is_none_or(|s| s.wait(timeout))
    }

    /// Tears everything down; every step is tried and the first error returned (the others
    /// are logged). If serving had ended on its own, why is that first error.
    pub fn close(mut self) -> Result<(), DeviceError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), DeviceError> {
        let mut first: Option<DeviceError> = None;
        let mut failed = |e: DeviceError| {
            if first.is_some() {
                tracing::warn!("tearing the device down: {e}");
            } else {
                first = Some(e);
            }
        };
        // A server that already ended answers nothing: its reason comes first. A running one
        // keeps serving while the LUN goes (the kernel flushes the disk through it).
        let ended = self.server.as_ref().is_some_and(Server::is_finished);
        if ended && let Some(server) = self.server.take() {
            let stopped = server.stop();
            // A panicked ring thread may have left workers running detached, still holding
            // command buffers: no reset then (the kernel would hand those pages to new
            // commands); the LUN removal waits out `cmd_time_out` instead.
            let workers_joined = !matches!(stopped, Err(crate::server::ServeError::Panicked(_)));
            if let Err(e) = stopped {
                failed(e.into());
            }
            // Removing the LUN waits for every command the kernel has outstanding, and with
            // `cmd_time_out` 0 those on a ring nobody answers never time out: the teardown
            // (and with it `tcmu serve`, which no longer reads its signals) would hang. So the
            // kernel is told to fail them itself, and the ring is answered while the LUN goes.
            // Only now, after `stop` returned with every worker joined: until every command's
            // buffers are dropped, a reset would hand pages we still use to the kernel's next
            // commands.
            if workers_joined {
                self.reset_ring();
            }
        }
        // The exports go in reverse, each loopback's extra node before its target.
        while let Some(export) = self.exports.pop() {
            let removed = match export {
                Exported::Loopback { target, node, .. } => {
                    if let Some(path) = node
                        && let Err(source) = std::fs::remove_file(&path)
                        && source.kind() != std::io::ErrorKind::NotFound
                    {
                        failed(DeviceError::Node { path, source });
                    }
                    target.remove()
                }
                Exported::Iscsi(t) => t.remove(),
            };
            if let Err(e) = removed {
                failed(e.into());
            }
        }
        if let Some(server) = self.server.take()
            && let Err(e) = server.stop()
        {
            failed(e.into());
        }
        if let Some(store) = self.store.take()
            && let Err(e) = store.remove()
        {
            failed(e.into());
        }
        // Whatever could not be removed stays for `tcmu cleanup`, which may now take it.
        self.lock = None;
        first.map_or(Ok(()), Err)
    }
}

impl Device {
    /// After the server has ended on its own: writes the backstore's `action/reset_ring`
    /// (2: the kernel fails every command outstanding on the ring with CHECK CONDITION, NOT
    /// READY, LOGICAL UNIT COMMUNICATION FAILURE, as on a time-out, and empties the ring),
    /// then, for a ring opened at its UIO node, opens it again and answers every command with
    /// that same failure until the teardown stops it (removing the LUN sends commands of its
    /// own, SYNCHRONIZE CACHE among them). Failures are logged: the teardown goes on.
    ///
    /// Only once [`Server::stop`] has returned: the reset frees the data area of every
    /// outstanding command and the kernel hands those pages to new commands at once, so
    /// resetting while a worker still held a command's buffers would let it read another
    /// command's data or write over it.
    fn reset_ring(&mut self) {
        // Removed under us (`tcmu cleanup --force`...): nothing is outstanding.
        let Some(store) = self.store.as_ref().filter(|s| s.exists()) else {
            return;
        };
        if let Err(e) = store.action("reset_ring", "2") {
            tracing::warn!(
                "cannot reset the ring ({e}): removing the LUN waits for the kernel to time out \
                 the commands nobody answers (forever with cmd_time_out 0)"
            );
            return;
        }
        tracing::info!(
            backstore = %store.path().display(),
            "ring reset: the kernel failed the commands nobody answered"
        );
        let (Some(dev_dir), Some(info)) = (&self.uio_dev, &self.uio) else {
            return;
        };
        let answered = Uio::open(dev_dir, info.clone())
            .map_err(DeviceError::from)
            .and_then(|uio| Ok(Server::answer_unavailable(uio)?));
        match answered {
            Ok(server) => {
                self.server = Some(server);
            }
            Err(e) => tracing::warn!(
                "cannot answer the reset ring while the device is removed ({e}): commands \
                 sent meanwhile wait for the kernel's time-out"
            ),
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iscsi(iqn: &str) -> IscsiExport {
        IscsiExport {
            iqn: iqn.to_string(),
            portal: "127.0.0.1:3260".to_string(),
            access: IscsiAccess::Open,
        }
    }

    #[test]
    fn a_second_iscsi_export_replaces_the_first() {
        let b = DeviceBuilder::new("d")
            .iscsi(iscsi("iqn.2024-01.test:a"))
            .iscsi(iscsi("iqn.2024-01.test:b"));
        assert_eq!(
            b.exports,
            [Export::Loopback(Loopback::default()), Export::Iscsi(iscsi("iqn.2024-01.test:b"))]
        );
    }

    #[test]
    fn a_backstore_set_after_the_roots_keeps_them() {
        let dir = std::env::temp_dir().join(format!("tcmu-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfs = ConfigFs::at(dir.join("target"), dir.join("sys")).unwrap();
        let mut store = Backstore::new("other");
        store.hba = 7;
        let b =
            DeviceBuilder::new("d").roots(cfs, &dir.join("uio"), &dir.join("dev")).backstore(store);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!((b.backstore.name.as_str(), b.backstore.hba), ("other", 7));
        let root = b.backstore.configfs.as_ref().map(|c| c.root().to_path_buf());
        assert_eq!(root, Some(dir.join("target")));
        assert_eq!(b.backstore.uio_class, dir.join("uio"));
        assert_eq!(b.backstore.uio_dev, dir.join("dev"));
    }
}
