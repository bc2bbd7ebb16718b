//! Optimal assignment for a small rectangular cost matrix: the Hungarian method in its
//! shortest-augmenting-path form with potentials (Jonker-Volgenant style), O(n² m) for n <= m.
//! Pairs may be forbidden; a forbidden pair is never returned. Buffers are kept between calls so
//! that steady-state solving allocates nothing.

/// Reusable solver. `cost` is row-major, `rows * cols` long.
#[derive(Debug, Default)]
pub struct Assigner {
    u: Vec<f64>,
    v: Vec<f64>,
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<f64>,
    used: Vec<bool>,
}

/// Marks "no partner" in the solver's output.
pub const NONE: usize = usize::MAX;

impl Assigner {
    /// Finds the assignment that minimises the sum of the costs of the chosen pairs plus
    /// `unmatched` for every pair that could have been formed but was not; equivalently, it
    /// maximises the total of `unmatched - cost` over chosen pairs. Pairs whose cost is not below
    /// `unmatched` (or not finite) are forbidden. `row_to_col[r]` receives the column matched to
    /// row `r`, or [`NONE`].
    pub fn solve(
        &mut self,
        rows: usize,
        cols: usize,
        cost: &[f64],
        unmatched: f64,
        row_to_col: &mut Vec<usize>,
    ) {
        row_to_col.clear();
        row_to_col.resize(rows, NONE);
        if rows == 0 || cols == 0 || cost.len() < rows * cols {
            return;
        }
        // The algorithm needs n <= m: rows of the working problem are the smaller side.
        let transposed = rows > cols;
        let (n, m) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        // A forbidden pair costs exactly `unmatched`: choosing it is then as good as leaving both
        // sides unmatched, so forcing a complete assignment of the smaller side solves the
        // problem with optional matching. Such pairs are dropped below.
        let a = |i: usize, j: usize| -> f64 {
            let c = if transposed {
                cost[j * cols + i]
            } else {
                cost[i * cols + j]
            };
            if c.is_finite() && c < unmatched {
                c
            } else {
                unmatched
            }
        };
        self.u.clear();
        self.u.resize(n + 1, 0.0);
        self.v.clear();
        self.v.resize(m + 1, 0.0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        for i in 1..=n {
            self.p[0] = i;
            let mut j0 = 0;
            self.minv.clear();
            self.minv.resize(m + 1, f64::INFINITY);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = self.p[j0];
                let mut delta = f64::INFINITY;
                let mut j1 = 0;
                for j in 1..=m {
                    if self.used[j] {
                        continue;
                    }
                    let cur = a(i0 - 1, j - 1) - self.u[i0] - self.v[j];
                    if cur < self.minv[j] {
                        self.minv[j] = cur;
                        self.way[j] = j0;
                    }
                    if self.minv[j] < delta {
                        delta = self.minv[j];
                        j1 = j;
                    }
                }
                if j1 == 0 {
                    // Unreachable with finite costs and n <= m; stop rather than loop forever.
                    return;
                }
                for j in 0..=m {
                    if self.used[j] {
                        self.u[self.p[j]] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if self.p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = self.way[j0];
                self.p[j0] = self.p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
        for j in 1..=m {
            let i = self.p[j];
            if i == 0 || a(i - 1, j - 1) >= unmatched {
                continue;
            }
            let (r, c) = if transposed {
                (j - 1, i - 1)
            } else {
                (i - 1, j - 1)
            };
            row_to_col[r] = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: f64 = f64::INFINITY;

    fn solve(rows: usize, cols: usize, cost: &[f64], unmatched: f64) -> Vec<usize> {
        let mut out = Vec::new();
        Assigner::default().solve(rows, cols, cost, unmatched, &mut out);
        out
    }

    #[test]
    fn hand_computed_cases() {
        const N: usize = NONE;
        // (rows, cols, cost, unmatched, expected row -> col)
        type Case<'a> = (usize, usize, &'a [f64], f64, &'a [usize]);
        let cases: &[Case] = &[
            (0, 3, &[], 1.0, &[]),
            (2, 0, &[], 1.0, &[N, N]),
            (1, 1, &[0.3], 1.0, &[0]),
            (1, 1, &[0.3], 0.3, &[N]),
            (1, 1, &[X], 1.0, &[N]),
            (1, 1, &[f64::NAN], 1.0, &[N]),
            // Greedy would take (0,0) = 0.1 and then (1,1) = 0.9; optimal is 0.2 + 0.3.
            (2, 2, &[0.1, 0.2, 0.3, 0.9], 1.0, &[1, 0]),
            // Same, but the cross pair is forbidden: greedy-like answer is the only one.
            (2, 2, &[0.1, 0.2, X, 0.9], 1.0, &[0, 1]),
            // Leaving a pair unmatched can beat a bad forced pair.
            (2, 2, &[0.1, 0.2, X, 0.9], 0.5, &[0, N]),
            // More columns than rows.
            (2, 3, &[0.9, 0.8, 0.1, 0.2, 0.7, 0.9], 1.0, &[2, 0]),
            // More rows than columns (solved transposed).
            (3, 2, &[0.9, 0.2, 0.8, 0.7, 0.1, 0.9], 1.0, &[1, N, 0]),
            // Everything forbidden.
            (2, 2, &[X, X, X, X], 1.0, &[N, N]),
        ];
        for (i, (rows, cols, cost, unmatched, want)) in cases.iter().enumerate() {
            let got = solve(*rows, *cols, cost, *unmatched);
            assert_eq!(&got, want, "case {i}");
        }
    }

    /// Total of (unmatched - cost) over chosen pairs: the quantity the solver maximises.
    fn gain(cost: &[f64], cols: usize, unmatched: f64, row_to_col: &[usize]) -> f64 {
        row_to_col
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != NONE)
            .map(|(r, &c)| unmatched - cost[r * cols + c])
            .sum()
    }

    /// Best gain by trying every partial assignment of rows to distinct columns.
    fn brute(
        cost: &[f64],
        rows: usize,
        cols: usize,
        unmatched: f64,
        r: usize,
        used: &mut [bool],
    ) -> f64 {
        if r == rows {
            return 0.0;
        }
        let mut best = brute(cost, rows, cols, unmatched, r + 1, used);
        for c in 0..cols {
            let x = cost[r * cols + c];
            if used[c] || x.partial_cmp(&unmatched) != Some(std::cmp::Ordering::Less) {
                continue;
            }
            used[c] = true;
            best = best.max(unmatched - x + brute(cost, rows, cols, unmatched, r + 1, used));
            used[c] = false;
        }
        best
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut solver = Assigner::default();
        let mut out = Vec::new();
        for _ in 0..400 {
            let rows = 1 + (next() * 6.0) as usize;
            let cols = 1 + (next() * 6.0) as usize;
            let cost: Vec<f64> = (0..rows * cols)
                .map(|_| if next() < 0.3 { X } else { next() })
                .collect();
            let unmatched = 0.3 + next() * 0.7;
            solver.solve(rows, cols, &cost, unmatched, &mut out);
            let mut used_cols = vec![false; cols];
            for &c in &out {
                if c != NONE {
                    assert!(!used_cols[c], "column {c} used twice: {out:?}");
                    used_cols[c] = true;
                }
            }
            for (r, &c) in out.iter().enumerate() {
                if c != NONE {
                    assert!(cost[r * cols + c] < unmatched, "forbidden pair chosen");
                }
            }
            let best = brute(&cost, rows, cols, unmatched, 0, &mut vec![false; cols]);
            let got = gain(&cost, cols, unmatched, &out);
            assert!(
                (got - best).abs() < 1e-9,
                "{rows}x{cols} {cost:?} u={unmatched}: got {got}, best {best}"
            );
        }
    }
}
