use super::*;
use crate::testutil::assert_roundtrip;
use proptest::prelude::*;

fn parse(hex: &str) -> Result<Command> {
    let bytes: Vec<u8> =
        hex.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
    Command::parse(&bytes)
}

fn invalid_at(r: Result<Command>, pointer: FieldPointer) {
    match r {
        Err(Error::InvalidField { pointer: p, .. }) => assert_eq!(p, pointer),
        other => panic!("expected an invalid field at {pointer}, got {other:?}"),
    }
}

#[test]
fn lengths_from_group_codes() {
    assert_eq!(cdb_length(&[0x00]), Some(6));
    assert_eq!(cdb_length(&[0x28]), Some(10));
    assert_eq!(cdb_length(&[0x5a]), Some(10));
    assert_eq!(cdb_length(&[0x88]), Some(16));
    assert_eq!(cdb_length(&[0xa8]), Some(12));
    assert_eq!(cdb_length(&[0x7f, 0, 0, 0, 0, 0, 0, 0x18]), Some(32));
    assert_eq!(cdb_length(&[0x7f]), None);
    assert_eq!(cdb_length(&[0x60]), None);
    assert_eq!(cdb_length(&[0xc0]), None);
    assert_eq!(cdb_length(&[]), None);
}

#[test]
fn read_family_in_every_size() {
    let c = parse("08 1f ff ff 00 00").unwrap();
    assert_eq!((c.name(), c.lba(), c.transfer_length()), ("READ(6)", Some(0x1f_ffff), Some(256)));
    let c = parse("28 fa 00 00 12 34 17 00 08 00").unwrap();
    assert_eq!(c.name(), "READ(10)");
    assert_eq!(
        (c.lba(), c.transfer_length(), c.group_number()),
        (Some(0x1234), Some(8), Some(0x17))
    );
    assert_eq!((c.protect(), c.dpo(), c.fua()), (Some(7), true, true));
    let c = parse("a8 08 01 02 03 04 00 01 00 00 05 00").unwrap();
    assert_eq!(
        (c.lba(), c.transfer_length(), c.group_number()),
        (Some(0x0102_0304), Some(0x10000), Some(5))
    );
    let c = parse("8a 10 01 02 03 04 05 06 07 08 00 00 01 00 3f 00").unwrap();
    assert_eq!(c.name(), "WRITE(16)");
    assert_eq!(
        (c.lba(), c.transfer_length(), c.dpo(), c.fua()),
        (Some(0x0102_0304_0506_0708), Some(256), true, false)
    );
    assert_eq!(c.group_number(), Some(0x3f));
    assert_eq!(c.data_out_length(4096), Some(256 * 4096));
    let c = parse("7f 00 00 00 00 00 02 18 00 09 28 00 00 00 00 00 00 00 00 40 11 22 33 44 55 66 77 88 00 00 00 10")
        .unwrap();
    assert_eq!(c.name(), "READ(32)");
    assert_eq!(
        (c.lba(), c.transfer_length(), c.group_number(), c.fua()),
        (Some(0x40), Some(16), Some(2), true)
    );
    assert_eq!(c.get(Field::ReferenceTag), Some(0x1122_3344));
    assert_eq!(c.get(Field::ApplicationTag), Some(0x5566));
    assert_eq!(c.get(Field::ApplicationTagMask), Some(0x7788));
    assert_eq!(c.field_pointer(Field::Protect), Some(FieldPointer::cdb_bit(10, 7)));
    assert_eq!(c.data_direction(), DataDirection::FromDevice);
}

#[test]
fn read6_transfer_length_256_is_zero_on_the_wire() {
    let mut c = Command::new(command_info(0x0a, None).unwrap());
    c.set(Field::Lba, 0x1234).unwrap().set(Field::TransferLength, 256).unwrap();
    assert_eq!(c.as_bytes(), &[0x0a, 0x00, 0x12, 0x34, 0x00, 0x00]);
    assert_eq!(c.transfer_length(), Some(256));
    assert!(c.set(Field::TransferLength, 257).is_err());
    assert!(c.set(Field::TransferLength, 0).is_err());
    invalid_at(Command::new(c.info()).set(Field::Lba, 0x20_0000).map(|c| *c), FieldPointer::cdb(1));
}

