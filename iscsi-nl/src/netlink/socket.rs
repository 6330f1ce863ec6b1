//! [`IscsiNetlink`]: a NETLINK_ISCSI socket that sends requests and waits for their replies,
//! keeping the kernel events that arrive meanwhile.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use netlink_packet_core::NetlinkPayload;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ISCSI};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use super::codes::{ISCSI_NL_GRP_ISCSID, Param, UeventType};
use super::message::{Incoming, decode_datagram, encode_request};
use super::uevent::{EncodeError, Event, Reply, Request};

/// The receive buffer: a uevent and a PDU passed up with the largest data segment the kernel
/// sends up (replies and events without data are 72 bytes).
const RECV_BUFFER: usize = 64 * 1024;

/// Which request a failure belongs to: its type and, for `SET_PARAM`, the parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The request's type.
    pub kind: UeventType,
    /// The parameter of a `SET_PARAM`.
    pub param: Option<Param>,
}

impl Step {
    /// The step of `request`.
    pub fn of(request: &Request) -> Step {
        Step {
            kind: request.event_type(),
            param: match request {
                Request::SetParam { param, .. } => Some(*param),
                _ => None,
            },
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.param {
            Some(p) => write!(f, "{} {}", self.kind, p),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// Renders an errno (negative or not) with the system's text.
fn errno_text(errno: i32) -> String {
    let e = errno.checked_abs().unwrap_or(i32::MAX);
    format!("errno {e}: {}", io::Error::from_raw_os_error(e))
}

/// A request that failed, named by its step.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket failed (opening it needs CAP_NET_ADMIN for the multicast group, and the
    /// kernel answers requests only from CAP_SYS_ADMIN).
    #[error("{step}: netlink socket: {source}")]
    Io {
        /// The request, or `ISCSI_UEVENT_UNKNOWN` for the socket itself.
        step: Step,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The request cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// No reply in time.
    #[error("{step}: no reply from the kernel within {timeout:?}")]
    Timeout {
        /// The request.
        step: Step,
        /// How long we waited.
        timeout: Duration,
    },
    /// The kernel refused the request (`ISCSI_KEVENT_IF_ERROR`).
    #[error("{step}: refused by the kernel ({})", errno_text(*errno))]
    Refused {
        /// The request.
        step: Step,
        /// The negative errno.
        errno: i32,
    },
    /// The transport failed to carry it out (`r.retcode`).
    #[error("{step}: the transport failed ({})", errno_text(*retcode))]
    Transport {
        /// The request.
        step: Step,
        /// The negative errno.
        retcode: i32,
    },
    /// A reply of another shape than the request calls for.
    #[error("{step}: unexpected reply {reply:?}")]
    UnexpectedReply {
        /// The request.
        step: Step,
        /// What came back.
        reply: Reply,
    },
    /// The kernel's netlink layer answered with `NLMSG_ERROR`.
    #[error("{step}: netlink error ({})", errno_text(*code))]
    Netlink {
        /// The request.
        step: Step,
        /// The negative errno.
        code: i32,
    },
}

impl NetlinkError {
    /// The errno of a refusal or a transport failure (negative), if that is what it was.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Refused { errno, .. } => Some(*errno),
            NetlinkError::Transport { retcode, .. } => Some(*retcode),
            NetlinkError::Netlink { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A NETLINK_ISCSI socket, bound to the iscsid multicast group so kernel events reach it.
///
/// Needs root (CAP_SYS_ADMIN for requests, CAP_NET_ADMIN for the group). Only one process
/// should drive a session: iscsid, if running, also receives the events.
pub struct IscsiNetlink {
    socket: Socket,
    transport_handle: u64,
    timeout: Duration,
    sequence: u32,
    events: VecDeque<Event>,
}

impl fmt::Debug for IscsiNetlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IscsiNetlink")
            .field("transport_handle", &self.transport_handle)
            .field("timeout", &self.timeout)
            .field("queued_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl IscsiNetlink {
    /// Opens and binds the socket for the transport with this handle (see
    /// [`crate::kernel::transport_handle`]); each request waits up to `timeout` for its
    /// reply.
    pub fn open(transport_handle: u64, timeout: Duration) -> io::Result<IscsiNetlink> {
        let mut socket = Socket::new(NETLINK_ISCSI)?;
        socket.bind(&SocketAddr::new(0, 1 << (ISCSI_NL_GRP_ISCSID - 1)))?;
        Ok(IscsiNetlink { socket, transport_handle, timeout, sequence: 0, events: VecDeque::new() })
    }

    /// An `IscsiNetlink` over another netlink socket, for tests that run without the iSCSI
    /// modules.
    #[cfg(test)]
    fn over(socket: Socket, transport_handle: u64, timeout: Duration) -> IscsiNetlink {
        IscsiNetlink { socket, transport_handle, timeout, sequence: 0, events: VecDeque::new() }
    }

    /// The transport handle requests carry.
    pub fn transport_handle(&self) -> u64 {
        self.transport_handle
    }

    /// Sends `request` and waits for its reply.
    ///
    /// Kernel events received meanwhile are kept for [`IscsiNetlink::events`]. A refusal
    /// (`iferror`) or a transport failure (`retcode` not 0) becomes an error naming the step.
    pub fn request(&mut self, request: &Request) -> Result<Reply, NetlinkError> {
        let step = Step::of(request);
        let io = |source| NetlinkError::Io { step, source };
        self.sequence = self.sequence.wrapping_add(1);
        let bytes = encode_request(self.transport_handle, request, self.sequence)?;
        self.socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).map_err(io)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let Some(datagram) = self.receive(deadline).map_err(io)? else {
                return Err(NetlinkError::Timeout { step, timeout: self.timeout });
            };
            if let Some(reply) = self.sort(&datagram, step)? {
                return match reply {
                    Reply::IfError { errno } => Err(NetlinkError::Refused { step, errno }),
                    Reply::Done { retcode } if retcode != 0 => {
                        Err(NetlinkError::Transport { step, retcode })
                    }
                    reply => Ok(reply),
                };
            }
        }
    }

    /// Takes the kernel events received so far, oldest first.
    pub fn events(&mut self) -> impl Iterator<Item = Event> + '_ {
        self.events.drain(..)
    }

    /// Waits up to `timeout` for a kernel event (one already queued is returned at once).
    pub fn wait_event(&mut self, timeout: Duration) -> io::Result<Option<Event>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            let Some(datagram) = self.receive(deadline)? else {
                return Ok(None);
            };
            let unknown = Step { kind: UeventType::Unknown, param: None };
            // Stale replies are dropped; events are queued.
            let _ = self.sort(&datagram, unknown);
        }
    }

    /// One datagram, or `None` once `deadline` passes.
    fn receive(&mut self, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // SO_RCVTIMEO of 0 would mean "forever": wait at least a microsecond.
            let micros = left.as_micros().clamp(1, i64::MAX as u128) as i64;
            let tv = TimeVal::new(micros / 1_000_000, (micros % 1_000_000) as _);
            setsockopt(&self.socket, sockopt::ReceiveTimeout, &tv).map_err(io::Error::from)?;
            let mut buf = Vec::with_capacity(RECV_BUFFER);
            match self.socket.recv(&mut buf, 0) {
                Ok(_) => return Ok(Some(buf)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Queues the events of a datagram and returns the reply to `step`, if it holds one.
    fn sort(&mut self, datagram: &[u8], step: Step) -> Result<Option<Reply>, NetlinkError> {
        let mut found = None;
        for msg in decode_datagram(datagram).into_iter().flatten() {
            match msg.payload {
                NetlinkPayload::InnerMessage(Incoming::Event(ev)) => self.events.push_back(ev),
                NetlinkPayload::InnerMessage(Incoming::Reply { request, reply })
                    if request == step.kind && found.is_none() =>
                {
                    found = Some(reply);
                }
                NetlinkPayload::Error(e) if step.kind != UeventType::Unknown => {
                    if let Some(code) = e.code {
                        return Err(NetlinkError::Netlink { step, code: code.get() });
                    }
                }
                _ => {}
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::uevent::UEVENT_SIZE;
    use netlink_sys::protocols::NETLINK_ROUTE;

    /// A message as the kernel frames it: netlink type `nl_type`, uevent type `kind`, and
    /// `r` filled from `r`.
    fn kernel_msg(nl_type: u16, kind: u32, r: &[u32]) -> Vec<u8> {
        let mut v = ((16 + UEVENT_SIZE) as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(&nl_type.to_ne_bytes());
        v.extend_from_slice(&[0; 10]);
        let mut ev = vec![0; UEVENT_SIZE];
        ev[..4].copy_from_slice(&kind.to_ne_bytes());
        for (i, x) in r.iter().enumerate() {
            ev[40 + 4 * i..44 + 4 * i].copy_from_slice(&x.to_ne_bytes());
        }
        v.extend_from_slice(&ev);
        v
    }

    fn route_socket(timeout: Duration) -> IscsiNetlink {
        let mut socket = Socket::new(NETLINK_ROUTE).expect("netlink route socket");
        socket.bind_auto().expect("bind");
        IscsiNetlink::over(socket, 1, timeout)
    }

    #[test]
    fn events_are_queued_while_waiting_for_the_reply() {
        let mut nl = route_socket(Duration::from_millis(50));
        let step = Step { kind: UeventType::CreateConn, param: None };
        let mut datagram = kernel_msg(0, 102, &[1, 0, 1011]);
        datagram.extend(kernel_msg(12, 12, &[0]));
        // Not ours: a stale reply to another request is dropped.
        assert_eq!(nl.sort(&datagram, step).unwrap(), None);
        datagram.extend(kernel_msg(13, 13, &[1, 4]));
        assert_eq!(nl.sort(&datagram, step).unwrap(), Some(Reply::ConnCreated { sid: 1, cid: 4 }));
        let events: Vec<Event> = nl.events().collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].sid(), Some(1));
        assert_eq!(nl.events().count(), 0);
    }

    #[test]
    fn silence_times_out() {
        let mut nl = route_socket(Duration::from_millis(60));
        let start = Instant::now();
        assert!(nl.wait_event(Duration::from_millis(40)).unwrap().is_none());
        // rtnetlink ignores message types below 16: no reply ever comes.
        let err = nl.request(&Request::DestroySession { sid: 1 }).unwrap_err();
        assert!(matches!(err, NetlinkError::Timeout { .. }), "{err}");
        assert!(err.to_string().starts_with("ISCSI_UEVENT_DESTROY_SESSION"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn errors_name_the_step() {
        let step = Step::of(&Request::SetParam {
            sid: 1,
            cid: 0,
            param: Param::MaxR2t,
            value: "3".into(),
        });
        let err = NetlinkError::Refused { step, errno: -22 };
        let text = err.to_string();
        assert!(
            text.starts_with(
                "ISCSI_UEVENT_SET_PARAM ISCSI_PARAM_MAX_R2T: refused by the kernel (errno 22"
            ),
            "{text}"
        );
        assert_eq!(err.errno(), Some(-22));
    }
}
