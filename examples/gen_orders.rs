//! Writes a large synthetic order export (and optionally a Stripe-like payments export) for
//! benchmarks: `cargo run --release --example gen_orders -- ROWS ORDERS.csv [PAYMENTS.csv]`, or
//! the shape of the speed comparison with polars: `gen_orders --peer-shape ROWS ORDERS.csv`.
//! Deterministic (seeded); card numbers are synthetic with a computed Luhn digit.

use std::fs::File;
use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let peer_shape = args.first().is_some_and(|a| a == "--peer-shape");
    if peer_shape {
        args.remove(0);
    }
    let (Some(rows), Some(orders)) = (args.first(), args.get(1)) else {
        eprintln!("usage: gen_orders [--peer-shape] ROWS ORDERS.csv [PAYMENTS.csv]");
        std::process::exit(2);
    };
    let rows: u64 = rows.parse().unwrap_or_else(|_| {
        eprintln!("ROWS must be a number, e.g. 1000000");
        std::process::exit(2);
    });
    let mut w = BufWriter::new(File::create(orders)?);
    if peer_shape {
        return skimtrace::synth::write_peer_shape(&mut w, rows, 42);
    }
    match args.get(2) {
        Some(p) => {
            let mut pw = BufWriter::new(File::create(p)?);
            skimtrace::synth::write_orders_and_payments(&mut w, Some(&mut pw), rows, rows / 4, 42)
        }
        None => skimtrace::synth::write_orders(&mut w, rows, rows / 4, 42),
    }
}
