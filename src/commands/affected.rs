//! `skimtrace affected`: order exports in, deduplicated affected customers out.
//!
//! Stages, in order: load the case → open the rejects file → read every order file (classify
//! each record) → link in-window card orders into customers → write affected.csv,
//! affected.jsonl, orders.csv → reconcile and write summary.json → tell the user.

use super::common::{self, Ui};
use crate::cards::FingerprintKey;
use crate::cli::AffectedArgs;
use crate::config::{Config, InputSettings};
use crate::customers::{self, Contact, Groups};
use crate::error::{Error, Result};
use crate::orders::{methods::MethodRules, CardInfo, EntryKind, Ingest, IngestOptions, InputFile};
use crate::output::{self, CsvOut};
use crate::payments::{self, JoinRules, Payments, PaymentsConfig};
use crate::window::Window;
use foldhash::HashSet;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What a finished `affected` run produced (for `run` and the report).
pub struct Outcome {
    pub out: PathBuf,
    pub customers: usize,
    pub warnings: Vec<String>,
}

pub const AFFECTED_CSV_HEADER: [&str; 14] = [
    "customer_id",
    "name",
    "email",
    "emails",
    "login_ids",
    "locale",
    "region",
    "country",
    "cards",
    "order_ids",
    "order_count",
    "first_order_at",
    "last_order_at",
    "contact",
];

