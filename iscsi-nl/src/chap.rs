//! CHAP authentication (RFC 1994, as RFC 7143 section 12.1.3 carries it in login text) with
//! MD5, the one algorithm every iSCSI implementation must support (`CHAP_A=5`).
//!
//! The exchange, initiator I and target T:
//!
//! ```text
//! I->T  CHAP_A=5
//! T->I  CHAP_A=5  CHAP_I=<id>  CHAP_C=<challenge>
//! I->T  CHAP_N=<user>  CHAP_R=MD5(id || secret || challenge)
//!       [mutual: CHAP_I=<our id>  CHAP_C=<our challenge>]
//! T->I  [mutual: CHAP_N=<target user>  CHAP_R=MD5(our id || target secret || our challenge)]
//! ```
//!
//! [`ChapInitiator`] is the initiator's side as a small pure machine: it reads the target's
//! pairs and returns the pairs to send. Randomness (our identifier and challenge in mutual
//! CHAP) comes from a [`ChallengeSource`], so tests can be deterministic; [`OsRandom`] is the
//! real one.
//!
//! Secrets never appear in `Debug` output: [`Credentials`] and [`ChapInitiator`] print
//! `<redacted>` in their place.
//!
//! ```
//! use iscsi_nl::chap::{self, ChapInitiator, Credentials};
//!
//! let mut chap = ChapInitiator::new(Credentials::new("iqn.ini", "0123456789ab"), None).unwrap();
//! assert_eq!(chap.offer(), vec![("CHAP_A".to_string(), "5".to_string())]);
//! let challenge = vec![
//!     ("CHAP_A".to_string(), "5".to_string()),
//!     ("CHAP_I".to_string(), "7".to_string()),
//!     ("CHAP_C".to_string(), "0x0011223344".to_string()),
//! ];
//! let answer = chap.on_challenge(&challenge, &mut chap::OsRandom).unwrap();
//! let expected = chap::response(7, b"0123456789ab", &[0x00, 0x11, 0x22, 0x33, 0x44]);
//! assert_eq!(answer[1].1, iscsi_nl::text::encode_hex(&expected));
//! assert!(format!("{chap:?}").contains("<redacted>"));
//! ```

#[cfg(test)]
mod tests;

use crate::text::{self, TextError};
use md5::{Digest as _, Md5};

/// The CHAP_A value of MD5 (RFC 1994).
pub const ALGORITHM_MD5: u8 = 5;

/// The length of an MD5 response, in bytes.
pub const RESPONSE_LEN: usize = 16;

/// The length of the challenges we send, in bytes (RFC 7143 12.1.3 asks for challenges at
/// least as long as the response; RFC 1994 recommends 16 bytes or more).
pub const CHALLENGE_LEN: usize = 16;

/// The longest challenge accepted from a target, in bytes (RFC 7143 12.1.3: 1024).
pub const MAX_CHALLENGE_LEN: usize = 1024;

/// Computes the CHAP MD5 response: `MD5(identifier || secret || challenge)` (RFC 1994 4.1).
pub fn response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; RESPONSE_LEN] {
    let mut md5 = Md5::new();
    md5.update([identifier]);
    md5.update(secret);
    md5.update(challenge);
    md5.finalize().into()
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A CHAP name and secret. The secret is kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The CHAP name (CHAP_N), usually the node's iSCSI name.
    pub user: String,
    secret: Vec<u8>,
}

impl Credentials {
    /// Credentials with this name and secret.
    pub fn new(user: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        Credentials { user: user.into(), secret: secret.as_ref().to_vec() }
    }

    /// The secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

/// The randomness CHAP needs: our identifier and challenge in mutual CHAP.
pub trait ChallengeSource {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChapError>;
}

/// The operating system's random number generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl ChallengeSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ChapError> {
        getrandom::fill(buf).map_err(|_| ChapError::Random)
    }
}

