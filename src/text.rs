//! Text normalisation shared by every stage: NFKC (full-width letters and digits are common in
//! Japanese input), e-mail and id normalisation, and control-character scrubbing.

use unicode_normalization::UnicodeNormalization;

/// `b` as text, invalid UTF-8 replaced, borrowed when valid. Valid text (almost every field
/// and message) is checked by `from_utf8`, which reads ASCII a word at a time;
/// `from_utf8_lossy` walks it byte by byte.
pub fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// NFKC, then lower case. ASCII input takes a fast path (NFKC leaves ASCII unchanged).
pub fn nfkc_lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.nfkc().collect::<String>().to_lowercase()
    }
}

/// The key two orders share when they are the same person's: trimmed, NFKC, lower-cased.
/// `ｔａｒｏ@example.com`, ` Taro@Example.COM ` and `taro@example.com` give the same key.
/// Returns `None` for an empty value.
pub fn normalize_email(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let n = nfkc_lower(t);
    let n = n.trim();
    if n.is_empty() {
        None
    } else {
        Some(n.to_string())
    }
}

/// A login or customer id, normalised like an e-mail (NFKC, trimmed, lower-cased), or `None`
/// when it is empty or one of the platform's guest values.
pub fn normalize_login(s: &str, guest_values: &[String]) -> Option<String> {
    let t = s.trim();
    if t.is_empty() || guest_values.iter().any(|g| g == t) {
        return None;
    }
    Some(nfkc_lower(t))
}

/// Normalises a header name for matching synonyms: NFKC, lower case, and spaces, underscores,
/// dots and hyphens dropped, so `Order ID`, `order_id` and `ＯｒｄｅｒＩＤ` all read `orderid`.
pub fn header_key(s: &str) -> String {
    nfkc_lower(s.trim_start_matches('\u{feff}'))
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '\u{3000}' | '\t'))
        .collect()
}

/// Replaces control characters (C0, DEL, C1) and Unicode direction overrides and isolates with
/// a space, so a value can go into a header, a CSV cell or a terminal without changing their
/// shape.
///
/// A space joins digits into a run where the character it replaces did not
/// (`45320192\r73641232` becomes a card number written with a space), so a changed value is
/// masked again.
pub fn scrub_controls(s: &str) -> String {
    if !s.chars().any(is_unsafe_char) {
        return s.to_string();
    }
    crate::cards::detect::mask_string(
        s.chars()
            .map(|c| if is_unsafe_char(c) { ' ' } else { c })
            .collect(),
    )
}

/// True for characters that must not reach a header or a terminal as they are.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control character between two halves of a card number becomes a space, which joins
    /// them into one: the result is masked.
    #[test]
    fn scrubbing_never_joins_a_card_number() {
        let (a, b) = ("45320192", "73641232");
        for c in ['\r', '\u{85}', '\u{1}', '\u{7f}', '\u{202e}'] {
            let out = scrub_controls(&format!("N {a}{c}{b}"));
            assert_eq!(out, "N 453201** ****1232", "{c:?}");
        }
    }

    #[test]
    fn emails_normalise_to_one_key() {
        let a = normalize_email("Taro@Example.COM").unwrap();
        let b = normalize_email(" taro@example.com ").unwrap();
        let c = normalize_email("ｔａｒｏ@example.com").unwrap();
        assert_eq!(a, "taro@example.com");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(normalize_email("   "), None);
    }

    #[test]
    fn header_keys() {
        assert_eq!(header_key("Order ID"), "orderid");
        assert_eq!(header_key("ＯｒｄｅｒＩＤ"), "orderid");
        assert_eq!(header_key("\u{feff}order_id"), "orderid");
        assert_eq!(header_key("お名前(姓)"), "お名前(姓)");
    }

    #[test]
    fn guests_are_no_id() {
        let guests = vec!["0".to_string()];
        assert_eq!(normalize_login("0", &guests), None);
        assert_eq!(normalize_login(" ", &guests), None);
        assert_eq!(normalize_login("M-001", &guests).as_deref(), Some("m-001"));
    }

    #[test]
    fn controls_are_scrubbed() {
        assert_eq!(scrub_controls("a\r\nb\u{202e}c"), "a  b c");
    }
}
