use super::*;
use crate::bits::Value;
use crate::sense::MAX_LEN;
use crate::testutil::assert_roundtrip;
use proptest::prelude::*;

/// SKSV (byte 0 bit 7).
const SKSV: u8 = 0x80;

/// TCMU's per-command sense buffer (`TCMU_SENSE_BUFFERSIZE`).
const TCMU_SENSE_BUFFERSIZE: usize = 96;
const _: () = assert!(TCMU_SENSE_BUFFERSIZE <= MAX_LEN);

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex byte")).collect()
}

#[test]
fn invalid_field_in_cdb_fixed() {
    let s = SenseData::invalid_field_in_cdb(FieldPointer::cdb_bit(2, 3));
    let expected = hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 cb 00 02");
    assert_eq!(s.to_vec(), expected);
    let p = SenseData::parse(&expected).unwrap();
    assert_eq!(p, s);
    assert_eq!(p.key, SenseKey::IllegalRequest);
    assert_eq!(p.additional, AdditionalSense::INVALID_FIELD_IN_CDB);
    assert_eq!(p.information, None);
    assert_eq!(
        p.sense_key_specific,
        Some(SenseKeySpecific::FieldPointer(FieldPointer::cdb_bit(2, 3)))
    );
    assert_eq!(
        p.to_string(),
        "ILLEGAL REQUEST: INVALID FIELD IN CDB (24h/00h), field at CDB byte 2, bit 3"
    );
}

#[test]
fn invalid_field_in_cdb_descriptor() {
    let s = SenseData::invalid_field_in_cdb(FieldPointer::cdb_bit(2, 3))
        .in_format(SenseFormat::Descriptor);
    // Header, then the sense key specific descriptor (02h, length 06h).
    let expected = hex("72 05 24 00 00 00 00 08  02 06 00 00 cb 00 02 00");
    assert_eq!(s.to_vec(), expected);
    assert_eq!(SenseData::parse(&expected).unwrap(), s);
}

#[test]
fn invalid_field_in_parameter_list_forces_cd_zero() {
    // Even when handed a CDB pointer, the parameter list shorthand reports C/D = 0.
    let s = SenseData::invalid_field_in_parameter_list(FieldPointer::cdb(7));
    let expected = hex("70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 80 00 07");
    assert_eq!(s.to_vec(), expected);
}

#[test]
fn miscompare_both_formats() {
    let s = SenseData::miscompare(0x1234);
    let fixed = hex("f0 00 0e 00 00 12 34 0a 00 00 00 00 1d 00 00 00 00 00");
    assert_eq!(s.to_vec(), fixed);
    let p = SenseData::parse(&fixed).unwrap();
    assert_eq!(p.key, SenseKey::Miscompare);
    assert_eq!(p.additional, AdditionalSense::MISCOMPARE_DURING_VERIFY);
    assert_eq!(p.information, Some(0x1234));
    assert_eq!(p, s);

    let d = s.in_format(SenseFormat::Descriptor);
    let desc = hex("72 0e 1d 00 00 00 00 0c  00 0a 80 00 00 00 00 00 00 00 12 34");
    assert_eq!(d.to_vec(), desc);
    assert_eq!(SenseData::parse(&desc).unwrap(), d);
}

#[test]
fn information_beyond_32_bits() {
    let s = SenseData::medium_error_read().with_information(0x1_2345_6789);
    // Fixed: VALID = 0, INFORMATION zero (SPC-5: not reportable in 4 bytes).
    let fixed = s.to_vec();
    assert_eq!(fixed, hex("70 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 00 00 00"));
    assert_eq!(SenseData::parse(&fixed).unwrap().information, None);
    // Descriptor: all eight bytes.
    let d = s.in_format(SenseFormat::Descriptor);
    assert_eq!(d.to_vec(), hex("72 03 11 00 00 00 00 0c  00 0a 80 00 00 00 00 01 23 45 67 89"));
    assert_roundtrip(&d);
    // COMMAND-SPECIFIC INFORMATION beyond 32 bits is emitted as zero in fixed format.
    let c = SenseData::new(SenseKey::CopyAborted, AdditionalSense::NO_ADDITIONAL_SENSE)
        .with_command_specific(u64::MAX);
    assert_eq!(&c.to_vec()[8..12], &[0, 0, 0, 0]);
}

