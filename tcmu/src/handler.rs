//! The one trait a user implements to take part in a device: [`Handler`].
//!
//! A device is a [`LogicalUnit`]: a handler in front of the built-in emulation of a
//! [`BlockDevice`]. Each command the kernel sends is decoded with `scsi-proto` and handed to
//! the handler as a [`ScsiCmd`]: its CDB and the decoded [`Command`] (when `scsi-proto` knows
//! it), its LBA, transfer length and FUA, the
//! block size, and its data as [`std::io::Read`] (Data-Out) / [`std::io::Write`] (Data-In) or
//! by offset ([`CommandData`]). The handler answers it ([`ScsiCmd::ok`],
//! [`ScsiCmd::read_len`], [`ScsiCmd::check_condition`]) or declines it ([`Action::Emulate`]),
//! and the emulation answers, with the device's identity (vendor, product, serial) and mode
//! pages. Serving a plain block device needs no handler: [`EmulationOnly`] declines everything.
//!
//! A CDB `scsi-proto` cannot decode (a vendor opcode, LOG SENSE...) reaches the handler too,
//! with [`ScsiCmd::command`] `None` and its bytes in [`ScsiCmd::cdb`]; declined, the emulation
//! answers it CHECK CONDITION with the sense saying why (INVALID COMMAND OPERATION CODE,
//! INVALID FIELD IN CDB...). A handler that panics costs that one command: the server answers it CHECK
//! CONDITION, HARDWARE ERROR, INTERNAL TARGET FAILURE.
//!
//! Task management (ABORT TASK, LOGICAL UNIT RESET...) reaches [`Handler::task_management`]
//! when [`Handler::wants_task_management`] says so: the device is then made with the kernel's
//! `tmr_notification` attribute set, without which the kernel sends none.

use crate::backend::BlockDevice;
use crate::emulate::{CommandData, Emulator, Reply};
use scsi_proto::cdb::{Command, DataDirection};
use scsi_proto::sense::SenseData;
use std::io;
use std::sync::Arc;

/// The CHECK CONDITION status.
const CHECK_CONDITION: u8 = 0x02;

/// What a user implements: answers the commands it wants, declines the rest to the built-in
/// emulation, and hears about task management.
///
/// Called from the server's worker threads, several commands at once (hence `Sync`).
pub trait Handler: Send + Sync {
    /// Answers one command, or declines it with [`Action::Emulate`].
    ///
    /// Durability is the emulation's for what it answers: it honours FUA, writes through when
    /// the write cache is off (WCE=0), and flushes when MODE SELECT turns WCE from 1 to 0. For
    /// a write the handler answers itself, it is the handler's own job: with FUA
    /// ([`ScsiCmd::fua`]) or the cache off, the data must be on stable storage before the
    /// command ends GOOD, and SYNCHRONIZE CACHE (emulated unless the handler takes it) flushes
    /// only the emulation's [`BlockDevice`], not wherever the handler put the data. The
    /// current Caching mode page (WCE, which an initiator's MODE SELECT may change) is not
    /// shown to the handler: one that answers writes itself and cannot tell should make each
    /// durable before answering GOOD.
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action;

    /// A task management function the initiator sent (ABORT TASK, LOGICAL UNIT RESET...),
    /// called by the serving thread that leads (takes commands off the ring). Informational:
    /// the kernel has already aborted the commands it names. Those still queued (not yet
    /// running) are answered ABORTED COMMAND without reaching [`Handler::handle`]; those
    /// already running are completed as they finish (a handler may use this to end long work
    /// on them early). Sent by the kernel only when [`Handler::wants_task_management`] is
    /// true. No command is taken off the ring until it returns: keep it short. Default:
    /// ignored.
    fn task_management(&self, tmf: &TaskManagement) {
        let _ = tmf;
    }

    /// Whether the device should be made with the kernel's `tmr_notification` attribute set,
    /// so task management reaches [`Handler::task_management`]. Default: false.
    fn wants_task_management(&self) -> bool {
        false
    }
}

impl<H: Handler + ?Sized> Handler for Arc<H> {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        (**self).handle(cmd)
    }

    fn task_management(&self, tmf: &TaskManagement) {
        (**self).task_management(tmf);
    }

    fn wants_task_management(&self) -> bool {
        (**self).wants_task_management()
    }
}

/// The handler of a device that is the emulation alone: it declines every command.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmulationOnly;

impl Handler for EmulationOnly {
    fn handle(&self, _cmd: &mut ScsiCmd<'_>) -> Action {
        Action::Emulate
    }
}

/// How a handler dealt with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answered: this is how the command ended.
    Reply(Reply),
    /// Declined: the built-in emulation answers it.
    Emulate,
}

