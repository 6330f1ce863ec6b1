//! When the emulation makes data durable: every command that changes the medium, with the write
//! cache on and off (WCE in the Caching mode page) and FUA set and clear where the command has
//! it, against a backend that records what it is asked to do, in order.
//!
//! The rule checked: with WCE = 0 (Linux then sends no SYNCHRONIZE CACHE), with FUA, and for
//! WRITE AND VERIFY, every change a command made is followed by a flush (or was itself a FUA
//! write) before the command ends GOOD; with WCE = 1 and no FUA nothing is flushed. A flush
//! that fails ends the command in CHECK CONDITION, never GOOD.

mod common;

use common::{Data, VecDisk};
use scsi_proto::Wire;
use scsi_proto::xcopy::{
    BlockToBlockSegment, ExtendedCopyList, IdentificationCscd, ParameterListHeader,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tcmu::{BlockDevice, Emulator, Identity, MemoryDisk};

const BLOCKS: u64 = 8192;
const BS: usize = 512;

/// What the backend was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Write { fua: bool },
    Flush,
    Discard,
    WriteZeroes,
}

impl Op {
    /// Whether the operation changes the medium.
    fn changes(self) -> bool {
        !matches!(self, Op::Flush)
    }

    /// Whether the operation itself leaves its data durable.
    fn durable(self) -> bool {
        matches!(self, Op::Write { fua: true })
    }
}

/// A memory disk with a volatile cache that logs every change and flush.
struct Recorder {
    disk: MemoryDisk,
    log: Mutex<Vec<Op>>,
    fail_flush: AtomicBool,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            disk: MemoryDisk::new(BLOCKS, BS as u32).unwrap(),
            log: Mutex::new(Vec::new()),
            fail_flush: AtomicBool::new(false),
        }
    }

    fn record(&self, op: Op) {
        self.log.lock().unwrap().push(op);
    }

    fn take_log(&self) -> Vec<Op> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl BlockDevice for Recorder {
    fn block_size(&self) -> u32 {
        self.disk.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.disk.num_blocks()
    }
    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        self.disk.read(lba, bufs)
    }
    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        self.record(Op::Write { fua });
        self.disk.write(lba, bufs, fua)
    }
    fn flush(&self) -> io::Result<()> {
        if self.fail_flush.load(Ordering::Relaxed) {
            return Err(io::Error::other("flush failed"));
        }
        self.record(Op::Flush);
        self.disk.flush()
    }
    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.record(Op::Discard);
        self.disk.discard(lba, blocks)
    }
    fn supports_discard(&self) -> bool {
        true
    }
    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.record(Op::WriteZeroes);
        self.disk.write_zeroes(lba, blocks)
    }
    fn write_cache(&self) -> bool {
        true
    }
}

fn disk(wce: bool) -> VecDisk<Recorder> {
    VecDisk::new(Emulator::new(Recorder::new(), Identity::for_name("rec")).with_write_cache(wce))
}

/// One data-changing command: its CDB (FUA clear) and Data-Out.
struct Case {
    name: &'static str,
    cdb: Vec<u8>,
    data: Vec<u8>,
    /// Where its FUA bit is (byte, mask), if it has one.
    fua: Option<(usize, u8)>,
    /// Durable whatever the cache and FUA say (WRITE AND VERIFY).
    always: bool,
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 + 1).collect()
}

fn rw10(op: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    vec![op, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}

fn rw12(op: u8, lba: u32, blocks: u32) -> Vec<u8> {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    vec![op, 0, l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3], 0, 0]
}

fn rw16(op: u8, lba: u64, blocks: u32) -> Vec<u8> {
    let mut c = vec![op, 0];
    c.extend(lba.to_be_bytes());
    c.extend(blocks.to_be_bytes());
    c.extend([0, 0]);
    c
}

/// An EXTENDED COPY(LID1) of 8 blocks from 0 to 100 within the disk, named by its NAA
/// designator (as an initiator finds it in VPD 83h).
fn xcopy(d: &mut VecDisk<Recorder>) -> (Vec<u8>, Vec<u8>) {
    let page = d.ok(&[0x12, 1, 0x83, 0, 0xff, 0], Data::Read(255));
    let len = usize::from(page[7]);
    let list = ExtendedCopyList {
        header: ParameterListHeader {
            list_identifier: 1,
            nrcr: true,
            ..ParameterListHeader::default()
        },
        cscds: vec![IdentificationCscd::block_device(3, &page[8..8 + len], 512)],
        segments: vec![BlockToBlockSegment {
            number_of_blocks: 8,
            source_lba: 0,
            destination_lba: 100,
            ..BlockToBlockSegment::default()
        }],
    }
    .to_vec();
    let l = (list.len() as u32).to_be_bytes();
    let cdb = vec![0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, l[0], l[1], l[2], l[3], 0, 0];
    (cdb, list)
}

