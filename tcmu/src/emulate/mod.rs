//! The SBC command set emulated on top of a [`BlockDevice`]: every command LIO hands a TCMU
//! device, decoded with `scsi-proto` and answered in the command's own data.
//!
//! The emulation knows no ring: [`Emulator::execute`] takes a CDB and the command's data
//! through the [`CommandData`] trait (a byte vector in tests, the ring's buffers when served,
//! through the adapter in `ring_adapter.rs`) and returns a [`Reply`]. Data moves between the
//! backend and the command's buffers directly (READ fills them, WRITE takes from them).
//! Unknown or unsupported commands get CHECK CONDITION, ILLEGAL REQUEST, INVALID COMMAND
//! OPERATION CODE; invalid fields get INVALID FIELD IN CDB / PARAMETER LIST with the
//! sense-key-specific pointer at the field; the sense format follows the Control mode page's
//! D_SENSE.
//!
//! One table ([`Emulator::supports`] and the dispatch both read it) says which commands are
//! emulated, by which function, and which of them change the medium. The command families
//! live one per file: `rw` (READ, WRITE, VERIFY, WRITE AND VERIFY), `inquiry` (INQUIRY and
//! VPD), `mode` (MODE SENSE / SELECT), `unmap` (UNMAP, WRITE SAME), `caw` (COMPARE AND
//! WRITE), `xcopy` (EXTENDED COPY, RECEIVE COPY RESULTS), `capacity` (READ CAPACITY, GET LBA
//! STATUS) and `misc` (the rest). The device behaviour they decide with is public, in
//! [`mode_pages`] (the mode pages' current, changeable and default values, MODE SENSE data,
//! MODE SELECT checks), [`unmap_limits`] (what an UNMAP list is checked against) and
//! [`copy_manager`] (the EXTENDED COPY limits, list checks and planning).
//!
//! # Durability
//!
//! One rule decides when a command's changes must be on stable storage before it ends GOOD
//! (`Emulator::must_be_durable`): when the command has FUA set, when the Caching mode page
//! says there is no write cache (WCE = 0: Linux then never sends SYNCHRONIZE CACHE), and always
//! for WRITE AND VERIFY, whose verification is of the medium. It is applied in one place, after
//! any command that changes the medium (WRITE, WRITE AND VERIFY, WRITE SAME in every form,
//! UNMAP, COMPARE AND WRITE, EXTENDED COPY, FORMAT UNIT) has done its work: a
//! [`BlockDevice::flush`], whose failure ends the command in CHECK CONDITION instead of GOOD
//! (MEDIUM ERROR, WRITE ERROR; NOT READY, LOGICAL UNIT COMMUNICATION FAILURE when the device
//! is gone, an error of kind `NotConnected`). The emulation does not pass FUA down to
//! [`BlockDevice::write`] (it passes `false`): discards and zeroing have no such flag, a
//! command of many writes would sync each one, and the flush covers them all at once.

pub mod alua;
mod attention;
mod capacity;
mod caw;
pub mod copy_manager;
mod inquiry;
mod misc;
mod mode;
pub mod mode_pages;
mod rw;
mod start;
mod unmap;
pub mod unmap_limits;
mod xcopy;

use crate::backend::BlockDevice;
use mode_pages::{BlockDeviceInfo, ModePages};
use scsi_proto::Wire;
use scsi_proto::cdb::{Command, CommandInfo, DataDirection, Field, Kind};
use scsi_proto::sense::{AdditionalSense, SenseData, SenseFormat};
use scsi_proto::xcopy::CopyStatus;
pub use start::MAX_SEGMENTS;
pub(crate) use start::Started;
use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Largest COMPARE AND WRITE, in blocks (Block Limits VPD).
const MAX_COMPARE_AND_WRITE: u8 = 8;
/// Largest WRITE SAME, in blocks (Block Limits VPD).
const MAX_WRITE_SAME: u64 = 1 << 20;
/// Most blocks one UNMAP may cover, and most descriptors (Block Limits VPD).
const MAX_UNMAP_BLOCKS: u32 = 1 << 20;
const MAX_UNMAP_DESCRIPTORS: u32 = 256;
/// EXTENDED COPY and WRITE SAME move data through a buffer of this many bytes (at least one
/// block).
const COPY_CHUNK: usize = 1 << 20;
/// VERIFY and COMPARE AND WRITE read the medium to compare in chunks of this many bytes (at
/// least one block).
const COMPARE_CHUNK: usize = 1 << 20;
/// The IEEE company id used in NAA identifiers: LIO's (00-14-05), as targetcli uses.
const OUI: u32 = 0x00_14_05;