#[test]
fn everyday_commands() {
    let c = parse("12 01 b0 01 00 00").unwrap();
    assert_eq!(
        (c.get(Field::Evpd), c.get(Field::PageCode), c.allocation_length()),
        (Some(1), Some(0xb0), Some(256))
    );
    invalid_at(parse("12 00 80 00 ff 00"), FieldPointer::cdb(2));
    let c = parse("5a 18 7f 00 00 00 00 02 00 00").unwrap();
    let req = c.mode_sense_request().unwrap();
    assert!(req.ten && req.dbd && req.llbaa);
    assert_eq!((req.pc, req.page_code, req.subpage_code), (PageControl::Changeable, 0x3f, 0));
    assert_eq!(c.allocation_length(), Some(512));
    let c = parse("15 10 00 00 18 00").unwrap();
    assert_eq!(
        (c.get(Field::Pf), c.get(Field::Sp), c.parameter_list_length()),
        (Some(1), Some(0), Some(0x18))
    );
    assert_eq!(c.data_out_length(512), Some(0x18));
    let c = parse("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00").unwrap();
    assert_eq!((c.name(), c.allocation_length()), ("READ CAPACITY(16)", Some(32)));
    invalid_at(parse("25 00 00 00 00 01 00 00 00 00"), FieldPointer::cdb(2));
    assert!(parse("25 00 00 00 00 01 00 00 01 00").is_ok());
    let c = parse("9e 12 00 00 00 00 00 00 10 00 00 00 10 00 01 00").unwrap();
    assert_eq!(
        (c.name(), c.lba(), c.allocation_length(), c.get(Field::ReportType)),
        ("GET LBA STATUS(16)", Some(0x1000), Some(0x1000), Some(1))
    );
    let c = parse("42 01 00 00 00 00 05 00 18 00").unwrap();
    assert_eq!(
        (c.get(Field::Anchor), c.group_number(), c.parameter_list_length()),
        (Some(1), Some(5), Some(24))
    );
    let c = parse("89 00 00 00 00 00 00 00 00 10 00 00 00 02 00 00").unwrap();
    assert_eq!(
        (c.lba(), c.transfer_length(), c.data_out_length(512)),
        (Some(16), Some(2), Some(2048))
    );
    let c = parse("35 02 00 00 00 00 00 00 00 00").unwrap();
    assert_eq!((c.get(Field::Immed), c.lba(), c.transfer_length()), (Some(1), Some(0), Some(0)));
    let c = parse("a3 0c 82 28 00 00 00 00 02 00 00 00").unwrap();
    assert_eq!(
        (c.get(Field::Rctd), c.get(Field::ReportingOptions), c.get(Field::RequestedOperationCode)),
        (Some(1), Some(2), Some(0x28))
    );
    invalid_at(parse("a3 0c 07 28 00 00 00 00 02 00 00 00"), FieldPointer::cdb_bit(2, 2));
    let c = parse("1b 01 00 02 31 00").unwrap();
    assert_eq!(
        (
            c.get(Field::Immed),
            c.get(Field::PowerConditionModifier),
            c.get(Field::PowerCondition),
            c.get(Field::Start)
        ),
        (Some(1), Some(2), Some(3), Some(1))
    );
    let c = parse("5f 01 35 00 00 00 00 00 18 00").unwrap();
    assert_eq!(
        (c.name(), c.get(Field::Scope), c.get(Field::Type), c.parameter_list_length()),
        ("PERSISTENT RESERVE OUT (RESERVE)", Some(3), Some(5), Some(24))
    );
    let c = parse("3b e2 01 00 10 00 00 02 00 00").unwrap();
    assert_eq!(
        (
            c.get(Field::ModeSpecific),
            c.get(Field::Mode),
            c.get(Field::BufferOffset),
            c.parameter_list_length()
        ),
        (Some(7), Some(2), Some(0x1000), Some(0x200))
    );
    let c = parse("a0 00 02 00 00 00 00 00 10 00 00 00").unwrap();
    assert_eq!((c.get(Field::SelectReport), c.allocation_length()), (Some(2), Some(4096)));
}

