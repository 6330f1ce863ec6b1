//! Backstores: TCMU user backstores (`core/user_N/NAME`, served by this project through their
//! ring) and kernel `fileio` ones, made and removed through [`ConfigFs`].

use crate::ConfigFs;
use crate::fs::{Tree, check_name, mkdir_new, read_attr, subdirs};
use crate::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The prefix of the `dev_config` of every backstore this project creates: how `cleanup`
/// tells ours from someone else's.
pub const CONFIG_PREFIX: &str = "tcmu-rs/";

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
    /// Served by a netlink daemon (`tcmu runner`, tcmu-runner) rather than by the process
    /// that makes it: `enable` then waits for the daemon's reply, as it does for targetcli's
    /// backstores. Off (the default), `nl_reply_supported=-1` is written, so `enable` never
    /// waits.
    pub daemon: bool,
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
            daemon: false,
        }
    }

    /// Sets an attribute to write after enable.
    pub fn attribute(mut self, name: &str, value: impl ToString) -> Self {
        self.attributes.push((name.to_string(), value.to_string()));
        self
    }
}

impl ConfigFs {
    /// A handle on `core/user_HBA/NAME`, whether or not it exists.
    pub fn user_backstore(&self, hba: u32, name: &str) -> UserBackstore {
        UserBackstore {
            path: self.root().join("core").join(format!("user_{hba}")).join(name),
            hba,
            name: name.to_string(),
            tree: self.tree,
        }
    }

    /// Creates and enables a TCMU backstore: `mkdir`, the `control` tokens (size, config, block
    /// size, data area, `nl_reply_supported=-1` so `enable` never waits for a netlink daemon,
    /// unless [`UserBackstoreSpec::daemon`]),
    /// `enable`, then the attributes. On any failure what was made is removed again.
    pub fn create_user_backstore(&self, spec: &UserBackstoreSpec) -> Result<UserBackstore> {
        check_name(&spec.name)?;
        let store = self.user_backstore(spec.hba, &spec.name);
        let core = self.root().join("core");
        if !core.is_dir() {
            return Err(Error::ModuleNotLoaded { module: "target_core_mod" });
        }
        let hba_dir = store.path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.tree.mkdir_needing(&hba_dir, "target_core_user")?;
        mkdir_new(&store.path)?;
        let made = || -> Result<()> {
            let control = store.path.join("control");
            let write = |value: &str| self.tree.write_attr(&control, value);
            write(&format!("dev_size={}", spec.size))?;
            write(&format!("dev_config={}", spec.config))?;
            write(&format!("hw_block_size={}", spec.block_size))?;
            if let Some(mb) = spec.max_data_area_mb {
                write(&format!("max_data_area_mb={mb}"))?;
            }
            if !spec.daemon {
                write("nl_reply_supported=-1")?;
            }
            self.tree.write_attr(&store.path.join("enable"), "1")?;
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
        let hba_dir = self.root().join("core").join(format!("fileio_{hba}"));
        let store =
            FileioBackstore { path: hba_dir.join(name), name: name.to_string(), tree: self.tree };
        self.tree.mkdir_needing(&hba_dir, "target_core_file")?;
        mkdir_new(&store.path)?;
        let made = || -> Result<()> {
            let control = store.path.join("control");
            self.tree.write_attr(&control, &format!("fd_dev_name={file_str}"))?;
            self.tree.write_attr(&control, &format!("fd_dev_size={size}"))?;
            self.tree.write_attr(&store.path.join("enable"), "1")
        };
        if let Err(e) = made() {
            let _ = store.remove();
            return Err(e);
        }
        Ok(store)
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
    tree: Tree,
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
        self.tree.write_attr(&self.path.join("attrib").join(name), value)
    }

    /// Removes it (after every LUN linking to it is gone), and its `fileio_N` folder if that
    /// is now empty; absent is fine.
    pub fn remove(&self) -> Result<()> {
        remove_backstore(self.tree, &self.path)
    }
}

/// Removes a backstore's folder and its HBA folder (`user_N`, `fileio_N`) if that is now empty.
fn remove_backstore(tree: Tree, path: &Path) -> Result<()> {
    tree.rmdir_gone_ok(path)?;
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
    tree: Tree,
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
        self.tree.write_attr(&self.path.join("attrib").join(name), value)
    }

    /// Reads `attrib/NAME`.
    pub fn attribute(&self, name: &str) -> Result<String> {
        check_name(name)?;
        read_attr(&self.path.join("attrib").join(name))
    }

    /// Writes `action/NAME` (`block_dev`, `reset_ring`, ...).
    pub fn action(&self, name: &str, value: &str) -> Result<()> {
        check_name(name)?;
        self.tree.write_attr(&self.path.join("action").join(name), value)
    }

    /// The unit serial number of `wwn/vpd_unit_serial` (targetcli writes a UUID there), without
    /// the kernel's "T10 VPD Unit Serial Number: " label; `None` when unset or unreadable.
    pub fn unit_serial(&self) -> Option<String> {
        let text = fs::read_to_string(self.path.join("wwn/vpd_unit_serial")).ok()?;
        let text = text.trim();
        let serial = text.strip_prefix("T10 VPD Unit Serial Number:").unwrap_or(text).trim();
        (!serial.is_empty()).then(|| serial.to_string())
    }

    /// The `dev_config` the kernel reports in `info` ("... Config: X ...").
    pub fn config(&self) -> Option<String> {
        let info = fs::read_to_string(self.path.join("info")).ok()?;
        let at = info.find("Config: ")? + "Config: ".len();
        Some(info[at..].split_whitespace().next().unwrap_or("").to_string())
    }

    /// Whether this project made it (its config starts with [`CONFIG_PREFIX`]).
    pub fn is_ours(&self) -> bool {
        self.config().is_some_and(|c| c.starts_with(CONFIG_PREFIX))
    }

    /// Removes it (after every LUN linking to it is gone), and its `user_N` folder if that is
    /// now empty; absent is fine.
    pub fn remove(&self) -> Result<()> {
        remove_backstore(self.tree, &self.path)
    }
}
