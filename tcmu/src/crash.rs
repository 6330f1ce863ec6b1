//! Power-cut testing: a [`BlockDevice`] wrapper that behaves like a disk with a volatile write
//! cache, and can lose power on request.
//!
//! [`VolatileCache`] keeps every write since the last flush in memory (the "cache") and serves
//! reads from it; SYNCHRONIZE CACHE (a flush) writes the cached blocks to the device below and
//! flushes it, and a write with FUA goes straight through. [`PowerSwitch::cut`] then drops what
//! was never flushed (or, with [`Keep::RandomSubset`], keeps a random subset of it, as a real
//! disk may have written some of its cache back) and makes every later command fail: what is
//! left below is exactly what a disk would hold after losing power at that moment.
//!
//! This is how a file system or a database is tested for crash consistency without pulling
//! plugs (the way `dm-log-writes` or CrashMonkey are used): `tcmu serve IMAGE --crash-test`,
//! run the workload on the disk, `kill -USR1` the server at any moment, then serve the image
//! again and check what the application promised (every fsync'd byte is there).
//!
//! Every operation holds one lock, so a cut is atomic with respect to commands: a flush either
//! completed before it (everything it covered is below) or fails. The cache is bounded
//! ([`VolatileCache::with_limit`]): when it fills, it is written back as a whole, which a real
//! disk may do at any time too.

use crate::backend::{Allocation, BlockDevice};
use std::collections::BTreeMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a power cut keeps of the blocks written since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing: the device below holds exactly what was flushed (or written with FUA).
    Nothing,
    /// Each unflushed write independently (a block of data, or a whole zeroed or discarded
    /// range), with probability 1/2, chosen by a generator seeded with this value (the same
    /// seed and writes keep the same ones).
    RandomSubset {
        /// Seed of the generator.
        seed: u64,
    },
}

/// What a power cut did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CutReport {
    /// Cached blocks that were lost.
    pub dropped: u64,
    /// Cached blocks written to the device below anyway ([`Keep::RandomSubset`]).
    pub kept: u64,
    /// Whether the power was already off (nothing was done).
    pub already_off: bool,
}

/// One entry of the cache, keyed by its first LBA.
#[derive(Debug, Clone)]
enum Cached {
    /// One block of data.
    Data(Box<[u8]>),
    /// `blocks` blocks written as zeroes (WRITE SAME of zeroes): read as zeroes, written back
    /// with `write_zeroes`.
    Zeroes(u64),
    /// `blocks` blocks discarded (UNMAP): read as zeroes, written back with `discard`.
    Discarded(u64),
}

impl Cached {
    /// How many blocks the entry covers.
    fn blocks(&self) -> u64 {
        match self {
            Cached::Data(_) => 1,
            Cached::Zeroes(n) | Cached::Discarded(n) => *n,
        }
    }

    /// The same kind of run over `blocks` blocks (for the parts of a run left when a newer
    /// write covers its middle). Never called on data.
    fn resized(&self, blocks: u64) -> Cached {
        match self {
            Cached::Zeroes(_) => Cached::Zeroes(blocks),
            Cached::Discarded(_) => Cached::Discarded(blocks),
            Cached::Data(d) => Cached::Data(d.clone()),
        }
    }
}

/// Bookkeeping cost of one cached entry beyond its data, counted against the limit.
const ENTRY_OVERHEAD: usize = 64;

/// What one cached entry counts against the limit.
fn cost(block_size: usize, c: &Cached) -> usize {
    ENTRY_OVERHEAD
        + match c {
            Cached::Data(_) => block_size,
            Cached::Zeroes(_) | Cached::Discarded(_) => 0,
        }
}

#[derive(Debug)]
struct State {
    off: bool,
    /// Unflushed writes by first LBA, newest content only; entries never overlap.
    cache: BTreeMap<u64, Cached>,
    /// Bytes the cache accounts for.
    bytes: usize,
}

