//! Order-export ingest: every CSV record of every file is read once, streamed, and ends up in
//! exactly one class: in the window, out of the window, not a card payment, or rejected (with
//! file, line and reason). Only in-window card orders are kept in memory, plus one small entry
//! per order (so that the later records of an order, such as Shopify's line-item rows, take
//! the class of its first record).
//!
//! Order ids are per file's shop: within a file, the records of one id are one order. Across
//! files, a record joins an order of another file with its id only when they **agree**: the
//! same payment class (card or not), the same instant, and the same person (normalised e-mail,
//! and login id, each compared where both records have one). That is a re-export or an
//! overlapping range of the same order table. Records that disagree are different orders that
//! share an id (two shops, a renumbered table): each is classified on its own, both are kept,
//! and the collision is listed with both `file:line`s ([`Ingest::collisions`]). So another
//! file's record can never make an in-window card order vanish. Ids stay as written in the
//! outputs; orders.csv tells such orders apart by its `source` column.
//!
//! A record is rejected only when its place in or out of the window cannot be decided (no
//! readable timestamp) or it is malformed (a wrong number of fields, or a line that opened a
//! quote that never closed: see [`crate::input::csv`]). Everything else is
//! classified, so the counts always reconcile: `rows_read = in_window + out_of_window +
//! not_card + rejected`, per file and in total.

mod index;
pub mod layout;
pub mod methods;
mod prepare;
mod record;
mod spill;

pub use record::*;

use crate::cards::{CardInput, FingerprintKey};
use crate::config::InputSettings;
use crate::error::{Error, Result};
use crate::input::csv::{Ahead, Block, Cut, Records};
use crate::text;
use crate::timestamp::{TimeFormat, TsError};
use crate::window::Window;
use foldhash::HashMap;
use index::OrderIndex;
use jiff::Timestamp;
use layout::{Field, Layout};
use methods::{MethodClass, MethodRules};
use prepare::Prepared;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One input file and the settings it is read with.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    /// The name used in `source` columns and the summary (relative to the case folder).
    pub display: String,
    pub settings: InputSettings,
}

/// Settings shared by every file of a run.
pub struct IngestOptions<'a> {
    pub window: &'a Window,
    pub methods: &'a MethodRules,
    /// Statuses to leave out, normalised (NFKC, lower case).
    pub exclude_statuses: Vec<String>,
    pub key: &'a FingerprintKey,
    /// Keep card orders within this distance outside the window (for the payments join).
    pub margin: Option<jiff::SignedDuration>,
    /// Look-up mode: collect the first record of each order whose id hash is in the set,
    /// whatever its class, into [`Ingest::fetched`].
    pub fetch: Option<&'a foldhash::HashSet<u128>>,
    /// Country of orders that name none and whose preset gives none.
    pub default_country: Option<String>,
    pub progress: Option<&'a indicatif::ProgressBar>,
}

/// What is remembered of every order: its class, where its first record is, and hashes of
/// what tells two orders apart (to count later records that disagree, and to decide whether a
/// record of another file with the same id is the same order). Keyed by the low 96 bits of a
/// 128-bit hash of the id, packed to 40 bytes per order with a 4-byte slot in a hash table
/// ([`index`]), so the index stays small next to the customers themselves.
#[derive(Debug, Clone, Copy)]
struct OrderState {
    class: Class,
    /// Paid by card (by the first record's method or card cell).
    card: bool,
    /// Other orders with the same id are in [`Ingest::more`].
    more: bool,
    /// Normalised e-mail and login id (0: none), and the instant (or the raw text when it
    /// cannot be read).
    email: u32,
    login: u32,
    when: u32,
    /// The file that introduced the order, and the line of its first record.
    file: u32,
    line: u64,
    /// The last file whose records joined this order (its later records join it too).
    joined: u32,
}

/// How two records of one id differ, as a set of bits.
const DIFF_CUSTOMER: u8 = 1;
const DIFF_METHOD: u8 = 2;
const DIFF_TIME: u8 = 4;

impl OrderState {
    /// What tells `self` apart from `other` (0: they agree, i.e. are the same order).
    fn differs(&self, other: &OrderState) -> u8 {
        let both = |a: u32, b: u32| a != 0 && b != 0 && a != b;
        let mut d = 0;
        if both(self.email, other.email) || both(self.login, other.login) {
            d |= DIFF_CUSTOMER;
        }
        if self.card != other.card {
            d |= DIFF_METHOD;
        }
        if self.when != other.when {
            d |= DIFF_TIME;
        }
        d
    }
}

/// One order id used by different orders in different files.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Collision {
    /// As written (card-like runs masked).
    pub order_id: String,
    /// `file:line` of the first record of the order read first…
    pub first: String,
    /// …and of the record that disagrees with it.
    pub other: String,
    /// What differs: `customer`, `payment_method`, `time`.
    pub differs: Vec<&'static str>,
}

/// At most this many collisions are listed (all are counted).
pub const COLLISIONS_LISTED: usize = 1000;

/// The tally key of an empty payment-method cell (a trimmed cell as written is never empty)…
const EMPTY_METHOD: &[u8] = b"";
/// …and of one whose order holds a card number (nor is a trimmed cell ever a line end).
const EMPTY_METHOD_CARD: &[u8] = b"\n";

