//! A simulated kernel: the producer side of the TCMU ring, in user space, over an anonymous
//! mapping with the real layout. It places commands the way `target_core_user.c` does
//! (whole data blocks, contiguous blocks merged into one iovec, the entry sized for one iovec
//! per block, a PAD entry when a command would not fit before the end of the ring, one byte of
//! the ring always free), publishes `cmd_head` with Release, and reads completions from
//! `cmd_tail` with Acquire, checking each against what it submitted. Tests, fuzzing and
//! benchmarks run the real consumer against it, without root and without a VM.
//!
//! [`SimDoorbell`] stands for the UIO device between the two sides: the kernel kicks it after
//! submitting, user space waits on it and notifies it of completions.
//!
//! No `unsafe`: it uses [`SharedRegion`]'s safe copying and atomic accessors.

use crate::doorbell::Doorbell;
use crate::layout::{
    CMD_ENTRY_MIN, CMDR_OFF, CmdResponse, ENTRY_ALIGN, ENTRY_IOV_OFF, EntryOp, MAILBOX_VERSION,
    MB_CMD_HEAD, MB_CMD_TAIL, MailboxFlags, RingIovec, TMR_IDS_OFF, TmrType, UFlags,
    cmd_entry_size, entry_len, len_op,
};
use crate::region::SharedRegion;
use core::sync::atomic::Ordering;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use zerocopy::{FromBytes, IntoBytes};

/// Sizes and capabilities of a simulated device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// Size of the command ring (after the 128-byte mailbox).
    pub cmdr_size: u32,
    /// Size of the data area.
    pub data_size: usize,
    /// Data block size (the kernel's page size times `data_pages_per_blk`).
    pub block_size: usize,
    /// Capabilities announced in the mailbox.
    pub flags: MailboxFlags,
}

impl SimConfig {
    /// Linux 6.1's defaults: an 8 MiB mailbox and ring, a 1 GiB data area of 4 KiB blocks,
    /// out-of-order completion, READ_LEN and TMR. The mapping is anonymous and lazily backed,
    /// so only touched pages cost memory.
    pub fn kernel_6_1() -> Self {
        SimConfig {
            cmdr_size: (8 << 20) - CMDR_OFF as u32,
            data_size: 1 << 30,
            block_size: 4096,
            flags: MailboxFlags::CAP_OOOC | MailboxFlags::CAP_READ_LEN | MailboxFlags::CAP_TMR,
        }
    }

    /// A small device whose ring wraps every few dozen commands: for tests.
    pub fn small() -> Self {
        SimConfig { cmdr_size: 4096, data_size: 1 << 20, ..SimConfig::kernel_6_1() }
    }

    /// The same configuration with other capabilities.
    pub fn with_flags(self, flags: MailboxFlags) -> Self {
        SimConfig { flags, ..self }
    }
}

/// The data a simulated command carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimData<'a> {
    /// No data transfer.
    None,
    /// Data-Out: these bytes are placed in the data area for the handler to read.
    Write(&'a [u8]),
    /// Data-In of this many bytes, for the handler to fill.
    Read(usize),
}

/// A completion the simulated kernel read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCompletion {
    /// The command id.
    pub id: u16,
    /// SCSI status.
    pub status: u8,
    /// The 96 sense bytes.
    pub sense: Vec<u8>,
    /// The length the kernel completes the read with, taking `read_len` as Linux does: `Some`
    /// only when the completion set READ_LEN (on a device announcing
    /// [`MailboxFlags::CAP_READ_LEN`]) with a non-zero `read_len` on a read and no UNKNOWN_OP,
    /// cut to the buffer's length; `None` when the kernel ignores it, as it does a `read_len` of
    /// 0 (it then sends the whole buffer).
    pub read_len: Option<u32>,
    /// Whether the completion set UNKNOWN_OP.
    pub unknown_op: bool,
    /// For a read: the Data-In bytes the kernel copies out of the data area for the initiator:
    /// the first `read_len` bytes when it honours `read_len`, else the whole buffer; none for
    /// UNKNOWN_OP, nor for CHECK CONDITION without a `read_len`. (Whether the target core then
    /// sends them with a status other than GOOD is not modelled.)
    pub data_in: Vec<u8>,
}

