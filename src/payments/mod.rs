//! Payment-gateway exports joined to the orders: the card brand, last 4 and expiry that order
//! exports never carry, and the declined attempts that never became orders.
//!
//! Every charge row ends in one class: `matched` (joined to an order, whatever the order's
//! time), `unmatched_in_window` (inside the window and joined to no order: an affected card
//! entry of its own, typically a declined attempt), `out_of_window`, `not_card` (no card data:
//! another payment source) or `rejected` (file:line and reason). Each charge is judged by its
//! own instant: a charge inside the window is affected even when its order is not.
//!
//! The join, in order: by order reference (a column, with an optional regex that extracts the
//! id; compared as written, then with `#` and leading zeros dropped when that is unique), then,
//! where `[payments.join] email_amount_time = true`, by normalised e-mail + equal amount and
//! currency + created within the tolerance of the order time. Two candidates make a charge
//! ambiguous: joined to none, listed with its candidates.
//!
//! Memory grows with the orders and charges that concern the window: orders are read first;
//! charges outside the window are counted and dropped unless they join an order inside it.

use crate::cards::FingerprintKey;
use crate::config::InputSettings;
use crate::error::{Error, Result};
use crate::orders::{
    CardInfo, CardRef, EntryKind, Ingest, InputFile, OrderIds, OrderRecord, RejectSink, Rejected,
    TextsOf, NO_FILE,
};
use crate::text;
use layout::{resolve, PField, PLayout};
use prepare::{ByRef, Prepared, RowCard};

mod layout;
mod prepare;
use crate::input::csv::{Ahead, Block, Cut, Records};
use crate::timestamp::{self, TimeFormat};
use crate::window::Window;
use foldhash::{HashMap, HashMapExt};
use jiff::Timestamp;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `[payments]` in incident.toml.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(flatten)]
    pub settings: InputSettings,
    #[serde(default)]
    pub inputs: Vec<crate::config::OrderInputConfig>,
    #[serde(default)]
    pub join: JoinConfig,
}

/// `[payments.join]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinConfig {
    /// Extracts the order id from the reference column (group 1, else the whole match).
    pub order_ref_regex: Option<String>,
    /// Also join by normalised e-mail + amount + currency + time (off by default).
    #[serde(default)]
    pub email_amount_time: bool,
    /// How far apart a charge and its order may be, in minutes, either side (inclusive).
    #[serde(default = "default_tolerance")]
    pub tolerance_minutes: i64,
}

fn default_tolerance() -> i64 {
    30
}

impl Default for JoinConfig {
    fn default() -> JoinConfig {
        JoinConfig {
            order_ref_regex: None,
            email_amount_time: false,
            tolerance_minutes: default_tolerance(),
        }
    }
}

/// The class of a charge row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PClass {
    Matched,
    UnmatchedInWindow,
    OutOfWindow,
    NotCard,
    Rejected,
}

/// Per-file counts of a payments export.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PCounts {
    pub rows_read: u64,
    pub matched: u64,
    pub unmatched_in_window: u64,
    pub out_of_window: u64,
    pub not_card: u64,
    pub rejected: u64,
}

impl PCounts {
    fn add(&mut self, c: PClass) {
        self.rows_read += 1;
        match c {
            PClass::Matched => self.matched += 1,
            PClass::UnmatchedInWindow => self.unmatched_in_window += 1,
            PClass::OutOfWindow => self.out_of_window += 1,
            PClass::NotCard => self.not_card += 1,
            PClass::Rejected => self.rejected += 1,
        }
    }

    pub fn reconciles(&self) -> bool {
        self.rows_read
            == self.matched
                + self.unmatched_in_window
                + self.out_of_window
                + self.not_card
                + self.rejected
    }
}

/// What the summary says about one payments file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PFileReport {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub encoding: String,
    pub encoding_detected: bool,
    /// Why that encoding (given, a BOM, or what the whole file showed).
    pub encoding_reason: String,
    /// Lines with bytes that are not valid in that encoding (read with U+FFFD).
    pub encoding_invalid_lines: u64,
    pub preset: String,
    pub columns: BTreeMap<String, String>,
    #[serde(flatten)]
    pub counts: PCounts,
    pub ambiguous: u64,
    /// Rows that repeat a kept charge of an earlier row (the same charge id, instant, card,
    /// e-mail, order reference and amount: an export that overlaps another): counted in the
    /// class of the first, joined and listed once.
    pub repeated_charges: u64,
    /// Rows whose charge id an earlier kept charge has, with anything else different: kept as
    /// charges of their own, and warned about.
    pub charge_id_collisions: u64,
    /// Card numbers found (and masked): in the last-4 column and in every other column.
    pub card_numbers_masked: u64,
    /// Column → card numbers found (and masked) in it.
    pub card_numbers_by_column: BTreeMap<String, u64>,
    /// Security-code columns: never read, never written.
    pub security_code_columns: Vec<String>,
    pub warnings: Vec<String>,
}

