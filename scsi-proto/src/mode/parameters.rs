//! Mode parameter data: header, block descriptors, pages (SPC-5 7.5, SBC-4 6.5).

use super::{PAGE_CODE, PAGE_LENGTH, PS, SPF, SUBPAGE_CODE, SUBPAGE_PAGE_LENGTH};
use crate::bits::{Layout, Spec, layout};
use crate::error::{FieldPointer, Location, Result, check_len, invalid, within, zeroed_out};

layout! {
    /// The mode parameter header(6); lengths are wider than their fields, checked on emit.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ModeParameterHeader6: "mode parameter header(6)", 4 {
        mode_data_length: u32 = "MODE DATA LENGTH" (0, 0, 8),
        medium_type: u8 = "MEDIUM TYPE" (1, 0, 8),
        device_specific_parameter: u8 = "DEVICE-SPECIFIC PARAMETER" (2, 0, 8),
        block_descriptor_length: u32 = "BLOCK DESCRIPTOR LENGTH" (3, 0, 8),
    }
}

layout! {
    /// The mode parameter header(10), or the (6) one widened.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ModeParameterHeader10: "mode parameter header(10)", 8 {
        mode_data_length: u32 = "MODE DATA LENGTH" (0, 0, 16),
        medium_type: u8 = "MEDIUM TYPE" (2, 0, 8),
        device_specific_parameter: u8 = "DEVICE-SPECIFIC PARAMETER" (3, 0, 8),
        long_lba: bool = "LONGLBA" (4, 0, 1),
        block_descriptor_length: u32 = "BLOCK DESCRIPTOR LENGTH" (6, 0, 16),
    }
}

/// MODE DATA LENGTH of the (6) and the (10) header.
pub const MODE_DATA_LENGTH: [Spec; 2] =
    [ModeParameterHeader6::FIELDS[0], ModeParameterHeader10::FIELDS[0]];
/// BLOCK DESCRIPTOR LENGTH of the (6) and the (10) header.
pub const BLOCK_DESCRIPTOR_LENGTH: [Spec; 2] =
    [ModeParameterHeader6::FIELDS[3], ModeParameterHeader10::FIELDS[4]];

impl ModeParameterHeader10 {
    /// The header's length in the (10) or (6) form.
    pub const fn size(ten: bool) -> usize {
        [ModeParameterHeader6::LEN, Self::LEN][ten as usize]
    }

    /// Reads the (10) form, or the (6) form widened; bytes past `buf`'s end read as zero.
    pub fn read_form(buf: &[u8], ten: bool) -> Self {
        if ten { Self::read(buf) } else { widen::<ModeParameterHeader6, _>(buf) }
    }

    fn write_form(&self, buf: &mut [u8], ten: bool) -> Result<()> {
        if ten {
            return self.write(buf);
        }
        if self.long_lba {
            let pointer = FieldPointer::data(0, None);
            return Err(invalid(ModeParameterHeader6::WHAT, "LONGLBA", pointer));
        }
        ModeParameterHeader6 {
            mode_data_length: self.mode_data_length,
            medium_type: self.medium_type,
            device_specific_parameter: self.device_specific_parameter,
            block_descriptor_length: self.block_descriptor_length,
        }
        .write(buf)
    }
}

layout! {
    /// A mode parameter block descriptor, long LBA (SBC-4 6.5); [`ShortBlockDescriptor`] on the
    /// wire without LONGLBA.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BlockDescriptor: "long LBA mode parameter block descriptor", 16 {
        number_of_blocks: u64 = "NUMBER OF LOGICAL BLOCKS" (0, 0, 64),
        block_length: u32 = "LOGICAL BLOCK LENGTH" (12, 0, 32),
    }
}

layout! {
    /// The short LBA mode parameter block descriptor (SBC-4 6.5).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ShortBlockDescriptor: "short LBA mode parameter block descriptor", 8 {
        number_of_blocks: u32 = "NUMBER OF LOGICAL BLOCKS" (0, 0, 32),
        block_length: u32 = "LOGICAL BLOCK LENGTH" (5, 0, 24),
    }
}

/// LOGICAL BLOCK LENGTH of the short and the long descriptor.
pub const LOGICAL_BLOCK_LENGTH: [Spec; 2] =
    [ShortBlockDescriptor::FIELDS[1], BlockDescriptor::FIELDS[1]];

impl BlockDescriptor {
    /// The descriptor's length, long or short.
    pub const fn size(long: bool) -> usize {
        [ShortBlockDescriptor::LEN, Self::LEN][long as usize]
    }

    /// Reads the long or the short form; bytes past `b`'s end read as zero.
    pub fn read_form(b: &[u8], long: bool) -> Self {
        if long { Self::read(b) } else { widen::<ShortBlockDescriptor, _>(b) }
    }

    fn write_form(&self, b: &mut [u8], long: bool) -> Result<()> {
        if long {
            return self.write(b);
        }
        let number_of_blocks = u32::try_from(self.number_of_blocks).unwrap_or(u32::MAX);
        ShortBlockDescriptor { number_of_blocks, block_length: self.block_length }.write(b)
    }
}

/// Reads the short form `S` of a structure as its long form `L`, each field into its namesake.
fn widen<S: Layout, L: Layout>(buf: &[u8]) -> L {
    let mut long = vec![0; L::LEN];
    for s in S::FIELDS {
        if let Some(l) = L::FIELDS.iter().find(|l| l.field == s.field) {
            l.put(&mut long, s.get(buf));
        }
    }
    L::read(&long)
}

