//! The device builder against a temporary configfs and sysfs, with a thread playing the
//! kernel's part (the disk appears once the LUN is linked) and the simulated kernel's ring
//! carrying real I/O; then the teardown leaves nothing behind.

mod common;

use common::{drive, rw10};
use lio_config::ConfigFs;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcmu::device::DeviceLock;
use tcmu::{
    Action, BlockDevice, Device, DeviceBuilder, DeviceError, Doorbell, Handler, Loopback,
    MemoryDisk, ScsiCmd,
};
use tcmu_ring::Ring;
use tcmu_ring::sim::{SimConfig, SimDoorbell, SimKernel};
use tcmu_ring::uio::UioInfo;

fn tree(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcmu-device-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("target/core")).unwrap();
    fs::create_dir_all(dir.join("sys/class/uio")).unwrap();
    fs::create_dir_all(dir.join("dev")).unwrap();
    dir
}

/// Plays the kernel: once a LUN links `name`, reports the SCSI address and makes the disk.
fn fake_kernel(dir: &Path, name: &'static str) -> std::thread::JoinHandle<bool> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            for wwn in fs::read_dir(dir.join("target/loopback")).into_iter().flatten().flatten() {
                let tpg = wwn.path().join("tpgt_1");
                if tpg.join("lun/lun_0").join(name).is_symlink() {
                    fs::write(tpg.join("address"), "7:0:1\n").unwrap();
                    fs::create_dir_all(dir.join("sys/bus/scsi/devices/7:0:1:0/block/sdz")).unwrap();
                    fs::create_dir_all(dir.join("sys/class/block/sdz")).unwrap();
                    fs::write(dir.join("sys/class/block/sdz/dev"), "65:160\n").unwrap();
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    })
}

/// Makes the sysfs side of UIO device `uioINDEX` of backstore `user_1/NAME`: what
/// `UioInfo::find_tcmu` looks for.
fn fake_uio(dir: &Path, index: u32, name: &str) {
    let uio = dir.join(format!("sys/class/uio/uio{index}"));
    fs::create_dir_all(uio.join("maps/map0")).unwrap();
    fs::write(uio.join("name"), format!("tcm-user/1/{name}/tcmu-rs/{name}\n")).unwrap();
    fs::write(uio.join("maps/map0/size"), "0x100000\n").unwrap();
}

/// A builder for device `name` in the temporary tree `dir`: its configfs, sysfs, `/dev` and
/// lock folder, and a short wait for the disk.
fn builder(dir: &Path, name: &str) -> DeviceBuilder {
    DeviceBuilder::new(name)
        .roots(
            ConfigFs::at(dir.join("target"), dir.join("sys")).unwrap(),
            &dir.join("sys/class/uio"),
            &dir.join("dev"),
        )
        .lock_dir(&dir.join("locks"))
        .loopback(Loopback::new().disk_timeout(Duration::from_secs(5)))
}

/// Serves a 64-block memory disk as `builder`'s device, its ring and doorbell made by
/// `open`.
fn serve_small<D, F>(builder: DeviceBuilder, open: F) -> Result<Device, DeviceError>
where
    D: Doorbell + 'static,
    F: FnOnce(&UioInfo) -> Result<(Ring, Arc<D>), DeviceError>,
{
    builder.serve_with(tcmu::EmulationOnly, MemoryDisk::new(64, 512).unwrap(), open)
}

/// A disk of `.0`-byte blocks, `.1` of them, that holds nothing: for geometry checks.
struct Shape(u32, u64);

