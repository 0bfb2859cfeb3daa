//! The end-to-end scenarios: flint against the mock metadata services in network namespaces,
//! over DHCP and link-local, both platforms, the valid framings, retries and the plain
//! failures (`cargo xtask e2e`). Each is a `harness::scenario::Scenario`, held to the checks
//! every run gets; the functions below are the scenario-specific ones, over the mock's log.

use crate::harness::netns::Addressing;
use crate::harness::scenario::{self, OutputAt, Payload, PlatformFrom, Run, Scenario};
use crate::harness::tally::{Selection, Suite, Tally};
use crate::mock::{Platform, payloads};

pub const SUITE: Suite = Suite { name: "e2e", needs_flint: true, gate: false, run, cases: || all().len() };

fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    scenario::run_list(all(), sel, t)
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            extra: Some(one_token_then_user_data),
            ..Scenario::base("aws-dhcp", "IMDSv2 token + user-data over a DHCP lease, via the router")
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            budget: 20.0,
            ..Scenario::base("aws-link-local", "no DHCP server: IPv4 link-local address, metadata on-link")
        },
        Scenario {
            payload: Payload::LargeGzip,
            extra: Some(gzip_fits_aws_limit),
            ..Scenario::base("aws-gzip-large", "gzip user-data under 16 KB that inflates to ~280 KB")
        },
        Scenario {
            platform: Platform::Akamai,
            payload: Payload::LargeGzip,
            extra: Some(akamai_accept_ok),
            ..Scenario::base("akamai-base64-gzip", "Akamai base64(gzip) user-data")
        },
        Scenario {
            platform: Platform::Akamai,
            extra: Some(akamai_accept_ok),
            ..Scenario::base("akamai-plain", "Akamai base64(plain) user-data")
        },
        Scenario {
            mock: Some(|o| o.chunked = true),
            payload: Payload::LargeGzip,
            args: &["-v"],
            ..Scenario::base("aws-chunked", "Transfer-Encoding: chunked, odd chunk sizes (verbose)")
        },
        Scenario {
            mock: Some(|o| o.close_delimited = true),
            payload: Payload::LargeGzip,
            ..Scenario::base("aws-close-delimited", "no Content-Length: the close ends every body")
        },
        Scenario {
            mock: Some(|o| o.stale_token_once = true),
            args: &["-v"],
            extra: Some(stale_token_recovered),
            ..Scenario::base("aws-stale-token", "first user-data GET says 401: a second token PUT recovers (verbose)")
        },
        Scenario {
            payload: Payload::None,
            exit: 3,
            extra: Some(user_data_404_seen),
            ..Scenario::base("aws-no-user-data", "404 for user-data: exit 3, nothing written")
        },
        Scenario {
            platform: Platform::Akamai,
            payload: Payload::None,
            exit: 3,
            ..Scenario::base("akamai-no-user-data", "200 with an empty body: exit 3, nothing written")
        },
        Scenario {
            mock: None,
            budget: 4.0,
            exit: 4,
            error_phase: Some("token"),
            ..Scenario::base("aws-unreachable", "lease but nothing listening on :80: exit 4 within the budget")
        },
        Scenario {
            mock: Some(|o| o.delay_ms = 1500),
            extra: Some(one_token_then_user_data),
            ..Scenario::base("aws-slow-server", "every answer 1.5 s late, 10 s budget: success")
        },
        Scenario {
            mock: Some(|o| {
                o.fail_first = 2;
                o.fail_status = 503;
            }),
            extra: Some(recovered_after_failures),
            ..Scenario::base("aws-503-twice", "first two requests 503: retried, success")
        },
        Scenario {
            mock: Some(|o| {
                o.fail_first = 1;
                o.fail_status = 429;
                o.retry_after = Some(1);
            }),
            extra: Some(recovered_after_failures),
            ..Scenario::base("aws-429-retry-after", "first request 429 with Retry-After: 1: retried, success")
        },
        Scenario {
            platform: Platform::Akamai,
            platform_from: PlatformFrom::Cmdline,
            ..Scenario::base("akamai-from-cmdline", "platform from ignition.platform.id=akamai in --cmdline FILE")
        },
        Scenario {
            payload: Payload::LargeGzip,
            args: &["--max-size", "100K"],
            exit: 5,
            error_phase: Some("decode"),
            ..Scenario::base("aws-max-size", "--max-size 100K below the ~280 KB decoded size: exit 5")
        },
        Scenario {
            output_at: OutputAt::UnderAFile,
            exit: 6,
            error_phase: Some("write"),
            ..Scenario::base("aws-output-unwritable", "output directory is a regular file: exit 6")
        },
        Scenario {
            platform_from: PlatformFrom::KernelArgs,
            ..Scenario::base(
                "kernel-args-only",
                "all options as flint.* kernel arguments; flint.platform beats ignition.platform.id",
            )
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            args: &["--address", "link-local"],
            ..Scenario::base("aws-address-link-local", "--address link-local: no DHCP wait at all")
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            mock: None,
            args: &["--address", "dhcp"],
            budget: 4.0,
            exit: 4,
            error_phase: Some("address"),
            ..Scenario::base("dhcp-only-no-server", "--address dhcp, no DHCP server: no link-local fallback, exit 4")
        },
        Scenario {
            mock: Some(|o| o.no_token_api = true),
            extra: Some(imdsv1_fallback),
            ..Scenario::base("aws-imdsv1-fallback", "token PUT answers 404: user-data fetched without a token")
        },
        Scenario {
            mock: Some(|o| o.truncate = true),
            payload: Payload::LargeGzip,
            budget: 4.0,
            exit: 4,
            or_exit: Some(5),
            error_phase: Some("user-data"),
            ..Scenario::base(
                "aws-truncated-body",
                "Content-Length promises more than arrives: exit 4 or 5, nothing written",
            )
        },
        Scenario {
            platform_from: PlatformFrom::Nowhere,
            dhcp_server: false,
            mock: None,
            exit: 2,
            error_phase: Some("args"),
            ..Scenario::base("usage-no-platform", "no --platform and none on the kernel command line: exit 2")
        },
    ]
}

