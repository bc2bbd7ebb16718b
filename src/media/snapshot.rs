//! Incident snapshots: the frame an incident opened on, as a JPEG with the involved objects'
//! boxes, the zone or line of the rule and a caption (camera, kind, time) drawn on it, plus the
//! plain frame. Owns drawing (normalised coordinates -> pixels, line widths and text sizes that
//! scale with the frame) and JPEG encoding; must never decode video or decide what to draw.
//!
//! Encoder: GStreamer's `jpegenc` (libjpeg-turbo) and the `image` crate's encoder were both
//! measured by `cargo bench --bench snapshot` on real frames; see [`PRODUCT_ENCODER`].

use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::font;
use super::paths::{snapshot_path, write_atomically};
use crate::error::{ErrorKind, Result, ResultExt};
use crate::frame::Frame;
use crate::rules::geometry::Point;
use crate::{bail, err};

/// What to draw on a snapshot. Coordinates are normalised to the frame (0..1, y down).
#[derive(Clone, Debug, Default)]
pub struct Annotation {
    /// The involved objects: `[x1, y1, x2, y2]` and a label (e.g. `car #12`).
    pub boxes: Vec<([f32; 4], String)>,
    /// The rule's zone (a closed polygon), or empty.
    pub zone: Vec<Point>,
    /// The rule's line, if it has one.
    pub line: Option<(Point, Point)>,
    /// One line of text across the top (camera, kind, time).
    pub caption: String,
}

/// A JPEG encoder vigil can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JpegEncoder {
    /// The `image` crate's encoder (pure Rust).
    Image,
    /// GStreamer's `jpegenc` (libjpeg-turbo, SIMD).
    GStreamer,
}

/// The encoder snapshots use: `jpegenc`, measured 15-40x faster than the `image` crate's encoder
/// on a real CCTV still at 1920x1080 (13-20 ms against 320-590 ms) and 960x540 (about 4 ms
/// against 75-150 ms), with files 8-15 % smaller at the same quality (`cargo bench --bench
/// snapshot --profile dev`, dependencies optimised, on a busy 2-core machine; table in README).
pub const PRODUCT_ENCODER: JpegEncoder = JpegEncoder::GStreamer;

/// Box, zone and line colours (RGB).
const BOX: [u8; 3] = [255, 40, 40];
const ZONE: [u8; 3] = [255, 200, 0];
const LINE: [u8; 3] = [0, 210, 255];
const TEXT: [u8; 3] = [255, 255, 255];
const LABEL_TEXT: [u8; 3] = [0, 0, 0];

/// Writes `<media>/snapshots/<id>.jpg` (annotated) and `<id>.raw.jpg` (plain), each via .part +
/// rename. Returns (width, height). The id is checked before anything is read or written.
pub fn write_snapshots(
    frame: &Frame,
    ann: &Annotation,
    data_dir: &Path,
    incident_id: &str,
    quality: u8,
) -> Result<(u32, u32)> {
    let annotated_path = snapshot_path(data_dir, incident_id, true)?;
    let raw_path = snapshot_path(data_dir, incident_id, false)?;
    let (w, h) = (frame.width, frame.height);
    let mut rgb = packed_rgb(frame)?;
    let plain = encode_jpeg(PRODUCT_ENCODER, &rgb, w, h, quality)?;
    write_atomically(&raw_path, &plain)?;
    draw(&mut rgb, w, h, ann);
    let annotated = encode_jpeg(PRODUCT_ENCODER, &rgb, w, h, quality)?;
    write_atomically(&annotated_path, &annotated)?;
    Ok((w, h))
}

/// The frame's pixels without row padding (`width * 3` bytes per row).
fn packed_rgb(frame: &Frame) -> Result<Vec<u8>> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let row = w * 3;
    let data = frame.rgb();
    if w == 0 || h == 0 || w > 65_535 || h > 65_535 {
        bail!(
            InvalidArgument,
            "snapshot: a {w}x{h} frame cannot be a JPEG"
        );
    }
    if frame.stride < row || data.len() < frame.stride * (h - 1) + row {
        bail!(
            Internal,
            "snapshot: frame of {w}x{h} with stride {} has only {} bytes",
            frame.stride,
            data.len()
        );
    }
    let mut out = Vec::with_capacity(row * h);
    for r in data.chunks(frame.stride).take(h) {
        out.extend_from_slice(&r[..row]);
    }
    Ok(out)
}

