//! The consumer against the simulated kernel: every command completes exactly once with its own
//! status, sense and data; no data byte lands in another command's buffer; the ring wraps many
//! times; in order and out of order; malformed entries are refused without undefined behaviour.

use proptest::prelude::*;
use tcmu_ring::layout::{MailboxFlags, TmrType};
use tcmu_ring::sim::{SimConfig, SimData, SimError, SimKernel};
use tcmu_ring::{Entry, Response, Ring, RingCommand, RingError};

/// The byte a command's data holds at `offset`: distinct per command and position.
fn pattern(id: u16, offset: usize) -> u8 {
    (id as usize).wrapping_mul(31).wrapping_add(offset).wrapping_mul(0x9e37) as u8
        ^ (offset >> 8) as u8
}

#[derive(Debug, Clone, Copy)]
enum Op {
    None,
    Read(usize),
    Write(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::None),
        4 => (0usize..=64 * 1024).prop_map(Op::Read),
        4 => (0usize..=64 * 1024).prop_map(Op::Write),
        2 => (0usize..=3).prop_map(|k| Op::Read([1, 4095, 4096, 4097][k])),
        // Up to the largest transfer the small ring takes: an entry is at most half the ring
        // (2 KiB), so 120 blocks of 4 KiB.
        1 => (0usize..=120 * 4096).prop_map(Op::Read),
        1 => (0usize..=120 * 4096).prop_map(Op::Write),
    ]
}

struct Expect {
    op: Op,
    status: u8,
    short: Option<u32>,
}

