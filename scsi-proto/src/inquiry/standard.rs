use super::{AsciiField, Peripheral, RESPONSE_DATA_FORMAT, VERSION_SPC5};
use crate::bits::{Layout, Spec, named};
use crate::error::{check_len, check_out, invalid};
use crate::{FieldPointer, Location, Result, Wire};

/// Without the optional fields.
const SHORT_LEN: usize = 36;
/// Through the version descriptors and reserved bytes 74..96, as LIO emits it.
const FULL_LEN: usize = 96;
const ADDITIONAL_LENGTH: Spec = Spec::new("ADDITIONAL LENGTH", 4, 0, 8);
const MAX_DESCRIPTORS: usize = 8;
/// RESPONSE DATA FORMAT, which must be [`RESPONSE_DATA_FORMAT`].
const FORMAT: Spec = named(Flags::FIELDS, "RESPONSE DATA FORMAT");

/// The `i`th VERSION DESCRIPTOR field.
const fn version_descriptor(i: usize) -> Spec {
    Spec::new("VERSION DESCRIPTOR", 58 + 2 * i as u16, 0, 16)
}

/// An identification field: its name and first byte.
type Ident = (&'static str, u16);
const VENDOR: Ident = ("T10 VENDOR IDENTIFICATION", 8);
const PRODUCT: Ident = ("PRODUCT IDENTIFICATION", 16);
const REVISION: Ident = ("PRODUCT REVISION LEVEL", 32);

/// `field`, or the error naming the identification field `at`.
fn ascii<const N: usize>(field: Option<AsciiField<N>>, at: Ident) -> Result<AsciiField<N>> {
    field.ok_or(invalid(Flags::WHAT, at.0, FieldPointer::data(at.1, None)))
}

/// The identification field `at` in `raw`.
fn read_ascii<const N: usize>(raw: &[u8], at: Ident) -> Result<AsciiField<N>> {
    ascii(raw[usize::from(at.1)..].first_chunk().copied().and_then(AsciiField::from_bytes), at)
}

crate::bits::layout! {
    /// Standard INQUIRY data (SPC-5 6.7.2, Table 148), emitted as 36 bytes, or as 96 (like LIO)
    /// with version descriptors or vendor specific data. Obsolete and vendor specific bits of bytes
    /// 6 and 7, and bytes past 96, are ignored by parse and emitted as zero.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StandardInquiry (Flags: "standard INQUIRY data", 8) {
        peripheral: Peripheral = "PERIPHERAL" (0, 0, 8),
        rmb: bool = "RMB" (1, 7, 1),
        lu_cong: bool = "LU_CONG" (1, 6, 1),
        hot_pluggable: u8 = "HOT PLUGGABLE" (1, 4, 2),
        /// [`VERSION_SPC4`](super::VERSION_SPC4), [`VERSION_SPC5`]...
        version: u8 = "VERSION" (2, 0, 8),
        normaca: bool = "NORMACA" (3, 5, 1),
        hisup: bool = "HISUP" (3, 4, 1),
        response_data_format: u8 = "RESPONSE DATA FORMAT" (3, 0, 4),
        sccs: bool = "SCCS" (5, 7, 1),
        acc: bool = "ACC" (5, 6, 1),
        /// `TPGS_*`.
        tpgs: u8 = "TPGS" (5, 4, 2),
        third_party_copy: bool = "3PC" (5, 3, 1),
        protect: bool = "PROTECT" (5, 0, 1),
        encserv: bool = "ENCSERV" (6, 6, 1),
        multip: bool = "MULTIP" (6, 4, 1),
        cmdque: bool = "CMDQUE" (7, 1, 1),
    } + {
        /// T10 VENDOR IDENTIFICATION (bytes 8..16).
        vendor_identification: AsciiField<8>,
        /// PRODUCT IDENTIFICATION (bytes 16..32).
        product_identification: AsciiField<16>,
        /// PRODUCT REVISION LEVEL (bytes 32..36).
        product_revision_level: AsciiField<4>,
        /// VENDOR SPECIFIC bytes 36..56; all zero means "absent".
        vendor_specific: [u8; 20],
        /// At most eight [`version_descriptor`](super::version_descriptor)s (bytes 58..74);
        /// parse drops trailing zero (unused) ones.
        version_descriptors: Vec<u16>,
    }
}

