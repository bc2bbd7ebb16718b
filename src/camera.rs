//! The camera registry's vocabulary: a camera, its analytics configuration (zones, lines, rules)
//! and the validation every camera passes before it is stored. Pure data and checks: no I/O, no
//! protobuf types. The same types read a camera config file (TOML) for offline analysis.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::rules::geometry::{self, Point};
use crate::rules::spec::{COCO_CLASSES, IncidentKind, Severity};
use crate::{bail, err};

/// Limits that keep one camera's configuration small enough to store, send and evaluate.
pub const MAX_ZONES: usize = 64;
pub const MAX_LINES: usize = 64;
pub const MAX_RULES: usize = 128;
pub const MAX_POLYGON_POINTS: usize = 64;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_NAME_LEN: usize = 200;
pub const MAX_ADDRESS_LEN: usize = 500;
pub const MAX_FPS: f64 = 30.0;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub address: String,
}

/// Write-only camera credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    pub polygon: Vec<Point>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineDirection {
    #[default]
    Both,
    LeftToRight,
    RightToLeft,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    pub a: Point,
    pub b: Point,
    #[serde(default)]
    pub direction: LineDirection,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub kind: IncidentKind,
    #[serde(default)]
    pub zone_id: String,
    /// `None`: the kind's default severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// Daily schedule `HH:MM-HH:MM`; empty = always.
    #[serde(default)]
    pub schedule: String,
}

/// Zones, lines and rules of one camera.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analytics {
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub lines: Vec<Line>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A registered camera.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    pub id: String,
    pub display_name: String,
    /// The stream URL without credentials (they live in `credentials`).
    pub url: String,
    pub credentials: Option<Credentials>,
    pub transport: Transport,
    pub enabled: bool,
    pub location: Option<Location>,
    /// Analysed frames per second; 0 = the server's default.
    pub analysis_fps: f64,
    pub analytics: Analytics,
    pub create_time: SystemTime,
    pub update_time: SystemTime,
}

/// A camera described in a TOML file: the same fields as the API's camera (credentials excepted:
/// they come from the environment, never from a file that may be committed). Used by
/// `vigil cameras add --file` and `vigil analyze --rules`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraFile {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub transport: Transport,
    /// Default true.
    pub enabled: Option<bool>,
    #[serde(default)]
    pub analysis_fps: f64,
    pub location: Option<Location>,
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub lines: Vec<Line>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl CameraFile {
    /// Reads and parses a camera file; errors name the file and the field.
    pub fn load(path: &std::path::Path) -> Result<CameraFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            err!(
                InvalidArgument,
                "camera file {}: cannot read: {e}",
                path.display()
            )
        })?;
        let f: CameraFile = toml::from_str(&text).map_err(|e| {
            err!(
                InvalidArgument,
                "camera file {}: {}",
                path.display(),
                e.to_string().trim_end()
            )
        })?;
        f.analytics().validate("camera")?;
        Ok(f)
    }

    pub fn analytics(&self) -> Analytics {
        Analytics {
            zones: self.zones.clone(),
            lines: self.lines.clone(),
            rules: self.rules.clone(),
        }
    }
}

impl Camera {
    /// The URL with any password replaced by `***`, for logs and API output.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// Replaces the password of a URL (if any) with `***`. Unparseable input is shown as `<invalid url>`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid url>".to_string(),
    }
}

/// Checks a camera id: 1-63 of `a-z0-9-`, starting with a letter or digit.
pub fn validate_id(field: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if !ok {
        bail!(
            InvalidArgument,
            "{field}: {id:?} is not a valid id (1-63 of a-z, 0-9, '-', not starting with '-')"
        );
    }
    Ok(())
}

