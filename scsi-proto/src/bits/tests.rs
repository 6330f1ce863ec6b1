use super::*;

#[test]
fn get_put_across_bytes() {
    let s = Spec::new("X", 1, 4, 12); // bits 15..4 of bytes 1..=2
    let mut b = [0xFFu8; 4];
    s.put(&mut b, 0xABC);
    assert_eq!(b, [0xFF, 0xAB, 0xCF, 0xFF]);
    assert_eq!(s.get(&b), 0xABC);
    assert_eq!(s.pointer(Location::Data, 0).bit, None);
    let flag = Spec::new("F", 2, 2, 1);
    assert_eq!(flag.get(&[0, 0, 0x04]), 1);
    assert_eq!(flag.pointer(Location::ParameterList, 4), FieldPointer::param_bit(6, 2));
    assert_eq!(Spec::new("W", 0, 0, 64).max(), u64::MAX);
    // Out of range reads zeroes, writes are skipped: never a panic.
    assert_eq!(Spec::new("Z", 6, 0, 32).get(&[1; 7]), 0x0100_0000);
    Spec::new("Z", 6, 0, 32).put(&mut [0; 7], u64::MAX);
}

crate::bits::layout! {
    /// A test structure.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Sample: "sample", 6 {
        /// A flag.
        flag: bool = "FLAG" (0, 7, 1),
        /// A nibble.
        nib: u8 = "NIB" (0, 0, 4),
        /// A number.
        num: u32 = "NUM" (2, 0, 32),
    }
}

#[test]
fn layout_round_trip_and_range() {
    let s = Sample { flag: true, nib: 9, num: 0x0102_0304 };
    let mut b = [0u8; 6];
    assert_eq!(s.emit_fixed(&mut b), Ok(6));
    assert_eq!(b, [0x89, 0, 1, 2, 3, 4]);
    assert_eq!(Sample::parse_fixed(&b, Location::Data), Ok(s));
    assert!(Sample::parse_fixed(&b[..5], Location::Data).is_err());
    let bad = Sample { nib: 16, ..s };
    assert_eq!(
        bad.emit_fixed(&mut b),
        Err(Error::InvalidField {
            what: "sample",
            field: "NIB",
            pointer: FieldPointer::data(0, Some(3)),
        })
    );
    assert_eq!(&Sample::mask()[..6], &[0x8F, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
}

#[test]
fn extreme_specs_never_panic() {
    // Fields are public, so a Spec that Spec::new would refuse can still be built.
    let specs = [
        Spec { field: "A", byte: u16::MAX, shift: u8::MAX, bits: u8::MAX },
        Spec { field: "B", byte: 0, shift: 7, bits: 64 },
        Spec { field: "C", byte: 0, shift: 63, bits: 2 },
        Spec { field: "D", byte: 0, shift: 0, bits: 0 },
        Spec { field: "E", byte: 0, shift: 250, bits: 7 },
        Spec { field: "F", byte: 0, shift: 64, bits: 1 },
    ];
    for s in specs {
        for len in [0, 1, 8, 16, 80] {
            let mut buf = vec![0xA5u8; len];
            let _ = s.get(&buf);
            s.put(&mut buf, u64::MAX);
            s.mark(&mut buf);
        }
        let p = s.pointer(Location::Cdb, u16::MAX);
        assert!(p.bit.is_none_or(|b| b <= 7), "{s:?}: {p:?}");
    }
    // A zero-width field holds nothing.
    let mut b = [0u8; 2];
    specs[3].put(&mut b, u64::MAX);
    assert_eq!((b, specs[3].get(&[0xFF; 2])), ([0, 0], 0));
}

#[test]
fn named_finds_a_declared_field_at_compile_time() {
    const NUM: Spec = named(Sample::FIELDS, "NUM");
    assert_eq!((NUM, NUM.byte), (Sample::FIELDS[2], 2));
    assert_eq!(crate::xcopy::LU_ID_TYPE.field, "LU ID TYPE");
}
