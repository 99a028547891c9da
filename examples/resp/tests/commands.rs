//! The commands, family by family, run in-process (no sockets): replies compared byte for
//! byte with what redis-server 7.0.15 answers to the same commands.

mod util;

use util::Db;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

fn arity(name: &str) -> String {
    format!("-ERR wrong number of arguments for '{name}' command\r\n")
}

#[test]
fn strings() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&["SET k v", "GET k", "GET nope", "GET"]),
        format!("+OK\r\n$1\r\nv\r\n$-1\r\n{}", arity("get"))
    );
    assert_eq!(
        d.run(&[
            "SET k w NX",
            "SET n w XX",
            "SET k w xx",
            "GET k",
            "SET k v NX XX"
        ]),
        format!("$-1\r\n$-1\r\n+OK\r\n$1\r\nw\r\n{SYNTAX}")
    );
    assert_eq!(
        d.run(&[
            "SET k x GET",
            "SET new x GET",
            "SET k v BOGUS",
            "SET k v EX"
        ]),
        format!("$1\r\nw\r\n$-1\r\n{SYNTAX}{SYNTAX}")
    );
    assert_eq!(
        d.run(&[
            "SET k v EX 0",
            "SET k v EX x",
            "SET k v EX 1 PX 1",
            "SET k v KEEPTTL EX 1"
        ]),
        format!("-ERR invalid expire time in 'set' command\r\n{NOT_INT}{SYNTAX}{SYNTAX}")
    );
    assert_eq!(
        d.run(&["MSET a 1 b 2", "MGET a b zz", "MSET a", "MGET"]),
        format!(
            "+OK\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n{}{}",
            arity("mset"),
            arity("mget")
        )
    );
}

#[test]
fn counters_and_overflow() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&[
            "INCR c",
            "INCR c",
            "DECR c",
            "INCRBY c 10",
            "DECRBY c 5",
            "INCRBY c x"
        ]),
        format!(":1\r\n:2\r\n:1\r\n:11\r\n:6\r\n{NOT_INT}")
    );
    assert_eq!(
        d.run(&[
            "INCRBY c 9223372036854775807",
            "SET m -9223372036854775808",
            "DECR m"
        ]),
        "-ERR increment or decrement would overflow\r\n+OK\r\n-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        d.run(&[
            "SET s abc",
            "INCR s",
            "SET s 007",
            "INCR s",
            "INCRBY c 9223372036854775808"
        ]),
        format!("+OK\r\n{NOT_INT}+OK\r\n{NOT_INT}{NOT_INT}")
    );
    assert_eq!(
        d.run(&["LPUSH l x", "INCR l"]),
        format!(":1\r\n{WRONGTYPE}")
    );
    assert_eq!(d.run(&["INCR"]), arity("incr"));
}

#[test]
fn keys() {
    let mut d = Db::default();
    d.run(&["MSET a 1 b 2"]);
    assert_eq!(
        d.run(&[
            "EXISTS a a zz",
            "DEL a zz a",
            "EXISTS a",
            "DBSIZE",
            "TYPE b",
            "TYPE a"
        ]),
        ":2\r\n:1\r\n:0\r\n:1\r\n+string\r\n+none\r\n"
    );
    assert_eq!(
        d.run(&["FLUSHALL x", "FLUSHALL SYNC", "DBSIZE", "DEL"]),
        format!("{SYNTAX}+OK\r\n:0\r\n{}", arity("del"))
    );
}

#[test]
fn lists() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&["LPUSH l a b c", "RPUSH l d e", "LRANGE l 0 -1"]),
        ":3\r\n:5\r\n*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        d.run(&[
            "LRANGE l -2 -1",
            "LRANGE l -100 0",
            "LRANGE l 3 1",
            "LRANGE l 9 20"
        ]),
        "*2\r\n$1\r\nd\r\n$1\r\ne\r\n*1\r\n$1\r\nc\r\n*0\r\n*0\r\n"
    );
    assert_eq!(
        d.run(&["LRANGE l x 1", "LRANGE nope 0 -1", "LLEN l", "LLEN nope"]),
        format!("{NOT_INT}*0\r\n:5\r\n:0\r\n")
    );
    assert_eq!(
        d.run(&[
            "LPOP l",
            "RPOP l",
            "LPOP l 2",
            "RPOP l 0",
            "LPOP l -1",
            "LPOP l 1 2"
        ]),
        format!(
            "$1\r\nc\r\n$1\r\ne\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n*0\r\n-ERR value is out of range, must be positive\r\n{}",
            arity("lpop")
        )
    );
    // The last pop empties the list: the key is gone.
    assert_eq!(
        d.run(&["RPOP l 5", "EXISTS l", "LPOP l", "LPOP l 3"]),
        "*1\r\n$1\r\nd\r\n:0\r\n$-1\r\n*-1\r\n"
    );
    assert_eq!(
        d.run(&[
            "SET k v",
            "LPUSH k x",
            "LPOP k",
            "LRANGE k 0 1",
            "LLEN k",
            "LPUSH l"
        ]),
        format!(
            "+OK\r\n{WRONGTYPE}{WRONGTYPE}{WRONGTYPE}{WRONGTYPE}{}",
            arity("lpush")
        )
    );
}

