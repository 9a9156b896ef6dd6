//! The report as a small document model, built once ([`super::build`]) and written twice
//! ([`super::html`], [`super::md`]), so the HTML and the Markdown can never disagree on a figure.

use super::lang::Lang;

/// A figure or a piece of text in a table. `key` is the summary.json path the value was read
/// from: the HTML carries it as `data-key`, so a test (or an auditor) can check every figure.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub key: Option<String>,
    /// Shown as code (file names, summary.json keys).
    pub code: bool,
    /// What a reader sees when it differs from the figure (a date in the report's language);
    /// the HTML keeps the figure itself in `data-value`.
    pub shown: Option<String>,
}

impl Cell {
    pub fn text(t: impl Into<String>) -> Cell {
        Cell {
            text: t.into(),
            ..Cell::default()
        }
    }
    pub fn code(t: impl Into<String>) -> Cell {
        Cell {
            text: t.into(),
            code: true,
            ..Cell::default()
        }
    }
    pub fn figure(value: impl ToString, key: impl Into<String>) -> Cell {
        Cell {
            text: value.to_string(),
            key: Some(key.into()),
            code: false,
            shown: None,
        }
    }
    /// A figure shown in another form (`2022年2月5日` for `2022-02-05`).
    pub fn figure_shown(value: impl ToString, key: impl Into<String>, shown: String) -> Cell {
        let value = value.to_string();
        Cell {
            shown: (shown != value).then_some(shown),
            ..Cell::figure(value, key)
        }
    }
    /// The text a reader sees.
    pub fn visible(&self) -> &str {
        self.shown.as_deref().unwrap_or(&self.text)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone)]
pub enum Block {
    /// A section heading (level 2) or a sub-heading (level 3).
    Heading(u8, String),
    Para(String),
    /// Something only a person can say: shown as "To be completed: …" (`en`) or
    /// "（要記入）…" (`ja`), in the language given (the PPC items are Japanese in either report).
    Todo(Lang, String),
    List(Vec<String>),
    Table(Table),
    /// An SVG chart (HTML) with the figures it draws (a table in both formats).
    Chart {
        svg: String,
        table: Table,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub title: String,
    /// The document's language: `<html lang>`, the prompts, the charts' "figures" summary.
    pub lang: Lang,
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn h2(&mut self, t: impl Into<String>) {
        self.blocks.push(Block::Heading(2, t.into()));
    }
    pub fn h3(&mut self, t: impl Into<String>) {
        self.blocks.push(Block::Heading(3, t.into()));
    }
    pub fn p(&mut self, t: impl Into<String>) {
        self.blocks.push(Block::Para(t.into()));
    }
    pub fn todo(&mut self, t: impl Into<String>) {
        self.blocks.push(Block::Todo(self.lang, t.into()));
    }
    /// A prompt in Japanese whatever the document's language (the PPC's items).
    pub fn todo_ja(&mut self, t: impl Into<String>) {
        self.blocks.push(Block::Todo(Lang::Ja, t.into()));
    }
    pub fn list(&mut self, items: Vec<String>) {
        if !items.is_empty() {
            self.blocks.push(Block::List(items));
        }
    }
    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<Cell>>) {
        self.blocks.push(Block::Table(Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows,
        }));
    }
}