/// The result of reading every order file.
#[derive(Default)]
pub struct Ingest {
    /// The kept entries: in-window card orders, then what the joins add. Empty while the
    /// orders are spilled to disk ([`Ingest::spill_kept_to`]) until [`Ingest::load_kept`].
    pub orders: Vec<OrderRecord>,
    /// Where the kept orders go while the files are read, when a stage asked for it.
    spill: Option<spill::Spill>,
    pub files: Vec<FileReport>,
    /// Payment method as written → class and rows.
    pub methods: BTreeMap<String, MethodTally>,
    /// Later records of an order that disagree with its first one on e-mail or time.
    pub disagreements: u64,
    /// Order ids used by different orders in different files: the first
    /// [`COLLISIONS_LISTED`], in reading order…
    pub collisions: Vec<Collision>,
    /// …and how many there are.
    pub collisions_total: u64,
    /// Interned text of the orders.
    pub strings: Strings,
    index: OrderIndex,
    /// The other orders of ids that several orders use (rare: see [`Collision`]).
    more: HashMap<u128, Vec<OrderState>>,
    /// Bytes of the files read so far (for the progress bar).
    progress_base: u64,
    /// Card orders just outside the window (see [`IngestOptions::margin`]).
    pub margin: Vec<OrderRecord>,
    /// Orders looked up by id ([`IngestOptions::fetch`]), whatever their class.
    pub fetched: Vec<OrderRecord>,
    method_cache: HashMap<Box<[u8]>, (MethodClass, u64)>,
}

/// Where rejected records go as they are found (so they never pile up in memory). A sink can
/// be rewound to a mark, for a file that must be read again in another encoding.
pub trait RejectSink {
    fn push(&mut self, r: Rejected) -> Result<()>;
    /// A position to [`RejectSink::rewind`] to.
    fn mark(&mut self) -> Result<u64>;
    fn rewind(&mut self, mark: u64) -> Result<()>;
}

impl RejectSink for Vec<Rejected> {
    fn push(&mut self, r: Rejected) -> Result<()> {
        Vec::push(self, r);
        Ok(())
    }
    fn mark(&mut self) -> Result<u64> {
        Ok(self.len() as u64)
    }
    fn rewind(&mut self, mark: u64) -> Result<()> {
        self.truncate(mark as usize);
        Ok(())
    }
}

impl RejectSink for crate::output::CsvOut {
    fn push(&mut self, r: Rejected) -> Result<()> {
        self.row([r.source, r.reason, r.record])
    }
    fn mark(&mut self) -> Result<u64> {
        self.position()
    }
    fn rewind(&mut self, mark: u64) -> Result<()> {
        self.truncate(mark)
    }
}

/// What [`Ingest::rollback`] restores.
#[derive(Clone)]
struct Checkpoint {
    orders: usize,
    spilled: Option<spill::Mark>,
    disagreements: u64,
    collisions: usize,
    collisions_total: u64,
    methods: HashMap<Box<[u8]>, (MethodClass, u64)>,
    rejects: u64,
}

impl Ingest {
    pub fn new() -> Ingest {
        Ingest::default()
    }

    /// Room for `orders` more orders, `in_window` of them in the window (a reservation only:
    /// pages are touched as entries arrive).
    /// Only an optimisation: a reservation the system refuses is skipped (the containers then
    /// grow as entries arrive), never an abort.
    fn reserve(&mut self, orders: usize, in_window: usize) {
        self.index.try_reserve(orders);
        if self.spill.is_none() {
            let _ = self.orders.try_reserve(in_window + in_window / 4);
        }
    }

    /// Totals over all files.
    pub fn totals(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.files {
            c.merge(&f.counts);
        }
        c
    }

    /// Reads one file, streaming, adding its in-window card orders and its counts (see
    /// [`crate::input::csv`] for encodings and threads).
    pub fn read_file(
        &mut self,
        input: &InputFile,
        opts: &IngestOptions,
        reject: &mut dyn RejectSink,
    ) -> Result<()> {
        let checkpoint = self.checkpoint(reject)?;
        let progress = opts.progress.map(|p| (p, self.progress_base));
        let mut visit = OrderFile {
            to: Classify {
                file_idx: self.files.len(),
                ingest: self,
                input,
                opts,
                reject,
            },
            checkpoint,
            state: None,
        };
        let opened = crate::input::csv::read(
            &input.path,
            &input.display,
            input.settings.encoding.as_deref(),
            progress,
            &mut visit,
        )?;
        visit.flush()?;
        let mut report = match visit.state.take() {
            Some(st) => st.finish(input)?,
            None => FileReport::new(input, "none"),
        };
        if opened.empty {
            report
                .warnings
                .push("the file is empty (no header row)".into());
        }
        report.warnings.extend(opened.warnings());
        report.encoding = opened.encoding;
        report.encoding_detected = opened.detected;
        report.encoding_reason = opened.reason;
        report.encoding_invalid_lines = opened.damage.lines;
        report.sha256 = opened.sha256;
        report.bytes = opened.bytes;
        self.progress_base += opened.bytes;
        if let Some(p) = opts.progress {
            p.set_position(self.progress_base);
        }
        self.files.push(report);
        Ok(())
    }

