//! The mode pages of one logical unit, as a device keeps them: current, changeable and default
//! values, MODE SENSE built from them and MODE SELECT checked against them.
//!
//! - [`ModePages::sense`] builds the MODE SENSE(6)/(10) response: header, block descriptor,
//!   then one page or all of them.
//! - [`ModePages::select`] checks a MODE SELECT(6)/(10) parameter list against the
//!   *changeable* masks ([`ModePages::changeable`], a [`PageSet`] whose set bits may change) and
//!   returns the new pages without touching `self`, so a target applies them atomically. Every
//!   rejection carries the exact parameter-list byte and bit of the offending field.
//!
//! Saved values are not implemented: the pages are reported with PS = 0, MODE SENSE with
//! PC = 11b fails ([`ModeSenseError::SavingParametersNotSupported`]) and MODE SELECT with SP = 1 fails
//! with INVALID FIELD IN CDB (SPC-5, MODE SELECT: "the logical unit does not implement saved mode
//! pages").
//!
//! Once a MODE SELECT changes a page, the target must act on it: a cleared WCE means every
//! write is made durable before it completes; a changed D_SENSE switches the sense data format.
//! It should also establish the MODE PARAMETERS CHANGED unit attention for the other I_T nexuses
//! (SPC-5 7.5); that is the target's business, not this module's.

use scsi_proto::bits::Spec;
use scsi_proto::mode::{
    BLOCK_DESCRIPTOR_LENGTH, BlockDescriptor, CachingPage, ControlPage, DEVICE_SPECIFIC_DPOFUA,
    DEVICE_SPECIFIC_WP, InformationalExceptionsPage, LOGICAL_BLOCK_LENGTH, MODE_DATA_LENGTH,
    ModePage, ModeParameterHeader10, ModeParameters, ModeSenseRequest, PAGE_CODE, PAGE_LENGTH, PS,
    PageControl, PageFields, ReadWriteErrorRecoveryPage, SPF, page_code,
};
use scsi_proto::{Error, FieldPointer, Location, Result, Wire};

/// The four mode pages of a disk target: either values (current, default) or masks
/// (changeable: a one for every bit an initiator may change with MODE SELECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSet {
    /// Read-Write Error Recovery, 01h.
    pub read_write_error_recovery: ReadWriteErrorRecoveryPage,
    /// Caching, 08h.
    pub caching: CachingPage,
    /// Control, 0Ah.
    pub control: ControlPage,
    /// Informational Exceptions Control, 1Ch.
    pub informational_exceptions: InformationalExceptionsPage,
}

impl PageSet {
    /// The values a disk target reports (each page's documented default), with WCE =
    /// `write_cache`.
    pub fn disk_defaults(write_cache: bool) -> Self {
        PageSet {
            read_write_error_recovery: Default::default(),
            caching: CachingPage::new(write_cache),
            control: Default::default(),
            informational_exceptions: Default::default(),
        }
    }

    /// All masks zero: nothing may change.
    pub fn cleared() -> Self {
        PageSet {
            read_write_error_recovery: ModePage::cleared(),
            caching: ModePage::cleared(),
            control: ModePage::cleared(),
            informational_exceptions: ModePage::cleared(),
        }
    }

    /// The conservative changeable masks: Control D_SENSE, and Caching WCE when
    /// `write_cache_changeable` (only if the device can really switch its write cache). Nothing
    /// else; in particular RCD, SWP, QERR, TST and the IEC fields stay fixed.
    pub fn changeable_masks(write_cache_changeable: bool) -> Self {
        let mut m = Self::cleared();
        m.caching.wce = write_cache_changeable;
        m.control.d_sense = true;
        m
    }

    /// The pages, in ascending page code order.
    fn pages(&self) -> [&dyn AnyPage; 4] {
        [
            &self.read_write_error_recovery,
            &self.caching,
            &self.control,
            &self.informational_exceptions,
        ]
    }

    fn page(&self, code: u8) -> Option<&dyn AnyPage> {
        self.pages().into_iter().find(|p| p.code() == code)
    }

