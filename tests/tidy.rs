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

/// The only places that open outbound connections, as `src/lib.rs` names
/// them: the one door for outbound requests (`outbound`), the load test's
/// client, and the Cablecast reachability probe (a TCP connect, no request).
const OUTBOUND_IO: &[&str] = &["src/outbound/", "src/loadtest.rs", "src/cablecast/probe.rs"];

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
    for module in ["`outbound`", "`cablecast`", "`loadtest`", "`notify`"] {
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

/// The HTTP and SMTP clients: named only behind the one door, so that every
/// request gets its timeout, no redirects, the User-Agent and the station's
/// certificate pinning.
const HTTP_AND_SMTP_CLIENTS: &[&str] = &["minreq", "lettre"];

/// Where the clients may be named.
const THE_ONE_DOOR: &[&str] = &["src/outbound/"];

/// The modules that send through the door (and `lib.rs`, which declares it).
const SENDERS: &[&str] = &[
    "src/outbound/",
    "src/cablecast/",
    "src/notify/",
    "src/lib.rs",
];

/// Modules that never send: the status server renders what is recorded.
const NEVER_SEND: &[&str] = &["src/web/"];

/// A line of code without its string literals and trailing comment.
fn code_only(line: &str) -> String {
    let line = line.replace("'\"'", "''");
    let mut code = String::new();
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => {
                in_string = false;
                code.push('"');
            }
            (true, _) => {}
            (false, '"') => {
                in_string = true;
                code.push('"');
            }
            (false, '/') if chars.peek() == Some(&'/') => break,
            (false, _) => code.push(c),
        }
    }
    code
}

/// Whether `code` names `word` as a whole identifier (`use minreq as http`,
/// `minreq::get`, `extern crate lettre`), not as part of a longer one.
fn names(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Every `(file:line: text)` of product code outside `allowed` that names
/// one of `words`.
fn naming(words: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources().iter().filter(|s| !s.under(allowed)) {
        for (n, line) in source.product_code() {
            let code = code_only(line);
            if words.iter().any(|w| names(&code, w)) {
                found.push(format!("{}:{n}: {}", source.path, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_http_and_smtp_clients_are_named_only_behind_the_one_door() {
    let found = naming(HTTP_AND_SMTP_CLIENTS, THE_ONE_DOOR);
    assert!(
        found.is_empty(),
        "minreq or lettre outside {THE_ONE_DOOR:?} (send through `outbound`):\n{}",
        found.join("\n")
    );
    let found = naming(&["outbound"], SENDERS);
    assert!(
        found.is_empty(),
        "`outbound` used outside {SENDERS:?}:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_status_server_never_sends() {
    let found: Vec<String> = naming(&["notify", "outbound"], &[])
        .into_iter()
        .filter(|f| NEVER_SEND.iter().any(|p| f.starts_with(p)))
        .collect();
    assert!(
        found.is_empty(),
        "{NEVER_SEND:?} calls into notify or outbound (web must not send):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_door_check_catches_aliases_and_ignores_strings_and_comments() {
    for caught in [
        "use minreq as http;",
        "    let r = ::minreq::get(url);",
        "extern crate lettre;",
        "use crate::{cache, notify::deliver};",
    ] {
        let code = code_only(caught);
        assert!(
            names(&code, "minreq") || names(&code, "lettre") || names(&code, "notify"),
            "{caught}"
        );
    }
    for ignored in [
        r#"    .level_for("minreq", LevelFilter::Warn)"#,
        "    state.changed.notify_all(); // minreq is behind the door",
        r#"    let quote = '"'; let lettres = 2;"#,
    ] {
        let code = code_only(ignored);
        assert!(
            !names(&code, "minreq") && !names(&code, "lettre") && !names(&code, "notify"),
            "{ignored}: {code}"
        );
    }
}
