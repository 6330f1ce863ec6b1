//! The UIO device the kernel creates for each enabled TCMU backstore: finding it in sysfs,
//! mapping its memory, waiting for the kernel's notification and sending ours.
//!
//! The kernel names the device `tcm-user/<hba>/<device>/<dev_config>`; `maps/map0/size` is the
//! length of the mailbox, ring and data area. Waiting is a blocking 4-byte read (the event
//! count); notifying is any 4-byte write. Both are plain `read`/`write` on the file, so a
//! caller may also `poll` [`Uio::as_fd`].

use crate::region::SharedRegion;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The sysfs folder listing UIO devices.
pub const SYSFS_CLASS_UIO: &str = "/sys/class/uio";

/// Errors finding, opening or using a UIO device; each names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum UioError {
    /// A sysfs or device file could not be read or opened.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A sysfs attribute did not hold what the kernel writes there.
    #[error("{path}: unexpected content {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// No UIO device carries the TCMU name asked for.
    #[error("no UIO device for TCMU backstore {0:?} (is the backstore enabled?)")]
    NotFound(String),
    /// The file opened is not a TCMU backstore's UIO device, as the kernel describes it: only
    /// such a device guarantees one opener at a time, which the mapping's safety rests on.
    #[error("{path}: not the UIO device of a TCMU backstore: {reason}")]
    NotTcmuDevice {
        /// The file.
        path: PathBuf,
        /// What the kernel said it is instead.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> UioError + '_ {
    move |source| UioError::Io { path: path.to_path_buf(), source }
}

/// The parts of a TCMU UIO device name, `tcm-user/<hba>/<device>/<dev_config>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcmuName {
    /// The HBA index of `core/user_<hba>`.
    pub hba: u32,
    /// The backstore's name.
    pub device: String,
    /// The `dev_config` string (it may contain `/`; empty when the device has none, and the
    /// kernel's name then ends after the device).
    pub config: String,
}

impl TcmuName {
    /// Parses a UIO name; `None` if it is not a TCMU device's (the HBA in plain decimal
    /// digits, a device name not empty).
    pub fn parse(name: &str) -> Option<TcmuName> {
        let rest = name.strip_prefix("tcm-user/")?;
        let (hba, rest) = rest.split_once('/')?;
        // `u32::from_str` would also take a leading '+'.
        if hba.is_empty() || !hba.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (device, config) = rest.split_once('/').unwrap_or((rest, ""));
        if device.is_empty() {
            return None;
        }
        Some(TcmuName {
            hba: hba.parse().ok()?,
            device: device.to_string(),
            config: config.to_string(),
        })
    }

    /// The handler subtype its config names: the config up to its first `/` (tcmu-runner's
    /// `<subtype>/<config>`), to be compared exactly.
    pub fn subtype(&self) -> &str {
        self.config.split('/').next().unwrap_or("")
    }
}

/// A UIO device as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UioInfo {
    /// N of `uioN`.
    pub index: u32,
    /// The device's name attribute.
    pub name: String,
    /// Length of map 0 in bytes.
    pub map_size: usize,
}

impl UioInfo {
    /// Reads `uioN`'s attributes under `class_dir` (normally [`SYSFS_CLASS_UIO`]).
    pub fn read(class_dir: &Path, index: u32) -> Result<UioInfo, UioError> {
        let dir = class_dir.join(format!("uio{index}"));
        let name_path = dir.join("name");
        let name = std::fs::read_to_string(&name_path).map_err(io_err(&name_path))?;
        let size_path = dir.join("maps/map0/size");
        let size = std::fs::read_to_string(&size_path).map_err(io_err(&size_path))?;
        let map_size = parse_hex(size.trim()).ok_or_else(|| UioError::Parse {
            path: size_path.clone(),
            content: size.trim().to_string(),
        })?;
        Ok(UioInfo { index, name: name.trim_end_matches('\n').to_string(), map_size })
    }

