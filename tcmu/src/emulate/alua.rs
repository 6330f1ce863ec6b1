//! Asymmetric logical unit access (ALUA, SPC-5 5.16), implicit only: a logical unit served by
//! several gateways, one target port group each, whose access states the device decides
//! ([`BlockDevice::access_state`]: an RBD gateway is active/optimized while it holds the
//! image's exclusive lock). INQUIRY reports TPGS 01b, VPD 83h the port's relative target port
//! and target port group, and REPORT TARGET PORT GROUPS this port's group.

use super::{CommandData, Emulator, Outcome, illegal_field};
use crate::backend::BlockDevice;
use scsi_proto::Wire;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::params::{AccessState, TargetPortGroup, TargetPortGroups};

/// This gateway's target port group, of a logical unit served through several gateways, one
/// group (of one port) each.
///
/// Only this group is reported: a gateway cannot know another's state, and Linux
/// (scsi_dh_alua) takes every group's state from whichever path reported it last, so a
/// gateway reporting its peer non-optimized would demote the peer that holds the lock. Each
/// path's initiator asks that path's gateway about its own group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGroups {
    group: u16,
}

/// Why a [`PortGroups`] cannot be reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortGroupsError {
    /// Group 0 (relative target port 0 is reserved).
    #[error("target port group 0 is reserved: groups are 1 to 65535")]
    Zero,
}

impl PortGroups {
    /// This gateway's group, also its port's relative target port identifier: 1 to 65535
    /// (relative port 0 is reserved).
    pub fn new(group: u16) -> Result<PortGroups, PortGroupsError> {
        if group == 0 {
            return Err(PortGroupsError::Zero);
        }
        Ok(PortGroups { group })
    }

    /// This gateway's group (and its port's relative target port identifier).
    pub fn group(&self) -> u16 {
        self.group
    }
}

/// The seconds an initiator should allow for an implicit transition (a takeover: breaking a
/// dead gateway's lock, fencing it, taking the lock).
const IMPLICIT_TRANSITION_TIME: u8 = 30;

impl<B: BlockDevice> Emulator<B> {
    /// REPORT TARGET PORT GROUPS: this gateway's group in the state the device gives (see
    /// [`PortGroups`] for why only it).
    pub(super) fn report_target_port_groups(
        &self,
        cmd: &Command,
        data: &mut dyn CommandData,
    ) -> Outcome {
        let Some(pg) = &self.port_groups else {
            return Err(illegal_field(cmd, Field::ParameterDataFormat));
        };
        let extended = match cmd.get(Field::ParameterDataFormat).map(|f| f as u8) {
            Some(TargetPortGroups::FORMAT_LENGTH_ONLY) => false,
            Some(TargetPortGroups::FORMAT_EXTENDED) => true,
            _ => return Err(illegal_field(cmd, Field::ParameterDataFormat)),
        };
        let supported = TargetPortGroup::SUP_ACTIVE_OPTIMIZED
            | TargetPortGroup::SUP_ACTIVE_NON_OPTIMIZED
            | TargetPortGroup::SUP_UNAVAILABLE
            | TargetPortGroup::SUP_TRANSITIONING;
        let group = |group: u16, state: AccessState| TargetPortGroup {
            pref: false,
            state,
            supported,
            group,
            status_code: 0,
            ports: vec![group],
        };
        let groups = vec![group(pg.group, self.dev.access_state())];
        let rtpg = TargetPortGroups {
            extended,
            implicit_transition_time: if extended { IMPLICIT_TRANSITION_TIME } else { 0 },
            groups,
        };
        self.data_in(cmd, &rtpg.to_vec(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, MemoryDisk, Reply};
    use scsi_proto::inquiry::{DesignatorKind, DeviceIdentification, StandardInquiry};
    use std::io::{self, IoSlice, IoSliceMut};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A memory disk whose gateway holds the lock while `owner` is set.
    struct Gateway {
        disk: MemoryDisk,
        owner: AtomicBool,
    }

    impl BlockDevice for Gateway {
        fn block_size(&self) -> u32 {
            self.disk.block_size()
        }
        fn num_blocks(&self) -> u64 {
            self.disk.num_blocks()
        }
        fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
            self.disk.read(lba, bufs)
        }
        fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
            self.disk.write(lba, bufs, fua)
        }
        fn access_state(&self) -> AccessState {
            if self.owner.load(Ordering::Relaxed) {
                AccessState::ActiveOptimized
            } else {
                AccessState::ActiveNonOptimized
            }
        }
    }

