use crate::bits::{Value, layout};
use crate::inquiry::Peripheral;

/// UGAVALID, the top bit of the UNMAP GRANULARITY ALIGNMENT field.
const UGAVALID: u64 = 1 << 31;

/// UGAVALID and the 31-bit UNMAP GRANULARITY ALIGNMENT: `None` when UGAVALID is clear.
impl Value for Option<u32> {
    fn from_bits(v: u64) -> Self {
        (v & UGAVALID != 0).then_some((v & (UGAVALID - 1)) as u32)
    }

    /// An alignment of 31 bits or more yields a value too large for the field.
    fn to_bits(self) -> u64 {
        match self.map(u64::from) {
            None => 0,
            Some(a) if a < UGAVALID => a | UGAVALID,
            Some(_) => u64::MAX,
        }
    }
}

layout! {
    /// Block Limits VPD page, B0h (SBC-4 6.6.4, Table 236). Lengths are in logical blocks; zero
    /// means "not reported" / "no limit" as SBC-4 says for each field.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct BlockLimits: "Block Limits VPD page", 64 {
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        wsnz: bool = "WSNZ" (4, 0, 1),
        maximum_compare_and_write_length: u8 = "MAXIMUM COMPARE AND WRITE LENGTH" (5, 0, 8),
        optimal_transfer_length_granularity: u16 =
            "OPTIMAL TRANSFER LENGTH GRANULARITY" (6, 0, 16),
        maximum_transfer_length: u32 = "MAXIMUM TRANSFER LENGTH" (8, 0, 32),
        optimal_transfer_length: u32 = "OPTIMAL TRANSFER LENGTH" (12, 0, 32),
        maximum_prefetch_length: u32 = "MAXIMUM PREFETCH LENGTH" (16, 0, 32),
        maximum_unmap_lba_count: u32 = "MAXIMUM UNMAP LBA COUNT" (20, 0, 32),
        maximum_unmap_block_descriptor_count: u32 =
            "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT" (24, 0, 32),
        optimal_unmap_granularity: u32 = "OPTIMAL UNMAP GRANULARITY" (28, 0, 32),
        /// The alignment (31 bits) when UGAVALID (bit 31) is set.
        unmap_granularity_alignment: Option<u32> = "UNMAP GRANULARITY ALIGNMENT" (32, 0, 32),
        maximum_write_same_length: u64 = "MAXIMUM WRITE SAME LENGTH" (36, 0, 64),
        maximum_atomic_transfer_length: u32 = "MAXIMUM ATOMIC TRANSFER LENGTH" (44, 0, 32),
        atomic_alignment: u32 = "ATOMIC ALIGNMENT" (48, 0, 32),
        atomic_transfer_length_granularity: u32 =
            "ATOMIC TRANSFER LENGTH GRANULARITY" (52, 0, 32),
        maximum_atomic_transfer_length_with_atomic_boundary: u32 =
            "MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY" (56, 0, 32),
        maximum_atomic_boundary_size: u32 = "MAXIMUM ATOMIC BOUNDARY SIZE" (60, 0, 32),
    }
}

#[cfg(test)]
mod tests;
