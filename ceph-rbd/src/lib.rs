//! A small, safe binding to Ceph's librbd: connect to a cluster, open an image, read, write,
//! flush, discard, write zeroes, write a pattern, resize.
//!
//! librbd and librados are opened at run time (`librbd.so.1`, `librados.so.2`, from Debian's
//! `librbd1` and `librados2`), not linked: a program built with this crate starts on any
//! machine, and [`Cluster::connect`] answers [`Error::Missing`] (naming the library and the
//! package) where Ceph's client libraries are not installed. No maintained Rust binding to
//! librbd exists; this one declares the few functions it calls and keeps every `unsafe` in
//! two modules (`sys`: loading; `image`: the calls, each with why it is sound).
//!
//! I/O goes through librbd's asynchronous API (`rbd_aio_*`): each call starts one operation
//! and waits for it, so as many operations are in flight as threads call at once.
//!
//! [`ImageSpec`] parses the two ways a user names an image: `POOL/[NAMESPACE/]IMAGE[@OPTIONS]`
//! (`tcmu serve rbd:...`) and tcmu-runner's `POOL/IMAGE[;OPTION]...` (a `user:rbd`
//! backstore's configuration). Options name the Ceph config file, the client id and a keyring
//! file; a secret itself is refused (a command line is visible to every local user).
//!
//! ```no_run
//! use ceph_rbd::{Cluster, ImageSpec};
//! use std::io::IoSlice;
//!
//! let spec = ImageSpec::parse("rbd/disk1@conf=/etc/ceph/ceph.conf,id=tcmu")?;
//! let cluster = Cluster::connect(&spec.cluster)?;
//! let image = cluster.open(&spec.pool, spec.namespace.as_deref(), &spec.image, false)?;
//! image.write(0, &[IoSlice::new(&[0xab; 4096])])?;
//! image.flush()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod image;
mod spec;
#[allow(unsafe_code)]
mod sys;

pub use image::{AioBuffers, Cluster, Image, available};
pub use spec::{ClusterOptions, GATEWAY_SETTINGS, ImageSpec, MIN_OSD_OP_TIMEOUT, SpecError};

/// `RBD_FEATURE_EXCLUSIVE_LOCK`: the image has an exclusive lock, which one client holds to
/// write.
pub const FEATURE_EXCLUSIVE_LOCK: u64 = 1 << 2;

/// What went wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// librbd or librados could not be loaded.
    #[error(
        "{library} cannot be loaded ({reason}): install Ceph's client libraries \
         (Debian: apt install librbd1)"
    )]
    Missing {
        /// The library's file name.
        library: &'static str,
        /// What the loader said.
        reason: String,
    },
    /// A name or option holds a NUL byte.
    #[error("the {what} {name:?} holds a NUL byte")]
    InvalidName {
        /// What the string is (pool, image, option...).
        what: &'static str,
        /// The string, escaped.
        name: String,
    },
    /// librados refused a configuration setting.
    #[error("Ceph refused the setting {key} = {value}: {}", std::io::Error::from_raw_os_error(*.errno))]
    Setting {
        /// The setting.
        key: String,
        /// Its value.
        value: String,
        /// The errno.
        errno: i32,
    },
    /// A call failed with an errno.
    #[error("{op}: {}", std::io::Error::from_raw_os_error(*.errno))]
    Os {
        /// The librbd / librados function.
        op: &'static str,
        /// The (positive) errno.
        errno: i32,
    },
    /// A call failed in a named pool.
    #[error("{op} in pool {pool:?}: {}", std::io::Error::from_raw_os_error(*.errno))]
    InPool {
        /// The librbd / librados function.
        op: &'static str,
        /// The pool.
        pool: String,
        /// The (positive) errno.
        errno: i32,
    },
    /// A read returned fewer bytes than asked for.
    #[error("{op} returned {got} bytes of {want}")]
    Short {
        /// The function.
        op: &'static str,
        /// Bytes asked for.
        want: usize,
        /// Bytes returned.
        got: usize,
    },
}

impl Error {
    /// The errno of a failed call, if the error is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Os { errno, .. }
            | Error::InPool { errno, .. }
            | Error::Setting { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    fn in_pool(self, pool: &str) -> Error {
        match self {
            Error::Os { op, errno } => Error::InPool { op, pool: pool.to_string(), errno },
            e => e,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e.errno() {
            Some(errno) => {
                let kind = std::io::Error::from_raw_os_error(errno).kind();
                std::io::Error::new(kind, e)
            }
            None => std::io::Error::other(e),
        }
    }
}

/// This crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
