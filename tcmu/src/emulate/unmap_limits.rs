//! What the device checks an UNMAP parameter list against before anything is unmapped, so a
//! rejected command never leaves a partial unmap behind.

use scsi_proto::params::UnmapDescriptor;
use scsi_proto::{Error, FieldPointer};

/// What an UNMAP is checked against: the Block Limits VPD page the target reports (SBC-4) and
/// the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmapLimits {
    /// MAXIMUM UNMAP LBA COUNT: the most logical blocks one UNMAP command may unmap, summed
    /// over its descriptors. `0xFFFF_FFFF` means no limit.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. `0xFFFF_FFFF` means no limit.
    pub max_unmap_block_descriptor_count: u32,
    /// The capacity in logical blocks (last LBA + 1).
    pub capacity_blocks: u64,
}

/// Why an UNMAP parameter list is refused once parsed (SBC-4 5.32.1, 5.32.2), with the sense
/// each maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnmapRejection {
    /// More descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: ILLEGAL REQUEST, INVALID
    /// FIELD IN PARAMETER LIST, pointer at UNMAP BLOCK DESCRIPTOR DATA LENGTH (byte 2).
    #[error("UNMAP: {count} block descriptors, at most {max} allowed")]
    TooManyDescriptors {
        /// Descriptors in the list.
        count: usize,
        /// The limit.
        max: u32,
    },
    /// The blocks of the descriptors up to `index` add up to more than MAXIMUM UNMAP LBA
    /// COUNT: ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointer at that descriptor's
    /// NUMBER OF LOGICAL BLOCKS.
    #[error("UNMAP: {total} logical blocks by block descriptor {index}, at most {max} allowed")]
    TooManyBlocks {
        /// Index of the descriptor that crossed the limit.
        index: usize,
        /// Blocks counted up to and including it.
        total: u64,
        /// The limit.
        max: u32,
    },
    /// A descriptor reaches past the capacity: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF
    /// RANGE.
    #[error("UNMAP: block descriptor {index} ({lba} + {number_of_blocks}) exceeds the capacity")]
    LbaOutOfRange {
        /// Index of the descriptor.
        index: usize,
        /// Its LBA.
        lba: u64,
        /// Its number of blocks.
        number_of_blocks: u32,
    },
}

impl UnmapRejection {
    /// The sense-key-specific field pointer for the INVALID FIELD IN PARAMETER LIST cases;
    /// `None` for [`UnmapRejection::LbaOutOfRange`], which has no field pointer.
    pub fn field_pointer(&self) -> Option<FieldPointer> {
        match *self {
            UnmapRejection::TooManyDescriptors { .. } => Some(FieldPointer::param(2)),
            UnmapRejection::TooManyBlocks { index, .. } => {
                let at = index.saturating_mul(16).saturating_add(8 + 8);
                Some(FieldPointer::param(u16::try_from(at).unwrap_or(u16::MAX)))
            }
            UnmapRejection::LbaOutOfRange { .. } => None,
        }
    }

    /// The `scsi-proto` [`Error`] for the INVALID FIELD IN PARAMETER LIST cases; `None` for
    /// [`UnmapRejection::LbaOutOfRange`], which the target reports as LOGICAL BLOCK ADDRESS
    /// OUT OF RANGE itself.
    pub fn to_error(&self) -> Option<Error> {
        let field = match self {
            UnmapRejection::TooManyDescriptors { .. } => "UNMAP BLOCK DESCRIPTOR DATA LENGTH",
            UnmapRejection::TooManyBlocks { .. } => "NUMBER OF LOGICAL BLOCKS",
            UnmapRejection::LbaOutOfRange { .. } => return None,
        };
        Some(Error::InvalidField { what: "UNMAP", field, pointer: self.field_pointer()? })
    }
}

impl UnmapLimits {
    /// The checks of SBC-4 5.32 on an UNMAP list's descriptors (an `UnmapDescriptors` walk or
    /// an `UnmapParameterList`'s, in order): descriptor count first, then each descriptor in
    /// order, total of blocks before range. The whole list is checked before anything is
    /// unmapped.
    pub fn check(
        &self,
        descriptors: impl ExactSizeIterator<Item = UnmapDescriptor>,
    ) -> Result<(), UnmapRejection> {
        let count = descriptors.len();
        let max = self.max_unmap_block_descriptor_count;
        if max != u32::MAX && u64::try_from(count).unwrap_or(u64::MAX) > u64::from(max) {
            return Err(UnmapRejection::TooManyDescriptors { count, max });
        }
        let mut total: u64 = 0;
        for (index, d) in descriptors.enumerate() {
            total = total.saturating_add(u64::from(d.number_of_blocks));
            let max = self.max_unmap_lba_count;
            if max != u32::MAX && total > u64::from(max) {
                return Err(UnmapRejection::TooManyBlocks { index, total, max });
            }
            let end = d.lba.checked_add(u64::from(d.number_of_blocks));
            if end.is_none_or(|end| end > self.capacity_blocks) {
                return Err(UnmapRejection::LbaOutOfRange {
                    index,
                    lba: d.lba,
                    number_of_blocks: d.number_of_blocks,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
