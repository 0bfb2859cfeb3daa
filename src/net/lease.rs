//! What flint makes of a DHCP lease, sans-IO: the on-link prefix and the IPv4 routes, from the
//! subnet mask, the router (option 3) and the classless static routes (option 121, RFC 3442).
//!
//! A router outside the leased prefix (a /32 lease, as GCP hands out) must still be reached
//! on-link, as dhclient and systemd-networkd do with a host route to it. smoltcp 0.14 cannot
//! take that host route: `process_arp` (src/iface/interface/ipv4.rs) drops every ARP packet
//! whose sender is outside the interface's own prefixes, so the router's reply would never be
//! heard. The on-link prefix is therefore widened — just enough to hold the router, never more
//! — and the widening only happens for such a lease. Its cost: the few addresses between the
//! lease and its router are ARPed for directly instead of through the router (on GCP the
//! fabric answers ARP for the whole subnet anyway).
//!
//! Classless routes (RFC 3442 "DHCP Client Behavior"): when the option is there, the router
//! option is ignored; `0.0.0.0/0` is the default route; a route via `0.0.0.0` is on-link. The
//! routers the kept routes use widen the on-link prefix as above, and so does an on-link route
//! (smoltcp knows no on-link route, only its own prefixes) — unless the wider prefix would take
//! in the destination of a route via a router: smoltcp sends everything inside its prefixes
//! directly before it looks at a route, so that route would silently stop working; such an
//! on-link route is left out instead. A malformed option is ignored as a whole (the router
//! option then applies), as no partial reading of it can be trusted.

use core::fmt;

/// Routes via a router installed from one lease: smoltcp's table holds
/// `iface-max-route-count-8` (Cargo.toml), one of which is the IPv6 default route. Routes
/// beyond are left out and counted (the default route is always installed first).
pub const ROUTES_MAX: usize = 7;

/// An IPv4 route: `dest/prefix` via `router`; a router of `0.0.0.0` means on-link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub dest: [u8; 4],
    pub prefix: u8,
    pub router: [u8; 4],
}

impl Route {
    pub fn on_link(&self) -> bool {
        self.router == [0; 4]
    }
}

/// Why an option 121 was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClasslessError {
    /// A descriptor's width above 32.
    Width(u8),
    /// The option ends inside a descriptor or router, or is empty (RFC 3442: at least 5 bytes).
    Truncated,
}

impl fmt::Display for ClasslessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClasslessError::Width(_) => f.write_str("a destination wider than 32 bits"),
            ClasslessError::Truncated => f.write_str("truncated"),
        }
    }
}

/// The routes of an option 121 body (its instances concatenated, RFC 3396), in order: each is
/// a width, the significant octets of the destination (`ceil(width / 8)`, RFC 3442 §2), and the
/// router. Destination bits beyond the width are cleared. Stops after the first error.
pub fn classless(data: &[u8]) -> Classless<'_> {
    Classless { rest: data }
}

pub struct Classless<'a> {
    rest: &'a [u8],
}

impl Iterator for Classless<'_> {
    type Item = Result<Route, ClasslessError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&width, tail) = self.rest.split_first()?;
        let significant = (width as usize).div_ceil(8);
        let entry = if width > 32 {
            Err(ClasslessError::Width(width))
        } else if tail.len() < significant + 4 {
            Err(ClasslessError::Truncated)
        } else {
            let mut dest = [0u8; 4];
            dest[..significant].copy_from_slice(&tail[..significant]);
            let mask = u32::MAX.checked_shl(32 - width as u32).unwrap_or(0);
            let dest = (u32::from_be_bytes(dest) & mask).to_be_bytes();
            let router = [tail[significant], tail[significant + 1], tail[significant + 2], tail[significant + 3]];
            self.rest = &tail[significant + 4..];
            return Some(Ok(Route { dest, prefix: width, router }));
        };
        self.rest = &[];
        Some(entry)
    }
}

