//! Post-processing: turning a detector's raw output tensor into [`Detection`]s. This module owns
//! box decoding for each [`OutputFormat`], per-class score thresholds (which also filter classes),
//! per-class NMS and the mapping back to normalised frame coordinates. It must never know about
//! ONNX Runtime and must never allocate per frame in steady state. `scripts/reference_detections.py`
//! repeats this logic in numpy: change both together.

use crate::bail;
use crate::detect::Detection;
use crate::detect::manifest::OutputFormat;
use crate::detect::prep::Letterbox;
use crate::error::Result;

/// Which classes are reported and from what score.
#[derive(Clone, Debug, PartialEq)]
pub struct PostConfig {
    /// Per class id: the minimum score (inclusive); `f32::INFINITY` disables the class.
    pub thresholds: Vec<f32>,
    /// Of two boxes of one class overlapping with IoU above this, only the higher score is kept.
    pub nms_iou: f32,
}

impl PostConfig {
    /// Every one of `num_classes` classes at `threshold`.
    pub fn all(num_classes: usize, threshold: f32, nms_iou: f32) -> PostConfig {
        PostConfig {
            thresholds: vec![threshold; num_classes],
            nms_iou,
        }
    }

    fn enabled(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.thresholds.len()).filter(|&c| self.thresholds[c].is_finite())
    }

    fn min_threshold(&self) -> f32 {
        self.thresholds
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min)
    }
}

/// A box above threshold, in model-input pixels `[x1, y1, x2, y2]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub class_id: u16,
    pub score: f32,
    pub bbox: [f32; 4],
}

/// Rows of a YOLOX output for an input of `in_w` x `in_h` and the head's `strides`.
pub fn yolox_rows(in_w: u32, in_h: u32, strides: &[u32]) -> usize {
    strides
        .iter()
        .map(|s| (in_w / s) as usize * (in_h / s) as usize)
        .sum()
}

/// Decodes, filters and suppresses; keeps its scratch buffers between frames.
pub struct Decoder {
    config: PostConfig,
    format: OutputFormat,
    in_w: u32,
    in_h: u32,
    strides: Vec<u32>,
    best: Vec<f32>,
    best_class: Vec<u16>,
    cands: Vec<Candidate>,
    kept: Vec<Candidate>,
}

impl Decoder {
    /// A decoder for a model with input `in_w` x `in_h`; `strides` are the YOLOX head's (ignored
    /// for `yolov8`).
    pub fn new(
        config: PostConfig,
        format: OutputFormat,
        in_w: u32,
        in_h: u32,
        strides: &[u32],
    ) -> Decoder {
        Decoder {
            config,
            format,
            in_w,
            in_h,
            strides: strides.to_vec(),
            best: Vec::new(),
            best_class: Vec::new(),
            cands: Vec::new(),
            kept: Vec::new(),
        }
    }

    pub fn config(&self) -> &PostConfig {
        &self.config
    }

    /// The output shape (without the batch) this decoder expects; for `yolov8` the number of
    /// anchors `n` is taken from the model.
    pub fn expected_dims(&self, n: usize) -> [usize; 2] {
        let nc = self.config.thresholds.len();
        match self.format {
            OutputFormat::Yolov8 => [4 + nc, n],
            OutputFormat::Yolox => [yolox_rows(self.in_w, self.in_h, &self.strides), 5 + nc],
        }
    }

