//! A served device: the configfs objects, the ring being served, and the disk the kernel made,
//! in the spirit of go-tcmu's `OpenTCMUDevice`. Closing or dropping it tears everything down
//! in reverse order.
//!
//! From before its backstore is made until after it is removed, a device's [`DeviceLock`] is
//! held, so [`crate::cleanup()`] never takes a device that is still being brought up (its
//! backstore made but not yet enabled looks abandoned) or torn down for a leftover.

use crate::backend::{BlockDevice, locks};
use crate::emulate::{Emulator, Identity};
use crate::server::{Doorbell, Handler, ServeError, ServeOptions, Server};
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

/// Builds and serves a TCMU device.
#[derive(Debug, Clone)]
pub struct DeviceBuilder {
    name: String,
    hba: u32,
    lun: u32,
    wwn: Option<String>,
    threads: usize,
    max_data_area_mb: Option<u32>,
    cmd_time_out: u32,
    disk_timeout: Duration,
    configfs: Option<ConfigFs>,
    uio_class: PathBuf,
    uio_dev: PathBuf,
    vendor: Option<String>,
    product: Option<String>,
    serial: Option<String>,
    write_cache: Option<bool>,
    node: Option<PathBuf>,
    iscsi: Option<IscsiExport>,
    lock_dir: PathBuf,
}

