//! Percentiles, rounding and text histograms shared by `profile` and `benchmark`.
//!
//! Percentile method (the same as anvil-serving 0.4.0's `pct`): on the values sorted ascending,
//! `i = (n - 1) * q / 100`, `lo = floor(i)`, `hi = min(lo + 1, n - 1)`, `f = i - lo`, and the
//! result is `v[lo] * (1 - f) + v[hi] * f` — linear interpolation between closest ranks (the
//! "R-7" / numpy `linear` definition). Token counts round that to an integer with ties to even;
//! timings keep the float. An empty list gives 0; `q <= 0` gives the first value, `q >= 100` the
//! last.

/// Linear-interpolation percentile of ascending `sorted` (see the module docs).
pub fn pct_f(sorted: &[f64], q: f64) -> f64 {
    let Some((&first, _)) = sorted.split_first() else {
        return 0.0;
    };
    let last = sorted[sorted.len() - 1];
    if q <= 0.0 {
        return first;
    }
    if q >= 100.0 {
        return last;
    }
    let n = sorted.len();
    let i = (n - 1) as f64 * q / 100.0;
    let lo = i.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let f = i - lo as f64;
    sorted[lo] * (1.0 - f) + sorted[hi] * f
}

/// [`pct_f`] over integers, rounded half to even.
pub fn pct(sorted: &[u64], q: f64) -> u64 {
    let floats: Vec<f64> = sorted.iter().map(|v| *v as f64).collect();
    pct_f(&floats, q).round_ties_even() as u64
}

/// `x` rounded to `digits` decimals, half to even.
pub fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round_ties_even() / scale
}

/// splitmix64: a small, well-mixed deterministic generator (for seeded shuffles).
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Shuffles `items` in place (Fisher–Yates) with a generator seeded by `seed`.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        let j = usize::try_from(splitmix(&mut state) % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}

/// One histogram bar: a label, a count.
pub struct Bar {
    /// What the bar counts (e.g. `<= 32K`).
    pub label: String,
    /// How many.
    pub count: u64,
}

/// Renders bars as text: label, count, a `#` bar scaled to `width` for the largest count.
pub fn histogram(bars: &[Bar], width: usize) -> String {
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0);
    let label_w = bars.iter().map(|b| b.label.len()).max().unwrap_or(0);
    let count_w = bars
        .iter()
        .map(|b| b.count.to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    for b in bars {
        let len = if max == 0 {
            0
        } else {
            ((b.count as f64 / max as f64) * width as f64).ceil() as usize
        };
        out.push_str(&format!(
            "  {:<label_w$}  {:>count_w$} |{}\n",
            b.label,
            b.count,
            "#".repeat(len)
        ));
    }
    out
}

/// Token counts in short form: `512`, `32K` (values of 1024 and up, divided by 1024).
pub fn short_tokens(v: u64) -> String {
    if v >= 1024 {
        format!("{}K", v / 1024)
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_the_documented_method() {
        let v = [6010, 7005, 30001, 40102, 70003];
        assert_eq!(pct(&v, 50.0), 30001);
        assert_eq!(pct(&v, 90.0), 58043);
        assert_eq!(pct(&v, 95.0), 64023);
        assert_eq!(pct(&v, 99.0), 68807);
        // ties to even
        assert_eq!(pct(&[1, 2], 50.0), 2);
        assert_eq!(pct(&[2, 3], 50.0), 2);
        assert_eq!(pct(&[1, 2, 3, 4], 90.0), 4);
        assert_eq!(pct(&[], 50.0), 0);
        assert_eq!(round_to(0.25, 1), 0.2);
        assert_eq!(short_tokens(131072), "128K");
        assert_eq!(short_tokens(512), "512");
    }

    #[test]
    fn histograms_scale_to_the_largest_bar() {
        let text = histogram(
            &[
                Bar {
                    label: "a".into(),
                    count: 4,
                },
                Bar {
                    label: "bb".into(),
                    count: 1,
                },
                Bar {
                    label: "c".into(),
                    count: 0,
                },
            ],
            8,
        );
        assert_eq!(text, "  a   4 |########\n  bb  1 |##\n  c   0 |\n");
    }
}