#[test]
fn write_same_and_verify_rules() {
    // ANCHOR without UNMAP: invalid, pointing at ANCHOR in each size.
    invalid_at(parse("41 10 00 00 00 00 00 00 01 00"), FieldPointer::cdb_bit(1, 4));
    invalid_at(
        parse("93 10 00 00 00 00 00 00 00 00 00 00 00 08 00 00"),
        FieldPointer::cdb_bit(1, 4),
    );
    let c = parse("93 19 00 00 00 00 00 00 00 00 00 00 00 08 00 00").unwrap();
    assert_eq!(
        (c.get(Field::Anchor), c.get(Field::Unmap), c.get(Field::Ndob)),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!((c.data_direction(), c.data_out_length(512)), (DataDirection::None, Some(0)));
    let c = parse("93 08 00 00 00 00 00 00 00 00 00 00 00 08 00 00").unwrap();
    assert_eq!((c.data_direction(), c.data_out_length(512)), (DataDirection::ToDevice, Some(512)));
    invalid_at(parse("2f 04 00 00 00 00 00 00 01 00"), FieldPointer::cdb_bit(1, 2));
    let c = parse("2f 06 00 00 00 00 00 00 04 00").unwrap();
    assert_eq!(c.data_out_length(512), Some(512));
    let c = parse("2f 02 00 00 00 00 00 00 04 00").unwrap();
    assert_eq!(c.data_out_length(512), Some(2048));
    assert_eq!(
        parse("2f 00 00 00 00 00 00 00 04 00").unwrap().data_direction(),
        DataDirection::None
    );
    invalid_at(parse("2e 06 00 00 00 00 00 00 01 00"), FieldPointer::cdb_bit(1, 2));
}

#[test]
fn opcode_and_service_action_errors() {
    assert_eq!(
        parse("c1 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        Err(Error::UnsupportedOpcode { opcode: 0xc1, service_action: None })
    );
    invalid_at(
        parse("9e 1f 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        FieldPointer::cdb_bit(1, 4),
    );
    invalid_at(parse("5e 07 00 00 00 00 00 00 00 00"), FieldPointer::cdb_bit(1, 4));
    invalid_at(
        parse(
            "7f 00 00 00 00 00 00 18 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        ),
        FieldPointer::cdb(8),
    );
    invalid_at(parse("7f 00 00 00 00 00 00 10 00 09"), FieldPointer::cdb(7));
    assert!(matches!(
        parse("28 00 00 00"),
        Err(Error::Truncated { location: Location::Cdb, needed: 10, actual: 4, .. })
    ));
    assert!(matches!(Command::parse(&[]), Err(Error::Truncated { .. })));
}

#[test]
fn the_table_is_consistent() {
    for info in COMMANDS {
        let usage = info.usage_data();
        assert_eq!(usage.len(), usize::from(info.cdb_length), "{}", info.name);
        assert_eq!(usage[0], info.opcode);
        assert_eq!(
            command_info(info.opcode, info.service_action),
            Some(info),
            "{} is listed twice",
            info.name
        );
        let c = Command::new(info);
        assert_eq!(c.mode_sense_request().is_some(), info.kind == Kind::ModeSense, "{}", info.name);
        let mut raw = c.as_bytes().to_vec();
        if info.kind == Kind::ReadCapacity10 {
            raw[8] = 1;
        }
        let parsed = Command::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(
            (parsed.opcode(), parsed.service_action(), parsed.name()),
            (info.opcode, info.service_action, info.name)
        );
        assert_eq!(cdb_length(&raw), Some(usize::from(info.cdb_length)));
        for spec in info.fields {
            let end = spec.end();
            assert!(
                end <= usize::from(info.cdb_length),
                "{} {:?} outside the CDB",
                info.name,
                spec.field
            );
        }
    }
    // READ(10): everything but the CONTROL byte, as LIO reports it.
    let read10 = command_info(0x28, None).unwrap();
    assert_eq!(
        read10.usage_data(),
        vec![0x28, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00]
    );
    let rc16 = command_info(0x9e, Some(0x10)).unwrap();
    assert_eq!(rc16.usage_data()[..2], [0x9e, 0x10]);
    let read32 = command_info(VARIABLE_LENGTH, Some(0x0009)).unwrap();
    assert_eq!(read32.usage_data()[7..10], [0xff, 0x00, 0x09]);
}

fn any_command() -> impl Strategy<Value = Command> {
    (0..COMMANDS.len(), proptest::collection::vec(any::<u64>(), 16)).prop_filter_map(
        "valid combination",
        |(i, values)| {
            let info = &COMMANDS[i];
            let mut c = Command::new(info);
            for (spec, v) in info.fields.iter().zip(values) {
                let mut v = v & spec.max();
                if c.is_six_byte_length(spec.field) {
                    v = v % 256 + 1;
                }
                c.set(spec.field, v).ok()?;
            }
            c.validate().ok()?;
            Some(c)
        },
    )
}

proptest! {
    #[test]
    fn roundtrip(c in any_command()) {
        assert_roundtrip(&c);
        for spec in c.info().fields {
            let v = c.get(spec.field).unwrap();
            let mut d = Command::new(c.info());
            d.set(spec.field, v).unwrap();
            prop_assert_eq!(d.get(spec.field), Some(v));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(c) = Command::parse(&bytes) {
            let again = Command::parse(&c.to_vec()).unwrap();
            prop_assert_eq!(again, c);
            let _ = (c.lba(), c.transfer_length(), c.allocation_length(), c.data_out_length(u32::MAX), format!("{c:?}"));
        }
    }

    #[test]
    fn every_opcode_reaches_its_decoder(i in 0..COMMANDS.len(), mut bytes in proptest::collection::vec(any::<u8>(), 32)) {
        let info = &COMMANDS[i];
        bytes[0] = info.opcode;
        if info.opcode == VARIABLE_LENGTH {
            bytes[7] = 0x18;
        }
        if let Ok(c) = Command::parse(&bytes) {
            prop_assert_eq!(c.as_bytes(), &bytes[..usize::from(c.info().cdb_length)]);
            prop_assert_eq!(Command::parse(&c.to_vec()).unwrap(), c);
        }
    }
}

/// REPORT TARGET PORT GROUPS as Linux's scsi_dh_alua sends it: extended header asked for.
#[test]
fn report_target_port_groups() {
    let c = parse("a3 2a 00 00 00 00 00 00 10 00 00 00").unwrap();
    assert_eq!(c.kind(), Kind::ReportTargetPortGroups);
    assert_eq!(c.get(Field::ParameterDataFormat), Some(1));
    assert_eq!(c.get(Field::AllocationLength), Some(4096));
    assert_eq!(c.allocation_length(), Some(4096));
    let plain = parse("a3 0a 00 00 00 00 00 00 00 ff 00 00").unwrap();
    assert_eq!(plain.get(Field::ParameterDataFormat), Some(0));
}
