//! Attach an iSCSI LUN as a local disk, and detach it: the whole of an initiator's job in two
//! calls, built on [`crate::connect`] and [`crate::kernel`]. The crate re-exports all of it
//! (the module is private, so that `iscsi_nl::attach` names one thing, the function).
//!
//! [`attach`] logs in to `iscsi://HOST[:PORT]/TARGET-IQN/LUN`, hands the connection to the
//! kernel over NETLINK_ISCSI, scans the new SCSI host and waits for the LUN's disk, then
//! returns it as an [`AttachedDisk`]. It notes each session it made in a state directory
//! ([`DEFAULT_STATE_DIR`]), so that [`detach`] ends only those (open-iscsi's are left alone
//! unless forced), and refuses to end one whose disk is mounted or held by another block
//! device (LVM, md, dm) unless forced.
//!
//! Both need root, the `iscsi_tcp` module and a target. Nothing reconnects afterwards: if the
//! connection fails, the kernel fails I/O after its recovery time-out (120 s); detach and
//! attach again.
//!
//! Warnings that fail nothing (the state directory cannot be written, the disk cannot be
//! tuned, a target that does not acknowledge the logout) are logged with `tracing`.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::chap::Credentials;
use crate::connect::{self, LoggedIn};
use crate::kernel::{self, FoundSession, HandOff, KernelSession, Timeouts};
use crate::keys::SessionParams;
use crate::login::{LoginConfig, Session};
use crate::netlink::NetlinkError;
use crate::netlink::socket::IscsiNetlink;
use crate::netlink::uevent::Event;

/// Where [`attach`] notes the sessions it made (one file per session, `session<SID>`, holding
/// the target's name), so [`detach`] leaves other initiators' alone.
pub const DEFAULT_STATE_DIR: &str = "/run/tcmu-rs/iscsi";

/// The sysfs mount.
const SYSFS: &str = "/sys";
/// How long [`detach`] waits for the kernel's netlink answers.
const DETACH_NETLINK_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`detach`] waits for the target's Logout Response.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`detach`] waits for the SCSI host to go after the session ended.
const HOST_GONE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`attach`] looks for the LUN's disk.
const POLL: Duration = Duration::from_millis(100);

/// `iscsi://HOST[:PORT]/TARGET-IQN/LUN`: a LUN of a target at a portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IscsiUrl {
    /// `HOST[:PORT]` (IPv6 in brackets; port 3260 when absent).
    pub portal: String,
    /// The target's IQN.
    pub target: String,
    /// The LUN.
    pub lun: u64,
}

impl FromStr for IscsiUrl {
    type Err = AttachError;

    fn from_str(url: &str) -> Result<IscsiUrl, AttachError> {
        let bad = || AttachError::BadUrl(url.to_string());
        let rest = url.strip_prefix("iscsi://").ok_or_else(bad)?;
        let (portal, rest) = rest.split_once('/').ok_or_else(bad)?;
        let (target, lun) = rest.rsplit_once('/').ok_or_else(bad)?;
        let lun = lun.parse::<u64>().map_err(|_| bad())?;
        if portal.is_empty() || target.is_empty() || target.contains('/') {
            return Err(bad());
        }
        Ok(IscsiUrl { portal: portal.to_string(), target: target.to_string(), lun })
    }
}

impl fmt::Display for IscsiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "iscsi://{}/{}/{}", self.portal, self.target, self.lun)
    }
}

