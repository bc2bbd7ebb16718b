//! The command-line client: `vigil cameras ...` talking to a running server over gRPC.

use std::path::PathBuf;

use clap::Subcommand;
use tonic::transport::Channel;

use super::convert::{CAMERA_PREFIX, kind_to_pb, severity_to_pb};
use super::pb;
use super::pb::camera_service_client::CameraServiceClient;
use crate::camera::{CameraFile, LineDirection, Transport};
use crate::err;
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Subcommand)]
pub enum CameraCmd {
    /// Register a camera. The password, if any, is read from VIGIL_CAMERA_PASSWORD (never a flag,
    /// so it stays out of the process list and shell history).
    Add {
        /// Camera id (1-63 of a-z, 0-9, '-'); default: from --file, else chosen by the server.
        #[arg(long)]
        id: Option<String>,
        /// Stream URL (rtsp://, rtsps:// or file:///); default: from --file.
        #[arg(long)]
        url: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// RTSP username (the password comes from VIGIL_CAMERA_PASSWORD).
        #[arg(long)]
        username: Option<String>,
        /// tcp (default) or udp.
        #[arg(long)]
        transport: Option<String>,
        /// Analysed frames per second (default: the server's).
        #[arg(long)]
        fps: Option<f64>,
        /// Register the camera disabled.
        #[arg(long)]
        disabled: bool,
        /// A camera file (TOML) with zones, lines and rules (see README).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// List cameras.
    List,
    /// Show one camera.
    Show { id: String },
    /// Delete a camera.
    Rm { id: String },
}

fn status_error(s: tonic::Status) -> Error {
    let kind = match s.code() {
        tonic::Code::InvalidArgument => ErrorKind::InvalidArgument,
        tonic::Code::NotFound => ErrorKind::NotFound,
        tonic::Code::AlreadyExists => ErrorKind::AlreadyExists,
        tonic::Code::Unavailable => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("server: {}", s.message()))
}

pub async fn connect(server: &str) -> Result<Channel> {
    let uri = if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    };
    let endpoint = Channel::from_shared(uri.clone())
        .map_err(|e| err!(InvalidArgument, "--server: {server:?}: {e}"))?;
    endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| err!(Unavailable, "cannot reach vigil at {uri}: {e}"))
}

/// Converts a camera file into the API's message.
pub fn camera_file_to_pb(f: &CameraFile) -> pb::Camera {
    let pt = |p: crate::rules::geometry::Point| pb::Point { x: p.x, y: p.y };
    pb::Camera {
        display_name: f.display_name.clone(),
        url: f.url.clone(),
        transport: match f.transport {
            Transport::Tcp => pb::Transport::Tcp,
            Transport::Udp => pb::Transport::Udp,
        } as i32,
        enabled: f.enabled,
        location: f.location.as_ref().map(|l| pb::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            address: l.address.clone(),
        }),
        analysis_fps: f.analysis_fps,
        zones: f
            .zones
            .iter()
            .map(|z| pb::Zone {
                id: z.id.clone(),
                display_name: z.display_name.clone(),
                polygon: z.polygon.iter().map(|&p| pt(p)).collect(),
            })
            .collect(),
        lines: f
            .lines
            .iter()
            .map(|l| pb::Line {
                id: l.id.clone(),
                display_name: l.display_name.clone(),
                a: Some(pt(l.a)),
                b: Some(pt(l.b)),
                direction: match l.direction {
                    LineDirection::Both => pb::LineDirection::Both,
                    LineDirection::LeftToRight => pb::LineDirection::LeftToRight,
                    LineDirection::RightToLeft => pb::LineDirection::RightToLeft,
                } as i32,
            })
            .collect(),
        rules: f
            .rules
            .iter()
            .map(|r| pb::Rule {
                id: r.id.clone(),
                kind: kind_to_pb(r.kind) as i32,
                zone_id: r.zone_id.clone(),
                severity: r.severity.map(|s| severity_to_pb(s) as i32).unwrap_or(0),
                classes: r.classes.clone(),
                params: r.params.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                schedule: r.schedule.clone(),
            })
            .collect(),
        ..Default::default()
    }
}

