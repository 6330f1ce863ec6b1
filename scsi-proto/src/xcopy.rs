//! EXTENDED COPY (LID1) parameter lists and RECEIVE COPY RESULTS data (SPC-4 6.4, 6.18).
//!
//! [`ExtendedCopyList::parse`] checks a parameter list against the copy manager's
//! [`CopyLimits`] and decodes the descriptors this crate knows: the identification CSCD
//! descriptor (E4h) and the block device to block device segment descriptor (02h). Every
//! rejection is an [`XcopyRejection`] that knows its sense data, with the field pointer at the
//! offending byte of the parameter list. [`ExtendedCopyList::plan`] then resolves the segments
//! against the one logical unit the copy manager serves, and [`OperatingParameters`] /
//! [`CopyStatus`] are the RECEIVE COPY RESULTS answers. Nothing here panics, whatever the bytes.

use crate::FieldPointer;
use crate::sense::{AdditionalSense, SenseData, SenseKey, SenseKeySpecific};

/// Length of the parameter list header.
pub const HEADER_LEN: usize = 16;
/// Length of a CSCD descriptor (all but the 64-byte IPv6 and IP copy service ones).
pub const CSCD_DESCRIPTOR_LEN: usize = 32;
/// Length of a block device to block device segment descriptor.
pub const BLOCK_TO_BLOCK_LEN: usize = 28;
/// DESCRIPTOR TYPE CODE of the identification CSCD descriptor.
pub const IDENTIFICATION_CSCD: u8 = 0xE4;
/// DESCRIPTOR TYPE CODE of the block device to block device segment descriptor.
pub const BLOCK_TO_BLOCK: u8 = 0x02;

/// What the copy manager accepts: the limits RECEIVE COPY RESULTS OPERATING PARAMETERS
/// reports and [`ExtendedCopyList::parse`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLimits {
    /// MAXIMUM CSCD DESCRIPTOR COUNT.
    pub max_cscd_descriptors: u16,
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT.
    pub max_segment_descriptors: u16,
    /// MAXIMUM DESCRIPTOR LIST LENGTH: CSCD plus segment descriptor list lengths, in bytes.
    pub max_descriptor_list_length: u32,
}

/// The 16-byte parameter list header (SPC-4 6.4.3.1, LID1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParameterListHeader {
    /// LIST IDENTIFIER.
    pub list_identifier: u8,
    /// STR: sequential striped.
    pub str_bit: bool,
    /// NRCR: no RECEIVE COPY RESULTS, the results need not be held (LIST ID USAGE 1xb in
    /// SPC-3).
    pub nrcr: bool,
    /// PRIORITY.
    pub priority: u8,
    /// CSCD DESCRIPTOR LIST LENGTH.
    pub cscd_list_length: u16,
    /// SEGMENT DESCRIPTOR LIST LENGTH.
    pub segment_list_length: u32,
    /// INLINE DATA LENGTH.
    pub inline_data_length: u32,
}

/// An identification CSCD descriptor (E4h, SPC-4 6.4.5.6): a logical unit named by one of its
/// designators from the Device Identification VPD page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentificationCscd {
    /// LU ID TYPE (byte 1 bits 7:6); only 00b (LUN) is accepted.
    pub lu_id_type: u8,
    /// NUL: the descriptor names a null device.
    pub nul: bool,
    /// PERIPHERAL DEVICE TYPE.
    pub peripheral_device_type: u8,
    /// RELATIVE INITIATOR PORT IDENTIFIER.
    pub relative_initiator_port: u16,
    /// CODE SET of the designator.
    pub code_set: u8,
    /// ASSOCIATION of the designator.
    pub association: u8,
    /// DESIGNATOR TYPE.
    pub designator_type: u8,
    /// DESIGNATOR (at most 20 bytes).
    pub designator: Vec<u8>,
    /// PAD (block device type specific parameters).
    pub pad: bool,
    /// DISK BLOCK LENGTH (block device type specific parameters).
    pub disk_block_length: u32,
}

