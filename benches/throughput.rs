//! Throughput of `skimtrace affected` on a large synthetic export (`cargo bench --bench
//! throughput`). Generates `target/bench-data/orders-<rows>.csv` once (about 200 bytes a row),
//! then runs the whole command in-process three times and reports wall time, rows/s, MB/s and
//! the peak resident memory of the process.
//!
//! `BENCH_ROWS` sets the row count (default 1,000,000).

use skimtrace::affected;
use skimtrace::case::{Case, Overrides};
use skimtrace::progress::Silent;
use std::path::PathBuf;
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    skimtrace::allocator::return_freed_memory_at_once();
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("orders-{rows}.csv"));
    let pay = dir.join(format!("payments-{rows}.csv"));
    if !file.exists() || !pay.exists() {
        eprintln!("generating {} and {} ...", file.display(), pay.display());
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut p = std::io::BufWriter::new(std::fs::File::create(&pay).unwrap());
        skimtrace::synth::write_orders_and_payments(&mut w, Some(&mut p), rows, rows / 4, 42)
            .unwrap();
    }
    let bytes = std::fs::metadata(&file).unwrap().len();
    let pay_bytes = std::fs::metadata(&pay).unwrap().len();
    let pay_rows = std::fs::read(&pay)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() - 1)
        .unwrap_or(0);
    std::env::set_var(
        "SKIMTRACE_FINGERPRINT_KEY",
        "bench-key-0123456789abcdef0123456789",
    );
    let orders = vec![file.to_string_lossy().into_owned()];
    let best = best_of_three(&dir, "out", &orders, &[], |secs, customers| {
        println!(
            "affected: {rows} rows, {:.1} MB in {secs:.3} s: {:.0} rows/s, {:.1} MB/s ({customers} customers)",
            bytes as f64 / 1e6,
            rows as f64 / secs,
            bytes as f64 / 1e6 / secs,
        )
    });
    println!(
        "affected: best {best:.3} s = {:.0} rows/s, {:.1} MB/s; peak RSS {:.0} MB",
        rows as f64 / best,
        bytes as f64 / 1e6 / best,
        peak_rss_mb()
    );
    // The same orders joined with a payments export (one charge per card order).
    let payments = vec![pay.to_string_lossy().into_owned()];
    let best_pay = best_of_three(&dir, "out-pay", &orders, &payments, |secs, customers| {
        println!(
            "affected --payments: {rows} orders + {pay_rows} charges ({:.1} MB) in {secs:.3} s ({customers} customers)",
            (bytes + pay_bytes) as f64 / 1e6,
        )
    });
    println!(
        "affected --payments: best {best_pay:.3} s = {:.2}x the orders alone; peak RSS {:.0} MB",
        best_pay / best,
        peak_rss_mb()
    );
}

/// Runs `affected` three times on the given exports, reporting each run; returns the best time.
fn best_of_three(
    dir: &std::path::Path,
    name: &str,
    orders: &[String],
    payments: &[String],
    report: impl Fn(f64, usize),
) -> f64 {
    let mut best = f64::MAX;
    for run in 0..3 {
        let out = dir.join(format!("{name}-{run}"));
        let _ = std::fs::remove_dir_all(&out);
        let case = Case::open(&Overrides {
            window: Some("2020-04-27..2021-12-22".into()),
            tz: Some("Asia/Tokyo".into()),
            out: Some(out.clone()),
            ..Overrides::default()
        })
        .expect("the case opens");
        let opts = affected::Options {
            orders: orders.to_vec(),
            payments: payments.to_vec(),
            ..affected::Options::default()
        };
        let t = Instant::now();
        let outcome = affected::run(&case, &opts, &Silent).expect("affected runs");
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        report(secs, outcome.customers);
        let _ = std::fs::remove_dir_all(&out);
    }
    best
}
