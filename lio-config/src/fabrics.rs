//! Fabrics: tcm_loop loopback targets (`loopback/WWN`) and iSCSI targets (`iscsi/IQN`), each
//! with one target portal group, [`Tpg`] (`tpgt_1`), which holds the LUNs both fabrics share.

use crate::ConfigFs;
use crate::backstores::StorageObject;
use crate::fs::{
    Tree, check_name, io, mkdir_exist_ok, mkdir_new, normalize, read_attr, subdirs, wait_for,
};
use crate::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An NAA WWN in LIO's style, `naa.5001405` followed by nine hex digits of `id`: the form
/// tcm_loop and targetcli use (IEEE company id 00-14-05).
pub fn naa_wwn(id: u64) -> String {
    format!("naa.5001405{:09x}", id & 0xf_ffff_ffff)
}

/// The initiator-side WWN of a loopback nexus: the target's with its last digit changed.
fn nexus_wwn(wwn: &str) -> String {
    let mut s = wwn.to_string();
    if let Some(last) = s.pop() {
        s.push(if last == 'f' { 'e' } else { 'f' });
    }
    s
}

impl ConfigFs {
    /// A handle on `loopback/WWN`, whether or not it exists.
    pub fn loopback(&self, wwn: &str) -> LoopbackTarget {
        let path = self.root().join("loopback").join(wwn);
        LoopbackTarget {
            tpg: Tpg::first_of(&path, self.tree),
            path,
            sysfs: self.sysfs().to_path_buf(),
        }
    }

    /// Creates `loopback/WWN/tpgt_1` with an I_T nexus (initiator WWN derived from `wwn`).
    pub fn create_loopback(&self, wwn: &str) -> Result<LoopbackTarget> {
        check_name(wwn)?;
        let lo = self.loopback(wwn);
        let fabric = self.root().join("loopback");
        self.tree.mkdir_needing(&fabric, "tcm_loop")?;
        mkdir_new(&lo.path)?;
        let made = || -> Result<()> {
            mkdir_exist_ok(&lo.tpg.path)?;
            self.tree.write_attr(&lo.tpg.path.join("nexus"), &nexus_wwn(wwn))
        };
        if let Err(e) = made() {
            let _ = lo.remove();
            return Err(e);
        }
        Ok(lo)
    }

    /// A handle on `iscsi/IQN`, whether or not it exists.
    pub fn iscsi(&self, iqn: &str) -> IscsiTarget {
        let path = self.root().join("iscsi").join(iqn);
        IscsiTarget { tpg: Tpg::first_of(&path, self.tree), path }
    }

    /// Creates an iSCSI target `iscsi/IQN/tpgt_1` with a portal. Enable it with
    /// [`IscsiTarget::enable`] once its LUNs and access are set.
    pub fn create_iscsi(&self, iqn: &str, portal: &str) -> Result<IscsiTarget> {
        check_name(iqn)?;
        let t = self.iscsi(iqn);
        let fabric = self.root().join("iscsi");
        self.tree.mkdir_needing(&fabric, "iscsi_target_mod")?;
        mkdir_new(&t.path)?;
        let made = || -> Result<()> {
            mkdir_exist_ok(&t.tpg.path)?;
            mkdir_exist_ok(&t.tpg.path.join("np"))?;
            mkdir_new(&t.tpg.path.join("np").join(portal))
        };
        if let Err(e) = made() {
            let _ = t.remove();
            return Err(e);
        }
        Ok(t)
    }
}

/// A target portal group, `FABRIC/TARGET/tpgt_N`, of either fabric: its LUNs (each a folder
/// `lun/lun_N` holding a link to a backstore), the ACLs mapping them (`acls/INITIATOR/lun_N`)
/// and its portals (`np/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpg {
    path: PathBuf,
    tree: Tree,
}

impl Tpg {
    /// The one TPG, `tpgt_1`, of the target at `target`.
    fn first_of(target: &Path, tree: Tree) -> Tpg {
        Tpg { path: target.join("tpgt_1"), tree }
    }

