//! Card numbers: parsing, Luhn, brand by IIN, masking, keyed fingerprints and the scrubbing of
//! card-like digit runs out of free text.
//!
//! Why this module is strict: PCI DSS 3.4.1 allows at most the BIN (first 6) and the last 4 digits
//! to be displayed, 3.5.1.1 requires keyed hashes of the whole PAN, and 3.3.1 forbids keeping the
//! security code at all. Every other module goes through [`Pan`] and [`mask_card_runs`], so a full
//! card number never reaches an output, a log line or an error message. [`Pan`]'s `Debug` is masked
//! and its digits are wiped (`zeroize`) when it is dropped.

mod chars;
pub mod detect;
pub mod runs;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroize;

/// The card brands the IIN table knows, plus what a brand column may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Jcb,
    Diners,
    Discover,
    UnionPay,
    /// 622126–622925: Discover-issued range inside UnionPay's 62.
    DiscoverUnionPay,
    Unknown,
}

impl Brand {
    /// The label used in every output (`VISA ****1111`).
    pub fn label(self) -> &'static str {
        match self {
            Brand::Visa => "VISA",
            Brand::Mastercard => "MASTERCARD",
            Brand::Amex => "AMEX",
            Brand::Jcb => "JCB",
            Brand::Diners => "DINERS",
            Brand::Discover => "DISCOVER",
            Brand::UnionPay => "UNIONPAY",
            Brand::DiscoverUnionPay => "DISCOVER/UNIONPAY",
            Brand::Unknown => "UNKNOWN",
        }
    }

    /// Brand from the leading digits of a PAN (or of a masked PAN that keeps its BIN).
    /// Longest prefixes are checked first, so 622126–622925 is not taken for plain UnionPay.
    pub fn from_iin(digits: &str) -> Brand {
        let p = |n: usize| -> Option<u32> {
            if digits.len() >= n && digits.as_bytes()[..n].iter().all(u8::is_ascii_digit) {
                digits[..n].parse().ok()
            } else {
                None
            }
        };
        if let Some(v) = p(6) {
            if (622126..=622925).contains(&v) {
                return Brand::DiscoverUnionPay;
            }
        }
        if let Some(v) = p(4) {
            if (2221..=2720).contains(&v) {
                return Brand::Mastercard;
            }
            if (3528..=3589).contains(&v) {
                return Brand::Jcb;
            }
            if v == 6011 {
                return Brand::Discover;
            }
            if v == 3095 {
                return Brand::Diners;
            }
        }
        if let Some(v) = p(3) {
            if (300..=305).contains(&v) {
                return Brand::Diners;
            }
            if (644..=649).contains(&v) {
                return Brand::Discover;
            }
        }
        if let Some(v) = p(2) {
            match v {
                34 | 37 => return Brand::Amex,
                36 | 38 | 39 => return Brand::Diners,
                51..=55 => return Brand::Mastercard,
                65 => return Brand::Discover,
                62 | 81 => return Brand::UnionPay,
                _ => {}
            }
        }
        if digits.starts_with('4') {
            return Brand::Visa;
        }
        Brand::Unknown
    }

    /// Brand from a brand column's text (`Visa`, `MasterCard`, `American Express`, `ＪＣＢ`, `ダイナース`…).
    pub fn from_name(name: &str) -> Option<Brand> {
        let n: String = crate::text::nfkc_lower(name)
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        let b = match n.as_str() {
            "" => return None,
            "visa" | "ビザ" => Brand::Visa,
            "mastercard" | "master" | "mc" | "マスターカード" | "マスター" => {
                Brand::Mastercard
            }
            "amex" | "americanexpress" | "アメックス" | "アメリカンエキスプレス" => {
                Brand::Amex
            }
            "jcb" => Brand::Jcb,
            "diners"
            | "dinersclub"
            | "dinersclubinternational"
            | "ダイナース"
            | "ダイナースクラブ" => Brand::Diners,
            "discover" => Brand::Discover,
            "unionpay" | "cup" | "chinaunionpay" | "銀聯" | "銀联" => Brand::UnionPay,
            "unknown" => Brand::Unknown,
            _ => return None,
        };
        Some(b)
    }
}

/// The Luhn check over a string of ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut n = u32::from(d.wrapping_sub(b'0'));
        if n > 9 {
            return false;
        }
        if i % 2 == 1 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        sum += n;
    }
    sum.is_multiple_of(10)
}

