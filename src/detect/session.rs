//! The ONNX Runtime session and the [`Detector`] built on it: load a model from its manifest,
//! check its input and output against the manifest, and run frames through pre-processing,
//! inference and post-processing. This is the only file that imports `ort`. A `Detector` is used
//! by one thread at a time (`Session::run` takes `&mut self`); it must never be shared behind a
//! lock on a hot path nor run on a tokio worker.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use crate::detect::Detection;
use crate::detect::config::DetectorConfig;
use crate::detect::manifest::Manifest;
use crate::detect::post::Decoder;
use crate::detect::prep::Letterboxer;
use crate::error::Result;
use crate::frame::Frame;
use crate::{bail, err};

/// The process-wide ONNX Runtime environment, created on first success. ONNX Runtime is loaded
/// once per process: the first library that loads is used for every later detector. A failure is
/// not remembered, so a corrected path can be tried again.
static ENV: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);

fn environment(lib: &Path) -> Result<ort::environment::Environment> {
    let mut env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    if !lib.is_file() {
        bail!(
            FailedPrecondition,
            "ONNX Runtime library not found at {}: run scripts/setup (or set ORT_DYLIB_PATH or detect.ort_lib)",
            lib.display()
        );
    }
    let abs = std::fs::canonicalize(lib).unwrap_or_else(|_| lib.to_path_buf());
    let builder = ort::init_from(&abs).map_err(|e| {
        err!(
            FailedPrecondition,
            "loading ONNX Runtime from {}: {e}",
            abs.display()
        )
    })?;
    let created = builder.with_name("vigil").build().map_err(|e| {
        err!(
            FailedPrecondition,
            "creating the ONNX Runtime environment: {e}"
        )
    })?;
    *env = Some(created.clone());
    Ok(created)
}

/// Builds the session; `ort` builder errors are not `Send`, so they stay inside this function.
fn build_session(
    env: &ort::environment::Environment,
    model: &Path,
    threads: usize,
) -> ort::Result<Session> {
    let mut b = Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(threads)?;
    if threads > 1 {
        b = b.with_config_entry("session.intra_op.allow_spinning", "0")?;
    }
    b.commit_from_file(model)
}

/// Time spent in each stage of the last [`Detector::detect`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Letterboxing into the input tensor.
    pub prep: Duration,
    /// ONNX Runtime's `run`.
    pub infer: Duration,
    /// Decoding, thresholds, NMS and mapping back.
    pub post: Duration,
}

impl StageTimes {
    pub fn total(&self) -> Duration {
        self.prep + self.infer + self.post
    }
}

/// A loaded model with its pre- and post-processing and reused buffers.
pub struct Detector {
    session: Session,
    manifest: Manifest,
    prep: Letterboxer,
    post: Decoder,
    out_dims: [usize; 2],
    dets: Vec<Detection>,
    last: StageTimes,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("model", &self.manifest.name)
            .finish()
    }
}

impl Detector {
    /// Loads `config.model` (a model name or manifest path, see [`Manifest::find`]) with the
    /// config's classes, thresholds and threads. Blocking: reads and hashes the weights.
    pub fn load(config: &DetectorConfig) -> Result<Detector> {
        Detector::from_manifest(Manifest::find(&config.model)?, config)
    }

