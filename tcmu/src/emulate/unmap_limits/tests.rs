use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use scsi_proto::Wire;
use scsi_proto::params::{UnmapDescriptors, UnmapParameterList};

/// Two descriptors: 8 blocks at 1000h, 256 at 2^32.
const TWO_UNMAPS: [u8; 40] = [
    // UNMAP DATA LENGTH 38, UNMAP BLOCK DESCRIPTOR DATA LENGTH 32, reserved
    0x00, 0x26, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, //
    0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, // 0x1000 + 8
    0, 0, 0, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0, // 2^32 + 256
];

fn two_unmaps() -> UnmapParameterList {
    UnmapParameterList {
        descriptors: vec![
            UnmapDescriptor { lba: 0x1000, number_of_blocks: 8 },
            UnmapDescriptor { lba: 0x1_0000_0000, number_of_blocks: 256 },
        ],
    }
}

fn arb_unmap_list() -> impl Strategy<Value = UnmapParameterList> {
    vec(
        (any::<u64>(), any::<u32>())
            .prop_map(|(lba, number_of_blocks)| UnmapDescriptor { lba, number_of_blocks }),
        0..40,
    )
    .prop_map(|descriptors| UnmapParameterList { descriptors })
}

/// The descriptors of an owned list, as the check takes them.
fn all(list: &UnmapParameterList) -> impl ExactSizeIterator<Item = UnmapDescriptor> + '_ {
    list.descriptors.iter().copied()
}

const ROOMY: UnmapLimits = UnmapLimits {
    max_unmap_lba_count: 1 << 20,
    max_unmap_block_descriptor_count: 64,
    capacity_blocks: 1 << 40,
};

#[test]
fn unmap_validate_accepts() {
    let list = two_unmaps();
    assert_eq!(ROOMY.check(all(&list)), Ok(()));
    let it = UnmapDescriptors::new(&TWO_UNMAPS, 40).unwrap();
    assert_eq!(ROOMY.check(it.clone()), Ok(()));
    // Validation does not consume the iterator.
    assert_eq!(it.len(), 2);
    // Ends exactly at the capacity.
    let exact = UnmapLimits { capacity_blocks: 0x1_0000_0100, ..ROOMY };
    assert_eq!(exact.check(all(&list)), Ok(()));
    // FFFF_FFFFh limits mean none.
    let unlimited = UnmapLimits {
        max_unmap_lba_count: u32::MAX,
        max_unmap_block_descriptor_count: u32::MAX,
        capacity_blocks: u64::MAX,
    };
    let huge = UnmapParameterList {
        descriptors: vec![UnmapDescriptor { lba: 0, number_of_blocks: u32::MAX }; 3],
    };
    assert_eq!(unlimited.check(all(&huge)), Ok(()));
}

#[test]
fn unmap_too_many_descriptors() {
    let limits = UnmapLimits { max_unmap_block_descriptor_count: 1, ..ROOMY };
    let r = limits.check(all(&two_unmaps())).unwrap_err();
    assert_eq!(r, UnmapRejection::TooManyDescriptors { count: 2, max: 1 });
    assert_eq!(r.field_pointer(), Some(FieldPointer::param(2)));
    assert_eq!(
        r.to_error(),
        Some(Error::InvalidField {
            what: "UNMAP",
            field: "UNMAP BLOCK DESCRIPTOR DATA LENGTH",
            pointer: FieldPointer::param(2),
        })
    );
    let it = UnmapDescriptors::new(&TWO_UNMAPS, 40).unwrap();
    assert_eq!(limits.check(it.clone()), Err(r));
}

