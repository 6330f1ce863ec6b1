//! The exact layout of `include/uapi/linux/target_core_user.h` (TCMU mailbox version 2) as
//! zerocopy types, with compile-time checks of every size and offset against the header.
//!
//! The kernel writes these structures in the host's byte order, so fields are zerocopy's
//! native-endian types. Only LP64 targets are supported: `struct iovec` is 16 bytes there and
//! the entry offsets below hold (32-bit ABIs place `cdb_off` and the iovecs elsewhere).

use bitflags::bitflags;
use core::mem::{offset_of, size_of};
use zerocopy::byteorder::{NativeEndian, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

#[cfg(not(target_pointer_width = "64"))]
compile_error!("tcmu-ring supports LP64 targets only (the TCMU entry layout differs on 32-bit)");

/// `TCMU_MAILBOX_VERSION`: the only mailbox version this crate speaks.
pub const MAILBOX_VERSION: u16 = 2;
/// `TCMU_SENSE_BUFFERSIZE`: the sense bytes a completion can carry.
pub const SENSE_BUFFER_SIZE: usize = 96;
/// `TCMU_OP_ALIGN_SIZE`: every ring entry's length is a multiple of this.
pub const ENTRY_ALIGN: u32 = 8;
/// `TCMU_OP_MASK`: the opcode bits of `len_op`.
pub const OP_MASK: u32 = 0x7;

bitflags! {
    /// `tcmu_mailbox.flags`: what the kernel supports.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct MailboxFlags: u16 {
        /// `TCMU_MAILBOX_FLAG_CAP_OOOC`: completions may be written in any order.
        const CAP_OOOC = 1 << 0;
        /// `TCMU_MAILBOX_FLAG_CAP_READ_LEN`: a completion may report a short read.
        const CAP_READ_LEN = 1 << 1;
        /// `TCMU_MAILBOX_FLAG_CAP_TMR`: TMR notifications may appear on the ring.
        const CAP_TMR = 1 << 2;
        /// `TCMU_MAILBOX_FLAG_CAP_KEEP_BUF`: a completion may keep its data buffer.
        const CAP_KEEP_BUF = 1 << 3;
    }
}

bitflags! {
    /// `tcmu_cmd_entry_hdr.uflags`: what user space tells the kernel about a completion.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct UFlags: u8 {
        /// `TCMU_UFLAG_UNKNOWN_OP`: user space did not understand the entry.
        const UNKNOWN_OP = 0x1;
        /// `TCMU_UFLAG_READ_LEN`: `read_len` holds the bytes actually read.
        const READ_LEN = 0x2;
        /// `TCMU_UFLAG_KEEP_BUF`: keep the data buffer until `action/free_kept_buf`.
        const KEEP_BUF = 0x4;
    }
}

/// `enum tcmu_opcode`: the low three bits of `len_op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryOp {
    /// `TCMU_OP_PAD`: filler up to the end of the ring.
    Pad,
    /// `TCMU_OP_CMD`: a SCSI command.
    Cmd,
    /// `TCMU_OP_TMR`: a task management notification.
    Tmr,
    /// Any other value: the ring is corrupt or from a newer kernel.
    Unknown(u8),
}

impl EntryOp {
    /// Decodes the opcode bits of `len_op`.
    pub const fn from_len_op(len_op: u32) -> Self {
        match len_op & OP_MASK {
            0 => EntryOp::Pad,
            1 => EntryOp::Cmd,
            2 => EntryOp::Tmr,
            // Masked to three bits, so the cast is exact.
            n => EntryOp::Unknown(n as u8),
        }
    }

    /// The opcode bits for `len_op`.
    pub const fn bits(self) -> u32 {
        match self {
            EntryOp::Pad => 0,
            EntryOp::Cmd => 1,
            EntryOp::Tmr => 2,
            EntryOp::Unknown(n) => n as u32 & OP_MASK,
        }
    }
}

