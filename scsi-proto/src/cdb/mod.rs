//! CDB decoding for every command a disk target meets (SPC-5, SBC-4), in all sizes.
//!
//! Each command is described once, in [`COMMANDS`], by its fields' positions: decoding,
//! emitting, error field pointers and REPORT SUPPORTED OPERATION CODES usage data all read that
//! one table. As in Linux LIO, reserved bits are ignored (and kept), values the standard forbids
//! are [`Error::InvalidField`], and fields a device may not support are exposed for it to reject.

mod field;
mod table;

pub use field::{DataDirection, Field, Kind};
pub use table::COMMANDS;

use crate::Wire;
use crate::bits::Spec;
use crate::error::{Error, FieldPointer, Location, Result, check_len};
use crate::mode::{ModeSenseRequest, PageControl};

/// Where a CDB field sits (byte, shift, bits), read, written and pointed at by [`Spec`].
pub type FieldSpec = Spec<Field>;

/// The operation code of the variable-length CDBs (SPC-5 4.2.3).
const VARIABLE_LENGTH: u8 = 0x7f;
/// ADDITIONAL CDB LENGTH of a variable-length CDB: 18h for every command here.
const ADDITIONAL_CDB_LENGTH: Spec = Spec::new("ADDITIONAL CDB LENGTH", 7, 0, 8);

/// The SERVICE ACTION field of a CDB with operation code `opcode`.
pub(crate) const fn service_action_spec(opcode: u8) -> Spec {
    let (byte, bits) = if opcode == VARIABLE_LENGTH { (8, 16) } else { (1, 5) };
    Spec::new("SERVICE ACTION", byte, 0, bits)
}

/// The CDB length an operation code's group gives: 0 for a reserved or vendor-specific group.
const fn group_length(op: u8) -> u8 {
    match op >> 5 {
        0 => 6,
        1 | 2 => 10,
        3 if op == VARIABLE_LENGTH => 32,
        4 => 16,
        5 => 12,
        _ => 0,
    }
}

/// The length of the CDB starting with `cdb[0]`, from its group code or ADDITIONAL CDB LENGTH;
/// `None` when `cdb` does not say.
pub fn cdb_length(cdb: &[u8]) -> Option<usize> {
    match group_length(*cdb.first()?) {
        0 => None,
        32 => Some(8 + usize::from(*cdb.get(7)?)),
        n => Some(usize::from(n)),
    }
}

/// One decodable command: operation code, service action, size, and its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// What the command is.
    pub kind: Kind,
    /// Operation code.
    pub opcode: u8,
    /// Service action, for operation codes that have them.
    pub service_action: Option<u16>,
    /// Name, e.g. "READ(10)".
    pub name: &'static str,
    /// CDB length in bytes.
    pub cdb_length: u8,
    /// Every field the decoder reads, with its position.
    pub fields: &'static [FieldSpec],
}

impl CommandInfo {
    /// The CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES: the bits this decoder reads, with
    /// the operation code and service action themselves (CONTROL reports 00h: no NACA).
    pub fn usage_data(&'static self) -> Vec<u8> {
        let mut usage = Command::new(self).as_bytes().to_vec();
        for spec in self.fields.iter().filter(|s| s.field != Field::Control) {
            spec.mark(&mut usage);
        }
        if self.opcode == VARIABLE_LENGTH {
            ADDITIONAL_CDB_LENGTH.mark(&mut usage);
        }
        usage
    }

    /// The position of `field` in this command, if it has it.
    pub fn spec(&self, field: Field) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|s| s.field == field)
    }
}

/// The table entry for an operation code and service action.
pub fn command_info(opcode: u8, service_action: Option<u16>) -> Option<&'static CommandInfo> {
    COMMANDS.iter().find(|i| i.opcode == opcode && i.service_action == service_action)
}

/// A decoded command: its table entry and the CDB's bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Command {
    info: &'static CommandInfo,
    bytes: [u8; 32],
}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct(self.info.name);
        for spec in self.info.fields {
            d.field(spec.field.name(), &spec.get(&self.bytes));
        }
        d.finish()
    }
}

