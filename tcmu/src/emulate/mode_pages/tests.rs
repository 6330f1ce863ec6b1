//! MODE SENSE and MODE SELECT against a device's mode pages.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use scsi_proto::mode::{PageControl, page_code};

// Default pages, byte by byte from the SBC-4 Read-Write Error Recovery and Caching and the
// SPC-5 Control and Informational Exceptions Control page tables, with the values
// documented on each page type.
const RWER_DEFAULT: [u8; 12] = [0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const CACHING_WCE: [u8; 20] = [
    0x08, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];
const CONTROL_DEFAULT: [u8; 12] =
    [0x0A, 0x0A, 0x02, 0x10, 0x00, 0x40, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x1E];
const IEC_DEFAULT: [u8; 12] = [0x1C, 0x0A, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn invalid(what: &'static str, field: &'static str, pointer: FieldPointer) -> Error {
    Error::InvalidField { what, field, pointer }
}

// --- proptest strategies ---

/// Any page of its type: random bytes under a right header parse into every combination of PS,
/// field values and `other` bits (a field's bits always hold a value it can take).
fn any_page<F: PageFields + core::fmt::Debug, const N: usize>()
-> impl Strategy<Value = ModePage<F, N>> {
    vec(any::<u8>(), N).prop_map(|mut b| {
        b[0] = (b[0] & 0x80) | F::CODE;
        b[1] = (N - 2) as u8;
        ModePage::parse(&b).expect("every body of a page parses")
    })
}

fn page_set() -> impl Strategy<Value = PageSet> {
    (any_page(), any_page(), any_page(), any_page()).prop_map(|(a, b, c, d)| PageSet {
        read_write_error_recovery: a,
        caching: b,
        control: c,
        informational_exceptions: d,
    })
}

/// 2 Mi blocks of 512 bytes, writable, DPO/FUA supported.
const DEV: BlockDeviceInfo = BlockDeviceInfo {
    number_of_blocks: 0x0020_0000,
    block_length: 512,
    write_protect: false,
    dpofua: true,
};
/// Short block descriptor of DEV: 0x200000 blocks, 512 bytes.
const DEV_SHORT_BD: [u8; 8] = [0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00];

fn req(ten: bool, dbd: bool, pc: PageControl, page_code: u8) -> ModeSenseRequest {
    ModeSenseRequest { ten, dbd, llbaa: false, pc, page_code, subpage_code: 0 }
}

#[test]
fn sense6_caching_with_and_without_block_descriptor() {
    let m = ModePages::default();
    let with_bd =
        m.sense(&req(false, false, PageControl::Current, page_code::CACHING), &DEV).unwrap();
    assert_eq!(with_bd, cat(&[&[0x1F, 0x00, 0x10, 0x08], &DEV_SHORT_BD, &CACHING_WCE]));
    let dbd = m.sense(&req(false, true, PageControl::Current, page_code::CACHING), &DEV).unwrap();
    assert_eq!(dbd, cat(&[&[0x17, 0x00, 0x10, 0x00], &CACHING_WCE]));
}

#[test]
fn sense10_caching_short_and_without_descriptor() {
    let m = ModePages::default();
    let d = m.sense(&req(true, false, PageControl::Current, page_code::CACHING), &DEV).unwrap();
    assert_eq!(
        d,
        cat(&[&[0x00, 0x22, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08], &DEV_SHORT_BD, &CACHING_WCE])
    );
    let d = m.sense(&req(true, true, PageControl::Current, page_code::CACHING), &DEV).unwrap();
    assert_eq!(d, cat(&[&[0x00, 0x1A, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00], &CACHING_WCE]));
}

#[test]
fn sense10_llbaa_long_descriptor_and_wp() {
    let dev = BlockDeviceInfo {
        number_of_blocks: 0x1_2345_6789,
        block_length: 4096,
        write_protect: true,
        dpofua: false,
    };
    let mut r = req(true, false, PageControl::Current, page_code::CACHING);
    r.llbaa = true;
    let d = ModePages::default().sense(&r, &dev).unwrap();
    assert_eq!(
        d,
        cat(&[
            &[0x00, 0x2A, 0x00, 0x80, 0x01, 0x00, 0x00, 0x10],
            &[
                0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x10, 0x00
            ],
            &CACHING_WCE
        ])
    );
    // The same capacity in a short descriptor saturates (SBC-4 6.5).
    r.llbaa = false;
    let d = ModePages::default().sense(&r, &dev).unwrap();
    assert_eq!(
        &d[..16],
        &[
            0x00, 0x22, 0x00, 0x80, 0x00, 0x00, 0x00, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00,
            0x10, 0x00
        ]
    );
    // LLBAA is not a MODE SENSE(6) bit.
    r.ten = false;
    r.llbaa = true;
    let d = ModePages::default().sense(&r, &dev).unwrap();
    assert_eq!(&d[..8], &[0x1F, 0x00, 0x80, 0x08, 0xFF, 0xFF, 0xFF, 0xFF]);
}

#[test]
fn sense_all_pages_in_order() {
    let m = ModePages::default();
    let d = m.sense(&req(false, true, PageControl::Current, page_code::ALL_PAGES), &DEV).unwrap();
    let expected = cat(&[
        &[0x3B, 0x00, 0x10, 0x00],
        &RWER_DEFAULT,
        &CACHING_WCE,
        &CONTROL_DEFAULT,
        &IEC_DEFAULT,
    ]);
    assert_eq!(d.len(), 60);
    assert_eq!(d, expected);

    let mut r = req(true, false, PageControl::Current, page_code::ALL_PAGES);
    r.subpage_code = page_code::ALL_SUBPAGES;
    let d = m.sense(&r, &DEV).unwrap();
    assert_eq!(d.len(), 72);
    assert_eq!(&d[..8], &[0x00, 0x46, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08]);
    let parsed = ModeParameters::parse(&d, true).unwrap();
    assert_eq!(
        parsed.block_descriptors,
        [BlockDescriptor { number_of_blocks: 0x20_0000, block_length: 512 }]
    );
    assert!(parsed.device_specific_parameter == DEVICE_SPECIFIC_DPOFUA && !parsed.long_lba);
    let codes: Vec<u8> = parsed.pages().map(|p| p.page_code).collect();
    assert_eq!(codes, [0x01, 0x08, 0x0A, 0x1C]);
    assert_eq!(parsed.pages, &d[16..]);
}

#[test]
fn sense_changeable_returns_masks() {
    let m = ModePages::default();
    let d =
        m.sense(&req(false, true, PageControl::Changeable, page_code::ALL_PAGES), &DEV).unwrap();
    let mut caching_mask = [0u8; 20];
    caching_mask[..3].copy_from_slice(&[0x08, 0x12, 0x04]);
    let expected = cat(&[
        &[0x3B, 0x00, 0x10, 0x00],
        &[0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &caching_mask,
        &[0x0A, 0x0A, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x1C, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    assert_eq!(d, expected);
    // WCE fixed: the caching mask is all zero.
    let fixed = ModePages::new(false, false);
    assert_eq!(
        fixed.page(page_code::CACHING, PageControl::Changeable),
        Ok(cat(&[&[0x08, 0x12], &[0u8; 18]]))
    );
    assert_eq!(fixed.page(page_code::CONTROL, PageControl::Default), Ok(CONTROL_DEFAULT.to_vec()));
}

#[test]
fn sense_errors() {
    let m = ModePages::default();
    let e = m.sense(&req(false, false, PageControl::Current, 0x19), &DEV).unwrap_err();
    assert_eq!(e, invalid("MODE SENSE(6)", "PAGE CODE", FieldPointer::cdb_bit(2, 5)).into());
    let mut r = req(true, false, PageControl::Current, page_code::CACHING);
    r.subpage_code = 0x01;
    assert_eq!(
        m.sense(&r, &DEV),
        Err(invalid("MODE SENSE(10)", "SUBPAGE CODE", FieldPointer::cdb(3)).into())
    );
    r.page_code = page_code::ALL_PAGES;
    assert_eq!(
        m.sense(&r, &DEV),
        Err(invalid("MODE SENSE(10)", "SUBPAGE CODE", FieldPointer::cdb(3)).into())
    );
    // Page 08h, all subpages: just page 08h.
    r.page_code = page_code::CACHING;
    r.subpage_code = page_code::ALL_SUBPAGES;
    let d = m.sense(&r, &DEV).unwrap();
    assert_eq!(&d[16..], &CACHING_WCE);
    // Saved values.
    let e = m.sense(&req(false, false, PageControl::Saved, page_code::CACHING), &DEV).unwrap_err();
    assert_eq!(e, ModeSenseError::SavingParametersNotSupported);
    assert_eq!(
        m.page(page_code::CONTROL, PageControl::Saved).unwrap_err(),
        ModeSenseError::SavingParametersNotSupported
    );
    assert_ne!(
        m.page(0x19, PageControl::Current).unwrap_err(),
        ModeSenseError::SavingParametersNotSupported
    );
    // A short descriptor cannot hold a block length above 24 bits.
    let huge = BlockDeviceInfo { block_length: 0x0100_0000, ..DEV };
    assert!(m.sense(&req(false, false, PageControl::Current, page_code::CACHING), &huge).is_err());
}

/// MODE SELECT(6) list: header with an 8-byte block descriptor, then `page`.
fn list6_bd(page: &[u8]) -> Vec<u8> {
    cat(&[&[0x00, 0x00, 0x00, 0x08], &DEV_SHORT_BD, page])
}

#[test]
fn select_accepts_wce_flip() {
    let m = ModePages::default();
    let mut page = CACHING_WCE;
    page[2] = 0x00;
    let new = m.select(false, true, false, &list6_bd(&page), &DEV).unwrap();
    assert!(!new.caching.wce);
    let mut expected = m.caching;
    expected.wce = false;
    assert_eq!(new.caching, expected);
    assert_eq!(new.control, m.control);
    assert_eq!(new.changeable, m.changeable);
    assert!(m.caching.wce, "self is untouched");
    // The current values report the change, the defaults do not.
    assert_eq!(new.page(page_code::CACHING, PageControl::Current), Ok(page.to_vec()));
    assert_eq!(new.page(page_code::CACHING, PageControl::Default), Ok(CACHING_WCE.to_vec()));
}

#[test]
fn select_two_pages_in_one_list() {
    let m = ModePages::default();
    let mut caching = CACHING_WCE;
    caching[2] = 0;
    let mut control = CONTROL_DEFAULT;
    control[2] |= 0x04;
    let list = cat(&[&[0, 0, 0, 0, 0, 0, 0, 0], &control, &caching]);
    let new = m.select(true, true, false, &list, &DEV).unwrap();
    assert!(new.control.d_sense);
    assert!(!new.caching.wce);
}

#[test]
fn select_rejects_non_changeable_bits() {
    let m = ModePages::default();
    let what = "MODE SELECT(6)";
    // RCD: caching page at list offset 12, page byte 2 bit 0.
    let mut page = CACHING_WCE;
    page[2] |= 0x01;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "RCD", FieldPointer::param_bit(14, 0)))
    );
    // WCE flip and RCD: the first offending bit is still RCD, WCE being changeable.
    page[2] = 0x01;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "RCD", FieldPointer::param_bit(14, 0)))
    );
    // DRA: page byte 12 bit 5 = list byte 24.
    let mut page = CACHING_WCE;
    page[12] = 0x00;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "DRA", FieldPointer::param_bit(24, 5)))
    );
    // A two-byte field is pointed at by its first byte, without a bit.
    let mut page = CACHING_WCE;
    page[9] = 0x01;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "MAXIMUM PRE-FETCH", FieldPointer::param(20)))
    );
    // A multi-bit field by its leftmost bit: QERR in a MODE SELECT(10) list, page at 8.
    let mut control = CONTROL_DEFAULT;
    control[3] |= 0x02;
    let list = cat(&[&[0; 8], &control]);
    assert_eq!(
        m.select(true, true, false, &list, &DEV),
        Err(invalid("MODE SELECT(10)", "QERR", FieldPointer::param_bit(11, 2)))
    );
    // A reserved bit: IEC byte 2 bit 6.
    let mut iec = IEC_DEFAULT;
    iec[2] |= 0x40;
    let list = cat(&[&[0; 4], &iec]);
    assert_eq!(
        m.select(false, true, false, &list, &DEV),
        Err(invalid(what, "reserved", FieldPointer::param_bit(6, 6)))
    );
    // WCE itself when the device cannot switch its cache.
    let fixed = ModePages::new(true, false);
    let mut page = CACHING_WCE;
    page[2] = 0;
    assert_eq!(
        fixed.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "WCE", FieldPointer::param_bit(14, 2)))
    );
    // Sending the current value of a non-changeable field is fine.
    assert!(fixed.select(false, true, false, &list6_bd(&CACHING_WCE), &DEV).is_ok());
}