impl State {
    /// The first LBAs of the entries that overlap `lba..end`, in order.
    fn overlapping(&self, lba: u64, end: u64) -> Vec<u64> {
        let before = self
            .cache
            .range(..lba)
            .next_back()
            .filter(|(at, c)| **at + c.blocks() > lba)
            .map(|(&at, _)| at);
        before.into_iter().chain(self.cache.range(lba..end).map(|(&at, _)| at)).collect()
    }

    /// Removes `lba..end` from the cache: entries inside go, runs that stick out keep their
    /// parts outside.
    fn punch(&mut self, bs: usize, lba: u64, end: u64) {
        for at in self.overlapping(lba, end) {
            let Some(old) = self.cache.remove(&at) else {
                continue;
            };
            self.bytes = self.bytes.saturating_sub(cost(bs, &old));
            let old_end = at + old.blocks();
            if at < lba {
                self.put(bs, at, old.resized(lba - at));
            }
            if old_end > end {
                self.put(bs, end, old.resized(old_end - end));
            }
        }
    }

    fn put(&mut self, bs: usize, lba: u64, c: Cached) {
        self.bytes = self.bytes.saturating_add(cost(bs, &c));
        if let Some(old) = self.cache.insert(lba, c) {
            self.bytes = self.bytes.saturating_sub(cost(bs, &old));
        }
    }

    fn dirty_blocks(&self) -> u64 {
        self.cache.values().map(Cached::blocks).sum()
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is changed by map operations that each leave it consistent (and a
        // write-back leaves it whole on an error), so a panic elsewhere does not corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A disk with a volatile write cache in front of `B`, whose power can be cut
/// ([`VolatileCache::switch`]).
#[derive(Debug)]
pub struct VolatileCache<B> {
    inner: Arc<B>,
    shared: Arc<Shared>,
    limit: usize,
}

/// The power switch of a [`VolatileCache`]: cloneable, usable from any thread (a signal
/// handler thread, a control socket).
#[derive(Clone)]
pub struct PowerSwitch {
    shared: Arc<Shared>,
    /// The device below, to write what a [`Keep::RandomSubset`] cut keeps, or the whole cache
    /// at an orderly shutdown.
    inner: Arc<dyn BlockDevice>,
}

impl std::fmt::Debug for PowerSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerSwitch").field("off", &self.is_off()).finish()
    }
}

fn off_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the disk has lost power")
}

/// The default bound of the cache: 256 MiB.
pub const DEFAULT_LIMIT: usize = 256 << 20;

impl<B: BlockDevice + 'static> VolatileCache<B> {
    /// Puts a volatile write cache of at most [`DEFAULT_LIMIT`] bytes in front of `inner`.
    pub fn new(inner: B) -> VolatileCache<B> {
        VolatileCache {
            inner: Arc::new(inner),
            shared: Arc::new(Shared {
                state: Mutex::new(State { off: false, cache: BTreeMap::new(), bytes: 0 }),
            }),
            limit: DEFAULT_LIMIT,
        }
    }

    /// The same cache bounded to `bytes`: when it would hold more, it is written back first
    /// (a single entry larger than the bound is still cached).
    pub fn with_limit(mut self, bytes: usize) -> VolatileCache<B> {
        self.limit = bytes;
        self
    }

    /// The device below.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The power switch of this disk.
    pub fn switch(&self) -> PowerSwitch {
        PowerSwitch {
            shared: Arc::clone(&self.shared),
            inner: Arc::clone(&self.inner) as Arc<dyn BlockDevice>,
        }
    }
}

impl PowerSwitch {
    /// Cuts the power: waits for the command in progress, keeps what `keep` says of the
    /// unflushed writes, and fails every command from now on. Cutting twice does nothing more.
    pub fn cut(&self, keep: Keep) -> CutReport {
        let mut state = self.shared.lock();
        if state.off {
            return CutReport { already_off: true, ..CutReport::default() };
        }
        state.off = true;
        let mut report = CutReport::default();
        let cache = std::mem::take(&mut state.cache);
        state.bytes = 0;
        let mut rng = match keep {
            Keep::Nothing => None,
            Keep::RandomSubset { seed } => Some(seed),
        };
        for (lba, entry) in cache {
            let kept = rng.as_mut().is_some_and(|r| splitmix(r) & 1 == 1);
            tracing::debug!(
                lba,
                blocks = entry.blocks(),
                kept,
                "volatile cache: dropped or kept at the cut"
            );
            if kept && persist(&*self.inner, lba, &entry).is_ok() {
                report.kept += entry.blocks();
            } else {
                report.dropped += entry.blocks();
            }
        }
        if report.kept > 0 {
            let _ = self.inner.flush();
        }
        report
    }