    /// Decodes `output` (shape `dims`, without the batch) into `out`, replacing its contents;
    /// `lb` maps boxes back to the frame.
    pub fn run(
        &mut self,
        output: &[f32],
        dims: [usize; 2],
        lb: &Letterbox,
        out: &mut Vec<Detection>,
    ) -> Result<()> {
        out.clear();
        self.cands.clear();
        if dims[0] * dims[1] != output.len() {
            bail!(
                Internal,
                "output has {} values, its shape says {dims:?}",
                output.len()
            );
        }
        let want = self.expected_dims(dims[1]);
        if dims != want {
            bail!(
                Internal,
                "{:?} output is {dims:?}, want {want:?}",
                self.format
            );
        }
        match self.format {
            OutputFormat::Yolov8 => self.decode_yolov8(output, dims[1]),
            OutputFormat::Yolox => self.decode_yolox(output),
        }
        nms(&mut self.cands, self.config.nms_iou, &mut self.kept);
        for c in &self.kept {
            let [x1, y1, x2, y2] = c.bbox;
            let b = [lb.norm_x(x1), lb.norm_y(y1), lb.norm_x(x2), lb.norm_y(y2)];
            if b[2] > b[0] && b[3] > b[1] {
                out.push(Detection {
                    class_id: c.class_id,
                    score: c.score,
                    bbox: b,
                });
            }
        }
        Ok(())
    }

    /// `[4+C, N]`: per anchor, the best enabled class (the first on ties); row-wise passes keep
    /// memory access sequential.
    fn decode_yolov8(&mut self, out: &[f32], n: usize) {
        self.best.clear();
        self.best.resize(n, f32::NEG_INFINITY);
        self.best_class.clear();
        self.best_class.resize(n, 0);
        for c in self.config.enabled() {
            let row = &out[(4 + c) * n..(5 + c) * n];
            for ((b, bc), &v) in self
                .best
                .iter_mut()
                .zip(self.best_class.iter_mut())
                .zip(row)
            {
                if v > *b {
                    *b = v;
                    *bc = c as u16;
                }
            }
        }
        let (cx, rest) = out.split_at(n);
        let (cy, rest) = rest.split_at(n);
        let (w, rest) = rest.split_at(n);
        let h = &rest[..n];
        for (i, (&score, &class_id)) in self.best.iter().zip(&self.best_class).enumerate() {
            if score >= self.config.thresholds[class_id as usize] {
                self.cands.push(Candidate {
                    class_id,
                    score,
                    bbox: xywh_to_xyxy(cx[i], cy[i], w[i], h[i]),
                });
            }
        }
    }

    /// `[N, 5+C]`: grid decode over the strides (row-major cells, x fastest); score =
    /// objectness * class score, best enabled class (the first on ties).
    fn decode_yolox(&mut self, out: &[f32]) {
        let min_t = self.config.min_threshold();
        let row_len = 5 + self.config.thresholds.len();
        let mut rows = out.chunks_exact(row_len);
        for &s in &self.strides {
            let (gw, gh) = (self.in_w / s, self.in_h / s);
            let sf = s as f32;
            for gy in 0..gh {
                for gx in 0..gw {
                    let Some(r) = rows.next() else { return };
                    let obj = r[4];
                    // Class scores are sigmoid outputs (<= 1), so objectness bounds the score.
                    if obj.is_nan() || obj < min_t {
                        continue;
                    }
                    let mut best = f32::NEG_INFINITY;
                    let mut best_c = 0usize;
                    for (c, (&cls, t)) in r[5..].iter().zip(&self.config.thresholds).enumerate() {
                        let v = obj * cls;
                        if v > best && t.is_finite() {
                            best = v;
                            best_c = c;
                        }
                    }
                    if best >= self.config.thresholds[best_c] {
                        let cx = (r[0] + gx as f32) * sf;
                        let cy = (r[1] + gy as f32) * sf;
                        let w = r[2].exp() * sf;
                        let h = r[3].exp() * sf;
                        self.cands.push(Candidate {
                            class_id: best_c as u16,
                            score: best,
                            bbox: xywh_to_xyxy(cx, cy, w, h),
                        });
                    }
                }
            }
        }
    }
}

