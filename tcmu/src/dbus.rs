//! The D-Bus service targetcli asks about user-backed backstores: `org.kernel.TCMUService1` on
//! the system bus, as tcmu-runner serves it.
//!
//! targetcli lists the objects under `/org/kernel/TCMUService1` with the ObjectManager's
//! `GetManagedObjects` and shows one `/backstores/user:<subtype>` per object, the subtype being
//! the object path's last element. Each object has the interface `org.kernel.TCMUService1`:
//! the property `ConfigDesc` (printed by `help create`) and the method `CheckConfig`, called by
//! every `create` before anything is written to configfs. [`DbusService::start`] serves that
//! for a list of [`DbusHandler`]s; the service answers on zbus' own thread until it is dropped.
//!
//! Owning the name needs a policy on the system bus: `dbus/org.kernel.TCMUService1.conf` in
//! this crate, installed in `/etc/dbus-1/system.d/`, lets root own it and everyone call it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use zbus::blocking::{Connection, connection};
use zbus::fdo::ObjectManager;

/// The well-known bus name targetcli calls.
pub const BUS_NAME: &str = "org.kernel.TCMUService1";
/// The ObjectManager's path; each handler is served at `<ROOT_PATH>/<subtype>`.
pub const ROOT_PATH: &str = "/org/kernel/TCMUService1";
/// The interface of each handler's object.
pub const INTERFACE: &str = "org.kernel.TCMUService1";
/// Where the policy file goes on an installed system.
pub const POLICY_PATH: &str = "/etc/dbus-1/system.d/org.kernel.TCMUService1.conf";

/// A handler's judge of configuration strings: `Ok(())` if it takes it, else why not.
pub type ConfigCheck = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// One handler (subtype) as targetcli sees it: the object
/// `/org/kernel/TCMUService1/<subtype>` with the interface `org.kernel.TCMUService1`: the
/// property `ConfigDesc` (s, const) and the method `CheckConfig(s configstr) -> (b is_valid, s
/// message)`.
///
/// `configstr` arrives as `"<subtype>/<config>"` (e.g. `"file//tmp/a.img"`); `check` is given
/// that whole string and returns `Ok(())`, answered `(true, "success")`, or `Err(reason)`,
/// answered `(false, reason)`. It runs on zbus' thread, so it should be quick (a `stat` is
/// fine); a panic in it is answered `(false, ...)` and the service goes on.
#[derive(Clone)]
pub struct DbusHandler {
    /// The last element of the object path, and targetcli's `user:<subtype>`: one or more of
    /// `[A-Za-z0-9_]`.
    pub subtype: String,
    /// The `ConfigDesc` property: what the configuration string means.
    pub description: String,
    /// Judges a configuration string (`"<subtype>/<config>"`, as the caller sent it).
    pub check: Arc<ConfigCheck>,
}

impl fmt::Debug for DbusHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbusHandler")
            .field("subtype", &self.subtype)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    /// Another connection owns the name.
    #[error(
        "org.kernel.TCMUService1 is already owned on the system bus (tcmu-runner or another tcmu runner is serving)"
    )]
    NameTaken,
    /// The bus' policy does not let us own the name.
    #[error(
        "the system bus does not allow this process to own org.kernel.TCMUService1: install \
         tcmu/dbus/org.kernel.TCMUService1.conf as {POLICY_PATH} and run as root"
    )]
    AccessDenied,
    /// Anything else: no bus at the address, a handler that cannot be served, ...
    #[error("D-Bus: {0}")]
    Bus(String),
}

/// The service: owns `org.kernel.TCMUService1` and serves an ObjectManager at
/// `/org/kernel/TCMUService1` with one object per handler under it, and nothing else there.
/// It neither replaces an owner nor lets itself be replaced. Dropping it releases the name.
pub struct DbusService {
    conn: Connection,
}

impl fmt::Debug for DbusService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbusService").field("unique_name", &self.unique_name()).finish()
    }
}

impl DbusService {
    /// Serves `handlers` on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` if set, else
    /// `/var/run/dbus/system_bus_socket`).
    pub fn start(handlers: Vec<DbusHandler>) -> Result<DbusService, DbusError> {
        check_handlers(&handlers)?;
        let builder = connection::Builder::system()
            .map_err(|e| DbusError::Bus(format!("cannot reach the system bus: {e}")))?;
        Self::serve(builder, handlers, "the system bus")
    }

