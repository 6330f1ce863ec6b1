use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{FieldPointer, Wire};
use proptest::prelude::*;

#[test]
fn block_device_characteristics_bytes() {
    // LIO with is_nonrot.
    let mut bytes = vec![0x00, 0xB1, 0x00, 0x3C, 0x00, 0x01];
    bytes.resize(64, 0);
    let page = BlockDeviceCharacteristics::parse(&bytes).unwrap();
    assert_eq!(page.medium_rotation_rate, ROTATION_RATE_NON_ROTATING);
    assert_eq!(page, BlockDeviceCharacteristics { medium_rotation_rate: 1, ..Default::default() });
    assert_eq!(page.to_vec(), bytes);

    // 7200 rpm, product type 0, WABEREQ 01b, WACEREQ 10b, 2.5", ZONED 10b, BOCS, FUAB, VBULS.
    let mut bytes = vec![0x00, 0xB1, 0x00, 0x3C, 0x1C, 0x20, 0x00, 0x63, 0x27];
    bytes.resize(64, 0);
    let page = BlockDeviceCharacteristics::parse(&bytes).unwrap();
    assert_eq!(page.medium_rotation_rate, 7200);
    assert_eq!(page.product_type, 0);
    assert_eq!(page.wabereq, 1);
    assert_eq!(page.wacereq, 2);
    assert_eq!(page.nominal_form_factor, 3);
    assert_eq!(page.zoned, 2);
    assert!(page.bocs && page.fuab && page.vbuls);
    assert_eq!(page.to_vec(), bytes);
    let bad = BlockDeviceCharacteristics { zoned: 4, ..page };
    assert_eq!(field_of(bad.to_vec_checked()), ("ZONED", FieldPointer::data(8, Some(5))));
}

proptest! {
    #[test]
    fn block_device_characteristics_roundtrip(x in block_device_characteristics()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn block_device_characteristics_parse_never_panics(bytes in fuzz_input(0xB1)) {
        let _ = BlockDeviceCharacteristics::parse(&bytes);
    }
}
