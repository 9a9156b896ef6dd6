//! Reading the inputs: which files ([`discover`]), in which encoding ([`decode`]: a BOM, valid
//! UTF-8, else Shift_JIS/CP932, decided on the whole file while it is hashed), and CSV records
//! cut safely ([`csv`]: runaway quotes bounded, bad records rejected with their line). Orders and
//! payments read their exports through here; nothing here knows what a column means.

pub mod csv;
pub mod decode;
pub mod discover;

pub use discover::{clean_path, display_name, expand_inputs, expand_inputs_noting, same_file};
