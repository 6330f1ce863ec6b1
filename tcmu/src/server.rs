//! Serving a ring: one thread takes commands off the ring and puts them in one queue that
//! every worker thread takes from (so a slow command holds up no other while a worker is
//! free); the workers execute them and complete them as they finish (out of order when the
//! kernel allows).
//! The workers run a [`LogicalUnit`] (a [`Handler`] in front of the emulation); the ring
//! thread passes task management notifications to it. A handler that panics answers that one
//! command with CHECK CONDITION, HARDWARE ERROR, INTERNAL TARGET FAILURE; the device stays up.
//!
//! A command still queued when the device's `cmd_time_out` has (nearly) passed since it was
//! taken off the ring is answered CHECK CONDITION, ABORTED COMMAND, COMMAND TIMEOUT BEFORE
//! PROCESSING without running: the kernel has already failed it to the initiator, which
//! retries, and running it now could overwrite what the retry or a later write put there.
//! The check is made as a worker takes the command, right before the handler runs; a command
//! that started in time and then blocks (a stuck backend) can still finish after the kernel
//! failed it, and its write then lands late: a running command cannot be recalled.
//!
//! The loop ends on a fatal ring error or when the doorbell fails (the kernel removed the
//! device: its UIO device reports an error from then on); [`Server::wait`] tells the owner,
//! which should then tear the device down.

use crate::backend::BlockDevice;
use crate::handler::{Handler, LogicalUnit};
use scsi_proto::Wire;
use scsi_proto::sense::{AdditionalSense, SenseData};
use std::collections::HashSet;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
pub use tcmu_ring::Doorbell;
use tcmu_ring::{Entry, Response, Ring, RingError, Tmr, Uio};

/// What the ring thread and the workers run: a [`LogicalUnit`] (through the ring adapter), or
/// the answer of a ring whose server is gone.
pub(crate) trait Execute: Send + Sync {
    /// Executes one command taken off the ring and says how it ended.
    fn execute(&self, cmd: &mut tcmu_ring::RingCommand) -> Response;
    /// Passes on a task management notification.
    fn task_management(&self, tmr: &Tmr);
}

/// Answers every command CHECK CONDITION, NOT READY, LOGICAL UNIT COMMUNICATION FAILURE, as
/// the kernel does when a command times out: for a ring whose server is gone, answered only so
/// that nothing waits on it while the device is removed.
#[derive(Debug, Clone, Copy)]
struct Unavailable;

impl Execute for Unavailable {
    fn execute(&self, _cmd: &mut tcmu_ring::RingCommand) -> Response {
        let sense = SenseData::not_ready(AdditionalSense::LUN_COMMUNICATION_FAILURE);
        Response::check_condition(&sense.to_vec())
    }

    fn task_management(&self, _tmr: &Tmr) {}
}

