//! The hand-off of a logged-in connection to the kernel's iSCSI initiator, over
//! NETLINK_ISCSI, then the SCSI scan that brings up its disks, and the log-out.
//!
//! The sequence is iscsid's for a software (`tcp`) session:
//!
//! 1. [`transport_handle`]: the `tcp` transport's handle from sysfs (the `iscsi_tcp` module
//!    must be loaded).
//! 2. [`hand_off`]: `CREATE_SESSION` (its SCSI host appears), `CREATE_CONN`, `BIND_CONN`
//!    with the logged-in TCP socket's file descriptor, `SET_PARAM` for every negotiated
//!    parameter ([`kernel_params`]), `START_CONN`.
//! 3. [`scan_and_find_disks`]: a scan of the new SCSI host, and its block devices.
//! 4. [`log_out`]: `STOP_CONN` (terminate), `DESTROY_CONN`, `DESTROY_SESSION`: the host and
//!    its disks go away.
//!
//! Everything here needs root and the kernel modules; what can run without them is tested
//! (sysfs reading against a fake tree, the parameter list).

mod params;
#[cfg(test)]
mod tests;

pub use params::{KernelParam, Timeouts, isid_hex, kernel_params};

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::login::Session;
use crate::netlink::{IscsiNetlink, NetlinkError, Reply, Request, Step, StopConnFlag, UeventType};

/// The sysfs file of a transport's handle: `<sysfs>/class/iscsi_transport/<name>/handle`.
pub fn transport_handle_path(sysfs: &Path, name: &str) -> PathBuf {
    sysfs.join("class/iscsi_transport").join(name).join("handle")
}

/// The handle of the iSCSI transport `name` (`tcp` for `iscsi_tcp`), read from
/// `<sysfs>/class/iscsi_transport/<name>/handle` (`sysfs` is `/sys` outside tests).
///
/// Missing when the module is not loaded (`modprobe iscsi_tcp`).
pub fn transport_handle(sysfs: &Path, name: &str) -> io::Result<u64> {
    let path = transport_handle_path(sysfs, name);
    let text = fs::read_to_string(&path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: {e} (is the iscsi_{name} module loaded?)", path.display()),
        )
    })?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {:?} is not a handle: {e}", path.display(), text.trim()),
        )
    })
}

/// What the hand-off needs besides the session: names, portal and kernel settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOff {
    /// TargetName.
    pub target_name: String,
    /// InitiatorName.
    pub initiator_name: String,
    /// The portal logged in to (sysfs `persistent_address`/`persistent_port`).
    pub portal: SocketAddr,
    /// The most commands outstanding in the session.
    pub cmds_max: u16,
    /// The queue depth of each disk.
    pub queue_depth: u16,
    /// The kernel's timers.
    pub timeouts: Timeouts,
    /// The largest data segment the kernel sends, when smaller than the target's
    /// MaxRecvDataSegmentLength (at least 512).
    pub max_xmit_data_segment_length: Option<u32>,
}

impl HandOff {
    /// The hand-off to `target_name` at `portal`, with 128 commands, queue depth 32 and
    /// iscsid's default timers.
    pub fn new(
        target_name: impl Into<String>,
        initiator_name: impl Into<String>,
        portal: SocketAddr,
    ) -> HandOff {
        HandOff {
            target_name: target_name.into(),
            initiator_name: initiator_name.into(),
            portal,
            cmds_max: 128,
            queue_depth: 32,
            timeouts: Timeouts::default(),
            max_xmit_data_segment_length: None,
        }
    }
}

/// A session run by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelSession {
    /// Its SCSI host: `/sys/class/scsi_host/host<host_no>`.
    pub host_no: u32,
    /// The session: `/sys/class/iscsi_session/session<sid>`.
    pub sid: u32,
    /// The connection: `/sys/class/iscsi_connection/connection<sid>:<cid>`.
    pub cid: u32,
}