/// A full primary account number: 12–19 digits, separators removed.
///
/// `Debug` and `Display` show the masked form only; the digits are zeroed on drop.
pub struct Pan {
    digits: String,
}

impl Pan {
    /// Reads a card number written with optional spaces or dashes. Returns `None` when what is
    /// left is not 12–19 digits (then it is not a full PAN: maybe a masked one, see [`CardInput`]).
    ///
    /// Digits of any script (`４`, `٤`) read as their ASCII digits, and every separator the
    /// detector knows (any space or dash, `.`, `/`, zero-width characters…) is skipped, so a
    /// card column written in full-width digits is read as the card it holds.
    pub fn parse(raw: &str) -> Option<Pan> {
        let mut digits = String::with_capacity(19);
        for c in raw.trim().chars() {
            match detect::reading(c) {
                // Digits of any script (`⑪` is two), separators left out.
                Some(r) => digits.extend(r.chars().filter(char::is_ascii_digit)),
                None => {
                    digits.zeroize();
                    return None;
                }
            }
        }
        if (12..=19).contains(&digits.len()) {
            Some(Pan { digits })
        } else {
            digits.zeroize();
            None
        }
    }

    pub fn luhn_ok(&self) -> bool {
        luhn_valid(self.digits.as_bytes())
    }

    pub fn brand(&self) -> Brand {
        Brand::from_iin(&self.digits)
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The case's one mask format: the leading digits (at most 6) and the last 4, with every
    /// other digit as `*`, so that at least 6 digits stay hidden whatever the length
    /// (16 digits: `411111******1111`; 15: `37828******0005`; 13: `411******1111`).
    pub fn masked(&self) -> String {
        mask_digits(&self.digits)
    }

    /// The keyed fingerprint of the whole PAN (PCI DSS 3.5.1.1), as written in outputs.
    pub fn fingerprint(&self, key: &FingerprintKey) -> String {
        key.fingerprint("pan", self.digits.as_bytes())
    }

    /// The same fingerprint as raw bytes (32), for compact storage.
    pub fn fingerprint_raw(&self, key: &FingerprintKey) -> [u8; 32] {
        key.mac("pan", self.digits.as_bytes())
    }
}

/// Masks a string of digits in the case's one format (see [`Pan::masked`]).
pub fn mask_digits(digits: &str) -> String {
    let n = digits.len();
    if n <= 4 {
        return "*".repeat(n);
    }
    let lead = n.saturating_sub(10).min(6);
    let mut s = String::with_capacity(n);
    s.push_str(&digits[..lead]);
    s.extend(std::iter::repeat_n('*', n - lead - 4));
    s.push_str(&digits[n - 4..]);
    s
}

impl Drop for Pan {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// What a card-number cell held.
#[derive(Debug)]
pub enum CardInput {
    Full(Pan),
    /// A masked number: the digits that are shown (BIN may be there) and the last 4.
    Masked {
        lead: String,
        last4: String,
        len: usize,
    },
    /// Something that is neither: kept out of every output.
    Unreadable,
}

impl CardInput {
    /// Reads a card cell: a full PAN, a masked one (`411111******1111`, `************1111`,
    /// `XXXX-XXXX-XXXX-1111`, `**** 1111`), or nothing usable.
    pub fn parse(raw: &str) -> Option<CardInput> {
        let t = raw.trim();
        if t.is_empty() {
            return None;
        }
        if let Some(p) = Pan::parse(t) {
            return Some(CardInput::Full(p));
        }
        // A masked form: digits (of any script: `＊＊＊＊４２４２`), mask characters and
        // separators only, ending in 4 digits.
        let mut ascii = detect::ascii_digits(t);
        let mut compact = String::with_capacity(t.len());
        for c in ascii.chars() {
            match c {
                '0'..='9' => compact.push(c),
                '*' | 'x' | 'X' | '•' | '#' | '＊' => compact.push('*'),
                ' ' | '-' => {}
                _ => {
                    // It may hold a whole card number with one stray character: wipe it.
                    compact.zeroize();
                    ascii.zeroize();
                    return Some(CardInput::Unreadable);
                }
            }
        }
        ascii.zeroize();
        let n = compact.len();
        let last4_ok = n >= 4 && compact[n - 4..].bytes().all(|b| b.is_ascii_digit());
        if !last4_ok || !compact.contains('*') {
            compact.zeroize();
            return Some(CardInput::Unreadable);
        }
        // A "masked" value that shows more than BIN + last 4 is treated as a full number would
        // be: only BIN and last 4 are kept from it.
        let lead = compact
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .take(6)
            .collect();
        let last4 = compact[n - 4..].to_string();
        compact.zeroize();
        Some(CardInput::Masked {
            lead,
            last4,
            len: n,
        })
    }
}

/// The fewest bytes of a fingerprint key a user gives (128 bits, PCI DSS 3.5.1.1's "at least
/// 128 bits of effective strength" for keyed hashes).
pub const MIN_KEY_BYTES: usize = 16;

/// The per-incident secret for keyed fingerprints (HMAC-SHA256).
pub struct FingerprintKey {
    key: Vec<u8>,
    /// The HMAC state after the key's two blocks (inner and outer pad), cloned for each
    /// fingerprint: keying it anew took four SHA-256 blocks per card instead of two. Cleared
    /// on drop like the key (sha2's `zeroize`).
    keyed: Hmac<Sha256>,
    /// Where the key came from, for the summary (`env`, `file`, `random`).
    pub source: KeySource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Env,
    File,
    Random,
}

impl FingerprintKey {
    pub fn new(key: Vec<u8>, source: KeySource) -> FingerprintKey {
        let keyed =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes keys of any length");
        FingerprintKey { key, keyed, source }
    }

