//! The emulated disk, driven with plain byte vectors (no ring): what an initiator would see
//! (data read back, sense keys and codes, identity pages). `ring_adapter.rs` checks that the
//! ring gives the same.

mod common;

use common::{Data, STALE, VecDisk};

use scsi_proto::Wire;
use scsi_proto::inquiry::{Designator, StandardInquiry, VpdPage};
use scsi_proto::mode::ModeParameters;
use scsi_proto::params::ReadCapacity16Data;
use scsi_proto::xcopy::{
    BlockToBlockSegment, CopyStatus, ExtendedCopyList, IdentificationCscd, OperatingParameters,
    ParameterListHeader,
};
use std::io::{IoSlice, IoSliceMut};
use tcmu::{BlockDevice, Emulator, FileDisk, Identity, Keep, MemoryDisk, ReadOnly, VolatileCache};

/// The emulation of `dev` (named `disk0`).
fn vec_disk<B: BlockDevice>(dev: B) -> VecDisk<B> {
    VecDisk::new(Emulator::new(dev, Identity::for_name("disk0")))
}

fn read10(lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    [0x28, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}

fn write10(lba: u32, blocks: u16) -> [u8; 10] {
    let mut c = read10(lba, blocks);
    c[0] = 0x2a;
    c
}

#[test]
fn identity_and_capacity() {
    let mut d = vec_disk(MemoryDisk::new(2048, 512).unwrap());
    let std = d.ok(&[0x12, 0, 0, 0, 0xff, 0], Data::Read(255));
    let inq = StandardInquiry::parse(&std).unwrap();
    assert_eq!(
        (inq.vendor_identification.as_str(), inq.product_identification.as_str()),
        ("TCMU-RS", "Rust TCMU disk")
    );
    assert!(inq.cmdque);
    // Allocation length 36 cuts the answer to 36 bytes.
    assert_eq!(d.ok(&[0x12, 0, 0, 0, 36, 0], Data::Read(36)).len(), 36);

    let pages = d.ok(&[0x12, 1, 0x00, 0, 0xff, 0], Data::Read(255));
    let Ok(VpdPage::SupportedVpdPages(p)) = VpdPage::parse(&pages) else { panic!("{pages:02x?}") };
    for code in &p.pages {
        let page = d.ok(&[0x12, 1, *code, 0, 0xff, 0], Data::Read(255));
        let parsed = VpdPage::parse(&page).unwrap_or_else(|e| panic!("VPD {code:#x}: {e}"));
        assert_eq!(parsed.page_code(), *code);
    }
    let serial = d.ok(&[0x12, 1, 0x80, 0, 0xff, 0], Data::Read(255));
    assert_eq!(&serial[4..], Identity::for_name("disk0").serial.as_bytes());
    // An unknown VPD page: INVALID FIELD IN CDB pointing at the page code.
    let (key, asc, _, s) = d.fails_with_sense(&[0x12, 1, 0xc7, 0, 0xff, 0], Data::Read(255));
    assert_eq!((key, asc), (5, 0x24));
    assert!(s.to_string().contains("byte 2"), "{s}");

    let rc = d.ok(&[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], Data::Read(32));
    let rc = ReadCapacity16Data::parse(&rc).unwrap();
    assert_eq!((rc.returned_lba, rc.block_length, rc.lbpme, rc.lbprz), (2047, 512, true, true));
    let rc10 = d.ok(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], Data::Read(8));
    assert_eq!(rc10, [0, 0, 0x07, 0xff, 0, 0, 2, 0]);
}

#[test]
fn reads_and_writes_round_trip() {
    let mut d = vec_disk(MemoryDisk::new(2048, 512).unwrap());
    let data: Vec<u8> = (0..8 * 512).map(|i| (i * 13 % 251) as u8).collect();
    d.ok(&write10(100, 8), Data::Write(&data));
    assert_eq!(d.ok(&read10(100, 8), Data::Read(8 * 512)), data);
    assert_eq!(&d.emu.device().snapshot()[100 * 512..108 * 512], &data[..]);
    // Past the end: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE; nothing written.
    let (key, asc, ascq, _) = d.fails_with_sense(&write10(2047, 2), Data::Write(&data[..1024]));
    assert_eq!((key, asc, ascq), (5, 0x21, 0));
    assert_eq!(d.fails_with_sense(&read10(2048, 1), Data::Read(512)).1, 0x21);
    // READ(16) with FUA, and READ(6).
    let r16 = [0x88, 0x08, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 8, 0, 0];
    assert_eq!(d.ok(&r16, Data::Read(8 * 512)), data);
    assert_eq!(d.ok(&[0x08, 0, 0, 100, 1, 0], Data::Read(512)), data[..512]);
    // RDPROTECT without protection information is refused at the field.
    let (key, asc, _, s) =
        d.fails_with_sense(&[0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0], Data::Read(512));
    assert_eq!((key, asc), (5, 0x24));
    assert!(s.to_string().contains("byte 1, bit 7"), "{s}");
}

