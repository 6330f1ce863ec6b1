//! [`RbdDisk`]: a disk in a Ceph RBD image, through librbd (the `ceph-rbd` crate, which loads
//! librbd at run time). Feature `rbd` (on in `cli`).
//!
//! How SCSI maps onto it:
//! - READ / WRITE are `rbd_aio_readv` / `rbd_aio_writev` straight between the ring's buffers
//!   and librbd, one operation in flight per serving thread;
//! - the write cache is librbd's (`rbd cache`, on by default; with its default policy,
//!   `writearound`, a write is acknowledged before the cluster has it; with `writeback` it is
//!   held): the disk reports a volatile cache (WCE=1), and SYNCHRONIZE CACHE and FUA are
//!   `rbd_aio_flush`, after which the data is in the cluster (as many copies as the pool
//!   keeps);
//! - errors that pass (a cluster time-out, a dropped connection) are answered NOT READY,
//!   BECOMING READY, which Linux retries; this client blocklisted NOT READY, LOGICAL UNIT
//!   COMMUNICATION FAILURE (it does not reconnect yet); EROFS WRITE PROTECTED; others MEDIUM
//!   ERROR. Operations time out after `osd_op_timeout` (30 s unless set longer);
//! - UNMAP and WRITE SAME with UNMAP are `rbd_aio_write_zeroes`, which frees whole objects
//!   and zeroes partial ones: what was unmapped reads back as zeroes (LBPRZ holds), whatever
//!   the cluster's `rbd_skip_partial_discard` (a plain discard of less than an object may
//!   leave the old bytes);
//! - WRITE SAME of zeroes is `rbd_aio_write_zeroes` too, of any other block
//!   `rbd_aio_writesame` (the block crosses the network once).
//!
//! # Gateways
//!
//! [`RbdDisk::open_gateway`] opens the image as one of several gateways serving it, each
//! through its own target port group (ALUA, implicit): librbd's cache is off and no volatile
//! cache is reported (a write acknowledged is in the cluster, where the next gateway reads
//! it), breaking a lock blocklists its holder (both forced; a pool or image override of
//! either refused at open); the image's exclusive lock decides which gateway writes.
//! COMPARE AND WRITE takes the lock before it compares ([`BlockDevice::prepare_write`]), so
//! it is atomic across gateways: another can write only after fencing this one. A gateway takes the lock at
//! start if nobody holds it, and reports itself active/optimized while it holds it,
//! active/non-optimized otherwise ([`BlockDevice::access_state`]): Linux sends no I/O to a
//! standby port of an implicit-only device, so a standby gateway would never learn that the
//! initiator lost its other path. A gateway that receives a write without the lock takes it
//! over: it breaks the holder's lock, which makes Ceph blocklist the holder (whatever it
//! still sends is refused: a gateway that comes back cannot write stale data), then takes
//! the lock; the write waits meanwhile. Reads need no lock (librbd's cache is off: they come
//! from the cluster), so an initiator reading its partition table through every path moves
//! nothing. A gateway that finds itself blocklisted reports its group unavailable and fails
//! every command (it does not reconnect: restart it, and it joins as non-optimized). Images
//! with the journaling feature are refused (their reads need the lock too), copy-on-read is
//! forced off, and a gateway without the lock does not flush (nothing of its own to write
//! back; a flush could make librbd ask for the lock).
//!
//! The size is librbd's at every command ([`BlockDevice::num_blocks`] asks `rbd_get_size`,
//! which answers from memory: librbd watches the image's header and re-reads it when another
//! client resized the image). An image grown or shrunk while served (`rbd resize`) is a new
//! capacity at once: the emulation reports CAPACITY DATA HAS CHANGED to the next command, and
//! I/O past the new end is refused (LOGICAL BLOCK ADDRESS OUT OF RANGE) rather than cut short
//! by librbd. A size that is not a whole number of blocks ends at the last whole block. A
//! shrink that lands between the emulation's range check and the I/O is still a race: the
//! disk's own check then refuses it (MEDIUM ERROR), and a write already in flight across the
//! new end is cut short by librbd, which reports it as done (a write's result carries no
//! length). Shrink an image only when nothing writes past its new end.
#![forbid(unsafe_code)]

