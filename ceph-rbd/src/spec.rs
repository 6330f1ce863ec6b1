//! Naming an image: pool, namespace, image and how to reach the cluster, parsed from what a
//! user writes. Pure: no library is loaded here.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to connect to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    conf: Option<PathBuf>,
    id: String,
    keyring: Option<PathBuf>,
    osd_op_timeout: Option<Duration>,
    connect_timeout: Duration,
    gateway: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            conf: None,
            id: "admin".into(),
            keyring: None,
            osd_op_timeout: None,
            connect_timeout: Duration::from_secs(30),
            gateway: false,
        }
    }
}

impl ClusterOptions {
    /// The Ceph config file (`None`: Ceph's own search, `$CEPH_CONF` then
    /// `/etc/ceph/ceph.conf`...).
    pub fn conf(&self) -> Option<&Path> {
        self.conf.as_deref()
    }

    /// Uses config file `path`.
    pub fn with_conf(mut self, path: impl Into<PathBuf>) -> Self {
        self.conf = Some(path.into());
        self
    }

    /// The client id, without `client.` (default `admin`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Connects as client `id` (without `client.`).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The keyring file (`None`: the config file's, or Ceph's default).
    pub fn keyring(&self) -> Option<&Path> {
        self.keyring.as_deref()
    }

    /// Reads the client's key from keyring file `path`.
    pub fn with_keyring(mut self, path: impl Into<PathBuf>) -> Self {
        self.keyring = Some(path.into());
        self
    }

    /// How long an OSD operation may take before librados fails it, as given (`None`:
    /// [`MIN_OSD_OP_TIMEOUT`] is applied). tcmu-runner's `osd_op_timeout`; a value under
    /// [`MIN_OSD_OP_TIMEOUT`] is raised to it when applied, as tcmu-runner does.
    pub fn osd_op_timeout(&self) -> Option<Duration> {
        self.osd_op_timeout
    }

    /// Fails OSD operations after `t`.
    pub fn with_osd_op_timeout(mut self, t: Duration) -> Self {
        self.osd_op_timeout = Some(t);
        self
    }

    /// How long connecting may take before it fails (default 30 s; Ceph's own is 5 minutes).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Gives up connecting after `t`.
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// The librados settings these options make, applied after the config file.
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        let mut s = vec![
            ("client_mount_timeout".into(), self.connect_timeout.as_secs().max(1).to_string()),
            ("rados_mon_op_timeout".into(), self.connect_timeout.as_secs().max(1).to_string()),
        ];
        if let Some(k) = &self.keyring {
            s.push(("keyring".into(), k.to_string_lossy().into_owned()));
        }
        // Always set: Ceph's default (0) waits for ever, holding the command as long.
        let t = self.osd_op_timeout.unwrap_or(MIN_OSD_OP_TIMEOUT).max(MIN_OSD_OP_TIMEOUT);
        s.push(("rados_osd_op_timeout".into(), t.as_secs().to_string()));
        if self.gateway {
            s.extend(GATEWAY_SETTINGS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        }
        s
    }

    /// Connects as one of several gateways of an image, whatever the config file says
    /// ([`GATEWAY_SETTINGS`]): librbd's cache off (a write acknowledged must be in the
    /// cluster, where the next gateway reads it), no cache plugin, and breaking a lock
    /// blocklists its holder (so a gateway that lost the lock can write nothing more).
    pub fn set_gateway(&mut self, on: bool) {
        self.gateway = on;
    }
}

/// The settings a gateway connects with (see [`ClusterOptions::set_gateway`]), as librbd
/// spells them. A pool or image override of any of them is refused when the image is
/// opened as a gateway (it would win over these).
/// (`rbd_blocklist_expire_seconds` 0: the cluster's default, an hour, which outlasts any
/// write a fenced gateway still holds; copy-on-read off: a read on a gateway without the lock
/// must not need it.)
pub const GATEWAY_SETTINGS: [(&str, &str); 5] = [
    ("rbd_cache", "false"),
    ("rbd_plugins", ""),
    ("rbd_blocklist_on_break_lock", "true"),
    ("rbd_blocklist_expire_seconds", "0"),
    ("rbd_clone_copy_on_read", "false"),
];

/// An image and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The pool.
    pub pool: String,
    /// The RADOS namespace in the pool, if any.
    pub namespace: Option<String>,
    /// The image's name.
    pub image: String,
    /// How to connect.
    pub cluster: ClusterOptions,
}

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// Not `POOL/IMAGE` or `POOL/NAMESPACE/IMAGE` (the name shown up to the first `;`, `,` or
    /// `@`: what follows may be a secret given the wrong way).
    #[error("{0:?}: expected POOL/IMAGE or POOL/NAMESPACE/IMAGE")]
    Name(String),
    /// An option this crate does not know.
    #[error("unknown option {0:?} (known: conf, id, keyring, osd_op_timeout)")]
    UnknownOption(String),
    /// A secret on the command line or in a configuration string.
    #[error(
        "option {0:?} would put a secret where every local user can read it (the process \
         list, configfs): give a keyring file instead (keyring=PATH)"
    )]
    Secret(String),
    /// An option without `=`, or with a value that does not parse (named by its NAME only:
    /// the value may be a secret given the wrong way).
    #[error("option {0:?}: expected NAME=VALUE with a valid value")]
    BadOption(String),
    /// The same option twice.
    #[error("option {0:?} given twice")]
    Repeated(String),
}

