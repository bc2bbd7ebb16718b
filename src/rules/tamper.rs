//! Camera tampering: is the view blacked out or covered, badly defocused, or moved? Each analysed
//! frame's [`Thumbnail`] is compared with a reference learned over the first [`LEARN`] of stream
//! time and then updated slowly, and only from frames that look clearly normal. The view is cut
//! into a grid of [`GRID_X`] x [`GRID_Y`] blocks so that objects covering part of it (a bus, a
//! crowd) change a few blocks, not the verdict:
//!
//! - covered: blocks that had structure in the reference have gone flat (no contrast left). A lens
//!   cap, a hand, a bag, spray paint, a blackout and a floodlight into the lens all do this.
//! - defocused: the blocks' sharpness (gradient energy over variance, so the lighting does not
//!   matter) fell relative to the reference; the median over blocks, so objects passing change
//!   nothing.
//! - moved: the scene's stable edges (pixels that were edges in most frames, by orientation) are
//!   no longer found in the frame, within one thumbnail pixel, more often than chance explains.
//!   Objects passing in front hide some of those edges and leave the rest in place; a re-aimed
//!   camera keeps none. Vertical and horizontal edges are judged apart and the worse counts, so
//!   a pan along a scene of horizontal lines (a road, a kerb) is still seen.
//!
//! Traffic, crowds, sensor noise and lighting changes move these statistics little. A view that
//! stays moved for [`ADOPT_AFTER`] becomes the new reference (the camera was re-aimed on purpose),
//! so its incident can close; covered and defocused views never become the reference.
//!
//! Pure computation over buffers allocated when the thumbnail size is first seen: no I/O, no clock
//! (stream time comes with each frame), no allocation per frame. How long a reason must last
//! before an incident opens (`min_duration_s`) is the rule engine's business, not this module's.

use std::time::Duration;

use crate::frame::Thumbnail;

/// Why a frame looks tampered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TamperReason {
    /// Blacked out, covered, painted over or flooded with light: the view lost its contrast.
    Covered,
    /// Badly out of focus: the view lost its sharpness relative to its contrast.
    Defocused,
    /// Re-aimed or knocked: the scene's fixed edges are not where they were.
    Moved,
}

impl TamperReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TamperReason::Covered => "covered",
            TamperReason::Defocused => "defocused",
            TamperReason::Moved => "moved",
        }
    }
}

/// Stream time over which the first reference is learned (at least [`LEARN_MIN_FRAMES`] frames).
pub const LEARN: Duration = Duration::from_secs(3);
/// Frames the reference is learned from, at the least.
pub const LEARN_MIN_FRAMES: u32 = 3;
/// A view that stays moved this long becomes the new reference.
pub const ADOPT_AFTER: Duration = Duration::from_secs(120);
/// Blocks across and down the view.
pub const GRID_X: usize = 8;
pub const GRID_Y: usize = 6;
const BLOCKS: usize = GRID_X * GRID_Y;
/// Time constant (seconds) of the reference's exponential average over clearly normal frames.
const TAU_S: f64 = 30.0;
/// A block whose luma deviates less than this (standard deviation, grey levels) is flat ...
const FLAT: f64 = 3.0;
/// ... or less than this fraction of its reference deviation.
const FLAT_RELATIVE: f64 = 0.15;
/// A block with at least this deviation has structure ...
const STRUCTURE: f64 = 6.0;
/// ... and a block that had structure in this share of the frames is judged for coverage and
/// sharpness (a car passing over plain asphalt does not make the asphalt a structured block).
const JUDGED: f64 = 0.7;
/// A reference needs this many judged blocks, else learning goes on.
const MIN_JUDGED_BLOCKS: usize = 4;
/// A pixel is an edge when its gradient exceeds this multiple of the image's mean gradient ...
const EDGE_K: f32 = 2.0;
/// ... and this many grey levels (|dx| + |dy| over two pixels), so flat noise makes no edges.
const EDGE_FLOOR: f32 = 8.0;
/// A pixel is a stable edge of the reference when it was an edge in this share of the frames.
const STABLE: f32 = 0.4;
/// With fewer stable edge pixels of an orientation than this fraction of the view, that
/// orientation is not judged.
const MIN_EDGE_FRACTION: f64 = 0.004;
/// Chance is measured with the edges displaced by this share of the width (4 pixels at least).
const CHANCE_SHIFT: usize = 16;
/// A verdict is the median of the ratios over this much stream time (at most [`WINDOW`] frames),
/// so a person walking right past the lens for a moment is not a moved camera.
const SMOOTH: Duration = Duration::from_millis(1000);
const WINDOW: usize = 8;

