//! Unit tests of the evidence scan: a few log lines through [`scan::scan_file`] with the
//! built-in rules, plain and gzip'd.

use super::scan::{scan_file, Input, ScanOptions};
use crate::rules::{Matcher, RuleSet};
use crate::window::Window;
use std::io::Write;

const LINES: &[&str] = &[
    r#"203.0.113.7 - - [01/Jun/2021:10:00:00 +0900] "GET /products/detail/1 HTTP/1.1" 200 8311 "-" "Mozilla/5.0""#,
    r#"198.51.100.9 - - [01/Jun/2021:10:01:00 +0900] "GET /html/upload/save_image/wso.php?cmd=id HTTP/1.1" 200 66 "-" "Mozilla/5.0""#,
    "this is not a log line",
    r#"198.51.100.9 - - [01/Jun/2021:10:02:00 +0900] "GET /.git/config HTTP/1.1" 404 196 "-" "curl/7.68.0""#,
];

fn scan(path: &std::path::Path) -> super::scan::FileResult {
    let set = RuleSet::builtin();
    let matcher = Matcher::new(&set.rules);
    let window = Window::parse("2021-01-01..2021-12-31", Some("Asia/Tokyo")).unwrap();
    let opts = ScanOptions {
        matcher: &matcher,
        format: None,
        window: &window,
        checkout: None,
        reject_samples: 10,
        progress: None,
        events: None,
    };
    let input = Input {
        path: path.to_path_buf(),
        display: "access.log".into(),
    };
    scan_file(0, &input, &opts).unwrap()
}

#[test]
fn the_scan_finds_the_attacks_and_rejects_the_bad_line_with_its_number() {
    let d = tempfile::tempdir().unwrap();
    let plain = d.path().join("access.log");
    std::fs::write(&plain, LINES.join("\n") + "\n").unwrap();
    let r = scan(&plain);
    assert_eq!((r.lines, r.parsed, r.malformed), (4, 3, 1));
    let hit_lines: Vec<u64> = r.hits.iter().map(|h| h.line).collect();
    assert_eq!(hit_lines, [2, 4], "{:?}", r.hits);
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(r.rejects[0].line, 3);

    // The same file gzip'd (named without .gz: gzip is told by content) scans the same.
    let gz = d.path().join("access.log.1");
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    e.write_all((LINES.join("\n") + "\n").as_bytes()).unwrap();
    e.finish().unwrap();
    let g = scan(&gz);
    assert!(g.gzip && !r.gzip);
    assert_eq!(
        (g.lines, g.parsed, g.malformed),
        (r.lines, r.parsed, r.malformed)
    );
    let g_lines: Vec<u64> = g.hits.iter().map(|h| h.line).collect();
    assert_eq!(g_lines, hit_lines);
    let rules = |f: &super::scan::FileResult| -> Vec<Vec<u32>> {
        f.hits.iter().map(|h| h.rules().collect()).collect()
    };
    assert_eq!(rules(&g), rules(&r));
}

/// A hit keeps its texts and rules in one allocation: every text comes back as given (absent,
/// empty and multi-byte ones included), and a rule added later keeps them and the order.
#[test]
fn a_hit_keeps_its_texts_and_rules_in_one_allocation() {
    use super::scan::Hit;
    let t: jiff::Timestamp = "2021-06-01T00:00:00Z".parse().unwrap();
    let texts = [
        Some("198.51.100.7"),
        Some("GET"),
        Some(""),
        Some("/検索?q=\\x80"),
        None,
        Some("Mozilla/5.0 (テスト)"),
    ];
    let mut h = Hit::new(t, 3, 42, Some(404), 1, texts, &[2, 9]);
    let read = |h: &Hit| {
        [
            h.ip(),
            h.method(),
            h.path(),
            h.target(),
            h.referer(),
            h.user_agent(),
        ]
        .map(|s| s.map(str::to_string))
    };
    let expected = texts.map(|s| s.map(str::to_string));
    assert_eq!(read(&h), expected);
    assert_eq!(h.rules().collect::<Vec<_>>(), vec![2, 9]);
    h.add_rule(5);
    h.add_rule(9);
    h.add_rule(0);
    assert_eq!(h.rules().collect::<Vec<_>>(), vec![0, 2, 5, 9]);
    assert_eq!(read(&h), expected);
    assert_eq!(
        (h.time, h.file, h.line, h.status, h.origin),
        (t, 3, 42, Some(404), 1)
    );
    let none = Hit::new(t, 0, 1, None, 0, [None::<&str>; 6], &[]);
    assert_eq!(none.rules().count(), 0);
    assert!(read(&none).iter().all(Option::is_none));
}

/// Card numbers are counted on every line that holds one, wherever the line falls in the
/// chunks of a megabyte the card pre-check classifies at a time: lines of every length, some
/// of 40 kB, a card number on one line in 37 (at the line's end on the long ones).
#[test]
fn card_numbers_are_counted_across_chunks_and_blocks() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("access.log");
    let mut text = String::new();
    let mut with_card = 0u64;
    for i in 0..40_000usize {
        let pad = "p".repeat(if i % 1000 == 999 { 40_000 } else { i % 300 });
        let card = if i % 37 == 5 {
            with_card += 1;
            "&c=4111111111111111"
        } else {
            ""
        };
        text.push_str(&format!(
            "203.0.113.7 - - [01/Jun/2021:10:00:00 +0900] \"GET /a?x={pad}{card} HTTP/1.1\" 200 12 \"-\" \"Mozilla/5.0\"\n"
        ));
    }
    assert!(text.len() > 3 << 20, "{}", text.len());
    std::fs::write(&path, &text).unwrap();
    let r = scan(&path);
    assert_eq!((r.lines, r.malformed), (40_000, 0));
    assert_eq!(r.cards.get("cs-uri"), Some(&with_card), "{:?}", r.cards);
    assert_eq!(r.cards.get("raw"), Some(&with_card), "{:?}", r.cards);
}