    /// The key a user gave: `env` (`SKIMTRACE_FINGERPRINT_KEY`) when set and not empty, else the
    /// key file (its bytes, surrounding whitespace trimmed), else a fresh random key.
    ///
    /// A key shorter than [`MIN_KEY_BYTES`] is refused (exit 2): the key id is published in
    /// `summary.json`, so a short key is found by trying every key against it, and with the key
    /// every fingerprint gives back its card number (the brand prefix and last 4 being known,
    /// the 6 digits between are a million tries). See SECURITY.md.
    pub fn load(env: Option<String>, file: Option<&std::path::Path>) -> crate::Result<Self> {
        const HOW: &str = "make one with `head -c 32 /dev/urandom | base64`";
        if let Some(k) = env.filter(|k| !k.is_empty()) {
            let key = FingerprintKey::new(k.into_bytes(), KeySource::Env);
            if key.key.len() < MIN_KEY_BYTES {
                return Err(crate::Error::usage(format!(
                    "SKIMTRACE_FINGERPRINT_KEY is {} bytes long; a fingerprint key needs at least {MIN_KEY_BYTES} random bytes ({HOW})",
                    key.key.len()
                )));
            }
            return Ok(key);
        }
        if let Some(p) = file {
            let bytes = std::fs::read(p).map_err(|e| crate::Error::Config {
                path: p.to_path_buf(),
                message: format!("cannot read the fingerprint key file: {e}"),
            })?;
            let mut trimmed = bytes.trim_ascii().to_vec();
            let mut bytes = bytes;
            bytes.zeroize();
            if trimmed.len() < MIN_KEY_BYTES {
                let n = trimmed.len();
                trimmed.zeroize();
                return Err(crate::Error::Config {
                    path: p.to_path_buf(),
                    message: format!(
                        "the fingerprint key file holds {n} bytes; a fingerprint key needs at least {MIN_KEY_BYTES} random bytes ({HOW} > key)"
                    ),
                });
            }
            return Ok(FingerprintKey::new(trimmed, KeySource::File));
        }
        Ok(FingerprintKey::random())
    }

    /// A fresh random 32-byte key, for runs where the user gave none.
    pub fn random() -> FingerprintKey {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        FingerprintKey::new(key, KeySource::Random)
    }

    /// `HMAC-SHA256(key, domain || 0x00 || data)`, written in lower-case base32 (RFC 4648, no
    /// padding). Base32 and not hex on purpose: a hex digest holds long runs of digits that
    /// card-number scanners (and `pan-scan`) flag as PANs; base32's only digits are 2–7.
    pub fn fingerprint(&self, domain: &str, data: &[u8]) -> String {
        base32_lower(&self.mac(domain, data))
    }

