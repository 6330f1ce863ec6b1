//! The serving loop on the simulated kernel: many commands through several workers, completed
//! out of order, every byte verified; a panicking backend fails one command, not the device.

use std::io::{self, IoSlice, IoSliceMut};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tcmu::{BlockDevice, Doorbell, Emulator, Identity, MemoryDisk, Server};
use tcmu_ring::Ring;
use tcmu_ring::sim::{SimCompletion, SimConfig, SimData, SimError, SimKernel};

/// The simulated kernel's side of the doorbell: a counter of kicks and one of notifications.
#[derive(Default)]
struct SimBell {
    state: Mutex<(u64, u64)>,
    cv: Condvar,
}

impl SimBell {
    fn kick(&self) {
        self.state.lock().unwrap().0 += 1;
        self.cv.notify_all();
    }

    /// Waits until user space notified at least once more than `seen`.
    fn wait_notified(&self, seen: u64, timeout: Duration) -> u64 {
        let g = self.state.lock().unwrap();
        let (g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |s| s.1 <= seen)
            .unwrap();
        g.1
    }
}

impl Doorbell for SimBell {
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let g = self.state.lock().unwrap();
        let before = g.0;
        let (mut g, r) = self
            .cv
            .wait_timeout_while(g, timeout, |s| s.0 == before)
            .unwrap();
        g.0 = g.0.max(before);
        Ok(!r.timed_out())
    }

    fn notify(&self) -> io::Result<()> {
        self.state.lock().unwrap().1 += 1;
        self.cv.notify_all();
        Ok(())
    }
}

fn drive(
    sim: &mut SimKernel,
    bell: &SimBell,
    jobs: Vec<(Vec<u8>, Vec<u8>, usize)>,
) -> Vec<SimCompletion> {
    let total = jobs.len();
    let mut jobs = jobs.into_iter().peekable();
    let mut done = Vec::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.len() < total {
        assert!(
            Instant::now() < deadline,
            "stalled with {} of {total} done",
            done.len()
        );
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

fn rw10(op: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    vec![op, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}

#[test]
fn many_commands_through_four_workers() {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimBell::default());
    let emu = Arc::new(Emulator::new(
        MemoryDisk::new(4096, 512).unwrap(),
        Identity::for_name("srv"),
    ));
    let server = Server::spawn(
        Ring::new(sim.region()).unwrap(),
        Arc::clone(&bell),
        Arc::clone(&emu),
        4,
    );

    // 400 writes of distinct patterns to distinct places, then 400 reads of them.
    let pattern = |i: u32| -> Vec<u8> {
        let mut v: Vec<u8> = (0..4 * 512).map(|k| (i as usize * 7 + k) as u8).collect();
        v[..4].copy_from_slice(&i.to_be_bytes()); // unique per command
        v
    };
    let writes = (0..400u32)
        .map(|i| (rw10(0x2a, i * 8, 4), pattern(i), 0))
        .collect();
    for c in drive(&mut sim, &bell, writes) {
        assert_eq!(c.status, 0);
    }
    let image = emu.device().snapshot();
    for i in 0..400u32 {
        let at = i as usize * 8 * 512;
        assert_eq!(&image[at..at + 2048], &pattern(i)[..], "write {i} data");
    }
    let reads: Vec<_> = (0..400u32)
        .map(|i| (rw10(0x28, i * 8, 4), Vec::new(), 4 * 512))
        .collect();
    let mut by_id = std::collections::HashMap::new();
    // Map ids back to LBAs through the READ data itself: each pattern is unique per i.
    for c in drive(&mut sim, &bell, reads) {
        assert_eq!(c.status, 0);
        let i = (0..400u32)
            .find(|&i| pattern(i) == c.data_in)
            .expect("read returned a written pattern");
        assert!(by_id.insert(i, c.id).is_none(), "pattern {i} read twice");
    }
    assert_eq!(by_id.len(), 400);
    server.stop().unwrap();
}

/// A disk whose read of block 13 panics.
struct Flaky(MemoryDisk);

impl BlockDevice for Flaky {
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.0.num_blocks()
    }
    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        assert_ne!(lba, 13, "injected fault");
        self.0.read(lba, bufs)
    }
    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        self.0.write(lba, bufs, fua)
    }
}

#[test]
fn a_handler_panic_fails_one_command_not_the_device() {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimBell::default());
    let emu = Arc::new(Emulator::new(
        Flaky(MemoryDisk::new(64, 512).unwrap()),
        Identity::for_name("f"),
    ));
    let server = Server::spawn(Ring::new(sim.region()).unwrap(), Arc::clone(&bell), emu, 2);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // keep the injected panic out of the test output
    let done = drive(&mut sim, &bell, vec![(rw10(0x28, 13, 1), Vec::new(), 512)]);
    std::panic::set_hook(prev);
    assert_eq!(done[0].status, 2);
    assert_eq!(
        (done[0].sense[2], done[0].sense[12]),
        (0x04, 0x44),
        "HARDWARE ERROR, INTERNAL TARGET FAILURE"
    );
    // The device still answers.
    let done = drive(&mut sim, &bell, vec![(rw10(0x28, 12, 1), Vec::new(), 512)]);
    assert_eq!(done[0].status, 0);
    assert!(!server.is_finished());
    server.stop().unwrap();
}