/// How [`attach`] logs in and what it sets on the new disk.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Our InitiatorName ([`default_initiator_name`] by default).
    pub initiator_name: String,
    /// CHAP: our name and secret; `None` for no authentication.
    pub chap: Option<Credentials>,
    /// Mutual CHAP: the name and secret the target must answer with (with `chap` only).
    pub mutual_chap: Option<Credentials>,
    /// How long to wait for the network, the kernel and the disk (15 s by default).
    pub timeout: Duration,
    /// The queue depth of the new disk and the session's per-LUN depth (the kernel's 32 when
    /// `None`).
    pub queue_depth: Option<u16>,
    /// The new disk's I/O scheduler (`none`, `mq-deadline`...).
    pub scheduler: Option<String>,
    /// Log in even when a session to this target exists. Two sessions give two disks for one
    /// LUN; without multipath, file systems mounted on both are corrupted.
    pub force: bool,
    /// Where the sessions made are noted ([`DEFAULT_STATE_DIR`]).
    pub state_dir: PathBuf,
    /// The kernel's timers for the session: the replacement time-out (how long I/O is held
    /// while the connection is down before it fails; see [`crate::Supervisor`]) and the
    /// NOP-Out interval and time-out that find a dead link. iscsid's defaults: 120, 5, 5 s.
    pub timeouts: Timeouts,
    /// The operational keys the login offers; the target's answers decide (shown by
    /// `tcmu iscsi list`). RFC 7143's defaults unless changed: MaxRecvDataSegmentLength
    /// (declared: the largest data segment the target may send us), FirstBurstLength,
    /// MaxBurstLength, InitialR2T, ImmediateData, DataPDUInOrder, DataSequenceInOrder...
    pub offers: SessionParams,
    /// The HeaderDigest offer: `None`, `CRC32C`, or a preference list such as `CRC32C,None`.
    pub header_digest: String,
    /// The DataDigest offer, as `header_digest`.
    pub data_digest: String,
    /// The largest data segment the kernel sends: at most the target's
    /// MaxRecvDataSegmentLength, which it is when `None`.
    pub max_xmit_data_segment_length: Option<u32>,
    /// The most commands outstanding in the session (the kernel's `cmds_max`, 128 when
    /// `None`; the kernel rounds it to a power of two).
    pub cmds_max: Option<u16>,
    /// Re-read the disk's partition table once it is up (`blockdev --rereadpt`), for a disk
    /// whose partitions changed since the kernel last read them.
    pub reread_partitions: bool,
    /// This process will watch the session with a [`crate::Supervisor`]: it is claimed in the
    /// state directory as it is noted, so `tcmu iscsi supervise` leaves it alone from the
    /// start.
    pub supervised: bool,
}

impl Default for AttachOptions {
    /// No CHAP, a 15 s time-out, the kernel's queue depth and scheduler, and the initiator
    /// name [`default_initiator_name`] reads from this host.
    fn default() -> AttachOptions {
        AttachOptions {
            initiator_name: default_initiator_name(),
            chap: None,
            mutual_chap: None,
            timeout: Duration::from_secs(15),
            queue_depth: None,
            scheduler: None,
            force: false,
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            timeouts: Timeouts::default(),
            offers: SessionParams::default(),
            header_digest: "None".into(),
            data_digest: "None".into(),
            max_xmit_data_segment_length: None,
            cmds_max: None,
            reread_partitions: false,
            supervised: false,
        }
    }
}

/// A LUN attached by [`attach`]: its disk, and the kernel session behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedDisk {
    /// The LUN's disk, `/dev/sdX`.
    pub disk: PathBuf,
    /// Every disk the session brought (the target's other LUNs too), sorted.
    pub disks: Vec<PathBuf>,
    /// What was attached.
    pub url: IscsiUrl,
    /// The kernel's session: its SCSI host, session and connection numbers.
    pub session: KernelSession,
    /// The address logged in to (after any redirection).
    pub portal: SocketAddr,
    /// The login's outcome: the ISID and TSIH, the negotiated parameters.
    pub negotiated: Session,
}

