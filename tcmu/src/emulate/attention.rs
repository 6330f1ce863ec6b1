//! Unit attention: a change the initiator did not ask for (the capacity; a gateway's
//! asymmetric access state), reported once as CHECK CONDITION, UNIT ATTENTION to the next
//! command, as SPC-5 5.14 has it.
//!
//! The device looks for changes itself, at every command: it compares the backend's
//! [`BlockDevice::num_blocks`] with what it last saw, so a backend whose size changes while
//! it is served (an RBD image resized by `rbd resize`) needs nothing more than to report its
//! new size; and, for a device served with port groups (ALUA), the backend's
//! [`BlockDevice::access_state_changes`], which an RBD gateway moves when it takes or loses
//! the image's lock: ASYMMETRIC ACCESS STATE CHANGED, on which Linux's `scsi_dh_alua` asks
//! REPORT TARGET PORT GROUPS again (and retries the command). A condition is held until a command takes it: INQUIRY and REPORT LUNS leave it
//! (they run as usual), REQUEST SENSE returns it as its sense data (GOOD), any other command
//! is answered with it and not run. Linux's sd then logs `Capacity data has changed`, sends
//! a `SDEV_UA=CAPACITY_DATA_HAS_CHANGED` uevent and retries the command; the disk's size is
//! read again when it is rescanned (`echo 1 > /sys/block/sdX/device/rescan`).
//!
//! TCMU does not say which initiator (I_T nexus) sent a command, so a condition is the
//! device's, not a nexus's: the first command after the change reports it, whichever
//! initiator sent it. One initiator per device (a loopback disk, one iSCSI session) is what
//! the standard describes.

use super::{CommandData, Emulator, Reply};
use crate::backend::BlockDevice;
use scsi_proto::Wire;
use scsi_proto::cdb::{Command, Field, Kind};
use scsi_proto::sense::{AdditionalSense, SenseData, SenseFormat};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// A unit attention condition waiting to be reported: one bit of [`Attentions::pending`].
const CAPACITY_CHANGED: u8 = 1 << 0;
/// The target port group's asymmetric access state may have changed.
const ACCESS_STATE_CHANGED: u8 = 1 << 1;

/// What the device last saw of its backend, and the conditions not yet reported.
#[derive(Debug)]
pub(super) struct Attentions {
    /// The capacity, in blocks, the device last reported or saw.
    blocks: AtomicU64,
    /// The backend's [`BlockDevice::access_state_changes`] last seen.
    state_changes: AtomicU64,
    /// The conditions waiting, one bit each.
    pending: AtomicU8,
}

impl Attentions {
    /// Nothing pending; the capacity and access state changes as the backend reports them
    /// now.
    pub(super) fn new(blocks: u64, state_changes: u64) -> Attentions {
        Attentions {
            blocks: AtomicU64::new(blocks),
            state_changes: AtomicU64::new(state_changes),
            pending: AtomicU8::new(0),
        }
    }

    /// Notes a capacity of `blocks`: a change from the last one seen raises CAPACITY DATA
    /// HAS CHANGED.
    fn see_capacity(&self, blocks: u64) {
        if self.blocks.swap(blocks, Ordering::AcqRel) != blocks {
            self.pending.fetch_or(CAPACITY_CHANGED, Ordering::AcqRel);
        }
    }

    /// Notes the backend's count of access state changes: a move raises ASYMMETRIC ACCESS
    /// STATE CHANGED.
    fn see_state_changes(&self, changes: u64) {
        if self.state_changes.swap(changes, Ordering::AcqRel) != changes {
            self.pending.fetch_or(ACCESS_STATE_CHANGED, Ordering::AcqRel);
        }
    }

    /// Takes the highest-priority pending condition, if any, clearing it.
    fn take(&self) -> Option<AdditionalSense> {
        let mut now = self.pending.load(Ordering::Acquire);
        while now != 0 {
            let bit = now & now.wrapping_neg();
            match self.pending.compare_exchange(
                now,
                now & !bit,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(sense_of(bit)),
                Err(seen) => now = seen,
            }
        }
        None
    }
}

/// The additional sense of a condition's bit.
fn sense_of(bit: u8) -> AdditionalSense {
    match bit {
        CAPACITY_CHANGED => AdditionalSense::CAPACITY_DATA_HAS_CHANGED,
        ACCESS_STATE_CHANGED => AdditionalSense::ASYMMETRIC_ACCESS_STATE_CHANGED,
        // Every bit set is one of the above.
        _ => AdditionalSense::PARAMETERS_CHANGED,
    }
}

