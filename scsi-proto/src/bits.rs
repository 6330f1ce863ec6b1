//! Fields inside big-endian SCSI structures, and `layout!`, which declares each fixed layout once.
//!
//! A field is `bits` bits whose lowest bit is bit `shift` of the big-endian number starting at
//! byte `byte`: a flag at byte 2 bit 2 is `(2, 2, 1)`, a 32-bit number in bytes 8..12 is
//! `(8, 0, 32)`. One [`Spec`] reads, writes, range-checks, points at and masks the field.

use crate::error::{check_len, ptr_byte};
use crate::{Error, FieldPointer, Location, Result};

/// Where a field sits, and its name: a `&'static str` as the standard spells it, or an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec<K = &'static str> {
    /// The field's name.
    pub field: K,
    /// First (most significant) byte.
    pub byte: u16,
    /// Bit position of the field's least significant bit in its last byte.
    pub shift: u8,
    /// Width in bits, 1..=64.
    pub bits: u8,
}

impl<K: Copy> Spec<K> {
    /// A field of `bits` bits, the lowest at bit `shift` of the number starting at `byte`.
    ///
    /// Panics unless `shift < 8`, `1 <= bits <= 64` and `shift + bits <= 64`; in a `const`
    /// that panic is a compile error:
    ///
    /// ```compile_fail
    /// const BAD: scsi_proto::bits::Spec = scsi_proto::bits::Spec::new("X", 0, 7, 64);
    /// ```
    ///
    /// ```
    /// const GOOD: scsi_proto::bits::Spec = scsi_proto::bits::Spec::new("X", 0, 0, 64);
    /// ```
    pub const fn new(field: K, byte: u16, shift: u8, bits: u8) -> Self {
        assert!(shift < 8 && bits >= 1 && bits <= 64 && shift as u32 + bits as u32 <= 64);
        Spec { field, byte, shift, bits }
    }

    /// Bytes the field spans, from [`Spec::byte`].
    pub const fn nbytes(&self) -> usize {
        (self.shift as usize + self.bits as usize).div_ceil(8)
    }

    /// The byte after the field's last one.
    pub const fn end(&self) -> usize {
        self.byte as usize + self.nbytes()
    }

    /// The largest value the field holds.
    pub const fn max(&self) -> u64 {
        if self.bits >= 64 { u64::MAX } else { (1u64 << self.bits) - 1 }
    }

    /// Reads the field; bytes beyond `buf` read as zero, so this never panics (nor does it for
    /// a spec [`Spec::new`] would refuse, whose value is then meaningless).
    pub fn get(&self, buf: &[u8]) -> u64 {
        let mut v = 0u64;
        for i in self.byte as usize..self.end() {
            v = (v << 8) | u64::from(buf.get(i).copied().unwrap_or(0));
        }
        v.checked_shr(self.shift.into()).unwrap_or(0) & self.max()
    }

    /// Writes the low bits of `value` into the field, keeping the other bits of its bytes;
    /// bytes beyond `buf` are skipped, so this never panics (nor for a spec [`Spec::new`]
    /// would refuse).
    pub fn put(&self, buf: &mut [u8], value: u64) {
        let shl = |v: u64| v.checked_shl(self.shift.into()).unwrap_or(0);
        let (mut mask, mut new) = (shl(self.max()), shl(value));
        // From the last byte up; bytes more than 64 bits up (only in a refused spec) get nothing.
        for i in (self.byte as usize..self.end()).rev() {
            if let Some(b) = buf.get_mut(i) {
                *b = (*b & !(mask as u8)) | (new as u8 & mask as u8);
            }
            (mask, new) = (mask >> 8, new >> 8);
        }
    }

    /// Sets the field's bits in `mask`: the bytes a structure's named fields cover.
    pub fn mark(&self, mask: &mut [u8]) {
        self.put(mask, u64::MAX);
    }

    /// The field pointer to the field in `location`, `offset` bytes into it.
    pub const fn pointer(&self, location: Location, offset: u16) -> FieldPointer {
        // Saturating (and at most 7) so a spec Spec::new would refuse cannot panic.
        let top = self.shift.saturating_add(self.bits).saturating_sub(1);
        let bit = if self.bits < 8 { Some(if top > 7 { 7 } else { top }) } else { None };
        FieldPointer { location, byte: self.byte.saturating_add(offset), bit }
    }
}

impl Spec {
    /// The error for an invalid value of the field, in `what` at `offset` bytes into `location`.
    pub fn invalid(&self, what: &'static str, location: Location, offset: usize) -> Error {
        crate::error::invalid(what, self.field, self.pointer(location, ptr_byte(offset)))
    }

