//! The emulation on the ring: the adapter (`CommandData` for the ring's buffers, `Reply` into
//! `Response`) gives what the emulation gives on plain vectors, and the kernel sees READ_LEN
//! and zeroes where the answer is shorter than the buffer. Driven through the real ring
//! consumer by the simulated kernel.

mod common;

use common::{Data, SimDisk, VecDisk};
use tcmu::{BlockDevice, Emulator, Identity, MemoryDisk};
use tcmu_ring::sim::SimData;

fn emulator<B: BlockDevice>(dev: B) -> Emulator<B> {
    Emulator::new(dev, Identity::for_name("disk0"))
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
fn the_ring_gets_what_plain_vectors_get() {
    let mut ring = SimDisk::new(emulator(MemoryDisk::new(256, 512).unwrap()));
    let mut plain = VecDisk::new(emulator(MemoryDisk::new(256, 512).unwrap()));
    let data: Vec<u8> = (0..24 * 512).map(|i| (i % 241) as u8).collect();
    // D_SENSE on, through the Control page: the sense of later failures is descriptor format.
    let mut control = plain.ok(&[0x1a, 0x08, 0x0a, 0, 0xff, 0], Data::Read(255));
    control[0] = 0;
    control[4 + 2] |= 0x04;
    let select = [0x15, 0x10, 0, 0, control.len() as u8, 0];
    let commands: Vec<(Vec<u8>, Vec<u8>, usize)> = vec![
        // A write and a read spanning several of the ring's data blocks.
        (write10(10, 24).to_vec(), data.clone(), 0),
        (read10(10, 24).to_vec(), Vec::new(), 24 * 512),
        // A read into a buffer larger than the answer; INQUIRY shorter than its buffer.
        (read10(11, 1).to_vec(), Vec::new(), 8192),
        (vec![0x12, 0, 0, 0, 0xff, 0], Vec::new(), 4096),
        (vec![0x12, 1, 0x83, 0, 0xff, 0], Vec::new(), 255),
        // Failures: out of range, an unknown opcode, an invalid field.
        (read10(256, 1).to_vec(), Vec::new(), 512),
        (vec![0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], Vec::new(), 0),
        (vec![0x12, 1, 0xc7, 0, 0xff, 0], Vec::new(), 255),
        (select.to_vec(), control.clone(), 0),
        (read10(256, 1).to_vec(), Vec::new(), 512),
        (vec![0, 0, 0, 0, 0, 0], Vec::new(), 0),
    ];
    for (cdb, out, read) in commands {
        let (sim, vec) = if !out.is_empty() {
            (SimData::Write(&out), Data::Write(&out))
        } else if read > 0 {
            (SimData::Read(read), Data::Read(read))
        } else {
            (SimData::None, Data::None)
        };
        let (rsp, buf) = ring.run_raw(&cdb, sim);
        let c = plain.run(&cdb, vec);
        assert_eq!(rsp.status, c.status, "{cdb:02x?}");
        assert_eq!(&rsp.sense[..usize::from(rsp.sense_len)], &c.sense[..], "{cdb:02x?}");
        assert_eq!(rsp.read_len.map(|n| n as usize), c.read_len, "{cdb:02x?}");
        assert!(!rsp.unknown_op);
        if read > 0 {
            assert_eq!(buf, c.buf, "{cdb:02x?}");
        }
    }
}

/// Leaves 0xEE (another command's bytes) in the first 4 KiB of the data area, where the next
/// command's buffer will be.
fn leave_stale_bytes<B: BlockDevice>(d: &mut SimDisk<B>) {
    d.ok(&write10(40, 8), SimData::Write(&[0xee; 4096]));
}

#[test]
fn a_data_in_buffer_larger_than_the_answer_gets_zeroes_not_stale_bytes() {
    let mut d = SimDisk::new(emulator(MemoryDisk::new(64, 512).unwrap()));
    let data: Vec<u8> = (0..512).map(|i| (i % 199) as u8 + 1).collect();
    d.ok(&write10(3, 1), SimData::Write(&data));
    // READ(10) of one block into a 4 KiB buffer (SG_IO and iSCSI allow it).
    leave_stale_bytes(&mut d);
    let (rsp, buf) = d.run_raw(&read10(3, 1), SimData::Read(4096));
    assert_eq!((rsp.status, rsp.read_len), (0, Some(512)));
    assert_eq!(&buf[..512], &data[..]);
    assert!(buf[512..].iter().all(|&b| b == 0), "stale bytes after READ");
    // What the initiator gets: the block, READ_LEN 512.
    leave_stale_bytes(&mut d);
    let c = d.run(&read10(3, 1), SimData::Read(4096));
    assert_eq!((c.status, c.read_len, &c.data_in[..]), (0, Some(512), &data[..]));
    // INQUIRY's answer is shorter than the 255 bytes asked, and the buffer is 4 KiB.
    leave_stale_bytes(&mut d);
    let (rsp, buf) = d.run_raw(&[0x12, 0, 0, 0, 0xff, 0], SimData::Read(4096));
    let n = usize::from(buf[4]) + 5;
    assert_eq!((rsp.status, rsp.read_len), (0, Some(n as u32)));
    assert!(buf[n..].iter().all(|&b| b == 0), "stale bytes after INQUIRY");
    // A READ that fails, a command that is not understood, and one whose CDB says Data-Out
    // but whose buffer the kernel made Data-In (TCMU takes the direction from the fabric,
    // not the CDB), leave no one else's bytes when they fail.
    for cdb in [
        &read10(64, 1)[..],
        &[0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0x2f, 0x02, 0, 0, 0, 64, 0, 0, 1, 0],
    ] {
        leave_stale_bytes(&mut d);
        let (rsp, buf) = d.run_raw(cdb, SimData::Read(4096));
        assert_eq!(rsp.status, 2);
        assert!(buf.iter().all(|&b| b == 0), "{cdb:02x?}: stale bytes after failing");
    }
    // A command without data (TEST UNIT READY) handed a buffer anyway.
    leave_stale_bytes(&mut d);
    let (rsp, buf) = d.run_raw(&[0, 0, 0, 0, 0, 0], SimData::Read(4096));
    assert_eq!(rsp.status, 0);
    assert!(buf.iter().all(|&b| b == 0), "stale bytes after TEST UNIT READY");
    // A buffer of exactly the transfer: no READ_LEN needed.
    let (rsp, buf) = d.run_raw(&read10(3, 1), SimData::Read(512));
    assert_eq!((rsp.status, rsp.read_len, &buf[..]), (0, None, &data[..]));
}
