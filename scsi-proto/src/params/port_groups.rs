//! REPORT TARGET PORT GROUPS parameter data (SPC-5 6.37): the target port groups of a logical
//! unit with asymmetric access (ALUA), each with its access state and its ports.

use crate::error::{check_len, check_out, invalid};
use crate::{FieldPointer, Location, Result, Wire};

const RTPG: &str = "REPORT TARGET PORT GROUPS data";

/// The field pointer of byte `at` of the data (saturated: a pointer has 16 bits).
fn at_byte(at: usize, bit: Option<u8>) -> FieldPointer {
    FieldPointer::data(u16::try_from(at).unwrap_or(u16::MAX), bit)
}

/// An asymmetric access state (SPC-5 6.37.2, ASYMMETRIC ACCESS STATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessState {
    /// 0h: active/optimized.
    ActiveOptimized,
    /// 1h: active/non-optimized: commands are processed, perhaps more slowly.
    ActiveNonOptimized,
    /// 2h: standby: only a few commands (INQUIRY, REPORT TARGET PORT GROUPS...) are processed.
    Standby,
    /// 3h: unavailable.
    Unavailable,
    /// 4h: logical block dependent.
    LbaDependent,
    /// Eh: offline.
    Offline,
    /// Fh: transitioning between two states.
    Transitioning,
}

impl AccessState {
    /// The 4-bit code.
    pub const fn code(self) -> u8 {
        match self {
            Self::ActiveOptimized => 0x0,
            Self::ActiveNonOptimized => 0x1,
            Self::Standby => 0x2,
            Self::Unavailable => 0x3,
            Self::LbaDependent => 0x4,
            Self::Offline => 0xE,
            Self::Transitioning => 0xF,
        }
    }

    /// The state of a 4-bit code; `None` for a reserved one.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x0 => Self::ActiveOptimized,
            0x1 => Self::ActiveNonOptimized,
            0x2 => Self::Standby,
            0x3 => Self::Unavailable,
            0x4 => Self::LbaDependent,
            0xE => Self::Offline,
            0xF => Self::Transitioning,
            _ => return None,
        })
    }
}

/// One target port group descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPortGroup {
    /// PREF: the group is preferred for the logical unit.
    pub pref: bool,
    /// ASYMMETRIC ACCESS STATE.
    pub state: AccessState,
    /// The supported states, byte 1 as is: T_SUP (bit 7), O_SUP (6), LBD_SUP (4), U_SUP (3),
    /// S_SUP (2), AN_SUP (1), AO_SUP (0); see the `SUP_*` constants.
    pub supported: u8,
    /// TARGET PORT GROUP.
    pub group: u16,
    /// STATUS CODE (0: no status available; 1: changed by SET TARGET PORT GROUPS; 2: changed
    /// by an implicit transition).
    pub status_code: u8,
    /// The relative target port identifiers of the group's ports (at most 255).
    pub ports: Vec<u16>,
}

impl TargetPortGroup {
    /// T_SUP: transitioning supported.
    pub const SUP_TRANSITIONING: u8 = 0x80;
    /// O_SUP: offline supported.
    pub const SUP_OFFLINE: u8 = 0x40;
    /// LBD_SUP: logical block dependent supported.
    pub const SUP_LBA_DEPENDENT: u8 = 0x10;
    /// U_SUP: unavailable supported.
    pub const SUP_UNAVAILABLE: u8 = 0x08;
    /// S_SUP: standby supported.
    pub const SUP_STANDBY: u8 = 0x04;
    /// AN_SUP: active/non-optimized supported.
    pub const SUP_ACTIVE_NON_OPTIMIZED: u8 = 0x02;
    /// AO_SUP: active/optimized supported.
    pub const SUP_ACTIVE_OPTIMIZED: u8 = 0x01;
    /// STATUS CODE 2h: the state was changed by an implicit transition.
    pub const STATUS_IMPLICIT_TRANSITION: u8 = 0x02;

    fn len(&self) -> usize {
        8 + 4 * self.ports.len()
    }
}

