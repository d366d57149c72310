//! The code map's invariants, checked on the source (as rust-analyzer's
//! `tidy.rs` does): SQL stays in `store`, outbound network IO in the
//! modules allowed to make it, the environment is read by the entry point
//! alone, every file opens with `//!` docs, and every `unwrap`/`expect`
//! outside tests says why it cannot fail.
//!
//! Conventions the checks rely on: a file's unit tests are its last item,
//! after `#[cfg(test)]`; a `// reason: ...` comment on the line of an
//! `unwrap`/`expect`, or on the line above it, gives its reason.

use std::path::{Path, PathBuf};

/// The only modules that make outbound network requests, as `src/lib.rs`
/// names them: the Cablecast client, the load test's client, and the
/// notification senders.
const OUTBOUND_IO: &[&str] = &["src/cablecast/", "src/loadtest.rs", "src/notify/"];

/// What outbound network IO looks like in this code base.
const NETWORK: &[&str] = &[
    "minreq::",
    "TcpStream::connect",
    "UdpSocket",
    "ToSocketAddrs",
    "to_socket_addrs",
    "ureq::",
    "reqwest::",
    "lettre::",
];

/// What SQL looks like outside a comment.
const SQL: &[&str] = &[
    "rusqlite",
    "r2d2::",
    "r2d2_sqlite",
    "SELECT ",
    "INSERT INTO",
    "INSERT OR",
    "DELETE FROM",
    "UPDATE cablecast",
    "UPDATE transcription",
    "UPDATE monitor",
    "UPDATE archivist",
    "CREATE TABLE",
    "CREATE INDEX",
    "PRAGMA ",
    "BEGIN IMMEDIATE",
];

/// Reading the process environment.
const ENV: &[&str] = &["std::env", "env::var", "env::args", "vars_os", "args_os"];

/// Where the environment may be read: the entry point, and the build script
/// (which runs at build time, not in the product).
const ENV_READERS: &[&str] = &["src/main.rs", "src/build.rs"];

struct Source {
    /// Relative to the crate root, with `/`.
    path: String,
    text: String,
}

impl Source {
    /// The lines before the file's unit tests, numbered from 1, without
    /// comment lines.
    fn product_code(&self) -> impl Iterator<Item = (usize, &str)> {
        self.text
            .lines()
            .enumerate()
            .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
            .filter(|(_, line)| !line.trim_start().starts_with("//"))
            .map(|(i, line)| (i + 1, line))
    }

    fn under(&self, prefixes: &[&str]) -> bool {
        prefixes.iter().any(|p| self.path.starts_with(p))
    }
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {files:?}");
    files
        .into_iter()
        .map(|file| Source {
            path: file
                .strip_prefix(root)
                .expect("under the crate root")
                .to_string_lossy()
                .replace('\\', "/"),
            text: std::fs::read_to_string(&file).expect("source reads"),
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory reads") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Every `(file:line: text)` of product code that holds one of `needles`,
/// in files `allowed` does not exempt.
fn offenders(needles: &[&str], allowed: impl Fn(&Source) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources().iter().filter(|s| !allowed(s)) {
        for (n, line) in source.product_code() {
            if needles.iter().any(|needle| line.contains(needle)) {
                found.push(format!("{}:{n}: {}", source.path, line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_the_store_speaks_sql() {
    let found = offenders(SQL, |s| s.under(&["src/store/"]));
    assert!(
        found.is_empty(),
        "SQL outside src/store:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_named_modules_make_outbound_network_requests() {
    let found = offenders(NETWORK, |s| s.under(OUTBOUND_IO));
    assert!(
        found.is_empty(),
        "outbound network IO outside {OUTBOUND_IO:?}:\n{}",
        found.join("\n")
    );
    // The code map states the same exceptions.
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("lib.rs reads");
    let invariant = lib
        .lines()
        .skip_while(|l| !l.contains("outbound network IO"))
        .take_while(|l| l.starts_with("//!") && !l.trim_end().ends_with("//!"))
        .collect::<Vec<_>>()
        .join(" ");
    for module in ["`cablecast`", "`loadtest`", "`notify`"] {
        assert!(
            invariant.contains(module),
            "lib.rs's invariant misses {module}: {invariant}"
        );
    }
}

#[test]
fn only_the_entry_point_reads_the_environment() {
    let found = offenders(ENV, |s| ENV_READERS.contains(&s.path.as_str()));
    assert!(
        found.is_empty(),
        "the environment read outside {ENV_READERS:?}:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_source_file_opens_with_module_docs() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|s| !s.text.starts_with("//!"))
        .map(|s| s.path)
        .collect();
    assert!(
        missing.is_empty(),
        "no `//!` docs at the top of: {missing:?}"
    );
}

#[test]
fn every_unwrap_outside_tests_says_why_it_cannot_fail() {
    let mut found = Vec::new();
    for source in sources() {
        let lines: Vec<&str> = source.text.lines().collect();
        for (n, line) in source.product_code() {
            let code = line.split("//").next().unwrap_or(line);
            if !(code.contains(".unwrap()") || code.contains(".expect(")) {
                continue;
            }
            let above = lines[..n - 1]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .copied()
                .unwrap_or("");
            if !line.contains("// reason:") && !above.contains("// reason:") {
                found.push(format!("{}:{n}: {}", source.path, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "unwrap/expect without a `// reason:` comment:\n{}",
        found.join("\n")
    );
}