fn run(flags: MailboxFlags, ops: Vec<Op>, order_seed: Vec<u32>) -> Result<(), TestCaseError> {
    let mut sim = SimKernel::new(SimConfig::small().with_flags(flags)).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let mut expect = std::collections::HashMap::new();
    let mut held: Vec<RingCommand> = Vec::new();
    let mut completed = 0usize;
    let mut seed = order_seed.into_iter().cycle();
    let mut pending = ops.into_iter().peekable();

    while pending.peek().is_some() || !expect.is_empty() {
        // Submit as much as fits.
        while let Some(&op) = pending.peek() {
            let data;
            let sim_data = match op {
                Op::None => SimData::None,
                Op::Read(n) => SimData::Read(n),
                Op::Write(n) => {
                    data = (0..n).map(|i| (i % 251) as u8).collect::<Vec<_>>();
                    SimData::Write(Box::leak(data.into_boxed_slice()))
                }
            };
            match sim.submit(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], sim_data) {
                Ok(id) => {
                    let status = (id % 3) as u8 * 2; // GOOD, CHECK CONDITION, CONDITION MET
                    let short = match op {
                        Op::Read(n) if n > 2 && id % 5 == 0 => Some((n / 2) as u32),
                        _ => None,
                    };
                    let fresh = expect.insert(id, Expect { op, status, short }).is_none();
                    prop_assert!(fresh);
                    pending.next();
                }
                Err(SimError::Full) => break,
                Err(e) => return Err(TestCaseError::fail(format!("submit: {e}"))),
            }
        }
        // Take everything published.
        while let Some(entry) = ring.next_entry().map_err(|e| TestCaseError::fail(e.to_string()))? {
            let Entry::Command(mut cmd) = entry else {
                continue;
            };
            let e = &expect[&cmd.id()];
            prop_assert_eq!(&cmd.cdb()[..10], &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0][..]);
            match e.op {
                Op::Read(n) => {
                    prop_assert_eq!(cmd.data().len(), n);
                    let id = cmd.id();
                    let mut off = 0;
                    for buf in cmd.data_mut().iter_mut() {
                        for b in buf.iter_mut() {
                            *b = pattern(id, off);
                            off += 1;
                        }
                    }
                }
                Op::Write(n) => {
                    prop_assert_eq!(cmd.data().len(), n);
                    let mut got = vec![0u8; n];
                    prop_assert_eq!(cmd.data_mut().copy_to_slice_at(0, &mut got), n);
                    prop_assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
                }
                Op::None => prop_assert_eq!(cmd.data().len(), 0),
            }
            held.push(cmd);
        }
        // Complete a random subset in a random order.
        let k =
            (seed.next().unwrap() as usize % (held.len() + 1)).max(usize::from(!held.is_empty()));
        for _ in 0..k {
            let i = seed.next().unwrap() as usize % held.len();
            let cmd = held.swap_remove(i);
            let e = &expect[&cmd.id()];
            let mut rsp = if e.status == 2 {
                Response::check_condition(&[
                    0x70,
                    0,
                    5,
                    0,
                    0,
                    0,
                    0,
                    10,
                    0,
                    0,
                    0,
                    0,
                    0x24,
                    0,
                    0,
                    0xcc,
                    (cmd.id() >> 8) as u8,
                    cmd.id() as u8,
                ])
            } else {
                Response::status(e.status)
            };
            rsp.read_len = e.short;
            ring.complete(cmd, rsp).unwrap();
        }
        ring.flush();
        for c in sim.reap().map_err(|e| TestCaseError::fail(e.to_string()))? {
            let e = expect.remove(&c.id).ok_or_else(|| TestCaseError::fail("completed twice"))?;
            completed += 1;
            prop_assert_eq!(c.status, e.status);
            if e.status == 2 {
                prop_assert_eq!(&c.sense[..3], &[0x70, 0, 5][..]);
                prop_assert_eq!(&c.sense[16..18], &[(c.id >> 8) as u8, c.id as u8][..]);
            }
            if let Op::Read(n) = e.op {
                // As the kernel takes it: a short read it is told of (READ_LEN) sends that much,
                // even with CHECK CONDITION; otherwise CHECK CONDITION sends no data and any
                // other status the whole buffer.
                let told = e.short.filter(|_| flags.contains(MailboxFlags::CAP_READ_LEN));
                prop_assert_eq!(c.read_len, told);
                let n = match told {
                    Some(s) => s as usize,
                    None if e.status == 2 => 0,
                    None => n,
                };
                prop_assert_eq!(c.data_in.len(), n);
                // A short read the kernel cannot be told about arrives whole, its tail zeroed:
                // nothing an earlier command left there may reach the initiator.
                let valid = e.short.map_or(n, |s| s as usize);
                for (off, &b) in c.data_in.iter().enumerate() {
                    let want = if off < valid { pattern(c.id, off) } else { 0 };
                    prop_assert_eq!(b, want, "byte {} of command {}", off, c.id);
                }
            }
        }
    }
    prop_assert_eq!(ring.outstanding(), 0);
    prop_assert_eq!(sim.outstanding(), 0);
    let _ = completed;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn out_of_order(ops in proptest::collection::vec(op(), 1..400), seed in proptest::collection::vec(any::<u32>(), 1..64)) {
        run(MailboxFlags::CAP_OOOC | MailboxFlags::CAP_READ_LEN, ops, seed)?;
    }

    #[test]
    fn in_order_kernel(ops in proptest::collection::vec(op(), 1..400), seed in proptest::collection::vec(any::<u32>(), 1..64)) {
        run(MailboxFlags::empty(), ops, seed)?;
    }
}

#[test]
fn many_wraps_of_a_small_ring() {
    // 4 KiB ring, 128-byte entries: 2000 commands wrap it about 60 times.
    let ops = (0..2000).map(|i| if i % 2 == 0 { Op::Read(512) } else { Op::Write(4096) }).collect();
    run(MailboxFlags::CAP_OOOC, ops, (0..97).collect()).unwrap();
}

