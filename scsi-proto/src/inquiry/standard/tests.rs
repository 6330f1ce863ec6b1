use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Wire};
use proptest::collection::vec;
use proptest::prelude::*;

/// What LIO returns for a TCMU-backed disk exported over iSCSI, with the default ALUA port
/// group (SCCS, TPGS 11b) and emulate_3pc on: spc_emulate_inquiry_std() writes VERSION 06h,
/// ADDITIONAL LENGTH 91 and the SAM-5, iSCSI, SPC-4 and SBC-3 version descriptors.
fn lio_tcmu_inquiry() -> Vec<u8> {
    let mut v = vec![
        0x00, // PQ 000b, PDT 00h
        0x00, // RMB 0, LU_CONG 0
        0x06, // VERSION: SPC-4
        0x02, // NORMACA 0, HISUP 0, RESPONSE DATA FORMAT 2
        0x5B, // ADDITIONAL LENGTH 91
        0xB8, // SCCS 1, ACC 0, TPGS 11b, 3PC 1, PROTECT 0
        0x00, // ENCSERV 0, MULTIP 0
        0x02, // CMDQUE 1
    ];
    v.extend_from_slice(b"LIO-ORG ");
    v.extend_from_slice(b"TCMU device     ");
    v.extend_from_slice(b"0002");
    v.extend_from_slice(&[0; 22]); // vendor specific 36..56, bytes 56..58
    v.extend_from_slice(&[0x00, 0xA0, 0x09, 0x60, 0x04, 0x60, 0x04, 0xC0]);
    v.extend_from_slice(&[0; 30]); // descriptors 5..8, reserved 74..96
    assert_eq!(v.len(), 96);
    v
}

#[test]
fn lio_standard_inquiry_decodes_field_by_field() {
    let bytes = lio_tcmu_inquiry();
    let inq = StandardInquiry::parse(&bytes).unwrap();
    assert_eq!(inq.peripheral, Peripheral::DISK);
    assert!(!inq.rmb && !inq.lu_cong);
    assert_eq!(inq.hot_pluggable, 0);
    assert_eq!(inq.version, VERSION_SPC4);
    assert!(!inq.normaca && !inq.hisup);
    assert_eq!(inq.response_data_format, 2);
    assert!(inq.sccs && !inq.acc);
    assert_eq!(inq.tpgs, TPGS_BOTH);
    assert!(inq.third_party_copy && !inq.protect);
    assert!(!inq.encserv && !inq.multip);
    assert!(inq.cmdque);
    assert_eq!(inq.vendor_identification.as_str(), "LIO-ORG");
    assert_eq!(inq.product_identification.as_str(), "TCMU device");
    assert_eq!(inq.product_revision_level.as_str(), "0002");
    assert_eq!(inq.vendor_identification.as_bytes(), b"LIO-ORG ");
    assert_eq!(inq.vendor_specific, [0; 20]);
    assert_eq!(
        inq.version_descriptors,
        [
            version_descriptor::SAM5,
            version_descriptor::ISCSI,
            version_descriptor::SPC4,
            version_descriptor::SBC3
        ]
    );
}

#[test]
fn lio_standard_inquiry_emits_the_same_bytes() {
    let mut inq = StandardInquiry::disk("LIO-ORG", "TCMU device", "0002").unwrap();
    inq.version = VERSION_SPC4;
    inq.sccs = true;
    inq.tpgs = TPGS_BOTH;
    inq.third_party_copy = true;
    inq.version_descriptors = vec![
        version_descriptor::SAM5,
        version_descriptor::ISCSI,
        version_descriptor::SPC4,
        version_descriptor::SBC3,
    ];
    assert_eq!(inq.buffer_len(), 96);
    assert_eq!(inq.to_vec(), lio_tcmu_inquiry());
    assert_roundtrip(&inq);
}

#[test]
fn short_standard_inquiry_is_36_bytes_and_padded() {
    let inq = StandardInquiry::disk("LIO", "disk", "1").unwrap();
    let bytes = inq.to_vec();
    let mut expected = vec![0x00, 0x00, 0x07, 0x02, 0x1F, 0x00, 0x00, 0x02];
    expected.extend_from_slice(b"LIO     disk            1   ");
    assert_eq!(bytes, expected);
    assert_eq!(inq.vendor_identification.as_bytes(), b"LIO     ");
    assert_eq!(inq.vendor_identification.as_str(), "LIO");
    assert_roundtrip(&inq);

    // Vendor specific data alone selects the long form too.
    let mut long = inq.clone();
    long.vendor_specific[0] = 0x42;
    let bytes = long.to_vec();
    assert_eq!(bytes.len(), 96);
    assert_eq!(bytes[4], 91);
    assert_eq!(bytes[36], 0x42);
    assert_roundtrip(&long);
}