#[test]
fn select_rejects_bad_page_headers() {
    let m = ModePages::default();
    let what = "MODE SELECT(6)";
    let mut page = CACHING_WCE;
    page[0] |= 0x80;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "PS", FieldPointer::param_bit(12, 7)))
    );
    let mut page = CACHING_WCE;
    page[1] = 0x13;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "PAGE LENGTH", FieldPointer::param(13)))
    );
    let mut page = CACHING_WCE;
    page[0] = 0x48;
    assert_eq!(
        m.select(false, true, false, &list6_bd(&page), &DEV),
        Err(invalid(what, "SPF", FieldPointer::param_bit(12, 6)))
    );
    let unknown = [0x19, 0x06, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        m.select(false, true, false, &list6_bd(&unknown), &DEV),
        Err(invalid(what, "PAGE CODE", FieldPointer::param_bit(12, 5)))
    );
    // Truncated page, truncated page header.
    let list = list6_bd(&CACHING_WCE[..10]);
    assert_eq!(
        m.select(false, true, false, &list, &DEV),
        Err(Error::ParameterListLength { what, len: 22 })
    );
    let list = list6_bd(&CACHING_WCE[..1]);
    assert_eq!(
        m.select(false, true, false, &list, &DEV),
        Err(Error::ParameterListLength { what, len: 13 })
    );
    // A whole page followed by a stray byte.
    let list = cat(&[&list6_bd(&CACHING_WCE), &[0x08]]);
    assert_eq!(
        m.select(false, true, false, &list, &DEV),
        Err(Error::ParameterListLength { what, len: 33 })
    );
}