/// Packs an entry length (a multiple of [`ENTRY_ALIGN`]) and an opcode into `len_op`.
pub const fn len_op(len: u32, op: EntryOp) -> u32 {
    (len & !OP_MASK) | op.bits()
}

/// The length part of `len_op`.
pub const fn entry_len(len_op: u32) -> u32 {
    len_op & !OP_MASK
}

/// `struct tcmu_mailbox`: the first 128 bytes of the mapping. `cmd_head` is written by the
/// kernel, `cmd_tail` (on its own 64-byte line) by user space; both are accessed atomically
/// through [`crate::region::SharedRegion`], never through this struct.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Mailbox {
    /// `TCMU_MAILBOX_VERSION`.
    pub version: U16<NativeEndian>,
    /// [`MailboxFlags`].
    pub flags: U16<NativeEndian>,
    /// Offset of the command ring from the start of the mapping.
    pub cmdr_off: U32<NativeEndian>,
    /// Size of the command ring in bytes.
    pub cmdr_size: U32<NativeEndian>,
    /// Producer index: offset within the ring of the next entry the kernel will write.
    pub cmd_head: U32<NativeEndian>,
    _pad0: [u8; 48],
    /// Consumer index: offset within the ring of the next entry user space will complete.
    pub cmd_tail: U32<NativeEndian>,
    _pad1: [u8; 60],
}

/// `struct tcmu_cmd_entry_hdr`: the 8 bytes every ring entry starts with.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EntryHeader {
    /// Entry length (multiple of 8) and [`EntryOp`] in the low three bits.
    pub len_op: U32<NativeEndian>,
    /// The kernel's command id, 1..=0xFFFF.
    pub cmd_id: U16<NativeEndian>,
    /// Kernel flags (unused by the kernel today).
    pub kflags: u8,
    /// [`UFlags`], written by user space with a completion.
    pub uflags: u8,
}

/// The request half of `struct tcmu_cmd_entry`'s union, as the kernel writes it (it starts at
/// entry offset 8; the inner struct is naturally aligned, hence the padding before `cdb_off`).
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CmdRequest {
    /// Number of iovecs: Data-Out (or Data-In) buffers.
    pub iov_cnt: U32<NativeEndian>,
    /// Number of further iovecs holding the Data-In buffers of a bidirectional command.
    pub iov_bidi_cnt: U32<NativeEndian>,
    /// Protection information iovecs (always 0).
    pub iov_dif_cnt: U32<NativeEndian>,
    _pad0: U32<NativeEndian>,
    /// Offset of the CDB from the start of the mapping.
    pub cdb_off: U64<NativeEndian>,
    _pad1: U64<NativeEndian>,
    _pad2: U64<NativeEndian>,
}

/// The response half of the union, written by user space over the request.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CmdResponse {
    /// SCSI status byte.
    pub scsi_status: u8,
    _pad1: u8,
    _pad2: U16<NativeEndian>,
    /// Bytes actually transferred for a short read (with [`UFlags::READ_LEN`]).
    pub read_len: U32<NativeEndian>,
    /// Sense data for CHECK CONDITION.
    pub sense_buffer: [u8; SENSE_BUFFER_SIZE],
}

impl CmdResponse {
    /// A response with the given status, `read_len` and sense bytes (at most 96, the rest
    /// zero; longer sense is cut, as the kernel would cut it).
    pub fn new(scsi_status: u8, read_len: u32, sense: &[u8]) -> Self {
        let mut sense_buffer = [0; SENSE_BUFFER_SIZE];
        let n = sense.len().min(SENSE_BUFFER_SIZE);
        sense_buffer[..n].copy_from_slice(&sense[..n]);
        CmdResponse {
            scsi_status,
            _pad1: 0,
            _pad2: U16::ZERO,
            read_len: U32::new(read_len),
            sense_buffer,
        }
    }
}