impl BlockDevice for Shape {
    fn block_size(&self) -> u32 {
        self.0
    }
    fn num_blocks(&self) -> u64 {
        self.1
    }
    fn read(&self, _lba: u64, _bufs: &mut [std::io::IoSliceMut<'_>]) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&self, _lba: u64, _bufs: &[std::io::IoSlice<'_>], _fua: bool) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_device_comes_up_serves_and_goes_away() {
    let dir = tree("up");
    fake_uio(&dir, 3, "d0");
    let kernel = fake_kernel(&dir, "d0");

    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimDoorbell::default());
    let node = dir.join("mydisk");
    let device = builder(&dir, "d0")
        .loopback(Loopback::new().node(&node).disk_timeout(Duration::from_secs(5)))
        .threads(2)
        .serve_with(tcmu::EmulationOnly, MemoryDisk::new(2048, 512).unwrap(), |info| {
            assert_eq!((info.index, info.name.as_str()), (3, "tcm-user/1/d0/tcmu-rs/d0"));
            Ok((Ring::new(sim.region())?, Arc::clone(&bell)))
        })
        .unwrap();
    assert!(kernel.join().unwrap());
    assert_eq!(device.disk(), Some(Path::new("/dev/sdz")));
    // The extra node has the disk's numbers (65:160) and is a block device.
    {
        use std::os::unix::fs::FileTypeExt;
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(&node).unwrap();
        assert!(meta.file_type().is_block_device());
        assert_eq!(meta.rdev(), nix::sys::stat::makedev(65, 160));
        assert_eq!(device.node(), Some(node.as_path()));
    }
    let store = dir.join("target/core/user_1/d0");
    assert_eq!(
        fs::read_to_string(store.join("control")).unwrap(),
        "dev_size=1048576dev_config=tcmu-rs/d0hw_block_size=512max_data_area_mb=64nl_reply_supported=-1"
    );
    assert_eq!(fs::read_to_string(store.join("attrib/cmd_time_out")).unwrap(), "30");
    assert!(
        !store.join("attrib/tmr_notification").exists(),
        "the emulation alone asks for no task management"
    );

    // The ring is being served: a write and a read through it.
    let data = vec![0xc3u8; 1024];
    let done = drive(&mut sim, &bell, vec![(rw10(0x2a, 5, 2), data.clone(), 0)]);
    assert_eq!(done[0].status, 0);
    let done = drive(&mut sim, &bell, vec![(rw10(0x28, 5, 2), Vec::new(), 1024)]);
    assert_eq!(done[0].data_in, data);

