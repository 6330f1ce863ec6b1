// The crate's documentation is its README, whose example runs as a doc test.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod bits;
pub mod cdb;
pub mod error;
pub mod inquiry;
pub mod mode;
pub mod params;
pub mod sense;
pub mod xcopy;

pub use error::{Error, FieldPointer, Location, Result};

/// An owned SCSI structure that can be parsed from bytes and emitted back to them.
///
/// The contract, relied on by the tests and the fuzz targets:
/// - `parse` never panics, whatever the bytes; it returns a value or an [`Error`];
/// - `emit` never panics; it returns [`Error::BufferTooShort`] when `buf` is shorter than
///   [`Wire::buffer_len`], writes exactly `buffer_len()` bytes otherwise and returns that count;
/// - for every value `x` the crate's constructors can build, `parse(emit(x)) == x`.
pub trait Wire: Sized {
    /// Parses the structure from the start of `buf`.
    fn parse(buf: &[u8]) -> Result<Self>;

    /// The number of bytes [`Wire::emit`] writes.
    fn buffer_len(&self) -> usize;

    /// Writes the structure to the start of `buf`, returning the number of bytes written.
    fn emit(&self, buf: &mut [u8]) -> Result<usize>;

    /// Emits into a new vector of exactly [`Wire::buffer_len`] bytes.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.buffer_len()];
        // A buffer of exactly buffer_len() bytes is always accepted, by the trait's contract.
        let n = self.emit(&mut v).unwrap_or(0);
        v.truncate(n);
        v
    }
}

/// Copies a response into an initiator's buffer, at most ALLOCATION LENGTH bytes (truncation is
/// not an error); returns the number of bytes copied.
pub fn copy_truncated(data: &[u8], allocation_length: usize, out: &mut [u8]) -> usize {
    let n = data.len().min(allocation_length).min(out.len());
    out[..n].copy_from_slice(&data[..n]);
    n
}

#[cfg(test)]
mod tests;
#[cfg(test)]
use tests as testutil;