#[test]
fn tmr_entries_are_yielded_and_passed() {
    let flags = MailboxFlags::CAP_OOOC | MailboxFlags::CAP_TMR;
    let mut sim = SimKernel::new(SimConfig::small().with_flags(flags)).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let id = sim.submit(&[0, 0, 0, 0, 0, 0], SimData::None).unwrap();
    sim.submit_tmr(TmrType::AbortTask, &[7, 9]).unwrap();
    let Some(Entry::Command(cmd)) = ring.next_entry().unwrap() else { panic!("command first") };
    match ring.next_entry().unwrap() {
        Some(Entry::Tmr(t)) => {
            assert_eq!(t.kind, TmrType::AbortTask);
            assert_eq!(t.cmd_ids, vec![7, 9]);
        }
        other => panic!("expected a TMR, got {other:?}"),
    }
    assert!(ring.next_entry().unwrap().is_none());
    ring.complete(cmd, Response::good()).unwrap();
    assert!(ring.flush());
    let done = sim.reap().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, id);
    // The tail moved past the TMR entry too: a new command fits and completes.
    let id2 = sim.submit(&[0, 0, 0, 0, 0, 0], SimData::None).unwrap();
    let Some(Entry::Command(cmd)) = ring.next_entry().unwrap() else { panic!() };
    ring.complete(cmd, Response::good()).unwrap();
    ring.flush();
    assert_eq!(sim.reap().unwrap()[0].id, id2);
}

#[test]
fn a_head_watch_sees_entries_published_after_it_was_made() {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let empty = ring.head_watch();
    assert!(!empty.published());
    sim.submit(&[0, 0, 0, 0, 0, 0], SimData::None).unwrap();
    assert!(empty.published(), "a command published after the watch was made");
    let Some(Entry::Command(cmd)) = ring.next_entry().unwrap() else { panic!("a command") };
    // Made after the command was taken: nothing new since.
    let taken = ring.head_watch();
    assert!(!taken.published());
    ring.complete(cmd, Response::good()).unwrap();
    ring.flush();
    sim.reap().unwrap();
    assert!(!taken.published(), "completions do not move the head");
    sim.submit_tmr(TmrType::AbortTask, &[1]).unwrap();
    assert!(taken.published(), "a task management entry is published too");
}

#[test]
fn one_consumer_per_mapping() {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    // A second consumer of the same memory could take the same entry and alias its buffers.
    assert_eq!(Ring::new(sim.region()).unwrap_err(), RingError::AlreadyConsumed);
    drop(ring);
    assert_eq!(Ring::new(sim.region()).unwrap_err(), RingError::AlreadyConsumed);
    sim.submit(&[0, 0, 0, 0, 0, 0], SimData::None).unwrap();
    ring = Ring::new(SimKernel::new(SimConfig::small()).unwrap().region()).unwrap();
    assert!(ring.next_entry().unwrap().is_none());
}

#[test]
fn corrupt_mailboxes_are_refused() {
    let sim = SimKernel::new(SimConfig::small()).unwrap();
    sim.corrupt(0, &1u16.to_ne_bytes());
    assert_eq!(Ring::new(sim.region()).unwrap_err(), RingError::BadVersion { found: 1 });

    let sim = SimKernel::new(SimConfig::small()).unwrap();
    sim.corrupt(8, &u32::MAX.to_ne_bytes());
    assert!(matches!(Ring::new(sim.region()), Err(RingError::BadGeometry { .. })));

    let sim = SimKernel::new(SimConfig::small()).unwrap();
    sim.corrupt(4, &64u32.to_ne_bytes());
    assert!(matches!(Ring::new(sim.region()), Err(RingError::BadGeometry { .. })));

    let sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    sim.corrupt(12, &5000u32.to_ne_bytes());
    assert!(matches!(ring.next_entry(), Err(RingError::Corrupt { .. })));
}

fn corrupt_entry(
    patch: impl Fn(&SimKernel, usize),
) -> (SimKernel, Result<Option<Entry>, RingError>) {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let id = sim.submit(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], SimData::Read(4096)).unwrap();
    patch(&sim, sim.entry_offset(id).unwrap());
    let r = ring.next_entry();
    if r.as_ref().is_err_and(|e| !e.is_fatal()) {
        ring.flush();
    }
    (sim, r)
}

/// A change to a placed entry, given the entry's offset in the mapping.
type Patch = Box<dyn Fn(&SimKernel, usize)>;

