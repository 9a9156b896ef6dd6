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
/// bytes that are not run bytes here (a line cut at its `\n`, see [`block_run_byte`], and then
/// at its `\r`, a run byte that is no digit-start byte: cutting it off changes no answer),
/// `may_hold_card(part)` is true exactly when one of these offsets falls inside it.
pub fn card_stretches(text: &[u8], scratch: &mut RunScratch, out: &mut Vec<usize>) {
    out.clear();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
    {
        // SAFETY: the processor has AVX2, POPCNT and BMI1, checked just above.
        unsafe { avx2::card_stretches(text, scratch, out) };
        return;
    }
    classify(text, scratch);
    find_stretches(&scratch.run, &scratch.digit, out);
}

/// The stretches of [`card_stretches`] in the maps of a text. Inlined into its callers, so
/// that with AVX2 it is built for processors that count bits in one instruction (the
/// baseline x86-64 build counts them with a dozen).
#[inline(always)]
fn find_stretches(run: &[u64], digit: &[u64], out: &mut Vec<usize>) {
    let words = run.len();
    let mut skip = 0usize;
    for w in 0..words {
        let next = run.get(w + 1).copied().unwrap_or(0);
        let mut long = starts_of_13(run[w], next);
        // A stretch that began in an earlier word: its bits here are behind it.
        if skip > w * 64 {
            long &= clear_below(skip - w * 64);
        }
        while long != 0 {
            let p = w * 64 + long.trailing_zeros() as usize;
            // `p` starts its stretch: the byte before it would have been seen first.
            let end = stretch_end(run, p);
            if count_bits(digit, p, end) >= MIN_DIGITS {
                out.push(p);
            }
            skip = end;
            // The stretch's other starts of 13 are inside it: one visit per stretch, not one
            // per byte of it (an address and its `- -` are one on every log line).
            long &= clear_below(end - w * 64);
        }
    }
}

/// Bit `i` of the result is set when bits `i..i + 13` of `lo`, continued by `hi`, are all set.
#[inline(always)]
fn starts_of_13(lo: u64, hi: u64) -> u64 {
    let x = lo as u128 | (hi as u128) << 64;
    let x = x & x >> 1; // 2 in a row
    let x = x & x >> 2; // 4
    let x = x & x >> 4; // 8
    let x = x & x >> 5; // 13
    x as u64
}

/// A mask that clears the bits below `n` (all of them from 64 on).
#[inline(always)]
fn clear_below(n: usize) -> u64 {
    if n >= 64 {
        0
    } else {
        !((1u64 << n) - 1)
    }
}

