//! `Qcow2Disk` against QEMU's own tools: what it writes, `qemu-img check` finds clean and
//! `qemu-img convert` reads back byte for byte (an independent reader agrees); images QEMU
//! made (backing files, version 2, encryption) are read, written or refused as they should be;
//! damaged headers are refused without a panic.
//!
//! These tests need `qemu-img` and `qemu-io` (Debian: qemu-utils, which `cargo xtask test`
//! installs); without them they fail, saying so.

use std::io::{self, IoSlice, IoSliceMut};
use std::path::{Path, PathBuf};
use std::process::Command;
use tcmu::{Allocation, BlockDevice, Qcow2Disk};

const BS: usize = 512;

/// A folder under the build's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("qcow2-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a QEMU tool; fails the test, saying what to install, if it is missing.
fn qemu(tool: &str, args: &[&str]) -> std::process::Output {
    match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "{tool} could not be run ({e}): these tests need QEMU's tools (Debian: \
             apt-get install qemu-utils; `cargo xtask test` installs them)"
        ),
    }
}

/// Runs a QEMU tool that must succeed; its stdout.
fn qemu_ok(tool: &str, args: &[&str]) -> String {
    let out = qemu(tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `qemu-img check` finds no error and no leak.
fn check_clean(image: &Path) {
    let out = qemu_ok("qemu-img", &["check", "-f", "qcow2", s(image)]);
    assert!(out.contains("No errors were found"), "qemu-img check {}: {out}", image.display());
    assert!(!out.contains("leaked"), "qemu-img check {}: {out}", image.display());
}

/// The image's guest bytes as QEMU reads them.
fn qemu_raw(image: &Path, dir: &Scratch) -> Vec<u8> {
    let raw = dir.path("converted.raw");
    let _ = std::fs::remove_file(&raw);
    qemu_ok("qemu-img", &["convert", "-f", "qcow2", "-O", "raw", s(image), s(&raw)]);
    let bytes = std::fs::read(&raw).unwrap();
    std::fs::remove_file(&raw).unwrap();
    bytes
}

fn read_all(disk: &dyn BlockDevice) -> Vec<u8> {
    let mut all = vec![0u8; disk.num_blocks() as usize * disk.block_size() as usize];
    disk.read(0, &mut [IoSliceMut::new(&mut all)]).unwrap();
    all
}

/// A small deterministic generator (xorshift), so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The first difference between two byte strings, for a readable failure.
fn same(what: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: byte {i} (block {}) is {:#04x}, expected {:#04x}", i / BS, got[i], want[i]);
    }
}

#[test]
fn eight_threads_write_and_every_byte_reads_back_here_and_in_qemu() {
    const SIZE: usize = 4 << 20;
    const CHUNK: u64 = 16; // blocks; thread t owns the chunks c with c % 8 == t
    let dir = Scratch::new("threads");
    let path = dir.path("disk.qcow2");
    let disk = Qcow2Disk::create(&path, SIZE as u64, BS as u32).unwrap();
    assert_eq!(disk.num_blocks(), (SIZE / BS) as u64);
    assert!(disk.write_cache() && !disk.read_only() && disk.supports_discard());
    let chunks = SIZE as u64 / BS as u64 / CHUNK;
    // Each thread's writes, in its order, replayed afterwards into the expected image.
    let logs: Vec<Vec<(u64, Vec<u8>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8u64)
            .map(|t| {
                let disk = &disk;
                scope.spawn(move || {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
                    let mut log = Vec::new();
                    for i in 0..80u64 {
                        let chunk = rng.below(chunks / 8) * 8 + t;
                        let first = rng.below(CHUNK);
                        let blocks = 1 + rng.below(CHUNK - first);
                        let lba = chunk * CHUNK + first;
                        let len = (blocks as usize) * BS;
                        let data: Vec<u8> = (0..len)
                            .map(|b| (t as u8) ^ (i as u8).wrapping_mul(31) ^ (b as u8) | 1)
                            .collect();
                        // Three uneven slices, as the ring's buffers may be.
                        let (a, rest) = data.split_at(len / 3);
                        let (b, c) = rest.split_at(rest.len() / 2);
                        let fua = i % 17 == 0;
                        disk.write(lba, &[IoSlice::new(a), IoSlice::new(b), IoSlice::new(c)], fua)
                            .unwrap();
                        let mut back = vec![0u8; len];
                        let (x, y) = back.split_at_mut(len / 2 + 7);
                        disk.read(lba, &mut [IoSliceMut::new(x), IoSliceMut::new(y)]).unwrap();
                        same("read right after the write", &back, &data);
                        log.push((lba, data));
                    }
                    log
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut want = vec![0u8; SIZE];
    for log in &logs {
        for (lba, data) in log {
            let at = *lba as usize * BS;
            want[at..at + data.len()].copy_from_slice(data);
        }
    }
    disk.flush().unwrap();
    same("before closing", &read_all(&disk), &want);
    drop(disk);

    let disk = Qcow2Disk::open(&path, BS as u32, true).unwrap();
    same("reopened", &read_all(&disk), &want);
    drop(disk);
    check_clean(&path);
    same("qemu-img convert", &qemu_raw(&path, &dir), &want);
}

#[test]
fn what_is_written_survives_a_drop_without_a_flush() {
    let dir = Scratch::new("drop");
    let path = dir.path("disk.qcow2");
    let disk = Qcow2Disk::create(&path, 1 << 20, BS as u32).unwrap();
    disk.write(100, &[IoSlice::new(&[0x42; 3 * BS])], false).unwrap();
    drop(disk);
    check_clean(&path);
    let raw = qemu_raw(&path, &dir);
    assert!(raw[100 * BS..103 * BS].iter().all(|&b| b == 0x42));
    assert!(raw[..100 * BS].iter().chain(&raw[103 * BS..]).all(|&b| b == 0));
}

#[test]
fn a_new_image_is_qcow2_v3_with_64k_clusters_and_written_out() {
    let dir = Scratch::new("create");
    let path = dir.path("new.qcow2");
    let disk = Qcow2Disk::create(&path, 3 << 20, 4096).unwrap();
    assert_eq!((disk.num_blocks(), disk.version()), (768, 3));
    // Checked while still open (-U: QEMU's locks would refuse it), before any flush: create
    // wrote it out.
    let info = qemu_ok("qemu-img", &["info", "-U", "--output=json", s(&path)]);
    for want in ["\"virtual-size\": 3145728", "\"cluster-size\": 65536", "\"compat\": \"1.1\""] {
        assert!(info.contains(want), "{want} in {info}");
    }
    let check = qemu_ok("qemu-img", &["check", "-U", s(&path)]);
    assert!(check.contains("No errors were found"), "{check}");
    drop(disk);
    // An existing file is never overwritten.
    let e = Qcow2Disk::create(&path, 1 << 20, 512).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert!(e.to_string().contains(s(&path)), "{e}");
    assert_eq!(qemu_raw(&path, &dir).len(), 3 << 20, "the image is as it was");
    // Sizes that are not whole blocks create nothing.
    let other = dir.path("other.qcow2");
    let e = Qcow2Disk::create(&other, 1000, 512).unwrap_err();
    assert!(e.to_string().contains("not a positive multiple"), "{e}");
    assert!(Qcow2Disk::create(&other, 1 << 20, 1000).is_err());
    assert!(!other.exists());
}

#[test]
fn discard_reads_zeroes_and_qemu_sees_the_clusters_gone() {
    let dir = Scratch::new("discard");
    let path = dir.path("disk.qcow2");
    let disk = Qcow2Disk::create(&path, 4 << 20, BS as u32).unwrap();
    let mb = (1 << 20) / BS as u64; // blocks in 1 MiB
    let cluster = (64 << 10) / BS as u64;
    // Discards free whole clusters: the unit reported to the kernel, as the header says.
    assert_eq!(disk.discard_granularity(), cluster);
    let small = dir.path("small.qcow2");
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", s(&small), "1M"],
    );
    let opened = Qcow2Disk::open(&small, BS as u32, false).unwrap();
    assert_eq!(opened.discard_granularity(), 4096 / BS as u64);
    drop(opened);
    disk.write(mb, &[IoSlice::new(&vec![0xd7; 1 << 20])], false).unwrap();
    // Two whole clusters, and three blocks inside another.
    disk.discard(mb + cluster, 2 * cluster).unwrap();
    disk.discard(mb + 5 * cluster + 9, 3).unwrap();
    let mut want = vec![0u8; 4 << 20];
    want[1 << 20..2 << 20].fill(0xd7);
    let zero = |w: &mut Vec<u8>, lba: u64, n: u64| {
        w[lba as usize * BS..(lba + n) as usize * BS].fill(0);
    };
    zero(&mut want, mb + cluster, 2 * cluster);
    zero(&mut want, mb + 5 * cluster + 9, 3);
    same("after discard", &read_all(&disk), &want);
    // GET LBA STATUS: the discarded clusters are deallocated, the data around them mapped.
    assert_eq!(
        disk.allocation(mb + cluster).unwrap(),
        Some(Allocation { mapped: false, blocks: 2 * cluster })
    );
    assert_eq!(disk.allocation(mb).unwrap(), Some(Allocation { mapped: true, blocks: cluster }));
    assert_eq!(disk.allocation(0).unwrap(), Some(Allocation { mapped: false, blocks: mb }));
    drop(disk);
    check_clean(&path);
    same("qemu-img convert", &qemu_raw(&path, &dir), &want);
    // qemu-img map: the discarded range holds no data.
    let map = qemu_ok("qemu-img", &["map", "--output=json", "-f", "qcow2", s(&path)]);
    let start = (1u64 << 20) + (64 << 10);
    let entry = map
        .lines()
        .find(|l| l.contains(&format!("\"start\": {start},")))
        .unwrap_or_else(|| panic!("no map entry from {start}: {map}"));
    assert!(entry.contains("\"data\": false") || entry.contains("\"zero\": true"), "{entry}");
    assert!(entry.contains(&format!("\"length\": {}", 128 << 10)), "{entry}");
}

#[test]
fn write_zeroes_reads_zeroes() {
    let dir = Scratch::new("zeroes");
    let path = dir.path("disk.qcow2");
    let disk = Qcow2Disk::create(&path, 2 << 20, BS as u32).unwrap();
    disk.write(0, &[IoSlice::new(&vec![0x77; 2 << 20])], false).unwrap();
    disk.write_zeroes(100, 300).unwrap(); // part of a cluster, a whole one, part of another
    let mut want = vec![0x77u8; 2 << 20];
    want[100 * BS..400 * BS].fill(0);
    same("after write_zeroes", &read_all(&disk), &want);
    drop(disk);
    check_clean(&path);
    same("qemu-img convert", &qemu_raw(&path, &dir), &want);
}

#[test]
fn an_overlay_reads_its_base_and_writes_only_itself() {
    let dir = Scratch::new("backing");
    let base = dir.path("base.qcow2");
    let over = dir.path("over.qcow2");
    qemu_ok("qemu-img", &["create", "-q", "-f", "qcow2", s(&base), "2M"]);
    qemu_ok("qemu-io", &["-f", "qcow2", "-c", "write -P 0xab 0 1M", s(&base)]);
    qemu_ok("qemu-io", &["-f", "qcow2", "-c", "write -P 0xcd 1536k 64k", s(&base)]);
    // A relative backing name, resolved against the overlay's folder (not ours).
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", s(&over)],
    );
    let info = qemu_ok("qemu-img", &["info", s(&over)]);
    assert!(info.contains("backing file: base.qcow2 "), "{info}");
    let base_before = std::fs::read(&base).unwrap();

    let disk = Qcow2Disk::open(&over, BS as u32, false).unwrap();
    let mut want = vec![0u8; 2 << 20];
    want[..1 << 20].fill(0xab);
    want[1536 << 10..1600 << 10].fill(0xcd);
    same("the overlay shows its base", &read_all(&disk), &want);
    // The base is locked read-only: no writer may open it meanwhile, but a second overlay
    // on it may.
    let e = Qcow2Disk::open(&base, BS as u32, false).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
    let over2 = dir.path("over2.qcow2");
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", s(&over2)],
    );
    let second = Qcow2Disk::open(&over2, BS as u32, false).unwrap();
    same("a second overlay", &read_all(&second), &want);
    drop(second);
    // A write over the base's data (copy on write of part of a cluster), a discard of base
    // data (must read zero, not the base) and a write where the base has none.
    disk.write(10, &[IoSlice::new(&[0x5c; 3 * BS])], false).unwrap();
    disk.discard(256, 128).unwrap();
    disk.write(3000, &[IoSlice::new(&[0x11; BS])], true).unwrap();
    want[10 * BS..13 * BS].fill(0x5c);
    want[256 * BS..384 * BS].fill(0);
    want[3000 * BS..3001 * BS].fill(0x11);
    same("the overlay after writes", &read_all(&disk), &want);
    assert_eq!(disk.allocation(0).unwrap().map(|a| a.mapped), Some(true), "base data is data");
    drop(disk);

    same("the base file", &std::fs::read(&base).unwrap(), &base_before);
    check_clean(&over);
    check_clean(&base);
    same("qemu-img convert of the overlay", &qemu_raw(&over, &dir), &want);
}

#[test]
fn an_encrypted_image_is_refused() {
    let dir = Scratch::new("luks");
    let enc = dir.path("enc.qcow2");
    qemu_ok(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "--object",
            "secret,id=s0,data=x",
            "-o",
            "encrypt.format=luks,encrypt.key-secret=s0",
            s(&enc),
            "1M",
        ],
    );
    for read_only in [false, true] {
        let msg = Qcow2Disk::open(&enc, BS as u32, read_only).unwrap_err().to_string();
        assert!(msg.contains("encrypted") && msg.contains(s(&enc)), "{msg}");
    }
    // As a backing image too (-u: qemu-img does not open it to make the overlay).
    let over = dir.path("over.qcow2");
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-u", "-b", s(&enc), "-F", "qcow2", s(&over), "1M"],
    );
    let msg = Qcow2Disk::open(&over, BS as u32, true).unwrap_err().to_string();
    assert!(msg.contains("encrypted") && msg.contains(s(&enc)), "{msg}");
}

#[test]
fn a_version_2_image_is_served_without_discard() {
    let dir = Scratch::new("v2");
    let path = dir.path("v2.qcow2");
    qemu_ok("qemu-img", &["create", "-q", "-f", "qcow2", "-o", "compat=0.10", s(&path), "1M"]);
    let disk = Qcow2Disk::open(&path, BS as u32, false).unwrap();
    assert_eq!(disk.version(), 2);
    assert!(!disk.supports_discard());
    assert_eq!(disk.discard(0, 1).unwrap_err().kind(), io::ErrorKind::Unsupported);
    disk.write(0, &[IoSlice::new(&vec![0x3e; 256 * BS])], false).unwrap();
    disk.write_zeroes(10, 200).unwrap();
    let mut want = vec![0u8; 1 << 20];
    want[..256 * BS].fill(0x3e);
    want[10 * BS..210 * BS].fill(0);
    same("v2 after writes", &read_all(&disk), &want);
    drop(disk);
    check_clean(&path);
    same("qemu-img convert", &qemu_raw(&path, &dir), &want);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = Scratch::new("lock");
    let path = dir.path("disk.qcow2");
    let first = Qcow2Disk::create(&path, 1 << 20, BS as u32).unwrap();
    for read_only in [false, true] {
        let e = Qcow2Disk::open(&path, BS as u32, read_only).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        let msg = e.to_string();
        assert!(
            msg.starts_with(s(&path))
                && msg.contains(&format!("in use by process {}", std::process::id())),
            "{msg}"
        );
    }
    // QEMU sees the lock too.
    let out = qemu("qemu-io", &["-f", "qcow2", "-c", "read 0 512", s(&path)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("lock"), "{err}");
    drop(first);
    // Readers share; a writer is then refused.
    let reader = Qcow2Disk::open(&path, BS as u32, true).unwrap();
    let second = Qcow2Disk::open(&path, BS as u32, true).unwrap();
    assert!(Qcow2Disk::open(&path, BS as u32, false).is_err());
    assert!(reader.read_only() && reader.write(0, &[IoSlice::new(&[0; BS])], false).is_err());
    drop((reader, second));
    drop(Qcow2Disk::open(&path, BS as u32, false).unwrap());
}

#[test]
fn sizes_that_are_not_whole_blocks_are_refused() {
    let dir = Scratch::new("sizes");
    let path = dir.path("disk.qcow2");
    qemu_ok("qemu-img", &["create", "-q", "-f", "qcow2", s(&path), "5120"]);
    let msg = Qcow2Disk::open(&path, 4096, false).unwrap_err().to_string();
    assert!(msg.contains("5120 bytes, not a whole number of 4096-byte blocks"), "{msg}");
    let msg = Qcow2Disk::open(&path, 8192, false).unwrap_err().to_string();
    assert!(msg.contains("less than one block"), "{msg}");
    let msg = Qcow2Disk::open(&path, 1000, false).unwrap_err().to_string();
    assert!(msg.contains("block size 1000"), "{msg}");
    assert_eq!(Qcow2Disk::open(&path, BS as u32, false).unwrap().num_blocks(), 10);
}

/// The header of a fresh small image, with one field changed.
fn with(image: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut v = image.to_vec();
    v[at..at + bytes.len()].copy_from_slice(bytes);
    v
}

/// Opens every damaged variant read-only and read-write; each must be refused with an error
/// naming the file, or (if `imago` finds nothing wrong) served without a panic.
fn try_damaged(path: &Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents).unwrap();
    for read_only in [true, false] {
        match Qcow2Disk::open(path, BS as u32, read_only) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(s(path)), "the error names the file: {msg}");
                if read_only {
                    return Err(msg);
                }
            }
            Ok(disk) => {
                let mut buf = vec![0u8; 64 * BS];
                let blocks = disk.num_blocks().min(64) as usize;
                let _ = disk.read(0, &mut [IoSliceMut::new(&mut buf[..blocks * BS])]);
                if !read_only {
                    let _ = disk.write(0, &[IoSlice::new(&[1; BS])], false);
                    let _ = disk.flush();
                }
            }
        }
    }
    Ok(())
}

