//! The one card-number detector: every text the tool writes goes through it, whole, before any
//! cut.
//!
//! **What it reads.** Not the bytes as they are but their *normalised view*, the way a person or
//! a program would read them: NFKC (full-width `４１１１` is `4111`), every Unicode decimal digit
//! as its ASCII digit (Arabic-Indic, Devanagari, … see `chars.rs`), and `%XX` and `\xHH`
//! escapes decoded (`%34%31` is `41`, `%E2%80%8B` a zero-width space), twice where an escaped
//! `%` or `\` starts another escape (`%2534`, `%5Cx34`), each character of an escape read in the
//! same view (`％３４`, `%٣٤` and `＼ｘ３４` are `4`, `chars.rs`'s `ESCAPE_CHARS`), and each
//! character of a `\xHH` may itself be a `%XX` (`\x3%34` and `%5C%78%33%34` are `\x34`, as a
//! reader decoding the URL's escapes first sees them); a `\xHH` of a
//! byte that starts no UTF-8 character is the character U+00HH (`\xa0` a no-break space, `\xb9`
//! `¹`); JSON's and JavaScript's `\uHHHH` (a surrogate pair as one character), `%uHHHH`, and `\t`,
//! `\n`, `\r`, `\f`, `\/` read as what they stand for (`raw` of a JSON log keeps them as
//! written). Bytes that are not UTF-8 end a run. A text with an escape is also read as written, each
//! character by itself, since an escape may take a card number's first digit for its own
//! (`%B4111…`, a magnetic track's start, is `%B4` then fifteen digits): a number either reading
//! finds is masked.
//!
//! **What a card number is** (`decisions.md`): a run of 13–19 digits that passes Luhn. A run is
//! made of digits, consecutive digits separated by at most [`MAX_SEPARATORS`] separator
//! characters (every space including NBSP, U+3000, tab and the line breaks, any number of them in
//! a row counting as one; every dash including `－` and `ー`; `.`, `,`, `/`, `_`, `+`, `·`, `・`,
//! bullets, other slashes, `～`, `。`, U+FFFD (a damaged byte); format characters), with any
//! number of characters that show nothing among them (the zero-width space, the soft hyphen, the
//! variation selectors: Default_Ignorable_Code_Point, which neither separate nor end), and it is
//! bounded by anything else. Two narrowings keep the evidence the
//! evidence (both measured, see the README's "Card numbers" section):
//! - **IIN**: the number starts as a payment card's does: 3–6 (ISO/IEC 7812 industries of card
//!   payments), Mir's 2200–2204 and Mastercard's 2221–2720 (not 20… or 21…: dates), 81 and 82
//!   for UnionPay and RuPay, 8600, 9112, 9792 and 9860 for UzCard, Belkart, Troy and Humo. Every
//!   brand of [`super::Brand`] is in.
//! - **Grouping**: digits written whole, one by one, or in groups of three or more (the last group
//!   may be shorter): `4111 1111 1111 1111`, `3782 822463 10005`; a list of short numbers
//!   (`10.1.2.3, 172.16.5.4`) is not a card number.
//!
//! A run of more than 19 digits is not a card number — unless it is made of groups: then every
//! stretch of whole groups that is a card number is (a card number followed by its expiry,
//! `4111 1111 1111 1111 12/25`, or preceded by an order number or a version, `5.0 4111 1111
//! 1111 1111`). A run of 20+ digits without
//! separators (a feed id, a stretch of a hex payload) is never touched. A digit run inside a
//! word (`a4111111111111111f`) is read as any scanner reads it: bounded by the letters, so a hex
//! string is left alone unless it holds 13–19 digits in a row that pass Luhn (then no reader
//! could tell them from a card number).
//!
//! **What it writes.** The whole span of a card number, from its first to its last digit, is
//! replaced: each digit (whatever its form: `４`, `%34`, `\x34`) by the masked digit of the case's
//! one format ([`super::mask_digits`], at most the first 6 and the last 4), each separator kept as
//! written, so `%20` stays `%20` and the text keeps its shape.
//!
//! It runs on one value at a time (a cell, a log field, a line), so the commas between CSV
//! columns never join two numbers.

use super::luhn_valid;
use std::borrow::Cow;
use zeroize::Zeroize;

/// The most separator characters between two digits of one card number (`4111 - 1111`).
pub const MAX_SEPARATORS: usize = 3;

/// The fewest and the most digits of a card number.
pub(super) const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

/// Which narrowings apply (see the module doc). [`Narrowing::DEFAULT`] is what every writer
/// uses; the others exist to measure what each narrowing buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Narrowing {
    /// Require a card issuer's start (3–6, 2200–2204, 2221–2720, 81, 82).
    pub iin: bool,
    /// Require card-like grouping (whole, one by one, or groups of three or more).
    pub grouping: bool,
}

impl Narrowing {
    pub const DEFAULT: Narrowing = Narrowing {
        iin: true,
        grouping: true,
    };
    pub const NONE: Narrowing = Narrowing {
        iin: false,
        grouping: false,
    };
}

/// A card number found in a text: its byte range and what replaces it.
#[derive(Clone, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    /// The masked text that replaces `start..end`.
    pub masked: String,
    /// How many card numbers the span holds (two written in one run make one span).
    pub cards: usize,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Found({}..{}, {:?}, {})",
            self.start, self.end, self.masked, self.cards
        )
    }
}

/// How one unit of the text reads in the normalised view.
#[derive(Clone, Copy)]
enum View {
    Digit(u8),
    /// White space (a space, a tab, a line break, NBSP, U+3000…): any number of them in a row
    /// count as one separator, as a reader sees them (`4111    1111`).
    Space,
    /// Any other separator (a dash, a dot, a slash, a bullet…).
    Sep,
    /// A character that shows nothing (the zero-width space, the soft hyphen, a variation
    /// selector: Default_Ignorable_Code_Point): it neither separates two digits nor ends a run,
    /// so `4111` and `1111` with ten of them between read as `41111111`, as they show.
    Ignore,
    /// Several digits and separators (`⑫`, `⒈`), as ASCII (`'0'..='9'`, `' '`).
    Many(&'static str),
    Other,
}

/// Bytes a unit of a run can be made of: ASCII digits and separators, the bytes of `%XX` and
/// `\xHH` escapes, and any non-ASCII byte. Every other byte is a unit of its own that ends a run,
/// so a text can be cut at such a byte without changing what is found on either side.
#[inline(always)]
pub(super) fn run_byte(c: u8) -> bool {
    BYTE_CLASS[c as usize] & RUN != 0
}

/// Bytes that start a digit unit (an ASCII digit, an escape, a non-ASCII lead byte), and the
/// second bytes of the characters that read as two digits (`⑪` is `e2 91 aa`, `⒑` `e2 92 91`,
/// `㉑` `e3 89 91`, `㊿` `e3 8a bf`): a run's digits never outnumber its digit-start bytes, so
/// the pre-check's 13 of them is a bound no written form gets under (the table's test).
#[inline(always)]
pub(super) fn digit_start_byte(c: u8) -> bool {
    BYTE_CLASS[c as usize] & DIGIT_START != 0
}

const RUN: u8 = 1;
const DIGIT_START: u8 = 2;

/// [`run_byte`] and [`digit_start_byte`] as one table: the pre-check reads every 13th byte of
/// every field and line, so a look-up beats a chain of comparisons.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        // The line breaks and the other white-space controls are separators; `u`, `t`, `n`,
        // `r` are the letters of the escapes `\u0034`, `%u0034`, `\t`, `\n`, `\r`. 0x0E, 0x0F,
        // 0x19, 0x1B, `^` and `o` are none of these, but are run bytes so that the vector
        // classification's sets stay products of halves (`runs.rs`): a run byte only widens
        // what the pre-check reads.
        let run = matches!(b,
            b'0'..=b'9' | b' ' | b'\t' | b'\n' | 0x0B..=0x0F | 0x19 | 0x1B..=0x1F
            | b'-' | b'.' | b',' | b'/' | b'_' | b'+' | b'^'
            | b'%' | b'\\' | b'x' | b'u' | b't' | b'n' | b'o' | b'r'
            | b'a'..=b'f' | b'A'..=b'F' | 0x80..=0xFF);
        let start =
            matches!(b, b'0'..=b'9' | b'%' | b'\\' | 0x89 | 0x8A | 0x91 | 0x92 | 0xC0..=0xFF);
        t[c] = ((run as u8) * RUN) | ((start as u8) * DIGIT_START);
        c += 1;
    }
    t
};

