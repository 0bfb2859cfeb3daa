//! Issue #12's metadata platforms (`cargo xtask platforms [FILTER] [--keep]`): DigitalOcean,
//! Hetzner, Vultr, UpCloud, Exoscale, CloudStack, Scaleway, Oracle Cloud, Alibaba Cloud, IBM
//! Cloud and Equinix Metal, each against its own mock (`mock::<platform>`, written from the
//! platforms' documents and the real clients, never from flint) in network namespaces, for
//! CloudStack and IBM Cloud against their config drives too, and for Equinix Metal behind its
//! name and real TLS (`tls.rs`: dnsmasq's DNS, nginx with a CA made for the case).
//!
//! Every case runs flint once with every hand-off (`--ignition --cloud-init-seed
//! --attributes`) under `--root <dir>/root` and gets the checks of every namespace run (exit
//! code and time, exactly the expected files with their modes and bytes, the report, the
//! stderr format, no user-data or token in any log) plus the hand-offs against the platform's
//! facts (`expect.rs`): every Afterburn attribute name and value, the hostname and keys in the
//! Ignition fragment, the seed; the mock's request log (the user-data path, no request the
//! service refused, and the platform's quirk: Scaleway's source port, DigitalOcean's
//! link-local address, CloudStack's DHCP server, Alibaba's token, IBM's bearer token, Equinix's
//! name, SNI and handshake); and,
//! for the `-ignition` and `-drive` cases, real Ignition 2.14 `fetch-offline` on `user.ign`
//! and cloud-init's own NoCloud reader on the seed (`checks::consumers`).

mod case;
mod checks;
mod expect;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::drivecase::{self, CaseNet, Observed};
use crate::harness::flint::{runner_ready, verdict};
use crate::harness::handoff::{OUTPUT, REPORT, SEED_DIR};
use crate::harness::netns::{Addressing, POOL, SERVER_IF, start_dnsmasq_args};
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::harness::{cidata, drive};
use crate::mock::{self, Platform, payloads};
use crate::support::proc::ChildGuard;
use crate::support::{deps, gzip, proc, util};
use case::{ATTRIBUTES, Case, DriveKind, Files, Net, OTHER_ROUTER, Payload, Run};

pub const SUITE: Suite = Suite { name: "platforms", needs_flint: true, gate: false, run, cases: || all().len() };

/// The three runs every platform gets: an Ignition config read by Ignition and cloud-init, a
/// gzipped one, and none.
macro_rules! triple {
    ($p:expr, $ign:literal, $gz:literal, $none:literal, $none_about:literal) => {
        [
            Case {
                consumers: true,
                ..Case::service(
                    $ign,
                    "Ignition config: user.ign taken by Ignition 2.14, the seed by cloud-init, Afterburn's attributes",
                    $p,
                )
            },
            Case {
                payload: Payload::IgnitionGzip,
                ..Case::service($gz, "the config gzipped as uploaded: detected, written plain", $p)
            },
            Case::service($none, $none_about, $p).none(),
        ]
    };
}

