//! The demo station's catalogue: believable shows and VODs, generated from a
//! seed, whose states move along as a real station's do, for as long as the
//! station runs: new meetings arrive and the oldest leave, encodes start,
//! finish, fail and are retried, now and then a published VOD is
//! re-encoded, and rarely a meeting airs whose VOD never comes (a missed
//! episode, at most two at once), all within the generated size.

use std::collections::HashMap;

use crate::clock;

/// A show on the demo station.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoShow {
    pub id: i64,
    pub location: i64,
    pub title: String,
    pub cg_title: Option<String>,
    /// Unix seconds.
    pub event_at: i64,
    pub run_time: i64,
    pub vods: Vec<i64>,
    /// Cablecast already has captions (`hasCaptions`), from this provider.
    pub has_captions: bool,
    pub caption_provider: Option<String>,
}

/// A VOD on the demo station.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoVod {
    pub id: i64,
    pub show: i64,
    /// Cablecast's text, sent as is (tests set values Cablecast may add).
    pub state: String,
    pub percent: f64,
    pub error_message: Option<String>,
    pub length: i64,
    /// Cablecast's reason for the state (`statusMessage`).
    pub status_message: Option<String>,
    /// Cablecast's `stateChange` (Unix seconds); `None` is sent as null, as
    /// many real servers do.
    pub state_change: Option<i64>,
}

/// Everything the demo station serves.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub shows: Vec<DemoShow>,
    pub vods: Vec<DemoVod>,
    rng: u64,
    /// When the catalogue was generated (Unix seconds): no generated show
    /// was modified later.
    generated_at: i64,
    /// Shows modified since generation (added or touched), by id.
    modified: HashMap<i64, i64>,
    /// The most shows [`Catalogue::advance`] keeps: adding a meeting then
    /// retires the oldest.
    capacity: usize,
    /// Adding a VOD to a show leaves the show's `lastModified` alone, as
    /// Cablecast may (public sources do not say).
    vods_leave_shows_alone: bool,
}

const BODIES: [&str; 10] = [
    "City Council Regular meeting",
    "City Council Work Session",
    "Planning Commission",
    "School Board",
    "Parks & Recreation Advisory Board",
    "Library Board of Trustees",
    "Zoning Board of Appeals",
    "County Commissioners",
    "Senior Center Exercise",
    "High School Football",
];

const ERRORS: [&str; 3] = [
    "Transcode failed: source file is truncated",
    "Upload to store-3 timed out",
    "Unsupported audio codec in source",
];

/// Why a demo VOD waits, as Cablecast words such reasons.
const WAITING_REASON: &str = "Waiting for the source file to finish uploading";

/// Generated shows were last modified at least this long before the
/// station started (seconds).
const QUIET_BEFORE_START: i64 = 3600;

/// One new meeting in this many is a missed episode: it aired, and its
/// recording never made a file, so no VOD comes (`vod_missing`).
const MISSED_ONE_IN: u64 = 25;
/// Missed episodes the catalogue holds at most; more wait until one is
/// retired with the oldest shows.
const MAX_MISSED: usize = 2;
/// A missed episode is added this long after it aired (seconds): past the
/// default `ARCHIVIST_VOD_MISSING_AFTER` (6 h), so the demo shows it.
const MISSED_AIRED_AGO: i64 = 7 * 3600;

/// First show id: Cablecast ids are not small numbers in practice.
const FIRST_SHOW_ID: i64 = 800;
/// First VOD id.
const FIRST_VOD_ID: i64 = 1200;

impl Catalogue {
    /// `shows` shows with one VOD each (every tenth show has two), mostly
    /// published, some moving, a few failed. The same seed gives the same
    /// catalogue.
    pub fn generate(shows: usize, seed: u64) -> Catalogue {
        let now = clock::unix_now();
        let mut catalogue = Catalogue {
            rng: seed | 1,
            generated_at: now,
            capacity: shows.max(1),
            ..Catalogue::default()
        };
        for n in 0..shows {
            let days_ago = (shows - n) as i64 * 2 / 3 + 1;
            catalogue.add_show(now - days_ago * 86_400);
        }
        // Generated shows were last edited a few days after they aired.
        catalogue.modified.clear();
        catalogue
    }