#[test]
fn sets() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&[
            "SADD s a b a",
            "SADD s c",
            "SCARD s",
            "SCARD nope",
            "SMEMBERS nope"
        ]),
        ":2\r\n:1\r\n:3\r\n:0\r\n*0\r\n"
    );
    assert_eq!(
        d.run(&["SPOP nope", "SPOP nope 2", "SPOP s -1", "SPOP s 0"]),
        "$-1\r\n*0\r\n-ERR value is out of range, must be positive\r\n*0\r\n"
    );
    let members = d.run(&["SMEMBERS s"]);
    assert!(members.starts_with("*3\r\n"));
    for m in ["a", "b", "c"] {
        assert!(members.contains(&format!("$1\r\n{m}\r\n")));
    }
    assert!(d.run(&["SPOP s"]).starts_with("$1\r\n"));
    assert!(d.run(&["SPOP s 5"]).starts_with("*2\r\n"));
    assert_eq!(
        d.run(&["EXISTS s", "SET k v", "SADD k x"]),
        format!(":0\r\n+OK\r\n{WRONGTYPE}")
    );
}

#[test]
fn hashes() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&[
            "HSET h f v g w",
            "HSET h f v2",
            "HSET h f",
            "HGET h f",
            "HGET h x",
            "HGET nope f"
        ]),
        format!(":2\r\n:0\r\n{}$2\r\nv2\r\n$-1\r\n$-1\r\n", arity("hset"))
    );
    let all = d.run(&["HGETALL h"]);
    assert!(all.starts_with("*4\r\n") && all.contains("$1\r\nf\r\n$2\r\nv2\r\n"));
    assert_eq!(
        d.run(&["HGETALL nope", "SET k v", "HGET k f", "HSET k a b"]),
        format!("*0\r\n+OK\r\n{WRONGTYPE}{WRONGTYPE}")
    );
}

#[test]
fn sorted_sets() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&[
            "ZADD z 1 a 2 b",
            "ZADD z 1.5 c",
            "ZADD z NX 5 a",
            "ZADD z XX 6 zz",
            "ZADD z CH 7 a"
        ]),
        ":2\r\n:1\r\n:0\r\n:0\r\n:1\r\n"
    );
    assert_eq!(
        d.run(&[
            "ZADD z INCR 1 a",
            "ZADD z INCR 1 a 2 b",
            "ZADD z x a",
            "ZADD z nan a",
            "ZADD z 1",
            "ZADD z 1 a 2"
        ]),
        format!(
            "$1\r\n8\r\n-ERR INCR option supports a single increment-element pair\r\n-ERR value is not a valid float\r\n-ERR value is not a valid float\r\n{}{SYNTAX}",
            arity("zadd")
        )
    );
    assert_eq!(
        d.run(&[
            "ZADD z NX XX 1 a",
            "ZADD z GT LT 1 a",
            "ZADD z GT 1 a",
            "ZADD z LT 1 a"
        ]),
        "-ERR XX and NX options at the same time are not compatible\r\n-ERR GT, LT, and/or NX options at the same time are not compatible\r\n:0\r\n:0\r\n"
    );
    assert_eq!(
        d.run(&[
            "ZRANGE z 0 -1 WITHSCORES",
            "ZRANGE z -2 -1",
            "ZRANGE z 0 1 BOGUS",
            "ZRANGE z x 1",
            "ZCARD z",
            "ZCARD nope"
        ]),
        format!(
            "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n{SYNTAX}{NOT_INT}:3\r\n:0\r\n"
        )
    );
    assert_eq!(
        d.run(&[
            "ZPOPMIN z",
            "ZPOPMIN z -1",
            "ZPOPMIN nope",
            "ZPOPMIN z 100",
            "EXISTS z"
        ]),
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n-ERR value is out of range, must be positive\r\n*0\r\n*4\r\n$1\r\nc\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n:0\r\n"
    );
    // Scores written as Redis 7.0 writes them (`%.17g`).
    assert_eq!(
        d.run(&[
            "ZADD f 1.1 a 1e300 b 0.00001 c -0 d inf e",
            "ZRANGE f 0 -1 WITHSCORES"
        ]),
        ":5\r\n*10\r\n$1\r\nd\r\n$1\r\n0\r\n$1\r\nc\r\n$22\r\n1.0000000000000001e-05\r\n$1\r\na\r\n$18\r\n1.1000000000000001\r\n$1\r\nb\r\n$23\r\n1.0000000000000001e+300\r\n$1\r\ne\r\n$3\r\ninf\r\n"
    );
    assert_eq!(
        d.run(&[
            "ZADD n INCR inf a",
            "ZADD n INCR -inf a",
            "SET k v",
            "ZADD k 1 a",
            "ZRANGE k 0 1"
        ]),
        format!(
            "$3\r\ninf\r\n-ERR resulting score is not a number (NaN)\r\n+OK\r\n{WRONGTYPE}{WRONGTYPE}"
        )
    );
}

