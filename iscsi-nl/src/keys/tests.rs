//! Tests of key negotiation: one group per rule, the session parameters, and property tests
//! tying [`respond`] to [`negotiate`].

use super::*;
use crate::pdu::Digest;

fn num(n: u64) -> Result<Outcome, NegotiationError> {
    Ok(Outcome::Value(Value::Number(n)))
}

fn boolean(b: bool) -> Result<Outcome, NegotiationError> {
    Ok(Outcome::Value(Value::Bool(b)))
}

fn txt(s: &str) -> Result<Outcome, NegotiationError> {
    Ok(Outcome::Value(Value::Text(s.into())))
}

#[test]
fn names_and_table() {
    for key in Key::ALL {
        assert_eq!(Key::from_name(key.name()), Some(key));
        assert_eq!(key.to_string(), key.name());
        if let Some(default) = key.default_value() {
            key.parse_value(default).unwrap();
        }
        assert_eq!(key.range().is_some(), key.kind() == Kind::Number, "{key}");
    }
    assert_eq!(Key::from_name("DataPDUInOrder"), Some(Key::DataPduInOrder));
    assert_eq!(Key::from_name("headerdigest"), None);
    for passthrough in ["X-com.example.foo", "X#bar", "Z#baz", "RDMAExtensions", "TaskReporting"] {
        assert_eq!(Key::from_name(passthrough), None);
    }
    assert!(is_extension("X-com.example.foo") && is_extension("X#a") && is_extension("Z#a"));
    assert!(!is_extension("RDMAExtensions") && !is_extension("Xfoo"));
}

#[test]
fn list_rule() {
    let k = Key::HeaderDigest;
    assert_eq!(negotiate(k, "CRC32C,None", Some("None")), txt("None"));
    assert_eq!(negotiate(k, "CRC32C,None", Some("CRC32C")), txt("CRC32C"));
    assert_eq!(
        negotiate(k, "CRC32C", Some("None")),
        Err(NegotiationError::NotInOffer { key: "HeaderDigest", answer: "None".into() })
    );
    assert!(matches!(
        negotiate(k, "CRC32C,None", Some("CRC32C,None")),
        Err(NegotiationError::NotInOffer { .. })
    ));
    assert_eq!(
        negotiate(k, "CRC32C,None", None),
        Err(NegotiationError::NotAnswered { key: "HeaderDigest" })
    );
    assert_eq!(negotiate(k, "CRC32C", Some("Reject")), Ok(Outcome::Rejected));
    assert_eq!(negotiate(k, "CRC32C", Some("NotUnderstood")), Ok(Outcome::NotUnderstood));
    assert_eq!(
        negotiate(k, "MD5,None", Some("None")),
        Err(NegotiationError::UnknownValue { key: "HeaderDigest", value: "MD5".into() })
    );
    assert_eq!(
        negotiate(k, "", Some("None")),
        Err(NegotiationError::EmptyOffer { key: "HeaderDigest" })
    );
    assert_eq!(
        negotiate(k, "X-vendor.digest,None", Some("X-vendor.digest")),
        txt("X-vendor.digest")
    );
    assert_eq!(negotiate(Key::AuthMethod, "CHAP,None", Some("CHAP")), txt("CHAP"));
}

#[test]
fn min_rule() {
    let k = Key::MaxBurstLength;
    assert_eq!(negotiate(k, "262144", Some("65536")), num(65536));
    assert_eq!(negotiate(k, "262144", Some("262144")), num(262144));
    assert_eq!(negotiate(k, "262144", Some("0x10000")), num(65536));
    assert_eq!(
        negotiate(k, "65536", Some("262144")),
        Err(NegotiationError::AboveOffer { key: "MaxBurstLength", offered: 65536, answer: 262144 })
    );
    assert_eq!(
        negotiate(k, "65536", Some("511")),
        Err(NegotiationError::OutOfRange {
            key: "MaxBurstLength",
            value: 511,
            min: 512,
            max: 16_777_215
        })
    );
    assert!(matches!(
        negotiate(k, "65536", Some("lots")),
        Err(NegotiationError::InvalidValue { .. })
    ));
    assert!(matches!(
        negotiate(k, "16777216", Some("512")),
        Err(NegotiationError::OutOfRange { .. })
    ));
    assert_eq!(negotiate(k, "65536", Some("Irrelevant")), Ok(Outcome::Irrelevant));
    assert_eq!(negotiate(Key::ErrorRecoveryLevel, "2", Some("0")), num(0));
    assert!(matches!(
        negotiate(Key::ErrorRecoveryLevel, "2", Some("3")),
        Err(NegotiationError::OutOfRange { .. })
    ));
    assert!(matches!(
        negotiate(Key::MaxConnections, "1", Some("0")),
        Err(NegotiationError::OutOfRange { .. })
    ));
    assert_eq!(negotiate(Key::DefaultTime2Retain, "20", Some("0")), num(0));
    assert_eq!(negotiate(Key::MaxOutstandingR2T, "8", Some("1")), num(1));
}

