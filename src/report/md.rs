//! `report.md`: the same document as Markdown, for pasting into the regulator's form, a ticket
//! or a letter. Charts become their figure tables. Text from the inputs is escaped so that it
//! cannot break a table or turn into markup where the Markdown is rendered.

use super::doc::{Block, Cell, Doc, Table};
use super::lang::Lang;
use std::fmt::Write;

/// Escapes text for a Markdown paragraph or table cell: `|`, the characters Markdown gives
/// meaning to, and `<`/`>` (so no tag reaches a renderer); line breaks become spaces. A bare `&`
/// is left alone: it is text in Markdown, and the file stays readable as plain text.
///
/// Card numbers are masked first (the one detector, [`crate::cards::detect`]): every text of the
/// report passes here.
pub fn escape(s: &str) -> String {
    let s = crate::cards::detect::mask(s).0;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '`' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn cell(c: &Cell) -> String {
    if c.code && !c.text.contains('`') {
        format!(
            "`{}`",
            crate::cards::detect::mask(&c.text)
                .0
                .replace('|', "\\|")
                .replace(['\r', '\n'], " ")
        )
    } else {
        escape(c.visible())
    }
}

fn table(s: &mut String, t: &Table) {
    let _ = writeln!(
        s,
        "| {} |",
        t.header
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|{}", "---|".repeat(t.header.len()));
    for r in &t.rows {
        let _ = writeln!(
            s,
            "| {} |",
            r.iter().map(cell).collect::<Vec<_>>().join(" | ")
        );
    }
    s.push('\n');
}

/// Renders the document as Markdown.
pub fn render(doc: &Doc) -> String {
    let mut s = format!("# {}\n\n", escape(&doc.title));
    for b in &doc.blocks {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(s, "{} {}\n", "#".repeat(*level as usize), escape(text));
            }
            Block::Para(text) => {
                let _ = writeln!(s, "{}\n", escape(text));
            }
            Block::Todo(Lang::En, text) => {
                let _ = writeln!(s, "> **To be completed:** {}\n", escape(text));
            }
            // Plain text, so that it pastes into the PPC's form as it reads.
            Block::Todo(Lang::Ja, text) => {
                let _ = writeln!(s, "（要記入）{}\n", escape(text));
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(s, "- {}", escape(i));
                }
                s.push('\n');
            }
            Block::Table(t) | Block::Chart { table: t, .. } => table(&mut s, t),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_cannot_break_tables_or_inject_html() {
        assert_eq!(super::escape("a|b\n<img>"), "a\\|b &lt;img&gt;");
    }
}
