//! IPv4 link-local address claiming (RFC 3927), sans-IO.
//!
//! smoltcp has no IPv4LL support, so this state machine picks a candidate in 169.254.1.0 –
//! 169.254.254.255 (§2.1) from a generator seeded with the MAC — the same address on every boot
//! of the same NIC, different NICs spread over the range — probes it with ARP (§2.2.1), moves to
//! the next candidate on a conflict, and announces the address once it is claimed (§2.4).
//!
//! Timing deviates from §9 on purpose: flint holds the address only for the few milliseconds of
//! a fetch and gives it up before the system's own network starts, so it probes 3 times 100–200
//! ms apart after a random 0–200 ms start and claims the address 200 ms after the last probe
//! (~0.5 s in all) instead of the RFC's 4–7 s, which would be most of a boot's budget. Any host
//! that holds or probes the address still answers within that window on a LAN. The metadata
//! address 169.254.169.254 is never a candidate.

use smoltcp::time::{Duration, Instant};

use crate::rand::Rng;

/// An ARP frame is 14 bytes of Ethernet header and 28 of ARP (RFC 826).
pub const FRAME_LEN: usize = 42;
const PROBE_NUM: u8 = 3;
const ANNOUNCE_NUM: u8 = 2;
const START_WAIT_MS: u64 = 200;
const PROBE_MIN_MS: u64 = 100;
const PROBE_MAX_MS: u64 = 200;
const ANNOUNCE_WAIT_MS: u64 = 200;
const ANNOUNCE_INTERVAL_MS: u64 = 200;
/// After this many conflicts the link is too crowded to keep trying (RFC 3927 MAX_CONFLICTS).
pub const MAX_CONFLICTS: u8 = 10;
const METADATA: [u8; 4] = [169, 254, 169, 254];

/// The fields of an IPv4-over-Ethernet ARP packet that conflict detection needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpSeen {
    pub sender_mac: [u8; 6],
    pub sender_ip: [u8; 4],
    pub target_ip: [u8; 4],
}

/// Reads an ARP request or reply for IPv4 over Ethernet out of a received frame.
pub fn parse_arp(frame: &[u8]) -> Option<ArpSeen> {
    let f = frame.get(..FRAME_LEN)?;
    // EtherType ARP; hardware Ethernet (1), protocol IPv4, lengths 6 and 4; op 1 or 2.
    if f[12..14] != [0x08, 0x06] || f[14..20] != [0, 1, 0x08, 0x00, 6, 4] || f[20] != 0 || !(1..=2).contains(&f[21]) {
        return None;
    }
    Some(ArpSeen {
        sender_mac: f[22..28].try_into().ok()?,
        sender_ip: f[28..32].try_into().ok()?,
        target_ip: f[38..42].try_into().ok()?,
    })
}

/// Builds a broadcast ARP request: a probe (`sender_ip` 0.0.0.0) or an announcement
/// (`sender_ip` == `target_ip`), RFC 3927 §2.2.1 and §2.4.
pub fn arp_request(mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&sender_ip);
    // Target hardware address stays zero.
    f[38..42].copy_from_slice(&target_ip);
    f
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Next probe (number `sent` + 1) goes out at `at`.
    Probing { sent: u8, at: Instant },
    /// Probes done; the address is ours at `at` unless a conflict shows up first.
    Settling { at: Instant },
    /// Claimed; `left` announcements still to send, the next at `at`.
    Claimed { left: u8, at: Instant },
    /// Too many conflicts.
    GaveUp,
}

/// One claim of a link-local address; see the module docs.
#[derive(Clone, Debug)]
pub struct Claim {
    mac: [u8; 6],
    rng: Rng,
    candidate: [u8; 4],
    state: State,
    conflicts: u8,
}

impl Claim {
    pub fn new(mac: [u8; 6], now: Instant) -> Claim {
        // FNV-1a over the MAC: stable per NIC, spread across NICs.
        let seed = mac.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        let mut rng = Rng::new(seed);
        let candidate = next_candidate(&mut rng);
        let at = now + Duration::from_millis(rng.below(START_WAIT_MS + 1));
        Claim { mac, rng, candidate, state: State::Probing { sent: 0, at }, conflicts: 0 }
    }

    /// The address being probed or claimed.
    pub fn candidate(&self) -> [u8; 4] {
        self.candidate
    }

    /// The claimed address, once probing found no one else using it.
    pub fn claimed(&self) -> Option<[u8; 4]> {
        matches!(self.state, State::Claimed { .. }).then_some(self.candidate)
    }

    pub fn gave_up(&self) -> bool {
        self.state == State::GaveUp
    }

