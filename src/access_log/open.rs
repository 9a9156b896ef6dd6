//! Opening log files: plain or gzip (decided by the magic bytes, not the name), rotated sets in
//! order, and a file cut into chunks of whole lines so that several threads can parse one file.
//!
//! Memory stays flat: a file is read in chunks of about [`CHUNK`] bytes and a bounded number of
//! chunks is in flight. A line longer than [`MAX_LINE`] is not buffered whole; it is reported as
//! one malformed line (with its first bytes as a sample) and skipped.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Target size of a chunk handed to a parsing thread.
pub const CHUNK: usize = 1 << 20;
/// Longest line parsed; longer ones are counted as malformed and skipped.
pub const MAX_LINE: usize = 1 << 20;
/// How much of an overlong line the rejects sample shows.
pub const OVERLONG_SAMPLE: usize = 512;
/// How much of an overlong line is kept for its sample: more than the sample shows, so that a
/// card number that starts inside the sample and ends after it is read whole and masked before
/// the sample is cut (19 digits in the widest written form, `%EF%BC%94` with three escaped
/// separators after each, take under 700 bytes).
pub const OVERLONG_KEPT: usize = OVERLONG_SAMPLE + 4096;

/// Whether a file starts with the gzip magic bytes.
pub fn is_gzip(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = f.read(&mut magic[got..])?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(magic == [0x1f, 0x8b])
}

/// Opens a log file for reading, decompressing gzip (all members, as `zcat` does).
/// `on_read` is told how many bytes of the file (compressed, for gzip) were read, for a
/// progress bar.
pub fn open(
    path: &Path,
    on_read: Option<Box<dyn Fn(u64) + Send>>,
) -> io::Result<(Box<dyn Read + Send>, bool)> {
    let gz = is_gzip(path)?;
    let f = Counting {
        inner: File::open(path)?,
        on_read,
    };
    if gz {
        Ok((
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f))),
            true,
        ))
    } else {
        Ok((Box::new(f), false))
    }
}

/// A reader that reports how much it read.
struct Counting<R> {
    inner: R,
    on_read: Option<Box<dyn Fn(u64) + Send>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(f) = &self.on_read {
            f(n as u64);
        }
        Ok(n)
    }
}

/// Orders files so that rotated sets read oldest first: `access.log.3.gz`, `access.log.2.gz`,
/// `access.log.1`, `access.log` (logrotate's numbering), and `access.log-20211220.gz`,
/// `access.log-20211221`, `access.log` (its `dateext`); other files keep their name order.
pub fn rotation_order(files: &mut [(PathBuf, String)]) {
    files.sort_by_cached_key(|f| rotation_key(&f.0));
}

/// (set, class, rank, name): class 0 dated members by date, 1 numbered members from the
/// highest number down, 2 the live file.
fn rotation_key(p: &Path) -> (PathBuf, u8, std::cmp::Reverse<u64>, String) {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let (base, class, n) = match (stem.rsplit_once('.'), stem.rsplit_once('-')) {
        (Some((b, num)), _) if digits(num) && num.len() < 8 => {
            (b.to_string(), 1, num.parse::<u64>().unwrap_or(u64::MAX))
        }
        (_, Some((b, date))) if digits(date) && (8..=10).contains(&date.len()) => {
            (b.to_string(), 0, 0)
        }
        _ => (stem.to_string(), 2, 0),
    };
    (
        p.with_file_name(base),
        class,
        std::cmp::Reverse(n),
        name.to_string(),
    )
}

/// A piece of a file handed to a parser.
pub enum Chunk {
    /// Whole lines (the last one may lack its newline at the end of the file).
    Lines(Vec<u8>),
    /// One line longer than [`MAX_LINE`]: its first [`OVERLONG_KEPT`] bytes, unmasked (the
    /// scan masks them, then cuts them to [`OVERLONG_SAMPLE`]), and its length.
    Overlong { sample: Vec<u8>, len: u64 },
}

impl Chunk {
    /// How many lines the chunk holds, counted as the scan counts them: every newline ends
    /// one, and a last line without its newline is one more.
    pub fn lines(&self) -> u64 {
        match self {
            Chunk::Lines(d) => {
                let newlines = memchr::memchr_iter(b'\n', d).count() as u64;
                newlines + u64::from(d.last().is_some_and(|&b| b != b'\n'))
            }
            Chunk::Overlong { .. } => 1,
        }
    }
}

