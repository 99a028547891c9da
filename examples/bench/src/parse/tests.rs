//! The parsers against outputs recorded from the tools (wrk 4.1.0, redis-benchmark 7.0.15,
//! loadgen).

use super::*;

/// `wrk -t1 -c100 -d3s --latency http://127.0.0.1:PORT/plaintext`, wrk 4.1.0.
const WRK: &str = "Running 3s test @ http://127.0.0.1:40113/plaintext
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   710.40us  213.55us   7.98ms   90.48%
    Req/Sec   141.46k     5.44k  150.19k    72.00%
  Latency Distribution
     50%  676.00us
     75%  768.00us
     90%  0.90ms
     99%    1.43ms
  422336 requests in 3.00s, 51.96MB read
Requests/sec: 140749.25
Transfer/sec:     17.31MB
";

/// The same, pipelined 16 deep through a Lua script: wrk's percentiles read zero.
const WRK_PIPELINED: &str = "Running 3s test @ http://127.0.0.1:40113/plaintext
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     1.52M    40.10k    1.60M    70.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  4540176 requests in 3.00s, 558.55MB read
Requests/sec: 1513392.00
Transfer/sec:    186.18MB
";

#[test]
fn wrk_reports() {
    let r = wrk(WRK).expect("a report");
    assert_eq!(r.ops_per_sec, 140749.25);
    assert_eq!(r.ops, 422336.0);
    assert_eq!(r.p50_us, Some(676.0));
    assert_eq!(r.p99_us, Some(1430.0));
    let r = wrk(WRK_PIPELINED).expect("a report");
    assert_eq!(r.ops_per_sec, 1513392.0);
    assert_eq!((r.p50_us, r.p99_us), (None, None));
    assert_eq!(
        wrk("unable to connect to 127.0.0.1:1 Connection refused"),
        None
    );
    assert_eq!(wrk(""), None);
}

/// `redis-benchmark -p PORT -c 10 -n 20000 -t set,get --csv`, 7.0.15.
const REDIS_CSV: &str = r#""test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","49140.05","0.141","0.024","0.103","0.159","0.519","12.999"
"GET","35026.27","0.224","0.024","0.087","0.151","7.055","16.799"
"#;

#[test]
fn redis_benchmark_csv() {
    let r = redis_csv(REDIS_CSV, "get", 20000).expect("GET");
    assert_eq!(r.ops_per_sec, 35026.27);
    assert_eq!(r.ops, 20000.0);
    assert_eq!(r.p50_us, Some(87.0));
    assert!((r.p99_us.unwrap_or_default() - 7055.0).abs() < 1e-6);
    assert_eq!(
        redis_csv(REDIS_CSV, "SET", 1).map(|r| r.ops_per_sec),
        Some(49140.05)
    );
    assert_eq!(redis_csv(REDIS_CSV, "INCR", 1), None);
    assert_eq!(redis_csv("garbage,,\"\n", "SET", 1), None);
}

/// `redis-benchmark -p PORT -c 10 -n 2000 -t set -q`, 7.0.15 (progress line, `\r`).
const REDIS_QUIET: &str = "SET: rps=0.0 (overall: 10000.0) avg_msec=0.056 (overall: 0.056)\r                                                                \rSET: 14492.75 requests per second, p50=0.063 msec\n\n";

#[test]
fn redis_benchmark_quiet() {
    let r = redis_quiet(REDIS_QUIET, "set", 2000).expect("SET");
    assert_eq!(r.ops_per_sec, 14492.75);
    assert_eq!(r.p50_us, Some(63.0));
    assert_eq!(redis_quiet(REDIS_QUIET, "get", 2000), None);
}

#[test]
fn loadgen_lines() {
    let line =
        "msgs_per_sec=196837 bytes_per_sec=100780544 p50_us=88 p99_us=7989 p999_us=9000 errors=0";
    let r = loadgen(line, 2.0).expect("a line");
    assert_eq!(r.ops_per_sec, 196837.0);
    assert_eq!(r.ops, 393674.0);
    assert_eq!((r.p50_us, r.p99_us), (Some(88.0), Some(7989.0)));
    assert_eq!(loadgen(&line.replace("errors=0", "errors=3"), 2.0), None);
    assert_eq!(loadgen("idle_ready conns=10", 1.0), None);
}
