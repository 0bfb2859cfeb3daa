//! Options written out the ways a boot loader or a unit file would write them, parsed back by
//! src/args.rs. Kernel command line: `key=value`, `key="value with spaces"`, `"key=value"`,
//! switches (`flint.verbose`, `flint.ignition[-overwrite]`, `=0|no|false` for off), unrelated
//! words in between, whitespace runs of spaces, tabs and newlines, the later
//! occurrence wins, an empty value sets nothing, and everything after a lone `--` is init's.
//! argv: `--opt value` and `--opt=value` (any non-empty bytes), flags, and a malformed tail
//! reported as the right usage error.
#![no_main]

use arbitrary::Arbitrary;
use flint::args::{self, Raw, UsageError};
use flint_fuzz::raw_options;
use libfuzzer_sys::fuzz_target;

const FLAGS: [&str; 8] =
    ["-v", "--verbose", "-h", "--help", "--version", "--ignition", "--ignition-overwrite", "--ignition"];
const SWITCHES: [&str; 3] = ["flint.verbose", "flint.ignition", "flint.ignition-overwrite"];

/// The kernel arguments with a value, and their values in `r`.
fn kernel(r: &Raw<'_>) -> Vec<(&'static str, Option<Vec<u8>>)> {
    raw_options(r).into_iter().filter_map(|(k, _, v)| Some((k?, v.map(<[u8]>::to_vec)))).collect()
}

/// The command-line options with a value, and their values in `r`.
fn options(r: &Raw<'_>) -> Vec<(&'static str, Option<Vec<u8>>)> {
    raw_options(r).into_iter().filter_map(|(_, o, v)| Some((o?, v.map(<[u8]>::to_vec)))).collect()
}

#[derive(Arbitrary, Debug)]
enum Word {
    Opt {
        key: u8,
        value: Vec<u8>,
        style: u8,
    },
    /// flint.verbose, flint.ignition, flint.ignition-overwrite with an optional value.
    Switch(u8, Option<u8>),
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Arg {
    Opt { opt: u8, value: Vec<u8>, inline: bool },
    Flag(u8),
}

#[derive(Arbitrary, Debug)]
enum Tail {
    None,
    Unknown(Vec<u8>),
    Missing(u8),
    FlagWithValue(u8),
}

#[derive(Arbitrary, Debug)]
struct Case {
    words: Vec<Word>,
    gaps: Vec<u8>,
    init_args: Option<Vec<Word>>,
    args: Vec<Arg>,
    tail: Tail,
}

type Values = Vec<(&'static str, Option<Vec<u8>>)>;

fn render(words: &[Word], gaps: &[u8], out: &mut Vec<u8>, expect: &mut Values, switches: &mut [bool; 3], live: bool) {
    for (i, w) in words.iter().enumerate() {
        let gap = gaps.get(i).copied().unwrap_or(0);
        for k in 0..=gap % 3 {
            out.push(b" \t\n"[(gap / 3 + k) as usize % 3]);
        }
        match w {
            Word::Opt { key, value, style } => {
                let k = *key as usize % expect.len();
                let name = expect[k].0;
                let quoted = style % 3 != 0;
                // Unquoted values end at whitespace; no value holds a double quote.
                let v: Vec<u8> =
                    value.iter().copied().filter(|&b| b != b'"' && (quoted || !b.is_ascii_whitespace())).collect();
                match style % 3 {
                    0 => out.extend(format!("{name}=").bytes().chain(v.iter().copied())),
                    1 => out.extend(format!("{name}=\"").bytes().chain(v.iter().copied()).chain(*b"\"")),
                    _ => out.extend(format!("\"{name}=").bytes().chain(v.iter().copied()).chain(*b"\"")),
                }
                if live && !v.is_empty() {
                    expect[k].1 = Some(v);
                }
            }
            Word::Switch(which, v) => {
                let which = *which as usize % SWITCHES.len();
                let (value, on): (&str, bool) = match v.map(|b| b % 5) {
                    None => ("", true),
                    Some(0) => ("=0", false),
                    Some(1) => ("=no", false),
                    Some(2) => ("=false", false),
                    Some(3) => ("=1", true),
                    Some(_) => ("=yes", true),
                };
                out.extend_from_slice(SWITCHES[which].as_bytes());
                out.extend_from_slice(value.as_bytes());
                if live {
                    switches[which] = on;
                }
            }
            Word::Other(o) => {
                // Some other parameter (root=, quiet, console=...): never one of flint's.
                out.extend_from_slice(b"x");
                out.extend(o.iter().copied().filter(|b| !b.is_ascii_whitespace() && *b != b'"'));
            }
        }
    }
}

fuzz_target!(|c: Case| {
    let mut text = Vec::new();
    let mut expect = kernel(&Raw::default());
    let mut switches = [false; 3];
    render(&c.words, &c.gaps, &mut text, &mut expect, &mut switches, true);
    if let Some(init) = &c.init_args {
        text.extend_from_slice(b" -- ");
        render(init, &c.gaps, &mut text, &mut expect, &mut switches, false);
    }
    let k = args::parse_cmdline(&text);
    assert_eq!(kernel(&k), expect, "in {:?}", String::from_utf8_lossy(&text));
    assert_eq!([k.verbose, k.ignition, k.ignition_overwrite], switches, "switches");

    let mut argv: Vec<Vec<u8>> = Vec::new();
    let mut want = options(&Raw::default());
    let mut flags = [false; 5];
    for a in &c.args {
        match a {
            Arg::Opt { opt, value, inline } => {
                let i = *opt as usize % want.len();
                let name = want[i].0;
                let v = if value.is_empty() { b"v".to_vec() } else { value.clone() };
                if *inline {
                    argv.push([name.as_bytes(), b"=", &v].concat());
                } else {
                    argv.push(name.as_bytes().to_vec());
                    argv.push(v.clone());
                }
                want[i].1 = Some(v);
            }
            Arg::Flag(f) => {
                let name = FLAGS[*f as usize % FLAGS.len()];
                argv.push(name.as_bytes().to_vec());
                let slot = match name {
                    "-v" | "--verbose" => 0,
                    "-h" | "--help" => 1,
                    "--version" => 2,
                    "--ignition" => 3,
                    _ => 4,
                };
                flags[slot] = true;
            }
        }
    }
    let err = match &c.tail {
        Tail::None => None,
        Tail::Unknown(o) => {
            let mut a = b"--x".to_vec();
            a.extend_from_slice(o);
            argv.push(a);
            Some(UsageError::UnknownOption)
        }
        Tail::Missing(o) => {
            let name = want[*o as usize % want.len()].0;
            argv.push(name.as_bytes().to_vec());
            Some(UsageError::MissingValue(name))
        }
        Tail::FlagWithValue(f) => {
            argv.push([FLAGS[*f as usize % FLAGS.len()].as_bytes(), b"=1"].concat());
            Some(UsageError::UnknownOption)
        }
    };
    let got = args::parse_argv(argv.iter().map(|a| a.as_slice()));
    match err {
        Some(e) => assert_eq!(got, Err(e)),
        None => {
            let r = got.expect("well-formed argv refused");
            assert_eq!(options(&r), want);
            assert_eq!([r.verbose, r.help, r.version, r.ignition, r.ignition_overwrite], flags);
        }
    }
});
