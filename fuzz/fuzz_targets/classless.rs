//! DHCP option 121, classless static routes (src/net/lease.rs, RFC 3442), against dhcproto's
//! decoding of the same option, and the route plan's invariants.
//!
//! - An option flint accepts decodes with dhcproto to the same routes (destination with the
//!   bits past its width cleared, width, router), in order.
//! - One flint refuses: for a width above 32, dhcproto stops there too and the routes before it
//!   agree; for a truncated one, dhcproto fails as well (or the option is empty).
//! - The plan for a fuzz-chosen lease: at most `ROUTES_MAX` routes, the default first: the
//!   option's first default route (option 3 without an option, unless it is 0.0.0.0); every
//!   router inside the on-link prefix, which is never longer than the lease's; and a route
//!   table that answers each installed destination with its own router or a more specific one's.
#![no_main]

use arbitrary::Unstructured;
use dhcproto::v4::DhcpOption;
use dhcproto::{Decodable, Decoder};
use flint::net::lease::{ClasslessError, ROUTES_MAX, check, classless, next_hop, plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let address: [u8; 4] = u.arbitrary().unwrap_or([10, 0, 0, 5]);
    let prefix = u.arbitrary::<u8>().unwrap_or(32) % 33;
    let router: Option<[u8; 4]> = u.arbitrary().unwrap_or(None);
    let option = u.take_rest();
    let option = &option[..option.len().min(255)];

    let mut wire = vec![121, option.len() as u8];
    wire.extend_from_slice(option);
    let theirs = DhcpOption::decode(&mut Decoder::new(&wire));
    let ours: Vec<_> = classless(option).collect();
    let same = |n: usize| match &theirs {
        Ok(DhcpOption::ClasslessStaticRoute(routes)) => {
            assert_eq!(routes.len(), n, "{option:?}");
            for (r, (net, gw)) in ours.iter().take(n).map(|r| r.unwrap()).zip(routes) {
                assert_eq!((r.dest, r.prefix, r.router), (net.network().octets(), net.prefix_len(), gw.octets()));
            }
        }
        other => panic!("flint read {n} routes, dhcproto {other:?}: {option:?}"),
    };
    match check(option) {
        Ok(n) => same(n),
        Err(ClasslessError::Width(w)) => {
            assert!(w > 32);
            same(ours.len() - 1);
        }
        Err(ClasslessError::Truncated) => {
            assert!(option.is_empty() || theirs.is_err(), "dhcproto read {theirs:?} from {option:?}");
        }
    }

    let option = check(option).is_ok().then_some(option);
    let p = plan(address, prefix, router, option);
    assert!(p.routes.len() <= ROUTES_MAX && p.on_link <= prefix);
    let common = |a: [u8; 4], b: [u8; 4]| (u32::from_be_bytes(a) ^ u32::from_be_bytes(b)).leading_zeros() as u8;
    for r in &p.routes {
        assert!(!r.on_link() && common(address, r.router) >= p.on_link, "{r:?} unreachable in {p:?}");
        let hop = next_hop(&p.routes, r.dest).unwrap();
        assert!(p.routes.iter().any(|s| s.router == hop && s.prefix >= r.prefix));
    }
    assert!(p.routes.iter().skip(1).all(|r| r.prefix > 0), "one default route, first: {p:?}");
    let first_default = match option {
        Some(o) => classless(o).flatten().find(|r| r.prefix == 0 && !r.on_link()).map(|r| r.router),
        None => router.filter(|r| *r != [0; 4]),
    };
    assert_eq!(p.router(), first_default);
});
