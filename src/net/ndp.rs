//! IPv6 router discovery, SLAAC and duplicate address detection (RFC 4861, RFC 4862, RFC 4429),
//! sans-IO.
//!
//! smoltcp 0.14 resolves neighbours and answers Neighbor Solicitations for the addresses it has,
//! but has no DAD, no RDNSS/DNSSL, and its own SLAAC (`proto-ipv6-slaac`, off in flint) takes
//! only the last prefix of an RA, installs no default route next to an IPv4 one and panics
//! before a link-local address exists. So flint builds and reads the NDP frames itself, like
//! [`linklocal`](super::linklocal) does for ARP: the caller hands every received Ethernet frame
//! to [`Ndp::on_frame`], sends what [`Ndp::poll`] writes, and applies the [`Event`]s to smoltcp
//! (addresses, default route, DNS servers, DHCPv6).
//!
//! Pieces, each usable alone: address arithmetic ([`link_local`], [`with_prefix`],
//! [`random_iid`], [`solicited_node`]), frame builders ([`router_solicitation`], [`dad_probe`]),
//! the validating parser ([`parse`]), the RS schedule ([`Solicit`]), optimistic DAD for one
//! address ([`Dad`]) and the aggregate ([`Ndp`]).
//!
//! What the device must do for these frames to arrive: receive the all-nodes (ff02::1) and
//! solicited-node groups of every address (multicast MACs 33:33:00:00:00:01 and
//! 33:33:ff:xx:xx:xx; an AF_PACKET socket needs `PACKET_MR_ALLMULTI` or the memberships), and
//! not loop its own frames back (a looped DAD probe would look like another host's).
//! flint sends no MLD reports (RFC 4862 §5.4.2 asks for them before DAD); cloud virtual
//! switches flood link-local multicast, and a snooping switch that drops the probes makes DAD
//! find nothing, which optimistic DAD tolerates anyway.

use heapless::Vec;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpProtocol, Ipv6Address, checksum};

use crate::rand::Rng;

/// The longest frame this module builds (a Neighbor Solicitation: 14 + 40 + 24).
pub const FRAME_MAX: usize = 78;
const ETH: usize = 14;
const IP6: usize = 40;
const ICMP: usize = ETH + IP6;
/// ICMPv6 next-header value and the message types used (RFC 4861 §4).
const NH_ICMPV6: u8 = 58;
const RS: u8 = 133;
const RA: u8 = 134;
const NS: u8 = 135;
const NA: u8 = 136;
/// Option types: RFC 4861 §4.6, RFC 8106 §5.
const OPT_SLLA: u8 = 1;
const OPT_PREFIX: u8 = 3;
const OPT_MTU: u8 = 5;
const OPT_RDNSS: u8 = 25;
const OPT_DNSSL: u8 = 31;
/// The IPv6 minimum link MTU (RFC 8200 §5); RFC 4861 §6.3.4 ignores smaller MTU options.
pub const MIN_MTU: u32 = 1280;
const ALL_ROUTERS: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

// ---------------------------------------------------------------------------------------------
// Addresses

/// The link-local address fe80::/64 with the modified EUI-64 interface identifier of `mac`
/// (RFC 4291 §2.5.1 and App. A: the MAC split by ff:fe, the universal/local bit flipped) — the
/// address Linux gives the same NIC, so a neighbour cache or firewall sees a familiar host.
pub fn link_local(mac: [u8; 6]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[8..16].copy_from_slice(&[mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]);
    a
}

/// The first 64 bits of `prefix` followed by the last 64 of `iid_from` (RFC 4862 §5.5.3 d:
/// SLAAC only forms addresses from /64 prefixes with 64-bit interface identifiers).
pub fn with_prefix(prefix: &[u8; 16], iid_from: &[u8; 16]) -> [u8; 16] {
    let mut a = *iid_from;
    a[..8].copy_from_slice(&prefix[..8]);
    a
}

/// `prefix`/64 with a random interface identifier, for another try after DAD found the
/// address in use (RFC 4862 §5.4.5 would stop; RFC 7217 §6 retries with a new identifier, which
/// flint does a bounded number of times). The u/l bit is cleared (a local identifier, RFC 4291
/// App. A), and the identifiers RFC 5453 reserves (zero, the subnet-router anycast, and
/// fdff:ffff:ffff:ff80/121) are never drawn.
pub fn random_iid(rng: &mut Rng, prefix: &[u8; 16]) -> [u8; 16] {
    let mut iid = [0u8; 8];
    for _ in 0..8 {
        iid = rng.next_u64().to_be_bytes();
        iid[0] &= !0x02;
        let reserved = iid == [0; 8] || (iid[..7] == [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] && iid[7] >= 0x80);
        if !reserved {
            break;
        }
    }
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&prefix[..8]);
    a[8..].copy_from_slice(&iid);
    a
}

/// The solicited-node multicast group of `addr`: ff02::1:ff00:0/104 plus its low 24 bits
/// (RFC 4291 §2.7.1), where DAD probes for `addr` go.
pub fn solicited_node(addr: &[u8; 16]) -> [u8; 16] {
    let mut a = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    a[13..16].copy_from_slice(&addr[13..16]);
    a
}

fn is_link_local(a: &[u8; 16]) -> bool {
    a[0] == 0xfe && a[1] & 0xc0 == 0x80
}

fn is_multicast(a: &[u8; 16]) -> bool {
    a[0] == 0xff
}

