//! The ring's cost on the simulated kernel, one core, a handler that does nothing:
//! - `commands/*`: 4 KiB reads and writes through the ring. `ring_only` times just the
//!   consumer's part (take, complete, flush) over batches of 64 commands the simulated kernel
//!   placed beforehand; `with_sim` times the whole round trip including the simulated kernel.
//! - `bandwidth/*`: 1 MiB reads served by copying from an in-memory image into the command's
//!   data buffers, beside a plain memcpy of the same bytes.
//!
//! After criterion's report it prints the two figures the issue sets goals for: ring overhead
//! per command (goal < 100 ns) and 1 MiB read bandwidth as a fraction of memcpy (goal >= 0.8).
//!
//! `cargo bench -p tcmu-ring --bench ring`

use criterion::{Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tcmu_ring::sim::{SimConfig, SimData, SimKernel};
use tcmu_ring::{Entry, Response, Ring};

const READ10: [u8; 10] = [0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0];
const WRITE10: [u8; 10] = [0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0];
const BATCH: usize = 64;
const MIB: usize = 1 << 20;

fn setup() -> (SimKernel, Ring) {
    let mut sim = SimKernel::new(SimConfig::kernel_6_1()).expect("simulated kernel");
    sim.set_copy_data_in(false);
    let ring = Ring::new(sim.region()).expect("ring");
    (sim, ring)
}

/// Places `BATCH` commands, then times the consumer taking and completing them.
fn ring_only_batch(
    sim: &mut SimKernel,
    ring: &mut Ring,
    cdb: &[u8],
    data: SimData<'_>,
) -> Duration {
    for _ in 0..BATCH {
        sim.submit(cdb, data).expect("room for a batch");
    }
    let start = Instant::now();
    while let Ok(Some(Entry::Command(cmd))) = ring.next_entry() {
        black_box(cmd.cdb());
        ring.complete(cmd, Response::good()).expect("outstanding");
    }
    ring.flush();
    let t = start.elapsed();
    assert_eq!(sim.reap().expect("reap").len(), BATCH);
    t
}

/// One whole round trip: placed, taken, completed, reaped.
fn round_trip(sim: &mut SimKernel, ring: &mut Ring, cdb: &[u8], data: SimData<'_>) {
    sim.submit(cdb, data).expect("room");
    let Ok(Some(Entry::Command(cmd))) = ring.next_entry() else { panic!("no command") };
    ring.complete(cmd, Response::good()).expect("outstanding");
    ring.flush();
    assert_eq!(sim.reap().expect("reap").len(), 1);
}

fn serve_1mib_read(sim: &mut SimKernel, ring: &mut Ring, image: &[u8]) {
    sim.submit(&READ10, SimData::Read(MIB)).expect("room");
    let Ok(Some(Entry::Command(mut cmd))) = ring.next_entry() else { panic!("no command") };
    let mut off = 0;
    for buf in cmd.data_mut().iter_mut() {
        buf.copy_from_slice(&image[off..off + buf.len()]);
        off += buf.len();
    }
    ring.complete(cmd, Response::good()).expect("outstanding");
    ring.flush();
    sim.reap().expect("reap");
}

fn commands(c: &mut Criterion) {
    let write_data = vec![0x5au8; 4096];
    let mut g = c.benchmark_group("commands");
    g.throughput(Throughput::Elements(1));
    for (name, cdb, data) in [
        ("read_4k", &READ10, SimData::Read(4096)),
        ("write_4k", &WRITE10, SimData::Write(&write_data)),
    ] {
        let (mut sim, mut ring) = setup();
        g.bench_function(format!("{name}/ring_only"), |b| {
            b.iter_custom(|iters| {
                let batches = iters.div_ceil(BATCH as u64);
                let mut total = Duration::ZERO;
                for _ in 0..batches {
                    total += ring_only_batch(&mut sim, &mut ring, cdb, data);
                }
                // Per command: criterion divides by `iters`.
                total.mul_f64(iters as f64 / (batches * BATCH as u64) as f64)
            })
        });
        g.bench_function(format!("{name}/with_sim"), |b| {
            b.iter(|| round_trip(&mut sim, &mut ring, cdb, data))
        });
    }
    g.finish();
}

fn bandwidth(c: &mut Criterion) {
    let image: Vec<u8> = (0..MIB).map(|i| (i * 7) as u8).collect();
    let mut dst = vec![0u8; MIB];
    let (mut sim, mut ring) = setup();
    let mut g = c.benchmark_group("bandwidth");
    g.throughput(Throughput::Bytes(MIB as u64));
    g.bench_function("read_1m_through_ring", |b| {
        b.iter(|| serve_1mib_read(&mut sim, &mut ring, &image))
    });
    g.bench_function("memcpy_1m", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&image));
            black_box(&dst);
        })
    });
    g.finish();
}

/// Times `f` for about `budget` and returns the best per-call time of several rounds.
fn best_of(budget: Duration, mut f: impl FnMut() -> Duration) -> Duration {
    let mut best = Duration::MAX;
    let start = Instant::now();
    while start.elapsed() < budget {
        best = best.min(f());
    }
    best
}

fn summary() {
    let (mut sim, mut ring) = setup();
    let budget = Duration::from_millis(700);
    let per_cmd = |sim: &mut SimKernel, ring: &mut Ring, cdb: &[u8], data| {
        best_of(budget, || ring_only_batch(sim, ring, cdb, data) / BATCH as u32)
    };
    let read = per_cmd(&mut sim, &mut ring, &READ10, SimData::Read(4096));
    let wdata = vec![1u8; 4096];
    let write = per_cmd(&mut sim, &mut ring, &WRITE10, SimData::Write(&wdata));

    let image: Vec<u8> = (0..MIB).map(|i| (i * 7) as u8).collect();
    let mut dst = vec![0u8; MIB];
    let rounds = 16;
    let ring_t = best_of(budget, || {
        let t = Instant::now();
        for _ in 0..rounds {
            serve_1mib_read(&mut sim, &mut ring, &image);
        }
        t.elapsed() / rounds
    });
    let memcpy_t = best_of(budget, || {
        let t = Instant::now();
        for _ in 0..rounds {
            dst.copy_from_slice(black_box(&image));
            black_box(&dst);
        }
        t.elapsed() / rounds
    });
    let gib = |t: Duration| MIB as f64 / t.as_secs_f64() / (1u64 << 30) as f64;
    println!();
    println!("summary: ring overhead per 4 KiB read command: {} ns (goal < 100)", read.as_nanos());
    println!(
        "summary: ring overhead per 4 KiB write command: {} ns (goal < 100)",
        write.as_nanos()
    );
    println!(
        "summary: 1 MiB reads through the ring: {:.2} GiB/s; memcpy: {:.2} GiB/s; ratio {:.2} (goal >= 0.8)",
        gib(ring_t),
        gib(memcpy_t),
        memcpy_t.as_secs_f64() / ring_t.as_secs_f64()
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    commands(&mut c);
    bandwidth(&mut c);
    c.final_summary();
    summary();
}