impl IdentificationCscd {
    /// Whether the descriptor names the logical unit whose binary, logical-unit-associated NAA
    /// designator (type 3) is `naa`.
    pub fn identifies_naa(&self, naa: &[u8]) -> bool {
        self.code_set == 1
            && self.association == 0
            && self.designator_type == 3
            && self.designator == naa
    }
}

/// A block device to block device segment descriptor (02h, SPC-4 6.4.6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockToBlockSegment {
    /// DC: NUMBER OF BLOCKS counts destination blocks.
    pub dc: bool,
    /// CAT.
    pub cat: bool,
    /// SOURCE CSCD DESCRIPTOR ID.
    pub source: u16,
    /// DESTINATION CSCD DESCRIPTOR ID.
    pub destination: u16,
    /// BLOCK DEVICE NUMBER OF BLOCKS.
    pub number_of_blocks: u16,
    /// SOURCE BLOCK DEVICE LOGICAL BLOCK ADDRESS.
    pub source_lba: u64,
    /// DESTINATION BLOCK DEVICE LOGICAL BLOCK ADDRESS.
    pub destination_lba: u64,
}

/// A decoded EXTENDED COPY (LID1) parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedCopyList {
    /// The header.
    pub header: ParameterListHeader,
    /// The CSCD descriptors, in order (their index is their CSCD descriptor ID).
    pub cscds: Vec<IdentificationCscd>,
    /// The segment descriptors, in order.
    pub segments: Vec<BlockToBlockSegment>,
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
            XcopyRejection::Unreachable { segment, byte } => aborted(
                AdditionalSense::COPY_TARGET_DEVICE_NOT_REACHABLE,
                segment,
                byte,
            ),
            XcopyRejection::IncorrectDeviceType { segment, byte } => aborted(
                AdditionalSense::INCORRECT_COPY_TARGET_DEVICE_TYPE,
                segment,
                byte,
            ),
            XcopyRejection::OutOfRange { segment, byte } => {
                aborted(AdditionalSense::NO_ADDITIONAL_SENSE, segment, byte)
            }
        }
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at.saturating_add(4)) {
        Some(&[a, b2, c, d]) => u32::from_be_bytes([a, b2, c, d]),
        _ => 0,
    }
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at.saturating_add(4)))
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// A parameter list offset as a field pointer byte (saturating; lists are far shorter).
fn off16(at: usize) -> u16 {
    u16::try_from(at).unwrap_or(u16::MAX)
}

/// The length of the CSCD descriptor of type `code` (SPC-4 6.4.5.1): 64 bytes for the IPv6
/// (EAh) and IP copy service (EBh) descriptors, 32 for the others.
fn cscd_len(code: u8) -> usize {
    match code {
        0xEA | 0xEB => 64,
        _ => CSCD_DESCRIPTOR_LEN,
    }
}

impl ParameterListHeader {
    /// Decodes the header at the start of `buf`; `None` if `buf` is shorter than 16 bytes.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        if buf.len() < HEADER_LEN {
            return None;
        }
        let b1 = byte(buf, 1);
        Some(ParameterListHeader {
            list_identifier: byte(buf, 0),
            str_bit: b1 & 0x20 != 0,
            nrcr: b1 & 0x10 != 0,
            priority: b1 & 0x07,
            cscd_list_length: be16(buf, 2),
            segment_list_length: be32(buf, 8),
            inline_data_length: be32(buf, 12),
        })
    }

    /// The 16 bytes of the header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.list_identifier;
        b[1] = (u8::from(self.str_bit) << 5) | (u8::from(self.nrcr) << 4) | (self.priority & 7);
        b[2..4].copy_from_slice(&self.cscd_list_length.to_be_bytes());
        b[8..12].copy_from_slice(&self.segment_list_length.to_be_bytes());
        b[12..16].copy_from_slice(&self.inline_data_length.to_be_bytes());
        b
    }
}

