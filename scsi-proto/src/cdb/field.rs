//! What a command is ([`Kind`]), which way its data moves ([`DataDirection`]) and the names of
//! its CDB fields ([`Field`]).

/// What a command is, independent of its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Kind {
    TestUnitReady,
    RequestSense,
    Inquiry,
    ModeSense,
    ModeSelect,
    ReadCapacity10,
    ReadCapacity16,
    Read,
    Write,
    WriteAndVerify,
    Verify,
    WriteSame,
    Unmap,
    CompareAndWrite,
    SynchronizeCache,
    PreFetch,
    GetLbaStatus,
    ReportSupportedOperationCodes,
    ReportSupportedTaskManagementFunctions,
    ReportTargetPortGroups,
    StartStopUnit,
    PreventAllowMediumRemoval,
    FormatUnit,
    ReportLuns,
    ReadBuffer,
    WriteBuffer,
    ExtendedCopy,
    ReceiveCopyResults,
    PersistentReserveIn,
    PersistentReserveOut,
    Reserve,
    Release,
}

/// Which way data moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataDirection {
    /// No data transfer.
    None,
    /// Data-In: device to initiator (READ, INQUIRY...).
    FromDevice,
    /// Data-Out: initiator to device (WRITE, MODE SELECT, UNMAP...).
    ToDevice,
}

/// Declares [`Field`] and its standard names from one list.
macro_rules! fields {
    ($($(#[$meta:meta])* $field:ident = $name:literal,)*) => {
        /// A CDB field, named as the standards name it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field {
            $(#[doc = $name] $(#[$meta])* $field,)*
        }

        impl Field {
            /// The field's name as the standards spell it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Field::$field => $name,)*
                }
            }
        }
    };
}

fields! {
    Lba = "LOGICAL BLOCK ADDRESS",
    /// Also VERIFICATION LENGTH, NUMBER OF LOGICAL BLOCKS, PREFETCH LENGTH.
    TransferLength = "TRANSFER LENGTH",
    AllocationLength = "ALLOCATION LENGTH",
    ParameterListLength = "PARAMETER LIST LENGTH",
    /// RDPROTECT, WRPROTECT or VRPROTECT.
    Protect = "PROTECT",
    Dpo = "DPO",
    Fua = "FUA",
    GroupNumber = "GROUP NUMBER",
    Bytchk = "BYTCHK",
    Immed = "IMMED",
    Anchor = "ANCHOR",
    Unmap = "UNMAP",
    Ndob = "NDOB",
    Evpd = "EVPD",
    PageCode = "PAGE CODE",
    SubpageCode = "SUBPAGE CODE",
    Dbd = "DBD",
    Llbaa = "LLBAA",
    PageControl = "PC",
    Pf = "PF",
    Sp = "SP",
    Pmi = "PMI",
    Desc = "DESC",
    Rctd = "RCTD",
    ReportingOptions = "REPORTING OPTIONS",
    RequestedOperationCode = "REQUESTED OPERATION CODE",
    RequestedServiceAction = "REQUESTED SERVICE ACTION",
    Repd = "REPD",
    ParameterDataFormat = "PARAMETER DATA FORMAT",
    PowerConditionModifier = "POWER CONDITION MODIFIER",
    PowerCondition = "POWER CONDITION",
    NoFlush = "NO_FLUSH",
    Loej = "LOEJ",
    Start = "START",
    Prevent = "PREVENT",
    Fmtpinfo = "FMTPINFO",
    Longlist = "LONGLIST",
    Fmtdata = "FMTDATA",
    Cmplst = "CMPLST",
    DefectListFormat = "DEFECT LIST FORMAT",
    SelectReport = "SELECT REPORT",
    Mode = "MODE",
    ModeSpecific = "MODE SPECIFIC",
    BufferId = "BUFFER ID",
    BufferOffset = "BUFFER OFFSET",
    ListIdentifier = "LIST IDENTIFIER",
    Scope = "SCOPE",
    Type = "TYPE",
    ReportType = "REPORT TYPE",
    ReferenceTag = "EXPECTED INITIAL LOGICAL BLOCK REFERENCE TAG",
    ApplicationTag = "EXPECTED LOGICAL BLOCK APPLICATION TAG",
    ApplicationTagMask = "LOGICAL BLOCK APPLICATION TAG MASK",
    Control = "CONTROL",
}
