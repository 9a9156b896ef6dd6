//! What a record's class depends on that the record alone decides, worked out for a block of
//! records on every core at once ([`prepare_block`]): the card numbers in its text columns,
//! its order id's key, the hashes that tell orders apart, its time in the zone, whether its
//! payment method is a card's, whether its status is excluded, and the kept form of the
//! record when it would be kept as a new order.
//!
//! What depends on the records before it (is its order already known, from which file, does
//! it agree with it) is decided afterwards, one record at a time in file order, by
//! [`super::Ingest`]: so the classes, the counts and every output are the same whatever the
//! number of cores and however the blocks are cut. A kept form prepared for a record that
//! turns out to belong to an order already read is dropped.

use super::layout::{Field, NameOrder};
use super::methods::MethodClass;
use super::record::{card_info, EntryKind, FacetsId, OrderRecord, TextsOf};
use super::{clean, identity_hash, is_header_again, login_hash, order_key, when_hash};
use super::{IngestOptions, RowContext};
use crate::input::csv::Cut;
use crate::text;
use crate::timestamp::{self, TsError};
use foldhash::HashMap;
use jiff::Timestamp;
use rayon::prelude::*;
use std::borrow::Cow;

/// Records per task: small enough for both cores to share a block of the reader's, large
/// enough that the task's memos ([`Memo`]) pay off.
const CHUNK: usize = 256;

/// What [`prepare`] worked out for one record.
pub(super) struct Prepared {
    /// The header row again (two exports joined into one file).
    pub header_again: bool,
    /// Card numbers found in text columns (not the card or security code columns): column and
    /// count. Empty for almost every record.
    pub cards_in_text: Vec<(usize, u64)>,
    /// [`order_key`] of the order id (or of `file:line` when the record has none).
    pub key: u128,
    /// [`identity_hash`] of the e-mail and [`login_hash`] of the login id.
    pub email: u32,
    pub login: u32,
    /// The order time, read in the file's zone, and its [`when_hash`].
    pub parsed: Result<Timestamp, TsError>,
    pub when: u32,
    /// The payment method cell's class; `None` when the file has no method column or the cell
    /// is empty (the card cell decides then).
    pub method: Option<MethodClass>,
    /// A card payment (by the method, else by the card cell).
    pub card: bool,
    /// A card payment whose status is one of the excluded ones.
    pub excluded: bool,
    /// The kept form of the record (its texts not yet interned), when a new order with it
    /// would be kept: a card payment, not excluded, inside the window or near it.
    pub draft: Option<Box<Draft>>,
}

/// An [`OrderRecord`] whose repeated texts are not interned yet ([`super::Ingest::intern`]
/// does it, in file order, so that the interned ids do not depend on the cores).
pub(super) struct Draft {
    pub record: OrderRecord,
    pub status: String,
    pub currency: String,
    pub region: String,
    pub country: String,
    pub locale: String,
}

/// What one task reads again and again, reset for each task: the last order time (an
/// order's line items repeat it), and the classes of the statuses and methods seen.
#[derive(Default)]
pub(super) struct Memo {
    time: Option<(String, Result<Timestamp, TsError>)>,
    status: HashMap<Box<[u8]>, bool>,
    method: HashMap<Box<[u8]>, MethodClass>,
}

impl Memo {
    fn time(&mut self, raw: &str, ctx: &RowContext) -> Result<Timestamp, TsError> {
        match &self.time {
            Some((r, parsed)) if r == raw => parsed.clone(),
            _ => {
                let parsed = timestamp::parse(raw, &ctx.fmt, ctx.zone.as_ref());
                self.time = Some((raw.to_string(), parsed.clone()));
                parsed
            }
        }
    }

    /// The class of a (trimmed, non-empty) payment method as written.
    fn method(&mut self, raw: &[u8], opts: &IngestOptions) -> MethodClass {
        if let Some(&c) = self.method.get(raw) {
            return c;
        }
        let c = opts.methods.classify(&String::from_utf8_lossy(raw));
        self.method.insert(raw.into(), c);
        c
    }

    /// Whether a (trimmed) status as written is one of the excluded ones.
    fn excluded(&mut self, raw: &[u8], ctx: &RowContext, opts: &IngestOptions) -> bool {
        if let Some(&b) = self.status.get(raw) {
            return b;
        }
        let raw_text = String::from_utf8_lossy(raw);
        let name = ctx.status_name(&raw_text);
        let norm = text::nfkc_lower(name.trim());
        let b = opts.exclude_statuses.contains(&norm);
        self.status.insert(raw.into(), b);
        b
    }
}

