//! The UNMAP parameter list (SBC-4 5.32.2) and the Data-Out of WRITE SAME.

use core::iter::FusedIterator;

use super::{encode, stream};
use crate::bits::{Layout, Spec};
use crate::error::check_out;
use crate::{Error, Location, Result, Wire};

pub(super) const UNMAP: &str = "UNMAP";

const DATA_LENGTH: Spec = Spec::new("UNMAP DATA LENGTH", 0, 0, 16);
const BLOCK_DESCRIPTOR_DATA_LENGTH: Spec =
    Spec::new("UNMAP BLOCK DESCRIPTOR DATA LENGTH", 2, 0, 16);

crate::bits::layout! {
    /// One extent to unmap (SBC-4 5.32.2); zero blocks is a no-op.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct UnmapDescriptor: "UNMAP", 16 {
        lba: u64 = "UNMAP LOGICAL BLOCK ADDRESS" (0, 0, 64),
        number_of_blocks: u32 = "NUMBER OF LOGICAL BLOCKS" (8, 0, 32),
    }
}

/// The block descriptors of an UNMAP parameter list, read in place (no allocation).
#[derive(Debug, Clone)]
pub struct UnmapDescriptors<'a>(core::slice::ChunksExact<'a, u8>);

impl<'a> UnmapDescriptors<'a> {
    /// Checks the header of the list in `buf` whose length the CDB gave as
    /// `parameter_list_length`; the rules are [`UnmapParameterList::parse_with_length`]'s.
    pub fn new(buf: &'a [u8], parameter_list_length: usize) -> Result<Self> {
        if parameter_list_length == 0 {
            return Ok(UnmapDescriptors([].chunks_exact(UnmapDescriptor::LEN)));
        }
        if parameter_list_length < 8 || buf.len() < parameter_list_length {
            return Err(Error::ParameterListLength { what: UNMAP, len: parameter_list_length });
        }
        let list = &buf[..parameter_list_length];
        let bd_dl = BLOCK_DESCRIPTOR_DATA_LENGTH.get(list);
        if bd_dl != 0 && DATA_LENGTH.get(list) < bd_dl + 6 {
            return Err(DATA_LENGTH.invalid(UNMAP, Location::ParameterList, 0));
        }
        let descriptors = &list[8..8 + (bd_dl as usize).min(list.len() - 8)];
        Ok(UnmapDescriptors(descriptors.chunks_exact(UnmapDescriptor::LEN)))
    }
}

impl Iterator for UnmapDescriptors<'_> {
    type Item = UnmapDescriptor;

    fn next(&mut self) -> Option<UnmapDescriptor> {
        self.0.next().map(UnmapDescriptor::read)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
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

    /// Parses the Data-Out `buf` of an UNMAP whose PARAMETER LIST LENGTH is
    /// `parameter_list_length` (bytes past it are ignored). Length 0 is an empty list; 1..=7,
    /// or a `buf` shorter than the length, is [`Error::ParameterListLength`]; UNMAP DATA LENGTH
    /// below UNMAP BLOCK DESCRIPTOR DATA LENGTH + 6 is [`Error::InvalidField`] at byte 0 (SBC-4
    /// is silent; T10 editors advise so). Descriptors cut short are ignored, as SBC-4 says.
    /// Limits are the device's to check (`tcmu`'s `UnmapLimits::check`).
    pub fn parse_with_length(buf: &[u8], parameter_list_length: usize) -> Result<Self> {
        Ok(UnmapParameterList {
            descriptors: UnmapDescriptors::new(buf, parameter_list_length)?.collect(),
        })
    }
}

impl Wire for UnmapParameterList {
    /// [`UnmapParameterList::parse_with_length`] with the length of `buf`.
    fn parse(buf: &[u8]) -> Result<Self> {
        Self::parse_with_length(buf, buf.len())
    }

    fn buffer_len(&self) -> usize {
        8 + UnmapDescriptor::LEN * self.descriptors.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(UNMAP, buf, total)?;
        let too_long = DATA_LENGTH.invalid(UNMAP, Location::ParameterList, 0);
        let data_length = u16::try_from(total - 2).map_err(|_| too_long)?;
        let mut header = [0; 8];
        DATA_LENGTH.put(&mut header, data_length.into());
        BLOCK_DESCRIPTOR_DATA_LENGTH.put(&mut header, (total - 8) as u64);
        let items = self.descriptors.iter().enumerate();
        let items = items.map(|(i, d)| encode::<_, 16>(d, 8 + 16 * i));
        stream(&header, items, total, buf)
    }
}

/// The Data-Out of WRITE SAME without NDOB: exactly one logical block, or
/// [`Error::ParameterListLength`] (initiator and device disagree on the block size).
pub fn write_same_block(buf: &[u8], block_length: u32) -> Result<&[u8]> {
    if usize::try_from(block_length).ok() != Some(buf.len()) {
        return Err(Error::ParameterListLength { what: "WRITE SAME", len: buf.len() });
    }
    Ok(buf)
}

#[cfg(test)]
pub(super) mod tests;
