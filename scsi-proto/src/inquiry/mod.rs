//! Standard INQUIRY data ([`StandardInquiry`], `standard.rs`) and the VPD pages of a disk
//! (SPC-5 7.7, SBC-4 6.6; one file each in `vpd/`, any page by code as [`VpdPage`]).
//!
//! `parse` checks a page's code and that the buffer holds PAGE LENGTH bytes. The pages of fixed
//! length 3Ch (86h, B0h, B1h) are parsed leniently: missing bytes read as zero (LIO sends a
//! short Block Limits page without thin provisioning), extra bytes are ignored, and emit
//! writes PAGE LENGTH 3Ch. Errors point into the data ([`Location::Data`]), for logs and tests.

use crate::bits::{Layout, Spec, Value, layout};
use crate::error::{check_out, within, zeroed_out};
use crate::{Location, Result, Wire};

/// Public constants, one documented line each.
macro_rules! consts {
    ($ty:ty; $($name:ident = $value:literal, $doc:literal;)*) => {
        $(#[doc = $doc] pub const $name: $ty = $value;)*
    };
}

consts! { u8;
    DEVICE_TYPE_DISK = 0x00, "PERIPHERAL DEVICE TYPE of a direct access block device.";
    DEVICE_TYPE_UNKNOWN = 0x1F, "PERIPHERAL DEVICE TYPE unknown; with qualifier 3h: no such LUN.";
    QUALIFIER_CONNECTED = 0b000, "PERIPHERAL QUALIFIER: a device is connected.";
    QUALIFIER_NOT_CONNECTED = 0b001, "PERIPHERAL QUALIFIER: supported but not connected now.";
    QUALIFIER_NOT_SUPPORTED = 0b011, "PERIPHERAL QUALIFIER: no device possible on this LUN.";
    VERSION_SPC3 = 0x05, "VERSION: SPC-3 (LIO before Linux 4.x).";
    VERSION_SPC4 = 0x06, "VERSION: SPC-4 (LIO today).";
    VERSION_SPC5 = 0x07, "VERSION: SPC-5.";
    RESPONSE_DATA_FORMAT = 2, "The only RESPONSE DATA FORMAT SPC-5 defines.";
    TPGS_NOT_SUPPORTED = 0b00, "TPGS: no asymmetric logical unit access.";
    TPGS_IMPLICIT = 0b01, "TPGS: implicit ALUA only.";
    TPGS_EXPLICIT = 0b10, "TPGS: explicit ALUA only.";
    TPGS_BOTH = 0b11, "TPGS: implicit and explicit ALUA (LIO's default port group).";
}

/// VERSION DESCRIPTOR values, "no version claimed" (checked against Linux and sg3_utils).
pub mod version_descriptor {
    consts! { u16;
        SAM5 = 0x00A0, "SAM-5.";
        SPC4 = 0x0460, "SPC-4.";
        SPC5 = 0x05C0, "SPC-5.";
        SBC3 = 0x04C0, "SBC-3.";
        SBC4 = 0x0600, "SBC-4.";
        ISCSI = 0x0960, "iSCSI (LIO's iSCSI fabric).";
        FCP4 = 0x0A40, "FCP-4 (LIO's Fibre Channel fabrics).";
        SAS3 = 0x0C60, "SAS-3 (LIO's SAS fabrics).";
        SRP = 0x0940, "SRP (LIO's SRP fabric).";
        SBP3 = 0x0980, "SBP-3 (LIO's FireWire fabric).";
    }
}

/// PROTOCOL IDENTIFIER values (SPC-5 Table 488) of LIO's fabrics, for designators with PIV set.
pub mod protocol_identifier {
    consts! { u8;
        FCP = 0x0, "Fibre Channel.";
        SBP = 0x3, "IEEE 1394.";
        SRP = 0x4, "SCSI RDMA Protocol.";
        ISCSI = 0x5, "iSCSI.";
        SAS = 0x6, "SAS Serial SCSI Protocol.";
    }
}

/// A VPD page's name and its bytes; `vpd_pages!` makes it [`Wire`].
trait Page: Sized {
    /// What errors name.
    const NAME: &'static str;
    /// PAGE LENGTH.
    fn body_len(&self) -> usize;
    /// The page from all its bytes; the header is checked.
    fn read_page(page: &[u8]) -> Result<Self>;
    /// Writes the page into `page`, whose header is written and body zeroed.
    fn write_page(&self, page: &mut [u8]) -> Result<()>;
}

/// A page declared whole with `layout!`, header included: parsed leniently, emitted whole.
impl<T: Layout> Page for T {
    const NAME: &'static str = T::WHAT;

    fn body_len(&self) -> usize {
        T::LEN - VpdHeader::LEN
    }

    fn read_page(page: &[u8]) -> Result<Self> {
        Ok(T::read(page))
    }

    fn write_page(&self, page: &mut [u8]) -> Result<()> {
        self.write(page)
    }
}

mod standard;
mod vpd;

pub use standard::StandardInquiry;
pub use vpd::{block_limits::*, characteristics::*, designator::*, device_id::*, extended::*};
pub use vpd::{provisioning::*, serial::*, supported::*};

layout! {
    /// Byte 0 of standard INQUIRY data and of every VPD page (SPC-5 6.7.2). The default is
    /// [`Peripheral::DISK`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Peripheral: "peripheral", 1 {
        /// `QUALIFIER_*`.
        qualifier: u8 = "PERIPHERAL QUALIFIER" (0, 5, 3),
        /// [`DEVICE_TYPE_DISK`]...
        device_type: u8 = "PERIPHERAL DEVICE TYPE" (0, 0, 5),
    }
}