#[test]
fn standard_inquiry_truncated_by_allocation_length() {
    let bytes = lio_tcmu_inquiry();
    let inq = StandardInquiry::parse(&bytes[..36]).unwrap();
    assert!(inq.version_descriptors.is_empty());
    assert_eq!(inq.vendor_identification.as_str(), "LIO-ORG");
    // Half of descriptor 2 sent: only whole descriptors count.
    let inq = StandardInquiry::parse(&bytes[..61]).unwrap();
    assert_eq!(inq.version_descriptors, [version_descriptor::SAM5]);
    // ADDITIONAL LENGTH limits what is read even when the buffer is longer.
    let mut short_len = bytes.clone();
    short_len[4] = 31;
    let inq = StandardInquiry::parse(&short_len).unwrap();
    assert!(inq.version_descriptors.is_empty());
    assert!(matches!(
        StandardInquiry::parse(&bytes[..35]),
        Err(Error::Truncated { needed: 36, actual: 35, .. })
    ));
}

#[test]
fn standard_inquiry_rejects_bad_identifiers() {
    let cases: [(&str, &str, &str, &str, u16); 6] = [
        ("LIO-ORG-X", "p", "r", "T10 VENDOR IDENTIFICATION", 8),
        ("LIÖ", "p", "r", "T10 VENDOR IDENTIFICATION", 8),
        ("v", "a product that is too long", "r", "PRODUCT IDENTIFICATION", 16),
        ("v", "tab\there", "r", "PRODUCT IDENTIFICATION", 16),
        ("v", "p", "00002", "PRODUCT REVISION LEVEL", 32),
        ("v", "p", "0\u{7f}", "PRODUCT REVISION LEVEL", 32),
    ];
    for (vendor, product, revision, field, byte) in cases {
        let e = StandardInquiry::disk(vendor, product, revision).unwrap_err();
        assert_eq!(
            e,
            Error::InvalidField {
                what: "standard INQUIRY data",
                field,
                pointer: FieldPointer::data(byte, None),
            },
            "{vendor:?} {product:?} {revision:?}"
        );
    }
    // Exactly full fields are fine.
    let inq = StandardInquiry::disk("12345678", "0123456789abcdef", "wxyz").unwrap();
    assert_eq!(inq.product_identification.as_str(), "0123456789abcdef");
}

#[test]
fn standard_inquiry_parse_checks() {
    let mut bytes = lio_tcmu_inquiry();
    bytes[3] = 0x01; // RESPONSE DATA FORMAT 1 (obsolete)
    assert_eq!(
        field_of(StandardInquiry::parse(&bytes).unwrap_err()),
        ("RESPONSE DATA FORMAT", FieldPointer::data(3, Some(3)))
    );
    let mut bytes = lio_tcmu_inquiry();
    bytes[17] = 0x07; // BEL in PRODUCT IDENTIFICATION
    assert_eq!(
        field_of(StandardInquiry::parse(&bytes).unwrap_err()),
        ("PRODUCT IDENTIFICATION", FieldPointer::data(16, None))
    );
    // NUL-terminated identification is valid ASCII data (SPC-5 4.3.1), but not a NUL in
    // the middle.
    let mut bytes = lio_tcmu_inquiry();
    bytes[11..16].fill(0);
    let inq = StandardInquiry::parse(&bytes).unwrap();
    assert_eq!(inq.vendor_identification.as_str(), "LIO");
    assert_roundtrip(&inq);
    bytes[13] = b'X';
    assert!(StandardInquiry::parse(&bytes).is_err());
    // Every other bit of bytes 1, 3, 5, 6, 7.
    let mut bytes = lio_tcmu_inquiry();
    bytes[0] = 0x7F;
    bytes[1] = 0xF0;
    bytes[3] = 0x32;
    bytes[5] = 0x49;
    bytes[6] = 0x50;
    bytes[7] = 0x00;
    let inq = StandardInquiry::parse(&bytes).unwrap();
    assert_eq!(inq.peripheral, Peripheral::NO_LUN);
    assert!(inq.rmb && inq.lu_cong && inq.normaca && inq.hisup);
    assert_eq!(inq.hot_pluggable, 3);
    assert!(!inq.sccs && inq.acc && inq.protect && inq.third_party_copy);
    assert_eq!(inq.tpgs, 0);
    assert!(inq.encserv && inq.multip && !inq.cmdque);
    assert_eq!(inq.to_vec(), bytes);
}

#[test]
fn standard_inquiry_emit_checks() {
    let good = StandardInquiry::disk("A", "B", "C").unwrap();
    let mut bad = good.clone();
    bad.tpgs = 4;
    assert_eq!(field_of(bad.to_vec_checked()), ("TPGS", FieldPointer::data(5, Some(5))));
    let mut bad = good.clone();
    bad.response_data_format = 1;
    assert_eq!(field_of(bad.to_vec_checked()).0, "RESPONSE DATA FORMAT");
    let mut bad = good.clone();
    bad.version_descriptors = vec![1; 9];
    assert_eq!(field_of(bad.to_vec_checked()).0, "VERSION DESCRIPTOR");
    let mut bad = good.clone();
    bad.peripheral.device_type = 0x20;
    assert_eq!(field_of(bad.to_vec_checked()).0, "PERIPHERAL DEVICE TYPE");
    assert_eq!(
        good.emit(&mut [0; 35]),
        Err(Error::BufferTooShort { what: "standard INQUIRY data", needed: 36, actual: 35 })
    );
}

proptest! {
    #[test]
    fn standard_inquiry_roundtrips(x in standard_inquiry()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn standard_inquiry_parse_never_panics(bytes in vec(any::<u8>(), 0..300)) {
        let _ = StandardInquiry::parse(&bytes);
    }
}