/// [`prepare`] for every record of a block, on every core, into `out` (whose room is reused
/// from block to block); `None` for the lines cut off a runaway quote (rejected as they are).
#[allow(clippy::too_many_arguments)]
pub(super) fn prepare_block(
    recs: &[csv::ByteRecord],
    lines: &[u64],
    cuts: &[Option<Cut>],
    file_idx: usize,
    ctx: &RowContext,
    headers: &[String],
    opts: &IngestOptions,
    out: &mut Vec<Option<Prepared>>,
) {
    out.clear();
    out.resize_with(recs.len(), || None);
    out.par_chunks_mut(CHUNK)
        .zip(recs.par_chunks(CHUNK))
        .zip(lines.par_chunks(CHUNK))
        .zip(cuts.par_chunks(CHUNK))
        .for_each(|(((out, recs), lines), cuts)| {
            let mut memo = Memo::default();
            for (((slot, rec), &line), cut) in out.iter_mut().zip(recs).zip(lines).zip(cuts) {
                if cut.is_none() {
                    *slot = Some(prepare(rec, line, file_idx, ctx, headers, opts, &mut memo));
                }
            }
        });
}

/// What the record alone decides (see the module's documentation).
pub(super) fn prepare(
    rec: &csv::ByteRecord,
    line: u64,
    file_idx: usize,
    ctx: &RowContext,
    headers: &[String],
    opts: &IngestOptions,
    memo: &mut Memo,
) -> Prepared {
    let header_again = is_header_again(rec, headers);
    let cards_in_text = if rec.len() == ctx.width {
        cards_in_text(rec, ctx)
    } else {
        Vec::new()
    };
    let order_id = order_id(rec, line, ctx);
    let key = order_key(&order_id);
    let email = identity_hash(&ctx.get(rec, Field::Email));
    let login = login_hash(&ctx.get(rec, Field::LoginId), &ctx.guest_ids);
    let time_raw = ctx.get(rec, Field::OrderedAt);
    let parsed = memo.time(&time_raw, ctx);
    let when = when_hash(&parsed, &time_raw);
    let method = ctx.col(Field::PaymentMethod).and_then(|i| {
        let trimmed = rec.get(i).unwrap_or_default().trim_ascii();
        (!trimmed.is_empty()).then(|| memo.method(trimmed, opts))
    });
    let card = match method {
        Some(c) => c == MethodClass::Card,
        None => !ctx.get(rec, Field::CardNumber).trim().is_empty(),
    };
    let excluded = card
        && !opts.exclude_statuses.is_empty()
        && ctx.col(Field::Status).is_some_and(|i| {
            let raw = rec.get(i).unwrap_or_default().trim_ascii();
            memo.excluded(raw, ctx, opts)
        });
    let draft = match parsed {
        Ok(at) if card && !excluded && opts.fetch.is_none() && kept_at(at, opts) => {
            Some(Box::new(draft(
                rec,
                line,
                file_idx,
                ctx,
                opts,
                &order_id,
                at,
                EntryKind::Order,
            )))
        }
        _ => None,
    };
    Prepared {
        header_again,
        cards_in_text,
        key,
        email,
        login,
        parsed,
        when,
        method,
        card,
        excluded,
        draft,
    }
}

/// Whether a card order at `at` is kept: inside the window, or (when payments are joined by
/// e-mail, amount and time) near it, where a payment inside the window may belong to it.
pub(super) fn kept_at(at: Timestamp, opts: &IngestOptions) -> bool {
    in_window(at, opts) || near_window(at, opts)
}

pub(super) fn in_window(at: Timestamp, opts: &IngestOptions) -> bool {
    opts.window.contains(at)
}

/// Outside the window but within the margin of it.
pub(super) fn near_window(at: Timestamp, opts: &IngestOptions) -> bool {
    !in_window(at, opts)
        && opts.margin.is_some_and(|m| {
            let w = opts.window;
            at >= w.start.checked_sub(m).unwrap_or(w.start)
                && at < w.end.checked_add(m).unwrap_or(w.end)
        })
}

/// Card-like numbers in the columns the tool does not treat as card columns, per column. The
/// columns between two skipped ones are tested as one stretch first: the pre-check has no
/// false negative for any slice of what it tests, and finds nothing in almost every row.
fn cards_in_text(rec: &csv::ByteRecord, ctx: &RowContext) -> Vec<(usize, u64)> {
    let mut found = Vec::new();
    for &(first, last) in &ctx.text_spans {
        let (Some(a), Some(b)) = (rec.range(first), rec.range(last)) else {
            continue;
        };
        if !crate::cards::may_hold_card(&rec.as_slice()[a.start..b.end]) {
            continue;
        }
        for i in first..=last {
            let n = crate::cards::detect::count(rec.get(i).unwrap_or_default()) as u64;
            if n > 0 {
                found.push((i, n));
            }
        }
    }
    found
}

