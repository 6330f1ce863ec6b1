//! CHAP tests: MD5 vectors, the exchange against a simulated target, and the failures.

use super::*;

/// A deterministic source: repeats `byte` (tests need no real randomness).
struct Fixed(u8);

impl ChallengeSource for Fixed {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChapError> {
        buf.fill(self.0);
        Ok(())
    }
}

/// A source that hands out given bytes, for the reflection test.
struct Script(Vec<u8>);

impl ChallengeSource for Script {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChapError> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.0.get(i).copied().unwrap_or(0);
        }
        Ok(())
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const INI_SECRET: &str = "initiator-secret";
const TGT_SECRET: &str = "target-secret-1";

fn hex(bytes: &[u8]) -> String {
    text::encode_hex(bytes)
}

#[test]
fn md5_vectors() {
    // MD5("abc"), the RFC 1321 vector, split into identifier, secret and challenge.
    assert_eq!(hex(&response(b'a', b"b", b"c")), "0x900150983cd24fb0d6963f7d28e17f72");
    // Computed independently: MD5(0x2a || "target-secret-1" || 01..10).
    let challenge: Vec<u8> = (1..=16).collect();
    assert_eq!(
        hex(&response(0x2a, TGT_SECRET.as_bytes(), &challenge)),
        "0x1dba720f3fe3035235945a7fc9b956f4"
    );
}

/// The target's side, written from RFC 1994: challenge, then check the response, then
/// answer the initiator's challenge.
struct SimTarget {
    id: u8,
    challenge: Vec<u8>,
    initiator: Credentials,
    own: Credentials,
}

impl SimTarget {
    fn new() -> Self {
        SimTarget {
            id: 9,
            challenge: (100..116).collect(),
            initiator: Credentials::new("iqn.2024-01.test:ini", INI_SECRET),
            own: Credentials::new("iqn.2024-01.test:tgt", TGT_SECRET),
        }
    }

    fn challenge(&self, base64: bool) -> Vec<(String, String)> {
        let c = if base64 { text::encode_base64(&self.challenge) } else { hex(&self.challenge) };
        pairs(&[("CHAP_A", "5"), ("CHAP_I", &self.id.to_string()), ("CHAP_C", &c)])
    }

    /// Checks the initiator's answer; returns the mutual response if it challenged us.
    fn check(&self, got: &[(String, String)]) -> Result<Vec<(String, String)>, &'static str> {
        let name = text::get(got, "CHAP_N").ok_or("no CHAP_N")?;
        let r = text::parse_binary(text::get(got, "CHAP_R").ok_or("no CHAP_R")?).unwrap();
        if name != self.initiator.user
            || r != response(self.id, self.initiator.secret(), &self.challenge)
        {
            return Err("authentication failure");
        }
        let Some(i) = text::get(got, "CHAP_I") else {
            return Ok(Vec::new());
        };
        let i = u8::try_from(text::parse_number(i).unwrap()).unwrap();
        let c = text::parse_binary(text::get(got, "CHAP_C").unwrap()).unwrap();
        assert_ne!(c, self.challenge, "reflected challenge");
        let r = response(i, self.own.secret(), &c);
        Ok(pairs(&[("CHAP_N", &self.own.user), ("CHAP_R", &hex(&r))]))
    }
}

#[test]
fn one_way_exchange() {
    let target = SimTarget::new();
    let mut chap = ChapInitiator::new(target.initiator.clone(), None).unwrap();
    assert!(!chap.is_mutual());
    let answer = chap.on_challenge(&target.challenge(false), &mut Fixed(1)).unwrap();
    assert_eq!(answer.len(), 2);
    assert_eq!(target.check(&answer), Ok(Vec::new()));
    assert!(chap.is_done());
    assert!(!chap.awaits_target_response());
}

#[test]
fn base64_challenge_is_accepted() {
    let target = SimTarget::new();
    let mut chap = ChapInitiator::new(target.initiator.clone(), None).unwrap();
    let answer = chap.on_challenge(&target.challenge(true), &mut Fixed(1)).unwrap();
    assert_eq!(target.check(&answer), Ok(Vec::new()));
}

#[test]
fn mutual_exchange() {
    let target = SimTarget::new();
    let mut chap = ChapInitiator::new(target.initiator.clone(), Some(target.own.clone())).unwrap();
    let answer = chap.on_challenge(&target.challenge(false), &mut Fixed(0x5a)).unwrap();
    assert_eq!(text::get(&answer, "CHAP_I"), Some("90"));
    assert_eq!(text::get(&answer, "CHAP_C"), Some(hex(&[0x5a; 16]).as_str()));
    assert!(chap.awaits_target_response());
    let back = target.check(&answer).unwrap();
    chap.on_target_response(&back).unwrap();
    assert!(chap.is_done());
}