/// Where a reason starts: covered above `covered`, defocused below `sharpness`, moved below
/// `edges`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Thresholds {
    covered: f64,
    sharpness: f64,
    edges: f64,
}

impl Thresholds {
    /// The thresholds at `sensitivity` (0 = only gross tampering, 1 = small changes).
    fn tripped(s: f64) -> Thresholds {
        Thresholds {
            covered: 0.95 - 0.5 * s,
            sharpness: 0.25 + 0.35 * s,
            edges: 0.05 + 0.20 * s,
        }
    }

    /// Halfway between the tripping threshold and an unchanged view: only frames inside these
    /// update the reference, so a view drifting towards tampered does not drag it along.
    fn normal(tripped: Thresholds) -> Thresholds {
        Thresholds {
            covered: tripped.covered / 2.0,
            sharpness: (tripped.sharpness + 1.0) / 2.0,
            edges: (tripped.edges + 1.0) / 2.0,
        }
    }

    fn classify(&self, r: &Ratios) -> Option<TamperReason> {
        if r.covered >= self.covered {
            Some(TamperReason::Covered)
        } else if r.sharpness < self.sharpness {
            Some(TamperReason::Defocused)
        } else if r.edges < self.edges {
            Some(TamperReason::Moved)
        } else {
            None
        }
    }
}

/// A frame compared with the reference.
#[derive(Clone, Copy, Debug)]
struct Ratios {
    /// Share of the reference's structured blocks that went flat (0 = none).
    covered: f64,
    /// Median block sharpness relative to the reference (1 = unchanged).
    sharpness: f64,
    /// Stable edges found beyond chance (1 = all, 0 = chance).
    edges: f64,
}

impl Ratios {
    const UNCHANGED: Ratios = Ratios {
        covered: 0.0,
        sharpness: 1.0,
        edges: 1.0,
    };
}

/// Statistics of one thumbnail.
#[derive(Clone, Copy, Debug)]
struct Stats {
    mean: f64,
    /// Standard deviation of luma over the view.
    contrast: f64,
    /// Mean gradient magnitude (|dx| + |dy|, central differences).
    gradient: f64,
    /// Per block: standard deviation of luma.
    block_std: [f64; BLOCKS],
    /// Per block: mean squared gradient over variance (0 for a flat block).
    block_sharp: [f64; BLOCKS],
}

impl Stats {
    const ZERO: Stats = Stats {
        mean: 0.0,
        contrast: 0.0,
        gradient: 0.0,
        block_std: [0.0; BLOCKS],
        block_sharp: [0.0; BLOCKS],
    };
}

/// What the reference remembers besides its edges: exponential averages of frame statistics.
#[derive(Clone, Copy, Debug)]
struct Reference {
    contrast: f64,
    /// Mean gradient magnitude.
    gradient: f64,
    /// Per block: share of frames in which it had structure.
    block_structured: [f64; BLOCKS],
    block_std: [f64; BLOCKS],
    /// Per block: sharpness, over the frames in which it had structure.
    block_sharp: [f64; BLOCKS],
}

impl Reference {
    fn new(s: &Stats) -> Reference {
        Reference {
            contrast: s.contrast,
            gradient: s.gradient,
            block_structured: s.block_std.map(|d| if d >= STRUCTURE { 1.0 } else { 0.0 }),
            block_std: s.block_std,
            block_sharp: s.block_sharp,
        }
    }

    fn blend(&mut self, s: &Stats, alpha: f64) {
        self.contrast += alpha * (s.contrast - self.contrast);
        self.gradient += alpha * (s.gradient - self.gradient);
        for b in 0..BLOCKS {
            let structured = s.block_std[b] >= STRUCTURE;
            let p = &mut self.block_structured[b];
            *p += alpha * (f64::from(u8::from(structured)) - *p);
            self.block_std[b] += alpha * (s.block_std[b] - self.block_std[b]);
            if structured {
                self.block_sharp[b] += alpha * (s.block_sharp[b] - self.block_sharp[b]);
            }
        }
    }

    fn judged(&self, b: usize) -> bool {
        self.block_structured[b] >= JUDGED
    }
}

/// The ratios of the last frames, at most [`WINDOW`], for a median over [`SMOOTH`].
#[derive(Default)]
struct Recent {
    seen: [(Duration, [f64; 3]); WINDOW],
    len: usize,
    next: usize,
}

