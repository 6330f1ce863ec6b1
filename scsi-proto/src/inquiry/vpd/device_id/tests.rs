use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Wire};
use proptest::prelude::*;

#[test]
fn device_identification_decodes_field_by_field() {
    let bytes = lio_device_identification();
    let page = DeviceIdentification::parse(&bytes).unwrap();
    assert_eq!(page.peripheral, Peripheral::DISK);
    assert_eq!(page.designators.len(), 3);

    let naa = &page.designators[0];
    assert_eq!(naa.protocol_identifier, None);
    assert_eq!(naa.code_set, CODE_SET_BINARY);
    assert_eq!(naa.association, Association::LogicalUnit);
    assert_eq!(naa.to_vec()[1] & 0x0F, 3, "DESIGNATOR TYPE");
    assert_eq!(
        naa.designator,
        DesignatorKind::Naa(Naa::IeeeRegisteredExtended {
            company_id: 0x001405,
            vendor_specific: 0xA_BCDE_F012,
            extension: 0x3456_789A_BCDE_F011,
        })
    );
    assert_eq!(
        *naa,
        Designator::naa_ieee_registered_extended(0x001405, 0xA_BCDE_F012, 0x3456_789A_BCDE_F011)
            .unwrap()
    );

    let t10 = &page.designators[1];
    assert_eq!(t10.protocol_identifier, None);
    assert_eq!(t10.code_set, CODE_SET_ASCII);
    assert_eq!(t10.association, Association::LogicalUnit);
    match &t10.designator {
        DesignatorKind::T10VendorId { vendor, vendor_specific } => {
            assert_eq!(vendor.as_str(), "LIO-ORG");
            assert_eq!(vendor_specific, b"TCMU device:0123");
        }
        other => panic!("not a T10 vendor ID: {other:?}"),
    }
    assert_eq!(*t10, Designator::t10_vendor_id("LIO-ORG", b"TCMU device:0123").unwrap());

    let port = &page.designators[2];
    assert_eq!(port.protocol_identifier, Some(protocol_identifier::ISCSI));
    assert_eq!(port.code_set, CODE_SET_BINARY);
    assert_eq!(port.association, Association::TargetPort);
    assert_eq!(port.designator, DesignatorKind::RelativeTargetPort(1));
    assert_eq!(
        *port,
        Designator::new(
            Some(protocol_identifier::ISCSI),
            Association::TargetPort,
            DesignatorKind::RelativeTargetPort(1)
        )
        .unwrap()
    );

    assert_eq!(page.to_vec(), bytes);
    assert_roundtrip(&page);
}

#[test]
fn device_identification_walk_errors() {
    // The descriptor claims 16 bytes but the page holds 8 more after its header.
    let mut bytes = vec![0x00, 0x83, 0x00, 0x0C, 0x01, 0x03, 0x00, 0x10];
    bytes.extend_from_slice(&[0x60, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12]);
    assert_eq!(
        DeviceIdentification::parse(&bytes).unwrap_err(),
        Error::InvalidField {
            what: "Device Identification VPD page",
            field: "DESIGNATOR LENGTH",
            pointer: FieldPointer::data(7, None),
        }
    );
    // Same with the buffer holding the rest: the page length still bounds the walk.
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(
        field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
        ("DESIGNATOR LENGTH", FieldPointer::data(7, None))
    );
    // The second descriptor overruns: pointer at its byte 3 (page offset 4 + 8 + 3).
    let bytes =
        [0x00, 0x83, 0x00, 0x0E, 0x01, 0x06, 0x00, 0x04, 0, 0, 0, 1, 0x01, 0x04, 0x00, 0x09, 0, 0];
    assert_eq!(
        field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
        ("DESIGNATOR LENGTH", FieldPointer::data(15, None))
    );
    // Two stray bytes after the last descriptor.
    let bytes = [0x00, 0x83, 0x00, 0x0A, 0x01, 0x06, 0x00, 0x04, 0, 0, 0, 1, 0, 0];
    assert_eq!(
        field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
        ("PAGE LENGTH", FieldPointer::data(2, None))
    );
    // Association 11b is reserved.
    let bytes = [0x00, 0x83, 0x00, 0x08, 0x01, 0x34, 0x00, 0x04, 0, 0, 0, 1];
    assert_eq!(
        field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
        ("ASSOCIATION", FieldPointer::data(5, Some(5)))
    );
    // A relative target port designator must be 4 bytes.
    let bytes = [0x00, 0x83, 0x00, 0x06, 0x01, 0x14, 0x00, 0x02, 0, 1];
    assert_eq!(
        field_of(DeviceIdentification::parse(&bytes).unwrap_err()),
        ("DESIGNATOR LENGTH", FieldPointer::data(7, None))
    );
    // An empty page is fine.
    let page = DeviceIdentification::parse(&[0x00, 0x83, 0x00, 0x00]).unwrap();
    assert!(page.designators.is_empty());
}

proptest! {
    #[test]
    fn device_identification_roundtrips(x in device_identification()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn device_identification_parse_never_panics(bytes in fuzz_input(0x83)) {
        // Whatever it decodes must emit again without panicking.
        if let Ok(page) = DeviceIdentification::parse(&bytes) {
            let _ = page.emit(&mut vec![0; page.buffer_len()]);
        }
    }
}
