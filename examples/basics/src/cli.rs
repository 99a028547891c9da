//! How the example programs fail: one readable line on stderr, never a `Debug` dump.
//!
//! ```no_run
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[arg(long, default_value = "127.0.0.1:9000")]
//!     addr: String,
//! }
//!
//! fn run(args: Args) -> Result<(), loopwire_examples::cli::BoxError> {
//!     // ... start the engine with `?` ...
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     // In a program, `env!("CARGO_BIN_NAME")`.
//!     loopwire_examples::cli::main("http", run)
//! }
//! ```
//!
//! A failure then reads `http: cannot listen on tcp://127.0.0.1:80: Address already in use
//! (os error 98)` (exit status 1), and a bad command line `echo: invalid value 'x' for
//! '--loops <LOOPS>': invalid digit found in string (see --help)` (exit status 2, clap's).

use std::error::Error;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

/// What a program's `run` function returns on failure: any error (`?` converts), kept with
/// its causes. `Send + Sync` so that errors from worker threads can be passed on as they are.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Parses the command line into `A`, runs `body` with it and turns the outcome into the
/// process's exit status: 0 on success; on an error, `name: ` and the error with its causes
/// ([`error_chain`]) on one line of stderr, and 1. A command line that does not parse is
/// reported on one line too, with status 2; `--help` and `--version` print as usual.
pub fn main<A, E>(name: &str, body: impl FnOnce(A) -> Result<(), E>) -> ExitCode
where
    A: clap::Parser,
    E: Into<BoxError>,
{
    let args = match A::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("{name}: {} (see --help)", usage_error(&e));
            return ExitCode::from(2);
        }
    };
    match body(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {}", error_chain(e.into().as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// `err` and its causes ([`Error::source`]) as one line, `what: why: root cause`. A cause
/// whose message the line already holds (a `thiserror` message that quotes its source) is not
/// repeated.
pub fn error_chain(err: &dyn Error) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// clap's message for a command line it refused, as one line: its first paragraph (clap
/// follows it with usage and tips) without the `error: ` prefix, line breaks folded.
fn usage_error(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let first = first.trim().strip_prefix("error:").unwrap_or(first);
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A command-line value in seconds (`10`, `0.5`), for clap's `value_parser`: a number at
/// least 0 that fits a [`Duration`] (not negative, not NaN, not infinite).
///
/// # Errors
/// A message for clap to show after the option's name.
pub fn secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds".to_owned())?;
    Duration::try_from_secs_f64(v)
        .map_err(|_| "expected a number of seconds, at least 0".to_owned())
}

/// As [`secs`], but more than 0.
///
/// # Errors
/// A message for clap to show after the option's name.
pub fn positive_secs(s: &str) -> Result<Duration, String> {
    match secs(s)? {
        d if d.is_zero() => Err("expected more than 0 seconds".to_owned()),
        d => Ok(d),
    }
}

/// A clap `value_parser` for a count of at least `min` (a size, a number of threads).
pub fn at_least(min: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync {
    move |s| match s.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("expected a whole number, at least {min}")),
    }
}

/// An error with what was being attempted, over its cause: `cannot connect to 127.0.0.1:7000`
/// over `Connection refused (os error 111)`. Made by [`Context::context`].
#[derive(Debug)]
pub struct Failed {
    what: String,
    cause: Box<dyn Error + Send + Sync>,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl Error for Failed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.cause.as_ref())
    }
}

/// Adds what was being attempted to an error, for [`error_chain`] to print before its cause.
pub trait Context<T> {
    /// The error, if any, under the message `what()` returns (called only on an error).
    ///
    /// # Errors
    /// A [`Failed`] whose source is the original error.
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, Failed>;
}

impl<T, E: Error + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, Failed> {
        self.map_err(|e| Failed {
            what: what().into(),
            cause: Box::new(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Quoting {
        #[error("cannot listen on tcp://127.0.0.1:80: {source}")]
        Bind {
            #[source]
            source: std::io::Error,
        },
    }

    fn in_use() -> std::io::Error {
        std::io::Error::from_raw_os_error(98)
    }

    #[test]
    fn a_quoted_source_is_not_repeated() {
        let e = Quoting::Bind { source: in_use() };
        assert_eq!(
            error_chain(&e),
            format!("cannot listen on tcp://127.0.0.1:80: {}", in_use())
        );
    }

    #[test]
    fn context_goes_before_its_causes() {
        let e = Err::<(), _>(Quoting::Bind { source: in_use() })
            .context(|| "cannot start")
            .expect_err("an error");
        assert_eq!(
            error_chain(&e),
            format!(
                "cannot start: cannot listen on tcp://127.0.0.1:80: {}",
                in_use()
            )
        );
        let e = Err::<(), _>(in_use())
            .context(|| format!("cannot connect to {}", "127.0.0.1:7000"))
            .expect_err("an error");
        assert_eq!(
            error_chain(&e),
            format!("cannot connect to 127.0.0.1:7000: {}", in_use())
        );
    }

    #[derive(Debug, clap::Parser)]
    struct Args {
        #[arg(long, default_value_t = 0)]
        loops: usize,
        #[arg(long)]
        addr: String,
    }

    fn refused(argv: &[&str]) -> String {
        match <Args as clap::Parser>::try_parse_from(argv) {
            Ok(a) => panic!("parsed: {a:?}"),
            Err(e) => usage_error(&e),
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(secs("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(secs("0"), Ok(Duration::ZERO));
        for bad in ["-1", "NaN", "inf", "1e30", "", "x"] {
            assert!(secs(bad).is_err(), "{bad}");
        }
        assert_eq!(positive_secs("0.25"), Ok(Duration::from_millis(250)));
        assert!(positive_secs("0").is_err());
    }

    #[test]
    fn counts() {
        let parse = at_least(10);
        assert_eq!(parse("10"), Ok(10));
        for bad in ["9", "-1", "x", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usage_errors_are_one_line() {
        assert_eq!(
            refused(&["x", "--addr", "a", "--loops", "many"]),
            "invalid value 'many' for '--loops <LOOPS>': invalid digit found in string"
        );
        assert_eq!(
            refused(&["x"]),
            "the following required arguments were not provided: --addr <ADDR>"
        );
        assert_eq!(
            refused(&["x", "--addr", "a", "--nope"]),
            "unexpected argument '--nope' found"
        );
    }
}
