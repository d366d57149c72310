//! The station's catalogue as Archivist understands it: shows, VODs and the
//! states a VOD moves through on its way to the public site.
//!
//! These are domain types, not wire types: Cablecast's JSON shapes stay inside
//! `cablecast::wire`, and the database's rows stay inside `store`.

use std::fmt;

/// Where a VOD stands, as Cablecast names it (`vodState`).
///
/// Cablecast says `complete`, not `completed`. A value this version does not
/// know is kept as [`VodState::Other`] with the text Cablecast sent: it is
/// stored as sent and counted as `unknown` in every aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VodState {
    Unknown,
    Queued,
    Processing,
    Partial,
    Complete,
    Error,
    PermanentFailure,
    Disabled,
    Waiting,
    /// A state Cablecast sent that is not one of the nine known ones.
    Other(String),
}

/// How a state counts in the sync figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateGroup {
    /// Still moving: re-polled every cycle.
    InFlight,
    /// Published.
    Finished,
    /// Stopped with an error.
    Failed,
    /// Switched off on purpose: neither failed nor in flight.
    Disabled,
}

impl VodState {
    /// The nine states Cablecast documents, in the order the page lists them.
    pub const KNOWN: [VodState; 9] = [
        VodState::Complete,
        VodState::Processing,
        VodState::Queued,
        VodState::Partial,
        VodState::Waiting,
        VodState::Unknown,
        VodState::Error,
        VodState::PermanentFailure,
        VodState::Disabled,
    ];

    /// The states re-polled every cycle, as stored text (for SQL `IN (...)`).
    pub const IN_FLIGHT_NAMES: [&'static str; 5] =
        ["unknown", "queued", "processing", "partial", "waiting"];

    /// Reads Cablecast's text. Unknown values are kept as sent (the
    /// Cablecast client warns of them where it reads an answer).
    pub fn from_cablecast(text: &str) -> VodState {
        match text {
            "unknown" => VodState::Unknown,
            "queued" => VodState::Queued,
            "processing" => VodState::Processing,
            "partial" => VodState::Partial,
            "complete" => VodState::Complete,
            "error" => VodState::Error,
            "permanentFailure" => VodState::PermanentFailure,
            "disabled" => VodState::Disabled,
            "waiting" => VodState::Waiting,
            other => VodState::Other(other.to_string()),
        }
    }

    /// The text stored in `cablecast_vod.vod_state`: exactly what Cablecast sent.
    pub fn as_str(&self) -> &str {
        match self {
            VodState::Unknown => "unknown",
            VodState::Queued => "queued",
            VodState::Processing => "processing",
            VodState::Partial => "partial",
            VodState::Complete => "complete",
            VodState::Error => "error",
            VodState::PermanentFailure => "permanentFailure",
            VodState::Disabled => "disabled",
            VodState::Waiting => "waiting",
            VodState::Other(text) => text,
        }
    }

    /// The known state this one counts as: itself, or `unknown` for a value
    /// Cablecast added after this version.
    pub fn counted_as(&self) -> VodState {
        match self {
            VodState::Other(_) => VodState::Unknown,
            known => known.clone(),
        }
    }

    pub fn group(&self) -> StateGroup {
        match self.counted_as() {
            VodState::Complete => StateGroup::Finished,
            VodState::Error | VodState::PermanentFailure => StateGroup::Failed,
            VodState::Disabled => StateGroup::Disabled,
            _ => StateGroup::InFlight,
        }
    }

    pub fn is_in_flight(&self) -> bool {
        self.group() == StateGroup::InFlight
    }
}

impl fmt::Display for VodState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A count of VODs as people read it: `1 VOD`, `0 VODs`, `2 VODs`.
pub fn count_vods(n: u64) -> String {
    if n == 1 {
        "1 VOD".to_string()
    } else {
        format!("{n} VODs")
    }
}

/// A show as Archivist keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Show {
    /// The show's id on the Cablecast server.
    pub cablecast_id: i64,
    pub location_id: Option<i64>,
    /// The internal title (`title`).
    pub title: String,
    /// The public title (`cgTitle`).
    pub cg_title: Option<String>,
    /// UTC, stored form.
    pub event_date: Option<String>,
    pub last_modified: Option<String>,
    pub total_run_time: Option<i64>,
    /// Cablecast already has captions for this show (`hasCaptions`).
    pub has_captions: bool,
    /// Who made them (`captionProvider`), when Cablecast says; never empty.
    pub caption_provider: Option<String>,
}

/// A VOD as Archivist keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Vod {
    /// The VOD's id on the Cablecast server.
    pub id: i64,
    /// The Cablecast id of the show this VOD belongs to.
    pub show_cablecast_id: Option<i64>,
    pub state: VodState,
    /// Progress of the current state, 0.0 to 1.0, clamped.
    pub percent_complete: Option<f64>,
    pub error_message: Option<String>,
    pub url: Option<String>,
    pub length: Option<i64>,
    pub quality: Option<i64>,
    pub file_name: Option<String>,
    /// Cablecast's `stateChange`, UTC stored form.
    pub state_changed_at: Option<String>,
    pub is_watchable: bool,
    pub disabled: bool,
    /// Cablecast's reason for the current state (`statusMessage`), e.g. why
    /// a VOD is waiting.
    pub status_message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_states_round_trip() {
        for state in VodState::KNOWN {
            assert_eq!(VodState::from_cablecast(state.as_str()), state);
        }
    }

    #[test]
    fn counts_of_vods_agree_in_number() {
        assert_eq!(count_vods(0), "0 VODs");
        assert_eq!(count_vods(1), "1 VOD");
        assert_eq!(count_vods(2), "2 VODs");
    }

    #[test]
    fn groups_follow_the_contract() {
        let in_flight: Vec<_> = VodState::KNOWN
            .iter()
            .filter(|s| s.is_in_flight())
            .map(|s| s.as_str())
            .collect();
        let mut expected = VodState::IN_FLIGHT_NAMES.to_vec();
        expected.sort();
        let mut got = in_flight.clone();
        got.sort();
        assert_eq!(got, expected);
        assert_eq!(VodState::Complete.group(), StateGroup::Finished);
        assert_eq!(VodState::PermanentFailure.group(), StateGroup::Failed);
        assert_eq!(VodState::Disabled.group(), StateGroup::Disabled);
    }

    #[test]
    fn unrecognised_state_is_kept_and_counted_as_unknown() {
        let state = VodState::from_cablecast("transcoding");
        assert_eq!(state.as_str(), "transcoding");
        assert_eq!(state.counted_as(), VodState::Unknown);
        assert!(state.is_in_flight());
        // `completed` is not Cablecast's word for finished.
        assert_eq!(
            VodState::from_cablecast("completed").counted_as(),
            VodState::Unknown
        );
    }
}
