use super::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Wire, copy_truncated};
use proptest::collection::vec;
use proptest::prelude::*;

fn two_extents() -> (LbaStatus, Vec<u8>) {
    let st = LbaStatus {
        descriptors: vec![
            LbaStatusDescriptor {
                lba: 0x1000,
                number_of_blocks: 0x800,
                provisioning_status: LbaStatusDescriptor::MAPPED,
                additional_status: 0,
            },
            LbaStatusDescriptor {
                lba: 0x1800,
                number_of_blocks: 0x1_0000,
                provisioning_status: LbaStatusDescriptor::DEALLOCATED,
                additional_status: 0,
            },
        ],
    };
    let bytes = vec![
        0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, // PARAMETER DATA LENGTH = 36
        0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];
    (st, bytes)
}

#[test]
fn lba_status() {
    let (st, bytes) = two_extents();
    assert_eq!(st.to_vec(), bytes);
    assert_eq!(LbaStatus::parse(&bytes).unwrap(), st);
    assert_eq!(LbaStatus::default().to_vec(), [0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0]);
    let mut bad = bytes.clone();
    bad[3] = 0x23;
    assert_eq!(
        LbaStatus::parse(&bad),
        Err(Error::InvalidField {
            what: GLS,
            field: "PARAMETER DATA LENGTH",
            pointer: FieldPointer::data(0, None)
        })
    );
    assert!(matches!(LbaStatus::parse(&bytes[..39]), Err(Error::Truncated { needed: 40, .. })));
    let wide = LbaStatus {
        descriptors: vec![LbaStatusDescriptor { provisioning_status: 0x10, ..st.descriptors[0] }],
    };
    assert!(matches!(
        wide.emit(&mut [0u8; 24]),
        Err(Error::InvalidField { field: "PROVISIONING STATUS", .. })
    ));
}

#[test]
fn lba_status_truncated_keeps_full_length() {
    let (st, bytes) = two_extents();
    let mut out = [0xEEu8; 64];
    // An initiator asking for the header only learns the full length.
    assert_eq!(st.emit_truncated(8, &mut out).unwrap(), 8);
    assert_eq!(&out[..8], &[0x00, 0x00, 0x00, 0x24, 0, 0, 0, 0]);
    assert_eq!(out[8], 0xEE);
    // Mid-descriptor.
    assert_eq!(st.emit_truncated(30, &mut out).unwrap(), 30);
    assert_eq!(&out[..30], &bytes[..30]);
    assert_eq!(out[30], 0xEE);
    // More than enough.
    assert_eq!(st.emit_truncated(1000, &mut out).unwrap(), 40);
    assert_eq!(&out[..40], &bytes[..]);
    // A short output buffer bounds it too.
    assert_eq!(st.emit_truncated(1000, &mut out[..12]).unwrap(), 12);
}

fn arb_lba_status() -> impl Strategy<Value = LbaStatus> {
    vec(
        (any::<u64>(), any::<u32>(), 0u8..16, any::<u8>()).prop_map(|(lba, n, p, a)| {
            LbaStatusDescriptor {
                lba,
                number_of_blocks: n,
                provisioning_status: p,
                additional_status: a,
            }
        }),
        0..20,
    )
    .prop_map(|descriptors| LbaStatus { descriptors })
}

proptest! {
    #[test]
    fn roundtrip_lba_status(x in arb_lba_status()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn lba_status_emit_truncated_is_copy_truncated(
        x in arb_lba_status(), alloc in 0usize..400, out_len in 0usize..400,
    ) {
        let mut a = vec![0u8; out_len];
        let mut b = vec![0u8; out_len];
        let n = x.emit_truncated(alloc, &mut a).unwrap();
        let m = copy_truncated(&x.to_vec(), alloc, &mut b);
        prop_assert_eq!(n, m);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn parsers_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        let _ = LbaStatus::parse(&bytes);
    }

    /// Whatever parses re-emits to something that parses to the same value.
    #[test]
    fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(x) = LbaStatus::parse(&bytes) { assert_roundtrip(&x); }
    }
}