/// Cuts a stream into chunks of whole lines, in order.
pub struct Chunker<R> {
    r: R,
    /// Bytes read at a time, and the size a chunk reaches before it is cut.
    chunk: usize,
    /// Buffers of chunks already handed out and done with, to read the next ones into.
    spares: Option<mpsc::Receiver<Vec<u8>>>,
    /// The bytes read and not yet handed out are `carry[..filled]`. The rest of `carry` was
    /// written before (zeros or an earlier chunk's bytes) and is read over again: zeroing a
    /// megabyte for every chunk only for `read` to overwrite it cost as much as the reading.
    carry: Vec<u8>,
    filled: usize,
    eof: bool,
    /// A read error met after some bytes: those bytes are handed out first, then the error.
    pending: Option<io::Error>,
    /// Bytes read from the (decompressed) stream so far.
    pub bytes: u64,
}

impl<R: Read> Chunker<R> {
    /// Cuts `r` into chunks of about `chunk` bytes ([`CHUNK`] unless a caller needs more).
    pub fn new(r: R, chunk: usize) -> Self {
        Chunker {
            r,
            chunk,
            spares: None,
            carry: Vec::new(),
            filled: 0,
            eof: false,
            pending: None,
            bytes: 0,
        }
    }

    /// Takes buffers back from the chunks' consumer (see `Chunker::spares`).
    pub fn with_spares(mut self, spares: mpsc::Receiver<Vec<u8>>) -> Self {
        self.spares = Some(spares);
        self
    }

    /// A buffer with room for a chunk: a returned one if any (its old bytes still in it, to be
    /// read over), else a new one.
    fn buffer(&mut self) -> Vec<u8> {
        let mut b = self
            .spares
            .as_ref()
            .and_then(|r| r.try_recv().ok())
            .unwrap_or_default();
        b.reserve(self.chunk.saturating_sub(b.len()));
        b
    }

