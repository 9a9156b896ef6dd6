//! `skimtrace notify`: read the case → read affected.jsonl → render and check every notice →
//! stop (`--check`), write the .eml files, or send them through the journal → summary.

use super::common::{self, Ui};
use crate::cli::NotifyArgs;
use crate::error::{Error, Result};
use crate::notify::check::{self, Plan, PlanOptions, Prepared};
use crate::notify::journal::{Journal, Status};
use crate::notify::message::{self, Sender};
use crate::notify::render::{Case, IncidentCtx, Templates};
use crate::notify::send::{self, SendOptions, Target};
use crate::notify::settings::{ContactConfig, NotifyConfig};
use crate::notify::{Error as NotifyError, DEFAULT_CAMPAIGN};
use crate::output::{self, CsvOut};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub fn run(args: &NotifyArgs, ui: &Ui) -> Result<u8> {
    let campaign = DEFAULT_CAMPAIGN;
    let cfg = common::load_config(&args.case)?;
    let window = common::window(&cfg)?;
    let ncfg: NotifyConfig = cfg.section(&cfg.notify, "notify")?;
    let contact: ContactConfig = cfg.section(&cfg.contact, "contact")?;
    Case::check_exposed(&cfg.incident.exposed)?;
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
    let notice_date = match &ncfg.date {
        Some(d) => d.parse::<jiff::civil::Date>().map_err(|e| {
            NotifyError::Settings(format!(
                "[notify] date = {d:?}: not a date YYYY-MM-DD ({e})"
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
    let sender = sender(&cfg, &ncfg, campaign, notice_date, &tz)?;
    let case = Case {
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

    let mut recipients = crate::notify::input::read_affected(&args.affected)?;
    if !args.only.is_empty() {
        for id in &args.only {
            if !recipients.iter().any(|r| &r.customer_id == id) {
                return Err(Error::usage(format!(
                    "--only {id}: no such customer in {}",
                    args.affected.display()
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
    let plan = check::prepare(
        &recipients,
        &templates,
        &case,
        &sender,
        &PlanOptions {
            notify: &ncfg,
            review_to: review_to.as_ref(),
            fallback_locale: &fallback,
        },
    );
    report_plan(&plan, ui);
    if !plan.problems.is_empty() {
        return Err(Error::CheckFailed(format!(
            "{} problem(s) in the rendered notices (listed above); nothing was written or sent: fix the templates or the config and run with --check again",
            plan.problems.len()
        )));
    }
    if args.check {
        ui.say("skimtrace: check passed");
        return Ok(0);
    }
    let out = args.case.out.clone().unwrap_or_else(|| {
        args.affected
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    });
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    write_no_email(&out, &plan)?;
    match &args.send {
        None => {
            write_notices(&out, &plan, args.case.force)?;
            ui.say(format!(
                "skimtrace: wrote {} notices to {}",
                plan.messages.len(),
                out.join("notices").display()
            ));
            Ok(0)
        }
        Some(url) => send_all(args, url, &out, plan, &sender, campaign, &ncfg, ui),
    }
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

fn report_plan(plan: &Plan, ui: &Ui) {
    for line in plan.problem_report() {
        eprintln!("skimtrace: problem: {line}");
    }
    ui.say(format!(
        "skimtrace: {} notices rendered, {} customers without a usable address (no_email.csv), {} problems",
        plan.messages.len(),
        plan.no_email.len(),
        plan.problems.len()
    ));
}

fn write_no_email(out: &Path, plan: &Plan) -> Result<()> {
    let mut csv = CsvOut::create(
        &out.join("no_email.csv"),
        &["customer_id", "name", "contact", "reason"],
    )?;
    for n in &plan.no_email {
        csv.row([&n.customer_id, &n.name, &n.contact, &n.reason])?;
    }
    csv.commit()
}

fn write_notices(out: &Path, plan: &Plan, force: bool) -> Result<()> {
    let dir = out.join("notices");
    output::prepare_dir(&dir, force)?;
    let mut index = CsvOut::create(
        &dir.join("index.csv"),
        &["customer_id", "to", "locale", "subject", "sha256"],
    )?;
    for m in &plan.messages {
        let name = format!("{}.eml", file_stem(&m.customer_id));
        write_eml(&dir.join(&name), &m.built.bytes)?;
        index.row([
            m.customer_id.as_str(),
            m.built.to.as_ref(),
            &m.locale,
            &m.subject,
            &crate::digest::sri_of(&m.built.bytes),
        ])?;
    }
    index.commit()
}

/// Writes one .eml: owner-only, to a temporary name renamed into place (an interrupted run
/// leaves no half file under the real name). Unlike [`output::write_file`] it does not fsync
/// each file: 100,000 fsyncs take a minute on a common disk, and a notice lost in a power cut
/// is re-rendered byte for byte (`index.csv`, written last and synced, holds the digests).
fn write_eml(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("eml.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A customer id as a file name (ids are `c-…` base32; anything else is replaced).
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // the run's pieces, passed once from `run`
fn send_all(
    args: &NotifyArgs,
    url: &str,
    out: &Path,
    plan: Plan,
    sender: &Sender,
    campaign: &str,
    ncfg: &NotifyConfig,
    ui: &Ui,
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
        target.credentials = Some(lettre::transport::smtp::authentication::Credentials::new(
            user, pass,
        ));
    }
    let journal = Journal::open(&out.join("sent.jsonl"))?;
    let review = args.to_override.is_some();
    let (todo, skipped) = select(&plan.messages, &journal, args);
    for (what, n) in &skipped {
        if *n > 0 {
            ui.say(format!("skimtrace: {n} {what}"));
        }
    }
    let journal = Mutex::new(journal);
    let opts = SendOptions {
        campaign: campaign.to_string(),
        from: sender.from.email.clone(),
        rate: args.rate,
        connections: args.connections,
        retries: ncfg.retries(),
        retry_delay: ncfg.retry_delay(),
        review,
    };
    let n = todo.len();
    ui.say(format!(
        "skimtrace: sending {n} {} to {}:{}",
        if review { "review copies" } else { "notices" },
        target.host,
        target.port
    ));
    let result = send::run(&target, todo, &journal, &opts, &|_| {});
    let journal = journal.into_inner().expect("journal lock");
    write_failed(out, &journal)?;
    let tally = result?;
    // The final word comes from the journal: what every message of this plan ended as.
    let mut counts = [0usize; 5];
    for m in &plan.messages {
        let i = match journal.status(&m.built.message_id) {
            Status::Accepted => 0,
            Status::Deferred => 1,
            Status::Failed => 2,
            Status::Unknown => 3,
            Status::Pending => 4,
        };
        counts[i] += 1;
    }
    ui.say(format!(
        "skimtrace: this run: {} accepted, {} deferred, {} failed, {} unknown",
        tally.accepted, tally.deferred, tally.failed, tally.unknown
    ));
    let [acc, def, fail, unk, pend] = counts;
    ui.say(format!(
        "skimtrace: in all: {acc} accepted, {def} deferred, {fail} failed, {unk} unknown, {pend} not yet sent"
    ));
    if def + fail + unk > 0 {
        if def > 0 {
            eprintln!("skimtrace: {def} deferred (the server said try later): run the same command again to retry them");
        }
        if fail > 0 {
            eprintln!("skimtrace: {fail} failed permanently: see failed.csv (retry with --retry-failed once fixed)");
        }
        if unk > 0 {
            eprintln!("skimtrace: {unk} unknown (the connection broke after DATA; the customer may have the message): check the server's logs, then pass --resend-unknown to send them again");
        }
        return Ok(1);
    }
    Ok(0)
}

/// The messages to send this run, and what was skipped and why.
fn select(
    messages: &[Prepared],
    journal: &Journal,
    args: &NotifyArgs,
) -> (Vec<Prepared>, Vec<(&'static str, usize)>) {
    let (mut accepted, mut failed, mut unknown) = (0, 0, 0);
    let mut todo = Vec::new();
    for m in messages {
        match journal.status(&m.built.message_id) {
            Status::Accepted => accepted += 1,
            Status::Failed if !args.retry_failed => failed += 1,
            Status::Unknown if !args.resend_unknown => unknown += 1,
            _ => todo.push(m.clone()),
        }
    }
    if let Some(limit) = args.limit {
        todo.truncate(limit);
    }
    (
        todo,
        vec![
            ("already accepted: skipped", accepted),
            (
                "failed permanently before: skipped (--retry-failed to try again)",
                failed,
            ),
            (
                "with unknown delivery: skipped (--resend-unknown to send again)",
                unknown,
            ),
        ],
    )
}

/// `failed.csv`: every customer notice whose last journal event is a permanent failure.
fn write_failed(out: &Path, journal: &Journal) -> Result<()> {
    let mut csv = CsvOut::create(
        &out.join("failed.csv"),
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
