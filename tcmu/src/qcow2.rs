//! [`Qcow2Disk`]: a disk kept in a qcow2 image (QEMU's format: sparse, copy-on-write over a
//! backing image), read and written through the `imago` library.

use crate::backend::{
    self, Allocation, BlockDevice, at, bad_block_size, byte_range, is_valid_block_size,
    lock_or_refuse,
};
use imago::file::File as ImagoFile;
use imago::format::gate::ImplicitOpenGate;
use imago::qcow2::Qcow2;
use imago::{
    DenyImplicitOpenGate, FormatAccess, FormatCreateBuilder, FormatDriverBuilder, Mapping,
    StorageOpenOptions,
};
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The first four bytes of every qcow2 image.
pub const MAGIC: [u8; 4] = *b"QFI\xfb";

/// The cluster size of the images [`Qcow2Disk::create`] makes: 64 KiB, QEMU's default.
pub const CLUSTER_SIZE: usize = 64 << 10;

/// The most images a backing chain may have, the served image included. Deeper chains are
/// refused (a chain that loops back on itself is refused at its first repeat).
pub const MAX_CHAIN: usize = 64;

/// The header fields read here, before the image is handed to `imago`: what it does not check.
#[derive(Debug, Clone, Copy)]
struct Header {
    version: u32,
    cluster_bits: u32,
    /// 0: none, 1: AES, 2: LUKS.
    crypt_method: u32,
    l1_size: u32,
    l1_table_offset: u64,
    refcount_table_offset: u64,
    refcount_table_clusters: u32,
}

/// Reads the start of a qcow2 header: `Ok(None)` if the file does not start with [`MAGIC`].
fn read_header(file: &File) -> io::Result<Option<Header>> {
    let mut head = [0u8; 72];
    let mut got = 0;
    while got < head.len() {
        match file.read_at(&mut head[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    if got < 4 || head[..4] != MAGIC {
        return Ok(None);
    }
    if got < head.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a qcow2 header cut short ({got} bytes)"),
        ));
    }
    let be32 = |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let be64 = |at: usize| (u64::from(be32(at)) << 32) | u64::from(be32(at + 4));
    Ok(Some(Header {
        version: be32(4),
        cluster_bits: be32(20),
        crypt_method: be32(32),
        l1_size: be32(36),
        l1_table_offset: be64(40),
        refcount_table_offset: be64(48),
        refcount_table_clusters: be32(56),
    }))
}

/// Checks that the L1 and refcount tables lie inside the file and that the first refcount
/// block does: `imago` reads what lies past the end as zeroes, so it would serve such an image
/// as empty, and allocating in it (a first refcount block missing) recurses until the stack
/// overflows. The rest is `imago`'s to check.
fn check_tables(file: &File, h: &Header) -> Result<(), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if !(9..=21).contains(&h.cluster_bits) {
        return Err(format!("cluster bits {} (9 to 21 are valid)", h.cluster_bits));
    }
    let inside = |offset: u64, bytes: u64| offset.checked_add(bytes).is_some_and(|end| end <= len);
    if h.l1_size > 0 && !inside(h.l1_table_offset, u64::from(h.l1_size) * 8) {
        return Err(format!(
            "its L1 table ({} entries at {:#x}) is not inside the file ({len} bytes)",
            h.l1_size, h.l1_table_offset
        ));
    }
    let rt_bytes = u64::from(h.refcount_table_clusters) << h.cluster_bits;
    if h.refcount_table_clusters == 0 || !inside(h.refcount_table_offset, rt_bytes) {
        return Err(format!(
            "its refcount table ({} clusters at {:#x}) is not inside the file ({len} bytes)",
            h.refcount_table_clusters, h.refcount_table_offset
        ));
    }
    let mut first = [0u8; 8];
    file.read_exact_at(&mut first, h.refcount_table_offset).map_err(|e| e.to_string())?;
    let cluster_mask = !((1u64 << h.cluster_bits) - 1);
    let first = u64::from_be_bytes(first) & cluster_mask & ((1 << 56) - 1);
    if first == 0 || !inside(first, 1 << h.cluster_bits) {
        return Err(format!(
            "its first refcount block ({first:#x}) is not inside the file ({len} bytes)"
        ));
    }
    Ok(())
}

