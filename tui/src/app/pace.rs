//! How soon the next frame may be drawn. Drawing is most of the app's CPU under a chat flood, and
//! costs per frame, not per message: so the gap between frames depends on who is waiting for
//! one. A key, a paste or a resize gets the next frame within [`FRAME`]; chat and events arriving
//! on their own within [`FEED_FRAME`]; and when more lines arrived since the last frame than the
//! screen has rows, so every visible row would be new in each frame anyway, within
//! [`FLOOD_FRAME`].

use std::time::Duration;

/// Shortest gap between two draws (about 30 frames a second), after the user did something.
pub const FRAME: Duration = Duration::from_millis(33);
/// Gap while only chat and events arrive (15 frames a second).
pub const FEED_FRAME: Duration = Duration::from_millis(66);
/// Gap while chat arrives faster than the pane can show it (10 frames a second). Nobody reads a
/// pane that is replaced whole between frames; they scroll back or select a line, and a key
/// brings the gap back to [`FRAME`] at once.
pub const FLOOD_FRAME: Duration = Duration::from_millis(100);

/// The gap to the next frame, from what arrived since the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Messages from the network or the clock since the last frame.
    fed: usize,
    /// Rows on screen: more fed messages than this is a flood.
    rows: usize,
    from_user: bool,
}

impl Pace {
    /// Before the first frame: draw at once.
    pub fn new() -> Self {
        Self {
            fed: 0,
            rows: usize::MAX,
            from_user: true,
        }
    }

    /// A frame `rows` high was drawn.
    pub fn drawn(&mut self, rows: u16) {
        *self = Self {
            fed: 0,
            rows: usize::from(rows),
            from_user: false,
        };
    }

    /// Something arrived: from the user at the terminal, or not.
    pub fn saw(&mut self, from_user: bool) {
        if from_user {
            self.from_user = true;
        } else {
            self.fed += 1;
        }
    }

    /// How long after the last frame the next one may be drawn.
    pub fn gap(&self) -> Duration {
        if self.from_user {
            FRAME
        } else if self.fed > self.rows {
            FLOOD_FRAME
        } else {
            FEED_FRAME
        }
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(rows: u16, fed: usize, from_user: bool) -> Duration {
        let mut p = Pace::new();
        p.drawn(rows);
        for _ in 0..fed {
            p.saw(false);
        }
        if from_user {
            p.saw(true);
        }
        p.gap()
    }

    #[test]
    fn the_first_frame_is_drawn_at_once() {
        assert_eq!(Pace::new().gap(), FRAME);
    }

    #[test]
    fn chat_that_fits_on_screen_is_drawn_at_the_feed_rate() {
        assert_eq!(after(40, 1, false), FEED_FRAME);
        assert_eq!(after(40, 40, false), FEED_FRAME);
    }

    #[test]
    fn more_lines_than_rows_since_the_last_frame_is_a_flood() {
        assert_eq!(after(40, 41, false), FLOOD_FRAME);
        assert_eq!(after(10, 5_000, false), FLOOD_FRAME);
    }

    #[test]
    fn a_key_is_never_kept_waiting_by_a_flood() {
        assert_eq!(after(40, 5_000, true), FRAME);
        assert_eq!(after(40, 0, true), FRAME);
    }

    #[test]
    fn each_frame_starts_counting_again() {
        let mut p = Pace::new();
        p.drawn(10);
        for _ in 0..100 {
            p.saw(false);
        }
        p.saw(true);
        p.drawn(10);
        p.saw(false);
        assert_eq!(p.gap(), FEED_FRAME);
    }
}
