//! The kernel's TCM-USER generic netlink family, for a daemon that serves TCMU devices
//! ("runner mode", in place of tcmu-runner): the events the kernel multicasts when a user
//! backstore is enabled, removed or reconfigured, the replies it waits for, and the module
//! parameters that unblock a kernel left waiting.
//!
//! How the kernel uses the family (`drivers/target/target_core_user.c`, Linux 6.1, unchanged
//! since in this part):
//!
//! - The family "TCM-USER" (version 2, no family header) has a dynamic id, resolved through
//!   nlctrl, and one multicast group, "config", which anyone may join.
//! - Each event (ADDED_DEVICE 1, REMOVED_DEVICE 2, RECONFIG_DEVICE 3) carries the UIO name
//!   (`tcm-user/<hba>/<name>/<dev_config>`), the UIO minor and the device's index;
//!   RECONFIG adds one of the new dev_config, size or write-cache setting.
//! - Once a daemon has sent SET_FEATURES with reply support (a module-wide flag that outlives
//!   the daemon), the writer of `enable`, `rmdir` or the reconfigured attribute sleeps,
//!   uninterruptibly and with no time-out, until a reply (the event's command + 3, with a
//!   status and the same device index) arrives. Every event must therefore be answered, with
//!   an error status if need be, and the reply needs CAP_NET_ADMIN in the initial user
//!   namespace.
//! - A reply with another DONE command than the event's takes the kernel's pending entry
//!   off its list without completing it: the writer then hangs for good. This module only
//!   builds replies from the event's own command.
//!
//! What comes from the kernel is parsed as untrusted: a malformed message is an error for that
//! message, never a panic, and nothing is allocated by a length read from it.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NLM_F_ACK, NLM_F_REQUEST, NetlinkDeserializable,
    NetlinkMessage, NetlinkPayload, Nla, NlaBuffer, NlasIterator, Parseable, ParseableParametrized,
    emit_i32, emit_u32, parse_i32, parse_string, parse_u8, parse_u16, parse_u32, parse_u64,
};
use netlink_packet_generic::constants::{
    CTRL_ATTR_FAMILY_ID, CTRL_ATTR_MCAST_GROUPS, CTRL_ATTR_MCAST_GRP_ID, CTRL_ATTR_MCAST_GRP_NAME,
};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd, nlas::GenlCtrlAttrs};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, setsockopt, sockopt};

/// The generic netlink family of `target_core_user`.
pub const FAMILY_NAME: &str = "TCM-USER";
/// Its multicast group, where the events are sent.
pub const GROUP_NAME: &str = "config";
/// Where the kernel's module parameters are ([`ModuleParams::system`]).
pub const MODULE_PARAMETERS: &str = "/sys/module/target_core_user/parameters";

/// The family's version; the kernel sends it in events, and a reply carries it too (the
/// kernel does not check it, tcmu-runner sends 2).
const VERSION: u8 = 2;

// `enum tcmu_genl_cmd` (include/uapi/linux/target_core_user.h).
const CMD_ADDED_DEVICE: u8 = 1;
const CMD_REMOVED_DEVICE: u8 = 2;
const CMD_RECONFIG_DEVICE: u8 = 3;
/// A reply's command is its event's plus this (ADDED_DEVICE_DONE 4 ... RECONFIG_DEVICE_DONE 6).
const DONE_OFFSET: u8 = 3;
const CMD_SET_FEATURES: u8 = 7;

// `enum tcmu_genl_attr`, all host-endian.
const ATTR_DEVICE: u16 = 1;
const ATTR_MINOR: u16 = 2;
const ATTR_DEV_CFG: u16 = 4;
const ATTR_DEV_SIZE: u16 = 5;
const ATTR_WRITECACHE: u16 = 6;
const ATTR_CMD_STATUS: u16 = 7;
const ATTR_DEVICE_ID: u16 = 8;
const ATTR_SUPP_KERN_CMD_REPLY: u16 = 9;

/// `struct nlmsghdr`'s size.
const NLMSG_HDRLEN: usize = 16;

/// The event socket's receive buffer. An event is a few hundred bytes (about 1 KiB of
/// buffer space each); a burst of device creations must fit, since an event lost to an
/// overrun is never sent again.
const EVENT_RCVBUF: usize = 1 << 20;
/// What one `recv` reads. The kernel builds each event in its own `NLMSG_GOODSIZE` (at most a
/// page) message, and nlctrl's answer about one family is about a kilobyte.
const RECV_BUFFER: usize = 64 * 1024;
/// How long the control socket waits for the kernel's answer. The kernel answers inside the
/// `send` itself, so this is only reached if something is badly wrong.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Renders a (positive) errno with the system's text.
fn errno_text(errno: i32) -> String {
    format!("errno {errno}: {}", io::Error::from_raw_os_error(errno))
}

