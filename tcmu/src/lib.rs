//! Serve SCSI block devices to Linux from user space through LIO's TCMU backstore: the facade
//! that ties `scsi-proto`, `tcmu-ring` and `lio-config` together behind a handler trait, with
//! file and memory backends.
//!
//! Serving a [`BlockDevice`] takes no more than
//! `DeviceBuilder::new("name").serve_block(disk)`: the built-in emulation answers every
//! command. To answer some commands yourself, implement [`Handler`] (it gets a decoded
//! [`ScsiCmd`] and answers it or declines it to the emulation) and serve it with
//! [`DeviceBuilder::serve`]. The examples in `examples/` serve a RAM disk, a handler and a
//! read-only image.
//!
//! - [`handler`]: the [`Handler`] trait, the [`ScsiCmd`] it gets, the [`Action`] it returns,
//!   [`TaskManagement`] notices, and [`LogicalUnit`]: a handler in front of the emulation.
//! - [`backend`]: the block-level [`BlockDevice`] trait, [`MemoryDisk`], [`FileDisk`] and the
//!   [`ReadOnly`] wrapper.
//! - [`qcow2`]: [`Qcow2Disk`], a disk in a qcow2 image (QEMU's sparse, copy-on-write format,
//!   with backing files), read and written through the `imago` library.
//! - [`emulate`]: the SBC command set emulated on top of a `BlockDevice`: every command the
//!   kernel hands to a TCMU device, answered from the command's own buffers. It knows no ring:
//!   it reads and fills any [`CommandData`] (a byte vector, or the ring's buffers) and returns
//!   a [`Reply`], which the ring adapter turns into the ring's `Response`.
//! - [`device`]: [`DeviceBuilder`] brings a device up over configfs: its [`DeviceIdentity`]
//!   (vendor, product, serial, write cache), its [`Backstore`] settings (the UIO ring served)
//!   and its [`Export`]s (a loopback LUN and its disk, an iSCSI target); [`Device`] tears it
//!   down in reverse.
//! - [`server`]: the serving loop: threads that take turns to take commands off the ring and
//!   run them, completing out of order, a handler panic answered with CHECK CONDITION.
//!
//! - [`runner`]: runner mode, a drop-in for tcmu-runner: serves the devices other tools make
//!   (targetcli's `user:` backstores) by the [`runner::Subtype`] their config names, told of
//!   them over the kernel's `TCM-USER` netlink family, and takes them back after a restart.
//! - [`mod@cleanup`]: removes what a crashed run left, answering the dead device's ring meanwhile.
//! - [`crash`]: power-cut testing: [`VolatileCache`], a volatile write cache in front of a
//!   device whose power [`PowerSwitch::cut`] cuts.
//! - `rbd` (feature `rbd`, on with `cli`): [`rbd::RbdDisk`], a disk in a Ceph RBD image through
//!   librbd, loaded at run time.
//! - `dbus` (feature `dbus`, on with `cli`): `org.kernel.TCMUService1` on the system bus, the
//!   service targetcli asks which `user:` backstores exist and whether a `create`'s
//!   configuration string is valid.
#![forbid(unsafe_code)]

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod backend;
pub mod cleanup;
pub mod crash;
#[cfg(feature = "dbus")]
pub mod dbus;
pub mod device;
pub mod emulate;
pub mod handler;
pub mod qcow2;
#[cfg(feature = "rbd")]
pub mod rbd;
mod ring_adapter;
pub mod runner;
pub mod server;

pub use backend::{Allocation, BlockDevice, FileDisk, IoRequest, MemoryDisk, NullDisk, ReadOnly};
pub use cleanup::{CleanupReport, cleanup};
pub use crash::{CutReport, Keep, PowerSwitch, VolatileCache};
pub use device::{
    Backstore, DEFAULT_DATA_AREA_MB, Device, DeviceBuilder, DeviceError, DeviceIdentity, Export,
    IscsiExport, Loopback,
};
pub use emulate::{CommandData, Emulator, Identity, Reply};
pub use handler::{
    Action, EmulationOnly, Handler, LogicalUnit, ScsiCmd, TaskFunction, TaskManagement,
};
pub use qcow2::Qcow2Disk;
/// The SCSI bytes a handler reads and answers with.
pub use scsi_proto;
pub use scsi_proto::cdb::{Command, DataDirection, Kind};
pub use scsi_proto::sense::{AdditionalSense, SenseData, SenseFormat, SenseKey};
pub use server::{Doorbell, Server};