/// Why a serving loop ended on its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The ring became unusable (until the kernel resets it).
    #[error("TCMU ring: {0}")]
    Ring(#[from] RingError),
    /// Waiting for the kernel failed: the device is gone, or its UIO device broke.
    #[error("waiting for the kernel's commands: {0}")]
    Doorbell(#[source] io::Error),
    /// A thread could not be started.
    #[error("cannot start a serving thread: {0}")]
    Thread(#[source] io::Error),
    /// The serving loop itself panicked (a bug), or a panic left the ring's lock poisoned:
    /// the ring cannot be trusted and is no longer served.
    #[error("the serving loop failed: {0}")]
    Panicked(&'static str),
}

/// Whether the ring thread has ended, with a condition variable to wait on it.
#[derive(Debug, Default)]
struct Finished {
    done: Mutex<bool>,
    cv: Condvar,
}

impl Finished {
    fn set(&self) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_all();
    }

    fn is_set(&self) -> bool {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait(&self, timeout: Duration) -> bool {
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        let (done, _) = self
            .cv
            .wait_timeout_while(done, timeout, |d| !*d)
            .unwrap_or_else(PoisonError::into_inner);
        *done
    }
}

/// Marks the loop finished when dropped: on return and on a panic alike.
struct SetOnDrop(Arc<Finished>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// The ring thread, from the owner's side.
#[derive(Debug)]
enum RingThread {
    Running(JoinHandle<Result<(), ServeError>>),
    NotStarted(io::Error),
    Joined,
}

/// A running serving loop. Dropping it stops the loop and joins its threads.
#[derive(Debug)]
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: RingThread,
    finished: Arc<Finished>,
}

/// How long the ring thread sleeps in the doorbell before checking for a stop request.
const POLL: Duration = Duration::from_millis(100);

/// How a [`Server`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Worker threads (at least one).
    pub threads: usize,
    /// The device's `cmd_time_out`, after which the kernel fails a command itself; `None`
    /// when it never does (LIO's `cmd_time_out` 0).
    pub cmd_time_out: Option<Duration>,
}

impl ServeOptions {
    /// `threads` workers, no command time-out.
    pub fn new(threads: usize) -> Self {
        ServeOptions { threads: threads.max(1), cmd_time_out: None }
    }

    /// The device's `cmd_time_out` (zero: none). Commands that waited nearly that long since
    /// they were taken off the ring are answered without running; see [`late_after`].
    pub fn cmd_time_out(mut self, t: Duration) -> Self {
        self.cmd_time_out = (!t.is_zero()).then_some(t);
        self
    }
}

/// How long after it was taken off the ring a command is too late to run, for a device whose
/// kernel fails commands `cmd_time_out` after queueing them: `cmd_time_out` less a safety
/// margin of a second (half of it, for time-outs under two seconds), because the kernel's timer
/// started when it queued the command, a little before it was taken.
pub fn late_after(cmd_time_out: Duration) -> Duration {
    cmd_time_out - (cmd_time_out / 2).min(Duration::from_secs(1))
}

/// The answer to a command too late to run: CHECK CONDITION, ABORTED COMMAND, COMMAND TIMEOUT
/// BEFORE PROCESSING (2Eh/02h). An initiator retries an aborted command.
fn too_late() -> Response {
    let sense = SenseData::aborted_command(AdditionalSense::new(0x2e, 0x02));
    Response::check_condition(&sense.to_vec())
}

/// A command with the moment it was taken off the ring.
struct Taken {
    cmd: tcmu_ring::RingCommand,
    at: Instant,
}

impl Server {
    /// Answers every command on the ring of `uio` CHECK CONDITION, NOT READY, LOGICAL UNIT
    /// COMMUNICATION FAILURE with one worker: for a ring whose own server is gone (an
    /// orphaned device `tcmu cleanup` removes, a reset ring while its LUN is removed), so
    /// nothing waits on it.
    pub(crate) fn answer_unavailable(uio: Uio) -> Result<Server, RingError> {
        let ring = Ring::new(uio.region())?;
        Ok(Server::start(ring, Arc::new(uio), Arc::new(Unavailable), ServeOptions::new(1)))
    }

    /// Starts serving `ring` with `threads` workers (at least one) executing commands on
    /// `unit`, with no command time-out.
    pub fn spawn<H, B, D>(
        ring: Ring,
        doorbell: Arc<D>,
        unit: Arc<LogicalUnit<H, B>>,
        threads: usize,
    ) -> Server
    where
        H: Handler + 'static,
        B: BlockDevice + 'static,
        D: Doorbell + 'static,
    {
        Server::spawn_with(ring, doorbell, unit, ServeOptions::new(threads))
    }

    /// Starts serving `ring` with `unit`, as `options` say.
    pub fn spawn_with<H, B, D>(
        ring: Ring,
        doorbell: Arc<D>,
        unit: Arc<LogicalUnit<H, B>>,
        options: ServeOptions,
    ) -> Server
    where
        H: Handler + 'static,
        B: BlockDevice + 'static,
        D: Doorbell + 'static,
    {
        Server::start(ring, doorbell, unit, options)
    }

    fn start<E, D>(ring: Ring, doorbell: Arc<D>, handler: Arc<E>, options: ServeOptions) -> Server
    where
        E: Execute + 'static,
        D: Doorbell + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(Finished::default());
        let ring = Arc::new(Mutex::new(ring));
        let stop2 = Arc::clone(&stop);
        let done = SetOnDrop(Arc::clone(&finished));
        let thread = std::thread::Builder::new()
            .name("tcmu-ring".into())
            .spawn(move || {
                let _done = done;
                serve(ring, doorbell, handler, options, stop2)
            })
            // A thread that never started has finished: its closure, with the marker, is
            // dropped.
            .map_or_else(RingThread::NotStarted, RingThread::Running);
        Server { stop, thread, finished }
    }

    /// Stops taking commands, lets the workers finish what they hold, and joins the threads.
    /// Returns why the loop had ended, if it ended on its own on an error.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown()
    }

    /// Whether the loop has ended (stopped, or on its own on an error).
    pub fn is_finished(&self) -> bool {
        // The same mark `wait` waits on (set as the thread ends), so the two always agree.
        match &self.thread {
            RingThread::Running(_) => self.finished.is_set(),
            RingThread::NotStarted(_) | RingThread::Joined => true,
        }
    }

    /// Waits up to `timeout` for the loop to end on its own; true if it has ended. The owner
    /// of a device waits on this (or polls [`Server::is_finished`]) to learn that nothing
    /// answers the kernel any more, then calls [`Server::stop`] for the reason.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.finished.wait(timeout)
    }

    fn shutdown(&mut self) -> Result<(), ServeError> {
        self.stop.store(true, Ordering::Release);
        match std::mem::replace(&mut self.thread, RingThread::Joined) {
            RingThread::Running(t) => {
                t.join().unwrap_or(Err(ServeError::Panicked("the ring thread panicked")))
            }
            RingThread::NotStarted(e) => Err(ServeError::Thread(e)),
            RingThread::Joined => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The ring thread: take, dispatch, wait. Returns when asked to stop, or on its own on a fatal
/// ring error or a failed doorbell.
fn serve<H: Execute + 'static, D: Doorbell + 'static>(
    ring: Arc<Mutex<Ring>>,
    doorbell: Arc<D>,
    handler: Arc<H>,
    options: ServeOptions,
    stop: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    let threads = options.threads.max(1);
    let late = options.cmd_time_out.map(late_after);
    // One queue all the workers take from: a command goes to whichever worker is free first,
    // never behind a slow command while another worker idles.
    let (queue, rx) = mpsc::channel::<Taken>();
    let rx = Arc::new(Mutex::new(rx));
    let aborted = Arc::new(Aborted::default());
    let mut workers = Vec::with_capacity(threads);
    let mut spawn_error = None;
    for i in 0..threads {
        let (rx, ring, doorbell, handler, aborted) = (
            Arc::clone(&rx),
            Arc::clone(&ring),
            Arc::clone(&doorbell),
            Arc::clone(&handler),
            Arc::clone(&aborted),
        );
        let w = std::thread::Builder::new()
            .name(format!("tcmu-worker-{i}"))
            .spawn(move || worker(&rx, ring, doorbell, handler, late, &aborted));
        match w {
            Ok(w) => workers.push(w),
            Err(e) => {
                spawn_error.get_or_insert(e);
            }
        }
    }
    drop(rx);
    let result = match spawn_error {
        // No worker: nothing could answer the kernel.
        Some(e) if workers.is_empty() => Err(ServeError::Thread(e)),
        _ => take_and_dispatch(&ring, &*doorbell, &*handler, &queue, &aborted, &stop),
    };
    // The workers run what is queued, then find the queue closed and end.
    drop(queue);
    for w in workers {
        let _ = w.join();
    }
    result
}

/// The ids of queued commands a task management notice named (the kernel has already failed
/// them): a worker answers such a command without running it. Updated by the ring thread in
/// ring order: a notice adds the ids it names, and a command taken later under one of them (the
/// kernel reuses an id once its command completed) removes it; a worker removes the id of the
/// command it takes. At most 65536 ids. `pending` mirrors "the set is not empty" (written
/// under the lock), so a command takes the lock only while some abort is pending: none in the
/// common case.
#[derive(Default)]
struct Aborted {
    ids: Mutex<HashSet<u16>>,
    pending: AtomicBool,
}

impl Aborted {
    /// Applies `f` to the set under its lock and keeps `pending` true to it.
    fn with<T>(&self, f: impl FnOnce(&mut HashSet<u16>) -> T) -> T {
        // A set of ids is whole whatever panicked while it was held.
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        let r = f(&mut ids);
        self.pending.store(!ids.is_empty(), Ordering::Release);
        r
    }

    /// Records the ids a notice named.
    fn record(&self, named: &[u16]) {
        self.with(|ids| ids.extend(named.iter().copied()));
    }

    /// Removes `id`; true if it was recorded.
    fn take(&self, id: u16) -> bool {
        self.pending.load(Ordering::Acquire) && self.with(|ids| ids.remove(&id))
    }
}

/// What the ring thread took off the ring, in order: commands for the workers, task
/// management for the handler.
enum Took {
    Command(Taken),
    Tmr(Tmr),
}

/// The ring thread's loop, until a stop request or an error. Task management notifications
/// go to the handler on this thread, after the commands taken before them were queued.
fn take_and_dispatch<H: Execute, D: Doorbell>(
    ring: &Mutex<Ring>,
    doorbell: &D,
    handler: &H,
    queue: &mpsc::Sender<Taken>,
    aborted: &Aborted,
    stop: &AtomicBool,
) -> Result<(), ServeError> {
    while !stop.load(Ordering::Acquire) {
        let mut taken = Vec::new();
        {
            // A panic while the ring was held may have left it half updated: stop serving it.
            let mut ring = ring
                .lock()
                .map_err(|_| ServeError::Panicked("a thread panicked while it held the ring"))?;
            let mut fatal = None;
            loop {
                match ring.next_entry() {
                    Ok(Some(Entry::Command(cmd))) => {
                        taken.push(Took::Command(Taken { cmd, at: Instant::now() }))
                    }
                    Ok(Some(Entry::Tmr(tmr))) => taken.push(Took::Tmr(tmr)),
                    Ok(None) => break,
                    // A malformed command was answered with CHECK CONDITION by the ring.
                    Err(e) if !e.is_fatal() => {}
                    Err(e) => {
                        fatal = Some(e);
                        break;
                    }
                }
            }
            // Malformed commands and passed-over entries may have moved the tail.
            if ring.flush() {
                let _ = doorbell.notify();
            }
            if let Some(e) = fatal {
                return Err(e.into());
            }
        }
        let idle = taken.is_empty();
        for took in taken {
            match took {
                // Fails only once every worker has ended, which they do only when it is closed.
                Took::Command(cmd) => {
                    aborted.take(cmd.cmd.id());
                    let _ = queue.send(cmd);
                }
                // A handler that panics here loses the notice, not the ring thread.
                Took::Tmr(tmr) => {
                    aborted.record(&tmr.cmd_ids);
                    let delivered =
                        catch_unwind(AssertUnwindSafe(|| handler.task_management(&tmr)));
                    if delivered.is_err() {
                        tracing::warn!(?tmr, "the handler panicked on a task management notice");
                    }
                }
            }
        }
        if idle {
            doorbell.wait(POLL).map_err(ServeError::Doorbell)?;
        }
    }
    Ok(())
}

/// A worker: takes commands from the shared queue until it is closed and empty, runs each
/// (unless task management aborted it while queued, or it is already too late, when `late` is
/// set) and completes it.
fn worker<H: Execute, D: Doorbell>(
    queue: &Mutex<mpsc::Receiver<Taken>>,
    ring: Arc<Mutex<Ring>>,
    doorbell: Arc<D>,
    handler: Arc<H>,
    late: Option<Duration>,
    aborted: &Aborted,
) {
    loop {
        // The queue's lock is held only while waiting for the next command (a guard in a
        // `while let` would hold it through the command, one worker at a time). Nothing
        // panics while holding it.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Taken { mut cmd, at }) = next else {
            return;
        };
        // Checked right before the handler would run: the time it waited in the queue counts.
        let waited = at.elapsed();
        let rsp = if aborted.take(cmd.id()) {
            tracing::info!(
                id = cmd.id(),
                "not run: aborted by task management while queued; answered ABORTED COMMAND"
            );
            too_late()
        } else if late.is_some_and(|late| waited >= late) {
            tracing::warn!(
                id = cmd.id(),
                opcode = cmd.cdb().first().copied().unwrap_or(0),
                ?waited,
                "not run: queued past the device's cmd_time_out (the kernel has failed it and \
                 the initiator retries); answered ABORTED COMMAND"
            );
            too_late()
        } else {
            catch_unwind(AssertUnwindSafe(|| handler.execute(&mut cmd))).unwrap_or_else(|_| {
                // A failed command carries nothing back: not what the handler half wrote, nor
                // another command's bytes (the Data-In buffers, a bidirectional one's too).
                let data = cmd.parts_mut().1;
                data.zero_from(0);
                data.zero_bidi();
                Response::internal_target_failure()
            })
        };
        let Ok(mut ring) = ring.lock() else { return };
        // The command came from this ring and is completed once: this cannot fail.
        let _ = ring.complete(cmd, rsp);
        if ring.flush() {
            let _ = doorbell.notify();
        }
    }
}