#[test]
fn damaged_images_are_refused_without_a_panic() {
    let dir = Scratch::new("damaged");
    let good = dir.path("good.qcow2");
    drop(Qcow2Disk::create(&good, 1 << 20, BS as u32).unwrap());
    let mut image = std::fs::read(&good).unwrap();
    // One written cluster, so there is an L1 and an L2 table to damage.
    {
        let disk = Qcow2Disk::open(&good, BS as u32, false).unwrap();
        disk.write(0, &[IoSlice::new(&[9; BS])], false).unwrap();
        drop(disk);
        image = std::fs::read(&good).unwrap_or(image);
    }
    let path = dir.path("bad.qcow2");
    let be64 = |v: u64| v.to_be_bytes();
    let be32 = |v: u32| v.to_be_bytes();
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not a qcow2 image"),
        ("bad magic", with(&image, 0, b"QFI\0"), "not a qcow2 image"),
        ("magic only", image[..4].to_vec(), "cut short"),
        ("header cut short", image[..30].to_vec(), "cut short"),
        ("version 1", with(&image, 4, &be32(1)), ""),
        ("version 4", with(&image, 4, &be32(4)), ""),
        ("cluster bits 0", with(&image, 20, &be32(0)), ""),
        ("cluster bits 63", with(&image, 20, &be32(63)), ""),
        ("virtual size 2^63", with(&image, 24, &be64(1 << 63)), ""),
        ("virtual size 2^64-1", with(&image, 24, &be64(u64::MAX)), ""),
        ("L1 size 2^32-1", with(&image, 36, &be32(u32::MAX)), ""),
        ("L1 table past the end", with(&image, 40, &be64(1 << 40)), "L1 table"),
        ("L1 table at 2^63", with(&image, 40, &be64(1 << 63)), ""),
        ("refcount table past the end", with(&image, 48, &be64(1 << 40)), "refcount table"),
        ("refcount table of 2^32-1 clusters", with(&image, 56, &be32(u32::MAX)), "refcount"),
        ("no refcount table", with(&image, 56, &be32(0)), "refcount table"),
        ("first refcount block gone", with(&image, 0x10000, &be64(0)), "first refcount block"),
        ("backing name past the end", with(&image, 8, &be64(1 << 40)), ""),
        ("header length 2^32-1", with(&image, 100, &be32(u32::MAX)), ""),
        ("unknown incompatible feature", with(&image, 72, &be64(1 << 40)), ""),
        ("truncated to the header cluster", image[..64 << 10].to_vec(), ""),
    ];
    for (what, contents, says) in &refused {
        match try_damaged(&path, contents) {
            Err(msg) => assert!(msg.contains(says), "{what}: {msg}"),
            // imago takes a virtual size QEMU finds too big; writes past its L1 table's reach
            // then fail, cleanly.
            Ok(()) if what.starts_with("virtual size") => {}
            Ok(()) => panic!("{what}: opened"),
        }
    }
    // Random damage to the header cluster and the tables after it: refused or served, never
    // a panic.
    let mut rng = Rng(0x5eed);
    let mut opened = 0;
    for _ in 0..300 {
        let mut v = image.clone();
        for _ in 0..1 + rng.below(4) {
            let at = if rng.below(2) == 0 { rng.below(112) } else { rng.below(v.len() as u64) };
            v[at as usize] ^= 1 << rng.below(8);
        }
        opened += usize::from(try_damaged(&path, &v).is_ok());
    }
    eprintln!("{opened} of 300 randomly damaged images opened");
    // A garbage file that starts with the magic.
    let garbage: Vec<u8> =
        b"QFI\xfb".iter().copied().chain((0..70_000).map(|_| rng.next() as u8)).collect();
    let _ = try_damaged(&path, &garbage);
}

