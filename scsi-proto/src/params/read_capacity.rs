//! READ CAPACITY (10) and (16) parameter data (SBC-4 5.20.2, 5.21.2).

use crate::Location;

crate::bits::layout! {
    /// READ CAPACITY (10) parameter data (SBC-4 5.20.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ReadCapacity10Data: "READ CAPACITY(10) data", 8 {
        /// The last LBA, or FFFFFFFFh when it does not fit.
        returned_lba: u32 = "RETURNED LOGICAL BLOCK ADDRESS" (0, 0, 32),
        block_length: u32 = "LOGICAL BLOCK LENGTH IN BYTES" (4, 0, 32),
    }
}

impl ReadCapacity10Data {
    /// The data for a device of `number_of_blocks` blocks (zero blocks gives LBA 0; a target
    /// answers NOT READY instead).
    pub fn for_device(number_of_blocks: u64, block_length: u32) -> Self {
        let returned_lba = u32::try_from(number_of_blocks.saturating_sub(1)).unwrap_or(u32::MAX);
        ReadCapacity10Data { returned_lba, block_length }
    }
}

crate::bits::fixed_wire!(ReadCapacity10Data, Location::Data);

crate::bits::layout! {
    /// READ CAPACITY (16) parameter data (SBC-4 5.21.2).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ReadCapacity16Data: "READ CAPACITY(16) data", 32 {
        returned_lba: u64 = "RETURNED LOGICAL BLOCK ADDRESS" (0, 0, 64),
        block_length: u32 = "LOGICAL BLOCK LENGTH IN BYTES" (8, 0, 32),
        rc_basis: u8 = "RC BASIS" (12, 4, 2),
        /// Protection type minus one.
        p_type: u8 = "P_TYPE" (12, 1, 3),
        prot_en: bool = "PROT_EN" (12, 0, 1),
        p_i_exponent: u8 = "P_I_EXPONENT" (13, 4, 4),
        logical_blocks_per_physical_block_exponent: u8 =
            "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT" (13, 0, 4),
        /// Thin provisioning is enabled.
        lbpme: bool = "LBPME" (14, 7, 1),
        /// An unmapped logical block reads as zeroes.
        lbprz: bool = "LBPRZ" (14, 6, 1),
        lowest_aligned_lba: u16 = "LOWEST ALIGNED LOGICAL BLOCK ADDRESS" (14, 0, 14),
    }
}

impl ReadCapacity16Data {
    /// As [`ReadCapacity10Data::for_device`], every optional feature off.
    pub fn for_device(number_of_blocks: u64, block_length: u32) -> Self {
        ReadCapacity16Data {
            returned_lba: number_of_blocks.saturating_sub(1),
            block_length,
            ..Self::default()
        }
    }

    /// Sets the protection type (0: none).
    pub fn with_protection_type(self, protection_type: u8) -> Self {
        Self { prot_en: protection_type != 0, p_type: protection_type.saturating_sub(1), ..self }
    }

    /// Sets LBPME and LBPRZ.
    pub fn with_provisioning(self, lbpme: bool, lbprz: bool) -> Self {
        Self { lbpme, lbprz, ..self }
    }

    /// The protection type, if PROT_EN.
    pub fn protection_type(&self) -> Option<u8> {
        self.prot_en.then(|| self.p_type.saturating_add(1))
    }

    /// RETURNED LOGICAL BLOCK ADDRESS + 1 (saturating).
    pub fn number_of_blocks(&self) -> u64 {
        self.returned_lba.saturating_add(1)
    }
}

crate::bits::fixed_wire!(ReadCapacity16Data, Location::Data);

#[cfg(test)]
mod tests;
