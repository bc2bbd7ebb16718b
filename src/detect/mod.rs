//! Object detection with ONNX Runtime. This is the only module that imports `ort`.

/// One detected object in a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// Index into the model's label set (COCO for the bundled models).
    pub class_id: u16,
    /// Confidence in 0..1.
    pub score: f32,
    /// Box as normalised `[x1, y1, x2, y2]` of the original frame (0..1).
    pub bbox: [f32; 4],
}
