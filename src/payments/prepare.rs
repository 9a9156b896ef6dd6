//! What a charge row's class depends on that the row alone decides, worked out for a block of
//! rows on every core at once ([`prepare_block`]): its instant, whether it holds card data, its
//! order reference, the card numbers in its other columns and, for a charge inside the window
//! (kept whatever it joins), its card with the keyed fingerprint.
//!
//! What depends on the rows before it and on the orders (the join, a charge id seen before,
//! the entries the charge adds) is decided afterwards, one row at a time in file order, by
//! [`super::PaymentFile`]: so the classes, the counts and every output are the same whatever
//! the number of cores and however the blocks are cut. Read on one core, 600,846 charges took
//! as long as 1,000,000 orders (about 1 s on the benchmark's data); prepared a block ahead on
//! the pool, about 0.65 s.

use super::layout::{PField, PLayout};
use super::{Candidate, JoinRules, OrderIndex};
use crate::cards::{Brand, FingerprintKey};
use crate::input::csv::Cut;
use crate::orders::{CardCheck, CardInfo, OrderIds};
use crate::timestamp::{self, TimeFormat, TsError};
use crate::window::Window;
use jiff::Timestamp;
use rayon::prelude::*;
use regex::Regex;
use std::borrow::Cow;

/// Rows per task: as for the orders ([`crate::orders`]'s blocks), small enough for both cores
/// to share a block of the reader's.
const CHUNK: usize = 256;

/// What a row needs of its file: its columns, how its times are written, and what decides
/// which charges are kept. Shared by the cores preparing a block and the one classifying the
/// block before it.
pub(super) struct RowContext<'a> {
    /// The file's columns; its width is the header's (a record of another is rejected as it
    /// is).
    pub layout: PLayout,
    pub fmt: TimeFormat,
    /// The zone of the file's naive times.
    pub zone: Option<jiff::tz::TimeZone>,
    pub window: &'a Window,
    pub rules: &'a JoinRules,
    pub key: &'a FingerprintKey,
    /// The orders the charges are joined to, looked up here: they do not change while a
    /// payments file is read, and each look-up misses the cache (1,000,000 orders), which on
    /// every core at once costs a fraction of what it did one row after another.
    pub index: &'a OrderIndex,
    /// Every order id read, in any class (lent by the ingest while the payments are read).
    pub ids: &'a OrderIds,
}

/// What [`prepare`] worked out for one row.
pub(super) struct Prepared {
    /// The charge time, read in the file's zone.
    pub at: Result<Timestamp, TsError>,
    /// The row has a card brand, last 4 or fingerprint (else it is another payment source).
    pub has_card: bool,
    /// The order reference ([`order_ref`]).
    pub order_ref: Option<String>,
    /// What the order reference names among the orders.
    pub by_ref: ByRef,
    /// Card numbers found in the columns that are not card columns: column and count. Empty
    /// for almost every row.
    pub cards_in_text: Vec<(usize, u64)>,
    /// The row's card ([`card`]), for a charge inside the window; `None` otherwise (worked
    /// out when a join keeps the charge all the same).
    pub card: Option<RowCard>,
}

/// What a charge's order reference names among the orders read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ByRef {
    /// No reference, a reference to no order read, or to several kept orders (joined by
    /// none of them).
    Nothing,
    /// Exactly one order kept (inside the window, or near it for the e-mail join).
    One(Candidate),
    /// An order read but not kept (outside the window): fetched later when the charge is kept.
    Other,
}

/// A charge row's card, and whether its last-4 column held a whole card number (counted
/// where the card is used).
pub(super) struct RowCard {
    pub info: CardInfo,
    pub full_number_in_last4: bool,
}

/// [`prepare`] for every record of a block, on every core, into `out` (whose room is reused
/// from block to block); `None` for a line cut off a runaway quote and for a record of another
/// width than the header's (rejected as they are).
pub(super) fn prepare_block(
    recs: &[csv::ByteRecord],
    cuts: &[Option<Cut>],
    ctx: &RowContext,
    out: &mut Vec<Option<Prepared>>,
) {
    out.clear();
    out.resize_with(recs.len(), || None);
    out.par_chunks_mut(CHUNK)
        .zip(recs.par_chunks(CHUNK))
        .zip(cuts.par_chunks(CHUNK))
        .for_each(|((out, recs), cuts)| {
            for ((slot, rec), cut) in out.iter_mut().zip(recs).zip(cuts) {
                if cut.is_none() && rec.len() == ctx.layout.width {
                    *slot = Some(prepare(rec, ctx));
                }
            }
            join_refs(out, ctx);
        });
}

/// Sets [`Prepared::by_ref`] of the rows of a task. Every look-up misses the cache (the
/// orders' tables are tens of MB); made for all the rows, one table after another, before
/// they are used, the misses of different rows overlap instead of following one another
/// (600,846 charges against 1,000,000 orders: the look-ups' share of the CPU samples while
/// the charges are read went from 26 % to 15 %).
fn join_refs(rows: &mut [Option<Prepared>], ctx: &RowContext) {
    let refs = || rows.iter().filter_map(|p| p.as_ref()?.order_ref.as_deref());
    for r in refs() {
        std::hint::black_box(ctx.index.by_id.get(&super::h(r.trim())));
    }
    for r in refs() {
        std::hint::black_box(ctx.ids.contains(r));
    }
    for p in rows.iter_mut().flatten() {
        let Some(r) = &p.order_ref else { continue };
        p.by_ref = match ctx.index.by_ref(r) {
            [one] => ByRef::One(*one),
            [] if ctx.ids.contains(r) => ByRef::Other,
            _ => ByRef::Nothing,
        };
    }
}