/// Gives the logged-in connection to the kernel; see the [module documentation](self).
///
/// `socket_fd` is the connected TCP socket the login ran on (`AsRawFd::as_raw_fd`), with no
/// bytes left unread. The kernel takes its own reference to the socket at `BIND_CONN`: the
/// caller may close its descriptor afterwards, and must not read or write it any more.
///
/// On failure, what was created is torn down again (best effort) and the error names the
/// step. A parameter the transport does not keep (`-ENOSYS` for a non-required
/// [`KernelParam`]) is skipped.
pub fn hand_off(
    nl: &mut IscsiNetlink,
    session: &Session,
    socket_fd: RawFd,
    target: &HandOff,
) -> Result<KernelSession, NetlinkError> {
    let create = Request::CreateSession {
        initial_cmdsn: session.cmd_sn,
        cmds_max: target.cmds_max,
        queue_depth: target.queue_depth,
    };
    let (sid, host_no) = match nl.request(&create)? {
        Reply::SessionCreated { sid, host_no } => (sid, host_no),
        reply => return Err(unexpected(&create, reply)),
    };
    let mut ks = KernelSession { host_no, sid, cid: u32::from(session.cid) };
    let mut conn_created = false;
    let result = connect(nl, session, socket_fd, target, &mut ks, &mut conn_created);
    if result.is_err() {
        if conn_created {
            let _ = nl.request(&Request::StopConn { sid, cid: ks.cid, flag: StopConnFlag::Term });
            let _ = nl.request(&Request::DestroyConn { sid, cid: ks.cid });
        }
        let _ = nl.request(&Request::DestroySession { sid });
    }
    result.map(|()| ks)
}

fn unexpected(request: &Request, reply: Reply) -> NetlinkError {
    NetlinkError::UnexpectedReply { step: Step::of(request), reply }
}

/// The steps of [`hand_off`] after the session exists.
fn connect(
    nl: &mut IscsiNetlink,
    session: &Session,
    socket_fd: RawFd,
    target: &HandOff,
    ks: &mut KernelSession,
    conn_created: &mut bool,
) -> Result<(), NetlinkError> {
    let create = Request::CreateConn { sid: ks.sid, cid: ks.cid };
    match nl.request(&create)? {
        Reply::ConnCreated { cid, .. } => ks.cid = cid,
        reply => return Err(unexpected(&create, reply)),
    }
    *conn_created = true;
    let fd = u64::try_from(socket_fd).map_err(|_| NetlinkError::Io {
        step: Step { kind: UeventType::BindConn, param: None },
        source: io::Error::new(io::ErrorKind::InvalidInput, "negative file descriptor"),
    })?;
    nl.request(&Request::BindConn {
        sid: ks.sid,
        cid: ks.cid,
        transport_eph: fd,
        is_leading: true,
    })?;
    restart(nl, session, target, ks)
}

/// The end of a hand-off, and of a recovery's re-login ([`crate::supervise`]): `SET_PARAM` for
/// every parameter of `session` on the bound connection `ks`, then `START_CONN`.
pub fn restart(
    nl: &mut IscsiNetlink,
    session: &Session,
    target: &HandOff,
    ks: &KernelSession,
) -> Result<(), NetlinkError> {
    let mut capped;
    let mut session = session;
    if let Some(most) = target.max_xmit_data_segment_length {
        capped = session.clone();
        let theirs = &mut capped.params.target_max_recv_data_segment_length;
        // Never below RFC 7143's smallest MaxRecvDataSegmentLength: with 0 the kernel sends no
        // data at all.
        *theirs = (*theirs).min(most.max(512));
        session = &capped;
    }
    let params = kernel_params(
        session,
        &target.target_name,
        &target.initiator_name,
        target.portal,
        &target.timeouts,
    );
    for p in params {
        let req = Request::SetParam { sid: ks.sid, cid: ks.cid, param: p.param, value: p.value };
        match nl.request(&req) {
            Ok(_) => {}
            Err(e) if !p.required && e.errno() == Some(-ENOSYS) => {}
            Err(e) => return Err(e),
        }
    }
    nl.request(&Request::StartConn { sid: ks.sid, cid: ks.cid })?;
    Ok(())
}

/// `ENOSYS` on Linux: what a transport answers for a parameter it does not keep.
const ENOSYS: i32 = 38;

/// Ends a kernel session: `STOP_CONN` with [`StopConnFlag::Term`], `DESTROY_CONN`,
/// `DESTROY_SESSION`. The SCSI host and its disks are removed with the session
/// ([`wait_host_gone`] waits for it).
///
/// The connection is dropped without an iSCSI Logout: the target sees the TCP connection
/// close.
pub fn log_out(nl: &mut IscsiNetlink, ks: &KernelSession) -> Result<(), NetlinkError> {
    nl.request(&Request::StopConn { sid: ks.sid, cid: ks.cid, flag: StopConnFlag::Term })?;
    nl.request(&Request::DestroyConn { sid: ks.sid, cid: ks.cid })?;
    nl.request(&Request::DestroySession { sid: ks.sid })?;
    Ok(())
}

