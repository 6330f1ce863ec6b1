//! A user-space iSCSI initiator: RFC 7143 login (None and CHAP), SendTargets discovery, and the
//! hand-off of the logged-in connection to the kernel over NETLINK_ISCSI.
//!
//! Not written yet: see issue 6.
#![forbid(unsafe_code)]
