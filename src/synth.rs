//! Synthetic exports for benchmarks and tests: deterministic (a seeded xorshift generator), with
//! realistic row sizes and shapes. Card numbers are synthetic PANs with a computed Luhn digit;
//! nothing here is real data.

use std::io::{self, Write};

/// A small deterministic PRNG (xorshift64*), so generated files are identical across runs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const PREFIXES: &[(&str, usize)] = &[
    ("4", 16),
    ("51", 16),
    ("2221", 16),
    ("37", 15),
    ("3530", 16),
    ("36", 14),
    ("6011", 16),
    ("62", 19),
];

const PREFS: &[&str] = &[
    "東京都",
    "大阪府",
    "北海道",
    "福岡県",
    "愛知県",
    "岡山県",
    "京都府",
    "沖縄県",
];
const METHODS: &[&str] = &[
    "クレジットカード決済",
    "credit_card",
    "銀行振込",
    "代金引換",
    "Credit Card (Stripe)",
];
const STATUSES: &[&str] = &["paid", "declined", "refunded", "pending", "cancelled"];

/// A synthetic PAN: a brand prefix, random digits and a computed Luhn check digit.
pub fn pan(rng: &mut Rng) -> String {
    let (prefix, len) = PREFIXES[rng.below(PREFIXES.len() as u64) as usize];
    let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    while d.len() < len - 1 {
        d.push(rng.below(10) as u8);
    }
    // Check digit: doubling applies to every second digit counting from the one left of it.
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut n = u32::from(x);
        if i % 2 == 0 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        sum += n;
    }
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

/// The header of [`write_orders`]' files.
pub const ORDERS_HEADER: &str =
    "Order ID,Ordered At,Email,Login ID,Card Holder,Card Number,Card Brand,Payment Method,Status,Amount,Currency,Prefecture,Country,Notes";

/// Writes `rows` order records (one per order) spread over 2019-01..2023-12, about 200 bytes a
/// row. `customers` bounds the number of distinct people (several orders each).
pub fn write_orders<W: Write>(w: &mut W, rows: u64, customers: u64, seed: u64) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    writeln!(w, "{ORDERS_HEADER}")?;
    let customers = customers.max(1);
    for i in 0..rows {
        let c = rng.below(customers);
        let year = 2019 + rng.below(5);
        let month = 1 + rng.below(12);
        let day = 1 + rng.below(28);
        let (h, m, s) = (rng.below(24), rng.below(60), rng.below(60));
        let method = METHODS[rng.below(METHODS.len() as u64) as usize];
        let status = STATUSES[rng.below(STATUSES.len() as u64) as usize];
        let card = if method.contains("銀行") || method.contains("代金") {
            String::new()
        } else {
            // A customer keeps mostly one card: derive it from the customer number.
            let mut crng = Rng::new(c * 7 + rng.below(2));
            pan(&mut crng)
        };
        writeln!(
            w,
            "{:09},{year}-{month:02}-{day:02} {h:02}:{m:02}:{s:02},customer{c}@example.com,M{c:08},顧客 {c},{card},,{method},{status},{},JPY,{},JP,\"gift wrap, deliver after 18:00 (order {i})\"",
            100_000 + i,
            1000 + rng.below(50_000),
            PREFS[rng.below(PREFS.len() as u64) as usize],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pans_pass_luhn_and_rows_are_stable() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let p = pan(&mut r);
            assert!(crate::cards::luhn_valid(p.as_bytes()), "{p}");
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_orders(&mut a, 100, 10, 7).unwrap();
        write_orders(&mut b, 100, 10, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 101);
    }
}