/// The first clear bit at or after `p`.
#[inline(always)]
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
#[inline(always)]
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
/// standard library) a block of 64 bytes is two loads instead of four, classified by table
/// look-ups (`evidence` on a 1 GB log: 2.67 -> 2.53 s of CPU).
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
    // SAFETY: SSE2 is part of the x86-64 baseline: every processor this runs on has it; the
    // four loads of 16 bytes are inside `block`.
    unsafe { simd::classify64::<std::arch::x86_64::__m128i>(block.as_ptr()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn classify64(block: &[u8; 64]) -> (u64, u64) {
    scalar64(block)
}

/// A run byte of a block of lines: every run byte but the line feed. A line break is a
/// separator inside one text (a quoted CSV cell over lines, `4111\n1111…`), but the block is
/// cut into lines at it before any line is asked, so here it ends a stretch (and pads the last
/// block).
fn block_run_byte(c: u8) -> bool {
    run_byte(c) && c != b'\n'
}

/// The reference classification, a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scalar64(block: &[u8; 64]) -> (u64, u64) {
    let (mut r, mut d) = (0u64, 0u64);
    for (i, &c) in block.iter().enumerate() {
        r |= (block_run_byte(c) as u64) << i;
        d |= (digit_start_byte(c) as u64) << i;
    }
    (r, d)
}

/// The classification of 64 bytes with vectors of 16 bytes (SSE2, every x86-64 processor), a
/// compare per class of byte; with AVX2, [`avx2`] looks the classes up instead.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// The vector operations the classification needs.
    ///
    /// # Safety
    /// Every method needs the processor to have the vector's feature (SSE2); `load` also
    /// needs `WIDTH` readable bytes at `p`.
    pub trait Bytes: Copy {
        const WIDTH: usize;
        unsafe fn load(p: *const u8) -> Self;
        unsafe fn splat(b: u8) -> Self;
        unsafe fn eq(self, o: Self) -> Self;
        unsafe fn or(self, o: Self) -> Self;
        unsafe fn sub(self, o: Self) -> Self;
        /// Unsigned saturating subtraction.
        unsafe fn subs(self, o: Self) -> Self;
        /// The top bit of each byte.
        unsafe fn mask(self) -> u32;
    }

    impl Bytes for __m128i {
        const WIDTH: usize = 16;
        #[inline(always)]
        unsafe fn load(p: *const u8) -> Self {
            _mm_loadu_si128(p.cast())
        }
        #[inline(always)]
        unsafe fn splat(b: u8) -> Self {
            _mm_set1_epi8(b as i8)
        }
        #[inline(always)]
        unsafe fn eq(self, o: Self) -> Self {
            _mm_cmpeq_epi8(self, o)
        }
        #[inline(always)]
        unsafe fn or(self, o: Self) -> Self {
            _mm_or_si128(self, o)
        }
        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            _mm_sub_epi8(self, o)
        }
        #[inline(always)]
        unsafe fn subs(self, o: Self) -> Self {
            _mm_subs_epu8(self, o)
        }
        #[inline(always)]
        unsafe fn mask(self) -> u32 {
            _mm_movemask_epi8(self) as u32
        }
    }

    /// `lo <= x <= hi`, bytes read as unsigned.
    #[inline(always)]
    unsafe fn in_range<V: Bytes>(x: V, lo: u8, hi: u8) -> V {
        x.sub(V::splat(lo)).subs(V::splat(hi - lo)).eq(V::splat(0))
    }

    #[inline(always)]
    unsafe fn is<V: Bytes>(x: V, c: u8) -> V {
        x.eq(V::splat(c))
    }

    /// Run bytes and digit-start bytes of the `V::WIDTH` bytes at `p`, as bit masks (see
    /// `detect::BYTE_CLASS`).
    #[inline(always)]
    unsafe fn classify<V: Bytes>(p: *const u8) -> (u32, u32) {
        let x = V::load(p);
        // `+ , - . /` and the digits are one range; A-F and a-f one range once lowercased.
        let digits = in_range(x, b'0', b'9');
        let pct = is(x, b'%');
        let backslash = is(x, b'\\');
        let run = in_range(x, b'+', b'9')
            .or(pct)
            .or(backslash)
            .or(is(x, b' '))
            .or(is(x, b'\t'))
            .or(in_range(x, 0x0B, 0x0F))
            .or(in_range(x, 0x1B, 0x1F))
            .or(is(x, 0x19))
            .or(in_range(x, b'^', b'_'))
            .or(in_range(x, b'n', b'o'))
            .or(is(x, b'r'))
            .or(in_range(x, b't', b'u'))
            .or(is(x, b'x'))
            .or(in_range(x.or(V::splat(0x20)), b'a', b'f'))
            // Every byte from 0x80 is a run byte: its top bit is what the mask reads.
            .or(x);
        // From 0xC0 it also starts a digit, and so do the second bytes of the characters that
        // read as two digits (see `detect::digit_start_byte`).
        let start = digits
            .or(pct)
            .or(backslash)
            .or(in_range(x, 0xC0, 0xFF))
            .or(in_range(x, 0x89, 0x8A))
            .or(in_range(x, 0x91, 0x92));
        (run.mask(), start.mask())
    }

    /// The run and digit-start maps of the 64 bytes at `p`.
    ///
    /// # Safety
    /// The processor must have `V`'s feature, and `p` point to 64 readable bytes.
    #[inline(always)]
    pub unsafe fn classify64<V: Bytes>(p: *const u8) -> (u64, u64) {
        let (mut r, mut d) = (0u64, 0u64);
        let mut k = 0;
        while k < 64 {
            let (rk, dk) = classify::<V>(p.add(k));
            r |= u64::from(rk) << k;
            d |= u64::from(dk) << k;
            k += V::WIDTH;
        }
        (r, d)
    }
}

