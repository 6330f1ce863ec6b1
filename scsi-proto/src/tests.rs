//! Helpers for the whole crate's tests (`crate::testutil`), and the tests of `lib.rs`.

use super::Wire;
use core::fmt::Debug;

/// Asserts `parse(emit(x)) == x` and that `emit` honours `buffer_len` exactly.
pub fn assert_roundtrip<T: Wire + PartialEq + Debug>(x: &T) {
    let len = x.buffer_len();
    let mut buf = vec![0xAAu8; len + 8];
    let n = x.emit(&mut buf).expect("emit into a large enough buffer");
    assert_eq!(n, len, "emit wrote a different length than buffer_len for {x:?}");
    let y = T::parse(&buf[..n]).expect("parse what was emitted");
    assert_eq!(&y, x);
    if len > 0 {
        assert!(x.emit(&mut vec![0u8; len - 1]).is_err(), "emit accepted a short buffer");
    }
}

#[test]
fn allocation_length_truncates() {
    let mut out = [0u8; 8];
    assert_eq!(super::copy_truncated(&[1, 2, 3, 4], 2, &mut out), 2);
    assert_eq!(&out[..3], &[1, 2, 0]);
    assert_eq!(super::copy_truncated(&[1, 2, 3], 100, &mut out), 3);
}