    /// An orderly shutdown, as a disk does when told to stop: writes the whole cache back and
    /// flushes the device below. Returns how many blocks were written back. Fails if the power
    /// is off (nothing to write back any more) or the device below fails.
    pub fn write_back(&self) -> io::Result<u64> {
        let mut state = self.shared.lock();
        if state.off {
            return Err(off_error());
        }
        let blocks = state.dirty_blocks();
        write_back(&*self.inner, &mut state)?;
        self.inner.flush()?;
        Ok(blocks)
    }

    /// Whether the power is off.
    pub fn is_off(&self) -> bool {
        self.shared.lock().off
    }

    /// How many blocks are cached (written, not yet flushed).
    pub fn dirty_blocks(&self) -> u64 {
        self.shared.lock().dirty_blocks()
    }
}

/// SplitMix64: a small, well-mixed generator for picking the writes a cut keeps.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes one cache entry to the device below.
fn persist(inner: &dyn BlockDevice, lba: u64, entry: &Cached) -> io::Result<()> {
    match entry {
        Cached::Data(d) => inner.write(lba, &[IoSlice::new(d)], false),
        Cached::Zeroes(n) => inner.write_zeroes(lba, *n),
        Cached::Discarded(n) => inner.discard(lba, *n),
    }
}

/// Writes every cache entry below, in LBA order, runs of data blocks merged into one write
/// (of at most 1 MiB), then empties the cache. On an error the cache is left whole (writing
/// an entry's newest content twice is harmless). Does not flush the device below.
fn write_back(inner: &dyn BlockDevice, state: &mut State) -> io::Result<()> {
    let bs = inner.block_size() as usize;
    let mut run_start = 0u64;
    let mut run: Vec<u8> = Vec::new();
    for (&lba, entry) in &state.cache {
        let contiguous = run_start + (run.len() / bs.max(1)) as u64 == lba;
        if !run.is_empty() && (!contiguous || run.len() >= 1 << 20) {
            inner.write(run_start, &[IoSlice::new(&run)], false)?;
            run.clear();
        }
        match entry {
            Cached::Data(d) => {
                if run.is_empty() {
                    run_start = lba;
                }
                run.extend_from_slice(d);
            }
            other => persist(inner, lba, other)?,
        }
    }
    if !run.is_empty() {
        inner.write(run_start, &[IoSlice::new(&run)], false)?;
    }
    state.cache.clear();
    state.bytes = 0;
    Ok(())
}

impl<B: BlockDevice> VolatileCache<B> {
    fn block_len(&self) -> usize {
        self.inner.block_size() as usize
    }

    /// Caches `entry` at `lba` (replacing whatever is cached there), writing the cache back
    /// first if it would overflow.
    fn cache(&self, state: &mut State, lba: u64, entry: Cached) -> io::Result<()> {
        let bs = self.block_len();
        let add = cost(bs, &entry);
        if state.bytes.saturating_add(add) > self.limit && !state.cache.is_empty() {
            write_back(&*self.inner, state)?;
        }
        state.punch(bs, lba, lba + entry.blocks());
        state.put(bs, lba, entry);
        Ok(())
    }

    fn check_range(&self, lba: u64, blocks: u64) -> io::Result<()> {
        match lba.checked_add(blocks) {
            Some(end) if end <= self.inner.num_blocks() => Ok(()),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "beyond the end of the device")),
        }
    }

    fn powered(&self) -> io::Result<MutexGuard<'_, State>> {
        let state = self.shared.lock();
        if state.off {
            return Err(off_error());
        }
        Ok(state)
    }
}