use crate::backend::{BlockDevice, IoRequest, bad_block_size, byte_range, is_valid_block_size};
use ceph_rbd::{Cluster, Image, ImageSpec};
use scsi_proto::params::AccessState;
use std::io::{self, IoSlice, IoSliceMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

pub use ceph_rbd::{ClusterOptions, SpecError};

/// The most bytes one `rbd_aio_write_zeroes` is asked to zero (an UNMAP may name a whole
/// disk; the operation is split so that none runs for minutes).
const ZERO_CHUNK: u64 = 1 << 30;

/// librbd's error as an `io::Error`: a passing one (the cluster timed out, the connection
/// dropped, try again) of kind `ResourceBusy`, which the emulation answers NOT READY,
/// BECOMING READY, so the initiator retries rather than taking it for a bad block. This
/// client blocklisted (ESHUTDOWN) does not pass until it reconnects, which `RbdDisk` does not
/// do yet: NOT READY, LOGICAL UNIT COMMUNICATION FAILURE (`NotConnected`), failed at once;
/// EROFS (the exclusive lock refused, a non-primary image) is WRITE PROTECTED.
fn io_error(e: ceph_rbd::Error) -> io::Error {
    // ETIMEDOUT, ENOTCONN, ECONNRESET, EAGAIN, EBUSY.
    const PASSING: [i32; 5] = [110, 107, 104, 11, 16];
    let kind = match e.errno() {
        Some(errno) if PASSING.contains(&errno) => io::ErrorKind::ResourceBusy,
        Some(108) => io::ErrorKind::NotConnected,
        Some(30) => io::ErrorKind::PermissionDenied,
        _ => return e.into(),
    };
    io::Error::new(kind, e)
}

/// `RBD_FEATURE_EXCLUSIVE_LOCK`.
const FEATURE_EXCLUSIVE_LOCK: u64 = 1 << 2;
/// `RBD_FEATURE_JOURNALING`.
const FEATURE_JOURNALING: u64 = 1 << 6;
/// ESHUTDOWN: this client is blocklisted.
const ESHUTDOWN: i32 = 108;

/// EROFS: a write refused for want of the exclusive lock.
const EROFS: i32 = 30;

/// A librbd error as an `io::Error` (see [`io_error`]), noting in `gateway`, if the disk is
/// one, that it lost the lock or was fenced.
fn failed(gateway: Option<&Gateway>, name: &str, e: ceph_rbd::Error) -> io::Error {
    if let Some(gw) = gateway {
        if matches!(e.errno(), Some(ESHUTDOWN | EROFS)) {
            gw.set_owner(false);
        }
        if e.errno() == Some(ESHUTDOWN) && gw.fence() {
            tracing::error!(
                image = %name,
                "this gateway was blocklisted (another took the lock over): every command now \
                 fails; restart it to serve again"
            );
        }
    }
    io_error(e)
}

/// An [`IoRequest`] as librbd's asynchronous calls take their buffers.
struct Request(Box<dyn IoRequest>);

impl ceph_rbd::AioBuffers for Request {
    fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
        self.0.segments()
    }
}

/// A gateway's share of the image (see the module's notes).
#[derive(Debug, Default)]
struct Gateway {
    /// Held while the lock is taken over, so that one write does it and the others wait.
    takeover: Mutex<()>,
    /// Whether this client took the lock and has not heard that it lost it. Asking librbd
    /// (`rbd_is_exclusive_lock_owner`) costs a round trip to the cluster, too much for every
    /// write; a write made after losing the lock is refused by the cluster anyway (this
    /// client blocklisted, or librbd refusing with EROFS), which clears this.
    owner: AtomicBool,
    /// Set when the cluster answered ESHUTDOWN: another gateway took the lock and Ceph
    /// blocklisted this client. Every command then fails, reads too.
    fenced: AtomicBool,
    /// Counts the changes of `owner` and `fenced`: what the access state is reported from
    /// ([`BlockDevice::access_state_changes`]).
    changes: AtomicU64,
}

