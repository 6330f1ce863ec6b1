//! NETLINK_ISCSI messages with `netlink-packet-core`: requests wrapped for sending, and what
//! the kernel sends read back.
//!
//! How the kernel frames them (`drivers/scsi/scsi_transport_iscsi.c`, Linux 6.1):
//!
//! - It dispatches a request on the netlink message type (`nlh->nlmsg_type`), which must be
//!   the request's `ISCSI_UEVENT_*`; the uevent's `type` carries the same number.
//! - It answers each request with one unicast message of the same netlink type, sequence 0,
//!   whose payload is the request's uevent with `r` filled in, or with `type` set to
//!   `ISCSI_KEVENT_IF_ERROR` and `iferror` to the negative errno when it refused.
//! - Its own events (`ISCSI_KEVENT_*`) go to multicast group 1 with netlink type 0; the
//!   uevent's `type` tells them apart.

use netlink_packet_core::{
    DecodeError, NLM_F_REQUEST, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable,
};

use super::codes::UeventType;
use super::uevent::{EncodeError, Event, ParseError, Reply, Request};

/// A request with the transport it is for: the inner message of a sent netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The transport's handle (`/sys/class/iscsi_transport/<name>/handle`).
    pub transport_handle: u64,
    /// The request.
    pub request: Request,
}

impl NetlinkSerializable for Outgoing {
    fn message_type(&self) -> u16 {
        // Every request type is below 100.
        self.request.event_type().code() as u16
    }

    fn buffer_len(&self) -> usize {
        self.request.encoded_len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        self.request.emit(self.transport_handle, buffer);
    }
}

/// A message from the kernel: the reply to a request, or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The answer to a request of this type.
    Reply {
        /// The request's type (the netlink message type of the reply).
        request: UeventType,
        /// The answer.
        reply: Reply,
    },
    /// An event.
    Event(Event),
}

impl NetlinkDeserializable for Incoming {
    type Error = ParseError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        if header.message_type == 0 {
            return Event::parse(payload).map(Incoming::Event);
        }
        let code = u32::from(header.message_type);
        let request = UeventType::from_code(code).ok_or(ParseError::UnknownType(code))?;
        let reply = Reply::parse(request, payload)?;
        Ok(Incoming::Reply { request, reply })
    }
}

/// The netlink message of `request`: header with `NLM_F_REQUEST`, the given sequence number,
/// port 0 (the kernel's), and the uevent.
pub fn encode_request(
    transport_handle: u64,
    request: &Request,
    sequence_number: u32,
) -> Result<Vec<u8>, EncodeError> {
    request.validate()?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = sequence_number;
    let mut msg = NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(Outgoing { transport_handle, request: request.clone() }),
    );
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    Ok(buf)
}

/// The netlink header's length field, aligned as netlink aligns messages (4 bytes).
fn aligned(len: usize) -> usize {
    (len + 3) & !3
}

/// Every netlink message in one received datagram, each read or refused on its own. Stops at
/// the first one whose length cannot be trusted.
pub fn decode_datagram(bytes: &[u8]) -> Vec<Result<NetlinkMessage<Incoming>, DecodeError>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = match rest.get(..4) {
            Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
            None => 0,
        };
        if len < 16 || len > rest.len() {
            out.push(Err(DecodeError::from(format!(
                "netlink message of length {len} in the {} bytes left",
                rest.len()
            ))));
            break;
        }
        out.push(NetlinkMessage::<Incoming>::deserialize(&rest[..len]));
        match rest.get(aligned(len)..) {
            Some(r) => rest = r,
            None => break,
        }
    }
    out
}