/// What the row alone decides (see the module's documentation).
fn prepare(rec: &csv::ByteRecord, ctx: &RowContext) -> Prepared {
    let layout = &ctx.layout;
    let at = timestamp::parse(
        &get(layout, rec, PField::CreatedAt),
        &ctx.fmt,
        ctx.zone.as_ref(),
    );
    let has_card = [PField::CardBrand, PField::Last4, PField::Fingerprint]
        .iter()
        .any(|f| !get(layout, rec, *f).trim().is_empty());
    let in_window = at.as_ref().is_ok_and(|t| ctx.window.contains(*t));
    let order_ref = if has_card {
        order_ref(layout, ctx.rules, rec)
    } else {
        None
    };
    Prepared {
        has_card,
        order_ref,
        by_ref: ByRef::Nothing,
        cards_in_text: cards_in_text(layout, rec),
        card: if has_card && in_window {
            card(layout, ctx.key, rec)
        } else {
            None
        },
        at,
    }
}

/// The text of column `f` of a row ("" when the layout has no such column).
pub(super) fn get<'r>(layout: &PLayout, rec: &'r csv::ByteRecord, f: PField) -> Cow<'r, str> {
    match layout.col(f).and_then(|i| rec.get(i)) {
        Some(b) => String::from_utf8_lossy(b),
        None => Cow::Borrowed(""),
    }
}

/// Counts the card numbers in the columns of a row that are not card columns (a
/// `Description`, a metadata field, a name), per column: they are masked wherever they could be
/// written, and the summary says where they were.
fn cards_in_text(layout: &PLayout, rec: &csv::ByteRecord) -> Vec<(usize, u64)> {
    let skip = [layout.col(PField::Last4), layout.col(PField::Fingerprint)];
    let mut found = Vec::new();
    for (i, f) in rec.iter().enumerate() {
        if skip.contains(&Some(i)) || layout.security_code_cols.contains(&i) {
            continue;
        }
        let n = crate::cards::detect::count(f);
        if n > 0 {
            found.push((i, n as u64));
        }
    }
    found
}

/// The card of a charge row, or `None` when the row holds no card data.
pub(super) fn card(
    layout: &PLayout,
    key: &FingerprintKey,
    rec: &csv::ByteRecord,
) -> Option<RowCard> {
    let brand_raw = get(layout, rec, PField::CardBrand);
    let last4_raw = get(layout, rec, PField::Last4);
    let fp_raw = get(layout, rec, PField::Fingerprint);
    let (brand_raw, last4_raw, fp_raw) = (brand_raw.trim(), last4_raw.trim(), fp_raw.trim());
    if brand_raw.is_empty() && last4_raw.is_empty() && fp_raw.is_empty() {
        return None;
    }
    // Keep the last 4 as text (leading zeros matter); a column holding a whole number (some
    // gateways write the masked or even the full PAN) gives its last 4 digits. A cell's digits
    // are read in any script (`４２４２`), as a card cell's are.
    let digits_of = |s: &str| -> String {
        crate::cards::detect::ascii_digits(s)
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    };
    let digits = digits_of(last4_raw);
    let full_number_in_last4 = digits.len() >= 13 && crate::cards::luhn_valid(digits.as_bytes());
    let last4 = if digits.len() >= 4 {
        &digits[digits.len() - 4..]
    } else {
        ""
    };
    let mut brand = Brand::from_name(brand_raw).unwrap_or(Brand::Unknown);
    if brand == Brand::Unknown && digits.len() >= 13 {
        brand = Brand::from_iin(&digits);
    }
    // Re-keyed: the gateway's fingerprint is never written as it is.
    let fingerprint = (!fp_raw.is_empty()).then(|| key.mac("gateway-card", fp_raw.as_bytes()));
    let masked = if last4.is_empty() {
        String::new()
    } else {
        format!("************{last4}")
    };
    let month = digits_of(&get(layout, rec, PField::ExpiryMonth));
    let year = digits_of(&get(layout, rec, PField::ExpiryYear));
    let expiry = match (month.parse::<u8>(), year.len()) {
        (Ok(m @ 1..=12), 4) => Some(format!("{m:02}/{year}").into_boxed_str()),
        (Ok(m @ 1..=12), 2) => Some(format!("{m:02}/20{year}").into_boxed_str()),
        _ => None,
    };
    Some(RowCard {
        info: CardInfo {
            brand,
            masked: masked.into_boxed_str(),
            fingerprint,
            check: CardCheck::Gateway,
            expiry,
        },
        full_number_in_last4,
    })
}

/// The order reference of a charge row, when it has one: the reference column (through
/// `[payments.join] order_ref_regex` when set), else, in a Stripe export, the `Order #…` of
/// its description.
fn order_ref(layout: &PLayout, rules: &JoinRules, rec: &csv::ByteRecord) -> Option<String> {
    let raw = get(layout, rec, PField::OrderRef);
    let value = raw.trim();
    if value.is_empty() {
        if layout.preset != "stripe" {
            return None;
        }
        let d = get(layout, rec, PField::Description);
        static DEFAULT: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let re = DEFAULT.get_or_init(|| {
            Regex::new(r"(?i)\border\s*(?:no\.?|number)?\s*#?\s*([A-Za-z0-9][A-Za-z0-9_-]*)")
                .expect("valid")
        });
        return re
            .captures(&d)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string());
    }
    match &rules.ref_regex {
        Some(re) => re.captures(value).map(|c| {
            c.get(1)
                .or_else(|| c.get(0))
                .expect("match")
                .as_str()
                .to_string()
        }),
        None => Some(value.to_string()),
    }
}
