//! The handler trait on plain byte vectors (through `LogicalUnit::execute`) and on the
//! simulated kernel: what a `ScsiCmd` shows of a command, the answers built with its helpers,
//! declining to the emulation, undecodable CDBs, and a panicking handler.

mod common;

use common::{drive, quietly, rw10};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use tcmu::{
    Action, AdditionalSense, Emulator, Handler, Identity, Kind, LogicalUnit, MemoryDisk, ScsiCmd,
    SenseData, Server,
};
use tcmu_ring::Ring;
use tcmu_ring::sim::SimDoorbell;
use tcmu_ring::sim::{SimConfig, SimKernel};

/// What the handler saw of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    id: u16,
    kind: Kind,
    lba: u64,
    blocks: u32,
    fua: bool,
    block_size: u32,
    data: Vec<u8>,
}

/// A disk that keeps its blocks itself for READ(10) and WRITE(10), refuses LBA 13 with a
/// MEDIUM ERROR, and leaves everything else to the emulation.
#[derive(Default)]
struct Own {
    seen: Mutex<Vec<Seen>>,
    blocks: Mutex<std::collections::HashMap<u64, Vec<u8>>>,
}

impl Handler for Own {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        let Some(kind) = cmd.command().map(|c| c.kind()) else {
            return Action::Emulate;
        };
        if !matches!(kind, Kind::Read | Kind::Write) || cmd.cdb()[0] == 0x88 {
            return Action::Emulate;
        }
        let mut data = Vec::new();
        if kind == Kind::Write {
            cmd.read_to_end(&mut data).unwrap();
        }
        self.seen.lock().unwrap().push(Seen {
            id: cmd.id(),
            kind,
            lba: cmd.lba(),
            blocks: cmd.transfer_length(),
            fua: cmd.fua(),
            block_size: cmd.block_size(),
            data: data.clone(),
        });
        if cmd.lba() == 13 {
            return cmd.check_condition(SenseData::medium_error_read());
        }
        let bs = cmd.block_size() as usize;
        if kind == Kind::Write {
            let mut blocks = self.blocks.lock().unwrap();
            for (i, block) in data.chunks(bs).enumerate() {
                blocks.insert(cmd.lba() + i as u64, block.to_vec());
            }
            return cmd.ok();
        }
        // A READ answers its first block only: a short transfer.
        let block = self.blocks.lock().unwrap().get(&cmd.lba()).cloned();
        let block = block.unwrap_or_else(|| vec![0; bs]);
        cmd.write_all(&block).unwrap();
        let n = cmd.position();
        cmd.read_len(n)
    }
}

fn unit() -> LogicalUnit<Own, MemoryDisk> {
    LogicalUnit::new(
        Own::default(),
        Emulator::new(MemoryDisk::new(64, 512).unwrap(), Identity::for_name("own")),
    )
}

#[test]
fn a_handler_sees_the_decoded_command_and_its_data() {
    let lu = unit();
    let mut cdb = rw10(0x2a, 5, 2);
    cdb[1] = 0x08; // FUA
    let mut out: Vec<u8> = (0..1024).map(|i| i as u8).collect();
    let reply = lu.execute(9, &cdb, &mut out);
    assert_eq!((reply.status, reply.sense), (0, None));
    let seen = lu.handler().seen.lock().unwrap()[0].clone();
    assert_eq!(
        seen,
        Seen {
            id: 9,
            kind: Kind::Write,
            lba: 5,
            blocks: 2,
            fua: true,
            block_size: 512,
            data: out.clone(),
        }
    );
    // The handler kept the data, not the emulation's disk.
    assert!(lu.emulator().device().snapshot().iter().all(|&b| b == 0));
    // Its READ answers one block of the two asked, in a buffer holding stale bytes.
    let mut back = vec![0xee; 1024];
    let reply = lu.execute(10, &rw10(0x28, 6, 2), &mut back);
    assert_eq!((reply.status, reply.read_len), (0, Some(512)));
    assert_eq!(back[..512], out[512..]);
    assert!(back[512..].iter().all(|&b| b == 0), "the rest zeroed");
}