impl<B: BlockDevice> Emulator<B> {
    /// The reply a command gets instead of running, when a unit attention condition is
    /// pending (see the module's documentation); `None` if it runs. `cmd` is `None` for a CDB
    /// that did not decode: it is answered with the condition too, as any command but
    /// INQUIRY, REPORT LUNS and REQUEST SENSE is.
    pub(crate) fn unit_attention(
        &self,
        cmd: Option<&Command>,
        data: &mut dyn CommandData,
    ) -> Option<Reply> {
        self.attentions.see_capacity(self.dev.num_blocks());
        if self.port_groups.is_some() {
            self.attentions.see_state_changes(self.dev.access_state_changes());
        }
        let kind = cmd.map(Command::kind);
        if matches!(kind, Some(Kind::Inquiry | Kind::ReportLuns)) {
            return None;
        }
        let additional = self.attentions.take()?;
        let sense = SenseData::unit_attention(additional);
        if let (Some(cmd), Some(Kind::RequestSense)) = (cmd, kind) {
            let format = SenseFormat::from_d_sense(cmd.get(Field::Desc) == Some(1));
            if let Ok(reply) = self.data_in(cmd, &sense.in_format(format).to_vec(), data) {
                return Some(reply);
            }
        }
        data.zero_all();
        Some(Reply::check_condition(sense.in_format(self.sense_format())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryDisk;
    use crate::emulate::Identity;
    use scsi_proto::sense::SenseKey;
    use std::io::{self, IoSlice, IoSliceMut};

    /// A memory disk whose reported size the test sets, as a resized image's would change.
    struct Resizable {
        disk: MemoryDisk,
        blocks: AtomicU64,
    }

    impl BlockDevice for Resizable {
        fn block_size(&self) -> u32 {
            self.disk.block_size()
        }

        fn num_blocks(&self) -> u64 {
            self.blocks.load(Ordering::Relaxed)
        }

        fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
            self.disk.read(lba, bufs)
        }

        fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
            self.disk.write(lba, bufs, fua)
        }

        fn flush(&self) -> io::Result<()> {
            self.disk.flush()
        }
    }

    fn resizable(blocks: u64) -> Emulator<Resizable> {
        let disk =
            Resizable { disk: MemoryDisk::new(64, 512).unwrap(), blocks: AtomicU64::new(blocks) };
        Emulator::new(disk, Identity::for_name("ua"))
    }

    const TEST_UNIT_READY: [u8; 6] = [0; 6];
    const READ_CAPACITY_10: [u8; 10] = [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    fn sense_of(reply: &Reply) -> Option<(SenseKey, AdditionalSense)> {
        reply.sense.map(|s| (s.key, s.additional))
    }

    const CHANGED: Option<(SenseKey, AdditionalSense)> =
        Some((SenseKey::UnitAttention, AdditionalSense::CAPACITY_DATA_HAS_CHANGED));

    #[test]
    fn a_new_capacity_is_reported_once_to_the_next_command() {
        let emu = resizable(32);
        assert_eq!(emu.execute(&TEST_UNIT_READY, &mut Vec::new()), Reply::good());
        emu.device().blocks.store(48, Ordering::Relaxed);
        // The command is not run: its buffer holds nothing.
        let mut buf = vec![0xaa; 8];
        let reply = emu.execute(&READ_CAPACITY_10, &mut buf);
        assert_eq!((reply.status, sense_of(&reply)), (2, CHANGED));
        assert!(buf.iter().all(|&b| b == 0));
        // Reported once: the same command now runs and shows the new size.
        let reply = emu.execute(&READ_CAPACITY_10, &mut buf);
        assert_eq!(reply, Reply::good());
        assert_eq!(u32::from_be_bytes(buf[..4].try_into().unwrap()), 47, "the last LBA");
        // A shrink is reported too, and so is every change, even back to an earlier size.
        for blocks in [40, 48] {
            emu.device().blocks.store(blocks, Ordering::Relaxed);
            assert_eq!(sense_of(&emu.execute(&TEST_UNIT_READY, &mut Vec::new())), CHANGED);
            assert_eq!(emu.execute(&TEST_UNIT_READY, &mut Vec::new()), Reply::good());
        }
    }

    #[test]
    fn inquiry_and_report_luns_run_and_leave_it_and_request_sense_returns_it() {
        let emu = resizable(32);
        emu.device().blocks.store(33, Ordering::Relaxed);
        let mut buf = vec![0u8; 96];
        assert_eq!(emu.execute(&[0x12, 0, 0, 0, 96, 0], &mut buf).status, 0, "INQUIRY");
        let luns = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 96, 0, 0];
        assert_eq!(emu.execute(&luns, &mut buf).status, 0, "REPORT LUNS");
        // REQUEST SENSE (fixed format) returns it, GOOD.
        let mut sense = vec![0u8; 18];
        let reply = emu.execute(&[0x03, 0, 0, 0, 18, 0], &mut sense);
        assert_eq!(reply.status, 0);
        assert_eq!((sense[0], sense[2] & 0x0f, sense[12], sense[13]), (0x70, 0x06, 0x2a, 0x09));
        // And so clears it.
        assert_eq!(emu.execute(&TEST_UNIT_READY, &mut Vec::new()), Reply::good());
        let reply = emu.execute(&[0x03, 0, 0, 0, 18, 0], &mut sense);
        assert_eq!((reply.status, sense[2] & 0x0f, sense[12]), (0, 0, 0), "NO SENSE now");
    }

    #[test]
    fn a_handler_sees_no_command_while_one_is_pending() {
        use crate::handler::{Action, Handler, LogicalUnit, ScsiCmd};
        use std::sync::atomic::AtomicUsize;
        struct Counting(AtomicUsize);
        impl Handler for Counting {
            fn handle(&self, _cmd: &mut ScsiCmd<'_>) -> Action {
                self.0.fetch_add(1, Ordering::Relaxed);
                Action::Reply(Reply::good())
            }
        }
        let lu = LogicalUnit::new(Counting(AtomicUsize::new(0)), resizable(32));
        lu.emulator().device().blocks.store(40, Ordering::Relaxed);
        let reply = lu.execute(1, &TEST_UNIT_READY, &mut Vec::new());
        assert_eq!((sense_of(&reply), lu.handler().0.load(Ordering::Relaxed)), (CHANGED, 0));
        assert_eq!(lu.execute(2, &TEST_UNIT_READY, &mut Vec::new()), Reply::good());
        assert_eq!(lu.handler().0.load(Ordering::Relaxed), 1);
    }

    /// A disk whose access state changes count the test moves.
    struct Gateway(MemoryDisk, AtomicU64);

    impl BlockDevice for Gateway {
        fn block_size(&self) -> u32 {
            self.0.block_size()
        }
        fn num_blocks(&self) -> u64 {
            self.0.num_blocks()
        }
        fn read(&self, lba: u64, bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
            self.0.read(lba, bufs)
        }
        fn write(&self, lba: u64, bufs: &[IoSlice<'_>], fua: bool) -> io::Result<()> {
            self.0.write(lba, bufs, fua)
        }
        fn access_state_changes(&self) -> u64 {
            self.1.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn a_gateway_s_access_state_change_is_reported_once_with_port_groups_only() {
        use crate::emulate::alua::PortGroups;
        let disk = || Gateway(MemoryDisk::new(8, 512).unwrap(), AtomicU64::new(3));
        let alua = Emulator::new(disk(), Identity::for_name("gw"))
            .with_port_groups(PortGroups::new(1).unwrap());
        assert_eq!(alua.execute(&TEST_UNIT_READY, &mut Vec::new()), Reply::good());
        alua.device().1.store(4, Ordering::Relaxed);
        let changed =
            Some((SenseKey::UnitAttention, AdditionalSense::ASYMMETRIC_ACCESS_STATE_CHANGED));
        assert_eq!(sense_of(&alua.execute(&TEST_UNIT_READY, &mut Vec::new())), changed);
        assert_eq!(alua.execute(&TEST_UNIT_READY, &mut Vec::new()), Reply::good());
        // Without port groups the device reports no access state, nor its changes.
        let plain = Emulator::new(disk(), Identity::for_name("plain"));
        plain.device().1.store(9, Ordering::Relaxed);
        assert_eq!(plain.execute(&TEST_UNIT_READY, &mut Vec::new()), Reply::good());
    }

    #[test]
    fn a_cdb_that_does_not_decode_gets_it_first() {
        let emu = resizable(32);
        emu.device().blocks.store(31, Ordering::Relaxed);
        let reply = emu.execute(&[0xff, 0, 0, 0, 0, 0], &mut Vec::new());
        assert_eq!(sense_of(&reply), CHANGED);
        let reply = emu.execute(&[0xff, 0, 0, 0, 0, 0], &mut Vec::new());
        assert_eq!(sense_of(&reply).map(|s| s.0), Some(SenseKey::IllegalRequest));
    }

    #[test]
    fn a_condition_is_taken_by_one_command_of_many_racing() {
        let emu = resizable(32);
        emu.device().blocks.store(64, Ordering::Relaxed);
        let hits = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        let r = emu.execute(&TEST_UNIT_READY, &mut Vec::new());
                        if r != Reply::good() {
                            assert_eq!(sense_of(&r), CHANGED);
                            hits.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(hits.load(Ordering::Relaxed), 1);
    }
}
