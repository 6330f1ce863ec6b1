//! Mode parameter data tests: the (6) and (10) forms, block descriptors, page walking.

use super::super::tests::invalid;
use super::*;
use crate::Error;
use proptest::collection::vec;
use proptest::prelude::*;

#[test]
fn mode_parameters_parse_errors() {
    // MODE DATA LENGTH below the header.
    assert!(matches!(
        ModeParameters::parse(&[0x02, 0, 0, 0], false),
        Err(Error::InvalidField { field: "MODE DATA LENGTH", .. })
    ));
    // Cut by the allocation length.
    assert!(matches!(
        ModeParameters::parse(&[0x1F, 0, 0, 8, 0, 0], false),
        Err(Error::Truncated { needed: 32, .. })
    ));
    // Block descriptor length not a multiple of 8.
    assert!(matches!(
        ModeParameters::parse(&[0x07, 0, 0, 4, 0, 0, 0, 0], false),
        Err(Error::InvalidField { field: "BLOCK DESCRIPTOR LENGTH", .. })
    ));
    // A page running past the data.
    assert_eq!(
        ModeParameters::parse(&[0x05, 0, 0, 0, 0x08, 0x12], false),
        Err(invalid("MODE SENSE(6) data", "PAGE LENGTH", FieldPointer::data(5, None)))
    );
    // Bytes after MODE DATA LENGTH are ignored; a sub_page format page is walked.
    let d = [0x09, 0, 0x80, 0, 0x4A, 0x01, 0x00, 0x02, 0xAB, 0xCD, 0xEE];
    let p = ModeParameters::parse(&d, false).unwrap();
    assert_eq!(p.device_specific_parameter, crate::mode::DEVICE_SPECIFIC_WP);
    let pages: Vec<_> = p.pages().collect();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].spf && !pages[0].ps);
    assert_eq!((pages[0].page_code, pages[0].subpage_code), (0x0A, 0x01));
    assert_eq!(pages[0].bytes, &d[4..10]);
    // LONGLBA cannot be emitted in the (6) form.
    let long = ModeParameters { long_lba: true, ..p };
    assert!(long.to_vec(false).is_err());
    assert!(long.to_vec(true).is_ok());
}

fn block_descriptor(long: bool) -> impl Strategy<Value = BlockDescriptor> {
    let (max_blocks, max_len) =
        if long { (u64::MAX, u32::MAX) } else { (u64::from(u32::MAX), 0x00FF_FFFF) };
    (0..=max_blocks, 0..=max_len)
        .prop_map(|(n, l)| BlockDescriptor { number_of_blocks: n, block_length: l })
}

/// Well-formed pages of either format, concatenated.
fn raw_pages() -> impl Strategy<Value = Vec<u8>> {
    vec((any::<bool>(), any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..30)), 0..4).prop_map(
        |pages| {
            let mut out = Vec::new();
            for (spf, b0, sub, body) in pages {
                if spf {
                    out.extend_from_slice(&[b0 | 0x40, sub, 0, body.len() as u8]);
                } else {
                    out.extend_from_slice(&[b0 & !0x40, body.len() as u8]);
                }
                out.extend_from_slice(&body);
            }
            out
        },
    )
}

fn mode_parameters() -> impl Strategy<Value = (bool, ModeParameters)> {
    (any::<bool>(), any::<bool>())
        .prop_flat_map(|(ten, long)| {
            let long = ten && long;
            (
                Just(ten),
                any::<u8>(),
                any::<u8>(),
                Just(long),
                vec(block_descriptor(long), 0..3),
                raw_pages(),
            )
        })
        .prop_map(|(ten, mt, dsp, long_lba, block_descriptors, pages)| {
            (
                ten,
                ModeParameters {
                    medium_type: mt,
                    device_specific_parameter: dsp,
                    long_lba,
                    block_descriptors,
                    pages,
                },
            )
        })
}

proptest! {
    #[test]
    fn mode_parameters_roundtrip((ten, p) in mode_parameters()) {
        let v = p.to_vec(ten).unwrap();
        prop_assert_eq!(v.len(), p.buffer_len(ten));
        prop_assert_eq!(ModeParameters::parse(&v, ten).unwrap(), p.clone());
        prop_assert!(p.emit(ten, &mut vec![0; v.len() - 1]).is_err());
    }


    #[test]
    fn mode_parameters_parse_never_panics(
        buf in vec(any::<u8>(), 0..300),
        ten in any::<bool>(),
    ) {
        if let Ok(p) = ModeParameters::parse(&buf, ten) {
            let v = p.to_vec(ten).unwrap();
            prop_assert_eq!(ModeParameters::parse(&v, ten).unwrap(), p.clone());
            let total: usize = p.pages().map(|pg| pg.bytes.len()).sum();
            prop_assert_eq!(total, p.pages.len());
        }
    }

}