/// Why [`attach`] failed.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The URL is not `iscsi://HOST[:PORT]/TARGET-IQN/LUN`.
    #[error("{0:?} is not iscsi://HOST[:PORT]/TARGET-IQN/LUN")]
    BadUrl(String),
    /// The kernel's sessions could not be read from sysfs.
    #[error("reading the kernel's iSCSI sessions: {0}")]
    Sessions(#[source] io::Error),
    /// A session to the target exists and [`AttachOptions::force`] is not set.
    #[error(
        "already logged in to {target} (session {sid}); a second session gives a second disk \
         for the same LUN"
    )]
    AlreadyLoggedIn {
        /// The target.
        target: String,
        /// The existing session.
        sid: u32,
    },
    /// The `iscsi_tcp` module is not loaded.
    #[error("the kernel's iSCSI TCP transport is missing ({0}): run `modprobe iscsi_tcp`")]
    NoTransport(#[source] io::Error),
    /// The NETLINK_ISCSI socket could not be opened (root is needed).
    #[error("cannot open NETLINK_ISCSI: {0}")]
    Netlink(#[source] io::Error),
    /// No random ISID could be made.
    #[error("{0}")]
    Isid(#[source] connect::Error),
    /// The portal could not be reached.
    #[error("{portal}: {source}")]
    Connect {
        /// The portal.
        portal: String,
        /// Why.
        source: io::Error,
    },
    /// The login failed ("authentication failed", "target not found"...).
    #[error("{url}: {source}")]
    Login {
        /// What was attached.
        url: IscsiUrl,
        /// Why.
        source: Box<connect::Error>,
    },
    /// The portal's address could not be found for the kernel.
    #[error("the portal's address: {0}")]
    Peer(#[source] io::Error),
    /// The kernel refused the session (the error names the step); nothing is left.
    #[error("handing the session to the kernel: {0}")]
    HandOff(#[source] NetlinkError),
    /// The session is up in the kernel, but its disk is not: [`detach`] ends it.
    #[error("{problem} (session {sid} to {target} is up)")]
    SessionUp {
        /// The target.
        target: String,
        /// The session, still up.
        sid: u32,
        /// What went wrong.
        problem: SessionProblem,
    },
}

/// What went wrong after the kernel took the session over ([`AttachError::SessionUp`]).
#[derive(Debug, thiserror::Error)]
pub enum SessionProblem {
    /// The scan of the new SCSI host failed.
    #[error("scanning SCSI host {host_no}: {source}")]
    Scan {
        /// The SCSI host.
        host_no: u32,
        /// Why.
        source: io::Error,
    },
    /// The disks of the new SCSI host could not be listed.
    #[error("listing the disks of SCSI host {host_no}: {source}")]
    FindDisks {
        /// The SCSI host.
        host_no: u32,
        /// Why.
        source: io::Error,
    },
    /// The kernel reported the connection failed.
    #[error("the kernel reports connection {sid}:{cid} failed ({error})")]
    ConnectionFailed {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// The kernel's `ISCSI_ERR_*` name, or the number.
        error: String,
    },
    /// The LUN asked for brought no disk within the time-out.
    #[error("LUN {lun} has no disk; found: {found:?}")]
    NoDisk {
        /// The LUN.
        lun: u64,
        /// The disks the session brought.
        found: Vec<PathBuf>,
    },
}

/// Attaches `url` (`iscsi://HOST[:PORT]/TARGET-IQN/LUN`): logs in, hands the connection to
/// the kernel, scans, and waits (up to [`AttachOptions::timeout`]) for the LUN's disk.
///
/// The kernel side (the `iscsi_tcp` module, the netlink socket) is checked before the login,
/// so a missing module costs none. A target already logged in to is refused unless
/// [`AttachOptions::force`]. The session is noted in [`AttachOptions::state_dir`] for
/// [`detach`]; a state directory that cannot be written, or a queue depth or scheduler that
/// cannot be set on the disk, is a warning (logged with `tracing`), not a failure.
///
/// Needs root, the `iscsi_tcp` module and a target. Nothing reconnects afterwards: if the
/// connection fails, the kernel fails I/O after its recovery time-out (120 s); [`detach`] and
/// attach again.
///
/// ```no_run
/// use iscsi_nl::{AttachOptions, DetachOptions, Sessions};
///
/// let url = "iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/0";
/// let disk = iscsi_nl::attach(url, &AttachOptions::default())?;
/// println!("{} (session {})", disk.disk.display(), disk.session.sid);
/// // ... use the disk ...
/// let which = Sessions::To(&disk.url.target);
/// for gone in iscsi_nl::detach(which, &DetachOptions::default())? {
///     let gone = gone?;
///     println!("logged out of {} (acknowledged: {})", gone.target, gone.acknowledged);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn attach(url: &str, options: &AttachOptions) -> Result<AttachedDisk, AttachError> {
    let url: IscsiUrl = url.parse()?;
    let sysfs = Path::new(SYSFS);
    let existing = kernel::sessions(sysfs).map_err(AttachError::Sessions)?;
    if let Some(s) = existing.iter().find(|s| s.target_name == url.target)
        && !options.force
    {
        return Err(AttachError::AlreadyLoggedIn {
            target: url.target.clone(),
            sid: s.session.sid,
        });
    }
    // Check the kernel side first, so a missing module costs no login.
    let handle = kernel::transport_handle(sysfs, "tcp").map_err(AttachError::NoTransport)?;
    let mut nl = IscsiNetlink::open(handle, options.timeout).map_err(AttachError::Netlink)?;
    let isid = connect::random_isid().map_err(AttachError::Isid)?;
    let cfg = login_config(&url, isid, options);
    let stream = connect::connect(&url.portal, options.timeout)
        .map_err(|source| AttachError::Connect { portal: url.portal.clone(), source })?;
    let LoggedIn { stream, session } = connect::login(stream, cfg)
        .map_err(|source| AttachError::Login { url: url.clone(), source: Box::new(source) })?;
    let portal = stream
        .peer_addr()
        .or_else(|_| {
            url.portal
                .to_socket_addrs()
                .and_then(|mut a| a.next().ok_or_else(|| io::Error::other("no address")))
        })
        .map_err(AttachError::Peer)?;
    let hand_off = hand_off_for(&url, portal, options);
    let ks = kernel::hand_off(&mut nl, &session, stream.as_raw_fd(), &hand_off)
        .map_err(AttachError::HandOff)?;
    // The kernel holds its own reference to the socket now.
    drop(stream);
    remember(&options.state_dir, ks.sid, &url.target, isid, options.supervised);
    let up = |problem| AttachError::SessionUp { target: url.target.clone(), sid: ks.sid, problem };
    kernel::scan_and_find_disks(sysfs, ks.host_no, options.timeout)
        .map_err(|source| up(SessionProblem::Scan { host_no: ks.host_no, source }))?;
    // The LUN asked for may be probed after others: wait for it, within the time-out.
    let deadline = Instant::now() + options.timeout;
    let (disk, disks) = loop {
        let disks = kernel::find_disks(sysfs, ks.host_no)
            .map_err(|source| up(SessionProblem::FindDisks { host_no: ks.host_no, source }))?;
        let found = disks.iter().find(|d| lun_of(sysfs, ks.host_no, d) == Some(url.lun)).cloned();
        if found.is_some() || Instant::now() >= deadline {
            break (found, disks);
        }
        std::thread::sleep(POLL);
    };
    // The kernel reports a failing connection as an event: say so rather than return a disk
    // that is already going away.
    for event in nl.events() {
        if let Event::ConnError { sid, cid, error } = event
            && sid == ks.sid
        {
            let error = crate::supervise::error_name(error);
            return Err(up(SessionProblem::ConnectionFailed { sid, cid, error }));
        }
    }
    let Some(disk) = disk else {
        return Err(up(SessionProblem::NoDisk { lun: url.lun, found: disks }));
    };
    if let Err(e) = tune(&disk, options.queue_depth, options.scheduler.as_deref()) {
        tracing::warn!("{e}");
    }
    if options.reread_partitions {
        reread_partitions(&disk);
    }
    Ok(AttachedDisk { disk, disks, url, session: ks, portal, negotiated: session })
}

/// The login [`attach`] makes for `url` with `isid` (and a recovery makes again).
pub(crate) fn login_config(url: &IscsiUrl, isid: [u8; 6], options: &AttachOptions) -> LoginConfig {
    let mut cfg = LoginConfig::normal(options.initiator_name.clone(), isid, url.target.clone());
    cfg.chap = options.chap.clone();
    cfg.mutual_chap = options.mutual_chap.clone();
    cfg.offers = options.offers.clone();
    cfg.header_digest = options.header_digest.clone();
    cfg.data_digest = options.data_digest.clone();
    cfg
}

/// What [`attach`] gives the kernel besides the session.
pub(crate) fn hand_off_for(url: &IscsiUrl, portal: SocketAddr, options: &AttachOptions) -> HandOff {
    let mut hand_off = HandOff::new(url.target.clone(), options.initiator_name.clone(), portal);
    if let Some(depth) = options.queue_depth {
        hand_off.queue_depth = depth;
    }
    if let Some(n) = options.cmds_max {
        hand_off.cmds_max = n;
    }
    hand_off.timeouts = options.timeouts;
    hand_off.max_xmit_data_segment_length = options.max_xmit_data_segment_length;
    hand_off
}

/// Our InitiatorName: `/etc/iscsi/initiatorname.iscsi`'s (open-iscsi's), else one made from
/// the host name, `iqn.2026-11.rs.tcmu:<host>`.
pub fn default_initiator_name() -> String {
    let from_file = std::fs::read_to_string("/etc/iscsi/initiatorname.iscsi")
        .ok()
        .and_then(|t| initiator_name_in(&t));
    from_file.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_else(|_| "localhost".into());
        iqn_for_host(&host)
    })
}

/// The `InitiatorName=` of an `initiatorname.iscsi` text, comments skipped.
fn initiator_name_in(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.trim().strip_prefix("InitiatorName=").map(str::to_string))
}

