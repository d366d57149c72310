//! What a file name or a show title says: its title words and its dates.
//!
//! File names at stations are typed by people and cameras:
//! `CityCouncil_2026-08-24.mp4`, `council 08-24-26 regular.scc`,
//! `Planning Commission 20260901.vtt`. Show titles carry dates too
//! (`City Council Regular meeting - 8/24/2026 6:30:00 PM`). Dates are read as
//! year-month-day when the year comes first and as US month-day-year
//! otherwise, as Cablecast titles write them; month names (`Aug 24 2026`,
//! `24 August 2026`) are read too, and are not title words.

use time::{Date, Month};

/// Words that say nothing about which meeting it is.
const NOISE_WORDS: [&str; 24] = [
    "the", "of", "and", "a", "an", "for", "meeting", "mtg", "pm", "am", "final", "copy",
    "captions", "caption", "cc", "en", "eng", "english", "hd", "sd", "master", "export", "raw",
    "proxy",
];

/// Month names and their usual short forms, January first.
const MONTHS: [[&str; 3]; 12] = [
    ["january", "jan", "jan"],
    ["february", "feb", "feb"],
    ["march", "mar", "mar"],
    ["april", "apr", "apr"],
    ["may", "may", "may"],
    ["june", "jun", "jun"],
    ["july", "jul", "jul"],
    ["august", "aug", "aug"],
    ["september", "sep", "sept"],
    ["october", "oct", "oct"],
    ["november", "nov", "nov"],
    ["december", "dec", "dec"],
];

fn month(word: &str) -> Option<u8> {
    MONTHS
        .iter()
        .position(|names| names.contains(&word))
        .map(|n| n as u8 + 1)
}

/// Years a station's recordings can carry: anything else is a number.
const YEARS: std::ops::RangeInclusive<i32> = 1990..=2099;

/// The title words of `text`: lowercased, split at punctuation, spaces,
/// camel case (`CityCouncil`) and letter-digit changes, without numbers and
/// noise words.
pub fn title_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous: Option<char> = None;
    for c in text.chars() {
        let split = match previous {
            None => false,
            Some(p) => {
                !c.is_alphanumeric()
                    || !p.is_alphanumeric()
                    || (p.is_lowercase() && c.is_uppercase())
                    || (p.is_alphabetic() != c.is_alphabetic())
            }
        };
        if split && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        previous = Some(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words.retain(|w| {
        !w.chars().all(|c| c.is_ascii_digit())
            && !NOISE_WORDS.contains(&w.as_str())
            && month(w).is_none()
    });
    words.dedup();
    words
}

/// Whether two title words name the same thing: equal, or one a prefix of
/// the other of at least [`MIN_PREFIX`] letters (`comm`, `commission`,
/// `commissioners`).
pub fn same_word(a: &str, b: &str) -> bool {
    /// Shorter prefixes (`co`, `sch`) match too many words.
    const MIN_PREFIX: usize = 4;
    a == b
        || (a.len() >= MIN_PREFIX && b.starts_with(a))
        || (b.len() >= MIN_PREFIX && a.starts_with(b))
}

/// Every date written in `text`, in the order found.
pub fn dates(text: &str) -> Vec<Date> {
    // Runs of digits with their byte ranges.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, text.len()));
    }
    let joined = |a: (usize, usize), b: (usize, usize)| {
        let between = &text[a.1..b.0];
        between.len() == 1 && "-_./ ".contains(between)
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        if i + 2 < runs.len() && joined(runs[i], runs[i + 1]) && joined(runs[i + 1], runs[i + 2]) {
            let [a, b, c] = [runs[i], runs[i + 1], runs[i + 2]].map(|(s, e)| &text[s..e]);
            if let Some(date) = three_parts(a, b, c) {
                found.push(date);
                i += 3;
                continue;
            }
        }
        let run = &text[runs[i].0..runs[i].1];
        let date = match run.len() {
            8 => ymd(&run[0..4], &run[4..6], &run[6..8])
                .or_else(|| mdy(&run[0..2], &run[2..4], &run[4..8])),
            6 => mdy(&run[0..2], &run[2..4], &run[4..6]),
            _ => None,
        };
        found.extend(date);
        i += 1;
    }
    found.extend(named_month_dates(text));
    found
}