/// Normalises and checks a stream URL. Credentials embedded in the URL are moved out and returned,
/// so the stored URL never carries a password.
pub fn normalize_url(field: &str, raw: &str) -> Result<(String, Option<Credentials>)> {
    if raw.is_empty() {
        bail!(InvalidArgument, "{field}: required");
    }
    if raw.len() > MAX_URL_LEN {
        bail!(InvalidArgument, "{field}: longer than {MAX_URL_LEN} bytes");
    }
    let mut u = url::Url::parse(raw).map_err(|e| {
        err!(
            InvalidArgument,
            "{field}: {} is not a valid URL: {e}",
            redact_url_lossy(raw)
        )
    })?;
    match u.scheme() {
        "rtsp" | "rtsps" => {
            if u.host_str().is_none_or(str::is_empty) {
                bail!(InvalidArgument, "{field}: an rtsp URL needs a host");
            }
        }
        "file" => {
            if u.host_str().is_some_and(|h| !h.is_empty()) || !u.path().starts_with('/') {
                bail!(
                    InvalidArgument,
                    "{field}: a file URL must be file:///absolute/path"
                );
            }
        }
        other => bail!(
            InvalidArgument,
            "{field}: scheme {other:?} is not supported (use rtsp, rtsps or file)"
        ),
    }
    let creds = if !u.username().is_empty() || u.password().is_some() {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let c = Credentials {
            username: decode(u.username()),
            password: decode(u.password().unwrap_or("")),
        };
        let _ = u.set_username("");
        let _ = u.set_password(None);
        Some(c)
    } else {
        None
    };
    Ok((u.to_string(), creds))
}

/// Best-effort redaction for strings that do not parse as URLs: drops anything before an '@'.
fn redact_url_lossy(raw: &str) -> String {
    match raw.rfind('@') {
        Some(i) => match raw.find("://") {
            Some(s) if s < i => format!("{}://***@{}", &raw[..s], &raw[i + 1..]),
            _ => "<redacted>".to_string(),
        },
        None => raw.to_string(),
    }
}

fn check_text(field: &str, s: &str, max: usize) -> Result<()> {
    if s.chars().count() > max {
        bail!(InvalidArgument, "{field}: longer than {max} characters");
    }
    if s.chars().any(char::is_control) {
        bail!(InvalidArgument, "{field}: contains control characters");
    }
    Ok(())
}

fn check_point(field: &str, p: Point) -> Result<()> {
    if !p.in_unit_square() {
        bail!(
            InvalidArgument,
            "{field}: ({}, {}) is outside the frame (coordinates are normalised to 0..1)",
            p.x,
            p.y
        );
    }
    Ok(())
}

