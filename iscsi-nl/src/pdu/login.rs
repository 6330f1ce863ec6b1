//! Login Request and Login Response (RFC 7143 11.12, 11.13).

use super::bhs::{final_and_continue, final_and_continue_bits};
use super::{Bhs, Opcode, PduBody, PduError, header_for};

/// A login stage (the CSG and NSG fields, RFC 7143 11.12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Stage {
    /// SecurityNegotiation (0).
    #[default]
    SecurityNegotiation = 0,
    /// LoginOperationalNegotiation (1).
    LoginOperationalNegotiation = 1,
    /// FullFeaturePhase (3).
    FullFeaturePhase = 3,
}

impl TryFrom<u8> for Stage {
    type Error = PduError;

    /// Converts a two-bit stage code; 2 is reserved.
    fn try_from(v: u8) -> Result<Self, PduError> {
        match v {
            0 => Ok(Stage::SecurityNegotiation),
            1 => Ok(Stage::LoginOperationalNegotiation),
            3 => Ok(Stage::FullFeaturePhase),
            _ => Err(PduError::InvalidField { field: "login stage", value: v.into() }),
        }
    }
}

/// Byte 1 of both login PDUs: T, C, CSG, NSG.
fn login_flags(transit: bool, cont: bool, csg: Stage, nsg: Stage) -> u8 {
    final_and_continue_bits(transit, cont) | ((csg as u8) << 2) | nsg as u8
}

/// Reads T, C, CSG and NSG; T and C together are a protocol error (RFC 7143 11.12.2).
fn parse_login_flags(b: u8) -> Result<(bool, bool, Stage, Stage), PduError> {
    let (transit, cont) = final_and_continue(b, "login T and C bits both set")?;
    let csg = Stage::try_from((b >> 2) & 3)?;
    let nsg = Stage::try_from(b & 3)?;
    Ok((transit, cont, csg, nsg))
}

/// Login Request (opcode 0x03, always sent with the I bit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginRequest {
    /// T: the initiator is ready to move to `nsg`.
    pub transit: bool,
    /// C: the text continues in the next PDU.
    pub cont: bool,
    /// CSG: the current stage.
    pub csg: Stage,
    /// NSG: the next stage (meaningful only with `transit`).
    pub nsg: Stage,
    /// Version-max (0 in RFC 7143).
    pub version_max: u8,
    /// Version-min (0 in RFC 7143).
    pub version_min: u8,
    /// The initiator part of the session identifier.
    pub isid: [u8; 6],
    /// The target-assigned session handle; 0 for a new session.
    pub tsih: u16,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Connection ID.
    pub cid: u16,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// The login parameters: text key=value pairs.
    pub data: Vec<u8>,
}

impl PduBody for LoginRequest {
    const OPCODE: Opcode = Opcode::LoginRequest;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (transit, cont, csg, nsg) = parse_login_flags(bhs.flags())?;
        let (cmd_sn, exp_stat_sn) = bhs.initiator_sns();
        Ok(LoginRequest {
            transit,
            cont,
            csg,
            nsg,
            version_max: bhs.u8_at(2),
            version_min: bhs.u8_at(3),
            isid: bhs.array_at(8),
            tsih: bhs.u16_at(14),
            itt: bhs.itt(),
            cid: bhs.u16_at(20),
            cmd_sn,
            exp_stat_sn,
            data: data.to_vec(),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&self.data)?;
        bhs.set_immediate(true);
        bhs.set_flags(login_flags(self.transit, self.cont, self.csg, self.nsg));
        bhs.set_u8_at(2, self.version_max);
        bhs.set_u8_at(3, self.version_min);
        bhs.set_array_at(8, &self.isid);
        bhs.set_u16_at(14, self.tsih);
        bhs.set_itt(self.itt);
        bhs.set_u16_at(20, self.cid);
        bhs.set_initiator_sns(self.cmd_sn, self.exp_stat_sn);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Login Response (opcode 0x23).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginResponse {
    /// T: the target agrees to move to `nsg`.
    pub transit: bool,
    /// C: the text continues in the next PDU.
    pub cont: bool,
    /// CSG: the current stage.
    pub csg: Stage,
    /// NSG: the next stage.
    pub nsg: Stage,
    /// Version-max (0 in RFC 7143).
    pub version_max: u8,
    /// Version-active (0 in RFC 7143).
    pub version_active: u8,
    /// The ISID of the request.
    pub isid: [u8; 6],
    /// The session handle the target assigned (in the final response).
    pub tsih: u16,
    /// Initiator Task Tag.
    pub itt: u32,
    /// StatSN.
    pub stat_sn: u32,
    /// ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN.
    pub max_cmd_sn: u32,
    /// Status-Class: 0 success, 1 redirection, 2 initiator error, 3 target error.
    pub status_class: u8,
    /// Status-Detail (RFC 7143 11.13.5).
    pub status_detail: u8,
    /// The target's answers: text key=value pairs.
    pub data: Vec<u8>,
}

impl LoginResponse {
    /// Whether Status-Class is 0 (success).
    pub fn is_success(&self) -> bool {
        self.status_class == 0
    }
}

impl PduBody for LoginResponse {
    const OPCODE: Opcode = Opcode::LoginResponse;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let (transit, cont, csg, nsg) = parse_login_flags(bhs.flags())?;
        let (stat_sn, exp_cmd_sn, max_cmd_sn) = bhs.target_sns();
        Ok(LoginResponse {
            transit,
            cont,
            csg,
            nsg,
            version_max: bhs.u8_at(2),
            version_active: bhs.u8_at(3),
            isid: bhs.array_at(8),
            tsih: bhs.u16_at(14),
            itt: bhs.itt(),
            stat_sn,
            exp_cmd_sn,
            max_cmd_sn,
            status_class: bhs.u8_at(36),
            status_detail: bhs.u8_at(37),
            data: data.to_vec(),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&self.data)?;
        bhs.set_flags(login_flags(self.transit, self.cont, self.csg, self.nsg));
        bhs.set_u8_at(2, self.version_max);
        bhs.set_u8_at(3, self.version_active);
        bhs.set_array_at(8, &self.isid);
        bhs.set_u16_at(14, self.tsih);
        bhs.set_itt(self.itt);
        bhs.set_target_sns(self.stat_sn, self.exp_cmd_sn, self.max_cmd_sn);
        bhs.set_u8_at(36, self.status_class);
        bhs.set_u8_at(37, self.status_detail);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &self.data
    }
}