#[test]
fn select_header_and_descriptor_checks() {
    let m = ModePages::default();
    let w6 = "MODE SELECT(6)";
    let w10 = "MODE SELECT(10)";
    // Empty list, header alone: no change.
    assert_eq!(m.select(false, true, false, &[], &DEV), Ok(m.clone()));
    assert_eq!(m.select(false, true, false, &[0; 4], &DEV), Ok(m.clone()));
    assert_eq!(m.select(true, false, false, &[0; 8], &DEV), Ok(m.clone()));
    assert_eq!(m.select(false, true, false, &DEV_SHORT_BD[..0], &DEV), Ok(m.clone()));
    // Header or descriptor cut short.
    assert_eq!(
        m.select(false, true, false, &[0, 0], &DEV),
        Err(Error::ParameterListLength { what: w6, len: 2 })
    );
    assert_eq!(
        m.select(true, true, false, &[0; 7], &DEV),
        Err(Error::ParameterListLength { what: w10, len: 7 })
    );
    assert_eq!(
        m.select(false, true, false, &[0, 0, 0, 8, 0, 0x20], &DEV),
        Err(Error::ParameterListLength { what: w6, len: 6 })
    );
    // MODE DATA LENGTH is reserved.
    assert_eq!(
        m.select(false, true, false, &[0x03, 0, 0, 0], &DEV),
        Err(invalid(w6, "MODE DATA LENGTH", FieldPointer::param(0)))
    );
    assert_eq!(
        m.select(true, true, false, &[0, 0x06, 0, 0, 0, 0, 0, 0], &DEV),
        Err(invalid(w10, "MODE DATA LENGTH", FieldPointer::param(0)))
    );
    // Block descriptor lengths.
    assert_eq!(
        m.select(false, true, false, &[0, 0, 0, 4, 0, 0, 0, 0], &DEV),
        Err(invalid(w6, "BLOCK DESCRIPTOR LENGTH", FieldPointer::param(3)))
    );
    let short10 = cat(&[&[0, 0, 0, 0, 0, 0, 0, 16], &DEV_SHORT_BD, &DEV_SHORT_BD]);
    assert_eq!(
        m.select(true, true, false, &short10, &DEV),
        Err(invalid(w10, "BLOCK DESCRIPTOR LENGTH", FieldPointer::param(6)))
    );
    let long_with_8 = cat(&[&[0, 0, 0, 0, 1, 0, 0, 8], &DEV_SHORT_BD]);
    assert_eq!(
        m.select(true, true, false, &long_with_8, &DEV),
        Err(invalid(w10, "BLOCK DESCRIPTOR LENGTH", FieldPointer::param(6)))
    );
    // A long descriptor with the device's block length, then a page.
    let long_bd = [0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00];
    let mut page = CACHING_WCE;
    page[2] = 0;
    let list = cat(&[&[0, 0, 0, 0, 1, 0, 0, 16], &long_bd, &page]);
    assert!(!m.select(true, true, false, &list, &DEV).unwrap().caching.wce);
    // Block length changes are refused, short and long.
    let mut bd = DEV_SHORT_BD;
    bd[6] = 0x10;
    let list = cat(&[&[0, 0, 0, 8], &bd]);
    assert_eq!(
        m.select(false, true, false, &list, &DEV),
        Err(invalid(w6, "LOGICAL BLOCK LENGTH", FieldPointer::param(9)))
    );
    let mut bd = long_bd;
    bd[14] = 0x10;
    let list = cat(&[&[0, 0, 0, 0, 1, 0, 0, 16], &bd]);
    assert_eq!(
        m.select(true, true, false, &list, &DEV),
        Err(invalid(w10, "LOGICAL BLOCK LENGTH", FieldPointer::param(20)))
    );
    // The number of blocks is ignored.
    let mut bd = DEV_SHORT_BD;
    bd[0] = 0xFF;
    assert!(m.select(false, true, false, &cat(&[&[0, 0, 0, 8], &bd]), &DEV).is_ok());
}

