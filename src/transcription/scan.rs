//! `transcriptions scan`: walks the station's storage for caption files and
//! records one result per file.
//!
//! The walk is iterative (a stack of directories still to read), holds one
//! directory's entries at a time and writes in batches, so a mount of any
//! size is walked in bounded memory. Paths are kept as reached from the
//! directory given (made absolute, never resolved through symlinks).
//! Symbolic links to files are followed; symbolic links to directories are
//! walked after the real tree, and only when their target was not walked
//! already, so a loop ends and a real path always wins over a link to it.
//! Entries that cannot be read are reported and skipped; a file is marked
//! removed only when it is really gone, never because its folder could not be
//! read or its mount was missing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::result_id;
use crate::store::{ScanCounts, ScannedCaption, Store, StoreError};

/// Caption file extensions, compared without case.
pub const CAPTION_EXTENSIONS: [&str; 3] = ["scc", "vtt", "srt"];

/// Video extensions a caption's sibling may have, the preferred first (the
/// broadcast master before a proxy).
pub const VIDEO_EXTENSIONS: [&str; 12] = [
    "mxf", "mov", "mp4", "m4v", "mpg", "mpeg", "ts", "m2t", "mts", "mkv", "avi", "wmv",
];

/// Caption files saved per transaction: large enough that a big mount is
/// not a transaction per file, small enough to keep each one short.
const BATCH: usize = 500;

/// Skipped entries kept in the report; past this only the count grows, so a
/// mount full of broken links cannot grow the report without bound.
pub const MAX_SKIPPED_LISTED: usize = 200;

/// An entry the scan could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Directory entries looked at (files, folders, links).
    pub entries: u64,
    /// Caption files found and recorded.
    pub captions: u64,
    pub counts: ScanCounts,
    /// Results whose file is gone, marked removed by this scan.
    pub removed: usize,
    /// The first [`MAX_SKIPPED_LISTED`] skipped entries.
    pub skipped: Vec<Skipped>,
    /// All skipped entries.
    pub skipped_total: usize,
    /// Directories given that could not be walked at all.
    pub failed_roots: Vec<Skipped>,
}

impl ScanReport {
    fn skip(&mut self, path: &Path, reason: impl fmt::Display) {
        self.skipped_total += 1;
        if self.skipped.len() < MAX_SKIPPED_LISTED {
            self.skipped.push(Skipped {
                path: path.display().to_string(),
                reason: reason.to_string(),
            });
        }
    }
}

/// Why a scan stopped.
#[derive(Debug)]
pub enum ScanError {
    /// The database failed; what was saved before stays saved.
    Store(StoreError),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Store(e) => write!(f, "scanning caption files: {e}"),
        }
    }
}

impl std::error::Error for ScanError {}

impl From<StoreError> for ScanError {
    fn from(e: StoreError) -> Self {
        ScanError::Store(e)
    }
}

/// `true` when `name` ends in one of `extensions`, without case.
fn has_extension(name: &str, extensions: &[&str]) -> bool {
    extension(name).is_some_and(|ext| extensions.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}

fn extension(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then_some(ext)
}

fn stem(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// Unix seconds of a file's modification time (0 if before 1970).
fn mtime(meta: &Metadata) -> io::Result<i64> {
    let modified = meta.modified()?;
    Ok(modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64))
}

/// One directory's caption files and videos, as read.
#[derive(Default)]
struct Listing {
    captions: Vec<(String, i64, i64)>,
    /// Stem -> (preference, file name); a lower preference wins.
    videos: HashMap<String, (usize, String)>,
}

impl Listing {
    fn sibling_video(&self, caption: &str) -> Option<&str> {
        // `Council.en.vtt` belongs to `Council.mp4` when there is no
        // `Council.en.mp4`: language tags are common in caption names.
        let first = stem(caption);
        self.videos
            .get(first)
            .or_else(|| self.videos.get(stem(first)))
            .map(|(_, name)| name.as_str())
    }
}

/// The walk of one scan over all its directories.
struct Walk<'a> {
    store: &'a Store,
    scan: i64,
    report: ScanReport,
    /// (device, inode) of every directory walked.
    walked: HashSet<(u64, u64)>,
    batch: Vec<ScannedCaption>,
}

/// Scans `dirs` for caption files and records them (see the module docs).
pub fn scan(store: &Store, dirs: &[PathBuf]) -> Result<ScanReport, ScanError> {
    let scan = store.begin_caption_scan()?;
    let mut walk = Walk {
        store,
        scan,
        report: ScanReport::default(),
        walked: HashSet::new(),
        batch: Vec::with_capacity(BATCH),
    };
    let mut walked_roots = Vec::new();
    for dir in dirs {
        // Rebuilt from its components: `./vod/` and `vod` give the same
        // paths (and ids); `..` and symlinks stay as given.
        let root: PathBuf = match std::path::absolute(dir) {
            Ok(root) => root.components().collect(),
            Err(e) => {
                walk.failed_root(dir, e);
                continue;
            }
        };
        match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {
                walk.walk_root(root.clone(), &meta)?;
                walked_roots.push(root);
            }
            Ok(_) => walk.failed_root(&root, "not a directory"),
            Err(e) => walk.failed_root(&root, e),
        }
    }
    walk.flush()?;
    for root in walked_roots {
        walk.mark_removed(&root)?;
    }
    Ok(walk.report)
}

