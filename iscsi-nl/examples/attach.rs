//! Attach an iSCSI LUN as a local disk, keep its connection up (a `Supervisor` reconnects it
//! whenever it fails) until Enter, detach it.
//!
//! ```sh
//! sudo modprobe iscsi_tcp
//! cargo build -p iscsi-nl --example attach
//! sudo target/debug/examples/attach iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/0
//! ```
//!
//! It needs root, the `iscsi_tcp` module and a target; without them it says which is missing.
//! For CHAP, set `chap` (and `mutual_chap`) in the options.

#![forbid(unsafe_code)]

use iscsi_nl::{AttachOptions, DetachOptions, Sessions, Supervisor};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: attach iscsi://HOST[:PORT]/TARGET-IQN/LUN");
        return ExitCode::from(2);
    };
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attach: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let options = AttachOptions::default();
    println!("logging in to {url} as {}", options.initiator_name);
    // The supervisor listens before the login, so no connection error is missed; it logs in
    // again after a network fault, and the disk keeps its name.
    let mut supervisor = Supervisor::new(options.timeout)?;
    let attached = iscsi_nl::attach(url, &options)?;
    println!(
        "{} is LUN {} of {} (session {}, SCSI host {}, portal {})",
        attached.disk.display(),
        attached.url.lun,
        attached.url.target,
        attached.session.sid,
        attached.session.host_no,
        attached.portal,
    );
    supervisor.watch_attached(&attached, &options);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let watching = std::thread::spawn(move || supervisor.run(&flag));
    println!("press Enter to detach");
    std::io::stdin().read_line(&mut String::new())?;
    stop.store(true, Ordering::Relaxed);
    watching.join().map_err(|_| "the supervisor panicked")??;
    for gone in iscsi_nl::detach(Sessions::To(&attached.url.target), &DetachOptions::default())? {
        let gone = gone?;
        let ack = if gone.acknowledged { ", the target acknowledged" } else { "" };
        println!("logged out of {} (session {}{ack})", gone.target, gone.session.sid);
    }
    Ok(())
}