    fn checkpoint(&mut self, reject: &mut dyn RejectSink) -> Result<Checkpoint> {
        Ok(Checkpoint {
            orders: self.orders.len(),
            spilled: self.spill.as_ref().map(|s| s.mark()),
            disagreements: self.disagreements,
            collisions: self.collisions.len(),
            collisions_total: self.collisions_total,
            methods: self.method_cache.clone(),
            rejects: reject.mark()?,
        })
    }

    /// Undoes everything a partly read file added.
    fn rollback(&mut self, cp: Checkpoint, reject: &mut dyn RejectSink) -> Result<()> {
        let file = self.files.len() as u32;
        self.orders.truncate(cp.orders);
        if let (Some(s), Some(m)) = (&mut self.spill, cp.spilled) {
            s.rewind(m)?;
        }
        // `joined` only matters for the file being read: pointing it back at the order's own
        // file undoes this file's joins.
        let unjoin = |st: &mut OrderState| {
            if st.joined == file {
                st.joined = st.file;
            }
        };
        self.index.retain(|st| {
            unjoin(st);
            st.file != file
        });
        let index = &mut self.index;
        self.more.retain(|k, v| {
            v.retain(|st| st.file != file);
            v.iter_mut().for_each(unjoin);
            if v.is_empty() {
                index.update(k, |p| p.more = false);
            }
            !v.is_empty()
        });
        self.collisions.truncate(cp.collisions);
        self.collisions_total = cp.collisions_total;
        self.disagreements = cp.disagreements;
        self.method_cache = cp.methods;
        reject.rewind(cp.rejects)
    }

    /// The class of one record, from what [`prepare`] worked out for it and the orders read
    /// before it.
    #[allow(clippy::too_many_arguments)]
    fn classify(
        &mut self,
        rec: &csv::ByteRecord,
        line: u64,
        file_idx: usize,
        ctx: &RowContext,
        opts: &IngestOptions,
        report: &mut FileReport,
        p: Prepared,
        reject: &mut dyn RejectSink,
    ) -> Result<Class> {
        let layout = &ctx.layout;
        if rec.len() != ctx.width {
            let mut reason = format!("expected {} fields, found {}", ctx.width, rec.len());
            if rec.iter().any(|f| f.contains(&b'\n')) {
                reason.push_str(" (a field runs over several lines: an unterminated quote?)");
            }
            reject.push(Rejected {
                source: format!("{}:{line}", ctx.input.display),
                reason,
                record: masked_record(rec, layout, None),
            })?;
            return Ok(Class::Rejected);
        }
        if let Some(c) = crate::input::csv::moved_into_code_column(rec, &layout.security_code_cols)
        {
            reject.push(Rejected {
                source: format!("{}:{line}", ctx.input.display),
                reason: format!(
                    "the security-code column `{}` holds no security code (five digits or more, or an e-mail): the row's fields have moved (an unquoted comma, and a field left out?); quote the field with the comma",
                    clean(&layout.headers[c])
                ),
                record: masked_record(rec, layout, Some(crate::input::csv::MOVED_SHIFT)),
            })?;
            return Ok(Class::Rejected);
        }
        // Card-like numbers in columns the tool does not treat as card columns.
        for &(i, found) in &p.cards_in_text {
            report.card_numbers_in_text += found;
            *report
                .card_numbers_masked
                .entry(layout.headers[i].clone())
                .or_default() += found;
        }
        let key = p.key;
        let file = file_idx as u32;
        let mut state = OrderState {
            class: Class::NotCard,
            card: false,
            more: false,
            email: p.email,
            login: 0,
            when: p.when,
            file,
            line,
            joined: file,
        };

        if let Some(wanted) = opts.fetch {
            if wanted.contains(&key) && !self.index.contains_key(&key) {
                if let Ok(at) = p.parsed {
                    let kind = EntryKind::PaymentForOrder;
                    let d = prepare::draft_of(rec, line, file_idx, ctx, opts, at, kind);
                    let o = self.intern(d);
                    self.fetched.push(o);
                }
            }
            self.index.insert_new(key, state);
            return Ok(Class::NotCard);
        }
        // One look-up of the id serves every question below (a new order's id is most rows').
        let first = self.index.get(&key);
        // A later record of an order of this file takes that order's class.
        if let Some(st) = self.own_order(key, first, file) {
            if st.email != p.email || st.when != p.when {
                self.disagreements += 1;
            }
            return Ok(st.class);
        }
        state.login = p.login;
        state.card = p.card;
        // The first record of this id in this file, and another file has the id: the same
        // order when they agree (a re-export), else another order that shares the id.
        let mut collided = None;
        if first.is_some() {
            if let Some(class) = self.join_agreeing(key, &state) {
                return Ok(class);
            }
            // As it was: a join that did not agree changed nothing of it.
            collided = first;
        }
        self.count_method(rec, ctx, p.method, p.card);
        let class = self.classify_new(rec, line, file_idx, ctx, opts, report, p, reject)?;
        if class != Class::Rejected {
            match class {
                Class::InWindow => report.orders.orders_in_window += 1,
                Class::OutOfWindow => report.orders.orders_out_of_window += 1,
                Class::NotCard => report.orders.orders_not_card += 1,
                Class::Rejected => {}
            }
            state.class = class;
            match collided {
                // Not in the index (`first` is none): classifying a record adds no order.
                None => self.index.push_new(key, state),
                Some(first) => {
                    let order_id = prepare::order_id(rec, line, ctx);
                    self.note_collision(&order_id, &first, &state, &ctx.input.display);
                    self.more.entry(key).or_default().push(state);
                    self.index.update(&key, |p| p.more = true);
                }
            }
        }
        Ok(class)
    }

