//! Standard output of every command, through one writer: `out!` and
//! `outln!` write as `print!` and `println!` do, but hand a failed write
//! back as [`CliError::Output`](super::CliError::Output) instead of
//! panicking. [`super::execute`] ends a command whose reader went away
//! (`archivist status | head`) quietly, with exit 0, the same for every
//! command. Nothing here decides what a command says.

/// `print!` to standard output; `Err(CliError::Output)` when it fails.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::CliError::Output)
    }};
}

/// `println!` to standard output; `Err(CliError::Output)` when it fails.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::CliError::Output)
    }};
}

/// Whether a failed write only means the reader stopped reading.
pub(super) fn reader_gone(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}