impl IdentificationCscd {
    /// The identification CSCD descriptor naming a block device by `designator` (binary,
    /// associated with the logical unit, of `designator_type`), with `disk_block_length`.
    pub fn block_device(designator_type: u8, designator: &[u8], disk_block_length: u32) -> Self {
        IdentificationCscd {
            lu_id_type: 0,
            nul: false,
            peripheral_device_type: 0,
            relative_initiator_port: 0,
            code_set: 1,
            association: 0,
            designator_type,
            designator: designator.iter().copied().take(20).collect(),
            pad: false,
            disk_block_length,
        }
    }

    fn decode(d: &[u8], base: usize) -> Result<Self, XcopyRejection> {
        let b1 = byte(d, 1);
        if b1 >> 6 != 0 {
            // Only LU ID TYPE 00b (logical unit number): proxy tokens and reserved values not.
            return Err(XcopyRejection::InvalidField(FieldPointer::param_bit(
                off16(base + 1),
                7,
            )));
        }
        let len = usize::from(byte(d, 7));
        if len > 20 {
            return Err(XcopyRejection::InvalidField(FieldPointer::param(off16(
                base + 7,
            ))));
        }
        Ok(IdentificationCscd {
            lu_id_type: b1 >> 6,
            nul: b1 & 0x20 != 0,
            peripheral_device_type: b1 & 0x1f,
            relative_initiator_port: be16(d, 2),
            code_set: byte(d, 4) & 0x0f,
            association: (byte(d, 5) >> 4) & 0x03,
            designator_type: byte(d, 5) & 0x0f,
            designator: d.get(8..8 + len).map(<[u8]>::to_vec).unwrap_or_default(),
            pad: byte(d, 28) & 0x04 != 0,
            disk_block_length: be32(d, 28) & 0x00ff_ffff,
        })
    }

    /// The 32 bytes of the descriptor.
    pub fn to_bytes(&self) -> [u8; CSCD_DESCRIPTOR_LEN] {
        let mut b = [0u8; CSCD_DESCRIPTOR_LEN];
        b[0] = IDENTIFICATION_CSCD;
        b[1] = ((self.lu_id_type & 3) << 6)
            | (u8::from(self.nul) << 5)
            | (self.peripheral_device_type & 0x1f);
        b[2..4].copy_from_slice(&self.relative_initiator_port.to_be_bytes());
        b[4] = self.code_set & 0x0f;
        b[5] = ((self.association & 3) << 4) | (self.designator_type & 0x0f);
        let n = self.designator.len().min(20);
        b[7] = n as u8;
        b[8..8 + n].copy_from_slice(&self.designator[..n]);
        b[28..32].copy_from_slice(&(self.disk_block_length & 0x00ff_ffff).to_be_bytes());
        b[28] = u8::from(self.pad) << 2;
        b
    }
}

impl BlockToBlockSegment {
    fn decode(d: &[u8]) -> Self {
        BlockToBlockSegment {
            dc: byte(d, 1) & 0x02 != 0,
            cat: byte(d, 1) & 0x01 != 0,
            source: be16(d, 4),
            destination: be16(d, 6),
            number_of_blocks: be16(d, 10),
            source_lba: be64(d, 12),
            destination_lba: be64(d, 20),
        }
    }

