//! READ, WRITE, WRITE AND VERIFY and VERIFY: blocks moved straight between the backend and the
//! command's buffers, compares in bounded chunks.

use super::{
    COMPARE_CHUNK, CommandData, Emulator, Fail, Outcome, Reply, copy_prefix, io_fail,
    short_data_out,
};
use crate::backend::BlockDevice;
use scsi_proto::cdb::{Command, Field};
use scsi_proto::sense::{AdditionalSense, SenseData, SenseKey};
use std::io::{IoSlice, IoSliceMut};

impl<B: BlockDevice> Emulator<B> {
    pub(super) fn read(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let (lba, blocks) = self.range(cmd)?;
        // The kernel may hand a shorter buffer than the CDB asks for (an initiator expecting
        // less); it reports the residual itself. A longer one (SG_IO and iSCSI allow it) gets
        // zeroes after the blocks read, and READ_LEN says how much was read.
        let want = self.bytes(blocks)?.min(data.len());
        let mut bufs: Vec<IoSliceMut<'_>> =
            first(data.segments(), want).map(IoSliceMut::new).collect();
        self.dev.read(lba, &mut bufs).map_err(|e| io_fail(e, false))?;
        drop(bufs);
        Ok(Reply::filled(data, want))
    }

    /// WRITE, and WRITE AND VERIFY (whose verification the durability rule's flush is).
    pub(super) fn write(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        self.check_writable()?;
        let (lba, blocks) = self.range(cmd)?;
        let want = self.bytes(blocks)?;
        if data.len() < want {
            return Err(short_data_out());
        }
        let _shared = self.shared();
        let bufs: Vec<IoSlice<'_>> =
            first(data.segments(), want).map(|b| IoSlice::new(b)).collect();
        self.dev.write(lba, &bufs, false).map_err(|e| io_fail(e, true))?;
        Ok(Reply::good())
    }

    /// Compares `blocks` blocks of the medium from `lba` with what `expected` says they hold;
    /// the byte offset of the first difference.
    ///
    /// `expected(offset, buf)` fills `buf` with the bytes expected from byte `offset` of the
    /// range on. The medium is read, and compared, [`COMPARE_CHUNK`] bytes (whole blocks) at a
    /// time: what is held never exceeds that, however many blocks the CDB names.
    pub(super) fn compare(
        &self,
        lba: u64,
        blocks: u64,
        mut expected: impl FnMut(u64, &mut [u8]),
    ) -> Result<Option<u64>, Fail> {
        let bs = self.bytes(1)?;
        let per = (COMPARE_CHUNK / bs.max(1)).max(1) as u64;
        let held = self.bytes(per.min(blocks))?;
        let mut medium = vec![0u8; held];
        let mut want = vec![0u8; held];
        let mut done = 0u64;
        while done < blocks {
            let n = per.min(blocks - done);
            let len = self.bytes(n)?;
            let offset = done * bs as u64;
            let (medium, want) = (&mut medium[..len], &mut want[..len]);
            self.dev
                .read(lba + done, &mut [IoSliceMut::new(medium)])
                .map_err(|e| io_fail(e, false))?;
            expected(offset, want);
            if let Some(i) = medium.iter().zip(want.iter()).position(|(a, b)| a != b) {
                return Ok(Some(offset + i as u64));
            }
            done += n;
        }
        Ok(None)
    }

    pub(super) fn verify(&self, cmd: &Command, data: &mut dyn CommandData) -> Outcome {
        let (lba, blocks) = self.range(cmd)?;
        let bs = self.bytes(1)?;
        match cmd.get(Field::Bytchk) {
            Some(1) => {
                // The blocks to compare with must all have been sent: checked before anything
                // is read or held, whatever VERIFICATION LENGTH says.
                let sent = blocks.checked_mul(bs as u64).is_some_and(|n| n <= data.len() as u64);
                if !sent {
                    return Err(short_data_out());
                }
                let found = self.compare(lba, blocks, |off, buf| {
                    // `off` is below the length checked above.
                    data.read_at(off as usize, buf);
                })?;
                match found {
                    Some(off) => Err(Fail::Sense(verify_miscompare(off))),
                    None => Ok(Reply::good()),
                }
            }
            Some(3) => {
                // One block sent, compared with each block of the range.
                let mut block = vec![0u8; bs];
                if data.read_at(0, &mut block) < bs {
                    return Err(short_data_out());
                }
                let found = self.compare(lba, blocks, |_, buf| {
                    for b in buf.chunks_mut(bs) {
                        copy_prefix(b, &block);
                    }
                })?;
                match found {
                    Some(off) => Err(Fail::Sense(verify_miscompare(off))),
                    None => Ok(Reply::good()),
                }
            }
            // BYTCHK 0: a medium verification; the backend has no media to check.
            _ => Ok(Reply::good()),
        }
    }
}

/// The first `want` bytes of `segments`.
fn first(segments: Vec<&mut [u8]>, want: usize) -> impl Iterator<Item = &mut [u8]> {
    let mut left = want;
    segments.into_iter().map_while(move |seg| {
        if left == 0 {
            return None;
        }
        let n = seg.len().min(left);
        left -= n;
        Some(&mut seg[..n])
    })
}

fn verify_miscompare(offset: u64) -> SenseData {
    SenseData::new(SenseKey::Miscompare, AdditionalSense::MISCOMPARE_DURING_VERIFY)
        .with_information(offset)
}
