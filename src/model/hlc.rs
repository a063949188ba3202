//! Hybrid logical clock (Kulkarni et al. 2014): timestamps that follow the wall
//! clock when it is sane, never go backwards, and order every event after
//! every event its author had seen.
//!
//! Persistence: the clock needs no table of its own. Every timestamp it hands
//! out or observes belongs to an event that is stored in the `events` table, so
//! [`crate::model::store::CaseStore`] restarts the clock from the largest HLC in
//! that table; it can therefore never go backwards across restarts.

use crate::model::event::Hlc;

/// A hybrid logical clock with an injectable physical clock.
#[derive(Debug, Clone)]
pub struct HlcClock {
    last: Hlc,
    fixed_millis: Option<u64>,
}

impl HlcClock {
    /// A clock that will only issue timestamps after `last`.
    pub fn new(last: Hlc) -> HlcClock {
        HlcClock { last, fixed_millis: None }
    }

    /// Set the physical time the clock reads, in Unix milliseconds; `None`
    /// returns to the system clock. Used for deterministic tests and demo data.
    pub fn set_clock(&mut self, millis: Option<u64>) {
        self.fixed_millis = millis;
    }

    /// The physical time the clock currently reads, in Unix milliseconds.
    pub fn physical_millis(&self) -> u64 {
        match self.fixed_millis {
            Some(ms) => ms,
            None => {
                let now = chrono::Utc::now().timestamp_millis();
                // A system clock before 1970 is broken; treat it as 0 and let
                // the logical part keep the order.
                u64::try_from(now).unwrap_or(0)
            }
        }
    }

    /// The last timestamp issued or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// Send / local event rule: a timestamp greater than every one issued or
    /// observed so far.
    pub fn now(&mut self) -> Hlc {
        let pt = self.physical_millis();
        self.last = if pt > self.last.millis { Hlc { millis: pt, counter: 0 } } else { bump(self.last) };
        self.last
    }

    /// Receive rule: after seeing `remote`, later local timestamps order after
    /// it. Returns the clock's new value.
    pub fn observe(&mut self, remote: Hlc) -> Hlc {
        let pt = self.physical_millis();
        let max_millis = pt.max(self.last.millis).max(remote.millis);
        self.last = if max_millis == self.last.millis && max_millis == remote.millis {
            bump(Hlc { millis: max_millis, counter: self.last.counter.max(remote.counter) })
        } else if max_millis == self.last.millis {
            bump(self.last)
        } else if max_millis == remote.millis {
            bump(remote)
        } else {
            Hlc { millis: pt, counter: 0 }
        };
        self.last
    }
}

/// The next logical timestamp after `h` (the counter overflowing moves on one
/// millisecond, which keeps the order total).
fn bump(h: Hlc) -> Hlc {
    match h.counter.checked_add(1) {
        Some(counter) => Hlc { millis: h.millis, counter },
        None => Hlc { millis: h.millis + 1, counter: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_physical_time_and_never_goes_back() {
        let mut c = HlcClock::new(Hlc::default());
        c.set_clock(Some(1000));
        assert_eq!(c.now(), Hlc { millis: 1000, counter: 0 });
        assert_eq!(c.now(), Hlc { millis: 1000, counter: 1 });
        c.set_clock(Some(500)); // wall clock jumps back
        assert_eq!(c.now(), Hlc { millis: 1000, counter: 2 });
        c.set_clock(Some(2000));
        assert_eq!(c.now(), Hlc { millis: 2000, counter: 0 });
    }

    #[test]
    fn observe_orders_after_remote() {
        let mut c = HlcClock::new(Hlc { millis: 10, counter: 0 });
        c.set_clock(Some(5));
        let after = c.observe(Hlc { millis: 50, counter: 7 });
        assert_eq!(after, Hlc { millis: 50, counter: 8 });
        assert!(c.now() > after);
        let same = c.observe(Hlc { millis: 50, counter: 3 });
        assert!(same > Hlc { millis: 50, counter: 9 });
    }

    #[test]
    fn counter_overflow_moves_to_next_millisecond() {
        let mut c = HlcClock::new(Hlc { millis: 7, counter: u32::MAX });
        c.set_clock(Some(1));
        assert_eq!(c.now(), Hlc { millis: 8, counter: 0 });
    }
}