fn is_solicited_node(a: &[u8; 16]) -> bool {
    a[..13] == [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

pub use crate::fmt::Ip6;

// ---------------------------------------------------------------------------------------------
// Frames

/// The ICMPv6 checksum over the pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1), not yet
/// complemented: a received message is intact when this is 0xffff.
fn icmp_sum(src: &[u8; 16], dst: &[u8; 16], icmp: &[u8]) -> u16 {
    let (s, d) = (Ipv6Address::from(*src), Ipv6Address::from(*dst));
    checksum::combine(&[
        checksum::pseudo_header_v6(&s, &d, IpProtocol::Icmpv6, icmp.len() as u32),
        checksum::data(icmp),
    ])
}

/// Writes Ethernet + IPv6 headers for an ICMPv6 message of `icmp_len` bytes (already in
/// `out[ICMP..]`) and fills its checksum. Hop limit 255 makes the message provably on-link
/// (RFC 4861 §3.1). `out` is at least `ICMP + icmp_len` long.
fn finish(out: &mut [u8], mac: [u8; 6], src: [u8; 16], dst: [u8; 16], icmp_len: usize) -> usize {
    out[0..2].copy_from_slice(&[0x33, 0x33]);
    out[2..6].copy_from_slice(&dst[12..16]);
    out[6..12].copy_from_slice(&mac);
    out[12..14].copy_from_slice(&[0x86, 0xdd]);
    out[14..18].copy_from_slice(&[0x60, 0, 0, 0]);
    out[18..20].copy_from_slice(&(icmp_len as u16).to_be_bytes());
    out[20] = NH_ICMPV6;
    out[21] = 255;
    out[22..38].copy_from_slice(&src);
    out[38..54].copy_from_slice(&dst);
    let icmp = &mut out[ICMP..ICMP + icmp_len];
    icmp[2..4].copy_from_slice(&[0, 0]);
    let c = !icmp_sum(&src, &dst, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ICMP + icmp_len
}

/// A Router Solicitation to all-routers (ff02::2, 33:33:00:00:00:02), hop limit 255 (RFC 4861
/// §4.1, §6.3.7). The source link-layer address option goes with a source address only: RFC
/// 4861 §4.1 forbids it from ::, and RFC 4429 §3.2 from an optimistic address, so pass `None`
/// until the link-local address is preferred. Returns the frame length, 0 if `out` is shorter
/// than the frame ([`FRAME_MAX`] always fits).
pub fn router_solicitation(out: &mut [u8], mac: [u8; 6], source: Option<[u8; 16]>) -> usize {
    let icmp_len = if source.is_some() { 16 } else { 8 };
    let Some(buf) = out.get_mut(..ICMP + icmp_len) else { return 0 };
    buf[ICMP..].fill(0);
    buf[ICMP] = RS;
    if source.is_some() {
        buf[ICMP + 8..ICMP + 10].copy_from_slice(&[OPT_SLLA, 1]);
        buf[ICMP + 10..ICMP + 16].copy_from_slice(&mac);
    }
    finish(buf, mac, source.unwrap_or([0; 16]), ALL_ROUTERS, icmp_len)
}

/// A DAD probe for `target`: a Neighbor Solicitation from :: to the target's solicited-node
/// group, with no source link-layer address option (RFC 4862 §5.4.2, RFC 4861 §4.3). Returns
/// the frame length, 0 if `out` is shorter than [`FRAME_MAX`].
pub fn dad_probe(out: &mut [u8], mac: [u8; 6], target: [u8; 16]) -> usize {
    let Some(buf) = out.get_mut(..ICMP + 24) else { return 0 };
    buf[ICMP..].fill(0);
    buf[ICMP] = NS;
    buf[ICMP + 8..ICMP + 24].copy_from_slice(&target);
    finish(buf, mac, [0; 16], solicited_node(&target), 24)
}

/// One received NDP message that flint acts on. Lives on the stack for one call; no
/// allocator to box the RA into, so the size difference between variants stays.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Message<'a> {
    RouterAdvert(Ra<'a>),
    NeighborAdvert { target: [u8; 16] },
    NeighborSolicit { source: [u8; 16], target: [u8; 16] },
}

/// A Router Advertisement (RFC 4861 §4.2) with the options flint uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ra<'a> {
    /// The RA's source: the router's link-local address, the default route's next hop.
    pub router: [u8; 16],
    /// M flag: addresses are available from DHCPv6 (RFC 4861 §4.2).
    pub managed: bool,
    /// O flag: other configuration (DNS) is available from DHCPv6.
    pub other: bool,
    /// 0: not a default router (RFC 4861 §6.3.4).
    pub router_lifetime_s: u16,
    /// The last MTU option, when it is at least [`MIN_MTU`] (RFC 4861 §6.3.4).
    pub mtu: Option<u32>,
    /// The first four well-formed Prefix Information options, link-local prefixes dropped (RFC
    /// 4861 §6.3.4, RFC 4862 §5.5.3 a) and multicast ones too (no unicast address or on-link
    /// route comes from ff00::/8, RFC 4291 §2.4; Linux drops them alike). See
    /// [`Prefix::slaac`] for which of them form addresses.
    pub prefixes: Vec<Prefix, 4>,
    /// Recursive DNS servers (RFC 8106 §5.1), options with lifetime 0 dropped (§5.3.1: a
    /// lifetime of 0 withdraws them), unspecified, multicast and repeated addresses skipped.
    pub rdnss: Vec<[u8; 16], 3>,
    /// The "Domain Names of DNS Search List" field of each DNSSL option with a non-zero
    /// lifetime (RFC 8106 §5.2): wire-format names followed by zero padding.
    pub dnssl: Vec<&'a [u8], 2>,
}

/// A Prefix Information option (RFC 4861 §4.6.2), as sent: the prefix bits past `len` are not
/// cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub prefix: [u8; 16],
    /// 0–128 (longer ones are refused by the parser).
    pub len: u8,
    /// L flag: the prefix is on-link.
    pub on_link: bool,
    /// A flag: usable for SLAAC — only when `len` is 64 too, see [`Prefix::slaac`].
    pub autonomous: bool,
    /// Seconds; 0xffff_ffff is infinity (RFC 4861 §4.6.2).
    pub valid_s: u32,
    pub preferred_s: u32,
}

impl Prefix {
    /// Whether SLAAC forms an address from this prefix (RFC 4862 §5.5.3): the A flag, a
    /// preferred lifetime no longer than the valid one (b), and a /64, since flint's interface
    /// identifiers are 64 bits (d). Link-local prefixes (a) never get here.
    pub fn slaac(&self) -> bool {
        self.autonomous && self.preferred_s <= self.valid_s && self.len == 64
    }
}

/// Iterates over NDP options, each as its whole bytes (type, length, data). Stops at the first
/// malformed one; [`options_ok`] tells beforehand whether there is one.
struct Options<'a>(&'a [u8]);

impl<'a> Iterator for Options<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.0.get(1)? as usize * 8;
        let opt = self.0.get(..len).filter(|o| !o.is_empty())?;
        self.0 = &self.0[len..];
        Some(opt)
    }
}

/// Every option has a non-zero length and ends within the message (RFC 4861 §6.1.1, §6.1.2,
/// §7.1.1, §7.1.2: otherwise the whole message is discarded).
fn options_ok(opts: &[u8]) -> bool {
    let mut rest = opts;
    while !rest.is_empty() {
        let len = rest.get(1).map_or(0, |&l| l as usize * 8);
        match rest.get(len..) {
            Some(r) if len > 0 => rest = r,
            _ => return false,
        }
    }
    true
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_be_bytes)
}

fn addr(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..at + 16)?.try_into().ok()
}

/// Reads one received Ethernet frame. Returns `None` for anything but a Router Advertisement,
/// Neighbor Solicitation or Neighbor Advertisement that passes RFC 4861's validity checks
/// (§6.1.2 and §7.1.1–§7.1.2): IPv6 with ICMPv6 directly as the next header (NDP messages carry
/// no extension headers in practice; flint does not walk them), hop limit 255, code 0, a valid
/// checksum, the minimum length of the type, every option of non-zero length within the
/// message; an RA from a link-local source; an NS or NA target that is not multicast; an NS from
/// :: addressed to a solicited-node group and without a source link-layer option; an NA to a
/// multicast destination without the Solicited flag. Trailing Ethernet padding past the IPv6
/// payload length is ignored.
pub fn parse(frame: &[u8]) -> Option<Message<'_>> {
    if frame.get(12..14)? != [0x86, 0xdd] {
        return None;
    }
    let hdr = frame.get(ETH..ICMP)?;
    if hdr[0] >> 4 != 6 || hdr[6] != NH_ICMPV6 || hdr[7] != 255 {
        return None;
    }
    let plen = u16::from_be_bytes([hdr[4], hdr[5]]) as usize;
    let icmp = frame.get(ICMP..ICMP + plen)?;
    let src = addr(hdr, 8)?;
    let dst = addr(hdr, 24)?;
    let (&kind, &code) = (icmp.first()?, icmp.get(1)?);
    let min = match kind {
        RA => 16,
        NS | NA => 24,
        _ => return None,
    };
    if code != 0 || icmp.len() < min || icmp_sum(&src, &dst, icmp) != 0xffff || !options_ok(&icmp[min..]) {
        return None;
    }
    let opts = Options(&icmp[min..]);
    match kind {
        RA => {
            if !is_link_local(&src) {
                return None;
            }
            Some(Message::RouterAdvert(parse_ra(src, icmp, opts)))
        }
        NS => {
            let target = addr(icmp, 8)?;
            if is_multicast(&target) {
                return None;
            }
            if src == [0; 16] && (!is_solicited_node(&dst) || opts.into_iter().any(|o| o[0] == OPT_SLLA)) {
                return None;
            }
            Some(Message::NeighborSolicit { source: src, target })
        }
        _ => {
            let target = addr(icmp, 8)?;
            let solicited = icmp[4] & 0x40 != 0;
            if is_multicast(&target) || (is_multicast(&dst) && solicited) {
                return None;
            }
            Some(Message::NeighborAdvert { target })
        }
    }
}