    /// Loads the model `manifest` describes (`config.model` is not used). Checks the weights'
    /// sha256 and the model's input and output against the manifest.
    pub fn from_manifest(manifest: Manifest, config: &DetectorConfig) -> Result<Detector> {
        let post_config = config.post_config(&manifest.labels, &manifest.name)?;
        manifest.verify_model_file()?;
        let env = environment(&config.ort_lib_path())?;
        let session =
            build_session(&env, &manifest.model_file, config.intra_threads).map_err(|e| {
                err!(
                    InvalidArgument,
                    "model {}: ONNX Runtime cannot load {}: {e}",
                    manifest.name,
                    manifest.model_file.display()
                )
            })?;
        let i = &manifest.input;
        let prep = Letterboxer::new(i);
        let post = Decoder::new(
            post_config,
            manifest.output.format,
            i.width,
            i.height,
            &manifest.output.strides,
        );
        let out_dims = check_io(&session, &manifest, &post)?;
        // The licence is said wherever a model is selected (YOLOv12n's weights are AGPL-3.0).
        tracing::info!(
            model = %manifest.name,
            file = %manifest.model_file.display(),
            license = %manifest.license,
            intra_threads = config.intra_threads,
            "detector loaded"
        );
        Ok(Detector {
            session,
            manifest,
            prep,
            post,
            out_dims,
            dets: Vec::new(),
            last: StageTimes::default(),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Class labels; a [`Detection::class_id`] indexes this.
    pub fn labels(&self) -> &[String] {
        &self.manifest.labels
    }

    /// Stage timings of the last successful detection.
    pub fn last_times(&self) -> StageTimes {
        self.last
    }

    /// Detects objects in an RGB24 `frame`. The slice lives until the next call.
    pub fn detect(&mut self, frame: &Frame) -> Result<&[Detection]> {
        self.detect_rgb(frame.rgb(), frame.width, frame.height, frame.stride)
    }

    /// Detects objects in an RGB24 image of `width` x `height` with `stride` bytes a row. The
    /// slice lives until the next call.
    pub fn detect_rgb(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
        stride: usize,
    ) -> Result<&[Detection]> {
        let t0 = Instant::now();
        let lb = self.prep.run(rgb, width, height, stride)?;
        let t1 = Instant::now();
        let (w, h) = (
            self.manifest.input.width as usize,
            self.manifest.input.height as usize,
        );
        let name = &self.manifest.name;
        let input = TensorRef::from_array_view(([1usize, 3, h, w], self.prep.input()))
            .map_err(|e| err!(Internal, "model {name}: input tensor: {e}"))?;
        let outputs = self
            .session
            .run(ort::inputs![self.manifest.input.name.as_str() => input])
            .map_err(|e| err!(Internal, "model {name}: inference failed: {e}"))?;
        let t2 = Instant::now();
        let out_name = self.manifest.output.name.as_str();
        let Some(value) = outputs.get(out_name) else {
            bail!(Internal, "model {name}: no output named {out_name:?}");
        };
        let (shape, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| err!(Internal, "model {name}: output {out_name:?}: {e}"))?;
        let dims = [
            shape[0],
            shape.get(1).copied().unwrap_or(-1),
            shape.get(2).copied().unwrap_or(-1),
        ];
        if shape.len() != 3 || dims[0] != 1 || [dims[1] as usize, dims[2] as usize] != self.out_dims
        {
            bail!(
                Internal,
                "model {name}: output shape {:?}, want [1, {}, {}]",
                &shape[..],
                self.out_dims[0],
                self.out_dims[1]
            );
        }
        self.post.run(data, self.out_dims, &lb, &mut self.dets)?;
        let t3 = Instant::now();
        self.last = StageTimes {
            prep: t1 - t0,
            infer: t2 - t1,
            post: t3 - t2,
        };
        Ok(&self.dets)
    }
}

/// Checks the session's input and output names and shapes against the manifest; returns the
/// output shape without the batch dimension.
fn check_io(session: &Session, m: &Manifest, post: &Decoder) -> Result<[usize; 2]> {
    let origin = m.path.display();
    let want_in = [1, 3, m.input.height as i64, m.input.width as i64];
    let fits = |got: &[i64], want: &[i64]| {
        got.len() == want.len() && got.iter().zip(want).all(|(&g, &w)| g < 0 || g == w)
    };
    let Some(input) = session.inputs().iter().find(|o| o.name() == m.input.name) else {
        let names: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        bail!(
            InvalidArgument,
            "model manifest {origin}: input.name: {:?} is not an input of {} (it has {names:?})",
            m.input.name,
            m.model_file.display()
        );
    };
    let got: Vec<i64> = input
        .dtype()
        .tensor_shape()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    if !fits(&got, &want_in) {
        bail!(
            InvalidArgument,
            "model manifest {origin}: input: the model takes {got:?}, the manifest says {want_in:?}"
        );
    }
    let Some(output) = session.outputs().iter().find(|o| o.name() == m.output.name) else {
        let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        bail!(
            InvalidArgument,
            "model manifest {origin}: output.name: {:?} is not an output of {} (it has {names:?})",
            m.output.name,
            m.model_file.display()
        );
    };
    let got: Vec<i64> = output
        .dtype()
        .tensor_shape()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let anchors = got.get(2).copied().unwrap_or(-1);
    let [a, b] = post.expected_dims(anchors.max(0) as usize);
    let want = [1, a as i64, b as i64];
    if !fits(&got, &want) || want[2] <= 0 {
        bail!(
            InvalidArgument,
            "model manifest {origin}: output: the model gives {got:?}, but format {:?} with {} labels needs {want:?}",
            m.output.format,
            m.labels.len()
        );
    }
    Ok([a, b])
}
