//! INQUIRY data comes from a device (an initiator parses it): standard data and every VPD page
//! must parse to a value or an error, and whatever parses must survive emit and parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scsi_proto::Wire;
use scsi_proto::inquiry::{StandardInquiry, VpdPage};

fn roundtrip<T: Wire + PartialEq + core::fmt::Debug>(data: &[u8]) {
    if let Ok(x) = T::parse(data) {
        let bytes = x.to_vec();
        assert_eq!(bytes.len(), x.buffer_len());
        let y = T::parse(&bytes).expect("emitted data parses");
        assert_eq!(y, x);
    }
}

fuzz_target!(|data: &[u8]| {
    roundtrip::<StandardInquiry>(data);
    roundtrip::<VpdPage>(data);
});
