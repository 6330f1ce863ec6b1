//! Shared by the integration tests: the simulated kernel's doorbell and a driver loop.
#![allow(dead_code)]

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tcmu::Doorbell;
use tcmu_ring::sim::{SimCompletion, SimData, SimError, SimKernel};

/// The simulated kernel's side of the doorbell: a counter of kicks and one of notifications.
#[derive(Default)]
pub struct SimBell {
    state: Mutex<(u64, u64)>,
    cv: Condvar,
}

impl SimBell {
    pub fn kick(&self) {
        self.state.lock().unwrap().0 += 1;
        self.cv.notify_all();
    }

    /// Waits until user space notified at least once more than `seen`.
    pub fn wait_notified(&self, seen: u64, timeout: Duration) -> u64 {
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

/// A [`SimBell`] that can be made to fail as the UIO device's does once the kernel removed the
/// device: every wait then fails at once. Counts the waits.
#[derive(Default)]
pub struct BreakableBell {
    pub bell: SimBell,
    pub broken: AtomicBool,
    pub waits: AtomicUsize,
}

impl Doorbell for BreakableBell {
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        self.waits.fetch_add(1, Ordering::Relaxed);
        if self.broken.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the device is gone",
            ));
        }
        self.bell.wait(timeout)
    }

    fn notify(&self) -> io::Result<()> {
        self.bell.notify()
    }
}

pub fn drive(
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

pub fn rw10(op: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    vec![op, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}