/// A command's data, as the emulation reads and fills it: the Data-Out bytes a command
/// carries, or the Data-In buffer it answers in (by the command's direction).
///
/// The buffer may be made of several segments (the ring's scatter-gather list); offsets run
/// across them. Implemented for `Vec<u8>` and `&mut [u8]` (one segment), and for the TCMU
/// ring's `DataBuffers` (in `ring_adapter.rs`). Only `len` and `segments` are required; an
/// implementation may do the rest faster, and one with a second (bidirectional Data-In)
/// buffer zeroes that too in `zero_all`.
pub trait CommandData {
    /// The buffer's length in bytes.
    fn len(&self) -> usize;

    /// The buffer's segments, in order, `len()` bytes in all: what reads and writes move
    /// straight between the backend and the buffer with vectored I/O.
    fn segments(&mut self) -> Vec<&mut [u8]>;

    /// Whether the buffer is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the buffer from byte `offset` into `dst`; returns the bytes copied (fewer than
    /// `dst.len()` when the buffer ends first).
    fn read_at(&mut self, offset: usize, dst: &mut [u8]) -> usize {
        let mut copied = 0;
        for (at, seg) in from_offset(self.segments(), offset) {
            let n = (seg.len() - at).min(dst.len() - copied);
            dst[copied..copied + n].copy_from_slice(&seg[at..at + n]);
            copied += n;
        }
        copied
    }

    /// Copies `src` into the buffer from byte `offset`; returns the bytes copied (fewer than
    /// `src.len()` when the buffer ends first).
    fn write_at(&mut self, offset: usize, src: &[u8]) -> usize {
        let mut copied = 0;
        for (at, seg) in from_offset(self.segments(), offset) {
            let n = (seg.len() - at).min(src.len() - copied);
            seg[at..at + n].copy_from_slice(&src[copied..copied + n]);
            copied += n;
        }
        copied
    }

    /// Fills the buffer with zeroes from byte `offset` to its end (nothing when `offset` is
    /// past it).
    fn zero_from(&mut self, offset: usize) {
        for (at, seg) in from_offset(self.segments(), offset) {
            seg[at..].fill(0);
        }
    }

    /// Zeroes everything the command could carry back to the initiator: the whole buffer and,
    /// for a bidirectional command, its Data-In buffer too. What a failed command leaves.
    fn zero_all(&mut self) {
        self.zero_from(0);
    }
}

/// The segments from byte `offset` on, each with the offset in it to start at.
fn from_offset(
    segs: Vec<&mut [u8]>,
    mut offset: usize,
) -> impl Iterator<Item = (usize, &mut [u8])> {
    segs.into_iter().filter_map(move |seg| {
        if offset >= seg.len() {
            offset -= seg.len();
            return None;
        }
        Some((std::mem::take(&mut offset), seg))
    })
}

impl CommandData for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn segments(&mut self) -> Vec<&mut [u8]> {
        vec![self.as_mut_slice()]
    }
}

impl CommandData for &mut [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn segments(&mut self) -> Vec<&mut [u8]> {
        vec![&mut **self]
    }
}

/// How a command ended: its SCSI status, sense data and how much of its Data-In buffer it
/// filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// SCSI status: GOOD (0x00) or CHECK CONDITION (0x02).
    pub status: u8,
    /// The sense data of a CHECK CONDITION, in the format the device reports (D_SENSE).
    pub sense: Option<SenseData>,
    /// For a Data-In command that filled less than its buffer: the bytes it placed at the
    /// start (the rest is zeroed). The difference to the buffer's length is the residual.
    pub read_len: Option<usize>,
}

