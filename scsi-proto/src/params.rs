//! Parameter data of the block commands (SBC-4, SPC-5): what a disk target returns for READ
//! CAPACITY, REPORT SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS, GET
//! LBA STATUS, REPORT LUNS and PERSISTENT RESERVE IN, and what it receives for UNMAP and WRITE
//! SAME.
//!
//! Every format has an owned representation implementing [`Wire`]; fixed layouts also have a
//! zerocopy `...Raw` struct with big-endian fields.
//!
//! # Allocation length
//!
//! A response is built in full, with its length fields stating the full length, and then cut to
//! the ALLOCATION LENGTH of the CDB (SPC-5 4.2.5.6: truncation is not an error, and the length
//! field still reports what the device *would* have returned, so the initiator can retry with a
//! larger buffer). With any [`Wire`] value that is
//! `copy_truncated(&value.to_vec(), allocation_length, data_in)`. For the two responses whose
//! size grows with the device ([`LbaStatus`], [`ReportLuns`]) `emit_truncated` does the same
//! without building the full response first.
//!
//! # UNMAP
//!
//! [`UnmapDescriptors`] walks an UNMAP parameter list in place (no allocation) after checking
//! its header exactly as SBC-4 5.32 asks; [`UnmapParameterList`] is the owned form. Neither
//! knows the device: [`UnmapDescriptors::validate`] / [`UnmapParameterList::validate`] check the
//! list against the Block Limits and the capacity ([`UnmapLimits`]) before anything is unmapped,
//! so a rejected command never leaves a partial unmap behind.

use core::iter::FusedIterator;

use zerocopy::byteorder::big_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{check_len, check_out};
use crate::{Error, FieldPointer, Location, Result, Wire, copy_truncated};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A byte offset as a field pointer's 16-bit byte number; saturates (a pointer past 65535 bytes
/// cannot be expressed in sense data anyway).
fn ptr_byte(off: usize) -> u16 {
    u16::try_from(off).unwrap_or(u16::MAX)
}

/// An invalid field in data sent by a device (parsed on the initiator side).
fn data_field(what: &'static str, field: &'static str, byte: usize, bit: Option<u8>) -> Error {
    Error::InvalidField {
        what,
        field,
        pointer: FieldPointer::data(ptr_byte(byte), bit),
    }
}

/// Reads a fixed-layout struct at `off`, after checking that `buf` holds it.
fn read_at<'a, T>(
    what: &'static str,
    location: Location,
    buf: &'a [u8],
    off: usize,
) -> Result<&'a T>
where
    T: FromBytes + KnownLayout + Immutable + Unaligned,
{
    let needed = off.saturating_add(size_of::<T>());
    let truncated = Error::Truncated {
        what,
        location,
        needed,
        actual: buf.len(),
    };
    check_len(what, location, buf, needed)?;
    let tail = buf.get(off..).ok_or(truncated)?;
    T::ref_from_prefix(tail)
        .map(|(r, _)| r)
        .map_err(|_| truncated)
}

/// Writes a fixed-layout struct at `off`, after checking that `buf` can take it.
fn write_at<T: IntoBytes + Immutable>(
    what: &'static str,
    buf: &mut [u8],
    off: usize,
    v: &T,
) -> Result<()> {
    let bytes = v.as_bytes();
    let end = off.saturating_add(bytes.len());
    check_out(what, buf, end)?;
    buf[off..end].copy_from_slice(bytes);
    Ok(())
}

/// A length for a 32-bit length field, or an error naming that field.
fn len_u32(what: &'static str, field: &'static str, byte: usize, len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| data_field(what, field, byte, None))
}

/// Streams a header and then fixed-size items into `out`, cut to `allocation_length`: the
/// allocation-length rule of SPC-5 4.2.5.6 without building the full response.
fn stream_truncated<'a>(
    header: &[u8],
    items: impl Iterator<Item = &'a [u8]>,
    allocation_length: usize,
    out: &mut [u8],
) -> usize {
    let limit = allocation_length.min(out.len());
    let mut n = copy_truncated(header, limit, out);
    for item in items {
        if n >= limit {
            break;
        }
        n += copy_truncated(item, limit - n, &mut out[n..]);
    }
    n
}

// ---------------------------------------------------------------------------------------------
// READ CAPACITY (10)
// ---------------------------------------------------------------------------------------------

crate::bits::layout! {
    /// READ CAPACITY (10) parameter data (SBC-4 5.20.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ReadCapacity10Data: "READ CAPACITY(10) data", 8 {
        /// The LBA of the last logical block, or `0xFFFF_FFFF` when that does not fit: the
        /// initiator then has to use READ CAPACITY (16).
        returned_lba: u32 = "RETURNED LOGICAL BLOCK ADDRESS" (0, 0, 32),
        /// The logical block length in bytes.
        block_length: u32 = "LOGICAL BLOCK LENGTH IN BYTES" (4, 0, 32),
    }
}

impl ReadCapacity10Data {
    /// The data for a device of `number_of_blocks` logical blocks, with SBC-4's hand-off rule:
    /// RETURNED LOGICAL BLOCK ADDRESS is the last LBA (`number_of_blocks - 1`), or
    /// `0xFFFF_FFFF` when the last LBA is `0xFFFF_FFFF` or more (2^32 blocks and up), telling
    /// the initiator to issue READ CAPACITY (16).
    ///
    /// A device of zero blocks has no last LBA; this returns 0 (the field cannot say "empty").
    /// A target should not report a zero-capacity medium at all but answer NOT READY.
    pub fn for_device(number_of_blocks: u64, block_length: u32) -> Self {
        let last_lba = number_of_blocks.saturating_sub(1);
        ReadCapacity10Data {
            returned_lba: u32::try_from(last_lba).unwrap_or(u32::MAX),
            block_length,
        }
    }

    /// Whether the capacity did not fit and READ CAPACITY (16) must be used.
    pub fn needs_read_capacity_16(&self) -> bool {
        self.returned_lba == u32::MAX
    }
}

crate::bits::fixed_wire!(ReadCapacity10Data, Location::Data);

// ---------------------------------------------------------------------------------------------
// READ CAPACITY (16)
// ---------------------------------------------------------------------------------------------

/// READ CAPACITY (16) parameter data on the wire (SBC-4 5.21.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReadCapacity16Raw {
    /// RETURNED LOGICAL BLOCK ADDRESS (bytes 0..=7).
    pub returned_lba: U64,
    /// LOGICAL BLOCK LENGTH IN BYTES (bytes 8..=11).
    pub block_length: U32,
    /// Byte 12: RC BASIS (bits 5..=4), P_TYPE (bits 3..=1), PROT_EN (bit 0).
    pub protection: u8,
    /// Byte 13: P_I_EXPONENT (bits 7..=4), LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (3..=0).
    pub exponents: u8,
    /// Bytes 14..=15: LBPME (bit 15), LBPRZ (bit 14), LOWEST ALIGNED LOGICAL BLOCK ADDRESS
    /// (bits 13..=0).
    pub provisioning_alignment: U16,
    /// Bytes 16..=31, reserved.
    pub reserved: [u8; 16],
}
const _: () = assert!(size_of::<ReadCapacity16Raw>() == 32);

/// READ CAPACITY (16) parameter data (SBC-4 5.21.2).
///
/// Build it with [`ReadCapacity16Data::for_device`] and the `with_...` setters. Narrow fields
/// are stored as given; [`Wire::emit`] rejects a value too wide for its field rather than
/// truncating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCapacity16Data {
    /// The LBA of the last logical block.
    pub returned_lba: u64,
    /// The logical block length in bytes.
    pub block_length: u32,
    /// RC BASIS (2 bits): 00b for a device whose returned LBA is the last LBA of the medium
    /// (zoned devices use 01b).
    pub rc_basis: u8,
    /// P_TYPE (3 bits): protection type minus one, meaningful when `prot_en` is set.
    pub p_type: u8,
    /// PROT_EN: protection information is enabled.
    pub prot_en: bool,
    /// P_I_EXPONENT (4 bits): 2^exponent protection information intervals per logical block.
    pub p_i_exponent: u8,
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (4 bits): 2^exponent logical blocks per
    /// physical block (3 for 512-byte logical blocks on a 4096-byte-sector device).
    pub logical_blocks_per_physical_block_exponent: u8,
    /// LBPME: logical block provisioning management (thin provisioning, UNMAP) is enabled.
    pub lbpme: bool,
    /// LBPRZ: an unmapped logical block reads as zeroes.
    pub lbprz: bool,
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS (14 bits): the first LBA at the start of a
    /// physical block.
    pub lowest_aligned_lba: u16,
}

impl ReadCapacity16Data {
    /// Length of the parameter data.
    pub const LEN: usize = 32;

    const WHAT: &'static str = "READ CAPACITY(16) data";

    /// The data for a device of `number_of_blocks` logical blocks of `block_length` bytes, with
    /// every optional feature off. RETURNED LOGICAL BLOCK ADDRESS is `number_of_blocks - 1`;
    /// zero blocks gives 0, as in [`ReadCapacity10Data::for_device`].
    pub fn for_device(number_of_blocks: u64, block_length: u32) -> Self {
        ReadCapacity16Data {
            returned_lba: number_of_blocks.saturating_sub(1),
            block_length,
            rc_basis: 0,
            p_type: 0,
            prot_en: false,
            p_i_exponent: 0,
            logical_blocks_per_physical_block_exponent: 0,
            lbpme: false,
            lbprz: false,
            lowest_aligned_lba: 0,
        }
    }

    /// Sets the protection type: 0 disables protection, 1..=3 set PROT_EN and
    /// P_TYPE = `protection_type - 1`.
    pub fn with_protection_type(mut self, protection_type: u8) -> Self {
        self.prot_en = protection_type != 0;
        self.p_type = protection_type.saturating_sub(1);
        self
    }

    /// Sets P_I_EXPONENT.
    pub fn with_p_i_exponent(mut self, exponent: u8) -> Self {
        self.p_i_exponent = exponent;
        self
    }

    /// Sets LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT.
    pub fn with_physical_block_exponent(mut self, exponent: u8) -> Self {
        self.logical_blocks_per_physical_block_exponent = exponent;
        self
    }

    /// Sets LBPME and LBPRZ (a thin-provisioned device that reads unmapped blocks as zeroes
    /// sets both).
    pub fn with_provisioning(mut self, lbpme: bool, lbprz: bool) -> Self {
        self.lbpme = lbpme;
        self.lbprz = lbprz;
        self
    }

    /// Sets LOWEST ALIGNED LOGICAL BLOCK ADDRESS.
    pub fn with_lowest_aligned_lba(mut self, lba: u16) -> Self {
        self.lowest_aligned_lba = lba;
        self
    }

    /// Sets RC BASIS.
    pub fn with_rc_basis(mut self, rc_basis: u8) -> Self {
        self.rc_basis = rc_basis;
        self
    }

    /// The protection type (1..=8), or `None` when PROT_EN is zero.
    pub fn protection_type(&self) -> Option<u8> {
        self.prot_en.then(|| self.p_type.saturating_add(1))
    }

    /// The number of logical blocks: RETURNED LOGICAL BLOCK ADDRESS + 1 (saturating).
    pub fn number_of_blocks(&self) -> u64 {
        self.returned_lba.saturating_add(1)
    }

    fn check_widths(&self) -> Result<()> {
        let checks: [(bool, &'static str, usize, u8); 5] = [
            (self.rc_basis > 0x3, "RC BASIS", 12, 5),
            (self.p_type > 0x7, "P_TYPE", 12, 3),
            (self.p_i_exponent > 0xF, "P_I_EXPONENT", 13, 7),
            (
                self.logical_blocks_per_physical_block_exponent > 0xF,
                "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT",
                13,
                3,
            ),
            (
                self.lowest_aligned_lba > 0x3FFF,
                "LOWEST ALIGNED LOGICAL BLOCK ADDRESS",
                14,
                5,
            ),
        ];
        match checks.iter().find(|c| c.0) {
            Some(&(_, field, byte, bit)) => Err(data_field(Self::WHAT, field, byte, Some(bit))),
            None => Ok(()),
        }
    }
}

impl Wire for ReadCapacity16Data {
    fn parse(buf: &[u8]) -> Result<Self> {
        let raw: &ReadCapacity16Raw = read_at(Self::WHAT, Location::Data, buf, 0)?;
        let pa = raw.provisioning_alignment.get();
        Ok(ReadCapacity16Data {
            returned_lba: raw.returned_lba.get(),
            block_length: raw.block_length.get(),
            rc_basis: (raw.protection >> 4) & 0x3,
            p_type: (raw.protection >> 1) & 0x7,
            prot_en: raw.protection & 0x1 != 0,
            p_i_exponent: raw.exponents >> 4,
            logical_blocks_per_physical_block_exponent: raw.exponents & 0xF,
            lbpme: pa & 0x8000 != 0,
            lbprz: pa & 0x4000 != 0,
            lowest_aligned_lba: pa & 0x3FFF,
        })
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_out(Self::WHAT, buf, Self::LEN)?;
        self.check_widths()?;
        let raw = ReadCapacity16Raw {
            returned_lba: U64::new(self.returned_lba),
            block_length: U32::new(self.block_length),
            protection: (self.rc_basis << 4) | (self.p_type << 1) | u8::from(self.prot_en),
            exponents: (self.p_i_exponent << 4) | self.logical_blocks_per_physical_block_exponent,
            provisioning_alignment: U16::new(
                (u16::from(self.lbpme) << 15)
                    | (u16::from(self.lbprz) << 14)
                    | self.lowest_aligned_lba,
            ),
            reserved: [0; 16],
        };
        write_at(Self::WHAT, buf, 0, &raw)?;
        Ok(Self::LEN)
    }
}

// ---------------------------------------------------------------------------------------------
// REPORT SUPPORTED OPERATION CODES
// ---------------------------------------------------------------------------------------------

const RSOC: &str = "REPORT SUPPORTED OPERATION CODES data";

/// Command timeouts descriptor on the wire (SPC-5 6.35).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct CommandTimeoutsRaw {
    /// DESCRIPTOR LENGTH, always 000Ah.
    pub descriptor_length: U16,
    /// Reserved.
    pub reserved: u8,
    /// COMMAND SPECIFIC.
    pub command_specific: u8,
    /// NOMINAL COMMAND PROCESSING TIMEOUT, in seconds.
    pub nominal: U32,
    /// RECOMMENDED COMMAND TIMEOUT, in seconds.
    pub recommended: U32,
}
const _: () = assert!(size_of::<CommandTimeoutsRaw>() == 12);

