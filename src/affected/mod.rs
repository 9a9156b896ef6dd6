//! The `affected` stage: order exports in, deduplicated affected customers out.
//!
//! In order: the case's inputs ([`inputs`]) → read every order file, classifying each record
//! ([`crate::orders`]) → the payment exports joined to the orders, and the orders those charges
//! name fetched ([`join`]) → checkout submissions of the logs tied to orders ([`join`]) → the
//! in-window card orders linked into customers ([`crate::customers`]) → affected.csv,
//! affected.jsonl, orders.csv, payments.csv, checkouts_without_order.csv ([`mod@write`]) → the
//! counts reconciled and summary.json ([`summary`]) → one line of counts, then warnings.

pub mod inputs;
pub mod join;
pub mod summary;
#[cfg(test)]
mod tests;
pub mod write;

pub use write::AFFECTED_CSV_HEADER;

use crate::case::Case;
use crate::customers;
use crate::error::Result;
use crate::orders::{methods::MethodRules, Ingest, IngestOptions};
use crate::output::{self, CsvOut};
use crate::payments::{self, JoinRules, PaymentsConfig};
use crate::progress::Progress;
use serde_json::json;
use std::path::PathBuf;

/// What stops the `affected` stage itself (the crate's [`crate::Error`] wraps it). A bad row
/// never stops it: it is rejected with its file, line and reason, and counted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No order export to read.
    #[error("no order exports: pass --orders FILE... or set [orders] paths in the config")]
    NoOrders,
    /// The row counts do not add up (never expected): nothing is written as if fine.
    #[error("internal check failed: row counts do not reconcile: {totals}; please report this")]
    Unreconciled { totals: String },
    /// A writer thread panicked (never expected).
    #[error("internal check failed: the {output} writer panicked")]
    WriterPanicked { output: &'static str },
}

impl Error {
    /// Exit code: no inputs is the user's to fix (2); a broken invariant is 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoOrders => 2,
            Error::Unreconciled { .. } | Error::WriterPanicked { .. } => 1,
        }
    }
}

/// What `affected` is asked to do beyond the case: each field is a command-line option and wins
/// over the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Order exports (files, globs, folders, relative to the current folder); replace
    /// `[orders] paths`.
    pub orders: Vec<String>,
    /// The export layout for every order file (`auto`, `ec-cube4`, …).
    pub preset: Option<String>,
    /// The encoding of every order file.
    pub encoding: Option<String>,
    /// Payment exports; replace `[payments] paths`.
    pub payments: Vec<String>,
    /// The payment export layout (`auto`, `stripe`, `generic`).
    pub payments_preset: Option<String>,
    /// Access logs whose checkout submissions are tied to orders; replace `[logs] paths`.
    pub logs: Vec<String>,
    /// Tie checkouts using `[logs] paths` (when `logs` is empty).
    pub with_logs: bool,
    /// Write into an output folder that is not empty.
    pub force: bool,
}

/// What a finished `affected` run produced (for `run` and the report).
#[derive(Debug)]
pub struct Output {
    pub out: PathBuf,
    pub customers: usize,
    pub warnings: Vec<String>,
    /// The order and payment exports read, for the manifest.
    pub inputs: Vec<crate::manifest::Input>,
}

