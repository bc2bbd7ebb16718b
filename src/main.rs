//! The `vigil` command line. Thin: it parses flags, loads and validates the configuration before
//! the runtime starts, sets up logging, and hands over to `server` or the API client.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vigil::config::{Config, LogFormat, Overrides, Settings};

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Camera video analytics: RTSP in, incidents out over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Configuration file (TOML); every field is optional.
    #[arg(long, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC listen address (port 0 = any free port).
    #[arg(long, env = "VIGIL_GRPC_ADDR")]
    grpc_addr: Option<String>,
    /// HTTP listen address for /healthz, /metrics and /media (port 0 = any free port).
    #[arg(long, env = "VIGIL_HTTP_ADDR")]
    http_addr: Option<String>,
    /// Data directory (database and media).
    #[arg(long, env = "VIGIL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(long, env = "VIGIL_LOG_FORMAT")]
    log_format: Option<String>,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// A video file, or a URL (file://, rtsp://).
    input: String,
    /// Model name (a manifest in models/) or manifest path.
    #[arg(long, default_value = vigil::detect::config::DEFAULT_MODEL)]
    model: String,
    /// One JSON object per line (see README: "vigil analyze output").
    #[arg(long)]
    json: bool,
    /// Analysed frames per second (0 = every frame).
    #[arg(long, default_value_t = 5.0)]
    fps: f64,
    /// Analysis frame width (height keeps the aspect ratio; 0 = native).
    #[arg(long, default_value_t = 640)]
    width: u32,
    /// Minimum detection score.
    #[arg(long, default_value_t = 0.3)]
    score: f32,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Stop after this many seconds of stream time.
    #[arg(long)]
    max_seconds: Option<f64>,
    /// A camera file (TOML, as `vigil cameras add --file`): apply its zones, lines and rules and
    /// print incident and line-count events.
    #[arg(long)]
    rules: Option<PathBuf>,
}

/// A positive number of seconds from a flag, named in the error.
fn seconds(flag: &str, v: Option<f64>) -> Result<Option<std::time::Duration>, vigil::error::Error> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(std::time::Duration::from_secs_f64(s))),
        Some(s) => Err(vigil::err!(
            InvalidArgument,
            "{flag}: {s} is not a positive number"
        )),
    }
}

fn analyze(a: AnalyzeArgs) -> Result<(), vigil::error::Error> {
    use vigil::analyze::{Format, Options};
    let max_duration = seconds("--max-seconds", a.max_seconds)?;
    let rules = match &a.rules {
        Some(p) => Some(vigil::camera::CameraFile::load(p)?),
        None => None,
    };
    let mut detector = vigil::detect::DetectorConfig::for_model(&a.model);
    detector.score_threshold = a.score;
    detector.intra_threads = a.threads;
    let opts = Options {
        input: a.input,
        detector,
        tracker: Default::default(),
        reader: vigil::ingest::ReaderOptions {
            fps: a.fps,
            width: a.width,
        },
        format: if a.json { Format::Json } else { Format::Human },
        max_duration,
        rules,
    };
    let stdout = std::io::stdout().lock();
    vigil::analyze::run(&opts, std::io::BufWriter::new(stdout)).map(|_| ())
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the service: gRPC API, HTTP health and metrics.
    Serve(ServeArgs),
    /// Run the demo: the service, a test camera looping Debian's PETS 2009 clip over RTSP, and
    /// the demo camera registered through the API; prints incidents as they happen.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// The demo camera definition (zones and rules).
        #[arg(long, default_value = "demo/camera.toml")]
        camera_file: PathBuf,
        /// Use this camera URL instead of the built-in test camera.
        #[arg(long, env = "VIGIL_DEMO_URL")]
        url: Option<String>,
        /// The clip the built-in test camera serves (non-MP4 files are transcoded once).
        #[arg(long, default_value = vigil::demo::VTEST_AVI)]
        clip: PathBuf,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long)]
        duration: Option<f64>,
    },
    /// Analyse a clip or stream offline: detection and tracking, one line per analysed frame,
    /// then a summary (logs go to standard error).
    Analyze(AnalyzeArgs),
    /// Serve a video file as an RTSP camera on 127.0.0.1, looping forever (for tests and demos).
    Testcam {
        /// An MP4/MOV (served as recorded) or another file (transcoded to H.264, e.g. vtest.avi).
        file: PathBuf,
        /// Port (0 = any free port; the URL is printed).
        #[arg(long, default_value_t = 8554)]
        port: u16,
        /// Mount path.
        #[arg(long, default_value = "/stream")]
        path: String,
        /// Require this user (basic auth); the password comes from --password-env.
        #[arg(long, requires = "password_env")]
        user: Option<String>,
        /// Name of the environment variable holding the password.
        #[arg(long, requires = "user")]
        password_env: Option<String>,
    },
    /// Manage cameras on a running server.
    Cameras {
        /// Address of the vigil gRPC server.
        #[arg(long, env = "VIGIL_SERVER", default_value = "127.0.0.1:50051")]
        server: String,
        #[command(subcommand)]
        cmd: vigil::api::client::CameraCmd,
    },
    /// Watch, list, show and review incidents on a running server.
    Incidents {
        /// Address of the vigil gRPC server.
        #[arg(long, env = "VIGIL_SERVER", default_value = "127.0.0.1:50051")]
        server: String,
        #[command(subcommand)]
        cmd: vigil::api::incident_client::IncidentCmd,
    },
}

