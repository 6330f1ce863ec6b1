//! The value forms of RFC 7143 6.1: numbers (decimal, `0x` hex, `0b` base64), binary values
//! (CHAP challenges and responses), `Yes`/`No` booleans and comma-separated lists.

use super::TextError;

/// Reads a numerical value: a decimal constant, a hex constant (`0x`/`0X`) or a base64
/// constant (`0b`/`0B`), which must fit in 64 bits. Leading zeros are allowed in all forms.
pub fn parse_number(s: &str) -> Result<u64, TextError> {
    let invalid = || TextError::InvalidNumber(s.to_owned());
    let too_large = || TextError::NumberTooLarge(s.to_owned());
    if let Some(hex) = strip_radix(s, 'x') {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let digits = hex.trim_start_matches('0');
        if digits.len() > 16 {
            return Err(too_large());
        }
        if digits.is_empty() {
            return Ok(0);
        }
        return u64::from_str_radix(digits, 16).map_err(|_| invalid());
    }
    if let Some(b64) = strip_radix(s, 'b') {
        let bytes = decode_base64(b64).ok_or_else(invalid)?;
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let significant = bytes.get(first..).unwrap_or(&[]);
        if significant.len() > 8 {
            return Err(too_large());
        }
        return Ok(significant.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    s.parse::<u64>().map_err(|_| too_large())
}

/// Reads a binary value (RFC 7143 6.1 large-binary-value, used by CHAP_C and CHAP_R): a hex
/// constant (`0x`; an odd number of digits is read as if a `0` led) or a base64 constant
/// (`0b`). Decimal is not a binary form.
pub fn parse_binary(s: &str) -> Result<Vec<u8>, TextError> {
    let invalid = || TextError::InvalidNumber(s.to_owned());
    if let Some(hex) = strip_radix(s, 'x') {
        return decode_hex(hex).ok_or_else(invalid);
    }
    if let Some(b64) = strip_radix(s, 'b') {
        return decode_base64(b64).filter(|b| !b.is_empty()).ok_or_else(invalid);
    }
    Err(invalid())
}

/// Writes bytes as a hex constant: `0x` and two lowercase digits a byte.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Writes bytes as a base64 constant: `0b` and RFC 4648 base64 with padding.
pub fn encode_base64(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len().div_ceil(3) * 4);
    s.push_str("0b");
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(sextet_char((n >> (18 - 6 * i)) & 0x3f));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Reads `Yes` or `No`.
pub fn parse_bool(s: &str) -> Result<bool, TextError> {
    match s {
        "Yes" => Ok(true),
        "No" => Ok(false),
        _ => Err(TextError::InvalidBoolean(s.to_owned())),
    }
}

/// Writes `Yes` or `No`.
pub fn format_bool(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

/// Splits a list-of-values at its commas. An empty value is an empty list.
pub fn parse_list(s: &str) -> Vec<&str> {
    if s.is_empty() { Vec::new() } else { s.split(',').collect() }
}

/// Joins values with commas.
pub fn format_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.as_ref());
    }
    out
}

/// Strips `0` and `letter` in either case (`0x`/`0X`, `0b`/`0B`).
fn strip_radix(s: &str, letter: char) -> Option<&str> {
    let rest = s.strip_prefix('0')?;
    rest.strip_prefix(letter).or_else(|| rest.strip_prefix(letter.to_ascii_uppercase()))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() {
        return None;
    }
    let nibbles: Vec<u8> = hex
        .chars()
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<_>>()?;
    let lead = nibbles.len() % 2;
    let mut out = Vec::with_capacity(nibbles.len() / 2 + lead);
    if lead == 1 {
        out.push(*nibbles.first()?);
    }
    for pair in nibbles.get(lead..)?.chunks_exact(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    Some(out)
}

fn sextet_char(v: u32) -> char {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char::from(ALPHABET[(v & 0x3f) as usize])
}

fn sextet_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// RFC 4648 base64; the `=` padding may be left out, but nothing may follow it. Bits after
/// the last whole byte are ignored, not required to be zero.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    let padding = s.len() - body.len();
    if body.is_empty() || padding > 2 || (padding > 0 && s.len() % 4 != 0) {
        return None;
    }
    let sextets: Vec<u32> = body.bytes().map(sextet_value).collect::<Option<_>>()?;
    if sextets.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for group in sextets.chunks(4) {
        let n =
            group.iter().chain(core::iter::repeat(&0)).take(4).fold(0u32, |acc, v| (acc << 6) | v);
        let bytes = n.to_be_bytes();
        // 2 sextets carry 1 byte, 3 carry 2, 4 carry 3.
        out.extend_from_slice(bytes.get(1..group.len())?);
    }
    Some(out)
}
