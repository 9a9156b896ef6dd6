//! Log text as the evidence outputs write it: **the evidence stays the evidence.** Apart from
//! card numbers, a written value is the logged value; bytes that are not UTF-8 are written as
//! `\xHH`, the logs' own escape, never replaced by U+FFFD.
//!
//! Two forms, because a raw line and a field value are not escaped alike in the log:
//! - [`Form::Line`] — a raw line as read. Apache and nginx already write a backslash as `\\`
//!   (nginx: `\x5C`) and a byte they escape as `\xHH`, so a `\xHH` in a conforming log already
//!   means one byte: a byte that is not UTF-8 is written as the `\xHH` the server would have
//!   written, and nothing else changes. Every character of the line is kept as it is.
//! - [`Form::Value`] — a field value, whose log escapes (`\"`, `\\`, `\xhh`) the parser has
//!   undone (the value Sigma rules match). A byte that is not UTF-8 is written `\xHH`; a
//!   backslash that would read as the start of such an escape (`\` followed by `x` and two hex
//!   digits) is written `\x5c`, so that `\xff` in a written value always means the byte 0xFF and
//!   `\x5cxff` the four characters `\xff`. Every other character, backslashes included, is
//!   written as it is, so rules match the written columns (`--emit-events`) as they match the
//!   log. Decoding: replace every `\xHH` by its byte.
//!
//! Card numbers are masked **after** escaping, on the text exactly as written (the detector
//! reads `\xHH` escapes too), and **before** any cut: [`excerpt`] masks the whole text, cuts it,
//! then masks the cut text again, so no cut can leave the digits of a card number behind.

use crate::cards::detect;
use std::borrow::Cow;

/// How a text is escaped (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A raw log line: only bytes that are not UTF-8 are escaped.
    Line,
    /// A field value with the log's escapes undone: bytes that are not UTF-8, and a backslash
    /// that would start an escape, are escaped.
    Value,
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Whether `b[i]` is a backslash that reads as the start of a `\xHH` escape.
fn starts_escape(b: &[u8], i: usize) -> bool {
    b[i] == b'\\'
        && b.get(i + 1) == Some(&b'x')
        && b.get(i + 2).is_some_and(|&c| is_hex(c))
        && b.get(i + 3).is_some_and(|&c| is_hex(c))
}

fn push_escaped(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('\\');
    out.push('x');
    out.push(HEX[usize::from(byte >> 4)] as char);
    out.push(HEX[usize::from(byte & 15)] as char);
}

/// `b` as text in the given form, unmasked: valid UTF-8 that needs no escape is borrowed.
pub fn escape(b: &[u8], form: Form) -> Cow<'_, str> {
    let needs_backslash = |s: &[u8]| {
        form == Form::Value && memchr::memchr_iter(b'\\', s).any(|i| starts_escape(s, i))
    };
    if let Ok(s) = std::str::from_utf8(b) {
        if !needs_backslash(b) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(b.len() + 16);
    for chunk in b.utf8_chunks() {
        let valid = chunk.valid();
        if form == Form::Value {
            let vb = valid.as_bytes();
            let mut last = 0;
            for i in memchr::memchr_iter(b'\\', vb) {
                if starts_escape(vb, i) {
                    out.push_str(&valid[last..i]);
                    push_escaped(&mut out, b'\\');
                    last = i + 1;
                }
            }
            out.push_str(&valid[last..]);
        } else {
            out.push_str(valid);
        }
        for &byte in chunk.invalid() {
            push_escaped(&mut out, byte);
        }
    }
    Cow::Owned(out)
}

/// `b` as written: every card number masked, then escaped in the given form, then masked
/// again if escaping changed anything (a value may hold the text of an escape, `\x34`, which
/// the written form turns into `\x5cx34`: the first pass reads it as the digit it spells).
/// Returns the text and how many card numbers were masked.
pub fn written(b: &[u8], form: Form) -> (Cow<'_, str>, usize) {
    let (masked, n) = detect::mask_bytes(b);
    match masked {
        Cow::Borrowed(m) => match escape(m, form) {
            Cow::Borrowed(s) => (Cow::Borrowed(s), n),
            Cow::Owned(s) => {
                let (t, k) = detect::mask(&s);
                (Cow::Owned(t.into_owned()), n + k)
            }
        },
        Cow::Owned(m) => {
            let s = escape(&m, form).into_owned();
            let (t, k) = detect::mask(&s);
            (Cow::Owned(t.into_owned()), n + k)
        }
    }
}