    /// The raw `HMAC-SHA256(key, domain || 0x00 || data)`.
    pub fn mac(&self, domain: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// A short public identifier of the key, so two runs can tell whether they used the same
    /// key without revealing it.
    pub fn key_id(&self) -> String {
        let mut f = self.fingerprint("key-id", b"skimtrace");
        f.truncate(16);
        f
    }
}

impl Drop for FingerprintKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FingerprintKey({:?}, id {})", self.source, self.key_id())
    }
}

/// Lower-case RFC 4648 base32 without padding.
pub fn base32_lower(bytes: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648Lower { padding: false }, bytes)
}

/// Whether a column header names a card security code (CVV2, CVC2, CID, CSC, CVN, CAV2,
/// セキュリティコード…): such a column is never read and never written (PCI DSS 3.3.1 forbids
/// keeping it). The vocabulary is broad on purpose — a missed name writes codes in clear — and
/// matched on the header's NFKC, lower-cased form without spaces, `_`, `-`, `.`, `/`, `(`, `)`,
/// `#` or `:` (`CVV Code`, `cc_cid`, `card_cvv2`, `CVV/CVC`, `Security No`, `セキュリティ番号`).
pub fn is_security_code_header(header: &str) -> bool {
    let k: String = crate::text::header_key(header)
        .chars()
        .filter(|c| !matches!(c, '/' | '(' | ')' | '#' | ':' | '（' | '）' | '・'))
        .collect();
    const ANYWHERE: &[&str] = &[
        "cvv",
        "cvc",
        "cvn",
        "cvd",
        "cav2",
        "securitycode",
        "securityno",
        "securitynum",
        "securityvalue",
        "verificationcode",
        "verificationvalue",
        "verificationnumber",
        "verificationno",
        "cardcode",
        "セキュリティ",
        "カード確認",
        "確認番号",
        "認証番号",
        "cvv2",
    ];
    // `Card CVC Status`, `CVV2 Result`: the outcome of the check, not the code.
    const OUTCOME: &[&str] = &["status", "check", "result", "response", "match", "結果"];
    if OUTCOME.iter().any(|w| k.contains(w)) {
        return false;
    }
    if ANYWHERE.iter().any(|w| k.contains(w)) {
        return true;
    }
    // Short codes only as the whole name, after a card prefix: `cid`, `cc_cid`, `card_csc`.
    let mut rest = k.as_str();
    for prefix in ["creditcard", "payment", "card", "cc"] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    matches!(
        rest,
        "cid" | "csc" | "ccv" | "cav" | "cvk" | "cid2" | "csc2" | "spc"
    )
}

/// Whether `b`, or any slice of it, may hold a card number in any written form (see
/// [`detect`]): no false negative, fast on text without one.
pub fn may_hold_card(b: &[u8]) -> bool {
    detect::may_hold_card(b)
}

/// Whether `b` holds a card number in any written form (see [`detect`]): exact.
pub fn holds_card(b: &[u8]) -> bool {
    detect::holds_card(b)
}

/// The byte ranges of the card numbers in `text` (see [`detect`]).
pub fn find_card_runs(text: &str) -> Vec<(usize, usize)> {
    detect::find(text)
        .into_iter()
        .map(|f| (f.start, f.end))
        .collect()
}

/// `text` with every card number masked in the case's one format (see [`detect`]), and how
/// many were.
pub fn mask_card_runs(text: &str) -> (String, usize) {
    let (t, n) = detect::mask(text);
    (t.into_owned(), n)
}