/// Whether `b`, or any part of it, may hold a card number: a fast test with no false negative,
/// for `b` and for every slice of it (a field of a log line, when the line is tested once).
///
/// Only every 13th byte is looked at until one may be part of a run; then the stretch of run
/// bytes around it is counted for 13 bytes that can start a digit. A log line or a CSV field is
/// mostly read a thirteenth at a time.
pub fn may_hold_card(b: &[u8]) -> bool {
    let mut i = MIN_DIGITS - 1;
    while i < b.len() {
        if run_byte(b[i]) {
            let mut s = i;
            while s > 0 && run_byte(b[s - 1]) {
                s -= 1;
            }
            let mut e = i + 1;
            while e < b.len() && run_byte(b[e]) {
                e += 1;
            }
            let stretch = &b[s..e];
            if stretch.len() >= MIN_DIGITS
                && stretch.iter().filter(|&&c| digit_start_byte(c)).count() >= MIN_DIGITS
            {
                return true;
            }
            while i < e {
                i += MIN_DIGITS;
            }
        } else {
            i += MIN_DIGITS;
        }
    }
    false
}

/// Whether `b` holds a card number: exact (the same answer as [`find_bytes_with`] being
/// non-empty), and as fast as [`may_hold_card`] on text without one.
pub fn holds_card(b: &[u8]) -> bool {
    may_hold_card(b) && scan(b, Narrowing::DEFAULT, &mut |_| true)
}

/// Every card number in `text`, in order.
pub fn find(text: &str) -> Vec<Found> {
    find_bytes_with(text.as_bytes(), Narrowing::DEFAULT)
}

/// [`find`] over bytes that may not be UTF-8 (a log line), with the given narrowing.
pub fn find_bytes_with(b: &[u8], narrowing: Narrowing) -> Vec<Found> {
    let mut out = Vec::new();
    if narrowing == Narrowing::DEFAULT && !may_hold_card(b) {
        return out;
    }
    scan(b, narrowing, &mut |f| {
        out.push(f);
        false
    });
    out
}

/// `text` with every card number masked, and how many were.
///
/// Masking can make a new run: the digits a mask shows may start a run that ends in digits that
/// were not a card number's (a 7-digit group whose last 4 digits a mask shows, then three
/// groups of 4: the shown digits and the next groups make a new run). The text is masked
/// again until no card number is left, so what comes out holds none as any reader counts them.
pub fn mask(text: &str) -> (Cow<'_, str>, usize) {
    match mask_bytes(text.as_bytes()) {
        (Cow::Borrowed(_), _) => (Cow::Borrowed(text), 0),
        (Cow::Owned(b), n) => (
            Cow::Owned(String::from_utf8(b).expect("masking keeps UTF-8 text UTF-8")),
            n,
        ),
    }
}

/// [`mask`] of an owned text: the same `String` back when it holds no card number.
pub fn mask_string(text: String) -> String {
    match mask(&text).0 {
        Cow::Owned(masked) => masked,
        Cow::Borrowed(_) => text,
    }
}

/// [`mask`] over bytes that may not be UTF-8: the bytes around a card number are kept as they
/// are.
pub fn mask_bytes(b: &[u8]) -> (Cow<'_, [u8]>, usize) {
    // Almost every text asked: answered before any list is made (every output cell is asked).
    if !may_hold_card(b) {
        return (Cow::Borrowed(b), 0);
    }
    let found = find_bytes_with(b, Narrowing::DEFAULT);
    if found.is_empty() {
        return (Cow::Borrowed(b), 0);
    }
    let n = found.iter().map(|f| f.cards).sum();
    let mut out = replace(b, &found, false);
    // Each pass hides at least one more digit, so this ends; in practice one more pass at most.
    // A text built to need many passes gets every digit of what is still found starred.
    for pass in 1.. {
        let again = find_bytes_with(&out, Narrowing::DEFAULT);
        if again.is_empty() {
            break;
        }
        out = replace(&out, &again, pass >= 8);
    }
    (Cow::Owned(out), n)
}

/// How many card numbers `b` holds (0 at once for text that cannot hold one).
pub fn count(b: &[u8]) -> usize {
    find_bytes_with(b, Narrowing::DEFAULT)
        .iter()
        .map(|f| f.cards)
        .sum()
}

/// `b` with each span found replaced by its mask, or with every digit of it starred (the last
/// resort of [`mask_bytes`]).
fn replace(b: &[u8], found: &[Found], star: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut last = 0;
    for f in found {
        out.extend_from_slice(&b[last..f.start]);
        if star {
            out.extend(
                f.masked
                    .bytes()
                    .map(|c| if c.is_ascii_digit() { b'*' } else { c }),
            );
        } else {
            out.extend_from_slice(f.masked.as_bytes());
        }
        last = f.end;
    }
    out.extend_from_slice(&b[last..]);
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The byte an escape at `i` stands for (`%XX` or `\xHH`), the escape's length, and whether it
/// is a `\xHH` escape (which also reads as the character U+00HH, see [`escaped_unit`]).
///
/// An escape of `%` or `\` that starts another escape with the characters after it is read
/// through: `%2534` (a URL escaped twice, as proxies do) and `%5Cx34` (a `\x34` sent
/// URL-escaped) are `4`, as a reader decoding the text twice would see them. Each character of
/// an escape is read in the normalised view, as a reader that normalises before decoding does:
/// `％３４`, `%٣٤` and `＼ｘ３４` are `4` too.
///
/// Without `nested`, an escape of `%` or `\` is that character alone (the reading of a text
/// decoded once, [`Reading::Once`]).
fn escape_at(b: &[u8], i: usize, nested: bool) -> Option<(u8, usize, bool)> {
    // Most escapes of a log are plain ASCII `%XX` (every query string has them): read those
    // at once; any other form, and an escape of `%` or `\`, takes the whole way below.
    if let [b'%', hi, lo, ..] = b[i..] {
        if let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) {
            let x = hi << 4 | lo;
            if x != b'%' && x != b'\\' {
                return Some((x, 3, false));
            }
        }
    }
    escape_at_any(b, i, nested)
}

/// [`escape_at`] for an escape in any form.
fn escape_at_any(b: &[u8], i: usize, nested: bool) -> Option<(u8, usize, bool)> {
    let (intro, at) = escape_chars(b, i, 1, false)?;
    let (x, end) = escape_body(b, intro[0], at)?;
    let nested = match x {
        b'%' | b'\\' if nested => escape_body(b, x, end).map(|(y, e)| (y, e, x)),
        _ => None,
    };
    let (x, end, last) = nested.unwrap_or((x, end, intro[0]));
    Some((x, end - i, last == b'\\'))
}

