use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{FieldPointer, Wire};
use proptest::prelude::*;

#[test]
fn extended_inquiry_data_of_lio_and_every_field() {
    // LIO with write cache emulation: HEADSUP, ORDSUP, SIMPSUP, V_SUP.
    let mut bytes = vec![0x00, 0x86, 0x00, 0x3C, 0x00, 0x07, 0x01];
    bytes.resize(64, 0);
    let page = ExtendedInquiryData::parse(&bytes).unwrap();
    assert_eq!(
        page,
        ExtendedInquiryData {
            headsup: true,
            ordsup: true,
            simpsup: true,
            v_sup: true,
            ..Default::default()
        }
    );
    assert_eq!(page.to_vec(), bytes);

    let mut bytes = vec![
        0x00, 0x86, 0x00, 0x3C, //
        0x1D, // SPT 011b, GRD_CHK, REF_CHK
        0x3A, // UASK_SUP, GROUP_SUP, PRIOR_SUP, ORDSUP
        0x0E, // WU_SUP, CRD_SUP, NV_SUP
        0x11, // P_I_I_SUP, LUICLR
        0x11, // R_SUP, CBCS
        0x05, // MULTI I_T NEXUS MICROCODE DOWNLOAD
        0x01, 0x2C, // 300 minutes
        0xE0, // POA_SUP, HRA_SUP, VSA_SUP
        0xFC, // MAXIMUM SUPPORTED SENSE DATA LENGTH
    ];
    bytes.resize(64, 0);
    let page = ExtendedInquiryData::parse(&bytes).unwrap();
    assert_eq!(page.spt, 3);
    assert!(page.grd_chk && !page.app_chk && page.ref_chk);
    assert!(page.uask_sup && page.group_sup && page.prior_sup);
    assert!(!page.headsup && page.ordsup && !page.simpsup);
    assert!(page.wu_sup && page.crd_sup && page.nv_sup && !page.v_sup);
    assert!(page.p_i_i_sup && page.luiclr);
    assert!(page.r_sup && page.cbcs);
    assert_eq!(page.multi_it_nexus_microcode_download, 5);
    assert_eq!(page.extended_self_test_completion_minutes, 300);
    assert!(page.poa_sup && page.hra_sup && page.vsa_sup);
    assert_eq!(page.maximum_supported_sense_data_length, 252);
    assert_eq!(page.to_vec(), bytes);

    let bad = ExtendedInquiryData { spt: 8, ..page };
    assert_eq!(field_of(bad.to_vec_checked()), ("SPT", FieldPointer::data(4, Some(5))));
}

proptest! {
    #[test]
    fn extended_inquiry_data_roundtrips(x in extended_inquiry_data()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn extended_inquiry_data_parse_never_panics(bytes in fuzz_input(0x86)) {
        let _ = ExtendedInquiryData::parse(&bytes);
    }
}
