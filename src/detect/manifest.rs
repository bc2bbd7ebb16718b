//! Model manifests: the `models/<name>.toml` file that says how to feed a detector model and how
//! to read its output (see `models/README.md`). This module owns parsing and validating that
//! file, finding a manifest by model name, locating the weights it names and checking their
//! sha256. It must never touch ONNX Runtime or decide anything at inference time.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::rules::spec::COCO_CLASSES;
use crate::{bail, err};

/// Environment variable naming a folder of model weights (and manifests), as in `scripts/setup`.
pub const MODELS_DIR_ENV: &str = "VIGIL_MODELS_DIR";

/// Channel order the model expects in its NCHW input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// Multiplier applied to 0..255 pixel values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum PixelScale {
    /// Values 0..1 (`scale = "1/255"`).
    #[serde(rename = "1/255")]
    Unit,
    /// Values 0..255 (`scale = "1"`).
    #[serde(rename = "1")]
    Raw,
}

impl PixelScale {
    pub fn factor(self) -> f32 {
        match self {
            PixelScale::Unit => 1.0 / 255.0,
            PixelScale::Raw => 1.0,
        }
    }
}

/// Where the resized image sits inside the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Centred; of an odd padding, the left/top side gets the smaller half.
    Center,
    /// In the top-left corner, padding on the right and bottom only.
    TopLeft,
}

/// Layout of the model's output tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `[1, 4+C, N]`: rows `cx, cy, w, h` in input pixels, then C class scores (YOLOv8/11/12).
    Yolov8,
    /// `[1, N, 5+C]`: raw YOLOX head, grid-decoded over `strides`; score = objectness * class.
    Yolox,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Name of the input tensor, e.g. `images`.
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// `rgb` or `bgr`.
    pub channels: ChannelOrder,
    /// `"1/255"` (values 0..1) or `"1"` (values 0..255).
    pub scale: PixelScale,
    /// `center` or `top_left`.
    pub letterbox: Placement,
    /// Padding value in 0..255 units, before scaling (114 for the YOLO family).
    pub pad: u8,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Name of the output tensor, e.g. `output0`.
    pub name: String,
    /// `yolov8` or `yolox`.
    pub format: OutputFormat,
    /// Grid strides of a `yolox` head, in row order. Default `[8, 16, 32]`; not allowed for
    /// `yolov8`.
    #[serde(default)]
    pub strides: Vec<u32>,
}

/// The file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    file: PathBuf,
    sha256: String,
    labels: String,
    source: String,
    license: String,
    install: String,
    input: InputSpec,
    output: OutputSpec,
}

/// A validated manifest with its paths resolved.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Short model name, e.g. `yolov12n`.
    pub name: String,
    /// The manifest file itself (for error messages).
    pub path: PathBuf,
    /// The ONNX file: beside the manifest, else in `VIGIL_MODELS_DIR`; when in neither, the
    /// path beside the manifest (and [`Manifest::verify_model_file`] fails).
    pub model_file: PathBuf,
    /// Expected sha256 of the ONNX file (lower-case hex).
    pub sha256: String,
    /// Class labels; the index is the class id.
    pub labels: Vec<String>,
    /// Where the weights come from.
    pub source: String,
    /// Licence of the weights.
    pub license: String,
    /// How to obtain the weights when they are missing (shown in errors).
    pub install: String,
    pub input: InputSpec,
    pub output: OutputSpec,
    /// Where the ONNX file was looked for, in order (for error messages).
    searched: Vec<PathBuf>,
}

/// Finds a model's manifest. `spec` is either a manifest path (it ends in `.toml` or contains a
/// `/`) or a model name, looked up as `<name>.toml` in `VIGIL_MODELS_DIR`, then `./models`, then
/// the source tree's `models/` (where `cargo run` and the tests find the committed manifests).
pub fn locate(spec: &str) -> Result<PathBuf> {
    let env_dir = std::env::var_os(MODELS_DIR_ENV).map(PathBuf::from);
    locate_in(spec, env_dir.as_deref())
}

/// [`locate`] with the `VIGIL_MODELS_DIR` value given.
pub fn locate_in(spec: &str, env_dir: Option<&Path>) -> Result<PathBuf> {
    if spec.ends_with(".toml") || spec.contains('/') {
        let p = PathBuf::from(spec);
        if !p.is_file() {
            bail!(NotFound, "model manifest {spec}: no such file");
        }
        return Ok(p);
    }
    let valid = !spec.is_empty()
        && spec
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid || spec.starts_with('.') {
        bail!(
            InvalidArgument,
            "model {spec:?}: not a model name (letters, digits, '.', '_', '-') nor a manifest path"
        );
    }
    let mut dirs: Vec<PathBuf> = env_dir.map(Path::to_path_buf).into_iter().collect();
    dirs.push(PathBuf::from("models"));
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    let file = format!("{spec}.toml");
    if let Some(p) = dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()) {
        return Ok(p);
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        NotFound,
        "model {spec}: no manifest {file} in {} (give a manifest path, or set {MODELS_DIR_ENV})",
        looked.join(", ")
    )
}

