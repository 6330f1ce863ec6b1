//! A command-level handler: a RAM disk that refuses WRITE, WRITE SAME, WRITE AND VERIFY and
//! COMPARE AND WRITE starting at LBA 0 (DATA PROTECT, WRITE PROTECTED), that counts the blocks
//! read and logs task management; every other command, and every write it lets through, goes
//! to the built-in emulation. Only those commands are intercepted: block 0 is not protected
//! from UNMAP or EXTENDED COPY, which a real guard would have to refuse too.
//!
//! `sudo cargo run -p tcmu --example command_handler` prints the disk and serves it until
//! Ctrl-C, then prints what it counted. Needs root, configfs and the `target_core_user` and
//! `tcm_loop` modules.

#![forbid(unsafe_code)]

use nix::sys::signal::{SigSet, Signal};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tcmu::{Action, DeviceBuilder, Handler, Kind, MemoryDisk, ScsiCmd, SenseData, TaskManagement};

/// Refuses the writes above at LBA 0 and counts reads.
#[derive(Default)]
struct Guard {
    blocks_read: AtomicU64,
    refused: AtomicU64,
}

impl Handler for Guard {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        // A CDB scsi-proto cannot decode (a vendor opcode...): the emulation refuses it.
        let Some(command) = cmd.command() else {
            return Action::Emulate;
        };
        let (kind, name) = (command.kind(), command.name());
        match kind {
            Kind::Write | Kind::WriteSame | Kind::WriteAndVerify | Kind::CompareAndWrite
                if cmd.lba() == 0 =>
            {
                self.refused.fetch_add(1, Ordering::Relaxed);
                eprintln!("refused {name} at LBA 0");
                cmd.check_condition(SenseData::write_protected())
            }
            Kind::Read => {
                let blocks = u64::from(cmd.transfer_length());
                self.blocks_read.fetch_add(blocks, Ordering::Relaxed);
                Action::Emulate
            }
            _ => Action::Emulate,
        }
    }

    fn task_management(&self, tmf: &TaskManagement) {
        eprintln!("task management: {:?}, aborted {:?}", tmf.function, tmf.aborted);
    }

    fn wants_task_management(&self) -> bool {
        true
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("command_handler: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let stop = SigSet::from_iter([Signal::SIGINT, Signal::SIGTERM]);
    stop.thread_block()?;
    // Kept here too, to read the counts at the end.
    let guard = Arc::new(Guard::default());
    let device = DeviceBuilder::new("guarded")
        .vendor("EXAMPLE")
        .serve(Arc::clone(&guard), MemoryDisk::new(128 * 1024, 512)?)?;
    println!("{}", device.disk().map_or("(no disk)".into(), |d| d.display().to_string()));
    stop.wait()?;
    device.close()?;
    println!(
        "{} blocks read, {} writes to block 0 refused",
        guard.blocks_read.load(Ordering::Relaxed),
        guard.refused.load(Ordering::Relaxed)
    );
    Ok(())
}
