//! Incident clips: an MP4 cut from a camera's encoded ring without re-encoding, from the key frame
//! at or before `start - pre_roll` to the incident's end or `start + post_roll`, whichever is
//! later (at most `max_len`), written while the video arrives. While the incident is open
//! ([`ClipUntil`]) the clip keeps following the stream. Owns the choice of units ([`Cut`], pure), their timestamps in the file and
//! the muxing pipeline; must never decode, re-encode, or leave a half file under the real name.
//!
//! ```text
//! ClipRing --(follow by index, poll)--> Cut (key frame start, end, timestamps from 0)
//!   -> appsrc (byte-stream caps, time) -> h26Xparse -> mp4mux faststart=true -> filesink <clip>.mp4.part
//!   EOS -> fsync -> rename to <clip>.mp4
//! ```
//!
//! `faststart` puts the `moov` box before `mdat`, so a browser can start playing before the whole
//! file has arrived. The file's timestamps start at the first unit's decode time, so decode times
//! start at 0 and presentation times are never before their decode times (B-frames included).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::ring::ClipRing;
use super::unit::{EncodedUnit, VideoCodec};
use crate::err;
use crate::error::{Error, ErrorKind, Result, ResultExt};
use crate::media::paths::{commit_partial, partial_path};

/// How often the writer looks for new units while the post-roll arrives.
const POLL: Duration = Duration::from_millis(40);
/// Longest wait for the muxer to finish the file after the last unit.
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);

/// What to cut around an incident.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipSettings {
    /// Video before the incident's start (the clip starts on the key frame at or before).
    pub pre_roll: Duration,
    /// Video after the incident's start, at least (the clip reaches the incident's end when
    /// that is later, see [`ClipUntil`]).
    pub post_roll: Duration,
    /// Longest clip, from its first key frame.
    pub max_len: Duration,
    /// Wall time without a new unit after which the clip ends with what it has.
    pub wait_limit: Duration,
}

/// Where the incident stands, as its clip writer sees it: open (the clip follows the stream,
/// up to its maximum length), or closed at a stream time. Shared between the analysis task, which
/// closes it, and the clip writer's thread.
#[derive(Debug)]
pub struct ClipUntil {
    /// End of the incident in ns of stream time; `u64::MAX` while it is open.
    end_ns: AtomicU64,
}

impl ClipUntil {
    /// An incident still open.
    pub fn open() -> ClipUntil {
        ClipUntil {
            end_ns: AtomicU64::new(u64::MAX),
        }
    }

    /// An incident that ended at `end` (stream time).
    pub fn closed_at(end: Duration) -> ClipUntil {
        let u = ClipUntil::open();
        u.close(end);
        u
    }

    pub fn close(&self, end: Duration) {
        let ns = u64::try_from(end.as_nanos()).unwrap_or(u64::MAX - 1);
        self.end_ns.store(ns.min(u64::MAX - 1), Ordering::Relaxed);
    }

    /// The incident's end, or `None` while it is open.
    pub fn end(&self) -> Option<Duration> {
        match self.end_ns.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }
}

/// What was written, on the camera's stream clock.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipResult {
    /// Presentation time of the clip's first picture (its key frame).
    pub first_pts: Duration,
    /// Presentation time just after the clip's last picture.
    pub end_pts: Duration,
    pub frames: usize,
    /// Size of the file.
    pub bytes: u64,
}

/// The choice of units for one clip, fed in decode order. Pure: no GStreamer, no clock.
#[derive(Debug)]
pub struct Cut {
    /// Start from the last key frame at or before this.
    from: Duration,
    /// End at the first unit (decode order) presented at or after this: the later of
    /// `post_end` and the incident's end, no later than `cap`.
    end: Duration,
    /// `start + post_roll`: the clip reaches at least this far.
    post_end: Duration,
    /// The first key frame's time + `max_len`, once known.
    cap: Option<Duration>,
    max_len: Duration,
    first: Option<First>,
    /// Smallest positive step between decode times seen: the frame interval, for a last frame
    /// without a duration.
    step: Option<Duration>,
    last_dts: Option<Duration>,
    /// Earliest and latest presentation times of the units taken, and the latest one's duration.
    span: Option<(Duration, Duration, Option<Duration>)>,
    frames: usize,
}

