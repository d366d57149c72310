//! `transcriptions link`: matches results to Cablecast shows, or links one
//! by hand.
//!
//! Results are matched per video (all captions of one video go to the same
//! show). A video's score against a show, from 0 to 1, weighs:
//! - title words of the video and caption file names against the show's
//!   `title` and `cgTitle` (the better of the two),
//! - dates in those names against the dates in the show's titles and its
//!   `eventDate` (a date that contradicts the show halves the score),
//! - the captions' time span against the show's run time, where both are
//!   known.
//!
//! A video is linked when its best score reaches [`LINK_THRESHOLD`] and no
//! other show comes within [`AMBIGUITY_MARGIN`] of it; otherwise it is listed
//! as ambiguous with its candidates. A name without a date is never linked
//! automatically (recurring meetings share their titles), so only the shows
//! of the name's dates are scored: linking costs the videos times the shows
//! of a day, not times the whole catalogue. A show is never linked to a second video
//! silently: such a match is listed as a conflict and left unlinked. Links
//! made by hand are never changed here.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use time::Date;

use super::names::{dates, same_word, title_words};
use crate::clock;
use crate::store::{ManualLinkOutcome, ShowToLink, Store, StoreError};

/// Lowest score that links: a title that fits fairly and a date that agrees
/// reach it; a perfect title without a date does not, nor does a date with
/// no title words in common (recurring meetings share titles, and a day
/// holds several meetings).
pub const LINK_THRESHOLD: f64 = 0.65;

/// A second candidate this close to the best makes the match ambiguous.
pub const AMBIGUITY_MARGIN: f64 = 0.05;

const TITLE_WEIGHT: f64 = 0.5;
const DATE_WEIGHT: f64 = 0.4;
const DURATION_WEIGHT: f64 = 0.1;

/// Date part when a side carries no date: little, so that a title alone
/// stays below the threshold (`link` does not even score such pairs).
const DATE_UNKNOWN: f64 = 0.1;
/// Date part when the name's date is a day off the event date and the
/// show's titles carry no date to compare (the event date is UTC, so a late
/// meeting's local date can be the day before).
const DATE_NEXT_DAY: f64 = 0.6;
/// Duration part when a duration is not known.
const DURATION_UNKNOWN: f64 = 0.5;
/// Caption spans this share of the run time fit: captions start after the
/// opening and end before the credits.
const DURATION_FIT: std::ops::RangeInclusive<f64> = 0.6..=1.05;
/// Captions this much longer than the show cannot belong to it.
const DURATION_TOO_LONG: f64 = 1.2;

/// Candidates listed for an ambiguous video.
const CANDIDATES_LISTED: usize = 3;

/// Other videos listed for a conflict: a folder of copies matching one show
/// must not make the report grow with the square of their number.
pub const OTHERS_LISTED: usize = 3;

/// Bytes read from each end of a caption file to find its first and last
/// timestamps: several cues, whatever the format.
const CAPTION_HEAD_BYTES: u64 = 4096;
const CAPTION_TAIL_BYTES: u64 = 16_384;

/// A show a video might belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub cablecast_id: i64,
    pub title: String,
    pub score: f64,
}

/// A video linked by this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub video: String,
    pub show: Candidate,
    /// Results (caption files) linked.
    pub results: usize,
}

/// A video not linked because two or more shows fit about equally.
#[derive(Debug, Clone, PartialEq)]
pub struct Ambiguous {
    pub video: String,
    pub candidates: Vec<Candidate>,
}

/// A video not linked because its show has (or would get) another video.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub video: String,
    pub show: Candidate,
    /// The first [`OTHERS_LISTED`] other videos of that show.
    pub other_videos: Vec<String>,
    /// How many other videos the show has or was matched by.
    pub others: usize,
}

/// What one `link` run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkReport {
    pub linked: Vec<Link>,
    /// Results linked because another caption of the same video was linked.
    pub followed_video: usize,
    pub ambiguous: Vec<Ambiguous>,
    pub conflicts: Vec<Conflict>,
    /// Videos with no show above the threshold, with the best one if any.
    pub unmatched: Vec<(String, Option<Candidate>)>,
}

/// A link made by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualLink {
    pub rows: usize,
    pub show_title: String,
    /// Videos that were already linked to the same show (kept, and said).
    pub other_videos: Vec<String>,
}

