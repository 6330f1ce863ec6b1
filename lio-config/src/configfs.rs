//! [`ConfigFs`]: LIO's configfs tree at a root chosen when it is made (the kernel's, checked,
//! or a plain folder for tests), what is in it, and the removal of what this project left.

use crate::backstores::UserBackstore;
use crate::fabrics::{IscsiTarget, LoopbackTarget, remove_target};
use crate::fs::{Tree, subdirs};
use crate::{Error, Result};
use nix::sys::statfs::FsType;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where configfs puts LIO.
pub const CONFIGFS_TARGET: &str = "/sys/kernel/config/target";

/// configfs's `statfs` magic number (`CONFIGFS_MAGIC` in linux/magic.h).
const CONFIGFS_MAGIC: FsType = FsType(0x6265_6570);

/// [`Error::OnConfigfs`] when `path`, or its nearest existing ancestor, is on the file system
/// whose `statfs` magic is `magic`.
fn refuse_fs(path: &Path, magic: FsType) -> Result<()> {
    let found = path
        .ancestors()
        .find_map(|p| nix::sys::statfs::statfs(p).ok())
        .map(|s| s.filesystem_type());
    if found == Some(magic) {
        return Err(Error::OnConfigfs(path.to_path_buf()));
    }
    Ok(())
}

/// The configfs tree of LIO, at a root that is the kernel's ([`ConfigFs::system`]) or a plain
/// folder standing for it ([`ConfigFs::at`]). Which of the two it is was decided when it was
/// made, and every handle made from it keeps that: it decides whether missing groups are made
/// on a write, whether folders are removed with their files, whether a refused `mkdir` means a
/// missing module.
#[derive(Debug, Clone)]
pub struct ConfigFs {
    root: PathBuf,
    sysfs: PathBuf,
    pub(crate) tree: Tree,
}

impl ConfigFs {
    /// The kernel's tree, after checking what a person would otherwise trip over: root,
    /// configfs mounted, target_core_user loaded. (`tcm_loop` is needed only for a loopback
    /// target; making one without it fails with [`Error::ModuleNotLoaded`] naming it.)
    pub fn system() -> Result<ConfigFs> {
        let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
        if uid != 0 {
            return Err(Error::NotRoot);
        }
        let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
        if !mounts.lines().any(|l| l.split_whitespace().nth(2) == Some("configfs")) {
            return Err(Error::NotMounted);
        }
        for module in ["target_core_mod", "target_core_user"] {
            if !Path::new("/sys/module").join(module).exists() {
                return Err(Error::ModuleNotLoaded { module });
            }
        }
        Ok(ConfigFs { root: CONFIGFS_TARGET.into(), sysfs: "/sys".into(), tree: Tree::Kernel })
    }

    /// A plain folder at `root` standing for `/sys/kernel/config/target`, with sysfs at
    /// `sysfs` (tests): groups the kernel would make with an object are made when written
    /// to, and folders are removed with what they hold. A `root` on configfs (or under a
    /// missing folder on it) is refused with [`Error::OnConfigfs`]: the kernel's tree is
    /// [`ConfigFs::system`].
    pub fn at(root: impl Into<PathBuf>, sysfs: impl Into<PathBuf>) -> Result<ConfigFs> {
        let root = root.into();
        refuse_fs(&root, CONFIGFS_MAGIC)?;
        Ok(ConfigFs { root, sysfs: sysfs.into(), tree: Tree::Folder })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sysfs root.
    pub fn sysfs(&self) -> &Path {
        &self.sysfs
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
        for wwn in subdirs(&self.root.join("loopback"))?.into_iter().filter(is_target) {
            inv.loopback.push(self.loopback(&wwn));
        }
        for iqn in subdirs(&self.root.join("iscsi"))?.into_iter().filter(is_target) {
            inv.iscsi.push(self.iscsi(&iqn));
        }
        Ok(inv)
    }

    /// Removes what this project left behind (a crashed run included): every target with a
    /// LUN linked to one of our backstores (those whose `dev_config` starts with
    /// [`crate::CONFIG_PREFIX`]), then those backstores. Returns what was removed.
    pub fn cleanup(&self) -> Result<Vec<PathBuf>> {
        self.cleanup_only(|_| true)
    }

    /// [`ConfigFs::cleanup`] of those of our backstores `pick` chooses (and their targets).
    pub fn cleanup_only(&self, pick: impl Fn(&UserBackstore) -> bool) -> Result<Vec<PathBuf>> {
        let inv = self.list()?;
        let ours: Vec<&UserBackstore> =
            inv.user_backstores.iter().filter(|b| b.is_ours() && pick(b)).collect();
        let mut removed = Vec::new();
        let is_ours = |t: &PathBuf| ours.iter().any(|b| b.path() == t);
        // A target whose LUNs all lead to our backstores goes whole; one that also exports
        // someone else's backstore keeps those and loses only our LUNs.
        let targets = (inv.loopback.iter().map(|t| (t.path(), t.tpg())))
            .chain(inv.iscsi.iter().map(|t| (t.path(), t.tpg())));
        for (path, tpg) in targets {
            let luns = tpg.lun_links()?;
            let mine: Vec<&(String, PathBuf)> = luns.iter().filter(|(_, t)| is_ours(t)).collect();
            if mine.is_empty() {
                continue;
            }
            if mine.len() == luns.len() {
                remove_target(path, tpg)?;
                removed.push(path.to_path_buf());
            } else {
                for (lun, _) in mine {
                    tpg.unlink_lun(lun)?;
                    removed.push(tpg.path().join("lun").join(lun));
                }
            }
        }
        for b in ours {
            b.remove()?;
            removed.push(b.path().to_path_buf());
        }
        Ok(removed)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_refuses_the_file_system_it_checks_for() {
        let dir = std::env::temp_dir().join(format!("lio-config-refuse-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let own = nix::sys::statfs::statfs(&dir).unwrap().filesystem_type();
        // The folder's own file system is refused, for it and for a missing folder under it.
        assert!(matches!(refuse_fs(&dir, own), Err(Error::OnConfigfs(p)) if p == dir));
        assert!(matches!(refuse_fs(&dir.join("no/such"), own), Err(Error::OnConfigfs(_))));
        assert!(refuse_fs(&dir, FsType(own.0.wrapping_add(1))).is_ok());
        assert!(ConfigFs::at(&dir, &dir).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }
}
