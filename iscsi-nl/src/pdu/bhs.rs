//! The Basic Header Segment (RFC 7143 11.2.1).

use super::{Opcode, PduError};

/// The 48-byte Basic Header Segment: raw bytes with typed accessors.
///
/// The fields every PDU shares have named accessors; the opcode-specific ones are read with
/// [`Bhs::u16_at`]/[`Bhs::u32_at`] at the offsets RFC 7143 gives (the typed PDUs do that), or
/// through [`Bhs::as_bytes`]. All multi-byte fields are big-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bhs {
    bytes: [u8; Bhs::LEN],
}

impl core::fmt::Debug for Bhs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Bhs")
            .field("opcode", &self.raw_opcode())
            .field("immediate", &self.immediate())
            .field("flags", &self.flags())
            .field("total_ahs_length", &self.total_ahs_length())
            .field("data_segment_length", &self.data_segment_length())
            .field("itt", &self.itt())
            .finish_non_exhaustive()
    }
}

impl Default for Bhs {
    fn default() -> Self {
        Bhs { bytes: [0; Bhs::LEN] }
    }
}

impl Bhs {
    /// The length of a BHS.
    pub const LEN: usize = 48;

    /// A zeroed header carrying `opcode`.
    pub fn new(opcode: Opcode) -> Self {
        let mut bhs = Bhs::default();
        bhs.bytes[0] = opcode as u8;
        bhs
    }

    /// Wraps 48 raw bytes.
    pub fn from_bytes(bytes: [u8; Bhs::LEN]) -> Self {
        Bhs { bytes }
    }

    /// Reads a header from the first 48 bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, PduError> {
        let bytes: [u8; Bhs::LEN] = buf
            .get(..Bhs::LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(PduError::Truncated { what: "BHS", need: Bhs::LEN, have: buf.len() })?;
        Ok(Bhs { bytes })
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; Bhs::LEN] {
        &self.bytes
    }

    /// The raw bytes, mutably.
    pub fn as_bytes_mut(&mut self) -> &mut [u8; Bhs::LEN] {
        &mut self.bytes
    }

    /// The six opcode bits, unchecked.
    pub fn raw_opcode(&self) -> u8 {
        self.bytes[0] & 0x3f
    }

    /// The opcode, or [`PduError::UnknownOpcode`].
    pub fn opcode(&self) -> Result<Opcode, PduError> {
        Opcode::try_from(self.raw_opcode())
    }

    /// Sets the opcode bits, keeping the I bit.
    pub fn set_opcode(&mut self, opcode: Opcode) {
        self.bytes[0] = (self.bytes[0] & 0x40) | opcode as u8;
    }

    /// The I bit: immediate delivery (initiator PDUs only).
    pub fn immediate(&self) -> bool {
        self.bytes[0] & 0x40 != 0
    }

    /// Sets the I bit.
    pub fn set_immediate(&mut self, on: bool) {
        set_bit(&mut self.bytes[0], 0x40, on);
    }

    /// Byte 1: the F bit and the opcode-specific flags.
    pub fn flags(&self) -> u8 {
        self.bytes[1]
    }

    /// Sets byte 1.
    pub fn set_flags(&mut self, flags: u8) {
        self.bytes[1] = flags;
    }

    /// The F (final) bit, bit 7 of byte 1. For Login PDUs this position is the T (transit) bit.
    pub fn final_bit(&self) -> bool {
        self.bytes[1] & 0x80 != 0
    }

    /// Sets the F bit.
    pub fn set_final_bit(&mut self, on: bool) {
        set_bit(&mut self.bytes[1], 0x80, on);
    }

    /// TotalAHSLength: the length of the additional header segments in 4-byte words.
    pub fn total_ahs_length(&self) -> u8 {
        self.bytes[4]
    }

    /// Sets TotalAHSLength (in 4-byte words).
    pub fn set_total_ahs_length(&mut self, words: u8) {
        self.bytes[4] = words;
    }

    /// The length of the additional header segments in bytes.
    pub fn ahs_len(&self) -> usize {
        usize::from(self.total_ahs_length()) * 4
    }

    /// DataSegmentLength: the payload length in bytes, without padding (24 bits).
    pub fn data_segment_length(&self) -> u32 {
        u32::from_be_bytes([0, self.bytes[5], self.bytes[6], self.bytes[7]])
    }

    /// Sets DataSegmentLength; fails if `len` does not fit in 24 bits.
    pub fn set_data_segment_length(&mut self, len: usize) -> Result<(), PduError> {
        let v = u32::try_from(len)
            .ok()
            .filter(|v| *v < 1 << 24)
            .ok_or(PduError::DataSegmentOverflow(len))?;
        self.bytes[5..8].copy_from_slice(&v.to_be_bytes()[1..]);
        Ok(())
    }

    /// Bytes 8..16 as a big-endian number: the LUN, for the PDUs that carry one.
    pub fn lun(&self) -> u64 {
        self.u64_at(8)
    }

    /// Sets bytes 8..16.
    pub fn set_lun(&mut self, lun: u64) {
        self.set_u64_at(8, lun);
    }

    /// The Initiator Task Tag, bytes 16..20.
    pub fn itt(&self) -> u32 {
        self.u32_at(16)
    }

    /// Sets the Initiator Task Tag.
    pub fn set_itt(&mut self, itt: u32) {
        self.set_u32_at(16, itt);
    }

    /// The Target Transfer Tag, bytes 20..24 (NOP and Text PDUs).
    pub(crate) fn ttt(&self) -> u32 {
        self.u32_at(20)
    }

    /// Sets the Target Transfer Tag.
    pub(crate) fn set_ttt(&mut self, ttt: u32) {
        self.set_u32_at(20, ttt);
    }

