//! gzip streams written by flate2 (zlib-rs) from fuzz-chosen data, levels and header fields
//! (FTEXT, FEXTRA, FNAME, FCOMMENT, FHCRC added by hand, RFC 1952 §2.3.1), one to three
//! members, decoded by flint with a cap near the size: the exact data within the cap, TooLarge
//! past it, never more than the cap into the sink; with one byte flipped, whatever flint
//! accepts is still the original data (CRC-32 and ISIZE, §2.3.1, catch the rest).
#![no_main]

use std::io::Write;

use arbitrary::Arbitrary;
use flate2::{Compression, GzBuilder};
use flint::decode::{CRC32, DecodeError, WINDOW, decode, is_gzip};
use flint_fuzz::CappedSink;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Member {
    data: Vec<u8>,
    /// The data repeated this many times: outputs past the 32 KiB window without huge inputs.
    repeat: u16,
    level: u8,
    name: Option<Vec<u8>>,
    comment: Option<Vec<u8>>,
    extra: Option<Vec<u8>>,
    mtime: u32,
    hcrc: bool,
    text: bool,
}

#[derive(Arbitrary, Debug)]
struct Case {
    members: Vec<Member>,
    /// Cap relative to the decoded size.
    slack: i32,
    flip: Option<(u32, u8)>,
}

const TOTAL_MAX: usize = 160 * 1024;

fn no_nul(v: &[u8]) -> Vec<u8> {
    v.iter().filter(|&&b| b != 0).take(300).copied().collect()
}

fn member(m: &Member, plain: &[u8]) -> Vec<u8> {
    let mut b = GzBuilder::new().mtime(m.mtime);
    let mut header_len = 10;
    if let Some(n) = &m.name {
        let n = no_nul(n);
        header_len += n.len() + 1;
        b = b.filename(n);
    }
    if let Some(c) = &m.comment {
        let c = no_nul(c);
        header_len += c.len() + 1;
        b = b.comment(c);
    }
    if let Some(x) = &m.extra {
        let x: Vec<u8> = x.iter().take(1000).copied().collect();
        header_len += 2 + x.len();
        b = b.extra(x);
    }
    let mut e = b.write(Vec::new(), Compression::new((m.level % 10) as u32));
    e.write_all(plain).unwrap();
    let mut z = e.finish().unwrap();
    if m.text {
        z[3] |= 0x01;
    }
    if m.hcrc {
        // FHCRC: the low 16 bits of the CRC-32 of the header before it (§2.3.1).
        z[3] |= 0x02;
        let crc16 = (CRC32.checksum(&z[..header_len]) as u16).to_le_bytes();
        z.splice(header_len..header_len, crc16);
    }
    z
}

fuzz_target!(|c: Case| {
    if c.members.is_empty() {
        return;
    }
    let mut plain = Vec::new();
    let mut stream = Vec::new();
    for m in c.members.iter().take(3) {
        let mut p = Vec::new();
        for _ in 0..=m.repeat % 512 {
            if p.len() + m.data.len() > TOTAL_MAX / 3 {
                break;
            }
            p.extend_from_slice(&m.data);
        }
        stream.extend(member(m, &p));
        plain.extend(p);
    }
    let max = (plain.len() as i64 + (c.slack % 4096) as i64).max(0) as u64;
    let mut window = Box::new([0u8; WINDOW]);

    let mut sink = CappedSink { data: Vec::new(), max };
    let got = decode(&stream, &mut window, max, &mut sink);
    if plain.len() as u64 <= max {
        assert_eq!(got.map(|d| (d.written, d.gzip)), Ok((plain.len() as u64, true)));
        assert_eq!(sink.data, plain);
    } else {
        assert_eq!(got, Err(DecodeError::TooLarge));
    }

    if let Some((pos, xor)) = c.flip {
        if xor == 0 {
            return;
        }
        let mut bad = stream.clone();
        let i = pos as usize % bad.len();
        bad[i] ^= xor;
        let mut sink = CappedSink { data: Vec::new(), max };
        if let Ok(d) = decode(&bad, &mut window, max, &mut sink) {
            if is_gzip(&bad) {
                assert_eq!(sink.data, plain, "a flipped byte at {i} went unnoticed and changed the output");
                assert!(d.gzip);
            } else {
                assert_eq!(sink.data, bad, "not gzip any more: passed through as is");
            }
        }
    }
});
