use super::*;
use crate::Wire;
use crate::testutil::assert_roundtrip;
use proptest::prelude::*;

pub(super) const NAA: [u8; 16] = [
    0x60, 0x01, 0x40, 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];

pub(super) const LIMITS: CopyLimits = CopyLimits {
    max_cscd_descriptors: 2,
    max_segment_descriptors: 1,
    max_descriptor_list_length: 1024,
};

pub(super) fn list(blocks: u16, src: u64, dst: u64) -> ExtendedCopyList {
    ExtendedCopyList {
        header: ParameterListHeader {
            list_identifier: 1,
            ..ParameterListHeader::default()
        },
        cscds: vec![IdentificationCscd::block_device(3, &NAA, 512)],
        segments: vec![BlockToBlockSegment {
            number_of_blocks: blocks,
            source_lba: src,
            destination_lba: dst,
            ..BlockToBlockSegment::default()
        }],
    }
}

pub(super) fn sense(r: Result<ExtendedCopyList, XcopyRejection>) -> (u8, u8, u8) {
    let s = r.unwrap_err().to_sense();
    (s.key as u8, s.additional.asc, s.additional.ascq)
}

#[test]
fn results_data() {
    let op = OperatingParameters::for_limits(&LIMITS, 512);
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
    assert_eq!(
        (big.transfer_count_units, big.transfer_count),
        (0xF1, 1 << 30)
    );
}

proptest! {
    #[test]
    fn results_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = OperatingParameters::parse(&bytes);
        let _ = CopyStatus::parse(&bytes);
    }
}
