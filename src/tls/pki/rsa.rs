//! RSA signature verification (RFC 8017) with a fixed-capacity modular exponentiation.
//!
//! Only public-key operations happen here: the modulus, exponent, message and signature are all
//! public, so nothing needs to be constant time, and the code is written for size instead
//! (one Montgomery multiplication over u64 limbs, square-and-multiply over the exponent's bits).
//! Capacity is 4096-bit moduli; no allocator, about 2.5 KiB of stack.

use super::PkiError;
use super::cert::Hash;
use super::sig::digest;

/// 4096 bits in 64-bit limbs.
const LIMBS: usize = 64;
/// Largest modulus, in bytes.
pub const MAX_BYTES: usize = LIMBS * 8;
const MIN_BITS: usize = 2048;

type Limbs = [u64; LIMBS];

/// A modulus ready for Montgomery arithmetic (R = 2^(64·k)).
struct Modulus {
    n: Limbs,
    /// Limbs in use.
    k: usize,
    /// -n⁻¹ mod 2⁶⁴.
    n0: u64,
}

/// Big-endian magnitude to little-endian limbs; the caller has checked the length.
fn limbs(be: &[u8]) -> Limbs {
    let mut out = [0u64; LIMBS];
    for (i, &b) in be.iter().rev().enumerate() {
        out[i / 8] |= (b as u64) << (8 * (i % 8));
    }
    out
}

/// a ≥ b over the first k limbs.
fn geq(a: &[u64], b: &[u64]) -> bool {
    for i in (0..a.len()).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

/// a -= b over the first k limbs (a ≥ b, or the borrow is absorbed by a dropped top limb).
fn sub(a: &mut [u64], b: &[u64]) {
    let mut borrow = 0u64;
    for i in 0..a.len() {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow);
        a[i] = d;
        borrow = (b1 | b2) as u64;
    }
}

impl Modulus {
    /// Montgomery product a·b·R⁻¹ mod n (CIOS, Koç et al. 1996).
    #[inline(never)]
    fn mul(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let k = self.k;
        let mut t = [0u64; LIMBS + 2];
        for &ai in &a[..k] {
            let mut c = 0u128;
            for j in 0..k {
                let s = t[j] as u128 + ai as u128 * b[j] as u128 + c;
                t[j] = s as u64;
                c = s >> 64;
            }
            let s = t[k] as u128 + c;
            t[k] = s as u64;
            t[k + 1] = (s >> 64) as u64;
            let m = t[0].wrapping_mul(self.n0);
            let mut c = (t[0] as u128 + m as u128 * self.n[0] as u128) >> 64;
            for j in 1..k {
                let s = t[j] as u128 + m as u128 * self.n[j] as u128 + c;
                t[j - 1] = s as u64;
                c = s >> 64;
            }
            let s = t[k] as u128 + c;
            t[k - 1] = s as u64;
            t[k] = t[k + 1] + (s >> 64) as u64;
        }
        let mut out = [0u64; LIMBS];
        out[..k].copy_from_slice(&t[..k]);
        if t[k] != 0 || geq(&out[..k], &self.n[..k]) {
            sub(&mut out[..k], &self.n[..k]);
        }
        out
    }
}

