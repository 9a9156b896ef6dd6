//! The card detector's figures both ways (README, "Card numbers"): how many digit runs of real
//! text each narrowing would change. Every line of every file given is read as the detector
//! reads a log line; a change is a false positive unless the text holds card numbers.
//!
//! `cargo run --release --example card_figures -- FILE...` (plain or gzip'd).

use skimtrace::cards::detect::{find_bytes_with, Narrowing};
use std::io::{BufRead, BufReader, Read};

fn main() {
    let ways = [
        ("IIN + grouping (default)", Narrowing::DEFAULT),
        (
            "IIN only",
            Narrowing {
                iin: true,
                grouping: false,
            },
        ),
        (
            "grouping only",
            Narrowing {
                iin: false,
                grouping: true,
            },
        ),
        ("neither", Narrowing::NONE),
    ];
    let mut lines = 0u64;
    let mut changed = [0u64; 4];
    let mut runs = [0u64; 4];
    let mut samples: Vec<String> = Vec::new();
    for path in std::env::args().skip(1) {
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let r: Box<dyn Read> = if path.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        };
        for line in BufReader::new(r).split(b'\n') {
            let line = line.unwrap_or_else(|e| panic!("{path}: {e}"));
            lines += 1;
            for (k, (_, n)) in ways.iter().enumerate() {
                let found = find_bytes_with(&line, *n);
                if !found.is_empty() {
                    changed[k] += 1;
                    runs[k] += found.len() as u64;
                    if samples.len() < 20 {
                        let what: Vec<&str> = found.iter().map(|f| f.masked.as_str()).collect();
                        samples.push(format!("{}: {path}:{lines}: {what:?}", ways[k].0));
                    }
                }
            }
        }
    }
    println!("{lines} lines read");
    for (k, (name, _)) in ways.iter().enumerate() {
        println!(
            "{name:>26}: {} runs changed on {} lines",
            runs[k], changed[k]
        );
    }
    for s in samples {
        println!("  {s}");
    }
}
