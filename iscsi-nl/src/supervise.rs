//! Connection recovery without iscsid: a [`Supervisor`] listens on NETLINK_ISCSI for the
//! connection errors of the sessions it watches and brings each back (RFC 7143 error recovery
//! level 0, as iscsid does), so the disk keeps its name and I/O is held, not failed, while the
//! target is away for less than the replacement time-out.
//!
//! On `ISCSI_KEVENT_CONN_ERROR` for a watched session:
//!
//! 1. `STOP_CONN` with [`StopConnFlag::Recover`]: the kernel blocks the disk and holds its I/O
//!    for the session's recovery time-out ([`crate::kernel::Timeouts::recovery`], iscsid's
//!    `replacement_timeout`), then fails it.
//! 2. After DefaultTime2Wait, a new TCP connection to the portal, tried again with back-off
//!    (after 1 s, then every 2 s, as iscsid retries every 3 s) until it is up; past the recovery time-out the kernel
//!    fails I/O, and the supervisor goes on trying (the disk comes back for new I/O then).
//! 3. `BIND_CONN` of the new socket to the same kernel connection, then the login **through
//!    the kernel** (`SEND_PDU`, answers as `RECV_PDU` events): the kernel stamps the login with
//!    its own CmdSN, which is where the new session on the target must start. The login has the
//!    session's ISID and TSIH 0: the target reinstates the session (RFC 7143 6.3.5, ends what
//!    is left of the old one) and I/O goes on where the kernel left it.
//! 4. Every negotiated parameter set again (the new StatSN, digests), then `START_CONN`: the
//!    kernel unblocks the disk and retries what was in flight.
//!
//! CHAP credentials are kept in memory for these logins only; they are never written or
//! logged. What happens is logged with `tracing` (warn for the failure, info for the return).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::attach::{self, AttachOptions, AttachedDisk};
use crate::chap::{Credentials, OsRandom};
use crate::kernel::{self, HandOff, KernelSession, Timeouts};
use crate::keys::SessionParams;
use crate::login::{Login, LoginConfig, LoginError, Session, Step};
use crate::netlink::uevent::Event;
use crate::netlink::{IscsiErr, IscsiNetlink, NetlinkError, Request, StopConnFlag};
use crate::pdu::{Bhs, Pdu, PduError};

