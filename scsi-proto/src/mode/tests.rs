//! Mode page tests: each page's bytes, field by field, and the shared helpers and page
//! strategies the parameter data and MODE SELECT tests use.

use super::*;
use crate::error::{Error, FieldPointer};
use crate::testutil::assert_roundtrip;
use proptest::collection::vec;
use proptest::prelude::*;

// Default pages, byte by byte from the SBC-4 Read-Write Error Recovery and Caching and the
// SPC-5 Control and Informational Exceptions Control page tables, with the values
// documented on each page type.
pub(super) const RWER_DEFAULT: [u8; 12] = [0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
pub(super) const CACHING_WCE: [u8; 20] = [
    0x08, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];
pub(super) const CONTROL_DEFAULT: [u8; 12] =
    [0x0A, 0x0A, 0x02, 0x10, 0x00, 0x40, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x1E];
pub(super) const IEC_DEFAULT: [u8; 12] = [0x1C, 0x0A, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];

pub(super) use crate::error::invalid;

#[test]
fn default_pages_bytes() {
    assert_eq!(ReadWriteErrorRecoveryPage::default().to_vec(), RWER_DEFAULT);
    assert_eq!(CachingPage::default().to_vec(), CACHING_WCE);
    let mut no_wce = CACHING_WCE;
    no_wce[2] = 0;
    assert_eq!(CachingPage::new(false).to_vec(), no_wce);
    assert_eq!(ControlPage::default().to_vec(), CONTROL_DEFAULT);
    assert_eq!(InformationalExceptionsPage::default().to_vec(), IEC_DEFAULT);
    // And back.
    assert_eq!(ControlPage::parse(&CONTROL_DEFAULT), Ok(ControlPage::default()));
    assert_eq!(
        InformationalExceptionsPage::parse(&IEC_DEFAULT),
        Ok(InformationalExceptionsPage::default())
    );
}

#[test]
fn rwer_decode_every_field() {
    let b = [0x81, 0x0A, 0xC1, 0x05, 0xAA, 0xBB, 0xCC, 0x80, 0x07, 0x00, 0x27, 0x10];
    let p = ReadWriteErrorRecoveryPage::parse(&b).unwrap();
    assert!(p.ps && p.awre && p.arre && p.dcr);
    assert!(!p.tb && !p.rc && !p.eer && !p.per && !p.dte);
    assert_eq!(p.read_retry_count, 5);
    assert_eq!(p.write_retry_count, 7);
    assert_eq!(p.recovery_time_limit, 10_000);
    assert_eq!(p.other, [0, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0x80, 0, 0, 0, 0]);
    assert_eq!(p.to_vec(), b);
}

#[test]
fn caching_decode_every_field() {
    let b = [
        0x88, 0x12, 0xA5, 0x3C, 0x12, 0x34, 0x00, 0x40, 0xFF, 0xFE, 0x01, 0x02, 0xBB, 0x10, 0x80,
        0x00, 0x5A, 0xAA, 0xBB, 0xCC,
    ];
    let p = CachingPage::parse(&b).unwrap();
    assert!(p.ps);
    assert!(p.ic && !p.abpf && p.cap && !p.disc && !p.size && p.wce && !p.mf && p.rcd);
    assert_eq!(p.demand_read_retention_priority, 3);
    assert_eq!(p.write_retention_priority, 0xC);
    assert_eq!(p.disable_prefetch_transfer_length, 0x1234);
    assert_eq!(p.minimum_prefetch, 0x0040);
    assert_eq!(p.maximum_prefetch, 0xFFFE);
    assert_eq!(p.maximum_prefetch_ceiling, 0x0102);
    assert!(p.fsw && !p.lbcss && p.dra && p.nv_dis);
    assert_eq!(p.number_of_cache_segments, 0x10);
    assert_eq!(p.cache_segment_size, 0x8000);
    let mut other = [0u8; 20];
    other[12] = 0x1A;
    other[16] = 0x5A;
    other[17..].copy_from_slice(&[0xAA, 0xBB, 0xCC]);
    assert_eq!(p.other, other);
    assert_eq!(p.to_vec(), b);
}

#[test]
fn control_decode_every_field() {
    let b = [0x0A, 0x0A, 0x65, 0x1B, 0xFA, 0xDD, 0x12, 0x34, 0x01, 0x02, 0x0E, 0x10];
    let p = ControlPage::parse(&b).unwrap();
    assert!(!p.ps);
    assert_eq!(p.tst, 3);
    assert!(!p.tmf_only && !p.dpicz && p.d_sense && !p.gltsd && p.rlec);
    assert_eq!(p.queue_algorithm_modifier, 1);
    assert!(p.nuar);
    assert_eq!(p.qerr, 1);
    assert!(p.rac && p.swp);
    assert_eq!(p.ua_intlck_ctrl, 3);
    assert!(p.ato && p.tas && !p.atmpe && p.rwwp && p.sblp);
    assert_eq!(p.autoload_mode, 5);
    assert_eq!(p.busy_timeout_period, 0x0102);
    assert_eq!(p.extended_self_test_completion_time, 3600);
    assert_eq!(p.other, [0, 0, 0, 0x01, 0x82, 0, 0x12, 0x34, 0, 0, 0, 0]);
    assert_eq!(p.to_vec(), b);
}

#[test]
fn iec_decode_every_field() {
    let b = [0x1C, 0x0A, 0xFF, 0x56, 0x00, 0x00, 0x0B, 0xB8, 0x00, 0x00, 0x00, 0x01];
    let p = InformationalExceptionsPage::parse(&b).unwrap();
    assert!(p.perf && p.ebf && p.ewasc && p.dexcpt && p.test && p.ebackerr && p.logerr);
    assert_eq!(p.mrie, 6);
    assert_eq!(p.interval_timer, 3000);
    assert_eq!(p.report_count, 1);
    assert_eq!(p.other, [0, 0, 0x40, 0x50, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(p.to_vec(), b);
}

#[test]
fn page_parse_rejects_wrong_header() {
    let mut b = CACHING_WCE;
    b[0] = 0x0A;
    assert_eq!(
        CachingPage::parse(&b),
        Err(invalid("Caching mode page", "PAGE CODE", FieldPointer::data(0, Some(5))))
    );
    b[0] = 0x48;
    assert_eq!(
        CachingPage::parse(&b),
        Err(invalid("Caching mode page", "SPF", FieldPointer::data(0, Some(6))))
    );
    b[0] = 0x08;
    b[1] = 0x0A;
    assert_eq!(
        CachingPage::parse(&b),
        Err(invalid("Caching mode page", "PAGE LENGTH", FieldPointer::data(1, None)))
    );
    assert!(matches!(
        CachingPage::parse(&CACHING_WCE[..19]),
        Err(Error::Truncated { needed: 20, .. })
    ));
    assert!(ControlPage::parse(&[]).is_err());
    // Emit into a short buffer fails.
    assert!(ControlPage::default().emit(&mut [0u8; 11]).is_err());
}

#[test]
fn emit_ignores_named_bits_in_other() {
    let p = ControlPage { other: [0xFF; 12], ..ControlPage::default() };
    let b = p.to_vec();
    // Named fields come from the fields; only unnamed bits come from `other`.
    assert_eq!(b, [0x0A, 0x0A, 0x02, 0x11, 0x87, 0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x1E]);
}

#[test]
fn page_control_bits() {
    for v in 0..4u8 {
        assert_eq!(PageControl::from_bits(v) as u8, v);
    }
    assert_eq!(PageControl::from_bits(0x41), PageControl::Changeable);
    assert_eq!(PageControl::from_bits(3), PageControl::Saved);
}

// --- proptest strategies ---

/// A page of `fields` whose `other` bits are those of `other` no named field covers.
fn page<F: PageFields, const N: usize>(ps: bool, fields: F, other: [u8; N]) -> ModePage<F, N> {
    ModePage { ps, fields, other: ModePage::<F, N>::unmodeled(&other) }
}

fn rwer() -> impl Strategy<Value = ReadWriteErrorRecoveryPage> {
    (any::<bool>(), any::<[bool; 8]>(), any::<u8>(), any::<u8>(), any::<u16>(), any::<[u8; 12]>())
        .prop_map(|(ps, f, rrc, wrc, rtl, other)| {
            page(
                ps,
                ReadWriteErrorRecovery {
                    awre: f[0],
                    arre: f[1],
                    tb: f[2],
                    rc: f[3],
                    eer: f[4],
                    per: f[5],
                    dte: f[6],
                    dcr: f[7],
                    read_retry_count: rrc,
                    write_retry_count: wrc,
                    recovery_time_limit: rtl,
                },
                other,
            )
        })
}

fn caching() -> impl Strategy<Value = CachingPage> {
    (
        any::<bool>(),
        any::<[bool; 8]>(),
        (0..16u8, 0..16u8),
        any::<[u16; 4]>(),
        any::<[bool; 4]>(),
        any::<u8>(),
        any::<u16>(),
        any::<[u8; 20]>(),
    )
        .prop_map(|(ps, f, (drrp, wrp), pf, g, ncs, css, other)| {
            page(
                ps,
                Caching {
                    ic: f[0],
                    abpf: f[1],
                    cap: f[2],
                    disc: f[3],
                    size: f[4],
                    wce: f[5],
                    mf: f[6],
                    rcd: f[7],
                    demand_read_retention_priority: drrp,
                    write_retention_priority: wrp,
                    disable_prefetch_transfer_length: pf[0],
                    minimum_prefetch: pf[1],
                    maximum_prefetch: pf[2],
                    maximum_prefetch_ceiling: pf[3],
                    fsw: g[0],
                    lbcss: g[1],
                    dra: g[2],
                    nv_dis: g[3],
                    number_of_cache_segments: ncs,
                    cache_segment_size: css,
                },
                other,
            )
        })
}

fn control() -> impl Strategy<Value = ControlPage> {
    (
        (any::<bool>(), 0..8u8, any::<[bool; 5]>()),
        (0..16u8, any::<bool>(), 0..4u8),
        (any::<bool>(), 0..4u8, any::<bool>()),
        (any::<[bool; 5]>(), 0..8u8),
        any::<[u16; 2]>(),
        any::<[u8; 12]>(),
    )
        .prop_map(|((ps, tst, b2), (qam, nuar, qerr), (rac, ua, swp), (b5, al), t, other)| {
            page(
                ps,
                Control {
                    tst,
                    tmf_only: b2[0],
                    dpicz: b2[1],
                    d_sense: b2[2],
                    gltsd: b2[3],
                    rlec: b2[4],
                    queue_algorithm_modifier: qam,
                    nuar,
                    qerr,
                    rac,
                    ua_intlck_ctrl: ua,
                    swp,
                    ato: b5[0],
                    tas: b5[1],
                    atmpe: b5[2],
                    rwwp: b5[3],
                    sblp: b5[4],
                    autoload_mode: al,
                    busy_timeout_period: t[0],
                    extended_self_test_completion_time: t[1],
                },
                other,
            )
        })
}

fn iec() -> impl Strategy<Value = InformationalExceptionsPage> {
    (any::<bool>(), any::<[bool; 7]>(), 0..16u8, any::<u32>(), any::<u32>(), any::<[u8; 12]>())
        .prop_map(|(ps, f, mrie, it, rc, other)| {
            page(
                ps,
                InformationalExceptions {
                    perf: f[0],
                    ebf: f[1],
                    ewasc: f[2],
                    dexcpt: f[3],
                    test: f[4],
                    ebackerr: f[5],
                    logerr: f[6],
                    mrie,
                    interval_timer: it,
                    report_count: rc,
                },
                other,
            )
        })
}

proptest! {
    #[test]
    fn rwer_roundtrip(p in rwer()) {
        assert_roundtrip(&p);
    }

    #[test]
    fn caching_roundtrip(p in caching()) {
        assert_roundtrip(&p);
    }

    #[test]
    fn control_roundtrip(p in control()) {
        assert_roundtrip(&p);
    }

    #[test]
    fn iec_roundtrip(p in iec()) {
        assert_roundtrip(&p);
    }

    /// Every byte pattern with a valid header comes back exactly.
    #[test]
    fn page_bytes_exact(b in any::<[u8; 20]>()) {
        let mut c = b;
        c[0] = (c[0] & 0x80) | 0x08;
        c[1] = 0x12;
        prop_assert_eq!(CachingPage::parse(&c).unwrap().to_vec(), c);
        for (code, len) in [(0x01u8, 12usize), (0x0A, 12), (0x1C, 12)] {
            let mut s = [0u8; 12];
            s.copy_from_slice(&b[..12]);
            s[0] = (s[0] & 0x80) | code;
            s[1] = 0x0A;
            let out = match code {
                0x01 => ReadWriteErrorRecoveryPage::parse(&s).unwrap().to_vec(),
                0x0A => ControlPage::parse(&s).unwrap().to_vec(),
                _ => InformationalExceptionsPage::parse(&s).unwrap().to_vec(),
            };
            prop_assert_eq!(out.len(), len);
            prop_assert_eq!(out, s);
        }
    }

    #[test]
    fn page_parsers_never_panic(buf in vec(any::<u8>(), 0..300)) {
        if let Ok(p) = ReadWriteErrorRecoveryPage::parse(&buf) {
            prop_assert_eq!(&p.to_vec()[..], &buf[..12]);
        }
        if let Ok(p) = CachingPage::parse(&buf) {
            prop_assert_eq!(&p.to_vec()[..], &buf[..20]);
        }
        if let Ok(p) = ControlPage::parse(&buf) {
            prop_assert_eq!(&p.to_vec()[..], &buf[..12]);
        }
        if let Ok(p) = InformationalExceptionsPage::parse(&buf) {
            prop_assert_eq!(&p.to_vec()[..], &buf[..12]);
        }
        let _ = (ModePageIter { rest: &buf }).count();
    }
}
