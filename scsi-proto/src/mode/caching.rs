//! The Caching mode page, 08h (SBC-4 6.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of [`CachingPage`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Caching: "Caching mode page", 20 {
        ic: bool = "IC" (2, 7, 1),
        abpf: bool = "ABPF" (2, 6, 1),
        cap: bool = "CAP" (2, 5, 1),
        disc: bool = "DISC" (2, 4, 1),
        size: bool = "SIZE" (2, 3, 1),
        wce: bool = "WCE" (2, 2, 1),
        mf: bool = "MF" (2, 1, 1),
        rcd: bool = "RCD" (2, 0, 1),
        demand_read_retention_priority: u8 = "DEMAND READ RETENTION PRIORITY" (3, 4, 4),
        write_retention_priority: u8 = "WRITE RETENTION PRIORITY" (3, 0, 4),
        disable_prefetch_transfer_length: u16 = "DISABLE PRE-FETCH TRANSFER LENGTH" (4, 0, 16),
        minimum_prefetch: u16 = "MINIMUM PRE-FETCH" (6, 0, 16),
        maximum_prefetch: u16 = "MAXIMUM PRE-FETCH" (8, 0, 16),
        maximum_prefetch_ceiling: u16 = "MAXIMUM PRE-FETCH CEILING" (10, 0, 16),
        fsw: bool = "FSW" (12, 7, 1),
        lbcss: bool = "LBCSS" (12, 6, 1),
        dra: bool = "DRA" (12, 5, 1),
        nv_dis: bool = "NV_DIS" (12, 0, 1),
        number_of_cache_segments: u8 = "NUMBER OF CACHE SEGMENTS" (13, 0, 8),
        cache_segment_size: u16 = "CACHE SEGMENT SIZE" (14, 0, 16),
    }
}

impl PageFields for Caching {
    const CODE: u8 = page_code::CACHING;
}

/// The Caching mode page, 08h (SBC-4 6.5). [`Default`] is `new(true)`: a reported write-back
/// cache makes initiators send SYNCHRONIZE CACHE, vital on a caching store.
pub type CachingPage = ModePage<Caching, 20>;

impl CachingPage {
    /// The page this target reports: WCE = `write_cache`, DRA (no read-ahead, as LIO).
    pub fn new(write_cache: bool) -> Self {
        let mut p = Self::cleared();
        p.wce = write_cache;
        p.dra = true;
        p
    }
}

impl Default for Caching {
    fn default() -> Self {
        CachingPage::new(true).fields
    }
}