#[test]
fn wrong_secret_fails_at_the_target() {
    let target = SimTarget::new();
    let mut chap =
        ChapInitiator::new(Credentials::new(target.initiator.user.clone(), "nope"), None).unwrap();
    let answer = chap.on_challenge(&target.challenge(false), &mut Fixed(1)).unwrap();
    assert_eq!(target.check(&answer), Err("authentication failure"));
}

#[test]
fn impostor_target_is_refused() {
    let target = SimTarget::new();
    let expected = Credentials::new(target.own.user.clone(), "what-the-real-target-knows");
    let mut chap = ChapInitiator::new(target.initiator.clone(), Some(expected)).unwrap();
    let answer = chap.on_challenge(&target.challenge(false), &mut Fixed(3)).unwrap();
    let back = target.check(&answer).unwrap();
    assert_eq!(chap.on_target_response(&back), Err(ChapError::TargetAuthenticationFailed));
    let mut renamed = back.clone();
    renamed[0].1 = "someone-else".into();
    assert!(matches!(chap.on_target_response(&renamed), Err(ChapError::TargetNameMismatch { .. })));
}

#[test]
fn reflected_challenge_is_refused() {
    let target = SimTarget::new();
    let mut chap = ChapInitiator::new(target.initiator.clone(), Some(target.own.clone())).unwrap();
    // A source that would produce the target's own challenge after the identifier byte.
    let mut bytes = vec![1];
    bytes.extend_from_slice(&target.challenge);
    assert_eq!(
        chap.on_challenge(&target.challenge(false), &mut Script(bytes)),
        Err(ChapError::ReflectedChallenge)
    );
}

#[test]
fn bad_challenges() {
    let creds = Credentials::new("u", "s");
    let run = |list: &[(&str, &str)]| {
        ChapInitiator::new(creds.clone(), None).unwrap().on_challenge(&pairs(list), &mut Fixed(0))
    };
    assert_eq!(
        run(&[("CHAP_A", "7"), ("CHAP_I", "1"), ("CHAP_C", "0x01")]),
        Err(ChapError::UnsupportedAlgorithm("7".into()))
    );
    assert_eq!(run(&[("CHAP_A", "Reject")]), Err(ChapError::UnsupportedAlgorithm("Reject".into())));
    assert_eq!(run(&[("CHAP_A", "5"), ("CHAP_C", "0x01")]), Err(ChapError::MissingKey("CHAP_I")));
    assert_eq!(
        run(&[("CHAP_A", "5"), ("CHAP_I", "256"), ("CHAP_C", "0x01")]),
        Err(ChapError::InvalidIdentifier("256".into()))
    );
    assert!(matches!(
        run(&[("CHAP_A", "5"), ("CHAP_I", "1"), ("CHAP_C", "12")]),
        Err(ChapError::InvalidValue { key: "CHAP_C", .. })
    ));
    let long = hex(&[7u8; MAX_CHALLENGE_LEN + 1]);
    assert_eq!(
        run(&[("CHAP_A", "5"), ("CHAP_I", "1"), ("CHAP_C", &long)]),
        Err(ChapError::ChallengeLength(MAX_CHALLENGE_LEN + 1))
    );
}

#[test]
fn steps_out_of_order() {
    let target = SimTarget::new();
    let mut chap = ChapInitiator::new(target.initiator.clone(), None).unwrap();
    assert!(matches!(chap.on_target_response(&[]), Err(ChapError::OutOfOrder(_))));
    chap.on_challenge(&target.challenge(false), &mut Fixed(1)).unwrap();
    assert!(matches!(
        chap.on_challenge(&target.challenge(false), &mut Fixed(1)),
        Err(ChapError::OutOfOrder(_))
    ));
}

#[test]
fn configuration_checks() {
    assert_eq!(
        ChapInitiator::new(Credentials::new("a", "x"), Some(Credentials::new("b", "x"))).err(),
        Some(ChapError::SameSecret)
    );
    assert_eq!(
        ChapInitiator::new(Credentials::new("a", ""), None).err(),
        Some(ChapError::EmptySecret)
    );
}

#[test]
fn secrets_stay_out_of_debug() {
    let creds = Credentials::new("user", INI_SECRET);
    let shown = format!("{creds:?}");
    assert!(shown.contains("user") && shown.contains("<redacted>"));
    assert!(!shown.contains(INI_SECRET));
    let chap = ChapInitiator::new(creds, Some(Credentials::new("t", TGT_SECRET))).unwrap();
    let shown = format!("{chap:?}");
    assert!(!shown.contains(INI_SECRET) && !shown.contains(TGT_SECRET));
    // Not even the bytes of the secret, as a Vec<u8> would print them.
    assert!(!shown.contains("105, 110"));
}
