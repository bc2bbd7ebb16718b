//! The per-camera tracker: prediction, the three association stages, and the life cycle of tracks
//! (tentative -> confirmed -> coasting -> removed). Scratch buffers live in the [`Tracker`] so that
//! an update allocates nothing once the buffers have grown to the scene's size.

use std::collections::VecDeque;
use std::time::Duration;

use super::assign::{Assigner, NONE};
use super::config::{MAX_TRAJECTORY_LEN, TrackerConfig};
use super::kalman::{BoxFilter, Noise};
use super::{Track, bottom_centre};
use crate::detect::Detection;

/// Most spare trajectory buffers kept for reuse.
const MAX_SPARE: usize = 256;

/// A multi-object tracker for one camera. Feed it every analysed frame's detections in stream-time
/// order; it reports the confirmed tracks.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    noise: Noise,
    /// Class id -> 1-based index of its confusable group, 0 for none.
    group_of: Vec<u16>,
    next_id: u64,
    last_t: Option<Duration>,
    /// Confirmed tracks in ascending id order, with their private state at the same index.
    tracks: Vec<Track>,
    states: Vec<State>,
    /// Tentative tracks (id 0) in birth order.
    pending: Vec<Pending>,
    scratch: Scratch,
}

/// What the tracker keeps about a track beyond what it reports.
#[derive(Clone, Copy, Debug)]
struct State {
    filter: BoxFilter,
    /// Stream time the filter's state refers to.
    t: Duration,
    votes: Votes,
}

#[derive(Debug)]
struct Pending {
    track: Track,
    state: State,
    done: bool,
}

/// Per-update buffers, reused.
#[derive(Debug, Default)]
struct Scratch {
    high: Vec<usize>,
    low: Vec<usize>,
    det_taken: Vec<bool>,
    /// Detection index matched to each confirmed / pending track, or [`NONE`].
    track_match: Vec<usize>,
    pending_match: Vec<usize>,
    rows: Vec<usize>,
    cols: Vec<usize>,
    cost: Vec<f64>,
    out: Vec<usize>,
    assigner: Assigner,
    /// Trajectory buffers of removed tracks, for new ones.
    spare: Vec<VecDeque<(Duration, [f32; 2])>>,
}

/// Score-weighted class votes over a track's matches. Only classes allowed to share a track ever
/// vote, so a few slots suffice; when they are full the weakest class gives way.
#[derive(Clone, Copy, Debug, Default)]
struct Votes {
    class: [u16; 4],
    weight: [f32; 4],
    len: usize,
}

impl Votes {
    fn add(&mut self, class: u16, w: f32) {
        let n = self.len;
        if let Some(i) = self.class[..n].iter().position(|&c| c == class) {
            self.weight[i] += w;
        } else if n < self.class.len() {
            self.class[n] = class;
            self.weight[n] = w;
            self.len += 1;
        } else {
            let weakest = argmax(&self.weight.map(|x| -x));
            if self.weight[weakest] < w {
                self.class[weakest] = class;
                self.weight[weakest] = w;
            }
        }
    }

    fn winner(&self) -> u16 {
        self.class[argmax(&self.weight[..self.len.max(1)])]
    }
}

/// Index of the largest value, the first one on ties.
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

