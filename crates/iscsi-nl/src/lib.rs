//! A user-space iSCSI initiator: RFC 7143 login (None and CHAP), SendTargets discovery, and the
//! hand-off of the logged-in connection to the kernel over NETLINK_ISCSI.
//!
//! Written so far: the pure protocol layer, with no I/O.
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
//! Not written yet: sockets and netlink (issue 6).
#![forbid(unsafe_code)]

pub mod address;
pub mod chap;
pub mod discovery;
pub mod keys;
pub mod login;
pub mod pdu;
pub mod text;
