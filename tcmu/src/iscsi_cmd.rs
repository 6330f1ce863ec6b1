//! `tcmu iscsi`: discovery, login (handing the session to the kernel) and logout, with the
//! `iscsi-nl` library. Secrets come from the environment or a file, never the command line.

use clap::Subcommand;
use iscsi_nl::chap::Credentials;
use iscsi_nl::connect::{self, LoggedIn};
use iscsi_nl::kernel::{self, HandOff};
use iscsi_nl::login::LoginConfig;
use iscsi_nl::netlink::socket::IscsiNetlink;
use std::net::ToSocketAddrs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Nothing reconnects afterwards: if the connection fails, I/O fails after the kernel's
    /// recovery time-out (120 s); log out and in again.
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
    },
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

/// A secret from a file's first line, else from the environment variable `env`; `what` names
/// it in the error.
pub(crate) fn secret(file: &Option<PathBuf>, env: &str, what: &str) -> Result<String, String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_string());
    }
    std::env::var(env).map_err(|_| format!("{what}: set ${env} or pass the secret's file"))
}

impl Auth {
    fn initiator_name(&self) -> String {
        if let Some(n) = &self.initiator {
            return n.clone();
        }
        let from_file = std::fs::read_to_string("/etc/iscsi/initiatorname.iscsi")
            .ok()
            .and_then(|t| {
                t.lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .find_map(|l| l.trim().strip_prefix("InitiatorName=").map(str::to_string))
            });
        from_file.unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_lowercase())
                .unwrap_or_else(|_| "localhost".into());
            let host: String = host
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("iqn.2026-11.rs.tcmu:{host}")
        })
    }

    fn credentials(&self) -> Result<(Option<Credentials>, Option<Credentials>), String> {
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
                secret(
                    &self.mutual_secret_file,
                    MUTUAL_SECRET_ENV,
                    "mutual CHAP secret",
                )?,
            )),
            None => None,
        };
        Ok((Some(ours), mutual))
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }
}

/// `iscsi://HOST[:PORT]/IQN/LUN` as (portal, target, LUN).
fn parse_url(url: &str) -> Result<(String, String, u64), String> {
    let bad = || format!("{url:?} is not iscsi://HOST[:PORT]/TARGET-IQN/LUN");
    let rest = url.strip_prefix("iscsi://").ok_or_else(bad)?;
    let (portal, rest) = rest.split_once('/').ok_or_else(bad)?;
    let (target, lun) = rest.rsplit_once('/').ok_or_else(bad)?;
    let lun = lun.parse::<u64>().map_err(|_| bad())?;
    if portal.is_empty() || target.is_empty() || target.contains('/') {
        return Err(bad());
    }
    Ok((portal.to_string(), target.to_string(), lun))
}

/// Runs one `tcmu iscsi` command.
pub fn run(cmd: IscsiCmd) -> Result<(), String> {
    match cmd {
        IscsiCmd::Discover { portal, auth } => {
            let (chap, _) = auth.credentials()?;
            let targets = connect::discover(&portal, &auth.initiator_name(), chap, auth.timeout())
                .map_err(|e| format!("{portal}: {e}"))?;
            for t in &targets {
                if t.addresses.is_empty() {
                    println!("{portal} {}", t.name);
                }
                for (host, port, tpgt) in &t.addresses {
                    let host = if host.contains(':') {
                        format!("[{host}]")
                    } else {
                        host.clone()
                    };
                    println!("{host}:{port},{tpgt} {}", t.name);
                }
            }
            Ok(())
        }
        IscsiCmd::Login {
            url,
            auth,
            queue_depth,
            scheduler,
            force,
        } => login(&url, &auth, queue_depth, scheduler.as_deref(), force),
        IscsiCmd::Logout { target, all, force } => logout(target.as_deref(), all, force),
    }
}

