//! The server identity check (RFC 6125 §6, as the CA/Browser Forum profile narrows it):
//! subjectAltName only, never the subject's common name.

use super::ServerName;
use super::cert::Cert;
use super::der::tag;

/// GeneralName tags (RFC 5280 §4.2.1.6): dNSName [2] IA5String, iPAddress [7] OCTET STRING.
const DNS_NAME: u8 = tag::implicit(2);
const IP_ADDRESS: u8 = tag::implicit(7);

/// Whether the certificate's subjectAltName names `name`.
pub fn matches(cert: &Cert<'_>, name: ServerName<'_>) -> bool {
    cert.san_entries().any(|(t, v)| match name {
        ServerName::Dns(host) => t == DNS_NAME && dns_matches(v, host),
        // RFC 6125 §1.7.2 / RFC 5280 §4.2.1.6: an IP literal is matched only against
        // iPAddress entries of its own length (4 or 16 octets).
        ServerName::V4(a) => t == IP_ADDRESS && v == a,
        ServerName::V6(a) => t == IP_ADDRESS && v == a,
    })
}

/// One dNSName pattern against the host: ASCII case-insensitive (RFC 6125 §6.4.1); a wildcard
/// only as the whole leftmost label, standing for exactly one non-empty label (§6.4.3, and the
/// CA/B Baseline Requirements' form), with at least two labels after it so `*.com` or `*.test`
/// match nothing.
fn dns_matches(pattern: &[u8], host: &[u8]) -> bool {
    if host.is_empty() || pattern.is_empty() || !valid_host(host) {
        return false;
    }
    if let Some(rest) = pattern.strip_prefix(b"*.") {
        // the rest must be a plain name of two labels or more
        if !rest.contains(&b'.') || !valid_host(rest) {
            return false;
        }
        let Some(dot) = host.iter().position(|&b| b == b'.') else { return false };
        return host[dot + 1..].eq_ignore_ascii_case(rest);
    }
    valid_host(pattern) && pattern.eq_ignore_ascii_case(host)
}

/// Letters, digits, hyphens and underscores in non-empty dot-separated labels; no wildcard,
/// no trailing dot.
fn valid_host(h: &[u8]) -> bool {
    h.split(|&b| b == b'.')
        .all(|l| !l.is_empty() && l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_rules() {
        assert!(dns_matches(b"example.com", b"EXAMPLE.com"));
        assert!(dns_matches(b"*.example.com", b"www.example.com"));
        assert!(dns_matches(b"*.EXAMPLE.com", b"www.example.COM"));
        // one label, never zero or two
        assert!(!dns_matches(b"*.example.com", b"example.com"));
        assert!(!dns_matches(b"*.example.com", b"a.b.example.com"));
        assert!(!dns_matches(b"*.example.com", b".example.com"));
        // partial-label and inner wildcards, and too-broad ones
        assert!(!dns_matches(b"w*.example.com", b"www.example.com"));
        assert!(!dns_matches(b"www.*.com", b"www.example.com"));
        assert!(!dns_matches(b"*.com", b"example.com"));
        assert!(!dns_matches(b"*", b"example"));
        // a wildcard in the host is not a name
        assert!(!dns_matches(b"*.example.com", b"*.example.com"));
        assert!(!dns_matches(b"example.com.", b"example.com"));
        assert!(!dns_matches(b"example.com", b"example.com."));
        assert!(!dns_matches(b"", b""));
    }
}
