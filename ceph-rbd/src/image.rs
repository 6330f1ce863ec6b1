//! The safe handles: a connected [`Cluster`] and an open [`Image`], every call into the C
//! libraries with the reason it is sound beside it.

use crate::sys::{self, Api, CompletionT, ImageT, IoctxT, Iovec, RadosT};
use crate::{ClusterOptions, Error, Result};
use std::ffi::{CString, c_int};
use std::io::{IoSlice, IoSliceMut};
use std::ptr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The most iovecs one librbd call is given (the system's `IOV_MAX`): longer lists are sent
/// in pieces.
const IOV_MAX: usize = 1024;

/// A C string of `what`, refused if it holds a NUL byte.
fn c_string(what: &'static str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidName { what, name: s.escape_debug().to_string() })
}

/// A negative errno return as an error, for `op`.
fn check(op: &'static str, r: isize) -> Result<usize> {
    if r < 0 {
        let errno = i32::try_from(r.unsigned_abs()).unwrap_or(i32::MAX);
        Err(Error::Os { op, errno })
    } else {
        Ok(r.unsigned_abs())
    }
}

/// The cluster connection, shared by the images opened through it and shut down after the
/// last of them closes.
struct Connection {
    api: &'static Api,
    handle: RadosT,
}

// SAFETY: a `rados_t` is documented thread-safe (librados serialises what it shares); the
// handle is only shut down in `Drop`, when no other reference exists.
unsafe impl Send for Connection {}
// SAFETY: as above: every call made through a shared `&Connection` is one librados allows
// from several threads at once (`rados_ioctx_create`).
unsafe impl Sync for Connection {}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: `handle` came from `rados_create2`, and this is the last reference: every
        // I/O context and image made through it holds an `Arc` to it and is gone.
        unsafe { (self.api.rados_shutdown)(self.handle) }
    }
}

