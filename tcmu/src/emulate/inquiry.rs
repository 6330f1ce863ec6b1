//! INQUIRY: the standard data and the VPD pages 00h, 80h, 83h, 86h, B0h, B1h and B2h.

use super::{
    CommandData, Emulator, MAX_COMPARE_AND_WRITE, MAX_UNMAP_BLOCKS, MAX_UNMAP_DESCRIPTORS,
    MAX_WRITE_SAME, OUI, Outcome, illegal_field,
};
use crate::backend::BlockDevice;
use scsi_proto::Wire;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::inquiry::{
    Association, BlockDeviceCharacteristics, BlockLimits, Designator, DesignatorKind,
    DeviceIdentification, ExtendedInquiryData, LogicalBlockProvisioning, Peripheral,
    StandardInquiry, SupportedVpdPages, TPGS_IMPLICIT, UnitSerialNumber, version_descriptor,
};

impl<B: BlockDevice> Emulator<B> {
    pub(super) fn inquiry(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        if cmd.get(Field::Evpd) != Some(1) {
            let mut std =
                StandardInquiry::disk(&self.id.vendor, &self.id.product, &self.id.revision)?;
            std.version = 0x06; // SPC-4
            std.cmdque = true;
            std.hisup = true;
            if self.port_groups.is_some() {
                std.tpgs = TPGS_IMPLICIT;
            }
            std.version_descriptors =
                vec![version_descriptor::SAM5, version_descriptor::SPC4, version_descriptor::SBC3];
            return self.data_in(cmd, &std.to_vec(), data);
        }
        let p = Peripheral::DISK;
        let thin = self.dev.supports_discard();
        // Linux splits discards at multiples of the granularity with power-of-two arithmetic,
        // and cannot split below MAXIMUM UNMAP LBA COUNT: the largest power of two that
        // divides the device's unit (an RBD object set of three 4 MiB objects: 4 MiB), at
        // most that count.
        let unit = self.dev.discard_granularity().max(1);
        let granularity = (1u64 << unit.trailing_zeros()).min(u64::from(MAX_UNMAP_BLOCKS));
        let granularity = u32::try_from(granularity).unwrap_or(MAX_UNMAP_BLOCKS);
        let page = cmd.get(Field::PageCode).unwrap_or(0) as u8;
        let bytes = match page {
            0x00 => SupportedVpdPages {
                peripheral: p,
                pages: vec![0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2],
            }
            .to_vec(),
            0x80 => UnitSerialNumber::new(p, &self.id.serial)?.to_vec(),
            0x83 => {
                let mut designators = vec![
                    Designator::naa_ieee_registered_extended(OUI, self.id.naa_id, 0)?,
                    Designator::t10_vendor_id(&self.id.vendor, self.id.serial.as_bytes())?,
                ];
                if let Some(pg) = &self.port_groups {
                    // The port the command came through and its group: how an initiator
                    // (Linux's scsi_dh_alua) tells which group a path belongs to.
                    let port = Association::TargetPort;
                    designators.push(Designator::new(
                        None,
                        port,
                        DesignatorKind::RelativeTargetPort(pg.group()),
                    )?);
                    designators.push(Designator::new(
                        None,
                        port,
                        DesignatorKind::TargetPortGroup(pg.group()),
                    )?);
                }
                DeviceIdentification { peripheral: p, designators }.to_vec()
            }
            0x86 => ExtendedInquiryData {
                peripheral: p,
                headsup: true,
                ordsup: true,
                simpsup: true,
                v_sup: true,
                ..ExtendedInquiryData::default()
            }
            .to_vec(),
            0xb0 => BlockLimits {
                peripheral: p,
                wsnz: true,
                maximum_compare_and_write_length: MAX_COMPARE_AND_WRITE,
                maximum_transfer_length: 0,
                maximum_unmap_lba_count: if thin { MAX_UNMAP_BLOCKS } else { 0 },
                maximum_unmap_block_descriptor_count: if thin { MAX_UNMAP_DESCRIPTORS } else { 0 },
                optimal_unmap_granularity: if thin { granularity } else { 0 },
                unmap_granularity_alignment: (thin && granularity > 1).then_some(0),
                maximum_write_same_length: MAX_WRITE_SAME,
                ..BlockLimits::default()
            }
            .to_vec(),
            0xb1 => BlockDeviceCharacteristics {
                peripheral: p,
                medium_rotation_rate: 1, // non-rotating
                ..BlockDeviceCharacteristics::default()
            }
            .to_vec(),
            0xb2 => LogicalBlockProvisioning {
                peripheral: p,
                lbpu: thin,
                lbpws: thin,
                lbpws10: thin,
                lbprz: u8::from(thin),
                provisioning_type: if thin { 2 } else { 0 },
                ..LogicalBlockProvisioning::default()
            }
            .to_vec(),
            _ => return Err(illegal_field(cmd, Field::PageCode)),
        };
        self.data_in(cmd, &bytes, data)
    }
}