    fn page_mut(&mut self, code: u8) -> Option<&mut dyn AnyPage> {
        let pages: [&mut dyn AnyPage; 4] = [
            &mut self.read_write_error_recovery,
            &mut self.caching,
            &mut self.control,
            &mut self.informational_exceptions,
        ];
        pages.into_iter().find(|p| p.code() == code)
    }
}

/// One page of a [`PageSet`], whatever its type.
trait AnyPage {
    fn code(&self) -> u8;
    /// The page as MODE SENSE reports it: PS = 0, the target saving nothing.
    fn sense_bytes(&self) -> Result<Vec<u8>>;
    fn fields(&self) -> &'static [Spec];
    fn page_len(&self) -> usize;
    /// Replaces the page by `page`, whose header the caller has checked.
    fn load(&mut self, page: &[u8]) -> Result<()>;
}

impl<F: PageFields, const N: usize> AnyPage for ModePage<F, N> {
    fn code(&self) -> u8 {
        F::CODE
    }

    fn sense_bytes(&self) -> Result<Vec<u8>> {
        let mut b = vec![0; N];
        ModePage { ps: false, ..*self }.emit(&mut b)?;
        Ok(b)
    }

    fn fields(&self) -> &'static [Spec] {
        F::FIELDS
    }

    fn page_len(&self) -> usize {
        N
    }

    fn load(&mut self, page: &[u8]) -> Result<()> {
        *self = Self::parse(page)?;
        Ok(())
    }
}

/// Checks that `given` (the whole page, header checked, at parameter-list offset `off`)
/// differs from `page` only in bits `mask` allows, then loads it. The first offending field
/// is reported at its parameter-list position: its first byte, and for a field narrower than
/// a byte its leftmost bit (SPC-5 4.4.2.2); a bit no field covers, by itself.
fn apply(
    page: &mut dyn AnyPage,
    mask: &dyn AnyPage,
    given: &[u8],
    off: usize,
    what: &'static str,
) -> Result<()> {
    let (cur, allowed) = (page.sense_bytes()?, mask.sense_bytes()?);
    // Bytes 0 and 1 (PS, SPF, PAGE CODE, PAGE LENGTH) were checked by the caller.
    let diff = given.iter().zip(&cur).zip(&allowed);
    let mut bad = diff.map(|((g, c), m)| (g ^ c) & !m).enumerate().skip(2);
    if let Some((i, bits)) = bad.find(|&(_, b)| b != 0) {
        let bit = 7 - bits.leading_zeros() as u8;
        let alone = Spec::new("reserved", i as u16, bit, 1);
        let covers = |s: &&Spec| {
            let mut m = vec![0u8; cur.len()];
            s.mark(&mut m);
            m[i] & (1 << bit) != 0
        };
        let spec = page.fields().iter().find(covers).unwrap_or(&alone);
        return Err(invalid_param(what, spec, off));
    }
    page.load(given)
}

/// What MODE SENSE and MODE SELECT need to know of the device: its capacity for the block
/// descriptor and the device-specific parameter bits (SBC-4 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDeviceInfo {
    /// Number of logical blocks of the medium (the capacity, not the last LBA).
    pub number_of_blocks: u64,
    /// Logical block length in bytes.
    pub block_length: u32,
    /// WP: the logical unit is write protected.
    pub write_protect: bool,
    /// DPOFUA: the device honours DPO and FUA.
    pub dpofua: bool,
}

impl BlockDeviceInfo {
    /// The device-specific parameter byte of the mode parameter header (SBC-4 6.5).
    pub const fn device_specific_parameter(&self) -> u8 {
        let wp = if self.write_protect { DEVICE_SPECIFIC_WP } else { 0 };
        wp | if self.dpofua { DEVICE_SPECIFIC_DPOFUA } else { 0 }
    }
}

/// Why [`ModePages::sense`] or [`ModePages::page`] built no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeSenseError {
    /// PC = 11b, saved values: the target answers ILLEGAL REQUEST, SAVING PARAMETERS NOT
    /// SUPPORTED (39h/00h, SPC-5, MODE SENSE, saved values) rather than INVALID FIELD IN CDB,
    /// the field pointer at PC (CDB byte 2 bit 7).
    #[error("MODE SENSE: saved values (PC = 11b) are not supported")]
    SavingParametersNotSupported,
    /// Any other refusal, an invalid field of the CDB or of a page.
    #[error(transparent)]
    Invalid(#[from] Error),
}