/// A connection to a Ceph cluster (a `rados_t`), through which images are opened.
#[derive(Clone)]
pub struct Cluster {
    conn: Arc<Connection>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects as `options` say: its config file (or Ceph's default search: `$CEPH_CONF`,
    /// `/etc/ceph/ceph.conf`...), client id, keyring, and the time-outs. Fails with
    /// [`Error::Missing`] when librbd is not installed.
    pub fn connect(options: &ClusterOptions) -> Result<Cluster> {
        let api = sys::api()?;
        let cluster_name = c_string("cluster name", "ceph")?;
        let client = c_string("client id", &format!("client.{}", options.id()))?;
        let mut handle: RadosT = ptr::null_mut();
        // SAFETY: the out-pointer is a live local; both names are NUL-terminated and outlive
        // the call; flags 0.
        let r =
            unsafe { (api.rados_create2)(&mut handle, cluster_name.as_ptr(), client.as_ptr(), 0) };
        check("rados_create2", r as isize)?;
        // From here the connection is shut down on any error, by its `Drop`.
        let conn = Connection { api, handle };
        let conf = options.conf().map(|p| c_string("config file", &p.to_string_lossy()));
        let conf = conf.transpose()?;
        // SAFETY: `handle` is a created, unconnected cluster; the path is NUL-terminated (or
        // NULL: Ceph's default search) and outlives the call.
        let r = unsafe {
            (api.rados_conf_read_file)(handle, conf.as_ref().map_or(ptr::null(), |c| c.as_ptr()))
        };
        check("rados_conf_read_file", r as isize)?;
        for (key, value) in options.settings() {
            let (k, v) = (c_string("option", &key)?, c_string("option value", &value)?);
            // SAFETY: as above; both strings are NUL-terminated and outlive the call.
            let r = unsafe { (api.rados_conf_set)(handle, k.as_ptr(), v.as_ptr()) };
            if r < 0 {
                return Err(Error::Setting { key, value, errno: -r });
            }
        }
        // SAFETY: `handle` is configured and not yet connected.
        let r = unsafe { (api.rados_connect)(handle) };
        check("rados_connect", r as isize)?;
        Ok(Cluster { conn: Arc::new(conn) })
    }

    /// Opens image `name` in `pool` (and RADOS namespace `namespace`, when given), for reading
    /// and writing, or only reading.
    pub fn open(
        &self,
        pool: &str,
        namespace: Option<&str>,
        name: &str,
        read_only: bool,
    ) -> Result<Image> {
        let api = self.conn.api;
        let pool_c = c_string("pool", pool)?;
        let mut ioctx: IoctxT = ptr::null_mut();
        // SAFETY: the cluster is connected and stays so (this `Cluster` holds it); the pool
        // name is NUL-terminated and outlives the call; the out-pointer is a live local.
        let r = unsafe { (api.rados_ioctx_create)(self.conn.handle, pool_c.as_ptr(), &mut ioctx) };
        check("rados_ioctx_create", r as isize).map_err(|e| e.in_pool(pool))?;
        let ctx = IoContext { conn: Arc::clone(&self.conn), handle: ioctx };
        if let Some(ns) = namespace {
            let ns = c_string("namespace", ns)?;
            // SAFETY: `ioctx` is live and not yet shared with any other thread; the namespace is
            // NUL-terminated and copied by librados.
            unsafe { (api.rados_ioctx_set_namespace)(ctx.handle, ns.as_ptr()) };
        }
        let name_c = c_string("image", name)?;
        let mut image: ImageT = ptr::null_mut();
        let open = if read_only { api.rbd_open_read_only } else { api.rbd_open };
        // SAFETY: `ioctx` is live (held by `ctx`, which the image keeps); the name is
        // NUL-terminated; a NULL snapshot name opens the image's head; the out-pointer is a
        // live local.
        let r = unsafe { open(ctx.handle, name_c.as_ptr(), &mut image, ptr::null()) };
        check("rbd_open", r as isize).map_err(|e| e.in_pool(pool))?;
        let in_flight = Arc::new(InFlight::default());
        Ok(Image { ctx, handle: image, in_flight, pool: pool.to_string() })
    }
}

/// A pool's I/O context, kept while an image opened in it is open.
struct IoContext {
    conn: Arc<Connection>,
    handle: IoctxT,
}

impl Drop for IoContext {
    fn drop(&mut self) {
        // SAFETY: the context came from `rados_ioctx_create` on a cluster still connected
        // (`conn` is dropped after this runs), and the image opened in it is closed (the
        // `Image` closes it in its own `Drop`, before its fields drop).
        unsafe { (self.conn.api.rados_ioctx_destroy)(self.handle) }
    }
}

/// An open RBD image (`rbd_image_t`). Every I/O call is made with librbd's asynchronous API
/// and waited for; many threads may call at once, each with its own operation in flight.
pub struct Image {
    ctx: IoContext,
    handle: ImageT,
    /// The operations started with `start_*` and not yet ended.
    in_flight: Arc<InFlight>,
    /// The pool's name, for a context of its own (see [`Image::pool_metadata`]).
    pool: String,
}

// SAFETY: librbd's image handle is used by many threads at once by design (tcmu-runner and
// QEMU issue `rbd_aio_*` on one handle from several threads); it is closed only in `Drop`.
unsafe impl Send for Image {}
// SAFETY: every method taking `&self` is an `rbd_aio_*` call, `rbd_get_size`,
// `rbd_get_features`, `rbd_get_id`, `rbd_resize` or one of the exclusive lock calls, which
// librbd serialises internally (the image context's own locks).
unsafe impl Sync for Image {}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image").finish_non_exhaustive()
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // What was started and not yet ended uses the handle and its buffers: waited for
        // (librbd's close waits for its callbacks too; this does not rely on it).
        self.in_flight.wait_idle();
        // SAFETY: `handle` is an open image; no operation is in flight (each method waits for
        // its own before returning, `Drop` has `&mut self`, and every started one has ended:
        // the wait above). librbd flushes its cache on close; an error there cannot be
        // returned from `Drop` (call `flush` first to see it).
        let _ = unsafe { (self.api().rbd_close)(self.handle) };
    }
}

/// How many started operations have not ended, and a condition to wait for none.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