    /// When a show was last modified (Unix seconds): when it was added or
    /// touched, else three days after it aired, and not within the hour
    /// before generation (the station was quiet when it started).
    pub fn last_modified(&self, show: &DemoShow) -> i64 {
        self.modified.get(&show.id).copied().unwrap_or_else(|| {
            (show.event_at + 3 * 86_400).min(self.generated_at - QUIET_BEFORE_START)
        })
    }

    /// From now on, adding a VOD to a show leaves the show's
    /// `lastModified` alone (`true`), or moves it (`false`, the default).
    pub fn vods_leave_shows_alone(&mut self, alone: bool) {
        self.vods_leave_shows_alone = alone;
    }

    /// Adds a VOD in `state` to show `show`, numbered above every VOD, as a
    /// recording encoded for a show made before it; returns its id. The
    /// show's `lastModified` moves unless
    /// [`Catalogue::vods_leave_shows_alone`] said otherwise.
    pub fn add_vod(&mut self, show: i64, state: &str) -> Option<i64> {
        let index = self.shows.iter().position(|s| s.id == show)?;
        let id = self
            .vods
            .iter()
            .map(|v| v.id)
            .max()
            .map_or(FIRST_VOD_ID, |v| v + 1);
        let length = self.shows[index].run_time;
        self.shows[index].vods.push(id);
        self.vods.push(DemoVod {
            id,
            show,
            state: state.to_string(),
            percent: if state == "complete" { 1.0 } else { 0.0 },
            error_message: None,
            length,
            status_message: None,
            state_change: None,
        });
        if !self.vods_leave_shows_alone {
            self.touch_show(show);
        }
        Some(id)
    }

    /// Marks a show as edited now, as staff changing it in Cablecast do.
    pub fn touch_show(&mut self, id: i64) {
        self.modified.insert(id, clock::unix_now());
    }

    /// Adds a show (and its VODs) that aired at `event_at`; returns its id.
    pub fn add_show(&mut self, event_at: i64) -> i64 {
        self.add_episode(event_at, true)
    }

    /// Adds an episode of a series that aired at `event_at` and whose
    /// recording never made a file: no VOD comes for it. Returns its id.
    pub fn add_missed_episode(&mut self, event_at: i64) -> i64 {
        self.add_episode(event_at, false)
    }

    /// Shows with no VOD (missed episodes).
    pub fn missed_episodes(&self) -> usize {
        self.shows.iter().filter(|s| s.vods.is_empty()).count()
    }