#[test]
fn server_and_connection() {
    let mut d = Db::default();
    assert_eq!(
        d.run(&["PING", "PING hi", "PING a b", "ECHO x", "ECHO"]),
        format!(
            "+PONG\r\n$2\r\nhi\r\n{}$1\r\nx\r\n{}",
            arity("ping"),
            arity("echo")
        )
    );
    assert_eq!(
        d.run(&["SELECT 0", "SELECT 1", "SELECT x"]),
        format!("+OK\r\n-ERR DB index is out of range\r\n{NOT_INT}")
    );
    assert_eq!(
        d.run(&[
            "CONFIG GET save",
            "CONFIG GET appendonly nothing",
            "CONFIG GET",
            "COMMAND DOCS",
            "COMMAND"
        ]),
        format!(
            "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n{}*0\r\n*0\r\n",
            arity("config|get")
        )
    );
    assert_eq!(
        d.run(&[
            "CLIENT GETNAME",
            "CLIENT SETNAME foo",
            "CLIENT GETNAME",
            "CLIENT FOO"
        ]),
        "$-1\r\n+OK\r\n$3\r\nfoo\r\n-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        d.cmd(&[b"CLIENT", b"SETNAME", b"a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        d.run(&["NOPE a b", "NOPE"]),
        "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n-ERR unknown command 'NOPE', with args beginning with: \r\n"
    );
    assert!(d.run(&["INFO"]).contains("redis_version:7.0.15\r\n"));
}

#[test]
fn expiry_at_exact_times() {
    let mut d = Db {
        now: 5_000,
        ..Db::default()
    };
    assert_eq!(
        d.run(&[
            "SET k v EX 10",
            "TTL k",
            "PTTL k",
            "SET p v PX 1500",
            "TTL p"
        ]),
        "+OK\r\n:10\r\n:10000\r\n+OK\r\n:2\r\n"
    );
    d.now = 14_999;
    assert_eq!(d.run(&["GET k", "PTTL k"]), "$1\r\nv\r\n:1\r\n");
    d.now = 15_000;
    assert_eq!(
        d.run(&["GET k", "TTL k", "EXISTS k"]),
        "$-1\r\n:-2\r\n:0\r\n"
    );
    // SET without KEEPTTL clears the time; KEEPTTL and INCR keep it.
    assert_eq!(
        d.run(&[
            "SET a 1 EX 100",
            "SET a 2 KEEPTTL",
            "INCR a",
            "TTL a",
            "SET a 1",
            "TTL a"
        ]),
        "+OK\r\n+OK\r\n:3\r\n:100\r\n+OK\r\n:-1\r\n"
    );
    assert_eq!(
        d.run(&[
            "EXPIRE a 100",
            "EXPIRE a 100 NX",
            "EXPIRE a 200 XX",
            "EXPIRE a 50 GT",
            "EXPIRE a 50 LT",
            "TTL a"
        ]),
        ":1\r\n:0\r\n:1\r\n:0\r\n:1\r\n:50\r\n"
    );
    assert_eq!(
        d.run(&[
            "EXPIRE a 9223372036854775807",
            "PERSIST a",
            "TTL a",
            "EXPIRE nope 1",
            "EXPIRE a 0",
            "EXISTS a"
        ]),
        "-ERR invalid expire time in 'expire' command\r\n:1\r\n:-1\r\n:0\r\n:1\r\n:0\r\n"
    );
    // An expired collection behaves as a missing key for every family.
    d.run(&["RPUSH l a", "PEXPIRE l 1"]);
    d.now += 1;
    assert_eq!(
        d.run(&["LLEN l", "LPUSH l b", "TTL l"]),
        ":0\r\n:1\r\n:-1\r\n"
    );
}