impl Peripheral {
    /// A connected direct access block device: qualifier 000b, device type 00h.
    pub const DISK: Self = Self { qualifier: QUALIFIER_CONNECTED, device_type: DEVICE_TYPE_DISK };

    /// What a device server reports for a LUN it does not have: qualifier 011b, type 1Fh.
    pub const NO_LUN: Self =
        Self { qualifier: QUALIFIER_NOT_SUPPORTED, device_type: DEVICE_TYPE_UNKNOWN };

    /// Checks that both fields fit their bits, naming the field and the structure `what`.
    fn check(self, what: &'static str) -> Result<()> {
        self.write(&mut [0]).map_err(|e| within(e, what, 0))
    }
}

impl Value for Peripheral {
    fn from_bits(v: u64) -> Self {
        Peripheral::read(&v.to_be_bytes()[7..])
    }

    /// A value whose fields do not fit yields one too large for any byte.
    fn to_bits(self) -> u64 {
        let mut byte = [0];
        self.write(&mut byte).map_or(u64::MAX, |()| u64::from(byte[0]))
    }
}

/// SPC-5 4.3.1: printable ASCII (20h..=7Eh), optionally followed by NULs only.
fn is_ascii_data(bytes: &[u8]) -> bool {
    bytes.iter().skip_while(|c| (0x20..=0x7E).contains(*c)).all(|&c| c == 0)
}

/// A fixed-width, left-aligned ASCII data field (SPC-5 4.3.1) such as T10 VENDOR
/// IDENTIFICATION: printable ASCII padded with spaces or NULs, checked when built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AsciiField<const N: usize>([u8; N]);

impl<const N: usize> AsciiField<N> {
    /// `text` padded with spaces; `None` if longer than `N` bytes or not printable ASCII.
    pub fn new(text: &str) -> Option<Self> {
        let mut field = [b' '; N];
        field.get_mut(..text.len())?.copy_from_slice(text.as_bytes());
        Self::from_bytes(field).filter(|_| !text.contains('\0'))
    }

    /// The field's wire bytes, if printable ASCII optionally followed by NULs.
    pub fn from_bytes(bytes: [u8; N]) -> Option<Self> {
        is_ascii_data(&bytes).then_some(AsciiField(bytes))
    }

    /// The bytes as they go on the wire, padding included.
    pub const fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// The text without its trailing padding (spaces or NULs).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("").trim_end_matches(['\0', ' '])
    }
}

layout! {
    /// The 4-byte header of every VPD page (SPC-5 7.7.1, Table 562).
    struct VpdHeader: "VPD page", 4 {
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        page_code: u8 = "PAGE CODE" (1, 0, 8),
        page_length: u16 = "PAGE LENGTH" (2, 0, 16),
    }
}

/// The header's PAGE CODE and PAGE LENGTH, for errors.
const PAGE_CODE: &Spec = &VpdHeader::FIELDS[1];
const PAGE_LENGTH: &Spec = &VpdHeader::FIELDS[2];