#[test]
fn a_handler_s_check_condition_follows_d_sense_and_zeroes_the_buffer() {
    let lu = unit();
    let mut back = vec![0xee; 512];
    let reply = lu.execute(1, &rw10(0x28, 13, 1), &mut back);
    let sense = reply.sense.unwrap();
    assert_eq!((reply.status, sense.additional.asc), (2, 0x11));
    assert_eq!(sense.format, tcmu::SenseFormat::Fixed);
    assert!(back.iter().all(|&b| b == 0));
    // MODE SENSE and MODE SELECT (declined: emulated) set D_SENSE; the handler's sense
    // follows.
    let mut control = vec![0u8; 255];
    let reply = lu.execute(2, &[0x1a, 0x08, 0x0a, 0, 0xff, 0], &mut control);
    control.truncate(reply.read_len.unwrap());
    control[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
    control[4 + 2] |= 0x04; // D_SENSE
    let select = [0x15, 0x10, 0, 0, control.len() as u8, 0];
    let reply = lu.execute(2, &select, &mut control);
    assert_eq!(reply.status, 0, "{:?}", reply.sense);
    let reply = lu.execute(3, &rw10(0x28, 13, 1), &mut vec![0; 512]);
    assert_eq!(reply.sense.unwrap().format, tcmu::SenseFormat::Descriptor);
}

#[test]
fn declined_and_undecodable_commands_are_the_emulation_s() {
    let lu = unit();
    // READ CAPACITY(10): declined, emulated with the disk's geometry.
    let mut cap = vec![0u8; 8];
    assert_eq!(lu.execute(1, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &mut cap).status, 0);
    assert_eq!(cap, [0, 0, 0, 63, 0, 0, 2, 0]);
    // An operation code nobody knows, declined undecoded by this handler: INVALID COMMAND
    // OPERATION CODE, from the emulation.
    let reply = lu.execute(2, &[0xc7, 0, 0, 0, 0, 0], &mut Vec::new());
    assert_eq!(
        reply.sense.map(|s| s.additional),
        Some(AdditionalSense::INVALID_COMMAND_OPERATION_CODE)
    );
    // A CDB cut short likewise.
    let reply = lu.execute(3, &[0x2a, 0, 0], &mut Vec::new());
    assert_eq!(reply.status, 2);
    assert!(lu.handler().seen.lock().unwrap().is_empty());
}

/// Panics on every command.
struct Panics;

impl Handler for Panics {
    fn handle(&self, _cmd: &mut ScsiCmd<'_>) -> Action {
        panic!("the handler panics (as the test asked)")
    }
}

/// Panics on a READ of LBA 1 after writing into its buffer; answers any other command GOOD
/// with its buffer as it found it (taking `data()`: nothing is zeroed for it).
struct PanicsHalfway;

impl Handler for PanicsHalfway {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        if cmd.lba() == 1 {
            let _ = cmd.write_all(&[0xab; 512]);
            panic!("the handler panics (as the test asked)")
        }
        let _ = cmd.data();
        cmd.ok()
    }
}

/// `handler` over an 8-block memory disk, served on the simulated kernel by one worker.
fn serve_one_worker<H: Handler + 'static>(handler: H) -> (SimKernel, Arc<SimDoorbell>, Server) {
    let sim = SimKernel::new(SimConfig::small()).unwrap();
    let bell = Arc::new(SimDoorbell::default());
    let unit = LogicalUnit::new(
        handler,
        Emulator::new(MemoryDisk::new(8, 512).unwrap(), Identity::for_name("p")),
    );
    let server =
        Server::spawn(Ring::new(sim.region()).unwrap(), Arc::clone(&bell), Arc::new(unit), 1);
    (sim, bell, server)
}

#[test]
fn a_handler_that_panics_leaves_nothing_in_the_data_area() {
    let (mut sim, bell, server) = serve_one_worker(PanicsHalfway);
    let done = quietly(|| drive(&mut sim, &bell, vec![(rw10(0x28, 1, 1), Vec::new(), 512)]));
    assert_eq!(done[0].status, 2);
    // The next READ gets the same data area back, as the panicking one left it.
    let done = drive(&mut sim, &bell, vec![(rw10(0x28, 2, 1), Vec::new(), 512)]);
    assert_eq!(done[0].status, 0);
    assert_eq!(done[0].data_in.len(), 512);
    assert!(
        done[0].data_in.iter().all(|&b| b == 0),
        "what the panicking handler wrote stayed in the data area"
    );
    server.stop().unwrap();
}

#[test]
fn a_handler_that_panics_fails_its_command_with_a_hardware_error() {
    let (mut sim, bell, server) = serve_one_worker(Panics);
    let done = quietly(|| drive(&mut sim, &bell, vec![(rw10(0x28, 1, 1), Vec::new(), 512)]));
    assert_eq!(
        (done[0].status, done[0].sense[2], done[0].sense[12]),
        (2, 0x04, 0x44),
        "HARDWARE ERROR, INTERNAL TARGET FAILURE"
    );
    assert!(!server.is_finished());
    server.stop().unwrap();
}

