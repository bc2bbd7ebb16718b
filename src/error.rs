//! The service's one error type. Its [`ErrorKind`]s are the gRPC status codes the API returns; the
//! conversion to a `tonic::Status` lives in exactly one place (`api::status`). Context such as the
//! camera id or the offending field travels in the message; secrets never do.

use std::fmt;

/// What went wrong, in gRPC terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    ResourceExhausted,
    Unavailable,
    Cancelled,
    DeadlineExceeded,
    Internal,
}

/// An error with a kind, a message for the user, and an optional cause.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    msg: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause (shown after the message).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn msg(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Builds an [`Error`]: `err!(InvalidArgument, "camera.url: {why}")`.
#[macro_export]
macro_rules! err {
    ($kind:ident, $($arg:tt)+) => {
        $crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($arg)+))
    };
}

/// Returns early with an [`Error`]: `bail!(NotFound, "camera {id} not found")`.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)+) => {
        return Err($crate::err!($kind, $($arg)+))
    };
}

/// Adds context to foreign errors: `.ctx(Internal, "opening the database")`.
pub trait ResultExt<T> {
    fn ctx(self, kind: ErrorKind, msg: impl Into<String>) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> ResultExt<T> for std::result::Result<T, E> {
    fn ctx(self, kind: ErrorKind, msg: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::new(kind, msg).with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_the_cause() {
        let io = std::io::Error::other("disk full");
        let e: Result<()> = Err(io).ctx(ErrorKind::Internal, "writing clip");
        let e = e.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.to_string(), "writing clip: disk full");
    }

    #[test]
    fn macros_format() {
        let f = || -> Result<()> { bail!(NotFound, "camera {} not found", "c1") };
        let e = f().unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::NotFound, "camera c1 not found")
        );
    }
}