    /// Its configfs folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lun_dir(&self, lun: u32) -> PathBuf {
        self.path.join("lun").join(format!("lun_{lun}"))
    }

    /// Adds LUN `lun` pointing at `store`: `mkdir lun/lun_N` and the symlink.
    pub fn add_lun(&self, lun: u32, store: &impl StorageObject) -> Result<()> {
        mkdir_exist_ok(&self.path.join("lun"))?;
        let dir = self.lun_dir(lun);
        mkdir_new(&dir)?;
        let link = dir.join(store.name());
        if let Err(e) = std::os::unix::fs::symlink(store.path(), &link) {
            let _ = self.tree.rmdir_gone_ok(&dir);
            return Err(Error::Io { op: "symlink", path: link, source: e });
        }
        Ok(())
    }

    /// The backstores its LUNs link to.
    pub fn lun_targets(&self) -> Result<Vec<PathBuf>> {
        Ok(self.lun_links()?.into_iter().map(|(_, t)| t).collect())
    }

    /// Each LUN (`lun_N`) with the backstore it links to.
    pub(crate) fn lun_links(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::new();
        for lun in subdirs(&self.path.join("lun"))? {
            let dir = self.path.join("lun").join(&lun);
            for entry in fs::read_dir(&dir).map_err(io("list", &dir))?.flatten() {
                // configfs reads its links back as relative paths (`../../../../core/...`).
                if let Ok(t) = fs::read_link(entry.path()) {
                    out.push((lun.clone(), normalize(&dir.join(t))));
                }
            }
        }
        Ok(out)
    }

    /// Removes LUN `lun` (`lun_N`) alone: the ACL mappings that lead to it, its link to the
    /// backstore, its folder.
    pub(crate) fn unlink_lun(&self, lun: &str) -> Result<()> {
        let lun_dir = self.path.join("lun").join(lun);
        for acl in subdirs(&self.path.join("acls"))? {
            let acl_dir = self.path.join("acls").join(&acl);
            for mapped in subdirs(&acl_dir)? {
                let m = acl_dir.join(&mapped);
                let leads_here = fs::read_link(m.join("lun"))
                    .map(|t| normalize(&m.join(t)) == lun_dir)
                    .unwrap_or(false);
                if leads_here {
                    let _ = fs::remove_file(m.join("lun"));
                    self.tree.rmdir_gone_ok(&m)?;
                }
            }
        }
        for entry in fs::read_dir(&lun_dir).map_err(io("list", &lun_dir))?.flatten() {
            if entry.file_type().map(|t| t.is_symlink()).unwrap_or(false) {
                let p = entry.path();
                match fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::Io { op: "unlink", path: p, source: e });
                    }
                }
            }
        }
        self.tree.rmdir_gone_ok(&lun_dir)
    }

    /// Tears it down in reverse order; absent is fine: disabled (an iSCSI TPG stops taking
    /// logins), its ACLs' LUN mappings and ACLs, its LUNs, its portals, its nexus dropped (a
    /// loopback TPG: the kernel then removes the SCSI host cleanly), its folder.
    fn remove(&self) -> Result<()> {
        let kernel = self.tree == Tree::Kernel;
        let enable = self.path.join("enable");
        if kernel && enable.exists() {
            let _ = self.tree.write_attr(&enable, "0");
        }
        let acls = self.path.join("acls");
        for acl in subdirs(&acls)? {
            let acl_dir = acls.join(&acl);
            for mapped in subdirs(&acl_dir)? {
                if mapped.starts_with("lun_") {
                    let m = acl_dir.join(&mapped);
                    let _ = fs::remove_file(m.join("lun"));
                    self.tree.rmdir_gone_ok(&m)?;
                }
            }
            self.tree.rmdir_gone_ok(&acl_dir)?;
        }
        self.tree.remove_default_group(&acls)?;
        for lun in subdirs(&self.path.join("lun"))? {
            self.unlink_lun(&lun)?;
        }
        self.tree.remove_default_group(&self.path.join("lun"))?;
        let np = self.path.join("np");
        for portal in subdirs(&np)? {
            self.tree.rmdir_gone_ok(&np.join(portal))?;
        }
        self.tree.remove_default_group(&np)?;
        let nexus = self.path.join("nexus");
        if kernel && nexus.exists() {
            let _ = self.tree.write_attr(&nexus, "");
        }
        self.tree.rmdir_gone_ok(&self.path)
    }
}

/// Removes a target: its TPG `tpg`, then its folder `path`; absent is fine.
pub(crate) fn remove_target(path: &Path, tpg: &Tpg) -> Result<()> {
    tpg.remove()?;
    tpg.tree.rmdir_gone_ok(path)
}

/// A tcm_loop target, `loopback/WWN`, with its one TPG `tpgt_1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackTarget {
    path: PathBuf,
    tpg: Tpg,
    sysfs: PathBuf,
}

impl LoopbackTarget {
    /// Its configfs folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its TPG, `tpgt_1`.
    pub fn tpg(&self) -> &Tpg {
        &self.tpg
    }

