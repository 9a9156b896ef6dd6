//! Card numbers in any written form, in every column of every input, and security codes under
//! every header name and in malformed rows (issue 19): a whole `run` on the bundled case with
//! such inputs added, then `shared/tools/pan-scan` over the case folder, stdout and stderr finds
//! nothing, and no security code is in any file.

use crate::util::{
    copy_case, digits_in_script, luhn, pan_scan_ascii, read_csv_maps, read_json, root, skimtrace,
};
use std::path::{Path, PathBuf};

/// Synthetic card numbers (not the published test numbers that `fixtures/test-pans.txt` allows,
/// so pan-scan reports any that survives): a brand prefix, a fixed body, a computed check digit.
fn pans() -> Vec<String> {
    let bodies = [
        "453201927364", // Visa
        "542418736290", // Mastercard
        "222300487651", // Mastercard 2-series
        "356987123004", // JCB
        "601149872630", // Discover
        "491768203945", // Visa
        "522091837465", // Mastercard
        "471623908571", // Visa
        "358912740036", // JCB
        "402400718293", // Visa
        "545301298476", // Mastercard
        "620398172650", // UnionPay
        "455673920184", // Visa
        "530125487396", // Mastercard
        "463920187734", // Visa
        "353011984762", // JCB
        "601100982743", // Discover
        "482910374658", // Visa
    ];
    bodies
        .iter()
        .map(|b| {
            let mut d: Vec<u8> = format!("{b}123").into_bytes();
            d.push(b'0');
            for c in b'0'..=b'9' {
                *d.last_mut().unwrap() = c;
                if luhn(&d) {
                    break;
                }
            }
            String::from_utf8(d).unwrap()
        })
        .collect()
}

