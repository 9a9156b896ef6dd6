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
    write_orders_and_payments(w, None::<&mut W>, rows, customers, seed)
}

/// The header of the payments files [`write_orders_and_payments`] writes (a Stripe-like layout).
pub const PAYMENTS_HEADER: &str =
    "id,Created date (UTC),Amount,Currency,Status,Card Brand,Card Last4,Card Fingerprint,Customer Email,Client Reference ID";

/// Like [`write_orders`], and also one gateway charge per card order into `payments` (times in
/// UTC, the order id as the reference), as a Stripe-like export.
pub fn write_orders_and_payments<W: Write, P: Write>(
    w: &mut W,
    mut payments: Option<&mut P>,
    rows: u64,
    customers: u64,
    seed: u64,
) -> io::Result<()> {
    let mut rng = Rng::new(seed);
    writeln!(w, "{ORDERS_HEADER}")?;
    if let Some(p) = payments.as_deref_mut() {
        writeln!(p, "{PAYMENTS_HEADER}")?;
    }
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
        let amount = 1000 + rng.below(50_000);
        let order_id = format!("{:09}", 100_000 + i);
        writeln!(
            w,
            "{order_id},{year}-{month:02}-{day:02} {h:02}:{m:02}:{s:02},customer{c}@example.com,M{c:08},顧客 {c},{card},,{method},{status},{amount},JPY,{},JP,\"gift wrap, deliver after 18:00 (order {i})\"",
            PREFS[rng.below(PREFS.len() as u64) as usize],
        )?;
        if let (Some(p), false) = (payments.as_deref_mut(), card.is_empty()) {
            // Tokyo is UTC+9 all year: the UTC hour is 9 earlier (the day may roll back;
            // keep it simple by staying on the same day for early hours).
            let uh = if h >= 9 { h - 9 } else { h };
            let last4 = &card[card.len() - 4..];
            writeln!(
                p,
                "ch_{i:08},{year}-{month:02}-{day:02} {uh:02}:{m:02}:{s:02},{amount},jpy,{},Visa,{last4},fp{c:014},customer{c}@example.com,{order_id}",
                if status == "declined" { "Failed" } else { "Paid" },
            )?;
        }
    }
    Ok(())
}

/// The header of [`write_peer_shape`]'s files.
pub const PEER_HEADER: &str =
    "Order ID,Ordered At,Email,Login ID,Card Holder,Card Number,Payment Method,Status,Amount,Currency,Prefecture,Country";

/// Writes `rows` orders shaped like a mid-size case, the shape the speed comparison with polars
/// uses (README, "Speed"): about 127 bytes a row, 46 % of the rows inside the window
/// 2020-04-27..2021-12-22 (Asia/Tokyo), 30 % of the rows in-window card orders, and about 17
/// distinct e-mails per 100 rows (170,000 in 1,000,000).
pub fn write_peer_shape<W: Write>(w: &mut W, rows: u64, seed: u64) -> io::Result<()> {
    // Days since 2019-01-01: the window is days 482..=1086, the whole range 0..1826.
    const WIN_START: u64 = 482;
    const WIN_DAYS: u64 = 605;
    const ALL_DAYS: u64 = 1826;
    let mut rng = Rng::new(seed);
    writeln!(w, "{PEER_HEADER}")?;
    let people = (rows * 19 / 100).max(1);
    let base = jiff::civil::date(2019, 1, 1);
    for i in 0..rows {
        let c = rng.below(people);
        let in_window = rng.below(100) < 46;
        let day = if in_window {
            WIN_START + rng.below(WIN_DAYS)
        } else {
            let d = rng.below(ALL_DAYS - WIN_DAYS);
            if d < WIN_START {
                d
            } else {
                d + WIN_DAYS
            }
        };
        let date = base
            .checked_add(jiff::Span::new().days(day as i64))
            .expect("a date in range");
        let (h, m, s) = (rng.below(24), rng.below(60), rng.below(60));
        // 30 of the 46 % in-window rows pay by card (65 %), and as many outside.
        let card_paid = rng.below(1000) < 652;
        let (method, card) = if card_paid {
            let mut crng = Rng::new(c * 7 + rng.below(2));
            (METHODS[rng.below(2) as usize], pan(&mut crng))
        } else {
            (METHODS[2 + rng.below(2) as usize], String::new())
        };
        let status = STATUSES[rng.below(STATUSES.len() as u64) as usize];
        writeln!(
            w,
            "{:09},{date} {h:02}:{m:02}:{s:02},customer{c}@example.com,M{c:08},顧客 {c},{card},{method},{status},{},JPY,{},JP",
            100_000 + i,
            1000 + rng.below(50_000),
            PREFS[rng.below(PREFS.len() as u64) as usize],
        )?;
    }
    Ok(())
}

