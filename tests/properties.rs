//! Properties of the pieces `affected` is built from (issue 2): masking, Luhn, card runs in
//! free text, the window's edges, timestamps, e-mail normalisation, and an affected set that does
//! not depend on the order of rows or on how they are split into files.

use crate::util::{luhn, luhn_runs, pan_scan_ascii, read_jsonl, skimtrace};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;
use skimtrace::cards::{luhn_valid, mask_card_runs, mask_digits, Pan};
use skimtrace::text::normalize_email;
use skimtrace::timestamp::{self, TimeFormat};
use skimtrace::window::Window;
use std::collections::BTreeSet;

/// IIN prefixes and lengths from shared/reference/cards-and-law.md 1.1.
const PREFIXES: &[(&str, &[usize])] = &[
    ("4", &[13, 16, 19]),
    ("51", &[16]),
    ("55", &[16]),
    ("2221", &[16]),
    ("2720", &[16]),
    ("34", &[15]),
    ("37", &[15]),
    ("3528", &[16, 17, 18, 19]),
    ("3589", &[16, 19]),
    ("36", &[14, 16, 19]),
    ("3095", &[16]),
    ("6011", &[16, 19]),
    ("65", &[16]),
    ("622126", &[16]),
    ("62", &[16, 17, 18, 19]),
];

/// A synthetic PAN: a brand prefix, a random body and a computed check digit.
fn pan() -> impl Strategy<Value = String> {
    (
        0..PREFIXES.len(),
        0usize..4,
        prop::collection::vec(0u8..10, 19),
    )
        .prop_map(|(p, l, body)| {
            let (prefix, lens) = PREFIXES[p];
            let len = lens[l % lens.len()];
            let mut d: Vec<u8> = prefix.bytes().collect();
            for b in body.iter().take(len - 1 - d.len()) {
                d.push(b'0' + b);
            }
            d.push(b'0');
            for c in b'0'..=b'9' {
                *d.last_mut().unwrap() = c;
                if luhn(&d) {
                    break;
                }
            }
            String::from_utf8(d).unwrap()
        })
}

/// A PAN written as a person might: plain, in groups of 4 with spaces, or with dashes.
fn written(pan: &str, style: u8) -> String {
    let groups: Vec<&str> = pan
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    match style % 3 {
        0 => pan.to_string(),
        1 => groups.join(" "),
        _ => groups.join("-"),
    }
}

/// Separators a card number may be split by (issue 19): spaces of every kind, dashes of every
/// kind, `.` `,` `/` `_` `+` `·`, invisible characters, escapes, and two or three of them.
const SEPARATORS: &[&str] = &[
    " ", "  ", "-", ".", ",", "/", "_", "+", "·", "\u{a0}", "\u{3000}", "\t", "–", "—", "－", "ー",
    "\u{200b}", "\u{ad}", "\u{2060}", "\u{feff}", "%20", "%2D", "%2d", "\\x2d", "+%20", " - ",
];

/// How many forms [`written_as`] knows.
const FORMS: usize = 7;

/// A PAN written in one of several forms, its digits in groups of `group` joined by `sep`:
/// ASCII, full-width, Arabic-Indic, Devanagari, mathematical bold digits, `%XX` escapes, `\xHH`
/// escapes.
fn written_as(pan: &str, form: usize, group: usize, sep: &str) -> String {
    let digit = |d: u8| -> String {
        let v = u32::from(d - b'0');
        match form {
            0 => char::from(d).to_string(),
            1 => char::from_u32(0xFF10 + v).unwrap().to_string(),
            2 => char::from_u32(0x0660 + v).unwrap().to_string(),
            3 => char::from_u32(0x0966 + v).unwrap().to_string(),
            4 => char::from_u32(0x1D7CE + v).unwrap().to_string(),
            5 => format!("%3{v}"),
            _ => format!("\\x3{v}"),
        }
    };
    pan.as_bytes()
        .chunks(group)
        .map(|c| c.iter().map(|&d| digit(d)).collect::<String>())
        .collect::<Vec<_>>()
        .join(sep)
}

/// ASCII digits a separator itself brings into the text (`%20` holds `2` and `0`).
fn planted_sep_digits(sep: &str, planted: &str) -> usize {
    let per = sep.bytes().filter(u8::is_ascii_digit).count();
    if per == 0 {
        0
    } else {
        planted.matches(sep).count() * per
    }
}

