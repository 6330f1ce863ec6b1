//! The numbers of NETLINK_ISCSI: event types, parameters, error codes and flags, as Linux 6.1
//! defines them in `include/scsi/iscsi_if.h`.
//!
//! Each enum keeps the header's numbering and C names ([`UeventType::c_name`] and the like),
//! so log lines and errors can name what the kernel calls them.

/// Declares a `u32`-coded enum with its C names, `code`, `from_code` and `ALL`.
macro_rules! c_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $var:ident = $val:expr => $cname:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("`", $cname, "` (", stringify!($val), ").")]
                $var = $val,
            )*
        }

        impl $name {
            /// Every value, in the header's order.
            pub const ALL: &'static [$name] = &[$($name::$var),*];

            /// The number on the wire.
            pub const fn code(self) -> u32 {
                self as u32
            }

            /// The value with this number, if the header knows it.
            pub fn from_code(code: u32) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }

            /// The name in `iscsi_if.h`.
            pub const fn c_name(self) -> &'static str {
                match self {
                    $($name::$var => $cname,)*
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.c_name())
            }
        }
    };
}

/// The netlink multicast group of iscsid: kernel events (`ISCSI_NL_GRP_ISCSID`).
pub const ISCSI_NL_GRP_ISCSID: u32 = 1;
/// The multicast group of the uIP helper (`ISCSI_NL_GRP_UIP`): offload path requests.
pub const ISCSI_NL_GRP_UIP: u32 = 2;

c_enum! {
    /// `enum iscsi_uevent_e`: the type of a message, both the `type` field of the uevent and
    /// the netlink message type of requests and their replies.
    ///
    /// Down events (`ISCSI_UEVENT_*`, 10 + n) go from user space to the kernel; up events
    /// (`ISCSI_KEVENT_*`, 100 + n) come from the kernel.
    pub enum UeventType {
        Unknown = 0 => "ISCSI_UEVENT_UNKNOWN",
        CreateSession = 11 => "ISCSI_UEVENT_CREATE_SESSION",
        DestroySession = 12 => "ISCSI_UEVENT_DESTROY_SESSION",
        CreateConn = 13 => "ISCSI_UEVENT_CREATE_CONN",
        DestroyConn = 14 => "ISCSI_UEVENT_DESTROY_CONN",
        BindConn = 15 => "ISCSI_UEVENT_BIND_CONN",
        SetParam = 16 => "ISCSI_UEVENT_SET_PARAM",
        StartConn = 17 => "ISCSI_UEVENT_START_CONN",
        StopConn = 18 => "ISCSI_UEVENT_STOP_CONN",
        SendPdu = 19 => "ISCSI_UEVENT_SEND_PDU",
        GetStats = 20 => "ISCSI_UEVENT_GET_STATS",
        GetParam = 21 => "ISCSI_UEVENT_GET_PARAM",
        TransportEpConnect = 22 => "ISCSI_UEVENT_TRANSPORT_EP_CONNECT",
        TransportEpPoll = 23 => "ISCSI_UEVENT_TRANSPORT_EP_POLL",
        TransportEpDisconnect = 24 => "ISCSI_UEVENT_TRANSPORT_EP_DISCONNECT",
        TgtDscvr = 25 => "ISCSI_UEVENT_TGT_DSCVR",
        SetHostParam = 26 => "ISCSI_UEVENT_SET_HOST_PARAM",
        UnbindSession = 27 => "ISCSI_UEVENT_UNBIND_SESSION",
        CreateBoundSession = 28 => "ISCSI_UEVENT_CREATE_BOUND_SESSION",
        TransportEpConnectThroughHost = 29 => "ISCSI_UEVENT_TRANSPORT_EP_CONNECT_THROUGH_HOST",
        PathUpdate = 30 => "ISCSI_UEVENT_PATH_UPDATE",
        SetIfaceParams = 31 => "ISCSI_UEVENT_SET_IFACE_PARAMS",
        Ping = 32 => "ISCSI_UEVENT_PING",
        GetChap = 33 => "ISCSI_UEVENT_GET_CHAP",
        DeleteChap = 34 => "ISCSI_UEVENT_DELETE_CHAP",
        SetFlashnodeParams = 35 => "ISCSI_UEVENT_SET_FLASHNODE_PARAMS",
        NewFlashnode = 36 => "ISCSI_UEVENT_NEW_FLASHNODE",
        DelFlashnode = 37 => "ISCSI_UEVENT_DEL_FLASHNODE",
        LoginFlashnode = 38 => "ISCSI_UEVENT_LOGIN_FLASHNODE",
        LogoutFlashnode = 39 => "ISCSI_UEVENT_LOGOUT_FLASHNODE",
        LogoutFlashnodeSid = 40 => "ISCSI_UEVENT_LOGOUT_FLASHNODE_SID",
        SetChap = 41 => "ISCSI_UEVENT_SET_CHAP",
        GetHostStats = 42 => "ISCSI_UEVENT_GET_HOST_STATS",
        DestroySessionAsync = 43 => "ISCSI_UEVENT_DESTROY_SESSION_ASYNC",
        RecvPdu = 101 => "ISCSI_KEVENT_RECV_PDU",
        ConnError = 102 => "ISCSI_KEVENT_CONN_ERROR",
        IfError = 103 => "ISCSI_KEVENT_IF_ERROR",
        KDestroySession = 104 => "ISCSI_KEVENT_DESTROY_SESSION",
        KUnbindSession = 105 => "ISCSI_KEVENT_UNBIND_SESSION",
        KCreateSession = 106 => "ISCSI_KEVENT_CREATE_SESSION",
        PathReq = 107 => "ISCSI_KEVENT_PATH_REQ",
        IfDown = 108 => "ISCSI_KEVENT_IF_DOWN",
        ConnLoginState = 109 => "ISCSI_KEVENT_CONN_LOGIN_STATE",
        HostEvent = 110 => "ISCSI_KEVENT_HOST_EVENT",
        PingComp = 111 => "ISCSI_KEVENT_PING_COMP",
    }
}

