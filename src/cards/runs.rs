//! [`may_hold_card`](super::may_hold_card) for every line of a block of text at once, for the
//! evidence scan, which asks it of every log line.
//!
//! The per-slice pre-check reads one byte in 13 and then walks the stretch of run bytes around
//! it; on a log line, where run bytes (digits, separators, hex letters) are most of the text,
//! that is a fifth of the scan's time. Here the block is classified 16 bytes at a time (32
//! with AVX2) into two bit maps (run bytes, digit-start bytes), the stretches of at least 13 run
//! bytes are found with shifts of the map, and only those few are counted. The answer is the
//! same: a card number needs a stretch of run bytes holding 13 digit-start bytes, and such a
//! stretch holds 13 run bytes in a row.

use super::detect::{digit_start_byte, run_byte, MIN_DIGITS};

/// Reusable bit maps, so a block costs no allocation.
#[derive(Default)]
pub struct RunScratch {
    run: Vec<u64>,
    digit: Vec<u64>,
}

/// The offsets in `text` of the stretches of run bytes that hold at least 13 digit-start
/// bytes, ascending (each stretch once, by an offset inside it). For any part of `text` cut at
/// bytes that are not run bytes (a line cut at its `\n`, and at its `\r`),
/// `may_hold_card(part)` is true exactly when one of these offsets falls inside it.
pub fn card_stretches(text: &[u8], scratch: &mut RunScratch, out: &mut Vec<usize>) {
    out.clear();
    classify(text, scratch);
    let (run, digit) = (&scratch.run, &scratch.digit);
    let words = run.len();
    let mut skip = 0usize;
    for w in 0..words {
        let next = run.get(w + 1).copied().unwrap_or(0);
        let mut long = starts_of_13(run[w], next);
        while long != 0 {
            let p = w * 64 + long.trailing_zeros() as usize;
            long &= long - 1;
            if p < skip {
                continue;
            }
            // `p` starts its stretch: the byte before it would have been seen first.
            let end = stretch_end(run, p);
            if count_bits(digit, p, end) >= MIN_DIGITS {
                out.push(p);
            }
            skip = end;
        }
    }
}

/// Bit `i` of the result is set when bits `i..i + 13` of `lo`, continued by `hi`, are all set.
#[inline]
fn starts_of_13(lo: u64, hi: u64) -> u64 {
    let x = lo as u128 | (hi as u128) << 64;
    let x = x & x >> 1; // 2 in a row
    let x = x & x >> 2; // 4
    let x = x & x >> 4; // 8
    let x = x & x >> 5; // 13
    x as u64
}

/// The first clear bit at or after `p`.
fn stretch_end(map: &[u64], p: usize) -> usize {
    let (mut w, mut bit) = (p / 64, p % 64);
    loop {
        let ones = (map[w] >> bit).trailing_ones() as usize;
        if bit + ones < 64 {
            return w * 64 + bit + ones;
        }
        w += 1;
        bit = 0;
        if w == map.len() {
            return w * 64;
        }
    }
}

/// How many bits are set in `from..to`.
fn count_bits(map: &[u64], from: usize, to: usize) -> usize {
    let mut n = 0;
    let mut i = from;
    while i < to {
        let (w, bit) = (i / 64, i % 64);
        let len = (64 - bit).min(to - i);
        let mask = if len == 64 {
            u64::MAX
        } else {
            (1u64 << len) - 1
        };
        n += ((map[w] >> bit) & mask).count_ones() as usize;
        i += len;
    }
    n
}

