//! Parity of the Rust detector with ONNX Runtime's own Python API, for both bundled models on the
//! two shared CCTV stills: same number of boxes, each matched to a reference box of its class
//! with IoU >= 0.99 and a score within 1e-3.
//!
//! The reference numbers below were printed by `scripts/reference_detections.py` (onnxruntime
//! 1.32.0 via Python, the same letterbox, decoding, score >= 0.3 over all 80 classes and
//! per-class NMS at 0.45); this test never runs Python.
//!
//! Both sides start from the same RGB pixels. Pillow (libjpeg-turbo) and the `image` crate
//! (zune-jpeg) decode these JPEGs to slightly different pixels, so the script does not decode
//! them: it reads the pixels this test decoded, dumped as raw RGB24 files when `VIGIL_DUMP_RGB`
//! names a folder, and prints their digest (FNV-1a 64), which this test checks first. To
//! regenerate the numbers:
//!
//! ```text
//! mkdir -p /tmp/vigil-rgb
//! VIGIL_DUMP_RGB=/tmp/vigil-rgb cargo test --test detect_parity
//! /root/ref-venv/bin/python scripts/reference_detections.py --rgb-dir /tmp/vigil-rgb \
//!     --shared ../shared --yolov12n models/yolov12n.onnx
//! ```
//!
//! Boxes are normalised `[x1, y1, x2, y2]` of the frame.

mod common;

use std::path::{Path, PathBuf};

use vigil::detect::{Detection, Detector, DetectorConfig, Manifest};

/// `(class id, score, box)`.
type Ref = (u16, f32, [f32; 4]);

struct Still {
    file: &'static str,
    width: u32,
    height: u32,
    /// FNV-1a 64 of the RGB24 pixels, as printed by the script.
    rgb_fnv: u64,
}

const STILLS: [Still; 2] = [
    Still {
        file: "still_cctv_busstop_qeng.jpg",
        width: 1664,
        height: 825,
        rgb_fnv: BUSSTOP_FNV,
    },
    Still {
        file: "still_cctv_parking_people_qeng.jpg",
        width: 1326,
        height: 825,
        rgb_fnv: PARKING_FNV,
    },
];

#[test]
fn yolov12n_matches_onnxruntime_python() {
    let onnx = common::default_model_dir().join("yolov12n.onnx");
    if !onnx.is_file() {
        common::skip::<()>(&format!(
            "{} is missing (run scripts/setup)",
            onnx.display()
        ));
        return;
    }
    check_model(
        "yolov12n",
        onnx,
        [
            YOLOV12N_STILL_CCTV_BUSSTOP_QENG,
            YOLOV12N_STILL_CCTV_PARKING_PEOPLE_QENG,
        ],
    );
}

#[test]
fn yolox_nano_matches_onnxruntime_python() {
    let Some(onnx) = common::shared("models/yolox_nano.onnx") else {
        return;
    };
    check_model(
        "yolox_nano",
        onnx,
        [
            YOLOX_NANO_STILL_CCTV_BUSSTOP_QENG,
            YOLOX_NANO_STILL_CCTV_PARKING_PEOPLE_QENG,
        ],
    );
}

fn check_model(name: &str, onnx: PathBuf, refs: [&[Ref]; 2]) {
    let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
    let mut manifest = Manifest::load(&toml).unwrap();
    manifest.model_file = onnx;
    let config = DetectorConfig {
        classes: Vec::new(), // all 80 classes, as the reference
        ..DetectorConfig::for_model(name)
    };
    let mut det = Detector::from_manifest(manifest, &config).unwrap();
    // Decode (and dump, see the header) every still before checking any.
    let mut images = Vec::new();
    for still in &STILLS {
        let Some(path) = common::shared(&format!("media/{}", still.file)) else {
            return;
        };
        let rgb = image::open(&path).unwrap().to_rgb8();
        assert_eq!((rgb.width(), rgb.height()), (still.width, still.height));
        if let Some(dir) = std::env::var_os("VIGIL_DUMP_RGB") {
            let (w, h) = (still.width, still.height);
            let dump = Path::new(&dir).join(format!("{}.{w}x{h}.rgb", still.file));
            std::fs::write(&dump, rgb.as_raw()).unwrap();
        }
        images.push(rgb);
    }
    for ((still, rgb), want) in STILLS.iter().zip(&images).zip(refs) {
        assert_eq!(
            fnv1a64(rgb.as_raw()),
            still.rgb_fnv,
            "{}: the image crate decodes other pixels than the reference was made from (see the header)",
            still.file
        );
        let stride = still.width as usize * 3;
        let got = det
            .detect_rgb(rgb.as_raw(), still.width, still.height, stride)
            .unwrap()
            .to_vec();
        compare(&format!("{name} on {}", still.file), &got, want);
    }
}