    /// The order with this id that the current file introduced or joined.
    /// `first` is the index's state of `key`.
    fn own_order(&self, key: u128, first: Option<OrderState>, file: u32) -> Option<OrderState> {
        let first = first?;
        if first.file == file || first.joined == file {
            return Some(first);
        }
        if !first.more {
            return None;
        }
        self.more
            .get(&key)?
            .iter()
            .find(|st| st.file == file || st.joined == file)
            .copied()
    }

    /// Joins the first order with this id that `record` agrees with; its class.
    fn join_agreeing(&mut self, key: u128, record: &OrderState) -> Option<Class> {
        let (first, agrees) = self.index.update(&key, |first| {
            let agrees = first.differs(record) == 0;
            if agrees {
                first.joined = record.file;
            }
            (*first, agrees)
        })?;
        if agrees {
            return Some(first.class);
        }
        if !first.more {
            return None;
        }
        let st = self
            .more
            .get_mut(&key)?
            .iter_mut()
            .find(|st| st.differs(record) == 0)?;
        st.joined = record.file;
        Some(st.class)
    }

    fn note_collision(&mut self, id: &str, first: &OrderState, other: &OrderState, shown: &str) {
        self.collisions_total += 1;
        if self.collisions.len() >= COLLISIONS_LISTED {
            return;
        }
        let d = first.differs(other);
        let differs = [
            (DIFF_CUSTOMER, "customer"),
            (DIFF_METHOD, "payment_method"),
            (DIFF_TIME, "time"),
        ]
        .iter()
        .filter(|(bit, _)| d & bit != 0)
        .map(|&(_, name)| name)
        .collect();
        self.collisions.push(Collision {
            order_id: clean(id),
            first: format!("{}:{}", self.files[first.file as usize].path, first.line),
            other: format!("{shown}:{}", other.line),
            differs,
        });
    }

    /// Adds the first record of an order to its payment method's tally (`class`: the method
    /// cell's class, `None` for an empty cell, whose order is a card payment or not by its card
    /// cell, `card`). Empty cells are tallied too, under [`EMPTY_METHOD`] and
    /// [`EMPTY_METHOD_CARD`], so that every order of a file with a method column is in
    /// `payment_methods`.
    fn count_method(
        &mut self,
        rec: &csv::ByteRecord,
        ctx: &RowContext,
        class: Option<MethodClass>,
        card: bool,
    ) {
        let Some(i) = ctx.col(Field::PaymentMethod) else {
            return;
        };
        let (trimmed, class) = match class {
            Some(class) => (rec.get(i).unwrap_or_default().trim_ascii(), class),
            None if card => (EMPTY_METHOD_CARD, MethodClass::Card),
            None => (EMPTY_METHOD, MethodClass::NotCard),
        };
        match self.method_cache.get_mut(trimmed) {
            Some((_, rows)) => *rows += 1,
            None => {
                self.method_cache.insert(trimmed.into(), (class, 1));
            }
        }
    }

    /// The class of the first record of a new order (kept when it is an in-window card
    /// order, or a card order near the window: see [`prepare::kept_at`]).
    #[allow(clippy::too_many_arguments)]
    fn classify_new(
        &mut self,
        rec: &csv::ByteRecord,
        line: u64,
        file_idx: usize,
        ctx: &RowContext,
        opts: &IngestOptions,
        report: &mut FileReport,
        p: Prepared,
        reject: &mut dyn RejectSink,
    ) -> Result<Class> {
        if !p.card {
            return Ok(Class::NotCard);
        }
        if p.excluded {
            report.not_card_excluded_status += 1;
            return Ok(Class::NotCard);
        }
        let at = match p.parsed {
            Ok(t) => t,
            Err(TsError::NaiveWithoutZone(_)) => {
                return Err(Error::usage(format!(
                    "{}:{line}: the order time has no offset (e.g. `2021-12-22 10:00:00`), and no time zone is configured; pass --tz (e.g. --tz Asia/Tokyo) or set incident.timezone to the zone the shop wrote its times in",
                    ctx.input.display
                )))
            }
            Err(e) => {
                let reason = match e {
                    TsError::Empty => "no order time (the ordered_at cell is empty)".to_string(),
                    other => format!("order time: {other}"),
                };
                reject.push(Rejected {
                    source: format!("{}:{line}", ctx.input.display),
                    reason: crate::cards::mask_card_runs(&reason).0,
                    record: masked_record(rec, &ctx.layout, None),
                })?;
                return Ok(Class::Rejected);
            }
        };
        let in_window = prepare::in_window(at, opts);
        if in_window || prepare::near_window(at, opts) {
            // Prepared with the record (whenever a new order with it is kept); built here only
            // should the two tests ever part, so that the record is kept all the same.
            let d = p.draft.map(|d| *d).unwrap_or_else(|| {
                prepare::draft_of(rec, line, file_idx, ctx, opts, at, EntryKind::Order)
            });
            let o = self.intern(d);
            if in_window {
                match &mut self.spill {
                    Some(s) => s.push(&o)?,
                    None => self.orders.push(o),
                }
            } else {
                self.margin.push(o);
            }
        }
        Ok(if in_window {
            Class::InWindow
        } else {
            Class::OutOfWindow
        })
    }

