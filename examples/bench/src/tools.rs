//! The programs the harness runs: the release binaries of the workspace (built first, found
//! beside the harness's own executable, so `CARGO_TARGET_DIR` is honoured) and the external
//! load tools, installed with apt-get when missing (as `examples/bench/lib.sh`'s
//! `need_tools`), plus the Lua script wrk needs to pipeline.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// Builds the release binaries the loads run (`cargo build --release`, quiet).
///
/// # Errors
/// When cargo cannot be run or the build fails.
pub fn build_release() -> Result<(), Error> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "-q"])
        .args(["-p", "loopwire-examples", "--bin", "echo"])
        .args(["-p", "loopwire-http", "--bin", "http"])
        .args(["-p", "loopwire-resp", "--bin", "resp"])
        .args(["-p", "loopwire-bench", "--bins"])
        .status()
        .map_err(|e| Error::io("cannot run cargo", e))?;
    if !status.success() {
        return Err(Error::msg("the release build failed"));
    }
    Ok(())
}

/// The directory of the release binaries: the harness's own.
///
/// # Errors
/// When the harness's path cannot be found.
pub fn bin_dir() -> Result<PathBuf, Error> {
    let exe =
        std::env::current_exe().map_err(|e| Error::io("cannot find the harness's path", e))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::msg("the harness's executable has no directory"))
}

/// Whether `cmd` is on the `PATH`.
pub fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// Makes sure every one of `commands` is on the `PATH`: installs the Debian `packages` with
/// apt-get (as root, or through sudo) when one is missing.
///
/// # Errors
/// When a command is still missing afterwards (the message names the packages).
pub fn need_tools(packages: &[&str], commands: &[&str]) -> Result<(), Error> {
    if commands.iter().all(|c| on_path(c)) {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let prefix: &[&str] = if root { &[] } else { &["sudo", "-n"] };
    if on_path("apt-get") && (root || on_path("sudo")) {
        eprintln!("bench: installing {} with apt-get", packages.join(" "));
        let run = |args: &[&str]| {
            let mut argv: Vec<&str> = prefix.to_vec();
            argv.extend_from_slice(args);
            Command::new(argv[0])
                .args(&argv[1..])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if run(&["apt-get", "update", "-qq"]) {
            let mut install = vec!["apt-get", "install", "-y", "-qq"];
            install.extend_from_slice(packages);
            run(&install);
        }
    }
    match commands.iter().find(|c| !on_path(c)) {
        None => Ok(()),
        Some(c) => Err(Error::msg(format!(
            "needs `{c}` (Debian/Ubuntu: apt-get install {})",
            packages.join(" ")
        ))),
    }
}

/// TechEmpower's `pipeline.lua`: every write carries DEPTH requests (`-- DEPTH`); the same
/// file the shell scripts pass to wrk.
pub const PIPELINE_LUA: &str = include_str!("../pipeline.lua");

/// Writes [`PIPELINE_LUA`] to a file in the temporary directory and returns its path.
///
/// # Errors
/// When the file cannot be written.
pub fn write_pipeline_lua() -> Result<PathBuf, Error> {
    let path = std::env::temp_dir().join(format!("loopwire-bench-{}.lua", std::process::id()));
    std::fs::write(&path, PIPELINE_LUA)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    Ok(path)
}
