//! The memory shared with the kernel, and every `unsafe` operation on it.
//!
//! Raw access (`SharedRegion::read`, `write`, `atomic_u32`) is crate-private: code outside the
//! crate could otherwise touch bytes under a command's live `&mut [u8]` data buffer.
//!
//! The kernel writes to this memory while we read it, so no Rust reference (`&[u8]`, `&mut`)
//! ever covers the mailbox or the command ring: they are read and written by copying through
//! raw pointers, and the two indices are accessed as atomics. The only references handed out
//! are to data-area buffers of commands the kernel has passed to user space and will not touch
//! until they are completed ([`SharedRegion::buffer_mut`], whose caller proves exclusivity).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::any::Any;

/// A mapping of shared memory: the UIO device's `map0`, or the simulated kernel's anonymous
/// mapping. It owns whatever keeps the mapping alive.
pub struct SharedRegion {
    ptr: NonNull<u8>,
    len: usize,
    /// Set once a consumer ([`crate::Ring`]) exists: its buffer bookkeeping is what makes the
    /// data slices exclusive, so a second consumer of the same memory must never exist.
    consumer: AtomicBool,
    _owner: Box<dyn Any + Send + Sync>,
}

// SAFETY: the region is plain memory with no thread affinity; all access goes through the
// methods below, which copy through raw pointers, use atomics for the shared indices, or hand
// out data buffers whose exclusivity the caller establishes.
unsafe impl Send for SharedRegion {}
// SAFETY: as above: `&SharedRegion` only permits raw copies, atomic accesses and `unsafe`
// buffer access, none of which relies on there being a single thread.
unsafe impl Sync for SharedRegion {}

impl std::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRegion").field("ptr", &self.ptr).field("len", &self.len).finish()
    }
}

impl SharedRegion {
    /// Wraps a read-write mapping owned by memmap2.
    ///
    /// # Safety
    /// For as long as the returned region (or any [`crate::DataBuffers`] into it) lives, no other
    /// `SharedRegion`, in this process or another, may cover any byte of the same memory, and no
    /// other code may consume the ring it holds: the one [`crate::Ring`] built on this region
    /// hands out its data buffers as `&mut [u8]`, and a second region over the same memory would
    /// let a second ring hand out the same bytes again. The producer on the other side (the
    /// kernel) must follow the TCMU protocol: it leaves a command's data blocks alone from the
    /// moment it publishes the command until user space completes it.
    ///
    /// The crate's safe ways to get a region establish this themselves: [`crate::Uio::open`]
    /// (the kernel lets one open file of a TCMU device exist at a time) and the simulated
    /// kernel's fresh anonymous mapping.
    ///
    /// Without `unsafe` this does not compile:
    ///
    /// ```compile_fail,E0133
    /// let map = memmap2::MmapOptions::new().len(4096).map_anon().unwrap();
    /// let region = tcmu_ring::SharedRegion::from_mmap(memmap2::MmapRaw::from(map));
    /// ```
    ///
    /// and with it the caller states why the memory is its alone:
    ///
    /// ```
    /// let map = memmap2::MmapOptions::new().len(4096).map_anon().unwrap();
    /// // SAFETY: a fresh private anonymous mapping, wrapped once.
    /// let region = unsafe { tcmu_ring::SharedRegion::from_mmap(memmap2::MmapRaw::from(map)) };
    /// assert_eq!(region.len(), 4096);
    /// ```
    pub unsafe fn from_mmap(map: memmap2::MmapRaw) -> Self {
        // SAFETY: the caller's contract is the one `from_mmap_with` asks for.
        unsafe { Self::from_mmap_with(map, ()) }
    }

    /// Wraps a mapping and keeps `keep_alive` (the device's file) for as long as the region,
    /// and so any command buffer into it, lives.
    ///
    /// # Safety
    /// As for [`SharedRegion::from_mmap`]: nothing else covers or consumes this memory while the
    /// region lives.
    pub unsafe fn from_mmap_with(
        map: memmap2::MmapRaw,
        keep_alive: impl Any + Send + Sync,
    ) -> Self {
        let len = map.len();
        // A zero-length mapping cannot be made, but keep a valid dangling pointer if it were.
        let ptr = NonNull::new(map.as_mut_ptr()).unwrap_or(NonNull::dangling());
        SharedRegion {
            ptr,
            len,
            consumer: AtomicBool::new(false),
            _owner: Box::new((map, keep_alive)),
        }
    }

