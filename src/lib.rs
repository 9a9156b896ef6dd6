//! # skimtrace
//!
//! Incident response after a payment-page skimmer (a Magecart-style tampering of a shop's
//! checkout). Every stage is a library function of the [`case`] and its own options
//! (`stage::run(&Case, &Options, &dyn Progress)`); the binary only parses flags, calls one
//! stage and prints. The modules, in the order data flows (ARCHITECTURE.md has the picture):
//!
//! - [`config`] reads incident.toml, every section typed and checked at load; [`case`] adds
//!   the command line's overrides, the [`window`], the output folder and the key;
//! - [`input`] finds the input files, decides their encoding and cuts CSV records safely;
//! - [`orders`] classifies every row of the order exports against the window;
//! - [`payments`] joins the gateway's charges to the orders (its result is read beside them);
//! - [`cards`] masks and fingerprints card data; its one detector ([`cards::detect`]) masks card
//!   numbers in any written form in everything written;
//! - [`customers`] links the in-window entries of one person into one customer, the one
//!   record of `affected.jsonl`;
//! - [`affected`] is the stage that chains those and writes the affected lists;
//! - [`access_log`] reads web access logs; [`rules`] assembles and matches the detection rules;
//! - [`evidence`] is the stage that scans the logs and checks the window against them;
//! - [`summary`] declares summary.json once; every stage writes its keys through it;
//! - [`output`] writes files atomically, owner-only, formula-safe, through the card detector;
//!   [`digest`] hashes files; [`manifest`] records what a case folder holds;
//! - [`report`] writes the report for counsel (Japanese or English) and the PPC's items;
//! - [`notify`] renders one notice per affected customer and sends it, exactly once, per
//!   campaign;
//! - [`diff`] compares two runs; [`desk`] answers "was I affected?" at the contact desk;
//! - [`pipeline`] chains the stages into one case folder (`skimtrace run`);
//! - [`progress`], [`logging`], [`text`], [`timestamp`] and [`error`] serve every stage;
//!   [`allocator`] is the memory allocator of the binary, its benchmarks and tests.
//!
//! [`cli`] only parses arguments and [`commands`] turns them into a stage's options.

pub mod access_log;
pub mod affected;
pub mod allocator;
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