/// Checks a whole option 121 body; the number of routes in it.
pub fn check(data: &[u8]) -> Result<usize, ClasslessError> {
    if data.is_empty() {
        return Err(ClasslessError::Truncated);
    }
    classless(data).try_fold(0, |n, r| r.map(|_| n + 1))
}

/// What to install for a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The prefix length the address is installed with (see the module docs).
    pub on_link: u8,
    /// Routes via a router, the default route (if any) first.
    pub routes: heapless::Vec<Route, ROUTES_MAX>,
    /// Routes of option 121 not installed: beyond [`ROUTES_MAX`], a second default route, or an
    /// on-link route that would have swallowed a routed destination.
    pub left_out: u8,
}

impl Plan {
    /// The default router, if any.
    pub fn router(&self) -> Option<[u8; 4]> {
        self.routes.first().filter(|r| r.prefix == 0).map(|r| r.router)
    }
}

/// The plan for `address/prefix` with the lease's `router` (option 3) and, if it gave one, a
/// well-formed option 121 body (see [`check`]; a malformed one must not be passed).
pub fn plan(address: [u8; 4], prefix: u8, router: Option<[u8; 4]>, option_121: Option<&[u8]>) -> Plan {
    let mut plan = Plan { on_link: prefix, routes: heapless::Vec::new(), left_out: 0 };
    // A router of 0.0.0.0 names no router (found by the `classless` fuzz target: it would have
    // widened the on-link prefix to the whole address space).
    let router = router.filter(|r| *r != [0; 4]);
    let default = |router| Route { dest: [0; 4], prefix: 0, router };
    let data = match option_121 {
        Some(data) => data,
        None => {
            if let Some(r) = router {
                let _ = plan.routes.push(default(r));
            }
            &[]
        }
    };
    // Routes via a router: the first default route (pass 0) ahead of the rest (pass 1).
    for pass in 0..2 {
        for r in classless(data).flatten() {
            if r.on_link() || (r.prefix == 0) != (pass == 0) {
                continue;
            }
            if (pass == 0 && !plan.routes.is_empty()) || plan.routes.push(r).is_err() {
                plan.left_out += 1;
            }
        }
    }
    for r in &plan.routes {
        plan.on_link = on_link_prefix(address, plan.on_link, Some(r.router));
    }
    for r in classless(data).flatten() {
        if !r.on_link() {
            continue;
        }
        let wider = on_link_prefix(address, plan.on_link.min(r.prefix), Some(r.dest));
        if plan.routes.iter().any(|g| g.prefix >= wider && common(address, g.dest) >= wider) {
            plan.left_out += 1;
        } else {
            plan.on_link = wider;
        }
    }
    plan
}

/// Leading bits two addresses share.
fn common(a: [u8; 4], b: [u8; 4]) -> u8 {
    (u32::from_be_bytes(a) ^ u32::from_be_bytes(b)).leading_zeros() as u8
}

/// The most specific of `routes` that holds `dst`: its router, as smoltcp's route lookup picks
/// it; the unit tests and the `classless` fuzz target hold the plan to it (the shipped binary
/// does not call it).
pub fn next_hop(routes: &[Route], dst: [u8; 4]) -> Option<[u8; 4]> {
    routes
        .iter()
        .filter(|r| r.prefix == 0 || common(r.dest, dst) >= r.prefix)
        .max_by_key(|r| r.prefix)
        .map(|r| r.router)
}

