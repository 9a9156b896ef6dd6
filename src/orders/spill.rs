//! Kept orders written to disk while the order files are read, and read back once the index
//! of every order is gone.
//!
//! The reading holds two things that grow with the orders: the index of every order read
//! (40 bytes each, most of them outside the window) and the in-window card orders kept for
//! the outputs (about 200 bytes each). Linking and writing need only the second, and only
//! after the index is dropped. So, when a stage asks for it ([`super::Ingest::spill_kept_to`]),
//! each kept order goes to an unnamed file in the case's output folder as it is classified,
//! and [`super::Ingest::load_kept`] reads them back, in the same order, once the index is
//! dropped: the two never share the memory. At 1,000,000 rows the reading's peak loses the
//! kept orders' 60 MB; at 10,000,000, 600 MB.
//!
//! The file is created unnamed (`O_TMPFILE` where the system has it, else unlinked at once),
//! so that nothing is left behind should the run be stopped, and nothing else can open it. It
//! holds what the kept records hold: masked cards and keyed fingerprints, never a full number.

use super::record::OrderRecord;
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes gathered before they are written.
const BUFFER: usize = 1 << 20;

/// Records per piece read back (a piece is decoded on one core: about 1.4 MB of file and
/// 1 MB of records).
const PIECE: usize = 8192;

/// The kept orders written so far.
pub(super) struct Spill {
    out: BufWriter<File>,
    /// The folder the file is in (for errors: the file itself has no name).
    dir: PathBuf,
    /// Records and bytes written.
    records: usize,
    bytes: u64,
    /// Where each piece of [`PIECE`] records starts.
    starts: Vec<u64>,
    /// One record's bytes, reused.
    scratch: Vec<u8>,
}

/// A place in the spill to go back to ([`Spill::rewind`]).
#[derive(Clone, Copy)]
pub(super) struct Mark {
    records: usize,
    bytes: u64,
}

impl Spill {
    /// A new, empty spill in `dir`.
    pub(super) fn create(dir: &Path) -> Result<Spill> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Spill {
            out: BufWriter::with_capacity(BUFFER, file),
            dir: dir.to_path_buf(),
            records: 0,
            bytes: 0,
            starts: Vec::new(),
            scratch: Vec::new(),
        })
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::io(&self.dir, e)
    }

    pub(super) fn push(&mut self, o: &OrderRecord) -> Result<()> {
        self.scratch.clear();
        o.encode(&mut self.scratch);
        let len = self.scratch.len() as u64;
        if self.records.is_multiple_of(PIECE) {
            self.starts.push(self.bytes);
        }
        let r = self.out.write_all(&self.scratch);
        r.map_err(|e| self.io(e))?;
        self.records += 1;
        self.bytes += len;
        Ok(())
    }

    pub(super) fn mark(&self) -> Mark {
        Mark {
            records: self.records,
            bytes: self.bytes,
        }
    }

    /// Forgets every record written after `m` (a file that is read again).
    pub(super) fn rewind(&mut self, m: Mark) -> Result<()> {
        let r = self.out.flush().and_then(|()| {
            let f = self.out.get_mut();
            f.set_len(m.bytes)?;
            f.seek(SeekFrom::Start(m.bytes)).map(|_| ())
        });
        r.map_err(|e| self.io(e))?;
        self.records = m.records;
        self.bytes = m.bytes;
        // A piece that starts at the mark starts again with the next record.
        self.starts.retain(|&b| b < m.bytes);
        Ok(())
    }

    /// Every record written, in the order written; the file goes with the spill. Pieces of
    /// [`PIECE`] records are read in turn and decoded on every core, a few at a time.
    pub(super) fn load(mut self) -> Result<Vec<OrderRecord>> {
        self.starts.push(self.bytes);
        let Spill {
            out,
            dir,
            records,
            starts,
            ..
        } = self;
        let io = |e: std::io::Error| Error::io(&dir, e);
        let broken = || {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the kept orders spilled to disk do not read back whole",
            ))
        };
        let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let pieces: Vec<(u64, u64)> = starts.windows(2).map(|w| (w[0], w[1])).collect();
        let at_once = 2 * rayon::current_num_threads().max(1);
        // The pieces' bytes and records are read into the same buffers each time: buffers
        // freed and made anew went back to the system and were zeroed again by the kernel for
        // each piece (a fault a page: 15,000 at 1,000,000 rows).
        let mut bufs: Vec<(Vec<u8>, Vec<OrderRecord>)> = (0..at_once)
            .map(|_| (Vec::new(), Vec::with_capacity(PIECE)))
            .collect();
        let mut loaded = Vec::with_capacity(records);
        for group in pieces.chunks(at_once) {
            for ((buf, _), &(from, to)) in bufs.iter_mut().zip(group) {
                buf.resize((to - from) as usize, 0);
                file.read_exact(buf).map_err(io)?;
            }
            let whole: Vec<bool> = bufs[..group.len()]
                .par_iter_mut()
                .map(|(b, into)| decode_all(b, into))
                .collect();
            for ((_, piece), whole) in bufs.iter_mut().zip(whole) {
                if !whole {
                    return Err(broken());
                }
                loaded.append(piece);
            }
        }
        if loaded.len() != records {
            return Err(broken());
        }
        Ok(loaded)
    }
}