impl Manifest {
    /// Finds (see [`locate`]) and loads the manifest of `spec`, a model name or manifest path.
    pub fn find(spec: &str) -> Result<Manifest> {
        Manifest::load(&locate(spec)?)
    }

    /// Reads and validates `path`. Does not read the model file (see
    /// [`Manifest::verify_model_file`]).
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            err!(
                InvalidArgument,
                "model manifest {}: cannot read: {e}",
                path.display()
            )
        })?;
        let env_dir = std::env::var_os(MODELS_DIR_ENV).map(PathBuf::from);
        Manifest::parse(&text, path, env_dir.as_deref())
    }

    /// Parses manifest text; `path` names the file in errors and anchors relative paths;
    /// `models_dir` is the fallback folder of the model file (`VIGIL_MODELS_DIR`).
    pub fn parse(text: &str, path: &Path, models_dir: Option<&Path>) -> Result<Manifest> {
        let origin = path.display();
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            err!(
                InvalidArgument,
                "model manifest {origin}: {}",
                e.to_string().trim_end()
            )
        })?;
        if raw.name.trim().is_empty() {
            bail!(
                InvalidArgument,
                "model manifest {origin}: name: must not be empty"
            );
        }
        let sha_ok = raw.sha256.len() == 64
            && raw
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !sha_ok {
            bail!(
                InvalidArgument,
                "model manifest {origin}: sha256: {:?} is not 64 lower-case hex digits",
                raw.sha256
            );
        }
        let (w, h) = (raw.input.width, raw.input.height);
        if !(32..=4096).contains(&w) || !(32..=4096).contains(&h) {
            bail!(
                InvalidArgument,
                "model manifest {origin}: input.width/height: {w}x{h} is outside 32..=4096"
            );
        }
        let mut output = raw.output;
        match output.format {
            OutputFormat::Yolov8 if !output.strides.is_empty() => bail!(
                InvalidArgument,
                "model manifest {origin}: output.strides: only for format = \"yolox\""
            ),
            OutputFormat::Yolov8 => {}
            OutputFormat::Yolox => {
                if output.strides.is_empty() {
                    output.strides = vec![8, 16, 32];
                }
                if let Some(s) = output
                    .strides
                    .iter()
                    .find(|&&s| s == 0 || w % s != 0 || h % s != 0)
                {
                    bail!(
                        InvalidArgument,
                        "model manifest {origin}: output.strides: input {w}x{h} is not a multiple of stride {s}"
                    );
                }
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let labels = load_labels(&raw.labels, dir)
            .map_err(|why| err!(InvalidArgument, "model manifest {origin}: labels: {why}"))?;
        let mut searched = vec![dir.join(&raw.file)];
        if raw.file.is_relative()
            && let Some(d) = models_dir
        {
            searched.push(d.join(&raw.file));
        }
        let model_file = searched
            .iter()
            .find(|p| p.is_file())
            .unwrap_or(&searched[0])
            .clone();
        Ok(Manifest {
            name: raw.name,
            path: path.to_path_buf(),
            model_file,
            sha256: raw.sha256,
            labels,
            source: raw.source,
            license: raw.license,
            install: raw.install,
            input: raw.input,
            output,
            searched,
        })
    }

    /// Checks that the model file exists and has the manifest's sha256; errors say how to get
    /// the right file.
    pub fn verify_model_file(&self) -> Result<()> {
        let f = &self.model_file;
        if !f.is_file() {
            let looked: Vec<String> = self
                .searched
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            bail!(
                FailedPrecondition,
                "model {}: weights not found (looked for {}): {}",
                self.name,
                looked.join(" and "),
                self.install
            );
        }
        let got = sha256_file(f).map_err(|e| {
            err!(
                FailedPrecondition,
                "model {}: cannot read {}: {e}",
                self.name,
                f.display()
            )
        })?;
        if got != self.sha256 {
            bail!(
                FailedPrecondition,
                "model {}: {} has sha256 {got}, but {} expects {}: the file is damaged or a different model. {} (or, to use this file on purpose, put its sha256 in the manifest)",
                self.name,
                f.display(),
                self.path.display(),
                self.sha256,
                self.install
            );
        }
        Ok(())
    }
}

