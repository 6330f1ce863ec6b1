use super::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Wire};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

const READ_10: CommandDescriptor =
    CommandDescriptor { opcode: 0x28, service_action: None, cdb_length: 10, timeouts: None };

const READ_CAPACITY_16: CommandDescriptor =
    CommandDescriptor { opcode: 0x9E, service_action: Some(0x10), cdb_length: 16, timeouts: None };

#[test]
fn all_commands_without_timeouts() {
    let bytes = [
        0x00, 0x00, 0x00, 0x10, // COMMAND DATA LENGTH
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, // READ(10)
        0x9E, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x10, // READ CAPACITY(16), SERVACTV
    ];
    let all = AllCommands { descriptors: vec![READ_10, READ_CAPACITY_16] };
    assert_eq!(all.to_vec(), bytes);
    assert_eq!(AllCommands::parse(&bytes).unwrap(), all);
    assert!(!all.has_timeouts());
    // SERVICE ACTION is ignored without SERVACTV.
    let mut odd = bytes;
    odd[7] = 0x55;
    assert_eq!(AllCommands::parse(&odd).unwrap().descriptors[0].service_action, None);
}

#[test]
fn all_commands_with_timeouts() {
    let bytes = [
        0x00, 0x00, 0x00, 0x28, // COMMAND DATA LENGTH = 40
        0x28, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0A, // READ(10), CTDP
        0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1E, 0x00, 0x00, 0x00, 0x3C, 0x9E, 0x00, 0x00,
        0x10, 0x00, 0x03, 0x00, 0x10, // READ CAPACITY(16), CTDP, SERVACTV
        0x00, 0x0A, 0x00, 0x07, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x0A,
    ];
    let all = AllCommands {
        descriptors: vec![
            CommandDescriptor {
                timeouts: Some(CommandTimeouts {
                    command_specific: 0,
                    nominal_processing_timeout: 30,
                    recommended_timeout: 60,
                }),
                ..READ_10
            },
            CommandDescriptor {
                timeouts: Some(CommandTimeouts {
                    command_specific: 7,
                    nominal_processing_timeout: 5,
                    recommended_timeout: 10,
                }),
                ..READ_CAPACITY_16
            },
        ],
    };
    assert_eq!(all.to_vec(), bytes);
    assert_eq!(AllCommands::parse(&bytes).unwrap(), all);
    assert!(all.has_timeouts());

    // A wrong timeouts DESCRIPTOR LENGTH.
    let mut bad = bytes;
    bad[13] = 0x0B;
    assert_eq!(
        AllCommands::parse(&bad),
        Err(Error::InvalidField {
            what: RSOC,
            field: "DESCRIPTOR LENGTH",
            pointer: FieldPointer::data(12, None)
        })
    );
}

#[test]
fn all_commands_mixed_timeouts_rejected() {
    let t = CommandTimeouts {
        command_specific: 0,
        nominal_processing_timeout: 1,
        recommended_timeout: 2,
    };
    let mixed = AllCommands {
        descriptors: vec![CommandDescriptor { timeouts: Some(t), ..READ_10 }, READ_CAPACITY_16],
    };
    let mut buf = vec![0u8; mixed.buffer_len()];
    // The second descriptor starts at byte 4 + 20; its CTDP is byte 5, bit 1 of it.
    assert_eq!(
        mixed.emit(&mut buf),
        Err(Error::InvalidField {
            what: RSOC,
            field: "CTDP",
            pointer: FieldPointer::data(29, Some(1))
        })
    );
    let bytes = [
        0x00, 0x00, 0x00, 0x1C, // 20 + 8
        0x28, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0A, //
        0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, //
        0x9E, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x10,
    ];
    assert_eq!(
        AllCommands::parse(&bytes),
        Err(Error::InvalidField {
            what: RSOC,
            field: "CTDP",
            pointer: FieldPointer::data(29, Some(1))
        })
    );
}