    pub fn conflicts(&self) -> u8 {
        self.conflicts
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn poll_at(&self) -> Option<Instant> {
        match self.state {
            State::Probing { at, .. } | State::Settling { at } => Some(at),
            State::Claimed { left, at } if left > 0 => Some(at),
            _ => None,
        }
    }

    /// Advances timers; returns a frame to transmit, if one is due.
    pub fn poll(&mut self, now: Instant) -> Option<[u8; FRAME_LEN]> {
        match self.state {
            State::Probing { sent, at } if now >= at => {
                let sent = sent + 1;
                self.state = if sent == PROBE_NUM {
                    State::Settling { at: now + Duration::from_millis(ANNOUNCE_WAIT_MS) }
                } else {
                    let gap = PROBE_MIN_MS + self.rng.below(PROBE_MAX_MS - PROBE_MIN_MS + 1);
                    State::Probing { sent, at: now + Duration::from_millis(gap) }
                };
                Some(arp_request(self.mac, [0; 4], self.candidate))
            }
            State::Settling { at } if now >= at => {
                self.state =
                    State::Claimed { left: ANNOUNCE_NUM - 1, at: now + Duration::from_millis(ANNOUNCE_INTERVAL_MS) };
                Some(arp_request(self.mac, self.candidate, self.candidate))
            }
            State::Claimed { left, at } if left > 0 && now >= at => {
                self.state = State::Claimed { left: left - 1, at: now + Duration::from_millis(ANNOUNCE_INTERVAL_MS) };
                Some(arp_request(self.mac, self.candidate, self.candidate))
            }
            _ => None,
        }
    }

    /// Looks at an ARP packet seen on the link. While probing, someone else using the candidate
    /// (as sender) or probing for it too (sender 0.0.0.0, same target) is a conflict (§2.2.1):
    /// pick the next candidate and start over. Once claimed, defending is smoltcp's job.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn on_arp(&mut self, now: Instant, seen: &ArpSeen) {
        if !matches!(self.state, State::Probing { .. } | State::Settling { .. }) || seen.sender_mac == self.mac {
            return;
        }
        let uses = seen.sender_ip == self.candidate;
        let probes = seen.sender_ip == [0; 4] && seen.target_ip == self.candidate;
        if !(uses || probes) {
            return;
        }
        self.conflicts += 1;
        info!("address", "link-local candidate {} is in use; trying another", Ip(self.candidate));
        if self.conflicts >= MAX_CONFLICTS {
            self.state = State::GaveUp;
            return;
        }
        // A new address (§2.2.1: "select a new pseudo-random address"), never the one just
        // found in use, which the generator can draw twice in a row.
        // Bounded: two equal draws in a row are already rare (1 in ~65,000).
        let taken = self.candidate;
        for _ in 0..8 {
            self.candidate = next_candidate(&mut self.rng);
            if self.candidate != taken {
                break;
            }
        }
        self.state = State::Probing { sent: 0, at: now };
    }
}

/// Next address in 169.254.1.0 – 169.254.254.255, skipping the metadata service's.
fn next_candidate(rng: &mut Rng) -> [u8; 4] {
    loop {
        let v = rng.below(254 * 256);
        let ip = [169, 254, 1 + (v / 256) as u8, (v % 256) as u8];
        if ip != METADATA {
            return ip;
        }
    }
}

/// Dotted-quad display for logs.
pub struct Ip(pub [u8; 4]);

