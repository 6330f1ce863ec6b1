//! READ and WRITE started without waiting, on a device that does its I/O asynchronously
//! ([`BlockDevice::starts_io`]: an RBD image through `rbd_aio_*`): the serving thread checks
//! the command, starts the I/O and is free again; the command's reply is made when the I/O
//! ends, on whatever thread that is, and handed to the command ([`Started::reply`]), which
//! completes it on the ring. Every other command, and a READ or WRITE that is not plain
//! (protection information, a buffer that is not exactly the blocks named, a device that
//! cannot start it), runs as usual.
//!
//! A write started this way counts itself in flight until it ends: COMPARE AND WRITE, which
//! shuts other writes out while it compares, also waits for those.

use super::{Emulator, Fail, Reply, io_fail};
use crate::backend::{BlockDevice, IoRequest};
use scsi_proto::cdb::{Command, Kind};
use scsi_proto::sense::SenseFormat;
use std::io::{self, IoSliceMut};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The most segments a request handed to [`BlockDevice::start_read`] or
/// [`BlockDevice::start_write`] has (the system's `IOV_MAX`, which librbd's vectored calls
/// refuse to exceed): a command in more runs on a serving thread, which splits it.
pub const MAX_SEGMENTS: usize = 1024;

/// A command run asynchronously, from the emulation's side: its buffers, and where its reply
/// goes. Implemented for ring commands by the ring adapter.
pub(crate) trait Started: Send + 'static {
    /// The command's buffer length, in bytes.
    fn len(&self) -> usize;
    /// The buffer's segments, in order.
    fn segments(&mut self) -> Vec<IoSliceMut<'_>>;
    /// Zeroes everything the command could carry back (what a failed command leaves).
    fn zero_all(&mut self);
    /// Ends the command with `reply`.
    fn reply(self: Box<Self>, reply: Reply);
}

/// The writes started and not yet ended, and a condition to wait for none.
#[derive(Debug, Default)]
pub(super) struct WritesInFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

impl WritesInFlight {
    fn enter(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn leave(&self) {
        let mut n = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    /// Waits until no write started this way is in flight.
    pub(super) fn wait_idle(&self) {
        let n = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let _n = self.idle.wait_while(n, |n| *n > 0).unwrap_or_else(PoisonError::into_inner);
    }
}

/// The request handed to the device: the command, and how its reply is made.
struct Request {
    /// `None` once finished.
    command: Option<Box<dyn Started>>,
    write: bool,
    format: SenseFormat,
    /// For a write: the count it is in.
    writes: Option<Arc<WritesInFlight>>,
}

impl Request {
    fn reply(&mut self, result: io::Result<()>) {
        let Some(mut command) = self.command.take() else { return };
        let reply = match result {
            Ok(()) => Reply::good(),
            Err(e) => {
                command.zero_all();
                let Fail::Sense(sense) = io_fail(e, self.write);
                Reply::check_condition(sense.in_format(self.format))
            }
        };
        if let Some(writes) = self.writes.take() {
            writes.leave();
        }
        command.reply(reply);
    }
}

impl IoRequest for Request {
    fn len(&self) -> usize {
        self.command.as_ref().map_or(0, |c| c.len())
    }

    fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
        self.command.as_mut().map_or_else(Vec::new, |c| c.segments())
    }

    fn finish(mut self: Box<Self>, result: io::Result<()>) {
        self.reply(result);
    }
}

impl Drop for Request {
    /// A request the device dropped without finishing ends its command as failed, and leaves
    /// the writes in flight: nothing is left waiting on it.
    fn drop(&mut self) {
        self.reply(Err(io::Error::other("the device dropped the request unfinished")));
    }
}

/// A READ or WRITE the emulation found it can start without waiting ([`Emulator::plan_start`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    lba: u64,
    write: bool,
    durable: bool,
}

impl<B: BlockDevice> Emulator<B> {
    /// Whether `cmd`, whose buffer is `len` bytes in `segments` pieces, is a plain READ or
    /// WRITE the device starts without waiting (see the module's notes), and how; `None`: it
    /// runs as usual. A pending unit attention must have been looked at before.
    pub(crate) fn plan_start(&self, cmd: &Command, len: usize, segments: usize) -> Option<Plan> {
        if segments > MAX_SEGMENTS {
            return None;
        }
        let write = match cmd.kind() {
            Kind::Read => false,
            Kind::Write => true,
            _ => return None,
        };
        // The 32-byte forms are not emulated; protection information is refused: as usual.
        if self.op(cmd.info()).is_none() || cmd.protect().is_some_and(|p| p != 0) {
            return None;
        }
        let (lba, blocks) = self.range(cmd).ok()?;
        let exact = self.bytes(blocks).is_ok_and(|n| n > 0 && n == len);
        if !exact || (write && self.dev.read_only()) {
            return None;
        }
        let durable = write && self.must_be_durable(cmd);
        self.dev.starts_io(write, durable).then_some(Plan { lba, write, durable })
    }

