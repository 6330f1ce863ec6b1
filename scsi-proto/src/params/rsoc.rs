//! REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS parameter
//! data (SPC-5 6.35, 6.37).

use crate::bits::{Layout, Spec};
use crate::error::{check_len, zeroed_out};
use crate::{Location, Result, Wire};

const RSOC: &str = "REPORT SUPPORTED OPERATION CODES data";
const RSTMF: &str = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS data";

const COMMAND_DATA_LENGTH: Spec = Spec::new("COMMAND DATA LENGTH", 0, 0, 32);

crate::bits::layout! {
    /// A command timeouts descriptor (SPC-5 6.35), returned when the CDB sets RCTD. Times are
    /// in seconds (0: not specified).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CommandTimeouts: "REPORT SUPPORTED OPERATION CODES data", 12 {
        command_specific: u8 = "COMMAND SPECIFIC" (3, 0, 8),
        nominal_processing_timeout: u32 = "NOMINAL COMMAND PROCESSING TIMEOUT" (4, 0, 32),
        recommended_timeout: u32 = "RECOMMENDED COMMAND TIMEOUT" (8, 0, 32),
    }
}

impl CommandTimeouts {
    const DESCRIPTOR_LENGTH: Spec = Spec::new("DESCRIPTOR LENGTH", 0, 0, 16);

    fn parse_at(buf: &[u8], off: usize) -> Result<Self> {
        check_len(RSOC, Location::Data, buf, off.saturating_add(Self::LEN))?;
        let d = &buf[off..];
        if Self::DESCRIPTOR_LENGTH.get(d) != 0x0A {
            return Err(Self::DESCRIPTOR_LENGTH.invalid(RSOC, Location::Data, off));
        }
        Ok(Self::read(d))
    }
}

impl Wire for CommandTimeouts {
    fn parse(buf: &[u8]) -> Result<Self> {
        Self::parse_at(buf, 0)
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.emit_fixed(buf)?;
        Self::DESCRIPTOR_LENGTH.put(buf, 0x0A);
        Ok(Self::LEN)
    }
}

/// One command of the all-commands format (SPC-5 6.35).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandDescriptor {
    /// OPERATION CODE.
    pub opcode: u8,
    /// SERVICE ACTION, for an operation code that has service actions (SERVACTV = 1).
    pub service_action: Option<u16>,
    /// CDB LENGTH in bytes.
    pub cdb_length: u16,
    /// The command timeouts descriptor (CTDP): all descriptors of a response have one or none.
    pub timeouts: Option<CommandTimeouts>,
}

impl CommandDescriptor {
    /// Length of a descriptor without a timeouts descriptor (CTDP = 0).
    pub const LEN: usize = 8;
    /// Length of a descriptor with a timeouts descriptor (CTDP = 1).
    pub const LEN_WITH_TIMEOUTS: usize = 20;
    const OPCODE: Spec = Spec::new("OPERATION CODE", 0, 0, 8);
    const SERVICE_ACTION: Spec = Spec::new("SERVICE ACTION", 2, 0, 16);
    const CTDP: Spec = Spec::new("CTDP", 5, 1, 1);
    const SERVACTV: Spec = Spec::new("SERVACTV", 5, 0, 1);
    const CDB_LENGTH: Spec = Spec::new("CDB LENGTH", 6, 0, 16);

    /// This descriptor's length on the wire.
    pub fn descriptor_len(&self) -> usize {
        if self.timeouts.is_some() { Self::LEN_WITH_TIMEOUTS } else { Self::LEN }
    }
}

/// REPORT SUPPORTED OPERATION CODES parameter data, all-commands format (SPC-5 6.35).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllCommands {
    /// The supported commands, in any order.
    pub descriptors: Vec<CommandDescriptor>,
}

impl AllCommands {
    /// Whether the descriptors carry command timeouts; `false` for an empty list.
    pub fn has_timeouts(&self) -> bool {
        self.descriptors.first().is_some_and(|d| d.timeouts.is_some())
    }
}

