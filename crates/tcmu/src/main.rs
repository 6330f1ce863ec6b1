//! `tcmu`: serve an image as a SCSI disk through LIO's TCMU backstore, list this host's
//! devices, and clean up what a crashed run left.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use lio_config::ConfigFs;
use nix::sys::signal::{SigSet, Signal};
use std::path::PathBuf;
use std::process::ExitCode;
use tcmu::{DeviceBuilder, FileDisk, ReadOnly};

#[derive(Parser)]
#[command(
    name = "tcmu",
    version,
    about = "Serve SCSI block devices from user space through LIO's TCMU"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve IMAGE (a file or block device) as a disk until interrupted, then remove it.
    Serve {
        /// The image file or block device.
        image: PathBuf,
        /// Create the image with this size if it is missing, or grow it (never shrinks):
        /// bytes, or with a K, M, G or T suffix (powers of 1024).
        #[arg(long)]
        size: Option<String>,
        /// The backstore's name (default: the image's file name).
        #[arg(long)]
        name: Option<String>,
        /// Logical block size.
        #[arg(long, default_value_t = 512)]
        block_size: u32,
        /// Refuse writes; the disk reports itself write-protected.
        #[arg(long)]
        read_only: bool,
        /// Worker threads.
        #[arg(long, default_value_t = 4)]
        threads: usize,
        /// N of configfs `core/user_N`.
        #[arg(long, default_value_t = 1)]
        hba: u32,
    },
    /// List the TCMU backstores and targets on this host.
    List,
    /// Remove every configfs object this project left behind (and so its disks).
    Cleanup,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&s[..s.len() - 1], 10),
        Some('M') => (&s[..s.len() - 1], 20),
        Some('G') => (&s[..s.len() - 1], 30),
        Some('T') => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("size {s:?} is not a number"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

fn serve(
    image: PathBuf,
    size: Option<String>,
    name: Option<String>,
    block_size: u32,
    read_only: bool,
    threads: usize,
    hba: u32,
) -> Result<(), String> {
    let name = match name {
        Some(n) => n,
        None => image
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| {
                s.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect()
            })
            .ok_or_else(|| {
                format!(
                    "cannot name a device after {}; pass --name",
                    image.display()
                )
            })?,
    };
    let disk = match size {
        Some(size) => {
            let size = parse_size(&size)?;
            if read_only {
                return Err(
                    "--size creates or grows the image; it cannot go with --read-only".into(),
                );
            }
            FileDisk::create(&image, size, block_size)
        }
        None => FileDisk::open(&image, block_size, read_only),
    }
    .map_err(|e| format!("{}: {e}", image.display()))?;

    // SIGINT and SIGTERM are blocked in every thread and taken by `wait` below, so the device is
    // always torn down.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;

    let builder = DeviceBuilder::new(&name).hba(hba).threads(threads);
    let device = if read_only {
        builder.serve_block(ReadOnly(disk))
    } else {
        builder.serve_block(disk)
    }
    .map_err(|e| e.to_string())?;
    match device.disk() {
        Some(d) => println!("{}", d.display()),
        None => println!("(no disk)"),
    }
    tracing::info!(image = %image.display(), name, "serving; Ctrl-C to stop");
    let sig = signals
        .wait()
        .map_err(|e| format!("waiting for a signal: {e}"))?;
    tracing::info!(?sig, "stopping");
    device.close().map_err(|e| e.to_string())?;
    Ok(())
}

fn list() -> Result<(), String> {
    let cfs = ConfigFs::system().map_err(|e| e.to_string())?;
    let inv = cfs.list().map_err(|e| e.to_string())?;
    for b in &inv.user_backstores {
        let config = b.config().unwrap_or_default();
        let ours = if b.is_ours() { " (tcmu-rs)" } else { "" };
        println!("backstore user_{}/{}  {config}{ours}", b.hba(), b.name());
    }
    for lo in &inv.loopback {
        let disk = lo
            .disk(0)
            .ok()
            .flatten()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        println!("loopback  {}  {disk}", lo.path().display());
    }
    for t in &inv.iscsi {
        println!("iscsi     {}", t.path().display());
    }
    Ok(())
}

fn cleanup() -> Result<(), String> {
    let cfs = ConfigFs::system().map_err(|e| e.to_string())?;
    let removed = cfs.cleanup().map_err(|e| e.to_string())?;
    for p in &removed {
        println!("removed {}", p.display());
    }
    if removed.is_empty() {
        println!("nothing of ours to remove");
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::Serve {
            image,
            size,
            name,
            block_size,
            read_only,
            threads,
            hba,
        } => serve(image, size, name, block_size, read_only, threads, hba),
        Cmd::List => list(),
        Cmd::Cleanup => cleanup(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcmu: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("1G"), Ok(1 << 30));
        assert_eq!(super::parse_size("64m"), Ok(64 << 20));
        assert_eq!(super::parse_size("4096"), Ok(4096));
        assert!(super::parse_size("lots").is_err());
        assert!(super::parse_size("99999999T").is_err());
    }
}
