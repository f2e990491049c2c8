use std::collections::BTreeMap;

use super::*;
use crate::model::network::Driver;
use crate::model::{NetworkId, Timestamp};

fn net(name: &str, subnet: &str) -> Network {
    let subnet: Ipv4Net = subnet.parse().unwrap();
    Network {
        name: name.into(),
        id: NetworkId::random(),
        driver: Driver::Bridge,
        ipv4: Ipv4Config { subnet, gateway: Ipv4Addr::from(u32::from(subnet.network()) + 1), ip_range: None },
        ipv6: None,
        internal: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        created: Timestamp::now(),
    }
}

fn route(dest: &str, device: &str) -> HostRoute {
    HostRoute { dest: dest.parse().unwrap(), device: device.into() }
}

fn req(subnets: &[&str], gateways: &[&str], ranges: &[&str], ipv6: bool) -> Request {
    Request {
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        gateways: gateways.iter().map(|s| s.parse().unwrap()).collect(),
        ip_ranges: ranges.iter().map(|s| s.parse().unwrap()).collect(),
        ipv6,
    }
}

const ULA: [u8; 5] = [0x12, 0x34, 0x56, 0x78, 0x9a];

#[test]
fn pool_skips_networks_and_host_routes_but_not_the_default_route() {
    let a = plan(&Request::default(), &[], &[route("0.0.0.0/0", "eth0")], ULA).unwrap();
    assert_eq!(a.ipv4.subnet.to_string(), "10.89.0.0/24");
    assert_eq!(a.ipv4.gateway, Ipv4Addr::new(10, 89, 0, 1));
    assert_eq!(a.ipv4.ip_range, None);
    assert!(a.ipv6.is_none());
    let existing = [net("a", "10.89.0.0/24"), net("b", "10.89.2.0/23")];
    let routes = [route("10.89.1.128/25", "eth1")];
    let a = plan(&Request::default(), &existing, &routes, ULA).unwrap();
    assert_eq!(a.ipv4.subnet.to_string(), "10.89.4.0/24");
    // a host route over the whole pool leaves nothing
    assert_eq!(plan(&Request::default(), &[], &[route("10.0.0.0/8", "vpn0")], ULA), Err(Error::PoolExhausted));
}

#[test]
fn overlaps_are_refused_naming_the_conflict() {
    let existing = [net("app", "10.89.0.0/24")];
    for (subnet, named) in [("10.89.0.0/25", "network app (10.89.0.0/24)"), ("10.0.0.0/8", "network app")] {
        let e = plan(&req(&[subnet], &[], &[], false), &existing, &[], ULA).unwrap_err();
        assert!(matches!(e, Error::Overlap { .. }), "{e}");
        assert!(e.to_string().contains(named), "{e}");
    }
    let e = plan(&req(&["192.168.1.0/24"], &[], &[], false), &[], &[route("192.168.0.0/16", "wlan0")], ULA).unwrap_err();
    assert_eq!(e.to_string(), "subnet 192.168.1.0/24 overlaps the host's route to 192.168.0.0/16 on wlan0: choose another --subnet");
    // IPv6 against another network's IPv6
    let mut v6 = net("six", "10.90.0.0/24");
    v6.ipv6 = Some(Ipv6Config { subnet: "fd00:1::/64".parse().unwrap(), gateway: "fd00:1::1".parse().unwrap() });
    let e = plan(&req(&["10.91.0.0/24", "fd00:1::/80"], &[], &[], true), &[v6], &[], ULA).unwrap_err();
    assert!(e.to_string().contains("network six (fd00:1::/64)"), "{e}");
    // no overlap: fine
    assert!(plan(&req(&["10.89.1.0/24"], &[], &[], false), &existing, &[], ULA).is_ok());
}

#[test]
fn subnets_are_canonical_big_enough_and_one_per_family() {
    let e = plan(&req(&["10.1.2.3/24"], &[], &[], false), &[], &[], ULA).unwrap_err();
    assert_eq!(e.to_string(), "invalid subnet 10.1.2.3/24: it has host bits set; write it as 10.1.2.0/24");
    assert!(matches!(plan(&req(&["10.1.2.0/31"], &[], &[], false), &[], &[], ULA), Err(Error::TooSmall { .. })));
    assert!(plan(&req(&["10.1.2.0/30"], &[], &[], false), &[], &[], ULA).is_ok());
    assert!(matches!(
        plan(&req(&["10.1.0.0/24", "10.2.0.0/24"], &[], &[], false), &[], &[], ULA),
        Err(Error::TwoSubnets { family: 4, .. })
    ));
    assert!(matches!(plan(&req(&["fd00::/64"], &[], &[], false), &[], &[], ULA), Err(Error::Ipv6NotEnabled { .. })));
}

