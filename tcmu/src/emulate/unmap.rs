//! UNMAP and WRITE SAME: discards, zeroing and a repeated block.

use super::unmap_limits::UnmapLimits;
use super::{
    CommandData, Emulator, Fail, MAX_UNMAP_BLOCKS, MAX_UNMAP_DESCRIPTORS, MAX_WRITE_SAME, Outcome,
    Reply, illegal_field, io_fail, short_data_out,
};
use crate::backend::BlockDevice;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::params::UnmapParameterList;
use scsi_proto::sense::SenseData;

impl<B: BlockDevice> Emulator<B> {
    pub(super) fn write_same(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        self.check_writable()?;
        let (lba, blocks) = self.range(cmd)?;
        // WSNZ is set in Block Limits: zero blocks ("to the end") is refused, as is too many.
        if blocks == 0 || blocks > MAX_WRITE_SAME {
            return Err(illegal_field(cmd, Field::TransferLength));
        }
        let unmap = cmd.get(Field::Unmap) == Some(1);
        let ndob = cmd.get(Field::Ndob) == Some(1);
        // Anchored blocks are not supported (ANC_SUP = 0 in the Logical Block Provisioning page).
        if cmd.get(Field::Anchor) == Some(1) {
            return Err(illegal_field(cmd, Field::Anchor));
        }
        if unmap && !self.dev.supports_discard() {
            return Err(illegal_field(cmd, Field::Unmap));
        }
        let bs = self.bytes(1)?;
        let mut block = vec![0u8; bs];
        if !ndob && data.read_at(0, &mut block) < bs {
            return Err(short_data_out());
        }
        let _shared = self.shared();
        let zero = block.iter().all(|&b| b == 0);
        let r = if unmap && zero {
            // Unmapped blocks read back as zeroes (LBPRZ), so unmapping writes the same data.
            self.dev.discard(lba, blocks)
        } else if zero {
            self.dev.write_zeroes(lba, blocks)
        } else {
            self.dev.write_same(lba, blocks, &block)
        };
        r.map_err(|e| io_fail(e, true))?;
        Ok(Reply::good())
    }

    pub(super) fn unmap(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        self.check_writable()?;
        let pll = cmd.parameter_list_length().unwrap_or(0) as usize;
        let bytes = self.parameter_list(cmd, data);
        let list = UnmapParameterList::parse_with_length(&bytes, pll)?;
        tracing::debug!(pll, data = data.len(), ?bytes, ?list, "UNMAP");
        let limits = UnmapLimits {
            max_unmap_lba_count: MAX_UNMAP_BLOCKS,
            max_unmap_block_descriptor_count: MAX_UNMAP_DESCRIPTORS,
            capacity_blocks: self.dev.num_blocks(),
        };
        if let Err(rejection) = limits.check(list.descriptors.iter().copied()) {
            return Err(match rejection.to_error() {
                Some(e) => e.into(),
                None => Fail::Sense(SenseData::lba_out_of_range()),
            });
        }
        let _shared = self.shared();
        for d in &list.descriptors {
            if d.number_of_blocks > 0 {
                self.dev
                    .discard(d.lba, u64::from(d.number_of_blocks))
                    .map_err(|e| io_fail(e, true))?;
            }
        }
        Ok(Reply::good())
    }
}