#[test]
fn unmap_too_many_blocks_counts_the_total() {
    // 8 + 256 = 264 > 200, though each descriptor alone fits.
    let limits = UnmapLimits { max_unmap_lba_count: 200, ..ROOMY };
    let r = limits.check(all(&two_unmaps())).unwrap_err();
    assert_eq!(r, UnmapRejection::TooManyBlocks { index: 1, total: 264, max: 200 });
    // NUMBER OF LOGICAL BLOCKS of the second descriptor: 8 + 16 + 8.
    assert_eq!(r.field_pointer(), Some(FieldPointer::param(32)));
    assert_eq!(
        r.to_error(),
        Some(Error::InvalidField {
            what: "UNMAP",
            field: "NUMBER OF LOGICAL BLOCKS",
            pointer: FieldPointer::param(32),
        })
    );
    let limits = UnmapLimits { max_unmap_lba_count: 264, ..ROOMY };
    assert_eq!(limits.check(all(&two_unmaps())), Ok(()));
}

#[test]
fn unmap_lba_out_of_range() {
    let limits = UnmapLimits { capacity_blocks: 0x1_0000_00FF, ..ROOMY };
    let r = limits.check(all(&two_unmaps())).unwrap_err();
    assert_eq!(
        r,
        UnmapRejection::LbaOutOfRange { index: 1, lba: 0x1_0000_0000, number_of_blocks: 256 }
    );
    assert_eq!(r.field_pointer(), None);
    assert_eq!(r.to_error(), None);
    // LBA + blocks overflowing 64 bits.
    let wrap = UnmapParameterList {
        descriptors: vec![UnmapDescriptor { lba: u64::MAX, number_of_blocks: 1 }],
    };
    assert!(matches!(
        UnmapLimits { capacity_blocks: u64::MAX, ..ROOMY }.check(all(&wrap)),
        Err(UnmapRejection::LbaOutOfRange { index: 0, .. })
    ));
    // Zero blocks at the capacity is fine; one past it is not.
    let at = |lba| UnmapParameterList {
        descriptors: vec![UnmapDescriptor { lba, number_of_blocks: 0 }],
    };
    let small = UnmapLimits { capacity_blocks: 100, ..ROOMY };
    assert_eq!(small.check(all(&at(100))), Ok(()));
    assert!(small.check(all(&at(101))).is_err());
}

fn arb_limits() -> impl Strategy<Value = UnmapLimits> {
    (
        prop_oneof![Just(u32::MAX), any::<u32>(), 0u32..1000],
        prop_oneof![Just(u32::MAX), 0u32..8],
        prop_oneof![Just(u64::MAX), any::<u64>()],
    )
        .prop_map(|(a, b, c)| UnmapLimits {
            max_unmap_lba_count: a,
            max_unmap_block_descriptor_count: b,
            capacity_blocks: c,
        })
}

proptest! {
    #[test]
    fn unmap_iterator_matches_parse_on_valid_lists(
        x in arb_unmap_list(), len in 0usize..700, lim in arb_limits(),
    ) {
        let bytes = x.to_vec();
        let len = len.min(bytes.len());
        let owned = UnmapParameterList::parse_with_length(&bytes, len);
        match UnmapDescriptors::new(&bytes, len) {
            Ok(it) => {
                let owned = owned.unwrap();
                prop_assert_eq!(lim.check(it.clone()), lim.check(all(&owned)));
                let items: Vec<_> = it.collect();
                prop_assert_eq!(&items[..], &x.descriptors[..items.len()]);
                prop_assert_eq!(items, owned.descriptors);
            }
            Err(e) => {
                prop_assert!((1..8).contains(&len));
                prop_assert_eq!(owned, Err(e));
            }
        }
    }

    #[test]
    fn unmap_validate_is_consistent(x in arb_unmap_list(), lim in arb_limits()) {
        match lim.check(all(&x)) {
            Ok(()) => {
                for d in &x.descriptors {
                    let end = d.lba.checked_add(u64::from(d.number_of_blocks));
                    prop_assert!(end.is_some_and(|e| e <= lim.capacity_blocks));
                }
            }
            Err(UnmapRejection::LbaOutOfRange { index, lba, number_of_blocks }) => {
                prop_assert_eq!(x.descriptors[index].lba, lba);
                prop_assert_eq!(x.descriptors[index].number_of_blocks, number_of_blocks);
            }
            Err(r) => prop_assert!(r.to_error().is_some()),
        }
    }
}
