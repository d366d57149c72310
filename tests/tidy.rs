//! The code map's invariants, checked on the source (as rust-analyzer's
//! `tidy.rs` does): SQL stays in `store`, outbound network IO in the
//! modules allowed to make it, the environment is read by the entry point
//! alone, every file opens with `//!` docs, and every `unwrap`/`expect`
//! outside tests says why it cannot fail.
//!
//! It also computes the graph of calls between the top-level modules from
//! the `crate::` paths of product code, and holds it to the list in
//! `src/lib.rs` ("Calls go one way"): no cycle, no edge the list does not
//! name, no listed edge the code does not use. `every_unsafe_block_says_why`
//! wants a `// SAFETY:` comment on each `unsafe` block.
//!
//! Conventions the checks rely on: a file's unit tests are one
//! `#[cfg(test)] mod tests { ... }`, its last item (checked); everything
//! before it is product code, test-only items included. A `// reason: ...`
//! comment on the line of an `unwrap`/`expect`, or on the line above it,
//! gives its reason.

use std::collections::{BTreeMap, BTreeSet};
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
    "UPDATE alert",
    "UPDATE vod_event",
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
    /// The lines before the file's unit tests (its final
    /// `#[cfg(test)] mod tests { ... }`), numbered from 1, without comment
    /// lines. Test-only items anywhere else are read as product code.
    fn product_code(&self) -> impl Iterator<Item = (usize, &str)> {
        let end = self.unit_tests().map_or(usize::MAX, |(start, _)| start);
        self.text
            .lines()
            .enumerate()
            .take_while(move |(i, _)| *i < end)
            .filter(|(_, line)| !line.trim_start().starts_with("//"))
            .map(|(i, line)| (i + 1, line))
    }

    /// The product code as one text, for what spans lines.
    fn product_text(&self) -> String {
        self.product_code()
            .map(|(_, line)| line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The first and last line index (from 0) of the file's first
    /// `#[cfg(test)]` + `mod tests {` block, by rustfmt's layout: the
    /// module's closing brace is the first line that is `}` alone.
    fn unit_tests(&self) -> Option<(usize, usize)> {
        let lines: Vec<&str> = self.text.lines().collect();
        let start = lines.windows(2).position(|pair| {
            pair[0].trim_end() == "#[cfg(test)]" && pair[1].starts_with("mod tests {")
        })?;
        let end = (start + 2..lines.len())
            .find(|&i| lines[i].trim_end() == "}")
            .unwrap_or(lines.len());
        Some((start, end))
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

/// Every `(file:line: text)` of product code that holds one of `needles`
/// (in any case: SQL is SQL in lower case too), in files `allowed` does not
/// exempt.
fn offenders(needles: &[&str], allowed: impl Fn(&Source) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources().iter().filter(|s| !allowed(s)) {
        for (n, line) in source.product_code() {
            if needles.iter().any(|needle| holds(line, needle)) {
                found.push(format!("{}:{n}: {}", source.path, line.trim()));
            }
        }
    }
    found
}

/// Whether `line` holds `needle` in any case, not as an HTML tag's name
/// (`<select` is a form, not SQL).
fn holds(line: &str, needle: &str) -> bool {
    let line = line.to_lowercase();
    let needle = needle.to_lowercase();
    line.match_indices(&needle)
        .any(|(at, _)| !line[..at].ends_with('<'))
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

#[test]
fn unit_tests_are_the_last_item_of_their_file() {
    let mut found = Vec::new();
    for source in sources() {
        let Some((_, end)) = source.unit_tests() else {
            continue;
        };
        let after: Vec<&str> = source.text.lines().skip(end + 1).collect();
        if after.iter().any(|line| !line.trim().is_empty()) {
            found.push(format!(
                "{}:{}: code after the unit tests, which tidy would not read",
                source.path,
                end + 2
            ));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_unsafe_block_says_why() {
    let mut found = Vec::new();
    for source in sources() {
        let lines: Vec<&str> = source.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or(line);
            if !code.contains("unsafe {") {
                continue;
            }
            // The comment lines right above, or the line itself.
            let above = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.trim_start().starts_with("//"));
            let said = line.contains("// SAFETY:")
                || above
                    .map(|l| l.trim_start())
                    .any(|l| l.starts_with("// SAFETY:"));
            if !said {
                found.push(format!("{}:{}: {}", source.path, i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "`unsafe` without a `// SAFETY:` comment above it:\n{}",
        found.join("\n")
    );
}

/// Calls between top-level modules: who names whom.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn read_lib() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("lib.rs reads")
}

/// The crate's top-level modules, from `pub mod x;` in lib.rs.
fn top_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// The top-level module a file belongs to; none for the crate root, the
/// entry point and the build script.
fn module_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("src/")?;
    if matches!(rest, "lib.rs" | "main.rs" | "build.rs") {
        return None;
    }
    let first = rest.split('/').next()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The modules a text names through `crate::x` or `crate::{x, y::z}`.
fn named_modules(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each part at the group's own depth.
            let mut depth = 1;
            let mut part_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => part_start = true,
                    c if part_start && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                        part_start = false;
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        names.push(name);
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

/// The graph the product code makes: module -> the other top-level modules
/// it names.
fn code_graph() -> Graph {
    let modules = top_modules(&read_lib());
    let mut graph = Graph::new();
    for source in sources() {
        let Some(from) = module_of(&source.path) else {
            continue;
        };
        for to in named_modules(&source.product_text()) {
            if to != from && modules.contains(&to) {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// The graph lib.rs allows: after "Calls go one way", one `//! - x -> {a, b}`
/// line per module.
fn allowed_graph(lib: &str) -> Graph {
    let mut graph = Graph::new();
    let list = lib
        .lines()
        .skip_while(|l| !l.contains("Calls go one way"))
        .skip(1)
        .skip_while(|l| !l.starts_with("//! - "))
        .take_while(|l| l.starts_with("//! - ") || l.starts_with("//!   "));
    let mut entry = String::new();
    let mut entries = Vec::new();
    for line in list {
        if let Some(start) = line.strip_prefix("//! - ") {
            entries.push(std::mem::take(&mut entry));
            entry.push_str(start);
        } else {
            entry.push(' ');
            entry.push_str(line.trim_start_matches("//!").trim());
        }
    }
    entries.push(entry);
    for entry in entries.iter().filter(|e| !e.is_empty()) {
        let (from, to) = entry
            .split_once(" -> ")
            .unwrap_or_else(|| panic!("lib.rs: {entry:?} is not `module -> {{a, b}}`"));
        let to = to
            .split_once('{')
            .and_then(|(_, t)| t.split_once('}'))
            .map(|(t, _)| t)
            .unwrap_or(to);
        let names = to
            .split(',')
            .map(|n| n.trim().trim_matches('`').to_string())
            .filter(|n| !n.is_empty());
        graph
            .entry(from.trim().trim_matches('`').to_string())
            .or_default()
            .extend(names);
    }
    graph
}

/// The groups of modules that reach each other (cycles), each sorted.
fn cycles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut knots: Vec<BTreeSet<String>> = Vec::new();
    for from in graph.keys() {
        let reached = reach(from);
        if !reached.contains(from) {
            continue;
        }
        let knot: BTreeSet<String> = reached
            .iter()
            .filter(|m| reach(m).contains(from))
            .cloned()
            .collect();
        if !knots.contains(&knot) {
            knots.push(knot);
        }
    }
    knots
}

fn graph_text(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(from, to)| {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            format!("{from} -> {{{}}}", to.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn calls_between_modules_go_one_way_as_lib_rs_lists_them() {
    let graph = code_graph();
    let knots = cycles(&graph);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    // Printed so the graph can be quoted (`-- --nocapture`).
    println!("module graph ({edges} edges):\n{}", graph_text(&graph));
    println!("cycles: {knots:?}");
    assert!(knots.is_empty(), "modules that call each other: {knots:?}");
    let allowed = allowed_graph(&read_lib());
    let mut wrong = Vec::new();
    for (from, to) in &graph {
        for to in to {
            if !allowed.get(from).is_some_and(|a| a.contains(to)) {
                wrong.push(format!("{from} -> {to}: not in lib.rs's list"));
            }
        }
    }
    for (from, to) in &allowed {
        for to in to {
            if !graph.get(from).is_some_and(|g| g.contains(to)) {
                wrong.push(format!("{from} -> {to}: listed in lib.rs, used by no code"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_graph_reader_sees_grouped_paths_and_cycles() {
    assert_eq!(
        named_modules("use crate::{alert::{self, X}, cli::Env};\nlet x = crate::store::open();"),
        ["alert", "cli", "store"]
    );
    let graph = allowed_graph(
        "//! Calls go one way:\n//!\n//! - a -> {b, c}\n//! - b -> {a}\n//! - c -> {}\n",
    );
    assert_eq!(graph_text(&graph), "a -> {b, c}\nb -> {a}\nc -> {}");
    let knots = cycles(&graph);
    assert_eq!(knots.len(), 1);
    assert_eq!(knots[0].iter().collect::<Vec<_>>(), ["a", "b"]);
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