/// The mode pages of one logical unit: the current values (the four page fields), the
/// changeable masks and the default values.
///
/// [`ModePages::new`] and [`Default`] give the documented defaults of every page, with the
/// masks of [`PageSet::changeable_masks`]. All fields are public: a target configures what it
/// reports and what it lets initiators change by setting them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModePages {
    /// Current Read-Write Error Recovery page.
    pub read_write_error_recovery: ReadWriteErrorRecoveryPage,
    /// Current Caching page.
    pub caching: CachingPage,
    /// Current Control page.
    pub control: ControlPage,
    /// Current Informational Exceptions Control page.
    pub informational_exceptions: InformationalExceptionsPage,
    /// The bits MODE SELECT may change (reported for PC = 01b).
    pub changeable: PageSet,
    /// The default values (reported for PC = 10b): the power-on values, there being no saved
    /// ones.
    pub defaults: PageSet,
}

impl Default for ModePages {
    fn default() -> Self {
        Self::new(true, true)
    }
}

impl ModePages {
    /// The page codes this target has, in the ascending order MODE SENSE returns them.
    pub const SUPPORTED_PAGES: [u8; 4] = [
        page_code::READ_WRITE_ERROR_RECOVERY,
        page_code::CACHING,
        page_code::CONTROL,
        page_code::INFORMATIONAL_EXCEPTIONS_CONTROL,
    ];

    /// Defaults for a disk ([`PageSet::disk_defaults`]) with WCE = `write_cache`, D_SENSE
    /// changeable, and WCE changeable when `write_cache_changeable`.
    pub fn new(write_cache: bool, write_cache_changeable: bool) -> Self {
        Self::from_sets(
            PageSet::disk_defaults(write_cache),
            PageSet::changeable_masks(write_cache_changeable),
        )
    }

    /// Pages whose current and default values are `defaults`, with the masks `changeable`.
    pub fn from_sets(defaults: PageSet, changeable: PageSet) -> Self {
        ModePages {
            read_write_error_recovery: defaults.read_write_error_recovery,
            caching: defaults.caching,
            control: defaults.control,
            informational_exceptions: defaults.informational_exceptions,
            changeable,
            defaults,
        }
    }

    /// The current values as a [`PageSet`].
    pub fn current(&self) -> PageSet {
        PageSet {
            read_write_error_recovery: self.read_write_error_recovery,
            caching: self.caching,
            control: self.control,
            informational_exceptions: self.informational_exceptions,
        }
    }

    /// Replaces the current values.
    pub fn set_current(&mut self, set: PageSet) {
        *self = ModePages { defaults: self.defaults, ..Self::from_sets(set, self.changeable) };
    }

    fn values(&self, pc: PageControl) -> Result<PageSet, ModeSenseError> {
        match pc {
            PageControl::Current => Ok(self.current()),
            PageControl::Changeable => Ok(self.changeable),
            PageControl::Default => Ok(self.defaults),
            PageControl::Saved => Err(ModeSenseError::SavingParametersNotSupported),
        }
    }

    /// The bytes of one page as MODE SENSE reports it for `pc` (PS = 0): current, default, or
    /// for [`PageControl::Changeable`] the mask. An unknown code is an invalid PAGE CODE (CDB
    /// byte 2 bit 5); [`PageControl::Saved`] is an error for which
    /// [`ModeSenseError::SavingParametersNotSupported`].
    pub fn page(&self, page_code: u8, pc: PageControl) -> Result<Vec<u8>, ModeSenseError> {
        if !Self::SUPPORTED_PAGES.contains(&page_code) {
            return Err(unknown_page("MODE SENSE").into());
        }
        let set = self.values(pc)?;
        Ok(set.page(page_code).map_or(Ok(Vec::new()), AnyPage::sense_bytes)?)
    }