    /// The 28 bytes of the descriptor.
    pub fn to_bytes(&self) -> [u8; BLOCK_TO_BLOCK_LEN] {
        let mut b = [0u8; BLOCK_TO_BLOCK_LEN];
        b[0] = BLOCK_TO_BLOCK;
        b[1] = (u8::from(self.dc) << 1) | u8::from(self.cat);
        b[2..4].copy_from_slice(&((BLOCK_TO_BLOCK_LEN - 4) as u16).to_be_bytes());
        b[4..6].copy_from_slice(&self.source.to_be_bytes());
        b[6..8].copy_from_slice(&self.destination.to_be_bytes());
        b[10..12].copy_from_slice(&self.number_of_blocks.to_be_bytes());
        b[12..20].copy_from_slice(&self.source_lba.to_be_bytes());
        b[20..28].copy_from_slice(&self.destination_lba.to_be_bytes());
        b
    }
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

impl ExtendedCopyList {
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
    pub fn parse(buf: &[u8], limits: &CopyLimits) -> Result<Self, XcopyRejection> {
        let header = ParameterListHeader::parse(buf).ok_or(XcopyRejection::ParameterListLength)?;
        let tdll = usize::from(header.cscd_list_length);
        let sdll = header.segment_list_length as usize;
        let lists = u64::from(header.cscd_list_length) + u64::from(header.segment_list_length);
        if lists > u64::from(limits.max_descriptor_list_length) {
            return Err(XcopyRejection::ParameterListLength);
        }
        if header.inline_data_length != 0 {
            return Err(XcopyRejection::InvalidField(FieldPointer::param(12)));
        }
        if (HEADER_LEN as u64).saturating_add(lists) > buf.len() as u64 {
            return Err(XcopyRejection::ParameterListLength);
        }
        let cscd_bytes = buf.get(HEADER_LEN..HEADER_LEN + tdll).unwrap_or_default();
        let seg_base = HEADER_LEN + tdll;
        let seg_bytes = buf.get(seg_base..seg_base + sdll).unwrap_or_default();

        let mut cscd_starts = Vec::new();
        let mut at = 0usize;
        while at < tdll {
            cscd_starts.push(at);
            at = at.saturating_add(cscd_len(byte(cscd_bytes, at)));
        }
        if at != tdll {
            return Err(XcopyRejection::InvalidField(FieldPointer::param(2)));
        }
        if cscd_starts.len() > usize::from(limits.max_cscd_descriptors) {
            return Err(XcopyRejection::TooManyCscds);
        }
        let mut seg_starts = Vec::new();
        let mut at = 0usize;
        while at < sdll {
            if at + 4 > sdll {
                return Err(XcopyRejection::InvalidField(FieldPointer::param(8)));
            }
            let len = 4 + usize::from(be16(seg_bytes, at + 2));
            if at + len > sdll {
                return Err(XcopyRejection::InvalidField(FieldPointer::param(off16(
                    seg_base + at + 2,
                ))));
            }
            seg_starts.push(at);
            at += len;
        }
        if seg_starts.len() > usize::from(limits.max_segment_descriptors) {
            return Err(XcopyRejection::TooManySegments);
        }

        let mut cscds = Vec::with_capacity(cscd_starts.len());
        for &s in &cscd_starts {
            let base = HEADER_LEN + s;
            if byte(cscd_bytes, s) != IDENTIFICATION_CSCD {
                return Err(XcopyRejection::UnsupportedCscdType {
                    offset: off16(base),
                });
            }
            let d = cscd_bytes
                .get(s..s + CSCD_DESCRIPTOR_LEN)
                .unwrap_or_default();
            cscds.push(IdentificationCscd::decode(d, base)?);
        }
        let mut segments = Vec::with_capacity(seg_starts.len());
        for &s in &seg_starts {
            let base = seg_base + s;
            if byte(seg_bytes, s) != BLOCK_TO_BLOCK {
                return Err(XcopyRejection::UnsupportedSegmentType {
                    offset: off16(base),
                });
            }
            if usize::from(be16(seg_bytes, s + 2)) != BLOCK_TO_BLOCK_LEN - 4 {
                return Err(XcopyRejection::InvalidField(FieldPointer::param(off16(
                    base + 2,
                ))));
            }
            let d = seg_bytes.get(s..s + BLOCK_TO_BLOCK_LEN).unwrap_or_default();
            segments.push(BlockToBlockSegment::decode(d));
        }
        Ok(ExtendedCopyList {
            header,
            cscds,
            segments,
        })
    }