/// Fills the bit maps: bit `i % 64` of word `i / 64` for byte `i`; bits past the end clear.
/// With AVX2 (most x86-64 processors of the last ten years, checked once and cached by the
/// standard library) a block of 64 bytes is two loads instead of four.
fn classify(text: &[u8], s: &mut RunScratch) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        unsafe { avx2::classify(text, s) };
        return;
    }
    let words = text.len().div_ceil(64);
    s.run.clear();
    s.digit.clear();
    s.run.reserve(words);
    s.digit.reserve(words);
    let mut blocks = text.chunks_exact(64);
    for block in &mut blocks {
        let (r, d) = classify64(block.try_into().expect("64 bytes"));
        s.run.push(r);
        s.digit.push(d);
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut block = [b'\n'; 64];
        block[..rest.len()].copy_from_slice(rest);
        let (r, d) = classify64(&block);
        s.run.push(r);
        s.digit.push(d);
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn classify64(block: &[u8; 64]) -> (u64, u64) {
    let (mut r, mut d) = (0u64, 0u64);
    for k in 0..4 {
        let part: &[u8; 16] = block[k * 16..k * 16 + 16].try_into().expect("16 bytes");
        // SAFETY: SSE2 is part of the x86-64 baseline: every processor this runs on has it.
        let (r16, d16) = unsafe { sse2::classify16(part) };
        r |= (r16 as u64) << (k * 16);
        d |= (d16 as u64) << (k * 16);
    }
    (r, d)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn classify64(block: &[u8; 64]) -> (u64, u64) {
    scalar64(block)
}

/// The reference classification, a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scalar64(block: &[u8; 64]) -> (u64, u64) {
    let (mut r, mut d) = (0u64, 0u64);
    for (i, &c) in block.iter().enumerate() {
        r |= (run_byte(c) as u64) << i;
        d |= (digit_start_byte(c) as u64) << i;
    }
    (r, d)
}

/// SSE2 is part of every x86-64 processor, so no feature check is needed.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// `lo <= x <= hi`, bytes read as unsigned.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn in_range(x: __m128i, lo: u8, hi: u8) -> __m128i {
        let shifted = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
        let over = _mm_subs_epu8(shifted, _mm_set1_epi8((hi - lo) as i8));
        _mm_cmpeq_epi8(over, _mm_setzero_si128())
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn is(x: __m128i, c: u8) -> __m128i {
        _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8))
    }

    /// Run bytes and digit-start bytes of 16 bytes, as bit masks (see `detect::BYTE_CLASS`).
    #[inline]
    #[target_feature(enable = "sse2")]
    pub fn classify16(b: &[u8; 16]) -> (u16, u16) {
        // SAFETY: `b` is 16 readable bytes; the load is unaligned.
        let x = unsafe { _mm_loadu_si128(b.as_ptr().cast()) };
        // `+ , - . /` and the digits are one range; A-F and a-f one range once lowercased.
        let digits = in_range(x, b'0', b'9');
        let pct = is(x, b'%');
        let backslash = is(x, b'\\');
        let run = _mm_or_si128(
            _mm_or_si128(
                _mm_or_si128(in_range(x, b'+', b'9'), pct),
                _mm_or_si128(backslash, is(x, b' ')),
            ),
            _mm_or_si128(
                _mm_or_si128(is(x, b'\t'), is(x, b'_')),
                _mm_or_si128(
                    is(x, b'x'),
                    in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), b'a', b'f'),
                ),
            ),
        );
        // Every byte from 0x80 is a run byte; from 0xC0 it also starts a digit.
        let high = _mm_movemask_epi8(x) as u16;
        let lead = _mm_movemask_epi8(in_range(x, 0xC0, 0xFF)) as u16;
        let start = _mm_or_si128(digits, _mm_or_si128(pct, backslash));
        (
            _mm_movemask_epi8(run) as u16 | high,
            _mm_movemask_epi8(start) as u16 | lead,
        )
    }
}

