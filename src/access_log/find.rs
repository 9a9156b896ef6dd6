//! Byte searches sized for the fields of a log line. Most fields are short (the address, the
//! user, the time, the status, the size: under 16 bytes to their end), and `memchr`, built for
//! long haystacks, costs a call and its set-up for each: a dozen per line. Here the first 16
//! bytes are compared at once, inline, and only a longer field goes on to `memchr`.

/// The first `needle` in `hay`.
#[inline]
pub fn byte(needle: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(head) = hay.first_chunk::<16>() {
        // SAFETY: SSE2 is part of the x86-64 baseline: every processor this runs on has it.
        let m = unsafe { sse2::eq(head, needle, needle) };
        if m != 0 {
            return Some(m.trailing_zeros() as usize);
        }
        return memchr::memchr(needle, &hay[16..]).map(|i| i + 16);
    }
    memchr::memchr(needle, hay)
}

/// The first `a` or `b` in `hay`.
#[inline]
pub fn byte2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(head) = hay.first_chunk::<16>() {
        // SAFETY: as in `byte`.
        let m = unsafe { sse2::eq(head, a, b) };
        if m != 0 {
            return Some(m.trailing_zeros() as usize);
        }
        return memchr::memchr2(a, b, &hay[16..]).map(|i| i + 16);
    }
    memchr::memchr2(a, b, hay)
}

/// Whether `hay` starts with `lit`. The literals between fields are a byte or three (`" "`,
/// `"\" \""`): compared inline rather than by a call to `memcmp`.
#[inline]
pub fn starts_with(hay: &[u8], lit: &[u8]) -> bool {
    match *lit {
        [a] => hay.first() == Some(&a),
        [a, b] => hay.first_chunk::<2>() == Some(&[a, b]),
        [a, b, c] => hay.first_chunk::<3>() == Some(&[a, b, c]),
        _ => hay.starts_with(lit),
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// Bit `i` set when byte `i` of `b` is `x` or `y`.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub fn eq(b: &[u8; 16], x: u8, y: u8) -> u32 {
        // SAFETY: `b` is 16 readable bytes; the load is unaligned.
        let v = unsafe { _mm_loadu_si128(b.as_ptr().cast()) };
        let m = _mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(x as i8)),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(y as i8)),
        );
        _mm_movemask_epi8(m) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, cases: 3000, ..Default::default() })]
        /// The same answers as `memchr`, `memchr2` and `starts_with`, at every length around
        /// the 16 bytes compared inline.
        #[test]
        fn same_as_memchr(
            hay in proptest::collection::vec(prop_oneof![
                4 => proptest::sample::select(b"ab \"\\]".to_vec()),
                1 => any::<u8>(),
            ], 0..40),
            a in proptest::sample::select(b" \"\\]a".to_vec()),
            b in proptest::sample::select(b" \"\\]x".to_vec()),
            lit in proptest::collection::vec(proptest::sample::select(b"ab \"".to_vec()), 1..5),
        ) {
            prop_assert_eq!(byte(a, &hay), memchr::memchr(a, &hay));
            prop_assert_eq!(byte2(a, b, &hay), memchr::memchr2(a, b, &hay));
            prop_assert_eq!(starts_with(&hay, &lit), hay.starts_with(&lit));
        }
    }

    #[test]
    fn at_the_edges_of_the_first_16_bytes() {
        for at in 0..40 {
            let mut hay = vec![b'a'; 40];
            hay[at] = b'"';
            assert_eq!(byte(b'"', &hay), Some(at));
            assert_eq!(byte2(b'\\', b'"', &hay), Some(at));
            assert_eq!(byte(b'"', &hay[..at]), None);
            assert_eq!(byte2(b'\\', b'"', &hay[..at]), None);
        }
    }
}
