//! `skimtrace desk OUT`: manage operators (`--add-operator`, `--remove-operator`), or check the
//! listen address → load the fingerprint key and check it is the case's → build the index →
//! open the journal → serve until Ctrl-C.

use super::common::{self, Ui};
use crate::cards::{FingerprintKey, KeySource};
use crate::cli::{CaseArgs, DeskArgs};
use crate::desk::serve::{check_case, serve, ServeOptions};
use crate::desk::{self, operators::Operators, server};
use crate::error::{Error, Result};

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

    let key = fingerprint_key(args)?;
    let opts = ServeOptions {
        out: args.out.clone(),
        listen: args.listen.clone(),
        operators: ops_path,
        notices: args.notices.clone(),
        diff: args.diff.clone(),
        templates: args.templates.clone(),
        rate: args.rate,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        insecure_lan: args.insecure_lan,
    };
    serve(&opts, key, ui)
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