impl Walk<'_> {
    fn failed_root(&mut self, dir: &Path, reason: impl fmt::Display) {
        self.report.failed_roots.push(Skipped {
            path: dir.display().to_string(),
            reason: reason.to_string(),
        });
    }

    fn walk_root(&mut self, root: PathBuf, meta: &Metadata) -> Result<(), ScanError> {
        if !self.walked.insert((meta.dev(), meta.ino())) {
            return Ok(());
        }
        let mut pending = vec![root];
        let mut linked: Vec<PathBuf> = Vec::new();
        loop {
            while let Some(dir) = pending.pop() {
                self.read_dir(&dir, &mut pending, &mut linked)?;
            }
            // Links to directories, once the real tree is done.
            let Some(link) = linked.pop() else { break };
            match fs::metadata(&link) {
                Ok(meta) if self.walked.insert((meta.dev(), meta.ino())) => pending.push(link),
                Ok(_) => {} // walked already: a loop, or a second path to it
                Err(e) => self.report.skip(&link, e),
            }
        }
        Ok(())
    }

    fn read_dir(
        &mut self,
        dir: &Path,
        pending: &mut Vec<PathBuf>,
        linked: &mut Vec<PathBuf>,
    ) -> Result<(), ScanError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.report.skip(dir, format!("cannot read folder: {e}"));
                return Ok(());
            }
        };
        let mut listing = Listing::default();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.report.skip(dir, format!("cannot read folder: {e}"));
                    break;
                }
            };
            self.report.entries += 1;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                self.report
                    .skip(&path, "name is not valid UTF-8; rename it to record it");
                continue;
            };
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(e) => {
                    self.report.skip(&path, e);
                    continue;
                }
            };
            if file_type.is_dir() {
                match entry.metadata() {
                    Ok(meta) if self.walked.insert((meta.dev(), meta.ino())) => pending.push(path),
                    Ok(_) => {}
                    Err(e) => self.report.skip(&path, e),
                }
                continue;
            }
            let is_caption = has_extension(&name, &CAPTION_EXTENSIONS);
            let video_rank = extension(&name).and_then(|ext| {
                VIDEO_EXTENSIONS
                    .iter()
                    .position(|v| v.eq_ignore_ascii_case(ext))
            });
            if file_type.is_symlink() {
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_dir() => {
                        linked.push(path);
                        continue;
                    }
                    Ok(_) => {}
                    // Any broken link is reported: it may have been a
                    // folder of captions (an unmounted archive, say).
                    Err(e) => {
                        self.report
                            .skip(&path, format!("broken symbolic link: {e}"));
                        continue;
                    }
                }
            }
            if let Some(rank) = video_rank {
                let slot = listing
                    .videos
                    .entry(stem(&name).to_string())
                    .or_insert((rank, name.clone()));
                if rank < slot.0 {
                    *slot = (rank, name);
                }
            } else if is_caption {
                match caption_file(&path) {
                    Ok((size, mtime)) => listing.captions.push((name, size, mtime)),
                    Err(reason) => self.report.skip(&path, reason),
                }
            }
        }
        for (name, size, mtime) in std::mem::take(&mut listing.captions) {
            let output = dir.join(&name);
            let video = match listing.sibling_video(&name) {
                Some(video) => dir.join(video),
                None => dir.join(stem(&name)),
            };
            // Both came from a UTF-8 directory path and UTF-8 names.
            let (Some(output), Some(video)) = (output.to_str(), video.to_str()) else {
                self.report
                    .skip(&output, "path is not valid UTF-8; rename it to record it");
                continue;
            };
            self.report.captions += 1;
            self.batch.push(ScannedCaption {
                id: result_id(output),
                video_path: video.to_string(),
                output_path: output.to_string(),
                size,
                mtime,
            });
            if self.batch.len() >= BATCH {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ScanError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let counts = self.store.save_scanned_captions(&self.batch, self.scan)?;
        self.report.counts.added += counts.added;
        self.report.counts.updated += counts.updated;
        self.report.counts.unchanged += counts.unchanged;
        self.batch.clear();
        Ok(())
    }

    /// Marks the results under `root` this scan did not see, when their file
    /// is really gone (not merely in a folder that could not be read).
    fn mark_removed(&mut self, root: &Path) -> Result<(), ScanError> {
        let Some(root) = root.to_str() else {
            return Ok(());
        };
        let gone: Vec<String> = self
            .store
            .unseen_scanned_captions(root, self.scan)?
            .into_iter()
            // NotFound also covers a link whose target is gone; a folder
            // that cannot be entered answers "permission denied" instead.
            .filter(|(_, path)| {
                fs::metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
            })
            .map(|(id, _)| id)
            .collect();
        self.report.removed += self.store.mark_captions_removed(&gone)?;
        Ok(())
    }
}

/// Size and modification time of a caption file that can be read, or why
/// it cannot be used.
fn caption_file(path: &Path) -> Result<(i64, i64), String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    // Opening proves the transcription job's output can be read; a FIFO
    // never gets here, so this cannot block.
    File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mtime = mtime(&meta).map_err(|e| e.to_string())?;
    Ok((meta.len() as i64, mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_stem_and_extension() {
        assert!(has_extension("Council 2026-08-24.SCC", &CAPTION_EXTENSIONS));
        assert!(!has_extension(".scc", &CAPTION_EXTENSIONS));
        assert!(!has_extension("notes.txt", &CAPTION_EXTENSIONS));
        assert_eq!(stem("a.b.vtt"), "a.b");
        assert_eq!(stem("noext"), "noext");
    }
}
