//! The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of the Informational Exceptions Control mode page (see
    /// [`InformationalExceptionsPage`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct InformationalExceptions: "Informational Exceptions Control mode page", 12 {
        /// Performance.
        perf: bool = "PERF" (2, 7, 1),
        /// Enable background function.
        ebf: bool = "EBF" (2, 5, 1),
        /// Enable warning.
        ewasc: bool = "EWASC" (2, 4, 1),
        /// Disable exception control.
        dexcpt: bool = "DEXCPT" (2, 3, 1),
        test: bool = "TEST" (2, 2, 1),
        /// Enable background error reporting.
        ebackerr: bool = "EBACKERR" (2, 1, 1),
        /// Log errors.
        logerr: bool = "LOGERR" (2, 0, 1),
        /// Method of reporting informational exceptions.
        mrie: u8 = "MRIE" (3, 0, 4),
        /// Interval timer in 100 ms units.
        interval_timer: u32 = "INTERVAL TIMER" (4, 0, 32),
        report_count: u32 = "REPORT COUNT" (8, 0, 32),
    }
}

impl PageFields for InformationalExceptions {
    const CODE: u8 = page_code::INFORMATIONAL_EXCEPTIONS_CONTROL;
}

/// The Informational Exceptions Control mode page, 1Ch (SPC-5 7.5), page length 0Ah.
///
/// [`Default`] has DEXCPT = 1 (informational exception reporting disabled: the target does
/// not predict failures, the backing store's own monitoring does) and every other field zero.
/// `other` holds reserved bit 6 of byte 2 and reserved bits 7..4 of byte 3.
pub type InformationalExceptionsPage = ModePage<InformationalExceptions, 12>;

impl Default for InformationalExceptions {
    fn default() -> Self {
        let mut p = InformationalExceptionsPage::cleared();
        p.dexcpt = true;
        p.fields
    }
}
