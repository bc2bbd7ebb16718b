#!/usr/bin/env python3
"""Reference detections for tests/detect_parity.rs, computed with ONNX Runtime's own Python API.

Runs both bundled models on the two shared stills with the same pre- and post-processing as
src/detect/prep.rs and src/detect/post.rs (letterbox with half-pixel bilinear resize, channel
order and scaling from the manifest, yolov8 / yolox decoding, score >= 0.3 over all 80 classes,
greedy per-class NMS at IoU 0.45, boxes mapped back to the frame, normalised and clamped), and
prints Rust constants to paste into the test. The test never runs this script.

Both sides must start from the same RGB pixels, and JPEG decoders differ: Pillow
(libjpeg-turbo) and the Rust `image` crate (zune-jpeg) give slightly different pixels for these
stills. So the script reads the pixels the Rust test decoded, dumped as raw RGB24 files
(`<image>.<W>x<H>.rgb`) by `VIGIL_DUMP_RGB=DIR cargo test --test detect_parity`, and prints
their digest (FNV-1a 64), which the test checks before comparing detections. With --pillow it
decodes with Pillow instead (to see how much the decoders matter; the digest will not match).

Setup (once):
    python3 -m venv /root/ref-venv
    /root/ref-venv/bin/pip install onnxruntime==1.32.0 numpy pillow
Run from the repository root:
    mkdir -p /tmp/vigil-rgb
    VIGIL_DUMP_RGB=/tmp/vigil-rgb cargo test --test detect_parity
    /root/ref-venv/bin/python scripts/reference_detections.py --rgb-dir /tmp/vigil-rgb \
        --shared ../shared --yolov12n models/yolov12n.onnx
"""

import argparse
import math
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

IMAGES = ["still_cctv_busstop_qeng.jpg", "still_cctv_parking_people_qeng.jpg"]
SCORE = 0.3
NMS_IOU = 0.45

# name -> input size, channel order, scale, placement, format (as in models/*.toml)
MODELS = {
    "yolov12n": dict(w=640, h=640, bgr=False, scale=np.float32(1.0) / np.float32(255.0),
                     place="center", format="yolov8"),
    "yolox_nano": dict(w=416, h=416, bgr=True, scale=np.float32(1.0), place="top_left",
                       format="yolox", strides=[8, 16, 32]),
}
PAD = 114


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def geometry(src_w, src_h, dst_w, dst_h, place):
    scale = min(dst_w / src_w, dst_h / src_h)
    new_w = min(max(int(math.floor(src_w * scale + 0.5)), 1), dst_w)
    new_h = min(max(int(math.floor(src_h * scale + 0.5)), 1), dst_h)
    if place == "center":
        pad_x, pad_y = (dst_w - new_w) // 2, (dst_h - new_h) // 2
    else:
        pad_x, pad_y = 0, 0
    return new_w, new_h, pad_x, pad_y


def taps(src, dst):
    """Half-pixel-centre bilinear taps, computed in f64 as prep.rs does; weights cast to f32."""
    ratio = src / dst
    s = np.clip((np.arange(dst, dtype=np.float64) + 0.5) * ratio - 0.5, 0.0, src - 1)
    i0 = np.floor(s)
    i1 = np.minimum(i0 + 1.0, src - 1)
    return i0.astype(np.int64), i1.astype(np.int64), (s - i0).astype(np.float32)


def letterbox(rgb, spec):
    src_h, src_w, _ = rgb.shape
    new_w, new_h, pad_x, pad_y = geometry(src_w, src_h, spec["w"], spec["h"], spec["place"])
    x0, x1, fx = taps(src_w, new_w)
    y0, y1, fy = taps(src_h, new_h)
    img = rgb.astype(np.float32)
    gx, gy = np.float32(1.0) - fx, np.float32(1.0) - fy
    # Same operation order as prep.rs: horizontal lerp of both rows, then vertical, then scale.
    a, c = img[y0][:, x0], img[y0][:, x1]
    d, e = img[y1][:, x0], img[y1][:, x1]
    top = a * gx[None, :, None] + c * fx[None, :, None]
    bot = d * gx[None, :, None] + e * fx[None, :, None]
    res = (top * gy[:, None, None] + bot * fy[:, None, None]) * spec["scale"]
    out = np.full((3, spec["h"], spec["w"]), np.float32(PAD) * spec["scale"], dtype=np.float32)
    chw = res.transpose(2, 0, 1)
    if spec["bgr"]:
        chw = chw[::-1]
    out[:, pad_y:pad_y + new_h, pad_x:pad_x + new_w] = chw
    return out[None], (src_w, src_h, new_w, new_h, pad_x, pad_y)


def xywh_to_xyxy(cx, cy, w, h):
    hw, hh = w * np.float32(0.5), h * np.float32(0.5)
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)


def decode_yolov8(out):
    out = out[0]  # [4+C, N]
    cls = out[4:]
    best = cls.max(axis=0)
    best_c = cls.argmax(axis=0)  # first maximum, as post.rs
    keep = best >= np.float32(SCORE)
    boxes = xywh_to_xyxy(out[0], out[1], out[2], out[3])
    return boxes[keep], best[keep], best_c[keep]


