//! The command-line client of the incident log: `vigil incidents watch|list|show|ack|resolve|note`
//! talking to a running server over gRPC (and `clip`, `snapshot` through `media_client`). `watch` resumes from the last sequence it printed when
//! the connection drops, so its output has no gap and no duplicate across reconnects.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use tonic::transport::Channel;

use super::client::connect;
use super::convert::CAMERA_PREFIX;
use super::incident_convert::INCIDENT_PREFIX;
use super::pb;
use super::pb::incident_service_client::IncidentServiceClient;
use crate::err;
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Subcommand)]
pub enum IncidentCmd {
    /// Print events as they are committed (replaying those after --after first); reconnects and
    /// resumes from the last printed sequence when the connection drops.
    Watch {
        /// Start after this sequence (0: the whole log).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Only these cameras (repeatable).
        #[arg(long = "camera")]
        cameras: Vec<String>,
        /// Only these kinds, e.g. INTRUSION (repeatable).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Only this severity and above: info, warning or critical.
        #[arg(long)]
        min_severity: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// List incidents, newest first.
    List {
        #[arg(long)]
        camera: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// open or closed.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one incident with its audit trail (and the HTTP URLs of its media).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        /// Address of the vigil HTTP listener, to print the media URLs with.
        #[arg(long, env = "VIGIL_HTTP_SERVER", default_value = "127.0.0.1:9090")]
        http: String,
    },
    /// Download an incident's clip (MP4) through MediaService.
    Clip {
        id: String,
        /// Where to write it (default: ID.mp4 in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Download an incident's snapshot (JPEG) through MediaService.
    Snapshot {
        id: String,
        /// The plain frame instead of the annotated snapshot.
        #[arg(long)]
        plain: bool,
        /// Where to write it (default: ID.jpg, or ID.frame.jpg with --plain).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Acknowledge an incident.
    Ack {
        id: String,
        /// Who acknowledges (default: $VIGIL_ACTOR, else $USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Resolve an incident: confirmed, false-alarm or duplicate.
    Resolve {
        id: String,
        resolution: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        actor: Option<String>,
    },
    /// Add a note to an incident.
    Note {
        id: String,
        text: String,
        #[arg(long)]
        actor: Option<String>,
    },
}

pub(super) fn status_error(s: tonic::Status) -> Error {
    let kind = match s.code() {
        tonic::Code::InvalidArgument => ErrorKind::InvalidArgument,
        tonic::Code::NotFound => ErrorKind::NotFound,
        tonic::Code::FailedPrecondition => ErrorKind::FailedPrecondition,
        tonic::Code::Unavailable => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("server: {}", s.message()))
}

fn actor(a: Option<String>) -> String {
    a.or_else(|| std::env::var("VIGIL_ACTOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default()
}

fn enum_value(field: &str, v: &str, names: &[(&str, i32)]) -> Result<i32> {
    let norm = v.trim().to_ascii_uppercase().replace('-', "_");
    names
        .iter()
        .find(|(n, _)| *n == norm)
        .map(|(_, i)| *i)
        .ok_or_else(|| {
            let all: Vec<String> = names
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase().replace('_', "-"))
                .collect();
            err!(
                InvalidArgument,
                "{field}: {v:?} is not one of {}",
                all.join(", ")
            )
        })
}

fn kind(field: &str, v: &str) -> Result<i32> {
    let names: Vec<(&str, i32)> = crate::rules::spec::IncidentKind::ALL
        .iter()
        .map(|&k| (k.as_str(), super::convert::kind_to_pb(k) as i32))
        .collect();
    enum_value(field, v, &names)
}

/// RFC 3339 in UTC with milliseconds (civil-from-days, no calendar crate needed).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        d.subsec_millis()
    )
}

fn ts(t: &Option<prost_types::Timestamp>) -> String {
    t.and_then(|t| SystemTime::try_from(t).ok())
        .map(rfc3339)
        .unwrap_or_default()
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

fn enum_name<E: TryFrom<i32>>(v: i32, f: impl Fn(&E) -> &'static str, prefix: &str) -> String {
    E::try_from(v)
        .map(|e| f(&e).strip_prefix(prefix).unwrap_or(f(&e)).to_string())
        .unwrap_or_else(|_| v.to_string())
}

fn incident_json(i: &pb::Incident) -> serde_json::Value {
    let clip = i.clip.unwrap_or_default();
    serde_json::json!({
        "id": short(&i.name, INCIDENT_PREFIX),
        "camera": short(&i.camera, CAMERA_PREFIX),
        "rule_id": i.rule_id,
        "kind": enum_name(i.kind, pb::IncidentKind::as_str_name, ""),
        "severity": enum_name(i.severity, pb::Severity::as_str_name, "SEVERITY_"),
        "zone_id": i.zone_id,
        "status": enum_name(i.status, pb::IncidentStatus::as_str_name, "INCIDENT_STATUS_"),
        "review_status": enum_name(i.review_status, pb::ReviewStatus::as_str_name, "REVIEW_STATUS_"),
        "resolution": enum_name(i.resolution, pb::Resolution::as_str_name, "RESOLUTION_"),
        "start_time": ts(&i.start_time),
        "end_time": ts(&i.end_time),
        "objects": i.objects.iter().map(|o| serde_json::json!({
            "track_id": o.track_id, "class": o.class, "box": o.r#box,
        })).collect::<Vec<_>>(),
        "peak": i.peak,
        "summary": i.summary,
        "snapshot": enum_name(i.snapshot, pb::SnapshotState::as_str_name, "SNAPSHOT_STATE_"),
        "clip": {
            "state": enum_name(clip.state, pb::ClipState::as_str_name, "CLIP_STATE_"),
            "start_time": ts(&clip.start_time),
            "end_time": ts(&clip.end_time),
        },
        "audit": i.audit.iter().map(audit_json).collect::<Vec<_>>(),
        "snapshot_url": i.snapshot_url,
        "clip_url": i.clip_url,
    })
}

fn audit_json(a: &pb::AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "time": ts(&a.time),
        "actor": a.actor,
        "action": enum_name(a.action, pb::IncidentEventType::as_str_name, "INCIDENT_EVENT_TYPE_"),
        "resolution": enum_name(a.resolution, pb::Resolution::as_str_name, "RESOLUTION_"),
        "note": a.note,
    })
}

fn event_json(e: &pb::IncidentEvent) -> serde_json::Value {
    serde_json::json!({
        "sequence": e.sequence,
        "type": enum_name(e.r#type, pb::IncidentEventType::as_str_name, "INCIDENT_EVENT_TYPE_"),
        "time": ts(&e.time),
        "incident": e.incident.as_ref().map(incident_json),
        "audit": e.audit.as_ref().map(audit_json),
    })
}

fn event_line(e: &pb::IncidentEvent) -> String {
    let v = event_json(e);
    let i = &v["incident"];
    let mut line = format!(
        "{} #{} {:<12} {} {} {} {} {}",
        v["time"].as_str().unwrap_or(""),
        e.sequence,
        v["type"].as_str().unwrap_or(""),
        i["id"].as_str().unwrap_or(""),
        i["camera"].as_str().unwrap_or(""),
        i["kind"].as_str().unwrap_or(""),
        i["severity"].as_str().unwrap_or(""),
        i["summary"].as_str().unwrap_or(""),
    );
    if let Some(a) = &e.audit {
        line.push_str(&format!(" [by {}: {}]", a.actor, a.note));
    }
    line
}

/// `http://ADDR` for an address without a scheme.
fn http_base(addr: &str) -> String {
    let base = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    base.trim_end_matches('/').to_string()
}

fn print_incident(i: &pb::Incident, http: &str) {
    let v = incident_json(i);
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    println!("{}", s("id"));
    println!(
        "  camera:     {}  rule: {}  zone: {}",
        s("camera"),
        s("rule_id"),
        s("zone_id")
    );
    println!("  kind:       {} ({})", s("kind"), s("severity"));
    println!(
        "  status:     {}  review: {}  resolution: {}",
        s("status"),
        s("review_status"),
        s("resolution")
    );
    println!("  time:       {} .. {}", s("start_time"), s("end_time"));
    println!("  summary:    {}", s("summary"));
    println!(
        "  snapshot:   {}  clip: {} {} .. {}",
        s("snapshot"),
        v["clip"]["state"].as_str().unwrap_or(""),
        v["clip"]["start_time"].as_str().unwrap_or(""),
        v["clip"]["end_time"].as_str().unwrap_or("")
    );
    for (what, url) in [("snapshot", &i.snapshot_url), ("clip", &i.clip_url)] {
        if !url.is_empty() {
            println!("  {:<13} {}{url}", format!("{what} url:"), http_base(http));
        }
    }
    for o in &i.objects {
        println!(
            "  object:     track {} {} {:?}",
            o.track_id, o.class, o.r#box
        );
    }
    for a in &i.audit {
        let a = audit_json(a);
        println!(
            "  audit:      {} {} {} {} {}",
            a["time"].as_str().unwrap_or(""),
            a["actor"].as_str().unwrap_or(""),
            a["action"].as_str().unwrap_or(""),
            a["resolution"].as_str().unwrap_or(""),
            a["note"].as_str().unwrap_or("")
        );
    }
}

async fn client(server: &str) -> Result<IncidentServiceClient<Channel>> {
    Ok(IncidentServiceClient::new(connect(server).await?))
}

fn name(id: &str) -> String {
    format!("{INCIDENT_PREFIX}{id}")
}

async fn watch(server: &str, mut req: pb::SubscribeRequest, json: bool) -> Result<()> {
    let mut backoff = Duration::from_millis(250);
    loop {
        let attempt = async {
            let mut c = client(server).await?;
            let mut s = c
                .subscribe(req.clone())
                .await
                .map_err(status_error)?
                .into_inner();
            loop {
                match s.message().await {
                    Ok(Some(ev)) => {
                        if json {
                            println!("{}", event_json(&ev));
                        } else {
                            println!("{}", event_line(&ev));
                        }
                        req.after_sequence = ev.sequence;
                    }
                    Ok(None) => return Err(err!(Unavailable, "the server ended the stream")),
                    Err(st) => return Err(status_error(st)),
                }
            }
        };
        let e: Error = match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::NotFound) {
            return Err(e);
        }
        eprintln!(
            "vigil: {e}; resuming after sequence {} in {:.1} s",
            req.after_sequence,
            backoff.as_secs_f64()
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

pub async fn run(server: &str, cmd: IncidentCmd) -> Result<()> {
    match cmd {
        IncidentCmd::Watch {
            after,
            cameras,
            kinds,
            min_severity,
            json,
        } => {
            let req = pb::SubscribeRequest {
                after_sequence: after,
                cameras: cameras
                    .iter()
                    .map(|c| format!("{CAMERA_PREFIX}{c}"))
                    .collect(),
                kinds: kinds
                    .iter()
                    .map(|k| kind("--kind", k))
                    .collect::<Result<Vec<_>>>()?,
                min_severity: match min_severity {
                    None => 0,
                    Some(s) => enum_value(
                        "--min-severity",
                        &s,
                        &[("INFO", 1), ("WARNING", 2), ("CRITICAL", 3)],
                    )?,
                },
            };
            watch(server, req, json).await
        }
        IncidentCmd::List {
            camera,
            kind: k,
            status,
            limit,
            json,
        } => {
            let mut c = client(server).await?;
            let mut req = pb::ListIncidentsRequest {
                camera: camera
                    .map(|c| format!("{CAMERA_PREFIX}{c}"))
                    .unwrap_or_default(),
                kind: k.map(|k| kind("--kind", &k)).transpose()?.unwrap_or(0),
                status: status
                    .map(|s| enum_value("--status", &s, &[("OPEN", 1), ("CLOSED", 2)]))
                    .transpose()?
                    .unwrap_or(0),
                ..Default::default()
            };
            let mut left = limit;
            while left > 0 {
                req.page_size = left.min(1000) as i32;
                let r = c
                    .list_incidents(req.clone())
                    .await
                    .map_err(status_error)?
                    .into_inner();
                for i in &r.incidents {
                    if json {
                        println!("{}", incident_json(i));
                    } else {
                        let v = incident_json(i);
                        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                            s("id"),
                            s("start_time"),
                            s("camera"),
                            s("kind"),
                            s("status"),
                            s("review_status"),
                            s("summary")
                        );
                    }
                }
                left = left.saturating_sub(r.incidents.len());
                if r.next_page_token.is_empty() {
                    break;
                }
                req.page_token = r.next_page_token;
            }
            Ok(())
        }
        IncidentCmd::Show { id, json, http } => {
            let i = client(server)
                .await?
                .get_incident(pb::GetIncidentRequest { name: name(&id) })
                .await
                .map_err(status_error)?
                .into_inner();
            if json {
                println!("{}", incident_json(&i));
            } else {
                print_incident(&i, &http);
            }
            Ok(())
        }
        IncidentCmd::Clip { id, out } => {
            let (path, n) = super::media_client::download_clip(server, &id, out).await?;
            println!("wrote {} ({n} bytes)", path.display());
            Ok(())
        }
        IncidentCmd::Snapshot { id, plain, out } => {
            let (path, n) = super::media_client::download_snapshot(server, &id, plain, out).await?;
            println!("wrote {} ({n} bytes)", path.display());
            Ok(())
        }
        IncidentCmd::Ack { id, actor: a } => {
            let i = client(server)
                .await?
                .acknowledge_incident(pb::AcknowledgeIncidentRequest {
                    name: name(&id),
                    actor: actor(a),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            println!("acknowledged {}", short(&i.name, INCIDENT_PREFIX));
            Ok(())
        }
        IncidentCmd::Resolve {
            id,
            resolution,
            note,
            actor: a,
        } => {
            let resolution = enum_value(
                "RESOLUTION",
                &resolution,
                &[("CONFIRMED", 1), ("FALSE_ALARM", 2), ("DUPLICATE", 3)],
            )?;
            let i = client(server)
                .await?
                .resolve_incident(pb::ResolveIncidentRequest {
                    name: name(&id),
                    actor: actor(a),
                    resolution,
                    note: note.unwrap_or_default(),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            println!("resolved {}", short(&i.name, INCIDENT_PREFIX));
            Ok(())
        }
        IncidentCmd::Note { id, text, actor: a } => {
            let i = client(server)
                .await?
                .add_incident_note(pb::AddIncidentNoteRequest {
                    name: name(&id),
                    actor: actor(a),
                    note: text,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            println!("noted {}", short(&i.name, INCIDENT_PREFIX));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (1_796_359_845_000, "2026-12-04T04:50:45.000Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(ms)), want);
        }
    }

    #[test]
    fn enum_flags_are_checked() {
        assert_eq!(kind("--kind", "intrusion").unwrap(), 5);
        assert_eq!(kind("--kind", "wrong-way").unwrap(), 1);
        let e = kind("--kind", "fire").unwrap_err().to_string();
        assert!(e.starts_with("--kind: \"fire\""), "{e}");
    }
}