#[test]
fn corrupt_entries_are_errors_not_undefined_behaviour() {
    // Entry length 0, unaligned, or past the end of the ring: the ring is corrupt.
    for len_op in [0u32, 1, 13 | 1, 1 << 20 | 1] {
        let (_, r) = corrupt_entry(|s, at| s.corrupt(at, &len_op.to_ne_bytes()));
        assert!(matches!(r, Err(RingError::Corrupt { .. })), "len_op {len_op:#x}: {r:?}");
    }
    // An entry type this crate does not know (from a newer kernel) is flagged UNKNOWN_OP and
    // passed over; the ring goes on.
    let (sim, r) = corrupt_entry(|s, at| s.corrupt(at, &(128u32 | 5).to_ne_bytes()));
    assert!(matches!(r, Ok(None)), "{r:?}");
    let mut uflags = [0u8];
    sim.peek(128 + 7, &mut uflags).unwrap();
    assert_eq!(uflags[0] & 0x1, 0x1, "UNKNOWN_OP set");

    // A malformed command is refused and answered with CHECK CONDITION; the ring goes on.
    let cases: [(&str, Patch); 4] = [
        (
            "iovec outside the data area",
            Box::new(|s: &SimKernel, at| s.corrupt(at + 48, &8u64.to_ne_bytes())),
        ),
        (
            "iovec length overflows",
            Box::new(|s: &SimKernel, at| s.corrupt(at + 56, &u64::MAX.to_ne_bytes())),
        ),
        (
            "CDB outside its entry",
            Box::new(|s: &SimKernel, at| s.corrupt(at + 24, &0u64.to_ne_bytes())),
        ),
        (
            "iovec count too large",
            Box::new(|s: &SimKernel, at| s.corrupt(at + 8, &1000u32.to_ne_bytes())),
        ),
    ];
    for (what, patch) in cases {
        let (mut sim, r) = corrupt_entry(patch);
        assert!(matches!(r, Err(RingError::Malformed { .. })), "{what}: {r:?}");
        let done = sim.reap().unwrap();
        assert_eq!(done.len(), 1, "{what}");
        assert_eq!(done[0].status, 2, "{what}");
        assert_eq!((done[0].sense[2], done[0].sense[12]), (4, 0x44), "{what}");
    }
}

#[test]
fn overlapping_buffers_of_two_live_commands_are_refused() {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let a = sim.submit(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], SimData::Read(4096)).unwrap();
    let b = sim.submit(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], SimData::Read(4096)).unwrap();
    // Point b's iovec at a's block.
    let mut base = [0u8; 8];
    sim.peek(sim.entry_offset(a).unwrap() + 48, &mut base).unwrap();
    sim.corrupt(sim.entry_offset(b).unwrap() + 48, &base);
    let Some(Entry::Command(first)) = ring.next_entry().unwrap() else { panic!() };
    assert_eq!(first.id(), a);
    assert_eq!(
        ring.next_entry().unwrap_err(),
        RingError::Malformed { id: b, reason: "data buffer overlaps a buffer in use" }
    );
    ring.complete(first, Response::good()).unwrap();
    ring.flush();
    let done = sim.reap().unwrap();
    assert_eq!(done.len(), 2);
}

#[test]
fn workers_on_threads() {
    use std::sync::mpsc;
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let (done_tx, done_rx) = mpsc::channel::<(RingCommand, Response)>();
    let mut work_txs = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let (tx, rx) = mpsc::channel::<RingCommand>();
        let done_tx = done_tx.clone();
        handles.push(std::thread::spawn(move || {
            for mut cmd in rx {
                let id = cmd.id();
                let mut off = 0;
                for buf in cmd.data_mut().iter_mut() {
                    for b in buf.iter_mut() {
                        *b = pattern(id, off);
                        off += 1;
                    }
                }
                done_tx.send((cmd, Response::good())).unwrap();
            }
        }));
        work_txs.push(tx);
    }
    drop(done_tx);
    let total = 3000;
    let (mut submitted, mut verified, mut next_worker) = (0, 0, 0);
    while verified < total {
        while submitted < total {
            match sim
                .submit(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], SimData::Read(1000 + submitted % 9000))
            {
                Ok(_) => submitted += 1,
                Err(SimError::Full) => break,
                Err(e) => panic!("{e}"),
            }
        }
        while let Some(Entry::Command(cmd)) = ring.next_entry().unwrap() {
            work_txs[next_worker % 4].send(cmd).unwrap();
            next_worker += 1;
        }
        if let Ok((cmd, rsp)) = done_rx.recv_timeout(std::time::Duration::from_secs(10)) {
            ring.complete(cmd, rsp).unwrap();
            while let Ok((cmd, rsp)) = done_rx.try_recv() {
                ring.complete(cmd, rsp).unwrap();
            }
        }
        ring.flush();
        for c in sim.reap().unwrap() {
            assert!(
                c.data_in.iter().enumerate().all(|(o, &b)| b == pattern(c.id, o)),
                "command {}",
                c.id
            );
            verified += 1;
        }
    }
    drop(work_txs);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(ring.outstanding(), 0);
}

