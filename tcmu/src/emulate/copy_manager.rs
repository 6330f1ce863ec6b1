//! The copy manager's side of EXTENDED COPY (SPC-4 6.4): a parameter list decoded and checked
//! against its [`CopyLimits`] ([`CopyLimits::parse`]), then resolved against the one logical
//! unit it serves ([`plan`]). Every rejection is an [`XcopyRejection`] that knows its sense
//! data, with the field pointer at the offending byte of the parameter list. The bytes
//! (descriptors, header, RECEIVE COPY RESULTS data) are `scsi_proto::xcopy`'s.

use scsi_proto::bits::{Layout, Spec};
use scsi_proto::sense::{AdditionalSense, SenseData, SenseKey, SenseKeySpecific};
use scsi_proto::xcopy::{
    BLOCK_TO_BLOCK, BlockToBlockSegment, CSCD_DESCRIPTOR_LEN, CSCD_LIST_LENGTH, DESIGNATOR_LENGTH,
    ExtendedCopyList, IDENTIFICATION_CSCD, INLINE_DATA_LENGTH, IdentificationCscd, LU_ID_TYPE,
    OperatingParameters, ParameterListHeader, SEGMENT_LENGTH, SEGMENT_LIST_LENGTH,
};
use scsi_proto::{FieldPointer, Location};

/// A byte offset as a field pointer's byte; saturates (sense data cannot point past 65535).
fn ptr_byte(offset: usize) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
}

/// What the copy manager accepts: the limits RECEIVE COPY RESULTS OPERATING PARAMETERS
/// reports and [`CopyLimits::parse`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLimits {
    /// MAXIMUM CSCD DESCRIPTOR COUNT.
    pub max_cscd_descriptors: u16,
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT.
    pub max_segment_descriptors: u16,
    /// MAXIMUM DESCRIPTOR LIST LENGTH: CSCD plus segment descriptor list lengths, in bytes.
    pub max_descriptor_list_length: u32,
}

/// One contiguous copy within a single logical unit: what a segment descriptor resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyRange {
    /// First source block.
    pub source_lba: u64,
    /// First destination block.
    pub destination_lba: u64,
    /// Number of blocks.
    pub blocks: u64,
}

/// Why the copy manager refused a parameter list or aborted a copy; each becomes the sense data
/// SPC-4 prescribes (see [`XcopyRejection::to_sense`]). Byte offsets are from the start of the
/// parameter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XcopyRejection {
    /// The list is shorter than its header says, or its descriptor lists are longer than
    /// MAXIMUM DESCRIPTOR LIST LENGTH: ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR.
    ParameterListLength,
    /// More CSCD descriptors than MAXIMUM CSCD DESCRIPTOR COUNT: ILLEGAL REQUEST, TOO MANY
    /// TARGET DESCRIPTORS.
    TooManyCscds,
    /// More segment descriptors than MAXIMUM SEGMENT DESCRIPTOR COUNT: ILLEGAL REQUEST, TOO MANY
    /// SEGMENT DESCRIPTORS.
    TooManySegments,
    /// A CSCD descriptor type this copy manager does not implement, at `offset`: ILLEGAL
    /// REQUEST, UNSUPPORTED TARGET DESCRIPTOR TYPE CODE.
    UnsupportedCscdType {
        /// Offset of the descriptor.
        offset: u16,
    },
    /// A segment descriptor type this copy manager does not implement, at `offset`: ILLEGAL
    /// REQUEST, UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE.
    UnsupportedSegmentType {
        /// Offset of the descriptor.
        offset: u16,
    },
    /// A field holds a value the standard or this copy manager refuses: ILLEGAL REQUEST,
    /// INVALID FIELD IN PARAMETER LIST with the field pointer.
    InvalidField(FieldPointer),
    /// Segment `segment` names a copy target this copy manager cannot reach (an index past
    /// the CSCD list, a null device, another logical unit): COPY ABORTED, COPY TARGET DEVICE
    /// NOT REACHABLE; `byte` is the offending field's offset within the segment descriptor.
    Unreachable {
        /// Index of the segment descriptor.
        segment: u16,
        /// Offset of the field within the segment descriptor.
        byte: u16,
    },
    /// Segment `segment` names a copy target that is not a block device of this block length:
    /// COPY ABORTED, INCORRECT COPY TARGET DEVICE TYPE.
    IncorrectDeviceType {
        /// Index of the segment descriptor.
        segment: u16,
        /// Offset of the field within the segment descriptor.
        byte: u16,
    },
    /// Segment `segment` reaches past the end of the medium: COPY ABORTED with no additional
    /// sense code (what libiscsi and LIO agree on), the segment pointer at the LBA field.
    OutOfRange {
        /// Index of the segment descriptor.
        segment: u16,
        /// Offset of the LBA field within the segment descriptor.
        byte: u16,
    },
}

