//! The container's `/etc/resolv.conf`, and the host nameservers burrow's
//! DNS forwarder asks.
//!
//! Docker's rules: `--dns` servers, when given, are the nameservers in every
//! network mode. Otherwise the mode decides: in burrow mode the single
//! nameserver is the virtual DNS address (10.0.2.3 by default), whose
//! forwarder asks the host's nameservers; in host mode the container shares
//! the host's network, so the host's file is used verbatim; in none mode the
//! host's nameservers minus loopback ones (127.0.0.53 means nothing in the
//! container's own namespace). `--dns-search` replaces the host's search
//! list (`.` alone means no search list); `--dns-option` replaces the host's
//! options. A generated file holds only `nameserver`, `search` and `options`
//! lines: the host's comments describe a file that is no longer the one
//! being read, and its `sortlist` names host networks.
//!
//! Reading the host file follows resolv.conf(5): a line starting with `#` or
//! `;` is a comment, the last `search` or `domain` line sets the search
//! list, `options` lines accumulate, and a nameserver that is not a plain IP
//! address (a link-local one with a `%zone`) is skipped.

use std::net::IpAddr;

use burrow_netstack::mode::NetworkMode;

use super::{Error, Result};

/// Where the container's nameservers come from when `--dns` is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsMode {
    /// burrow's network: the forwarder at this virtual address.
    Burrow { dns: IpAddr },
    /// The host's network namespace: the host's file as it is.
    Host,
    /// No network: the host's non-loopback nameservers.
    None,
}

impl DnsMode {
    /// The DNS mode of a `--network` mode.
    pub fn for_network(mode: &NetworkMode) -> DnsMode {
        match mode {
            NetworkMode::Burrow(o) => DnsMode::Burrow { dns: IpAddr::V4(o.cidr.dns()) },
            NetworkMode::Host => DnsMode::Host,
            NetworkMode::None | NetworkMode::Container(_) | NetworkMode::Named(_) => DnsMode::None,
        }
    }
}

/// Everything that decides the container's resolv.conf besides the host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsPlan {
    pub mode: DnsMode,
    /// `--dns`; empty means "as the mode says".
    pub servers: Vec<IpAddr>,
    /// `--dns-search`; `None` keeps the host's, `Some(vec![])` means none.
    pub search: Option<Vec<String>>,
    /// `--dns-option`; `None` keeps the host's.
    pub options: Option<Vec<String>>,
}

impl DnsPlan {
    /// Validate the flags as the user typed them (each slice is one flag's
    /// values, empty when the flag is absent).
    pub fn new(mode: DnsMode, dns: &[String], dns_search: &[String], dns_options: &[String]) -> Result<DnsPlan> {
        let servers = dns.iter().map(|v| v.parse::<IpAddr>().map_err(|_| Error::Dns { value: v.clone() })).collect::<Result<Vec<_>>>()?;
        for v in dns_search {
            if v != "." && (v.is_empty() || v.len() > 253 || v.chars().any(|c| c.is_whitespace() || c == '#' || c == ';')) {
                return Err(Error::DnsSearch { value: v.clone() });
            }
        }
        for v in dns_options {
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                return Err(Error::DnsOption { value: v.clone() });
            }
        }
        let search = (!dns_search.is_empty()).then(|| dns_search.iter().filter(|v| *v != ".").cloned().collect());
        let options = (!dns_options.is_empty()).then(|| dns_options.to_vec());
        Ok(DnsPlan { mode, servers, search, options })
    }

    fn overrides_nothing(&self) -> bool {
        self.servers.is_empty() && self.search.is_none() && self.options.is_none()
    }
}