/// What went wrong with the TCM-USER family or the module's parameters, in words that say
/// what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenlError {
    /// nlctrl does not know the family: the module is not loaded.
    #[error(
        "the generic netlink family TCM-USER is not registered: the kernel module target_core_user is not loaded: run `modprobe target_core_user`"
    )]
    ModuleNotLoaded,
    /// The family has no "config" group: not the `target_core_user` this code was written for.
    #[error(
        "the generic netlink family TCM-USER has no multicast group \"config\": this kernel's target_core_user does not send device events this daemon can receive"
    )]
    NoGroup,
    /// A socket operation failed.
    #[error("{op}: netlink socket: {source}")]
    Socket {
        /// What was being done.
        op: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a request with this errno.
    #[error("{op}: refused by the kernel ({})", errno_text(*errno))]
    Kernel {
        /// What was being done.
        op: &'static str,
        /// The (positive) errno.
        errno: i32,
    },
    /// The kernel refused a request for lack of privilege.
    #[error(
        "{op}: not permitted: talking to TCM-USER needs CAP_NET_ADMIN in the initial user namespace (run as root, outside a container's user namespace)"
    )]
    NotPermitted {
        /// What was being done.
        op: &'static str,
    },
    /// The kernel did not answer on the control socket.
    #[error("{op}: no answer from the kernel within {waited:?}")]
    NoAnswer {
        /// What was being done.
        op: &'static str,
        /// How long we waited.
        waited: Duration,
    },
    /// The event socket's buffer overflowed: events were lost.
    #[error(
        "TCM-USER events were lost (the event socket overflowed): rescan /sys/class/uio and reconcile the devices served with what the kernel has"
    )]
    Overrun,
    /// A netlink message that could not be read (its length, headers or attributes).
    #[error("malformed netlink message from the kernel: {0}")]
    Malformed(String),
    /// A TCM-USER message that is not a usable event. If `command` is an event's (1 to 3) and
    /// `device_id` is known, answer it anyway with an error status
    /// ([`TcmuNetlink::reply_to`]): the kernel may be waiting for it.
    #[error("unusable TCM-USER event (command {command}, device id {device_id:?}): {reason}")]
    BadEvent {
        /// The genetlink command.
        command: u8,
        /// `TCMU_ATTR_DEVICE_ID`, if it could be read.
        device_id: Option<u32>,
        /// What is wrong.
        reason: String,
    },
    /// A module parameter file does not exist.
    #[error(
        "{path} does not exist: this kernel's target_core_user cannot block or reset netlink commands; go on without that recovery"
    )]
    ParamMissing {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing a module parameter failed.
    #[error("{op} {path}: {source}")]
    Param {
        /// "read" or "write".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A module parameter read back something unexpected.
    #[error("{path} reads {value:?}, expected \"blocked\" or \"unblocked\"")]
    ParamValue {
        /// The file.
        path: PathBuf,
        /// What it held.
        value: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Events

/// What the kernel asks about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// TCMU_CMD_ADDED_DEVICE: the device is being enabled; serve its ring, then reply.
    Added,
    /// TCMU_CMD_REMOVED_DEVICE: the device is being removed; stop serving it, then reply.
    Removed,
    /// TCMU_CMD_RECONFIG_DEVICE: a setting is being changed; the kernel stores it only if the
    /// reply's status is 0.
    Reconfig(Reconfig),
}

impl EventKind {
    /// The genetlink command of this event (1, 2 or 3).
    pub fn command(&self) -> u8 {
        match self {
            EventKind::Added => CMD_ADDED_DEVICE,
            EventKind::Removed => CMD_REMOVED_DEVICE,
            EventKind::Reconfig(_) => CMD_RECONFIG_DEVICE,
        }
    }
}

/// What a RECONFIG_DEVICE event changes: the kernel sends exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconfig {
    /// TCMU_ATTR_DEV_CFG: the new dev_config, without the trailing newline (`echo`) or NULs
    /// the written page may carry. The event's UIO name still holds the old one.
    Config(String),
    /// TCMU_ATTR_DEV_SIZE: the new size in bytes.
    Size(u64),
    /// TCMU_ATTR_WRITECACHE: the new emulate_write_cache.
    WriteCache(bool),
    /// None of those was present (answer -EOPNOTSUPP, as tcmu-runner does).
    Unknown,
}

/// One event from the kernel, with what is needed to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEvent {
    /// What is asked.
    pub kind: EventKind,
    /// TCMU_ATTR_DEVICE: the UIO name, `tcm-user/<hba>/<name>/<dev_config>` (taken apart by
    /// `tcmu_ring::uio::TcmuName`).
    pub uio_name: String,
    /// TCMU_ATTR_MINOR: the device is `/dev/uio<minor>`.
    pub minor: u32,
    /// TCMU_ATTR_DEVICE_ID: the device's index, which the reply must carry.
    pub device_id: u32,
}