/// The same classification 32 bytes at a time, for processors with AVX2.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::RunScratch;
    use std::arch::x86_64::*;

    /// [`super::classify`] with AVX2.
    ///
    /// # Safety
    /// The processor must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn classify(text: &[u8], s: &mut RunScratch) {
        let words = text.len().div_ceil(64);
        s.run.clear();
        s.digit.clear();
        s.run.resize(words, 0);
        s.digit.resize(words, 0);
        let full = text.len() / 64;
        for (w, (r, d)) in s.run[..full]
            .iter_mut()
            .zip(&mut s.digit[..full])
            .enumerate()
        {
            // SAFETY: `w < text.len() / 64`, so the 64 bytes at `64 * w` are in `text`.
            (*r, *d) = unsafe { classify_at(text.as_ptr().add(64 * w)) };
        }
        if full < words {
            let mut block = [b'\n'; 64];
            block[..text.len() - 64 * full].copy_from_slice(&text[64 * full..]);
            (s.run[full], s.digit[full]) = classify64(&block);
        }
    }

    /// Loads 32 bytes from `b`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(b: &[u8; 32]) -> __m256i {
        // SAFETY: `b` is 32 readable bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
    }

    /// [`classify64`] of the 64 bytes at `p`.
    ///
    /// # Safety
    /// `p` must point to 64 readable bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn classify_at(p: *const u8) -> (u64, u64) {
        // SAFETY: the caller gives 64 readable bytes; the loads are unaligned.
        let (r0, d0) = classify32(unsafe { _mm256_loadu_si256(p.cast()) });
        let (r1, d1) = classify32(unsafe { _mm256_loadu_si256(p.add(32).cast()) });
        (r0 as u64 | (r1 as u64) << 32, d0 as u64 | (d1 as u64) << 32)
    }

    /// `lo <= x <= hi`, bytes read as unsigned.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn in_range(x: __m256i, lo: u8, hi: u8) -> __m256i {
        let shifted = _mm256_sub_epi8(x, _mm256_set1_epi8(lo as i8));
        let over = _mm256_subs_epu8(shifted, _mm256_set1_epi8((hi - lo) as i8));
        _mm256_cmpeq_epi8(over, _mm256_setzero_si256())
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn is(x: __m256i, c: u8) -> __m256i {
        _mm256_cmpeq_epi8(x, _mm256_set1_epi8(c as i8))
    }

    /// Run bytes and digit-start bytes of 32 bytes, as bit masks: the SSE2 classification
    /// (`super::sse2::classify16`), twice as wide.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn classify32(x: __m256i) -> (u32, u32) {
        let digits = in_range(x, b'0', b'9');
        let pct = is(x, b'%');
        let backslash = is(x, b'\\');
        let run = _mm256_or_si256(
            _mm256_or_si256(
                _mm256_or_si256(in_range(x, b'+', b'9'), pct),
                _mm256_or_si256(backslash, is(x, b' ')),
            ),
            _mm256_or_si256(
                _mm256_or_si256(is(x, b'\t'), is(x, b'_')),
                _mm256_or_si256(
                    is(x, b'x'),
                    in_range(_mm256_or_si256(x, _mm256_set1_epi8(0x20)), b'a', b'f'),
                ),
            ),
        );
        // Every byte from 0x80 is a run byte (its top bit is what the mask reads); from 0xC0 it
        // also starts a digit.
        let run = _mm256_or_si256(run, x);
        let start = _mm256_or_si256(
            _mm256_or_si256(digits, in_range(x, 0xC0, 0xFF)),
            _mm256_or_si256(pct, backslash),
        );
        (
            _mm256_movemask_epi8(run) as u32,
            _mm256_movemask_epi8(start) as u32,
        )
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn classify64(block: &[u8; 64]) -> (u64, u64) {
        let (lo, hi) = (block.first_chunk::<32>(), block.last_chunk::<32>());
        let (r0, d0) = classify32(load(lo.expect("64 bytes")));
        let (r1, d1) = classify32(load(hi.expect("64 bytes")));
        (r0 as u64 | (r1 as u64) << 32, d0 as u64 | (d1 as u64) << 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::may_hold_card;
    use proptest::prelude::*;

    /// Per line, as the evidence scan asks it.
    fn per_line(text: &[u8]) -> Vec<bool> {
        let mut out = Vec::new();
        card_stretches(text, &mut RunScratch::default(), &mut out);
        let mut it = out.iter().peekable();
        let mut answers = Vec::new();
        let mut start = 0;
        for line in text.split(|&b| b == b'\n') {
            let end = start + line.len();
            while it.peek().is_some_and(|&&p| p < start) {
                it.next();
            }
            answers.push(it.peek().is_some_and(|&&p| p < end));
            start = end + 1;
        }
        answers
    }

    fn reference(text: &[u8]) -> Vec<bool> {
        text.split(|&b| b == b'\n').map(may_hold_card).collect()
    }

    #[test]
    fn every_byte_is_classified_as_the_table_says() {
        let all: Vec<u8> = (0..=255u8).collect();
        for block in all.chunks(64) {
            let b: &[u8; 64] = block.try_into().unwrap();
            assert_eq!(classify64(b), scalar64(b));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: checked just above.
                assert_eq!(unsafe { avx2::classify64(b) }, scalar64(b));
            }
        }
    }

    #[test]
    fn lines_of_a_log() {
        let text = b"1.2.3.4 - - [03/Jan/2020:09:56:17 +0900] \"GET /a?c=4111 1111 1111 1111 HTTP/1.1\" 200 12\n\
            10.20.30.40 - - [03/Jan/2020:09:56:17 +0900] \"GET /images/abc.png HTTP/1.1\" 200 1234\n\
            x\n4111.1111.1111.1111\r\n%34%31%31%31%31%31%31%31%31%31%31%31%31\n\n\
            \xef\xbc\x94\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91";
        let got = per_line(text);
        assert_eq!(got, reference(text));
        assert_eq!(got, [true, false, false, true, true, false, true]);
    }

    #[test]
    fn a_stretch_across_the_64_byte_blocks() {
        for pad in 40..80 {
            let mut text = vec![b'z'; pad];
            text.extend_from_slice(b"4111 1111 1111 1111");
            text.extend_from_slice(b"zz\nzz 12 34\n");
            assert_eq!(per_line(&text), reference(&text), "pad {pad}");
            assert!(per_line(&text)[0]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, cases: 2000, ..Default::default() })]
        /// The same answer as the per-slice pre-check, on every line, whatever the bytes.
        #[test]
        fn same_as_may_hold_card(text in proptest::collection::vec(prop_oneof![
            8 => proptest::sample::select(b"0123456789".to_vec()),
            3 => proptest::sample::select(b" .-/%\\x+,_\tafAFgz:\"[]\n\r".to_vec()),
            1 => any::<u8>(),
        ], 0..400)) {
            prop_assert_eq!(per_line(&text), reference(&text), "{:?}", String::from_utf8_lossy(&text));
        }
    }
}