#[test]
fn ili_and_flags() {
    let s = SenseData {
        ili: true,
        ..SenseData::new(SenseKey::IllegalRequest, AdditionalSense::INVALID_FIELD_IN_CDB)
    }
    .with_information(8);
    assert_eq!(s.to_vec(), hex("f0 00 25 00 00 00 08 0a 00 00 00 00 24 00 00 00 00 00"));
    let d = s.in_format(SenseFormat::Descriptor);
    // Information descriptor, then the block commands descriptor with ILI.
    assert_eq!(
        d.to_vec(),
        hex("72 05 24 00 00 00 00 10  00 0a 80 00 00 00 00 00 00 00 00 08  05 02 00 20")
    );
    assert_roundtrip(&d);
    // FILEMARK/EOM need the stream commands descriptor, which carries ILI too.
    let t = SenseData { filemark: true, ..d };
    let bytes = t.to_vec();
    assert_eq!(&bytes[bytes.len() - 4..], &[0x04, 0x02, 0x00, 0xA0]);
    assert_roundtrip(&t);
}

#[test]
fn fru_code() {
    let s = SenseData::hardware_error(AdditionalSense::INTERNAL_TARGET_FAILURE);
    let s = SenseData { field_replaceable_unit: 0x42, ..s };
    assert_eq!(s.to_vec()[14], 0x42);
    let d = s.in_format(SenseFormat::Descriptor);
    assert_eq!(d.to_vec(), hex("72 04 44 00 00 00 00 04  03 02 00 42"));
    assert_roundtrip(&d);
}

#[test]
fn linux_unit_attention() {
    // What a Linux initiator logs after a target reset.
    let b = hex("70 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00");
    let s = SenseData::parse(&b).unwrap();
    assert_eq!(s, SenseData::unit_attention(AdditionalSense::POWER_ON_RESET_OR_BUS_DEVICE_RESET));
    assert_eq!(s.format, SenseFormat::Fixed);
    assert!(!s.deferred);
    assert_eq!(s.to_vec(), b);
}

#[test]
fn real_devices() {
    // SAT ATA PASS-THROUGH with CK_COND: RECOVERED ERROR, ATA PASS THROUGH INFORMATION
    // AVAILABLE, with an ATA status return descriptor (09h) that we skip.
    let b = hex("72 01 00 1d 00 00 00 0e 09 0c 00 00 00 00 00 00 00 00 00 00 50 00");
    let s = SenseData::parse(&b).unwrap();
    assert_eq!(s.format, SenseFormat::Descriptor);
    assert_eq!(s.key, SenseKey::RecoveredError);
    assert_eq!(s.additional, AdditionalSense::new(0x00, 0x1D));
    assert_eq!(s.information, None);
    assert_eq!(s.sense_key_specific, None);

    // A disk's medium error with LBA and retry count, 0x28 additional bytes of which
    // REQUEST SENSE with ALLOCATION LENGTH 18 returned the first 18 (the ADDITIONAL
    // SENSE LENGTH is not adjusted for truncation).
    let b = hex("f0 00 03 00 12 34 56 28 00 00 00 00 11 00 00 80 00 03");
    let s = SenseData::parse(&b).unwrap();
    assert_eq!(s.key, SenseKey::MediumError);
    assert_eq!(s.additional, AdditionalSense::UNRECOVERED_READ_ERROR);
    assert_eq!(s.information, Some(0x0012_3456));
    assert_eq!(s.sense_key_specific, Some(SenseKeySpecific::ActualRetryCount(3)));

    // Old devices: ADDITIONAL SENSE LENGTH 6, so no SKS field (bytes 14.. are garbage).
    let b = hex("70 00 02 00 00 00 00 06 00 00 00 00 04 01 ff ff ff ff");
    let s = SenseData::parse(&b).unwrap();
    assert_eq!(s.additional, AdditionalSense::LUN_BECOMING_READY);
    assert_eq!(s.field_replaceable_unit, 0);
    assert_eq!(s.sense_key_specific, None);

    // FORMAT UNIT in progress, descriptor format, deferred-free, half done.
    let b = hex("72 02 04 04 00 00 00 08 02 06 00 00 80 80 00 00");
    let s = SenseData::parse(&b).unwrap();
    assert_eq!(s.sense_key_specific, Some(SenseKeySpecific::ProgressIndication(0x8000)));
    assert_eq!(
        s.to_string(),
        "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS (04h/04h), progress 50%"
    );
}

