//! The kernel command line's `key[=value]` words, as the kernel itself splits them
//! (`next_arg` in lib/cmdline.c): words are separated by whitespace, a double quote protects
//! whitespace until the next one, and a quoted value (`k="a b"`) or a quoted word
//! (`"k=a b"`) loses its outer quotes. A lone `--` ends the kernel's part: what follows is
//! init's, so nothing after it is read.
//!
//! One splitter for every reader of `/proc/cmdline` (flint's own `flint.*` options and the
//! `ip=`/`nameserver=` network arguments), so they can never disagree about a word.

/// Every word before a lone `--`, as `(key, value)`: `value` is `None` for a word without `=`.
pub fn args(text: &[u8]) -> Args<'_> {
    Args { rest: text }
}

/// The iterator of [`args`].
pub struct Args<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Args<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.trim_ascii_start();
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let end = rest
            .iter()
            .position(|&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b.is_ascii_whitespace() && !quoted
            })
            .unwrap_or(rest.len());
        let word = strip_quotes(&rest[..end]);
        // A lone `--` ends the kernel's part for good.
        self.rest = if word == b"--" { &[] } else { &rest[end..] };
        if word == b"--" {
            return None;
        }
        Some(match word.iter().position(|&b| b == b'=') {
            Some(i) => (&word[..i], Some(strip_quotes(&word[i + 1..]))),
            None => (word, None),
        })
    }
}

fn strip_quotes(w: &[u8]) -> &[u8] {
    let w = w.strip_prefix(b"\"").unwrap_or(w);
    w.strip_suffix(b"\"").unwrap_or(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn words_quotes_and_the_end_of_the_kernels_part() {
        let words: Vec<_> = args(b" a=1\t\"b=x y\" c=\"p q\" d  e= \"\" -- f=2")
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        let want: [(&[u8], Option<&[u8]>); 6] = [
            (b"a", Some(b"1")),
            (b"b", Some(b"x y")),
            (b"c", Some(b"p q")),
            (b"d", None),
            (b"e", Some(b"")),
            (b"", None),
        ];
        assert_eq!(words.len(), want.len());
        for ((k, v), (wk, wv)) in words.iter().zip(want) {
            assert_eq!((&k[..], v.as_deref()), (wk, wv));
        }
        assert_eq!(args(b"").count(), 0);
        assert_eq!(args(b"--").count(), 0);
        assert_eq!(args(b"x -- y").count(), 1);
    }
}
