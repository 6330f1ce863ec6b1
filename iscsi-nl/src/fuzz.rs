//! [`fuzz_parse`]: every parser of this crate on arbitrary bytes, for the cargo-fuzz target
//! `iscsi_pdu`. Compiled only with `--cfg fuzzing` (cargo-fuzz sets it) and in tests.

use crate::{address, chap, discovery, keys, login, pdu, text};

#[cfg(test)]
mod tests;

/// The largest data segment [`fuzz_parse`] lets the decoder accept (the 24-bit maximum).
const FUZZ_MAX_SEGMENT: u32 = (1 << 24) - 1;

/// A fixed "random" source, so fuzzing is reproducible.
struct FuzzRandom;

impl chap::ChallengeSource for FuzzRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), chap::ChapError> {
        buf.fill(0x5a);
        Ok(())
    }
}

/// Runs every parser of this crate on arbitrary bytes: the entry point of a fuzz target.
///
/// The bytes are read as a stream of PDUs (without digests, then with CRC32C digests); each
/// PDU decoded is encoded again and must decode to itself, its data segment is parsed as
/// text, and it is fed to a login and a discovery machine. The bytes are also parsed as one
/// text, whose values go through the value parsers, the key rules and the SendTargets and
/// TargetAddress readers, and through the multi-PDU assembler in pieces.
///
/// Input never makes a parser panic; this function panics only when a parser breaks its own
/// contract (a PDU that does not survive encode and decode), which is a bug to report.
pub fn fuzz_parse(data: &[u8]) {
    let cfg = login::LoginConfig::discovery("iqn.2024-01.org.example:fuzz", [0x80, 0, 0, 0, 0, 1]);
    let mut login = login::Login::new(cfg, FuzzRandom).ok().map(|(l, _)| l);
    for digests in [pdu::Digests::NONE, pdu::Digests::CRC32C] {
        let mut rest = data;
        while let Ok(Some((pdu, used))) = pdu::decode(rest, digests, FUZZ_MAX_SEGMENT) {
            if let Ok(wire) = pdu.encode(digests) {
                let again = pdu::decode(&wire, digests, FUZZ_MAX_SEGMENT);
                assert_eq!(again, Ok(Some((pdu.clone(), wire.len()))), "PDU round trip");
            }
            if let Ok((_, _, segment)) = pdu.to_parts() {
                fuzz_text(segment);
            }
            if let Some(l) = login.as_mut() {
                let _ = l.receive(pdu.clone());
            }
            let session = login::Session {
                params: keys::SessionParams::default(),
                isid: [0; 6],
                tsih: 1,
                cid: 0,
                cmd_sn: 0,
                stat_sn: 0,
                exp_stat_sn: 0,
                exp_cmd_sn: 0,
                max_cmd_sn: 0,
                next_itt: 0,
                digests,
            };
            let _ = discovery::Discovery::new(&session).0.receive(pdu);
            match rest.get(used..) {
                Some(r) if used > 0 => rest = r,
                _ => break,
            }
        }
    }
    fuzz_text(data);
}

/// The text half of [`fuzz_parse`].
fn fuzz_text(data: &[u8]) {
    if let Ok(pairs) = text::parse(data) {
        for (k, v) in &pairs {
            let _ = text::parse_number(v);
            let _ = text::parse_binary(v);
            let _ = text::parse_bool(v);
            let _ = text::parse_list(v);
            let _ = v.parse::<address::TargetAddress>();
            if let Some(key) = keys::Key::from_name(k) {
                let _ = key.parse_value(v);
                let _ = keys::negotiate(key, v, Some(v));
                let _ = keys::respond(key, v, v);
            }
        }
        let _ = discovery::parse_send_targets(&pairs);
    }
    let mut assembler = text::TextAssembler::default();
    for piece in data.chunks(7) {
        let _ = assembler.push(piece, true);
    }
    let _ = assembler.push(&[], false);
}
