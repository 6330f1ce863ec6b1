use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{FieldPointer, Wire};
use proptest::prelude::*;

#[test]
fn logical_block_provisioning_bytes() {
    // LIO with emulate_tpu, emulate_tpws and unmap_zeroes_data.
    let bytes = [0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x00, 0x00];
    let page = LogicalBlockProvisioning::parse(&bytes).unwrap();
    assert_eq!(
        page,
        LogicalBlockProvisioning {
            lbpu: true,
            lbpws: true,
            lbpws10: true,
            lbprz: 1,
            ..Default::default()
        }
    );
    assert_eq!(page.to_vec(), bytes);

    // DP with an NAA 5h provisioning group descriptor; minimum percentage 10, thin.
    let bytes = [
        0x00, 0xB2, 0x00, 0x10, 0x08, 0x1B, 0x52, 0x50, 0x01, 0x03, 0x00, 0x08, 0x50, 0x01, 0x40,
        0x5A, 0xBC, 0xDE, 0xF0, 0x12,
    ];
    let page = LogicalBlockProvisioning::parse(&bytes).unwrap();
    assert_eq!(page.threshold_exponent, 8);
    assert!(!page.lbpu && !page.lbpws && !page.lbpws10);
    assert_eq!(page.lbprz, 0b110);
    assert!(page.anc_sup);
    assert_eq!(page.minimum_percentage, 10);
    assert_eq!(page.provisioning_type, PROVISIONING_TYPE_THIN);
    assert_eq!(page.threshold_percentage, 0x50);
    assert_eq!(page.provisioning_group, Some(naa5(0x001405, 0xA_BCDE_F012).unwrap()));
    assert_eq!(page.to_vec(), bytes);

    // DP set but no room for the descriptor, or a descriptor overrunning the page.
    let bytes = [0x00, 0xB2, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00];
    assert_eq!(field_of(LogicalBlockProvisioning::parse(&bytes).unwrap_err()).0, "PAGE LENGTH");
    let bytes = [0x00, 0xB2, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x01, 0x03, 0x00, 0x08];
    assert_eq!(
        field_of(LogicalBlockProvisioning::parse(&bytes).unwrap_err()),
        ("DESIGNATOR LENGTH", FieldPointer::data(11, None))
    );
    // PAGE LENGTH below 4.
    let bytes = [0x00, 0xB2, 0x00, 0x02, 0x00, 0x00];
    assert!(LogicalBlockProvisioning::parse(&bytes).is_err());
    let bad = LogicalBlockProvisioning { provisioning_type: 8, ..Default::default() };
    assert_eq!(field_of(bad.to_vec_checked()).0, "PROVISIONING TYPE");
}

proptest! {
    #[test]
    fn logical_block_provisioning_roundtrips(x in logical_block_provisioning()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn logical_block_provisioning_parse_never_panics(bytes in fuzz_input(0xB2)) {
        let _ = LogicalBlockProvisioning::parse(&bytes);
    }
}