    /// Device data `what` through the end this length field gives: `start` bytes (holding the
    /// field), then as many as it counts, all checked to be in `buf`.
    pub(crate) fn counted<'a>(
        &self,
        what: &'static str,
        buf: &'a [u8],
        start: usize,
    ) -> Result<&'a [u8]> {
        check_len(what, Location::Data, buf, start)?;
        let end = usize::try_from(self.get(buf)).map_or(usize::MAX, |n| n.saturating_add(start));
        check_len(what, Location::Data, buf, end)?;
        Ok(&buf[..end])
    }

    /// Writes `value`, or says the field cannot hold it.
    pub fn put_checked(&self, what: &'static str, buf: &mut [u8], value: u64) -> Result<()> {
        if value > self.max() {
            return Err(self.invalid(what, Location::Data, 0));
        }
        self.put(buf, value);
        Ok(())
    }
}

/// The field called `name` among `fields` (a [`Layout::FIELDS`]), for a `const`: a name that
/// is not there panics, which in a `const` is a compile error.
///
/// ```compile_fail
/// use scsi_proto::bits::{Layout, named};
/// const X: scsi_proto::bits::Spec =
///     named(<scsi_proto::xcopy::ParameterListHeader as Layout>::FIELDS, "NO SUCH FIELD");
/// ```
pub const fn named(fields: &[Spec], name: &str) -> Spec {
    let (mut i, n) = (0, name.as_bytes());
    while i < fields.len() {
        let (f, mut k) = (fields[i].field.as_bytes(), 0);
        while k < n.len() && k < f.len() && f[k] == n[k] {
            k += 1;
        }
        if k == n.len() && k == f.len() {
            return fields[i];
        }
        i += 1;
    }
    panic!("no field of that name")
}

/// A field's value type: what `layout!` reads a field as and writes it from.
pub trait Value: Copy {
    /// The value from the field's bits (already shifted down and masked).
    fn from_bits(v: u64) -> Self;
    /// The bits to write; [`Spec::put_checked`] refuses any that do not fit.
    fn to_bits(self) -> u64;
}

macro_rules! value {
    ($($t:ty: |$v:ident| $from:expr),*) => {$(
        impl Value for $t {
            fn from_bits($v: u64) -> Self {
                $from
            }
            fn to_bits(self) -> u64 {
                u64::from(self)
            }
        }
    )*};
}
// A flag is any non-zero value; the spec's mask keeps a number within the declared type.
value!(bool: |v| v != 0, u8: |v| v as u8, u16: |v| v as u16, u32: |v| v as u32, u64: |v| v);

/// A structure declared with `layout!`: `LEN` bytes whose named fields are `FIELDS`.
pub trait Layout: Sized {
    /// What it is called in errors, e.g. "Caching mode page".
    const WHAT: &'static str;
    /// Its size in bytes.
    const LEN: usize;
    /// Its named fields, in declaration order.
    const FIELDS: &'static [Spec];

    /// Reads every field from `buf` (bytes past its end read as zero).
    fn read(buf: &[u8]) -> Self;

    /// Writes every field into `buf`, leaving bits no field covers as they are; a value too
    /// large for its field is an [`Error::InvalidField`] naming it.
    fn write(&self, buf: &mut [u8]) -> Result<()>;

    /// Writes the low bits of every field into `buf`, as [`Spec::put`]: never fails.
    fn put(&self, buf: &mut [u8]);

    /// The bits the named fields cover, by byte (`LEN` bytes).
    fn mask() -> Vec<u8> {
        let mut m = vec![0u8; Self::LEN];
        Self::FIELDS.iter().for_each(|s| s.mark(&mut m));
        m
    }

    /// Parses exactly as [`Layout::read`] after checking that `buf` holds `LEN` bytes.
    fn parse_fixed(buf: &[u8], location: Location) -> Result<Self> {
        check_len(Self::WHAT, location, buf, Self::LEN)?;
        Ok(Self::read(buf))
    }

    /// Writes `LEN` bytes (zeroed first, then the fields) to the start of `buf`.
    fn emit_fixed(&self, buf: &mut [u8]) -> Result<usize> {
        self.write(crate::error::zeroed_out(Self::WHAT, buf, Self::LEN)?)?;
        Ok(Self::LEN)
    }
}