/// Draws `ann` on packed RGB24 pixels: zone, line, boxes with labels, then the caption banner.
pub fn draw(rgb: &mut [u8], width: u32, height: u32, ann: &Annotation) {
    let mut c = Canvas {
        rgb,
        w: width as i64,
        h: height as i64,
    };
    let thick = (width / 480).max(2) as i64;
    let text_scale = ((width + 240) / 480).max(2);
    let (fw, fh) = (c.w, c.h);
    let px = |p: Point| (to_px(p.x, fw), to_px(p.y, fh));
    let zone: Vec<(i64, i64)> = ann.zone.iter().map(|&p| px(p)).collect();
    for (i, &a) in zone.iter().enumerate() {
        let b = zone[(i + 1) % zone.len()];
        c.segment(a, b, thick, ZONE);
    }
    if let Some((a, b)) = ann.line {
        let (a, b) = (px(a), px(b));
        c.segment(a, b, thick + thick / 2, LINE);
        for end in [a, b] {
            let r = thick * 2;
            c.fill(end.0 - r, end.1 - r, 2 * r, 2 * r, LINE);
        }
    }
    let label_scale = (text_scale * 3 / 4).max(2);
    for (bbox, label) in &ann.boxes {
        let (x1, y1) = (to_px(bbox[0] as f64, c.w), to_px(bbox[1] as f64, c.h));
        let (x2, y2) = (to_px(bbox[2] as f64, c.w), to_px(bbox[3] as f64, c.h));
        let (x1, x2) = (x1.min(x2), x1.max(x2));
        let (y1, y2) = (y1.min(y2), y1.max(y2));
        c.fill(x1, y1, x2 - x1, thick, BOX);
        c.fill(x1, y2 - thick, x2 - x1, thick, BOX);
        c.fill(x1, y1, thick, y2 - y1, BOX);
        c.fill(x2 - thick, y1, thick, y2 - y1, BOX);
        if !label.is_empty() {
            let (tw, th) = font::text_size(label, label_scale);
            let pad = label_scale as i64;
            let bh = th as i64 + 2 * pad;
            // Above the box, or inside it when the box touches the top.
            let top = if y1 - bh >= 0 { y1 - bh } else { y1 };
            c.fill(x1, top, tw as i64 + 2 * pad, bh, BOX);
            c.text(label, x1 + pad, top + pad, label_scale, LABEL_TEXT);
        }
    }
    if !ann.caption.is_empty() {
        let pad = text_scale as i64 * 2;
        let (_, th) = font::text_size(&ann.caption, text_scale);
        c.darken(0, th as i64 + 2 * pad);
        c.text(&ann.caption, pad, pad, text_scale, TEXT);
    }
}

/// A normalised coordinate in pixels; nonsense (NaN, far outside) is pinned near the frame.
fn to_px(v: f64, size: i64) -> i64 {
    let v = if v.is_finite() {
        v.clamp(-1.0, 2.0)
    } else {
        0.0
    };
    (v * size as f64).round() as i64
}

/// Packed RGB24 pixels; every drawing call clips to the image.
struct Canvas<'a> {
    rgb: &'a mut [u8],
    w: i64,
    h: i64,
}

impl Canvas<'_> {
    /// The rows `y0..y1` and columns `x0..x1`, clipped, as byte ranges per row.
    fn rows(&mut self, x: i64, y: i64, w: i64, h: i64) -> impl Iterator<Item = &mut [u8]> {
        let (x0, x1) = (x.clamp(0, self.w), (x + w).clamp(0, self.w));
        let (y0, y1) = (y.clamp(0, self.h), (y + h).clamp(0, self.h));
        let stride = self.w as usize * 3;
        self.rgb
            .chunks_exact_mut(stride)
            .skip(y0 as usize)
            .take((y1 - y0) as usize)
            .map(move |row| &mut row[x0 as usize * 3..x1 as usize * 3])
    }

    fn fill(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        for row in self.rows(x, y, w, h) {
            for px in row.chunks_exact_mut(3) {
                px.copy_from_slice(&color);
            }
        }
    }

    /// Darkens full-width rows `0..h` to a quarter, for text on any background.
    fn darken(&mut self, y: i64, h: i64) {
        let w = self.w;
        for row in self.rows(0, y, w, h) {
            for v in row.iter_mut() {
                *v /= 4;
            }
        }
    }

    /// A straight line `thick` pixels wide (a square brush stepped one pixel at a time).
    fn segment(&mut self, a: (i64, i64), b: (i64, i64), thick: i64, color: [u8; 3]) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let steps = dx.abs().max(dy.abs()).max(1);
        let half = thick / 2;
        for i in 0..=steps {
            let x = a.0 + dx * i / steps;
            let y = a.1 + dy * i / steps;
            self.fill(x - half, y - half, thick, thick, color);
        }
    }

    fn text(&mut self, text: &str, x: i64, y: i64, scale: u32, color: [u8; 3]) {
        font::render(text, x, y, scale, |x, y, w, h| {
            self.fill(x, y, w as i64, h as i64, color)
        });
    }
}

