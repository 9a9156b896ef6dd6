//! How digests are written: `sha256-<base64>`, the Subresource Integrity form (W3C SRI, also
//! used by npm lockfiles). Not hex, on purpose: a hex digest holds runs of 13 or more decimal
//! digits about once in 400 digests, some of them Luhn-valid, and card-number scanners (PCI
//! DLP tools, `pan-scan`) then flag a case folder that holds no card number at all. Base64
//! almost never holds such a run. `openssl dgst -sha256 -binary FILE | base64` gives the same
//! value.

use base64::Engine;
use sha2::{Digest, Sha256};

/// `sha256-<base64>` of a finished SHA-256 digest.
pub fn sri(digest: &[u8]) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// `sha256-<base64>` of some bytes.
pub fn sri_of(bytes: &[u8]) -> String {
    sri(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_value() {
        // printf abc | openssl dgst -sha256 -binary | base64
        assert_eq!(
            super::sri_of(b"abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