    /// A fresh anonymous mapping of `len` zeroed bytes (the simulated kernel's memory).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn anonymous(len: usize) -> std::io::Result<SharedRegion> {
        let map = memmap2::MmapOptions::new().len(len).map_anon()?;
        // SAFETY: the mapping was made just now, private to this process (MAP_PRIVATE |
        // MAP_ANONYMOUS: not even a child after fork shares later writes), and is moved into the
        // one region made here, so no other region covers it.
        Ok(unsafe { Self::from_mmap(memmap2::MmapRaw::from(map)) })
    }

    /// Maps `len` bytes of a TCMU device's memory (its map 0) shared; the region keeps the
    /// device open.
    pub(crate) fn map_tcmu_device(
        dev: crate::uio::TcmuDevice,
        len: usize,
    ) -> std::io::Result<SharedRegion> {
        let map = memmap2::MmapOptions::new().len(len).map_raw(dev.file())?;
        // SAFETY: `dev` is an open file of a TCMU UIO device, opened by `TcmuDevice::open`, which
        // checked with the kernel (fstat, then sysfs for that device number) that it is the
        // character device of a UIO device under the `tcm_user` root device, named `tcm-user/..`.
        // The kernel's `tcmu_open` lets one open file of such a device exist at a time (a second
        // open fails with EBUSY until `tcmu_release`, which runs when the last reference to the
        // open file goes: every descriptor, and every mapping, which holds its own reference).
        // So no other process or code maps this memory now, nor can while this region lives:
        // the region keeps `dev` (and the mapping). `dev` is consumed here, so this file is
        // mapped into one region only; nothing in the crate makes a region from a `Uio`'s file
        // otherwise.
        Ok(unsafe { Self::from_mmap_with(map, dev) })
    }

    /// Claims the region for its one consumer; false if it was claimed before. Never released:
    /// commands of a dropped consumer may still hold buffers.
    pub(crate) fn claim_consumer(&self) -> bool {
        self.consumer.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, off: usize, len: usize) -> Option<()> {
        (off.checked_add(len)? <= self.len).then_some(())
    }

    /// Copies `out.len()` bytes from `off`. Returns `None` (and copies nothing) when the range
    /// is not inside the mapping.
    pub(crate) fn read(&self, off: usize, out: &mut [u8]) -> Option<()> {
        self.check(off, out.len())?;
        // SAFETY: `off..off+len` is inside the mapping (checked above), which stays mapped
        // while `self` lives; `out` is a distinct Rust buffer, so the ranges do not overlap.
        // The protocol keeps this from racing: callers only read the mailbox's fixed fields and
        // entries the kernel published before the Acquire load of `cmd_head`, which it does not
        // touch again until `cmd_tail` passes them. (A kernel breaking the protocol could race
        // with the copy; the bytes read are then garbage that the checks after it refuse.)
        unsafe {
            core::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(off), out.as_mut_ptr(), out.len())
        };
        Some(())
    }

    /// Copies `data` to `off`. Returns `None` (and writes nothing) when the range is not inside
    /// the mapping.
    pub(crate) fn write(&self, off: usize, data: &[u8]) -> Option<()> {
        self.check(off, data.len())?;
        // SAFETY: the range is inside the mapping (checked above); writing bytes through a raw
        // pointer creates no reference, so concurrent access by the kernel to *other* bytes is
        // fine; callers only write ring slots user space owns (between `cmd_tail` and the head
        // they have consumed) and data buffers of commands they hold.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(off), data.len())
        };
        Some(())
    }

    /// The 32-bit word at `off` as an atomic (for `cmd_head` and `cmd_tail`). `None` if it is
    /// outside the mapping or misaligned.
    pub(crate) fn atomic_u32(&self, off: usize) -> Option<&AtomicU32> {
        self.check(off, 4)?;
        // SAFETY: in bounds (checked), so `add` stays inside the allocation.
        let p = unsafe { self.ptr.as_ptr().add(off) };
        if p.align_offset(align_of::<AtomicU32>()) != 0 {
            return None;
        }
        // SAFETY: `p` is in bounds, aligned for AtomicU32 (checked), and valid for the life of
        // `self`. Both sides access this word only atomically (the kernel with READ_ONCE /
        // WRITE_ONCE and barriers, user space through this AtomicU32), so no non-atomic access
        // races with it.
        Some(unsafe { AtomicU32::from_ptr(p.cast::<u32>()) })
    }

    /// A mutable view of `len` bytes at `off`, for a command's data buffer. `None` if the range
    /// is not inside the mapping.
    ///
    /// # Safety
    /// For as long as the returned slice lives, nothing else may read or write these bytes:
    /// no other slice from this method may overlap it, and the kernel must not access them.
    /// [`crate::ring::Ring`] guarantees this for the buffers of commands it has handed out: the
    /// kernel leaves a command's data blocks alone until the command is completed, and the ring
    /// refuses a command whose buffers overlap those of one still outstanding.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buffer_mut(&self, off: usize, len: usize) -> Option<&mut [u8]> {
        self.check(off, len)?;
        // SAFETY: in bounds (checked) and mapped while `self` lives; exclusivity is the
        // caller's obligation, stated above.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr().add(off), len) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(len: usize) -> SharedRegion {
        SharedRegion::anonymous(len).expect("anonymous mapping")
    }

    #[test]
    fn bounds_are_checked() {
        let r = anon(4096);
        assert!(r.write(4090, &[1; 6]).is_some());
        assert!(r.write(4091, &[1; 6]).is_none());
        assert!(r.write(usize::MAX, &[1]).is_none());
        let mut out = [0; 6];
        assert!(r.read(4090, &mut out).is_some());
        assert_eq!(out, [1; 6]);
        assert!(r.read(4096, &mut [0; 1]).is_none());
        assert!(r.atomic_u32(4092).is_some());
        assert!(r.atomic_u32(4093).is_none());
        assert!(r.atomic_u32(4094).is_none());
        // SAFETY: no other view of this fresh region exists.
        assert!(unsafe { r.buffer_mut(4000, 97) }.is_none());
    }

    #[test]
    fn atomics_see_writes() {
        let r = anon(4096);
        r.write(64, &7u32.to_ne_bytes()).unwrap();
        let a = r.atomic_u32(64).unwrap();
        assert_eq!(a.load(core::sync::atomic::Ordering::Acquire), 7);
        a.store(9, core::sync::atomic::Ordering::Release);
        let mut b = [0; 4];
        r.read(64, &mut b).unwrap();
        assert_eq!(u32::from_ne_bytes(b), 9);
    }
}