/// REPORT TARGET PORT GROUPS parameter data, in the length-only format (PARAMETER DATA FORMAT
/// 000b: a 4-byte header) or the extended one (001b: an 8-byte header with the implicit
/// transition time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPortGroups {
    /// Whether the extended header is used (PARAMETER DATA FORMAT 001b).
    pub extended: bool,
    /// IMPLICIT TRANSITION TIME in seconds (extended header only; 0: unspecified).
    pub implicit_transition_time: u8,
    /// The groups.
    pub groups: Vec<TargetPortGroup>,
}

impl TargetPortGroups {
    /// PARAMETER DATA FORMAT of the CDB for the length-only header.
    pub const FORMAT_LENGTH_ONLY: u8 = 0b000;
    /// PARAMETER DATA FORMAT of the CDB for the extended header.
    pub const FORMAT_EXTENDED: u8 = 0b001;

    fn header_len(&self) -> usize {
        if self.extended { 8 } else { 4 }
    }
}

impl Wire for TargetPortGroups {
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(RTPG, Location::Data, buf, 4)?;
        let returned = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let total = usize::try_from(returned).unwrap_or(usize::MAX).saturating_add(4);
        check_len(RTPG, Location::Data, buf, total)?;
        let buf = &buf[..total];
        // The extended header says so in FORMAT TYPE; the length-only one has none (its byte 4
        // is the first descriptor's, whose bits 6-4 are reserved: Linux tells them apart so).
        let extended = buf.len() >= 8 && (buf[4] >> 4) & 0x7 == Self::FORMAT_EXTENDED;
        let (mut at, implicit_transition_time) = if extended { (8, buf[5]) } else { (4, 0) };
        let mut groups = Vec::new();
        while at < buf.len() {
            check_len(RTPG, Location::Data, buf, at + 8)?;
            let d = &buf[at..];
            let state = AccessState::from_code(d[0] & 0x0F)
                .ok_or_else(|| invalid(RTPG, "ASYMMETRIC ACCESS STATE", at_byte(at, Some(3))))?;
            let count = usize::from(d[7]);
            check_len(RTPG, Location::Data, buf, at + 8 + 4 * count)?;
            let ports = d[8..8 + 4 * count]
                .chunks_exact(4)
                .map(|p| u16::from_be_bytes([p[2], p[3]]))
                .collect();
            groups.push(TargetPortGroup {
                pref: d[0] & 0x80 != 0,
                state,
                supported: d[1],
                group: u16::from_be_bytes([d[2], d[3]]),
                status_code: d[5],
                ports,
            });
            at += 8 + 4 * count;
        }
        Ok(TargetPortGroups { extended, implicit_transition_time, groups })
    }

    fn buffer_len(&self) -> usize {
        self.header_len() + self.groups.iter().map(TargetPortGroup::len).sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        check_out(RTPG, buf, len)?;
        let returned = u32::try_from(len - 4)
            .map_err(|_| invalid(RTPG, "RETURN DATA LENGTH", FieldPointer::data(0, None)))?;
        buf[..len].fill(0);
        buf[..4].copy_from_slice(&returned.to_be_bytes());
        if self.extended {
            buf[4] = Self::FORMAT_EXTENDED << 4;
            buf[5] = self.implicit_transition_time;
        }
        let mut at = self.header_len();
        for g in &self.groups {
            let count = u8::try_from(g.ports.len())
                .map_err(|_| invalid(RTPG, "TARGET PORT COUNT", at_byte(at + 7, None)))?;
            let d = &mut buf[at..at + g.len()];
            d[0] = u8::from(g.pref) << 7 | g.state.code();
            d[1] = g.supported;
            d[2..4].copy_from_slice(&g.group.to_be_bytes());
            d[5] = g.status_code;
            d[7] = count;
            for (i, p) in g.ports.iter().enumerate() {
                d[8 + 4 * i + 2..8 + 4 * i + 4].copy_from_slice(&p.to_be_bytes());
            }
            at += g.len();
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