    /// Adds a meeting of one of the station's bodies, with its VODs or
    /// none.
    fn add_episode(&mut self, event_at: i64, with_vods: bool) -> i64 {
        let id = self.shows.last().map_or(FIRST_SHOW_ID, |s| s.id + 1);
        let body = BODIES[(self.next() % BODIES.len() as u64) as usize];
        let date = clock::format_unix(event_at);
        let (y, m, d) = (&date[0..4], &date[5..7], &date[8..10]);
        let title = format!(
            "{body} - {}/{}/{y} 6:30:00 PM",
            m.trim_start_matches('0'),
            d.trim_start_matches('0')
        );
        let cg_title = (self.next() % 5 != 0).then(|| format!("{body} {m}/{d}/{}", &y[2..]));
        let run_time = 1800 + (self.next() % 9000) as i64;
        let vod_count = match (with_vods, id % 10) {
            (false, _) => 0,
            (true, 0) => 2,
            (true, _) => 1,
        };
        let mut vod_ids = Vec::new();
        for _ in 0..vod_count {
            let vod_id = self.vods.last().map_or(FIRST_VOD_ID, |v| v.id + 1);
            let roll = self.next() % 100;
            let (state, percent, error) = match roll {
                0..=79 => ("complete", 1.0, None),
                80..=85 => ("processing", (self.next() % 100) as f64 / 100.0, None),
                86..=89 => ("queued", 0.0, None),
                90..=91 => ("waiting", 0.0, None),
                92 => ("partial", 0.5, None),
                93..=95 => ("error", 0.0, Some(ERRORS[(roll % 3) as usize].to_string())),
                96 => ("permanentFailure", 0.0, Some(ERRORS[0].to_string())),
                97 => ("disabled", 0.0, None),
                _ => ("unknown", 0.0, None),
            };
            // Some VODs carry a stateChange a few hours back (a few of them
            // past their stuck threshold); every fourth, like many real
            // servers, sends none.
            let state_change = (roll % 4 != 0 && state != "complete")
                .then(|| (now_or(event_at) - (roll % 9) as i64 * 3600).max(event_at));
            self.vods.push(DemoVod {
                id: vod_id,
                show: id,
                state: state.to_string(),
                percent,
                error_message: error,
                length: run_time,
                status_message: (state == "waiting").then(|| WAITING_REASON.to_string()),
                state_change,
            });
            vod_ids.push(vod_id);
        }
        self.modified.insert(id, clock::unix_now());
        self.shows.push(DemoShow {
            id,
            location: 1,
            title,
            cg_title,
            event_at,
            run_time,
            vods: vod_ids,
            has_captions: false,
            caption_provider: None,
        });
        id
    }

    /// One step of a station's day: queued VODs start, processing ones move
    /// on and finish (now and then one fails), failed encodes are retried
    /// now and then, a published VOD is sometimes re-encoded, and once in a
    /// while a new meeting is added and, past the generated size, the oldest
    /// show retired. So the station keeps moving for as long as it runs, and
    /// never grows. Returns how many VODs changed.
    pub fn advance(&mut self) -> usize {
        let mut changed = 0;
        let mut touched = Vec::new();
        for i in 0..self.vods.len() {
            let roll = self.next() % 1000;
            let vod = &mut self.vods[i];
            let before = (vod.state.clone(), vod.percent);
            match vod.state.as_str() {
                "queued" | "waiting" | "unknown" if roll < 500 => {
                    vod.state = "processing".into();
                    vod.percent = 0.0;
                    vod.status_message = None;
                }
                "processing" | "partial" if roll < 30 => {
                    vod.state = "error".into();
                    vod.error_message = Some(ERRORS[1].into());
                }
                "processing" | "partial" => {
                    vod.percent = (vod.percent + 0.25).min(1.0);
                    if vod.percent >= 1.0 {
                        vod.state = "complete".into();
                    }
                }
                // Staff retry a failed encode, on the show.
                "error" if roll < 100 => {
                    vod.state = "queued".into();
                    vod.percent = 0.0;
                    vod.error_message = None;
                    touched.push(vod.show);
                }
                // A published VOD is re-encoded (a new cut, a better file).
                "complete" if roll < 5 => {
                    vod.state = "queued".into();
                    vod.percent = 0.0;
                    touched.push(vod.show);
                }
                _ => {}
            }
            if (vod.state.clone(), vod.percent) != before {
                changed += 1;
            }
            if vod.state != before.0 {
                vod.state_change = Some(clock::unix_now());
            }
        }
        for show in touched {
            self.touch_show(show);
        }
        if self.next() % 10 == 0 {
            let now = clock::unix_now();
            if self.next() % MISSED_ONE_IN == 0 && self.missed_episodes() < MAX_MISSED {
                self.add_missed_episode(now - MISSED_AIRED_AGO);
            } else {
                self.add_show(now);
            }
            changed += 1;
            if self.shows.len() > self.capacity {
                let oldest = self.shows[0].id;
                changed += self.vods.iter().filter(|v| v.show == oldest).count();
                self.remove_show(oldest);
            }
        }
        changed
    }

