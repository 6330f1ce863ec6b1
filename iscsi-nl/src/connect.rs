//! The blocking TCP driver: the state machines of [`crate::login`] and [`crate::discovery`]
//! run over a [`std::net::TcpStream`].
//!
//! - [`connect`] opens the connection to a portal (`host[:port]`, IPv6 in brackets).
//! - [`login()`] logs in over it, following redirections, and keeps the connection open in a
//!   [`LoggedIn`], ready for the kernel hand-off ([`LoggedIn::into_parts`]).
//! - [`discover`] runs a whole discovery session: login, `SendTargets=All`, logout.
//! - [`logout()`] ends a session still driven from user space.
//!
//! PDUs are read exactly (header, then the rest the header announces), so nothing past a PDU
//! is ever taken from the socket: the connection can change hands between any two PDUs.
//!
//! ```no_run
//! use std::time::Duration;
//! use iscsi_nl::connect::{connect, login};
//! use iscsi_nl::login::LoginConfig;
//!
//! let stream = connect("192.0.2.1:3260", Duration::from_secs(10))?;
//! let cfg = LoginConfig::normal("iqn.2024-01.org.example:host", [0x80, 1, 2, 3, 0, 0], "iqn.2024-01.org.example:disk");
//! let logged_in = login(stream, cfg)?;
//! let (stream, session) = logged_in.into_parts();
//! # let _ = (stream, session);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::address::TargetAddress;
use crate::chap::{ChallengeSource, Credentials, OsRandom};
use crate::discovery::{DiscoveredTarget, Discovery, DiscoveryError, DiscoveryStep};
use crate::login::{Login, LoginConfig, LoginError, Session, Step};
use crate::pdu::{
    Bhs, Framer, LogoutReason, LogoutRequest, LogoutResponseCode, NopOut, Opcode, Pdu, PduError,
    RESERVED_TAG,
};

/// The timeout of connections made after a redirection when the first had none, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// The most redirections [`login()`] follows before giving up.
pub const MAX_REDIRECTS: u32 = 4;

/// Why connecting, logging in, discovering or logging out failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket error: the connection could not be made, or a read or write failed or
    /// timed out.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The login failed: the target refused it (a [`crate::login::StatusError`] such as
    /// "authentication failed"), or it broke the protocol.
    #[error("login failed: {0}")]
    Login(#[from] LoginError),
    /// The SendTargets exchange failed.
    #[error("discovery failed: {0}")]
    Discovery(#[from] DiscoveryError),
    /// The target sent bytes that are not a valid PDU (or one too long), or a PDU to send
    /// could not be encoded.
    #[error("bad PDU: {0}")]
    Pdu(#[from] PduError),
    /// The target kept redirecting us.
    #[error("more than {0} login redirections")]
    TooManyRedirects(u32),
    /// The target closed (or reset) the connection in the middle of an exchange.
    #[error("the target closed the connection")]
    Closed,
    /// The target refused the logout.
    #[error("logout failed: {0:?}")]
    LogoutFailed(LogoutResponseCode),
    /// A PDU that has no place in the exchange.
    #[error("unexpected {0:?} PDU")]
    UnexpectedPdu(Opcode),
}

/// A connection in the Full Feature Phase and its session.
#[derive(Debug)]
pub struct LoggedIn {
    /// The connection, still open, with nothing of the next PDU read from it.
    pub stream: TcpStream,
    /// What the login negotiated, and the sequence numbers to go on with.
    pub session: Session,
}

impl LoggedIn {
    /// The connection and the session, for the kernel hand-off (which takes the socket's
    /// file descriptor).
    pub fn into_parts(self) -> (TcpStream, Session) {
        (self.stream, self.session)
    }
}

/// Connects to a portal, `host[:port]` (port 3260 when absent, IPv6 addresses in brackets),
/// trying each address the host resolves to. `timeout` bounds the connection and then every
/// read and write; TCP_NODELAY is set, as PDUs are written whole.
pub fn connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let portal: TargetAddress =
        addr.parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    connect_to(&portal.host, portal.port, timeout)
}

/// [`connect`] to a host and port.
fn connect_to(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for sa in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&sa, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("{host} resolves to no address"))
    }))
}

/// A socket error, with the peer's hang-up (end of stream, reset, broken pipe) as
/// [`Error::Closed`].
fn io_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::Closed,
        _ => Error::Io(e),
    }
}