impl Recent {
    fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Adds the ratios of the frame at `t`; returns the medians over the frames of the last
    /// [`SMOOTH`] up to `t` (always including this one).
    fn push(&mut self, t: Duration, r: Ratios) -> Ratios {
        let current = [r.covered, r.sharpness, r.edges];
        self.seen[self.next] = (t, current);
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
        let mut out = [0.0; 3];
        for (k, o) in out.iter_mut().enumerate() {
            let mut v = [0.0; WINDOW];
            let mut n = 0;
            for &(at, ratios) in &self.seen[..self.len] {
                if at <= t && at + SMOOTH > t {
                    v[n] = ratios[k];
                    n += 1;
                }
            }
            *o = median(&mut v[..n]).unwrap_or(current[k]);
        }
        Ratios {
            covered: out[0],
            sharpness: out[1],
            edges: out[2],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Learning { since: Duration, frames: u32 },
    Watching,
}

/// Per pixel, for one edge orientation: the reference's edge persistence and the current frame's
/// edges.
#[derive(Default)]
struct EdgeLayer {
    /// Share of (recent, normal) frames in which the pixel was an edge of this orientation.
    persistence: Vec<f32>,
    /// The current frame's edges of this orientation, then within one pixel of one.
    edges: Vec<bool>,
    near: Vec<bool>,
}

impl EdgeLayer {
    fn resize(&mut self, n: usize) {
        self.persistence.clear();
        self.persistence.resize(n, 0.0);
        self.edges.resize(n, false);
        self.near.resize(n, false);
    }

    fn learn(&mut self, alpha: f32) {
        for (p, &e) in self.persistence.iter_mut().zip(&self.edges) {
            *p += alpha * (f32::from(u8::from(e)) - *p);
        }
    }

    /// Stable edges found near a current edge, beyond chance: `(recall - p) / (1 - p)`, with
    /// `p` the recall when the current edges are displaced by a few pixels in each of four
    /// directions (which accounts for where the current edges are dense, unlike their share
    /// of the view); `None` with too few stable edges to judge.
    fn similarity(&mut self, w: usize, spread: &mut [bool]) -> Option<f64> {
        let n = self.edges.len();
        let stable = self.persistence.iter().filter(|&&p| p >= STABLE).count();
        if (stable as f64) < MIN_EDGE_FRACTION * n as f64 {
            return None;
        }
        dilate(&self.edges, w, spread, &mut self.near);
        let recall =
            |dx: isize, dy: isize| shifted_recall(&self.persistence, &self.near, w, dx, dy);
        let d = (w / CHANCE_SHIFT).max(4) as isize;
        let chance = (recall(d, 0) + recall(-d, 0) + recall(0, d) + recall(0, -d)) / 4.0;
        if chance >= 1.0 {
            return Some(0.0);
        }
        Some(((recall(0, 0) - chance) / (1.0 - chance)).max(0.0))
    }
}

/// Tampering detection for one camera. Feed it every analysed frame's thumbnail in stream order.
pub struct TamperDetector {
    tripped: Thresholds,
    normal: Thresholds,
    phase: Phase,
    width: usize,
    height: usize,
    last_t: Option<Duration>,
    reference: Reference,
    /// The last frames' ratios, for the median.
    recent: Recent,
    /// Vertical edges (horizontal gradient dominates) and horizontal edges.
    vertical: EdgeLayer,
    horizontal: EdgeLayer,
    /// Scratch: the current frame's gradient magnitude and orientation, dilation.
    grad: Vec<f32>,
    across: Vec<bool>,
    spread: Vec<bool>,
    /// Since when the view has been moved without a break.
    moved_since: Option<Duration>,
    scores: [(&'static str, f64); 6],
}

impl TamperDetector {
    /// A detector at `sensitivity` in 0..=1 (clamped; not a number counts as the default 0.5).
    pub fn new(sensitivity: f64) -> TamperDetector {
        let s = if sensitivity.is_nan() {
            0.5
        } else {
            sensitivity.clamp(0.0, 1.0)
        };
        let tripped = Thresholds::tripped(s);
        TamperDetector {
            tripped,
            normal: Thresholds::normal(tripped),
            phase: Phase::Learning {
                since: Duration::ZERO,
                frames: 0,
            },
            width: 0,
            height: 0,
            last_t: None,
            reference: Reference::new(&Stats::ZERO),
            recent: Recent::default(),
            vertical: EdgeLayer::default(),
            horizontal: EdgeLayer::default(),
            grad: Vec::new(),
            across: Vec::new(),
            spread: Vec::new(),
            moved_since: None,
            scores: scores(&Stats::ZERO, 1.0, &Ratios::UNCHANGED),
        }
    }

    /// Feeds one analysed frame at stream time t; returns the reason when this frame looks
    /// tampered compared with the reference, None when it looks normal (or while learning).
    /// An empty thumbnail is ignored; a change of thumbnail size starts learning again.
    pub fn observe(&mut self, t: Duration, thumb: &Thumbnail) -> Option<TamperReason> {
        let (w, h) = (thumb.width as usize, thumb.height as usize);
        if w == 0 || h == 0 || thumb.luma.len() != w * h {
            return None;
        }
        if (w, h) != (self.width, self.height) {
            self.resize(w, h);
            self.phase = Phase::Learning {
                since: t,
                frames: 0,
            };
        }
        let dt = match self.last_t {
            Some(last) if t > last => (t - last).as_secs_f64(),
            _ => 0.0,
        };
        self.last_t = Some(t);
        let stats = measure(&thumb.luma, w, h, &mut self.grad, &mut self.across);
        // Edges are found at the lower of the frame's and the reference's gradient levels: objects
        // filling the view must not raise the bar over the scene's own faint edges, and a darker
        // view must not lose them all.
        let level = match self.phase {
            Phase::Learning { frames: 0, .. } => stats.gradient,
            _ => stats.gradient.min(self.reference.gradient),
        };
        let threshold = (EDGE_K * level as f32).max(EDGE_FLOOR);
        for (((&g, &a), v), hz) in self
            .grad
            .iter()
            .zip(&self.across)
            .zip(self.vertical.edges.iter_mut())
            .zip(self.horizontal.edges.iter_mut())
        {
            let edge = g > threshold;
            *v = edge && !a;
            *hz = edge && a;
        }

        if let Phase::Learning { since, frames } = self.phase {
            self.learn(t, since, frames + 1, &stats);
            return None;
        }

        let raw = self.compare(&stats);
        let ratios = self.recent.push(t, raw);
        let contrast_ratio = stats.contrast / self.reference.contrast.max(1.0);
        self.scores = scores(&stats, contrast_ratio, &ratios);
        let reason = self.tripped.classify(&ratios);

        // The reference learns from this frame alone looking clearly normal.
        if self.normal.classify(&raw).is_none() {
            let alpha = 1.0 - (-dt / TAU_S).exp();
            self.reference.blend(&stats, alpha);
            self.vertical.learn(alpha as f32);
            self.horizontal.learn(alpha as f32);
        }

        if reason == Some(TamperReason::Moved) {
            let since = *self.moved_since.get_or_insert(t);
            if t.saturating_sub(since) >= ADOPT_AFTER {
                // Re-aimed on purpose: learn the new view, starting with this frame.
                self.moved_since = None;
                self.learn(t, t, 1, &stats);
            }
        } else {
            self.moved_since = None;
        }
        reason
    }

    /// Scores of the last observed frame, for the incident's peak values and debugging:
    /// `brightness` and `contrast` (grey levels); `contrast_ratio` to the reference;
    /// `covered_fraction` (share of the reference's structured blocks gone flat),
    /// `sharpness_ratio` and `edge_similarity` (1 = unchanged). While learning the last four are
    /// 1, 0, 1, 1.
    pub fn last_scores(&self) -> &[(&'static str, f64)] {
        &self.scores
    }

    fn resize(&mut self, w: usize, h: usize) {
        let n = w * h;
        self.width = w;
        self.height = h;
        self.vertical.resize(n);
        self.horizontal.resize(n);
        self.grad.resize(n, 0.0);
        self.across.resize(n, false);
        self.spread.resize(n, false);
        self.moved_since = None;
    }

    /// Adds the current frame (statistics `stats`, edges in the layers) as learning frame number
    /// `frames` of a learning phase that began at `since`; ends the phase once it has lasted long
    /// enough and the reference has structure, else keeps learning.
    fn learn(&mut self, t: Duration, since: Duration, frames: u32, stats: &Stats) {
        let alpha = 1.0 / f64::from(frames);
        if frames == 1 {
            self.reference = Reference::new(stats);
            self.recent.clear();
        } else {
            self.reference.blend(stats, alpha);
        }
        self.vertical.learn(alpha as f32);
        self.horizontal.learn(alpha as f32);
        self.scores = scores(stats, 1.0, &Ratios::UNCHANGED);
        let judged = (0..BLOCKS).filter(|&b| self.reference.judged(b)).count();
        self.phase = if t.saturating_sub(since) < LEARN || frames < LEARN_MIN_FRAMES {
            Phase::Learning { since, frames }
        } else if judged < MIN_JUDGED_BLOCKS {
            // A blank view teaches nothing; start over with the next frame.
            Phase::Learning {
                since: t,
                frames: 0,
            }
        } else {
            Phase::Watching
        };
    }

    fn compare(&mut self, stats: &Stats) -> Ratios {
        let r = &self.reference;
        let (mut structured, mut flat) = (0usize, 0usize);
        let mut sharp = [0.0f64; BLOCKS];
        let mut judged = 0;
        for b in 0..BLOCKS {
            if !r.judged(b) {
                continue;
            }
            structured += 1;
            let now = stats.block_std[b];
            if now < FLAT.max(FLAT_RELATIVE * r.block_std[b]) {
                flat += 1;
            } else if r.block_sharp[b] > 0.0 {
                sharp[judged] = stats.block_sharp[b] / r.block_sharp[b];
                judged += 1;
            }
        }
        let covered = if structured == 0 {
            0.0
        } else {
            flat as f64 / structured as f64
        };
        // Too few blocks left to judge (most went flat, or the scene is sparse): no verdict.
        let sharpness = if judged >= MIN_JUDGED_BLOCKS {
            median(&mut sharp[..judged]).unwrap_or(1.0)
        } else {
            1.0
        };
        let v = self.vertical.similarity(self.width, &mut self.spread);
        let h = self.horizontal.similarity(self.width, &mut self.spread);
        let edges = match (v, h) {
            (Some(v), Some(h)) => v.min(h),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 1.0,
        };
        Ratios {
            covered,
            sharpness,
            edges,
        }
    }
}

/// Share of stable edge pixels `(x, y)` (persistence at least [`STABLE`]) with `near` set at
/// `(x + dx, y + dy)`, over those whose displaced position is inside the view.
fn shifted_recall(persistence: &[f32], near: &[bool], w: usize, dx: isize, dy: isize) -> f64 {
    let h = persistence.len() / w;
    let (xs, ys) = (dx.unsigned_abs(), dy.unsigned_abs());
    if xs >= w || ys >= h {
        return 0.0;
    }
    let (mut stable, mut found) = (0usize, 0usize);
    for y in 0..h - ys {
        let (py, ny) = if dy >= 0 { (y, y + ys) } else { (y + ys, y) };
        let prow = &persistence[py * w..(py + 1) * w];
        let nrow = &near[ny * w..(ny + 1) * w];
        let (p, q) = if dx >= 0 {
            (&prow[..w - xs], &nrow[xs..])
        } else {
            (&prow[xs..], &nrow[..w - xs])
        };
        for (&p, &c) in p.iter().zip(q) {
            if p >= STABLE {
                stable += 1;
                found += usize::from(c);
            }
        }
    }
    if stable == 0 {
        0.0
    } else {
        found as f64 / stable as f64
    }
}

fn scores(stats: &Stats, contrast_ratio: f64, r: &Ratios) -> [(&'static str, f64); 6] {
    [
        ("brightness", stats.mean),
        ("contrast", stats.contrast),
        ("contrast_ratio", contrast_ratio),
        ("covered_fraction", r.covered),
        ("sharpness_ratio", r.sharpness),
        ("edge_similarity", r.edges),
    ]
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Statistics of a `w` x `h` luma image; writes each pixel's gradient magnitude to `grad` and
/// whether its vertical gradient dominates (a horizontal edge) to `across` (0 / false on the
/// border).
fn measure(img: &[u8], w: usize, h: usize, grad: &mut [f32], across: &mut [bool]) -> Stats {
    let mut s = Stats::ZERO;
    // Per block: pixel count, sum, sum of squares, sum of squared gradients.
    let mut acc = [[0.0f64; 4]; BLOCKS];
    grad.fill(0.0);
    across.fill(false);
    let mut grad_sum = 0.0f64;
    for y in 0..h {
        let by = (y * GRID_Y / h).min(GRID_Y - 1);
        let row = &img[y * w..(y + 1) * w];
        let inner = y > 0 && y + 1 < h && w >= 3;
        for bx in 0..GRID_X {
            let (x0, x1) = (bx * w / GRID_X, (bx + 1) * w / GRID_X);
            let a = &mut acc[by * GRID_X + bx];
            for &v in &row[x0..x1] {
                let v = f64::from(v);
                a[0] += 1.0;
                a[1] += v;
                a[2] += v * v;
            }
            if !inner {
                continue;
            }
            // Interior pixels x in x0.max(1)..x1.min(w - 1).
            let (g0, g1) = (x0.max(1), x1.min(w - 1));
            if g0 >= g1 {
                continue;
            }
            let left = &img[y * w + g0 - 1..y * w + g1 - 1];
            let right = &img[y * w + g0 + 1..y * w + g1 + 1];
            let up = &img[(y - 1) * w + g0..(y - 1) * w + g1];
            let down = &img[(y + 1) * w + g0..(y + 1) * w + g1];
            let out = &mut grad[y * w + g0..y * w + g1];
            let dir = &mut across[y * w + g0..y * w + g1];
            for (((((g, d), &l), &r), &u), &dn) in out
                .iter_mut()
                .zip(dir.iter_mut())
                .zip(left)
                .zip(right)
                .zip(up)
                .zip(down)
            {
                let gx = f32::from(r) - f32::from(l);
                let gy = f32::from(dn) - f32::from(u);
                *g = gx.abs() + gy.abs();
                *d = gy.abs() > gx.abs();
                grad_sum += f64::from(*g);
                a[3] += f64::from(gx * gx + gy * gy);
            }
        }
    }
    let (mut n, mut sum, mut sq) = (0.0, 0.0, 0.0);
    for (b, a) in acc.iter().enumerate() {
        n += a[0];
        sum += a[1];
        sq += a[2];
        if a[0] > 0.0 {
            let mean = a[1] / a[0];
            let var = (a[2] / a[0] - mean * mean).max(0.0);
            s.block_std[b] = var.sqrt();
            s.block_sharp[b] = if var > 0.0 { a[3] / a[0] / var } else { 0.0 };
        }
    }
    if n > 0.0 {
        s.mean = sum / n;
        s.contrast = (sq / n - s.mean * s.mean).max(0.0).sqrt();
    }
    if w >= 3 && h >= 3 {
        s.gradient = grad_sum / ((w - 2) * (h - 2)) as f64;
    }
    s
}

/// 3x3 dilation of the `w`-wide map `src` into `out` (`tmp` is scratch).
fn dilate(src: &[bool], w: usize, tmp: &mut [bool], out: &mut [bool]) {
    for (s, t) in src.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        t.copy_from_slice(s);
        for (d, &v) in t[1..].iter_mut().zip(s) {
            *d |= v;
        }
        for (d, &v) in t.iter_mut().zip(&s[1..]) {
            *d |= v;
        }
    }
    out.copy_from_slice(tmp);
    for (o, t) in out.chunks_exact_mut(w).skip(1).zip(tmp.chunks_exact(w)) {
        for (d, &v) in o.iter_mut().zip(t) {
            *d |= v;
        }
    }
    for (o, t) in out.chunks_exact_mut(w).zip(tmp.chunks_exact(w).skip(1)) {
        for (d, &v) in o.iter_mut().zip(t) {
            *d |= v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 128;
    const H: usize = 96;
    const FPS: f64 = 5.0;

    /// A small deterministic random generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// Uniform in -a..=a.
        fn noise(&mut self, a: i32) -> i32 {
            (self.next() % (2 * a as u64 + 1)) as i32 - a
        }
    }

    /// A scene twice as large as the view both ways: overlapping rectangles of random grey
    /// levels on a mid-grey ground, so edges run in all directions at irregular places.
    fn canvas() -> Vec<u8> {
        let (cw, ch) = (2 * W, 2 * H);
        let mut c = vec![110u8; cw * ch];
        let mut rng = Rng(0x5EED);
        for _ in 0..160 {
            let (x, y) = (rng.below(cw), rng.below(ch));
            let (w, h) = (4 + rng.below(24), 4 + rng.below(24));
            let v = (30 + rng.below(200)) as u8;
            for yy in y..(y + h).min(ch) {
                c[yy * cw + x..yy * cw + (x + w).min(cw)].fill(v);
            }
        }
        c
    }

    /// The view at offset (`dx`, `dy`) of the canvas, luma scaled by `gain`, with noise of
    /// `noise` grey levels.
    fn view(c: &[u8], dx: usize, dy: usize, gain: f64, noise: i32, rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::with_capacity(W * H);
        for y in 0..H {
            for &v in &c[(y + dy) * 2 * W + dx..][..W] {
                let v = (f64::from(v) * gain) as i32 + rng.noise(noise);
                out.push(v.clamp(0, 255) as u8);
            }
        }
        out
    }

    fn thumb(luma: Vec<u8>) -> Thumbnail {
        Thumbnail {
            width: W as u32,
            height: H as u32,
            luma,
        }
    }

    /// Squares of `size` moving across the view at different speeds, frame `i`.
    fn blobs(luma: &mut [u8], i: usize, count: usize, size: usize) {
        for k in 0..count {
            let x = (i * (3 + 2 * k) + 37 * k) % (W - size);
            let y = (10 + 23 * k) % (H - size);
            let v = if k % 2 == 0 { 240 } else { 15 };
            for row in luma.chunks_exact_mut(W).skip(y).take(size) {
                row[x..x + size].fill(v);
            }
        }
    }

    /// Box blur of radius `r` of a `w` x `h` image.
    fn box_blur(luma: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
        let mut out = vec![0u8; luma.len()];
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = (0u32, 0u32);
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        sum += u32::from(luma[yy * w + xx]);
                        n += 1;
                    }
                }
                out[y * w + x] = (sum / n) as u8;
            }
        }
        out
    }

    fn at(i: usize) -> Duration {
        Duration::from_secs_f64(i as f64 / FPS)
    }

    /// Feeds `frames` frames made by `make(i)`; returns the verdicts.
    fn feed(
        det: &mut TamperDetector,
        from: usize,
        frames: usize,
        mut make: impl FnMut(usize) -> Vec<u8>,
    ) -> Vec<Option<TamperReason>> {
        (from..from + frames)
            .map(|i| det.observe(at(i), &thumb(make(i))))
            .collect()
    }

    type Scene = fn(&[u8], usize, &mut Rng) -> Vec<u8>;

    #[test]
    fn busy_noisy_dark_or_changing_scenes_never_trip() {
        let scenes: [(&str, Scene); 6] = [
            ("still, noise 8", |c, _, r| view(c, 0, 0, 1.0, 8, r)),
            ("moving blobs", |c, i, r| {
                let mut v = view(c, 0, 0, 1.0, 4, r);
                blobs(&mut v, i, 6, 14);
                v
            }),
            ("large blobs", |c, i, r| {
                let mut v = view(c, 0, 0, 1.0, 4, r);
                blobs(&mut v, i, 3, 30);
                v
            }),
            ("dark, noise 3", |c, _, r| view(c, 0, 0, 0.2, 3, r)),
            ("dimming to 40%", |c, i, r| {
                view(c, 0, 0, 1.0 - 0.6 * i as f64 / 300.0, 4, r)
            }),
            ("jitter 1 px", |c, i, r| {
                view(c, i % 2, (i / 2) % 2, 1.0, 4, r)
            }),
        ];
        let c = canvas();
        for (name, scene) in scenes {
            // The most sensitive setting: what does not trip it trips no other.
            let mut det = TamperDetector::new(1.0);
            let mut rng = Rng(7);
            let got = feed(&mut det, 0, 300, |i| scene(&c, i, &mut rng));
            let bad: Vec<_> = got
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_some())
                .take(3)
                .collect();
            assert!(bad.is_empty(), "{name}: {bad:?} {:?}", det.last_scores());
        }
    }

    #[test]
    fn tampering_is_caught_within_a_second_with_its_reason() {
        let c = canvas();
        let blurred = box_blur(&c, 2 * W, 2 * H, 4);
        let plain = |v: u8| vec![v; 4 * W * H];
        // (what, the scene afterwards, view offset, noise, reason)
        let table = [
            ("blackout", plain(1), (0, 0), 1, TamperReason::Covered),
            (
                "hand over the lens",
                plain(60),
                (0, 0),
                1,
                TamperReason::Covered,
            ),
            ("floodlight", plain(252), (0, 0), 2, TamperReason::Covered),
            ("defocused", blurred, (0, 0), 2, TamperReason::Defocused),
            ("panned 30%", c.clone(), (40, 0), 4, TamperReason::Moved),
            ("tilted 25%", c.clone(), (0, 24), 4, TamperReason::Moved),
            (
                "re-aimed elsewhere",
                c.clone(),
                (W, H),
                4,
                TamperReason::Moved,
            ),
        ];
        for (name, scene, (dx, dy), noise, want) in table {
            let mut det = TamperDetector::new(0.5);
            let mut rng = Rng(11);
            let before = feed(&mut det, 0, 50, |_| view(&c, 0, 0, 1.0, 4, &mut rng));
            assert!(before.iter().all(Option::is_none), "{name}: {before:?}");
            let after = feed(&mut det, 50, 100, |i| {
                let mut v = view(&scene, dx, dy, 1.0, noise, &mut rng);
                if want == TamperReason::Moved {
                    // Traffic goes on in the new view.
                    blobs(&mut v, i, 3, 12);
                }
                v
            });
            let first = after.iter().position(Option::is_some);
            assert!(
                first.is_some_and(|f| f < FPS as usize),
                "{name}: first verdict at frame {first:?}"
            );
            let wrong: Vec<_> = after[FPS as usize..]
                .iter()
                .filter(|&&r| r != Some(want))
                .take(3)
                .collect();
            assert!(
                wrong.is_empty(),
                "{name}: {wrong:?} {:?}",
                det.last_scores()
            );
        }
    }

    #[test]
    fn sensitivity_decides_whether_half_a_cover_counts() {
        // The left five block columns of eight covered by something plain.
        let c = canvas();
        let half_covered = |rng: &mut Rng| {
            let mut v = view(&c, 0, 0, 1.0, 4, rng);
            for row in v.chunks_exact_mut(W) {
                row[..W * 5 / 8].fill(40);
            }
            v
        };
        for (sensitivity, want) in [(0.0, None), (0.5, None), (1.0, Some(TamperReason::Covered))] {
            let mut det = TamperDetector::new(sensitivity);
            let mut rng = Rng(3);
            feed(&mut det, 0, 50, |_| view(&c, 0, 0, 1.0, 4, &mut rng));
            let got = feed(&mut det, 50, 20, |_| half_covered(&mut rng));
            assert_eq!(
                got[10..],
                [want; 10],
                "sensitivity {sensitivity}: {:?}",
                det.last_scores()
            );
        }
    }

    #[test]
    fn a_moved_view_is_adopted_after_a_while_a_covered_one_never() {
        let c = canvas();
        let adopt = (ADOPT_AFTER.as_secs_f64() * FPS) as usize;
        let learn = (LEARN.as_secs_f64() * FPS) as usize;

        let mut det = TamperDetector::new(0.5);
        let mut rng = Rng(5);
        feed(&mut det, 0, 50, |_| view(&c, 0, 0, 1.0, 4, &mut rng));
        let moved = feed(&mut det, 50, adopt + learn + 50, |_| {
            view(&c, W, 0, 1.0, 4, &mut rng)
        });
        let last = moved.iter().rposition(Option::is_some);
        assert!(
            last.is_some_and(|l| (adopt..adopt + 5).contains(&l)),
            "last moved at {last:?}"
        );
        assert!(
            moved[5..adopt]
                .iter()
                .all(|&r| r == Some(TamperReason::Moved))
        );
        // The old view is now the changed one.
        let back = feed(&mut det, 50 + moved.len(), 10, |_| {
            view(&c, 0, 0, 1.0, 4, &mut rng)
        });
        assert_eq!(back[5..], [Some(TamperReason::Moved); 5]);

        let mut det = TamperDetector::new(0.5);
        feed(&mut det, 0, 50, |_| view(&c, 0, 0, 1.0, 4, &mut rng));
        let covered = feed(&mut det, 50, adopt + 100, |_| {
            view(&[5; 4 * W * H], 0, 0, 1.0, 2, &mut rng)
        });
        assert!(
            covered[5..]
                .iter()
                .all(|&r| r == Some(TamperReason::Covered))
        );
    }

    #[test]
    fn empty_resized_and_backwards_thumbnails_are_handled() {
        let c = canvas();
        let mut rng = Rng(9);
        let mut det = TamperDetector::new(0.5);
        assert_eq!(det.observe(Duration::ZERO, &Thumbnail::default()), None);
        let bad = Thumbnail {
            width: 10,
            height: 10,
            luma: vec![0; 5],
        };
        assert_eq!(det.observe(Duration::ZERO, &bad), None);
        feed(&mut det, 0, 50, |_| view(&c, 0, 0, 1.0, 4, &mut rng));
        // A new size (the camera's resolution changed) starts learning again, whatever it shows.
        let small = Thumbnail {
            width: 64,
            height: 48,
            luma: vec![0; 64 * 48],
        };
        assert_eq!(det.observe(at(50), &small), None);
        // Time going backwards (a restarted stream) neither panics nor trips.
        let got = feed(&mut det, 0, 30, |_| view(&c, 0, 0, 1.0, 4, &mut rng));
        assert!(got.iter().all(Option::is_none), "{got:?}");
        let names: Vec<_> = det.last_scores().iter().map(|s| s.0).collect();
        assert_eq!(
            names,
            [
                "brightness",
                "contrast",
                "contrast_ratio",
                "covered_fraction",
                "sharpness_ratio",
                "edge_similarity"
            ]
        );
        assert_eq!(TamperReason::Moved.as_str(), "moved");
        assert_eq!(TamperReason::Covered.as_str(), "covered");
        assert_eq!(TamperReason::Defocused.as_str(), "defocused");
    }
}