#[derive(Debug, Clone, Copy)]
struct First {
    codec: VideoCodec,
    key_pts: Duration,
    /// Decode time of the first unit: time 0 in the file.
    base: Duration,
}

/// What to do with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write it, with these times in the file.
    Take { pts: Duration, dts: Duration },
    /// Leave it out (before the first key frame, or a leading picture of an open GOP that refers
    /// to the GOP before the clip).
    Skip,
    /// The clip is complete: this unit and everything after it stay out.
    End,
}

impl Cut {
    pub fn new(start: Duration, s: &ClipSettings) -> Cut {
        Cut {
            from: start.saturating_sub(s.pre_roll),
            end: start + s.post_roll,
            post_end: start + s.post_roll,
            cap: None,
            max_len: s.max_len,
            first: None,
            step: None,
            last_dts: None,
            span: None,
            frames: 0,
        }
    }

    /// The incident's end as now known (`None`: still open, follow the stream up to the cap).
    pub fn until(&mut self, incident_end: Option<Duration>) {
        let want = incident_end.map_or(Duration::MAX, |e| e.max(self.post_end));
        self.end = self.cap.map_or(want, |c| want.min(c));
    }

    /// Decides about the next unit in decode order.
    pub fn admit(&mut self, u: &EncodedUnit) -> Admit {
        let dts = u.dts.unwrap_or(u.pts).min(u.pts);
        let first = match self.first {
            None if !u.keyframe => return Admit::Skip,
            None => {
                if u.pts >= self.end {
                    return Admit::End;
                }
                self.cap = Some(u.pts + self.max_len);
                self.end = self.end.min(u.pts + self.max_len);
                *self.first.insert(First {
                    codec: u.codec,
                    key_pts: u.pts,
                    base: dts,
                })
            }
            Some(f) => f,
        };
        if u.codec != first.codec || u.pts >= self.end {
            return Admit::End;
        }
        if !u.keyframe && u.pts < first.key_pts {
            return Admit::Skip;
        }
        if let Some(prev) = self.last_dts
            && dts > prev
        {
            let d = dts - prev;
            self.step = Some(self.step.map_or(d, |s| s.min(d)));
        }
        self.last_dts = Some(dts);
        self.span = Some(match self.span {
            None => (u.pts, u.pts, u.duration),
            Some((a, b, _)) if u.pts > b => (a, u.pts, u.duration),
            Some((a, b, d)) => (a.min(u.pts), b, d),
        });
        self.frames += 1;
        Admit::Take {
            pts: u.pts.saturating_sub(first.base),
            dts: dts.saturating_sub(first.base),
        }
    }

    /// Units taken so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// (first presentation time, presentation end) of what was taken: the end is the last
    /// picture's time plus its duration (or the frame interval, when the stream gives none).
    pub fn span(&self) -> Option<(Duration, Duration)> {
        let (first, last, d) = self.span?;
        Some((first, last + d.or(self.step).unwrap_or_default()))
    }

    /// The frame interval as far as seen, for units without a duration.
    fn step(&self) -> Option<Duration> {
        self.step
    }
}

/// Blocking (run it on a named thread). Cuts `path` from `ring`: from the key frame at or before
/// `start - pre_roll` to `start + post_roll` (stream times), at most `max_len` long, following the
/// ring while the post-roll arrives; if the stream stalls for `wait_limit` of wall time it ends the
/// clip with what it has (or fails when nothing usable). Writes `path.part`, renames to `path`
/// when complete; removes the .part on failure. `stop` ends the clip early (shutdown): what was
/// cut so far is finished properly.
pub fn write_clip(
    ring: &ClipRing,
    start: Duration,
    s: &ClipSettings,
    path: &Path,
    stop: &AtomicBool,
) -> Result<ClipResult> {
    write_clip_until(ring, start, s, &ClipUntil::closed_at(start), path, stop)
}