impl DeviceEvent {
    /// The command of the reply to this event: the event's + 3 (any other leaves the kernel's
    /// writer hung for good).
    pub fn reply_command(&self) -> u8 {
        self.kind.command() + DONE_OFFSET
    }
}

/// One TCM-USER attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TcmuAttr {
    Device(String),
    Minor(u32),
    DevCfg(String),
    DevSize(u64),
    WriteCache(u8),
    CmdStatus(i32),
    DeviceId(u32),
    SuppKernCmdReply(u8),
    /// PAD (before a u64 on some architectures) and kinds newer than this code: kept, not
    /// refused, so a newer kernel's extra attribute does not make an event unanswerable.
    Other(DefaultNla),
}

impl Nla for TcmuAttr {
    fn value_len(&self) -> usize {
        match self {
            // NLA_STRING: the kernel's strings end with a NUL.
            TcmuAttr::Device(s) | TcmuAttr::DevCfg(s) => s.len() + 1,
            TcmuAttr::Minor(_) | TcmuAttr::CmdStatus(_) | TcmuAttr::DeviceId(_) => 4,
            TcmuAttr::DevSize(_) => 8,
            TcmuAttr::WriteCache(_) | TcmuAttr::SuppKernCmdReply(_) => 1,
            TcmuAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            TcmuAttr::Device(_) => ATTR_DEVICE,
            TcmuAttr::Minor(_) => ATTR_MINOR,
            TcmuAttr::DevCfg(_) => ATTR_DEV_CFG,
            TcmuAttr::DevSize(_) => ATTR_DEV_SIZE,
            TcmuAttr::WriteCache(_) => ATTR_WRITECACHE,
            TcmuAttr::CmdStatus(_) => ATTR_CMD_STATUS,
            TcmuAttr::DeviceId(_) => ATTR_DEVICE_ID,
            TcmuAttr::SuppKernCmdReply(_) => ATTR_SUPP_KERN_CMD_REPLY,
            TcmuAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        // `buf` is exactly `value_len()` long (netlink-packet-core slices it so), which makes
        // the helpers' length checks always pass.
        match self {
            TcmuAttr::Device(s) | TcmuAttr::DevCfg(s) => {
                let (text, nul) = buf.split_at_mut(s.len());
                text.copy_from_slice(s.as_bytes());
                nul.fill(0);
            }
            TcmuAttr::Minor(v) | TcmuAttr::DeviceId(v) => {
                let _ = emit_u32(buf, *v);
            }
            TcmuAttr::CmdStatus(v) => {
                let _ = emit_i32(buf, *v);
            }
            TcmuAttr::DevSize(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            TcmuAttr::WriteCache(v) | TcmuAttr::SuppKernCmdReply(v) => buf.fill(*v),
            TcmuAttr::Other(nla) => nla.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for TcmuAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        // The parse_* helpers refuse a value of the wrong length.
        Ok(match buf.kind() {
            ATTR_DEVICE => TcmuAttr::Device(parse_string(v)?),
            ATTR_MINOR => TcmuAttr::Minor(parse_u32(v)?),
            ATTR_DEV_CFG => TcmuAttr::DevCfg(parse_string(v)?),
            ATTR_DEV_SIZE => TcmuAttr::DevSize(parse_u64(v)?),
            ATTR_WRITECACHE => TcmuAttr::WriteCache(parse_u8(v)?),
            ATTR_CMD_STATUS => TcmuAttr::CmdStatus(parse_i32(v)?),
            ATTR_DEVICE_ID => TcmuAttr::DeviceId(parse_u32(v)?),
            ATTR_SUPP_KERN_CMD_REPLY => TcmuAttr::SuppKernCmdReply(parse_u8(v)?),
            _ => TcmuAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// A TCM-USER message: the genetlink command and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TcmuMessage {
    cmd: u8,
    attrs: Vec<TcmuAttr>,
    /// The first attribute that could not be read, if any. Parsing goes on past it so that
    /// DEVICE_ID, and with it a reply, may still be found.
    defect: Option<String>,
}

impl TcmuMessage {
    fn new(cmd: u8, attrs: Vec<TcmuAttr>) -> TcmuMessage {
        TcmuMessage { cmd, attrs, defect: None }
    }
}

impl GenlFamily for TcmuMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        VERSION
    }
}

impl Emitable for TcmuMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for TcmuMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let mut msg = TcmuMessage::new(header.cmd, Vec::new());
        // The iterator ends after a malformed attribute header; a bad value is skipped.
        for nla in NlasIterator::new(buf) {
            match nla.and_then(|nla| TcmuAttr::parse(&nla)) {
                Ok(attr) => msg.attrs.push(attr),
                Err(e) => {
                    msg.defect.get_or_insert_with(|| e.to_string());
                }
            }
        }
        Ok(msg)
    }
}

/// The netlink messages of one datagram, each as its bytes; stops at the first whose length
/// cannot be trusted (reporting it).
fn messages(datagram: &[u8]) -> impl Iterator<Item = Result<&[u8], GenlError>> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = match rest.get(..4) {
            Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
            None => 0,
        };
        if len < NLMSG_HDRLEN || len > rest.len() {
            let left = rest.len();
            rest = &[];
            return Some(Err(GenlError::Malformed(format!(
                "netlink message of length {len} in the {left} bytes left"
            ))));
        }
        let (msg, _) = rest.split_at(len);
        // Messages are 4-byte aligned; the last one's padding may be missing.
        rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
        Some(Ok(msg))
    })
}

