//! `struct iscsi_uevent`: the payload of every NETLINK_ISCSI message, its typed requests, and
//! the replies and events read back from it.
//!
//! The layout is Linux 6.1's `include/scsi/iscsi_if.h` on x86_64 (and every 64-bit Linux
//! ABI), in native byte order, 8-byte aligned:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0      | 4    | `type` ([`UeventType`]) |
//! | 4      | 4    | `iferror` (a negative errno, as `u32`) |
//! | 8      | 8    | `transport_handle` |
//! | 16     | 24   | `u`: the union of requests (largest: `b_conn` and `stop_conn`, 20 bytes padded to 24) |
//! | 40     | 16   | `r`: the union of replies and events (largest: `recv_req` and `ping_comp`, 16) |
//!
//! 56 bytes in all ([`UEVENT_SIZE`]). Data that goes with a message (the value of
//! `SET_PARAM`, the PDU of `RECV_PDU`) follows the struct.

use super::codes::{IscsiErr, Param, StopConnFlag, UeventType};

/// `sizeof(struct iscsi_uevent)`.
pub const UEVENT_SIZE: usize = 56;

/// Offsets of the fields of `struct iscsi_uevent`, from the C layout (the `offsetof`s of
/// Linux 6.1, x86_64).
pub mod offset {
    /// `type`.
    pub const TYPE: usize = 0;
    /// `iferror`.
    pub const IFERROR: usize = 4;
    /// `transport_handle`.
    pub const TRANSPORT_HANDLE: usize = 8;
    /// The request union `u`.
    pub const U: usize = 16;
    /// The reply union `r`.
    pub const R: usize = 40;
    /// `u.c_session.initial_cmdsn`.
    pub const C_SESSION_INITIAL_CMDSN: usize = 16;
    /// `u.c_session.cmds_max` (`u16`).
    pub const C_SESSION_CMDS_MAX: usize = 20;
    /// `u.c_session.queue_depth` (`u16`).
    pub const C_SESSION_QUEUE_DEPTH: usize = 22;
    /// `sid` of `u.d_session`, `u.c_conn`, `u.b_conn`, `u.d_conn`, `u.set_param`,
    /// `u.start_conn`, `u.stop_conn`.
    pub const U_SID: usize = 16;
    /// `cid` of `u.c_conn`, `u.b_conn`, `u.d_conn`, `u.set_param`, `u.start_conn`,
    /// `u.stop_conn`.
    pub const U_CID: usize = 20;
    /// `u.b_conn.transport_eph` (`u64`).
    pub const B_CONN_TRANSPORT_EPH: usize = 24;
    /// `u.b_conn.is_leading`.
    pub const B_CONN_IS_LEADING: usize = 32;
    /// `u.set_param.param`.
    pub const SET_PARAM_PARAM: usize = 24;
    /// `u.set_param.len`.
    pub const SET_PARAM_LEN: usize = 28;
    /// `u.stop_conn.conn_handle` (`u64`).
    pub const STOP_CONN_CONN_HANDLE: usize = 24;
    /// `u.stop_conn.flag`.
    pub const STOP_CONN_FLAG: usize = 32;
    /// `u.send_pdu.hdr_size`.
    pub const SEND_PDU_HDR_SIZE: usize = 24;
    /// `u.send_pdu.data_size`.
    pub const SEND_PDU_DATA_SIZE: usize = 28;
    /// `r.retcode` (`int`).
    pub const R_RETCODE: usize = 40;
    /// `r.c_session_ret.sid`, `r.c_conn_ret.sid`, `r.unbind_session.sid`,
    /// `r.connerror.sid`, `r.conn_login.sid`, `r.recv_req.sid`.
    pub const R_SID: usize = 40;
    /// `r.c_session_ret.host_no`, `r.unbind_session.host_no`.
    pub const R_HOST_NO: usize = 44;
    /// `r.c_conn_ret.cid`, `r.connerror.cid`, `r.conn_login.cid`, `r.recv_req.cid`.
    pub const R_CID: usize = 44;
    /// `r.connerror.error`, `r.conn_login.state`.
    pub const R_ERROR: usize = 48;
    /// `r.d_session.host_no` (`ISCSI_KEVENT_DESTROY_SESSION`: host first, then sid).
    pub const R_D_SESSION_HOST_NO: usize = 40;
    /// `r.d_session.sid`.
    pub const R_D_SESSION_SID: usize = 44;
}