/// [`write_clip`] for an incident that may still be open: the clip reaches the later of
/// `start + post_roll` and the incident's end as `until` tells it (at most `max_len`).
pub fn write_clip_until(
    ring: &ClipRing,
    start: Duration,
    s: &ClipSettings,
    until: &ClipUntil,
    path: &Path,
    stop: &AtomicBool,
) -> Result<ClipResult> {
    crate::ingest::init()?;
    let part = partial_path(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .ctx(ErrorKind::Internal, format!("creating {}", dir.display()))?;
    }
    // A crash may have left them behind.
    let temp = faststart_temp(path);
    let _ = std::fs::remove_file(&part);
    let _ = std::fs::remove_file(&temp);
    let result = cut_into(ring, start, s, until, path, &part, stop);
    let result = result.and_then(|cut| {
        let (first_pts, end_pts) = cut
            .span()
            .ok_or_else(|| err!(Internal, "clip {}: no span", path.display()))?;
        commit_partial(&part, path)?;
        let bytes = std::fs::metadata(path)
            .ctx(ErrorKind::Internal, format!("reading {}", path.display()))?
            .len();
        Ok(ClipResult {
            first_pts,
            end_pts,
            frames: cut.frames(),
            bytes,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    // The muxer removes it when it finishes; not when it failed.
    let _ = std::fs::remove_file(&temp);
    result
}

/// Where `mp4mux` keeps the media data while it writes the index first (faststart): beside the
/// clip, under a temporary name, rather than in the system's temporary folder.
fn faststart_temp(path: &Path) -> std::path::PathBuf {
    let mut s = partial_path(path).into_os_string();
    s.push(".mdat");
    s.into()
}

/// Follows the ring and writes `part`; the muxer is finished (EOS) on success.
fn cut_into(
    ring: &ClipRing,
    start: Duration,
    s: &ClipSettings,
    until: &ClipUntil,
    path: &Path,
    part: &Path,
    stop: &AtomicBool,
) -> Result<Cut> {
    let mut cut = Cut::new(start, s);
    let mut mux: Option<Muxer> = None;
    let mut last_index: Option<u64> = None;
    let mut last_new = Instant::now();
    'follow: loop {
        let read = match last_index {
            None => ring.from_keyframe_before(cut.from),
            Some(i) => ring.after(i),
        };
        if read.gap {
            tracing::warn!(
                clip = %path.display(),
                "the stream restarted or the clip writer fell behind: the clip ends early"
            );
            break;
        }
        if read.units.is_empty() {
            if stop.load(Ordering::Relaxed) || last_new.elapsed() >= s.wait_limit {
                break;
            }
            std::thread::sleep(POLL);
            continue;
        }
        last_new = Instant::now();
        cut.until(until.end());
        for (index, unit) in read.units {
            last_index = Some(index);
            match cut.admit(&unit) {
                Admit::Take { pts, dts } => {
                    let m = match &mut mux {
                        Some(m) => m,
                        None => mux.insert(Muxer::start(unit.codec, part, path)?),
                    };
                    let duration = unit.duration.or(cut.step());
                    m.push(&unit, pts, dts, duration)?;
                }
                Admit::Skip => {}
                Admit::End => break 'follow,
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    match mux {
        Some(m) => {
            m.finish()?;
            Ok(cut)
        }
        None if stop.load(Ordering::Relaxed) => Err(err!(
            Cancelled,
            "clip {}: stopped before any video was cut",
            path.display()
        )),
        None => Err(err!(
            Unavailable,
            "clip {}: the camera's ring holds no key frame between {:?} and {:?}",
            path.display(),
            cut.from,
            start + s.post_roll
        )),
    }
}

/// The muxing pipeline of one clip; set to `NULL` on drop.
struct Muxer {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    name: String,
    first: bool,
}

impl Muxer {
    fn start(codec: VideoCodec, part: &Path, path: &Path) -> Result<Muxer> {
        let name = format!("clip {}", path.display());
        let make = |factory: &str| {
            gst::ElementFactory::make(factory).build().ctx(
                ErrorKind::FailedPrecondition,
                format!("{name}: GStreamer element {factory} is missing (run scripts/setup)"),
            )
        };
        let caps: gst::Caps = codec
            .caps_str()
            .parse()
            .map_err(|_| err!(Internal, "bad caps {}", codec.caps_str()))?;
        let src = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(false)
            .block(true)
            .max_bytes(16 << 20)
            .build();
        let parse = make(match codec {
            VideoCodec::H264 => "h264parse",
            VideoCodec::H265 => "h265parse",
        })?;
        let mux = make("mp4mux")?;
        mux.set_property("faststart", true);
        mux.set_property(
            "faststart-file",
            faststart_temp(path).to_string_lossy().to_string(),
        );
        let sink = make("filesink")?;
        sink.set_property("location", part.to_string_lossy().to_string());
        sink.set_property("sync", false);
        let pipeline = gst::Pipeline::new();
        let chain = [src.upcast_ref(), &parse, &mux, &sink];
        pipeline
            .add_many(chain)
            .and_then(|_| gst::Element::link_many(chain))
            .ctx(ErrorKind::Internal, format!("{name}: building the muxer"))?;
        let m = Muxer {
            pipeline,
            src,
            name,
            first: true,
        };
        if m.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(m
                .bus_error()
                .unwrap_or_else(|| err!(Internal, "{}: cannot start the muxer", m.name)));
        }
        Ok(m)
    }

    fn push(
        &mut self,
        unit: &EncodedUnit,
        pts: Duration,
        dts: Duration,
        duration: Option<Duration>,
    ) -> Result<()> {
        // A shallow copy: new timestamps, the same bytes.
        let mut buffer = unit.data.copy();
        {
            let b = buffer.make_mut();
            b.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
            b.set_dts(gst::ClockTime::from_nseconds(dts.as_nanos() as u64));
            b.set_duration(duration.map(|d| gst::ClockTime::from_nseconds(d.as_nanos() as u64)));
            if std::mem::take(&mut self.first) {
                b.set_flags(gst::BufferFlags::DISCONT);
            } else {
                b.unset_flags(gst::BufferFlags::DISCONT);
            }
        }
        if self.src.push_buffer(buffer).is_err() {
            return Err(self
                .bus_error()
                .unwrap_or_else(|| err!(Internal, "{}: the muxer refused a unit", self.name)));
        }
        match self.bus_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Ends the stream and waits until the file is complete.
    fn finish(self) -> Result<()> {
        let _ = self.src.end_of_stream();
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| err!(Internal, "{}: the muxer has no bus", self.name))?;
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(FINISH_TIMEOUT.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(..)) => Ok(()),
            Some(gst::MessageView::Error(e)) => Err(element_error(&self.name, e)),
            _ => Err(err!(
                DeadlineExceeded,
                "{}: the muxer did not finish within {FINISH_TIMEOUT:?}",
                self.name
            )),
        }
    }

    /// The first error on the bus, if any, naming the element that posted it.
    fn bus_error(&self) -> Option<Error> {
        let msg = self
            .pipeline
            .bus()?
            .pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(e) => Some(element_error(&self.name, e)),
            _ => None,
        }
    }
}

fn element_error(name: &str, e: &gst::message::Error) -> Error {
    let element = e
        .src()
        .map(|s| s.path_string().to_string())
        .unwrap_or_else(|| "?".into());
    let mut error = err!(Internal, "{name}: {element}: {}", e.error());
    if let Some(debug) = e.debug() {
        error = Error::new(error.kind(), format!("{} ({debug})", error.msg()));
    }
    error
}

impl Drop for Muxer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn unit(pts: u64, dts: u64, keyframe: bool) -> EncodedUnit {
        crate::ingest::init().expect("GStreamer");
        EncodedUnit {
            codec: VideoCodec::H264,
            pts: ms(pts),
            dts: Some(ms(dts)),
            duration: None,
            keyframe,
            data: gst::Buffer::from_mut_slice(vec![0u8; 4]),
        }
    }

    fn settings(pre: u64, post: u64, max: u64) -> ClipSettings {
        ClipSettings {
            pre_roll: ms(pre),
            post_roll: ms(post),
            max_len: ms(max),
            wait_limit: ms(100),
        }
    }

    /// I P B B per 400 ms at 100 ms frames, decode order, with an open GOP's leading B-frames
    /// after the second key frame (pts before it).
    fn stream() -> Vec<EncodedUnit> {
        let mut v = vec![
            unit(100, 0, true),
            unit(400, 100, false),
            unit(200, 200, false),
            unit(300, 300, false),
            // key frame at pts 800 with two leading pictures (600, 700)
            unit(800, 400, true),
            unit(600, 500, false),
            unit(700, 600, false),
            unit(1100, 700, false),
            unit(900, 800, false),
            unit(1000, 900, false),
        ];
        v.extend((0..10).map(|i| unit(1200 + i * 100, 1000 + i * 100, false)));
        v
    }

    fn run(start: u64, s: &ClipSettings, from_key: usize) -> (Vec<(u64, Admit)>, Cut) {
        let mut cut = Cut::new(ms(start), s);
        let mut out = Vec::new();
        for u in &stream()[from_key..] {
            let a = cut.admit(u);
            out.push((u.pts.as_millis() as u64, a));
            if a == Admit::End {
                break;
            }
        }
        (out, cut)
    }

    fn take(pts: u64, dts: u64) -> Admit {
        Admit::Take {
            pts: ms(pts),
            dts: ms(dts),
        }
    }

    /// Pts of the units taken and of the unit that ended the cut, with `until` applied before
    /// the first unit and `later` (if any) once `at` units were seen.
    fn follow(
        s: &ClipSettings,
        until: Option<u64>,
        later: Option<(usize, u64)>,
    ) -> (Vec<u64>, Option<u64>) {
        let mut cut = Cut::new(ms(500), s);
        cut.until(until.map(ms));
        let (mut taken, mut ended) = (Vec::new(), None);
        for (i, u) in stream().iter().enumerate() {
            if let Some((at, end)) = later
                && i == at
            {
                cut.until(Some(ms(end)));
            }
            match cut.admit(u) {
                Admit::Take { .. } => taken.push(u.pts.as_millis() as u64),
                Admit::Skip => {}
                Admit::End => {
                    ended = Some(u.pts.as_millis() as u64);
                    break;
                }
            }
        }
        (taken, ended)
    }

    #[test]
    fn the_clip_reaches_the_incident_end_when_it_is_later_than_the_post_roll() {
        // start 500, post-roll 300: at least to 800.
        let s = settings(500, 300, 60_000);
        // Closed at 1500: to the first unit presented at or after it.
        let (taken, ended) = follow(&s, Some(1_500), None);
        assert_eq!(ended, Some(1_500));
        assert_eq!(taken.last(), Some(&1_400));
        // Closed before the post-roll's end: the post-roll still counts.
        assert_eq!(follow(&s, Some(600), None).1, Some(800));
        // Open: the stream is followed up to the cap, max_len after the first key frame (100).
        let (_, ended) = follow(&settings(500, 300, 1_500), None, None);
        assert_eq!(ended, Some(1_600));
        // Open, then closed at 1300 after ten units: the end moves back to it.
        assert_eq!(follow(&s, None, Some((10, 1_300))).1, Some(1_300));
    }

    #[test]
    fn cuts_from_the_key_frame_to_the_end_in_decode_order() {
        // From the first key frame: file times start at its decode time (0), pts stay >= dts;
        // the clip ends at the first unit presented at or after start + post-roll (800).
        let (got, cut) = run(500, &settings(500, 300, 60_000), 0);
        assert_eq!(
            got,
            [
                (100, take(100, 0)),
                (400, take(400, 100)),
                (200, take(200, 200)),
                (300, take(300, 300)),
                (800, Admit::End),
            ]
        );
        // Without durations the frame interval (100 ms) closes the last picture.
        assert_eq!(cut.span(), Some((ms(100), ms(500))));
        assert_eq!(cut.frames(), 4);
    }

    #[test]
    fn leading_pictures_of_an_open_gop_are_skipped() {
        let (got, cut) = run(1000, &settings(200, 250, 60_000), 4);
        assert_eq!(
            got,
            [
                (800, take(400, 0)),
                (600, Admit::Skip),
                (700, Admit::Skip),
                (1100, take(700, 300)),
                (900, take(500, 400)),
                (1000, take(600, 500)),
                (1200, take(800, 600)),
                (1300, Admit::End),
            ]
        );
        assert_eq!(cut.span(), Some((ms(800), ms(1300))));
    }

    #[test]
    fn max_len_bounds_the_clip_and_late_rings_end_at_once() {
        // Max 300 ms from the key frame at 800: ends at the first unit presented at/after 1100.
        let (got, _) = run(900, &settings(100, 5_000, 300), 4);
        assert_eq!(got.last(), Some(&(1100, Admit::End)));
        assert_eq!(got.len(), 4);
        // A ring whose first key frame is after start + post-roll has nothing for this clip.
        let (got, cut) = run(100, &settings(0, 500, 60_000), 4);
        assert_eq!(got, [(800, Admit::End)]);
        assert_eq!((cut.frames(), cut.span()), (0, None));
        // Units before any key frame are skipped, and a codec change ends the clip.
        let mut cut = Cut::new(ms(0), &settings(0, 5_000, 60_000));
        assert_eq!(cut.admit(&unit(0, 0, false)), Admit::Skip);
        assert_eq!(cut.admit(&unit(100, 100, true)), take(0, 0));
        let mut h265 = unit(200, 200, false);
        h265.codec = VideoCodec::H265;
        assert_eq!(cut.admit(&h265), Admit::End);
    }

    #[test]
    fn a_muxer_error_names_the_element_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c2.mp4");
        let ring = ClipRing::new(ms(5_000), usize::MAX);
        // Key frames of noise: no parameter sets, nothing a parser can use.
        for i in 0..20u64 {
            let mut u = unit(i * 100, i * 100, i % 10 == 0);
            u.data = gst::Buffer::from_mut_slice(
                (0..2000).map(|b| (b * 7 + i) as u8).collect::<Vec<u8>>(),
            );
            ring.push(u);
        }
        let e = write_clip(
            &ring,
            ms(500),
            &settings(500, 1_000, 60_000),
            &path,
            &AtomicBool::new(false),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("c2.mp4") && msg.contains("h264parse"), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn an_empty_or_stopped_ring_fails_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clips/c1.mp4");
        let ring = ClipRing::new(ms(5_000), usize::MAX);
        let s = settings(1_000, 1_000, 60_000);
        let t0 = Instant::now();
        let e = write_clip(&ring, ms(5_000), &s, &path, &AtomicBool::new(false)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(t0.elapsed() >= s.wait_limit, "it waited for the stream");
        let e = write_clip(&ring, ms(5_000), &s, &path, &AtomicBool::new(true)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("clips"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