#[test]
fn gateways_inside_their_subnet_and_not_reserved() {
    let a = plan(&req(&["172.30.0.0/16"], &["172.30.5.5"], &[], false), &[], &[], ULA).unwrap();
    assert_eq!(a.ipv4.gateway, Ipv4Addr::new(172, 30, 5, 5));
    let e = plan(&req(&["172.30.0.0/16"], &["172.31.0.1"], &[], false), &[], &[], ULA).unwrap_err();
    assert_eq!(e.to_string(), "--gateway 172.31.0.1 is outside subnet 172.30.0.0/16");
    for (g, what) in [("172.30.0.0", "network"), ("172.30.255.255", "broadcast")] {
        let e = plan(&req(&["172.30.0.0/16"], &[g], &[], false), &[], &[], ULA).unwrap_err();
        assert!(matches!(e, Error::GatewayReserved { what: w, .. } if w == what), "{e}");
    }
    // a gateway with no subnet of its family
    assert!(matches!(plan(&req(&[], &["10.89.0.1"], &[], false), &[], &[], ULA), Err(Error::GatewayWithoutSubnet { .. })));
    assert!(matches!(plan(&req(&[], &[], &["10.89.0.0/25"], false), &[], &[], ULA), Err(Error::RangeWithoutSubnet { .. })));
    assert!(matches!(plan(&req(&[], &["fd00::1"], &[], false), &[], &[], ULA), Err(Error::GatewayWithoutSubnet { .. })));
    assert!(matches!(plan(&req(&["10.1.0.0/24"], &["10.1.0.5", "10.1.0.6"], &[], false), &[], &[], ULA), Err(Error::TwoGateways { .. })));
}

#[test]
fn ip_range_inside_the_subnet() {
    let a = plan(&req(&["10.5.0.0/16"], &[], &["10.5.1.0/24"], false), &[], &[], ULA).unwrap();
    assert_eq!(a.ipv4.ip_range.unwrap().to_string(), "10.5.1.0/24");
    let e = plan(&req(&["10.5.0.0/16"], &[], &["10.6.1.0/24"], false), &[], &[], ULA).unwrap_err();
    assert_eq!(e.to_string(), "--ip-range 10.6.1.0/24 is outside subnet 10.5.0.0/16");
    assert!(matches!(plan(&req(&["10.5.0.0/16"], &[], &["10.5.1.1/24"], false), &[], &[], ULA), Err(Error::NotCanonical { .. })));
    assert!(matches!(plan(&req(&["10.5.0.0/16"], &[], &["fd00::/64"], false), &[], &[], ULA), Err(Error::RangeIpv6 { .. })));
}

#[test]
fn ipv6_gets_a_ula_or_the_given_subnet() {
    let a = plan(&req(&[], &[], &[], true), &[], &[], ULA).unwrap();
    let v6 = a.ipv6.unwrap();
    assert_eq!(v6.subnet.to_string(), "fd12:3456:789a::/64");
    assert_eq!(v6.gateway.to_string(), "fd12:3456:789a::1");
    let a = plan(&req(&["fd99::/64", "10.7.0.0/24"], &["fd99::fe"], &[], true), &[], &[], ULA).unwrap();
    assert_eq!(a.ipv6.unwrap().gateway.to_string(), "fd99::fe");
    assert_eq!(a.ipv4.subnet.to_string(), "10.7.0.0/24");
}