/// A command timeouts descriptor (SPC-5 6.35): returned per command when the initiator sets
/// RCTD in the REPORT SUPPORTED OPERATION CODES CDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandTimeouts {
    /// COMMAND SPECIFIC: defined per command by the command standard; usually 0.
    pub command_specific: u8,
    /// NOMINAL COMMAND PROCESSING TIMEOUT in seconds (0: not specified).
    pub nominal_processing_timeout: u32,
    /// RECOMMENDED COMMAND TIMEOUT in seconds (0: not specified).
    pub recommended_timeout: u32,
}

impl CommandTimeouts {
    /// Length of the descriptor.
    pub const LEN: usize = 12;
    /// The value of its DESCRIPTOR LENGTH field.
    pub const DESCRIPTOR_LENGTH: u16 = 0x0A;

    fn parse_at(buf: &[u8], off: usize) -> Result<Self> {
        let raw: &CommandTimeoutsRaw = read_at(RSOC, Location::Data, buf, off)?;
        if raw.descriptor_length.get() != Self::DESCRIPTOR_LENGTH {
            return Err(data_field(RSOC, "DESCRIPTOR LENGTH", off, None));
        }
        Ok(CommandTimeouts {
            command_specific: raw.command_specific,
            nominal_processing_timeout: raw.nominal.get(),
            recommended_timeout: raw.recommended.get(),
        })
    }

    fn raw(&self) -> CommandTimeoutsRaw {
        CommandTimeoutsRaw {
            descriptor_length: U16::new(Self::DESCRIPTOR_LENGTH),
            reserved: 0,
            command_specific: self.command_specific,
            nominal: U32::new(self.nominal_processing_timeout),
            recommended: U32::new(self.recommended_timeout),
        }
    }
}

impl Wire for CommandTimeouts {
    fn parse(buf: &[u8]) -> Result<Self> {
        Self::parse_at(buf, 0)
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        write_at(RSOC, buf, 0, &self.raw())?;
        Ok(Self::LEN)
    }
}

/// Command descriptor of the all-commands format on the wire, without its optional timeouts
/// descriptor (SPC-5 6.35).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct CommandDescriptorRaw {
    /// OPERATION CODE.
    pub opcode: u8,
    /// Reserved.
    pub reserved1: u8,
    /// SERVICE ACTION (valid when SERVACTV is set).
    pub service_action: U16,
    /// Reserved.
    pub reserved4: u8,
    /// Byte 5: CTDP (bit 1), SERVACTV (bit 0); the other bits (RWCDLP, MLU, CDLP) are left 0.
    pub flags: u8,
    /// CDB LENGTH.
    pub cdb_length: U16,
}
const _: () = assert!(size_of::<CommandDescriptorRaw>() == 8);

/// One command of the all-commands format (SPC-5 6.35).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDescriptor {
    /// OPERATION CODE.
    pub opcode: u8,
    /// SERVICE ACTION, for an operation code that has service actions (SERVACTV = 1).
    pub service_action: Option<u16>,
    /// CDB LENGTH in bytes.
    pub cdb_length: u16,
    /// The command timeouts descriptor (CTDP = 1). In one response either every descriptor
    /// has one (the CDB had RCTD = 1) or none does.
    pub timeouts: Option<CommandTimeouts>,
}

impl CommandDescriptor {
    /// Length of a descriptor without a timeouts descriptor (CTDP = 0).
    pub const LEN: usize = 8;
    /// Length of a descriptor with a timeouts descriptor (CTDP = 1).
    pub const LEN_WITH_TIMEOUTS: usize = 20;

    /// This descriptor's length on the wire: 8, or 20 with timeouts.
    pub fn descriptor_len(&self) -> usize {
        if self.timeouts.is_some() {
            Self::LEN_WITH_TIMEOUTS
        } else {
            Self::LEN
        }
    }
}

/// REPORT SUPPORTED OPERATION CODES parameter data, all-commands format (REPORTING OPTIONS
/// 000b, SPC-5 6.35): COMMAND DATA LENGTH then the command descriptors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllCommands {
    /// The supported commands, in any order.
    pub descriptors: Vec<CommandDescriptor>,
}

impl AllCommands {
    /// Whether the descriptors carry command timeouts (RCTD was set); `false` for an empty
    /// list.
    pub fn has_timeouts(&self) -> bool {
        self.descriptors
            .first()
            .is_some_and(|d| d.timeouts.is_some())
    }
}

impl Wire for AllCommands {
    fn parse(buf: &[u8]) -> Result<Self> {
        let len: &U32 = read_at(RSOC, Location::Data, buf, 0)?;
        let total = usize::try_from(len.get())
            .unwrap_or(usize::MAX)
            .saturating_add(4);
        check_len(RSOC, Location::Data, buf, total)?;
        let body = &buf[..total];
        let mut descriptors = Vec::with_capacity((total - 4) / CommandDescriptor::LEN);
        let mut ctdp_all = None;
        let mut off = 4;
        while off < total {
            if total - off < CommandDescriptor::LEN {
                return Err(data_field(RSOC, "COMMAND DATA LENGTH", 0, None));
            }
            let raw: &CommandDescriptorRaw = read_at(RSOC, Location::Data, body, off)?;
            let ctdp = raw.flags & 0x02 != 0;
            if *ctdp_all.get_or_insert(ctdp) != ctdp {
                return Err(data_field(RSOC, "CTDP", off + 5, Some(1)));
            }
            let timeouts = if ctdp {
                if total - off < CommandDescriptor::LEN_WITH_TIMEOUTS {
                    return Err(data_field(RSOC, "COMMAND DATA LENGTH", 0, None));
                }
                Some(CommandTimeouts::parse_at(
                    body,
                    off + CommandDescriptor::LEN,
                )?)
            } else {
                None
            };
            let d = CommandDescriptor {
                opcode: raw.opcode,
                service_action: (raw.flags & 0x01 != 0).then(|| raw.service_action.get()),
                cdb_length: raw.cdb_length.get(),
                timeouts,
            };
            off += d.descriptor_len();
            descriptors.push(d);
        }
        Ok(AllCommands { descriptors })
    }

    fn buffer_len(&self) -> usize {
        4 + self
            .descriptors
            .iter()
            .map(CommandDescriptor::descriptor_len)
            .sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(RSOC, buf, total)?;
        let with_timeouts = self.has_timeouts();
        let mut off = 4;
        for d in &self.descriptors {
            if d.timeouts.is_some() != with_timeouts {
                return Err(data_field(RSOC, "CTDP", off + 5, Some(1)));
            }
            off += d.descriptor_len();
        }
        let len = len_u32(RSOC, "COMMAND DATA LENGTH", 0, total - 4)?;
        write_at(RSOC, buf, 0, &U32::new(len))?;
        let mut off = 4;
        for d in &self.descriptors {
            let raw = CommandDescriptorRaw {
                opcode: d.opcode,
                reserved1: 0,
                service_action: U16::new(d.service_action.unwrap_or(0)),
                reserved4: 0,
                flags: (u8::from(d.timeouts.is_some()) << 1) | u8::from(d.service_action.is_some()),
                cdb_length: U16::new(d.cdb_length),
            };
            write_at(RSOC, buf, off, &raw)?;
            if let Some(t) = &d.timeouts {
                write_at(RSOC, buf, off + CommandDescriptor::LEN, &t.raw())?;
            }
            off += d.descriptor_len();
        }
        Ok(total)
    }
}

/// Header of the one-command format on the wire (SPC-5 6.35).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct OneCommandRaw {
    /// Byte 0: RWCDLP (bit 0), left 0.
    pub reserved0: u8,
    /// Byte 1: CTDP (bit 7), MLU (bits 6..=5, left 0), CDLP (bits 4..=3, left 0), SUPPORT
    /// (bits 2..=0).
    pub flags: u8,
    /// CDB SIZE: the length of the CDB USAGE DATA that follows.
    pub cdb_size: U16,
}
const _: () = assert!(size_of::<OneCommandRaw>() == 4);

/// REPORT SUPPORTED OPERATION CODES parameter data, one-command format (REPORTING OPTIONS
/// 001b..=011b, SPC-5 6.35): SUPPORT, CDB SIZE, CDB USAGE DATA, then the command timeouts
/// descriptor when CTDP is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneCommand {
    /// SUPPORT (3 bits): one of the `SUPPORT_...` constants.
    pub support: u8,
    /// CDB USAGE DATA: the CDB with every bit the device server looks at set (byte 0 is the
    /// operation code itself). Its length is the CDB SIZE.
    pub cdb_usage_data: Vec<u8>,
    /// The command timeouts descriptor; present exactly when CTDP is set (the CDB had
    /// RCTD = 1). See [`OneCommand::ctdp`].
    pub timeouts: Option<CommandTimeouts>,
}

impl OneCommand {
    /// SUPPORT 000b: data about the command is not currently available.
    pub const SUPPORT_NOT_AVAILABLE: u8 = 0;
    /// SUPPORT 001b: the command is not supported.
    pub const SUPPORT_NOT_SUPPORTED: u8 = 1;
    /// SUPPORT 011b: supported, conforming to a SCSI standard.
    pub const SUPPORT_STANDARD: u8 = 3;
    /// SUPPORT 101b: supported in a vendor-specific manner.
    pub const SUPPORT_VENDOR: u8 = 5;

    /// The CTDP bit: whether a command timeouts descriptor follows the usage data.
    pub fn ctdp(&self) -> bool {
        self.timeouts.is_some()
    }
}

impl Wire for OneCommand {
    fn parse(buf: &[u8]) -> Result<Self> {
        let raw: &OneCommandRaw = read_at(RSOC, Location::Data, buf, 0)?;
        let cdb_size = usize::from(raw.cdb_size.get());
        let end = 4 + cdb_size;
        check_len(RSOC, Location::Data, buf, end)?;
        let timeouts = if raw.flags & 0x80 != 0 {
            Some(CommandTimeouts::parse_at(buf, end)?)
        } else {
            None
        };
        Ok(OneCommand {
            support: raw.flags & 0x07,
            cdb_usage_data: buf[4..end].to_vec(),
            timeouts,
        })
    }

    fn buffer_len(&self) -> usize {
        4 + self.cdb_usage_data.len() + if self.ctdp() { CommandTimeouts::LEN } else { 0 }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(RSOC, buf, total)?;
        if self.support > 0x7 {
            return Err(data_field(RSOC, "SUPPORT", 1, Some(2)));
        }
        let cdb_size = u16::try_from(self.cdb_usage_data.len())
            .map_err(|_| data_field(RSOC, "CDB SIZE", 2, None))?;
        let raw = OneCommandRaw {
            reserved0: 0,
            flags: (u8::from(self.ctdp()) << 7) | self.support,
            cdb_size: U16::new(cdb_size),
        };
        write_at(RSOC, buf, 0, &raw)?;
        let end = 4 + self.cdb_usage_data.len();
        buf[4..end].copy_from_slice(&self.cdb_usage_data);
        if let Some(t) = &self.timeouts {
            write_at(RSOC, buf, end, &t.raw())?;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
// ---------------------------------------------------------------------------------------------

const RSTMF: &str = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS data";

/// The basic REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS parameter data on the wire (SPC-5
/// 6.37); also the first 4 bytes of the extended format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReportedTmfRaw {
    /// Byte 0: ATS, ATSS, CACAS, CTSS, LURS, QTS, TRS, WAKES (bit 7 down to bit 0).
    pub flags0: u8,
    /// Byte 1: QUAS (bit 2), QTSS (bit 1), ITNRS (bit 0).
    pub flags1: u8,
    /// Reserved.
    pub reserved2: u8,
    /// ADDITIONAL DATA LENGTH: 00h for the basic format, 0Ch for the extended one.
    pub additional_data_length: u8,
}
const _: () = assert!(size_of::<ReportedTmfRaw>() == 4);

/// Bytes 4..=15 of the extended REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS parameter data on
/// the wire (SPC-5 6.37).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReportedTmfExtendedRaw {
    /// Byte 4: TMFTMOV (bit 0).
    pub tmftmov: u8,
    /// Reserved.
    pub reserved5: u8,
    /// Byte 6: ATTS, ATSTS, CACATS, CTSTS, LURTS, QTTS (bit 7 down to bit 2).
    pub flags6: u8,
    /// Byte 7: QUATS (bit 2), QTSTS (bit 1), ITNRTS (bit 0).
    pub flags7: u8,
    /// TMF LONG TIMEOUT, in units of 100 ms.
    pub long_timeout: U32,
    /// TMF SHORT TIMEOUT, in units of 100 ms.
    pub short_timeout: U32,
}
const _: () = assert!(size_of::<ReportedTmfExtendedRaw>() == 12);

/// The timeout part of the extended format (REPD = 1, SPC-5 6.37). Each `..ts` bit says
/// whether that function completes within the short timeout (1) or the long one (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TmfTimeouts {
    /// TMFTMOV: the two timeout fields are valid.
    pub tmftmov: bool,
    /// ATTS: ABORT TASK within the short timeout.
    pub atts: bool,
    /// ATSTS: ABORT TASK SET within the short timeout.
    pub atsts: bool,
    /// CACATS: CLEAR ACA within the short timeout.
    pub cacats: bool,
    /// CTSTS: CLEAR TASK SET within the short timeout.
    pub ctsts: bool,
    /// LURTS: LOGICAL UNIT RESET within the short timeout.
    pub lurts: bool,
    /// QTTS: QUERY TASK within the short timeout.
    pub qtts: bool,
    /// QUATS: QUERY UNIT ATTENTION within the short timeout.
    pub quats: bool,
    /// QTSTS: QUERY TASK SET within the short timeout.
    pub qtsts: bool,
    /// ITNRTS: I_T NEXUS RESET within the short timeout.
    pub itnrts: bool,
    /// TMF LONG TIMEOUT, in units of 100 ms.
    pub long_timeout: u32,
    /// TMF SHORT TIMEOUT, in units of 100 ms.
    pub short_timeout: u32,
}

/// REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS parameter data (SPC-5 6.37): 4 bytes, or 16
/// with `extended` (the CDB had REPD = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportedTmf {
    /// ATS: ABORT TASK supported.
    pub ats: bool,
    /// ATSS: ABORT TASK SET supported.
    pub atss: bool,
    /// CACAS: CLEAR ACA supported.
    pub cacas: bool,
    /// CTSS: CLEAR TASK SET supported.
    pub ctss: bool,
    /// LURS: LOGICAL UNIT RESET supported.
    pub lurs: bool,
    /// QTS: QUERY TASK supported.
    pub qts: bool,
    /// TRS: TARGET RESET supported (obsolete since SPC-4).
    pub trs: bool,
    /// WAKES: WAKEUP supported (obsolete since SPC-4).
    pub wakes: bool,
    /// QUAS: QUERY UNIT ATTENTION (formerly QUERY ASYNCHRONOUS EVENT) supported.
    pub quas: bool,
    /// QTSS: QUERY TASK SET supported.
    pub qtss: bool,
    /// ITNRS: I_T NEXUS RESET supported.
    pub itnrs: bool,
    /// The extended part, returned when the CDB had REPD = 1.
    pub extended: Option<TmfTimeouts>,
}

impl ReportedTmf {
    /// Length of the basic format.
    pub const LEN: usize = 4;
    /// Length of the extended format.
    pub const LEN_EXTENDED: usize = 16;
    /// ADDITIONAL DATA LENGTH of the extended format.
    pub const EXTENDED_ADDITIONAL_LENGTH: u8 = 0x0C;
}

fn bit(b: u8, n: u8) -> bool {
    b & (1 << n) != 0
}

fn flags(bits: [bool; 8]) -> u8 {
    bits.iter().fold(0, |acc, &b| (acc << 1) | u8::from(b))
}

impl Wire for ReportedTmf {
    fn parse(buf: &[u8]) -> Result<Self> {
        let raw: &ReportedTmfRaw = read_at(RSTMF, Location::Data, buf, 0)?;
        let extended = match raw.additional_data_length {
            0 => None,
            n if n >= Self::EXTENDED_ADDITIONAL_LENGTH => {
                let x: &ReportedTmfExtendedRaw = read_at(RSTMF, Location::Data, buf, 4)?;
                Some(TmfTimeouts {
                    tmftmov: bit(x.tmftmov, 0),
                    atts: bit(x.flags6, 7),
                    atsts: bit(x.flags6, 6),
                    cacats: bit(x.flags6, 5),
                    ctsts: bit(x.flags6, 4),
                    lurts: bit(x.flags6, 3),
                    qtts: bit(x.flags6, 2),
                    quats: bit(x.flags7, 2),
                    qtsts: bit(x.flags7, 1),
                    itnrts: bit(x.flags7, 0),
                    long_timeout: x.long_timeout.get(),
                    short_timeout: x.short_timeout.get(),
                })
            }
            _ => return Err(data_field(RSTMF, "ADDITIONAL DATA LENGTH", 3, None)),
        };
        let (b0, b1) = (raw.flags0, raw.flags1);
        Ok(ReportedTmf {
            ats: bit(b0, 7),
            atss: bit(b0, 6),
            cacas: bit(b0, 5),
            ctss: bit(b0, 4),
            lurs: bit(b0, 3),
            qts: bit(b0, 2),
            trs: bit(b0, 1),
            wakes: bit(b0, 0),
            quas: bit(b1, 2),
            qtss: bit(b1, 1),
            itnrs: bit(b1, 0),
            extended,
        })
    }

    fn buffer_len(&self) -> usize {
        if self.extended.is_some() {
            Self::LEN_EXTENDED
        } else {
            Self::LEN
        }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(RSTMF, buf, total)?;
        let raw = ReportedTmfRaw {
            flags0: flags([
                self.ats, self.atss, self.cacas, self.ctss, self.lurs, self.qts, self.trs,
                self.wakes,
            ]),
            flags1: flags([
                false, false, false, false, false, self.quas, self.qtss, self.itnrs,
            ]),
            reserved2: 0,
            additional_data_length: if self.extended.is_some() {
                Self::EXTENDED_ADDITIONAL_LENGTH
            } else {
                0
            },
        };
        write_at(RSTMF, buf, 0, &raw)?;
        if let Some(x) = &self.extended {
            let ext = ReportedTmfExtendedRaw {
                tmftmov: u8::from(x.tmftmov),
                reserved5: 0,
                flags6: flags([
                    x.atts, x.atsts, x.cacats, x.ctsts, x.lurts, x.qtts, false, false,
                ]),
                flags7: flags([
                    false, false, false, false, false, x.quats, x.qtsts, x.itnrts,
                ]),
                long_timeout: U32::new(x.long_timeout),
                short_timeout: U32::new(x.short_timeout),
            };
            write_at(RSTMF, buf, 4, &ext)?;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// GET LBA STATUS
// ---------------------------------------------------------------------------------------------

const GLS: &str = "GET LBA STATUS data";

/// GET LBA STATUS parameter data header on the wire (SBC-4 5.8.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct LbaStatusHeaderRaw {
    /// PARAMETER DATA LENGTH: bytes that follow this field (4 + 16 per descriptor).
    pub parameter_data_length: U32,
    /// Reserved.
    pub reserved: [u8; 4],
}
const _: () = assert!(size_of::<LbaStatusHeaderRaw>() == 8);

/// LBA status descriptor on the wire (SBC-4 5.8.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct LbaStatusDescriptorRaw {
    /// LBA STATUS LOGICAL BLOCK ADDRESS.
    pub lba: U64,
    /// NUMBER OF LOGICAL BLOCKS.
    pub number_of_blocks: U32,
    /// Byte 12: PROVISIONING STATUS (bits 3..=0).
    pub provisioning_status: u8,
    /// Byte 13: ADDITIONAL STATUS.
    pub additional_status: u8,
    /// Reserved.
    pub reserved: [u8; 2],
}
const _: () = assert!(size_of::<LbaStatusDescriptorRaw>() == 16);

/// One extent of LBAs sharing a provisioning status (SBC-4 5.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbaStatusDescriptor {
    /// The first LBA of the extent.
    pub lba: u64,
    /// The number of logical blocks in the extent.
    pub number_of_blocks: u32,
    /// PROVISIONING STATUS (4 bits): one of the `MAPPED`, `DEALLOCATED`, `ANCHORED`
    /// constants.
    pub provisioning_status: u8,
    /// ADDITIONAL STATUS (0 unless the device reports why an extent is in that state).
    pub additional_status: u8,
}

impl LbaStatusDescriptor {
    /// Length of a descriptor.
    pub const LEN: usize = 16;
    /// PROVISIONING STATUS 0h: mapped (or unknown).
    pub const MAPPED: u8 = 0;
    /// PROVISIONING STATUS 1h: deallocated.
    pub const DEALLOCATED: u8 = 1;
    /// PROVISIONING STATUS 2h: anchored.
    pub const ANCHORED: u8 = 2;

    fn raw(&self, index: usize) -> Result<LbaStatusDescriptorRaw> {
        if self.provisioning_status > 0xF {
            return Err(data_field(
                GLS,
                "PROVISIONING STATUS",
                8 + 16 * index + 12,
                Some(3),
            ));
        }
        Ok(LbaStatusDescriptorRaw {
            lba: U64::new(self.lba),
            number_of_blocks: U32::new(self.number_of_blocks),
            provisioning_status: self.provisioning_status,
            additional_status: self.additional_status,
            reserved: [0; 2],
        })
    }
}

/// GET LBA STATUS parameter data (SBC-4 5.8.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LbaStatus {
    /// The extents, in ascending LBA order starting at the LBA the CDB asked about.
    pub descriptors: Vec<LbaStatusDescriptor>,
}

impl LbaStatus {
    fn header(&self) -> Result<LbaStatusHeaderRaw> {
        let len = self.descriptors.len().saturating_mul(16).saturating_add(4);
        Ok(LbaStatusHeaderRaw {
            parameter_data_length: U32::new(len_u32(GLS, "PARAMETER DATA LENGTH", 0, len)?),
            reserved: [0; 4],
        })
    }

    fn raws(&self) -> Result<Vec<LbaStatusDescriptorRaw>> {
        self.descriptors
            .iter()
            .enumerate()
            .map(|(i, d)| d.raw(i))
            .collect()
    }

    /// Writes the response cut to `allocation_length` (and to `out`), returning the number of
    /// bytes written. PARAMETER DATA LENGTH still states the full length, as SPC-5 4.2.5.6
    /// wants, so an initiator that asked for 8 bytes learns how much to ask for. The result is
    /// the same as `copy_truncated(&self.to_vec(), allocation_length, out)`, without building
    /// the full response; it fails only where [`Wire::emit`] would.
    pub fn emit_truncated(&self, allocation_length: usize, out: &mut [u8]) -> Result<usize> {
        let header = self.header()?;
        // Validate every descriptor first, so this fails exactly when emit would.
        let raws = self.raws()?;
        Ok(stream_truncated(
            header.as_bytes(),
            raws.iter().map(|r| r.as_bytes()),
            allocation_length,
            out,
        ))
    }
}

impl Wire for LbaStatus {
    fn parse(buf: &[u8]) -> Result<Self> {
        let hdr: &LbaStatusHeaderRaw = read_at(GLS, Location::Data, buf, 0)?;
        let pdl = usize::try_from(hdr.parameter_data_length.get()).unwrap_or(usize::MAX);
        if pdl < 4 || (pdl - 4) % LbaStatusDescriptor::LEN != 0 {
            return Err(data_field(GLS, "PARAMETER DATA LENGTH", 0, None));
        }
        let total = pdl.saturating_add(4);
        check_len(GLS, Location::Data, buf, total)?;
        let descriptors = <[LbaStatusDescriptorRaw]>::ref_from_bytes(&buf[8..total])
            .map_err(|_| data_field(GLS, "PARAMETER DATA LENGTH", 0, None))?
            .iter()
            .map(|r| LbaStatusDescriptor {
                lba: r.lba.get(),
                number_of_blocks: r.number_of_blocks.get(),
                provisioning_status: r.provisioning_status & 0xF,
                additional_status: r.additional_status,
            })
            .collect();
        Ok(LbaStatus { descriptors })
    }

    fn buffer_len(&self) -> usize {
        8 + LbaStatusDescriptor::LEN * self.descriptors.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(GLS, buf, total)?;
        write_at(GLS, buf, 0, &self.header()?)?;
        for (i, d) in self.descriptors.iter().enumerate() {
            write_at(GLS, buf, 8 + LbaStatusDescriptor::LEN * i, &d.raw(i)?)?;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// UNMAP
// ---------------------------------------------------------------------------------------------

const UNMAP: &str = "UNMAP";

/// UNMAP parameter list header on the wire (SBC-4 5.32.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UnmapHeaderRaw {
    /// UNMAP DATA LENGTH: bytes that follow this field (6 + 16 per descriptor).
    pub data_length: U16,
    /// UNMAP BLOCK DESCRIPTOR DATA LENGTH: bytes of block descriptors (16 per descriptor).
    pub block_descriptor_data_length: U16,
    /// Reserved.
    pub reserved: [u8; 4],
}
const _: () = assert!(size_of::<UnmapHeaderRaw>() == 8);

/// UNMAP block descriptor on the wire (SBC-4 5.32.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UnmapDescriptorRaw {
    /// UNMAP LOGICAL BLOCK ADDRESS.
    pub lba: U64,
    /// NUMBER OF LOGICAL BLOCKS.
    pub number_of_blocks: U32,
    /// Reserved.
    pub reserved: [u8; 4],
}
const _: () = assert!(size_of::<UnmapDescriptorRaw>() == 16);

/// One extent to unmap (SBC-4 5.32.2). Zero blocks is a no-op, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmapDescriptor {
    /// The first LBA to unmap.
    pub lba: u64,
    /// The number of logical blocks to unmap.
    pub number_of_blocks: u32,
}

impl UnmapDescriptor {
    /// Length of a descriptor.
    pub const LEN: usize = 16;
}

