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

/// The one file hasher: fed the bytes of a file as they are read (the orders reader hashes
/// on its hashing thread while it decides the encoding; the manifest hashes whole files), and
/// finished into `sha256-<base64>` with the byte count.
#[derive(Default)]
pub struct FileDigest {
    hasher: Sha256,
    size: u64,
}

impl FileDigest {
    pub fn new() -> FileDigest {
        FileDigest::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.hasher.update(bytes);
    }

    /// `(size, sha256-<base64>)`.
    pub fn finish(self) -> (u64, String) {
        (self.size, sri(&self.hasher.finalize()))
    }
}

/// Size and digest of a file, read in 64 KiB blocks (logs can be gigabytes).
pub fn hash_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    hash_reader(std::fs::File::open(path)?)
}

/// Size and digest of what `f` reads (an opened file: the case folder opens its own without
/// following links).
pub fn hash_reader(mut f: impl std::io::Read) -> std::io::Result<(u64, String)> {
    let mut d = FileDigest::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(d.finish());
        }
        d.update(&buf[..n]);
    }
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
        let mut d = super::FileDigest::new();
        d.update(b"a");
        d.update(b"bc");
        assert_eq!(d.finish(), (3, super::sri_of(b"abc")));
    }
}
