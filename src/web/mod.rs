//! The status server: the page station staff open in a browser, the JSON API
//! beside it, `/metrics` for Prometheus, `/healthz` and a badge.
//!
//! - `server`: the listener, socket timeouts and the fixed pool of workers.
//! - `routes`: which path answers what, and the one place errors become
//!   HTTP statuses ([`WebError`]).
//! - `facts`: the figures behind several answers, read once per database
//!   change. Every GET answer is rendered once per data version and served
//!   from the process's answer cache (`cache::Answers`, via `routes`).
//! - `page`, `chart`, `html`: the HTML page and its SVG history charts.
//! - `vod_pages`, `links`: the VOD list (filters, paging, CSV), one VOD
//!   with its history, one show, and the links into Cablecast.
//! - `metrics`, `badge`, `query`, `admin`, `reply`: one small concern each.
//! - `alerts`: `/api/alerts`, the silence endpoint, `/health/cablecast`,
//!   `/health/publishing`, the alert metrics and the page's alert section.
//!
//! What this module is not: it never writes VOD state. Its write endpoints
//! (`POST /api/sync-now`, which asks the monitor to run a cycle, and
//! `POST /api/transcriptions`, which records a caption result) exist only
//! when an admin token is configured, and check it with `admin::authorize`.

mod admin;
mod alerts;
mod badge;
mod chart;
mod facts;
mod html;
mod links;
mod metrics;
mod page;
mod query;
mod reply;
mod routes;
mod server;
mod vod_pages;

use std::fmt;

pub use admin::{AdminToken, MIN_TOKEN_LEN};
pub use links::{CablecastLinks, SETTING as WEB_URL_SETTING};
pub use server::{
    StatusServer, WebSettings, DEFAULT_SOCKET_TIMEOUT, HEAD_TIMEOUT, MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_CLIENT,
};

use crate::store::StoreError;
use crate::transcription::RecordError;

/// Why a request gets something other than its answer. Each variant maps to
/// one HTTP status in [`WebError::status`]; the body is [`fmt::Display`]: one
/// short sentence.
#[derive(Debug)]
pub enum WebError {
    /// No such path (also: an admin endpoint while no admin token is set).
    NotFound,
    /// The path exists, but not for this method; lists the methods it takes.
    MethodNotAllowed(&'static str),
    /// A query parameter is malformed or out of range.
    BadQuery(String),
    /// A transcription job's report was refused.
    BadReport(RecordError),
    /// The request body is larger than the server accepts.
    BodyTooLarge,
    /// An admin endpoint without the right `Authorization: Bearer` token.
    Unauthorized,
    /// The database could not be read.
    Store(StoreError),
    /// `sync-now` in a server that runs no monitor (`archivist serve`).
    NoMonitor,
    /// A bug: a handler panicked. The worker carries on.
    Internal,
}

impl WebError {
    pub fn status(&self) -> u16 {
        match self {
            WebError::NotFound => 404,
            WebError::MethodNotAllowed(_) => 405,
            WebError::BadQuery(_) | WebError::BadReport(_) => 400,
            WebError::BodyTooLarge => 413,
            WebError::Unauthorized => 401,
            WebError::Store(_) | WebError::NoMonitor => 503,
            WebError::Internal => 500,
        }
    }
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::NotFound => f.write_str("not found"),
            WebError::MethodNotAllowed(allowed) => write!(f, "method not allowed (use {allowed})"),
            WebError::BadQuery(why) => write!(f, "bad request: {why}"),
            WebError::BadReport(why) => write!(f, "bad request: {why}"),
            WebError::BodyTooLarge => f.write_str("request body too large"),
            WebError::Unauthorized => f.write_str("admin token required"),
            WebError::Store(e) => write!(f, "database unavailable: {e}"),
            WebError::NoMonitor => f.write_str("no monitor runs in this process; nothing to wake"),
            WebError::Internal => f.write_str("internal error"),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::Store(e)
    }
}
