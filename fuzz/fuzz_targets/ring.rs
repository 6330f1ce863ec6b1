//! The ring's contents come from the kernel and are not trusted: a simulated kernel places a few
//! commands, the fuzzer overwrites bytes of the mailbox and ring, and the consumer must answer
//! with values or errors (never a panic, never an access outside the mapping) while writing
//! into every data buffer it hands out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcmu_ring::layout::MailboxFlags;
use tcmu_ring::sim::{SimConfig, SimData, SimKernel};
use tcmu_ring::{Entry, Response, Ring};

fuzz_target!(|data: &[u8]| {
    let Some((&setup, rest)) = data.split_first() else {
        return;
    };
    let flags = MailboxFlags::from_bits_truncate(u16::from(setup & 0x0f));
    let Ok(mut sim) = SimKernel::new(SimConfig::small().with_flags(flags)) else {
        return;
    };
    let ring_len = 128 + sim.config().cmdr_size as usize;
    // Up to four commands of sizes from the setup byte.
    for i in 0..(setup >> 4) % 5 {
        let len = usize::from(i) * 3000 + usize::from(setup);
        let _ = sim.submit(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], SimData::Read(len));
    }
    // Then patches: (offset u16, value u8) triples anywhere in the mailbox and ring.
    for p in rest.chunks_exact(3) {
        let off = usize::from(u16::from_le_bytes([p[0], p[1]])) % ring_len;
        sim.corrupt(off, &[p[2]]);
    }
    let Ok(mut ring) = Ring::new(sim.region()) else {
        return;
    };
    for _ in 0..64 {
        match ring.next_entry() {
            Ok(Some(Entry::Command(mut cmd))) => {
                for buf in cmd.data_mut().iter_mut() {
                    buf.fill(0xa5);
                }
                let _ = cmd.cdb();
                ring.complete(cmd, Response::good()).expect("a command just taken is outstanding");
            }
            Ok(Some(Entry::Tmr(_))) => {}
            Ok(None) => break,
            Err(e) if e.is_fatal() => break,
            Err(_) => {}
        }
        ring.flush();
    }
});