/// One command, decoded, with its data: what a [`Handler`] gets.
///
/// Its data is the Data-Out bytes the command carries (read them with [`io::Read`]) or the
/// Data-In buffer it answers in (fill it with [`io::Write`]); one cursor serves both, from the
/// start of the buffer. [`ScsiCmd::data`] reaches the buffer by offset.
pub struct ScsiCmd<'a> {
    id: u16,
    cdb: &'a [u8],
    command: Option<&'a Command>,
    block_size: u32,
    data: &'a mut dyn CommandData,
    pos: usize,
    /// How far the handler is known to have filled the buffer: the highest byte written
    /// through [`io::Write`], or all of it once [`ScsiCmd::data`] was taken.
    filled: usize,
}

impl std::fmt::Debug for ScsiCmd<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScsiCmd")
            .field("id", &self.id)
            .field("command", &self.command.map(Command::name))
            .field("data_len", &self.data.len())
            .field("pos", &self.pos)
            .finish()
    }
}

impl<'a> ScsiCmd<'a> {
    /// The command `id` (the kernel's, as [`TaskManagement::aborted`] names it), `cdb`,
    /// decoded as `command` if `scsi-proto` can, on a device of `block_size`-byte blocks, with
    /// its `data`.
    pub(crate) fn new(
        id: u16,
        cdb: &'a [u8],
        command: Option<&'a Command>,
        block_size: u32,
        data: &'a mut dyn CommandData,
    ) -> Self {
        ScsiCmd { id, cdb, command, block_size, data, pos: 0, filled: 0 }
    }

    /// The kernel's id of the command.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The decoded CDB: its kind, name and every field. `None` for a CDB `scsi-proto` cannot
    /// decode (a vendor or unsupported operation code, a reserved field set...): the handler
    /// may still answer it from [`ScsiCmd::cdb`], or decline it to the emulation, which
    /// answers with the sense saying why.
    pub fn command(&self) -> Option<&Command> {
        self.command
    }

    /// The CDB's bytes, as the kernel sent them.
    pub fn cdb(&self) -> &[u8] {
        self.cdb
    }

    /// The LOGICAL BLOCK ADDRESS, 0 for a command without one (or not decoded).
    pub fn lba(&self) -> u64 {
        self.command.and_then(Command::lba).unwrap_or(0)
    }

    /// The number of blocks (TRANSFER LENGTH, or the count of WRITE SAME, VERIFY...), 0 for a
    /// command without one (or not decoded). READ(6)/WRITE(6) say 256 for a zero field.
    pub fn transfer_length(&self) -> u32 {
        self.command.and_then(Command::transfer_length).unwrap_or(0)
    }

    /// Whether FUA is set: the command's writes must be on stable storage before it ends GOOD.
    /// The emulation sees to that for the commands it answers; a handler that answers a write
    /// itself must see to it (see [`Handler::handle`]), and to the write cache being off too.
    pub fn fua(&self) -> bool {
        self.command.is_some_and(Command::fua)
    }

    /// The device's logical block size in bytes.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// The data buffer's length in bytes.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Where the [`io::Read`] / [`io::Write`] cursor is, in bytes from the start of the data.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The data, by offset (the cursor is not moved). Taking it makes the handler answerable
    /// for the whole Data-In buffer: [`ScsiCmd::ok`] then zeroes none of it.
    pub fn data(&mut self) -> &mut dyn CommandData {
        self.filled = self.data.len();
        &mut *self.data
    }

    /// GOOD, the whole Data-In buffer (if any) transferred. Bytes the handler did not fill may
    /// hold another command's data, so the rule is: what lies past the highest byte written
    /// through [`io::Write`] is zeroed, unless the handler took [`ScsiCmd::data`] (then it is
    /// answerable for the whole buffer and nothing is zeroed). A handler that fills only part
    /// of the buffer should answer [`ScsiCmd::read_len`], which also reports the residual.
    pub fn ok(&self) -> Action {
        Action::Reply(Reply::good())
    }

    /// GOOD for a Data-In command that placed `n` bytes at the start of its buffer: the rest is
    /// zeroed as the reply leaves (it may hold another command's bytes) and the shorter
    /// transfer reported.
    pub fn read_len(&mut self, n: usize) -> Action {
        let n = n.min(self.data.len());
        Action::Reply(Reply { read_len: (n < self.data.len()).then_some(n), ..Reply::good() })
    }

    /// CHECK CONDITION with `sense` (in the format the device reports, by the Control mode
    /// page's D_SENSE). The data buffer is zeroed as the reply leaves: a failed command
    /// carries nothing back.
    pub fn check_condition(&mut self, sense: SenseData) -> Action {
        Action::Reply(Reply::check_condition(sense))
    }
}

impl io::Read for ScsiCmd<'_> {
    /// Reads the Data-Out bytes from the cursor on.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.read_at(self.pos, buf);
        self.pos += n;
        Ok(n)
    }
}

