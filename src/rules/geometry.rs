//! Plane geometry on coordinates normalised to the frame (0..1, y pointing down): points,
//! segments and simple polygons, sides of a line and angles between motions. Pure functions, no
//! allocation.

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

/// Which side of the directed line a->b a point lies on, as seen on screen (y down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// Signed distance of `p` from the infinite line through a->b (> 0: right of a->b on screen),
/// in the units of the coordinates. Zero when a == b.
pub fn signed_distance(a: Point, b: Point, p: Point) -> f64 {
    let len = (b.x - a.x).hypot(b.y - a.y);
    if len == 0.0 {
        0.0
    } else {
        cross(a, b, p) / len
    }
}

/// The side of a->b that `p` is on when it is at least `margin` away from the line, else `None`
/// (the band around the line where jitter must not count as a crossing).
pub fn side_of(a: Point, b: Point, p: Point, margin: f64) -> Option<Side> {
    let d = signed_distance(a, b, p);
    if d >= margin && d > 0.0 {
        Some(Side::Right)
    } else if d <= -margin && d < 0.0 {
        Some(Side::Left)
    } else {
        None
    }
}

/// When the move `from` -> `to` crosses the segment a-b from one side to the other, the side it
/// came from; `None` when it stays on one side, touches only, or passes beyond the segment's ends.
pub fn crossing(a: Point, b: Point, from: Point, to: Point) -> Option<Side> {
    let (d0, d1) = (cross(a, b, from), cross(a, b, to));
    if d0 == 0.0 || d1 == 0.0 || (d0 > 0.0) == (d1 > 0.0) || !segments_intersect(a, b, from, to) {
        return None;
    }
    Some(if d0 < 0.0 { Side::Left } else { Side::Right })
}

/// Angle in degrees (0..=180) between vectors `v` and `w`; `None` when either is zero.
pub fn angle_deg(v: [f64; 2], w: [f64; 2]) -> Option<f64> {
    let (nv, nw) = (v[0].hypot(v[1]), w[0].hypot(w[1]));
    if nv == 0.0 || nw == 0.0 {
        return None;
    }
    let cos = ((v[0] * w[0] + v[1] * w[1]) / (nv * nw)).clamp(-1.0, 1.0);
    Some(cos.acos().to_degrees())
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

    #[test]
    fn crossing_table() {
        // A horizontal line walked left to right on screen: below it is its right.
        let (a, b) = (Point::new(0.2, 0.5), Point::new(0.8, 0.5));
        let cases = [
            (
                "down through the middle",
                [0.5, 0.4],
                [0.5, 0.6],
                Some(Side::Left),
            ),
            (
                "up through the middle",
                [0.5, 0.6],
                [0.5, 0.4],
                Some(Side::Right),
            ),
            ("beyond the end", [0.9, 0.4], [0.9, 0.6], None),
            ("stays above", [0.3, 0.4], [0.6, 0.45], None),
            ("stops on the line", [0.5, 0.4], [0.5, 0.5], None),
            ("diagonal", [0.1, 0.3], [0.4, 0.7], Some(Side::Left)),
        ];
        for (name, from, to, want) in cases {
            assert_eq!(crossing(a, b, from.into(), to.into()), want, "{name}");
        }
    }

    #[test]
    fn side_and_distance_table() {
        let (a, b) = (Point::new(0.0, 0.5), Point::new(1.0, 0.5));
        let cases = [
            ([0.5, 0.7], 0.2, Some(Side::Right)),
            ([0.5, 0.3], -0.2, Some(Side::Left)),
            ([0.5, 0.505], 0.005, None),
            ([0.5, 0.49], -0.01, Some(Side::Left)),
        ];
        for (p, d, side) in cases {
            assert!((signed_distance(a, b, p.into()) - d).abs() < 1e-12, "{p:?}");
            assert_eq!(side_of(a, b, p.into(), 0.01), side, "{p:?}");
        }
    }

    #[test]
    fn angle_table() {
        let cases = [
            ([1.0, 0.0], [1.0, 0.0], Some(0.0)),
            ([1.0, 0.0], [0.0, 2.0], Some(90.0)),
            ([1.0, 1.0], [1.0, 0.0], Some(45.0)),
            ([-1.0, 0.0], [1.0, 0.0], Some(180.0)),
            ([0.0, 0.0], [1.0, 0.0], None),
        ];
        for (v, w, want) in cases {
            let got = angle_deg(v, w);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{v:?} {w:?}: {g}"),
                _ => assert_eq!(got, want, "{v:?}"),
            }
        }
    }
}