impl Reply {
    /// GOOD, no sense, the whole buffer (if any) transferred.
    pub fn good() -> Reply {
        Reply { status: 0x00, sense: None, read_len: None }
    }

    /// CHECK CONDITION with `sense`.
    pub fn check_condition(sense: SenseData) -> Reply {
        Reply { status: 0x02, sense: Some(sense), read_len: None }
    }

    /// GOOD for a Data-In command that placed `n` bytes at the start of `data`. The rest is
    /// zeroed, as it may hold another command's data and the kernel copies the whole buffer to
    /// the initiator; a transfer shorter than the buffer is reported in `read_len`.
    fn filled(data: &mut dyn CommandData, n: usize) -> Reply {
        data.zero_from(n);
        Reply { read_len: (n < data.len()).then_some(n), ..Reply::good() }
    }

    /// The sense bytes (empty without sense).
    pub fn sense_bytes(&self) -> Vec<u8> {
        self.sense.as_ref().map(Wire::to_vec).unwrap_or_default()
    }
}

/// What the device says about itself: INQUIRY and VPD identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// T10 vendor identification (at most 8 printable ASCII characters).
    pub vendor: String,
    /// Product identification (at most 16).
    pub product: String,
    /// Product revision level (at most 4).
    pub revision: String,
    /// Unit serial number (VPD 80h), printable ASCII.
    pub serial: String,
    /// The 36-bit vendor-specific part of the NAA 6 identifier (VPD 83h), unique per device.
    pub naa_id: u64,
}

impl Identity {
    /// An identity derived from a device name: serial and NAA id from a hash of the name.
    pub fn for_name(name: &str) -> Identity {
        // FNV-1a: stable across runs and platforms, unlike std's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Identity {
            vendor: "TCMU-RS".into(),
            product: "Rust TCMU disk".into(),
            revision: "0001".into(),
            serial: format!("{h:016x}"),
            naa_id: h & 0xf_ffff_ffff,
        }
    }
}

/// Emulates a SCSI disk on top of a [`BlockDevice`].
#[derive(Debug)]
pub struct Emulator<B> {
    dev: B,
    id: Identity,
    mode: Mutex<ModePages>,
    /// Writes take it shared; COMPARE AND WRITE exclusive, so its compare and write are atomic
    /// with respect to every other write.
    io: RwLock<()>,
    /// The status of completed EXTENDED COPY commands whose results are held (NRCR = 0), by
    /// list identifier, until RECEIVE COPY RESULTS COPY STATUS returns them.
    copy_results: Mutex<HashMap<u8, CopyStatus>>,
    /// The target port groups, when the device is one of several gateways (ALUA).
    port_groups: Option<alua::PortGroups>,
    /// The unit attention conditions not yet reported, and what they are noticed from.
    attentions: attention::Attentions,
    /// The writes started without waiting ([`Emulator::start`]) and not yet ended.
    writes_in_flight: std::sync::Arc<start::WritesInFlight>,
}

/// Why a command failed, before it becomes sense data.
enum Fail {
    Sense(SenseData),
}

impl From<scsi_proto::Error> for Fail {
    fn from(e: scsi_proto::Error) -> Self {
        Fail::Sense(SenseData::from_error(&e))
    }
}

type Outcome = Result<Reply, Fail>;

/// A command family's function: does the work of one command against the backend and its
/// data.
type Run<B> = fn(&Emulator<B>, &Command, &mut dyn CommandData) -> Outcome;

/// How the emulation answers one command: the table's entry.
struct Op<B> {
    run: Run<B>,
    /// Whether the command changes the medium, so that [`Emulator::must_be_durable`] applies
    /// to it when it succeeds.
    changes_medium: bool,
}

impl<B> Op<B> {
    fn answers(run: Run<B>) -> Option<Op<B>> {
        Some(Op { run, changes_medium: false })
    }

    fn changes(run: Run<B>) -> Option<Op<B>> {
        Some(Op { run, changes_medium: true })
    }
}

fn illegal_field(cmd: &Command, field: Field) -> Fail {
    Fail::Sense(SenseData::invalid_field_in_cdb(
        cmd.field_pointer(field).unwrap_or(scsi_proto::FieldPointer::cdb(0)),
    ))
}

