use super::*;
use proptest::prelude::*;

/// SKSV (byte 0 bit 7).
const SKSV: u8 = 0x80;

fn arb_key() -> impl Strategy<Value = SenseKey> {
    (0u8..16).prop_map(|v| <SenseKey as crate::bits::Value>::from_bits(u64::from(v)))
}

#[test]
fn sense_key_specific_encodings() {
    // Field pointer: SKSV | C/D | BPV | bit 3, byte 2.
    let fp = SenseKeySpecific::FieldPointer(FieldPointer::cdb_bit(2, 3));
    assert_eq!(fp.to_bytes(), [0xCB, 0x00, 0x02]);
    // Parameter list byte 0x0123, no bit: SKSV only.
    let fp = SenseKeySpecific::FieldPointer(FieldPointer::param(0x0123));
    assert_eq!(fp.to_bytes(), [0x80, 0x01, 0x23]);
    assert_eq!(
        SenseKeySpecific::from_bytes(SenseKey::IllegalRequest, [0x80, 0x01, 0x23]),
        Some(fp)
    );
    // A data location is reported as C/D = 0; a bit beyond 7 without BPV.
    let odd = SenseKeySpecific::FieldPointer(FieldPointer::data(4, Some(9)));
    assert_eq!(odd.to_bytes(), [0x80, 0x00, 0x04]);
    assert_eq!(SenseKeySpecific::ActualRetryCount(0x0102).to_bytes(), [0x80, 0x01, 0x02]);
    assert_eq!(SenseKeySpecific::ProgressIndication(0x8000).to_bytes(), [0x80, 0x80, 0x00]);
    let seg = SenseKeySpecific::SegmentPointer {
        segment_descriptor: true,
        bit: Some(5),
        field_pointer: 0x10,
    };
    assert_eq!(seg.to_bytes(), [0xAD, 0x00, 0x10]);
    assert_eq!(SenseKeySpecific::from_bytes(SenseKey::CopyAborted, [0xAD, 0x00, 0x10]), Some(seg));
    assert_eq!(SenseKeySpecific::UnitAttentionOverflow(true).to_bytes(), [0x81, 0x00, 0x00]);
    assert_eq!(
        SenseKeySpecific::from_bytes(SenseKey::Miscompare, [0xFF, 0x12, 0x34]),
        Some(SenseKeySpecific::Other([0x7F, 0x12, 0x34]))
    );
    // SKSV = 0: nothing, whatever the other bits say.
    assert_eq!(SenseKeySpecific::from_bytes(SenseKey::IllegalRequest, [0x4B, 0x00, 0x02]), None);
}

proptest! {
    #[test]
    fn sks_roundtrip(key in arb_key(), bytes in any::<[u8; 3]>()) {
        if let Some(sks) = SenseKeySpecific::from_bytes(key, bytes) {
            let again = sks.to_bytes();
            prop_assert_eq!(SenseKeySpecific::from_bytes(key, again), Some(sks));
        } else {
            prop_assert_eq!(bytes[0] & SKSV, 0);
        }
    }
}
