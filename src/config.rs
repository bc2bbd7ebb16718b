//! The service configuration: a TOML file with documented defaults, overridden by environment
//! variables and command-line flags (flag > environment > file > default). Unknown fields are
//! rejected, and everything is validated before the runtime starts, so a bad configuration exits
//! with a message naming the field.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Result;
use crate::{bail, err};

/// The whole configuration file. Every section and field is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Camera ingest: backoff, watchdog, pre-roll, analysis size and rate.
    #[serde(default)]
    pub ingest: crate::ingest::IngestConfig,
    /// The detector the service runs over every camera.
    #[serde(default)]
    pub detect: crate::detect::DetectorConfig,
    /// Incident media: clip pre-roll, post-roll and length, snapshot quality.
    #[serde(default)]
    pub media: crate::media::MediaConfig,
}

/// Deletion of old media (snapshots and clips); incident records are kept.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Media of incidents that started longer ago than this many days are deleted; 0 = no age
    /// limit. Default 30.
    pub max_media_age_days: f64,
    /// The media folder's disk budget in bytes: beyond it the oldest incidents' media go first;
    /// 0 = no budget. Default 0.
    pub max_media_bytes: u64,
    /// Seconds between retention passes (1..86400). Default 300.
    pub interval_s: f64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_media_age_days: 30.0,
            max_media_bytes: 0,
            interval_s: 300.0,
        }
    }
}

/// Validated retention settings (`None`: no limit).
#[derive(Clone, Debug)]
pub struct RetentionSettings {
    pub max_media_age: Option<std::time::Duration>,
    pub max_media_bytes: Option<u64>,
    pub interval: std::time::Duration,
}

