use super::*;
use proptest::prelude::*;
use scsi_proto::Wire;

const NAA: [u8; 16] = [0x60, 0x01, 0x40, 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

const LIMITS: CopyLimits = CopyLimits {
    max_cscd_descriptors: 2,
    max_segment_descriptors: 1,
    max_descriptor_list_length: 1024,
};

fn list(blocks: u16, src: u64, dst: u64) -> ExtendedCopyList {
    ExtendedCopyList {
        header: ParameterListHeader { list_identifier: 1, ..ParameterListHeader::default() },
        cscds: vec![IdentificationCscd::block_device(3, &NAA, 512)],
        segments: vec![BlockToBlockSegment {
            number_of_blocks: blocks,
            source_lba: src,
            destination_lba: dst,
            ..BlockToBlockSegment::default()
        }],
    }
}

fn sense(r: Result<ExtendedCopyList, XcopyRejection>) -> (u8, u8, u8) {
    let s = r.unwrap_err().to_sense();
    (s.key as u8, s.additional.asc, s.additional.ascq)
}

#[test]
fn operating_parameters_report_the_limits() {
    let v = LIMITS.operating_parameters(512).to_vec();
    assert_eq!(v.len(), 46);
    assert_eq!(&v[0..4], &[0, 0, 0, 42]);
    assert_eq!(&v[8..12], &[0, 2, 0, 1]);
    assert_eq!(&v[43..], &[2, 0x02, 0xE4]);
}

#[test]
fn good_list_round_trips_and_plans() {
    let l = list(8, 0, 100);
    let bytes = l.to_vec();
    assert_eq!(bytes.len(), 16 + 32 + 28);
    let p = LIMITS.parse(&bytes).unwrap();
    assert_eq!((p.header.cscd_list_length, p.header.segment_list_length), (32, 28));
    assert_eq!((&p.cscds, &p.segments), (&l.cscds, &l.segments));
    assert_eq!(p.to_vec(), bytes);
    assert_eq!(
        plan(&p, &NAA, 512, 1000).unwrap(),
        vec![CopyRange { source_lba: 0, destination_lba: 100, blocks: 8 }]
    );
    // Zero blocks: nothing to do.
    assert!(plan(&list(0, 0, 0), &NAA, 512, 1000).unwrap().is_empty());
    // Extra bytes past the lists are ignored.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 8]);
    assert_eq!(LIMITS.parse(&longer).unwrap(), p);
}

#[test]
fn length_errors() {
    let bytes = list(8, 0, 100).to_vec();
    for cut in [0, 15, 16 + 31, bytes.len() - 1] {
        assert_eq!(
            LIMITS.parse(&bytes[..cut]),
            Err(XcopyRejection::ParameterListLength),
            "cut at {cut}"
        );
    }
    let small = CopyLimits { max_descriptor_list_length: 59, ..LIMITS };
    assert_eq!(sense(small.parse(&bytes)), (5, 0x1a, 0));
    let mut inline = bytes.clone();
    inline[15] = 4;
    inline.extend_from_slice(&[0; 4]);
    let s = LIMITS.parse(&inline).unwrap_err();
    assert_eq!(s, XcopyRejection::InvalidField(FieldPointer::param(12)));
}

#[test]
fn too_many_descriptors() {
    let mut l = list(8, 0, 100);
    l.cscds = vec![l.cscds[0].clone(); 3];
    assert_eq!(sense(LIMITS.parse(&l.to_vec())), (5, 0x26, 0x06));
    let mut l = list(8, 0, 100);
    l.segments = vec![l.segments[0]; 2];
    assert_eq!(sense(LIMITS.parse(&l.to_vec())), (5, 0x26, 0x08));
}

#[test]
fn unsupported_types_and_fields() {
    let mut b = list(8, 0, 100).to_vec();
    b[16] = 0xE0;
    let e = LIMITS.parse(&b);
    assert_eq!(e, Err(XcopyRejection::UnsupportedCscdType { offset: 16 }));
    assert_eq!(sense(e), (5, 0x26, 0x07));

    // A 20-byte stream to stream segment descriptor (03h).
    let mut b = list(8, 0, 100).to_vec();
    b.truncate(48);
    b.extend_from_slice(&[0x03, 0, 0, 16, 0, 0, 0, 0]);
    b.extend_from_slice(&[0; 12]);
    b[11] = 20;
    let e = LIMITS.parse(&b);
    assert_eq!(e, Err(XcopyRejection::UnsupportedSegmentType { offset: 48 }));
    assert_eq!(sense(e), (5, 0x26, 0x09));

    // LU ID TYPE reserved: invalid field, pointing at byte 1 bit 7 of the descriptor.
    let mut b = list(8, 0, 100).to_vec();
    b[17] |= 0xC0;
    let s = LIMITS.parse(&b).unwrap_err().to_sense();
    assert_eq!((s.additional.asc, s.additional.ascq), (0x26, 0));
    assert_eq!(
        s.sense_key_specific,
        Some(SenseKeySpecific::FieldPointer(FieldPointer::param_bit(17, 7)))
    );
    // A block to block descriptor of the wrong length.
    let mut b = list(8, 0, 100).to_vec();
    b[16 + 32 + 3] = 0x14;
    b.truncate(b.len() - 4);
    b[11] = 24;
    assert_eq!(LIMITS.parse(&b), Err(XcopyRejection::InvalidField(FieldPointer::param(50))));
}

#[test]
fn plan_rejections() {
    let aborted = |l: &ExtendedCopyList| {
        let s = plan(l, &NAA, 512, 1000).unwrap_err().to_sense();
        (s.key as u8, s.additional.asc, s.additional.ascq)
    };
    let mut l = list(8, 0, 100);
    l.segments[0].destination = 1;
    assert_eq!(aborted(&l), (0x0a, 0x0d, 0x02));
    let mut l = list(8, 0, 100);
    l.cscds[0].nul = true;
    assert_eq!(aborted(&l), (0x0a, 0x0d, 0x02));
    let mut l = list(8, 0, 100);
    l.cscds[0].designator[15] ^= 1;
    assert_eq!(aborted(&l), (0x0a, 0x0d, 0x02));
    let mut l = list(8, 0, 100);
    l.cscds[0].disk_block_length = 4096;
    assert_eq!(aborted(&l), (0x0a, 0x0d, 0x03));
    assert_eq!(aborted(&list(8, 0, 993)), (0x0a, 0, 0));
    assert_eq!(aborted(&list(8, 995, 0)), (0x0a, 0, 0));
    assert_eq!(aborted(&list(8, 0, u64::MAX - 2)), (0x0a, 0, 0));
    assert!(plan(&list(8, 992, 0), &NAA, 512, 1000).is_ok());
}

proptest! {
    #[test]
    fn arbitrary_lists_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cscds in 0u16..4, segs in 0u16..4, max_len in 0u32..400,
        capacity in any::<u64>(),
    ) {
        let limits = CopyLimits {
            max_cscd_descriptors: cscds,
            max_segment_descriptors: segs,
            max_descriptor_list_length: max_len,
        };
        if let Ok(l) = limits.parse(&bytes) {
            let _ = plan(&l, &NAA, 512, capacity);
            let _ = limits.parse(&l.to_vec());
        } else if let Err(e) = limits.parse(&bytes) {
            let _ = e.to_sense().to_vec();
        }
    }

    #[test]
    fn valid_headers_with_random_descriptors(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        tdll in 0u16..128, sdll in 0u32..128,
    ) {
        let h = ParameterListHeader {
            cscd_list_length: tdll,
            segment_list_length: sdll,
            ..ParameterListHeader::default()
        };
        let mut bytes = vec![0; ParameterListHeader::LEN];
        h.emit_fixed(&mut bytes).unwrap();
        bytes.extend_from_slice(&body);
        let _ = LIMITS.parse(&bytes).map_err(|e| e.to_sense());
    }
}