/// Why a link by hand failed.
#[derive(Debug)]
pub enum LinkError {
    /// No show with this Cablecast id is in the catalogue.
    NoSuchShow(i64),
    /// No current result has this video (or caption) path.
    NoSuchVideo(String),
    /// The database failed.
    Store(StoreError),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::NoSuchShow(id) => write!(
                f,
                "no show with Cablecast id {id} in the catalogue (run the monitor first)"
            ),
            LinkError::NoSuchVideo(video) => write!(
                f,
                "no transcription result has the video or caption path {video:?}"
            ),
            LinkError::Store(e) => write!(f, "linking transcriptions: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<StoreError> for LinkError {
    fn from(e: StoreError) -> Self {
        LinkError::Store(e)
    }
}

/// A show as the scoring compares it.
struct ShowProfile<'a> {
    show: &'a ShowToLink,
    title_words: Vec<String>,
    cg_words: Vec<String>,
    /// Dates in the titles (local, as staff typed them), else the event's
    /// UTC date.
    dates: Vec<Date>,
    /// The event's UTC date, when the titles carry no date.
    undated_event: Option<Date>,
}

impl<'a> ShowProfile<'a> {
    fn new(show: &'a ShowToLink) -> Self {
        let mut show_dates = dates(&show.title);
        let cg = show.cg_title.as_deref().unwrap_or("");
        show_dates.extend(dates(cg));
        let event_date = show
            .event_date
            .as_deref()
            .and_then(clock::parse_stored)
            .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
            .map(|at| at.date());
        // The event date is stored in UTC: an evening meeting's UTC date is
        // the next day, so the titles' local dates win when there are any.
        let undated_event = event_date.filter(|_| show_dates.is_empty());
        show_dates.extend(undated_event);
        ShowProfile {
            show,
            title_words: title_words(&show.title),
            cg_words: title_words(cg),
            dates: show_dates,
            undated_event,
        }
    }
}

/// A video as the scoring compares it.
pub struct VideoProfile {
    words: Vec<String>,
    dates: Vec<Date>,
    /// Seconds from the first caption to the last.
    caption_span: Option<i64>,
}

impl VideoProfile {
    /// From the file names (without folders and extensions) of a video and
    /// its captions, and the time span of one caption file when known.
    pub fn new(names: &[&str], caption_span: Option<i64>) -> VideoProfile {
        let mut words: Vec<String> = Vec::new();
        let mut found = Vec::new();
        for name in names {
            for word in title_words(name) {
                if !words.contains(&word) {
                    words.push(word);
                }
            }
            for date in dates(name) {
                if !found.contains(&date) {
                    found.push(date);
                }
            }
        }
        VideoProfile {
            words,
            dates: found,
            caption_span,
        }
    }
}

/// How much of the name's words the title has (mostly) and how much of the
/// title the name covers.
fn title_similarity(name: &[String], title: &[String]) -> f64 {
    /// Extra words in a name (`video`, `session`) cost less than missing ones.
    const NAME_SHARE: f64 = 0.7;
    if name.is_empty() || title.is_empty() {
        return 0.0;
    }
    let in_title = name
        .iter()
        .filter(|w| title.iter().any(|t| same_word(w, t)))
        .count();
    let covered = title
        .iter()
        .filter(|t| name.iter().any(|w| same_word(w, t)))
        .count();
    NAME_SHARE * in_title as f64 / name.len() as f64
        + (1.0 - NAME_SHARE) * covered as f64 / title.len() as f64
}

/// The score of `video` against `show`, 0 to 1 (see the module docs).
fn score(video: &VideoProfile, show: &ShowProfile<'_>) -> f64 {
    let title = title_similarity(&video.words, &show.title_words)
        .max(title_similarity(&video.words, &show.cg_words));
    let mut contradicted = false;
    let date = if video.dates.is_empty() || show.dates.is_empty() {
        DATE_UNKNOWN
    } else if video.dates.iter().any(|d| show.dates.contains(d)) {
        1.0
    } else if video.dates.iter().any(|d| {
        show.undated_event
            .is_some_and(|e| (*d - e).whole_days().abs() == 1)
    }) {
        DATE_NEXT_DAY
    } else {
        contradicted = true;
        0.0
    };
    let duration = match (video.caption_span, show.show.run_time) {
        (Some(span), Some(run)) if span > 0 && run > 0 => {
            let ratio = span as f64 / run as f64;
            if DURATION_FIT.contains(&ratio) {
                1.0
            } else if ratio > DURATION_TOO_LONG {
                0.0
            } else {
                DURATION_UNKNOWN / 2.0
            }
        }
        _ => DURATION_UNKNOWN,
    };
    let total = TITLE_WEIGHT * title + DATE_WEIGHT * date + DURATION_WEIGHT * duration;
    if contradicted {
        total / 2.0
    } else {
        total
    }
}

