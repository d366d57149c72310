//! What a handler answers, and its conversion to a tiny_http response.
//! Cached bodies are shared (`Arc`), so serving one copies no bytes in
//! memory before the socket write.

use std::io::Cursor;
use std::sync::Arc;

use tiny_http::{Header, Response, StatusCode};

use super::WebError;

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";
pub const CSV: &str = "text/csv; charset=utf-8";
pub const SVG: &str = "image/svg+xml";
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A response body: shared from a cache, or made for this request.
#[derive(Debug, Clone)]
pub enum Body {
    Shared(Arc<[u8]>),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Shared(bytes) => bytes,
            Body::Owned(bytes) => bytes,
        }
    }
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
    /// Extra headers, as (name, value).
    pub headers: Vec<(&'static str, String)>,
    /// Close the connection after this answer (after errors that may leave
    /// unread bytes behind).
    pub close: bool,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: Body) -> Reply {
        Reply {
            status,
            content_type,
            body,
            headers: Vec::new(),
            close: false,
        }
    }

    pub fn shared(content_type: &'static str, body: &Arc<[u8]>) -> Reply {
        Reply::new(200, content_type, Body::Shared(Arc::clone(body)))
    }

    pub fn text(status: u16, text: String) -> Reply {
        Reply::new(status, TEXT, Body::Owned((text + "\n").into_bytes()))
    }

    /// The short answer for an error.
    pub fn error(error: &WebError) -> Reply {
        let mut reply = Reply::text(error.status(), error.to_string());
        match error {
            WebError::MethodNotAllowed(allowed) => {
                reply.headers.push(("Allow", (*allowed).to_string()))
            }
            WebError::Unauthorized => reply
                .headers
                .push(("WWW-Authenticate", "Bearer realm=\"archivist\"".into())),
            WebError::BodyTooLarge | WebError::Internal => reply.close = true,
            _ => {}
        }
        reply
    }

    pub fn into_response(self) -> Response<Cursor<Body>> {
        let length = self.body.as_ref().len();
        let mut headers = Vec::with_capacity(self.headers.len() + 3);
        headers.extend(header("Content-Type", self.content_type));
        // Figures change with every cycle: caches must ask again.
        headers.extend(header("Cache-Control", "no-cache"));
        for (name, value) in &self.headers {
            headers.extend(header(name, value));
        }
        if self.close {
            headers.extend(header("Connection", "close"));
        }
        // Bodies are whole in memory: send their length rather than chunks.
        Response::new(
            StatusCode(self.status),
            headers,
            Cursor::new(self.body),
            Some(length),
            None,
        )
        .with_chunked_threshold(usize::MAX)
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}