/// Every record of one piece, into `into` (emptied first); `false` unless the bytes are whole
/// records.
fn decode_all(mut buf: &[u8], into: &mut Vec<OrderRecord>) -> bool {
    into.clear();
    while !buf.is_empty() {
        let Some((o, used)) = OrderRecord::decode(buf) else {
            return false;
        };
        into.push(o);
        buf = &buf[used..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::{Brand, FingerprintKey, KeySource};
    use crate::orders::{card_info, CardCheck, CardInfo, EntryKind, FacetsId, TextsOf};
    use jiff::Timestamp;

    /// A record of every shape: each kind, with and without a card, a fingerprint and an
    /// expiry, optional texts there or not, empty and long texts, times before 1970.
    fn record(n: u64) -> OrderRecord {
        let key = FingerprintKey::new(b"unit-test-key-0123456789".to_vec(), KeySource::Env);
        let card: Option<CardInfo> = match n % 4 {
            0 => None,
            1 => card_info("4111111111111111", "", &key),
            2 => card_info("3530 11** **** 0000", "JCB", &key),
            _ => Some(CardInfo {
                brand: Brand::Amex,
                masked: "**** 0005".into(),
                fingerprint: None,
                check: CardCheck::Gateway,
                expiry: Some("12/2029".into()),
            }),
        };
        // Record 7's name alone is larger than the loader's buffer.
        let name = match n {
            7 => "名".repeat(400_000),
            _ => "名".repeat(n as usize % 3),
        };
        let email = format!("p{n}@example.jp");
        let texts = TextsOf {
            order_id: if n.is_multiple_of(5) { "" } else { "A-1" },
            entry_ref: if n.is_multiple_of(5) { "ch_1" } else { "" },
            session: n.is_multiple_of(2).then_some("sess"),
            amount: "1,980",
            email: (!n.is_multiple_of(3)).then_some(email.as_str()),
            login: n.is_multiple_of(7).then_some("M7"),
            name: &name,
            phone: (n % 2 == 1).then_some("03-1234-5678"),
        };
        let kinds = [
            EntryKind::Order,
            EntryKind::Payment,
            EntryKind::PaymentForOrder,
            EntryKind::Checkout,
        ];
        let secs = 1_600_000_000 - (n as i64 % 2) * 1_700_000_000;
        let mut o = OrderRecord::new(
            kinds[n as usize % 4],
            n as u32,
            n * 1_000_003,
            Timestamp::new(secs, -((n as i32 % 2) * 5)).unwrap(),
            FacetsId::PENDING,
            &texts,
            card.as_ref(),
        );
        if n % 9 == 5 {
            o.clear_card();
        }
        o
    }

    /// Records come back field for field and in order, a rewind forgets what followed its
    /// mark (a file read again), and texts larger than the read buffer come back whole.
    #[test]
    fn records_come_back_whole_after_a_rewind() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::create(dir.path()).unwrap();
        let mut want = Vec::new();
        for n in 0..20 {
            s.push(&record(n)).unwrap();
            want.push(format!("{:?}", record(n)));
        }
        let m = s.mark();
        for n in 100..130 {
            s.push(&record(n)).unwrap();
        }
        s.rewind(m).unwrap();
        for n in 200..240 {
            s.push(&record(n)).unwrap();
            want.push(format!("{:?}", record(n)));
        }
        // Nothing is left in the folder: the file has no name.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let got: Vec<String> = s.load().unwrap().iter().map(|o| format!("{o:?}")).collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w);
        }
        assert!(want.iter().any(|w| w.contains("Gateway")));
        assert!(want.iter().any(|w| w.contains("fingerprint: Some")));
        assert!(want[7].len() > BUFFER);
        assert!(
            want.len() < PIECE,
            "one piece here; the next test takes several"
        );
    }

    /// A record cut anywhere does not decode (the loader then reads on), and never panics.
    #[test]
    fn a_cut_record_does_not_decode() {
        let mut buf = Vec::new();
        record(1).encode(&mut buf);
        let (o, used) = OrderRecord::decode(&buf).unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(format!("{o:?}"), format!("{:?}", record(1)));
        for cut in 0..buf.len() {
            assert!(OrderRecord::decode(&buf[..cut]).is_none(), "cut at {cut}");
        }
    }

    /// Several pieces, one of them cut by a rewind: the records come back in order.
    #[test]
    fn pieces_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::create(dir.path()).unwrap();
        let small = |n: u64| {
            let mut o = record(n % 4 + 20);
            o.line = n;
            o
        };
        for n in 0..PIECE as u64 + 10 {
            s.push(&small(n)).unwrap();
        }
        let m = s.mark();
        for n in 0..2 * PIECE as u64 {
            s.push(&small(1_000_000 + n)).unwrap();
        }
        s.rewind(m).unwrap();
        let more = PIECE as u64 + 10..3 * PIECE as u64 - 5;
        for n in more.clone() {
            s.push(&small(n + 5_000_000)).unwrap();
        }
        let lines: Vec<u64> = s.load().unwrap().iter().map(|o| o.line).collect();
        let want: Vec<u64> = (0..PIECE as u64 + 10)
            .chain(more.map(|n| n + 5_000_000))
            .collect();
        assert_eq!(lines, want);
    }
}
