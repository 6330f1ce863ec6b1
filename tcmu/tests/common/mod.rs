//! Shared by the integration tests: a driver loop over the simulated kernel and its doorbell.
#![allow(dead_code)]

use std::time::{Duration, Instant};
use tcmu_ring::sim::{SimCompletion, SimData, SimDoorbell, SimError, SimKernel};

/// Runs `f` with panic messages kept out of the test output, for a test that injects a panic
/// into a server thread. The hook is process-wide: one such test at a time swaps it.
pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = HOOK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = f();
    std::panic::set_hook(prev);
    r
}

pub fn drive(
    sim: &mut SimKernel,
    bell: &SimDoorbell,
    jobs: Vec<(Vec<u8>, Vec<u8>, usize)>,
) -> Vec<SimCompletion> {
    let total = jobs.len();
    let mut jobs = jobs.into_iter().peekable();
    let mut done = Vec::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.len() < total {
        assert!(Instant::now() < deadline, "stalled with {} of {total} done", done.len());
        let mut submitted = false;
        while let Some((cdb, out, read)) = jobs.peek() {
            let data = if !out.is_empty() {
                SimData::Write(out)
            } else if *read > 0 {
                SimData::Read(*read)
            } else {
                SimData::None
            };
            match sim.submit(cdb, data) {
                Ok(_) => {
                    jobs.next();
                    submitted = true;
                }
                Err(SimError::Full) => break,
                Err(e) => panic!("{e}"),
            }
        }
        if submitted {
            bell.kick();
        }
        seen = bell.wait_notified(seen, Duration::from_millis(50));
        done.extend(sim.reap().unwrap());
    }
    done
}

pub fn rw10(op: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    vec![op, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}

/// An emulated disk served through the real ring consumer by the simulated kernel, one command
/// at a time: what an initiator sees.
pub struct SimDisk<B> {
    pub sim: SimKernel,
    pub ring: tcmu_ring::Ring,
    pub emu: tcmu::Emulator<B>,
}

impl<B: tcmu::BlockDevice> SimDisk<B> {
    /// Over a small simulated device (1 MiB of data area).
    pub fn new(emu: tcmu::Emulator<B>) -> Self {
        Self::with_config(tcmu_ring::sim::SimConfig::small(), emu)
    }

    pub fn with_config(cfg: tcmu_ring::sim::SimConfig, emu: tcmu::Emulator<B>) -> Self {
        let sim = SimKernel::new(cfg).unwrap();
        let ring = tcmu_ring::Ring::new(sim.region()).unwrap();
        SimDisk { sim, ring, emu }
    }

    /// Submits one command, executes it as the server's workers do (a panic answered with
    /// INTERNAL TARGET FAILURE), completes it and reaps the completion.
    pub fn run(&mut self, cdb: &[u8], data: SimData<'_>) -> SimCompletion {
        let id = self.sim.submit(cdb, data).unwrap();
        let Some(tcmu_ring::Entry::Command(mut cmd)) = self.ring.next_entry().unwrap() else {
            panic!("no command")
        };
        let emu = &self.emu;
        let rsp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (cdb, data) = cmd.parts_mut();
            tcmu_ring::Response::from(emu.execute(cdb, data))
        }))
        .unwrap_or_else(|_| tcmu_ring::Response::internal_target_failure());
        self.ring.complete(cmd, rsp).unwrap();
        self.ring.flush();
        let mut done = self.sim.reap().unwrap();
        assert_eq!(done.len(), 1);
        let c = done.remove(0);
        assert_eq!(c.id, id);
        c
    }

    /// Runs a command that must end GOOD; its Data-In.
    pub fn ok(&mut self, cdb: &[u8], data: SimData<'_>) -> Vec<u8> {
        let c = self.run(cdb, data);
        good(cdb, c.status, &c.sense);
        c.data_in
    }

    /// Runs a command that must end in CHECK CONDITION: (sense key, ASC, ASCQ).
    pub fn fails(&mut self, cdb: &[u8], data: SimData<'_>) -> (u8, u8, u8) {
        let (key, asc, ascq, _) = self.fails_with_sense(cdb, data);
        (key, asc, ascq)
    }

    /// [`SimDisk::fails`], with the whole sense data.
    pub fn fails_with_sense(
        &mut self,
        cdb: &[u8],
        data: SimData<'_>,
    ) -> (u8, u8, u8, scsi_proto::sense::SenseData) {
        let c = self.run(cdb, data);
        check_condition(cdb, c.status, &c.sense)
    }

    /// Runs a command and returns the emulation's response with the whole of its buffer as
    /// the emulation left it, before the ring or the kernel touch it.
    pub fn run_raw(&mut self, cdb: &[u8], data: SimData<'_>) -> (tcmu_ring::Response, Vec<u8>) {
        self.sim.submit(cdb, data).unwrap();
        let Some(tcmu_ring::Entry::Command(mut cmd)) = self.ring.next_entry().unwrap() else {
            panic!("no command")
        };
        let (cdb, data) = cmd.parts_mut();
        let rsp = tcmu_ring::Response::from(self.emu.execute(cdb, data));
        let mut buf = vec![0u8; data.len()];
        data.copy_to_slice_at(0, &mut buf);
        self.ring.complete(cmd, rsp).unwrap();
        self.ring.flush();
        assert_eq!(self.sim.reap().unwrap().len(), 1);
        (rsp, buf)
    }
}

