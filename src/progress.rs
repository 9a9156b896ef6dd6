//! How a stage tells the user what it is doing: a line, a warning, a progress bar. Stages take
//! a `&dyn Progress` and never print themselves, so the binary decides where messages go
//! (stderr, `--quiet`), a test or a benchmark passes [`Silent`], and the card detector masks
//! every message on the way out (the binary's implementation does).

use indicatif::ProgressBar;

/// The user-facing side of a running stage.
pub trait Progress: Sync {
    /// A line of progress or a result (dropped under `--quiet`).
    fn say(&self, msg: &str);
    /// A warning: something the user must look at (shown under `--quiet` too).
    fn warn(&self, msg: &str);
    /// A line shown under `--quiet` too that is not a warning: what failed and what to do
    /// next.
    fn tell(&self, msg: &str);
    /// A byte-counting progress bar over `total` bytes, when the user can see one.
    fn bytes_bar(&self, total: u64, what: &str) -> Option<ProgressBar>;
}

/// No messages, no bars: for tests, benchmarks and callers that read the stage's output.
pub struct Silent;

impl Progress for Silent {
    fn say(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn tell(&self, _: &str) {}
    fn bytes_bar(&self, _: u64, _: &str) -> Option<ProgressBar> {
        None
    }
}
