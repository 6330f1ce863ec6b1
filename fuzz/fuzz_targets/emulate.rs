//! The SBC emulation takes CDBs and data from initiators through the kernel: arbitrary CDBs
//! with arbitrary Data-Out and Data-In buffers (up to 4 MiB) run through the simulated kernel's
//! ring against a small memory disk or a large disk that reads as zeroes. Checked for each:
//!
//! - no panic, no hang;
//! - no single allocation while the command runs larger than max(4 x its buffer, 2 MiB), however
//!   many blocks or bytes its fields name;
//! - no stale bytes: the same commands run on a second disk whose data area held other bytes
//!   before each command; responses and buffers must be identical, and a command that fails
//!   leaves its buffer zeroed.
//!
//! Input: a setup byte (disk kind, write cache), then commands: a byte giving the CDB length,
//! the CDB, a byte giving the direction (low 2 bits) and a size shift (next 3 bits), a u16
//! length (shifted, at most 4 MiB), a u16 count of data bytes taken from the input, those bytes,
//! and a byte filling the rest of a Data-Out buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scsi_proto::cdb::{Command, DataDirection};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tcmu::{BlockDevice, Emulator, Identity, MemoryDisk, NullDisk};
use tcmu_ring::sim::{SimConfig, SimData, SimKernel};
use tcmu_ring::{Entry, Response, Ring};

/// The system allocator, noting the largest allocation made while armed.
struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    if ARMED.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; `note` touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1 << 20;
/// The largest buffer a command gets.
const MAX_BUFFER: usize = 4 * MIB;

/// 2^18 blocks of 512 bytes (128 MiB) that read as zeroes and take writes without keeping
/// them: CDBs naming many blocks pass the range checks.
fn zeroes() -> NullDisk {
    NullDisk::new(1 << 18, 512).expect("a valid block size")
}

/// A disk behind its own simulated kernel.
struct Lun<B> {
    sim: SimKernel,
    ring: Ring,
    emu: Emulator<B>,
}

/// What a command left: the response, and its whole buffer as the emulation left it.
type Outcome = (Response, Vec<u8>);

impl<B: BlockDevice> Lun<B> {
    fn new(dev: B, wce: bool) -> Option<Self> {
        let cfg = SimConfig { cmdr_size: 1 << 16, data_size: 8 * MIB, ..SimConfig::small() };
        let sim = SimKernel::new(cfg).ok()?;
        let ring = Ring::new(sim.region()).ok()?;
        let emu = Emulator::new(dev, Identity::for_name("fuzz")).with_write_cache(wce);
        Some(Lun { sim, ring, emu })
    }

    /// Leaves `stale` in the data area where the next command's buffer will be: a command the
    /// kernel places and user space completes without looking at it.
    fn leave(&mut self, stale: &[u8]) {
        if stale.is_empty() {
            return;
        }
        self.sim.submit(&[0; 6], SimData::Write(stale)).expect("the data area is free");
        let Ok(Some(Entry::Command(cmd))) = self.ring.next_entry() else {
            panic!("the placed command is not seen")
        };
        self.ring.complete(cmd, Response::good()).expect("outstanding");
        self.ring.flush();
        assert_eq!(self.sim.reap().expect("ring intact").len(), 1);
    }

    fn run(&mut self, cdb: &[u8], data: SimData<'_>, len: usize) -> Option<Outcome> {
        self.sim.submit(cdb, data).ok()?;
        let Ok(Some(Entry::Command(mut cmd))) = self.ring.next_entry() else {
            // The ring answers a command it cannot take (a malformed one) itself.
            self.ring.flush();
            let _ = self.sim.reap();
            return None;
        };
        let (cdb, data) = cmd.parts_mut();
        let mut raw = vec![0u8; data.len()];
        LARGEST.store(0, Ordering::Relaxed);
        ARMED.store(true, Ordering::Relaxed);
        let rsp: Response = self.emu.execute(cdb, data).into();
        ARMED.store(false, Ordering::Relaxed);
        let largest = LARGEST.load(Ordering::Relaxed);
        let limit = (4 * len).max(2 * MIB);
        assert!(
            largest <= limit,
            "{cdb:02x?} with {len} bytes of buffer allocated {largest} bytes at once"
        );
        data.copy_to_slice_at(0, &mut raw);
        self.ring.complete(cmd, rsp).expect("outstanding");
        self.ring.flush();
        assert_eq!(self.sim.reap().expect("ring intact").len(), 1);
        Some((rsp, raw))
    }
}