/// Sends an iSCSI Logout Request (close the session) on the kernel's connection and waits up to
/// `timeout` for the target's Logout Response, which the kernel passes up as a
/// `RECV_PDU` event. The kernel fills in the task tag and sequence numbers. `Ok(true)` when
/// the target answered that the session is closed; `Ok(false)` when no answer came in time
/// or the target refused (the caller stops the connection either way).
pub fn send_logout(
    nl: &mut IscsiNetlink,
    ks: &KernelSession,
    timeout: Duration,
) -> Result<bool, NetlinkError> {
    use crate::netlink::uevent::Event;
    use crate::pdu::{LogoutReason, LogoutRequest, Opcode, PduBody};
    let request = LogoutRequest {
        immediate: true,
        reason: LogoutReason::CloseSession,
        itt: 0,
        cid: u16::try_from(ks.cid).unwrap_or(0),
        cmd_sn: 0,
        exp_stat_sn: 0,
    };
    let Ok(bhs) = request.emit() else {
        return Ok(false);
    };
    nl.request(&Request::SendPdu {
        sid: ks.sid,
        cid: ks.cid,
        header: *bhs.as_bytes(),
        data: Vec::new(),
    })?;
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match nl.wait_event(left) {
            Ok(Some(Event::RecvPdu { sid, pdu, .. })) if sid == ks.sid => {
                let opcode = pdu.first().map(|b| b & 0x3f);
                if opcode == Some(Opcode::LogoutResponse as u8) {
                    // Byte 2: RESPONSE, 0 = connection or session closed successfully.
                    return Ok(pdu.get(2) == Some(&0));
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(source) => {
                return Err(NetlinkError::Io {
                    step: Step::of(&Request::SendPdu {
                        sid: ks.sid,
                        cid: ks.cid,
                        header: [0; 48],
                        data: Vec::new(),
                    }),
                    source,
                });
            }
        }
    }
    Ok(false)
}

/// How often sysfs is looked at while waiting.
const POLL: Duration = Duration::from_millis(100);

/// `<sysfs>/class/scsi_host/host<host_no>`.
pub fn scsi_host_path(sysfs: &Path, host_no: u32) -> PathBuf {
    sysfs.join(format!("class/scsi_host/host{host_no}"))
}

/// Asks the kernel to scan SCSI host `host_no` (all channels, targets and LUNs: `- - -`
/// into its `scan` file), then waits up to `timeout` for its disks and returns their
/// `/dev` paths, sorted.
///
/// The disks are the block devices under
/// `host<N>/device/session*/target*/<N>:*:*:*/block/`. Once one shows up, one more poll
/// lets the other LUNs of the scan appear; a target without LUNs gives an empty list after
/// `timeout`.
pub fn scan_and_find_disks(
    sysfs: &Path,
    host_no: u32,
    timeout: Duration,
) -> io::Result<Vec<PathBuf>> {
    let host = scsi_host_path(sysfs, host_no);
    fs::write(host.join("scan"), "- - -")?;
    let deadline = Instant::now() + timeout;
    loop {
        let disks = find_disks(sysfs, host_no)?;
        let now = Instant::now();
        if !disks.is_empty() || now >= deadline {
            if !disks.is_empty() && now < deadline {
                thread::sleep(POLL.min(deadline - now));
                return find_disks(sysfs, host_no);
            }
            return Ok(disks);
        }
        thread::sleep(POLL.min(deadline - now));
    }
}

/// The entries of `dir` whose names start with `prefix`; none if `dir` is missing.
fn entries(dir: &Path, prefix: &str) -> io::Result<Vec<(PathBuf, String)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            out.push((entry.path(), name));
        }
    }
    Ok(out)
}

/// The `/dev` paths of the block devices of SCSI host `host_no` now, sorted.
pub fn find_disks(sysfs: &Path, host_no: u32) -> io::Result<Vec<PathBuf>> {
    let mut disks = Vec::new();
    for lun in scsi_devices(sysfs, host_no)? {
        for (_, name) in entries(&lun.join("block"), "")? {
            disks.push(Path::new("/dev").join(name));
        }
    }
    disks.sort();
    Ok(disks)
}

