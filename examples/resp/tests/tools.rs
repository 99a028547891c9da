//! The real clients against the server on 127.0.0.1 port 0: `redis-benchmark` (every default
//! test, pipelines 1 and 16) must report no error, and `redis-cli --pipe` (mass insertion)
//! must see every reply and no error, with the DBSIZE each leaves. Skipped, with a notice,
//! when the tools are not installed (`apt-get install redis-tools`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use loopwire_examples::testing::TestServer as Server;
use loopwire_resp::Resp;

/// Whether `tool` runs; prints the skip notice if not.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: {tool} is not installed (apt-get install redis-tools)");
    }
    ok
}

#[test]
fn redis_benchmark_default_tests_report_no_errors() {
    if !have("redis-benchmark") {
        return;
    }
    let resp = Arc::new(Resp::default());
    let server = Server::start(resp.clone());
    let port = server.addr().port().to_string();
    for pipeline in ["1", "16"] {
        let out = Command::new("redis-benchmark")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-q",
                "-n",
                "2000",
                "-P",
                pipeline,
            ])
            .args(["-c", "10", "--csv"])
            .output()
            .expect("redis-benchmark runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "-P {pipeline}: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("error") && !stdout.to_lowercase().contains("error"),
            "-P {pipeline}: {stdout}{stderr}"
        );
        // Every default test reported a result.
        for t in [
            "PING_INLINE",
            "SET",
            "GET",
            "INCR",
            "LPUSH",
            "RPOP",
            "SPOP",
            "HSET",
            "ZPOPMIN",
        ] {
            assert!(
                stdout.contains(&format!("\"{t}\"")),
                "-P {pipeline}: no {t} in {stdout}"
            );
        }
        for t in ["LRANGE_600", "MSET (10 keys)"] {
            assert!(stdout.contains(t), "-P {pipeline}: no {t} in {stdout}");
        }
    }
    // What redis-server 7.0 holds after the same runs: key:__rand_int__, counter:__rand_int__,
    // mylist and myhash (myset and myzset were emptied by SPOP and ZPOPMIN: gone).
    assert_eq!(resp.store().len(), 4);
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    if !have("redis-cli") {
        return;
    }
    let resp = Arc::new(Resp::default());
    let server = Server::start(resp.clone());
    let mut input = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        write!(
            input,
            "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
            k.len(),
            v.len()
        )
        .expect("write");
    }
    input.extend_from_slice(b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\nx\r\n");
    let mut child = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.addr().port().to_string(),
            "--pipe",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("feed redis-cli");
    let out = child.wait_with_output().expect("redis-cli ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 10001"), "{text}");
    assert_eq!(resp.store().len(), 10_001);
}

#[test]
fn redis_cli_start_up_and_commands() {
    if !have("redis-cli") {
        return;
    }
    let server = Server::start(Resp::default());
    let port = server.addr().port().to_string();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(cli(&["SET", "k", "v", "EX", "10"]), "OK\n");
    assert_eq!(cli(&["TTL", "k"]), "10\n");
    assert_eq!(cli(&["RPUSH", "l", "a", "b"]), "2\n");
    assert_eq!(cli(&["LRANGE", "l", "0", "-1"]), "a\nb\n");
    // Interactive mode (what redis-cli asks at start-up, then a command from stdin).
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"PING\nGET k\n")
        .expect("feed redis-cli");
    let out = child.wait_with_output().expect("redis-cli ends");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\nv\n");
}