// Out of line: measured smaller so (inlined, it grew its caller more than it costs).
#[inline(never)]
fn parse_ra<'a>(router: [u8; 16], icmp: &'a [u8], opts: Options<'a>) -> Ra<'a> {
    let mut ra = Ra {
        router,
        managed: icmp[5] & 0x80 != 0,
        other: icmp[5] & 0x40 != 0,
        router_lifetime_s: u16::from_be_bytes([icmp[6], icmp[7]]),
        mtu: None,
        prefixes: Vec::new(),
        rdnss: Vec::new(),
        dnssl: Vec::new(),
    };
    for o in opts {
        let len8 = o.len() / 8;
        match o[0] {
            // A later MTU option replaces an earlier one, as in smoltcp's parser.
            OPT_MTU if len8 == 1 => ra.mtu = Some(be32(o, 4)).filter(|&m| m >= MIN_MTU),
            OPT_PREFIX if len8 == 4 => {
                let Some(prefix) = addr(o, 16) else { continue };
                if o[2] > 128 || is_link_local(&prefix) || is_multicast(&prefix) {
                    continue;
                }
                let _ = ra.prefixes.push(Prefix {
                    prefix,
                    len: o[2],
                    on_link: o[3] & 0x80 != 0,
                    autonomous: o[3] & 0x40 != 0,
                    valid_s: be32(o, 4),
                    preferred_s: be32(o, 8),
                });
            }
            // RFC 8106 §5.1: length 3 for one address, +2 per further one.
            OPT_RDNSS if len8 >= 3 && be32(o, 4) != 0 => {
                for a in o[8..].chunks_exact(16).filter_map(|c| <[u8; 16]>::try_from(c).ok()) {
                    if a != [0; 16] && !is_multicast(&a) && !ra.rdnss.contains(&a) {
                        let _ = ra.rdnss.push(a);
                    }
                }
            }
            OPT_DNSSL if len8 >= 2 && be32(o, 4) != 0 => {
                let _ = ra.dnssl.push(&o[8..]);
            }
            _ => {}
        }
    }
    ra
}

// ---------------------------------------------------------------------------------------------
// Router solicitation

/// How many RSs flint sends before it stops asking (RFC 4861 §10 MAX_RTR_SOLICITATIONS is 3).
pub const RS_MAX: u8 = 5;
/// The last gap between RSs (RFC 4861 §10 RTR_SOLICITATION_INTERVAL).
const RS_INTERVAL_MAX_MS: u64 = 4000;

/// Router solicitations (RFC 4861 §6.3.7): the first at once, then after 1, 2, 4 and 4 s, five
/// in all over 11 s, until a Router Advertisement arrives.
///
/// The RFC waits up to 1 s before the first and sends three 4 s apart, so a lost first RA
/// costs 4 s — most of an early boot's budget. RFC 7559 §2 lets a host back off from a shorter
/// first interval, which is what this does (without its ±10 % jitter: one host on a link at
/// boot, nothing to desynchronise); the initial random delay guards against a whole link
/// rebooting at once, which a VM's virtual link does not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Solicit {
    sent: u8,
    at: Instant,
    done: bool,
}

impl Solicit {
    pub fn new(now: Instant) -> Solicit {
        Solicit { sent: 0, at: now, done: false }
    }

    /// When [`poll`](Self::poll) next sends; `None` once an RA arrived or all were sent.
    pub fn poll_at(&self) -> Option<Instant> {
        (!self.done && self.sent < RS_MAX).then_some(self.at)
    }

    /// Whether it needs to send now; then it counts the RS as sent and schedules the next.
    /// The caller builds the frame (its source depends on the link-local address's state).
    pub fn due(&mut self, now: Instant) -> bool {
        if self.poll_at().is_none_or(|at| now < at) {
            return false;
        }
        let gap = (1000u64 << self.sent.min(8)).min(RS_INTERVAL_MAX_MS);
        self.sent += 1;
        self.at = now + Duration::from_millis(gap);
        true
    }

    /// Writes an RS from :: (without SLLA) when one is due; see [`router_solicitation`].
    pub fn poll(&mut self, now: Instant, mac: [u8; 6], out: &mut [u8]) -> Option<usize> {
        if out.len() < FRAME_MAX {
            return None;
        }
        self.due(now).then(|| router_solicitation(out, mac, None))
    }

    /// An RA arrived: stop soliciting (RFC 4861 §6.3.7).
    pub fn on_ra(&mut self) {
        self.done = true;
    }

    /// RSs sent so far.
    pub fn sent(&self) -> u8 {
        self.sent
    }

    pub fn answered(&self) -> bool {
        self.done
    }
}

// ---------------------------------------------------------------------------------------------
// Duplicate address detection

/// RFC 4861 §10 RETRANS_TIMER: how long after its probe an address is taken as unique.
pub const DAD_WAIT_MS: u64 = 1000;
/// DAD probes per address, and the time between them (see [`Dad`]).
pub const DAD_PROBES: u8 = 2;
pub const DAD_GAP_MS: u64 = 200;

/// Where DAD for one address stands (RFC 4429 §2.1, RFC 4862 §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DadState {
    /// Probing, and usable meanwhile (RFC 4429 §3.3: optimistic addresses may be the source of
    /// traffic; only the neighbour-cache override rules differ, which smoltcp does not apply).
    Optimistic,
    /// The probe went unanswered for [`DAD_WAIT_MS`]: the address is ours.
    Preferred,
    /// Another node uses or probes for it: remove it (RFC 4862 §5.4.5).
    Duplicate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DadStep {
    /// Probe number `.1` (from 0) goes out at the instant.
    Probe(Instant, u8),
    /// The probe went out; preferred at the instant.
    Wait(Instant),
    Done(DadState),
}

/// Optimistic duplicate address detection for one address (RFC 4429, RFC 4862 §5.4) with
/// DupAddrDetectTransmits = [`DAD_PROBES`]: a probe at once and another [`DAD_GAP_MS`] later,
/// preferred [`DAD_WAIT_MS`] after the last unless a conflict showed. The address is usable
/// from [`Dad::new`] on, so DAD costs a fetch no time. Two probes because the first frames on a
/// link that has just come up are often lost (a veth peer still coming up, a switch port
/// still learning), and with one probe a conflict would then go unnoticed (seen in the
/// dualstack suite); RFC 4862 §5.1 leaves the count to the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dad {
    target: [u8; 16],
    step: DadStep,
}

impl Dad {
    pub fn new(target: [u8; 16], now: Instant) -> Dad {
        Dad { target, step: DadStep::Probe(now, 0) }
    }

    pub fn target(&self) -> [u8; 16] {
        self.target
    }