impl StandardInquiry {
    /// A connected disk claiming SPC-5 with CMDQUE set, identification fields space-padded, all
    /// else zero. Fails, naming the field, on text too long for its field or not printable ASCII.
    pub fn disk(vendor: &str, product: &str, revision: &str) -> Result<Self> {
        let flags = Flags {
            version: VERSION_SPC5,
            response_data_format: RESPONSE_DATA_FORMAT,
            cmdque: true,
            ..Flags::read(&[])
        };
        Ok(Self::from_fixed(
            flags,
            ascii(AsciiField::new(vendor), VENDOR)?,
            ascii(AsciiField::new(product), PRODUCT)?,
            ascii(AsciiField::new(revision), REVISION)?,
            [0; 20],
            Vec::new(),
        ))
    }
}

impl Wire for StandardInquiry {
    /// Parses at least 36 bytes; optional fields as far as both the buffer and ADDITIONAL
    /// LENGTH reach (the data may be truncated by ALLOCATION LENGTH).
    fn parse(buf: &[u8]) -> Result<Self> {
        check_len(Flags::WHAT, Location::Data, buf, SHORT_LEN)?;
        let end = buf.len().min(ADDITIONAL_LENGTH.get(buf) as usize + 5).clamp(SHORT_LEN, FULL_LEN);
        let mut raw = [0u8; FULL_LEN];
        raw[..end].copy_from_slice(&buf[..end]);
        let flags = Flags::read(&raw);
        if flags.response_data_format != RESPONSE_DATA_FORMAT {
            return Err(FORMAT.invalid(Flags::WHAT, Location::Data, 0));
        }
        // Only whole descriptors that were actually sent count; trailing zero ones are unused.
        let sent = (0..MAX_DESCRIPTORS).map(version_descriptor).take_while(|d| d.end() <= end);
        let mut version_descriptors: Vec<u16> = sent.map(|d| d.get(&raw) as u16).collect();
        while version_descriptors.last() == Some(&0) {
            version_descriptors.pop();
        }
        Ok(Self::from_fixed(
            flags,
            read_ascii(&raw, VENDOR)?,
            read_ascii(&raw, PRODUCT)?,
            read_ascii(&raw, REVISION)?,
            *raw[36..].first_chunk().unwrap_or(&[0; 20]),
            version_descriptors,
        ))
    }

    fn buffer_len(&self) -> usize {
        let optional = !self.version_descriptors.is_empty() || self.vendor_specific != [0; 20];
        if optional { FULL_LEN } else { SHORT_LEN }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        check_out(Flags::WHAT, buf, len)?;
        self.peripheral.check(Flags::WHAT)?;
        if self.response_data_format != RESPONSE_DATA_FORMAT {
            return Err(FORMAT.invalid(Flags::WHAT, Location::Data, 0));
        }
        if self.version_descriptors.len() > MAX_DESCRIPTORS {
            let past_last = version_descriptor(MAX_DESCRIPTORS);
            return Err(past_last.invalid(Flags::WHAT, Location::Data, 0));
        }
        let mut raw = [0u8; FULL_LEN];
        self.fixed().write(&mut raw)?;
        ADDITIONAL_LENGTH.put(&mut raw, (len - 5) as u64);
        raw[8..16].copy_from_slice(self.vendor_identification.as_bytes());
        raw[16..32].copy_from_slice(self.product_identification.as_bytes());
        raw[32..36].copy_from_slice(self.product_revision_level.as_bytes());
        raw[36..56].copy_from_slice(&self.vendor_specific);
        for (i, &d) in self.version_descriptors.iter().enumerate() {
            version_descriptor(i).put(&mut raw, d.into());
        }
        buf[..len].copy_from_slice(&raw[..len]);
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