#[test]
fn max_rule() {
    let k = Key::DefaultTime2Wait;
    assert_eq!(negotiate(k, "2", Some("5")), num(5));
    assert_eq!(negotiate(k, "2", Some("2")), num(2));
    assert_eq!(
        negotiate(k, "2", Some("1")),
        Err(NegotiationError::BelowOffer { key: "DefaultTime2Wait", offered: 2, answer: 1 })
    );
    assert!(matches!(negotiate(k, "2", Some("3601")), Err(NegotiationError::OutOfRange { .. })));
}

#[test]
fn or_rule() {
    let k = Key::InitialR2T;
    assert_eq!(negotiate(k, "Yes", None), boolean(true));
    assert_eq!(negotiate(k, "Yes", Some("Yes")), boolean(true));
    assert_eq!(
        negotiate(k, "Yes", Some("No")),
        Err(NegotiationError::BoolMismatch { key: "InitialR2T", offered: true, answer: false })
    );
    assert_eq!(negotiate(k, "No", Some("Yes")), boolean(true));
    assert_eq!(negotiate(k, "No", Some("No")), boolean(false));
    assert_eq!(negotiate(k, "No", None), Err(NegotiationError::NotAnswered { key: "InitialR2T" }));
    assert!(matches!(negotiate(k, "No", Some("yes")), Err(NegotiationError::InvalidValue { .. })));
    assert_eq!(negotiate(Key::DataPduInOrder, "Yes", None), boolean(true));
    assert_eq!(negotiate(Key::DataSequenceInOrder, "No", Some("No")), boolean(false));
}

#[test]
fn and_rule() {
    let k = Key::ImmediateData;
    assert_eq!(negotiate(k, "No", None), boolean(false));
    assert_eq!(negotiate(k, "No", Some("No")), boolean(false));
    assert_eq!(
        negotiate(k, "No", Some("Yes")),
        Err(NegotiationError::BoolMismatch { key: "ImmediateData", offered: false, answer: true })
    );
    assert_eq!(negotiate(k, "Yes", Some("No")), boolean(false));
    assert_eq!(negotiate(k, "Yes", Some("Yes")), boolean(true));
    assert_eq!(
        negotiate(k, "Yes", None),
        Err(NegotiationError::NotAnswered { key: "ImmediateData" })
    );
}

#[test]
fn declarative_rule() {
    let name = "iqn.1999-07.com.os:hostid.77";
    assert_eq!(negotiate(Key::InitiatorName, name, None), txt(name));
    assert_eq!(negotiate(Key::SessionType, "Discovery", None), txt("Discovery"));
    assert_eq!(
        negotiate(Key::SessionType, "Bogus", None),
        Err(NegotiationError::UnknownValue { key: "SessionType", value: "Bogus".into() })
    );
    // The target's own MaxRecvDataSegmentLength is not an answer to ours.
    assert_eq!(negotiate(Key::MaxRecvDataSegmentLength, "262144", Some("8192")), num(262144));
    assert!(matches!(
        negotiate(Key::MaxRecvDataSegmentLength, "511", None),
        Err(NegotiationError::OutOfRange { .. })
    ));
    assert_eq!(negotiate(Key::MaxRecvDataSegmentLength, "16777215", None), num(16_777_215));
    assert_eq!(
        negotiate(Key::InitiatorAlias, "host", Some("NotUnderstood")),
        Ok(Outcome::NotUnderstood)
    );
    assert_eq!(negotiate(Key::TargetPortalGroupTag, "1", None), num(1));
    assert!(negotiate(Key::TargetPortalGroupTag, "65536", None).is_err());
}

