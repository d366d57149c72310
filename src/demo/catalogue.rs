//! The demo station's catalogue: believable shows and VODs, generated from a
//! seed, whose states move along as a real station's do.

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

/// First show id: Cablecast ids are not small numbers in practice.
const FIRST_SHOW_ID: i64 = 800;
/// First VOD id.
const FIRST_VOD_ID: i64 = 1200;

impl Catalogue {
    /// `shows` shows with one VOD each (every tenth show has two), mostly
    /// published, some moving, a few failed. The same seed gives the same
    /// catalogue.
    pub fn generate(shows: usize, seed: u64) -> Catalogue {
        let mut catalogue = Catalogue {
            rng: seed | 1,
            ..Catalogue::default()
        };
        let now = clock::unix_now();
        for n in 0..shows {
            let days_ago = (shows - n) as i64 * 2 / 3 + 1;
            catalogue.add_show(now - days_ago * 86_400);
        }
        catalogue
    }

    /// Adds a show (and its VODs) that aired at `event_at`; returns its id.
    pub fn add_show(&mut self, event_at: i64) -> i64 {
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
        let vod_count = if id % 10 == 0 { 2 } else { 1 };
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
                state_change,
            });
            vod_ids.push(vod_id);
        }
        self.shows.push(DemoShow {
            id,
            location: 1,
            title,
            cg_title,
            event_at,
            run_time,
            vods: vod_ids,
        });
        id
    }

    /// One step of a station's day: queued VODs start, processing ones move
    /// on and finish (now and then one fails), and once in a while a new
    /// meeting is added. Returns how many VODs changed.
    pub fn advance(&mut self) -> usize {
        let mut changed = 0;
        for i in 0..self.vods.len() {
            let roll = self.next() % 100;
            let vod = &mut self.vods[i];
            let before = (vod.state.clone(), vod.percent);
            match vod.state.as_str() {
                "queued" | "waiting" | "unknown" if roll < 50 => {
                    vod.state = "processing".into();
                    vod.percent = 0.0;
                }
                "processing" | "partial" if roll < 3 => {
                    vod.state = "error".into();
                    vod.error_message = Some(ERRORS[1].into());
                }
                "processing" | "partial" => {
                    vod.percent = (vod.percent + 0.25).min(1.0);
                    if vod.percent >= 1.0 {
                        vod.state = "complete".into();
                    }
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
        if self.next() % 10 == 0 {
            self.add_show(clock::unix_now());
            changed += 1;
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
}