    fn fill(&mut self, want: usize) -> io::Result<()> {
        let start = self.filled;
        if self.carry.len() < start + want {
            // Only the part never written before is zeroed.
            self.carry.resize(start + want, 0);
        }
        let mut got = 0;
        while got < want {
            match self.r.read(&mut self.carry[start + got..start + want]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Keep what was read (a truncated gzip still gives its lines); report the
                    // error once those are handed out.
                    self.pending = Some(e);
                    self.eof = true;
                    break;
                }
            }
        }
        self.filled = start + got;
        self.bytes += got as u64;
        Ok(())
    }

    /// The next chunk, `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        loop {
            if !self.eof && self.filled < self.chunk {
                // Up to the chunk size, not past it: a buffer handed back has room for a chunk,
                // and growing it would take fresh pages from the kernel for every chunk.
                self.fill(self.chunk - self.filled)?;
            }
            if self.filled == 0 {
                return match self.pending.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            if let Some(nl) = memchr::memrchr(b'\n', &self.carry[..self.filled]) {
                // The partial line after the last newline starts the next chunk.
                let tail = self.filled - (nl + 1);
                let mut rest = self.buffer();
                if rest.len() < tail {
                    rest.resize(tail, 0);
                }
                rest[..tail].copy_from_slice(&self.carry[nl + 1..self.filled]);
                let mut lines = std::mem::replace(&mut self.carry, rest);
                lines.truncate(nl + 1);
                self.filled = tail;
                return Ok(Some(Chunk::Lines(lines)));
            }
            if self.eof {
                let mut lines = std::mem::take(&mut self.carry);
                lines.truncate(self.filled);
                self.filled = 0;
                return Ok(Some(Chunk::Lines(lines)));
            }
            if self.filled >= MAX_LINE {
                return self.skip_overlong().map(Some);
            }
            // A long line: read more until its newline shows up.
            self.fill(CHUNK)?;
        }
    }

    /// Drops the rest of an overlong line (up to its newline), keeping a sample.
    fn skip_overlong(&mut self) -> io::Result<Chunk> {
        let sample = self.carry[..OVERLONG_KEPT.min(self.filled)].to_vec();
        let mut len = self.filled as u64;
        self.filled = 0;
        loop {
            self.fill(CHUNK)?;
            if let Some(nl) = memchr::memchr(b'\n', &self.carry[..self.filled]) {
                len += nl as u64;
                self.carry.copy_within(nl + 1..self.filled, 0);
                self.filled -= nl + 1;
                return Ok(Chunk::Overlong { sample, len });
            }
            len += self.filled as u64;
            self.filled = 0;
            if self.eof {
                return Ok(Chunk::Overlong { sample, len });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_sets_oldest_first() {
        let mut v: Vec<(PathBuf, String)> = [
            "logs/access.log",
            "logs/access.log.1",
            "logs/access.log.10.gz",
            "logs/access.log.2.gz",
            "logs/error.log",
        ]
        .iter()
        .map(|s| (PathBuf::from(s), s.to_string()))
        .collect();
        rotation_order(&mut v);
        let names: Vec<&str> = v.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            names,
            [
                "logs/access.log.10.gz",
                "logs/access.log.2.gz",
                "logs/access.log.1",
                "logs/access.log",
                "logs/error.log"
            ]
        );
        let mut v: Vec<(PathBuf, String)> = [
            "a/shop.log",
            "a/shop.log-20211221",
            "a/shop.log-20211219.gz",
            "a/shop.log-20211220.gz",
        ]
        .iter()
        .map(|s| (PathBuf::from(s), s.to_string()))
        .collect();
        rotation_order(&mut v);
        let names: Vec<&str> = v.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            names,
            [
                "a/shop.log-20211219.gz",
                "a/shop.log-20211220.gz",
                "a/shop.log-20211221",
                "a/shop.log"
            ]
        );
    }

    #[test]
    fn chunks_keep_whole_lines_and_cut_overlong_ones() {
        let mut data = Vec::new();
        for i in 0..200_000 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        data.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE + 10));
        data.extend_from_slice(b"\nlast");
        let mut c = Chunker::new(&data[..], CHUNK);
        let (mut lines, mut overlong) = (0, 0);
        while let Some(ch) = c.next_chunk().unwrap() {
            match ch {
                Chunk::Lines(b) => {
                    assert!(b.ends_with(b"\n") || b.ends_with(b"last"));
                    lines += b.split(|&x| x == b'\n').filter(|l| !l.is_empty()).count();
                }
                Chunk::Overlong { len, sample } => {
                    overlong += 1;
                    assert_eq!(len, (3 * MAX_LINE + 10) as u64);
                    assert_eq!(sample.len(), OVERLONG_KEPT);
                }
            }
        }
        assert_eq!((lines, overlong), (200_001, 1));
        assert_eq!(c.bytes, data.len() as u64);
    }

    /// Buffers handed back (dirty, of any size) are reused without changing a byte of what
    /// the chunks hold, and every line keeps its place.
    #[test]
    fn returned_buffers_are_reused_cleanly() {
        let text: String = (0..20_000)
            .map(|i| format!("line {i} {}\n", "x".repeat(i % 97)))
            .collect();
        let (tx, rx) = mpsc::channel();
        let mut c = Chunker::new(text.as_bytes(), 4096).with_spares(rx);
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = c.next_chunk().unwrap() {
            let Chunk::Lines(mut b) = chunk else {
                panic!("no overlong line here")
            };
            assert_eq!(b.last(), Some(&b'\n'));
            got.extend_from_slice(&b);
            chunks += 1;
            b.iter_mut().for_each(|x| *x = b'#');
            b.truncate(chunks % 7);
            tx.send(b).unwrap();
        }
        assert!(chunks > 100, "{chunks}");
        assert_eq!(String::from_utf8(got).unwrap(), text);
    }

    /// A reader that gives a few bytes at a time (a pipe, a gzip member boundary): whole lines
    /// still, in order, with buffers handed back dirty, and an overlong line in the middle.
    #[test]
    fn short_reads_and_reused_buffers() {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 += 1;
                let n = buf.len().min(self.0.len()).min(1 + self.1 % 300);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut text: Vec<u8> = (0..5_000)
            .flat_map(|i| format!("line {i} {}\n", "y".repeat(i % 500)).into_bytes())
            .collect();
        let keep = text.clone();
        text.extend(std::iter::repeat_n(b'z', 3 * MAX_LINE + 10));
        text.extend_from_slice(b"\nafter\n");
        let (tx, rx) = mpsc::channel();
        let mut c = Chunker::new(Trickle(&text, 0), 4096).with_spares(rx);
        let (mut got, mut overlong) = (Vec::new(), Vec::new());
        while let Some(chunk) = c.next_chunk().unwrap() {
            match chunk {
                Chunk::Lines(mut b) => {
                    assert_eq!(b.last(), Some(&b'\n'));
                    got.extend_from_slice(&b);
                    b.iter_mut().for_each(|x| *x = b'#');
                    tx.send(b).unwrap();
                }
                Chunk::Overlong { len, .. } => overlong.push((got.len(), len)),
            }
        }
        let mut want = keep.clone();
        want.extend_from_slice(b"after\n");
        let differ = got.iter().zip(&want).position(|(a, b)| a != b);
        assert_eq!((got.len(), differ), (want.len(), None));
        assert_eq!(overlong, [(keep.len(), (3 * MAX_LINE + 10) as u64)]);
        assert_eq!(c.bytes, text.len() as u64);
    }
}
