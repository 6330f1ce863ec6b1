//! The command table: operation codes, service actions, and every command's field layout.

use super::{CommandInfo, Field, FieldSpec, Kind, group_length};
use crate::bits::Spec;

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
    RTPG = [ParameterDataFormat(1, 5, 3), AllocationLength(6, 0, 32), Control(11, 0, 8)];
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
    RCR = [ListIdentifier(2, 0, 8), AllocationLength(10, 0, 32), Control(15, 0, 8)];
    PR_IN = [AllocationLength(7, 0, 16), Control(9, 0, 8)];
    PR_OUT = [Scope(2, 4, 4), Type(2, 0, 4), ParameterListLength(5, 0, 32), Control(9, 0, 8)];
    RESERVE_10 = [ParameterListLength(7, 0, 16), Control(9, 0, 8)];
}

/// Declares [`COMMANDS`]: `Kind: OPCODE [/ SERVICE_ACTION], "name", LAYOUT;`, the CDB length
/// following from the operation code.
macro_rules! commands {
    ($($kind:ident: $op:literal $(/ $sa:literal)?, $name:literal, $fields:ident;)*) => {
        /// Every command decoded here: one entry per operation code, service action and size.
        pub const COMMANDS: &[CommandInfo] = &[$(CommandInfo {
            kind: Kind::$kind,
            opcode: $op,
            service_action: commands!(@sa $($sa)?),
            name: $name,
            cdb_length: group_length($op),
            fields: $fields,
        }),*];
    };
    (@sa) => { None };
    (@sa $sa:literal) => { Some($sa) };
}