// --- scenario-specific checks ----------------------------------------------------------

fn one_token_then_user_data(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let puts = r.requests("PUT", "/api/token");
    let gets = r.requests("GET", "/user-data");
    if puts.len() != 1 || r.tokens.len() != 1 {
        bad.push(format!("expected exactly one token PUT, mock saw {} (issued {})", puts.len(), r.tokens.len()));
    }
    if gets.len() != 1 || !gets.iter().all(|g| g.token_sent && g.token_valid && g.status == 200) {
        bad.push("expected one user-data GET carrying the valid token".into());
    }
    bad
}

fn gzip_fits_aws_limit(r: &Run) -> Vec<String> {
    // The point of the scenario: what AWS would store is under its limit.
    match r.log.iter().find(|e| e.path.ends_with("/user-data") && e.status == 200) {
        Some(e) if e.bytes < payloads::AWS_USER_DATA_LIMIT => Vec::new(),
        Some(e) => vec![format!("served gzip is {} B, over AWS's 16 KB limit: fix the payload", e.bytes)],
        None => vec!["mock never served user-data".into()],
    }
}

fn akamai_accept_ok(r: &Run) -> Vec<String> {
    r.requests("GET", "/v1/user-data")
        .iter()
        .filter(|e| e.status == 406)
        .map(|e| format!("user-data GET refused for its Accept header: {:?}", e.accept))
        .collect()
}

fn stale_token_recovered(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let puts = r.requests("PUT", "/api/token");
    let gets = r.requests("GET", "/user-data");
    if r.tokens.len() != 2 || puts.len() != 2 {
        bad.push(format!(
            "expected the token to be fetched twice, mock issued {} on {} PUT(s)",
            r.tokens.len(),
            puts.len()
        ));
    }
    let statuses: Vec<u16> = gets.iter().map(|g| g.status).collect();
    if statuses != [401, 200] {
        bad.push(format!("expected user-data GETs 401 then 200, got {statuses:?}"));
    }
    bad
}

fn imdsv1_fallback(r: &Run) -> Vec<String> {
    // Every GET, not just one: after the 404 no request may carry a token header at all.
    let gets = r.requests("GET", "/user-data");
    if !gets.is_empty() && gets.iter().all(|g| !g.token_sent) && gets.iter().any(|g| g.status == 200) {
        Vec::new()
    } else {
        vec!["expected only tokenless user-data GETs (one answered 200) after the token endpoint's 404".into()]
    }
}

fn user_data_404_seen(r: &Run) -> Vec<String> {
    if r.requests("GET", "/user-data").iter().any(|e| e.status == 404) {
        Vec::new()
    } else {
        vec!["mock never answered 404 for user-data".into()]
    }
}

fn recovered_after_failures(r: &Run) -> Vec<String> {
    let failed = r.log.iter().take_while(|e| e.status == 503 || e.status == 429).count();
    let mut bad = Vec::new();
    if failed == 0 {
        bad.push("mock log does not start with the scripted failures".into());
    }
    if !r.requests("GET", "/user-data").iter().any(|e| e.status == 200) {
        bad.push("no successful user-data GET after the failures".into());
    }
    bad
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_name_their_phase() {
        assert_eq!(crate::harness::scenario::unnamed_failures(&super::all()), Vec::<&str>::new());
    }
}