/// The prefix length to treat as on-link for an address and its router: the lease's own, or
/// just wide enough to hold a router outside it (see the module docs).
pub fn on_link_prefix(address: [u8; 4], prefix: u8, router: Option<[u8; 4]>) -> u8 {
    let Some(r) = router else { return prefix };
    prefix.min(common(address, r))
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

    /// Routes of an option body, or its error.
    fn routes(data: &[u8]) -> Result<std::vec::Vec<Route>, ClasslessError> {
        classless(data).collect()
    }

    extern crate std;

    fn r(dest: [u8; 4], prefix: u8, router: [u8; 4]) -> Route {
        Route { dest, prefix, router }
    }

    #[test]
    fn rfc3442_descriptor_examples() {
        // RFC 3442 §2's table: subnet and mask, destination descriptor; each via 192.0.2.1.
        let table: [(&[u8], [u8; 4], u8); 7] = [
            (&[0], [0, 0, 0, 0], 0),
            (&[8, 10], [10, 0, 0, 0], 8),
            (&[24, 10, 0, 0], [10, 0, 0, 0], 24),
            (&[16, 10, 17], [10, 17, 0, 0], 16),
            (&[24, 10, 27, 129], [10, 27, 129, 0], 24),
            (&[25, 10, 229, 0, 128], [10, 229, 0, 128], 25),
            (&[32, 10, 198, 122, 47], [10, 198, 122, 47], 32),
        ];
        let mut all = std::vec::Vec::new();
        for (descriptor, dest, prefix) in table {
            let option = [descriptor, &[192, 0, 2, 1]].concat();
            assert_eq!(routes(&option), Ok(std::vec![r(dest, prefix, [192, 0, 2, 1])]), "{descriptor:?}");
            assert_eq!(check(&option), Ok(1));
            all.extend_from_slice(&option);
        }
        // One after the other, as in one option.
        assert_eq!(check(&all), Ok(7));
        assert_eq!(routes(&all).unwrap()[5], r([10, 229, 0, 128], 25, [192, 0, 2, 1]));
    }

    #[test]
    fn bits_beyond_the_width_are_cleared() {
        assert_eq!(routes(&[9, 10, 255, 1, 2, 3, 4]), Ok(std::vec![r([10, 128, 0, 0], 9, [1, 2, 3, 4])]));
        assert_eq!(routes(&[1, 255, 1, 2, 3, 4]), Ok(std::vec![r([128, 0, 0, 0], 1, [1, 2, 3, 4])]));
    }

    #[test]
    fn malformed_options_are_refused_whole() {
        assert_eq!(check(&[]), Err(ClasslessError::Truncated));
        assert_eq!(check(&[33, 10, 0, 0, 0, 0, 1, 2, 3, 4]), Err(ClasslessError::Width(33)));
        assert_eq!(check(&[24, 10, 0, 0, 1, 2, 3]), Err(ClasslessError::Truncated));
        assert_eq!(check(&[0, 1, 2, 3, 4, 24]), Err(ClasslessError::Truncated));
        assert_eq!(check(&[0, 1, 2, 3, 4, 255, 0]), Err(ClasslessError::Width(255)));
        // The iterator stops after an error.
        let mut it = classless(&[40, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]);
        assert_eq!(it.next(), Some(Err(ClasslessError::Width(40))));
        assert_eq!(it.next(), None);
    }

    /// GCP's lease (monogon issue 89): 10.156.0.18/32, router 10.156.0.1, routes
    /// `10.156.0.1/32 via 0.0.0.0; 0.0.0.0/0 via 10.156.0.1`.
    const GCP: &[u8] = &[32, 10, 156, 0, 1, 0, 0, 0, 0, 0, 10, 156, 0, 1];

    #[test]
    fn gcp_lease_is_a_host_route_and_a_default() {
        let p = plan([10, 156, 0, 18], 32, Some([10, 156, 0, 1]), Some(GCP));
        assert_eq!(p.on_link, 27, "just wide enough for the router");
        assert_eq!(&p.routes[..], [r([0; 4], 0, [10, 156, 0, 1])]);
        assert_eq!(p.router(), Some([10, 156, 0, 1]));
        assert_eq!(p.left_out, 0);
    }

    #[test]
    fn option_121_overrides_the_router_option() {
        // RFC 3442: with the option, option 3 is ignored — here the option has no default at all.
        let option = [32, 169, 254, 169, 254, 10, 0, 0, 254];
        let p = plan([10, 0, 0, 5], 24, Some([10, 0, 0, 1]), Some(&option));
        assert_eq!(p.router(), None);
        assert_eq!(&p.routes[..], [r([169, 254, 169, 254], 32, [10, 0, 0, 254])]);
        assert_eq!(next_hop(&p.routes, [169, 254, 169, 254]), Some([10, 0, 0, 254]));
        assert_eq!(next_hop(&p.routes, [8, 8, 8, 8]), None);
        // Without it, the router is the default route.
        let p = plan([10, 0, 0, 5], 24, Some([10, 0, 0, 1]), None);
        assert_eq!(&p.routes[..], [r([0; 4], 0, [10, 0, 0, 1])]);
        assert_eq!(p.on_link, 24);
    }

    #[test]
    fn an_on_link_route_never_swallows_the_default_route() {
        // 192.168.0.0/16 on-link would widen 10.0.0.77/24 to /0 and put the default router's
        // destinations on-link: that route is left out instead.
        let option = [0, 10, 0, 0, 1, 16, 192, 168, 0, 0, 0, 0];
        let p = plan([10, 0, 0, 77], 24, None, Some(&option));
        assert_eq!((p.on_link, p.left_out), (24, 1));
        assert_eq!(next_hop(&p.routes, [8, 8, 8, 8]), Some([10, 0, 0, 1]));
    }

    #[test]
    fn default_first_most_specific_wins() {
        // The metadata server via its own router, after the default in the option.
        let option = [16, 172, 16, 10, 0, 0, 2, 0, 10, 0, 0, 1, 32, 169, 254, 169, 254, 10, 0, 0, 3];
        let p = plan([10, 0, 0, 5], 24, None, Some(&option));
        assert_eq!(p.router(), Some([10, 0, 0, 1]));
        assert_eq!(p.routes.len(), 3);
        assert_eq!(next_hop(&p.routes, [169, 254, 169, 254]), Some([10, 0, 0, 3]));
        assert_eq!(next_hop(&p.routes, [172, 16, 9, 9]), Some([10, 0, 0, 2]));
        assert_eq!(next_hop(&p.routes, [1, 1, 1, 1]), Some([10, 0, 0, 1]));
    }

    #[test]
    fn off_subnet_routers_widen_on_link_swallowing_on_link_routes_are_left_out() {
        // /32 with the metadata route's router far away: on-link widened to hold it.
        let option = [0, 10, 0, 0, 1, 32, 169, 254, 169, 254, 10, 0, 1, 1];
        let p = plan([10, 0, 0, 77], 32, None, Some(&option));
        assert_eq!(p.on_link, 23);
        // An on-link 192.168.0.0/16 next to 10.0.0.77 would make the whole space on-link and
        // the metadata route dead: left out. An on-link neighbour subnet is taken.
        let option = [
            [0, 10, 0, 0, 1].as_slice(),
            &[32, 169, 254, 169, 254, 10, 0, 0, 1],
            &[16, 192, 168, 0, 0, 0, 0],
            &[22, 10, 0, 4, 0, 0, 0, 0],
        ]
        .concat();
        let p = plan([10, 0, 0, 77], 24, None, Some(&option));
        assert_eq!(p.left_out, 1);
        assert_eq!(p.on_link, 21);
    }

    #[test]
    fn a_router_of_zero_is_no_router() {
        let p = plan([10, 0, 0, 5], 24, Some([0; 4]), None);
        assert_eq!((p.on_link, p.routes.len()), (24, 0));
    }

    #[test]
    fn capacity_is_bounded_and_counted() {
        let mut option = std::vec::Vec::new();
        for i in 0..10u8 {
            option.extend_from_slice(&[32, 192, 0, 2, i, 10, 0, 0, 1]);
        }
        option.extend_from_slice(&[0, 10, 0, 0, 1, 0, 10, 0, 0, 2]);
        let p = plan([10, 0, 0, 5], 24, None, Some(&option));
        assert_eq!(p.routes.len(), ROUTES_MAX);
        assert_eq!(p.router(), Some([10, 0, 0, 1]), "the first default route always goes in");
        assert_eq!(p.left_out, 10 - (ROUTES_MAX as u8 - 1) + 1);
    }
}