/// Writes the header of a page with `body_len` zeroed bytes after it; returns the page.
fn emit_page<'a>(
    what: &'static str,
    page_code: u8,
    peripheral: Peripheral,
    body_len: usize,
    buf: &'a mut [u8],
) -> Result<&'a mut [u8]> {
    let page = zeroed_out(what, buf, body_len.saturating_add(VpdHeader::LEN))?;
    peripheral.check(what)?;
    let page_length =
        u16::try_from(body_len).map_err(|_| PAGE_LENGTH.invalid(what, Location::Data, 0))?;
    VpdHeader { peripheral, page_code, page_length }.write(page)?;
    Ok(page)
}

/// Makes each [`Page`] [`Wire`] with its page code; declares [`VpdPage`], a variant per page.
macro_rules! vpd_pages {
    ($($page:ident = $code:literal,)*) => {
        $(
            impl Wire for $page {
                fn parse(buf: &[u8]) -> Result<Self> {
                    let page = PAGE_LENGTH.counted(Self::NAME, buf, VpdHeader::LEN)?;
                    if VpdHeader::read(page).page_code != $code {
                        return Err(PAGE_CODE.invalid(Self::NAME, Location::Data, 0));
                    }
                    Self::read_page(page)
                }

                fn buffer_len(&self) -> usize {
                    self.body_len().saturating_add(VpdHeader::LEN)
                }

                fn emit(&self, buf: &mut [u8]) -> Result<usize> {
                    let page = emit_page(Self::NAME, $code, self.peripheral, self.body_len(), buf)?;
                    self.write_page(page)?;
                    Ok(page.len())
                }
            }
        )*

        /// Any VPD page, decoded by page code. Pages B0h..B2h are decoded as the SBC-4 pages
        /// whatever the peripheral device type (this crate serves disks).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum VpdPage {
            $(#[doc = concat!("[`", stringify!($page), "`].")] $page($page),)*
            /// Any other page, kept as its body. Its page code must not be one decoded above.
            Unknown {
                /// Byte 0.
                peripheral: Peripheral,
                /// PAGE CODE.
                page_code: u8,
                /// The PAGE LENGTH bytes after the header.
                data: Vec<u8>,
            },
        }

        /// Page codes [`VpdPage`] decodes into their own variants.
        const KNOWN_PAGE_CODES: &[u8] = &[$($code),*];

        impl VpdPage {
            /// The PAGE CODE.
            pub fn page_code(&self) -> u8 {
                match self {
                    $(VpdPage::$page(_) => $code,)*
                    VpdPage::Unknown { page_code, .. } => *page_code,
                }
            }
        }

        impl Wire for VpdPage {
            fn parse(buf: &[u8]) -> Result<Self> {
                let page = PAGE_LENGTH.counted(VpdHeader::WHAT, buf, VpdHeader::LEN)?;
                let header = VpdHeader::read(page);
                Ok(match header.page_code {
                    $($code => VpdPage::$page($page::parse(buf)?),)*
                    page_code => VpdPage::Unknown {
                        peripheral: header.peripheral,
                        page_code,
                        data: page[VpdHeader::LEN..].to_vec(),
                    },
                })
            }

            fn buffer_len(&self) -> usize {
                match self {
                    $(VpdPage::$page(p) => p.buffer_len(),)*
                    VpdPage::Unknown { data, .. } => VpdHeader::LEN.saturating_add(data.len()),
                }
            }

            fn emit(&self, buf: &mut [u8]) -> Result<usize> {
                match self {
                    $(VpdPage::$page(p) => p.emit(buf),)*
                    VpdPage::Unknown { peripheral: p, page_code, data } => {
                        check_out(VpdHeader::WHAT, buf, self.buffer_len())?;
                        if KNOWN_PAGE_CODES.contains(page_code) {
                            return Err(PAGE_CODE.invalid(VpdHeader::WHAT, Location::Data, 0));
                        }
                        let page = emit_page(VpdHeader::WHAT, *page_code, *p, data.len(), buf)?;
                        page[VpdHeader::LEN..].copy_from_slice(data);
                        Ok(page.len())
                    }
                }
            }
        }
    };
}

vpd_pages! {
    SupportedVpdPages = 0x00,
    UnitSerialNumber = 0x80,
    DeviceIdentification = 0x83,
    ExtendedInquiryData = 0x86,
    BlockLimits = 0xB0,
    BlockDeviceCharacteristics = 0xB1,
    LogicalBlockProvisioning = 0xB2,
}

#[cfg(test)]
mod tests;
