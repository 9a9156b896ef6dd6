//! The index of every order read: its state ([`OrderState`]) by a 128-bit hash of its id.
//!
//! The states sit in one dense list, in the order they were first seen, and the hash table
//! holds only 4-byte positions into it. A `HashMap<u128, OrderState>` keeps its 48-byte
//! entries in buckets rounded up to a power of two above 8/7 of the orders: 1,000,000 orders
//! take 2^21 buckets, 100 MB, every page of which the kernel zeroes before use. Here the list
//! is sized to the orders (48 MB) and the table to 2^21 × 5 bytes (10 MB).

use super::OrderState;

/// Orders by the 128-bit hash of their id ([`super::order_key`]).
#[derive(Default)]
pub(super) struct OrderIndex {
    /// Positions in `entries`, hashed by the low 64 bits of the key (already a hash).
    table: hashbrown::HashTable<u32>,
    entries: Vec<(u128, OrderState)>,
}

fn hash(key: u128) -> u64 {
    key as u64
}

impl OrderIndex {
    /// Room for `n` more orders. Only an optimisation: a refused reservation is skipped.
    pub(super) fn try_reserve(&mut self, n: usize) {
        let entries = &self.entries;
        if self
            .table
            .try_reserve(n, |&i| hash(entries[i as usize].0))
            .is_ok()
        {
            let _ = self.entries.try_reserve_exact(n);
        }
    }

    fn slot(&self, key: u128) -> Option<u32> {
        self.table
            .find(hash(key), |&i| self.entries[i as usize].0 == key)
            .copied()
    }

    pub(super) fn get(&self, key: &u128) -> Option<&OrderState> {
        let i = self.slot(*key)?;
        Some(&self.entries[i as usize].1)
    }

    pub(super) fn get_mut(&mut self, key: &u128) -> Option<&mut OrderState> {
        let i = self.slot(*key)?;
        Some(&mut self.entries[i as usize].1)
    }

    pub(super) fn contains_key(&self, key: &u128) -> bool {
        self.slot(*key).is_some()
    }

    /// Sets the state of `key`, adding the order when it is new.
    pub(super) fn insert(&mut self, key: u128, state: OrderState) {
        match self.get_mut(&key) {
            Some(st) => *st = state,
            None => self.push(key, state),
        }
    }

    /// Adds the order when it is new; an order already there keeps its state.
    pub(super) fn insert_new(&mut self, key: u128, state: OrderState) {
        if !self.contains_key(&key) {
            self.push(key, state);
        }
    }

    fn push(&mut self, key: u128, state: OrderState) {
        // Four thousand million orders in one case would be beyond any export this reads.
        let i = u32::try_from(self.entries.len()).expect("fewer than 2^32 orders");
        let entries = &self.entries;
        self.table
            .insert_unique(hash(key), i, |&j| hash(entries[j as usize].0));
        self.entries.push((key, state));
    }

    /// Keeps the orders for which `keep` holds (after it has seen, and may have changed, each
    /// state). Rare (a file read again in another encoding): the table is rebuilt.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&u128, &mut OrderState) -> bool) {
        self.entries.retain_mut(|(k, st)| keep(k, st));
        self.table.clear();
        for i in 0..self.entries.len() {
            let entries = &self.entries;
            self.table
                .insert_unique(hash(entries[i].0), i as u32, |&j| {
                    hash(entries[j as usize].0)
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
        ix.get_mut(&b).expect("b").joined = 1;
        for k in 0..1000u128 {
            ix.insert_new(k << 70, state(k as u64, 1));
        }
        // Drop what file 1 added; the others stay findable after the table is rebuilt.
        ix.retain(|_, st| st.file != 1);
        assert_eq!(ix.get(&b).map(|s| (s.line, s.joined)), Some((2, 1)));
        assert_eq!(ix.get(&a).map(|s| s.line), Some(5));
        assert!(!ix.contains_key(&(5u128 << 70)));
        assert_eq!(ix.entries.len(), 2);
    }
}
