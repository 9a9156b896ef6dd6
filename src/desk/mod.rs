//! `skimtrace desk`: the contact desk. A small web application over a case folder that tells the
//! people answering the phones whether a caller is affected, which of their cards and orders,
//! which notices went to them and what to say, and records every search.
//!
//! - [`index`] reads the case folder once, streaming, into an in-memory index by every key a
//!   caller can give;
//! - [`journal`] is `desk.jsonl`, the append-only record of searches;
//! - [`operators`] holds the operators' hashed sign-in tokens, outside the case folder;
//! - [`server`] serves the pages (axum, minijinja) with sign-in, CSRF tokens, rate limits and
//!   security headers.

pub mod index;
pub mod journal;
pub mod operators;
pub mod serve;
pub mod server;
