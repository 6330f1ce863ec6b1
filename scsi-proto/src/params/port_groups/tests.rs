use super::*;
use crate::Error;
use crate::testutil::assert_roundtrip;
use proptest::collection::vec;
use proptest::prelude::*;

fn two_gateways(extended: bool) -> TargetPortGroups {
    let sup = TargetPortGroup::SUP_ACTIVE_OPTIMIZED | TargetPortGroup::SUP_ACTIVE_NON_OPTIMIZED;
    TargetPortGroups {
        extended,
        implicit_transition_time: if extended { 30 } else { 0 },
        groups: vec![
            TargetPortGroup {
                pref: false,
                state: AccessState::ActiveOptimized,
                supported: sup,
                group: 1,
                status_code: TargetPortGroup::STATUS_IMPLICIT_TRANSITION,
                ports: vec![1],
            },
            TargetPortGroup {
                pref: false,
                state: AccessState::ActiveNonOptimized,
                supported: sup,
                group: 2,
                status_code: 0,
                ports: vec![2, 0x0102],
            },
        ],
    }
}

/// The bytes SPC-5 6.37 lays out, written out by hand.
#[test]
fn extended_header_and_two_groups() {
    let want = [
        0x00, 0x00, 0x00, 0x20, // RETURN DATA LENGTH: 4 + 12 + 16
        0x10, 30, 0x00, 0x00, // FORMAT TYPE 001b, IMPLICIT TRANSITION TIME 30 s
        0x00, 0x03, 0x00, 0x01, 0x00, 0x02, 0x00,
        0x01, // AO, AO|AN sup, group 1, implicit, 1 port
        0x00, 0x00, 0x00, 0x01, // relative target port 1
        0x01, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, // AN, group 2, 2 ports
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x02,
    ];
    let rtpg = two_gateways(true);
    assert_eq!(rtpg.to_vec(), want);
    assert_eq!(TargetPortGroups::parse(&want).unwrap(), rtpg);
    // The length-only form: the same descriptors after a 4-byte header.
    let short = two_gateways(false).to_vec();
    assert_eq!(short[..4], [0, 0, 0, 0x1c]);
    assert_eq!(short[4..], want[8..]);
    assert_eq!(TargetPortGroups::parse(&short).unwrap(), two_gateways(false));
}

#[test]
fn bad_data_is_an_error() {
    let want = two_gateways(true).to_vec();
    assert!(matches!(
        TargetPortGroups::parse(&want[..want.len() - 1]),
        Err(Error::Truncated { needed: 36, .. })
    ));
    // A descriptor that says it has more ports than the data holds.
    let mut bad = want.clone();
    bad[15] = 2;
    assert!(matches!(TargetPortGroups::parse(&bad), Err(Error::Truncated { .. })));
    // A reserved state.
    let mut bad = want.clone();
    bad[8] = 0x05; // 5h to Dh are reserved
    assert!(matches!(
        TargetPortGroups::parse(&bad),
        Err(Error::InvalidField { field: "ASYMMETRIC ACCESS STATE", .. })
    ));
    // More ports than TARGET PORT COUNT holds.
    let mut many = two_gateways(false);
    many.groups[0].ports = vec![7; 256];
    assert!(matches!(
        many.emit(&mut vec![0; many.buffer_len()]),
        Err(Error::InvalidField { field: "TARGET PORT COUNT", .. })
    ));
}

fn any_state() -> impl Strategy<Value = AccessState> {
    (0u8..16).prop_filter_map("reserved", AccessState::from_code)
}

proptest! {
    #[test]
    fn roundtrip(
        extended in any::<bool>(),
        time in any::<u8>(),
        groups in vec(
            (any::<bool>(), any_state(), any::<u8>(), any::<u16>(), any::<u8>(), vec(any::<u16>(), 0..8)),
            0..6,
        ),
    ) {
        let groups = groups
            .into_iter()
            .map(|(pref, state, supported, group, status_code, ports)| TargetPortGroup {
                pref, state, supported, group, status_code, ports,
            })
            .collect::<Vec<_>>();
        // The length-only form cannot carry a transition time; a group whose first byte looks
        // like an extended header's cannot lead the length-only form (Linux tells them
        // apart by those bits too, and ours are always zero).
        let rtpg = TargetPortGroups {
            extended,
            implicit_transition_time: if extended { time } else { 0 },
            groups,
        };
        assert_roundtrip(&rtpg);
    }

    #[test]
    fn parse_never_panics(bytes in vec(any::<u8>(), 0..64)) {
        let _ = TargetPortGroups::parse(&bytes);
    }
}