    /// Exports `store` as LUN `lun`. The kernel scans the new LUN at once (INQUIRY, READ
    /// CAPACITY...): the backstore's ring must already be served.
    pub fn add_lun(&self, lun: u32, store: &impl StorageObject) -> Result<()> {
        self.tpg.add_lun(lun, store)
    }

    /// The backstores its LUNs link to.
    pub fn lun_targets(&self) -> Result<Vec<PathBuf>> {
        self.tpg.lun_targets()
    }

    /// The SCSI address `H:C:T` tcm_loop reports for the nexus (`tpgt_1/address`).
    pub fn address(&self) -> Result<String> {
        read_attr(&self.tpg.path.join("address"))
    }

    /// The `/dev` node of LUN `lun`'s disk, once the kernel made it, or `None` yet.
    pub fn disk(&self, lun: u32) -> Result<Option<PathBuf>> {
        let address = self.address()?;
        let block =
            self.sysfs.join("bus/scsi/devices").join(format!("{address}:{lun}")).join("block");
        Ok(subdirs(&block)?.into_iter().next().map(|name| Path::new("/dev").join(name)))
    }

    /// Waits, polling every 50 ms up to `timeout`, for LUN `lun`'s disk.
    pub fn wait_for_disk(&self, lun: u32, timeout: Duration) -> Result<PathBuf> {
        wait_for(
            || format!("the disk of {} LUN {lun}", self.path.display()),
            timeout,
            // The address file appears with the nexus; until then keep waiting.
            || self.disk(lun).ok().flatten(),
        )
    }

    /// Tears it down in reverse order (LUN links, LUNs, nexus, TPG, target); absent is fine.
    pub fn remove(&self) -> Result<()> {
        remove_target(&self.path, &self.tpg)
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
            IscsiAccess::Chap { initiator, user, mutual, .. } => f
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
    tpg: Tpg,
}

impl IscsiTarget {
    /// Its configfs folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its TPG, `tpgt_1`.
    pub fn tpg(&self) -> &Tpg {
        &self.tpg
    }

    /// Exports `store` as LUN `lun`.
    pub fn add_lun(&self, lun: u32, store: &impl StorageObject) -> Result<()> {
        self.tpg.add_lun(lun, store)
    }

    /// The backstores its LUNs link to.
    pub fn lun_targets(&self) -> Result<Vec<PathBuf>> {
        self.tpg.lun_targets()
    }

    /// Sets who may log in.
    pub fn set_access(&self, access: &IscsiAccess) -> Result<()> {
        let tree = self.tpg.tree;
        let tpg = &self.tpg.path;
        let attrib = tpg.join("attrib");
        match access {
            IscsiAccess::Open => {
                tree.write_attr(&attrib.join("generate_node_acls"), "1")?;
                tree.write_attr(&attrib.join("cache_dynamic_acls"), "1")?;
                tree.write_attr(&attrib.join("demo_mode_write_protect"), "0")?;
                tree.write_attr(&attrib.join("authentication"), "0")
            }
            IscsiAccess::Chap { initiator, user, secret, mutual } => {
                check_name(initiator)?;
                tree.write_attr(&attrib.join("generate_node_acls"), "0")?;
                tree.write_attr(&attrib.join("authentication"), "1")?;
                mkdir_exist_ok(&tpg.join("acls"))?;
                let acl = tpg.join("acls").join(initiator);
                mkdir_exist_ok(&acl)?;
                let auth = acl.join("auth");
                mkdir_exist_ok(&auth)?;
                tree.write_attr(&auth.join("userid"), user)?;
                tree.write_attr(&auth.join("password"), secret)?;
                if let Some((mu, ms)) = mutual {
                    tree.write_attr(&auth.join("userid_mutual"), mu)?;
                    tree.write_attr(&auth.join("password_mutual"), ms)?;
                }
                // Map every LUN into the ACL.
                for lun in subdirs(&tpg.join("lun"))? {
                    let mapped = acl.join(&lun);
                    if !mapped.exists() {
                        mkdir_new(&mapped)?;
                        let link = mapped.join("lun");
                        std::os::unix::fs::symlink(tpg.join("lun").join(&lun), &link)
                            .map_err(io("symlink", &link))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Enables the TPG: the portal starts accepting logins.
    pub fn enable(&self) -> Result<()> {
        self.tpg.tree.write_attr(&self.tpg.path.join("enable"), "1")
    }

    /// Tears it down in reverse order (disable, ACLs, LUNs, portals, TPG, target); absent is
    /// fine.
    pub fn remove(&self) -> Result<()> {
        remove_target(&self.path, &self.tpg)
    }
}
