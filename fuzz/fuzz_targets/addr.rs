//! `ListenAddr::parse` (loopwire), the engine's listen URLs (`tcp://host:port`,
//! `udp6://[::1]:0`, `unix:///path`).
//!
//! Input: the URL (UTF-8; other inputs are skipped). Properties: no panic; an accepted URL
//! prints (`Display`) as a URL that parses back to the same address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire::ListenAddr;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(addr) = ListenAddr::parse(url) {
        let shown = addr.to_string();
        assert_eq!(
            ListenAddr::parse(&shown).ok(),
            Some(addr),
            "{url:?} is shown as {shown:?}"
        );
    }
});