/// A command's data for [`VecDisk`]: as `SimData`, without a ring.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// No data transfer.
    None,
    /// Data-Out: these bytes.
    Write(&'a [u8]),
    /// A Data-In buffer of this many bytes.
    Read(usize),
}

/// What a Data-In buffer holds before the emulation fills it: another command's bytes, as the
/// ring's data area may.
pub const STALE: u8 = 0xee;

/// How a command on a [`VecDisk`] ended.
#[derive(Debug, Clone)]
pub struct Done {
    /// SCSI status.
    pub status: u8,
    /// The sense bytes (none without CHECK CONDITION).
    pub sense: Vec<u8>,
    /// The emulation's `read_len`.
    pub read_len: Option<usize>,
    /// For GOOD: the Data-In the command placed (its first `read_len` bytes, else the whole
    /// buffer).
    pub data_in: Vec<u8>,
    /// The whole buffer as the emulation left it.
    pub buf: Vec<u8>,
}

/// An emulated disk driven with plain byte vectors: the emulation alone, no ring.
pub struct VecDisk<B> {
    pub emu: tcmu::Emulator<B>,
}

impl<B: tcmu::BlockDevice> VecDisk<B> {
    pub fn new(emu: tcmu::Emulator<B>) -> Self {
        VecDisk { emu }
    }

    /// Runs one command; a Data-In buffer starts out holding [`STALE`] bytes.
    pub fn run(&mut self, cdb: &[u8], data: Data<'_>) -> Done {
        let mut buf = match data {
            Data::None => Vec::new(),
            Data::Write(bytes) => bytes.to_vec(),
            Data::Read(n) => vec![STALE; n],
        };
        let reply = self.emu.execute(cdb, &mut buf);
        let data_in = if reply.status == 0 && matches!(data, Data::Read(_)) {
            buf[..reply.read_len.unwrap_or(buf.len())].to_vec()
        } else {
            Vec::new()
        };
        Done {
            status: reply.status,
            sense: reply.sense_bytes(),
            read_len: reply.read_len,
            data_in,
            buf,
        }
    }

    /// Runs a command that must end GOOD; its Data-In.
    pub fn ok(&mut self, cdb: &[u8], data: Data<'_>) -> Vec<u8> {
        let c = self.run(cdb, data);
        good(cdb, c.status, &c.sense);
        c.data_in
    }

    /// Runs a command that must end in CHECK CONDITION: (sense key, ASC, ASCQ).
    pub fn fails(&mut self, cdb: &[u8], data: Data<'_>) -> (u8, u8, u8) {
        let (key, asc, ascq, _) = self.fails_with_sense(cdb, data);
        (key, asc, ascq)
    }

    /// [`VecDisk::fails`], with the whole sense data.
    pub fn fails_with_sense(
        &mut self,
        cdb: &[u8],
        data: Data<'_>,
    ) -> (u8, u8, u8, scsi_proto::sense::SenseData) {
        let c = self.run(cdb, data);
        check_condition(cdb, c.status, &c.sense)
    }
}

/// Asserts a command ended GOOD, showing its sense otherwise.
fn good(cdb: &[u8], status: u8, sense: &[u8]) {
    assert_eq!(
        status,
        0,
        "{:02x?}: sense {}",
        cdb,
        <scsi_proto::sense::SenseData as scsi_proto::Wire>::parse(sense)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
}

/// Asserts a command ended in CHECK CONDITION: (sense key, ASC, ASCQ, the sense data).
fn check_condition(
    cdb: &[u8],
    status: u8,
    sense: &[u8],
) -> (u8, u8, u8, scsi_proto::sense::SenseData) {
    assert_eq!(status, 2, "{cdb:02x?} should fail");
    let s = <scsi_proto::sense::SenseData as scsi_proto::Wire>::parse(sense).unwrap();
    (s.key as u8, s.additional.asc, s.additional.ascq, s)
}