#[test]
fn deferred_errors() {
    let s = SenseData { deferred: true, ..SenseData::medium_error_write() };
    assert_eq!(s.to_vec()[0], 0x71);
    assert_roundtrip(&s);
    let d = s.in_format(SenseFormat::Descriptor);
    assert_eq!(d.to_vec()[0], 0x73);
    assert_roundtrip(&d);
}

#[test]
fn bad_response_codes() {
    for rc in [0x00, 0x7F, 0x74, 0x6F, 0xFF] {
        let mut b = vec![0u8; 18];
        b[0] = rc;
        assert_eq!(
            SenseData::parse(&b),
            Err(Error::InvalidField {
                what: "sense data",
                field: "RESPONSE CODE",
                pointer: FieldPointer::data(0, Some(6)),
            }),
            "response code {rc:#x}"
        );
    }
    assert!(matches!(SenseData::parse(&[]), Err(Error::Truncated { needed: 8, .. })));
    assert!(matches!(SenseData::parse(&[0x70, 0, 5]), Err(Error::Truncated { .. })));
    assert!(matches!(SenseData::parse(&[0x72, 0, 5, 0, 0, 0, 0]), Err(Error::Truncated { .. })));
}

#[test]
fn descriptor_walking() {
    // A descriptor whose additional length runs past the end.
    let b = hex("72 05 24 00 00 00 00 08 02 0a 00 00 cb 00 02 00");
    assert!(matches!(SenseData::parse(&b), Err(Error::Truncated { .. })));
    // ADDITIONAL SENSE LENGTH promises more than the buffer holds, cutting a descriptor.
    let b = hex("72 05 24 00 00 00 00 08 02 06 00 00 cb");
    assert!(SenseData::parse(&b).is_err());
    // A lone byte where a descriptor header should be.
    let b = hex("72 05 24 00 00 00 00 01 02");
    assert!(SenseData::parse(&b).is_err());
    // A known descriptor with too small an ADDITIONAL LENGTH.
    let b = hex("72 05 24 00 00 00 00 04 02 02 00 00");
    assert_eq!(
        SenseData::parse(&b),
        Err(Error::InvalidField {
            what: "sense data descriptor",
            field: "ADDITIONAL LENGTH",
            pointer: FieldPointer::data(9, None),
        })
    );
    // Unknown and vendor specific descriptors are skipped, empty ones too; bytes past
    // the ADDITIONAL SENSE LENGTH are ignored; the first of two like descriptors wins.
    let b = hex("72 05 24 00 00 00 00 17  80 03 aa bb cc  0a 00  02 06 00 00 cb 00 02 00  \
         02 06 00 00 80 00 09 00  ff ff ff");
    let s = SenseData::parse(&b).unwrap();
    assert_eq!(
        s.sense_key_specific,
        Some(SenseKeySpecific::FieldPointer(FieldPointer::cdb_bit(2, 3)))
    );
    // An information descriptor with VALID = 0 reports nothing.
    let b = hex("72 03 11 00 00 00 00 0c  00 0a 00 00 00 00 00 00 00 00 12 34");
    assert_eq!(SenseData::parse(&b).unwrap().information, None);
}

#[test]
fn emit_needs_room() {
    let s = SenseData::lba_out_of_range();
    assert!(matches!(s.emit(&mut [0u8; 17]), Err(Error::BufferTooShort { needed: 18, .. })));
    let d = SenseData::miscompare(1).in_format(SenseFormat::Descriptor);
    assert!(matches!(d.emit(&mut [0u8; 19]), Err(Error::BufferTooShort { needed: 20, .. })));
}