/// A message's `nlmsg_type` (the caller has checked it holds a whole header).
fn message_type(msg: &[u8]) -> u16 {
    u16::from_ne_bytes([msg[4], msg[5]])
}

/// A message's `nlmsg_seq` (the caller has checked it holds a whole header).
fn message_seq(msg: &[u8]) -> u32 {
    u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]])
}

/// Parses one datagram from the event socket: every message in it whose `nlmsg_type` is
/// `family` (others are skipped), each an event or the reason it is not one. A message missing
/// DEVICE, MINOR or DEVICE_ID is an error for that message: log it, and answer it if its
/// [`GenlError::BadEvent`] has a device id. A datagram whose framing breaks ends at that
/// point with an error.
pub fn parse_events(datagram: &[u8], family: u16) -> Vec<Result<DeviceEvent, GenlError>> {
    let mut out = Vec::new();
    for msg in messages(datagram) {
        match msg {
            Ok(msg) if message_type(msg) == family => out.push(parse_event(msg)),
            Ok(_) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// One TCM-USER message (whose type was checked) as an event.
fn parse_event(msg: &[u8]) -> Result<DeviceEvent, GenlError> {
    let parsed = NetlinkMessage::<GenlMessage<TcmuMessage>>::deserialize(msg)
        .map_err(|e| GenlError::Malformed(e.to_string()))?;
    let NetlinkPayload::InnerMessage(genl) = parsed.payload else {
        return Err(GenlError::Malformed(format!(
            "netlink message of type {} is not a TCM-USER message",
            parsed.header.message_type
        )));
    };
    let TcmuMessage { cmd, attrs, defect } = genl.payload;
    let device_id = attrs.iter().find_map(|a| match a {
        TcmuAttr::DeviceId(id) => Some(*id),
        _ => None,
    });
    let bad = |reason: String| GenlError::BadEvent { command: cmd, device_id, reason };
    let kind = match cmd {
        CMD_ADDED_DEVICE => EventKind::Added,
        CMD_REMOVED_DEVICE => EventKind::Removed,
        CMD_RECONFIG_DEVICE => EventKind::Reconfig(
            attrs
                .iter()
                .find_map(|a| match a {
                    TcmuAttr::DevCfg(s) => {
                        Some(Reconfig::Config(s.trim_end_matches(['\n', '\0']).to_string()))
                    }
                    TcmuAttr::DevSize(n) => Some(Reconfig::Size(*n)),
                    TcmuAttr::WriteCache(b) => Some(Reconfig::WriteCache(*b != 0)),
                    _ => None,
                })
                .unwrap_or(Reconfig::Unknown),
        ),
        other => return Err(bad(format!("command {other} is not an event the kernel sends"))),
    };
    if let Some(defect) = defect {
        return Err(bad(format!("bad attribute: {defect}")));
    }
    let uio_name = attrs
        .iter()
        .find_map(|a| match a {
            TcmuAttr::Device(s) => Some(s.clone()),
            _ => None,
        })
        .ok_or_else(|| bad("no TCMU_ATTR_DEVICE (the UIO name)".into()))?;
    let minor = attrs
        .iter()
        .find_map(|a| match a {
            TcmuAttr::Minor(m) => Some(*m),
            _ => None,
        })
        .ok_or_else(|| bad("no TCMU_ATTR_MINOR".into()))?;
    let device_id = device_id
        .ok_or_else(|| bad("no TCMU_ATTR_DEVICE_ID: the event cannot be answered".into()))?;
    Ok(DeviceEvent { kind, uio_name, minor, device_id })
}

/// A TCM-USER request: `NLM_F_REQUEST` (without it the kernel skips the message) and
/// `NLM_F_ACK` (so its outcome comes back), the given sequence number, port 0 (the kernel
/// fills in ours).
fn encode(family: u16, payload: TcmuMessage, seq: u32) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(payload);
    genl.set_resolved_family_id(family);
    let mut msg = NetlinkMessage::from(genl);
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// The DONE reply `reply_cmd` for the device `device_id`.
fn encode_done(family: u16, reply_cmd: u8, device_id: u32, status: i32, seq: u32) -> Vec<u8> {
    // The kernel needs both attributes (EINVAL otherwise).
    let attrs = vec![TcmuAttr::CmdStatus(status), TcmuAttr::DeviceId(device_id)];
    encode(family, TcmuMessage::new(reply_cmd, attrs), seq)
}

/// The reply to `event`: command = the event's + 3, version 2, CMD_STATUS (`status`: 0, or
/// a negative errno that the kernel's writer then fails with) and DEVICE_ID, with
/// `NLM_F_REQUEST | NLM_F_ACK` and sequence number `seq`.
pub fn encode_reply(family: u16, event: &DeviceEvent, status: i32, seq: u32) -> Vec<u8> {
    encode_done(family, event.reply_command(), event.device_id, status, seq)
}

/// SET_FEATURES with SUPP_KERN_CMD_REPLY (`NLM_F_REQUEST | NLM_F_ACK`, sequence number
/// `seq`). The flag is module-wide and outlives the sender.
pub fn encode_set_features(family: u16, reply_supported: bool, seq: u32) -> Vec<u8> {
    let attrs = vec![TcmuAttr::SuppKernCmdReply(u8::from(reply_supported))];
    encode(family, TcmuMessage::new(CMD_SET_FEATURES, attrs), seq)
}

// ---------------------------------------------------------------------------------------------
// UIO names

// ---------------------------------------------------------------------------------------------
// Kernel answers on the control socket

/// What the kernel answered a request with.
#[derive(Debug)]
enum Answer<I> {
    /// An `NLMSG_ERROR` with code 0.
    Ack,
    /// An `NLMSG_ERROR` with this (positive) errno.
    Refused(i32),
    /// A message of the family.
    Message(I),
}

/// Reads one answer message.
fn answer<I: NetlinkDeserializable>(msg: &[u8]) -> Result<Answer<I>, GenlError> {
    let parsed =
        NetlinkMessage::<I>::deserialize(msg).map_err(|e| GenlError::Malformed(e.to_string()))?;
    match parsed.payload {
        NetlinkPayload::Error(e) => Ok(match e.code {
            None => Answer::Ack,
            Some(code) => Answer::Refused(code.get().checked_neg().unwrap_or(i32::MAX)),
        }),
        NetlinkPayload::InnerMessage(m) => Ok(Answer::Message(m)),
        _ => Err(GenlError::Malformed(format!(
            "unexpected netlink message of type {}",
            parsed.header.message_type
        ))),
    }
}

/// The family id and group id nlctrl reports. Read leniently: `GenlCtrl`'s parser refuses
/// attribute kinds it does not know, which a newer kernel could add to its answer.
#[derive(Debug, Default)]
struct FamilyInfo {
    id: Option<u16>,
    groups: Vec<(String, u32)>,
}

impl ParseableParametrized<[u8], GenlHeader> for FamilyInfo {
    fn parse_with_param(buf: &[u8], _: GenlHeader) -> Result<Self, DecodeError> {
        let mut info = FamilyInfo::default();
        for nla in NlasIterator::new(buf) {
            let nla = nla?;
            match nla.kind() {
                CTRL_ATTR_FAMILY_ID => info.id = Some(parse_u16(nla.value())?),
                CTRL_ATTR_MCAST_GROUPS => {
                    for group in NlasIterator::new(nla.value()) {
                        let (mut name, mut id) = (None, None);
                        for attr in NlasIterator::new(group?.value()) {
                            let attr = attr?;
                            match attr.kind() {
                                CTRL_ATTR_MCAST_GRP_NAME => {
                                    name = Some(parse_string(attr.value())?)
                                }
                                CTRL_ATTR_MCAST_GRP_ID => id = Some(parse_u32(attr.value())?),
                                _ => {}
                            }
                        }
                        if let (Some(name), Some(id)) = (name, id) {
                            info.groups.push((name, id));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(info)
    }
}

/// The family id and the id of its group `group`, from nlctrl's answer to GETFAMILY.
fn family_from_answer(msg: &[u8], group: &str) -> Result<(u16, u32), GenlError> {
    const OP: &str = "resolve a generic netlink family";
    match answer::<GenlMessage<FamilyInfo>>(msg)? {
        Answer::Message(genl) => {
            let info = genl.payload;
            let id = info.id.ok_or_else(|| {
                GenlError::Malformed("nlctrl's answer has no CTRL_ATTR_FAMILY_ID".into())
            })?;
            let gid = info.groups.iter().find(|(n, _)| n == group).map(|(_, id)| *id);
            Ok((id, gid.ok_or(GenlError::NoGroup)?))
        }
        // nlctrl's answer for a family nobody registered; TCM-USER is registered by the module.
        Answer::Refused(errno) if errno == Errno::ENOENT as i32 => Err(GenlError::ModuleNotLoaded),
        Answer::Refused(errno) => Err(GenlError::Kernel { op: OP, errno }),
        Answer::Ack => Err(GenlError::Malformed("nlctrl acknowledged without answering".into())),
    }
}

/// The outcome of an acknowledged request: `Ok(None)` for an ACK, `Ok(Some(errno))` for the
/// refusals the caller handles, an error naming `op` for the others.
fn ack_outcome(msg: &[u8], op: &'static str, handled: i32) -> Result<Option<i32>, GenlError> {
    match answer::<GenlMessage<TcmuMessage>>(msg)? {
        Answer::Ack => Ok(None),
        Answer::Refused(errno) if errno == handled => Ok(Some(errno)),
        Answer::Refused(errno) if errno == Errno::EPERM as i32 => {
            Err(GenlError::NotPermitted { op })
        }
        Answer::Refused(errno) => Err(GenlError::Kernel { op, errno }),
        Answer::Message(_) => {
            Err(GenlError::Malformed(format!("{op}: a message where an ACK was expected")))
        }
    }
}

/// How the kernel received a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replied {
    /// The kernel was waiting for it and completed the writer's wait with its status.
    Accepted,
    /// ENODEV: the kernel was not waiting for this device (it does not wait when reply
    /// support is off for the device, or another daemon answered first).
    NotWaiting,
}

// ---------------------------------------------------------------------------------------------
// Sockets

/// Waits up to `timeout` for `fd` to be readable (or in error); false on time-out or signal.
fn wait_readable(
    fd: BorrowedFd<'_>,
    timeout: Duration,
    op: &'static str,
) -> Result<bool, GenlError> {
    let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, ms) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(GenlError::Socket { op, source: e.into() }),
    }
}

/// Asks nlctrl for the ids of the generic netlink family `family` and its group `group`.
fn resolve(control: &Socket, seq: u32, family: &str, group: &str) -> Result<(u16, u32), GenlError> {
    let mut genl = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(family.into())],
    });
    genl.finalize();
    let mut msg = NetlinkMessage::from(genl);
    // No NLM_F_ACK: the answer is the family, or an NLMSG_ERROR.
    msg.header.flags = NLM_F_REQUEST;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut request = vec![0; msg.buffer_len()];
    msg.serialize(&mut request);
    let answer = transact(control, &request, seq, "resolve a generic netlink family")?;
    family_from_answer(&answer, group)
}

/// Sends `request` on the control socket and returns the kernel's answer: the first message
/// carrying sequence number `seq` (stale ones are skipped).
fn transact(
    control: &Socket,
    request: &[u8],
    seq: u32,
    op: &'static str,
) -> Result<Vec<u8>, GenlError> {
    let io = |source| GenlError::Socket { op, source };
    control.send(request, 0).map_err(io)?;
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(GenlError::NoAnswer { op, waited: ANSWER_TIMEOUT });
        }
        if !wait_readable(control.as_fd(), left, op)? {
            continue;
        }
        let mut buf = Vec::with_capacity(RECV_BUFFER);
        // MSG_DONTWAIT: a `recv` after `poll` must never block the caller.
        match control.recv(&mut buf, MsgFlags::MSG_DONTWAIT.bits()) {
            Ok(_) => {}
            Err(e)
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) =>
            {
                continue;
            }
            Err(e) => return Err(io(e)),
        }
        for msg in messages(&buf) {
            let msg = msg?;
            if message_seq(msg) == seq {
                return Ok(msg.to_vec());
            }
        }
    }
}

