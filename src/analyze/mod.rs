//! Offline analysis (`vigil analyze`): a clip (or a stream URL) through the same stages a live
//! camera goes through (analysis frames, detection, tracking, and with a camera file, the incident
//! rules), printed frame by frame. Blocking, single-threaded, deterministic for a file: nothing is
//! dropped for lack of time. [`Analyzer`] is the per-frame step, usable on any frame sequence
//! (tests feed it a clip in reverse).

pub mod output;
pub mod rules;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use crate::detect::{Detection, Detector, DetectorConfig};
use crate::error::Result;
use crate::frame::Frame;
use crate::ingest::{FileReader, ReaderOptions};
use crate::track::{Track, Tracker, TrackerConfig};

pub use output::{Format, Printer, Summary};
pub use rules::OfflineRules;

/// Everything `vigil analyze` needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// A file path, or a URL (`file://`, `rtsp://`).
    pub input: String,
    pub detector: DetectorConfig,
    pub tracker: TrackerConfig,
    pub reader: ReaderOptions,
    pub format: Format,
    /// Stop after this much stream time (a live stream never ends by itself).
    pub max_duration: Option<Duration>,
    /// A camera file whose zones, lines and rules are applied (`--rules`).
    pub rules: Option<crate::camera::CameraFile>,
}

/// Detection and tracking of one frame sequence, with running totals.
pub struct Analyzer {
    detector: Detector,
    tracker: Tracker,
    frames: u64,
    last_t: Duration,
    detections: BTreeMap<String, u64>,
    /// Final class of every confirmed track.
    track_class: HashMap<u64, u16>,
    inference: Duration,
    /// The current frame's detections (reused buffer).
    dets: Vec<Detection>,
}

impl Analyzer {
    pub fn new(detector: Detector, tracker: TrackerConfig) -> Analyzer {
        Analyzer {
            detector,
            tracker: Tracker::new(tracker),
            frames: 0,
            last_t: Duration::ZERO,
            detections: BTreeMap::new(),
            track_class: HashMap::new(),
            inference: Duration::ZERO,
            dets: Vec::new(),
        }
    }

    pub fn labels(&self) -> &[String] {
        self.detector.labels()
    }

    /// Detects and tracks one frame at stream time `t`; returns every confirmed track alive
    /// (coasting ones included: see [`Track::is_matched`]).
    pub fn step(&mut self, frame: &Frame, t: Duration) -> Result<&[Track]> {
        let found = self.detector.detect(frame)?;
        self.dets.clear();
        self.dets.extend_from_slice(found);
        self.inference += self.detector.last_times().total();
        let labels = self.detector.labels();
        for d in &self.dets {
            let label = labels
                .get(usize::from(d.class_id))
                .map_or("?", |s| s.as_str());
            *self.detections.entry(label.to_string()).or_default() += 1;
        }
        self.frames += 1;
        self.last_t = t;
        let tracks = self.tracker.update(t, &self.dets);
        for tr in tracks.iter().filter(|t| t.is_matched()) {
            self.track_class.insert(tr.id, tr.class_id);
        }
        Ok(tracks)
    }

    /// Steps a frame and prints the objects seen in it.
    pub fn step_and_print<W: Write>(
        &mut self,
        frame: &Frame,
        t: Duration,
        printer: &mut Printer<W>,
    ) -> Result<()> {
        self.step(frame, t)?;
        printer.frame(t, self.tracker.tracks(), self.detector.labels())
    }

    /// The tracks as of the last step.
    pub fn tracks(&self) -> &[Track] {
        self.tracker.tracks()
    }

    pub fn summary(&self) -> Summary {
        let labels = self.detector.labels();
        let mut tracks = BTreeMap::new();
        for c in self.track_class.values() {
            let label = labels.get(usize::from(*c)).map_or("?", |s| s.as_str());
            *tracks.entry(label.to_string()).or_default() += 1;
        }
        Summary {
            frames: self.frames,
            duration: self.last_t,
            detections: self.detections.clone(),
            tracks,
            mean_inference: if self.frames == 0 {
                Duration::ZERO
            } else {
                self.inference / u32::try_from(self.frames).unwrap_or(u32::MAX)
            },
            model: self.detector.manifest().name.clone(),
            incidents: None,
            counts: Vec::new(),
        }
    }
}

/// Opens the input: a URL with a scheme GStreamer knows, else a file path.
pub fn open_input(input: &str, opts: &ReaderOptions) -> Result<FileReader> {
    match url::Url::parse(input) {
        Ok(u) if matches!(u.scheme(), "file" | "rtsp" | "rtsps" | "http" | "https") => {
            FileReader::open_uri(input, &crate::camera::redact_url(input), opts)
        }
        _ => FileReader::open(std::path::Path::new(input), opts),
    }
}

/// Runs a whole analysis, printing to `out`; returns the summary (also printed last).
pub fn run<W: Write>(opts: &Options, out: W) -> Result<Summary> {
    opts.detector.validate()?;
    opts.tracker.validate("track.")?;
    let mut reader = open_input(&opts.input, &opts.reader)?;
    let detector = Detector::load(&opts.detector)?;
    let mut analyzer = Analyzer::new(detector, opts.tracker.clone());
    let mut printer = Printer::new(out, opts.format);
    let mut rules = opts
        .rules
        .as_ref()
        .map(|f| OfflineRules::new(f, analyzer.labels()));
    let mut view = crate::frame::Thumbnail::default();
    while let Some(frame) = reader.next_frame()? {
        let t = frame.pts;
        if opts.max_duration.is_some_and(|m| t > m) {
            break;
        }
        analyzer.step_and_print(&frame, t, &mut printer)?;
        if let Some(r) = rules.as_mut() {
            let aspect = f64::from(frame.width.max(1)) / f64::from(frame.height.max(1));
            view.fill_from(&frame);
            r.step(t, aspect, analyzer.tracks(), Some(&view), &mut printer)?;
        }
    }
    let mut summary = analyzer.summary();
    if let Some(r) = rules.as_mut() {
        r.finish(&mut printer)?;
        summary.add_rules(r);
    }
    printer.summary(&summary)?;
    Ok(summary)
}