/// The byte of an escape whose introducer (`%` or `\`) ends at `at`: two hex digits after `%`,
/// `x` and two hex digits after `\`; and where the escape ends.
fn escape_body(b: &[u8], intro: u8, at: usize) -> Option<(u8, usize)> {
    let backslash = intro == b'\\';
    let at = match intro {
        b'%' => at,
        b'\\' => match escape_chars(b, at, 1, true)? {
            ([b'x', _], next) => next,
            _ => return None,
        },
        _ => return None,
    };
    let ([hi, lo], end) = escape_chars(b, at, 2, backslash)?;
    Some((hex(hi)? << 4 | hex(lo)?, end))
}

/// The next `want` (1 or 2) characters from `at` as an escape reads them, taken in whole units
/// (`㉞` gives `34`, `％` gives `%`; a unit giving more than is wanted gives nothing), and where
/// they end.
///
/// In the rest of a `\xHH` escape (`in_backslash`) a character may itself be written `%XX`:
/// a reader that decodes a URL's escapes before the `\x` ones (pan-scan does) reads
/// `\x3%34`, `\%78%33%34` and `%5C%78%33%34` as `\x34`, so `4`.
fn escape_chars(
    b: &[u8],
    mut at: usize,
    want: usize,
    in_backslash: bool,
) -> Option<([u8; 2], usize)> {
    let mut got = [0u8; 2];
    let mut n = 0;
    while n < want {
        let c = *b.get(at)?;
        let (mut r, mut len) = if c < 0x80 {
            (std::slice::from_ref(&b[at]), 1)
        } else {
            let (ch, len) = utf8_char(&b[at..])?;
            (escape_reading(ch)?.as_bytes(), len)
        };
        let percent;
        if in_backslash && r == b"%" {
            if let Some((y, end)) = percent_char(b, at) {
                percent = [y];
                (r, len) = (&percent, end - at);
            }
        }
        got.get_mut(n..n + r.len())?.copy_from_slice(r);
        n += r.len();
        at += len;
    }
    Some((got, at))
}

/// The ASCII character a `%XX` escape at `at` (in any form, not nested) stands for inside a
/// `\xHH` escape, and where it ends.
fn percent_char(b: &[u8], at: usize) -> Option<(u8, usize)> {
    let (intro, next) = escape_chars(b, at, 1, false)?;
    if intro[0] != b'%' {
        return None;
    }
    let ([hi, lo], end) = escape_chars(b, next, 2, false)?;
    let y = hex(hi)? << 4 | hex(lo)?;
    y.is_ascii().then_some((y, end))
}

/// How a non-ASCII character reads inside an escape: its digits (`３`, `٣`, `㉞`) or the escape
/// character it is a form of (`％`, `＼`, `ｘ`, `ａ`); `None` for anything else.
fn escape_reading(c: char) -> Option<&'static str> {
    match reading(c) {
        Some(v) if !v.is_empty() && v.bytes().all(|d| d.is_ascii_digit()) => Some(v),
        Some(_) => None,
        None => {
            let table = super::chars::ESCAPE_CHARS;
            let k = table.binary_search_by_key(&(c as u32), |&(c, _)| c).ok()?;
            Some(table[k].1)
        }
    }
}

/// Whether a non-ASCII character may start an escape: the forms of `%` and `\` (`％`, `﹪`,
/// `＼`, `﹨`), tested before the table is asked.
fn escape_intro(c: char) -> bool {
    matches!(c, '\u{FF05}' | '\u{FE6A}' | '\u{FF3C}' | '\u{FE68}')
}

/// How an ASCII byte reads.
#[inline(always)]
fn ascii_view(c: u8) -> View {
    match c {
        b'0'..=b'9' => View::Digit(c - b'0'),
        b' ' | b'\t' | b'\n' | 0x0B..=0x0D | 0x1C..=0x1F => View::Space,
        b'-' | b'.' | b',' | b'/' | b'_' | b'+' => View::Sep,
        _ => View::Other,
    }
}

/// What a character reads as in a run, as ASCII: its digits (`4` for `４`, `11` for `⑪`), a
/// space for a separator, nothing for a character that shows nothing; `None` for a character
/// that ends a run.
pub fn reading(c: char) -> Option<&'static str> {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let view = if c.is_ascii() {
        ascii_view(c as u8)
    } else {
        char_view(c)
    };
    match view {
        View::Digit(d) => Some(DIGITS[usize::from(d)]),
        View::Space | View::Sep => Some(" "),
        View::Ignore => Some(""),
        View::Many(v) => Some(v),
        View::Other => None,
    }
}

/// `s` with every digit of any script as its ASCII digit (`⑪` as `11`) and every non-ASCII
/// separator as a space, other characters as they are (for reading a cell that should hold one
/// number).
pub fn ascii_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match reading(c) {
            Some(r) if !c.is_ascii() => out.push_str(r),
            _ => out.push(c),
        }
    }
    out
}

/// How a non-ASCII character reads (the generated table; CJK ideographs, kana and Hangul are
/// answered without a look-up).
fn char_view(c: char) -> View {
    let cp = c as u32;
    if (0x3400..=0x9FFF).contains(&cp)
        || (0xAC00..=0xD7A3).contains(&cp)
        || (0x3040..=0x3098).contains(&cp)
        || (0x30A1..=0x30FA).contains(&cp)
    {
        return View::Other;
    }
    match super::chars::CHARS.binary_search_by_key(&cp, |&(c, _)| c) {
        Ok(k) => {
            let v = super::chars::CHARS[k].1;
            match v.as_bytes() {
                [d @ b'0'..=b'9'] => View::Digit(d - b'0'),
                [b' '] if c.is_whitespace() => View::Space,
                [b' '] => View::Sep,
                [] => View::Ignore,
                _ => View::Many(v),
            }
        }
        Err(_) => View::Other,
    }
}

/// The UTF-8 character whose bytes start at `b[0]`, and its length.
fn utf8_char(b: &[u8]) -> Option<(char, usize)> {
    let len = match b[0] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// The unit at `b[i]`: its length in bytes, how it reads, and whether it is an escape read as
/// what it stands for (in the readings that decode escapes: `%34` is one unit, a `4`; as
/// written, each of its characters is one: `%` ends a run, `34` are digits).
fn unit_at(b: &[u8], i: usize, reading: Reading) -> (usize, View, bool) {
    let escapes = reading != Reading::Written;
    let nested = reading == Reading::Decoded;
    let c = b[i];
    if c < 0x80 {
        if escapes && (c == b'%' || c == b'\\') {
            if let Some((len, view)) = code_escape(b, i) {
                return (len, view, true);
            }
            if let Some((len, view)) = escaped_unit(b, i, nested) {
                return (len, view, true);
            }
        }
        return (1, ascii_view(c), false);
    }
    match utf8_char(&b[i..]) {
        Some((ch, len)) => {
            if escapes && escape_intro(ch) {
                if let Some((len, view)) = escaped_unit(b, i, nested) {
                    return (len, view, true);
                }
            }
            (len, char_view(ch), false)
        }
        None => (1, View::Other, false),
    }
}

/// The unit a JSON or JavaScript escape at `b[i]` writes: `\u0034` and `%u0034` (IIS, the old
/// `escape()`) a `4`, `\uff14` a `４` (a JSON writer that escapes every non-ASCII character
/// writes a full-width number so), `\ud835\udfce` (a surrogate pair) `𝟎`; `\t`, `\n`, `\r`,
/// `\f` white space and `\/` a slash (nginx's `escape=json`).
fn code_escape(b: &[u8], i: usize) -> Option<(usize, View)> {
    let hex4 = |at: usize| -> Option<u32> {
        let h = b.get(at..at + 4)?;
        h.iter()
            .try_fold(0u32, |n, &c| Some(n << 4 | u32::from(hex(c)?)))
    };
    match (b[i], *b.get(i + 1)?) {
        (b'\\', b't' | b'n' | b'r' | b'f') => Some((2, View::Space)),
        (b'\\', b'/') => Some((2, View::Sep)),
        (_, b'u') => {
            let cp = hex4(i + 2)?;
            let (cp, len) = match cp {
                0xD800..=0xDBFF => match b.get(i + 6..i + 8) {
                    Some([x, b'u']) if *x == b[i] => match hex4(i + 8) {
                        Some(lo @ 0xDC00..=0xDFFF) => {
                            (0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), 12)
                        }
                        _ => return Some((6, View::Other)),
                    },
                    _ => return Some((6, View::Other)),
                },
                _ => (cp, 6),
            };
            let view = match char::from_u32(cp) {
                Some(c) if c.is_ascii() => ascii_view(c as u8),
                Some(c) => char_view(c),
                None => View::Other,
            };
            Some((len, view))
        }
        _ => None,
    }
}