/// How much of a completed command's Data-In buffer the kernel takes, decided as
/// `tcmu_handle_completion` in `drivers/target/target_core_user.c` decides it (Linux 6.1; the
/// same statements from 5.x to today's mainline). Returns the length the kernel completes the
/// command with when it honours `read_len`, and the number of bytes it copies out of the data
/// area (`gather_data_area`) to send to the initiator.
///
/// - `data_in_len`: the Data-In buffer's length for a read (a command the kernel marks
///   `DMA_FROM_DEVICE`), `None` for any other command.
/// - `uflags`: the completion's flags, READ_LEN only if the device announced
///   [`MailboxFlags::CAP_READ_LEN`] (an older kernel does not know the flag).
///
/// What the kernel does, in order:
/// 1. UNKNOWN_OP: it turns the status into CHECK CONDITION and finishes the command before it
///    looks at `read_len`: nothing is copied, `read_len` is ignored.
/// 2. It starts from the command's full transfer length. Only for a `DMA_FROM_DEVICE` command,
///    with READ_LEN in the flags *and* a non-zero `rsp.read_len`, does it mark `read_len` valid,
///    and then it takes `rsp.read_len` only if smaller than the transfer length. So a
///    `read_len` of 0 is the same as none (the whole buffer is copied and sent, no residual),
///    and one larger than the buffer is cut to it.
/// 3. CHECK CONDITION: it copies the sense; without a valid `read_len` it finishes there (no
///    data); with one, it flags the read as normal (sense and data both go back).
/// 4. It copies that many bytes out of the data blocks into the command's scatterlist.
/// 5. With a valid `read_len` it completes the command with that length (an underflow the
///    initiator sees as a residual), otherwise with the full length.
fn kernel_data_in(
    data_in_len: Option<usize>,
    uflags: UFlags,
    rsp_read_len: u32,
    status: u8,
) -> (Option<u32>, usize) {
    const CHECK_CONDITION: u8 = 0x02;
    if uflags.contains(UFlags::UNKNOWN_OP) {
        return (None, 0);
    }
    let Some(full) = data_in_len else {
        return (None, 0);
    };
    let valid = uflags.contains(UFlags::READ_LEN) && rsp_read_len != 0;
    let len = if valid { full.min(rsp_read_len as usize) } else { full };
    if status == CHECK_CONDITION && !valid {
        return (None, 0);
    }
    // When `valid`, `len <= rsp_read_len`, a u32: the cast is lossless where it is made.
    (valid.then_some(len as u32), len)
}

/// Why the simulated kernel refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The ring or the data area has no room until completions are reaped.
    #[error("ring or data area full")]
    Full,
    /// The command is larger than the ring or data area could ever hold.
    #[error("command too large for this device")]
    TooLarge,
    /// User space broke the protocol; the kernel would mark the ring broken.
    #[error("ring broken: {0}")]
    Broken(String),
}

#[derive(Debug)]
struct SimCmd {
    blocks: Vec<usize>,
    /// The Data-In buffer's length, for a read.
    data_in_len: Option<usize>,
    slot: u32,
}

/// The kernel's side of one TCMU device.
#[derive(Debug)]
pub struct SimKernel {
    region: Arc<SharedRegion>,
    cfg: SimConfig,
    data_off: usize,
    head: u32,
    last_cleaned: u32,
    free: Vec<bool>,
    cmds: HashMap<u16, SimCmd>,
    /// Entries placed and not yet cleaned: ring offset, length as written, command id if any.
    placed: VecDeque<(u32, u32, Option<u16>)>,
    next_id: u16,
    broken: Option<String>,
    copy_data_in: bool,
}