    /// Every UIO device under `class_dir`, in index order.
    pub fn list(class_dir: &Path) -> Result<Vec<UioInfo>, UioError> {
        let entries = match std::fs::read_dir(class_dir) {
            Ok(e) => e,
            // No UIO device at all: the class folder may not exist yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(UioError::Io { path: class_dir.to_path_buf(), source: e });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(class_dir))?;
            let file_name = entry.file_name();
            let Some(index) =
                file_name.to_str().and_then(|n| n.strip_prefix("uio")).and_then(|n| n.parse().ok())
            else {
                continue;
            };
            out.push(UioInfo::read(class_dir, index)?);
        }
        out.sort_by_key(|i| i.index);
        Ok(out)
    }

    /// The TCMU device whose name has this HBA and backstore name.
    pub fn find_tcmu(class_dir: &Path, hba: u32, device: &str) -> Result<UioInfo, UioError> {
        // Only the names are read first: other UIO devices (uio_pci_generic has no maps, for
        // one) need not be readable as TCMU devices are.
        let entries = match std::fs::read_dir(class_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(UioError::NotFound(format!("user_{hba}/{device}")));
            }
            Err(e) => return Err(io_err(class_dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(class_dir))?;
            let Some(index) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("uio"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let name = std::fs::read_to_string(entry.path().join("name")).unwrap_or_default();
            if TcmuName::parse(name.trim()).is_some_and(|n| n.hba == hba && n.device == device) {
                return UioInfo::read(class_dir, index);
            }
        }
        Err(UioError::NotFound(format!("user_{hba}/{device}")))
    }

    /// The parsed TCMU name, if this is a TCMU device.
    pub fn tcmu_name(&self) -> Option<TcmuName> {
        TcmuName::parse(&self.name)
    }
}

fn parse_hex(s: &str) -> Option<usize> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    usize::from_str_radix(digits, 16).ok()
}

/// Where the kernel describes character devices by number (`/sys/dev/char/MAJOR:MINOR`).
const SYSFS_DEV_CHAR: &str = "/sys/dev/char";
/// Where the kernel puts the UIO devices of TCMU backstores: under its `tcm_user` root device.
const SYSFS_TCMU_ROOT: &str = "/sys/devices/tcm_user";

/// An open file of a TCMU backstore's UIO device, checked to be one.
///
/// Made only by [`TcmuDevice::open`]. The kernel lets one open file of a TCMU device exist at a
/// time (`tcmu_open` in `target_core_user.c` refuses another with EBUSY until this one is
/// released), so a value of this type is the only way anyone reaches the device's memory:
/// [`SharedRegion::map_tcmu_device`] relies on it.
#[derive(Debug)]
pub(crate) struct TcmuDevice {
    file: Arc<File>,
}

impl TcmuDevice {
    /// Opens `path` read-write and checks with the kernel that it is a TCMU UIO device: a
    /// character device whose number sysfs lists as a device of the `uio` class under the
    /// `tcm_user` root device, with a `tcm-user/` name.
    fn open(path: &Path) -> Result<TcmuDevice, UioError> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(io_err(path))?;
        let not = |reason: String| UioError::NotTcmuDevice { path: path.to_path_buf(), reason };
        // The open file itself, not the path again: nothing can swap it under us.
        let meta = file.metadata().map_err(io_err(path))?;
        if !meta.file_type().is_char_device() {
            return Err(not("not a character device".into()));
        }
        let (major, minor) = dev_major_minor(meta.rdev());
        let sys = Path::new(SYSFS_DEV_CHAR).join(format!("{major}:{minor}"));
        let class = std::fs::read_link(sys.join("subsystem")).map_err(io_err(&sys))?;
        if class.file_name().and_then(|n| n.to_str()) != Some("uio") {
            return Err(not(format!(
                "device {major}:{minor} is of class {:?}, not uio",
                class.file_name().unwrap_or_default()
            )));
        }
        let real = std::fs::canonicalize(&sys).map_err(io_err(&sys))?;
        if !real.starts_with(SYSFS_TCMU_ROOT) {
            return Err(not(format!(
                "UIO device {major}:{minor} is {}, not under {SYSFS_TCMU_ROOT}",
                real.display()
            )));
        }
        let name_path = sys.join("name");
        let name = std::fs::read_to_string(&name_path).map_err(io_err(&name_path))?;
        // `tcm-user/HBA/NAME` or `tcm-user/HBA/NAME/CONFIG`, as `tcmu_update_uio_info` names it.
        if !name.starts_with("tcm-user/") {
            return Err(not(format!("UIO device named {:?}", name.trim_end())));
        }
        Ok(TcmuDevice { file: Arc::new(file) })
    }

    /// The open file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