impl Tracker {
    /// A tracker with no tracks. Out-of-range settings are brought into range (NaN becomes the
    /// default); call [`TrackerConfig::validate`] first to reject them with a message instead.
    pub fn new(cfg: TrackerConfig) -> Tracker {
        let cfg = sanitize(cfg);
        let mut group_of = Vec::new();
        for (g, group) in cfg.class_groups.iter().enumerate() {
            for &c in group {
                let c = usize::from(c);
                if group_of.len() <= c {
                    group_of.resize(c + 1, 0);
                }
                if group_of[c] == 0 {
                    group_of[c] = u16::try_from(g + 1).unwrap_or(u16::MAX);
                }
            }
        }
        let noise = Noise {
            measurement: f64::from(cfg.measurement_noise),
            accel: f64::from(cfg.accel_noise),
            size_accel: f64::from(cfg.size_accel_noise),
        };
        Tracker {
            cfg,
            noise,
            group_of,
            next_id: 1,
            last_t: None,
            tracks: Vec::new(),
            states: Vec::new(),
            pending: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The settings in use (after bringing them into range).
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// The confirmed tracks as of the latest update (the same slice it returned).
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Ids given so far; the next confirmed track gets `ids_issued() + 1`.
    pub fn ids_issued(&self) -> u64 {
        self.next_id - 1
    }

    /// Ends every track (for example after the stream restarted). Ids are not reused afterwards.
    pub fn reset(&mut self) {
        let spare = &mut self.scratch.spare;
        for t in self.tracks.drain(..) {
            recycle(spare, t.trajectory);
        }
        for p in self.pending.drain(..) {
            recycle(spare, p.track.trajectory);
        }
        self.states.clear();
        self.last_t = None;
    }

    /// Capacities of every buffer, to check that steady-state updates do not grow them.
    #[cfg(test)]
    pub(super) fn capacities(&self) -> Vec<usize> {
        let s = &self.scratch;
        let mut v = vec![
            self.tracks.capacity(),
            self.states.capacity(),
            self.pending.capacity(),
            s.high.capacity(),
            s.low.capacity(),
            s.det_taken.capacity(),
            s.track_match.capacity(),
            s.pending_match.capacity(),
            s.rows.capacity(),
            s.cols.capacity(),
            s.cost.capacity(),
            s.out.capacity(),
            s.spare.len(),
        ];
        v.extend(self.tracks.iter().map(|t| t.trajectory.capacity()));
        v
    }

    /// Advances the tracker to stream time `t` with the frame's detections and returns the
    /// confirmed tracks alive at `t`, in ascending id order.
    ///
    /// Coasting tracks (no detection matched at `t`, `misses > 0`, box and velocity predicted) are
    /// included until they die; use [`Track::is_matched`] to keep only the ones seen in this frame.
    /// Tentative tracks are not reported. `t` should not decrease: if it does, the stream is taken
    /// to have restarted and every track ends (as [`Tracker::reset`]). Detections with a
    /// non-finite score or box, or an empty box, are ignored.
    pub fn update(&mut self, t: Duration, detections: &[Detection]) -> &[Track] {
        if self.last_t.is_some_and(|last| t < last) {
            self.reset();
        }
        self.last_t = Some(t);
        let noise = self.noise;
        for (tr, st) in self.tracks.iter_mut().zip(&mut self.states) {
            predict(tr, st, t, &noise);
        }
        for p in &mut self.pending {
            predict(&mut p.track, &mut p.state, t, &noise);
        }

        let cfg = &self.cfg;
        let s = &mut self.scratch;
        s.high.clear();
        s.low.clear();
        for (i, d) in detections.iter().enumerate() {
            if !is_valid(d) {
                continue;
            }
            if d.score >= cfg.high_score {
                s.high.push(i);
            } else if d.score >= cfg.low_score {
                s.low.push(i);
            }
        }
        s.det_taken.clear();
        s.det_taken.resize(detections.len(), false);
        s.track_match.clear();
        s.track_match.resize(self.tracks.len(), NONE);
        s.pending_match.clear();
        s.pending_match.resize(self.pending.len(), NONE);

        let max_lost = Duration::from_secs_f64(cfg.max_lost_s);
        let mut stage = Stage {
            s: &mut *s,
            dets: detections,
            groups: &self.group_of,
        };
        let tracks = &self.tracks;
        let in_view = |tr: &Track| area(tr.bbox) > 0.0;
        // Stage 1: high detections against every confirmed track still in time and in view.
        stage.run(
            tracks.len(),
            |i| {
                let tr = &tracks[i];
                (t.saturating_sub(tr.last_seen) <= max_lost && in_view(tr))
                    .then_some((tr.bbox, tr.class_id))
            },
            Which::Tracks,
            true,
            cfg.match_iou_high,
        );
        // Stage 2: low detections against tracks seen in the previous update, still unmatched.
        stage.run(
            tracks.len(),
            |i| {
                let tr = &tracks[i];
                (tr.misses == 0 && in_view(tr)).then_some((tr.bbox, tr.class_id))
            },
            Which::Tracks,
            false,
            cfg.match_iou_low,
        );
        // Stage 3: left-over high detections against tentative tracks.
        let pending = &self.pending;
        stage.run(
            pending.len(),
            |i| {
                let tr = &pending[i].track;
                in_view(tr).then_some((tr.bbox, tr.class_id))
            },
            Which::Pending,
            true,
            cfg.match_iou_tentative,
        );

        self.finish_confirmed(t, detections, max_lost);
        self.finish_pending(t, detections);
        self.birth(t, detections);
        &self.tracks
    }

    /// Applies matches to confirmed tracks, ages the unmatched ones and removes the dead.
    fn finish_confirmed(&mut self, t: Duration, dets: &[Detection], max_lost: Duration) {
        let cfg = &self.cfg;
        let noise = self.noise;
        let matches = &self.scratch.track_match;
        for (i, (tr, st)) in self.tracks.iter_mut().zip(&mut self.states).enumerate() {
            match matches[i] {
                NONE => {
                    tr.misses = tr.misses.saturating_add(1);
                    st.filter.freeze_size();
                }
                d => apply(tr, st, &dets[d], t, &noise, cfg.trajectory_len),
            }
        }
        let mut w = 0;
        for i in 0..self.tracks.len() {
            let tr = &self.tracks[i];
            let alive = tr.misses <= cfg.max_misses
                && t.saturating_sub(tr.last_seen) <= max_lost
                && (tr.misses == 0 || area(tr.bbox) > 0.0);
            if alive {
                self.tracks.swap(i, w);
                self.states.swap(i, w);
                w += 1;
            }
        }
        while self.tracks.len() > w {
            if let Some(tr) = self.tracks.pop() {
                recycle(&mut self.scratch.spare, tr.trajectory);
            }
        }
        self.states.truncate(w);
    }

    /// Applies matches to tentative tracks, confirms those with enough hits, drops the unmatched.
    fn finish_pending(&mut self, t: Duration, dets: &[Detection]) {
        let noise = self.noise;
        for (i, p) in self.pending.iter_mut().enumerate() {
            match self.scratch.pending_match[i] {
                NONE => p.done = true,
                d => {
                    apply(
                        &mut p.track,
                        &mut p.state,
                        &dets[d],
                        t,
                        &noise,
                        self.cfg.trajectory_len,
                    );
                    if p.track.hits >= self.cfg.min_hits {
                        let mut tr = take(&mut p.track);
                        tr.id = self.next_id;
                        self.next_id += 1;
                        self.tracks.push(tr);
                        self.states.push(p.state);
                        p.done = true;
                    }
                }
            }
        }
        let spare = &mut self.scratch.spare;
        self.pending.retain_mut(|p| {
            if p.done {
                recycle(spare, std::mem::take(&mut p.track.trajectory));
            }
            !p.done
        });
    }

    /// Starts tentative tracks from unmatched high detections that score well enough.
    fn birth(&mut self, t: Duration, dets: &[Detection]) {
        for k in 0..self.scratch.high.len() {
            let d = self.scratch.high[k];
            let det = &dets[d];
            if self.scratch.det_taken[d] || det.score < self.cfg.new_track_score {
                continue;
            }
            let filter = BoxFilter::new(det.bbox, &self.noise);
            let mut votes = Votes::default();
            votes.add(det.class_id, det.score);
            let mut trajectory = self
                .scratch
                .spare
                .pop()
                .unwrap_or_else(|| VecDeque::with_capacity(self.cfg.trajectory_len));
            trajectory.clear();
            let bbox = clip(filter.bbox());
            trajectory.push_back((t, bottom_centre(bbox)));
            let mut track = Track {
                id: 0,
                class_id: det.class_id,
                score: det.score,
                bbox,
                velocity: [0.0; 2],
                first_seen: t,
                last_seen: t,
                hits: 1,
                misses: 0,
                trajectory,
            };
            let state = State { filter, t, votes };
            if self.cfg.min_hits <= 1 {
                track.id = self.next_id;
                self.next_id += 1;
                self.tracks.push(track);
                self.states.push(state);
            } else {
                self.pending.push(Pending {
                    track,
                    state,
                    done: false,
                });
            }
        }
    }
}

/// Which match list a stage fills.
#[derive(Clone, Copy, PartialEq)]
enum Which {
    Tracks,
    Pending,
}

/// One association stage: builds the gated cost matrix between candidate tracks and untaken
/// detections, solves it, and records the matches.
struct Stage<'a> {
    s: &'a mut Scratch,
    dets: &'a [Detection],
    groups: &'a [u16],
}

impl Stage<'_> {
    /// `candidate(i)` gives track `i`'s predicted box and class when it may take part. Only
    /// tracks still unmatched in `which` and high (or low) detections not yet taken are paired.
    fn run(
        &mut self,
        n: usize,
        candidate: impl Fn(usize) -> Option<([f32; 4], u16)>,
        which: Which,
        high: bool,
        gate: f32,
    ) {
        let s = &mut *self.s;
        let matches = match which {
            Which::Tracks => &mut s.track_match,
            Which::Pending => &mut s.pending_match,
        };
        s.rows.clear();
        s.rows
            .extend((0..n).filter(|&i| matches[i] == NONE && candidate(i).is_some()));
        let pool = if high { &s.high } else { &s.low };
        s.cols.clear();
        s.cols
            .extend(pool.iter().copied().filter(|&d| !s.det_taken[d]));
        if s.rows.is_empty() || s.cols.is_empty() {
            return;
        }
        s.cost.clear();
        for &r in &s.rows {
            let Some((bbox, class)) = candidate(r) else {
                continue;
            };
            for &c in &s.cols {
                let d = &self.dets[c];
                let iou = if compatible(self.groups, class, d.class_id) {
                    iou(bbox, d.bbox)
                } else {
                    0.0
                };
                s.cost.push(if iou >= gate && iou > 0.0 {
                    1.0 - f64::from(iou)
                } else {
                    f64::INFINITY
                });
            }
        }
        // A pair is allowed when its cost is below `unmatched`; the margin keeps IoU == gate in.
        let unmatched = 1.0 - f64::from(gate) + 1e-6;
        s.assigner
            .solve(s.rows.len(), s.cols.len(), &s.cost, unmatched, &mut s.out);
        for (k, &c) in s.out.iter().enumerate() {
            if c != NONE {
                matches[s.rows[k]] = s.cols[c];
                s.det_taken[s.cols[c]] = true;
            }
        }
    }
}

