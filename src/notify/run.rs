//! The `notify` stage: read the case → read affected.jsonl → render and check every notice of
//! the campaign → stop (`check`), write the .eml files ([`super::stage`]), or send them
//! through the campaign's journal ([`super::select`], [`super::send`]) → counts.

use super::check::{self, Item, Plan, PlanOptions, Planned, Preparer};
use super::journal::{Journal, Status};
use super::lock::CaseLock;
use super::message::{self, Sender};
use super::render::{Case as NoticeCase, IncidentCtx, Templates};
use super::select::{select, SelectOptions};
use super::send::{self, SendOptions, Target};
use super::settings::{ContactConfig, NotifyConfig};
use super::{par, stage, Error as NotifyError, Layout};
use crate::case::Case;
use crate::error::{Error, Result};
use crate::output::CsvOut;
use crate::progress::Progress;
use std::path::PathBuf;
use std::sync::Mutex;

/// What `notify` is asked to do (each field a command-line option; see `notify --help`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The affected.jsonl to notify.
    pub affected: PathBuf,
    /// The campaign (`notice`, `preliminary`, `correction`, or a name of the templates').
    pub campaign: String,
    /// The notice's date (YYYY-MM-DD), over `[notify] date`.
    pub date: Option<String>,
    /// A template folder instead of the built-in templates.
    pub templates: Option<PathBuf>,
    /// Render and check only: nothing is written or sent.
    pub check: bool,
    /// Send through this SMTP URL instead of writing .eml files.
    pub send: Option<String>,
    /// `none` to send in clear text (a test server).
    pub tls: Option<String>,
    /// A CA certificate (PEM) to trust for the SMTP server.
    pub ca_file: Option<PathBuf>,
    /// Messages per second.
    pub rate: Option<f64>,
    /// At most this many messages this run.
    pub limit: Option<usize>,
    /// Only these customer ids.
    pub only: Vec<String>,
    /// Send review copies to this address instead of the customers.
    pub to_override: Option<String>,
    pub resend_unknown: bool,
    pub retry_failed: bool,
    /// SMTP connections in parallel.
    pub connections: usize,
    /// Write into a `notices/` folder that is not empty.
    pub force: bool,
}

/// Renders every notice of the campaign for the customers of `affected.jsonl`, checks them,
/// and then stops (`check`), writes them into the case folder, or sends them through the
/// campaign's journal (`send`). Returns the exit code: 1 when some messages are deferred,
/// failed or unknown (the user reruns or looks), else 0.
pub fn run(case: &Case, args: &Options, ui: &dyn Progress) -> Result<u8> {
    let out = case.out.clone();
    let affected = args.affected.as_path();
    let campaign = args.campaign.as_str();
    crate::notify::check_campaign(campaign)?;
    let layout = Layout::new(&out, campaign);
    let cfg = &case.config;
    let window = case.window()?.clone();
    let ncfg: NotifyConfig = cfg.notify();
    let contact: ContactConfig = cfg.contact();
    NoticeCase::check_exposed(&cfg.incident.exposed)?;
    let templates = match &args.templates {
        Some(dir) => Templates::from_dir(dir)?,
        None => Templates::builtin()?,
    };
    templates.require(campaign)?;
    let tz = cfg
        .incident
        .timezone
        .as_deref()
        .map(crate::window::zone)
        .transpose()?
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let notice_date = match args.date.as_ref().or(ncfg.date.as_ref()) {
        Some(d) => d.parse::<jiff::civil::Date>().map_err(|e| {
            NotifyError::Settings(format!(
                "date {d:?} (--date or [notify] date): not a date YYYY-MM-DD ({e})"
            ))
        })?,
        None => jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date(),
    };
    let discovered = match &cfg.incident.discovered {
        Some(d) => Some(
            d.get(..10)
                .unwrap_or(d)
                .parse::<jiff::civil::Date>()
                .map_err(|e| {
                    NotifyError::Settings(format!("incident.discovered = {d:?}: not a date ({e})"))
                })?,
        ),
        None => None,
    };
    let sender = sender(cfg, &ncfg, campaign, notice_date, &tz)?;
    let notice = NoticeCase {
        campaign: campaign.to_string(),
        incident: IncidentCtx {
            id: cfg.incident_id(),
            name: cfg.incident.name.clone().unwrap_or_default(),
            company: required(&cfg.incident.company, "incident.company")?,
            shop: required(&cfg.incident.shop, "incident.shop")?,
        },
        first_day: window.first_day(),
        last_day: window.last_day(),
        discovered,
        exposed: cfg.incident.exposed.clone(),
        notify: ncfg.clone(),
        contact,
        notice_date,
    };

    // Rendering and sending write into the case folder: one run at a time, and a second one
    // is told at once which process holds it (the check alone writes nothing).
    let _lock = match (args.check, args.send.is_some()) {
        (true, _) => None,
        (false, send) => Some(CaseLock::acquire(
            &out,
            if send { "notify --send" } else { "notify" },
        )?),
    };
    let mut recipients = crate::notify::input::read_affected(affected)?;
    if !args.only.is_empty() {
        for id in &args.only {
            if !recipients.iter().any(|r| &r.customer_id == id) {
                return Err(Error::usage(format!(
                    "--only {id}: no such customer in {}",
                    affected.display()
                )));
            }
        }
        recipients.retain(|r| args.only.contains(&r.customer_id));
    }
    let review_to = match &args.to_override {
        Some(a) => Some(
            message::address_problem(Some(a))
                .map_err(|why| Error::usage(format!("--to-override {a:?}: {why}")))?,
        ),
        None => None,
    };
    let fallback = cfg
        .incident
        .default_locale
        .clone()
        .unwrap_or_else(|| "ja".into());
    let preparer = Preparer::new(
        &templates,
        &notice,
        &sender,
        PlanOptions {
            notify: &ncfg,
            review_to: review_to.as_ref(),
            fallback_locale: &fallback,
        },
    );
    let threads = par::threads();
    if args.send.is_none() && !args.check {
        // Render, check and write in one streaming pass; nothing reaches notices/ unless
        // every customer passed the check.
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        let written =
            stage::write_notices(&layout, &recipients, &preparer, threads, args.force, ui)?;
        ui.say(&format!(
            "skimtrace: wrote {written} {campaign} messages to {}",
            layout.notices().display()
        ));
        return Ok(0);
    }
    let plan = check::prepare(&recipients, &preparer, threads);
    report_plan(&plan, plan.messages.len(), &layout, ui);
    check_passed(&plan)?;
    if args.check {
        ui.say("skimtrace: check passed");
        return Ok(0);
    }
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    write_no_email(&layout, &plan)?;
    let url = args.send.as_deref().expect("--send is set");
    let render = |p: &Planned| -> std::result::Result<Vec<u8>, NotifyError> {
        // Rendering is deterministic: the second time gives the message the check passed.
        match preparer.prepare(&recipients[p.index]) {
            Item::Message(m) if m.built.message_id == p.message_id => Ok(m.built.bytes),
            _ => Err(NotifyError::Settings(format!(
                "customer {}: the notice did not render the same way twice; nothing more is sent",
                p.customer_id
            ))),
        }
    };
    send_all(args, url, &layout, plan, &render, &sender, &ncfg, ui)
}

