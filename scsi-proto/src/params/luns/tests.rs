use super::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, Wire, copy_truncated};
use proptest::collection::vec;
use proptest::prelude::*;

#[test]
fn report_luns_0_5_300() {
    let luns = ReportLuns {
        luns: vec![
            Lun::from_index(0).unwrap(),
            Lun::from_index(5).unwrap(),
            Lun::from_index(300).unwrap(),
        ],
    };
    let want = [
        0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, // LUN LIST LENGTH 24
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 0, peripheral
        0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 5, peripheral
        0x41, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 300, flat space
    ];
    assert_eq!(luns.to_vec(), want);
    let back = ReportLuns::parse(&want).unwrap();
    assert_eq!(back, luns);
    let idx: Vec<_> = back.luns.iter().map(Lun::index).collect();
    assert_eq!(idx, [Some(0), Some(5), Some(300)]);
    assert_eq!(back.luns[2].0[0] >> 6, 0b01); // ADDRESS METHOD: flat space

    // The usual first probe: 16 bytes.
    let mut out = [0xEEu8; 16];
    assert_eq!(luns.emit_truncated(16, &mut out).unwrap(), 16);
    assert_eq!(out, want[..16]);

    let mut bad = want;
    bad[3] = 0x17;
    assert!(matches!(
        ReportLuns::parse(&bad),
        Err(Error::InvalidField { field: "LUN LIST LENGTH", .. })
    ));
    assert!(matches!(ReportLuns::parse(&want[..31]), Err(Error::Truncated { needed: 32, .. })));
}

#[test]
fn lun_forms() {
    assert_eq!(Lun::from_index(255).unwrap().0, [0, 0xFF, 0, 0, 0, 0, 0, 0]);
    assert_eq!(Lun::from_index(256).unwrap().0, [0x41, 0x00, 0, 0, 0, 0, 0, 0]);
    assert_eq!(Lun::from_index(16383).unwrap().0, [0x7F, 0xFF, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(Lun::from_index(16384), Err(Error::InvalidField { field: "LUN", .. })));
    // Peripheral addressing on another bus, a second level, the REPORT LUNS well-known
    // LUN and extended addressing are not single-level indexes.
    assert_eq!(Lun([0x01, 0x05, 0, 0, 0, 0, 0, 0]).index(), None);
    assert_eq!(Lun([0x00, 0x05, 0x00, 0x01, 0, 0, 0, 0]).index(), None);
    assert_eq!(Lun([0xC1, 0x01, 0, 0, 0, 0, 0, 0]).index(), None);
    assert_eq!(Lun([0x80, 0x01, 0, 0, 0, 0, 0, 0]).index(), None);
    // Flat space addressing below 256 still decodes.
    assert_eq!(Lun([0x40, 0x05, 0, 0, 0, 0, 0, 0]).index(), Some(5));
    let raw: [u8; 8] = Lun::from_index(300).unwrap().0;
    assert_eq!(Lun(raw).index(), Some(300));
}

fn arb_report_luns() -> impl Strategy<Value = ReportLuns> {
    vec(any::<[u8; 8]>().prop_map(Lun), 0..40).prop_map(|luns| ReportLuns { luns })
}

proptest! {
    #[test]
    fn roundtrip_report_luns(x in arb_report_luns()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn lun_index_roundtrip(i in 0u16..0x4000) {
        prop_assert_eq!(Lun::from_index(i).unwrap().index(), Some(i));
    }

    #[test]
    fn lun_index_out_of_range(i in 0x4000u16..) {
        prop_assert!(Lun::from_index(i).is_err());
    }

    #[test]
    fn report_luns_emit_truncated_is_copy_truncated(
        x in arb_report_luns(), alloc in 0usize..400, out_len in 0usize..400,
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
        let _ = ReportLuns::parse(&bytes);
    }

    /// Whatever parses re-emits to something that parses to the same value.
    #[test]
    fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(x) = ReportLuns::parse(&bytes) { assert_roundtrip(&x); }
    }
}
