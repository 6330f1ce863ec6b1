use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{FieldPointer, Wire};
use proptest::collection::vec;
use proptest::prelude::*;

/// A designator of the logical unit.
fn lu(kind: DesignatorKind) -> Designator {
    Designator::new(None, Association::LogicalUnit, kind).unwrap()
}

fn scsi_name(name: &str) -> DesignatorKind {
    DesignatorKind::ScsiNameString(name.into())
}

#[test]
fn scsi_name_string_is_nul_terminated_and_padded() {
    // "iqn.2003-01.org.linux-iscsi.t:x" is 31 bytes: one NUL makes 32.
    let name = "iqn.2003-01.org.linux-iscsi.t:x";
    let d = Designator::new(
        Some(protocol_identifier::ISCSI),
        Association::TargetDevice,
        scsi_name(name),
    )
    .unwrap();
    let bytes = d.to_vec();
    assert_eq!(&bytes[..4], &[0x53, 0xA8, 0x00, 0x20]);
    assert_eq!(&bytes[4..35], name.as_bytes());
    assert_eq!(bytes[35], 0);
    assert_eq!(Designator::parse(&bytes).unwrap(), d);
    // 32 bytes of name need a NUL and three more of padding.
    let d = Designator::new(None, Association::TargetPort, scsi_name(&"n".repeat(32))).unwrap();
    let bytes = d.to_vec();
    assert_eq!(bytes[3], 36);
    assert_eq!(&bytes[36..], &[0, 0, 0, 0]);
    // Limits: 251 bytes fit (252 with the NUL), 252 do not; no NULs inside.
    assert!(Designator::new(None, Association::TargetPort, scsi_name(&"a".repeat(251))).is_ok());
    assert!(Designator::new(None, Association::TargetPort, scsi_name(&"a".repeat(252))).is_err());
    assert!(Designator::new(None, Association::TargetPort, scsi_name("a\0b")).is_err());
    // Invalid UTF-8 is rejected on parse.
    let bad = [0x03, 0x08, 0x00, 0x04, b'a', 0xFF, 0x00, 0x00];
    assert_eq!(
        field_of(Designator::parse(&bad).unwrap_err()),
        ("SCSI NAME STRING", FieldPointer::data(4, None))
    );
}

#[test]
fn other_designator_types() {
    let eui = lu(DesignatorKind::Eui64(0x0011_2233_4455_6677u64.to_be_bytes().to_vec()));
    assert_eq!(
        eui.to_vec(),
        [0x01, 0x02, 0x00, 0x08, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
    );
    let naa5 = naa5(0x001405, 0xA_BCDE_F012).unwrap();
    assert_eq!(
        naa5.to_vec(),
        [0x01, 0x03, 0x00, 0x08, 0x50, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12]
    );
    let tpg = Designator::new(
        Some(protocol_identifier::SAS),
        Association::TargetPort,
        DesignatorKind::TargetPortGroup(0x1234),
    )
    .unwrap();
    assert_eq!(tpg.to_vec(), [0x61, 0x95, 0x00, 0x04, 0x00, 0x00, 0x12, 0x34]);
    let lug = lu(DesignatorKind::LogicalUnitGroup(7));
    assert_eq!(lug.to_vec(), [0x01, 0x06, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07]);
    // A UUID designator (type Ah) and a locally assigned NAA (3h) round trip raw.
    let uuid = [0x01, 0x0A, 0x00, 0x04, 0x10, 0x00, 0xAB, 0xCD];
    let d = Designator::parse(&uuid).unwrap();
    assert_eq!(
        d.designator,
        DesignatorKind::Other { designator_type: 0xA, bytes: vec![0x10, 0x00, 0xAB, 0xCD] }
    );
    assert_eq!(d.to_vec(), uuid);
    let local = [0x01, 0x03, 0x00, 0x08, 0x31, 2, 3, 4, 5, 6, 7, 8];
    let d = Designator::parse(&local).unwrap();
    assert_eq!(d.designator, DesignatorKind::Naa(Naa::Other(local[4..].to_vec())));
    assert_eq!(d.to_vec(), local);
    // A reserved code set survives.
    let reserved = [0x0F, 0x00, 0x00, 0x01, 0x42];
    let d = Designator::parse(&reserved).unwrap();
    assert_eq!(d.code_set, 0xF);
    assert_eq!(d.to_vec(), reserved);
}

#[test]
fn designator_constructors_reject_out_of_range() {
    let e = Designator::naa_ieee_registered_extended(0x100_0000, 0, 0).unwrap_err();
    assert_eq!(field_of(e), ("IEEE COMPANY_ID", FieldPointer::data(4, Some(3))));
    let e = Designator::naa_ieee_registered_extended(0x001405, 1 << 36, 0).unwrap_err();
    assert_eq!(field_of(e), ("VENDOR SPECIFIC IDENTIFIER", FieldPointer::data(7, Some(3))));
    assert!(naa5(0xFF_FFFF, 0xF_FFFF_FFFF).is_ok());
    assert!(naa5(0xFF_FFFF, 0x10_0000_0000).is_err());
    assert!(Designator::t10_vendor_id("TOO-LONG-", b"").is_err());
    assert!(Designator::t10_vendor_id("V", &[0; 248]).is_err());
    assert!(Designator::t10_vendor_id("V", &[0; 247]).is_ok());
    // Emit refuses values whose parse would give something else.
    let mut d = lu(DesignatorKind::Eui64(1u64.to_be_bytes().to_vec()));
    d.designator = DesignatorKind::Eui64(vec![0; 9]);
    assert_eq!(field_of(d.to_vec_checked()).0, "DESIGNATOR LENGTH");
    d.designator = DesignatorKind::Naa(Naa::Other(vec![0x50; 8]));
    assert_eq!(field_of(d.to_vec_checked()).0, "NAA");
    d.designator = DesignatorKind::Other { designator_type: 4, bytes: vec![0; 4] };
    assert_eq!(field_of(d.to_vec_checked()).0, "DESIGNATOR TYPE");
    d.designator = DesignatorKind::RelativeTargetPort(1);
    d.protocol_identifier = Some(0x10);
    assert_eq!(field_of(d.to_vec_checked()).0, "PROTOCOL IDENTIFIER");
    d.protocol_identifier = None;
    d.code_set = 0x10;
    assert_eq!(field_of(d.to_vec_checked()).0, "CODE SET");
}

proptest! {
    #[test]
    fn designator_roundtrips(x in designator()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn designator_parse_never_panics(bytes in vec(any::<u8>(), 0..300)) {
        let _ = Designator::parse(&bytes);
    }
}
