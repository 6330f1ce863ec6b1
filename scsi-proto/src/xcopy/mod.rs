//! EXTENDED COPY (LID1) parameter lists and RECEIVE COPY RESULTS data (SPC-4 6.4, 6.18): the
//! identification CSCD descriptor (E4h) and block to block segment descriptor (02h).
//! Checking a list against a copy manager's limits and planning the copy are `tcmu`'s.

use crate::bits::{Layout, Spec, named};
use crate::error::zeroed_out;
use crate::{Location, Result, Wire};

/// Length of a CSCD descriptor (but the 64-byte IPv6 and IP copy service ones).
pub const CSCD_DESCRIPTOR_LEN: usize = 32;
/// DESCRIPTOR TYPE CODE of the identification CSCD descriptor.
pub const IDENTIFICATION_CSCD: u8 = 0xE4;
/// DESCRIPTOR TYPE CODE of the block device to block device segment descriptor.
pub const BLOCK_TO_BLOCK: u8 = 0x02;

/// DESIGNATOR LENGTH of an identification CSCD descriptor.
pub const DESIGNATOR_LENGTH: Spec = Spec::new("DESIGNATOR LENGTH", 7, 0, 8);
/// A segment descriptor's DESCRIPTOR LENGTH: its bytes after this field.
pub const SEGMENT_LENGTH: Spec = Spec::new("DESCRIPTOR LENGTH", 2, 0, 16);
/// The parameter list header's CSCD DESCRIPTOR LIST LENGTH.
pub const CSCD_LIST_LENGTH: Spec =
    named(ParameterListHeader::FIELDS, "CSCD DESCRIPTOR LIST LENGTH");
/// The parameter list header's SEGMENT DESCRIPTOR LIST LENGTH.
pub const SEGMENT_LIST_LENGTH: Spec =
    named(ParameterListHeader::FIELDS, "SEGMENT DESCRIPTOR LIST LENGTH");
/// The parameter list header's INLINE DATA LENGTH.
pub const INLINE_DATA_LENGTH: Spec = named(ParameterListHeader::FIELDS, "INLINE DATA LENGTH");
/// LU ID TYPE of an identification CSCD descriptor.
pub const LU_ID_TYPE: Spec = named(<CscdFields as Layout>::FIELDS, "LU ID TYPE");
/// AVAILABLE DATA of RECEIVE COPY RESULTS: the bytes after it.
const AVAILABLE_DATA: Spec = Spec::new("AVAILABLE DATA", 0, 0, 32);

crate::bits::layout! {
    /// The 16-byte parameter list header (SPC-4 6.4.3.1, LID1).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ParameterListHeader: "EXTENDED COPY parameter list", 16 {
        list_identifier: u8 = "LIST IDENTIFIER" (0, 0, 8),
        str_bit: bool = "STR" (1, 5, 1),
        nrcr: bool = "NRCR" (1, 4, 1),
        priority: u8 = "PRIORITY" (1, 0, 3),
        cscd_list_length: u16 = "CSCD DESCRIPTOR LIST LENGTH" (2, 0, 16),
        segment_list_length: u32 = "SEGMENT DESCRIPTOR LIST LENGTH" (8, 0, 32),
        inline_data_length: u32 = "INLINE DATA LENGTH" (12, 0, 32),
    }
}

crate::bits::layout! {
    /// An identification CSCD descriptor (E4h, SPC-4 6.4.5.6).
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct IdentificationCscd(CscdFields: "identification CSCD descriptor", 32) {
        lu_id_type: u8 = "LU ID TYPE" (1, 6, 2),
        nul: bool = "NUL" (1, 5, 1),
        peripheral_device_type: u8 = "PERIPHERAL DEVICE TYPE" (1, 0, 5),
        relative_initiator_port: u16 = "RELATIVE INITIATOR PORT IDENTIFIER" (2, 0, 16),
        code_set: u8 = "CODE SET" (4, 0, 4),
        association: u8 = "ASSOCIATION" (5, 4, 2),
        designator_type: u8 = "DESIGNATOR TYPE" (5, 0, 4),
        pad: bool = "PAD" (28, 2, 1),
        disk_block_length: u32 = "DISK BLOCK LENGTH" (29, 0, 24),
    } + {
        /// DESIGNATOR (at most 20 bytes).
        designator: Vec<u8>,
    }
}

