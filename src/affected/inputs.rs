//! Which files `affected` reads and with which settings: the command line's paths replace the
//! config's, `[[….inputs]]` entries carry their own settings, the command line's settings win.

use super::Options;
use crate::config::{Config, InputSettings};
use crate::error::Result;
use crate::orders::InputFile;
use crate::payments::PaymentsConfig;
use std::path::Path;

/// The files to read and their settings: `--orders` replaces the config's paths.
/// What was passed over (an empty folder, a link to nothing) is added to `notes`.
pub(super) fn order_inputs(
    args: &Options,
    cfg: &Config,
    notes: &mut Vec<String>,
) -> Result<Vec<InputFile>> {
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
        notes,
    )?;
    if inputs.is_empty() {
        return Err(super::Error::NoOrders.into());
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
    notes: &mut Vec<String>,
) -> Result<Vec<InputFile>> {
    let base = settings.overlaid(cli);
    let mut expand = |paths: &[String], base_dir: &Path, what: &str| {
        crate::input::expand_inputs_noting(paths, base_dir, what, notes)
    };
    let mut inputs: Vec<InputFile> = Vec::new();
    if !cli_paths.is_empty() {
        for (path, display) in expand(cli_paths, Path::new("."), cli_what)? {
            inputs.push(InputFile {
                path,
                display,
                settings: base.clone(),
            });
        }
        return Ok(inputs);
    }
    for (path, display) in expand(paths, &cfg.base_dir, paths_what)? {
        inputs.push(InputFile {
            path,
            display,
            settings: base.clone(),
        });
    }
    for extra in extras {
        let own = settings.overlaid(&extra.settings).overlaid(cli);
        for (path, display) in expand(&extra.paths, &cfg.base_dir, extras_what)? {
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

/// The payment exports to read: `--payments` replaces `[payments] paths`.
pub(super) fn payment_inputs(
    args: &Options,
    cfg: &Config,
    pay: &PaymentsConfig,
    notes: &mut Vec<String>,
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
        notes,
    )
}
