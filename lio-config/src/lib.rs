//! Typed operations on LIO's configfs tree (`/sys/kernel/config/target`): TCMU user
//! backstores, tcm_loop loopback targets and iSCSI targets, finding the disk and UIO device
//! they make, listing them, and tearing them down in reverse order, idempotently.
//!
//! The tree is chosen when a [`ConfigFs`] is made: the kernel's ([`ConfigFs::system`], after
//! checking root, the mount and the modules) or a plain folder standing for it
//! ([`ConfigFs::at`], with its own sysfs root), so everything here runs against a temporary
//! folder in tests as well as against the kernel; what differs between the two follows from
//! that choice, never from where a path points. The kernel creates a configfs object's
//! attribute files when its folder is made; this crate only makes and removes folders and
//! symlinks and writes attributes, one value per `write`, as `echo -n` would. Nothing existing
//! is ever overwritten: creating an object whose folder exists is [`Error::AlreadyExists`].
//!
//! - [`configfs`]: [`ConfigFs`], listing ([`Inventory`]) and the cleanup of our leftovers.
//! - [`backstores`]: TCMU user backstores ([`UserBackstore`]) and kernel `fileio` ones.
//! - [`fabrics`]: loopback and iSCSI targets, sharing one TPG type ([`Tpg`]) for their LUNs.
//! - [`genl`]: the kernel's TCM-USER generic netlink family, for a daemon serving TCMU devices
//!   ("runner mode"): device events ([`parse_events`], [`TcmuNetlink`]), their replies, and
//!   the module's netlink recovery parameters ([`ModuleParams`]).
//! - `fs` (private): the file-system helpers: names ([`check_name`]), attributes, folders,
//!   waiting.
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

pub mod backstores;
pub mod configfs;
mod error;
pub mod fabrics;
mod fs;
pub mod genl;

pub use backstores::{
    CONFIG_PREFIX, FileioBackstore, StorageObject, UserBackstore, UserBackstoreSpec,
};
pub use configfs::{CONFIGFS_TARGET, ConfigFs, Inventory};
pub use error::{Error, Result};
pub use fabrics::{IscsiAccess, IscsiTarget, LoopbackTarget, Tpg, naa_wwn};
pub use fs::check_name;
pub use genl::{
    DeviceEvent, EventKind, GenlError, ModuleParams, Reconfig, Replied, TcmuNetlink, encode_reply,
    encode_set_features, parse_events,
};