/// Moves a track's filter to `t` and shows the prediction in its reported box and velocity.
fn predict(tr: &mut Track, st: &mut State, t: Duration, noise: &Noise) {
    let dt = t.saturating_sub(st.t).as_secs_f64();
    st.filter.predict(dt, noise);
    st.t = t;
    tr.bbox = clip(st.filter.bbox());
    tr.velocity = st.filter.bottom_centre_velocity();
}

/// Folds a matched detection into a track.
fn apply(tr: &mut Track, st: &mut State, det: &Detection, t: Duration, noise: &Noise, len: usize) {
    st.filter.update(det.bbox, noise);
    st.votes.add(det.class_id, det.score);
    tr.class_id = st.votes.winner();
    tr.score = det.score;
    tr.hits = tr.hits.saturating_add(1);
    tr.misses = 0;
    tr.last_seen = t;
    tr.bbox = clip(st.filter.bbox());
    tr.velocity = st.filter.bottom_centre_velocity();
    while tr.trajectory.len() >= len.max(1) {
        tr.trajectory.pop_front();
    }
    tr.trajectory.push_back((t, bottom_centre(tr.bbox)));
}

/// Moves a track out of its slot, leaving an empty trajectory behind (no allocation).
fn take(tr: &mut Track) -> Track {
    Track {
        trajectory: std::mem::take(&mut tr.trajectory),
        ..*tr
    }
}

