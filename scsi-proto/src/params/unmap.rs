//! The UNMAP parameter list (SBC-4 5.32.2) and the Data-Out of WRITE SAME.

use core::iter::FusedIterator;

use super::{encode, invalid, stream};
use crate::bits::{Layout, Spec};
use crate::error::check_out;
use crate::{Error, Location, Result, Wire};

pub(super) const UNMAP: &str = "UNMAP";

/// UNMAP DATA LENGTH: the bytes after it (6 + 16 per descriptor).
const DATA_LENGTH: Spec = Spec::new("UNMAP DATA LENGTH", 0, 0, 16);
/// UNMAP BLOCK DESCRIPTOR DATA LENGTH: the bytes of block descriptors (16 per descriptor).
const BLOCK_DESCRIPTOR_DATA_LENGTH: Spec =
    Spec::new("UNMAP BLOCK DESCRIPTOR DATA LENGTH", 2, 0, 16);

crate::bits::layout! {
    /// One extent to unmap (SBC-4 5.32.2), at byte 8 + 16 × its index. Zero blocks is a
    /// no-op, not an error.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct UnmapDescriptor: "UNMAP", 16 {
        lba: u64 = "UNMAP LOGICAL BLOCK ADDRESS" (0, 0, 64),
        number_of_blocks: u32 = "NUMBER OF LOGICAL BLOCKS" (8, 0, 32),
    }
}

/// The bytes of the complete block descriptors of the UNMAP parameter list in `buf`, after
/// checking its header as [`UnmapParameterList::parse_with_length`] says.
fn unmap_descriptor_bytes(buf: &[u8], parameter_list_length: usize) -> Result<&[u8]> {
    if parameter_list_length == 0 {
        return Ok(&[]);
    }
    if parameter_list_length < 8 || buf.len() < parameter_list_length {
        return Err(Error::ParameterListLength {
            what: UNMAP,
            len: parameter_list_length,
        });
    }
    let list = &buf[..parameter_list_length];
    let dl = DATA_LENGTH.get(list) as usize;
    let bd_dl = BLOCK_DESCRIPTOR_DATA_LENGTH.get(list) as usize;
    if bd_dl != 0 && dl < bd_dl + 6 {
        return Err(invalid(UNMAP, &DATA_LENGTH, Location::ParameterList, 0));
    }
    let available = bd_dl.min(list.len() - 8);
    Ok(&list[8..8 + available - available % UnmapDescriptor::LEN])
}

/// The block descriptors of an UNMAP parameter list, read in place: the target's parse path
/// without allocation. Yields exactly what [`UnmapParameterList::parse_with_length`] collects.
#[derive(Debug, Clone)]
pub struct UnmapDescriptors<'a> {
    rest: &'a [u8],
}

impl<'a> UnmapDescriptors<'a> {
    /// Checks the header of the UNMAP parameter list in `buf` (the Data-Out buffer), whose
    /// length the CDB gave as `parameter_list_length`, as SBC-4 5.32 asks; see
    /// [`UnmapParameterList::parse_with_length`] for the rules.
    pub fn new(buf: &'a [u8], parameter_list_length: usize) -> Result<Self> {
        Ok(UnmapDescriptors {
            rest: unmap_descriptor_bytes(buf, parameter_list_length)?,
        })
    }
}

impl Iterator for UnmapDescriptors<'_> {
    type Item = UnmapDescriptor;

    fn next(&mut self) -> Option<UnmapDescriptor> {
        let (d, rest) = self.rest.split_at_checked(UnmapDescriptor::LEN)?;
        self.rest = rest;
        Some(UnmapDescriptor::read(d))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / UnmapDescriptor::LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for UnmapDescriptors<'_> {}
impl FusedIterator for UnmapDescriptors<'_> {}

/// UNMAP parameter list (SBC-4 5.32.2), owned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnmapParameterList {
    /// The extents to unmap; they may overlap and come in any order.
    pub descriptors: Vec<UnmapDescriptor>,
}

impl UnmapParameterList {
    /// At most this many descriptors fit the 16-bit UNMAP DATA LENGTH (6 + 16 * 4095).
    pub const MAX_DESCRIPTORS: usize = 4095;

    /// Parses the Data-Out buffer `buf` of an UNMAP command whose PARAMETER LIST LENGTH is
    /// `parameter_list_length`. Bytes of `buf` past that length are ignored.
    ///
    /// Following SBC-4 5.32.1 and 5.32.2:
    /// - a length of 0 is a no-op: an empty list;
    /// - a length of 1..=7 (shorter than the header), or a `buf` shorter than the length (the
    ///   data the CDB announced did not arrive), is [`Error::ParameterListLength`];
    /// - an UNMAP DATA LENGTH less than UNMAP BLOCK DESCRIPTOR DATA LENGTH + 6, with
    ///   descriptors announced, is [`Error::InvalidField`] at parameter list byte 0: SBC-4 does
    ///   not rule on it, its editors advise INVALID FIELD IN PARAMETER LIST (T10 reflector, Feb
    ///   2015); Linux LIO ignores UNMAP DATA LENGTH;
    /// - descriptors cut short by the parameter list length, and an incomplete last descriptor
    ///   when UNMAP BLOCK DESCRIPTOR DATA LENGTH is not a multiple of 16, are ignored: the
    ///   standard says so ("shall be ignored"), and Linux LIO behaves the same.
    ///
    /// Limits (descriptor and block counts, capacity) are the device's to check (`tcmu`'s
    /// `UnmapLimits::check`).
    pub fn parse_with_length(buf: &[u8], parameter_list_length: usize) -> Result<Self> {
        Ok(UnmapParameterList {
            descriptors: UnmapDescriptors::new(buf, parameter_list_length)?.collect(),
        })
    }
}

impl Wire for UnmapParameterList {
    /// Parses a whole parameter list: [`UnmapParameterList::parse_with_length`] with the
    /// length of `buf`.
    fn parse(buf: &[u8]) -> Result<Self> {
        Self::parse_with_length(buf, buf.len())
    }

    fn buffer_len(&self) -> usize {
        8 + UnmapDescriptor::LEN * self.descriptors.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(UNMAP, buf, total)?;
        let too_long = invalid(UNMAP, &DATA_LENGTH, Location::ParameterList, 0);
        let data_length = u16::try_from(total - 2).map_err(|_| too_long)?;
        let mut header = [0; 8];
        DATA_LENGTH.put(&mut header, data_length.into());
        BLOCK_DESCRIPTOR_DATA_LENGTH.put(&mut header, (total - 8) as u64);
        let items = self.descriptors.iter().enumerate();
        let items = items.map(|(i, d)| encode::<_, 16>(d, 8 + 16 * i));
        stream(&header, items, total, buf)
    }
}

/// The Data-Out of WRITE SAME (10/16/32) without NDOB: exactly one logical block (SBC-4 WRITE
/// SAME), which the device writes to every LBA of the range. Returns it, or
/// [`Error::ParameterListLength`] when `buf` is not exactly `block_length` bytes: a Data-Out
/// of another size means the initiator and the device disagree about the block size, and
/// writing part of it, or a block built from it, would store the wrong data.
pub fn write_same_block(buf: &[u8], block_length: u32) -> Result<&[u8]> {
    if usize::try_from(block_length).ok() != Some(buf.len()) {
        return Err(Error::ParameterListLength {
            what: "WRITE SAME",
            len: buf.len(),
        });
    }
    Ok(buf)
}

#[cfg(test)]
pub(super) mod tests;