pub(super) fn check_passed(plan: &Plan) -> Result<()> {
    if !plan.problems.is_empty() {
        return Err(Error::CheckFailed(format!(
            "{} problem(s) in the rendered notices (listed above); nothing was written or sent: fix the templates or the config and run with --check again",
            plan.problems.len()
        )));
    }
    Ok(())
}

fn required(v: &Option<String>, key: &str) -> Result<String> {
    v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        NotifyError::Settings(format!(
            "{key} is not set; notices name it: add it to incident.toml"
        ))
        .into()
    })
}

fn sender(
    cfg: &crate::config::Config,
    ncfg: &NotifyConfig,
    campaign: &str,
    date: jiff::civil::Date,
    tz: &jiff::tz::TimeZone,
) -> Result<Sender> {
    let from = ncfg.from.as_deref().ok_or_else(|| {
        NotifyError::Settings(
            "[notify] from is not set: add from = \"Company <notice@example.com>\" to incident.toml"
                .into(),
        )
    })?;
    let from = message::parse_mailbox(from, "from")?;
    let reply_to = ncfg
        .reply_to
        .as_deref()
        .map(|r| message::parse_mailbox(r, "reply_to"))
        .transpose()?;
    // The Date header: 09:00 on the notice's date in the incident's zone, so a re-render on
    // another day is byte-identical.
    let at = date
        .at(9, 0, 0, 0)
        .to_zoned_datetime(tz.clone())
        .map_err(|e| NotifyError::Settings(format!("[notify] date: {e}")))?;
    Ok(Sender {
        id_domain: ncfg
            .message_id_domain
            .clone()
            .unwrap_or_else(|| from.email.domain().to_string()),
        from,
        reply_to,
        date: std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(at.timestamp().as_second().max(0).unsigned_abs()),
        incident_id: cfg.incident_id(),
        campaign: campaign.to_string(),
    })
}

pub(super) fn report_plan(plan: &Plan, rendered: usize, layout: &Layout, ui: &dyn Progress) {
    for line in plan.problem_report() {
        ui.tell(&format!("skimtrace: problem: {line}"));
    }
    ui.say(&format!(
        "skimtrace: {rendered} {} messages rendered, {} customers without a usable address ({}), {} problems",
        layout.campaign,
        plan.no_email.len(),
        layout.no_email().file_name().unwrap_or_default().to_string_lossy(),
        plan.problems.len()
    ));
}

