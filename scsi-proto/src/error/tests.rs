use super::*;

#[test]
fn messages_name_the_field_and_place() {
    let e = Error::InvalidField {
        what: "WRITE SAME(16)",
        field: "ANCHOR",
        pointer: FieldPointer::cdb_bit(1, 4),
    };
    assert_eq!(e.to_string(), "WRITE SAME(16): invalid ANCHOR at CDB byte 1, bit 4");
    let e = Error::UnsupportedOpcode { opcode: 0x9e, service_action: Some(0x1f) };
    assert_eq!(e.to_string(), "unsupported operation code 0x9e service action 0x001f");
    assert_eq!(FieldPointer::param(3).shifted(12), FieldPointer::param(15));
}

#[test]
fn length_checks() {
    assert!(check_len("x", Location::Cdb, &[0; 5], 6).is_err());
    assert!(check_len("x", Location::Cdb, &[0; 6], 6).is_ok());
    assert_eq!(
        check_out("y", &[0; 2], 3),
        Err(Error::BufferTooShort { what: "y", needed: 3, actual: 2 })
    );
}