impl SimKernel {
    /// Creates the mapping and writes the mailbox.
    pub fn new(cfg: SimConfig) -> Result<SimKernel, SimError> {
        if cfg.block_size == 0
            || cfg.cmdr_size < CMD_ENTRY_MIN as u32
            || cfg.cmdr_size % ENTRY_ALIGN != 0
        {
            return Err(SimError::TooLarge);
        }
        let data_off = CMDR_OFF + cfg.cmdr_size as usize;
        let len = data_off + cfg.data_size;
        // A fresh anonymous mapping: no one else can reach it, so the region made of it is
        // safe to hand to a `Ring` (see `SharedRegion::anonymous`).
        let region = Arc::new(
            SharedRegion::anonymous(len)
                .map_err(|e| SimError::Broken(format!("cannot map {len} bytes: {e}")))?,
        );
        let mut mb = [0u8; CMDR_OFF];
        mb[0..2].copy_from_slice(&MAILBOX_VERSION.to_ne_bytes());
        mb[2..4].copy_from_slice(&cfg.flags.bits().to_ne_bytes());
        mb[4..8].copy_from_slice(&(CMDR_OFF as u32).to_ne_bytes());
        mb[8..12].copy_from_slice(&cfg.cmdr_size.to_ne_bytes());
        region.write(0, &mb).ok_or(SimError::TooLarge)?;
        Ok(SimKernel {
            region,
            cfg,
            data_off,
            head: 0,
            last_cleaned: 0,
            free: vec![true; cfg.data_size / cfg.block_size],
            cmds: HashMap::new(),
            placed: VecDeque::new(),
            next_id: 0,
            broken: None,
            copy_data_in: true,
        })
    }

