//! The device builder against a temporary configfs and sysfs, with a thread playing the
//! kernel's part (the disk appears once the LUN is linked) and the simulated kernel's ring
//! carrying real I/O; then the teardown leaves nothing behind.

mod common;

use common::{BreakableBell, SimBell, drive, rw10};
use lio_config::ConfigFs;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcmu::{DeviceBuilder, DeviceError, Emulator, Identity, MemoryDisk};
use tcmu_ring::Ring;
use tcmu_ring::sim::{SimConfig, SimKernel};

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
            for wwn in fs::read_dir(dir.join("target/loopback"))
                .into_iter()
                .flatten()
                .flatten()
            {
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

#[test]
fn a_device_comes_up_serves_and_goes_away() {
    let dir = tree("up");
    let uio = dir.join("sys/class/uio/uio3");
    fs::create_dir_all(uio.join("maps/map0")).unwrap();
    fs::write(uio.join("name"), "tcm-user/1/d0/tcmu-rs/d0\n").unwrap();
    fs::write(uio.join("maps/map0/size"), "0x100000\n").unwrap();
    let kernel = fake_kernel(&dir, "d0");

    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimBell::default());
    let emu = Arc::new(Emulator::new(
        MemoryDisk::new(2048, 512).unwrap(),
        Identity::for_name("d0"),
    ));
    let cfs = ConfigFs::at(dir.join("target"), dir.join("sys"));
    let node = dir.join("mydisk");
    let device = DeviceBuilder::new("d0")
        .roots(cfs, &dir.join("sys/class/uio"), &dir.join("dev"))
        .node(&node)
        .threads(2)
        .disk_timeout(Duration::from_secs(5))
        .serve_with(emu, 2048 * 512, 512, |info| {
            assert_eq!(
                (info.index, info.name.as_str()),
                (3, "tcm-user/1/d0/tcmu-rs/d0")
            );
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
        "dev_size=1048576dev_config=tcmu-rs/d0hw_block_size=512nl_reply_supported=-1"
    );
    assert_eq!(
        fs::read_to_string(store.join("attrib/cmd_time_out")).unwrap(),
        "30"
    );

    // The ring is being served: a write and a read through it.
    let data = vec![0xc3u8; 1024];
    let done = drive(&mut sim, &bell, vec![(rw10(0x2a, 5, 2), data.clone(), 0)]);
    assert_eq!(done[0].status, 0);
    let done = drive(&mut sim, &bell, vec![(rw10(0x28, 5, 2), Vec::new(), 1024)]);
    assert_eq!(done[0].data_in, data);

    device.close().unwrap();
    assert!(!node.exists(), "node removed");
    assert!(!store.exists(), "backstore removed");
    let left: Vec<_> = fs::read_dir(dir.join("target/loopback")).unwrap().collect();
    assert!(left.is_empty(), "loopback target removed: {left:?}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_leave_nothing_behind() {
    let dir = tree("fail");
    let cfs = ConfigFs::at(dir.join("target"), dir.join("sys"));
    let emu = Arc::new(Emulator::new(
        MemoryDisk::new(8, 512).unwrap(),
        Identity::for_name("x"),
    ));
    // No UIO device appears: a clear error, and the backstore made so far is removed.
    let r = DeviceBuilder::new("x")
        .roots(cfs.clone(), &dir.join("sys/class/uio"), &dir.join("dev"))
        .serve(Arc::clone(&emu), 8 * 512, 512);
    assert!(matches!(r, Err(DeviceError::Uio(_))), "{r:?}");
    assert!(!dir.join("target/core/user_1/x").exists());
    // A size that is not whole blocks is refused before anything is made.
    let r = DeviceBuilder::new("y")
        .roots(cfs, &dir.join("sys/class/uio"), &dir.join("dev"))
        .serve(Arc::clone(&emu), 1000, 512);
    assert!(matches!(r, Err(DeviceError::BadSize { .. })), "{r:?}");
    // So is a block size the kernel's disks cannot have: none, odd, or larger than 64 KiB.
    for bs in [0, 520, 2 << 20] {
        let r = DeviceBuilder::new("b")
            .roots(
                ConfigFs::at(dir.join("target"), dir.join("sys")),
                &dir.join("sys/class/uio"),
                &dir.join("dev"),
            )
            .serve(Arc::clone(&emu), 4 << 20, bs);
        let e = r.map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("is not a power of two from 512 to 65536"),
            "{bs}: {e}"
        );
    }
    // So is a vendor SCSI cannot carry.
    let r = DeviceBuilder::new("z")
        .roots(
            ConfigFs::at(dir.join("target"), dir.join("sys")),
            &dir.join("sys/class/uio"),
            &dir.join("dev"),
        )
        .vendor("far too long a vendor")
        .serve_block(MemoryDisk::new(8, 512).unwrap());
    assert!(
        matches!(r, Err(DeviceError::BadIdentity { what: "vendor", .. })),
        "{r:?}"
    );
    assert!(!dir.join("target/core/user_1/z").exists());
    assert!(
        fs::read_dir(dir.join("target/core"))
            .unwrap()
            .next()
            .is_none(),
        "nothing was made"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_device_whose_kernel_side_goes_away_says_so_and_is_torn_down() {
    let dir = tree("gone");
    let uio = dir.join("sys/class/uio/uio4");
    fs::create_dir_all(uio.join("maps/map0")).unwrap();
    fs::write(uio.join("name"), "tcm-user/1/g0/tcmu-rs/g0\n").unwrap();
    fs::write(uio.join("maps/map0/size"), "0x100000\n").unwrap();
    let kernel = fake_kernel(&dir, "g0");
    let sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(BreakableBell::default());
    let cfs = ConfigFs::at(dir.join("target"), dir.join("sys"));
    let device = DeviceBuilder::new("g0")
        .roots(cfs, &dir.join("sys/class/uio"), &dir.join("dev"))
        .disk_timeout(Duration::from_secs(5))
        .serve_with(
            Arc::new(Emulator::new(
                MemoryDisk::new(64, 512).unwrap(),
                Identity::for_name("g0"),
            )),
            64 * 512,
            512,
            |_| Ok((Ring::new(sim.region())?, Arc::clone(&bell))),
        )
        .unwrap();
    assert!(kernel.join().unwrap());
    assert!(
        !device.wait_server(Duration::from_millis(200)),
        "still serving"
    );
    assert!(!device.server_finished());
    // The kernel removes the device (`tcmu cleanup --force`, targetcli...).
    bell.broken
        .store(true, std::sync::atomic::Ordering::Release);
    let t = Instant::now();
    assert!(device.wait_server(Duration::from_secs(5)));
    assert!(device.server_finished());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let e = device.close().unwrap_err();
    assert!(
        matches!(e, DeviceError::Serve(tcmu::server::ServeError::Doorbell(_))),
        "{e:?}"
    );
    assert!(e.to_string().contains("the device is gone"), "{e}");
    assert!(!dir.join("target/core/user_1/g0").exists());
    let left: Vec<_> = fs::read_dir(dir.join("target/loopback")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    fs::remove_dir_all(&dir).unwrap();
}
