//! The SBC command set emulated on top of a [`BlockDevice`]: every command LIO hands a TCMU
//! device, decoded with `scsi-proto` and answered in the command's own buffers.
//!
//! Data moves between the backend and the kernel's buffers directly (READ fills them, WRITE
//! takes from them). Unknown or unsupported commands get CHECK CONDITION, ILLEGAL REQUEST,
//! INVALID COMMAND OPERATION CODE; invalid fields get INVALID FIELD IN CDB / PARAMETER LIST
//! with the sense-key-specific pointer at the field; the sense format follows the Control mode
//! page's D_SENSE.
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
//! is gone, an error of kind `NotConnected`). The emulation does not pass FUA down to [`BlockDevice::write`] (it passes `false`):
//! discards and zeroing have no such flag, a command of many writes would sync each one, and the
//! flush covers them all at once.

use crate::backend::BlockDevice;
use scsi_proto::Wire;
use scsi_proto::cdb::{COMMANDS, Command, CommandInfo, DataDirection, Field, Kind};
use scsi_proto::inquiry::{
    BlockDeviceCharacteristics, BlockLimits, Designator, DeviceIdentification, ExtendedInquiryData,
    LogicalBlockProvisioning, Peripheral, StandardInquiry, SupportedVpdPages, UnitSerialNumber,
    version_descriptor,
};
use scsi_proto::mode::{BlockDeviceInfo, ModePages, is_saving_parameters_not_supported};
use scsi_proto::params::{
    AllCommands, CommandDescriptor, CommandTimeouts, LbaStatus, LbaStatusDescriptor, OneCommand,
    ReadCapacity10Data, ReadCapacity16Data, ReportedTmf, UnmapLimits, UnmapParameterList,
};
use scsi_proto::sense::{AdditionalSense, SenseData, SenseFormat, SenseKey};
use scsi_proto::xcopy::{CopyLimits, CopyRange, CopyStatus, ExtendedCopyList, OperatingParameters};
use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tcmu_ring::{DataBuffers, Response};

/// Largest COMPARE AND WRITE, in blocks (Block Limits VPD).
const MAX_COMPARE_AND_WRITE: u8 = 8;
/// Largest WRITE SAME, in blocks (Block Limits VPD).
const MAX_WRITE_SAME: u64 = 1 << 20;
/// Most blocks one UNMAP may cover, and most descriptors (Block Limits VPD).
const MAX_UNMAP_BLOCKS: u32 = 1 << 20;
const MAX_UNMAP_DESCRIPTORS: u32 = 256;
/// What EXTENDED COPY accepts (RECEIVE COPY RESULTS OPERATING PARAMETERS): a source and a
/// destination descriptor (both this logical unit) and a few segments.
const COPY_LIMITS: CopyLimits = CopyLimits {
    max_cscd_descriptors: 2,
    max_segment_descriptors: 4,
    max_descriptor_list_length: 1024,
};
/// EXTENDED COPY moves data through a buffer of this many bytes (at least one block).
const COPY_CHUNK: usize = 1 << 20;
/// VERIFY and COMPARE AND WRITE read the medium to compare in chunks of this many bytes (at
/// least one block).
const COMPARE_CHUNK: usize = 1 << 20;

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

/// The IEEE company id used in NAA identifiers: LIO's (00-14-05), as targetcli uses.
const OUI: u32 = 0x00_14_05;

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

type Outcome = Result<Response, Fail>;

fn illegal_field(cmd: &Command, field: Field) -> Fail {
    Fail::Sense(SenseData::invalid_field_in_cdb(
        cmd.field_pointer(field)
            .unwrap_or(scsi_proto::FieldPointer::cdb(0)),
    ))
}

/// The sense of a failed read, write or flush: WRITE PROTECTED for `PermissionDenied`; NOT
/// READY, LOGICAL UNIT COMMUNICATION FAILURE for `NotConnected` (the device is gone: a
/// [`crate::VolatileCache`] whose power was cut answers so; a file system must see a vanished
/// disk, as `tcmu cleanup` answers a dead ring, not bad blocks); MEDIUM ERROR otherwise.
fn io_fail(e: io::Error, write: bool) -> Fail {
    if e.kind() == io::ErrorKind::PermissionDenied {
        Fail::Sense(SenseData::write_protected())
    } else if e.kind() == io::ErrorKind::NotConnected {
        Fail::Sense(SenseData::not_ready(
            AdditionalSense::LUN_COMMUNICATION_FAILURE,
        ))
    } else if write {
        Fail::Sense(SenseData::medium_error_write())
    } else {
        Fail::Sense(SenseData::medium_error_read())
    }
}

