//! A user-space iSCSI initiator: RFC 7143 login (None and CHAP), SendTargets discovery, and the
//! hand-off of the logged-in connection to the kernel over NETLINK_ISCSI.
//!
//! The protocol layer has no I/O; [`connect`] drives it over TCP and [`kernel`] hands the
//! logged-in connection to the kernel.
//!
//! - [`chap`]: CHAP with MD5 (RFC 1994, RFC 7143 12.1.3), the initiator's side with mutual
//!   authentication, secrets kept out of `Debug`.
//! - [`pdu`]: the Basic Header Segment, the typed PDUs of login, discovery and logout, and
//!   their framing on the byte stream (AHS, padding, CRC32C digests).
//! - [`text`]: the `key=value` text of Login and Text PDUs, texts spanning several PDUs, and
//!   the value forms (numbers in decimal, hex and base64, binary values, booleans, lists).
//! - [`keys`]: the login and operational keys of RFC 7143 with their negotiation rules and
//!   ranges, checking a target's answers and answering its offers, and [`keys::SessionParams`]
//!   with the RFC defaults and the negotiated results.
//! - [`address`]: the TargetAddress value (`host[:port][,tpgt]`, IPv6 in brackets).
//! - [`login`]: the initiator's login as a pure state machine (security stage with None or
//!   CHAP, operational negotiation, continuation, redirection, every login status as a typed
//!   error), ending in a [`login::Session`].
//! - [`discovery`]: SendTargets over a discovery session (multi-PDU answers via the Target
//!   Transfer Tag) into [`discovery::DiscoveredTarget`]s, then the logout.
//!
//! - [`connect`]: the blocking TCP driver over `std::net`: connecting to a portal, login
//!   with redirections, a whole discovery session, and logout.
//!
//! - [`netlink`]: NETLINK_ISCSI messages (`struct iscsi_uevent` of `include/scsi/iscsi_if.h`)
//!   built and parsed with netlink-packet-core, sent with netlink-sys; kernel events queued.
//! - [`kernel`]: the hand-off (create session and connection, bind the socket, set every
//!   negotiated parameter, start), scanning for the new disks, finding sessions in sysfs, and
//!   the logout (disks removed first, so their caches flush over the live connection).
//!
//! The `tcmu iscsi discover | login | logout` commands use all of it; `cargo xtask vm-test`
//! logs in to LIO's iSCSI fabric in a real 6.1 kernel with no auth, one-way and mutual CHAP.
#![forbid(unsafe_code)]

/// The README's example, compiled as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod address;
pub mod chap;
pub mod connect;
pub mod discovery;
pub mod kernel;
pub mod keys;
pub mod login;
pub mod netlink;
pub mod pdu;
pub mod text;

#[cfg(test)]
mod fuzz_tests;

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