/// Checks an UNMAP parameter list header (SBC-4 5.32.1, 5.32.2) and returns the bytes of the
/// complete block descriptors to process.
///
/// - PARAMETER LIST LENGTH 0: no data, not an error; no descriptors.
/// - PARAMETER LIST LENGTH 1..=7: [`Error::ParameterListLength`] (SBC-4 5.32.1).
/// - a Data-Out buffer shorter than the PARAMETER LIST LENGTH: [`Error::ParameterListLength`]
///   (the data the CDB announced did not arrive).
/// - UNMAP DATA LENGTH smaller than UNMAP BLOCK DESCRIPTOR DATA LENGTH + 6, with descriptors
///   announced: the header contradicts itself; [`Error::InvalidField`] pointing at UNMAP DATA
///   LENGTH (byte 0). SBC-4 does not rule on this; its editors advise treating it as INVALID
///   FIELD IN PARAMETER LIST (T10 reflector, Feb 2015). Linux LIO ignores UNMAP DATA LENGTH.
/// - lengths running past the PARAMETER LIST LENGTH: not an error. SBC-4 5.32.1 says
///   descriptors truncated by the parameter list length are ignored (LIO does the same).
/// - UNMAP BLOCK DESCRIPTOR DATA LENGTH not a multiple of 16: the last, incomplete descriptor
///   is ignored, as SBC-4 5.32.2 requires ("shall be ignored"), not rejected.
fn unmap_descriptor_bytes(buf: &[u8], parameter_list_length: usize) -> Result<&[u8]> {
    if parameter_list_length == 0 {
        return Ok(&[]);
    }
    if parameter_list_length < size_of::<UnmapHeaderRaw>() || buf.len() < parameter_list_length {
        return Err(Error::ParameterListLength {
            what: UNMAP,
            len: parameter_list_length,
        });
    }
    let list = &buf[..parameter_list_length];
    let hdr: &UnmapHeaderRaw = read_at(UNMAP, Location::ParameterList, list, 0)?;
    let dl = usize::from(hdr.data_length.get());
    let bd_dl = usize::from(hdr.block_descriptor_data_length.get());
    if bd_dl != 0 && dl < bd_dl + 6 {
        return Err(Error::InvalidField {
            what: UNMAP,
            field: "UNMAP DATA LENGTH",
            pointer: FieldPointer::param(0),
        });
    }
    let available = bd_dl.min(list.len() - size_of::<UnmapHeaderRaw>());
    let whole = available - available % UnmapDescriptor::LEN;
    Ok(&list[8..8 + whole])
}

/// The block descriptors of an UNMAP parameter list, read in place: the target's parse path
/// without allocation. Yields exactly what [`UnmapParameterList::parse_with_length`] collects.
#[derive(Debug, Clone)]
pub struct UnmapDescriptors<'a> {
    rest: &'a [u8],
}

impl<'a> UnmapDescriptors<'a> {
    /// Checks the header of the UNMAP parameter list in `buf` (the Data-Out buffer), whose
    /// length the CDB gave as `parameter_list_length`, as SBC-4 5.32 asks; see
    /// [`UnmapParameterList::parse_with_length`] for the rules.
    pub fn new(buf: &'a [u8], parameter_list_length: usize) -> Result<Self> {
        Ok(UnmapDescriptors {
            rest: unmap_descriptor_bytes(buf, parameter_list_length)?,
        })
    }

    /// Checks the remaining descriptors against the device's limits; see [`UnmapLimits`].
    pub fn validate(&self, limits: &UnmapLimits) -> Result<(), UnmapRejection> {
        validate_unmap(self.clone(), limits)
    }
}

impl Iterator for UnmapDescriptors<'_> {
    type Item = UnmapDescriptor;

    fn next(&mut self) -> Option<UnmapDescriptor> {
        let (raw, rest) = UnmapDescriptorRaw::ref_from_prefix(self.rest).ok()?;
        self.rest = rest;
        Some(UnmapDescriptor {
            lba: raw.lba.get(),
            number_of_blocks: raw.number_of_blocks.get(),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / UnmapDescriptor::LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for UnmapDescriptors<'_> {}
impl FusedIterator for UnmapDescriptors<'_> {}

/// UNMAP parameter list (SBC-4 5.32.2), owned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnmapParameterList {
    /// The extents to unmap; they may overlap and come in any order.
    pub descriptors: Vec<UnmapDescriptor>,
}

impl UnmapParameterList {
    /// At most this many descriptors fit the 16-bit UNMAP DATA LENGTH (6 + 16 * 4095).
    pub const MAX_DESCRIPTORS: usize = 4095;

    /// Parses the Data-Out buffer `buf` of an UNMAP command whose PARAMETER LIST LENGTH is
    /// `parameter_list_length`. Bytes of `buf` past that length are ignored.
    ///
    /// Following SBC-4 5.32.1 and 5.32.2:
    /// - a length of 0 is a no-op: an empty list;
    /// - a length of 1..=7 (shorter than the header), or a `buf` shorter than the length, is
    ///   [`Error::ParameterListLength`] (PARAMETER LIST LENGTH ERROR);
    /// - an UNMAP DATA LENGTH too small for the UNMAP BLOCK DESCRIPTOR DATA LENGTH it precedes
    ///   (less than it + 6, with descriptors announced) is [`Error::InvalidField`] at
    ///   parameter list byte 0 (INVALID FIELD IN PARAMETER LIST);
    /// - descriptors cut short by the parameter list length, and an incomplete last descriptor
    ///   when UNMAP BLOCK DESCRIPTOR DATA LENGTH is not a multiple of 16, are ignored: the
    ///   standard says so, and Linux LIO behaves the same.
    ///
    /// Limits (descriptor and block counts, capacity) are checked by [`Self::validate`].
    pub fn parse_with_length(buf: &[u8], parameter_list_length: usize) -> Result<Self> {
        Ok(UnmapParameterList {
            descriptors: UnmapDescriptors::new(buf, parameter_list_length)?.collect(),
        })
    }

    /// Checks the descriptors against the device's limits; see [`UnmapLimits`].
    pub fn validate(&self, limits: &UnmapLimits) -> Result<(), UnmapRejection> {
        validate_unmap(self.descriptors.iter().copied(), limits)
    }
}

impl Wire for UnmapParameterList {
    /// Parses a whole parameter list: [`UnmapParameterList::parse_with_length`] with the
    /// length of `buf`.
    fn parse(buf: &[u8]) -> Result<Self> {
        Self::parse_with_length(buf, buf.len())
    }

    fn buffer_len(&self) -> usize {
        8 + UnmapDescriptor::LEN * self.descriptors.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(UNMAP, buf, total)?;
        let bd_dl = UnmapDescriptor::LEN * self.descriptors.len();
        let too_long = Error::InvalidField {
            what: UNMAP,
            field: "UNMAP DATA LENGTH",
            pointer: FieldPointer::param(0),
        };
        let data_length = u16::try_from(bd_dl + 6).map_err(|_| too_long)?;
        let hdr = UnmapHeaderRaw {
            data_length: U16::new(data_length),
            block_descriptor_data_length: U16::new(data_length - 6),
            reserved: [0; 4],
        };
        write_at(UNMAP, buf, 0, &hdr)?;
        for (i, d) in self.descriptors.iter().enumerate() {
            let raw = UnmapDescriptorRaw {
                lba: U64::new(d.lba),
                number_of_blocks: U32::new(d.number_of_blocks),
                reserved: [0; 4],
            };
            write_at(UNMAP, buf, 8 + UnmapDescriptor::LEN * i, &raw)?;
        }
        Ok(total)
    }
}

/// What an UNMAP is checked against: the Block Limits VPD page the target reports (SBC-4) and the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmapLimits {
    /// MAXIMUM UNMAP LBA COUNT: the most logical blocks one UNMAP command may unmap, summed
    /// over its descriptors. `0xFFFF_FFFF` means no limit.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. `0xFFFF_FFFF` means no limit.
    pub max_unmap_block_descriptor_count: u32,
    /// The capacity in logical blocks (last LBA + 1).
    pub capacity_blocks: u64,
}

/// Why an UNMAP parameter list is refused once parsed (SBC-4 5.32.1, 5.32.2), with the sense
/// each maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnmapRejection {
    /// More descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: ILLEGAL REQUEST, INVALID
    /// FIELD IN PARAMETER LIST, pointer at UNMAP BLOCK DESCRIPTOR DATA LENGTH (byte 2).
    #[error("UNMAP: {count} block descriptors, at most {max} allowed")]
    TooManyDescriptors {
        /// Descriptors in the list.
        count: usize,
        /// The limit.
        max: u32,
    },
    /// The blocks of the descriptors up to `index` add up to more than MAXIMUM UNMAP LBA
    /// COUNT: ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointer at that descriptor's
    /// NUMBER OF LOGICAL BLOCKS.
    #[error("UNMAP: {total} logical blocks by block descriptor {index}, at most {max} allowed")]
    TooManyBlocks {
        /// Index of the descriptor that crossed the limit.
        index: usize,
        /// Blocks counted up to and including it.
        total: u64,
        /// The limit.
        max: u32,
    },
    /// A descriptor reaches past the capacity: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF
    /// RANGE.
    #[error("UNMAP: block descriptor {index} ({lba} + {number_of_blocks}) exceeds the capacity")]
    LbaOutOfRange {
        /// Index of the descriptor.
        index: usize,
        /// Its LBA.
        lba: u64,
        /// Its number of blocks.
        number_of_blocks: u32,
    },
}

impl UnmapRejection {
    /// The sense-key-specific field pointer for the INVALID FIELD IN PARAMETER LIST cases;
    /// `None` for [`UnmapRejection::LbaOutOfRange`], which has no field pointer.
    pub fn field_pointer(&self) -> Option<FieldPointer> {
        match *self {
            UnmapRejection::TooManyDescriptors { .. } => Some(FieldPointer::param(2)),
            UnmapRejection::TooManyBlocks { index, .. } => Some(FieldPointer::param(ptr_byte(
                index.saturating_mul(16).saturating_add(8 + 8),
            ))),
            UnmapRejection::LbaOutOfRange { .. } => None,
        }
    }

    /// The crate [`Error`] for the INVALID FIELD IN PARAMETER LIST cases; `None` for
    /// [`UnmapRejection::LbaOutOfRange`], which the target reports as LOGICAL BLOCK ADDRESS
    /// OUT OF RANGE itself.
    pub fn to_error(&self) -> Option<Error> {
        let field = match self {
            UnmapRejection::TooManyDescriptors { .. } => "UNMAP BLOCK DESCRIPTOR DATA LENGTH",
            UnmapRejection::TooManyBlocks { .. } => "NUMBER OF LOGICAL BLOCKS",
            UnmapRejection::LbaOutOfRange { .. } => return None,
        };
        Some(Error::InvalidField {
            what: UNMAP,
            field,
            pointer: self.field_pointer()?,
        })
    }
}

