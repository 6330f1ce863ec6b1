//! Serve SCSI block devices to Linux from user space through LIO's TCMU backstore: the facade
//! that ties `scsi-proto`, `tcmu-ring` and `lio-config` together behind a handler trait, with
//! file and memory backends.
//!
//! - [`backend`]: the block-level [`BlockDevice`] trait, [`MemoryDisk`], [`FileDisk`] and the
//!   [`ReadOnly`] wrapper.
//! - [`emulate`]: the SBC command set emulated on top of a `BlockDevice`: every command the
//!   kernel hands to a TCMU device, answered from the command's own buffers. It knows no ring:
//!   it reads and fills any [`CommandData`] (a byte vector, or the ring's buffers) and returns
//!   a [`Reply`], which the ring adapter turns into the ring's `Response`.
//! - [`device`]: [`DeviceBuilder`] brings a device up over configfs (backstore, UIO ring served,
//!   loopback LUN, the disk found) and [`Device`] tears it down in reverse.
//! - [`server`]: the serving loop: a ring thread, worker threads completing out of order, a
//!   handler panic answered with CHECK CONDITION; the command-level [`CommandHandler`] with
//!   fallback to the emulation.
//!
//! - [`mod@cleanup`]: removes what a crashed run left, answering the dead device's ring meanwhile.
//! - [`crash`]: power-cut testing: [`VolatileCache`], a volatile write cache in front of a
//!   device whose power [`PowerSwitch::cut`] cuts.
#![forbid(unsafe_code)]

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod backend;
pub mod cleanup;
pub mod crash;
pub mod device;
pub mod emulate;
mod ring_adapter;
pub mod server;

pub use backend::{Allocation, BlockDevice, FileDisk, MemoryDisk, NullDisk, ReadOnly};
pub use cleanup::{CleanupReport, cleanup};
pub use crash::{CutReport, Keep, PowerSwitch, VolatileCache};
pub use device::{Device, DeviceBuilder, DeviceError, IscsiExport};
pub use emulate::{CommandData, Emulator, Identity, Reply};
pub use server::{CommandHandler, Doorbell, Handler, Server, WithFallback};
