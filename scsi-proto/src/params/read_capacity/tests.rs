use super::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Location, Wire};
use proptest::collection::vec;
use proptest::prelude::*;

#[test]
fn read_capacity_10_hand_off() {
    // 2^32 blocks: the last LBA is FFFF_FFFFh, which is the hand-off value itself.
    let rc = ReadCapacity10Data::for_device(1 << 32, 512);
    assert_eq!(rc.to_vec(), [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]);
    assert_eq!(rc.returned_lba, u32::MAX);
    // 2^32 - 1 blocks: the last LBA FFFF_FFFEh still fits.
    let rc = ReadCapacity10Data::for_device((1 << 32) - 1, 512);
    assert_eq!(rc.to_vec(), [0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00, 0x02, 0x00]);
    assert_ne!(rc.returned_lba, u32::MAX);
    // Far beyond: still the hand-off value.
    assert_eq!(ReadCapacity10Data::for_device(u64::MAX, 4096).returned_lba, u32::MAX);
    // 1 GiB of 512-byte blocks.
    let rc = ReadCapacity10Data::for_device(2_097_152, 512);
    assert_eq!(rc.to_vec(), [0x00, 0x1F, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]);
    // Zero blocks: documented as 0.
    assert_eq!(ReadCapacity10Data::for_device(0, 512).returned_lba, 0);
}

#[test]
fn read_capacity_10_parse() {
    let rc = ReadCapacity10Data::parse(&[0x00, 0x1F, 0xFF, 0xFF, 0x00, 0x00, 0x10, 0x00]).unwrap();
    assert_eq!(rc.returned_lba, 0x001F_FFFF);
    assert_eq!(rc.block_length, 4096);
    assert_eq!(
        ReadCapacity10Data::parse(&[0; 7]),
        Err(Error::Truncated {
            what: "READ CAPACITY(10) data",
            location: Location::Data,
            needed: 8,
            actual: 7
        })
    );
}

#[test]
fn read_capacity_16_thin_4k_physical() {
    // 2^32 + 5 blocks of 4096 bytes, LBPME and LBPRZ, 2^3 logical blocks per physical one.
    let rc = ReadCapacity16Data {
        logical_blocks_per_physical_block_exponent: 3,
        ..ReadCapacity16Data::for_device((1 << 32) + 5, 4096).with_provisioning(true, true)
    };
    let mut want = [0u8; 32];
    want[..16].copy_from_slice(&[
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, // RETURNED LOGICAL BLOCK ADDRESS
        0x00, 0x00, 0x10, 0x00, // LOGICAL BLOCK LENGTH IN BYTES
        0x00, // RC BASIS, P_TYPE, PROT_EN
        0x03, // P_I_EXPONENT, LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
        0xC0, 0x00, // LBPME, LBPRZ, LOWEST ALIGNED LOGICAL BLOCK ADDRESS
    ]);
    assert_eq!(rc.to_vec(), want);
    let back = ReadCapacity16Data::parse(&want).unwrap();
    assert_eq!(back, rc);
    assert_eq!(back.returned_lba, 0x1_0000_0004);
    assert_eq!(back.number_of_blocks(), (1 << 32) + 5);
    assert_eq!(back.block_length, 4096);
    assert!(back.lbpme && back.lbprz && !back.prot_en);
    assert_eq!(back.logical_blocks_per_physical_block_exponent, 3);
    assert_eq!(back.protection_type(), None);
}

#[test]
fn read_capacity_16_protection_and_alignment() {
    let rc = ReadCapacity16Data {
        p_i_exponent: 1,
        logical_blocks_per_physical_block_exponent: 3,
        lowest_aligned_lba: 0x1234,
        ..ReadCapacity16Data::for_device(1000, 512)
            .with_protection_type(2)
            .with_provisioning(true, false)
    };
    let v = rc.to_vec();
    assert_eq!(&v[..8], &[0, 0, 0, 0, 0, 0, 0x03, 0xE7]);
    assert_eq!(&v[8..16], &[0x00, 0x00, 0x02, 0x00, 0x03, 0x13, 0x92, 0x34]);
    assert!(v[16..].iter().all(|&b| b == 0));
    let back = ReadCapacity16Data::parse(&v).unwrap();
    assert_eq!(back.protection_type(), Some(2));
    assert_eq!(back.lowest_aligned_lba, 0x1234);
    assert_eq!(ReadCapacity16Data::for_device(0, 512).returned_lba, 0);
}

#[test]
fn read_capacity_16_rejects_wide_fields() {
    let mut buf = [0u8; 32];
    let rc = ReadCapacity16Data { p_i_exponent: 16, ..ReadCapacity16Data::for_device(8, 512) };
    assert_eq!(
        rc.emit(&mut buf),
        Err(Error::InvalidField {
            what: "READ CAPACITY(16) data",
            field: "P_I_EXPONENT",
            pointer: FieldPointer::data(13, Some(7)),
        })
    );
    let rc =
        ReadCapacity16Data { lowest_aligned_lba: 0x4000, ..ReadCapacity16Data::for_device(8, 512) };
    assert!(matches!(
        rc.emit(&mut buf),
        Err(Error::InvalidField { field: "LOWEST ALIGNED LOGICAL BLOCK ADDRESS", .. })
    ));
    let rc = ReadCapacity16Data::for_device(8, 512).with_protection_type(9);
    assert!(matches!(rc.emit(&mut buf), Err(Error::InvalidField { field: "P_TYPE", .. })));
    assert!(ReadCapacity16Data::parse(&[0; 31]).is_err());
}

fn arb_read_capacity_16() -> impl Strategy<Value = ReadCapacity16Data> {
    (
        (any::<u64>(), any::<u32>(), 0u8..4, 0u8..8, any::<bool>()),
        (0u8..16, 0u8..16, any::<bool>(), any::<bool>(), 0u16..0x4000),
    )
        .prop_map(|((lba, bl, rc, pt, pe), (pie, lbppbe, me, rz, lal))| ReadCapacity16Data {
            returned_lba: lba,
            block_length: bl,
            rc_basis: rc,
            p_type: pt,
            prot_en: pe,
            p_i_exponent: pie,
            logical_blocks_per_physical_block_exponent: lbppbe,
            lbpme: me,
            lbprz: rz,
            lowest_aligned_lba: lal,
        })
}

proptest! {
    #[test]
    fn roundtrip_read_capacity_10(lba in any::<u32>(), bl in any::<u32>()) {
        assert_roundtrip(&ReadCapacity10Data { returned_lba: lba, block_length: bl });
    }

    #[test]
    fn read_capacity_10_for_device(n in any::<u64>(), bl in any::<u32>()) {
        let rc = ReadCapacity10Data::for_device(n, bl);
        if n >= 1 && n - 1 < u64::from(u32::MAX) {
            prop_assert_eq!(u64::from(rc.returned_lba), n - 1);
        } else if n > u64::from(u32::MAX) {
            prop_assert_eq!(rc.returned_lba, u32::MAX);
        }
        prop_assert_eq!(ReadCapacity16Data::for_device(n, bl).number_of_blocks(), n.max(1));
    }

    #[test]
    fn roundtrip_read_capacity_16(x in arb_read_capacity_16()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn parsers_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        let _ = ReadCapacity10Data::parse(&bytes);
        let _ = ReadCapacity16Data::parse(&bytes);
    }

    /// Whatever parses re-emits to something that parses to the same value.
    #[test]
    fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(x) = ReadCapacity16Data::parse(&bytes) { assert_roundtrip(&x); }
    }
}
