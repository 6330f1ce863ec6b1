//! Removing what a crashed run left behind, without waiting on a dead ring.
//!
//! When a serving process dies, its device stays in configfs and the kernel queues commands on
//! a ring nobody reads; each waits out `cmd_time_out`, and removing the LUN makes the kernel
//! send SYNCHRONIZE CACHE, which waits again. [`cleanup`] opens the UIO device of each of our
//! backstores: the kernel lets only one process hold it, so the open succeeds exactly for the
//! orphans. While their targets and backstores are removed, every command on an orphan's ring
//! (those left unanswered by the dead process included) is answered at once with NOT READY,
//! LOGICAL UNIT COMMUNICATION FAILURE: the same failure the kernel's timeout gives, so no
//! write is ever reported done that was not. Devices another process is serving are left
//! alone unless `force` is set.
//!
//! Before judging a backstore, cleanup takes its [`DeviceLock`], the one `tcmu serve` holds
//! from before it makes the backstore until it has removed it, and keeps it until the
//! removal is done. A locked device is kept: it is being brought up (a backstore not yet
//! enabled has no UIO device and would look abandoned), served, or torn down. With `force`
//! it is removed all the same.

use crate::device::{DeviceError, DeviceLock};
use crate::server::Server;
use lio_config::{ConfigFs, UserBackstore};
use std::path::{Path, PathBuf};
use tcmu_ring::uio::UioInfo;
use tcmu_ring::{Uio, UioError};

/// What [`cleanup`] did.
#[derive(Debug, Default)]
pub struct CleanupReport {
    /// The configfs objects removed, targets before backstores.
    pub removed: Vec<PathBuf>,
    /// Our backstores left in place because a running process serves them, is bringing them
    /// up or tearing them down (or whether one does could not be told).
    pub in_use: Vec<Kept>,
}

/// A backstore [`cleanup`] left in place, and why.
#[derive(Debug)]
pub struct Kept {
    /// Its configfs folder.
    pub path: PathBuf,
    /// Why, in words ("process 123 (tcmu serve ...) holds its lock", ...).
    pub why: String,
}

/// Whether opening the UIO device failed because another process holds it.
fn is_busy(e: &UioError) -> bool {
    matches!(e, UioError::Io { source, .. } if source.raw_os_error() == Some(nix::libc::EBUSY))
}

/// Removes every configfs object of ours whose device no process serves (every one, with
/// `force`), answering the orphans' rings meanwhile so nothing waits for a timeout. Device
/// locks are looked for in `lock_dir` ([`crate::device::DEVICE_LOCK_DIR`] for `tcmu serve`).
pub fn cleanup(
    cfs: &ConfigFs,
    uio_class: &Path,
    uio_dev: &Path,
    lock_dir: &Path,
    force: bool,
) -> Result<CleanupReport, DeviceError> {
    let inv = cfs.list()?;
    let mut report = CleanupReport::default();
    let mut servers = Vec::new();
    // Held until the removal is done: no `tcmu serve` can make a backstore of the same name
    // (at the same path) meanwhile.
    let mut held = Vec::new();
    let mut picked: Vec<PathBuf> = Vec::new();
    for store in inv.user_backstores.iter().filter(|b| b.is_ours()) {
        let mut keep = |why: String| {
            report.in_use.push(Kept { path: store.path().to_path_buf(), why });
        };
        match DeviceLock::try_lock(lock_dir, store.hba(), store.name()) {
            Ok(lock) => held.push(lock),
            Err(DeviceError::Locked { holder, .. }) => {
                if !force {
                    keep(format!(
                        "{holder} holds its lock (it is being set up, served or torn down)"
                    ));
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(store = %store.path().display(), "cannot take its lock: {e}");
                if !force {
                    keep(format!("cannot take its lock: {e}"));
                    continue;
                }
            }
        }
        // Only what is certainly dead is removed without --force: a ring we now hold (the
        // kernel lets one process hold it), or a backstore with no UIO device at all (a run
        // that died before enabling it; one still starting holds the lock). Anything we cannot
        // tell is kept.
        let certain = match open_orphan(store, uio_class, uio_dev) {
            Ok(Orphan::Held(server)) => {
                servers.push(server);
                true
            }
            Ok(Orphan::NoDevice) => true,
            Err(e) if is_busy(&e) => {
                if !force {
                    keep("a running process serves it".to_string());
                }
                false
            }
            Err(e) => {
                tracing::warn!(store = %store.path().display(), "cannot tell whether a process serves it: {e}");
                if !force {
                    keep(format!("cannot tell whether a process serves it: {e}"));
                }
                false
            }
        };
        if !certain && !force {
            continue;
        }
        picked.push(store.path().to_path_buf());
    }
    let removed = cfs.cleanup_only(|b| picked.iter().any(|p| p == b.path()));
    for server in servers {
        let _ = server.stop();
    }
    drop(held);
    report.removed = removed?;
    Ok(report)
}

/// What [`open_orphan`] found.
enum Orphan {
    /// We hold the ring now and answer it.
    Held(Server),
    /// The backstore has no UIO device: it was never enabled.
    NoDevice,
}

/// Opens `store`'s ring and answers it NOT READY ([`Server::answer_unavailable`]); `Err` with EBUSY when a process
/// serves it, and any other error when that cannot be told.
fn open_orphan(
    store: &UserBackstore,
    uio_class: &Path,
    uio_dev: &Path,
) -> Result<Orphan, UioError> {
    let info = match UioInfo::find_tcmu(uio_class, store.hba(), store.name()) {
        Ok(info) => info,
        Err(UioError::NotFound(_)) => return Ok(Orphan::NoDevice),
        Err(e) => return Err(e),
    };
    let uio = Uio::open(uio_dev, info)?;
    match Server::answer_unavailable(uio) {
        Ok(server) => Ok(Orphan::Held(server)),
        // We hold the device (so no one serves it) but cannot answer its ring: the
        // kernel's time-outs will have to do.
        Err(e) => {
            tracing::warn!(store = %store.path().display(), "ring not usable: {e}");
            Ok(Orphan::NoDevice)
        }
    }
}
