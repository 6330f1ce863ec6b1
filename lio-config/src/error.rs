//! What went wrong, in words that say what to do.

use std::path::PathBuf;
use std::time::Duration;

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
    /// [`crate::ConfigFs::at`] was given a folder on configfs, which it would treat as a plain
    /// folder.
    #[error(
        "{0} is on configfs: use ConfigFs::system() for the kernel's tree (ConfigFs::at is for a plain folder standing for it)"
    )]
    OnConfigfs(PathBuf),
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
