//! The container's `/etc/hosts` and the `--add-host` flag.
//!
//! The file follows docker's layout: the loopback and IPv6 well-known
//! entries, then the `--add-host` entries in the order given, then the
//! container's own name on its address (on 127.0.1.1 when it has none, as
//! Debian does for a host without a network). A dotted hostname
//! (`web.example`) is listed with its short name too, as docker does when it
//! splits `--hostname` into host and domain name.
//!
//! `--add-host` takes `NAME:IP` or `NAME=IP`; an IPv6 address may be
//! bracketed (`NAME:[::1]`) or not (`NAME:::1`, split at the first `:`).
//! The value `host-gateway` stands for the address at which the container
//! reaches the host, which the caller supplies (see `super::host_gateway`);
//! nothing is added unless the user asks, so there is no implicit
//! `host.burrow.internal`. See hosts(5).

use std::net::IpAddr;

use super::{Error, Result};

/// The `--add-host` value that means "the host, as the container sees it".
pub const HOST_GATEWAY: &str = "host-gateway";

/// docker's fixed entries, in its order.
const FIXED: &str = "\
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
";

/// Where the hostname goes when the container has no address of its own.
const NO_ADDRESS: &str = "127.0.1.1";

/// Parse one `--add-host` value. `gateway` is what `host-gateway` resolves
/// to; `None` makes `host-gateway` an error.
pub fn parse_add_host(value: &str, gateway: Option<IpAddr>) -> Result<(String, IpAddr)> {
    let split = match value.contains('=') {
        true => value.split_once('='),
        false => value.split_once(':'),
    };
    let (name, addr) = split.ok_or_else(|| Error::AddHostSyntax { value: value.into() })?;
    if !valid_name(name) {
        return Err(Error::AddHostName { value: value.into(), name: name.into() });
    }
    if addr == HOST_GATEWAY {
        let ip = gateway.ok_or_else(|| Error::NoHostGateway { value: value.into() })?;
        return Ok((name.into(), ip));
    }
    let bare = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(addr);
    let ip = bare.parse().map_err(|_| Error::AddHostAddress { value: value.into(), addr: addr.into() })?;
    Ok((name.into(), ip))
}

/// A host name as hosts(5) accepts it: letters, digits, `.`, `-` and `_`,
/// not starting with `-` or `.`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(['-', '.']) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The container's /etc/hosts.
pub fn hosts_file(hostname: &str, container_ip: Option<IpAddr>, extra: &[(String, IpAddr)]) -> String {
    let mut out = String::from(FIXED);
    for (name, ip) in extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    let addr = container_ip.map_or_else(|| NO_ADDRESS.to_string(), |ip| ip.to_string());
    match hostname.split_once('.') {
        Some((short, _)) if !short.is_empty() => out.push_str(&format!("{addr}\t{hostname} {short}\n")),
        _ => out.push_str(&format!("{addr}\t{hostname}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const GW: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 2, 2)));

    #[test]
    fn add_host_forms() {
        assert_eq!(parse_add_host("db:10.0.2.50", None), Ok(("db".into(), ip("10.0.2.50"))));
        assert_eq!(parse_add_host("db=10.0.2.50", None), Ok(("db".into(), ip("10.0.2.50"))));
        assert_eq!(parse_add_host("v6:[::1]", None), Ok(("v6".into(), ip("::1"))));
        assert_eq!(parse_add_host("v6:::1", None), Ok(("v6".into(), ip("::1"))));
        assert_eq!(parse_add_host("v6=2001:db8::1", None), Ok(("v6".into(), ip("2001:db8::1"))));
        assert_eq!(parse_add_host("v6=[2001:db8::1]", None), Ok(("v6".into(), ip("2001:db8::1"))));
        assert_eq!(parse_add_host("my_host.example-1:1.2.3.4", None), Ok(("my_host.example-1".into(), ip("1.2.3.4"))));
    }

    #[test]
    fn host_gateway() {
        assert_eq!(parse_add_host("host.burrow.internal:host-gateway", GW), Ok(("host.burrow.internal".into(), ip("10.0.2.2"))));
        assert_eq!(parse_add_host("gw=host-gateway", GW), Ok(("gw".into(), ip("10.0.2.2"))));
        assert_eq!(parse_add_host("gw:host-gateway", None), Err(Error::NoHostGateway { value: "gw:host-gateway".into() }));
        assert!(parse_add_host("gw:host-gateway", None).unwrap_err().to_string().contains("give an IP address instead"));
    }

    #[test]
    fn rejects_bad_add_host() {
        let s = |x: &str| x.to_string();
        assert_eq!(parse_add_host("db", GW), Err(Error::AddHostSyntax { value: s("db") }));
        assert_eq!(parse_add_host("", GW), Err(Error::AddHostSyntax { value: s("") }));
        assert_eq!(parse_add_host(":1.2.3.4", GW), Err(Error::AddHostName { value: s(":1.2.3.4"), name: s("") }));
        assert_eq!(parse_add_host("a b:1.2.3.4", GW), Err(Error::AddHostName { value: s("a b:1.2.3.4"), name: s("a b") }));
        assert_eq!(parse_add_host("-x:1.2.3.4", GW), Err(Error::AddHostName { value: s("-x:1.2.3.4"), name: s("-x") }));
        assert_eq!(parse_add_host("db:", GW), Err(Error::AddHostAddress { value: s("db:"), addr: s("") }));
        assert_eq!(parse_add_host("db:db.example", GW), Err(Error::AddHostAddress { value: s("db:db.example"), addr: s("db.example") }));
        assert_eq!(parse_add_host("db:[::1", GW), Err(Error::AddHostAddress { value: s("db:[::1"), addr: s("[::1") }));
        assert_eq!(parse_add_host("db:1.2.3.4:80", GW), Err(Error::AddHostAddress { value: s("db:1.2.3.4:80"), addr: s("1.2.3.4:80") }));
        assert_eq!(
            parse_add_host("db=Host-Gateway", GW),
            Err(Error::AddHostAddress { value: s("db=Host-Gateway"), addr: s("Host-Gateway") })
        );
        assert!(parse_add_host("db", GW).unwrap_err().to_string().contains("NAME:IP or NAME=IP"));
    }

    #[test]
    fn layout_with_address_and_extras() {
        let extra = vec![("db".to_string(), ip("10.0.2.50")), ("v6".to_string(), ip("2001:db8::1"))];
        assert_eq!(
            hosts_file("web", Some(ip("10.0.2.100")), &extra),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.2.50\tdb\n2001:db8::1\tv6\n10.0.2.100\tweb\n"
        );
    }

    #[test]
    fn layout_without_address() {
        let text = hosts_file("abc123", None, &[]);
        assert!(text.starts_with(FIXED));
        assert!(text.ends_with("ff02::2\tip6-allrouters\n127.0.1.1\tabc123\n"), "{text}");
    }

    #[test]
    fn dotted_hostname_lists_the_short_name() {
        assert!(hosts_file("web.example", Some(ip("10.0.2.100")), &[]).ends_with("\n10.0.2.100\tweb.example web\n"));
        assert!(hosts_file(".odd", None, &[]).ends_with("\n127.0.1.1\t.odd\n"));
    }
}
