//! The `tcmu` program's errors: what it prints after `tcmu: `, each with the context a user
//! needs (the file, the option, the command that undoes what was left).

use crate::iscsi_cmd;
use std::io;

/// Why a command failed: what `tcmu` prints after `tcmu: `.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// `tcmu iscsi ...` failed.
    #[error(transparent)]
    Iscsi(#[from] iscsi_cmd::Error),
    /// A CHAP secret could not be read.
    #[error(transparent)]
    Secret(#[from] iscsi_cmd::SecretError),
    /// A CHAP secret LIO would take as none.
    #[error("the CHAP secret from {from} is empty (or NULL, which LIO takes as none)")]
    EmptySecret { from: String },
    /// Mutual CHAP with one secret both ways.
    #[error("the mutual CHAP secret must differ from the initiator's")]
    SameMutualSecret,
    /// An iSCSI export off the loopback without CHAP, and no --no-auth.
    #[error(
        "exporting on {portal} without CHAP lets any initiator that reaches it read and \
         write the disk: add --chap-initiator/--chap-user, or --no-auth if you mean it"
    )]
    OpenExport { portal: String },
    /// A bad --size.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// No name was given and none could be made from the image's.
    #[error("cannot name a device after {0}; pass --name")]
    NoName(String),
    /// A memory disk of no whole number of blocks.
    #[error("--size {size} is not a positive multiple of the block size {block_size}")]
    MemorySize { size: u64, block_size: u32 },
    /// --direct with a qcow2 image.
    #[error(
        "{0} is a qcow2 image: --direct is for raw images and block devices only (a qcow2 \
         image is read and written through the page cache; leave out --direct)"
    )]
    Qcow2Direct(String),
    /// --size on an image served raw that holds a qcow2 header.
    #[error(
        "{0} holds a qcow2 image but is served raw (its name does not end in .qcow2): --size \
         would grow it as raw; pass --format qcow2 to serve it as qcow2 (qemu-img resize grows \
         a qcow2 image)"
    )]
    GrowQcow2AsRaw(String),
    /// --size with --read-only.
    #[error("--size creates or grows the image; it cannot go with --read-only")]
    SizeReadOnly,
    /// An `rbd:` image with an option for image files.
    #[error(
        "--size, --format and --direct are for image files: an RBD image is created and resized \
         with `rbd create` / `rbd resize`"
    )]
    RbdFileOptions,
    /// `--alua-group` for something other than a writable RBD image served without
    /// --crash-test.
    #[error(
        "--alua-group serves an RBD image as one of several gateways (the image's exclusive lock \
         decides which writes) through LIO's iSCSI fabric: it needs an rbd: image and --iscsi, \
         and none of --read-only, --crash-test, --write-cache or --node (no local disk)"
    )]
    AluaNeedsRbd,
    /// Target port groups that cannot be reported.
    #[error("--alua-group: {0}")]
    PortGroups(#[from] tcmu::emulate::alua::PortGroupsError),
    /// An `rbd:` argument that does not parse.
    #[error("{0}: {1}")]
    Rbd(String, ceph_rbd::SpecError),
    /// The image (or memory) could not be opened or made; the error names the image.
    #[error(transparent)]
    Disk(io::Error),
    /// The device could not be made, served or removed; or cleanup failed.
    #[error(transparent)]
    Device(#[from] tcmu::DeviceError),
    /// LIO's configfs could not be read.
    #[error(transparent)]
    ConfigFs(#[from] lio_config::Error),
    /// `tcmu runner` could not start or stopped on an error.
    #[error(transparent)]
    Runner(#[from] tcmu::runner::RunnerError),
    /// `tcmu runner --check` refused the config.
    #[error("{0}")]
    Check(String),
    /// The stop signals could not be set up or read.
    #[error("{what}: {source}")]
    Signals { what: &'static str, source: nix::errno::Errno },
    /// --crash-test's cache could not be written back.
    #[error("--crash-test: writing the cache back to the image {when}: {source}")]
    WriteBack { when: &'static str, source: io::Error },
    /// Serving ended on its own.
    #[error("stopped serving {name}: {why} (what was left of the device is removed)")]
    ServingEnded { name: String, why: EndCause },
    /// Two failures, in the order they happened.
    #[error("{0}; {1}")]
    Both(Box<CliError>, Box<CliError>),
}

/// Why serving ended without a signal.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EndCause {
    /// The doorbell failed: the kernel removed the device.
    #[error(
        "the kernel's device is gone ({0}); was it removed by `tcmu cleanup --force` or \
         another tool?"
    )]
    DeviceGone(io::Error),
    /// The teardown failed.
    #[error(transparent)]
    Teardown(tcmu::DeviceError),
    /// Nothing failed, yet serving ended.
    #[error("serving ended")]
    NoError,
}

/// A bad --size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SizeError {
    /// Not a number with an optional K, M, G or T.
    #[error("size {0:?} is not a number")]
    NotANumber(String),
    /// More than 64 bits of bytes.
    #[error("size {0:?} is too large")]
    TooLarge(String),
}

/// A bad --block-size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BlockSizeError {
    /// Not a number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// Not a power of two in range.
    #[error(
        "{0} is not a power of two from {min} to {max}",
        min = tcmu::backend::MIN_BLOCK_SIZE,
        max = tcmu::backend::MAX_BLOCK_SIZE
    )]
    Invalid(u32),
}
