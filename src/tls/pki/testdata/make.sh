#!/bin/sh
# Regenerates the X.509 fixtures of src/tls/pki (run it from anywhere: `sh make.sh`).
#
# Every certificate is made by `openssl ca` (fixed dates, extensions given exactly), written
# as DER; the private keys live only in a temporary directory. The signatures for
# PublicKey::verify_tls13 are made by `openssl dgst -sign` over a TLS 1.3 CertificateVerify
# content (RFC 8446 §4.4.3). The tests check against "now" = 2026-06-01, inside every
# "good" certificate's validity (2025-01-01 .. 2035-01-01).
set -eu
cd "$(dirname "$0")"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
rm -f ./*.der ./*.sig ./*.bin ./*.pem

GOOD_FROM=20250101000000Z
GOOD_TO=20350101000000Z

cat > "$W/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $W/index.txt
new_certs_dir = $W
serial = $W/serial
policy = p
unique_subject = no
copy_extensions = none
[p]
commonName = supplied
organizationName = optional
EOF
: > "$W/index.txt"

# key NAME rsaBITS|p256|p384
key() {
	case $2 in
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" -out "$W/$1.key" 2>/dev/null ;;
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/$1.key" ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$W/$1.key" ;;
	esac
}

CA_EXT="basicConstraints=critical,CA:TRUE|keyUsage=critical,keyCertSign,cRLSign|subjectKeyIdentifier=hash"
# a server certificate's extensions, plus its subjectAltName
leaf_ext() {
	echo "basicConstraints=critical,CA:FALSE|keyUsage=critical,digitalSignature|extendedKeyUsage=serverAuth|subjectKeyIdentifier=hash|authorityKeyIdentifier=keyid|subjectAltName=$1"
}

# cert NAME ISSUER|self DIGEST FROM TO EXTENSIONS [openssl ca options, e.g. -sigopt ...]
# EXTENSIONS are x509v3_config lines separated by '|'.
cert() {
	name=$1 issuer=$2 md=$3 from=$4 to=$5 ext=$6
	shift 6
	openssl req -new -key "$W/$name.key" -subj "/O=flint test/CN=$name" -out "$W/$name.csr"
	printf '[x]\n%s\n' "$ext" | tr '|' '\n' > "$W/$name.ext"
	openssl rand -hex 16 | sed 's/^./4/' > "$W/serial"
	if [ "$issuer" = self ]; then
		signer="-selfsign -keyfile $W/$name.key"
	else
		signer="-cert $W/$issuer.pem -keyfile $W/$issuer.key"
	fi
	# shellcheck disable=SC2086
	openssl ca -batch -notext -preserveDN -config "$W/ca.cnf" -in "$W/$name.csr" -out "$W/$name.pem" \
		-md "$md" -startdate "$from" -enddate "$to" -extfile "$W/$name.ext" -extensions x \
		$signer "$@" >"$W/ca.log" 2>&1 || { cat "$W/ca.log"; exit 1; }
	openssl x509 -in "$W/$name.pem" -outform DER -out "$name.der"
}

PSS="-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest"

# --- RSA: a 4096-bit root, intermediates of 2048 and 3072 bits, leaves of every size ---
key root-rsa rsa4096
cert root-rsa self sha512 $GOOD_FROM $GOOD_TO "$CA_EXT"
key int-rsa2048 rsa2048
cert int-rsa2048 root-rsa sha512 $GOOD_FROM $GOOD_TO "$CA_EXT|authorityKeyIdentifier=keyid"
key int-rsa3072 rsa3072
cert int-rsa3072 root-rsa sha384 $GOOD_FROM $GOOD_TO "$CA_EXT|authorityKeyIdentifier=keyid"
key leaf-rsa2048 rsa2048
cert leaf-rsa2048 int-rsa2048 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:rsa2048.flint.test)"
key leaf-rsa3072 rsa3072
cert leaf-rsa3072 int-rsa3072 sha384 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:rsa3072.flint.test)"
key leaf-rsa4096 rsa4096
cert leaf-rsa4096 int-rsa3072 sha512 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:rsa4096.flint.test)"
# RSASSA-PSS signatures on certificates: salt = hash length, and a salt of 20 with SHA-256
key int-pss rsa2048
# shellcheck disable=SC2086
cert int-pss root-rsa sha256 $GOOD_FROM $GOOD_TO "$CA_EXT|authorityKeyIdentifier=keyid" $PSS
key leaf-pss rsa2048
cert leaf-pss int-pss sha384 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:pss.flint.test)" \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20
# a 1024-bit key (KeySize), from a good intermediate
key leaf-rsa1024 rsa1024
cert leaf-rsa1024 int-rsa2048 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:rsa1024.flint.test)"

# --- ECDSA: P-256 and P-384 chains, and a P-256 leaf under a P-384 intermediate (SHA-384) ---
key root-p256 p256
cert root-p256 self sha256 $GOOD_FROM $GOOD_TO "$CA_EXT"
key int-p256 p256
cert int-p256 root-p256 sha256 $GOOD_FROM $GOOD_TO "$CA_EXT|authorityKeyIdentifier=keyid"
key leaf-p256 p256
cert leaf-p256 int-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test,DNS:www.p256.flint.test)"
key root-p384 p384
# notAfter past 2049: GeneralizedTime (RFC 5280 §4.1.2.5)
cert root-p384 self sha384 $GOOD_FROM 20510101000000Z "$CA_EXT"
key int-p384 p384
cert int-p384 root-p384 sha384 $GOOD_FROM $GOOD_TO "$CA_EXT|authorityKeyIdentifier=keyid"
key leaf-p384 p384
cert leaf-p384 int-p384 sha384 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p384.flint.test)"
key leaf-p256-by-p384 p256
cert leaf-p256-by-p384 int-p384 sha384 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:mixed.flint.test)"
key leaf-p384-by-p256 p384
cert leaf-p384-by-p256 int-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:mixed.flint.test)"

# --- failures, each from the P-256 chain unless the case needs otherwise ---
key bad p256
cp "$W/bad.key" "$W/expired.key"
cert expired int-p256 sha256 20200101000000Z 20210101000000Z "$(leaf_ext DNS:p256.flint.test)"
cp "$W/bad.key" "$W/future.key"
cert future int-p256 sha256 20300101000000Z 20400101000000Z "$(leaf_ext DNS:p256.flint.test)"
# an expired intermediate over a leaf that is still valid
key int-old p256
cert int-old root-p256 sha256 20200101000000Z 20210101000000Z "$CA_EXT"
cp "$W/bad.key" "$W/leaf-under-old.key"
cert leaf-under-old int-old sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
cp "$W/bad.key" "$W/leaf-ip.key"
cert leaf-ip int-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:ip.flint.test,IP:192.0.2.7,IP:2001:db8::7)"
cp "$W/bad.key" "$W/leaf-wild.key"
cert leaf-wild int-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext 'DNS:*.wild.flint.test,DNS:f*.part.flint.test,DNS:*.test,DNS:a.*.mid.flint.test')"
key self-signed p256
cert self-signed self sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:self.flint.test)"
# an intermediate with CA:FALSE, and one with no basicConstraints at all
key int-noca p256
cert int-noca root-p256 sha256 $GOOD_FROM $GOOD_TO "basicConstraints=critical,CA:FALSE|keyUsage=critical,keyCertSign"
cp "$W/bad.key" "$W/leaf-under-noca.key"
cert leaf-under-noca int-noca sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
key int-nobc p256
cert int-nobc root-p256 sha256 $GOOD_FROM $GOOD_TO "keyUsage=critical,keyCertSign"
cp "$W/bad.key" "$W/leaf-under-nobc.key"
cert leaf-under-nobc int-nobc sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
# a leaf (CA:FALSE) that signed another leaf
cp "$W/bad.key" "$W/leaf-by-leaf.key"
cert leaf-by-leaf leaf-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
# pathLenConstraint 0 on an intermediate that issued another CA
key int-pl0 p256
cert int-pl0 root-p256 sha256 $GOOD_FROM $GOOD_TO "$CA_EXT|basicConstraints=critical,CA:TRUE,pathlen:0"
key int-sub p256
cert int-sub int-pl0 sha256 $GOOD_FROM $GOOD_TO "$CA_EXT"
cp "$W/bad.key" "$W/leaf-under-sub.key"
cert leaf-under-sub int-sub sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
cp "$W/bad.key" "$W/leaf-under-pl0.key"
cert leaf-under-pl0 int-pl0 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
# extendedKeyUsage: a clientAuth leaf, an anyExtendedKeyUsage leaf, a clientAuth intermediate
cp "$W/bad.key" "$W/leaf-client.key"
cert leaf-client int-p256 sha256 $GOOD_FROM $GOOD_TO "basicConstraints=critical,CA:FALSE|keyUsage=critical,digitalSignature|extendedKeyUsage=clientAuth|subjectAltName=DNS:p256.flint.test"
cp "$W/bad.key" "$W/leaf-anyeku.key"
cert leaf-anyeku int-p256 sha256 $GOOD_FROM $GOOD_TO "basicConstraints=critical,CA:FALSE|keyUsage=critical,digitalSignature|extendedKeyUsage=anyExtendedKeyUsage|subjectAltName=DNS:p256.flint.test"
key int-client p256
cert int-client root-p256 sha256 $GOOD_FROM $GOOD_TO "$CA_EXT|extendedKeyUsage=clientAuth"
cp "$W/bad.key" "$W/leaf-under-client.key"
cert leaf-under-client int-client sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
# keyUsage: an issuer without keyCertSign, a leaf without digitalSignature
key int-noku p256
cert int-noku root-p256 sha256 $GOOD_FROM $GOOD_TO "basicConstraints=critical,CA:TRUE|keyUsage=critical,digitalSignature,cRLSign"
cp "$W/bad.key" "$W/leaf-under-noku.key"
cert leaf-under-noku int-noku sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
cp "$W/bad.key" "$W/leaf-keyenc.key"
cert leaf-keyenc int-p256 sha256 $GOOD_FROM $GOOD_TO "basicConstraints=critical,CA:FALSE|keyUsage=critical,keyAgreement|extendedKeyUsage=serverAuth|subjectAltName=DNS:p256.flint.test"
# an unknown critical extension, and the same one non-critical (ignored)
cp "$W/bad.key" "$W/leaf-critical.key"
cert leaf-critical int-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)|1.3.6.1.4.1.55555.1=critical,DER:05:00"
cp "$W/bad.key" "$W/leaf-noncritical.key"
cert leaf-noncritical int-p256 sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)|1.3.6.1.4.1.55555.1=DER:05:00"
# nameConstraints (not implemented: refused, critical or not)
key int-nc p256
cert int-nc root-p256 sha256 $GOOD_FROM $GOOD_TO "$CA_EXT|nameConstraints=critical,permitted;DNS:flint.test"
cp "$W/bad.key" "$W/leaf-under-nc.key"
cert leaf-under-nc int-nc sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
key int-nc-soft p256
cert int-nc-soft root-p256 sha256 $GOOD_FROM $GOOD_TO "$CA_EXT|nameConstraints=permitted;DNS:flint.test"
cp "$W/bad.key" "$W/leaf-under-nc-soft.key"
cert leaf-under-nc-soft int-nc-soft sha256 $GOOD_FROM $GOOD_TO "$(leaf_ext DNS:p256.flint.test)"
# a server certificate with CA:TRUE (refused unless it is itself a trust anchor)
key leaf-ca p256
cert leaf-ca int-p256 sha256 $GOOD_FROM $GOOD_TO "basicConstraints=critical,CA:TRUE|keyUsage=critical,digitalSignature,keyCertSign|subjectAltName=DNS:p256.flint.test"
# no subjectAltName: the common name is never used (RFC 6125 §6.4.4 fallback not taken)
cp "$W/bad.key" "$W/leaf-nosan.key"
openssl req -new -key "$W/leaf-nosan.key" -subj "/CN=p256.flint.test" -out "$W/leaf-nosan.csr"
printf '[x]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$W/leaf-nosan.ext"
openssl rand -hex 16 | sed 's/^./4/' > "$W/serial"
openssl ca -batch -notext -preserveDN -config "$W/ca.cnf" -in "$W/leaf-nosan.csr" -out "$W/leaf-nosan.pem" \
	-md sha256 -startdate $GOOD_FROM -enddate $GOOD_TO -extfile "$W/leaf-nosan.ext" -extensions x \
	-cert "$W/int-p256.pem" -keyfile "$W/int-p256.key" >"$W/ca.log" 2>&1 || { cat "$W/ca.log"; exit 1; }
openssl x509 -in "$W/leaf-nosan.pem" -outform DER -out leaf-nosan.der

# --- a CA bundle in PEM: the roots, text between them, a key block and a broken block ---
{
	echo "# flint test bundle"
	cat "$W/root-rsa.pem"
	echo "some text that is not PEM"
	openssl pkey -in "$W/bad.key"
	echo "-----BEGIN CERTIFICATE-----"
	echo "MIIB!!!!not base64!!!!"
	echo "-----END CERTIFICATE-----"
	openssl x509 -in "$W/root-p256.pem"
	openssl x509 -in "$W/root-p384.pem" | tr -d '\n' | sed 's/-----BEGIN CERTIFICATE-----/&\r\n/; s/-----END/\r\n&/'
	echo
} > bundle.pem

# --- TLS 1.3 CertificateVerify signatures (RFC 8446 §4.2.3 schemes) ---
{
	printf '%64s' ''
	printf 'TLS 1.3, server CertificateVerify\000'
	openssl rand 48
} > cv-message.bin
# shellcheck disable=SC2086
openssl dgst -sha256 -sign "$W/leaf-rsa2048.key" $PSS -out cv-0804-rsa2048.sig cv-message.bin
# shellcheck disable=SC2086
openssl dgst -sha384 -sign "$W/leaf-rsa3072.key" $PSS -out cv-0805-rsa3072.sig cv-message.bin
# shellcheck disable=SC2086
openssl dgst -sha512 -sign "$W/leaf-rsa4096.key" $PSS -out cv-0806-rsa4096.sig cv-message.bin
openssl dgst -sha256 -sign "$W/leaf-p256.key" -out cv-0403-p256.sig cv-message.bin
openssl dgst -sha384 -sign "$W/leaf-p384.key" -out cv-0503-p384.sig cv-message.bin
# PKCS#1 v1.5 is not a TLS 1.3 CertificateVerify scheme (RFC 8446 §4.4.3): must be refused
openssl dgst -sha256 -sign "$W/leaf-rsa2048.key" -out cv-0401-rsa2048.sig cv-message.bin
# a valid ECDSA signature with SHA-256 by the P-384 key: not ecdsa_secp256r1_sha256 (the curve differs)
openssl dgst -sha256 -sign "$W/leaf-p384.key" -out cv-p384-sha256.sig cv-message.bin
