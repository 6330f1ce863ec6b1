//! Decodes a CDB given as hex bytes and prints what a target would see, or the exact sense
//! data it would answer with.
//!
//! ```text
//! cargo run -p scsi-proto --example decode -- 28 08 00 00 12 34 00 00 08 00
//! cargo run -p scsi-proto --example decode -- 93 10 00 00 00 00 00 00 00 00 00 00 00 08 00 00
//! ```

use scsi_proto::Wire;
use scsi_proto::cdb::Command;
use scsi_proto::sense::{SenseData, SenseFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut cdb = Vec::new();
    for arg in std::env::args().skip(1) {
        for word in arg.split([' ', ',', ':']) {
            let word = word.trim_start_matches("0x");
            if word.is_empty() {
                continue;
            }
            match u8::from_str_radix(word, 16) {
                Ok(b) => cdb.push(b),
                Err(_) => {
                    eprintln!("decode: `{word}` is not a hex byte");
                    return ExitCode::from(2);
                }
            }
        }
    }
    if cdb.is_empty() {
        eprintln!("usage: decode HEX-BYTES...   e.g. decode 28 08 00 00 12 34 00 00 08 00");
        return ExitCode::from(2);
    }

    match Command::parse(&cdb) {
        Ok(cmd) => {
            println!("{}", cmd.name());
            let row = |name: &str, v: Option<String>| {
                if let Some(v) = v {
                    println!("  {name:<24} {v}");
                }
            };
            row("LBA", cmd.lba().map(|v| format!("{v:#x}")));
            row("transfer length", cmd.transfer_length().map(|v| v.to_string()));
            row("allocation length", cmd.allocation_length().map(|v| v.to_string()));
            row("parameter list length", cmd.parameter_list_length().map(|v| v.to_string()));
            row("group number", cmd.group_number().map(|v| v.to_string()));
            println!("  {:<24} {}", "DPO / FUA", format_args!("{} / {}", cmd.dpo(), cmd.fua()));
            println!("  {:<24} {:?}", "data direction", cmd.data_direction());
            println!("  {cmd:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let sense = SenseData::from_error(&e);
            println!("rejected: {e}");
            println!("  sense: {sense}");
            for format in [SenseFormat::Fixed, SenseFormat::Descriptor] {
                let bytes = sense.in_format(format).to_vec();
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                println!("  {:<11} {}", format!("{format:?}:"), hex.join(" "));
            }
            ExitCode::FAILURE
        }
    }
}