/// Every command that changes the medium, in each of its forms.
fn cases(d: &mut VecDisk<Recorder>) -> Vec<Case> {
    let block = pattern(BS);
    let zero = vec![0u8; BS];
    let c = |name, cdb: Vec<u8>, data: Vec<u8>, fua, always| Case { name, cdb, data, fua, always };
    let unmap_list = {
        let mut l = vec![0, 22, 0, 16, 0, 0, 0, 0];
        l.extend(20u64.to_be_bytes());
        l.extend(4u32.to_be_bytes());
        l.extend([0; 4]);
        l
    };
    let (xcopy_cdb, xcopy_list) = xcopy(d);
    let mut caw_data = vec![0u8; 2 * BS]; // compares with the zeroed disk, then writes
    caw_data[BS..].copy_from_slice(&block);
    vec![
        c("WRITE(6)", vec![0x0a, 0, 0, 7, 2, 0], pattern(2 * BS), None, false),
        c("WRITE(10)", rw10(0x2a, 7, 2), pattern(2 * BS), Some((1, 0x08)), false),
        c("WRITE(12)", rw12(0xaa, 7, 2), pattern(2 * BS), Some((1, 0x08)), false),
        c("WRITE(16)", rw16(0x8a, 7, 2), pattern(2 * BS), Some((1, 0x08)), false),
        c("WRITE AND VERIFY(10)", rw10(0x2e, 7, 2), pattern(2 * BS), None, true),
        c("WRITE AND VERIFY(12)", rw12(0xae, 7, 2), pattern(2 * BS), None, true),
        c("WRITE AND VERIFY(16)", rw16(0x8e, 7, 2), pattern(2 * BS), None, true),
        c("WRITE SAME(10) data", rw10(0x41, 10, 8), block.clone(), None, false),
        c("WRITE SAME(10) zeroes", rw10(0x41, 10, 8), zero.clone(), None, false),
        c(
            "WRITE SAME(10) UNMAP",
            {
                let mut v = rw10(0x41, 10, 8);
                v[1] = 0x08;
                v
            },
            zero.clone(),
            None,
            false,
        ),
        c(
            "WRITE SAME(10) UNMAP of data",
            {
                let mut v = rw10(0x41, 10, 8);
                v[1] = 0x08;
                v
            },
            block.clone(),
            None,
            false,
        ),
        c("WRITE SAME(16) data", rw16(0x93, 10, 3000), block.clone(), None, false),
        c("WRITE SAME(16) zeroes", rw16(0x93, 10, 8), zero, None, false),
        c(
            "WRITE SAME(16) NDOB",
            {
                let mut v = rw16(0x93, 10, 8);
                v[1] = 0x01;
                v
            },
            Vec::new(),
            None,
            false,
        ),
        c(
            "WRITE SAME(16) NDOB UNMAP",
            {
                let mut v = rw16(0x93, 10, 8);
                v[1] = 0x09;
                v
            },
            Vec::new(),
            None,
            false,
        ),
        c("UNMAP", vec![0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], unmap_list, None, false),
        c(
            "COMPARE AND WRITE",
            {
                let mut v = rw16(0x89, 30, 0);
                v[13] = 1;
                v
            },
            caw_data,
            Some((1, 0x08)),
            false,
        ),
        c("EXTENDED COPY", xcopy_cdb, xcopy_list, None, false),
        c("FORMAT UNIT", vec![0x04, 0, 0, 0, 0, 0], Vec::new(), None, false),
    ]
}

fn data_out(data: &[u8]) -> Data<'_> {
    if data.is_empty() { Data::None } else { Data::Write(data) }
}

/// Every (case, WCE, FUA) combination: the cache setting, the CDB, whether it must be durable.
fn table() -> Vec<(String, bool, Case, bool)> {
    let mut out = Vec::new();
    for wce in [false, true] {
        let mut d = disk(wce);
        for case in cases(&mut d) {
            let fuas: &[bool] = if case.fua.is_some() { &[false, true] } else { &[false] };
            for &fua in fuas {
                let mut case = Case {
                    name: case.name,
                    cdb: case.cdb.clone(),
                    data: case.data.clone(),
                    fua: case.fua,
                    always: case.always,
                };
                if let (true, Some((byte, mask))) = (fua, case.fua) {
                    case.cdb[byte] |= mask;
                }
                let durable = case.always || fua || !wce;
                let label = format!("{} WCE={} FUA={}", case.name, u8::from(wce), u8::from(fua));
                out.push((label, wce, case, durable));
            }
        }
    }
    out
}