/// Whether `path` is a regular file that starts with the qcow2 magic (`QFI\xfb`). A missing
/// file, a block device and anything shorter than 4 bytes are not. Only the first bytes are
/// read: whether the rest is a usable image is for [`Qcow2Disk::open`] to say.
pub fn is_qcow2(path: &Path) -> io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(at(path, e)),
    }
    let file = File::open(path).map_err(|e| at(path, e))?;
    let mut magic = [0u8; 4];
    match file.read_exact_at(&mut magic, 0) {
        Ok(()) => Ok(magic == MAGIC),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(at(path, e)),
    }
}

/// The error for an image refused for what it is (not for how it could be read).
fn refused(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()))
}

/// Refuses an encrypted image: `imago` would read its ciphertext as if it were the data.
fn refuse_encrypted(path: &Path, header: &Header) -> io::Result<()> {
    let how = match header.crypt_method {
        0 => return Ok(()),
        1 => "AES".to_string(),
        2 => "LUKS".to_string(),
        n => format!("method {n}"),
    };
    Err(refused(
        path,
        format_args!("the qcow2 image is encrypted ({how}); encrypted images are not supported"),
    ))
}

/// Opens an image file of a chain and locks it the way [`crate::FileDisk`] locks its images:
/// a regular file (or, read-only, a block device), never a FIFO or a directory.
fn open_locked(path: &Path, read_only: bool) -> io::Result<(File, (u64, u64))> {
    // Looked at before opening: opening a FIFO would block.
    let meta = std::fs::metadata(path).map_err(|e| at(path, e))?;
    let kind = meta.file_type();
    if !(kind.is_file() || (read_only && kind.is_block_device())) {
        return Err(backend::not_a_disk(path));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(path)
        .map_err(|e| at(path, e))?;
    let meta = file.metadata().map_err(|e| at(path, e))?;
    if !(meta.is_file() || (read_only && meta.file_type().is_block_device())) {
        return Err(backend::not_a_disk(path));
    }
    let id = (meta.dev(), meta.ino());
    Ok((lock_or_refuse(path, file, read_only)?, id))
}

/// The gate every file a backing chain names is opened through (`imago` asks it): each is
/// locked read-only (so nobody writes a backing image while it is served), an encrypted one is
/// refused, a chain that loops or is longer than [`MAX_CHAIN`] is refused, and so is an
/// external data file (a file the image header names, that would be written to).
#[derive(Clone)]
struct ChainGate {
    /// The device and inode numbers of the files opened so far, the served image first.
    seen: Rc<RefCell<Vec<(u64, u64)>>>,
}

impl ChainGate {
    fn new(top: (u64, u64)) -> ChainGate {
        ChainGate { seen: Rc::new(RefCell::new(vec![top])) }
    }

    fn open(&self, opts: &StorageOpenOptions) -> io::Result<File> {
        let path: PathBuf = opts
            .get_filename()
            .ok_or_else(|| io::Error::other("an image the chain names has no file name"))?
            .to_path_buf();
        if opts.get_writable() {
            return Err(refused(
                &path,
                "named as an external data file by the image; qcow2 images with an external \
                 data file are not supported",
            ));
        }
        let ahead = std::fs::metadata(&path).map_err(|e| at(&path, e))?;
        // An image's header names its backing file: a device (a host disk, /dev/mem) or
        // other special file is never opened for it.
        if !ahead.is_file() {
            return Err(refused(&path, "a backing file must be a regular file"));
        }
        if self.seen.borrow().contains(&(ahead.dev(), ahead.ino())) {
            return Err(refused(&path, "the backing chain loops back to this image"));
        }
        if self.seen.borrow().len() >= MAX_CHAIN {
            return Err(refused(
                &path,
                format_args!("the backing chain is longer than {MAX_CHAIN} images"),
            ));
        }
        let (file, id) = open_locked(&path, true)?;
        // Checked again on what was opened: the path may have been swapped meanwhile.
        if !file.metadata().map_err(|e| at(&path, e))?.is_file() {
            return Err(refused(&path, "a backing file must be a regular file"));
        }
        // A loop made of hard links or a file swapped meanwhile: checked on what was opened.
        if self.seen.borrow().contains(&id) {
            return Err(refused(&path, "the backing chain loops back to this image"));
        }
        self.seen.borrow_mut().push(id);
        // A raw backing file has no header; one that starts with the magic is a qcow2 image.
        if let Some(header) = read_header(&file).map_err(|e| at(&path, e))? {
            refuse_encrypted(&path, &header)?;
            check_tables(&file, &header).map_err(|why| refused(&path, why))?;
        }
        Ok(file)
    }
}

impl ImplicitOpenGate<ImagoFile> for ChainGate {
    fn open_format<F: FormatDriverBuilder<ImagoFile>>(
        &mut self,
        builder: F,
    ) -> io::Result<FormatAccess<ImagoFile>> {
        Ok(FormatAccess::new(builder.open(self.clone())?))
    }

    fn open_storage(&mut self, opts: StorageOpenOptions) -> io::Result<ImagoFile> {
        let file = self.open(&opts)?;
        ImagoFile::from_open_file(file, opts)
    }
}

/// A disk kept in a qcow2 image (version 2 or 3), with its backing chain if it has one.
///
/// Reads, writes and flushes run in parallel from any number of threads; a discard waits for
/// them and runs alone (`imago` requires it). The image's metadata (L2 tables, refcounts) is
/// cached and written back on [`BlockDevice::flush`], so the device reports a volatile write
/// cache, as a disk does: what was written before a flush survives a crash, what came after
/// may not. Dropping the disk flushes it.
///
/// The image is locked as [`crate::FileDisk`] locks its images (QEMU's locks: one writer, or
/// readers only); every backing image is locked read-only, so it can be shared with other
/// readers (other overlays on the same base) but not written while it is served. Relative
/// backing file names are resolved against the folder of the image that names them, as QEMU
/// does.
///
/// Refused, with an error that names the file and the reason: an encrypted image, an image
/// with an external data file, a backing chain that loops or is longer than [`MAX_CHAIN`], and
/// whatever `imago` refuses (a damaged header, unknown incompatible features, the dirty bit
/// of lazy refcounts, extended L2 entries, zstd compression: `qemu-img check -r all` or
/// `qemu-img convert` makes such an image servable).
pub struct Qcow2Disk {
    /// Shared by reads, writes, flushes and write-zeroes; taken alone by discard.
    image: RwLock<FormatAccess<ImagoFile>>,
    path: PathBuf,
    block_size: u32,
    num_blocks: u64,
    read_only: bool,
    /// The qcow2 version: discard to zero needs 3.
    version: u32,
    /// The cluster size, in bytes: a discard frees whole clusters.
    cluster_size: u64,
}

impl std::fmt::Debug for Qcow2Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qcow2Disk")
            .field("path", &self.path)
            .field("block_size", &self.block_size)
            .field("num_blocks", &self.num_blocks)
            .field("read_only", &self.read_only)
            .field("version", &self.version)
            .finish()
    }
}

