//! What flint makes of a DHCP lease, sans-IO.
//!
//! A router outside the leased prefix (a /32 lease, as GCP hands out) must still be reached
//! on-link, as dhclient and systemd-networkd do with a host route to it. smoltcp 0.14 cannot
//! take that host route: `process_arp` (src/iface/interface/ipv4.rs) drops every ARP packet
//! whose sender is outside the interface's own prefixes, so the router's reply would never be
//! heard. The on-link prefix is therefore widened — just enough to hold the router, never more
//! — and the widening only happens for such a lease. Its cost: the few addresses between the
//! lease and its router are ARPed for directly instead of through the router (on GCP the
//! fabric answers ARP for the whole subnet anyway).

/// The prefix length to treat as on-link for an address and its router: the lease's own, or
/// just wide enough to hold a router outside it (see the module docs).
pub fn on_link_prefix(address: [u8; 4], prefix: u8, router: Option<[u8; 4]>) -> u8 {
    let Some(r) = router else { return prefix };
    let common = (u32::from_be_bytes(address) ^ u32::from_be_bytes(r)).leading_zeros() as u8;
    prefix.min(common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_inside_the_prefix_changes_nothing() {
        assert_eq!(on_link_prefix([10, 0, 0, 57], 24, Some([10, 0, 0, 1])), 24);
        assert_eq!(on_link_prefix([10, 0, 0, 57], 24, None), 24);
        assert_eq!(on_link_prefix([10, 0, 0, 57], 32, None), 32);
    }

    #[test]
    fn router_outside_widens_just_enough() {
        // GCP style: 10.128.0.5/32 via 10.128.0.1.
        assert_eq!(on_link_prefix([10, 128, 0, 5], 32, Some([10, 128, 0, 1])), 29);
        assert_eq!(on_link_prefix([10, 0, 0, 77], 32, Some([10, 0, 0, 1])), 25);
        assert_eq!(on_link_prefix([192, 0, 2, 10], 30, Some([198, 51, 100, 1])), 5);
    }
}