impl Wire for AllCommands {
    fn parse(buf: &[u8]) -> Result<Self> {
        type D = CommandDescriptor;
        let body = COMMAND_DATA_LENGTH.counted(RSOC, buf, 4)?;
        let short = || COMMAND_DATA_LENGTH.invalid(RSOC, Location::Data, 0);
        let mut descriptors: Vec<D> = Vec::new();
        let mut off = 4;
        while off < body.len() {
            let d = &body[off..];
            if d.len() < D::LEN {
                return Err(short());
            }
            let ctdp = D::CTDP.get(d) != 0;
            if descriptors.first().is_some_and(|f| f.timeouts.is_some() != ctdp) {
                return Err(D::CTDP.invalid(RSOC, Location::Data, off));
            }
            if ctdp && d.len() < D::LEN_WITH_TIMEOUTS {
                return Err(short());
            }
            let timeouts =
                ctdp.then(|| CommandTimeouts::parse_at(body, off + D::LEN)).transpose()?;
            let d = CommandDescriptor {
                opcode: D::OPCODE.get(d) as u8,
                service_action: (D::SERVACTV.get(d) != 0).then(|| D::SERVICE_ACTION.get(d) as u16),
                cdb_length: D::CDB_LENGTH.get(d) as u16,
                timeouts,
            };
            off += d.descriptor_len();
            descriptors.push(d);
        }
        Ok(AllCommands { descriptors })
    }

    fn buffer_len(&self) -> usize {
        4 + self.descriptors.iter().map(CommandDescriptor::descriptor_len).sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        type D = CommandDescriptor;
        let total = self.buffer_len();
        let out = zeroed_out(RSOC, buf, total)?;
        COMMAND_DATA_LENGTH.put_checked(RSOC, out, (total - 4) as u64)?;
        let mut off = 4;
        for d in &self.descriptors {
            if d.timeouts.is_some() != self.has_timeouts() {
                return Err(D::CTDP.invalid(RSOC, Location::Data, off));
            }
            let o = &mut out[off..];
            D::OPCODE.put(o, d.opcode.into());
            D::SERVICE_ACTION.put(o, d.service_action.unwrap_or(0).into());
            D::CTDP.put(o, d.timeouts.is_some().into());
            D::SERVACTV.put(o, d.service_action.is_some().into());
            D::CDB_LENGTH.put(o, d.cdb_length.into());
            if let Some(t) = &d.timeouts {
                t.emit(&mut o[D::LEN..])?;
            }
            off += d.descriptor_len();
        }
        Ok(total)
    }
}

/// REPORT SUPPORTED OPERATION CODES parameter data, one-command format (SPC-5 6.35).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneCommand {
    /// SUPPORT (3 bits): one of the `SUPPORT_...` constants.
    pub support: u8,
    /// CDB USAGE DATA (its length is the CDB SIZE).
    pub cdb_usage_data: Vec<u8>,
    /// The command timeouts descriptor, present exactly when CTDP is set.
    pub timeouts: Option<CommandTimeouts>,
}

impl OneCommand {
    /// SUPPORT 000b: data about the command is not currently available.
    pub const SUPPORT_NOT_AVAILABLE: u8 = 0;
    /// SUPPORT 001b: the command is not supported.
    pub const SUPPORT_NOT_SUPPORTED: u8 = 1;
    /// SUPPORT 011b: supported, conforming to a SCSI standard.
    pub const SUPPORT_STANDARD: u8 = 3;
    /// SUPPORT 101b: supported in a vendor-specific manner.
    pub const SUPPORT_VENDOR: u8 = 5;
    const CTDP: Spec = Spec::new("CTDP", 1, 7, 1);
    const SUPPORT: Spec = Spec::new("SUPPORT", 1, 0, 3);
    const CDB_SIZE: Spec = Spec::new("CDB SIZE", 2, 0, 16);
}

impl Wire for OneCommand {
    fn parse(buf: &[u8]) -> Result<Self> {
        let end = Self::CDB_SIZE.counted(RSOC, buf, 4)?.len();
        let ctdp = Self::CTDP.get(buf) != 0;
        let timeouts = ctdp.then(|| CommandTimeouts::parse_at(buf, end)).transpose()?;
        Ok(OneCommand {
            support: Self::SUPPORT.get(buf) as u8,
            cdb_usage_data: buf[4..end].to_vec(),
            timeouts,
        })
    }

