//! `[notify]` and `[contact]` of `incident.toml`: who sends the notices, the desk customers
//! call, and how hard to retry. Unknown keys are errors, like everywhere in the config.

use serde::{Deserialize, Serialize};

/// `[notify]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The sender, `Display Name <address>` (required to render).
    pub from: Option<String>,
    /// Where replies go, when not the sender.
    pub reply_to: Option<String>,
    /// Put in front of every subject: one string for all locales (`"【重要】"`), or one per
    /// locale (`{ ja = "【重要】", en = "[Important] " }`).
    pub subject_prefix: Option<SubjectPrefix>,
    /// The notice's date (`YYYY-MM-DD`): shown in the letter and used for the `Date` header, at
    /// 09:00 in the incident's zone. Default: today, in that zone. Set it so that files rendered
    /// on different days are byte-identical.
    pub date: Option<String>,
    /// Whether the card companies reissue cards free of charge (adds that sentence).
    #[serde(default)]
    pub reissue_free: bool,
    /// Tries for a message the server answers with 4xx, within one run (default 4).
    pub retries: Option<u32>,
    /// The first wait between tries in milliseconds, doubled each time (default 2000; with 4
    /// tries at most 2 + 4 + 8 = 14 s per message).
    pub retry_delay_ms: Option<u64>,
    /// The domain of Message-IDs (default: the sender's domain).
    pub message_id_domain: Option<String>,
}

/// `[contact]`: the inquiry desk named in every notice. Each field is optional; the built-in
/// templates leave out what is not set.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContactConfig {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub hours: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
}

/// `subject_prefix`: the same for every locale, or per locale.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SubjectPrefix {
    All(String),
    PerLocale(std::collections::BTreeMap<String, String>),
}

impl NotifyConfig {
    /// The subject prefix for `locale` (empty when none applies).
    pub fn subject_prefix(&self, locale: &str) -> &str {
        match &self.subject_prefix {
            None => "",
            Some(SubjectPrefix::All(s)) => s,
            Some(SubjectPrefix::PerLocale(m)) => m.get(locale).map_or("", String::as_str),
        }
    }

    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(4).max(1)
    }
    pub fn retry_delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.retry_delay_ms.unwrap_or(2000))
    }
}