/// Writes one PDU.
fn send(stream: &mut TcpStream, framer: &Framer, pdu: &Pdu) -> Result<(), Error> {
    let wire = framer.encode(pdu)?;
    stream.write_all(&wire).map_err(io_error)
}

/// Reads exactly `n` more bytes onto `buf`.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Result<(), Error> {
    let start = buf.len();
    buf.resize(start + n, 0);
    let tail = buf.get_mut(start..).unwrap_or_default();
    stream.read_exact(tail).map_err(io_error)
}

/// Reads one PDU, taking from the socket no byte past it: the header first, then what it
/// announces. A data segment longer than the framer allows is refused before it is read.
fn recv(stream: &mut TcpStream, framer: &Framer) -> Result<Pdu, Error> {
    let mut buf = Vec::with_capacity(Bhs::LEN);
    read_more(stream, &mut buf, Bhs::LEN)?;
    let bhs = Bhs::parse(&buf)?;
    read_more(stream, &mut buf, bhs.ahs_len() + framer.digests.header.len())?;
    if let Some((pdu, _)) = framer.decode(&buf)? {
        return Ok(pdu);
    }
    // `decode` checked the length against our limit, so it fits in memory.
    let dsl = bhs.data_segment_length() as usize;
    let padded = dsl.next_multiple_of(4);
    read_more(stream, &mut buf, padded + framer.digests.data.len())?;
    match framer.decode(&buf)? {
        Some((pdu, _)) => Ok(pdu),
        // Cannot happen: the buffer holds all the header announced.
        None => Err(Error::Pdu(PduError::Truncated {
            what: "PDU",
            need: buf.len() + 1,
            have: buf.len(),
        })),
    }
}

/// Logs in over `stream` and returns the connection in the Full Feature Phase with its
/// session.
///
/// Each PDU the [`Login`] machine returns is written and the target's answer read back,
/// until the machine is done. A redirection closes the connection and starts again at the
/// address given (with the same read and write timeouts, and a connection timeout as long),
/// at most [`MAX_REDIRECTS`] times. Mutual CHAP challenges come from the operating system's
/// random number generator.
pub fn login(stream: TcpStream, cfg: LoginConfig) -> Result<LoggedIn, Error> {
    login_with(stream, cfg, || OsRandom)
}

/// [`login()`] with another source of CHAP challenges, made afresh for each connection.
pub fn login_with<R>(
    mut stream: TcpStream,
    cfg: LoginConfig,
    mut rng: impl FnMut() -> R,
) -> Result<LoggedIn, Error>
where
    R: ChallengeSource + Send + 'static,
{
    let timeout = stream.read_timeout()?.unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    let mut redirects = 0;
    loop {
        let (host, port) = match login_once(&mut stream, cfg.clone(), rng())? {
            Ended::Done(session) => return Ok(LoggedIn { stream, session }),
            Ended::Redirect { .. } if redirects >= MAX_REDIRECTS => {
                return Err(Error::TooManyRedirects(MAX_REDIRECTS));
            }
            Ended::Redirect { host, port } => (host, port),
        };
        let _ = stream.shutdown(Shutdown::Both);
        redirects += 1;
        stream = connect_to(&host, port, timeout)?;
    }
}

/// How one connection's login ended, when it did not fail.
enum Ended {
    /// Logged in.
    Done(Session),
    /// Sent elsewhere.
    Redirect {
        /// The host to connect to.
        host: String,
        /// Its port.
        port: u16,
    },
}

/// Runs the login machine over one connection.
fn login_once(
    stream: &mut TcpStream,
    cfg: LoginConfig,
    rng: impl ChallengeSource + Send + 'static,
) -> Result<Ended, Error> {
    // Login PDUs carry no digests, and a target's login text is at most 8192 bytes a PDU.
    let framer = Framer::default();
    let (mut machine, first) = Login::new(cfg, rng)?;
    send(stream, &framer, &first)?;
    loop {
        let pdu = recv(stream, &framer)?;
        match machine.receive(pdu)? {
            Step::Send(pdus) => {
                for pdu in &pdus {
                    send(stream, &framer, pdu)?;
                }
            }
            Step::Done(session) => return Ok(Ended::Done(*session)),
            Step::Redirect { address, port, .. } => {
                return Ok(Ended::Redirect { host: address, port });
            }
        }
    }
}

/// The framing of a session's Full Feature Phase: its digests, and our declared
/// MaxRecvDataSegmentLength.
fn session_framer(session: &Session) -> Framer {
    Framer::new(session.digests, session.params.max_recv_data_segment_length)
}

