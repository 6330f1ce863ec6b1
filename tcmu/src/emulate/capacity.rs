//! READ CAPACITY (10) and (16), and GET LBA STATUS: the image's holes are the deallocated
//! blocks.

use super::{CommandData, Emulator, Fail, Outcome, io_fail};
use crate::backend::{Allocation, BlockDevice};
use scsi_proto::Wire;
use scsi_proto::cdb::Command;
use scsi_proto::params::{LbaStatus, LbaStatusDescriptor, ReadCapacity10Data, ReadCapacity16Data};
use scsi_proto::sense::SenseData;

impl<B: BlockDevice> Emulator<B> {
    pub(super) fn read_capacity_10(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let rc = ReadCapacity10Data::for_device(self.dev.num_blocks(), self.dev.block_size());
        self.data_in(cmd, &rc.to_vec(), data)
    }

    pub(super) fn read_capacity_16(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let thin = self.dev.supports_discard();
        let rc = ReadCapacity16Data::for_device(self.dev.num_blocks(), self.dev.block_size())
            .with_provisioning(thin, thin);
        self.data_in(cmd, &rc.to_vec(), data)
    }

    pub(super) fn lba_status(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let lba = cmd.lba().unwrap_or(0);
        let n = self.dev.num_blocks();
        if lba >= n {
            return Err(Fail::Sense(SenseData::lba_out_of_range()));
        }
        // As many descriptors as the allocation length holds (16 bytes each after an 8-byte
        // header), walking the backend's runs of mapped and deallocated blocks; a backend
        // that does not know reports the rest as mapped.
        let room = (cmd.allocation_length().unwrap_or(0).saturating_sub(8) / 16).clamp(1, 256);
        let mut descriptors = Vec::new();
        let mut at = lba;
        while at < n && descriptors.len() < room as usize {
            // Without logical block provisioning (LBPME = 0, e.g. read-only) every block is
            // mapped, whatever the image's holes.
            let known = if self.dev.supports_discard() {
                self.dev.allocation(at).map_err(|e| io_fail(e, false))?
            } else {
                None
            };
            let run = known.unwrap_or(Allocation { mapped: true, blocks: n - at });
            let blocks = run.blocks.clamp(1, n - at).min(u64::from(u32::MAX));
            descriptors.push(LbaStatusDescriptor {
                lba: at,
                number_of_blocks: blocks as u32, // at most u32::MAX
                provisioning_status: if run.mapped {
                    LbaStatusDescriptor::MAPPED
                } else {
                    LbaStatusDescriptor::DEALLOCATED
                },
                additional_status: 0,
            });
            at += blocks;
        }
        let status = LbaStatus { descriptors };
        self.data_in(cmd, &status.to_vec(), data)
    }
}