impl io::Write for ScsiCmd<'_> {
    /// Fills the Data-In buffer from the cursor on; writes nothing once it is full.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.data.write_at(self.pos, buf);
        self.pos += n;
        self.filled = self.filled.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A task management function, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskFunction {
    /// ABORT TASK: one command.
    AbortTask,
    /// ABORT TASK SET: the initiator's commands.
    AbortTaskSet,
    /// CLEAR ACA.
    ClearAca,
    /// CLEAR TASK SET: every command.
    ClearTaskSet,
    /// LOGICAL UNIT RESET.
    LunReset,
    /// I_T NEXUS RESET (the kernel's "target warm reset").
    TargetWarmReset,
    /// TARGET COLD RESET.
    TargetColdReset,
    /// A LOGICAL UNIT RESET from a persistent reservation's PREEMPT AND ABORT.
    LunResetPro,
    /// A function this crate does not know (the kernel's number).
    Other(u8),
}

/// A task management notification: the function and the commands it aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskManagement {
    /// What the initiator asked.
    pub function: TaskFunction,
    /// The ids ([`ScsiCmd::id`]) of the commands it aborted that were handed to this device.
    pub aborted: Vec<u16>,
}

/// A device's command side: a [`Handler`] in front of the [`Emulator`] of a block device (its
/// identity, mode pages, and every command the handler declines). What a
/// [`crate::Server`] serves.
#[derive(Debug)]
pub struct LogicalUnit<H, B> {
    handler: H,
    emulator: Emulator<B>,
}

impl<B: BlockDevice> LogicalUnit<EmulationOnly, B> {
    /// The emulation alone.
    pub fn emulated(emulator: Emulator<B>) -> Self {
        LogicalUnit::new(EmulationOnly, emulator)
    }
}

/// What [`LogicalUnit::decide`] found: the command's reply, or that the emulation runs it.
pub(crate) enum Decided {
    /// Answered (a unit attention, or the handler's reply).
    Reply(Reply),
    /// Declined by the handler: the emulation runs the command, as decoded (or refused).
    Emulate(scsi_proto::Result<Command>),
}

impl<H: Handler, B: BlockDevice> LogicalUnit<H, B> {
    /// `handler`, with `emulator` answering what it declines.
    pub fn new(handler: H, emulator: Emulator<B>) -> Self {
        LogicalUnit { handler, emulator }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The emulation behind it.
    pub fn emulator(&self) -> &Emulator<B> {
        &self.emulator
    }

    /// Executes command `id`: decodes `cdb`, lets the handler answer it, or else the
    /// emulation. A CDB `scsi-proto` cannot decode reaches the handler undecoded; declined, the
    /// emulation answers it CHECK CONDITION with the reason. Works on any [`CommandData`]: a
    /// handler can be tested on byte vectors.
    pub fn execute(&self, id: u16, cdb: &[u8], data: &mut dyn CommandData) -> Reply {
        match self.decide(id, cdb, data) {
            Decided::Reply(reply) => reply,
            Decided::Emulate(decoded) => self.emulator.execute_attended(decoded, data),
        }
    }

    /// What comes before the emulation: decodes `cdb`, looks for a pending unit attention,
    /// and lets the handler answer (its reply cleaned up) or decline.
    pub(crate) fn decide(&self, id: u16, cdb: &[u8], data: &mut dyn CommandData) -> Decided {
        // Decoded once: the handler sees it, and the emulation takes it if the handler declines.
        let decoded = Command::parse(cdb);
        let command = decoded.as_ref().ok();
        let block_size = self.emulator.device().block_size();
        // An undecoded command's direction is unknown: treated as Data-In, as zeroing what the
        // handler did not fill is harmless for a Data-Out or data-less one.
        let direction = command.map_or(DataDirection::FromDevice, Command::data_direction);
        // A pending unit attention (the capacity changed) comes before the handler, as before
        // the emulation: the initiator must learn of it before any command runs.
        if let Some(reply) = self.emulator.unit_attention(command, data) {
            return Decided::Reply(reply);
        }
        let mut cmd = ScsiCmd::new(id, cdb, command, block_size, data);
        match self.handler.handle(&mut cmd) {
            Action::Reply(mut reply) => {
                let filled = cmd.filled;
                // Whatever the handler built, what leaves is consistent: sense means CHECK
                // CONDITION, a failed command carries nothing back, and neither does a command
                // without data (should the kernel have handed it a buffer anyway); a GOOD
                // Data-In reply shows only what the handler filled (see `ScsiCmd::ok`).
                if reply.sense.is_some() {
                    reply.status = CHECK_CONDITION;
                }
                if reply.status != Reply::good().status {
                    data.zero_all();
                    reply.read_len = None;
                } else if direction == DataDirection::None {
                    data.zero_from(0);
                } else if direction == DataDirection::FromDevice {
                    let end = reply.read_len.map_or(filled, |n| n.min(data.len()));
                    data.zero_from(end);
                }
                let format = self.emulator.sense_format();
                reply.sense = reply.sense.map(|s| s.in_format(format));
                Decided::Reply(reply)
            }
            Action::Emulate => Decided::Emulate(decoded),
        }
    }

    /// Passes a task management notification to the handler.
    pub fn task_management(&self, tmf: &TaskManagement) {
        self.handler.task_management(tmf);
    }
}
