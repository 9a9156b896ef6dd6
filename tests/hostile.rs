//! Hostile inputs (issue 6): files an attacker could have written into the exports and logs
//! the tool reads. Each test generates its input, runs the real binary and checks the exit
//! code, the message, that no half-written file is left (no `.NAME.tmp-PID`, no final-named file
//! from a failed write) and that the row counts still reconcile (summary.json).

use crate::util::{luhn_runs, read_csv, read_json, skimtrace};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const HEADER: &str = "Order ID,Ordered At,Email,Name,Payment Method,Card Number";
const WINDOW: [&str; 4] = ["--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"];

/// `affected` over `file` (already written into `dir`) into `dir/out`.
fn affected(dir: &Path, file: &str, extra: &[&str]) -> Output {
    skimtrace()
        .current_dir(dir)
        .args(["affected", "-q", "--orders", file])
        .args(WINDOW)
        .args(["--out", "out"])
        .args(extra)
        .output()
        .unwrap()
}

/// `affected` over `dir/o.csv`, which must exit 0 with counts that reconcile: its output and
/// summary.
fn affected_ok(dir: &Path) -> (Output, Value) {
    let o = affected(dir, "o.csv", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = assert_reconciles(&dir.join("out"));
    (o, s)
}

/// The records in the window and the rejected ones, from a summary.
fn in_window_and_rejected(s: &Value) -> (Option<u64>, Option<u64>) {
    (s["in_window"].as_u64(), s["rejected"].as_u64())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            }
            out.push(rel);
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// No temporary file of an atomic write is left behind.
fn assert_no_temporaries(dir: &Path) {
    let left: Vec<String> = listing(dir)
        .into_iter()
        .filter(|f| f.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// rows_read = in_window + out_of_window + not_card + rejected, per file and in total, and
/// rejected.csv has one row per rejected record.
fn assert_reconciles(out: &Path) -> Value {
    let s = read_json(&out.join("summary.json"));
    let sum = |v: &Value| {
        ["in_window", "out_of_window", "not_card", "rejected"]
            .iter()
            .map(|k| v[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(s["rows_read"].as_u64().unwrap(), sum(&s), "{s}");
    for f in s["files"].as_array().unwrap() {
        assert_eq!(f["rows_read"].as_u64().unwrap(), sum(f), "{f}");
    }
    let rejected = read_csv(&out.join("rejected.csv")).len() as u64 - 1;
    assert_eq!(rejected, s["rejected"].as_u64().unwrap());
    assert_no_temporaries(out);
    s
}

fn row(id: &str, day: u32, email: &str, name: &str) -> String {
    format!("{id},2021-01-{day:02} 10:00,{email},{name},Credit Card,4111111111111111\n")
}

#[test]
fn invalid_utf8_in_a_utf8_file_is_read_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = format!("{HEADER}\n").into_bytes();
    body.extend_from_slice(
        b"A1,2021-01-01 10:00,a@example.jp,Ta\xff\xfero,Credit Card,4111111111111111\n",
    );
    body.extend_from_slice(row("A2", 2, "b@example.jp", "Bob").as_bytes());
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let o = affected(dir.path(), "o.csv", &["--encoding", "utf-8"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Before: read silently with U+FFFD. Now: a warning naming the file and line.
    assert!(
        stderr(&o).contains("o.csv: 1 line(s) hold bytes that are not valid UTF-8 (line 2)"),
        "{}",
        stderr(&o)
    );
    let s = assert_reconciles(&dir.path().join("out"));
    assert_eq!(s["in_window"], 2);
}

#[test]
fn nul_bytes_are_read_and_never_written_to_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{HEADER}\n{}\0\0\0\n{}",
        row("A1", 1, "a@example.jp", "Ta\0ro"),
        row("A2", 2, "b@exa\0mple.jp", "Bob")
    );
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let (_, s) = affected_ok(dir.path());
    let out = dir.path().join("out");
    assert_eq!(in_window_and_rejected(&s), (Some(2), Some(1)));
    // Before: rejected.csv and affected.csv held the NUL bytes. Now: spaces.
    for f in ["affected.csv", "orders.csv", "rejected.csv"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        assert!(!bytes.contains(&0), "{f} holds a NUL byte");
    }
}

#[test]
fn a_50_mb_single_line_is_read_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = format!("{HEADER}\nA1,2021-01-01 10:00,a@example.jp,").into_bytes();
    body.resize(body.len() + 50_000_000, b'x');
    body.extend_from_slice(b",Credit Card,4111111111111111\n");
    body.resize(body.len() + 50_000_000, b'y');
    body.push(b'\n');
    body.extend_from_slice(row("A2", 2, "b@example.jp", "Bob").as_bytes());
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let t = std::time::Instant::now();
    let (_, s) = affected_ok(dir.path());
    assert!(t.elapsed().as_secs() < 60, "took {:?}", t.elapsed());
    // The long name is kept; the 50 MB line of y's is one malformed record.
    assert_eq!(in_window_and_rejected(&s), (Some(2), Some(1)));
}

#[test]
fn a_truncated_gzip_log_stops_that_file_with_a_warning_and_exit_1() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "203.0.113.{} - - [20/Dec/2021:10:{:02}:{:02} +0900] \"GET /products/{i} HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n",
            i % 200,
            (i / 60) % 60,
            i % 60
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.path().join("access.log.gz"), &gz[..gz.len() / 2]).unwrap();
    let o = skimtrace()
        .current_dir(dir.path())
        .args(["evidence", "-q", "--logs", "access.log.gz"])
        .args(WINDOW)
        .args(["--out", "out"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("access.log.gz: reading stopped after line"),
        "{}",
        stderr(&o)
    );
    let out = dir.path().join("out");
    assert_no_temporaries(&out);
    let s = read_json(&out.join("summary.json"));
    let f = &s["evidence"]["files"][0];
    assert!(f["read_error"].as_str().unwrap().contains("deflate"), "{f}");
    let lines = f["lines_read"].as_u64().unwrap();
    assert!(lines > 0 && lines < 2000, "{f}");
    assert_eq!(s["evidence"]["totals"]["reconciled"], true);
}

#[test]
fn a_csv_with_10000_columns() {
    let dir = tempfile::tempdir().unwrap();
    let extra = 10_000 - 6;
    let mut body = HEADER.to_string();
    for i in 0..extra {
        body.push_str(&format!(",c{i}"));
    }
    body.push('\n');
    for id in ["A1", "A2"] {
        body.push_str(row(id, 1, "a@example.jp", "Taro").trim_end());
        body.push_str(&",x".repeat(extra));
        body.push('\n');
    }
    // And a record one field short.
    body.push_str(row("A3", 1, "a@example.jp", "Taro").trim_end());
    body.push_str(&",x".repeat(extra - 1));
    body.push('\n');
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let (_, s) = affected_ok(dir.path());
    assert_eq!(in_window_and_rejected(&s), (Some(2), Some(1)));
}

#[test]
fn an_unterminated_quote_at_the_end_of_a_file_is_one_rejected_record() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{HEADER}\n{}A2,2021-01-02 10:00,b@example.jp,\"Bob,Credit Card,4111111111111111\n",
        row("A1", 1, "a@example.jp", "Taro")
    );
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let (_, s) = affected_ok(dir.path());
    let out = dir.path().join("out");
    assert_eq!(in_window_and_rejected(&s), (Some(1), Some(1)));
    let rej = read_csv(&out.join("rejected.csv"));
    assert_eq!(rej[1][0], "o.csv:3");
    assert!(rej[1][1].contains("unterminated quote"), "{:?}", rej[1]);
    assert!(
        luhn_runs(&rej[1][2]).is_empty(),
        "the card number is masked"
    );
}

#[test]
fn a_header_row_repeated_mid_file_is_rejected_not_read_as_an_order() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{HEADER}\n{}{HEADER}\n{}",
        row("A1", 1, "a@example.jp", "Taro"),
        row("A2", 2, "b@example.jp", "Bob")
    );
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let (o, s) = affected_ok(dir.path());
    // Before: counted as a "not card" order whose payment method is "Payment Method", with a
    // warning about that method. Now: rejected with its reason.
    assert!(!stderr(&o).contains("\"Payment Method\""), "{}", stderr(&o));
    let out = dir.path().join("out");
    assert_eq!(
        (s["in_window"].as_u64(), s["not_card"].as_u64()),
        (Some(2), Some(0))
    );
    let rej = read_csv(&out.join("rejected.csv"));
    assert_eq!(rej[1][0], "o.csv:3");
    assert!(rej[1][1].contains("header row again"), "{:?}", rej[1]);
}