/// RSAVP1 (RFC 8017 §5.2.2): s^e mod n, written big-endian into `out` (the modulus' length).
/// Checks the key: 2048–4096 bits (else `KeySize`), odd modulus, odd exponent 3 ≤ e < 2⁴⁰.
#[inline(never)]
fn public_op<'o>(n: &[u8], e: &[u8], sig: &[u8], out: &'o mut [u8; MAX_BYTES]) -> Result<&'o mut [u8], PkiError> {
    let bytes = n.len();
    let bits = bytes * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if !(MIN_BITS..=MAX_BYTES * 8).contains(&bits) {
        return Err(PkiError::KeySize);
    }
    if e.len() > 5 || e.is_empty() {
        return Err(PkiError::UnsupportedAlgorithm);
    }
    let e = e.iter().fold(0u64, |a, &b| (a << 8) | b as u64);
    if e < 3 || e & 1 == 0 || n[bytes - 1] & 1 == 0 {
        return Err(PkiError::UnsupportedAlgorithm);
    }
    // RFC 8017 §8.2.2 step 1: the signature is exactly k octets, and §5.2.2: s < n.
    if sig.len() != bytes {
        return Err(PkiError::BadSignature);
    }
    let k = bytes.div_ceil(8);
    let mut m = Modulus { n: limbs(n), k, n0: 0 };
    let s = limbs(sig);
    if geq(&s[..k], &m.n[..k]) {
        return Err(PkiError::BadSignature);
    }
    // Newton's iteration doubles the correct low bits of n⁻¹ each step: 5 steps reach 64.
    let mut inv = 1u64;
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(m.n[0].wrapping_mul(inv)));
    }
    m.n0 = inv.wrapping_neg();
    // R² mod n by doubling 1, 2·64·k times (public data: speed over a division routine).
    let mut r2 = [0u64; LIMBS];
    r2[0] = 1;
    for _ in 0..2 * 64 * k {
        let mut carry = 0;
        for l in &mut r2[..k] {
            let top = *l >> 63;
            *l = (*l << 1) | carry;
            carry = top;
        }
        if carry != 0 || geq(&r2[..k], &m.n[..k]) {
            sub(&mut r2[..k], &m.n[..k]);
        }
    }
    let base = m.mul(&s, &r2);
    let mut acc = base;
    for i in (0..63 - e.leading_zeros()).rev() {
        acc = m.mul(&acc, &acc);
        if e >> i & 1 == 1 {
            acc = m.mul(&acc, &base);
        }
    }
    let mut one = [0u64; LIMBS];
    one[0] = 1;
    let plain = m.mul(&acc, &one);
    let out = &mut out[..bytes];
    for (i, b) in out.iter_mut().rev().enumerate() {
        *b = (plain[i / 8] >> (8 * (i % 8))) as u8;
    }
    Ok(out)
}

/// DigestInfo prefixes (RFC 8017 §9.2 note 1).
fn digest_info(h: Hash) -> &'static [u8] {
    match h {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
            0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
            0x40,
        ],
    }
}

/// RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 §8.2.2): EM = 00 01 FF…FF 00 DigestInfo, compared whole.
pub fn verify_pkcs1(n: &[u8], e: &[u8], h: Hash, msg: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    let mut buf = [0u8; MAX_BYTES];
    let em = public_op(n, e, sig, &mut buf)?;
    let mut d = [0u8; 64];
    let hl = digest(h, &[msg], &mut d);
    let info = digest_info(h);
    let t_len = info.len() + hl;
    // §9.2 step 3: at least 8 octets of FF padding.
    if em.len() < t_len + 11 {
        return Err(PkiError::BadSignature);
    }
    let ps_end = em.len() - t_len - 1;
    let ok = em[0] == 0
        && em[1] == 1
        && em[2..ps_end].iter().all(|&b| b == 0xff)
        && em[ps_end] == 0
        && em[ps_end + 1..ps_end + 1 + info.len()] == *info
        && em[em.len() - hl..] == d[..hl];
    if ok { Ok(()) } else { Err(PkiError::BadSignature) }
}

