//! TLS and object-store fixtures shared by the https suite and the QEMU suite's CAPL boot:
//! the certificate factory (`pki`, `openssl ca`), the TLS servers (`servers`: `openssl
//! s_server`, Debian's nginx, the truncating relay, the stalling server) and the S3 object
//! store (`s3`: moto from PyPI behind a SigV4 check, boto3 presigning as CAPL does).

pub mod pki;
pub mod s3;
pub mod servers;