    /// The shared mapping, to build a [`crate::Ring`] from.
    pub fn region(&self) -> Arc<SharedRegion> {
        Arc::clone(&self.region)
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Whether [`SimKernel::reap`] copies each read's Data-In out of the data area (the default).
    /// Benchmarks turn it off to time the ring and the handler, not the simulated kernel's copy.
    pub fn set_copy_data_in(&mut self, copy: bool) {
        self.copy_data_in = copy;
    }

    /// Commands submitted and not yet reaped.
    pub fn outstanding(&self) -> usize {
        self.cmds.len()
    }

    /// Offset of data block `b` in the mapping.
    fn block_off(&self, b: usize) -> usize {
        self.data_off + b * self.cfg.block_size
    }

    /// Free ring space, keeping one byte free as the kernel does.
    fn ring_free(&self) -> u32 {
        let used = (self.head + self.cfg.cmdr_size - self.last_cleaned) % self.cfg.cmdr_size;
        self.cfg.cmdr_size - used - 1
    }

    /// Reserves `size` contiguous ring bytes at the head, writing a PAD first if the entry
    /// would cross the end of the ring. Returns the entry's ring offset.
    fn reserve(&mut self, size: u32) -> Result<u32, SimError> {
        if size > self.cfg.cmdr_size / 2 {
            return Err(SimError::TooLarge);
        }
        let to_end = self.cfg.cmdr_size - self.head;
        let pad = if size > to_end { to_end } else { 0 };
        if pad + size > self.ring_free() {
            return Err(SimError::Full);
        }
        if pad > 0 {
            self.write_u32(CMDR_OFF + self.head as usize, len_op(pad, EntryOp::Pad));
            self.write_u16(CMDR_OFF + self.head as usize + 4, 0);
            self.placed.push_back((self.head, pad, None));
            self.head = 0;
        }
        Ok(self.head)
    }

    fn publish(&mut self, off: u32, size: u32) {
        self.head = (off + size) % self.cfg.cmdr_size;
        // Release: the entry and its data are written before the kernel moves the head.
        if let Some(h) = self.region.atomic_u32(MB_CMD_HEAD) {
            h.store(self.head, Ordering::Release);
        }
    }

    fn write_u32(&self, off: usize, v: u32) {
        let _ = self.region.write(off, &v.to_ne_bytes());
    }

    fn write_u16(&self, off: usize, v: u16) {
        let _ = self.region.write(off, &v.to_ne_bytes());
    }

    fn alloc_id(&mut self) -> Result<u16, SimError> {
        for _ in 0..0xffff {
            self.next_id = if self.next_id == 0xffff { 1 } else { self.next_id + 1 };
            if !self.cmds.contains_key(&self.next_id) {
                return Ok(self.next_id);
            }
        }
        Err(SimError::Full)
    }

    /// Places a SCSI command on the ring and raises the head; returns its id.
    pub fn submit(&mut self, cdb: &[u8], data: SimData<'_>) -> Result<u16, SimError> {
        if let Some(why) = &self.broken {
            return Err(SimError::Broken(why.clone()));
        }
        let len = match data {
            SimData::None => 0,
            SimData::Write(d) => d.len(),
            SimData::Read(n) => n,
        };
        let nblocks = len.div_ceil(self.cfg.block_size);
        if nblocks > self.free.len() || cdb.is_empty() || cdb.len() > 32 {
            return Err(SimError::TooLarge);
        }
        let blocks: Vec<usize> = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .map(|(i, _)| i)
            .take(nblocks)
            .collect();
        if blocks.len() < nblocks {
            return Err(SimError::Full);
        }
        // The kernel sizes the entry for one iovec per block (an upper bound), then merges.
        let size = cmd_entry_size(nblocks, cdb.len()) as u32;
        let off = self.reserve(size)?;
        let id = self.alloc_id()?;
        for &b in &blocks {
            self.free[b] = false;
        }

        let mut iovs: Vec<(usize, usize)> = Vec::new();
        let mut left = len;
        for &b in &blocks {
            let n = left.min(self.cfg.block_size);
            let base = self.block_off(b);
            match iovs.last_mut() {
                Some((start, l)) if *start + *l == base => *l += n,
                _ => iovs.push((base, n)),
            }
            left -= n;
        }
        if let SimData::Write(d) = data {
            let mut done = 0;
            for &(base, n) in &iovs {
                let _ = self.region.write(base, &d[done..done + n]);
                done += n;
            }
        }

        let abs = CMDR_OFF + off as usize;
        let base_size = (ENTRY_IOV_OFF + nblocks * size_of::<RingIovec>()).max(CMD_ENTRY_MIN);
        let cdb_off = (abs + base_size) as u64;
        let mut entry = vec![0u8; size as usize];
        entry[0..4].copy_from_slice(&len_op(size, EntryOp::Cmd).to_ne_bytes());
        entry[4..6].copy_from_slice(&id.to_ne_bytes());
        entry[8..12].copy_from_slice(&(iovs.len() as u32).to_ne_bytes());
        entry[24..32].copy_from_slice(&cdb_off.to_ne_bytes());
        for (i, &(base, n)) in iovs.iter().enumerate() {
            let at = ENTRY_IOV_OFF + i * size_of::<RingIovec>();
            entry[at..at + 8].copy_from_slice(&(base as u64).to_ne_bytes());
            entry[at + 8..at + 16].copy_from_slice(&(n as u64).to_ne_bytes());
        }
        entry[base_size..base_size + cdb.len()].copy_from_slice(cdb);
        let _ = self.region.write(abs, &entry);

        let data_in_len = matches!(data, SimData::Read(_)).then_some(len);
        self.cmds.insert(id, SimCmd { blocks, data_in_len, slot: off });
        self.placed.push_back((off, size, Some(id)));
        self.publish(off, size);
        Ok(id)
    }

    /// Places a TMR notification (the device must announce [`MailboxFlags::CAP_TMR`]).
    pub fn submit_tmr(&mut self, kind: TmrType, ids: &[u16]) -> Result<(), SimError> {
        let size =
            (TMR_IDS_OFF + 2 * ids.len()).div_ceil(ENTRY_ALIGN as usize) * ENTRY_ALIGN as usize;
        let off = self.reserve(size as u32)?;
        let mut entry = vec![0u8; size];
        entry[0..4].copy_from_slice(&len_op(size as u32, EntryOp::Tmr).to_ne_bytes());
        entry[8] = kind.as_u8();
        entry[12..16].copy_from_slice(&(ids.len() as u32).to_ne_bytes());
        for (i, id) in ids.iter().enumerate() {
            entry[TMR_IDS_OFF + 2 * i..TMR_IDS_OFF + 2 * i + 2].copy_from_slice(&id.to_ne_bytes());
        }
        let _ = self.region.write(CMDR_OFF + off as usize, &entry);
        self.placed.push_back((off, size as u32, None));
        self.publish(off, size as u32);
        Ok(())
    }

    fn broken(&mut self, why: String) -> SimError {
        self.broken = Some(why.clone());
        SimError::Broken(why)
    }

    /// Reads every completion user space has published, as `tcmu_handle_completions` does,
    /// checking the protocol: the tail on an entry boundary, entry lengths untouched, every
    /// completed id outstanding, and without out-of-order support the submission order kept.
    pub fn reap(&mut self) -> Result<Vec<SimCompletion>, SimError> {
        if let Some(why) = &self.broken {
            return Err(SimError::Broken(why.clone()));
        }
        let tail = match self.region.atomic_u32(MB_CMD_TAIL) {
            // Acquire pairs with user space's Release store of cmd_tail.
            Some(t) => t.load(Ordering::Acquire),
            None => return Err(self.broken("cmd_tail unreadable".into())),
        };
        let mut out = Vec::new();
        while self.last_cleaned != tail {
            let Some(&(off, size, placed_id)) = self.placed.front() else {
                return Err(self.broken(format!("cmd_tail {tail} is past every entry placed")));
            };
            let abs = CMDR_OFF + off as usize;
            let mut hdr = [0u8; 8];
            let _ = self.region.read(abs, &mut hdr);
            let lo = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            if entry_len(lo) != size {
                return Err(self.broken(format!("entry at {off}: length changed by user space")));
            }
            if let Some(placed_id) = placed_id {
                let id = u16::from_ne_bytes([hdr[4], hdr[5]]);
                let uflags = UFlags::from_bits_truncate(hdr[7]);
                let Some(cmd) = self.cmds.remove(&id) else {
                    return Err(self.broken(format!("cmd_id {id} not found, ring is broken")));
                };
                let ooo = self.cfg.flags.contains(MailboxFlags::CAP_OOOC);
                if !ooo && id != placed_id {
                    return Err(self.broken(format!(
                        "completion of {id} written over {placed_id} without out-of-order support"
                    )));
                }
                let mut raw = [0u8; size_of::<CmdResponse>()];
                let _ = self.region.read(abs + 8, &mut raw);
                let rsp = CmdResponse::read_from_bytes(&raw)
                    .map_err(|_| SimError::Broken("response unreadable".into()))?;
                let mut honoured = uflags;
                if !self.cfg.flags.contains(MailboxFlags::CAP_READ_LEN) {
                    honoured.remove(UFlags::READ_LEN);
                }
                let (read_len, want) =
                    kernel_data_in(cmd.data_in_len, honoured, rsp.read_len.get(), rsp.scsi_status);
                let want = if self.copy_data_in { want } else { 0 };
                let mut data_in = vec![0u8; want];
                let mut done = 0;
                for &b in &cmd.blocks {
                    if done == want {
                        break;
                    }
                    let n = (want - done).min(self.cfg.block_size);
                    let _ = self.region.read(self.block_off(b), &mut data_in[done..done + n]);
                    done += n;
                }
                for &b in &cmd.blocks {
                    self.free[b] = true;
                }
                out.push(SimCompletion {
                    id,
                    status: rsp.scsi_status,
                    sense: rsp.sense_buffer.as_bytes().to_vec(),
                    read_len,
                    unknown_op: uflags.contains(UFlags::UNKNOWN_OP),
                    data_in,
                });
            }
            self.placed.pop_front();
            self.last_cleaned = (off + size) % self.cfg.cmdr_size;
        }
        Ok(out)
    }

    /// Overwrites bytes of the mailbox or command ring, to test how the consumer takes a
    /// corrupt ring. Writes that would reach the data area (where the consumer may hold live
    /// buffers) are cut off there.
    pub fn corrupt(&self, off: usize, bytes: &[u8]) {
        let end = off.saturating_add(bytes.len()).min(self.data_off);
        if off < end {
            let _ = self.region.write(off, &bytes[..end - off]);
        }
    }

    /// Reads bytes of the mailbox or command ring (what a test checks after the consumer wrote
    /// there). `None` outside them.
    pub fn peek(&self, off: usize, out: &mut [u8]) -> Option<()> {
        if off.checked_add(out.len())? > self.data_off {
            return None;
        }
        self.region.read(off, out)
    }

    /// Ring offset of the entry of command `id`, if outstanding.
    pub fn entry_offset(&self, id: u16) -> Option<usize> {
        self.cmds.get(&id).map(|c| CMDR_OFF + c.slot as usize)
    }
}

/// The simulated kernel's doorbell: what the UIO device is between the kernel and user space.
/// The kernel side [`kick`](SimDoorbell::kick)s it after submitting and waits for
/// notifications ([`wait_notified`](SimDoorbell::wait_notified)); user space uses it as its
/// [`Doorbell`]. As the UIO device's event count does, a kick not yet waited for is not lost:
/// the next wait returns at once. [`remove_device`](SimDoorbell::remove_device) makes every
/// later wait fail, as the UIO device's does once the kernel removed the device.
#[derive(Debug, Default)]
pub struct SimDoorbell {
    state: Mutex<BellState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct BellState {
    /// Kicks by the kernel.
    kicks: u64,
    /// Kicks user space's waits have taken.
    taken: u64,
    /// Notifications by user space.
    notified: u64,
    /// User space's waits, failed ones included.
    waits: u64,
    /// Whether the device is gone.
    removed: bool,
}

impl SimDoorbell {
    fn state(&self) -> MutexGuard<'_, BellState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kernel signals that it published commands.
    pub fn kick(&self) {
        self.state().kicks += 1;
        self.cv.notify_all();
    }

