//! The Read-Write Error Recovery mode page, 01h (SBC-4 6.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of the Read-Write Error Recovery mode page (see
    /// [`ReadWriteErrorRecoveryPage`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ReadWriteErrorRecovery: "Read-Write Error Recovery mode page", 12 {
        /// Automatic write reallocation enabled.
        awre: bool = "AWRE" (2, 7, 1),
        /// Automatic read reallocation enabled.
        arre: bool = "ARRE" (2, 6, 1),
        /// Transfer block.
        tb: bool = "TB" (2, 5, 1),
        /// Read continuous.
        rc: bool = "RC" (2, 4, 1),
        /// Enable early recovery.
        eer: bool = "EER" (2, 3, 1),
        /// Post error.
        per: bool = "PER" (2, 2, 1),
        /// Data terminate on error.
        dte: bool = "DTE" (2, 1, 1),
        /// Disable correction.
        dcr: bool = "DCR" (2, 0, 1),
        read_retry_count: u8 = "READ RETRY COUNT" (3, 0, 8),
        write_retry_count: u8 = "WRITE RETRY COUNT" (8, 0, 8),
        /// Recovery time limit in milliseconds.
        recovery_time_limit: u16 = "RECOVERY TIME LIMIT" (10, 0, 16),
    }
}

impl PageFields for ReadWriteErrorRecovery {
    const CODE: u8 = page_code::READ_WRITE_ERROR_RECOVERY;
}

/// The Read-Write Error Recovery mode page, 01h (SBC-4 6.5), page length 0Ah.
///
/// The default ([`Default`]) is all zeros, as LIO reports: a virtual disk neither retries nor
/// reallocates by itself, the backing store does. `other` holds obsolete bytes 4..=6, LBPERE
/// and the reserved bits of byte 7, and reserved byte 9.
pub type ReadWriteErrorRecoveryPage = ModePage<ReadWriteErrorRecovery, 12>;
