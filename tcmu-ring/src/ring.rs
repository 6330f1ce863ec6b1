//! The safe consumer of the command ring: takes commands, hands out their data buffers, and
//! writes completions back the way the kernel reads them.

use crate::layout::{
    CMD_ENTRY_MIN, CMDR_OFF, CmdRequest, CmdResponse, ENTRY_ALIGN, ENTRY_IOV_OFF, EntryHeader,
    EntryOp, MAILBOX_VERSION, MB_CMD_HEAD, MB_CMD_TAIL, Mailbox, MailboxFlags, RingIovec,
    SENSE_BUFFER_SIZE, TMR_IDS_OFF, TmrEntry, TmrType, UFlags, entry_len,
};
use crate::region::SharedRegion;
use core::ops::Range;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::collections::{HashMap, VecDeque};
use std::io::{IoSlice, IoSliceMut};
use std::sync::Arc;
use zerocopy::{FromBytes, IntoBytes};

/// The largest CDB a command can carry here: LIO's `TCM_MAX_COMMAND_SIZE`.
pub const MAX_CDB_LEN: usize = 32;
/// Granularity of the overlap check on data buffers: the kernel allocates data blocks in whole
/// pages, so two live commands never share one.
const BUSY_GRANULE: usize = 4096;

/// What went wrong reading the ring. [`RingError::is_fatal`] tells whether the ring can go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// The mapping is smaller than a mailbox.
    #[error("mapping of {len} bytes cannot hold the TCMU mailbox")]
    MappingTooSmall {
        /// Length of the mapping.
        len: usize,
    },
    /// The mailbox version is not 2.
    #[error("TCMU mailbox version {found}, only version 2 is supported")]
    BadVersion {
        /// Version found.
        found: u16,
    },
    /// The mailbox's ring offset or size does not fit the mapping.
    #[error(
        "TCMU command ring at {cmdr_off} of {cmdr_size} bytes does not fit a {len}-byte mapping"
    )]
    BadGeometry {
        /// `cmdr_off`.
        cmdr_off: u32,
        /// `cmdr_size`.
        cmdr_size: u32,
        /// Mapping length.
        len: usize,
    },
    /// The ring itself is inconsistent: nothing more can be read until the kernel resets it
    /// (`action/reset_ring`).
    #[error("TCMU ring corrupt at ring offset {offset}: {reason}")]
    Corrupt {
        /// Offset within the ring.
        offset: u32,
        /// What was wrong.
        reason: &'static str,
    },
    /// One command entry was malformed (its buffers outside the data area, overlapping another
    /// command's, an unreadable CDB...). The ring has already queued a CHECK CONDITION
    /// (HARDWARE ERROR, INTERNAL TARGET FAILURE) for it and goes on.
    #[error("TCMU command {id} rejected: {reason}")]
    Malformed {
        /// The command id.
        id: u16,
        /// What was wrong.
        reason: &'static str,
    },
    /// The region already has a consumer: a second one could hand out the same buffers twice.
    #[error("this TCMU mapping already has a consumer")]
    AlreadyConsumed,
    /// `complete` was given a command this ring did not hand out or already completed.
    #[error("command {id} is not outstanding on this ring")]
    NotOutstanding {
        /// The command id.
        id: u16,
    },
    /// `complete` was given a command whose [`DataBuffers`] are not the ones the ring handed out
    /// with it (swapped with another command's, say). Nothing was completed or released: the
    /// command's id stays outstanding and its data blocks stay out of the kernel's hands, since
    /// whoever holds its buffers may still write them.
    #[error("command {id} carries data buffers that are not its own; not completed")]
    ForeignBuffers {
        /// The command id.
        id: u16,
    },
}

impl RingError {
    /// Whether the ring can no longer be used (until the kernel resets it).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            RingError::Malformed { .. }
                | RingError::NotOutstanding { .. }
                | RingError::ForeignBuffers { .. }
        )
    }
}

/// Where the parts of the mapping are, read from and checked against the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Mailbox flags: what the kernel supports.
    pub flags: MailboxFlags,
    /// Offset of the command ring in the mapping.
    pub cmdr_off: usize,
    /// Size of the command ring.
    pub cmdr_size: u32,
    /// The data area: everything after the command ring.
    pub data: Range<usize>,
}

/// A task management notification (only with [`MailboxFlags::CAP_TMR`] and `tmr_notification`
/// enabled). Informational: the kernel has already aborted the commands it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmr {
    /// The task management function.
    pub kind: TmrType,
    /// Ids of the aborted commands that were on the ring.
    pub cmd_ids: Vec<u16>,
}

