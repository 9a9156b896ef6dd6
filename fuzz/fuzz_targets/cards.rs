//! Card numbers and masks: whatever the text, masking leaves no card number (in any written
//! form), is idempotent, and on plain ASCII text keeps the length and changes only digits; a
//! parsed PAN masks to at most the first 6 and last 4.
#![no_main]
use libfuzzer_sys::fuzz_target;
use skimtrace::cards::{detect, holds_card, mask_card_runs, mask_digits, CardInput, Pan};

fuzz_target!(|data: &[u8]| {
    let (masked_bytes, _) = detect::mask_bytes(data);
    assert!(!holds_card(&masked_bytes), "{data:?} -> {masked_bytes:?}");
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (masked, n) = mask_card_runs(s);
    assert_eq!(masked.as_bytes(), &*masked_bytes);
    assert!(n >= detect::find(s).len().min(1));
    if s.bytes().all(|b| b.is_ascii() && b != b'%' && b != b'\\') {
        assert_eq!(masked.len(), s.len());
        for (a, b) in s.chars().zip(masked.chars()) {
            assert!(a == b || (a.is_ascii_digit() && (b == '*' || b == a)), "{a:?} -> {b:?}");
        }
    }
    assert!(!holds_card(masked.as_bytes()), "{s:?} -> {masked:?}");
    assert_eq!(mask_card_runs(&masked).0, masked, "masking is idempotent");
    if let Some(p) = Pan::parse(s) {
        let m = p.masked();
        let shown = m.bytes().filter(u8::is_ascii_digit).count();
        assert!(shown <= 10 && m.bytes().filter(|&b| b == b'*').count() >= 6, "{m}");
        assert_eq!(format!("{p:?}"), format!("Pan({m})"));
        let _ = (p.brand(), p.luhn_ok(), p.last4());
    }
    if let Some(CardInput::Masked { lead, last4, .. }) = CardInput::parse(s) {
        assert!(lead.len() <= 6 && last4.len() == 4);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let m = mask_digits(s);
        assert_eq!(m.len(), s.len());
    }
});