#[test]
fn responding_to_target_offers() {
    let r = respond(Key::DataDigest, "CRC32C,None", "None,CRC32C").unwrap();
    assert_eq!((r.outcome, r.answer), (txt("CRC32C").unwrap(), Some("CRC32C".into())));
    let r = respond(Key::DataDigest, "CRC32C", "None").unwrap();
    assert_eq!((r.outcome, r.answer), (Outcome::Rejected, Some("Reject".into())));
    let r = respond(Key::MaxBurstLength, "1048576", "262144").unwrap();
    assert_eq!(r.answer.as_deref(), Some("262144"));
    let r = respond(Key::DefaultTime2Wait, "0", "2").unwrap();
    assert_eq!(r.answer.as_deref(), Some("2"));
    let r = respond(Key::InitialR2T, "No", "Yes").unwrap();
    assert_eq!(r.answer.as_deref(), Some("Yes"));
    let r = respond(Key::ImmediateData, "Yes", "No").unwrap();
    assert_eq!(r.answer.as_deref(), Some("No"));
    let r = respond(Key::TargetAlias, "LIO Target", "").unwrap();
    assert_eq!((r.outcome, r.answer), (txt("LIO Target").unwrap(), None));
    assert!(matches!(
        respond(Key::MaxBurstLength, "1", "262144"),
        Err(NegotiationError::OutOfRange { .. })
    ));
}

#[test]
fn session_params_defaults_match_the_table() {
    let p = SessionParams::default();
    let mut from_table = SessionParams::default();
    for key in Key::ALL {
        if let Some(default) = key.default_value() {
            from_table.apply(key, &key.parse_value(default).unwrap()).unwrap();
        }
    }
    assert_eq!(p, from_table);
    assert_eq!(p.digests(), crate::pdu::Digests::NONE);
    assert_eq!(p.session_type, SessionType::Normal);
    assert_eq!(
        (p.max_burst_length, p.first_burst_length, p.max_recv_data_segment_length),
        (262_144, 65_536, 8192)
    );
    p.validate().unwrap();
}

#[test]
fn session_params_record_a_login() {
    // What a Linux LIO target answers to a typical operational offer.
    let offer = [
        ("HeaderDigest", "CRC32C,None", Some("CRC32C")),
        ("DataDigest", "CRC32C,None", Some("None")),
        ("MaxConnections", "1", Some("1")),
        ("InitialR2T", "No", Some("Yes")),
        ("ImmediateData", "Yes", Some("Yes")),
        ("MaxRecvDataSegmentLength", "262144", None),
        ("MaxBurstLength", "16776192", Some("262144")),
        ("FirstBurstLength", "262144", Some("65536")),
        ("DefaultTime2Wait", "2", Some("2")),
        ("DefaultTime2Retain", "0", Some("0")),
        ("MaxOutstandingR2T", "1", Some("1")),
        ("DataPDUInOrder", "Yes", None),
        ("DataSequenceInOrder", "Yes", None),
        ("ErrorRecoveryLevel", "0", Some("0")),
        ("X-com.example.Thing", "1", Some("NotUnderstood")),
    ];
    let mut p = SessionParams::default();
    for (name, ours, answer) in offer {
        match Key::from_name(name) {
            Some(key) => {
                p.negotiate(key, ours, answer).unwrap();
            }
            None => assert!(is_extension(name)),
        }
    }
    p.apply_peer_declaration(Key::MaxRecvDataSegmentLength, "65536").unwrap();
    p.apply_peer_declaration(Key::TargetPortalGroupTag, "1").unwrap();
    p.validate().unwrap();
    assert_eq!(p.digests(), crate::pdu::Digests { header: Digest::Crc32c, data: Digest::None });
    assert!(p.initial_r2t && p.immediate_data);
    assert_eq!(p.max_recv_data_segment_length, 262_144);
    assert_eq!(p.target_max_recv_data_segment_length, 65_536);
    assert_eq!((p.max_burst_length, p.first_burst_length), (262_144, 65_536));
    assert_eq!(p.default_time2retain, 0);
    assert_eq!(p.target_portal_group_tag, Some(1));
}

