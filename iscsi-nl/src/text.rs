//! iSCSI text data (RFC 7143 6.1): the `key=value` pairs of Login and Text PDUs.
//!
//! Every pair is followed by one NUL byte. A key is whatever precedes the first `=`, the
//! value whatever follows it up to the NUL. A text may span several PDUs (the C bit):
//! [`TextAssembler`] joins the segments and parses once the last one is in, [`TextSplitter`]
//! cuts an encoded text into data segments the peer accepts.
//!
//! The value helpers of [`values`] (re-exported here) read and write the value forms of
//! RFC 7143 6.1: decimal, hex (`0x`) and base64 (`0b`) numbers and binary strings, `Yes`/`No`
//! booleans and comma-separated lists.
//!
//! ```
//! use iscsi_nl::text;
//!
//! let data = text::emit(&[("HeaderDigest", "CRC32C,None"), ("MaxBurstLength", "262144")]).unwrap();
//! assert_eq!(data, b"HeaderDigest=CRC32C,None\0MaxBurstLength=262144\0");
//! let pairs = text::parse(&data).unwrap();
//! assert_eq!(text::get(&pairs, "MaxBurstLength"), Some("262144"));
//! assert_eq!(text::parse_list("CRC32C,None"), vec!["CRC32C", "None"]);
//! assert_eq!(text::parse_number("0x40000").unwrap(), 262144);
//! ```

#[cfg(test)]
mod tests;
pub mod values;

pub use values::{
    encode_base64, encode_hex, format_bool, format_list, parse_binary, parse_bool, parse_list,
    parse_number,
};

/// The longest key name, in bytes (RFC 7143 6.1: a standard-label is at most 63 characters).
pub const MAX_KEY_LEN: usize = 63;

/// The longest value, in bytes.
pub const MAX_VALUE_LEN: usize = 8192;

/// Errors of parsing and emitting text, and of the value helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text does not end with a NUL: it was cut short.
    #[error("text does not end with a NUL byte")]
    Unterminated,
    /// A pair has no `=`.
    #[error("pair {index} has no '='")]
    MissingEquals {
        /// The position of the pair in the text, from 0.
        index: usize,
    },
    /// A key is empty.
    #[error("pair {index} has an empty key")]
    EmptyKey {
        /// The position of the pair in the text, from 0.
        index: usize,
    },
    /// A key is longer than [`MAX_KEY_LEN`].
    #[error("key of {len} bytes is longer than {MAX_KEY_LEN}")]
    KeyTooLong {
        /// Its length.
        len: usize,
    },
    /// A value is longer than [`MAX_VALUE_LEN`].
    #[error("value of key {key} is {len} bytes, longer than {MAX_VALUE_LEN}")]
    ValueTooLong {
        /// The key.
        key: String,
        /// The value's length.
        len: usize,
    },
    /// A key or value is not UTF-8.
    #[error("pair {index} is not UTF-8")]
    NotUtf8 {
        /// The position of the pair in the text, from 0.
        index: usize,
    },
    /// A key to emit holds `=` or NUL, or a value holds NUL.
    #[error("forbidden character in {0:?}")]
    ForbiddenChar(String),
    /// A multi-PDU text grew past the assembler's limit.
    #[error("text longer than {max} bytes")]
    TextTooLong {
        /// The limit.
        max: usize,
    },
    /// A value is not a decimal, hex (`0x`) or base64 (`0b`) number, or a binary value is not
    /// hex or base64.
    #[error("not a valid number: {0:?}")]
    InvalidNumber(String),
    /// A number does not fit in 64 bits.
    #[error("number does not fit in 64 bits: {0:?}")]
    NumberTooLarge(String),
    /// A boolean is neither `Yes` nor `No`.
    #[error("not Yes or No: {0:?}")]
    InvalidBoolean(String),
}

