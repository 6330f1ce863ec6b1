//! Mode parameter data: header, block descriptors, pages (SPC-5 7.5, SBC-4 6.5).

use super::{
    DEVICE_SPECIFIC_DPOFUA, DEVICE_SPECIFIC_WP, PAGE_CODE, PAGE_LENGTH, PS, SPF, SUBPAGE_CODE,
    SUBPAGE_PAGE_LENGTH,
};
use crate::bits::{Layout, Spec, layout};
use crate::error::{FieldPointer, Location, Result, check_len, check_out, invalid, within};

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
        if ten {
            return Self::read(buf);
        }
        let h = ModeParameterHeader6::read(buf);
        ModeParameterHeader10 {
            mode_data_length: h.mode_data_length,
            medium_type: h.medium_type,
            device_specific_parameter: h.device_specific_parameter,
            long_lba: false,
            block_descriptor_length: h.block_descriptor_length,
        }
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
        if long {
            return Self::read(b);
        }
        let s = ShortBlockDescriptor::read(b);
        BlockDescriptor {
            number_of_blocks: s.number_of_blocks.into(),
            block_length: s.block_length,
        }
    }

    fn write_form(&self, b: &mut [u8], long: bool) -> Result<()> {
        if long {
            return self.write(b);
        }
        ShortBlockDescriptor {
            number_of_blocks: u32::try_from(self.number_of_blocks).unwrap_or(u32::MAX),
            block_length: self.block_length,
        }
        .write(b)
    }
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
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        // A length field past the end reads as zero: the page is then longer than `rest`.
        let spf = SPF.get(rest) != 0;
        let (subpage_code, len) = if spf {
            (SUBPAGE_CODE.get(rest), SUBPAGE_PAGE_LENGTH.get(rest) + 4)
        } else {
            (0, PAGE_LENGTH.get(rest) + 2)
        };
        let Some((bytes, tail)) = rest.split_at_checked(len as usize) else {
            self.rest = &[];
            return None;
        };
        self.rest = tail;
        Some(RawModePage {
            ps: PS.get(rest) != 0,
            spf,
            page_code: PAGE_CODE.get(rest) as u8,
            subpage_code: subpage_code as u8,
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

    /// WP.
    pub const fn write_protect(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_WP != 0
    }

    /// DPOFUA.
    pub const fn dpofua(&self) -> bool {
        self.device_specific_parameter & DEVICE_SPECIFIC_DPOFUA != 0
    }

    /// Parses the data up to MODE DATA LENGTH ([`Error::Truncated`](crate::Error::Truncated) if
    /// cut short); the pages must exactly fill what follows the block descriptors.
    pub fn parse(buf: &[u8], ten: bool) -> Result<Self> {
        let what = Self::WHAT[usize::from(ten)];
        let header_len = ModeParameterHeader10::size(ten);
        check_len(what, Location::Data, buf, header_len)?;
        let h = ModeParameterHeader10::read_form(buf, ten);
        let data_len = h.mode_data_length as usize + MODE_DATA_LENGTH[usize::from(ten)].nbytes();
        if data_len < header_len {
            return Err(MODE_DATA_LENGTH[0].invalid(what, Location::Data, 0));
        }
        check_len(what, Location::Data, buf, data_len)?;
        let data = &buf[..data_len];
        let desc_len = BlockDescriptor::size(h.long_lba);
        let bd_dl = &BLOCK_DESCRIPTOR_LENGTH[usize::from(ten)];
        let bd_err = bd_dl.invalid(what, Location::Data, 0);
        let pages_start = header_len + h.block_descriptor_length as usize;
        let descriptors = data.get(header_len..pages_start).ok_or(bd_err)?;
        if descriptors.len() % desc_len != 0 {
            return Err(bd_err);
        }
        let block_descriptors = descriptors
            .chunks_exact(desc_len)
            .map(|d| BlockDescriptor::read_form(d, h.long_lba))
            .collect();
        let pages = data.get(pages_start..).unwrap_or_default();
        let consumed: usize = ModePageIter { rest: pages }.map(|p| p.bytes.len()).sum();
        if consumed != pages.len() {
            let at = pages_start + consumed;
            return Err(PAGE_LENGTH.invalid(what, Location::Data, at));
        }
        Ok(ModeParameters {
            medium_type: h.medium_type,
            device_specific_parameter: h.device_specific_parameter,
            long_lba: h.long_lba,
            block_descriptors,
            pages: pages.to_vec(),
        })
    }

    /// The number of bytes [`ModeParameters::emit`] writes.
    pub fn buffer_len(&self, ten: bool) -> usize {
        self.block_descriptors
            .len()
            .saturating_mul(BlockDescriptor::size(self.long_lba))
            .saturating_add(ModeParameterHeader10::size(ten))
            .saturating_add(self.pages.len())
    }

    /// Emits the data, or says which field cannot hold its value (LONGLBA in the (6) form).
    pub fn emit(&self, ten: bool, buf: &mut [u8]) -> Result<usize> {
        let what = Self::WHAT[usize::from(ten)];
        let total = self.buffer_len(ten);
        check_out(what, buf, total)?;
        let buf = &mut buf[..total];
        buf.fill(0);
        let desc_len = BlockDescriptor::size(self.long_lba);
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut off = ModeParameterHeader10::size(ten);
        ModeParameterHeader10 {
            mode_data_length: len(total - MODE_DATA_LENGTH[usize::from(ten)].nbytes()),
            medium_type: self.medium_type,
            device_specific_parameter: self.device_specific_parameter,
            long_lba: self.long_lba,
            block_descriptor_length: len(self.block_descriptors.len() * desc_len),
        }
        .write_form(buf, ten)
        .map_err(|e| within(e, what, 0))?;
        for bd in &self.block_descriptors {
            let out = buf.get_mut(off..).unwrap_or_default();
            bd.write_form(out, self.long_lba).map_err(|e| within(e, what, off))?;
            off += desc_len;
        }
        buf.get_mut(off..).unwrap_or_default().copy_from_slice(&self.pages);
        Ok(total)
    }

    /// Emits into a new vector of exactly [`ModeParameters::buffer_len`] bytes.
    pub fn to_vec(&self, ten: bool) -> Result<Vec<u8>> {
        let mut v = vec![0; self.buffer_len(ten)];
        let n = self.emit(ten, &mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

#[cfg(test)]
mod tests;
