//! `tcmu::dbus` on a private dbus-daemon configured like Debian's system bus (nobody may own a
//! name or call a method unless a policy file says so), with our policy file in its
//! `system.d`; checked the way targetcli looks: GetManagedObjects, ConfigDesc, CheckConfig.
#![cfg(feature = "dbus")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tcmu::dbus::{BUS_NAME, DbusError, DbusHandler, DbusService, INTERFACE, ROOT_PATH};
use zbus::blocking::fdo::{DBusProxy, ObjectManagerProxy};
use zbus::blocking::{Connection, Proxy, connection};
use zbus::fdo::RequestNameFlags;

/// Our policy file, as installed into /etc/dbus-1/system.d/.
const POLICY: &str = include_str!("../dbus/org.kernel.TCMUService1.conf");

/// A dbus-daemon on a socket in a temporary folder; killed and removed on drop.
struct Bus {
    daemon: Child,
    dir: PathBuf,
    address: String,
}

impl Bus {
    /// Starts the daemon; with `policy`, our policy file is in its `system.d`.
    fn start(policy: bool) -> Bus {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tcmu-dbus-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let system_d = dir.join("system.d");
        std::fs::create_dir_all(&system_d).unwrap();
        if policy {
            std::fs::write(system_d.join("org.kernel.TCMUService1.conf"), policy_for_us()).unwrap();
        }
        let config = dir.join("system.conf");
        let log = dir.join("dbus-daemon.log");
        std::fs::write(&config, bus_config(&dir.join("sock"), &system_d)).unwrap();
        let mut daemon = match Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
        {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "these tests need the dbus-daemon program: install the `dbus-daemon` package \
                 (apt-get install dbus-daemon)"
            ),
            Err(e) => panic!("cannot run dbus-daemon: {e}"),
        };
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().to_string();
        if address.is_empty() {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("dbus-daemon printed no address for {config:?}; it said: {said}");
        }
        Bus { daemon, dir, address }
    }

    /// A client connection, like targetcli's; a call unanswered for 10 s fails.
    fn client(&self) -> Connection {
        connection::Builder::address(self.address.as_str())
            .unwrap()
            .method_timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// Who owns `org.kernel.TCMUService1`, if anyone.
    fn owner(&self) -> Option<String> {
        let conn = self.client();
        let bus = DBusProxy::new(&conn).unwrap();
        bus.get_name_owner(BUS_NAME.try_into().unwrap()).ok().map(|o| o.to_string())
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Our policy file; its `user="root"` becomes our uid when the tests do not run as root.
fn policy_for_us() -> String {
    // The effective uid: the second number of /proc/self/status' `Uid:` line.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap();
    let uid = uids.split_whitespace().nth(1).unwrap();
    if uid == "0" {
        POLICY.to_string()
    } else {
        assert!(POLICY.contains("user=\"root\""));
        POLICY.replace("user=\"root\"", &format!("user=\"{uid}\""))
    }
}

/// A system bus with Debian's default policy, listening on `sock`, including `system_d`.
fn bus_config(sock: &Path, system_d: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path={sock}</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>{system_d}</includedir>
</busconfig>
"#,
        sock = sock.display(),
        system_d = system_d.display()
    )
}

/// The configuration strings a handler was asked about.
type Seen = Arc<Mutex<Vec<String>>>;

/// A handler that takes configurations whose part after `<subtype>/` starts with `/`, and
/// records every string it is given.
fn handler(subtype: &str, description: &str) -> (DbusHandler, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let prefix = format!("{subtype}/");
    let check = move |config: &str| {
        log.lock().unwrap().push(config.to_string());
        match config.strip_prefix(&prefix) {
            Some(path) if path.starts_with('/') => Ok(()),
            _ => Err(format!("not an absolute path: {config:?}")),
        }
    };
    let h = DbusHandler {
        subtype: subtype.into(),
        description: description.into(),
        check: Arc::new(check),
    };
    (h, seen)
}

fn check_config(conn: &Connection, subtype: &str, config: &str) -> (bool, String) {
    let proxy = Proxy::new(conn, BUS_NAME, format!("{ROOT_PATH}/{subtype}"), INTERFACE).unwrap();
    proxy.call("CheckConfig", &(config,)).unwrap()
}

#[test]
fn get_managed_objects_lists_exactly_the_handlers_with_their_config_desc() {
    let bus = Bus::start(true);
    let (file, _) = handler("file", "The path to the file to use as a backstore.");
    let (qcow, _) = handler("qcow", "A qcow2 image");
    let _service = DbusService::start_at(&bus.address, vec![file, qcow]).unwrap();

    let conn = bus.client();
    let om = ObjectManagerProxy::builder(&conn)
        .destination(BUS_NAME)
        .unwrap()
        .path(ROOT_PATH)
        .unwrap()
        .build()
        .unwrap();
    let objects = om.get_managed_objects().unwrap();
    let mut found = BTreeMap::new();
    for (path, interfaces) in &objects {
        let names: Vec<&str> = interfaces.keys().map(|i| i.as_str()).collect();
        assert_eq!(names, [INTERFACE], "interfaces of {path}");
        let props = &interfaces.values().next().unwrap();
        assert_eq!(props.len(), 1, "properties of {path}: {props:?}");
        let desc = String::try_from(props["ConfigDesc"].try_clone().unwrap()).unwrap();
        found.insert(path.to_string(), desc);
    }
    let expected = BTreeMap::from([
        (format!("{ROOT_PATH}/file"), "The path to the file to use as a backstore.".to_string()),
        (format!("{ROOT_PATH}/qcow"), "A qcow2 image".to_string()),
    ]);
    assert_eq!(found, expected);

    // Properties.Get, as GDBus's proxy does, says the same.
    let proxy = Proxy::new(&conn, BUS_NAME, format!("{ROOT_PATH}/qcow"), INTERFACE).unwrap();
    assert_eq!(proxy.get_property::<String>("ConfigDesc").unwrap(), "A qcow2 image");
}

#[test]
fn check_config_answers_as_the_checker_says_with_the_whole_string() {
    let bus = Bus::start(true);
    let (file, file_seen) = handler("file", "a path");
    let (other, other_seen) = handler("other", "a path too");
    let boom = DbusHandler {
        subtype: "boom".into(),
        description: String::new(),
        check: Arc::new(|_: &str| panic!("checker bug")),
    };
    let _service = DbusService::start_at(&bus.address, vec![file, other, boom]).unwrap();
    let conn = bus.client();

    assert_eq!(check_config(&conn, "file", "file//tmp/a.img"), (true, "success".to_string()));
    assert_eq!(
        check_config(&conn, "file", "file/tmp/a.img"),
        (false, "not an absolute path: \"file/tmp/a.img\"".to_string())
    );
    assert_eq!(
        check_config(&conn, "other", "other/relative"),
        (false, "not an absolute path: \"other/relative\"".to_string())
    );
    assert_eq!(*file_seen.lock().unwrap(), ["file//tmp/a.img", "file/tmp/a.img"]);
    assert_eq!(*other_seen.lock().unwrap(), ["other/relative"]);

    // A checker that panics is a refusal, and the service goes on answering.
    let (ok, message) = check_config(&conn, "boom", "boom//x");
    assert!(!ok);
    assert!(message.contains("panicked"), "{message}");
    assert_eq!(check_config(&conn, "file", "file//b"), (true, "success".to_string()));
}

#[test]
fn a_second_service_finds_the_name_taken_and_the_first_keeps_it() {
    let bus = Bus::start(true);
    let (file, seen) = handler("file", "a path");
    let first = DbusService::start_at(&bus.address, vec![file]).unwrap();
    assert_eq!(bus.owner().as_deref(), Some(first.unique_name().as_str()));

    let (second_file, _) = handler("file", "a path");
    let err = DbusService::start_at(&bus.address, vec![second_file]).unwrap_err();
    assert!(matches!(err, DbusError::NameTaken), "{err:?}");
    assert!(err.to_string().contains("org.kernel.TCMUService1 is already owned"), "{err}");

    assert_eq!(bus.owner().as_deref(), Some(first.unique_name().as_str()));
    assert_eq!(check_config(&bus.client(), "file", "file//a"), (true, "success".to_string()));
    assert_eq!(*seen.lock().unwrap(), ["file//a"]);

    // Nor can anyone take it from us by asking to replace the owner.
    let rival = bus.client();
    let taken = rival.request_name_with_flags(
        BUS_NAME,
        RequestNameFlags::ReplaceExisting | RequestNameFlags::DoNotQueue,
    );
    assert!(taken.is_err(), "{taken:?}");
    assert_eq!(bus.owner().as_deref(), Some(first.unique_name().as_str()));
    drop(rival);

    // Dropping the service releases the name: another can take it at once.
    drop(first);
    assert_eq!(bus.owner(), None);
    let (third_file, _) = handler("file", "a path");
    let third = DbusService::start_at(&bus.address, vec![third_file]).unwrap();
    assert_eq!(bus.owner().as_deref(), Some(third.unique_name().as_str()));
}

#[test]
fn an_owner_that_allows_replacement_is_not_replaced() {
    let bus = Bus::start(true);
    let holder = bus.client();
    holder
        .request_name_with_flags(
            BUS_NAME,
            RequestNameFlags::AllowReplacement | RequestNameFlags::DoNotQueue,
        )
        .unwrap();
    let holder_name = holder.unique_name().unwrap().to_string();
    let (file, _) = handler("file", "a path");
    let err = DbusService::start_at(&bus.address, vec![file]).unwrap_err();
    assert!(matches!(err, DbusError::NameTaken), "{err:?}");
    assert_eq!(bus.owner(), Some(holder_name));
}

#[test]
fn without_the_policy_file_owning_the_name_is_denied() {
    let bus = Bus::start(false);
    let (file, _) = handler("file", "a path");
    let err = DbusService::start_at(&bus.address, vec![file]).unwrap_err();
    assert!(matches!(err, DbusError::AccessDenied), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("/etc/dbus-1/system.d/org.kernel.TCMUService1.conf"), "{text}");
    assert_eq!(bus.owner(), None);
}

#[test]
fn bad_subtypes_and_addresses_are_clear_errors() {
    for subtype in ["", "a/b", "a-b", "../x"] {
        let (h, _) = handler(subtype, "x");
        // Refused before the address is even parsed.
        let err = DbusService::start_at("unix:path=/nonexistent", vec![h]).unwrap_err();
        assert!(
            matches!(&err, DbusError::Bus(m) if m.contains("object path element")),
            "{subtype:?}: {err:?}"
        );
    }
    let (a, _) = handler("file", "x");
    let (b, _) = handler("file", "y");
    let err = DbusService::start_at("unix:path=/nonexistent", vec![a, b]).unwrap_err();
    assert!(matches!(&err, DbusError::Bus(m) if m.contains("twice")), "{err:?}");

    let (h, _) = handler("file", "x");
    let err = DbusService::start_at("unix:path=/nonexistent/sock", vec![h]).unwrap_err();
    assert!(matches!(&err, DbusError::Bus(m) if m.contains("/nonexistent/sock")), "{err:?}");
    let (h, _) = handler("file", "x");
    let err = DbusService::start_at("not an address", vec![h]).unwrap_err();
    assert!(matches!(&err, DbusError::Bus(m) if m.contains("bad bus address")), "{err:?}");
}
