//! The `Date` header's value (RFC 9110 §5.6.7 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
//! formatted at most once per second per thread.
//!
//! The choice: a per-thread cache ([`current`]) rather than the engine's ticker. Each event
//! loop (or tokio worker) keeps the last second it formatted and its 29 bytes in a
//! thread-local; a handler reads the clock once per batch of responses (`SystemTime::now`, a
//! vDSO call of some 20 ns, not a system call), and formats again only when the second has
//! changed. Nothing is shared between threads, so there is no lock, no atomic and no ticker to
//! configure (an engine built without `ticker(true)` still gets a fresh date), and the same
//! code serves the tokio peer. The price is one clock read per `on_traffic` that answers
//! something, and one formatting per second per loop.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const LEN: usize = 29;

/// The last second, 9999-12-31T23:59:59Z: later clocks are shown as this (four-digit years).
const MAX_SECS: u64 = 253_402_300_799;

const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `unix_secs` (seconds since 1970-01-01T00:00:00Z) as an IMF-fixdate. Times after the year
/// 9999 are shown as its last second.
pub fn imf_fixdate(unix_secs: u64) -> [u8; LEN] {
    let secs = unix_secs.min(MAX_SECS);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[((days + 4) % 7) as usize];
    let month = MONTHS[(month - 1) as usize];

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(month);
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], rem / 3600);
    two_digits(&mut out[20..22], rem / 60 % 60);
    two_digits(&mut out[23..25], rem % 60);
    out
}

/// `n` (below 100) as two ASCII digits.
fn two_digits(dst: &mut [u8], n: u64) {
    // `n % 10 < 10` and `n / 10 % 10 < 10`: the casts cannot truncate.
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Year, month (1–12) and day (1–31) of the `days`-th day after 1970-01-01: Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>), for days on or
/// after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so a leap day is the last day of its (March-based) year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A formatted date and the second it shows.
#[derive(Debug, Clone, Copy)]
pub struct DateCache {
    secs: u64,
    text: [u8; LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        Self {
            secs: 0,
            text: imf_fixdate(0),
        }
    }
}

impl DateCache {
    /// The date of `unix_secs`, formatted again only if it differs from the cached second.
    pub fn at(&mut self, unix_secs: u64) -> [u8; LEN] {
        if unix_secs != self.secs {
            self.secs = unix_secs;
            self.text = imf_fixdate(unix_secs);
        }
        self.text
    }
}

thread_local! {
    /// This thread's cache (one per event loop).
    static CACHE: Cell<DateCache> = Cell::new(DateCache::default());
}

/// The current date as an IMF-fixdate, from this thread's cache (see the [module docs](self)).
/// A clock before 1970 shows as the epoch.
pub fn current() -> [u8; LEN] {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut cache = c.get();
        let text = cache.at(secs);
        c.set(cache);
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(secs: u64) -> String {
        String::from_utf8_lossy(&imf_fixdate(secs)).into_owned()
    }

    #[test]
    fn known_dates() {
        assert_eq!(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 9110's example.
        assert_eq!(fmt(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(fmt(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(fmt(951_868_799), "Tue, 29 Feb 2000 23:59:59 GMT");
        assert_eq!(fmt(978_307_199), "Sun, 31 Dec 2000 23:59:59 GMT");
        assert_eq!(fmt(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
        assert_eq!(fmt(MAX_SECS), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(fmt(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn every_day_for_500_years_is_well_formed_and_consecutive() {
        let mut prev: Option<(u64, u64, u64)> = None;
        for d in 0..(500 * 366) {
            let (y, m, day) = civil_from_days(d);
            assert!(
                (1..=12).contains(&m) && (1..=31).contains(&day),
                "{y}-{m}-{day}"
            );
            if let Some((py, pm, pd)) = prev {
                let next_day = (y, m, day) == (py, pm, pd + 1);
                let next_month = (y, m, day) == (py, pm + 1, 1);
                let next_year = (y, m, day) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
                assert!(
                    next_day || next_month || next_year,
                    "{py}-{pm}-{pd} -> {y}-{m}-{day}"
                );
            }
            prev = Some((y, m, day));
        }
    }

    #[test]
    fn the_cache_formats_once_per_second() {
        let mut c = DateCache::default();
        let a = c.at(784_111_777);
        assert_eq!(&a, b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(c.at(784_111_777), a);
        assert_eq!(&c.at(784_111_778), b"Sun, 06 Nov 1994 08:49:38 GMT");
        assert_eq!(current().len(), LEN);
        assert!(current().ends_with(b" GMT"));
    }
}
