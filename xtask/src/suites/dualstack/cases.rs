//! The dual-stack cases (issue #11, "Tests"), one entry each.

use super::case::*;
use super::checks::*;
use crate::mock::Platform;
use crate::mock::dns::Mode;

/// IPv6 may never be tried when the DHCPv4 lease comes before the RA: not required to be hit;
/// when it is, `he_delay_on_the_wire` holds the race to the delay.
const V6_DROPPED: &[DropRule] = &[DropRule { matches: "ip6 daddr fd00:ec2::254 tcp dport 80", must_hit: false }];
const V4_DROPPED: &[DropRule] = &[DropRule { matches: "ip daddr 169.254.169.254 tcp dport 80", must_hit: false }];
/// Dual stack: IPv4 may win before SLAAC is done, so a SLAAC address is only required where
/// IPv6 must win. `--family any` on an IPv6-only link may still take an IPv4 link-local
/// address (`--address auto`): only `--family ipv6` forbids IPv4.
/// Neither family's address is required where the other may win first (a run can be over
/// before the DHCPv4 lease or before SLAAC).
const DUAL: &[AddrWant] = &[AddrWant::LinkLocal6];
const DUAL_V6_WINS: &[AddrWant] = &[AddrWant::Slaac, AddrWant::LinkLocal6];
const V6_ONLY: &[AddrWant] = &[AddrWant::Slaac, AddrWant::LinkLocal6];
const V4_ONLY: &[AddrWant] = &[AddrWant::Dhcp4, AddrWant::NoV6Global];

const EITHER: &[&str] = &["[fd00:ec2::254]:80", "169.254.169.254:80"];

/// NXDOMAIN: flint asked dnsmasq (the answer, not the lack of a server, ended the run) and never
/// the service.
fn asked_then_gave_up(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if !r.dnsmasq_log.contains("] nothere.example.internal from") {
        bad.push("dnsmasq never saw a query for nothere.example.internal: flint gave up without asking".into());
    }
    if !r.log.is_empty() {
        bad.push(format!("the service was asked ({} requests) for a name that does not resolve", r.log.len()));
    }
    bad
}

/// The IPv4-only cloud is not slowed down by IPv6: the first exchange (the token) took less
/// than the Happy Eyeballs delay.
fn v4_not_delayed(r: &Run) -> Vec<String> {
    let token = r.report.as_ref().and_then(|v| v["timings_us"]["token"].as_u64());
    match token {
        Some(us) if us < 250_000 => Vec::new(),
        other => vec![format!(
            "report timings_us.token = {other:?} µs: an IPv4-only cloud waited for IPv6 (HE delay 250 ms)"
        )],
    }
}

fn dad_and_fetched(r: &Run) -> Vec<String> {
    dad_noticed(r)
}

