//! Archivist keeps a community TV station's Cablecast VOD state, and its
//! caption (transcription) state, in one SQLite file, keeps it true, and shows
//! it.
//!
//! # Code map
//!
//! - `cli`: `cli::parse` turns the arguments and the environment (read once,
//!   in `main`) into one validated `cli::Command`; `cli::execute` runs it.
//!   `cli::spec` is the one definition of every command, flag and variable:
//!   the parser accepts only what it lists and the help is rendered from it.
//!   Every command writes its output through one writer (`cli::output`): a
//!   reader that goes away (`| head`) ends the command quietly, exit 0.
//! - `monitor`: the monitoring cycle (connection check, a full catalogue
//!   pass that resumes where a failed page stopped, or a look for changed
//!   shows that reads only what changed, a probe for VODs and shows added
//!   above the highest ids known, in-flight refresh by id in groups, one
//!   group a cycle of the failed VODs whose alert fires, stats, one log
//!   line); it tells an outage from a flaky server.
//! - `cablecast`: the Cablecast HTTP client. Cablecast's JSON shapes
//!   (`cablecast::wire`) never leave it; it hands out domain types from `vod`.
//! - `store`: the SQLite file, its checked copies (backup, restore) and its
//!   lock file. All SQL lives here.
//! - `cache`: the process's one answer cache (an LRU of the sync figures, the
//!   status report and every rendered GET answer, keyed by route and
//!   normalised query, each valid for one data version, built once while
//!   others wait, bounded in entries and bytes), the connection check's
//!   time-based entry, and the hit and miss counters.
//! - `status`: the cached sync figures and the status report built on them.
//! - `demo`: a built-in Cablecast-compatible station on loopback.
//! - `bench`: `archivist bench`, the before/after figures of each
//!   optimisation, measured on a generated station database.
//! - `loadtest`: `archivist loadtest`, keep-alive HTTP load against the
//!   status server (loopback only unless told otherwise).
//! - `export`: `archivist export`, rows streamed from the store as CSV or
//!   JSON lines.
//! - `transcription`: caption files and reported transcription jobs: the
//!   storage scan, `record` (shared by `transcriptions add` and
//!   `POST /api/transcriptions`), and linking results to shows.
//! - `stuck`: when a VOD in flight counts as stuck (`ARCHIVIST_STUCK_AFTER`),
//!   one threshold per in-flight state, the same on every surface.
//! - `alert`: after each cycle, which alerts fire and resolve (Cablecast
//!   down, VODs failed or stuck, series shows aired with no VOD,
//!   transcriptions failed, the database), with flap damping, a hold for
//!   per-VOD failures, grouping, silences and acknowledgements; recorded
//!   with their messages. The failures there when alerts start on a
//!   database fire at once, told in one message.
//! - `notify`: delivers those messages from the outbox to each destination
//!   (generic JSON webhook, ntfy, Slack-compatible, Discord, Teams, SMTP),
//!   one sender thread each, and pings the heartbeat URL. Destinations are
//!   Apprise's notification URLs; `kinds=` routes alert kinds.
//! - `outbound`: the one door for outbound requests (HTTP and SMTP): a
//!   timeout, no redirects, the User-Agent, the platform's certificate
//!   verifier, and certificate pinning by fingerprint.
//! - `systemd`: readiness, status and watchdog pings to systemd, from the
//!   `SystemdEnv` that `cli` read (uses `monitor`'s cycle report and
//!   `store`'s errors).
//! - `shutdown`: SIGTERM and SIGINT: the process-wide stop flag, and the
//!   closing steps (checkpoint, one log line) run once before exit 0.
//! - `web`: the status server: the page, the VOD list, VOD and show pages,
//!   the JSON API, `/metrics`, `/healthz` and the badge, on tiny_http with a
//!   fixed pool of workers.
//! - `clock`: stored timestamps, and the station's time zone
//!   (`clock::StationZone`, `ARCHIVIST_TIMEZONE` else the box's zone as
//!   `main` read `TZ`): Cablecast's offset-less times are read in it,
//!   `clock::format_local` shows a time in it and the VOD list's days are
//!   its days.
//! - `config`: the validated settings types `cli` builds (the monitor's and
//!   Cablecast's, with its credentials) and the parsers they share.
//! - `memory`: the process's memory use, and the allocator settings that
//!   keep a months-long run from creeping up (glibc arenas and thresholds,
//!   free pages given back after a cycle).
//! - `vod`, `logging`: small shared pieces. `vod` holds domain
//!   types only and does not log; what is odd in Cablecast's answer is
//!   logged where `cablecast` reads it.
//!
//! Calls go one way. Each line names every module a module calls (the
//! `crate::` paths of its product code); `tests/tidy.rs` computes the graph
//! and fails on a cycle, on an edge not listed here, or on a listed edge no
//! code uses:
//!
//! - cli -> {alert, bench, cablecast, clock, config, demo, export, loadtest,
//!   logging, memory, monitor, notify, shutdown, status, store, stuck,
//!   systemd, transcription, vod, web}
//! - bench -> {alert, cablecast, cache, clock, config, demo, memory, monitor,
//!   status, store, stuck, vod}
//! - web -> {alert, cache, clock, config, export, memory, status, store,
//!   stuck, transcription, vod} (the monitor's `SyncNow` wake-up lives in
//!   `status`; `memory` tunes the allocator)
//! - systemd -> {monitor, store} (the cycle report and store errors)
//! - monitor -> {alert, cablecast, cache, clock, config, logging, memory,
//!   shutdown, status, store, vod}
//! - alert -> {cablecast, clock, notify, store, stuck, transcription}
//!   (Cablecast's error in the cycle's outcome; show titles read as
//!   transcription linking reads them)
//! - notify -> {clock, outbound, store} (the outbox)
//! - status -> {alert, cache, clock, memory, store, stuck, vod} (the monitor's
//!   `Pulse`)
//! - transcription -> {clock, store}
//! - export -> {store}
//! - cablecast -> {clock, config, logging, outbound, shutdown, vod}
//! - demo -> {clock}
//! - store -> {clock, stuck, vod}
//! - stuck -> {config, vod}
//! - logging -> {clock, config}
//! - config -> {clock}
//!
//! `cache`, `clock`, `loadtest`, `memory`, `outbound`, `shutdown` and `vod`
//! call no other module.
//!
//! # Invariants
//!
//! `tests/tidy.rs` checks the ones that show in the source, on all product
//! code (everything before a file's final `#[cfg(test)] mod tests`): SQL
//! only in `store` (in any case), outbound IO only where named below,
//! `std::env` only in `main`, `//!` docs on every file, a `// reason:` for
//! every `unwrap`/`expect` outside tests, a `// SAFETY:` on every `unsafe`
//! block, and the calls between modules as listed above. The compiler
//! checks the rest it can: `Store`'s connections are private to `store`, and
//! a command in `cli::spec` without its arm in `parse` does not compile.
//!
//! - All outbound network IO goes through `outbound` (only it names minreq
//!   and lettre), and only `cablecast` and the notification senders
//!   (`notify`) use it; the named exceptions are `loadtest`'s client (load
//!   against a status server, loopback only unless told otherwise) and the
//!   Cablecast reachability probe (a TCP connect). `web` never sends.
//!   `tests/tidy.rs` checks it.
//! - An alert change and the messages it causes are written in one
//!   transaction: a message is never lost after a crash, and an alert
//!   already notified is not notified again as new after a restart. A
//!   change-queue entry is deleted only with the flip count (`seq`) it was
//!   read with, so a flip while the alerts are evaluated is never lost.
//! - Only firing is gated (a kind switched off, a silence, the hold): what
//!   fires always resolves. No alert decision is made from a failed read.
//! - A destination's refusal for good (HTTP 4xx but 408/429, SMTP 5xx) is
//!   recorded and never retried; it never blocks the next message.
//! - Notification destinations (URLs, tokens, SMTP passwords) are secrets
//!   like the Cablecast password: shown only as "scheme (host)", never
//!   logged, stored or sent anywhere but their own host.
//! - Only `store` speaks SQL (and only it names `rusqlite`; its connections
//!   never leave it); every write is one `BEGIN IMMEDIATE`
//!   transaction (or one single statement), so nothing is ever half applied.
//! - In a process, only the monitor thread writes VOD and show state.
//! - A catalogue pass removes rows only after it listed everything Cablecast
//!   has, by Cablecast's own total (`meta.count`): never on a partial or
//!   failed pass, nor when the listing moved while it was read, nor when the
//!   server gave no total. A short page never ends a listing. A look for
//!   changed shows, and the probe for new records, never remove anything.
//! - A VOD missing from an answer to a read by id (`ids[]`) is removed only
//!   after its own `GET /vods/{id}` answers 404; an answer holding VODs not
//!   asked for (a server ignoring `ids[]`) is never used.
//! - A VOD whose answer could not be read is never written (its `updated_at`
//!   stays).
//! - Every change of a VOD's state is recorded in `vod_event` by the same
//!   statement that writes the VOD (a trigger), so the history and the VOD
//!   never disagree; the same trigger chain keeps the history bounded.
//! - Until a complete catalogue pass has finished on the database
//!   (`archivist_meta`), every surface says the figures are partial.
//! - The database, JSON and `/metrics` hold UTC; every time a person reads
//!   (the page, `/health/*` text, `status`, `alerts list`, `transcriptions
//!   list`) is in the station's zone, named, through `clock::format_local`.
//! - Cached sync figures are never stale: a write by this process invalidates
//!   them, and a write by any other process changes `PRAGMA data_version`,
//!   which every cached read checks.
//! - The status server never writes VOD state. Its write endpoints
//!   (`POST /api/sync-now`, which only wakes the monitor,
//!   `POST /api/transcriptions`, which records a caption result,
//!   `POST /api/alerts/silence` and `POST /api/alerts/ack`) exist only
//!   with `ARCHIVIST_ADMIN_TOKEN` set. Every GET answer is rendered once per
//!   `data_version` (and route and query) and served from the answer cache;
//!   `/healthz` alone is computed per request, from the cached figures and
//!   the clock.
//! - A transcription result's id is a stable hash of its stored output path
//!   (video path when it has none); paths are stored as reached, never
//!   resolved through symlinks.
//! - A scan never deletes a result: a file that is gone is marked
//!   `removed_at`, and only when it is really gone (not when its folder or
//!   mount could not be read).
//! - Automatic linking never changes a link made by hand, and never links a
//!   show to a second video without reporting it as a conflict.
//! - A migration runs only after a checked copy of the file as it was is
//!   written beside it (`DB.before-schema-N-*`).
//! - Everything held in memory has a bound that does not grow with time
//!   (README "Memory"): SQLite's page caches per connection and 12 MiB for
//!   the process (`soft_heap_limit`), the answer cache (entries and bytes),
//!   the warn-once keys, firing alerts (one per failed or stuck VOD at
//!   most), the status server's connections and threads (`MAX_CONNECTIONS`),
//!   and glibc's malloc arenas (two).
//! - Nothing writes to a database that failed its integrity check at open
//!   (`Store::damage`); the monitor then runs no cycles.
//! - A stop signal never ends the process mid-transaction: the monitor,
//!   `serve` and the demo stop sending requests, the closing steps wait for
//!   the writer, checkpoint the log (`wal_checkpoint(TRUNCATE)`) and exit 0
//!   within `shutdown::GRACE` plus a commit.
//! - A running monitor holds `DB.lock` (`flock`); `restore` refuses while it
//!   does.
//! - The Cablecast password, and the Basic auth header made from it, never
//!   reach a log line, an error message, the page or any output.
//! - No outbound request follows a redirect: credentials go to the configured
//!   origin only, never to another host nor from https to http. A 3xx from
//!   Cablecast is a configuration error naming where it pointed.

pub mod alert;
pub mod bench;
pub mod cablecast;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod export;
pub mod loadtest;
pub mod logging;
pub mod memory;
pub mod monitor;
pub mod notify;
pub mod outbound;
pub mod shutdown;
pub mod status;
pub mod store;
pub mod stuck;
pub mod systemd;
pub mod transcription;
pub mod vod;
pub mod web;