/// Removes a file this process created, unless told to keep it.
struct RemoveUnlessKept<'a> {
    path: &'a Path,
    keep: bool,
}

impl Drop for RemoveUnlessKept<'_> {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

impl Qcow2Disk {
    /// Opens the qcow2 image at `path` (and its backing chain), read-write or read-only. The
    /// capacity is the image's virtual size in blocks of `block_size` bytes (a power of two
    /// from 512 to 65536, see [`is_valid_block_size`]); a virtual size that is not a whole
    /// number of blocks, or less than one, is refused. Errors name the file.
    pub fn open(path: &Path, block_size: u32, read_only: bool) -> io::Result<Qcow2Disk> {
        if !is_valid_block_size(block_size) {
            return Err(bad_block_size(block_size));
        }
        let (file, id) = open_locked(path, read_only)?;
        let header = read_header(&file)
            .map_err(|e| at(path, e))?
            .ok_or_else(|| refused(path, "not a qcow2 image (it does not start with QFI\\xfb)"))?;
        refuse_encrypted(path, &header)?;
        check_tables(&file, &header).map_err(|why| refused(path, why))?;
        let opts = StorageOpenOptions::new().filename(path).write(!read_only);
        let storage = ImagoFile::from_open_file(file, opts).map_err(|e| at(path, e))?;
        let image = Qcow2::<ImagoFile>::builder(storage)
            .write(!read_only)
            .open(ChainGate::new(id))
            .map_err(|e| refused(path, format_args!("cannot open it as a qcow2 image: {e}")))?;
        let image = FormatAccess::new(image);
        let size = image.size();
        let bs = u64::from(block_size);
        if size < bs {
            return Err(refused(
                path,
                format_args!(
                    "its virtual size is {size} bytes, less than one block of {block_size}"
                ),
            ));
        }
        if size % bs != 0 {
            return Err(refused(
                path,
                format_args!(
                    "its virtual size is {size} bytes, not a whole number of {block_size}-byte \
                     blocks: resize it (qemu-img resize) or choose another block size"
                ),
            ));
        }
        Ok(Qcow2Disk {
            image: RwLock::new(image),
            path: path.to_path_buf(),
            block_size,
            num_blocks: size / bs,
            read_only,
            version: header.version,
            cluster_size: 1 << header.cluster_bits,
        })
    }