/// `struct iovec` as the kernel fills it in a ring entry: `iov_base` is an offset from the
/// start of the mapping, not a pointer.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RingIovec {
    /// Offset of the buffer from the start of the mapping.
    pub iov_base: U64<NativeEndian>,
    /// Length of the buffer.
    pub iov_len: U64<NativeEndian>,
}

/// `struct tcmu_tmr_entry` without its trailing `cmd_ids[]` (u16 each).
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TmrEntry {
    /// Header; `cmd_id` is unused for TMR entries.
    pub hdr: EntryHeader,
    /// `enum tcmu_tmr_type`.
    pub tmr_type: u8,
    _pad1: u8,
    _pad2: U16<NativeEndian>,
    /// Number of command ids that follow.
    pub cmd_cnt: U32<NativeEndian>,
    _pad3: U64<NativeEndian>,
    _pad4: U64<NativeEndian>,
}

/// Offset of `cmd_head` in the mailbox.
pub const MB_CMD_HEAD: usize = offset_of!(Mailbox, cmd_head);
/// Offset of `cmd_tail` in the mailbox.
pub const MB_CMD_TAIL: usize = offset_of!(Mailbox, cmd_tail);
/// `CMDR_OFF`: the command ring follows the mailbox.
pub const CMDR_OFF: usize = size_of::<Mailbox>();
/// Offset of the request / response union in an entry.
pub const ENTRY_UNION_OFF: usize = size_of::<EntryHeader>();
/// Offset of the first iovec in a command entry.
pub const ENTRY_IOV_OFF: usize = ENTRY_UNION_OFF + size_of::<CmdRequest>();
/// `sizeof(struct tcmu_cmd_entry)`: the smallest command entry, and the room a response needs.
pub const CMD_ENTRY_MIN: usize = ENTRY_UNION_OFF + size_of::<CmdResponse>();
/// Offset of `cmd_ids[]` in a TMR entry.
pub const TMR_IDS_OFF: usize = size_of::<TmrEntry>();

// Every size and offset of the UAPI header on LP64, checked at compile time.
const _: () = {
    assert!(size_of::<Mailbox>() == 128);
    assert!(offset_of!(Mailbox, version) == 0);
    assert!(offset_of!(Mailbox, flags) == 2);
    assert!(offset_of!(Mailbox, cmdr_off) == 4);
    assert!(offset_of!(Mailbox, cmdr_size) == 8);
    assert!(MB_CMD_HEAD == 12);
    assert!(MB_CMD_TAIL == 64);
    assert!(size_of::<EntryHeader>() == 8);
    assert!(offset_of!(EntryHeader, cmd_id) == 4);
    assert!(offset_of!(EntryHeader, kflags) == 6);
    assert!(offset_of!(EntryHeader, uflags) == 7);
    assert!(size_of::<CmdRequest>() == 40);
    assert!(ENTRY_UNION_OFF + offset_of!(CmdRequest, iov_cnt) == 8);
    assert!(ENTRY_UNION_OFF + offset_of!(CmdRequest, iov_bidi_cnt) == 12);
    assert!(ENTRY_UNION_OFF + offset_of!(CmdRequest, iov_dif_cnt) == 16);
    assert!(ENTRY_UNION_OFF + offset_of!(CmdRequest, cdb_off) == 24);
    assert!(ENTRY_IOV_OFF == 48);
    assert!(size_of::<CmdResponse>() == 104);
    assert!(ENTRY_UNION_OFF + offset_of!(CmdResponse, read_len) == 12);
    assert!(ENTRY_UNION_OFF + offset_of!(CmdResponse, sense_buffer) == 16);
    assert!(CMD_ENTRY_MIN == 112);
    assert!(size_of::<RingIovec>() == 16);
    assert!(size_of::<TmrEntry>() == 32);
    assert!(offset_of!(TmrEntry, tmr_type) == 8);
    assert!(offset_of!(TmrEntry, cmd_cnt) == 12);
    assert!(CMD_ENTRY_MIN % ENTRY_ALIGN as usize == 0);
};