/// The best candidates for `video` among `shows`, best first.
fn rank<'s, 'a: 's>(
    video: &VideoProfile,
    shows: impl Iterator<Item = &'s ShowProfile<'a>>,
) -> Vec<Candidate> {
    let mut scored: Vec<Candidate> = shows
        .map(|show| Candidate {
            cablecast_id: show.show.cablecast_id,
            title: show.show.title.clone(),
            score: (score(video, show) * 1000.0).round() / 1000.0,
        })
        .filter(|c| c.score > 0.0)
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.cablecast_id.cmp(&b.cablecast_id))
    });
    scored.truncate(CANDIDATES_LISTED);
    scored
}

fn file_stem(path: &str) -> &str {
    Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(path)
}

/// Matches every unlinked result to a show (see the module docs).
pub fn link(store: &Store) -> Result<LinkReport, LinkError> {
    let shows = store.shows_to_link()?;
    let profiles: Vec<ShowProfile<'_>> = shows.iter().map(ShowProfile::new).collect();
    // Date -> the shows a name with that date can match.
    let mut by_date: HashMap<Date, Vec<usize>> = HashMap::new();
    for (n, profile) in profiles.iter().enumerate() {
        let near_event = profile
            .undated_event
            .into_iter()
            .flat_map(|e| [e.previous_day(), e.next_day()])
            .flatten();
        for date in profile.dates.iter().copied().chain(near_event) {
            by_date.entry(date).or_default().push(n);
        }
    }
    let by_cablecast: HashMap<i64, i64> = shows.iter().map(|s| (s.cablecast_id, s.id)).collect();
    let linked = store.linked_videos()?;
    let video_show: HashMap<&str, i64> = linked
        .iter()
        .flat_map(|(show, videos)| videos.iter().map(move |v| (v.as_str(), *show)))
        .collect();
    let mut videos: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for result in store.unlinked_transcriptions()? {
        videos
            .entry(result.video_path)
            .or_default()
            .push(result.output_path);
    }
    let mut report = LinkReport::default();
    let mut writes: Vec<(String, i64, Option<f64>)> = Vec::new();
    // Show id -> (video, best candidate) proposals.
    let mut proposals: BTreeMap<i64, Vec<(String, Candidate, usize)>> = BTreeMap::new();
    for (video, outputs) in &videos {
        if let Some(show) = video_show.get(video.as_str()) {
            writes.push((video.clone(), *show, None));
            report.followed_video += outputs.len();
            continue;
        }
        let mut names = vec![file_stem(video)];
        names.extend(outputs.iter().flatten().map(|o| file_stem(o)));
        let profile = VideoProfile::new(&names, None);
        let mut near: Vec<usize> = profile
            .dates
            .iter()
            .filter_map(|d| by_date.get(d))
            .flatten()
            .copied()
            .collect();
        near.sort_unstable();
        near.dedup();
        if near.is_empty() {
            report.unmatched.push((video.clone(), None));
            continue;
        }
        // Read the captions' span only for a video with shows to compare.
        let span = outputs
            .iter()
            .flatten()
            .find_map(|o| caption_span(Path::new(o)).ok().flatten());
        let profile = VideoProfile {
            caption_span: span,
            ..profile
        };
        let candidates = rank(&profile, near.iter().map(|&n| &profiles[n]));
        let Some(best) = candidates.first() else {
            report.unmatched.push((video.clone(), None));
            continue;
        };
        if best.score < LINK_THRESHOLD {
            report.unmatched.push((video.clone(), Some(best.clone())));
            continue;
        }
        if candidates
            .get(1)
            .is_some_and(|second| best.score - second.score < AMBIGUITY_MARGIN)
        {
            report.ambiguous.push(Ambiguous {
                video: video.clone(),
                candidates,
            });
            continue;
        }
        if let Some(show_id) = by_cablecast.get(&best.cablecast_id) {
            proposals.entry(*show_id).or_default().push((
                video.clone(),
                best.clone(),
                outputs.len(),
            ));
        }
    }
    for (show_id, mut wanting) in proposals {
        wanting.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        let already = linked.get(&show_id).cloned().unwrap_or_default();
        let clear_winner =
            wanting.len() == 1 || wanting[0].1.score - wanting[1].1.score >= AMBIGUITY_MARGIN;
        let all: Vec<String> = wanting.iter().map(|w| w.0.clone()).collect();
        for (n, (video, show, results)) in wanting.into_iter().enumerate() {
            if already.is_empty() && clear_winner && n == 0 {
                writes.push((video.clone(), show_id, Some(show.score)));
                report.linked.push(Link {
                    video,
                    show,
                    results,
                });
            } else {
                let other_videos = already
                    .iter()
                    .chain(all.iter().filter(|v| **v != video))
                    .take(OTHERS_LISTED)
                    .cloned()
                    .collect();
                report.conflicts.push(Conflict {
                    video,
                    show,
                    other_videos,
                    others: already.len() + all.len() - 1,
                });
            }
        }
    }
    store.link_videos(&writes)?;
    Ok(report)
}