    let lock = dir.join("locks/user_1-d0.lock");
    assert!(lock.exists(), "the device's lock is held while it is served");
    device.close().unwrap();
    assert!(!lock.exists(), "and released after the teardown");
    assert!(!node.exists(), "node removed");
    assert!(!store.exists(), "backstore removed");
    let left: Vec<_> = fs::read_dir(dir.join("target/loopback")).unwrap().collect();
    assert!(left.is_empty(), "loopback target removed: {left:?}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Answers TEST UNIT READY itself and declines the rest; asks for task management.
struct Tur;

impl Handler for Tur {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        if cmd.cdb()[0] == 0x00 { cmd.ok() } else { Action::Emulate }
    }

    fn wants_task_management(&self) -> bool {
        true
    }
}

#[test]
fn a_handler_s_device_reports_the_builder_s_identity_and_gets_task_management() {
    let dir = tree("id");
    fake_uio(&dir, 8, "h0");
    let kernel = fake_kernel(&dir, "h0");
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimDoorbell::default());
    let device = builder(&dir, "h0")
        .vendor("ACME")
        .product("Handled")
        .serial("S-1")
        .write_cache(false)
        .serve_with(Tur, MemoryDisk::new(64, 512).unwrap(), |_| {
            Ok((Ring::new(sim.region())?, Arc::clone(&bell)))
        })
        .unwrap();
    assert!(kernel.join().unwrap());
    let store = dir.join("target/core/user_1/h0");
    assert_eq!(
        fs::read_to_string(store.join("attrib/tmr_notification")).unwrap(),
        "1",
        "the handler asked for task management: the kernel is told to send it"
    );
    // INQUIRY, VPD 80h and the Caching page, declined by the handler: the emulation answers
    // with the builder's identity.
    let mut data_in = |cdb: Vec<u8>, len: usize| {
        let done = drive(&mut sim, &bell, vec![(cdb, Vec::new(), len)]);
        assert_eq!(done[0].status, 0);
        done[0].data_in.clone()
    };
    let std = data_in(vec![0x12, 0, 0, 0, 96, 0], 96);
    assert_eq!(&std[8..16], b"ACME    ");
    assert_eq!(&std[16..32], b"Handled         ");
    assert_eq!(&data_in(vec![0x12, 1, 0x80, 0, 64, 0], 64)[4..7], b"S-1");
    let caching = data_in(vec![0x1a, 0x08, 0x08, 0, 64, 0], 64);
    assert_eq!(caching[4 + 2] & 0x04, 0, "WCE off, as the builder said");
    device.close().unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_leave_nothing_behind() {
    let dir = tree("fail");
    // No UIO device appears: a clear error, and the backstore made so far is removed.
    let r = builder(&dir, "x").serve_block(MemoryDisk::new(8, 512).unwrap());
    assert!(matches!(r, Err(DeviceError::Uio(_))), "{r:?}");
    assert!(!dir.join("target/core/user_1/x").exists());
    // A disk of no blocks is refused before anything is made.
    let r = builder(&dir, "y").serve_block(Shape(512, 0));
    assert!(matches!(r, Err(DeviceError::BadSize { .. })), "{r:?}");
    // So is a block size the kernel's disks cannot have: none, odd, or larger than 64 KiB.
    for bs in [0, 520, 2 << 20] {
        let r = builder(&dir, "b").serve_block(Shape(bs, 8));
        let e = r.map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("is not a power of two from 512 to 65536"), "{bs}: {e}");
    }
    // So is a vendor SCSI cannot carry.
    let r = builder(&dir, "z")
        .vendor("far too long a vendor")
        .serve_block(MemoryDisk::new(8, 512).unwrap());
    assert!(matches!(r, Err(DeviceError::BadIdentity { what: "vendor", .. })), "{r:?}");
    assert!(!dir.join("target/core/user_1/z").exists());
    assert!(fs::read_dir(dir.join("target/core")).unwrap().next().is_none(), "nothing was made");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_device_whose_kernel_side_goes_away_says_so_and_is_torn_down() {
    let dir = tree("gone");
    fake_uio(&dir, 4, "g0");
    let kernel = fake_kernel(&dir, "g0");
    let sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimDoorbell::default());
    let device =
        serve_small(builder(&dir, "g0"), |_| Ok((Ring::new(sim.region())?, Arc::clone(&bell))))
            .unwrap();
    assert!(kernel.join().unwrap());
    assert!(!device.wait_server(Duration::from_millis(200)), "still serving");
    assert!(!device.server_finished());
    // The kernel removes the device (`tcmu cleanup --force`, targetcli...).
    bell.remove_device();
    let t = Instant::now();
    assert!(device.wait_server(Duration::from_secs(5)));
    assert!(device.server_finished());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let e = device.close().unwrap_err();
    assert!(matches!(e, DeviceError::Serve(tcmu::server::ServeError::Doorbell(_))), "{e:?}");
    assert!(e.to_string().contains("the device is gone"), "{e}");
    assert!(!dir.join("target/core/user_1/g0").exists());
    let left: Vec<_> = fs::read_dir(dir.join("target/loopback")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Gives the temporary tree's backstore the `info` the kernel shows for one of ours.
fn kernel_info(dir: &Path, name: &str) {
    let store = dir.join("target/core/user_1").join(name);
    fs::write(
        store.join("info"),
        format!("Status: ACTIVATED  Max Queue Depth: 0\n Config: tcmu-rs/{name} Size: 32768\n"),
    )
    .unwrap();
}

#[test]
fn cleanup_keeps_a_device_that_is_still_being_set_up() {
    let dir = tree("starting");
    fake_uio(&dir, 5, "s0");
    // What cleanup sees: the backstore made, no UIO device yet (not enabled), the state a
    // starting `tcmu serve` is in between writing `control` and `enable`.
    fs::create_dir_all(dir.join("no-uio-yet")).unwrap();
    let cfs = ConfigFs::at(dir.join("target"), dir.join("sys")).unwrap();
    let (at_open, starting) = std::sync::mpsc::channel();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let serving = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            let kernel = fake_kernel(&dir, "s0");
            let sim = SimKernel::new(SimConfig::small()).unwrap();
            let device = serve_small(builder(&dir, "s0"), |_| {
                kernel_info(&dir, "s0");
                at_open.send(()).unwrap();
                // Held here, mid-way, until the test has run its cleanup.
                let _ = wait_go.recv();
                Ok((Ring::new(sim.region())?, Arc::new(SimDoorbell::default())))
            });
            let up = kernel.join().unwrap();
            (device, up)
        })
    };
    starting.recv().unwrap();
    let store = dir.join("target/core/user_1/s0");
    assert!(store.exists());
    let report =
        tcmu::cleanup(&cfs, &dir.join("no-uio-yet"), &dir.join("dev"), &dir.join("locks"), false);
    go.send(()).unwrap();
    let report = report.unwrap();
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    assert_eq!(report.in_use.len(), 1, "{:?}", report.in_use);
    let me = format!("process {}", std::process::id());
    assert!(
        report.in_use[0].path == store && report.in_use[0].why.contains(&me),
        "{:?}",
        report.in_use
    );
    assert!(store.exists(), "the starting device was not removed");
    let (device, up) = serving.join().unwrap();
    let device = device.unwrap();
    assert!(up);
    device.close().unwrap();
    // Now nothing holds it: a leftover of the same name would be cleaned up.
    assert!(!dir.join("locks/user_1-s0.lock").exists());
    fs::create_dir_all(&store).unwrap();
    kernel_info(&dir, "s0");
    let report =
        tcmu::cleanup(&cfs, &dir.join("no-uio-yet"), &dir.join("dev"), &dir.join("locks"), false)
            .unwrap();
    assert_eq!(report.removed, vec![store.clone()]);
    assert!(!store.exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_device_lock_has_one_holder() {
    let dir = tree("lock");
    let locks = dir.join("locks");
    let first = DeviceLock::try_lock(&locks, 1, "l0").unwrap();
    assert_eq!(first.path(), locks.join("user_1-l0.lock"));
    let e = DeviceLock::try_lock(&locks, 1, "l0").unwrap_err();
    let me = format!("user_1/l0 is locked by process {}", std::process::id());
    assert!(e.to_string().contains(&me), "{e}");
    // Another device's lock is its own.
    let other = DeviceLock::try_lock(&locks, 2, "l0").unwrap();
    // A device whose lock is held (by a cleanup removing a leftover of that name) is not
    // brought up, and nothing is made.
    let r = builder(&dir, "l0").serve_block(MemoryDisk::new(8, 512).unwrap());
    assert!(matches!(r, Err(DeviceError::Locked { .. })), "{r:?}");
    assert!(!dir.join("target/core/user_1").exists());
    // A name that would leave the folder is refused.
    assert!(DeviceLock::try_lock(&locks, 1, "../x").is_err());
    drop((first, other));
    assert!(fs::read_dir(&locks).unwrap().next().is_none(), "lock files removed");
    let again = DeviceLock::try_lock(&locks, 1, "l0").unwrap();
    drop(again);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_disk_from_a_kernel_without_large_blocks_is_an_error() {
    let dir = tree("lbs");
    fake_uio(&dir, 6, "big");
    // What 6.1's sd makes of 8192-byte blocks: "Unsupported sector size 8192", 0 sectors.
    fs::create_dir_all(dir.join("sys/class/block/sdz")).unwrap();
    fs::write(dir.join("sys/class/block/sdz/size"), "0\n").unwrap();
    let kernel = fake_kernel(&dir, "big");
    let sim = SimKernel::new(SimConfig::small()).unwrap();
    let r = builder(&dir, "big").serve_with(
        tcmu::EmulationOnly,
        MemoryDisk::new(16, 8192).unwrap(),
        |_| Ok((Ring::new(sim.region())?, Arc::new(SimDoorbell::default()))),
    );
    assert!(kernel.join().unwrap());
    let e = r.map(|_| ()).unwrap_err();
    assert!(matches!(e, DeviceError::BlockSizeUnsupported { block_size: 8192 }), "{e:?}");
    assert!(e.to_string().contains("empty disk of 8192-byte blocks"), "{e}");
    assert!(!dir.join("target/core/user_1/big").exists());
    assert!(fs::read_dir(dir.join("target/loopback")).unwrap().next().is_none());
    fs::remove_dir_all(&dir).unwrap();
}

/// The loopback LUN's link to backstore `name`, if there is one.
fn lun_link(dir: &Path, name: &str) -> Option<PathBuf> {
    fs::read_dir(dir.join("target/loopback"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|wwn| wwn.path().join("tpgt_1/lun/lun_0").join(name))
        .find(|link| link.is_symlink())
}

#[test]
fn after_a_ring_error_the_ring_is_reset_once_the_server_stopped_and_before_the_lun_goes() {
    use std::io::{ErrorKind, Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tree("reset");
    fake_uio(&dir, 7, "r0");
    let kernel = fake_kernel(&dir, "r0");
    let sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimDoorbell::default());
    // cmd_time_out 0: the kernel never fails a command itself.
    let device = serve_small(builder(&dir, "r0").cmd_time_out(0), |_| {
        Ok((Ring::new(sim.region())?, Arc::clone(&bell)))
    })
    .unwrap();
    assert!(kernel.join().unwrap());
    let lun = lun_link(&dir, "r0").expect("the LUN is linked");
    // `action/reset_ring` is a FIFO kept full here: the teardown's write to it waits until the
    // test has looked at what is still there and drains it.
    let action = dir.join("target/core/user_1/r0/action");
    fs::create_dir_all(&action).unwrap();
    let reset = action.join("reset_ring");
    nix::unistd::mkfifo(&reset, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut pipe = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&reset)
        .unwrap();
    loop {
        match pipe.write(&[b'.'; 4096]) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }

    // The ring breaks (cmd_head out of range): the server ends on a ring error.
    sim.corrupt(12, &u32::MAX.to_ne_bytes());
    assert!(device.wait_server(Duration::from_secs(5)));
    let closing = std::thread::spawn(move || device.close());
    // The server has stopped (it let go of its doorbell)...
    let t = Instant::now();
    while Arc::strong_count(&bell) > 1 {
        assert!(t.elapsed() < Duration::from_secs(5), "the server was not stopped first");
        std::thread::sleep(Duration::from_millis(5));
    }
    // ...and the teardown waits on its write of reset_ring with the LUN still there.
    std::thread::sleep(Duration::from_millis(200));
    assert!(lun.is_symlink(), "the LUN was removed before the ring was reset");
    let mut written = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(n) => written.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if closing.is_finished() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
    let written = String::from_utf8(written).unwrap();
    assert_eq!(
        written.trim_start_matches('.'),
        "2",
        "reset_ring 2: the kernel fails what is outstanding with CHECK CONDITION"
    );
    let e = closing.join().unwrap().unwrap_err();
    assert!(matches!(e, DeviceError::Serve(tcmu::server::ServeError::Ring(_))), "{e:?}");
    assert!(lun_link(&dir, "r0").is_none());
    assert!(!dir.join("target/core/user_1/r0").exists());
    fs::remove_dir_all(&dir).unwrap();
}