/// Reads the case's order (and payment) exports, links the in-window card orders into
/// customers and writes affected.csv, affected.jsonl, orders.csv, rejected.csv (and
/// payments.csv, payments_unmatched.csv, checkouts_without_order.csv when those inputs are
/// given) and the affected keys of summary.json.
pub fn run(case: &Case, args: &Options, ui: &dyn Progress) -> Result<Output> {
    let _no_huge_pages = crate::allocator::NoHugePages::new();
    let cfg = &case.config;
    let window = case.window()?.clone();
    // What the inputs' folders hold that is not read, for the warnings.
    let mut passed_over = Vec::new();
    let inputs = inputs::order_inputs(args, cfg, &mut passed_over)?;
    let key = case.key()?;
    let methods = MethodRules::new(&cfg.orders.card_methods, &cfg.orders.not_card_methods)
        .map_err(|m| cfg.error(format!("[orders] {m}")))?;
    let pay_cfg: PaymentsConfig = cfg.payments();
    let pay_inputs = inputs::payment_inputs(args, cfg, &pay_cfg, &mut passed_over)?;
    let rules = JoinRules::new(&pay_cfg.join).map_err(|m| cfg.error(m))?;
    let out = case.out.clone();
    output::prepare_dir(&out, args.force)?;

    let total_bytes: u64 = inputs
        .iter()
        .chain(&pay_inputs)
        .map(|i| std::fs::metadata(&i.path).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = ui.bytes_bar(total_bytes, "orders");
    let opts = IngestOptions {
        window: &window,
        methods: &methods,
        exclude_statuses: cfg
            .orders
            .exclude_statuses
            .iter()
            .map(|s| crate::text::nfkc_lower(s.trim()))
            .collect(),
        key: &key,
        default_country: cfg.incident.default_country.clone(),
        progress: bar.as_ref(),
        margin: if pay_inputs.is_empty() {
            None
        } else {
            rules.margin()
        },
        fetch: None,
    };

    let t0 = std::time::Instant::now();
    let mut rejected = CsvOut::create(&out.join("rejected.csv"), &["source", "reason", "record"])?;
    let mut ingest = Ingest::new();
    // The joins below look orders up in the index and in the kept orders at once; without
    // them, the kept orders wait on disk until the index is dropped (see `orders::spill`).
    let joins = !pay_inputs.is_empty() || !args.logs.is_empty() || args.with_logs;
    if !joins {
        ingest.spill_kept_to(&out)?;
    }
    for input in &inputs {
        tracing::info!(file = %input.display, "reading orders");
        ingest.read_file(input, &opts, &mut rejected)?;
    }
    ingest.finish_methods();
    tracing::info!(elapsed = ?t0.elapsed(), "order files read");
    let payments = if pay_inputs.is_empty() {
        None
    } else {
        let mut p = payments::read(
            &pay_inputs,
            &mut ingest,
            &window,
            &rules,
            &key,
            bar.as_ref(),
            &mut rejected,
        )?;
        tracing::info!(elapsed = ?t0.elapsed(), charges = p.charges.len(), "payments joined");
        join::fetch_orders_of_charges(&mut ingest, &mut p, &inputs, &opts)?;
        tracing::info!(elapsed = ?t0.elapsed(), "orders of charges fetched");
        for c in &p.charges {
            if let Some(e) = c.entry {
                // Room for one id: almost every entry has one charge.
                p.attached
                    .entry_charges
                    .entry(e)
                    .or_insert_with(|| Vec::with_capacity(1))
                    .push(c.charge_id.clone());
            }
        }
        Some(p)
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let checkouts = if args.logs.is_empty() && !args.with_logs {
        None
    } else {
        Some(join::join_checkouts(
            cfg,
            &window,
            &args.logs,
            ui,
            &mut ingest,
        )?)
    };

    ingest.forget_index();
    ingest.load_kept()?;
    tracing::info!(elapsed = ?t0.elapsed(), orders = ingest.orders.len(), "orders read");
    let no_payments = payments::Attached::default();
    let attached = payments.as_ref().map_or(&no_payments, |p| &p.attached);
    let groups = customers::group(&ingest, attached, &key);
    tracing::info!(elapsed = ?t0.elapsed(), customers = groups.len(), "customers linked");
    let default_locale = cfg.incident.default_locale.clone().unwrap_or_default();
    // The two writers only read the orders and the groups: run them side by side. They build
    // and free a customer's record after another, below the peak of the reading: freed memory
    // is kept for reuse meanwhile.
    let keep = crate::allocator::KeepFreedMemory::new();
    let (stats, orders_written) = std::thread::scope(|s| {
        let orders = s.spawn(|| write::write_orders(&out, &ingest, attached, &groups, &window));
        let stats =
            write::write_affected(&out, &ingest, attached, &groups, &window, &default_locale);
        let orders = orders.join().unwrap_or_else(|_| {
            Err(Error::WriterPanicked {
                output: "orders.csv",
            }
            .into())
        });
        (stats, orders)
    });
    drop(keep);
    let stats = stats?;
    orders_written?;
    tracing::info!(elapsed = ?t0.elapsed(), "affected and orders written");
    if let Some(p) = &payments {
        write::write_payments(&out, p, &groups, &window)?;
    }
    if let Some(c) = &checkouts {
        write::write_checkouts(&out, c, &window)?;
    }
    rejected.commit()?;
    let (mut summary, mut warnings) =
        summary::summary(cfg, &window, &key, &ingest, &groups, &stats)?;
    warnings.splice(0..0, passed_over);
    if let Some(p) = &payments {
        summary::payments_summary(&mut summary, &mut warnings, p, &ingest);
    }
    if let Some(c) = &checkouts {
        if !c.tie_possible {
            warnings.push("checkout submissions in the logs cannot be tied to orders: the logs carry no user or session field, or the order exports have no login_id or session column; nothing was added".into());
        }
        summary.checkouts = Some(json!({
            "logs": c.sources,
            "in_window": c.in_window,
            "tied_to_order": c.tied,
            "without_order": c.without.len(),
            "untied": c.untied,
        }));
    }
    // The warnings of every part, once they are all known.
    summary.warnings = Some(warnings.clone());
    crate::summary::merge_write_typed(&out, &summary)?;

    summary::report_to_user(ui, &out, &ingest, &stats, &warnings);
    let read = |i: &crate::orders::InputFile, role| crate::manifest::Input {
        path: i.path.clone(),
        shown: i.display.clone(),
        role,
    };
    Ok(Output {
        out,
        customers: groups.len(),
        warnings,
        inputs: (inputs.iter().map(|i| read(i, "orders")))
            .chain(pay_inputs.iter().map(|i| read(i, "payments")))
            .collect(),
    })
}