/// The lower-case hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `"coco"` is the built-in COCO list; anything else is a file (relative to the manifest's
/// directory) with one label a line.
fn load_labels(spec: &str, dir: &Path) -> std::result::Result<Vec<String>, String> {
    if spec == "coco" {
        return Ok(COCO_CLASSES.iter().map(|s| s.to_string()).collect());
    }
    let p = dir.join(spec);
    let text =
        std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let labels: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if labels.is_empty() || labels.len() > u16::MAX as usize {
        return Err(format!("{} has {} labels", p.display(), labels.len()));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "m"
file = "m.onnx"
sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
labels = "coco"
source = "test"
license = "test"
install = "make one"
[input]
name = "images"
width = 640
height = 640
channels = "rgb"
scale = "1/255"
letterbox = "center"
pad = 114
[output]
name = "output0"
format = "yolov8"
"#;

    #[test]
    fn parses_and_resolves_relative_to_the_manifest() {
        let m = Manifest::parse(GOOD, Path::new("/x/models/m.toml"), None).unwrap();
        assert_eq!(m.model_file, PathBuf::from("/x/models/m.onnx"));
        assert_eq!(m.labels.len(), 80);
        assert_eq!(m.input.scale.factor(), 1.0 / 255.0);
        assert_eq!(m.input.letterbox, Placement::Center);
        let e = m.verify_model_file().unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::FailedPrecondition);
        let e = e.to_string();
        assert!(
            e.contains("/x/models/m.onnx") && e.contains("make one"),
            "{e}"
        );
    }

    #[test]
    fn yolox_strides_default_and_check() {
        let y = GOOD.replace("\"yolov8\"", "\"yolox\"");
        let m = Manifest::parse(&y, Path::new("m.toml"), None).unwrap();
        assert_eq!(m.output.strides, [8, 16, 32]);
        let odd = y.replace("width = 640", "width = 400");
        let e = Manifest::parse(&odd, Path::new("m.toml"), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("400x640 is not a multiple of stride 32"),
            "{e}"
        );
    }

    #[test]
    fn model_file_falls_back_to_models_dir_and_sha_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("m.onnx");
        std::fs::write(&weights, "foo").unwrap(); // sha256("foo") is the one in GOOD
        let m = Manifest::parse(GOOD, Path::new("/nowhere/m.toml"), Some(dir.path())).unwrap();
        assert_eq!(m.model_file, weights);
        m.verify_model_file().unwrap();
        std::fs::write(&weights, "bar").unwrap();
        let e = m.verify_model_file().unwrap_err().to_string();
        assert!(
            e.contains("has sha256 fcde2b2e") && e.contains("make one"),
            "{e}"
        );
    }

    #[test]
    fn locate_by_name_or_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tiny.toml");
        std::fs::write(&p, GOOD).unwrap();
        assert_eq!(locate_in("tiny", Some(dir.path())).unwrap(), p);
        assert_eq!(locate_in(p.to_str().unwrap(), None).unwrap(), p);
        // The committed manifests are found from the source tree.
        assert!(
            locate_in("yolov12n", None)
                .unwrap()
                .ends_with("models/yolov12n.toml")
        );
        let e = locate_in("nosuch", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nosuch.toml") && e.contains("VIGIL_MODELS_DIR"),
            "{e}"
        );
        assert!(locate_in("../etc", None).is_err());
        assert!(locate_in("/no/such.toml", None).is_err());
    }

    #[test]
    fn committed_manifests_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        for (name, w, format) in [
            ("yolov12n", 640, OutputFormat::Yolov8),
            ("yolox_nano", 416, OutputFormat::Yolox),
        ] {
            let m = Manifest::load(&dir.join(format!("{name}.toml"))).unwrap();
            assert_eq!(
                (m.name.as_str(), m.input.width, m.output.format),
                (name, w, format)
            );
            assert_eq!(m.labels.len(), 80);
        }
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let cases = [
            (GOOD.replace("pad = 114", "pad = 114\nmean = 1"), "mean"),
            (GOOD.replace("\"rgb\"", "\"rgba\""), "rgba"),
            (GOOD.replace("\"1/255\"", "\"2\""), "scale"),
            (GOOD.replace("sha256 = \"2c", "sha256 = \"2C"), "sha256"),
            (GOOD.replace("width = 640", "width = 8"), "input.width"),
            (GOOD.replace("\"coco\"", "\"nope.txt\""), "labels"),
            (GOOD.replace("install = \"make one\"", ""), "install"),
            (
                GOOD.replace("format = \"yolov8\"", "format = \"yolov8\"\nstrides = [8]"),
                "output.strides",
            ),
        ];
        for (text, want) in cases {
            let e = Manifest::parse(&text, Path::new("/x/m.toml"), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("/x/m.toml") && e.contains(want), "{want}: {e}");
        }
    }
}
