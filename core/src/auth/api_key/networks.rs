//! The networks a key is used from, for "a key used from a new network":
//! an IPv4 address's /24 and an IPv6 address's /64 (an office, a home, a
//! cloud subnet), written as canonical CIDR text. A key's first networks
//! are where it lives, not news: only a key used before can be used from
//! a new network.

use std::net::IpAddr;

use crate::net::IpNet;

/// The network of a client address (`None` for text that is no address).
pub fn network_of(address: &str) -> Option<String> {
    let ip = address.parse::<IpAddr>().ok()?.to_canonical();
    let prefix = match ip {
        IpAddr::V4(_) => 24,
        IpAddr::V6(_) => 64,
    };
    IpNet::parse(&format!("{ip}/{prefix}")).map(|net| net.to_string())
}

/// The networks of a minute's `addresses` the key was not used from
/// before (`known` says which it was), in order of first use, each once;
/// none for a key never used before (`used_before` false).
pub fn new_networks(addresses: &[String], used_before: bool, known: impl Fn(&str) -> bool) -> Vec<String> {
    if !used_before {
        return Vec::new();
    }
    let mut new: Vec<String> = Vec::new();
    for network in addresses.iter().filter_map(|address| network_of(address)) {
        if !known(&network) && !new.contains(&network) {
            new.push(network);
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_belongs_to_its_24_or_64() {
        for (address, network) in [
            ("192.0.2.77", Some("192.0.2.0/24")),
            ("::ffff:192.0.2.77", Some("192.0.2.0/24")),
            ("2001:db8:1:2:3:4:5:6", Some("2001:db8:1:2::/64")),
            ("not an address", None),
        ] {
            assert_eq!(network_of(address).as_deref(), network, "{address}");
        }
    }

    #[test]
    fn only_networks_a_used_key_never_saw_are_new() {
        let addresses: Vec<String> = ["10.0.0.1", "10.0.0.2", "192.0.2.1", "192.0.2.9", "2001:db8::1"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let known = |network: &str| network == "10.0.0.0/24";
        assert_eq!(
            new_networks(&addresses, true, known),
            ["192.0.2.0/24", "2001:db8::/64"],
            "in order of first use, each once"
        );
        assert!(
            new_networks(&addresses, false, known).is_empty(),
            "a first use is no news"
        );
        assert!(new_networks(&addresses, true, |_| true).is_empty());
    }
}
