//! Extended INQUIRY Data VPD page, 86h (SPC-5 7.7.7, Table 590).

use crate::bits::layout;
use crate::inquiry::Peripheral;

layout! {
    /// Extended INQUIRY Data VPD page, 86h (SPC-5 7.7.7): the fields a disk target uses; every
    /// other field is ignored on parse and emitted as zero.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ExtendedInquiryData: "Extended INQUIRY Data VPD page", 64 {
        /// PERIPHERAL QUALIFIER and PERIPHERAL DEVICE TYPE.
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        /// Supported protection types.
        spt: u8 = "SPT" (4, 3, 3),
        /// The guard tag is checked.
        grd_chk: bool = "GRD_CHK" (4, 2, 1),
        /// The application tag is checked.
        app_chk: bool = "APP_CHK" (4, 1, 1),
        /// The reference tag is checked.
        ref_chk: bool = "REF_CHK" (4, 0, 1),
        /// Sense-key specific data is returned with UNIT ATTENTION.
        uask_sup: bool = "UASK_SUP" (5, 5, 1),
        /// The GROUP NUMBER field is supported.
        group_sup: bool = "GROUP_SUP" (5, 4, 1),
        /// Command priority supported.
        prior_sup: bool = "PRIOR_SUP" (5, 3, 1),
        /// HEAD OF QUEUE task attribute supported.
        headsup: bool = "HEADSUP" (5, 2, 1),
        /// ORDERED task attribute supported.
        ordsup: bool = "ORDSUP" (5, 1, 1),
        /// SIMPLE task attribute supported.
        simpsup: bool = "SIMPSUP" (5, 0, 1),
        /// WRITE UNCORRECTABLE's WR_UNCOR supported.
        wu_sup: bool = "WU_SUP" (6, 3, 1),
        /// Correction disable supported (obsolete in SPC-5).
        crd_sup: bool = "CRD_SUP" (6, 2, 1),
        /// A non-volatile cache exists.
        nv_sup: bool = "NV_SUP" (6, 1, 1),
        /// A volatile cache exists; LIO sets it when write cache emulation is on.
        v_sup: bool = "V_SUP" (6, 0, 1),
        /// Protection information intervals supported.
        p_i_i_sup: bool = "P_I_I_SUP" (7, 4, 1),
        /// I_T nexus loss clears the unit attention.
        luiclr: bool = "LUICLR" (7, 0, 1),
        /// Referrals supported.
        r_sup: bool = "R_SUP" (8, 4, 1),
        /// Capability-based command security (obsolete in SPC-5).
        cbcs: bool = "CBCS" (8, 0, 1),
        /// Microcode download with several I_T nexuses.
        multi_it_nexus_microcode_download: u8 = "MULTI I_T NEXUS MICROCODE DOWNLOAD" (9, 0, 4),
        /// Minutes an extended self-test takes.
        extended_self_test_completion_minutes: u16 =
            "EXTENDED SELF-TEST COMPLETION MINUTES" (10, 0, 16),
        /// Power on activation supported.
        poa_sup: bool = "POA_SUP" (12, 7, 1),
        /// Hard reset activation supported.
        hra_sup: bool = "HRA_SUP" (12, 6, 1),
        /// Vendor specific activation supported.
        vsa_sup: bool = "VSA_SUP" (12, 5, 1),
        /// 0 = not reported.
        maximum_supported_sense_data_length: u8 =
            "MAXIMUM SUPPORTED SENSE DATA LENGTH" (13, 0, 8),
    }
}

fixed_vpd!(ExtendedInquiryData, 0x86);

#[cfg(test)]
mod tests;