/// Matches each reference box to the unmatched detection of its class with the highest IoU.
fn compare(what: &str, got: &[Detection], want: &[Ref]) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: count differs\ngot {got:#?}\nwant {want:#?}"
    );
    let mut used = vec![false; got.len()];
    for (class, score, bbox) in want {
        let best = got
            .iter()
            .enumerate()
            .filter(|(i, g)| !used[*i] && g.class_id == *class)
            .map(|(i, g)| (i, iou(&g.bbox, bbox)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, overlap)) = best else {
            panic!("{what}: no detection of class {class} for reference {bbox:?}\ngot {got:#?}");
        };
        used[i] = true;
        let g = &got[i];
        assert!(
            overlap >= 0.99 && (g.score - score).abs() <= 1e-3,
            "{what}: reference ({class}, {score}, {bbox:?}) best match {g:?} has IoU {overlap}"
        );
    }
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    inter / (area(a) + area(b) - inter)
}

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

// ---- reference numbers: the output of scripts/reference_detections.py, pasted ----

// Generated by scripts/reference_detections.py from the Rust test's decoded pixels, with onnxruntime 1.32.0, numpy 2.4.6.
// still_cctv_busstop_qeng.jpg: 1664x825, RGB FNV-1a 64 0xd9a2505e6075dda9
// still_cctv_parking_people_qeng.jpg: 1326x825, RGB FNV-1a 64 0x45ae25a98311588e
const BUSSTOP_FNV: u64 = 0xd9a2505e6075dda9;
const PARKING_FNV: u64 = 0x45ae25a98311588e;

