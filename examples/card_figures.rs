//! The card detector's figures both ways (README, "Card numbers"): how many digit runs of real
//! text each narrowing would change. A log (plain or gzip'd) is read a line at a time, as
//! `evidence` reads it; a `.csv` file a cell at a time, as `affected` reads it, with the card
//! columns named by `--card-column NAME` counted apart (their numbers are card numbers). Any other
//! change is a false positive unless the text holds card numbers.
//!
//! `cargo run --release --example card_figures -- [--card-column NAME]... FILE...`

use skimtrace::cards::detect::{find_bytes_with, Narrowing};
use std::io::{BufRead, BufReader, Read};

const WAYS: [(&str, Narrowing); 4] = [
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

#[derive(Default)]
struct Tally {
    texts: u64,
    changed: [u64; 4],
    runs: [u64; 4],
    card_column_runs: [u64; 4],
    samples: Vec<String>,
}

impl Tally {
    fn text(&mut self, b: &[u8], card_column: bool, at: &str) {
        self.texts += 1;
        for (k, (name, n)) in WAYS.iter().enumerate() {
            let found = find_bytes_with(b, *n);
            if found.is_empty() {
                continue;
            }
            if card_column {
                self.card_column_runs[k] += found.len() as u64;
                continue;
            }
            self.changed[k] += 1;
            self.runs[k] += found.len() as u64;
            if self.samples.len() < 20 && (k == 0 || self.samples.len() < 10) {
                let what: Vec<&str> = found.iter().map(|f| f.masked.as_str()).collect();
                self.samples.push(format!("{name}: {at}: {what:?}"));
            }
        }
    }
}

fn main() {
    let mut card_columns: Vec<String> = Vec::new();
    let mut files: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--card-column" {
            card_columns.push(args.next().expect("--card-column NAME"));
        } else {
            files.push(a);
        }
    }
    let mut t = Tally::default();
    for path in &files {
        let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let r: Box<dyn Read> = if path.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        };
        if path.ends_with(".csv") {
            let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(r);
            let headers = csv.byte_headers().expect("a header row").clone();
            let cards: Vec<bool> = headers
                .iter()
                .map(|h| card_columns.iter().any(|c| c.as_bytes() == h))
                .collect();
            for (n, rec) in csv.byte_records().enumerate() {
                let rec = rec.unwrap_or_else(|e| panic!("{path}: {e}"));
                for (i, cell) in rec.iter().enumerate() {
                    let at = format!("{path}:{}", n + 2);
                    t.text(cell, cards.get(i).copied().unwrap_or(false), &at);
                }
            }
        } else {
            for (n, line) in BufReader::new(r).split(b'\n').enumerate() {
                let line = line.unwrap_or_else(|e| panic!("{path}: {e}"));
                t.text(&line, false, &format!("{path}:{}", n + 1));
            }
        }
    }
    println!("{} texts (lines or cells) read", t.texts);
    for (k, (name, _)) in WAYS.iter().enumerate() {
        println!(
            "{name:>26}: {} runs changed in {} texts outside card columns; {} in card columns",
            t.runs[k], t.changed[k], t.card_column_runs[k]
        );
    }
    for s in t.samples {
        println!("  {s}");
    }
}
