//! The Read-Write Error Recovery mode page, 01h (SBC-4 6.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of [`ReadWriteErrorRecoveryPage`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ReadWriteErrorRecovery: "Read-Write Error Recovery mode page", 12 {
        awre: bool = "AWRE" (2, 7, 1),
        arre: bool = "ARRE" (2, 6, 1),
        tb: bool = "TB" (2, 5, 1),
        rc: bool = "RC" (2, 4, 1),
        eer: bool = "EER" (2, 3, 1),
        per: bool = "PER" (2, 2, 1),
        dte: bool = "DTE" (2, 1, 1),
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

/// The Read-Write Error Recovery mode page, 01h (SBC-4 6.5); all zeros by default, as LIO.
pub type ReadWriteErrorRecoveryPage = ModePage<ReadWriteErrorRecovery, 12>;