impl XcopyRejection {
    /// The sense data a copy manager returns for this rejection (current, fixed format).
    pub fn to_sense(&self) -> SenseData {
        let ill = SenseData::illegal_request;
        let aborted = |asc: AdditionalSense, segment: u16, byte: u16| {
            SenseData::new(SenseKey::CopyAborted, asc)
                .with_command_specific(u64::from(segment))
                .with_sense_key_specific(SenseKeySpecific::SegmentPointer {
                    segment_descriptor: true,
                    bit: None,
                    field_pointer: byte,
                })
        };
        match *self {
            XcopyRejection::ParameterListLength => {
                ill(AdditionalSense::PARAMETER_LIST_LENGTH_ERROR)
            }
            XcopyRejection::TooManyCscds => ill(AdditionalSense::TOO_MANY_TARGET_DESCRIPTORS)
                .with_field_pointer(FieldPointer::param(2)),
            XcopyRejection::TooManySegments => ill(AdditionalSense::TOO_MANY_SEGMENT_DESCRIPTORS)
                .with_field_pointer(FieldPointer::param(8)),
            XcopyRejection::UnsupportedCscdType { offset } => {
                ill(AdditionalSense::UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE)
                    .with_field_pointer(FieldPointer::param(offset))
            }
            XcopyRejection::UnsupportedSegmentType { offset } => {
                ill(AdditionalSense::UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE)
                    .with_field_pointer(FieldPointer::param(offset))
            }
            XcopyRejection::InvalidField(p) => SenseData::invalid_field_in_parameter_list(p),
            XcopyRejection::Unreachable { segment, byte } => {
                aborted(AdditionalSense::COPY_TARGET_DEVICE_NOT_REACHABLE, segment, byte)
            }
            XcopyRejection::IncorrectDeviceType { segment, byte } => {
                aborted(AdditionalSense::INCORRECT_COPY_TARGET_DEVICE_TYPE, segment, byte)
            }
            XcopyRejection::OutOfRange { segment, byte } => {
                aborted(AdditionalSense::NO_ADDITIONAL_SENSE, segment, byte)
            }
        }
    }
}

/// INVALID FIELD IN PARAMETER LIST at `field`, `offset` bytes into the list.
fn invalid(field: &Spec, offset: usize) -> XcopyRejection {
    XcopyRejection::InvalidField(field.pointer(Location::ParameterList, ptr_byte(offset)))
}

/// The length of the CSCD descriptor of type `code` (SPC-4 6.4.5.1): 64 bytes for the IPv6
/// (EAh) and IP copy service (EBh) descriptors, 32 for the others.
fn cscd_len(code: u8) -> usize {
    match code {
        0xEA | 0xEB => 64,
        _ => CSCD_DESCRIPTOR_LEN,
    }
}

impl CopyLimits {
    /// What a copy manager enforcing these limits reports: one copy at a time, no inline or
    /// held data, segments of up to 65535 blocks of `block_size`, and descriptors 02h and E4h.
    pub fn operating_parameters(&self, block_size: u32) -> OperatingParameters {
        OperatingParameters {
            snlid: true,
            max_cscd_descriptors: self.max_cscd_descriptors,
            max_segment_descriptors: self.max_segment_descriptors,
            max_descriptor_list_length: self.max_descriptor_list_length,
            max_segment_length: block_size.saturating_mul(u32::from(u16::MAX)),
            total_concurrent_copies: 1,
            max_concurrent_copies: 1,
            implemented_descriptors: vec![BLOCK_TO_BLOCK, IDENTIFICATION_CSCD],
            ..OperatingParameters::default()
        }
    }