fn recycle(spare: &mut Vec<VecDeque<(Duration, [f32; 2])>>, mut q: VecDeque<(Duration, [f32; 2])>) {
    if spare.len() < MAX_SPARE && q.capacity() > 0 {
        q.clear();
        spare.push(q);
    }
}

/// True when a track of class `a` may take a detection of class `b`.
fn compatible(groups: &[u16], a: u16, b: u16) -> bool {
    if a == b {
        return true;
    }
    let g = |c: u16| groups.get(usize::from(c)).copied().unwrap_or(0);
    let ga = g(a);
    ga != 0 && ga == g(b)
}

fn is_valid(d: &Detection) -> bool {
    let [x1, y1, x2, y2] = d.bbox;
    d.score.is_finite() && d.bbox.iter().all(|v| v.is_finite()) && x2 > x1 && y2 > y1
}

fn area(b: [f32; 4]) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes; 0 when either is empty.
pub(super) fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

fn clip(b: [f32; 4]) -> [f32; 4] {
    b.map(|v| v.clamp(0.0, 1.0))
}

/// Brings every setting into its valid range; NaN and other nonsense take the default.
fn sanitize(mut c: TrackerConfig) -> TrackerConfig {
    let d = TrackerConfig::default();
    let fit = |v: f32, lo: f32, hi: f32, def: f32| if v.is_nan() { def } else { v.clamp(lo, hi) };
    c.high_score = fit(c.high_score, 0.0, 1.0, d.high_score);
    c.low_score = fit(
        c.low_score,
        0.0,
        c.high_score,
        d.low_score.min(c.high_score),
    );
    c.new_track_score = fit(c.new_track_score, 0.0, 1.0, d.new_track_score);
    c.match_iou_high = fit(c.match_iou_high, 1e-3, 1.0, d.match_iou_high);
    c.match_iou_low = fit(c.match_iou_low, 1e-3, 1.0, d.match_iou_low);
    c.match_iou_tentative = fit(c.match_iou_tentative, 1e-3, 1.0, d.match_iou_tentative);
    c.min_hits = c.min_hits.max(1);
    c.max_lost_s = if c.max_lost_s > 0.0 {
        c.max_lost_s.min(3600.0)
    } else {
        d.max_lost_s
    };
    c.trajectory_len = c.trajectory_len.clamp(1, MAX_TRAJECTORY_LEN);
    c.measurement_noise = fit(c.measurement_noise, 1e-4, 100.0, d.measurement_noise);
    c.accel_noise = fit(c.accel_noise, 1e-4, 100.0, d.accel_noise);
    c.size_accel_noise = fit(c.size_accel_noise, 1e-4, 100.0, d.size_accel_noise);
    c
}
