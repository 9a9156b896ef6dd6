//! The order ingest gives the same classes, kept orders, rejects and tallies however the
//! reader cuts a file into blocks: the records are prepared a block at a time on the thread
//! pool and classified in file order one block behind ([`super::OrderFile::records`]), and
//! whether it copies each block or takes the reader's list of records.

use super::*;
use crate::cards::KeySource;
use crate::input::csv::Visitor;

const HEADER: &str =
    "Order ID,Ordered At,Email,Login ID,Card Holder,Card Number,Payment Method,Status,Amount,Currency,Note";

/// Rows that depend on the rows before them: line items of one order far apart (one of them
/// disagreeing on the e-mail), the header again, a wrong width, an unreadable time, a card
/// number in a text column, a status that is excluded, records without an order id, not-card
/// and out-of-window orders, and a line the reader cut off a runaway quote.
fn rows() -> Vec<(Option<Cut>, String)> {
    let mut rows = Vec::new();
    for i in 0..40 {
        let id = i % 13;
        let (when, method) = match i % 5 {
            0 => ("2021-06-01 10:00:00", "credit_card"),
            1 => ("2019-06-01 10:00:00", "credit_card"),
            2 => ("2021-06-02 10:00:00", "銀行振込"),
            3 => ("2021-06-03 10:00:00", "クレジットカード"),
            _ => ("2021-06-04 10:00:00", ""),
        };
        let email = if i == 27 {
            "other@example.jp".to_string()
        } else {
            format!("c{id}@example.jp")
        };
        let card = if i % 2 == 0 { "4111111111111111" } else { "" };
        let status = if i % 11 == 10 { "cancelled" } else { "paid" };
        rows.push((
            None,
            format!("{id},{when},{email},M{id},Name {id},{card},{method},{status},100,JPY,"),
        ));
    }
    rows.push((None, HEADER.to_string()));
    rows.push((None, "99,2021-06-01 10:00:00,x@example.jp".into()));
    rows.push((
        None,
        "98,not a time,y@example.jp,M98,Y,4111111111111111,credit_card,paid,1,JPY,".into(),
    ));
    rows.push((None, "97,2021-06-01 10:00:00,z@example.jp,M97,Z,,credit_card,paid,1,JPY,card 5555 5555 5555 4444 typed here".into()));
    rows.push((
        None,
        ",2021-06-05 10:00:00,n@example.jp,,N,4111111111111111,credit_card,paid,1,JPY,".into(),
    ));
    rows.push((Some(Cut::Eof), "96,\"2021-06-01".into()));
    rows.push((
        None,
        ",2021-06-05 10:00:00,n@example.jp,,N,4111111111111111,credit_card,paid,1,JPY,".into(),
    ));
    rows
}

fn record(text: &str) -> csv::ByteRecord {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = csv::ByteRecord::new();
    r.read_byte_record(&mut rec).unwrap();
    rec
}

/// How the records reach the ingest.
#[derive(Clone, Copy)]
enum Feed {
    /// One at a time through `record` and `rejected`.
    OneByOne,
    /// In blocks of this many, through `records`, lent (copied by the ingest).
    Blocks(usize),
    /// In blocks of this many, through `records`, owned, in lists reused as the reader reuses
    /// them: each block is written over whatever list the ingest handed back.
    Owned(usize),
}

