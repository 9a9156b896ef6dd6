//! The joins `affected` makes beyond the orders: the orders that in-window charges name
//! (fetched from the exports once more), and the checkout submissions of the access logs tied
//! to orders by login or session.

use crate::config::Config;
use crate::error::Result;
use crate::orders::{EntryKind, Ingest, IngestOptions, InputFile, OrderRecord, TextsOf, NO_FILE};
use crate::payments::Payments;
use crate::progress::Progress;
use crate::window::Window;
use foldhash::HashSet;

/// Charges inside the window that name an order outside it (not kept while the orders were
/// read): read the order exports once more for just those orders, so the person is known.
pub(super) fn fetch_orders_of_charges(
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
        .map(|o| (o.order_id().to_string(), o))
        .collect();
    for c in p.charges.iter_mut().filter(|c| c.entry.is_none()) {
        let Some(o) = c.order_id.as_deref().and_then(|id| found.get(id.trim())) else {
            continue;
        };
        let idx = ingest.orders.len() as u32;
        let f = lookup.strings.facets(o.facets);
        let get = |s| lookup.strings.get(s);
        let facets = ingest.strings.intern_facets(
            &c.status,
            get(f.currency),
            get(f.region),
            get(f.country),
            get(f.locale),
        );
        // The order's own texts, under the charge's reference; its session is not carried.
        let entry = OrderRecord::new(
            EntryKind::PaymentForOrder,
            NO_FILE,
            c.line,
            c.at,
            facets,
            &TextsOf {
                entry_ref: &c.charge_id,
                session: None,
                ..o.texts()
            },
            None,
        );
        ingest.orders.push(entry);
        p.attached
            .gateway_cards
            .entry(idx)
            .or_default()
            .push(c.card.clone());
        c.entry = Some(idx);
    }
    Ok(())
}

/// What `affected --logs` found: checkout submissions inside the window, and those no order
/// matches (a person who typed a card into the skimmed page without completing an order).
pub(super) struct CheckoutJoin {
    pub(super) sources: Vec<String>,
    pub(super) in_window: usize,
    pub(super) tied: usize,
    /// Submissions without a user or session value to tie them by.
    pub(super) untied: usize,
    /// Whether the logs and the orders share a field at all.
    pub(super) tie_possible: bool,
    pub(super) without: Vec<(crate::evidence::scan::Checkout, &'static str)>,
}

/// Ties the checkout submissions of the access logs to the in-window orders by login id
/// (`%u`, `$remote_user`, a custom variable) or session (`%{NAME}C`, `$cookie_NAME`) and adds
/// those with no order to the affected entries (`reason = "checkout_without_order"`).
pub(super) fn join_checkouts(
    cfg: &Config,
    window: &Window,
    logs: &[String],
    ui: &dyn Progress,
    ingest: &mut Ingest,
) -> Result<CheckoutJoin> {
    let (checkouts, sources) = crate::evidence::checkouts_in_window(cfg, window, logs, ui)?;
    let has_col = |k: &str| ingest.files.iter().any(|f| f.columns.contains_key(k));
    let (by_login, by_session) = (has_col("login_id"), has_col("session"));
    let mut logins: HashSet<&str> = HashSet::default();
    let mut sessions: HashSet<&str> = HashSet::default();
    for o in ingest.orders.iter().filter(|o| o.kind == EntryKind::Order) {
        if let Some(l) = o.login() {
            logins.insert(l);
        }
        if let Some(s) = o.session() {
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
        let facets = ingest.strings.intern_facets("", "", "", "", "");
        ingest.orders.push(OrderRecord::new(
            EntryKind::Checkout,
            NO_FILE,
            0,
            at,
            facets,
            &TextsOf {
                entry_ref: &source,
                login: login.as_deref(),
                ..TextsOf::default()
            },
            None,
        ));
    }
    Ok(join)
}
