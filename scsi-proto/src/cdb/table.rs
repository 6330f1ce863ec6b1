//! The command table: operation codes, service actions, and every command's field layout.

use super::{CommandInfo, Field, FieldSpec, Kind, group_length};
use crate::bits::Spec;

/// Operation codes (CDB byte 0).
pub mod opcode {
    #![allow(missing_docs)]
    pub const TEST_UNIT_READY: u8 = 0x00;
    pub const REQUEST_SENSE: u8 = 0x03;
    pub const FORMAT_UNIT: u8 = 0x04;
    pub const READ_6: u8 = 0x08;
    pub const WRITE_6: u8 = 0x0a;
    pub const INQUIRY: u8 = 0x12;
    pub const MODE_SELECT_6: u8 = 0x15;
    pub const RESERVE_6: u8 = 0x16;
    pub const RELEASE_6: u8 = 0x17;
    pub const MODE_SENSE_6: u8 = 0x1a;
    pub const START_STOP_UNIT: u8 = 0x1b;
    pub const PREVENT_ALLOW_MEDIUM_REMOVAL: u8 = 0x1e;
    pub const READ_CAPACITY_10: u8 = 0x25;
    pub const READ_10: u8 = 0x28;
    pub const WRITE_10: u8 = 0x2a;
    pub const WRITE_AND_VERIFY_10: u8 = 0x2e;
    pub const VERIFY_10: u8 = 0x2f;
    pub const PRE_FETCH_10: u8 = 0x34;
    pub const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    pub const WRITE_BUFFER: u8 = 0x3b;
    pub const READ_BUFFER_10: u8 = 0x3c;
    pub const WRITE_SAME_10: u8 = 0x41;
    pub const UNMAP: u8 = 0x42;
    pub const MODE_SELECT_10: u8 = 0x55;
    pub const RESERVE_10: u8 = 0x56;
    pub const RELEASE_10: u8 = 0x57;
    pub const MODE_SENSE_10: u8 = 0x5a;
    pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
    pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
    pub const VARIABLE_LENGTH: u8 = 0x7f;
    pub const EXTENDED_COPY: u8 = 0x83;
    pub const RECEIVE_COPY_RESULTS: u8 = 0x84;
    pub const READ_16: u8 = 0x88;
    pub const COMPARE_AND_WRITE: u8 = 0x89;
    pub const WRITE_16: u8 = 0x8a;
    pub const WRITE_AND_VERIFY_16: u8 = 0x8e;
    pub const VERIFY_16: u8 = 0x8f;
    pub const PRE_FETCH_16: u8 = 0x90;
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    pub const WRITE_SAME_16: u8 = 0x93;
    pub const SERVICE_ACTION_IN_16: u8 = 0x9e;
    pub const REPORT_LUNS: u8 = 0xa0;
    pub const MAINTENANCE_IN: u8 = 0xa3;
    pub const READ_12: u8 = 0xa8;
    pub const WRITE_12: u8 = 0xaa;
    pub const WRITE_AND_VERIFY_12: u8 = 0xae;
    pub const VERIFY_12: u8 = 0xaf;
}

/// Service actions of the operation codes that have them.
pub mod service_action {
    #![allow(missing_docs)]
    /// SERVICE ACTION IN(16).
    pub const READ_CAPACITY_16: u16 = 0x10;
    pub const GET_LBA_STATUS: u16 = 0x12;
    /// MAINTENANCE IN.
    pub const REPORT_SUPPORTED_OPERATION_CODES: u16 = 0x0c;
    pub const REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS: u16 = 0x0d;
    /// Variable-length (7Fh) CDBs.
    pub const READ_32: u16 = 0x0009;
    pub const VERIFY_32: u16 = 0x000a;
    pub const WRITE_32: u16 = 0x000b;
    pub const WRITE_AND_VERIFY_32: u16 = 0x000c;
    pub const WRITE_SAME_32: u16 = 0x000d;
    /// EXTENDED COPY.
    pub const EXTENDED_COPY_LID1: u16 = 0x00;
    pub const EXTENDED_COPY_LID4: u16 = 0x01;
    /// RECEIVE COPY RESULTS.
    pub const COPY_STATUS: u16 = 0x00;
    pub const RECEIVE_DATA: u16 = 0x01;
    pub const OPERATING_PARAMETERS: u16 = 0x03;
    pub const FAILED_SEGMENT_DETAILS: u16 = 0x04;
    /// PERSISTENT RESERVE IN.
    pub const READ_KEYS: u16 = 0x00;
    pub const READ_RESERVATION: u16 = 0x01;
    pub const REPORT_CAPABILITIES: u16 = 0x02;
    pub const READ_FULL_STATUS: u16 = 0x03;
    /// PERSISTENT RESERVE OUT.
    pub const REGISTER: u16 = 0x00;
    pub const RESERVE: u16 = 0x01;
    pub const RELEASE: u16 = 0x02;
    pub const CLEAR: u16 = 0x03;
    pub const PREEMPT: u16 = 0x04;
    pub const PREEMPT_AND_ABORT: u16 = 0x05;
    pub const REGISTER_AND_IGNORE_EXISTING_KEY: u16 = 0x06;
    pub const REGISTER_AND_MOVE: u16 = 0x07;
}