/// The hostile people of the next tests, as a small case with notices.
fn hostile_case(rows: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("orders.csv"), format!("{HEADER}\n{rows}")).unwrap();
    std::fs::write(
        dir.path().join("incident.toml"),
        r#"[incident]
name = "Hostile"
id = "hostile"
company = "Demo Co"
shop = "Demo shop"
timezone = "Asia/Tokyo"
window = "2020-04-27..2021-12-22"
exposed = ["card_number"]
discovered = "2021-12-07"
default_locale = "en"

[orders]
paths = ["orders.csv"]

[notify]
from = "Demo <notice@example.jp>"
date = "2022-08-18"

[contact]
name = "Desk"
email = "support@example.jp"
"#,
    )
    .unwrap();
    let o = skimtrace()
        .env("SOURCE_DATE_EPOCH", "1660780800")
        .args(["run", "-q", "--config"])
        .arg(dir.path().join("incident.toml"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.path().join("out");
    assert_reconciles(&out);
    (dir, out)
}

/// Every CSV cell the tool wrote, with the file it is in.
fn csv_cells(out: &Path) -> Vec<(String, String)> {
    listing(out)
        .into_iter()
        .filter(|f| f.ends_with(".csv"))
        .flat_map(|f| {
            read_csv(&out.join(&f))
                .into_iter()
                .flatten()
                .map(move |c| (f.clone(), c))
        })
        .collect()
}

#[test]
fn excel_formulas_in_every_text_field_are_neutralised_in_every_csv() {
    let rows = [
        "=1+2,2021-01-01 10:00,=a@example.jp,=HYPERLINK(\"\"),Credit Card,4111111111111111",
        "+F2,2021-01-01 11:00,+b@example.jp,+1+2,Credit Card,4111111111111111",
        "-F3,2021-01-01 12:00,-c@example.jp,-2-3,Credit Card,4111111111111111",
        "@F4,2021-01-01 13:00,@d@example.jp,@SUM(A1),Credit Card,4111111111111111",
        "F5,2021-01-01 14:00,e@example.jp,\"=cmd|' /C calc'!A0\",Credit Card,4111111111111111",
        "F6,not a date,=f@example.jp,=REJECTED(),Credit Card,4111111111111111",
    ]
    .join("\n");
    let (_dir, out) = hostile_case(&format!("{rows}\n"));
    let cells = csv_cells(&out);
    assert!(cells
        .iter()
        .any(|(f, c)| f == "affected.csv" && c == "'=HYPERLINK(\"\")"));
    for (f, c) in &cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{f}: a cell starts a formula: {c:?}"
        );
    }
}