/// The TCM-USER family over two NETLINK_GENERIC sockets: one joined to the "config" group for
/// the events, and one for requests (nlctrl, SET_FEATURES, replies) and their answers, so that
/// answers never mix with events.
///
/// The kernel blocks the writer of `enable` (and `rmdir`, reconfiguration) until the event is
/// answered: never write those from the thread that calls [`TcmuNetlink::recv`].
pub struct TcmuNetlink {
    events: Socket,
    control: Socket,
    family: u16,
    seq: AtomicU32,
}

impl fmt::Debug for TcmuNetlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcmuNetlink").field("family", &self.family).finish_non_exhaustive()
    }
}

impl AsFd for TcmuNetlink {
    /// The event socket, readable when events wait.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }
}

impl TcmuNetlink {
    /// Resolves the family and its group through nlctrl ([`GenlError::ModuleNotLoaded`] if
    /// `target_core_user` is not loaded), opens both sockets and joins the group. Listening
    /// needs no privilege; [`TcmuNetlink::set_features`] and replies need CAP_NET_ADMIN.
    pub fn open() -> Result<TcmuNetlink, GenlError> {
        let sock = |op| move |source| GenlError::Socket { op, source };
        let mut control = Socket::new(NETLINK_GENERIC).map_err(sock("open a netlink socket"))?;
        control.bind_auto().map_err(sock("bind the control socket"))?;
        control.connect(&SocketAddr::new(0, 0)).map_err(sock("connect the control socket"))?;

        let seq = AtomicU32::new(1);
        let (family, group) =
            resolve(&control, seq.fetch_add(1, Ordering::Relaxed), FAMILY_NAME, GROUP_NAME)?;

        let mut events = Socket::new(NETLINK_GENERIC).map_err(sock("open a netlink socket"))?;
        events.bind_auto().map_err(sock("bind the event socket"))?;
        // The buffer is set before joining: an event lost to an overrun is never sent again.
        // Root may exceed net.core.rmem_max; others get what it allows.
        if setsockopt(&events, sockopt::RcvBufForce, &EVENT_RCVBUF).is_err() {
            events.set_rx_buf_sz(EVENT_RCVBUF as i32).map_err(sock("set SO_RCVBUF"))?;
        }
        // Without it an overrun is invisible to the kernel, which then takes the lost ADD as
        // "no listener yet" and waits for ever; with it, the `enable` fails with ENOBUFS.
        events.set_broadcast_error(true).map_err(sock("set NETLINK_BROADCAST_ERROR"))?;
        events.add_membership(group).map_err(sock("join the TCM-USER config group"))?;
        events.set_non_blocking(true).map_err(sock("make the event socket non-blocking"))?;
        Ok(TcmuNetlink { events, control, family, seq })
    }

