//! `archivist loadtest`: keeps N users busy against the status server for a
//! while, over keep-alive HTTP/1.1 connections, and reports throughput,
//! success and latency per endpoint.
//!
//! Each user is a thread with one connection, asking for `/api/status`, `/`,
//! `/api/vods` and `/healthz` in fixed proportions and reconnecting when the
//! server closes. The client is a small HTTP/1.1 reader on `std::net`
//! (Content-Length and chunked bodies) because the crate's HTTP client opens
//! a connection per request, which would measure the handshake, not the
//! server. Runs are bounded in time and in requests and stop by themselves.
//! Targets off this machine are refused, before anything is sent, unless
//! the caller allows them.
//!
//! What this is not: a general load generator (no HTTPS, no POST, no
//! pipelining).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

/// The paths asked for, and how often, out of `WEIGHT_TOTAL`.
pub const ENDPOINTS: [(&str, u64); 4] = [
    ("/api/status", 50),
    ("/", 20),
    ("/api/vods", 20),
    ("/healthz", 10),
];
const WEIGHT_TOTAL: u64 = 100;

/// The longest run accepted: an hour.
pub const MAX_DURATION_SECS: u64 = 3_600;
/// The most users accepted (one thread each).
pub const MAX_USERS: usize = 1_024;
/// How long one request may take before it counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest header section or chunk-size line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Latency histogram: exact below this many microseconds ...
const EXACT_BELOW_US: u64 = 128;
/// ... and 64 buckets per power of two above (error under 1.6 %).
const SUB_BUCKETS: u64 = 64;
const BUCKETS: usize = (EXACT_BELOW_US + 40 * SUB_BUCKETS) as usize;

/// Where to send requests: an `http://host:port` address and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Prepended to every endpoint path, without a trailing slash.
    pub prefix: String,
}

/// A load test, validated by `cli`.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub target: Target,
    pub users: usize,
    pub duration: Duration,
    /// Stop after this many requests in all, if reached first.
    pub max_requests: Option<u64>,
    pub allow_remote: bool,
}

/// Why a load test did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The URL is not `http://host[:port][/path]`.
    BadUrl(String),
    /// The target is not this machine and `--allow-remote` was not given.
    Remote(String),
    /// The host name did not resolve.
    Resolve(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BadUrl(why) => write!(f, "--url: {why}"),
            LoadError::Remote(host) => write!(
                f,
                "--url: {host} is not this machine; a load test can hurt a server, so give --allow-remote to test another host"
            ),
            LoadError::Resolve(why) => write!(f, "--url: {why}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl Target {
    /// Parses `http://host[:port][/prefix]` (port 80 by default).
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let rest = url.trim().strip_prefix("http://").ok_or_else(|| {
            LoadError::BadUrl(format!(
                "{url:?} must start with http:// (HTTPS is not supported)"
            ))
        })?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| LoadError::BadUrl(format!("{url:?} has an unclosed [")))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(LoadError::BadUrl(format!("{url:?} has no host")));
        }
        let port = match port {
            Some(text) => text
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| LoadError::BadUrl(format!("{text:?} is not a port")))?,
            None => 80,
        };
        Ok(Target {
            host: host.to_string(),
            port,
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// The addresses to connect to. Without `allow_remote`, anything but a
    /// loopback address (or `localhost`, resolving to loopback only) is
    /// refused before a packet is sent; other names are not even resolved.
    pub fn addresses(&self, allow_remote: bool) -> Result<Vec<SocketAddr>, LoadError> {
        let literal = self.host.parse::<IpAddr>().ok();
        if !allow_remote
            && !literal.is_some_and(|ip| ip.is_loopback())
            && !self.host.eq_ignore_ascii_case("localhost")
        {
            return Err(LoadError::Remote(self.host.clone()));
        }
        let addresses: Vec<SocketAddr> = match literal {
            Some(ip) => vec![SocketAddr::new(ip, self.port)],
            None => (self.host.as_str(), self.port)
                .to_socket_addrs()
                .map_err(|e| LoadError::Resolve(format!("resolving {}: {e}", self.host)))?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(LoadError::Resolve(format!("{} has no address", self.host)));
        }
        if !allow_remote && addresses.iter().any(|a| !a.ip().is_loopback()) {
            return Err(LoadError::Remote(self.host.clone()));
        }
        Ok(addresses)
    }

    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Latency figures, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub min: f64,
    pub avg: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One endpoint's (or all endpoints') results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EndpointReport {
    pub path: String,
    pub requests: u64,
    /// Answered with a 2xx status.
    pub ok: u64,
    pub success_pct: f64,
    pub requests_per_s: f64,
    /// Over every answered request (any status).
    pub latency_ms: Latency,
}

/// What a load test found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadReport {
    pub url: String,
    pub users: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub success_pct: f64,
    pub connections_opened: u64,
    pub overall: EndpointReport,
    pub endpoints: Vec<EndpointReport>,
    /// Failed requests by kind (`connect: ...`, `timeout`, `HTTP 503`, ...).
    pub errors: BTreeMap<String, u64>,
}