impl UeventType {
    /// Whether this is a down event (a request from user space to the kernel).
    pub const fn is_request(self) -> bool {
        let c = self.code();
        c > 10 && c < 100
    }
}

c_enum! {
    /// `enum iscsi_param`: the session and connection parameters of `ISCSI_UEVENT_SET_PARAM`
    /// (and of the sysfs attributes of sessions and connections).
    ///
    /// The software transport (`iscsi_tcp` with libiscsi) takes every value as a NUL-terminated
    /// string: numbers and booleans in decimal (`sscanf("%d")`, booleans as `0` or `1`), names
    /// as text. It answers `-ENOSYS` for parameters it does not keep (ISID, DefaultTime2Wait,
    /// DefaultTime2Retain, the markers, the TCP tunables of offload cards...).
    pub enum Param {
        MaxRecvDlength = 0 => "ISCSI_PARAM_MAX_RECV_DLENGTH",
        MaxXmitDlength = 1 => "ISCSI_PARAM_MAX_XMIT_DLENGTH",
        HdrdgstEn = 2 => "ISCSI_PARAM_HDRDGST_EN",
        DatadgstEn = 3 => "ISCSI_PARAM_DATADGST_EN",
        InitialR2tEn = 4 => "ISCSI_PARAM_INITIAL_R2T_EN",
        MaxR2t = 5 => "ISCSI_PARAM_MAX_R2T",
        ImmDataEn = 6 => "ISCSI_PARAM_IMM_DATA_EN",
        FirstBurst = 7 => "ISCSI_PARAM_FIRST_BURST",
        MaxBurst = 8 => "ISCSI_PARAM_MAX_BURST",
        PduInorderEn = 9 => "ISCSI_PARAM_PDU_INORDER_EN",
        DataseqInorderEn = 10 => "ISCSI_PARAM_DATASEQ_INORDER_EN",
        Erl = 11 => "ISCSI_PARAM_ERL",
        IfmarkerEn = 12 => "ISCSI_PARAM_IFMARKER_EN",
        OfmarkerEn = 13 => "ISCSI_PARAM_OFMARKER_EN",
        ExpStatsn = 14 => "ISCSI_PARAM_EXP_STATSN",
        TargetName = 15 => "ISCSI_PARAM_TARGET_NAME",
        Tpgt = 16 => "ISCSI_PARAM_TPGT",
        PersistentAddress = 17 => "ISCSI_PARAM_PERSISTENT_ADDRESS",
        PersistentPort = 18 => "ISCSI_PARAM_PERSISTENT_PORT",
        SessRecoveryTmo = 19 => "ISCSI_PARAM_SESS_RECOVERY_TMO",
        ConnPort = 20 => "ISCSI_PARAM_CONN_PORT",
        ConnAddress = 21 => "ISCSI_PARAM_CONN_ADDRESS",
        Username = 22 => "ISCSI_PARAM_USERNAME",
        UsernameIn = 23 => "ISCSI_PARAM_USERNAME_IN",
        Password = 24 => "ISCSI_PARAM_PASSWORD",
        PasswordIn = 25 => "ISCSI_PARAM_PASSWORD_IN",
        FastAbort = 26 => "ISCSI_PARAM_FAST_ABORT",
        AbortTmo = 27 => "ISCSI_PARAM_ABORT_TMO",
        LuResetTmo = 28 => "ISCSI_PARAM_LU_RESET_TMO",
        HostResetTmo = 29 => "ISCSI_PARAM_HOST_RESET_TMO",
        PingTmo = 30 => "ISCSI_PARAM_PING_TMO",
        RecvTmo = 31 => "ISCSI_PARAM_RECV_TMO",
        IfaceName = 32 => "ISCSI_PARAM_IFACE_NAME",
        Isid = 33 => "ISCSI_PARAM_ISID",
        InitiatorName = 34 => "ISCSI_PARAM_INITIATOR_NAME",
        TgtResetTmo = 35 => "ISCSI_PARAM_TGT_RESET_TMO",
        TargetAlias = 36 => "ISCSI_PARAM_TARGET_ALIAS",
        ChapInIdx = 37 => "ISCSI_PARAM_CHAP_IN_IDX",
        ChapOutIdx = 38 => "ISCSI_PARAM_CHAP_OUT_IDX",
        BootRoot = 39 => "ISCSI_PARAM_BOOT_ROOT",
        BootNic = 40 => "ISCSI_PARAM_BOOT_NIC",
        BootTarget = 41 => "ISCSI_PARAM_BOOT_TARGET",
        AutoSndTgtDisable = 42 => "ISCSI_PARAM_AUTO_SND_TGT_DISABLE",
        DiscoverySess = 43 => "ISCSI_PARAM_DISCOVERY_SESS",
        PortalType = 44 => "ISCSI_PARAM_PORTAL_TYPE",
        ChapAuthEn = 45 => "ISCSI_PARAM_CHAP_AUTH_EN",
        DiscoveryLogoutEn = 46 => "ISCSI_PARAM_DISCOVERY_LOGOUT_EN",
        BidiChapEn = 47 => "ISCSI_PARAM_BIDI_CHAP_EN",
        DiscoveryAuthOptional = 48 => "ISCSI_PARAM_DISCOVERY_AUTH_OPTIONAL",
        DefTime2wait = 49 => "ISCSI_PARAM_DEF_TIME2WAIT",
        DefTime2retain = 50 => "ISCSI_PARAM_DEF_TIME2RETAIN",
        MaxSegmentSize = 51 => "ISCSI_PARAM_MAX_SEGMENT_SIZE",
        Statsn = 52 => "ISCSI_PARAM_STATSN",
        KeepaliveTmo = 53 => "ISCSI_PARAM_KEEPALIVE_TMO",
        LocalPort = 54 => "ISCSI_PARAM_LOCAL_PORT",
        Tsid = 55 => "ISCSI_PARAM_TSID",
        DefTaskmgmtTmo = 56 => "ISCSI_PARAM_DEF_TASKMGMT_TMO",
        TcpTimestampStat = 57 => "ISCSI_PARAM_TCP_TIMESTAMP_STAT",
        TcpWsfDisable = 58 => "ISCSI_PARAM_TCP_WSF_DISABLE",
        TcpNagleDisable = 59 => "ISCSI_PARAM_TCP_NAGLE_DISABLE",
        TcpTimerScale = 60 => "ISCSI_PARAM_TCP_TIMER_SCALE",
        TcpTimestampEn = 61 => "ISCSI_PARAM_TCP_TIMESTAMP_EN",
        TcpXmitWsf = 62 => "ISCSI_PARAM_TCP_XMIT_WSF",
        TcpRecvWsf = 63 => "ISCSI_PARAM_TCP_RECV_WSF",
        IpFragmentDisable = 64 => "ISCSI_PARAM_IP_FRAGMENT_DISABLE",
        Ipv4Tos = 65 => "ISCSI_PARAM_IPV4_TOS",
        Ipv6Tc = 66 => "ISCSI_PARAM_IPV6_TC",
        Ipv6FlowLabel = 67 => "ISCSI_PARAM_IPV6_FLOW_LABEL",
        IsFwAssignedIpv6 = 68 => "ISCSI_PARAM_IS_FW_ASSIGNED_IPV6",
        DiscoveryParentIdx = 69 => "ISCSI_PARAM_DISCOVERY_PARENT_IDX",
        DiscoveryParentType = 70 => "ISCSI_PARAM_DISCOVERY_PARENT_TYPE",
        LocalIpaddr = 71 => "ISCSI_PARAM_LOCAL_IPADDR",
    }
}