    fn buffer_len(&self) -> usize {
        4 + self.cdb_usage_data.len() + self.timeouts.map_or(0, |t| t.buffer_len())
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let out = zeroed_out(RSOC, buf, total)?;
        Self::SUPPORT.put_checked(RSOC, out, self.support.into())?;
        Self::CDB_SIZE.put_checked(RSOC, out, self.cdb_usage_data.len() as u64)?;
        Self::CTDP.put(out, self.timeouts.is_some().into());
        let end = 4 + self.cdb_usage_data.len();
        out[4..end].copy_from_slice(&self.cdb_usage_data);
        if let Some(t) = &self.timeouts {
            t.emit(&mut out[end..])?;
        }
        Ok(total)
    }
}

crate::bits::layout! {
    /// The extended part of REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS data (SPC-5 6.37), from
    /// its byte 4: each `..ts` bit says that function completes within the short timeout;
    /// timeouts are in units of 100 ms.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct TmfTimeouts: "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS data", 12 {
        tmftmov: bool = "TMFTMOV" (0, 0, 1),
        atts: bool = "ATTS" (2, 7, 1),
        atsts: bool = "ATSTS" (2, 6, 1),
        cacats: bool = "CACATS" (2, 5, 1),
        ctsts: bool = "CTSTS" (2, 4, 1),
        lurts: bool = "LURTS" (2, 3, 1),
        qtts: bool = "QTTS" (2, 2, 1),
        quats: bool = "QUATS" (3, 2, 1),
        qtsts: bool = "QTSTS" (3, 1, 1),
        itnrts: bool = "ITNRTS" (3, 0, 1),
        long_timeout: u32 = "TMF LONG TIMEOUT" (4, 0, 32),
        short_timeout: u32 = "TMF SHORT TIMEOUT" (8, 0, 32),
    }
}

crate::bits::layout! {
    /// REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS parameter data (SPC-5 6.37), extended when
    /// the CDB sets REPD. Each `..s` bit says a function is supported.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ReportedTmf(TmfFlags: "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS data", 4) {
        ats: bool = "ATS" (0, 7, 1),
        atss: bool = "ATSS" (0, 6, 1),
        cacas: bool = "CACAS" (0, 5, 1),
        ctss: bool = "CTSS" (0, 4, 1),
        lurs: bool = "LURS" (0, 3, 1),
        qts: bool = "QTS" (0, 2, 1),
        trs: bool = "TRS" (0, 1, 1),
        wakes: bool = "WAKES" (0, 0, 1),
        quas: bool = "QUAS" (1, 2, 1),
        qtss: bool = "QTSS" (1, 1, 1),
        itnrs: bool = "ITNRS" (1, 0, 1),
    } + {
        /// The extended part.
        extended: Option<TmfTimeouts>,
    }
}

impl ReportedTmf {
    /// Length of the basic format.
    pub const LEN: usize = 4;
    /// Length of the extended format.
    pub const LEN_EXTENDED: usize = 16;
    /// ADDITIONAL DATA LENGTH of the extended format.
    pub const EXTENDED_ADDITIONAL_LENGTH: u8 = 0x0C;
    const ADDITIONAL_DATA_LENGTH: Spec = Spec::new("ADDITIONAL DATA LENGTH", 3, 0, 8);
}

impl Wire for ReportedTmf {
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(RSTMF, Location::Data, buf, Self::LEN)?;
        let extended = match Self::ADDITIONAL_DATA_LENGTH.get(buf) {
            0 => None,
            n if n >= Self::EXTENDED_ADDITIONAL_LENGTH.into() => {
                check_len(RSTMF, Location::Data, buf, Self::LEN_EXTENDED)?;
                Some(TmfTimeouts::read(&buf[4..]))
            }
            _ => return Err(Self::ADDITIONAL_DATA_LENGTH.invalid(RSTMF, Location::Data, 0)),
        };
        Ok(Self::from_fixed(TmfFlags::read(buf), extended))
    }

    fn buffer_len(&self) -> usize {
        if self.extended.is_some() { Self::LEN_EXTENDED } else { Self::LEN }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let out = zeroed_out(RSTMF, buf, total)?;
        self.fixed().put(out);
        if let Some(x) = &self.extended {
            Self::ADDITIONAL_DATA_LENGTH.put(out, Self::EXTENDED_ADDITIONAL_LENGTH.into());
            x.put(&mut out[4..]);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests;