    /// The kept record of a draft, its repeated texts interned.
    fn intern(&mut self, d: prepare::Draft) -> OrderRecord {
        let mut o = d.record;
        o.facets =
            self.strings
                .intern_facets(&d.status, &d.currency, &d.region, &d.country, &d.locale);
        o
    }

    /// From now on, keeps the in-window card orders in an unnamed file in `dir` rather than in
    /// memory, until [`Ingest::load_kept`] (see [`spill`]): for a stage that drops the index
    /// before it needs the orders. Orders already kept stay where they are.
    pub fn spill_kept_to(&mut self, dir: &std::path::Path) -> Result<()> {
        if self.spill.is_none() {
            self.spill = Some(spill::Spill::create(dir)?);
        }
        Ok(())
    }

    /// Reads the spilled orders back after those kept in memory (in the order they were
    /// kept), and keeps the next ones in memory. Nothing to do when nothing was spilled.
    pub fn load_kept(&mut self) -> Result<()> {
        if let Some(s) = self.spill.take() {
            let loaded = s.load()?;
            if self.orders.is_empty() {
                self.orders = loaded;
            } else {
                self.orders.extend(loaded);
            }
        }
        Ok(())
    }

    /// Payment methods seen, as written, with how they were classified (for the summary); an
    /// empty cell as `(empty)`, or `(empty, card number given)` when the card cell made the
    /// order a card payment.
    pub fn finish_methods(&mut self) {
        for (raw, (class, rows)) in self.method_cache.drain() {
            let label = match &*raw {
                EMPTY_METHOD => "(empty)".into(),
                EMPTY_METHOD_CARD => "(empty, card number given)".into(),
                _ => crate::cards::mask_card_runs(&String::from_utf8_lossy(&raw)).0,
            };
            let class = match class {
                MethodClass::Card => "card",
                MethodClass::NotCard => "not_card",
                MethodClass::Unknown => "unrecognised",
            };
            let e = self
                .methods
                .entry(label)
                .or_insert(MethodTally { class, rows: 0 });
            e.rows += rows;
        }
    }

    /// Drops the index of every order read (40 bytes and a slot per order, most of them
    /// outside the window), once every file is read and every join that looks orders up by id
    /// is done: linking and writing the customers, the stage's peak, do not need it.
    /// [`Ingest::has_order`] then answers `false`.
    pub fn forget_index(&mut self) {
        self.index = OrderIndex::default();
        self.more = HashMap::default();
    }

    /// Whether any file held an order with this id (as written).
    pub fn has_order(&self, id: &str) -> bool {
        self.index.contains_key(&order_key(id))
    }

    /// Lends the index of every order read to a join that looks order ids up on every core
    /// while it adds entries here ([`crate::payments`]); [`Ingest::has_order`] answers `false`
    /// until it is given back with [`Ingest::return_order_ids`].
    pub fn lend_order_ids(&mut self) -> OrderIds {
        OrderIds(std::mem::take(&mut self.index))
    }

    /// Takes back what [`Ingest::lend_order_ids`] lent.
    pub fn return_order_ids(&mut self, ids: OrderIds) {
        self.index = ids.0;
    }

    /// Distinct orders per class, over all files.
    pub fn order_counts(&self) -> OrderCounts {
        let mut o = OrderCounts::default();
        for f in &self.files {
            o.orders_in_window += f.orders.orders_in_window;
            o.orders_out_of_window += f.orders.orders_out_of_window;
            o.orders_not_card += f.orders.orders_not_card;
        }
        o
    }
}

/// The visitor that reads one order file into the [`Ingest`].
struct OrderFile<'a> {
    /// Where the records go, apart from the file's state so that both can be borrowed at once.
    to: Classify<'a>,
    checkpoint: Checkpoint,
    /// Set once the header is known.
    state: Option<FileState<'a>>,
}

/// What one file's reading accumulates.
struct FileState<'a> {
    ctx: RowContext<'a>,
    report: FileReport,
    /// The header row as read (trimmed), to tell a header repeated mid-file.
    headers: Vec<String>,
    /// Records classified so far and the bytes of the first [`SIZE_SAMPLE`] of them, to size
    /// the order list and index (rows rejected by the splitter are not in the sample).
    sample: (u64, u64),
    /// The blocks read, prepared one ahead of the one classified.
    ahead: Ahead<Prepared>,
}

/// The index of every order read, lent out by [`Ingest::lend_order_ids`].
pub struct OrderIds(OrderIndex);

impl OrderIds {
    /// Whether any file held an order with this id (as written): [`Ingest::has_order`].
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(&order_key(id))
    }
}

/// After this many records the rows still to come are estimated from the file's size, and the
/// order list and index are sized for them once: growing them by doubling copies them each
/// time and makes the kernel clear every new page (15 % of an `affected` profile).
const SIZE_SAMPLE: u64 = 4096;