/// The unit an escape at `b[i]` writes, when there is one: a byte, or a multi-byte character
/// written as escapes (`%EF%BC%94`, `\xef\xbc\x94`). A `\xHH` escape of a byte that starts
/// no UTF-8 character reads as the character U+00HH, as in a Python or JavaScript string and as
/// pan-scan reads it: `\xa0` is a no-break space, `\xb9` is `¹`, so `1`. (The evidence writers
/// write a log's bytes that are not UTF-8 this way: the raw byte 0xA0 of a Latin-1 log between
/// digit groups is `\xa0` in the output.)
fn escaped_unit(b: &[u8], i: usize, nested: bool) -> Option<(usize, View)> {
    let (x, len, backslash) = escape_at(b, i, nested)?;
    if x < 0x80 {
        return Some((len, ascii_view(x)));
    }
    let alone = if backslash {
        char_view(char::from(x))
    } else {
        View::Other
    };
    let want = match x {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return Some((len, alone)),
    };
    let mut bytes = [x, 0, 0, 0];
    let mut at = i + len;
    for slot in bytes.iter_mut().take(want).skip(1) {
        match (at < b.len()).then(|| escape_at(b, at, nested)).flatten() {
            Some((y, l, _)) => {
                *slot = y;
                at += l;
            }
            None => return Some((len, alone)),
        }
    }
    // A reader of `\xHH` as U+00HH sees a digit where a byte of the sequence is `²`, `³` or
    // `¹` (`\xdb\xb9` is `Û¹`, a 1, not the `۹` of its UTF-8 reading): that reading wins, so
    // the digit is never hidden inside a character read as something else.
    let latin1_digit = |y: &u8| matches!(char_view(char::from(*y)), View::Digit(_));
    if backslash && bytes[1..want].iter().any(latin1_digit) {
        return Some((len, alone));
    }
    Some(match utf8_char(&bytes[..want]) {
        Some((ch, _)) => (at - i, char_view(ch)),
        None => (len, alone),
    })
}

/// One digit of a run: its value and the unit it came from.
#[derive(Clone, Copy)]
struct Digit {
    value: u8,
    /// The unit's byte range.
    start: usize,
    end: usize,
    /// Separators between this digit and the one before it.
    seps_before: usize,
}

/// Walks the text unit by unit, collecting runs; calls `hit` for every card number found, and
/// stops early when it returns true. Returns whether any was found.
///
/// Read three ways when the text holds an escape ([`Reading`]): an escape can take a card
/// number's first digit for its own (`%B4111…`, a card's magnetic track, reads as the byte
/// `%B4` then fifteen digits; `100%4111…` as `%41`, `C:\x4111…` as `\x41`), and the number
/// is whole only as written, or as decoded once (`%254111…` is `%4111…`).
fn scan(b: &[u8], narrowing: Narrowing, hit: &mut dyn FnMut(Found) -> bool) -> bool {
    let mut decoded = false;
    let mut found = Vec::new();
    let mut keep = |f| {
        found.push(f);
        false
    };
    scan_as(b, narrowing, Reading::Decoded, &mut decoded, &mut keep);
    if decoded {
        for reading in [Reading::Once, Reading::Written] {
            let mut more = Vec::new();
            scan_as(b, narrowing, reading, &mut decoded, &mut |f| {
                more.push(f);
                false
            });
            if !more.is_empty() {
                found = merge(found, more);
            }
        }
    }
    let any = !found.is_empty();
    for f in found {
        if hit(f) {
            return true;
        }
    }
    any
}

/// The spans of both readings, in order and apart: those read with the escapes decoded, and
/// those read as written that overlap none of them. A span of the second reading that overlaps
/// one of the first (`\xdb\xb3782…` is `Û³782…` decoded and `b3782…` as written) is left to
/// the next pass of [`mask_bytes`], which reads the text again once the first is masked.
fn merge(decoded: Vec<Found>, written: Vec<Found>) -> Vec<Found> {
    let apart: Vec<Found> = written
        .into_iter()
        .filter(|w| !decoded.iter().any(|d| d.start < w.end && w.start < d.end))
        .collect();
    if apart.is_empty() {
        return decoded;
    }
    let mut all = decoded;
    all.extend(apart);
    all.sort_by_key(|f| f.start);
    all
}

/// Whether a run read otherwise than [`Reading::Decoded`] may start inside the escape that ends
/// at `at` and hold a card number: the other readings differ from it only in a run that starts
/// inside an escape (after its `%` or `\x`, which end a run read as written), with at most its
/// last two characters as digits, and goes on after it. That needs 11 more digits before
/// anything that ends such a run (an ASCII character that is no digit or separator, `%` and `\`
/// among them); a non-ASCII character is counted as two (`⑪`), its other bytes as none. Most
/// escapes of a log (`%20UNION%20SELECT`, `%2F`) are followed by no such thing, and their text
/// is read once.
fn may_go_on(b: &[u8], mut at: usize) -> bool {
    let want = MIN_DIGITS - 2;
    let mut digits = 0;
    while at < b.len() && digits < want {
        let c = b[at];
        match c {
            b'0'..=b'9' => digits += 1,
            0xC0..=0xFF => digits += 2,
            0x80..=0xBF => {}
            _ if matches!(ascii_view(c), View::Space | View::Sep) => {}
            _ => break,
        }
        at += 1;
    }
    digits >= want
}

/// How a text's escapes are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Each escape as what it stands for, through an escaped `%` or `\` that starts another
    /// (`%2534` is `4`): the first reading, and the only one of a text without escapes.
    Decoded,
    /// Each escape as what it stands for, once (`%2534` is `%34`, so `%`, `3`, `4`).
    Once,
    /// Every character as written (`%34` is `%`, `3`, `4`).
    Written,
}