pub fn run(args: &AffectedArgs, ui: &Ui) -> Result<Outcome> {
    let case = common::open_case(&args.case, args.key_file.as_deref())?;
    let cfg = &case.config;
    let window = case.window()?.clone();
    let inputs = order_inputs(args, cfg)?;
    let key = case.key()?;
    let methods = MethodRules::new(&cfg.orders.card_methods, &cfg.orders.not_card_methods)
        .map_err(|m| cfg.error(format!("[orders] {m}")))?;
    let pay_cfg: PaymentsConfig = cfg.payments();
    let pay_inputs = payment_inputs(args, cfg, &pay_cfg)?;
    let rules = JoinRules::new(&pay_cfg.join).map_err(|m| cfg.error(m))?;
    let out = case.out.clone();
    output::prepare_dir(&out, args.case.force)?;

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
    for input in &inputs {
        tracing::info!(file = %input.display, "reading orders");
        ingest.read_file(input, &opts, &mut rejected)?;
    }
    ingest.finish_methods();
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
        fetch_orders_of_charges(&mut ingest, &mut p, &inputs, &opts)?;
        for c in &p.charges {
            if let Some(e) = c.entry {
                ingest
                    .entry_charges
                    .entry(e)
                    .or_default()
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
        Some(join_checkouts(cfg, &window, &args.logs, ui, &mut ingest)?)
    };

    tracing::info!(elapsed = ?t0.elapsed(), orders = ingest.orders.len(), "orders read");
    let groups = customers::group(&ingest, &key);
    tracing::info!(elapsed = ?t0.elapsed(), customers = groups.len(), "customers linked");
    let default_locale = cfg.incident.default_locale.clone().unwrap_or_default();
    // The two writers only read the orders and the groups: run them side by side.
    let (stats, orders_written) = std::thread::scope(|s| {
        let orders = s.spawn(|| write_orders(&out, &ingest, &groups, &window));
        let stats = write_affected(&out, &ingest, &groups, &window, &default_locale);
        let orders = orders
            .join()
            .unwrap_or_else(|_| Err(Error::Invariant("the orders.csv writer panicked".into())));
        (stats, orders)
    });
    let stats = stats?;
    orders_written?;
    tracing::info!(elapsed = ?t0.elapsed(), "affected and orders written");
    if let Some(p) = &payments {
        write_payments(&out, p, &groups, &window)?;
    }
    if let Some(c) = &checkouts {
        write_checkouts(&out, c, &window)?;
    }
    rejected.commit()?;
    let (mut summary, mut warnings) = summary(cfg, &window, &key, &ingest, &groups, &stats)?;
    if let Some(p) = &payments {
        payments_summary(&mut summary, &mut warnings, p, &ingest);
    }
    if let Some(c) = &checkouts {
        if !c.tie_possible {
            warnings.push("checkout submissions in the logs cannot be tied to orders: the logs carry no user or session field, or the order exports have no login_id or session column; nothing was added".into());
        }
        summary.insert(
            "checkouts".into(),
            json!({
                "logs": c.sources,
                "in_window": c.in_window,
                "tied_to_order": c.tied,
                "without_order": c.without.len(),
                "untied": c.untied,
            }),
        );
    }
    // The warnings of every part, once they are all known.
    summary.insert("warnings".into(), json!(warnings));
    crate::summary::merge_write(&out, summary)?;

    report_to_user(ui, &out, &ingest, &stats, &warnings);
    Ok(Outcome {
        out,
        customers: groups.len(),
        warnings,
    })
}

/// The files to read and their settings: `--orders` replaces the config's paths.
fn order_inputs(args: &AffectedArgs, cfg: &Config) -> Result<Vec<InputFile>> {
    let cli = InputSettings {
        preset: args.preset.clone(),
        encoding: args.encoding.clone(),
        ..InputSettings::default()
    };
    let inputs = collect_inputs(
        cfg,
        (&args.orders, "--orders"),
        (&cfg.orders.paths, "[orders] paths"),
        &cfg.orders.settings,
        (&cfg.orders.inputs, "[[orders.inputs]] paths"),
        &cli,
    )?;
    if inputs.is_empty() {
        return Err(Error::usage(
            "no order exports: pass --orders FILE... or set [orders] paths in the config",
        ));
    }
    Ok(inputs)
}

/// Input files and their settings, for orders and payments alike: the command line's paths
/// replace the config's; otherwise the section's `paths` with its settings, and each
/// `[[….inputs]]` entry with its own (overriding the section's for a file named twice). The
/// command line's settings win everywhere.
fn collect_inputs(
    cfg: &Config,
    (cli_paths, cli_what): (&[String], &str),
    (paths, paths_what): (&[String], &str),
    settings: &InputSettings,
    (extras, extras_what): (&[crate::config::OrderInputConfig], &str),
    cli: &InputSettings,
) -> Result<Vec<InputFile>> {
    let base = settings.overlaid(cli);
    let mut inputs: Vec<InputFile> = Vec::new();
    if !cli_paths.is_empty() {
        for (path, display) in crate::input::expand_inputs(cli_paths, Path::new("."), cli_what)? {
            inputs.push(InputFile {
                path,
                display,
                settings: base.clone(),
            });
        }
        return Ok(inputs);
    }
    for (path, display) in crate::input::expand_inputs(paths, &cfg.base_dir, paths_what)? {
        inputs.push(InputFile {
            path,
            display,
            settings: base.clone(),
        });
    }
    for extra in extras {
        let own = settings.overlaid(&extra.settings).overlaid(cli);
        for (path, display) in
            crate::input::expand_inputs(&extra.paths, &cfg.base_dir, extras_what)?
        {
            match inputs
                .iter_mut()
                .find(|i| crate::input::same_file(&i.path, &path))
            {
                Some(existing) => existing.settings = own.clone(),
                None => inputs.push(InputFile {
                    path,
                    display,
                    settings: own.clone(),
                }),
            }
        }
    }
    Ok(inputs)
}

fn join(v: &[String]) -> String {
    v.join("; ")
}

/// Figures gathered while the customers are written, for the summary.
#[derive(Default)]
struct Stats {
    customers: usize,
    without_contact: usize,
    login_only: usize,
    by_country: BTreeMap<String, u64>,
    by_region: BTreeMap<String, u64>,
    /// Brand → customers with a card of that brand.
    brand_customers: BTreeMap<String, u64>,
    /// Distinct cards, as customers list them: by keyed fingerprint across people; a card
    /// without one (masked only) can only be told apart within one person.
    cards: HashSet<String>,
    /// Brand → distinct cards.
    brand_cards: BTreeMap<String, u64>,
    cards_invalid: u64,
    cards_masked_only: u64,
}

/// Builds each customer in id order and writes it to affected.csv and affected.jsonl at once,
/// so customer records never pile up in memory.
fn write_affected(
    out: &Path,
    ingest: &Ingest,
    groups: &Groups,
    window: &Window,
    default_locale: &str,
) -> Result<Stats> {
    let mut csv = CsvOut::create(&out.join("affected.csv"), &AFFECTED_CSV_HEADER)?;
    let jsonl_path = out.join("affected.jsonl");
    let mut jsonl = output::AtomicFile::create(&jsonl_path)?;
    let mut stats = Stats::default();
    for ci in 0..groups.len() {
        let c = groups.customer(ci, ingest, window, default_locale);
        csv.row([
            c.customer_id.as_str(),
            c.name.as_str(),
            c.email.as_deref().unwrap_or_default(),
            &join(&c.emails),
            &join(&c.login_ids),
            &c.locale,
            &c.region,
            &c.country,
            &c.cards
                .iter()
                .map(|k| k.display.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            &join(&c.order_ids),
            &c.order_count.to_string(),
            &c.first_order_at,
            &c.last_order_at,
            c.contact.as_str(),
        ])?;
        output::json_line(&mut jsonl, &jsonl_path, &c)?;
        stats.customers += 1;
        match c.contact {
            Contact::None => stats.without_contact += 1,
            Contact::Login => stats.login_only += 1,
            Contact::Email => {}
        }
        let country = if c.country.is_empty() {
            "(unknown)".to_string()
        } else {
            c.country.clone()
        };
        let region = if c.region.is_empty() {
            "(unknown)"
        } else {
            &c.region
        };
        *stats
            .by_region
            .entry(format!("{country}/{region}"))
            .or_default() += 1;
        *stats.by_country.entry(country).or_default() += 1;
        let brands: BTreeSet<&str> = c
            .cards
            .iter()
            .filter(|k| k.check != "none" && k.check != "unreadable")
            .map(|k| k.brand.as_str())
            .collect();
        for b in brands {
            *stats.brand_customers.entry(b.to_string()).or_default() += 1;
        }
        for k in &c.cards {
            if k.check == "none" || k.check == "unreadable" {
                continue;
            }
            let id = match &k.fingerprint {
                Some(f) => format!("fp:{f}"),
                None => format!("{}:{}:{}", c.customer_id, k.brand, k.masked),
            };
            if stats.cards.insert(id) {
                *stats.brand_cards.entry(k.brand.clone()).or_default() += 1;
                match k.check.as_str() {
                    "invalid" => stats.cards_invalid += 1,
                    "masked" => stats.cards_masked_only += 1,
                    _ => {}
                }
            }
        }
    }
    csv.commit()?;
    jsonl.commit()?;
    Ok(stats)
}

fn write_orders(out: &Path, ingest: &Ingest, groups: &Groups, window: &Window) -> Result<()> {
    let mut idx: Vec<usize> = (0..ingest.orders.len())
        .filter(|&i| ingest.orders[i].kind == EntryKind::Order)
        .collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&ingest.orders[a], &ingest.orders[b]);
        (x.at, &x.order_id, x.file, x.line).cmp(&(y.at, &y.order_id, y.file, y.line))
    });
    let mut csv = CsvOut::create(
        &out.join("orders.csv"),
        &[
            "order_id",
            "customer_id",
            "ordered_at",
            "status",
            "amount",
            "currency",
            "card_brand",
            "card_masked",
            "card_fingerprint",
            "card_check",
            "card_source",
            "source",
        ],
    )?;
    for i in idx {
        let o = &ingest.orders[i];
        let customer_id = &groups.ids[groups.order_customer[i] as usize];
        // The order's own card, then the cards of its gateway charges (several when a declined
        // attempt was followed by another card): each column lists them in that order.
        let mut cards: Vec<(&CardInfo, &str)> = Vec::new();
        if let Some(k) = &o.card {
            cards.push((k, "order"));
        }
        for k in ingest.gateway_cards.get(&(i as u32)).into_iter().flatten() {
            cards.push((k, "gateway"));
        }
        let col = |f: &dyn Fn(&CardInfo, &str) -> String| -> String {
            let v: Vec<String> = cards.iter().map(|(k, src)| f(k, src)).collect();
            if v.iter().all(String::is_empty) {
                String::new()
            } else {
                v.join("; ")
            }
        };
        let brand = col(&|k, _| k.brand.label().to_string());
        let masked = col(&|k, _| k.masked.to_string());
        let fp = col(&|k, _| k.fingerprint_text().unwrap_or_default());
        let check = if cards.is_empty() {
            "none".to_string()
        } else {
            col(&|k, _| k.check.as_str().to_string())
        };
        let card_source = col(&|_, src| src.to_string());
        let s = &ingest.strings;
        csv.row([
            o.order_id.to_string(),
            customer_id.clone(),
            window.format(o.at),
            s.get(o.status).to_string(),
            o.amount.to_string(),
            s.get(o.currency).to_string(),
            brand,
            masked,
            fp,
            check,
            card_source,
            format!("{}:{}", ingest.files[o.file as usize].path, o.line),
        ])?;
    }
    csv.commit()
}