/// Lines of a combined-format access log, the shape the `evidence` benchmark scans: `{ip}`,
/// `{t}`, `{n}` and `{m}` in a template are replaced by an address, the time, a product number
/// and a small number.
pub const LOG_TEMPLATES: &[&str] = &[
    r#"{ip} - - [{t}] "GET /products/detail/{n} HTTP/1.1" 200 8311 "https://shop.example.jp/products/list?category_id={m}" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 Safari/537.36""#,
    r#"{ip} - - [{t}] "GET /html/template/default/assets/js/function.js?v={m} HTTP/1.1" 304 - "https://shop.example.jp/" "Mozilla/5.0 (iPhone; CPU iPhone OS 15_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.1 Mobile/15E148 Safari/604.1""#,
    r#"{ip} - - [{t}] "POST /cart/add HTTP/1.1" 302 0 "https://shop.example.jp/products/detail/{n}" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.1 Safari/605.1.15""#,
    r#"{ip} - - [{t}] "GET /robots.txt HTTP/1.1" 200 76 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)""#,
];

/// Requests the built-in rules match (a web shell, a `.git` probe, a scripted admin login).
pub const LOG_ATTACKS: &[&str] = &[
    r#"{ip} - - [{t}] "GET /html/upload/save_image/wso.php?cmd=id HTTP/1.1" 200 66 "-" "Mozilla/5.0""#,
    r#"{ip} - - [{t}] "GET /.git/config HTTP/1.1" 404 196 "-" "curl/7.68.0""#,
    r#"{ip} - - [{t}] "POST /admin/login_check HTTP/1.1" 302 0 "-" "python-requests/2.25.1""#,
];

/// Writes about `bytes` bytes of a combined-format log: lines from `templates`, one in
/// `attack_every` from [`LOG_ATTACKS`], varied addresses and times rising over 2020-2021
/// (+09:00). Returns the number of lines written.
pub fn write_combined_log<W: Write>(
    w: &mut W,
    templates: &[String],
    attack_every: u64,
    bytes: u64,
) -> io::Result<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (mut written, mut i) = (0u64, 0u64);
    let total_lines = bytes / 230;
    let start: i64 = 1_577_836_800; // 2020-01-01T00:00:00Z
    let span: i64 = 2 * 365 * 86_400;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut line = String::new();
    while written < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = start + (i as i64 * span / total_lines.max(1) as i64);
        let civil = jiff::Timestamp::from_second(t)
            .expect("a time in range")
            .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(9)));
        let ts = format!(
            "{:02}/{}/{}:{:02}:{:02}:{:02} +0900",
            civil.day(),
            MONTHS[civil.month() as usize - 1],
            civil.year(),
            civil.hour(),
            civil.minute(),
            civil.second()
        );
        let ip = format!(
            "{}.{}.{}.{}",
            1 + x % 223,
            (x >> 8) % 256,
            (x >> 16) % 256,
            1 + (x >> 24) % 254
        );
        let tpl = if x.is_multiple_of(attack_every.max(1)) {
            LOG_ATTACKS[(x >> 32) as usize % LOG_ATTACKS.len()]
        } else {
            &templates[(x >> 20) as usize % templates.len()]
        };
        line.clear();
        line.push_str(
            &tpl.replace("{ip}", &ip)
                .replace("{t}", &ts)
                .replace("{n}", &(x % 5000).to_string())
                .replace("{m}", &(x % 97).to_string()),
        );
        line.push('\n');
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The comparison with polars measures the shape it promises.
    #[test]
    fn the_peer_shape_has_its_proportions() {
        let mut out = Vec::new();
        write_peer_shape(&mut out, 20_000, 42).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 20_000);
        let in_window = |r: &Vec<&str>| r[1] >= "2020-04-27" && r[1] < "2021-12-23";
        let card = |r: &Vec<&str>| !r[5].is_empty();
        let pct = |n: usize| n * 100 / rows.len();
        let w = pct(rows.iter().filter(|r| in_window(r)).count());
        assert!((45..=47).contains(&w), "46 % in window: {w}");
        let in_card = rows.iter().filter(|r| in_window(r) && card(r)).count();
        assert!(
            (29..=30).contains(&pct(in_card)),
            "30 % in-window card: {}",
            pct(in_card)
        );
        let emails: std::collections::HashSet<&str> = rows.iter().map(|r| r[2]).collect();
        assert!((15..=18).contains(&pct(emails.len())), "{}", emails.len());
    }

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