impl IdentificationCscd {
    /// The descriptor naming a block device by its binary LU `designator` of `designator_type`.
    pub fn block_device(designator_type: u8, designator: &[u8], disk_block_length: u32) -> Self {
        IdentificationCscd {
            code_set: 1,
            designator_type,
            designator: designator.iter().copied().take(20).collect(),
            disk_block_length,
            ..IdentificationCscd::default()
        }
    }

    /// Whether the descriptor names the logical unit whose binary NAA designator is `naa`.
    pub fn identifies_naa(&self, naa: &[u8]) -> bool {
        self.code_set == 1
            && self.association == 0
            && self.designator_type == 3
            && self.designator == naa
    }

    /// Reads the descriptor in `d` (bytes past its end read as zero).
    pub fn decode(d: &[u8]) -> Self {
        let designator = d.get(8..8 + DESIGNATOR_LENGTH.get(d) as usize).unwrap_or_default();
        Self::from_fixed(CscdFields::read(d), designator.to_vec())
    }

    /// The 32 bytes of the descriptor (each field's low bits).
    pub fn to_bytes(&self) -> [u8; CSCD_DESCRIPTOR_LEN] {
        let mut b = [0u8; CSCD_DESCRIPTOR_LEN];
        b[0] = IDENTIFICATION_CSCD;
        self.fixed().put(&mut b);
        let n = self.designator.len().min(20);
        DESIGNATOR_LENGTH.put(&mut b, n as u64);
        b[8..8 + n].copy_from_slice(&self.designator[..n]);
        b
    }
}

crate::bits::layout! {
    /// A block device to block device segment descriptor (02h, SPC-4 6.4.6.5).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct BlockToBlockSegment: "EXTENDED COPY parameter list", 28 {
        dc: bool = "DC" (1, 1, 1),
        cat: bool = "CAT" (1, 0, 1),
        source: u16 = "SOURCE CSCD DESCRIPTOR ID" (4, 0, 16),
        destination: u16 = "DESTINATION CSCD DESCRIPTOR ID" (6, 0, 16),
        number_of_blocks: u16 = "BLOCK DEVICE NUMBER OF BLOCKS" (10, 0, 16),
        source_lba: u64 = "SOURCE BLOCK DEVICE LOGICAL BLOCK ADDRESS" (12, 0, 64),
        destination_lba: u64 = "DESTINATION BLOCK DEVICE LOGICAL BLOCK ADDRESS" (20, 0, 64),
    }
}

impl BlockToBlockSegment {
    /// The 28 bytes of the descriptor.
    pub fn to_bytes(&self) -> [u8; 28] {
        let mut b = [0u8; 28];
        b[0] = BLOCK_TO_BLOCK;
        SEGMENT_LENGTH.put(&mut b, 28 - 4);
        self.put(&mut b);
        b
    }
}

/// A decoded EXTENDED COPY (LID1) parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedCopyList {
    /// The header.
    pub header: ParameterListHeader,
    /// The CSCD descriptors (their index is their ID).
    pub cscds: Vec<IdentificationCscd>,
    /// The segment descriptors.
    pub segments: Vec<BlockToBlockSegment>,
}

impl ExtendedCopyList {
    /// The parameter list bytes, the header's lengths recomputed and PRIORITY cut to 3 bits.
    pub fn to_vec(&self) -> Vec<u8> {
        let header = ParameterListHeader {
            cscd_list_length: (self.cscds.len() * CSCD_DESCRIPTOR_LEN) as u16,
            segment_list_length: (self.segments.len() * BlockToBlockSegment::LEN) as u32,
            inline_data_length: 0,
            ..self.header
        };
        let mut v = vec![0; ParameterListHeader::LEN];
        header.put(&mut v);
        v.extend(self.cscds.iter().flat_map(IdentificationCscd::to_bytes));
        v.extend(self.segments.iter().flat_map(BlockToBlockSegment::to_bytes));
        v
    }
}