/// One mode page in raw form, as [`ModeParameters::pages`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawModePage<'a> {
    /// PS.
    pub ps: bool,
    /// SPF: the sub_page format.
    pub spf: bool,
    /// PAGE CODE.
    pub page_code: u8,
    /// SUBPAGE CODE (00h for a page_0 format page).
    pub subpage_code: u8,
    /// The whole page, header included.
    pub bytes: &'a [u8],
}

/// Iterator over the pages of a [`ModeParameters`]; stops at the first malformed page.
#[derive(Debug, Clone)]
pub struct ModePageIter<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Iterator for ModePageIter<'a> {
    type Item = RawModePage<'a>;

    fn next(&mut self) -> Option<RawModePage<'a>> {
        // Taken, so a page cut short (or no page) ends the walk. A length field past the end
        // reads as zero: the page is then longer than `rest`.
        let rest = core::mem::take(&mut self.rest);
        let spf = SPF.get(rest) != 0;
        let len = if spf { SUBPAGE_PAGE_LENGTH.get(rest) + 4 } else { PAGE_LENGTH.get(rest) + 2 };
        let (bytes, tail) = rest.split_at_checked(len as usize)?;
        self.rest = tail;
        Some(RawModePage {
            ps: PS.get(rest) != 0,
            spf,
            page_code: PAGE_CODE.get(rest) as u8,
            subpage_code: if spf { SUBPAGE_CODE.get(rest) as u8 } else { 0 },
            bytes,
        })
    }
}

/// Mode parameter data as MODE SENSE returns it; `ten` selects the (10) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeParameters {
    /// MEDIUM TYPE.
    pub medium_type: u8,
    /// DEVICE-SPECIFIC PARAMETER.
    pub device_specific_parameter: u8,
    /// LONGLBA (only in the (10) form).
    pub long_lba: bool,
    /// The block descriptors.
    pub block_descriptors: Vec<BlockDescriptor>,
    /// The mode pages, concatenated.
    pub pages: Vec<u8>,
}

impl ModeParameters {
    const WHAT: [&'static str; 2] = ["MODE SENSE(6) data", "MODE SENSE(10) data"];

    /// The pages, one by one.
    pub fn pages(&self) -> ModePageIter<'_> {
        ModePageIter { rest: &self.pages }
    }

    /// Parses the data up to MODE DATA LENGTH ([`Error::Truncated`](crate::Error::Truncated) if
    /// cut short); the pages must exactly fill what follows the block descriptors.
    pub fn parse(buf: &[u8], ten: bool) -> Result<Self> {
        let (t, header_len) = (usize::from(ten), ModeParameterHeader10::size(ten));
        let (what, mdl) = (Self::WHAT[t], MODE_DATA_LENGTH[t]);
        check_len(what, Location::Data, buf, header_len)?;
        let data = mdl.counted(what, buf, mdl.nbytes())?;
        if data.len() < header_len {
            return Err(mdl.invalid(what, Location::Data, 0));
        }
        let h = ModeParameterHeader10::read_form(data, ten);
        let desc_len = BlockDescriptor::size(h.long_lba);
        let pages_start = header_len + h.block_descriptor_length as usize;
        let descriptors = data.get(header_len..pages_start).filter(|d| d.len() % desc_len == 0);
        let descriptors =
            descriptors.ok_or(BLOCK_DESCRIPTOR_LENGTH[t].invalid(what, Location::Data, 0))?;
        let block_descriptors =
            descriptors.chunks_exact(desc_len).map(|d| BlockDescriptor::read_form(d, h.long_lba));
        let pages = &data[pages_start..];
        let consumed: usize = ModePageIter { rest: pages }.map(|p| p.bytes.len()).sum();
        if consumed != pages.len() {
            return Err(PAGE_LENGTH.invalid(what, Location::Data, pages_start + consumed));
        }
        Ok(ModeParameters {
            medium_type: h.medium_type,
            device_specific_parameter: h.device_specific_parameter,
            long_lba: h.long_lba,
            block_descriptors: block_descriptors.collect(),
            pages: pages.to_vec(),
        })
    }

    /// The number of bytes [`ModeParameters::emit`] writes.
    pub fn buffer_len(&self, ten: bool) -> usize {
        let bds = self.block_descriptors.len().saturating_mul(BlockDescriptor::size(self.long_lba));
        bds.saturating_add(ModeParameterHeader10::size(ten)).saturating_add(self.pages.len())
    }

    /// Emits the data, or says which field cannot hold its value (LONGLBA in the (6) form).
    pub fn emit(&self, ten: bool, buf: &mut [u8]) -> Result<usize> {
        let what = Self::WHAT[usize::from(ten)];
        let total = self.buffer_len(ten);
        let buf = zeroed_out(what, buf, total)?;
        let desc_len = BlockDescriptor::size(self.long_lba);
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        ModeParameterHeader10 {
            mode_data_length: len(total - MODE_DATA_LENGTH[usize::from(ten)].nbytes()),
            medium_type: self.medium_type,
            device_specific_parameter: self.device_specific_parameter,
            long_lba: self.long_lba,
            block_descriptor_length: len(self.block_descriptors.len() * desc_len),
        }
        .write_form(buf, ten)
        .map_err(|e| within(e, what, 0))?;
        let offsets = (ModeParameterHeader10::size(ten)..).step_by(desc_len);
        for (bd, off) in self.block_descriptors.iter().zip(offsets) {
            bd.write_form(&mut buf[off..], self.long_lba).map_err(|e| within(e, what, off))?;
        }
        buf[total - self.pages.len()..].copy_from_slice(&self.pages);
        Ok(total)
    }

    /// Emits into a new vector of exactly [`ModeParameters::buffer_len`] bytes.
    pub fn to_vec(&self, ten: bool) -> Result<Vec<u8>> {
        let mut v = vec![0; self.buffer_len(ten)];
        self.emit(ten, &mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests;