/// The longest name (pool, namespace, image) accepted. Ceph's own limits are smaller.
const MAX_NAME: usize = 4096;

/// A name as an error shows it: up to the first `;`, `,` or `@`.
fn shown(name: &str) -> String {
    name.split([';', ',', '@']).next().unwrap_or_default().into()
}

/// The shortest `osd_op_timeout` applied: below the time the cluster takes to notice a dead
/// OSD (heartbeat grace 20 s + interval 6 s by default), operations would fail during an
/// ordinary fail-over that a longer wait rides out. tcmu-runner raises it the same way.
pub const MIN_OSD_OP_TIMEOUT: Duration = Duration::from_secs(30);

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && !s.contains(['@', '\0', ';', ','])
        && !s.chars().any(char::is_control)
}

impl ImageSpec {
    /// Parses `POOL/[NAMESPACE/]IMAGE[@OPTIONS]`, OPTIONS being `NAME=VALUE` pairs separated
    /// by commas: `conf=PATH`, `id=CLIENT` (without `client.`), `keyring=PATH`,
    /// `osd_op_timeout=SECONDS`. What `tcmu serve rbd:...` takes.
    pub fn parse(s: &str) -> Result<ImageSpec, SpecError> {
        let (name, options) = s.split_once('@').unwrap_or((s, ""));
        let options = options.split(',').filter(|o| !o.is_empty());
        ImageSpec::build(name, options, false)
    }

    /// Parses tcmu-runner's form, the configuration of a `user:rbd` backstore after `rbd/`:
    /// `POOL/[NAMESPACE/]IMAGE` then `;NAME=VALUE` options (`osd_op_timeout`, `conf`, `id`,
    /// and `keyring`, which tcmu-runner lacks; `tcmur_cmd_time_out`, which ceph-iscsi adds for
    /// tcmu-runner itself, is accepted and left to the kernel's `cmd_time_out`). Unlike
    /// tcmu-runner, an unknown option is refused rather than ignored, and a namespace is
    /// allowed.
    pub fn parse_runner(s: &str) -> Result<ImageSpec, SpecError> {
        let mut parts = s.split(';');
        let name = parts.next().unwrap_or_default();
        ImageSpec::build(name, parts.filter(|o| !o.is_empty()), true)
    }

