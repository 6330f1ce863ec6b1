//! Bytes from an iSCSI target are untrusted: `iscsi_nl::fuzz_parse` reads them as a stream of
//! PDUs (without and with CRC32C digests), re-encodes each one and checks the round trip,
//! parses their texts and the values in them, and feeds them to the login and discovery
//! state machines. Nothing may panic except a broken round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    iscsi_nl::fuzz_parse(data);
});
