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
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> UioError + '_ {
    move |source| UioError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The parts of a TCMU UIO device name, `tcm-user/<hba>/<device>/<dev_config>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcmuName {
    /// The HBA index of `core/user_<hba>`.
    pub hba: u32,
    /// The backstore's name.
    pub device: String,
    /// The `dev_config` string (it may contain `/`).
    pub config: String,
}

impl TcmuName {
    /// Parses a UIO name; `None` if it is not a TCMU device's.
    pub fn parse(name: &str) -> Option<TcmuName> {
        let rest = name.strip_prefix("tcm-user/")?;
        let (hba, rest) = rest.split_once('/')?;
        let (device, config) = rest.split_once('/')?;
        Some(TcmuName {
            hba: hba.parse().ok()?,
            device: device.to_string(),
            config: config.to_string(),
        })
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
        Ok(UioInfo {
            index,
            name: name.trim_end_matches('\n').to_string(),
            map_size,
        })
    }

    /// Every UIO device under `class_dir`, in index order.
    pub fn list(class_dir: &Path) -> Result<Vec<UioInfo>, UioError> {
        let entries = match std::fs::read_dir(class_dir) {
            Ok(e) => e,
            // No UIO device at all: the class folder may not exist yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(UioError::Io {
                    path: class_dir.to_path_buf(),
                    source: e,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(class_dir))?;
            let file_name = entry.file_name();
            let Some(index) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix("uio"))
                .and_then(|n| n.parse().ok())
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

/// An open, mapped UIO device.
#[derive(Debug)]
pub struct Uio {
    file: File,
    path: PathBuf,
    region: Arc<SharedRegion>,
    info: UioInfo,
}

impl Uio {
    /// Opens `dev_dir/uioN` (normally `/dev`) read-write and maps `map_size` bytes of it shared.
    /// The kernel allows one opener at a time.
    pub fn open(dev_dir: &Path, info: UioInfo) -> Result<Uio, UioError> {
        let path = dev_dir.join(format!("uio{}", info.index));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let map = memmap2::MmapOptions::new()
            .len(info.map_size)
            .map_raw(&file)
            .map_err(io_err(&path))?;
        Ok(Uio {
            file,
            path,
            region: Arc::new(SharedRegion::from_mmap(map)),
            info,
        })
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
        (&self.file)
            .read_exact(&mut count)
            .map_err(io_err(&self.path))?;
        Ok(u32::from_ne_bytes(count))
    }

    /// Tells the kernel to read completions (after [`crate::Ring::flush`] returned true).
    pub fn notify(&self) -> Result<(), UioError> {
        (&self.file)
            .write_all(&0u32.to_ne_bytes())
            .map_err(io_err(&self.path))
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
        assert_eq!(TcmuName::parse("uio_pdrv_genirq"), None);
        assert_eq!(TcmuName::parse("tcm-user/x/disk0/cfg"), None);
        assert_eq!(TcmuName::parse("tcm-user/1/disk0"), None);
    }

    #[test]
    fn sysfs_discovery() {
        let root = fake_sysfs(&[
            (0, "uio_pdrv_genirq", "0x1000"),
            (2, "tcm-user/1/b/tcmu-rs/", "0x40800000"),
            (1, "tcm-user/1/a/tcmu-rs/", "0x118000"),
        ]);
        let all = UioInfo::list(&root).unwrap();
        assert_eq!(
            all.iter().map(|i| i.index).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        let b = UioInfo::find_tcmu(&root, 1, "b").unwrap();
        assert_eq!((b.index, b.map_size), (2, 0x4080_0000));
        assert!(matches!(
            UioInfo::find_tcmu(&root, 2, "b"),
            Err(UioError::NotFound(_))
        ));
        assert!(UioInfo::list(&root.join("absent")).unwrap().is_empty());

        std::fs::write(root.join("uio1/maps/map0/size"), "4096\n").unwrap();
        let e = UioInfo::read(&root, 1).unwrap_err();
        assert!(e.to_string().contains("maps/map0/size"), "{e}");
        let e = Uio::open(&root, UioInfo::read(&root, 2).unwrap()).unwrap_err();
        assert!(e.to_string().contains("uio2"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