    /// Builds the MODE SENSE(6) or MODE SENSE(10) parameter data (SPC-5 7.5): header,
    /// block descriptor unless DBD, then the page asked for, or every page in ascending order
    /// for page code 3Fh. The caller truncates to the ALLOCATION LENGTH
    /// ([`scsi_proto::copy_truncated`]).
    ///
    /// The block descriptor carries the real capacity whatever PC is. With LLBAA (MODE
    /// SENSE(10) only) it is the 16-byte long LBA descriptor and LONGLBA is set; otherwise the
    /// 8-byte short one, whose NUMBER OF LOGICAL BLOCKS is FFFFFFFFh if the capacity does not
    /// fit (SBC-4 6.5, short LBA mode parameter block descriptor). Subpage FFh with a single
    /// page code returns that page: we have no subpages to add.
    ///
    /// Errors: an unknown page code is an invalid PAGE CODE (CDB byte 2 bit 5); a subpage code
    /// other than 00h or FFh an invalid SUBPAGE CODE (CDB byte 3); PC = 11b is
    /// [`ModeSenseError::SavingParametersNotSupported`]; MODE SENSE(6) data longer than its one-byte
    /// MODE DATA LENGTH can say is an invalid PAGE CODE too (the initiator must use MODE
    /// SENSE(10) for it; it cannot happen with the four pages here). A page field too large
    /// for its bits is an error naming it.
    pub fn sense(
        &self,
        req: &ModeSenseRequest,
        device: &BlockDeviceInfo,
    ) -> Result<Vec<u8>, ModeSenseError> {
        let what = if req.ten { "MODE SENSE(10)" } else { "MODE SENSE(6)" };
        let all = req.page_code == page_code::ALL_PAGES;
        if !all && !Self::SUPPORTED_PAGES.contains(&req.page_code) {
            return Err(unknown_page(what).into());
        }
        if req.subpage_code != page_code::SUBPAGE_NONE
            && req.subpage_code != page_code::ALL_SUBPAGES
        {
            return Err(Error::InvalidField {
                what,
                field: "SUBPAGE CODE",
                pointer: FieldPointer::cdb(3),
            }
            .into());
        }
        let set = self.values(req.pc)?;
        let mut pages = Vec::new();
        for p in set.pages() {
            if all || p.code() == req.page_code {
                pages.extend(p.sense_bytes()?);
            }
        }
        let block_descriptors = if req.dbd {
            Vec::new()
        } else {
            vec![BlockDescriptor {
                number_of_blocks: device.number_of_blocks,
                block_length: device.block_length,
            }]
        };
        let data = ModeParameters {
            medium_type: 0,
            device_specific_parameter: device.device_specific_parameter(),
            long_lba: req.ten && req.llbaa && !req.dbd,
            block_descriptors,
            pages,
        };
        if !req.ten && data.buffer_len(false) > usize::from(u8::MAX) + 1 {
            return Err(unknown_page(what).into());
        }
        Ok(data.to_vec(req.ten)?)
    }