    /// The parameter list bytes: header (with its lengths recomputed), CSCD descriptors and
    /// segment descriptors.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut header = self.header;
        header.cscd_list_length = (self.cscds.len() * CSCD_DESCRIPTOR_LEN) as u16;
        header.segment_list_length = (self.segments.len() * BLOCK_TO_BLOCK_LEN) as u32;
        header.inline_data_length = 0;
        let mut v = header.to_bytes().to_vec();
        for c in &self.cscds {
            v.extend_from_slice(&c.to_bytes());
        }
        for s in &self.segments {
            v.extend_from_slice(&s.to_bytes());
        }
        v
    }

    /// Resolves every segment against the one logical unit this copy manager serves: its NAA
    /// designator `naa` (the DESIGNATOR bytes of VPD 83h), `block_size` and `capacity` in
    /// blocks. Segments of zero blocks resolve to nothing.
    pub fn plan(
        &self,
        naa: &[u8],
        block_size: u32,
        capacity: u64,
    ) -> Result<Vec<CopyRange>, XcopyRejection> {
        let mut out = Vec::with_capacity(self.segments.len());
        for (i, s) in self.segments.iter().enumerate() {
            let segment = off16(i);
            for (id, byte) in [(s.source, 4), (s.destination, 6)] {
                let Some(c) = self.cscds.get(usize::from(id)) else {
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
}

/// RECEIVE COPY RESULTS OPERATING PARAMETERS data (service action 03h, SPC-4 6.18.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperatingParameters {
    /// SNLID: lists without a list identifier (NRCR = 1) are supported.
    pub snlid: bool,
    /// MAXIMUM CSCD DESCRIPTOR COUNT.
    pub max_cscd_descriptors: u16,
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT.
    pub max_segment_descriptors: u16,
    /// MAXIMUM DESCRIPTOR LIST LENGTH.
    pub max_descriptor_list_length: u32,
    /// MAXIMUM SEGMENT LENGTH, in bytes.
    pub max_segment_length: u32,
    /// MAXIMUM INLINE DATA LENGTH.
    pub max_inline_data_length: u32,
    /// HELD DATA LIMIT.
    pub held_data_limit: u32,
    /// MAXIMUM STREAM DEVICE TRANSFER SIZE.
    pub max_stream_device_transfer_size: u32,
    /// TOTAL CONCURRENT COPIES.
    pub total_concurrent_copies: u16,
    /// MAXIMUM CONCURRENT COPIES.
    pub max_concurrent_copies: u8,
    /// DATA SEGMENT GRANULARITY (log 2).
    pub data_segment_granularity: u8,
    /// INLINE DATA GRANULARITY (log 2).
    pub inline_data_granularity: u8,
    /// HELD DATA GRANULARITY (log 2).
    pub held_data_granularity: u8,
    /// The implemented descriptor type codes, in ascending order (at most 255).
    pub implemented_descriptors: Vec<u8>,
}

impl OperatingParameters {
    const WHAT: &'static str = "RECEIVE COPY RESULTS operating parameters";
    const FIXED: usize = 44;

    /// What a copy manager enforcing `limits` reports: one copy at a time, no inline or held
    /// data, segments of up to 65535 blocks of `block_size`, and descriptors 02h and E4h.
    pub fn for_limits(limits: &CopyLimits, block_size: u32) -> Self {
        OperatingParameters {
            snlid: true,
            max_cscd_descriptors: limits.max_cscd_descriptors,
            max_segment_descriptors: limits.max_segment_descriptors,
            max_descriptor_list_length: limits.max_descriptor_list_length,
            max_segment_length: block_size.saturating_mul(u32::from(u16::MAX)),
            total_concurrent_copies: 1,
            max_concurrent_copies: 1,
            implemented_descriptors: vec![BLOCK_TO_BLOCK, IDENTIFICATION_CSCD],
            ..OperatingParameters::default()
        }
    }
}

impl crate::Wire for OperatingParameters {
    fn parse(buf: &[u8]) -> crate::Result<Self> {
        use crate::error::{Location, check_len};
        check_len(Self::WHAT, Location::Data, buf, Self::FIXED)?;
        let n = usize::from(buf[43]);
        check_len(Self::WHAT, Location::Data, buf, Self::FIXED + n)?;
        Ok(OperatingParameters {
            snlid: buf[4] & 1 != 0,
            max_cscd_descriptors: be16(buf, 8),
            max_segment_descriptors: be16(buf, 10),
            max_descriptor_list_length: be32(buf, 12),
            max_segment_length: be32(buf, 16),
            max_inline_data_length: be32(buf, 20),
            held_data_limit: be32(buf, 24),
            max_stream_device_transfer_size: be32(buf, 28),
            total_concurrent_copies: be16(buf, 34),
            max_concurrent_copies: buf[36],
            data_segment_granularity: buf[37],
            inline_data_granularity: buf[38],
            held_data_granularity: buf[39],
            implemented_descriptors: buf[44..44 + n].to_vec(),
        })
    }

    fn buffer_len(&self) -> usize {
        Self::FIXED + self.implemented_descriptors.len().min(255)
    }

    fn emit(&self, buf: &mut [u8]) -> crate::Result<usize> {
        let len = self.buffer_len();
        crate::error::check_out(Self::WHAT, buf, len)?;
        let out = &mut buf[..len];
        out.fill(0);
        out[0..4].copy_from_slice(&((len - 4) as u32).to_be_bytes());
        out[4] = u8::from(self.snlid);
        out[8..10].copy_from_slice(&self.max_cscd_descriptors.to_be_bytes());
        out[10..12].copy_from_slice(&self.max_segment_descriptors.to_be_bytes());
        out[12..16].copy_from_slice(&self.max_descriptor_list_length.to_be_bytes());
        out[16..20].copy_from_slice(&self.max_segment_length.to_be_bytes());
        out[20..24].copy_from_slice(&self.max_inline_data_length.to_be_bytes());
        out[24..28].copy_from_slice(&self.held_data_limit.to_be_bytes());
        out[28..32].copy_from_slice(&self.max_stream_device_transfer_size.to_be_bytes());
        out[34..36].copy_from_slice(&self.total_concurrent_copies.to_be_bytes());
        out[36] = self.max_concurrent_copies;
        out[37] = self.data_segment_granularity;
        out[38] = self.inline_data_granularity;
        out[39] = self.held_data_granularity;
        let n = len - Self::FIXED;
        out[43] = n as u8;
        out[44..].copy_from_slice(&self.implemented_descriptors[..n]);
        Ok(len)
    }
}

/// RECEIVE COPY RESULTS COPY STATUS data (service action 00h, LID1, SPC-4 6.18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyStatus {
    /// HDD: held data discarded.
    pub hdd: bool,
    /// COPY MANAGER STATUS (7 bits): 00h in progress, 01h completed without errors, 02h
    /// completed with errors.
    pub copy_manager_status: u8,
    /// SEGMENTS PROCESSED.
    pub segments_processed: u16,
    /// TRANSFER COUNT UNITS: 00h bytes, F1h..F6h kibibytes to exbibytes.
    pub transfer_count_units: u8,
    /// TRANSFER COUNT.
    pub transfer_count: u32,
}

impl CopyStatus {
    const WHAT: &'static str = "RECEIVE COPY RESULTS copy status";
    const LEN: usize = 12;
    /// COPY MANAGER STATUS: completed without errors.
    pub const COMPLETED: u8 = 0x01;

    /// The status of a copy that completed without errors after `segments` segments and
    /// `bytes` bytes, in the smallest unit the count fits.
    pub fn completed(segments: u16, bytes: u64) -> Self {
        let mut units = 0u8;
        let mut count = bytes;
        while count > u64::from(u32::MAX) && units < 6 {
            count >>= 10;
            units += 1;
        }
        CopyStatus {
            hdd: false,
            copy_manager_status: Self::COMPLETED,
            segments_processed: segments,
            transfer_count_units: if units == 0 { 0 } else { 0xF0 + units },
            transfer_count: u32::try_from(count).unwrap_or(u32::MAX),
        }
    }
}

impl crate::Wire for CopyStatus {
    fn parse(buf: &[u8]) -> crate::Result<Self> {
        use crate::error::{Location, check_len};
        check_len(Self::WHAT, Location::Data, buf, Self::LEN)?;
        Ok(CopyStatus {
            hdd: buf[4] & 0x80 != 0,
            copy_manager_status: buf[4] & 0x7f,
            segments_processed: be16(buf, 5),
            transfer_count_units: buf[7],
            transfer_count: be32(buf, 8),
        })
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) -> crate::Result<usize> {
        crate::error::check_out(Self::WHAT, buf, Self::LEN)?;
        let out = &mut buf[..Self::LEN];
        out[0..4].copy_from_slice(&((Self::LEN - 4) as u32).to_be_bytes());
        out[4] = (u8::from(self.hdd) << 7) | (self.copy_manager_status & 0x7f);
        out[5..7].copy_from_slice(&self.segments_processed.to_be_bytes());
        out[7] = self.transfer_count_units;
        out[8..12].copy_from_slice(&self.transfer_count.to_be_bytes());
        Ok(Self::LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Wire;
    use crate::testutil::assert_roundtrip;
    use proptest::prelude::*;

    const NAA: [u8; 16] = [
        0x60, 0x01, 0x40, 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    const LIMITS: CopyLimits = CopyLimits {
        max_cscd_descriptors: 2,
        max_segment_descriptors: 1,
        max_descriptor_list_length: 1024,
    };

    fn list(blocks: u16, src: u64, dst: u64) -> ExtendedCopyList {
        ExtendedCopyList {
            header: ParameterListHeader {
                list_identifier: 1,
                ..ParameterListHeader::default()
            },
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
    fn good_list_round_trips_and_plans() {
        let l = list(8, 0, 100);
        let bytes = l.to_vec();
        assert_eq!(bytes.len(), 16 + 32 + 28);
        let p = ExtendedCopyList::parse(&bytes, &LIMITS).unwrap();
        assert_eq!(
            (p.header.cscd_list_length, p.header.segment_list_length),
            (32, 28)
        );
        assert_eq!((&p.cscds, &p.segments), (&l.cscds, &l.segments));
        assert_eq!(p.to_vec(), bytes);
        assert_eq!(
            p.plan(&NAA, 512, 1000).unwrap(),
            vec![CopyRange {
                source_lba: 0,
                destination_lba: 100,
                blocks: 8
            }]
        );
        // Zero blocks: nothing to do.
        assert!(list(0, 0, 0).plan(&NAA, 512, 1000).unwrap().is_empty());
        // Extra bytes past the lists are ignored.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(ExtendedCopyList::parse(&longer, &LIMITS).unwrap(), p);
    }

    #[test]
    fn length_errors() {
        let bytes = list(8, 0, 100).to_vec();
        for cut in [0, 15, 16 + 31, bytes.len() - 1] {
            assert_eq!(
                ExtendedCopyList::parse(&bytes[..cut], &LIMITS),
                Err(XcopyRejection::ParameterListLength),
                "cut at {cut}"
            );
        }
        let small = CopyLimits {
            max_descriptor_list_length: 59,
            ..LIMITS
        };
        assert_eq!(sense(ExtendedCopyList::parse(&bytes, &small)), (5, 0x1a, 0));
        let mut inline = bytes.clone();
        inline[15] = 4;
        inline.extend_from_slice(&[0; 4]);
        let s = ExtendedCopyList::parse(&inline, &LIMITS).unwrap_err();
        assert_eq!(s, XcopyRejection::InvalidField(FieldPointer::param(12)));
    }

    #[test]
    fn too_many_descriptors() {
        let mut l = list(8, 0, 100);
        l.cscds = vec![l.cscds[0].clone(); 3];
        assert_eq!(
            sense(ExtendedCopyList::parse(&l.to_vec(), &LIMITS)),
            (5, 0x26, 0x06)
        );
        let mut l = list(8, 0, 100);
        l.segments = vec![l.segments[0]; 2];
        assert_eq!(
            sense(ExtendedCopyList::parse(&l.to_vec(), &LIMITS)),
            (5, 0x26, 0x08)
        );
    }

    #[test]
    fn unsupported_types_and_fields() {
        let mut b = list(8, 0, 100).to_vec();
        b[16] = 0xE0;
        let e = ExtendedCopyList::parse(&b, &LIMITS);
        assert_eq!(e, Err(XcopyRejection::UnsupportedCscdType { offset: 16 }));
        assert_eq!(sense(e), (5, 0x26, 0x07));

        // A 20-byte stream to stream segment descriptor (03h).
        let mut b = list(8, 0, 100).to_vec();
        b.truncate(48);
        b.extend_from_slice(&[0x03, 0, 0, 16, 0, 0, 0, 0]);
        b.extend_from_slice(&[0; 12]);
        b[11] = 20;
        let e = ExtendedCopyList::parse(&b, &LIMITS);
        assert_eq!(
            e,
            Err(XcopyRejection::UnsupportedSegmentType { offset: 48 })
        );
        assert_eq!(sense(e), (5, 0x26, 0x09));

        // LU ID TYPE reserved: invalid field, pointing at byte 1 bit 7 of the descriptor.
        let mut b = list(8, 0, 100).to_vec();
        b[17] |= 0xC0;
        let s = ExtendedCopyList::parse(&b, &LIMITS).unwrap_err().to_sense();
        assert_eq!((s.additional.asc, s.additional.ascq), (0x26, 0));
        assert_eq!(
            s.sense_key_specific,
            Some(SenseKeySpecific::FieldPointer(FieldPointer::param_bit(
                17, 7
            )))
        );
        // A block to block descriptor of the wrong length.
        let mut b = list(8, 0, 100).to_vec();
        b[16 + 32 + 3] = 0x14;
        b.truncate(b.len() - 4);
        b[11] = 24;
        assert_eq!(
            ExtendedCopyList::parse(&b, &LIMITS),
            Err(XcopyRejection::InvalidField(FieldPointer::param(50)))
        );
    }

    #[test]
    fn plan_rejections() {
        let aborted = |l: &ExtendedCopyList| {
            let s = l.plan(&NAA, 512, 1000).unwrap_err().to_sense();
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
        assert!(list(8, 992, 0).plan(&NAA, 512, 1000).is_ok());
    }

    #[test]
    fn results_data() {
        let op = OperatingParameters::for_limits(&LIMITS, 512);
        let v = op.to_vec();
        assert_eq!(v.len(), 46);
        assert_eq!(&v[0..4], &[0, 0, 0, 42]);
        assert_eq!(&v[8..12], &[0, 2, 0, 1]);
        assert_eq!(&v[43..], &[2, 0x02, 0xE4]);
        assert_roundtrip(&op);
        let cs = CopyStatus::completed(1, 8 * 512);
        assert_eq!(cs.to_vec(), [0, 0, 0, 8, 1, 0, 1, 0, 0, 0, 0x10, 0]);
        assert_roundtrip(&cs);
        let big = CopyStatus::completed(1, 1 << 40);
        assert_eq!(
            (big.transfer_count_units, big.transfer_count),
            (0xF1, 1 << 30)
        );
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
            if let Ok(l) = ExtendedCopyList::parse(&bytes, &limits) {
                let _ = l.plan(&NAA, 512, capacity);
                let _ = ExtendedCopyList::parse(&l.to_vec(), &limits);
            } else if let Err(e) = ExtendedCopyList::parse(&bytes, &limits) {
                let _ = e.to_sense().to_vec();
            }
            let _ = OperatingParameters::parse(&bytes);
            let _ = CopyStatus::parse(&bytes);
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
            let mut bytes = h.to_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let _ = ExtendedCopyList::parse(&bytes, &LIMITS).map_err(|e| e.to_sense());
        }
    }
}
