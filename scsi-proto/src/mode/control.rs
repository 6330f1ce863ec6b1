//! The Control mode page, 0Ah (SPC-5 7.5).

use super::{ModePage, PageFields, page_code};

crate::bits::layout! {
    /// The named fields of [`ControlPage`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Control: "Control mode page", 12 {
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
    }
}

impl PageFields for Control {
    const CODE: u8 = page_code::CONTROL;
}

/// The Control mode page, 0Ah (SPC-5 7.5). [`Default`] is what LIO reports for a disk.
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
