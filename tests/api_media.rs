//! The media of incidents over a real server on loopback: `MediaService` through the generated
//! tonic client, the HTTP media routes through a small HTTP/1.1 client on a raw TCP stream (so
//! that paths reach the server exactly as written, `../` included), and `vigil incidents clip`
//! and `snapshot` through the real binary. The clip is a real H.264 MP4 made in the test with
//! `gst-launch-1.0`, the snapshots real JPEGs; they sit at their `media::paths` locations and are
//! reported with `media_ready`, as the media stage does.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::incident_service_client::IncidentServiceClient;
use vigil::api::pb::media_service_client::MediaServiceClient;
use vigil::incidents::MediaUpdate;
use vigil::incidents::model::{Clip, ClipState, SnapshotState};
use vigil::media::paths;
use vigil::server::Running;

const BIN: &str = env!("CARGO_BIN_EXE_vigil");
const WAIT: Duration = Duration::from_secs(60);
const CHUNK: usize = 64 * 1024;

async fn start(dir: &Path) -> Running {
    let settings = common::loopback(dir.to_path_buf());
    vigil::server::start(&settings).await.unwrap()
}

async fn channel(r: &Running) -> Channel {
    Channel::from_shared(format!("http://{}", r.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Opens an incident (as a rule engine does); returns its id.
async fn open(r: &Running, key: u64) -> String {
    let engine = r.incidents.engine();
    let ev = r
        .incidents
        .submit(
            engine,
            common::opened_event(key, format!("person {key} on the lawn")),
        )
        .await
        .unwrap();
    ev.incident.id
}

/// A 2 s H.264 MP4 of noise (incompressible, so it spans several 64 KiB chunks).
fn make_mp4(path: &Path) {
    let out = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=50",
            "pattern=snow",
            "!",
            "video/x-raw,width=320,height=240,framerate=25/1",
            "!",
            "x264enc",
            "speed-preset=ultrafast",
            "bitrate=1500",
            "!",
            "mp4mux",
            "!",
            "filesink",
        ])
        .arg(format!("location={}", path.display()))
        .output()
        .expect("gst-launch-1.0 (scripts/setup installs gstreamer1.0-tools)");
    assert!(
        out.status.success(),
        "gst-launch-1.0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn jpeg(shade: u8) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([shade, x as u8 * 4, y as u8 * 5]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The media of one incident, written where the media stage writes them.
struct Media {
    clip: Vec<u8>,
    snapshot: Vec<u8>,
    frame: Vec<u8>,
}

fn write(path: PathBuf, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Puts a clip and both snapshots of `id` in place and reports them ready.
async fn media_ready(r: &Running, dir: &Path, id: &str, mp4: &Path) -> Media {
    let m = Media {
        clip: std::fs::read(mp4).unwrap(),
        snapshot: jpeg(200),
        frame: jpeg(20),
    };
    write(paths::clip_path(dir, id).unwrap(), &m.clip);
    write(paths::snapshot_path(dir, id, true).unwrap(), &m.snapshot);
    write(paths::snapshot_path(dir, id, false).unwrap(), &m.frame);
    r.incidents
        .media_ready(id, MediaUpdate::Snapshot(SnapshotState::Available))
        .await
        .unwrap();
    let now = SystemTime::now();
    let clip = Clip {
        state: ClipState::Ready,
        start: Some(now - Duration::from_secs(2)),
        end: Some(now),
    };
    r.incidents
        .media_ready(id, MediaUpdate::Clip(clip))
        .await
        .unwrap();
    m
}

/// An HTTP response as read off the wire.
#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), the target sent verbatim.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    range: Option<&str>,
) -> HttpResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(r) = range {
        req.push_str(&format!("Range: {r}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .expect("HTTP response in time")
        .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: BTreeMap<String, String> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    assert!(
        !headers.contains_key("transfer-encoding"),
        "media responses carry a Content-Length: {headers:?}"
    );
    HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

async fn download(
    c: &mut MediaServiceClient<Channel>,
    id: &str,
) -> Result<Vec<pb::ClipChunk>, tonic::Status> {
    let mut s = c
        .download_clip(pb::DownloadClipRequest {
            name: format!("incidents/{id}"),
        })
        .await?
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(ch) = s.message().await? {
        chunks.push(ch);
    }
    Ok(chunks)
}

async fn snapshot(
    c: &mut MediaServiceClient<Channel>,
    name: &str,
    plain: bool,
) -> Result<pb::Snapshot, tonic::Status> {
    c.get_snapshot(pb::GetSnapshotRequest {
        name: name.into(),
        plain,
    })
    .await
    .map(tonic::Response::into_inner)
}

/// A server with one incident whose clip (a real MP4) and snapshots are ready.
async fn server_with_media() -> (tempfile::TempDir, Running, String, Media) {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("source.mp4");
    make_mp4(&mp4);
    let r = start(dir.path()).await;
    let id = open(&r, 1).await;
    let m = media_ready(&r, dir.path(), &id, &mp4).await;
    (dir, r, id, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_and_snapshots_arrive_byte_identical_over_grpc_and_http() {
    let (_dir, r, id, m) = server_with_media().await;
    let size = m.clip.len();
    assert!(
        size > 3 * CHUNK,
        "the clip spans several chunks ({size} bytes)"
    );
    let mut c = MediaServiceClient::new(channel(&r).await);

    // DownloadClip: contiguous chunks of at most 64 KiB that reassemble the file.
    let chunks = download(&mut c, &id).await.unwrap();
    let mut offset = 0u64;
    for ch in &chunks {
        assert_eq!(ch.offset, offset);
        assert_eq!(ch.total_size, size as u64);
        assert_eq!(ch.content_type, "video/mp4");
        assert!(!ch.data.is_empty() && ch.data.len() <= CHUNK);
        offset += ch.data.len() as u64;
    }
    assert_eq!(chunks.len(), size.div_ceil(CHUNK));
    let joined: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
    assert!(joined == m.clip, "the downloaded clip equals the file");

    // GetSnapshot: the annotated snapshot, or the plain frame.
    let name = format!("incidents/{id}");
    for (plain, want) in [(false, &m.snapshot), (true, &m.frame)] {
        let s = snapshot(&mut c, &name, plain).await.unwrap();
        assert_eq!(s.content_type, "image/jpeg");
        assert!(&s.data == want, "plain={plain}");
    }

    // The incident names its media's HTTP paths.
    let inc = IncidentServiceClient::new(channel(&r).await)
        .get_incident(pb::GetIncidentRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    let clip_url = format!("/media/incidents/{id}/clip.mp4");
    let snap_url = format!("/media/incidents/{id}/snapshot.jpg");
    assert_eq!(
        (inc.snapshot_url.as_str(), inc.clip_url.as_str()),
        (snap_url.as_str(), clip_url.as_str())
    );

    // HTTP: whole files, byte ranges, HEAD.
    let frame_url = format!("/media/incidents/{id}/frame.jpg");
    let n = size as u64;
    // (method, Range, status, body = clip[range]); Content-Range follows from the body.
    let cases = [
        ("GET", None, 200, 0..size),
        ("GET", Some("bytes=0-1023".to_string()), 206, 0..1024),
        (
            "GET",
            Some("bytes=100000-170000".into()),
            206,
            100_000..170_001,
        ),
        ("GET", Some("bytes=70000-70000".into()), 206, 70_000..70_001),
        ("GET", Some("bytes=-500".into()), 206, size - 500..size),
        (
            "GET",
            Some(format!("bytes={}-", n - 10)),
            206,
            size - 10..size,
        ),
        ("GET", Some(format!("bytes=0-{}", n + 1000)), 206, 0..size),
        ("GET", Some(format!("bytes={n}-")), 416, 0..0),
        (
            "GET",
            Some(format!("bytes={}-{}", n + 5, n + 10)),
            416,
            0..0,
        ),
        ("GET", Some("bytes=0-1,5-9".into()), 200, 0..size),
        ("HEAD", None, 200, 0..0),
        ("HEAD", Some("bytes=-500".into()), 206, 0..0),
    ];
    for (method, range, status, body) in cases {
        let what = format!("{method} {clip_url} {range:?}");
        let resp = http(r.http_addr, method, &clip_url, range.as_deref()).await;
        assert_eq!(
            resp.status,
            status,
            "{what}: {:?}",
            String::from_utf8_lossy(&resp.body)
        );
        assert!(
            resp.body == m.clip[body.clone()],
            "{what}: body is clip[{body:?}] ({} bytes)",
            resp.body.len()
        );
        let (content_range, content_length) = match (method, status) {
            ("HEAD", 206) => (format!("bytes {}-{}/{n}", n - 500, n - 1), 500),
            ("HEAD", _) => (String::new(), size),
            (_, 206) => (
                format!("bytes {}-{}/{n}", body.start, body.end - 1),
                body.len(),
            ),
            (_, 416) => (format!("bytes */{n}"), 0),
            _ => (String::new(), body.len()),
        };
        assert_eq!(resp.header("content-range"), content_range, "{what}");
        assert_eq!(
            resp.header("content-length"),
            content_length.to_string(),
            "{what}"
        );
        assert_eq!(resp.header("accept-ranges"), "bytes", "{what}");
        if status != 416 {
            assert_eq!(resp.header("content-type"), "video/mp4", "{what}");
        }
    }
    for (path, want) in [(&snap_url, &m.snapshot), (&frame_url, &m.frame)] {
        let resp = http(r.http_addr, "GET", path, None).await;
        assert_eq!(
            (resp.status, resp.header("content-type")),
            (200, "image/jpeg"),
            "{path}"
        );
        assert!(&resp.body == want, "{path}");
        let resp = http(r.http_addr, "GET", path, Some("bytes=-100")).await;
        assert_eq!(resp.status, 206, "{path}");
        assert!(resp.body == want[want.len() - 100..], "{path}");
    }
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_and_paths_that_try_to_leave_the_data_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let id = open(&r, 1).await;
    let pending = open(&r, 2).await;
    // Files an escape would reach: beside the media folder, in it, and a clip still being written.
    const SECRET: &[u8] = b"SECRET-NOT-FOR-CLIENTS";
    write(dir.path().join("secret.mp4"), SECRET);
    write(dir.path().join("media/secret.jpg"), SECRET);
    write(
        paths::partial_path(&paths::clip_path(dir.path(), &pending).unwrap()),
        SECRET,
    );
    // The real media of `id`, so that refusals are not just "no such file".
    write(paths::clip_path(dir.path(), &id).unwrap(), b"real clip");
    write(
        paths::snapshot_path(dir.path(), &id, true).unwrap(),
        b"real snapshot",
    );
    r.incidents
        .media_ready(&id, MediaUpdate::Snapshot(SnapshotState::Available))
        .await
        .unwrap();
    r.incidents
        .media_ready(
            &id,
            MediaUpdate::Clip(Clip {
                state: ClipState::Ready,
                start: None,
                end: None,
            }),
        )
        .await
        .unwrap();

    let upper = id.to_ascii_uppercase();
    let db = dir.path().join("vigil.db");
    let abs = db.display().to_string();
    let mut c = MediaServiceClient::new(channel(&r).await);
    let bad_names = [
        "incidents/../secret".to_string(),
        "incidents/../../secret".to_string(),
        "incidents/..%2fsecret".to_string(),
        "incidents/%2e%2e%2fsecret".to_string(),
        format!("incidents/{abs}"),
        format!("incidents//{id}"),
        format!("incidents/{upper}"),
        format!("incidents/{pending}.mp4.part"),
        format!("incidents/{id}/../secret"),
        "incidents/a/b".to_string(),
        "incidents/".to_string(),
        "incidents/secret\0".to_string(),
        format!("../incidents/{id}"),
        format!("Incidents/{id}"),
        id.clone(),
    ];
    for name in &bad_names {
        let st = c
            .download_clip(pb::DownloadClipRequest { name: name.clone() })
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            st.code(),
            Code::InvalidArgument,
            "DownloadClip {name:?}: {st:?}"
        );
        assert!(
            st.message().starts_with("name: "),
            "{name:?}: {}",
            st.message()
        );
        let st = snapshot(&mut c, name, false).await.unwrap_err();
        assert_eq!(
            st.code(),
            Code::InvalidArgument,
            "GetSnapshot {name:?}: {st:?}"
        );
        assert!(
            st.message().starts_with("name: "),
            "{name:?}: {}",
            st.message()
        );
    }

    // HTTP: the target is sent verbatim, so `../` and percent-encodings reach the router as is.
    let http_cases = [
        // (target, status)
        ("/media/incidents/../secret.mp4".to_string(), 404),
        ("/media/incidents/../clip.mp4".to_string(), 400),
        (
            "/media/incidents/..%2f..%2fsecret/clip.mp4".to_string(),
            400,
        ),
        (
            "/media/incidents/%2e%2e%2f%2e%2e%2fsecret/clip.mp4".to_string(),
            400,
        ),
        ("/media/incidents/%2e%2e/clip.mp4".to_string(), 400),
        (
            format!(
                "/media/incidents/%2f{}/clip.mp4",
                abs.trim_start_matches('/').replace('/', "%2f")
            ),
            400,
        ),
        (format!("/media/incidents/{upper}/clip.mp4"), 400),
        (format!("/media/incidents/{id}/CLIP.MP4"), 404),
        (format!("/media/incidents/{id}/clip.mp4.part"), 404),
        (format!("/media/incidents/{pending}.mp4.part/clip.mp4"), 400),
        (format!("/media/incidents/{pending}/clip.mp4"), 404), // only the .part exists
        (format!("/media/incidents/{id}/../../secret.mp4"), 404),
        (
            format!("/media/incidents/{id}%2f..%2f..%2fsecret/clip.mp4"),
            400,
        ),
        ("/media/incidents/secret/clip.mp4".to_string(), 404),
        ("/media/incidents/a/b/clip.mp4".to_string(), 404),
        ("/media/incidents/a%2fb/clip.mp4".to_string(), 400),
        ("/media/incidents/%00/clip.mp4".to_string(), 400),
        ("/media/secret.jpg".to_string(), 404),
        ("/media/clips/secret.mp4".to_string(), 404),
        (
            "/media/incidents/inc-0-unknown/snapshot.jpg".to_string(),
            404,
        ),
    ];
    for (target, status) in &http_cases {
        for method in ["GET", "HEAD"] {
            let resp = http(r.http_addr, method, target, None).await;
            assert_eq!(
                resp.status,
                *status,
                "{method} {target}: {:?}",
                String::from_utf8_lossy(&resp.body)
            );
            assert!(
                !resp.body.windows(SECRET.len()).any(|w| w == SECRET),
                "{method} {target} served the secret"
            );
            assert_ne!(
                resp.header("content-type"),
                "video/mp4",
                "{method} {target}"
            );
        }
    }
    // The real files are served, so the refusals above were not for want of a file.
    let ok = http(
        r.http_addr,
        "GET",
        &format!("/media/incidents/{id}/clip.mp4"),
        None,
    )
    .await;
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"real clip"[..]));
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_states_give_the_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path()).await;
    let mut c = MediaServiceClient::new(channel(&r).await);
    let inc = IncidentServiceClient::new(channel(&r).await);
    let pending = open(&r, 1).await;
    let failed = open(&r, 2).await;
    let expired = open(&r, 3).await;
    let snap_only = open(&r, 4).await;
    // A file in place does not make PENDING media servable over gRPC: the log decides.
    write(paths::clip_path(dir.path(), &pending).unwrap(), b"half");
    let fail_clip = Clip {
        state: ClipState::Failed,
        start: None,
        end: None,
    };
    r.incidents
        .media_ready(&failed, MediaUpdate::Snapshot(SnapshotState::Failed))
        .await
        .unwrap();
    r.incidents
        .media_ready(&failed, MediaUpdate::Clip(fail_clip))
        .await
        .unwrap();
    r.incidents
        .media_ready(&expired, MediaUpdate::Expired)
        .await
        .unwrap();
    write(
        paths::snapshot_path(dir.path(), &snap_only, true).unwrap(),
        &jpeg(90),
    );
    r.incidents
        .media_ready(&snap_only, MediaUpdate::Snapshot(SnapshotState::Available))
        .await
        .unwrap();

    let n = |id: &str| format!("incidents/{id}");
    // (incident, snapshot: code and message, clip: code and message)
    let cases = [
        (
            n(&pending),
            (
                Code::FailedPrecondition,
                "snapshot not available yet (state PENDING)".to_string(),
            ),
            (
                Code::FailedPrecondition,
                "clip not available yet (state PENDING)".to_string(),
            ),
        ),
        (
            n(&failed),
            (
                Code::FailedPrecondition,
                format!(
                    "snapshot of {} could not be written (state FAILED)",
                    n(&failed)
                ),
            ),
            (
                Code::FailedPrecondition,
                format!("clip of {} could not be written (state FAILED)", n(&failed)),
            ),
        ),
        (
            n(&expired),
            (
                Code::NotFound,
                format!("snapshot of {} expired by retention", n(&expired)),
            ),
            (
                Code::NotFound,
                format!("clip of {} expired by retention", n(&expired)),
            ),
        ),
        (
            n("inc-0-unknown"),
            (
                Code::NotFound,
                "incident inc-0-unknown not found".to_string(),
            ),
            (
                Code::NotFound,
                "incident inc-0-unknown not found".to_string(),
            ),
        ),
        (
            n(&snap_only),
            (Code::Ok, String::new()),
            (
                Code::FailedPrecondition,
                "clip not available yet (state PENDING)".to_string(),
            ),
        ),
    ];
    for (name, want_snap, want_clip) in &cases {
        let got_snap = match snapshot(&mut c, name, false).await {
            Ok(_) => (Code::Ok, String::new()),
            Err(st) => (st.code(), st.message().to_string()),
        };
        assert_eq!(&got_snap, want_snap, "GetSnapshot {name}");
        let got_clip = match c
            .download_clip(pb::DownloadClipRequest { name: name.clone() })
            .await
        {
            Ok(_) => (Code::Ok, String::new()),
            Err(st) => (st.code(), st.message().to_string()),
        };
        assert_eq!(&got_clip, want_clip, "DownloadClip {name}");
    }

    // URLs appear only for media that can be fetched.
    let urls = |id: &str| {
        let name = n(id);
        let mut inc = inc.clone();
        async move {
            let i = inc
                .get_incident(pb::GetIncidentRequest { name })
                .await
                .unwrap()
                .into_inner();
            (i.snapshot_url, i.clip_url)
        }
    };
    for id in [&pending, &failed, &expired] {
        assert_eq!(urls(id).await, (String::new(), String::new()), "{id}");
    }
    assert_eq!(
        urls(&snap_only).await,
        (
            format!("/media/incidents/{snap_only}/snapshot.jpg"),
            String::new()
        )
    );
    r.shutdown(WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_downloads_clips_and_snapshots_through_media_service() {
    let (_dir, r, id, m) = server_with_media().await;
    let addr = r.grpc_addr.to_string();
    let out_dir = tempfile::tempdir().unwrap();
    let cli = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["incidents", "--server", &addr])
            .args(args)
            .current_dir(out_dir.path());
        async move {
            tokio::time::timeout(WAIT, cmd.output())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // (arguments, file written, expected content)
    let explicit = out_dir.path().join("sub-dir-free.mp4");
    let cases = [
        (
            args(&["clip", &id]),
            out_dir.path().join(format!("{id}.mp4")),
            &m.clip,
        ),
        (
            args(&["clip", &id, "--out", &explicit.display().to_string()]),
            explicit.clone(),
            &m.clip,
        ),
        (
            args(&["snapshot", &id]),
            out_dir.path().join(format!("{id}.jpg")),
            &m.snapshot,
        ),
        (
            args(&["snapshot", &id, "--plain"]),
            out_dir.path().join(format!("{id}.frame.jpg")),
            &m.frame,
        ),
    ];
    for (a, file, want) in &cases {
        let out = cli(a.clone()).await;
        assert!(
            out.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("({} bytes)", want.len())),
            "{a:?}: {stdout}"
        );
        let got = std::fs::read(file).unwrap_or_else(|e| panic!("{a:?}: {}: {e}", file.display()));
        assert!(&got == *want, "{a:?}: {} is byte-identical", file.display());
    }
    let mut names: Vec<String> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = vec![
        format!("{id}.frame.jpg"),
        format!("{id}.jpg"),
        format!("{id}.mp4"),
        "sub-dir-free.mp4".to_string(),
    ];
    want.sort();
    assert_eq!(names, want, "no .part file is left behind");

    // Errors are clear, exit 2, and write nothing.
    let unknown = cli(args(&["clip", "inc-0-unknown"])).await;
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("incident inc-0-unknown not found"), "{err}");
    let bad = cli(args(&["clip", "../x"])).await;
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("name: \"../x\" is not a valid id"), "{err}");
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 4);

    // `show` prints the media URLs on the HTTP listener.
    let http = r.http_addr.to_string();
    let show = cli(args(&["show", &id, "--http", &http])).await;
    let text = String::from_utf8_lossy(&show.stdout);
    for url in [
        format!("snapshot url: http://{http}/media/incidents/{id}/snapshot.jpg"),
        format!("clip url:     http://{http}/media/incidents/{id}/clip.mp4"),
    ] {
        assert!(text.contains(&url), "{url} in:\n{text}");
    }
    r.shutdown(WAIT).await.unwrap();
}
