//! Typed operations on LIO's configfs tree (`/sys/kernel/config/target`): TCMU user
//! backstores, tcm_loop loopback targets and iSCSI targets, their discovery and teardown.
//!
//! Not written yet: see issue 4.
#![forbid(unsafe_code)]