/// RSASSA-PSS-VERIFY (RFC 8017 §8.1.2, EMSA-PSS-VERIFY §9.1.2) with MGF1 over the same hash.
pub fn verify_pss(n: &[u8], e: &[u8], h: Hash, salt_len: usize, msg: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    let mut buf = [0u8; MAX_BYTES];
    let em = public_op(n, e, sig, &mut buf)?;
    let mod_bits = em.len() * 8 - n[0].leading_zeros() as usize;
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    // RSAVP1's output is k octets; EM is its last emLen (§8.1.2 step 2c: the rest is zero).
    let (lead, em) = em.split_at_mut(em.len() - em_len);
    if lead.iter().any(|&b| b != 0) {
        return Err(PkiError::BadSignature);
    }
    let mut m_hash = [0u8; 64];
    let hl = digest(h, &[msg], &mut m_hash);
    // §9.1.2 steps 3–6
    if em_len < hl + salt_len + 2 || em[em_len - 1] != 0xbc {
        return Err(PkiError::BadSignature);
    }
    let top_mask = 0xffu8 >> (8 * em_len - em_bits);
    let (db, rest) = em.split_at_mut(em_len - hl - 1);
    let h_em = &rest[..hl];
    if db[0] & !top_mask != 0 {
        return Err(PkiError::BadSignature);
    }
    // steps 7–8: DB = maskedDB ⊕ MGF1(H), in place.
    let mut block = [0u8; 64];
    for (counter, chunk) in db.chunks_mut(hl).enumerate() {
        digest(h, &[h_em, &(counter as u32).to_be_bytes()], &mut block);
        for (d, m) in chunk.iter_mut().zip(block.iter()) {
            *d ^= m;
        }
    }
    db[0] &= top_mask;
    // step 10: PS zeros, then 0x01, then the salt.
    let ps = db.len() - salt_len - 1;
    if db[..ps].iter().any(|&b| b != 0) || db[ps] != 1 {
        return Err(PkiError::BadSignature);
    }
    // steps 12–14: H' = Hash(00×8 ‖ mHash ‖ salt)
    let mut h2 = [0u8; 64];
    digest(h, &[&[0u8; 8], &m_hash[..hl], &db[ps + 1..]], &mut h2);
    if h2[..hl] == *h_em { Ok(()) } else { Err(PkiError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Montgomery product against u128 arithmetic, on one-limb moduli (the 2048–4096-bit
    /// paths are checked by the certificate and CertificateVerify tests).
    #[test]
    fn montgomery_matches_schoolbook() {
        for n in [(1u64 << 61) - 1, 0x7fff_ffff_ffff_ffe7, 1_000_000_007, 0xffff_ffff_ffff_ffc5] {
            let mut m = Modulus { n: [0; LIMBS], k: 1, n0: 0 };
            m.n[0] = n;
            let mut inv = 1u64;
            for _ in 0..6 {
                inv = inv.wrapping_mul(2u64.wrapping_sub(n.wrapping_mul(inv)));
            }
            assert_eq!(n.wrapping_mul(inv), 1);
            m.n0 = inv.wrapping_neg();
            let r = ((1u128 << 64) % n as u128) as u64;
            for (a, b) in [(3u64, 5u64), (n - 1, n - 1), (n / 3, n / 7 + 11), (0, 9)] {
                let (am, bm) =
                    (((a as u128 * r as u128) % n as u128) as u64, ((b as u128 * r as u128) % n as u128) as u64);
                let mut x = [0u64; LIMBS];
                let mut y = [0u64; LIMBS];
                x[0] = am;
                y[0] = bm;
                let want = ((a as u128 * b as u128 % n as u128) * r as u128 % n as u128) as u64;
                assert_eq!(m.mul(&x, &y)[0], want, "{n} {a} {b}");
            }
        }
    }

    #[test]
    fn key_sizes_are_bounded() {
        let mut out = [0u8; MAX_BYTES];
        let small = [0xffu8; 128];
        assert_eq!(public_op(&small, &[1, 0, 1], &[0; 128], &mut out).err(), Some(PkiError::KeySize));
        let big = [0xffu8; 513];
        assert_eq!(public_op(&big, &[1, 0, 1], &[0; 513], &mut out).err(), Some(PkiError::KeySize));
        let mut n = [0xffu8; 256];
        // e even, e = 1
        assert_eq!(public_op(&n, &[2], &[0; 256], &mut out).err(), Some(PkiError::UnsupportedAlgorithm));
        assert_eq!(public_op(&n, &[1], &[0; 256], &mut out).err(), Some(PkiError::UnsupportedAlgorithm));
        // a signature of the wrong length, or not below n
        assert_eq!(public_op(&n, &[3], &[0; 255], &mut out).err(), Some(PkiError::BadSignature));
        assert_eq!(public_op(&n, &[3], &[0xff; 256], &mut out).err(), Some(PkiError::BadSignature));
        // s = 2, e = 3: 8
        let mut s = [0u8; 256];
        s[255] = 2;
        assert_eq!(public_op(&n, &[3], &s, &mut out).unwrap()[248..], [0, 0, 0, 0, 0, 0, 0, 8]);
        // an even modulus
        n[255] = 0xfe;
        assert_eq!(public_op(&n, &[3], &s, &mut out).err(), Some(PkiError::UnsupportedAlgorithm));
    }
}