/// The classification 32 bytes at a time, for processors with AVX2, by two table look-ups
/// per vector (one by each half of every byte) instead of a compare per class of byte: half the
/// instructions of [`simd::classify64`], which SSE2 alone (no byte shuffle) still uses.
///
/// Each bit of a looked-up byte stands for a set of ASCII bytes that is a product (a set of
/// high halves × a set of low halves): the tables give, for each half, the sets it belongs to,
/// and a byte is in a set when both halves are. A run byte is in one of the eight sets; a
/// digit-start byte in one of [`DIGIT_SETS`](avx2::DIGIT_SETS). Bytes from 0x80 are in none
/// (their high half indexes an empty entry) and are read off their top bits instead; the four
/// below 0xC0 that start a digit have two tables of their own.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::RunScratch;
    use std::arch::x86_64::*;

    /// Bit 0 tab and the other controls that are run bytes (0x09, 0x0B-0x0F, 0x19,
    /// 0x1B-0x1F); 1 space + , - . / (0x20, 0x2B-0x2F); 2 `%`; 3 the digits; 4 A-F and
    /// a-f; 5 `^ _ n o` (0x5E-0x5F, 0x6E-0x6F); 6 `\`; 7 `r t u x`.
    const HIGH: [u8; 16] = [
        0x01, 0x01, 0x06, 0x08, 0x10, 0x60, 0x30, 0x80, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    const LOW: [u8; 16] = [
        0x0A, 0x18, 0x98, 0x18, 0x98, 0x9C, 0x18, 0x08, 0x88, 0x09, 0, 0x03, 0x43, 0x03, 0x23, 0x23,
    ];
    /// The sets of digit-start ASCII bytes: `%`, the digits, `\`.
    pub(super) const DIGIT_SETS: u8 = 0x04 | 0x08 | 0x40;
    /// The two sets of the non-ASCII bytes that start a digit below 0xC0 (see
    /// `detect::digit_start_byte`): bit 0 0x89 and 0x8A, bit 1 0x91 and 0x92.
    const HIGH_TWO: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0];
    const LOW_TWO: [u8; 16] = [0, 0x02, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 0, 0, 0, 0, 0];

    /// [`super::card_stretches`] with AVX2, POPCNT and BMI1.
    ///
    /// # Safety
    /// The processor must have AVX2, POPCNT and BMI1.
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    pub unsafe fn card_stretches(text: &[u8], s: &mut RunScratch, out: &mut Vec<usize>) {
        // SAFETY: AVX2 is there (this function's contract).
        unsafe { classify(text, s) };
        super::find_stretches(&s.run, &s.digit, out);
    }

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
            // SAFETY: AVX2 is there (this function's contract); `w < text.len() / 64`, so the
            // 64 bytes at `64 * w` are in `text`.
            (*r, *d) = unsafe { at(text.as_ptr().add(64 * w)) };
        }
        if full < words {
            let mut block = [b'\n'; 64];
            block[..text.len() - 64 * full].copy_from_slice(&text[64 * full..]);
            (s.run[full], s.digit[full]) = classify64(&block);
        }
    }

    /// The maps of one block of 64 bytes.
    ///
    /// # Safety
    /// The processor must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn classify64(block: &[u8; 64]) -> (u64, u64) {
        // SAFETY: AVX2 is there (this function's contract); the loads are inside `block`.
        unsafe { at(block.as_ptr()) }
    }

    /// The maps of the 64 bytes at `p`.
    ///
    /// # Safety
    /// The processor must have AVX2, and `p` point to 64 readable bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn at(p: *const u8) -> (u64, u64) {
        // SAFETY: the two loads of 32 bytes are inside the 64 the contract gives.
        let (r0, d0) = unsafe { half(p) };
        let (r1, d1) = unsafe { half(p.add(32)) };
        (
            u64::from(r0) | u64::from(r1) << 32,
            u64::from(d0) | u64::from(d1) << 32,
        )
    }

    /// Run bytes and digit-start bytes of the 32 bytes at `p`, as bit masks.
    ///
    /// # Safety
    /// The processor must have AVX2, and `p` point to 32 readable bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn half(p: *const u8) -> (u32, u32) {
        // SAFETY: 32 readable bytes at `p` (the contract); the tables are 16 bytes each,
        // loaded into both lanes.
        unsafe {
            let x = _mm256_loadu_si256(p.cast());
            let high = _mm256_broadcastsi128_si256(_mm_loadu_si128(HIGH.as_ptr().cast()));
            let low = _mm256_broadcastsi128_si256(_mm_loadu_si128(LOW.as_ptr().cast()));
            let nibble = _mm256_set1_epi8(0x0F);
            let lo = _mm256_and_si256(x, nibble);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), nibble);
            let sets =
                _mm256_and_si256(_mm256_shuffle_epi8(low, lo), _mm256_shuffle_epi8(high, hi));
            let zero = _mm256_setzero_si256();
            let in_none = _mm256_movemask_epi8(_mm256_cmpeq_epi8(sets, zero)) as u32;
            let high_two = _mm256_broadcastsi128_si256(_mm_loadu_si128(HIGH_TWO.as_ptr().cast()));
            let low_two = _mm256_broadcastsi128_si256(_mm_loadu_si128(LOW_TWO.as_ptr().cast()));
            let two = _mm256_and_si256(
                _mm256_shuffle_epi8(low_two, lo),
                _mm256_shuffle_epi8(high_two, hi),
            );
            let digit_sets = _mm256_or_si256(
                _mm256_and_si256(sets, _mm256_set1_epi8(DIGIT_SETS as i8)),
                two,
            );
            let no_digit = _mm256_movemask_epi8(_mm256_cmpeq_epi8(digit_sets, zero)) as u32;
            // From 0x80 a run byte (its top bit); from 0xC0 also a digit start (and the four of
            // `two`).
            let top = _mm256_movemask_epi8(x) as u32;
            let c0 = _mm256_set1_epi8(0xC0u8 as i8);
            let from_c0 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(x, c0), x)) as u32;
            (!in_none | top, !no_digit | from_c0)
        }
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

    /// The stretches as a processor without AVX2 finds them: the maps of the byte table, a
    /// block of 64 at a time, searched by the same code built for the baseline.
    fn portable(text: &[u8]) -> Vec<usize> {
        let (mut run, mut digit) = (Vec::new(), Vec::new());
        for block in text.chunks(64) {
            let mut b = [b'\n'; 64];
            b[..block.len()].copy_from_slice(block);
            let (r, d) = scalar64(&b);
            run.push(r);
            digit.push(d);
        }
        let mut out = Vec::new();
        find_stretches(&run, &digit, &mut out);
        out
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
        // Nine characters that read as sixteen digits (`④①⑪⑪⑪⑪⑪⑪⑪`).
        let enclosed = "GET /?c=④①⑪⑪⑪⑪⑪⑪⑪ HTTP/1.1\nGET /?c=④①㉑㉑㉑㉑㉑㉑㉑\n".as_bytes();
        assert_eq!(per_line(enclosed), [true, true, false]);
        assert_eq!(per_line(enclosed), reference(enclosed));
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
            // The bytes of characters read as two digits (`⑪` e2 91 aa, `⒑` e2 92 91, `㉑`
            // e3 89 91, `㊿` e3 8a bf).
            2 => proptest::sample::select(vec![0xe2, 0xe3, 0x89, 0x8a, 0x91, 0x92, 0xaa, 0xbf]),
            1 => any::<u8>(),
        ], 0..400)) {
            prop_assert_eq!(per_line(&text), reference(&text), "{:?}", String::from_utf8_lossy(&text));
            let mut fast = Vec::new();
            card_stretches(&text, &mut RunScratch::default(), &mut fast);
            prop_assert_eq!(fast, portable(&text));
        }
    }
}