/// Builds the summary's keys (and the warnings to print) and checks the reconciliation.
fn summary(
    cfg: &Config,
    window: &Window,
    key: &FingerprintKey,
    ingest: &Ingest,
    groups: &Groups,
    stats: &Stats,
) -> Result<(Map<String, Value>, Vec<String>)> {
    let totals = ingest.totals();
    if !totals.reconciles() || ingest.files.iter().any(|f| !f.counts.reconciles()) {
        return Err(Error::Invariant(format!(
            "row counts do not reconcile: {totals:?}; please report this"
        )));
    }
    let shared = groups.card_people.values().filter(|&&n| n > 1).count();
    let by_brand: Map<String, Value> = stats
        .brand_cards
        .iter()
        .map(|(b, n)| {
            let people = stats.brand_customers.get(b).copied().unwrap_or(0);
            (b.clone(), json!({"cards": n, "customers": people}))
        })
        .collect();
    let (cards, invalid, masked_only) = (
        stats.cards.len(),
        stats.cards_invalid,
        stats.cards_masked_only,
    );
    let first = ingest.orders.iter().map(|o| o.at).min();
    let last = ingest.orders.iter().map(|o| o.at).max();
    let orders = ingest.order_counts();
    let excluded: u64 = ingest
        .files
        .iter()
        .map(|f| f.not_card_excluded_status)
        .sum();

    let mut warnings: Vec<String> = Vec::new();
    for f in &ingest.files {
        for w in &f.warnings {
            warnings.push(format!("{}: {w}", f.path));
        }
    }
    if key.source == crate::cards::KeySource::Random {
        warnings.push("no fingerprint key was given (SKIMTRACE_FINGERPRINT_KEY or [fingerprint] key_file): a random key was used, so card fingerprints and customer ids differ from run to run".into());
    }
    let unrecognised: BTreeMap<&String, u64> = ingest
        .methods
        .iter()
        .filter(|(_, t)| t.class == "unrecognised")
        .map(|(m, t)| (m, t.rows))
        .collect();
    if !unrecognised.is_empty() {
        warnings.push(format!(
            "payment methods counted as not card because no rule names them: {}; add them to [orders] card_methods or not_card_methods",
            unrecognised.iter().map(|(m, n)| format!("{m:?} ({n} rows)")).collect::<Vec<_>>().join(", ")
        ));
    }
    if cards == 0 {
        warnings.push("card details were not available: no input carried card numbers or last 4 digits (add the payment gateway's export)".into());
    }
    const WARNED: usize = 5;
    for c in ingest.collisions.iter().take(WARNED) {
        warnings.push(format!(
            "order id {:?} is used by two different orders ({} differ): {} and {}; both were kept and classified on their own",
            c.order_id,
            c.differs.join(", "),
            c.first,
            c.other
        ));
    }
    if ingest.collisions_total > WARNED as u64 {
        warnings.push(format!(
            "{} more order id(s) are used by different orders in different files (summary.json order_id_collisions)",
            ingest.collisions_total - WARNED as u64
        ));
    }
    if ingest.disagreements > 0 {
        warnings.push(format!(
            "{} later record(s) of an order disagree with its first record on e-mail or time; the first record was used",
            ingest.disagreements
        ));
    }

    let v = json!({
        "tool": format!("skimtrace {}", env!("CARGO_PKG_VERSION")),
        "incident": {
            "name": cfg.incident.name,
            "id": cfg.incident_id(),
            "company": cfg.incident.company,
            "exposed": cfg.incident.exposed,
        },
        "window": window.summary(),
        "timezone": window.tz_name,
        "rows_read": totals.rows_read,
        "in_window": totals.in_window,
        "out_of_window": totals.out_of_window,
        "not_card": totals.not_card,
        "rejected": totals.rejected,
        "reconciled": true,
        "not_card_excluded_status": excluded,
        "orders_in_window": orders.orders_in_window,
        "orders_out_of_window": orders.orders_out_of_window,
        "orders_not_card": orders.orders_not_card,
        "record_disagreements": ingest.disagreements,
        "order_id_collisions": ingest.collisions,
        "order_id_collisions_total": ingest.collisions_total,
        "customers_affected": stats.customers,
        "customers_without_contact": stats.without_contact,
        "customers_login_only": stats.login_only,
        "cards_affected": cards,
        "cards_shared": shared,
        "cards_invalid": invalid,
        "cards_masked_only": masked_only,
        "card_details_available": cards > 0,
        "first_affected_at": first.map(|t| window.format(t)),
        "last_affected_at": last.map(|t| window.format(t)),
        "by_brand": by_brand,
        "by_country": stats.by_country,
        "by_region": stats.by_region,
        "payment_methods": ingest.methods,
        "fingerprint_key": {"source": key.source, "id": key.key_id()},
        "files": ingest.files,
        "warnings": warnings,
    });
    let Value::Object(map) = v else {
        unreachable!("json! object")
    };
    Ok((map, warnings))
}

