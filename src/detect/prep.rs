//! Pre-processing: letterboxing an RGB24 frame into the model's NCHW f32 input. This module owns
//! the resize formula (bilinear, half-pixel centres, edge-clamped), the padding, channel order and
//! scaling, and the geometry needed to map boxes back. It must never allocate per frame in steady
//! state, and must never know about ONNX Runtime. `scripts/reference_detections.py` repeats this
//! arithmetic in numpy: change both together.

use crate::bail;
use crate::detect::manifest::{ChannelOrder, InputSpec, Placement};
use crate::error::Result;

/// Where the source image landed inside the model input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    /// Source frame size in pixels.
    pub src_w: u32,
    pub src_h: u32,
    /// Size of the resized image inside the input (pixels).
    pub new_w: u32,
    pub new_h: u32,
    /// Offset of the resized image inside the input (pixels).
    pub pad_x: u32,
    pub pad_y: u32,
}

impl Letterbox {
    /// Computes the geometry: one scale for both axes, `new = floor(src * scale + 0.5)`.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32, place: Placement) -> Letterbox {
        let scale = (dst_w as f64 / src_w as f64).min(dst_h as f64 / src_h as f64);
        let new_w = ((src_w as f64 * scale + 0.5).floor() as u32).clamp(1, dst_w);
        let new_h = ((src_h as f64 * scale + 0.5).floor() as u32).clamp(1, dst_h);
        let (pad_x, pad_y) = match place {
            Placement::Center => ((dst_w - new_w) / 2, (dst_h - new_h) / 2),
            Placement::TopLeft => (0, 0),
        };
        Letterbox {
            src_w,
            src_h,
            new_w,
            new_h,
            pad_x,
            pad_y,
        }
    }

    /// Maps an input-pixel x to a normalised source x, clamped to 0..1.
    pub fn norm_x(&self, x: f32) -> f32 {
        ((x - self.pad_x as f32) / self.new_w as f32).clamp(0.0, 1.0)
    }

    /// Maps an input-pixel y to a normalised source y, clamped to 0..1.
    pub fn norm_y(&self, y: f32) -> f32 {
        ((y - self.pad_y as f32) / self.new_h as f32).clamp(0.0, 1.0)
    }
}

/// One axis of the bilinear map: the two source pixels (or rows) and the weight of the second.
#[derive(Clone, Copy, Debug, Default)]
struct Tap {
    i0: usize,
    i1: usize,
    f: f32,
}

/// Half-pixel-centre bilinear taps for resizing `src` samples to `dst`, edge-clamped.
fn taps(src: u32, dst: u32, out: &mut Vec<Tap>) {
    out.clear();
    let ratio = src as f64 / dst as f64;
    let last = (src - 1) as f64;
    for d in 0..dst {
        let s = ((d as f64 + 0.5) * ratio - 0.5).clamp(0.0, last);
        let i0 = s.floor();
        let i1 = (i0 + 1.0).min(last);
        out.push(Tap {
            i0: i0 as usize,
            i1: i1 as usize,
            f: (s - i0) as f32,
        });
    }
}

/// A source row resized horizontally, with the index of the row it holds.
#[derive(Default)]
struct HRow {
    src_row: Option<usize>,
    px: Vec<[f32; 3]>,
}

impl HRow {
    /// Fills this with source row `y` of `rgb` resized through `xtaps`: per channel
    /// `left * (1 - f) + right * f`.
    fn fill(&mut self, rgb: &[u8], y: usize, stride: usize, row_len: usize, xtaps: &[Tap]) {
        let (src, _) = rgb[y * stride..y * stride + row_len].as_chunks::<3>();
        self.px.resize(xtaps.len(), [0.0; 3]);
        for (o, t) in self.px.iter_mut().zip(xtaps) {
            let (a, c) = (src[t.i0], src[t.i1]);
            let (f, g) = (t.f, 1.0 - t.f);
            *o = [0, 1, 2].map(|k| a[k] as f32 * g + c[k] as f32 * f);
        }
        self.src_row = Some(y);
    }
}

/// Letterboxes frames into a reused NCHW buffer. Geometry, tap tables and padding are recomputed
/// only when the source size changes. The resize is separable: each needed source row is
/// resized horizontally once (two rows are kept), then output rows blend two of them.
pub struct Letterboxer {
    spec: InputSpec,
    scale: f32,
    buf: Vec<f32>,
    xtaps: Vec<Tap>,
    ytaps: Vec<Tap>,
    rows: [HRow; 2],
    geometry: Option<Letterbox>,
}

