//! No allocation is sized by a CDB or parameter-list field beyond the data actually received:
//! a global allocator records the largest single allocation made while a command runs, on a
//! disk far larger than memory whose blocks read as zeroes.

mod common;

use common::{Data, VecDisk};
use scsi_proto::Wire;
use scsi_proto::sense::SenseData;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tcmu::{Emulator, Identity, NullDisk, Reply};

/// The system allocator, noting the largest allocation made on a thread while it is armed.
struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; `note` only touches thread-locals
// that need no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f`, returning what it returned and the largest allocation it made.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, LARGEST.with(Cell::get))
}

const MIB: usize = 1 << 20;

fn disk() -> VecDisk<NullDisk> {
    VecDisk::new(Emulator::new(
        // 2^40 blocks of 512 bytes (512 TiB): CDBs naming huge ranges pass the range checks.
        NullDisk::new(1 << 40, 512).unwrap(),
        Identity::for_name("huge"),
    ))
}

/// Runs `cdb` with `data` as its Data-Out, the buffer made before the allocations are counted:
/// the reply and the largest allocation the emulation made.
fn run_counted(d: &VecDisk<NullDisk>, cdb: &[u8], data: &[u8]) -> (Reply, usize) {
    let mut buf = data.to_vec();
    largest_allocation(|| d.emu.execute(cdb, &mut buf))
}

fn sense(r: &Reply) -> SenseData {
    SenseData::parse(&r.sense_bytes()).unwrap()
}

fn verify16(bytchk: u8, lba: u64, blocks: u32) -> Vec<u8> {
    let mut c = vec![0x8f, bytchk << 1];
    c.extend(lba.to_be_bytes());
    c.extend(blocks.to_be_bytes());
    c.extend([0, 0]);
    c
}

#[test]
fn verify_of_four_billion_blocks_with_one_block_of_data_is_refused_without_allocating() {
    let d = disk();
    let block = [0u8; 512];
    let (c, largest) = run_counted(&d, &verify16(1, 0, u32::MAX), &block);
    let s = sense(&c);
    assert_eq!(
        (c.status, s.key as u8, s.additional.asc),
        (2, 5, 0x1a),
        "ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR: {s}"
    );
    assert!(largest < MIB, "largest allocation {largest} bytes");
}

#[test]
fn verify_compares_in_bounded_chunks() {
    let mut d = disk();
    // 6 MiB of zeroes match the disk; the compare never holds them all at once.
    let zeroes = vec![0u8; 6 * MIB];
    let blocks = (zeroes.len() / 512) as u32;
    let (c, largest) = run_counted(&d, &verify16(1, 1000, blocks), &zeroes);
    assert_eq!(c.status, 0);
    assert!(largest <= 3 * MIB, "largest allocation {largest} bytes");
    // A difference in the fifth MiB is reported at its offset.
    let mut data = zeroes.clone();
    data[4 * MIB + 77] = 1;
    let c = d.run(&verify16(1, 1000, blocks), Data::Write(&data));
    let s = SenseData::parse(&c.sense).unwrap();
    assert_eq!((c.status, s.key as u8, s.additional.asc), (2, 0x0e, 0x1d));
    assert_eq!(s.information, Some((4 * MIB + 77) as u64));
    // BYTCHK=3: one block against each of 20000 blocks, a miscompare in the last one.
    let mut one = [0u8; 512];
    d.ok(&verify16(3, 5, 20000), Data::Write(&one));
    one[9] = 0xff;
    let c = d.run(&verify16(3, 5, 20000), Data::Write(&one));
    let s = SenseData::parse(&c.sense).unwrap();
    assert_eq!((c.status, s.key as u8), (2, 0x0e));
    assert_eq!(s.information, Some(9), "the first block already differs");
}

#[test]
fn data_out_commands_allocate_no_more_than_they_receive() {
    let d = disk();
    let block = [0x5au8; 512];
    // Each: a CDB whose fields promise far more than the one block sent.
    let cdbs: Vec<Vec<u8>> = vec![
        // WRITE(16) of 2^32-1 blocks.
        {
            let mut c = verify16(0, 0, u32::MAX);
            c[0] = 0x8a;
            c
        },
        // WRITE SAME(16) of 2^20 blocks of a pattern.
        {
            let mut c = verify16(0, 0, 1 << 20);
            c[0] = 0x93;
            c
        },
        // COMPARE AND WRITE of 255 blocks.
        {
            let mut c = verify16(0, 0, 0);
            c[0] = 0x89;
            c[13] = 255;
            c
        },
        // UNMAP, EXTENDED COPY, MODE SELECT(10) with the largest PARAMETER LIST LENGTH.
        vec![0x42, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
        vec![0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0],
        vec![0x55, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
    ];
    for cdb in cdbs {
        let (_, largest) = run_counted(&d, &cdb, &block);
        assert!(largest <= 2 * MIB, "{cdb:02x?}: largest allocation {largest} bytes");
    }
}