/// [`scan`] in one reading (`decoded` set when an escape read as what it stands for may start a
/// card number read otherwise: [`may_go_on`]).
fn scan_as(
    b: &[u8],
    narrowing: Narrowing,
    reading: Reading,
    decoded: &mut bool,
    hit: &mut dyn FnMut(Found) -> bool,
) -> bool {
    let mut run: Vec<Digit> = Vec::new();
    // Separators since the last digit, white space in a row counted once…
    let mut seps = 0usize;
    // …and each counted (more than [`MAX_SEPARATORS`] of them between two digits of the run
    // make it `wide`: a reader that counts every space, as pan-scan does, sees two runs there).
    let mut raw = 0usize;
    let mut wide = false;
    // The unit before was white space (any number in a row count as one separator).
    let mut after_space = false;
    let mut any = false;
    let mut i = 0;
    // Ends the current run: evaluates it, then forgets it.
    let mut flush = |run: &mut Vec<Digit>, any: &mut bool, wide: &mut bool| -> bool {
        let stop = run.len() >= MIN_DIGITS && evaluate(b, run, narrowing, *wide, hit, any);
        for d in run.iter_mut() {
            d.value = 0;
        }
        run.clear();
        *wide = false;
        stop
    };
    while i < b.len() {
        // Skip quickly over bytes that cannot be part of a run.
        if !run_byte(b[i]) {
            if !run.is_empty() && flush(&mut run, &mut any, &mut wide) {
                return true;
            }
            seps = 0;
            raw = 0;
            after_space = false;
            i += 1;
            continue;
        }
        // Most units of a run are ASCII digits: taken without the general reading below.
        if b[i].is_ascii_digit() {
            wide |= push_digit(&mut run, b[i] - b'0', (i, i + 1), &mut seps, &mut raw);
            after_space = false;
            i += 1;
            continue;
        }
        let (len, view, escaped) = unit_at(b, i, reading);
        if escaped && !*decoded {
            *decoded = may_go_on(b, i + len);
        }
        match view {
            View::Digit(d) => {
                wide |= push_digit(&mut run, d, (i, i + len), &mut seps, &mut raw);
                after_space = false;
            }
            View::Space | View::Sep => {
                raw += 1;
                if !(after_space && matches!(view, View::Space)) {
                    seps += 1;
                }
                after_space = matches!(view, View::Space);
                if seps > MAX_SEPARATORS && !run.is_empty() && flush(&mut run, &mut any, &mut wide)
                {
                    return true;
                }
            }
            View::Ignore => {}
            View::Many(v) => {
                for c in v.bytes() {
                    if c == b' ' {
                        seps += 1;
                        raw += 1;
                    } else {
                        wide |= push_digit(&mut run, c - b'0', (i, i + len), &mut seps, &mut raw);
                    }
                }
                after_space = false;
            }
            View::Other => {
                if !run.is_empty() && flush(&mut run, &mut any, &mut wide) {
                    return true;
                }
                seps = 0;
                raw = 0;
                after_space = false;
            }
        }
        i += len;
    }
    if !run.is_empty() && flush(&mut run, &mut any, &mut wide) {
        return true;
    }
    any
}

/// Adds a digit of the unit `start..end` to the run, with the separators since the digit before
/// (`seps`, white space in a row once; `raw`, each one), which it then forgets; whether more
/// than [`MAX_SEPARATORS`] of them came before it (a wide gap, see [`evaluate`]).
#[inline(always)]
fn push_digit(
    run: &mut Vec<Digit>,
    value: u8,
    (start, end): (usize, usize),
    seps: &mut usize,
    raw: &mut usize,
) -> bool {
    let wide = *raw > MAX_SEPARATORS && !run.is_empty();
    run.push(Digit {
        value,
        start,
        end,
        seps_before: if run.is_empty() { 0 } else { *seps },
    });
    *seps = 0;
    *raw = 0;
    wide
}

/// Tests a run of 13 or more digits; reports each card number in it. Returns true when `hit`
/// asked to stop.
fn evaluate(
    b: &[u8],
    run: &[Digit],
    narrowing: Narrowing,
    wide: bool,
    hit: &mut dyn FnMut(Found) -> bool,
    any: &mut bool,
) -> bool {
    // Groups: digits written without a separator between them.
    let mut groups: Vec<(usize, usize)> = Vec::new(); // [start, end) indexes into `run`
    for (k, d) in run.iter().enumerate() {
        if k == 0 || d.seps_before > 0 {
            groups.push((k, k + 1));
        } else {
            groups.last_mut().expect("a group").1 = k + 1;
        }
    }
    let mut digits = [0u8; MAX_DIGITS];
    let mut test = |from: usize, to: usize| -> bool {
        // Groups `from..to`.
        let (s, e) = (groups[from].0, groups[to - 1].1);
        let n = e - s;
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&n) {
            return false;
        }
        for (slot, d) in digits.iter_mut().zip(&run[s..e]) {
            *slot = b'0' + d.value;
        }
        let ds = &digits[..n];
        (!narrowing.iin || iin_plausible(ds))
            && (!narrowing.grouping || grouped_like_a_card(&groups[from..to]))
            && luhn_valid(ds)
    };
    // Which digits of the run are card digits, and which of them the mask shows. A digit that
    // two card numbers share (overlapping stretches of groups) is shown only when both show it.
    let mut covered = vec![false; run.len()];
    let mut shown = vec![true; run.len()];
    // `joined[g]`: a card number spans groups `g` and `g + 1` (else a span ends between them).
    let mut joined = vec![false; groups.len()];
    // `counted[g]`: a counted card number starts at group `g`.
    let mut counted = vec![false; groups.len()];
    let mut mark = |from: usize, to: usize| {
        let (s, e) = (groups[from].0, groups[to - 1].1);
        let n = e - s;
        let lead = n.saturating_sub(10).min(6);
        for k in s..e {
            covered[k] = true;
            let i = k - s;
            shown[k] &= i < lead || i >= n - 4;
        }
        for j in joined.iter_mut().take(to - 1).skip(from) {
            *j = true;
        }
    };
    let one_number = !narrowing.grouping || written_as_one_number(&groups);
    // A run of 13–19 digits grouped like one number that starts like a card is a card number or
    // not, whole (a mistyped number stays as written). One that starts like no card is searched
    // stretch by stretch below: `2018 3782 822463 10005`, a year before an Amex number, is 19
    // digits grouped like one number.
    let starts_like_a_card = || {
        let mut lead = [0u8; 4];
        for (slot, d) in lead.iter_mut().zip(run) {
            *slot = b'0' + d.value;
        }
        !narrowing.iin || iin_plausible(&lead)
    };
    // A run with a wide gap (white space in a row counted once made it one run) is searched
    // stretch by stretch: the stretches on either side of the gap are runs of their own to a
    // reader that counts every space.
    let as_one = !wide && run.len() <= MAX_DIGITS && one_number && starts_like_a_card();
    if as_one {
        if test(0, groups.len()) {
            mark(0, groups.len());
            counted[0] = true;
        }
    } else if groups.len() > 1 {
        // Every stretch of whole groups that is a card number is masked: a card number
        // followed by its expiry, two card numbers in one run, or one after a version or an
        // order number (`Mozilla/5.0 4111 1111 1111 1111`).
        let mut valid: Vec<(usize, usize)> = Vec::new();
        // A stretch holds at most 19 digits, so at most 19 groups: linear in the run's length
        // (a hostile `1 1 1 …` of millions of digits must not take quadratic time).
        for from in 0..groups.len() {
            for to in from + 1..=groups.len() {
                if groups[to - 1].1 - groups[from].0 > MAX_DIGITS {
                    break;
                }
                if test(from, to) {
                    mark(from, to);
                    valid.push((from, to));
                }
            }
        }
        // How many card numbers: the most stretches that do not overlap (earliest end first).
        valid.sort_by_key(|&(from, to)| (to, from));
        let mut counted_to = 0;
        for (from, to) in valid {
            if from >= counted_to {
                counted[from] = true;
                counted_to = to;
            }
        }
    }
    digits.zeroize();
    if !covered.iter().any(|&c| c) {
        return false;
    }
    *any = true;
    // One replacement per span of covered groups that card numbers join.
    let mut g = 0;
    while g < groups.len() {
        if !covered[groups[g].0] {
            g += 1;
            continue;
        }
        let first = g;
        while joined[g] {
            g += 1;
        }
        let (s, e) = (groups[first].0, groups[g].1);
        let mut f = masked_span(b, &run[s..e], &shown[s..e]);
        f.cards = counted[first..=g].iter().filter(|&&c| c).count();
        g += 1;
        if hit(f) {
            return true;
        }
    }
    false
}

