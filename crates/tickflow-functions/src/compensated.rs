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
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
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
}
