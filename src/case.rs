//! The case every stage runs on: the typed config (every section parsed and checked at load,
//! see [`Config::from_text`]), with the command line's overrides applied, the compromise window,
//! the output folder and where the fingerprint key comes from.
//!
//! A stage takes `&Case` and options of its own (`affected::run(&case, options)`); the command
//! line builds both and nothing else, so the benchmark, a test or another program runs a stage
//! the same way the binary does.

use crate::cards::FingerprintKey;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::window::Window;
use std::path::{Path, PathBuf};

/// What the command line (or a caller) sets over `incident.toml`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The case's incident.toml; without it every setting comes from here.
    pub config: Option<PathBuf>,
    /// `START..END`, over `incident.window`.
    pub window: Option<String>,
    /// An IANA zone, over `incident.timezone`.
    pub tz: Option<String>,
    /// The output folder, over `[output] dir`.
    pub out: Option<PathBuf>,
    /// The fingerprint key file, over `[fingerprint] key_file` (the environment variable
    /// `SKIMTRACE_FINGERPRINT_KEY` still wins).
    pub key_file: Option<PathBuf>,
}

/// A loaded case. See the module docs.
#[derive(Debug)]
pub struct Case {
    pub config: Config,
    /// The window, when the config or the command line gives one (checked at load).
    window: Option<Window>,
    /// The output folder: `--out`, else `[output] dir`, else `out/<incident id>`.
    pub out: PathBuf,
    key_file: Option<PathBuf>,
}

impl Case {
    /// Loads `--config` (or an empty config), applies the overrides and checks the window.
    pub fn open(o: &Overrides) -> Result<Case> {
        let config = match &o.config {
            Some(p) => Config::load(p)?,
            None => Config::empty(),
        };
        Case::from_config(config, o)
    }

    /// A case from a config already read (`report` reads the one a manifest recorded).
    pub fn from_config(mut config: Config, o: &Overrides) -> Result<Case> {
        if let Some(w) = &o.window {
            config.incident.window = Some(w.clone());
        }
        if let Some(tz) = &o.tz {
            config.incident.timezone = Some(tz.clone());
        }
        let window = match config.incident.window.as_deref() {
            Some(spec) => Some(Window::parse(spec, config.incident.timezone.as_deref())?),
            None => None,
        };
        let out = match (&o.out, &config.output.dir) {
            (Some(o), _) => o.clone(),
            (None, Some(d)) => config.resolve(d),
            (None, None) => PathBuf::from("out").join(config.incident_id()),
        };
        let key_file = o.key_file.clone().or_else(|| {
            config
                .fingerprint
                .key_file
                .as_ref()
                .map(|p| config.resolve(p))
        });
        Ok(Case {
            config,
            window,
            out,
            key_file,
        })
    }

    /// The compromise window, which every stage that classifies by time needs.
    pub fn window(&self) -> Result<&Window> {
        self.window.as_ref().ok_or_else(|| {
            Error::usage(
                "no compromise window: pass --window START..END (e.g. --window 2020-04-27..2021-12-22) or set incident.window in the config",
            )
        })
    }

    /// The fingerprint key: `SKIMTRACE_FINGERPRINT_KEY`, else the key file, else a random key
    /// (see [`FingerprintKey::load`]). Read when a stage needs it, so a case whose key file is
    /// elsewhere can still be reported on.
    pub fn key(&self) -> Result<FingerprintKey> {
        let env = std::env::var("SKIMTRACE_FINGERPRINT_KEY").ok();
        FingerprintKey::load(env, self.key_file.as_deref())
    }

    /// Resolves a path written in the config against the config's folder.
    pub fn resolve(&self, p: impl AsRef<Path>) -> PathBuf {
        self.config.resolve(p)
    }
}