fn report_to_user(ui: &Ui, out: &Path, ingest: &Ingest, stats: &Stats, warnings: &[String]) {
    let t = ingest.totals();
    ui.say(format!(
        "skimtrace: {} rows read: {} in window, {} out of window, {} not card, {} rejected",
        t.rows_read, t.in_window, t.out_of_window, t.not_card, t.rejected
    ));
    ui.say(format!(
        "skimtrace: {} customers affected ({} without any contact), outputs in {}",
        stats.customers,
        stats.without_contact,
        out.display()
    ));
    for w in warnings {
        ui.warn(w);
    }
}

/// The payment exports to read: `--payments` replaces `[payments] paths`.
fn payment_inputs(
    args: &AffectedArgs,
    cfg: &Config,
    pay: &PaymentsConfig,
) -> Result<Vec<InputFile>> {
    let cli = InputSettings {
        preset: args.payments_preset.clone(),
        ..InputSettings::default()
    };
    collect_inputs(
        cfg,
        (&args.payments, "--payments"),
        (&pay.paths, "[payments] paths"),
        &pay.settings,
        (&pay.inputs, "[[payments.inputs]] paths"),
        &cli,
    )
}

/// Charges inside the window that name an order outside it (not kept while the orders were
/// read): read the order exports once more for just those orders, so the person is known.
fn fetch_orders_of_charges(
    ingest: &mut Ingest,
    p: &mut Payments,
    inputs: &[InputFile],
    opts: &IngestOptions,
) -> Result<()> {
    let wanted: foldhash::HashSet<u128> = p
        .charges
        .iter()
        .filter(|c| c.entry.is_none())
        .filter_map(|c| c.order_id.as_deref().map(crate::orders::order_key))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut lookup = Ingest::new();
    let fetch_opts = IngestOptions {
        window: opts.window,
        methods: opts.methods,
        exclude_statuses: Vec::new(),
        key: opts.key,
        default_country: opts.default_country.clone(),
        progress: None,
        margin: None,
        fetch: Some(&wanted),
    };
    let mut ignored: Vec<crate::orders::Rejected> = Vec::new();
    for input in inputs {
        lookup.read_file(input, &fetch_opts, &mut ignored)?;
    }
    let found: std::collections::HashMap<String, &crate::orders::OrderRecord> = lookup
        .fetched
        .iter()
        .map(|o| (o.order_id.to_string(), o))
        .collect();
    for c in p.charges.iter_mut().filter(|c| c.entry.is_none()) {
        let Some(o) = c.order_id.as_deref().and_then(|id| found.get(id.trim())) else {
            continue;
        };
        let idx = ingest.orders.len() as u32;
        ingest.orders.push(crate::orders::OrderRecord {
            kind: EntryKind::PaymentForOrder,
            order_id: o.order_id.clone(),
            entry_ref: c.charge_id.clone(),
            session: None,
            file: u32::MAX,
            line: c.line,
            at: c.at,
            status: ingest.strings.intern(&c.status),
            amount: o.amount.clone(),
            currency: ingest.strings.intern(lookup.strings.get(o.currency)),
            card: None,
            email: o.email.clone(),
            login: o.login.clone(),
            name: o.name.clone(),
            phone: o.phone.clone(),
            region: ingest.strings.intern(lookup.strings.get(o.region)),
            country: ingest.strings.intern(lookup.strings.get(o.country)),
            locale: ingest.strings.intern(lookup.strings.get(o.locale)),
        });
        ingest
            .gateway_cards
            .entry(idx)
            .or_default()
            .push(c.card.clone());
        c.entry = Some(idx);
    }
    Ok(())
}

