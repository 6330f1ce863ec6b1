//! A user-space iSCSI initiator: RFC 7143 login (None and CHAP), SendTargets discovery, and the
//! hand-off of the logged-in connection to the kernel over NETLINK_ISCSI.
//!
//! The protocol layer has no I/O; [`connect`] drives it over TCP and [`kernel`] hands the
//! logged-in connection to the kernel. [`attach()`] and [`detach()`] do an initiator's whole job:
//! an `iscsi://HOST/TARGET/LUN` in, a `/dev/sdX` out, and back.
//!
//! - [`chap`]: CHAP with MD5 (RFC 1994, RFC 7143 12.1.3), the initiator's side with mutual
//!   authentication, secrets kept out of `Debug`.
//! - [`pdu`]: the Basic Header Segment, the typed PDUs of login, discovery and logout, and
//!   their framing on the byte stream (AHS, padding, CRC32C digests).
//! - [`text`]: the `key=value` text of Login and Text PDUs, texts spanning several PDUs, and
//!   the value forms (numbers in decimal, hex and base64, binary values, booleans, lists).
//! - [`keys`]: the login and operational keys of RFC 7143 with their negotiation rules and
//!   ranges, checking a target's answers and answering its offers, and [`keys::SessionParams`]
//!   with the RFC defaults and the negotiated results.
//! - [`address`]: the TargetAddress value (`host[:port][,tpgt]`, IPv6 in brackets).
//! - [`login`]: the initiator's login as a pure state machine (security stage with None or
//!   CHAP, operational negotiation, continuation, redirection, every login status as a typed
//!   error), ending in a [`login::Session`].
//! - [`discovery`]: SendTargets over a discovery session (multi-PDU answers via the Target
//!   Transfer Tag) into [`discovery::DiscoveredTarget`]s, then the logout.
//!
//! - [`connect`]: the blocking TCP driver over `std::net`: connecting to a portal, login
//!   with redirections, a whole discovery session, and logout.
//!
//! - [`netlink`]: NETLINK_ISCSI messages (`struct iscsi_uevent` of `include/scsi/iscsi_if.h`)
//!   built and parsed with netlink-packet-core, sent with netlink-sys; kernel events queued.
//! - [`kernel`]: the hand-off (create session and connection, bind the socket, set every
//!   negotiated parameter, start), scanning for the new disks, finding sessions in sysfs, and
//!   the logout (disks removed first, so their caches flush over the live connection).
//!
//! - [`attach()`] logs in, hands the session to the kernel, scans and waits for the LUN's disk
//!   ([`AttachedDisk`]), noting the session in a state directory ([`DEFAULT_STATE_DIR`]);
//!   [`detach()`] ends the sessions it made, refusing while a disk is mounted or held
//!   ([`Busy`]). Both need root, the `iscsi_tcp` module and a target.
//!
//! The `tcmu iscsi discover | login | logout` commands are a thin layer over it; `cargo xtask vm-test`
//! logs in to LIO's iSCSI fabric in a real 6.1 kernel with no auth, one-way and mutual CHAP.
#![forbid(unsafe_code)]

/// The README's example, compiled as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod address;
mod attach;
pub mod chap;
pub mod connect;
pub mod discovery;
pub mod kernel;
pub mod keys;
pub mod list;
pub mod login;
pub mod netlink;
pub mod pdu;
pub mod supervise;
pub mod text;

pub use attach::{
    AttachError, AttachOptions, AttachedDisk, Busy, DEFAULT_STATE_DIR, DetachError, DetachOptions,
    Detached, Detaching, IscsiUrl, SessionProblem, Sessions, attach, default_initiator_name,
    detach,
};
pub use list::{ListedSession, list_sessions};
pub use supervise::Supervisor;

// Every parser on arbitrary bytes, for the cargo-fuzz target `iscsi_pdu`: built only under
// `--cfg fuzzing` (which cargo-fuzz sets) and for this crate's tests, so it is no public API.
#[cfg(any(fuzzing, test))]
mod fuzz;
#[cfg(fuzzing)]
pub use fuzz::fuzz_parse;