const READ10_1: [u8; 10] = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];

fn take(ring: &mut Ring) -> RingCommand {
    match ring.next_entry().unwrap() {
        Some(Entry::Command(cmd)) => cmd,
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn swapped_buffers_are_refused_and_their_pages_kept() {
    let mut sim = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let a = sim.submit(&READ10_1, SimData::Read(4096)).unwrap();
    let b = sim.submit(&READ10_1, SimData::Read(4096)).unwrap();
    let mut ca = take(&mut ring);
    let mut cb = take(&mut ring);
    assert_eq!((ca.id(), cb.id()), (a, b));
    // Safe code can exchange the buffers of two commands...
    std::mem::swap(ca.data_mut(), cb.data_mut());
    // ...but completing `a` with `b`'s buffers would hand `a`'s block back to the kernel while
    // `cb` can still write it: refused.
    assert_eq!(ring.complete(ca, Response::good()), Err(RingError::ForeignBuffers { id: a }));
    assert!(!ring.flush(), "nothing was written back");
    assert!(sim.reap().unwrap().is_empty(), "no block went back");
    assert_eq!((sim.outstanding(), ring.outstanding()), (2, 2));

    // `cb` holds `a`'s block and still writes it; the kernel has not reused it, so the next
    // command gets other blocks and the ring takes it without an overlap.
    for buf in cb.data_mut().iter_mut() {
        buf.fill(0xee);
    }
    let c = sim.submit(&READ10_1, SimData::Read(4096)).unwrap();
    let mut cc = take(&mut ring);
    assert_eq!(cc.id(), c);
    for buf in cc.data_mut().iter_mut() {
        buf.fill(0x11);
    }
    assert_eq!(ring.complete(cb, Response::good()), Err(RingError::ForeignBuffers { id: b }));
    ring.complete(cc, Response::good()).unwrap();
    ring.flush();
    let done = sim.reap().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, c);
    assert!(done[0].data_in.iter().all(|&x| x == 0x11));
    assert_eq!((sim.outstanding(), ring.outstanding()), (2, 2));
}

#[test]
fn buffers_of_another_ring_are_refused() {
    // Both simulated kernels number their first command 1.
    let mut sim1 = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring1 = Ring::new(sim1.region()).unwrap();
    let mut sim2 = SimKernel::new(SimConfig::small()).unwrap();
    let mut ring2 = Ring::new(sim2.region()).unwrap();
    let id1 = sim1.submit(&READ10_1, SimData::Read(4096)).unwrap();
    let id2 = sim2.submit(&READ10_1, SimData::Read(4096)).unwrap();
    assert_eq!(id1, id2);
    let mut c1 = take(&mut ring1);
    let mut c2 = take(&mut ring2);
    std::mem::swap(c1.data_mut(), c2.data_mut());
    assert_eq!(ring1.complete(c1, Response::good()), Err(RingError::ForeignBuffers { id: id1 }));
    assert_eq!(ring2.complete(c2, Response::good()), Err(RingError::ForeignBuffers { id: id2 }));
    assert!(!ring1.flush() && !ring2.flush());
    assert!(sim1.reap().unwrap().is_empty());
    assert!(sim2.reap().unwrap().is_empty());
}

/// Completes one command of `data` with `rsp` through the ring, the handler having filled
/// its whole Data-In buffer with 0x5a, and returns what the simulated kernel made of it.
fn complete_one(
    flags: MailboxFlags,
    data: SimData<'_>,
    rsp: Response,
) -> tcmu_ring::sim::SimCompletion {
    let mut sim = SimKernel::new(SimConfig::small().with_flags(flags)).unwrap();
    let mut ring = Ring::new(sim.region()).unwrap();
    let id = sim.submit(&READ10_1, data).unwrap();
    let mut cmd = take(&mut ring);
    if matches!(data, SimData::Read(_)) {
        for buf in cmd.data_mut().iter_mut() {
            buf.fill(0x5a);
        }
    }
    ring.complete(cmd, rsp).unwrap();
    ring.flush();
    let mut done = sim.reap().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, id);
    done.remove(0)
}

