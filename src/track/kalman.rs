//! The motion model: a constant-velocity Kalman filter on a box's centre x, centre y, width and
//! height, in normalised frame units. Process noise is a continuous white-noise acceleration
//! scaled by the real time between updates, so irregular frame intervals (dropped frames) are
//! modelled rather than assumed away. Noise is proportional to the box's size (width for x and
//! width, height for y and height), which makes the filter independent of the frame's aspect ratio
//! and of how far the object is from the camera.
//!
//! With diagonal noise and no coupling between the four quantities, the 8-state filter separates
//! exactly into four independent position-velocity filters, which is what this file implements.

/// One quantity and its rate of change, with their 2x2 covariance.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    x: f64,
    v: f64,
    p00: f64,
    p01: f64,
    p11: f64,
}

impl Axis {
    fn new(x: f64, pos_std: f64, vel_std: f64) -> Self {
        Axis {
            x,
            v: 0.0,
            p00: pos_std * pos_std,
            p01: 0.0,
            p11: vel_std * vel_std,
        }
    }

    /// Moves the state `dt` seconds ahead; `q` is the acceleration's spectral density.
    fn predict(&mut self, dt: f64, q: f64) {
        let dt2 = dt * dt;
        self.x += self.v * dt;
        self.p00 += 2.0 * dt * self.p01 + dt2 * self.p11 + q * dt2 * dt / 3.0;
        self.p01 += dt * self.p11 + q * dt2 / 2.0;
        self.p11 += q * dt;
    }

    /// Folds in a measurement `z` of the position with variance `r`.
    fn update(&mut self, z: f64, r: f64) {
        let s = self.p00 + r;
        if !(s > 0.0 && s.is_finite()) {
            return;
        }
        let k0 = self.p00 / s;
        let k1 = self.p01 / s;
        let y = z - self.x;
        self.x += k0 * y;
        self.v += k1 * y;
        let (p00, p01) = (self.p00, self.p01);
        self.p00 = (1.0 - k0) * p00;
        self.p01 = (1.0 - k0) * p01;
        self.p11 -= k1 * p01;
    }
}

/// Noise settings, taken from [`TrackerConfig`](super::TrackerConfig).
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    /// Measurement standard deviation as a fraction of the box size.
    pub measurement: f64,
    /// Centre acceleration standard deviation, box sizes per s².
    pub accel: f64,
    /// Width/height acceleration standard deviation, box sizes per s².
    pub size_accel: f64,
}

/// Smallest width or height the filter keeps, so that noise scaled by size never vanishes.
const MIN_SIZE: f64 = 1e-4;
/// Initial velocity standard deviation, box sizes per second: fast enough for a car near the
/// camera, so the second detection sets the velocity almost alone.
const INIT_VEL_STD: f64 = 4.0;

/// Kalman filter over `[cx, cy, w, h]` and their velocities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxFilter {
    /// cx, cy, w, h.
    axes: [Axis; 4],
}

impl BoxFilter {
    /// Starts a filter at a detected box `[x1, y1, x2, y2]` with zero, uncertain velocity.
    pub fn new(bbox: [f32; 4], noise: &Noise) -> Self {
        let [cx, cy, w, h] = to_cxcywh(bbox);
        let (w, h) = (w.max(MIN_SIZE), h.max(MIN_SIZE));
        let pos = 2.0 * noise.measurement;
        BoxFilter {
            axes: [
                Axis::new(cx, pos * w, INIT_VEL_STD * w),
                Axis::new(cy, pos * h, INIT_VEL_STD * h),
                Axis::new(w, pos * w, INIT_VEL_STD * w * 0.25),
                Axis::new(h, pos * h, INIT_VEL_STD * h * 0.25),
            ],
        }
    }

    /// Moves the state `dt` seconds ahead (a negative or non-finite `dt` counts as zero).
    pub fn predict(&mut self, dt: f64, noise: &Noise) {
        let dt = if dt.is_finite() { dt.max(0.0) } else { 0.0 };
        let (w, h) = (self.axes[2].x, self.axes[3].x);
        let qa = |size: f64| (noise.accel * size).powi(2);
        let qs = |size: f64| (noise.size_accel * size).powi(2);
        self.axes[0].predict(dt, qa(w));
        self.axes[1].predict(dt, qa(h));
        self.axes[2].predict(dt, qs(w));
        self.axes[3].predict(dt, qs(h));
        for a in &mut self.axes[2..] {
            a.x = a.x.max(MIN_SIZE);
        }
    }