#[test]
fn shorthands() {
    let cases = [
        (SenseData::lba_out_of_range(), SenseKey::IllegalRequest, (0x21, 0x00)),
        (SenseData::invalid_opcode(), SenseKey::IllegalRequest, (0x20, 0x00)),
        (SenseData::medium_error_read(), SenseKey::MediumError, (0x11, 0x00)),
        (SenseData::medium_error_write(), SenseKey::MediumError, (0x0C, 0x00)),
        (SenseData::write_protected(), SenseKey::DataProtect, (0x27, 0x00)),
        (
            SenseData::not_ready(AdditionalSense::MEDIUM_NOT_PRESENT),
            SenseKey::NotReady,
            (0x3A, 0x00),
        ),
        (
            SenseData::aborted_command(AdditionalSense::COMMANDS_CLEARED_BY_DEVICE_SERVER),
            SenseKey::AbortedCommand,
            (0x2F, 0x02),
        ),
    ];
    for (s, key, (asc, ascq)) in cases {
        let b = s.to_vec();
        assert_eq!(b[2] & 0x0F, key as u8);
        assert_eq!((b[12], b[13]), (asc, ascq));
        assert_roundtrip(&s);
        assert_roundtrip(&s.in_format(SenseFormat::Descriptor));
    }
    assert_eq!(SenseFormat::from_d_sense(true), SenseFormat::Descriptor);
    assert_eq!(SenseFormat::from_d_sense(false), SenseFormat::Fixed);
    assert_eq!(SenseFormat::default(), SenseFormat::Fixed);
}

fn check_from_error(e: Error, key: SenseKey, asc: AdditionalSense, sks: Option<[u8; 3]>) {
    let s = SenseData::from_error(&e);
    assert_eq!(s.key, key, "{e}");
    assert_eq!(s.additional, asc, "{e}");
    assert_eq!(s.sense_key_specific.map(|k| k.to_bytes()), sks, "{e}");
    assert_eq!(s.format, SenseFormat::Fixed);
    assert_roundtrip(&s);
}

#[test]
fn from_error_mappings() {
    use AdditionalSense as A;
    use SenseKey::*;
    check_from_error(
        Error::UnsupportedOpcode { opcode: 0xC1, service_action: None },
        IllegalRequest,
        A::INVALID_COMMAND_OPERATION_CODE,
        Some([0xC0, 0x00, 0x00]),
    );
    check_from_error(
        Error::UnsupportedOpcode { opcode: 0x9E, service_action: Some(0x1F) },
        IllegalRequest,
        A::INVALID_FIELD_IN_CDB,
        Some([0xCC, 0x00, 0x01]),
    );
    check_from_error(
        Error::UnsupportedOpcode { opcode: 0x7F, service_action: Some(0x0009) },
        IllegalRequest,
        A::INVALID_FIELD_IN_CDB,
        Some([0xC0, 0x00, 0x08]),
    );
    check_from_error(
        Error::InvalidField {
            what: "WRITE SAME(16)",
            field: "ANCHOR",
            pointer: FieldPointer::cdb_bit(1, 4),
        },
        IllegalRequest,
        A::INVALID_FIELD_IN_CDB,
        Some([0xCC, 0x00, 0x01]),
    );
    check_from_error(
        Error::InvalidField {
            what: "MODE SELECT(10)",
            field: "PS",
            pointer: FieldPointer::param_bit(8, 7),
        },
        IllegalRequest,
        A::INVALID_FIELD_IN_PARAMETER_LIST,
        Some([0x8F, 0x00, 0x08]),
    );
    check_from_error(
        Error::InvalidField {
            what: "INQUIRY data",
            field: "PERIPHERAL DEVICE TYPE",
            pointer: FieldPointer::data(0, Some(4)),
        },
        HardwareError,
        A::INTERNAL_TARGET_FAILURE,
        None,
    );
    check_from_error(
        Error::Truncated { what: "READ(16)", location: Location::Cdb, needed: 16, actual: 10 },
        IllegalRequest,
        A::INVALID_FIELD_IN_CDB,
        None,
    );
    check_from_error(
        Error::Truncated {
            what: "UNMAP parameter list",
            location: Location::ParameterList,
            needed: 24,
            actual: 8,
        },
        IllegalRequest,
        A::PARAMETER_LIST_LENGTH_ERROR,
        None,
    );
    check_from_error(
        Error::Truncated { what: "INQUIRY data", location: Location::Data, needed: 36, actual: 5 },
        HardwareError,
        A::INTERNAL_TARGET_FAILURE,
        None,
    );
    check_from_error(
        Error::ParameterListLength { what: "MODE SELECT(6)", len: 3 },
        IllegalRequest,
        A::PARAMETER_LIST_LENGTH_ERROR,
        None,
    );
    check_from_error(
        Error::BufferTooShort { what: "READ CAPACITY(16) data", needed: 32, actual: 8 },
        HardwareError,
        A::INTERNAL_TARGET_FAILURE,
        None,
    );
}