/// The replacement of a card number's span: each digit unit by its digits, those the mask hides
/// as `*`, each separator between them as written.
fn masked_span(b: &[u8], card: &[Digit], shown: &[bool]) -> Found {
    let n = card.len();
    let mut out = String::with_capacity(n + 8);
    let mut k = 0;
    while k < n {
        let d = card[k];
        if k > 0 && card[k - 1].end < d.start {
            // The separators between two digit units, as written.
            out.push_str(&String::from_utf8_lossy(&b[card[k - 1].end..d.start]));
        }
        // Every digit of this unit (a unit such as `⑫` holds more than one).
        while k < n && card[k].start == d.start {
            out.push(if shown[k] {
                char::from(b'0' + card[k].value)
            } else {
                '*'
            });
            k += 1;
        }
    }
    Found {
        start: card[0].start,
        end: card[n - 1].end,
        masked: out,
        cards: 0,
    }
}

/// The start of a payment card's number: 3–6 (ISO/IEC 7812 industries 3 to 6: every brand
/// [`super::Brand::from_iin`] knows, and Maestro, RuPay, Elo, Verve… that it does not), the
/// issued ranges of industry 2 (Mir's 2200–2204, Mastercard's 2221–2720), and 81/82 (UnionPay's
/// and RuPay's newer ranges), and the national schemes that issue from 8 and 9: UzCard's 8600,
/// Humo's 9860, Troy's 9792 and Belkart's 9112. Industry 2 is not taken whole: a date or a
/// timestamp (`20211222235904`, `shopify-20211222-235904.csv`) starts with 20 or 21, and no card
/// does; nor are 1 (UATP's airline cards: a Unix time in milliseconds, `1623812345678`, is 13
/// digits from 1), 8 and 9 (phone numbers, tracking numbers).
fn iin_plausible(d: &[u8]) -> bool {
    let p4 = || {
        d[..4]
            .iter()
            .fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))
    };
    match d[0] {
        b'3'..=b'6' => true,
        b'2' => (2200..=2204).contains(&p4()) || (2221..=2720).contains(&p4()),
        b'8' => matches!(d[1], b'1' | b'2') || p4() == 8600,
        b'9' => matches!(p4(), 9112 | 9792 | 9860),
        _ => false,
    }
}

/// Whether a run's groups are those of one number written in parts, as card numbers are: one
/// group, one digit at a time, or a first group of 4 to 6 digits followed by groups of 3 to 6
/// (the last may be shorter): `4111 1111 1111 1111`, `3782 822463 10005`, `4477 2000 0000 0000
/// 008`. `200 4111111111111111` and `000-4532.0192.7364.1234` are two numbers.
fn written_as_one_number(groups: &[(usize, usize)]) -> bool {
    let len = |k: usize| groups[k].1 - groups[k].0;
    groups.len() == 1
        || groups.iter().all(|(s, e)| e - s == 1)
        || ((4..=6).contains(&len(0))
            && (1..groups.len()).all(|k| len(k) <= 6 && (len(k) >= 3 || k + 1 == groups.len())))
}

