//! Sending over SMTP with our client ([`super::smtp`]), recording each step in the journal.
//!
//! Why step by step: a transport's `send` runs MAIL, RCPT, DATA and the body as one call, so a
//! crash between the server's 354 and its final reply could not be told apart from a crash
//! before MAIL. Here each command is issued separately and the journal gets `started` before
//! MAIL FROM and `data` after the 354 (see [`super::journal`]).
//!
//! Connections are reused for the whole batch (one per worker, `--connections N`); a broken
//! connection is dropped and a new one opened. Transient replies (4xx) are retried with
//! exponential backoff, then left as `deferred`; permanent ones (5xx) end as `failed`.

use super::check::Planned;
use super::journal::{self, Event, Journal, Phase};
use super::smtp::{Client, Credentials, Security, SmtpError};
use super::Error;
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtp://`: STARTTLS, required (no downgrade).
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
    /// `--tls none`: clear text (test servers on loopback).
    None,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trust anchor (`--ca-file`), PEM.
    pub ca_pem: Option<Vec<u8>>,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
}

impl Target {
    /// Parses `smtp://HOST[:PORT]` or `smtps://HOST[:PORT]`. Credentials in the URL are refused:
    /// they would end up in shell history and process lists.
    pub fn parse(url: &str, tls_none: bool) -> Result<Target, Error> {
        let bad = |why: &str| {
            Error::Settings(format!(
                "--send {url:?}: {why}; write smtp://HOST:PORT (STARTTLS) or smtps://HOST:PORT (TLS)"
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let rest = rest.trim_end_matches('/');
        if rest.contains('@') {
            return Err(bad(
                "credentials do not go in the URL (set SKIMTRACE_SMTP_USER and SKIMTRACE_SMTP_PASSWORD)",
            ));
        }
        let (tls, default_port) = match scheme {
            "smtp" => (TlsMode::StartTls, 587),
            "smtps" => (TlsMode::Wrapper, 465),
            _ => return Err(bad("unknown scheme")),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.trim_matches(['[', ']']).to_string(),
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            _ => (rest.to_string(), default_port),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let tls = if tls_none {
            if tls == TlsMode::Wrapper {
                return Err(bad("--tls none contradicts smtps://"));
            }
            TlsMode::None
        } else {
            tls
        };
        Ok(Target {
            host,
            port,
            tls,
            ca_pem: None,
            credentials: None,
            timeout: Duration::from_secs(60),
        })
    }

    /// The TLS settings (system roots plus `--ca-file`), built once per run; `None` for
    /// `--tls none`.
    pub fn tls_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, Error> {
        if self.tls == TlsMode::None {
            return Ok(None);
        }
        super::smtp::tls_config(self.ca_pem.as_deref())
            .map(Some)
            .map_err(Error::Settings)
    }

    /// Opens a session: TLS as configured (`tls` from [`Target::tls_config`]), then AUTH when
    /// credentials are set (only ever over TLS).
    pub fn connect(&self, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Client, Error> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::Smtp(format!(
                "cannot open an SMTP session with {}:{}: {e}",
                self.host, self.port
            ))
        };
        let hello = ClientId::default().to_string();
        let security = match (self.tls, tls) {
            (TlsMode::Wrapper, Some(cfg)) => Security::Implicit(cfg),
            (TlsMode::None, _) => Security::Plain,
            (TlsMode::StartTls, Some(_)) => Security::Plain,
            (_, None) => return Err(fail(&"internal: no TLS settings")),
        };
        let mut conn = Client::connect(&self.host, self.port, self.timeout, security, &hello)
            .map_err(|e| fail(&e))?;
        if let (TlsMode::StartTls, Some(cfg)) = (self.tls, tls) {
            if !conn.capabilities().starttls {
                return Err(fail(
                    &"the server does not offer STARTTLS (required for smtp://; use smtps:// for implicit TLS, or --tls none for a clear-text test server)",
                ));
            }
            conn.starttls(cfg).map_err(|e| fail(&e))?;
        }
        if let Some(cred) = &self.credentials {
            if !conn.is_encrypted() {
                return Err(Error::Settings(
                    "SKIMTRACE_SMTP_USER is set but the connection is not encrypted; credentials are never sent in clear text".into(),
                ));
            }
            let offered = ["PLAIN", "LOGIN"]
                .iter()
                .any(|m| conn.capabilities().auth.iter().any(|a| a == m));
            if !offered {
                return Err(Error::Settings(format!(
                    "{}:{} offers no PLAIN or LOGIN authentication but SKIMTRACE_SMTP_USER is set",
                    self.host, self.port
                )));
            }
            conn.auth(cred).map_err(|e| fail(&e))?;
        }
        Ok(conn)
    }
}

/// How a batch runs.
#[derive(Clone)]
pub struct SendOptions {
    pub campaign: String,
    pub from: Address,
    /// Messages per second across all connections (`--rate`).
    pub rate: Option<f64>,
    pub connections: usize,
    pub retries: u32,
    pub retry_delay: Duration,
    pub review: bool,
}

/// What happened to the messages of this run.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub accepted: usize,
    pub deferred: usize,
    pub failed: usize,
    pub unknown: usize,
}

/// One message's end in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Deferred,
    Failed,
    Unknown,
}

/// Spaces sends `interval` apart across all workers.
struct Pacer {
    next: Mutex<Instant>,
    interval: Option<Duration>,
}

impl Pacer {
    fn wait(&self) {
        let Some(iv) = self.interval else { return };
        let at = {
            let mut next = self.next.lock().expect("pacer lock");
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + iv;
            at
        };
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    }
}

/// Sends `messages` (already selected: none of them accepted) and journals every step.
/// Returns the tally; an `Err` means the batch stopped (the server cannot be reached), with the
/// journal saved for a re-run.
pub fn run(
    target: &Target,
    messages: Vec<Planned>,
    render: &(dyn Fn(&Planned) -> Result<Vec<u8>, super::Error> + Sync),
    journal: &Mutex<Journal>,
    opts: &SendOptions,
    progress: &(dyn Fn(&Tally) + Sync),
) -> Result<Tally, super::Error> {
    let queue = Mutex::new(messages.into_iter().collect::<VecDeque<_>>());
    let tally = Mutex::new(Tally::default());
    let stop = AtomicBool::new(false);
    let fatal: Mutex<Option<super::Error>> = Mutex::new(None);
    let pacer = Pacer {
        next: Mutex::new(Instant::now()),
        interval: opts
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r)),
    };
    let tls = target.tls_config()?;
    let workers = opts.connections.max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut w = Worker {
                    target,
                    tls: tls.as_ref(),
                    opts,
                    journal,
                    conn: None,
                };
                while !stop.load(Ordering::SeqCst) {
                    let Some(m) = queue.lock().expect("queue lock").pop_front() else {
                        break;
                    };
                    pacer.wait();
                    match render(&m).and_then(|bytes| w.deliver(&m, &bytes)) {
                        Ok(o) => {
                            let mut t = tally.lock().expect("tally lock");
                            match o {
                                Outcome::Accepted => t.accepted += 1,
                                Outcome::Deferred => t.deferred += 1,
                                Outcome::Failed => t.failed += 1,
                                Outcome::Unknown => t.unknown += 1,
                            }
                            progress(&t);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            fatal.lock().expect("fatal lock").get_or_insert(e);
                            break;
                        }
                    }
                }
                w.close();
            });
        }
    });
    if let Some(e) = fatal.into_inner().expect("fatal lock") {
        return Err(e);
    }
    Ok(tally.into_inner().expect("tally lock"))
}