/// What the ring yields.
#[derive(Debug)]
pub enum Entry {
    /// A SCSI command to execute and then [`Ring::complete`].
    Command(RingCommand),
    /// A task management notification; it needs no completion.
    Tmr(Tmr),
}

/// A command taken off the ring: its CDB copied out, its buffers resolved to the data area.
/// The ring slot is free for reuse as soon as the command is taken; the data buffers stay the
/// command's until it is completed. (The ring's handle on a command, not a decoded CDB: that
/// is `scsi_proto::cdb::Command`.)
///
/// The buffers are reached through [`RingCommand::data_mut`] or [`RingCommand::parts_mut`].
/// They are tied to the command they were handed out with: [`Ring::complete`] refuses a
/// command carrying another's buffers ([`RingError::ForeignBuffers`]), so swapping them cannot
/// get pages handed back to the kernel while they are still writable here.
#[derive(Debug)]
pub struct RingCommand {
    id: u16,
    ring_serial: u64,
    cdb: [u8; MAX_CDB_LEN],
    cdb_len: u8,
    data: DataBuffers,
}

impl RingCommand {
    /// The kernel's command id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The CDB (as many bytes as the kernel placed, up to [`MAX_CDB_LEN`]; the kernel pads to a
    /// multiple of 8, so trailing bytes beyond the command's own length may follow).
    pub fn cdb(&self) -> &[u8] {
        &self.cdb[..usize::from(self.cdb_len)]
    }

    /// The data buffers (their lengths; reading or writing them needs [`RingCommand::data_mut`]).
    pub fn data(&self) -> &DataBuffers {
        &self.data
    }

    /// The data buffers, to read a Data-Out buffer or fill a Data-In one.
    pub fn data_mut(&mut self) -> &mut DataBuffers {
        &mut self.data
    }

    /// The CDB and the data buffers at once, for a handler that reads one and fills the other.
    pub fn parts_mut(&mut self) -> (&[u8], &mut DataBuffers) {
        (&self.cdb[..usize::from(self.cdb_len)], &mut self.data)
    }
}

/// A command's data buffers: slices of the shared data area, handed out without copying.
///
/// For a non-bidirectional command the [`DataBuffers::iter_mut`] buffers are the Data-Out
/// (write) or Data-In (read) buffer, by the CDB's direction; for a bidirectional one they are
/// the Data-Out buffer and [`DataBuffers::bidi_iter_mut`] gives the Data-In buffer.
///
/// Made only by the ring, for one command, and never changed: it carries the ring's serial, the
/// command's id and the number of the take that made it, beside the ranges the ring checked and
/// marked busy for that command.
pub struct DataBuffers {
    region: Arc<SharedRegion>,
    ring_serial: u64,
    cmd_id: u16,
    /// The ring's count of commands taken when this one was: unique within the ring.
    take_no: u64,
    iovs: Vec<Range<usize>>,
    bidi_start: usize,
}

impl std::fmt::Debug for DataBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataBuffers")
            .field("cmd_id", &self.cmd_id)
            .field("iovs", &self.iovs)
            .field("bidi_start", &self.bidi_start)
            .finish()
    }
}

impl DataBuffers {
    fn main(&self) -> &[Range<usize>] {
        &self.iovs[..self.bidi_start]
    }

    fn bidi(&self) -> &[Range<usize>] {
        &self.iovs[self.bidi_start..]
    }

    /// Total length of the main buffers.
    pub fn len(&self) -> usize {
        self.main().iter().map(|r| r.len()).sum()
    }

    /// Whether the command has no main buffer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many segments (iovecs) the main buffers are in.
    pub fn segment_count(&self) -> usize {
        self.main().len()
    }

    /// Total length of the bidirectional Data-In buffers.
    pub fn bidi_len(&self) -> usize {
        self.bidi().iter().map(|r| r.len()).sum()
    }

