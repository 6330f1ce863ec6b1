//! Logout Request and Logout Response (RFC 7143 11.14, 11.15).

use super::{Bhs, Opcode, PduBody, PduError, header_for};

/// The reason code of a Logout Request (RFC 7143 11.14.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogoutReason {
    /// 0: close the session.
    #[default]
    CloseSession,
    /// 1: close the connection.
    CloseConnection,
    /// 2: remove the connection for recovery.
    RemoveConnectionForRecovery,
    /// Any other (reserved) code, kept as received.
    Other(u8),
}

impl From<u8> for LogoutReason {
    /// Converts the seven-bit reason code.
    fn from(v: u8) -> Self {
        match v & 0x7f {
            0 => LogoutReason::CloseSession,
            1 => LogoutReason::CloseConnection,
            2 => LogoutReason::RemoveConnectionForRecovery,
            v => LogoutReason::Other(v),
        }
    }
}

impl From<LogoutReason> for u8 {
    fn from(r: LogoutReason) -> u8 {
        match r {
            LogoutReason::CloseSession => 0,
            LogoutReason::CloseConnection => 1,
            LogoutReason::RemoveConnectionForRecovery => 2,
            LogoutReason::Other(v) => v & 0x7f,
        }
    }
}

/// Logout Request (opcode 0x06).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutRequest {
    /// I: immediate delivery.
    pub immediate: bool,
    /// Why.
    pub reason: LogoutReason,
    /// Initiator Task Tag.
    pub itt: u32,
    /// The connection to close (ignored when closing the session).
    pub cid: u16,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
}

impl PduBody for LogoutRequest {
    const OPCODE: Opcode = Opcode::LogoutRequest;

    fn parse(bhs: &Bhs, _data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (cmd_sn, exp_stat_sn) = bhs.initiator_sns();
        Ok(LogoutRequest {
            immediate: bhs.immediate(),
            reason: LogoutReason::from(bhs.flags()),
            itt: bhs.itt(),
            cid: bhs.u16_at(20),
            cmd_sn,
            exp_stat_sn,
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&[])?;
        bhs.set_immediate(self.immediate);
        bhs.set_flags(0x80 | u8::from(self.reason));
        bhs.set_itt(self.itt);
        bhs.set_u16_at(20, self.cid);
        bhs.set_initiator_sns(self.cmd_sn, self.exp_stat_sn);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &[]
    }
}

/// The Response field of a Logout Response (RFC 7143 11.15.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogoutResponseCode {
    /// 0: connection or session closed successfully.
    #[default]
    Success,
    /// 1: CID not found.
    CidNotFound,
    /// 2: connection recovery is not supported.
    RecoveryNotSupported,
    /// 3: cleanup failed for various reasons.
    CleanupFailed,
    /// Any other (reserved) value, kept as received.
    Other(u8),
}

impl From<u8> for LogoutResponseCode {
    fn from(v: u8) -> Self {
        match v {
            0 => LogoutResponseCode::Success,
            1 => LogoutResponseCode::CidNotFound,
            2 => LogoutResponseCode::RecoveryNotSupported,
            3 => LogoutResponseCode::CleanupFailed,
            v => LogoutResponseCode::Other(v),
        }
    }
}

impl From<LogoutResponseCode> for u8 {
    fn from(r: LogoutResponseCode) -> u8 {
        match r {
            LogoutResponseCode::Success => 0,
            LogoutResponseCode::CidNotFound => 1,
            LogoutResponseCode::RecoveryNotSupported => 2,
            LogoutResponseCode::CleanupFailed => 3,
            LogoutResponseCode::Other(v) => v,
        }
    }
}

/// Logout Response (opcode 0x26).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutResponse {
    /// The outcome.
    pub response: LogoutResponseCode,
    /// Initiator Task Tag.
    pub itt: u32,
    /// StatSN.
    pub stat_sn: u32,
    /// ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN.
    pub max_cmd_sn: u32,
    /// Time2Wait: seconds to wait before reconnecting.
    pub time2wait: u16,
    /// Time2Retain: seconds the target keeps the connection's state.
    pub time2retain: u16,
}

impl PduBody for LogoutResponse {
    const OPCODE: Opcode = Opcode::LogoutResponse;

    fn parse(bhs: &Bhs, _data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (stat_sn, exp_cmd_sn, max_cmd_sn) = bhs.target_sns();
        Ok(LogoutResponse {
            response: LogoutResponseCode::from(bhs.u8_at(2)),
            itt: bhs.itt(),
            stat_sn,
            exp_cmd_sn,
            max_cmd_sn,
            time2wait: bhs.u16_at(40),
            time2retain: bhs.u16_at(42),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&[])?;
        bhs.set_final_bit(true);
        bhs.set_u8_at(2, self.response.into());
        bhs.set_itt(self.itt);
        bhs.set_target_sns(self.stat_sn, self.exp_cmd_sn, self.max_cmd_sn);
        bhs.set_u16_at(40, self.time2wait);
        bhs.set_u16_at(42, self.time2retain);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &[]
    }
}
