//! PDUs on the byte stream (RFC 7143 11.1): BHS, AHS, header digest, data segment padded to
//! a multiple of 4 bytes, data digest.

use super::{Bhs, Pdu, PduError};

/// One digest setting (RFC 7143 13.1, the HeaderDigest and DataDigest keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Digest {
    /// No digest.
    #[default]
    None,
    /// CRC32C (Castagnoli), 4 bytes.
    Crc32c,
}

impl Digest {
    /// The bytes the digest takes on the wire.
    pub fn len(self) -> usize {
        match self {
            Digest::None => 0,
            Digest::Crc32c => 4,
        }
    }

    /// Whether the digest takes no bytes.
    pub fn is_empty(self) -> bool {
        self == Digest::None
    }
}

/// The digests in use on a connection. Login PDUs are always sent without digests: the
/// negotiated ones start with the Full Feature Phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Digests {
    /// Covers the BHS and AHS.
    pub header: Digest,
    /// Covers the data segment and its padding; absent when the data segment is empty.
    pub data: Digest,
}

impl Digests {
    /// No digests: the setting during login.
    pub const NONE: Digests = Digests { header: Digest::None, data: Digest::None };

    /// CRC32C on both header and data.
    pub const CRC32C: Digests = Digests { header: Digest::Crc32c, data: Digest::Crc32c };
}

/// The iSCSI CRC32C of `bytes` (RFC 7143 13.1: generator 0x11EDC6F41, register initialised
/// to all ones, result complemented). On the wire it is sent least significant byte first:
/// 32 zero bytes give 0x8A9136AA, sent as `aa 36 91 8a`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Padding that brings `len` to a multiple of 4.
fn pad(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Writes header, AHS, digests and padded data. The header's length fields must already
/// describe `ahs` and `data`.
pub(super) fn encode_parts(bhs: &Bhs, ahs: &[u8], data: &[u8], digests: Digests) -> Vec<u8> {
    let data_part =
        if data.is_empty() { 0 } else { data.len() + pad(data.len()) + digests.data.len() };
    let mut out = Vec::with_capacity(Bhs::LEN + ahs.len() + digests.header.len() + data_part);
    out.extend_from_slice(bhs.as_bytes());
    out.extend_from_slice(ahs);
    if digests.header == Digest::Crc32c {
        let crc = crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    if !data.is_empty() {
        let start = out.len();
        out.extend_from_slice(data);
        out.resize(out.len() + pad(data.len()), 0);
        if digests.data == Digest::Crc32c {
            let crc = crc32c(out.get(start..).unwrap_or(&[]));
            out.extend_from_slice(&crc.to_le_bytes());
        }
    }
    out
}

/// Reads a little-endian digest at `at`; the caller has checked the length.
fn digest_at(buf: &[u8], at: usize) -> Result<u32, PduError> {
    buf.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(PduError::Truncated { what: "digest", need: at + 4, have: buf.len() })
}

/// Cuts one PDU from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold the whole PDU (read more and call again),
/// and `Ok(Some((pdu, consumed)))` otherwise. `max_data_segment` is our
/// MaxRecvDataSegmentLength: a header announcing more is an error as soon as the header (and
/// its digest) is in, before any of the data is waited for. Digest mismatches are errors; so
/// are unknown opcodes and invalid fields of the typed PDUs.
pub fn decode(
    buf: &[u8],
    digests: Digests,
    max_data_segment: u32,
) -> Result<Option<(Pdu, usize)>, PduError> {
    let Ok(bhs) = Bhs::parse(buf) else {
        return Ok(None);
    };
    let ahs_end = Bhs::LEN + bhs.ahs_len();
    let header_end = ahs_end + digests.header.len();
    if buf.len() < header_end {
        return Ok(None);
    }
    // The header digest is checked before any header field is believed, so a corrupted
    // header is reported as such rather than as a bad opcode or length.
    if digests.header == Digest::Crc32c {
        let received = digest_at(buf, ahs_end)?;
        let computed = crc32c(buf.get(..ahs_end).unwrap_or(&[]));
        if received != computed {
            return Err(PduError::HeaderDigest { received, computed });
        }
    }
    bhs.opcode()?;
    let dsl = bhs.data_segment_length();
    if dsl > max_data_segment {
        return Err(PduError::DataSegmentTooLong { len: dsl, max: max_data_segment });
    }
    // dsl < 2^24 so none of this overflows, even on 32-bit targets.
    let dsl = dsl as usize;
    let padded_end = header_end + dsl + pad(dsl);
    let end = if dsl == 0 { header_end } else { padded_end + digests.data.len() };
    if buf.len() < end {
        return Ok(None);
    }
    if dsl != 0 && digests.data == Digest::Crc32c {
        let received = digest_at(buf, padded_end)?;
        let computed = crc32c(buf.get(header_end..padded_end).unwrap_or(&[]));
        if received != computed {
            return Err(PduError::DataDigest { received, computed });
        }
    }
    let ahs = buf.get(Bhs::LEN..ahs_end).unwrap_or(&[]);
    let data = buf.get(header_end..header_end + dsl).unwrap_or(&[]);
    let pdu = Pdu::parse(&bhs, ahs, data)?;
    Ok(Some((pdu, end)))
}

/// The framing settings of one connection: digests and our MaxRecvDataSegmentLength.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framer {
    /// The digests in use.
    pub digests: Digests,
    /// The largest data segment we accept (our declared MaxRecvDataSegmentLength).
    pub max_recv_data_segment_length: u32,
}

impl Default for Framer {
    /// No digests and the RFC 7143 default MaxRecvDataSegmentLength of 8192: the settings of a
    /// connection at login.
    fn default() -> Self {
        Framer::new(Digests::NONE, 8192)
    }
}

impl Framer {
    /// A framer with these settings.
    pub fn new(digests: Digests, max_recv_data_segment_length: u32) -> Self {
        Framer { digests, max_recv_data_segment_length }
    }

    /// [`decode`] with these settings.
    pub fn decode(&self, buf: &[u8]) -> Result<Option<(Pdu, usize)>, PduError> {
        decode(buf, self.digests, self.max_recv_data_segment_length)
    }

    /// [`Pdu::encode`] with these digests. The peer's MaxRecvDataSegmentLength is not
    /// checked here: splitting long texts is the caller's job.
    pub fn encode(&self, pdu: &Pdu) -> Result<Vec<u8>, PduError> {
        pdu.encode(self.digests)
    }
}