/// Parses a daily schedule `HH:MM-HH:MM` into minutes since midnight.
pub fn parse_schedule(s: &str) -> Option<(u32, u32)> {
    let hm = |t: &str| -> Option<u32> {
        let (h, m) = t.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = s.split_once('-')?;
    let (a, b) = (hm(a.trim())?, hm(b.trim())?);
    (a != b).then_some((a, b))
}

impl Location {
    fn validate(&self, field: &str) -> Result<()> {
        if !(-90.0..=90.0).contains(&self.latitude) {
            bail!(
                InvalidArgument,
                "{field}.latitude: {} is outside -90..90",
                self.latitude
            );
        }
        if !(-180.0..=180.0).contains(&self.longitude) {
            bail!(
                InvalidArgument,
                "{field}.longitude: {} is outside -180..180",
                self.longitude
            );
        }
        check_text(&format!("{field}.address"), &self.address, MAX_ADDRESS_LEN)
    }
}

impl Analytics {
    /// Checks zones, lines and rules; `field` prefixes every message (for example `camera`).
    pub fn validate(&self, field: &str) -> Result<()> {
        if self.zones.len() > MAX_ZONES {
            bail!(
                InvalidArgument,
                "{field}.zones: {} zones, at most {MAX_ZONES}",
                self.zones.len()
            );
        }
        if self.lines.len() > MAX_LINES {
            bail!(
                InvalidArgument,
                "{field}.lines: {} lines, at most {MAX_LINES}",
                self.lines.len()
            );
        }
        if self.rules.len() > MAX_RULES {
            bail!(
                InvalidArgument,
                "{field}.rules: {} rules, at most {MAX_RULES}",
                self.rules.len()
            );
        }
        let mut ids = HashSet::new();
        for (i, z) in self.zones.iter().enumerate() {
            let f = format!("{field}.zones[{i}]");
            validate_id(&format!("{f}.id"), &z.id)?;
            if !ids.insert(z.id.as_str()) {
                bail!(InvalidArgument, "{f}.id: {:?} is used twice", z.id);
            }
            check_text(&format!("{f}.display_name"), &z.display_name, MAX_NAME_LEN)?;
            let n = z.polygon.len();
            if !(3..=MAX_POLYGON_POINTS).contains(&n) {
                bail!(
                    InvalidArgument,
                    "{f}.polygon: {n} points, a polygon needs 3 to {MAX_POLYGON_POINTS}"
                );
            }
            for (j, p) in z.polygon.iter().enumerate() {
                check_point(&format!("{f}.polygon[{j}]"), *p)?;
            }
            if let Some((a, b)) = geometry::self_intersection(&z.polygon) {
                bail!(
                    InvalidArgument,
                    "{f}.polygon: edges {a} and {b} intersect (the polygon must not cross itself)"
                );
            }
            if geometry::signed_area(&z.polygon).abs() < 1e-6 {
                bail!(InvalidArgument, "{f}.polygon: has no area");
            }
        }
        for (i, l) in self.lines.iter().enumerate() {
            let f = format!("{field}.lines[{i}]");
            validate_id(&format!("{f}.id"), &l.id)?;
            if !ids.insert(l.id.as_str()) {
                bail!(InvalidArgument, "{f}.id: {:?} is used twice", l.id);
            }
            check_text(&format!("{f}.display_name"), &l.display_name, MAX_NAME_LEN)?;
            check_point(&format!("{f}.a"), l.a)?;
            check_point(&format!("{f}.b"), l.b)?;
            if (l.a.x - l.b.x).hypot(l.a.y - l.b.y) < 1e-3 {
                bail!(InvalidArgument, "{f}: a and b are the same point");
            }
        }
        let zone_ids: HashSet<&str> = self.zones.iter().map(|z| z.id.as_str()).collect();
        let mut rule_ids = HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let f = format!("{field}.rules[{i}]");
            validate_id(&format!("{f}.id"), &r.id)?;
            if !rule_ids.insert(r.id.as_str()) {
                bail!(InvalidArgument, "{f}.id: {:?} is used twice", r.id);
            }
            let spec = r.kind.spec();
            if spec.needs_zone {
                if r.zone_id.is_empty() {
                    bail!(
                        InvalidArgument,
                        "{f}.zone_id: a {} rule needs a zone",
                        r.kind.as_str()
                    );
                }
                if !zone_ids.contains(r.zone_id.as_str()) {
                    bail!(
                        InvalidArgument,
                        "{f}.zone_id: no zone {:?} on this camera",
                        r.zone_id
                    );
                }
            } else if !r.zone_id.is_empty() {
                bail!(
                    InvalidArgument,
                    "{f}.zone_id: a {} rule watches the whole camera and takes no zone",
                    r.kind.as_str()
                );
            }
            for (j, c) in r.classes.iter().enumerate() {
                if !COCO_CLASSES.contains(&c.as_str()) {
                    bail!(
                        InvalidArgument,
                        "{f}.classes[{j}]: unknown class {c:?} (use COCO names such as \"person\", \"car\")"
                    );
                }
            }
            for (name, value) in &r.params {
                let Some(p) = spec.param(name) else {
                    bail!(
                        InvalidArgument,
                        "{f}.params: unknown parameter {name:?} for {} (known: {})",
                        r.kind.as_str(),
                        spec.param_names().join(", ")
                    );
                };
                if !(p.min..=p.max).contains(value) {
                    bail!(
                        InvalidArgument,
                        "{f}.params.{name}: {value} is outside {}..{}",
                        p.min,
                        p.max
                    );
                }
            }
            if r.kind == IncidentKind::WrongWay {
                let get = |n: &str| {
                    r.params
                        .get(n)
                        .copied()
                        .or(spec.param(n).map(|p| p.default))
                        .unwrap_or(0.0)
                };
                if get("dx").hypot(get("dy")) < 1e-3 {
                    bail!(
                        InvalidArgument,
                        "{f}.params: the lane direction (dx, dy) must not be zero"
                    );
                }
            }
            if !r.schedule.is_empty() && parse_schedule(&r.schedule).is_none() {
                bail!(
                    InvalidArgument,
                    "{f}.schedule: {:?} is not HH:MM-HH:MM with two different times",
                    r.schedule
                );
            }
        }
        Ok(())
    }
}