/// The size of the command entry the kernel writes for `iov_cnt` iovecs and a CDB of
/// `cdb_len` bytes: the header and iovecs (at least a full `tcmu_cmd_entry`, so the response
/// fits), then the CDB, rounded up to [`ENTRY_ALIGN`].
pub const fn cmd_entry_size(iov_cnt: usize, cdb_len: usize) -> usize {
    let base = ENTRY_IOV_OFF + iov_cnt * size_of::<RingIovec>();
    let base = if base < CMD_ENTRY_MIN { CMD_ENTRY_MIN } else { base };
    let align = ENTRY_ALIGN as usize;
    base + cdb_len.div_ceil(align) * align
}

/// `enum tcmu_tmr_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TmrType {
    /// ABORT TASK.
    AbortTask,
    /// ABORT TASK SET.
    AbortTaskSet,
    /// CLEAR ACA.
    ClearAca,
    /// CLEAR TASK SET.
    ClearTaskSet,
    /// LOGICAL UNIT RESET.
    LunReset,
    /// I_T NEXUS RESET.
    TargetWarmReset,
    /// TARGET COLD RESET.
    TargetColdReset,
    /// LUN reset from a persistent reservation PREEMPT AND ABORT.
    LunResetPro,
    /// A value this crate does not know.
    Unknown(u8),
}

impl TmrType {
    /// Decodes `tmr_type`.
    pub const fn from_u8(v: u8) -> Self {
        match v {
            1 => TmrType::AbortTask,
            2 => TmrType::AbortTaskSet,
            3 => TmrType::ClearAca,
            4 => TmrType::ClearTaskSet,
            5 => TmrType::LunReset,
            6 => TmrType::TargetWarmReset,
            7 => TmrType::TargetColdReset,
            128 => TmrType::LunResetPro,
            n => TmrType::Unknown(n),
        }
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            TmrType::AbortTask => 1,
            TmrType::AbortTaskSet => 2,
            TmrType::ClearAca => 3,
            TmrType::ClearTaskSet => 4,
            TmrType::LunReset => 5,
            TmrType::TargetWarmReset => 6,
            TmrType::TargetColdReset => 7,
            TmrType::LunResetPro => 128,
            TmrType::Unknown(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_op_packing() {
        let v = len_op(112, EntryOp::Cmd);
        assert_eq!(v, 113);
        assert_eq!(entry_len(v), 112);
        assert_eq!(EntryOp::from_len_op(v), EntryOp::Cmd);
        assert_eq!(EntryOp::from_len_op(len_op(8, EntryOp::Pad)), EntryOp::Pad);
        assert_eq!(EntryOp::from_len_op(len_op(32, EntryOp::Tmr)), EntryOp::Tmr);
        assert_eq!(EntryOp::from_len_op(5), EntryOp::Unknown(5));
    }

    #[test]
    fn entry_sizes_follow_the_kernel() {
        // One iovec and a 10-byte CDB: header+iov = 64 < 112, so 112 + 16.
        assert_eq!(cmd_entry_size(1, 10), 128);
        // Four iovecs: 48 + 64 = 112, plus a 16-byte CDB.
        assert_eq!(cmd_entry_size(4, 16), 128);
        // Many iovecs: the iovecs dominate.
        assert_eq!(cmd_entry_size(256, 32), 48 + 256 * 16 + 32);
        assert_eq!(cmd_entry_size(0, 6), 120);
    }

    #[test]
    fn response_bytes() {
        let r = CmdResponse::new(0x02, 512, &[0x70, 0, 5]);
        let b = r.as_bytes();
        assert_eq!(b[0], 2);
        assert_eq!(&b[4..8], &512u32.to_ne_bytes());
        assert_eq!(&b[8..11], &[0x70, 0, 5]);
        assert!(b[11..].iter().all(|&x| x == 0));
        assert_eq!(TmrType::from_u8(TmrType::LunResetPro.as_u8()), TmrType::LunResetPro);
    }
}
