//! The emulation and the handler on the TCMU ring: a command's [`DataBuffers`] are its
//! [`CommandData`], a [`Reply`] becomes the ring's [`Response`], and a ring's TMR entry a
//! [`TaskManagement`] notice.

use crate::backend::BlockDevice;
use crate::emulate::{CommandData, Reply};
use crate::handler::{Handler, LogicalUnit, TaskFunction, TaskManagement};
use crate::server::Execute;
use tcmu_ring::layout::TmrType;
use tcmu_ring::{DataBuffers, Response, Tmr};

impl<H: Handler, B: BlockDevice> Execute for LogicalUnit<H, B> {
    fn execute(&self, cmd: &mut tcmu_ring::RingCommand) -> Response {
        let id = cmd.id();
        let (cdb, data) = cmd.parts_mut();
        LogicalUnit::execute(self, id, cdb, data).into()
    }

    fn task_management(&self, tmr: &Tmr) {
        LogicalUnit::task_management(self, &tmr.into());
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