/// An IQN for a host name: lower case, characters an IQN does not take replaced by `-`.
fn iqn_for_host(host: &str) -> String {
    let host: String = host
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    format!("iqn.2026-11.rs.tcmu:{host}")
}

/// Sets the disk's queue depth and I/O scheduler through sysfs.
fn tune(disk: &Path, queue_depth: Option<u16>, scheduler: Option<&str>) -> Result<(), String> {
    let Some(name) = disk.file_name() else {
        return Ok(());
    };
    let block = Path::new(SYSFS).join("block").join(name);
    let set = |file: PathBuf, value: String| {
        std::fs::write(&file, &value).map_err(|e| format!("{}: {value}: {e}", file.display()))
    };
    if let Some(depth) = queue_depth {
        set(block.join("device/queue_depth"), depth.to_string())?;
    }
    if let Some(s) = scheduler {
        set(block.join("queue/scheduler"), s.to_string())?;
    }
    Ok(())
}

/// `blockdev --rereadpt DISK`; a failure is a warning.
fn reread_partitions(disk: &Path) {
    match std::process::Command::new("blockdev").arg("--rereadpt").arg(disk).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => tracing::warn!(
            "blockdev --rereadpt {}: {}",
            disk.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => tracing::warn!("blockdev --rereadpt {}: {e}", disk.display()),
    }
}