/// How a charge was joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    OrderRef,
    EmailAmountTime,
    None,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::OrderRef => "order_ref",
            Match::EmailAmountTime => "email_amount_time",
            Match::None => "",
        }
    }
}

/// A charge kept for the outputs: inside the window, or joined to an order inside it.
#[derive(Debug, Clone)]
pub struct Charge {
    pub charge_id: Box<str>,
    pub file: u32,
    pub line: u64,
    pub at: Timestamp,
    pub status: Box<str>,
    pub card: CardInfo,
    pub order_id: Option<Box<str>>,
    pub matched: Match,
    /// The entry (index into `Ingest::orders`) this charge belongs to, once known.
    pub entry: Option<u32>,
    pub reason: &'static str,
}

/// A charge that joined no order although it concerns the window.
#[derive(Debug, Clone)]
pub struct Unmatched {
    pub charge_id: String,
    pub created_at: Timestamp,
    pub amount: String,
    pub currency: String,
    pub reason: &'static str,
    pub candidates: Vec<String>,
    pub source: String,
}

/// What the payments join attaches to the affected entries (indices into
/// [`Ingest::orders`]): the cards of their gateway charges and the charge ids. Empty when no
/// payment export was read. Customers and orders.csv read it beside the orders; nothing of it
/// is written back into the orders' ingest.
#[derive(Debug, Default, Clone)]
pub struct Attached {
    /// Entry → the cards of its charges, in reading order, each card once.
    pub gateway_cards: HashMap<u32, Vec<CardInfo>>,
    /// Entry → the ids of its charges.
    pub entry_charges: HashMap<u32, Vec<Box<str>>>,
}

impl Attached {
    /// Every card of entry `i`: the order's own, then those its charges attached.
    pub fn cards<'a>(&'a self, ingest: &'a Ingest, i: u32) -> impl Iterator<Item = CardRef<'a>> {
        ingest.orders[i as usize].card().into_iter().chain(
            self.gateway_cards
                .get(&i)
                .into_iter()
                .flatten()
                .map(CardInfo::as_ref),
        )
    }
}

/// The result of reading the payment exports.
#[derive(Default)]
pub struct Payments {
    /// What the join attached to the entries.
    pub attached: Attached,
    pub files: Vec<PFileReport>,
    pub charges: Vec<Charge>,
    pub unmatched: Vec<Unmatched>,
    /// Ids of in-window card orders that got at least one charge.
    pub orders_with_payment: foldhash::HashSet<u32>,
    /// Orders that were candidates of an ambiguous charge.
    pub ambiguous_candidates: foldhash::HashSet<u32>,
    /// Charge id as written (hashed) → the first kept charge with it (index into `charges`)
    /// and a hash of what else its row says of it ([`PaymentFile::row_facts`]).
    seen_ids: HashMap<u128, (u32, u128)>,
}

/// The order-side indexes the join looks things up in, keyed by 128-bit hashes of the text
/// (no copy of the strings; one slot per key, most holding a single order).
struct OrderIndex {
    /// Order id as written → entries (in-window orders, then margin orders).
    by_id: HashMap<u128, Slot>,
    /// Normalised order id (`#` and leading zeros dropped) → entries.
    by_norm: HashMap<u128, Slot>,
    /// Normalised e-mail → entries.
    by_email: HashMap<u128, Slot>,
}

/// The orders under one key.
#[derive(Debug, Clone)]
enum Slot {
    One(Candidate),
    Many(Vec<Candidate>),
}

impl Slot {
    fn push(&mut self, c: Candidate) {
        match self {
            Slot::One(a) => *self = Slot::Many(vec![*a, c]),
            Slot::Many(v) => v.push(c),
        }
    }
    fn as_slice(&self) -> &[Candidate] {
        match self {
            Slot::One(a) => std::slice::from_ref(a),
            Slot::Many(v) => v,
        }
    }
}

fn h(s: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(s.as_bytes())
}