/// payments.csv (one row per charge in the window or joined to an order in it) and
/// payments_unmatched.csv (charges that concern the window but joined no order).
fn write_payments(out: &Path, p: &Payments, groups: &Groups, window: &Window) -> Result<()> {
    let mut idx: Vec<usize> = (0..p.charges.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&p.charges[a], &p.charges[b]);
        (x.at, &x.charge_id, x.file, x.line).cmp(&(y.at, &y.charge_id, y.file, y.line))
    });
    let mut csv = CsvOut::create(
        &out.join("payments.csv"),
        &[
            "charge_id",
            "order_id",
            "match",
            "customer_id",
            "card_brand",
            "card_last4",
            "status",
            "created_at",
            "reason",
            "source",
        ],
    )?;
    for i in idx {
        let c = &p.charges[i];
        let customer = c
            .entry
            .map(|e| groups.ids[groups.order_customer[e as usize] as usize].clone())
            .unwrap_or_default();
        csv.row([
            c.charge_id.to_string(),
            c.order_id.as_deref().unwrap_or_default().to_string(),
            c.matched.as_str().to_string(),
            customer,
            c.card.brand.label().to_string(),
            c.card.last4().to_string(),
            c.status.to_string(),
            window.format(c.at),
            c.reason.to_string(),
            format!("{}:{}", p.files[c.file as usize].path, c.line),
        ])?;
    }
    csv.commit()?;
    let mut un = CsvOut::create(
        &out.join("payments_unmatched.csv"),
        &[
            "charge_id",
            "created_at",
            "amount",
            "currency",
            "reason",
            "candidates",
            "source",
        ],
    )?;
    let mut rows: Vec<&payments::Unmatched> = p.unmatched.iter().collect();
    rows.sort_by(|a, b| {
        (a.created_at, &a.charge_id, &a.source).cmp(&(b.created_at, &b.charge_id, &b.source))
    });
    for u in rows {
        un.row([
            u.charge_id.clone(),
            window.format(u.created_at),
            u.amount.clone(),
            u.currency.clone(),
            u.reason.to_string(),
            u.candidates.join("; "),
            u.source.clone(),
        ])?;
    }
    un.commit()
}

