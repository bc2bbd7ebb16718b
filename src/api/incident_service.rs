//! `vigil.v1.IncidentService`: subscription with replay, queries and the review workflow over the
//! incident log. Requests are validated completely (INVALID_ARGUMENT naming the field) before the
//! log is touched; store reads run on the blocking pool; every write goes through the incident
//! writer, so review actions are committed events like the rule engines' ones.

use std::pin::Pin;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::{camera_id_from_name, kind_from_pb};
use super::incident_convert::{
    audit_to_pb, event_to_pb, incident_id_from_name, incident_to_pb, min_severity_from_pb,
    resolution_from_pb, review_from_pb, status_from_pb, time_from_pb,
};
use super::pb;
use super::status::to_status;
use crate::error::Result;
use crate::incidents::model::IncidentQuery;
use crate::incidents::{Filter, IncidentLog, ReviewAction};
use crate::store::IncidentStore;
use crate::{bail, err};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;
const MAX_FILTER_ITEMS: usize = 100;
const MAX_ACTOR_CHARS: usize = 128;
const MAX_NOTE_CHARS: usize = 2000;
/// Events converted and waiting for the client's connection, per subscriber.
const STREAM_BUFFER: usize = 32;

pub struct IncidentApi {
    log: IncidentLog,
}

impl IncidentApi {
    pub fn new(log: IncidentLog) -> Self {
        IncidentApi { log }
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn IncidentStore) -> Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        read_store(&self.log, f).await
    }
}

/// Runs a read of the incident log's store on the blocking pool.
pub(super) async fn read_store<T: Send + 'static>(
    log: &IncidentLog,
    f: impl FnOnce(&dyn IncidentStore) -> Result<T> + Send + 'static,
) -> Result<T, Status> {
    let store = log.store().clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| Status::internal(format!("store task failed: {e}")))?
        .map_err(to_status)
}

fn check_actor(actor: &str) -> Result<()> {
    let n = actor.chars().count();
    if n == 0 || actor.trim().is_empty() {
        bail!(InvalidArgument, "actor: required (who does this)");
    }
    if n > MAX_ACTOR_CHARS {
        bail!(
            InvalidArgument,
            "actor: longer than {MAX_ACTOR_CHARS} characters"
        );
    }
    if actor.chars().any(char::is_control) {
        bail!(InvalidArgument, "actor: contains control characters");
    }
    Ok(())
}

fn check_note(note: &str, required: bool) -> Result<()> {
    if required && note.trim().is_empty() {
        bail!(InvalidArgument, "note: required");
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        bail!(
            InvalidArgument,
            "note: longer than {MAX_NOTE_CHARS} characters"
        );
    }
    if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        bail!(InvalidArgument, "note: contains control characters");
    }
    Ok(())
}

fn filter_from(r: &pb::SubscribeRequest) -> Result<Filter> {
    if r.cameras.len() > MAX_FILTER_ITEMS {
        bail!(
            InvalidArgument,
            "cameras: more than {MAX_FILTER_ITEMS} entries"
        );
    }
    if r.kinds.len() > MAX_FILTER_ITEMS {
        bail!(
            InvalidArgument,
            "kinds: more than {MAX_FILTER_ITEMS} entries"
        );
    }
    let cameras = r
        .cameras
        .iter()
        .enumerate()
        .map(|(i, c)| camera_id_from_name(&format!("cameras[{i}]"), c))
        .collect::<Result<Vec<_>>>()?;
    let kinds = r
        .kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| kind_from_pb(&format!("kinds[{i}]"), k))
        .collect::<Result<Vec<_>>>()?;
    Ok(Filter {
        cameras,
        kinds,
        min_severity: min_severity_from_pb("min_severity", r.min_severity)?,
    })
}

