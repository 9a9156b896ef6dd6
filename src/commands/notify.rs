//! `skimtrace notify`: read the case → read affected.jsonl → render and check every notice of
//! the campaign → stop (`--check`), write the .eml files, or send them through the campaign's
//! journal → summary. `--status` only reads the journals.

use super::common::{self, Ui};
use crate::cli::NotifyArgs;
use crate::error::{Error, Result};
use crate::notify::check::{self, Item, Plan, PlanOptions, Planned, Preparer};
use crate::notify::input::Recipient;
use crate::notify::journal::{Journal, Status};
use crate::notify::lock::CaseLock;
use crate::notify::message::{self, Sender};
use crate::notify::par;
use crate::notify::render::{Case, IncidentCtx, Templates};
use crate::notify::send::{self, SendOptions, Target};
use crate::notify::settings::{ContactConfig, NotifyConfig};
use crate::notify::{Error as NotifyError, Layout};
use crate::output::{self, CsvOut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub fn run(args: &NotifyArgs, ui: &Ui) -> Result<u8> {
    let out = out_dir(args)?;
    if args.status {
        let rows = crate::notify::status::read(&out)?;
        if rows.is_empty() {
            println!(
                "no campaign has rendered or sent anything in {}",
                out.display()
            );
        } else {
            print!("{}", crate::notify::status::table(&rows));
        }
        return Ok(0);
    }
    let affected = args.affected.as_deref().expect("clap requires --affected");
    let campaign = args.campaign.as_str();
    crate::notify::check_campaign(campaign)?;
    let layout = Layout::new(&out, campaign);
    let case = common::open_case(&args.case, None)?;
    let cfg = &case.config;
    let window = case.window()?.clone();
    let ncfg: NotifyConfig = cfg.notify();
    let contact: ContactConfig = cfg.contact();
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
        &case,
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
        let written = write_notices(
            &layout,
            &recipients,
            &preparer,
            threads,
            args.case.force,
            ui,
        )?;
        ui.say(format!(
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
    let render = |p: &Planned| -> Result<Vec<u8>> {
        // Rendering is deterministic: the second time gives the message the check passed.
        match preparer.prepare(&recipients[p.index]) {
            Item::Message(m) if m.built.message_id == p.message_id => Ok(m.built.bytes),
            _ => Err(NotifyError::Settings(format!(
                "customer {}: the notice did not render the same way twice; nothing more is sent",
                p.customer_id
            ))
            .into()),
        }
    };
    send_all(args, url, &layout, plan, &render, &sender, &ncfg, ui)
}

/// The case folder: `--out`, else the folder of `--affected`.
fn out_dir(args: &NotifyArgs) -> Result<PathBuf> {
    if let Some(o) = &args.case.out {
        return Ok(o.clone());
    }
    match &args.affected {
        Some(a) => Ok(a
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)),
        None => Err(Error::usage(
            "--status needs the case folder: pass --out DIR (or --affected FILE)",
        )),
    }
}

fn check_passed(plan: &Plan) -> Result<()> {
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

fn report_plan(plan: &Plan, rendered: usize, layout: &Layout, ui: &Ui) {
    for line in plan.problem_report() {
        eprintln!(
            "skimtrace: problem: {}",
            crate::cards::detect::mask(&line.to_string()).0
        );
    }
    ui.say(format!(
        "skimtrace: {rendered} {} messages rendered, {} customers without a usable address ({}), {} problems",
        layout.campaign,
        plan.no_email.len(),
        layout.no_email().file_name().unwrap_or_default().to_string_lossy(),
        plan.problems.len()
    ));
}

fn write_no_email(layout: &Layout, plan: &Plan) -> Result<()> {
    let mut csv = CsvOut::create(
        &layout.no_email(),
        &["customer_id", "name", "contact", "reason"],
    )?;
    for n in &plan.no_email {
        csv.row([&n.customer_id, &n.name, &n.contact, &n.reason])?;
    }
    csv.commit()
}

/// Renders, checks and writes every notice in one pass over the customers, on `threads`
/// threads: each message is rendered, written and dropped, so memory stays flat whatever the
/// number of customers. Files go to a staging folder; only when every customer passed the
/// check do they move into `notices/` (the whole folder in one rename when `notices/` is new),
/// with `index.csv` (in the customers' order) last. On a problem the staging folder is
/// removed and nothing is written. Returns the number of notices written.
fn write_notices(
    layout: &Layout,
    recipients: &[Recipient],
    preparer: &Preparer,
    threads: usize,
    force: bool,
    ui: &Ui,
) -> Result<usize> {
    let dir = layout.notices();
    let exists = dir.exists();
    if exists {
        // Refuse before rendering, not after (`output::prepare_dir` does the same checks).
        output::prepare_dir(&dir, force)?;
    }
    let staging = Staging::create(layout.staging())?;
    let mut index = CsvOut::create(
        &staging.0.join("index.csv"),
        &["customer_id", "to", "locale", "subject", "sha256"],
    )?;
    enum Done {
        Written([String; 5]),
        Other(Item),
    }
    // After the first problem, messages are still rendered and checked (every problem is
    // reported) but no longer written.
    let failed = AtomicBool::new(false);
    let mut plan = Plan::default();
    let mut rendered = 0;
    par::map_ordered(
        recipients,
        threads,
        |_, r| -> Result<Done> {
            match preparer.prepare(r) {
                Item::Message(m) if !failed.load(Ordering::Relaxed) => {
                    let name = format!("{}.eml", file_stem(&m.customer_id));
                    write_eml(&staging.0.join(name), &m.built.bytes)?;
                    let digest = crate::digest::sri_of(&m.built.bytes);
                    Ok(Done::Written([
                        m.customer_id,
                        m.built.to.to_string(),
                        m.locale,
                        m.subject,
                        digest,
                    ]))
                }
                item => Ok(Done::Other(item)),
            }
        },
        |done| {
            match done? {
                Done::Written(row) => {
                    rendered += 1;
                    index.row(&row)?;
                }
                Done::Other(Item::Message(_)) => rendered += 1,
                Done::Other(Item::Problems(p)) => {
                    failed.store(true, Ordering::Relaxed);
                    plan.problems.extend(p);
                }
                Done::Other(Item::NoEmail(n)) => plan.no_email.push(n),
            }
            Ok::<_, Error>(())
        },
    )?;
    report_plan(&plan, rendered, layout, ui);
    check_passed(&plan)?;
    write_no_email(layout, &plan)?;
    index.commit()?;
    if !exists {
        std::fs::rename(&staging.0, &dir).map_err(|e| Error::io(&dir, e))?;
        staging.keep();
    } else {
        let entries = std::fs::read_dir(&staging.0).map_err(|e| Error::io(&staging.0, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(&staging.0, e))?;
            if e.file_name() != "index.csv" {
                let to = dir.join(e.file_name());
                std::fs::rename(e.path(), &to).map_err(|err| Error::io(&to, err))?;
            }
        }
        let to = dir.join("index.csv");
        std::fs::rename(staging.0.join("index.csv"), &to).map_err(|e| Error::io(&to, e))?;
    }
    Ok(rendered)
}

/// The staging folder, removed with what it holds unless [`Staging::keep`] is called.
struct Staging(PathBuf);

impl Staging {
    fn create(path: PathBuf) -> Result<Staging> {
        // Left by a run that was killed: its files never reached notices/.
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Staging(path))
    }

    fn keep(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes one .eml, owner-only, into the staging folder (which only ever holds this run's
/// files: a half-written file there never reaches `notices/`). No fsync per file: 100,000
/// fsyncs take a minute on a common disk, and a notice lost in a power cut is re-rendered byte
/// for byte (`index.csv` holds the digests).
fn write_eml(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))
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
    layout: &Layout,
    plan: Plan,
    render: &(dyn Fn(&Planned) -> Result<Vec<u8>> + Sync),
    sender: &Sender,
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
        target.credentials = Some(crate::notify::smtp::Credentials {
            user,
            password: zeroize::Zeroizing::new(pass),
        });
    }
    let journal = Journal::open(&layout.journal())?;
    let review = args.to_override.is_some();
    let (todo, skipped, covered) = select(&plan.messages, &journal, args, review);
    for (what, n) in &skipped {
        if *n > 0 {
            ui.say(format!("skimtrace: {n} {what}"));
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
    ui.say(format!(
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
    ui.say(format!(
        "skimtrace: this run: {} accepted, {} deferred, {} failed, {} unknown",
        tally.accepted, tally.deferred, tally.failed, tally.unknown
    ));
    let [acc, def, fail, unk, pend, cov] = counts;
    ui.say(format!(
        "skimtrace: in all: {acc} accepted, {def} deferred, {fail} failed, {unk} unknown, {pend} not yet sent, {cov} left out (their address already has this campaign's message)"
    ));
    if def + fail + unk > 0 {
        if def > 0 {
            eprintln!("skimtrace: {def} deferred (the server said try later): run the same command again to retry them");
        }
        if fail > 0 {
            eprintln!("skimtrace: {fail} failed permanently: see {} (retry with --retry-failed once fixed)", layout.failed().display());
        }
        if unk > 0 {
            eprintln!("skimtrace: {unk} unknown (the connection broke after DATA; the customer may have the message): check the server's logs, then pass --resend-unknown to send them again");
        }
        return Ok(1);
    }
    Ok(0)
}

/// The messages to send this run, what was skipped and why, and the Message-IDs left out
/// because their address already has this campaign's message.
///
/// Exactly once holds per Message-ID (the customer id is in it) and per normalised recipient
/// address: lists from different runs can give one person two customer ids (a new e-mail that
/// sorts first changes the id), and the address must still get one message per campaign. So a
/// message is left out when another message of the campaign to the same address was accepted
/// (or may have been: unknown, unless `--resend-unknown`), or is already picked in this run.
/// Review copies all go to one inbox and are not held to this.
fn select(
    messages: &[Planned],
    journal: &Journal,
    args: &NotifyArgs,
    review: bool,
) -> (
    Vec<Planned>,
    Vec<(&'static str, usize)>,
    std::collections::HashSet<String>,
) {
    use std::collections::{HashMap, HashSet};
    let norm = |a: &str| crate::text::normalize_email(a).unwrap_or_default();
    // Address → the strongest standing of any message of the campaign sent to it.
    let mut by_address: HashMap<String, Status> = HashMap::new();
    if !review {
        for ev in journal.last_events() {
            if ev.review {
                continue;
            }
            let st = ev.phase.status();
            let e = by_address.entry(norm(&ev.recipient)).or_insert(st);
            if st == Status::Accepted || (st == Status::Unknown && *e != Status::Accepted) {
                *e = st;
            }
        }
    }
    let (mut accepted, mut failed, mut unknown, mut same_address) = (0, 0, 0, 0);
    let mut covered = HashSet::new();
    let mut picked: HashSet<String> = HashSet::new();
    let mut todo = Vec::new();
    for m in messages {
        match journal.status(&m.message_id) {
            Status::Accepted => accepted += 1,
            Status::Failed if !args.retry_failed => failed += 1,
            Status::Unknown if !args.resend_unknown => unknown += 1,
            _ => {
                if !review {
                    let addr = norm(m.to.as_ref());
                    let held = match by_address.get(&addr) {
                        Some(Status::Accepted) => true,
                        Some(Status::Unknown) => !args.resend_unknown,
                        _ => false,
                    };
                    if held || !picked.insert(addr) {
                        same_address += 1;
                        covered.insert(m.message_id.clone());
                        continue;
                    }
                }
                todo.push(m.clone())
            }
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
            (
                "left out: their address already has this campaign's message (under another customer id)",
                same_address,
            ),
        ],
        covered,
    )
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