/// Errors of CHAP: a target that does not follow the exchange, or one that fails mutual
/// authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChapError {
    /// A key the step needs is absent.
    #[error("CHAP: the target did not send {0}")]
    MissingKey(&'static str),
    /// A key's value is malformed.
    #[error("CHAP: invalid {key} value: {source}")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// What was wrong.
        source: TextError,
    },
    /// The target chose an algorithm other than MD5 (or answered `Reject`).
    #[error("CHAP: the target chose algorithm {0:?}, only MD5 (5) is supported")]
    UnsupportedAlgorithm(String),
    /// CHAP_I is not a number from 0 to 255.
    #[error("CHAP: identifier {0:?} is not a number from 0 to 255")]
    InvalidIdentifier(String),
    /// The target's challenge is empty or longer than [`MAX_CHALLENGE_LEN`].
    #[error("CHAP: a challenge of {0} bytes (1 to {MAX_CHALLENGE_LEN} accepted)")]
    ChallengeLength(usize),
    /// The challenge we would send equals the one the target sent (RFC 7143 12.1.3: the
    /// originator must not reuse the responder's challenge for the other direction).
    #[error("CHAP: our challenge equals the target's; refusing a reflected challenge")]
    ReflectedChallenge,
    /// Mutual CHAP: the target's CHAP_N is not the name we expect.
    #[error("CHAP: the target calls itself {got:?}, expected {expected:?}")]
    TargetNameMismatch {
        /// The name configured for the target.
        expected: String,
        /// The CHAP_N the target sent.
        got: String,
    },
    /// Mutual CHAP: the target's CHAP_R is wrong; it does not know the secret.
    #[error("CHAP: the target failed mutual authentication")]
    TargetAuthenticationFailed,
    /// The initiator and target secrets are the same (RFC 7143 9.2.1 forbids it: a secret
    /// used in one direction must not be used in the other).
    #[error("CHAP: the initiator and target secrets must differ")]
    SameSecret,
    /// A secret is empty.
    #[error("CHAP: empty secret")]
    EmptySecret,
    /// A step came out of order (a challenge twice, a response before a challenge...).
    #[error("CHAP: unexpected step: {0}")]
    OutOfOrder(&'static str),
    /// The random number generator failed.
    #[error("CHAP: no random numbers available")]
    Random,
}

/// Where the initiator's side of the exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// CHAP_A offered, waiting for the target's challenge.
    AwaitChallenge,
    /// Responded; with mutual CHAP, waiting for the target's response.
    AwaitTargetResponse,
    /// Finished.
    Done,
}

/// The initiator's side of CHAP: answers the target's challenge and, with mutual CHAP,
/// challenges the target and checks its answer.
#[derive(Clone)]
pub struct ChapInitiator {
    ours: Credentials,
    mutual: Option<Credentials>,
    state: State,
    /// The identifier and challenge we sent the target (mutual CHAP).
    sent: Option<(u8, Vec<u8>)>,
}

