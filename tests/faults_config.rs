//! Every missing or malformed setting fails at start, before anything is
//! opened or fetched, with exit code 2 and one line that names the setting
//! (flag or variable, whichever the engineer used) and why. The cases
//! `core_cli` already covers are not repeated here.

use crate::support::{archivist, stderr, Scratch};

/// The password every case carries, which no error may echo.
const PASSWORD: &str = "Tr1cky-Pa55word";

/// Runs `monitor --single-run` with `flags` and `vars` on top of a valid
/// setup and checks the one-line, exit-2 refusal naming `setting`.
fn refused(flags: &[&str], vars: &[(&str, &str)], setting: &str) {
    let scratch = Scratch::new();
    let mut command = archivist();
    command
        .arg("--db")
        .arg(scratch.db())
        .args(["monitor", "--single-run"])
        .args(flags)
        .env("CABLECAST_API_URL", "http://127.0.0.1:9/CablecastAPI/v1")
        .env("CABLECAST_USER_ID", "station")
        .env("CABLECAST_PASSWORD", PASSWORD);
    for (key, value) in vars {
        command.env(key, value);
    }
    let out = command.output().expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{flags:?} {vars:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{flags:?} {vars:?}: {err}");
    assert!(
        err.contains(setting),
        "{flags:?} {vars:?}: {setting} not named in {err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    // Refused before the database was created.
    assert!(
        !scratch.db().exists(),
        "{flags:?} {vars:?} created the database"
    );
}

#[test]
fn cablecast_settings() {
    for (url, why) in [
        ("ftp://cablecast.example.org/v1", "http://"),
        ("cablecast.example.org/CablecastAPI/v1", "http://"),
        ("http://", "CABLECAST_API_URL"),
        ("http://cc.example.org/CablecastAPI/v1?page_size=5", "query"),
        ("http://cc example.org/v1", "spaces"),
        ("   ", "not set"),
    ] {
        refused(&[], &[("CABLECAST_API_URL", url)], "CABLECAST_API_URL");
        refused(&[], &[("CABLECAST_API_URL", url)], why);
    }
    refused(&[], &[("CABLECAST_USER_ID", "")], "CABLECAST_USER_ID");
    refused(
        &[],
        &[("CABLECAST_USER_ID", "st:ation")],
        "CABLECAST_USER_ID",
    );
    for location in ["0", "-4", "1.5", "main studio"] {
        refused(
            &[],
            &[("CABLECAST_LOCATION_ID", location)],
            "CABLECAST_LOCATION_ID",
        );
    }
}

#[test]
fn monitor_settings() {
    let flag_cases: &[(&[&str], &str)] = &[
        (&["--interval", "abc"], "--interval"),
        (&["--interval", "86401"], "--interval"),
        (&["--interval", "-1"], "--interval"),
        (&["--catalog-interval", "0"], "--catalog-interval"),
        (&["--http-timeout", "0"], "--http-timeout"),
        (&["--http-timeout", "601"], "--http-timeout"),
        (&["--http-concurrency", "0"], "--http-concurrency"),
        (&["--http-concurrency", "65"], "--http-concurrency"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--batch-size", "10001"], "--batch-size"),
        (&["--listen", "127.0.0.1"], "--listen"),
        (&["--listen", "127.0.0.1:99999"], "--listen"),
        (&["--listen", ""], "--listen"),
        (&["--log-level", "LOUD"], "--log-level"),
        // A flag without its value, and one that does not exist.
        (&["--interval"], "--interval"),
        (&["--intervall", "5"], "intervall"),
    ];
    for (flags, setting) in flag_cases {
        refused(flags, &[], setting);
    }
    for (var, value) in [
        ("ARCHIVIST_CATALOG_INTERVAL", "hourly"),
        ("ARCHIVIST_HTTP_TIMEOUT", "fast"),
        ("ARCHIVIST_HTTP_CONCURRENCY", "many"),
        ("ARCHIVIST_BATCH_SIZE", "0"),
        ("ARCHIVIST_LISTEN", "localhost:8080"),
    ] {
        refused(&[], &[(var, value)], var);
    }
}

#[test]
fn a_flag_wins_and_the_error_names_the_flag_not_the_variable() {
    refused(
        &["--interval", "soon"],
        &[("ARCHIVIST_INTERVAL", "60")],
        "--interval",
    );
}