/// The sense of a failed read, write or flush: WRITE PROTECTED for `PermissionDenied`; NOT
/// READY, LOGICAL UNIT IS IN PROCESS OF BECOMING READY for `TimedOut` and `ResourceBusy` (a
/// backend that is briefly unreachable: retried); NOT
/// READY, LOGICAL UNIT COMMUNICATION FAILURE for `NotConnected` (the device is gone: a
/// [`crate::VolatileCache`] whose power was cut answers so; a file system must see a vanished
/// disk, as `tcmu cleanup` answers a dead ring, not bad blocks); MEDIUM ERROR otherwise.
fn io_fail(e: io::Error, write: bool) -> Fail {
    Fail::Sense(if e.kind() == io::ErrorKind::PermissionDenied {
        SenseData::write_protected()
    } else if e.kind() == io::ErrorKind::NotConnected {
        SenseData::not_ready(AdditionalSense::LUN_COMMUNICATION_FAILURE)
    } else if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::ResourceBusy) {
        // A backend that will answer again (a cluster failing over): NOT READY, LOGICAL UNIT
        // IS IN PROCESS OF BECOMING READY, which Linux retries after a delay, where a medium
        // error would reach the file system as a bad block.
        SenseData::not_ready(AdditionalSense::LUN_BECOMING_READY)
    } else if write {
        SenseData::medium_error_write()
    } else {
        SenseData::medium_error_read()
    })
}

/// The Data-Out buffer is shorter than the CDB says it carries.
fn short_data_out() -> Fail {
    Fail::Sense(SenseData::illegal_request(AdditionalSense::PARAMETER_LIST_LENGTH_ERROR))
}

/// Copies as much of `src` as fits to the start of `dst`.
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]);
}

impl<B: BlockDevice> Emulator<B> {
    /// Emulates a disk over `dev`.
    pub fn new(dev: B, id: Identity) -> Emulator<B> {
        let wce = dev.write_cache();
        Emulator {
            id,
            mode: Mutex::new(ModePages::new(wce, wce)),
            io: RwLock::new(()),
            copy_results: Mutex::new(HashMap::new()),
            port_groups: None,
            attentions: attention::Attentions::new(dev.num_blocks(), dev.access_state_changes()),
            writes_in_flight: Default::default(),
            dev,
        }
    }

    /// The same emulator reporting implicit asymmetric access (ALUA) through these target
    /// port groups: TPGS 01b in INQUIRY, the port and its group in VPD 83h, and REPORT
    /// TARGET PORT GROUPS with the state [`BlockDevice::access_state`] gives.
    pub fn with_port_groups(mut self, groups: alua::PortGroups) -> Emulator<B> {
        self.port_groups = Some(groups);
        self
    }

    /// The same emulator reporting WCE = `on` in the Caching mode page, whatever the backend
    /// says.
    pub fn with_write_cache(self, on: bool) -> Emulator<B> {
        let changeable = on || self.dev.write_cache();
        *self.mode_pages() = ModePages::new(on, changeable);
        self
    }

    /// The backend.
    pub fn device(&self) -> &B {
        &self.dev
    }

    /// The identity reported in INQUIRY.
    pub fn identity(&self) -> &Identity {
        &self.id
    }

    /// Executes one command: decodes `cdb`, does the work against the backend and the
    /// command's data, and says how it ended. Never panics on any CDB or buffer.
    ///
    /// A command's buffer is left holding only what this command put there (or, for a
    /// command whose CDB carries Data-Out, what it received): a Data-In transfer shorter than
    /// the buffer zeroes the rest and says how long it was in [`Reply::read_len`]; a command
    /// without data, and any command that fails, leave zeroes ([`CommandData::zero_all`]).
    pub fn execute(&self, cdb: &[u8], data: &mut dyn CommandData) -> Reply {
        self.execute_decoded(Command::parse(cdb), data)
    }

    /// [`Emulator::execute`] of a CDB already decoded (or refused) by `Command::parse`: the
    /// handler path decodes once for both the handler and the emulation.
    pub(crate) fn execute_decoded(
        &self,
        decoded: scsi_proto::Result<Command>,
        data: &mut dyn CommandData,
    ) -> Reply {
        if let Some(reply) = self.unit_attention(decoded.as_ref().ok(), data) {
            return reply;
        }
        self.execute_attended(decoded, data)
    }