#[test]
fn read_len_is_taken_as_the_kernel_takes_it() {
    // Linux's tcmu_handle_completion (drivers/target/target_core_user.c, 6.1), in our words:
    // UNKNOWN_OP ends the command before read_len is looked at; read_len counts only for a
    // Data-In command whose completion has the READ_LEN flag *and* a non-zero read_len (0 is
    // "not given", not "no bytes"); it is then used only if below the transfer length (a larger
    // one is cut to it); CHECK CONDITION carries data only with a read_len that counts; the
    // kernel copies that many bytes out of the data area and, with a read_len, completes the
    // command with that length.
    const LEN: usize = 10_000;
    const L: u32 = LEN as u32;
    const GOOD: u8 = 0;
    const CHECK: u8 = 2;
    const BUSY: u8 = 8;
    let cap = MailboxFlags::CAP_OOOC | MailboxFlags::CAP_READ_LEN;
    let no_cap = MailboxFlags::CAP_OOOC;
    // (what, device flags, read?, status, UNKNOWN_OP, read_len given, read_len the kernel
    // takes, bytes it copies out)
    #[rustfmt::skip]
    let cases = [
        ("no read_len", cap, true, GOOD, false, None, None, LEN),
        ("read_len 0", cap, true, GOOD, false, Some(0), None, LEN),
        ("read_len 1", cap, true, GOOD, false, Some(1), Some(1), 1),
        ("read_len 4096", cap, true, GOOD, false, Some(4096), Some(4096), 4096),
        ("read_len = length", cap, true, GOOD, false, Some(L), Some(L), LEN),
        ("read_len past the buffer", cap, true, GOOD, false, Some(L + 1), Some(L), LEN),
        ("read_len u32::MAX", cap, true, GOOD, false, Some(u32::MAX), Some(L), LEN),
        ("CHECK CONDITION", cap, true, CHECK, false, None, None, 0),
        ("CHECK CONDITION, read_len 0", cap, true, CHECK, false, Some(0), None, 0),
        ("CHECK CONDITION, read_len 100", cap, true, CHECK, false, Some(100), Some(100), 100),
        ("UNKNOWN_OP, read_len 100", cap, true, GOOD, true, Some(100), None, 0),
        ("BUSY, read_len 100", cap, true, BUSY, false, Some(100), Some(100), 100),
        // A kernel without READ_LEN is not told: the whole buffer.
        ("no CAP_READ_LEN, read_len 100", no_cap, true, GOOD, false, Some(100), None, LEN),
        // Not a read: nothing to take.
        ("WRITE, read_len 100", cap, false, GOOD, false, Some(100), None, 0),
    ];
    let out = [7u8; 100];
    for (what, flags, read, status, unknown_op, given, taken, bytes) in cases {
        let mut rsp = if status == CHECK {
            Response::check_condition(&[0x70, 0, 3, 0, 0, 0, 0, 10])
        } else {
            Response::status(status)
        };
        rsp.read_len = given;
        rsp.unknown_op = unknown_op;
        let data = if read { SimData::Read(LEN) } else { SimData::Write(&out) };
        let c = complete_one(flags, data, rsp);
        assert_eq!(c.read_len, taken, "{what}: read_len");
        assert_eq!(c.data_in.len(), bytes, "{what}: bytes copied out");
        // What the handler said it wrote is what leaves.
        let covered = given.map_or(LEN, |n| n as usize).min(bytes);
        assert!(c.data_in[..covered].iter().all(|&b| b == 0x5a), "{what}: the handler's bytes");
    }
}

