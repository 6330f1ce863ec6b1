use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{FieldPointer, Wire};
use proptest::prelude::*;

#[test]
fn unit_serial_number_with_lio_nul_terminator() {
    let serial = "5c3f8e0a-4ac9-4f3a-9b26-2e8d3c5f7a11";
    let mut bytes = vec![0x00, 0x80, 0x00, 0x25];
    bytes.extend_from_slice(serial.as_bytes());
    bytes.push(0);
    let page = UnitSerialNumber::parse(&bytes).unwrap();
    assert_eq!(page.serial(), serial);
    assert_eq!(page.to_vec().len(), 4 + 37);
    assert_eq!(page.to_vec(), bytes);

    let padded = UnitSerialNumber::new(Peripheral::DISK, "     ABC").unwrap();
    assert_eq!(padded.serial(), "ABC");
    assert_eq!(
        padded.to_vec(),
        [0x00, 0x80, 0x00, 0x08, b' ', b' ', b' ', b' ', b' ', b'A', b'B', b'C']
    );
    assert_eq!(
        field_of(UnitSerialNumber::new(Peripheral::DISK, "serial\n").unwrap_err()),
        ("PRODUCT SERIAL NUMBER", FieldPointer::data(4, None))
    );
    let mut bad = bytes.clone();
    bad[5] = 0x80;
    assert!(UnitSerialNumber::parse(&bad).is_err());
}

proptest! {
    #[test]
    fn unit_serial_number_roundtrips(x in unit_serial_number()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn unit_serial_number_parse_never_panics(bytes in fuzz_input(0x80)) {
        let _ = UnitSerialNumber::parse(&bytes);
    }
}