impl Camera {
    /// Checks every field; the first problem is reported with the field's path.
    pub fn validate(&self) -> Result<()> {
        validate_id("camera_id", &self.id)?;
        check_text("camera.display_name", &self.display_name, MAX_NAME_LEN)?;
        let (_, embedded) = normalize_url("camera.url", &self.url)?;
        if embedded.is_some() {
            bail!(
                InvalidArgument,
                "camera.url: must not carry credentials (use camera.credentials)"
            );
        }
        if let Some(c) = &self.credentials {
            check_text("camera.credentials.username", &c.username, 256)?;
            check_text("camera.credentials.password", &c.password, 256)?;
        }
        if let Some(l) = &self.location {
            l.validate("camera.location")?;
        }
        if !(self.analysis_fps == 0.0 || (0.1..=MAX_FPS).contains(&self.analysis_fps)) {
            bail!(
                InvalidArgument,
                "camera.analysis_fps: {} is outside 0.1..{MAX_FPS} (0 = server default)",
                self.analysis_fps
            );
        }
        self.analytics.validate("camera")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam() -> Camera {
        Camera {
            id: "gate-1".into(),
            display_name: "Gate".into(),
            url: "rtsp://10.0.0.5:554/stream1".into(),
            credentials: None,
            transport: Transport::Tcp,
            enabled: true,
            location: None,
            analysis_fps: 5.0,
            analytics: Analytics {
                zones: vec![Zone {
                    id: "lawn".into(),
                    display_name: String::new(),
                    polygon: vec![
                        Point::new(0.1, 0.1),
                        Point::new(0.9, 0.1),
                        Point::new(0.5, 0.9),
                    ],
                }],
                lines: vec![],
                rules: vec![Rule {
                    id: "r1".into(),
                    kind: IncidentKind::Intrusion,
                    zone_id: "lawn".into(),
                    severity: None,
                    classes: vec!["person".into()],
                    params: BTreeMap::new(),
                    schedule: String::new(),
                }],
            },
            create_time: SystemTime::UNIX_EPOCH,
            update_time: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn valid_camera_passes() {
        cam().validate().unwrap();
    }

    #[test]
    fn invalid_cases_name_their_field() {
        type Mutate = fn(&mut Camera);
        let cases: &[(&str, Mutate)] = &[
            ("camera_id", |c| c.id = "Bad Id".into()),
            ("camera.url", |c| c.url = "http://x/y".into()),
            ("camera.url", |c| c.url = "not a url".into()),
            ("camera.zones[0].polygon", |c| {
                c.analytics.zones[0].polygon.truncate(2)
            }),
            ("camera.zones[0].polygon[1]", |c| {
                c.analytics.zones[0].polygon[1] = Point::new(1.5, 0.1)
            }),
            ("camera.zones[0].polygon", |c| {
                c.analytics.zones[0].polygon = vec![
                    Point::new(0.1, 0.1),
                    Point::new(0.9, 0.9),
                    Point::new(0.9, 0.1),
                    Point::new(0.1, 0.9),
                ]
            }),
            ("camera.rules[0].zone_id", |c| {
                c.analytics.rules[0].zone_id = "nope".into()
            }),
            ("camera.rules[0].params", |c| {
                c.analytics.rules[0].params.insert("bogus".into(), 1.0);
            }),
            ("camera.rules[0].params.min_duration_s", |c| {
                c.analytics.rules[0]
                    .params
                    .insert("min_duration_s".into(), -1.0);
            }),
            ("camera.rules[0].classes[0]", |c| {
                c.analytics.rules[0].classes[0] = "dragon".into()
            }),
            ("camera.rules[0].schedule", |c| {
                c.analytics.rules[0].schedule = "25:00-01:00".into()
            }),
            ("camera.zones[1].id", |c| {
                let z = c.analytics.zones[0].clone();
                c.analytics.zones.push(z)
            }),
            ("camera.analysis_fps", |c| c.analysis_fps = 100.0),
            ("camera.location.latitude", |c| {
                c.location = Some(Location {
                    latitude: 91.0,
                    longitude: 0.0,
                    address: String::new(),
                })
            }),
        ];
        for (field, mutate) in cases {
            let mut c = cam();
            mutate(&mut c);
            let e = c.validate().expect_err(field);
            assert_eq!(e.kind(), crate::error::ErrorKind::InvalidArgument);
            assert!(
                e.msg().starts_with(&format!("{field}:")),
                "{field}: got {e}"
            );
        }
    }

    #[test]
    fn url_credentials_are_moved_out() {
        let (url, creds) = normalize_url("u", "rtsp://admin:s%40cret@cam.local:554/live").unwrap();
        assert_eq!(url, "rtsp://cam.local:554/live");
        let c = creds.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("admin", "s@cret")
        );
        assert_eq!(redact_url("rtsp://a:b@h/x"), "rtsp://a:***@h/x");
        assert!(!format!("{c:?}").contains("s@cret"));
    }

    #[test]
    fn schedule_parsing() {
        assert_eq!(parse_schedule("22:00-06:30"), Some((1320, 390)));
        assert_eq!(parse_schedule("22:00"), None);
        assert_eq!(parse_schedule("10:00-10:00"), None);
    }
}
