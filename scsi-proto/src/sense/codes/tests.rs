use super::*;

#[test]
fn sense_keys() {
    for (v, key) in SenseKey::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(key as u8), v);
    }
    assert_eq!(SenseKey::ALL[0x0C], SenseKey::Obsolete);
    assert_eq!(SenseKey::ALL[0x05], SenseKey::IllegalRequest);
    assert_eq!(SenseKey::IllegalRequest.to_string(), "ILLEGAL REQUEST");
}

#[test]
fn additional_sense_table() {
    let mut seen = std::collections::HashSet::new();
    for &(code, desc) in AdditionalSense::KNOWN {
        assert!(seen.insert(code), "duplicate {code:?}");
        assert_eq!(code.description(), Some(desc));
    }
    assert_eq!(AdditionalSense::INVALID_FIELD_IN_CDB, AdditionalSense::new(0x24, 0));
    assert_eq!(
        AdditionalSense::COPY_SEGMENT_GRANULARITY_VIOLATION,
        AdditionalSense::new(0x26, 0x0D)
    );
    assert_eq!(AdditionalSense::REPORTED_LUNS_DATA_HAS_CHANGED, AdditionalSense::new(0x3F, 0x0E));
    assert_eq!(AdditionalSense::new(0x7E, 0x7E).description(), None);
    assert_eq!(
        AdditionalSense::LBA_OUT_OF_RANGE.to_string(),
        "LOGICAL BLOCK ADDRESS OUT OF RANGE (21h/00h)"
    );
}