#[test]
fn every_data_changing_command_is_durable_exactly_when_it_must_be() {
    let mut wrong = Vec::new();
    for (label, wce, case, durable) in table() {
        // A fresh disk for each: COMPARE AND WRITE compares with zeroes.
        let mut d = disk(wce);
        d.emu.device().take_log();
        let c = d.run(&case.cdb, data_out(&case.data));
        assert_eq!(c.status, 0, "{label}: {:02x?}", c.sense);
        let log = d.emu.device().take_log();
        if case.name != "FORMAT UNIT" {
            assert!(log.iter().any(|o| o.changes()), "{label}: changed nothing");
        }
        // Each change is durable: a FUA write, or a flush after it.
        let made_durable = log
            .iter()
            .enumerate()
            .all(|(i, op)| !op.changes() || op.durable() || log[i + 1..].contains(&Op::Flush))
            && log.iter().any(|o| *o == Op::Flush || o.durable());
        let any_sync = log.iter().any(|o| *o == Op::Flush || o.durable());
        if durable && !made_durable {
            wrong.push(format!("{label}: not durable before GOOD: {log:?}"));
        }
        if !durable && any_sync {
            wrong.push(format!("{label}: flushed needlessly: {log:?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn a_failed_flush_fails_the_command() {
    let mut wrong = Vec::new();
    for (label, wce, case, durable) in table() {
        if !durable {
            continue;
        }
        let mut d = disk(wce);
        d.emu.device().fail_flush.store(true, Ordering::Relaxed);
        let c = d.run(&case.cdb, data_out(&case.data));
        let log = d.emu.device().take_log();
        // A backend with FUA writes of its own may make a write durable without a flush;
        // the emulation asks for flushes, so a failed one must show.
        if log.iter().any(|o| o.durable()) {
            continue;
        }
        let sense = scsi_proto::sense::SenseData::parse(&c.sense).ok();
        let key_asc = sense.map(|s| (s.key as u8, s.additional.asc));
        if c.status != 2 || key_asc != Some((3, 0x0c)) {
            wrong.push(format!("{label}: status {:#x}, sense {key_asc:02x?}", c.status));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// MODE SENSE(6) of the Caching page (current values, no block descriptor), ready to send back
/// with MODE SELECT(6) with WCE as given.
fn caching_page(d: &mut VecDisk<Recorder>, wce: bool) -> Vec<u8> {
    let mut page = d.ok(&[0x1a, 0x08, 0x08, 0, 0xff, 0], Data::Read(255));
    page[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
    if wce {
        page[4 + 2] |= 0x04;
    } else {
        page[4 + 2] &= !0x04;
    }
    page
}

fn wce(d: &mut VecDisk<Recorder>) -> bool {
    let page = d.ok(&[0x1a, 0x08, 0x08, 0, 0xff, 0], Data::Read(255));
    page[4 + 2] & 0x04 != 0
}

#[test]
fn turning_the_write_cache_off_flushes_what_it_held() {
    let mut d = disk(true);
    d.ok(&rw10(0x2a, 5, 1), Data::Write(&pattern(BS)));
    assert_eq!(d.emu.device().take_log(), [Op::Write { fua: false }]);

    // WCE 1 -> 0: the write acknowledged under the cache is flushed before GOOD.
    let off = caching_page(&mut d, false);
    let select = [0x15, 0x10, 0, 0, off.len() as u8, 0];
    d.ok(&select, Data::Write(&off));
    assert_eq!(d.emu.device().take_log(), [Op::Flush]);
    assert!(!wce(&mut d));
    // From now on every write is durable.
    d.ok(&rw10(0x2a, 5, 1), Data::Write(&pattern(BS)));
    let log = d.emu.device().take_log();
    assert!(
        log == [Op::Write { fua: false }, Op::Flush] || log == [Op::Write { fua: true }],
        "{log:?}"
    );
    // WCE 0 -> 0 and 0 -> 1 have nothing to flush.
    d.ok(&select, Data::Write(&off));
    let on = caching_page(&mut d, true);
    d.ok(&select, Data::Write(&on));
    assert!(wce(&mut d));
    assert_eq!(d.emu.device().take_log(), []);
}

#[test]
fn a_failed_flush_keeps_the_write_cache_on() {
    let mut d = disk(true);
    d.ok(&rw10(0x2a, 5, 1), Data::Write(&pattern(BS)));
    d.emu.device().fail_flush.store(true, Ordering::Relaxed);
    let off = caching_page(&mut d, false);
    let select = [0x15, 0x10, 0, 0, off.len() as u8, 0];
    let (key, asc, _) = d.fails(&select, Data::Write(&off));
    assert_eq!((key, asc), (3, 0x0c), "MEDIUM ERROR, WRITE ERROR");
    // The mode is unchanged: the cache still holds the write, and says so.
    assert!(wce(&mut d));
    d.emu.device().fail_flush.store(false, Ordering::Relaxed);
    d.ok(&select, Data::Write(&off));
    assert!(!wce(&mut d));
    assert!(d.emu.device().take_log().ends_with(&[Op::Flush]));
}