    /// Sets a VOD's state as Cablecast would, with its `stateChange` now
    /// (or at `since`, Unix seconds, for a VOD that has been in it long).
    pub fn set_state(&mut self, id: i64, state: &str, since: Option<i64>) -> bool {
        let Some(vod) = self.vod_mut(id) else {
            return false;
        };
        vod.state = state.to_string();
        vod.state_change = Some(since.unwrap_or_else(clock::unix_now));
        true
    }

    pub fn vod_mut(&mut self, id: i64) -> Option<&mut DemoVod> {
        self.vods.iter_mut().find(|v| v.id == id)
    }

    /// Removes a VOD, as when staff delete it in Cablecast.
    pub fn remove_vod(&mut self, id: i64) -> bool {
        let before = self.vods.len();
        self.vods.retain(|v| v.id != id);
        for show in &mut self.shows {
            show.vods.retain(|v| *v != id);
        }
        self.vods.len() != before
    }

    /// Removes a show and its VODs.
    pub fn remove_show(&mut self, id: i64) -> bool {
        let before = self.shows.len();
        self.shows.retain(|s| s.id != id);
        self.vods.retain(|v| v.show != id);
        self.modified.remove(&id);
        self.shows.len() != before
    }

    /// A small xorshift generator: deterministic, dependency-free.
    fn next(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// `event_at`, or now for a show that has not aired yet.
fn now_or(event_at: i64) -> i64 {
    clock::unix_now().max(event_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let a = Catalogue::generate(300, 7);
        let b = Catalogue::generate(300, 7);
        assert_eq!(a.vods, b.vods);
        assert!(a.vods.len() >= 300);
        let complete = a.vods.iter().filter(|v| v.state == "complete").count();
        assert!(complete > 150 && complete < a.vods.len());
        assert!(a.vods.iter().any(|v| v.state == "error"));
    }

    #[test]
    fn states_move_forward() {
        let mut catalogue = Catalogue::generate(200, 3);
        let in_flight = |c: &Catalogue| {
            c.vods
                .iter()
                .filter(|v| matches!(v.state.as_str(), "queued" | "processing" | "partial"))
                .count()
        };
        let before = in_flight(&catalogue);
        let mut changed = 0;
        for _ in 0..20 {
            changed += catalogue.advance();
        }
        assert!(changed > 0);
        assert!(in_flight(&catalogue) < before + 5);
    }

    #[test]
    fn a_long_run_keeps_moving_within_its_size() {
        let mut catalogue = Catalogue::generate(100, 5);
        let (shows, vods) = (catalogue.shows.len(), catalogue.vods.len());
        let mut late_changes = 0;
        let mut failures = 0;
        let mut retries = 0;
        for step in 0..2_000 {
            let before: Vec<String> = catalogue.vods.iter().map(|v| v.state.clone()).collect();
            let changed = catalogue.advance();
            if step >= 1_000 {
                late_changes += changed;
            }
            for (old, vod) in before.iter().zip(&catalogue.vods) {
                failures += usize::from(old != "error" && vod.state == "error");
                retries += usize::from(old == "error" && vod.state == "queued");
            }
            assert!(catalogue.shows.len() <= shows);
            assert!(catalogue.missed_episodes() <= MAX_MISSED);
            assert!(catalogue.vods.len() <= vods + shows / 10 + 2);
        }
        assert!(
            late_changes > 500,
            "{late_changes} changes in the second half"
        );
        assert!(
            failures > 0 && retries > 0,
            "{failures} failures, {retries} retries"
        );
        assert!(
            (1..=MAX_MISSED).contains(&catalogue.missed_episodes()),
            "missed episodes come now and then, never more than {MAX_MISSED}"
        );
    }
}