/// What an ingest of one file came to, as text to compare.
fn outcome(feed: Feed, spill: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    std::fs::write(&path, "").unwrap();
    let input = InputFile {
        path,
        display: "orders.csv".into(),
        settings: crate::config::InputSettings::default(),
    };
    let window = Window::parse("2021-01-01..2021-12-31", Some("Asia/Tokyo")).unwrap();
    let methods = MethodRules::new(&[], &[]).unwrap();
    let key = FingerprintKey::new(b"unit-test-key-0123456789".to_vec(), KeySource::Env);
    let opts = IngestOptions {
        window: &window,
        methods: &methods,
        exclude_statuses: vec!["cancelled".into()],
        key: &key,
        margin: None,
        fetch: None,
        default_country: None,
        progress: None,
    };
    let mut ingest = Ingest::new();
    if spill {
        ingest.spill_kept_to(dir.path()).unwrap();
    }
    let mut rejects: Vec<Rejected> = Vec::new();
    let checkpoint = ingest.checkpoint(&mut rejects).unwrap();
    let mut visit = OrderFile {
        to: Classify {
            file_idx: 0,
            ingest: &mut ingest,
            input: &input,
            opts: &opts,
            reject: &mut rejects,
        },
        checkpoint,
        state: None,
    };
    visit
        .header(HEADER.split(',').map(str::to_string).collect())
        .unwrap();
    let rows = rows();
    let recs: Vec<csv::ByteRecord> = rows.iter().map(|(_, t)| record(t)).collect();
    let lines: Vec<u64> = (2..).take(rows.len()).collect();
    let cuts: Vec<Option<Cut>> = rows.iter().map(|(c, _)| *c).collect();
    match feed {
        Feed::OneByOne => {
            for ((rec, &line), cut) in recs.iter().zip(&lines).zip(&cuts) {
                match cut {
                    None => visit.record(rec, line).unwrap(),
                    Some(c) => visit.rejected(rec, line, &c.reason()).unwrap(),
                }
            }
        }
        Feed::Blocks(n) => {
            for ((recs, lines), cuts) in recs.chunks(n).zip(lines.chunks(n)).zip(cuts.chunks(n)) {
                visit.records(Records::Lent(recs), lines, cuts).unwrap();
            }
        }
        Feed::Owned(n) => {
            let mut list: Vec<csv::ByteRecord> = Vec::new();
            for ((recs, lines), cuts) in recs.chunks(n).zip(lines.chunks(n)).zip(cuts.chunks(n)) {
                if list.len() < n {
                    list.resize_with(n, csv::ByteRecord::new);
                }
                for (mine, rec) in list.iter_mut().zip(recs) {
                    mine.clone_from(rec);
                }
                visit
                    .records(Records::Owned(&mut list, recs.len()), lines, cuts)
                    .unwrap();
            }
        }
    }
    visit.flush().unwrap();
    let report = visit.state.take().unwrap().finish(&input).unwrap();
    ingest.finish_methods();
    ingest.load_kept().unwrap();
    // Every field of every kept record (the summary below is for reading).
    let records = format!("{:?}", ingest.orders);
    let orders: Vec<String> = ingest
        .orders
        .iter()
        .map(|o| {
            format!(
                "{} {} {} {:?} {:?} {} {}",
                o.order_id(),
                o.line,
                o.at(),
                o.email(),
                o.card().map(|c| c.masked),
                ingest.strings.get(ingest.strings.facets(o.facets).status),
                ingest.strings.get(ingest.strings.facets(o.facets).currency),
            )
        })
        .collect();
    let rejects: Vec<String> = rejects
        .iter()
        .map(|r| format!("{} | {} | {}", r.source, r.reason, r.record))
        .collect();
    format!(
        "{records}\n{:?}\n{:?}\n{} {} {:?}\n{:?}\n{orders:#?}\n{rejects:#?}\n{:?}",
        report.counts,
        report.orders,
        report.not_card_excluded_status,
        report.card_numbers_in_text,
        report.card_numbers_masked,
        ingest
            .methods
            .iter()
            .map(|(m, t)| (m, t.class, t.rows))
            .collect::<Vec<_>>(),
        ingest.disagreements,
    )
}

#[test]
fn blocks_of_any_size_give_what_one_record_at_a_time_gives() {
    let one_by_one = outcome(Feed::OneByOne, false);
    // The file exercises what it is meant to: every class, the header again, a wrong width,
    // an unreadable time, a runaway quote, an excluded status, a card number in a text column,
    // later records of an order that disagree with its first.
    for part in [
        "rows_read: 47, in_window: 19, out_of_window: 9, not_card: 15, rejected: 4",
        "orders.csv:42 | the header row again",
        "orders.csv:43 | expected 11 fields",
        "orders.csv:44 | order time",
        "orders.csv:47 | a quoted field",
        "\n1 1 {\"Note\": 1}\n",
        "orders.csv:48 48 ",
    ] {
        assert!(one_by_one.contains(part), "{part} not in {one_by_one}");
    }
    assert!(one_by_one.ends_with("\n27"), "{one_by_one}");
    for n in [1, 2, 3, 7, 13, 64] {
        assert_eq!(outcome(Feed::Blocks(n), false), one_by_one, "blocks of {n}");
        assert_eq!(outcome(Feed::Owned(n), false), one_by_one, "lists of {n}");
    }
}

/// Kept orders spilled to disk while the file is read come back whole and in order: every
/// field of every record, and all the rest, as when they stay in memory.
#[test]
fn spilled_orders_come_back_as_kept() {
    let in_memory = outcome(Feed::OneByOne, false);
    assert!(in_memory.contains("4111********1111") || in_memory.contains("411111******1111"));
    assert_eq!(outcome(Feed::OneByOne, true), in_memory);
    assert_eq!(outcome(Feed::Blocks(7), true), in_memory);
    assert_eq!(outcome(Feed::Owned(7), true), in_memory);
}

/// An e-mail hashes the same whatever its case, width and surrounding spaces, at every length
/// (ASCII is lower-cased in 64-byte pieces; full-width text goes through NFKC first): two
/// records of one person must never look like two people.
#[test]
fn identity_hashes_agree_across_case_width_and_length() {
    for n in [1, 2, 40, 63, 64, 65, 128, 200] {
        let upper: String = "AB1".chars().cycle().take(n).collect();
        let lower = upper.to_ascii_lowercase();
        let wide: String = upper
            .chars()
            .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
            .collect();
        let h = super::identity_hash(&lower);
        assert_ne!(h, 0);
        assert_eq!(super::identity_hash(&upper), h, "{n}");
        assert_eq!(super::identity_hash(&format!("  {upper} ")), h, "{n}");
        assert_eq!(super::identity_hash(&wide), h, "{n}");
    }
    assert_ne!(
        super::identity_hash("a@x.jp"),
        super::identity_hash("b@x.jp")
    );
    assert_eq!(super::identity_hash("  "), 0);
}