/// Encodes packed RGB24 pixels as a JPEG of `quality` (1..=100) with `encoder`.
pub fn encode_jpeg(
    encoder: JpegEncoder,
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>> {
    if rgb.len() != width as usize * height as usize * 3 {
        bail!(
            Internal,
            "jpeg: {} bytes are not a {width}x{height} RGB image",
            rgb.len()
        );
    }
    let quality = quality.clamp(1, 100);
    match encoder {
        JpegEncoder::Image => {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
                .encode(rgb, width, height, image::ExtendedColorType::Rgb8)
                .ctx(ErrorKind::Internal, "jpeg: encoding")?;
            Ok(out)
        }
        JpegEncoder::GStreamer => encode_gst(rgb, width, height, quality),
    }
}

/// `appsrc ! jpegenc ! appsink`, one frame. Rows are copied to GStreamer's stride (a multiple
/// of 4 bytes).
fn encode_gst(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>> {
    crate::ingest::init()?;
    let row = width as usize * 3;
    let stride = row.next_multiple_of(4);
    let mut buffer = gst::Buffer::with_size(stride * height as usize)
        .ctx(ErrorKind::ResourceExhausted, "jpeg: allocating")?;
    {
        let b = buffer
            .get_mut()
            .ok_or_else(|| err!(Internal, "jpeg: buffer not writable"))?;
        let mut map = b
            .map_writable()
            .map_err(|_| err!(Internal, "jpeg: cannot map the buffer"))?;
        for (dst, src) in map.chunks_exact_mut(stride).zip(rgb.chunks_exact(row)) {
            dst[..row].copy_from_slice(src);
        }
    }
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", width as i32)
        .field("height", height as i32)
        .field("framerate", gst::Fraction::new(0, 1))
        .build();
    let src = gst_app::AppSrc::builder()
        .caps(&caps)
        .format(gst::Format::Time)
        .build();
    let enc = gst::ElementFactory::make("jpegenc")
        .property("quality", quality as i32)
        .build()
        .ctx(
            ErrorKind::FailedPrecondition,
            "jpeg: GStreamer element jpegenc is missing (run scripts/setup)",
        )?;
    // 4:2:0 like the `image` encoder (RGB straight into jpegenc is coded 4:4:4: 2.6x the bytes),
    // full range as JPEG (JFIF) means it: videoconvert's default, limited range, lifts blacks.
    let convert = gst::ElementFactory::make("videoconvert").build().ctx(
        ErrorKind::FailedPrecondition,
        "jpeg: videoconvert is missing",
    )?;
    let i420 = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("colorimetry", "1:4:0:0") // range 0-255, BT.601 matrix
                .build(),
        )
        .build()
        .ctx(ErrorKind::Internal, "jpeg: capsfilter")?;
    let sink = gst_app::AppSink::builder().sync(false).build();
    let pipeline = gst::Pipeline::new();
    let guard = NullOnDrop(pipeline.clone());
    let chain = [src.upcast_ref(), &convert, &i420, &enc, sink.upcast_ref()];
    pipeline
        .add_many(chain)
        .and_then(|_| gst::Element::link_many(chain))
        .ctx(ErrorKind::Internal, "jpeg: building the encoder")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| err!(Internal, "jpeg: cannot start the encoder"))?;
    src.push_buffer(buffer)
        .map_err(|e| err!(Internal, "jpeg: the encoder refused the frame: {e:?}"))?;
    let _ = src.end_of_stream();
    let sample = sink.pull_sample().map_err(|_| {
        let why = pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            .map(|m| format!("{m:?}"))
            .unwrap_or_else(|| "no output".into());
        err!(Internal, "jpeg: encoding failed: {why}")
    })?;
    let out = sample
        .buffer()
        .ok_or_else(|| err!(Internal, "jpeg: empty sample"))?
        .map_readable()
        .map_err(|_| err!(Internal, "jpeg: cannot read the output"))?
        .to_vec();
    drop(guard);
    Ok(out)
}

