//! The block-level handler trait and the backends shipped with it.

use scsi_proto::params::AccessState;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A run of blocks with the same provisioning status ([`BlockDevice::allocation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// Whether the blocks hold data (false: deallocated, reading as zeroes).
    pub mapped: bool,
    /// How many blocks the run has, from the LBA asked about (at least 1).
    pub blocks: u64,
}

/// The smallest logical block size a device may have, in bytes.
pub const MIN_BLOCK_SIZE: u32 = 512;
/// The largest logical block size a device may have, in bytes: 64 KiB, the largest logical
/// block recent kernels (with large block size support) make a disk of. Older ones, 6.1
/// among them, take only 512, 1024, 2048 or 4096 bytes and show a disk of larger blocks as
/// empty.
pub const MAX_BLOCK_SIZE: u32 = 65536;

/// Whether `block_size` is a power of two from [`MIN_BLOCK_SIZE`] to [`MAX_BLOCK_SIZE`]: the
/// logical block sizes the backends, the emulation and [`crate::DeviceBuilder`] accept.
pub fn is_valid_block_size(block_size: u32) -> bool {
    block_size.is_power_of_two() && (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size)
}

/// The error for a block size [`is_valid_block_size`] refuses.
pub(crate) fn bad_block_size(block_size: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "block size {block_size} is not a power of two from {MIN_BLOCK_SIZE} to {MAX_BLOCK_SIZE}"
        ),
    )
}

/// A disk made of fixed-size logical blocks. The facade emulates the whole SBC command set on
/// top of it; an implementation only moves bytes.
///
/// Errors become sense data: `PermissionDenied` is WRITE PROTECTED, `NotConnected` (the
/// device is gone, e.g. a `--crash-test` disk after its power cut) is NOT READY, LOGICAL UNIT
/// COMMUNICATION FAILURE, anything else MEDIUM ERROR.
///
/// Buffers are the kernel's own (slices of the TCMU data area): a read fills them, a write
/// takes from them, with no copy in between. Offsets and lengths are checked against the
/// capacity before any method is called.
pub trait BlockDevice: Send + Sync {
    /// Logical block size in bytes (512 or 4096, usually).
    fn block_size(&self) -> u32;

    /// Capacity in logical blocks.
    fn num_blocks(&self) -> u64;

    /// Fills `bufs`, in order, with the bytes starting at block `lba`.
    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()>;

    /// Writes `bufs`, in order, starting at block `lba`. With `fua` the data must be durable
    /// when this returns. (The built-in [`crate::Emulator`] passes `false` and, when a command
    /// must be durable — FUA, no write cache, WRITE AND VERIFY — calls [`BlockDevice::flush`]
    /// once after the command's last change, before GOOD.)
    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()>;

    /// Makes every completed write durable (SYNCHRONIZE CACHE).
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// Deallocates `blocks` blocks from `lba` (UNMAP, WRITE SAME with UNMAP). Afterwards they
    /// read back as zeroes. `Unsupported` means the device does not do thin provisioning.
    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        let _ = (lba, blocks);
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Whether [`BlockDevice::discard`] is implemented.
    fn supports_discard(&self) -> bool {
        false
    }

    /// The blocks a discard frees storage in units of, counted from LBA 0: a discard of part
    /// of a unit still reads back as zeroes, but is written as zeroes rather than freed (an
    /// RBD object, a qcow2 cluster). Reported in the Block Limits VPD page (OPTIMAL UNMAP
    /// GRANULARITY, with the alignment 0), from which Linux takes the disk's
    /// `discard_granularity`, so `fstrim` and file systems send whole units (and `fstrim`
    /// passes over free extents smaller than one). Default: 1.
    fn discard_granularity(&self) -> u64 {
        1
    }

    /// Writes zeroes over `blocks` blocks from `lba` (WRITE SAME of a zero block).
    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        write_zero_buffers(self, lba, blocks)
    }

    /// Writes `block` (one logical block) over `blocks` blocks from `lba` (WRITE SAME of a
    /// block that is not all zeroes). Default: the block repeated in a buffer of up to 1 MiB,
    /// written as many times as it takes.
    fn write_same(&self, lba: u64, blocks: u64, block: &[u8]) -> io::Result<()> {
        write_same_buffers(self, lba, blocks, block)
    }

    /// Whether writes are refused (the device reports itself write-protected).
    fn read_only(&self) -> bool {
        false
    }

    /// The provisioning of the blocks from `lba` (GET LBA STATUS): whether `lba` is mapped,
    /// and for how many blocks from it that stays so (at least 1). `None`, the default, when
    /// the device does not know; every block is then reported mapped.
    fn allocation(&self, lba: u64) -> io::Result<Option<Allocation>> {
        let _ = lba;
        Ok(None)
    }

    /// Whether the device has a volatile write cache (completed writes may be lost until a
    /// flush). Reported in the Caching mode page (WCE).
    fn write_cache(&self) -> bool {
        true
    }

    /// Called by the emulation before a command that reads, then writes what it read decides
    /// (COMPARE AND WRITE), so that a device that must claim the medium before writing (an
    /// RBD gateway taking the image's lock) claims it before the read: no other writer can
    /// then land between the compare and the write. Default: nothing to do.
    fn prepare_write(&self) -> io::Result<()> {
        Ok(())
    }

    /// Whether [`BlockDevice::start_read`] (or, for `write`, [`BlockDevice::start_write`] as
    /// `durable` asks) returns without waiting for the I/O: the emulation then hands READ and
    /// WRITE to them, and a serving thread is free again as soon as the I/O is started, so
    /// many commands are in flight without a thread for each. Default: false (the emulation
    /// calls [`BlockDevice::read`] and [`BlockDevice::write`] on a serving thread).
    ///
    /// A device that says so finishes (or drops) every request it was handed by itself,
    /// without waiting to be dropped: stopping a server waits for them
    /// ([`crate::Server::stop`]).
    fn starts_io(&self, write: bool, durable: bool) -> bool {
        let _ = (write, durable);
        false
    }

    /// Reads into `req`'s segments from `lba` and finishes `req` ([`IoRequest::finish`])
    /// with the result: without waiting, on the thread the I/O ends on, for a device whose
    /// [`BlockDevice::starts_io`] says so. Default: [`BlockDevice::read`], then the finish,
    /// on this thread.
    fn start_read(&self, lba: u64, mut req: Box<dyn IoRequest>) {
        let result = self.read(lba, &mut req.segments());
        req.finish(result);
    }

    /// Writes `req`'s segments from `lba` and finishes `req`, as [`BlockDevice::start_read`]
    /// reads; with `durable`, what was written is on stable storage before `req` finishes
    /// without an error (FUA, or no write cache). Default: [`BlockDevice::write`] (and
    /// [`BlockDevice::flush`] when durable), then the finish, on this thread.
    fn start_write(&self, lba: u64, mut req: Box<dyn IoRequest>, durable: bool) {
        let result = {
            let segments = req.segments();
            let bufs: Vec<IoSlice<'_>> = segments.iter().map(|s| IoSlice::new(s)).collect();
            self.write(lba, &bufs, false)
        };
        let result = result.and_then(|()| if durable { self.flush() } else { Ok(()) });
        req.finish(result);
    }

    /// The asymmetric access state of this gateway's target port group, reported by REPORT
    /// TARGET PORT GROUPS when the device is served with port groups
    /// ([`crate::Emulator::with_port_groups`]). Default: active/optimized.
    fn access_state(&self) -> AccessState {
        AccessState::ActiveOptimized
    }

    /// A count that moves whenever [`BlockDevice::access_state`] may have changed: read at
    /// every command of a device served with port groups (so it must be cheap: an atomic, no
    /// round trip), which then reports ASYMMETRIC ACCESS STATE CHANGED once, and the
    /// initiator asks REPORT TARGET PORT GROUPS again. Default: 0 (never changes).
    fn access_state_changes(&self) -> u64 {
        0
    }
}

/// A command's I/O handed to a device that does it asynchronously
/// ([`BlockDevice::start_read`], [`BlockDevice::start_write`]): the command's buffers, and
/// what ends the command.
///
/// Dropped without being finished (a device that lost it, a panic), it ends its command as
/// failed, so that no command is left waiting forever.
pub trait IoRequest: Send + 'static {
    /// The bytes to read or write: the segments' total.
    fn len(&self) -> usize;

    /// Whether there is nothing to move.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The segments, in order: what a read fills, what a write takes; at most 1024 of them
    /// ([`crate::emulate::MAX_SEGMENTS`]) when the emulation made the request. Their memory stays
    /// where it is while the request lives, and nothing else touches it.
    fn segments(&mut self) -> Vec<IoSliceMut<'_>>;

    /// Ends the command with the I/O's result (an error is answered as
    /// [`BlockDevice::read`]'s or [`BlockDevice::write`]'s would be). It does not block for
    /// long: it may run on a thread of the device's library that delivers completions.
    fn finish(self: Box<Self>, result: io::Result<()>);
}

/// [`BlockDevice::write_zeroes`] by writing buffers of zeroes, 1 MiB at a time: the default,
/// and what a device falls back on when it has no cheaper way.
pub(crate) fn write_zero_buffers<D: BlockDevice + ?Sized>(
    disk: &D,
    lba: u64,
    blocks: u64,
) -> io::Result<()> {
    let bs = u64::from(disk.block_size());
    let chunk = vec![0u8; 1 << 20];
    let per_chunk = (chunk.len() as u64 / bs).max(1);
    let mut done = 0;
    while done < blocks {
        let n = per_chunk.min(blocks - done);
        let len = usize::try_from(n * bs).map_err(|_| io::ErrorKind::InvalidInput)?;
        disk.write(lba + done, &[IoSlice::new(&chunk[..len.min(chunk.len())])], false)?;
        done += n;
    }
    Ok(())
}

/// [`BlockDevice::write_same`] by writing `block` repeated in a buffer of up to 1 MiB: the
/// default.
pub(crate) fn write_same_buffers<D: BlockDevice + ?Sized>(
    disk: &D,
    lba: u64,
    blocks: u64,
    block: &[u8],
) -> io::Result<()> {
    let bs = block.len().max(1);
    let per = (((1 << 20) / bs).max(1) as u64).min(blocks);
    let pattern: Vec<u8> = block.repeat(per as usize);
    let mut done = 0u64;
    while done < blocks {
        let n = per.min(blocks - done);
        let len = n as usize * bs;
        disk.write(lba + done, &[IoSlice::new(&pattern[..len])], false)?;
        done += n;
    }
    Ok(())
}

pub(crate) fn total(bufs: &[IoSliceMut<'_>]) -> usize {
    bufs.iter().map(|b| b.len()).sum()
}

/// The byte offset of block `lba`, if `len` bytes from it fit in `capacity` blocks of `bs`.
pub(crate) fn byte_range(lba: u64, len: usize, bs: u32, capacity: u64) -> io::Result<usize> {
    let start = lba.checked_mul(u64::from(bs)).ok_or(io::ErrorKind::InvalidInput)?;
    let end = start.checked_add(len as u64).ok_or(io::ErrorKind::InvalidInput)?;
    if end > capacity.saturating_mul(u64::from(bs)) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "beyond the end of the device"));
    }
    usize::try_from(start).map_err(|_| io::ErrorKind::InvalidInput.into())
}

/// A disk that reads as zeroes and drops what is written to it, of any size (as the kernel's
/// `null_blk`): for measuring the rest of the stack, and for tests and fuzzing that need CDBs
/// naming huge ranges to pass the range checks without memory behind them.
#[derive(Debug, Clone, Copy)]
pub struct NullDisk {
    num_blocks: u64,
    block_size: u32,
}

impl NullDisk {
    /// A null disk of `num_blocks` blocks of `block_size` bytes (a valid block size, see
    /// [`is_valid_block_size`]).
    pub fn new(num_blocks: u64, block_size: u32) -> io::Result<NullDisk> {
        if !is_valid_block_size(block_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("block size {block_size} is not a power of two from 512 to 65536"),
            ));
        }
        Ok(NullDisk { num_blocks, block_size })
    }
}

impl BlockDevice for NullDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn num_blocks(&self) -> u64 {
        self.num_blocks
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        byte_range(lba, total(bufs), self.block_size, self.num_blocks)?;
        for b in bufs.iter_mut() {
            b.fill(0);
        }
        Ok(())
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], _fua: bool) -> io::Result<()> {
        let len = bufs.iter().map(|b| b.len()).sum();
        byte_range(lba, len, self.block_size, self.num_blocks).map(|_| ())
    }

    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.write_zeroes(lba, blocks)
    }

    fn supports_discard(&self) -> bool {
        true
    }

    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        match lba.checked_add(blocks) {
            Some(end) if end <= self.num_blocks => Ok(()),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "beyond the end of the device")),
        }
    }
}

/// A disk in memory. A panic in another thread while it held the disk's lock (a bug) does not
/// take the disk down: the lock is taken over and the bytes are served as they are, as a real
/// disk would after an interrupted write.
#[derive(Debug)]
pub struct MemoryDisk {
    data: RwLock<Vec<u8>>,
    block_size: u32,
}

impl MemoryDisk {
    /// A zero-filled disk of `num_blocks` blocks of `block_size` bytes (a power of two from
    /// 512 to 65536, see [`is_valid_block_size`]).
    pub fn new(num_blocks: u64, block_size: u32) -> io::Result<MemoryDisk> {
        if !is_valid_block_size(block_size) {
            return Err(bad_block_size(block_size));
        }
        let len = num_blocks
            .checked_mul(u64::from(block_size))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(io::ErrorKind::OutOfMemory)?;
        Ok(MemoryDisk { data: RwLock::new(vec![0; len]), block_size })
    }

    /// A copy of the whole disk.
    pub fn snapshot(&self) -> Vec<u8> {
        self.bytes().clone()
    }

    /// The bytes, for reading; a poisoned lock is taken over.
    fn bytes(&self) -> RwLockReadGuard<'_, Vec<u8>> {
        self.data.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bytes, for writing; a poisoned lock is taken over.
    fn bytes_mut(&self) -> RwLockWriteGuard<'_, Vec<u8>> {
        self.data.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlockDevice for MemoryDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn num_blocks(&self) -> u64 {
        self.num_blocks_of(&self.bytes())
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        let data = self.bytes();
        let mut at = byte_range(lba, total(bufs), self.block_size, self.num_blocks_of(&data))?;
        for buf in bufs.iter_mut() {
            let n = buf.len();
            buf.copy_from_slice(&data[at..at + n]);
            at += n;
        }
        Ok(())
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], _fua: bool) -> io::Result<()> {
        let mut data = self.bytes_mut();
        let len = bufs.iter().map(|b| b.len()).sum();
        let mut at = byte_range(lba, len, self.block_size, self.num_blocks_of(&data))?;
        for buf in bufs {
            data[at..at + buf.len()].copy_from_slice(buf);
            at += buf.len();
        }
        Ok(())
    }

    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.write_zeroes(lba, blocks)
    }

    fn supports_discard(&self) -> bool {
        true
    }

    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        let mut data = self.bytes_mut();
        let len = usize::try_from(blocks.saturating_mul(u64::from(self.block_size)))
            .map_err(|_| io::ErrorKind::InvalidInput)?;
        let at = byte_range(lba, len, self.block_size, self.num_blocks_of(&data))?;
        data[at..at + len].fill(0);
        Ok(())
    }

    fn write_cache(&self) -> bool {
        false
    }
}

impl MemoryDisk {
    fn num_blocks_of(&self, data: &[u8]) -> u64 {
        data.len() as u64 / u64::from(self.block_size)
    }
}

/// A disk backed by a file or a block device. Reads and writes go straight between the file
/// and the ring's buffers with `preadv`/`pwritev`; flush is `fdatasync`; discard punches holes.
///
/// The capacity is the image's size, which must be a whole number of blocks (at least one).
/// A writable block device is opened exclusively (`O_EXCL`): one that is mounted or otherwise
/// in use is refused, and cannot be mounted while it is served.
///
/// The image is locked for as long as the `FileDisk` lives, as QEMU locks its images: opened
/// read-write, no other `FileDisk`, QEMU or qemu-nbd may open it, read-write or read-only;
/// opened read-only, it is shared with other read-only users and no writer may open it. The
/// error names the process holding it when `/proc` shows it. The locks are advisory: a
/// program that takes none (`dd`, a kernel `fileio` backstore) is not stopped.
#[derive(Debug)]
pub struct FileDisk {
    file: File,
    num_blocks: u64,
    block_size: u32,
    read_only: bool,
    /// Opened with O_DIRECT ([`FileDisk::direct`]).
    direct: bool,
}

/// The memory alignment given to O_DIRECT transfers: a page, which every disk and file system
/// accepts. The ring's data area is page-aligned, so its buffers go straight through; other
/// buffers are copied through an aligned one.
const DIRECT_ALIGN: usize = 4096;

/// A zeroed buffer of `len` bytes at a [`DIRECT_ALIGN`]ed address, inside a larger vector.
struct Aligned {
    raw: Vec<u8>,
    at: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let raw = vec![0u8; len + DIRECT_ALIGN];
        let addr = raw.as_ptr() as usize;
        let at = (DIRECT_ALIGN - addr % DIRECT_ALIGN) % DIRECT_ALIGN;
        Aligned { raw, at, len }
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.raw[self.at..self.at + self.len]
    }
}

fn part_of_a_block() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "a transfer of part of a block")
}

/// Whether every buffer can be given to O_DIRECT as it is: at an aligned address, a whole
/// number of blocks long.
fn direct_ready<'a>(bufs: impl Iterator<Item = &'a [u8]>, block_size: u32) -> bool {
    let bs = block_size as usize;
    bufs.into_iter()
        .all(|b| (b.as_ptr() as usize).is_multiple_of(DIRECT_ALIGN) && b.len().is_multiple_of(bs))
}

/// `err` with the path it concerns, keeping its kind.
pub(crate) fn at(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// The error for an image another process holds.
fn image_in_use(path: &Path, read_only: bool, id: Option<(u64, u64)>) -> io::Error {
    let holder =
        id.and_then(locks::holder).map_or_else(|| "another process".to_string(), |h| h.to_string());
    let why = if read_only {
        "an image served read-only may be shared with other readers, never with a writer"
    } else {
        "an image is served by one writer at a time, and not while others read it"
    };
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!("{} is in use by {holder}: {why}", path.display()),
    )
}

/// How long a conflicting lock on an image is waited out before the image is called in use.
pub(crate) const LOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Locks `file`, the image at `path`, for serving (see [`FileDisk`]): read-write excludes
/// every other server, QEMU and qemu-nbd; read-only shares with other readers. The error names
/// the path and, when `/proc` shows it, the process holding the image. Every image this crate
/// serves, whatever its format, is locked through here.
///
/// A conflict is looked at again for up to [`LOCK_GRACE`] before it is reported: a lock this
/// process dropped (an image it closed) lives on for a moment in a child another thread has
/// just forked, until the child calls `exec` and its copy of the descriptor closes.
pub(crate) fn lock_or_refuse(path: &Path, file: File, read_only: bool) -> io::Result<File> {
    let mut result = locks::lock_image(&file, read_only);
    let start = std::time::Instant::now();
    while matches!(result, Err(locks::LockError::Conflict)) && start.elapsed() < LOCK_GRACE {
        std::thread::sleep(LOCK_GRACE / 10);
        result = locks::lock_image(&file, read_only);
    }
    match result {
        Ok(()) => Ok(file),
        Err(locks::LockError::Conflict) => {
            let id = locks::file_id(&file);
            // Closing our descriptor drops the locks it took, so only the others' remain.
            drop(file);
            Err(image_in_use(path, read_only, id))
        }
        Err(locks::LockError::Os(e)) => Err(io::Error::new(
            e.kind(),
            format!("{}: cannot lock it against a second server: {e}", path.display()),
        )),
    }
}

pub(crate) fn not_a_disk(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is not a regular file or a block device", path.display()),
    )
}

impl FileDisk {
    /// Opens `path`, a file or a block device, read-write (or read-only). The capacity is its
    /// size in blocks of `block_size` bytes (a power of two from 512 to 65536, see
    /// [`is_valid_block_size`]); a size that is not a whole number of blocks, or less than
    /// one, is refused. Errors name the path.
    pub fn open(path: &Path, block_size: u32, read_only: bool) -> io::Result<FileDisk> {
        FileDisk::open_or_create(path, block_size, read_only, None)
    }

    /// Creates (or extends to) a sparse image of `size` bytes, a positive multiple of
    /// `block_size`, and opens it read-write. An image larger than `size` keeps its size.
    pub fn create(path: &Path, size: u64, block_size: u32) -> io::Result<FileDisk> {
        if !is_valid_block_size(block_size) {
            return Err(bad_block_size(block_size));
        }
        if size == 0 || !size.is_multiple_of(u64::from(block_size)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("size {size} is not a positive multiple of the block size {block_size}"),
            ));
        }
        FileDisk::open_or_create(path, block_size, false, Some(size))
    }

    fn open_or_create(
        path: &Path,
        block_size: u32,
        read_only: bool,
        grow_to: Option<u64>,
    ) -> io::Result<FileDisk> {
        if !is_valid_block_size(block_size) {
            return Err(bad_block_size(block_size));
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(!read_only);
        if grow_to.is_some() {
            options.create(true).truncate(false);
        }
        // A block device written through while mounted (or held by RAID, LVM, another server)
        // would be corrupted: O_EXCL makes the kernel refuse it (EBUSY), and refuse a mount
        // for as long as it stays open.
        let (block_device, other) = match std::fs::metadata(path) {
            Ok(m) => {
                let t = m.file_type();
                (t.is_block_device(), !t.is_block_device() && !t.is_file())
            }
            Err(_) => (false, false),
        };
        // Checked before opening as well as after: opening a FIFO read-only would block.
        if other {
            return Err(not_a_disk(path));
        }
        if block_device && grow_to.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a block device: it cannot be created or grown (leave out the size)",
                    path.display()
                ),
            ));
        }
        if block_device && !read_only {
            options.custom_flags(nix::libc::O_EXCL);
        }
        let file = options.open(path).map_err(|e| {
            if block_device && e.raw_os_error() == Some(nix::libc::EBUSY) {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{}: the block device is in use (mounted, part of a RAID, LVM or \
                         device-mapper device, or opened exclusively by another program)",
                        path.display()
                    ),
                )
            } else {
                at(path, e)
            }
        })?;
        let kind = file.metadata().map_err(|e| at(path, e))?.file_type();
        if !kind.is_file() && !kind.is_block_device() {
            return Err(not_a_disk(path));
        }
        // Locked before anything is changed (grown) or read.
        let mut file = lock_or_refuse(path, file, read_only)?;
        if let Some(size) = grow_to
            && kind.is_file()
            && file.metadata().map_err(|e| at(path, e))?.len() < size
        {
            file.set_len(size).map_err(|e| at(path, e))?;
        }
        // The end of a block device is its size; its metadata says 0.
        let len = file.seek(SeekFrom::End(0)).map_err(|e| at(path, e))?;
        let bs = u64::from(block_size);
        if len < bs {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is {len} bytes, less than one block of {block_size}", path.display()),
            ));
        }
        if len % bs != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is {len} bytes, not a whole number of {block_size}-byte blocks (its \
                     last {} bytes could not be served): resize it or choose another block size",
                    path.display(),
                    len % bs
                ),
            ));
        }
        Ok(FileDisk { file, num_blocks: len / bs, block_size, read_only, direct: false })
    }

    /// The same image, read and written with O_DIRECT: the data moves between the disk and the
    /// caller's buffers (the ring's data area) without the page cache, so without a copy in
    /// this process. Buffers at an unaligned address are copied through an aligned one.
    /// Durability is unchanged: a flush still asks the disk to write its cache back.
    ///
    /// Fails, naming the reason, if the file system cannot open the image so (tmpfs before
    /// Linux 6.6) or its disk cannot transfer single blocks of this block size (a disk of 4096-byte
    /// sectors under 512-byte blocks).
    pub fn direct(mut self) -> io::Result<FileDisk> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        let refused = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!(
                    "O_DIRECT on this image at {}-byte blocks: {e} (its file system may not \
                     support it, or its disk's sectors are larger than a block)",
                    self.block_size
                ),
            )
        };
        let flags = fcntl(&self.file, FcntlArg::F_GETFL).map_err(io::Error::from)?;
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_DIRECT;
        fcntl(&self.file, FcntlArg::F_SETFL(flags)).map_err(|e| refused(e.into()))?;
        // One block read where a block ends: what every transfer will need.
        let mut probe = Aligned::new(self.block_size as usize);
        let at = if self.num_blocks > 1 { u64::from(self.block_size) } else { 0 };
        self.file.read_at(probe.bytes(), at).map_err(refused)?;
        self.direct = true;
        Ok(self)
    }
}

impl FileDisk {
    /// `preadv` into `bufs` from block `lba`, whole (zeroes past the end of a file cut short).
    fn preadv_at(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        let mut off = byte_range(lba, total(bufs), self.block_size, self.num_blocks)? as i64;
        let mut bufs: &mut [IoSliceMut<'_>] = bufs;
        while !bufs.is_empty() {
            let n = nix::sys::uio::preadv(&self.file, bufs, off).map_err(io::Error::from)?;
            if n == 0 {
                // A file shorter than its block count (truncated under us): zeroes.
                for b in bufs.iter_mut() {
                    b.fill(0);
                }
                return Ok(());
            }
            off += n as i64;
            IoSliceMut::advance_slices(&mut bufs, n);
        }
        Ok(())
    }

    /// `pwritev` of `bufs` at block `lba`, whole, then `fdatasync` for `fua`.
    fn pwritev_at(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        let len = bufs.iter().map(|b| b.len()).sum();
        let mut off = byte_range(lba, len, self.block_size, self.num_blocks)? as i64;
        let mut owned: Vec<IoSlice<'_>> = bufs.to_vec();
        let mut bufs: &mut [IoSlice<'_>] = &mut owned;
        while !bufs.is_empty() {
            let n = nix::sys::uio::pwritev(&self.file, bufs, off).map_err(io::Error::from)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            off += n as i64;
            IoSlice::advance_slices(&mut bufs, n);
        }
        if fua { self.file.sync_data() } else { Ok(()) }
    }
}

impl BlockDevice for FileDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn num_blocks(&self) -> u64 {
        self.num_blocks
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        if self.direct && !direct_ready(bufs.iter().map(|b| &**b), self.block_size) {
            // Whole blocks into an aligned buffer. A buffer shorter than whole blocks (the
            // kernel may give less than the CDB names) gets the first bytes, as without
            // O_DIRECT.
            let bs = self.block_size as usize;
            let mut bounce = Aligned::new(total(bufs).div_ceil(bs) * bs);
            self.preadv_at(lba, &mut [IoSliceMut::new(bounce.bytes())])?;
            let mut from: &[u8] = bounce.bytes();
            for b in bufs.iter_mut() {
                let (head, rest) = from.split_at(b.len());
                b.copy_from_slice(head);
                from = rest;
            }
            return Ok(());
        }
        self.preadv_at(lba, bufs)
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if self.direct && !direct_ready(bufs.iter().map(|b| &**b), self.block_size) {
            if len % self.block_size as usize != 0 {
                return Err(part_of_a_block());
            }
            let mut bounce = Aligned::new(len);
            let mut at = 0;
            for b in bufs {
                bounce.bytes()[at..at + b.len()].copy_from_slice(b);
                at += b.len();
            }
            return self.pwritev_at(lba, &[IoSlice::new(bounce.bytes())], fua);
        }
        self.pwritev_at(lba, bufs, fua)
    }

    fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        let bs = u64::from(self.block_size);
        let off = i64::try_from(lba.saturating_mul(bs)).map_err(|_| io::ErrorKind::InvalidInput)?;
        let len =
            i64::try_from(blocks.saturating_mul(bs)).map_err(|_| io::ErrorKind::InvalidInput)?;
        use nix::fcntl::FallocateFlags as F;
        match nix::fcntl::fallocate(
            &self.file,
            F::FALLOC_FL_PUNCH_HOLE | F::FALLOC_FL_KEEP_SIZE,
            off,
            len,
        ) {
            Ok(()) => Ok(()),
            // A block device or a file system without hole punching: write zeroes instead.
            Err(nix::errno::Errno::EOPNOTSUPP) => self.write_zeroes(lba, blocks),
            Err(e) => Err(e.into()),
        }
    }

    fn supports_discard(&self) -> bool {
        !self.read_only
    }

    fn allocation(&self, lba: u64) -> io::Result<Option<Allocation>> {
        use nix::errno::Errno;
        use nix::unistd::{Whence, lseek};
        let bs = u64::from(self.block_size);
        let left = self.num_blocks.saturating_sub(lba);
        if left == 0 {
            return Ok(None);
        }
        let off = i64::try_from(lba.saturating_mul(bs)).map_err(|_| io::ErrorKind::InvalidInput)?;
        // The holes of the file (punched by discard, or never written) are the deallocated
        // blocks. A block is mapped if any of its bytes is data.
        let data = match lseek(&self.file, off, Whence::SeekData) {
            Ok(d) => d,
            Err(Errno::ENXIO) => {
                return Ok(Some(Allocation { mapped: false, blocks: left }));
            }
            // No hole support (a block device, some file systems): unknown.
            Err(Errno::EINVAL | Errno::EOPNOTSUPP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let whole_blocks = |bytes: i64| u64::try_from(bytes).unwrap_or(0) / bs;
        if data > off && whole_blocks(data - off) > 0 {
            return Ok(Some(Allocation {
                mapped: false,
                blocks: whole_blocks(data - off).min(left),
            }));
        }
        let hole = lseek(&self.file, data.max(off), Whence::SeekHole)?;
        let bytes = u64::try_from(hole - off).unwrap_or(0);
        Ok(Some(Allocation { mapped: true, blocks: bytes.div_ceil(bs).clamp(1, left) }))
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn write_cache(&self) -> bool {
        // Writes land in the page cache (or, with O_DIRECT, in the disk's cache and unwritten
        // file-system metadata) until fdatasync.
        true
    }
}

impl FileDisk {
    /// Reads bytes at a byte offset, for tests and tools.
    pub fn read_bytes_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if !self.direct || buf.is_empty() {
            return self.file.read_exact_at(buf, offset);
        }
        // O_DIRECT reads whole blocks into aligned memory.
        let bs = u64::from(self.block_size);
        let first = offset / bs * bs;
        let end = offset
            .checked_add(buf.len() as u64)
            .and_then(|e| e.div_ceil(bs).checked_mul(bs))
            .ok_or(io::ErrorKind::InvalidInput)?;
        let len = usize::try_from(end - first).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut bounce = Aligned::new(len);
        self.file.read_exact_at(bounce.bytes(), first)?;
        let skip = (offset - first) as usize;
        buf.copy_from_slice(&bounce.bytes()[skip..skip + buf.len()]);
        Ok(())
    }
}

/// Advisory locks on open files: an image's (so two servers never write one image), and a
/// lock file's (so `tcmu cleanup` never removes a device `tcmu serve` is bringing up).
///
/// Both are open file description locks (`F_OFD_SETLK`): they belong to the open file, not to
/// the process, and go when it is closed, however the process ends. An image is locked the
/// way QEMU locks its images (byte-range read locks at offsets 100 + permission and
/// 200 + permission not shared), so QEMU, qemu-nbd and qemu-img see a served image as in use
/// and this crate sees theirs.
pub(crate) mod locks {
    use nix::errno::Errno;
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    /// Byte offset of "holds permission N" locks (QEMU's `RAW_LOCK_PERM_BASE`).
    const PERM_BASE: i64 = 100;
    /// Byte offset of "does not share permission N" locks (`RAW_LOCK_SHARED_BASE`).
    const SHARED_BASE: i64 = 200;
    /// Permission bits, as QEMU numbers them: consistent reads, writes, resizes.
    const READ: i64 = 0;
    const WRITE: i64 = 1;
    const RESIZE: i64 = 3;

    /// Why a lock was not taken.
    #[derive(Debug)]
    pub(crate) enum LockError {
        /// Another open file holds a conflicting lock.
        Conflict,
        /// The file system or the kernel refused locking itself.
        Os(io::Error),
    }

    fn range(kind: libc::c_int, start: i64, len: i64) -> libc::flock {
        libc::flock {
            l_type: kind as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: start,
            l_len: len,
            l_pid: 0,
        }
    }

    /// Takes a lock on `len` bytes from `start` (`len` 0: to the end of any file), without
    /// waiting.
    fn set(file: &File, kind: libc::c_int, start: i64, len: i64) -> Result<(), LockError> {
        match fcntl(file, FcntlArg::F_OFD_SETLK(&range(kind, start, len))) {
            Ok(_) => Ok(()),
            Err(Errno::EAGAIN | Errno::EACCES) => Err(LockError::Conflict),
            Err(e) => Err(LockError::Os(e.into())),
        }
    }

    /// Whether another open file holds any lock on byte `at`.
    fn taken_by_another(file: &File, at: i64) -> Result<bool, LockError> {
        let mut probe = range(libc::F_WRLCK, at, 1);
        fcntl(file, FcntlArg::F_OFD_GETLK(&mut probe)).map_err(|e| LockError::Os(e.into()))?;
        Ok(probe.l_type != libc::F_UNLCK as libc::c_short)
    }

    /// Locks an image for serving: read-write excludes every other server and reader that
    /// wants a stable image; read-only shares with other read-only users and excludes
    /// writers. The locks are taken first and the others' checked after, so two servers
    /// starting at once can both fail, but never both succeed.
    pub(crate) fn lock_image(file: &File, read_only: bool) -> Result<(), LockError> {
        let held: &[i64] = if read_only { &[READ] } else { &[READ, WRITE] };
        let not_shared = [WRITE, RESIZE];
        for &p in held {
            set(file, libc::F_RDLCK, PERM_BASE + p, 1)?;
        }
        for p in not_shared {
            set(file, libc::F_RDLCK, SHARED_BASE + p, 1)?;
        }
        for &p in held {
            if taken_by_another(file, SHARED_BASE + p)? {
                return Err(LockError::Conflict);
            }
        }
        for p in not_shared {
            if taken_by_another(file, PERM_BASE + p)? {
                return Err(LockError::Conflict);
            }
        }
        Ok(())
    }

    /// Locks a whole lock file exclusively, without waiting (the file must be open for
    /// writing).
    pub(crate) fn lock_exclusive(file: &File) -> Result<(), LockError> {
        set(file, libc::F_WRLCK, 0, 0)
    }

    /// The device and inode numbers of an open file.
    pub(crate) fn file_id(file: &File) -> Option<(u64, u64)> {
        file.metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    /// A process that holds a lock on a file.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Holder {
        /// Its process id.
        pub pid: u32,
        /// Its command line, shortened.
        pub command: String,
    }

    impl std::fmt::Display for Holder {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if self.command.is_empty() {
                write!(f, "process {}", self.pid)
            } else {
                write!(f, "process {} ({})", self.pid, self.command)
            }
        }
    }

    /// A process holding a lock on the file `id` (device, inode), found through `/proc`: a
    /// process with the file open whose `fdinfo` lists a lock, else one with it open at all.
    /// `None` if none is visible (another PID namespace, no permission).
    pub(crate) fn holder((dev, ino): (u64, u64)) -> Option<Holder> {
        let mut open_by = None;
        for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = proc_entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                let same =
                    std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino);
                if !same {
                    continue;
                }
                let info = proc_entry.path().join("fdinfo").join(fd.file_name());
                let locked = std::fs::read_to_string(info)
                    .is_ok_and(|s| s.lines().any(|l| l.starts_with("lock:")));
                if locked {
                    return Some(describe(pid));
                }
                open_by.get_or_insert(pid);
            }
        }
        open_by.map(describe)
    }

    fn describe(pid: u32) -> Holder {
        let cmdline = std::fs::read(Path::new("/proc").join(pid.to_string()).join("cmdline"))
            .unwrap_or_default();
        let mut command = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        if command.len() > 120 {
            let mut cut = 117;
            while !command.is_char_boundary(cut) {
                cut -= 1;
            }
            command.truncate(cut);
            command.push_str("...");
        }
        Holder { pid, command }
    }
}

/// A boxed device is a device: handlers chosen at run time (the runner's subtypes) hand back
/// `Box<dyn BlockDevice>`. Every method is forwarded, so the box behaves as what it holds.
impl<B: BlockDevice + ?Sized> BlockDevice for Box<B> {
    fn block_size(&self) -> u32 {
        (**self).block_size()
    }

    fn num_blocks(&self) -> u64 {
        (**self).num_blocks()
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        (**self).read(lba, bufs)
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        (**self).write(lba, bufs, fua)
    }

    fn flush(&self) -> io::Result<()> {
        (**self).flush()
    }

    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        (**self).discard(lba, blocks)
    }

    fn supports_discard(&self) -> bool {
        (**self).supports_discard()
    }

    fn discard_granularity(&self) -> u64 {
        (**self).discard_granularity()
    }

    fn access_state_changes(&self) -> u64 {
        (**self).access_state_changes()
    }

    fn starts_io(&self, write: bool, durable: bool) -> bool {
        (**self).starts_io(write, durable)
    }

    fn start_read(&self, lba: u64, req: Box<dyn IoRequest>) {
        (**self).start_read(lba, req)
    }

    fn start_write(&self, lba: u64, req: Box<dyn IoRequest>, durable: bool) {
        (**self).start_write(lba, req, durable)
    }

    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        (**self).write_zeroes(lba, blocks)
    }

    fn write_same(&self, lba: u64, blocks: u64, block: &[u8]) -> io::Result<()> {
        (**self).write_same(lba, blocks, block)
    }

    fn read_only(&self) -> bool {
        (**self).read_only()
    }

    fn allocation(&self, lba: u64) -> io::Result<Option<Allocation>> {
        (**self).allocation(lba)
    }

    fn write_cache(&self) -> bool {
        (**self).write_cache()
    }

    fn prepare_write(&self) -> io::Result<()> {
        (**self).prepare_write()
    }

    fn access_state(&self) -> AccessState {
        (**self).access_state()
    }
}

/// Wraps a device so it refuses writes and reports itself write-protected.
#[derive(Debug)]
pub struct ReadOnly<B>(pub B);

impl<B: BlockDevice> BlockDevice for ReadOnly<B> {
    fn block_size(&self) -> u32 {
        self.0.block_size()
    }

    fn num_blocks(&self) -> u64 {
        self.0.num_blocks()
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        self.0.read(lba, bufs)
    }

    fn write(&self, _lba: u64, _bufs: &[IoSlice<'_>], _fua: bool) -> io::Result<()> {
        Err(io::ErrorKind::PermissionDenied.into())
    }

    fn starts_io(&self, write: bool, _durable: bool) -> bool {
        !write && self.0.starts_io(false, false)
    }

    fn start_read(&self, lba: u64, req: Box<dyn IoRequest>) {
        self.0.start_read(lba, req)
    }

    fn start_write(&self, _lba: u64, req: Box<dyn IoRequest>, _durable: bool) {
        req.finish(Err(io::ErrorKind::PermissionDenied.into()));
    }

    fn discard(&self, _lba: u64, _blocks: u64) -> io::Result<()> {
        Err(io::ErrorKind::PermissionDenied.into())
    }

    fn write_zeroes(&self, _lba: u64, _blocks: u64) -> io::Result<()> {
        Err(io::ErrorKind::PermissionDenied.into())
    }

    fn read_only(&self) -> bool {
        true
    }

    fn prepare_write(&self) -> io::Result<()> {
        Err(io::ErrorKind::PermissionDenied.into())
    }

    fn access_state(&self) -> AccessState {
        self.0.access_state()
    }

    fn access_state_changes(&self) -> u64 {
        self.0.access_state_changes()
    }

    fn write_cache(&self) -> bool {
        false
    }

    fn allocation(&self, lba: u64) -> io::Result<Option<Allocation>> {
        self.0.allocation(lba)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_box_forwards_write_same_to_what_it_holds() {
        use super::*;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // A device with a write_same of its own, which counts its calls.
        struct Own(MemoryDisk, std::sync::Arc<AtomicUsize>);
        impl BlockDevice for Own {
            fn block_size(&self) -> u32 {
                self.0.block_size()
            }
            fn num_blocks(&self) -> u64 {
                self.0.num_blocks()
            }
            fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
                self.0.read(lba, bufs)
            }
            fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
                self.0.write(lba, bufs, fua)
            }
            fn write_same(&self, lba: u64, blocks: u64, block: &[u8]) -> io::Result<()> {
                self.1.fetch_add(1, Ordering::Relaxed);
                write_same_buffers(&self.0, lba, blocks, block)
            }
        }
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let own = Own(MemoryDisk::new(16, 512).unwrap(), std::sync::Arc::clone(&calls));
        let boxed: Box<dyn BlockDevice> = Box::new(own);
        boxed.write_same(2, 4, &[7u8; 512]).unwrap();
        let mut back = vec![0u8; 4 * 512];
        boxed.read(2, &mut [IoSliceMut::new(&mut back)]).unwrap();
        assert!(back.iter().all(|&b| b == 7));
        // Reached through the box (a runner subtype's disk): its own write_same ran, not the
        // default's loop of writes.
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    use super::*;

    /// Poisons the disk's lock the way a panicking thread would.
    fn poison(disk: &MemoryDisk) {
        std::thread::scope(|s| {
            let r = s
                .spawn(|| {
                    let _held = disk.data.write().unwrap();
                    panic!("a handler bug while it held the disk");
                })
                .join();
            assert!(r.is_err());
        });
        assert!(disk.data.is_poisoned());
    }

    fn temp(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("tcmu-backend-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn block_sizes_are_powers_of_two_from_512_to_64k() {
        for ok in [512, 1024, 2048, 4096, 8192, 65536] {
            assert!(is_valid_block_size(ok), "{ok}");
            assert!(MemoryDisk::new(4, ok).is_ok(), "{ok}");
        }
        // 0 divided by; more than 1 MiB made WRITE SAME loop forever.
        for bad in [0, 1, 256, 511, 520, 768, 4095, 131072, 2 << 20, u32::MAX] {
            assert!(!is_valid_block_size(bad), "{bad}");
            let e = MemoryDisk::new(4, bad).unwrap_err();
            assert!(e.to_string().contains("power of two from 512 to 65536"), "{e}");
        }
    }

    /// An image beside the build's output (the project's own file system, not a tmpfs that may
    /// refuse O_DIRECT): the data goes to the file whatever the buffers' alignment, and reads
    /// come back through unaligned and short buffers too.
    #[test]
    fn a_direct_image_takes_aligned_and_unaligned_buffers() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../target/tcmu-backend-direct-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let disk = FileDisk::create(&path, 64 << 10, 512).unwrap().direct().unwrap();
        assert!(disk.direct);
        // Aligned (as the ring's data area is), one block into it; and unaligned, split.
        let mut aligned = Aligned::new(8192);
        aligned.bytes().fill(0xA5);
        disk.write(8, &[IoSlice::new(aligned.bytes())], false).unwrap();
        let raw = vec![0x5Au8; 1536 + 1];
        disk.write(40, &[IoSlice::new(&raw[1..513]), IoSlice::new(&raw[513..])], true).unwrap();
        assert!(disk.write(60, &[IoSlice::new(&raw[1..100])], false).is_err(), "part of a block");
        disk.flush().unwrap();
        // Below: the file itself, read without O_DIRECT.
        let file = std::fs::read(&path).unwrap();
        assert!(file[8 * 512..24 * 512].iter().all(|&b| b == 0xA5));
        assert!(file[40 * 512..43 * 512].iter().all(|&b| b == 0x5A));
        assert!(file[24 * 512..40 * 512].iter().all(|&b| b == 0));
        let mut odd = vec![0u8; 3 * 512 + 3];
        let (a, b) = odd[3..].split_at_mut(700);
        disk.read(39, &mut [IoSliceMut::new(a), IoSliceMut::new(b)]).unwrap();
        assert_eq!(&odd[3..515], &[0u8; 512][..]);
        assert!(odd[515..].iter().all(|&b| b == 0x5A));
        let mut some = [0u8; 10];
        disk.read_bytes_at(&mut some, 40 * 512 - 5).unwrap();
        assert_eq!(some, [0, 0, 0, 0, 0, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A]);
        assert!(disk.read_bytes_at(&mut some, u64::MAX - 3).is_err(), "no overflow");
        // A buffer shorter than the block it reads (a kernel may give less than the CDB
        // names): its first bytes, as without O_DIRECT, not an error.
        let mut short = Aligned::new(100);
        disk.read(40, &mut [IoSliceMut::new(short.bytes())]).unwrap();
        assert!(short.bytes().iter().all(|&b| b == 0x5A));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_image_must_be_whole_blocks() {
        let path = temp("sizes");
        std::fs::write(&path, vec![0u8; 8192]).unwrap();
        let e = FileDisk::open(&path, 0, false).unwrap_err();
        assert!(e.to_string().contains("block size 0"), "{e}");
        assert_eq!(FileDisk::open(&path, 4096, true).unwrap().num_blocks(), 2);
        let e = FileDisk::open(&path, 16384, true).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(path.to_str().unwrap()) && msg.contains("less than one block of 16384"),
            "{msg}"
        );
        std::fs::write(&path, vec![0u8; 1000]).unwrap();
        let msg = FileDisk::open(&path, 512, false).unwrap_err().to_string();
        assert!(msg.contains("1000 bytes, not a whole number of 512-byte blocks"), "{msg}");
        std::fs::remove_file(&path).unwrap();
        // A size that is not whole blocks creates nothing.
        let msg = FileDisk::create(&path, 1000, 512).unwrap_err().to_string();
        assert!(msg.contains("not a positive multiple"), "{msg}");
        assert!(!path.exists());
        assert_eq!(FileDisk::create(&path, 4096, 512).unwrap().num_blocks(), 8);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn only_files_and_block_devices_are_images() {
        let dir = temp("dir");
        std::fs::create_dir_all(&dir).unwrap();
        let msg = FileDisk::open(&dir, 512, true).unwrap_err().to_string();
        assert!(msg.contains("not a regular file or a block device"), "{msg}");
        std::fs::remove_dir(&dir).unwrap();
        // A FIFO opened read-only would block until a writer came.
        let fifo = temp("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let msg = FileDisk::open(&fifo, 512, true).unwrap_err().to_string();
        assert!(msg.contains("not a regular file or a block device"), "{msg}");
        std::fs::remove_file(&fifo).unwrap();
    }

    #[test]
    fn an_image_has_one_writer_or_many_readers() {
        let path = temp("lock");
        let p = path.to_str().unwrap().to_string();
        let first = FileDisk::create(&path, 1 << 20, 512).unwrap();
        for read_only in [false, true] {
            let e = FileDisk::open(&path, 512, read_only).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
            let msg = e.to_string();
            let me = format!("is in use by process {}", std::process::id());
            assert!(msg.starts_with(&p) && msg.contains(&me), "{msg}");
        }
        // A locked image is not grown either.
        assert!(FileDisk::create(&path, 2 << 20, 512).is_err());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
        drop(first);
        let reader = FileDisk::open(&path, 512, true).unwrap();
        let second_reader = FileDisk::open(&path, 512, true).unwrap();
        let msg = FileDisk::open(&path, 512, false).unwrap_err().to_string();
        assert!(msg.contains("never with a writer") || msg.contains("one writer"), "{msg}");
        drop((reader, second_reader));
        let writer = FileDisk::open(&path, 512, false).unwrap();
        drop(writer);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_lock_left_a_moment_in_a_forked_child_is_waited_out() {
        let path = temp("fork-window");
        let first = FileDisk::create(&path, 1 << 20, 512).unwrap();
        // What a child forked by another thread holds until its exec: a copy of the
        // descriptor, and with it the lock.
        let copy = first.file.try_clone().unwrap();
        drop(first);
        let held = std::time::Duration::from_millis(60);
        let child = std::thread::spawn(move || {
            std::thread::sleep(held);
            drop(copy);
        });
        let start = std::time::Instant::now();
        let second = FileDisk::open(&path, 512, false).unwrap();
        assert!(start.elapsed() >= held / 2, "the copy was gone before the open");
        child.join().unwrap();
        // A lock held longer than the grace is a writer in use, and refused.
        let copy = second.file.try_clone().unwrap();
        drop(second);
        let start = std::time::Instant::now();
        let e = FileDisk::open(&path, 512, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
        assert!(start.elapsed() >= LOCK_GRACE, "refused before the grace ran out");
        drop(copy);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn qemu_and_a_file_disk_see_each_others_locks() {
        let have_qemu_io = std::process::Command::new("qemu-io")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have_qemu_io {
            eprintln!("qemu-io is not installed: skipped");
            return;
        }
        let path = temp("qemu");
        let disk = FileDisk::create(&path, 1 << 20, 512).unwrap();
        // qemu-io opens the image read-write and refuses a served one.
        let out = std::process::Command::new("qemu-io")
            .args(["-f", "raw", "-c", "read 0 512"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("lock"), "{err}");
        drop(disk);
        // An image qemu-io holds (its shell waits on stdin) is refused, naming it.
        let mut qemu = std::process::Command::new("qemu-io")
            .args(["-f", "raw"])
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let msg = loop {
            match FileDisk::open(&path, 512, false) {
                Err(e) => break e.to_string(),
                Ok(d) => drop(d),
            }
            assert!(std::time::Instant::now() < deadline, "qemu-io never locked it");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        drop(qemu.stdin.take());
        let _ = qemu.wait();
        assert!(msg.contains(&format!("process {} (qemu-io", qemu.id())), "{msg}");
        drop(FileDisk::open(&path, 512, false).unwrap());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_memory_disk_outlives_a_panic_in_its_lock() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let disk = MemoryDisk::new(8, 512).unwrap();
        disk.write(2, &[IoSlice::new(&[0xab; 512])], false).unwrap();
        poison(&disk);
        std::panic::set_hook(prev);

        assert_eq!(disk.num_blocks(), 8, "the capacity stays");
        let mut back = [0u8; 512];
        disk.read(2, &mut [IoSliceMut::new(&mut back)]).unwrap();
        assert_eq!(back, [0xab; 512]);
        disk.write(3, &[IoSlice::new(&[0xcd; 512])], false).unwrap();
        disk.write_zeroes(2, 1).unwrap();
        let image = disk.snapshot();
        assert_eq!(image.len(), 8 * 512);
        assert!(image[2 * 512..3 * 512].iter().all(|&b| b == 0));
        assert!(image[3 * 512..4 * 512].iter().all(|&b| b == 0xcd));
    }
}