impl core::fmt::Debug for ChapInitiator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChapInitiator")
            .field("ours", &self.ours)
            .field("mutual", &self.mutual)
            .field("state", &self.state)
            .field("sent", &self.sent.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn pair(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

/// The value of a required key.
fn required<'a>(pairs: &'a [(String, String)], key: &'static str) -> Result<&'a str, ChapError> {
    text::get(pairs, key).ok_or(ChapError::MissingKey(key))
}

/// Reads a binary value (hex `0x` or base64 `0b`).
fn binary(pairs: &[(String, String)], key: &'static str) -> Result<Vec<u8>, ChapError> {
    text::parse_binary(required(pairs, key)?)
        .map_err(|source| ChapError::InvalidValue { key, source })
}

impl ChapInitiator {
    /// The initiator's side with our credentials and, for mutual CHAP, the credentials we
    /// expect from the target. The two secrets must differ and neither may be empty.
    pub fn new(ours: Credentials, mutual: Option<Credentials>) -> Result<Self, ChapError> {
        if ours.secret.is_empty() || mutual.as_ref().is_some_and(|m| m.secret.is_empty()) {
            return Err(ChapError::EmptySecret);
        }
        if mutual.as_ref().is_some_and(|m| m.secret == ours.secret) {
            return Err(ChapError::SameSecret);
        }
        Ok(ChapInitiator { ours, mutual, state: State::AwaitChallenge, sent: None })
    }

    /// Whether the target is authenticated too.
    pub fn is_mutual(&self) -> bool {
        self.mutual.is_some()
    }

    /// The first pairs to send once AuthMethod=CHAP is agreed: `CHAP_A=5`.
    pub fn offer(&self) -> Vec<(String, String)> {
        vec![pair("CHAP_A", ALGORITHM_MD5.to_string())]
    }

    /// Reads the target's `CHAP_A`, `CHAP_I` and `CHAP_C` and returns our `CHAP_N` and
    /// `CHAP_R`, followed by our own `CHAP_I` and `CHAP_C` for mutual CHAP.
    pub fn on_challenge(
        &mut self,
        pairs: &[(String, String)],
        rng: &mut dyn ChallengeSource,
    ) -> Result<Vec<(String, String)>, ChapError> {
        if self.state != State::AwaitChallenge {
            return Err(ChapError::OutOfOrder("a second challenge"));
        }
        let algorithm = required(pairs, "CHAP_A")?;
        if text::parse_number(algorithm).ok() != Some(ALGORITHM_MD5.into()) {
            return Err(ChapError::UnsupportedAlgorithm(algorithm.to_owned()));
        }
        let id_text = required(pairs, "CHAP_I")?;
        let identifier = text::parse_number(id_text)
            .ok()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| ChapError::InvalidIdentifier(id_text.to_owned()))?;
        let challenge = binary(pairs, "CHAP_C")?;
        if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_LEN {
            return Err(ChapError::ChallengeLength(challenge.len()));
        }
        let answer = response(identifier, &self.ours.secret, &challenge);
        let mut out =
            vec![pair("CHAP_N", self.ours.user.clone()), pair("CHAP_R", text::encode_hex(&answer))];
        if self.mutual.is_some() {
            let mut ours = [0u8; 1 + CHALLENGE_LEN];
            rng.fill(&mut ours)?;
            let (id, our_challenge) = (ours[0], ours[1..].to_vec());
            if constant_time_eq(&our_challenge, &challenge) {
                return Err(ChapError::ReflectedChallenge);
            }
            out.push(pair("CHAP_I", id.to_string()));
            out.push(pair("CHAP_C", text::encode_hex(&our_challenge)));
            self.sent = Some((id, our_challenge));
            self.state = State::AwaitTargetResponse;
        } else {
            self.state = State::Done;
        }
        Ok(out)
    }

    /// Mutual CHAP: checks the target's `CHAP_N` and `CHAP_R` against our challenge.
    pub fn on_target_response(&mut self, pairs: &[(String, String)]) -> Result<(), ChapError> {
        let (Some(expected), Some((id, challenge)), State::AwaitTargetResponse) =
            (&self.mutual, &self.sent, self.state)
        else {
            return Err(ChapError::OutOfOrder("a target response we did not ask for"));
        };
        let name = required(pairs, "CHAP_N")?;
        if name != expected.user {
            return Err(ChapError::TargetNameMismatch {
                expected: expected.user.clone(),
                got: name.to_owned(),
            });
        }
        let got = binary(pairs, "CHAP_R")?;
        let want = response(*id, &expected.secret, challenge);
        if !constant_time_eq(&got, &want) {
            return Err(ChapError::TargetAuthenticationFailed);
        }
        self.state = State::Done;
        Ok(())
    }

    /// Whether we still wait for the target's mutual CHAP response.
    pub fn awaits_target_response(&self) -> bool {
        self.state == State::AwaitTargetResponse
    }

    /// Whether the exchange is over (our response sent and, for mutual CHAP, the target's
    /// checked).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}
