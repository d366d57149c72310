//! Build script: records the git commit and the target triple for
//! `archivist --version`, so a station engineer's bug report names exactly
//! which build runs on the box. It does not generate code.
//!
//! Without git (a source tarball, a build box with no git) the commit is
//! "unknown"; the build never fails for want of it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "--short=7", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ARCHIVIST_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=ARCHIVIST_TARGET={target}");
    println!("cargo:rerun-if-changed=src/build.rs");
    // Re-run when the commit can have changed: HEAD moved to another branch,
    // or the branch it names moved (a commit, a merge, a reset). In a git
    // worktree HEAD lives in the worktree's own git dir and the branch in the
    // common one; packed-refs covers a branch that was packed.
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]).map(PathBuf::from) {
        watch(&git_dir.join("HEAD"));
        if let Some(common) = git(&["rev-parse", "--git-common-dir"]).map(PathBuf::from) {
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(&common.join(branch));
            }
            watch(&common.join("packed-refs"));
        }
    }
}

/// One line of git's output, or None when git is missing or fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
