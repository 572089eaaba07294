//! Compensated (Neumaier) floating-point summation.
//!
//! A plain `f64` running sum over 10^8 trades drifts: every addition rounds, and the errors
//! accumulate with the number of rows. Neumaier's variant of Kahan summation carries the rounding
//! error of each addition in a second `f64`, so the total is as accurate as if it were summed in
//! twice the precision and rounded once — whatever the row count or the merge order.

/// A running sum with its compensation term. The value is `sum + compensation`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct CompensatedSum {
    pub sum: f64,
    pub compensation: f64,
}

impl CompensatedSum {
    /// Adds `x`, keeping the rounding error of the addition.
    #[inline]
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        // Once the sum is infinite or NaN the rounding error is meaningless (inf - inf = NaN):
        // keep the compensation finite so that merging such a state keeps IEEE semantics
        // (inf + 1 = inf, not NaN) whatever the partitioning.
        if t.is_finite() {
            if self.sum.abs() >= x.abs() {
                self.compensation += (self.sum - t) + x;
            } else {
                self.compensation += (x - t) + self.sum;
            }
        }
        self.sum = t;
    }

    /// Adds another compensated sum (a partial state from another partition).
    #[inline]
    pub(crate) fn merge(&mut self, other: CompensatedSum) {
        self.add(other.sum);
        self.add(other.compensation);
    }

    /// The best `f64` estimate of the sum.
    #[inline]
    pub(crate) fn value(&self) -> f64 {
        // Non-finite sums (inf, NaN) make the compensation NaN: report the plain sum then.
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_small_terms_a_plain_sum_loses() {
        let mut c = CompensatedSum::default();
        let mut plain = 0.0;
        for x in [1e16, 1.0, -1e16, 1.0] {
            c.add(x);
            plain += x;
        }
        assert_eq!(c.value(), 2.0);
        assert_ne!(plain, 2.0);
    }

    #[test]
    fn merge_equals_sequential_sum() {
        let xs: Vec<f64> = (0..10_000).map(|i| 0.1 + i as f64 * 1e-3).collect();
        let mut all = CompensatedSum::default();
        xs.iter().for_each(|&x| all.add(x));
        let (mut a, mut b) = (CompensatedSum::default(), CompensatedSum::default());
        xs[..3_333].iter().for_each(|&x| a.add(x));
        xs[3_333..].iter().for_each(|&x| b.add(x));
        b.merge(a);
        let exact: f64 = (0..10_000).map(|i| 100 + i).sum::<i64>() as f64 * 1e-3;
        assert!((all.value() - exact).abs() <= exact * f64::EPSILON);
        assert!((b.value() - exact).abs() <= exact * f64::EPSILON);
    }

    #[test]
    fn infinities_and_nan_propagate() {
        let mut c = CompensatedSum::default();
        c.add(f64::INFINITY);
        c.add(1.0);
        assert_eq!(c.value(), f64::INFINITY);
        c.add(f64::NAN);
        assert!(c.value().is_nan());
    }

    #[test]
    fn merged_infinities_stay_infinite() {
        // A partial state that overflowed, merged into another: inf, as a single pass gives.
        let mut overflowed = CompensatedSum::default();
        for _ in 0..3 {
            overflowed.add(1e308);
        }
        assert_eq!(overflowed.value(), f64::INFINITY);
        let mut other = CompensatedSum::default();
        other.add(1.0);
        other.merge(overflowed);
        assert_eq!(other.value(), f64::INFINITY);
        let mut inf = CompensatedSum::default();
        inf.add(f64::INFINITY);
        let mut total = CompensatedSum::default();
        total.add(2.0);
        total.merge(inf);
        total.merge(CompensatedSum {
            sum: 3.0,
            compensation: 0.0,
        });
        assert_eq!(total.value(), f64::INFINITY);
        let mut minus = CompensatedSum::default();
        minus.add(f64::NEG_INFINITY);
        total.merge(minus);
        assert!(total.value().is_nan());
    }
}