/// The sysfs folders of SCSI host `host_no`'s devices:
/// `host<N>/device/session*/target*/<N>:*:*:*`.
fn scsi_devices(sysfs: &Path, host_no: u32) -> io::Result<Vec<PathBuf>> {
    let device = scsi_host_path(sysfs, host_no).join("device");
    let lun_prefix = format!("{host_no}:");
    let mut out = Vec::new();
    for (session, _) in entries(&device, "session")? {
        for (target, _) in entries(&session, "target")? {
            out.extend(entries(&target, &lun_prefix)?.into_iter().map(|(p, _)| p));
        }
    }
    Ok(out)
}

/// Waits up to `timeout` for SCSI host `host_no` to leave sysfs (after [`log_out`]);
/// whether it did.
pub fn wait_host_gone(sysfs: &Path, host_no: u32, timeout: Duration) -> bool {
    let host = scsi_host_path(sysfs, host_no);
    let deadline = Instant::now() + timeout;
    loop {
        if !host.exists() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        thread::sleep(POLL.min(deadline - now));
    }
}

/// A kernel iSCSI session found in sysfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSession {
    /// Its numbers, for [`log_out`].
    pub session: KernelSession,
    /// The target it is logged in to (`targetname`).
    pub target_name: String,
}

/// Every kernel iSCSI session: `class/iscsi_session/session<sid>` (its `targetname`, and the
/// SCSI host in the path it links to) with its connection `class/iscsi_connection/
/// connection<sid>:<cid>`.
pub fn sessions(sysfs: &Path) -> io::Result<Vec<FoundSession>> {
    let mut out = Vec::new();
    for (path, name) in entries(&sysfs.join("class/iscsi_session"), "session")? {
        let Ok(sid) = name["session".len()..].parse::<u32>() else {
            continue;
        };
        let target_name = fs::read_to_string(path.join("targetname"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        // The link reads `.../host<N>/session<sid>/iscsi_session/session<sid>`.
        let link = fs::read_link(&path).unwrap_or_default();
        let host_no = link.components().find_map(|c| {
            c.as_os_str()
                .to_str()
                .and_then(|s| s.strip_prefix("host"))
                .and_then(|n| n.parse::<u32>().ok())
        });
        let cid = entries(&sysfs.join("class/iscsi_connection"), &format!("connection{sid}:"))?
            .into_iter()
            .find_map(|(_, n)| n.rsplit(':').next().and_then(|c| c.parse::<u32>().ok()));
        if let (Some(host_no), Some(cid)) = (host_no, cid) {
            out.push(FoundSession { session: KernelSession { host_no, sid, cid }, target_name });
        }
    }
    out.sort_by_key(|s| s.session.sid);
    Ok(out)
}

/// Removes the SCSI devices of host `host_no` (`delete` under each `<N>:*:*:*`), so the
/// kernel flushes each disk's write cache (SYNCHRONIZE CACHE) while the connection still
/// runs: call it before [`log_out`], which otherwise leaves the flush to a connection that is
/// already stopped. Returns how many were removed.
pub fn remove_scsi_devices(sysfs: &Path, host_no: u32) -> io::Result<usize> {
    let mut n = 0;
    for lun in scsi_devices(sysfs, host_no)? {
        match fs::write(lun.join("delete"), "1") {
            Ok(()) => n += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod session_lookup_tests {
    use super::*;

    #[test]
    fn sessions_are_found_with_their_host_and_connection() {
        let root = std::env::temp_dir().join(format!("iscsi-nl-sessions-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let dev = root.join("devices/platform/host7/session3/iscsi_session/session3");
        fs::create_dir_all(&dev).unwrap();
        fs::write(dev.join("targetname"), "iqn.2026-11.x:t\n").unwrap();
        fs::create_dir_all(root.join("class/iscsi_session")).unwrap();
        std::os::unix::fs::symlink(&dev, root.join("class/iscsi_session/session3")).unwrap();
        fs::create_dir_all(root.join("class/iscsi_connection/connection3:0")).unwrap();
        let found = sessions(&root).unwrap();
        assert_eq!(
            found,
            vec![FoundSession {
                session: KernelSession { host_no: 7, sid: 3, cid: 0 },
                target_name: "iqn.2026-11.x:t".into(),
            }]
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