impl InFlight {
    fn enter(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn leave(&self) {
        let mut n = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self) {
        let n = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let _n = self.idle.wait_while(n, |n| *n > 0).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Buffers an operation started with [`Image::start_read`] or [`Image::start_write`] owns
/// until it ends, and hands back to its callback.
pub trait AioBuffers: Send + 'static {
    /// The segments, in order. Asked once, as the operation starts; the operation then keeps
    /// the value (boxed, so it does not move) and touches it no more until it ends, so the
    /// memory the segments cover stays where it is.
    fn segments(&mut self) -> Vec<IoSliceMut<'_>>;
}

/// An operation started with a callback: what the callback needs, boxed and handed to librbd
/// as its argument.
struct Started<B, F> {
    api: &'static Api,
    op: &'static str,
    /// The bytes a read must return (reads only).
    want: Option<usize>,
    /// The segments of `bufs` as iovecs: librbd keeps a pointer to this list (a read
    /// scatters into it as it ends), so it lives, unmoved, as long as the operation.
    iov: Vec<Iovec>,
    bufs: B,
    done: F,
    in_flight: Arc<InFlight>,
}

/// librbd's completion callback for a [`Started`] of these types: takes the box back,
/// releases the completion, passes the result and the buffers on, and counts it ended.
///
/// # Safety
/// `arg` must be a `Box<Started<B, F>>` turned into a raw pointer, given to librbd with one
/// operation on `c`, which calls this once, when the operation has ended.
unsafe extern "C" fn on_complete<B, F>(c: CompletionT, arg: *mut std::ffi::c_void)
where
    B: AioBuffers,
    F: FnOnce(Result<()>, B) + Send + 'static,
{
    // SAFETY: as the contract says, `arg` is the box given to librbd, taken back once.
    let started = unsafe { Box::from_raw(arg.cast::<Started<B, F>>()) };
    let Started { api, op, want, iov, bufs, done, in_flight } = *started;
    // The operation has ended: librbd no longer reads the list.
    drop(iov);
    // SAFETY: `c` is the completion of the operation that has just ended; released once,
    // after its value is read.
    let r = unsafe { (api.rbd_aio_get_return_value)(c) };
    // SAFETY: as above.
    unsafe { (api.rbd_aio_release)(c) };
    let result = check(op, r).and_then(|got| match want {
        Some(want) if got != want => Err(Error::Short { op, want, got }),
        _ => Ok(()),
    });
    // A panic must not unwind into librbd (it would abort the process): the callback's
    // panic is dropped here, and whatever it held with it.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| done(result, bufs)));
    in_flight.leave();
}

/// An `rbd_completion_t`, released when dropped (after it completed).
struct Completion {
    api: &'static Api,
    handle: CompletionT,
    /// Whether an operation was started on it (and so must be waited for before release).
    started: bool,
}

impl Completion {
    fn new(api: &'static Api) -> Result<Completion> {
        let mut handle: CompletionT = ptr::null_mut();
        // SAFETY: no callback (completion is waited for), no argument; the out-pointer is a
        // live local.
        let r = unsafe { (api.rbd_aio_create_completion)(ptr::null_mut(), None, &mut handle) };
        check("rbd_aio_create_completion", r as isize)?;
        Ok(Completion { api, handle, started: false })
    }

    /// Waits for the operation and returns its result.
    fn wait(mut self, op: &'static str) -> Result<usize> {
        // SAFETY: an operation was started on this completion; waiting is allowed once.
        unsafe { (self.api.rbd_aio_wait_for_complete)(self.handle) };
        self.started = false;
        // SAFETY: the completion is complete.
        let r = unsafe { (self.api.rbd_aio_get_return_value)(self.handle) };
        check(op, r)
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.started {
            // An operation still uses it and its buffers: wait before they may be freed.
            // SAFETY: as in `wait`.
            unsafe { (self.api.rbd_aio_wait_for_complete)(self.handle) };
        }
        // SAFETY: created by `rbd_aio_create_completion`, complete or never started, released
        // once.
        unsafe { (self.api.rbd_aio_release)(self.handle) }
    }
}

impl Image {
    fn api(&self) -> &'static Api {
        self.ctx.conn.api
    }

    /// Starts an operation with `start` (given a fresh completion) and waits for it.
    ///
    /// # Safety
    /// `start` must start at most one librbd operation on the completion it is given, every
    /// buffer that operation uses must stay valid until this function returns, and it must
    /// return the start call's result.
    unsafe fn run(
        &self,
        op: &'static str,
        start: impl FnOnce(ImageT, CompletionT) -> isize,
    ) -> Result<usize> {
        let mut c = Completion::new(self.api())?;
        let r = start(self.handle, c.handle);
        if r < 0 {
            // Not started: nothing to wait for.
            return check(op, r);
        }
        c.started = true;
        c.wait(op)
    }

    /// The image's size in bytes, as librbd knows it now (it follows a resize made elsewhere).
    pub fn size(&self) -> Result<u64> {
        let mut size = 0u64;
        // SAFETY: the image is open; the out-pointer is a live local.
        let r = unsafe { (self.api().rbd_get_size)(self.handle, &mut size) };
        check("rbd_get_size", r as isize)?;
        Ok(size)
    }

    /// The bytes a discard must cover, from a multiple of them, to free whole objects: the
    /// object size times the stripe count (one object set; the object size without fancy
    /// striping). A discard of less is a write of zeroes into an object.
    pub fn discard_unit(&self) -> Result<u64> {
        let api = self.api();
        let mut info = sys::ImageInfo::default();
        // SAFETY: the image is open; `info` is a live local of the size passed, which librbd
        // checks against its own `rbd_image_info_t` before it writes.
        let r = unsafe {
            (api.rbd_stat)(self.handle, &mut info, std::mem::size_of::<sys::ImageInfo>())
        };
        check("rbd_stat", r as isize)?;
        let mut count = 0u64;
        // SAFETY: the image is open; the out-pointer is a live local.
        let r = unsafe { (api.rbd_get_stripe_count)(self.handle, &mut count) };
        check("rbd_get_stripe_count", r as isize)?;
        Ok(info.obj_size.saturating_mul(count.max(1)))
    }

    /// The image's feature bits (`RBD_FEATURE_*`).
    pub fn features(&self) -> Result<u64> {
        let mut features = 0u64;
        // SAFETY: the image is open; the out-pointer is a live local.
        let r = unsafe { (self.api().rbd_get_features)(self.handle, &mut features) };
        check("rbd_get_features", r as isize)?;
        Ok(features)
    }

    /// Fills `bufs`, in order, from byte `offset`. A read past the image's end fails.
    pub fn read(&self, mut offset: u64, bufs: &mut [IoSliceMut<'_>]) -> Result<()> {
        let api = self.api();
        for chunk in bufs.chunks_mut(IOV_MAX) {
            let want: usize = chunk.iter().map(|b| b.len()).sum();
            let iov = chunk.as_mut_ptr().cast::<Iovec>();
            let n = c_int::try_from(chunk.len()).unwrap_or(c_int::MAX);
            // SAFETY: `IoSliceMut` is ABI-compatible with `struct iovec`; the slices are
            // borrowed mutably for this whole call, which waits for the operation; one
            // operation is started.
            let got = unsafe {
                self.run("rbd_aio_readv", |img, c| {
                    (api.rbd_aio_readv)(img, iov, n, offset, c) as isize
                })
            }?;
            if got != want {
                return Err(Error::Short { op: "rbd_aio_readv", want, got });
            }
            offset += want as u64;
        }
        Ok(())
    }

    /// Writes `bufs`, in order, from byte `offset` (into librbd's cache when it has one: see
    /// [`Image::flush`]).
    pub fn write(&self, mut offset: u64, bufs: &[IoSlice<'_>]) -> Result<()> {
        let api = self.api();
        for chunk in bufs.chunks(IOV_MAX) {
            let want: usize = chunk.iter().map(|b| b.len()).sum();
            let iov = chunk.as_ptr().cast::<Iovec>();
            let n = c_int::try_from(chunk.len()).unwrap_or(c_int::MAX);
            // SAFETY: `IoSlice` is ABI-compatible with `struct iovec`; librbd only reads the
            // buffers, borrowed for this whole call, which waits for the operation.
            unsafe {
                self.run("rbd_aio_writev", |img, c| {
                    (api.rbd_aio_writev)(img, iov, n, offset, c) as isize
                })
            }?;
            offset += want as u64;
        }
        Ok(())
    }

    /// Starts reading into `bufs` from byte `offset`, and returns: `done` gets the result
    /// (a read cut short is [`Error::Short`]) and the buffers back when the read ends, on a
    /// librbd thread, or at once on this one if it could not start (more than 1024 segments
    /// among them). `done` runs where librbd delivers its completions: it must not wait for
    /// long, and must not drop this image (its `Drop` waits for the operations started).
    pub fn start_read<B, F>(&self, offset: u64, bufs: B, done: F)
    where
        B: AioBuffers,
        F: FnOnce(Result<()>, B) + Send + 'static,
    {
        self.start("rbd_aio_readv", offset, bufs, done, true);
    }

    /// Starts writing `bufs` from byte `offset` (into librbd's cache when it has one), and
    /// returns; `done` as for [`Image::start_read`]. librbd only reads the buffers.
    pub fn start_write<B, F>(&self, offset: u64, bufs: B, done: F)
    where
        B: AioBuffers,
        F: FnOnce(Result<()>, B) + Send + 'static,
    {
        self.start("rbd_aio_writev", offset, bufs, done, false);
    }

    /// Starts [`Image::flush`] and returns; `done` gets its result, as for
    /// [`Image::start_read`].
    pub fn start_flush<F>(&self, done: F)
    where
        F: FnOnce(Result<()>) + Send + 'static,
    {
        struct NoBuffers;
        impl AioBuffers for NoBuffers {
            fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
                Vec::new()
            }
        }
        self.start("rbd_aio_flush", 0, NoBuffers, move |r, _| done(r), false);
    }

    fn start<B, F>(&self, op: &'static str, offset: u64, bufs: B, done: F, read: bool)
    where
        B: AioBuffers,
        F: FnOnce(Result<()>, B) + Send + 'static,
    {
        let api = self.api();
        let in_flight = Arc::clone(&self.in_flight);
        // Boxed, and the box's ownership turned into a pointer, before the segments are asked
        // for: they may lie in the value itself, which must not move (nor its box be moved)
        // from then on.
        let arg = Box::into_raw(Box::new(Started {
            api,
            op,
            want: None,
            iov: Vec::new(),
            bufs,
            done,
            in_flight,
        }));
        let (count, iov_ptr) = {
            // SAFETY: `arg` came from `Box::into_raw` just above and nothing else refers to
            // it: this is the only reference, and it ends with this block.
            let started = unsafe { &mut *arg };
            let segs = started.bufs.segments();
            let want: usize = segs.iter().map(|s| s.len()).sum();
            // The pointers and lengths are kept; the borrow of the buffers ends here.
            started.iov = segs.into_iter().map(Iovec::from_slice).collect();
            started.want = read.then_some(want);
            (started.iov.len(), started.iov.as_ptr())
        };
        if op != "rbd_aio_flush" && (count == 0 || count > IOV_MAX) {
            // SAFETY: the box was not handed to librbd: taken back once.
            let Started { bufs, done, .. } = *unsafe { Box::from_raw(arg) };
            done(Err(Error::Os { op, errno: 22 }), bufs);
            return;
        }
        let mut c: CompletionT = ptr::null_mut();
        // SAFETY: `arg` is a live box of the type `on_complete::<B, F>` takes back; the
        // out-pointer is a live local.
        let r = unsafe {
            (api.rbd_aio_create_completion)(arg.cast(), Some(on_complete::<B, F>), &mut c)
        };
        if r < 0 {
            // SAFETY: no completion was made: the box was not handed to librbd.
            let Started { bufs, done, .. } = *unsafe { Box::from_raw(arg) };
            done(check("rbd_aio_create_completion", r as isize).map(drop), bufs);
            return;
        }
        self.in_flight.enter();
        let iovcnt = count as c_int;
        // SAFETY: the image is open (and stays so: `Drop` waits for what was started); one
        // operation on the fresh completion `c`; the iovecs describe memory of the boxed
        // buffers, and the list itself is the box's: nothing touches or moves either until
        // `on_complete` takes the box back after the operation ended (librbd keeps the
        // list's address for a read, and may keep a write's buffers without copying them).
        let r = unsafe {
            match op {
                "rbd_aio_readv" => (api.rbd_aio_readv)(self.handle, iov_ptr, iovcnt, offset, c),
                "rbd_aio_writev" => (api.rbd_aio_writev)(self.handle, iov_ptr, iovcnt, offset, c),
                _ => (api.rbd_aio_flush)(self.handle, c),
            }
        };
        if r < 0 {
            // Not started: librbd will not call back.
            // SAFETY: the completion was made here and no operation uses it; the box was
            // not handed on to anything that ran.
            unsafe { (api.rbd_aio_release)(c) };
            // SAFETY: as above: taken back once.
            let Started { bufs, done, .. } = *unsafe { Box::from_raw(arg) };
            self.in_flight.leave();
            done(check(op, r as isize).map(drop), bufs);
        }
    }

    /// Makes every completed write durable in the cluster (librbd's cache written back).
    pub fn flush(&self) -> Result<()> {
        let api = self.api();
        // SAFETY: one operation, no buffer.
        unsafe { self.run("rbd_aio_flush", |img, c| (api.rbd_aio_flush)(img, c) as isize) }
            .map(drop)
    }

    /// Discards `len` bytes from `offset`. Whole objects are freed; a discard of part of an
    /// object smaller than the image's `rbd_discard_granularity_bytes` (64 KiB by default)
    /// may keep the old bytes: use [`Image::write_zeroes`] where zeroes must be read back.
    pub fn discard(&self, offset: u64, len: u64) -> Result<()> {
        let api = self.api();
        // SAFETY: one operation, no buffer.
        unsafe {
            self.run("rbd_aio_discard", |img, c| {
                (api.rbd_aio_discard)(img, offset, len, c) as isize
            })
        }
        .map(drop)
    }

    /// Writes zeroes over `len` bytes from `offset`, freeing whole objects where it can; they
    /// read back as zeroes.
    pub fn write_zeroes(&self, offset: u64, len: usize) -> Result<()> {
        let api = self.api();
        // SAFETY: one operation, no buffer; flags 0 (zero whatever is there).
        unsafe {
            self.run("rbd_aio_write_zeroes", |img, c| {
                (api.rbd_aio_write_zeroes)(img, offset, len, c, 0, 0) as isize
            })
        }
        .map(drop)
    }

    /// Writes `pattern` repeatedly over `len` bytes from `offset` (`len` a multiple of the
    /// pattern's length).
    pub fn write_same(&self, offset: u64, len: usize, pattern: &[u8]) -> Result<()> {
        if pattern.is_empty() || len % pattern.len() != 0 {
            return Err(Error::Os { op: "rbd_aio_writesame", errno: 22 });
        }
        let api = self.api();
        let (buf, plen) = (pattern.as_ptr().cast(), pattern.len());
        // SAFETY: the pattern is borrowed for this whole call, which waits; librbd reads it.
        unsafe {
            self.run("rbd_aio_writesame", |img, c| {
                (api.rbd_aio_writesame)(img, offset, len, buf, plen, c, 0) as isize
            })
        }
        .map(drop)
    }

    /// The image's id in its pool (fixed for the image's life, unlike its name: the same for
    /// every client).
    pub fn id(&self) -> Result<String> {
        let mut buf = [0u8; 128];
        // SAFETY: the image is open; the buffer and its length are a live local's; librbd
        // writes a NUL-terminated id into it, or fails with ERANGE if it does not fit.
        let r = unsafe { (self.api().rbd_get_id)(self.handle, buf.as_mut_ptr().cast(), buf.len()) };
        check("rbd_get_id", r as isize)?;
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    /// Whether this client holds the image's exclusive lock (needs the `exclusive-lock`
    /// feature).
    pub fn is_lock_owner(&self) -> Result<bool> {
        let mut owner: c_int = 0;
        // SAFETY: the image is open; the out-pointer is a live local.
        let r = unsafe { (self.api().rbd_is_exclusive_lock_owner)(self.handle, &mut owner) };
        check("rbd_is_exclusive_lock_owner", r as isize)?;
        Ok(owner != 0)
    }

    /// The clients holding the exclusive lock (their addresses, as Ceph names them): empty
    /// when it is free.
    pub fn lock_owners(&self) -> Result<Vec<String>> {
        const MAX: usize = 8;
        let mut owners: [*mut std::ffi::c_char; MAX] = [ptr::null_mut(); MAX];
        let mut count = MAX;
        let mut mode: sys::LockMode = sys::LOCK_MODE_EXCLUSIVE;
        // SAFETY: the image is open; `owners` has room for `count` pointers, which librbd
        // fills with strings it allocates (freed below with the cleanup call it provides),
        // setting `count` to how many; ERANGE (more owners than room) fills none.
        let r = unsafe {
            (self.api().rbd_lock_get_owners)(
                self.handle,
                &mut mode,
                owners.as_mut_ptr(),
                &mut count,
            )
        };
        if r == -2 {
            return Ok(Vec::new()); // ENOENT: nobody holds it
        }
        check("rbd_lock_get_owners", r as isize)?;
        let count = count.min(MAX);
        let list = owners[..count]
            .iter()
            .filter(|p| !p.is_null())
            // SAFETY: each of the first `count` pointers is NULL (skipped) or a NUL-terminated
            // string from librbd, alive until the cleanup call below.
            .map(|&p| unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned())
            .collect();
        // SAFETY: the `count` strings librbd allocated, freed once, by its own function.
        unsafe { (self.api().rbd_lock_get_owners_cleanup)(owners.as_mut_ptr(), count) };
        Ok(list)
    }

    /// The image's metadata `key` (`None` when it has none): for instance `conf_rbd_cache`,
    /// an override of a librbd setting for this image.
    pub fn metadata(&self, key: &str) -> Result<Option<String>> {
        let key_c = c_string("metadata key", key)?;
        let api = self.api();
        // SAFETY: the image is open; the key is NUL-terminated; `value` has `len` bytes.
        read_value("rbd_metadata_get", |value, len| unsafe {
            (api.rbd_metadata_get)(self.handle, key_c.as_ptr(), value, len)
        })
    }

    /// The metadata `key` of the image's pool (`None` when it has none): for instance
    /// `conf_rbd_cache`, an override of a librbd setting for every image of the pool.
    /// Read through a context of its own in the pool's default namespace, where librbd keeps
    /// (and reads) a pool's settings whatever namespace the image is in.
    pub fn pool_metadata(&self, key: &str) -> Result<Option<String>> {
        let key_c = c_string("metadata key", key)?;
        let api = self.api();
        let pool_c = c_string("pool", &self.pool)?;
        let mut handle: IoctxT = ptr::null_mut();
        let conn = &self.ctx.conn;
        // SAFETY: the cluster is connected (the image's context holds it); the pool name is
        // NUL-terminated and outlives the call; the out-pointer is a live local.
        let r = unsafe { (api.rados_ioctx_create)(conn.handle, pool_c.as_ptr(), &mut handle) };
        check("rados_ioctx_create", r as isize)?;
        // Destroyed when dropped; never shared with another thread.
        let ctx = IoContext { conn: Arc::clone(conn), handle };
        // SAFETY: `ctx` is live and this thread's alone; the key is NUL-terminated; `value`
        // has `len` bytes.
        read_value("rbd_pool_metadata_get", |value, len| unsafe {
            (api.rbd_pool_metadata_get)(ctx.handle, key_c.as_ptr(), value, len)
        })
    }

    /// Breaks `owner`'s exclusive lock; Ceph blocklists that client (with its default
    /// `rbd_blocklist_on_break_lock`), so nothing it still sends is written.
    pub fn break_lock(&self, owner: &str) -> Result<()> {
        let owner_c = c_string("lock owner", owner)?;
        // SAFETY: the image is open; the owner is NUL-terminated and outlives the call.
        let r = unsafe {
            (self.api().rbd_lock_break)(self.handle, sys::LOCK_MODE_EXCLUSIVE, owner_c.as_ptr())
        };
        check("rbd_lock_break", r as isize).map(drop)
    }

    /// Takes the exclusive lock and keeps it: librbd no longer hands it over when another
    /// client asks (that client's writes fail until it breaks the lock). Fails when another
    /// client holds it.
    pub fn acquire_lock(&self) -> Result<()> {
        // SAFETY: the image is open; the mode is one of the enum's values.
        let r = unsafe { (self.api().rbd_lock_acquire)(self.handle, sys::LOCK_MODE_EXCLUSIVE) };
        check("rbd_lock_acquire", r as isize).map(drop)
    }

    /// Changes the image's size (growing it reads as zeroes; shrinking it drops data).
    pub fn resize(&self, size: u64) -> Result<()> {
        // SAFETY: the image is open; librbd serialises a resize with the I/O in flight.
        let r = unsafe { (self.api().rbd_resize)(self.handle, size) };
        check("rbd_resize", r as isize).map(drop)
    }
}

/// A string value read by `get(buffer, length in/out)`, librbd's metadata calls: `None` for
/// ENOENT; values longer than 4 KiB are refused (ERANGE), not retried with a buffer librbd
/// sizes.
fn read_value(
    op: &'static str,
    get: impl FnOnce(*mut std::ffi::c_char, *mut usize) -> c_int,
) -> Result<Option<String>> {
    let mut buf = [0u8; 4096];
    let mut len = buf.len();
    let r = get(buf.as_mut_ptr().cast(), &mut len);
    if r == -2 {
        return Ok(None);
    }
    check(op, r as isize)?;
    let len = len.min(buf.len());
    let end = buf[..len].iter().position(|&b| b == 0).unwrap_or(len);
    Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()))
}

/// Whether librbd can be loaded here, and if not, why (the message names the library).
pub fn available() -> Result<()> {
    sys::api().map(drop)
}
