//! Start-up announcement and graceful stop on SIGINT / SIGTERM, through `signal-hook`.

use std::io::{self, Write};

use loopwire::EngineHandle;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Makes SIGINT and SIGTERM stop `engine` gracefully ([`stop_on_signals`]), then prints
/// `listening on <url><suffix>` for every bound address: the line the bench scripts wait for,
/// printed once a signal would stop the server cleanly.
///
/// # Errors
/// As [`stop_on_signals`], or when stdout cannot be written.
pub fn announce(engine: &EngineHandle, suffix: &str) -> io::Result<()> {
    stop_on_signals(engine)?;
    let mut out = io::stdout().lock();
    engine
        .addrs()
        .iter()
        .try_for_each(|a| writeln!(out, "listening on {a}{suffix}"))
        .and_then(|()| out.flush())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write to stdout: {e}")))
}

/// Stops `engine` gracefully with [`EngineHandle::stop`] (every connection closed,
/// `on_shutdown` run) when the process receives SIGINT or SIGTERM; the program's
/// `engine.wait()` then returns and it exits as it does after any stop.
///
/// A thread named `signals` waits for the first of them (signal-hook's handler only records
/// it and wakes that thread; the stop itself runs on the thread). After the stop it lets the
/// signals go, so another SIGINT or SIGTERM during the program's exit ends the process.
///
/// # Errors
/// When the handlers cannot be installed or the thread cannot be spawned.
pub fn stop_on_signals(engine: &EngineHandle) -> io::Result<()> {
    let failed = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot set up the stop on SIGINT and SIGTERM: {e}"),
        )
    };
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(failed)?;
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                engine.stop();
            }
        })
        .map_err(failed)?;
    Ok(())
}