/// The LUN of `disk` (a `/dev/sdX`) when it belongs to SCSI host `host_no`: the last number
/// of its SCSI address `H:C:T:L`.
fn lun_of(sysfs: &Path, host_no: u32, disk: &Path) -> Option<u64> {
    let name = disk.file_name()?.to_str()?;
    let dev = std::fs::read_link(sysfs.join("class/block").join(name).join("device")).ok()?;
    let addr = dev.file_name()?.to_str()?;
    if !addr.starts_with(&format!("{host_no}:")) {
        return None;
    }
    addr.rsplit_once(':')?.1.parse().ok()
}

/// The state file of session `sid`.
pub(crate) fn state_file(state_dir: &Path, sid: u32) -> PathBuf {
    state_dir.join(format!("session{sid}"))
}

/// Notes that we made session `sid` to `target` with `isid` (two lines: the target, then
/// `isid` and 12 hex digits, for `tcmu iscsi supervise`'s re-logins), claimed by this process
/// when it is to supervise the session ([`claim`]); a failure is a warning.
fn remember(state_dir: &Path, sid: u32, target: &str, isid: [u8; 6], supervised: bool) {
    let mut text = format!("{target}\nisid {}\n", kernel::isid_hex(isid));
    if supervised {
        text.push_str(&format!("supervisor {}\n", std::process::id()));
    }
    let r = std::fs::create_dir_all(state_dir)
        .and_then(|()| std::fs::write(state_file(state_dir, sid), text));
    if let Err(e) = r {
        tracing::warn!("cannot note session {sid} in {}: {e}", state_dir.display());
    }
}