    /// Waits up to `timeout` until user space has notified more than `seen` times in all;
    /// returns how many times it has.
    pub fn wait_notified(&self, seen: u64, timeout: Duration) -> u64 {
        let (state, _) = self
            .cv
            .wait_timeout_while(self.state(), timeout, |s| s.notified <= seen)
            .unwrap_or_else(PoisonError::into_inner);
        state.notified
    }

    /// The kernel removes the device: from now on every wait fails at once
    /// ([`io::ErrorKind::BrokenPipe`], "the device is gone").
    pub fn remove_device(&self) {
        self.state().removed = true;
        self.cv.notify_all();
    }

    /// How many times user space has waited, failed waits included.
    pub fn waits(&self) -> u64 {
        self.state().waits
    }
}

impl Doorbell for SimDoorbell {
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let mut state = self.state();
        state.waits += 1;
        let (mut state, _) = self
            .cv
            .wait_timeout_while(state, timeout, |s| !s.removed && s.kicks == s.taken)
            .unwrap_or_else(PoisonError::into_inner);
        if state.removed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the device is gone"));
        }
        let kicked = state.kicks != state.taken;
        state.taken = state.kicks;
        Ok(kicked)
    }

    fn notify(&self) -> io::Result<()> {
        self.state().notified += 1;
        self.cv.notify_all();
        Ok(())
    }
}
