//! SCSI Command (RFC 7143 11.3), minimal: the header fields and immediate data, no AHS.

use super::bhs::set_bit;
use super::{Bhs, Opcode, PduBody, PduError, header_for};

const F_BIT: u8 = 0x80;
const R_BIT: u8 = 0x40;
const W_BIT: u8 = 0x20;
const ATTR_MASK: u8 = 0x07;

/// SCSI Command (opcode 0x01).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiCommandHeader {
    /// I: immediate delivery.
    pub immediate: bool,
    /// F: no unsolicited Data-Out follows.
    pub final_: bool,
    /// R: data flows from the target.
    pub read: bool,
    /// W: data flows to the target.
    pub write: bool,
    /// ATTR, the task attribute (3 bits): 0 untagged, 1 simple, 2 ordered, 3 head of queue,
    /// 4 ACA. Emitted masked to 3 bits.
    pub attr: u8,
    /// LUN.
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Expected Data Transfer Length.
    pub edtl: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// The CDB, zero-padded to 16 bytes (longer CDBs need an AHS this model does not carry).
    pub cdb: [u8; 16],
    /// Immediate data.
    pub data: Vec<u8>,
}

impl PduBody for ScsiCommandHeader {
    const OPCODE: Opcode = Opcode::ScsiCommand;

    fn parse(bhs: &Bhs, data: &[u8]) -> Result<Self, PduError> {
        bhs.expect(Self::OPCODE)?;
        let f = bhs.flags();
        let (cmd_sn, exp_stat_sn) = bhs.initiator_sns();
        Ok(ScsiCommandHeader {
            immediate: bhs.immediate(),
            final_: f & F_BIT != 0,
            read: f & R_BIT != 0,
            write: f & W_BIT != 0,
            attr: f & ATTR_MASK,
            lun: bhs.lun(),
            itt: bhs.itt(),
            edtl: bhs.u32_at(20),
            cmd_sn,
            exp_stat_sn,
            cdb: bhs.array_at(32),
            data: data.to_vec(),
        })
    }

    fn emit(&self) -> Result<Bhs, PduError> {
        let mut bhs = header_for::<Self>(&self.data)?;
        bhs.set_immediate(self.immediate);
        let mut f = self.attr & ATTR_MASK;
        set_bit(&mut f, F_BIT, self.final_);
        set_bit(&mut f, R_BIT, self.read);
        set_bit(&mut f, W_BIT, self.write);
        bhs.set_flags(f);
        bhs.set_lun(self.lun);
        bhs.set_itt(self.itt);
        bhs.set_u32_at(20, self.edtl);
        bhs.set_initiator_sns(self.cmd_sn, self.exp_stat_sn);
        bhs.set_array_at(32, &self.cdb);
        Ok(bhs)
    }

    fn data(&self) -> &[u8] {
        &self.data
    }
}