#[test]
fn session_params_edge_cases() {
    let mut p = SessionParams::default();
    // A rejected or irrelevant key keeps its value.
    assert_eq!(p.negotiate(Key::MaxBurstLength, "4096", Some("Reject")), Ok(Outcome::Rejected));
    assert_eq!(p.max_burst_length, 262_144);
    // FirstBurstLength above MaxBurstLength is inconsistent, unless irrelevant.
    p.apply(Key::MaxBurstLength, &Value::Number(4096)).unwrap();
    assert!(matches!(p.validate(), Err(NegotiationError::Inconsistent(_))));
    p.apply(Key::ImmediateData, &Value::Bool(false)).unwrap();
    assert!(!p.first_burst_relevant());
    p.validate().unwrap();
    // Hand-made values are checked.
    assert!(matches!(
        p.apply(Key::MaxBurstLength, &Value::Bool(true)),
        Err(NegotiationError::WrongKind { .. })
    ));
    assert!(matches!(
        p.apply(Key::MaxBurstLength, &Value::Text("4096".into())),
        Err(NegotiationError::WrongKind { .. })
    ));
    assert!(matches!(
        p.apply(Key::MaxConnections, &Value::Number(70_000)),
        Err(NegotiationError::OutOfRange { .. })
    ));
    assert!(matches!(
        p.apply(Key::HeaderDigest, &Value::Text("X-other".into())),
        Err(NegotiationError::UnknownValue { .. })
    ));
    // Responding records the result; a declaration records the target's side.
    let r = p.respond(Key::MaxOutstandingR2T, "4", "2").unwrap();
    assert_eq!(r.answer.as_deref(), Some("2"));
    assert_eq!(p.max_outstanding_r2t, 2);
    p.respond(Key::MaxRecvDataSegmentLength, "1024", "8192").unwrap();
    assert_eq!(p.target_max_recv_data_segment_length, 1024);
    assert_eq!(p.max_recv_data_segment_length, 8192);
    p.respond(Key::TargetAlias, "disk", "").unwrap();
    assert_eq!(p.target_alias.as_deref(), Some("disk"));
    p.apply(Key::SessionType, &Value::Text("Discovery".into())).unwrap();
    assert_eq!(p.session_type, SessionType::Discovery);
    assert_eq!(p.session_type.as_str(), "Discovery");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A key and a legal value of it (a list offer for list keys).
    fn key_value() -> impl Strategy<Value = (Key, String)> {
        proptest::sample::select(Key::ALL.to_vec()).prop_flat_map(|key| {
            let value: BoxedStrategy<String> = match (key.kind(), key.known_values()) {
                (Kind::Number, _) => {
                    let r = key.range().unwrap_or(0..=0);
                    (r.clone()).prop_map(|n| n.to_string()).boxed()
                }
                (Kind::Bool, _) => any::<bool>().prop_map(|b| text::format_bool(b).into()).boxed(),
                (Kind::Text, Some(known)) if key.rule() == Rule::List => {
                    proptest::sample::subsequence(known.to_vec(), 1..=known.len())
                        .prop_shuffle()
                        .prop_map(|v| text::format_list(&v))
                        .boxed()
                }
                (Kind::Text, Some(known)) => {
                    proptest::sample::select(known.to_vec()).prop_map(String::from).boxed()
                }
                (Kind::Text, None) => "[a-z0-9.:-]{1,20}".boxed(),
            };
            (Just(key), value)
        })
    }

    proptest! {
        /// Whatever we would answer to an offer, our own check of that answer accepts, with
        /// the same result: respond and negotiate agree on every rule.
        #[test]
        fn respond_and_negotiate_agree((key, offer) in key_value(), ours in any::<u64>()) {
            // A second legal value for our side, drawn from the same key.
            let ours = match key.kind() {
                Kind::Number => {
                    let r = key.range().unwrap_or(0..=0);
                    (r.start() + ours % (r.end() - r.start() + 1)).to_string()
                }
                Kind::Bool => text::format_bool(ours % 2 == 0).to_string(),
                Kind::Text => match key.known_values() {
                    Some(known) => {
                        let n = known.len() as u64;
                        known[(ours % n) as usize].to_string()
                    }
                    None => "ours".to_string(),
                },
            };
            let response = respond(key, &offer, &ours).unwrap();
            let checked = negotiate(key, &offer, response.answer.as_deref());
            if key.rule() == Rule::Declarative {
                prop_assert!(response.answer.is_none());
            } else {
                prop_assert_eq!(checked.unwrap(), response.outcome);
            }
        }

        #[test]
        fn min_rule_accepts_exactly_answers_not_above_the_offer(
            offer in 512u64..(1 << 24),
            answer in 512u64..(1 << 24),
        ) {
            let r = negotiate(Key::MaxBurstLength, &offer.to_string(), Some(&answer.to_string()));
            if answer <= offer {
                prop_assert_eq!(r, num(answer));
            } else {
                let is_above = matches!(r, Err(NegotiationError::AboveOffer { .. }));
                prop_assert!(is_above);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(
            key in proptest::sample::select(Key::ALL.to_vec()),
            a in "\\PC{0,30}",
            b in proptest::option::of("\\PC{0,30}"),
        ) {
            let _ = negotiate(key, &a, b.as_deref());
            let _ = respond(key, &a, b.as_deref().unwrap_or(""));
            let mut p = SessionParams::default();
            let _ = p.negotiate(key, &a, b.as_deref());
            let _ = p.apply_peer_declaration(key, &a);
        }
    }
}