#[test]
fn all_commands_bad_lengths() {
    // COMMAND DATA LENGTH not a whole number of descriptors.
    let bytes = [0, 0, 0, 10, 0x28, 0, 0, 0, 0, 0, 0, 10, 0, 0];
    assert_eq!(
        AllCommands::parse(&bytes),
        Err(Error::InvalidField {
            what: RSOC,
            field: "COMMAND DATA LENGTH",
            pointer: FieldPointer::data(0, None)
        })
    );
    // CTDP set but only 8 bytes left.
    let bytes = [0, 0, 0, 8, 0x28, 0, 0, 0, 0, 0x02, 0, 10];
    assert!(matches!(
        AllCommands::parse(&bytes),
        Err(Error::InvalidField { field: "COMMAND DATA LENGTH", .. })
    ));
    // More announced than given.
    assert!(matches!(
        AllCommands::parse(&[0, 0, 0, 16, 0x28, 0, 0, 0, 0, 0, 0, 10]),
        Err(Error::Truncated { needed: 20, actual: 12, .. })
    ));
    assert_eq!(AllCommands::parse(&[0, 0, 0, 0]).unwrap(), AllCommands::default());
}

const READ_10_USAGE: [u8; 10] = [0x28, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0x07];

#[test]
fn one_command() {
    let one = OneCommand {
        support: OneCommand::SUPPORT_STANDARD,
        cdb_usage_data: READ_10_USAGE.to_vec(),
        timeouts: None,
    };
    let mut want = vec![0x00, 0x03, 0x00, 0x0A];
    want.extend_from_slice(&READ_10_USAGE);
    assert_eq!(one.to_vec(), want);
    assert_eq!(OneCommand::parse(&want).unwrap(), one);
    assert!(one.timeouts.is_none());

    let one = OneCommand {
        timeouts: Some(CommandTimeouts {
            command_specific: 0,
            nominal_processing_timeout: 30,
            recommended_timeout: 60,
        }),
        ..one
    };
    let mut want = vec![0x00, 0x83, 0x00, 0x0A];
    want.extend_from_slice(&READ_10_USAGE);
    want.extend_from_slice(&[0x00, 0x0A, 0x00, 0x00, 0, 0, 0, 0x1E, 0, 0, 0, 0x3C]);
    assert_eq!(one.to_vec(), want);
    assert_eq!(OneCommand::parse(&want).unwrap(), one);
    // CTDP set, timeouts descriptor missing.
    assert!(matches!(OneCommand::parse(&want[..14]), Err(Error::Truncated { needed: 26, .. })));

    let unsupported = OneCommand {
        support: OneCommand::SUPPORT_NOT_SUPPORTED,
        cdb_usage_data: vec![],
        timeouts: None,
    };
    assert_eq!(unsupported.to_vec(), [0x00, 0x01, 0x00, 0x00]);
    let bad = OneCommand { support: 8, ..unsupported };
    assert!(matches!(bad.emit(&mut [0u8; 4]), Err(Error::InvalidField { field: "SUPPORT", .. })));
}

const LIO_LIKE_TMF: ReportedTmf = ReportedTmf {
    ats: true,
    atss: true,
    cacas: false,
    ctss: true,
    lurs: true,
    qts: true,
    trs: false,
    wakes: false,
    quas: false,
    qtss: false,
    itnrs: true,
    extended: None,
};

