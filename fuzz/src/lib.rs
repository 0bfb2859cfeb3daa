//! Helpers shared by the fuzz targets: sinks for the decoder, feeding the incremental HTTP
//! parser at chosen split points, and a bounded reader of fuzz-chosen numbers.

use flint::http::{Head, HttpError, ResponseParser};

/// A decoder sink that keeps what it receives and fails the run if more than `max` bytes ever
/// reach it: the size cap must stop a gzip bomb before the sink sees the excess.
pub struct CappedSink {
    pub data: Vec<u8>,
    pub max: u64,
}

impl embedded_io::ErrorType for CappedSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for CappedSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.data.extend_from_slice(buf);
        assert!(self.data.len() as u64 <= self.max, "{} bytes reached the sink past a cap of {}", self.data.len(), self.max);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Everything observable about one parse: the outcome, the head, the body and how many input
/// bytes the parser consumed before it was done.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub result: Result<(), HttpError>,
    pub head: Option<Head>,
    pub body: Vec<u8>,
    pub used: usize,
    pub done: bool,
}

/// Feeds `input` to a fresh parser with a `cap`-byte body buffer, cut into pieces at `cuts`
/// (positions, any order, out-of-range ones ignored), then reports end of stream. Checks the
/// feeding contract on the way: a feed uses all of its piece unless the message ended inside it.
pub fn parse_pieces(input: &[u8], cap: usize, cuts: &[usize]) -> Parsed {
    let mut body = vec![0u8; cap];
    let mut p = ResponseParser::new(&mut body);
    let out = drive(&mut p, input, cuts);
    // Parsing again after reset must see the same thing: reset forgets every bit of state.
    p.reset();
    let again = drive(&mut p, input, cuts);
    assert_eq!(again, out, "a reset parser disagrees with a fresh one");
    out
}

fn drive(p: &mut ResponseParser<'_>, input: &[u8], cuts: &[usize]) -> Parsed {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c <= input.len()).collect();
    cuts.push(0);
    cuts.push(input.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut used = 0;
    let mut result = Ok(());
    for w in cuts.windows(2) {
        if p.is_done() {
            break;
        }
        let piece = &input[w[0]..w[1]];
        match p.feed(piece) {
            Ok(n) => {
                assert!(n <= piece.len(), "feed used {n} of {} bytes", piece.len());
                assert!(n == piece.len() || p.is_done(), "feed stopped early ({n} of {}) before the message ended", piece.len());
                used += n;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() && !p.is_done() {
        result = p.finish();
    }
    Parsed { result, head: p.head(), body: p.body().to_vec(), used, done: p.is_done() }
}

/// True when `needle` is a subsequence of `hay` (in order, gaps allowed).
pub fn is_subsequence(needle: &[u8], hay: &[u8]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|b| it.any(|h| h == b))
}