    /// `runner`: tcmu-runner's form, which may also carry `tcmur_cmd_time_out`.
    fn build<'a>(
        name: &str,
        options: impl Iterator<Item = &'a str>,
        runner: bool,
    ) -> Result<ImageSpec, SpecError> {
        let fields: Vec<&str> = name.split('/').collect();
        let (pool, namespace, image) = match fields.as_slice() {
            [pool, image] => (*pool, None, *image),
            [pool, ns, image] => (*pool, Some(*ns), *image),
            _ => return Err(SpecError::Name(shown(name))),
        };
        if !valid_name(pool) || !valid_name(image) || namespace.is_some_and(|n| !valid_name(n)) {
            return Err(SpecError::Name(shown(name)));
        }
        let mut cluster = ClusterOptions::default();
        let mut seen: Vec<&str> = Vec::new();
        for opt in options {
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| SpecError::BadOption("(no NAME=VALUE)".into()))?;
            if seen.contains(&key) {
                return Err(SpecError::Repeated(key.into()));
            }
            let bad = || SpecError::BadOption(shown(key));
            if value.is_empty() || value.contains('\0') {
                return Err(bad());
            }
            match key {
                "conf" => cluster.conf = Some(value.into()),
                "keyring" => cluster.keyring = Some(value.into()),
                "id" => {
                    let id = value.strip_prefix("client.").unwrap_or(value);
                    if !valid_name(id) || id.contains('/') {
                        return Err(bad());
                    }
                    cluster.id = id.into();
                }
                "osd_op_timeout" => {
                    let secs: u64 = value.parse().map_err(|_| bad())?;
                    if secs == 0 || secs > 86_400 {
                        return Err(bad());
                    }
                    cluster.osd_op_timeout = Some(Duration::from_secs(secs));
                }
                // tcmu-runner's own per-device option, which ceph-iscsi appends; it strips it
                // before its handler sees the rest. Here the kernel's cmd_time_out governs.
                "tcmur_cmd_time_out" if runner => {
                    value.parse::<u32>().map_err(|_| bad())?;
                }
                "key" | "secret" | "password" | "keyfile_contents" => {
                    return Err(SpecError::Secret(key.into()));
                }
                _ => return Err(SpecError::UnknownOption(key.into())),
            }
            seen.push(key);
        }
        Ok(ImageSpec {
            pool: pool.into(),
            namespace: namespace.map(Into::into),
            image: image.into(),
            cluster,
        })
    }

    /// `POOL/[NAMESPACE/]IMAGE`, as `rbd` names it.
    pub fn name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.pool, self.image),
            None => format!("{}/{}", self.pool, self.image),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_namespaced_names() {
        let s = ImageSpec::parse("rbd/disk1").unwrap();
        assert_eq!((s.pool.as_str(), s.namespace, s.image.as_str()), ("rbd", None, "disk1"));
        assert_eq!(s.cluster, ClusterOptions::default());
        let s = ImageSpec::parse("p/ns/img").unwrap();
        assert_eq!(s.namespace.as_deref(), Some("ns"));
        assert_eq!(s.name(), "p/ns/img");
    }

    #[test]
    fn options_of_both_forms() {
        let s = ImageSpec::parse("rbd/d@conf=/c/ceph.conf,id=tcmu,keyring=/k,osd_op_timeout=30")
            .unwrap();
        assert_eq!(s.cluster.conf(), Some(Path::new("/c/ceph.conf")));
        assert_eq!(s.cluster.id(), "tcmu");
        assert_eq!(s.cluster.keyring(), Some(Path::new("/k")));
        assert_eq!(s.cluster.osd_op_timeout(), Some(Duration::from_secs(30)));
        let r = ImageSpec::parse_runner("rbd/d;osd_op_timeout=30;conf=/c/ceph.conf;id=client.tcmu")
            .unwrap();
        assert_eq!(r.cluster.conf(), Some(Path::new("/c/ceph.conf")));
        assert_eq!(r.cluster.id(), "tcmu");
        assert_eq!(r.image, "d");
        assert!(ImageSpec::parse_runner("p/i;tcmur_cmd_time_out=30").is_ok());
        assert!(ImageSpec::parse("p/i@tcmur_cmd_time_out=30").is_err(), "runner form only");
        let settings = r.cluster.settings();
        assert!(settings.contains(&("rados_osd_op_timeout".into(), "30".into())));
        let low = ImageSpec::parse("r/i@osd_op_timeout=1").unwrap().cluster.settings();
        assert!(low.contains(&("rados_osd_op_timeout".into(), "30".into())), "raised to 30 s");
    }

    #[test]
    fn refusals() {
        for bad in ["", "rbd", "rbd/", "/img", "a/b/c/d", "rbd/img@snap", "p//i", "rbd/i\0"] {
            assert!(
                matches!(ImageSpec::parse(bad), Err(SpecError::Name(_) | SpecError::BadOption(_))),
                "{bad:?}"
            );
        }
        assert_eq!(ImageSpec::parse("r/i@key=AQB"), Err(SpecError::Secret("key".into())));
        // A secret given with the wrong separator is not echoed.
        for bad in ["rbd/disk;key=AQBsecret", "rbd/disk,key=AQBsecret", "a/b/c/d;key=AQBsecret"] {
            let e = ImageSpec::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("AQBsecret"), "{e}");
        }
        for bad in ["p/i@key=AQBsecret", "p/i;id=tcmu,key=AQBsecret", "p/i;AQBsecret"] {
            let e = ImageSpec::parse_runner(bad).unwrap_err().to_string();
            assert!(!e.contains("AQBsecret"), "{e}");
        }
        for bad in ["rbd/disk@id=tcmu;key=AQBsecret", "rbd/disk@AQBsecret"] {
            let e = ImageSpec::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("AQBsecret"), "{e}");
        }
        let default = ImageSpec::parse("r/i").unwrap().cluster.settings();
        assert!(default.contains(&("rados_osd_op_timeout".into(), "30".into())), "never unbounded");
        assert_eq!(
            ImageSpec::parse_runner("r/i;secret=x"),
            Err(SpecError::Secret("secret".into()))
        );
        assert_eq!(
            ImageSpec::parse("r/i@mon_host=x"),
            Err(SpecError::UnknownOption("mon_host".into()))
        );
        assert_eq!(ImageSpec::parse("r/i@id=a,id=b"), Err(SpecError::Repeated("id".into())));
        for bad in ["osd_op_timeout=0", "osd_op_timeout=x", "conf", "conf=", "id=a/b"] {
            assert!(
                matches!(ImageSpec::parse(&format!("r/i@{bad}")), Err(SpecError::BadOption(_))),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_input_parses_or_is_refused(s in ".{0,64}") {
            let _ = ImageSpec::parse(&s);
            let _ = ImageSpec::parse_runner(&s);
        }

        #[test]
        fn names_round_trip(pool in "[a-z0-9_.-]{1,12}", ns in proptest::option::of("[a-z0-9_-]{1,8}"), image in "[A-Za-z0-9_.-]{1,16}") {
            let name = match &ns { Some(n) => format!("{pool}/{n}/{image}"), None => format!("{pool}/{image}") };
            let s = ImageSpec::parse(&name).unwrap();
            prop_assert_eq!(s.name(), name);
        }
    }
}
