//! Opening an export: its encoding, its digest, and a stream of UTF-8 for the CSV reader.
//!
//! `auto` means: a BOM names the encoding; otherwise the evidence of the whole file decides
//! between UTF-8 and Shift_JIS ([`decide`]): a prefix would miss CP932 bytes further down, and
//! one damaged character must not turn a UTF-8 file into CP932. encoding_rs's Shift_JIS decoder
//! is the WHATWG one, i.e. Windows-31J/CP932 with the NEC and IBM extensions that PHP's
//! `SJIS-win` writes. Decoding happens before CSV parsing: 0x5C is the second byte of many CP932
//! characters (ソ, 表, 能) and must never be taken for an escape.

use crate::error::{Error, Result};
use encoding_rs::Encoding;
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

/// The file's digest (`sha256-<base64>`, see [`crate::digest`]), its size, and how it decodes
/// in each of `encodings`: one pass over the file, on the hashing thread, in fixed memory.
pub fn digest_and_scan(
    path: &Path,
    encodings: &[&'static Encoding],
) -> Result<(String, u64, Evidence)> {
    let mut digest = crate::digest::FileDigest::new();
    let (total, evidence) = pass(path, encodings, |b| digest.update(b))?;
    Ok((digest.finish().1, total, evidence))
}

/// `auto` without a BOM: the UTF-8 scan, with the digest; then, only when UTF-8 does not fit
/// (see [`decide`]), a second pass that tries Shift_JIS. A valid UTF-8 file costs one pass.
pub fn digest_and_detect(path: &Path) -> Result<(String, u64, Evidence)> {
    let (sha, total, mut ev) = digest_and_scan(path, &[encoding_rs::UTF_8])?;
    if needs_second_opinion(&ev) {
        let (_, more) = pass(path, &[encoding_rs::SHIFT_JIS], |_| {})?;
        ev.checks.extend(more.checks);
    }
    Ok((sha, total, ev))
}

/// Whether the UTF-8 reading alone leaves the choice open (damaged on most non-ASCII lines).
fn needs_second_opinion(ev: &Evidence) -> bool {
    ev.check(encoding_rs::UTF_8)
        .is_some_and(|c| c.damage.lines > 0 && c.clean_non_ascii_lines < c.damage.lines)
}

/// One pass over the file: every chunk to `each`, and through the decoders of `encodings`.
fn pass(
    path: &Path,
    encodings: &[&'static Encoding],
    mut each: impl FnMut(&[u8]),
) -> Result<(u64, Evidence)> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut scratch = vec![0u8; 1 << 18];
    let mut scans: Vec<Scan> = encodings.iter().map(|&e| Scan::new(e)).collect();
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        for s in &mut scans {
            s.feed(&buf[..n], n == 0, &mut scratch);
        }
        if n == 0 {
            break;
        }
        each(&buf[..n]);
        total += n as u64;
    }
    let evidence = Evidence {
        checks: scans.into_iter().map(|s| s.check).collect(),
    };
    Ok((total, evidence))
}

/// How many lines hold bytes that are not valid in an encoding, and the first of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    pub lines: u64,
    /// The first [`Damage::LISTED`] such lines (1-based, physical lines).
    pub first: Vec<u64>,
}

impl Damage {
    pub const LISTED: usize = 10;

    /// `line 7` / `lines 7, 9 and 12 more`.
    pub fn describe_lines(&self) -> String {
        let list: Vec<String> = self.first.iter().map(u64::to_string).collect();
        let more = self.lines - self.first.len() as u64;
        match (list.len(), more) {
            (1, 0) => format!("line {}", list[0]),
            (_, 0) => format!("lines {}", list.join(", ")),
            _ => format!("lines {} and {more} more", list.join(", ")),
        }
    }
}

/// One encoding's reading of a whole file.
#[derive(Debug, Clone)]
pub struct Check {
    pub encoding: &'static Encoding,
    pub damage: Damage,
    /// Lines that decode cleanly and hold at least one non-ASCII character.
    pub clean_non_ascii_lines: u64,
}

/// What a whole-file pass learnt about a file's bytes, per encoding tried.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub checks: Vec<Check>,
}

impl Evidence {
    pub fn check(&self, e: &'static Encoding) -> Option<&Check> {
        self.checks.iter().find(|c| c.encoding == e)
    }
}

/// The encoding a file is read in, why, and the lines it does not decode cleanly.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub encoding: &'static Encoding,
    pub reason: String,
    pub damage: Damage,
}

