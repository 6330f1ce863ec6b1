//! Serves an image file (or block device) read-only: writes are refused WRITE PROTECTED, and
//! other read-only users may share the image meanwhile.
//!
//! `sudo cargo run -p tcmu --example read_only_image -- IMAGE` prints the disk and serves it
//! until Ctrl-C. Needs root, configfs and the `target_core_user` and `tcm_loop` modules.

#![forbid(unsafe_code)]

use nix::sys::signal::{SigSet, Signal};
use std::path::PathBuf;
use std::process::ExitCode;
use tcmu::{DeviceBuilder, FileDisk, ReadOnly};

fn main() -> ExitCode {
    let Some(image) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: read_only_image IMAGE");
        return ExitCode::from(2);
    };
    match run(image) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("read_only_image: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(image: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let stop = SigSet::from_iter([Signal::SIGINT, Signal::SIGTERM]);
    stop.thread_block()?;
    // Opened read-only with a shared lock; the wrapper reports the disk write-protected.
    let disk = ReadOnly(FileDisk::open(&image, 512, true)?);
    let device = DeviceBuilder::new("readonly").product("Read-only image").serve_block(disk)?;
    println!("{}", device.disk().map_or("(no disk)".into(), |d| d.display().to_string()));
    stop.wait()?;
    device.close()?;
    Ok(())
}
