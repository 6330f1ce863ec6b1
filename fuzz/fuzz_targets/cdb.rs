//! CDBs come from initiators through the kernel: every decoder, reached through
//! `Command::parse`, must return a command or an error for any bytes, the error must map to
//! sense data, and a decoded command must emit and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scsi_proto::Wire;
use scsi_proto::cdb::{Command, cdb_length, command_info};
use scsi_proto::sense::SenseData;

fuzz_target!(|data: &[u8]| {
    let expected_len = cdb_length(data);
    match Command::parse(data) {
        Ok(cmd) => {
            let bytes = cmd.to_vec();
            assert_eq!(Some(bytes.len()), expected_len, "{cmd:?}");
            assert_eq!(Command::parse(&bytes).expect("emitted CDB parses"), cmd);
            assert!(command_info(cmd.opcode(), cmd.service_action()).is_some(), "{cmd:?}");
            // Accessors never panic whatever the command.
            let _ = (cmd.lba(), cmd.transfer_length(), cmd.allocation_length());
            let _ = (cmd.parameter_list_length(), cmd.group_number(), cmd.data_direction());
            let _ = (cmd.data_out_length(512), cmd.data_out_length(u32::MAX), cmd.name());
        }
        Err(e) => {
            let sense = SenseData::from_error(&e).to_vec();
            assert!(sense.len() <= 96, "sense must fit TCMU's buffer");
        }
    }
});
