//! Opening an export: its encoding, its digest, and a stream of UTF-8 for the CSV reader.
//!
//! `auto` means: a BOM names the encoding; otherwise the file is UTF-8 if it is valid UTF-8
//! throughout, else Shift_JIS (encoding_rs's Shift_JIS decoder is the WHATWG one, i.e.
//! Windows-31J/CP932 with the NEC and IBM extensions that PHP's `SJIS-win` writes). The check
//! covers the whole file: a prefix would miss CP932 bytes further down. Decoding happens before
//! CSV parsing: 0x5C is the second byte of many CP932 characters (ソ, 表, 能) and must never be
//! taken for an escape.

use crate::error::{Error, Result};
use encoding_rs::Encoding;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The encoding the user asked for; `None` for `auto`.
pub fn requested_encoding(label: Option<&str>) -> Result<Option<&'static Encoding>> {
    match label.map(str::trim) {
        None | Some("") | Some("auto") => Ok(None),
        Some(l) => encoding_for(l).map(Some).ok_or_else(|| {
            Error::usage(format!(
                "unknown encoding {l:?}; use auto, utf-8, shift_jis (cp932), euc-jp or another WHATWG label"
            ))
        }),
    }
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

/// The encoding a byte-order mark at the start of the file names, if any.
pub fn sniff_bom(path: &Path) -> Result<Option<&'static Encoding>> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(Encoding::for_bom(&head[..n]).map(|(e, _)| e))
}

/// The file's digest (`sha256-<base64>`, see [`crate::digest`]) and size.
pub fn digest(path: &Path) -> Result<(String, u64)> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((crate::digest::sri(&hasher.finalize()), total))
}

/// Opens the file as a stream of UTF-8 bytes (a BOM, if any, removed by the decoder or by the
/// CSV reader).
pub fn open_utf8(path: &Path, encoding: &'static Encoding) -> Result<Box<dyn Read + Send>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    if encoding == encoding_rs::UTF_8 {
        Ok(Box::new(f))
    } else {
        Ok(Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(f),
        ))
    }
}

/// The name the summary reports (`UTF-8`, `UTF-8 (BOM)`, `Shift_JIS`).
pub fn describe(encoding: &'static Encoding, bom: bool) -> String {
    if bom {
        format!("{} (BOM)", encoding.name())
    } else {
        encoding.name().to_string()
    }
}

/// A reader that notes where lines end as bytes go through, so that the line of a record can be
/// told from its byte offset. A line ends at `\n` (alone or after `\r`), or at a `\r` not
/// followed by `\n` (old Mac files). Only the ends not yet asked about are kept: the CSV
/// reader's read-ahead, no more.
pub struct LineCounter<R> {
    inner: R,
    /// Offset of the next byte to be read.
    pos: u64,
    /// Line ends read but not yet counted: offset of the end's last byte, and whether it is a
    /// `\r\n` pair (then the `\r` is at offset - 1).
    ends: VecDeque<(u64, bool)>,
    /// Lines ended before the oldest entry in `ends`.
    counted: u64,
    /// The last byte read was a `\r` (its meaning depends on the next byte).
    pending_cr: Option<u64>,
}

impl<R: Read> LineCounter<R> {
    pub fn new(inner: R) -> LineCounter<R> {
        LineCounter {
            inner,
            pos: 0,
            ends: VecDeque::new(),
            counted: 0,
            pending_cr: None,
        }
    }

    /// The 1-based line on which a record that the CSV reader says starts at byte `start`
    /// begins. The reader's start is where the previous record ended: it may point at the `\n`
    /// of a CRLF pair, or at blank lines it skipped; those line ends are counted too.
    pub fn line_at(&mut self, start: u64) -> u64 {
        while let Some(&(e, _)) = self.ends.front() {
            if e < start {
                self.counted += 1;
                self.ends.pop_front();
            } else {
                break;
            }
        }
        let mut cursor = start;
        while let Some(&(e, crlf)) = self.ends.front() {
            if e == cursor {
                cursor += 1;
            } else if crlf && e == cursor + 1 {
                cursor += 2;
            } else {
                break;
            }
            self.counted += 1;
            self.ends.pop_front();
        }
        self.counted + 1
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        let base = self.pos;
        if n > 0 {
            if let Some(cr) = self.pending_cr.take() {
                if data[0] == b'\n' {
                    self.ends.push_back((base, true));
                } else {
                    self.ends.push_back((cr, false));
                }
            }
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', data) {
            let at = base + i as u64;
            if data[i] == b'\n' {
                if i == 0 && self.ends.back() == Some(&(at, true)) {
                    continue; // already taken as the second half of a pending pair
                }
                let crlf = i > 0 && data[i - 1] == b'\r';
                self.ends.push_back((at, crlf));
            } else if i + 1 < n {
                if data[i + 1] != b'\n' {
                    self.ends.push_back((at, false));
                }
            } else {
                self.pending_cr = Some(at);
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_are_sniffed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        std::fs::write(&p, b"\xef\xbb\xbfa,b\r\n").unwrap();
        assert_eq!(sniff_bom(&p).unwrap(), Some(encoding_rs::UTF_8));
        std::fs::write(&p, b"a,b\n").unwrap();
        assert_eq!(sniff_bom(&p).unwrap(), None);
        std::fs::write(&p, b"").unwrap();
        assert_eq!(sniff_bom(&p).unwrap(), None);
    }

    #[test]
    fn cp932_decodes_before_csv() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("名前,メモ\n\"ソ表能\",\"①㈱髙\"\n");
        std::fs::write(&p, &sjis).unwrap();
        let mut s = String::new();
        open_utf8(&p, encoding_rs::SHIFT_JIS)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "名前,メモ\n\"ソ表能\",\"①㈱髙\"\n");
    }

    fn lines_of(data: &[u8]) -> Vec<u64> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(4)
            .from_reader(LineCounter::new(data));
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            let start = rec.position().unwrap().byte();
            out.push(r.get_mut().line_at(start));
        }
        out
    }

    #[test]
    fn record_lines_for_every_line_ending() {
        assert_eq!(lines_of(b"h\na\nb\n"), vec![1, 2, 3]);
        assert_eq!(lines_of(b"h\r\na\r\nb\r\n"), vec![1, 2, 3]);
        assert_eq!(lines_of(b"h\ra\rb\r"), vec![1, 2, 3]);
        assert_eq!(lines_of(b"h\n\"x\ny\"\nb\n"), vec![1, 2, 4]);
        assert_eq!(lines_of(b"h\r\n\"x\r\ny\"\r\nb"), vec![1, 2, 4]);
        assert_eq!(lines_of(b"h\n\n\nb\n"), vec![1, 4]);
        assert_eq!(lines_of(b"h\r\n\r\nb\r\nc"), vec![1, 3, 4]);
        assert_eq!(lines_of(b"hhh\r\naaa\r\r\nbbbbbbb\rc"), vec![1, 2, 4, 5]);
    }
}
