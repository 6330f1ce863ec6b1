use super::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Wire};
use proptest::collection::vec;
use proptest::prelude::*;

pub(crate) const TWO_UNMAPS: [u8; 40] = [
    // UNMAP DATA LENGTH 38, UNMAP BLOCK DESCRIPTOR DATA LENGTH 32, reserved
    0x00, 0x26, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, //
    0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, // 0x1000 + 8
    0, 0, 0, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0, // 2^32 + 256
];

pub(crate) fn two_unmaps() -> UnmapParameterList {
    UnmapParameterList {
        descriptors: vec![
            UnmapDescriptor { lba: 0x1000, number_of_blocks: 8 },
            UnmapDescriptor { lba: 0x1_0000_0000, number_of_blocks: 256 },
        ],
    }
}

fn param_len_error(len: usize) -> Error {
    Error::ParameterListLength { what: "UNMAP", len }
}

#[test]
fn unmap_two_descriptors() {
    let list = two_unmaps();
    assert_eq!(list.to_vec(), TWO_UNMAPS);
    assert_eq!(UnmapParameterList::parse(&TWO_UNMAPS).unwrap(), list);
    assert_eq!(UnmapParameterList::parse_with_length(&TWO_UNMAPS, 40).unwrap(), list);
    let it = UnmapDescriptors::new(&TWO_UNMAPS, 40).unwrap();
    assert_eq!(it.len(), 2);
    assert_eq!(it.collect::<Vec<_>>(), list.descriptors);
    // Bytes past the parameter list length are not looked at.
    let mut longer = TWO_UNMAPS.to_vec();
    longer.extend_from_slice(&[0xFF; 16]);
    assert_eq!(UnmapParameterList::parse_with_length(&longer, 40).unwrap(), list);
}

#[test]
fn unmap_zero_length_is_a_no_op() {
    assert_eq!(
        UnmapParameterList::parse_with_length(&[], 0).unwrap(),
        UnmapParameterList::default()
    );
    // Whatever the buffer holds.
    assert_eq!(UnmapDescriptors::new(&TWO_UNMAPS, 0).unwrap().len(), 0);
    assert_eq!(UnmapParameterList::parse(&[]).unwrap(), UnmapParameterList::default());
}

#[test]
fn unmap_short_parameter_list_length() {
    for len in 1..8 {
        assert_eq!(
            UnmapParameterList::parse_with_length(&TWO_UNMAPS, len),
            Err(param_len_error(len))
        );
        assert_eq!(UnmapParameterList::parse(&TWO_UNMAPS[..len]), Err(param_len_error(len)));
    }
}

#[test]
fn unmap_buffer_shorter_than_length() {
    assert_eq!(
        UnmapParameterList::parse_with_length(&TWO_UNMAPS[..39], 40),
        Err(param_len_error(40))
    );
    assert_eq!(UnmapParameterList::parse_with_length(&TWO_UNMAPS[..4], 8), Err(param_len_error(8)));
}

#[test]
fn unmap_data_length_too_small_for_descriptors() {
    let mut bad = TWO_UNMAPS;
    bad[1] = 0x25; // 37 < 32 + 6
    let want = Err(Error::InvalidField {
        what: "UNMAP",
        field: "UNMAP DATA LENGTH",
        pointer: FieldPointer::param(0),
    });
    assert_eq!(UnmapParameterList::parse(&bad), want);
    assert_eq!(UnmapDescriptors::new(&bad, 40).map(|_| ()), want.map(|_| ()));
    // Zero UNMAP DATA LENGTH with no descriptors announced is empty, not an error.
    let empty = [0u8; 8];
    assert_eq!(UnmapParameterList::parse(&empty).unwrap().descriptors.len(), 0);
    // A larger UNMAP DATA LENGTH than needed is accepted.
    let mut big = TWO_UNMAPS;
    big[1] = 0x30;
    assert_eq!(UnmapParameterList::parse(&big).unwrap(), two_unmaps());
}

#[test]
fn unmap_descriptors_truncated_by_length_are_ignored() {
    // The header announces two descriptors but the CDB's length only covers the first.
    let list = UnmapParameterList::parse_with_length(&TWO_UNMAPS, 24).unwrap();
    assert_eq!(list.descriptors, two_unmaps().descriptors[..1]);
    // Cut in the middle of the second.
    let list = UnmapParameterList::parse_with_length(&TWO_UNMAPS, 39).unwrap();
    assert_eq!(list.descriptors.len(), 1);
    // Header only.
    assert_eq!(UnmapParameterList::parse_with_length(&TWO_UNMAPS, 8).unwrap().descriptors.len(), 0);
}

