//! The HTTP media routes: `GET`/`HEAD` `/media/incidents/{id}/snapshot.jpg` (annotated),
//! `/media/incidents/{id}/frame.jpg` (plain) and `/media/incidents/{id}/clip.mp4`, with single
//! byte ranges so that a browser `<video>` element can seek. Bodies are streamed from the file a
//! chunk at a time, never read whole. The id goes only through `media::paths` (400 when it
//! refuses it); a file that exists is served (the incident log is not consulted), anything else
//! is 404. This module never builds a path from a request's string itself.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::TryStreamExt;

use super::media::{self, MediaFile};
use super::status::to_http;
use crate::error::{Error, ErrorKind};

/// The media routes over the files of `data_dir`.
pub fn router(data_dir: PathBuf) -> Router {
    Router::new()
        .route("/media/incidents/{id}/{file}", get(serve))
        .with_state(Arc::new(data_dir))
}

/// What a `Range` header asks of a file of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// No range, or one this server ignores (another unit, several ranges, malformed): 200.
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// Nothing of the file is in the range (416).
    Unsatisfiable,
}

/// Parses a `Range` header (RFC 9110 14.2) for a file of `size` bytes: `bytes=a-b`, `bytes=a-`
/// and `bytes=-n`. A syntactically invalid header is ignored (the whole file is served), as is a
/// request for several ranges, which the server may serve whole instead.
pub fn parse_range(value: &str, size: u64) -> ByteRange {
    let value = value.trim();
    let Some(spec) = value
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| value[6..].trim())
    else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return ByteRange::Full;
    };
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last n bytes.
        let Some(n) = num(b) else {
            return ByteRange::Full;
        };
        if n == 0 || size == 0 {
            return ByteRange::Unsatisfiable;
        }
        return ByteRange::Partial {
            start: size - n.min(size),
            end: size - 1,
        };
    }
    let Some(start) = num(a) else {
        return ByteRange::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match num(b) {
            Some(end) => end,
            None => return ByteRange::Full,
        }
    };
    if end < start {
        return ByteRange::Full;
    }
    if start >= size {
        return ByteRange::Unsatisfiable;
    }
    ByteRange::Partial {
        start,
        end: end.min(size - 1),
    }
}

fn error_response(e: &Error) -> Response {
    let status = to_http(e.kind());
    let body = if e.kind() == ErrorKind::Internal {
        tracing::error!(error = %e, "serving media");
        "internal error\n".to_string()
    } else {
        format!("{}\n", e.msg())
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn serve(
    State(data_dir): State<Arc<PathBuf>>,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(which) = MediaFile::from_http_name(&file) else {
        return error_response(&crate::err!(NotFound, "no media file {file:?}"));
    };
    let opened = match media::open(&data_dir, &id, which).await {
        Ok(o) => o,
        Err(e) => return error_response(&e),
    };
    let size = opened.size;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(ByteRange::Full, |v| parse_range(v, size));
    let (status, start, len) = match range {
        ByteRange::Full => (StatusCode::OK, 0, size),
        ByteRange::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        ByteRange::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let h = r.headers_mut();
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let body = Body::from_stream(media::chunks(opened.file, start, len).map_ok(|(_, data)| data));
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(which.content_type()),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + len - 1;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use ByteRange::{Full, Partial, Unsatisfiable};

    #[test]
    fn ranges_follow_rfc_9110() {
        let p = |start, end| Partial { start, end };
        let cases = [
            // (header, size, expected)
            ("bytes=0-99", 1000, p(0, 99)),
            ("bytes=0-0", 1000, p(0, 0)),
            ("bytes=500-", 1000, p(500, 999)),
            ("bytes=990-5000", 1000, p(990, 999)),
            ("bytes=-100", 1000, p(900, 999)),
            ("bytes=-5000", 1000, p(0, 999)),
            ("Bytes = 10-19", 1000, Full), // "Bytes =" is not the unit followed by '='
            ("BYTES=10-19", 1000, p(10, 19)),
            (" bytes= 10 - 19 ", 1000, p(10, 19)),
            ("bytes=999-", 1000, p(999, 999)),
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=1000-2000", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-10", 0, Unsatisfiable),
            ("bytes=20-10", 1000, Full),
            ("bytes=0-1,5-6", 1000, Full),
            ("bytes=a-b", 1000, Full),
            ("bytes=+1-2", 1000, Full),
            ("bytes=-", 1000, Full),
            ("bytes=5", 1000, Full),
            ("items=0-10", 1000, Full),
            ("", 1000, Full),
            ("bytes=99999999999999999999999-", 1000, Full),
        ];
        for (header, size, want) in cases {
            assert_eq!(parse_range(header, size), want, "{header:?} of {size}");
        }
    }
}
