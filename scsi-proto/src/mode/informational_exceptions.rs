//! The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of [`InformationalExceptionsPage`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct InformationalExceptions: "Informational Exceptions Control mode page", 12 {
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
    }
}

impl PageFields for InformationalExceptions {
    const CODE: u8 = page_code::INFORMATIONAL_EXCEPTIONS_CONTROL;
}

/// The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5). [`Default`] sets only
/// DEXCPT: the target predicts no failures.
pub type InformationalExceptionsPage = ModePage<InformationalExceptions, 12>;

impl Default for InformationalExceptions {
    fn default() -> Self {
        let mut p = InformationalExceptionsPage::cleared();
        p.dexcpt = true;
        p.fields
    }
}
