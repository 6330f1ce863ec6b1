//! MODE SELECT parameter lists come from initiators: arbitrary lists must be accepted or
//! rejected, never panic, and an accepted list may only change the bits the device declares
//! changeable. MODE SENSE data (what an initiator parses) is fed to its parser too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scsi_proto::Wire;
use scsi_proto::mode::{ModeParameters, ModeSenseRequest, PageControl};
use tcmu::emulate::mode_pages::{BlockDeviceInfo, ModePages, PageSet};

fn pages_bytes(set: &PageSet) -> Vec<u8> {
    let mut v = set.read_write_error_recovery.to_vec();
    v.extend(set.caching.to_vec());
    v.extend(set.control.to_vec());
    v.extend(set.informational_exceptions.to_vec());
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, list)) = data.split_first() else {
        return;
    };
    let ten = flags & 1 != 0;
    let pf = flags & 2 != 0;
    let sp = flags & 4 != 0;
    let device = BlockDeviceInfo {
        number_of_blocks: if flags & 8 != 0 { 1 << 33 } else { 2048 },
        block_length: if flags & 16 != 0 { 4096 } else { 512 },
        write_protect: flags & 32 != 0,
        dpofua: true,
    };
    let pages = ModePages::new(flags & 64 != 0, flags & 128 != 0);

    if let Ok(new) = pages.select(ten, pf, sp, list, &device) {
        // Every bit that changed must be changeable.
        let old = pages_bytes(&pages.current());
        let now = pages_bytes(&new.current());
        let mask = pages_bytes(&pages.changeable);
        assert_eq!(old.len(), now.len());
        for ((o, n), m) in old.iter().zip(&now).zip(&mask) {
            assert_eq!((o ^ n) & !m, 0, "MODE SELECT changed a bit that is not changeable");
        }
        // What the device then reports parses back.
        let req = ModeSenseRequest {
            ten,
            dbd: false,
            llbaa: ten,
            pc: PageControl::Current,
            page_code: 0x3f,
            subpage_code: 0,
        };
        let sense = new.sense(&req, &device).expect("MODE SENSE of all pages");
        ModeParameters::parse(&sense, ten).expect("our MODE SENSE data parses");
    }

    if let Ok(params) = ModeParameters::parse(list, ten) {
        let bytes = params.to_vec(ten).expect("parsed data emits");
        assert_eq!(ModeParameters::parse(&bytes, ten).expect("emitted data parses"), params);
    }
});
