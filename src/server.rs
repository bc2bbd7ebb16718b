//! Assembles and runs the service: opens the store, starts the incident writer and media
//! retention, detection and the ingest manager, binds the gRPC and HTTP listeners (logging the
//! addresses actually bound), and shuts everything down in order within a deadline: ingest,
//! then detection, then the incident writer (which drains its queue), then the listeners.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::analysis::{AnalysisDeps, AnalysisMetrics};
use crate::api::{self, ApiDeps};
use crate::config::Settings;
use crate::detect::Scheduler;
use crate::error::{ErrorKind, Result, ResultExt};
use crate::incidents::{self, IncidentLog, IncidentWriter};
use crate::ingest::{Detection, Manager, StatusBoard};
use crate::metrics::Metrics;
use crate::store::{IncidentStore, SqliteStore, Store};

/// A started service.
pub struct Running {
    pub grpc_addr: SocketAddr,
    /// Live ingest status of every camera.
    pub status: StatusBoard,
    /// Why detection is not running (no ONNX Runtime, no model), or `None` when it runs.
    pub detection_error: Option<String>,
    pub http_addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub metrics: Metrics,
    pub camera_changes: watch::Receiver<u64>,
    /// The incident log: the rule engines submit their events here (`engine()` once per engine
    /// life, then `submit`); the media stage reports snapshots and clips with `media_ready`.
    pub incidents: IncidentLog,
    writer: Option<IncidentWriter>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<Result<()>>,
    /// Ingest stops first, then detection, then the incident writer, then the listeners.
    ingest_stop: watch::Sender<bool>,
    ingest: Option<tokio::task::JoinHandle<()>>,
    scheduler: Option<Arc<Scheduler>>,
}