impl Gateway {
    /// Notes whether this client holds the lock.
    fn set_owner(&self, owner: bool) {
        if self.owner.swap(owner, Ordering::SeqCst) != owner {
            self.changes.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Notes that this client was blocklisted; true the first time.
    fn fence(&self) -> bool {
        let first = !self.fenced.swap(true, Ordering::SeqCst);
        if first {
            self.changes.fetch_add(1, Ordering::SeqCst);
        }
        first
    }
}

/// A disk in a Ceph RBD image.
#[derive(Debug)]
pub struct RbdDisk {
    image: Image,
    name: String,
    block_size: u32,
    /// The size, in blocks, librbd last gave (kept for when it cannot answer).
    blocks: AtomicU64,
    /// The blocks a discard frees whole objects in units of (see [`Image::discard_unit`]).
    discard_blocks: u64,
    read_only: bool,
    gateway: Option<Arc<Gateway>>,
}

impl RbdDisk {
    /// Connects to the cluster `spec` names and opens its image, as a disk of `block_size`-byte
    /// blocks (the image's size must be a whole number of them), for writing unless
    /// `read_only`. Errors name the image; librbd missing is [`io::ErrorKind::NotFound`]
    /// with what to install.
    pub fn open(spec: &ImageSpec, block_size: u32, read_only: bool) -> io::Result<RbdDisk> {
        if !is_valid_block_size(block_size) {
            return Err(bad_block_size(block_size));
        }
        let name = spec.name();
        let at = |e: ceph_rbd::Error| {
            let e = io::Error::from(e);
            io::Error::new(e.kind(), format!("rbd:{name}: {e}"))
        };
        let cluster = Cluster::connect(&spec.cluster).map_err(at)?;
        let image = cluster
            .open(&spec.pool, spec.namespace.as_deref(), &spec.image, read_only)
            .map_err(at)?;
        let size = image.size().map_err(at)?;
        let bs = u64::from(block_size);
        if size == 0 || size % bs != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "rbd:{name}: its size, {size} bytes, is not a whole number of {block_size}-byte \
                     blocks"
                ),
            ));
        }
        let blocks = AtomicU64::new(size / bs);
        let discard_blocks = (image.discard_unit().map_err(at)? / bs).max(1);
        Ok(RbdDisk { image, name, block_size, blocks, discard_blocks, read_only, gateway: None })
    }

    /// Opens the image as one of several gateways serving it (see the module's notes):
    /// librbd's cache off whatever the Ceph config says, no volatile cache reported, the
    /// exclusive lock taken if nobody holds it. The image needs the `exclusive-lock` feature.
    pub fn open_gateway(spec: &ImageSpec, block_size: u32) -> io::Result<RbdDisk> {
        let mut spec = spec.clone();
        spec.cluster.set_gateway(true);
        let mut disk = RbdDisk::open(&spec, block_size, false)?;
        let name = disk.name.clone();
        // A pool's or the image's own override of a gateway setting wins over the client's:
        // refused, naming it (a cache on would lose acknowledged writes in a failover).
        for (key, want) in ceph_rbd::GATEWAY_SETTINGS {
            let meta = format!("conf_{key}");
            let at = |e: ceph_rbd::Error| {
                let msg = format!("rbd:{name}: {e}");
                io::Error::new(io_error(e).kind(), msg)
            };
            let image = disk.image.metadata(&meta).map_err(at)?.map(|v| ("image", v));
            let pool = disk.image.pool_metadata(&meta).map_err(at)?.map(|v| ("pool", v));
            for (level, value) in image.into_iter().chain(pool) {
                if value != want {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "rbd:{name}: the {level}'s setting {key}={value} overrides what a \
                             gateway needs ({key}={want:?}); remove it (rbd config {level} rm ...)"
                        ),
                    ));
                }
            }
        }
        let features = disk.image.features().map_err(io_error)?;
        if features & FEATURE_EXCLUSIVE_LOCK == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "rbd:{name}: the image has no exclusive-lock feature, which gateways need to \
                     decide which of them writes (rbd feature enable {name} exclusive-lock)"
                ),
            ));
        }
        if features & FEATURE_JOURNALING != 0 {
            // A journaled image needs the lock for reads too: a gateway without it could
            // not serve them.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "rbd:{name}: the image has the journaling feature, which gateways do not \
                     serve (rbd feature disable {name} journaling)"
                ),
            ));
        }
        disk.gateway = Some(Arc::default());
        match disk.image.lock_owners() {
            Ok(owners) if owners.is_empty() => match disk.image.acquire_lock() {
                Ok(()) => {
                    disk.set_owner(true);
                    tracing::info!(image = %name, "took the free exclusive lock");
                }
                // Another gateway took it first: this one is non-optimized.
                Err(e) => tracing::info!(image = %name, error = %e, "the lock went elsewhere"),
            },
            Ok(owners) => tracing::info!(image = %name, ?owners, "the lock is held elsewhere"),
            Err(e) => {
                let msg = format!("rbd:{name}: {e}");
                return Err(io::Error::new(io_error(e).kind(), msg));
            }
        }
        Ok(disk)
    }

    /// The seed two gateways of one image derive the same identity from (serial number and
    /// NAA): `rbd:POOL/[NAMESPACE/]ID`, the image's id being fixed for its life, unlike its
    /// name.
    pub fn identity_seed(&self) -> io::Result<String> {
        let id = self.image.id().map_err(io_error)?;
        // The name without the image's own: `POOL` or `POOL/NAMESPACE`.
        let place = self.name.rsplit_once('/').map_or("", |(place, _)| place);
        Ok(format!("rbd:{place}/{id}"))
    }

    /// A gateway without the lock has nothing of its own to flush (its cache is off, and it
    /// writes only once it holds the lock), and a flush could make librbd ask for the lock.
    fn flush_needed(&self) -> bool {
        self.gateway.as_ref().is_none_or(|gw| gw.owner.load(Ordering::SeqCst))
    }

    fn set_owner(&self, owner: bool) {
        if let Some(gw) = &self.gateway {
            gw.set_owner(owner);
        }
    }

    /// A gateway blocklisted: every command fails, as a device gone.
    fn check_fenced(&self) -> io::Result<()> {
        match &self.gateway {
            Some(gw) if gw.fenced.load(Ordering::SeqCst) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("rbd:{}: this gateway was blocklisted (another took the lock)", self.name),
            )),
            _ => Ok(()),
        }
    }

    /// A librbd error as an `io::Error`, noting a gateway's fencing or lost lock (see
    /// [`io_error`]).
    fn fail(&self, e: ceph_rbd::Error) -> io::Error {
        failed(self.gateway.as_deref(), &self.name, e)
    }

    /// For a gateway, makes sure this client holds the exclusive lock before a write, taking
    /// it over if another holds it (see the module's notes). Failures are passing ones (NOT
    /// READY, BECOMING READY: the initiator retries), except being blocklisted.
    fn take_lock(&self) -> io::Result<()> {
        let Some(gw) = &self.gateway else { return Ok(()) };
        self.check_fenced()?;
        if gw.owner.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _one = gw.takeover.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_fenced()?;
        if gw.owner.load(Ordering::SeqCst) {
            return Ok(());
        }
        // The flag may be stale the other way (a report of the state raced a takeover):
        // librbd is asked before anything is broken, so this client never breaks its own lock.
        if self.image.is_lock_owner().map_err(|e| self.fail(e))? {
            self.set_owner(true);
            return Ok(());
        }
        let passing = |e: ceph_rbd::Error| {
            let e = self.fail(e);
            match e.kind() {
                io::ErrorKind::NotConnected => e,
                kind => io::Error::new(io::ErrorKind::ResourceBusy, format!("{kind}: {e}")),
            }
        };
        let start = Instant::now();
        for owner in self.image.lock_owners().map_err(passing)? {
            tracing::warn!(
                image = %self.name, %owner,
                "a write came without the lock: breaking the holder's lock (Ceph blocklists it)"
            );
            match self.image.break_lock(&owner) {
                Ok(()) => {}
                // ENOENT / EBUSY / EAGAIN: the holder let go or changed meanwhile; acquiring
                // says the rest.
                Err(e) if matches!(e.errno(), Some(2 | 16 | 11)) => {
                    tracing::info!(image = %self.name, %owner, error = %e, "breaking the lock");
                }
                // EPERM (a client without the `osd blocklist` capability: `profile rbd` has
                // it) and the rest: this gateway cannot take over; its path fails.
                Err(e) => {
                    tracing::error!(image = %self.name, %owner, error = %e, "cannot break the lock");
                    return Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("rbd:{}: breaking {owner}'s lock: {e}", self.name),
                    ));
                }
            }
        }
        self.image.acquire_lock().map_err(passing)?;
        self.set_owner(true);
        tracing::warn!(
            image = %self.name,
            ms = start.elapsed().as_millis() as u64,
            "took the exclusive lock over: this gateway is active/optimized"
        );
        Ok(())
    }

    /// `POOL/[NAMESPACE/]IMAGE`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The open image, for what the disk does not do itself.
    pub fn image(&self) -> &Image {
        &self.image
    }

    fn offset(&self, lba: u64, len: usize) -> io::Result<u64> {
        byte_range(lba, len, self.block_size, self.num_blocks())?;
        Ok(lba * u64::from(self.block_size))
    }

    /// Refuses a write on a read-only disk, or one reaching past the image's end as librbd
    /// knows it now (an image shrunk while served would take a write across its new end
    /// short, and report success).
    fn write_offset(&self, lba: u64, len: usize) -> io::Result<u64> {
        if self.read_only {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        self.offset(lba, len)
    }

    /// As [`RbdDisk::write_offset`], for `blocks` blocks from `lba`.
    fn check_write(&self, lba: u64, blocks: u64) -> io::Result<()> {
        if self.read_only {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        match lba.checked_add(blocks) {
            Some(end) if end <= self.num_blocks() => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("rbd:{}: blocks {lba}+{blocks} are past the image's end", self.name),
            )),
        }
    }
}