    /// Starts what `plan` says on the device; `command` gets its reply when the I/O ends.
    pub(crate) fn start(&self, plan: Plan, command: Box<dyn Started>) {
        let Plan { lba, write, durable } = plan;
        let format = self.sense_format();
        let mut request = Request { command: Some(command), write, format, writes: None };
        if write {
            // Taken shared, as every write takes it, while the write starts: COMPARE AND
            // WRITE, holding it exclusive, then waits for the writes in flight.
            let _shared = self.shared();
            self.writes_in_flight.enter();
            request.writes = Some(Arc::clone(&self.writes_in_flight));
            self.dev.start_write(lba, Box::new(request), durable);
        } else {
            self.dev.start_read(lba, Box::new(request));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryDisk;
    use crate::emulate::Identity;
    use std::io::IoSlice;
    use std::sync::mpsc;

    /// A memory disk whose started writes wait until the test releases them.
    struct Gated {
        disk: MemoryDisk,
        held: Mutex<Vec<(u64, Box<dyn IoRequest>)>>,
    }

    impl Gated {
        fn release(&self) {
            let held = std::mem::take(&mut *self.held.lock().unwrap());
            for (lba, mut req) in held {
                let result = {
                    let segs = req.segments();
                    let bufs: Vec<IoSlice<'_>> = segs.iter().map(|s| IoSlice::new(s)).collect();
                    self.disk.write(lba, &bufs, false)
                };
                req.finish(result);
            }
        }
    }

    impl BlockDevice for Gated {
        fn block_size(&self) -> u32 {
            512
        }
        fn num_blocks(&self) -> u64 {
            self.disk.num_blocks()
        }
        fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
            self.disk.read(lba, bufs)
        }
        fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
            self.disk.write(lba, bufs, fua)
        }
        fn starts_io(&self, _write: bool, _durable: bool) -> bool {
            true
        }
        fn start_write(&self, lba: u64, req: Box<dyn IoRequest>, _durable: bool) {
            self.held.lock().unwrap().push((lba, req));
        }
    }

    /// A command run without waiting whose reply goes to a channel.
    struct Sent(Vec<u8>, mpsc::Sender<Reply>);

    impl Started for Sent {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
            vec![IoSliceMut::new(&mut self.0)]
        }
        fn zero_all(&mut self) {
            self.0.fill(0);
        }
        fn reply(self: Box<Self>, reply: Reply) {
            let _ = self.1.send(reply);
        }
    }

    #[test]
    fn compare_and_write_waits_for_the_writes_in_flight() {
        let disk = Gated { disk: MemoryDisk::new(16, 512).unwrap(), held: Mutex::default() };
        let emu = Arc::new(Emulator::new(disk, Identity::for_name("caw")));
        let write = Command::parse(&[0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
        let plan = emu.plan_start(&write, 512, 1).expect("a plain WRITE is started");
        let (tx, written) = mpsc::channel();
        emu.start(plan, Box::new(Sent(vec![1; 512], tx)));
        // COMPARE AND WRITE expecting what the write in flight carries.
        let (tx, compared) = mpsc::channel();
        let caw_emu = Arc::clone(&emu);
        std::thread::spawn(move || {
            let mut data = [vec![1u8; 512], vec![2u8; 512]].concat();
            let caw = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
            let _ = tx.send(caw_emu.execute(&caw, &mut data));
        });
        let wait = std::time::Duration::from_millis(200);
        assert!(compared.recv_timeout(wait).is_err(), "compared with the write still in flight");
        emu.device().release();
        assert_eq!(written.recv_timeout(wait * 10).unwrap(), Reply::good());
        assert_eq!(compared.recv_timeout(wait * 10).unwrap(), Reply::good(), "compared after it");
        let mut back = vec![0u8; 512];
        emu.device().disk.read(0, &mut [IoSliceMut::new(&mut back)]).unwrap();
        assert!(back.iter().all(|&b| b == 2));
    }

    #[test]
    fn only_plain_reads_and_writes_of_exactly_their_blocks_are_started() {
        let disk = Gated { disk: MemoryDisk::new(16, 512).unwrap(), held: Mutex::default() };
        let emu = Emulator::new(disk, Identity::for_name("plan"));
        let plan =
            |cdb: &[u8], len| emu.plan_start(&Command::parse(cdb).unwrap(), len, 1).is_some();
        assert!(plan(&[0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0], 1024), "READ(10)");
        assert!(!plan(&[0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0], 1536), "a longer buffer");
        assert!(!plan(&[0x28, 0, 0, 0, 0, 1, 0, 0, 0, 0], 0), "no blocks");
        assert!(!plan(&[0x28, 0x20, 0, 0, 0, 1, 0, 0, 2, 0], 1024), "RDPROTECT");
        assert!(!plan(&[0x28, 0, 0, 0, 0, 15, 0, 0, 2, 0], 1024), "past the end");
        assert!(!plan(&[0x2e, 0, 0, 0, 0, 1, 0, 0, 1, 0], 512), "WRITE AND VERIFY");
        assert!(!plan(&[0x2f, 0, 0, 0, 0, 1, 0, 0, 1, 0], 0), "VERIFY");
        let read = Command::parse(&[0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0]).unwrap();
        assert!(emu.plan_start(&read, 1024, MAX_SEGMENTS).is_some());
        assert!(emu.plan_start(&read, 1024, MAX_SEGMENTS + 1).is_none(), "too many segments");
    }
}
