//! Parameter data of the block commands (SBC-4, SPC-5). Responses state their full length and
//! are cut to the ALLOCATION LENGTH (SPC-5 4.2.5.6); the two that grow with the device
//! ([`LbaStatus`], [`ReportLuns`]) also have `emit_truncated`, which builds no full response. The limits a
//! list is checked against are the device's, in `tcmu`'s emulation.

mod lba_status;
mod luns;
mod port_groups;
mod read_capacity;
mod reservations;
mod rsoc;
mod unmap;

pub use lba_status::{LbaStatus, LbaStatusDescriptor};
pub use luns::{Lun, ReportLuns};
pub use port_groups::{AccessState, TargetPortGroup, TargetPortGroups};
pub use read_capacity::{ReadCapacity10Data, ReadCapacity16Data};
pub use reservations::{ReadKeys, ReadReservation, Reservation};
pub use rsoc::{
    AllCommands, CommandDescriptor, CommandTimeouts, OneCommand, ReportedTmf, TmfTimeouts,
};
pub use unmap::{UnmapDescriptor, UnmapDescriptors, UnmapParameterList, write_same_block};

use crate::bits::{Layout, Spec};
use crate::error::{check_len, within};
use crate::{Location, Result, copy_truncated};

/// `item`'s `N` bytes; a field too large for its place points `offset` bytes further on.
fn encode<T: Layout, const N: usize>(item: &T, offset: usize) -> Result<[u8; N]> {
    let mut b = [0; N];
    item.write(&mut b).map(|()| b).map_err(|e| within(e, T::WHAT, offset))
}

/// The 8-byte header of device data that is a list: its `length` field holds the list's
/// `items` bytes plus the `counted` header bytes after the field.
fn list_header(what: &'static str, length: &Spec, counted: usize, items: usize) -> Result<[u8; 8]> {
    let mut h = [0; 8];
    let len = u64::try_from(items.saturating_add(counted)).unwrap_or(u64::MAX);
    length.put_checked(what, &mut h, len)?;
    Ok(h)
}

/// The `item`-byte entries after the 8-byte header (see [`list_header`]): whole entries, all
/// in `buf`.
fn list_items<'a>(
    what: &'static str,
    buf: &'a [u8],
    length: &Spec,
    counted: usize,
    item: usize,
) -> Result<core::slice::ChunksExact<'a, u8>> {
    check_len(what, Location::Data, buf, 8)?;
    let n = usize::try_from(length.get(buf)).unwrap_or(usize::MAX);
    if n < counted || (n - counted) % item != 0 {
        return Err(length.invalid(what, Location::Data, 0));
    }
    let total = (n - counted).saturating_add(8);
    check_len(what, Location::Data, buf, total)?;
    Ok(buf[8..total].chunks_exact(item))
}

/// Writes `header` then each item, cut to `allocation_length` and `out`; every item is still
/// encoded, so this fails exactly where emitting in full would.
fn stream<const N: usize>(
    header: &[u8],
    items: impl Iterator<Item = Result<[u8; N]>>,
    allocation_length: usize,
    out: &mut [u8],
) -> Result<usize> {
    let limit = allocation_length.min(out.len());
    let mut n = copy_truncated(header, limit, out);
    for item in items {
        n += copy_truncated(&item?, limit - n, &mut out[n..]);
    }
    Ok(n)
}