impl core::fmt::Display for Ip {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];

    fn run_until_claimed(c: &mut Claim, mut now: Instant) -> (Instant, std::vec::Vec<[u8; FRAME_LEN]>) {
        let mut sent = std::vec::Vec::new();
        for _ in 0..100 {
            if let Some(f) = c.poll(now) {
                sent.push(f);
            }
            if c.claimed().is_some() {
                return (now, sent);
            }
            now = c.poll_at().unwrap();
        }
        panic!("never claimed");
    }

    #[test]
    fn probes_then_claims_a_stable_address_in_range() {
        let t0 = Instant::from_millis(1000);
        let mut c = Claim::new(MAC, t0);
        let first = c.candidate();
        assert_eq!(Claim::new(MAC, Instant::from_millis(5)).candidate(), first, "same MAC, same address");
        assert_ne!(Claim::new([0x02, 0, 0, 0, 0, 0x12], t0).candidate(), first);
        assert!(first[0] == 169 && first[1] == 254 && (1..=254).contains(&first[2]));
        let (at, frames) = run_until_claimed(&mut c, t0);
        assert_eq!(c.claimed(), Some(first));
        // 3 probes then the first announcement.
        assert_eq!(frames.len(), 4);
        for probe in &frames[..3] {
            let seen = parse_arp(probe).unwrap();
            assert_eq!((seen.sender_mac, seen.sender_ip, seen.target_ip), (MAC, [0; 4], first));
            assert_eq!(&probe[0..6], &[0xff; 6]);
        }
        let ann = parse_arp(&frames[3]).unwrap();
        assert_eq!((ann.sender_ip, ann.target_ip), (first, first));
        let took = (at - t0).total_millis();
        assert!((500..=1000).contains(&took), "claim took {took} ms");
        // One more announcement follows, then nothing.
        let next = c.poll_at().unwrap();
        assert!(c.poll(next).is_some());
        assert_eq!(c.poll_at(), None);
    }

    #[test]
    fn conflict_moves_to_another_candidate() {
        let t0 = Instant::from_millis(0);
        let mut c = Claim::new(MAC, t0);
        let first = c.candidate();
        c.poll(Instant::from_millis(300));
        let other = [0x02, 0, 0, 0, 0, 0x99];
        // Someone answers for the candidate.
        c.on_arp(
            Instant::from_millis(310),
            &ArpSeen { sender_mac: other, sender_ip: first, target_ip: [169, 254, 0, 1] },
        );
        assert_ne!(c.candidate(), first);
        assert_eq!(c.conflicts(), 1);
        let second = c.candidate();
        // Another host probing for the same candidate is a conflict too.
        c.on_arp(Instant::from_millis(320), &ArpSeen { sender_mac: other, sender_ip: [0; 4], target_ip: second });
        assert_ne!(c.candidate(), second);
        // Unrelated traffic and our own frames are not.
        let third = c.candidate();
        c.on_arp(
            Instant::from_millis(330),
            &ArpSeen { sender_mac: other, sender_ip: [169, 254, 9, 9], target_ip: [169, 254, 169, 254] },
        );
        c.on_arp(Instant::from_millis(330), &ArpSeen { sender_mac: MAC, sender_ip: [0; 4], target_ip: third });
        assert_eq!(c.candidate(), third);
        run_until_claimed(&mut c, Instant::from_millis(330));
        assert_eq!(c.claimed(), Some(third));
    }

    /// Found by the `arp` fuzz target: for this MAC the generator drew the conflicting address
    /// again, so flint went back to probing an address another host had just claimed.
    #[test]
    fn a_conflict_never_reprobes_the_same_address() {
        for mac in [[0x6c, 0x0a, 0xff, 0xff, 0xff, 0xff], MAC] {
            let mut c = Claim::new(mac, Instant::from_millis(0));
            for i in 0..MAX_CONFLICTS - 1 {
                let cand = c.candidate();
                c.on_arp(
                    Instant::from_millis(i as i64),
                    &ArpSeen { sender_mac: [2; 6], sender_ip: cand, target_ip: cand },
                );
                assert_ne!(c.candidate(), cand, "MAC {mac:02x?}, conflict {}", i + 1);
            }
        }
    }

    #[test]
    fn gives_up_after_max_conflicts() {
        let mut c = Claim::new(MAC, Instant::from_millis(0));
        for i in 0..MAX_CONFLICTS {
            let cand = c.candidate();
            c.on_arp(Instant::from_millis(i as i64), &ArpSeen { sender_mac: [2; 6], sender_ip: cand, target_ip: cand });
        }
        assert!(c.gave_up());
        assert_eq!(c.poll_at(), None);
    }

    #[test]
    fn candidates_avoid_reserved_ranges_and_the_metadata_address() {
        let mut rng = Rng::new(1);
        for _ in 0..100_000 {
            let ip = next_candidate(&mut rng);
            assert!(ip[2] != 0 && ip[2] != 255 && ip != METADATA);
        }
    }

    #[test]
    fn parse_rejects_other_frames() {
        let f = arp_request(MAC, [1, 2, 3, 4], [5, 6, 7, 8]);
        assert!(parse_arp(&f).is_some());
        assert!(parse_arp(&f[..41]).is_none());
        let mut ipv4 = f;
        ipv4[13] = 0x00;
        assert!(parse_arp(&ipv4).is_none());
        let mut op3 = f;
        op3[21] = 3;
        assert!(parse_arp(&op3).is_none());
        // Padded to the 60-byte Ethernet minimum is fine.
        let mut padded = [0u8; 60];
        padded[..42].copy_from_slice(&f);
        assert_eq!(parse_arp(&padded).unwrap().target_ip, [5, 6, 7, 8]);
    }
}