proptest! {
    // No regression file: a failing case here can be a Luhn-valid number, and none may be
    // committed (pan-scan runs over the repository).
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn masking_shows_at_most_the_first_6_and_last_4_and_keeps_the_length(
        digits in "[0-9]{1,19}"
    ) {
        let m = mask_digits(&digits);
        prop_assert_eq!(m.chars().count(), digits.len());
        let n = digits.len();
        for (i, (c, d)) in m.chars().zip(digits.chars()).enumerate() {
            if c != '*' {
                prop_assert_eq!(c, d, "a masked digit differs from the original");
                prop_assert!(i < 6 || i >= n.saturating_sub(4), "digit {} of {} shown: {}", i, n, m);
            }
        }
        // A full PAN always keeps at least 6 digits hidden (PCI DSS FAQ 1091 for 15 digits).
        if (12..=19).contains(&n) {
            prop_assert!(m.chars().filter(|c| *c == '*').count() >= 6, "{}", m);
            prop_assert_eq!(&m[n - 4..], &digits[n - 4..]);
        }
    }

    #[test]
    fn a_computed_check_digit_passes_luhn_and_any_single_change_fails(
        p in pan(), pos in 0usize..19, delta in 1u8..10
    ) {
        prop_assert!(luhn_valid(p.as_bytes()), "{}", p);
        prop_assert!(Pan::parse(&p).unwrap().luhn_ok());
        let mut changed = p.clone().into_bytes();
        let i = pos % changed.len();
        changed[i] = b'0' + (changed[i] - b'0' + delta) % 10;
        prop_assert!(!luhn_valid(&changed), "{} still passes", String::from_utf8_lossy(&changed));
    }

    /// Card numbers set apart by words: each is found and masked, none is left.
    #[test]
    fn mask_card_runs_masks_every_card_number_between_words(
        pans in prop::collection::vec((pan(), 0u8..3), 1..4),
        words in prop::collection::vec("[a-zA-Z/:#(),.]{1,8}", 4),
    ) {
        let mut text = String::new();
        for (i, (p, style)) in pans.iter().enumerate() {
            text.push_str(&words[i % words.len()]);
            text.push(' ');
            text.push_str(&written(p, *style));
            text.push(' ');
        }
        text.push_str(&words[3]);
        let (masked, n) = mask_card_runs(&text);
        prop_assert_eq!(n, pans.len());
        let cards: usize = skimtrace::cards::detect::find(&text).iter().map(|f| f.cards).sum();
        prop_assert_eq!(cards, pans.len());
        prop_assert_eq!(masked.len(), text.len());
        prop_assert!(luhn_runs(&masked).is_empty(), "{} -> {}", text, masked);
    }

    /// Whatever the text, what comes out holds no card number as pan-scan counts them: card
    /// numbers next to short numbers, separators and letters, in one run or several.
    #[test]
    fn mask_card_runs_leaves_no_card_number(
        parts in prop::collection::vec(
            prop_oneof![
                pan().prop_map(|p| p),
                (pan(), 0u8..3).prop_map(|(p, s)| written(&p, s)),
                "[0-9]{1,4}",
                Just(" ".to_string()),
                Just("-".to_string()),
                Just(".".to_string()),
                Just("/".to_string()),
                Just("  ".to_string()),
                "[a-z/]{1,3}",
            ],
            1..10,
        )
    ) {
        let text: String = parts.concat();
        let (masked, _) = mask_card_runs(&text);
        prop_assert!(pan_scan_ascii(&masked).is_empty(), "{:?} -> {:?}", text, masked);
    }

    /// A card number planted in any written form, between any words, is found whole and masked:
    /// what is left of its digits is at most the first 6 and the last 4.
    #[test]
    fn a_planted_card_number_in_any_written_form_is_masked(
        p in pan(),
        form in 0usize..FORMS,
        group in prop::sample::select(vec![4usize, 3, 1, 19]),
        sep in prop::sample::select(SEPARATORS.to_vec()),
        pre in r#"[a-zA-Z0-9 ,./:;=&?-]{0,12}[a-zA-Z:;=&?(\["]"#,
        post in r#"[a-zA-Z:;=&?)\]"][a-zA-Z0-9 ,./:;=&?-]{0,12}"#,
    ) {
        let planted = written_as(&p, form, group, sep);
        let text = format!("{pre}{planted}{post}");
        let found = skimtrace::cards::detect::find(&text);
        prop_assert!(
            found.iter().any(|f| f.start == pre.len() && f.end == pre.len() + planted.len()),
            "{:?} in {:?}: {:?}", planted, text, found
        );
        let (masked, _) = mask_card_runs(&text);
        let shown = masked[pre.len()..masked.len() - post.len()].bytes().filter(u8::is_ascii_digit).count()
            - planted_sep_digits(sep, &planted);
        prop_assert!(shown <= 10 && shown <= p.len() - 6, "{:?} -> {:?}", planted, masked);
        prop_assert!(!masked.contains(&p), "{:?}", masked);
    }

    /// What is not a card number is never changed: a Luhn-invalid run in any form, a run of 20 or
    /// more digits, a hex string (whose digit runs are shorter than a card number's: one that
    /// holds 13–19 digits in a row passing Luhn reads as a card number to any scanner).
    #[test]
    fn what_is_not_a_card_number_is_never_changed(
        p in pan(),
        delta in 1u8..10,
        form in 0usize..FORMS,
        long in "[1-9][0-9]{19,40}",
        hexs in "[a-f]([0-9]{0,12}[a-f]){3,12}",
        pre in "[a-zA-Z ,./:;=&?-]{0,12}[a-zA-Z:;=&?]",
        post in "[a-zA-Z:;=&?][a-zA-Z ,./:;=&?-]{0,12}",
    ) {
        let mut bad = p.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = b'0' + (bad[last] - b'0' + delta) % 10;
        let bad = String::from_utf8(bad).unwrap();
        for s in [written_as(&bad, form, 4, " "), long, hexs] {
            let text = format!("{pre}{s}{post}");
            let (masked, n) = mask_card_runs(&text);
            prop_assert_eq!(n, 0, "{:?}", text);
            prop_assert_eq!(&masked, &text);
        }
    }

    #[test]
    fn window_membership_is_a_plain_comparison_of_instants(
        edge in 0usize..2, offset_ns in -172_800_000_000_000i64..172_800_000_000_000i64,
        small in -2_000_000_000i64..2_000_000_000i64, pick_small in any::<bool>(),
    ) {
        // 2020-04-27T00:00:00+09:00 and 2021-12-23T00:00:00+09:00, as Unix seconds.
        const START: i64 = 1_587_913_200;
        const END: i64 = 1_640_185_200;
        let base = [START, END][edge] as i128 * 1_000_000_000;
        let t_ns = base + if pick_small { small as i128 } else { offset_ns as i128 };
        let t = Timestamp::from_nanosecond(t_ns).unwrap();
        let inside = (START as i128 * 1_000_000_000) <= t_ns && t_ns < (END as i128 * 1_000_000_000);
        let by_dates = Window::parse("2020-04-27..2021-12-22", Some("Asia/Tokyo")).unwrap();
        prop_assert_eq!(by_dates.contains(t), inside, "{}", t);
        let by_instants = Window::parse(
            "2020-04-27T00:00:00+09:00..2021-12-23T00:00:00+09:00",
            None,
        ).unwrap();
        prop_assert_eq!(by_instants.contains(t), inside, "{}", t);
        let utc = Window::parse("2020-04-26T15:00:00Z..2021-12-22T15:00:00Z", Some("UTC")).unwrap();
        prop_assert_eq!(utc.contains(t), inside, "{}", t);
    }

    /// The same instant written every way the exports write it reads back as that instant.
    #[test]
    fn timestamps_near_the_edges_read_back_exactly(
        edge in 0usize..2, secs in -90_000i64..90_000, nanos in 0u32..1_000_000_000,
    ) {
        const EDGES: [i64; 2] = [1_587_913_200, 1_640_185_200];
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let t = Timestamp::new(EDGES[edge] + secs, nanos as i32).unwrap();
        let whole = Timestamp::new(EDGES[edge] + secs, 0).unwrap();
        let z = t.to_zoned_datetime(tokyo.clone());
        let auto = TimeFormat::Auto;
        let read = |s: &str| timestamp::parse(s, &auto, Some(&tokyo));
        let frac = format!("{:09}", nanos);
        let cases = [
            (format!("{}.{frac}+09:00", z.strftime("%Y-%m-%dT%H:%M:%S")), t),
            (format!("{}.{frac}Z", t.strftime("%Y-%m-%dT%H:%M:%S")), t),
            (format!("{}.{frac}", z.strftime("%Y-%m-%d %H:%M:%S")), t),
            (z.strftime("%Y-%m-%d %H:%M:%S").to_string(), whole),
            (z.strftime("%Y/%m/%d %H:%M:%S").to_string(), whole),
            (z.strftime("%Y年%m月%d日 %H:%M:%S").to_string(), whole),
            (z.strftime("%Y-%m-%d %H:%M:%S +0900").to_string(), whole),
        ];
        for (s, want) in cases {
            prop_assert_eq!(read(&s), Ok(want), "{}", s);
        }
    }

    #[test]
    fn email_normalisation_is_idempotent_and_ignores_case_width_and_spaces(
        local in "[a-zA-Z0-9._+-]{1,12}", domain in "[a-zA-Z0-9-]{1,10}\\.(jp|com|example)",
        pad in prop::collection::vec(prop_oneof![Just(' '), Just('\t'), Just('\u{3000}')], 0..3),
    ) {
        let email = format!("{local}@{domain}");
        let n = normalize_email(&email).unwrap();
        prop_assert_eq!(normalize_email(&n), Some(n.clone()), "idempotent");
        prop_assert_eq!(n.clone(), email.to_ascii_lowercase());
        prop_assert_eq!(normalize_email(&email.to_ascii_uppercase()), Some(n.clone()));
        let wide: String = email
            .chars()
            .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
            .collect();
        prop_assert_eq!(normalize_email(&wide), Some(n.clone()), "{}", wide);
        let p: String = pad.iter().collect();
        prop_assert_eq!(normalize_email(&format!("{p}{email}{p}")), Some(n.clone()));
    }
}

