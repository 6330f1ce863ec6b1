//! Reject (RFC 7143 11.17).

use super::{Bhs, Opcode, PduBody, PduError, RESERVED_TAG, header_for};

/// The Reason field of a Reject (RFC 7143 11.17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RejectReason {
    /// 0x02: data (payload) digest error.
    DataDigestError,
    /// 0x03: SNACK reject.
    SnackReject,
    /// 0x04: protocol error.
    #[default]
    ProtocolError,
    /// 0x05: command not supported.
    CommandNotSupported,
    /// 0x06: immediate command rejected, too many immediate commands.
    ImmediateCommandReject,
    /// 0x07: task in progress.
    TaskInProgress,
    /// 0x08: invalid data ACK.
    InvalidDataAck,
    /// 0x09: invalid PDU field.
    InvalidPduField,
    /// 0x0a: long operation reject, out of resources to generate a TTT.
    LongOpReject,
    /// 0x0b: deprecated (negotiation reset).
    NegotiationReset,
    /// 0x0c: waiting for logout.
    WaitingForLogout,
    /// Any other (reserved) value, kept as received.
    Other(u8),
}

const REASONS: [(RejectReason, u8); 11] = [
    (RejectReason::DataDigestError, 0x02),
    (RejectReason::SnackReject, 0x03),
    (RejectReason::ProtocolError, 0x04),
    (RejectReason::CommandNotSupported, 0x05),
    (RejectReason::ImmediateCommandReject, 0x06),
    (RejectReason::TaskInProgress, 0x07),
    (RejectReason::InvalidDataAck, 0x08),
    (RejectReason::InvalidPduField, 0x09),
    (RejectReason::LongOpReject, 0x0a),
    (RejectReason::NegotiationReset, 0x0b),
    (RejectReason::WaitingForLogout, 0x0c),
];

impl From<u8> for RejectReason {
    fn from(v: u8) -> Self {
        REASONS.iter().find(|(_, code)| *code == v).map_or(RejectReason::Other(v), |(r, _)| *r)
    }
}

impl From<RejectReason> for u8 {
    fn from(r: RejectReason) -> u8 {
        match r {
            RejectReason::Other(v) => v,
            r => REASONS.iter().find(|(known, _)| *known == r).map_or(0, |(_, code)| *code),
        }
    }
}

/// Reject (opcode 0x3f): the target refuses a PDU; the data segment holds its header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reject {
    /// Why.
    pub reason: RejectReason,
    /// StatSN.
    pub stat_sn: u32,
    /// ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN.
    pub max_cmd_sn: u32,
    /// DataSN/R2TSN, for a rejected SNACK.
    pub data_sn_or_r2t_sn: u32,
    /// The header of the rejected PDU (normally 48 bytes, kept as sent).
    pub data: Vec<u8>,
}

impl Reject {
    /// The rejected PDU's header, when the data segment holds a whole one.
    pub fn rejected_header(&self) -> Option<Bhs> {
        Bhs::parse(&self.data).ok()
    }
}

impl PduBody for Reject {
    const OPCODE: Opcode = Opcode::Reject;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (stat_sn, exp_cmd_sn, max_cmd_sn) = bhs.target_sns();
        Ok(Reject {
            reason: RejectReason::from(bhs.u8_at(2)),
            stat_sn,
            exp_cmd_sn,
            max_cmd_sn,
            data_sn_or_r2t_sn: bhs.u32_at(36),
            data: data.to_vec(),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&self.data)?;
        bhs.set_final_bit(true);
        bhs.set_u8_at(2, self.reason.into());
        bhs.set_itt(RESERVED_TAG);
        bhs.set_target_sns(self.stat_sn, self.exp_cmd_sn, self.max_cmd_sn);
        bhs.set_u32_at(36, self.data_sn_or_r2t_sn);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &self.data
    }
}
