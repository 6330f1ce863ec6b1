use crate::inquiry::tests::*;
use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{FieldPointer, Wire};
use proptest::prelude::*;

#[test]
fn block_limits_with_and_without_thin_provisioning() {
    // LIO without TPU/TPWS: PAGE LENGTH 10h, WSNZ, CAW 1, granularity 1, 8192, 128.
    let short = [
        0x00, 0xB0, 0x00, 0x10, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
        0x80, 0x00, 0x00, 0x00, 0x00,
    ];
    let page = BlockLimits::parse(&short).unwrap();
    assert_eq!(
        page,
        BlockLimits {
            wsnz: true,
            maximum_compare_and_write_length: 1,
            optimal_transfer_length_granularity: 1,
            maximum_transfer_length: 8192,
            optimal_transfer_length: 128,
            ..Default::default()
        }
    );
    // Emitted in the full SBC-4 length.
    let full = page.to_vec();
    assert_eq!(full.len(), 64);
    assert_eq!(&full[..4], &[0x00, 0xB0, 0x00, 0x3C]);
    assert_eq!(&full[4..20], &short[4..]);
    assert!(full[20..].iter().all(|&b| b == 0));

    let mut bytes = vec![0x00, 0xB0, 0x00, 0x3C, 0x01, 0x01, 0x00, 0x08];
    for v in [0x0000_4000u32, 0x100, 0x200, 0x0040_0000, 0x100, 8] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(&(0x8000_0002u32).to_be_bytes()); // UGAVALID, alignment 2
    bytes.extend_from_slice(&0x0000_0000_0001_0000u64.to_be_bytes());
    for v in [0x80u32, 4, 2, 0x40, 0x20] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(bytes.len(), 64);
    let page = BlockLimits::parse(&bytes).unwrap();
    assert!(page.wsnz);
    assert_eq!(page.maximum_compare_and_write_length, 1);
    assert_eq!(page.optimal_transfer_length_granularity, 8);
    assert_eq!(page.maximum_transfer_length, 0x4000);
    assert_eq!(page.optimal_transfer_length, 0x100);
    assert_eq!(page.maximum_prefetch_length, 0x200);
    assert_eq!(page.maximum_unmap_lba_count, 0x40_0000);
    assert_eq!(page.maximum_unmap_block_descriptor_count, 0x100);
    assert_eq!(page.optimal_unmap_granularity, 8);
    assert_eq!(page.unmap_granularity_alignment, Some(2));
    assert_eq!(page.maximum_write_same_length, 0x1_0000);
    assert_eq!(page.maximum_atomic_transfer_length, 0x80);
    assert_eq!(page.atomic_alignment, 4);
    assert_eq!(page.atomic_transfer_length_granularity, 2);
    assert_eq!(page.maximum_atomic_transfer_length_with_atomic_boundary, 0x40);
    assert_eq!(page.maximum_atomic_boundary_size, 0x20);
    assert_eq!(page.to_vec(), bytes);

    let bad = BlockLimits { unmap_granularity_alignment: Some(0x8000_0000), ..page };
    assert_eq!(field_of(bad.to_vec_checked()).0, "UNMAP GRANULARITY ALIGNMENT");
    // Wrong page code.
    let mut b1 = bytes.clone();
    b1[1] = 0xB1;
    assert_eq!(
        field_of(BlockLimits::parse(&b1).unwrap_err()),
        ("PAGE CODE", FieldPointer::data(1, None))
    );
}

proptest! {
    #[test]
    fn block_limits_roundtrip(x in block_limits()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn block_limits_parse_never_panics(bytes in fuzz_input(0xB0)) {
        let _ = BlockLimits::parse(&bytes);
    }
}