    /// Folds in a detected box `[x1, y1, x2, y2]`.
    pub fn update(&mut self, bbox: [f32; 4], noise: &Noise) {
        let z = to_cxcywh(bbox);
        let (w, h) = (self.axes[2].x, self.axes[3].x);
        let rw = (noise.measurement * w).powi(2);
        let rh = (noise.measurement * h).powi(2);
        for (i, a) in self.axes.iter_mut().enumerate() {
            a.update(z[i], if i % 2 == 0 { rw } else { rh });
        }
        for a in &mut self.axes[2..] {
            a.x = a.x.max(MIN_SIZE);
        }
    }

    /// Stops extrapolating the size, as ByteTrack does for a track that lost its object: a box
    /// that keeps growing or shrinking while unseen only gets harder to re-find.
    pub fn freeze_size(&mut self) {
        self.axes[2].v = 0.0;
        self.axes[3].v = 0.0;
    }

    /// The current box `[x1, y1, x2, y2]`.
    pub fn bbox(&self) -> [f32; 4] {
        let [cx, cy, w, h] = self.axes.map(|a| a.x);
        [
            (cx - w / 2.0) as f32,
            (cy - h / 2.0) as f32,
            (cx + w / 2.0) as f32,
            (cy + h / 2.0) as f32,
        ]
    }

    /// Velocity of the box's bottom centre `[vx, vy]`, normalised units per second.
    pub fn bottom_centre_velocity(&self) -> [f32; 2] {
        [
            self.axes[0].v as f32,
            (self.axes[1].v + self.axes[3].v / 2.0) as f32,
        ]
    }
}

fn to_cxcywh(b: [f32; 4]) -> [f64; 4] {
    let [x1, y1, x2, y2] = b.map(f64::from);
    [(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOISE: Noise = Noise {
        measurement: 0.05,
        accel: 0.5,
        size_accel: 0.2,
    };

    #[test]
    fn exact_measurements_of_constant_motion_converge_to_the_true_velocity() {
        // A 0.1 x 0.2 box whose centre moves at (0.05, 0.1) per second, seen at irregular times.
        let at = |t: f64| {
            let (cx, cy) = (0.3 + 0.05 * t, 0.2 + 0.1 * t);
            [cx - 0.05, cy - 0.1, cx + 0.05, cy + 0.1].map(|v| v as f32)
        };
        let mut f = BoxFilter::new(at(0.0), &NOISE);
        let dts = [0.2, 0.4, 0.2, 0.6, 0.2, 1.0, 0.2];
        let mut last = 0.0;
        for k in 0..40 {
            let t = last + dts[k % dts.len()];
            f.predict(t - last, &NOISE);
            f.update(at(t), &NOISE);
            last = t;
        }
        let [vx, vy] = f.bottom_centre_velocity();
        assert!((vx - 0.05).abs() < 1e-3, "vx {vx}");
        assert!((vy - 0.1).abs() < 1e-3, "vy {vy}");
        let b = f.bbox();
        let want = at(last);
        for i in 0..4 {
            assert!((b[i] - want[i]).abs() < 1e-3, "{b:?} vs {want:?}");
        }
    }

    #[test]
    fn prediction_extrapolates_and_uncertainty_grows_with_dt() {
        let mut f = BoxFilter::new([0.0, 0.0, 0.1, 0.1], &NOISE);
        f.axes[0].v = 0.5;
        let mut short = f;
        short.predict(0.2, &NOISE);
        f.predict(1.0, &NOISE);
        assert!((f.bbox()[0] - 0.5).abs() < 1e-6);
        assert!((short.bbox()[0] - 0.1).abs() < 1e-6);
        assert!(f.axes[0].p00 > short.axes[0].p00);
        // Garbage time steps do not move or blow up the state.
        let before = short;
        short.predict(f64::NAN, &NOISE);
        short.predict(-3.0, &NOISE);
        assert_eq!(short, before);
    }
}