/// Major and minor of a Linux device number, as glibc's `major()` and `minor()` split it.
fn dev_major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
    (major, minor)
}

/// An open, mapped UIO device.
#[derive(Debug)]
pub struct Uio {
    file: Arc<File>,
    path: PathBuf,
    region: Arc<SharedRegion>,
    info: UioInfo,
}

impl Uio {
    /// Opens `dev_dir/uioN` (normally `/dev`) read-write and maps `map_size` bytes of it shared.
    ///
    /// The file must be the UIO device of a TCMU backstore, as the kernel describes it in sysfs
    /// ([`UioError::NotTcmuDevice`] otherwise): the kernel allows such a device one opener at a
    /// time (another open fails with EBUSY, as [`UioError::Io`]), which is what makes the
    /// mapping this process's alone and the [`crate::Ring`] over it sound.
    pub fn open(dev_dir: &Path, info: UioInfo) -> Result<Uio, UioError> {
        let path = dev_dir.join(format!("uio{}", info.index));
        let dev = TcmuDevice::open(&path)?;
        let file = Arc::clone(&dev.file);
        let region = SharedRegion::map_tcmu_device(dev, info.map_size).map_err(io_err(&path))?;
        Ok(Uio { file, path, region: Arc::new(region), info })
    }

    /// The mapped memory, to build a [`crate::Ring`] from.
    pub fn region(&self) -> Arc<SharedRegion> {
        Arc::clone(&self.region)
    }

    /// What sysfs said of the device.
    pub fn info(&self) -> &UioInfo {
        &self.info
    }

    /// Blocks until the kernel signals new commands; returns its event count.
    pub fn wait(&self) -> Result<u32, UioError> {
        let mut count = [0u8; 4];
        (&*self.file).read_exact(&mut count).map_err(io_err(&self.path))?;
        Ok(u32::from_ne_bytes(count))
    }

    /// Tells the kernel to read completions (after [`crate::Ring::flush`] returned true).
    pub fn notify(&self) -> Result<(), UioError> {
        (&*self.file).write_all(&0u32.to_ne_bytes()).map_err(io_err(&self.path))
    }
}

impl AsFd for Uio {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sysfs(devices: &[(u32, &str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "tcmu-ring-uio-{}-{}",
            std::process::id(),
            devices.len()
        ));
        let _ = std::fs::remove_dir_all(&root);
        for (i, name, size) in devices {
            let dir = root.join(format!("uio{i}"));
            std::fs::create_dir_all(dir.join("maps/map0")).unwrap();
            std::fs::write(dir.join("name"), format!("{name}\n")).unwrap();
            std::fs::write(dir.join("maps/map0/size"), format!("{size}\n")).unwrap();
        }
        std::fs::create_dir_all(root.join("not-a-uio")).unwrap();
        root
    }

