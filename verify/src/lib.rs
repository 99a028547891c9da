//! loopwire-verify: the project's deep checks, kept apart from the crates they check.
//!
//! - `tests/*_props.rs`: proptest suites that drive each component crate against a simple,
//!   obviously-correct model (the ring buffer against `VecDeque<u8>`, the timer wheel against a
//!   `BTreeMap`, the load balancers against their balance and disruption bounds).
//! - `tests/loom_*.rs`: loom models of the engine's cross-thread state, compiled only with
//!   `RUSTFLAGS="--cfg loom"`.
//!
//! Run the property suites with `cargo test -p loopwire-verify`; see `verify/README.md` for the
//! loom command and what each model and suite proves.