/// Links `video` (a video or caption path, as stored) to a show by hand.
pub fn link_by_hand(
    store: &Store,
    cablecast_id: i64,
    video: &str,
) -> Result<ManualLink, LinkError> {
    match store.link_video_by_hand(cablecast_id, video)? {
        ManualLinkOutcome::NoSuchShow => Err(LinkError::NoSuchShow(cablecast_id)),
        ManualLinkOutcome::NoSuchVideo => Err(LinkError::NoSuchVideo(video.to_string())),
        ManualLinkOutcome::Linked {
            rows,
            show_title,
            other_videos,
        } => Ok(ManualLink {
            rows,
            show_title,
            other_videos,
        }),
    }
}

/// Seconds from the first to the last timestamp in a caption file (SCC
/// `01:00:05;12`, WebVTT `00:01:02.000`, SRT `00:01:02,000`), reading only
/// its two ends. `None` when it has fewer than two timestamps.
pub fn caption_span(path: &Path) -> io::Result<Option<i64>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(CAPTION_HEAD_BYTES)
        .read_to_end(&mut head)?;
    let first = timestamps(&head).min();
    let mut tail = Vec::new();
    if len > CAPTION_HEAD_BYTES {
        file.seek(SeekFrom::Start(
            len.saturating_sub(CAPTION_TAIL_BYTES)
                .max(CAPTION_HEAD_BYTES),
        ))?;
        file.take(CAPTION_TAIL_BYTES).read_to_end(&mut tail)?;
    }
    let last = timestamps(&head).chain(timestamps(&tail)).max();
    Ok(match (first, last) {
        (Some(first), Some(last)) if last > first => Some(last - first),
        _ => None,
    })
}

/// Every `HH:MM:SS` in `bytes`, as seconds.
fn timestamps(bytes: &[u8]) -> impl Iterator<Item = i64> + '_ {
    bytes.windows(8).filter_map(|w| {
        let digit = |i: usize| w[i].is_ascii_digit();
        if !(digit(0) && digit(1) && w[2] == b':' && digit(3) && digit(4) && w[5] == b':')
            || !(digit(6) && digit(7))
        {
            return None;
        }
        let n = |i: usize| i64::from(w[i] - b'0') * 10 + i64::from(w[i + 1] - b'0');
        (n(3) < 60 && n(6) < 60).then(|| n(0) * 3600 + n(3) * 60 + n(6))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(id: i64, title: &str, cg: Option<&str>, event: &str) -> ShowToLink {
        ShowToLink {
            id,
            cablecast_id: id,
            title: title.into(),
            cg_title: cg.map(str::to_string),
            event_date: Some(event.into()),
            run_time: Some(4000),
        }
    }

    #[test]
    fn date_and_title_pick_the_meeting() {
        let shows = [
            show(
                1,
                "City Council Regular meeting - 8/24/2026 6:30:00 PM",
                Some("City Council Regular meeting 08/24/26"),
                "2026-08-24T23:30:00Z",
            ),
            show(
                2,
                "City Council Work Session - 8/24/2026 6:30:00 PM",
                None,
                "2026-08-24T23:30:00Z",
            ),
            show(
                3,
                "City Council Regular meeting - 9/14/2026 6:30:00 PM",
                None,
                "2026-09-14T23:30:00Z",
            ),
        ];
        let profiles: Vec<_> = shows.iter().map(ShowProfile::new).collect();
        let best = |names: &[&str]| rank(&VideoProfile::new(names, None), profiles.iter());
        let regular = best(&["council 08-24-26 regular"]);
        assert_eq!(regular[0].cablecast_id, 1, "{regular:?}");
        assert!(regular[0].score >= LINK_THRESHOLD);
        assert!(regular[0].score - regular[1].score >= AMBIGUITY_MARGIN);
        let wrong_day = best(&["council 2026-10-01 regular"]);
        assert!(wrong_day[0].score < LINK_THRESHOLD, "{wrong_day:?}");
    }

    #[test]
    fn timestamps_of_every_format() {
        let scc = b"Scenarist_SCC V1.0\n\n01:00:02;10\t9420 9420\n\n01:58:03;00\t942c\n";
        assert_eq!(timestamps(scc).min(), Some(3602));
        assert_eq!(timestamps(scc).max(), Some(3600 + 58 * 60 + 3));
        let srt = b"1\n00:00:01,000 --> 00:00:04,000\nGood evening\n";
        assert_eq!(timestamps(srt).collect::<Vec<_>>(), [1, 4]);
    }
}
