//! A missing or malformed setting fails at start, before anything is opened
//! or fetched, with exit code 2 and one line that names the setting (flag or
//! variable, whichever the engineer used) and why. Every case is a unit test
//! of `cli::parse`; these few prove the binary behaves as `parse` says.

use crate::support::{archivist, stderr, stdout, Scratch};

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
fn a_bad_flag_a_bad_variable_and_a_bad_url_are_refused_before_anything_opens() {
    refused(&["--interval", "abc"], &[], "--interval");
    refused(
        &[],
        &[("ARCHIVIST_LISTEN", "localhost:8080")],
        "ARCHIVIST_LISTEN",
    );
    refused(
        &[],
        &[("CABLECAST_API_URL", "ftp://cc.example.org/v1")],
        "http://",
    );
    refused(
        &["--interval", "soon"],
        &[("ARCHIVIST_INTERVAL", "60")],
        "--interval",
    );
}

#[test]
fn every_command_answers_help() {
    let out = archivist().arg("help").output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let overview = stdout(&out);
    for command in ["monitor", "transcriptions scan", "export", "loadtest"] {
        assert!(
            overview.contains(command),
            "{command} missing from:\n{overview}"
        );
    }
    let out = archivist()
        .args(["monitor", "--help"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("--catalog-interval"), "{text}");
    assert!(text.contains("POST /api/transcriptions"), "{text}");
    let out = archivist()
        .args(["transcriptions", "add", "--help"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("--video"));
}