/// The payments part of the summary: per file counts (reconciled), totals, and the in-window
/// card orders that no charge joined (an export cut short, a second gateway…).
fn payments_summary(
    summary: &mut Map<String, Value>,
    warnings: &mut Vec<String>,
    p: &Payments,
    ingest: &Ingest,
) {
    let mut t = payments::PCounts::default();
    for f in &p.files {
        t.rows_read += f.counts.rows_read;
        t.matched += f.counts.matched;
        t.unmatched_in_window += f.counts.unmatched_in_window;
        t.out_of_window += f.counts.out_of_window;
        t.not_card += f.counts.not_card;
        t.rejected += f.counts.rejected;
        for w in &f.warnings {
            warnings.push(format!("{}: {w}", f.path));
        }
    }
    let in_window_orders = ingest
        .orders
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == EntryKind::Order);
    let without: u64 = in_window_orders
        .filter(|(i, _)| !p.orders_with_payment.contains(&(*i as u32)))
        .count() as u64;
    if without > 0 {
        warnings.push(format!(
            "{without} in-window card order(s) have no payment row (orders_without_payment): an export cut short, or a second gateway?"
        ));
    }
    let ambiguous: u64 = p.files.iter().map(|f| f.ambiguous).sum();
    if ambiguous > 0 {
        warnings.push(format!("{ambiguous} charge(s) fit more than one order and were joined to none (payments_unmatched.csv)"));
    }
    summary.insert(
        "payments".into(),
        json!({
            "files": p.files,
            "rows_read": t.rows_read,
            "matched": t.matched,
            "unmatched_in_window": t.unmatched_in_window,
            "out_of_window": t.out_of_window,
            "not_card": t.not_card,
            "rejected": t.rejected,
            "ambiguous": ambiguous,
            "reconciled": t.reconciles(),
            "charges_listed": p.charges.len(),
        }),
    );
    summary.insert("orders_without_payment".into(), json!(without));
}