impl Command {
    /// Decodes a CDB. The input may be longer than the command (the kernel hands a padded
    /// buffer); extra bytes are ignored.
    pub fn parse(cdb: &[u8]) -> Result<Command> {
        check_len("CDB", Location::Cdb, cdb, 1)?;
        let opcode = cdb[0];
        let sa = service_action_spec(opcode);
        let mut service_action = None;
        if COMMANDS.iter().any(|i| i.opcode == opcode && i.service_action.is_some()) {
            let what = if opcode == VARIABLE_LENGTH { "variable-length CDB" } else { "CDB" };
            check_len(what, Location::Cdb, cdb, sa.end())?;
            if opcode == VARIABLE_LENGTH && ADDITIONAL_CDB_LENGTH.get(cdb) != 0x18 {
                return Err(ADDITIONAL_CDB_LENGTH.invalid(what, Location::Cdb, 0));
            }
            service_action = Some(sa.get(cdb) as u16);
        }
        let Some(info) = command_info(opcode, service_action) else {
            return Err(match service_action {
                Some(_) => sa.invalid("CDB", Location::Cdb, 0),
                None => Error::UnsupportedOpcode { opcode, service_action: None },
            });
        };
        let len = usize::from(info.cdb_length);
        check_len(info.name, Location::Cdb, cdb, len)?;
        let mut cmd = Command::new(info);
        cmd.bytes[..len].copy_from_slice(&cdb[..len]);
        cmd.validate().map(|()| cmd)
    }

    /// A command of `info` with every other field zero, to fill with [`Command::set`].
    pub fn new(info: &'static CommandInfo) -> Command {
        let mut bytes = [0u8; 32];
        bytes[0] = info.opcode;
        service_action_spec(info.opcode).put(&mut bytes, info.service_action.unwrap_or(0).into());
        if info.opcode == VARIABLE_LENGTH {
            ADDITIONAL_CDB_LENGTH.put(&mut bytes, 0x18);
        }
        Command { info, bytes }
    }

    /// Sets a field; a value that does not fit, or a field the command lacks, is an
    /// [`Error::InvalidField`]. READ(6)/WRITE(6) write a TRANSFER LENGTH of 256 as 0.
    pub fn set(&mut self, field: Field, value: u64) -> Result<&mut Self> {
        // READ(6)/WRITE(6) send a TRANSFER LENGTH of 256 as 0, so 0 itself is out of range.
        let six = self.is_six_byte_length(field);
        let value = match value {
            256 if six => 0,
            0 if six => u64::MAX,
            _ => value,
        };
        match self.info.spec(field) {
            Some(spec) if value <= spec.max() => spec.put(&mut self.bytes, value),
            _ => return Err(self.invalid(field)),
        }
        Ok(self)
    }

    fn is_six_byte_length(&self, field: Field) -> bool {
        let rw = matches!(self.info.kind, Kind::Read | Kind::Write);
        rw && self.info.cdb_length == 6 && field == Field::TransferLength
    }

    /// Raw value of a field, if the command has it.
    pub fn get(&self, field: Field) -> Option<u64> {
        let v = self.info.spec(field)?.get(&self.bytes);
        Some(if v == 0 && self.is_six_byte_length(field) { 256 } else { v })
    }

    fn flag(&self, field: Field) -> bool {
        self.get(field).is_some_and(|v| v != 0)
    }

    /// The error for an invalid value of `field` (pointing at CDB byte 0 if the command lacks it).
    fn invalid(&self, field: Field) -> Error {
        let pointer = self.field_pointer(field).unwrap_or(FieldPointer::cdb(0));
        crate::error::invalid(self.info.name, field.name(), pointer)
    }

    /// The field pointer to `field` in this CDB, for a device that rejects its value.
    pub fn field_pointer(&self, field: Field) -> Option<FieldPointer> {
        Some(self.info.spec(field)?.pointer(Location::Cdb, 0))
    }

    /// Values the standards declare invalid.
    fn validate(&self) -> Result<()> {
        use Field::*;
        let bad = match self.info.kind {
            Kind::Inquiry if !self.flag(Evpd) && self.flag(PageCode) => PageCode,
            Kind::ReadCapacity10 if !self.flag(Pmi) && self.flag(Lba) => Lba,
            Kind::WriteSame if self.flag(Anchor) && !self.flag(Unmap) => Anchor,
            // BYTCHK 10b is reserved; 11b (one block compared against each) is VERIFY's only.
            Kind::Verify if self.get(Bytchk) == Some(2) => Bytchk,
            Kind::WriteAndVerify if self.get(Bytchk).is_some_and(|v| v >= 2) => Bytchk,
            Kind::ReportSupportedOperationCodes
                if self.get(ReportingOptions).is_some_and(|v| v > 3) =>
            {
                ReportingOptions
            }
            _ => return Ok(()),
        };
        Err(self.invalid(bad))
    }

