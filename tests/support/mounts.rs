//! Real filesystem faults for the database tests: a tiny tmpfs that fills up,
//! a read-only bind mount, an immutable file. Each undoes itself on drop.
//!
//! The tests run as root, where permission bits do not stop a write, so these
//! use the kernel's own refusals instead. When the environment cannot set a
//! fault up, the constructor panics with the reason rather than letting the
//! test pass without having tested anything.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program} could not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A tmpfs of a fixed size mounted on a fresh directory; unmounted on drop.
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("mount point");
        let size = format!("size={size}");
        if let Err(e) = run(
            "mount",
            &["-t", "tmpfs", "-o", &size, "tmpfs", text(dir.path())],
        ) {
            panic!("this test needs a small tmpfs (root and mount(8)) to fill the disk: {e}");
        }
        SmallDisk { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", text(self.dir.path())]);
    }
}

/// A read-only view of a directory (a read-only bind mount); unmounted on
/// drop.
pub struct ReadOnlyView {
    pub dir: tempfile::TempDir,
}

impl ReadOnlyView {
    pub fn of(source: &Path) -> ReadOnlyView {
        let dir = tempfile::tempdir().expect("mount point");
        let target = text(dir.path()).to_string();
        let setup = run("mount", &["--bind", text(source), &target])
            .and_then(|()| run("mount", &["-o", "remount,ro,bind", &target]));
        let view = ReadOnlyView { dir };
        if let Err(e) = setup {
            panic!("this test needs a read-only bind mount (root and mount(8)): {e}");
        }
        // Prove the kernel refuses writes there, even to root.
        let probe = view.dir.path().join(".write-probe");
        if std::fs::write(&probe, b"x").is_ok() {
            let _ = std::fs::remove_file(&probe);
            panic!("the read-only bind mount at {target} accepted a write; cannot test read-only files here");
        }
        view
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", text(self.dir.path())]);
    }
}

/// A file made immutable (`chattr +i`); made mutable again on drop.
pub struct Immutable {
    path: PathBuf,
}

impl Immutable {
    pub fn make(path: &Path) -> Immutable {
        if let Err(e) = run("chattr", &["+i", text(path)]) {
            panic!("this test needs chattr +i (root on a filesystem with attributes): {e}");
        }
        let guard = Immutable {
            path: path.to_path_buf(),
        };
        if std::fs::OpenOptions::new().append(true).open(path).is_ok() {
            panic!(
                "{} is still writable after chattr +i; cannot test a read-only file here",
                path.display()
            );
        }
        guard
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = run("chattr", &["-i", text(&self.path)]);
    }
}
