//! The `archivist` command: runs one command and maps its outcome to an exit
//! code and at most one line on stderr.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let env: std::collections::HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    match archivist::cli::run(args, &env) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("archivist: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
