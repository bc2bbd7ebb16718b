//! Plane geometry on coordinates normalised to the frame (0..1, y pointing down): points,
//! segments and simple polygons. Pure functions, no allocation.

use serde::{Deserialize, Serialize};

/// A point in normalised frame coordinates. Serialised as `[x, y]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    /// True when both coordinates are finite and inside `0..=1`.
    pub fn in_unit_square(self) -> bool {
        (0.0..=1.0).contains(&self.x) && (0.0..=1.0).contains(&self.y)
    }
}

impl From<[f64; 2]> for Point {
    fn from([x, y]: [f64; 2]) -> Self {
        Point { x, y }
    }
}

impl From<Point> for [f64; 2] {
    fn from(p: Point) -> Self {
        [p.x, p.y]
    }
}

/// Cross product of (b - a) and (c - a): > 0 when c is to the left of a->b in a y-up frame,
/// which in image coordinates (y down) means c is to the right of a->b as seen on screen.
pub fn cross(a: Point, b: Point, c: Point) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

/// True when the closed segments p1-p2 and q1-q2 share at least one point.
pub fn segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = cross(q1, q2, p1);
    let d2 = cross(q1, q2, p2);
    let d3 = cross(p1, p2, q1);
    let d4 = cross(p1, p2, q2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    let on = |a: Point, b: Point, c: Point, d: f64| {
        d == 0.0
            && c.x >= a.x.min(b.x)
            && c.x <= a.x.max(b.x)
            && c.y >= a.y.min(b.y)
            && c.y <= a.y.max(b.y)
    };
    on(q1, q2, p1, d1) || on(q1, q2, p2, d2) || on(p1, p2, q1, d3) || on(p1, p2, q2, d4)
}

/// Signed area of a polygon (shoelace formula).
pub fn signed_area(poly: &[Point]) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

/// Returns the indices of two non-adjacent edges that intersect, if the polygon is not simple.
pub fn self_intersection(poly: &[Point]) -> Option<(usize, usize)> {
    let n = poly.len();
    for i in 0..n {
        for j in i + 1..n {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            if adjacent {
                continue;
            }
            if segments_intersect(poly[i], poly[(i + 1) % n], poly[j], poly[(j + 1) % n]) {
                return Some((i, j));
            }
        }
    }
    None
}

/// Even-odd point-in-polygon test.
pub fn contains(poly: &[Point], p: Point) -> bool {
    let n = poly.len();
    let mut inside = false;
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (a, b) = (poly[i], poly[j]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(pts: &[[f64; 2]]) -> Vec<Point> {
        pts.iter().map(|&p| p.into()).collect()
    }

    #[test]
    fn self_intersection_table() {
        let cases: &[(&str, &[[f64; 2]], bool)] = &[
            ("triangle", &[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]], false),
            (
                "square",
                &[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]],
                false,
            ),
            (
                "bow tie",
                &[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]],
                true,
            ),
            (
                "concave",
                &[[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 1.0]],
                false,
            ),
            (
                "touching back",
                &[[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [0.5, 1.0]],
                true,
            ),
        ];
        for (name, pts, want) in cases {
            assert_eq!(self_intersection(&poly(pts)).is_some(), *want, "{name}");
        }
    }

    #[test]
    fn contains_table() {
        let sq = poly(&[[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]);
        let cases = [
            ([0.5, 0.5], true),
            ([0.1, 0.5], false),
            ([0.79, 0.21], true),
            ([0.9, 0.9], false),
        ];
        for (p, want) in cases {
            assert_eq!(contains(&sq, p.into()), want, "{p:?}");
        }
    }

    #[test]
    fn area_of_unit_square() {
        let sq = poly(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]);
        assert!((signed_area(&sq).abs() - 1.0).abs() < 1e-12);
    }
}
