//! Serving a ring: a few threads (the workers and the serving thread) take turns to lead. The
//! leader waits for the kernel, takes commands off the ring and puts them in one queue that
//! every other thread takes from (so a slow command holds up no other while a thread is
//! free); commands are completed as they finish (out of order when the kernel allows). A lone
//! command on an idle device is run by the leader itself, after handing the lead to an idle
//! thread: at a queue depth of one a command then costs no thread hand-off.
//! The threads run a [`LogicalUnit`] (a [`Handler`] in front of the emulation); the leader
//! passes task management notifications to it, in ring order. A handler that panics answers
//! that one command with CHECK CONDITION, HARDWARE ERROR, INTERNAL TARGET FAILURE; the device
//! stays up.
//!
//! A command still queued when the device's `cmd_time_out` has (nearly) passed since it was
//! taken off the ring is answered CHECK CONDITION, ABORTED COMMAND, COMMAND TIMEOUT BEFORE
//! PROCESSING without running: the kernel has already failed it to the initiator, which
//! retries, and running it now could overwrite what the retry or a later write put there.
//! The check is made right before the handler would run; a command
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
pub use tcmu_ring::Doorbell;
use tcmu_ring::{Entry, HeadWatch, Response, Ring, RingError, Tmr, Uio};

/// What the serving threads run: a [`LogicalUnit`] (through the ring adapter), or
/// the answer of a ring whose server is gone.
pub(crate) trait Execute: Send + Sync {
    /// Executes one command taken off the ring and says how it ended.
    fn execute(&self, cmd: &mut tcmu_ring::RingCommand) -> Response;
    /// Runs the command `done` holds and ends it with its response: here, or later on
    /// another thread for a command started without waiting (see `emulate/start.rs`).
    /// Default: [`Execute::execute`], here.
    fn dispatch(&self, mut done: Finisher) {
        let rsp = self.execute(done.command_mut());
        done.finish(rsp);
    }
    /// Passes on a task management notification.
    fn task_management(&self, tmr: &Tmr);
}

/// Completes commands on the ring, for the commands' [`Finisher`]s.
trait Complete: Send + Sync {
    /// Completes `cmd` with `rsp` and tells the kernel.
    fn complete(&self, cmd: tcmu_ring::RingCommand, rsp: Response);
}

/// A command being run, and the means to end it on the ring: once, with
/// [`Finisher::finish`], from any thread. Dropped unfinished (a panic while it ran, a device
/// that lost it) it ends its command as failed, its buffers zeroed: no command is left for the
/// kernel to time out.
pub(crate) struct Finisher {
    /// `None` once finished.
    cmd: Option<tcmu_ring::RingCommand>,
    completer: Arc<dyn Complete>,
}

impl Finisher {
    /// The command.
    pub(crate) fn command(&self) -> &tcmu_ring::RingCommand {
        // Only `finish` (which takes `self`) and `Drop` take it out.
        self.cmd.as_ref().unwrap_or_else(|| unreachable!("a finisher holds its command"))
    }

    /// The command, to change.
    pub(crate) fn command_mut(&mut self) -> &mut tcmu_ring::RingCommand {
        // Only `finish` (which takes `self`) and `Drop` take it out.
        self.cmd.as_mut().unwrap_or_else(|| unreachable!("a finisher holds its command"))
    }

    /// Ends the command with `rsp`.
    pub(crate) fn finish(mut self, rsp: Response) {
        if let Some(cmd) = self.cmd.take() {
            self.completer.complete(cmd, rsp);
        }
    }
}

impl Drop for Finisher {
    fn drop(&mut self) {
        if let Some(mut cmd) = self.cmd.take() {
            // A failed command carries nothing back: not what was half written, nor another
            // command's bytes (the Data-In buffers, a bidirectional one's too).
            let data = cmd.parts_mut().1;
            data.zero_from(0);
            data.zero_bidi();
            self.completer.complete(cmd, Response::internal_target_failure());
        }
    }
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

/// How long the leader sleeps in the doorbell (and the others in the queue) before checking
/// for a stop request.
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
    /// Busy-polling: how long the ring thread watches the ring for the next command before it
    /// sleeps on the doorbell, while commands keep coming that quickly (zero: never). See
    /// [`ServeOptions::poll`].
    pub poll: Duration,
}