#[test]
fn select_cdb_bits() {
    let m = ModePages::default();
    assert_eq!(
        m.select(false, true, true, &[0; 4], &DEV),
        Err(invalid("MODE SELECT(6)", "SP", FieldPointer::cdb_bit(1, 0)))
    );
    assert_eq!(
        m.select(true, false, false, &cat(&[&[0; 8], &CACHING_WCE]), &DEV),
        Err(invalid("MODE SELECT(10)", "PF", FieldPointer::cdb_bit(1, 4)))
    );
    // PF = 0 without pages is harmless.
    assert!(m.select(false, false, false, &[0; 4], &DEV).is_ok());
}

fn any_request() -> impl Strategy<Value = ModeSenseRequest> {
    (
        any::<[bool; 3]>(),
        0..4u8,
        prop_oneof![Just(0x01u8), Just(0x08), Just(0x0A), Just(0x1C), Just(0x3F), 0..64u8],
        prop_oneof![Just(0u8), Just(0xFF), any::<u8>()],
    )
        .prop_map(|(b, pc, page_code, subpage_code)| ModeSenseRequest {
            ten: b[0],
            dbd: b[1],
            llbaa: b[2],
            pc: PageControl::from_bits(pc),
            page_code,
            subpage_code,
        })
}

/// `cur` with the bits of `flips` that `mask` allows flipped, in page bytes 2.. .
fn mutate<F: PageFields, const N: usize>(
    cur: &ModePage<F, N>,
    mask: &ModePage<F, N>,
    flips: &ModePage<F, N>,
) -> ModePage<F, N> {
    let (mut c, m, f) = (cur.to_vec(), mask.to_vec(), flips.to_vec());
    for i in 2..c.len() {
        c[i] ^= f[i] & m[i];
    }
    ModePage::parse(&c).unwrap()
}

