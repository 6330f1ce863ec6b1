//! Tests of text data: the RFC 7143 examples, limits, value forms, multi-PDU texts, and
//! property tests.

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn rfc_login_example() {
    // RFC 7143 appendix B: the first Login Request of a session.
    let sent = pairs(&[
        ("InitiatorName", "iqn.1999-07.com.os:hostid.77"),
        ("TargetName", "iqn.1999-07.com.example:diskarray.sn.88"),
        ("AuthMethod", "KRB5,SRP,None"),
    ]);
    let data = emit(&sent).unwrap();
    assert_eq!(
        data,
        b"InitiatorName=iqn.1999-07.com.os:hostid.77\0\
          TargetName=iqn.1999-07.com.example:diskarray.sn.88\0\
          AuthMethod=KRB5,SRP,None\0"
            .iter()
            .copied()
            .filter(|b| *b != b' ')
            .collect::<Vec<u8>>()
    );
    let back = parse(&data).unwrap();
    assert_eq!(back, sent);
    assert_eq!(parse_list(get(&back, "AuthMethod").unwrap()), ["KRB5", "SRP", "None"]);
}

#[test]
fn rfc_sendtargets_example() {
    // RFC 7143 appendix C: a SendTargets answer, one key repeated.
    let data = b"TargetName=iqn.1993-11.com.example:diskarray.sn.8675309\0\
TargetAddress=10.1.0.45:5300,1\0TargetAddress=10.1.1.45:5300,2\0";
    let got = parse(data).unwrap();
    assert_eq!(
        got,
        pairs(&[
            ("TargetName", "iqn.1993-11.com.example:diskarray.sn.8675309"),
            ("TargetAddress", "10.1.0.45:5300,1"),
            ("TargetAddress", "10.1.1.45:5300,2"),
        ])
    );
    assert_eq!(get(&got, "TargetAddress"), Some("10.1.0.45:5300,1"));
    assert_eq!(get(&got, "TargetAlias"), None);
}

#[test]
fn parse_edge_cases() {
    assert_eq!(parse(b""), Ok(vec![]));
    assert_eq!(parse(b"A=1"), Err(TextError::Unterminated));
    assert_eq!(parse(b"A=1\0B\0"), Err(TextError::MissingEquals { index: 1 }));
    assert_eq!(parse(b"=1\0"), Err(TextError::EmptyKey { index: 0 }));
    assert_eq!(parse(b"A=\xff\0"), Err(TextError::NotUtf8 { index: 0 }));
    // The value is everything after the first '=', and may be empty.
    assert_eq!(parse(b"A=b=c\0B=\0"), Ok(pairs(&[("A", "b=c"), ("B", "")])));
    // Empty entries are skipped.
    assert_eq!(parse(b"A=1\0\0B=2\0"), Ok(pairs(&[("A", "1"), ("B", "2")])));
}

#[test]
fn length_limits() {
    let key63 = "K".repeat(63);
    let key64 = "K".repeat(64);
    let value = "v".repeat(MAX_VALUE_LEN);
    let data = emit(&[(key63.as_str(), value.as_str())]).unwrap();
    assert_eq!(parse(&data).unwrap(), vec![(key63, value.clone())]);
    assert_eq!(emit(&[(key64.as_str(), "1")]), Err(TextError::KeyTooLong { len: 64 }));
    assert_eq!(parse(format!("{key64}=1\0").as_bytes()), Err(TextError::KeyTooLong { len: 64 }));
    let long = format!("A={value}v\0");
    assert_eq!(
        parse(long.as_bytes()),
        Err(TextError::ValueTooLong { key: "A".into(), len: MAX_VALUE_LEN + 1 })
    );
}

#[test]
fn emit_rejects_what_cannot_be_sent() {
    assert_eq!(emit(&[("", "1")]), Err(TextError::EmptyKey { index: 0 }));
    assert!(matches!(emit(&[("A=B", "1")]), Err(TextError::ForbiddenChar(_))));
    assert!(matches!(emit(&[("A", "x\0y")]), Err(TextError::ForbiddenChar(_))));
    assert_eq!(emit::<&str, &str>(&[]), Ok(vec![]));
}