impl Drop for RbdDisk {
    /// Writes librbd's cache back before the image closes, so that an error doing so is
    /// logged (closing the image would write it back too, and drop the error).
    fn drop(&mut self) {
        if !self.flush_needed() {
            return;
        }
        if let Err(e) = self.image.flush() {
            tracing::error!(image = %self.name, error = %e, "writing librbd's cache back failed");
        }
    }
}

impl BlockDevice for RbdDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    /// The image's size now, as librbd knows it (see the module's notes); the last size
    /// seen when librbd cannot say (this client blocklisted).
    fn num_blocks(&self) -> u64 {
        match self.image.size() {
            Ok(size) => {
                let blocks = size / u64::from(self.block_size);
                self.blocks.store(blocks, Ordering::Relaxed);
                blocks
            }
            Err(_) => self.blocks.load(Ordering::Relaxed),
        }
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        self.check_fenced()?;
        let len = crate::backend::total(bufs);
        let offset = self.offset(lba, len)?;
        match self.image.read(offset, bufs) {
            // librbd cuts a read past the end of an image shrunk meanwhile short.
            Err(ceph_rbd::Error::Short { .. }) => Err(io::Error::other(format!(
                "rbd:{}: a read of {len} bytes at block {lba} came back short (the image \
                 shrank?)",
                self.name
            ))),
            r => r.map_err(|e| self.fail(e)),
        }
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        let offset = self.write_offset(lba, len)?;
        self.take_lock()?;
        self.image.write(offset, bufs).map_err(|e| self.fail(e))?;
        if fua {
            self.image.flush().map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        if !self.flush_needed() {
            return self.check_fenced();
        }
        self.image.flush().map_err(|e| self.fail(e))
    }

    /// Zeroes the blocks, freeing whole objects (see the module's notes: a discard alone would
    /// not guarantee zeroes).
    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.write_zeroes(lba, blocks)
    }

    fn supports_discard(&self) -> bool {
        !self.read_only
    }

    /// An object (an object set with fancy striping): a discard of part of one writes
    /// zeroes, of a whole one deletes it.
    fn discard_granularity(&self) -> u64 {
        self.discard_blocks
    }

    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.check_write(lba, blocks)?;
        self.take_lock()?;
        let bs = u64::from(self.block_size);
        let (mut offset, end) = (lba * bs, (lba + blocks) * bs);
        while offset < end {
            let n = (end - offset).min(ZERO_CHUNK);
            // At most 1 GiB: fits a usize.
            self.image.write_zeroes(offset, n as usize).map_err(|e| self.fail(e))?;
            offset += n;
        }
        Ok(())
    }

    /// `rbd_aio_writesame`: the block is sent once, and the cluster writes it over the range.
    fn write_same(&self, lba: u64, blocks: u64, block: &[u8]) -> io::Result<()> {
        self.check_write(lba, blocks)?;
        self.take_lock()?;
        let bs = u64::from(self.block_size);
        if block.len() as u64 != bs {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // In pieces of at most 1 GiB, a whole number of blocks (each fits a usize).
        let per = (ZERO_CHUNK / bs).max(1);
        let mut done = 0;
        while done < blocks {
            let n = per.min(blocks - done);
            let len = (n * bs) as usize;
            self.image.write_same((lba + done) * bs, len, block).map_err(|e| self.fail(e))?;
            done += n;
        }
        Ok(())
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Reads, and writes librbd's cache does not hold until a flush (a durable write with
    /// the cache on is written, then flushed, by a serving thread).
    fn starts_io(&self, write: bool, durable: bool) -> bool {
        !write || !(self.read_only || (durable && self.write_cache()))
    }

    /// `rbd_aio_readv` straight into the command's buffers; the request is finished from
    /// librbd's completion.
    fn start_read(&self, lba: u64, req: Box<dyn IoRequest>) {
        if let Err(e) = self.check_fenced() {
            return req.finish(Err(e));
        }
        let offset = match self.offset(lba, req.len()) {
            Ok(offset) => offset,
            Err(e) => return req.finish(Err(e)),
        };
        let (gateway, name) = (self.gateway.clone(), self.name.clone());
        self.image.start_read(offset, Request(req), move |result, Request(req)| {
            req.finish(result.map_err(|e| failed(gateway.as_deref(), &name, e)));
        });
    }

    /// `rbd_aio_writev` straight from the command's buffers, after a gateway made sure it
    /// holds the lock (which may wait: this runs on a serving thread). A durable write with
    /// librbd's cache on is written, then flushed, before it finishes.
    fn start_write(&self, lba: u64, req: Box<dyn IoRequest>, durable: bool) {
        let offset =
            match self.write_offset(lba, req.len()).and_then(|o| Ok((o, self.take_lock()?))) {
                Ok((offset, ())) => offset,
                Err(e) => return req.finish(Err(e)),
            };
        if durable && self.write_cache() {
            // Not started this way (see `starts_io`): written and flushed here.
            let mut req = req;
            let result = {
                let segments = req.segments();
                let bufs: Vec<IoSlice<'_>> = segments.iter().map(|s| IoSlice::new(s)).collect();
                self.image.write(offset, &bufs).and_then(|()| self.image.flush())
            };
            return req.finish(result.map_err(|e| self.fail(e)));
        }
        let (gateway, name) = (self.gateway.clone(), self.name.clone());
        self.image.start_write(offset, Request(req), move |result, Request(req)| {
            req.finish(result.map_err(|e| failed(gateway.as_deref(), &name, e)));
        });
    }

    /// A gateway takes the lock before COMPARE AND WRITE reads.
    fn prepare_write(&self) -> io::Result<()> {
        if self.read_only {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        self.take_lock()
    }

    /// A gateway's cache is off: a write is in the cluster when it completes.
    fn write_cache(&self) -> bool {
        self.gateway.is_none()
    }

    /// Moves when this gateway takes or loses the lock, or is blocklisted (also when a REPORT
    /// TARGET PORT GROUPS, which asks the cluster, corrects what the gateway believed: the
    /// next command then reports the change, and the initiator asks once more).
    fn access_state_changes(&self) -> u64 {
        self.gateway.as_ref().map_or(0, |gw| gw.changes.load(Ordering::SeqCst))
    }

    /// A gateway: active/optimized while it holds the lock, unavailable once blocklisted,
    /// active/non-optimized otherwise. A lone disk: active/optimized.
    fn access_state(&self) -> AccessState {
        match &self.gateway {
            None => AccessState::ActiveOptimized,
            Some(gw) if gw.fenced.load(Ordering::Relaxed) => AccessState::Unavailable,
            // Asked of the cluster (a round trip: REPORT TARGET PORT GROUPS is rare).
            Some(gw) => match self.image.is_lock_owner() {
                Ok(true) => {
                    self.set_owner(true);
                    AccessState::ActiveOptimized
                }
                Ok(false) => {
                    self.set_owner(false);
                    AccessState::ActiveNonOptimized
                }
                Err(e) => {
                    let _ = self.fail(e);
                    if gw.fenced.load(Ordering::SeqCst) {
                        AccessState::Unavailable
                    } else {
                        AccessState::ActiveNonOptimized
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_cluster_errors_are_retried_and_the_others_not() {
        let kind = |errno| io_error(ceph_rbd::Error::Os { op: "rbd_aio_writev", errno }).kind();
        for passing in [110, 107, 104, 11, 16] {
            assert_eq!(kind(passing), io::ErrorKind::ResourceBusy, "errno {passing}");
        }
        assert_eq!(kind(108), io::ErrorKind::NotConnected, "blocklisted: no endless retries");
        assert_eq!(kind(30), io::ErrorKind::PermissionDenied);
        let eio = kind(5);
        assert!(
            ![io::ErrorKind::ResourceBusy, io::ErrorKind::NotConnected].contains(&eio),
            "EIO stays a medium error: {eio:?}"
        );
    }
}