fn query_from(r: &pb::ListIncidentsRequest) -> Result<(IncidentQuery, Option<i64>, usize)> {
    let limit = match r.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n if n < 0 => bail!(InvalidArgument, "page_size: {n} is negative"),
        n => (n as usize).min(MAX_PAGE_SIZE),
    };
    let before = if r.page_token.is_empty() {
        None
    } else {
        let n = r
            .page_token
            .parse::<i64>()
            .ok()
            .filter(|&n| n > 0 && r.page_token.len() <= 20);
        Some(n.ok_or_else(|| {
            err!(
                InvalidArgument,
                "page_token: not a token returned by ListIncidents"
            )
        })?)
    };
    let q = IncidentQuery {
        start_after: r
            .start_after
            .as_ref()
            .map(|t| time_from_pb("start_after", t))
            .transpose()?,
        start_before: r
            .start_before
            .as_ref()
            .map(|t| time_from_pb("start_before", t))
            .transpose()?,
        camera_id: if r.camera.is_empty() {
            None
        } else {
            Some(camera_id_from_name("camera", &r.camera)?)
        },
        kind: if r.kind == 0 {
            None
        } else {
            Some(kind_from_pb("kind", r.kind)?)
        },
        status: status_from_pb("status", r.status)?,
        review: review_from_pb("review_status", r.review_status)?,
    };
    if let (Some(a), Some(b)) = (q.start_after, q.start_before)
        && b < a
    {
        bail!(InvalidArgument, "start_before: earlier than start_after");
    }
    Ok((q, before, limit))
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::IncidentEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::incident_service_server::IncidentService for IncidentApi {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let r = req.into_inner();
        let filter = filter_from(&r).map_err(to_status)?;
        let after = r.after_sequence;
        let last = self.read(|s| s.last_incident_sequence()).await?;
        if after > last {
            return Err(to_status(err!(
                InvalidArgument,
                "after_sequence: {after} is beyond the last committed sequence {last} (is this \
                 the right server?)"
            )));
        }
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let log = self.log.clone();
        tokio::spawn(async move { log.follow(after, filter, tx).await });
        let stream = ReceiverStream::new(rx).map(|r| match r {
            Ok(ev) => Ok(event_to_pb(&ev)),
            Err(e) => Err(to_status(e)),
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_incidents(
        &self,
        req: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        let (q, before, limit) = query_from(req.get_ref()).map_err(to_status)?;
        let rows = self
            .read(move |s| s.list_incidents(&q, before, limit + 1))
            .await?;
        let more = rows.len() > limit;
        let page = &rows[..rows.len().min(limit)];
        Ok(Response::new(pb::ListIncidentsResponse {
            incidents: page.iter().map(|(_, i)| incident_to_pb(i)).collect(),
            next_page_token: match page.last() {
                Some((n, _)) if more => n.to_string(),
                _ => String::new(),
            },
        }))
    }

    async fn get_incident(
        &self,
        req: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::Incident>, Status> {
        let id = incident_id_from_name("name", &req.get_ref().name).map_err(to_status)?;
        let (inc, audit) = self
            .read(move |s| Ok((s.get_incident(&id)?, s.incident_audit(&id)?)))
            .await?;
        let mut out = incident_to_pb(&inc);
        out.audit = audit.iter().map(audit_to_pb).collect();
        Ok(Response::new(out))
    }

    async fn acknowledge_incident(
        &self,
        req: Request<pb::AcknowledgeIncidentRequest>,
    ) -> Result<Response<pb::Incident>, Status> {
        let r = req.into_inner();
        let id = incident_id_from_name("name", &r.name).map_err(to_status)?;
        check_actor(&r.actor).map_err(to_status)?;
        self.act(&id, &r.actor, ReviewAction::Acknowledge).await
    }

    async fn resolve_incident(
        &self,
        req: Request<pb::ResolveIncidentRequest>,
    ) -> Result<Response<pb::Incident>, Status> {
        let r = req.into_inner();
        let id = incident_id_from_name("name", &r.name).map_err(to_status)?;
        check_actor(&r.actor).map_err(to_status)?;
        let resolution = resolution_from_pb("resolution", r.resolution).map_err(to_status)?;
        check_note(&r.note, false).map_err(to_status)?;
        let action = ReviewAction::Resolve {
            resolution,
            note: r.note,
        };
        self.act(&id, &r.actor, action).await
    }

    async fn add_incident_note(
        &self,
        req: Request<pb::AddIncidentNoteRequest>,
    ) -> Result<Response<pb::Incident>, Status> {
        let r = req.into_inner();
        let id = incident_id_from_name("name", &r.name).map_err(to_status)?;
        check_actor(&r.actor).map_err(to_status)?;
        check_note(&r.note, true).map_err(to_status)?;
        self.act(&id, &r.actor, ReviewAction::Note { note: r.note })
            .await
    }
}

impl IncidentApi {
    async fn act(
        &self,
        id: &str,
        actor: &str,
        action: ReviewAction,
    ) -> Result<Response<pb::Incident>, Status> {
        let ev = self
            .log
            .review(id, actor, action)
            .await
            .map_err(to_status)?;
        Ok(Response::new(incident_to_pb(&ev.incident)))
    }
}