// The layout, checked when compiling: the unions follow the 16-byte head, `u` is 24 bytes
// (its largest members, `b_conn` and `stop_conn`, are 4 + 4 + 8 + 4 bytes padded to 8), `r`
// 16, and the whole is a multiple of its 8-byte alignment.
const _: () = {
    assert!(offset::U == offset::TRANSPORT_HANDLE + 8);
    assert!(offset::R == offset::U + 24);
    assert!(UEVENT_SIZE == offset::R + 16);
    assert!(UEVENT_SIZE % 8 == 0);
    assert!(offset::B_CONN_IS_LEADING + 4 <= offset::R);
    assert!(offset::STOP_CONN_FLAG + 4 <= offset::R);
    assert!(offset::R_ERROR + 4 <= UEVENT_SIZE);
};

/// The longest parameter value the kernel takes (it refuses `len > PAGE_SIZE`), with its NUL.
pub const MAX_PARAM_LEN: usize = 4096;

/// A request that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The kernel reads values up to their first NUL.
    #[error("the value of {0} contains a NUL byte")]
    NulInValue(Param),
    /// Longer than a page with its NUL.
    #[error("the value of {param} is {len} bytes, more than the kernel's {MAX_PARAM_LEN}")]
    ValueTooLong {
        /// The parameter.
        param: Param,
        /// The value's length with its NUL.
        len: usize,
    },
    /// A PDU data segment longer than this crate sends through the kernel.
    #[error("a {0}-byte PDU data segment is more than the {MAX_PARAM_LEN} sent through the kernel")]
    PduTooLong(usize),
}

/// A message from the kernel that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Shorter than `struct iscsi_uevent`.
    #[error("uevent of {0} bytes, shorter than the {UEVENT_SIZE} of struct iscsi_uevent")]
    Short(usize),
    /// A `type` this crate does not know.
    #[error("unknown uevent type {0}")]
    UnknownType(u32),
    /// A reply whose `type` is neither the request's nor `ISCSI_KEVENT_IF_ERROR`.
    #[error("reply to {request} carries type {found}")]
    Mismatch {
        /// The request answered.
        request: UeventType,
        /// The type in the reply.
        found: u32,
    },
    /// A reply to something that is not a request, or an event that is not an up event.
    #[error("{0} is not expected here")]
    Unexpected(UeventType),
}

/// A typed request from user space to the kernel (a down event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `ISCSI_UEVENT_CREATE_SESSION`: a session and its SCSI host.
    CreateSession {
        /// The CmdSN of the session's first command.
        initial_cmdsn: u32,
        /// The most commands outstanding (the kernel rounds it to a power of two).
        cmds_max: u16,
        /// The SCSI queue depth of each device.
        queue_depth: u16,
    },
    /// `ISCSI_UEVENT_DESTROY_SESSION`: removes a session with no connections left.
    DestroySession {
        /// The session.
        sid: u32,
    },
    /// `ISCSI_UEVENT_CREATE_CONN`: a connection in a session.
    CreateConn {
        /// The session.
        sid: u32,
        /// The iSCSI connection ID.
        cid: u32,
    },
    /// `ISCSI_UEVENT_DESTROY_CONN`.
    DestroyConn {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
    },
    /// `ISCSI_UEVENT_BIND_CONN`: gives a connection its transport (for `iscsi_tcp`, the
    /// connected TCP socket, by its file descriptor in the sending process).
    BindConn {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// The transport endpoint: for `iscsi_tcp`, the socket's file descriptor.
        transport_eph: u64,
        /// Whether this is the session's leading connection.
        is_leading: bool,
    },
    /// `ISCSI_UEVENT_SET_PARAM`: one parameter, as text after the struct.
    SetParam {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// The parameter.
        param: Param,
        /// Its value (decimal for numbers, `0`/`1` for booleans); sent NUL-terminated.
        value: String,
    },
    /// `ISCSI_UEVENT_START_CONN`: the connection enters the Full Feature Phase in the kernel.
    StartConn {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
    },
    /// `ISCSI_UEVENT_SEND_PDU`: the kernel sends a PDU on a running connection (filling in
    /// its task tag and sequence numbers); its answer comes back as an
    /// [`Event::RecvPdu`].
    SendPdu {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// The 48-byte header.
        header: [u8; 48],
        /// The data segment (unpadded).
        data: Vec<u8>,
    },
    /// `ISCSI_UEVENT_STOP_CONN`.
    StopConn {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// Why: [`StopConnFlag::Term`] to end it.
        flag: StopConnFlag,
    },
}

/// Writes a native-endian `u16` at `at`.
fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}

/// Writes a native-endian `u32` at `at`.
fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

