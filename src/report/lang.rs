//! The report's language: `en` or `ja` (`[report] language`, else `[incident] default_locale`,
//! else `en`; `skimtrace report --lang` wins). Every heading, label, chart title, axis, note and
//! prompt is written in both languages next to where it is used ([`Lang::t`]), so a sentence
//! cannot be added in one language only without it showing in review. Figures stay as they are.

/// A language the report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    /// `ja`, `ja-JP`, `ja_JP` → Japanese; `en`, `en-US`, … → English; anything else `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let base = s
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match base.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The BCP 47 code (`<html lang>`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, en: &'a str, ja: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    /// A date `YYYY-MM-DD` in the language's form: `2021-12-22` stays in English (unambiguous
    /// across locales), `2021年12月22日` in Japanese. Text that is not such a date is returned
    /// as it is.
    pub fn date(self, d: &str) -> String {
        match (self, d.parse::<jiff::civil::Date>()) {
            (Lang::Ja, Ok(date)) if d.len() == 10 => {
                format!("{}年{}月{}日", date.year(), date.month(), date.day())
            }
            _ => d.to_string(),
        }
    }

    /// A time as summary.json writes it (RFC 3339 with the case's offset): in Japanese
    /// `2020年4月27日 10:15:00（+09:00）`; in English as it is.
    pub fn time(self, t: &str) -> String {
        if self == Lang::En || t.len() < 19 || t.as_bytes().get(10) != Some(&b'T') {
            return self.date(t);
        }
        let (day, rest) = t.split_at(10);
        let clock = rest.get(1..9).unwrap_or("");
        let offset = rest.get(9..).unwrap_or("");
        let offset = offset.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
        if offset.is_empty() {
            format!("{} {clock}", self.date(day))
        } else {
            format!("{} {clock}（{offset}）", self.date(day))
        }
    }

    /// An inclusive span of two dates: `2020-04-27 to 2021-12-22` / `2020年4月27日～2021年12月22日`.
    pub fn span(self, a: &str, b: &str) -> String {
        match self {
            Lang::En => format!("{a} to {b}"),
            Lang::Ja => format!("{}～{}", self.date(a), self.date(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn dates_in_each_language() {
        assert_eq!(Lang::Ja.date("2021-12-22"), "2021年12月22日");
        assert_eq!(Lang::Ja.date("2020-04-07"), "2020年4月7日");
        assert_eq!(Lang::En.date("2021-12-22"), "2021-12-22");
        assert_eq!(Lang::Ja.date("not a date"), "not a date");
        assert_eq!(
            Lang::Ja.time("2020-04-27T10:15:00+09:00"),
            "2020年4月27日 10:15:00（+09:00）"
        );
        assert_eq!(
            Lang::Ja.time("2020-04-27T10:15:00.250Z"),
            "2020年4月27日 10:15:00（Z）"
        );
        assert_eq!(
            Lang::Ja.span("2020-04-27", "2021-12-22"),
            "2020年4月27日～2021年12月22日"
        );
        assert_eq!(Lang::parse("ja-JP"), Some(Lang::Ja));
        assert_eq!(Lang::parse("en_US"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