fn xywh_to_xyxy(cx: f32, cy: f32, w: f32, h: f32) -> [f32; 4] {
    let (hw, hh) = (w * 0.5, h * 0.5);
    [cx - hw, cy - hh, cx + hw, cy + hh]
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes (0 when both are empty).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Greedy per-class NMS: sorts `cands` by score, highest first (equal scores in a fixed order),
/// and keeps each box that overlaps no kept box of its class with IoU > `iou_max`. `kept` ends
/// in score order.
pub fn nms(cands: &mut [Candidate], iou_max: f32, kept: &mut Vec<Candidate>) {
    kept.clear();
    // Unstable sort: no scratch allocation. The tie-breaks make the order deterministic.
    cands.sort_unstable_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.class_id.cmp(&b.class_id))
            .then_with(|| {
                let key = |c: &Candidate| c.bbox.map(f32::to_bits);
                key(a).cmp(&key(b))
            })
    });
    for c in cands.iter() {
        let suppressed = kept
            .iter()
            .any(|k| k.class_id == c.class_id && iou(&k.bbox, &c.bbox) > iou_max);
        if !suppressed {
            kept.push(*c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::manifest::Placement;

    /// The identity mapping for a 100x100 input: normalised = input pixels / 100.
    fn lb100() -> Letterbox {
        Letterbox::new(100, 100, 100, 100, Placement::Center)
    }

    fn cand(class_id: u16, score: f32, bbox: [f32; 4]) -> Candidate {
        Candidate {
            class_id,
            score,
            bbox,
        }
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    /// A `[4+nc, n]` yolov8 output from per-anchor `(cx, cy, w, h, scores)`.
    fn yolov8_output(anchors: &[([f32; 4], &[f32])], nc: usize) -> Vec<f32> {
        let n = anchors.len();
        let mut out = vec![0.0; (4 + nc) * n];
        for (i, (b, scores)) in anchors.iter().enumerate() {
            for k in 0..4 {
                out[k * n + i] = b[k];
            }
            for (c, &s) in scores.iter().enumerate() {
                out[(4 + c) * n + i] = s;
            }
        }
        out
    }

    #[test]
    fn iou_by_hand() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        // overlap 5x10 = 50, union 150
        assert!((iou(&a, &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&a, &[10.0, 0.0, 20.0, 10.0]), 0.0); // touching
        assert_eq!(iou(&[0.0; 4], &[0.0; 4]), 0.0);
    }

    #[test]
    fn nms_suppresses_overlaps_of_one_class_only() {
        let mut c = vec![
            cand(0, 0.6, [1.0, 0.0, 11.0, 10.0]), // IoU 0.818 with the 0.9 box: suppressed
            cand(0, 0.9, [0.0, 0.0, 10.0, 10.0]),
            cand(2, 0.5, [0.0, 0.0, 10.0, 10.0]), // same box, other class: kept
            cand(0, 0.7, [5.0, 0.0, 15.0, 10.0]), // IoU 1/3 with the 0.9 box: kept
            cand(0, 0.4, [20.0, 20.0, 30.0, 30.0]),
        ];
        let mut kept = Vec::new();
        nms(&mut c, 0.45, &mut kept);
        let scores: Vec<f32> = kept.iter().map(|k| k.score).collect();
        assert_eq!(scores, [0.9, 0.7, 0.5, 0.4]);
        // At exactly the limit a box is kept (suppression needs IoU > limit).
        let mut c = vec![
            cand(0, 0.9, [0.0, 0.0, 10.0, 10.0]),
            cand(0, 0.8, [5.0, 0.0, 15.0, 10.0]),
        ];
        nms(&mut c, 1.0 / 3.0 + 1e-6, &mut kept);
        assert_eq!(kept.len(), 2);
        nms(&mut [], 0.45, &mut kept);
        assert!(kept.is_empty());
    }

    #[test]
    fn yolov8_decodes_hand_computed_rows() {
        // 3 classes, 4 anchors.
        let out = yolov8_output(
            &[
                ([50.0, 50.0, 20.0, 40.0], &[0.1, 0.8, 0.2]), // class 1 at 0.8
                ([10.0, 10.0, 4.0, 4.0], &[0.29, 0.0, 0.0]),  // below 0.3
                ([80.0, 20.0, 10.0, 10.0], &[0.3, 0.3, 0.0]), // tie: first class, at threshold
                ([51.0, 50.0, 20.0, 40.0], &[0.0, 0.7, 0.0]), // suppressed by the first
            ],
            3,
        );
        let mut d = Decoder::new(
            PostConfig::all(3, 0.3, 0.45),
            OutputFormat::Yolov8,
            100,
            100,
            &[],
        );
        let mut dets = Vec::new();
        d.run(&out, [7, 4], &lb100(), &mut dets).unwrap();
        assert_eq!(dets.len(), 2);
        assert_eq!((dets[0].class_id, dets[0].score), (1, 0.8));
        assert!(close(&dets[0].bbox, &[0.4, 0.3, 0.6, 0.7]), "{:?}", dets[0]);
        assert_eq!((dets[1].class_id, dets[1].score), (0, 0.3));
        assert!(
            close(&dets[1].bbox, &[0.75, 0.15, 0.85, 0.25]),
            "{:?}",
            dets[1]
        );
    }

    #[test]
    fn class_filter_and_per_class_thresholds() {
        let out = yolov8_output(
            &[
                ([50.0, 50.0, 20.0, 20.0], &[0.9, 0.5, 0.0]),
                ([20.0, 20.0, 10.0, 10.0], &[0.0, 0.5, 0.0]),
                ([80.0, 80.0, 10.0, 10.0], &[0.0, 0.0, 0.95]),
            ],
            3,
        );
        // Class 0 disabled: the first anchor becomes class 1 at 0.5; class 1 needs 0.5; class 2 0.99.
        let cfg = PostConfig {
            thresholds: vec![f32::INFINITY, 0.5, 0.99],
            nms_iou: 0.45,
        };
        let mut d = Decoder::new(cfg, OutputFormat::Yolov8, 100, 100, &[]);
        let mut dets = Vec::new();
        d.run(&out, [7, 3], &lb100(), &mut dets).unwrap();
        let got: Vec<(u16, f32)> = dets.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(got, [(1, 0.5), (1, 0.5)]);
    }

    #[test]
    fn yolox_grid_decoding_by_hand() {
        // Input 64x32, strides 16 and 32: grids 4x2 (8 rows) then 2x1 (2 rows); 2 classes.
        let (w, h, strides) = (64, 32, [16u32, 32]);
        assert_eq!(yolox_rows(w, h, &strides), 10);
        let mut out = vec![0.0f32; 10 * 7];
        // Row 5 = stride 16, gy 1, gx 1: centre ((0.5+1)*16, (0.25+1)*16) = (24, 20),
        // size (e^0*16, e^ln2*16) = (16, 32); score 0.8 * 0.5 = 0.4 for class 1.
        out[5 * 7..6 * 7].copy_from_slice(&[0.5, 0.25, 0.0, 2f32.ln(), 0.8, 0.1, 0.5]);
        // Row 9 = stride 32, gy 0, gx 1: centre (32 + 16, 0) = (48, 0), size 32x32: class 0 at
        // 0.9 * 0.9 = 0.81, touching the top border (clamped to 0).
        out[9 * 7..10 * 7].copy_from_slice(&[0.5, 0.0, 0.0, 0.0, 0.9, 0.9, 0.2]);
        // Row 0: objectness 0.25 < 0.3, skipped however high the class score.
        out[..7].copy_from_slice(&[0.0, 0.0, 0.0, 0.0, 0.25, 1.0, 1.0]);
        let mut d = Decoder::new(
            PostConfig::all(2, 0.3, 0.45),
            OutputFormat::Yolox,
            w,
            h,
            &strides,
        );
        let lb = Letterbox::new(64, 32, w, h, Placement::TopLeft);
        let mut dets = Vec::new();
        d.run(&out, [10, 7], &lb, &mut dets).unwrap();
        assert_eq!(dets.len(), 2);
        assert_eq!(dets[0].class_id, 0);
        assert!((dets[0].score - 0.81).abs() < 1e-6);
        assert!(close(&dets[0].bbox, &[0.5, 0.0, 1.0, 0.5]), "{:?}", dets[0]);
        assert_eq!(dets[1].class_id, 1);
        assert!((dets[1].score - 0.4).abs() < 1e-6);
        assert!(close(
            &dets[1].bbox,
            &[16.0 / 64.0, 4.0 / 32.0, 32.0 / 64.0, 1.0]
        ));
    }

    #[test]
    fn maps_back_through_the_letterbox_and_clamps_at_the_border() {
        // A 200x100 frame centred in 100x100: scale 0.5, image 100x50 at y 25..75.
        let lb = Letterbox::new(200, 100, 100, 100, Placement::Center);
        let out = yolov8_output(
            &[
                ([50.0, 50.0, 20.0, 10.0], &[0.9]),  // inside
                ([5.0, 30.0, 20.0, 20.0], &[0.8]),   // over the left and top edges
                ([95.0, 74.0, 20.0, 10.0], &[0.7]),  // over the right and bottom edges
                ([50.0, 10.0, 10.0, 10.0], &[0.95]), // wholly in the padding: dropped
            ],
            1,
        );
        let mut d = Decoder::new(
            PostConfig::all(1, 0.3, 0.45),
            OutputFormat::Yolov8,
            100,
            100,
            &[],
        );
        let mut dets = Vec::new();
        d.run(&out, [5, 4], &lb, &mut dets).unwrap();
        let boxes: Vec<[f32; 4]> = dets.iter().map(|d| d.bbox).collect();
        assert_eq!(boxes.len(), 3, "{boxes:?}");
        assert!(close(&boxes[0], &[0.4, 0.4, 0.6, 0.6]), "{boxes:?}");
        assert!(close(&boxes[1], &[0.0, 0.0, 0.15, 0.3]), "{boxes:?}");
        assert!(close(&boxes[2], &[0.85, 0.88, 1.0, 1.0]), "{boxes:?}");
        for b in &boxes {
            assert!(b.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn empty_and_all_below_threshold() {
        let mut d = Decoder::new(
            PostConfig::all(2, 0.3, 0.45),
            OutputFormat::Yolov8,
            100,
            100,
            &[],
        );
        let mut dets = vec![Detection {
            class_id: 0,
            score: 1.0,
            bbox: [0.0; 4],
        }];
        d.run(&[], [6, 0], &lb100(), &mut dets).unwrap();
        assert!(dets.is_empty(), "stale detections must be cleared");
        let low = yolov8_output(&[([50.0, 50.0, 10.0, 10.0], &[0.29, 0.1][..]); 5], 2);
        d.run(&low, [6, 5], &lb100(), &mut dets).unwrap();
        assert!(dets.is_empty());
        let nan = yolov8_output(&[([50.0, 50.0, 10.0, 10.0], &[f32::NAN, f32::NAN])], 2);
        d.run(&nan, [6, 1], &lb100(), &mut dets).unwrap();
        assert!(dets.is_empty());
    }

    #[test]
    fn rejects_a_shape_that_does_not_fit() {
        let mut d = Decoder::new(
            PostConfig::all(80, 0.3, 0.45),
            OutputFormat::Yolox,
            416,
            416,
            &[8, 16, 32],
        );
        let mut dets = Vec::new();
        let out = vec![0.0; 3549 * 84];
        let e = d.run(&out, [3549, 84], &lb100(), &mut dets).unwrap_err();
        assert!(e.to_string().contains("want [3549, 85]"), "{e}");
        assert!(d.run(&out, [3549, 85], &lb100(), &mut dets).is_err());
    }
}
