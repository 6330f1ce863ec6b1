//! COMPARE AND WRITE: compare and write atomic with respect to every other write.

use super::{
    CommandData, Emulator, Fail, MAX_COMPARE_AND_WRITE, Outcome, Reply, copy_prefix, illegal_field,
    io_fail, short_data_out,
};
use crate::backend::BlockDevice;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::sense::SenseData;
use std::io::IoSlice;

impl<B: BlockDevice> Emulator<B> {
    pub(super) fn compare_and_write(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        self.check_writable()?;
        let (lba, blocks) = self.range(cmd)?;
        if blocks > u64::from(MAX_COMPARE_AND_WRITE) {
            return Err(illegal_field(cmd, Field::TransferLength));
        }
        let len = self.bytes(blocks)?;
        // The data sent must be the verify and write blocks the CDB names: a NUMBER OF LOGICAL
        // BLOCKS that wrapped (256 sent as 0) or disagrees with the transfer is refused.
        if data.len() != 2 * len {
            return Err(illegal_field(cmd, Field::TransferLength));
        }
        if blocks == 0 {
            return Ok(Reply::good());
        }
        let mut both = vec![0u8; 2 * len];
        if data.read_at(0, &mut both) < both.len() {
            return Err(short_data_out());
        }
        let (verify, write) = both.split_at(len);
        // A device that claims the medium before writing (an RBD gateway's lock) claims it
        // before the read: no other gateway's write lands between the compare and the write.
        self.dev.prepare_write().map_err(|e| io_fail(e, true))?;
        // Exclusive: no other write of this process lands between the compare and the write.
        let _exclusive = self.exclusive();
        // Nor one started earlier without waiting and still in flight.
        self.writes_in_flight.wait_idle();
        let found = self.compare(lba, blocks, |off, buf| {
            copy_prefix(buf, verify.get(off as usize..).unwrap_or_default());
        })?;
        if let Some(off) = found {
            return Err(Fail::Sense(SenseData::miscompare(off)));
        }
        self.dev.write(lba, &[IoSlice::new(write)], false).map_err(|e| io_fail(e, true))?;
        Ok(Reply::good())
    }
}
