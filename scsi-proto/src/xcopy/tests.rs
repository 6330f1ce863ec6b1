use super::*;
use crate::Wire;
use crate::testutil::assert_roundtrip;
use proptest::prelude::*;

#[test]
fn results_data() {
    // What tcmu's copy manager reports for segments of 512-byte blocks.
    let op = OperatingParameters {
        snlid: true,
        max_cscd_descriptors: 2,
        max_segment_descriptors: 1,
        max_descriptor_list_length: 1024,
        max_segment_length: 512 * 65535,
        total_concurrent_copies: 1,
        max_concurrent_copies: 1,
        implemented_descriptors: vec![BLOCK_TO_BLOCK, IDENTIFICATION_CSCD],
        ..OperatingParameters::default()
    };
    let v = op.to_vec();
    assert_eq!(v.len(), 46);
    assert_eq!(&v[0..4], &[0, 0, 0, 42]);
    assert_eq!(&v[8..12], &[0, 2, 0, 1]);
    assert_eq!(&v[43..], &[2, 0x02, 0xE4]);
    assert_roundtrip(&op);
    let cs = CopyStatus::completed(1, 8 * 512);
    assert_eq!(cs.to_vec(), [0, 0, 0, 8, 1, 0, 1, 0, 0, 0, 0x10, 0]);
    assert_roundtrip(&cs);
    let big = CopyStatus::completed(1, 1 << 40);
    assert_eq!((big.transfer_count_units, big.transfer_count), (0xF1, 1 << 30));
}

proptest! {
    #[test]
    fn results_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = OperatingParameters::parse(&bytes);
        let _ = CopyStatus::parse(&bytes);
    }
}