#[test]
fn numbers() {
    assert_eq!(parse_number("0"), Ok(0));
    assert_eq!(parse_number("8192"), Ok(8192));
    assert_eq!(parse_number("0x2000"), Ok(8192));
    assert_eq!(parse_number("0X2000"), Ok(8192));
    assert_eq!(parse_number("0bIAA="), Ok(8192));
    assert_eq!(parse_number("0BIAA"), Ok(8192));
    assert_eq!(parse_number("0x0000000000000000000001"), Ok(1));
    assert_eq!(parse_number("0bAAAAAAAAAAAAAAAB"), Ok(1));
    assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
    assert_eq!(parse_number("0xffffffffffffffff"), Ok(u64::MAX));
    for big in ["18446744073709551616", "0x10000000000000000", "0bAQAAAAAAAAAA"] {
        assert_eq!(parse_number(big), Err(TextError::NumberTooLarge(big.into())), "{big}");
    }
    for bad in ["", "-1", "+1", "1e3", "0x", "0x+1", "0xg", "0b", "0b!", " 1", "Yes"] {
        assert_eq!(parse_number(bad), Err(TextError::InvalidNumber(bad.into())), "{bad}");
    }
}

#[test]
fn base64_rfc4648_vectors() {
    let vectors: [(&[u8], &str); 6] = [
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ];
    for (raw, b64) in vectors {
        assert_eq!(encode_base64(raw), format!("0b{b64}"));
        assert_eq!(parse_binary(&format!("0b{b64}")).unwrap(), raw);
        let unpadded = b64.trim_end_matches('=');
        assert_eq!(parse_binary(&format!("0B{unpadded}")).unwrap(), raw);
    }
    for bad in ["0bZ", "0bZg=a", "0bZg===", "0bZ!==", "0bZm9vY", "0b="] {
        assert!(parse_binary(bad).is_err(), "{bad}");
    }
}

#[test]
fn binary_values() {
    assert_eq!(parse_binary("0x0abc"), Ok(vec![0x0a, 0xbc]));
    assert_eq!(parse_binary("0xABC"), Ok(vec![0x0a, 0xbc]));
    assert_eq!(encode_hex(&[0x0a, 0xbc, 0xff]), "0x0abcff");
    for bad in ["123", "0x", "0b", "0xz1", ""] {
        assert_eq!(parse_binary(bad), Err(TextError::InvalidNumber(bad.into())), "{bad}");
    }
}

#[test]
fn booleans_lists_and_special_values() {
    assert_eq!(parse_bool("Yes"), Ok(true));
    assert_eq!(parse_bool("No"), Ok(false));
    assert_eq!(parse_bool("yes"), Err(TextError::InvalidBoolean("yes".into())));
    assert_eq!((format_bool(true), format_bool(false)), ("Yes", "No"));
    assert_eq!(parse_list("CRC32C,None"), ["CRC32C", "None"]);
    assert_eq!(parse_list("None"), ["None"]);
    assert!(parse_list("").is_empty());
    assert_eq!(format_list(&["CHAP", "None"]), "CHAP,None");
    assert_eq!(format_list::<&str>(&[]), "");
    for s in [Special::Reject, Special::Irrelevant, Special::NotUnderstood] {
        assert_eq!(Special::parse(s.as_str()), Some(s));
        assert_eq!(s.to_string(), s.as_str());
    }
    assert_eq!(Special::parse("reject"), None);
    assert_eq!(Special::parse("None"), None);
}

#[test]
fn assembler_joins_segments_cut_anywhere() {
    let data =
        emit(&[("TargetName", "iqn.2024-01.test:t1"), ("TargetAddress", "[::1]:3260,1")]).unwrap();
    let expected = parse(&data).unwrap();
    for cut in 0..=data.len() {
        let mut asm = TextAssembler::default();
        assert_eq!(asm.push(&data[..cut], true), Ok(None));
        assert_eq!(asm.pending(), cut);
        assert_eq!(asm.push(&data[cut..], false), Ok(Some(expected.clone())));
        assert_eq!(asm.pending(), 0);
    }
}