#[test]
fn allocation_skips_reserved_and_used_and_runs_out_clearly() {
    let n = net("app", "10.89.0.0/24");
    let mut used = BTreeSet::new();
    let mut got = Vec::new();
    let mut error = None;
    for _ in 0..300 {
        match allocate_v4(&n, &used, None) {
            Ok(ip) => {
                used.insert(ip);
                got.push(ip);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert_eq!(got.len(), 253, "256 less network, gateway, broadcast");
    assert_eq!(got[0], Ipv4Addr::new(10, 89, 0, 2));
    assert_eq!(*got.last().unwrap(), Ipv4Addr::new(10, 89, 0, 254));
    let e = error.unwrap();
    assert_eq!(
        e.to_string(),
        "no free address left on network app (10.89.0.0/24): remove a container from it, or create a network with a larger --subnet"
    );
    // a freed address is reused first
    used.remove(&Ipv4Addr::new(10, 89, 0, 77));
    assert_eq!(allocate_v4(&n, &used, None).unwrap(), Ipv4Addr::new(10, 89, 0, 77));
}

#[test]
fn allocation_takes_the_range_and_checks_requests() {
    let mut n = net("app", "10.5.0.0/16");
    n.ipv4.ip_range = Some("10.5.1.0/30".parse().unwrap());
    let used = BTreeSet::new();
    assert_eq!(allocate_v4(&n, &used, None).unwrap(), Ipv4Addr::new(10, 5, 1, 0), "a range's first address is a host of the subnet");
    let full: BTreeSet<Ipv4Addr> = (0..4).map(|i| Ipv4Addr::new(10, 5, 1, i)).collect();
    assert!(matches!(allocate_v4(&n, &full, None), Err(Error::Exhausted { .. })));
    // a request may be anywhere in the subnet, but free and not reserved
    assert_eq!(allocate_v4(&n, &full, Some(Ipv4Addr::new(10, 5, 9, 9))).unwrap(), Ipv4Addr::new(10, 5, 9, 9));
    let e = allocate_v4(&n, &full, Some(Ipv4Addr::new(10, 6, 0, 1))).unwrap_err();
    assert_eq!(e.to_string(), "address 10.6.0.1 is outside network app's subnet 10.5.0.0/16");
    let e = allocate_v4(&n, &full, Some(Ipv4Addr::new(10, 5, 1, 2))).unwrap_err();
    assert_eq!(e.to_string(), "address 10.5.1.2 is already in use on network app");
    for (ip, what) in [("10.5.0.0", "network"), ("10.5.0.1", "gateway"), ("10.5.255.255", "broadcast")] {
        let e = allocate_v4(&n, &used, Some(ip.parse().unwrap())).unwrap_err();
        assert!(matches!(e, Error::AddressReserved { what: w, .. } if w == what), "{e}");
    }
}

#[test]
fn ipv6_allocation() {
    let mut n = net("app", "10.89.0.0/24");
    assert!(matches!(allocate_v6(&n, &BTreeSet::new(), None), Err(Error::NoIpv6 { .. })));
    n.ipv6 = Some(Ipv6Config { subnet: "fd00:9::/64".parse().unwrap(), gateway: "fd00:9::1".parse().unwrap() });
    let mut used = BTreeSet::new();
    let a = allocate_v6(&n, &used, None).unwrap();
    assert_eq!(a.to_string(), "fd00:9::2");
    used.insert(a);
    assert_eq!(allocate_v6(&n, &used, None).unwrap().to_string(), "fd00:9::3");
    assert!(matches!(allocate_v6(&n, &used, Some("fd00:9::2".parse().unwrap())), Err(Error::AddressTaken { .. })));
    assert!(matches!(allocate_v6(&n, &used, Some("fd00:8::2".parse().unwrap())), Err(Error::AddressOutside { .. })));
}

#[test]
fn mac_is_dockers() {
    assert_eq!(mac_for(Ipv4Addr::new(10, 89, 0, 2)).to_string(), "02:42:0a:59:00:02");
}

#[test]
fn proc_route_files_parse() {
    let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
              eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
              eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
    let r = parse_routes_v4(v4);
    if cfg!(target_endian = "little") {
        assert_eq!(r, vec![route("0.0.0.0/0", "eth0"), route("192.168.0.0/24", "eth0")]);
    }
    let v6 = "fd00000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
              00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
    // the first line has 34 hex digits: malformed, dropped
    assert_eq!(parse_routes_v6(v6), vec![route("::/0", "lo")]);
    let good = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
    assert_eq!(parse_routes_v6(good), vec![route("fd00::/64", "eth0")]);
    // the real files parse (whatever they hold)
    let _ = host_routes();
}
