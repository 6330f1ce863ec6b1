//! The C side: librados and librbd opened at run time, and the few functions this crate calls,
//! declared by hand from `rados/librados.h` and `rbd/librbd.h` (Ceph 16+). Every `unsafe`
//! of loading lives here; the calls are made (and their safety argued) in `image.rs`.

use crate::Error;
use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

/// `rados_t`: a cluster handle.
pub(crate) type RadosT = *mut c_void;
/// `rados_ioctx_t`: a pool's I/O context.
pub(crate) type IoctxT = *mut c_void;
/// `rbd_image_t`: an open image.
pub(crate) type ImageT = *mut c_void;
/// `rbd_completion_t`: an asynchronous operation's completion.
pub(crate) type CompletionT = *mut c_void;
/// `rbd_callback_t`.
pub(crate) type CallbackT = Option<unsafe extern "C" fn(CompletionT, *mut c_void)>;

/// `rbd_lock_mode_t`, a C enum of `int` size (its values fit an `int`, so the compiler gives
/// it `int`'s representation on every Linux ABI).
pub(crate) type LockMode = c_int;
/// `RBD_LOCK_MODE_EXCLUSIVE`.
pub(crate) const LOCK_MODE_EXCLUSIVE: LockMode = 0;

/// `struct iovec`, as librbd's `*v` calls take it. `std::io::IoSlice` and `IoSliceMut` are
/// documented to be ABI-compatible with it on Unix, so slices of them are passed as is.
#[repr(C)]
pub(crate) struct Iovec {
    _base: *mut c_void,
    _len: usize,
}

impl Iovec {
    /// The address and length of a segment (making them is safe; using them is the caller's
    /// to argue).
    pub(crate) fn from_slice(mut s: std::io::IoSliceMut<'_>) -> Iovec {
        Iovec { _base: s.as_mut_ptr().cast(), _len: s.len() }
    }
}

/// `rbd_image_info_t`, what `rbd_stat` fills (`RBD_MAX_BLOCK_NAME_SIZE` 24,
/// `RBD_MAX_IMAGE_NAME_SIZE` 96); only `obj_size` is read.
#[repr(C)]
pub(crate) struct ImageInfo {
    pub size: u64,
    pub obj_size: u64,
    pub num_objs: u64,
    pub order: c_int,
    pub block_name_prefix: [c_char; 24],
    pub parent_pool: i64,
    pub parent_name: [c_char; 96],
}

impl Default for ImageInfo {
    fn default() -> ImageInfo {
        ImageInfo {
            size: 0,
            obj_size: 0,
            num_objs: 0,
            order: 0,
            block_name_prefix: [0; 24],
            parent_pool: 0,
            parent_name: [0; 96],
        }
    }
}

/// The library names looked for: the sonames Debian's librados2 and librbd1 install.
pub(crate) const LIBRADOS: &str = "librados.so.2";
pub(crate) const LIBRBD: &str = "librbd.so.1";