/// Declares field layouts: `NAME = [Field(byte, shift, bits), ...];`, positions as
/// [`Spec::new`] takes them.
macro_rules! layouts {
    ($(
        $name:ident = [$($field:ident($byte:literal, $shift:literal, $bits:literal)),* $(,)?];
    )*) => {
        $(const $name: &[FieldSpec] = &[$(Spec::new(Field::$field, $byte, $shift, $bits)),*];)*
    };
}

// Field layouts, shared by the commands that have the same shape (SBC-4 5.x, SPC-5 6.x).
layouts! {
    CTL5 = [Control(5, 0, 8)];
    REQUEST_SENSE = [Desc(1, 0, 1), AllocationLength(4, 0, 8), Control(5, 0, 8)];
    INQUIRY = [Evpd(1, 0, 1), PageCode(2, 0, 8), AllocationLength(3, 0, 16), Control(5, 0, 8)];
    MODE_SELECT_6 = [Pf(1, 4, 1), Sp(1, 0, 1), ParameterListLength(4, 0, 8), Control(5, 0, 8)];
    MODE_SELECT_10 = [Pf(1, 4, 1), Sp(1, 0, 1), ParameterListLength(7, 0, 16), Control(9, 0, 8)];
    MODE_SENSE_6 = [
        Dbd(1, 3, 1), PageControl(2, 6, 2), PageCode(2, 0, 6), SubpageCode(3, 0, 8),
        AllocationLength(4, 0, 8), Control(5, 0, 8),
    ];
    MODE_SENSE_10 = [
        Llbaa(1, 4, 1), Dbd(1, 3, 1), PageControl(2, 6, 2), PageCode(2, 0, 6),
        SubpageCode(3, 0, 8), AllocationLength(7, 0, 16), Control(9, 0, 8),
    ];
    READ_CAPACITY_10 = [Lba(2, 0, 32), Pmi(8, 0, 1), Control(9, 0, 8)];
    READ_CAPACITY_16 = [AllocationLength(10, 0, 32), Control(15, 0, 8)];
    RW6 = [Lba(1, 0, 21), TransferLength(4, 0, 8), Control(5, 0, 8)];
    RW10 = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Fua(1, 3, 1), Lba(2, 0, 32), GroupNumber(6, 0, 6),
        TransferLength(7, 0, 16), Control(9, 0, 8),
    ];
    RW12 = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Fua(1, 3, 1), Lba(2, 0, 32), TransferLength(6, 0, 32),
        GroupNumber(10, 0, 6), Control(11, 0, 8),
    ];
    RW16 = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Fua(1, 3, 1), Lba(2, 0, 64), TransferLength(10, 0, 32),
        GroupNumber(14, 0, 6), Control(15, 0, 8),
    ];
    RW32 = [
        Control(1, 0, 8), GroupNumber(6, 0, 6), Protect(10, 5, 3), Dpo(10, 4, 1), Fua(10, 3, 1),
        Lba(12, 0, 64), ReferenceTag(20, 0, 32), ApplicationTag(24, 0, 16),
        ApplicationTagMask(26, 0, 16), TransferLength(28, 0, 32),
    ];
    // WRITE AND VERIFY and VERIFY: PROTECT, DPO, BYTCHK (bits 2..1); no FUA.
    VERIFY10 = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Bytchk(1, 1, 2), Lba(2, 0, 32), GroupNumber(6, 0, 6),
        TransferLength(7, 0, 16), Control(9, 0, 8),
    ];
    VERIFY12 = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Bytchk(1, 1, 2), Lba(2, 0, 32), TransferLength(6, 0, 32),
        GroupNumber(10, 0, 6), Control(11, 0, 8),
    ];
    VERIFY16 = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Bytchk(1, 1, 2), Lba(2, 0, 64),
        TransferLength(10, 0, 32), GroupNumber(14, 0, 6), Control(15, 0, 8),
    ];
    VERIFY32 = [
        Control(1, 0, 8), GroupNumber(6, 0, 6), Protect(10, 5, 3), Dpo(10, 4, 1),
        Bytchk(10, 1, 2), Lba(12, 0, 64), ReferenceTag(20, 0, 32), ApplicationTag(24, 0, 16),
        ApplicationTagMask(26, 0, 16), TransferLength(28, 0, 32),
    ];
    WRITE_SAME_10 = [
        Protect(1, 5, 3), Anchor(1, 4, 1), Unmap(1, 3, 1), Lba(2, 0, 32), GroupNumber(6, 0, 6),
        TransferLength(7, 0, 16), Control(9, 0, 8),
    ];
    WRITE_SAME_16 = [
        Protect(1, 5, 3), Anchor(1, 4, 1), Unmap(1, 3, 1), Ndob(1, 0, 1), Lba(2, 0, 64),
        TransferLength(10, 0, 32), GroupNumber(14, 0, 6), Control(15, 0, 8),
    ];
    WRITE_SAME_32 = [
        Control(1, 0, 8), GroupNumber(6, 0, 6), Protect(10, 5, 3), Anchor(10, 4, 1),
        Unmap(10, 3, 1), Ndob(10, 0, 1), Lba(12, 0, 64), ReferenceTag(20, 0, 32),
        ApplicationTag(24, 0, 16), ApplicationTagMask(26, 0, 16), TransferLength(28, 0, 32),
    ];
    UNMAP = [
        Anchor(1, 0, 1), GroupNumber(6, 0, 6), ParameterListLength(7, 0, 16), Control(9, 0, 8),
    ];
    COMPARE_AND_WRITE = [
        Protect(1, 5, 3), Dpo(1, 4, 1), Fua(1, 3, 1), Lba(2, 0, 64), TransferLength(13, 0, 8),
        GroupNumber(14, 0, 6), Control(15, 0, 8),
    ];
    // SYNCHRONIZE CACHE and PRE-FETCH share their shape.
    CACHE10 = [
        Immed(1, 1, 1), Lba(2, 0, 32), GroupNumber(6, 0, 6), TransferLength(7, 0, 16),
        Control(9, 0, 8),
    ];
    CACHE16 = [
        Immed(1, 1, 1), Lba(2, 0, 64), TransferLength(10, 0, 32), GroupNumber(14, 0, 6),
        Control(15, 0, 8),
    ];
    GET_LBA_STATUS = [
        Lba(2, 0, 64), AllocationLength(10, 0, 32), ReportType(14, 0, 2), Control(15, 0, 8),
    ];
    RSOC = [
        Rctd(2, 7, 1), ReportingOptions(2, 0, 3), RequestedOperationCode(3, 0, 8),
        RequestedServiceAction(4, 0, 16), AllocationLength(6, 0, 32), Control(11, 0, 8),
    ];
    RSTMF = [Repd(2, 7, 1), AllocationLength(6, 0, 32), Control(11, 0, 8)];
    START_STOP = [
        Immed(1, 0, 1), PowerConditionModifier(3, 0, 4), PowerCondition(4, 4, 4),
        NoFlush(4, 2, 1), Loej(4, 1, 1), Start(4, 0, 1), Control(5, 0, 8),
    ];
    PREVENT = [Prevent(4, 0, 2), Control(5, 0, 8)];
    FORMAT_UNIT = [
        Fmtpinfo(1, 6, 2), Longlist(1, 5, 1), Fmtdata(1, 4, 1), Cmplst(1, 3, 1),
        DefectListFormat(1, 0, 3), Control(5, 0, 8),
    ];
    REPORT_LUNS = [SelectReport(2, 0, 8), AllocationLength(6, 0, 32), Control(11, 0, 8)];
    READ_BUFFER = [
        Mode(1, 0, 5), BufferId(2, 0, 8), BufferOffset(3, 0, 24), AllocationLength(6, 0, 24),
        Control(9, 0, 8),
    ];
    WRITE_BUFFER = [
        ModeSpecific(1, 5, 3), Mode(1, 0, 5), BufferId(2, 0, 8), BufferOffset(3, 0, 24),
        ParameterListLength(6, 0, 24), Control(9, 0, 8),
    ];
    EXTENDED_COPY = [ParameterListLength(10, 0, 32), Control(15, 0, 8)];
    RECEIVE_COPY_RESULTS = [
        ListIdentifier(2, 0, 8), AllocationLength(10, 0, 32), Control(15, 0, 8),
    ];
    PR_IN = [AllocationLength(7, 0, 16), Control(9, 0, 8)];
    PR_OUT = [Scope(2, 4, 4), Type(2, 0, 4), ParameterListLength(5, 0, 32), Control(9, 0, 8)];
    RESERVE_10 = [ParameterListLength(7, 0, 16), Control(9, 0, 8)];
}