crate::bits::layout! {
    /// RECEIVE COPY RESULTS OPERATING PARAMETERS data (service action 03h, SPC-4 6.18.4).
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct OperatingParameters(OpFields: "RECEIVE COPY RESULTS operating parameters", 44) {
        snlid: bool = "SNLID" (4, 0, 1),
        max_cscd_descriptors: u16 = "MAXIMUM CSCD DESCRIPTOR COUNT" (8, 0, 16),
        max_segment_descriptors: u16 = "MAXIMUM SEGMENT DESCRIPTOR COUNT" (10, 0, 16),
        max_descriptor_list_length: u32 = "MAXIMUM DESCRIPTOR LIST LENGTH" (12, 0, 32),
        max_segment_length: u32 = "MAXIMUM SEGMENT LENGTH" (16, 0, 32),
        max_inline_data_length: u32 = "MAXIMUM INLINE DATA LENGTH" (20, 0, 32),
        held_data_limit: u32 = "HELD DATA LIMIT" (24, 0, 32),
        max_stream_device_transfer_size: u32 =
            "MAXIMUM STREAM DEVICE TRANSFER SIZE" (28, 0, 32),
        total_concurrent_copies: u16 = "TOTAL CONCURRENT COPIES" (34, 0, 16),
        max_concurrent_copies: u8 = "MAXIMUM CONCURRENT COPIES" (36, 0, 8),
        /// Granularities are log 2.
        data_segment_granularity: u8 = "DATA SEGMENT GRANULARITY" (37, 0, 8),
        inline_data_granularity: u8 = "INLINE DATA GRANULARITY" (38, 0, 8),
        held_data_granularity: u8 = "HELD DATA GRANULARITY" (39, 0, 8),
    } + {
        /// The implemented descriptor type codes, ascending (at most 255).
        implemented_descriptors: Vec<u8>,
    }
}

const LIST_LENGTH: Spec = Spec::new("IMPLEMENTED DESCRIPTOR LIST LENGTH", 43, 0, 8);

impl Wire for OperatingParameters {
    fn parse(buf: &[u8]) -> Result<Self> {
        let data = LIST_LENGTH.counted(OpFields::WHAT, buf, OpFields::LEN)?;
        Ok(Self::from_fixed(OpFields::read(buf), data[OpFields::LEN..].to_vec()))
    }

    fn buffer_len(&self) -> usize {
        OpFields::LEN + self.implemented_descriptors.len().min(255)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = zeroed_out(OpFields::WHAT, buf, len)?;
        AVAILABLE_DATA.put(out, (len - 4) as u64);
        self.fixed().put(out);
        let n = len - OpFields::LEN;
        LIST_LENGTH.put(out, n as u64);
        out[OpFields::LEN..].copy_from_slice(&self.implemented_descriptors[..n]);
        Ok(len)
    }
}

crate::bits::layout! {
    /// RECEIVE COPY RESULTS COPY STATUS data (LID1, SPC-4 6.18.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct CopyStatus: "RECEIVE COPY RESULTS copy status", 12 {
        hdd: bool = "HDD" (4, 7, 1),
        copy_manager_status: u8 = "COPY MANAGER STATUS" (4, 0, 7),
        segments_processed: u16 = "SEGMENTS PROCESSED" (5, 0, 16),
        transfer_count_units: u8 = "TRANSFER COUNT UNITS" (7, 0, 8),
        transfer_count: u32 = "TRANSFER COUNT" (8, 0, 32),
    }
}

impl CopyStatus {
    /// COPY MANAGER STATUS: completed without errors.
    pub const COMPLETED: u8 = 0x01;

    /// A copy completed after `segments` segments and `bytes` bytes, counted in bytes (00h) or
    /// else the smallest of KiB (F1h), MiB (F2h), ... that holds the count.
    pub fn completed(segments: u16, bytes: u64) -> Self {
        let units = (0..6u8).find(|u| bytes >> (10 * u) <= u64::from(u32::MAX)).unwrap_or(6);
        CopyStatus {
            hdd: false,
            copy_manager_status: Self::COMPLETED,
            segments_processed: segments,
            transfer_count_units: if units == 0 { 0 } else { 0xF0 + units },
            transfer_count: u32::try_from(bytes >> (10 * units)).unwrap_or(u32::MAX),
        }
    }
}

impl Wire for CopyStatus {
    fn parse(buf: &[u8]) -> Result<Self> {
        Self::parse_fixed(buf, Location::Data)
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.emit_fixed(buf)?;
        AVAILABLE_DATA.put(buf, (Self::LEN - 4) as u64);
        Ok(Self::LEN)
    }
}

#[cfg(test)]
mod tests;