    #[test]
    fn tcmu_names() {
        let n = TcmuName::parse("tcm-user/1/disk0/tcmu-rs/img/with/slashes").unwrap();
        assert_eq!(
            (n.hba, n.device.as_str(), n.config.as_str()),
            (1, "disk0", "tcmu-rs/img/with/slashes")
        );
        assert_eq!(n.subtype(), "tcmu-rs");
        let n = TcmuName::parse("tcm-user/0/disk0").unwrap();
        assert_eq!((n.config.as_str(), n.subtype()), ("", ""), "no dev_config");
        let n = TcmuName::parse("tcm-user/0/disk0/").unwrap();
        assert_eq!((n.config.as_str(), n.subtype()), ("", ""));
        assert_eq!(TcmuName::parse("tcm-user/1/d/rbd").unwrap().subtype(), "rbd");
        for bad in [
            "",
            "uio_pdrv_genirq",
            "tcm-user",
            "tcm-user/",
            "tcm-user/1",
            "tcm-user/1/",
            "tcm-user/1//file",
            "tcm-user//d/file",
            "tcm-user/x/d/file",
            "tcm-user/+1/d/file",
            "tcm-user/-1/d/file",
            "tcm-user/4294967296/d/file",
            "tcm-userx/1/d/file",
            "/tcm-user/1/d/file",
        ] {
            assert_eq!(TcmuName::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_a_tcmu_device_is_mapped() {
        // A plain file of the right size named like a UIO device: mapping it twice would give two
        // regions, two rings and two consumers of the same bytes. It is refused, every time.
        let dir = std::env::temp_dir().join(format!("tcmu-ring-uio-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("uio5"), vec![0u8; 8192]).unwrap();
        let info = UioInfo { index: 5, name: "tcm-user/1/disk0/tcmu-rs/".into(), map_size: 8192 };
        for _ in 0..2 {
            let e = Uio::open(&dir, info.clone()).unwrap_err();
            assert!(
                matches!(&e, UioError::NotTcmuDevice { reason, .. } if reason.contains("not a character device")),
                "{e}"
            );
        }
        // A character device that is not a UIO device (the null device, 1:3).
        std::os::unix::fs::symlink("/dev/null", dir.join("uio6")).unwrap();
        if Path::new("/sys/dev/char/1:3").exists() {
            let e = Uio::open(&dir, UioInfo { index: 6, ..info }).unwrap_err();
            assert!(
                matches!(&e, UioError::NotTcmuDevice { reason, .. } if reason.contains("not uio")),
                "{e}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn device_numbers_split_as_glibc_does() {
        assert_eq!(dev_major_minor(0x0103), (1, 3));
        // glibc's makedev: the low 12 bits of the major and 8 of the minor in the low 32 bits,
        // the rest of each above them.
        let (major, minor) = (0x12345u64, 0x6789au64);
        let dev = (minor & 0xff)
            | ((major & 0xfff) << 8)
            | ((minor & !0xff) << 12)
            | ((major & !0xfff) << 32);
        assert_eq!(dev_major_minor(dev), (major, minor));
    }

    #[test]
    fn sysfs_discovery() {
        let root = fake_sysfs(&[
            (0, "uio_pdrv_genirq", "0x1000"),
            (2, "tcm-user/1/b/tcmu-rs/", "0x40800000"),
            (1, "tcm-user/1/a/tcmu-rs/", "0x118000"),
        ]);
        let all = UioInfo::list(&root).unwrap();
        assert_eq!(all.iter().map(|i| i.index).collect::<Vec<_>>(), vec![0, 1, 2]);
        let b = UioInfo::find_tcmu(&root, 1, "b").unwrap();
        assert_eq!((b.index, b.map_size), (2, 0x4080_0000));
        assert!(matches!(UioInfo::find_tcmu(&root, 2, "b"), Err(UioError::NotFound(_))));
        assert!(UioInfo::list(&root.join("absent")).unwrap().is_empty());

        std::fs::write(root.join("uio1/maps/map0/size"), "4096\n").unwrap();
        let e = UioInfo::read(&root, 1).unwrap_err();
        assert!(e.to_string().contains("maps/map0/size"), "{e}");
        let e = Uio::open(&root, UioInfo::read(&root, 2).unwrap()).unwrap_err();
        assert!(e.to_string().contains("uio2"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