impl<B: BlockDevice> BlockDevice for VolatileCache<B> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }

    fn num_blocks(&self) -> u64 {
        self.inner.num_blocks()
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        let state = self.powered()?;
        self.inner.read(lba, bufs)?;
        let bs = self.block_len() as u64;
        let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        let end = lba.saturating_add(total.div_ceil(bs));
        // Patch the cached writes over what the device below returned: the byte range
        // `from..to` of the request, relative to its start.
        for at in state.overlapping(lba, end) {
            let Some(entry) = state.cache.get(&at) else {
                continue;
            };
            let from = (at.max(lba) - lba) * bs;
            let to = ((at + entry.blocks()).min(end) - lba) * bs;
            let mut pos = 0u64;
            for buf in bufs.iter_mut() {
                let (b0, b1) = (pos, pos + buf.len() as u64);
                pos = b1;
                let (s, e) = (from.max(b0), to.min(b1));
                if s >= e {
                    continue;
                }
                let dst = &mut buf[(s - b0) as usize..(e - b0) as usize];
                match entry {
                    Cached::Data(d) => {
                        let off = (s - (at - lba) * bs) as usize;
                        dst.copy_from_slice(&d[off..off + dst.len()]);
                    }
                    Cached::Zeroes(_) | Cached::Discarded(_) => dst.fill(0),
                }
            }
        }
        Ok(())
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        let mut state = self.powered()?;
        let bs = self.block_len();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        tracing::debug!(lba, blocks = total / bs.max(1), fua, "volatile cache: write");
        if !total.is_multiple_of(bs) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a write of part of a block"));
        }
        let blocks = (total / bs) as u64;
        self.check_range(lba, blocks)?;
        if fua {
            // Straight through, durable when it returns; older cached copies of these blocks
            // are superseded.
            self.inner.write(lba, bufs, true)?;
            state.punch(bs, lba, lba + blocks);
            return Ok(());
        }
        let mut flat = Vec::with_capacity(total);
        for b in bufs {
            flat.extend_from_slice(b);
        }
        for (i, block) in flat.chunks_exact(bs).enumerate() {
            self.cache(&mut state, lba + i as u64, Cached::Data(block.into()))?;
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        let mut state = self.powered()?;
        tracing::debug!(dirty = state.dirty_blocks(), "volatile cache: flush");
        write_back(&*self.inner, &mut state)?;
        self.inner.flush()
    }

    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        let mut state = self.powered()?;
        if !self.inner.supports_discard() {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.check_range(lba, blocks)?;
        tracing::debug!(lba, blocks, "volatile cache: discard");
        if blocks == 0 {
            return Ok(());
        }
        self.cache(&mut state, lba, Cached::Discarded(blocks))
    }

    fn supports_discard(&self) -> bool {
        self.inner.supports_discard()
    }

    fn discard_granularity(&self) -> u64 {
        self.inner.discard_granularity()
    }

    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        let mut state = self.powered()?;
        self.check_range(lba, blocks)?;
        tracing::debug!(lba, blocks, "volatile cache: write zeroes");
        if blocks == 0 {
            return Ok(());
        }
        self.cache(&mut state, lba, Cached::Zeroes(blocks))
    }

    fn prepare_write(&self) -> io::Result<()> {
        self.inner.prepare_write()
    }

    fn access_state(&self) -> scsi_proto::params::AccessState {
        self.inner.access_state()
    }

    fn access_state_changes(&self) -> u64 {
        self.inner.access_state_changes()
    }

    fn read_only(&self) -> bool {
        self.inner.read_only()
    }

    fn allocation(&self, _lba: u64) -> io::Result<Option<Allocation>> {
        // The device below does not know about cached writes: say nothing (every block is
        // then reported mapped, which is always safe).
        Ok(None)
    }

    fn write_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryDisk;

    const BS: usize = 512;

    fn disk() -> VolatileCache<MemoryDisk> {
        VolatileCache::new(MemoryDisk::new(64, BS as u32).unwrap())
    }

    fn write(d: &VolatileCache<MemoryDisk>, lba: u64, byte: u8, blocks: usize, fua: bool) {
        d.write(lba, &[IoSlice::new(&vec![byte; blocks * BS])], fua).unwrap();
    }

    fn read(d: &VolatileCache<MemoryDisk>, lba: u64, blocks: usize) -> Vec<u8> {
        let mut v = vec![0xEE; blocks * BS];
        d.read(lba, &mut [IoSliceMut::new(&mut v)]).unwrap();
        v
    }

    /// What the device below holds at `lba`: what survives a power cut.
    fn below(d: &VolatileCache<MemoryDisk>, lba: u64) -> u8 {
        let s = d.inner().snapshot();
        let at = lba as usize * BS;
        assert!(s[at..at + BS].iter().all(|&b| b == s[at]), "torn block");
        s[at]
    }

    #[test]
    fn unflushed_writes_are_read_back_but_lost_at_a_cut() {
        let d = disk();
        write(&d, 3, 7, 2, false);
        assert_eq!(read(&d, 2, 4)[BS..3 * BS], vec![7; 2 * BS][..]);
        assert_eq!(below(&d, 3), 0);
        let sw = d.switch();
        assert_eq!(sw.dirty_blocks(), 2);
        let r = sw.cut(Keep::Nothing);
        assert_eq!((r.dropped, r.kept), (2, 0));
        assert_eq!((below(&d, 3), below(&d, 4)), (0, 0));
        assert!(sw.is_off());
        assert!(sw.cut(Keep::Nothing).already_off);
    }

    #[test]
    fn a_flush_persists_everything_before_it() {
        let d = disk();
        write(&d, 0, 1, 3, false);
        write(&d, 10, 2, 1, false);
        d.discard(1, 1).unwrap();
        d.flush().unwrap();
        write(&d, 20, 3, 1, false);
        d.switch().cut(Keep::Nothing);
        assert_eq!(
            (below(&d, 0), below(&d, 1), below(&d, 2)),
            (1, 0, 1),
            "data, the discard, data"
        );
        assert_eq!(below(&d, 10), 2);
        assert_eq!(below(&d, 20), 0, "written after the flush: lost");
    }

    #[test]
    fn fua_goes_through_and_supersedes_the_cached_copy() {
        let d = disk();
        write(&d, 5, 1, 2, false);
        write(&d, 5, 9, 1, true);
        assert_eq!(below(&d, 5), 9);
        assert_eq!(read(&d, 5, 2), [vec![9; BS], vec![1; BS]].concat());
        d.switch().cut(Keep::Nothing);
        assert_eq!((below(&d, 5), below(&d, 6)), (9, 0));
    }

    #[test]
    fn nothing_works_after_the_cut() {
        let d = disk();
        d.switch().cut(Keep::Nothing);
        let mut b = vec![0; BS];
        assert!(d.read(0, &mut [IoSliceMut::new(&mut b)]).is_err());
        assert!(d.write(0, &[IoSlice::new(&b)], true).is_err());
        assert!(d.flush().is_err());
        assert!(d.discard(0, 1).is_err());
        assert!(d.write_zeroes(0, 1).is_err());
    }

    #[test]
    fn a_random_subset_keeps_whole_blocks_and_follows_the_seed() {
        let run = |seed| {
            let d = disk();
            write(&d, 0, 4, 64, false);
            let r = d.switch().cut(Keep::RandomSubset { seed });
            let kept: Vec<u8> = (0..64).map(|l| below(&d, l)).collect();
            assert_eq!(r.kept + r.dropped, 64);
            assert_eq!(kept.iter().filter(|&&b| b == 4).count() as u64, r.kept);
            (r, kept)
        };
        let (a, ka) = run(1);
        let (_, kb) = run(1);
        let (_, kc) = run(2);
        assert_eq!(ka, kb);
        assert_ne!(ka, kc);
        assert!(a.kept > 10 && a.dropped > 10, "{a:?}");
    }

    #[test]
    fn a_full_cache_is_written_back() {
        let d = disk().with_limit(4 * (BS + ENTRY_OVERHEAD));
        write(&d, 0, 1, 4, false);
        assert_eq!(below(&d, 0), 0);
        write(&d, 8, 2, 1, false);
        assert_eq!(below(&d, 0), 1, "the cache was full: written back");
        d.switch().cut(Keep::Nothing);
        assert_eq!((below(&d, 3), below(&d, 8)), (1, 0));
    }

    #[test]
    fn reads_patch_cached_blocks_across_buffers() {
        let d = disk();
        write(&d, 0, 1, 4, true);
        write(&d, 1, 5, 1, false);
        d.write_zeroes(2, 1).unwrap();
        let (mut a, mut b) = (vec![0; 700], vec![0; 4 * BS - 700]);
        d.read(0, &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).unwrap();
        let all = [a, b].concat();
        let want = [vec![1; BS], vec![5; BS], vec![0; BS], vec![1; BS]].concat();
        assert_eq!(all, want);
    }

    #[test]
    fn ranges_are_checked() {
        let d = disk();
        assert!(d.write(64, &[IoSlice::new(&[0; BS])], false).is_err());
        assert!(d.write(0, &[IoSlice::new(&[0; 100])], false).is_err());
        assert!(d.discard(63, 2).is_err());
        assert!(d.write_zeroes(u64::MAX, 2).is_err());
    }

    #[test]
    fn a_newer_write_cuts_into_a_cached_range() {
        let d = disk();
        write(&d, 0, 1, 64, true);
        d.discard(10, 40).unwrap();
        write(&d, 20, 7, 2, false);
        d.write_zeroes(45, 10).unwrap();
        let want = |lba: u64| match lba {
            20 | 21 => 7,
            10..=54 => 0,
            _ => 1,
        };
        let all = read(&d, 0, 64);
        for lba in 0..64u64 {
            let at = lba as usize * BS;
            assert!(all[at..at + BS].iter().all(|&b| b == want(lba)), "block {lba} reads wrong");
        }
        let sw = d.switch();
        // The discard split around the data: 10..20 and 22..45; zeroes 45..55; 2 data blocks.
        assert_eq!(sw.dirty_blocks(), 10 + 23 + 10 + 2);
        d.flush().unwrap();
        assert_eq!(sw.dirty_blocks(), 0);
        sw.cut(Keep::Nothing);
        for lba in 0..64u64 {
            assert_eq!(below(&d, lba), want(lba), "block {lba} below");
        }
    }

    /// 2^40 blocks that read as zeroes and count the calls made to them.
    #[derive(Default)]
    struct Null {
        calls: std::sync::atomic::AtomicU64,
    }

    impl BlockDevice for Null {
        fn block_size(&self) -> u32 {
            512
        }
        fn num_blocks(&self) -> u64 {
            1 << 40
        }
        fn read(&self, _: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
            bufs.iter_mut().for_each(|b| b.fill(0));
            Ok(())
        }
        fn write(&self, _: u64, _: &[IoSlice<'_>], _: bool) -> io::Result<()> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        fn discard(&self, _: u64, _: u64) -> io::Result<()> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        fn supports_discard(&self) -> bool {
            true
        }
        fn write_zeroes(&self, _: u64, _: u64) -> io::Result<()> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn large_discards_cost_one_entry_each() {
        let d = VolatileCache::new(Null::default());
        let t = std::time::Instant::now();
        // The most one UNMAP may ask: 256 descriptors of 2^20 blocks.
        for i in 0..256u64 {
            d.discard(i << 21, 1 << 20).unwrap();
        }
        d.write_zeroes(1 << 30, 1 << 20).unwrap();
        assert_eq!(d.switch().dirty_blocks(), 257 << 20);
        d.flush().unwrap();
        assert_eq!(d.inner().calls.load(std::sync::atomic::Ordering::Relaxed), 257);
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn an_orderly_shutdown_writes_the_cache_back() {
        let d = disk();
        write(&d, 2, 3, 2, false);
        d.discard(8, 4).unwrap();
        let sw = d.switch();
        assert_eq!(sw.write_back().unwrap(), 6);
        assert_eq!(sw.cut(Keep::Nothing).dropped, 0);
        assert_eq!((below(&d, 2), below(&d, 3)), (3, 3));
        assert!(sw.write_back().is_err(), "nothing to write back without power");
    }
}
