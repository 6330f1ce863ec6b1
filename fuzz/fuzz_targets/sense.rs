//! Sense data from a device is untrusted: parsing arbitrary bytes must return a value or an
//! error, and whatever parses must emit and parse back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scsi_proto::Wire;
use scsi_proto::sense::SenseData;

fuzz_target!(|data: &[u8]| {
    if let Ok(sense) = SenseData::parse(data) {
        let bytes = sense.to_vec();
        assert_eq!(bytes.len(), sense.buffer_len());
        assert!(bytes.len() <= scsi_proto::sense::MAX_LEN);
        let again = SenseData::parse(&bytes).expect("emitted sense data parses");
        // A second round trip is exact: the first may normalise (e.g. a zero fixed-format
        // COMMAND-SPECIFIC field reads back as absent).
        assert_eq!(SenseData::parse(&again.to_vec()).expect("parses"), again);
        let _ = sense.to_string();
    }
});
