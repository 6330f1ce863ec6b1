//! A backend that panics costs one command: the server answers it with INTERNAL TARGET FAILURE
//! (the harness catches the panic the same way), and the locks the panic unwound through do not
//! turn every later command away.

mod common;

use common::SimDisk;
use std::io::{self, IoSlice, IoSliceMut};
use std::sync::atomic::{AtomicBool, Ordering};
use tcmu::{BlockDevice, Emulator, Identity, MemoryDisk};
use tcmu_ring::sim::SimData;

/// A memory disk with a write cache whose next read, or next flush, panics when armed.
struct Panicky {
    disk: MemoryDisk,
    panic_read: AtomicBool,
    panic_flush: AtomicBool,
}

impl BlockDevice for Panicky {
    fn block_size(&self) -> u32 {
        self.disk.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.disk.num_blocks()
    }
    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        if self.panic_read.swap(false, Ordering::Relaxed) {
            panic!("backend read panics (as the test asked)");
        }
        self.disk.read(lba, bufs)
    }
    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        self.disk.write(lba, bufs, fua)
    }
    fn flush(&self) -> io::Result<()> {
        if self.panic_flush.swap(false, Ordering::Relaxed) {
            panic!("backend flush panics (as the test asked)");
        }
        Ok(())
    }
    fn write_cache(&self) -> bool {
        true
    }
}

fn disk() -> SimDisk<Panicky> {
    let dev = Panicky {
        disk: MemoryDisk::new(64, 512).unwrap(),
        panic_read: AtomicBool::new(false),
        panic_flush: AtomicBool::new(false),
    };
    SimDisk::new(Emulator::new(dev, Identity::for_name("panicky")))
}

fn write10(lba: u8, blocks: u8) -> [u8; 10] {
    [0x2a, 0, 0, 0, 0, lba, 0, 0, blocks, 0]
}

/// HARDWARE ERROR, INTERNAL TARGET FAILURE: what the server answers a panic with.
fn internal_target_failure(d: &mut SimDisk<Panicky>, cdb: &[u8], data: &[u8]) {
    assert_eq!(d.fails(cdb, SimData::Write(data)), (4, 0x44, 0), "{cdb:02x?}");
}

/// MODE SENSE(6) of the Caching page: whether WCE is set, and the page ready for MODE SELECT
/// with WCE as asked.
fn caching(d: &mut SimDisk<Panicky>, wce: bool) -> (bool, Vec<u8>) {
    let mut page = d.ok(&[0x1a, 0x08, 0x08, 0, 0xff, 0], SimData::Read(255));
    let was = page[4 + 2] & 0x04 != 0;
    page[0] = 0;
    page[4 + 2] = (page[4 + 2] & !0x04) | if wce { 0x04 } else { 0 };
    (was, page)
}

#[test]
fn a_panic_inside_compare_and_write_costs_one_command() {
    let mut d = disk();
    let mut caw = [0u8; 16];
    caw[0] = 0x89;
    caw[9] = 5; // LBA 5
    caw[13] = 1; // one block
    let both = [[0u8; 512], [7u8; 512]].concat();
    // The compare reads under the exclusive lock; the read panics.
    d.emu.device().panic_read.store(true, Ordering::Relaxed);
    internal_target_failure(&mut d, &caw, &both);
    // Writes, COMPARE AND WRITE and MODE SELECT go on.
    d.ok(&write10(1, 1), SimData::Write(&[3u8; 512]));
    d.ok(&caw, SimData::Write(&both));
    let (_, page) = caching(&mut d, true);
    d.ok(&[0x15, 0x10, 0, 0, page.len() as u8, 0], SimData::Write(&page));
    assert_eq!(d.ok(&[0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], SimData::Read(512)), [3u8; 512]);
}

#[test]
fn a_panic_inside_mode_select_leaves_the_mode_pages_whole() {
    let mut d = disk();
    let (was, off) = caching(&mut d, false);
    assert!(was, "the write cache starts on");
    let select = [0x15, 0x10, 0, 0, off.len() as u8, 0];
    // Turning the cache off flushes under the mode lock; the flush panics.
    d.emu.device().panic_flush.store(true, Ordering::Relaxed);
    internal_target_failure(&mut d, &select, &off);
    // The pages are as they were, not half changed nor reset: the cache is still on.
    assert!(caching(&mut d, false).0);
    // Writes and MODE SELECT go on; the cache can now be turned off.
    d.ok(&write10(1, 1), SimData::Write(&[3u8; 512]));
    d.ok(&select, SimData::Write(&off));
    assert!(!caching(&mut d, false).0);
}
