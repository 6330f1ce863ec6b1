//! Text Request and Text Response (RFC 7143 11.10, 11.11).

use super::bhs::{final_and_continue, final_and_continue_bits};
use super::{Bhs, Opcode, PduBody, PduError, RESERVED_TAG, header_for};

/// What a Text PDU with both F and C set is reported as (RFC 7143 11.10.2).
const BOTH_FC: &str = "text F and C bits both set";

/// Text Request (opcode 0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRequest {
    /// I: immediate delivery.
    pub immediate: bool,
    /// F: the last PDU of the request text.
    pub final_: bool,
    /// C: the text continues in the next PDU.
    pub cont: bool,
    /// LUN (usually 0).
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Target Transfer Tag: [`RESERVED_TAG`] to start, the target's tag to continue.
    pub ttt: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// Text key=value pairs.
    pub data: Vec<u8>,
}

impl Default for TextRequest {
    /// A final, non-immediate request with the reserved TTT and no text.
    fn default() -> Self {
        TextRequest {
            immediate: false,
            final_: true,
            cont: false,
            lun: 0,
            itt: 0,
            ttt: RESERVED_TAG,
            cmd_sn: 0,
            exp_stat_sn: 0,
            data: Vec::new(),
        }
    }
}

impl PduBody for TextRequest {
    const OPCODE: Opcode = Opcode::TextRequest;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (final_, cont) = final_and_continue(bhs.flags(), BOTH_FC)?;
        let (cmd_sn, exp_stat_sn) = bhs.initiator_sns();
        Ok(TextRequest {
            immediate: bhs.immediate(),
            final_,
            cont,
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
        bhs.set_flags(final_and_continue_bits(self.final_, self.cont));
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

/// Text Response (opcode 0x24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextResponse {
    /// F: the last PDU of the response text.
    pub final_: bool,
    /// C: the text continues in the next PDU.
    pub cont: bool,
    /// LUN.
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Target Transfer Tag: [`RESERVED_TAG`] when the exchange is over, a tag to echo in the
    /// next request otherwise.
    pub ttt: u32,
    /// StatSN.
    pub stat_sn: u32,
    /// ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN.
    pub max_cmd_sn: u32,
    /// Text key=value pairs.
    pub data: Vec<u8>,
}

impl Default for TextResponse {
    /// A final response with the reserved TTT and no text.
    fn default() -> Self {
        TextResponse {
            final_: true,
            cont: false,
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

impl PduBody for TextResponse {
    const OPCODE: Opcode = Opcode::TextResponse;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (final_, cont) = final_and_continue(bhs.flags(), BOTH_FC)?;
        let (stat_sn, exp_cmd_sn, max_cmd_sn) = bhs.target_sns();
        Ok(TextResponse {
            final_,
            cont,
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
        bhs.set_flags(final_and_continue_bits(self.final_, self.cont));
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