/// Card-like grouping: one group, all groups of one digit, or every group but the last of three
/// digits or more.
fn grouped_like_a_card(groups: &[(usize, usize)]) -> bool {
    groups.len() == 1
        || groups.iter().all(|(s, e)| e - s == 1)
        || groups[..groups.len() - 1].iter().all(|(s, e)| e - s >= 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::with_check_digit;

    fn m(s: &str) -> String {
        mask(s).0.into_owned()
    }

    #[test]
    fn every_written_form_is_masked() {
        let cases = [
            ("4111111111111111", "411111******1111"),
            ("4111.1111.1111.1111", "4111.11**.****.1111"),
            ("4111 1111  1111 1111", "4111 11**  **** 1111"),
            ("４１１１１１１１１１１１１１１１", "411111******1111"),
            ("٤١١١١١١١١١١١١١١١", "411111******1111"),
            ("४१११११११११११११११", "411111******1111"),
            ("4111–1111–1111–1111", "4111–11**–****–1111"),
            ("4111ー1111ー1111ー1111", "4111ー11**ー****ー1111"),
            (
                "4111\u{200b}1111\u{200b}1111\u{200b}1111",
                "4111\u{200b}11**\u{200b}****\u{200b}1111",
            ),
            (
                "4111\u{ad}1111\u{ad}1111\u{ad}1111",
                "4111\u{ad}11**\u{ad}****\u{ad}1111",
            ),
            ("4111%2D1111%2D1111%2D1111", "4111%2D11**%2D****%2D1111"),
            (
                "%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31",
                "411111******1111",
            ),
            (
                "4111\\x2d1111\\x2d1111\\x2d1111",
                "4111\\x2d11**\\x2d****\\x2d1111",
            ),
            (
                "4111\u{3000}1111\u{3000}1111\u{3000}1111",
                "4111\u{3000}11**\u{3000}****\u{3000}1111",
            ),
            ("4111/1111/1111/1111", "4111/11**/****/1111"),
            ("4111_1111_1111_1111", "4111_11**_****_1111"),
            ("4111·1111·1111·1111", "4111·11**·****·1111"),
            ("4111－1111－1111－1111", "4111－11**－****－1111"),
            ("4111%201111%201111%201111", "4111%2011**%20****%201111"),
            ("4111+1111+1111+1111", "4111+11**+****+1111"),
            ("378282246310005", "37828******0005"),
            ("%EF%BC%94111111111111111", "411111******1111"),
            // Escaped twice: `%25` then `34`, `%5C` then `x34`.
            (
                "%2534%2531%2531%2531%2531%2531%2531%2531%2531%2531%2531%2531%2531%2531%2531%2531",
                "411111******1111",
            ),
            (
                "%5Cx34%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31%5Cx31",
                "411111******1111",
            ),
            (
                "4111%25201111%25201111%25201111",
                "4111%252011**%2520****%25201111",
            ),
            (
                "Mozilla/5.0 4111 1111 1111 1111",
                "Mozilla/5.0 4111 11** **** 1111",
            ),
            ("200 4111111111111111", "200 411111******1111"),
            ("P-000-4111.1111.1111.1111", "P-000-4111.11**.****.1111"),
            // Enclosed numbers, each read as two digits (NFKC): nine characters, sixteen digits.
            ("④①⑪⑪⑪⑪⑪⑪⑪", "411111******1111"),
            ("㉟㉚⑪⑬㉝㉚⓪⓪⓪⓪", "353011******0000"),
            ("㊲⑭㊾⑥㉟㊴⑧㊸①", "37144******8431"),
            // Escapes whose characters are written in other forms, read after normalising:
            // `％３４` is `%34` is `4`; `㉞` gives both hex digits at once.
            ("％３４％３１％３１％３１%31%31%31%31%31%31%31%31%31%31%31%31", "411111******1111"),
            ("＼ｘ３４\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31\\x31", "411111******1111"),
            ("%٣٤﹪31﹨x31%㉛%3１11111111111", "411111******1111"),
            ("4111％２０1111％２０1111％２０1111", "4111％２０11**％２０****％２０1111"),
            // `\xHH` of a byte that starts no UTF-8 character is U+00HH: `\xa0` a no-break
            // space, `\xad` a soft hyphen, `\xb9` `¹`.
            ("4111\\xa01111\\xad1111\\xb71111", "4111\\xa011**\\xad****\\xb71111"),
            (
                "4\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9\\xb9",
                "411111******1111",
            ),
            ("4111%5Cxa01111%5Cxa01111%5Cxa01111", "4111%5Cxa011**%5Cxa0****%5Cxa01111"),
            // A `\xHH` escape whose characters are written `%XX` (decoded first, as a URL):
            // `\x3%34`, `\%78%33%34`, `%5C%78%33%34` and `%5Cx3%34` are all `\x34`.
            (
                "\\x3%34\\x%33%31\\%78%33%31%5C%78%33%31%5Cx3%31\\x3%311111111111",
                "411111******1111",
            ),
            (
                "4111\\x%32%301111\\x2%301111%5C%78%32%301111",
                "4111\\x%32%3011**\\x2%30****%5C%78%32%301111",
            ),
            // `\xdb\xb3` is `Û³` read so (a 3 starting the run), `۳` read as UTF-8: the first
            // reading is taken, so a digit is never hidden in a character read as another.
            ("\\xdb\\xb378282246310005", "\\xdb37828******0005"),
            ("\\xdf\\xb2223003122003222", "\\xdf222300******3222"),
        ];
        for (raw, want) in cases {
            assert_eq!(m(raw), want, "{raw:?}");
            assert!(holds_card(raw.as_bytes()), "{raw:?}");
        }
    }

    /// The digits a text shows, as ASCII, with `*` for each hidden one.
    fn shown(t: &str) -> String {
        t.chars()
            .map(|c| match c {
                '*' => "*",
                c => reading(c)
                    .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
                    .unwrap_or(""),
            })
            .collect()
    }

    /// Forms built to slip past the detector (each once written whole into an output): an
    /// escape that takes the number's first digit (a magnetic track's `%B`, a `%` or `\x`
    /// before it, an escape decoded once), separators that show nothing or that repeat,
    /// line breaks, a damaged byte, bullets and slashes, digits of scripts added to Unicode
    /// after 14.0, JSON escapes, and the national schemes that start with 8 and 9.
    #[test]
    fn forms_built_to_slip_past_are_masked() {
        let v = with_check_digit("453201068467521");
        let masked = format!("{}******{}", &v[..6], &v[12..]);
        let grouped = |sep: &str| [&v[..4], &v[4..8], &v[8..12], &v[12..]].join(sep);
        let script = |zero: u32| {
            v.chars()
                .map(|d| char::from_u32(zero + d.to_digit(10).unwrap()).unwrap())
                .collect::<String>()
        };
        let mut cases = vec![
            (
                format!("%B{v}^DOE/JOHN^2512101?"),
                format!("{masked}2512101"),
            ),
            (format!("100%{v}"), format!("100{masked}")),
            (format!("100％{v}"), format!("100{masked}")),
            (format!("C:\\x{v}"), masked.clone()),
            (format!("%25{v}"), format!("25{masked}")),
            (format!("{}\u{ff0d}{}", &v[..8], &v[8..]), masked.clone()),
            (format!("{}\u{fffd}{}", &v[..8], &v[8..]), masked.clone()),
            // White space in a row is one separator, yet a number before four spaces is one
            // to a reader that counts them all.
            (format!("{}    0", grouped(" ")), format!("{masked}0")),
            (script(0x1CCF0), masked.clone()),
            (script(0x11F50), masked.clone()),
            (script(0x1E4F0), masked.clone()),
        ];
        for sep in [
            "\u{200b}\u{200b}\u{200b}\u{200b}",
            "\u{200b}\u{200c}\u{200d}\u{2060}",
            "\u{ad}\u{ad}\u{ad}\u{ad}\u{ad}",
            "%E2%80%8B%E2%80%8B%E2%80%8B%E2%80%8B",
            "\u{3164}\u{3164}",
            "    ",
            "%20%20%20%20",
            " -  ",
            "\n",
            "\r\n",
            "\n\n\n\n",
            "•",
            "∙",
            "⋅",
            "⸱",
            "∕",
            "⁄",
            "⧸",
            "\u{2800}",
            "。",
            "｡",
            "～",
            "\u{2028}",
            "\u{85}",
            "\u{fffc}",
        ] {
            cases.push((grouped(sep), masked.clone()));
        }
        for prefix in [
            "979293038496130",
            "860012345678901",
            "986012345678901",
            "911212345678901",
        ] {
            let n = with_check_digit(prefix);
            cases.push((n.clone(), format!("{}******{}", &n[..6], &n[12..])));
        }
        for (raw, want) in &cases {
            assert!(holds_card(raw.as_bytes()), "{raw:?}");
            let out = m(raw);
            assert!(!holds_card(out.as_bytes()), "{raw:?} -> {out:?}");
            if let Some(sep) = ["%E2%80%8B", "%20"].iter().find(|e| raw.contains(*e)) {
                // The escapes' hex digits are no digits of the number: compared whole.
                let parts = [&masked[..4], &masked[4..8], &masked[8..12], &masked[12..]];
                assert_eq!(out, parts.join(sep.repeat(4).as_str()));
            } else {
                assert_eq!(shown(&out), *want, "{raw:?} -> {out:?}");
            }
        }
        // JSON and JavaScript escapes (a JSON writer that escapes every non-ASCII character, a
        // surrogate pair, nginx's `escape=json`, IIS's `%u`): what shows is the mask's digits,
        // each separator as written.
        let escaped = |form: &dyn Fn(u32) -> String| {
            v.chars()
                .map(|d| form(d.to_digit(10).unwrap()))
                .collect::<String>()
        };
        let parts = [&masked[..4], &masked[4..8], &masked[8..12], &masked[12..]];
        let exact = [
            (
                escaped(&|d| format!("\\u{:04x}", 0xFF10 + d)),
                masked.clone(),
            ),
            (escaped(&|d| format!("\\u{:04X}", 0x30 + d)), masked.clone()),
            (escaped(&|d| format!("%u{:04x}", 0x30 + d)), masked.clone()),
            (
                escaped(&|d| {
                    let c = 0x1D7CE + d - 0x10000;
                    format!(
                        "\\u{:04x}\\u{:04x}",
                        0xD800 + (c >> 10),
                        0xDC00 + (c & 0x3FF)
                    )
                }),
                masked.clone(),
            ),
            (grouped("\\t"), parts.join("\\t")),
            (grouped("\\u00a0\\u00a0"), parts.join("\\u00a0\\u00a0")),
            (grouped("\\/"), parts.join("\\/")),
        ];
        for (raw, want) in &exact {
            assert!(holds_card(raw.as_bytes()), "{raw:?}");
            assert_eq!(m(raw), *want, "{raw:?}");
        }
        // What is still not a card number: a Unix time in milliseconds (13 digits from 1), a
        // number from 9 of no scheme, a separator of five characters.
        for raw in [
            with_check_digit("162381234567"),
            with_check_digit("912345678901234"),
            grouped(" - - "),
        ] {
            assert_eq!(m(&raw), raw);
        }
    }

    /// A digit with a combining mark on it reads as the digit: keycaps (`4️⃣`: `4`, U+FE0F,
    /// U+20E3) and accents (`4́`) join the digits of a run.
    #[test]
    fn digits_with_combining_marks_are_masked() {
        for mark in ["\u{fe0f}\u{20e3}", "\u{20e3}", "\u{301}"] {
            let on =
                |digits: &str| -> String { digits.chars().map(|d| format!("{d}{mark}")).collect() };
            assert_eq!(
                m(&on("4111111111111111")),
                on("411111******1111"),
                "{mark:?}"
            );
        }
        // A mark on a digit of a number that is no card number changes nothing.
        assert_eq!(m("v1\u{301}.2"), "v1\u{301}.2");
    }

    /// The look-up's shortcut for ideographs, kana and Hangul skips no character of the table
    /// (the kana voicing marks and `゠` are separators).
    #[test]
    fn every_character_of_the_table_is_read_as_listed() {
        for &(cp, view) in super::super::chars::CHARS {
            let c = char::from_u32(cp).expect("a character");
            assert_eq!(reading(c), Some(view), "U+{cp:04X}");
        }
        assert_eq!(reading('あ'), None);
        assert_eq!(reading('ア'), None);
    }

    /// An escape may start at exactly the table's forms of `%` and `\\` (the look-up asks
    /// [`escape_intro`] first), and the table is sorted for its binary search.
    #[test]
    fn escapes_start_at_every_form_of_percent_and_backslash() {
        let table = super::super::chars::ESCAPE_CHARS;
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        for cp in 0x80..=0x10FFFF {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let listed = matches!(escape_reading(c), Some("%" | "\\"));
            assert_eq!(escape_intro(c), listed, "U+{cp:04X}");
        }
        assert_eq!(escape_reading('ａ'), Some("a"));
        assert_eq!(escape_reading('㉞'), Some("34"));
        assert_eq!(escape_reading('⒈'), None);
    }

    /// The pre-check needs 13 bytes that can start a digit in a stretch: no character may read
    /// as more digits than it brings such bytes, or a card number written in characters that
    /// read as two digits each (`⑪`, `㉑`, `㊿`: nine characters, sixteen digits) would pass
    /// it unseen, unmasked.
    #[test]
    fn no_character_reads_as_more_digits_than_it_has_digit_start_bytes() {
        let mut two = 0;
        for &(cp, view) in super::super::chars::CHARS {
            let c = char::from_u32(cp).expect("a character");
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let digits = view.bytes().filter(u8::is_ascii_digit).count();
            let starts = bytes.iter().filter(|&&b| digit_start_byte(b)).count();
            assert!(digits <= starts, "U+{cp:04X} reads as {view:?}");
            two += usize::from(digits == 2);
        }
        assert!(two > 40, "the table has its two-digit characters");
    }

    #[test]
    fn context_is_kept_and_bounds_respected() {
        assert_eq!(
            m("card: 4111-1111-1111-1111 exp 12/25."),
            "card: 4111-11**-****-1111 exp 12/25."
        );
        // A card number followed by its expiry: the groups that are the card number.
        assert_eq!(m("4111 1111 1111 1111 12/25"), "4111 11** **** 1111 12/25");
        // Preceded by an order number.
        assert_eq!(
            m("order 123456 4111111111111111"),
            "order 123456 411111******1111"
        );
    }

    /// A run of millions of digits one by one is read in linear time (a hostile cell). Not a
    /// speed figure: the bound only keeps a quadratic search (hours) from hanging the suite.
    #[test]
    fn a_huge_run_takes_linear_time() {
        let s = "1 ".repeat(2_000_000);
        let t = std::time::Instant::now();
        assert_eq!(find(&s).len(), 0);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn non_card_digits_stay_byte_for_byte() {
        for s in [
            "feed-id=41111111111111111111",   // 20 digits
            "cx=411111111111111111111",       // 21 digits
            "q=666f726d2d64617461",           // hex
            "4111111111111112",               // Luhn-invalid
            "10.1.2.3, 172.16.5.4, 10.0.0.1", // short groups
            "1619568000001 1619568000002",    // timestamps: 26 digits in two groups, no card
            "2021-12-22 10:00:00 +0900",
            "0000000000000000", // no issuer
        ] {
            assert_eq!(m(s), s, "{s}");
        }
    }

    /// Industry 2 is only its issued ranges: Luhn-valid dates and timestamps (one in ten is)
    /// stay as written, and Mir and Mastercard's 2-series are card numbers.
    #[test]
    fn dates_are_not_card_numbers_but_the_two_series_is() {
        let stamp = with_check_digit("2021122223590");
        assert_eq!(stamp, "20211222235904");
        for s in [
            stamp.clone(),
            format!("shopify-{}-{}.csv", &stamp[..8], &stamp[8..]),
            format!("ts={stamp}&id=1"),
            with_check_digit("2100123123595"),
            with_check_digit("220512312359590"),
            with_check_digit("272112312359590"),
        ] {
            assert_eq!(m(&s), s, "{s}");
        }
        // The numbers are made here: written out, they would be card numbers in the source.
        for lead in ["2200", "2204", "222100", "272099"] {
            let pan = with_check_digit(&format!("{lead}{}", "0".repeat(15 - lead.len())));
            assert_eq!(
                m(&pan),
                format!("{}******{}", &pan[..6], &pan[12..]),
                "{pan}"
            );
        }
        assert_eq!(m("2223 0031 2200 3222"), "2223 00** **** 3222");
    }

    /// A run grouped like one number that is not a card number as a whole (a year or a
    /// reference before the card, Luhn failing on the whole) still has its card number found
    /// among its groups.
    #[test]
    fn a_card_number_after_a_short_group_is_found_in_a_run_that_is_no_card() {
        assert_eq!(
            m("memo 2018 3782 822463 10005"),
            "memo 2018 3782 8***** *0005"
        );
        assert_eq!(
            m("memo 2022 3056 930902 5904"),
            "memo 2022 3056 ****** 5904"
        );
        assert_eq!(m("1234 3782 822463 10005"), "1234 3782 8***** *0005");
        // A Luhn-invalid number written whole or grouped like one (whatever its groups hold),
        // or in groups too short to hold one, stays.
        for s in [
            "6011 2221 0000 0000 000",
            "4111 1111 1111 1112",
            "4111111111111112",
            "2018 4111 1111 1112",
        ] {
            assert_eq!(m(s), s);
        }
    }

    /// The quick reading of a plain `%XX` gives what the reading of every form gives, for
    /// every byte in both cases of hex digits and whatever follows (an escape of `%` or `\`
    /// reads through to the next escape).
    #[test]
    fn plain_percent_escapes_read_as_any_escape() {
        for x in 0..=255u8 {
            for hex in [format!("{x:02x}"), format!("{x:02X}")] {
                for tail in ["", "34", "x34", "%34", "Z"] {
                    let t = format!("a%{hex}{tail}");
                    let b = t.as_bytes();
                    for nested in [true, false] {
                        assert_eq!(escape_at(b, 1, nested), escape_at_any(b, 1, nested), "{t}");
                    }
                }
            }
        }
        for t in ["%3", "%", "%g1", "%1g", "%\u{ff13}4", "%3\u{ff14}"] {
            assert_eq!(
                escape_at(t.as_bytes(), 0, true),
                escape_at_any(t.as_bytes(), 0, true),
                "{t}"
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// The detector without its pre-check.
    fn slow(b: &[u8]) -> bool {
        scan(b, Narrowing::DEFAULT, &mut |_| true)
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, cases: 3000, ..Default::default() })]
        /// `holds_card` answers exactly as the detector on the whole text, and the pre-check
        /// never misses a card number in the text or in any slice of it.
        #[test]
        fn pre_check_never_misses(s in "(%20|%3[0-9]|[0-9]|[0-9]|[0-9]|４|٤|⑪|㉑|㊿|%E2%91%AA|%25|%5Cx|\\\\x3%3|%5C%78|％|＼ｘ|﹪３|%㉞|\u{200b}|[ +a/%x\\\\.,\"-]){0,60}", a in 0usize..60, b in 0usize..60) {
            prop_assert_eq!(holds_card(s.as_bytes()), slow(s.as_bytes()), "{:?}", s);
            let (a, b) = (a.min(b).min(s.len()), a.max(b).min(s.len()));
            let part = &s.as_bytes()[a..b];
            if slow(part) {
                prop_assert!(may_hold_card(s.as_bytes()), "{:?} in {:?}", part, s);
                prop_assert!(may_hold_card(part), "{:?}", part);
            }
        }
    }
}