    /// [`Emulator::execute_decoded`] once a pending unit attention was looked at (by
    /// `LogicalUnit::decide`, before the handler).
    pub(crate) fn execute_attended(
        &self,
        decoded: scsi_proto::Result<Command>,
        data: &mut dyn CommandData,
    ) -> Reply {
        let (outcome, direction) = match decoded {
            Ok(cmd) => (self.dispatch(&cmd, data), Some(cmd.data_direction())),
            Err(e) => (Err(e.into()), None),
        };
        let fail = match outcome {
            // Data-In commands zeroed what they did not fill; a command without data fills
            // nothing, should the kernel have handed it a buffer anyway.
            Ok(r) => {
                if direction == Some(DataDirection::None) {
                    data.zero_from(0);
                }
                return r;
            }
            Err(fail) => fail,
        };
        // A failed command transfers nothing, but the kernel may still copy its buffer to the
        // initiator: it must not hold another command's bytes, nor part of a read that failed.
        // Whatever the CDB says, as TCMU takes the direction from the fabric, not the CDB: a
        // VERIFY can come with a Data-In buffer. (Zeroing a real Data-Out buffer is harmless.)
        data.zero_all();
        let Fail::Sense(sense) = fail;
        Reply::check_condition(sense.in_format(self.sense_format()))
    }

    /// Whether the emulation implements a table entry (what REPORT SUPPORTED OPERATION CODES
    /// lists).
    pub fn supports(&self, info: &CommandInfo) -> bool {
        self.op(info).is_some()
    }

    /// The table: how each command is answered, or `None` for one the emulation does not
    /// implement.
    fn op(&self, info: &CommandInfo) -> Option<Op<B>> {
        // The 32-byte READ / WRITE / VERIFY / WRITE SAME exist for type 2 protection, which
        // this emulation does not format: SBC-4 has them refused as INVALID COMMAND OPERATION
        // CODE then.
        if info.cdb_length == 32 {
            return None;
        }
        use Kind::*;
        match info.kind {
            TestUnitReady | StartStopUnit | PreventAllowMediumRemoval => Op::answers(Self::nothing),
            RequestSense => Op::answers(Self::request_sense),
            Inquiry => Op::answers(Self::inquiry),
            ModeSense => Op::answers(Self::mode_sense),
            ModeSelect => Op::answers(Self::mode_select),
            ReadCapacity10 => Op::answers(Self::read_capacity_10),
            ReadCapacity16 => Op::answers(Self::read_capacity_16),
            GetLbaStatus => Op::answers(Self::lba_status),
            Read => Op::answers(Self::read),
            Verify => Op::answers(Self::verify),
            Write | WriteAndVerify => Op::changes(Self::write),
            WriteSame => Op::changes(Self::write_same),
            Unmap if self.dev.supports_discard() => Op::changes(Self::unmap),
            CompareAndWrite => Op::changes(Self::compare_and_write),
            // EXTENDED COPY(LID1) within this logical unit; its COPY STATUS and OPERATING
            // PARAMETERS.
            ExtendedCopy if info.service_action == Some(0x00) => Op::changes(Self::extended_copy),
            ReceiveCopyResults if matches!(info.service_action, Some(0x00 | 0x03)) => {
                Op::answers(Self::receive_copy_results)
            }
            // FORMAT UNIT changes no block here, but an initiator takes its GOOD to mean the
            // medium is in a settled state.
            FormatUnit => Op::changes(Self::format_unit),
            SynchronizeCache => Op::answers(Self::synchronize_cache),
            PreFetch => Op::answers(Self::pre_fetch),
            ReportSupportedOperationCodes => Op::answers(Self::report_opcodes),
            ReportSupportedTaskManagementFunctions => Op::answers(Self::report_tmf),
            ReportLuns => Op::answers(Self::report_luns),
            ReportTargetPortGroups if self.port_groups.is_some() => {
                Op::answers(Self::report_target_port_groups)
            }
            ReportTargetPortGroups
            | Unmap
            | ExtendedCopy
            | ReceiveCopyResults
            | ReadBuffer
            | WriteBuffer
            | PersistentReserveIn
            | PersistentReserveOut
            | Reserve
            | Release => None,
        }
    }

