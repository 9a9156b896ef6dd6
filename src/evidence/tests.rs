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
        f.hits.iter().map(|h| h.rules.clone()).collect()
    };
    assert_eq!(rules(&g), rules(&r));
}
