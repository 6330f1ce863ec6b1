//! `tcmu iscsi`: discovery, login (handing the session to the kernel) and logout: the
//! command line over `iscsi_nl::connect::discover`, `iscsi_nl::attach` and
//! `iscsi_nl::detach`. Secrets come from the environment or a file, never the command line.

use clap::Subcommand;
use iscsi_nl::chap::Credentials;
use iscsi_nl::{AttachError, AttachOptions, DetachError, DetachOptions, Sessions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use iscsi_nl::Supervisor;
use iscsi_nl::kernel::Timeouts;
use nix::sys::signalfd::SignalFd;

/// How often `tcmu iscsi supervise` looks for new sessions.
const RESCAN: Duration = Duration::from_secs(3);

/// A flag a thread sets when one of the signals `signals` was made for arrives.
fn stop_on_signals(signals: SignalFd) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        loop {
            match signals.read_signal() {
                Ok(Some(info)) => {
                    let signo = i32::try_from(info.ssi_signo).unwrap_or(-1);
                    let name = nix::sys::signal::Signal::try_from(signo)
                        .map_or_else(|_| format!("signal {signo}"), |s| s.to_string());
                    tracing::info!(
                        "{name}: no longer watching; the sessions stay up (one not reconnected \
                         yet fails its I/O after its replacement time-out)"
                    );
                    break;
                }
                Ok(None) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

/// `tcmu serve`'s stop signals (SIGINT, SIGTERM, SIGHUP), blocked in this thread (threads
/// started later inherit it) and read from a signalfd, with its rule: a signal the parent set
/// to be ignored (`nohup`'s SIGHUP) stays ignored.
fn block_stop_signals() -> Result<SignalFd, Error> {
    crate::block_signals(crate::STOP_SIGNALS)
        .map_err(|e| Error::StartSupervisor(std::io::Error::other(e.to_string())))
}

/// The environment variable holding our CHAP secret.
const SECRET_ENV: &str = "TCMU_CHAP_SECRET";
/// The environment variable holding the secret the target must prove (mutual CHAP).
const MUTUAL_SECRET_ENV: &str = "TCMU_CHAP_MUTUAL_SECRET";

/// `tcmu iscsi ...`.
#[derive(Subcommand)]
pub enum IscsiCmd {
    /// List the targets a portal offers (a SendTargets discovery session).
    Discover {
        /// The portal: HOST[:PORT] (3260 by default).
        portal: String,
        #[command(flatten)]
        auth: Auth,
    },
    /// Log in to iscsi://HOST[:PORT]/IQN/LUN, give the session to the kernel, print the disk.
    ///
    /// With --stay the command stays in the foreground and brings the connection back after
    /// a network fault (I/O is held meanwhile, up to --replacement-timeout) until SIGINT or
    /// SIGTERM (one during the login takes effect once the disk is there) or the session is
    /// logged out; the session stays up when it ends. Without it nothing reconnects: if the
    /// connection fails, I/O fails after the replacement time-out; log out and in again.
    Login {
        /// iscsi://HOST[:PORT]/TARGET-IQN/LUN
        url: String,
        #[command(flatten)]
        auth: Auth,
        /// The queue depth of the new disk (and the session's per-LUN depth).
        #[arg(long)]
        queue_depth: Option<u16>,
        /// The I/O scheduler of the new disk (e.g. none, mq-deadline).
        #[arg(long)]
        scheduler: Option<String>,
        /// Log in even when a session to this target exists (two disks for one LUN, without
        /// multipath, corrupt file systems mounted on both).
        #[arg(long)]
        force: bool,
        /// Stay in the foreground and reconnect the session whenever its connection fails.
        #[arg(long)]
        stay: bool,
        #[command(flatten)]
        timers: Timers,
        #[command(flatten)]
        session: SessionOpts,
    },
    /// Watch every session `tcmu iscsi login` made (now and later) and reconnect each whenever
    /// its connection fails, until SIGINT or SIGTERM: `login --stay` as a service, for
    /// sessions logged in without it. The CHAP options are used for every re-login (the
    /// secret stays in memory). Run one supervisor per session: iscsid or a `login --stay`
    /// of the same session would race it.
    Supervise {
        #[command(flatten)]
        auth: Auth,
    },
    /// List the kernel's iSCSI sessions: target, portal, disks, state, and the negotiated
    /// parameters (ours, made by `tcmu iscsi login`, and others').
    List,
    /// End the sessions `tcmu iscsi login` made to TARGET-IQN (or all of them with --all);
    /// their disks go. A disk that is mounted or held (LVM, md) stops it.
    Logout {
        /// The target's IQN.
        target: Option<String>,
        /// Every session `tcmu iscsi login` made on this host.
        #[arg(long, conflicts_with = "target")]
        all: bool,
        /// Also sessions made by others (open-iscsi's), and disks still mounted or held.
        #[arg(long)]
        force: bool,
    },
}

/// Yes or No, as RFC 7143 writes booleans.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum YesNo {
    /// Yes.
    Yes,
    /// No.
    No,
}

/// What the login offers; the target's answers decide (`tcmu iscsi list` shows them).
#[derive(clap::Args)]
pub struct SessionOpts {
    /// HeaderDigest offer: None, CRC32C, or a preference list such as CRC32C,None.
    #[arg(long, default_value = "None")]
    header_digest: String,
    /// DataDigest offer, as --header-digest.
    #[arg(long, default_value = "None")]
    data_digest: String,
    /// The largest data segment the target may send us (MaxRecvDataSegmentLength, 512 to
    /// 16777215; 8192 by default).
    #[arg(long, value_parser = clap::value_parser!(u32).range(512..=16_777_215))]
    max_recv_data_segment_length: Option<u32>,
    /// The largest data segment we send (512 to 16777215; at most the target's
    /// MaxRecvDataSegmentLength).
    #[arg(long, value_parser = clap::value_parser!(u32).range(512..=16_777_215))]
    max_xmit_data_segment_length: Option<u32>,
    /// FirstBurstLength offer (512 to 16777215; 65536 by default).
    #[arg(long, value_parser = clap::value_parser!(u32).range(512..=16_777_215))]
    first_burst_length: Option<u32>,
    /// MaxBurstLength offer (512 to 16777215; 262144 by default).
    #[arg(long, value_parser = clap::value_parser!(u32).range(512..=16_777_215))]
    max_burst_length: Option<u32>,
    /// InitialR2T offer (Yes by default).
    #[arg(long, value_enum)]
    initial_r2t: Option<YesNo>,
    /// ImmediateData offer (Yes by default).
    #[arg(long, value_enum)]
    immediate_data: Option<YesNo>,
    /// DataPDUInOrder offer (Yes by default).
    #[arg(long, value_enum)]
    data_pdu_in_order: Option<YesNo>,
    /// DataSequenceInOrder offer (Yes by default).
    #[arg(long, value_enum)]
    data_sequence_in_order: Option<YesNo>,
    /// The most commands outstanding in the session (16 to 4096, rounded down to a power of
    /// two by the kernel; 128 by default).
    #[arg(long, value_parser = clap::value_parser!(u16).range(16..=4096))]
    cmds_max: Option<u16>,
    /// Re-read the disk's partition table once it is up.
    #[arg(long)]
    reread_partitions: bool,
}

impl SessionOpts {
    /// Puts these choices into `options`.
    fn apply(&self, options: &mut AttachOptions) {
        let o = &mut options.offers;
        let yes = |v: YesNo| matches!(v, YesNo::Yes);
        if let Some(n) = self.max_recv_data_segment_length {
            o.max_recv_data_segment_length = n;
        }
        if let Some(n) = self.first_burst_length {
            o.first_burst_length = n;
        }
        if let Some(n) = self.max_burst_length {
            o.max_burst_length = n;
        }
        if let Some(v) = self.initial_r2t {
            o.initial_r2t = yes(v);
        }
        if let Some(v) = self.immediate_data {
            o.immediate_data = yes(v);
        }
        if let Some(v) = self.data_pdu_in_order {
            o.data_pdu_in_order = yes(v);
        }
        if let Some(v) = self.data_sequence_in_order {
            o.data_sequence_in_order = yes(v);
        }
        options.header_digest = self.header_digest.clone();
        options.data_digest = self.data_digest.clone();
        options.max_xmit_data_segment_length = self.max_xmit_data_segment_length;
        options.cmds_max = self.cmds_max;
        options.reread_partitions = self.reread_partitions;
    }
}

/// The session's timers in the kernel.
#[derive(clap::Args)]
pub struct Timers {
    /// Seconds I/O is held while the connection is down before it fails (iscsid's
    /// replacement_timeout).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    replacement_timeout: u32,
    /// Seconds without traffic before the kernel pings the target with a NOP-Out (0: never).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    noop_interval: u32,
    /// Seconds a NOP-Out waits for its answer before the connection is called dead.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
    noop_timeout: u32,
}

impl Timers {
    fn timeouts(&self) -> Timeouts {
        Timeouts {
            recovery: self.replacement_timeout,
            noop_out_interval: self.noop_interval,
            noop_out_timeout: self.noop_timeout,
            ..Timeouts::default()
        }
    }
}

/// Who we are and how we prove it.
#[derive(clap::Args)]
pub struct Auth {
    /// Our initiator name (default: /etc/iscsi/initiatorname.iscsi's, else one made from the
    /// host name).
    #[arg(long)]
    initiator: Option<String>,
    /// CHAP user name; the secret is read from $TCMU_CHAP_SECRET or --chap-secret-file.
    #[arg(long)]
    chap_user: Option<String>,
    /// A file holding our CHAP secret (its first line).
    #[arg(long)]
    chap_secret_file: Option<PathBuf>,
    /// Mutual CHAP: the user name the target must answer with; its secret from
    /// $TCMU_CHAP_MUTUAL_SECRET or --mutual-secret-file.
    #[arg(long, requires = "chap_user")]
    mutual_user: Option<String>,
    /// A file holding the target's CHAP secret.
    #[arg(long)]
    mutual_secret_file: Option<PathBuf>,
    /// Seconds to wait for the network and the kernel.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

/// Why a `tcmu iscsi` command failed; the messages add the command line's hints to the
/// library's errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A secret could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Discovery failed.
    #[error("{portal}: {source}")]
    Discover { portal: String, source: iscsi_nl::connect::Error },
    /// `login` refused: a session to the target exists.
    #[error("{0} (--force if you mean it)")]
    AlreadyLoggedIn(AttachError),
    /// `login` failed after the kernel took the session: it is still up.
    #[error("{error}: `tcmu iscsi logout {target}` ends it")]
    SessionUp { target: String, error: AttachError },
    /// `login` failed.
    #[error(transparent)]
    Attach(AttachError),
    /// `logout` found only sessions others made.
    #[error("{0}; --force to end them anyway")]
    NotOurs(DetachError),
    /// `logout` failed.
    #[error(transparent)]
    Detach(DetachError),
    /// `logout` with neither a target nor --all.
    #[error("name a target, or --all")]
    NothingNamed,
    /// `list` could not read the sessions.
    #[error("reading the kernel's iSCSI sessions: {0}")]
    List(#[source] std::io::Error),
    /// The supervisor could not start (no login was made, or the session is up unwatched).
    #[error("starting the supervisor: {0}")]
    StartSupervisor(#[source] std::io::Error),
    /// The supervisor's netlink socket failed: the sessions are up, no longer watched.
    #[error("the sessions are up but no longer watched: {0}")]
    Supervise(#[source] std::io::Error),
}

impl From<AttachError> for Error {
    fn from(e: AttachError) -> Error {
        match e {
            AttachError::AlreadyLoggedIn { .. } => Error::AlreadyLoggedIn(e),
            AttachError::SessionUp { ref target, .. } => {
                Error::SessionUp { target: target.clone(), error: e }
            }
            e => Error::Attach(e),
        }
    }
}

impl From<DetachError> for Error {
    fn from(e: DetachError) -> Error {
        match e {
            DetachError::NotOurs { .. } => Error::NotOurs(e),
            e => Error::Detach(e),
        }
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret's file could not be read.
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    /// Neither a file nor the environment variable.
    #[error("{what}: set ${env} or pass the secret's file")]
    Missing { what: &'static str, env: &'static str },
}

/// A secret from a file's first line, else from the environment variable `env`; `what` names
/// it in the error.
pub(crate) fn secret(
    file: &Option<PathBuf>,
    env: &'static str,
    what: &'static str,
) -> Result<String, SecretError> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|source| SecretError::File { path: f.clone(), source })?;
        return Ok(text.lines().next().unwrap_or_default().to_string());
    }
    std::env::var(env).map_err(|_| SecretError::Missing { what, env })
}

impl Auth {
    fn initiator_name(&self) -> String {
        self.initiator.clone().unwrap_or_else(iscsi_nl::default_initiator_name)
    }

    fn credentials(&self) -> Result<(Option<Credentials>, Option<Credentials>), SecretError> {
        let Some(user) = &self.chap_user else {
            return Ok((None, None));
        };
        let ours = Credentials::new(
            user.clone(),
            secret(&self.chap_secret_file, SECRET_ENV, "CHAP secret")?,
        );
        let mutual = match &self.mutual_user {
            Some(u) => Some(Credentials::new(
                u.clone(),
                secret(&self.mutual_secret_file, MUTUAL_SECRET_ENV, "mutual CHAP secret")?,
            )),
            None => None,
        };
        Ok((Some(ours), mutual))
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }
}

/// Runs one `tcmu iscsi` command.
pub fn run(cmd: IscsiCmd) -> Result<(), Error> {
    match cmd {
        IscsiCmd::Discover { portal, auth } => {
            let (chap, _) = auth.credentials()?;
            let targets =
                iscsi_nl::connect::discover(&portal, &auth.initiator_name(), chap, auth.timeout())
                    .map_err(|source| Error::Discover { portal: portal.clone(), source })?;
            for t in &targets {
                if t.addresses.is_empty() {
                    println!("{portal} {}", t.name);
                }
                for (host, port, tpgt) in &t.addresses {
                    let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                    println!("{host}:{port},{tpgt} {}", t.name);
                }
            }
            Ok(())
        }
        IscsiCmd::Login { url, auth, queue_depth, scheduler, force, stay, timers, session } => {
            let (chap, mutual_chap) = auth.credentials()?;
            let mut options = AttachOptions {
                initiator_name: auth.initiator_name(),
                chap,
                mutual_chap,
                timeout: auth.timeout(),
                queue_depth,
                scheduler,
                force,
                timeouts: timers.timeouts(),
                ..AttachOptions::default()
            };
            session.apply(&mut options);
            options.supervised = stay;
            // Blocked before anything else runs, so only the waiting thread takes them; the
            // supervisor listens before the login, so no connection error is missed.
            let watch = if stay {
                let signals = block_stop_signals()?;
                Some((signals, Supervisor::new(options.timeout).map_err(Error::StartSupervisor)?))
            } else {
                None
            };
            let attached = iscsi_nl::attach(&url, &options)?;
            println!("{}", attached.disk.display());
            let Some((signals, mut supervisor)) = watch else {
                return Ok(());
            };
            let _ = std::io::Write::flush(&mut std::io::stdout());
            supervisor.watch_attached(&attached, &options);
            tracing::info!(
                "watching session {} to {} ({}); SIGINT or SIGTERM stops watching",
                attached.session.sid,
                attached.url.target,
                attached.disk.display()
            );
            let stop = stop_on_signals(signals);
            supervisor.run(&stop).map_err(Error::Supervise)?;
            if !stop.load(Ordering::Relaxed) {
                tracing::info!("session {} ended; nothing left to watch", attached.session.sid);
            }
            Ok(())
        }
        IscsiCmd::Supervise { auth } => {
            let (chap, mutual_chap) = auth.credentials()?;
            let stop = stop_on_signals(block_stop_signals()?);
            let mut supervisor = Supervisor::new(auth.timeout()).map_err(Error::StartSupervisor)?;
            let state = Path::new(iscsi_nl::DEFAULT_STATE_DIR);
            tracing::info!("watching the sessions tcmu iscsi login makes; SIGINT or SIGTERM stops");
            while !stop.load(Ordering::Relaxed) {
                let added = supervisor
                    .watch_noted(state, chap.as_ref(), mutual_chap.as_ref())
                    .map_err(Error::Supervise)?;
                for ks in added {
                    tracing::info!("watching session {}", ks.sid);
                }
                let rescan = std::time::Instant::now() + RESCAN;
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < rescan {
                    supervisor.step(Duration::from_millis(200)).map_err(Error::Supervise)?;
                }
            }
            Ok(())
        }
        IscsiCmd::List => {
            let sessions = iscsi_nl::list_sessions(
                std::path::Path::new("/sys"),
                std::path::Path::new(iscsi_nl::DEFAULT_STATE_DIR),
            )
            .map_err(Error::List)?;
            for s in &sessions {
                let disks: Vec<String> = s.disks.iter().map(|d| d.display().to_string()).collect();
                let disks = if disks.is_empty() { "-".to_string() } else { disks.join(",") };
                let who = if s.ours { "tcmu" } else { "other" };
                println!(
                    "session {} {} {} {disks} {} {who}",
                    s.session.sid, s.target, s.portal, s.state
                );
                let params: Vec<String> =
                    s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("  {}", params.join(" "));
            }
            Ok(())
        }
        IscsiCmd::Logout { target, all, force } => {
            let which = match (&target, all) {
                (_, true) => Sessions::All,
                (Some(t), false) => Sessions::To(t),
                (None, false) => return Err(Error::NothingNamed),
            };
            let options = DetachOptions { force, ..DetachOptions::default() };
            for gone in iscsi_nl::detach(which, &options)? {
                let gone = gone?;
                let ack = if gone.acknowledged { ", the target acknowledged" } else { "" };
                println!("logged out of {} (session {}{ack})", gone.target, gone.session.sid);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_library_errors_get_the_command_lines_hints() {
        let twice = Error::from(AttachError::AlreadyLoggedIn { target: "iqn.x:t".into(), sid: 3 });
        assert_eq!(
            twice.to_string(),
            "already logged in to iqn.x:t (session 3); a second session gives a second disk for \
             the same LUN (--force if you mean it)"
        );
        let up = Error::from(AttachError::SessionUp {
            target: "iqn.x:t".into(),
            sid: 3,
            problem: iscsi_nl::SessionProblem::NoDisk {
                lun: 1,
                found: vec![Path::new("/dev/sdb").into()],
            },
        });
        assert_eq!(
            up.to_string(),
            "LUN 1 has no disk; found: [\"/dev/sdb\"] (session 3 to iqn.x:t is up): \
             `tcmu iscsi logout iqn.x:t` ends it"
        );
        let others = Error::from(DetachError::NotOurs { count: 2 });
        assert!(others.to_string().ends_with("--force to end them anyway"), "{others}");
        let busy = Error::from(DetachError::Busy {
            target: "iqn.x:t".into(),
            busy: iscsi_nl::Busy::Mounted { disk: "/dev/sdb".into(), at: "/mnt/i".into() },
        });
        assert_eq!(
            busy.to_string(),
            "not logging out of iqn.x:t: /dev/sdb is mounted on /mnt/i: unmount it first"
        );
    }
}