def decode_yolox(out, spec):
    out = out[0]  # [N, 5+C]
    gxs, gys, ss = [], [], []
    for s in spec["strides"]:
        gw, gh = spec["w"] // s, spec["h"] // s
        yv, xv = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        gxs.append(xv.ravel())
        gys.append(yv.ravel())
        ss.append(np.full(gw * gh, s))
    gx = np.concatenate(gxs).astype(np.float32)
    gy = np.concatenate(gys).astype(np.float32)
    st = np.concatenate(ss).astype(np.float32)
    obj = out[:, 4]
    scores = obj[:, None] * out[:, 5:]
    best = scores.max(axis=1)
    best_c = scores.argmax(axis=1)
    keep = (obj >= np.float32(SCORE)) & (best >= np.float32(SCORE))
    cx = (out[:, 0] + gx) * st
    cy = (out[:, 1] + gy) * st
    w = np.exp(out[:, 2]) * st
    h = np.exp(out[:, 3]) * st
    boxes = xywh_to_xyxy(cx, cy, w, h)
    return boxes[keep], best[keep], best_c[keep]


def iou(a, b):
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    inter = iw * ih
    area = lambda r: max(r[2] - r[0], 0.0) * max(r[3] - r[1], 0.0)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes, scores, classes):
    order = sorted(range(len(scores)),
                   key=lambda i: (-float(scores[i]), int(classes[i]),
                                  tuple(boxes[i].view(np.uint32).tolist())))
    kept = []
    for i in order:
        if not any(classes[k] == classes[i] and iou(boxes[k], boxes[i]) > NMS_IOU for k in kept):
            kept.append(i)
    return kept


def detect(session, spec, rgb):
    x, (src_w, src_h, new_w, new_h, pad_x, pad_y) = letterbox(rgb, spec)
    name_in = session.get_inputs()[0].name
    out = session.run(None, {name_in: x})[0]
    if spec["format"] == "yolov8":
        boxes, scores, classes = decode_yolov8(out)
    else:
        boxes, scores, classes = decode_yolox(out, spec)
    dets = []
    for i in nms(boxes, scores, classes):
        b = boxes[i]
        nx = lambda v: min(max((v - pad_x) / new_w, 0.0), 1.0)
        ny = lambda v: min(max((v - pad_y) / new_h, 0.0), 1.0)
        nb = [nx(b[0]), ny(b[1]), nx(b[2]), ny(b[3])]
        if nb[2] > nb[0] and nb[3] > nb[1]:
            dets.append((int(classes[i]), float(scores[i]), nb))
    return dets


def read_pixels(args, img):
    """The RGB24 pixels of `img` as an [H, W, 3] uint8 array."""
    if args.pillow:
        return np.asarray(Image.open(os.path.join(args.shared, "media", img)).convert("RGB"))
    dumps = [f for f in os.listdir(args.rgb_dir) if f.startswith(img + ".") and f.endswith(".rgb")]
    if len(dumps) != 1:
        sys.exit(f"{args.rgb_dir}: want one {img}.<W>x<H>.rgb, found {dumps}")
    w, h = (int(v) for v in dumps[0][len(img) + 1:-4].split("x"))
    raw = np.fromfile(os.path.join(args.rgb_dir, dumps[0]), dtype=np.uint8)
    if raw.size != w * h * 3:
        sys.exit(f"{dumps[0]}: {raw.size} bytes, want {w * h * 3}")
    return raw.reshape(h, w, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default="../shared", help="the shared data folder")
    ap.add_argument("--yolov12n", default="models/yolov12n.onnx")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--rgb-dir", help="folder of the raw RGB24 dumps written by the Rust test")
    src.add_argument("--pillow", action="store_true", help="decode the JPEGs with Pillow")
    args = ap.parse_args()
    paths = {
        "yolov12n": args.yolov12n,
        "yolox_nano": os.path.join(args.shared, "models", "yolox_nano.onnx"),
    }
    origin = "Pillow-decoded" if args.pillow else "the Rust test's decoded"
    print(f"// Generated by scripts/reference_detections.py from {origin} pixels, with"
          f" onnxruntime {ort.__version__}, numpy {np.__version__}.")
    pixels = {}
    for img in IMAGES:
        rgb = read_pixels(args, img)
        pixels[img] = rgb
        h, w, _ = rgb.shape
        print(f"// {img}: {w}x{h}, RGB FNV-1a 64 0x{fnv1a64(rgb.tobytes()):016x}")
    for model, spec in MODELS.items():
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(paths[model], opts, providers=["CPUExecutionProvider"])
        for img in IMAGES:
            dets = detect(session, spec, pixels[img])
            const = f"{model}_{img.removesuffix('.jpg')}".upper()
            print(f"const {const}: &[Ref] = &[")
            for c, s, b in dets:
                bs = ", ".join(f"{v:.6f}" for v in b)
                print(f"    ({c}, {s:.6f}, [{bs}]),")
            print("];")
    return 0


if __name__ == "__main__":
    sys.exit(main())