/// GOOD for a Data-In command that placed `n` bytes at the start of its buffer. The rest is
/// zeroed, as it may hold another command's data and the kernel copies the whole buffer to the
/// initiator; a transfer shorter than the buffer is reported in `read_len`.
fn filled(data: &mut DataBuffers, n: usize) -> Response {
    data.zero_from(n);
    let mut r = Response::good();
    if n < data.len() {
        r.read_len = Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    r
}

/// The first `want` bytes of the command's buffers as `IoSliceMut`s.
fn slices_mut(data: &mut DataBuffers, want: usize) -> Vec<IoSliceMut<'_>> {
    let mut left = want;
    let mut out = Vec::new();
    for buf in data.iter_mut() {
        if left == 0 {
            break;
        }
        let n = buf.len().min(left);
        out.push(IoSliceMut::new(&mut buf[..n]));
        left -= n;
    }
    out
}

/// The first `want` bytes of the command's buffers as `IoSlice`s.
fn slices(data: &mut DataBuffers, want: usize) -> Vec<IoSlice<'_>> {
    let mut left = want;
    let mut out = Vec::new();
    for buf in data.iter() {
        if left == 0 {
            break;
        }
        let n = buf.len().min(left);
        out.push(IoSlice::new(&buf[..n]));
        left -= n;
    }
    out
}

