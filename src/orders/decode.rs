//! Opening an export: hashing it, deciding its encoding, and handing the CSV reader UTF-8.
//!
//! `auto` decides in one pass over the whole file (which also computes its SHA-256): a BOM
//! names the encoding; otherwise a file that is valid UTF-8 throughout is UTF-8; otherwise it is
//! Shift_JIS (encoding_rs's Shift_JIS decoder is the WHATWG one, i.e. Windows-31J/CP932 with the
//! NEC and IBM extensions that PHP's `SJIS-win` writes). Checking only a prefix would miss CP932
//! bytes further down, so the whole file is read. Decoding happens before CSV parsing: 0x5C is
//! the second byte of many CP932 characters (ソ, 表, 能) and must never be seen as an escape.

use crate::error::{Error, Result};
use encoding_rs::Encoding;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// What the pre-scan found.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub encoding: &'static Encoding,
    /// Whether the encoding was detected (`auto`) rather than given.
    pub detected: bool,
    pub bom: bool,
    /// `sha256-<base64>` (the Subresource Integrity form; see [`crate::digest`]).
    pub sha256: String,
    pub bytes: u64,
}

/// Reads the file once: its digest, its size and (for `auto`) its encoding.
pub fn prescan(path: &Path, requested: Option<&str>) -> Result<Prepared> {
    let wanted = match requested.map(str::trim) {
        None | Some("") | Some("auto") => None,
        Some(label) => Some(encoding_for(label).ok_or_else(|| {
            Error::usage(format!(
                "unknown encoding {label:?}; use auto, utf-8, shift_jis (cp932), euc-jp or another WHATWG label"
            ))
        })?),
    };
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    let mut valid_utf8 = true;
    let mut first = true;
    let mut bom: Option<&'static Encoding> = None;
    loop {
        let n = r.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        total += n as u64;
        if first {
            first = false;
            bom = Encoding::for_bom(chunk).map(|(e, _)| e);
        }
        if wanted.is_none() && bom.is_none() && valid_utf8 {
            // Validate across chunk boundaries: an incomplete sequence at the end is carried.
            let data: std::borrow::Cow<[u8]> = if carry.is_empty() {
                chunk.into()
            } else {
                let mut v = std::mem::take(&mut carry);
                v.extend_from_slice(chunk);
                v.into()
            };
            match std::str::from_utf8(&data) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => carry = data[e.valid_up_to()..].to_vec(),
                Err(_) => valid_utf8 = false,
            }
        }
    }
    if !carry.is_empty() {
        valid_utf8 = false;
    }
    let (encoding, detected) = match (wanted, bom) {
        (Some(e), _) => (e, false),
        (None, Some(b)) => (b, true),
        (None, None) if valid_utf8 => (encoding_rs::UTF_8, true),
        (None, None) => (encoding_rs::SHIFT_JIS, true),
    };
    Ok(Prepared {
        encoding,
        detected,
        bom: bom.is_some(),
        sha256: crate::digest::sri(&hasher.finalize()),
        bytes: total,
    })
}

/// An encoding by label, with the Japanese names users write.
pub fn encoding_for(label: &str) -> Option<&'static Encoding> {
    let l = label.trim().to_ascii_lowercase();
    let l = match l.as_str() {
        "utf8" | "utf-8-sig" | "utf8-bom" | "utf-8-bom" => "utf-8",
        "sjis" | "shiftjis" | "shift-jis" | "cp932" | "ms932" | "windows-31j" | "sjis-win"
        | "shift_jis" => "shift_jis",
        "eucjp" => "euc-jp",
        other => other,
    };
    Encoding::for_label(l.as_bytes())
}

/// Opens the file as a stream of UTF-8 bytes (a BOM, if any, removed).
pub fn open_utf8(path: &Path, prep: &Prepared) -> Result<Box<dyn Read + Send>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    if prep.encoding == encoding_rs::UTF_8 {
        // The CSV reader strips a UTF-8 BOM itself; bytes go through untouched.
        Ok(Box::new(f))
    } else {
        Ok(Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(prep.encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(f),
        ))
    }
}

/// The name the summary reports (`UTF-8`, `UTF-8 (BOM)`, `Shift_JIS`).
pub fn describe(prep: &Prepared) -> String {
    let name = prep.encoding.name();
    if prep.bom {
        format!("{name} (BOM)")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(bytes: &[u8]) -> Prepared {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        std::fs::write(&p, bytes).unwrap();
        prescan(&p, None).unwrap()
    }

    #[test]
    fn detects_utf8_bom_and_cp932() {
        assert_eq!(prep(b"a,b\n1,2\n").encoding, encoding_rs::UTF_8);
        let p = prep(b"\xef\xbb\xbfa,b\r\n");
        assert_eq!(p.encoding, encoding_rs::UTF_8);
        assert!(p.bom);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("注文番号,ソフト,表,①,㈱,髙\n");
        assert_eq!(prep(&sjis).encoding, encoding_rs::SHIFT_JIS);
    }

    #[test]
    fn utf8_split_across_chunks_is_still_utf8() {
        let mut v = vec![b'a'; (1 << 20) - 1];
        v.extend_from_slice("表".as_bytes());
        assert_eq!(prep(&v).encoding, encoding_rs::UTF_8);
    }

    #[test]
    fn cp932_decodes_before_csv() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("名前,メモ\n\"ソ表能\",\"①㈱髙\"\n");
        std::fs::write(&p, &sjis).unwrap();
        let pr = prescan(&p, None).unwrap();
        let mut s = String::new();
        open_utf8(&p, &pr).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "名前,メモ\n\"ソ表能\",\"①㈱髙\"\n");
    }
}
