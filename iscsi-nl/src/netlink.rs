//! NETLINK_ISCSI (netlink protocol 8): how user space drives the kernel's iSCSI initiator
//! (`scsi_transport_iscsi` with the `iscsi_tcp` transport), as `iscsid` does.
//!
//! - [`codes`]: event types, parameters, error codes and flags of `iscsi_if.h`.
//! - [`uevent`]: the `struct iscsi_uevent` wire layout, typed [`Request`]s, and the
//!   [`Reply`]s and [`Event`]s read back.
//! - [`message`]: the netlink framing, with `netlink-packet-core`.
//! - [`socket`]: [`IscsiNetlink`], the socket that sends requests, waits for their replies
//!   and keeps kernel events.
//!
//! The layouts and numbers are those of Linux 6.1 (Debian 12) on 64-bit machines.

pub mod codes;
pub mod message;
pub mod socket;
pub mod uevent;

#[cfg(test)]
mod tests;

pub use codes::{ConnLoginState, IscsiErr, Param, StopConnFlag, UeventType};
pub use message::{Incoming, Outgoing, decode_datagram, encode_request};
pub use socket::{IscsiNetlink, NetlinkError, Step};
pub use uevent::{EncodeError, Event, ParseError, RawUevent, Reply, Request, UEVENT_SIZE};