/// The checks of SBC-4 5.32: descriptor count first, then each descriptor in order, total of
/// blocks before range. The whole list is checked before anything is unmapped.
fn validate_unmap(
    descriptors: impl ExactSizeIterator<Item = UnmapDescriptor>,
    limits: &UnmapLimits,
) -> Result<(), UnmapRejection> {
    let count = descriptors.len();
    let max = limits.max_unmap_block_descriptor_count;
    if max != u32::MAX && u64::try_from(count).unwrap_or(u64::MAX) > u64::from(max) {
        return Err(UnmapRejection::TooManyDescriptors { count, max });
    }
    let mut total: u64 = 0;
    for (index, d) in descriptors.enumerate() {
        total = total.saturating_add(u64::from(d.number_of_blocks));
        let max = limits.max_unmap_lba_count;
        if max != u32::MAX && total > u64::from(max) {
            return Err(UnmapRejection::TooManyBlocks { index, total, max });
        }
        let end = d.lba.checked_add(u64::from(d.number_of_blocks));
        if end.is_none_or(|end| end > limits.capacity_blocks) {
            return Err(UnmapRejection::LbaOutOfRange {
                index,
                lba: d.lba,
                number_of_blocks: d.number_of_blocks,
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// WRITE SAME
// ---------------------------------------------------------------------------------------------

/// The Data-Out of WRITE SAME (10/16/32) without NDOB: exactly one logical block (SBC-4 WRITE SAME),
/// which the device writes to every LBA of the range. Returns it, or
/// [`Error::ParameterListLength`] when `buf` is not exactly `block_length` bytes: a Data-Out
/// of another size means the initiator and the device disagree about the block size, and
/// writing part of it, or a block built from it, would store the wrong data.
pub fn write_same_block(buf: &[u8], block_length: u32) -> Result<&[u8]> {
    if usize::try_from(block_length).ok() != Some(buf.len()) {
        return Err(Error::ParameterListLength {
            what: "WRITE SAME",
            len: buf.len(),
        });
    }
    Ok(buf)
}

// ---------------------------------------------------------------------------------------------
// REPORT LUNS
// ---------------------------------------------------------------------------------------------

const LUNS: &str = "REPORT LUNS data";

/// An 8-byte logical unit number (SAM-5 4.7), raw. [`Lun::from_index`] and [`Lun::index`]
/// handle the two single-level forms a target uses; anything else is in the bytes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(transparent)]
pub struct Lun(pub [u8; 8]);
const _: () = assert!(size_of::<Lun>() == 8);

impl Lun {
    /// Length of a LUN.
    pub const LEN: usize = 8;

    /// The single-level LUN for `index`: peripheral device addressing (method 00b, bus
    /// identifier 0) below 256, flat space addressing (method 01b) below 16384, as Linux
    /// LIO does. 16384 and above cannot be a single-level LUN of either form:
    /// [`Error::InvalidField`] (field "LUN").
    pub fn from_index(index: u16) -> Result<Lun> {
        let [hi, lo] = index.to_be_bytes();
        match index {
            0..=0xFF => Ok(Lun([0, lo, 0, 0, 0, 0, 0, 0])),
            0x100..=0x3FFF => Ok(Lun([0x40 | hi, lo, 0, 0, 0, 0, 0, 0])),
            _ => Err(data_field(LUNS, "LUN", 0, Some(5))),
        }
    }

    /// The ADDRESS METHOD (bits 7..=6 of byte 0): 00b peripheral, 01b flat space, 10b logical
    /// unit, 11b extended.
    pub fn address_method(&self) -> u8 {
        self.0[0] >> 6
    }

    /// The index of a single-level LUN in peripheral device addressing with bus identifier 0
    /// or in flat space addressing; `None` for any other form (hierarchical, other bus,
    /// logical unit or extended addressing, well-known LUNs).
    pub fn index(&self) -> Option<u16> {
        let [b0, b1, rest @ ..] = self.0;
        if rest != [0; 6] {
            return None;
        }
        match b0 >> 6 {
            0b00 if b0 == 0 => Some(u16::from(b1)),
            0b01 => Some(u16::from_be_bytes([b0 & 0x3F, b1])),
            _ => None,
        }
    }
}

impl From<[u8; 8]> for Lun {
    fn from(bytes: [u8; 8]) -> Self {
        Lun(bytes)
    }
}

impl From<Lun> for [u8; 8] {
    fn from(lun: Lun) -> Self {
        lun.0
    }
}

/// REPORT LUNS parameter data header on the wire (SPC-5 6.33.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReportLunsHeaderRaw {
    /// LUN LIST LENGTH: 8 bytes per LUN.
    pub lun_list_length: U32,
    /// Reserved.
    pub reserved: [u8; 4],
}
const _: () = assert!(size_of::<ReportLunsHeaderRaw>() == 8);

/// REPORT LUNS parameter data (SPC-5 6.33.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportLuns {
    /// The LUNs, in the order they are reported.
    pub luns: Vec<Lun>,
}

impl ReportLuns {
    fn header(&self) -> Result<ReportLunsHeaderRaw> {
        let len = self.luns.len().saturating_mul(Lun::LEN);
        Ok(ReportLunsHeaderRaw {
            lun_list_length: U32::new(len_u32(LUNS, "LUN LIST LENGTH", 0, len)?),
            reserved: [0; 4],
        })
    }

    /// Writes the response cut to `allocation_length` (and to `out`), LUN LIST LENGTH still
    /// stating the full list (SPC-5 4.2.5.6): initiators commonly ask for 16 bytes first and
    /// retry with the length they learn. Same bytes as `copy_truncated(&self.to_vec(), ..)`.
    pub fn emit_truncated(&self, allocation_length: usize, out: &mut [u8]) -> Result<usize> {
        let header = self.header()?;
        Ok(stream_truncated(
            header.as_bytes(),
            self.luns.iter().map(|l| l.as_bytes()),
            allocation_length,
            out,
        ))
    }
}

impl Wire for ReportLuns {
    fn parse(buf: &[u8]) -> Result<Self> {
        let hdr: &ReportLunsHeaderRaw = read_at(LUNS, Location::Data, buf, 0)?;
        let len = usize::try_from(hdr.lun_list_length.get()).unwrap_or(usize::MAX);
        if len % Lun::LEN != 0 {
            return Err(data_field(LUNS, "LUN LIST LENGTH", 0, None));
        }
        let total = len.saturating_add(8);
        check_len(LUNS, Location::Data, buf, total)?;
        let luns = <[Lun]>::ref_from_bytes(&buf[8..total])
            .map_err(|_| data_field(LUNS, "LUN LIST LENGTH", 0, None))?
            .to_vec();
        Ok(ReportLuns { luns })
    }

    fn buffer_len(&self) -> usize {
        8 + Lun::LEN * self.luns.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(LUNS, buf, total)?;
        write_at(LUNS, buf, 0, &self.header()?)?;
        buf[8..total].copy_from_slice(self.luns.as_bytes());
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// PERSISTENT RESERVE IN: READ KEYS and READ RESERVATION
// ---------------------------------------------------------------------------------------------

const PRIN: &str = "PERSISTENT RESERVE IN data";

/// PERSISTENT RESERVE IN parameter data header on the wire (SPC-5 PERSISTENT RESERVE IN).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PrInHeaderRaw {
    /// PRGENERATION.
    pub generation: U32,
    /// ADDITIONAL LENGTH: bytes that follow.
    pub additional_length: U32,
}
const _: () = assert!(size_of::<PrInHeaderRaw>() == 8);

/// READ KEYS parameter data (SPC-5 PERSISTENT RESERVE IN, READ KEYS): the registered reservation keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadKeys {
    /// PRGENERATION: bumped by every PERSISTENT RESERVE OUT that changes registrations.
    pub generation: u32,
    /// One key per registered I_T nexus.
    pub keys: Vec<u64>,
}

impl Wire for ReadKeys {
    fn parse(buf: &[u8]) -> Result<Self> {
        let hdr: &PrInHeaderRaw = read_at(PRIN, Location::Data, buf, 0)?;
        let len = usize::try_from(hdr.additional_length.get()).unwrap_or(usize::MAX);
        if len % 8 != 0 {
            return Err(data_field(PRIN, "ADDITIONAL LENGTH", 4, None));
        }
        let total = len.saturating_add(8);
        check_len(PRIN, Location::Data, buf, total)?;
        let keys = <[U64]>::ref_from_bytes(&buf[8..total])
            .map_err(|_| data_field(PRIN, "ADDITIONAL LENGTH", 4, None))?
            .iter()
            .map(|k| k.get())
            .collect();
        Ok(ReadKeys {
            generation: hdr.generation.get(),
            keys,
        })
    }

    fn buffer_len(&self) -> usize {
        8 + 8 * self.keys.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(PRIN, buf, total)?;
        let hdr = PrInHeaderRaw {
            generation: U32::new(self.generation),
            additional_length: U32::new(len_u32(PRIN, "ADDITIONAL LENGTH", 4, total - 8)?),
        };
        write_at(PRIN, buf, 0, &hdr)?;
        for (i, k) in self.keys.iter().enumerate() {
            write_at(PRIN, buf, 8 + 8 * i, &U64::new(*k))?;
        }
        Ok(total)
    }
}

/// READ RESERVATION reservation descriptor on the wire (SPC-5 PERSISTENT RESERVE IN, READ RESERVATION).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct ReservationRaw {
    /// RESERVATION KEY of the holder.
    pub key: U64,
    /// Obsolete.
    pub obsolete: [u8; 4],
    /// Reserved.
    pub reserved: u8,
    /// SCOPE (bits 7..=4) and TYPE (bits 3..=0).
    pub scope_type: u8,
    /// Obsolete.
    pub obsolete2: [u8; 2],
}
const _: () = assert!(size_of::<ReservationRaw>() == 16);

/// The persistent reservation a READ RESERVATION reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// The reservation key of the holder (0 for an all-registrants reservation).
    pub key: u64,
    /// SCOPE (4 bits): 0h, logical unit.
    pub scope: u8,
    /// TYPE (4 bits): 1h write exclusive, 3h exclusive access, 5h/6h registrants only,
    /// 7h/8h all registrants (SPC-5).
    pub pr_type: u8,
}

/// READ RESERVATION parameter data (SPC-5 PERSISTENT RESERVE IN, READ RESERVATION).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadReservation {
    /// PRGENERATION.
    pub generation: u32,
    /// The reservation, if one is held (ADDITIONAL LENGTH 10h), or `None` (00h).
    pub reservation: Option<Reservation>,
}

impl Wire for ReadReservation {
    fn parse(buf: &[u8]) -> Result<Self> {
        let hdr: &PrInHeaderRaw = read_at(PRIN, Location::Data, buf, 0)?;
        let reservation = match hdr.additional_length.get() {
            0 => None,
            0x10 => {
                let r: &ReservationRaw = read_at(PRIN, Location::Data, buf, 8)?;
                Some(Reservation {
                    key: r.key.get(),
                    scope: r.scope_type >> 4,
                    pr_type: r.scope_type & 0xF,
                })
            }
            _ => return Err(data_field(PRIN, "ADDITIONAL LENGTH", 4, None)),
        };
        Ok(ReadReservation {
            generation: hdr.generation.get(),
            reservation,
        })
    }