/// Writes a native-endian `u64` at `at`.
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

impl Request {
    /// The uevent type, which is also the netlink message type.
    pub fn event_type(&self) -> UeventType {
        match self {
            Request::CreateSession { .. } => UeventType::CreateSession,
            Request::DestroySession { .. } => UeventType::DestroySession,
            Request::CreateConn { .. } => UeventType::CreateConn,
            Request::DestroyConn { .. } => UeventType::DestroyConn,
            Request::BindConn { .. } => UeventType::BindConn,
            Request::SetParam { .. } => UeventType::SetParam,
            Request::StartConn { .. } => UeventType::StartConn,
            Request::StopConn { .. } => UeventType::StopConn,
            Request::SendPdu { .. } => UeventType::SendPdu,
        }
    }

    /// The bytes [`Request::emit`] writes: the struct, and for `SetParam` the value and its
    /// NUL.
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::SetParam { value, .. } => UEVENT_SIZE + value.len() + 1,
            Request::SendPdu { data, .. } => UEVENT_SIZE + 48 + data.len(),
            _ => UEVENT_SIZE,
        }
    }

    /// Checks that the request can be encoded as the kernel reads it.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if let Request::SendPdu { data, .. } = self
            && data.len() > MAX_PARAM_LEN
        {
            return Err(EncodeError::PduTooLong(data.len()));
        }
        if let Request::SetParam { param, value, .. } = self {
            if value.as_bytes().contains(&0) {
                return Err(EncodeError::NulInValue(*param));
            }
            if value.len() + 1 > MAX_PARAM_LEN {
                return Err(EncodeError::ValueTooLong { param: *param, len: value.len() + 1 });
            }
        }
        Ok(())
    }

    /// Writes the request into `buf`, which must hold [`Request::encoded_len`] bytes (and is
    /// overwritten whole, zeros included). Call [`Request::validate`] first: a value with a
    /// NUL would be cut by the kernel.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than [`Request::encoded_len`].
    pub fn emit(&self, transport_handle: u64, buf: &mut [u8]) {
        let len = self.encoded_len();
        let buf = &mut buf[..len];
        buf.fill(0);
        put_u32(buf, offset::TYPE, self.event_type().code());
        put_u64(buf, offset::TRANSPORT_HANDLE, transport_handle);
        match self {
            Request::CreateSession { initial_cmdsn, cmds_max, queue_depth } => {
                put_u32(buf, offset::C_SESSION_INITIAL_CMDSN, *initial_cmdsn);
                put_u16(buf, offset::C_SESSION_CMDS_MAX, *cmds_max);
                put_u16(buf, offset::C_SESSION_QUEUE_DEPTH, *queue_depth);
            }
            Request::DestroySession { sid } => put_u32(buf, offset::U_SID, *sid),
            Request::CreateConn { sid, cid }
            | Request::DestroyConn { sid, cid }
            | Request::StartConn { sid, cid } => {
                put_u32(buf, offset::U_SID, *sid);
                put_u32(buf, offset::U_CID, *cid);
            }
            Request::BindConn { sid, cid, transport_eph, is_leading } => {
                put_u32(buf, offset::U_SID, *sid);
                put_u32(buf, offset::U_CID, *cid);
                put_u64(buf, offset::B_CONN_TRANSPORT_EPH, *transport_eph);
                put_u32(buf, offset::B_CONN_IS_LEADING, u32::from(*is_leading));
            }
            Request::SetParam { sid, cid, param, value } => {
                put_u32(buf, offset::U_SID, *sid);
                put_u32(buf, offset::U_CID, *cid);
                put_u32(buf, offset::SET_PARAM_PARAM, param.code());
                // The length counts the NUL, as the kernel checks strlen(data) <= len.
                let n = value.len() + 1;
                put_u32(buf, offset::SET_PARAM_LEN, n as u32);
                buf[UEVENT_SIZE..UEVENT_SIZE + value.len()].copy_from_slice(value.as_bytes());
            }
            Request::StopConn { sid, cid, flag } => {
                put_u32(buf, offset::U_SID, *sid);
                put_u32(buf, offset::U_CID, *cid);
                // conn_handle stays 0: the kernel finds the connection by sid and cid.
                put_u32(buf, offset::STOP_CONN_FLAG, flag.code());
            }
            Request::SendPdu { sid, cid, header, data } => {
                put_u32(buf, offset::U_SID, *sid);
                put_u32(buf, offset::U_CID, *cid);
                put_u32(buf, offset::SEND_PDU_HDR_SIZE, header.len() as u32);
                put_u32(buf, offset::SEND_PDU_DATA_SIZE, data.len() as u32);
                buf[UEVENT_SIZE..UEVENT_SIZE + 48].copy_from_slice(header);
                buf[UEVENT_SIZE + 48..].copy_from_slice(data);
            }
        }
    }

    /// The request as bytes: [`Request::validate`], then [`Request::emit`].
    pub fn to_bytes(&self, transport_handle: u64) -> Result<Vec<u8>, EncodeError> {
        self.validate()?;
        let mut buf = vec![0; self.encoded_len()];
        self.emit(transport_handle, &mut buf);
        Ok(buf)
    }
}