#[test]
fn line_breaks_and_direction_overrides_in_names_and_emails() {
    let rows = [
        row("D1", 1, "ok@example.jp", "\"Ta\r\nro\""),
        row(
            "D2",
            2,
            "ev\u{202e}il@example.jp",
            "Ta\u{202e}gnp.exe\u{202c}",
        ),
        row(
            "D3",
            3,
            "\"x@example.jp\r\nBcc: victim@example.com\"",
            "Hdr",
        ),
        row("D4", 4, "d4@example.jp", "Mal\u{2066}lory\u{2069}"),
    ]
    .concat();
    let (_dir, out) = hostile_case(&rows);
    // Before: affected.csv carried U+202E and U+2066 as they were. Now: no CSV cell holds a
    // direction override or a control character other than a line break inside a quoted cell.
    for (f, c) in csv_cells(&out) {
        assert!(
            !c.chars().any(
                |ch| matches!(ch, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                    || (ch.is_control() && !matches!(ch, '\r' | '\n' | '\t'))
            ),
            "{f}: {c:?}"
        );
    }
    // The address with a header in it gets no notice: it goes to no_email.csv with a reason.
    let no_email = read_csv(&out.join("no_email.csv"));
    assert_eq!(no_email.len() - 1, 2, "{no_email:?}");
    assert!(
        no_email
            .iter()
            .skip(1)
            .all(|r| r[3].contains("control characters")),
        "{no_email:?}"
    );
    // No notice carries an injected header, and no header holds a bare CR or LF.
    for f in listing(&out.join("notices"))
        .iter()
        .filter(|f| f.ends_with(".eml"))
    {
        let text = std::fs::read_to_string(out.join("notices").join(f)).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(!head.to_ascii_lowercase().contains("bcc:"), "{f}: {head}");
        assert!(
            !head.replace("\r\n", "").contains(['\r', '\n']),
            "{f}: {head:?}"
        );
        assert!(!text.contains('\u{202e}'), "{f}");
    }
}

#[test]
fn template_syntax_in_names_is_text_not_template() {
    let rows = [
        row("T1", 1, "t1@example.jp", "{{ 7*7 }}"),
        row(
            "T2",
            2,
            "t2@example.jp",
            "{% for x in range(99999999) %}x{% endfor %}",
        ),
        row("T3", 3, "t3@example.jp", "{{ config.__class__ }}"),
    ]
    .concat();
    let (_dir, out) = hostile_case(&rows);
    let mut seen = 0;
    for f in listing(&out.join("notices"))
        .iter()
        .filter(|f| f.ends_with(".eml"))
    {
        let raw = std::fs::read(out.join("notices").join(f)).unwrap();
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let to = msg.to().unwrap().first().unwrap();
        let body = msg.body_text(0).unwrap();
        let name = to.name().unwrap_or_default().to_string();
        assert!(name.contains("{{") || name.contains("{%"), "{name}");
        assert!(
            body.contains(&name),
            "the name is written as it was: {name}"
        );
        assert!(!body.contains("49"), "{{{{ 7*7 }}}} was evaluated");
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[test]
fn path_separators_and_dot_dot_in_ids_never_name_a_file() {
    let rows = [
        row("../../../escape", 1, "p1@example.jp", "P1"),
        row("a/b\\c", 2, "p2@example.jp", "P2"),
        row("..", 3, "../p3@example.jp", "P3"),
        row("/etc/passwd", 4, "p4@example.jp", "/tmp/x"),
    ]
    .concat();
    let (dir, out) = hostile_case(&rows);
    // Only the tool's own names, inside the case folder.
    for f in listing(&out) {
        let name = Path::new(&f)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{f}"
        );
    }
    let mut top: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|f| !f.contains('/'))
        .collect();
    top.sort();
    assert_eq!(top, ["incident.toml", "orders.csv", "out"]);
    let ids: Vec<String> = read_csv(&out.join("orders.csv"))
        .into_iter()
        .skip(1)
        .map(|r| r[0].clone())
        .collect();
    assert!(ids.contains(&"../../../escape".to_string()), "{ids:?}");
}

#[cfg(unix)]
#[test]
fn a_symlink_where_an_output_file_goes_is_replaced_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("o.csv"),
        format!("{HEADER}\n{}", row("A1", 1, "a@example.jp", "Taro")),
    )
    .unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for f in ["affected.csv", "summary.json"] {
        std::os::unix::fs::symlink(&victim, out.join(f)).unwrap();
    }
    // A dangling link where the temporary file would go (its name has the pid: guess none,
    // so link the plain names above only).
    let o = affected(dir.path(), "o.csv", &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    for f in ["affected.csv", "summary.json"] {
        let m = std::fs::symlink_metadata(out.join(f)).unwrap();
        assert!(m.file_type().is_file(), "{f} is still a link");
    }
    assert_reconciles(&out);
}

