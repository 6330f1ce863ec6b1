//! EXTENDED COPY (LID1, within this logical unit) and RECEIVE COPY RESULTS.

use super::copy_manager::{CopyLimits, CopyRange, XcopyRejection, plan};
use super::{COPY_CHUNK, CommandData, Emulator, Fail, OUI, Outcome, Reply, illegal_field, io_fail};
use crate::backend::BlockDevice;
use scsi_proto::Wire;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::inquiry::Designator;
use scsi_proto::sense::{AdditionalSense, SenseData, SenseKey};
use scsi_proto::xcopy::CopyStatus;
use std::io::{IoSlice, IoSliceMut};

/// What EXTENDED COPY accepts (RECEIVE COPY RESULTS OPERATING PARAMETERS): a source and a
/// destination descriptor (both this logical unit) and a few segments.
const COPY_LIMITS: CopyLimits = CopyLimits {
    max_cscd_descriptors: 2,
    max_segment_descriptors: 4,
    max_descriptor_list_length: 1024,
};

impl<B: BlockDevice> Emulator<B> {
    /// The DESIGNATOR of the NAA designator VPD 83h reports: what an identification CSCD
    /// descriptor names this logical unit by.
    fn naa_designator(&self) -> Result<Vec<u8>, Fail> {
        let d = Designator::naa_ieee_registered_extended(OUI, self.id.naa_id, 0)?.to_vec();
        Ok(d.get(4..).map(<[u8]>::to_vec).unwrap_or_default())
    }

    /// EXTENDED COPY(LID1): every segment copies blocks within this logical unit (the only
    /// copy target it can reach), through a bounded buffer, as shared writers like WRITE.
    pub(super) fn extended_copy(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let list = self.parameter_list(cmd, data);
        // A PARAMETER LIST LENGTH of zero is no copy, and not an error (SPC-4 6.4.1).
        if list.is_empty() {
            return Ok(Reply::good());
        }
        let reject = |r: XcopyRejection| Fail::Sense(r.to_sense());
        let parsed = COPY_LIMITS.parse(&list).map_err(reject)?;
        let naa = self.naa_designator()?;
        let ranges =
            plan(&parsed, &naa, self.dev.block_size(), self.dev.num_blocks()).map_err(reject)?;
        self.check_writable()?;
        let bs = self.bytes(1)?;
        let _shared = self.shared();
        let mut bytes = 0u64;
        for (done, r) in ranges.iter().enumerate() {
            // A read or write that fails part way aborts the copy: COPY ABORTED with the
            // number of segments fully processed in COMMAND-SPECIFIC INFORMATION (SPC-4
            // 6.4.3), not a medium error the initiator would take for the whole command.
            if self.copy_range(r, bs).is_err() {
                // What the segments before it copied must be as durable as a completed copy.
                self.settle(cmd)?;
                return Err(Fail::Sense(
                    SenseData::new(
                        SenseKey::CopyAborted,
                        AdditionalSense::LUN_COMMUNICATION_FAILURE,
                    )
                    .with_command_specific(done as u64),
                ));
            }
            bytes = bytes.saturating_add(r.blocks.saturating_mul(bs as u64));
        }
        if !parsed.header.nrcr {
            let segments = u16::try_from(parsed.segments.len()).unwrap_or(u16::MAX);
            self.held_results()
                .insert(parsed.header.list_identifier, CopyStatus::completed(segments, bytes));
        }
        Ok(Reply::good())
    }

    /// Copies one range in chunks of at most [`COPY_CHUNK`] bytes; back to front when the
    /// destination overlaps the source from above, so no block is overwritten before it is
    /// read.
    fn copy_range(&self, r: &CopyRange, bs: usize) -> Result<(), Fail> {
        let per = (COPY_CHUNK / bs.max(1)).max(1) as u64;
        let first = per.min(r.blocks) as usize;
        let mut buf = vec![0u8; first * bs];
        let backward =
            r.destination_lba > r.source_lba && r.destination_lba < r.source_lba + r.blocks;
        let mut done = 0u64;
        while done < r.blocks {
            let n = per.min(r.blocks - done);
            let off = if backward { r.blocks - done - n } else { done };
            let chunk = &mut buf[..n as usize * bs];
            self.dev
                .read(r.source_lba + off, &mut [IoSliceMut::new(chunk)])
                .map_err(|e| io_fail(e, false))?;
            self.dev
                .write(r.destination_lba + off, &[IoSlice::new(chunk)], false)
                .map_err(|e| io_fail(e, true))?;
            done += n;
        }
        Ok(())
    }

    /// RECEIVE COPY RESULTS: OPERATING PARAMETERS, and COPY STATUS of a held list identifier
    /// (returned once, then discarded; an unknown one is an invalid LIST IDENTIFIER).
    pub(super) fn receive_copy_results(
        &self,
        cmd: &Command,
        data: &mut dyn CommandData,
    ) -> Outcome {
        match cmd.info().service_action {
            Some(0x03) => {
                let op = COPY_LIMITS.operating_parameters(self.dev.block_size());
                self.data_in(cmd, &op.to_vec(), data)
            }
            Some(0x00) => {
                let id = cmd.get(Field::ListIdentifier).unwrap_or(0) as u8;
                let held = self.held_results().remove(&id);
                match held {
                    Some(s) => self.data_in(cmd, &s.to_vec(), data),
                    None => Err(illegal_field(cmd, Field::ListIdentifier)),
                }
            }
            _ => Err(Fail::Sense(SenseData::invalid_opcode())),
        }
    }
}