impl FileReport {
    fn new(input: &InputFile, preset: &str) -> FileReport {
        FileReport {
            path: input.display.clone(),
            sha256: String::new(),
            bytes: 0,
            encoding: String::new(),
            encoding_detected: false,
            encoding_reason: String::new(),
            encoding_invalid_lines: 0,
            preset: preset.to_string(),
            columns: BTreeMap::new(),
            counts: Counts::default(),
            orders: OrderCounts::default(),
            not_card_excluded_status: 0,
            card_numbers_in_text: 0,
            card_numbers_masked: BTreeMap::new(),
            security_code_columns: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl FileState<'_> {
    /// The file's report, with its warnings, once every record is read.
    fn finish(self, input: &InputFile) -> Result<FileReport> {
        let mut report = self.report;
        if report.card_numbers_in_text > 0 {
            report.warnings.push(format!(
                "{} card number(s) found in text columns ({}); masked wherever they could be written",
                report.card_numbers_in_text,
                report
                    .card_numbers_masked
                    .iter()
                    .map(|(c, n)| format!("{c}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !report.security_code_columns.is_empty() {
            report.warnings.push(format!(
                "the export holds security codes ({}): storing them after authorisation breaches PCI DSS 3.3.1; they were not read and appear in no output",
                report.security_code_columns.join(", ")
            ));
        }
        if !report.counts.reconciles() {
            return Err(Error::Invariant(format!(
                "{}: rows do not reconcile: {:?}",
                input.display, report.counts
            )));
        }
        Ok(report)
    }
}

impl OrderFile<'_> {
    /// Classifies the pending block (see [`OrderFile::step`]) when the file ends.
    fn flush(&mut self) -> Result<()> {
        let Some(st) = self.state.as_mut() else {
            return Ok(());
        };
        let mut block = st.ahead.take_pending();
        self.to
            .block(&st.ctx, &mut st.report, &mut st.sample, &mut block)
    }
}

/// Classifies prepared records in file order (the part of a file's reading that depends on
/// the records before).
struct Classify<'a> {
    ingest: &'a mut Ingest,
    reject: &'a mut dyn RejectSink,
    input: &'a InputFile,
    opts: &'a IngestOptions<'a>,
    file_idx: usize,
}

impl Classify<'_> {
    /// Rejects a record, with its line and why, and counts it.
    fn reject(
        &mut self,
        rec: &csv::ByteRecord,
        line: u64,
        reason: String,
        ctx: &RowContext,
        report: &mut FileReport,
    ) -> Result<()> {
        self.reject.push(Rejected {
            source: format!("{}:{line}", self.input.display),
            reason,
            record: masked_record(rec, &ctx.layout, None),
        })?;
        report.counts.add(Class::Rejected);
        Ok(())
    }

    /// Every record of a prepared block, in order; the block is left empty of prepared
    /// records.
    fn block(
        &mut self,
        ctx: &RowContext,
        report: &mut FileReport,
        sample: &mut (u64, u64),
        block: &mut Block<Prepared>,
    ) -> Result<()> {
        // Each record's first probe of the index misses the cache (1,000,000 orders spread over
        // 60 MB). Probed here for the whole block first, independently of one another, the
        // misses overlap, and the classifying below finds the lines in the cache (reading
        // 1,000,000 rows, alternating runs: 0.99-1.38 -> 0.83-1.03 s on a quiet host).
        for p in block.prepared.iter().flatten() {
            std::hint::black_box(self.ingest.index.contains_key(&p.key));
        }
        for (rec, line, cut, p) in block.drain() {
            let (Some(p), None) = (p, cut) else {
                let reason = cut.map(Cut::reason).unwrap_or_default();
                self.reject(rec, line, reason, ctx, report)?;
                continue;
            };
            // The header row again (two exports pasted into one file): rejected, not read as
            // an order whose payment method is "Payment Method".
            if p.header_again {
                let reason = "the header row again (two exports joined into one file?)";
                self.reject(rec, line, reason.into(), ctx, report)?;
                continue;
            }
            let class = self.ingest.classify(
                rec,
                line,
                self.file_idx,
                ctx,
                self.opts,
                report,
                p,
                self.reject,
            )?;
            report.counts.add(class);
            self.sample(rec, report, sample);
        }
        Ok(())
    }

    /// Counts a classified record into the size sample; at its end, sizes the order list and
    /// index for the rest of the file.
    fn sample(&mut self, rec: &csv::ByteRecord, report: &FileReport, sample: &mut (u64, u64)) {
        let (sampled, bytes) = sample;
        if *sampled >= SIZE_SAMPLE {
            return;
        }
        *sampled += 1;
        // The record's bytes, its separators and its line end (one byte per field), at most
        // as in the file: quotes and `\r` make the rows longer, so fewer than this estimate.
        *bytes += (rec.as_slice().len() + rec.len()) as u64;
        if *sampled == SIZE_SAMPLE {
            let file_bytes = std::fs::metadata(&self.input.path).map_or(0, |m| m.len());
            let per_row = (*bytes / SIZE_SAMPLE).max(1);
            let read = report.counts.rows_read;
            // A sixteenth more than the sample says: a list that falls short by one row is
            // copied to twice its size (and the kernel zeroes the new pages).
            let rows = file_bytes / per_row;
            let more = (rows + rows / 16).saturating_sub(read);
            // Capped, so that a misjudged sample cannot reserve more than memory holds.
            let more = more.min(1 << 27);
            let in_window = more * report.counts.in_window / read;
            let size = |n: u64| usize::try_from(n).unwrap_or(0);
            self.ingest.reserve(size(more), size(in_window));
        }
    }
}

impl<'a> crate::input::csv::Visitor for OrderFile<'a> {
    fn header(&mut self, headers: Vec<String>) -> Result<()> {
        let input = self.to.input;
        let layout = layout::resolve(
            &headers,
            input.settings.preset.as_deref(),
            &input.settings.columns,
            &input.settings.waive,
        )
        .map_err(|e| Error::Layout {
            path: input.path.clone(),
            message: e.0,
        })?;
        let mut report = FileReport::new(input, layout.preset_name());
        for (f, &i) in &layout.cols {
            report
                .columns
                .insert(f.key().to_string(), headers[i].clone());
        }
        report.warnings.extend(layout.warnings.iter().cloned());
        report.security_code_columns = layout
            .security_code_cols
            .iter()
            .map(|&i| format!("{} (column {})", headers[i], i + 1))
            .collect();
        let zone = match input.settings.timezone.as_deref() {
            Some(z) => Some(crate::window::zone(z)?),
            None => self.to.opts.window.tz.clone(),
        };
        let ctx = RowContext {
            input,
            fmt: TimeFormat::from_config(
                input.settings.timestamp_format.as_deref().unwrap_or("auto"),
            ),
            zone,
            guest_ids: input
                .settings
                .guest_ids
                .iter()
                .cloned()
                .chain(
                    layout
                        .preset
                        .iter()
                        .flat_map(|p| p.guest_ids.iter().map(|s| s.to_string())),
                )
                .collect(),
            currency: input
                .settings
                .currency
                .clone()
                .or_else(|| layout.preset.and_then(|p| p.currency).map(str::to_string))
                .unwrap_or_default(),
            country: input
                .settings
                .country
                .clone()
                .or_else(|| layout.preset.and_then(|p| p.country).map(str::to_string))
                .or_else(|| self.to.opts.default_country.clone())
                .unwrap_or_default(),
            width: headers.len(),
            text_spans: text_spans(&layout, headers.len()),
            cols: columns(&layout),
            layout,
        };
        self.state = Some(FileState {
            ctx,
            report,
            headers,
            sample: (0, 0),
            ahead: Ahead::default(),
        });
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
        let st = self.state.as_mut().expect("a record after the header");
        self.to
            .reject(rec, line, reason.to_string(), &st.ctx, &mut st.report)
    }

    fn restart(&mut self) -> Result<()> {
        self.state = None;
        self.to
            .ingest
            .rollback(self.checkpoint.clone(), self.to.reject)
    }
}

impl OrderFile<'_> {
    /// Each block is prepared on the thread pool ([`prepare::prepare_block`]) while the block
    /// before it is classified here, in file order ([`Ahead`]); the last one is classified by
    /// [`OrderFile::flush`] at the end of the file.
    fn step(&mut self, recs: Records<'_>, lines: &[u64], cuts: &[Option<Cut>]) -> Result<()> {
        let st = self.state.as_mut().expect("a record after the header");
        let (ctx, headers, opts, file_idx) = (&st.ctx, &st.headers, self.to.opts, self.to.file_idx);
        let to = &mut self.to;
        st.ahead.step(
            recs,
            lines,
            cuts,
            |recs, lines, cuts, out| {
                prepare::prepare_block(recs, lines, cuts, file_idx, ctx, headers, opts, out)
            },
            |block| to.block(ctx, &mut st.report, &mut st.sample, block),
        )
    }
}

/// Per-file reading context.
struct RowContext<'a> {
    input: &'a InputFile,
    layout: Layout,
    fmt: TimeFormat,
    /// The zone naive times of this file are in.
    zone: Option<jiff::tz::TimeZone>,
    guest_ids: Vec<String>,
    currency: String,
    country: String,
    width: usize,
    /// The runs of columns checked for card numbers in text: every column but the card and
    /// security code columns, as (first, last).
    text_spans: Vec<(usize, usize)>,
    /// [`columns`] of the layout.
    cols: [Option<usize>; Field::ALL.len()],
}

/// [`RowContext::text_spans`] of a file's layout.
fn text_spans(layout: &Layout, width: usize) -> Vec<(usize, usize)> {
    let skipped = |i: usize| {
        Some(i) == layout.col(Field::CardNumber) || layout.security_code_cols.contains(&i)
    };
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for i in (0..width).filter(|&i| !skipped(i)) {
        match spans.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => spans.push((i, i)),
        }
    }
    spans
}

