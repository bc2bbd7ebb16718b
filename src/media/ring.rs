//! The per-camera pre-roll ring: the most recent encoded access units, kept so that a clip can
//! start before the incident that asks for it. It always starts on a key frame and keeps at least
//! `pre_roll` of stream time before the newest unit (whole GOPs: it drops the oldest GOP only once
//! the next one alone still covers the pre-roll), bounded by `max_bytes` so that a stream with
//! rare key frames cannot grow it without limit.
//!
//! Ingest pushes (never blocks: a mutex held for a `VecDeque` push); clip writers read. Every unit
//! gets an index, increasing by one per push for the ring's life, so that a writer can follow the
//! stream with [`ClipRing::after`] and notice when units it has not read yet were evicted.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use super::unit::EncodedUnit;

/// Numbers describing what the ring holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RingStats {
    pub units: usize,
    pub bytes: usize,
    /// Stream time from the oldest kept key frame to the newest unit.
    pub span: Duration,
    /// Index of the next unit to be pushed.
    pub next_index: u64,
}

struct Inner {
    units: VecDeque<(u64, EncodedUnit)>,
    bytes: usize,
    next_index: u64,
}

pub struct ClipRing {
    pre_roll: Duration,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

/// Units read from the ring, with their indexes.
#[derive(Debug, Default)]
pub struct ReadUnits {
    pub units: Vec<(u64, EncodedUnit)>,
    /// True when units after the requested index had already been evicted (the reader fell behind
    /// by more than the ring holds, or the ring was cleared).
    pub gap: bool,
}

impl ClipRing {
    /// A ring keeping at least `pre_roll` (when `max_bytes` allows).
    pub fn new(pre_roll: Duration, max_bytes: usize) -> ClipRing {
        ClipRing {
            pre_roll,
            max_bytes,
            inner: Mutex::new(Inner {
                units: VecDeque::new(),
                bytes: 0,
                next_index: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn pre_roll(&self) -> Duration {
        self.pre_roll
    }

    /// Appends a unit (decode order). Units before the first key frame are not kept: a clip could
    /// not start on them.
    pub fn push(&self, unit: EncodedUnit) {
        let mut g = self.lock();
        let index = g.next_index;
        g.next_index += 1;
        if g.units.is_empty() && !unit.keyframe {
            return;
        }
        g.bytes += unit.len();
        let newest = unit.pts;
        g.units.push_back((index, unit));
        // Drop the oldest GOP while the next key frame alone still covers the pre-roll.
        while let Some(next_key) = second_keyframe(&g.units) {
            let next_pts = g.units[next_key].1.pts;
            if newest.saturating_sub(next_pts) < self.pre_roll && g.bytes <= self.max_bytes {
                break;
            }
            drop_front(&mut g, next_key);
        }
        // Over budget with a single GOP: give up the whole ring rather than start mid-GOP.
        if g.bytes > self.max_bytes {
            let n = g.units.len();
            drop_front(&mut g, n);
        }
    }

    /// Forgets everything (the stream restarted with another codec or resolution). Indexes keep
    /// increasing.
    pub fn clear(&self) {
        let mut g = self.lock();
        let n = g.units.len();
        drop_front(&mut g, n);
    }

    /// The units from the last key frame at or before `t` (or the oldest key frame, if every kept
    /// one is later) to the newest unit.
    pub fn from_keyframe_before(&self, t: Duration) -> ReadUnits {
        let g = self.lock();
        let start = g
            .units
            .iter()
            .enumerate()
            .filter(|(_, (_, u))| u.keyframe && u.pts <= t)
            .map(|(i, _)| i)
            .next_back()
            .unwrap_or(0);
        ReadUnits {
            units: g.units.iter().skip(start).cloned().collect(),
            gap: false,
        }
    }

    /// The units pushed after `index` (all kept units with a greater index).
    pub fn after(&self, index: u64) -> ReadUnits {
        let g = self.lock();
        let first_kept = g.units.front().map_or(g.next_index, |(i, _)| *i);
        ReadUnits {
            units: g
                .units
                .iter()
                .filter(|(i, _)| *i > index)
                .cloned()
                .collect(),
            gap: index + 1 < first_kept,
        }
    }

    pub fn stats(&self) -> RingStats {
        let g = self.lock();
        let span = match (g.units.front(), g.units.back()) {
            (Some((_, a)), Some((_, b))) => b.pts.saturating_sub(a.pts),
            _ => Duration::ZERO,
        };
        RingStats {
            units: g.units.len(),
            bytes: g.bytes,
            span,
            next_index: g.next_index,
        }
    }
}

/// Position of the first key frame after the front one.
fn second_keyframe(units: &VecDeque<(u64, EncodedUnit)>) -> Option<usize> {
    units
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, (_, u))| u.keyframe)
        .map(|(i, _)| i)
}

fn drop_front(g: &mut Inner, n: usize) {
    for (_, u) in g.units.drain(..n) {
        g.bytes -= u.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::VideoCodec;

    fn unit(pts_ms: u64, keyframe: bool, size: usize) -> EncodedUnit {
        crate::ingest::init().expect("GStreamer");
        EncodedUnit {
            codec: VideoCodec::H264,
            pts: Duration::from_millis(pts_ms),
            dts: Some(Duration::from_millis(pts_ms)),
            duration: Some(Duration::from_millis(100)),
            keyframe,
            data: gstreamer::Buffer::from_mut_slice(vec![0u8; size]),
        }
    }

    /// 10 fps, a key frame every `gop` frames, for `secs` seconds.
    fn fill(ring: &ClipRing, gop: u64, secs: u64) {
        for i in 0..secs * 10 {
            ring.push(unit(i * 100, i % gop == 0, 100));
        }
    }

    #[test]
    fn keeps_the_pre_roll_in_whole_gops() {
        // (gop in frames, pre-roll s) -> the ring spans at least the pre-roll and at most one GOP more.
        for (gop, pre) in [(10u64, 3u64), (25, 3), (7, 10), (1, 2)] {
            let ring = ClipRing::new(Duration::from_secs(pre), usize::MAX);
            fill(&ring, gop, 30);
            let s = ring.stats();
            let gop_len = Duration::from_millis(gop * 100);
            assert!(
                s.span >= Duration::from_secs(pre) - Duration::from_millis(100),
                "{gop} {pre} {s:?}"
            );
            assert!(
                s.span < Duration::from_secs(pre) + gop_len,
                "{gop} {pre} {s:?}"
            );
            let all = ring.from_keyframe_before(Duration::ZERO);
            assert!(all.units[0].1.keyframe);
            assert!(
                all.units
                    .windows(2)
                    .all(|w| w[0].1.pts < w[1].1.pts && w[0].0 + 1 == w[1].0)
            );
            assert_eq!(s.bytes, s.units * 100);
        }
    }

    #[test]
    fn units_before_the_first_key_frame_are_not_kept() {
        let ring = ClipRing::new(Duration::from_secs(5), usize::MAX);
        ring.push(unit(0, false, 10));
        ring.push(unit(100, false, 10));
        assert_eq!(ring.stats().units, 0);
        ring.push(unit(200, true, 10));
        assert_eq!(ring.stats().units, 1);
        assert_eq!(ring.stats().next_index, 3);
    }

    #[test]
    fn byte_budget_drops_whole_gops() {
        let ring = ClipRing::new(Duration::from_secs(60), 2_500);
        fill(&ring, 10, 10); // 100 units of 100 bytes, GOPs of 1000 bytes
        let s = ring.stats();
        assert!(s.bytes <= 2_500, "{s:?}");
        assert!(
            ring.from_keyframe_before(Duration::ZERO).units[0]
                .1
                .keyframe
        );
        // A single GOP larger than the budget empties the ring instead of starting mid-GOP.
        let tiny = ClipRing::new(Duration::from_secs(60), 500);
        fill(&tiny, 1000, 1);
        assert_eq!(tiny.stats().units, 0);
    }

    #[test]
    fn readers_follow_by_index_and_see_gaps() {
        let ring = ClipRing::new(Duration::from_secs(1), usize::MAX);
        fill(&ring, 5, 2); // indexes 0..20
        let from = ring.from_keyframe_before(Duration::from_millis(1_250));
        assert_eq!(from.units[0].1.pts, Duration::from_millis(1_000));
        let last = from.units.last().map(|(i, _)| *i).unwrap();
        assert_eq!(last, 19);
        assert!(ring.after(last).units.is_empty());
        ring.push(unit(2_000, true, 100));
        let next = ring.after(last);
        assert_eq!((next.units.len(), next.gap), (1, false));
        assert!(ring.after(0).gap, "index 1 was evicted long ago");
        ring.clear();
        assert!(ring.after(20).units.is_empty());
        assert!(ring.after(15).gap);
    }
}
