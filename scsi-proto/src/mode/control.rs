//! The Control mode page, 0Ah (SPC-5 7.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of the Control mode page (see [`ControlPage`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Control: "Control mode page", 12 {
        /// Task set type.
        tst: u8 = "TST" (2, 5, 3),
        /// Allow task management functions only.
        tmf_only: bool = "TMF_ONLY" (2, 4, 1),
        /// Disable protection information check if protect field is zero.
        dpicz: bool = "DPICZ" (2, 3, 1),
        /// Descriptor format sense data.
        d_sense: bool = "D_SENSE" (2, 2, 1),
        /// Global logging target save disable.
        gltsd: bool = "GLTSD" (2, 1, 1),
        /// Report log exception condition.
        rlec: bool = "RLEC" (2, 0, 1),
        queue_algorithm_modifier: u8 = "QUEUE ALGORITHM MODIFIER" (3, 4, 4),
        /// No unit attention on release.
        nuar: bool = "NUAR" (3, 3, 1),
        /// Queue error management.
        qerr: u8 = "QERR" (3, 1, 2),
        /// Report a check.
        rac: bool = "RAC" (4, 6, 1),
        /// Unit attention interlocks control.
        ua_intlck_ctrl: u8 = "UA_INTLCK_CTRL" (4, 4, 2),
        /// Software write protect.
        swp: bool = "SWP" (4, 3, 1),
        /// Application tag owner.
        ato: bool = "ATO" (5, 7, 1),
        /// Task aborted status.
        tas: bool = "TAS" (5, 6, 1),
        /// Application tag mode page enabled.
        atmpe: bool = "ATMPE" (5, 5, 1),
        /// Reject write without protection.
        rwwp: bool = "RWWP" (5, 4, 1),
        /// Supported block lengths and protection information.
        sblp: bool = "SBLP" (5, 3, 1),
        autoload_mode: u8 = "AUTOLOAD MODE" (5, 0, 3),
        /// Busy timeout period in 100 ms units, FFFFh = unlimited.
        busy_timeout_period: u16 = "BUSY TIMEOUT PERIOD" (8, 0, 16),
        /// Extended self-test completion time in seconds.
        extended_self_test_completion_time: u16 =
            "EXTENDED SELF-TEST COMPLETION TIME" (10, 0, 16),
    }
}

impl PageFields for Control {
    const CODE: u8 = page_code::CONTROL;
}

/// The Control mode page, 0Ah (SPC-5 7.5), page length 0Ah.
///
/// [`Default`] is what LIO reports for a disk: TST = 0 (one task set), GLTSD = 1 (log
/// parameters are not saved), D_SENSE = 0 (fixed format sense, what most initiators expect),
/// QUEUE ALGORITHM MODIFIER = 1 (unrestricted reordering of SIMPLE commands), QERR = 0,
/// UA_INTLCK_CTRL = 0, SWP = 0, TAS = 1 (commands aborted by another I_T nexus complete with
/// TASK ABORTED), ATO = 0, BUSY TIMEOUT PERIOD = FFFFh (unlimited), EXTENDED SELF-TEST
/// COMPLETION TIME = 30 seconds. `other` holds obsolete bit 0 of byte 3, vendor-specific bit 7
/// and obsolete bits 2..0 of byte 4, and obsolete bytes 6..=7.
pub type ControlPage = ModePage<Control, 12>;

impl Default for Control {
    fn default() -> Self {
        let mut p = ControlPage::cleared();
        p.gltsd = true;
        p.queue_algorithm_modifier = 1;
        p.tas = true;
        p.busy_timeout_period = 0xFFFF;
        p.extended_self_test_completion_time = 30;
        p.fields
    }
}