/// The functions called, with the libraries kept open for the life of the process (the
/// pointers stay valid: the libraries are never closed).
pub(crate) struct Api {
    _rados: libloading::Library,
    _rbd: libloading::Library,
    pub rados_create2:
        unsafe extern "C" fn(*mut RadosT, *const c_char, *const c_char, u64) -> c_int,
    pub rados_conf_read_file: unsafe extern "C" fn(RadosT, *const c_char) -> c_int,
    pub rados_conf_set: unsafe extern "C" fn(RadosT, *const c_char, *const c_char) -> c_int,
    pub rados_connect: unsafe extern "C" fn(RadosT) -> c_int,
    pub rados_shutdown: unsafe extern "C" fn(RadosT),
    pub rados_ioctx_create: unsafe extern "C" fn(RadosT, *const c_char, *mut IoctxT) -> c_int,
    pub rados_ioctx_destroy: unsafe extern "C" fn(IoctxT),
    pub rados_ioctx_set_namespace: unsafe extern "C" fn(IoctxT, *const c_char),
    pub rbd_open: unsafe extern "C" fn(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    pub rbd_open_read_only:
        unsafe extern "C" fn(IoctxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    pub rbd_close: unsafe extern "C" fn(ImageT) -> c_int,
    pub rbd_get_size: unsafe extern "C" fn(ImageT, *mut u64) -> c_int,
    pub rbd_get_features: unsafe extern "C" fn(ImageT, *mut u64) -> c_int,
    pub rbd_stat: unsafe extern "C" fn(ImageT, *mut ImageInfo, usize) -> c_int,
    pub rbd_get_stripe_count: unsafe extern "C" fn(ImageT, *mut u64) -> c_int,
    pub rbd_aio_create_completion:
        unsafe extern "C" fn(*mut c_void, CallbackT, *mut CompletionT) -> c_int,
    pub rbd_aio_release: unsafe extern "C" fn(CompletionT),
    pub rbd_aio_wait_for_complete: unsafe extern "C" fn(CompletionT) -> c_int,
    pub rbd_aio_get_return_value: unsafe extern "C" fn(CompletionT) -> isize,
    pub rbd_aio_readv: unsafe extern "C" fn(ImageT, *const Iovec, c_int, u64, CompletionT) -> c_int,
    pub rbd_aio_writev:
        unsafe extern "C" fn(ImageT, *const Iovec, c_int, u64, CompletionT) -> c_int,
    pub rbd_aio_flush: unsafe extern "C" fn(ImageT, CompletionT) -> c_int,
    pub rbd_aio_discard: unsafe extern "C" fn(ImageT, u64, u64, CompletionT) -> c_int,
    pub rbd_aio_write_zeroes:
        unsafe extern "C" fn(ImageT, u64, usize, CompletionT, c_int, c_int) -> c_int,
    pub rbd_aio_writesame:
        unsafe extern "C" fn(ImageT, u64, usize, *const c_char, usize, CompletionT, c_int) -> c_int,
    pub rbd_resize: unsafe extern "C" fn(ImageT, u64) -> c_int,
    pub rbd_get_id: unsafe extern "C" fn(ImageT, *mut c_char, usize) -> c_int,
    pub rbd_is_exclusive_lock_owner: unsafe extern "C" fn(ImageT, *mut c_int) -> c_int,
    pub rbd_lock_acquire: unsafe extern "C" fn(ImageT, LockMode) -> c_int,
    pub rbd_lock_get_owners:
        unsafe extern "C" fn(ImageT, *mut LockMode, *mut *mut c_char, *mut usize) -> c_int,
    pub rbd_lock_get_owners_cleanup: unsafe extern "C" fn(*mut *mut c_char, usize),
    pub rbd_lock_break: unsafe extern "C" fn(ImageT, LockMode, *const c_char) -> c_int,
    pub rbd_metadata_get:
        unsafe extern "C" fn(ImageT, *const c_char, *mut c_char, *mut usize) -> c_int,
    pub rbd_pool_metadata_get:
        unsafe extern "C" fn(IoctxT, *const c_char, *mut c_char, *mut usize) -> c_int,
}

static API: OnceLock<Result<Api, Error>> = OnceLock::new();

/// The libraries' functions, opened on the first call; every later call gets the same answer.
pub(crate) fn api() -> Result<&'static Api, Error> {
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn open(name: &'static str) -> Result<libloading::Library, Error> {
    // SAFETY: opening a shared library runs its initialisers. librados and librbd are Ceph's
    // client libraries, whose initialisers only set up their own globals (no requirement on
    // the caller, no thread-unsafe process state touched); the name is a fixed soname, looked
    // up on the system's library path, not a path a user or a file names.
    unsafe { libloading::Library::new(name) }
        .map_err(|e| Error::Missing { library: name, reason: describe(&e) })
}

/// The loader's error with its cause (libloading keeps `dlerror()`'s text there).
fn describe(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Looks up `symbol` in `lib` as a `T`.
///
/// # Safety
/// `T` must be the function pointer type of the C declaration of `symbol` in the Ceph headers.
unsafe fn sym<T: Copy>(
    lib: &libloading::Library,
    library: &'static str,
    symbol: &'static str,
) -> Result<T, Error> {
    // SAFETY: the caller vouches for the type; the pointer is copied out and used only while
    // the library stays open, which is for ever (`Api` keeps it and lives in a static).
    unsafe { lib.get::<T>(symbol.as_bytes()) }
        .map(|s| *s)
        .map_err(|e| Error::Missing { library, reason: format!("{symbol}: {}", describe(&e)) })
}

fn load() -> Result<Api, Error> {
    let rados = open(LIBRADOS)?;
    let rbd = open(LIBRBD)?;
    // SAFETY (every `sym` below): each field's type is the prototype of the function of that
    // name in librados.h / librbd.h of Ceph 16 (Pacific) and later, which have not changed
    // since they were introduced: `rados_t`, `rados_ioctx_t`, `rbd_image_t` and
    // `rbd_completion_t` are `void *`, `size_t` is `usize`, `ssize_t` is `isize`, `int` is
    // `c_int`, `struct iovec` is `Iovec`, `rbd_lock_mode_t` is `LockMode`.
    macro_rules! load {
        ($lib:expr, $name:literal, $field:ident) => {
            unsafe { sym(&$lib, $name, stringify!($field))? }
        };
    }
    Ok(Api {
        rados_create2: load!(rados, "librados.so.2", rados_create2),
        rados_conf_read_file: load!(rados, "librados.so.2", rados_conf_read_file),
        rados_conf_set: load!(rados, "librados.so.2", rados_conf_set),
        rados_connect: load!(rados, "librados.so.2", rados_connect),
        rados_shutdown: load!(rados, "librados.so.2", rados_shutdown),
        rados_ioctx_create: load!(rados, "librados.so.2", rados_ioctx_create),
        rados_ioctx_destroy: load!(rados, "librados.so.2", rados_ioctx_destroy),
        rados_ioctx_set_namespace: load!(rados, "librados.so.2", rados_ioctx_set_namespace),
        rbd_open: load!(rbd, "librbd.so.1", rbd_open),
        rbd_open_read_only: load!(rbd, "librbd.so.1", rbd_open_read_only),
        rbd_close: load!(rbd, "librbd.so.1", rbd_close),
        rbd_get_size: load!(rbd, "librbd.so.1", rbd_get_size),
        rbd_get_features: load!(rbd, "librbd.so.1", rbd_get_features),
        rbd_stat: load!(rbd, "librbd.so.1", rbd_stat),
        rbd_get_stripe_count: load!(rbd, "librbd.so.1", rbd_get_stripe_count),
        rbd_aio_create_completion: load!(rbd, "librbd.so.1", rbd_aio_create_completion),
        rbd_aio_release: load!(rbd, "librbd.so.1", rbd_aio_release),
        rbd_aio_wait_for_complete: load!(rbd, "librbd.so.1", rbd_aio_wait_for_complete),
        rbd_aio_get_return_value: load!(rbd, "librbd.so.1", rbd_aio_get_return_value),
        rbd_aio_readv: load!(rbd, "librbd.so.1", rbd_aio_readv),
        rbd_aio_writev: load!(rbd, "librbd.so.1", rbd_aio_writev),
        rbd_aio_flush: load!(rbd, "librbd.so.1", rbd_aio_flush),
        rbd_aio_discard: load!(rbd, "librbd.so.1", rbd_aio_discard),
        rbd_aio_write_zeroes: load!(rbd, "librbd.so.1", rbd_aio_write_zeroes),
        rbd_aio_writesame: load!(rbd, "librbd.so.1", rbd_aio_writesame),
        rbd_resize: load!(rbd, "librbd.so.1", rbd_resize),
        rbd_get_id: load!(rbd, "librbd.so.1", rbd_get_id),
        rbd_is_exclusive_lock_owner: load!(rbd, "librbd.so.1", rbd_is_exclusive_lock_owner),
        rbd_lock_acquire: load!(rbd, "librbd.so.1", rbd_lock_acquire),
        rbd_lock_get_owners: load!(rbd, "librbd.so.1", rbd_lock_get_owners),
        rbd_lock_get_owners_cleanup: load!(rbd, "librbd.so.1", rbd_lock_get_owners_cleanup),
        rbd_lock_break: load!(rbd, "librbd.so.1", rbd_lock_break),
        rbd_metadata_get: load!(rbd, "librbd.so.1", rbd_metadata_get),
        rbd_pool_metadata_get: load!(rbd, "librbd.so.1", rbd_pool_metadata_get),
        _rados: rados,
        _rbd: rbd,
    })
}