/// The whole main buffer of `cmd`, as the handler finds it.
fn contents(cmd: &mut RingCommand) -> Vec<u8> {
    let mut v = vec![0u8; cmd.data().len()];
    cmd.data_mut().copy_to_slice_at(0, &mut v);
    v
}

#[test]
fn stale_bytes_never_leave_with_a_short_read() {
    const MARK: u8 = 0xee;
    const LEN: usize = 8192;
    let read = SimData::Read(LEN);
    for flags in [MailboxFlags::CAP_OOOC | MailboxFlags::CAP_READ_LEN, MailboxFlags::CAP_OOOC] {
        for (status, n) in [
            (0u8, 0u32),
            (0, 1),
            (0, 100),
            (0, 4096),
            (0, 5000),
            (0, LEN as u32 - 1),
            (2, 0),
            (2, 100),
        ] {
            let what = format!("{flags:?}, status {status}, read_len Some({n})");
            let mut sim = SimKernel::new(SimConfig::small().with_flags(flags)).unwrap();
            let mut ring = Ring::new(sim.region()).unwrap();
            // An earlier command leaves its data in the blocks.
            sim.submit(&READ10_1, read).unwrap();
            let mut cmd = take(&mut ring);
            for buf in cmd.data_mut().iter_mut() {
                buf.fill(MARK);
            }
            ring.complete(cmd, Response::good()).unwrap();
            ring.flush();
            assert_eq!(sim.reap().unwrap()[0].data_in, vec![MARK; LEN]);

            // The next read gets the same blocks, the marker still in them...
            sim.submit(&READ10_1, read).unwrap();
            let mut cmd = take(&mut ring);
            assert!(contents(&mut cmd).iter().all(|&b| b == MARK), "{what}");
            // ...its handler fills only the first n bytes and says so.
            cmd.data_mut().copy_from_slice_at(0, &vec![0x11; n as usize]);
            let mut rsp = if status == 2 {
                Response::check_condition(&[0x70, 0, 3, 0, 0, 0, 0, 10])
            } else {
                Response::good()
            };
            rsp.read_len = Some(n);
            ring.complete(cmd, rsp).unwrap();
            ring.flush();
            let c = sim.reap().unwrap().remove(0);
            // Whatever the kernel sends (n bytes, the whole buffer for read_len 0 or without
            // READ_LEN, nothing for CHECK CONDITION it is not told the length of), the
            // marker is not in it.
            assert!(!c.data_in.contains(&MARK), "{what}: stale bytes sent");
            assert!(
                c.data_in
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == if i < n as usize { 0x11 } else { 0 }),
                "{what}"
            );

            // Nor is it left in the blocks the kernel got back.
            sim.submit(&READ10_1, read).unwrap();
            let mut cmd = take(&mut ring);
            assert!(!contents(&mut cmd).contains(&MARK), "{what}: stale bytes kept");
            ring.complete(cmd, Response::good()).unwrap();
        }
    }
}

#[test]
fn sim_doorbell_keeps_a_kick_counts_notifications_and_fails_once_removed() {
    use std::time::Duration;
    use tcmu_ring::Doorbell;
    use tcmu_ring::sim::SimDoorbell;
    let bell = SimDoorbell::default();
    let short = Duration::from_millis(10);
    // Nothing kicked: the wait times out.
    assert!(!bell.wait(short).unwrap());
    // A kick before the wait is not lost (the UIO device's event count), and is taken once.
    bell.kick();
    assert!(bell.wait(Duration::from_secs(5)).unwrap());
    assert!(!bell.wait(short).unwrap());
    // Notifications are counted for the kernel's side.
    assert_eq!(bell.wait_notified(0, short), 0);
    bell.notify().unwrap();
    bell.notify().unwrap();
    assert_eq!(bell.wait_notified(0, short), 2);
    // The device goes: every wait fails at once, and each is counted.
    bell.remove_device();
    bell.kick();
    for _ in 0..2 {
        let e = bell.wait(Duration::from_secs(60)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
        assert!(e.to_string().contains("the device is gone"), "{e}");
    }
    assert_eq!(bell.waits(), 5);
}
