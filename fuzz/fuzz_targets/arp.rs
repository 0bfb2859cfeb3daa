//! ARP parsing and the RFC 3927 link-local claim (src/linklocal.rs) driven by fuzz-chosen
//! frames, conflicts and clock steps. parse_arp takes exactly the IPv4-over-Ethernet requests
//! and replies (RFC 826) and reads the right fields; the claim only ever holds an address in
//! 169.254.1.0-169.254.254.255 other than 169.254.169.254 (§2.1), claims it only after three
//! unanswered probes for that very address and at least 400 ms of probing (flint's documented
//! timing), moves to a new candidate on every conflict while probing (§2.2.1), gives up after
//! MAX_CONFLICTS (§9), and never changes a claimed address.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use flint::net::linklocal::{ArpSeen, Claim, FRAME_LEN, MAX_CONFLICTS, arp_request, parse_arp};
use libfuzzer_sys::fuzz_target;
use smoltcp::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Ev {
    /// Let this many milliseconds pass, then poll.
    Poll(u16),
    /// Poll exactly when the claim asked to be polled.
    PollAt,
    /// A frame seen on the link.
    Frame(Vec<u8>),
    /// Another host: 0 answers for the candidate, 1 probes for it, 2 talks about something
    /// else, 3 is our own frame looped back.
    Host(u8, [u8; 4]),
}

fn check_parse(f: &[u8]) -> Option<ArpSeen> {
    let got = parse_arp(f);
    let want = (f.len() >= FRAME_LEN
        && f[12..14] == [8, 6]
        && f[14..20] == [0, 1, 8, 0, 6, 4]
        && f[20] == 0
        && (1..=2).contains(&f[21]))
    .then(|| ArpSeen {
        sender_mac: f[22..28].try_into().unwrap(),
        sender_ip: f[28..32].try_into().unwrap(),
        target_ip: f[38..42].try_into().unwrap(),
    });
    assert_eq!(got, want, "parse_arp on {f:02x?}");
    got
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mac) = u.arbitrary::<[u8; 6]>() else { return };
    let Ok(start) = u.int_in_range(0..=1i64 << 40) else { return };
    let Ok(events) = u.arbitrary::<Vec<Ev>>() else { return };

    let mut now = Instant::from_millis(start);
    let mut c = Claim::new(mac, now);
    let mut probes = 0u32;
    let mut first_probe = None;
    let mut announced = 0u32;
    let mut claimed: Option<[u8; 4]> = None;
    for ev in events.iter().take(200) {
        let before = (c.candidate(), c.conflicts());
        let step_to = match ev {
            Ev::Poll(dt) => Some(now + Duration::from_millis(*dt as u64)),
            Ev::PollAt => c.poll_at().map(|t| t.max(now)),
            _ => None,
        };
        if let Some(t) = step_to {
            now = t;
            let due = c.poll_at();
            let sent = c.poll(now);
            if due.is_none_or(|d| now < d) {
                assert_eq!(sent, None, "a frame went out before it was due");
            }
            if let Some(f) = sent {
                let seen = check_parse(&f).expect("flint's own ARP frame parses");
                assert_eq!(&f[0..6], &[0xff; 6], "probes and announcements are broadcast");
                assert_eq!(seen.sender_mac, mac);
                assert_eq!(seen.target_ip, c.candidate());
                if seen.sender_ip == [0; 4] {
                    assert!(claimed.is_none(), "probe after the claim");
                    probes += 1;
                    first_probe.get_or_insert(now);
                    assert!(probes <= 3, "more than three probes for one candidate");
                } else {
                    assert_eq!(seen.sender_ip, c.candidate(), "an announcement is for the claimed address");
                    assert_eq!(probes, 3, "announced after {probes} probes");
                    announced += 1;
                    assert!(announced <= 2, "more than two announcements");
                }
                assert!(c.poll_at().is_none_or(|t| t > now), "next event not in the future");
            }
        }
        match ev {
            Ev::Poll(_) | Ev::PollAt => {}
            Ev::Frame(f) => {
                if let Some(seen) = check_parse(f) {
                    c.on_arp(now, &seen);
                }
            }
            Ev::Host(kind, other) => {
                let cand = c.candidate();
                let peer = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55 ^ mac[5] ^ 1];
                let (smac, sip, tip) = match kind % 4 {
                    0 => (peer, cand, *other),
                    1 => (peer, [0; 4], cand),
                    2 => (peer, if *other == cand { [10, 0, 0, 1] } else { *other }, [10, 0, 0, 2]),
                    _ => (mac, [0; 4], cand),
                };
                let frame = arp_request(smac, sip, tip);
                let seen = check_parse(&frame).expect("a request parses");
                let probing = claimed.is_none() && !c.gave_up();
                c.on_arp(now, &seen);
                if probing && kind % 4 < 2 {
                    assert_eq!(c.conflicts(), before.1 + 1, "a conflict went unnoticed");
                    if !c.gave_up() {
                        assert_ne!(c.candidate(), before.0, "the conflicting address is probed again");
                    }
                } else {
                    assert_eq!((c.candidate(), c.conflicts()), before, "no conflict, no change");
                }
            }
        }
        if (c.candidate(), c.conflicts()) != before {
            probes = 0;
            first_probe = None;
        }
        let a = c.candidate();
        assert!(
            a[0] == 169 && a[1] == 254 && (1..=254).contains(&a[2]),
            "candidate {a:?} outside 169.254.1.0/16 minus the ends"
        );
        assert_ne!(a, [169, 254, 169, 254], "the metadata address is never claimed");
        assert!(c.conflicts() <= MAX_CONFLICTS);
        assert_eq!(c.gave_up(), c.conflicts() == MAX_CONFLICTS);
        if c.gave_up() {
            assert_eq!(c.poll_at(), None);
            assert_eq!(c.claimed(), None);
        }
        if let Some(prev) = claimed {
            assert_eq!(c.claimed(), Some(prev), "a claimed address changed");
        } else if let Some(a) = c.claimed() {
            assert_eq!(probes, 3, "claimed after {probes} probes");
            let took = (now - first_probe.expect("probed")).total_millis();
            assert!(took >= 400, "claimed {took} ms after the first probe");
            claimed = Some(a);
        }
    }
});