#[test]
fn tmf_basic_and_extended() {
    assert_eq!(LIO_LIKE_TMF.to_vec(), [0xDC, 0x01, 0x00, 0x00]);
    assert_eq!(ReportedTmf::parse(&[0xDC, 0x01, 0x00, 0x00]).unwrap(), LIO_LIKE_TMF);

    let ext = ReportedTmf {
        extended: Some(TmfTimeouts {
            tmftmov: true,
            atts: true,
            atsts: true,
            lurts: true,
            itnrts: true,
            long_timeout: 100,
            short_timeout: 10,
            ..TmfTimeouts::default()
        }),
        ..LIO_LIKE_TMF
    };
    let want = [
        0xDC, 0x01, 0x00, 0x0C, // basic part, ADDITIONAL DATA LENGTH 0Ch
        0x01, 0x00, 0xC8, 0x01, // TMFTMOV; ATTS ATSTS LURTS; ITNRTS
        0x00, 0x00, 0x00, 0x64, // TMF LONG TIMEOUT
        0x00, 0x00, 0x00, 0x0A, // TMF SHORT TIMEOUT
    ];
    assert_eq!(ext.to_vec(), want);
    assert_eq!(ReportedTmf::parse(&want).unwrap(), ext);

    let all = ReportedTmf::parse(&[0xFF, 0x07, 0x00, 0x00]).unwrap();
    assert!(all.cacas && all.trs && all.wakes && all.quas && all.qtss);
    assert_eq!(
        ReportedTmf::parse(&[0xDC, 0x01, 0x00, 0x05]),
        Err(Error::InvalidField {
            what: RSTMF,
            field: "ADDITIONAL DATA LENGTH",
            pointer: FieldPointer::data(3, None)
        })
    );
    assert!(matches!(ReportedTmf::parse(&want[..15]), Err(Error::Truncated { needed: 16, .. })));
}

fn arb_timeouts() -> impl Strategy<Value = CommandTimeouts> {
    (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(c, n, r)| CommandTimeouts {
        command_specific: c,
        nominal_processing_timeout: n,
        recommended_timeout: r,
    })
}

fn arb_all_commands() -> impl Strategy<Value = AllCommands> {
    (
        any::<bool>(),
        vec((any::<u8>(), option::of(any::<u16>()), any::<u16>(), arb_timeouts()), 0..24),
    )
        .prop_map(|(with_t, ds)| AllCommands {
            descriptors: ds
                .into_iter()
                .map(|(opcode, service_action, cdb_length, t)| CommandDescriptor {
                    opcode,
                    service_action,
                    cdb_length,
                    timeouts: with_t.then_some(t),
                })
                .collect(),
        })
}

fn arb_one_command() -> impl Strategy<Value = OneCommand> {
    (0u8..8, vec(any::<u8>(), 0..40), option::of(arb_timeouts())).prop_map(
        |(support, cdb_usage_data, timeouts)| OneCommand { support, cdb_usage_data, timeouts },
    )
}

fn arb_tmf() -> impl Strategy<Value = ReportedTmf> {
    let ext = (any::<[bool; 10]>(), any::<u32>(), any::<u32>()).prop_map(|(b, l, s)| TmfTimeouts {
        tmftmov: b[0],
        atts: b[1],
        atsts: b[2],
        cacats: b[3],
        ctsts: b[4],
        lurts: b[5],
        qtts: b[6],
        quats: b[7],
        qtsts: b[8],
        itnrts: b[9],
        long_timeout: l,
        short_timeout: s,
    });
    (any::<[bool; 11]>(), option::of(ext)).prop_map(|(b, extended)| ReportedTmf {
        ats: b[0],
        atss: b[1],
        cacas: b[2],
        ctss: b[3],
        lurs: b[4],
        qts: b[5],
        trs: b[6],
        wakes: b[7],
        quas: b[8],
        qtss: b[9],
        itnrs: b[10],
        extended,
    })
}

proptest! {
    #[test]
    fn roundtrip_command_timeouts(x in arb_timeouts()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn roundtrip_all_commands(x in arb_all_commands()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn roundtrip_one_command(x in arb_one_command()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn roundtrip_tmf(x in arb_tmf()) {
        assert_roundtrip(&x);
    }

    #[test]
    fn parsers_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        let _ = CommandTimeouts::parse(&bytes);
        let _ = AllCommands::parse(&bytes);
        let _ = OneCommand::parse(&bytes);
        let _ = ReportedTmf::parse(&bytes);
    }

    /// Whatever parses re-emits to something that parses to the same value.
    #[test]
    fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(x) = AllCommands::parse(&bytes) { assert_roundtrip(&x); }
        if let Ok(x) = OneCommand::parse(&bytes) { assert_roundtrip(&x); }
        if let Ok(x) = ReportedTmf::parse(&bytes) { assert_roundtrip(&x); }
    }
}
