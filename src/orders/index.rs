//! The index of every order read: its state ([`OrderState`]) by a hash of its id.
//!
//! The states sit in one dense list, in the order they were first seen, packed to 40 bytes
//! ([`Entry`]), and the hash table holds only 4-byte positions into it. A
//! `HashMap<u128, OrderState>` keeps its 48-byte entries in buckets rounded up to a power of
//! two above 8/7 of the orders: 1,000,000 orders take 2^21 buckets, 100 MB, every page of
//! which the kernel zeroes before use. Here the list is sized to the orders (40 MB) and the
//! table to 2^21 × 5 bytes (10 MB).

use super::record::Class;
use super::OrderState;

/// Orders by the hash of their id ([`super::order_key`]).
#[derive(Default)]
pub(super) struct OrderIndex {
    /// Positions in `entries`, hashed by the low 64 bits of the key (already a hash).
    table: hashbrown::HashTable<u32>,
    entries: Vec<Entry>,
}

/// One order's state, packed: 40 bytes (an [`OrderState`] beside a `u128` key takes 48, the
/// key's 16-byte alignment padding the state).
///
/// The key is the low 96 bits of the id's 128-bit hash: two of 10,000,000 distinct ids share
/// them with a chance of about 6 in 10^16 (n² / 2^97), against about 1 in 370,000 for 64
/// bits. The line and the three flags share 64 bits: lines up to 2^56.
#[derive(Clone, Copy)]
struct Entry {
    key: [u32; 3],
    email: u32,
    login: u32,
    when: u32,
    file: u32,
    joined: u32,
    /// `line << 8 | more << 3 | card << 2 | class`, as two halves (4-byte alignment).
    line_flags: [u32; 2],
}

/// The low 96 bits of a key, as the index keeps them.
fn short(key: u128) -> [u32; 3] {
    [key as u32, (key >> 32) as u32, (key >> 64) as u32]
}

fn hash(key: &[u32; 3]) -> u64 {
    u64::from(key[0]) | u64::from(key[1]) << 32
}

const CLASSES: [Class; 4] = [
    Class::InWindow,
    Class::OutOfWindow,
    Class::NotCard,
    Class::Rejected,
];

impl Entry {
    fn pack(key: [u32; 3], st: &OrderState) -> Entry {
        let class = CLASSES.iter().position(|&c| c == st.class).unwrap_or(0) as u64;
        // Lines beyond 2^56 (no file has them) keep their low 56 bits.
        let v = st.line << 8 | u64::from(st.more) << 3 | u64::from(st.card) << 2 | class;
        Entry {
            key,
            email: st.email,
            login: st.login,
            when: st.when,
            file: st.file,
            joined: st.joined,
            line_flags: [v as u32, (v >> 32) as u32],
        }
    }

    fn state(&self) -> OrderState {
        let v = u64::from(self.line_flags[0]) | u64::from(self.line_flags[1]) << 32;
        OrderState {
            class: CLASSES[(v & 3) as usize],
            card: v & 4 != 0,
            more: v & 8 != 0,
            email: self.email,
            login: self.login,
            when: self.when,
            file: self.file,
            line: v >> 8,
            joined: self.joined,
        }
    }
}

impl OrderIndex {
    /// Room for `n` more orders. Only an optimisation: a refused reservation is skipped.
    pub(super) fn try_reserve(&mut self, n: usize) {
        let entries = &self.entries;
        if self
            .table
            .try_reserve(n, |&i| hash(&entries[i as usize].key))
            .is_ok()
        {
            let _ = self.entries.try_reserve_exact(n);
        }
    }

    fn slot(&self, key: u128) -> Option<u32> {
        let k = short(key);
        self.table
            .find(hash(&k), |&i| self.entries[i as usize].key == k)
            .copied()
    }

    pub(super) fn get(&self, key: &u128) -> Option<OrderState> {
        let i = self.slot(*key)?;
        Some(self.entries[i as usize].state())
    }

    /// Changes the state of `key` with `f` (which sees it unpacked); `None` when the order
    /// is not there.
    pub(super) fn update<R>(
        &mut self,
        key: &u128,
        f: impl FnOnce(&mut OrderState) -> R,
    ) -> Option<R> {
        let i = self.slot(*key)? as usize;
        let e = &mut self.entries[i];
        let mut st = e.state();
        let r = f(&mut st);
        *e = Entry::pack(e.key, &st);
        Some(r)
    }

    pub(super) fn contains_key(&self, key: &u128) -> bool {
        self.slot(*key).is_some()
    }