impl ServeOptions {
    /// `threads` workers, no command time-out, no busy-polling.
    pub fn new(threads: usize) -> Self {
        ServeOptions { threads: threads.max(1), cmd_time_out: None, poll: Duration::ZERO }
    }

    /// Busy-polls the ring for up to `window` before sleeping on the doorbell, while commands
    /// arrive within `window` of each other: a command found that way skips the kernel's
    /// wake-up of a sleeping thread, which is most of a queue depth of one's latency. It costs
    /// CPU: while such a stream lasts, the gaps between its commands are spent polling (the
    /// thread yields the CPU at each look). Once a window passes with nothing, polling stops
    /// until a command again comes within `window` of the ring going idle. Zero (the
    /// default): never poll.
    pub fn poll(mut self, window: Duration) -> Self {
        self.poll = window;
        self
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

/// A command with the moment it was taken off the ring ([`coarse_now`]).
struct Taken {
    cmd: tcmu_ring::RingCommand,
    at: Duration,
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

    /// Stops taking commands, lets the workers finish what they hold, waits for the I/O a
    /// device started without waiting to end (every such command is completed on the ring
    /// before this returns: a device must finish or drop its requests without waiting to be
    /// dropped itself, or this waits for ever; it says what it waits for every 5 s), and
    /// joins the threads. Returns why the loop had ended, if it ended on its own on an
    /// error.
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

/// The serving loop: starts the workers and takes part with them (see [`participate`]) until
/// asked to stop, or on its own on a fatal ring error or a failed doorbell.
fn serve<H: Execute + 'static, D: Doorbell + 'static>(
    ring: Arc<Mutex<Ring>>,
    doorbell: Arc<D>,
    handler: Arc<H>,
    options: ServeOptions,
    stop: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    let threads = options.threads.max(1);
    let late = options.cmd_time_out.map(late_after);
    // One queue every thread takes from: a command goes to whichever thread is free first,
    // never behind a slow command while another idles.
    let (queue, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let shared = Arc::new(Shared::default());
    let completer: Arc<dyn Complete> = Arc::new(Completer {
        ring: Arc::clone(&ring),
        doorbell: Arc::clone(&doorbell),
        shared: Arc::clone(&shared),
        stop: Arc::clone(&stop),
    });
    let mut workers = Vec::with_capacity(threads);
    let mut spawn_error = None;
    for i in 0..threads {
        let (rx, ring, doorbell, handler, shared, queue, stop, completer) = (
            Arc::clone(&rx),
            Arc::clone(&ring),
            Arc::clone(&doorbell),
            Arc::clone(&handler),
            Arc::clone(&shared),
            queue.clone(),
            Arc::clone(&stop),
            Arc::clone(&completer),
        );
        let w = std::thread::Builder::new().name(format!("tcmu-worker-{i}")).spawn(move || {
            let run = Runner {
                ring: &ring,
                doorbell: &*doorbell,
                handler: &*handler,
                late,
                completer: &completer,
            };
            let taker = Taker { run, shared: &shared, queue, stop: &stop, poll: options.poll };
            participate(&rx, &taker, false);
        });
        match w {
            Ok(w) => workers.push(w),
            Err(e) => {
                spawn_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = spawn_error.filter(|_| workers.is_empty()) {
        // No worker: this thread alone would serialise everything behind a slow command.
        return Err(ServeError::Thread(e));
    }
    let run = Runner {
        ring: &ring,
        doorbell: &*doorbell,
        handler: &*handler,
        late,
        completer: &completer,
    };
    let taker = Taker { run, shared: &shared, queue, stop: &stop, poll: options.poll };
    participate(&rx, &taker, true);
    for w in workers {
        if w.join().is_err() {
            taker.fail(ServeError::Panicked("a serving thread panicked"));
        }
    }
    // Commands started without waiting may still be in flight: their buffers are the ring's,
    // which must not be reset or unmapped under them. Each holds a finisher, which holds the
    // completer until it has completed its command on the ring and is gone; the workers'
    // own references went with them.
    let waiting_since = Instant::now();
    let mut said = Duration::ZERO;
    while Arc::strong_count(&completer) > 1 {
        let waited = waiting_since.elapsed();
        if waited >= said + Duration::from_secs(5) {
            said = waited;
            tracing::warn!(
                in_flight = Arc::strong_count(&completer) - 1,
                ?waited,
                "stopping: waiting for commands whose I/O the device started and has not ended"
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let fatal = shared.fatal.lock().unwrap_or_else(PoisonError::into_inner).take();
    fatal.map_or(Ok(()), Err)
}

/// What the threads are sent.
enum Job {
    /// Run a command.
    Run(Taken),
    /// Lead: take commands off the ring (the leader that sends this runs one itself).
    Lead,
}

/// What the threads share.
#[derive(Default)]
struct Shared {
    aborted: Aborted,
    /// Commands queued or running (a command started without waiting runs until its I/O
    /// ends); counted out as their completion begins.
    busy: AtomicUsize,
    /// Threads about to complete a command (waiting for the ring's lock, or holding it): the
    /// last of them rings the doorbell for all.
    completing: AtomicUsize,
    /// Why serving ended on its own, recorded by the leader that found out.
    fatal: Mutex<Option<ServeError>>,
    /// Commands are coming within the busy-polling window of each other: the leader polls the
    /// ring before it sleeps (see [`ServeOptions::poll`]).
    streaming: AtomicBool,
}

/// The ids of queued commands a task management notice named (the kernel has already failed
/// them): such a command is answered without running. Updated by the leader in
/// ring order: a notice adds the ids it names, and a command taken later under one of them (the
/// kernel reuses an id once its command completed) removes it; the thread that runs a command
/// removes its id. At most 65536 ids. `pending` mirrors "the set is not empty" (written
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

/// What was taken off the ring, in order: commands for the workers, task management for the
/// handler.
enum Took {
    Command(Taken),
    Tmr(Tmr),
}

/// What takes entries off the ring and dispatches them (the leader), and runs commands.
struct Taker<'a, H, D> {
    run: Runner<'a, H, D>,
    shared: &'a Shared,
    queue: mpsc::Sender<Job>,
    stop: &'a AtomicBool,
    /// The busy-polling window ([`ServeOptions::poll`]).
    poll: Duration,
}

impl<H: Execute, D: Doorbell> Taker<'_, H, D> {
    /// Takes what the ring holds and dispatches it: commands to the workers, task management
    /// notices to the handler (after the commands taken before them were queued). Returns the
    /// lone command it kept to run itself when the device was otherwise idle, and, when it
    /// found nothing, a watch on the ring from there.
    fn take_batch(&self) -> Result<(Option<Taken>, Option<HeadWatch>), ServeError> {
        let Runner { ring, doorbell, handler, .. } = &self.run;
        let shared = self.shared;
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
                        taken.push(Took::Command(Taken { cmd, at: coarse_now() }))
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
            if taken.is_empty() {
                return Ok((None, Some(ring.head_watch())));
            }
        }
        tracing::debug!(taken = taken.len(), busy = shared.busy.load(Ordering::Relaxed), "took");
        // A lone command on an idle device is kept to run on this thread: handing it to
        // another would only add a thread wake-up to its latency (what a queue depth of one is
        // made of).
        let keep = matches!(taken.as_slice(), [Took::Command(_)])
            && shared.busy.load(Ordering::Acquire) == 0;
        let mut kept = None;
        for took in taken {
            match took {
                Took::Command(cmd) => {
                    shared.aborted.take(cmd.cmd.id());
                    shared.busy.fetch_add(1, Ordering::AcqRel);
                    if keep {
                        kept = Some(cmd);
                    } else {
                        // Cannot fail: this thread holds the receiver too.
                        let _ = self.queue.send(Job::Run(cmd));
                    }
                }
                // A handler that panics here loses the notice, not the ring thread.
                Took::Tmr(tmr) => {
                    shared.aborted.record(&tmr.cmd_ids);
                    let delivered =
                        catch_unwind(AssertUnwindSafe(|| handler.task_management(&tmr)));
                    if delivered.is_err() {
                        tracing::warn!(?tmr, "the handler panicked on a task management notice");
                    }
                }
            }
        }
        Ok((kept, None))
    }

    /// Waits for the kernel to publish entries: busy-polls `watch` first while commands come
    /// quickly (see [`ServeOptions::poll`]), then sleeps on the doorbell (up to [`POLL`]).
    fn wait_for_entries(&self, watch: &HeadWatch) -> Result<(), ServeError> {
        let window = self.poll;
        if window.is_zero() {
            self.run.doorbell.wait(POLL).map_err(ServeError::Doorbell)?;
            return Ok(());
        }
        let streaming = &self.shared.streaming;
        let idle_since = Instant::now();
        if streaming.load(Ordering::Relaxed) {
            loop {
                if watch.published() {
                    return Ok(());
                }
                if idle_since.elapsed() >= window || self.stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::yield_now();
            }
            // A window went by with nothing: the stream has ended.
            streaming.store(false, Ordering::Relaxed);
        }
        let signalled = self.run.doorbell.wait(POLL).map_err(ServeError::Doorbell)?;
        if signalled && idle_since.elapsed() < window {
            streaming.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// One thread's part in serving: the workers and the serving thread alike. One of them at a
/// time leads: it waits on the doorbell, takes what the ring holds and queues the commands
/// for the others. When it finds a lone command on an otherwise idle device, it hands the
/// lead to an idle thread (a `Lead` job, the queue being empty) and runs the command itself:
/// the wake-up of the next leader overlaps the command instead of adding to its latency, and
/// a slow command never keeps the ring from being served while another thread is free. The
/// others run queued commands. Once the stop is asked for (or a fatal error found), every
/// thread runs what is still queued and ends.
fn participate<H: Execute, D: Doorbell>(
    queue: &Mutex<mpsc::Receiver<Job>>,
    t: &Taker<'_, H, D>,
    mut leading: bool,
) {
    // A panic outside the handler (which is caught) may leave the lead with a dead thread:
    // stop serving, and say why.
    struct FailOnPanic<'a, 'b, H, D>(&'a Taker<'b, H, D>);
    impl<H, D> Drop for FailOnPanic<'_, '_, H, D> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.fail(ServeError::Panicked("a serving thread panicked"));
            }
        }
    }
    let _guard = FailOnPanic(t);
    loop {
        let stopping = t.stop.load(Ordering::Acquire);
        if leading && !stopping {
            let led = t.take_batch().and_then(|(kept, idle)| {
                if let Some(cmd) = kept {
                    leading = false;
                    let _ = t.queue.send(Job::Lead);
                    t.execute(cmd);
                } else if let Some(watch) = idle {
                    t.wait_for_entries(&watch)?;
                }
                Ok(())
            });
            if let Err(e) = led {
                t.fail(e);
            }
            continue;
        }
        // The queue's lock is held only while waiting for the next job (a guard in a
        // `while let` would hold it through the command, one thread at a time). Nothing
        // panics while holding it. Once stopping, what is queued is run and the thread ends.
        let next = {
            let rx = queue.lock().unwrap_or_else(PoisonError::into_inner);
            // Looked at again: the wait for the lock may have been long.
            if stopping || t.stop.load(Ordering::Acquire) {
                rx.try_recv().map_err(|_| true)
            } else {
                rx.recv_timeout(POLL).map_err(|e| e == mpsc::RecvTimeoutError::Disconnected)
            }
        };
        match next {
            Ok(Job::Run(cmd)) => t.execute(cmd),
            Ok(Job::Lead) => leading = true,
            // Time to look at the stop request again.
            Err(false) => {}
            Err(true) => return,
        }
    }
}

impl<H: Execute, D: Doorbell> Taker<'_, H, D> {
    /// Runs `cmd`, which is completed when it ends (here, or later for a command started
    /// without waiting).
    fn execute(&self, cmd: Taken) {
        self.run.run(cmd, self.shared);
    }
}

impl<H, D> Taker<'_, H, D> {
    /// Records why serving ends (the first reason counts) and stops every thread.
    fn fail(&self, e: ServeError) {
        self.shared.fatal.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
        self.stop.store(true, Ordering::Release);
    }
}

/// A coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`, read from the vDSO without touching a
/// clock source: in guests whose clock source is an emulated HPET, a precise reading is a
/// trapped device access costing more than a whole command). Its few milliseconds of
/// resolution are plenty for time-outs of seconds.
fn coarse_now() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC_COARSE)
        .map(Duration::from)
        .unwrap_or_default()
}

/// What runs a command and completes it on the ring: shared by the workers and the ring thread.
struct Runner<'a, H, D> {
    ring: &'a Mutex<Ring>,
    doorbell: &'a D,
    handler: &'a H,
    late: Option<Duration>,
    completer: &'a Arc<dyn Complete>,
}

impl<H: Execute, D: Doorbell> Runner<'_, H, D> {
    /// Runs `cmd` (unless task management aborted it while queued, or it is already too late,
    /// when `late` is set); it is completed when it ends, here or on another thread.
    fn run(&self, Taken { cmd, at }: Taken, shared: &Shared) {
        let aborted = &shared.aborted;
        // Checked right before the handler would run: the time it waited in the queue counts.
        let waited = coarse_now().saturating_sub(at);
        tracing::debug!(id = cmd.id(), cdb = ?cmd.cdb(), "command");
        let (id, opcode) = (cmd.id(), cmd.cdb().first().copied().unwrap_or(0));
        let done = Finisher { cmd: Some(cmd), completer: Arc::clone(self.completer) };
        if aborted.take(id) {
            tracing::info!(
                id,
                "not run: aborted by task management while queued; answered ABORTED COMMAND"
            );
            done.finish(too_late());
        } else if self.late.is_some_and(|late| waited >= late) {
            tracing::warn!(
                id,
                opcode,
                ?waited,
                "not run: queued past the device's cmd_time_out (the kernel has failed it and \
                 the initiator retries); answered ABORTED COMMAND"
            );
            done.finish(too_late());
        } else {
            // A panic drops the finisher, which ends the command as failed (HARDWARE ERROR,
            // INTERNAL TARGET FAILURE).
            let _ = catch_unwind(AssertUnwindSafe(|| self.handler.dispatch(done)));
        }
    }
}

/// What ends commands on the ring, from any thread: the ring, the kernel's doorbell, and the
/// serving loop's state.
struct Completer<D> {
    ring: Arc<Mutex<Ring>>,
    doorbell: Arc<D>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl<D: Doorbell> Complete for Completer<D> {
    /// Completes `cmd`, counting it out of `busy` first (so the next command, which the
    /// completion lets the initiator send, finds the device idle). If the ring's lock is
    /// poisoned (nothing can be completed any more), serving ends.
    fn complete(&self, cmd: tcmu_ring::RingCommand, rsp: Response) {
        let shared = &*self.shared;
        shared.busy.fetch_sub(1, Ordering::AcqRel);
        tracing::debug!(id = cmd.id(), status = rsp.status, "completed");
        shared.completing.fetch_add(1, Ordering::AcqRel);
        let Ok(mut ring) = self.ring.lock() else {
            shared.completing.fetch_sub(1, Ordering::AcqRel);
            let e = ServeError::Panicked("a thread panicked while it held the ring");
            shared.fatal.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
            self.stop.store(true, Ordering::Release);
            return;
        };
        // The command came from this ring and is completed once: this cannot fail.
        let _ = ring.complete(cmd, rsp);
        // Completions are batched: while another thread waits to complete (it counted itself
        // before this one counts itself out), the tail and the doorbell are left to it, and one
        // doorbell write carries both. The last one always writes: none is left unannounced.
        if shared.completing.fetch_sub(1, Ordering::AcqRel) == 1 && ring.flush() {
            let _ = self.doorbell.notify();
        }
    }
}