#[test]
fn unknown_commands_are_refused_with_the_right_sense() {
    let mut d = vec_disk(MemoryDisk::new(64, 512).unwrap());
    for cdb in [
        &[0xc1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
        &[0x3b, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x02, 0, 0, 0, 0, 0],
    ] {
        let (key, asc, ascq, _) = d.fails_with_sense(cdb, Data::None);
        assert_eq!((key, asc, ascq), (5, 0x20, 0), "{cdb:02x?}");
    }
    d.ok(&[0, 0, 0, 0, 0, 0], Data::None); // TEST UNIT READY
}

#[test]
fn mode_pages_and_descriptor_sense() {
    let mut d = vec_disk(MemoryDisk::new(64, 512).unwrap());
    let all = d.ok(&[0x5a, 0, 0x3f, 0, 0, 0, 0, 0x10, 0, 0], Data::Read(4096));
    let params = ModeParameters::parse(&all, true).unwrap();
    assert_eq!(params.block_descriptors[0].number_of_blocks, 64);
    // Saved values: SAVING PARAMETERS NOT SUPPORTED.
    assert_eq!(d.fails_with_sense(&[0x1a, 0, 0xff, 0, 0xff, 0], Data::Read(255)).1, 0x39);
    // Turn on descriptor-format sense through the Control page: D_SENSE is changeable.
    let mut control = d.ok(&[0x1a, 0x08, 0x0a, 0, 0xff, 0], Data::Read(255));
    control[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
    control[4 + 2] |= 0x04; // D_SENSE
    let select = [0x15, 0x10, 0, 0, control.len() as u8, 0];
    d.ok(&select, Data::Write(&control));
    let c = d.run(&[0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], Data::None);
    assert_eq!((c.status, c.sense[0], c.sense[1], c.sense[2]), (2, 0x72, 5, 0x20));
    // A change to a bit that is not changeable: INVALID FIELD IN PARAMETER LIST.
    control[4 + 3] ^= 0x10; // QERR... in the queue algorithm byte
    let (key, asc, _, _) = d.fails_with_sense(&select, Data::Write(&control));
    assert_eq!((key, asc), (5, 0x26));
}

#[test]
fn thin_provisioning_write_same_and_compare_and_write() {
    let mut d = vec_disk(MemoryDisk::new(1024, 512).unwrap());
    let ones = vec![0xffu8; 16 * 512];
    d.ok(&write10(0, 16), Data::Write(&ones));
    // UNMAP blocks 2..6: they read back as zeroes.
    let list = [0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0];
    d.ok(&[0x42, 0, 0, 0, 0, 0, 0, 0, list.len() as u8, 0], Data::Write(&list));
    let back = d.ok(&read10(0, 8), Data::Read(8 * 512));
    assert!(
        back[..1024].iter().all(|&b| b == 0xff)
            && back[1024..3072].iter().all(|&b| b == 0)
            && back[3072..].iter().all(|&b| b == 0xff)
    );
    // WRITE SAME(16) of a pattern block over 10..14.
    let block: Vec<u8> = (0..512).map(|i| i as u8).collect();
    d.ok(&[0x93, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0], Data::Write(&block));
    let back = d.ok(&read10(10, 4), Data::Read(4 * 512));
    assert!(back.chunks(512).all(|c| c == &block[..]));
    // COMPARE AND WRITE: matching compare writes; a mismatch is MISCOMPARE at the first
    // differing byte and writes nothing.
    let mut both = block.clone();
    both.extend(vec![0x77u8; 512]);
    d.ok(&[0x89, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0], Data::Write(&both));
    assert!(d.ok(&read10(10, 1), Data::Read(512)).iter().all(|&b| b == 0x77));
    let (key, asc, _, sense) = d.fails_with_sense(
        &[0x89, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 1, 0, 0],
        Data::Write(&{
            let mut v = block.clone();
            v[100] ^= 1;
            v.extend(vec![0u8; 512]);
            v
        }),
    );
    assert_eq!((key, asc), (0x0e, 0x1d));
    assert_eq!(sense.information, Some(100));
    assert_eq!(d.ok(&read10(11, 1), Data::Read(512)), block);
    // VERIFY with BYTCHK=1 compares.
    d.ok(&[0x2f, 0x02, 0, 0, 0, 11, 0, 0, 1, 0], Data::Write(&block));
    assert_eq!(
        d.fails_with_sense(&[0x2f, 0x02, 0, 0, 0, 12, 0, 0, 1, 0], Data::Write(&ones[..512])).0,
        0x0e
    );
    // REPORT SUPPORTED OPERATION CODES lists READ(10) with its usage data.
    let one = d.ok(&[0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 0, 64, 0, 0], Data::Read(64));
    assert_eq!((one[1] & 7, &one[2..4]), (3, &[0, 10][..]));
    assert_eq!(one[4], 0x28);
}

#[test]
fn read_only_devices_refuse_writes() {
    let mut d = vec_disk(ReadOnly(MemoryDisk::new(64, 512).unwrap()));
    let (key, asc, _, _) = d.fails_with_sense(&write10(0, 1), Data::Write(&[1; 512]));
    assert_eq!((key, asc), (7, 0x27));
    let ms = d.ok(&[0x1a, 0, 0x3f, 0, 0xff, 0], Data::Read(255));
    assert_eq!(ms[2] & 0x80, 0x80, "WP in the mode parameter header");
    d.ok(&read10(0, 1), Data::Read(512));
}

#[test]
fn file_backend_reads_writes_flushes_and_punches_holes() {
    let path = std::env::temp_dir().join(format!("tcmu-file-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let disk = FileDisk::create(&path, 1 << 20, 4096).unwrap();
    assert_eq!(disk.num_blocks(), 256);
    let mut d = vec_disk(disk);
    let data: Vec<u8> = (0..2 * 4096).map(|i| (i % 253) as u8).collect();
    d.ok(&write10(3, 2), Data::Write(&data));
    d.ok(&[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], Data::None); // SYNCHRONIZE CACHE
    assert_eq!(d.ok(&read10(3, 2), Data::Read(2 * 4096)), data);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[3 * 4096..5 * 4096], &data[..]);
    // UNMAP of block 3 punches a hole: zeroes in the image.
    let list = [0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0];
    d.ok(&[0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], Data::Write(&list));
    let on_disk = std::fs::read(&path).unwrap();
    assert!(on_disk[3 * 4096..4 * 4096].iter().all(|&b| b == 0));
    assert_eq!(&on_disk[4 * 4096..5 * 4096], &data[4096..]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn write_cache_can_be_turned_off_or_on() {
    // MODE SENSE(6) of the Caching page with DBD: WCE is bit 2 of the page's byte 2.
    let caching = [0x1a, 0x08, 0x08, 0, 0xff, 0];
    let wce = |d: &mut VecDisk<MemoryDisk>| d.ok(&caching, Data::Read(255))[4 + 2] & 0x04 != 0;
    let mut d = vec_disk(MemoryDisk::new(64, 512).unwrap());
    assert!(!wce(&mut d), "a memory disk has no volatile cache");
    d.emu = Emulator::new(MemoryDisk::new(64, 512).unwrap(), Identity::for_name("a"))
        .with_write_cache(true);
    assert!(wce(&mut d));
    d.emu = Emulator::new(MemoryDisk::new(64, 512).unwrap(), Identity::for_name("b"))
        .with_write_cache(false);
    assert!(!wce(&mut d));
}

#[test]
fn thirty_two_byte_commands_are_not_claimed_without_type_2_protection() {
    let mut d = vec_disk(MemoryDisk::new(64, 512).unwrap());
    // REPORT SUPPORTED OPERATION CODES, options 2: READ(32) = 7Fh / 0009h is not supported.
    let r = d.ok(&[0xa3, 0x0c, 0x02, 0x7f, 0x00, 0x09, 0, 0, 0xff, 0xff, 0, 0], Data::Read(65535));
    assert_eq!(r[1] & 0x07, 0x01, "not supported: {r:02x?}");
    // And READ(32) itself: INVALID COMMAND OPERATION CODE.
    let mut read32 = [0u8; 32];
    read32[0] = 0x7f;
    read32[7] = 0x18;
    read32[9] = 0x09;
    read32[31] = 1;
    let (key, asc, _, _) = d.fails_with_sense(&read32, Data::Read(512));
    assert_eq!((key, asc), (5, 0x20));
}

#[test]
fn anchored_write_same_and_a_wrapped_compare_and_write_are_refused() {
    let mut d = vec_disk(MemoryDisk::new(64, 512).unwrap());
    let block = [0u8; 512];
    // WRITE SAME(10) with ANCHOR and UNMAP: anchoring is not supported.
    let (key, asc, _, s) =
        d.fails_with_sense(&[0x41, 0x18, 0, 0, 0, 0, 0, 0, 1, 0], Data::Write(&block));
    assert_eq!((key, asc), (5, 0x24));
    assert!(s.to_string().contains("byte 1"), "{s}");
    // COMPARE AND WRITE of "256" blocks (sent as 0) with 2 x 256 blocks of data.
    let data = vec![0u8; 2 * 256 * 512];
    let mut caw = [0u8; 16];
    caw[0] = 0x89;
    let (key, asc, _, _) = d.fails_with_sense(&caw, Data::Write(&data));
    assert_eq!((key, asc), (5, 0x24));
}

// --- EXTENDED COPY / RECEIVE COPY RESULTS ---------------------------------------------------

fn xcopy_cdb(len: u32) -> [u8; 16] {
    let l = len.to_be_bytes();
    [0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, l[0], l[1], l[2], l[3], 0, 0]
}

fn rcr_cdb(sa: u8, list_id: u8, alloc: u32) -> [u8; 16] {
    let a = alloc.to_be_bytes();
    [0x84, sa, list_id, 0, 0, 0, 0, 0, 0, 0, a[0], a[1], a[2], a[3], 0, 0]
}

/// The identification CSCD descriptor naming the disk by the NAA designator of its VPD 83h,
/// found the way libiscsi finds it.
fn own_cscd<B: BlockDevice>(d: &mut VecDisk<B>) -> IdentificationCscd {
    let page = d.ok(&[0x12, 1, 0x83, 0, 0xff, 0], Data::Read(255));
    assert_eq!(page[5] & 0x0f, 3, "the first designator is the NAA one");
    let len = usize::from(page[7]);
    IdentificationCscd::block_device(3, &page[8..8 + len], 512)
}

fn copy_list(cscd: &IdentificationCscd, blocks: u16, src: u64, dst: u64) -> ExtendedCopyList {
    ExtendedCopyList {
        header: ParameterListHeader {
            list_identifier: 1,
            nrcr: true,
            ..ParameterListHeader::default()
        },
        cscds: vec![cscd.clone()],
        segments: vec![BlockToBlockSegment {
            number_of_blocks: blocks,
            source_lba: src,
            destination_lba: dst,
            ..BlockToBlockSegment::default()
        }],
    }
}

#[test]
fn extended_copy_copies_within_the_disk() {
    let mut d = vec_disk(MemoryDisk::new(8192, 512).unwrap());
    let cscd = own_cscd(&mut d);
    let data: Vec<u8> = (0..32 * 512).map(|i| (i % 251) as u8).collect();
    d.ok(&write10(10, 32), Data::Write(&data));
    let list = copy_list(&cscd, 32, 10, 8192 - 32).to_vec();
    d.ok(&xcopy_cdb(list.len() as u32), Data::Write(&list));
    assert_eq!(d.ok(&read10(8192 - 32, 32), Data::Read(32 * 512)), data);
    // Parameter list length 0: nothing to do.
    d.ok(&xcopy_cdb(0), Data::None);

    // 3000 blocks (more than one 1 MiB chunk), overlapping upwards and downwards.
    let big: Vec<u8> = (0..3000 * 512).map(|i| (i / 512 % 253) as u8).collect();
    d.emu.device().write(1000, &[IoSlice::new(&big)], false).unwrap();
    let list = copy_list(&cscd, 3000, 1000, 1100).to_vec();
    d.ok(&xcopy_cdb(list.len() as u32), Data::Write(&list));
    let mut back = vec![0u8; big.len()];
    d.emu.device().read(1100, &mut [IoSliceMut::new(&mut back)]).unwrap();
    assert!(back == big, "upward overlapping copy");
    let list = copy_list(&cscd, 3000, 1100, 900).to_vec();
    d.ok(&xcopy_cdb(list.len() as u32), Data::Write(&list));
    d.emu.device().read(900, &mut [IoSliceMut::new(&mut back)]).unwrap();
    assert!(back == big, "downward overlapping copy");
}

#[test]
fn extended_copy_errors() {
    let mut d = vec_disk(MemoryDisk::new(8192, 512).unwrap());
    let cscd = own_cscd(&mut d);
    let good = copy_list(&cscd, 16, 0, 100);
    let send = |d: &mut VecDisk<MemoryDisk>, bytes: &[u8]| {
        let (key, asc, ascq, s) =
            d.fails_with_sense(&xcopy_cdb(bytes.len() as u32), Data::Write(bytes));
        ((key, asc, ascq), s)
    };
    let bytes = good.to_vec();
    // Truncated lists: PARAMETER LIST LENGTH ERROR.
    for cut in [8, 16 + 31, bytes.len() - 1] {
        assert_eq!(send(&mut d, &bytes[..cut]).0, (5, 0x1a, 0));
    }
    // Too many descriptors, unsupported types.
    let mut l = good.clone();
    l.cscds = vec![cscd.clone(); 3];
    assert_eq!(send(&mut d, &l.to_vec()).0, (5, 0x26, 0x06));
    let mut l = good.clone();
    l.segments = vec![l.segments[0]; 5];
    assert_eq!(send(&mut d, &l.to_vec()).0, (5, 0x26, 0x08));
    let mut b = bytes.clone();
    b[16] = 0xe0;
    assert_eq!(send(&mut d, &b).0, (5, 0x26, 0x07));
    let mut b = bytes.clone();
    b[48] = 0x03;
    assert_eq!(send(&mut d, &b).0, (5, 0x26, 0x09));
    // Reserved LU ID TYPE: INVALID FIELD IN PARAMETER LIST at byte 17 bit 7.
    let mut b = bytes.clone();
    b[17] |= 0xc0;
    let (k, s) = send(&mut d, &b);
    assert_eq!(k, (5, 0x26, 0));
    assert!(s.to_string().contains("byte 17"), "{s}");
    // Unreachable targets: a missing index, a null device, another logical unit.
    let mut l = good.clone();
    l.segments[0].destination = 1;
    assert_eq!(send(&mut d, &l.to_vec()).0, (0x0a, 0x0d, 0x02));
    let mut l = good.clone();
    l.cscds[0].nul = true;
    assert_eq!(send(&mut d, &l.to_vec()).0, (0x0a, 0x0d, 0x02));
    let other = Designator::naa_ieee_registered_extended(0x001405, 0x1234, 0).unwrap().to_vec();
    let mut l = good.clone();
    l.cscds[0] = IdentificationCscd::block_device(3, &other[4..], 512);
    assert_eq!(send(&mut d, &l.to_vec()).0, (0x0a, 0x0d, 0x02));
    // Beyond the end of the disk: COPY ABORTED, nothing written.
    let l = copy_list(&cscd, 2048, 0, 8191);
    assert_eq!(send(&mut d, &l.to_vec()).0, (0x0a, 0, 0));
    // Read-only disks refuse.
    let mut ro = vec_disk(ReadOnly(MemoryDisk::new(8192, 512).unwrap()));
    let list = good.to_vec();
    let (key, asc, _, _) = ro.fails_with_sense(&xcopy_cdb(list.len() as u32), Data::Write(&list));
    assert_eq!((key, asc), (7, 0x27));
}

#[test]
fn receive_copy_results() {
    let mut d = vec_disk(MemoryDisk::new(8192, 512).unwrap());
    let op = d.ok(&rcr_cdb(3, 0, 1024), Data::Read(1024));
    let op = OperatingParameters::parse(&op).unwrap();
    assert_eq!((op.max_cscd_descriptors, op.max_segment_descriptors), (2, 4));
    assert_eq!(op.implemented_descriptors, [0x02, 0xe4]);
    assert_eq!(op.held_data_limit, 0);

    // No held results for list 1 yet.
    let (key, asc, _, _) = d.fails_with_sense(&rcr_cdb(0, 1, 1024), Data::Read(1024));
    assert_eq!((key, asc), (5, 0x24));
    let cscd = own_cscd(&mut d);
    let mut l = copy_list(&cscd, 8, 0, 100);
    l.header.nrcr = false;
    let list = l.to_vec();
    d.ok(&xcopy_cdb(list.len() as u32), Data::Write(&list));
    let cs = d.ok(&rcr_cdb(0, 1, 1024), Data::Read(1024));
    let cs = CopyStatus::parse(&cs).unwrap();
    assert_eq!((cs.copy_manager_status, cs.segments_processed, cs.transfer_count), (1, 1, 8 * 512));
    // Returned once, then discarded.
    let (key, asc, _, _) = d.fails_with_sense(&rcr_cdb(0, 1, 1024), Data::Read(1024));
    assert_eq!((key, asc), (5, 0x24));

    // REPORT SUPPORTED OPERATION CODES lists them.
    let one = d.ok(&[0xa3, 0x0c, 2, 0x83, 0, 0, 0, 0, 1, 0, 0, 0], Data::Read(256));
    assert_eq!(one[1] & 7, 3, "EXTENDED COPY(LID1) supported");
    let one = d.ok(&[0xa3, 0x0c, 2, 0x84, 0, 3, 0, 0, 1, 0, 0, 0], Data::Read(256));
    assert_eq!(one[1] & 7, 3, "OPERATING PARAMETERS supported");
}

#[test]
fn get_lba_status_reports_the_image_holes() {
    let path = std::env::temp_dir().join(format!("tcmu-lbas-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut d = vec_disk(FileDisk::create(&path, 256 * 4096, 4096).unwrap());
    // Blocks 3 and 4 written, the rest never: a sparse image.
    d.ok(&write10(3, 2), Data::Write(&[7u8; 2 * 4096]));
    let get = |lba: u8| [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, lba, 0, 0, 0x04, 0, 0, 0];
    let status = |r: &[u8]| -> Vec<(u64, u32, u8)> {
        r[8..]
            .chunks_exact(16)
            .map(|c| {
                (
                    u64::from_be_bytes(c[0..8].try_into().unwrap()),
                    u32::from_be_bytes(c[8..12].try_into().unwrap()),
                    c[12] & 0x0f,
                )
            })
            .collect()
    };
    let r = d.ok(&get(0), Data::Read(1024));
    if status(&r).len() == 1 {
        // A file system without SEEK_HOLE reports everything as data.
        eprintln!("NOTE: {} keeps no holes; only the fallback was checked", path.display());
        assert_eq!(status(&r)[0], (0, 256, 0));
    } else {
        assert_eq!(status(&r), vec![(0, 3, 1), (3, 2, 0), (5, 251, 1)]);
        // UNMAP block 3: one block more deallocated.
        let unmap = [0u8, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0];
        d.ok(&[0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], Data::Write(&unmap));
        let r = d.ok(&get(0), Data::Read(1024));
        assert_eq!(status(&r), vec![(0, 4, 1), (4, 1, 0), (5, 251, 1)]);
    }
    // A small allocation length gets the first descriptor only.
    let mut small = get(4);
    small[13] = 24;
    small[12] = 0;
    let r = d.ok(&small, Data::Read(24));
    assert_eq!((r.len(), status(&r)[0].0), (24, 4));
    std::fs::remove_file(&path).unwrap();
}

/// A memory disk whose blocks from `bad` on cannot be read.
struct BadBlocks {
    disk: MemoryDisk,
    bad: u64,
}

impl BlockDevice for BadBlocks {
    fn block_size(&self) -> u32 {
        self.disk.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.disk.num_blocks()
    }
    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> std::io::Result<()> {
        if lba + bufs.iter().map(|b| b.len() as u64).sum::<u64>() / 512 > self.bad {
            return Err(std::io::Error::other("unreadable block"));
        }
        self.disk.read(lba, bufs)
    }
    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> std::io::Result<()> {
        self.disk.write(lba, bufs, fua)
    }
}

#[test]
fn a_copy_that_fails_part_way_is_copy_aborted() {
    let mut d = vec_disk(BadBlocks { disk: MemoryDisk::new(4096, 512).unwrap(), bad: 2000 });
    let cscd = own_cscd(&mut d);
    // The source runs into the unreadable blocks.
    let list = copy_list(&cscd, 100, 1950, 0).to_vec();
    let (key, asc, ascq, sense) =
        d.fails_with_sense(&xcopy_cdb(list.len() as u32), Data::Write(&list));
    assert_eq!((key, asc, ascq), (0x0a, 0x08, 0x00), "{sense}");
    // A copy clear of them works.
    let list = copy_list(&cscd, 100, 10, 500).to_vec();
    d.ok(&xcopy_cdb(list.len() as u32), Data::Write(&list));
}

/// A disk that has gone away: every read, write and flush fails with `NotConnected` (what a
/// `VolatileCache` answers after its power was cut), or with another error when `gone` is off.
struct Vanished {
    gone: bool,
    busy: bool,
}

impl Vanished {
    fn error(&self) -> std::io::Error {
        if self.busy {
            std::io::Error::new(std::io::ErrorKind::ResourceBusy, "the cluster is failing over")
        } else if self.gone {
            std::io::Error::new(std::io::ErrorKind::NotConnected, "the disk has lost power")
        } else {
            std::io::Error::other("bad sector")
        }
    }
}

impl BlockDevice for Vanished {
    fn block_size(&self) -> u32 {
        512
    }
    fn num_blocks(&self) -> u64 {
        64
    }
    fn read(&self, _lba: u64, _bufs: &mut [IoSliceMut<'_>]) -> std::io::Result<()> {
        Err(self.error())
    }
    fn write(&self, _lba: u64, _bufs: &[IoSlice<'_>], _fua: bool) -> std::io::Result<()> {
        Err(self.error())
    }
    fn flush(&self) -> std::io::Result<()> {
        Err(self.error())
    }
}

/// (sense key, ASC, ASCQ) of every way the data is touched: READ, WRITE, WRITE with FUA (its
/// flush), SYNCHRONIZE CACHE.
fn io_failures<B: BlockDevice>(d: &mut VecDisk<B>) -> Vec<(u8, u8, u8)> {
    let mut fua = write10(1, 1);
    fua[1] = 0x08;
    vec![
        d.fails_with_sense(&read10(1, 1), Data::Read(512)),
        d.fails_with_sense(&write10(1, 1), Data::Write(&[1; 512])),
        d.fails_with_sense(&fua, Data::Write(&[1; 512])),
        d.fails_with_sense(&[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], Data::None),
    ]
    .into_iter()
    .map(|(key, asc, ascq, _)| (key, asc, ascq))
    .collect()
}

#[test]
fn a_disk_that_lost_power_is_not_ready_not_bad_media() {
    // NOT READY, LOGICAL UNIT COMMUNICATION FAILURE: a vanished disk, as `tcmu cleanup`
    // answers a dead ring; not MEDIUM ERROR, which a file system takes for bad blocks.
    let not_ready = (0x02, 0x08, 0x00);
    let mut d = vec_disk(Vanished { gone: true, busy: false });
    assert_eq!(io_failures(&mut d), vec![not_ready; 4]);
    // A backend briefly unreachable (an RBD cluster failing over): NOT READY, BECOMING READY,
    // which Linux retries.
    let mut d = vec_disk(Vanished { gone: false, busy: true });
    assert_eq!(io_failures(&mut d), vec![(0x02, 0x04, 0x01); 4]);
    // Any other I/O error stays a medium error.
    let mut d = vec_disk(Vanished { gone: false, busy: false });
    let (read, write) = ((0x03, 0x11, 0x00), (0x03, 0x0c, 0x00));
    assert_eq!(io_failures(&mut d), vec![read, write, write, write]);
    // The power-cut test device after its cut.
    let cache = VolatileCache::new(MemoryDisk::new(64, 512).unwrap());
    cache.switch().cut(Keep::Nothing);
    let mut d = vec_disk(cache);
    assert_eq!(io_failures(&mut d), vec![not_ready; 4]);
}

// --- Data-In buffers larger than the answer ------------------------------------------------

#[test]
fn a_data_in_buffer_larger_than_the_answer_gets_zeroes_not_stale_bytes() {
    let mut d = vec_disk(MemoryDisk::new(64, 512).unwrap());
    let data: Vec<u8> = (0..512).map(|i| (i % 199) as u8 + 1).collect();
    d.ok(&write10(3, 1), Data::Write(&data));
    // READ(10) of one block into a 4 KiB buffer (SG_IO and iSCSI allow it) that held another
    // command's bytes.
    let c = d.run(&read10(3, 1), Data::Read(4096));
    assert_eq!((c.status, c.read_len), (0, Some(512)));
    assert_eq!(&c.buf[..512], &data[..]);
    assert!(c.buf[512..].iter().all(|&b| b == 0), "stale bytes after READ");
    // INQUIRY's answer is shorter than the 255 bytes asked, and the buffer is 4 KiB.
    let c = d.run(&[0x12, 0, 0, 0, 0xff, 0], Data::Read(4096));
    let n = usize::from(c.buf[4]) + 5;
    assert_eq!((c.status, c.read_len), (0, Some(n)));
    assert!(c.buf[n..].iter().all(|&b| b == 0), "stale bytes after INQUIRY");
    // A READ that fails, a command that is not understood, and one whose CDB says Data-Out
    // but whose buffer the kernel made Data-In (TCMU takes the direction from the fabric,
    // not the CDB), leave no one else's bytes when they fail.
    for cdb in [
        &read10(64, 1)[..],
        &[0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x2f, 0x02, 0, 0, 0, 64, 0, 0, 1, 0],
    ] {
        let c = d.run(cdb, Data::Read(4096));
        assert_eq!(c.status, 2);
        assert!(c.buf.iter().all(|&b| b == 0), "{cdb:02x?}: stale bytes after failing");
    }
    // A command without data (TEST UNIT READY) handed a buffer anyway.
    let c = d.run(&[0, 0, 0, 0, 0, 0], Data::Read(4096));
    assert_eq!(c.status, 0);
    assert!(c.buf.iter().all(|&b| b == 0), "stale bytes after TEST UNIT READY");
    // A buffer of exactly the transfer: no READ_LEN needed.
    let c = d.run(&read10(3, 1), Data::Read(512));
    assert_eq!((c.status, c.read_len, &c.buf[..]), (0, None, &data[..]));
    assert_ne!(data[0], STALE);
}

/// A memory disk that frees storage in units of `unit` blocks, as an RBD image frees objects.
struct Granular {
    disk: MemoryDisk,
    unit: u64,
}

impl BlockDevice for Granular {
    fn block_size(&self) -> u32 {
        self.disk.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.disk.num_blocks()
    }
    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> std::io::Result<()> {
        self.disk.read(lba, bufs)
    }
    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> std::io::Result<()> {
        self.disk.write(lba, bufs, fua)
    }
    fn discard(&self, lba: u64, blocks: u64) -> std::io::Result<()> {
        self.disk.discard(lba, blocks)
    }
    fn supports_discard(&self) -> bool {
        true
    }
    fn discard_granularity(&self) -> u64 {
        self.unit
    }
}

#[test]
fn block_limits_report_the_discard_granularity_aligned_at_zero() {
    let limits = |dev: Granular| {
        let mut d = vec_disk(dev);
        let page = d.ok(&[0x12, 1, 0xb0, 0, 0xff, 0], Data::Read(255));
        let Ok(VpdPage::BlockLimits(b)) = VpdPage::parse(&page) else { panic!("VPD B0h") };
        (b.optimal_unmap_granularity, b.unmap_granularity_alignment)
    };
    let disk = || MemoryDisk::new(64, 512).unwrap();
    // 4 MiB objects of 512-byte blocks.
    assert_eq!(limits(Granular { disk: disk(), unit: 8192 }), (8192, Some(0)));
    // No unit: one block, no alignment claimed.
    assert_eq!(limits(Granular { disk: disk(), unit: 1 }), (1, None));
    // A unit larger than MAXIMUM UNMAP LBA COUNT: that count (the kernel splits discards at
    // granularity multiples, and cannot below it).
    assert_eq!(limits(Granular { disk: disk(), unit: 1 << 40 }), (1 << 20, Some(0)));
    // Not a power of two (three 4 MiB objects a set): the largest power of two dividing it.
    assert_eq!(limits(Granular { disk: disk(), unit: 3 * 8192 }), (8192, Some(0)));
}
