//! How a ring's consumer waits for the kernel and tells it about completions: the
//! [`Doorbell`] trait, implemented by the UIO device ([`Uio`]) and, for tests, by the simulated
//! kernel's `sim::SimDoorbell`.

use crate::uio::Uio;
use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

/// How a serving loop waits for the kernel and tells it about completions.
pub trait Doorbell: Send + Sync {
    /// Waits up to `timeout` for the kernel to publish commands; true if it signalled.
    fn wait(&self, timeout: Duration) -> io::Result<bool>;
    /// Tells the kernel completions are ready.
    fn notify(&self) -> io::Result<()>;
}

impl Doorbell for Uio {
    /// Polls the UIO device. Once the kernel has removed the device (its backstore deleted
    /// under us), every poll reports an error at once: that is returned, never waited on again.
    fn wait(&self, timeout: Duration) -> io::Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) => Ok(false),
            Ok(_) => {
                let failed = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
                match fds[0].revents() {
                    Some(r) if !r.intersects(failed) => {
                        Uio::wait(self).map(|_| true).map_err(io::Error::other)
                    }
                    r => Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        format!(
                            "the UIO device uio{} reports {}",
                            self.info().index,
                            r.map_or_else(|| "unknown events".into(), |r| format!("{r:?}"))
                        ),
                    )),
                }
            }
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn notify(&self) -> io::Result<()> {
        Uio::notify(self).map_err(io::Error::other)
    }
}