/// A fresh ISID of the random type (RFC 7143 10.12.5: type 0b10, a 22-bit random A-B-C
/// and a zero qualifier).
pub fn random_isid() -> Result<[u8; 6], Error> {
    let mut bytes = [0u8; 3];
    OsRandom.fill(&mut bytes).map_err(|e| Error::Io(io::Error::other(e)))?;
    Ok([0x80 | (bytes[0] & 0x3f), bytes[1], bytes[2], 0, 0, 0])
}

/// Lists a portal's targets: connects to `addr` (`host[:port]`), logs in to a discovery
/// session as `initiator_name` (with CHAP when `chap` is given), asks `SendTargets=All`,
/// logs out and closes the connection. `timeout` bounds the connection and each read and
/// write.
pub fn discover(
    addr: &str,
    initiator_name: &str,
    chap: Option<Credentials>,
    timeout: Duration,
) -> Result<Vec<DiscoveredTarget>, Error> {
    let mut cfg = LoginConfig::discovery(initiator_name, random_isid()?);
    cfg.chap = chap;
    let LoggedIn { mut stream, session } = login(connect(addr, timeout)?, cfg)?;
    let framer = session_framer(&session);
    let (mut machine, query) = Discovery::new(&session);
    send(&mut stream, &framer, &query)?;
    let mut targets = None;
    loop {
        let pdu = match recv(&mut stream, &framer) {
            // Some targets hang up at once after the logout response or in its stead.
            Err(Error::Closed) if targets.is_some() => break,
            other => other?,
        };
        match machine.receive(pdu)? {
            DiscoveryStep::Send(pdus) => {
                for pdu in &pdus {
                    send(&mut stream, &framer, pdu)?;
                }
            }
            DiscoveryStep::Targets(list) => {
                targets = Some(list);
                send(&mut stream, &framer, &machine.logout())?;
            }
            DiscoveryStep::Closed { .. } => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(targets.unwrap_or_default())
}

/// The most PDUs [`logout()`] reads while waiting for the Logout Response (NOP-In pings
/// are answered meanwhile).
pub const MAX_LOGOUT_PDUS: u32 = 64;

/// Logs out a session still driven from user space (before any hand-off to the kernel):
/// sends a Logout Request closing the session and waits for the Logout Response, answering
/// NOP-In pings meanwhile. The session's sequence numbers and next ITT are updated; the
/// target closes the connection afterwards, so `logged_in` is then only good for dropping.
pub fn logout(logged_in: &mut LoggedIn) -> Result<(), Error> {
    let LoggedIn { stream, session } = logged_in;
    let framer = session_framer(session);
    let itt = session.next_itt;
    session.next_itt = itt.wrapping_add(1);
    let request = Pdu::LogoutRequest(LogoutRequest {
        immediate: true,
        reason: LogoutReason::CloseSession,
        itt,
        cid: session.cid,
        cmd_sn: session.cmd_sn,
        exp_stat_sn: session.exp_stat_sn,
    });
    send(stream, &framer, &request)?;
    for _ in 0..MAX_LOGOUT_PDUS {
        match recv(stream, &framer)? {
            Pdu::LogoutResponse(r) if r.itt == itt => {
                session.stat_sn = r.stat_sn;
                session.exp_stat_sn = r.stat_sn.wrapping_add(1);
                session.exp_cmd_sn = r.exp_cmd_sn;
                session.max_cmd_sn = r.max_cmd_sn;
                return match r.response {
                    LogoutResponseCode::Success => Ok(()),
                    code => Err(Error::LogoutFailed(code)),
                };
            }
            Pdu::NopIn(nop) => {
                session.exp_cmd_sn = nop.exp_cmd_sn;
                session.max_cmd_sn = nop.max_cmd_sn;
                if nop.ttt != RESERVED_TAG {
                    let pong = Pdu::NopOut(NopOut {
                        immediate: true,
                        lun: nop.lun,
                        itt: RESERVED_TAG,
                        ttt: nop.ttt,
                        cmd_sn: session.cmd_sn,
                        exp_stat_sn: session.exp_stat_sn,
                        data: nop.data,
                    });
                    send(stream, &framer, &pong)?;
                }
            }
            other => return Err(Error::UnexpectedPdu(other.opcode()?)),
        }
    }
    Err(Error::UnexpectedPdu(Opcode::NopIn))
}