fn login(
    url: &str,
    auth: &Auth,
    queue_depth: Option<u16>,
    scheduler: Option<&str>,
    force: bool,
) -> Result<(), String> {
    let (portal, target, lun) = parse_url(url)?;
    let initiator = auth.initiator_name();
    let sysfs = Path::new("/sys");
    let existing = kernel::sessions(sysfs).map_err(|e| e.to_string())?;
    if let Some(s) = existing.iter().find(|s| s.target_name == target)
        && !force
    {
        return Err(format!(
            "already logged in to {target} (session {}); a second session gives a second disk \
             for the same LUN (--force if you mean it)",
            s.session.sid
        ));
    }
    // Check the kernel side first, so a missing module costs no login.
    let handle = kernel::transport_handle(sysfs, "tcp").map_err(|e| {
        format!("the kernel's iSCSI TCP transport is missing ({e}): run `modprobe iscsi_tcp`")
    })?;
    let mut nl = IscsiNetlink::open(handle, auth.timeout())
        .map_err(|e| format!("cannot open NETLINK_ISCSI: {e}"))?;
    let (chap, mutual) = auth.credentials()?;
    let isid = connect::random_isid().map_err(|e| e.to_string())?;
    let mut cfg = LoginConfig::normal(initiator.clone(), isid, target.clone());
    cfg.chap = chap;
    cfg.mutual_chap = mutual;
    let stream = connect::connect(&portal, auth.timeout()).map_err(|e| format!("{portal}: {e}"))?;
    let LoggedIn { stream, session } =
        connect::login(stream, cfg).map_err(|e| format!("{url}: {e}"))?;
    let peer = stream
        .peer_addr()
        .or_else(|_| {
            portal
                .to_socket_addrs()
                .and_then(|mut a| a.next().ok_or_else(|| std::io::Error::other("no address")))
        })
        .map_err(|e| e.to_string())?;
    let mut hand_off = HandOff::new(target.clone(), initiator, peer);
    if let Some(depth) = queue_depth {
        hand_off.queue_depth = depth;
    }
    let ks = kernel::hand_off(&mut nl, &session, stream.as_raw_fd(), &hand_off)
        .map_err(|e| format!("handing the session to the kernel: {e}"))?;
    // The kernel holds its own reference to the socket now.
    drop(stream);
    remember(ks.sid, &target);
    let after = |what: String| {
        format!(
            "{what} (session {} is up: `tcmu iscsi logout {target}` ends it)",
            ks.sid
        )
    };
    kernel::scan_and_find_disks(sysfs, ks.host_no, auth.timeout())
        .map_err(|e| after(format!("scanning SCSI host {}: {e}", ks.host_no)))?;
    // The LUN asked for may be probed after others: wait for it, within the time-out.
    let want = format!(":{lun}");
    let deadline = std::time::Instant::now() + auth.timeout();
    let (disk, disks) = loop {
        let disks = kernel::find_disks(sysfs, ks.host_no).map_err(|e| after(e.to_string()))?;
        let found = disks
            .iter()
            .find(|d| lun_of(sysfs, ks.host_no, d).as_deref() == Some(&*want))
            .cloned();
        if found.is_some() || std::time::Instant::now() >= deadline {
            break (found, disks);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let disk = disk.as_ref();
    // The kernel reports a failing connection as an event: say so rather than print a disk
    // that is already going away.
    for event in nl.events() {
        if let iscsi_nl::netlink::uevent::Event::ConnError { sid, cid, error } = event
            && sid == ks.sid
        {
            let name = iscsi_nl::netlink::codes::IscsiErr::from_code(error)
                .map(|e| e.c_name().to_string())
                .unwrap_or_else(|| format!("error {error}"));
            return Err(format!(
                "the kernel reports connection {sid}:{cid} failed ({name}); \
                 `tcmu iscsi logout {target}` ends the session"
            ));
        }
    }
    match disk {
        Some(d) => {
            println!("{}", d.display());
            if let Err(e) = tune(d, queue_depth, scheduler) {
                tracing::warn!("{e}");
            }
            Ok(())
        }
        None => Err(format!(
            "logged in to {target} (session {}), but LUN {lun} has no disk; found: {disks:?}. \
             `tcmu iscsi logout {target}` ends the session",
            ks.sid
        )),
    }
}

/// Sets the disk's queue depth and I/O scheduler through sysfs.
fn tune(disk: &Path, queue_depth: Option<u16>, scheduler: Option<&str>) -> Result<(), String> {
    let Some(name) = disk.file_name() else {
        return Ok(());
    };
    let block = Path::new("/sys/block").join(name);
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

/// The `:LUN` ending of the SCSI address of `disk` (a `/dev/sdX` under SCSI host `host_no`).
fn lun_of(sysfs: &Path, host_no: u32, disk: &Path) -> Option<String> {
    let name = disk.file_name()?.to_str()?;
    let dev = std::fs::read_link(sysfs.join("class/block").join(name).join("device")).ok()?;
    let addr = dev.file_name()?.to_str()?.to_string();
    addr.starts_with(&format!("{host_no}:"))
        .then(|| addr.rsplit_once(':').map(|(_, l)| format!(":{l}")))
        .flatten()
}

/// Where `tcmu iscsi login` notes the sessions it made (one empty file per session, named
/// `session<SID>`, holding the target's name), so logout leaves other initiators' alone.
const STATE_DIR: &str = "/run/tcmu-rs/iscsi";

fn remember(sid: u32, target: &str) {
    let dir = Path::new(STATE_DIR);
    let r = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join(format!("session{sid}")), target));
    if let Err(e) = r {
        tracing::warn!("cannot note session {sid} in {STATE_DIR}: {e}");
    }
}

fn made_by_us(sid: u32, target: &str) -> bool {
    std::fs::read_to_string(Path::new(STATE_DIR).join(format!("session{sid}")))
        .is_ok_and(|t| t == target)
}

fn forget(sid: u32) {
    let _ = std::fs::remove_file(Path::new(STATE_DIR).join(format!("session{sid}")));
}

/// Why a disk cannot go now: mounted (it or a partition) or held by another block device.
fn busy(sysfs: &Path, disk: &Path) -> Option<String> {
    let name = disk.file_name()?.to_str()?;
    let block = sysfs.join("block").join(name);
    let holders = std::fs::read_dir(block.join("holders"))
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    if holders > 0 {
        return Some(format!(
            "{} is held by another block device (LVM, md, dm...)",
            disk.display()
        ));
    }
    let mut numbers = vec![
        std::fs::read_to_string(block.join("dev"))
            .ok()?
            .trim()
            .to_string(),
    ];
    for part in std::fs::read_dir(&block).into_iter().flatten().flatten() {
        if part.file_name().to_string_lossy().starts_with(name)
            && let Ok(dev) = std::fs::read_to_string(part.path().join("dev"))
        {
            numbers.push(dev.trim().to_string());
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mounts
        .lines()
        .find(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|n| numbers.iter().any(|m| m == n))
        })
        .map(|l| {
            let at = l.split_whitespace().nth(4).unwrap_or("?");
            format!("{} is mounted on {at}: unmount it first", disk.display())
        })
}

fn logout(target: Option<&str>, all: bool, force: bool) -> Result<(), String> {
    let sysfs = Path::new("/sys");
    let found = kernel::sessions(sysfs).map_err(|e| e.to_string())?;
    let chosen: Vec<_> = found
        .iter()
        .filter(|s| all || Some(s.target_name.as_str()) == target)
        .filter(|s| force || made_by_us(s.session.sid, &s.target_name))
        .collect();
    if chosen.is_empty() {
        let others = found
            .iter()
            .filter(|s| all || Some(s.target_name.as_str()) == target)
            .count();
        return Err(match (target, others) {
            (_, n) if n > 0 => format!(
                "{n} session(s) match, but `tcmu iscsi login` did not make them (iscsiadm's?); \
                 --force to end them anyway"
            ),
            (Some(t), _) => format!("no iSCSI session to {t}"),
            (None, _) if all => "no iSCSI sessions made by tcmu".into(),
            (None, _) => "name a target, or --all".into(),
        });
    }
    if !force {
        for s in &chosen {
            let disks = kernel::find_disks(sysfs, s.session.host_no).map_err(|e| e.to_string())?;
            if let Some(why) = disks.iter().find_map(|d| busy(sysfs, d)) {
                return Err(format!("not logging out of {}: {why}", s.target_name));
            }
        }
    }
    let handle = kernel::transport_handle(sysfs, "tcp")
        .map_err(|e| format!("the kernel's iSCSI TCP transport is missing: {e}"))?;
    let mut nl = IscsiNetlink::open(handle, Duration::from_secs(15))
        .map_err(|e| format!("cannot open NETLINK_ISCSI: {e}"))?;
    for s in chosen {
        // The disks go first, flushing their caches over the live connection.
        kernel::remove_scsi_devices(sysfs, s.session.host_no)
            .map_err(|e| format!("removing the disks of {}: {e}", s.target_name))?;
        // An iSCSI Logout through the kernel's connection, so the target closes the session
        // itself; then the connection is stopped either way.
        let acknowledged = kernel::send_logout(&mut nl, &s.session, Duration::from_secs(5))
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
        kernel::log_out(&mut nl, &s.session)
            .map_err(|e| format!("logging out of {}: {e}", s.target_name))?;
        forget(s.session.sid);
        if !kernel::wait_host_gone(sysfs, s.session.host_no, Duration::from_secs(30)) {
            return Err(format!(
                "session {} to {} ended but SCSI host {} is still there",
                s.session.sid, s.target_name, s.session.host_no
            ));
        }
        let ack = if acknowledged {
            ", the target acknowledged"
        } else {
            ""
        };
        println!(
            "logged out of {} (session {}{ack})",
            s.target_name, s.session.sid
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("iscsi://127.0.0.1:3261/iqn.2026-11.x:t/2").unwrap(),
            ("127.0.0.1:3261".into(), "iqn.2026-11.x:t".into(), 2)
        );
        assert_eq!(
            parse_url("iscsi://[::1]/iqn.x/0").unwrap(),
            ("[::1]".into(), "iqn.x".into(), 0)
        );
        for bad in [
            "http://h/t/0",
            "iscsi://h/t",
            "iscsi://h/t/x",
            "iscsi:///t/0",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