impl<B: BlockDevice> Emulator<B> {
    /// Emulates a disk over `dev`.
    pub fn new(dev: B, id: Identity) -> Emulator<B> {
        let wce = dev.write_cache();
        Emulator {
            dev,
            id,
            mode: Mutex::new(ModePages::new(wce, wce)),
            io: RwLock::new(()),
            copy_results: Mutex::new(HashMap::new()),
        }
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
        self.copy_results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn mode(&self) -> ModePages {
        self.mode_pages().clone()
    }

    /// Reads one thing of the current mode pages under the lock, without copying them.
    fn mode_bit(&self, f: impl FnOnce(&ModePages) -> bool) -> bool {
        f(&self.mode_pages())
    }

    fn sense_format(&self) -> SenseFormat {
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

    /// Executes one command: decodes `cdb`, does the work against the backend and the
    /// command's buffers, and says how it ended. Never panics on any CDB or buffer.
    ///
    /// A command's buffer is left holding only what this command put there (or, for a
    /// command whose CDB carries Data-Out, what it received): a Data-In transfer shorter than
    /// the buffer zeroes the rest and says how long it was in `read_len`; a command without
    /// data, and any command that fails, leave zeroes.
    pub fn execute(&self, cdb: &[u8], data: &mut DataBuffers) -> Response {
        let (outcome, direction) = match Command::parse(cdb) {
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
        data.zero_from(0);
        data.zero_bidi();
        let Fail::Sense(sense) = fail;
        Response::check_condition(&sense.in_format(self.sense_format()).to_vec())
    }

    /// Whether the emulation implements a table entry (what REPORT SUPPORTED OPERATION CODES
    /// lists).
    pub fn supports(&self, info: &CommandInfo) -> bool {
        // The 32-byte READ / WRITE / VERIFY / WRITE SAME exist for type 2 protection, which
        // this emulation does not format: SBC-4 has them refused as INVALID COMMAND OPERATION
        // CODE then.
        if info.cdb_length == 32 {
            return false;
        }
        use Kind::*;
        match info.kind {
            TestUnitReady
            | RequestSense
            | Inquiry
            | ModeSense
            | ModeSelect
            | ReadCapacity10
            | ReadCapacity16
            | Read
            | Write
            | WriteAndVerify
            | Verify
            | WriteSame
            | CompareAndWrite
            | SynchronizeCache
            | PreFetch
            | GetLbaStatus
            | ReportSupportedOperationCodes
            | ReportSupportedTaskManagementFunctions
            | StartStopUnit
            | PreventAllowMediumRemoval
            | FormatUnit
            | ReportLuns => true,
            Unmap => self.dev.supports_discard(),
            // EXTENDED COPY(LID1) within this logical unit; its COPY STATUS and OPERATING
            // PARAMETERS.
            ExtendedCopy => info.service_action == Some(0x00),
            ReceiveCopyResults => matches!(info.service_action, Some(0x00 | 0x03)),
            ReadBuffer | WriteBuffer | PersistentReserveIn | PersistentReserveOut | Reserve
            | Release => false,
        }
    }

    fn dispatch(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let r = self.run(cmd, data)?;
        if changes_medium(cmd.kind()) {
            self.settle(cmd)?;
        }
        Ok(r)
    }

    fn run(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        if !self.supports(cmd.info()) {
            return Err(Fail::Sense(SenseData::invalid_opcode()));
        }
        // No protection information: any non-zero RDPROTECT/WRPROTECT/VRPROTECT is invalid.
        if cmd.protect().is_some_and(|p| p != 0) {
            return Err(illegal_field(cmd, Field::Protect));
        }
        use Kind::*;
        match cmd.kind() {
            TestUnitReady | StartStopUnit | PreventAllowMediumRemoval => Ok(Response::good()),
            FormatUnit if cmd.get(Field::Fmtdata) == Some(0) => Ok(Response::good()),
            FormatUnit => Err(illegal_field(cmd, Field::Fmtdata)),
            RequestSense => {
                let format = SenseFormat::from_d_sense(cmd.get(Field::Desc) == Some(1));
                let sense = SenseData::new(SenseKey::NoSense, AdditionalSense::NO_ADDITIONAL_SENSE)
                    .in_format(format);
                self.data_in(cmd, &sense.to_vec(), data)
            }
            Inquiry => self.inquiry(cmd, data),
            ModeSense => self.mode_sense(cmd, data),
            ModeSelect => self.mode_select(cmd, data),
            ReadCapacity10 => {
                let rc =
                    ReadCapacity10Data::for_device(self.dev.num_blocks(), self.dev.block_size());
                self.data_in(cmd, &rc.to_vec(), data)
            }
            ReadCapacity16 => {
                let thin = self.dev.supports_discard();
                let rc =
                    ReadCapacity16Data::for_device(self.dev.num_blocks(), self.dev.block_size())
                        .with_provisioning(thin, thin);
                self.data_in(cmd, &rc.to_vec(), data)
            }
            Read => self.read(cmd, data),
            Write | WriteAndVerify => self.write(cmd, data),
            Verify => self.verify(cmd, data),
            WriteSame => self.write_same(cmd, data),
            Unmap => self.unmap(cmd, data),
            CompareAndWrite => self.compare_and_write(cmd, data),
            ExtendedCopy => self.extended_copy(cmd, data),
            ReceiveCopyResults => self.receive_copy_results(cmd, data),
            SynchronizeCache => {
                self.range(cmd)?;
                self.dev.flush().map_err(|e| io_fail(e, true))?;
                Ok(Response::good())
            }
            PreFetch => {
                // No cache to load: GOOD says the blocks did not all fit (SBC-4 5.11).
                self.range(cmd)?;
                Ok(Response::good())
            }
            GetLbaStatus => self.lba_status(cmd, data),
            ReportSupportedOperationCodes => self.report_opcodes(cmd, data),
            ReportSupportedTaskManagementFunctions => {
                let tmf = ReportedTmf {
                    ats: true,
                    atss: true,
                    ctss: true,
                    lurs: true,
                    itnrs: true,
                    ..ReportedTmf::default()
                };
                self.data_in(cmd, &tmf.to_vec(), data)
            }
            ReportLuns => {
                // LIO answers REPORT LUNS itself; should one arrive, we are LUN 0.
                let luns = scsi_proto::params::ReportLuns {
                    luns: vec![scsi_proto::params::Lun::from_index(0)?],
                };
                self.data_in(cmd, &luns.to_vec(), data)
            }
            _ => Err(Fail::Sense(SenseData::invalid_opcode())),
        }
    }

    /// Copies a response to the Data-In buffer, honouring ALLOCATION LENGTH; a short answer
    /// reports how much was transferred and zeroes the rest of the buffer.
    fn data_in(&self, cmd: &Command, bytes: &[u8], data: &mut DataBuffers) -> Outcome {
        let alloc = cmd.allocation_length().map_or(bytes.len(), |a| a as usize);
        let n = bytes.len().min(alloc);
        let copied = data.copy_from_slice_at(0, &bytes[..n]);
        Ok(filled(data, copied))
    }

    /// The parameter list of a Data-Out command, up to its PARAMETER LIST LENGTH.
    fn parameter_list(&self, cmd: &Command, data: &mut DataBuffers) -> Vec<u8> {
        let len = cmd
            .parameter_list_length()
            .map_or(0, |l| l as usize)
            .min(data.len());
        let mut v = vec![0u8; len];
        let n = data.copy_to_slice_at(0, &mut v);
        v.truncate(n);
        v
    }

    /// Checks LBA and length against the capacity; returns (lba, blocks).
    fn range(&self, cmd: &Command) -> Result<(u64, u64), Fail> {
        let lba = cmd.lba().unwrap_or(0);
        let blocks = u64::from(cmd.transfer_length().unwrap_or(0));
        match lba.checked_add(blocks) {
            Some(end) if end <= self.dev.num_blocks() && lba <= self.dev.num_blocks() => {
                Ok((lba, blocks))
            }
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
        if self.dev.read_only() {
            Err(Fail::Sense(SenseData::write_protected()))
        } else {
            Ok(())
        }
    }

    fn read(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let (lba, blocks) = self.range(cmd)?;
        // The kernel may hand a shorter buffer than the CDB asks for (an initiator expecting
        // less); it reports the residual itself. A longer one (SG_IO and iSCSI allow it) gets
        // zeroes after the blocks read, and READ_LEN says how much was read.
        let want = self.bytes(blocks)?.min(data.len());
        let mut bufs = slices_mut(data, want);
        self.dev
            .read(lba, &mut bufs)
            .map_err(|e| io_fail(e, false))?;
        Ok(filled(data, want))
    }

    fn write(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        self.check_writable()?;
        let (lba, blocks) = self.range(cmd)?;
        let want = self.bytes(blocks)?;
        if data.len() < want {
            return Err(short_data_out());
        }
        let _shared = self.shared();
        let bufs = slices(data, want);
        self.dev
            .write(lba, &bufs, false)
            .map_err(|e| io_fail(e, true))?;
        Ok(Response::good())
    }

    /// Compares `blocks` blocks of the medium from `lba` with what `expected` says they hold;
    /// the byte offset of the first difference.
    ///
    /// `expected(offset, buf)` fills `buf` with the bytes expected from byte `offset` of the
    /// range on. The medium is read, and compared, [`COMPARE_CHUNK`] bytes (whole blocks) at a
    /// time: what is held never exceeds that, however many blocks the CDB names.
    fn compare(
        &self,
        lba: u64,
        blocks: u64,
        mut expected: impl FnMut(u64, &mut [u8]),
    ) -> Result<Option<u64>, Fail> {
        let bs = self.bytes(1)?;
        let per = (COMPARE_CHUNK / bs.max(1)).max(1) as u64;
        let held = self.bytes(per.min(blocks))?;
        let mut medium = vec![0u8; held];
        let mut want = vec![0u8; held];
        let mut done = 0u64;
        while done < blocks {
            let n = per.min(blocks - done);
            let len = self.bytes(n)?;
            let offset = done * bs as u64;
            let (medium, want) = (&mut medium[..len], &mut want[..len]);
            self.dev
                .read(lba + done, &mut [IoSliceMut::new(medium)])
                .map_err(|e| io_fail(e, false))?;
            expected(offset, want);
            if let Some(i) = medium.iter().zip(want.iter()).position(|(a, b)| a != b) {
                return Ok(Some(offset + i as u64));
            }
            done += n;
        }
        Ok(None)
    }

    fn verify(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let (lba, blocks) = self.range(cmd)?;
        let bs = self.bytes(1)?;
        match cmd.get(Field::Bytchk) {
            Some(1) => {
                // The blocks to compare with must all have been sent: checked before anything
                // is read or held, whatever VERIFICATION LENGTH says.
                let sent = blocks
                    .checked_mul(bs as u64)
                    .is_some_and(|n| n <= data.len() as u64);
                if !sent {
                    return Err(short_data_out());
                }
                let found = self.compare(lba, blocks, |off, buf| {
                    // `off` is below the length checked above.
                    data.copy_to_slice_at(off as usize, buf);
                })?;
                match found {
                    Some(off) => Err(Fail::Sense(verify_miscompare(off))),
                    None => Ok(Response::good()),
                }
            }
            Some(3) => {
                // One block sent, compared with each block of the range.
                let mut block = vec![0u8; bs];
                if data.copy_to_slice_at(0, &mut block) < bs {
                    return Err(short_data_out());
                }
                let found = self.compare(lba, blocks, |_, buf| {
                    for b in buf.chunks_mut(bs) {
                        copy_prefix(b, &block);
                    }
                })?;
                match found {
                    Some(off) => Err(Fail::Sense(verify_miscompare(off))),
                    None => Ok(Response::good()),
                }
            }
            // BYTCHK 0: a medium verification; the backend has no media to check.
            _ => Ok(Response::good()),
        }
    }

    fn write_same(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        self.check_writable()?;
        let (lba, blocks) = self.range(cmd)?;
        // WSNZ is set in Block Limits: zero blocks ("to the end") is refused, as is too many.
        if blocks == 0 || blocks > MAX_WRITE_SAME {
            return Err(illegal_field(cmd, Field::TransferLength));
        }
        let unmap = cmd.get(Field::Unmap) == Some(1);
        let ndob = cmd.get(Field::Ndob) == Some(1);
        // Anchored blocks are not supported (ANC_SUP = 0 in the Logical Block Provisioning page).
        if cmd.get(Field::Anchor) == Some(1) {
            return Err(illegal_field(cmd, Field::Anchor));
        }
        if unmap && !self.dev.supports_discard() {
            return Err(illegal_field(cmd, Field::Unmap));
        }
        let bs = self.bytes(1)?;
        let mut block = vec![0u8; bs];
        if !ndob && data.copy_to_slice_at(0, &mut block) < bs {
            return Err(short_data_out());
        }
        let _shared = self.shared();
        let zero = block.iter().all(|&b| b == 0);
        let r = if unmap && zero {
            // Unmapped blocks read back as zeroes (LBPRZ), so unmapping writes the same data.
            self.dev.discard(lba, blocks)
        } else if zero {
            self.dev.write_zeroes(lba, blocks)
        } else {
            // The block repeated over at most COPY_CHUNK bytes (and no more than the range),
            // written as many times as it takes.
            let per = ((COPY_CHUNK / bs.max(1)).max(1) as u64).min(blocks);
            let pattern: Vec<u8> = block.repeat(per as usize);
            let mut done = 0u64;
            let mut r = Ok(());
            while done < blocks && r.is_ok() {
                let n = per.min(blocks - done);
                let len = n as usize * bs;
                r = self
                    .dev
                    .write(lba + done, &[IoSlice::new(&pattern[..len])], false);
                done += n;
            }
            r
        };
        r.map_err(|e| io_fail(e, true))?;
        Ok(Response::good())
    }

    fn unmap(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        self.check_writable()?;
        let pll = cmd.parameter_list_length().unwrap_or(0) as usize;
        let list = self.parameter_list(cmd, data);
        let list = UnmapParameterList::parse_with_length(&list, pll)?;
        let limits = UnmapLimits {
            max_unmap_lba_count: MAX_UNMAP_BLOCKS,
            max_unmap_block_descriptor_count: MAX_UNMAP_DESCRIPTORS,
            capacity_blocks: self.dev.num_blocks(),
        };
        if let Err(rejection) = list.validate(&limits) {
            return Err(match rejection.to_error() {
                Some(e) => e.into(),
                None => Fail::Sense(SenseData::lba_out_of_range()),
            });
        }
        let _shared = self.shared();
        for d in &list.descriptors {
            if d.number_of_blocks > 0 {
                self.dev
                    .discard(d.lba, u64::from(d.number_of_blocks))
                    .map_err(|e| io_fail(e, true))?;
            }
        }
        Ok(Response::good())
    }

    fn compare_and_write(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        self.check_writable()?;
        let (lba, blocks) = self.range(cmd)?;
        if blocks > u64::from(MAX_COMPARE_AND_WRITE) {
            return Err(illegal_field(cmd, Field::TransferLength));
        }
        let len = self.bytes(blocks)?;
        // The data sent must be the verify and write blocks the CDB names: a NUMBER OF LOGICAL
        // BLOCKS that wrapped (256 sent as 0) or disagrees with the transfer is refused.
        if data.len() != 2 * len {
            return Err(illegal_field(cmd, Field::TransferLength));
        }
        if blocks == 0 {
            return Ok(Response::good());
        }
        let mut both = vec![0u8; 2 * len];
        if data.copy_to_slice_at(0, &mut both) < both.len() {
            return Err(short_data_out());
        }
        let (verify, write) = both.split_at(len);
        // Exclusive: no other write lands between the compare and the write.
        let _exclusive = self.exclusive();
        let found = self.compare(lba, blocks, |off, buf| {
            copy_prefix(buf, verify.get(off as usize..).unwrap_or_default());
        })?;
        if let Some(off) = found {
            return Err(Fail::Sense(SenseData::miscompare(off)));
        }
        self.dev
            .write(lba, &[IoSlice::new(write)], false)
            .map_err(|e| io_fail(e, true))?;
        Ok(Response::good())
    }

    /// The DESIGNATOR of the NAA designator VPD 83h reports: what an identification CSCD
    /// descriptor names this logical unit by.
    fn naa_designator(&self) -> Result<Vec<u8>, Fail> {
        let d = Designator::naa_ieee_registered_extended(OUI, self.id.naa_id, 0)?.to_vec();
        Ok(d.get(4..).map(<[u8]>::to_vec).unwrap_or_default())
    }

    /// EXTENDED COPY(LID1): every segment copies blocks within this logical unit (the only
    /// copy target it can reach), through a bounded buffer, as shared writers like WRITE.
    fn extended_copy(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let list = self.parameter_list(cmd, data);
        // A PARAMETER LIST LENGTH of zero is no copy, and not an error (SPC-4 6.4.1).
        if list.is_empty() {
            return Ok(Response::good());
        }
        let reject = |r: scsi_proto::xcopy::XcopyRejection| Fail::Sense(r.to_sense());
        let parsed = ExtendedCopyList::parse(&list, &COPY_LIMITS).map_err(reject)?;
        let naa = self.naa_designator()?;
        let ranges = parsed
            .plan(&naa, self.dev.block_size(), self.dev.num_blocks())
            .map_err(reject)?;
        self.check_writable()?;
        let bs = self.bytes(1)?;
        let _shared = self.shared();
        let mut bytes = 0u64;
        for (done, r) in ranges.iter().enumerate() {
            // A read or write that fails part way aborts the copy: COPY ABORTED with the
            // number of segments fully processed in COMMAND-SPECIFIC INFORMATION (SPC-4
            // 6.4.3), not a medium error the initiator would take for the whole command.
            if self.copy_range(r, bs).is_err() {
                // What the segments before it copied must be as durable as a completed copy.
                self.settle(cmd)?;
                return Err(Fail::Sense(
                    SenseData::new(
                        SenseKey::CopyAborted,
                        AdditionalSense::LUN_COMMUNICATION_FAILURE,
                    )
                    .with_command_specific(done as u64),
                ));
            }
            bytes = bytes.saturating_add(r.blocks.saturating_mul(bs as u64));
        }
        if !parsed.header.nrcr {
            let segments = u16::try_from(parsed.segments.len()).unwrap_or(u16::MAX);
            self.held_results().insert(
                parsed.header.list_identifier,
                CopyStatus::completed(segments, bytes),
            );
        }
        Ok(Response::good())
    }

    /// Copies one range in chunks of at most [`COPY_CHUNK`] bytes; back to front when the
    /// destination overlaps the source from above, so no block is overwritten before it is
    /// read.
    fn copy_range(&self, r: &CopyRange, bs: usize) -> Result<(), Fail> {
        let per = (COPY_CHUNK / bs.max(1)).max(1) as u64;
        let first = per.min(r.blocks) as usize;
        let mut buf = vec![0u8; first * bs];
        let backward =
            r.destination_lba > r.source_lba && r.destination_lba < r.source_lba + r.blocks;
        let mut done = 0u64;
        while done < r.blocks {
            let n = per.min(r.blocks - done);
            let off = if backward { r.blocks - done - n } else { done };
            let chunk = &mut buf[..n as usize * bs];
            self.dev
                .read(r.source_lba + off, &mut [IoSliceMut::new(chunk)])
                .map_err(|e| io_fail(e, false))?;
            self.dev
                .write(r.destination_lba + off, &[IoSlice::new(chunk)], false)
                .map_err(|e| io_fail(e, true))?;
            done += n;
        }
        Ok(())
    }

    /// RECEIVE COPY RESULTS: OPERATING PARAMETERS, and COPY STATUS of a held list identifier
    /// (returned once, then discarded; an unknown one is an invalid LIST IDENTIFIER).
    fn receive_copy_results(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        match cmd.info().service_action {
            Some(0x03) => {
                let op = OperatingParameters::for_limits(&COPY_LIMITS, self.dev.block_size());
                self.data_in(cmd, &op.to_vec(), data)
            }
            Some(0x00) => {
                let id = cmd.get(Field::ListIdentifier).unwrap_or(0) as u8;
                let held = self.held_results().remove(&id);
                match held {
                    Some(s) => self.data_in(cmd, &s.to_vec(), data),
                    None => Err(illegal_field(cmd, Field::ListIdentifier)),
                }
            }
            _ => Err(Fail::Sense(SenseData::invalid_opcode())),
        }
    }

    fn lba_status(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let lba = cmd.lba().unwrap_or(0);
        let n = self.dev.num_blocks();
        if lba >= n {
            return Err(Fail::Sense(SenseData::lba_out_of_range()));
        }
        // As many descriptors as the allocation length holds (16 bytes each after an 8-byte
        // header), walking the backend's runs of mapped and deallocated blocks; a backend
        // that does not know reports the rest as mapped.
        let room = (cmd.allocation_length().unwrap_or(0).saturating_sub(8) / 16).clamp(1, 256);
        let mut descriptors = Vec::new();
        let mut at = lba;
        while at < n && descriptors.len() < room as usize {
            // Without logical block provisioning (LBPME = 0, e.g. read-only) every block is
            // mapped, whatever the image's holes.
            let known = if self.dev.supports_discard() {
                self.dev.allocation(at).map_err(|e| io_fail(e, false))?
            } else {
                None
            };
            let run = known.unwrap_or(crate::backend::Allocation {
                mapped: true,
                blocks: n - at,
            });
            let blocks = run.blocks.clamp(1, n - at).min(u64::from(u32::MAX));
            descriptors.push(LbaStatusDescriptor {
                lba: at,
                number_of_blocks: blocks as u32, // at most u32::MAX
                provisioning_status: if run.mapped {
                    LbaStatusDescriptor::MAPPED
                } else {
                    LbaStatusDescriptor::DEALLOCATED
                },
                additional_status: 0,
            });
            at += blocks;
        }
        let status = LbaStatus { descriptors };
        self.data_in(cmd, &status.to_vec(), data)
    }

    fn report_opcodes(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let timeouts = (cmd.get(Field::Rctd) == Some(1)).then_some(CommandTimeouts {
            command_specific: 0,
            nominal_processing_timeout: 0,
            recommended_timeout: 30,
        });
        let bytes = match cmd.get(Field::ReportingOptions).unwrap_or(0) {
            0 => AllCommands {
                descriptors: COMMANDS
                    .iter()
                    .filter(|i| self.supports(i))
                    .map(|i| CommandDescriptor {
                        opcode: i.opcode,
                        service_action: i.service_action,
                        cdb_length: u16::from(i.cdb_length),
                        timeouts,
                    })
                    .collect(),
            }
            .to_vec(),
            options => {
                let opcode = cmd.get(Field::RequestedOperationCode).unwrap_or(0) as u8;
                let sa = cmd.get(Field::RequestedServiceAction).unwrap_or(0) as u16;
                let has_sa = COMMANDS
                    .iter()
                    .any(|i| i.opcode == opcode && i.service_action.is_some());
                // Options 1 asks without a service action, 2 with one; asking the wrong way
                // for an opcode is an invalid REQUESTED OPERATION CODE (SPC-5 6.35.2).
                if (options == 1 && has_sa)
                    || (options == 2 && !has_sa && COMMANDS.iter().any(|i| i.opcode == opcode))
                {
                    return Err(illegal_field(cmd, Field::RequestedOperationCode));
                }
                let key = if options == 2 { Some(sa) } else { None };
                let found = COMMANDS
                    .iter()
                    .find(|i| i.opcode == opcode && i.service_action == key && self.supports(i));
                match found {
                    Some(info) => OneCommand {
                        support: OneCommand::SUPPORT_STANDARD,
                        cdb_usage_data: info.usage_data(),
                        timeouts,
                    },
                    None => OneCommand {
                        support: OneCommand::SUPPORT_NOT_SUPPORTED,
                        cdb_usage_data: Vec::new(),
                        timeouts: None,
                    },
                }
                .to_vec()
            }
        };
        self.data_in(cmd, &bytes, data)
    }

    fn inquiry(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        if cmd.get(Field::Evpd) != Some(1) {
            let mut std =
                StandardInquiry::disk(&self.id.vendor, &self.id.product, &self.id.revision)?;
            std.version = 0x06; // SPC-4
            std.cmdque = true;
            std.hisup = true;
            std.version_descriptors = vec![
                version_descriptor::SAM5,
                version_descriptor::SPC4,
                version_descriptor::SBC3,
            ];
            return self.data_in(cmd, &std.to_vec(), data);
        }
        let p = Peripheral::DISK;
        let thin = self.dev.supports_discard();
        let page = cmd.get(Field::PageCode).unwrap_or(0) as u8;
        let bytes = match page {
            0x00 => SupportedVpdPages {
                peripheral: p,
                pages: vec![0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2],
            }
            .to_vec(),
            0x80 => UnitSerialNumber::new(p, &self.id.serial)?.to_vec(),
            0x83 => DeviceIdentification {
                peripheral: p,
                designators: vec![
                    Designator::naa_ieee_registered_extended(OUI, self.id.naa_id, 0)?,
                    Designator::t10_vendor_id(&self.id.vendor, self.id.serial.as_bytes())?,
                ],
            }
            .to_vec(),
            0x86 => ExtendedInquiryData {
                peripheral: p,
                headsup: true,
                ordsup: true,
                simpsup: true,
                v_sup: true,
                ..ExtendedInquiryData::default()
            }
            .to_vec(),
            0xb0 => BlockLimits {
                peripheral: p,
                wsnz: true,
                maximum_compare_and_write_length: MAX_COMPARE_AND_WRITE,
                maximum_transfer_length: 0,
                maximum_unmap_lba_count: if thin { MAX_UNMAP_BLOCKS } else { 0 },
                maximum_unmap_block_descriptor_count: if thin { MAX_UNMAP_DESCRIPTORS } else { 0 },
                optimal_unmap_granularity: if thin { 1 } else { 0 },
                maximum_write_same_length: MAX_WRITE_SAME,
                ..BlockLimits::default()
            }
            .to_vec(),
            0xb1 => BlockDeviceCharacteristics {
                peripheral: p,
                medium_rotation_rate: 1, // non-rotating
                ..BlockDeviceCharacteristics::default()
            }
            .to_vec(),
            0xb2 => LogicalBlockProvisioning {
                peripheral: p,
                lbpu: thin,
                lbpws: thin,
                lbpws10: thin,
                lbprz: u8::from(thin),
                provisioning_type: if thin { 2 } else { 0 },
                ..LogicalBlockProvisioning::default()
            }
            .to_vec(),
            _ => return Err(illegal_field(cmd, Field::PageCode)),
        };
        self.data_in(cmd, &bytes, data)
    }

    fn mode_sense(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let Some(req) = cmd.mode_sense_request() else {
            return Err(Fail::Sense(SenseData::invalid_opcode()));
        };
        match self.mode().sense(&req, &self.info()) {
            Ok(bytes) => self.data_in(cmd, &bytes, data),
            Err(e) if is_saving_parameters_not_supported(&e) => Err(Fail::Sense(
                SenseData::illegal_request(AdditionalSense::SAVING_PARAMETERS_NOT_SUPPORTED)
                    .with_field_pointer(scsi_proto::FieldPointer::cdb_bit(2, 7)),
            )),
            Err(e) => Err(e.into()),
        }
    }

    fn mode_select(&self, cmd: &Command, data: &mut DataBuffers) -> Outcome {
        let list = self.parameter_list(cmd, data);
        let ten = cmd.info().cdb_length == 10;
        let pf = cmd.get(Field::Pf) == Some(1);
        let sp = cmd.get(Field::Sp) == Some(1);
        let mut mode = self.mode_pages();
        let new = mode.select(ten, pf, sp, &list, &self.info())?;
        if mode.caching.wce && !new.caching.wce {
            // Turning the write cache off (`cache_type` = write through): what was acknowledged
            // under the cache must be durable before the initiator is told there is none, as
            // it will send no SYNCHRONIZE CACHE for it. The mode lock is held meanwhile, so a
            // write ending now waits and then sees WCE = 0; a failed flush changes nothing.
            self.dev.flush().map_err(|e| io_fail(e, true))?;
        }
        *mode = new;
        Ok(Response::good())
    }
}

/// Whether a command changes the medium, so that [`Emulator::must_be_durable`] applies to it.
/// FORMAT UNIT is one: here it changes no block, but an initiator takes its GOOD to mean the
/// medium is in a settled state.
fn changes_medium(kind: Kind) -> bool {
    use Kind::*;
    matches!(
        kind,
        Write | WriteAndVerify | WriteSame | Unmap | CompareAndWrite | ExtendedCopy | FormatUnit
    )
}

/// Copies as much of `src` as fits to the start of `dst`.
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]);
}

/// The Data-Out buffer is shorter than the CDB says it carries.
fn short_data_out() -> Fail {
    Fail::Sense(SenseData::illegal_request(
        AdditionalSense::PARAMETER_LIST_LENGTH_ERROR,
    ))
}

fn verify_miscompare(offset: u64) -> SenseData {
    SenseData::new(
        SenseKey::Miscompare,
        AdditionalSense::MISCOMPARE_DURING_VERIFY,
    )
    .with_information(offset)
}