/// The written forms of issue 19, each as a function of the 16 ASCII digits.
/// A written form: its name and how it writes 16 ASCII digits.
type Form = (&'static str, fn(&str) -> String);

fn forms() -> Vec<Form> {
    fn groups(p: &str, sep: &str) -> String {
        p.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(sep)
    }
    vec![
        ("dots", |p| groups(p, ".")),
        ("two spaces", |p| {
            let g = groups(p, " ");
            g.replacen(' ', "  ", 2)
        }),
        ("full-width", |p| digits_in_script(p, 0xFF10)),
        ("Arabic-Indic", |p| digits_in_script(p, 0x0660)),
        ("Devanagari", |p| digits_in_script(p, 0x0966)),
        ("en dash", |p| groups(p, "\u{2013}")),
        ("ー", |p| groups(p, "ー")),
        ("zero-width space", |p| groups(p, "\u{200b}")),
        ("soft hyphen", |p| groups(p, "\u{ad}")),
        ("%2D", |p| groups(p, "%2D")),
        ("%XX digits", |p| {
            p.bytes().map(|d| format!("%{:02X}", d)).collect()
        }),
        ("\\x2d", |p| groups(p, "\\x2d")),
        ("NBSP", |p| groups(p, "\u{a0}")),
        ("U+3000", |p| groups(p, "\u{3000}")),
        ("full-width dash", |p| groups(p, "－")),
        ("plain", |p| p.to_string()),
        ("spaces", |p| groups(p, " ")),
        ("full-width grouped", |p| {
            digits_in_script(&groups(p, "\u{3000}"), 0xFF10)
        }),
        ("enclosed numbers", enclosed),
        ("full-width %XX", |p| {
            p.bytes()
                .map(|d| format!("％{}", digits_in_script(&format!("{d:02X}"), 0xFF10)))
                .collect()
        }),
        ("full-width \\xHH", |p| {
            p.bytes()
                .map(|d| format!("＼ｘ{}", digits_in_script(&format!("{d:02x}"), 0xFF10)))
                .collect()
        }),
        ("escapes in mixed forms", mixed_escapes),
        ("%-escaped full-width digits", |p| {
            p.chars()
                .flat_map(|d| digits_in_script(&d.to_string(), 0xFF10).into_bytes())
                .map(|b| format!("%{b:02X}"))
                .collect()
        }),
        ("superscripts", |p| {
            p.chars()
                .map(|c| match c {
                    '1' => '\u{b9}',
                    '2' => '\u{b2}',
                    '3' => '\u{b3}',
                    c => char::from_u32(0x2070 + (c as u32 - 0x30)).unwrap(),
                })
                .collect()
        }),
        ("subscripts", |p| digits_in_script(p, 0x2080)),
        ("mathematical bold", |p| digits_in_script(p, 0x1D7CE)),
        ("mathematical monospace", |p| digits_in_script(p, 0x1D7F6)),
        ("digit full stops", |p| {
            p.chars()
                .map(|c| match c {
                    '0' => '\u{1F100}',
                    c => char::from_u32(0x2488 + (c as u32 - 0x31)).unwrap(),
                })
                .collect()
        }),
        ("plus", |p| groups(p, "+")),
        ("middle dot", |p| groups(p, "\u{b7}")),
        ("slash", |p| groups(p, "/")),
        ("underscore", |p| groups(p, "_")),
        ("space dash space", |p| groups(p, " - ")),
        ("word joiner", |p| groups(p, "\u{2060}")),
        ("BOM", |p| groups(p, "\u{feff}")),
        ("%E3%80%80", |p| groups(p, "%E3%80%80")),
        ("%xx lower-case", |p| {
            p.bytes().map(|d| format!("%{d:02x}")).collect()
        }),
        ("%5cx lower-case", |p| {
            p.bytes().map(|d| format!("%5cx{d:02x}")).collect()
        }),
        ("%5Cx escapes", |p| {
            p.bytes().map(|d| format!("%5Cx{:02x}", d)).collect()
        }),
        ("\\x escapes with %XX characters", |p| {
            p.bytes()
                .enumerate()
                .map(|(k, d)| match k % 4 {
                    0 => format!("\\x3%{:02X}", d),
                    1 => format!("\\%78%33%{:02X}", d),
                    2 => format!("%5C%78%33%{:02X}", d),
                    _ => format!("%5Cx%33%{:02X}", d),
                })
                .collect()
        }),
    ]
}

/// Each digit escaped in another mix of forms of `%`, `\\`, `x` and hex digits: ASCII `%` with
/// full-width digits, `％` with ASCII ones, Arabic-Indic digits, the small `﹪` and `﹨`.
fn mixed_escapes(p: &str) -> String {
    p.bytes()
        .enumerate()
        .map(|(k, d)| {
            let hex = format!("{d:02x}");
            match k % 5 {
                0 => format!("%{}", digits_in_script(&hex, 0xFF10)),
                1 => format!("％{hex}"),
                2 => format!("%{}", digits_in_script(&hex, 0x0660)),
                3 => format!("\u{FE6A}{hex}"),
                _ => format!("\u{FE68}x{hex}"),
            }
        })
        .collect()
}

/// Digits as enclosed numbers (NFKC: `⑪` is `11`, `㉑` is `21`, `㊿` is `50`): each pair from
/// 10 to 50 as one character, any other digit circled alone (`⓪`, `①`…). Most numbers take
/// fewer than 13 characters, fewer than a card number's digits.
fn enclosed(p: &str) -> String {
    let d: Vec<u32> = p.bytes().map(|b| u32::from(b - b'0')).collect();
    let mut out = String::new();
    let mut i = 0;
    while i < d.len() {
        let pair = d.get(i + 1).map(|&e| 10 * d[i] + e);
        let c = match pair {
            Some(n @ 10..=20) => 0x2469 + (n - 10),
            Some(n @ 21..=35) => 0x3251 + (n - 21),
            Some(n @ 36..=50) => 0x32B1 + (n - 36),
            _ => {
                out.push(match d[i] {
                    0 => '\u{24EA}',
                    k => char::from_u32(0x2460 + k - 1).unwrap(),
                });
                i += 1;
                continue;
            }
        };
        out.push(char::from_u32(c).unwrap());
        i += 2;
    }
    out
}

/// Security-code header names a shop's export may use, each with its own code value: four
/// digits with a leading zero, which no count, amount or date of a run writes as a number of
/// its own.
const CODE_HEADERS: &[(&str, &str)] = &[
    ("CVV Code", "0918"),
    ("CSC", "0819"),
    ("CVN", "0198"),
    ("cc_cid", "0981"),
    ("card_cvv2", "0189"),
    ("CVV/CVC", "0891"),
    ("Security No", "0917"),
    ("セキュリティ番号", "0793"),
];

/// Whether `text` holds `code` as a number of its own (not inside a longer run of digits).
fn holds_number(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// A CSV field, quoted.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// An order export (generic columns) with a card number in a written form in every column a
/// value can be written from, the security codes under every name, and malformed rows.
fn orders_csv(pans: &[String]) -> String {
    let forms = forms();
    let mut header = vec![
        "Order ID",
        "Ordered At",
        "Email",
        "Login ID",
        "Card Holder",
        "Card Number",
        "Card Brand",
        "Payment Method",
        "Status",
        "Amount",
        "Currency",
        "Prefecture",
        "Country",
        "Language",
        "Notes",
    ];
    header.extend(CODE_HEADERS.iter().map(|(h, _)| *h));
    let mut out = header.iter().map(|h| q(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for (k, (_, form)) in forms.iter().enumerate() {
        let p = &pans[k % pans.len()];
        let w = form(p);
        let mut row = vec![
            format!("P-{k:03}-{w}"),
            format!("2021-0{}-1{}T10:00:00+09:00", 1 + k % 9, k % 10),
            format!("{w}@example.jp"),
            format!("login-{w}"),
            format!("Holder {w}"),
            form(p),
            "Visa".to_string(),
            "Credit Card".to_string(),
            format!("captured {w}"),
            w.clone(),
            w.clone(),
            format!("県 {w}"),
            w.clone(),
            "ja".to_string(),
            format!("call back, card {w}, thanks"),
        ];
        row.extend(CODE_HEADERS.iter().map(|(_, c)| c.to_string()));
        out.push_str(&row.iter().map(|c| q(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    // Malformed: one field too few, and one too many, with every code and a Luhn-invalid
    // 16-digit number shifted into other columns.
    let codes: Vec<&str> = CODE_HEADERS.iter().map(|(_, c)| *c).collect();
    let p = &pans[0];
    let mut bad = p.clone().into_bytes();
    bad[15] = b'0' + (bad[15] - b'0' + 1) % 10;
    let bad = String::from_utf8(bad).unwrap();
    out.push_str(&format!(
        "P-short,2021-05-05T10:00:00+09:00,short@example.jp,,Short,{p},Visa,Credit Card,captured,1000,JPY,県,JP,{}\n",
        codes.join(",")
    ));
    out.push_str(&format!(
        "P-long,2021-05-05T10:00:00+09:00,long@example.jp,,Long,{bad},extra,{p},Visa,Credit Card,captured,1000,JPY,県,JP,ja,note,{}\n",
        codes.join(",")
    ));
    // Card numbers where the time and the method are: rejected and not card.
    out.push_str(&format!(
        "P-time,{},t@example.jp,,T,{p},Visa,Credit Card,captured,1,JPY,県,JP,ja,,{}\n",
        forms[2].1(p),
        codes.join(",")
    ));
    out.push_str(&format!(
        "P-method,2021-05-05T10:00:00+09:00,m@example.jp,,M,,Visa,{},captured,1,JPY,県,JP,ja,,{}\n",
        forms[0].1(p),
        codes.join(",")
    ));
    out
}

/// A Stripe export (the real header, `shared/reference/inputs.md`) with card numbers in every
/// text column and in `Card Last4`, and a security-code column.
fn stripe_csv(pans: &[String]) -> String {
    let header = "id,Description,Seller Message,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,Converted Amount Refunded,Fee,Tax,Converted Currency,Mode,Status,Statement Descriptor,Customer ID,Customer Description,Customer Email,Captured,Card ID,Card Last4,Card Brand,Card Funding,Card Exp Month,Card Exp Year,Card Name,Card Address Line1,Card Address Line2,Card Address City,Card Address State,Card Address Country,Card Address Zip,Card Issue Country,Card Fingerprint,Card CVC Status,Card AVS Zip Status,Card AVS Line1 Status,Card Tokenization Method,Disputed Amount,Dispute Status,Dispute Reason,Dispute Date (UTC),Dispute Evidence Due (UTC),Invoice ID,Payment Source Type,Destination,Transfer,Interchange Costs,Merchant Service Charge,Transfer Group,PaymentIntent ID,cc_cid";
    let width = header.split(',').count();
    let mut out = format!("{header}\n");
    for (k, (_, form)) in forms().iter().enumerate() {
        let p = &pans[(k + 3) % pans.len()];
        let w = form(p);
        let mut f = vec![String::new(); width];
        f[0] = format!("ch_{k}_{w}");
        f[1] = format!("Order #{w}");
        f[2] = format!("Payment complete {w}");
        f[3] = format!("2021-06-{:02} 01:00", 1 + k);
        f[4] = w.clone();
        f[6] = w.clone();
        f[13] = if k % 2 == 0 {
            "Paid".into()
        } else {
            "Failed".into()
        };
        f[15] = format!("cus_{w}");
        f[16] = format!("desc {w}");
        f[17] = format!("{w}@example.com");
        f[20] = p.clone();
        f[21] = "Visa".into();
        f[25] = format!("Name {w}");
        f[26] = w.clone();
        f[30] = w.clone();
        f[33] = format!("fp{k}");
        f[width - 1] = CODE_HEADERS[k % CODE_HEADERS.len()].1.to_string();
        out.push_str(&f.iter().map(|c| q(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    // One field too few, the code shifted.
    out.push_str(&format!("ch_short,{},{}\n", pans[1], CODE_HEADERS[0].1));
    out
}

/// Access-log lines (combined) with card numbers in every field.
fn access_log(pans: &[String]) -> String {
    let mut out = String::new();
    for (k, (_, form)) in forms().iter().enumerate() {
        let p = &pans[(k + 5) % pans.len()];
        let w = form(p).replace([' ', '\u{a0}', '\u{3000}'], "+");
        out.push_str(&format!(
            "192.0.2.{k} - user{w} [20/Dec/2021:10:{:02}:00 +0900] \"GET /shopping/confirm?cc={w}&n={k} HTTP/1.1\" 200 512 \"https://shop.example/?ref={w}\" \"Mozilla/5.0 {w}\"\n",
            k % 60
        ));
    }
    // A malformed line and a line over 1 MiB, both holding a card number.
    out.push_str(&format!("garbage {} not a log line\n", pans[2]));
    out.push_str(&format!(
        "192.0.2.99 - - [20/Dec/2021:11:00:00 +0900] \"GET /{}{} HTTP/1.1\" 200 1 \"-\" \"-\"\n",
        "a".repeat(1 << 20),
        pans[4]
    ));
    out
}

/// Access-log lines with bytes that are not UTF-8 between and for the digits, as a Latin-1 log
/// has them: a no-break space (0xA0), a soft hyphen (0xAD) or a middle dot (0xB7) between digit
/// groups, `¹` (0xB9) for the digit 1. The evidence outputs write such a byte as `\xHH`, which
/// a reader (and pan-scan) reads as the character U+00HH.
fn latin1_log(pans: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, sep) in [0xA0u8, 0xAD, 0xB7].into_iter().enumerate() {
        let mut w = Vec::new();
        for (g, chunk) in pans[k + 6].as_bytes().chunks(4).enumerate() {
            if g > 0 {
                w.push(sep);
            }
            w.extend_from_slice(chunk);
        }
        out.extend_from_slice(
            format!("192.0.2.{k} - - [20/Dec/2021:10:0{k}:00 +0900] \"GET /.env?cc=").as_bytes(),
        );
        out.extend_from_slice(&w);
        out.extend_from_slice(b" HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.0 ");
        out.extend_from_slice(&w);
        out.extend_from_slice(b"\"\n");
    }
    let ones: Vec<u8> = pans
        .iter()
        .find(|p| p.matches('1').count() >= 3)
        .unwrap()
        .bytes()
        .map(|d| if d == b'1' { 0xB9 } else { d })
        .collect();
    out.extend_from_slice(b"192.0.2.9 - - [20/Dec/2021:10:09:00 +0900] \"GET /.env?cc=");
    out.extend_from_slice(&ones);
    out.extend_from_slice(b" HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.0\"\n");
    out
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Runs pan-scan on `paths`; returns its report (empty when it found nothing).
fn pan_scan(paths: &[PathBuf]) -> String {
    let out = std::process::Command::new("python3")
        .arg(root().join("../shared/tools/pan-scan"))
        .args(paths)
        .output()
        .expect("python3 runs pan-scan");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(0) => String::new(),
        Some(1) => text,
        other => panic!(
            "pan-scan failed ({other:?}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn no_card_number_in_any_written_form_and_no_security_code_leaves_a_run() {
    assert!(
        root().join("../shared/tools/pan-scan").exists(),
        "shared/tools/pan-scan is needed beside the repository"
    );
    let dir = copy_case("vector-park");
    let case = dir.path().join("vector-park");
    let pans = pans();
    // The planted inputs hold them all: pan-scan must see them there (else the test proves
    // nothing).
    write(&case.join("orders/planted.csv"), &orders_csv(&pans));
    write(&case.join("payments/stripe.csv"), &stripe_csv(&pans));
    write(&case.join("logs/access.log.9"), &access_log(&pans));
    std::fs::write(case.join("logs/access.log.8"), latin1_log(&pans)).unwrap();
    let planted = pan_scan(&[
        case.join("orders/planted.csv"),
        case.join("payments/stripe.csv"),
        case.join("logs/access.log.9"),
        case.join("logs/access.log.8"),
    ]);
    assert!(
        planted.lines().count() > pans.len(),
        "pan-scan should see the planted numbers: {planted}"
    );

    let out = dir.path().join("out");
    let run = skimtrace()
        .args(["-vv", "run", "--config"])
        .arg(case.join("incident.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = dir.path().join("stdout.txt");
    let stderr = dir.path().join("stderr.txt");
    std::fs::write(&stdout, &run.stdout).unwrap();
    std::fs::write(&stderr, &run.stderr).unwrap();
    assert!(
        run.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    let mut written = Vec::new();
    files(&out, &mut written);
    assert!(written
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "eml")));
    let mut scanned = written.clone();
    scanned.push(stdout.clone());
    scanned.push(stderr.clone());
    let found = pan_scan(&scanned);
    assert!(found.is_empty(), "card numbers left the process:\n{found}");

    // No security code in any text the run wrote (the manifest holds only digests and paths).
    for p in written.iter().chain([&stdout, &stderr]) {
        if p.file_name().is_some_and(|n| n == "manifest.json") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        let text: String = text
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - 0xFF10 + 0x30).unwrap(),
                c => c,
            })
            .collect();
        for (h, code) in CODE_HEADERS {
            assert!(
                !holds_number(&text, code),
                "{}: the security code under {h:?} is there",
                p.display()
            );
        }
    }

    // Every security-code column is named, per file, and the masked card numbers counted per
    // column.
    let summary = read_json(&out.join("summary.json"));
    let s = summary.to_string();
    let orders = summary["files"]
        .as_array()
        .unwrap_or_else(|| panic!("orders files in the summary: {s}"));
    let planted = orders
        .iter()
        .find(|f| f["path"].as_str().unwrap_or("").ends_with("planted.csv"))
        .unwrap_or_else(|| panic!("planted.csv in the summary: {s}"));
    let codes = planted["security_code_columns"].as_array().unwrap();
    assert_eq!(codes.len(), CODE_HEADERS.len(), "{planted}");
    let by_column = planted["card_numbers_masked"].as_object().unwrap();
    for col in [
        "Notes",
        "Email",
        "Login ID",
        "Card Holder",
        "Prefecture",
        "Order ID",
    ] {
        assert!(
            by_column.get(col).and_then(|n| n.as_u64()).unwrap_or(0) >= 10,
            "{col}: {by_column:?}"
        );
    }
}

/// A headerless export's first row is taken for its header: the error that lists the headers
/// found masks the card numbers among them (orders and payments alike), and the run stops with
/// exit 2 naming the file.
#[test]
fn an_error_quoting_a_headerless_exports_first_row_masks_its_card_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let pans = pans();
    let forms = forms();
    let row = |k: usize| {
        format!(
            "1001,2021-05-05 10:00,taro@example.jp,{},{},{}\n",
            forms[k].1(&pans[k]),
            forms[k + 1].1(&pans[k + 1]),
            forms[k + 2].1(&pans[k + 2])
        )
    };
    let orders = dir.path().join("orders.csv");
    write(&orders, &format!("{}{}", row(0), row(3)));
    let payments = dir.path().join("payments.csv");
    write(&payments, &format!("{}{}", row(6), row(9)));
    let planted = pan_scan(&[orders.clone(), payments.clone()]);
    assert!(planted.lines().count() >= 12, "{planted}");
    for args in [
        vec!["--orders", "orders.csv"],
        vec!["--orders", "orders.csv", "--payments", "payments.csv"],
    ] {
        let (stdout, stderr) = (dir.path().join("o.txt"), dir.path().join("e.txt"));
        let out = affected_cmd(dir.path())
            .args(&args)
            .args(["--out", "out"])
            .output()
            .unwrap();
        std::fs::write(&stdout, &out.stdout).unwrap();
        std::fs::write(&stderr, &out.stderr).unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("headers found"), "{err}");
        let found = pan_scan(&[stdout, stderr]);
        assert!(found.is_empty(), "{found}\n{err}");
    }
}

/// `skimtrace affected` in `dir`, with the case's zone and window.
fn affected_cmd(dir: &Path) -> assert_cmd::Command {
    let mut c = skimtrace();
    c.current_dir(dir).args([
        "affected",
        "--tz",
        "Asia/Tokyo",
        "--window",
        "2020-04-27..2021-12-22",
    ]);
    c
}

/// `skimtrace affected` on `orders.csv` in `dir`, into `dir/out`.
fn affected_in(dir: &Path) -> assert_cmd::Command {
    let mut c = affected_cmd(dir);
    c.args(["--orders", "orders.csv", "--out", "out"]);
    c
}

/// A fingerprint key shorter than 16 bytes is a usage error that says how to make one.
#[test]
fn a_short_fingerprint_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("orders.csv"),
        "Order ID,Ordered At,Email,Payment Method\n1,2021-05-05 10:00,a@example.jp,Credit Card\n",
    );
    for key in ["a", "0123456789abcde"] {
        let out = affected_in(dir.path())
            .env("SKIMTRACE_FINGERPRINT_KEY", key)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains("head -c 32 /dev/urandom | base64"), "{err}");
    }
    let key_file = dir.path().join("short.key");
    write(&key_file, "short\n");
    let out = affected_in(dir.path())
        .env_remove("SKIMTRACE_FINGERPRINT_KEY")
        .arg("--key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Sixteen bytes are enough.
    let out = affected_in(dir.path())
        .env("SKIMTRACE_FINGERPRINT_KEY", "0123456789abcdef")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every form of the list is a card number to pan-scan (one file per form): a form pan-scan
/// cannot read would make the whole-run test above pass whatever the tool writes.
#[test]
fn every_written_form_is_a_card_number_to_pan_scan() {
    let dir = tempfile::tempdir().unwrap();
    let pans = pans();
    let forms = forms();
    let paths: Vec<PathBuf> = forms
        .iter()
        .enumerate()
        .map(|(k, (_, form))| {
            let p = dir.path().join(format!("form-{k:02}.txt"));
            write(&p, &format!("card {} here\n", form(&pans[k % pans.len()])));
            p
        })
        .collect();
    let found = pan_scan(&paths);
    for (k, (name, _)) in forms.iter().enumerate() {
        assert!(
            found.contains(&format!("form-{k:02}.txt:")),
            "pan-scan does not read the form {name:?}: {found}"
        );
    }
}

/// The argument parser's refusals quote the argument (`unrecognized subcommand '…'`,
/// `invalid value '…' for '--lang'`): a card number typed there is masked on stderr too.
#[test]
fn refused_arguments_are_masked() {
    let pan = ["4111", "1111", "1111", "1111"].concat();
    for args in [vec![pan.as_str()], vec!["report", "--lang", pan.as_str()]] {
        let o = crate::util::skimtrace().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("411111******1111"), "{err}");
        assert!(!err.contains(&pan), "{err}");
    }
}

/// What the listing commands print comes from files a user did not write: a rule's file name,
/// title, literal and skip reason (`rules check`, `rules list --triggers`), a case folder's
/// file names (`verify`). Each is masked on stdout, and `rules export` leaves out a rule whose
/// text names a card number (a rule file is written as it is) and says so.
#[test]
fn listings_mask_what_they_list_and_export_keeps_card_numbers_in() {
    let pans = pans();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let dotted = |p: &str| {
        p.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(".")
    };
    write(
        &rules.join(format!("card-{}.yml", pans[0])),
        &format!(
            "title: Test card {} seen\nid: card-rule\nlogsource:\n    category: webserver\ndetection:\n    selection:\n        cs-uri-query|contains: 'card={}'\n    condition: selection\nlevel: high\n",
            dotted(&pans[1]),
            pans[2]
        ),
    );
    write(
        &rules.join("broken.yml"),
        &format!(
            "title: Broken {}\nid: broken\nlogsource:\n    category: webserver\ndetection:\n    condition: nothing\n",
            pans[3]
        ),
    );
    let mut printed = String::new();
    let export = dir.path().join("exported");
    for args in [
        vec!["rules", "check", "rules"],
        vec!["rules", "list", "--rules", "rules", "--triggers"],
        vec!["rules", "export", "--rules", "rules", "exported"],
    ] {
        let o = skimtrace()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        printed += &String::from_utf8_lossy(&o.stdout);
        printed += &String::from_utf8_lossy(&o.stderr);
    }
    assert!(printed.contains("card-rule"), "{printed}");
    assert!(printed.contains("not exported: card-rule"), "{printed}");
    assert!(!export.join("card-rule.yml").exists());

    let case = copy_case("vector-park");
    let c = case.path().join("vector-park");
    let o = skimtrace()
        .current_dir(&c)
        .args(["run", "-q", "--config", "incident.toml", "--out", "out"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    write(&c.join("out").join(format!("extra-{}.txt", pans[4])), "x");
    let o = skimtrace()
        .current_dir(&c)
        .args(["verify", "out"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(listed.contains("extra-"), "{listed}");
    printed += &listed;

    let mut paths = vec![dir.path().join("printed.txt")];
    write(&paths[0], &printed);
    files(&export, &mut paths);
    let found = pan_scan(&paths);
    assert!(found.is_empty(), "{found}\n{printed}");
}

/// A row of the header's width whose fields have moved (an unquoted comma in the name, the last
/// field left out) puts the card number in the security-code column and the code in the status:
/// it is rejected, the code in no output, the card number masked; a row as it should be is read.
#[test]
fn a_row_moved_into_the_security_code_column_is_rejected_without_its_code() {
    let d = tempfile::tempdir().unwrap();
    let p = &pans()[0];
    let q = &pans()[1];
    write(
        &d.path().join("orders.csv"),
        &format!(
            "Order ID,Ordered At,Email,Payment Method,Name,Card Number,CVV,Status,Amount,Currency,Notes\n\
             A-1,2021-06-01T10:00:00Z,a@example.com,Credit Card,Smith, John,{p},737,captured,100,JPY\n\
             A-2,2021-06-01T11:00:00Z,b@example.com,Credit Card,Jane Roe,{q},468,captured,200,JPY,\n"
        ),
    );
    let o = affected_in(d.path()).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = d.path().join("out");
    let rejected = read_csv_maps(&out.join("rejected.csv"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["source"], "orders.csv:2");
    assert!(
        rejected[0]["reason"].contains("security-code column `CVV`"),
        "{rejected:?}"
    );
    let mut written = String::from_utf8_lossy(&o.stderr).into_owned();
    for f in [
        "rejected.csv",
        "orders.csv",
        "affected.csv",
        "affected.jsonl",
        "summary.json",
    ] {
        written.push_str(&std::fs::read_to_string(out.join(f)).unwrap());
    }
    for code in ["737", "468"] {
        assert!(!holds_number(&written, code), "{code} written");
    }
    assert!(pan_scan_ascii(&written).is_empty(), "{written}");
    // The row as it should be is read, and only it.
    let orders = read_csv_maps(&out.join("orders.csv"));
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["order_id"], "A-2");
}