pub(super) fn write_no_email(layout: &Layout, plan: &Plan) -> Result<()> {
    let mut csv = CsvOut::create(
        &layout.no_email(),
        &["customer_id", "name", "contact", "reason"],
    )?;
    for n in &plan.no_email {
        csv.row([&n.customer_id, &n.name, &n.contact, &n.reason])?;
    }
    csv.commit()
}

#[allow(clippy::too_many_arguments)] // the run's pieces, passed once from `run`
fn send_all(
    args: &Options,
    url: &str,
    layout: &Layout,
    plan: Plan,
    render: &(dyn Fn(&Planned) -> std::result::Result<Vec<u8>, NotifyError> + Sync),
    sender: &Sender,
    ncfg: &NotifyConfig,
    ui: &dyn Progress,
) -> Result<u8> {
    let tls_none = args.tls.as_deref() == Some("none");
    let mut target = Target::parse(url, tls_none)?;
    if tls_none {
        ui.warn("--tls none: messages and commands go over the network in clear text");
    }
    if let Some(ca) = &args.ca_file {
        target.ca_pem = Some(std::fs::read(ca).map_err(|e| Error::io(ca, e))?);
    }
    let user = std::env::var("SKIMTRACE_SMTP_USER")
        .ok()
        .filter(|u| !u.is_empty());
    if let Some(user) = user {
        if tls_none {
            return Err(NotifyError::Settings(
                "SKIMTRACE_SMTP_USER is set with --tls none; credentials are never sent in clear text".into(),
            )
            .into());
        }
        let pass = std::env::var("SKIMTRACE_SMTP_PASSWORD").unwrap_or_default();
        target.credentials = Some(crate::notify::smtp::Credentials {
            user,
            password: zeroize::Zeroizing::new(pass),
        });
    }
    let journal = Journal::open(&layout.journal())?;
    let review = args.to_override.is_some();
    let (todo, skipped, covered) = select(
        &plan.messages,
        &journal,
        &SelectOptions {
            retry_failed: args.retry_failed,
            resend_unknown: args.resend_unknown,
            limit: args.limit,
            review,
        },
    );
    for (what, n) in &skipped {
        if *n > 0 {
            ui.say(&format!("skimtrace: {n} {what}"));
        }
    }
    let journal = Mutex::new(journal);
    let opts = SendOptions {
        campaign: layout.campaign.clone(),
        from: sender.from.email.clone(),
        rate: args.rate,
        connections: args.connections,
        retries: ncfg.retries(),
        retry_delay: ncfg.retry_delay(),
        review,
    };
    let n = todo.len();
    ui.say(&format!(
        "skimtrace: sending {n} {} to {}:{}",
        if review { "review copies" } else { "notices" },
        target.host,
        target.port
    ));
    let result = send::run(&target, todo, render, &journal, &opts, &|_| {});
    let journal = journal.into_inner().expect("journal lock");
    write_failed(layout, &journal)?;
    let tally = result?;
    // The final word comes from the journal: what every message of this plan ended as.
    let mut counts = [0usize; 6];
    for m in &plan.messages {
        let i = match journal.status(&m.message_id) {
            Status::Pending if covered.contains(&m.message_id) => 5,
            Status::Accepted => 0,
            Status::Deferred => 1,
            Status::Failed => 2,
            Status::Unknown => 3,
            Status::Pending => 4,
        };
        counts[i] += 1;
    }
    ui.say(&format!(
        "skimtrace: this run: {} accepted, {} deferred, {} failed, {} unknown",
        tally.accepted, tally.deferred, tally.failed, tally.unknown
    ));
    let [acc, def, fail, unk, pend, cov] = counts;
    ui.say(&format!(
        "skimtrace: in all: {acc} accepted, {def} deferred, {fail} failed, {unk} unknown, {pend} not yet sent, {cov} left out (their address already has this campaign's message)"
    ));
    if def + fail + unk > 0 {
        if def > 0 {
            ui.tell(&format!("skimtrace: {def} deferred (the server said try later): run the same command again to retry them"));
        }
        if fail > 0 {
            ui.tell(&format!("skimtrace: {fail} failed permanently: see {} (retry with --retry-failed once fixed)", layout.failed().display()));
        }
        if unk > 0 {
            ui.tell(&format!("skimtrace: {unk} unknown (the connection broke after DATA; the customer may have the message): check the server's logs, then pass --resend-unknown to send them again"));
        }
        return Ok(1);
    }
    Ok(0)
}

/// `failed.csv`: every customer notice whose last journal event is a permanent failure.
fn write_failed(layout: &Layout, journal: &Journal) -> Result<()> {
    let mut csv = CsvOut::create(
        &layout.failed(),
        &["customer_id", "recipient", "message_id", "reply", "time"],
    )?;
    for ev in journal.last_events() {
        if ev.phase == crate::notify::journal::Phase::Failed && !ev.review {
            csv.row([
                &ev.customer_id,
                &ev.recipient,
                &ev.message_id,
                &ev.reply,
                &ev.time,
            ])?;
        }
    }
    csv.commit()
}