/// Latencies in microseconds, in bounded memory.
#[derive(Clone)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: vec![0; BUCKETS],
            count: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }

    fn bucket(us: u64) -> usize {
        if us < EXACT_BELOW_US {
            return us as usize;
        }
        let power = 63 - u64::from(us.leading_zeros());
        let shift = power - SUB_BUCKETS.trailing_zeros() as u64;
        let sub = (us >> shift) - SUB_BUCKETS;
        let index = EXACT_BELOW_US + (power - 7) * SUB_BUCKETS + sub;
        (index as usize).min(BUCKETS - 1)
    }

    /// The smallest value of a bucket.
    fn floor(index: usize) -> u64 {
        let index = index as u64;
        if index < EXACT_BELOW_US {
            return index;
        }
        let offset = index - EXACT_BELOW_US;
        let power = offset / SUB_BUCKETS + 7;
        let sub = offset % SUB_BUCKETS + SUB_BUCKETS;
        sub << (power - SUB_BUCKETS.trailing_zeros() as u64)
    }

    fn record(&mut self, took: Duration) {
        let us = took.as_micros().min(u128::from(u64::MAX)) as u64;
        self.buckets[Self::bucket(us)] += 1;
        self.count += 1;
        self.sum_us += us;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
    }

    fn percentile(&self, fraction: f64) -> u64 {
        let rank = ((self.count as f64 * fraction).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::floor(index).clamp(self.min_us, self.max_us);
            }
        }
        self.max_us
    }

    fn latency(&self) -> Latency {
        if self.count == 0 {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            min: ms(self.min_us),
            avg: self.sum_us as f64 / self.count as f64 / 1000.0,
            p50: ms(self.percentile(0.50)),
            p90: ms(self.percentile(0.90)),
            p95: ms(self.percentile(0.95)),
            p99: ms(self.percentile(0.99)),
            max: ms(self.max_us),
        }
    }
}

/// One user's tallies, merged at the end.
#[derive(Clone)]
struct Tally {
    latency: Vec<Histogram>,
    requests: Vec<u64>,
    ok: Vec<u64>,
    errors: BTreeMap<String, u64>,
    connections: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: vec![Histogram::new(); ENDPOINTS.len()],
            requests: vec![0; ENDPOINTS.len()],
            ok: vec![0; ENDPOINTS.len()],
            errors: BTreeMap::new(),
            connections: 0,
        }
    }

    fn merge(&mut self, other: Tally) {
        for i in 0..ENDPOINTS.len() {
            self.latency[i].merge(&other.latency[i]);
            self.requests[i] += other.requests[i];
            self.ok[i] += other.ok[i];
        }
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.connections += other.connections;
    }
}

/// Why one request failed.
enum Failure {
    Connect(io::Error),
    Timeout,
    /// The server closed or reset the connection mid-request.
    Closed,
    /// The answer was not HTTP/1.x as expected.
    Malformed(&'static str),
}

impl Failure {
    fn kind(&self) -> String {
        match self {
            Failure::Connect(e) => format!("connect: {}", e.kind()),
            Failure::Timeout => "timeout".into(),
            Failure::Closed => "connection closed".into(),
            Failure::Malformed(what) => format!("malformed answer: {what}"),
        }
    }

    fn from_io(e: io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Timeout,
            _ => Failure::Closed,
        }
    }
}

/// Runs the load test. Refuses (sending nothing) a target off this machine
/// unless `allow_remote`.
pub fn run(settings: &LoadSettings) -> Result<LoadReport, LoadError> {
    let addresses = settings.target.addresses(settings.allow_remote)?;
    let users = settings.users.clamp(1, MAX_USERS);
    let duration = settings
        .duration
        .min(Duration::from_secs(MAX_DURATION_SECS));
    let budget = AtomicU64::new(settings.max_requests.unwrap_or(u64::MAX));
    let started = Instant::now();
    let deadline = started + duration;
    let mut total = Tally::new();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..users)
            .map(|user| {
                let (addresses, budget, target) = (&addresses, &budget, &settings.target);
                scope.spawn(move || user_loop(target, addresses, deadline, budget, user as u64))
            })
            .collect();
        for worker in workers {
            if let Ok(tally) = worker.join() {
                total.merge(tally);
            }
        }
    });
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    Ok(report(settings, users, elapsed, total))
}

