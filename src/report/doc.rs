//! The report as a small document model, built once ([`super::build`]) and written twice
//! ([`super::html`], [`super::md`]), so the HTML and the Markdown can never disagree on a figure.

/// A figure or a piece of text in a table. `key` is the summary.json path the value was read
/// from: the HTML carries it as `data-key`, so a test (or an auditor) can check every figure.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub key: Option<String>,
    /// Shown as code (file names, summary.json keys).
    pub code: bool,
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
        }
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
    /// Something only a person can say: shown as "To be completed: …".
    Todo(String),
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
        self.blocks.push(Block::Todo(t.into()));
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
