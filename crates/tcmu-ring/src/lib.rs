//! The kernel's TCMU command ring (`include/uapi/linux/target_core_user.h`): the mailbox,
//! command and TMR entries and their completions, laid out with zerocopy over the memory mapped
//! from a UIO device, consumed safely with out-of-order completion and zero-copy data buffers,
//! plus a simulated kernel for tests, fuzzing and benchmarks.
//!
//! Not written yet: see issue 3.
