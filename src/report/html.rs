//! `report.html`: one self-contained file. Inline CSS, inline SVG, no scripts, no external
//! assets (fonts, images, styles), so it opens offline years later, in a mail attachment or a
//! locked-down browser, and prints as it shows. Every text from the inputs is escaped.

use super::doc::{Block, Cell, Doc, Table};
use super::lang::Lang;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values (`&`, `<`, `>`, `"`, `'`). Card
/// numbers are masked first (the one detector, [`crate::cards::detect`]): every text of the
/// report passes here.
pub fn escape(s: &str) -> String {
    let s = crate::cards::detect::mask(s).0;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The font stack names a face with Japanese glyphs on each system a reader may open the file
/// on (the page embeds no font): macOS (Hiragino), Windows (Yu Gothic, Meiryo), Linux (Noto
/// Sans CJK, IPA, Takao, VL), after the Latin system faces, so Latin text looks native and the
/// shop's and customers' names never fall back to empty boxes.
const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI','Hiragino Sans','Hiragino Kaku Gothic ProN','Yu Gothic UI','Yu Gothic',YuGothic,Meiryo,'Noto Sans CJK JP','Noto Sans JP','Source Han Sans JP','IPAexGothic','IPAPGothic','TakaoPGothic','VL PGothic',sans-serif;color:#101828;max-width:1040px;margin:24px auto;padding:0 16px;line-height:1.5;font-size:15px}
h1{font-size:26px;border-bottom:3px solid #b42318;padding-bottom:6px}
h2{font-size:20px;margin-top:36px;border-bottom:1px solid #d0d5dd;padding-bottom:4px}
h3{font-size:16px;margin-top:20px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #d0d5dd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7}
td[data-key]{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:13px;background:#f2f4f7;padding:0 3px}
.todo{background:#fef0c7;border-left:4px solid #dc6803;padding:4px 10px}
figure{margin:12px 0}
svg{max-width:100%;height:auto}
details{margin:4px 0 16px}
@media print{details{display:none}}";

fn cell(c: &Cell, tag: &str) -> String {
    let body = if c.code {
        format!("<code>{}</code>", escape(c.visible()))
    } else {
        escape(c.visible())
    };
    match &c.key {
        Some(k) => format!(
            "<{tag} data-key=\"{}\" data-value=\"{}\">{body}</{tag}>",
            escape(k),
            escape(&c.text)
        ),
        None => format!("<{tag}>{body}</{tag}>"),
    }
}

fn table(t: &Table) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in &t.header {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&cell(c, "td"));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>\n");
    s
}

/// Renders the document as one HTML page.
pub fn render(doc: &Doc) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title><style>{CSS}</style></head>\n<body><h1>{t}</h1>\n",
        t = escape(&doc.title),
        lang = doc.lang.code()
    );
    for b in &doc.blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(s, "<h{level}>{}</h{level}>", escape(text));
            }
            Block::Para(text) => {
                let _ = writeln!(s, "<p>{}</p>", escape(text));
            }
            Block::Todo(Lang::En, text) => {
                let _ = writeln!(
                    s,
                    "<p class=\"todo\"><strong>To be completed:</strong> {}</p>",
                    escape(text)
                );
            }
            Block::Todo(Lang::Ja, text) => {
                let _ = writeln!(
                    s,
                    "<p class=\"todo\"><strong>（要記入）</strong>{}</p>",
                    escape(text)
                );
            }
            Block::List(items) => {
                s.push_str("<ul>");
                for i in items {
                    let _ = write!(s, "<li>{}</li>", escape(i));
                }
                s.push_str("</ul>\n");
            }
            Block::Table(t) => s.push_str(&table(t)),
            Block::Chart { svg, table: t } => {
                let _ = write!(
                    s,
                    "<figure>{svg}</figure>\n<details><summary>{}</summary>{}</details>\n",
                    doc.lang.t("The figures of this chart", "このグラフの数値"),
                    table(t)
                );
            }
        }
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