    /// The table entry.
    pub fn info(&self) -> &'static CommandInfo {
        self.info
    }

    /// What the command is.
    pub fn kind(&self) -> Kind {
        self.info.kind
    }

    /// The CDB bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.info.cdb_length)]
    }

    /// Operation code.
    pub fn opcode(&self) -> u8 {
        self.info.opcode
    }

    /// Service action, for operation codes that have them.
    pub fn service_action(&self) -> Option<u16> {
        self.info.service_action
    }

    /// Name, e.g. "READ(10)".
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// LOGICAL BLOCK ADDRESS.
    pub fn lba(&self) -> Option<u64> {
        self.get(Field::Lba)
    }

    /// Number of logical blocks ([`Field::TransferLength`] and its synonyms); READ(6)/WRITE(6)
    /// report 256 for a zero field.
    pub fn transfer_length(&self) -> Option<u32> {
        self.length(Field::TransferLength)
    }

    /// ALLOCATION LENGTH.
    pub fn allocation_length(&self) -> Option<u32> {
        self.length(Field::AllocationLength)
    }

    /// PARAMETER LIST LENGTH.
    pub fn parameter_list_length(&self) -> Option<u32> {
        self.length(Field::ParameterListLength)
    }

    fn length(&self, field: Field) -> Option<u32> {
        u32::try_from(self.get(field)?).ok()
    }

    /// DPO.
    pub fn dpo(&self) -> bool {
        self.flag(Field::Dpo)
    }

    /// FUA.
    pub fn fua(&self) -> bool {
        self.flag(Field::Fua)
    }

    /// GROUP NUMBER.
    pub fn group_number(&self) -> Option<u8> {
        self.get(Field::GroupNumber).map(|v| v as u8)
    }

    /// RDPROTECT / WRPROTECT / VRPROTECT.
    pub fn protect(&self) -> Option<u8> {
        self.get(Field::Protect).map(|v| v as u8)
    }

    /// Which way data moves: ALLOCATION LENGTH sizes a Data-In, PARAMETER LIST LENGTH a
    /// Data-Out; the other commands say it below.
    pub fn data_direction(&self) -> DataDirection {
        use Kind::*;
        match self.info.kind {
            Read | ReadCapacity10 => DataDirection::FromDevice,
            Write | WriteAndVerify | CompareAndWrite => DataDirection::ToDevice,
            Verify if self.flag(Field::Bytchk) => DataDirection::ToDevice,
            WriteSame if !self.flag(Field::Ndob) => DataDirection::ToDevice,
            FormatUnit if self.flag(Field::Fmtdata) => DataDirection::ToDevice,
            // RESERVE(10)/RELEASE(10) move data only when the length is not zero.
            Reserve | Release if self.flag(Field::ParameterListLength) => DataDirection::ToDevice,
            Reserve | Release => DataDirection::None,
            _ if self.info.spec(Field::AllocationLength).is_some() => DataDirection::FromDevice,
            _ if self.info.spec(Field::ParameterListLength).is_some() => DataDirection::ToDevice,
            _ => DataDirection::None,
        }
    }

    /// The Data-Out bytes the command carries for a device of `block_length`-byte blocks;
    /// `None` when the CDB alone does not say (FORMAT UNIT's parameter list) or on overflow.
    pub fn data_out_length(&self, block_length: u32) -> Option<u64> {
        use Kind::*;
        let blocks = u64::from(self.transfer_length().unwrap_or(0));
        let bl = u64::from(block_length);
        match self.info.kind {
            Write | WriteAndVerify => blocks.checked_mul(bl),
            Verify => match self.get(Field::Bytchk) {
                Some(1) => blocks.checked_mul(bl),
                Some(3) => Some(bl),
                _ => Some(0),
            },
            WriteSame => Some(if self.flag(Field::Ndob) { 0 } else { bl }),
            CompareAndWrite => blocks.checked_mul(bl)?.checked_mul(2),
            FormatUnit if self.flag(Field::Fmtdata) => None,
            _ => Some(self.parameter_list_length().map_or(0, u64::from)),
        }
    }

    /// For MODE SENSE(6)/(10): the request the `mode` module answers.
    pub fn mode_sense_request(&self) -> Option<ModeSenseRequest> {
        // Only MODE SENSE has a PC field: any other command gives `None` at it.
        Some(ModeSenseRequest {
            ten: self.info.cdb_length == 10,
            dbd: self.flag(Field::Dbd),
            llbaa: self.flag(Field::Llbaa),
            pc: PageControl::from_bits(self.get(Field::PageControl)? as u8),
            page_code: self.get(Field::PageCode)? as u8,
            subpage_code: self.get(Field::SubpageCode)? as u8,
        })
    }
}

impl Wire for Command {
    fn parse(buf: &[u8]) -> Result<Self> {
        Command::parse(buf)
    }

    fn buffer_len(&self) -> usize {
        usize::from(self.info.cdb_length)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let out = crate::error::zeroed_out(self.info.name, buf, self.buffer_len())?;
        out.copy_from_slice(self.as_bytes());
        Ok(out.len())
    }
}

#[cfg(test)]
mod tests;
