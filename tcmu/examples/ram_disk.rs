//! A 64 MiB RAM disk: the built-in emulation over a `MemoryDisk`, no handler needed.
//!
//! `sudo cargo run -p tcmu --example ram_disk` prints the disk (`/dev/sdX`) and serves it until
//! Ctrl-C, then removes it. Needs root, configfs and the `target_core_user` and `tcm_loop`
//! modules.

#![forbid(unsafe_code)]

use nix::sys::signal::{SigSet, Signal};
use std::process::ExitCode;
use tcmu::{DeviceBuilder, MemoryDisk};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ram_disk: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Blocked before the serving threads start (they inherit it), then waited for.
    let stop = SigSet::from_iter([Signal::SIGINT, Signal::SIGTERM]);
    stop.thread_block()?;
    let disk = MemoryDisk::new(128 * 1024, 512)?; // 64 MiB of 512-byte blocks
    let device = DeviceBuilder::new("ramdisk").serve_block(disk)?;
    println!("{}", device.disk().map_or("(no disk)".into(), |d| d.display().to_string()));
    stop.wait()?;
    device.close()?;
    Ok(())
}