/// A `struct iscsi_uevent` as read from the kernel, untyped, with what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUevent {
    /// `type`.
    pub kind: u32,
    /// `iferror`: a negative errno as `u32`, when `kind` is `ISCSI_KEVENT_IF_ERROR`.
    pub iferror: u32,
    /// `transport_handle`.
    pub transport_handle: u64,
    /// The request union `u`, as echoed back.
    pub u: [u8; 24],
    /// The reply union `r`.
    pub r: [u8; 16],
    /// The bytes after the struct (the PDU of `RECV_PDU`, for example).
    pub data: Vec<u8>,
}

/// Reads a native-endian `u32` from a field known to be in range.
fn get_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(b)
}

/// Reads a native-endian `u64` from a field known to be in range.
fn get_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(b)
}

impl RawUevent {
    /// Reads the struct from the start of `bytes`; the rest becomes [`RawUevent::data`].
    pub fn parse(bytes: &[u8]) -> Result<RawUevent, ParseError> {
        if bytes.len() < UEVENT_SIZE {
            return Err(ParseError::Short(bytes.len()));
        }
        let mut u = [0; 24];
        u.copy_from_slice(&bytes[offset::U..offset::R]);
        let mut r = [0; 16];
        r.copy_from_slice(&bytes[offset::R..UEVENT_SIZE]);
        Ok(RawUevent {
            kind: get_u32(bytes, offset::TYPE),
            iferror: get_u32(bytes, offset::IFERROR),
            transport_handle: get_u64(bytes, offset::TRANSPORT_HANDLE),
            u,
            r,
            data: bytes[UEVENT_SIZE..].to_vec(),
        })
    }

    /// A `u32` of the reply union, by its offset in the whole struct (see [`offset`]).
    pub fn r_u32(&self, at: usize) -> u32 {
        get_u32(&self.r, at - offset::R)
    }

    /// A `u32` of the request union, by its offset in the whole struct.
    pub fn u_u32(&self, at: usize) -> u32 {
        get_u32(&self.u, at - offset::U)
    }
}

/// The kernel's answer to a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `CREATE_SESSION` succeeded (`r.c_session_ret`).
    SessionCreated {
        /// The session ID (`/sys/class/iscsi_session/session<sid>`).
        sid: u32,
        /// The SCSI host number (`/sys/class/scsi_host/host<host_no>`).
        host_no: u32,
    },
    /// `CREATE_CONN` succeeded (`r.c_conn_ret`).
    ConnCreated {
        /// The session.
        sid: u32,
        /// The connection ID.
        cid: u32,
    },
    /// Any other request was carried out; `retcode` is the transport's result where it gives
    /// one (`BIND_CONN`, `START_CONN`: 0 or a negative errno), 0 otherwise.
    Done {
        /// `r.retcode`.
        retcode: i32,
    },
    /// The kernel refused the request (`ISCSI_KEVENT_IF_ERROR`).
    IfError {
        /// The errno, negative (`-EINVAL`, `-ENOSYS`...).
        errno: i32,
    },
}

impl Reply {
    /// Reads the reply to a request of type `request` (the netlink message type of the
    /// reply, which the kernel copies from the request).
    pub fn parse(request: UeventType, payload: &[u8]) -> Result<Reply, ParseError> {
        let ev = RawUevent::parse(payload)?;
        if !request.is_request() {
            return Err(ParseError::Unexpected(request));
        }
        if ev.kind == UeventType::IfError.code() {
            return Ok(Reply::IfError { errno: ev.iferror as i32 });
        }
        if ev.kind != request.code() {
            return Err(ParseError::Mismatch { request, found: ev.kind });
        }
        Ok(match request {
            UeventType::CreateSession | UeventType::CreateBoundSession => Reply::SessionCreated {
                sid: ev.r_u32(offset::R_SID),
                host_no: ev.r_u32(offset::R_HOST_NO),
            },
            UeventType::CreateConn => {
                Reply::ConnCreated { sid: ev.r_u32(offset::R_SID), cid: ev.r_u32(offset::R_CID) }
            }
            _ => Reply::Done { retcode: ev.r_u32(offset::R_RETCODE) as i32 },
        })
    }
}