    /// The same on the bus at `address` (e.g. `unix:path=/run/x/sock`; tests use a private
    /// bus).
    pub fn start_at(address: &str, handlers: Vec<DbusHandler>) -> Result<DbusService, DbusError> {
        check_handlers(&handlers)?;
        let builder = connection::Builder::address(address)
            .map_err(|e| DbusError::Bus(format!("bad bus address {address:?}: {e}")))?;
        Self::serve(builder, handlers, address)
    }

    /// Our connection's unique name on the bus (`:1.42`), the name's owner while we serve.
    pub fn unique_name(&self) -> String {
        self.conn.unique_name().map(|n| n.to_string()).unwrap_or_default()
    }

    fn serve(
        builder: connection::Builder<'_>,
        handlers: Vec<DbusHandler>,
        bus: &str,
    ) -> Result<DbusService, DbusError> {
        let serve_err = |e: zbus::Error| DbusError::Bus(format!("cannot serve {ROOT_PATH}: {e}"));
        let mut builder = builder.serve_at(ROOT_PATH, ObjectManager).map_err(serve_err)?;
        for h in handlers {
            let path = format!("{ROOT_PATH}/{}", h.subtype);
            builder = builder.serve_at(path, HandlerObject(h)).map_err(serve_err)?;
        }
        let conn = builder
            .name(BUS_NAME)
            .map_err(serve_err)?
            .allow_name_replacements(false)
            .replace_existing_names(false)
            .build()
            .map_err(|e| classify(e, bus))?;
        Ok(DbusService { conn })
    }
}

impl Drop for DbusService {
    fn drop(&mut self) {
        // Closing the connection would release it too, but later, on the bus' side: releasing
        // it here means a new service can own the name as soon as this one is gone.
        if let Err(e) = self.conn.release_name(BUS_NAME) {
            tracing::warn!("cannot release {BUS_NAME}: {e}");
        }
    }
}

/// Subtypes that make a single object path element, none twice.
fn check_handlers(handlers: &[DbusHandler]) -> Result<(), DbusError> {
    for (i, h) in handlers.iter().enumerate() {
        let s = &h.subtype;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(DbusError::Bus(format!(
                "handler subtype {s:?} cannot be a D-Bus object path element \
                 (one or more of A-Z, a-z, 0-9, _)"
            )));
        }
        if handlers[..i].iter().any(|o| o.subtype == *s) {
            return Err(DbusError::Bus(format!("handler subtype {s:?} given twice")));
        }
    }
    Ok(())
}

/// Sorts a failure to connect or to own the name.
fn classify(e: zbus::Error, bus: &str) -> DbusError {
    const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";
    match e {
        zbus::Error::NameTaken => DbusError::NameTaken,
        zbus::Error::MethodError(ref name, _, _) if name.as_str() == ACCESS_DENIED => {
            DbusError::AccessDenied
        }
        zbus::Error::FDO(ref f) if matches!(**f, zbus::fdo::Error::AccessDenied(_)) => {
            DbusError::AccessDenied
        }
        e => DbusError::Bus(format!("cannot serve {BUS_NAME} on {bus}: {e}")),
    }
}

/// A handler's object: what zbus serves at `/org/kernel/TCMUService1/<subtype>`.
struct HandlerObject(DbusHandler);

#[zbus::interface(name = "org.kernel.TCMUService1")]
impl HandlerObject {
    /// What the configuration string means.
    #[zbus(property(emits_changed_signal = "const"), name = "ConfigDesc")]
    fn config_desc(&self) -> String {
        self.0.description.clone()
    }

    /// `(true, "success")` if the handler takes `configstr`, else `(false, reason)`.
    #[zbus(name = "CheckConfig", out_args("is_valid", "message"))]
    fn check_config(&self, configstr: &str) -> (bool, String) {
        match catch_unwind(AssertUnwindSafe(|| (self.0.check)(configstr))) {
            Ok(Ok(())) => (true, "success".to_string()),
            Ok(Err(reason)) => (false, reason),
            Err(_) => {
                tracing::error!(subtype = %self.0.subtype, "CheckConfig panicked");
                (false, format!("internal error: the {} handler's check panicked", self.0.subtype))
            }
        }
    }
}