async fn bind(what: &str, addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.ctx(
        ErrorKind::Unavailable,
        format!("cannot listen on {addr} ({what})"),
    )
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Opens the store and starts the listeners.
pub async fn start(settings: &Settings) -> Result<Running> {
    // Also here for embedders (tests, benches) whose main did not call it.
    crate::alloc::tune();
    api::codec::set_max_message_bytes(settings.max_request_bytes);
    let data_dir = settings.data_dir.clone();
    let sqlite = Arc::new(
        tokio::task::spawn_blocking(move || SqliteStore::open(&data_dir))
            .await
            .ctx(ErrorKind::Internal, "opening the store")??,
    );
    let store: Arc<dyn Store> = sqlite.clone();
    let incident_store: Arc<dyn IncidentStore> = sqlite;
    let grpc = bind("gRPC", settings.grpc_addr).await?;
    let http = bind("HTTP", settings.http_addr).await?;
    let grpc_addr = grpc
        .local_addr()
        .ctx(ErrorKind::Internal, "reading gRPC address")?;
    let http_addr = http
        .local_addr()
        .ctx(ErrorKind::Internal, "reading HTTP address")?;
    let metrics = Metrics::new();
    let (incident_log, writer) = incidents::start(incident_store)?;
    incident_log.hub().metrics().register(&metrics);
    let (stop, stop_rx) = watch::channel(false);
    let (camera_changes, camera_changes_rx) = watch::channel(0u64);
    let status = StatusBoard::new(&metrics)?;
    let detection = start_detection(settings, &metrics).await;
    let (scheduler, detection_error) = match &detection {
        Detection::Running(s) => (Some(s.clone()), None),
        Detection::Unavailable(why) => (None, Some(why.clone())),
    };
    let (ingest_stop, ingest_stop_rx) = watch::channel(false);
    let analysis = AnalysisDeps {
        incidents: incident_log.clone(),
        data_dir: settings.data_dir.clone(),
        media: settings.media.clone(),
        metrics: AnalysisMetrics::new(&metrics),
    };
    let manager = Manager::new(
        store.clone(),
        status.clone(),
        settings.ingest.clone(),
        detection,
        analysis,
    );
    let ingest = tokio::spawn(manager.run(camera_changes_rx.clone(), ingest_stop_rx));
    let mut tasks = JoinSet::new();
    tasks.spawn(api::serve_grpc(
        grpc,
        ApiDeps {
            store: store.clone(),
            camera_changes,
            incidents: incident_log.clone(),
            status: status.clone(),
            data_dir: settings.data_dir.clone(),
        },
        stopped(stop_rx.clone()),
    ));
    tasks.spawn(incidents::retention::run(
        incident_log.clone(),
        settings.data_dir.clone(),
        settings.retention.clone(),
        stop_rx.clone(),
    ));
    tasks.spawn(api::serve_http(
        http,
        metrics.clone(),
        settings.data_dir.clone(),
        stopped(stop_rx),
    ));
    tracing::info!(%grpc_addr, %http_addr, data_dir = %settings.data_dir.display(), "vigil is serving");
    Ok(Running {
        grpc_addr,
        status,
        detection_error,
        ingest_stop,
        ingest: Some(ingest),
        scheduler,
        http_addr,
        store,
        metrics,
        camera_changes: camera_changes_rx,
        incidents: incident_log,
        writer: Some(writer),
        stop,
        tasks,
    })
}

impl Running {
    /// Stops ingest and detection, lets the incident writer commit what is queued, then stops
    /// the listeners and waits for them, all within `deadline`.
    pub async fn shutdown(mut self, deadline: std::time::Duration) -> Result<()> {
        let ingest_stop = self.ingest_stop.clone();
        let ingest = self.ingest.take();
        let scheduler = self.scheduler.take();
        let writer = self.writer.take();
        let drain = async {
            // Ingest first (pipelines to NULL, consumers drained), then detection, then the
            // incident writer (commits what is queued), then the API.
            let _ = ingest_stop.send(true);
            if let Some(t) = ingest {
                let _ = t.await;
            }
            if let Some(s) = scheduler {
                let _ = tokio::task::spawn_blocking(move || drop(s)).await;
            }
            if let Some(w) = writer {
                w.stop().await;
            }
            let _ = self.stop.send(true);
            let mut first_err = None;
            while let Some(r) = self.tasks.join_next().await {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => first_err = first_err.or(Some(e)),
                    Err(e) => {
                        first_err = first_err.or(Some(crate::err!(Internal, "task panicked: {e}")))
                    }
                }
            }
            first_err.map_or(Ok(()), Err)
        };
        match tokio::time::timeout(deadline, drain).await {
            Ok(r) => r,
            Err(_) => {
                self.tasks.abort_all();
                tracing::warn!(
                    ?deadline,
                    "shutdown deadline passed; remaining tasks aborted"
                );
                Ok(())
            }
        }
    }

    /// Returns when a listener task ends by itself (an error: they run until shutdown).
    pub async fn failed(&mut self) -> Result<()> {
        match self.tasks.join_next().await {
            Some(Ok(r)) => r.and(Err(crate::err!(
                Internal,
                "a listener stopped unexpectedly"
            ))),
            Some(Err(e)) => Err(crate::err!(Internal, "a listener panicked: {e}")),
            None => std::future::pending().await,
        }
    }
}

/// Starts the detection scheduler, or says why it cannot run: the service streams anyway.
async fn start_detection(settings: &Settings, metrics: &Metrics) -> Detection {
    let cfg = settings.detect.clone();
    let m = metrics.clone();
    match tokio::task::spawn_blocking(move || Scheduler::start(&cfg, &m)).await {
        Ok(Ok(s)) => Detection::Running(Arc::new(s)),
        Ok(Err(e)) => {
            let why = format!("detection unavailable: {e}");
            tracing::warn!(error = %why, "cameras will stream without analysis");
            Detection::Unavailable(why)
        }
        Err(e) => Detection::Unavailable(format!("detection unavailable: {e}")),
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%e, "cannot watch SIGTERM; only Ctrl-C stops the service");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs the service until a signal arrives, then shuts down within the configured deadline.
pub async fn run(settings: Settings) -> Result<()> {
    let running = start(&settings).await?;
    running.until_signal(settings.shutdown_timeout).await
}

impl Running {
    /// Serves until SIGINT/SIGTERM (or a listener failure), then shuts down within `deadline`.
    pub async fn until_signal(mut self, deadline: std::time::Duration) -> Result<()> {
        tokio::select! {
            _ = shutdown_signal() => tracing::info!("shutting down"),
            r = self.failed() => return r,
        }
        self.shutdown(deadline).await?;
        tracing::info!("stopped");
        Ok(())
    }
}