/// Declares a fixed-layout structure once: the struct (each field documented with its position)
/// and its [`bits::Layout`](crate::bits::Layout) implementation.
///
/// ```ignore
/// layout! {
///     /// READ CAPACITY(10) parameter data (SBC-4 5.20.2).
///     pub struct ReadCapacity10Data: "READ CAPACITY(10) data", 8 {
///         /// The last LBA, or FFFFFFFFh when it does not fit.
///         returned_lba: u32 = "RETURNED LOGICAL BLOCK ADDRESS" (0, 0, 32),
///         /// Bytes per logical block.
///         block_length: u32 = "LOGICAL BLOCK LENGTH IN BYTES" (4, 0, 32),
///     }
/// }
/// ```
///
/// A field's type implements [`bits::Value`](crate::bits::Value); attributes are kept.
///
/// A structure with owned fields besides its fixed part names a private struct `Fixed` for
/// that part, `pub struct Name(Fixed: "what", len) { .. } + { extra: Type, .. }`: `Fixed` is
/// the `Layout`; `Name` has `fixed()` and `from_fixed(fixed, extra..)`.
macro_rules! layout {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident ($fixed:ident : $what:literal, $len:literal) {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $label:literal ($byte:literal, $shift:literal, $bits:literal)
            ),* $(,)?
        } + {
            $($(#[$xmeta:meta])* $extra:ident : $xty:ty),* $(,)?
        }
    ) => {
        $crate::bits::layout! {
            /// The fixed part of the structure declared with it.
            struct $fixed: $what, $len {
                $($field: $ty = $label ($byte, $shift, $bits),)*
            }
        }

        $crate::bits::layout!(@struct $(#[$meta])* $vis $name
            { $($(#[$fmeta])* $field: $ty = $label ($byte, $shift, $bits),)* }
            $($(#[$xmeta])* $extra: $xty,)*);

        #[allow(dead_code)]
        impl $name {
            /// The fixed part.
            fn fixed(&self) -> $fixed {
                $fixed { $($field: self.$field),* }
            }

            /// The structure from its fixed part and its owned fields.
            fn from_fixed(f: $fixed, $($extra: $xty),*) -> Self {
                $name { $($field: f.$field,)* $($extra,)* }
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : $what:literal, $len:literal {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $label:literal ($byte:literal, $shift:literal, $bits:literal)
            ),* $(,)?
        }
    ) => {
        $crate::bits::layout!(@struct $(#[$meta])* $vis $name
            { $($(#[$fmeta])* $field: $ty = $label ($byte, $shift, $bits),)* });

        impl $crate::bits::Layout for $name {
            const WHAT: &'static str = $what;
            const LEN: usize = $len;
            const FIELDS: &'static [$crate::bits::Spec] = &[
                $($crate::bits::Spec::new($label, $byte, $shift, $bits)),*
            ];

            fn read(buf: &[u8]) -> Self {
                $name {
                    $($field: $crate::bits::Value::from_bits(
                        $crate::bits::Spec::new($label, $byte, $shift, $bits).get(buf),
                    ),)*
                }
            }

            fn write(&self, buf: &mut [u8]) -> $crate::Result<()> {
                $($crate::bits::Spec::new($label, $byte, $shift, $bits)
                    .put_checked($what, buf, $crate::bits::Value::to_bits(self.$field))?;)*
                Ok(())
            }

            fn put(&self, buf: &mut [u8]) {
                $($crate::bits::Spec::new($label, $byte, $shift, $bits)
                    .put(buf, $crate::bits::Value::to_bits(self.$field));)*
            }
        }

        // Every field passes Spec::new's checks and lies inside the structure.
        const _: () = {
            $(assert!($crate::bits::Spec::new($label, $byte, $shift, $bits).end() <= $len);)*
        };
    };
    // The struct, each placed field documented with its position.
    (@struct $(#[$meta:meta])* $vis:vis $name:ident {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty = $label:literal
            ($byte:literal, $shift:literal, $bits:literal),)*
    } $($(#[$xmeta:meta])* $extra:ident : $xty:ty,)*) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[$fmeta])*
                #[doc = concat!("\n\n`", $label, "`: byte ", stringify!($byte), ", ",
                    stringify!($bits), " bit(s) from bit ", stringify!($shift), ".")]
                pub $field: $ty,
            )*
            $($(#[$xmeta])* pub $extra: $xty,)*
        }
    };
}
pub(crate) use layout;

/// Implements [`crate::Wire`] for a [`Layout`] that is the whole structure on the wire, parsed
/// from `$location`.
macro_rules! fixed_wire {
    ($t:ty, $location:expr) => {
        impl $crate::Wire for $t {
            fn parse(buf: &[u8]) -> $crate::Result<Self> {
                <Self as $crate::bits::Layout>::parse_fixed(buf, $location)
            }
            fn buffer_len(&self) -> usize {
                <Self as $crate::bits::Layout>::LEN
            }
            fn emit(&self, buf: &mut [u8]) -> $crate::Result<usize> {
                $crate::bits::Layout::emit_fixed(self, buf)
            }
        }
    };
}
pub(crate) use fixed_wire;

#[cfg(test)]
mod tests;