/// What `affected --logs` found: checkout submissions inside the window, and those no order
/// matches (a person who typed a card into the skimmed page without completing an order).
struct CheckoutJoin {
    sources: Vec<String>,
    in_window: usize,
    tied: usize,
    /// Submissions without a user or session value to tie them by.
    untied: usize,
    /// Whether the logs and the orders share a field at all.
    tie_possible: bool,
    without: Vec<(crate::evidence::scan::Checkout, &'static str)>,
}

/// Ties the checkout submissions of the access logs to the in-window orders by login id
/// (`%u`, `$remote_user`, a custom variable) or session (`%{NAME}C`, `$cookie_NAME`) and adds
/// those with no order to the affected entries (`reason = "checkout_without_order"`).
fn join_checkouts(
    cfg: &Config,
    window: &Window,
    logs: &[String],
    ui: &Ui,
    ingest: &mut Ingest,
) -> Result<CheckoutJoin> {
    let (checkouts, sources) = crate::evidence::checkouts_in_window(cfg, window, logs, ui)?;
    let has_col = |k: &str| ingest.files.iter().any(|f| f.columns.contains_key(k));
    let (by_login, by_session) = (has_col("login_id"), has_col("session"));
    let mut logins: HashSet<&str> = HashSet::default();
    let mut sessions: HashSet<&str> = HashSet::default();
    for o in ingest.orders.iter().filter(|o| o.kind == EntryKind::Order) {
        if let Some(l) = o.login.as_deref() {
            logins.insert(l);
        }
        if let Some(s) = o.session.as_deref() {
            sessions.insert(s);
        }
    }
    let mut join = CheckoutJoin {
        sources,
        in_window: checkouts.len(),
        tied: 0,
        untied: 0,
        tie_possible: by_login || by_session,
        without: Vec::new(),
    };
    let mut adds = Vec::new();
    for c in checkouts {
        let user = c
            .user
            .as_deref()
            .and_then(|u| crate::text::normalize_login(u, &[]));
        let session = c
            .session
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let usable_user = user.as_deref().filter(|_| by_login);
        let usable_session = session.filter(|_| by_session);
        if usable_user.is_none() && usable_session.is_none() {
            join.untied += 1;
            continue;
        }
        let found = usable_user.is_some_and(|u| logins.contains(u))
            || usable_session.is_some_and(|s| sessions.contains(s));
        if found {
            join.tied += 1;
            continue;
        }
        let reason = if usable_user.is_some() {
            "no order with this login id"
        } else {
            "no order with this session"
        };
        adds.push((
            c.time,
            usable_user.map(str::to_string),
            format!("{}:{}", join.sources[c.file], c.line),
        ));
        join.without.push((c, reason));
    }
    for (at, login, source) in adds {
        let empty = ingest.strings.intern("");
        ingest.orders.push(crate::orders::OrderRecord {
            kind: EntryKind::Checkout,
            order_id: "".into(),
            entry_ref: source.into_boxed_str(),
            session: None,
            file: u32::MAX,
            line: 0,
            at,
            status: empty,
            amount: "".into(),
            currency: empty,
            card: None,
            email: None,
            login: login.map(String::into_boxed_str),
            name: "".into(),
            phone: None,
            region: empty,
            country: empty,
            locale: empty,
        });
    }
    Ok(join)
}

/// checkouts_without_order.csv: the checkout submissions inside the window that no order
/// matches, in time order.
fn write_checkouts(out: &Path, c: &CheckoutJoin, window: &Window) -> Result<()> {
    let mut csv = CsvOut::create(
        &out.join("checkouts_without_order.csv"),
        &[
            "time", "source", "ip", "user", "session", "target", "reason",
        ],
    )?;
    let mut rows: Vec<&(crate::evidence::scan::Checkout, &str)> = c.without.iter().collect();
    rows.sort_by_key(|r| (r.0.time, r.0.file, r.0.line));
    for (k, reason) in rows {
        csv.row([
            window.format(k.time),
            format!("{}:{}", c.sources[k.file], k.line),
            k.ip.clone().unwrap_or_default(),
            k.user.clone().unwrap_or_default(),
            k.session.clone().unwrap_or_default(),
            k.target.clone().unwrap_or_default(),
            reason.to_string(),
        ])?;
    }
    csv.commit()
}
