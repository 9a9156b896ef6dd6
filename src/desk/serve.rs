//! Serving a case folder: check the listen address and TLS → check the key is the case's →
//! build the index → open the journal → serve until Ctrl-C or SIGTERM.

use super::{index::Index, journal::Journal, operators::Operators, server};
use crate::cards::FingerprintKey;
use crate::error::{Error, Result};
use crate::progress::Progress;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How to serve (each field a `desk` option; see `skimtrace desk --help`).
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// The case folder.
    pub out: PathBuf,
    /// ADDRESS:PORT.
    pub listen: String,
    /// The operators file.
    pub operators: PathBuf,
    /// Notice folders of campaigns to show.
    pub notices: Vec<PathBuf>,
    /// Diff folders to show.
    pub diff: Vec<PathBuf>,
    /// Answer templates instead of the built-in ones.
    pub templates: Option<PathBuf>,
    /// Searches per operator per minute.
    pub rate: u32,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP beyond loopback.
    pub insecure_lan: bool,
}

/// Serves the desk until Ctrl-C or SIGTERM. `key` must be the case's fingerprint key.
pub fn serve(args: &ServeOptions, key: FingerprintKey, ui: &dyn Progress) -> Result<u8> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Error::usage(format!(
            "--listen {}: expected ADDRESS:PORT, e.g. 127.0.0.1:8640",
            args.listen
        ))
    })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(server::tls_config(c, k)?),
        _ => None,
    };
    if !listen.ip().is_loopback() && tls.is_none() {
        if !args.insecure_lan {
            return Err(Error::usage(format!(
                "--listen {listen}: only loopback is served without TLS; pass --tls-cert FILE --tls-key FILE, or --insecure-lan on a network you trust"
            )));
        }
        ui.warn(&format!(
            "--insecure-lan: serving plain HTTP on {listen}: operator tokens and customers' personal data cross the network in clear"
        ));
    }
    let summary = check_case(&args.out)?;
    let case_key = summary
        .fingerprint_key
        .as_ref()
        .map(|k| k.id.clone())
        .unwrap_or_default();
    if !case_key.is_empty() && case_key != key.key_id() {
        return Err(Error::usage(format!(
            "the fingerprint key given (key {}) is not the one this case was made with (key {case_key}, summary.json); pass the case's key (SKIMTRACE_FINGERPRINT_KEY, --key-file or --config)",
            key.key_id()
        )));
    }
    let answers = server::answer_templates(args.templates.as_deref())?;
    let ops_path = args.operators.clone();
    if Operators::load(&ops_path)?.operators.is_empty() {
        ui.warn(&format!(
            "no operators in {} yet: nobody can sign in; add one with `skimtrace desk {} --add-operator NAME`",
            ops_path.display(),
            args.out.display()
        ));
    }

    let t0 = std::time::Instant::now();
    let index = Index::build(&args.out, &args.notices, &args.diff)?;
    let journal = Journal::open(&args.out)?;
    let window_at = |k: &str| {
        summary
            .window
            .as_ref()
            .and_then(|w| w.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let incident = summary.incident.clone().unwrap_or_default();
    let case = server::CaseInfo {
        name: incident.name.unwrap_or_default(),
        company: incident.company.unwrap_or_default(),
        window: window_at("spec"),
        window_start: window_at("first_day"),
        window_end: window_at("last_day"),
        built_at: crate::notify::journal::now(),
        ..Default::default()
    };
    let people = index.len();
    let campaigns = index.campaigns.join(", ");
    let desk = Arc::new(server::Desk::new(
        index,
        key,
        case,
        journal,
        answers,
        server::Settings {
            operators: ops_path,
            rate_per_minute: args.rate as usize,
            secure: tls.is_some(),
            loopback: listen.ip().is_loopback(),
        },
    )?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Invariant(format!("cannot start the server runtime: {e}")))?;
    rt.block_on(async move {
        let tcp = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::usage(format!("--listen {listen}: cannot listen there ({e}); pick another port")))?;
        let local = tcp
            .local_addr()
            .map_err(|e| Error::Invariant(format!("listener address: {e}")))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Always printed (not silenced by --quiet): it is how a user, or a script, finds the desk.
        ui.tell(&format!(
            "skimtrace desk: listening on {scheme}://{local}/ ({people} people, campaigns: {}, index built in {:.1?}); Ctrl-C stops it",
            if campaigns.is_empty() { "none" } else { &campaigns },
            t0.elapsed()
        ));
        let app = server::router(desk);
        let served = match tls {
            Some(cfg) => {
                let l = server::TlsListener::new(tcp, cfg)
                    .map_err(|e| Error::Invariant(format!("TLS listener: {e}")))?;
                axum::serve(l, app).with_graceful_shutdown(stop()).await
            }
            None => axum::serve(tcp, app).with_graceful_shutdown(stop()).await,
        };
        served.map_err(|e| Error::Invariant(format!("the desk server stopped: {e}")))
    })?;
    ui.say("skimtrace desk: stopped");
    Ok(0)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async move {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The case folder's summary.json, after checking it is a case folder.
pub fn check_case(out: &std::path::Path) -> Result<crate::summary::Summary> {
    if !out.join("affected.jsonl").is_file() {
        return Err(Error::usage(format!(
            "{}: not a case folder (no affected.jsonl); pass the folder `skimtrace run` or `affected` wrote",
            out.display()
        )));
    }
    crate::summary::load(out)
}