fn report(settings: &LoadSettings, users: usize, elapsed: f64, tally: Tally) -> LoadReport {
    let endpoint = |path: &str, requests: u64, ok: u64, histogram: &Histogram| EndpointReport {
        path: path.to_string(),
        requests,
        ok,
        success_pct: if requests == 0 {
            0.0
        } else {
            ok as f64 * 100.0 / requests as f64
        },
        requests_per_s: requests as f64 / elapsed,
        latency_ms: histogram.latency(),
    };
    let endpoints: Vec<EndpointReport> = ENDPOINTS
        .iter()
        .enumerate()
        .map(|(i, (path, _))| endpoint(path, tally.requests[i], tally.ok[i], &tally.latency[i]))
        .collect();
    let mut all = Histogram::new();
    for histogram in &tally.latency {
        all.merge(histogram);
    }
    let requests: u64 = tally.requests.iter().sum();
    let ok: u64 = tally.ok.iter().sum();
    let overall = endpoint("(all)", requests, ok, &all);
    let target = &settings.target;
    LoadReport {
        url: format!("http://{}{}", target.host_header(), target.prefix),
        users,
        duration_s: elapsed,
        requests,
        requests_per_s: overall.requests_per_s,
        success_pct: overall.success_pct,
        connections_opened: tally.connections,
        overall,
        endpoints,
        errors: tally.errors,
    }
}

