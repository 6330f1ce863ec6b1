use super::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, Wire};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

#[test]
fn read_keys() {
    let keys = ReadKeys { generation: 7, keys: vec![0x1122_3344_5566_7788, 0xAB] };
    let want = [
        0, 0, 0, 7, 0, 0, 0, 0x10, // PRGENERATION, ADDITIONAL LENGTH
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
        0, 0, 0, 0, 0, 0, 0, 0xAB,
    ];
    assert_eq!(keys.to_vec(), want);
    assert_eq!(ReadKeys::parse(&want).unwrap(), keys);
    assert!(matches!(
        ReadKeys::parse(&[0, 0, 0, 7, 0, 0, 0, 0x0F]),
        Err(Error::InvalidField { field: "ADDITIONAL LENGTH", .. })
    ));
}

#[test]
fn read_reservation() {
    let none = ReadReservation { generation: 3, reservation: None };
    assert_eq!(none.to_vec(), [0, 0, 0, 3, 0, 0, 0, 0]);
    let held = ReadReservation {
        generation: 3,
        reservation: Some(Reservation { key: 0xABCD, scope: 0, pr_type: 5 }),
    };
    let want = [
        0, 0, 0, 3, 0, 0, 0, 0x10, //
        0, 0, 0, 0, 0, 0, 0xAB, 0xCD, // RESERVATION KEY
        0, 0, 0, 0, 0x00, 0x05, 0, 0, // SCOPE 0, TYPE 5
    ];
    assert_eq!(held.to_vec(), want);
    assert_eq!(ReadReservation::parse(&want).unwrap(), held);
    assert!(matches!(
        ReadReservation::parse(&[0, 0, 0, 3, 0, 0, 0, 0x08]),
        Err(Error::InvalidField { field: "ADDITIONAL LENGTH", .. })
    ));
}

fn arb_read_reservation() -> impl Strategy<Value = ReadReservation> {
    (
        any::<u32>(),
        option::of(
            (any::<u64>(), 0u8..16, 0u8..16).prop_map(|(key, scope, pr_type)| Reservation {
                key,
                scope,
                pr_type,
            }),
        ),
    )
        .prop_map(|(generation, reservation)| ReadReservation { generation, reservation })
}

proptest! {
    #[test]
    fn roundtrip_read_keys(generation in any::<u32>(), keys in vec(any::<u64>(), 0..40)) {
        assert_roundtrip(&ReadKeys { generation, keys });
    }

    #[test]
    fn roundtrip_read_reservation(x in arb_read_reservation()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn parsers_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        let _ = ReadKeys::parse(&bytes);
        let _ = ReadReservation::parse(&bytes);
    }

    /// Whatever parses re-emits to something that parses to the same value.
    #[test]
    fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(x) = ReadKeys::parse(&bytes) { assert_roundtrip(&x); }
        if let Ok(x) = ReadReservation::parse(&bytes) { assert_roundtrip(&x); }
    }
}