fn add_slot(map: &mut HashMap<u128, Slot>, k: u128, c: Candidate) {
    match map.get_mut(&k) {
        Some(slot) => slot.push(c),
        None => {
            map.insert(k, Slot::One(c));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Candidate {
    /// Index into `Ingest::orders` (inside the window).
    InWindow(u32),
    /// Index into `Ingest::margin` (just outside).
    Margin(u32),
}

fn norm_id(id: &str) -> String {
    let t = id.trim().trim_start_matches('#');
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let z = t.trim_start_matches('0');
        if z.is_empty() {
            "0".into()
        } else {
            z.to_string()
        }
    } else {
        t.to_string()
    }
}

impl OrderIndex {
    /// The kept orders an order reference names: by the id as written, else by the
    /// normalised id when only one order has it.
    fn by_ref(&self, r: &str) -> &[Candidate] {
        if let Some(v) = self.by_id.get(&h(r.trim())) {
            return v.as_slice();
        }
        match self.by_norm.get(&h(&norm_id(r))) {
            Some(s @ Slot::One(_)) => s.as_slice(),
            _ => &[],
        }
    }

    fn build(ingest: &Ingest) -> OrderIndex {
        let mut ix = OrderIndex {
            by_id: HashMap::new(),
            by_norm: HashMap::new(),
            by_email: HashMap::new(),
        };
        let mut add = |o: &OrderRecord, c: Candidate| {
            add_slot(&mut ix.by_id, h(o.order_id().trim()), c);
            add_slot(&mut ix.by_norm, h(&norm_id(o.order_id())), c);
            if let Some(e) = o.email() {
                add_slot(&mut ix.by_email, h(e), c);
            }
        };
        for (i, o) in ingest.orders.iter().enumerate() {
            if o.kind == EntryKind::Order {
                add(o, Candidate::InWindow(i as u32));
            }
        }
        for (i, o) in ingest.margin.iter().enumerate() {
            add(o, Candidate::Margin(i as u32));
        }
        ix
    }
}

/// Settings of the join, compiled.
pub struct JoinRules {
    ref_regex: Option<Regex>,
    email_amount_time: bool,
    tolerance: jiff::SignedDuration,
}

impl JoinRules {
    pub fn new(cfg: &JoinConfig) -> std::result::Result<JoinRules, String> {
        let ref_regex = cfg
            .order_ref_regex
            .as_deref()
            .map(|r| Regex::new(r).map_err(|e| format!("[payments.join] order_ref_regex: {e}")))
            .transpose()?;
        Ok(JoinRules {
            ref_regex,
            email_amount_time: cfg.email_amount_time,
            tolerance: jiff::SignedDuration::from_mins(cfg.tolerance_minutes.max(0)),
        })
    }

    /// How far outside the window orders are kept for the e-mail join: a charge outside the
    /// window can only join an order inside it when it lies within the tolerance of an edge,
    /// and its other candidates lie within the tolerance of it.
    pub fn margin(&self) -> Option<jiff::SignedDuration> {
        self.email_amount_time.then(|| self.tolerance * 2)
    }
}

/// An amount as a number scaled by 10^6, so `12800`, `12,800` and `12800.00` compare equal.
fn amount_key(s: &str) -> Option<i128> {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    if t.is_empty() {
        return None;
    }
    let (int, frac) = t.split_once('.').unwrap_or((&t, ""));
    let neg = int.starts_with('-');
    let int: i128 = int.trim_start_matches('-').parse().ok().unwrap_or(0);
    let frac = &frac[..frac.len().min(6)];
    let f: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i128>().ok()? * 10i128.pow(6 - frac.len() as u32)
    };
    let v = int * 1_000_000 + f;
    Some(if neg { -v } else { v })
}

/// Whether a field may be a gateway's card fingerprint: one token of 8 to 64 letters and digits
/// (and `+ / = -`, as base64 and UUIDs write them), with both letters and digits. An amount, a
/// currency, a status, a date or a charge id (`ch_…`, `txn_…`) is not.
fn looks_like_a_token(s: &str) -> bool {
    let t = s.trim();
    (8..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-'))
        && t.bytes().any(|b| b.is_ascii_alphabetic())
        && t.bytes().any(|b| b.is_ascii_digit())
}

/// Reads every payments file and joins its charges to the orders in `ingest`.
#[allow(clippy::too_many_arguments)]
pub fn read(
    inputs: &[InputFile],
    ingest: &mut Ingest,
    window: &Window,
    rules: &JoinRules,
    key: &FingerprintKey,
    progress: Option<&indicatif::ProgressBar>,
    reject: &mut dyn RejectSink,
) -> Result<Payments> {
    let index = OrderIndex::build(ingest);
    // Lent for the files' reading, and given back whatever it returns.
    let ids = ingest.lend_order_ids();
    let mut out = Payments::default();
    let mut base = progress.map(|p| p.position()).unwrap_or(0);
    let mut read_all = || -> Result<()> {
        for input in inputs {
            let mut v = PaymentFile {
                input,
                window,
                rules,
                key,
                index: &index,
                ids: &ids,
                ingest: &mut *ingest,
                out: &mut out,
                reject,
                file_idx: 0,
                header_names: Vec::new(),
                rows: None,
                report: None,
                mark: Mark::default(),
                ahead: Ahead::default(),
            };
            v.file_idx = v.out.files.len() as u32;
            v.mark = Mark {
                charges: v.out.charges.len(),
                unmatched: v.out.unmatched.len(),
                rejects: v.reject.mark()?,
                entries: v.ingest.orders.len(),
                gateway_cards: v.out.attached.gateway_cards.clone(),
                with_payment: v.out.orders_with_payment.clone(),
                ambiguous: v.out.ambiguous_candidates.clone(),
            };
            let opened = crate::input::csv::read(
                &input.path,
                &input.display,
                input.settings.encoding.as_deref(),
                progress.map(|p| (p, base)),
                &mut v,
            )?;
            v.flush()?;
            let mut report = v.report.take().unwrap_or_else(|| PFileReport {
                path: input.display.clone(),
                preset: "none".into(),
                warnings: vec!["the file is empty (no header row)".into()],
                ..PFileReport::default()
            });
            report.warnings.extend(opened.warnings());
            report.encoding = opened.encoding;
            report.encoding_detected = opened.detected;
            report.encoding_reason = opened.reason;
            report.encoding_invalid_lines = opened.damage.lines;
            report.sha256 = opened.sha256;
            report.bytes = opened.bytes;
            if report.card_numbers_masked > 0 {
                let by_column = report
                    .card_numbers_by_column
                    .iter()
                    .map(|(c, n)| format!("{c}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                report.warnings.push(format!(
                "{} full card number(s) in the export ({by_column}); masked on read and written nowhere",
                report.card_numbers_masked
            ));
            }
            if !report.counts.reconciles() {
                return Err(Error::Invariant(format!(
                    "{}: payment rows do not reconcile: {:?}",
                    input.display, report.counts
                )));
            }
            base += opened.bytes;
            out.files.push(report);
        }
        Ok(())
    };
    let read = read_all();
    ingest.return_order_ids(ids);
    read.map(|()| out)
}

struct PaymentFile<'a> {
    input: &'a InputFile,
    window: &'a Window,
    rules: &'a JoinRules,
    key: &'a FingerprintKey,
    index: &'a OrderIndex,
    ids: &'a OrderIds,
    ingest: &'a mut Ingest,
    out: &'a mut Payments,
    reject: &'a mut dyn RejectSink,
    file_idx: u32,
    /// The header row's names, for per-column counts.
    header_names: Vec<String>,
    /// The file's columns and times, once its header is read.
    rows: Option<Arc<prepare::RowContext<'a>>>,
    report: Option<PFileReport>,
    /// The state before this file, to read it again in another encoding.
    mark: Mark,
    /// The blocks read, prepared one ahead of the one classified.
    ahead: Ahead<Prepared>,
}

/// What [`PaymentFile`] restores when a file is read again.
#[derive(Default)]
struct Mark {
    charges: usize,
    unmatched: usize,
    rejects: u64,
    entries: usize,
    gateway_cards: HashMap<u32, Vec<CardInfo>>,
    with_payment: foldhash::HashSet<u32>,
    ambiguous: foldhash::HashSet<u32>,
}

impl PaymentFile<'_> {
    fn get<'r>(&self, rec: &'r csv::ByteRecord, f: PField) -> Cow<'r, str> {
        match &self.rows {
            Some(r) => prepare::get(&r.layout, rec, f),
            None => Cow::Borrowed(""),
        }
    }

    fn layout(&self) -> &PLayout {
        &self
            .rows
            .as_ref()
            .expect("a record after the header")
            .layout
    }

    fn masked_record(&self, rec: &csv::ByteRecord) -> String {
        self.masked_moved_record(rec, rec.len().abs_diff(self.layout().width))
    }

    /// [`PaymentFile::masked_record`] of a record whose fields have moved by up to `shift`
    /// columns, whatever its width.
    fn masked_moved_record(&self, rec: &csv::ByteRecord, shift: usize) -> String {
        let layout = self.layout();
        let fp_col = layout.col(PField::Fingerprint);
        let removed = || "[fingerprint removed]".to_string();
        crate::input::csv::redacted_moved_record(
            rec,
            shift,
            &layout.security_code_cols,
            |i, s, shift| {
                let fp = fp_col?;
                // The gateway's own card fingerprint identifies the card: never written. In a
                // record of another width it may sit `shift` columns either side of its column:
                // there, a field that is one token of letters and digits is taken for it.
                if shift == 0 {
                    (i == fp).then(|| {
                        if s.trim().is_empty() {
                            String::new()
                        } else {
                            removed()
                        }
                    })
                } else {
                    (i.abs_diff(fp) <= shift && looks_like_a_token(s)).then(removed)
                }
            },
        )
    }

    /// A block is prepared on the thread pool ([`prepare::prepare_block`]) while the block
    /// before it is classified here, in file order ([`Ahead`]); the last one is classified by
    /// [`PaymentFile::flush`] at the end of the file. (The join's look-ups miss the cache and
    /// take as long as the rest of a row's preparing: one block's misses overlap the
    /// classifying of the other.)
    fn step(&mut self, recs: Records<'_>, lines: &[u64], cuts: &[Option<Cut>]) -> Result<()> {
        let ctx = Arc::clone(self.rows.as_ref().expect("a record after the header"));
        // Apart from the file's state, so that classifying can borrow all of it.
        let mut ahead = std::mem::take(&mut self.ahead);
        let stepped = ahead.step(
            recs,
            lines,
            cuts,
            |recs, _, cuts, out| prepare::prepare_block(recs, cuts, &ctx, out),
            |block| self.classify_block(block),
        );
        self.ahead = ahead;
        stepped
    }

    /// Every record of a prepared block, in order; the block is left empty of prepared
    /// records.
    fn classify_block(&mut self, block: &mut Block<Prepared>) -> Result<()> {
        for (rec, line, cut, p) in block.drain() {
            match cut {
                Some(c) => self.reject_row(rec, line, &c.reason())?,
                None => self.record_prepared(rec, line, p)?,
            }
        }
        Ok(())
    }

    /// Classifies the pending block (at the end of the file, or before a record that comes
    /// alone).
    fn flush(&mut self) -> Result<()> {
        let mut block = self.ahead.take_pending();
        self.classify_block(&mut block)
    }

    fn reject_row(&mut self, rec: &csv::ByteRecord, line: u64, reason: &str) -> Result<()> {
        let record = self.masked_record(rec);
        self.push_rejected(line, reason.to_string(), record)
    }

    /// Writes a rejected row and counts it.
    fn push_rejected(&mut self, line: u64, reason: String, record: String) -> Result<()> {
        self.reject.push(Rejected {
            source: format!("{}:{line}", self.input.display),
            reason,
            record,
        })?;
        if let Some(r) = self.report.as_mut() {
            r.counts.add(PClass::Rejected);
        }
        Ok(())
    }

    /// Counts and classifies a record; `prepared` is `None` for one of another width than the
    /// header's (rejected, and counted by [`PaymentFile::reject_row`]).
    fn record_prepared(
        &mut self,
        rec: &csv::ByteRecord,
        line: u64,
        prepared: Option<Prepared>,
    ) -> Result<()> {
        let Some(p) = prepared else {
            let expected = self.layout().width;
            let reason = format!("expected {expected} fields, found {}", rec.len());
            return self.reject_row(rec, line, &reason);
        };
        let layout = self.layout();
        if let Some(c) = crate::input::csv::moved_into_code_column(rec, &layout.security_code_cols)
        {
            let reason = format!(
                "the security-code column `{}` holds no security code (five digits or more, or an e-mail): the row's fields have moved (an unquoted comma, and a field left out?); quote the field with the comma",
                crate::cards::mask_card_runs(&self.header_names[c]).0
            );
            let record = self.masked_moved_record(rec, crate::input::csv::MOVED_SHIFT);
            return self.push_rejected(line, reason, record);
        }
        self.count_card_numbers(&p.cards_in_text);
        let class = self.classify(rec, line, p)?;
        if let Some(r) = self.report.as_mut() {
            r.counts.add(class);
        }
        Ok(())
    }

    /// Adds what the preparing found of card numbers outside the card columns to the
    /// file's counts.
    fn count_card_numbers(&mut self, found: &[(usize, u64)]) {
        let Some(r) = self.report.as_mut() else {
            return;
        };
        for &(i, n) in found {
            let column = self.header_names.get(i).cloned().unwrap_or_default();
            r.card_numbers_masked += n;
            *r.card_numbers_by_column.entry(column).or_default() += n;
        }
    }

    /// The card of a kept charge row: the one prepared, else worked out now. A whole card
    /// number in the last-4 column is counted here, where the card is used.
    fn card(&mut self, rec: &csv::ByteRecord, prepared: Option<RowCard>) -> Option<CardInfo> {
        let layout = self.layout();
        let card = prepared.or_else(|| prepare::card(layout, self.key, rec))?;
        if let (true, Some(col)) = (card.full_number_in_last4, layout.col(PField::Last4)) {
            self.count_card_numbers(&[(col, 1)]);
        }
        Some(card.info)
    }

    /// The class of a charge row of the header's width, from what [`prepare::prepare_block`] found.
    fn classify(&mut self, rec: &csv::ByteRecord, line: u64, p: Prepared) -> Result<PClass> {
        let source = || format!("{}:{line}", self.input.display);
        let at = match p.at {
            Ok(t) => t,
            Err(timestamp::TsError::NaiveWithoutZone(_)) => {
                return Err(Error::usage(format!(
                    "{}: the charge time has no offset (e.g. `2021-12-22 10:00:00`), and no time zone is configured; set [payments] timezone (Stripe writes UTC) or incident.timezone",
                    source()
                )))
            }
            Err(e) => {
                let record = self.masked_record(rec);
                self.reject.push(Rejected {
                    source: source(),
                    reason: format!("charge time: {e}"),
                    record,
                })?;
                return Ok(PClass::Rejected);
            }
        };
        if !p.has_card {
            return Ok(PClass::NotCard);
        }
        let in_window = self.window.contains(at);

        // 1. By reference.
        let mut matched: Option<(Candidate, Match)> = None;
        let mut ref_to_other_order: Option<String> = None;
        let order_ref = p.order_ref;
        match (p.by_ref, &order_ref) {
            (ByRef::One(c), _) => matched = Some((c, Match::OrderRef)),
            (ByRef::Other, Some(r)) => ref_to_other_order = Some(r.trim().to_string()),
            _ => {}
        }
        // 2. By e-mail + amount + currency + time.
        let mut ambiguous: Vec<Candidate> = Vec::new();
        if matched.is_none() && ref_to_other_order.is_none() && self.rules.email_amount_time {
            let cands = self.email_candidates(rec, at);
            match cands.len() {
                0 => {}
                1 => matched = Some((cands[0], Match::EmailAmountTime)),
                _ => ambiguous = cands,
            }
        }

        // Charges outside the window that join nothing inside it are only counted: no card
        // work, nothing kept.
        let kept = in_window || matches!(matched, Some((Candidate::InWindow(_), _)));
        if !kept {
            if matched.is_some() || ref_to_other_order.is_some() {
                return Ok(PClass::Matched);
            }
            if !ambiguous.is_empty() {
                self.list_ambiguous(rec, at, &ambiguous, source());
            }
            return Ok(PClass::OutOfWindow);
        }

        let card = self.card(rec, p.card).expect("a row with card data");
        let mut charge_id = self.get(rec, PField::ChargeId).trim().to_string();
        if charge_id.is_empty() {
            charge_id = self.get(rec, PField::ChargeIdFallback).trim().to_string();
        }
        if charge_id.is_empty() {
            charge_id = source();
        }
        let facts = self.row_facts(rec, order_ref.as_deref());
        if let Some(class) = self.repeated(&charge_id, at, &card, facts, line) {
            return Ok(class);
        }
        let charge_id = crate::cards::mask_card_runs(&charge_id).0.into_boxed_str();
        let status = crate::cards::mask_card_runs(self.get(rec, PField::Status).trim()).0;
        let mut charge = Charge {
            charge_id,
            file: self.file_idx,
            line,
            at,
            status: status.clone().into_boxed_str(),
            card: card.clone(),
            order_id: None,
            matched: Match::None,
            entry: None,
            reason: "payment_without_order",
        };

        if let Some((cand, how)) = matched {
            charge.matched = how;
            match cand {
                Candidate::InWindow(i) => {
                    self.attach(i, card);
                    self.out.orders_with_payment.insert(i);
                    charge.order_id = Some(self.ingest.orders[i as usize].order_id().into());
                    charge.entry = Some(i);
                    charge.reason = "order_in_window";
                }
                Candidate::Margin(m) => {
                    // The order is just outside the window; the charge inside it makes the
                    // person affected.
                    let mut o = self.ingest.margin[m as usize].clone();
                    o.kind = EntryKind::PaymentForOrder;
                    o.set_at(at);
                    o.clear_card();
                    charge.order_id = Some(o.order_id().into());
                    charge.entry = Some(self.push_entry(o, card));
                    charge.reason = "payment_in_window";
                }
            }
            self.out.charges.push(charge);
            return Ok(PClass::Matched);
        }
        if let Some(order_id) = ref_to_other_order {
            // Joined to an order outside the window that was not kept: fetched later.
            charge.matched = Match::OrderRef;
            charge.order_id = Some(order_id.into_boxed_str());
            charge.reason = "payment_in_window";
            self.out.charges.push(charge);
            return Ok(PClass::Matched);
        }
        // Inside the window and joined to no order: an affected card entry of its own.
        if ambiguous.is_empty() {
            self.out.unmatched.push(Unmatched {
                charge_id: charge.charge_id.to_string(),
                created_at: at,
                amount: self.get(rec, PField::Amount).trim().to_string(),
                currency: self.get(rec, PField::Currency).trim().to_string(),
                reason: "no_order",
                candidates: Vec::new(),
                source: source(),
            });
        } else {
            self.list_ambiguous(rec, at, &ambiguous, source());
        }
        let name = crate::cards::mask_card_runs(self.get(rec, PField::CustomerName).trim()).0;
        let email = text::normalize_email(
            &crate::cards::mask_card_runs(&self.get(rec, PField::CustomerEmail)).0,
        );
        let country = crate::cards::mask_card_runs(self.get(rec, PField::Country).trim()).0;
        let currency = self.get(rec, PField::Currency).trim().to_ascii_uppercase();
        let amount = crate::cards::mask_card_runs(self.get(rec, PField::Amount).trim()).0;
        let facets = self
            .ingest
            .strings
            .intern_facets(&status, &currency, "", &country, "");
        let entry = OrderRecord::new(
            EntryKind::Payment,
            NO_FILE,
            line,
            at,
            facets,
            &TextsOf {
                entry_ref: &charge.charge_id,
                amount: &amount,
                email: email.as_deref(),
                name: &name,
                ..TextsOf::default()
            },
            None,
        );
        charge.entry = Some(self.push_entry(entry, card));
        self.out.charges.push(charge);
        Ok(PClass::UnmatchedInWindow)
    }

    /// What a charge row says besides its id, instant and card, hashed: the normalised e-mail,
    /// the order reference, the amount and the currency. A row that repeats a charge must say
    /// the same, or it would bring what the first lacked (an e-mail, an order to join).
    /// `order_ref`: the row's [`order_ref`](Self::order_ref), read once by the join.
    fn row_facts(&self, rec: &csv::ByteRecord, order_ref: Option<&str>) -> u128 {
        let email =
            text::normalize_email(&self.get(rec, PField::CustomerEmail)).unwrap_or_default();
        let order_ref = order_ref.unwrap_or_default();
        let amount = self.get(rec, PField::Amount);
        let currency = self.get(rec, PField::Currency);
        h(&format!(
            "{email}\0{}\0{}\0{}",
            order_ref.trim(),
            amount.trim(),
            currency.trim().to_ascii_uppercase()
        ))
    }

    /// Whether the kept charge `id` (as written) repeats an earlier row's: the same instant,
    /// card and [`row_facts`](Self::row_facts) make it the same charge (two exports that
    /// overlap), and it takes the first's class and adds nothing; anything else is another
    /// charge under the same id, kept and warned about. Otherwise the id is remembered for the
    /// charge about to be pushed.
    fn repeated(
        &mut self,
        id: &str,
        at: Timestamp,
        card: &CardInfo,
        facts: u128,
        line: u64,
    ) -> Option<PClass> {
        let key = h(id);
        let next = self.out.charges.len() as u32;
        let Some(&(first, first_facts)) = self.out.seen_ids.get(&key) else {
            self.out.seen_ids.insert(key, (next, facts));
            return None;
        };
        let c = &self.out.charges[first as usize];
        let same = c.at == at
            && c.card.masked == card.masked
            && c.card.fingerprint == card.fingerprint
            && first_facts == facts;
        let class = if c.matched == Match::None {
            PClass::UnmatchedInWindow
        } else {
            PClass::Matched
        };
        // The first row and the id as the warning names them (once per file: an export that
        // repeats another repeats every charge).
        let about = || {
            let file = self
                .out
                .files
                .get(c.file as usize)
                .map_or(self.input.display.as_str(), |f| f.path.as_str());
            (
                format!("{file}:{}", c.line),
                crate::cards::mask_card_runs(id).0,
            )
        };
        let r = self.report.as_mut().expect("a header was read");
        if same {
            r.repeated_charges += 1;
            if r.repeated_charges == 1 {
                let (first_at, shown) = about();
                r.warnings.push(format!(
                    "line {line} repeats charge {shown} of {first_at} (the same time, card, e-mail, order reference and amount: exports that overlap?); a repeated charge is counted in its class again but joined and listed once (repeated_charges)"
                ));
            }
            Some(class)
        } else {
            r.charge_id_collisions += 1;
            if r.charge_id_collisions == 1 {
                let (first_at, shown) = about();
                r.warnings.push(format!(
                    "line {line} has the charge id {shown} of {first_at} with another time, card, e-mail, order reference or amount: kept as another charge (charge_id_collisions)"
                ));
            }
            None
        }
    }

    /// Orders that fit a charge by normalised e-mail, amount, currency and time.
    fn email_candidates(&self, rec: &csv::ByteRecord, at: Timestamp) -> Vec<Candidate> {
        let email = text::normalize_email(&self.get(rec, PField::CustomerEmail));
        let amount = amount_key(&self.get(rec, PField::Amount));
        let currency = self.get(rec, PField::Currency).trim().to_ascii_uppercase();
        let (Some(email), Some(amount)) = (email, amount) else {
            return Vec::new();
        };
        let Some(v) = self.index.by_email.get(&h(&email)).map(Slot::as_slice) else {
            return Vec::new();
        };
        v.iter()
            .copied()
            .filter(|c| {
                let o = self.candidate(*c);
                let oc = self
                    .ingest
                    .strings
                    .get(self.ingest.strings.facets(o.facets).currency);
                amount_key(o.amount()) == Some(amount)
                    && (oc.is_empty() || currency.is_empty() || oc.eq_ignore_ascii_case(&currency))
                    && (o.at() - at).abs() <= self.rules.tolerance.abs()
            })
            .collect()
    }

    /// Lists a charge that fits several orders (joined to none).
    fn list_ambiguous(
        &mut self,
        rec: &csv::ByteRecord,
        at: Timestamp,
        cands: &[Candidate],
        source: String,
    ) {
        let names: Vec<String> = cands
            .iter()
            .map(|c| self.candidate(*c).order_id().to_string())
            .collect();
        for c in cands {
            if let Candidate::InWindow(i) = c {
                self.out.ambiguous_candidates.insert(*i);
            }
        }
        if let Some(r) = self.report.as_mut() {
            r.ambiguous += 1;
        }
        let mut charge_id = self.get(rec, PField::ChargeId).trim().to_string();
        if charge_id.is_empty() {
            charge_id = self.get(rec, PField::ChargeIdFallback).trim().to_string();
        }
        self.out.unmatched.push(Unmatched {
            charge_id: crate::cards::mask_card_runs(&charge_id).0,
            created_at: at,
            amount: self.get(rec, PField::Amount).trim().to_string(),
            currency: self.get(rec, PField::Currency).trim().to_string(),
            reason: "ambiguous",
            candidates: names,
            source,
        });
    }

    fn candidate(&self, c: Candidate) -> &OrderRecord {
        match c {
            Candidate::InWindow(i) => &self.ingest.orders[i as usize],
            Candidate::Margin(i) => &self.ingest.margin[i as usize],
        }
    }

    fn attach(&mut self, entry: u32, card: CardInfo) {
        // Almost every entry has one charge: room for one (a vector's first growth makes room
        // for four cards, 290 bytes: 56 MB at 200,000 charges).
        let v = self
            .out
            .attached
            .gateway_cards
            .entry(entry)
            .or_insert_with(|| Vec::with_capacity(1));
        if !v.iter().any(|c| c.identity() == card.identity()) {
            v.push(card);
        }
    }

    fn push_entry(&mut self, o: OrderRecord, card: CardInfo) -> u32 {
        let idx = self.ingest.orders.len() as u32;
        self.ingest.orders.push(o);
        self.attach(idx, card);
        idx
    }
}