    /// Creates a new qcow2 image (version 3, 64 KiB clusters, no backing file) of `size`
    /// bytes, a positive multiple of `block_size`, at `path`, which must not exist, and opens
    /// it read-write. The new image is written out and synced (and its folder too) before this
    /// returns; if making it fails, the file is removed.
    pub fn create(path: &Path, size: u64, block_size: u32) -> io::Result<Qcow2Disk> {
        if !is_valid_block_size(block_size) {
            return Err(bad_block_size(block_size));
        }
        if size == 0 || !size.is_multiple_of(u64::from(block_size)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("size {size} is not a positive multiple of the block size {block_size}"),
            ));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} already exists: only a new qcow2 image is created (leave out \
                             the size to serve this one)",
                        path.display()
                    ),
                )
            } else {
                at(path, e)
            }
        })?;
        let mut made = RemoveUnlessKept { path, keep: false };
        let file = lock_or_refuse(path, file, false)?;
        let opts = StorageOpenOptions::new().filename(path).write(true);
        let storage = ImagoFile::from_open_file(file, opts).map_err(|e| at(path, e))?;
        let image = Qcow2::<ImagoFile>::create_builder(storage)
            .size(size)
            .cluster_size(CLUSTER_SIZE)
            .create_open(DenyImplicitOpenGate::default(), |image| {
                Ok(Qcow2::<ImagoFile>::builder(image).backing(None).write(true))
            })
            .map_err(|e| at(path, e))?;
        // A bare `Qcow2` does not flush when dropped: wrapped at once, then written out.
        let image = FormatAccess::new(image);
        image.flush().and_then(|()| image.sync()).map_err(|e| at(path, e))?;
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(folder).and_then(|d| d.sync_all()).map_err(|e| at(folder, e))?;
        made.keep = true;
        Ok(Qcow2Disk {
            image: RwLock::new(image),
            path: path.to_path_buf(),
            block_size,
            num_blocks: size / u64::from(block_size),
            read_only: false,
            version: 3,
            cluster_size: CLUSTER_SIZE as u64,
        })
    }

    /// The image's path, as given to [`Qcow2Disk::open`] or [`Qcow2Disk::create`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image's qcow2 version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The image, for I/O (shared). A lock poisoned by a discard that panicked is not taken
    /// over: the image's metadata may be half-changed, so it is no longer served.
    fn shared(&self) -> io::Result<RwLockReadGuard<'_, FormatAccess<ImagoFile>>> {
        self.image.read().map_err(|_| self.broken())
    }

    /// The image, alone (for discard).
    fn alone(&self) -> io::Result<RwLockWriteGuard<'_, FormatAccess<ImagoFile>>> {
        self.image.write().map_err(|_| self.broken())
    }

    fn broken(&self) -> io::Error {
        io::Error::other(format!(
            "{}: a discard failed midway (a bug); the image is no longer served",
            self.path.display()
        ))
    }

    fn writable(&self) -> io::Result<()> {
        if self.read_only { Err(io::ErrorKind::PermissionDenied.into()) } else { Ok(()) }
    }

    /// The byte range of `blocks` blocks from `lba`, checked against the capacity.
    fn bytes(&self, lba: u64, blocks: u64) -> io::Result<(u64, u64)> {
        let len =
            blocks.checked_mul(u64::from(self.block_size)).ok_or(io::ErrorKind::InvalidInput)?;
        let end = lba.checked_add(blocks).ok_or(io::ErrorKind::InvalidInput)?;
        if end > self.num_blocks {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "beyond the end of the device",
            ));
        }
        Ok((lba * u64::from(self.block_size), len))
    }

    fn sync_all(&self, image: &FormatAccess<ImagoFile>) -> io::Result<()> {
        image.flush()?;
        image.sync()
    }
}

impl BlockDevice for Qcow2Disk {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn num_blocks(&self) -> u64 {
        self.num_blocks
    }

    fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        let len = backend::total(bufs);
        let at = byte_range(lba, len, self.block_size, self.num_blocks)? as u64;
        if len == 0 {
            return Ok(());
        }
        let bufs: Vec<IoSliceMut<'_>> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        self.shared()?.readv(bufs.into(), at)
    }

    fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
        self.writable()?;
        let len = bufs.iter().map(|b| b.len()).sum();
        let at = byte_range(lba, len, self.block_size, self.num_blocks)? as u64;
        let image = self.shared()?;
        if len > 0 {
            image.writev(bufs.to_vec().into(), at)?;
        }
        if fua { self.sync_all(&image) } else { Ok(()) }
    }

    fn flush(&self) -> io::Result<()> {
        if self.read_only {
            return Ok(());
        }
        self.sync_all(&*self.shared()?)
    }

    fn discard(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.writable()?;
        if !self.supports_discard() {
            return Err(io::ErrorKind::Unsupported.into());
        }
        let (at, len) = self.bytes(lba, blocks)?;
        if len == 0 {
            return Ok(());
        }
        // Discarding frees clusters other requests may be reading or writing: alone.
        self.alone()?.discard_to_zero(at, len)
    }

    fn supports_discard(&self) -> bool {
        // Version 2 has no zero flag: `imago` cannot discard there.
        !self.read_only && self.version >= 3
    }

    /// A cluster: a discard of part of one writes zeroes into it, of a whole one frees it.
    fn discard_granularity(&self) -> u64 {
        (self.cluster_size / u64::from(self.block_size)).max(1)
    }

    fn write_zeroes(&self, lba: u64, blocks: u64) -> io::Result<()> {
        self.writable()?;
        if self.version < 3 {
            return backend::write_zero_buffers(self, lba, blocks);
        }
        let (at, len) = self.bytes(lba, blocks)?;
        if len == 0 {
            return Ok(());
        }
        // Whole clusters get the zero flag (keeping their allocation); the ends are written.
        self.shared()?.write_zeroes(at, len)
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn allocation(&self, lba: u64) -> io::Result<Option<Allocation>> {
        let bs = u64::from(self.block_size);
        let left = self.num_blocks.saturating_sub(lba);
        if left == 0 {
            return Ok(None);
        }
        let start = lba * bs;
        let end = self.num_blocks * bs;
        let image = self.shared()?;
        // The runs of mappings from `start` that are all data or all zero (unallocated, zero
        // flag, or a hole in the backing chain), up to this many mappings.
        const MAX_MAPPINGS: usize = 64;
        let mut runs: Vec<(bool, u64)> = Vec::new();
        let mut at = start;
        for _ in 0..MAX_MAPPINGS {
            if at >= end {
                break;
            }
            let (mapping, len) = image.get_mapping(at, end - at)?;
            let mapped = !matches!(mapping, Mapping::Zero { .. } | Mapping::Eof { .. });
            if len == 0 {
                break;
            }
            match runs.last_mut() {
                Some((m, l)) if *m == mapped => *l += len,
                _ => runs.push((mapped, len)),
            }
            at += len;
            // Enough to answer once the first run has ended (a first run of zero shorter
            // than a block: once the data after it has ended).
            let (first_mapped, first_len) = runs[0];
            if runs.len() >= 3 || (runs.len() == 2 && (first_mapped || first_len >= bs)) {
                break;
            }
        }
        let Some(&(first_mapped, first_len)) = runs.first() else {
            return Ok(None);
        };
        if !first_mapped && first_len >= bs {
            return Ok(Some(Allocation { mapped: false, blocks: (first_len / bs).min(left) }));
        }
        // A block is mapped if any of its bytes is data: a run of zero shorter than a block
        // that comes first belongs to the data after it.
        let bytes: u64 = runs.iter().take(if first_mapped { 1 } else { 2 }).map(|r| r.1).sum();
        Ok(Some(Allocation { mapped: true, blocks: bytes.div_ceil(bs).clamp(1, left) }))
    }

    fn write_cache(&self) -> bool {
        // L2 tables and refcounts are cached until a flush, and the data in the page cache.
        true
    }
}

impl Drop for Qcow2Disk {
    /// Writes the cached metadata back and syncs the image, so an orderly stop loses nothing.
    fn drop(&mut self) {
        if self.read_only {
            return;
        }
        let image = match self.image.get_mut() {
            Ok(image) => image,
            // Half-changed by a discard that panicked: written back all the same by
            // `FormatAccess`'s own drop, which is what a crash would have left at best.
            Err(_) => return,
        };
        if let Err(e) = image.flush().and_then(|()| image.sync()) {
            tracing::error!(image = %self.path.display(), "flushing the qcow2 image: {e}");
        }
    }
}
