//! The `Date` header's value (RFC 9110 §5.6.7 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
//! formatted by [`httpdate`] at most once per second per thread.
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
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpdate::HttpDate;

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const LEN: usize = 29;

/// The last second, 9999-12-31T23:59:59Z: later clocks are shown as this (four-digit years;
/// httpdate formats no later date).
const MAX_SECS: u64 = 253_402_300_799;

/// The epoch's date, what [`imf_fixdate`] starts from.
const EPOCH: [u8; LEN] = *b"Thu, 01 Jan 1970 00:00:00 GMT";

/// `unix_secs` (seconds since 1970-01-01T00:00:00Z) as an IMF-fixdate, formatted by
/// [`httpdate`] into a fixed array (no allocation). Times after the year 9999 are shown as
/// its last second.
pub fn imf_fixdate(unix_secs: u64) -> [u8; LEN] {
    let time = UNIX_EPOCH + Duration::from_secs(unix_secs.min(MAX_SECS));
    let mut out = Fixed { buf: EPOCH, len: 0 };
    // Between 1970 and 9999 httpdate writes exactly LEN bytes; anything else would be a bug
    // there, shown as the epoch rather than as a malformed header.
    match write!(out, "{}", HttpDate::from(time)) {
        Ok(()) if out.len == LEN => out.buf,
        _ => EPOCH,
    }
}

/// A `fmt::Write` into a fixed array; writing past its end is an error.
struct Fixed {
    buf: [u8; LEN],
    len: usize,
}

impl Write for Fixed {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
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
        for d in 0..(500 * 366) {
            let secs = d * 86_400 + 86_399;
            let text = imf_fixdate(secs);
            let shown = std::str::from_utf8(&text).expect("ASCII");
            // It reads back as the same second: the same day, in order, none skipped.
            let back = httpdate::parse_http_date(shown).expect("an IMF-fixdate");
            assert_eq!(
                back.duration_since(UNIX_EPOCH).ok().map(|t| t.as_secs()),
                Some(secs),
                "{shown}"
            );
            assert!(shown.ends_with(" 23:59:59 GMT"), "{shown}");
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