/// An event the kernel sends on its own (an up event, to the iscsid multicast group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `ISCSI_KEVENT_CONN_ERROR`: the connection failed; user space must stop it (and
    /// recover or end the session).
    ConnError {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// An `enum iscsi_err` code ([`IscsiErr::from_code`] names the known ones).
        error: u32,
    },
    /// `ISCSI_KEVENT_CONN_LOGIN_STATE` (offload logins).
    ConnLoginState {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// An `enum iscsi_conn_state` ([`super::codes::ConnLoginState::from_code`]).
        state: u32,
    },
    /// `ISCSI_KEVENT_CREATE_SESSION`: a session was created.
    SessionCreated {
        /// The session.
        sid: u32,
        /// Its SCSI host.
        host_no: u32,
    },
    /// `ISCSI_KEVENT_DESTROY_SESSION`: a session is gone.
    SessionDestroyed {
        /// The session.
        sid: u32,
        /// Its SCSI host.
        host_no: u32,
    },
    /// `ISCSI_KEVENT_UNBIND_SESSION`: a session's target was removed.
    SessionUnbound {
        /// The session.
        sid: u32,
        /// Its SCSI host.
        host_no: u32,
    },
    /// `ISCSI_KEVENT_RECV_PDU`: a PDU the kernel passes up (before start, or one it does not
    /// handle itself).
    RecvPdu {
        /// The session.
        sid: u32,
        /// The connection.
        cid: u32,
        /// The PDU: its 48-byte header, then its data.
        pdu: Vec<u8>,
    },
    /// `ISCSI_KEVENT_IF_ERROR` outside a reply.
    IfError {
        /// The errno, negative.
        errno: i32,
    },
    /// Any other up event, left raw.
    Other {
        /// Its type.
        kind: UeventType,
        /// The whole uevent.
        raw: RawUevent,
    },
}

impl Event {
    /// Reads an event (a message the kernel multicasts, netlink message type 0).
    pub fn parse(payload: &[u8]) -> Result<Event, ParseError> {
        let ev = RawUevent::parse(payload)?;
        let kind = UeventType::from_code(ev.kind).ok_or(ParseError::UnknownType(ev.kind))?;
        let sid = ev.r_u32(offset::R_SID);
        let cid = ev.r_u32(offset::R_CID);
        Ok(match kind {
            UeventType::ConnError => {
                Event::ConnError { sid, cid, error: ev.r_u32(offset::R_ERROR) }
            }
            UeventType::ConnLoginState => {
                Event::ConnLoginState { sid, cid, state: ev.r_u32(offset::R_ERROR) }
            }
            UeventType::KCreateSession => {
                Event::SessionCreated { sid, host_no: ev.r_u32(offset::R_HOST_NO) }
            }
            UeventType::KDestroySession => Event::SessionDestroyed {
                sid: ev.r_u32(offset::R_D_SESSION_SID),
                host_no: ev.r_u32(offset::R_D_SESSION_HOST_NO),
            },
            UeventType::KUnbindSession => {
                Event::SessionUnbound { sid, host_no: ev.r_u32(offset::R_HOST_NO) }
            }
            UeventType::RecvPdu => Event::RecvPdu { sid, cid, pdu: ev.data },
            UeventType::IfError => Event::IfError { errno: ev.iferror as i32 },
            k if k.is_request() || k == UeventType::Unknown => {
                return Err(ParseError::Unexpected(k));
            }
            kind => Event::Other { kind, raw: ev },
        })
    }

    /// The session the event is about, if any.
    pub fn sid(&self) -> Option<u32> {
        match self {
            Event::ConnError { sid, .. }
            | Event::ConnLoginState { sid, .. }
            | Event::SessionCreated { sid, .. }
            | Event::SessionDestroyed { sid, .. }
            | Event::SessionUnbound { sid, .. }
            | Event::RecvPdu { sid, .. } => Some(*sid),
            Event::IfError { .. } | Event::Other { .. } => None,
        }
    }

    /// For a connection error, the error named, if the header knows it.
    pub fn conn_error(&self) -> Option<IscsiErr> {
        match self {
            Event::ConnError { error, .. } => IscsiErr::from_code(*error),
            _ => None,
        }
    }
}
