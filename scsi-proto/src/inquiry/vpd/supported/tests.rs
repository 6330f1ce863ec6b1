use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, Wire};
use proptest::prelude::*;

#[test]
fn supported_vpd_pages_of_lio() {
    let bytes = [0x00, 0x00, 0x00, 0x08, 0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xB3];
    let page = SupportedVpdPages::parse(&bytes).unwrap();
    assert_eq!(page.peripheral, Peripheral::DISK);
    assert_eq!(page.pages, [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2, 0xB3]);
    assert_eq!(page.to_vec(), bytes);
    // A page truncated by the allocation length is an error for the page parsers.
    assert!(matches!(
        SupportedVpdPages::parse(&bytes[..10]),
        Err(Error::Truncated { needed: 12, actual: 10, .. })
    ));
    // Extra bytes after the page are not part of it.
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0xEE; 4]);
    assert_eq!(SupportedVpdPages::parse(&longer).unwrap(), page);
}

proptest! {
    #[test]
    fn supported_vpd_pages_roundtrip(x in supported_vpd_pages()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn supported_vpd_pages_parse_never_panics(bytes in fuzz_input(0x00)) {
        let _ = SupportedVpdPages::parse(&bytes);
    }
}