    pub fn state(&self) -> DadState {
        match self.step {
            DadStep::Done(s) => s,
            _ => DadState::Optimistic,
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        match self.step {
            DadStep::Probe(at, _) | DadStep::Wait(at) => Some(at),
            DadStep::Done(_) => None,
        }
    }

    /// Advances the timer; writes the probe (see [`dad_probe`]) when it is due.
    pub fn poll(&mut self, now: Instant, mac: [u8; 6], out: &mut [u8]) -> Option<usize> {
        match self.step {
            DadStep::Probe(at, n) if now >= at && out.len() >= FRAME_MAX => {
                self.step = if n + 1 < DAD_PROBES {
                    DadStep::Probe(now + Duration::from_millis(DAD_GAP_MS), n + 1)
                } else {
                    DadStep::Wait(now + Duration::from_millis(DAD_WAIT_MS))
                };
                Some(dad_probe(out, mac, self.target))
            }
            DadStep::Wait(at) if now >= at => {
                self.step = DadStep::Done(DadState::Preferred);
                None
            }
            _ => None,
        }
    }

    /// Looks at a received message; returns true when it made the address a duplicate. While
    /// the address is optimistic, an NA for it (someone has it, RFC 4862 §5.4.4) or an NS for
    /// it from :: (someone else is probing for it, §5.4.3) is a conflict. Once preferred,
    /// defending it is smoltcp's job: it answers NSs, and a stray NA is only logged by other
    /// stacks too (§5.4.4). Our own probes never arrive here (the device drops looped frames).
    pub fn on(&mut self, msg: &Message<'_>) -> bool {
        if self.state() != DadState::Optimistic {
            return false;
        }
        let conflict = match *msg {
            Message::NeighborAdvert { target } => target == self.target,
            Message::NeighborSolicit { source, target } => source == [0; 16] && target == self.target,
            Message::RouterAdvert(_) => false,
        };
        if conflict {
            self.step = DadStep::Done(DadState::Duplicate);
        }
        conflict
    }
}

// ---------------------------------------------------------------------------------------------
// The aggregate

/// The earlier of two deadlines, either of which may be absent.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// SLAAC addresses at most (one per usable prefix; more prefixes are ignored).
pub const MAX_SLAAC: usize = 3;
/// Addresses tried per prefix (and for the link-local one): the EUI-64 one, then random ones
/// after conflicts (RFC 7217 §6 IDGEN_RETRIES is 3).
pub const MAX_TRIES: u8 = 4;
/// RFC 4862 §5.5.3 e: the "two hours" rule.
const TWO_HOURS_S: u64 = 2 * 3600;
/// Recent events kept for the caller; one call produces at most 3 removals, 3 additions, a
/// router, a DHCPv6 start and a DNS change.
const EVENTS: usize = 16;
/// Raw DNSSL bytes kept, the fields of all DNSSL options concatenated.
pub const SEARCH_MAX: usize = 256;

/// What changed, for the caller to apply to smoltcp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Add this address with this prefix length (64): it is usable at once (optimistic DAD).
    AddressAdded([u8; 16], u8),
    /// Remove this address: DAD found it in use, or its valid lifetime ended.
    AddressRemoved([u8; 16]),
    /// The default router (a link-local next hop), or none any more.
    Router(Option<[u8; 16]>),
    /// The first RA with M or O set: run DHCPv6, stateful (addresses) if M, else stateless.
    StartDhcpv6 { stateful: bool },
    /// [`Ndp::dns`] or [`Ndp::search`] changed.
    Dns,
}

#[derive(Clone, Copy, Debug)]
struct Slaac {
    prefix: [u8; 16],
    dad: Dad,
    tries: u8,
    /// `None`: infinite.
    valid_until: Option<Instant>,
}

/// Link-local address, router discovery and SLAAC for one interface; see the module docs.
///
/// Starts with the EUI-64 link-local address (optimistic, so usable at once) and its DAD, and
/// solicits routers. Each RA updates the default router (its router lifetime, RFC 4861
/// §6.3.4), the MTU, DNS servers and search list (RFC 8106: the newest RA's options replace the
/// older ones; flint lives seconds, so option lifetimes other than 0 are not tracked), and adds
/// one EUI-64 address per usable /64 prefix (RFC 4862 §5.5.3), each with its own DAD. A
/// conflict replaces the address by one with a random identifier, up to [`MAX_TRIES`] per
/// address; then that address is given up.
#[derive(Clone, Debug)]
pub struct Ndp {
    mac: [u8; 6],
    rng: Rng,
    ll: Dad,
    ll_tries: u8,
    solicit: Solicit,
    slaac: Vec<Slaac, MAX_SLAAC>,
    router: Option<([u8; 16], Instant)>,
    mtu: Option<u32>,
    dns: Vec<[u8; 16], 3>,
    search: Vec<u8, SEARCH_MAX>,
    flags: Option<(bool, bool)>,
    events: heapless::Deque<Event, EVENTS>,
}

impl Ndp {
    /// Starts on the NIC `mac` at `now`; `seed` drives the random identifiers after conflicts.
    /// The first event is the link-local address.
    pub fn new(mac: [u8; 6], now: Instant, seed: u64) -> Ndp {
        let ll = link_local(mac);
        let mut n = Ndp {
            mac,
            rng: Rng::new(seed),
            ll: Dad::new(ll, now),
            ll_tries: 1,
            solicit: Solicit::new(now),
            slaac: Vec::new(),
            router: None,
            mtu: None,
            dns: Vec::new(),
            search: Vec::new(),
            flags: None,
            events: heapless::Deque::new(),
        };
        n.event(Event::AddressAdded(ll, 64));
        n
    }

    fn event(&mut self, e: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    /// The next change to apply, oldest first. Drain after every `new`, `poll` and `on_frame`.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The current link-local address, `None` after [`MAX_TRIES`] conflicts.
    pub fn link_local(&self) -> Option<[u8; 16]> {
        (self.ll.state() != DadState::Duplicate).then_some(self.ll.target())
    }

    /// The SLAAC addresses held (optimistic or preferred).
    pub fn addresses(&self) -> impl Iterator<Item = [u8; 16]> + '_ {
        self.slaac.iter().filter(|s| s.dad.state() != DadState::Duplicate).map(|s| s.dad.target())
    }

    pub fn router(&self) -> Option<[u8; 16]> {
        self.router.map(|r| r.0)
    }

    pub fn mtu(&self) -> Option<u32> {
        self.mtu
    }

    pub fn dns(&self) -> &[[u8; 16]] {
        &self.dns
    }

    /// The raw DNSSL fields (wire names with zero padding), for `dns::search_from_wire`.
    pub fn search(&self) -> &[u8] {
        &self.search
    }

    /// The M and O flags of the last RA, `None` before one arrived.
    pub fn flags(&self) -> Option<(bool, bool)> {
        self.flags
    }

    /// Whether router discovery is over: an RA arrived, or every RS went unanswered.
    pub fn settled(&self) -> bool {
        self.solicit.poll_at().is_none()
    }

    pub fn poll_at(&self) -> Option<Instant> {
        // A plain fold: the flat_map/chain/flatten it replaces measured ~700 B larger.
        let mut at = earliest(earliest(self.solicit.poll_at(), self.ll.poll_at()), self.router.map(|r| r.1));
        for s in &self.slaac {
            at = earliest(earliest(at, s.dad.poll_at()), s.valid_until);
        }
        at
    }