/// `prefix` followed by its Luhn check digit: card numbers for tests, made at run time so that
/// the source holds none (the repository's scan finds any written out).
#[cfg(test)]
pub(crate) fn with_check_digit(prefix: &str) -> String {
    (b'0'..=b'9')
        .map(|d| format!("{prefix}{}", char::from(d)))
        .find(|s| luhn_valid(s.as_bytes()))
        .expect("one check digit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_split_by_url_encoded_spaces_are_masked() {
        let (t, n) = mask_card_runs("GET /pay?cc=4111%201111%201111%201111&exp=12");
        assert_eq!(n, 1, "{t}");
        assert_eq!(t, "GET /pay?cc=4111%2011**%20****%201111&exp=12");
        let (t, n) = mask_card_runs("cc=4111+1111+1111+1111");
        assert_eq!(n, 1, "{t}");
        assert_eq!(t, "cc=4111+11**+****+1111");
        assert!(holds_card(b"4111%201111%201111%201111"));
        // 13 digits that pass Luhn, at either end; 12 are not enough. (Written in two parts: no
        // card number in the repository but the allowed test numbers.)
        let thirteen = format!("{}{}", "4222222", "222222");
        assert!(holds_card(thirteen.as_bytes()));
        assert!(holds_card(format!("{thirteen} GET").as_bytes()));
        assert!(holds_card(format!("GET /?a={thirteen}").as_bytes()));
        assert!(!may_hold_card(b"GET /?a=422222222222&b=1"));
        assert!(may_hold_card(b"4111111111111") && !holds_card(b"4111111111111"));
        // %20 between short numbers is left alone.
        let (t, n) = mask_card_runs("a%2012%2034");
        assert_eq!((t.as_str(), n), ("a%2012%2034", 0));
    }

    #[test]
    fn security_code_headers_in_every_spelling() {
        for h in [
            "CVV",
            "cvc",
            "CVV2",
            "CVC2",
            "CID",
            "Security Code",
            "Card Security Code",
            "CVV Code",
            "CSC",
            "CVN",
            "cc_cid",
            "card_cvv2",
            "CVV/CVC",
            "Security No",
            "セキュリティ番号",
            "セキュリティコード",
            "セキュリティーコード",
            "ＣＶＶ",
            "Card Verification Value",
            "card_code",
            "CVD",
            "cc-csc",
            "カード確認番号",
            "Card CVV (3 or 4 digits)",
        ] {
            assert!(is_security_code_header(h), "{h}");
        }
        for h in [
            "Card Number",
            "Order ID",
            "Customer ID",
            "Email",
            "Card Brand",
            "Last 4",
            "Phone",
            "Description",
            "Card ID",
            "CIDR",
            "Accident",
            "Security",
            "Code",
        ] {
            assert!(!is_security_code_header(h), "{h}");
        }
    }

    #[test]
    fn brands_from_published_test_numbers() {
        let cases = [
            ("4111111111111111", Brand::Visa),
            ("5555555555554444", Brand::Mastercard),
            ("2223003122003222", Brand::Mastercard),
            ("378282246310005", Brand::Amex),
            ("3530111333300000", Brand::Jcb),
            ("36227206271667", Brand::Diners),
            ("3056930009020004", Brand::Diners),
            ("6011111111111117", Brand::Discover),
            ("6200000000000005", Brand::UnionPay),
            ("6221260000000001", Brand::DiscoverUnionPay),
            ("6442000000000000", Brand::Discover),
        ];
        for (pan, brand) in cases {
            assert_eq!(Brand::from_iin(pan), brand, "{pan}");
        }
    }

    #[test]
    fn luhn_on_known_numbers() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"378282246310005"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(!luhn_valid(b""));
        assert!(!luhn_valid(b"41x1"));
    }

    #[test]
    fn masks_keep_at_most_bin_and_last4() {
        assert_eq!(mask_digits("4111111111111111"), "411111******1111");
        assert_eq!(mask_digits("378282246310005"), "37828******0005");
        assert_eq!(mask_digits("36227206271667"), "3622******1667");
        assert_eq!(mask_digits("6205500000000000004"), "620550*********0004");
    }

    /// A number in any script the detector reads is read whole from a card cell, enclosed
    /// numbers (two digits a character) too.
    #[test]
    fn a_card_cell_in_other_digits_is_read() {
        for raw in [
            "４１１１ １１１１ １１１１ １１１１",
            "④①⑪⑪⑪⑪⑪⑪⑪",
            "٤١١١-١١١١-١١١١-١١١١",
        ] {
            let p = Pan::parse(raw).unwrap_or_else(|| panic!("{raw}"));
            assert_eq!(p.to_string(), "411111******1111", "{raw}");
            assert!(p.luhn_ok());
        }
        assert_eq!(detect::ascii_digits("④①⑪⑪ ⑪⑪⑪⑪⑪-x"), "411111 1111111111-x");
    }

    #[test]
    fn debug_of_a_pan_is_masked() {
        let p = Pan::parse("4111 1111 1111 1111").unwrap();
        assert_eq!(format!("{p:?}"), "Pan(411111******1111)");
        assert_eq!(format!("{p}"), "411111******1111");
        assert_eq!(p.to_string(), "411111******1111");
    }

    #[test]
    fn masked_forms_are_read() {
        for raw in [
            "411111******1111",
            "************1111",
            "XXXX-XXXX-XXXX-1111",
            "**** 1111",
            "＊＊＊＊ ＊＊＊＊ ＊＊＊＊ １１１１",
            "XXXX－XXXX－XXXX－１１１１",
        ] {
            match CardInput::parse(raw) {
                Some(CardInput::Masked { last4, .. }) => assert_eq!(last4, "1111", "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
        match CardInput::parse("411111******1111") {
            Some(CardInput::Masked { lead, .. }) => assert_eq!(lead, "411111"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn card_runs_in_free_text_are_masked() {
        let (t, n) = mask_card_runs("call me, card 4111-1111-1111-1111 exp 12/25, order 123456");
        assert_eq!(n, 1);
        assert_eq!(
            t,
            "call me, card 4111-11**-****-1111 exp 12/25, order 123456"
        );
        let (t, n) = mask_card_runs("ts 1619568000001 and 4012888888881881");
        assert_eq!(n, 1, "{t}");
        assert!(t.contains("401288******1881"));
        assert!(t.contains("1619568000001"));
    }

    #[test]
    fn fingerprints_are_keyed_and_base32() {
        let a = FingerprintKey::new(b"key-a".to_vec(), KeySource::Env);
        let b = FingerprintKey::new(b"key-b".to_vec(), KeySource::Env);
        let p = Pan::parse("4111111111111111").unwrap();
        assert_ne!(p.fingerprint(&a), p.fingerprint(&b));
        assert_eq!(p.fingerprint(&a), p.fingerprint(&a));
        let f = p.fingerprint(&a);
        assert_eq!(f.len(), 52);
        assert!(f
            .bytes()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
    }

    /// The MAC is HMAC-SHA256(key, domain || 0x00 || data) as any implementation computes it
    /// (Python's `hmac` gave these), for a short key and for one longer than SHA-256's block
    /// (hashed first), and the same on every call: the keyed state is cloned, never reused.
    #[test]
    fn macs_are_hmac_sha256_of_domain_nul_data() {
        let hex = |m: [u8; 32]| m.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let cases = [
            (
                b"key-a".to_vec(),
                "f7c2c6a8a252f86d49d1de4baa6df1a2bb63e2a1c4dd2e88868c2de76d6ce16e",
                "21726017fdc47e34863a75bfe40b36f101c3203974b4718a30167cf6679a321a",
            ),
            (
                vec![b'k'; 100],
                "4039b411d01c2f77f0f06d6bea731c612c8cad27dcfeddc8b144dfdc5fdafd20",
                "55dcf1e39606e3055ace6dd0858c75e2bb9525d4ba599bc7843789d404c7b862",
            ),
        ];
        for (k, card, customer) in cases {
            let key = FingerprintKey::new(k, KeySource::Env);
            for _ in 0..2 {
                assert_eq!(hex(key.mac("card", b"4111111111111111")), card);
                assert_eq!(
                    hex(key.mac("customer", b"email:taro@example.com")),
                    customer
                );
            }
        }
    }

    /// `Debug` of every type that holds card data shows at most BIN + last 4, and a key's
    /// `Debug` shows no key bytes.
    #[test]
    fn debug_never_shows_a_full_card_number_or_a_key() {
        let full = "4111 1111 1111 1111";
        let digits = "4111111111111111";
        let shown = [
            format!("{:?}", Pan::parse(full).unwrap()),
            format!("{:?}", CardInput::parse(full).unwrap()),
            format!("{:?}", CardInput::parse("4111111111111111*").unwrap()),
            format!("{:?}", CardInput::parse("41111111111111**1111").unwrap()),
            format!("{:?}", CardInput::parse("4111111111111111x").unwrap()),
        ];
        for s in &shown {
            assert!(!s.replace([' ', '-'], "").contains(digits), "{s}");
            assert!(!s.contains("1111111111"), "{s}");
        }
        let key = FingerprintKey::new(b"super-secret-key-material".to_vec(), KeySource::File);
        let k = format!("{key:?}");
        assert!(!k.contains("super-secret"), "{k}");
        let info = crate::orders::card_info(full, "", &key).unwrap();
        let d = format!("{info:?}");
        assert!(d.contains("411111******1111") && !d.contains(digits), "{d}");
    }
}