    /// The family's id (the `nlmsg_type` of its messages).
    pub fn family(&self) -> u16 {
        self.family
    }

    fn next_seq(&self) -> u32 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends SET_FEATURES and waits for its ACK: `Ok(true)` once the kernel will wait for
    /// replies, `Ok(false)` on a kernel without the feature (EOPNOTSUPP). The setting is
    /// module-wide and stays after this process exits: until it is turned off, an `enable`
    /// with no daemon listening hangs.
    pub fn set_features(&self, reply_supported: bool) -> Result<bool, GenlError> {
        const OP: &str = "TCM-USER SET_FEATURES";
        let seq = self.next_seq();
        let msg = transact(
            &self.control,
            &encode_set_features(self.family, reply_supported, seq),
            seq,
            OP,
        )?;
        Ok(ack_outcome(&msg, OP, Errno::EOPNOTSUPP as i32)?.is_none())
    }

    /// Waits up to `timeout` for events and returns those of what arrived (nothing on
    /// time-out or signal). [`GenlError::Overrun`] means events were lost: rescan.
    pub fn recv(
        &self,
        timeout: Duration,
    ) -> Result<Vec<Result<DeviceEvent, GenlError>>, GenlError> {
        const OP: &str = "receive TCM-USER events";
        if !wait_readable(self.events.as_fd(), timeout, OP)? {
            return Ok(Vec::new());
        }
        let mut buf = Vec::with_capacity(RECV_BUFFER);
        match self.events.recv(&mut buf, 0) {
            Ok(_) => Ok(parse_events(&buf, self.family)),
            Err(e) if e.raw_os_error() == Some(Errno::ENOBUFS as i32) => Err(GenlError::Overrun),
            Err(e)
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) =>
            {
                Ok(Vec::new())
            }
            Err(source) => Err(GenlError::Socket { op: OP, source }),
        }
    }

    /// Answers `event` with `status` (0, or a negative errno the kernel's writer fails with)
    /// and reads the kernel's ACK.
    pub fn reply(&self, event: &DeviceEvent, status: i32) -> Result<Replied, GenlError> {
        self.reply_to(event.kind.command(), event.device_id, status)
    }

    /// Answers the event of command `event_command` (1 to 3) for `device_id`, for an event
    /// that could not be read whole ([`GenlError::BadEvent`] with a device id). Another
    /// command is refused: no reply to it exists.
    pub fn reply_to(
        &self,
        event_command: u8,
        device_id: u32,
        status: i32,
    ) -> Result<Replied, GenlError> {
        const OP: &str = "reply to a TCM-USER event";
        if !(CMD_ADDED_DEVICE..=CMD_RECONFIG_DEVICE).contains(&event_command) {
            return Err(GenlError::BadEvent {
                command: event_command,
                device_id: Some(device_id),
                reason: "not an event command: it has no reply".into(),
            });
        }
        let seq = self.next_seq();
        let request = encode_done(self.family, event_command + DONE_OFFSET, device_id, status, seq);
        let msg = transact(&self.control, &request, seq, OP)?;
        Ok(match ack_outcome(&msg, OP, Errno::ENODEV as i32)? {
            None => Replied::Accepted,
            Some(_) => Replied::NotWaiting,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Module parameters

/// `target_core_user`'s netlink recovery parameters: while `block_netlink` is set, commands
/// that would wait for a daemon fail with EAGAIN instead (and `rmdir` sends no REMOVED event);
/// `reset_netlink` then fails every pending wait with EINTR.
#[derive(Debug, Clone)]
pub struct ModuleParams {
    root: PathBuf,
}

impl ModuleParams {
    /// The parameters in folder `root` (a temporary folder in tests).
    pub fn new(root: impl Into<PathBuf>) -> ModuleParams {
        ModuleParams { root: root.into() }
    }

    /// The kernel's, under [`MODULE_PARAMETERS`].
    pub fn system() -> ModuleParams {
        ModuleParams::new(MODULE_PARAMETERS)
    }

    /// Writes `block_netlink`.
    pub fn block_netlink(&self, block: bool) -> Result<(), GenlError> {
        self.write("block_netlink", if block { "1" } else { "0" })
    }

    /// Writes `reset_netlink`: fails the pending waits. The kernel refuses it (EBUSY) while
    /// waits are pending and netlink is not blocked: block first.
    pub fn reset_netlink(&self) -> Result<(), GenlError> {
        self.write("reset_netlink", "1")
    }

    /// Reads `block_netlink`: true for "blocked".
    pub fn netlink_blocked(&self) -> Result<bool, GenlError> {
        let path = self.root.join("block_netlink");
        let mut value = String::new();
        // A sysfs value fits in a page; a few bytes tell the two answers apart.
        fs::File::open(&path)
            .and_then(|f| f.take(64).read_to_string(&mut value))
            .map_err(|e| param_error("read", &path, e))?;
        match value.trim_end() {
            "blocked" => Ok(true),
            "unblocked" => Ok(false),
            _ => Err(GenlError::ParamValue { path, value }),
        }
    }

    /// Writes `value` in one `write`. The file must exist (never created); appending changes
    /// nothing on sysfs and keeps every value written in a test folder.
    fn write(&self, name: &str, value: &str) -> Result<(), GenlError> {
        let path = self.root.join(name);
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .map_err(|e| param_error("write", &path, e))
    }
}

/// [`GenlError::ParamMissing`] for a missing file, [`GenlError::Param`] otherwise.
fn param_error(op: &'static str, path: &Path, source: io::Error) -> GenlError {
    if source.kind() == io::ErrorKind::NotFound {
        GenlError::ParamMissing { path: path.to_path_buf() }
    } else {
        GenlError::Param { op, path: path.to_path_buf(), source }
    }
}

#[cfg(test)]
mod tests;