/// Declares [`COMMANDS`]: `Kind: OPCODE [/ SERVICE_ACTION], "name", LAYOUT;`, the CDB length
/// following from the operation code.
macro_rules! commands {
    ($($kind:ident: $op:ident $(/ $sa:ident)?, $name:literal, $fields:ident;)*) => {
        /// Every command this module decodes, one entry per operation code, service action
        /// and size.
        pub const COMMANDS: &[CommandInfo] = &[$(CommandInfo {
            kind: Kind::$kind,
            opcode: opcode::$op,
            service_action: commands!(@sa $($sa)?),
            name: $name,
            cdb_length: group_length(opcode::$op),
            fields: $fields,
        }),*];
    };
    (@sa) => { None };
    (@sa $sa:ident) => { Some(service_action::$sa) };
}

commands! {
    TestUnitReady: TEST_UNIT_READY, "TEST UNIT READY", CTL5;
    RequestSense: REQUEST_SENSE, "REQUEST SENSE", REQUEST_SENSE;
    FormatUnit: FORMAT_UNIT, "FORMAT UNIT", FORMAT_UNIT;
    Read: READ_6, "READ(6)", RW6;
    Write: WRITE_6, "WRITE(6)", RW6;
    Inquiry: INQUIRY, "INQUIRY", INQUIRY;
    ModeSelect: MODE_SELECT_6, "MODE SELECT(6)", MODE_SELECT_6;
    Reserve: RESERVE_6, "RESERVE(6)", CTL5;
    Release: RELEASE_6, "RELEASE(6)", CTL5;
    ModeSense: MODE_SENSE_6, "MODE SENSE(6)", MODE_SENSE_6;
    StartStopUnit: START_STOP_UNIT, "START STOP UNIT", START_STOP;
    PreventAllowMediumRemoval: PREVENT_ALLOW_MEDIUM_REMOVAL,
        "PREVENT ALLOW MEDIUM REMOVAL", PREVENT;
    ReadCapacity10: READ_CAPACITY_10, "READ CAPACITY(10)", READ_CAPACITY_10;
    Read: READ_10, "READ(10)", RW10;
    Write: WRITE_10, "WRITE(10)", RW10;
    WriteAndVerify: WRITE_AND_VERIFY_10, "WRITE AND VERIFY(10)", VERIFY10;
    Verify: VERIFY_10, "VERIFY(10)", VERIFY10;
    PreFetch: PRE_FETCH_10, "PRE-FETCH(10)", CACHE10;
    SynchronizeCache: SYNCHRONIZE_CACHE_10, "SYNCHRONIZE CACHE(10)", CACHE10;
    WriteBuffer: WRITE_BUFFER, "WRITE BUFFER", WRITE_BUFFER;
    ReadBuffer: READ_BUFFER_10, "READ BUFFER(10)", READ_BUFFER;
    WriteSame: WRITE_SAME_10, "WRITE SAME(10)", WRITE_SAME_10;
    Unmap: UNMAP, "UNMAP", UNMAP;
    ModeSelect: MODE_SELECT_10, "MODE SELECT(10)", MODE_SELECT_10;
    Reserve: RESERVE_10, "RESERVE(10)", RESERVE_10;
    Release: RELEASE_10, "RELEASE(10)", RESERVE_10;
    ModeSense: MODE_SENSE_10, "MODE SENSE(10)", MODE_SENSE_10;
    PersistentReserveIn: PERSISTENT_RESERVE_IN / READ_KEYS,
        "PERSISTENT RESERVE IN (READ KEYS)", PR_IN;
    PersistentReserveIn: PERSISTENT_RESERVE_IN / READ_RESERVATION,
        "PERSISTENT RESERVE IN (READ RESERVATION)", PR_IN;
    PersistentReserveIn: PERSISTENT_RESERVE_IN / REPORT_CAPABILITIES,
        "PERSISTENT RESERVE IN (REPORT CAPABILITIES)", PR_IN;
    PersistentReserveIn: PERSISTENT_RESERVE_IN / READ_FULL_STATUS,
        "PERSISTENT RESERVE IN (READ FULL STATUS)", PR_IN;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / REGISTER,
        "PERSISTENT RESERVE OUT (REGISTER)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / RESERVE,
        "PERSISTENT RESERVE OUT (RESERVE)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / RELEASE,
        "PERSISTENT RESERVE OUT (RELEASE)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / CLEAR, "PERSISTENT RESERVE OUT (CLEAR)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / PREEMPT,
        "PERSISTENT RESERVE OUT (PREEMPT)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / PREEMPT_AND_ABORT,
        "PERSISTENT RESERVE OUT (PREEMPT AND ABORT)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / REGISTER_AND_IGNORE_EXISTING_KEY,
        "PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)", PR_OUT;
    PersistentReserveOut: PERSISTENT_RESERVE_OUT / REGISTER_AND_MOVE,
        "PERSISTENT RESERVE OUT (REGISTER AND MOVE)", PR_OUT;
    Read: VARIABLE_LENGTH / READ_32, "READ(32)", RW32;
    Verify: VARIABLE_LENGTH / VERIFY_32, "VERIFY(32)", VERIFY32;
    Write: VARIABLE_LENGTH / WRITE_32, "WRITE(32)", RW32;
    WriteAndVerify: VARIABLE_LENGTH / WRITE_AND_VERIFY_32, "WRITE AND VERIFY(32)", VERIFY32;
    WriteSame: VARIABLE_LENGTH / WRITE_SAME_32, "WRITE SAME(32)", WRITE_SAME_32;
    ExtendedCopy: EXTENDED_COPY / EXTENDED_COPY_LID1, "EXTENDED COPY(LID1)", EXTENDED_COPY;
    ExtendedCopy: EXTENDED_COPY / EXTENDED_COPY_LID4, "EXTENDED COPY(LID4)", EXTENDED_COPY;
    ReceiveCopyResults: RECEIVE_COPY_RESULTS / COPY_STATUS,
        "RECEIVE COPY RESULTS (COPY STATUS)", RECEIVE_COPY_RESULTS;
    ReceiveCopyResults: RECEIVE_COPY_RESULTS / RECEIVE_DATA,
        "RECEIVE COPY RESULTS (RECEIVE DATA)", RECEIVE_COPY_RESULTS;
    ReceiveCopyResults: RECEIVE_COPY_RESULTS / OPERATING_PARAMETERS,
        "RECEIVE COPY RESULTS (OPERATING PARAMETERS)", RECEIVE_COPY_RESULTS;
    ReceiveCopyResults: RECEIVE_COPY_RESULTS / FAILED_SEGMENT_DETAILS,
        "RECEIVE COPY RESULTS (FAILED SEGMENT DETAILS)", RECEIVE_COPY_RESULTS;
    Read: READ_16, "READ(16)", RW16;
    CompareAndWrite: COMPARE_AND_WRITE, "COMPARE AND WRITE", COMPARE_AND_WRITE;
    Write: WRITE_16, "WRITE(16)", RW16;
    WriteAndVerify: WRITE_AND_VERIFY_16, "WRITE AND VERIFY(16)", VERIFY16;
    Verify: VERIFY_16, "VERIFY(16)", VERIFY16;
    PreFetch: PRE_FETCH_16, "PRE-FETCH(16)", CACHE16;
    SynchronizeCache: SYNCHRONIZE_CACHE_16, "SYNCHRONIZE CACHE(16)", CACHE16;
    WriteSame: WRITE_SAME_16, "WRITE SAME(16)", WRITE_SAME_16;
    ReadCapacity16: SERVICE_ACTION_IN_16 / READ_CAPACITY_16, "READ CAPACITY(16)", READ_CAPACITY_16;
    GetLbaStatus: SERVICE_ACTION_IN_16 / GET_LBA_STATUS, "GET LBA STATUS(16)", GET_LBA_STATUS;
    ReportLuns: REPORT_LUNS, "REPORT LUNS", REPORT_LUNS;
    ReportSupportedOperationCodes: MAINTENANCE_IN / REPORT_SUPPORTED_OPERATION_CODES,
        "REPORT SUPPORTED OPERATION CODES", RSOC;
    ReportSupportedTaskManagementFunctions:
        MAINTENANCE_IN / REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS,
        "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", RSTMF;
    Read: READ_12, "READ(12)", RW12;
    Write: WRITE_12, "WRITE(12)", RW12;
    WriteAndVerify: WRITE_AND_VERIFY_12, "WRITE AND VERIFY(12)", VERIFY12;
    Verify: VERIFY_12, "VERIFY(12)", VERIFY12;
}