struct Worker<'a> {
    target: &'a Target,
    tls: Option<&'a Arc<rustls::ClientConfig>>,
    opts: &'a SendOptions,
    journal: &'a Mutex<Journal>,
    conn: Option<Client>,
}

/// How one attempt ended.
enum Attempt {
    Accepted(String),
    /// A 4xx reply (before or after the body: either way the server did not take it).
    Transient(String),
    Permanent(String),
    /// The connection broke before DATA: nothing was delivered.
    BrokenBeforeData(String),
    /// The connection broke after DATA: delivery is unknown.
    BrokenAfterData(String),
}

impl Worker<'_> {
    fn record(
        &self,
        m: &Planned,
        phase: Phase,
        reply: &str,
        attempt: u32,
    ) -> Result<(), super::Error> {
        self.journal.lock().expect("journal lock").append(Event {
            time: journal::now(),
            campaign: self.opts.campaign.clone(),
            customer_id: m.customer_id.clone(),
            message_id: m.message_id.clone(),
            recipient: m.to.to_string(),
            review: self.opts.review,
            phase,
            reply: crate::text::scrub_controls(reply),
            attempt,
        })
    }

    fn deliver(&mut self, m: &Planned, bytes: &[u8]) -> Result<Outcome, super::Error> {
        let mut delay = self.opts.retry_delay;
        let mut reconnects = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if self.conn.is_none() {
                self.conn = Some(self.target.connect(self.tls)?);
            }
            self.record(m, Phase::Started, "", attempt)?;
            match self.attempt(m, bytes, attempt)? {
                Attempt::Accepted(reply) => {
                    self.record(m, Phase::Accepted, &reply, attempt)?;
                    return Ok(Outcome::Accepted);
                }
                Attempt::Permanent(reply) => {
                    self.record(m, Phase::Failed, &reply, attempt)?;
                    return Ok(Outcome::Failed);
                }
                Attempt::BrokenAfterData(why) => {
                    self.drop_conn();
                    self.record(m, Phase::Unknown, &why, attempt)?;
                    return Ok(Outcome::Unknown);
                }
                Attempt::BrokenBeforeData(why) => {
                    // Not delivered: reconnect and try again, a few times.
                    self.drop_conn();
                    reconnects += 1;
                    if reconnects > 3 {
                        return Err(Error::Smtp(format!(
                            "the SMTP connection keeps breaking ({why}); the journal is saved: run the same command again to resume"
                        )));
                    }
                    attempt -= 1;
                }
                Attempt::Transient(reply) => {
                    self.record(m, Phase::Deferred, &reply, attempt)?;
                    if attempt >= self.opts.retries {
                        return Ok(Outcome::Deferred);
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
    }

    fn attempt(
        &mut self,
        m: &Planned,
        bytes: &[u8],
        attempt: u32,
    ) -> Result<Attempt, super::Error> {
        let conn = self.conn.as_mut().expect("connected");
        // MAIL, RCPT, DATA: a failure here leaves nothing delivered.
        let before = conn
            .mail(self.opts.from.as_ref(), !bytes.is_ascii())
            .and_then(|_| conn.rcpt(m.to.as_ref()))
            .and_then(|_| conn.data());
        if let Err(e) = before {
            return Ok(self.before_data(e));
        }
        // The server answered 354: from here on, a broken connection means "unknown".
        self.record(m, Phase::Data, "354", attempt)?;
        let conn = self.conn.as_mut().expect("connected");
        Ok(match conn.body(bytes) {
            Ok(reply) => Attempt::Accepted(reply.text()),
            Err(e) if e.is_transient() => Attempt::Transient(e.to_string()),
            Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
            Err(e) => {
                // The server did not take it but said something else, or the connection
                // broke: either way this connection is done.
                self.drop_conn();
                Attempt::BrokenAfterData(e.to_string())
            }
        })
    }

    /// Classifies a failure before DATA and resets the transaction so the connection can carry
    /// the next message.
    fn before_data(&mut self, e: SmtpError) -> Attempt {
        if e.is_transient() || e.is_permanent() {
            let reset_ok = self.conn.as_mut().is_some_and(|c| c.rset().is_ok());
            if !reset_ok {
                self.drop_conn();
            }
            if e.is_transient() {
                Attempt::Transient(e.to_string())
            } else {
                Attempt::Permanent(e.to_string())
            }
        } else {
            Attempt::BrokenBeforeData(e.to_string())
        }
    }

    fn drop_conn(&mut self) {
        // Dropping the client closes the socket.
        self.conn = None;
    }

    fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            c.quit();
        }
    }
}