/// Answers every command GOOD without touching its data.
struct Good;

impl Handler for Good {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        cmd.ok()
    }
}

#[test]
fn a_command_without_data_answered_by_a_handler_carries_nothing_back() {
    let lu = LogicalUnit::new(
        Good,
        Emulator::new(MemoryDisk::new(8, 512).unwrap(), Identity::for_name("g")),
    );
    // TEST UNIT READY handed a buffer holding another command's bytes.
    let mut stale = vec![0xee; 64];
    assert_eq!(lu.execute(1, &[0, 0, 0, 0, 0, 0], &mut stale).status, 0);
    assert!(stale.iter().all(|&b| b == 0));
    // A READ answered GOOD by a handler that wrote nothing: the stale bytes do not leak.
    let mut filled = vec![0x5a; 512];
    assert_eq!(lu.execute(2, &rw10(0x28, 0, 1), &mut filled).status, 0);
    assert!(filled.iter().all(|&b| b == 0));
}

/// Answers READ(10) with whatever reply the test set, after writing `wrote` bytes of 0x11.
struct Replies {
    reply: tcmu::Reply,
    wrote: usize,
}

impl Handler for Replies {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        cmd.write_all(&vec![0x11; self.wrote]).unwrap();
        Action::Reply(self.reply)
    }
}

fn replies(reply: tcmu::Reply, wrote: usize) -> LogicalUnit<Replies, MemoryDisk> {
    LogicalUnit::new(
        Replies { reply, wrote },
        Emulator::new(MemoryDisk::new(8, 512).unwrap(), Identity::for_name("r")),
    )
}

#[test]
fn a_handler_s_reply_is_normalised_before_it_leaves() {
    // A failed status zeroes the whole buffer, stale bytes and the handler's alike.
    let failed = tcmu::Reply {
        status: 0x08, // BUSY
        ..tcmu::Reply::good()
    };
    let mut stale = vec![0xee; 512];
    let reply = replies(failed, 100).execute(1, &rw10(0x28, 0, 1), &mut stale);
    assert_eq!(reply.status, 0x08);
    assert!(stale.iter().all(|&b| b == 0), "a failed command carries nothing");
    // Sense means CHECK CONDITION, whatever status the handler put.
    let sensed =
        tcmu::Reply { status: 0, ..tcmu::Reply::check_condition(SenseData::medium_error_read()) };
    let mut stale = vec![0xee; 512];
    let reply = replies(sensed, 0).execute(2, &rw10(0x28, 0, 1), &mut stale);
    assert_eq!(reply.status, 2);
    assert!(stale.iter().all(|&b| b == 0));
    // GOOD without read_len after filling part of the buffer: nothing stale past it.
    let mut stale = vec![0xee; 512];
    let reply = replies(tcmu::Reply::good(), 100).execute(3, &rw10(0x28, 0, 1), &mut stale);
    assert_eq!(reply.status, 0);
    assert!(stale[..100].iter().all(|&b| b == 0x11));
    assert!(stale[100..].iter().all(|&b| b == 0), "no stale bytes leak");
}

/// Answers the vendor operation code 0xC0 itself with its CDB's second byte; declines the rest.
struct Vendor;

impl Handler for Vendor {
    fn handle(&self, cmd: &mut ScsiCmd<'_>) -> Action {
        if cmd.command().is_some() || cmd.cdb().first() != Some(&0xc0) {
            return Action::Emulate;
        }
        let answer = [cmd.cdb()[1]; 4];
        cmd.write_all(&answer).unwrap();
        cmd.read_len(4)
    }
}

#[test]
fn a_cdb_scsi_proto_cannot_decode_reaches_the_handler() {
    let lu = LogicalUnit::new(
        Vendor,
        Emulator::new(MemoryDisk::new(8, 512).unwrap(), Identity::for_name("v")),
    );
    let mut back = vec![0xee; 16];
    let reply = lu.execute(1, &[0xc0, 0x42, 0, 0, 0, 0], &mut back);
    assert_eq!((reply.status, reply.read_len), (0, Some(4)));
    assert_eq!(back[..4], [0x42; 4]);
    assert!(back[4..].iter().all(|&b| b == 0));
    // Declined, another undecodable CDB gets the emulation's sense, as before.
    let reply = lu.execute(2, &[0xc7, 0, 0, 0, 0, 0], &mut Vec::new());
    assert_eq!(
        reply.sense.map(|s| s.additional),
        Some(AdditionalSense::INVALID_COMMAND_OPERATION_CODE)
    );
}