/// The container's resolv.conf, from the host's and the plan.
pub fn resolv_conf(host_resolv: &str, plan: DnsPlan) -> String {
    if plan.mode == DnsMode::Host && plan.overrides_nothing() {
        return host_resolv.to_string();
    }
    let host = HostResolv::parse(host_resolv);
    let servers = if !plan.servers.is_empty() {
        plan.servers
    } else {
        match plan.mode {
            DnsMode::Burrow { dns } => vec![dns],
            DnsMode::Host => host.nameservers,
            DnsMode::None => host.nameservers.into_iter().filter(|a| !a.is_loopback()).collect(),
        }
    };
    let search = plan.search.unwrap_or(host.search);
    let options = plan.options.unwrap_or(host.options);
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The host's nameservers in file order, loopback stubs included (the
/// forwarder runs on the host side, where 127.0.0.53 answers); empty when
/// the file names none.
pub fn host_nameservers(host_resolv: &str) -> Vec<IpAddr> {
    HostResolv::parse(host_resolv).nameservers
}

/// What resolv.conf(5) makes of a file.
struct HostResolv {
    nameservers: Vec<IpAddr>,
    search: Vec<String>,
    options: Vec<String>,
}

impl HostResolv {
    fn parse(text: &str) -> HostResolv {
        let mut out = HostResolv { nameservers: Vec::new(), search: Vec::new(), options: Vec::new() };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(a) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                        if !out.nameservers.contains(&a) {
                            out.nameservers.push(a);
                        }
                    }
                }
                Some("search" | "domain") => out.search = words.map(String::from).collect(),
                Some("options") => out.options.extend(words.map(String::from)),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "\
# managed by systemd-resolved
nameserver 127.0.0.53
nameserver 192.168.1.1
nameserver fe80::1%eth0
nameserver ::1
nameserver 2001:db8::53
options edns0 trust-ad
search lan
options ndots:2
sortlist 130.155.160.0/255.255.240.0
";

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn plan(mode: DnsMode, dns: &[&str], search: &[&str], options: &[&str]) -> DnsPlan {
        DnsPlan::new(mode, &strs(dns), &strs(search), &strs(options)).unwrap()
    }

    const BURROW: DnsMode = DnsMode::Burrow { dns: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 2, 3)) };

    #[test]
    fn burrow_mode_uses_the_forwarder() {
        assert_eq!(resolv_conf(HOST, plan(BURROW, &[], &[], &[])), "nameserver 10.0.2.3\nsearch lan\noptions edns0 trust-ad ndots:2\n");
        assert_eq!(resolv_conf("", plan(BURROW, &[], &[], &[])), "nameserver 10.0.2.3\n");
    }

    #[test]
    fn host_mode_is_verbatim_unless_overridden() {
        assert_eq!(resolv_conf(HOST, plan(DnsMode::Host, &[], &[], &[])), HOST);
        assert_eq!(
            resolv_conf(HOST, plan(DnsMode::Host, &[], &["corp"], &[])),
            "nameserver 127.0.0.53\nnameserver 192.168.1.1\nnameserver ::1\nnameserver 2001:db8::53\nsearch corp\noptions edns0 trust-ad ndots:2\n"
        );
    }

    #[test]
    fn none_mode_drops_loopback() {
        assert_eq!(
            resolv_conf(HOST, plan(DnsMode::None, &[], &[], &[])),
            "nameserver 192.168.1.1\nnameserver 2001:db8::53\nsearch lan\noptions edns0 trust-ad ndots:2\n"
        );
        assert_eq!(resolv_conf("nameserver 127.0.0.53\n", plan(DnsMode::None, &[], &[], &[])), "");
    }

    #[test]
    fn flags_override_in_every_mode() {
        for mode in [BURROW, DnsMode::Host, DnsMode::None] {
            assert_eq!(
                resolv_conf(HOST, plan(mode, &["1.1.1.1", "2606:4700:4700::1111"], &["a.example", "b"], &["ndots:1"])),
                "nameserver 1.1.1.1\nnameserver 2606:4700:4700::1111\nsearch a.example b\noptions ndots:1\n",
                "{mode:?}"
            );
        }
    }

    #[test]
    fn dot_search_means_none() {
        assert_eq!(resolv_conf(HOST, plan(BURROW, &[], &["."], &[])), "nameserver 10.0.2.3\noptions edns0 trust-ad ndots:2\n");
        let p = plan(BURROW, &[], &["."], &[]);
        assert_eq!(p.search, Some(vec![]));
        assert_eq!(plan(BURROW, &[], &[], &[]).search, None);
    }

    #[test]
    fn last_search_or_domain_wins() {
        let host = "search a b\ndomain c\n";
        assert_eq!(resolv_conf(host, plan(BURROW, &[], &[], &[])), "nameserver 10.0.2.3\nsearch c\n");
        let host = "domain c\nsearch a b\n";
        assert_eq!(resolv_conf(host, plan(BURROW, &[], &[], &[])), "nameserver 10.0.2.3\nsearch a b\n");
    }

    #[test]
    fn host_nameservers_for_the_forwarder() {
        let want: Vec<IpAddr> = ["127.0.0.53", "192.168.1.1", "::1", "2001:db8::53"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(host_nameservers(HOST), want);
        assert_eq!(
            host_nameservers("nameserver 1.1.1.1\nnameserver 1.1.1.1\n# nameserver 8.8.8.8\n;nameserver 9.9.9.9\n"),
            vec![IpAddr::from([1, 1, 1, 1])]
        );
        assert_eq!(host_nameservers(""), Vec::<IpAddr>::new());
        assert_eq!(host_nameservers("nameserver\nnameserver bogus\n"), Vec::<IpAddr>::new());
    }

    #[test]
    fn rejects_bad_flags() {
        let new = |dns: &[&str], search: &[&str], options: &[&str]| DnsPlan::new(BURROW, &strs(dns), &strs(search), &strs(options));
        assert_eq!(new(&["dns.google"], &[], &[]), Err(Error::Dns { value: "dns.google".into() }));
        assert_eq!(new(&["1.1.1.1", ""], &[], &[]), Err(Error::Dns { value: "".into() }));
        assert_eq!(new(&["[::1]"], &[], &[]), Err(Error::Dns { value: "[::1]".into() }));
        assert_eq!(new(&[], &["a b"], &[]), Err(Error::DnsSearch { value: "a b".into() }));
        assert_eq!(new(&[], &[""], &[]), Err(Error::DnsSearch { value: "".into() }));
        let long = "a".repeat(254);
        assert_eq!(new(&[], &[&long], &[]), Err(Error::DnsSearch { value: long.clone() }));
        assert_eq!(new(&[], &[], &["ndots:1 rotate"]), Err(Error::DnsOption { value: "ndots:1 rotate".into() }));
        assert_eq!(new(&[], &[], &[""]), Err(Error::DnsOption { value: "".into() }));
        assert!(new(&["x"], &[], &[]).unwrap_err().to_string().contains("expected an IP address"));
    }

    #[test]
    fn mode_for_network() {
        let m: NetworkMode = "burrow:cidr=10.9.0.0/24".parse().unwrap();
        assert_eq!(DnsMode::for_network(&m), DnsMode::Burrow { dns: "10.9.0.3".parse().unwrap() });
        assert_eq!(DnsMode::for_network(&NetworkMode::Host), DnsMode::Host);
        assert_eq!(DnsMode::for_network(&NetworkMode::None), DnsMode::None);
    }
}
