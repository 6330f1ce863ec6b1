//! The TCP driver against a real iSCSI target: `tgtd`, the user-space target of the Linux SCSI
//! target framework (Debian package `tgt`), on 127.0.0.1.
//!
//! Every test starts its own `tgtd` in the foreground on a free port (and a control port of
//! the same number, so several runs can share the machine), configures it with `tgtadm`, and
//! kills it when done. The tests need root (tgtd's control socket lives in /var/run/tgtd) and
//! the `tgt` package, so they are ignored by default; `cargo xtask test` installs tgt and runs
//! them with:
//!
//! ```text
//! cargo test -p iscsi-nl --test tgtd -- --ignored
//! ```

use std::fs::{self, File};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use iscsi_nl::chap::Credentials;
use iscsi_nl::connect::{self, Error, LoggedIn};
use iscsi_nl::discovery::DiscoveredTarget;
use iscsi_nl::login::{LoginConfig, LoginError, StatusError};
use iscsi_nl::pdu::Digests;

const INITIATOR: &str = "iqn.2024-01.org.example:tgtd-test";
const TIMEOUT: Duration = Duration::from_secs(10);

/// The first port tried; each tgtd of a run takes the next free one.
const FIRST_PORT: u16 = 3270;
/// How many ports are tried past [`FIRST_PORT`].
const PORT_RANGE: u16 = 200;

static NEXT_PORT: AtomicU16 = AtomicU16::new(FIRST_PORT);

/// Where a program is: on `PATH`, or in the sbin directories a non-root `PATH` lacks.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The path of a tgt program, or a failure saying how to install it.
fn tgt_program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!(
            "{name} not found: these tests need the tgt user-space iSCSI target \
             (`apt-get install tgt`; `cargo xtask test` installs it)"
        )
    })
}

/// The control socket of the tgtd started with `-C port`.
fn control_socket(port: u16) -> PathBuf {
    PathBuf::from(format!("/var/run/tgtd/socket.{port}"))
}