/// At most `max` bytes of `b` as written (a sample of a malformed line, a quote in an error
/// message): masked whole first, then cut at a character boundary that does not split an
/// escape, then masked again (the cut can turn the start of a long digit run that is no card
/// number into one). Returns the text and how many card numbers the whole of `b` held.
pub fn excerpt(b: &[u8], form: Form, max: usize) -> (String, usize) {
    let (text, n) = written(b, form);
    if text.len() <= max {
        return (text.into_owned(), n);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // Never leave half an escape (`\x4`) at the end: a reader could not tell what it was.
    let tb = text.as_bytes();
    for back in 1..=3 {
        if cut >= back && starts_escape_prefix(&tb[cut - back..cut]) {
            cut -= back;
            break;
        }
    }
    let (cut_text, _) = detect::mask(&text[..cut]);
    (cut_text.into_owned(), n)
}

/// Whether `s` (1 to 3 bytes) is the start of a `\xHH` escape cut short.
fn starts_escape_prefix(s: &[u8]) -> bool {
    match s {
        [b'\\'] | [b'\\', b'x'] => true,
        [b'\\', b'x', h] => is_hex(*h),
        _ => false,
    }
}

/// How many card numbers `b` holds as written in the given form (0 at once for text that
/// cannot hold one).
pub fn count(b: &[u8], form: Form) -> usize {
    if !detect::may_hold_card(b) {
        return 0;
    }
    written(b, form).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_are_written_as_the_logs_escape() {
        assert_eq!(escape(b"ok \xff\xfe z", Form::Line), "ok \\xff\\xfe z");
        assert_eq!(escape(b"ok \xff z", Form::Value), "ok \\xff z");
        // A truncated UTF-8 sequence: each byte escaped, the valid text around it kept.
        assert_eq!(
            escape(b"a\xe3\x81b\xe3\x81\x82", Form::Value),
            "a\\xe3\\x81b\u{3042}"
        );
        assert!(matches!(
            escape("日本 ok".as_bytes(), Form::Value),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_backslash_is_escaped_only_where_it_would_read_as_an_escape() {
        // A value whose `\\xff` the log escaped: the characters, not the byte.
        assert_eq!(escape(b"a\\xffb", Form::Value), "a\\x5cxffb");
        assert_eq!(escape(b"a\\xffb", Form::Line), "a\\xffb");
        // Backslashes that start no escape stay as they are (a Windows path, a regex).
        assert_eq!(escape(b"C:\\Windows\\x1", Form::Value), "C:\\Windows\\x1");
        assert_eq!(escape(b"\\\xff", Form::Value), "\\\\xff");
        // Decoding `\xHH` gives the value back, whatever it held.
        for v in [&b"\\xff\xff\\\\x41"[..], b"\\", b"x\\x0", b"\\x5c"] {
            assert_eq!(decode(&escape(v, Form::Value)), v, "{v:?}");
        }
    }

    fn decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if starts_escape(b, i) {
                out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn card_numbers_are_masked_before_any_cut() {
        let line = format!("{}4111 1111 1111 1111 tail", "x".repeat(500));
        // Cut at 512 bytes, 12 of the number's bytes are kept: without masking first, a
        // reader would see 4111 1111 11.
        let (t, n) = excerpt(line.as_bytes(), Form::Line, 512);
        assert_eq!(n, 1);
        assert!(t.len() <= 512 && !t.contains("4111 1111 11"), "{t}");
        assert!(t.ends_with("4111 11** **"), "{t}");
        // Escaped digits are masked as digits; an escape is never cut in half.
        let (t, _) = excerpt(
            br"ab\x34\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31",
            Form::Line,
            11,
        );
        assert_eq!(t, "ab411111***");
        let (t, _) = excerpt(b"ab\xff\xfe", Form::Line, 7);
        assert_eq!(t, r"ab\xff");
    }

    #[test]
    fn a_cut_that_leaves_a_card_number_from_a_longer_run_is_masked_again() {
        // 25 digits are no card number; their first 16 are one (the published test number).
        let line = "id=4111111111111111000000000 end";
        assert_eq!(written(line.as_bytes(), Form::Line).1, 0);
        let (t, _) = excerpt(line.as_bytes(), Form::Line, 19);
        assert_eq!(t, "id=411111******1111");
    }

    #[test]
    fn counts_follow_the_written_form() {
        assert_eq!(
            count(b"a 4111-1111-1111-1111 b 5555 5555 5555 4444", Form::Value),
            2
        );
        assert_eq!(
            count(
                br"\x34\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31",
                Form::Line
            ),
            1
        );
        assert_eq!(count(b"feed-id=14171215010336145331", Form::Value), 0);
        // A value holding the text of escapes (the log's `\\x34…`): read as the digits it
        // spells, masked before its backslashes are escaped.
        let v = br"\x34\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31\x31";
        let (t, n) = written(v, Form::Value);
        assert_eq!(n, 1, "{t}");
        assert!(!t.contains(r"\x5cx31\x5cx31\x5cx31\x5cx31\x5cx31"), "{t}");
    }
}