/// How often [`Supervisor::run`] looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(200);
/// `ENOBUFS`: a netlink socket that had to drop messages.
const ENOBUFS: i32 = nix::errno::Errno::ENOBUFS as i32;
/// The longest a recovery's TCP connect waits (less when the supervisor's time-out is less):
/// an attempt blocks the others, so a portal that drops connection requests must not hold
/// them long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The wait between attempts once the target said no for a reason that waiting alone does
/// not mend (authentication or authorization failed, target not found or removed).
const REFUSED_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why one attempt to bring a connection back failed (the supervisor tries again).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The portal could not be reached.
    #[error("connecting to {portal}: {source}")]
    Connect {
        /// The portal.
        portal: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A netlink step failed.
    #[error("{0}")]
    Netlink(#[from] NetlinkError),
    /// Waiting for the kernel's events failed.
    #[error("reading kernel events: {0}")]
    Events(#[source] io::Error),
    /// The login was refused or broke.
    #[error("login: {0}")]
    Login(#[from] LoginError),
    /// A login PDU could not be built or the target's answer read.
    #[error("login PDU: {0}")]
    Pdu(#[from] PduError),
    /// The target did not answer a login request in time.
    #[error("no login response within {0:?}")]
    NoAnswer(Duration),
    /// The connection failed again during the login.
    #[error("the connection failed again during the login ({0})")]
    FailedAgain(String),
    /// The target redirected the login; a recovery logs in to the same portal only.
    #[error("the target redirects to {address}:{port}; not followed during recovery")]
    Redirected {
        /// Where to.
        address: String,
        /// Its port.
        port: u16,
    },
}

impl RecoverError {
    /// Whether the target refused the login for a reason waiting alone does not mend
    /// (credentials, access, the target itself): tried again less often.
    pub fn is_refusal(&self) -> bool {
        use crate::login::StatusError as S;
        matches!(
            self,
            RecoverError::Login(
                LoginError::Chap(_)
                    | LoginError::Status(
                        S::AuthenticationFailed
                            | S::AuthorizationFailed
                            | S::NotFound
                            | S::TargetRemoved
                    )
            )
        )
    }
}

/// One watched session: what its re-logins need, kept in memory only.
struct Watched {
    session: KernelSession,
    login: LoginConfig,
    /// The names, the portal logged in to (`hand_off.portal`) and the kernel's settings.
    hand_off: HandOff,
    /// DefaultTime2Wait as negotiated, in seconds.
    time2wait: u16,
    /// Where it is being brought back, when it is.
    recovering: Option<Recovering>,
}

/// A recovery under way.
#[derive(Debug, Clone, Copy)]
struct Recovering {
    /// When the connection failed.
    started: Instant,
    /// When the next attempt is due.
    next: Instant,
    /// The wait after the next failed attempt.
    backoff: Duration,
    /// Attempts made.
    attempts: u32,
    /// Whether the log has said the replacement time-out passed.
    told_timeout: bool,
}

impl fmt::Debug for Watched {
    /// The login's credentials are redacted by [`LoginConfig`]'s own `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("session", &self.session)
            .field("portal", &self.hand_off.portal)
            .field("target", &self.hand_off.target_name)
            .field("recovering", &self.recovering)
            .finish_non_exhaustive()
    }
}

/// Watches sessions and brings their connections back; see the [module documentation](self).
///
/// Recoveries of several sessions go on side by side: [`Supervisor::step`] makes the attempts
/// that are due and reads the kernel's events in between. One attempt blocks the others while
/// it runs: at most 5 s for the TCP connection, and the supervisor's time-out for each login
/// answer. Only one program should recover a
/// session: iscsid, if it runs, gets the same events; a session a supervisor watches is
/// claimed in its state file, and [`Supervisor::watch_noted`] leaves sessions claimed by
/// another live process alone.
#[derive(Debug)]
pub struct Supervisor {
    nl: IscsiNetlink,
    sysfs: PathBuf,
    watched: Vec<Watched>,
    /// Kernel events read while waiting for something else, oldest first.
    queued: VecDeque<Event>,
    /// How long one connection attempt and one login answer may take.
    timeout: Duration,
}

impl Supervisor {
    /// A supervisor on its own NETLINK_ISCSI socket for the `tcp` transport (root and the
    /// `iscsi_tcp` module needed). `timeout` bounds each connection attempt and each login
    /// answer. Make it before the sessions it is to watch are logged in, so no connection
    /// error is missed in between.
    pub fn new(timeout: Duration) -> io::Result<Supervisor> {
        let sysfs = PathBuf::from("/sys");
        let handle = kernel::transport_handle(&sysfs, "tcp")?;
        let nl = IscsiNetlink::open(handle, timeout)?;
        Ok(Supervisor { nl, sysfs, watched: Vec::new(), queued: VecDeque::new(), timeout })
    }

    /// Watches `session` (logged in with `login` to `hand_off.portal`, handed to the kernel
    /// with `hand_off`): a later connection error is recovered with a login like `login`, with the
    /// same ISID and TSIH 0. A session already failed (its sysfs state `FAILED`: the error
    /// came before anybody watched) is recovered at once.
    pub fn watch(
        &mut self,
        session: KernelSession,
        login: LoginConfig,
        hand_off: HandOff,
        time2wait: u16,
    ) {
        self.watched.retain(|w| w.session.sid != session.sid);
        let w = Watched { session, login, hand_off, time2wait, recovering: None };
        self.watched.push(w);
        self.resync();
    }

    /// Brings the watched sessions in line with sysfs, for errors or ends the supervisor did
    /// not hear of (before it watched, or lost when its socket overflowed): a session gone is
    /// watched no more, one `FAILED` and not being recovered is recovered.
    pub fn resync(&mut self) {
        let mut i = 0;
        while i < self.watched.len() {
            let sid = self.watched[i].session.sid;
            match self.sysfs_state(sid).as_deref() {
                None => {
                    tracing::info!("session {sid} is gone; no longer watched");
                    self.watched.remove(i);
                    continue;
                }
                Some("FAILED") if self.watched[i].recovering.is_none() => {
                    self.start_recovery(i, None);
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Watches a session [`crate::attach`] made with `options` (which keeps its CHAP
    /// credentials, in memory, for the re-logins), and claims it in `options.state_dir`.
    pub fn watch_attached(&mut self, disk: &AttachedDisk, options: &AttachOptions) {
        let login = attach::login_config(&disk.url, disk.negotiated.isid, options);
        let hand_off = attach::hand_off_for(&disk.url, disk.portal, options);
        let time2wait = disk.negotiated.params.default_time2wait;
        attach::claim(&options.state_dir, disk.session.sid);
        self.watch(disk.session, login, hand_off, time2wait);
    }

    /// Watches every session `tcmu iscsi login` ([`crate::attach`]) noted in `state_dir` and
    /// not watched yet, as another process made it: the re-login is built from what sysfs
    /// shows of the session (portal, names, the negotiated values offered again, the timers)
    /// and the noted ISID, with these CHAP credentials (kept in memory only). Sessions another
    /// live process claimed (a `login --stay`, another supervisor) are left alone; the ones
    /// taken are claimed. Sessions that ended are no longer watched. Returns the sessions
    /// newly watched.
    pub fn watch_noted(
        &mut self,
        state_dir: &Path,
        chap: Option<&Credentials>,
        mutual_chap: Option<&Credentials>,
    ) -> io::Result<Vec<KernelSession>> {
        let sessions = kernel::sessions(&self.sysfs)?;
        // A session gone without its event is watched no more; one another live process has
        // claimed since is left to it.
        self.watched.retain(|w| sessions.iter().any(|s| s.session == w.session));
        self.watched.retain(|w| !attach::claimed_by_another(state_dir, w.session.sid));
        self.resync();
        let mut added = Vec::new();
        for found in sessions {
            let ks = found.session;
            if self.watched.iter().any(|w| w.session.sid == ks.sid) {
                continue;
            }
            let Some((target, isid)) = attach::noted(state_dir, ks.sid) else {
                continue;
            };
            if target != found.target_name || attach::claimed_by_another(state_dir, ks.sid) {
                continue;
            }
            let Some(isid) = isid else {
                tracing::warn!("session {}: no ISID noted; not watched", ks.sid);
                continue;
            };
            let Some(seen) = Seen::read(&self.sysfs, ks) else {
                tracing::warn!("session {}: its portal is not in sysfs; not watched", ks.sid);
                continue;
            };
            let mut login = LoginConfig::normal(seen.initiator.clone(), isid, target.clone());
            login.chap = chap.cloned();
            login.mutual_chap = mutual_chap.cloned();
            login.offers = seen.offers.clone();
            login.header_digest = seen.header_digest.into();
            login.data_digest = seen.data_digest.into();
            let mut hand_off = HandOff::new(target, seen.initiator, seen.portal);
            hand_off.timeouts = seen.timeouts;
            hand_off.max_xmit_data_segment_length = seen.max_xmit;
            attach::claim(state_dir, ks.sid);
            self.watch(ks, login, hand_off, seen.time2wait);
            added.push(ks);
        }
        Ok(added)
    }

    /// The sessions watched.
    pub fn sessions(&self) -> impl Iterator<Item = &KernelSession> {
        self.watched.iter().map(|w| &w.session)
    }

    /// Runs until `stop` is set or no session is left to watch (each ended: logged out, or
    /// gone from sysfs): [`Supervisor::step`] over and over. Fails only when the netlink
    /// socket does.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) && !self.watched.is_empty() {
            self.step(STOP_CHECK)?;
        }
        Ok(())
    }

    /// Makes the reconnection attempts that are due (each bounded by the supervisor's
    /// time-out), then waits up to `wait` (less when another attempt falls due sooner) for
    /// one kernel event and handles it: a connection error of a watched session starts its
    /// recovery, a destroyed session is watched no more. Events the socket had to drop
    /// (`ENOBUFS`) are made up for by looking at the watched sessions' states in sysfs.
    pub fn step(&mut self, wait: Duration) -> io::Result<()> {
        let now = Instant::now();
        let due: Vec<u32> = self
            .watched
            .iter()
            .filter(|w| w.recovering.is_some_and(|r| r.next <= now))
            .map(|w| w.session.sid)
            .collect();
        for sid in due {
            if let Some(i) = self.watched.iter().position(|w| w.session.sid == sid) {
                self.attempt(i);
            }
        }
        let now = Instant::now();
        let wait = self
            .watched
            .iter()
            .filter_map(|w| w.recovering.map(|r| r.next.saturating_duration_since(now)))
            .fold(wait, Duration::min);
        let event = match self.queued.pop_front() {
            Some(e) => Some(e),
            None => match self.nl.wait_event(wait) {
                Ok(e) => e,
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => {
                    tracing::warn!(
                        "kernel events were lost (the socket overflowed); looking at sysfs"
                    );
                    self.resync();
                    None
                }
                Err(e) => return Err(e),
            },
        };
        match event {
            Some(Event::ConnError { sid, error, .. }) => {
                if let Some(i) =
                    self.watched.iter().position(|w| w.session.sid == sid && w.recovering.is_none())
                {
                    self.start_recovery(i, Some(error));
                }
            }
            Some(Event::SessionDestroyed { sid, .. })
                if self.watched.iter().any(|w| w.session.sid == sid) =>
            {
                tracing::info!("session {sid} ended; no longer watched");
                self.watched.retain(|w| w.session.sid != sid);
            }
            _ => {}
        }
        Ok(())
    }

    /// The sysfs `state` of session `sid` (`LOGGED_IN`, `FAILED`, `FREE`), if it exists.
    fn sysfs_state(&self, sid: u32) -> Option<String> {
        let path = self.sysfs.join(format!("class/iscsi_session/session{sid}/state"));
        std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
    }

    /// Watched session `i` lost its connection (`error`, the kernel's code, when reported):
    /// the first attempt comes after DefaultTime2Wait (at most the replacement time-out).
    fn start_recovery(&mut self, i: usize, error: Option<u32>) {
        let w = &mut self.watched[i];
        let recovery = Duration::from_secs(u64::from(w.hand_off.timeouts.recovery));
        let why = error.map_or_else(|| "found failed".to_string(), error_name);
        tracing::warn!(
            "session {} to {} at {}: connection {} failed ({why}); reconnecting, I/O held for \
             up to {}s",
            w.session.sid,
            w.hand_off.target_name,
            w.hand_off.portal,
            w.session.cid,
            recovery.as_secs(),
        );
        let now = Instant::now();
        let first = Duration::from_secs(u64::from(w.time2wait)).min(recovery);
        w.recovering = Some(Recovering {
            started: now,
            next: now + first,
            backoff: Duration::from_secs(1),
            attempts: 0,
            told_timeout: false,
        });
    }

    /// One attempt for watched session `i`; a session gone from sysfs is watched no more.
    fn attempt(&mut self, i: usize) {
        let sid = self.watched[i].session.sid;
        if self.sysfs_state(sid).is_none() {
            tracing::info!("session {sid} is gone; no longer watched");
            self.watched.remove(i);
            return;
        }
        let result = self.reinstate(i);
        let w = &mut self.watched[i];
        let Some(mut r) = w.recovering else {
            return;
        };
        r.attempts += 1;
        let took = r.started.elapsed();
        let recovery = Duration::from_secs(u64::from(w.hand_off.timeouts.recovery));
        match result {
            Ok(()) => {
                w.recovering = None;
                // Errors the kernel reported for the old connection are stale now.
                self.queued.retain(|e| !matches!(e, Event::ConnError { sid: s, .. } if *s == sid));
                if took >= recovery {
                    tracing::warn!(
                        "session {sid}: connection back after {:.1}s (attempt {}); I/O issued \
                         after the replacement time-out failed",
                        took.as_secs_f64(),
                        r.attempts
                    );
                } else {
                    tracing::info!(
                        "session {sid}: connection back after {:.1}s (attempt {}); held I/O \
                         goes on",
                        took.as_secs_f64(),
                        r.attempts
                    );
                }
            }
            Err(e) => {
                if took >= recovery && !r.told_timeout {
                    r.told_timeout = true;
                    tracing::warn!(
                        "session {sid}: not back after {}s (the replacement time-out): the \
                         kernel fails its I/O until it is; still trying",
                        took.as_secs()
                    );
                }
                tracing::warn!("session {sid}: attempt {} failed: {e}", r.attempts);
                if e.is_refusal() {
                    r.next = Instant::now() + REFUSED_BACKOFF;
                } else {
                    r.next = Instant::now() + r.backoff;
                    r.backoff = (r.backoff * 2).min(MAX_BACKOFF);
                }
                w.recovering = Some(r);
            }
        }
    }

    /// One attempt: stop (recover), connect, bind, log in through the kernel, set the
    /// parameters, start.
    fn reinstate(&mut self, i: usize) -> Result<(), RecoverError> {
        let w = &self.watched[i];
        let ks = w.session;
        // The kernel stops a failed connection itself, but it takes no new socket until user
        // space has stopped it too; a stop of an already stopped connection is harmless.
        let _ = self.nl.request(&Request::StopConn {
            sid: ks.sid,
            cid: ks.cid,
            flag: StopConnFlag::Recover,
        });
        // What the old connection, or an attempt that timed out, left behind is not an answer
        // to this attempt's login.
        self.drain(ks.sid)?;
        let w = &self.watched[i];
        let portal = w.hand_off.portal;
        let stream = TcpStream::connect_timeout(&portal, self.timeout.min(CONNECT_TIMEOUT))
            .map_err(|source| RecoverError::Connect { portal, source })?;
        let _ = stream.set_nodelay(true);
        let fd = u64::try_from(stream.as_raw_fd()).map_err(|_| {
            RecoverError::Events(io::Error::new(io::ErrorKind::InvalidInput, "negative descriptor"))
        })?;
        self.nl.request(&Request::BindConn {
            sid: ks.sid,
            cid: ks.cid,
            transport_eph: fd,
            is_leading: true,
        })?;
        let login = w.login.clone();
        let session = self.kernel_login(ks, login)?;
        let w = &self.watched[i];
        kernel::restart(&mut self.nl, &session, &w.hand_off, &ks)?;
        // The kernel holds its own reference to the socket from BIND_CONN on.
        drop(stream);
        Ok(())
    }

    /// Runs the login machine over the kernel's connection: each request goes out with
    /// `SEND_PDU` (the kernel fills in its task tag and CmdSN), each answer comes back as a
    /// `RECV_PDU` event.
    fn kernel_login(
        &mut self,
        ks: KernelSession,
        cfg: LoginConfig,
    ) -> Result<Session, RecoverError> {
        let itt = cfg.itt;
        let (mut machine, first) = Login::new(cfg, OsRandom)?;
        let mut out = vec![first];
        loop {
            for pdu in out.drain(..) {
                let (bhs, _, data) = pdu.to_parts()?;
                self.nl.request(&Request::SendPdu {
                    sid: ks.sid,
                    cid: ks.cid,
                    header: *bhs.as_bytes(),
                    data: data.to_vec(),
                })?;
            }
            let answer = self.next_pdu(ks)?;
            let mut pdu = answer_pdu(&answer)?;
            // The kernel matched the answer to its own task tag; ours is what the machine
            // checks.
            if let Pdu::LoginResponse(r) = &mut pdu {
                r.itt = itt;
            }
            match machine.receive(pdu)? {
                Step::Send(next) => out = next,
                Step::Done(session) => return Ok(*session),
                Step::Redirect { address, port, .. } => {
                    return Err(RecoverError::Redirected { address, port });
                }
            }
        }
    }

    /// Drops the PDUs and connection errors of session `sid` the kernel has sent so far; other
    /// events are queued for [`Supervisor::step`].
    fn drain(&mut self, sid: u32) -> Result<(), RecoverError> {
        self.queued.retain(|e| {
            !matches!(e, Event::RecvPdu { sid: s, .. } | Event::ConnError { sid: s, .. } if *s == sid)
        });
        while let Some(e) =
            self.nl.wait_event(Duration::from_millis(1)).map_err(RecoverError::Events)?
        {
            match e {
                Event::RecvPdu { sid: s, .. } | Event::ConnError { sid: s, .. } if s == sid => {}
                other => self.queued.push_back(other),
            }
        }
        Ok(())
    }

    /// Waits for the kernel to pass up a PDU of session `ks`; other events are queued for
    /// [`Supervisor::run`].
    fn next_pdu(&mut self, ks: KernelSession) -> Result<Vec<u8>, RecoverError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecoverError::NoAnswer(self.timeout));
            }
            match self.nl.wait_event(left).map_err(RecoverError::Events)? {
                Some(Event::RecvPdu { sid, pdu, .. }) if sid == ks.sid => return Ok(pdu),
                Some(Event::ConnError { sid, error, .. }) if sid == ks.sid => {
                    return Err(RecoverError::FailedAgain(error_name(error)));
                }
                Some(other) => self.queued.push_back(other),
                None => return Err(RecoverError::NoAnswer(self.timeout)),
            }
        }
    }
}

/// DefaultTime2Wait when the negotiated value is not known (RFC 7143's default).
const DEFAULT_TIME2WAIT: u16 = 2;

/// What sysfs shows of a session, for a re-login built without its first login.
struct Seen {
    portal: SocketAddr,
    time2wait: u16,
    initiator: String,
    offers: SessionParams,
    header_digest: &'static str,
    data_digest: &'static str,
    max_xmit: Option<u32>,
    timeouts: Timeouts,
}

impl Seen {
    /// Reads `class/iscsi_session/session<sid>` and its connection; `None` without a portal.
    fn read(sysfs: &Path, ks: KernelSession) -> Option<Seen> {
        let sess = sysfs.join(format!("class/iscsi_session/session{}", ks.sid));
        let conn = sysfs.join(format!("class/iscsi_connection/connection{}:{}", ks.sid, ks.cid));
        let text = |p: std::path::PathBuf| {
            std::fs::read_to_string(p).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
        };
        let num = |p: std::path::PathBuf| text(p).and_then(|s| s.parse::<u32>().ok());
        let flag = |p: std::path::PathBuf, default: bool| num(p).map_or(default, |n| n != 0);
        let digest = |p| if flag(p, false) { "CRC32C" } else { "None" };
        let address: std::net::IpAddr = text(conn.join("persistent_address"))?.parse().ok()?;
        let port = text(conn.join("persistent_port"))?.parse().ok()?;
        let mut offers = SessionParams::default();
        let o = &mut offers;
        if let Some(n) = num(conn.join("max_recv_dlength")) {
            o.max_recv_data_segment_length = n;
        }
        if let Some(n) = num(sess.join("first_burst_len")) {
            o.first_burst_length = n;
        }
        if let Some(n) = num(sess.join("max_burst_len")) {
            o.max_burst_length = n;
        }
        o.initial_r2t = flag(sess.join("initial_r2t"), o.initial_r2t);
        o.immediate_data = flag(sess.join("immediate_data"), o.immediate_data);
        o.data_pdu_in_order = flag(sess.join("data_pdu_in_order"), o.data_pdu_in_order);
        o.data_sequence_in_order = flag(sess.join("data_seq_in_order"), o.data_sequence_in_order);
        let defaults = Timeouts::default();
        let timeouts = Timeouts {
            recovery: num(sess.join("recovery_tmo")).unwrap_or(defaults.recovery),
            noop_out_interval: num(conn.join("recv_tmo")).unwrap_or(defaults.noop_out_interval),
            noop_out_timeout: num(conn.join("ping_tmo")).unwrap_or(defaults.noop_out_timeout),
            ..defaults
        };
        Some(Seen {
            portal: SocketAddr::new(address, port),
            time2wait: text(sess.join("def_time2wait"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(DEFAULT_TIME2WAIT),
            initiator: text(sess.join("initiatorname"))
                .unwrap_or_else(crate::default_initiator_name),
            offers,
            header_digest: digest(conn.join("header_digest")),
            data_digest: digest(conn.join("data_digest")),
            max_xmit: num(conn.join("max_xmit_dlength")),
            timeouts,
        })
    }
}

/// A PDU the kernel passed up: its 48-byte header, then its data segment (unpadded).
pub(crate) fn answer_pdu(bytes: &[u8]) -> Result<Pdu, PduError> {
    let bhs = Bhs::parse(bytes)?;
    let rest = bytes.get(Bhs::LEN..).unwrap_or(&[]);
    let ahs_len = bhs.ahs_len().min(rest.len());
    let (ahs, rest) = rest.split_at(ahs_len);
    let data_len = usize::try_from(bhs.data_segment_length()).unwrap_or(usize::MAX);
    let data = &rest[..data_len.min(rest.len())];
    Pdu::parse(&bhs, ahs, data)
}

/// The kernel's `ISCSI_ERR_*` name for `code`, or the number.
pub(crate) fn error_name(code: u32) -> String {
    IscsiErr::from_code(code)
        .map(|e| e.c_name().to_string())
        .unwrap_or_else(|| format!("error {code}"))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::LoginResponse;
    use crate::pdu::Stage;

    /// A Login Response as the kernel passes it up: header then data, no padding.
    fn passed_up(resp: &LoginResponse) -> Vec<u8> {
        let pdu = Pdu::LoginResponse(resp.clone());
        let (bhs, _, data) = pdu.to_parts().unwrap();
        let mut bytes = bhs.as_bytes().to_vec();
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn a_pdu_passed_up_by_the_kernel_is_read_back_whole() {
        let resp = LoginResponse {
            transit: true,
            csg: Stage::LoginOperationalNegotiation,
            nsg: Stage::FullFeaturePhase,
            isid: [0x80, 1, 2, 3, 0, 0],
            tsih: 7,
            itt: 0x1234,
            stat_sn: 41,
            exp_cmd_sn: 9,
            max_cmd_sn: 40,
            data: b"MaxBurstLength=262144\0HeaderDigest=None\0".to_vec(),
            ..LoginResponse::default()
        };
        assert_eq!(answer_pdu(&passed_up(&resp)).unwrap(), Pdu::LoginResponse(resp.clone()));
        // Bytes past the data segment (padding) are not part of it.
        let mut padded = passed_up(&resp);
        padded.extend_from_slice(&[0, 0, 0]);
        assert_eq!(answer_pdu(&padded).unwrap(), Pdu::LoginResponse(resp));
    }

    /// Writes `files` (name, content) under `dir`.
    fn put(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (f, v) in files {
            std::fs::write(dir.join(f), v).unwrap();
        }
    }

    #[test]
    fn a_session_seen_in_sysfs_gives_the_re_login_its_values() {
        let root = std::env::temp_dir().join(format!("iscsi-seen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let ks = KernelSession { host_no: 7, sid: 3, cid: 0 };
        let sess = root.join("class/iscsi_session/session3");
        let conn = root.join("class/iscsi_connection/connection3:0");
        // No portal yet: nothing to log in to.
        assert!(Seen::read(&root, ks).is_none());
        put(
            &sess,
            &[
                ("initiatorname", "iqn.x:ini\n"),
                ("first_burst_len", "32768\n"),
                ("max_burst_len", "131072\n"),
                ("initial_r2t", "0\n"),
                ("immediate_data", "1\n"),
                ("def_time2wait", "5\n"),
                ("recovery_tmo", "40\n"),
            ],
        );
        put(
            &conn,
            &[
                ("persistent_address", "fd00::7\n"),
                ("persistent_port", "3261\n"),
                ("header_digest", "1\n"),
                ("data_digest", "0\n"),
                ("max_recv_dlength", "65536\n"),
                ("max_xmit_dlength", "garbage\n"),
                ("recv_tmo", "2\n"),
                ("ping_tmo", "3\n"),
            ],
        );
        let seen = Seen::read(&root, ks).unwrap();
        assert_eq!(seen.portal, "[fd00::7]:3261".parse().unwrap());
        assert_eq!((seen.initiator.as_str(), seen.time2wait), ("iqn.x:ini", 5));
        assert_eq!((seen.header_digest, seen.data_digest), ("CRC32C", "None"));
        let o = &seen.offers;
        assert_eq!((o.max_recv_data_segment_length, o.first_burst_length), (65536, 32768));
        assert_eq!(o.max_burst_length, 131072);
        assert!(!o.initial_r2t && o.immediate_data && o.data_pdu_in_order);
        // A value that does not parse is left out, never a panic.
        assert_eq!(seen.max_xmit, None);
        let t = seen.timeouts;
        assert_eq!((t.recovery, t.noop_out_interval, t.noop_out_timeout), (40, 2, 3));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_short_or_cut_pdu_is_an_error_or_its_data_is_cut_never_a_panic() {
        let resp = LoginResponse { data: b"TargetAlias=x\0".to_vec(), ..LoginResponse::default() };
        let bytes = passed_up(&resp);
        assert!(answer_pdu(&bytes[..47]).is_err());
        assert!(answer_pdu(&[]).is_err());
        // A data segment shorter than the header says: what is there, no more.
        match answer_pdu(&bytes[..bytes.len() - 3]) {
            Ok(Pdu::LoginResponse(r)) => assert_eq!(r.data, b"TargetAlias"),
            other => panic!("{other:?}"),
        }
    }
}
