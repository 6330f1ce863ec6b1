use crate::Result;
use crate::bits::Layout;
use crate::inquiry::{Page, Peripheral};

/// Supported VPD Pages VPD page, 00h (SPC-5 7.7.16): the page codes the device returns, in
/// ascending order (not enforced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedVpdPages {
    /// Byte 0.
    pub peripheral: Peripheral,
    /// The SUPPORTED VPD PAGE LIST.
    pub pages: Vec<u8>,
}

impl Page for SupportedVpdPages {
    const NAME: &'static str = "Supported VPD Pages VPD page";

    fn body_len(&self) -> usize {
        self.pages.len()
    }

    fn read_page(page: &[u8]) -> Result<Self> {
        Ok(SupportedVpdPages { peripheral: Peripheral::read(page), pages: page[4..].to_vec() })
    }

    fn write_page(&self, page: &mut [u8]) -> Result<()> {
        page[4..].copy_from_slice(&self.pages);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