/// Whether we made session `sid`, to `target` (a reused session number to another target
/// is not ours).
pub(crate) fn made_by_us(state_dir: &Path, sid: u32, target: &str) -> bool {
    noted(state_dir, sid).is_some_and(|(t, _)| t == target)
}

/// What [`remember`] noted of session `sid`: the target, and the ISID when noted.
pub(crate) fn noted(state_dir: &Path, sid: u32) -> Option<(String, Option<[u8; 6]>)> {
    let text = std::fs::read_to_string(state_file(state_dir, sid)).ok()?;
    let mut lines = text.lines();
    let target = lines.next()?.to_string();
    let isid = lines.find_map(|l| l.strip_prefix("isid ")).and_then(parse_isid);
    Some((target, isid))
}

/// 12 hex digits as an ISID.
fn parse_isid(hex: &str) -> Option<[u8; 6]> {
    let hex = hex.trim();
    if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut isid = [0u8; 6];
    for (i, b) in isid.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(isid)
}

/// Claims session `sid` for this process's supervisor: its state file's `supervisor PID`
/// line says who brings the session back (see [`claimed_by_another`]). A failure is a
/// warning.
///
/// The line is appended (never the file rewritten, so a logout's removal of the file is not
/// undone, and readers never see it half written); lines of processes that are gone are
/// ignored.
pub(crate) fn claim(state_dir: &Path, sid: u32) {
    use std::io::Write as _;
    let path = state_file(state_dir, sid);
    let line = format!("supervisor {}\n", std::process::id());
    if std::fs::read_to_string(&path).is_ok_and(|t| t.lines().any(|l| format!("{l}\n") == line)) {
        return;
    }
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = appended {
        tracing::warn!("cannot claim session {sid} in {}: {e}", path.display());
    }
}

/// Whether another live process claimed session `sid` ([`claim`]).
pub(crate) fn claimed_by_another(state_dir: &Path, sid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(state_file(state_dir, sid)) else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("supervisor "))
        .filter_map(|p| p.trim().parse::<u32>().ok())
        .any(|pid| pid != std::process::id() && Path::new("/proc").join(pid.to_string()).exists())
}

fn forget(state_dir: &Path, sid: u32) {
    let _ = std::fs::remove_file(state_file(state_dir, sid));
}

/// Why a disk cannot go now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Another block device sits on it.
    #[error("{} is held by another block device (LVM, md, dm...)", .0.display())]
    Held(PathBuf),
    /// It, or one of its partitions, is mounted.
    #[error("{} is mounted on {at}: unmount it first", disk.display())]
    Mounted {
        /// The disk.
        disk: PathBuf,
        /// A mount point.
        at: String,
    },
}

/// Whether `disk` is held by another block device (under `sysfs`) or mounted, it or a
/// partition, according to `mountinfo` (a `/proc/PID/mountinfo` text).
fn busy(sysfs: &Path, disk: &Path, mountinfo: &str) -> Option<Busy> {
    let name = disk.file_name()?.to_str()?;
    let block = sysfs.join("block").join(name);
    let holders =
        std::fs::read_dir(block.join("holders")).map(|d| d.flatten().count()).unwrap_or(0);
    if holders > 0 {
        return Some(Busy::Held(disk.to_path_buf()));
    }
    let mut numbers = vec![std::fs::read_to_string(block.join("dev")).ok()?.trim().to_string()];
    for part in std::fs::read_dir(&block).into_iter().flatten().flatten() {
        if part.file_name().to_string_lossy().starts_with(name)
            && let Ok(dev) = std::fs::read_to_string(part.path().join("dev"))
        {
            numbers.push(dev.trim().to_string());
        }
    }
    mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(2).is_some_and(|n| numbers.iter().any(|m| m == n)))
        .map(|l| Busy::Mounted {
            disk: disk.to_path_buf(),
            at: l.split_whitespace().nth(4).unwrap_or("?").to_string(),
        })
}