    /// Applies a MODE SELECT(6) (`ten` false) or MODE SELECT(10) parameter list (SPC-5, MODE
    /// SELECT(6) and (10), 7.5) and returns the new pages; `self` is untouched, so the target
    /// swaps them in at once or not at all. A list of length zero, or of a header alone,
    /// changes nothing.
    ///
    /// Rejected, with the field's parameter-list position (INVALID FIELD IN PARAMETER LIST):
    /// a non-zero MODE DATA LENGTH (reserved in MODE SELECT); a BLOCK DESCRIPTOR LENGTH other
    /// than 0 or 8 (16 with LONGLBA in MODE SELECT(10)); a LOGICAL BLOCK LENGTH other than the
    /// device's; the SPF bit (we have no subpages); a PAGE CODE we do not have; PS = 1
    /// (reserved in MODE SELECT, SPC-5 7.5.7); a PAGE LENGTH other than ours; any bit that
    /// differs from the current value where the changeable mask has a zero (reserved bits
    /// included). A list cut short (the header, the block descriptors or a page) is
    /// [`Error::ParameterListLength`]. In the CDB: SP = 1 is an invalid SP (byte 1 bit 0,
    /// INVALID FIELD IN CDB, what SPC-5 MODE SELECT asks of a logical unit without saved
    /// pages) and PF = 0 with pages present an invalid PF (byte 1 bit 4, as LIO does).
    ///
    /// Lenient on purpose: MEDIUM TYPE, the device-specific parameter and the reserved header
    /// bits are ignored (Linux has sent back what it read), and so is the block descriptor's
    /// NUMBER OF LOGICAL BLOCKS (it only matters to a FORMAT UNIT this target does not do).
    /// A page given twice is applied twice, in order.
    pub fn select(
        &self,
        ten: bool,
        pf: bool,
        sp: bool,
        parameter_list: &[u8],
        device: &BlockDeviceInfo,
    ) -> Result<ModePages> {
        let what = if ten { "MODE SELECT(10)" } else { "MODE SELECT(6)" };
        let list = parameter_list;
        let len_err = || Error::ParameterListLength { what, len: list.len() };
        let invalid = |spec: &Spec, off| invalid_param(what, spec, off);
        if sp {
            return Err(Error::InvalidField {
                what,
                field: "SP",
                pointer: FieldPointer::cdb_bit(1, 0),
            });
        }
        if list.is_empty() {
            return Ok(self.clone());
        }
        let header_len = ModeParameterHeader10::size(ten);
        if list.len() < header_len {
            return Err(len_err());
        }
        let h = ModeParameterHeader10::read_form(list, ten);
        if h.mode_data_length != 0 {
            return Err(invalid(&MODE_DATA_LENGTH[usize::from(ten)], 0));
        }
        let bdl = h.block_descriptor_length as usize;
        if bdl != 0 && bdl != BlockDescriptor::size(h.long_lba) {
            return Err(invalid(&BLOCK_DESCRIPTOR_LENGTH[usize::from(ten)], 0));
        }
        let pages_start = header_len + bdl;
        let descriptor = list.get(header_len..pages_start).ok_or_else(len_err)?;
        if bdl != 0
            && BlockDescriptor::read_form(descriptor, h.long_lba).block_length
                != device.block_length
        {
            let field = LOGICAL_BLOCK_LENGTH[usize::from(h.long_lba)];
            return Err(invalid(&field, header_len));
        }
        if list.len() > pages_start && !pf {
            return Err(Error::InvalidField {
                what,
                field: "PF",
                pointer: FieldPointer::cdb_bit(1, 4),
            });
        }
        let mut new = self.current();
        let mut off = pages_start;
        while let Some(rest) = list.get(off..).filter(|r| !r.is_empty()) {
            if rest.len() < 2 {
                return Err(len_err());
            }
            if SPF.get(rest) != 0 {
                return Err(invalid(&SPF, off));
            }
            let code = PAGE_CODE.get(rest) as u8;
            let (Some(page), Some(mask)) = (new.page_mut(code), self.changeable.page(code)) else {
                return Err(invalid(&PAGE_CODE, off));
            };
            if PS.get(rest) != 0 {
                return Err(invalid(&PS, off));
            }
            let page_len = page.page_len();
            if PAGE_LENGTH.get(rest) + 2 != page_len as u64 {
                return Err(invalid(&PAGE_LENGTH, off));
            }
            let given = rest.get(..page_len).ok_or_else(len_err)?;
            apply(page, mask, given, off, what)?;
            off += page_len;
        }
        let mut out = self.clone();
        out.set_current(new);
        Ok(out)
    }
}

/// INVALID FIELD IN PARAMETER LIST at `spec`, a field of a structure `offset` bytes into the
/// list.
fn invalid_param(what: &'static str, spec: &Spec, offset: usize) -> Error {
    Error::InvalidField {
        what,
        field: spec.field,
        pointer: spec.pointer(Location::ParameterList, u16::try_from(offset).unwrap_or(u16::MAX)),
    }
}

fn unknown_page(what: &'static str) -> Error {
    Error::InvalidField { what, field: "PAGE CODE", pointer: FieldPointer::cdb_bit(2, 5) }
}

#[cfg(test)]
mod tests;