struct NullOnDrop(gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gradient frame with padded rows.
    fn frame(w: u32, h: u32, pad: usize) -> Frame {
        let stride = w as usize * 3 + pad;
        let mut data = vec![0u8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let p = y * stride + x * 3;
                data[p..p + 3].copy_from_slice(&[(x % 256) as u8, (y % 256) as u8, 128]);
            }
        }
        Frame {
            seq: 0,
            pts: std::time::Duration::ZERO,
            arrived: std::time::SystemTime::UNIX_EPOCH,
            width: w,
            height: h,
            stride,
            data: Box::new(data),
        }
    }

    fn px(rgb: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
        let p = (y * w + x) as usize * 3;
        [rgb[p], rgb[p + 1], rgb[p + 2]]
    }

    #[test]
    fn drawing_lands_where_the_coordinates_say() {
        let (w, h) = (960u32, 540u32);
        let mut rgb = packed_rgb(&frame(w, h, 7)).unwrap();
        let before = rgb.clone();
        let ann = Annotation {
            boxes: vec![([0.25, 0.5, 0.5, 0.75], "car #3".into())],
            zone: vec![
                Point::new(0.1, 0.9),
                Point::new(0.9, 0.9),
                Point::new(0.9, 0.95),
            ],
            line: Some((Point::new(0.6, 0.2), Point::new(0.6, 0.4))),
            caption: "cam-1 STOPPED_VEHICLE 2026-12-04 07:00:00Z".into(),
        };
        draw(&mut rgb, w, h, &ann);
        // (x, y) -> expected colour, or None: unchanged.
        type Expected = ((u32, u32), Option<[u8; 3]>);
        let table: [Expected; 7] = [
            ((240, 300), Some(BOX)),  // left edge of the box
            ((479, 400), Some(BOX)),  // right edge
            ((360, 350), None),       // inside the box
            ((500, 486), Some(ZONE)), // the zone's first edge (y = 0.9)
            ((576, 160), Some(LINE)), // the line
            ((700, 300), None),       // nothing there
            ((w - 1, h - 1), None),   // corner
        ];
        for ((x, y), want) in table {
            let got = px(&rgb, w, x, y);
            match want {
                Some(c) => assert_eq!(got, c, "({x}, {y})"),
                None => assert_eq!(got, px(&before, w, x, y), "({x}, {y})"),
            }
        }
        // The caption banner darkens the top rows and carries white text.
        let top: Vec<[u8; 3]> = (0..w).map(|x| px(&rgb, w, x, 10)).collect();
        assert!(top.contains(&TEXT));
        assert!(top.iter().all(|p| *p == TEXT || p[2] == 128 / 4));
    }

    #[test]
    fn nonsense_coordinates_and_tiny_frames_do_not_panic() {
        for (w, h) in [(1, 1), (2, 3), (33, 17)] {
            let mut rgb = vec![0u8; (w * h * 3) as usize];
            let ann = Annotation {
                boxes: vec![([f32::NAN, -5.0, 9.0, f32::INFINITY], "x".repeat(200))],
                zone: vec![Point::new(-3.0, 4.0), Point::new(f64::NAN, 0.5)],
                line: Some((Point::new(2.0, 2.0), Point::new(-1.0, -1.0))),
                caption: "\u{1F697} caption".repeat(50),
            };
            draw(&mut rgb, w, h, &ann);
        }
    }

    #[test]
    fn both_encoders_make_jpegs_of_the_frame_size() {
        let (w, h) = (322u32, 181u32); // rows not a multiple of 4 bytes
        let rgb = packed_rgb(&frame(w, h, 0)).unwrap();
        for enc in [JpegEncoder::Image, JpegEncoder::GStreamer] {
            let jpeg = encode_jpeg(enc, &rgb, w, h, 85).unwrap();
            let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                .unwrap()
                .to_rgb8();
            assert_eq!(img.dimensions(), (w, h), "{enc:?}");
            // The gradient survives: red follows x.
            let (a, b) = (img.get_pixel(10, 90)[0], img.get_pixel(250, 90)[0]);
            assert!(a < 30 && b > 220, "{enc:?}: {a} {b}");
        }
        assert!(encode_jpeg(JpegEncoder::Image, &rgb[1..], w, h, 85).is_err());
    }
}
