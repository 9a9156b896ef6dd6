//! Notify throughput (a benchmark, not a timed test): renders 100,000 notices to .eml files
//! with the release binary, then sends a batch to the loopback test server
//! (`tests/smtp/server.py`, needs python3 with aiosmtpd) over one reused connection.
//!
//! Run: `cargo bench --bench notify`. Sizes: `SKIMTRACE_BENCH_RENDER` (default 100000),
//! `SKIMTRACE_BENCH_SEND` (default 5000), `SKIMTRACE_BENCH_CONNECTIONS` (default 1). Targets: render < 10 s, send >= 200 messages/s.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

const INCIDENT: &str = r#"
[incident]
name = "bench"
id = "bench-2022"
company = "株式会社ベンチ"
shop = "ベンチショップ"
timezone = "Asia/Tokyo"
window = "2020-04-27..2021-12-22"
exposed = ["card_holder", "card_number", "expiry", "security_code"]

[notify]
from = "株式会社ベンチ <notice@bench.example>"
date = "2022-08-18"
reissue_free = true

[contact]
name = "お問い合わせ窓口"
phone = "0120-000-000"
hours = "10:00～18:00"
email = "support@bench.example"
"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `n` synthetic customers (half ja, half en) in the shape `affected` writes.
fn write_affected(path: &std::path::Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let (locale, name) = if i % 2 == 0 {
            ("ja", format!("山田 太郎{i}"))
        } else {
            ("en", format!("Customer {i}"))
        };
        let v = serde_json::json!({
            "customer_id": format!("c-bench{i:07}"),
            "name": name,
            "email": format!("user{i}@example.com"),
            "emails": [format!("user{i}@example.com")],
            "login_ids": [],
            "locale": locale,
            "region": "", "country": "JP",
            "cards": [{"brand": "VISA", "last4": "1111", "masked": "411111******1111",
                       "fingerprint": null, "shared": false, "check": "valid",
                       "display": "VISA ****1111"}],
            "order_ids": [format!("{i}")], "order_count": 1,
            "first_order_at": "2021-03-01T10:00:00+09:00",
            "last_order_at": "2021-03-01T10:00:00+09:00",
            "contact": "email", "reasons": ["card_order_in_window"],
        });
        serde_json::to_writer(&mut f, &v).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

fn main() {
    skimtrace::allocator::return_freed_memory_at_once();
    let bin = env!("CARGO_BIN_EXE_skimtrace");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("incident.toml"), INCIDENT).unwrap();

    let n = env_usize("SKIMTRACE_BENCH_RENDER", 100_000);
    let render = dir.path().join("render");
    std::fs::create_dir_all(&render).unwrap();
    write_affected(&render.join("affected.jsonl"), n);
    let t = Instant::now();
    let ok = Command::new(bin)
        .current_dir(dir.path())
        .args([
            "notify",
            "--affected",
            "render/affected.jsonl",
            "--config",
            "incident.toml",
            "--quiet",
        ])
        .status()
        .unwrap()
        .success();
    let secs = t.elapsed().as_secs_f64();
    assert!(ok, "render failed");
    println!(
        "render: {n} notices to .eml in {secs:.2} s ({:.0} notices/s; target < 10 s for 100,000)",
        n as f64 / secs
    );

    let m = env_usize("SKIMTRACE_BENCH_SEND", 5_000);
    let send = dir.path().join("send");
    std::fs::create_dir_all(&send).unwrap();
    write_affected(&send.join("affected.jsonl"), m);
    let server_py = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py");
    let mut server = Command::new("python3")
        .args([server_py, "--lifetime", "600", "--dir"])
        .arg(dir.path().join("mail"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd");
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let url = format!("smtp://127.0.0.1:{}", port.trim());
    let conns = env_usize("SKIMTRACE_BENCH_CONNECTIONS", 1);
    let t = Instant::now();
    let ok = Command::new(bin)
        .current_dir(dir.path())
        .args([
            "notify",
            "--affected",
            "send/affected.jsonl",
            "--config",
            "incident.toml",
        ])
        .args([
            "--send",
            &url,
            "--tls",
            "none",
            "--quiet",
            "--connections",
            &conns.to_string(),
        ])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    let secs = t.elapsed().as_secs_f64();
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "send failed");
    println!(
        "send: {m} messages over {conns} reused connection(s) in {secs:.2} s ({:.0} messages/s; target >= 200)",
        m as f64 / secs
    );
}
