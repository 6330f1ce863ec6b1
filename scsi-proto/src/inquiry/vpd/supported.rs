//! Supported VPD Pages VPD page, 00h (SPC-5 7.7.16).

use crate::inquiry::{Peripheral, emit_bytes, parse_page};
use crate::{Result, Wire};

/// Supported VPD Pages VPD page, 00h (SPC-5 7.7.16): the page codes the device returns, in
/// ascending order (not enforced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedVpdPages {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// The SUPPORTED VPD PAGE LIST.
    pub pages: Vec<u8>,
}

impl SupportedVpdPages {
    /// The page code.
    pub const PAGE_CODE: u8 = 0x00;
    const WHAT: &'static str = "Supported VPD Pages VPD page";
}

impl Wire for SupportedVpdPages {
    fn parse(buf: &[u8]) -> Result<Self> {
        let (peripheral, body) = parse_page(Self::WHAT, Self::PAGE_CODE, buf)?;
        let pages = body.to_vec();
        Ok(SupportedVpdPages { peripheral, pages })
    }

    fn buffer_len(&self) -> usize {
        self.pages.len().saturating_add(4)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        emit_bytes(
            Self::WHAT,
            Self::PAGE_CODE,
            self.peripheral,
            &self.pages,
            buf,
        )
    }
}

#[cfg(test)]
mod tests;