#[test]
fn a_backing_chain_that_loops_or_names_a_data_file_is_refused() {
    let dir = Scratch::new("chains");
    let a = dir.path("a.qcow2");
    let b = dir.path("b.qcow2");
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-u", "-b", "b.qcow2", "-F", "qcow2", s(&a), "1M"],
    );
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-u", "-b", "a.qcow2", "-F", "qcow2", s(&b), "1M"],
    );
    for read_only in [true, false] {
        let msg = Qcow2Disk::open(&a, BS as u32, read_only).unwrap_err().to_string();
        assert!(msg.contains("loops") && msg.contains(s(&a)), "{msg}");
    }
    // A missing backing file is named.
    let c = dir.path("c.qcow2");
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-u", "-b", "gone.qcow2", "-F", "qcow2", s(&c), "1M"],
    );
    let msg = Qcow2Disk::open(&c, BS as u32, true).unwrap_err().to_string();
    assert!(msg.contains(s(&dir.path("gone.qcow2"))), "{msg}");
    // An external data file (the header names a file that would be written) is refused.
    let d = dir.path("d.qcow2");
    qemu_ok(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            &format!("data_file={}", s(&dir.path("d.raw"))),
            s(&d),
            "1M",
        ],
    );
    let msg = Qcow2Disk::open(&d, BS as u32, false).unwrap_err().to_string();
    assert!(msg.contains("external data file"), "{msg}");
    // A header naming a device as its backing file (a host disk read through the guest's
    // unallocated clusters) is refused before anything is opened.
    let dev = dir.path("disk-node");
    let made = std::process::Command::new("mknod").args([s(&dev), "b", "7", "250"]).status();
    assert!(made.is_ok_and(|st| st.success()), "mknod (these tests run as root)");
    let e = dir.path("e.qcow2");
    qemu_ok(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-u", "-b", "disk-node", "-F", "raw", s(&e), "1M"],
    );
    for read_only in [true, false] {
        let msg = Qcow2Disk::open(&e, BS as u32, read_only).unwrap_err().to_string();
        assert!(msg.contains("a backing file must be a regular file"), "{msg}");
    }
}
