//! READ CAPACITY (10) and (16) parameter data (SBC-4 5.20.2, 5.21.2).

use crate::Location;

crate::bits::layout! {
    /// READ CAPACITY (10) parameter data (SBC-4 5.20.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ReadCapacity10Data: "READ CAPACITY(10) data", 8 {
        /// The LBA of the last logical block, or `0xFFFF_FFFF` when that does not fit: the
        /// initiator then has to use READ CAPACITY (16).
        returned_lba: u32 = "RETURNED LOGICAL BLOCK ADDRESS" (0, 0, 32),
        /// The logical block length in bytes.
        block_length: u32 = "LOGICAL BLOCK LENGTH IN BYTES" (4, 0, 32),
    }
}

impl ReadCapacity10Data {
    /// The data for a device of `number_of_blocks` logical blocks, with SBC-4's hand-off rule:
    /// RETURNED LOGICAL BLOCK ADDRESS is the last LBA (`number_of_blocks - 1`), or
    /// `0xFFFF_FFFF` when the last LBA is `0xFFFF_FFFF` or more (2^32 blocks and up), telling
    /// the initiator to issue READ CAPACITY (16).
    ///
    /// A device of zero blocks has no last LBA; this returns 0 (the field cannot say "empty").
    /// A target should not report a zero-capacity medium at all but answer NOT READY.
    pub fn for_device(number_of_blocks: u64, block_length: u32) -> Self {
        let last_lba = number_of_blocks.saturating_sub(1);
        ReadCapacity10Data {
            returned_lba: u32::try_from(last_lba).unwrap_or(u32::MAX),
            block_length,
        }
    }

    /// Whether the capacity did not fit and READ CAPACITY (16) must be used.
    pub fn needs_read_capacity_16(&self) -> bool {
        self.returned_lba == u32::MAX
    }
}

crate::bits::fixed_wire!(ReadCapacity10Data, Location::Data);

crate::bits::layout! {
    /// READ CAPACITY (16) parameter data (SBC-4 5.21.2).
    ///
    /// Build it with [`ReadCapacity16Data::for_device`], the `with_...` setters and struct
    /// update. [`Wire::emit`](crate::Wire::emit) rejects a value too wide for its field.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ReadCapacity16Data: "READ CAPACITY(16) data", 32 {
        /// The LBA of the last logical block.
        returned_lba: u64 = "RETURNED LOGICAL BLOCK ADDRESS" (0, 0, 64),
        block_length: u32 = "LOGICAL BLOCK LENGTH IN BYTES" (8, 0, 32),
        /// 00b for a device whose returned LBA is the last LBA of the medium (zoned devices
        /// use 01b).
        rc_basis: u8 = "RC BASIS" (12, 4, 2),
        /// Protection type minus one, meaningful when `prot_en` is set.
        p_type: u8 = "P_TYPE" (12, 1, 3),
        /// Protection information is enabled.
        prot_en: bool = "PROT_EN" (12, 0, 1),
        /// 2^exponent protection information intervals per logical block.
        p_i_exponent: u8 = "P_I_EXPONENT" (13, 4, 4),
        /// 2^exponent logical blocks per physical block (3 for 512-byte logical blocks on a
        /// 4096-byte-sector device).
        logical_blocks_per_physical_block_exponent: u8 =
            "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT" (13, 0, 4),
        /// Logical block provisioning management (thin provisioning, UNMAP) is enabled.
        lbpme: bool = "LBPME" (14, 7, 1),
        /// An unmapped logical block reads as zeroes.
        lbprz: bool = "LBPRZ" (14, 6, 1),
        /// The first LBA at the start of a physical block.
        lowest_aligned_lba: u16 = "LOWEST ALIGNED LOGICAL BLOCK ADDRESS" (14, 0, 14),
    }
}

impl ReadCapacity16Data {
    /// The data for a device of `number_of_blocks` logical blocks of `block_length` bytes, with
    /// every optional feature off. RETURNED LOGICAL BLOCK ADDRESS is `number_of_blocks - 1`;
    /// zero blocks gives 0, as in [`ReadCapacity10Data::for_device`].
    pub fn for_device(number_of_blocks: u64, block_length: u32) -> Self {
        ReadCapacity16Data {
            returned_lba: number_of_blocks.saturating_sub(1),
            block_length,
            ..Self::default()
        }
    }

    /// Sets the protection type: 0 disables protection, 1..=3 set PROT_EN and
    /// P_TYPE = `protection_type - 1`.
    pub fn with_protection_type(mut self, protection_type: u8) -> Self {
        self.prot_en = protection_type != 0;
        self.p_type = protection_type.saturating_sub(1);
        self
    }

    /// Sets LBPME and LBPRZ (a thin-provisioned device that reads unmapped blocks as zeroes
    /// sets both).
    pub fn with_provisioning(mut self, lbpme: bool, lbprz: bool) -> Self {
        self.lbpme = lbpme;
        self.lbprz = lbprz;
        self
    }

    /// The protection type (1..=8), or `None` when PROT_EN is zero.
    pub fn protection_type(&self) -> Option<u8> {
        self.prot_en.then(|| self.p_type.saturating_add(1))
    }

    /// The number of logical blocks: RETURNED LOGICAL BLOCK ADDRESS + 1 (saturating).
    pub fn number_of_blocks(&self) -> u64 {
        self.returned_lba.saturating_add(1)
    }
}

crate::bits::fixed_wire!(ReadCapacity16Data, Location::Data);

#[cfg(test)]
mod tests;