#[test]
fn largest_fits_tcmu() {
    let s = SenseData {
        format: SenseFormat::Descriptor,
        deferred: true,
        key: SenseKey::IllegalRequest,
        additional: AdditionalSense::INVALID_FIELD_IN_CDB,
        information: Some(u64::MAX),
        command_specific: Some(u64::MAX),
        sense_key_specific: Some(SenseKeySpecific::FieldPointer(FieldPointer::cdb(1))),
        field_replaceable_unit: 1,
        filemark: true,
        eom: true,
        ili: true,
    };
    assert_eq!(s.buffer_len(), 48);
    assert!(s.buffer_len() <= TCMU_SENSE_BUFFERSIZE);
    assert_roundtrip(&s);
}

fn arb_key() -> impl Strategy<Value = SenseKey> {
    (0u8..16).prop_map(|v| SenseKey::from_bits(u64::from(v)))
}

/// Any value `format` can carry: fixed format limits INFORMATION and COMMAND-SPECIFIC
/// INFORMATION to 32 bits (and the latter to non-zero), and the sense key specific
/// field is the one the sense key defines.
fn arb_sense(format: SenseFormat) -> impl Strategy<Value = SenseData> {
    let fixed = format == SenseFormat::Fixed;
    let info_max = if fixed { u64::from(u32::MAX) } else { u64::MAX };
    (
        (any::<bool>(), arb_key(), any::<(u8, u8)>()),
        proptest::option::of(0..=info_max),
        proptest::option::of(u64::from(fixed)..=info_max),
        proptest::option::of(any::<[u8; 3]>()),
        (any::<u8>(), any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(move |((deferred, key, (asc, ascq)), information, csi, sks, flags)| {
            let (fru, filemark, eom, ili) = flags;
            SenseData {
                format,
                deferred,
                key,
                additional: AdditionalSense::new(asc, ascq),
                information,
                command_specific: csi,
                sense_key_specific: sks
                    .and_then(|[a, b, c]| SenseKeySpecific::from_bytes(key, [a | SKSV, b, c])),
                field_replaceable_unit: fru,
                filemark,
                eom,
                ili,
            }
        })
}

proptest! {
    #[test]
    fn roundtrip_fixed(s in arb_sense(SenseFormat::Fixed)) {
        prop_assert_eq!(s.buffer_len(), FIXED_LEN);
        assert_roundtrip(&s);
    }

    #[test]
    fn roundtrip_descriptor(s in arb_sense(SenseFormat::Descriptor)) {
        prop_assert!(s.buffer_len() <= TCMU_SENSE_BUFFERSIZE);
        assert_roundtrip(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Whatever parses is representable, so it survives a round trip.
        if let Ok(s) = SenseData::parse(&b) {
            assert_roundtrip(&s);
        }
    }

    #[test]
    fn arbitrary_descriptors_never_panic(
        deferred in any::<bool>(),
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut b = vec![if deferred { 0x73 } else { 0x72 }, 0x05, 0x24, 0x00, 0, 0, 0];
        b.push(u8::try_from(tail.len()).unwrap_or(u8::MAX));
        b.extend_from_slice(&tail);
        if let Ok(s) = SenseData::parse(&b) {
            prop_assert_eq!(s.deferred, deferred);
            assert_roundtrip(&s);
        }
    }
}