    fn gateway(groups: Option<PortGroups>) -> Emulator<Gateway> {
        let dev = Gateway { disk: MemoryDisk::new(8, 512).unwrap(), owner: AtomicBool::new(true) };
        let emu = Emulator::new(dev, Identity::for_name("gw"));
        match groups {
            Some(g) => emu.with_port_groups(g),
            None => emu,
        }
    }

    fn rtpg(emu: &Emulator<Gateway>, format: u8) -> (Reply, Vec<u8>) {
        let mut data = vec![0xee; 200];
        let cdb = [0xa3, format << 5 | 0x0a, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0];
        let reply = emu.execute(&cdb, &mut data);
        (reply, data)
    }

    #[test]
    fn report_target_port_groups_follows_the_lock() {
        let emu = gateway(Some(PortGroups::new(2).unwrap()));
        let (reply, data) = rtpg(&emu, 1);
        assert_eq!((reply.status, reply.read_len), (0, Some(8 + 12)));
        let got = TargetPortGroups::parse(&data).unwrap();
        assert!(got.extended);
        assert_eq!(got.implicit_transition_time, IMPLICIT_TRANSITION_TIME);
        let states: Vec<_> =
            got.groups.iter().map(|g| (g.group, g.state, g.ports.clone())).collect();
        // Only this group: a peer's state is not this gateway's to report.
        assert_eq!(states, [(2, AccessState::ActiveOptimized, vec![2])]);
        // The lock lost (another gateway took it): this group is active/non-optimized.
        emu.device().owner.store(false, Ordering::Relaxed);
        let (_, data) = rtpg(&emu, 0);
        let got = TargetPortGroups::parse(&data).unwrap();
        assert!(!got.extended);
        assert_eq!(got.groups[0].state, AccessState::ActiveNonOptimized);
        // A reserved parameter data format.
        let (reply, data) = rtpg(&emu, 2);
        assert_eq!(reply.status, 2);
        assert!(data.iter().all(|&b| b == 0));
    }

    #[test]
    fn inquiry_reports_the_port_and_its_group() {
        let emu = gateway(Some(PortGroups::new(7).unwrap()));
        let mut std = vec![0; 96];
        assert_eq!(emu.execute(&[0x12, 0, 0, 0, 96, 0], &mut std).status, 0);
        assert_eq!(StandardInquiry::parse(&std).unwrap().tpgs, scsi_proto::inquiry::TPGS_IMPLICIT);
        let mut page = vec![0; 255];
        assert_eq!(emu.execute(&[0x12, 1, 0x83, 0, 0xff, 0], &mut page).status, 0);
        let kinds: Vec<_> = DeviceIdentification::parse(&page)
            .unwrap()
            .designators
            .into_iter()
            .filter(|d| d.association == scsi_proto::inquiry::Association::TargetPort)
            .map(|d| d.designator)
            .collect();
        assert_eq!(
            kinds,
            [DesignatorKind::RelativeTargetPort(7), DesignatorKind::TargetPortGroup(7)]
        );
    }

    #[test]
    fn without_port_groups_there_is_no_alua() {
        let emu = gateway(None);
        let (reply, _) = rtpg(&emu, 1);
        assert_eq!(reply.status, 2, "REPORT TARGET PORT GROUPS is refused");
        let mut std = vec![0; 96];
        emu.execute(&[0x12, 0, 0, 0, 96, 0], &mut std);
        assert_eq!(StandardInquiry::parse(&std).unwrap().tpgs, 0);
        let info = scsi_proto::cdb::command_info(0xa3, Some(0x0a)).unwrap();
        assert!(!emu.supports(info));
        assert!(gateway(Some(PortGroups::new(1).unwrap())).supports(info));
    }

    #[test]
    fn groups_are_checked() {
        assert_eq!(PortGroups::new(0), Err(PortGroupsError::Zero));
        assert_eq!(PortGroups::new(65535).map(|g| g.group()), Ok(65535));
    }
}
