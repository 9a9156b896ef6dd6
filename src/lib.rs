//! # skimtrace
//!
//! Incident response after a payment-page skimmer (a Magecart-style tampering of a shop's
//! checkout). The pipeline, in the order data flows:
//!
//! - [`orders`] reads the shop's order exports (CSV, UTF-8 or Shift_JIS, platform presets) and
//!   classifies every row against the [`window`];
//! - [`cards`] turns card cells into masked forms and keyed fingerprints; its one detector
//!   ([`cards::detect`]) masks card numbers in any written form in everything written;
//! - [`customers`] links the in-window card orders of one person into one affected customer;
//! - [`summary`] reconciles the counts of every input row;
//! - [`output`] writes files atomically, owner-only, formula-safe, every CSV cell and JSON string
//!   through the card detector;
//! - [`notify`] renders one notice per affected customer and sends it, exactly once, per
//!   campaign;
//! - [`diff`] compares two runs (who is new, who dropped out, who changed);
//! - [`desk`] answers "was I affected?" from a case folder, in a browser.
//!
//! [`commands`] glues the stages into the subcommands; [`cli`] only parses arguments.

pub mod access_log;
pub mod affected;
pub mod cards;
pub mod case;
pub mod cli;
pub mod commands;
pub mod config;
pub mod customers;
pub mod desk;
pub mod diff;
pub mod digest;
pub mod error;
pub mod evidence;
pub mod input;
pub mod logging;
pub mod manifest;
pub mod notify;
pub mod orders;
pub mod output;
pub mod payments;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod rules;
pub mod summary;
#[doc(hidden)]
pub mod synth;
pub mod text;
pub mod timestamp;
pub mod window;

pub use error::{Error, Result};