/// A tmpfs of 16 KiB (where the test may mount one: root with mount permission), unmounted on
/// drop.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(at: &Path) -> Option<SmallFs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(at)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| SmallFs(at.to_path_buf()))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_filesystem_fails_with_exit_1_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = format!("{HEADER}\n");
    for i in 0..2000 {
        body.push_str(&row(
            &format!("O{i}"),
            1 + i % 28,
            &format!("u{i}@example.jp"),
            "Name",
        ));
    }
    std::fs::write(dir.path().join("o.csv"), body).unwrap();
    let Some(fs) = SmallFs::mount(&dir.path().join("small")) else {
        return crate::util::missing("cannot mount a tmpfs here (needs root and mount permission)");
    };
    let out = fs.0.join("out");
    let o = skimtrace()
        .current_dir(dir.path())
        .args(["affected", "-q", "--orders", "o.csv"])
        .args(WINDOW)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("No space left on device"), "{err}");
    // Nothing half-written: no temporary file, and no file that was being written when the
    // space ran out. Whatever was committed before is whole (only summary.json is written
    // last, so without it the folder is visibly incomplete).
    assert_no_temporaries(&out);
    assert!(!out.join("summary.json").exists());
    for f in listing(&out) {
        assert!(
            !err.contains(&format!("{f}:")),
            "{f} was being written and is left"
        );
    }
}