impl RetentionConfig {
    pub fn resolve(&self) -> Result<RetentionSettings> {
        let age = self.max_media_age_days;
        if !(0.0..=36500.0).contains(&age) {
            bail!(
                InvalidArgument,
                "retention.max_media_age_days: {age} is outside 0..36500"
            );
        }
        if !(1.0..=86400.0).contains(&self.interval_s) {
            bail!(
                InvalidArgument,
                "retention.interval_s: {} is outside 1..86400",
                self.interval_s
            );
        }
        Ok(RetentionSettings {
            max_media_age: (age > 0.0).then(|| std::time::Duration::from_secs_f64(age * 86400.0)),
            max_media_bytes: (self.max_media_bytes > 0).then_some(self.max_media_bytes),
            interval: std::time::Duration::from_secs_f64(self.interval_s),
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// gRPC listen address; port 0 picks a free port. Env `VIGIL_GRPC_ADDR`. Default `127.0.0.1:50051`.
    pub grpc_addr: String,
    /// HTTP listen address (health, `/metrics`, media). Env `VIGIL_HTTP_ADDR`. Default `127.0.0.1:9090`.
    pub http_addr: String,
    /// Directory of the database and media. Env `VIGIL_DATA_DIR`. Default `vigil-data`.
    pub data_dir: PathBuf,
    /// Seconds a graceful shutdown may take before the process exits anyway. Default 10.
    pub shutdown_timeout_s: f64,
    /// Largest gRPC request accepted, in bytes; larger ones get INVALID_ARGUMENT. Default 1 MiB.
    pub max_request_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            grpc_addr: "127.0.0.1:50051".into(),
            http_addr: "127.0.0.1:9090".into(),
            data_dir: PathBuf::from("vigil-data"),
            shutdown_timeout_s: 10.0,
            max_request_bytes: 1 << 20,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` (default) or `json`. Env `VIGIL_LOG_FORMAT`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `vigil=debug,info`. Env `RUST_LOG` wins. Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// Values given on the command line or in the environment, which win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub grpc_addr: Option<String>,
    pub http_addr: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
}

/// The validated configuration the service runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub shutdown_timeout: std::time::Duration,
    pub max_request_bytes: usize,
    pub log: LogConfig,
    pub retention: RetentionSettings,
    pub ingest: crate::ingest::IngestConfig,
    pub detect: crate::detect::DetectorConfig,
    pub media: crate::media::MediaConfig,
}

impl Config {
    /// Parses a configuration file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            err!(
                InvalidArgument,
                "config {origin}: {}",
                e.to_string().trim_end()
            )
        })
    }

    /// Reads `path`, or returns the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            err!(
                InvalidArgument,
                "config {}: cannot read: {e}",
                path.display()
            )
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Applies overrides and checks every field.
    pub fn resolve(mut self, o: Overrides) -> Result<Settings> {
        if let Some(v) = o.grpc_addr {
            self.server.grpc_addr = v;
        }
        if let Some(v) = o.http_addr {
            self.server.http_addr = v;
        }
        if let Some(v) = o.data_dir {
            self.server.data_dir = v;
        }
        if let Some(v) = o.log_format {
            self.log.format = v;
        }
        let s = &self.server;
        let grpc_addr = parse_addr("server.grpc_addr", &s.grpc_addr)?;
        let http_addr = parse_addr("server.http_addr", &s.http_addr)?;
        if grpc_addr == http_addr && grpc_addr.port() != 0 {
            bail!(
                InvalidArgument,
                "server.http_addr: {http_addr} is also server.grpc_addr"
            );
        }
        if s.data_dir.as_os_str().is_empty() {
            bail!(InvalidArgument, "server.data_dir: must not be empty");
        }
        if !(0.1..=600.0).contains(&s.shutdown_timeout_s) {
            bail!(
                InvalidArgument,
                "server.shutdown_timeout_s: {} is outside 0.1..600",
                s.shutdown_timeout_s
            );
        }
        if !(1024..=64 << 20).contains(&s.max_request_bytes) {
            bail!(
                InvalidArgument,
                "server.max_request_bytes: {} is outside 1024..67108864",
                s.max_request_bytes
            );
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            err!(
                InvalidArgument,
                "log.level: {:?} is not a valid filter: {e}",
                self.log.level
            )
        })?;
        let retention = self.retention.resolve()?;
        self.ingest.validate("ingest")?;
        self.detect.validate()?;
        self.media.validate("media", self.ingest.pre_roll_s)?;
        Ok(Settings {
            retention,
            grpc_addr,
            http_addr,
            data_dir: s.data_dir.clone(),
            shutdown_timeout: std::time::Duration::from_secs_f64(s.shutdown_timeout_s),
            max_request_bytes: s.max_request_bytes,
            log: self.log,
            ingest: self.ingest,
            detect: self.detect,
            media: self.media,
        })
    }
}

fn parse_addr(field: &str, v: &str) -> Result<SocketAddr> {
    v.parse().map_err(|_| {
        err!(
            InvalidArgument,
            "{field}: {v:?} is not a socket address such as 127.0.0.1:50051"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve() {
        let s = Config::default().resolve(Overrides::default()).unwrap();
        assert_eq!(s.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:9090");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("[server]\ngrpc_adr = \"1.2.3.4:5\"\n", "grpc_adr"),
            ("[sever]\n", "sever"),
            ("[server]\ngrpc_addr = \"localhost\"\n", "server.grpc_addr"),
            (
                "[server]\nhttp_addr = \"1.2.3.4:99999\"\n",
                "server.http_addr",
            ),
            (
                "[server]\nshutdown_timeout_s = 0.0\n",
                "server.shutdown_timeout_s",
            ),
            ("[log]\nformat = \"xml\"\n", "xml"),
            ("[retention]\ninterval_s = 0.0\n", "retention.interval_s"),
            (
                "[retention]\nmax_media_age_days = -1.0\n",
                "retention.max_media_age_days",
            ),
            ("[retention]\nmax_bytes = 1\n", "max_bytes"),
            ("[ingest]\nwatchdog_s = 0.0\n", "ingest.watchdog_s"),
            ("[ingest]\nbackof_min_s = 1.0\n", "backof_min_s"),
            ("[detect]\nworkers = 0\n", "detect.workers"),
            ("[media]\nclip_max_s = 0.0\n", "media.clip_max_s"),
            ("[media]\nclip_pre_roll = 1.0\n", "clip_pre_roll"),
            (
                "[ingest]\npre_roll_s = 3.0\n[media]\nclip_pre_roll_s = 4.0\n",
                "media.clip_pre_roll_s",
            ),
        ];
        for (text, needle) in cases {
            let r = Config::parse(text, "test.toml").and_then(|c| c.resolve(Overrides::default()));
            let e = r.expect_err(text).to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn overrides_win() {
        let c = Config::parse("[server]\ngrpc_addr = \"127.0.0.1:1\"\n", "t").unwrap();
        let o = Overrides {
            grpc_addr: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        assert_eq!(c.resolve(o).unwrap().grpc_addr.port(), 0);
    }
}
