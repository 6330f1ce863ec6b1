//! PERSISTENT RESERVE IN parameter data: READ KEYS and READ RESERVATION (SPC-5 6.16).

use super::{encode, list_header, list_items, stream};
use crate::bits::{Layout, Spec};
use crate::error::{check_len, check_out, zeroed_out};
use crate::{Location, Result, Wire};

const PRIN: &str = "PERSISTENT RESERVE IN data";

const PRGENERATION: Spec = Spec::new("PRGENERATION", 0, 0, 32);
const ADDITIONAL_LENGTH: Spec = Spec::new("ADDITIONAL LENGTH", 4, 0, 32);
const KEY: Spec = Spec::new("RESERVATION KEY", 0, 0, 64);

/// READ KEYS parameter data (SPC-5 6.16.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadKeys {
    /// PRGENERATION.
    pub generation: u32,
    /// One key per registered I_T nexus.
    pub keys: Vec<u64>,
}

impl Wire for ReadKeys {
    fn parse(buf: &[u8]) -> Result<Self> {
        let items = list_items(PRIN, buf, &ADDITIONAL_LENGTH, 0, 8)?;
        Ok(ReadKeys {
            generation: PRGENERATION.get(buf) as u32,
            keys: items.map(|k| KEY.get(k)).collect(),
        })
    }

    fn buffer_len(&self) -> usize {
        8 + 8 * self.keys.len()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        check_out(PRIN, buf, total)?;
        let mut header = list_header(PRIN, &ADDITIONAL_LENGTH, 0, total - 8)?;
        PRGENERATION.put(&mut header, self.generation.into());
        let keys = self.keys.iter().map(|k| Ok(k.to_be_bytes()));
        stream(&header, keys, total, buf)
    }
}

crate::bits::layout! {
    /// The persistent reservation a READ RESERVATION reports.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Reservation: "PERSISTENT RESERVE IN data", 16 {
        key: u64 = "RESERVATION KEY" (0, 0, 64),
        scope: u8 = "SCOPE" (13, 4, 4),
        pr_type: u8 = "TYPE" (13, 0, 4),
    }
}

/// READ RESERVATION parameter data (SPC-5 6.16.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadReservation {
    /// PRGENERATION.
    pub generation: u32,
    /// The reservation, if one is held.
    pub reservation: Option<Reservation>,
}

impl Wire for ReadReservation {
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(PRIN, Location::Data, buf, 8)?;
        let reservation = match ADDITIONAL_LENGTH.get(buf) {
            0 => None,
            0x10 => {
                check_len(PRIN, Location::Data, buf, 24)?;
                Some(Reservation::read(&buf[8..]))
            }
            _ => return Err(ADDITIONAL_LENGTH.invalid(PRIN, Location::Data, 0)),
        };
        Ok(ReadReservation { generation: PRGENERATION.get(buf) as u32, reservation })
    }

    fn buffer_len(&self) -> usize {
        if self.reservation.is_some() { 24 } else { 8 }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        let out = zeroed_out(PRIN, buf, total)?;
        PRGENERATION.put(out, self.generation.into());
        ADDITIONAL_LENGTH.put(out, (total - 8) as u64);
        if let Some(r) = &self.reservation {
            out[8..].copy_from_slice(&encode::<_, 16>(r, 8)?);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests;
