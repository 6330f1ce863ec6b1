//! Serve SCSI block devices to Linux from user space through LIO's TCMU backstore: the facade
//! that ties `scsi-proto`, `tcmu-ring` and `lio-config` together behind a handler trait, with
//! file and memory backends, and the `tcmu` command-line program.
//!
//! Not written yet: see issue 4.
#![forbid(unsafe_code)]