/// `ISCSI_PARAM_MAX`: one past the last parameter of Linux 6.1.
pub const ISCSI_PARAM_MAX: u32 = 72;

c_enum! {
    /// `enum iscsi_err`: why the kernel reports a connection error
    /// ([`super::Event::ConnError`]).
    pub enum IscsiErr {
        Ok = 0 => "ISCSI_OK",
        DataSn = 1001 => "ISCSI_ERR_DATASN",
        DataOffset = 1002 => "ISCSI_ERR_DATA_OFFSET",
        MaxCmdSn = 1003 => "ISCSI_ERR_MAX_CMDSN",
        ExpCmdSn = 1004 => "ISCSI_ERR_EXP_CMDSN",
        BadOpcode = 1005 => "ISCSI_ERR_BAD_OPCODE",
        DataLen = 1006 => "ISCSI_ERR_DATALEN",
        AhsLen = 1007 => "ISCSI_ERR_AHSLEN",
        Proto = 1008 => "ISCSI_ERR_PROTO",
        Lun = 1009 => "ISCSI_ERR_LUN",
        BadItt = 1010 => "ISCSI_ERR_BAD_ITT",
        ConnFailed = 1011 => "ISCSI_ERR_CONN_FAILED",
        R2tSn = 1012 => "ISCSI_ERR_R2TSN",
        SessionFailed = 1013 => "ISCSI_ERR_SESSION_FAILED",
        HdrDgst = 1014 => "ISCSI_ERR_HDR_DGST",
        DataDgst = 1015 => "ISCSI_ERR_DATA_DGST",
        ParamNotFound = 1016 => "ISCSI_ERR_PARAM_NOT_FOUND",
        NoScsiCmd = 1017 => "ISCSI_ERR_NO_SCSI_CMD",
        InvalidHost = 1018 => "ISCSI_ERR_INVALID_HOST",
        XmitFailed = 1019 => "ISCSI_ERR_XMIT_FAILED",
        TcpConnClose = 1020 => "ISCSI_ERR_TCP_CONN_CLOSE",
        ScsiEhSessionRst = 1021 => "ISCSI_ERR_SCSI_EH_SESSION_RST",
        NopTimedout = 1022 => "ISCSI_ERR_NOP_TIMEDOUT",
    }
}

c_enum! {
    /// Why a connection is stopped (`STOP_CONN_*`, the `flag` of `ISCSI_UEVENT_STOP_CONN`).
    pub enum StopConnFlag {
        Term = 1 => "STOP_CONN_TERM",
        Suspend = 2 => "STOP_CONN_SUSPEND",
        Recover = 3 => "STOP_CONN_RECOVER",
    }
}

c_enum! {
    /// `enum iscsi_conn_state`: the state in `ISCSI_KEVENT_CONN_LOGIN_STATE` events (offload
    /// logins).
    pub enum ConnLoginState {
        Free = 0 => "ISCSI_CONN_STATE_FREE",
        XptWait = 1 => "ISCSI_CONN_STATE_XPT_WAIT",
        InLogin = 2 => "ISCSI_CONN_STATE_IN_LOGIN",
        LoggedIn = 3 => "ISCSI_CONN_STATE_LOGGED_IN",
        InLogout = 4 => "ISCSI_CONN_STATE_IN_LOGOUT",
        LogoutRequested = 5 => "ISCSI_CONN_STATE_LOGOUT_REQUESTED",
        CleanupWait = 6 => "ISCSI_CONN_STATE_CLEANUP_WAIT",
    }
}