impl crate::input::csv::Visitor for PaymentFile<'_> {
    fn header(&mut self, headers: Vec<String>) -> Result<()> {
        let layout = resolve(
            &headers,
            self.input.settings.preset.as_deref(),
            &self.input.settings.columns,
        )
        .map_err(|message| Error::Layout {
            path: self.input.path.clone(),
            message,
        })?;
        // Stripe writes its times in UTC without an offset.
        let zone_name = self
            .input
            .settings
            .timezone
            .clone()
            .or_else(|| (layout.preset == "stripe").then(|| "UTC".to_string()));
        let zone = match zone_name {
            Some(z) => Some(crate::window::zone(&z)?),
            None => self.window.tz.clone(),
        };
        let mut columns = BTreeMap::new();
        for (f, &i) in &layout.cols {
            columns.insert(f.key().to_string(), headers[i].clone());
        }
        let mut warnings = Vec::new();
        if !layout.security_code_cols.is_empty() {
            warnings.push("the export holds security codes: they were not read and appear in no output (PCI DSS 3.3.1)".to_string());
        }
        self.report = Some(PFileReport {
            path: self.input.display.clone(),
            preset: layout.preset.to_string(),
            columns,
            security_code_columns: layout
                .security_code_cols
                .iter()
                .map(|&i| headers[i].clone())
                .collect(),
            warnings,
            ..PFileReport::default()
        });
        self.rows = Some(Arc::new(prepare::RowContext {
            layout,
            fmt: TimeFormat::from_config(
                self.input
                    .settings
                    .timestamp_format
                    .as_deref()
                    .unwrap_or("auto"),
            ),
            zone,
            window: self.window,
            rules: self.rules,
            key: self.key,
            index: self.index,
            ids: self.ids,
        }));
        self.header_names = headers;
        Ok(())
    }

    fn record(&mut self, rec: &csv::ByteRecord, line: u64) -> Result<()> {
        self.flush()?;
        self.records(Records::Lent(std::slice::from_ref(rec)), &[line], &[None])?;
        self.flush()
    }

    fn records(&mut self, recs: Records<'_>, lines: &[u64], cuts: &[Option<Cut>]) -> Result<()> {
        self.step(recs, lines, cuts)
    }

    fn rejected(&mut self, rec: &csv::ByteRecord, line: u64, reason: &str) -> Result<()> {
        self.flush()?;
        self.reject_row(rec, line, reason)
    }

    fn restart(&mut self) -> Result<()> {
        self.out.charges.truncate(self.mark.charges);
        self.out.unmatched.truncate(self.mark.unmatched);
        self.reject.rewind(self.mark.rejects)?;
        self.ingest.orders.truncate(self.mark.entries);
        self.out.attached.gateway_cards = self.mark.gateway_cards.clone();
        self.out.orders_with_payment = self.mark.with_payment.clone();
        self.out.ambiguous_candidates = self.mark.ambiguous.clone();
        let kept = self.mark.charges as u32;
        self.out.seen_ids.retain(|_, (i, _)| *i < kept);
        self.ahead = Ahead::default();
        self.rows = None;
        self.report = None;
        Ok(())
    }
}
