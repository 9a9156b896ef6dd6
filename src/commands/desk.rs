//! `skimtrace desk OUT`: manage operators (`--add-operator`, `--remove-operator`), or check the
//! listen address → load the fingerprint key and check it is the case's → build the index →
//! open the journal → serve until Ctrl-C.

use super::common::{self, Ui};
use crate::cards::{FingerprintKey, KeySource};
use crate::cli::{CaseArgs, DeskArgs};
use crate::desk::{self, index::Index, journal::Journal, operators::Operators, server};
use crate::error::{Error, Result};
use std::net::SocketAddr;
use std::sync::Arc;

pub fn run(args: &DeskArgs, ui: &Ui) -> Result<u8> {
    let ops_path = args
        .operators
        .clone()
        .unwrap_or_else(|| desk::operators::default_path(&args.out));
    if let Some(name) = &args.add_operator {
        check_case(&args.out)?;
        let mut ops = Operators::load(&ops_path)?;
        let existed = ops.has(name);
        let token = ops.add(name)?;
        ops.save(&ops_path)?;
        ui.say(format!(
            "skimtrace: operator {name} {} in {}; give them this token (shown only now):",
            if existed {
                "has a new token (the old one no longer works)"
            } else {
                "added"
            },
            ops_path.display()
        ));
        println!("{token}");
        return Ok(0);
    }
    if let Some(dir) = &args.write_templates {
        for (name, _) in server::ANSWERS {
            let path = dir.join(name);
            if path.exists() {
                return Err(Error::usage(format!(
                    "{}: already exists; edit it, or move it away to write the built-in one again",
                    path.display()
                )));
            }
        }
        for (name, src) in server::ANSWERS {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            crate::output::write_file(&path, src.as_bytes())?;
        }
        ui.say(format!(
            "skimtrace: wrote the desk's answer scripts to {}/desk/; serve them with `skimtrace desk {} --templates {}`",
            dir.display(),
            args.out.display(),
            dir.display()
        ));
        return Ok(0);
    }
    if let Some(name) = &args.remove_operator {
        let mut ops = Operators::load(&ops_path)?;
        if !ops.remove(name) {
            return Err(Error::usage(format!(
                "--remove-operator {name}: no such operator in {}",
                ops_path.display()
            )));
        }
        ops.save(&ops_path)?;
        ui.say(format!(
            "skimtrace: operator {name} removed from {}",
            ops_path.display()
        ));
        return Ok(0);
    }

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
        ui.warn(format!(
            "--insecure-lan: serving plain HTTP on {listen}: operator tokens and customers' personal data cross the network in clear"
        ));
    }
    let summary = check_case(&args.out)?;
    let key = fingerprint_key(args)?;
    let case_key = summary
        .pointer("/fingerprint_key/id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if !case_key.is_empty() && case_key != key.key_id() {
        return Err(Error::usage(format!(
            "the fingerprint key given (key {}) is not the one this case was made with (key {case_key}, summary.json); pass the case's key (SKIMTRACE_FINGERPRINT_KEY, --key-file or --config)",
            key.key_id()
        )));
    }
    let answers = server::answer_templates(args.templates.as_deref())?;
    if Operators::load(&ops_path)?.operators.is_empty() {
        ui.warn(format!(
            "no operators in {} yet: nobody can sign in; add one with `skimtrace desk {} --add-operator NAME`",
            ops_path.display(),
            args.out.display()
        ));
    }

    let t0 = std::time::Instant::now();
    let index = Index::build(&args.out, &args.notices, &args.diff)?;
    let journal = Journal::open(&args.out)?;
    let str_at = |p: &str| {
        summary
            .pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let case = server::CaseInfo {
        name: str_at("/incident/name"),
        company: str_at("/incident/company"),
        window: str_at("/window/spec"),
        window_start: str_at("/window/first_day"),
        window_end: str_at("/window/last_day"),
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
        eprintln!(
            "skimtrace desk: listening on {scheme}://{local}/ ({people} people, campaigns: {}, index built in {:.1?}); Ctrl-C stops it",
            if campaigns.is_empty() { "none" } else { &campaigns },
            t0.elapsed()
        );
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
fn check_case(out: &std::path::Path) -> Result<serde_json::Value> {
    if !out.join("affected.jsonl").is_file() {
        return Err(Error::usage(format!(
            "{}: not a case folder (no affected.jsonl); pass the folder `skimtrace run` or `affected` wrote",
            out.display()
        )));
    }
    let p = out.join("summary.json");
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Input {
            path: p,
            message: format!("not a summary ({e}); re-create it with `skimtrace affected`"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::Value::Null),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// The case's fingerprint key: the environment, `--key-file`, or the config's key file. A
/// random key would make the journal's hashes unverifiable, so there is none.
fn fingerprint_key(args: &DeskArgs) -> Result<FingerprintKey> {
    let case = common::open_case(
        &CaseArgs {
            config: args.config.clone(),
            ..Default::default()
        },
        args.key_file.as_deref(),
    )?;
    let key = case.key()?;
    if key.source == KeySource::Random {
        return Err(Error::usage(
            "the desk needs the case's fingerprint key to record searches as keyed hashes: set SKIMTRACE_FINGERPRINT_KEY, or pass --key-file FILE or --config incident.toml",
        ));
    }
    Ok(key)
}
