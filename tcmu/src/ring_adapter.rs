//! The emulation and the handler on the TCMU ring: a command's [`DataBuffers`] are its
//! [`CommandData`], a [`Reply`] becomes the ring's [`Response`], and a ring's TMR entry a
//! [`TaskManagement`] notice.

use crate::backend::BlockDevice;
use crate::emulate::Started;
use crate::emulate::{CommandData, Reply};
use crate::handler::Decided;
use crate::handler::{Handler, LogicalUnit, TaskFunction, TaskManagement};
use crate::server::{Execute, Finisher};
use std::io::IoSliceMut;
use tcmu_ring::layout::TmrType;
use tcmu_ring::{DataBuffers, Response, Tmr};

impl<H: Handler, B: BlockDevice> Execute for LogicalUnit<H, B> {
    fn execute(&self, cmd: &mut tcmu_ring::RingCommand) -> Response {
        let id = cmd.id();
        let (cdb, data) = cmd.parts_mut();
        LogicalUnit::execute(self, id, cdb, data).into()
    }

    /// As [`LogicalUnit::execute`], but a READ or WRITE the emulation can start without
    /// waiting is started, and completed on the ring when its I/O ends.
    fn dispatch(&self, mut done: Finisher) {
        let cmd = done.command_mut();
        let id = cmd.id();
        let (cdb, data) = cmd.parts_mut();
        let decoded = match self.decide(id, cdb, data) {
            Decided::Reply(reply) => return done.finish(reply.into()),
            Decided::Emulate(decoded) => decoded,
        };
        let emulator = self.emulator();
        if let Ok(command) = &decoded {
            if let Some(plan) = emulator.plan_start(command, data.len(), data.segment_count()) {
                return emulator.start(plan, Box::new(OnRing(done)));
            }
        }
        let reply = emulator.execute_attended(decoded, data);
        done.finish(reply.into());
    }

    fn task_management(&self, tmr: &Tmr) {
        LogicalUnit::task_management(self, &tmr.into());
    }
}

/// A ring command run without waiting: its buffers are the ring's, and its reply completes it
/// on the ring.
struct OnRing(Finisher);

impl Started for OnRing {
    fn len(&self) -> usize {
        self.0.command().data().len()
    }

    fn segments(&mut self) -> Vec<IoSliceMut<'_>> {
        self.0.command_mut().data_mut().io_slices_mut()
    }

    fn zero_all(&mut self) {
        CommandData::zero_all(self.0.command_mut().data_mut());
    }

    fn reply(self: Box<Self>, reply: Reply) {
        self.0.finish(reply.into());
    }
}

impl From<&Tmr> for TaskManagement {
    fn from(tmr: &Tmr) -> TaskManagement {
        let function = match tmr.kind {
            TmrType::AbortTask => TaskFunction::AbortTask,
            TmrType::AbortTaskSet => TaskFunction::AbortTaskSet,
            TmrType::ClearAca => TaskFunction::ClearAca,
            TmrType::ClearTaskSet => TaskFunction::ClearTaskSet,
            TmrType::LunReset => TaskFunction::LunReset,
            TmrType::TargetWarmReset => TaskFunction::TargetWarmReset,
            TmrType::TargetColdReset => TaskFunction::TargetColdReset,
            TmrType::LunResetPro => TaskFunction::LunResetPro,
            TmrType::Unknown(n) => TaskFunction::Other(n),
        };
        TaskManagement { function, aborted: tmr.cmd_ids.clone() }
    }
}

impl CommandData for DataBuffers {
    fn len(&self) -> usize {
        DataBuffers::len(self)
    }

    fn segments(&mut self) -> Vec<&mut [u8]> {
        self.iter_mut().collect()
    }

    fn read_at(&mut self, offset: usize, dst: &mut [u8]) -> usize {
        self.copy_to_slice_at(offset, dst)
    }

    fn write_at(&mut self, offset: usize, src: &[u8]) -> usize {
        self.copy_from_slice_at(offset, src)
    }

    fn zero_from(&mut self, offset: usize) {
        DataBuffers::zero_from(self, offset);
    }

    /// The main buffers and a bidirectional command's Data-In buffers.
    fn zero_all(&mut self) {
        DataBuffers::zero_from(self, 0);
        self.zero_bidi();
    }
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Response {
        let mut rsp = match reply.sense {
            Some(_) => Response::check_condition(&reply.sense_bytes()),
            None => Response::good(),
        };
        rsp.status = reply.status;
        // A buffer on the ring is smaller than 4 GiB.
        rsp.read_len = reply.read_len.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        rsp
    }
}
