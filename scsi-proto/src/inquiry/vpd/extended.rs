use crate::bits::layout;
use crate::inquiry::Peripheral;

layout! {
    /// Extended INQUIRY Data VPD page, 86h (SPC-5 7.7.7, Table 590): the fields a disk target uses;
    /// every other field is ignored on parse and emitted as zero.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ExtendedInquiryData: "Extended INQUIRY Data VPD page", 64 {
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        spt: u8 = "SPT" (4, 3, 3),
        grd_chk: bool = "GRD_CHK" (4, 2, 1),
        app_chk: bool = "APP_CHK" (4, 1, 1),
        ref_chk: bool = "REF_CHK" (4, 0, 1),
        uask_sup: bool = "UASK_SUP" (5, 5, 1),
        group_sup: bool = "GROUP_SUP" (5, 4, 1),
        prior_sup: bool = "PRIOR_SUP" (5, 3, 1),
        headsup: bool = "HEADSUP" (5, 2, 1),
        ordsup: bool = "ORDSUP" (5, 1, 1),
        simpsup: bool = "SIMPSUP" (5, 0, 1),
        wu_sup: bool = "WU_SUP" (6, 3, 1),
        crd_sup: bool = "CRD_SUP" (6, 2, 1),
        nv_sup: bool = "NV_SUP" (6, 1, 1),
        v_sup: bool = "V_SUP" (6, 0, 1),
        p_i_i_sup: bool = "P_I_I_SUP" (7, 4, 1),
        luiclr: bool = "LUICLR" (7, 0, 1),
        r_sup: bool = "R_SUP" (8, 4, 1),
        cbcs: bool = "CBCS" (8, 0, 1),
        multi_it_nexus_microcode_download: u8 = "MULTI I_T NEXUS MICROCODE DOWNLOAD" (9, 0, 4),
        extended_self_test_completion_minutes: u16 =
            "EXTENDED SELF-TEST COMPLETION MINUTES" (10, 0, 16),
        poa_sup: bool = "POA_SUP" (12, 7, 1),
        hra_sup: bool = "HRA_SUP" (12, 6, 1),
        vsa_sup: bool = "VSA_SUP" (12, 5, 1),
        maximum_supported_sense_data_length: u8 =
            "MAXIMUM SUPPORTED SENSE DATA LENGTH" (13, 0, 8),
    }
}

#[cfg(test)]
mod tests;