    // The one `unsafe` block outside `region`: it turns checked, exclusively owned ranges into
    // slices (see the SAFETY comment).
    #[allow(unsafe_code)]
    fn slices_mut<'a>(
        region: &'a SharedRegion,
        ranges: &'a [Range<usize>],
    ) -> impl Iterator<Item = &'a mut [u8]> + 'a {
        ranges.iter().filter_map(move |r| {
            // SAFETY: `r` was checked to lie inside the data area when the command was taken,
            // and the ring marked its pages busy: no other outstanding command's buffer
            // overlaps it, the ranges of one command do not overlap each other, and the kernel
            // does not touch a command's data blocks until it is completed. Completion hands the
            // blocks back only for the command these buffers were made for, and consumes them:
            // `Ring::complete` refuses a command whose `DataBuffers` are not the value made when
            // it was taken (same ring serial, id and take number), so buffers moved to another
            // command are never released while still reachable. Yielded slices borrow `self`
            // mutably, so they cannot outlive it or coexist with another view from it.
            unsafe { region.buffer_mut(r.start, r.len()) }
        })
    }

    /// The main buffers, in order, for writing (a read's data goes here).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        Self::slices_mut(&self.region, &self.iovs[..self.bidi_start])
    }

    /// The main buffers, in order, for reading (a write's data is here).
    pub fn iter(&mut self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter_mut().map(|s| &*s)
    }

    /// The bidirectional command's Data-In buffers.
    pub fn bidi_iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        Self::slices_mut(&self.region, &self.iovs[self.bidi_start..])
    }

    /// The main buffers as `IoSliceMut`, for `preadv` straight into the kernel's buffer.
    pub fn io_slices_mut(&mut self) -> Vec<IoSliceMut<'_>> {
        self.iter_mut().map(IoSliceMut::new).collect()
    }

    /// The main buffers as `IoSlice`, for `pwritev` straight from the kernel's buffer.
    pub fn io_slices(&mut self) -> Vec<IoSlice<'_>> {
        self.iter().map(IoSlice::new).collect()
    }

    /// Fills the main buffers with zeroes from byte `offset` to their end (nothing if
    /// `offset` is past it): what a short Data-In answer does to the bytes it did not fill, so
    /// no earlier command's data reaches the initiator.
    pub fn zero_from(&mut self, offset: usize) {
        zero_tail(self.iter_mut(), offset);
    }

    /// Fills the bidirectional command's Data-In buffers with zeroes.
    pub fn zero_bidi(&mut self) {
        zero_tail(self.bidi_iter_mut(), 0);
    }

    /// Copies `src` into the main buffers starting at byte `offset`; returns the bytes copied
    /// (less than `src.len()` if the buffers end first).
    pub fn copy_from_slice_at(&mut self, mut offset: usize, mut src: &[u8]) -> usize {
        let mut copied = 0;
        for buf in self.iter_mut() {
            if src.is_empty() {
                break;
            }
            if offset >= buf.len() {
                offset -= buf.len();
                continue;
            }
            let n = (buf.len() - offset).min(src.len());
            buf[offset..offset + n].copy_from_slice(&src[..n]);
            src = &src[n..];
            copied += n;
            offset = 0;
        }
        copied
    }

    /// Copies the main buffers from byte `offset` into `dst`; returns the bytes copied.
    pub fn copy_to_slice_at(&mut self, mut offset: usize, dst: &mut [u8]) -> usize {
        let mut copied = 0;
        for buf in self.iter() {
            if copied == dst.len() {
                break;
            }
            if offset >= buf.len() {
                offset -= buf.len();
                continue;
            }
            let n = (buf.len() - offset).min(dst.len() - copied);
            dst[copied..copied + n].copy_from_slice(&buf[offset..offset + n]);
            copied += n;
            offset = 0;
        }
        copied
    }
}

/// How a command ends: SCSI status, sense data, and how much of a read was transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// SCSI status (GOOD 0x00, CHECK CONDITION 0x02, BUSY 0x08...).
    pub status: u8,
    /// Sense data for CHECK CONDITION (up to 96 bytes).
    pub sense: [u8; SENSE_BUFFER_SIZE],
    /// Bytes of sense used.
    pub sense_len: u8,
    /// For a short read: the bytes actually placed at the start of the Data-In buffer.
    ///
    /// [`Ring::complete`] zeroes every byte of the (main) Data-In buffer past `n` whenever this
    /// is `Some(n)` with `n` below the buffer's length, so whatever the kernel copies out, no
    /// bytes an earlier command left in those data blocks reach the initiator.
    ///
    /// It is sent only when the kernel supports it ([`MailboxFlags::CAP_READ_LEN`]), and Linux's
    /// `tcmu_handle_completion` (`drivers/target/target_core_user.c`) uses it only for a Data-In
    /// command, only when it is not 0, and cut to the transfer length. It then copies `n` bytes
    /// out and completes the command with that length (with GOOD status, an underflow residual
    /// of the rest); with CHECK CONDITION it copies the `n` bytes too and treats the read as a
    /// normal one, sense and data, where without `read_len` it copies no data at all.
    /// `Some(0)` cannot be expressed: the kernel takes 0 as "not given" and sends the whole
    /// buffer (all zeroes, after the above) with no residual; so does a kernel without READ_LEN
    /// for any `n`. It is ignored for a bidirectional command, whose Data-In buffer
    /// ([`DataBuffers::bidi_iter_mut`]) is not zeroed here either.
    pub read_len: Option<u32>,
    /// Tell the kernel the command was not understood (it then answers INVALID COMMAND
    /// OPERATION CODE itself).
    pub unknown_op: bool,
}