    /// Advances timers and writes one frame to send, if one is due; call again until `None`.
    /// `out` must hold [`FRAME_MAX`] bytes (a shorter one gets nothing).
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if out.len() < FRAME_MAX {
            return None;
        }
        self.expire(now);
        if let Some(n) = self.ll.poll(now, self.mac, out) {
            return Some(n);
        }
        for s in self.slaac.iter_mut() {
            if let Some(n) = s.dad.poll(now, self.mac, out) {
                return Some(n);
            }
        }
        if self.solicit.due(now) {
            // From the link-local address with SLLA once it is preferred (so the router can
            // answer by unicast), from :: before (RFC 4429 §3.2).
            let source = (self.ll.state() == DadState::Preferred).then_some(self.ll.target());
            return Some(router_solicitation(out, self.mac, source));
        }
        None
    }

    fn expire(&mut self, now: Instant) {
        if let Some((_, until)) = self.router
            && now >= until
        {
            self.router = None;
            self.event(Event::Router(None));
        }
        let mut i = 0;
        while i < self.slaac.len() {
            let s = self.slaac[i];
            if s.valid_until.is_some_and(|t| now >= t) {
                self.slaac.swap_remove(i);
                if s.dad.state() != DadState::Duplicate {
                    self.event(Event::AddressRemoved(s.dad.target()));
                }
            } else {
                i += 1;
            }
        }
    }

    /// Hands over a received frame; anything but a valid NDP message is ignored.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn on_frame(&mut self, now: Instant, frame: &[u8]) {
        if let Some(m) = parse(frame) {
            self.on(now, &m);
        }
    }

    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn on(&mut self, now: Instant, msg: &Message<'_>) {
        if self.ll.on(msg) {
            let old = self.ll.target();
            self.event(Event::AddressRemoved(old));
            if self.ll_tries < MAX_TRIES {
                self.ll_tries += 1;
                let new = random_iid(&mut self.rng, &old);
                info!("address", "IPv6 link-local {} is in use; trying {}", Ip6(old), Ip6(new));
                self.ll = Dad::new(new, now);
                self.event(Event::AddressAdded(new, 64));
            } else {
                warn!("address", "IPv6 link-local {} is in use; giving up", Ip6(old));
            }
        }
        for i in 0..self.slaac.len() {
            let Some(s) = self.slaac.get_mut(i) else { break };
            if !s.dad.on(msg) {
                continue;
            }
            let old = s.dad.target();
            let retry = s.tries < MAX_TRIES;
            if retry {
                s.tries += 1;
                s.dad = Dad::new(random_iid(&mut self.rng, &old), now);
            }
            let new = s.dad.target();
            self.event(Event::AddressRemoved(old));
            if retry {
                self.event(Event::AddressAdded(new, 64));
            }
        }
        if let Message::RouterAdvert(ra) = msg {
            self.on_ra(now, ra);
        }
    }

    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    fn on_ra(&mut self, now: Instant, ra: &Ra<'_>) {
        self.solicit.on_ra();
        // Default router (RFC 4861 §6.3.4): one is enough for a fetch; a second router is used
        // only when the first is gone.
        let until = now + Duration::from_secs(ra.router_lifetime_s as u64);
        match self.router {
            Some((r, _)) if r == ra.router && ra.router_lifetime_s == 0 => {
                self.router = None;
                self.event(Event::Router(None));
            }
            Some((r, ref mut t)) if r == ra.router => *t = until,
            None if ra.router_lifetime_s > 0 => {
                self.router = Some((ra.router, until));
                self.event(Event::Router(Some(ra.router)));
            }
            _ => {}
        }
        if ra.mtu.is_some() {
            self.mtu = ra.mtu;
        }
        if self.flags.is_none() && (ra.managed || ra.other) {
            self.event(Event::StartDhcpv6 { stateful: ra.managed });
        }
        self.flags = Some((ra.managed, ra.other));
        // RFC 8106 §5.3.1: options in a newer RA replace the older ones.
        let mut search: Vec<u8, SEARCH_MAX> = Vec::new();
        for d in &ra.dnssl {
            let _ = search.extend_from_slice(d);
        }
        let dns_changed =
            (!ra.rdnss.is_empty() && ra.rdnss != self.dns) || (!search.is_empty() && search != self.search);
        if !ra.rdnss.is_empty() {
            self.dns = ra.rdnss.clone();
        }
        if !search.is_empty() {
            self.search = search;
        }
        if dns_changed {
            self.event(Event::Dns);
        }
        for p in ra.prefixes.iter().filter(|p| p.slaac()) {
            self.on_prefix(now, p);
        }
    }

    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    fn on_prefix(&mut self, now: Instant, p: &Prefix) {
        let valid = (p.valid_s != u32::MAX).then(|| now + Duration::from_secs(p.valid_s as u64));
        if let Some(s) = self.slaac.iter_mut().find(|s| s.prefix[..8] == p.prefix[..8]) {
            // RFC 4862 §5.5.3 e: a short valid lifetime can shorten the remaining one only
            // down to two hours, so an unauthenticated RA cannot take an address away at once.
            let remaining = s.valid_until.map(|t| if t > now { (t - now).secs() } else { 0 });
            let two_hours = now + Duration::from_secs(TWO_HOURS_S);
            let longer = match (valid, s.valid_until) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(v), Some(u)) => v > u,
            };
            if p.valid_s as u64 > TWO_HOURS_S || longer {
                s.valid_until = valid;
            } else if remaining.is_none_or(|r| r > TWO_HOURS_S) {
                s.valid_until = Some(two_hours);
            }
            return;
        }
        if p.valid_s == 0 || self.slaac.is_full() {
            return;
        }
        let addr = with_prefix(&p.prefix, &link_local(self.mac));
        let _ = self.slaac.push(Slaac { prefix: p.prefix, dad: Dad::new(addr, now), tries: 1, valid_until: valid });
        self.event(Event::AddressAdded(addr, 64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use smoltcp::wire::{EthernetFrame, Icmpv6Packet, Icmpv6Repr, Ipv6Packet, NdiscRepr};
    use std::vec::Vec as SVec;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const ROUTER: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    fn ip(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    fn t(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    /// An Ethernet/IPv6/ICMPv6 frame with a correct checksum.
    fn frame(src: [u8; 16], dst: [u8; 16], hop: u8, icmp: &[u8]) -> SVec<u8> {
        let mut f = std::vec![0u8; ICMP + icmp.len()];
        f[ICMP..].copy_from_slice(icmp);
        finish(&mut f, [2, 0, 0, 0, 0, 1], src, dst, icmp.len());
        f[21] = hop;
        f
    }

    fn opt_prefix(p: [u8; 16], len: u8, flags: u8, valid: u32, preferred: u32) -> SVec<u8> {
        let mut o = std::vec![OPT_PREFIX, 4, len, flags];
        o.extend_from_slice(&valid.to_be_bytes());
        o.extend_from_slice(&preferred.to_be_bytes());
        o.extend_from_slice(&[0; 4]);
        o.extend_from_slice(&p);
        o
    }

    fn ra_icmp(flags: u8, lifetime: u16, opts: &[SVec<u8>]) -> SVec<u8> {
        let mut m = std::vec![RA, 0, 0, 0, 64, flags];
        m.extend_from_slice(&lifetime.to_be_bytes());
        m.extend_from_slice(&[0; 8]);
        for o in opts {
            m.extend_from_slice(o);
        }
        m
    }

    fn ra_frame(flags: u8, lifetime: u16, opts: &[SVec<u8>]) -> SVec<u8> {
        frame(ROUTER, ALL_NODES, 255, &ra_icmp(flags, lifetime, opts))
    }

    fn na_frame(target: [u8; 16]) -> SVec<u8> {
        let mut m = std::vec![NA, 0, 0, 0, 0x20, 0, 0, 0];
        m.extend_from_slice(&target);
        frame(ip("fe80::99"), ALL_NODES, 255, &m)
    }

    fn ns_frame(src: [u8; 16], target: [u8; 16]) -> SVec<u8> {
        let mut m = std::vec![NS, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&target);
        let dst = if src == [0; 16] { solicited_node(&target) } else { target };
        frame(src, dst, 255, &m)
    }

    /// smoltcp's reading of a frame flint built: the IPv6 header and the ICMPv6 message, whose
    /// checksum smoltcp verifies.
    fn smoltcp_reads(f: &[u8]) -> (smoltcp::wire::Ipv6Repr, NdiscRepr<'_>) {
        let eth = EthernetFrame::new_checked(f).unwrap();
        assert_eq!(eth.ethertype(), smoltcp::wire::EthernetProtocol::Ipv6);
        let ip = Ipv6Packet::new_checked(&f[ETH..]).unwrap();
        let repr = smoltcp::wire::Ipv6Repr::parse(&ip).unwrap();
        let icmp = Icmpv6Packet::new_checked(&f[ICMP..]).unwrap();
        let caps = smoltcp::phy::ChecksumCapabilities::default();
        match Icmpv6Repr::parse(&repr.src_addr, &repr.dst_addr, &icmp, &caps).unwrap() {
            Icmpv6Repr::Ndisc(n) => (repr, n),
            other => panic!("not NDP: {other:?}"),
        }
    }

    #[test]
    fn eui64_link_local_matches_rfc_4291_and_linux() {
        // RFC 4291 App. A works 00:0d... style MACs; QEMU's default NIC 52:54:00:12:34:56
        // gets fe80::5054:ff:fe12:3456 from Linux.
        assert_eq!(link_local(MAC), ip("fe80::5054:ff:fe12:3456"));
        assert_eq!(link_local([0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]), ip("fe80::21b:21ff:feaa:bbcc"));
        assert_eq!(with_prefix(&ip("2001:db8:1:2::"), &link_local(MAC)), ip("2001:db8:1:2:5054:ff:fe12:3456"));
        assert_eq!(solicited_node(&ip("2001:db8::5054:ff:fe12:3456")), ip("ff02::1:ff12:3456"));
        let mut rng = Rng::new(7);
        let r = random_iid(&mut rng, &ip("fe80::1"));
        assert_eq!(r[..8], ip("fe80::")[..8]);
        assert_ne!(r, random_iid(&mut rng, &ip("fe80::1")));
        assert_eq!(r[8] & 0x02, 0, "a random identifier is local");
    }

    #[test]
    fn router_solicitation_bytes() {
        let mut out = [0u8; FRAME_MAX];
        let n = router_solicitation(&mut out, MAC, None);
        assert_eq!(n, 62);
        assert_eq!(out[..14], [0x33, 0x33, 0, 0, 0, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x86, 0xdd]);
        assert_eq!(out[14..22], [0x60, 0, 0, 0, 0, 8, 58, 255]);
        let (ip6, nd) = smoltcp_reads(&out[..n]);
        assert_eq!(ip6.src_addr.octets(), [0; 16]);
        assert_eq!(ip6.dst_addr.octets(), ALL_ROUTERS);
        assert_eq!(ip6.hop_limit, 255);
        assert_eq!(nd, NdiscRepr::RouterSolicit { lladdr: None });

        let ll = link_local(MAC);
        let n = router_solicitation(&mut out, MAC, Some(ll));
        assert_eq!(n, 70);
        assert_eq!(out[62..70], [1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        let (ip6, nd) = smoltcp_reads(&out[..n]);
        assert_eq!(ip6.src_addr.octets(), ll);
        assert_eq!(nd, NdiscRepr::RouterSolicit { lladdr: Some(smoltcp::wire::RawHardwareAddress::from_bytes(&MAC)) });
        assert_eq!(router_solicitation(&mut out[..69], MAC, Some(ll)), 0);
    }

    #[test]
    fn dad_probe_bytes() {
        let mut out = [0u8; FRAME_MAX];
        let target = ip("2001:db8::5054:ff:fe12:3456");
        let n = dad_probe(&mut out, MAC, target);
        assert_eq!(n, 78);
        assert_eq!(out[..6], [0x33, 0x33, 0xff, 0x12, 0x34, 0x56]);
        let (ip6, nd) = smoltcp_reads(&out[..n]);
        assert_eq!(ip6.src_addr.octets(), [0; 16]);
        assert_eq!(ip6.dst_addr.octets(), ip("ff02::1:ff12:3456"));
        assert_eq!(ip6.hop_limit, 255);
        assert_eq!(nd, NdiscRepr::NeighborSolicit { target_addr: target.into(), lladdr: None });
        // flint reads its own probe as another host's probe (which is why looped frames must
        // not reach it).
        assert_eq!(parse(&out[..n]), Some(Message::NeighborSolicit { source: [0; 16], target }));
        assert_eq!(dad_probe(&mut out[..77], MAC, target), 0);
    }

    #[test]
    fn parses_an_ra_with_prefixes_mtu_rdnss_and_dnssl() {
        let mut mtu = std::vec![OPT_MTU, 1, 0, 0];
        mtu.extend_from_slice(&1450u32.to_be_bytes());
        let mut rdnss = std::vec![OPT_RDNSS, 5, 0, 0, 0, 0, 0x0e, 0x10];
        rdnss.extend_from_slice(&ip("2001:db8::53"));
        rdnss.extend_from_slice(&ip("2001:db8::54"));
        let mut dnssl = std::vec![OPT_DNSSL, 2, 0, 0, 0, 0, 0x0e, 0x10];
        dnssl.extend_from_slice(b"\x03lan\x00\x00\x00\x00");
        let dead_rdnss = {
            let mut o = std::vec![OPT_RDNSS, 3, 0, 0, 0, 0, 0, 0];
            o.extend_from_slice(&ip("2001:db8::dead"));
            o
        };
        let unknown = std::vec![200, 1, 1, 2, 3, 4, 5, 6];
        let f = ra_frame(
            0xc0,
            1800,
            &[
                opt_prefix(ip("2001:db8:1::"), 64, 0xc0, 86400, 14400),
                unknown,
                opt_prefix(ip("2001:db8:2::"), 48, 0x80, u32::MAX, u32::MAX),
                opt_prefix(ip("fe80::"), 64, 0xc0, 100, 100),
                opt_prefix(ip("ff02::"), 64, 0xc0, 100, 100),
                opt_prefix(ip("2001:db8:3::"), 64, 0x40, 10, 20),
                mtu,
                rdnss,
                dead_rdnss,
                dnssl,
            ],
        );
        let Some(Message::RouterAdvert(ra)) = parse(&f) else { panic!("not an RA") };
        assert_eq!(ra.router, ROUTER);
        assert!(ra.managed && ra.other);
        assert_eq!(ra.router_lifetime_s, 1800);
        assert_eq!(ra.mtu, Some(1450));
        assert_eq!(ra.prefixes.len(), 3, "the link-local and multicast prefixes are dropped");
        let p = ra.prefixes[0];
        assert_eq!(
            p,
            Prefix {
                prefix: ip("2001:db8:1::"),
                len: 64,
                on_link: true,
                autonomous: true,
                valid_s: 86400,
                preferred_s: 14400
            }
        );
        assert!(p.slaac());
        assert!(!ra.prefixes[1].slaac() && ra.prefixes[1].on_link && ra.prefixes[1].len == 48);
        assert!(!ra.prefixes[2].slaac(), "preferred > valid");
        assert_eq!(ra.rdnss.as_slice(), &[ip("2001:db8::53"), ip("2001:db8::54")]);
        assert_eq!(ra.dnssl.as_slice(), &[&b"\x03lan\x00\x00\x00\x00"[..]]);
        // Ethernet padding past the IPv6 payload is fine.
        let mut padded = f.clone();
        padded.extend_from_slice(&[0; 20]);
        assert!(matches!(parse(&padded), Some(Message::RouterAdvert(_))));
    }

    #[test]
    fn invalid_ras_are_refused() {
        let good = ra_frame(0, 1800, &[opt_prefix(ip("2001:db8::"), 64, 0xc0, 100, 50)]);
        assert!(parse(&good).is_some());
        let icmp = ra_icmp(0, 1800, &[opt_prefix(ip("2001:db8::"), 64, 0xc0, 100, 50)]);
        assert!(parse(&frame(ROUTER, ALL_NODES, 254, &icmp)).is_none(), "hop limit 254");
        assert!(parse(&frame(ip("2001:db8::1"), ALL_NODES, 255, &icmp)).is_none(), "global source");
        let mut bad_sum = good.clone();
        bad_sum[ICMP + 2] ^= 1;
        assert!(parse(&bad_sum).is_none(), "checksum");
        let mut code = icmp.clone();
        code[1] = 1;
        assert!(parse(&frame(ROUTER, ALL_NODES, 255, &code)).is_none(), "code 1");
        let zero_len = ra_icmp(0, 1800, &[std::vec![OPT_MTU, 0, 0, 0, 0, 0, 5, 0xdc]]);
        assert!(parse(&frame(ROUTER, ALL_NODES, 255, &zero_len)).is_none(), "zero-length option");
        let mut past_end = ra_icmp(0, 1800, &[]);
        past_end.extend_from_slice(&[OPT_MTU, 2, 0, 0, 0, 0, 5, 0xdc]);
        assert!(parse(&frame(ROUTER, ALL_NODES, 255, &past_end)).is_none(), "option past the end");
        assert!(parse(&frame(ROUTER, ALL_NODES, 255, &icmp[..15])).is_none(), "short RA");
        assert!(parse(&good[..good.len() - 1]).is_none(), "truncated frame");
        let mut v4 = good.clone();
        v4[13] = 0;
        assert!(parse(&v4).is_none());
    }

    #[test]
    fn neighbor_messages_are_validated() {
        let target = ip("fe80::5054:ff:fe12:3456");
        assert_eq!(parse(&na_frame(target)), Some(Message::NeighborAdvert { target }));
        assert_eq!(parse(&ns_frame([0; 16], target)), Some(Message::NeighborSolicit { source: [0; 16], target }));
        assert!(parse(&na_frame(ip("ff02::1"))).is_none(), "multicast target");
        // NS from :: to a unicast destination, or with an SLLA option.
        let mut m = std::vec![NS, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&target);
        assert!(parse(&frame([0; 16], target, 255, &m)).is_none());
        m.extend_from_slice(&[OPT_SLLA, 1, 2, 0, 0, 0, 0, 9]);
        assert!(parse(&frame([0; 16], solicited_node(&target), 255, &m)).is_none());
        assert!(parse(&frame(ip("fe80::9"), solicited_node(&target), 255, &m)).is_some());
        // A solicited NA to a multicast group.
        let mut na = std::vec![NA, 0, 0, 0, 0x40, 0, 0, 0];
        na.extend_from_slice(&target);
        assert!(parse(&frame(ip("fe80::99"), ALL_NODES, 255, &na)).is_none());
        assert!(parse(&frame(ip("fe80::99"), ip("fe80::1"), 255, &na)).is_some());
    }

    #[test]
    fn rs_schedule_is_bounded_and_an_ra_stops_it() {
        let mut s = Solicit::new(t(0));
        let mut out = [0u8; FRAME_MAX];
        let mut at = SVec::new();
        let mut now = t(0);
        while let Some(next) = s.poll_at() {
            assert!(s.poll(next - Duration::from_millis(1), MAC, &mut out).is_none() || next == t(0));
            now = next;
            assert_eq!(s.poll(now, MAC, &mut out), Some(62));
            at.push(now.total_millis());
        }
        assert_eq!(at, [0, 1000, 3000, 7000, 11000]);
        assert!(s.poll(now + Duration::from_secs(100), MAC, &mut out).is_none());

        let mut s = Solicit::new(t(0));
        assert!(s.poll(t(0), MAC, &mut out).is_some());
        s.on_ra();
        assert_eq!(s.poll_at(), None);
        assert!(s.poll(t(5000), MAC, &mut out).is_none());
    }

    #[test]
    fn dad_is_optimistic_then_preferred() {
        let target = ip("2001:db8::5054:ff:fe12:3456");
        let mut d = Dad::new(target, t(0));
        assert_eq!(d.state(), DadState::Optimistic, "usable at once");
        let mut out = [0u8; FRAME_MAX];
        assert_eq!(d.poll(t(0), MAC, &mut out), Some(78));
        assert_eq!(parse(&out[..78]), Some(Message::NeighborSolicit { source: [0; 16], target }));
        assert_eq!(d.poll_at(), Some(t(DAD_GAP_MS as i64)));
        assert_eq!(d.poll(t(DAD_GAP_MS as i64 - 1), MAC, &mut out), None);
        assert_eq!(d.poll(t(DAD_GAP_MS as i64), MAC, &mut out), Some(78), "a second probe, in case the first was lost");
        let done = (DAD_GAP_MS + DAD_WAIT_MS) as i64;
        assert_eq!(d.poll_at(), Some(t(done)));
        assert_eq!(d.poll(t(done - 1), MAC, &mut out), None);
        assert_eq!(d.state(), DadState::Optimistic);
        assert_eq!(d.poll(t(done), MAC, &mut out), None, "two probes only");
        assert_eq!(d.state(), DadState::Preferred);
        assert_eq!(d.poll_at(), None);
        // Once preferred, an NA for it is not a conflict any more.
        assert!(!d.on(&parse(&na_frame(target)).unwrap()));
        assert_eq!(d.state(), DadState::Preferred);
    }

    #[test]
    fn dad_conflicts_by_na_and_by_ns_from_unspecified() {
        let target = ip("2001:db8::5054:ff:fe12:3456");
        let mut out = [0u8; FRAME_MAX];
        let mut d = Dad::new(target, t(0));
        d.poll(t(0), MAC, &mut out);
        assert!(!d.on(&parse(&na_frame(ip("2001:db8::1"))).unwrap()), "someone else's address");
        assert!(!d.on(&parse(&ns_frame(ip("fe80::7"), target)).unwrap()), "address resolution, not DAD");
        assert!(d.on(&parse(&na_frame(target)).unwrap()));
        assert_eq!(d.state(), DadState::Duplicate);
        assert_eq!(d.poll_at(), None);

        let mut d = Dad::new(target, t(0));
        // Even before our probe went out.
        assert!(d.on(&parse(&ns_frame([0; 16], target)).unwrap()));
        assert_eq!(d.state(), DadState::Duplicate);
        assert_eq!(d.poll(t(0), MAC, &mut out), None);
    }

    fn drain(n: &mut Ndp) -> SVec<Event> {
        core::iter::from_fn(|| n.next_event()).collect()
    }

    fn frames(n: &mut Ndp, now: Instant) -> SVec<SVec<u8>> {
        let mut out = [0u8; FRAME_MAX];
        core::iter::from_fn(|| n.poll(now, &mut out).map(|l| out[..l].to_vec())).collect()
    }

    #[test]
    fn ndp_link_local_then_slaac_router_and_dns() {
        let ll = link_local(MAC);
        let mut n = Ndp::new(MAC, t(0), 1);
        assert_eq!(drain(&mut n), [Event::AddressAdded(ll, 64)]);
        let sent = frames(&mut n, t(0));
        assert_eq!(sent.len(), 2, "DAD probe and RS");
        assert!(matches!(parse(&sent[0]), Some(Message::NeighborSolicit { target, .. }) if target == ll));
        assert_eq!(smoltcp_reads(&sent[1]).1, NdiscRepr::RouterSolicit { lladdr: None }, "from :: while optimistic");
        assert_eq!(n.poll_at(), Some(t(DAD_GAP_MS as i64)));
        // The second DAD probe, then the second RS at 1 s, still from :: (still optimistic).
        let sent = frames(&mut n, t(DAD_GAP_MS as i64));
        assert_eq!(sent.len(), 1);
        assert!(matches!(parse(&sent[0]), Some(Message::NeighborSolicit { target, .. }) if target == ll));
        let sent = frames(&mut n, t(1000));
        assert_eq!(sent.len(), 1);
        assert_eq!(smoltcp_reads(&sent[0]).1, NdiscRepr::RouterSolicit { lladdr: None });
        // Preferred after the last probe's wait (the RSs that follow come from it, with SLLA).
        assert!(frames(&mut n, t((DAD_GAP_MS + DAD_WAIT_MS) as i64)).is_empty());

        let mut rdnss = std::vec![OPT_RDNSS, 3, 0, 0, 0, 0, 0x0e, 0x10];
        rdnss.extend_from_slice(&ip("2001:db8::53"));
        let mut dnssl = std::vec![OPT_DNSSL, 2, 0, 0, 0, 0, 0x0e, 0x10];
        dnssl.extend_from_slice(b"\x03lan\x00\x00\x00\x00");
        let ra = ra_frame(
            0x40,
            600,
            &[
                opt_prefix(ip("2001:db8:1::"), 64, 0xc0, 3600, 1800),
                opt_prefix(ip("2001:db8:2::"), 64, 0x80, 3600, 1800),
                opt_prefix(ip("2001:db8:3::"), 64, 0xc0, u32::MAX, u32::MAX),
                rdnss,
                dnssl,
            ],
        );
        n.on_frame(t(1500), &ra);
        let a1 = ip("2001:db8:1::5054:ff:fe12:3456");
        let a3 = ip("2001:db8:3::5054:ff:fe12:3456");
        assert_eq!(
            drain(&mut n),
            [
                Event::Router(Some(ROUTER)),
                Event::StartDhcpv6 { stateful: false },
                Event::Dns,
                Event::AddressAdded(a1, 64),
                Event::AddressAdded(a3, 64),
            ]
        );
        assert_eq!(n.addresses().collect::<SVec<_>>(), [a1, a3]);
        assert_eq!(n.dns(), &[ip("2001:db8::53")]);
        assert_eq!(n.search(), b"\x03lan\x00\x00\x00\x00");
        assert!(n.settled(), "an RA stops the RSs");
        // Both new addresses are probed; no more RSs.
        let sent = frames(&mut n, t(1500));
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|f| matches!(parse(f), Some(Message::NeighborSolicit { .. }))));
        // The same RA again changes nothing.
        n.on_frame(t(1600), &ra);
        assert_eq!(drain(&mut n), []);
        // The router leaves: lifetime 0.
        n.on_frame(t(1700), &ra_frame(0x40, 0, &[]));
        assert_eq!(drain(&mut n), [Event::Router(None)]);
        assert_eq!(n.router(), None);
    }

    #[test]
    fn ndp_replaces_conflicting_addresses_a_bounded_number_of_times() {
        let mut n = Ndp::new(MAC, t(0), 1);
        drain(&mut n);
        let first = n.link_local().unwrap();
        frames(&mut n, t(0));
        n.on_frame(t(10), &na_frame(first));
        let ev = drain(&mut n);
        let second = n.link_local().unwrap();
        assert_ne!(second, first);
        assert_eq!(second[..8], first[..8]);
        assert_eq!(ev, [Event::AddressRemoved(first), Event::AddressAdded(second, 64)]);
        // The new one is probed at once.
        let sent = frames(&mut n, t(10));
        assert!(matches!(parse(&sent[0]), Some(Message::NeighborSolicit { target, .. }) if target == second));
        for i in 2..=MAX_TRIES {
            let cur = n.link_local().unwrap();
            n.on_frame(t(20 * i as i64), &ns_frame([0; 16], cur));
        }
        assert_eq!(n.link_local(), None, "gave up after {MAX_TRIES} addresses");
        let ev = drain(&mut n);
        assert_eq!(ev.iter().filter(|e| matches!(e, Event::AddressRemoved(_))).count(), 3);

        // A SLAAC address conflict.
        let mut n = Ndp::new(MAC, t(0), 2);
        n.on_frame(t(0), &ra_frame(0, 600, &[opt_prefix(ip("2001:db8:1::"), 64, 0x40, 3600, 1800)]));
        drain(&mut n);
        let a = n.addresses().next().unwrap();
        n.on_frame(t(100), &na_frame(a));
        let b = n.addresses().next().unwrap();
        assert_ne!(a, b);
        assert_eq!(drain(&mut n), [Event::AddressRemoved(a), Event::AddressAdded(b, 64)]);
    }

    #[test]
    fn ndp_lifetimes_expire_and_obey_the_two_hour_rule() {
        let mut n = Ndp::new(MAC, t(0), 1);
        n.on_frame(t(0), &ra_frame(0, 30, &[opt_prefix(ip("2001:db8:1::"), 64, 0x40, 60, 60)]));
        let a = n.addresses().next().unwrap();
        drain(&mut n);
        frames(&mut n, t(30_000));
        assert_eq!(drain(&mut n), [Event::Router(None)]);
        // A valid lifetime of 0 cannot shorten below two hours... but this one has only 60 s
        // left, so it is ignored (RFC 4862 §5.5.3 e).
        n.on_frame(t(31_000), &ra_frame(0, 0, &[opt_prefix(ip("2001:db8:1::"), 64, 0x40, 0, 0)]));
        frames(&mut n, t(59_999));
        assert_eq!(drain(&mut n), []);
        frames(&mut n, t(60_000));
        assert_eq!(drain(&mut n), [Event::AddressRemoved(a)]);
        assert_eq!(n.addresses().count(), 0);
        // An infinite one shortened by a zero valid lifetime keeps two hours.
        n.on_frame(t(61_000), &ra_frame(0, 0, &[opt_prefix(ip("2001:db8:1::"), 64, 0x40, u32::MAX, 0)]));
        n.on_frame(t(62_000), &ra_frame(0, 0, &[opt_prefix(ip("2001:db8:1::"), 64, 0x40, 0, 0)]));
        assert_eq!(n.slaac[0].valid_until, Some(t(62_000 + 7_200_000)));
    }

    #[test]
    fn ndp_stops_soliciting_after_the_bound() {
        let mut n = Ndp::new(MAC, t(0), 1);
        let mut rs = 0;
        let mut now = t(0);
        for _ in 0..50 {
            rs += frames(&mut n, now).iter().filter(|f| f[ICMP] == RS).count();
            match n.poll_at() {
                Some(at) => now = at,
                None => break,
            }
        }
        assert_eq!(rs, RS_MAX as usize);
        assert!(n.settled());
        assert_eq!(n.poll_at(), None);
    }

    #[test]
    fn struct_sizes() {
        std::println!(
            "Ndp {} B, Dad {} B, Solicit {} B, Ra {} B",
            core::mem::size_of::<Ndp>(),
            core::mem::size_of::<Dad>(),
            core::mem::size_of::<Solicit>(),
            core::mem::size_of::<Ra>()
        );
        assert!(core::mem::size_of::<Ndp>() < 1024);
    }
}