// `Field::ALL` lists the fields in the order of their numbers, so a field's number is its place
// in [`columns`]'s list.
const _: () = {
    let mut i = 0;
    while i < Field::ALL.len() {
        assert!(Field::ALL[i] as usize == i);
        i += 1;
    }
};

/// [`Layout::col`] of every field, by the field's number: the layout's map is searched for
/// each field of each row otherwise (a score of times per row).
fn columns(layout: &Layout) -> [Option<usize>; Field::ALL.len()] {
    let mut cols = [None; Field::ALL.len()];
    for f in Field::ALL {
        cols[f as usize] = layout.col(f);
    }
    cols
}

impl RowContext<'_> {
    /// The column of a field, if the file has one.
    fn col(&self, f: Field) -> Option<usize> {
        // A field left out of `Field::ALL` is looked up in the map.
        match self.cols.get(f as usize) {
            Some(&c) => c,
            None => self.layout.col(f),
        }
    }

    /// A field's text (empty when the column is absent). Invalid UTF-8 is replaced, not fatal.
    fn get<'r>(&self, rec: &'r csv::ByteRecord, f: Field) -> Cow<'r, str> {
        match self.col(f).and_then(|i| rec.get(i)) {
            Some(b) => text::lossy(b),
            None => Cow::Borrowed(""),
        }
    }

    /// A status as its name, where the platform writes ids (EC-CUBE 2).
    fn status_name<'s>(&self, s: &'s str) -> Cow<'s, str> {
        if let Some(p) = self.layout.preset {
            if let Some((_, name)) = p.status_names.iter().find(|(id, _)| *id == s) {
                return Cow::Owned((*name).to_string());
            }
        }
        Cow::Borrowed(s)
    }
}

