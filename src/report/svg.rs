//! Charts as inline SVG, drawn here in Rust: the report must open in any browser, offline, with
//! scripts turned off, and print as it shows. Two shapes cover the report: bars over time
//! (stacked in two series, a shaded span for the compromise window, labelled markers for the
//! first and last hit) and horizontal bars for categories (brands, countries, regions).
//!
//! Every text drawn is escaped ([`super::html::escape`]); labels come from the inputs.

use super::html::escape;
use std::fmt::Write;

/// One bar of a time chart: two stacked values (the highlighted series first).
#[derive(Debug, Clone)]
pub struct Bin {
    pub label: String,
    pub values: [u64; 2],
}

/// Bars over time.
#[derive(Debug, Clone)]
pub struct TimeChart {
    pub title: String,
    pub bins: Vec<Bin>,
    /// Bins covered by the compromise window (first and last index, inclusive).
    pub shade: Option<(usize, usize)>,
    pub shade_label: String,
    /// Bin index and label of a vertical marker.
    pub markers: Vec<(usize, String)>,
    /// Legend names of the two series; an empty second name hides it.
    pub series: [String; 2],
}

const W: f64 = 1000.0;

/// About how wide a legend text is at 12px: a Japanese character takes twice a Latin one, so the
/// next legend entry starts after it rather than on top of it.
fn text_width(t: &str) -> f64 {
    t.chars()
        .map(|c| if c.is_ascii() { 7.0 } else { 12.5 })
        .sum()
}
const COLORS: [&str; 2] = ["#b42318", "#98a2b3"];

/// The smallest 1, 2 or 5 × 10^k at or above `v / 4`, so the axis has at most five ticks.
fn tick_step(max: u64) -> u64 {
    let target = (max as f64 / 4.0).max(1.0);
    let mut base = 1u64;
    loop {
        for m in [1, 2, 5] {
            if (base * m) as f64 >= target {
                return base * m;
            }
        }
        base *= 10;
    }
}

pub fn time_chart(c: &TimeChart) -> String {
    let (h, left, right, top, bottom) = (320.0, 56.0, 16.0, 64.0, 48.0);
    let pw = W - left - right;
    let ph = h - top - bottom;
    let n = c.bins.len().max(1);
    let bw = pw / n as f64;
    let max = c
        .bins
        .iter()
        .map(|b| b.values[0] + b.values[1])
        .max()
        .unwrap_or(0);
    let step = tick_step(max);
    let ymax = (max.div_ceil(step).max(1) * step) as f64;
    let y = |v: f64| top + ph - v / ymax * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(&c.title)
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="20" font-size="15" font-weight="bold">{}</text>"#,
        escape(&c.title)
    );
    // Legend.
    let mut lx = left;
    if let Some((a, b)) = c.shade {
        let x0 = left + a as f64 * bw;
        let x1 = left + (b + 1) as f64 * bw;
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="{top}" width="{:.1}" height="{ph}" fill="#fde68a" fill-opacity="0.55"/>"##,
            x1 - x0
        );
        let _ = write!(
            s,
            r##"<rect x="{lx}" y="32" width="12" height="12" fill="#fde68a"/><text x="{}" y="42" font-size="12">{}</text>"##,
            lx + 16.0,
            escape(&c.shade_label)
        );
        lx += 40.0 + text_width(&c.shade_label);
    }
    for (i, name) in c.series.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="32" width="12" height="12" fill="{}"/><text x="{}" y="42" font-size="12">{}</text>"#,
            COLORS[i],
            lx + 16.0,
            escape(name)
        );
        lx += 40.0 + text_width(name);
    }
    // Axis and grid.
    let mut t = 0;
    while t as f64 <= ymax {
        let yy = y(t as f64);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e4e7ec"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{t}</text>"##,
            W - right,
            left - 6.0,
            yy + 4.0
        );
        t += step;
    }
    // Bars.
    for (i, b) in c.bins.iter().enumerate() {
        let x = left + i as f64 * bw + if bw > 3.0 { bw * 0.1 } else { 0.0 };
        // Days over two years are narrower than a pixel: draw a visible sliver rather than
        // nothing (neighbouring days may overlap; the table under the chart has the numbers).
        let w = if bw > 3.0 { bw * 0.8 } else { 3.0 };
        let mut base = 0.0;
        for (k, v) in b.values.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let y1 = y(base);
            let y0 = y(base + *v as f64);
            let _ = write!(
                s,
                r#"<rect x="{x:.2}" y="{y0:.1}" width="{w:.2}" height="{:.1}" fill="{}"><title>{}: {v}</title></rect>"#,
                y1 - y0,
                COLORS[k],
                escape(&b.label)
            );
            base += *v as f64;
        }
    }
    // X labels: at most about ten.
    let every = n.div_ceil(10).max(1);
    for (i, b) in c.bins.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let x = left + (i as f64 + 0.5) * bw;
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            top + ph + 16.0,
            escape(&b.label)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#667085"/>"##,
        W - right,
        top + ph,
        top + ph
    );
    // Markers.
    for (k, (i, label)) in c.markers.iter().enumerate() {
        let x = left + (*i as f64 + 0.5) * bw;
        let anchor = if x > W / 2.0 { "end" } else { "start" };
        let tx = if x > W / 2.0 { x - 4.0 } else { x + 4.0 };
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{:.1}" stroke="#1d2939" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{:.1}" font-size="11" text-anchor="{anchor}">{}</text>"##,
            top + ph,
            top + 12.0 + 14.0 * k as f64,
            escape(label)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per category, largest first as given.
pub fn bar_chart(title: &str, items: &[(String, u64)]) -> String {
    let (row, top, label_w) = (22.0, 36.0, 220.0);
    let h = top + row * items.len().max(1) as f64 + 10.0;
    let bar_w = W - label_w - 80.0;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-label="{t}"><title>{t}</title><text x="0" y="20" font-size="15" font-weight="bold">{t}</text>"#,
        t = escape(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let yy = top + i as f64 * row;
        let w = (*v as f64 / max * bar_w).max(if *v > 0 { 1.0 } else { 0.0 });
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{l}</text><rect x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#b42318"><title>{l}: {v}</title></rect><text x="{:.1}" y="{:.1}" font-size="12">{v}</text>"##,
            label_w - 8.0,
            yy + 15.0,
            yy + 3.0,
            row - 6.0,
            label_w + w + 6.0,
            yy + 15.0,
            l = escape(label)
        );
    }
    if items.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{label_w}" y="{}" font-size="12">no data</text>"#,
            top + 15.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let s = bar_chart("<b>", &[("<script>alert(1)</script>".into(), 3)]);
        assert!(!s.contains("<script>"), "{s}");
        assert!(s.contains("&lt;script&gt;"), "{s}");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(0), 1);
        assert_eq!(tick_step(7), 2);
        assert_eq!(tick_step(37), 10);
        assert_eq!(tick_step(140), 50);
    }
}