pub fn all() -> Vec<Case> {
    use checks::*;
    let mut v: Vec<Case> = Vec::new();
    v.extend(triple!(
        Platform::DigitalOcean,
        "digitalocean-ignition",
        "digitalocean-gzip",
        "digitalocean-none",
        "200 with an empty body: no user-data, exit 3"
    ));
    for c in v.iter_mut() {
        c.extra = Some(link_local_peer);
    }
    v.extend(triple!(
        Platform::Hetzner,
        "hetzner-ignition",
        "hetzner-gzip",
        "hetzner-none-200",
        "200 with an empty body: exit 3"
    ));
    v.push(Case {
        mock: Some(|o| o.none_status = 404),
        ..Case::service("hetzner-none-404", "404 (what Ignition handles): exit 3", Platform::Hetzner).none()
    });
    v.push(Case {
        mock: Some(|o| o.none_status = 204),
        ..Case::service("hetzner-none-204", "204 No Content (what cloud-init handles): exit 3", Platform::Hetzner)
            .none()
    });
    v.extend(triple!(
        Platform::Vultr,
        "vultr-ignition",
        "vultr-gzip",
        "vultr-none",
        "/user-data/user-data 404: exit 3"
    ));
    v.extend(triple!(
        Platform::UpCloud,
        "upcloud-ignition",
        "upcloud-gzip",
        "upcloud-none",
        "/metadata/v1/user_data 404: exit 3"
    ));
    v.extend(triple!(
        Platform::Exoscale,
        "exoscale-ignition",
        "exoscale-gzip",
        "exoscale-none",
        "200 with an empty body: exit 3"
    ));
    v.push(Case {
        payload: Payload::CloudConfig,
        exit: 7,
        error_phase: Some("ignition"),
        ..Case::service(
            "exoscale-cloud-config",
            "#cloud-config: exit 7, no user.ign, seed and attributes",
            Platform::Exoscale,
        )
    });
    let first = v.len();
    v.extend(triple!(
        Platform::CloudStack,
        "cloudstack-ignition",
        "cloudstack-gzip",
        "cloudstack-none",
        "/latest/user-data 404 from the DHCP server: exit 3"
    ));
    for c in v[first..].iter_mut() {
        c.extra = Some(cloudstack_router);
    }
    v.push(Case {
        net: Net::DhcpOtherRouter,
        extra: Some(cloudstack_router),
        ..Case::service(
            "cloudstack-router-elsewhere",
            "the lease's router (10.0.0.254, absent) is not its DHCP server (10.0.0.1): the server identifier is asked",
            Platform::CloudStack,
        )
    });
    v.push(Case {
        consumers: true,
        ..Case::drive(
            "cloudstack-drive",
            "CloudStack's config-2 drive (cloudstack/userdata/user_data.txt), no NIC",
            Platform::CloudStack,
            DriveKind::CloudStack,
        )
    });
    v.push(Case {
        net: Net::Dhcp,
        mock: Some(|_| {}),
        ..Case::drive(
            "cloudstack-race-drive-first",
            "drive and service raced (Ignition races both): the drive answers first, no network needed",
            Platform::CloudStack,
            DriveKind::CloudStack,
        )
    });
    v.push(
        Case::drive(
            "cloudstack-drive-none",
            "config-2 drive without user_data.txt: exit 3, metadata still handed off",
            Platform::CloudStack,
            DriveKind::CloudStack,
        )
        .none(),
    );
    let first = v.len();
    v.extend(triple!(
        Platform::Scaleway,
        "scaleway-ignition",
        "scaleway-gzip",
        "scaleway-none",
        "/user_data/cloud-init 404 (unset key): exit 3"
    ));
    v.push(Case {
        mock: Some(|o| o.any_port = true),
        ..Case::service(
            "scaleway-any-port",
            "negative control: a service that answers any port; flint still asks from a port < 1024",
            Platform::Scaleway,
        )
    });
    for c in v[first..].iter_mut() {
        c.extra = Some(scaleway_ports);
    }
    v.extend(triple!(
        Platform::OracleCloud,
        "oraclecloud-ignition",
        "oraclecloud-gzip",
        "oraclecloud-none",
        "no metadata.user_data member (the leaf 404): exit 3"
    ));
    let first = v.len();
    v.extend(triple!(
        Platform::Aliyun,
        "aliyun-ignition",
        "aliyun-gzip",
        "aliyun-none",
        "/latest/user-data 404: exit 3"
    ));
    for c in v[first..].iter_mut() {
        c.extra = Some(aliyun_token);
    }
    v.push(Case {
        mock: Some(|o| o.no_token_api = true),
        extra: Some(aliyun_tokenless),
        ..Case::service(
            "aliyun-no-token-api",
            "the token PUT answers 404 (normal mode): flint goes on without a token",
            Platform::Aliyun,
        )
    });
    // IBM Cloud's `user_data` is a JSON string, which cannot carry gzip's bytes: the gzip case
    // is on the drive.
    let first = v.len();
    v.push(Case {
        consumers: true,
        ..Case::service(
            "ibmcloud-service-ignition",
            "no drive: the VPC metadata service (token PUT, bearer GETs), user_data from the JSON document",
            Platform::IbmCloud,
        )
    });
    v.push(
        Case::service(
            "ibmcloud-service-none",
            "no drive, an initialization document without user_data: exit 3",
            Platform::IbmCloud,
        )
        .none(),
    );
    for c in v[first..].iter_mut() {
        c.extra = Some(ibm_token);
    }
    v.push(Case {
        payload: Payload::IgnitionGzip,
        ..Case::drive(
            "ibmcloud-drive-gzip",
            "a gzipped user-data on the cidata drive: detected, written plain",
            Platform::IbmCloud,
            DriveKind::IbmCidata,
        )
    });
    v.push(Case {
        consumers: true,
        ..Case::drive(
            "ibmcloud-drive",
            "the cidata drive Ignition reads (user-data, meta-data, MIME vendor-data with the keys), no NIC",
            Platform::IbmCloud,
            DriveKind::IbmCidata,
        )
    });
    v.push(Case {
        net: Net::Dhcp,
        mock: Some(|_| {}),
        ..Case::drive(
            "ibmcloud-race-drive-first",
            "cidata drive and VPC service raced like OpenStack's: the drive answers first",
            Platform::IbmCloud,
            DriveKind::IbmCidata,
        )
    });
    v.push(
        Case::drive(
            "ibmcloud-drive-none",
            "a cidata drive without user-data, as Ignition sees it: exit 3",
            Platform::IbmCloud,
            DriveKind::IbmCidata,
        )
        .none(),
    );
    // Equinix Metal: DNS for metadata.packet.net, TLS (nginx) in front of the mock.
    let first = v.len();
    v.extend(triple!(
        Platform::Packet,
        "packet-ignition",
        "packet-gzip",
        "packet-none",
        "/userdata 200 with an empty body (what Ignition takes as no config): exit 3"
    ));
    v.push(Case {
        mock: Some(|o| o.none_status = 404),
        exit: 5,
        error_phase: Some("user-data"),
        source: None,
        payload: Payload::None,
        ..Case::service(
            "packet-404",
            "/userdata 404 (hollow-metadataservice's none; Ignition fails on it): exit 5, nothing written",
            Platform::Packet,
        )
    });
    v.push(Case {
        net: Net::DhcpDnsTls6,
        ..Case::service(
            "packet-ipv6",
            "metadata.packet.net has only an AAAA record (SLAAC from dnsmasq's RA): fetched over IPv6 and TLS",
            Platform::Packet,
        )
    });
    v.push(Case {
        foreign_ca: true,
        exit: 5,
        error_phase: Some("tls"),
        source: None,
        ..Case::service(
            "packet-unknown-ca",
            "--ca-bundle holds another CA: the handshake is refused, exit 5, not one request reaches the service",
            Platform::Packet,
        )
    });
    for c in v[first..].iter_mut() {
        c.extra = Some(packet_tls);
    }
    v
}