proptest! {
    /// MODE SELECT of the MODE SENSE data of a mutation the masks allow applies exactly it.
    #[test]
    fn select_of_sense_applies_the_mutation(
        cur in page_set(),
        masks in page_set(),
        flips in page_set(),
        req in any_request(),
        which in 0usize..5,
    ) {
        let mut cur = cur;
        cur.read_write_error_recovery.ps = false;
        cur.caching.ps = false;
        cur.control.ps = false;
        cur.informational_exceptions.ps = false;
        let mutated = PageSet {
            read_write_error_recovery: mutate(
                &cur.read_write_error_recovery,
                &masks.read_write_error_recovery,
                &flips.read_write_error_recovery,
            ),
            caching: mutate(&cur.caching, &masks.caching, &flips.caching),
            control: mutate(&cur.control, &masks.control, &flips.control),
            informational_exceptions: mutate(
                &cur.informational_exceptions,
                &masks.informational_exceptions,
                &flips.informational_exceptions,
            ),
        };
        let original = ModePages::from_sets(cur, masks);
        let mut changed = original.clone();
        changed.set_current(mutated);
        let page_code = [0x01, 0x08, 0x0A, 0x1C, 0x3F][which];
        let req = ModeSenseRequest {
            pc: PageControl::Current,
            page_code,
            subpage_code: 0,
            ..req
        };
        let mut list = changed.sense(&req, &DEV).unwrap();
        list[0] = 0;
        if req.ten {
            list[1] = 0;
        }
        let new = original.select(req.ten, true, false, &list, &DEV).unwrap();
        let mut expected = cur;
        match page_code {
            0x01 => expected.read_write_error_recovery = mutated.read_write_error_recovery,
            0x08 => expected.caching = mutated.caching,
            0x0A => expected.control = mutated.control,
            0x1C => expected.informational_exceptions = mutated.informational_exceptions,
            _ => expected = mutated,
        }
        prop_assert_eq!(new.current(), expected);
        prop_assert_eq!(new.changeable, masks);
        prop_assert_eq!(new.defaults, cur);
    }

    /// Flipping one bit the mask forbids is refused, pointing into that page.
    #[test]
    fn select_refuses_a_forbidden_bit(masks in page_set(), i in 2usize..20, b in 0u8..8) {
        let m = ModePages::from_sets(PageSet::disk_defaults(true), masks);
        let mask = masks.caching.to_vec();
        prop_assume!(mask[i] & (1 << b) == 0);
        let mut page = m.caching.to_vec();
        page[i] ^= 1 << b;
        let list = cat(&[&[0; 4], &page]);
        match m.select(false, true, false, &list, &DEV) {
            Err(Error::InvalidField { pointer, .. }) => {
                prop_assert_eq!(pointer.location, Location::ParameterList);
                prop_assert!(usize::from(pointer.byte) <= 4 + i);
                prop_assert!(usize::from(pointer.byte) >= 4 + 2);
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn sense_never_panics(req in any_request(), n in any::<u64>(), l in any::<u32>()) {
        let dev = BlockDeviceInfo { number_of_blocks: n, block_length: l, ..DEV };
        if let Ok(d) = ModePages::default().sense(&req, &dev) {
            let p = ModeParameters::parse(&d, req.ten).unwrap();
            prop_assert_eq!(p.block_descriptors.len(), usize::from(!req.dbd));
        }
    }

    #[test]
    fn select_never_panics(
        list in vec(any::<u8>(), 0..300),
        flags in any::<[bool; 3]>(),
    ) {
        let _ = ModePages::default().select(flags[0], flags[1], flags[2], &list, &DEV);
    }

    /// Random page bodies behind a valid header and page header, to get past the first
    /// checks into the mask comparison, with only the unnamed bits changeable.
    #[test]
    fn select_structured_never_panics(
        ten in any::<bool>(),
        which in 0usize..4,
        body in vec(any::<u8>(), 0..40),
    ) {
        let code = ModePages::SUPPORTED_PAGES[which];
        let len = PageSet::cleared().page(code).unwrap().page_len();
        let mut list = vec![0u8; if ten { 8 } else { 4 }];
        list.extend_from_slice(&[code, (len - 2) as u8]);
        list.extend_from_slice(&body);
        let mut all = PageSet::cleared();
        all.read_write_error_recovery.other = [0xFF; 12];
        all.caching.other = [0xFF; 20];
        all.control.other = [0xFF; 12];
        all.informational_exceptions.other = [0xFF; 12];
        let m = ModePages::from_sets(PageSet::disk_defaults(true), all);
        let r = m.select(ten, true, false, &list, &DEV);
        if body.len() == len - 2 {
            // Unnamed bits changeable but named ones not: only an all-unnamed change passes.
            if let Ok(new) = r {
                prop_assert_eq!(new.changeable, all);
            }
        } else if body.len() < len - 2 {
            let short = matches!(r, Err(Error::ParameterListLength { .. }));
            prop_assert!(short);
        }
    }

}