    fn dispatch(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let Some(op) = self.op(cmd.info()) else {
            return Err(Fail::Sense(SenseData::invalid_opcode()));
        };
        // No protection information: any non-zero RDPROTECT/WRPROTECT/VRPROTECT is invalid.
        if cmd.protect().is_some_and(|p| p != 0) {
            return Err(illegal_field(cmd, Field::Protect));
        }
        let r = (op.run)(self, cmd, data)?;
        if op.changes_medium {
            self.settle(cmd)?;
        }
        Ok(r)
    }

    // A handler that panics (a backend's read, write or flush) costs its one command: the
    // server answers it with INTERNAL TARGET FAILURE. The locks it unwound through must not
    // turn every later command away, so a poisoned lock is taken as it is. That is sound
    // because none of them can be left half updated: `io` guards no data; the mode pages
    // are replaced in one assignment after everything that can fail or panic (MODE SELECT);
    // the held copy results are inserted or removed in one call that runs no backend code.

    /// The current mode pages, locked.
    fn mode_pages(&self) -> MutexGuard<'_, ModePages> {
        self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The write lock shared by writers.
    fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.io.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The write lock, exclusive (COMPARE AND WRITE).
    fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.io.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The EXTENDED COPY results held for RECEIVE COPY RESULTS, locked.
    fn held_results(&self) -> MutexGuard<'_, HashMap<u8, CopyStatus>> {
        self.copy_results.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads one thing of the current mode pages under the lock, without copying them.
    fn mode_bit(&self, f: impl FnOnce(&ModePages) -> bool) -> bool {
        f(&self.mode_pages())
    }

    /// The sense format the device reports in: descriptor when the Control mode page's
    /// D_SENSE is set, else fixed.
    pub fn sense_format(&self) -> SenseFormat {
        SenseFormat::from_d_sense(self.mode_bit(|m| m.control.d_sense))
    }

    /// The durability rule: whether the changes `cmd` made must be on stable storage before it
    /// ends GOOD. FUA asks for it; so does WCE = 0 in the current Caching mode page (no write
    /// cache: nothing acknowledged may be lost); WRITE AND VERIFY always does, as it verifies
    /// what is on the medium, not what a cache holds. The cache is read when the command ends,
    /// so a command finishing after MODE SELECT turned the cache off is made durable too.
    fn must_be_durable(&self, cmd: &Command) -> bool {
        cmd.kind() == Kind::WriteAndVerify || cmd.fua() || !self.mode_bit(|m| m.caching.wce)
    }

    /// Ends a command that changed the medium: flushes if [`Emulator::must_be_durable`] says
    /// so. A failed flush is a write error: the command's data may not be on the medium.
    fn settle(&self, cmd: &Command) -> Result<(), Fail> {
        if self.must_be_durable(cmd) {
            self.dev.flush().map_err(|e| io_fail(e, true))?;
        }
        Ok(())
    }

    fn info(&self) -> BlockDeviceInfo {
        BlockDeviceInfo {
            number_of_blocks: self.dev.num_blocks(),
            block_length: self.dev.block_size(),
            write_protect: self.dev.read_only(),
            dpofua: true,
        }
    }

    /// Copies a response to the Data-In buffer, honouring ALLOCATION LENGTH; a short answer
    /// reports how much was transferred and zeroes the rest of the buffer.
    fn data_in(&self, cmd: &Command, bytes: &[u8], data: &mut dyn CommandData) -> Outcome {
        let alloc = cmd.allocation_length().map_or(bytes.len(), |a| a as usize);
        let n = bytes.len().min(alloc);
        let copied = data.write_at(0, &bytes[..n]);
        Ok(Reply::filled(data, copied))
    }

    /// The parameter list of a Data-Out command, up to its PARAMETER LIST LENGTH.
    fn parameter_list(&self, cmd: &Command, data: &mut dyn CommandData) -> Vec<u8> {
        let len = cmd.parameter_list_length().map_or(0, |l| l as usize).min(data.len());
        let mut v = vec![0u8; len];
        let n = data.read_at(0, &mut v);
        v.truncate(n);
        v
    }