    fn buffer_len(&self) -> usize {
        if self.reservation.is_some() { 24 } else { 8 }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(PRIN, buf, total)?;
        let hdr = PrInHeaderRaw {
            generation: U32::new(self.generation),
            additional_length: U32::new(if self.reservation.is_some() { 0x10 } else { 0 }),
        };
        if let Some(r) = &self.reservation {
            if r.scope > 0xF {
                return Err(data_field(PRIN, "SCOPE", 21, Some(7)));
            }
            if r.pr_type > 0xF {
                return Err(data_field(PRIN, "TYPE", 21, Some(3)));
            }
            let raw = ReservationRaw {
                key: U64::new(r.key),
                obsolete: [0; 4],
                reserved: 0,
                scope_type: (r.scope << 4) | r.pr_type,
                obsolete2: [0; 2],
            };
            write_at(PRIN, buf, 8, &raw)?;
        }
        write_at(PRIN, buf, 0, &hdr)?;
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_roundtrip;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    // --- READ CAPACITY ---------------------------------------------------------------------

    #[test]
    fn read_capacity_10_hand_off() {
        // 2^32 blocks: the last LBA is FFFF_FFFFh, which is the hand-off value itself.
        let rc = ReadCapacity10Data::for_device(1 << 32, 512);
        assert_eq!(
            rc.to_vec(),
            [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]
        );
        assert!(rc.needs_read_capacity_16());
        // 2^32 - 1 blocks: the last LBA FFFF_FFFEh still fits.
        let rc = ReadCapacity10Data::for_device((1 << 32) - 1, 512);
        assert_eq!(
            rc.to_vec(),
            [0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00, 0x02, 0x00]
        );
        assert!(!rc.needs_read_capacity_16());
        // Far beyond: still the hand-off value.
        assert_eq!(
            ReadCapacity10Data::for_device(u64::MAX, 4096).returned_lba,
            u32::MAX
        );
        // 1 GiB of 512-byte blocks.
        let rc = ReadCapacity10Data::for_device(2_097_152, 512);
        assert_eq!(
            rc.to_vec(),
            [0x00, 0x1F, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]
        );
        // Zero blocks: documented as 0.
        assert_eq!(ReadCapacity10Data::for_device(0, 512).returned_lba, 0);
    }

    #[test]
    fn read_capacity_10_parse() {
        let rc =
            ReadCapacity10Data::parse(&[0x00, 0x1F, 0xFF, 0xFF, 0x00, 0x00, 0x10, 0x00]).unwrap();
        assert_eq!(rc.returned_lba, 0x001F_FFFF);
        assert_eq!(rc.block_length, 4096);
        assert_eq!(
            ReadCapacity10Data::parse(&[0; 7]),
            Err(Error::Truncated {
                what: "READ CAPACITY(10) data",
                location: Location::Data,
                needed: 8,
                actual: 7
            })
        );
    }

    #[test]
    fn read_capacity_16_thin_4k_physical() {
        // 2^32 + 5 blocks of 4096 bytes, LBPME and LBPRZ, 2^3 logical blocks per physical one.
        let rc = ReadCapacity16Data::for_device((1 << 32) + 5, 4096)
            .with_provisioning(true, true)
            .with_physical_block_exponent(3);
        let mut want = [0u8; 32];
        want[..16].copy_from_slice(&[
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, // RETURNED LOGICAL BLOCK ADDRESS
            0x00, 0x00, 0x10, 0x00, // LOGICAL BLOCK LENGTH IN BYTES
            0x00, // RC BASIS, P_TYPE, PROT_EN
            0x03, // P_I_EXPONENT, LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
            0xC0, 0x00, // LBPME, LBPRZ, LOWEST ALIGNED LOGICAL BLOCK ADDRESS
        ]);
        assert_eq!(rc.to_vec(), want);
        let back = ReadCapacity16Data::parse(&want).unwrap();
        assert_eq!(back, rc);
        assert_eq!(back.returned_lba, 0x1_0000_0004);
        assert_eq!(back.number_of_blocks(), (1 << 32) + 5);
        assert_eq!(back.block_length, 4096);
        assert!(back.lbpme && back.lbprz && !back.prot_en);
        assert_eq!(back.logical_blocks_per_physical_block_exponent, 3);
        assert_eq!(back.protection_type(), None);
    }

    #[test]
    fn read_capacity_16_protection_and_alignment() {
        let rc = ReadCapacity16Data::for_device(1000, 512)
            .with_protection_type(2)
            .with_p_i_exponent(1)
            .with_physical_block_exponent(3)
            .with_provisioning(true, false)
            .with_lowest_aligned_lba(0x1234);
        let v = rc.to_vec();
        assert_eq!(&v[..8], &[0, 0, 0, 0, 0, 0, 0x03, 0xE7]);
        assert_eq!(&v[8..16], &[0x00, 0x00, 0x02, 0x00, 0x03, 0x13, 0x92, 0x34]);
        assert!(v[16..].iter().all(|&b| b == 0));
        let back = ReadCapacity16Data::parse(&v).unwrap();
        assert_eq!(back.protection_type(), Some(2));
        assert_eq!(back.lowest_aligned_lba, 0x1234);
        assert_eq!(ReadCapacity16Data::for_device(0, 512).returned_lba, 0);
    }

    #[test]
    fn read_capacity_16_rejects_wide_fields() {
        let mut buf = [0u8; 32];
        let rc = ReadCapacity16Data::for_device(8, 512).with_p_i_exponent(16);
        assert_eq!(
            rc.emit(&mut buf),
            Err(Error::InvalidField {
                what: "READ CAPACITY(16) data",
                field: "P_I_EXPONENT",
                pointer: FieldPointer::data(13, Some(7)),
            })
        );
        let rc = ReadCapacity16Data::for_device(8, 512).with_lowest_aligned_lba(0x4000);
        assert!(matches!(
            rc.emit(&mut buf),
            Err(Error::InvalidField {
                field: "LOWEST ALIGNED LOGICAL BLOCK ADDRESS",
                ..
            })
        ));
        let rc = ReadCapacity16Data::for_device(8, 512).with_protection_type(9);
        assert!(matches!(
            rc.emit(&mut buf),
            Err(Error::InvalidField {
                field: "P_TYPE",
                ..
            })
        ));
        assert!(ReadCapacity16Data::parse(&[0; 31]).is_err());
    }

    // --- REPORT SUPPORTED OPERATION CODES ---------------------------------------------------

    const READ_10: CommandDescriptor = CommandDescriptor {
        opcode: 0x28,
        service_action: None,
        cdb_length: 10,
        timeouts: None,
    };
    const READ_CAPACITY_16: CommandDescriptor = CommandDescriptor {
        opcode: 0x9E,
        service_action: Some(0x10),
        cdb_length: 16,
        timeouts: None,
    };

    #[test]
    fn all_commands_without_timeouts() {
        let bytes = [
            0x00, 0x00, 0x00, 0x10, // COMMAND DATA LENGTH
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, // READ(10)
            0x9E, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x10, // READ CAPACITY(16), SERVACTV
        ];
        let all = AllCommands {
            descriptors: vec![READ_10, READ_CAPACITY_16],
        };
        assert_eq!(all.to_vec(), bytes);
        assert_eq!(AllCommands::parse(&bytes).unwrap(), all);
        assert!(!all.has_timeouts());
        // SERVICE ACTION is ignored without SERVACTV.
        let mut odd = bytes;
        odd[7] = 0x55;
        assert_eq!(
            AllCommands::parse(&odd).unwrap().descriptors[0].service_action,
            None
        );
    }

    #[test]
    fn all_commands_with_timeouts() {
        let bytes = [
            0x00, 0x00, 0x00, 0x28, // COMMAND DATA LENGTH = 40
            0x28, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0A, // READ(10), CTDP
            0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1E, 0x00, 0x00, 0x00, 0x3C, 0x9E, 0x00,
            0x00, 0x10, 0x00, 0x03, 0x00, 0x10, // READ CAPACITY(16), CTDP, SERVACTV
            0x00, 0x0A, 0x00, 0x07, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x0A,
        ];
        let all = AllCommands {
            descriptors: vec![
                CommandDescriptor {
                    timeouts: Some(CommandTimeouts {
                        command_specific: 0,
                        nominal_processing_timeout: 30,
                        recommended_timeout: 60,
                    }),
                    ..READ_10
                },
                CommandDescriptor {
                    timeouts: Some(CommandTimeouts {
                        command_specific: 7,
                        nominal_processing_timeout: 5,
                        recommended_timeout: 10,
                    }),
                    ..READ_CAPACITY_16
                },
            ],
        };
        assert_eq!(all.to_vec(), bytes);
        assert_eq!(AllCommands::parse(&bytes).unwrap(), all);
        assert!(all.has_timeouts());

        // A wrong timeouts DESCRIPTOR LENGTH.
        let mut bad = bytes;
        bad[13] = 0x0B;
        assert_eq!(
            AllCommands::parse(&bad),
            Err(Error::InvalidField {
                what: RSOC,
                field: "DESCRIPTOR LENGTH",
                pointer: FieldPointer::data(12, None)
            })
        );
    }

    #[test]
    fn all_commands_mixed_timeouts_rejected() {
        let t = CommandTimeouts {
            command_specific: 0,
            nominal_processing_timeout: 1,
            recommended_timeout: 2,
        };
        let mixed = AllCommands {
            descriptors: vec![
                CommandDescriptor {
                    timeouts: Some(t),
                    ..READ_10
                },
                READ_CAPACITY_16,
            ],
        };
        let mut buf = vec![0u8; mixed.buffer_len()];
        // The second descriptor starts at byte 4 + 20; its CTDP is byte 5, bit 1 of it.
        assert_eq!(
            mixed.emit(&mut buf),
            Err(Error::InvalidField {
                what: RSOC,
                field: "CTDP",
                pointer: FieldPointer::data(29, Some(1))
            })
        );
        let bytes = [
            0x00, 0x00, 0x00, 0x1C, // 20 + 8
            0x28, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0A, //
            0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, //
            0x9E, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x10,
        ];
        assert_eq!(
            AllCommands::parse(&bytes),
            Err(Error::InvalidField {
                what: RSOC,
                field: "CTDP",
                pointer: FieldPointer::data(29, Some(1))
            })
        );
    }

    #[test]
    fn all_commands_bad_lengths() {
        // COMMAND DATA LENGTH not a whole number of descriptors.
        let bytes = [0, 0, 0, 10, 0x28, 0, 0, 0, 0, 0, 0, 10, 0, 0];
        assert_eq!(
            AllCommands::parse(&bytes),
            Err(Error::InvalidField {
                what: RSOC,
                field: "COMMAND DATA LENGTH",
                pointer: FieldPointer::data(0, None)
            })
        );
        // CTDP set but only 8 bytes left.
        let bytes = [0, 0, 0, 8, 0x28, 0, 0, 0, 0, 0x02, 0, 10];
        assert!(matches!(
            AllCommands::parse(&bytes),
            Err(Error::InvalidField {
                field: "COMMAND DATA LENGTH",
                ..
            })
        ));
        // More announced than given.
        assert!(matches!(
            AllCommands::parse(&[0, 0, 0, 16, 0x28, 0, 0, 0, 0, 0, 0, 10]),
            Err(Error::Truncated {
                needed: 20,
                actual: 12,
                ..
            })
        ));
        assert_eq!(
            AllCommands::parse(&[0, 0, 0, 0]).unwrap(),
            AllCommands::default()
        );
    }

    const READ_10_USAGE: [u8; 10] = [0x28, 0xFA, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0x07];

    #[test]
    fn one_command() {
        let one = OneCommand {
            support: OneCommand::SUPPORT_STANDARD,
            cdb_usage_data: READ_10_USAGE.to_vec(),
            timeouts: None,
        };
        let mut want = vec![0x00, 0x03, 0x00, 0x0A];
        want.extend_from_slice(&READ_10_USAGE);
        assert_eq!(one.to_vec(), want);
        assert_eq!(OneCommand::parse(&want).unwrap(), one);
        assert!(!one.ctdp());

        let one = OneCommand {
            timeouts: Some(CommandTimeouts {
                command_specific: 0,
                nominal_processing_timeout: 30,
                recommended_timeout: 60,
            }),
            ..one
        };
        let mut want = vec![0x00, 0x83, 0x00, 0x0A];
        want.extend_from_slice(&READ_10_USAGE);
        want.extend_from_slice(&[0x00, 0x0A, 0x00, 0x00, 0, 0, 0, 0x1E, 0, 0, 0, 0x3C]);
        assert_eq!(one.to_vec(), want);
        assert_eq!(OneCommand::parse(&want).unwrap(), one);
        // CTDP set, timeouts descriptor missing.
        assert!(matches!(
            OneCommand::parse(&want[..14]),
            Err(Error::Truncated { needed: 26, .. })
        ));

        let unsupported = OneCommand {
            support: OneCommand::SUPPORT_NOT_SUPPORTED,
            cdb_usage_data: vec![],
            timeouts: None,
        };
        assert_eq!(unsupported.to_vec(), [0x00, 0x01, 0x00, 0x00]);
        let bad = OneCommand {
            support: 8,
            ..unsupported
        };
        assert!(matches!(
            bad.emit(&mut [0u8; 4]),
            Err(Error::InvalidField {
                field: "SUPPORT",
                ..
            })
        ));
    }

    // --- REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS -----------------------------------------

    const LIO_LIKE_TMF: ReportedTmf = ReportedTmf {
        ats: true,
        atss: true,
        cacas: false,
        ctss: true,
        lurs: true,
        qts: true,
        trs: false,
        wakes: false,
        quas: false,
        qtss: false,
        itnrs: true,
        extended: None,
    };

    #[test]
    fn tmf_basic_and_extended() {
        assert_eq!(LIO_LIKE_TMF.to_vec(), [0xDC, 0x01, 0x00, 0x00]);
        assert_eq!(
            ReportedTmf::parse(&[0xDC, 0x01, 0x00, 0x00]).unwrap(),
            LIO_LIKE_TMF
        );

        let ext = ReportedTmf {
            extended: Some(TmfTimeouts {
                tmftmov: true,
                atts: true,
                atsts: true,
                lurts: true,
                itnrts: true,
                long_timeout: 100,
                short_timeout: 10,
                ..TmfTimeouts::default()
            }),
            ..LIO_LIKE_TMF
        };
        let want = [
            0xDC, 0x01, 0x00, 0x0C, // basic part, ADDITIONAL DATA LENGTH 0Ch
            0x01, 0x00, 0xC8, 0x01, // TMFTMOV; ATTS ATSTS LURTS; ITNRTS
            0x00, 0x00, 0x00, 0x64, // TMF LONG TIMEOUT
            0x00, 0x00, 0x00, 0x0A, // TMF SHORT TIMEOUT
        ];
        assert_eq!(ext.to_vec(), want);
        assert_eq!(ReportedTmf::parse(&want).unwrap(), ext);

        let all = ReportedTmf::parse(&[0xFF, 0x07, 0x00, 0x00]).unwrap();
        assert!(all.cacas && all.trs && all.wakes && all.quas && all.qtss);
        assert_eq!(
            ReportedTmf::parse(&[0xDC, 0x01, 0x00, 0x05]),
            Err(Error::InvalidField {
                what: RSTMF,
                field: "ADDITIONAL DATA LENGTH",
                pointer: FieldPointer::data(3, None)
            })
        );
        assert!(matches!(
            ReportedTmf::parse(&want[..15]),
            Err(Error::Truncated { needed: 16, .. })
        ));
    }

    // --- GET LBA STATUS ---------------------------------------------------------------------

    fn two_extents() -> (LbaStatus, Vec<u8>) {
        let st = LbaStatus {
            descriptors: vec![
                LbaStatusDescriptor {
                    lba: 0x1000,
                    number_of_blocks: 0x800,
                    provisioning_status: LbaStatusDescriptor::MAPPED,
                    additional_status: 0,
                },
                LbaStatusDescriptor {
                    lba: 0x1800,
                    number_of_blocks: 0x1_0000,
                    provisioning_status: LbaStatusDescriptor::DEALLOCATED,
                    additional_status: 0,
                },
            ],
        };
        let bytes = vec![
            0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, // PARAMETER DATA LENGTH = 36
            0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, //
            0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        ];
        (st, bytes)
    }

    #[test]
    fn lba_status() {
        let (st, bytes) = two_extents();
        assert_eq!(st.to_vec(), bytes);
        assert_eq!(LbaStatus::parse(&bytes).unwrap(), st);
        assert_eq!(
            LbaStatus::default().to_vec(),
            [0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0]
        );
        let mut bad = bytes.clone();
        bad[3] = 0x23;
        assert_eq!(
            LbaStatus::parse(&bad),
            Err(Error::InvalidField {
                what: GLS,
                field: "PARAMETER DATA LENGTH",
                pointer: FieldPointer::data(0, None)
            })
        );
        assert!(matches!(
            LbaStatus::parse(&bytes[..39]),
            Err(Error::Truncated { needed: 40, .. })
        ));
        let wide = LbaStatus {
            descriptors: vec![LbaStatusDescriptor {
                provisioning_status: 0x10,
                ..st.descriptors[0]
            }],
        };
        assert!(matches!(
            wide.emit(&mut [0u8; 24]),
            Err(Error::InvalidField {
                field: "PROVISIONING STATUS",
                ..
            })
        ));
    }

    #[test]
    fn lba_status_truncated_keeps_full_length() {
        let (st, bytes) = two_extents();
        let mut out = [0xEEu8; 64];
        // An initiator asking for the header only learns the full length.
        assert_eq!(st.emit_truncated(8, &mut out).unwrap(), 8);
        assert_eq!(&out[..8], &[0x00, 0x00, 0x00, 0x24, 0, 0, 0, 0]);
        assert_eq!(out[8], 0xEE);
        // Mid-descriptor.
        assert_eq!(st.emit_truncated(30, &mut out).unwrap(), 30);
        assert_eq!(&out[..30], &bytes[..30]);
        assert_eq!(out[30], 0xEE);
        // More than enough.
        assert_eq!(st.emit_truncated(1000, &mut out).unwrap(), 40);
        assert_eq!(&out[..40], &bytes[..]);
        // A short output buffer bounds it too.
        assert_eq!(st.emit_truncated(1000, &mut out[..12]).unwrap(), 12);
    }

    // --- UNMAP ------------------------------------------------------------------------------

    const TWO_UNMAPS: [u8; 40] = [
        // UNMAP DATA LENGTH 38, UNMAP BLOCK DESCRIPTOR DATA LENGTH 32, reserved
        0x00, 0x26, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, //
        0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, // 0x1000 + 8
        0, 0, 0, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0, // 2^32 + 256
    ];

    fn two_unmaps() -> UnmapParameterList {
        UnmapParameterList {
            descriptors: vec![
                UnmapDescriptor {
                    lba: 0x1000,
                    number_of_blocks: 8,
                },
                UnmapDescriptor {
                    lba: 0x1_0000_0000,
                    number_of_blocks: 256,
                },
            ],
        }
    }

    fn param_len_error(len: usize) -> Error {
        Error::ParameterListLength { what: "UNMAP", len }
    }

    #[test]
    fn unmap_two_descriptors() {
        let list = two_unmaps();
        assert_eq!(list.to_vec(), TWO_UNMAPS);
        assert_eq!(UnmapParameterList::parse(&TWO_UNMAPS).unwrap(), list);
        assert_eq!(
            UnmapParameterList::parse_with_length(&TWO_UNMAPS, 40).unwrap(),
            list
        );
        let it = UnmapDescriptors::new(&TWO_UNMAPS, 40).unwrap();
        assert_eq!(it.len(), 2);
        assert_eq!(it.collect::<Vec<_>>(), list.descriptors);
        // Bytes past the parameter list length are not looked at.
        let mut longer = TWO_UNMAPS.to_vec();
        longer.extend_from_slice(&[0xFF; 16]);
        assert_eq!(
            UnmapParameterList::parse_with_length(&longer, 40).unwrap(),
            list
        );
    }

    #[test]
    fn unmap_zero_length_is_a_no_op() {
        assert_eq!(
            UnmapParameterList::parse_with_length(&[], 0).unwrap(),
            UnmapParameterList::default()
        );
        // Whatever the buffer holds.
        assert_eq!(UnmapDescriptors::new(&TWO_UNMAPS, 0).unwrap().len(), 0);
        assert_eq!(
            UnmapParameterList::parse(&[]).unwrap(),
            UnmapParameterList::default()
        );
    }

    #[test]
    fn unmap_short_parameter_list_length() {
        for len in 1..8 {
            assert_eq!(
                UnmapParameterList::parse_with_length(&TWO_UNMAPS, len),
                Err(param_len_error(len))
            );
            assert_eq!(
                UnmapParameterList::parse(&TWO_UNMAPS[..len]),
                Err(param_len_error(len))
            );
        }
    }

    #[test]
    fn unmap_buffer_shorter_than_length() {
        assert_eq!(
            UnmapParameterList::parse_with_length(&TWO_UNMAPS[..39], 40),
            Err(param_len_error(40))
        );
        assert_eq!(
            UnmapParameterList::parse_with_length(&TWO_UNMAPS[..4], 8),
            Err(param_len_error(8))
        );
    }

    #[test]
    fn unmap_data_length_too_small_for_descriptors() {
        let mut bad = TWO_UNMAPS;
        bad[1] = 0x25; // 37 < 32 + 6
        let want = Err(Error::InvalidField {
            what: "UNMAP",
            field: "UNMAP DATA LENGTH",
            pointer: FieldPointer::param(0),
        });
        assert_eq!(UnmapParameterList::parse(&bad), want);
        assert_eq!(
            UnmapDescriptors::new(&bad, 40).map(|_| ()),
            want.map(|_| ())
        );
        // Zero UNMAP DATA LENGTH with no descriptors announced is empty, not an error.
        let empty = [0u8; 8];
        assert_eq!(
            UnmapParameterList::parse(&empty).unwrap().descriptors.len(),
            0
        );
        // A larger UNMAP DATA LENGTH than needed is accepted.
        let mut big = TWO_UNMAPS;
        big[1] = 0x30;
        assert_eq!(UnmapParameterList::parse(&big).unwrap(), two_unmaps());
    }

    #[test]
    fn unmap_descriptors_truncated_by_length_are_ignored() {
        // The header announces two descriptors but the CDB's length only covers the first.
        let list = UnmapParameterList::parse_with_length(&TWO_UNMAPS, 24).unwrap();
        assert_eq!(list.descriptors, two_unmaps().descriptors[..1]);
        // Cut in the middle of the second.
        let list = UnmapParameterList::parse_with_length(&TWO_UNMAPS, 39).unwrap();
        assert_eq!(list.descriptors.len(), 1);
        // Header only.
        assert_eq!(
            UnmapParameterList::parse_with_length(&TWO_UNMAPS, 8)
                .unwrap()
                .descriptors
                .len(),
            0
        );
    }

    #[test]
    fn unmap_incomplete_last_descriptor_is_ignored() {
        // UNMAP BLOCK DESCRIPTOR DATA LENGTH 20: one whole descriptor and 4 stray bytes.
        let mut odd = TWO_UNMAPS;
        odd[1] = 26;
        odd[3] = 20;
        let list = UnmapParameterList::parse(&odd).unwrap();
        assert_eq!(list.descriptors, two_unmaps().descriptors[..1]);
        // UNMAP BLOCK DESCRIPTOR DATA LENGTH 0 with data after it: no descriptors.
        let mut none = TWO_UNMAPS;
        none[1] = 6;
        none[3] = 0;
        assert!(
            UnmapParameterList::parse(&none)
                .unwrap()
                .descriptors
                .is_empty()
        );
    }

    const ROOMY: UnmapLimits = UnmapLimits {
        max_unmap_lba_count: 1 << 20,
        max_unmap_block_descriptor_count: 64,
        capacity_blocks: 1 << 40,
    };

    #[test]
    fn unmap_validate_accepts() {
        let list = two_unmaps();
        assert_eq!(list.validate(&ROOMY), Ok(()));
        let it = UnmapDescriptors::new(&TWO_UNMAPS, 40).unwrap();
        assert_eq!(it.validate(&ROOMY), Ok(()));
        // Validation does not consume the iterator.
        assert_eq!(it.len(), 2);
        // Ends exactly at the capacity.
        let exact = UnmapLimits {
            capacity_blocks: 0x1_0000_0100,
            ..ROOMY
        };
        assert_eq!(list.validate(&exact), Ok(()));
        // FFFF_FFFFh limits mean none.
        let unlimited = UnmapLimits {
            max_unmap_lba_count: u32::MAX,
            max_unmap_block_descriptor_count: u32::MAX,
            capacity_blocks: u64::MAX,
        };
        let huge = UnmapParameterList {
            descriptors: vec![
                UnmapDescriptor {
                    lba: 0,
                    number_of_blocks: u32::MAX,
                };
                3
            ],
        };
        assert_eq!(huge.validate(&unlimited), Ok(()));
    }

    #[test]
    fn unmap_too_many_descriptors() {
        let limits = UnmapLimits {
            max_unmap_block_descriptor_count: 1,
            ..ROOMY
        };
        let r = two_unmaps().validate(&limits).unwrap_err();
        assert_eq!(r, UnmapRejection::TooManyDescriptors { count: 2, max: 1 });
        assert_eq!(r.field_pointer(), Some(FieldPointer::param(2)));
        assert_eq!(
            r.to_error(),
            Some(Error::InvalidField {
                what: "UNMAP",
                field: "UNMAP BLOCK DESCRIPTOR DATA LENGTH",
                pointer: FieldPointer::param(2),
            })
        );
        let it = UnmapDescriptors::new(&TWO_UNMAPS, 40).unwrap();
        assert_eq!(it.validate(&limits), Err(r));
    }

    #[test]
    fn unmap_too_many_blocks_counts_the_total() {
        // 8 + 256 = 264 > 200, though each descriptor alone fits.
        let limits = UnmapLimits {
            max_unmap_lba_count: 200,
            ..ROOMY
        };
        let r = two_unmaps().validate(&limits).unwrap_err();
        assert_eq!(
            r,
            UnmapRejection::TooManyBlocks {
                index: 1,
                total: 264,
                max: 200
            }
        );
        // NUMBER OF LOGICAL BLOCKS of the second descriptor: 8 + 16 + 8.
        assert_eq!(r.field_pointer(), Some(FieldPointer::param(32)));
        assert_eq!(
            r.to_error(),
            Some(Error::InvalidField {
                what: "UNMAP",
                field: "NUMBER OF LOGICAL BLOCKS",
                pointer: FieldPointer::param(32),
            })
        );
        let limits = UnmapLimits {
            max_unmap_lba_count: 264,
            ..ROOMY
        };
        assert_eq!(two_unmaps().validate(&limits), Ok(()));
    }

    #[test]
    fn unmap_lba_out_of_range() {
        let limits = UnmapLimits {
            capacity_blocks: 0x1_0000_00FF,
            ..ROOMY
        };
        let r = two_unmaps().validate(&limits).unwrap_err();
        assert_eq!(
            r,
            UnmapRejection::LbaOutOfRange {
                index: 1,
                lba: 0x1_0000_0000,
                number_of_blocks: 256
            }
        );
        assert_eq!(r.field_pointer(), None);
        assert_eq!(r.to_error(), None);
        // LBA + blocks overflowing 64 bits.
        let wrap = UnmapParameterList {
            descriptors: vec![UnmapDescriptor {
                lba: u64::MAX,
                number_of_blocks: 1,
            }],
        };
        assert!(matches!(
            wrap.validate(&UnmapLimits {
                capacity_blocks: u64::MAX,
                ..ROOMY
            }),
            Err(UnmapRejection::LbaOutOfRange { index: 0, .. })
        ));
        // Zero blocks at the capacity is fine; one past it is not.
        let at = |lba| UnmapParameterList {
            descriptors: vec![UnmapDescriptor {
                lba,
                number_of_blocks: 0,
            }],
        };
        let small = UnmapLimits {
            capacity_blocks: 100,
            ..ROOMY
        };
        assert_eq!(at(100).validate(&small), Ok(()));
        assert!(at(101).validate(&small).is_err());
    }

    #[test]
    fn unmap_emit_limits() {
        let full = UnmapParameterList {
            descriptors: vec![
                UnmapDescriptor {
                    lba: 1,
                    number_of_blocks: 1
                };
                UnmapParameterList::MAX_DESCRIPTORS
            ],
        };
        let v = full.to_vec();
        assert_eq!(&v[..4], &[0xFF, 0xF6, 0xFF, 0xF0]);
        assert_eq!(UnmapParameterList::parse(&v).unwrap(), full);
        let mut too_many = full.clone();
        too_many.descriptors.push(UnmapDescriptor {
            lba: 2,
            number_of_blocks: 2,
        });
        let mut buf = vec![0u8; too_many.buffer_len()];
        assert!(matches!(
            too_many.emit(&mut buf),
            Err(Error::InvalidField {
                field: "UNMAP DATA LENGTH",
                ..
            })
        ));
    }

    // --- WRITE SAME -------------------------------------------------------------------------

    #[test]
    fn write_same_block_length() {
        let block = [0x5Au8; 512];
        assert_eq!(write_same_block(&block, 512).unwrap(), &block[..]);
        assert_eq!(
            write_same_block(&block[..511], 512),
            Err(Error::ParameterListLength {
                what: "WRITE SAME",
                len: 511
            })
        );
        assert_eq!(
            write_same_block(&[0u8; 4096], 512),
            Err(Error::ParameterListLength {
                what: "WRITE SAME",
                len: 4096
            })
        );
    }

    // --- REPORT LUNS ------------------------------------------------------------------------

    #[test]
    fn report_luns_0_5_300() {
        let luns = ReportLuns {
            luns: vec![
                Lun::from_index(0).unwrap(),
                Lun::from_index(5).unwrap(),
                Lun::from_index(300).unwrap(),
            ],
        };
        let want = [
            0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, // LUN LIST LENGTH 24
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 0, peripheral
            0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 5, peripheral
            0x41, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 300, flat space
        ];
        assert_eq!(luns.to_vec(), want);
        let back = ReportLuns::parse(&want).unwrap();
        assert_eq!(back, luns);
        let idx: Vec<_> = back.luns.iter().map(Lun::index).collect();
        assert_eq!(idx, [Some(0), Some(5), Some(300)]);
        assert_eq!(back.luns[2].address_method(), 0b01);

        // The usual first probe: 16 bytes.
        let mut out = [0xEEu8; 16];
        assert_eq!(luns.emit_truncated(16, &mut out).unwrap(), 16);
        assert_eq!(out, want[..16]);

        let mut bad = want;
        bad[3] = 0x17;
        assert!(matches!(
            ReportLuns::parse(&bad),
            Err(Error::InvalidField {
                field: "LUN LIST LENGTH",
                ..
            })
        ));
        assert!(matches!(
            ReportLuns::parse(&want[..31]),
            Err(Error::Truncated { needed: 32, .. })
        ));
    }

    #[test]
    fn lun_forms() {
        assert_eq!(Lun::from_index(255).unwrap().0, [0, 0xFF, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Lun::from_index(256).unwrap().0,
            [0x41, 0x00, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Lun::from_index(16383).unwrap().0,
            [0x7F, 0xFF, 0, 0, 0, 0, 0, 0]
        );
        assert!(matches!(
            Lun::from_index(16384),
            Err(Error::InvalidField { field: "LUN", .. })
        ));
        // Peripheral addressing on another bus, a second level, the REPORT LUNS well-known
        // LUN and extended addressing are not single-level indexes.
        assert_eq!(Lun([0x01, 0x05, 0, 0, 0, 0, 0, 0]).index(), None);
        assert_eq!(Lun([0x00, 0x05, 0x00, 0x01, 0, 0, 0, 0]).index(), None);
        assert_eq!(Lun([0xC1, 0x01, 0, 0, 0, 0, 0, 0]).index(), None);
        assert_eq!(Lun([0x80, 0x01, 0, 0, 0, 0, 0, 0]).index(), None);
        // Flat space addressing below 256 still decodes.
        assert_eq!(Lun([0x40, 0x05, 0, 0, 0, 0, 0, 0]).index(), Some(5));
        let raw: [u8; 8] = Lun::from_index(300).unwrap().into();
        assert_eq!(Lun::from(raw).index(), Some(300));
    }

    // --- PERSISTENT RESERVE IN --------------------------------------------------------------

    #[test]
    fn read_keys() {
        let keys = ReadKeys {
            generation: 7,
            keys: vec![0x1122_3344_5566_7788, 0xAB],
        };
        let want = [
            0, 0, 0, 7, 0, 0, 0, 0x10, // PRGENERATION, ADDITIONAL LENGTH
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
            0, 0, 0, 0, 0, 0, 0, 0xAB,
        ];
        assert_eq!(keys.to_vec(), want);
        assert_eq!(ReadKeys::parse(&want).unwrap(), keys);
        assert!(matches!(
            ReadKeys::parse(&[0, 0, 0, 7, 0, 0, 0, 0x0F]),
            Err(Error::InvalidField {
                field: "ADDITIONAL LENGTH",
                ..
            })
        ));
    }

    #[test]
    fn read_reservation() {
        let none = ReadReservation {
            generation: 3,
            reservation: None,
        };
        assert_eq!(none.to_vec(), [0, 0, 0, 3, 0, 0, 0, 0]);
        let held = ReadReservation {
            generation: 3,
            reservation: Some(Reservation {
                key: 0xABCD,
                scope: 0,
                pr_type: 5,
            }),
        };
        let want = [
            0, 0, 0, 3, 0, 0, 0, 0x10, //
            0, 0, 0, 0, 0, 0, 0xAB, 0xCD, // RESERVATION KEY
            0, 0, 0, 0, 0x00, 0x05, 0, 0, // SCOPE 0, TYPE 5
        ];
        assert_eq!(held.to_vec(), want);
        assert_eq!(ReadReservation::parse(&want).unwrap(), held);
        assert!(matches!(
            ReadReservation::parse(&[0, 0, 0, 3, 0, 0, 0, 0x08]),
            Err(Error::InvalidField {
                field: "ADDITIONAL LENGTH",
                ..
            })
        ));
    }

    // --- proptest: round trips --------------------------------------------------------------

    fn arb_timeouts() -> impl Strategy<Value = CommandTimeouts> {
        (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(c, n, r)| CommandTimeouts {
            command_specific: c,
            nominal_processing_timeout: n,
            recommended_timeout: r,
        })
    }

    fn arb_all_commands() -> impl Strategy<Value = AllCommands> {
        (
            any::<bool>(),
            vec(
                (
                    any::<u8>(),
                    option::of(any::<u16>()),
                    any::<u16>(),
                    arb_timeouts(),
                ),
                0..24,
            ),
        )
            .prop_map(|(with_t, ds)| AllCommands {
                descriptors: ds
                    .into_iter()
                    .map(
                        |(opcode, service_action, cdb_length, t)| CommandDescriptor {
                            opcode,
                            service_action,
                            cdb_length,
                            timeouts: with_t.then_some(t),
                        },
                    )
                    .collect(),
            })
    }

    fn arb_one_command() -> impl Strategy<Value = OneCommand> {
        (0u8..8, vec(any::<u8>(), 0..40), option::of(arb_timeouts())).prop_map(
            |(support, cdb_usage_data, timeouts)| OneCommand {
                support,
                cdb_usage_data,
                timeouts,
            },
        )
    }

    fn arb_read_capacity_16() -> impl Strategy<Value = ReadCapacity16Data> {
        (
            (any::<u64>(), any::<u32>(), 0u8..4, 0u8..8, any::<bool>()),
            (0u8..16, 0u8..16, any::<bool>(), any::<bool>(), 0u16..0x4000),
        )
            .prop_map(|((lba, bl, rc, pt, pe), (pie, lbppbe, me, rz, lal))| {
                ReadCapacity16Data {
                    returned_lba: lba,
                    block_length: bl,
                    rc_basis: rc,
                    p_type: pt,
                    prot_en: pe,
                    p_i_exponent: pie,
                    logical_blocks_per_physical_block_exponent: lbppbe,
                    lbpme: me,
                    lbprz: rz,
                    lowest_aligned_lba: lal,
                }
            })
    }

    fn arb_tmf() -> impl Strategy<Value = ReportedTmf> {
        let ext =
            (any::<[bool; 10]>(), any::<u32>(), any::<u32>()).prop_map(|(b, l, s)| TmfTimeouts {
                tmftmov: b[0],
                atts: b[1],
                atsts: b[2],
                cacats: b[3],
                ctsts: b[4],
                lurts: b[5],
                qtts: b[6],
                quats: b[7],
                qtsts: b[8],
                itnrts: b[9],
                long_timeout: l,
                short_timeout: s,
            });
        (any::<[bool; 11]>(), option::of(ext)).prop_map(|(b, extended)| ReportedTmf {
            ats: b[0],
            atss: b[1],
            cacas: b[2],
            ctss: b[3],
            lurs: b[4],
            qts: b[5],
            trs: b[6],
            wakes: b[7],
            quas: b[8],
            qtss: b[9],
            itnrs: b[10],
            extended,
        })
    }

    fn arb_lba_status() -> impl Strategy<Value = LbaStatus> {
        vec(
            (any::<u64>(), any::<u32>(), 0u8..16, any::<u8>()).prop_map(|(lba, n, p, a)| {
                LbaStatusDescriptor {
                    lba,
                    number_of_blocks: n,
                    provisioning_status: p,
                    additional_status: a,
                }
            }),
            0..20,
        )
        .prop_map(|descriptors| LbaStatus { descriptors })
    }

    fn arb_unmap_list() -> impl Strategy<Value = UnmapParameterList> {
        vec(
            (any::<u64>(), any::<u32>()).prop_map(|(lba, number_of_blocks)| UnmapDescriptor {
                lba,
                number_of_blocks,
            }),
            0..40,
        )
        .prop_map(|descriptors| UnmapParameterList { descriptors })
    }

    fn arb_report_luns() -> impl Strategy<Value = ReportLuns> {
        vec(any::<[u8; 8]>().prop_map(Lun), 0..40).prop_map(|luns| ReportLuns { luns })
    }

    fn arb_read_reservation() -> impl Strategy<Value = ReadReservation> {
        (
            any::<u32>(),
            option::of(
                (any::<u64>(), 0u8..16, 0u8..16).prop_map(|(key, scope, pr_type)| Reservation {
                    key,
                    scope,
                    pr_type,
                }),
            ),
        )
            .prop_map(|(generation, reservation)| ReadReservation {
                generation,
                reservation,
            })
    }

    fn arb_limits() -> impl Strategy<Value = UnmapLimits> {
        (
            prop_oneof![Just(u32::MAX), any::<u32>(), 0u32..1000],
            prop_oneof![Just(u32::MAX), 0u32..8],
            prop_oneof![Just(u64::MAX), any::<u64>()],
        )
            .prop_map(|(a, b, c)| UnmapLimits {
                max_unmap_lba_count: a,
                max_unmap_block_descriptor_count: b,
                capacity_blocks: c,
            })
    }

    proptest! {
        #[test]
        fn roundtrip_read_capacity_10(lba in any::<u32>(), bl in any::<u32>()) {
            assert_roundtrip(&ReadCapacity10Data { returned_lba: lba, block_length: bl });
        }

        #[test]
        fn read_capacity_10_for_device(n in any::<u64>(), bl in any::<u32>()) {
            let rc = ReadCapacity10Data::for_device(n, bl);
            if n >= 1 && n - 1 < u64::from(u32::MAX) {
                prop_assert_eq!(u64::from(rc.returned_lba), n - 1);
            } else if n > u64::from(u32::MAX) {
                prop_assert!(rc.needs_read_capacity_16());
            }
            prop_assert_eq!(ReadCapacity16Data::for_device(n, bl).number_of_blocks(), n.max(1));
        }

        #[test]
        fn roundtrip_read_capacity_16(x in arb_read_capacity_16()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_command_timeouts(x in arb_timeouts()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_all_commands(x in arb_all_commands()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_one_command(x in arb_one_command()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_tmf(x in arb_tmf()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_lba_status(x in arb_lba_status()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_unmap(x in arb_unmap_list()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_report_luns(x in arb_report_luns()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn roundtrip_read_keys(generation in any::<u32>(), keys in vec(any::<u64>(), 0..40)) {
            assert_roundtrip(&ReadKeys { generation, keys });
        }

        #[test]
        fn roundtrip_read_reservation(x in arb_read_reservation()) {
            assert_roundtrip(&x);
        }

        #[test]
        fn lun_index_roundtrip(i in 0u16..0x4000) {
            prop_assert_eq!(Lun::from_index(i).unwrap().index(), Some(i));
        }

        #[test]
        fn lun_index_out_of_range(i in 0x4000u16..) {
            prop_assert!(Lun::from_index(i).is_err());
        }

        // --- truncation ---------------------------------------------------------------------

        #[test]
        fn lba_status_emit_truncated_is_copy_truncated(
            x in arb_lba_status(), alloc in 0usize..400, out_len in 0usize..400,
        ) {
            let mut a = vec![0u8; out_len];
            let mut b = vec![0u8; out_len];
            let n = x.emit_truncated(alloc, &mut a).unwrap();
            let m = copy_truncated(&x.to_vec(), alloc, &mut b);
            prop_assert_eq!(n, m);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn report_luns_emit_truncated_is_copy_truncated(
            x in arb_report_luns(), alloc in 0usize..400, out_len in 0usize..400,
        ) {
            let mut a = vec![0u8; out_len];
            let mut b = vec![0u8; out_len];
            let n = x.emit_truncated(alloc, &mut a).unwrap();
            let m = copy_truncated(&x.to_vec(), alloc, &mut b);
            prop_assert_eq!(n, m);
            prop_assert_eq!(a, b);
        }

        // --- UNMAP: iterator and owned parse agree; validation agrees -----------------------

        #[test]
        fn unmap_iterator_matches_parse(
            bytes in vec(any::<u8>(), 0..600), len in 0usize..700,
        ) {
            let owned = UnmapParameterList::parse_with_length(&bytes, len);
            match UnmapDescriptors::new(&bytes, len) {
                Ok(it) => {
                    let n = it.len();
                    let items: Vec<_> = it.collect();
                    prop_assert_eq!(items.len(), n);
                    prop_assert_eq!(owned, Ok(UnmapParameterList { descriptors: items }));
                }
                Err(e) => prop_assert_eq!(owned, Err(e)),
            }
        }

        #[test]
        fn unmap_iterator_matches_parse_on_valid_lists(
            x in arb_unmap_list(), len in 0usize..700, lim in arb_limits(),
        ) {
            let bytes = x.to_vec();
            let len = len.min(bytes.len());
            let owned = UnmapParameterList::parse_with_length(&bytes, len);
            match UnmapDescriptors::new(&bytes, len) {
                Ok(it) => {
                    let owned = owned.unwrap();
                    prop_assert_eq!(it.validate(&lim), owned.validate(&lim));
                    let items: Vec<_> = it.collect();
                    prop_assert_eq!(&items[..], &x.descriptors[..items.len()]);
                    prop_assert_eq!(items, owned.descriptors);
                }
                Err(e) => {
                    prop_assert!((1..8).contains(&len));
                    prop_assert_eq!(owned, Err(e));
                }
            }
        }

        #[test]
        fn unmap_validate_is_consistent(x in arb_unmap_list(), lim in arb_limits()) {
            match x.validate(&lim) {
                Ok(()) => {
                    for d in &x.descriptors {
                        let end = d.lba.checked_add(u64::from(d.number_of_blocks));
                        prop_assert!(end.is_some_and(|e| e <= lim.capacity_blocks));
                    }
                }
                Err(UnmapRejection::LbaOutOfRange { index, lba, number_of_blocks }) => {
                    prop_assert_eq!(x.descriptors[index].lba, lba);
                    prop_assert_eq!(x.descriptors[index].number_of_blocks, number_of_blocks);
                }
                Err(r) => prop_assert!(r.to_error().is_some()),
            }
        }

        // --- parsers never panic ------------------------------------------------------------

        #[test]
        fn parsers_never_panic(bytes in vec(any::<u8>(), 0..600)) {
            let _ = ReadCapacity10Data::parse(&bytes);
            let _ = ReadCapacity16Data::parse(&bytes);
            let _ = CommandTimeouts::parse(&bytes);
            let _ = AllCommands::parse(&bytes);
            let _ = OneCommand::parse(&bytes);
            let _ = ReportedTmf::parse(&bytes);
            let _ = LbaStatus::parse(&bytes);
            let _ = UnmapParameterList::parse(&bytes);
            let _ = ReportLuns::parse(&bytes);
            let _ = ReadKeys::parse(&bytes);
            let _ = ReadReservation::parse(&bytes);
        }

        #[test]
        fn unmap_parse_with_any_length_never_panics(
            bytes in vec(any::<u8>(), 0..600),
            len in prop_oneof![0usize..700, any::<usize>()],
        ) {
            let _ = UnmapParameterList::parse_with_length(&bytes, len);
        }

        #[test]
        fn write_same_never_panics(bytes in vec(any::<u8>(), 0..600), bl in any::<u32>()) {
            let r = write_same_block(&bytes, bl);
            prop_assert_eq!(r.is_ok(), usize::try_from(bl) == Ok(bytes.len()));
        }

        /// Whatever parses re-emits to something that parses to the same value.
        #[test]
        fn parsed_values_re_emit(bytes in vec(any::<u8>(), 0..600)) {
            if let Ok(x) = AllCommands::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = OneCommand::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = ReportedTmf::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = ReadCapacity16Data::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = LbaStatus::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = UnmapParameterList::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = ReportLuns::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = ReadKeys::parse(&bytes) { assert_roundtrip(&x); }
            if let Ok(x) = ReadReservation::parse(&bytes) { assert_roundtrip(&x); }
        }
    }
}
