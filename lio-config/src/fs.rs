//! The file-system helpers: checked names, reading and writing attributes, making, listing and
//! removing folders, waiting for something to appear.
//!
//! The kernel's configfs and a plain folder standing for it (tests) differ in what a write or
//! a removal does; which of the two a handle is on is its [`Tree`], chosen when its
//! [`crate::ConfigFs`] was made, never guessed from where a path points.

use crate::{Error, Result};
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// What stands at a [`crate::ConfigFs`]'s root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tree {
    /// The kernel's configfs ([`crate::ConfigFs::system`]): it makes an object's attribute
    /// files and default groups (`attrib/`, `action/`, `lun/`, `np/`, `acls/`...) with its
    /// folder and removes them with it, refuses to make a group whose module is not loaded,
    /// and acts on what is written (a nexus dropped, a TPG disabled).
    Kernel,
    /// A plain folder standing for configfs ([`crate::ConfigFs::at`]): what the kernel would
    /// make or remove by itself is made on a write and removed with its folder here.
    Folder,
}

/// Linux's ENODEV (no `ErrorKind` of its own).
const ENODEV: i32 = 19;

impl Tree {
    /// Writes one attribute value in one `write`, appending (configfs ignores the position; a
    /// plain folder then keeps every value written, in order).
    pub(crate) fn write_attr(self, path: &Path, value: &str) -> Result<()> {
        // A plain folder lacks the groups the kernel makes with each object (`attrib/`,
        // `action/`...); on configfs they always exist and nothing is created.
        if self == Tree::Folder
            && let Some(parent) = path.parent()
        {
            fs::create_dir_all(parent).map_err(io("mkdir", parent))?;
        }
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(io("open", path))?;
        f.write_all(value.as_bytes()).map_err(io("write", path))
    }

    /// Makes a folder whose creation the kernel refuses when `module` is not loaded
    /// (`core/user_N`, `core/fileio_N`, a fabric's folder); existing is fine.
    pub(crate) fn mkdir_needing(self, dir: &Path, module: &'static str) -> Result<()> {
        mkdir_exist_ok(dir).map_err(|e| match e {
            // configfs answers ENOENT (or EINVAL / ENODEV) for a group whose module is
            // missing; anything else (EACCES, ...) is reported as it is.
            Error::Io { ref source, .. }
                if self == Tree::Kernel
                    && (matches!(
                        source.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput
                    ) || source.raw_os_error() == Some(ENODEV)) =>
            {
                Error::ModuleNotLoaded { module }
            }
            e => e,
        })
    }

    /// Removes a configfs folder; absent is fine (idempotent teardown).
    pub(crate) fn rmdir_gone_ok(self, path: &Path) -> Result<()> {
        match fs::remove_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            // In a plain folder attribute files stand where configfs has virtual ones.
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && self == Tree::Folder => {
                fs::remove_dir_all(path).map_err(io("rmdir", path))
            }
            Err(e) => Err(Error::Io { op: "rmdir", path: path.to_path_buf(), source: e }),
        }
    }

    /// `lun/`, `np/`, `acls/` are groups the kernel makes with their parent and removes with
    /// it; only a plain folder needs them removed by hand.
    pub(crate) fn remove_default_group(self, path: &Path) -> Result<()> {
        match self {
            Tree::Kernel => Ok(()),
            Tree::Folder => self.rmdir_gone_ok(path),
        }
    }
}

/// Maps an I/O error on `path` during `op` to [`Error::Io`].
pub(crate) fn io<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// Checks a name this crate puts in a configfs path (a backstore, a WWN, an IQN...): 1 to 64
/// of letters, digits, `.`, `-`, `_` and `:`, and not `.` or `..`; else
/// [`Error::InvalidName`]. Such a name is safe in any file name.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b));
    if ok { Ok(()) } else { Err(Error::InvalidName(name.to_string())) }
}

/// Reads an attribute, without its trailing newline.
pub(crate) fn read_attr(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(io("read", path)).map(|s| s.trim_end().to_string())
}

/// Makes a folder that must not exist yet ([`Error::AlreadyExists`] otherwise).
pub(crate) fn mkdir_new(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists(path.to_path_buf()))
        }
        Err(e) => Err(Error::Io { op: "mkdir", path: path.to_path_buf(), source: e }),
    }
}

/// Makes a folder; existing is fine.
pub(crate) fn mkdir_exist_ok(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Io { op: "mkdir", path: path.to_path_buf(), source: e }),
    }
}

/// The names of the folders in `path`, sorted; none if it does not exist.
pub(crate) fn subdirs(path: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io { op: "list", path: path.to_path_buf(), source: e });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("list", path))?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && let Some(name) = entry.file_name().to_str() {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// `path` with `.` and `..` resolved lexically (configfs has no symlinked folders to make that
/// wrong).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Polls `found` every 50 ms until it yields a value, for up to `timeout`; then
/// [`Error::Timeout`] naming `what`.
pub(crate) fn wait_for<T>(
    what: impl FnOnce() -> String,
    timeout: Duration,
    mut found: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(t) = found() {
            return Ok(t);
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout { what: what(), waited: start.elapsed() });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's semantics follow from the tree chosen, wherever its folder is: on the
    /// kernel's tree nothing makes the groups configfs makes itself, nor removes what it
    /// removes itself, and a refused `mkdir` names the module.
    #[test]
    fn the_tree_chosen_decides_not_the_path() {
        let dir = std::env::temp_dir().join(format!("lio-config-fs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("obj")).unwrap();
        let attr = dir.join("obj/attrib/x");

        assert!(matches!(Tree::Kernel.write_attr(&attr, "1"), Err(Error::Io { op: "open", .. })));
        Tree::Folder.write_attr(&attr, "1").unwrap();
        assert_eq!(read_attr(&attr).unwrap(), "1");

        assert!(matches!(
            Tree::Kernel.rmdir_gone_ok(&dir.join("obj")),
            Err(Error::Io { op: "rmdir", .. })
        ));
        Tree::Kernel.remove_default_group(&dir.join("obj")).unwrap();
        assert!(attr.exists());
        Tree::Folder.remove_default_group(&dir.join("obj")).unwrap();
        assert!(!dir.join("obj").exists());

        let missing_parent = dir.join("no/such");
        assert!(matches!(
            Tree::Kernel.mkdir_needing(&missing_parent, "tcm_loop"),
            Err(Error::ModuleNotLoaded { module: "tcm_loop" })
        ));
        assert!(matches!(
            Tree::Folder.mkdir_needing(&missing_parent, "tcm_loop"),
            Err(Error::Io { op: "mkdir", .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