/// An Ignition config of spec 3.3.0 (the newest Debian's Ignition 2.14 takes) with a file
/// holding the marker, one naming the platform and a user, and neither `/etc/hostname` nor
/// `core`, so what flint's base fragment adds shows in Ignition's merged result.
fn ignition_config(marker: &str, platform: &str) -> serde_json::Value {
    serde_json::json!({
        "ignition": {"version": "3.3.0"},
        "passwd": {"users": [{"name": "ops", "groups": ["wheel"]}]},
        "storage": {"files": [
            {"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}},
            {"path": "/etc/flint/platform", "mode": 420, "contents": {"source": format!("data:,{platform}")}}
        ]}
    })
}

/// The served user-data and what flint must write from it.
fn payload(p: Payload, marker: &str, platform: Platform) -> (Option<Vec<u8>>, Vec<u8>) {
    let config = || {
        let mut out = serde_json::to_vec_pretty(&ignition_config(marker, platform.as_str())).unwrap_or_default();
        out.push(b'\n');
        out
    };
    match p {
        Payload::Ignition => (Some(config()), config()),
        Payload::IgnitionGzip => (Some(gzip::gzip(&config(), None)), config()),
        Payload::CloudConfig => {
            let cc = format!("#cloud-config\n# {marker}\nruncmd:\n  - [sh, -c, 'echo flint > /run/flint-hello']\n");
            (Some(cc.clone().into_bytes()), cc.into_bytes())
        }
        Payload::None => (None, Vec::new()),
    }
}

/// The drive's files and its image in `dir`.
fn build_drive(kind: DriveKind, user_data: Option<&[u8]>, dir: &Path) -> Result<(PathBuf, Files), String> {
    match kind {
        DriveKind::IbmCidata => {
            let seed = cidata::Seed {
                user_data: user_data.map(<[u8]>::to_vec),
                meta_data: mock::ibmcloud::meta_data(),
                network_config: None,
                vendor_data: Some(mock::ibmcloud::vendor_data()),
            };
            let files = seed.files().into_iter().map(|(n, b)| (n.to_string(), b.to_vec())).collect();
            Ok((cidata::build(cidata::Build::ProxmoxIso, &seed, dir)?, files))
        }
        DriveKind::CloudStack => {
            let files = mock::cloudstack::drive_files(user_data);
            let tree = dir.join("tree");
            for (rel, bytes) in &files {
                let p = tree.join(rel);
                std::fs::create_dir_all(p.parent().unwrap_or(&tree)).map_err(|e| e.to_string())?;
                std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            // CloudStack builds its drive with genisoimage, Rock Ridge and Joliet.
            let image = dir.join("config-2.iso");
            let mut cmd = Command::new(util::tool("genisoimage"));
            cmd.args(["-quiet", "-R", "-J", "-V", "config-2", "-o"]).arg(&image).arg(&tree);
            proc::run_ok(&mut cmd, Duration::from_secs(30))?;
            Ok((image, files))
        }
    }
}

/// The case's network, and the servers `Net::DhcpOtherRouter` and `Net::DhcpDnsTls` start
/// themselves (dnsmasq; nginx with `pki`'s leaf).
fn network(
    c: &Case,
    payload: Option<&Path>,
    pki: Option<&tls::Pki>,
    logs: &Path,
) -> Result<(Vec<ChildGuard>, CaseNet), String> {
    let (addressing, dhcp) = match c.net {
        Net::NoNic => return Ok((Vec::new(), CaseNet::lone()?)),
        Net::Dhcp => (Addressing::Dhcp, true),
        Net::DhcpOtherRouter | Net::DhcpDnsTls | Net::DhcpDnsTls6 => (Addressing::Dhcp, false),
        Net::LinkLocal => (Addressing::LinkLocal, false),
    };
    let mut servers = Vec::new();
    let net = CaseNet::veth(addressing, dhcp, logs, |topo| {
        if matches!(c.net, Net::DhcpDnsTls | Net::DhcpDnsTls6) {
            let pki = pki.ok_or("a TLS case without its certificates")?;
            let v6 = c.net == Net::DhcpDnsTls6;
            topo.ip_server(&["addr", "add", &format!("{}/32", tls::ADDRESS), "dev", SERVER_IF])?;
            if v6 {
                for a in [format!("{}/64", tls::ROUTER6), format!("{}/128", tls::ADDRESS6)] {
                    topo.ip_server(&["-6", "addr", "add", &a, "dev", SERVER_IF, "nodad"])?;
                }
            }
            servers.push(tls::start_dns(&topo.server, logs, v6)?);
            servers.push(tls::start_nginx(&topo.server, pki, logs, v6)?);
        }
        if c.net == Net::DhcpOtherRouter {
            let args: Vec<String> = [
                "--port=0".to_string(),
                "--no-ping".into(),
                "--bind-interfaces".into(),
                format!("--interface={SERVER_IF}"),
                format!("--dhcp-range=10.0.0.{},10.0.0.{},255.255.255.0,1h", POOL.0, POOL.1),
                format!("--dhcp-option=option:router,{OTHER_ROUTER}"),
                format!("--dhcp-leasefile={}", logs.join("dnsmasq.leases").display()),
                "--log-dhcp".into(),
            ]
            .into();
            servers.push(start_dnsmasq_args(&topo.server, &args, logs, "dnsmasq")?);
        }
        let Some(knobs) = c.mock else { return Ok(None) };
        let (listen, extra) = expect::listen(c.platform);
        if let Some(a) = extra {
            topo.ip_server(&["addr", "add", a, "dev", SERVER_IF])?;
        }
        let mut o = mock::Options::new(c.platform);
        o.listen = listen.into();
        o.payload = payload.map(Path::to_path_buf);
        knobs(&mut o);
        Ok(Some(o))
    })?;
    Ok((servers, net))
}

fn flint_args(c: &Case, root: &Path, drive: Option<&Path>, pki: Option<&tls::Pki>) -> Vec<String> {
    let mut a: Vec<String> = vec!["--platform".into(), c.platform.as_str().into(), "--root".into()];
    a.push(root.display().to_string());
    if let Some(p) = pki {
        let ca = if c.foreign_ca { &p.foreign_ca } else { &p.ca };
        a.extend(["--ca-bundle".into(), ca.display().to_string()]);
    }
    a.extend(["--output".into(), OUTPUT.into(), "--report".into(), REPORT.into()]);
    a.extend(["--timeout".into(), c.budget.to_string(), "--ignition".into()]);
    a.extend(["--cloud-init-seed".into(), SEED_DIR.into(), "--attributes".into(), ATTRIBUTES.into()]);
    if let Some(d) = drive {
        a.extend(["--drive".into(), d.display().to_string()]);
    }
    a
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let marker = payloads::new_marker();
    let (served, decoded) = payload(c.payload, &marker, c.platform);
    let (drive_dir, root, logs) = drivecase::case_dirs(dir)?;
    // A service case of a platform with a drive source scans the block devices: none of
    // another run may be there.
    if c.drive.is_none() && matches!(c.platform, Platform::CloudStack | Platform::IbmCloud) {
        let foreign = drive::foreign_drives(&["config-2", "CONFIG-2", "cidata", "CIDATA"], &[]).map_err(|e| vec![e])?;
        if !foreign.is_empty() {
            return Err(vec![format!(
                "a config drive is attached to this machine ({foreign:?}): a scan would find it"
            )]);
        }
    }
    let (image, drive_files) = match c.drive {
        Some(kind) => {
            let (img, files) = build_drive(kind, served.as_deref(), &drive_dir).map_err(|e| vec![e])?;
            (Some(img), files)
        }
        None => (None, Vec::new()),
    };
    let payload_path = drive_dir.join("payload.bin");
    if let Some(s) = &served {
        std::fs::write(&payload_path, s).map_err(|e| vec![e.to_string()])?;
    }
    let pki = match c.net {
        Net::DhcpDnsTls | Net::DhcpDnsTls6 => Some(tls::Pki::make(&drive_dir.join("pki")).map_err(|e| vec![e])?),
        _ => None,
    };
    let (_servers, net) =
        network(c, served.is_some().then_some(payload_path.as_path()), pki.as_ref(), &logs).map_err(|e| vec![e])?;
    let args = flint_args(c, &root, image.as_deref(), pki.as_ref());
    std::fs::write(logs.join("flint-args.txt"), args.join(" ")).ok();
    let budget = Duration::from_secs_f64(c.budget);
    let fr = drivecase::run_flint(&net, flint, &args, None, &logs, budget).map_err(|e| vec![e])?;
    std::thread::sleep(Duration::from_millis(20));
    let log = net.read_log().map_err(|e| vec![e])?;
    let tokens = mock::read_tokens(&logs.join("mock-tokens.txt"));
    let run = Run { seen: Observed::new(fr, log, &root, dir, None), decoded, tokens, drive_files };

    let mut bad = drivecase::check_exit_and_time(run.exit, run.elapsed, c.exit, c.budget, None, "");
    bad.extend(checks::files(c, &run));
    bad.extend(checks::report(c, &run));
    bad.extend(check_stderr(&run.stderr, c.exit, c.error_phase));
    bad.extend(check_secrets(&logs, &run.tokens, &marker));
    bad.extend(checks::handoff(c, &run));
    bad.extend(checks::mock_log(c, &run));
    if c.consumers && run.exit == Some(c.exit) {
        bad.extend(checks::consumers(c, &run));
    }
    if let Some(extra) = c.extra {
        bad.extend(extra(c, &run));
    }
    verdict(bad, run.elapsed, &args, &run.stderr, &run.log)
}

fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the platform scenarios (network namespaces)")?;
    deps::ensure_platforms()?;
    let flint = runner_ready("the platform scenarios")?;
    let selected = sel.pick(all(), |c| c.name, "platform case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 28, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_fetches_gzips_and_has_none() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "names are unique");
        for p in expect::PLATFORMS {
            let of = |pl: Payload| all.iter().filter(|c| c.platform == p && c.payload == pl).count();
            assert!(of(Payload::Ignition) >= 1 && of(Payload::IgnitionGzip) >= 1 && of(Payload::None) >= 1, "{p:?}");
            assert!(all.iter().any(|c| c.platform == p && c.consumers), "{p:?} has a consumer case");
        }
        let (served, decoded) = payload(Payload::IgnitionGzip, "M", Platform::Exoscale);
        assert_eq!(gzip::gunzip(&served.unwrap()).unwrap(), decoded);
    }
}
