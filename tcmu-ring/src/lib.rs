//! The kernel's TCMU command ring (`include/uapi/linux/target_core_user.h`), consumed safely.
//!
//! - [`layout`]: the mailbox, entries, iovecs and TMR entries as zerocopy types, every size and
//!   offset checked at compile time against the UAPI header.
//! - [`region`]: the shared memory and every `unsafe` operation on it.
//! - [`ring`]: the consumer: validates the mailbox and every entry, hands out commands with
//!   their CDB copied and their data buffers as slices of the shared data area (zero-copy),
//!   completes them out of order when the kernel allows it, and batches notifications.
//! - [`uio`]: the kernel's UIO device for a TCMU backstore: discovery in sysfs, mapping,
//!   waiting and notifying.
//! - [`doorbell`]: the [`Doorbell`] a serving loop waits on and notifies, implemented by
//!   [`Uio`] (by polling it).
//! - `sim` (feature `sim`): a simulated kernel placing commands as `target_core_user.c` does,
//!   and its doorbell (`SimDoorbell`), for tests, fuzzing and benchmarks without root or a VM.
#![deny(unsafe_code)]

pub mod doorbell;
pub mod layout;
#[allow(unsafe_code)]
pub mod region;
pub mod ring;
#[cfg(feature = "sim")]
pub mod sim;
pub mod uio;

/// The README's example, compiled and run as a doc test (it needs the `sim` feature).
#[cfg(all(doctest, feature = "sim"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use doorbell::Doorbell;
pub use layout::MailboxFlags;
pub use region::SharedRegion;
pub use ring::{
    DataBuffers, Entry, Geometry, HeadWatch, Response, Ring, RingCommand, RingError, Tmr,
};
pub use uio::{Uio, UioError, UioInfo};