#[test]
fn unmap_incomplete_last_descriptor_is_ignored() {
    // UNMAP BLOCK DESCRIPTOR DATA LENGTH 20: one whole descriptor and 4 stray bytes.
    let mut odd = TWO_UNMAPS;
    odd[1] = 26;
    odd[3] = 20;
    let list = UnmapParameterList::parse(&odd).unwrap();
    assert_eq!(list.descriptors, two_unmaps().descriptors[..1]);
    // UNMAP BLOCK DESCRIPTOR DATA LENGTH 0 with data after it: no descriptors.
    let mut none = TWO_UNMAPS;
    none[1] = 6;
    none[3] = 0;
    assert!(UnmapParameterList::parse(&none).unwrap().descriptors.is_empty());
}

#[test]
fn unmap_emit_limits() {
    let full = UnmapParameterList {
        descriptors: vec![
            UnmapDescriptor { lba: 1, number_of_blocks: 1 };
            UnmapParameterList::MAX_DESCRIPTORS
        ],
    };
    let v = full.to_vec();
    assert_eq!(&v[..4], &[0xFF, 0xF6, 0xFF, 0xF0]);
    assert_eq!(UnmapParameterList::parse(&v).unwrap(), full);
    let mut too_many = full.clone();
    too_many.descriptors.push(UnmapDescriptor { lba: 2, number_of_blocks: 2 });
    let mut buf = vec![0u8; too_many.buffer_len()];
    assert!(matches!(
        too_many.emit(&mut buf),
        Err(Error::InvalidField { field: "UNMAP DATA LENGTH", .. })
    ));
}

#[test]
fn write_same_block_length() {
    let block = [0x5Au8; 512];
    assert_eq!(write_same_block(&block, 512).unwrap(), &block[..]);
    assert_eq!(
        write_same_block(&block[..511], 512),
        Err(Error::ParameterListLength { what: "WRITE SAME", len: 511 })
    );
    assert_eq!(
        write_same_block(&[0u8; 4096], 512),
        Err(Error::ParameterListLength { what: "WRITE SAME", len: 4096 })
    );
}

pub(crate) fn arb_unmap_list() -> impl Strategy<Value = UnmapParameterList> {
    vec(
        (any::<u64>(), any::<u32>())
            .prop_map(|(lba, number_of_blocks)| UnmapDescriptor { lba, number_of_blocks }),
        0..40,
    )
    .prop_map(|descriptors| UnmapParameterList { descriptors })
}

proptest! {
    #[test]
    fn roundtrip_unmap(x in arb_unmap_list()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn unmap_iterator_matches_parse(
        bytes in vec(any::<u8>(), 0..600), len in 0usize..700,
    ) {
        let owned = UnmapParameterList::parse_with_length(&bytes, len);
        match UnmapDescriptors::new(&bytes, len) {
            Ok(it) => {
                let n = it.len();
                let items: Vec<_> = it.collect();
                prop_assert_eq!(items.len(), n);
                prop_assert_eq!(owned, Ok(UnmapParameterList { descriptors: items }));
            }
            Err(e) => prop_assert_eq!(owned, Err(e)),
        }
    }

    #[test]
    fn unmap_parse_with_any_length_never_panics(
        bytes in vec(any::<u8>(), 0..600),
        len in prop_oneof![0usize..700, any::<usize>()],
    ) {
        let _ = UnmapParameterList::parse_with_length(&bytes, len);
    }

    #[test]
    fn write_same_never_panics(bytes in vec(any::<u8>(), 0..600), bl in any::<u32>()) {
        let r = write_same_block(&bytes, bl);
        prop_assert_eq!(r.is_ok(), usize::try_from(bl) == Ok(bytes.len()));
    }

    #[test]
    fn parsers_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        let _ = UnmapParameterList::parse(&bytes);
    }

    /// Whatever parses re-emits to something that parses to the same value.
    #[test]
    fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(x) = UnmapParameterList::parse(&bytes) { assert_roundtrip(&x); }
    }
}
