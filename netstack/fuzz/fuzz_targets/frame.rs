//! Fuzz the frame path: `frame::classify` on any bytes a container can
//! write to its TAP, and, for what it accepts as a UDP datagram or an echo
//! request, the builders that answer it. Neither may panic; an answer must
//! classify as what it is.

#![no_main]

use std::net::IpAddr;

use burrow_netstack::frame::{self, Class, DropReason, Link, Unreachable};
use libfuzzer_sys::fuzz_target;
use smoltcp::wire::EthernetAddress;

const LINK: Link = Link {
    ours: EthernetAddress([0x02, 0xb0, 0xb0, 0x00, 0x00, 0x02]),
    container: EthernetAddress([0x02, 0xb0, 0xb0, 0x00, 0x00, 0x64]),
};

fuzz_target!(|data: &[u8]| {
    let _ = frame::source_mac(data);
    let mut buf = Vec::new();
    match frame::classify(data) {
        Class::Udp { src, dst, payload } => {
            // The reply, from where the container wrote to.
            if let Some(n) = frame::udp_frame(LINK, dst, src, payload, &mut buf) {
                // Addresses and ports a container may write from but not
                // to (port 0, ...) make the reply malformed; never a bad
                // checksum, never another datagram.
                match frame::classify(&buf[..n]) {
                    Class::Udp { src: s, dst: d, payload: p } => assert_eq!((s, d, p), (dst, src, payload)),
                    Class::Drop(DropReason::BadChecksum) => panic!("a UDP reply with a bad checksum"),
                    _ => {}
                }
            }
            for why in [Unreachable::Port, Unreachable::Host, Unreachable::Prohibited] {
                let _ = frame::unreachable_frame(LINK, router(dst.ip()), data, why, &mut buf);
            }
        }
        Class::Echo { src, dst, ident, seq, data: echo } => {
            if let Some(n) = frame::echo_reply_frame(LINK, dst, src, ident, seq, echo, &mut buf) {
                // A reply is not a request to carry, nor badly summed.
                let class = frame::classify(&buf[..n]);
                assert!(!matches!(class, Class::Echo { .. } | Class::Drop(DropReason::BadChecksum)), "{class:?}");
            }
            let _ = frame::unreachable_frame(LINK, router(dst), data, Unreachable::Prohibited, &mut buf);
        }
        _ => {}
    }
});

fn router(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => [10, 0, 2, 2].into(),
        IpAddr::V6(_) => "fd00:b0b0::2".parse().unwrap(),
    }
}