    /// Decodes and checks a parameter list (the bytes the initiator sent, at most PARAMETER
    /// LIST LENGTH of them; an empty list is no copy and is the caller's to accept). The
    /// checks, in order:
    ///
    /// 1. a header, and descriptor lists no longer than MAXIMUM DESCRIPTOR LIST LENGTH and
    ///    than what was sent (PARAMETER LIST LENGTH ERROR); no inline data (INVALID FIELD);
    /// 2. descriptor lists made of whole descriptors (INVALID FIELD at the list length);
    /// 3. descriptor counts within the limits (TOO MANY TARGET / SEGMENT DESCRIPTORS);
    /// 4. only identification CSCD descriptors and block to block segment descriptors
    ///    (UNSUPPORTED TARGET / SEGMENT DESCRIPTOR TYPE CODE), with valid fields.
    pub fn parse(&self, buf: &[u8]) -> Result<ExtendedCopyList, XcopyRejection> {
        type H = ParameterListHeader;
        if buf.len() < H::LEN {
            return Err(XcopyRejection::ParameterListLength);
        }
        let header = H::read(buf);
        let tdll = usize::from(header.cscd_list_length);
        let sdll = header.segment_list_length as usize;
        let lists = u64::from(header.cscd_list_length) + u64::from(header.segment_list_length);
        if lists > u64::from(self.max_descriptor_list_length) {
            return Err(XcopyRejection::ParameterListLength);
        }
        if header.inline_data_length != 0 {
            return Err(invalid(&INLINE_DATA_LENGTH, 0));
        }
        if (H::LEN as u64).saturating_add(lists) > buf.len() as u64 {
            return Err(XcopyRejection::ParameterListLength);
        }
        // Both lists lie within `buf`, as just checked.
        let cscd_bytes = &buf[H::LEN..H::LEN + tdll];
        let seg_base = H::LEN + tdll;
        let seg_bytes = &buf[seg_base..seg_base + sdll];

        let mut cscd_starts = Vec::new();
        let mut at = 0usize;
        while at < tdll {
            cscd_starts.push(at);
            at = at.saturating_add(cscd_len(cscd_bytes[at]));
        }
        if at != tdll {
            return Err(invalid(&CSCD_LIST_LENGTH, 0));
        }
        if cscd_starts.len() > usize::from(self.max_cscd_descriptors) {
            return Err(XcopyRejection::TooManyCscds);
        }
        let mut seg_starts = Vec::new();
        let mut at = 0usize;
        while at < sdll {
            if at + 4 > sdll {
                return Err(invalid(&SEGMENT_LIST_LENGTH, 0));
            }
            let len = 4 + SEGMENT_LENGTH.get(&seg_bytes[at..]) as usize;
            if at + len > sdll {
                return Err(invalid(&SEGMENT_LENGTH, seg_base + at));
            }
            seg_starts.push(at);
            at += len;
        }
        if seg_starts.len() > usize::from(self.max_segment_descriptors) {
            return Err(XcopyRejection::TooManySegments);
        }

        let mut cscds = Vec::with_capacity(cscd_starts.len());
        for &s in &cscd_starts {
            let base = H::LEN + s;
            if cscd_bytes[s] != IDENTIFICATION_CSCD {
                let offset = ptr_byte(base);
                return Err(XcopyRejection::UnsupportedCscdType { offset });
            }
            let d = cscd_bytes.get(s..s + CSCD_DESCRIPTOR_LEN).unwrap_or_default();
            // Only LU ID TYPE 00b (logical unit number): proxy tokens and reserved values not.
            if LU_ID_TYPE.get(d) != 0 {
                return Err(invalid(&LU_ID_TYPE, base));
            }
            if DESIGNATOR_LENGTH.get(d) > 20 {
                return Err(invalid(&DESIGNATOR_LENGTH, base));
            }
            cscds.push(IdentificationCscd::decode(d));
        }
        let mut segments = Vec::with_capacity(seg_starts.len());
        for &s in &seg_starts {
            let base = seg_base + s;
            if seg_bytes[s] != BLOCK_TO_BLOCK {
                let offset = ptr_byte(base);
                return Err(XcopyRejection::UnsupportedSegmentType { offset });
            }
            let d = &seg_bytes[s..];
            if SEGMENT_LENGTH.get(d) as usize != BlockToBlockSegment::LEN - 4 {
                return Err(invalid(&SEGMENT_LENGTH, base));
            }
            segments.push(BlockToBlockSegment::read(d));
        }
        Ok(ExtendedCopyList { header, cscds, segments })
    }
}

/// Resolves every segment of `list` against the one logical unit this copy manager serves: its NAA
/// designator `naa` (the DESIGNATOR bytes of VPD 83h), `block_size` and `capacity` in
/// blocks. Segments of zero blocks resolve to nothing.
pub fn plan(
    list: &ExtendedCopyList,
    naa: &[u8],
    block_size: u32,
    capacity: u64,
) -> Result<Vec<CopyRange>, XcopyRejection> {
    let mut out = Vec::with_capacity(list.segments.len());
    for (i, s) in list.segments.iter().enumerate() {
        let segment = ptr_byte(i);
        for (id, byte) in [(s.source, 4), (s.destination, 6)] {
            let Some(c) = list.cscds.get(usize::from(id)) else {
                return Err(XcopyRejection::Unreachable { segment, byte });
            };
            if c.nul || !c.identifies_naa(naa) {
                return Err(XcopyRejection::Unreachable { segment, byte });
            }
            if c.peripheral_device_type != 0 || c.disk_block_length != block_size {
                return Err(XcopyRejection::IncorrectDeviceType { segment, byte });
            }
        }
        let blocks = u64::from(s.number_of_blocks);
        for (lba, byte) in [(s.source_lba, 12), (s.destination_lba, 20)] {
            if lba.checked_add(blocks).is_none_or(|end| end > capacity) {
                return Err(XcopyRejection::OutOfRange { segment, byte });
            }
        }
        if blocks > 0 {
            out.push(CopyRange {
                source_lba: s.source_lba,
                destination_lba: s.destination_lba,
                blocks,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
