//! Detector settings (the `[detect]` section of the service configuration): which model, which
//! ONNX Runtime library, how many threads and sessions, and which classes are reported from what
//! score. This module owns the defaults and their validation, including resolving class names
//! against a model's labels. It must never load a model or touch ONNX Runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::detect::post::PostConfig;
use crate::error::Result;
use crate::{bail, err};

/// Library path used when neither the config nor `ORT_DYLIB_PATH` names one.
pub const DEFAULT_ORT_LIB: &str = ".deps/onnxruntime/libonnxruntime.so.1.32.0";

/// The model used when the configuration names none.
pub const DEFAULT_MODEL: &str = "yolov12n";

/// Classes reported by default: the road users the incident rules care about.
pub const DEFAULT_CLASSES: [&str; 6] = ["person", "bicycle", "car", "motorcycle", "bus", "truck"];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// A model name (`yolov12n`, looked up as `<name>.toml` in the models folders, see
    /// `manifest::locate`) or the path of a manifest file. Default [`DEFAULT_MODEL`].
    pub model: String,
    /// ONNX Runtime shared library. Default: env `ORT_DYLIB_PATH`, else [`DEFAULT_ORT_LIB`].
    pub ort_lib: Option<PathBuf>,
    /// Intra-op threads of each session, 1..=64. Default 1 (spinning is turned off above 1).
    pub intra_threads: usize,
    /// Detector threads of the scheduler, each with its own session, 1..=64. Default 1.
    pub workers: usize,
    /// Results buffered per camera for its consumer, 1..=1024. Default 4.
    pub result_capacity: usize,
    /// Minimum score (inclusive) of a reported box, 0..=1. Default 0.3.
    pub score_threshold: f32,
    /// Per-class overrides of `score_threshold`, by label, e.g. `{ bicycle = 0.4 }`. Each class
    /// must be reported (be in `classes`). Default none.
    pub class_thresholds: BTreeMap<String, f32>,
    /// Labels to report; empty means every class of the model. Default [`DEFAULT_CLASSES`].
    pub classes: Vec<String>,
    /// Per-class NMS: of two boxes of one class overlapping with IoU above this, only the
    /// higher-scoring one is kept; 0..=1. Default 0.45.
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            model: DEFAULT_MODEL.into(),
            ort_lib: None,
            intra_threads: 1,
            workers: 1,
            result_capacity: 4,
            score_threshold: 0.3,
            class_thresholds: BTreeMap::new(),
            classes: DEFAULT_CLASSES.iter().map(|s| s.to_string()).collect(),
            nms_iou: 0.45,
        }
    }
}

impl DetectorConfig {
    /// The defaults for `model` (a name or manifest path).
    pub fn for_model(model: &str) -> DetectorConfig {
        DetectorConfig {
            model: model.into(),
            ..DetectorConfig::default()
        }
    }

    /// The library to load: this config, else `ORT_DYLIB_PATH`, else the default.
    pub fn ort_lib_path(&self) -> PathBuf {
        self.ort_lib
            .clone()
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ORT_LIB))
    }

    /// Checks everything that does not depend on the model, naming the offending field.
    pub fn validate(&self) -> Result<()> {
        if self.model.trim().is_empty() {
            bail!(InvalidArgument, "detect.model: must not be empty");
        }
        let count = |field: &str, v: usize, max: usize| -> Result<()> {
            if !(1..=max).contains(&v) {
                bail!(InvalidArgument, "{field}: {v} is outside 1..={max}");
            }
            Ok(())
        };
        count("detect.intra_threads", self.intra_threads, 64)?;
        count("detect.workers", self.workers, 64)?;
        count("detect.result_capacity", self.result_capacity, 1024)?;
        unit("detect.score_threshold", self.score_threshold)?;
        unit("detect.nms_iou", self.nms_iou)?;
        for (name, &t) in &self.class_thresholds {
            unit(&format!("detect.class_thresholds.{name}"), t)?;
        }
        Ok(())
    }

    /// Validates and resolves class names against `labels` (the model's, index = class id):
    /// the per-class thresholds the post-processing applies.
    pub fn post_config(&self, labels: &[String], model: &str) -> Result<PostConfig> {
        self.validate()?;
        let find = |field: &str, name: &str| -> Result<usize> {
            labels.iter().position(|l| l == name).ok_or_else(|| {
                err!(
                    InvalidArgument,
                    "{field}: unknown class {name:?} for model {model}"
                )
            })
        };
        let mut thresholds = vec![f32::INFINITY; labels.len()];
        if self.classes.is_empty() {
            thresholds.fill(self.score_threshold);
        }
        for (i, name) in self.classes.iter().enumerate() {
            let c = find(&format!("detect.classes[{i}]"), name)?;
            thresholds[c] = self.score_threshold;
        }
        for (name, &t) in &self.class_thresholds {
            let field = format!("detect.class_thresholds.{name}");
            let c = find(&field, name)?;
            if !thresholds[c].is_finite() {
                bail!(
                    InvalidArgument,
                    "{field}: class {name:?} is not reported (add it to detect.classes)"
                );
            }
            thresholds[c] = t;
        }
        Ok(PostConfig {
            thresholds,
            nms_iou: self.nms_iou,
        })
    }
}

fn unit(field: &str, v: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&v) {
        bail!(InvalidArgument, "{field}: {v} is outside 0..=1");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::spec::COCO_CLASSES;

    fn coco() -> Vec<String> {
        COCO_CLASSES.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_report_road_users_at_0_3() {
        let p = DetectorConfig::default().post_config(&coco(), "m").unwrap();
        let on: Vec<(usize, f32)> = p
            .thresholds
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_finite())
            .map(|(c, &t)| (c, t))
            .collect();
        // person, bicycle, car, motorcycle, bus (5), truck (7)
        assert_eq!(
            on,
            [(0, 0.3), (1, 0.3), (2, 0.3), (3, 0.3), (5, 0.3), (7, 0.3)]
        );
        assert_eq!(p.nms_iou, 0.45);
    }

    #[test]
    fn per_class_thresholds_and_all_classes() {
        let toml = r#"
            classes = []
            score_threshold = 0.25
            class_thresholds = { bicycle = 0.5 }
        "#;
        let c: DetectorConfig = toml::from_str(toml).unwrap();
        let p = c.post_config(&coco(), "m").unwrap();
        assert!(p.thresholds.iter().all(|t| t.is_finite()));
        assert_eq!((p.thresholds[0], p.thresholds[1]), (0.25, 0.5));
    }

    #[test]
    fn errors_name_the_field() {
        let cases: [(&str, &str); 7] = [
            (
                "classes = [\"car\", \"dragon\"]",
                "detect.classes[1]: unknown class \"dragon\"",
            ),
            ("score_threshold = 1.5", "detect.score_threshold: 1.5"),
            ("nms_iou = -0.1", "detect.nms_iou"),
            ("intra_threads = 0", "detect.intra_threads: 0"),
            ("workers = 65", "detect.workers: 65"),
            (
                "class_thresholds = { kite = 0.5 }",
                "detect.class_thresholds.kite: class \"kite\" is not reported",
            ),
            (
                "class_thresholds = { car = 2.0 }",
                "detect.class_thresholds.car: 2",
            ),
        ];
        for (toml, want) in cases {
            let c: DetectorConfig = toml::from_str(toml).unwrap();
            let e = c.post_config(&coco(), "m").unwrap_err();
            assert!(e.to_string().contains(want), "{toml}: {e}");
        }
        assert!(toml::from_str::<DetectorConfig>("treshold = 0.3").is_err());
    }
}
