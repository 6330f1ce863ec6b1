//! MODE SENSE and MODE SELECT: the device's mode pages, WCE and D_SENSE changeable.

use super::mode_pages::ModeSenseError;
use super::{CommandData, Emulator, Fail, Outcome, Reply, io_fail};
use crate::backend::BlockDevice;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::sense::{AdditionalSense, SenseData};

impl<B: BlockDevice> Emulator<B> {
    pub(super) fn mode_sense(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let Some(req) = cmd.mode_sense_request() else {
            return Err(Fail::Sense(SenseData::invalid_opcode()));
        };
        let mode = self.mode_pages().clone();
        match mode.sense(&req, &self.info()) {
            Ok(bytes) => self.data_in(cmd, &bytes, data),
            Err(ModeSenseError::SavingParametersNotSupported) => Err(Fail::Sense(
                SenseData::illegal_request(AdditionalSense::SAVING_PARAMETERS_NOT_SUPPORTED)
                    .with_field_pointer(scsi_proto::FieldPointer::cdb_bit(2, 7)),
            )),
            Err(ModeSenseError::Invalid(e)) => Err(e.into()),
        }
    }

    pub(super) fn mode_select(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let list = self.parameter_list(cmd, data);
        let ten = cmd.info().cdb_length == 10;
        let pf = cmd.get(Field::Pf) == Some(1);
        let sp = cmd.get(Field::Sp) == Some(1);
        let mut mode = self.mode_pages();
        let new = mode.select(ten, pf, sp, &list, &self.info())?;
        if mode.caching.wce && !new.caching.wce {
            // Turning the write cache off (`cache_type` = write through): what was acknowledged
            // under the cache must be durable before the initiator is told there is none, as
            // it will send no SYNCHRONIZE CACHE for it. The mode lock is held meanwhile, so a
            // write ending now waits and then sees WCE = 0; a failed flush changes nothing.
            self.dev.flush().map_err(|e| io_fail(e, true))?;
        }
        *mode = new;
        Ok(Reply::good())
    }
}