#[test]
fn assembler_bounds_and_errors_start_over() {
    let mut asm = TextAssembler::new(8);
    assert_eq!(asm.push(b"A=12", true), Ok(None));
    assert_eq!(asm.push(b"34567", true), Err(TextError::TextTooLong { max: 8 }));
    assert_eq!(asm.pending(), 0);
    assert_eq!(asm.push(b"A=1", false), Err(TextError::Unterminated));
    assert_eq!(asm.push(b"B=2\0", false), Ok(Some(pairs(&[("B", "2")]))));
    asm.push(b"C=", true).unwrap();
    asm.reset();
    assert_eq!(asm.push(b"", false), Ok(Some(vec![])));
}

#[test]
fn splitter() {
    let chunks: Vec<_> = TextSplitter::new(b"abcdefghij", 4).collect();
    assert_eq!(
        chunks,
        [
            TextChunk { data: b"abcd", cont: true },
            TextChunk { data: b"efgh", cont: true },
            TextChunk { data: b"ij", cont: false },
        ]
    );
    let exact: Vec<_> = TextSplitter::new(b"abcd", 4).collect();
    assert_eq!(exact, [TextChunk { data: b"abcd", cont: false }]);
    let empty: Vec<_> = TextSplitter::new(b"", 512).collect();
    assert_eq!(empty, [TextChunk { data: b"", cont: false }]);
    assert_eq!(TextSplitter::new(b"ab", 0).count(), 2);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = String> {
        "[A-Z][A-Za-z0-9.+@_#-]{0,62}"
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof!["[ -~]{0,80}", "\\PC{0,20}"].prop_map(|v: String| v.replace('\0', ""))
    }

    fn text() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec((key(), value()), 0..12)
    }

    proptest! {
        #[test]
        fn emit_parse_round_trip(pairs in text()) {
            let data = emit(&pairs).unwrap();
            prop_assert_eq!(parse(&data).unwrap(), pairs);
        }

        #[test]
        fn split_then_assemble(pairs in text(), max in 1..64usize) {
            let data = emit(&pairs).unwrap();
            let mut asm = TextAssembler::default();
            let mut result = None;
            let mut n = 0;
            for chunk in TextSplitter::new(&data, max) {
                prop_assert!(chunk.data.len() <= max);
                prop_assert!(result.is_none(), "a chunk after the last");
                result = asm.push(chunk.data, chunk.cont).unwrap();
                n += 1;
            }
            prop_assert_eq!(n, data.len().div_ceil(max).max(1));
            prop_assert_eq!(result, Some(pairs));
        }

        #[test]
        fn parse_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(pairs) = parse(&data) {
                // What parses re-emits to something that parses the same.
                let again = emit(&pairs).unwrap();
                prop_assert_eq!(parse(&again).unwrap(), pairs);
            }
        }

        #[test]
        fn number_forms_round_trip(n in any::<u64>()) {
            prop_assert_eq!(parse_number(&n.to_string()), Ok(n));
            prop_assert_eq!(parse_number(&format!("{n:#x}")), Ok(n));
            prop_assert_eq!(parse_number(&encode_hex(&n.to_be_bytes())), Ok(n));
            prop_assert_eq!(parse_number(&encode_base64(&n.to_be_bytes())), Ok(n));
        }

        #[test]
        fn binary_forms_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..300)) {
            prop_assert_eq!(parse_binary(&encode_hex(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(parse_binary(&encode_base64(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn value_helpers_never_panic(s in "\\PC{0,40}|0[xXbB][ -~]{0,40}") {
            let _ = parse_number(&s);
            let _ = parse_binary(&s);
            let _ = parse_bool(&s);
            prop_assert_eq!(format_list(&parse_list(&s)), s);
        }
    }
}
