//! A long-running `archivist` child process whose stderr is collected line by
//! line as it comes, so a test can wait for a log line (with a deadline)
//! instead of sleeping. The child is killed when the guard drops.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One stderr line and when the test saw it.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

/// A running `archivist`; killed (SIGKILL) and reaped on drop.
pub struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<Line>>>,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    /// Starts `command` with stderr captured.
    pub fn start(mut command: Command) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("archivist starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for text in BufReader::new(stderr).lines() {
                let Ok(text) = text else { return };
                sink.lock().expect("lines").push(Line {
                    at: Instant::now(),
                    text,
                });
            }
        });
        Running {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// `archivist --db DB monitor --interval 1 ...` against `api_url`.
    pub fn monitor(db: &Path, api_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = super::archivist();
        command
            .arg("--db")
            .arg(db)
            .args(["monitor", "--interval", "1", "--http-timeout", "1"])
            // A free port each, so monitors in parallel tests never collide.
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("CABLECAST_API_URL", api_url);
        for (key, value) in env {
            command.env(key, value);
        }
        Running::start(command)
    }

    /// The status server's address, from its "status page on" log line.
    pub fn status_addr(&self) -> std::net::SocketAddr {
        self.wait_for("status page on http://", 1, Duration::from_secs(20));
        let line = self
            .lines()
            .into_iter()
            .find(|l| l.text.contains("status page on http://"))
            .expect("line seen");
        let rest = &line.text[line.text.find("http://").expect("url") + "http://".len()..];
        rest.trim_end_matches('/')
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {:?}", line.text))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<Line> {
        self.lines.lock().expect("lines").clone()
    }

    /// All stderr so far, one string.
    pub fn log(&self) -> String {
        self.lines()
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.text.contains(needle))
            .count()
    }

    /// Waits until at least `n` lines contain `needle`; panics with the log
    /// after `timeout`.
    pub fn wait_for(&self, needle: &str, n: usize, timeout: Duration) {
        let found = super::wait_until(timeout, || self.count(needle) >= n);
        assert!(
            found,
            "waited {timeout:?} for {n} lines with {needle:?}; log:\n{}",
            self.log()
        );
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (libc's number, e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with a child's pid that is not reaped yet.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "signal {signal} sent to {pid}");
    }

    /// Waits up to `timeout` for the process to end, and how it ended.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        super::wait_until(timeout, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        if status.is_some() {
            // The stderr reader sees the end of the pipe: every line is in.
            if let Some(reader) = self.reader.take() {
                let _ = reader.join();
            }
        }
        status
    }

    /// Waits for the process to exit by itself (a `--single-run`); panics
    /// with the log after `timeout`.
    pub fn finish(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut status = None;
        let exited = super::wait_until(timeout, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        if let Some(reader) = self.reader.take() {
            if exited {
                let _ = reader.join();
            }
        }
        match status {
            Some(status) => status,
            None => panic!("still running after {timeout:?}; log:\n{}", self.log()),
        }
    }

    /// SIGKILL: the power cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}
