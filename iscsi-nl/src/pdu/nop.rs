//! NOP-Out and NOP-In (RFC 7143 11.18, 11.19).

use super::{Bhs, Opcode, PduBody, PduError, RESERVED_TAG, header_for};

/// NOP-Out (opcode 0x00): a ping, or the answer to a target's NOP-In.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NopOut {
    /// I: immediate delivery (CmdSN is then not advanced).
    pub immediate: bool,
    /// LUN (echoed from a NOP-In being answered).
    pub lun: u64,
    /// Initiator Task Tag: [`RESERVED_TAG`] when answering a NOP-In.
    pub itt: u32,
    /// Target Transfer Tag: the NOP-In's when answering one, [`RESERVED_TAG`] otherwise.
    pub ttt: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// Ping data, echoed by the target.
    pub data: Vec<u8>,
}

impl Default for NopOut {
    /// An immediate ping with ITT 0, the reserved TTT and no data.
    fn default() -> Self {
        NopOut {
            immediate: true,
            lun: 0,
            itt: 0,
            ttt: RESERVED_TAG,
            cmd_sn: 0,
            exp_stat_sn: 0,
            data: Vec::new(),
        }
    }
}

impl PduBody for NopOut {
    const OPCODE: Opcode = Opcode::NopOut;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (cmd_sn, exp_stat_sn) = bhs.initiator_sns();
        Ok(NopOut {
            immediate: bhs.immediate(),
            lun: bhs.lun(),
            itt: bhs.itt(),
            ttt: bhs.ttt(),
            cmd_sn,
            exp_stat_sn,
            data: data.to_vec(),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&self.data)?;
        bhs.set_immediate(self.immediate);
        bhs.set_final_bit(true);
        bhs.set_lun(self.lun);
        bhs.set_itt(self.itt);
        bhs.set_ttt(self.ttt);
        bhs.set_initiator_sns(self.cmd_sn, self.exp_stat_sn);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &self.data
    }
}

/// NOP-In (opcode 0x20): the answer to a ping, or the target's own ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NopIn {
    /// LUN.
    pub lun: u64,
    /// Initiator Task Tag: the NOP-Out's, or [`RESERVED_TAG`] for a target ping.
    pub itt: u32,
    /// Target Transfer Tag: [`RESERVED_TAG`] unless the target wants an answer.
    pub ttt: u32,
    /// StatSN.
    pub stat_sn: u32,
    /// ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN.
    pub max_cmd_sn: u32,
    /// Ping data.
    pub data: Vec<u8>,
}

impl Default for NopIn {
    /// A NOP-In with ITT 0, the reserved TTT and no data.
    fn default() -> Self {
        NopIn {
            lun: 0,
            itt: 0,
            ttt: RESERVED_TAG,
            stat_sn: 0,
            exp_cmd_sn: 0,
            max_cmd_sn: 0,
            data: Vec::new(),
        }
    }
}

impl PduBody for NopIn {
    const OPCODE: Opcode = Opcode::NopIn;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (stat_sn, exp_cmd_sn, max_cmd_sn) = bhs.target_sns();
        Ok(NopIn {
            lun: bhs.lun(),
            itt: bhs.itt(),
            ttt: bhs.ttt(),
            stat_sn,
            exp_cmd_sn,
            max_cmd_sn,
            data: data.to_vec(),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&self.data)?;
        bhs.set_final_bit(true);
        bhs.set_lun(self.lun);
        bhs.set_itt(self.itt);
        bhs.set_ttt(self.ttt);
        bhs.set_target_sns(self.stat_sn, self.exp_cmd_sn, self.max_cmd_sn);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &self.data
    }
}
