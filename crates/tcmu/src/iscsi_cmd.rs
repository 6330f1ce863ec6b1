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
    },
    /// End the kernel's sessions to TARGET-IQN (or every session with --all); their disks go.
    Logout {
        /// The target's IQN.
        target: Option<String>,
        /// Every iSCSI session on this host.
        #[arg(long, conflicts_with = "target")]
        all: bool,
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

fn secret(file: &Option<PathBuf>, env: &str, what: &str) -> Result<String, String> {
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
        } => login(&url, &auth, queue_depth, scheduler.as_deref()),
        IscsiCmd::Logout { target, all } => logout(target.as_deref(), all),
    }
}

fn login(
    url: &str,
    auth: &Auth,
    queue_depth: Option<u16>,
    scheduler: Option<&str>,
) -> Result<(), String> {
    let (portal, target, lun) = parse_url(url)?;
    let initiator = auth.initiator_name();
    let sysfs = Path::new("/sys");
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
    let disks = kernel::scan_and_find_disks(sysfs, ks.host_no, auth.timeout())
        .map_err(|e| format!("scanning SCSI host {}: {e}", ks.host_no))?;
    let want = format!(":{lun}");
    let disk = disks
        .iter()
        .find(|d| lun_of(sysfs, ks.host_no, d).as_deref() == Some(&*want));
    // The kernel reports a failing connection as an event: say so rather than print a disk
    // that is already going away.
    for event in nl.events() {
        if let iscsi_nl::netlink::uevent::Event::ConnError { sid, cid, error } = event {
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
            tune(d, queue_depth, scheduler)?;
            println!("{}", d.display());
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

fn logout(target: Option<&str>, all: bool) -> Result<(), String> {
    let sysfs = Path::new("/sys");
    let found = kernel::sessions(sysfs).map_err(|e| e.to_string())?;
    let chosen: Vec<_> = found
        .iter()
        .filter(|s| all || Some(s.target_name.as_str()) == target)
        .collect();
    if chosen.is_empty() {
        return Err(match target {
            Some(t) => format!("no iSCSI session to {t}"),
            None if all => "no iSCSI sessions".into(),
            None => "name a target, or --all".into(),
        });
    }
    let handle = kernel::transport_handle(sysfs, "tcp")
        .map_err(|e| format!("the kernel's iSCSI TCP transport is missing: {e}"))?;
    let mut nl = IscsiNetlink::open(handle, Duration::from_secs(15))
        .map_err(|e| format!("cannot open NETLINK_ISCSI: {e}"))?;
    for s in chosen {
        // The disks go first, flushing their caches over the live connection.
        kernel::remove_scsi_devices(sysfs, s.session.host_no)
            .map_err(|e| format!("removing the disks of {}: {e}", s.target_name))?;
        kernel::log_out(&mut nl, &s.session)
            .map_err(|e| format!("logging out of {}: {e}", s.target_name))?;
        if !kernel::wait_host_gone(sysfs, s.session.host_no, Duration::from_secs(30)) {
            return Err(format!(
                "session {} to {} ended but SCSI host {} is still there",
                s.session.sid, s.target_name, s.session.host_no
            ));
        }
        println!(
            "logged out of {} (session {})",
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