const YOLOV12N_STILL_CCTV_BUSSTOP_QENG: &[Ref] = &[
    (5, 0.886272, [0.822228, 0.002053, 0.999446, 0.609049]),
    (0, 0.814019, [0.413306, 0.191892, 0.473594, 0.545700]),
    (0, 0.770807, [0.208302, 0.077393, 0.239333, 0.278116]),
    (0, 0.764958, [0.112484, 0.185653, 0.158639, 0.482767]),
    (0, 0.760169, [0.323904, 0.235146, 0.371089, 0.513832]),
    (1, 0.710667, [0.495203, 0.546667, 0.572982, 0.839314]),
    (0, 0.705879, [0.569124, 0.171013, 0.612510, 0.419293]),
    (0, 0.683605, [0.288503, 0.205871, 0.341711, 0.484596]),
    (2, 0.585840, [0.680702, 0.000000, 0.777514, 0.115006]),
    (0, 0.424489, [0.510705, 0.123238, 0.538048, 0.310049]),
    (0, 0.395023, [0.321359, 0.098103, 0.348824, 0.219071]),
    (26, 0.387290, [0.404914, 0.335044, 0.430951, 0.426236]),
];
const YOLOV12N_STILL_CCTV_PARKING_PEOPLE_QENG: &[Ref] = &[
    (2, 0.852043, [0.583538, 0.253899, 0.749232, 0.357130]),
    (0, 0.810575, [0.670339, 0.650296, 0.711337, 0.829848]),
    (2, 0.806208, [0.151672, 0.537451, 0.430581, 0.699166]),
    (0, 0.790925, [0.548178, 0.692153, 0.585702, 0.867781]),
    (0, 0.789027, [0.587037, 0.683737, 0.627374, 0.859294]),
    (2, 0.786093, [0.417807, 0.545813, 0.578565, 0.819146]),
    (2, 0.784956, [0.347600, 0.193822, 0.480028, 0.276815]),
    (0, 0.761220, [0.631960, 0.670411, 0.665860, 0.844403]),
    (2, 0.758479, [0.000222, 0.631503, 0.080059, 0.775865]),
    (0, 0.739738, [0.456851, 0.423662, 0.485289, 0.561002]),
    (0, 0.700891, [0.837402, 0.689833, 0.870207, 0.868534]),
    (0, 0.669362, [0.573656, 0.471773, 0.600062, 0.613375]),
    (2, 0.668499, [0.661691, 0.363703, 0.758589, 0.505660]),
    (0, 0.644388, [0.513383, 0.315716, 0.539100, 0.437583]),
    (2, 0.631295, [0.632070, 0.443742, 0.742669, 0.643321]),
    (0, 0.605171, [0.438215, 0.260262, 0.462016, 0.359654]),
    (0, 0.593607, [0.474919, 0.316009, 0.502402, 0.431143]),
    (2, 0.572905, [0.000045, 0.714161, 0.050137, 0.872259]),
    (2, 0.538303, [0.247524, 0.301603, 0.430526, 0.421185]),
    (0, 0.524728, [0.613206, 0.525037, 0.648176, 0.665400]),
    (0, 0.479113, [0.598672, 0.449042, 0.630823, 0.604293]),
    (2, 0.414473, [0.168551, 0.475785, 0.428967, 0.578533]),
    (2, 0.392441, [0.210569, 0.407261, 0.362636, 0.501676]),
    (2, 0.379327, [0.354480, 0.426006, 0.455661, 0.562520]),
    (2, 0.335513, [0.211997, 0.200772, 0.324681, 0.270666]),
    (2, 0.308507, [0.198637, 0.373342, 0.345709, 0.469422]),
];
const YOLOX_NANO_STILL_CCTV_BUSSTOP_QENG: &[Ref] = &[
    (0, 0.837609, [0.413058, 0.202007, 0.474103, 0.543078]),
    (0, 0.826560, [0.318876, 0.242123, 0.369058, 0.508673]),
    (0, 0.809452, [0.107018, 0.171587, 0.161623, 0.484889]),
    (0, 0.763840, [0.565806, 0.171652, 0.613723, 0.459158]),
    (0, 0.688876, [0.302511, 0.213955, 0.347222, 0.503549]),
    (0, 0.657930, [0.207019, 0.080915, 0.237473, 0.275022]),
    (1, 0.638172, [0.491982, 0.536560, 0.570754, 0.848158]),
    (0, 0.543097, [0.511521, 0.038899, 0.541641, 0.325314]),
];
const YOLOX_NANO_STILL_CCTV_PARKING_PEOPLE_QENG: &[Ref] = &[
    (2, 0.825473, [0.148480, 0.514615, 0.428116, 0.704163]),
    (0, 0.808436, [0.834389, 0.678449, 0.869025, 0.866933]),
    (0, 0.804454, [0.588400, 0.677182, 0.624473, 0.858996]),
    (0, 0.800608, [0.546606, 0.690103, 0.584837, 0.864505]),
    (0, 0.799571, [0.668272, 0.646711, 0.709077, 0.829670]),
    (0, 0.791845, [0.477914, 0.315363, 0.503192, 0.427089]),
    (0, 0.789180, [0.513536, 0.313121, 0.539354, 0.439683]),
    (2, 0.777308, [0.415864, 0.569362, 0.574946, 0.821237]),
    (0, 0.774645, [0.626768, 0.671343, 0.665783, 0.843932]),
    (0, 0.758562, [0.573708, 0.467455, 0.601721, 0.607655]),
    (0, 0.753299, [0.600403, 0.457152, 0.638390, 0.616612]),
    (2, 0.745791, [0.583408, 0.240095, 0.752756, 0.354813]),
    (2, 0.677308, [0.000243, 0.628067, 0.076237, 0.832567]),
    (2, 0.566358, [0.341418, 0.197655, 0.480941, 0.281404]),
    (0, 0.543800, [0.608353, 0.468642, 0.651376, 0.664919]),
    (0, 0.542340, [0.458075, 0.419915, 0.484169, 0.552765]),
    (2, 0.541511, [0.667446, 0.365345, 0.757396, 0.478808]),
    (0, 0.483051, [0.438582, 0.261189, 0.460003, 0.360307]),
    (7, 0.465610, [0.646133, 0.468681, 0.742514, 0.636046]),
    (2, 0.448542, [0.648017, 0.461709, 0.740590, 0.636044]),
    (2, 0.392231, [0.209832, 0.201112, 0.336355, 0.319109]),
    (7, 0.335225, [0.342482, 0.201228, 0.476855, 0.283606]),
    (7, 0.302573, [0.000595, 0.637623, 0.078433, 0.870016]),
];