// --- The affected set does not depend on row order or file split ----------------------------

const TEST_PANS: &[&str] = &[
    "4242424242424242",
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "3530111333300000",
    "6011111111111117",
];

#[derive(Debug, Clone)]
struct Row {
    id: usize,
    /// Seconds after 2020-01-01T00:00:00+09:00.
    at: i64,
    email: Option<(usize, u8)>,
    login: Option<usize>,
    card: Option<usize>,
    card_method: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        0i64..70_000_000,
        prop::option::weighted(0.8, (0usize..8, 0u8..3)),
        prop::option::weighted(0.5, 0usize..6),
        prop::option::weighted(0.7, 0usize..TEST_PANS.len()),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(at, email, login, card, card_method)| Row {
            id: 0,
            at,
            email,
            login,
            card,
            card_method,
        })
}

fn export(rows: &[Row]) -> String {
    let mut s = String::from("Order ID,Ordered At,Email,Login ID,Card Number,Payment Method\n");
    for r in rows {
        let at = Timestamp::from_second(1_577_804_400 + r.at)
            .unwrap()
            .to_zoned_datetime(TimeZone::get("Asia/Tokyo").unwrap())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        let email = match r.email {
            None => String::new(),
            Some((p, 0)) => format!("person{p}@example.jp"),
            Some((p, 1)) => format!(" Person{p}@Example.JP "),
            Some((p, _)) => format!("ｐｅｒｓｏｎ{p}@example.jp"),
        };
        let login = r.login.map(|l| format!("member-{l}")).unwrap_or_default();
        let card = r.card.map(|c| TEST_PANS[c]).unwrap_or_default();
        let method = if r.card_method {
            "Credit Card"
        } else {
            "Bank Transfer"
        };
        s.push_str(&format!(
            "O-{:04},{at},{email},{login},{card},{method}\n",
            r.id
        ));
    }
    s
}

