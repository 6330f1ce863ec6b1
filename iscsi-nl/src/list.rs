//! The kernel's iSCSI sessions as `tcmu iscsi list` shows them: target, portal, disks, state
//! and the negotiated parameters, read from sysfs (`class/iscsi_session`,
//! `class/iscsi_connection`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::attach::made_by_us;
#[cfg(test)]
use crate::attach::state_file;
use crate::kernel::{self, KernelSession};

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    /// Its numbers.
    pub session: KernelSession,
    /// The target (`targetname`).
    pub target: String,
    /// The portal, `address:port` (`persistent_address`, `persistent_port`).
    pub portal: String,
    /// The session's state (`LOGGED_IN`, `FAILED`, `FREE`).
    pub state: String,
    /// Its disks.
    pub disks: Vec<PathBuf>,
    /// Whether `tcmu iscsi login` made it (noted in the state directory).
    pub ours: bool,
    /// The negotiated parameters and the kernel's timers, by their RFC 7143 or iscsid names,
    /// in a fixed order; those the kernel does not show are left out.
    pub params: Vec<(&'static str, String)>,
}

/// What is shown, and where sysfs keeps it: (name, `true` for the connection's directory,
/// file).
const SHOWN: &[(&str, bool, &str)] = &[
    ("HeaderDigest", true, "header_digest"),
    ("DataDigest", true, "data_digest"),
    ("MaxRecvDataSegmentLength", true, "max_recv_dlength"),
    ("MaxXmitDataSegmentLength", true, "max_xmit_dlength"),
    ("FirstBurstLength", false, "first_burst_len"),
    ("MaxBurstLength", false, "max_burst_len"),
    ("InitialR2T", false, "initial_r2t"),
    ("ImmediateData", false, "immediate_data"),
    ("DataPDUInOrder", false, "data_pdu_in_order"),
    ("DataSequenceInOrder", false, "data_seq_in_order"),
    ("MaxOutstandingR2T", false, "max_outstanding_r2t"),
    ("ErrorRecoveryLevel", false, "erl"),
    ("replacement_timeout", false, "recovery_tmo"),
    ("noop_out_interval", true, "recv_tmo"),
    ("noop_out_timeout", true, "ping_tmo"),
];

/// Every kernel iSCSI session (ours, noted in `state_dir`, and others'), by session number.
pub fn list_sessions(sysfs: &Path, state_dir: &Path) -> io::Result<Vec<ListedSession>> {
    let mut out = Vec::new();
    for found in kernel::sessions(sysfs)? {
        let ks = found.session;
        let sess = sysfs.join(format!("class/iscsi_session/session{}", ks.sid));
        let conn = sysfs.join(format!("class/iscsi_connection/connection{}:{}", ks.sid, ks.cid));
        let read = |dir: &Path, file: &str| {
            fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_string())
        };
        let address = read(&conn, "persistent_address").unwrap_or_default();
        let port = read(&conn, "persistent_port").unwrap_or_default();
        let portal = if address.contains(':') {
            format!("[{address}]:{port}")
        } else {
            format!("{address}:{port}")
        };
        let params = SHOWN
            .iter()
            .filter_map(|&(name, on_conn, file)| {
                read(if on_conn { &conn } else { &sess }, file)
                    .filter(|v| !v.is_empty())
                    .map(|v| (name, yes_no(name, v)))
            })
            .collect();
        out.push(ListedSession {
            session: ks,
            portal,
            state: read(&sess, "state").unwrap_or_else(|| "unknown".into()),
            disks: kernel::find_disks(sysfs, ks.host_no).unwrap_or_default(),
            ours: made_by_us(state_dir, ks.sid, &found.target_name),
            target: found.target_name,
            params,
        });
    }
    Ok(out)
}

/// The kernel shows the boolean keys and the digests as 0 and 1; the RFC's values (Yes and
/// No, CRC32C and None) read better.
fn yes_no(name: &str, value: String) -> String {
    const BOOLEANS: &[&str] =
        &["InitialR2T", "ImmediateData", "DataPDUInOrder", "DataSequenceInOrder"];
    let digest = name.ends_with("Digest");
    match (BOOLEANS.contains(&name), digest, value.as_str()) {
        (true, _, "1") => "Yes".into(),
        (true, _, "0") => "No".into(),
        (_, true, "1") => "CRC32C".into(),
        (_, true, "0") => "None".into(),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs with session 3 (host 7, connection 3:0) and its disk sdc.
    fn fake(root: &Path) {
        let sess = root.join("devices/platform/host7/session3/iscsi_session/session3");
        let conn = root
            .join("devices/platform/host7/session3/connection3:0/iscsi_connection/connection3:0");
        for (dir, files) in [
            (
                &sess,
                &[
                    ("targetname", "iqn.2026-11.rs.tcmu:t\n"),
                    ("state", "LOGGED_IN\n"),
                    ("first_burst_len", "65536\n"),
                    ("initial_r2t", "1\n"),
                    ("immediate_data", "0\n"),
                    ("recovery_tmo", "40\n"),
                ][..],
            ),
            (
                &conn,
                &[
                    ("persistent_address", "127.0.0.1\n"),
                    ("persistent_port", "3260\n"),
                    ("header_digest", "1\n"),
                    ("data_digest", "0\n"),
                    ("max_xmit_dlength", "\n"),
                ][..],
            ),
        ] {
            fs::create_dir_all(dir).unwrap();
            for (f, v) in files {
                fs::write(dir.join(f), v).unwrap();
            }
        }
        for (class, target) in
            [("iscsi_session/session3", &sess), ("iscsi_connection/connection3:0", &conn)]
        {
            let link = root.join("class").join(class);
            fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, link).unwrap();
        }
        let lun = root.join("class/scsi_host/host7/device/session3/target7:0:0/7:0:0:0/block/sdc");
        fs::create_dir_all(lun).unwrap();
    }

    #[test]
    fn a_session_is_listed_with_its_portal_state_and_parameters() {
        let dir = std::env::temp_dir().join(format!("iscsi-list-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (sysfs, state) = (dir.join("sys"), dir.join("state"));
        fake(&sysfs);
        fs::create_dir_all(&state).unwrap();
        let listed = list_sessions(&sysfs, &state).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        let s = &listed[0];
        assert_eq!((s.session.sid, s.session.host_no, s.session.cid), (3, 7, 0));
        assert_eq!(
            (s.target.as_str(), s.portal.as_str()),
            ("iqn.2026-11.rs.tcmu:t", "127.0.0.1:3260")
        );
        assert_eq!(s.state, "LOGGED_IN");
        assert!(!s.ours);
        assert_eq!(s.disks, vec![PathBuf::from("/dev/sdc")]);
        let want: Vec<(&str, String)> = vec![
            ("HeaderDigest", "CRC32C".into()),
            ("DataDigest", "None".into()),
            ("FirstBurstLength", "65536".into()),
            ("InitialR2T", "Yes".into()),
            ("ImmediateData", "No".into()),
            ("replacement_timeout", "40".into()),
        ];
        assert_eq!(s.params, want);
        // Noted by `tcmu iscsi login`: ours.
        fs::write(state_file(&state, 3), "iqn.2026-11.rs.tcmu:t").unwrap();
        assert!(list_sessions(&sysfs, &state).unwrap()[0].ours);
        let _ = fs::remove_dir_all(&dir);
    }
}