fn settings(a: &ServeArgs) -> Result<Settings, vigil::error::Error> {
    let log_format = match a.log_format.as_deref() {
        None => None,
        Some("human") => Some(LogFormat::Human),
        Some("json") => Some(LogFormat::Json),
        Some(other) => {
            return Err(vigil::err!(
                InvalidArgument,
                "--log-format: {other:?} is not human or json"
            ));
        }
    };
    Config::load(a.config.as_deref())?.resolve(Overrides {
        grpc_addr: a.grpc_addr.clone(),
        http_addr: a.http_addr.clone(),
        data_dir: a.data_dir.clone(),
        log_format,
    })
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil-rt")
        .build()
}

fn testcam(
    file: PathBuf,
    port: u16,
    path: String,
    user: Option<String>,
    password_env: Option<String>,
) -> Result<(), vigil::error::Error> {
    let credentials = match (user, password_env) {
        (Some(u), Some(var)) => {
            let pass = std::env::var(&var)
                .map_err(|_| vigil::err!(InvalidArgument, "--password-env: {var} is not set"))?;
            Some((u, pass))
        }
        _ => None,
    };
    let cam = vigil::ingest::TestCam::start(&vigil::ingest::TestCamOptions {
        file,
        port,
        path,
        credentials,
    })?;
    println!("{}", cam.url());
    cam.wait();
    Ok(())
}

fn main() -> ExitCode {
    vigil::alloc::tune();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Serve(a) => match settings(&a) {
            Ok(s) => {
                init_logging(s.log.format, &s.log.level);
                runtime()
                    .map_err(|e| vigil::err!(Internal, "starting runtime: {e}"))
                    .and_then(|rt| rt.block_on(vigil::server::run(s)))
            }
            Err(e) => Err(e),
        },
        Cmd::Demo {
            serve,
            camera_file,
            url,
            clip,
            duration,
        } => match (settings(&serve), seconds("--duration", duration)) {
            (Ok(s), Ok(duration)) => {
                init_logging(s.log.format, &s.log.level);
                let opts = vigil::demo::DemoOptions {
                    camera_file,
                    url,
                    clip,
                    duration,
                };
                runtime()
                    .map_err(|e| vigil::err!(Internal, "starting runtime: {e}"))
                    .and_then(|rt| rt.block_on(vigil::demo::run(s, opts)))
                    .map(|_| ())
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        Cmd::Analyze(a) => {
            init_logging(LogFormat::Human, "warn");
            analyze(a)
        }
        Cmd::Testcam {
            file,
            port,
            path,
            user,
            password_env,
        } => {
            init_logging(LogFormat::Human, "info");
            testcam(file, port, path, user, password_env)
        }
        Cmd::Cameras { server, cmd } => {
            init_logging(LogFormat::Human, "warn");
            runtime()
                .map_err(|e| vigil::err!(Internal, "starting runtime: {e}"))
                .and_then(|rt| rt.block_on(vigil::api::client::run(&server, cmd)))
        }
        Cmd::Incidents { server, cmd } => {
            init_logging(LogFormat::Human, "warn");
            runtime()
                .map_err(|e| vigil::err!(Internal, "starting runtime: {e}"))
                .and_then(|rt| rt.block_on(vigil::api::incident_client::run(&server, cmd)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: error: {e}");
            ExitCode::from(2)
        }
    }
}
