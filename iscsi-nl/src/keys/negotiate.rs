//! The two directions of a negotiation: checking the target's answer to our offer, and
//! answering the target's offer.

use super::{Key, NegotiationError, Outcome, Response, Rule, Value};
use crate::text::Special;

/// Checks the target's `answer` to our `offered` value of `key` and returns the result.
///
/// - List keys: the answer must be one of the values offered.
/// - Minimum (maximum) keys: the answer must be in range and not above (below) the offer.
/// - OR (AND) keys: an offer of `Yes` (`No`) decides the result, which the target need not
///   answer but must not contradict; otherwise the answer is the result.
/// - Declarative keys: nothing is negotiated; the result is our own value. A value the
///   target declares under the same key (its MaxRecvDataSegmentLength) is not an answer:
///   give it to [`SessionParams::apply_peer_declaration`](super::SessionParams::apply_peer_declaration).
///
/// `Reject`, `Irrelevant` and `NotUnderstood` answers are outcomes, not errors: the key
/// keeps its current value. An answer that is missing where one is needed is
/// [`NegotiationError::NotAnswered`]; the caller decides whether more PDUs may still bring it.
pub fn negotiate(
    key: Key,
    offered: &str,
    answer: Option<&str>,
) -> Result<Outcome, NegotiationError> {
    let name = key.name();
    let special = answer.and_then(Special::parse);
    let outcome = match key.rule() {
        Rule::Declarative => {
            let ours = key.parse_value(offered)?;
            special.map_or(Outcome::Value(ours), Outcome::from)
        }
        Rule::List => {
            let items = key.parse_offer_list(offered)?;
            match (special, answer) {
                (Some(s), _) => s.into(),
                (None, None) => return Err(NegotiationError::NotAnswered { key: name }),
                (None, Some(a)) if items.contains(&a) => Outcome::Value(Value::Text(a.into())),
                (None, Some(a)) => {
                    return Err(NegotiationError::NotInOffer { key: name, answer: a.into() });
                }
            }
        }
        Rule::Min | Rule::Max => {
            let off = key.parse_number(offered)?;
            match (special, answer) {
                (Some(s), _) => s.into(),
                (None, None) => return Err(NegotiationError::NotAnswered { key: name }),
                (None, Some(a)) => {
                    let ans = key.parse_number(a)?;
                    if key.rule() == Rule::Min && ans > off {
                        return Err(NegotiationError::AboveOffer {
                            key: name,
                            offered: off,
                            answer: ans,
                        });
                    }
                    if key.rule() == Rule::Max && ans < off {
                        return Err(NegotiationError::BelowOffer {
                            key: name,
                            offered: off,
                            answer: ans,
                        });
                    }
                    Outcome::Value(Value::Number(ans))
                }
            }
        }
        Rule::Or | Rule::And => {
            let off = key.parse_bool(offered)?;
            // The offer that decides the result: Yes for OR, No for AND.
            let decided = (key.rule() == Rule::Or) == off;
            match (special, answer) {
                (Some(s), _) => s.into(),
                (None, None) if decided => Outcome::Value(Value::Bool(off)),
                (None, None) => return Err(NegotiationError::NotAnswered { key: name }),
                (None, Some(a)) => {
                    let ans = key.parse_bool(a)?;
                    if decided && ans != off {
                        return Err(NegotiationError::BoolMismatch {
                            key: name,
                            offered: off,
                            answer: ans,
                        });
                    }
                    Outcome::Value(Value::Bool(ans))
                }
            }
        }
    };
    Ok(outcome)
}

/// Answers a key the target offered, given what we support (`ours`: our list in order of
/// preference for list keys, our value otherwise).
///
/// - List keys: the first value of the target's list that is also in ours; `Reject` when
///   there is none.
/// - Minimum, maximum, OR and AND keys: the function of both values, which is also the answer.
/// - Declarative keys: the target's value, checked; nothing is answered.
///
/// A target offer that is malformed or out of range is an error; RFC 7143 6.2 has the
/// responder answer `Reject` to such values, which the caller may do.
pub fn respond(key: Key, peer_offer: &str, ours: &str) -> Result<Response, NegotiationError> {
    let answered =
        |value: Value| Response { answer: Some(value.to_string()), outcome: Outcome::Value(value) };
    Ok(match key.rule() {
        Rule::Declarative => {
            Response { outcome: Outcome::Value(key.parse_value(peer_offer)?), answer: None }
        }
        Rule::List => {
            let theirs = key.parse_offer_list(peer_offer)?;
            let supported = key.parse_offer_list(ours)?;
            match theirs.into_iter().find(|v| supported.contains(v)) {
                Some(v) => answered(Value::Text(v.into())),
                None => Response {
                    outcome: Outcome::Rejected,
                    answer: Some(Special::Reject.as_str().into()),
                },
            }
        }
        Rule::Min | Rule::Max => {
            let (a, b) = (key.parse_number(peer_offer)?, key.parse_number(ours)?);
            answered(Value::Number(if key.rule() == Rule::Min { a.min(b) } else { a.max(b) }))
        }
        Rule::Or | Rule::And => {
            let (a, b) = (key.parse_bool(peer_offer)?, key.parse_bool(ours)?);
            answered(Value::Bool(if key.rule() == Rule::Or { a || b } else { a && b }))
        }
    })
}