/// One user: a keep-alive connection, requests until time or budget runs
/// out, a new connection whenever the server closes one.
fn user_loop(
    target: &Target,
    addresses: &[SocketAddr],
    deadline: Instant,
    budget: &AtomicU64,
    user: u64,
) -> Tally {
    let mut tally = Tally::new();
    let mut rng = (user + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut connection: Option<BufReader<TcpStream>> = None;
    let mut line = String::new();
    let host = target.host_header();
    while Instant::now() < deadline {
        if budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
        {
            break;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let endpoint = pick(rng % WEIGHT_TOTAL);
        let path = format!("{}{}", target.prefix, ENDPOINTS[endpoint].0);
        tally.requests[endpoint] += 1;
        let started = Instant::now();
        let outcome = match connection.take() {
            Some(open) => Ok(open),
            None => connect(addresses).inspect(|_| tally.connections += 1),
        }
        .and_then(|mut open| {
            let answer = request(&mut open, &host, &path, &mut line)?;
            Ok((open, answer))
        });
        match outcome {
            Ok((open, (status, keep_alive))) => {
                tally.latency[endpoint].record(started.elapsed());
                if (200..300).contains(&status) {
                    tally.ok[endpoint] += 1;
                } else {
                    *tally.errors.entry(format!("HTTP {status}")).or_default() += 1;
                }
                if keep_alive {
                    connection = Some(open);
                }
            }
            Err(failure) => {
                *tally.errors.entry(failure.kind()).or_default() += 1;
                if matches!(failure, Failure::Connect(_)) {
                    // A refused connection fails in microseconds: do not spin
                    // on it for the whole run, wait out a tick.
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    tally
}

fn pick(roll: u64) -> usize {
    let mut upto = 0;
    for (i, (_, weight)) in ENDPOINTS.iter().enumerate() {
        upto += weight;
        if roll < upto {
            return i;
        }
    }
    0
}

fn connect(addresses: &[SocketAddr]) -> Result<BufReader<TcpStream>, Failure> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect_timeout(address, REQUEST_TIMEOUT) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                stream
                    .set_read_timeout(Some(REQUEST_TIMEOUT))
                    .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
                    .map_err(Failure::Connect)?;
                return Ok(BufReader::new(stream));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Failure::Connect(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "no address")
    })))
}

/// Sends one GET and reads the whole answer; returns its status and whether
/// the connection stays open.
fn request(
    connection: &mut BufReader<TcpStream>,
    host: &str,
    path: &str,
    line: &mut String,
) -> Result<(u16, bool), Failure> {
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
    );
    connection
        .get_mut()
        .write_all(head.as_bytes())
        .map_err(Failure::from_io)?;
    read_line(connection, line)?;
    let mut words = line.split_whitespace();
    let version = words.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(Failure::Malformed("no HTTP/1.x status line"));
    }
    let status: u16 = words
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or(Failure::Malformed("no status code"))?;
    let mut keep_alive = version == "HTTP/1.1";
    let mut length: Option<u64> = None;
    let mut chunked = false;
    loop {
        read_line(connection, line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::Malformed("header without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| Failure::Malformed("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    if chunked {
        loop {
            read_line(connection, line)?;
            let size_text = line.trim().split(';').next().unwrap_or_default();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| Failure::Malformed("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    read_line(connection, line)?;
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            discard(connection, size + 2)?;
        }
    } else if let Some(length) = length {
        discard(connection, length)?;
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        // No length: the body runs to the end of the connection.
        io::copy(connection, &mut io::sink()).map_err(Failure::from_io)?;
        keep_alive = false;
    }
    Ok((status, keep_alive))
}

fn read_line(connection: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), Failure> {
    line.clear();
    let read = connection
        .by_ref()
        .take(MAX_LINE as u64)
        .read_line(line)
        .map_err(Failure::from_io)?;
    if read == 0 {
        return Err(Failure::Closed);
    }
    if !line.ends_with('\n') {
        return Err(Failure::Malformed("line too long or cut off"));
    }
    Ok(())
}

fn discard(connection: &mut BufReader<TcpStream>, bytes: u64) -> Result<(), Failure> {
    let copied = io::copy(&mut connection.by_ref().take(bytes), &mut io::sink())
        .map_err(Failure::from_io)?;
    if copied < bytes {
        return Err(Failure::Closed);
    }
    Ok(())
}

impl LoadReport {
    /// The report as a plain-text table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "loadtest {}: {} users for {:.1} s, {} connections opened",
            self.url, self.users, self.duration_s, self.connections_opened
        );
        let _ = writeln!(
            out,
            "{} requests, {:.0} requests/s, {:.2} % successful\n",
            self.requests, self.requests_per_s, self.success_pct
        );
        let _ = writeln!(
            out,
            "{:<14} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "endpoint",
            "requests",
            "req/s",
            "ok %",
            "min ms",
            "avg",
            "p50",
            "p90",
            "p95",
            "p99",
            "max"
        );
        for e in self.endpoints.iter().chain(std::iter::once(&self.overall)) {
            let l = &e.latency_ms;
            let _ = writeln!(
                out,
                "{:<14} {:>9} {:>9.0} {:>8.2} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                e.path, e.requests, e.requests_per_s, e.success_pct, l.min, l.avg, l.p50, l.p90,
                l.p95, l.p99, l.max
            );
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "\nno errors");
        } else {
            let _ = writeln!(out, "\nerrors:");
            for (kind, n) in &self.errors {
                let _ = writeln!(out, "  {kind}: {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_remote_hosts_are_refused_unresolved() {
        let t = Target::parse("http://127.0.0.1:8080/").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let t = Target::parse("http://[::1]:9000/station").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("::1", 9000, "/station")
        );
        assert!(Target::parse("https://127.0.0.1/").is_err());
        assert!(Target::parse("http://:80/").is_err());
        let remote = Target::parse("http://archive.example.org").expect("valid");
        assert_eq!(
            remote.addresses(false),
            Err(LoadError::Remote("archive.example.org".into()))
        );
        let lan = Target::parse("http://192.168.1.20:8080").expect("valid");
        assert!(matches!(lan.addresses(false), Err(LoadError::Remote(_))));
        assert!(lan.addresses(true).is_ok());
    }

    #[test]
    fn histogram_buckets_are_close_and_ordered() {
        for us in [0, 1, 127, 128, 129, 1_000, 4_999, 65_536, 3_000_000] {
            let floor = Histogram::floor(Histogram::bucket(us));
            assert!(floor <= us && us - floor <= us / 64 + 1, "{us} -> {floor}");
        }
        let mut h = Histogram::new();
        for us in 1..=1000 {
            h.record(Duration::from_micros(us));
        }
        let l = h.latency();
        assert!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
        assert!((l.p50 - 0.5).abs() < 0.02 && (l.p99 - 0.99).abs() < 0.02);
    }

    #[test]
    fn weights_cover_every_roll() {
        assert_eq!(ENDPOINTS.iter().map(|(_, w)| w).sum::<u64>(), WEIGHT_TOTAL);
        assert_eq!(pick(0), 0);
        assert_eq!(pick(WEIGHT_TOTAL - 1), ENDPOINTS.len() - 1);
    }
}
