//! Typed operations on LIO's configfs tree (`/sys/kernel/config/target`): TCMU user
//! backstores, tcm_loop loopback targets and iSCSI targets, finding the disk and UIO device
//! they make, listing them, and tearing them down in reverse order, idempotently.
//!
//! The configfs root and the sysfs root are parameters ([`ConfigFs::at`]), so everything here
//! runs against a temporary folder in tests as well as against the kernel. The kernel creates
//! a configfs object's attribute files when its folder is made; this crate only makes and
//! removes folders and symlinks and writes attributes, one value per `write`, as `echo -n`
//! would. Nothing existing is ever overwritten: creating an object whose folder exists is
//! [`Error::AlreadyExists`].
//!
//! ```no_run
//! use lio_config::{ConfigFs, UserBackstoreSpec};
//! # fn main() -> Result<(), lio_config::Error> {
//! let cfs = ConfigFs::system()?; // checks root, configfs and the modules, naming the fix
//! let store = cfs.create_user_backstore(&UserBackstoreSpec::new(1, "disk0", 1 << 30, "tcmu-rs/img"))?;
//! let lo = cfs.create_loopback(&lio_config::naa_wwn(0x1234))?;
//! lo.add_lun(0, &store)?; // the kernel scans at once: serve the ring before this
//! let dev = lo.wait_for_disk(0, std::time::Duration::from_secs(10))?;
//! println!("{}", dev.display());
//! lo.remove()?;
//! store.remove()?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

/// The README's example, compiled as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where configfs puts LIO.
pub const CONFIGFS_TARGET: &str = "/sys/kernel/config/target";
/// The prefix of the `dev_config` of every backstore this project creates: how `cleanup`
/// tells ours from someone else's.
pub const CONFIG_PREFIX: &str = "tcmu-rs/";

/// What went wrong, in words that say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not running as root.
    #[error("configuring LIO needs root (run with sudo)")]
    NotRoot,
    /// configfs is not mounted.
    #[error(
        "configfs is not mounted at /sys/kernel/config: run `mount -t configfs none /sys/kernel/config`"
    )]
    NotMounted,
    /// A kernel module is missing.
    #[error("the kernel module {module} is not loaded: run `modprobe {module}`")]
    ModuleNotLoaded {
        /// The module's name.
        module: &'static str,
    },
    /// The object exists already; it is left as it is.
    #[error(
        "{0} already exists; remove it first (`tcmu cleanup` removes this project's leftovers)"
    )]
    AlreadyExists(PathBuf),
    /// A name the kernel would reject or that would escape its folder.
    #[error("invalid name {0:?}: use letters, digits, '.', '-', '_' and ':'")]
    InvalidName(String),
    /// Waiting for the kernel ran out of time.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("mkdir", "write", ...).
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a name this crate puts in a configfs path (a backstore, a WWN, an IQN...): 1 to 64
/// of letters, digits, `.`, `-`, `_` and `:`, and not `.` or `..`; else
/// [`Error::InvalidName`]. Such a name is safe in any file name.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_string()))
    }
}

/// Writes one attribute value in one `write`, appending (configfs ignores the position; a
/// plain folder in tests then keeps every value written, in order).
fn write_attr(path: &Path, value: &str) -> Result<()> {
    // A plain folder standing for configfs lacks the groups the kernel makes with each object
    // (`attrib/`, `action/`...); on configfs they always exist and nothing is created.
    if !is_configfs(path)
        && let Some(parent) = path.parent()
    {
        fs::create_dir_all(parent).map_err(io("mkdir", parent))?;
    }
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("open", path))?;
    f.write_all(value.as_bytes()).map_err(io("write", path))
}

fn read_attr(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map_err(io("read", path))
        .map(|s| s.trim_end().to_string())
}