/// `auto` without a BOM, on the evidence of the whole file (UTF-8 and Shift_JIS both tried):
///
/// - valid UTF-8 throughout (or pure ASCII): UTF-8;
/// - otherwise UTF-8 still when at least as many lines with non-ASCII text are valid UTF-8 as
///   are not: the invalid ones are damage (a character cut by a truncated export, a pasted
///   byte), warned about by line, never a reason to read every other line as CP932;
/// - otherwise (most non-ASCII lines are not UTF-8, as in every CP932 file, whose lead bytes
///   0x81–0x9F can never start a UTF-8 character) Shift_JIS when it decodes with no more
///   damaged lines than UTF-8 (a CP932 export decodes cleanly);
/// - otherwise UTF-8, and the summary says neither fits.
pub fn decide(ev: &Evidence) -> Verdict {
    let empty = Check {
        encoding: encoding_rs::UTF_8,
        damage: Damage::default(),
        clean_non_ascii_lines: 0,
    };
    let utf8 = ev.check(encoding_rs::UTF_8).unwrap_or(&empty);
    let (u, v) = (utf8.damage.lines, utf8.clean_non_ascii_lines);
    let as_utf8 = |reason: String| Verdict {
        encoding: encoding_rs::UTF_8,
        reason,
        damage: utf8.damage.clone(),
    };
    if u == 0 {
        return as_utf8(if v == 0 {
            "ASCII only".to_string()
        } else {
            format!("valid UTF-8 throughout ({v} lines with non-ASCII text)")
        });
    }
    if v >= u {
        return as_utf8(format!(
            "UTF-8: {v} lines with non-ASCII text are valid UTF-8, {u} not (damaged lines, read with U+FFFD)"
        ));
    }
    match ev.check(encoding_rs::SHIFT_JIS) {
        Some(sjis) if sjis.damage.lines <= u => Verdict {
            encoding: encoding_rs::SHIFT_JIS,
            reason: if sjis.damage.lines == 0 {
                format!("not UTF-8 on {u} lines; decodes cleanly as Shift_JIS (CP932)")
            } else {
                format!(
                    "not UTF-8 on {u} lines; Shift_JIS (CP932) on all but {} (damaged lines, read with U+FFFD)",
                    sjis.damage.lines
                )
            },
            damage: sjis.damage.clone(),
        },
        Some(sjis) => as_utf8(format!(
            "neither UTF-8 ({u} lines invalid) nor Shift_JIS ({} lines invalid); read as UTF-8 with U+FFFD: pass --encoding",
            sjis.damage.lines
        )),
        None => as_utf8(format!("not UTF-8 on {u} lines")),
    }
}

/// One encoding's decoder run over a file, counting the lines it finds invalid bytes on.
/// Lines are counted on the decoded text, as the reader counts them (`\n`, `\r\n` or a lone
/// `\r`), so the numbers agree for any encoding.
struct Scan {
    decoder: encoding_rs::Decoder,
    check: Check,
    line: u64,
    after_cr: bool,
    bad: bool,
    non_ascii: bool,
}

impl Scan {
    fn new(encoding: &'static Encoding) -> Scan {
        Scan {
            decoder: encoding.new_decoder_without_bom_handling(),
            check: Check {
                encoding,
                damage: Damage::default(),
                clean_non_ascii_lines: 0,
            },
            line: 1,
            after_cr: false,
            bad: false,
            non_ascii: false,
        }
    }

    fn feed(&mut self, mut src: &[u8], last: bool, scratch: &mut [u8]) {
        use encoding_rs::DecoderResult;
        loop {
            let (res, read, written) = self
                .decoder
                .decode_to_utf8_without_replacement(src, scratch, last);
            self.text(&scratch[..written]);
            src = &src[read..];
            match res {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => {}
                // Reported before the byte that showed it (a line end stays on its line).
                DecoderResult::Malformed(_, _) => self.bad = true,
            }
        }
        if last {
            self.end_line();
        }
    }

    fn text(&mut self, out: &[u8]) {
        let mut from = 0;
        for i in memchr::memchr2_iter(b'\n', b'\r', out) {
            self.non_ascii |= !out[from..i].is_ascii();
            let prev_cr = if i == 0 {
                self.after_cr
            } else {
                out[i - 1] == b'\r'
            };
            if out[i] == b'\r' || !prev_cr {
                self.end_line();
            }
            from = i + 1;
        }
        self.non_ascii |= !out[from..].is_ascii();
        if let Some(&b) = out.last() {
            self.after_cr = b == b'\r';
        }
    }

    fn end_line(&mut self) {
        let c = &mut self.check;
        if self.bad {
            c.damage.lines += 1;
            if c.damage.first.len() < Damage::LISTED {
                c.damage.first.push(self.line);
            }
        } else if self.non_ascii {
            c.clean_non_ascii_lines += 1;
        }
        self.line += 1;
        self.bad = false;
        self.non_ascii = false;
    }
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
}

#[cfg(test)]
mod evidence_tests {
    use super::*;

    fn verdict(bytes: &[u8]) -> Verdict {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        std::fs::write(&p, bytes).unwrap();
        let (_, _, ev) = digest_and_detect(&p).unwrap();
        decide(&ev)
    }

    #[test]
    fn damage_is_counted_per_line_for_every_line_ending() {
        for end in ["\n", "\r\n", "\r"] {
            let text = ["h", "名前", "a\u{1}", "名前"].join(end) + end;
            let mut b = text.into_bytes();
            let third = b.iter().position(|&c| c == 1).unwrap();
            b[third] = 0xff;
            let v = verdict(&b);
            assert_eq!(v.encoding, encoding_rs::UTF_8, "{end:?}");
            assert_eq!(v.damage.first, vec![3], "{end:?}");
        }
    }

    #[test]
    fn cp932_is_recognised_and_a_cut_character_at_the_end_is_damage() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("h\n名前\n表示\n");
        let v = verdict(&sjis);
        assert_eq!(v.encoding, encoding_rs::SHIFT_JIS);
        assert_eq!(v.damage.lines, 0);
        // A UTF-8 file whose last byte is half a character, with no line end after it.
        let mut b = "h\n名前\n表示\n名".as_bytes().to_vec();
        b.pop();
        let v = verdict(&b);
        assert_eq!(v.encoding, encoding_rs::UTF_8);
        assert_eq!(v.damage.first, vec![4]);
        assert_eq!(verdict(b"a,b\n").reason, "ASCII only");
    }
}
