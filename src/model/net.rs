//! The network flags of `run` as a container's record keeps them; the
//! mode is written as `--network` spells it.

use burrow_netstack::mode::NetworkMode;

/// The network flags of `run`, as typed (kept in the container's record,
/// so `start` and a restart decide the network again from them).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NetworkRequest {
    #[serde(with = "mode_text")]
    pub mode: NetworkMode,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
    /// `--network-alias`: more names for the container on its network.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`: the address asked for on its network.
    #[serde(default)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--link NAME[:ALIAS]`: containers of its network that it (alone)
    /// knows by another name too.
    #[serde(default)]
    pub links: Vec<String>,
    /// `--network` given again: the user-defined networks after the first
    /// (which is `mode`), as typed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_networks: Vec<String>,
    /// `--ip6`: the IPv6 address asked for on its (first) network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// `--mac-address`: its hardware address on its (first) network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<super::network::Mac>,
}

/// The mode as `--network` spells it.
mod mode_text {
    use burrow_netstack::mode::NetworkMode;

    pub fn serialize<S: serde::Serializer>(mode: &NetworkMode, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(mode)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NetworkMode, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