/// An export of the device through LIO's iSCSI fabric as well (LUN 0 of its own target).
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
    /// A device called `name` (the backstore's name under `core/user_HBA/`).
    pub fn new(name: &str) -> Self {
        DeviceBuilder {
            name: name.to_string(),
            hba: 1,
            lun: 0,
            wwn: None,
            threads: 4,
            max_data_area_mb: None,
            cmd_time_out: 30,
            disk_timeout: Duration::from_secs(30),
            configfs: None,
            uio_class: PathBuf::from(SYSFS_CLASS_UIO),
            uio_dev: PathBuf::from("/dev"),
            vendor: None,
            product: None,
            serial: None,
            write_cache: None,
            node: None,
            iscsi: None,
            lock_dir: PathBuf::from(DEVICE_LOCK_DIR),
        }
    }

    /// Where the device's lock file goes (default [`DEVICE_LOCK_DIR`]; tests use their own).
    /// `tcmu cleanup` must look in the same place.
    pub fn lock_dir(mut self, dir: &Path) -> Self {
        self.lock_dir = dir.to_path_buf();
        self
    }

    /// Also exports the device through LIO's iSCSI fabric (module `iscsi_target_mod`).
    pub fn iscsi(mut self, export: IscsiExport) -> Self {
        self.iscsi = Some(export);
        self
    }

    /// The T10 vendor identification INQUIRY reports (default `TCMU-RS`; 1 to 8 characters).
    pub fn vendor(mut self, vendor: &str) -> Self {
        self.vendor = Some(vendor.to_string());
        self
    }

    /// The product identification (default `Rust TCMU disk`; 1 to 16 characters).
    pub fn product(mut self, product: &str) -> Self {
        self.product = Some(product.to_string());
        self
    }

    /// The unit serial number, VPD page 80h (default: derived from the name; up to 64
    /// characters).
    pub fn serial(mut self, serial: &str) -> Self {
        self.serial = Some(serial.to_string());
        self
    }

    /// Whether the disk reports a volatile write cache (WCE in the Caching mode page), so the
    /// kernel sends SYNCHRONIZE CACHE; default: what the [`BlockDevice`] says.
    pub fn write_cache(mut self, on: bool) -> Self {
        self.write_cache = Some(on);
        self
    }

    /// Also makes a block device node for the disk at `path` (as go-tcmu's `DevPath` does),
    /// removed again on close. An existing file at `path` is an error, never replaced.
    pub fn node(mut self, path: &Path) -> Self {
        self.node = Some(path.to_path_buf());
        self
    }

    /// The identity INQUIRY reports: [`Identity::for_name`] with the vendor, product and serial
    /// given to the builder.
    pub fn identity(&self) -> Result<Identity, DeviceError> {
        let mut id = Identity::for_name(&self.name);
        for (what, value, max, field) in [
            ("vendor", &self.vendor, 8, &mut id.vendor),
            ("product", &self.product, 16, &mut id.product),
            ("serial", &self.serial, 64, &mut id.serial),
        ] {
            if let Some(v) = value {
                let printable = v.bytes().all(|b| (0x20..0x7f).contains(&b));
                if v.is_empty() || v.len() > max || !printable {
                    return Err(DeviceError::BadIdentity {
                        what,
                        value: v.clone(),
                        max,
                    });
                }
                *field = v.clone();
            }
        }
        Ok(id)
    }

    /// `core/user_HBA` (default 1).
    pub fn hba(mut self, hba: u32) -> Self {
        self.hba = hba;
        self
    }

    /// The loopback LUN (default 0).
    pub fn lun(mut self, lun: u32) -> Self {
        self.lun = lun;
        self
    }

    /// The loopback target's WWN (default: derived from the name).
    pub fn wwn(mut self, wwn: &str) -> Self {
        self.wwn = Some(wwn.to_string());
        self
    }

    /// Worker threads (default 4).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// The kernel's data area for this device, in MiB (default: the kernel's, 1024 on 6.1).
    pub fn max_data_area_mb(mut self, mb: u32) -> Self {
        self.max_data_area_mb = Some(mb);
        self
    }

    /// How long the kernel waits for a command before failing it (default 30 s; 0: forever).
    /// A command still queued here that long after it was taken off the ring (less a
    /// margin, see [`crate::server::late_after`]) is answered ABORTED COMMAND without running:
    /// the kernel has failed it already, and running it late could overwrite newer data.
    pub fn cmd_time_out(mut self, seconds: u32) -> Self {
        self.cmd_time_out = seconds;
        self
    }

    /// How long to wait for the kernel to make the disk (default 30 s).
    pub fn disk_timeout(mut self, t: Duration) -> Self {
        self.disk_timeout = t;
        self
    }

    /// Another configfs / sysfs / UIO location (tests).
    pub fn roots(mut self, configfs: ConfigFs, uio_class: &Path, uio_dev: &Path) -> Self {
        self.configfs = Some(configfs);
        self.uio_class = uio_class.to_path_buf();
        self.uio_dev = uio_dev.to_path_buf();
        self
    }

    fn config_string(&self) -> String {
        format!("{CONFIG_PREFIX}{}", self.name)
    }

    fn wwn_or_default(&self) -> String {
        self.wwn.clone().unwrap_or_else(|| {
            lio_config::naa_wwn(u64::from(self.hba) << 24 ^ Identity::for_name(&self.name).naa_id)
        })
    }

    /// Serves a block device with the built-in emulation.
    pub fn serve_block<B: BlockDevice + 'static>(self, dev: B) -> Result<Device, DeviceError> {
        let size = dev.num_blocks().saturating_mul(u64::from(dev.block_size()));
        let bs = dev.block_size();
        let mut emu = Emulator::new(dev, self.identity()?);
        if let Some(on) = self.write_cache {
            emu = emu.with_write_cache(on);
        }
        self.serve(Arc::new(emu), size, bs)
    }

    /// Serves `handler` as a disk of `size` bytes in `block_size` blocks (a power of two from
    /// 512 to 65536; `size` a positive multiple of it), through the kernel's UIO device.
    pub fn serve<H: Handler + 'static>(
        self,
        handler: Arc<H>,
        size: u64,
        block_size: u32,
    ) -> Result<Device, DeviceError> {
        let dev_dir = self.uio_dev.clone();
        let mut device = self.serve_with(handler, size, block_size, {
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
    pub fn serve_with<H, D, F>(
        self,
        handler: Arc<H>,
        size: u64,
        block_size: u32,
        open: F,
    ) -> Result<Device, DeviceError>
    where
        H: Handler + 'static,
        D: Doorbell + 'static,
        F: FnOnce(&UioInfo) -> Result<(Ring, Arc<D>), DeviceError>,
    {
        if !crate::backend::is_valid_block_size(block_size) {
            return Err(DeviceError::BadBlockSize { block_size });
        }
        if size == 0 || size % u64::from(block_size) != 0 {
            return Err(DeviceError::BadSize { size, block_size });
        }
        let cfs = match &self.configfs {
            Some(c) => c.clone(),
            None => ConfigFs::system()?,
        };
        // Held until the teardown has removed the backstore.
        let lock = DeviceLock::try_lock(&self.lock_dir, self.hba, &self.name)?;
        let mut spec = UserBackstoreSpec::new(self.hba, &self.name, size, &self.config_string());
        spec.block_size = block_size;
        spec.max_data_area_mb = self.max_data_area_mb;
        let spec = spec.attribute("cmd_time_out", self.cmd_time_out);
        let mut device = Device {
            lock: Some(lock),
            server: None,
            uio: None,
            uio_dev: None,
            loopback: None,
            store: None,
            disk: None,
            node: None,
            iscsi: None,
        };
        device.store = Some(cfs.create_user_backstore(&spec)?);

        // The ring is served before the LUN is linked: the kernel sends INQUIRY at once.
        let info = UioInfo::find_tcmu(&self.uio_class, self.hba, &self.name)?;
        let (ring, doorbell) = open(&info)?;
        device.uio = Some(info);
        let options = ServeOptions::new(self.threads)
            .cmd_time_out(Duration::from_secs(u64::from(self.cmd_time_out)));
        device.server = Some(Server::spawn_with(ring, doorbell, handler, options));

        let lo = cfs.create_loopback(&self.wwn_or_default())?;
        device.loopback = Some(lo.clone());
        if let Some(store) = &device.store {
            lo.add_lun(self.lun, store)?;
        }
        let disk = lo.wait_for_disk(self.lun, self.disk_timeout)?;
        // Kernels without large block support make a disk of blocks over 4096 bytes, but an
        // empty one ("Unsupported sector size"): say so rather than serve nothing.
        if block_size > 4096 && disk_sectors(&disk, cfs.sysfs()) == Some(0) {
            return Err(DeviceError::BlockSizeUnsupported { block_size });
        }
        if let Some(path) = &self.node {
            make_node(path, &disk, cfs.sysfs()).map_err(|source| DeviceError::Node {
                path: path.clone(),
                source,
            })?;
            device.node = Some(path.clone());
        }
        device.disk = Some(disk);
        if let (Some(export), Some(store)) = (&self.iscsi, &device.store) {
            let t = cfs.create_iscsi(&export.iqn, &export.portal)?;
            device.iscsi = Some(t.clone());
            t.add_lun(0, store)?;
            t.set_access(&export.access)?;
            t.enable()?;
        }
        Ok(device)
    }
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
    loopback: Option<LoopbackTarget>,
    store: Option<UserBackstore>,
    disk: Option<PathBuf>,
    node: Option<PathBuf>,
    iscsi: Option<IscsiTarget>,
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
    let name = disk
        .file_name()
        .ok_or_else(|| std::io::Error::other("the disk has no name"))?;
    let dev = std::fs::read_to_string(sysfs.join("class/block").join(name).join("dev"))?;
    let (major, minor) = dev
        .trim()
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .ok_or_else(|| std::io::Error::other(format!("unreadable device numbers {dev:?}")))?;
    // mknod fails with EEXIST rather than replacing whatever is there.
    mknod(
        path,
        SFlag::S_IFBLK,
        Mode::from_bits_truncate(0o660),
        makedev(major, minor),
    )
    .map_err(std::io::Error::from)
}

impl Device {
    /// The block device node, e.g. `/dev/sdb`.
    pub fn disk(&self) -> Option<&Path> {
        self.disk.as_deref()
    }

    /// The extra device node made by [`DeviceBuilder::node`], if any.
    pub fn node(&self) -> Option<&Path> {
        self.node.as_deref()
    }

    /// The iSCSI target's configfs folder, when exported through iSCSI.
    pub fn iscsi_target(&self) -> Option<&Path> {
        self.iscsi.as_ref().map(|t| t.path())
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
        if let Some(path) = self.node.take()
            && let Err(source) = std::fs::remove_file(&path)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            failed(DeviceError::Node { path, source });
        }
        if let Some(t) = self.iscsi.take()
            && let Err(e) = t.remove()
        {
            failed(e.into());
        }
        if let Some(lo) = self.loopback.take()
            && let Err(e) = lo.remove()
        {
            failed(e.into());
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
        self.disk = None;
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