    /// CmdSN and ExpStatSN, bytes 24..32 of an initiator PDU.
    pub(crate) fn initiator_sns(&self) -> (u32, u32) {
        (self.u32_at(24), self.u32_at(28))
    }

    /// Sets CmdSN and ExpStatSN.
    pub(crate) fn set_initiator_sns(&mut self, cmd_sn: u32, exp_stat_sn: u32) {
        self.set_u32_at(24, cmd_sn);
        self.set_u32_at(28, exp_stat_sn);
    }

    /// StatSN, ExpCmdSN and MaxCmdSN, bytes 24..36 of a target PDU.
    pub(crate) fn target_sns(&self) -> (u32, u32, u32) {
        (self.u32_at(24), self.u32_at(28), self.u32_at(32))
    }

    /// Sets StatSN, ExpCmdSN and MaxCmdSN.
    pub(crate) fn set_target_sns(&mut self, stat_sn: u32, exp_cmd_sn: u32, max_cmd_sn: u32) {
        self.set_u32_at(24, stat_sn);
        self.set_u32_at(28, exp_cmd_sn);
        self.set_u32_at(32, max_cmd_sn);
    }

    /// The byte at `offset`. Offsets are `% 48`: they are constants of the PDU layouts, never
    /// derived from input, and an out-of-range one wraps rather than panics.
    pub fn u8_at(&self, offset: usize) -> u8 {
        self.bytes[offset % Bhs::LEN]
    }

    /// Sets the byte at `offset` (`% 48`).
    pub fn set_u8_at(&mut self, offset: usize, v: u8) {
        self.bytes[offset % Bhs::LEN] = v;
    }

    /// The big-endian 16-bit field at `offset` (clamped so the field lies within the header).
    pub fn u16_at(&self, offset: usize) -> u16 {
        let o = offset.min(Bhs::LEN - 2);
        u16::from_be_bytes([self.bytes[o], self.bytes[o + 1]])
    }

    /// Sets the big-endian 16-bit field at `offset` (clamped like [`Bhs::u16_at`]).
    pub fn set_u16_at(&mut self, offset: usize, v: u16) {
        let o = offset.min(Bhs::LEN - 2);
        self.bytes[o..o + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// The big-endian 32-bit field at `offset` (clamped so the field lies within the header).
    pub fn u32_at(&self, offset: usize) -> u32 {
        let o = offset.min(Bhs::LEN - 4);
        let mut b = [0; 4];
        b.copy_from_slice(&self.bytes[o..o + 4]);
        u32::from_be_bytes(b)
    }

    /// Sets the big-endian 32-bit field at `offset` (clamped like [`Bhs::u32_at`]).
    pub fn set_u32_at(&mut self, offset: usize, v: u32) {
        let o = offset.min(Bhs::LEN - 4);
        self.bytes[o..o + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// The big-endian 64-bit field at `offset` (clamped so the field lies within the header).
    pub fn u64_at(&self, offset: usize) -> u64 {
        let o = offset.min(Bhs::LEN - 8);
        let mut b = [0; 8];
        b.copy_from_slice(&self.bytes[o..o + 8]);
        u64::from_be_bytes(b)
    }

    /// Sets the big-endian 64-bit field at `offset` (clamped like [`Bhs::u64_at`]).
    pub fn set_u64_at(&mut self, offset: usize, v: u64) {
        let o = offset.min(Bhs::LEN - 8);
        self.bytes[o..o + 8].copy_from_slice(&v.to_be_bytes());
    }

    /// `N` raw bytes at `offset` (clamped so they lie within the header; `N` must be <= 48).
    pub fn array_at<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0; N];
        let o = offset.min(Bhs::LEN.saturating_sub(N));
        let src = self.bytes.get(o..o + N).unwrap_or(&[]);
        out[..src.len()].copy_from_slice(src);
        out
    }

    /// Writes `N` raw bytes at `offset` (clamped like [`Bhs::array_at`]).
    pub fn set_array_at<const N: usize>(&mut self, offset: usize, v: &[u8; N]) {
        let o = offset.min(Bhs::LEN.saturating_sub(N));
        if let Some(dst) = self.bytes.get_mut(o..o + N) {
            dst.copy_from_slice(v);
        }
    }

    /// Checks the opcode is `expected`.
    pub(crate) fn expect(&self, expected: Opcode) -> Result<(), PduError> {
        let found = self.opcode()?;
        if found == expected { Ok(()) } else { Err(PduError::UnexpectedOpcode { expected, found }) }
    }
}

/// Sets or clears `mask` in `byte`.
pub(crate) fn set_bit(byte: &mut u8, mask: u8, on: bool) {
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

const FINAL_BIT: u8 = 0x80;
const CONTINUE_BIT: u8 = 0x40;

/// Reads the F bit (T in login PDUs) and the C bit of byte 1 of a Text or Login PDU; both set
/// is a protocol error (RFC 7143 11.10.2, 11.12.2), reported as `field`.
pub(crate) fn final_and_continue(flags: u8, field: &'static str) -> Result<(bool, bool), PduError> {
    let (fin, cont) = (flags & FINAL_BIT != 0, flags & CONTINUE_BIT != 0);
    if fin && cont {
        return Err(PduError::InvalidField { field, value: flags.into() });
    }
    Ok((fin, cont))
}

/// Byte 1 of a Text or Login PDU with F (or T) and C as given and the other bits clear.
pub(crate) fn final_and_continue_bits(fin: bool, cont: bool) -> u8 {
    let mut b = 0;
    set_bit(&mut b, FINAL_BIT, fin);
    set_bit(&mut b, CONTINUE_BIT, cont);
    b
}