/// Reads the input front to back; past its end, zeroes.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8().unwrap_or(0)]))
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// One command of the input.
struct Cmd {
    cdb: Vec<u8>,
    direction: u8,
    len: usize,
    data: Vec<u8>,
}

fn next_command(input: &mut Input<'_>) -> Option<Cmd> {
    let cdb_len = 1 + usize::from(input.u8()? % 32);
    let mut cdb = input.take(cdb_len).to_vec();
    cdb.resize(cdb_len, 0);
    let kind = input.u8().unwrap_or(0);
    let direction = kind & 3;
    let len = (usize::from(input.u16().unwrap_or(0)) << ((kind >> 2) & 7)).min(MAX_BUFFER);
    let given = usize::from(input.u16().unwrap_or(0));
    let mut data = input.take(given.min(len)).to_vec();
    let fill = input.u8().unwrap_or(0);
    if direction == 1 {
        data.resize(len, fill);
    }
    Some(Cmd { cdb, direction, len, data })
}

/// Runs the commands on two disks built alike, whose data areas hold different bytes before
/// each command: everything the initiator could see must agree.
fn run_pair<B: BlockDevice>(
    a: &mut Lun<B>,
    b: &mut Lun<B>,
    input: &mut Input<'_>,
    stale_a: &[u8],
    stale_b: &[u8],
) {
    for _ in 0..8 {
        let Some(c) = next_command(input) else { break };
        let data = match c.direction {
            1 if !c.data.is_empty() => SimData::Write(&c.data),
            2 if c.len > 0 => SimData::Read(c.len),
            _ => SimData::None,
        };
        // TCMU takes the direction from the fabric, so a command whose CDB carries Data-Out
        // may come with a Data-In buffer, which it then takes as its data: user space cannot
        // tell. Both disks get the same bytes then; a failure must still zero them.
        // The emulation sees the CDB as the ring reads it: to the end of the entry, zeroes
        // after what was placed.
        let mut seen = c.cdb.clone();
        seen.resize(32, 0);
        let data_out_cdb =
            Command::parse(&seen).is_ok_and(|cmd| cmd.data_direction() == DataDirection::ToDevice);
        let stale_b = if data_out_cdb { stale_a } else { stale_b };
        a.leave(&stale_a[..c.len]);
        b.leave(&stale_b[..c.len]);
        let ra = a.run(&c.cdb, data, c.len);
        let rb = b.run(&c.cdb, data, c.len);
        match (ra, rb) {
            (Some((rsp_a, buf_a)), Some((rsp_b, buf_b))) => {
                assert_eq!(rsp_a, rsp_b, "{:02x?}: responses differ", c.cdb);
                if rsp_a.status != 0 {
                    assert!(
                        buf_a.iter().all(|&x| x == 0),
                        "{:02x?}: a failed command left bytes in its buffer",
                        c.cdb
                    );
                }
                if buf_a != buf_b {
                    let at = buf_a.iter().zip(&buf_b).position(|(x, y)| x != y);
                    panic!(
                        "{:02x?}: the buffer holds stale bytes from offset {at:?} (response {rsp_a:?})",
                        c.cdb
                    );
                }
            }
            (None, None) => {}
            _ => panic!("the two kernels took the command differently"),
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let mut input = Input(bytes);
    let Some(setup) = input.u8() else { return };
    let wce = setup & 0x04 != 0;
    static STALE: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    let (stale_a, stale_b) = STALE.get_or_init(|| {
        let a = vec![0xa5u8; MAX_BUFFER];
        let b = (0..MAX_BUFFER).map(|i| (i * 7 + 3) as u8).collect();
        (a, b)
    });
    match setup & 3 {
        0 | 1 => {
            let bs = if setup & 1 == 0 { 512 } else { 4096 };
            let disk = || MemoryDisk::new((1 << 20) / u64::from(bs), bs).expect("1 MiB");
            let (Some(mut a), Some(mut b)) = (Lun::new(disk(), wce), Lun::new(disk(), wce)) else {
                return;
            };
            run_pair(&mut a, &mut b, &mut input, stale_a, stale_b);
            assert!(a.emu.device().snapshot() == b.emu.device().snapshot(), "the disks differ");
        }
        _ => {
            let (Some(mut a), Some(mut b)) = (Lun::new(zeroes(), wce), Lun::new(zeroes(), wce))
            else {
                return;
            };
            run_pair(&mut a, &mut b, &mut input, stale_a, stale_b);
        }
    }
});