pub fn all() -> Vec<Case> {
    let aws_dual = |name, about| Case {
        v4: V4::Dhcp,
        addrs: DUAL_V6_WINS,
        endpoint: &["[fd00:ec2::254]:80"],
        ..Case::platform(name, about, Platform::Aws, "[::]:80")
    };
    vec![
        // --- names on an IPv6-only link configured by an RA alone ---------------------------
        Case {
            decoy: Some("[fd00::99]:80"),
            within: Some(3.0),
            extra: Some(search_order),
            ..Case::base(
                "ra-only-url-metadata",
                "IPv6 only, RA (ra-only) with RDNSS+DNSSL: --url http://metadata/… via metadata.example.internal AAAA",
            )
        },
        Case {
            v6: V6::Stateless,
            within: Some(3.0),
            ..Case::base(
                "ra-stateless-url-metadata",
                "IPv6 only, RA with A+O flags (ra-stateless), DHCPv6 info-request: the same fetch",
            )
        },
        Case {
            args: &["--url", "http://alias/latest/user-data"],
            target: Some(("/latest/user-data", "alias")),
            ..Case::base("url-cname-chain", "alias.example.internal is a CNAME of metadata.example.internal: followed")
        },
        // --- platforms over IPv6 alone ------------------------------------------------------
        Case {
            v6: V6::Stateful,
            args: &["--family", "ipv6"],
            addrs: &[AddrWant::Dhcp6, AddrWant::LinkLocal6, AddrWant::NoV4],
            endpoint: &["[fd00:ec2::254]:80"],
            capture: true,
            extra: Some(no_ipv4_frames),
            ..Case::platform(
                "aws-v6-dhcpv6-stateful",
                "--platform aws --family ipv6: RA with M flag, IA_NA from dnsmasq, IMDSv2 token flow on [fd00:ec2::254]",
                Platform::Aws,
                "[fd00:ec2::254]:80",
            )
        },
        Case {
            endpoint: &["[fd00:a9fe:a9fe::1]:80"],
            addrs: V6_ONLY,
            within: Some(3.0),
            ..Case::platform(
                "akamai-v6-slaac",
                "--platform akamai on an IPv6-only link (SLAAC): token and user-data on [fd00:a9fe:a9fe::1]",
                Platform::Akamai,
                "[fd00:a9fe:a9fe::1]:80",
            )
        },
        Case {
            v6: V6::LinkLocal,
            endpoint: &["[fe80::a9fe:a9fe]:80", "[fe80::a9fe:a9fe%eth0]:80"],
            addrs: &[AddrWant::LinkLocal6, AddrWant::NoV6Global],
            within: Some(3.0),
            ..Case::platform(
                "openstack-v6-link-local",
                "--platform openstack, no IPv4, no RA: the service on fe80::a9fe:a9fe, reached from flint's link-local address",
                Platform::OpenStack,
                "[::]:80",
            )
        },
        Case {
            endpoint: &["[fe80::a9fe:a9fe]:80", "[fe80::a9fe:a9fe%eth0]:80"],
            addrs: V6_ONLY,
            within: Some(3.0),
            ..Case::platform(
                "openstack-v6-ra",
                "--platform openstack on an IPv6-only link with an RA: fe80::a9fe:a9fe on the NIC",
                Platform::OpenStack,
                "[::]:80",
            )
        },
        // --- Happy Eyeballs -------------------------------------------------------------------
        // RFC 8305 orders the addresses a host holds at the moment it connects: when the DHCPv4
        // lease lands before the router's advertisement, IPv4 is all there is to try, and
        // waiting for IPv6 would slow every IPv4-only boot. Either endpoint may win; both are
        // held to the usual checks.
        Case {
            addrs: DUAL,
            endpoint: EITHER,
            ..aws_dual(
                "he-dual-both-work",
                "dual stack, both work: whichever family is configured first is asked first",
            )
        },
        Case {
            drops: V6_DROPPED,
            addrs: DUAL,
            endpoint: &["169.254.169.254:80"],
            within: Some(1.5),
            extra: Some(he_delay_on_the_wire),
            ..aws_dual(
                "he-v6-dropped-v4-wins",
                "dual stack, [fd00:ec2::254] silently dropped (nft): IPv4 wins within the HE delay + its exchange",
            )
        },
        Case {
            drops: V4_DROPPED,
            endpoint: &["[fd00:ec2::254]:80"],
            within: Some(1.5),
            ..aws_dual("he-v4-dropped-v6-wins", "dual stack, 169.254.169.254:80 silently dropped: IPv6 wins")
        },
        Case {
            v4: V4::Dhcp,
            v6: V6::None,
            addrs: V4_ONLY,
            endpoint: &["169.254.169.254:80"],
            extra: Some(v4_not_delayed),
            ..Case::platform(
                "aws-v4-only-family-any",
                "IPv4-only cloud (no RA), --family any: the token exchange not held back by the HE delay",
                Platform::Aws,
                "169.254.169.254:80",
            )
        },
        Case {
            args: &["--family", "ipv4"],
            addrs: V4_ONLY,
            endpoint: &["169.254.169.254:80"],
            capture: true,
            extra: Some(no_ipv6_frames),
            ..aws_dual(
                "family-ipv4-no-v6-frames",
                "dual stack, --family ipv4: IPv4 endpoint, not one IPv6 frame from flint",
            )
        },
        // --- names and families ---------------------------------------------------------------
        Case {
            v4: V4::Dhcp,
            args: &["--url", "http://v4only.example.internal/latest/user-data"],
            service: Some(Svc { platform: Platform::Aws, listen: "[::]:80", knobs: |o| o.no_token_api = true }),
            addrs: DUAL,
            endpoint: &["10.0.0.8:80"],
            dns_servers: &[DNS6, DNS4],
            search: &[DOMAIN, OTHER_DOMAIN],
            target: Some(("/latest/user-data", "v4only.example.internal")),
            ..Case::base("dual-a-only-ipv4-used", "dual stack, a name with an A record and no AAAA: IPv4 used")
        },
        Case {
            v4: V4::Dhcp,
            v6: V6::None,
            service: Some(Svc { platform: Platform::Aws, listen: "[::]:80", knobs: |o| o.no_token_api = true }),
            records: &[("metadata.example.internal", META4), ("metadata", "10.0.0.9")],
            addrs: V4_ONLY,
            endpoint: &["10.0.0.8:80"],
            dns_servers: &[DNS4],
            search: &[DOMAIN, OTHER_DOMAIN],
            extra: Some(search_order),
            ..Case::base(
                "v4-dhcp-dns-options",
                "IPv4 only: DNS server and search list from DHCPv4 options 6, 15, 119; http://metadata resolves",
            )
        },
        Case {
            v4: V4::Dhcp,
            v6: V6::None,
            dns: Dns::Mock(Mode::Answer),
            announce: Announce::KernelOnly,
            records: &[("metadata.example.internal", META4)],
            service: Some(Svc { platform: Platform::Aws, listen: "[::]:80", knobs: |o| o.no_token_api = true }),
            cmdline: "nameserver=10.0.0.6",
            args: &["--url", "http://metadata.example.internal/latest/user-data"],
            addrs: V4_ONLY,
            endpoint: &["10.0.0.8:80"],
            dns_servers: &[DNS4_MOCK],
            search: &[],
            target: Some(("/latest/user-data", "metadata.example.internal")),
            ..Case::base(
                "kernel-nameserver",
                "no DNS server on the link; nameserver=10.0.0.6 on the kernel command line",
            )
        },
        Case {
            args: &["--url", "http://nothere.example.internal/latest/user-data"],
            budget: 6.0,
            exit: 4,
            error_phase: Some("dns"),
            endpoint: &[],
            extra: Some(asked_then_gave_up),
            ..Case::base(
                "dns-nxdomain-exit-4",
                "NXDOMAIN (dnsmasq authoritative for example.internal): exit 4, dns phase, bounded",
            )
        },
        Case {
            dns: Dns::Mock(Mode::Silent),
            budget: 4.0,
            exit: 4,
            error_phase: Some("dns"),
            endpoint: &[],
            dns_servers: &[DNS6_MOCK],
            extra: Some(silent_server_asked),
            ..Case::base(
                "dns-silent-server-exit-4",
                "the announced DNS server reads and drops every query: exit 4 within --timeout",
            )
        },
        Case {
            dns: Dns::Mock(Mode::Truncate),
            dns_servers: &[DNS6_MOCK],
            extra: Some(resolved_over_tcp),
            ..Case::base("dns-truncated-tcp", "every UDP answer has TC=1 and no records: resolved over TCP")
        },
        // --- DAD ------------------------------------------------------------------------------
        Case {
            dad_peer: true,
            capture: true,
            endpoint: EITHER,
            addrs: &[AddrWant::NotEui64],
            extra: Some(dad_and_fetched),
            ..aws_dual(
                "dad-conflict-link-local",
                "a peer holds flint's EUI-64 link-local address: flint notices, still fetches, does not report it",
            )
        },
        // --- --url ----------------------------------------------------------------------------
        Case {
            v4: V4::Dhcp,
            v6: V6::None,
            dns: Dns::None,
            args: &["--url", "http://10.0.0.8/latest/user-data"],
            service: Some(Svc { platform: Platform::Aws, listen: "[::]:80", knobs: |o| o.no_token_api = true }),
            addrs: V4_ONLY,
            endpoint: &["10.0.0.8:80"],
            dns_servers: &[],
            search: &[],
            target: Some(("/latest/user-data", "10.0.0.8")),
            ..Case::base("url-ipv4-literal", "--url http://10.0.0.8/…: no DNS, Host: 10.0.0.8")
        },
        Case {
            dns: Dns::None,
            args: &["--url", "http://[fd00::80]:8080/latest/user-data?x=1&y=%2Fz;a=b"],
            service: Some(Svc { platform: Platform::Aws, listen: "[fd00::80]:8080", knobs: |o| o.no_token_api = true }),
            endpoint: &["[fd00::80]:8080"],
            dns_servers: &[],
            search: &[],
            target: Some(("/latest/user-data?x=1&y=%2Fz;a=b", "[fd00::80]:8080")),
            ..Case::base(
                "url-ipv6-literal-port-query",
                "--url http://[fd00::80]:8080/…?x=1&y=%2Fz;a=b: target byte for byte, Host with port",
            )
        },
        Case {
            dns: Dns::None,
            args: &["--url", "http://[fd00:ec2::254]/latest/user-data"],
            service: Some(Svc {
                platform: Platform::Aws,
                listen: "[fd00:ec2::254]:80",
                knobs: |o| o.no_token_api = true,
            }),
            endpoint: &["[fd00:ec2::254]:80"],
            dns_servers: &[],
            search: &[],
            target: Some(("/latest/user-data", "[fd00:ec2::254]")),
            ..Case::base(
                "url-ipv6-off-link",
                "--url http://[fd00:ec2::254]/…: off-link, through the RA's default router (no on-link prefix covers it)",
            )
        },
        Case {
            args: &["--url", "http://[fd00::80]/nothing/here"],
            dns: Dns::None,
            payload: Payload::None,
            exit: 3,
            dns_servers: &[],
            search: &[],
            target: Some(("/nothing/here", "[fd00::80]")),
            ..Case::base("url-404-exit-3", "--url answered 404: \"none\", exit 3, nothing written")
        },
        Case {
            args: &["--url", "http://[fd00::80]/latest/user-data"],
            payload: Payload::Gzip,
            target: Some(("/latest/user-data", "[fd00::80]")),
            ..Case::base("url-gzip-decoded", "--url serving gzip: written decoded")
        },
        Case {
            args: &["--url", "http://[fd00::80]/latest/user-data"],
            payload: Payload::Base64Text,
            target: Some(("/latest/user-data", "[fd00::80]")),
            ..Case::base(
                "url-base64-kept",
                "--url serving base64 text: written as served (no base64 decoding for --url)",
            )
        },
        Case {
            args: &[],
            cmdline: "ignition.platform.id=metal ignition.config.url=http://metadata/latest/user-data",
            ..Case::base(
                "ignition-metal-config-url",
                "ignition.platform.id=metal ignition.config.url=http://metadata/… in --cmdline",
            )
        },
        Case {
            v4: V4::Dhcp,
            args: &[],
            cmdline: "flint.url=http://metadata/latest/user-data flint.family=ipv6",
            capture: true,
            addrs: &[AddrWant::Slaac, AddrWant::NoV4],
            dns_servers: &[DNS6],
            extra: Some(no_ipv4_frames),
            ..Case::base(
                "kernel-url-family-ipv6",
                "flint.url= flint.family=ipv6 on a dual-stack link: IPv6 only, no DHCPv4 at all",
            )
        },
        // --- the kernel kept off the NIC --------------------------------------------------------
        Case {
            sample: true,
            addrs: DUAL,
            endpoint: EITHER,
            extra: Some(kernel_kept_off),
            ..aws_dual(
                "disable-ipv6-restored-from-0",
                "eth0 disable_ipv6 0 before: 1 while flint runs (the kernel holds no IPv6 address), 0 again after",
            )
        },
        Case {
            disable_ipv6_before: "1",
            addrs: DUAL,
            endpoint: EITHER,
            ..aws_dual("disable-ipv6-restored-from-1", "eth0 disable_ipv6 1 before: still 1 after")
        },
    ]
}