/// Parses a whole text (one logical text data segment) into its pairs, in order.
///
/// Duplicate keys are kept: whether they are allowed is the negotiation's business. Empty
/// entries (two NULs in a row) are skipped.
pub fn parse(data: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = data.strip_suffix(&[0]) else {
        return Err(TextError::Unterminated);
    };
    let mut pairs = Vec::new();
    for (index, entry) in body.split(|b| *b == 0).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let eq = entry.iter().position(|b| *b == b'=').ok_or(TextError::MissingEquals { index })?;
        let (key, value) = (&entry[..eq], &entry[eq + 1..]);
        if key.is_empty() {
            return Err(TextError::EmptyKey { index });
        }
        let key = core::str::from_utf8(key).map_err(|_| TextError::NotUtf8 { index })?;
        let value = core::str::from_utf8(value).map_err(|_| TextError::NotUtf8 { index })?;
        check_lengths(key, value)?;
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

fn check_lengths(key: &str, value: &str) -> Result<(), TextError> {
    if key.len() > MAX_KEY_LEN {
        return Err(TextError::KeyTooLong { len: key.len() });
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(TextError::ValueTooLong { key: key.to_owned(), len: value.len() });
    }
    Ok(())
}

/// Encodes pairs as `key=value\0...`, checking what [`parse`] checks: keys non-empty, at most
/// [`MAX_KEY_LEN`] bytes, without `=` or NUL; values at most [`MAX_VALUE_LEN`], without NUL.
pub fn emit<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::new();
    for (index, (key, value)) in pairs.iter().enumerate() {
        let (key, value) = (key.as_ref(), value.as_ref());
        if key.is_empty() {
            return Err(TextError::EmptyKey { index });
        }
        if key.contains(['=', '\0']) {
            return Err(TextError::ForbiddenChar(key.to_owned()));
        }
        if value.contains('\0') {
            return Err(TextError::ForbiddenChar(value.to_owned()));
        }
        check_lengths(key, value)?;
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    Ok(out)
}

/// The value of the first pair with this key.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The values with a meaning of their own in any key's answer (RFC 7143 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Special {
    /// `Reject`: the offered value is refused.
    Reject,
    /// `Irrelevant`: the key does not matter given other negotiated values.
    Irrelevant,
    /// `NotUnderstood`: the key is unknown to the sender.
    NotUnderstood,
}

impl Special {
    /// The value as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Special::Reject => "Reject",
            Special::Irrelevant => "Irrelevant",
            Special::NotUnderstood => "NotUnderstood",
        }
    }

    /// Recognises a special value (case-sensitive, as all of iSCSI text).
    pub fn parse(value: &str) -> Option<Special> {
        [Special::Reject, Special::Irrelevant, Special::NotUnderstood]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

impl core::fmt::Display for Special {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Joins the data segments of a text sent over several PDUs (C bit set on all but the last),
/// and parses the whole once the last segment is in.
///
/// A pair may be cut anywhere, even inside a key, so nothing is parsed early. The joined text
/// is bounded: past `max_len` bytes the assembler fails and starts over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextAssembler {
    buf: Vec<u8>,
    max_len: usize,
}

impl Default for TextAssembler {
    /// An assembler bounded at 64 KiB, far above what login or discovery exchange.
    fn default() -> Self {
        TextAssembler::new(64 * 1024)
    }
}

impl TextAssembler {
    /// An empty assembler that accepts texts of up to `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        TextAssembler { buf: Vec::new(), max_len }
    }

    /// Adds the data segment of one PDU. With `cont` (the C bit) it keeps it and returns
    /// `Ok(None)`; without, it parses everything gathered and starts over.
    ///
    /// On an error the gathered text is dropped.
    pub fn push(
        &mut self,
        segment: &[u8],
        cont: bool,
    ) -> Result<Option<Vec<(String, String)>>, TextError> {
        if self.buf.len().saturating_add(segment.len()) > self.max_len {
            self.buf.clear();
            return Err(TextError::TextTooLong { max: self.max_len });
        }
        self.buf.extend_from_slice(segment);
        if cont {
            return Ok(None);
        }
        let text = core::mem::take(&mut self.buf);
        parse(&text).map(Some)
    }

    /// The bytes gathered so far.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Drops what was gathered.
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

/// One data segment of a text cut by [`TextSplitter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextChunk<'a> {
    /// The bytes for this PDU.
    pub data: &'a [u8],
    /// Whether more follow: the C bit of this PDU.
    pub cont: bool,
}

/// Cuts an encoded text into data segments of at most `max` bytes (the peer's
/// MaxRecvDataSegmentLength), the last one with `cont` false.
///
/// An empty text gives one empty chunk: the PDU is still sent.
#[derive(Debug, Clone)]
pub struct TextSplitter<'a> {
    rest: &'a [u8],
    max: usize,
    done: bool,
}

impl<'a> TextSplitter<'a> {
    /// A splitter over `text`; a `max` of 0 is taken as 1.
    pub fn new(text: &'a [u8], max: usize) -> Self {
        TextSplitter { rest: text, max: max.max(1), done: false }
    }
}

impl<'a> Iterator for TextSplitter<'a> {
    type Item = TextChunk<'a>;

    fn next(&mut self) -> Option<TextChunk<'a>> {
        if self.done {
            return None;
        }
        let (data, rest) = self.rest.split_at(self.rest.len().min(self.max));
        self.rest = rest;
        let cont = !rest.is_empty();
        self.done = !cont;
        Some(TextChunk { data, cont })
    }
}
