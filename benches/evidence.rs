//! `skimtrace evidence` throughput, side by side with `zcat` and GoAccess on the same file.
//!
//! Generates (once, cached) a combined-format log of `SKIMTRACE_BENCH_MB` MB (default 1024)
//! from real-looking lines — the elastic sample log when `../shared/data` has it, else built-in
//! templates — with varied addresses, rising timestamps over two years and a few planted
//! attacks, plus its gzip'd copy. Then it times the scan (built-in pack, 24 rules) over the
//! plain and the gzip'd file, `zcat FILE > /dev/null`, and `goaccess FILE
//! --log-format=COMBINED -o report.json` when GoAccess is installed, and prints MB/s, lines/s
//! and the peak resident memory; with SigmaHQ's web rules added when `../shared/data` has them.
//! One line in 64 is an attack, so about 1.5 % of the requests match. Run: `cargo bench
//! --bench evidence` (or benches/evidence.sh, or benches/speed.sh for every figure at once);
//! `SKIMTRACE_BENCH_EVENTS=0` and `SKIMTRACE_BENCH_GOACCESS=0` skip those runs.

use flate2::write::GzEncoder;
use skimtrace::evidence::parquet::EventWriter;
use skimtrace::evidence::scan::{scan_file, Input, ScanOptions};
use skimtrace::rules::{Matcher, RuleSet};
use skimtrace::window::Window;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    skimtrace::allocator::return_freed_memory_at_once();
    let mb: u64 = std::env::var("SKIMTRACE_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var("SKIMTRACE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/bench-evidence"));
    std::fs::create_dir_all(&dir).unwrap();
    // One line in 64 an attack: about 1.5 % of the requests match, the shape of the speed issue.
    let plain = dir.join(format!("access-{mb}mb-1in64.log"));
    let gz = dir.join(format!("access-{mb}mb-1in64.log.gz"));
    if !plain.exists() || !gz.exists() {
        eprintln!(
            "generating {} ({mb} MB) and its gzip'd copy…",
            plain.display()
        );
        generate(&root, &plain, &gz, mb << 20);
    }
    let plain_mb = std::fs::metadata(&plain).unwrap().len() as f64 / 1e6;
    let lines = count_lines(&plain);

    let set = RuleSet::builtin();
    let matcher = Matcher::new(&set.rules);
    let window = Window::parse("2020-04-27..2021-12-22", Some("Asia/Tokyo")).unwrap();
    let opts = ScanOptions {
        matcher: &matcher,
        format: None,
        window: &window,
        checkout: None,
        reject_samples: 100,
        progress: None,
        events: None,
    };
    println!(
        "file: {} ({plain_mb:.0} MB, {lines} lines), {} rules, {} threads",
        plain.display(),
        set.rules.len(),
        rayon::current_num_threads()
    );
    let scan = |p: &Path| {
        let input = Input {
            path: p.to_path_buf(),
            display: p.display().to_string(),
        };
        let t = Instant::now();
        let r = scan_file(0, &input, &opts).unwrap();
        assert_eq!(r.lines, lines);
        (t.elapsed().as_secs_f64(), r.hits.len())
    };
    // Best of two: the first run also warms the page cache.
    let (p1, hits) = scan(&plain);
    let (p2, _) = scan(&plain);
    let tp = p1.min(p2);
    let (g1, _) = scan(&gz);
    let (g2, _) = scan(&gz);
    let tg = g1.min(g2);
    let tz = time_cmd(Command::new("zcat").arg(&gz)).min(time_cmd(Command::new("zcat").arg(&gz)));
    println!(
        "skimtrace plain: {tp:.2} s, {:.0} MB/s, {:.0} lines/s ({hits} hits)",
        plain_mb / tp,
        lines as f64 / tp
    );
    println!(
        "skimtrace gzip:  {tg:.2} s, {:.0} MB/s of log, {:.2}x zcat",
        plain_mb / tg,
        tg / tz
    );
    println!("zcat > /dev/null: {tz:.2} s, {:.0} MB/s", plain_mb / tz);
    // With SigmaHQ's web rules added to the built-in pack, as a responder who uses Sigma will.
    let sigma = root.join("../shared/data/sigmahq-webserver");
    if sigma.is_dir() {
        let mut set = RuleSet::builtin();
        set.load_path(&sigma, "sigmahq").unwrap();
        let matcher = Matcher::new(&set.rules);
        let o = ScanOptions {
            matcher: &matcher,
            ..opts.clone_without_events()
        };
        let input = Input {
            path: plain.clone(),
            display: plain.display().to_string(),
        };
        let mut best = f64::MAX;
        let mut hits = 0;
        for _ in 0..2 {
            let t = Instant::now();
            let r = scan_file(0, &input, &o).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            hits = r.hits.len();
        }
        println!(
            "skimtrace plain, {} rules (+ SigmaHQ): {best:.2} s, {:.0} MB/s ({hits} hits)",
            set.rules.len(),
            plain_mb / best
        );
    }
    if std::env::var("SKIMTRACE_BENCH_EVENTS").as_deref() == Ok("0") {
        println!("--emit-events: skipped (SKIMTRACE_BENCH_EVENTS=0)");
        println!("peak resident memory: {}", peak_rss());
        return;
    }
    // `--emit-events`: the same scan writing every request as Parquet (best of two).
    let events_path = dir.join("events.parquet");
    let emit = || {
        let w = EventWriter::start(&events_path, vec![plain.display().to_string()]).unwrap();
        let o = ScanOptions {
            events: Some(w.sender()),
            ..opts.clone_without_events()
        };
        let input = Input {
            path: plain.clone(),
            display: plain.display().to_string(),
        };
        let t = Instant::now();
        let r = scan_file(0, &input, &o).unwrap();
        drop(o);
        let stats = w.finish().unwrap();
        assert_eq!(stats.rows, r.parsed);
        (t.elapsed().as_secs_f64(), stats)
    };
    let (e1, stats) = emit();
    let (e2, _) = emit();
    let te = e1.min(e2);
    println!(
        "skimtrace plain + --emit-events: {te:.2} s, {:.0} MB/s, {:.2}x the plain scan ({} rows, {} row groups, {:.0} MB of Parquet)",
        plain_mb / te,
        te / tp,
        stats.rows,
        stats.row_groups,
        std::fs::metadata(&events_path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    let report = dir.join("goaccess-report.json");
    if std::env::var("SKIMTRACE_BENCH_GOACCESS").as_deref() == Ok("0") {
        println!("goaccess: skipped (SKIMTRACE_BENCH_GOACCESS=0)");
    } else {
        // One timed run: GoAccess takes a minute per GB, and the page cache is warm already.
        let t = Instant::now();
        let ga = Command::new("goaccess")
            .arg(&plain)
            .arg("--log-format=COMBINED")
            .arg("-o")
            .arg(&report)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .status();
        let t = t.elapsed().as_secs_f64();
        match ga {
            Ok(s) if s.success() => println!(
                "goaccess: {t:.2} s, {:.0} lines/s; skimtrace is {:.1}x faster",
                lines as f64 / t,
                t / tp
            ),
            Ok(s) => println!("goaccess: failed ({s})"),
            Err(_) => println!("goaccess: not installed (apt-get install -y goaccess)"),
        }
    }
    println!("peak resident memory: {}", peak_rss());
}

fn time_cmd(c: &mut Command) -> f64 {
    let t = Instant::now();
    let s = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(s.success(), "{c:?} failed");
    t.elapsed().as_secs_f64()
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn count_lines(p: &Path) -> u64 {
    let mut f = std::fs::File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        let k = f.read(&mut buf).unwrap();
        if k == 0 {
            return n;
        }
        n += memchr::memchr_iter(b'\n', &buf[..k]).count() as u64;
    }
}

/// Real lines as templates: the elastic sample when present (its time field replaced).
fn templates(root: &Path) -> Vec<String> {
    let p = root.join("../shared/data/elastic-apache-logs/apache_logs.gz");
    let Ok(f) = std::fs::File::open(&p) else {
        return skimtrace::synth::LOG_TEMPLATES
            .iter()
            .map(|s| s.to_string())
            .collect();
    };
    let re = regex::Regex::new(r"^\S+ (.*)\[[^\]]+\](.*)$").unwrap();
    BufReader::new(flate2::read::MultiGzDecoder::new(f))
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let c = re.captures(&l)?;
            Some(format!("{{ip}} {}[{{t}}]{}", &c[1], &c[2]))
        })
        .filter(|l| l.ends_with('"'))
        .collect()
}

fn generate(root: &Path, plain: &Path, gz: &Path, bytes: u64) {
    let templates = templates(root);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(plain).unwrap());
    skimtrace::synth::write_combined_log(&mut out, &templates, 64, bytes).unwrap();
    out.flush().unwrap();
    drop(out);
    let mut gzw = GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(gz).unwrap()),
        flate2::Compression::default(),
    );
    std::io::copy(&mut std::fs::File::open(plain).unwrap(), &mut gzw).unwrap();
    gzw.finish().unwrap().flush().unwrap();
}