/// A free port for the next tgtd: not listened on, and no live tgtd with that control port
/// (a socket file left by a killed one does not count).
fn free_port() -> u16 {
    loop {
        let port = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        assert!(
            port < FIRST_PORT + PORT_RANGE,
            "no free port in {FIRST_PORT}..{}",
            FIRST_PORT + PORT_RANGE
        );
        let control_live = UnixStream::connect(control_socket(port)).is_ok();
        if !control_live && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A tgtd of our own, killed (and its files removed) on drop.
struct Tgtd {
    child: Child,
    port: u16,
    dir: PathBuf,
    tgtadm: PathBuf,
}

impl Tgtd {
    /// Starts tgtd on a free port of 127.0.0.1 and waits until it answers.
    fn start() -> Tgtd {
        let tgtd = tgt_program("tgtd");
        let tgtadm = tgt_program("tgtadm");
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("iscsi-nl-tgtd-{}-{port}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = File::create(dir.join("tgtd.log")).unwrap();
        let child = Command::new(&tgtd)
            .args(["-f", "-C", &port.to_string(), "--iscsi"])
            .arg(format!("portal=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", tgtd.display()));
        let mut me = Tgtd { child, port, dir, tgtadm };
        me.wait_ready();
        me
    }

    /// Waits for the portal to accept connections and tgtadm to reach the daemon.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tgtd exited at start ({status}); is this root? its log:\n{}", self.log());
            }
            let listening = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if listening && self.try_adm(&["--mode", "target", "--op", "show"]).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tgtd did not come up on port {}; its log:\n{}",
                self.port,
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// tgtd's output so far.
    fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(self.dir.join("tgtd.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The portal, `127.0.0.1:port`.
    fn portal(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `tgtadm -C port --lld iscsi ARGS`; the error holds its output.
    fn try_adm(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.tgtadm)
            .args(["-C", &self.port.to_string(), "--lld", "iscsi"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run tgtadm: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return Ok(text);
        }
        // Passwords stay out of failure messages.
        let shown: Vec<&str> = args
            .iter()
            .zip(std::iter::once(&"").chain(args))
            .map(|(arg, before)| if *before == "--password" { "<redacted>" } else { arg })
            .collect();
        Err(format!("tgtadm {shown:?} failed ({}): {text}", out.status))
    }

    /// [`Tgtd::try_adm`], failing the test on error.
    fn adm(&self, args: &[&str]) -> String {
        self.try_adm(args).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Tgtd {
    fn drop(&mut self) {
        // tgtd ignores SIGTERM while it serves; SIGKILL it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(control_socket(self.port));
        let _ = fs::remove_file(format!("/var/run/tgtd/socket.{}.lock", self.port));
    }
}

impl Tgtd {
    /// Adds target `tid` named `name` with a 16 MiB LUN 1 backed by a sparse file, open to
    /// every initiator address.
    fn add_target(&self, tid: u32, name: &str) {
        let tid = tid.to_string();
        let store = self.dir.join(format!("lun-{tid}.img"));
        File::create(&store).and_then(|f| f.set_len(16 << 20)).unwrap();
        let target = ["--mode", "target", "--tid", &tid];
        self.adm(&[&target[..], &["--op", "new", "--targetname", name]].concat());
        self.adm(&[
            "--mode",
            "logicalunit",
            "--op",
            "new",
            "--tid",
            &tid,
            "--lun",
            "1",
            "--backing-store",
            &store.to_string_lossy(),
        ]);
        self.adm(&[&target[..], &["--op", "bind", "--initiator-address", "ALL"]].concat());
    }

    /// Creates a CHAP account and binds it to target `tid`: as the initiator's credentials,
    /// or with `outgoing` as the target's own (mutual CHAP).
    fn add_account(&self, tid: u32, creds: &Credentials, outgoing: bool) {
        let secret = String::from_utf8(creds.secret().to_vec()).unwrap();
        let user = ["--user", creds.user.as_str()];
        let account = ["--mode", "account"];
        self.adm(&[&account[..], &["--op", "new"], &user, &["--password", &secret]].concat());
        let tid = tid.to_string();
        let mut bind = [&account[..], &["--op", "bind", "--tid", &tid], &user].concat();
        if outgoing {
            bind.push("--outgoing");
        }
        self.adm(&bind);
    }
}

const DISK: &str = "iqn.2024-01.org.example:tgtd-disk";
const OTHER: &str = "iqn.2024-01.org.example:tgtd-other";

/// The initiator's CHAP credentials (secrets of 15 characters, different both ways).
fn initiator_creds() -> Credentials {
    Credentials::new("nl-initiator", "ini-secret-0123")
}

/// The target's credentials for mutual CHAP.
fn target_creds() -> Credentials {
    Credentials::new("nl-target", "tgt-secret-4567")
}

/// A login configuration to `target` with a fresh ISID.
fn config(target: &str) -> LoginConfig {
    LoginConfig::normal(INITIATOR, connect::random_isid().unwrap(), target)
}

/// A tgtd serving [`DISK`] as target 1, open to all.
fn tgtd_with_disk() -> Tgtd {
    let tgtd = Tgtd::start();
    tgtd.add_target(1, DISK);
    tgtd
}

/// A tgtd serving [`DISK`] behind CHAP with the initiator's account, and with `mutual` the
/// target's own account as well.
fn tgtd_with_chap(mutual: bool) -> Tgtd {
    let tgtd = tgtd_with_disk();
    tgtd.add_account(1, &initiator_creds(), false);
    if mutual {
        tgtd.add_account(1, &target_creds(), true);
    }
    tgtd
}

/// A login configuration to [`DISK`] answering CHAP with `chap`, and with `mutual` asking the
/// target to prove itself.
fn chap_config(chap: Credentials, mutual: Option<Credentials>) -> LoginConfig {
    let mut cfg = config(DISK);
    cfg.chap = Some(chap);
    cfg.mutual_chap = mutual;
    cfg
}

/// Whether the target refused the login as an authentication failure.
fn is_auth_failure(err: &Error) -> bool {
    matches!(err, Error::Login(LoginError::Status(StatusError::AuthenticationFailed)))
}

/// Connects to tgtd and logs in.
fn log_in(tgtd: &Tgtd, cfg: LoginConfig) -> Result<LoggedIn, Error> {
    connect::login(connect::connect(&tgtd.portal(), TIMEOUT)?, cfg)
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn discovery_lists_targets_and_portal() {
    let tgtd = tgtd_with_disk();
    tgtd.add_target(2, OTHER);
    let mut targets = connect::discover(&tgtd.portal(), INITIATOR, None, TIMEOUT).unwrap();
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    let portal = vec![("127.0.0.1".to_string(), tgtd.port, 1)];
    assert_eq!(
        targets,
        vec![
            DiscoveredTarget { name: DISK.into(), addresses: portal.clone() },
            DiscoveredTarget { name: OTHER.into(), addresses: portal },
        ]
    );
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn login_without_auth_then_logout() {
    let tgtd = tgtd_with_disk();
    let mut logged_in = log_in(&tgtd, config(DISK)).unwrap();
    let s = &logged_in.session;
    let p = &s.params;
    assert_ne!(s.tsih, 0);
    assert_eq!(p.auth_method, "None");
    assert_eq!(p.max_recv_data_segment_length, 8192);
    assert!((512..=(1 << 24) - 1).contains(&p.target_max_recv_data_segment_length), "{p:?}");
    assert!((512..=(1 << 24) - 1).contains(&p.max_burst_length), "{p:?}");
    assert!(p.first_burst_length <= p.max_burst_length, "{p:?}");
    assert_eq!(p.max_connections, 1);
    assert_eq!(p.error_recovery_level, 0);
    assert_eq!(p.target_portal_group_tag, Some(1));
    // tgtd lists the session until it is logged out.
    let sessions = || tgtd.adm(&["--mode", "target", "--op", "show"]);
    assert!(sessions().contains(INITIATOR), "{}", sessions());
    connect::logout(&mut logged_in).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sessions().contains(INITIATOR) {
        assert!(Instant::now() < deadline, "still listed:\n{}", sessions());
        thread::sleep(Duration::from_millis(50));
    }
}

/// Logs out and checks the target agreed.
fn log_out(mut logged_in: LoggedIn) {
    connect::logout(&mut logged_in).unwrap();
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn chap_one_way() {
    let tgtd = tgtd_with_chap(false);
    // The target now insists on CHAP: tgtd refuses AuthMethod=None this way.
    let err = log_in(&tgtd, config(DISK)).unwrap_err();
    assert!(is_auth_failure(&err), "{err:?}");
    let logged_in = log_in(&tgtd, chap_config(initiator_creds(), None)).unwrap();
    assert_eq!(logged_in.session.params.auth_method, "CHAP");
    log_out(logged_in);
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn chap_mutual() {
    let tgtd = tgtd_with_chap(true);
    let logged_in = log_in(&tgtd, chap_config(initiator_creds(), Some(target_creds()))).unwrap();
    assert_eq!(logged_in.session.params.auth_method, "CHAP");
    log_out(logged_in);
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn mutual_chap_with_the_wrong_target_secret_fails() {
    let tgtd = tgtd_with_chap(true);
    let wrong = Credentials::new("nl-target", "not-the-secret!");
    let err = log_in(&tgtd, chap_config(initiator_creds(), Some(wrong))).unwrap_err();
    assert!(matches!(err, Error::Login(LoginError::Chap(_))), "{err:?}");
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn wrong_secret_fails_cleanly() {
    let tgtd = tgtd_with_chap(false);
    let wrong = Credentials::new("nl-initiator", "wrong-secret-99");
    let err = log_in(&tgtd, chap_config(wrong, None)).unwrap_err();
    assert!(is_auth_failure(&err), "{err:?}");
    let message = err.to_string();
    assert_eq!(message, "login failed: authentication failed");
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn unknown_target_is_not_found() {
    let tgtd = tgtd_with_disk();
    let err = log_in(&tgtd, config("iqn.2024-01.org.example:no-such-disk")).unwrap_err();
    assert!(matches!(err, Error::Login(LoginError::Status(StatusError::NotFound))), "{err:?}");
    assert_eq!(err.to_string(), "login failed: target not found");
    // The target still serves the others.
    log_out(log_in(&tgtd, config(DISK)).unwrap());
}

#[test]
#[ignore = "needs tgtd: cargo xtask test installs tgt and runs these"]
fn crc32c_digests_then_logout() {
    let tgtd = tgtd_with_disk();
    // tgtd answers None to digest offers (even to CRC32C alone) unless the target is set to
    // CRC32C.
    for key in ["HeaderDigest", "DataDigest"] {
        let target = ["--mode", "target", "--op", "update", "--tid", "1"];
        tgtd.adm(&[&target[..], &["--name", key, "--value", "CRC32C"]].concat());
    }
    let mut cfg = config(DISK);
    cfg.header_digest = "CRC32C,None".into();
    cfg.data_digest = "CRC32C,None".into();
    let logged_in = log_in(&tgtd, cfg).unwrap();
    // The logout goes with digests both ways.
    assert_eq!(logged_in.session.digests, Digests::CRC32C);
    log_out(logged_in);
}

/// Not ignored: without tgt the tests fail saying what to install.
#[test]
#[should_panic(expected = "apt-get install tgt")]
fn a_missing_program_says_what_to_install() {
    tgt_program("tgtd-that-is-not-installed");
}