/// Which sessions [`detach`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions<'a> {
    /// Those to this target IQN.
    To(&'a str),
    /// Every one (that [`attach`] made, unless forced).
    All,
}

/// How [`detach`] chooses and checks.
#[derive(Debug, Clone)]
pub struct DetachOptions {
    /// Also end sessions [`attach`] did not make (open-iscsi's), and sessions whose disks are
    /// mounted or held.
    pub force: bool,
    /// Where [`attach`] noted its sessions ([`DEFAULT_STATE_DIR`]).
    pub state_dir: PathBuf,
}

impl Default for DetachOptions {
    fn default() -> DetachOptions {
        DetachOptions { force: false, state_dir: PathBuf::from(DEFAULT_STATE_DIR) }
    }
}

/// A session [`detach`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detached {
    /// The target it was logged in to.
    pub target: String,
    /// The session, now gone with its SCSI host and disks.
    pub session: KernelSession,
    /// Whether the target answered the iSCSI Logout (otherwise the connection was just
    /// closed).
    pub acknowledged: bool,
}

/// Why [`detach`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DetachError {
    /// The kernel's sessions could not be read from sysfs.
    #[error("reading the kernel's iSCSI sessions: {0}")]
    Sessions(#[source] io::Error),
    /// Sessions match, but [`attach`] did not make them, and [`DetachOptions::force`] is not
    /// set.
    #[error("{count} session(s) match, but tcmu did not make them (iscsiadm's?)")]
    NotOurs {
        /// How many match.
        count: usize,
    },
    /// No session to this target.
    #[error("no iSCSI session to {0}")]
    NoSession(String),
    /// [`Sessions::All`], and no session was made by [`attach`].
    #[error("no iSCSI sessions made by tcmu")]
    NoneOfOurs,
    /// A session's disks could not be listed.
    #[error("listing the disks of {target}: {source}")]
    FindDisks {
        /// The target.
        target: String,
        /// Why.
        source: io::Error,
    },
    /// A disk is mounted or held, and [`DetachOptions::force`] is not set; nothing was ended.
    #[error("not logging out of {target}: {busy}")]
    Busy {
        /// The target.
        target: String,
        /// Which disk, and why.
        busy: Busy,
    },
    /// The `iscsi_tcp` module is not loaded.
    #[error("the kernel's iSCSI TCP transport is missing: {0}")]
    NoTransport(#[source] io::Error),
    /// The NETLINK_ISCSI socket could not be opened (root is needed).
    #[error("cannot open NETLINK_ISCSI: {0}")]
    Netlink(#[source] io::Error),
    /// A session's disks could not be removed.
    #[error("removing the disks of {target}: {source}")]
    RemoveDisks {
        /// The target.
        target: String,
        /// Why.
        source: io::Error,
    },
    /// The kernel refused to end a session.
    #[error("logging out of {target}: {source}")]
    LogOut {
        /// The target.
        target: String,
        /// Why.
        source: NetlinkError,
    },
    /// The session ended, but its SCSI host did not go.
    #[error("session {sid} to {target} ended but SCSI host {host_no} is still there")]
    HostRemains {
        /// The target.
        target: String,
        /// The session.
        sid: u32,
        /// The SCSI host.
        host_no: u32,
    },
}

/// Ends the sessions `which` names: those [`attach`] made, unless
/// [`DetachOptions::force`]. Nothing is ended when none matches, or when a disk of one of
/// them is mounted or held (unless forced).
///
/// The checks are made here; the returned [`Detaching`] ends one session per step of its
/// iteration (so each can be reported as it goes), and stops after the first failure. Each
/// session's disks go first, flushing their caches over the live connection; then an iSCSI
/// Logout is sent through the kernel's connection, so the target closes the session itself,
/// and the connection is stopped either way (a target that does not acknowledge the logout is
/// a warning, logged with `tracing`; [`Detached::acknowledged`] says which).
pub fn detach(which: Sessions<'_>, options: &DetachOptions) -> Result<Detaching, DetachError> {
    let sysfs = Path::new(SYSFS);
    let found = kernel::sessions(sysfs).map_err(DetachError::Sessions)?;
    let matching = |s: &&FoundSession| match which {
        Sessions::All => true,
        Sessions::To(t) => s.target_name == t,
    };
    let chosen: VecDeque<FoundSession> = found
        .iter()
        .filter(matching)
        .filter(|s| options.force || made_by_us(&options.state_dir, s.session.sid, &s.target_name))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let others = found.iter().filter(matching).count();
        return Err(match which {
            _ if others > 0 => DetachError::NotOurs { count: others },
            Sessions::To(t) => DetachError::NoSession(t.to_string()),
            Sessions::All => DetachError::NoneOfOurs,
        });
    }
    if !options.force {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for s in &chosen {
            let disks = kernel::find_disks(sysfs, s.session.host_no).map_err(|source| {
                DetachError::FindDisks { target: s.target_name.clone(), source }
            })?;
            if let Some(busy) = disks.iter().find_map(|d| busy(sysfs, d, &mountinfo)) {
                return Err(DetachError::Busy { target: s.target_name.clone(), busy });
            }
        }
    }
    let handle = kernel::transport_handle(sysfs, "tcp").map_err(DetachError::NoTransport)?;
    let nl = IscsiNetlink::open(handle, DETACH_NETLINK_TIMEOUT).map_err(DetachError::Netlink)?;
    Ok(Detaching { nl, sessions: chosen, state_dir: options.state_dir.clone() })
}

/// The sessions [`detach`] chose, ended one per [`Iterator::next`]; it stops after the first
/// failure.
pub struct Detaching {
    nl: IscsiNetlink,
    sessions: VecDeque<FoundSession>,
    state_dir: PathBuf,
}

impl Detaching {
    /// The sessions not ended yet.
    pub fn remaining(&self) -> impl Iterator<Item = &FoundSession> {
        self.sessions.iter()
    }

    fn end(&mut self, s: &FoundSession) -> Result<Detached, DetachError> {
        let sysfs = Path::new(SYSFS);
        let target = || s.target_name.clone();
        // The disks go first, flushing their caches over the live connection.
        kernel::remove_scsi_devices(sysfs, s.session.host_no)
            .map_err(|source| DetachError::RemoveDisks { target: target(), source })?;
        // An iSCSI Logout through the kernel's connection, so the target closes the session
        // itself; then the connection is stopped either way.
        let acknowledged = kernel::send_logout(&mut self.nl, &s.session, LOGOUT_TIMEOUT)
            .unwrap_or_else(|e| {
                tracing::warn!("the Logout request to {} failed: {e}", s.target_name);
                false
            });
        if !acknowledged {
            tracing::warn!(
                "{} did not acknowledge the logout; closing the connection",
                s.target_name
            );
        }
        kernel::log_out(&mut self.nl, &s.session)
            .map_err(|source| DetachError::LogOut { target: target(), source })?;
        forget(&self.state_dir, s.session.sid);
        if !kernel::wait_host_gone(sysfs, s.session.host_no, HOST_GONE_TIMEOUT) {
            return Err(DetachError::HostRemains {
                target: target(),
                sid: s.session.sid,
                host_no: s.session.host_no,
            });
        }
        Ok(Detached { target: target(), session: s.session, acknowledged })
    }
}

impl Iterator for Detaching {
    type Item = Result<Detached, DetachError>;

    fn next(&mut self) -> Option<Result<Detached, DetachError>> {
        let s = self.sessions.pop_front()?;
        let r = self.end(&s);
        if r.is_err() {
            self.sessions.clear();
        }
        Some(r)
    }
}

impl fmt::Debug for Detaching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detaching")
            .field("sessions", &self.sessions)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}
