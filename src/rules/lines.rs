//! Line-crossing counts: statistics (traffic volume), not incidents. A track is counted when its
//! bottom centre passes from one side of a line's segment to the other, once per track per line,
//! per class and direction, and only in the directions the line allows.
//!
//! Jitter guard: a track's side only changes once it is at least [`JITTER_MARGIN`] away from the
//! line, so a box wobbling on the line counts nothing; and a track is counted at most once per
//! line however often it goes back and forth.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::camera::{Line, LineDirection};
use crate::rules::engine::{FrameInfo, label};
use crate::rules::geometry::{self, Point, Side};
use crate::track::Track;

/// Distance from the line (normalised frame units) inside which a track's side is not trusted.
pub const JITTER_MARGIN: f64 = 0.01;
/// A track not reported for this long is forgotten (track ids are never reused).
const FORGET: Duration = Duration::from_secs(10);

/// Which way an object crossed a line, as seen on screen walking from `a` to `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrossDirection {
    LeftToRight,
    RightToLeft,
}

impl CrossDirection {
    /// The name used by `camera::LineDirection` and the API: `LEFT_TO_RIGHT`, `RIGHT_TO_LEFT`.
    pub fn as_str(self) -> &'static str {
        match self {
            CrossDirection::LeftToRight => "LEFT_TO_RIGHT",
            CrossDirection::RightToLeft => "RIGHT_TO_LEFT",
        }
    }

    fn allowed_by(self, d: LineDirection) -> bool {
        matches!(
            (d, self),
            (LineDirection::Both, _)
                | (LineDirection::LeftToRight, CrossDirection::LeftToRight)
                | (LineDirection::RightToLeft, CrossDirection::RightToLeft)
        )
    }
}

/// One counted crossing.
#[derive(Clone, Debug, PartialEq)]
pub struct Crossing {
    pub line_id: String,
    pub track_id: u64,
    /// Class label of the track.
    pub class: String,
    pub direction: CrossDirection,
    /// Stream time of the frame in which the crossing was seen.
    pub t: Duration,
}

/// What a line-crossing total counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountKey {
    pub line_id: String,
    pub class: String,
    pub direction: CrossDirection,
}

#[derive(Debug)]
struct Settled {
    side: Side,
    at: Point,
    counted: bool,
    seen: Duration,
}

#[derive(Debug)]
struct LineState {
    line: Line,
    tracks: HashMap<u64, Settled>,
}

/// The crossing counter of one camera's lines.
#[derive(Debug)]
pub(crate) struct LineCounter {
    lines: Vec<LineState>,
    counts: BTreeMap<CountKey, u64>,
}

impl LineCounter {
    pub fn new(lines: &[Line]) -> LineCounter {
        LineCounter {
            lines: lines
                .iter()
                .map(|l| LineState {
                    line: l.clone(),
                    tracks: HashMap::new(),
                })
                .collect(),
            counts: BTreeMap::new(),
        }
    }

    pub fn counts(&self) -> &BTreeMap<CountKey, u64> {
        &self.counts
    }

    pub fn on_frame(
        &mut self,
        f: FrameInfo,
        tracks: &[Track],
        labels: &[String],
        out: &mut Vec<Crossing>,
    ) {
        for ls in &mut self.lines {
            let (a, b) = (ls.line.a, ls.line.b);
            for tr in tracks.iter().filter(|t| t.is_matched()) {
                let [x, y] = tr.bottom_centre();
                let p = Point::new(f64::from(x), f64::from(y));
                let Some(side) = geometry::side_of(a, b, p, JITTER_MARGIN) else {
                    if let Some(s) = ls.tracks.get_mut(&tr.id) {
                        s.seen = f.t;
                    }
                    continue;
                };
                let s = ls.tracks.entry(tr.id).or_insert(Settled {
                    side,
                    at: p,
                    counted: false,
                    seen: f.t,
                });
                s.seen = f.t;
                if side != s.side && !s.counted {
                    let direction = match geometry::crossing(a, b, s.at, p) {
                        Some(Side::Left) => Some(CrossDirection::LeftToRight),
                        Some(Side::Right) => Some(CrossDirection::RightToLeft),
                        None => None,
                    };
                    if let Some(d) = direction.filter(|d| d.allowed_by(ls.line.direction)) {
                        s.counted = true;
                        let class = label(labels, tr.class_id);
                        let key = CountKey {
                            line_id: ls.line.id.clone(),
                            class: class.clone(),
                            direction: d,
                        };
                        *self.counts.entry(key).or_insert(0) += 1;
                        out.push(Crossing {
                            line_id: ls.line.id.clone(),
                            track_id: tr.id,
                            class,
                            direction: d,
                            t: f.t,
                        });
                    }
                }
                s.side = side;
                s.at = p;
            }
            ls.tracks
                .retain(|_, s| f.t.saturating_sub(s.seen) <= FORGET);
        }
    }
}