    /// Sets the state of `key`, adding the order when it is new.
    #[cfg(test)]
    pub(super) fn insert(&mut self, key: u128, state: OrderState) {
        if self.update(&key, |st| *st = state).is_none() {
            self.push(key, state);
        }
    }

    /// Adds the order when it is new; an order already there keeps its state.
    pub(super) fn insert_new(&mut self, key: u128, state: OrderState) {
        if !self.contains_key(&key) {
            self.push(key, state);
        }
    }

    /// Adds an order the caller has just looked up and not found (one probe of the table
    /// fewer than [`OrderIndex::insert`]).
    pub(super) fn push_new(&mut self, key: u128, state: OrderState) {
        debug_assert!(!self.contains_key(&key), "a new order");
        self.push(key, state);
    }

    fn push(&mut self, key: u128, state: OrderState) {
        // Four thousand million orders in one case would be beyond any export this reads.
        let i = u32::try_from(self.entries.len()).expect("fewer than 2^32 orders");
        let k = short(key);
        let entries = &self.entries;
        self.table
            .insert_unique(hash(&k), i, |&j| hash(&entries[j as usize].key));
        self.entries.push(Entry::pack(k, &state));
    }

    /// Keeps the orders for which `keep` holds (after it has seen, and may have changed, each
    /// state). Rare (a file read again in another encoding): the table is rebuilt.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&mut OrderState) -> bool) {
        self.entries.retain_mut(|e| {
            let mut st = e.state();
            let kept = keep(&mut st);
            *e = Entry::pack(e.key, &st);
            kept
        });
        self.table.clear();
        for i in 0..self.entries.len() {
            let entries = &self.entries;
            self.table
                .insert_unique(hash(&entries[i].key), i as u32, |&j| {
                    hash(&entries[j as usize].key)
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::record::Class;

    fn state(line: u64, file: u32) -> OrderState {
        OrderState {
            class: Class::InWindow,
            card: true,
            more: false,
            email: 1,
            login: 2,
            when: 3,
            file,
            line,
            joined: file,
        }
    }

    #[test]
    fn finds_sets_and_forgets_orders_by_key() {
        let mut ix = OrderIndex::default();
        ix.try_reserve(4);
        // Keys that share their low 64 bits (the table's hash) are still told apart.
        let (a, b, c) = (7u128, 7u128 | (1 << 64), 9u128);
        ix.insert(a, state(1, 0));
        ix.insert(b, state(2, 0));
        ix.insert_new(a, state(99, 0));
        assert_eq!(ix.get(&a).map(|s| s.line), Some(1));
        assert_eq!(ix.get(&b).map(|s| s.line), Some(2));
        assert!(!ix.contains_key(&c));
        ix.insert(a, state(5, 0));
        assert_eq!(ix.get(&a).map(|s| s.line), Some(5));
        assert_eq!(ix.update(&b, |st| st.joined = 1), Some(()));
        assert_eq!(ix.update(&c, |st| st.joined = 1), None);
        for k in 0..1000u128 {
            ix.insert_new(k << 70, state(k as u64, 1));
        }
        // Drop what file 1 added; the others stay findable after the table is rebuilt.
        ix.retain(|st| st.file != 1);
        assert_eq!(ix.get(&b).map(|s| (s.line, s.joined)), Some((2, 1)));
        assert_eq!(ix.get(&a).map(|s| s.line), Some(5));
        assert!(!ix.contains_key(&(5u128 << 70)));
        assert_eq!(ix.entries.len(), 2);
    }

    /// Every class and flag, and lines up to 2^56 - 1, come back from the packed entry as
    /// they went in; an entry is 40 bytes.
    #[test]
    fn a_state_round_trips_through_its_packed_entry() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        for class in CLASSES {
            for (card, more) in [(false, false), (true, false), (false, true), (true, true)] {
                for line in [0, 1, 255, 256, u64::from(u32::MAX) + 1, (1 << 56) - 1] {
                    let st = OrderState {
                        class,
                        card,
                        more,
                        email: 0xdead_beef,
                        login: u32::MAX,
                        when: 7,
                        file: u32::MAX - 1,
                        line,
                        joined: 3,
                    };
                    let back = Entry::pack(short(5), &st).state();
                    assert_eq!(format!("{back:?}"), format!("{st:?}"));
                }
            }
        }
        // The key keeps its low 96 bits.
        assert_eq!(short(u128::MAX), [u32::MAX; 3]);
        assert_eq!(short(1 << 95), [0, 0, 1 << 31]);
        assert_eq!(short(1 << 96), [0, 0, 0]);
    }
}