/// Card-data discipline: with full card numbers in every field of the input (and a CVV
/// column), nothing the tool prints (`-vv` included) or writes holds a full card number or a
/// security code, also when the run fails with a usage error that quotes a value.
#[test]
fn no_full_card_number_or_security_code_anywhere_even_with_vv() {
    const P: &str = "4111111111111111";
    const CVV: &str = "7391";
    let header =
        "Order ID,Ordered At,Email,Name,Payment Method,Card Number,Status,Amount,CVV,Notes";
    let body = format!(
        "{header}\n\
         {P},2021-01-01 10:00,{P}@example.jp,{P},{P},{P},{P},{P},{CVV},card {P} 12/25\n\
         A2,{P},b@example.jp,Bob,Credit Card,{P},paid,100,{CVV},x\n\
         A3,2021-01-01 10:00,c@example.jp,4111 1111 1111 1111,Credit Card,4111-1111-1111-1111,paid,100,{CVV},n\n\
         A4,2021-01-01 10:00,d@example.jp,Dan,Credit Card,{P}x,paid,100,{CVV},n\n\
         A5,2021-01-01 10:00,e@example.jp,Eve,Credit Card,{P},paid\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pans.csv"), &body).unwrap();
    assert!(luhn_runs(&body).len() >= 8);
    let check = |what: &str, text: &str| {
        assert!(luhn_runs(text).is_empty(), "{what}: a full card number");
        let tokens: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).collect();
        assert!(!tokens.contains(&CVV), "{what}: the security code");
    };
    // A run that succeeds, with debug logging.
    for (args, code) in [
        (vec!["--tz", "Asia/Tokyo"], 0),
        // No zone: a usage error that names a value.
        (vec![], 2),
    ] {
        let out = dir.path().join(format!("out{code}"));
        let o = skimtrace()
            .current_dir(dir.path())
            .args(["affected", "-vv", "--orders", "pans.csv"])
            .args(["--window", "2020-04-27..2021-12-22"])
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        check("stderr", &stderr(&o));
        check("stdout", &String::from_utf8_lossy(&o.stdout));
        for f in listing(&out) {
            let p = out.join(&f);
            if p.is_file() {
                check(&f, &String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
        if code == 0 {
            assert!(stderr(&o).contains("DEBUG") || stderr(&o).contains("INFO"));
            assert_reconciles(&out);
        }
    }
}