/// A person as compared across runs: order ids, e-mails, login ids, cards, contact.
type Person = (Vec<String>, Vec<String>, Vec<String>, Vec<String>, String);

/// Runs `affected` over the given files and returns the people as comparable tuples.
fn people(files: &[String]) -> BTreeSet<Person> {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for (i, body) in files.iter().enumerate() {
        let name = format!("part{i}.csv");
        std::fs::write(dir.path().join(&name), body).unwrap();
        names.push(name);
    }
    let mut cmd = skimtrace();
    cmd.current_dir(dir.path())
        .args([
            "affected",
            "-q",
            "--window",
            "2020-04-27..2021-12-22",
            "--tz",
            "Asia/Tokyo",
        ])
        .args(["--out", "out", "--orders"])
        .args(&names);
    cmd.assert().success();
    read_jsonl(&dir.path().join("out/affected.jsonl"))
        .into_iter()
        .map(|p| {
            let list = |k: &str| -> Vec<String> {
                let mut v: Vec<String> = p[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect();
                v.sort();
                v
            };
            let mut cards: Vec<String> = p["cards"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["display"].as_str().unwrap().to_string())
                .collect();
            cards.sort();
            (
                list("order_ids"),
                list("emails"),
                list("login_ids"),
                cards,
                p["contact"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_affected_set_ignores_row_order_and_file_split(
        mut rows in prop::collection::vec(row(), 1..40),
        seed in any::<u64>(),
        parts in 2usize..4,
    ) {
        for (i, r) in rows.iter_mut().enumerate() {
            r.id = i + 1;
        }
        let whole = people(&[export(&rows)]);
        // Shuffle deterministically from the seed.
        let mut shuffled = rows.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(&people(&[export(&shuffled)]), &whole, "shuffled");
        let chunk = shuffled.len().div_ceil(parts);
        let split: Vec<String> = shuffled.chunks(chunk.max(1)).map(export).collect();
        prop_assert_eq!(&people(&split), &whole, "split into {} files", split.len());
    }
}

// --- Every input row is counted exactly once --------------------------------------------------

/// One line of a messy export: a good order, or one of the ways a record goes wrong.
fn messy_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..2000, 1u32..28, 0usize..3, any::<bool>()).prop_map(|(id, day, year, card)| {
            let y = [2019, 2021, 2023][year];
            let (method, pan) = if card { ("Credit Card", "4242424242424242") } else { ("Bank Transfer", "") };
            format!("R{id},{y}-03-{day:02} 10:00:00,p{id}@example.jp,{method},{pan}")
        }),
        1 => Just("R-bad,not a date,x@example.jp,Credit Card,".to_string()),
        1 => Just("R-short,2021-03-01 10:00:00".to_string()),
        1 => Just("R-long,2021-03-01 10:00:00,a@example.jp,Credit Card,,extra,fields".to_string()),
        1 => Just("Order ID,Ordered At,Email,Payment Method,Card Number".to_string()),
        1 => Just(",,,,".to_string()),
        1 => "[a-z,\"]{0,12}".prop_map(|s| s.replace('"', "")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    /// rows_read = in_window + out_of_window + not_card + rejected per file and in total, and
    /// rows_read is the number of non-empty records written (an empty line is no record).
    #[test]
    fn every_row_is_counted_exactly_once_per_file(
        files in prop::collection::vec(prop::collection::vec(messy_line(), 0..30), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        let mut records = Vec::new();
        for (i, lines) in files.iter().enumerate() {
            let name = format!("f{i}.csv");
            let body = format!("Order ID,Ordered At,Email,Payment Method,Card Number\n{}\n", lines.join("\n"));
            std::fs::write(dir.path().join(&name), body).unwrap();
            records.push(lines.iter().filter(|l| !l.is_empty()).count() as u64);
            names.push(name);
        }
        let o = skimtrace()
            .current_dir(dir.path())
            .args(["affected", "-q", "--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"])
            .args(["--out", "out", "--orders"])
            .args(&names)
            .output()
            .unwrap();
        prop_assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let s = crate::util::read_json(&dir.path().join("out/summary.json"));
        let classes = |v: &serde_json::Value| -> u64 {
            ["in_window", "out_of_window", "not_card", "rejected"].iter().map(|k| v[*k].as_u64().unwrap()).sum()
        };
        prop_assert_eq!(s["rows_read"].as_u64().unwrap(), classes(&s));
        prop_assert_eq!(s["rows_read"].as_u64().unwrap(), records.iter().sum::<u64>());
        for (f, n) in s["files"].as_array().unwrap().iter().zip(&records) {
            prop_assert_eq!(f["rows_read"].as_u64().unwrap(), classes(f), "{}", f);
            prop_assert_eq!(f["rows_read"].as_u64().unwrap(), *n, "{}", f);
        }
        let rejected = crate::util::read_csv(&dir.path().join("out/rejected.csv")).len() as u64 - 1;
        prop_assert_eq!(rejected, s["rejected"].as_u64().unwrap());
    }
}
