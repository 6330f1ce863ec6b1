//! The rest: commands without data (TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM
//! REMOVAL, FORMAT UNIT), REQUEST SENSE, SYNCHRONIZE CACHE, PRE-FETCH, REPORT LUNS, REPORT
//! SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS.

use super::{CommandData, Emulator, Outcome, Reply, illegal_field, io_fail};
use crate::backend::BlockDevice;
use scsi_proto::Wire;
use scsi_proto::cdb::{COMMANDS, Command, Field};
use scsi_proto::params::{
    AllCommands, CommandDescriptor, CommandTimeouts, Lun, OneCommand, ReportLuns, ReportedTmf,
};
use scsi_proto::sense::{AdditionalSense, SenseData, SenseFormat, SenseKey};

impl<B: BlockDevice> Emulator<B> {
    /// GOOD, nothing done: TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL.
    pub(super) fn nothing(&self, _cmd: &Command, _data: &mut dyn CommandData) -> Outcome {
        Ok(Reply::good())
    }

    /// FORMAT UNIT without a parameter list: the medium is formatted as it is.
    pub(super) fn format_unit(&self, cmd: &Command, _data: &mut dyn CommandData) -> Outcome {
        if cmd.get(Field::Fmtdata) == Some(0) {
            Ok(Reply::good())
        } else {
            Err(illegal_field(cmd, Field::Fmtdata))
        }
    }

    pub(super) fn request_sense(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let format = SenseFormat::from_d_sense(cmd.get(Field::Desc) == Some(1));
        let sense = SenseData::new(SenseKey::NoSense, AdditionalSense::NO_ADDITIONAL_SENSE)
            .in_format(format);
        self.data_in(cmd, &sense.to_vec(), data)
    }

    pub(super) fn synchronize_cache(&self, cmd: &Command, _data: &mut dyn CommandData) -> Outcome {
        self.range(cmd)?;
        self.dev.flush().map_err(|e| io_fail(e, true))?;
        Ok(Reply::good())
    }

    pub(super) fn pre_fetch(&self, cmd: &Command, _data: &mut dyn CommandData) -> Outcome {
        // No cache to load: GOOD says the blocks did not all fit (SBC-4 5.11).
        self.range(cmd)?;
        Ok(Reply::good())
    }

    pub(super) fn report_luns(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        // LIO answers REPORT LUNS itself; should one arrive, we are LUN 0.
        let luns = ReportLuns { luns: vec![Lun::from_index(0)?] };
        self.data_in(cmd, &luns.to_vec(), data)
    }

    pub(super) fn report_tmf(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let tmf = ReportedTmf {
            ats: true,
            atss: true,
            ctss: true,
            lurs: true,
            itnrs: true,
            ..ReportedTmf::default()
        };
        self.data_in(cmd, &tmf.to_vec(), data)
    }

    /// REPORT SUPPORTED OPERATION CODES: what [`Emulator::supports`] says, from the same table
    /// the commands are dispatched by.
    pub(super) fn report_opcodes(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let timeouts = (cmd.get(Field::Rctd) == Some(1)).then_some(CommandTimeouts {
            command_specific: 0,
            nominal_processing_timeout: 0,
            recommended_timeout: 30,
        });
        let bytes = match cmd.get(Field::ReportingOptions).unwrap_or(0) {
            0 => AllCommands {
                descriptors: COMMANDS
                    .iter()
                    .filter(|i| self.supports(i))
                    .map(|i| CommandDescriptor {
                        opcode: i.opcode,
                        service_action: i.service_action,
                        cdb_length: u16::from(i.cdb_length),
                        timeouts,
                    })
                    .collect(),
            }
            .to_vec(),
            options => {
                let opcode = cmd.get(Field::RequestedOperationCode).unwrap_or(0) as u8;
                let sa = cmd.get(Field::RequestedServiceAction).unwrap_or(0) as u16;
                let has_sa =
                    COMMANDS.iter().any(|i| i.opcode == opcode && i.service_action.is_some());
                // Options 1 asks without a service action, 2 with one; asking the wrong way
                // for an opcode is an invalid REQUESTED OPERATION CODE (SPC-5 6.35.2).
                if (options == 1 && has_sa)
                    || (options == 2 && !has_sa && COMMANDS.iter().any(|i| i.opcode == opcode))
                {
                    return Err(illegal_field(cmd, Field::RequestedOperationCode));
                }
                let key = if options == 2 { Some(sa) } else { None };
                let found = COMMANDS
                    .iter()
                    .find(|i| i.opcode == opcode && i.service_action == key && self.supports(i));
                match found {
                    Some(info) => OneCommand {
                        support: OneCommand::SUPPORT_STANDARD,
                        cdb_usage_data: info.usage_data(),
                        timeouts,
                    },
                    None => OneCommand {
                        support: OneCommand::SUPPORT_NOT_SUPPORTED,
                        cdb_usage_data: Vec::new(),
                        timeouts: None,
                    },
                }
                .to_vec()
            }
        };
        self.data_in(cmd, &bytes, data)
    }
}
