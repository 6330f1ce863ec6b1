//! Parameter lists and parameter data: UNMAP lists come from initiators on the target's hot
//! path; the rest is data an initiator parses. Every parser returns a value or an error, what
//! parses re-emits to the same value, and the non-allocating UNMAP iterator agrees with the
//! allocating parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scsi_proto::Wire;
use scsi_proto::params::{
    AllCommands, LbaStatus, OneCommand, ReadCapacity10Data, ReadCapacity16Data, ReadKeys,
    ReadReservation, ReportLuns, ReportedTmf, UnmapDescriptors, UnmapParameterList,
};
use tcmu::emulate::copy_manager::CopyLimits;
use tcmu::emulate::unmap_limits::UnmapLimits;

fn roundtrip<T: Wire + PartialEq + core::fmt::Debug>(data: &[u8]) {
    if let Ok(x) = T::parse(data) {
        let bytes = x.to_vec();
        assert_eq!(bytes.len(), x.buffer_len());
        assert_eq!(T::parse(&bytes).expect("emitted data parses"), x);
    }
}

fuzz_target!(|data: &[u8]| {
    // EXTENDED COPY parameter lists come from initiators too: a list or a rejection, and what
    // parses plans against a small disk without panicking.
    if let [a, b, rest @ ..] = data {
        let limits = CopyLimits {
            max_cscd_descriptors: u16::from(*a & 0x07),
            max_segment_descriptors: u16::from(*b & 0x07),
            max_descriptor_list_length: 1024,
        };
        let _ = limits.parse(rest);
    }
    // The first two bytes choose the CDB's PARAMETER LIST LENGTH and the device's limits.
    if let [a, b, rest @ ..] = data {
        let pll = usize::from(u16::from_be_bytes([*a, *b]));
        let owned = UnmapParameterList::parse_with_length(rest, pll);
        let borrowed = UnmapDescriptors::new(rest, pll);
        match (&owned, borrowed) {
            (Ok(list), Ok(iter)) => {
                let limits = UnmapLimits {
                    max_unmap_lba_count: u32::from(*a) << 8,
                    max_unmap_block_descriptor_count: u32::from(*b & 0x0f),
                    capacity_blocks: 1 << 30,
                };
                assert_eq!(
                    limits.check(list.descriptors.iter().copied()),
                    limits.check(iter.clone())
                );
                assert!(iter.eq(list.descriptors.iter().copied()));
            }
            (Err(e1), Err(e2)) => assert_eq!(*e1, e2),
            (o, b) => panic!("UNMAP parsers disagree: {o:?} vs {:?}", b.map(|_| ())),
        }
    }
    roundtrip::<UnmapParameterList>(data);
    roundtrip::<ReadCapacity10Data>(data);
    roundtrip::<ReadCapacity16Data>(data);
    roundtrip::<AllCommands>(data);
    roundtrip::<OneCommand>(data);
    roundtrip::<ReportedTmf>(data);
    roundtrip::<LbaStatus>(data);
    roundtrip::<ReportLuns>(data);
    roundtrip::<ReadKeys>(data);
    roundtrip::<ReadReservation>(data);
});