impl Response {
    /// GOOD status.
    pub const fn good() -> Self {
        Response {
            status: 0,
            sense: [0; SENSE_BUFFER_SIZE],
            sense_len: 0,
            read_len: None,
            unknown_op: false,
        }
    }

    /// CHECK CONDITION with the given sense bytes (cut to 96).
    pub fn check_condition(sense: &[u8]) -> Self {
        let mut r = Response::good();
        r.status = 0x02;
        let n = sense.len().min(SENSE_BUFFER_SIZE);
        r.sense[..n].copy_from_slice(&sense[..n]);
        r.sense_len = n as u8; // n <= 96
        r
    }

    /// Any other status without sense (BUSY, TASK SET FULL, RESERVATION CONFLICT...).
    pub const fn status(status: u8) -> Self {
        let mut r = Response::good();
        r.status = status;
        r
    }

    /// CHECK CONDITION, HARDWARE ERROR, INTERNAL TARGET FAILURE (fixed format).
    pub fn internal_target_failure() -> Self {
        let mut sense = [0u8; 18];
        sense[0] = 0x70;
        sense[2] = 0x04;
        sense[7] = 10;
        sense[12] = 0x44;
        Response::check_condition(&sense)
    }
}

/// Ring offset of an entry that has been read but not yet passed by `cmd_tail`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    off: u32,
    len: u32,
    /// The id of the command the kernel placed there; None for PAD and TMR entries.
    cmd_id: Option<u16>,
}

static RING_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A look at the ring's `cmd_head` from a point in its consumption ([`Ring::head_watch`]), for
/// a consumer that busy-polls before it sleeps on the doorbell: one atomic load, no lock.
#[derive(Debug, Clone)]
pub struct HeadWatch {
    region: Arc<SharedRegion>,
    /// The ring offset of the next entry to take when the watch was made.
    seen: u32,
}

impl HeadWatch {
    /// True once the kernel has moved `cmd_head` past where the watch was made (an entry to
    /// take, or a corrupt head that taking will report).
    pub fn published(&self) -> bool {
        // Acquire as in `Ring::next_entry`; the mailbox word is in bounds and aligned (checked
        // when the ring was built), so the `None` arm is never taken: it says "look".
        self.region
            .atomic_u32(MB_CMD_HEAD)
            .is_none_or(|head| head.load(Ordering::Acquire) != self.seen)
    }
}

/// The consumer side of a TCMU command ring over a [`SharedRegion`].
pub struct Ring {
    region: Arc<SharedRegion>,
    geo: Geometry,
    serial: u64,
    /// Ring offset of the next entry to read.
    next: u32,
    /// Ring offset of `cmd_tail` as last computed (published by `flush`).
    tail: u32,
    /// Entries read but not yet behind `cmd_tail`, in ring order.
    slots: VecDeque<Slot>,
    /// Completed responses waiting for a slot: in completion order (out-of-order mode).
    ready: VecDeque<(u16, Response)>,
    /// Completed responses waiting for their own slot (in-order mode).
    ready_by_id: HashMap<u16, Response>,
    /// Ids handed out and not yet completed.
    outstanding: Vec<u64>,
    /// Data-area granules owned by outstanding commands.
    busy: Vec<u64>,
    /// By command id: the take number of the `DataBuffers` handed out with the outstanding
    /// command of that id; `complete` accepts that value and no other.
    take_nos: Vec<u64>,
    /// Commands taken so far (the last take number given).
    taken: u64,
    published_tail: u32,
    out_of_order: bool,
    broken: Option<RingError>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("geometry", &self.geo)
            .field("next", &self.next)
            .field("tail", &self.tail)
            .field("in_flight", &self.slots.len())
            .finish()
    }
}

/// Zeroes `bufs`, taken as one run of bytes, from byte `from` to the end.
fn zero_tail<'a>(bufs: impl Iterator<Item = &'a mut [u8]>, mut from: usize) {
    for buf in bufs {
        if from >= buf.len() {
            from -= buf.len();
        } else {
            buf[from..].fill(0);
            from = 0;
        }
    }
}

