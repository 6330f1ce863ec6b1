//! Tests of the shared items and of `VpdPage`, and what the page tests share: error helpers
//! and the proptest strategies of every page.

use crate::inquiry::*;
use crate::testutil::assert_roundtrip;
use crate::{Error, FieldPointer, Wire};
use proptest::collection::vec;
use proptest::prelude::*;

pub(crate) fn field_of(e: Error) -> (&'static str, FieldPointer) {
    match e {
        Error::InvalidField { field, pointer, .. } => (field, pointer),
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

pub(crate) trait EmitChecked {
    fn to_vec_checked(&self) -> Error;
}

impl<T: Wire> EmitChecked for T {
    /// Emits into a large enough buffer and returns the (expected) error.
    fn to_vec_checked(&self) -> Error {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf).expect_err("emit should have failed")
    }
}

/// An NAA 5h designator of the logical unit.
pub(crate) fn naa5(company_id: u32, vendor_specific: u64) -> crate::Result<Designator> {
    let naa = Naa::IeeeRegistered { company_id, vendor_specific };
    Designator::new(None, Association::LogicalUnit, DesignatorKind::Naa(naa))
}

/// A Device Identification page as LIO builds it for an iSCSI LUN: an NAA 6h designator of
/// the logical unit (company id 001405h), a T10 vendor ID designator ("LIO-ORG " then
/// product:serial) and the relative target port identifier with PIV and protocol iSCSI.
pub(crate) fn lio_device_identification() -> Vec<u8> {
    let mut v = vec![0x00, 0x83, 0x00, 0x38];
    // NAA: code set binary, PIV 0, association LU, type 3, length 16.
    v.extend_from_slice(&[0x01, 0x03, 0x00, 0x10]);
    v.extend_from_slice(&[0x60, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12]);
    v.extend_from_slice(&[0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x11]);
    // T10 vendor ID: code set ASCII, association LU, type 1, length 24.
    v.extend_from_slice(&[0x02, 0x01, 0x00, 0x18]);
    v.extend_from_slice(b"LIO-ORG TCMU device:0123");
    // Relative target port: protocol iSCSI (5), binary; PIV 1, association target port
    // (01b), type 4; length 4; identifier 1.
    v.extend_from_slice(&[0x51, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]);
    assert_eq!(v.len(), 4 + 0x38);
    v
}

pub(crate) fn peripheral() -> impl Strategy<Value = Peripheral> {
    (0u8..8, 0u8..32).prop_map(|(qualifier, device_type)| Peripheral { qualifier, device_type })
}

pub(crate) fn ascii<const N: usize>() -> impl Strategy<Value = AsciiField<N>> {
    (vec(0x20u8..=0x7E, 0..=N), any::<bool>()).prop_map(|(text, nul_padded)| {
        let mut bytes = [if nul_padded { 0 } else { b' ' }; N];
        bytes[..text.len()].copy_from_slice(&text);
        AsciiField::from_bytes(bytes).unwrap()
    })
}

prop_compose! {
    pub(crate) fn standard_inquiry()(
        peripheral in peripheral(),
        flags in any::<[bool; 11]>(),
        hot_pluggable in 0u8..4,
        version in any::<u8>(),
        tpgs in 0u8..4,
        vendor in ascii::<8>(),
        product in ascii::<16>(),
        revision in ascii::<4>(),
        vendor_specific in prop_oneof![Just([0u8; 20]), any::<[u8; 20]>()],
        mut version_descriptors in vec(any::<u16>(), 0..=8),
    ) -> StandardInquiry {
        while version_descriptors.last() == Some(&0) {
            version_descriptors.pop();
        }
        let [rmb, lu_cong, normaca, hisup, sccs, acc, third_party_copy, protect, encserv,
             multip, cmdque] = flags;
        StandardInquiry {
            peripheral, rmb, lu_cong, hot_pluggable, version, normaca, hisup,
            response_data_format: RESPONSE_DATA_FORMAT, sccs, acc, tpgs, third_party_copy,
            protect, encserv, multip, cmdque,
            vendor_identification: vendor,
            product_identification: product,
            product_revision_level: revision,
            vendor_specific, version_descriptors,
        }
    }
}

pub(crate) fn designator_kind() -> impl Strategy<Value = DesignatorKind> {
    prop_oneof![
        (ascii::<8>(), vec(any::<u8>(), 0..=247)).prop_map(|(vendor, vendor_specific)| {
            DesignatorKind::T10VendorId { vendor, vendor_specific }
        }),
        prop_oneof![Just(8usize), Just(12), Just(16)]
            .prop_flat_map(|n| vec(any::<u8>(), n))
            .prop_map(DesignatorKind::Eui64),
        (0..=0xFF_FFFFu32, 0..=0xF_FFFF_FFFFu64).prop_map(|(company_id, vendor_specific)| {
            DesignatorKind::Naa(Naa::IeeeRegistered { company_id, vendor_specific })
        }),
        (0..=0xFF_FFFFu32, 0..=0xF_FFFF_FFFFu64, any::<u64>()).prop_map(
            |(company_id, vendor_specific, extension)| {
                DesignatorKind::Naa(Naa::IeeeRegisteredExtended {
                    company_id,
                    vendor_specific,
                    extension,
                })
            }
        ),
        (prop_oneof![0u8..5, 7u8..16], vec(any::<u8>(), 1..=255)).prop_map(|(naa, mut bytes)| {
            bytes[0] = (naa << 4) | (bytes[0] & 0x0F);
            DesignatorKind::Naa(Naa::Other(bytes))
        }),
        any::<u16>().prop_map(DesignatorKind::RelativeTargetPort),
        any::<u16>().prop_map(DesignatorKind::TargetPortGroup),
        any::<u16>().prop_map(DesignatorKind::LogicalUnitGroup),
        "[^\u{0}]{0,60}".prop_map(DesignatorKind::ScsiNameString),
        (prop_oneof![Just(0u8), Just(7u8), 9u8..16], vec(any::<u8>(), 0..=255))
            .prop_map(|(designator_type, bytes)| DesignatorKind::Other { designator_type, bytes }),
    ]
}

pub(crate) fn designator() -> impl Strategy<Value = Designator> {
    (
        proptest::option::of(0u8..16),
        0u8..16,
        prop_oneof![
            Just(Association::LogicalUnit),
            Just(Association::TargetPort),
            Just(Association::TargetDevice),
        ],
        designator_kind(),
    )
        .prop_map(|(protocol_identifier, code_set, association, designator)| Designator {
            protocol_identifier,
            code_set,
            association,
            designator,
        })
}

pub(crate) fn supported_vpd_pages() -> impl Strategy<Value = SupportedVpdPages> {
    (peripheral(), vec(any::<u8>(), 0..300))
        .prop_map(|(peripheral, pages)| SupportedVpdPages { peripheral, pages })
}

pub(crate) fn unit_serial_number() -> impl Strategy<Value = UnitSerialNumber> {
    (peripheral(), vec(0x20u8..=0x7E, 0..100), 0usize..4).prop_map(
        |(peripheral, mut serial, nuls)| {
            serial.resize(serial.len() + nuls, 0);
            UnitSerialNumber::from_bytes(peripheral, &serial).unwrap()
        },
    )
}

pub(crate) fn device_identification() -> impl Strategy<Value = DeviceIdentification> {
    (peripheral(), vec(designator(), 0..6))
        .prop_map(|(peripheral, designators)| DeviceIdentification { peripheral, designators })
}

prop_compose! {
    pub(crate) fn extended_inquiry_data()(
        peripheral in peripheral(),
        spt in 0u8..8,
        f in any::<[bool; 21]>(),
        multi_it_nexus_microcode_download in 0u8..16,
        extended_self_test_completion_minutes in any::<u16>(),
        maximum_supported_sense_data_length in any::<u8>(),
    ) -> ExtendedInquiryData {
        ExtendedInquiryData {
            peripheral, spt,
            grd_chk: f[0], app_chk: f[1], ref_chk: f[2], uask_sup: f[3], group_sup: f[4],
            prior_sup: f[5], headsup: f[6], ordsup: f[7], simpsup: f[8], wu_sup: f[9],
            crd_sup: f[10], nv_sup: f[11], v_sup: f[12], p_i_i_sup: f[13], luiclr: f[14],
            r_sup: f[15], cbcs: f[16], poa_sup: f[17], hra_sup: f[18], vsa_sup: f[19],
            multi_it_nexus_microcode_download, extended_self_test_completion_minutes,
            maximum_supported_sense_data_length,
        }
    }
}

prop_compose! {
    pub(crate) fn block_limits()(
        peripheral in peripheral(),
        wsnz in any::<bool>(),
        maximum_compare_and_write_length in any::<u8>(),
        optimal_transfer_length_granularity in any::<u16>(),
        u in any::<[u32; 11]>(),
        unmap_granularity_alignment in proptest::option::of(0u32..=0x7FFF_FFFF),
        maximum_write_same_length in any::<u64>(),
    ) -> BlockLimits {
        BlockLimits {
            peripheral, wsnz, maximum_compare_and_write_length,
            optimal_transfer_length_granularity,
            maximum_transfer_length: u[0], optimal_transfer_length: u[1],
            maximum_prefetch_length: u[2], maximum_unmap_lba_count: u[3],
            maximum_unmap_block_descriptor_count: u[4], optimal_unmap_granularity: u[5],
            unmap_granularity_alignment, maximum_write_same_length,
            maximum_atomic_transfer_length: u[6], atomic_alignment: u[7],
            atomic_transfer_length_granularity: u[8],
            maximum_atomic_transfer_length_with_atomic_boundary: u[9],
            maximum_atomic_boundary_size: u[10],
        }
    }
}

prop_compose! {
    pub(crate) fn block_device_characteristics()(
        peripheral in peripheral(),
        medium_rotation_rate in any::<u16>(),
        product_type in any::<u8>(),
        wabereq in 0u8..4,
        wacereq in 0u8..4,
        nominal_form_factor in 0u8..16,
        zoned in 0u8..4,
        f in any::<[bool; 3]>(),
    ) -> BlockDeviceCharacteristics {
        BlockDeviceCharacteristics {
            peripheral, medium_rotation_rate, product_type, wabereq, wacereq,
            nominal_form_factor, zoned, bocs: f[0], fuab: f[1], vbuls: f[2],
        }
    }
}

prop_compose! {
    pub(crate) fn logical_block_provisioning()(
        peripheral in peripheral(),
        threshold_exponent in any::<u8>(),
        f in any::<[bool; 4]>(),
        lbprz in 0u8..8,
        minimum_percentage in 0u8..32,
        provisioning_type in 0u8..8,
        threshold_percentage in any::<u8>(),
        provisioning_group in proptest::option::of(designator()),
    ) -> LogicalBlockProvisioning {
        LogicalBlockProvisioning {
            peripheral, threshold_exponent, lbpu: f[0], lbpws: f[1], lbpws10: f[2], lbprz,
            anc_sup: f[3], minimum_percentage, provisioning_type, threshold_percentage,
            provisioning_group,
        }
    }
}

pub(crate) fn vpd_page() -> impl Strategy<Value = VpdPage> {
    prop_oneof![
        supported_vpd_pages().prop_map(VpdPage::SupportedVpdPages),
        unit_serial_number().prop_map(VpdPage::UnitSerialNumber),
        device_identification().prop_map(VpdPage::DeviceIdentification),
        extended_inquiry_data().prop_map(VpdPage::ExtendedInquiryData),
        block_limits().prop_map(VpdPage::BlockLimits),
        block_device_characteristics().prop_map(VpdPage::BlockDeviceCharacteristics),
        logical_block_provisioning().prop_map(VpdPage::LogicalBlockProvisioning),
        (
            peripheral(),
            any::<u8>().prop_filter("decoded page code", |c| !KNOWN_PAGE_CODES.contains(c)),
            vec(any::<u8>(), 0..300)
        )
            .prop_map(|(peripheral, page_code, data)| VpdPage::Unknown {
                peripheral,
                page_code,
                data
            }),
    ]
}

/// Arbitrary bytes, and arbitrary bytes framed as a VPD page of `page_code` whose PAGE
/// LENGTH matches the buffer (so the body parsers are reached).
pub(crate) fn fuzz_input(page_code: u8) -> impl Strategy<Value = Vec<u8>> {
    (vec(any::<u8>(), 0..300), 0u8..3).prop_map(move |(mut bytes, mode)| {
        if mode > 0 && bytes.len() >= 4 {
            bytes[1] = page_code;
            if mode == 2 {
                let len = u16::try_from(bytes.len() - 4).unwrap();
                bytes[2..4].copy_from_slice(&len.to_be_bytes());
            }
        }
        bytes
    })
}

#[test]
fn ascii_field_rules() {
    assert_eq!(AsciiField::<8>::new("LIO").unwrap().as_bytes(), b"LIO     ");
    assert_eq!(AsciiField::<4>::new("").unwrap().as_bytes(), b"    ");
    assert!(AsciiField::<4>::new("12345").is_none());
    assert!(AsciiField::<4>::new("é").is_none());
    assert!(AsciiField::<4>::from_bytes(*b"ab\0\0").is_some());
    assert!(AsciiField::<4>::from_bytes(*b"a\0b\0").is_none());
    assert!(AsciiField::<4>::from_bytes([b'a', 0xFF, b' ', b' ']).is_none());
    assert_eq!(AsciiField::<4>::from_bytes(*b"ab\0\0").unwrap().as_str(), "ab");
    assert_eq!(AsciiField::<6>::new(" x y").unwrap().as_str(), " x y");
}

#[test]
fn vpd_page_dispatch() {
    let mut inquiry_data = vec![0x00, 0x86, 0x00, 0x3C];
    inquiry_data.resize(64, 0);
    let cases: [(Vec<u8>, u8); 4] = [
        (vec![0x00, 0x00, 0x00, 0x02, 0x00, 0x83], 0x00),
        (lio_device_identification(), 0x83),
        (inquiry_data, 0x86),
        (vec![0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x00, 0x00], 0xB2),
    ];
    for (bytes, code) in cases {
        let page = VpdPage::parse(&bytes).unwrap();
        assert_eq!(page.page_code(), code);
        assert_eq!(page.to_vec(), bytes);
    }
    assert!(matches!(
        VpdPage::parse(&lio_device_identification()).unwrap(),
        VpdPage::DeviceIdentification(_)
    ));
    // Third-party Copy (8Fh) is not decoded: kept whole.
    let bytes = [0x00, 0x8F, 0x00, 0x03, 1, 2, 3];
    let page = VpdPage::parse(&bytes).unwrap();
    assert_eq!(
        page,
        VpdPage::Unknown { peripheral: Peripheral::DISK, page_code: 0x8F, data: vec![1, 2, 3] }
    );
    assert_eq!(page.to_vec(), bytes);
    let pretend = VpdPage::Unknown { peripheral: Peripheral::DISK, page_code: 0xB0, data: vec![] };
    assert_eq!(field_of(pretend.to_vec_checked()).0, "PAGE CODE");
    // Errors from the page parsers come through.
    assert!(VpdPage::parse(&[0x00, 0x83, 0x00, 0x02, 0x01, 0x03]).is_err());
}

proptest! {
    #[test]
    fn vpd_page_roundtrips(x in vpd_page()) {
        assert_roundtrip(&x);
        let bytes = x.to_vec();
        prop_assert_eq!(bytes[1], x.page_code());
    }

    #[test]
    fn vpd_page_parse_never_panics(
        bytes in prop_oneof![
            fuzz_input(0x00), fuzz_input(0x80), fuzz_input(0x83), fuzz_input(0x86),
            fuzz_input(0xB0), fuzz_input(0xB1), fuzz_input(0xB2), fuzz_input(0x8F),
        ]
    ) {
        if let Ok(page) = VpdPage::parse(&bytes) {
            let _ = page.emit(&mut vec![0; page.buffer_len()]);
        }
    }
}