impl Letterboxer {
    /// A letterboxer for `spec`, multiplying 0..255 values by `spec.scale`.
    pub fn new(spec: &InputSpec) -> Letterboxer {
        let scale = spec.scale.factor();
        let len = 3 * spec.width as usize * spec.height as usize;
        Letterboxer {
            spec: spec.clone(),
            scale,
            buf: vec![0.0; len],
            xtaps: Vec::new(),
            ytaps: Vec::new(),
            rows: Default::default(),
            geometry: None,
        }
    }

    /// The NCHW input of the last [`Letterboxer::run`], `3 * height * width` values.
    pub fn input(&self) -> &[f32] {
        &self.buf
    }

    /// Resizes `rgb` (RGB24, `width` x `height`, `stride` bytes a row) into the input buffer and
    /// returns where it landed.
    pub fn run(&mut self, rgb: &[u8], width: u32, height: u32, stride: usize) -> Result<Letterbox> {
        if width == 0 || height == 0 {
            bail!(InvalidArgument, "frame is {width}x{height}: empty");
        }
        let row_len = width as usize * 3;
        let need = stride * (height as usize - 1) + row_len;
        if stride < row_len || rgb.len() < need {
            bail!(
                InvalidArgument,
                "frame {width}x{height} with stride {stride} needs {need} bytes, got {}",
                rgb.len()
            );
        }
        let (dw, dh) = (self.spec.width, self.spec.height);
        let lb = match self.geometry {
            Some(g) if g.src_w == width && g.src_h == height => g,
            _ => {
                let g = Letterbox::new(width, height, dw, dh, self.spec.letterbox);
                taps(width, g.new_w, &mut self.xtaps);
                taps(height, g.new_h, &mut self.ytaps);
                self.buf.fill(self.spec.pad as f32 * self.scale);
                self.geometry = Some(g);
                g
            }
        };
        let plane = dw as usize * dh as usize;
        let (p0, rest) = self.buf.split_at_mut(plane);
        let (p1, p2) = rest.split_at_mut(plane);
        let (pr, pg, pb) = match self.spec.channels {
            ChannelOrder::Rgb => (p0, p1, p2),
            ChannelOrder::Bgr => (p2, p1, p0),
        };
        let scale = self.scale;
        let n = lb.new_w as usize;
        for row in &mut self.rows {
            row.src_row = None; // a new frame
        }
        for (dy, ty) in self.ytaps.iter().enumerate() {
            let [top, bot] = &mut self.rows;
            if top.src_row != Some(ty.i0) {
                if bot.src_row == Some(ty.i0) {
                    std::mem::swap(top, bot);
                } else {
                    top.fill(rgb, ty.i0, stride, row_len, &self.xtaps);
                }
            }
            if bot.src_row != Some(ty.i1) {
                bot.fill(rgb, ty.i1, stride, row_len, &self.xtaps);
            }
            let off = (dy + lb.pad_y as usize) * dw as usize + lb.pad_x as usize;
            let (or, og, ob) = (
                &mut pr[off..off + n],
                &mut pg[off..off + n],
                &mut pb[off..off + n],
            );
            let (fy, gy) = (ty.f, 1.0 - ty.f);
            let lines = top.px.iter().zip(&bot.px);
            for ((((t, b), r), g), bl) in lines.zip(or).zip(og).zip(ob) {
                let v = |k: usize| (t[k] * gy + b[k] * fy) * scale;
                (*r, *g, *bl) = (v(0), v(1), v(2));
            }
        }
        Ok(lb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::manifest::PixelScale;

    fn spec(w: u32, h: u32, channels: ChannelOrder, letterbox: Placement) -> InputSpec {
        InputSpec {
            name: "images".into(),
            width: w,
            height: h,
            channels,
            scale: PixelScale::Raw,
            letterbox,
            pad: 114,
        }
    }

    /// An RGB image whose pixel (x, y) is `f(x, y)`, with `extra` garbage bytes after each row.
    fn image(w: u32, h: u32, extra: usize, f: impl Fn(u32, u32) -> [u8; 3]) -> (Vec<u8>, usize) {
        let stride = w as usize * 3 + extra;
        let mut v = vec![0xEE; stride * h as usize];
        for y in 0..h {
            for x in 0..w {
                let o = y as usize * stride + x as usize * 3;
                v[o..o + 3].copy_from_slice(&f(x, y));
            }
        }
        (v, stride)
    }

    /// Channel `c` of the input as rows of numbers.
    fn plane(lb: &Letterboxer, c: usize) -> Vec<Vec<f32>> {
        let (w, h) = (lb.spec.width as usize, lb.spec.height as usize);
        let p = &lb.input()[c * w * h..(c + 1) * w * h];
        p.chunks(w).map(|r| r.to_vec()).collect()
    }

    #[test]
    fn geometry_centred_top_left_and_odd_sizes() {
        let cases = [
            // src, dst, placement -> new size, pad
            (
                (1280, 720),
                (640, 640),
                Placement::Center,
                (640, 360),
                (0, 140),
            ),
            (
                (1280, 720),
                (640, 640),
                Placement::TopLeft,
                (640, 360),
                (0, 0),
            ),
            (
                (720, 1280),
                (416, 416),
                Placement::Center,
                (234, 416),
                (91, 0),
            ),
            (
                (641, 359),
                (640, 640),
                Placement::Center,
                (640, 358),
                (0, 141),
            ),
            ((3, 5), (32, 32), Placement::Center, (19, 32), (6, 0)),
            (
                (640, 640),
                (640, 640),
                Placement::Center,
                (640, 640),
                (0, 0),
            ),
        ];
        for (src, dst, place, new, pad) in cases {
            let g = Letterbox::new(src.0, src.1, dst.0, dst.1, place);
            assert_eq!(
                ((g.new_w, g.new_h), (g.pad_x, g.pad_y)),
                (new, pad),
                "{src:?} {place:?}"
            );
        }
        let g = Letterbox::new(1280, 720, 640, 640, Placement::Center);
        assert_eq!(
            (g.norm_x(320.0), g.norm_y(140.0), g.norm_y(500.0)),
            (0.5, 0.0, 1.0)
        );
        assert_eq!((g.norm_y(0.0), g.norm_y(640.0)), (0.0, 1.0)); // clamped
    }

    #[test]
    fn upscale_by_hand_centred() {
        // 2x1 into 4x4: scale 2, image 4x2 at rows 1..3. Red 0 and 100: half-pixel bilinear gives
        // 0, 25, 75, 100 (the outer taps clamp to the edge pixels).
        let (img, stride) = image(2, 1, 0, |x, _| [x as u8 * 100, 7, 200]);
        let mut lb = Letterboxer::new(&spec(4, 4, ChannelOrder::Rgb, Placement::Center));
        let g = lb.run(&img, 2, 1, stride).unwrap();
        assert_eq!((g.new_w, g.new_h, g.pad_x, g.pad_y), (4, 2, 0, 1));
        let pad = vec![114.0; 4];
        let red = vec![0.0, 25.0, 75.0, 100.0];
        assert_eq!(plane(&lb, 0), [pad.clone(), red.clone(), red, pad.clone()]);
        assert_eq!(plane(&lb, 1)[1], [7.0; 4]);
        assert_eq!(plane(&lb, 2)[2], [200.0; 4]);
        assert_eq!(plane(&lb, 2)[3], pad);
    }

    #[test]
    fn downscale_top_left_bgr_with_stride_padding() {
        // 4x2 into 2x2 top-left (scale 0.5, image 2x1): each output pixel averages a 2x2 block.
        let (img, stride) = image(4, 2, 5, |x, y| [(x * 10 + y * 40) as u8, 0, 255]);
        let mut lb = Letterboxer::new(&spec(2, 2, ChannelOrder::Bgr, Placement::TopLeft));
        lb.run(&img, 4, 2, stride).unwrap();
        // Plane 0 is blue, plane 2 red: red of block (0..2, 0..2) = (0+10+40+50)/4 = 25.
        assert_eq!(plane(&lb, 2), [vec![25.0, 45.0], vec![114.0, 114.0]]);
        assert_eq!(plane(&lb, 0), [vec![255.0, 255.0], vec![114.0, 114.0]]);
        // The same pixels without stride padding give the same input.
        let (tight, tstride) = image(4, 2, 0, |x, y| [(x * 10 + y * 40) as u8, 0, 255]);
        let before = lb.input().to_vec();
        lb.run(&tight, 4, 2, tstride).unwrap();
        assert_eq!(lb.input(), &before[..]);
    }

    #[test]
    fn same_size_is_an_exact_copy_scaled() {
        let (img, stride) = image(32, 32, 3, |x, y| [x as u8, y as u8, (x * y) as u8]);
        let mut s = spec(32, 32, ChannelOrder::Rgb, Placement::Center);
        s.scale = PixelScale::Unit;
        let mut lb = Letterboxer::new(&s);
        lb.run(&img, 32, 32, stride).unwrap();
        let unit = 1.0f32 / 255.0;
        assert_eq!(plane(&lb, 0)[3][5], 5.0 * unit);
        assert_eq!(plane(&lb, 1)[3][5], 3.0 * unit);
        assert_eq!(plane(&lb, 2)[3][5], 15.0 * unit);
    }

    #[test]
    fn a_new_frame_size_repads_the_reused_buffer() {
        let mut lb = Letterboxer::new(&spec(4, 4, ChannelOrder::Rgb, Placement::Center));
        let (wide, ws) = image(4, 2, 0, |_, _| [9, 9, 9]);
        let (tall, ts) = image(2, 4, 0, |_, _| [9, 9, 9]);
        let ptr = lb.input().as_ptr();
        lb.run(&wide, 4, 2, ws).unwrap();
        assert_eq!(plane(&lb, 0)[1], [9.0; 4]);
        lb.run(&tall, 2, 4, ts).unwrap();
        assert_eq!(plane(&lb, 0)[1], [114.0, 9.0, 9.0, 114.0]);
        assert_eq!(lb.input().as_ptr(), ptr, "the input buffer is reused");
    }

    /// The bilinear formula pixel by pixel, without the separable pass or row reuse.
    fn naive(
        img: &[u8],
        stride: usize,
        (w, h): (u32, u32),
        g: &Letterbox,
        (x, y): (u32, u32),
        k: usize,
    ) -> f32 {
        let map = |d: u32, src: u32, dst: u32| {
            let s =
                ((d as f64 + 0.5) * (src as f64 / dst as f64) - 0.5).clamp(0.0, (src - 1) as f64);
            let i0 = s.floor();
            (
                i0 as usize,
                (i0 + 1.0).min((src - 1) as f64) as usize,
                (s - i0) as f32,
            )
        };
        let (x0, x1, fx) = map(x, w, g.new_w);
        let (y0, y1, fy) = map(y, h, g.new_h);
        let p = |xx: usize, yy: usize| img[yy * stride + xx * 3 + k] as f32;
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bot = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        top * (1.0 - fy) + bot * fy
    }

    #[test]
    fn separable_pass_equals_the_formula_up_and_down() {
        let pattern = |x: u32, y: u32| {
            [
                (x * 37 + y * 11) as u8,
                (x * y * 7) as u8,
                (x * 9 + 100) as u8,
            ]
        };
        for (w, h, dst) in [(7, 5, 16), (5, 7, 16), (37, 23, 16), (23, 37, 8)] {
            let (img, stride) = image(w, h, 1, pattern);
            let mut lb = Letterboxer::new(&spec(dst, dst, ChannelOrder::Rgb, Placement::Center));
            let g = lb.run(&img, w, h, stride).unwrap();
            for k in 0..3 {
                let p = plane(&lb, k);
                for y in 0..g.new_h {
                    for x in 0..g.new_w {
                        let got = p[(y + g.pad_y) as usize][(x + g.pad_x) as usize];
                        let want = naive(&img, stride, (w, h), &g, (x, y), k);
                        assert!(
                            (got - want).abs() < 1e-3,
                            "{w}x{h} ({x},{y},{k}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_short_or_empty_frames() {
        let mut lb = Letterboxer::new(&spec(4, 4, ChannelOrder::Rgb, Placement::Center));
        let e = lb.run(&[0; 17], 2, 3, 6).unwrap_err().to_string();
        assert!(e.contains("needs 18 bytes, got 17"), "{e}");
        assert!(lb.run(&[0; 18], 2, 3, 5).is_err(), "stride below width * 3");
        assert!(lb.run(&[], 0, 3, 0).is_err());
        // The last row needs only width * 3 bytes, not a whole stride.
        assert!(lb.run(&[0; 26], 2, 3, 10).is_ok());
    }
}