fn bit_set(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn bit_put(bits: &mut [u64], i: usize, on: bool) {
    if let Some(w) = bits.get_mut(i / 64) {
        if on {
            *w |= 1 << (i % 64);
        } else {
            *w &= !(1 << (i % 64));
        }
    }
}

impl Ring {
    /// Validates the mailbox of `region` and starts consuming at the current `cmd_tail`. A region
    /// has one consumer in its lifetime ([`RingError::AlreadyConsumed`] otherwise)
    /// (entries between tail and head at start-up, left by an earlier process, are read as new
    /// commands: reset the ring through configfs first if that is not wanted).
    pub fn new(region: Arc<SharedRegion>) -> Result<Ring, RingError> {
        let mut mb = [0u8; size_of::<Mailbox>()];
        region.read(0, &mut mb).ok_or(RingError::MappingTooSmall { len: region.len() })?;
        let mb = Mailbox::read_from_bytes(&mb)
            .map_err(|_| RingError::MappingTooSmall { len: region.len() })?;
        let version = mb.version.get();
        if version != MAILBOX_VERSION {
            return Err(RingError::BadVersion { found: version });
        }
        let cmdr_off = mb.cmdr_off.get();
        let cmdr_size = mb.cmdr_size.get();
        let bad = RingError::BadGeometry { cmdr_off, cmdr_size, len: region.len() };
        let ring_end = (cmdr_off as usize).checked_add(cmdr_size as usize).ok_or(bad.clone())?;
        if (cmdr_off as usize) < CMDR_OFF
            || cmdr_off % ENTRY_ALIGN != 0
            || cmdr_size < CMD_ENTRY_MIN as u32
            || cmdr_size % ENTRY_ALIGN != 0
            || ring_end > region.len()
        {
            return Err(bad);
        }
        let geo = Geometry {
            flags: MailboxFlags::from_bits_truncate(mb.flags.get()),
            cmdr_off: cmdr_off as usize,
            cmdr_size,
            data: ring_end..region.len(),
        };
        let tail = mb.cmd_tail.get();
        if tail >= cmdr_size || tail % ENTRY_ALIGN != 0 {
            return Err(RingError::Corrupt { offset: tail, reason: "cmd_tail out of range" });
        }
        if !region.claim_consumer() {
            return Err(RingError::AlreadyConsumed);
        }
        let granules = geo.data.len().div_ceil(BUSY_GRANULE);
        Ok(Ring {
            out_of_order: geo.flags.contains(MailboxFlags::CAP_OOOC),
            region,
            geo,
            serial: RING_SERIAL.fetch_add(1, Ordering::Relaxed),
            next: tail,
            tail,
            slots: VecDeque::new(),
            ready: VecDeque::new(),
            ready_by_id: HashMap::new(),
            outstanding: vec![0; 65536 / 64],
            busy: vec![0; granules.div_ceil(64)],
            take_nos: Vec::new(),
            taken: 0,
            published_tail: tail,
            broken: None,
        })
    }

    /// The geometry read from the mailbox.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The shared region.
    pub fn region(&self) -> &Arc<SharedRegion> {
        &self.region
    }

    /// Whether completions are written in completion order ([`MailboxFlags::CAP_OOOC`]) rather
    /// than in the order the kernel placed the commands.
    pub fn out_of_order(&self) -> bool {
        self.out_of_order
    }

    /// Number of commands handed out and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.outstanding.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn atomic(&self, field: usize) -> &AtomicU32 {
        // The mailbox was read at construction, so offsets 12 and 64 are in bounds; the mapping
        // is page-aligned, so they are aligned too.
        self.region.atomic_u32(field).expect("mailbox indices are in bounds and aligned")
    }

    fn corrupt(&mut self, offset: u32, reason: &'static str) -> RingError {
        let e = RingError::Corrupt { offset, reason };
        self.broken = Some(e.clone());
        e
    }

    fn read_at<T: FromBytes>(&self, off: usize) -> Option<T> {
        let mut buf = [0u8; 64];
        let n = size_of::<T>();
        let buf = buf.get_mut(..n)?;
        self.region.read(off, buf)?;
        T::read_from_bytes(buf).ok()
    }

    /// A [`HeadWatch`] from the entries taken so far: it tells, without this ring (or the lock
    /// a server keeps it under), whether the kernel has published another since.
    pub fn head_watch(&self) -> HeadWatch {
        HeadWatch { region: Arc::clone(&self.region), seen: self.next }
    }

    /// Takes the next entry the kernel has published, or `None` when the ring is empty.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, RingError> {
        loop {
            if let Some(e) = &self.broken {
                return Err(e.clone());
            }
            // Acquire pairs with the kernel's release of cmd_head (it issues a write barrier
            // before updating the head): every entry byte before the head is visible after.
            let head = self.atomic(MB_CMD_HEAD).load(Ordering::Acquire);
            if head >= self.geo.cmdr_size || head % ENTRY_ALIGN != 0 {
                return Err(self.corrupt(head, "cmd_head out of range"));
            }
            if head == self.next {
                return Ok(None);
            }
            let off = self.next;
            let abs = self.geo.cmdr_off + off as usize;
            let Some(hdr) = self.read_at::<EntryHeader>(abs) else {
                return Err(self.corrupt(off, "entry header outside the mapping"));
            };
            let len = entry_len(hdr.len_op.get());
            if len < ENTRY_ALIGN || len > self.geo.cmdr_size - off {
                return Err(self.corrupt(off, "entry length runs past the end of the ring"));
            }
            let after = (off + len) % self.geo.cmdr_size;
            // The kernel never passes our tail; an entry that would cross the head is bogus.
            let used = (head + self.geo.cmdr_size - off) % self.geo.cmdr_size;
            if len > used {
                return Err(self.corrupt(off, "entry length runs past cmd_head"));
            }
            match EntryOp::from_len_op(hdr.len_op.get()) {
                EntryOp::Pad => self.pass_over(off, len),
                EntryOp::Tmr => {
                    let tmr = self.read_tmr(abs, len);
                    let Some(tmr) = tmr else {
                        return Err(self.corrupt(off, "TMR entry shorter than its id list"));
                    };
                    self.pass_over(off, len);
                    return Ok(Some(Entry::Tmr(tmr)));
                }
                EntryOp::Cmd => {
                    if (len as usize) < CMD_ENTRY_MIN {
                        return Err(self.corrupt(off, "command entry shorter than 112 bytes"));
                    }
                    let id = hdr.cmd_id.get();
                    if bit_set(&self.outstanding, usize::from(id)) {
                        return Err(self.corrupt(off, "command id already outstanding"));
                    }
                    self.slots.push_back(Slot { off, len, cmd_id: Some(id) });
                    self.next = after;
                    bit_put(&mut self.outstanding, usize::from(id), true);
                    return match self.take_command(id, abs, len as usize) {
                        Ok(cmd) => Ok(Some(Entry::Command(cmd))),
                        Err(reason) => {
                            bit_put(&mut self.outstanding, usize::from(id), false);
                            self.push_ready(id, Response::internal_target_failure());
                            Err(RingError::Malformed { id, reason })
                        }
                    };
                }
                EntryOp::Unknown(_) => {
                    // An entry type from a newer kernel: tell it we did not understand (the
                    // UNKNOWN_OP uflag) and pass over it, as the header asks. Its length was
                    // checked above, so the walk stays on entry boundaries.
                    let flags = UFlags::from_bits_retain(hdr.uflags) | UFlags::UNKNOWN_OP;
                    let _ = self.region.write(abs + 7, &[flags.bits()]);
                    self.pass_over(off, len);
                }
            }
        }
    }

    /// Consumes an entry that needs no completion (PAD, TMR, unknown): the tail passes it as
    /// soon as everything before it is completed.
    fn pass_over(&mut self, off: u32, len: u32) {
        self.slots.push_back(Slot { off, len, cmd_id: None });
        self.next = (off + len) % self.geo.cmdr_size;
        self.advance_tail();
    }

    fn read_tmr(&self, abs: usize, len: u32) -> Option<Tmr> {
        let t: TmrEntry = self.read_at(abs)?;
        let cnt = t.cmd_cnt.get() as usize;
        let ids_len = cnt.checked_mul(2)?;
        if TMR_IDS_OFF.checked_add(ids_len)? > len as usize {
            return None;
        }
        let mut raw = vec![0u8; ids_len];
        self.region.read(abs + TMR_IDS_OFF, &mut raw)?;
        let cmd_ids = raw.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect();
        Some(Tmr { kind: TmrType::from_u8(t.tmr_type), cmd_ids })
    }

    /// Reads a command entry's CDB and iovecs, checking every offset the kernel gave.
    fn take_command(
        &mut self,
        id: u16,
        abs: usize,
        len: usize,
    ) -> Result<RingCommand, &'static str> {
        let req: CmdRequest =
            self.read_at(abs + size_of::<EntryHeader>()).ok_or("request outside the mapping")?;
        let iov_cnt = req.iov_cnt.get() as usize;
        let bidi_cnt = req.iov_bidi_cnt.get() as usize;
        let total = iov_cnt.checked_add(bidi_cnt).ok_or("iovec count overflows")?;
        let iov_end = total
            .checked_mul(size_of::<RingIovec>())
            .and_then(|n| n.checked_add(ENTRY_IOV_OFF))
            .ok_or("iovec count overflows")?;
        if iov_end > len {
            return Err("iovecs run past the entry");
        }

        // The CDB lies inside the entry, after the iovecs.
        let entry_end = abs + len;
        let cdb_off = usize::try_from(req.cdb_off.get()).map_err(|_| "CDB offset too large")?;
        if cdb_off < abs + iov_end || cdb_off >= entry_end {
            return Err("CDB outside its entry");
        }
        let cdb_len = (entry_end - cdb_off).min(MAX_CDB_LEN);
        let mut cdb = [0u8; MAX_CDB_LEN];
        self.region.read(cdb_off, &mut cdb[..cdb_len]).ok_or("CDB outside the mapping")?;

        // `total` comes from shared memory: bounded by the entry's size, but do not let it size
        // a large allocation up front.
        let mut iovs = Vec::with_capacity(total.min(64));
        let mut bidi_start = 0;
        for i in 0..total {
            if i == iov_cnt {
                bidi_start = iovs.len();
            }
            let iov: RingIovec = self
                .read_at(abs + ENTRY_IOV_OFF + i * size_of::<RingIovec>())
                .ok_or("iovec outside the mapping")?;
            let base = usize::try_from(iov.iov_base.get()).map_err(|_| "iovec base too large")?;
            let n = usize::try_from(iov.iov_len.get()).map_err(|_| "iovec length too large")?;
            let end = base.checked_add(n).ok_or("iovec overflows")?;
            if base < self.geo.data.start || end > self.geo.data.end {
                return Err("iovec outside the data area");
            }
            if n > 0 {
                iovs.push(base..end);
            }
        }
        if total == iov_cnt {
            bidi_start = iovs.len();
        }
        self.claim(&iovs)?;
        self.taken += 1;
        let slot = usize::from(id);
        if self.take_nos.len() <= slot {
            self.take_nos.resize(slot + 1, 0);
        }
        self.take_nos[slot] = self.taken;
        Ok(RingCommand {
            id,
            ring_serial: self.serial,
            cdb,
            cdb_len: cdb_len as u8, // <= 32
            data: DataBuffers {
                region: Arc::clone(&self.region),
                ring_serial: self.serial,
                cmd_id: id,
                take_no: self.taken,
                iovs,
                bidi_start,
            },
        })
    }

    /// Marks the granules of `iovs` busy, refusing any overlap with a live command's buffers
    /// (or within the command): the guarantee behind [`DataBuffers`]' mutable slices.
    fn claim(&mut self, iovs: &[Range<usize>]) -> Result<(), &'static str> {
        if iovs.is_empty() {
            return Ok(());
        }
        let base = self.geo.data.start;
        let granules = |r: &Range<usize>| {
            (r.start - base) / BUSY_GRANULE..(r.end - base).div_ceil(BUSY_GRANULE)
        };
        for (k, r) in iovs.iter().enumerate() {
            for g in granules(r) {
                if bit_set(&self.busy, g) {
                    // Undo what this command claimed so far, then refuse it.
                    for h in iovs[..k].iter().flat_map(granules).chain(granules(r).start..g) {
                        bit_put(&mut self.busy, h, false);
                    }
                    return Err("data buffer overlaps a buffer in use");
                }
                bit_put(&mut self.busy, g, true);
            }
        }
        Ok(())
    }

    /// Frees the granules a completed command claimed (its own ranges, checked when taken).
    fn release(&mut self, iovs: &[Range<usize>]) {
        let base = self.geo.data.start;
        for r in iovs {
            for g in (r.start - base) / BUSY_GRANULE..(r.end - base).div_ceil(BUSY_GRANULE) {
                bit_put(&mut self.busy, g, false);
            }
        }
    }

    fn push_ready(&mut self, id: u16, rsp: Response) {
        if self.out_of_order {
            self.ready.push_back((id, rsp));
        } else {
            self.ready_by_id.insert(id, rsp);
        }
        self.advance_tail();
    }

    /// Completes a command. The response is written into the ring now or, without
    /// out-of-order support, as soon as every command placed before it has completed; the
    /// kernel sees it after [`Ring::flush`] and a notification.
    ///
    /// Refused, with nothing completed or released, for a command this ring did not hand out or
    /// already completed ([`RingError::NotOutstanding`]) and for one carrying buffers that are
    /// not its own ([`RingError::ForeignBuffers`]); the command is dropped either way.
    pub fn complete(&mut self, cmd: RingCommand, rsp: Response) -> Result<(), RingError> {
        let id = cmd.id;
        if cmd.ring_serial != self.serial || !bit_set(&self.outstanding, usize::from(id)) {
            return Err(RingError::NotOutstanding { id });
        }
        // The buffers must be the very value handed out with this command: had they been swapped
        // with another command's, completing would give the kernel blocks still writable
        // elsewhere. `DataBuffers` is made only by `take_command` and never changed, so once its
        // take number matches, its ranges are exactly those claimed for this id at that take.
        let own = cmd.data.ring_serial == self.serial
            && cmd.data.cmd_id == id
            && self.take_nos.get(usize::from(id)) == Some(&cmd.data.take_no);
        if !own {
            return Err(RingError::ForeignBuffers { id });
        }
        // The bytes of a short read's buffer past what the response covers hold whatever an
        // earlier command left in those blocks. The kernel sends them whenever it does not take
        // read_len (no READ_LEN support, or a read_len of 0, which it reads as "not given"), and
        // whether it takes it is its business: zero them in every case.
        let mut cmd = cmd;
        if let Some(n) = rsp.read_len
            && (n as usize) < cmd.data.len()
        {
            cmd.data.zero_from(n as usize);
        }
        self.release(&cmd.data.iovs);
        // The buffers are dropped with `cmd` here, before the kernel may reuse the blocks.
        drop(cmd);
        bit_put(&mut self.outstanding, usize::from(id), false);
        self.push_ready(id, rsp);
        Ok(())
    }

    /// Writes waiting responses into the slots at the tail and moves the tail past them and
    /// past PAD and TMR entries.
    fn advance_tail(&mut self) {
        while let Some(slot) = self.slots.front().copied() {
            match slot.cmd_id {
                None => {}
                Some(placed) => {
                    let done = if self.out_of_order {
                        self.ready.pop_front()
                    } else {
                        self.ready_by_id.remove(&placed).map(|r| (placed, r))
                    };
                    let Some((id, rsp)) = done else { break };
                    self.write_response(slot.off, id, &rsp);
                }
            }
            self.slots.pop_front();
            self.tail = (slot.off + slot.len) % self.geo.cmdr_size;
        }
    }

    fn write_response(&self, off: u32, id: u16, rsp: &Response) {
        let abs = self.geo.cmdr_off + off as usize;
        let mut uflags = UFlags::empty();
        let mut read_len = 0;
        if let Some(n) = rsp.read_len
            && self.geo.flags.contains(MailboxFlags::CAP_READ_LEN)
        {
            uflags |= UFlags::READ_LEN;
            read_len = n;
        }
        if rsp.unknown_op {
            uflags |= UFlags::UNKNOWN_OP;
        }
        let body = CmdResponse::new(rsp.status, read_len, &rsp.sense[..usize::from(rsp.sense_len)]);
        // The slot was read by us and is not yet behind cmd_tail, so the kernel does not touch
        // it: plain writes suffice; `flush` publishes them with Release. The entry's len_op
        // stays as the kernel wrote it (it walks completions by that length); only the id,
        // the flags and the response change. Writes are in bounds: the slot is >= 112 bytes.
        let _ = self.region.write(abs + 4, &id.to_ne_bytes());
        let _ = self.region.write(abs + 7, &[uflags.bits()]);
        let _ = self.region.write(abs + size_of::<EntryHeader>(), body.as_bytes());
    }

    /// Publishes the tail. Returns whether it moved since the last flush, in which case the
    /// caller notifies the kernel once (a 4-byte write to the UIO device): many completions,
    /// one notification.
    pub fn flush(&mut self) -> bool {
        if self.tail == self.published_tail {
            return false;
        }
        // Release orders every response byte written above before the new tail: the kernel
        // reads cmd_tail and then the entries behind it.
        self.atomic(MB_CMD_TAIL).store(self.tail, Ordering::Release);
        self.published_tail = self.tail;
        true
    }
}