/// Dates written with a month name: `Aug 24 2026`, `August 24, 2026`,
/// `24 Aug 2026`.
fn named_month_dates(text: &str) -> Vec<Date> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for (n, word) in words.iter().enumerate() {
        let Some(m) = month(word) else { continue };
        let day_year = |day: Option<&&str>, year: Option<&&str>| {
            let (day, year) = (day?, year?);
            (year.len() == 4 && day.len() <= 2).then_some(())?;
            date(year.parse().ok()?, m, day.parse().ok()?)
        };
        let after = day_year(words.get(n + 1), words.get(n + 2));
        let before = n
            .checked_sub(1)
            .and_then(|d| day_year(words.get(d), words.get(n + 1)));
        found.extend(after.or(before));
    }
    found
}

fn three_parts(a: &str, b: &str, c: &str) -> Option<Date> {
    match (a.len(), b.len(), c.len()) {
        (4, 1..=2, 1..=2) => ymd(a, b, c),
        (1..=2, 1..=2, 4) | (1..=2, 1..=2, 2) => mdy(a, b, c),
        _ => None,
    }
}

fn ymd(y: &str, m: &str, d: &str) -> Option<Date> {
    date(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn mdy(m: &str, d: &str, y: &str) -> Option<Date> {
    let year: i32 = y.parse().ok()?;
    let year = if y.len() == 2 { 2000 + year } else { year };
    date(year, m.parse().ok()?, d.parse().ok()?)
}

fn date(year: i32, month: u8, day: u8) -> Option<Date> {
    if !YEARS.contains(&year) {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn words_split_like_people_write_them() {
        assert_eq!(title_words("CityCouncil_2026-08-24"), ["city", "council"]);
        assert_eq!(
            title_words("City Council Regular meeting - 8/24/2026 6:30:00 PM"),
            ["city", "council", "regular"]
        );
        assert_eq!(
            title_words("Parks & Recreation Advisory Board"),
            ["parks", "recreation", "advisory", "board"]
        );
        assert_eq!(title_words("Café Conseil «final»"), ["café", "conseil"]);
        assert!(same_word("comm", "commission"));
        assert!(same_word("commissioners", "commission"));
        assert!(!same_word("co", "council"));
    }

    #[test]
    fn dates_in_the_forms_stations_use() {
        assert_eq!(dates("CityCouncil_2026-08-24"), [date!(2026 - 08 - 24)]);
        assert_eq!(dates("council 08-24-26 regular"), [date!(2026 - 08 - 24)]);
        assert_eq!(
            dates("Planning Commission 20260901"),
            [date!(2026 - 09 - 01)]
        );
        assert_eq!(
            dates("City Council Regular meeting - 8/24/2026 6:30:00 PM"),
            [date!(2026 - 08 - 24)]
        );
        assert_eq!(dates("School Board 09.14.2026"), [date!(2026 - 09 - 14)]);
        assert_eq!(dates("board_082426"), [date!(2026 - 08 - 24)]);
        assert_eq!(dates("Council Aug 24 2026"), [date!(2026 - 08 - 24)]);
        assert_eq!(dates("Board - September 1, 2026"), [date!(2026 - 09 - 01)]);
        assert_eq!(dates("Board 1 Sept 2026"), [date!(2026 - 09 - 01)]);
        assert_eq!(title_words("Council Aug 24 2026"), ["council"]);
        assert!(dates("Exercise 6:30:00").is_empty());
        assert!(dates("Camera 12345678").is_empty());
        assert!(dates("2026-13-45").is_empty());
    }
}
