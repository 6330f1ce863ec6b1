//! SCSI wire formats as a block target needs them: SPC-4/SPC-5 and SBC-3/SBC-4.
//!
//! A pure crate: no I/O, no threads, and no allocation on the parse path where it can be
//! avoided. It knows the bytes; what a device does with them belongs to the crates above.
//!
//! - [`cdb`]: decoding every command a disk target meets, with the position of any invalid field.
//! - [`sense`]: fixed and descriptor format sense data, sense keys and ASC/ASCQ codes.
//! - [`inquiry`]: standard INQUIRY data and the VPD pages of a modern disk.
//! - [`mode`]: mode pages, MODE SENSE data and MODE SELECT parameter lists.
//! - [`params`]: READ CAPACITY, REPORT LUNS, UNMAP and the other parameter data.
//! - [`xcopy`]: EXTENDED COPY parameter lists and RECEIVE COPY RESULTS data.
//! - [`bits`]: `layout!` and [`bits::Spec`], which declare each fixed layout once.
//!
//! Variable structures implement [`Wire`]. Errors are [`Error`], which says which field of which
//! structure was wrong, and converts into the sense data a target returns.
//!
//! ```
//! use scsi_proto::cdb::Command;
//!
//! // READ(10) of 8 blocks at LBA 0x1234 with FUA.
//! let cdb = [0x28, 0x08, 0x00, 0x00, 0x12, 0x34, 0x00, 0x00, 0x08, 0x00];
//! let cmd = Command::parse(&cdb).unwrap();
//! assert_eq!(cmd.lba(), Some(0x1234));
//! assert_eq!(cmd.transfer_length(), Some(8));
//! assert!(cmd.fua());
//! ```
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

/// The README's example, compiled and run as a doc test so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests;
#[cfg(test)]
use tests as testutil;
