//! The implemented mode pages: each one's named fields, PAGE CODE and length, and defaults.

use super::{ModePage, PageFields, page_code};
use crate::bits::{Layout, layout};

/// Declares a page: its named fields (a `layout!` structure), their PAGE CODE and [`Default`]
/// values (the others zero), and its type.
macro_rules! page {
    (
        $(#[$doc:meta])* $page:ident, $fields:ident: $what:literal, $code:ident, $len:literal
        { $($body:tt)* } default { $($field:ident: $value:expr),* $(,)? }
    ) => {
        layout! {
            #[doc = concat!("The named fields of [`", stringify!($page), "`].")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $fields: $what, $len { $($body)* }
        }

        impl PageFields for $fields {
            const CODE: u8 = page_code::$code;
        }

        impl Default for $fields {
            fn default() -> Self {
                $fields { $($field: $value,)* ..<$fields as Layout>::read(&[]) }
            }
        }

        $(#[$doc])*
        pub type $page = ModePage<$fields, $len>;
    };
}

page! {
    /// The Read-Write Error Recovery mode page, 01h (SBC-4 6.5); all zeros by default, as LIO.
    ReadWriteErrorRecoveryPage,
    ReadWriteErrorRecovery: "Read-Write Error Recovery mode page", READ_WRITE_ERROR_RECOVERY, 12 {
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
    } default {}
}

page! {
    /// The Caching mode page, 08h (SBC-4 6.5). [`Default`] is `new(true)`: a reported write-back
    /// cache makes initiators send SYNCHRONIZE CACHE, vital on a caching store.
    CachingPage, Caching: "Caching mode page", CACHING, 20 {
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
    } default { wce: true, dra: true }
}

impl CachingPage {
    /// The page this target reports: WCE = `write_cache`, DRA (no read-ahead, as LIO).
    pub fn new(write_cache: bool) -> Self {
        ModePage { fields: Caching { wce: write_cache, ..Caching::default() }, ..Self::cleared() }
    }
}

page! {
    /// The Control mode page, 0Ah (SPC-5 7.5). [`Default`] is what LIO reports for a disk.
    ControlPage, Control: "Control mode page", CONTROL, 12 {
        tst: u8 = "TST" (2, 5, 3),
        tmf_only: bool = "TMF_ONLY" (2, 4, 1),
        dpicz: bool = "DPICZ" (2, 3, 1),
        d_sense: bool = "D_SENSE" (2, 2, 1),
        gltsd: bool = "GLTSD" (2, 1, 1),
        rlec: bool = "RLEC" (2, 0, 1),
        queue_algorithm_modifier: u8 = "QUEUE ALGORITHM MODIFIER" (3, 4, 4),
        nuar: bool = "NUAR" (3, 3, 1),
        qerr: u8 = "QERR" (3, 1, 2),
        rac: bool = "RAC" (4, 6, 1),
        ua_intlck_ctrl: u8 = "UA_INTLCK_CTRL" (4, 4, 2),
        swp: bool = "SWP" (4, 3, 1),
        ato: bool = "ATO" (5, 7, 1),
        tas: bool = "TAS" (5, 6, 1),
        atmpe: bool = "ATMPE" (5, 5, 1),
        rwwp: bool = "RWWP" (5, 4, 1),
        sblp: bool = "SBLP" (5, 3, 1),
        autoload_mode: u8 = "AUTOLOAD MODE" (5, 0, 3),
        /// Busy timeout period in 100 ms units, FFFFh = unlimited.
        busy_timeout_period: u16 = "BUSY TIMEOUT PERIOD" (8, 0, 16),
        /// Extended self-test completion time in seconds.
        extended_self_test_completion_time: u16 =
            "EXTENDED SELF-TEST COMPLETION TIME" (10, 0, 16),
    } default {
        gltsd: true,
        queue_algorithm_modifier: 1,
        tas: true,
        busy_timeout_period: 0xFFFF,
        extended_self_test_completion_time: 30,
    }
}

page! {
    /// The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5). [`Default`] sets only
    /// DEXCPT: the target predicts no failures.
    InformationalExceptionsPage,
    InformationalExceptions: "Informational Exceptions Control mode page",
        INFORMATIONAL_EXCEPTIONS_CONTROL, 12 {
        perf: bool = "PERF" (2, 7, 1),
        ebf: bool = "EBF" (2, 5, 1),
        ewasc: bool = "EWASC" (2, 4, 1),
        dexcpt: bool = "DEXCPT" (2, 3, 1),
        test: bool = "TEST" (2, 2, 1),
        ebackerr: bool = "EBACKERR" (2, 1, 1),
        logerr: bool = "LOGERR" (2, 0, 1),
        mrie: u8 = "MRIE" (3, 0, 4),
        /// Interval timer in 100 ms units.
        interval_timer: u32 = "INTERVAL TIMER" (4, 0, 32),
        report_count: u32 = "REPORT COUNT" (8, 0, 32),
    } default { dexcpt: true }
}