fn print_camera(c: &pb::Camera) {
    let id = c.name.strip_prefix(CAMERA_PREFIX).unwrap_or(&c.name);
    println!("{id}");
    println!("  name:        {}", c.display_name);
    println!("  url:         {}", c.url);
    println!(
        "  credentials: {}",
        if c.has_credentials { "set" } else { "none" }
    );
    println!("  enabled:     {}", c.enabled.unwrap_or(true));
    println!(
        "  fps:         {}",
        if c.analysis_fps == 0.0 {
            "server default".to_string()
        } else {
            c.analysis_fps.to_string()
        }
    );
    for z in &c.zones {
        let pts: Vec<String> = z
            .polygon
            .iter()
            .map(|p| format!("({:.3},{:.3})", p.x, p.y))
            .collect();
        println!("  zone {}: {}", z.id, pts.join(" "));
    }
    for l in &c.lines {
        let (a, b) = (l.a.unwrap_or_default(), l.b.unwrap_or_default());
        println!(
            "  line {}: ({:.3},{:.3}) -> ({:.3},{:.3})",
            l.id, a.x, a.y, b.x, b.y
        );
    }
    for r in &c.rules {
        let kind = pb::IncidentKind::try_from(r.kind)
            .map(|k| k.as_str_name())
            .unwrap_or("?");
        println!(
            "  rule {}: {kind} zone={} params={:?}",
            r.id, r.zone_id, r.params
        );
    }
}

pub async fn run(server: &str, cmd: CameraCmd) -> Result<()> {
    let mut client = CameraServiceClient::new(connect(server).await?);
    match cmd {
        CameraCmd::Add {
            id,
            url,
            name,
            username,
            transport,
            fps,
            disabled,
            file,
        } => {
            let f = match &file {
                Some(p) => CameraFile::load(p)?,
                None => CameraFile::default(),
            };
            let mut cam = camera_file_to_pb(&f);
            if let Some(u) = url {
                cam.url = u;
            }
            if let Some(n) = name {
                cam.display_name = n;
            }
            if let Some(t) = transport {
                cam.transport = match t.as_str() {
                    "tcp" => pb::Transport::Tcp as i32,
                    "udp" => pb::Transport::Udp as i32,
                    other => {
                        return Err(err!(
                            InvalidArgument,
                            "--transport: {other:?} is not tcp or udp"
                        ));
                    }
                };
            }
            if let Some(fps) = fps {
                cam.analysis_fps = fps;
            }
            if disabled {
                cam.enabled = Some(false);
            }
            if let Some(username) = username {
                let password = std::env::var("VIGIL_CAMERA_PASSWORD").unwrap_or_default();
                cam.credentials = Some(pb::Credentials { username, password });
            }
            let camera_id = id.unwrap_or(f.id);
            let c = client
                .create_camera(pb::CreateCameraRequest {
                    camera_id,
                    camera: Some(cam),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            print_camera(&c);
        }
        CameraCmd::List => {
            let mut token = String::new();
            loop {
                let r = client
                    .list_cameras(pb::ListCamerasRequest {
                        page_size: 200,
                        page_token: token,
                    })
                    .await
                    .map_err(status_error)?
                    .into_inner();
                for c in &r.cameras {
                    let id = c.name.strip_prefix(CAMERA_PREFIX).unwrap_or(&c.name);
                    let on = if c.enabled.unwrap_or(true) {
                        "enabled"
                    } else {
                        "disabled"
                    };
                    println!("{id}\t{on}\t{}\t{}", c.url, c.display_name);
                }
                if r.next_page_token.is_empty() {
                    break;
                }
                token = r.next_page_token;
            }
        }
        CameraCmd::Show { id } => {
            let c = client
                .get_camera(pb::GetCameraRequest {
                    name: format!("{CAMERA_PREFIX}{id}"),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            print_camera(&c);
        }
        CameraCmd::Rm { id } => {
            client
                .delete_camera(pb::DeleteCameraRequest {
                    name: format!("{CAMERA_PREFIX}{id}"),
                })
                .await
                .map_err(status_error)?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// Registers a camera from a camera file with `url`, replacing it when it already exists (used by
/// `vigil demo`). Returns its id.
pub async fn register(server: &str, file: &CameraFile, url: &str) -> Result<String> {
    let mut client = CameraServiceClient::new(connect(server).await?);
    let mut camera = camera_file_to_pb(file);
    camera.url = url.to_string();
    let created = client
        .create_camera(pb::CreateCameraRequest {
            camera_id: file.id.clone(),
            camera: Some(camera.clone()),
        })
        .await;
    match created {
        Ok(_) => {}
        Err(s) if s.code() == tonic::Code::AlreadyExists => {
            camera.name = format!("{CAMERA_PREFIX}{}", file.id);
            client
                .update_camera(pb::UpdateCameraRequest {
                    camera: Some(camera),
                    update_mask: None,
                })
                .await
                .map_err(status_error)?;
        }
        Err(s) => return Err(status_error(s)),
    }
    Ok(file.id.clone())
}
