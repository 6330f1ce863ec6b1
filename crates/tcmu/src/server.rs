//! Serving a ring: one thread takes commands off the ring and hands them to worker threads,
//! which execute them and complete them as they finish (out of order when the kernel allows).
//! A handler that panics answers that one command with CHECK CONDITION, HARDWARE ERROR,
//! INTERNAL TARGET FAILURE; the device stays up.

use crate::backend::BlockDevice;
use crate::emulate::Emulator;
use std::io;
use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tcmu_ring::{DataBuffers, Entry, Response, Ring, RingError, Uio};

/// What executes commands: the built-in emulation ([`Emulator`]) or a command-level handler.
pub trait Handler: Send + Sync {
    /// Executes one command (its CDB and its buffers) and says how it ended.
    fn execute(&self, cdb: &[u8], data: &mut DataBuffers) -> Response;
}

impl<B: BlockDevice> Handler for Emulator<B> {
    fn execute(&self, cdb: &[u8], data: &mut DataBuffers) -> Response {
        Emulator::execute(self, cdb, data)
    }
}

/// A command-level handler for people who want raw CDBs and buffers: it answers the commands
/// it wants and returns `None` for the rest, which the built-in emulation answers.
pub trait CommandHandler: Send + Sync {
    /// Handles a command, or declines it.
    fn handle(&self, cdb: &[u8], data: &mut DataBuffers) -> Option<Response>;
}

/// A [`CommandHandler`] in front of the built-in emulation.
#[derive(Debug)]
pub struct WithFallback<H, B> {
    /// Asked first.
    pub handler: H,
    /// Answers what `handler` declines.
    pub fallback: Emulator<B>,
}

impl<H: CommandHandler, B: BlockDevice> Handler for WithFallback<H, B> {
    fn execute(&self, cdb: &[u8], data: &mut DataBuffers) -> Response {
        match self.handler.handle(cdb, data) {
            Some(r) => r,
            None => self.fallback.execute(cdb, data),
        }
    }
}

/// How the serving loop waits for the kernel and tells it about completions.
pub trait Doorbell: Send + Sync {
    /// Waits up to `timeout` for the kernel to publish commands; true if it signalled.
    fn wait(&self, timeout: Duration) -> io::Result<bool>;
    /// Tells the kernel completions are ready.
    fn notify(&self) -> io::Result<()>;
}

impl Doorbell for Uio {
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) => Ok(false),
            Ok(_) => Uio::wait(self).map(|_| true).map_err(io::Error::other),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn notify(&self) -> io::Result<()> {
        Uio::notify(self).map_err(io::Error::other)
    }
}

/// A running serving loop. Dropping it stops the loop and joins its threads.
#[derive(Debug)]
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), RingError>>>,
}

/// How long the ring thread sleeps in the doorbell before checking for a stop request.
const POLL: Duration = Duration::from_millis(100);

impl Server {
    /// Starts serving `ring` with `threads` workers (at least one) running `handler`.
    pub fn spawn<H, D>(ring: Ring, doorbell: Arc<D>, handler: Arc<H>, threads: usize) -> Server
    where
        H: Handler + 'static,
        D: Doorbell + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let ring = Arc::new(Mutex::new(ring));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tcmu-ring".into())
            .spawn(move || serve(ring, doorbell, handler, threads.max(1), stop2))
            .ok();
        Server { stop, thread }
    }

    /// Stops taking commands, lets the workers finish what they hold, and joins the threads.
    /// Returns the ring's fatal error, if it stopped on one.
    pub fn stop(mut self) -> Result<(), RingError> {
        self.shutdown()
    }

    /// Whether the loop has ended (stopped, or on a fatal ring error).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    fn shutdown(&mut self) -> Result<(), RingError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            // The ring thread itself does not panic on kernel input; a panic here is a bug,
            // and the device is torn down regardless.
            Some(Err(_)) | None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The ring thread: take, dispatch, wait.
fn serve<H: Handler + 'static, D: Doorbell + 'static>(
    ring: Arc<Mutex<Ring>>,
    doorbell: Arc<D>,
    handler: Arc<H>,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> Result<(), RingError> {
    let mut workers = Vec::with_capacity(threads);
    let mut queues = Vec::with_capacity(threads);
    for i in 0..threads {
        let (tx, rx) = mpsc::channel::<tcmu_ring::Command>();
        let (ring, doorbell, handler) = (
            Arc::clone(&ring),
            Arc::clone(&doorbell),
            Arc::clone(&handler),
        );
        let w = std::thread::Builder::new()
            .name(format!("tcmu-worker-{i}"))
            .spawn(move || worker(rx, ring, doorbell, handler));
        if let Ok(w) = w {
            workers.push(w);
            queues.push(tx);
        }
    }
    let mut next = 0usize;
    let mut result = Ok(());
    while !stop.load(Ordering::Acquire) && !queues.is_empty() {
        let mut taken = Vec::new();
        {
            let Ok(mut ring) = ring.lock() else { break };
            loop {
                match ring.next_entry() {
                    Ok(Some(Entry::Command(cmd))) => taken.push(cmd),
                    Ok(Some(Entry::Tmr(_))) => {}
                    Ok(None) => break,
                    // A malformed command was answered with CHECK CONDITION by the ring.
                    Err(e) if !e.is_fatal() => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            // Malformed commands and passed-over entries may have moved the tail.
            if ring.flush() {
                let _ = doorbell.notify();
            }
        }
        if result.is_err() {
            break;
        }
        let idle = taken.is_empty();
        for cmd in taken {
            // Round robin; a worker that died (it cannot, but) drops its queue.
            let _ = queues[next % queues.len()].send(cmd);
            next = next.wrapping_add(1);
        }
        if idle {
            let _ = doorbell.wait(POLL);
        }
    }
    drop(queues);
    for w in workers {
        let _ = w.join();
    }
    result
}

fn worker<H: Handler, D: Doorbell>(
    rx: mpsc::Receiver<tcmu_ring::Command>,
    ring: Arc<Mutex<Ring>>,
    doorbell: Arc<D>,
    handler: Arc<H>,
) {
    for mut cmd in rx {
        let rsp = catch_unwind(AssertUnwindSafe(|| {
            let (cdb, data) = cmd.parts_mut();
            handler.execute(cdb, data)
        }))
        .unwrap_or_else(|_| Response::internal_target_failure());
        let Ok(mut ring) = ring.lock() else { return };
        // The command came from this ring and is completed once: this cannot fail.
        let _ = ring.complete(cmd, rsp);
        if ring.flush() {
            let _ = doorbell.notify();
        }
    }
}