commands! {
    TestUnitReady: 0x00, "TEST UNIT READY", CTL5;
    RequestSense: 0x03, "REQUEST SENSE", REQUEST_SENSE;
    FormatUnit: 0x04, "FORMAT UNIT", FORMAT_UNIT;
    Read: 0x08, "READ(6)", RW6;
    Write: 0x0a, "WRITE(6)", RW6;
    Inquiry: 0x12, "INQUIRY", INQUIRY;
    ModeSelect: 0x15, "MODE SELECT(6)", MODE_SELECT_6;
    Reserve: 0x16, "RESERVE(6)", CTL5;
    Release: 0x17, "RELEASE(6)", CTL5;
    ModeSense: 0x1a, "MODE SENSE(6)", MODE_SENSE_6;
    StartStopUnit: 0x1b, "START STOP UNIT", START_STOP;
    PreventAllowMediumRemoval: 0x1e, "PREVENT ALLOW MEDIUM REMOVAL", PREVENT;
    ReadCapacity10: 0x25, "READ CAPACITY(10)", READ_CAPACITY_10;
    Read: 0x28, "READ(10)", RW10;
    Write: 0x2a, "WRITE(10)", RW10;
    WriteAndVerify: 0x2e, "WRITE AND VERIFY(10)", VERIFY10;
    Verify: 0x2f, "VERIFY(10)", VERIFY10;
    PreFetch: 0x34, "PRE-FETCH(10)", CACHE10;
    SynchronizeCache: 0x35, "SYNCHRONIZE CACHE(10)", CACHE10;
    WriteBuffer: 0x3b, "WRITE BUFFER", WRITE_BUFFER;
    ReadBuffer: 0x3c, "READ BUFFER(10)", READ_BUFFER;
    WriteSame: 0x41, "WRITE SAME(10)", WRITE_SAME_10;
    Unmap: 0x42, "UNMAP", UNMAP;
    ModeSelect: 0x55, "MODE SELECT(10)", MODE_SELECT_10;
    Reserve: 0x56, "RESERVE(10)", RESERVE_10;
    Release: 0x57, "RELEASE(10)", RESERVE_10;
    ModeSense: 0x5a, "MODE SENSE(10)", MODE_SENSE_10;
    PersistentReserveIn: 0x5e / 0x00, "PERSISTENT RESERVE IN (READ KEYS)", PR_IN;
    PersistentReserveIn: 0x5e / 0x01, "PERSISTENT RESERVE IN (READ RESERVATION)", PR_IN;
    PersistentReserveIn: 0x5e / 0x02, "PERSISTENT RESERVE IN (REPORT CAPABILITIES)", PR_IN;
    PersistentReserveIn: 0x5e / 0x03, "PERSISTENT RESERVE IN (READ FULL STATUS)", PR_IN;
    PersistentReserveOut: 0x5f / 0x00, "PERSISTENT RESERVE OUT (REGISTER)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x01, "PERSISTENT RESERVE OUT (RESERVE)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x02, "PERSISTENT RESERVE OUT (RELEASE)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x03, "PERSISTENT RESERVE OUT (CLEAR)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x04, "PERSISTENT RESERVE OUT (PREEMPT)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x05, "PERSISTENT RESERVE OUT (PREEMPT AND ABORT)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x06,
        "PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)", PR_OUT;
    PersistentReserveOut: 0x5f / 0x07, "PERSISTENT RESERVE OUT (REGISTER AND MOVE)", PR_OUT;
    Read: 0x7f / 0x09, "READ(32)", RW32;
    Verify: 0x7f / 0x0a, "VERIFY(32)", VERIFY32;
    Write: 0x7f / 0x0b, "WRITE(32)", RW32;
    WriteAndVerify: 0x7f / 0x0c, "WRITE AND VERIFY(32)", VERIFY32;
    WriteSame: 0x7f / 0x0d, "WRITE SAME(32)", WRITE_SAME_32;
    ExtendedCopy: 0x83 / 0x00, "EXTENDED COPY(LID1)", EXTENDED_COPY;
    ExtendedCopy: 0x83 / 0x01, "EXTENDED COPY(LID4)", EXTENDED_COPY;
    ReceiveCopyResults: 0x84 / 0x00, "RECEIVE COPY RESULTS (COPY STATUS)", RCR;
    ReceiveCopyResults: 0x84 / 0x01, "RECEIVE COPY RESULTS (RECEIVE DATA)", RCR;
    ReceiveCopyResults: 0x84 / 0x03, "RECEIVE COPY RESULTS (OPERATING PARAMETERS)", RCR;
    ReceiveCopyResults: 0x84 / 0x04, "RECEIVE COPY RESULTS (FAILED SEGMENT DETAILS)", RCR;
    Read: 0x88, "READ(16)", RW16;
    CompareAndWrite: 0x89, "COMPARE AND WRITE", COMPARE_AND_WRITE;
    Write: 0x8a, "WRITE(16)", RW16;
    WriteAndVerify: 0x8e, "WRITE AND VERIFY(16)", VERIFY16;
    Verify: 0x8f, "VERIFY(16)", VERIFY16;
    PreFetch: 0x90, "PRE-FETCH(16)", CACHE16;
    SynchronizeCache: 0x91, "SYNCHRONIZE CACHE(16)", CACHE16;
    WriteSame: 0x93, "WRITE SAME(16)", WRITE_SAME_16;
    ReadCapacity16: 0x9e / 0x10, "READ CAPACITY(16)", READ_CAPACITY_16;
    GetLbaStatus: 0x9e / 0x12, "GET LBA STATUS(16)", GET_LBA_STATUS;
    ReportLuns: 0xa0, "REPORT LUNS", REPORT_LUNS;
    ReportTargetPortGroups: 0xa3 / 0x0a, "REPORT TARGET PORT GROUPS", RTPG;
    ReportSupportedOperationCodes: 0xa3 / 0x0c, "REPORT SUPPORTED OPERATION CODES", RSOC;
    ReportSupportedTaskManagementFunctions: 0xa3 / 0x0d,
        "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", RSTMF;
    Read: 0xa8, "READ(12)", RW12;
    Write: 0xaa, "WRITE(12)", RW12;
    WriteAndVerify: 0xae, "WRITE AND VERIFY(12)", VERIFY12;
    Verify: 0xaf, "VERIFY(12)", VERIFY12;
}