/// Text kept for an output: card-like runs masked.
fn clean(s: impl AsRef<str>) -> String {
    let s = s.as_ref();
    if crate::cards::may_hold_card(s.as_bytes()) {
        crate::cards::mask_card_runs(s).0
    } else {
        s.to_string()
    }
}

/// The record as CSV text for `rejected.csv`: the card column masked, security codes removed,
/// card-like runs elsewhere masked; `moved`: its fields are known to have moved by up to so
/// many columns, whatever its width.
fn masked_record(rec: &csv::ByteRecord, layout: &Layout, moved: Option<usize>) -> String {
    let card_col = layout.col(Field::CardNumber);
    let shift = moved.unwrap_or_else(|| rec.len().abs_diff(layout.headers.len()));
    crate::input::csv::redacted_moved_record(
        rec,
        shift,
        &layout.security_code_cols,
        |i, s, shift| {
            // A record of another width: the card column may have moved (see the rules for it).
            (shift == 0 && Some(i) == card_col).then(|| match CardInput::parse(s) {
                Some(CardInput::Full(p)) => p.masked(),
                Some(CardInput::Unreadable) => crate::cards::mask_card_runs(s).0,
                Some(CardInput::Masked { .. }) | None => s.to_string(),
            })
        },
    )
}

/// The index key of an order id: a 128-bit hash of the id as written (trimmed).
pub fn order_key(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.trim().as_bytes())
}

/// A 32-bit hash of a text normalised as e-mails and logins are (trimmed, NFKC, lower case);
/// 0 for none. ASCII is lower-cased without allocating.
fn identity_hash(raw: &str) -> u32 {
    use xxhash_rust::xxh3::Xxh3;
    let t = raw.trim();
    if t.is_empty() {
        return 0;
    }
    let mut buf = [0u8; 64];
    if t.is_ascii() && t.len() <= buf.len() {
        // Most e-mails: lower-cased on the stack and hashed at once (the streaming state below
        // costs more to set up than a short text takes to hash; the digest is the same).
        for (d, s) in buf.iter_mut().zip(t.as_bytes()) {
            *d = s.to_ascii_lowercase();
        }
        return (xxhash_rust::xxh3::xxh3_64(&buf[..t.len()]) as u32).max(1);
    }
    let mut h = Xxh3::new();
    if t.is_ascii() {
        for chunk in t.as_bytes().chunks(64) {
            for (d, s) in buf.iter_mut().zip(chunk) {
                *d = s.to_ascii_lowercase();
            }
            h.update(&buf[..chunk.len()]);
        }
    } else {
        let n = text::nfkc_lower(t);
        if n.trim().is_empty() {
            return 0;
        }
        h.update(n.trim().as_bytes());
    }
    (h.digest() as u32).max(1)
}

/// [`identity_hash`] of a login id, 0 for the platform's guest values.
fn login_hash(raw: &str, guest_ids: &[String]) -> u32 {
    let t = raw.trim();
    if guest_ids.iter().any(|g| g == t) {
        0
    } else {
        identity_hash(t)
    }
}

/// A hash of an order's instant, or of its time as written when it cannot be read.
fn when_hash(parsed: &std::result::Result<Timestamp, TsError>, raw: &str) -> u32 {
    use xxhash_rust::xxh3::xxh3_64;
    match parsed {
        Ok(t) => xxh3_64(&t.as_nanosecond().to_le_bytes()) as u32,
        Err(_) => xxh3_64(raw.trim().as_bytes()) as u32 ^ 0x5a5a_5a5a,
    }
}

/// Whether a record repeats the header row (fields compared trimmed, a BOM ignored).
fn is_header_again(rec: &csv::ByteRecord, headers: &[String]) -> bool {
    rec.len() == headers.len()
        && rec.iter().zip(headers).enumerate().all(|(i, (f, h))| {
            let f = String::from_utf8_lossy(f);
            let f = if i == 0 {
                f.trim_start_matches('\u{feff}')
            } else {
                &f
            };
            f.trim() == h
        })
}

#[cfg(test)]
mod tests;
