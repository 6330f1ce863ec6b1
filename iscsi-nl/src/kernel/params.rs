//! The parameters a logged-in session gives the kernel with `ISCSI_UEVENT_SET_PARAM`, as
//! Linux 6.1's `iscsi_tcp` and libiscsi (`iscsi_set_param`) read them.

use std::net::SocketAddr;

use crate::login::Session;
use crate::netlink::Param;
use crate::pdu::Digest;

/// The session's timers in the kernel (seconds), as iscsid's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long I/O waits for a lost session to come back before failing
    /// (`ISCSI_PARAM_SESS_RECOVERY_TMO`; iscsid's `replacement_timeout`).
    pub recovery: u32,
    /// How long a NOP-Out waits for its answer (`ISCSI_PARAM_PING_TMO`).
    pub noop_out_timeout: u32,
    /// Idle time before the kernel sends a NOP-Out (`ISCSI_PARAM_RECV_TMO`; 0 for none).
    pub noop_out_interval: u32,
    /// Task abort (`ISCSI_PARAM_ABORT_TMO`).
    pub abort: u32,
    /// LUN reset (`ISCSI_PARAM_LU_RESET_TMO`).
    pub lu_reset: u32,
    /// Target reset (`ISCSI_PARAM_TGT_RESET_TMO`).
    pub target_reset: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            recovery: 120,
            noop_out_timeout: 5,
            noop_out_interval: 5,
            abort: 15,
            lu_reset: 30,
            target_reset: 30,
        }
    }
}

/// One parameter to set, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelParam {
    /// The parameter.
    pub param: Param,
    /// Its value: decimal numbers, `0`/`1` booleans, names as they are.
    pub value: String,
    /// Whether the hand-off fails when the kernel refuses it. The others are sent for
    /// transports that keep them; `iscsi_tcp` answers `-ENOSYS` (ISID, DefaultTime2Wait,
    /// DefaultTime2Retain).
    pub required: bool,
}

impl KernelParam {
    fn new(param: Param, value: impl ToString) -> KernelParam {
        KernelParam { param, value: value.to_string(), required: true }
    }

    fn optional(param: Param, value: impl ToString) -> KernelParam {
        KernelParam { required: false, ..KernelParam::new(param, value) }
    }
}

/// `0` or `1`, as libiscsi reads booleans (`sscanf("%d")`).
fn flag(b: bool) -> u8 {
    u8::from(b)
}

/// The largest power of two not above `n` (at least 1): `iscsi_tcp` refuses a MaxR2T that is
/// not a power of two, and fewer R2Ts than negotiated is always allowed.
pub(crate) fn power_of_two_at_most(n: u16) -> u16 {
    if n <= 1 { 1 } else { 1 << (15 - n.leading_zeros()) }
}

/// The ISID as libiscsi prints it: 12 lowercase hex digits.
pub fn isid_hex(isid: [u8; 6]) -> String {
    isid.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every parameter the kernel needs for `session`, in the order iscsid sends them: the
/// negotiated operational keys, the Full Feature Phase state (ExpStatSN), the names, the
/// portal, the timers, then the ones `iscsi_tcp` does not keep.
///
/// There is no parameter for the TSIH in Linux 6.1 (`ISCSI_PARAM_TSID` is the offload
/// cards' target session ID): the kernel does not need it, as it never logs in again itself.
pub fn kernel_params(
    session: &Session,
    target_name: &str,
    initiator_name: &str,
    portal: SocketAddr,
    timeouts: &Timeouts,
) -> Vec<KernelParam> {
    let p = &session.params;
    let mut out = vec![
        KernelParam::new(Param::MaxRecvDlength, p.max_recv_data_segment_length),
        KernelParam::new(Param::MaxXmitDlength, p.target_max_recv_data_segment_length),
        KernelParam::new(Param::HdrdgstEn, flag(session.digests.header == Digest::Crc32c)),
        KernelParam::new(Param::DatadgstEn, flag(session.digests.data == Digest::Crc32c)),
        KernelParam::new(Param::InitialR2tEn, flag(p.initial_r2t)),
        KernelParam::new(Param::MaxR2t, power_of_two_at_most(p.max_outstanding_r2t)),
        KernelParam::new(Param::ImmDataEn, flag(p.immediate_data)),
        KernelParam::new(Param::FirstBurst, p.first_burst_length),
        KernelParam::new(Param::MaxBurst, p.max_burst_length),
        KernelParam::new(Param::PduInorderEn, flag(p.data_pdu_in_order)),
        KernelParam::new(Param::DataseqInorderEn, flag(p.data_sequence_in_order)),
        KernelParam::new(Param::Erl, p.error_recovery_level),
        KernelParam::new(Param::ExpStatsn, session.exp_stat_sn),
        KernelParam::new(Param::TargetName, target_name),
    ];
    if let Some(tpgt) = p.target_portal_group_tag {
        out.push(KernelParam::new(Param::Tpgt, tpgt));
    }
    out.extend([
        KernelParam::new(Param::PersistentAddress, portal.ip()),
        KernelParam::new(Param::PersistentPort, portal.port()),
        KernelParam::new(Param::SessRecoveryTmo, timeouts.recovery),
        KernelParam::new(Param::AbortTmo, timeouts.abort),
        KernelParam::new(Param::LuResetTmo, timeouts.lu_reset),
        KernelParam::new(Param::TgtResetTmo, timeouts.target_reset),
        KernelParam::new(Param::PingTmo, timeouts.noop_out_timeout),
        KernelParam::new(Param::RecvTmo, timeouts.noop_out_interval),
        KernelParam::new(Param::InitiatorName, initiator_name),
    ]);
    if let Some(alias) = &p.target_alias {
        out.push(KernelParam::new(Param::TargetAlias, alias));
    }
    out.extend([
        KernelParam::optional(Param::Isid, isid_hex(session.isid)),
        KernelParam::optional(Param::DefTime2wait, p.default_time2wait),
        KernelParam::optional(Param::DefTime2retain, p.default_time2retain),
    ]);
    out
}