fn mkdir_new(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists(path.to_path_buf()))
        }
        Err(e) => Err(Error::Io {
            op: "mkdir",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn mkdir_exist_ok(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Io {
            op: "mkdir",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Linux's ENODEV (no `ErrorKind` of its own).
const ENODEV: i32 = 19;

/// Makes a folder whose creation the kernel refuses when `module` is not loaded (`core/user_N`,
/// `core/fileio_N`, a fabric's folder); existing is fine.
fn mkdir_needing(dir: &Path, module: &'static str) -> Result<()> {
    mkdir_exist_ok(dir).map_err(|e| match e {
        // configfs answers ENOENT (or EINVAL / ENODEV) for a group whose module is missing;
        // anything else (EACCES, ...) is reported as it is.
        Error::Io { ref source, .. }
            if is_configfs(dir)
                && (matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput
                ) || source.raw_os_error() == Some(ENODEV)) =>
        {
            Error::ModuleNotLoaded { module }
        }
        e => e,
    })
}

/// Removes a configfs folder; absent is fine (idempotent teardown).
fn rmdir_gone_ok(path: &Path) -> Result<()> {
    match fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // In a plain folder (tests) attribute files stand where configfs has virtual ones.
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && !is_configfs(path) => {
            fs::remove_dir_all(path).map_err(io("rmdir", path))
        }
        Err(e) => Err(Error::Io {
            op: "rmdir",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn is_configfs(path: &Path) -> bool {
    path.starts_with("/sys/kernel/config")
}

fn subdirs(path: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io {
                op: "list",
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("list", path))?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && let Some(name) = entry.file_name().to_str() {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// An NAA WWN in LIO's style, `naa.5001405` followed by nine hex digits of `id`: the form
/// tcm_loop and targetcli use (IEEE company id 00-14-05).
pub fn naa_wwn(id: u64) -> String {
    format!("naa.5001405{:09x}", id & 0xf_ffff_ffff)
}

/// The configfs tree of LIO, at a root that may be the kernel's or a test folder.
#[derive(Debug, Clone)]
pub struct ConfigFs {
    root: PathBuf,
    sysfs: PathBuf,
}

impl ConfigFs {
    /// The kernel's tree, after checking what a person would otherwise trip over: root,
    /// configfs mounted, target_core_user and tcm_loop loaded.
    pub fn system() -> Result<ConfigFs> {
        let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
        if uid != 0 {
            return Err(Error::NotRoot);
        }
        let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
        if !mounts
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some("configfs"))
        {
            return Err(Error::NotMounted);
        }
        for module in ["target_core_mod", "target_core_user", "tcm_loop"] {
            if !Path::new("/sys/module").join(module).exists() {
                return Err(Error::ModuleNotLoaded { module });
            }
        }
        Ok(ConfigFs::at(CONFIGFS_TARGET, "/sys"))
    }

    /// A tree at `root` (standing for `/sys/kernel/config/target`) with sysfs at `sysfs`.
    pub fn at(root: impl Into<PathBuf>, sysfs: impl Into<PathBuf>) -> ConfigFs {
        ConfigFs {
            root: root.into(),
            sysfs: sysfs.into(),
        }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sysfs root.
    pub fn sysfs(&self) -> &Path {
        &self.sysfs
    }

    /// A handle on `core/user_HBA/NAME`, whether or not it exists.
    pub fn user_backstore(&self, hba: u32, name: &str) -> UserBackstore {
        UserBackstore {
            path: self
                .root
                .join("core")
                .join(format!("user_{hba}"))
                .join(name),
            hba,
            name: name.to_string(),
        }
    }

    /// Creates and enables a TCMU backstore: `mkdir`, the `control` tokens (size, config, block
    /// size, data area, `nl_reply_supported=-1` so `enable` never waits for a netlink daemon),
    /// `enable`, then the attributes. On any failure what was made is removed again.
    pub fn create_user_backstore(&self, spec: &UserBackstoreSpec) -> Result<UserBackstore> {
        check_name(&spec.name)?;
        let store = self.user_backstore(spec.hba, &spec.name);
        let core = self.root.join("core");
        if !core.is_dir() {
            return Err(Error::ModuleNotLoaded {
                module: "target_core_mod",
            });
        }
        let hba_dir = store
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        mkdir_needing(&hba_dir, "target_core_user")?;
        mkdir_new(&store.path)?;
        let made = || -> Result<()> {
            let control = store.path.join("control");
            write_attr(&control, &format!("dev_size={}", spec.size))?;
            write_attr(&control, &format!("dev_config={}", spec.config))?;
            write_attr(&control, &format!("hw_block_size={}", spec.block_size))?;
            if let Some(mb) = spec.max_data_area_mb {
                write_attr(&control, &format!("max_data_area_mb={mb}"))?;
            }
            write_attr(&control, "nl_reply_supported=-1")?;
            write_attr(&store.path.join("enable"), "1")?;
            for (name, value) in &spec.attributes {
                store.set_attribute(name, value)?;
            }
            Ok(())
        };
        if let Err(e) = made() {
            let _ = store.remove();
            return Err(e);
        }
        Ok(store)
    }

    /// Creates and enables a kernel `fileio` backstore `core/fileio_HBA/NAME` serving `file`
    /// (which must exist) as a disk of `size` bytes. On failure what was made is removed.
    pub fn create_fileio_backstore(
        &self,
        hba: u32,
        name: &str,
        file: &Path,
        size: u64,
    ) -> Result<FileioBackstore> {
        check_name(name)?;
        let file_str = file
            .to_str()
            .filter(|f| f.starts_with('/') && !f.contains(','))
            .ok_or_else(|| Error::InvalidName(file.display().to_string()))?;
        let hba_dir = self.root.join("core").join(format!("fileio_{hba}"));
        let store = FileioBackstore {
            path: hba_dir.join(name),
            name: name.to_string(),
        };
        mkdir_needing(&hba_dir, "target_core_file")?;
        mkdir_new(&store.path)?;
        let made = || -> Result<()> {
            let control = store.path.join("control");
            write_attr(&control, &format!("fd_dev_name={file_str}"))?;
            write_attr(&control, &format!("fd_dev_size={size}"))?;
            write_attr(&store.path.join("enable"), "1")
        };
        if let Err(e) = made() {
            let _ = store.remove();
            return Err(e);
        }
        Ok(store)
    }

    /// A handle on `loopback/WWN`, whether or not it exists.
    pub fn loopback(&self, wwn: &str) -> LoopbackTarget {
        LoopbackTarget {
            path: self.root.join("loopback").join(wwn),
            sysfs: self.sysfs.clone(),
        }
    }

    /// Creates `loopback/WWN/tpgt_1` with an I_T nexus (initiator WWN derived from `wwn`).
    pub fn create_loopback(&self, wwn: &str) -> Result<LoopbackTarget> {
        check_name(wwn)?;
        let lo = self.loopback(wwn);
        let fabric = self.root.join("loopback");
        mkdir_needing(&fabric, "tcm_loop")?;
        mkdir_new(&lo.path)?;
        let made = || -> Result<()> {
            mkdir_exist_ok(&lo.tpg())?;
            write_attr(&lo.tpg().join("nexus"), &nexus_wwn(wwn))?;
            Ok(())
        };
        if let Err(e) = made() {
            let _ = lo.remove();
            return Err(e);
        }
        Ok(lo)
    }

    /// A handle on `iscsi/IQN`, whether or not it exists.
    pub fn iscsi(&self, iqn: &str) -> IscsiTarget {
        IscsiTarget {
            path: self.root.join("iscsi").join(iqn),
        }
    }

    /// Creates an iSCSI target `iscsi/IQN/tpgt_1` with a portal. Enable it with
    /// [`IscsiTarget::enable`] once its LUNs and access are set.
    pub fn create_iscsi(&self, iqn: &str, portal: &str) -> Result<IscsiTarget> {
        check_name(iqn)?;
        let t = self.iscsi(iqn);
        let fabric = self.root.join("iscsi");
        mkdir_needing(&fabric, "iscsi_target_mod")?;
        mkdir_new(&t.path)?;
        let made = || -> Result<()> {
            mkdir_exist_ok(&t.tpg())?;
            mkdir_exist_ok(&t.tpg().join("np"))?;
            mkdir_new(&t.tpg().join("np").join(portal))?;
            Ok(())
        };
        if let Err(e) = made() {
            let _ = t.remove();
            return Err(e);
        }
        Ok(t)
    }

    /// Every user backstore, loopback and iSCSI target in the tree.
    pub fn list(&self) -> Result<Inventory> {
        let mut inv = Inventory::default();
        for hba in subdirs(&self.root.join("core"))? {
            let Some(n) = hba.strip_prefix("user_").and_then(|n| n.parse().ok()) else {
                continue;
            };
            for name in subdirs(&self.root.join("core").join(&hba))? {
                inv.user_backstores.push(self.user_backstore(n, &name));
            }
        }
        // `discovery_auth` is the fabric's own group, not a target.
        let is_target = |name: &String| name != "discovery_auth";
        for wwn in subdirs(&self.root.join("loopback"))?
            .into_iter()
            .filter(is_target)
        {
            inv.loopback.push(self.loopback(&wwn));
        }
        for iqn in subdirs(&self.root.join("iscsi"))?
            .into_iter()
            .filter(is_target)
        {
            inv.iscsi.push(self.iscsi(&iqn));
        }
        Ok(inv)
    }

    /// Removes what this project left behind (a crashed run included): every target with a
    /// LUN linked to one of our backstores (those whose `dev_config` starts with
    /// [`CONFIG_PREFIX`]), then those backstores. Returns what was removed.
    pub fn cleanup(&self) -> Result<Vec<PathBuf>> {
        self.cleanup_only(|_| true)
    }

    /// [`ConfigFs::cleanup`] of those of our backstores `pick` chooses (and their targets).
    pub fn cleanup_only(&self, pick: impl Fn(&UserBackstore) -> bool) -> Result<Vec<PathBuf>> {
        let inv = self.list()?;
        let ours: Vec<&UserBackstore> = inv
            .user_backstores
            .iter()
            .filter(|b| b.is_ours() && pick(b))
            .collect();
        let mut removed = Vec::new();
        let is_ours = |t: &PathBuf| ours.iter().any(|b| b.path == *t);
        // A target whose LUNs all lead to our backstores goes whole; one that also exports
        // someone else's backstore keeps those and loses only our LUNs.
        enum Target<'a> {
            Loop(&'a LoopbackTarget),
            Iscsi(&'a IscsiTarget),
        }
        let targets =
            (inv.loopback.iter().map(Target::Loop)).chain(inv.iscsi.iter().map(Target::Iscsi));
        for target in targets {
            let (path, tpg) = match target {
                Target::Loop(lo) => (lo.path.clone(), lo.tpg()),
                Target::Iscsi(t) => (t.path.clone(), t.tpg()),
            };
            let luns = lun_links(&tpg)?;
            let mine: Vec<&(String, PathBuf)> = luns.iter().filter(|(_, t)| is_ours(t)).collect();
            if mine.is_empty() {
                continue;
            }
            if mine.len() == luns.len() {
                match target {
                    Target::Loop(lo) => lo.remove()?,
                    Target::Iscsi(t) => t.remove()?,
                }
                removed.push(path);
            } else {
                for (lun, _) in mine {
                    unlink_lun(&tpg, lun)?;
                    removed.push(tpg.join("lun").join(lun));
                }
            }
        }
        for b in ours {
            b.remove()?;
            removed.push(b.path.clone());
        }
        Ok(removed)
    }
}

/// The initiator-side WWN of a loopback nexus: the target's with its last digit changed.
fn nexus_wwn(wwn: &str) -> String {
    let mut s = wwn.to_string();
    if let Some(last) = s.pop() {
        s.push(if last == 'f' { 'e' } else { 'f' });
    }
    s
}

/// What [`ConfigFs::list`] found.
#[derive(Debug, Default)]
pub struct Inventory {
    /// `core/user_N/NAME`.
    pub user_backstores: Vec<UserBackstore>,
    /// `loopback/WWN`.
    pub loopback: Vec<LoopbackTarget>,
    /// `iscsi/IQN`.
    pub iscsi: Vec<IscsiTarget>,
}

/// What a TCMU backstore is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBackstoreSpec {
    /// N of `user_N`.
    pub hba: u32,
    /// The backstore's name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// `dev_config`: what the UIO device's name ends with. Start it with [`CONFIG_PREFIX`].
    pub config: String,
    /// `hw_block_size`.
    pub block_size: u32,
    /// `max_data_area_mb` (the kernel's default is 1024 for 6.1).
    pub max_data_area_mb: Option<u32>,
    /// `attrib/NAME` values written after enable, in order (e.g. `cmd_time_out`,
    /// `qfull_time_out`, `emulate_write_cache`, `emulate_tpu`, `emulate_tpws`,
    /// `max_unmap_lba_count`).
    pub attributes: Vec<(String, String)>,
}

impl UserBackstoreSpec {
    /// A spec with 512-byte blocks, the kernel's data area default and no attributes.
    pub fn new(hba: u32, name: &str, size: u64, config: &str) -> Self {
        UserBackstoreSpec {
            hba,
            name: name.to_string(),
            size,
            config: config.to_string(),
            block_size: 512,
            max_data_area_mb: None,
            attributes: Vec::new(),
        }
    }

    /// Sets an attribute to write after enable.
    pub fn attribute(mut self, name: &str, value: impl ToString) -> Self {
        self.attributes.push((name.to_string(), value.to_string()));
        self
    }
}

/// A backstore a target's LUN can link to.
pub trait StorageObject {
    /// Its configfs folder (`core/KIND_N/NAME`).
    fn path(&self) -> &Path;
    /// Its name.
    fn name(&self) -> &str;
}

impl StorageObject for UserBackstore {
    fn path(&self) -> &Path {
        &self.path
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// A kernel `fileio` backstore, `core/fileio_HBA/NAME`: LIO serving a file itself (the
/// reference the conformance run compares TCMU devices with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileioBackstore {
    path: PathBuf,
    name: String,
}

impl StorageObject for FileioBackstore {
    fn path(&self) -> &Path {
        &self.path
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl FileioBackstore {
    /// Writes `attrib/NAME`.
    pub fn set_attribute(&self, name: &str, value: &str) -> Result<()> {
        check_name(name)?;
        write_attr(&self.path.join("attrib").join(name), value)
    }

    /// Removes it (after every LUN linking to it is gone), and its `fileio_N` folder if that
    /// is now empty; absent is fine.
    pub fn remove(&self) -> Result<()> {
        remove_backstore(&self.path)
    }
}

/// Removes a backstore's folder and its HBA folder (`user_N`, `fileio_N`) if that is now empty.
fn remove_backstore(path: &Path) -> Result<()> {
    rmdir_gone_ok(path)?;
    if let Some(hba) = path.parent()
        && subdirs(hba)?.is_empty()
    {
        // Another process may add a backstore meanwhile; then the HBA stays, which is right.
        let _ = fs::remove_dir(hba);
    }
    Ok(())
}

/// A TCMU backstore, `core/user_HBA/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBackstore {
    path: PathBuf,
    hba: u32,
    name: String,
}

impl UserBackstore {
    /// Its configfs folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// N of `user_N`.
    pub fn hba(&self) -> u32 {
        self.hba
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it exists.
    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    /// Writes `attrib/NAME`.
    pub fn set_attribute(&self, name: &str, value: &str) -> Result<()> {
        check_name(name)?;
        write_attr(&self.path.join("attrib").join(name), value)
    }

    /// Reads `attrib/NAME`.
    pub fn attribute(&self, name: &str) -> Result<String> {
        check_name(name)?;
        read_attr(&self.path.join("attrib").join(name))
    }

    /// Writes `action/NAME` (`block_dev`, `reset_ring`, ...).
    pub fn action(&self, name: &str, value: &str) -> Result<()> {
        check_name(name)?;
        write_attr(&self.path.join("action").join(name), value)
    }

    /// The `dev_config` the kernel reports in `info` ("... Config: X ...").
    pub fn config(&self) -> Option<String> {
        let info = fs::read_to_string(self.path.join("info")).ok()?;
        let at = info.find("Config: ")? + "Config: ".len();
        Some(
            info[at..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string(),
        )
    }

    /// Whether this project made it (its config starts with [`CONFIG_PREFIX`]).
    pub fn is_ours(&self) -> bool {
        self.config().is_some_and(|c| c.starts_with(CONFIG_PREFIX))
    }

    /// Removes it (after every LUN linking to it is gone), and its `user_N` folder if that is
    /// now empty; absent is fine.
    pub fn remove(&self) -> Result<()> {
        remove_backstore(&self.path)
    }
}

fn lun_dir(tpg: &Path, lun: u32) -> PathBuf {
    tpg.join("lun").join(format!("lun_{lun}"))
}

/// Adds LUN `lun` of `tpg` pointing at `store`: `mkdir lun/lun_N` and the symlink.
fn link_lun(tpg: &Path, lun: u32, store: &impl StorageObject) -> Result<()> {
    mkdir_exist_ok(&tpg.join("lun"))?;
    let dir = lun_dir(tpg, lun);
    mkdir_new(&dir)?;
    let link = dir.join(store.name());
    if let Err(e) = std::os::unix::fs::symlink(store.path(), &link) {
        let _ = rmdir_gone_ok(&dir);
        return Err(Error::Io {
            op: "symlink",
            path: link,
            source: e,
        });
    }
    Ok(())
}

/// Unlinks and removes every LUN of `tpg`; absent is fine.
fn unlink_luns(tpg: &Path) -> Result<()> {
    for lun in subdirs(&tpg.join("lun"))? {
        unlink_lun(tpg, &lun)?;
    }
    remove_default_group(&tpg.join("lun"))
}

/// `lun/`, `np/`, `acls/` are groups the kernel makes with their parent and removes with it;
/// only a plain folder standing for configfs needs them removed by hand.
fn remove_default_group(path: &Path) -> Result<()> {
    if is_configfs(path) {
        Ok(())
    } else {
        rmdir_gone_ok(path)
    }
}

/// The backstores the LUNs of `tpg` link to.
fn lun_link_targets(tpg: &Path) -> Result<Vec<PathBuf>> {
    Ok(lun_links(tpg)?.into_iter().map(|(_, t)| t).collect())
}

/// Each LUN of `tpg` (`lun_N`) with the backstore it links to.
fn lun_links(tpg: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for lun in subdirs(&tpg.join("lun"))? {
        let dir = tpg.join("lun").join(&lun);
        for entry in fs::read_dir(&dir).map_err(io("list", &dir))?.flatten() {
            // configfs reads its links back as relative paths (`../../../../core/...`).
            if let Ok(t) = fs::read_link(entry.path()) {
                out.push((lun.clone(), normalize(&dir.join(t))));
            }
        }
    }
    Ok(out)
}

/// Removes LUN `lun` (`lun_N`) of `tpg` alone: the ACL mappings that lead to it, its link to
/// the backstore, its folder.
fn unlink_lun(tpg: &Path, lun: &str) -> Result<()> {
    let lun_dir = tpg.join("lun").join(lun);
    for acl in subdirs(&tpg.join("acls"))? {
        let acl_dir = tpg.join("acls").join(&acl);
        for mapped in subdirs(&acl_dir)? {
            let m = acl_dir.join(&mapped);
            let leads_here = fs::read_link(m.join("lun"))
                .map(|t| normalize(&m.join(t)) == lun_dir)
                .unwrap_or(false);
            if leads_here {
                let _ = fs::remove_file(m.join("lun"));
                rmdir_gone_ok(&m)?;
            }
        }
    }
    for entry in fs::read_dir(&lun_dir)
        .map_err(io("list", &lun_dir))?
        .flatten()
    {
        if entry.file_type().map(|t| t.is_symlink()).unwrap_or(false) {
            let p = entry.path();
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Io {
                        op: "unlink",
                        path: p,
                        source: e,
                    });
                }
            }
        }
    }
    rmdir_gone_ok(&lun_dir)
}

/// `path` with `.` and `..` resolved lexically (configfs has no symlinked folders to make that
/// wrong).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A tcm_loop target, `loopback/WWN`, with its one TPG `tpgt_1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackTarget {
    path: PathBuf,
    sysfs: PathBuf,
}

impl LoopbackTarget {
    fn tpg(&self) -> PathBuf {
        self.path.join("tpgt_1")
    }

    /// Its configfs folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Exports `store` as LUN `lun`. The kernel scans the new LUN at once (INQUIRY, READ
    /// CAPACITY...): the backstore's ring must already be served.
    pub fn add_lun(&self, lun: u32, store: &impl StorageObject) -> Result<()> {
        link_lun(&self.tpg(), lun, store)
    }

    /// The backstores its LUNs link to.
    pub fn lun_targets(&self) -> Result<Vec<PathBuf>> {
        lun_link_targets(&self.tpg())
    }

    /// The SCSI address `H:C:T` tcm_loop reports for the nexus (`tpgt_1/address`).
    pub fn address(&self) -> Result<String> {
        read_attr(&self.tpg().join("address"))
    }

    /// The `/dev` node of LUN `lun`'s disk, once the kernel made it, or `None` yet.
    pub fn disk(&self, lun: u32) -> Result<Option<PathBuf>> {
        let address = self.address()?;
        let block = self
            .sysfs
            .join("bus/scsi/devices")
            .join(format!("{address}:{lun}"))
            .join("block");
        Ok(subdirs(&block)?
            .into_iter()
            .next()
            .map(|name| Path::new("/dev").join(name)))
    }

    /// Waits, polling every 50 ms up to `timeout`, for LUN `lun`'s disk.
    pub fn wait_for_disk(&self, lun: u32, timeout: Duration) -> Result<PathBuf> {
        let start = Instant::now();
        loop {
            // The address file appears with the nexus; until then keep waiting.
            if let Ok(Some(dev)) = self.disk(lun) {
                return Ok(dev);
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("the disk of {} LUN {lun}", self.path.display()),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Tears it down in reverse order (LUN links, LUNs, nexus, TPG, target); absent is fine.
    pub fn remove(&self) -> Result<()> {
        let tpg = self.tpg();
        unlink_luns(&tpg)?;
        if tpg.join("nexus").exists() && is_configfs(&tpg) {
            // Dropping the nexus first lets the kernel remove the SCSI host cleanly.
            let _ = write_attr(&tpg.join("nexus"), "");
        }
        rmdir_gone_ok(&tpg)?;
        rmdir_gone_ok(&self.path)
    }
}

/// Who may log in to an iSCSI target. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub enum IscsiAccess {
    /// Any initiator, no authentication (demo mode, writable).
    Open,
    /// Only this initiator, with CHAP; `mutual` adds the target's own credentials.
    Chap {
        /// The initiator's IQN.
        initiator: String,
        /// CHAP user name.
        user: String,
        /// CHAP secret (12 to 16 characters for most initiators).
        secret: String,
        /// Mutual CHAP user and secret.
        mutual: Option<(String, String)>,
    },
}

impl std::fmt::Debug for IscsiAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IscsiAccess::Open => f.write_str("Open"),
            IscsiAccess::Chap {
                initiator,
                user,
                mutual,
                ..
            } => f
                .debug_struct("Chap")
                .field("initiator", initiator)
                .field("user", user)
                .field("secret", &"<redacted>")
                .field("mutual_user", &mutual.as_ref().map(|(u, _)| u))
                .finish(),
        }
    }
}

/// An LIO iSCSI target, `iscsi/IQN`, with its one TPG `tpgt_1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IscsiTarget {
    path: PathBuf,
}

impl IscsiTarget {
    fn tpg(&self) -> PathBuf {
        self.path.join("tpgt_1")
    }

    /// Its configfs folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Exports `store` as LUN `lun`.
    pub fn add_lun(&self, lun: u32, store: &impl StorageObject) -> Result<()> {
        link_lun(&self.tpg(), lun, store)
    }

    /// The backstores its LUNs link to.
    pub fn lun_targets(&self) -> Result<Vec<PathBuf>> {
        lun_link_targets(&self.tpg())
    }

    /// Sets who may log in.
    pub fn set_access(&self, access: &IscsiAccess) -> Result<()> {
        let attrib = self.tpg().join("attrib");
        match access {
            IscsiAccess::Open => {
                write_attr(&attrib.join("generate_node_acls"), "1")?;
                write_attr(&attrib.join("cache_dynamic_acls"), "1")?;
                write_attr(&attrib.join("demo_mode_write_protect"), "0")?;
                write_attr(&attrib.join("authentication"), "0")
            }
            IscsiAccess::Chap {
                initiator,
                user,
                secret,
                mutual,
            } => {
                check_name(initiator)?;
                write_attr(&attrib.join("generate_node_acls"), "0")?;
                write_attr(&attrib.join("authentication"), "1")?;
                mkdir_exist_ok(&self.tpg().join("acls"))?;
                let acl = self.tpg().join("acls").join(initiator);
                mkdir_exist_ok(&acl)?;
                let auth = acl.join("auth");
                mkdir_exist_ok(&auth)?;
                write_attr(&auth.join("userid"), user)?;
                write_attr(&auth.join("password"), secret)?;
                if let Some((mu, ms)) = mutual {
                    write_attr(&auth.join("userid_mutual"), mu)?;
                    write_attr(&auth.join("password_mutual"), ms)?;
                }
                // Map every LUN into the ACL.
                for lun in subdirs(&self.tpg().join("lun"))? {
                    let mapped = acl.join(&lun);
                    if !mapped.exists() {
                        mkdir_new(&mapped)?;
                        let link = mapped.join("lun");
                        std::os::unix::fs::symlink(self.tpg().join("lun").join(&lun), &link)
                            .map_err(io("symlink", &link))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Enables the TPG: the portal starts accepting logins.
    pub fn enable(&self) -> Result<()> {
        write_attr(&self.tpg().join("enable"), "1")
    }

    /// Tears it down in reverse order (disable, ACLs, LUNs, portals, TPG, target).
    pub fn remove(&self) -> Result<()> {
        let tpg = self.tpg();
        if tpg.join("enable").exists() && is_configfs(&tpg) {
            let _ = write_attr(&tpg.join("enable"), "0");
        }
        for acl in subdirs(&tpg.join("acls"))? {
            let acl_dir = tpg.join("acls").join(&acl);
            for mapped in subdirs(&acl_dir)? {
                if mapped.starts_with("lun_") {
                    let m = acl_dir.join(&mapped);
                    let _ = fs::remove_file(m.join("lun"));
                    rmdir_gone_ok(&m)?;
                }
            }
            if !is_configfs(&acl_dir) {
                let _ = fs::remove_dir_all(acl_dir.join("auth"));
            }
            rmdir_gone_ok(&acl_dir)?;
        }
        remove_default_group(&tpg.join("acls"))?;
        unlink_luns(&tpg)?;
        for np in subdirs(&tpg.join("np"))? {
            rmdir_gone_ok(&tpg.join("np").join(np))?;
        }
        remove_default_group(&tpg.join("np"))?;
        rmdir_gone_ok(&tpg)?;
        rmdir_gone_ok(&self.path)
    }
}