    /// Checks LBA and length against the capacity; returns (lba, blocks).
    fn range(&self, cmd: &Command) -> Result<(u64, u64), Fail> {
        let lba = cmd.lba().unwrap_or(0);
        let blocks = u64::from(cmd.transfer_length().unwrap_or(0));
        // Asked once: a device's size may change while it is served.
        let capacity = self.dev.num_blocks();
        match lba.checked_add(blocks) {
            Some(end) if end <= capacity && lba <= capacity => Ok((lba, blocks)),
            _ => Err(Fail::Sense(SenseData::lba_out_of_range())),
        }
    }

    fn bytes(&self, blocks: u64) -> Result<usize, Fail> {
        blocks
            .checked_mul(u64::from(self.dev.block_size()))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(Fail::Sense(SenseData::lba_out_of_range()))
    }

    fn check_writable(&self) -> Result<(), Fail> {
        if self.dev.read_only() { Err(Fail::Sense(SenseData::write_protected())) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDisk;

    /// A buffer in two segments, as the ring's scatter-gather lists are.
    struct Split(Vec<u8>, Vec<u8>);

    impl CommandData for Split {
        fn len(&self) -> usize {
            self.0.len() + self.1.len()
        }

        fn segments(&mut self) -> Vec<&mut [u8]> {
            vec![&mut self.0, &mut self.1]
        }
    }

    #[test]
    fn offsets_run_across_segments() {
        let mut d = Split(vec![1; 3], vec![2; 4]);
        assert_eq!(d.write_at(2, &[7, 8, 9]), 3);
        assert_eq!((d.0.as_slice(), d.1.as_slice()), (&[1, 1, 7][..], &[8, 9, 2, 2][..]));
        let mut out = [0u8; 8];
        assert_eq!(d.read_at(1, &mut out), 6);
        assert_eq!(out, [1, 7, 8, 9, 2, 2, 0, 0]);
        assert_eq!(d.write_at(6, &[5, 5]), 1, "the buffer ends first");
        assert_eq!(d.read_at(9, &mut out), 0);
        d.zero_from(4);
        assert_eq!((d.0.as_slice(), d.1.as_slice()), (&[1, 1, 7][..], &[8, 0, 0, 0][..]));
        d.zero_all();
        assert!(d.0.iter().chain(&d.1).all(|&b| b == 0));
    }

    #[test]
    fn a_read_fills_a_segmented_buffer_and_zeroes_the_rest() {
        let emu = Emulator::new(MemoryDisk::new(8, 512).unwrap(), Identity::for_name("t"));
        let block: Vec<u8> = (0..1024).map(|i| (i % 251) as u8 + 1).collect();
        let mut out = Split(block[..300].to_vec(), block[300..].to_vec());
        let write = [0x2a, 0, 0, 0, 0, 2, 0, 0, 2, 0];
        assert_eq!(emu.execute(&write, &mut out), Reply::good());
        // Two blocks into 700 + 600 bytes that hold something else.
        let mut back = Split(vec![0xee; 700], vec![0xee; 600]);
        let reply = emu.execute(&[0x28, 0, 0, 0, 0, 2, 0, 0, 2, 0], &mut back);
        assert_eq!((reply.status, reply.read_len), (0, Some(1024)));
        assert_eq!(&back.0[..], &block[..700]);
        assert_eq!(&back.1[..324], &block[700..]);
        assert!(back.1[324..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_command_outside_the_table_is_an_invalid_opcode() {
        let emu = Emulator::new(MemoryDisk::new(8, 512).unwrap(), Identity::for_name("t"));
        // PERSISTENT RESERVE IN is in the CDB table but not emulated.
        let mut buf = vec![0u8; 8];
        let r = emu.execute(&[0x5e, 0, 0, 0, 0, 0, 0, 0, 8, 0], &mut buf);
        let sense = r.sense.unwrap();
        assert_eq!(
            (r.status, sense.additional),
            (2, AdditionalSense::INVALID_COMMAND_OPERATION_CODE)
        );
    }
}