/// The record's order id as written (trimmed), else its fallback column's, else `file:line`
/// (a record without one is an order of its own).
pub(super) fn order_id<'r>(rec: &'r csv::ByteRecord, line: u64, ctx: &RowContext) -> Cow<'r, str> {
    let mut order_id = ctx.get(rec, Field::OrderId);
    if order_id.trim().is_empty() {
        order_id = ctx.get(rec, Field::OrderIdFallback);
    }
    if order_id.trim().is_empty() {
        Cow::Owned(format!("{}:{line}", ctx.input.display))
    } else {
        match order_id {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
        }
    }
}

/// [`draft`] with the record's own order id.
pub(super) fn draft_of(
    rec: &csv::ByteRecord,
    line: u64,
    file_idx: usize,
    ctx: &RowContext,
    opts: &IngestOptions,
    at: Timestamp,
    kind: EntryKind,
) -> Draft {
    let id = order_id(rec, line, ctx);
    draft(rec, line, file_idx, ctx, opts, &id, at, kind)
}

/// The kept form of one order record, its repeated texts not yet interned.
#[allow(clippy::too_many_arguments)]
pub(super) fn draft(
    rec: &csv::ByteRecord,
    line: u64,
    file_idx: usize,
    ctx: &RowContext,
    opts: &IngestOptions,
    order_id: &str,
    at: Timestamp,
    kind: EntryKind,
) -> Draft {
    let layout = &ctx.layout;
    let card_raw = ctx.get(rec, Field::CardNumber);
    let card = card_info(&card_raw, &ctx.get(rec, Field::CardBrand), opts.key);
    let email = text::normalize_email(&clean(ctx.get(rec, Field::Email)));
    let login = text::normalize_login(&clean(ctx.get(rec, Field::LoginId)), &ctx.guest_ids);
    let name = match ctx.col(Field::Name) {
        Some(_) => clean(ctx.get(rec, Field::Name).trim()),
        None => {
            let fam = clean(ctx.get(rec, Field::FamilyName).trim());
            let giv = clean(ctx.get(rec, Field::GivenName).trim());
            let parts: Vec<&str> = match layout.name_order {
                NameOrder::FamilyFirst => vec![&fam, &giv],
                NameOrder::GivenFirst => vec![&giv, &fam],
            };
            parts
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let mut region = clean(ctx.get(rec, Field::Region).trim());
    if let Ok(code) = region.parse::<usize>() {
        if layout.preset.is_some_and(|p| p.country == Some("JP")) && (1..=47).contains(&code) {
            region = super::layout::PREFECTURES[code - 1].to_string();
        }
    }
    let country = {
        let c = clean(ctx.get(rec, Field::Country).trim());
        if c.is_empty() {
            ctx.country.clone()
        } else {
            c
        }
    };
    let currency = {
        let c = clean(ctx.get(rec, Field::Currency).trim());
        if c.is_empty() {
            ctx.currency.clone()
        } else {
            c.to_ascii_uppercase()
        }
    };
    let locale = {
        let l = text::nfkc_lower(ctx.get(rec, Field::Locale).trim());
        l.split(['-', '_']).next().unwrap_or("").to_string()
    };
    let status = clean(ctx.status_name(ctx.get(rec, Field::Status).trim()));
    let phone = [Field::Phone, Field::Phone2, Field::Phone3]
        .iter()
        .map(|&f| clean(ctx.get(rec, f).trim()))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let phone = Some(phone).filter(|s| !s.is_empty());
    let session = Some(clean(ctx.get(rec, Field::Session).trim())).filter(|s| !s.is_empty());
    let order_id = clean(order_id);
    let amount = clean(ctx.get(rec, Field::Amount).trim());
    let record = OrderRecord::new(
        kind,
        file_idx as u32,
        line,
        at,
        FacetsId::PENDING,
        &TextsOf {
            order_id: &order_id,
            entry_ref: "",
            session: session.as_deref(),
            amount: &amount,
            email: email.as_deref(),
            login: login.as_deref(),
            name: &name,
            phone: phone.as_deref(),
        },
        card.as_ref(),
    );
    Draft {
        record,
        status,
        currency,
        region,
        country,
        locale,
    }
}
