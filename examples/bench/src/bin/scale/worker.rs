//! `scale worker`: one load process of the scale run. It holds the sessions of users
//! `u<first>` .. `u<first+count-1>` on the gateway port (each connection bound to one of its
//! `--source` addresses in turn), PINGs each every `--ping-secs`, ACKs every QoS1 message,
//! and answers the coordinator's commands, one line each on stdin, with one line on stdout:
//!
//! - `stats` → `stats live= parked= redialing= errors= dispatched= moved= waiting=
//!   handshaking=`: sessions welcomed and up, closed on purpose, waiting to connect again;
//!   ERROR/KICK frames; connects through the dispatcher, and the sessions that made one;
//!   sessions waiting for their first dial, and dialled but not yet welcomed;
//! - `drop EVERY` → `dropped n=`: closes the sessions of users `i % EVERY == 0` and keeps them
//!   closed (offline users);
//! - `reconnect` → `reconnecting n=`: connects them all again at once, straight to the port
//!   (at once as far as `--max-connecting` allows: see below);
//! - `report TAG` → `report tag= n= distinct= moved= lats=a,b,.. last=seq:us,..`: the
//!   messages of that tag received so far (a payload is `TAG SEQ SENT_UNIX_US`), their
//!   distinct sequence numbers (and those received by sessions the dispatcher moved), every publish-to-receipt latency (µs, one clock: the same machine's), and per
//!   sequence number the latest receipt (only when there are at most 100 of them:
//!   broadcasts);
//! - `quit` → exits.
//!
//! A session the gateway closes (its process was killed) asks the dispatcher
//! (`GET /dispatch?uid=`, on the `--dispatch` API addresses in turn) where to go, and
//! connects there from the same source.
//!
//! # Ramping
//!
//! A process never has more than `--max-connecting` sessions between its connect and the
//! gateway's WELCOME: the others wait in a queue and are dialled as earlier ones are
//! welcomed (or fail). Dialling all of them at once is what a load tool must not do at a
//! million sessions on two cores: 67 processes each starting ~15 000 handshakes leave
//! sessions waiting longer than the gateway's AUTH timeout for CPU (the first 1 000 000
//! attempt ended with sessions closed by ERROR 14 and a redial cascade). The cap bounds the
//! handshakes in flight over the whole run to `processes × max_connecting`, so "time to
//! connect all" measures the gateways' sustained accept and login rate. The dispatcher's
//! redials (after a kill) spend at most [`REDIAL_BUDGET`] per loop turn, so PINGs, reads
//! and the coordinator's commands keep being served while a gateway's users move.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, BufRead, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use loopwire_push::auth::{Claims, Secret, Signer};
use loopwire_push::client::{
    ClientSession, Event, SessionOptions, SourceError, Sources, connect_nonblocking,
};
use loopwire_push::config::unix_now_secs;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

use loopwire_push::client::ApiClient;

/// Options of one load process.
#[derive(Debug, Clone, Args)]
pub(crate) struct WorkerArgs {
    /// The gateways' shared port.
    #[arg(long)]
    addr: SocketAddr,
    /// API addresses whose dispatcher is asked after a gateway closed a session (in turn).
    #[arg(long)]
    dispatch: Vec<SocketAddr>,
    /// First user number.
    #[arg(long)]
    first: usize,
    /// Sessions (users) held.
    #[arg(long)]
    count: usize,
    /// Source addresses (repeatable, or a range), used in turn.
    #[arg(long = "source", value_parser = parse_source)]
    sources: Vec<Sources>,
    /// Seconds between two PINGs of a session (it asks for twice that as its heartbeat).
    #[arg(long, default_value_t = 15)]
    ping_secs: u64,
    /// Most sessions connecting at once (connected or connecting, not yet welcomed).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    max_connecting: u64,
}

fn parse_source(s: &str) -> Result<Sources, SourceError> {
    s.parse()
}

/// The waker's token (sessions use their index).
const WAKE: Token = Token(usize::MAX);
/// Most sessions one loop turn connects again (the rest wait a turn: PINGs keep flowing).
const REDIALS_PER_TURN: usize = 500;
/// Most time one loop turn spends asking the dispatcher (blocking HTTP calls).
const REDIAL_BUDGET: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Connecting or connected (welcomed or not yet).
    Up,
    /// Closed on purpose (`drop`), until `reconnect`.
    Parked,
    /// Closed by the gateway: connect again through the dispatcher at this time.
    Redial(Instant),
}

struct Conn {
    sock: Option<TcpStream>,
    session: ClientSession,
    state: State,
    welcomed: bool,
    /// Counted in [`Worker::handshaking`]: dialled, not yet welcomed.
    handshaking: bool,
    /// Was sent elsewhere by the dispatcher at least once.
    moved: bool,
}

/// What arrived for one tag.
#[derive(Default)]
struct Tag {
    lats: Vec<u64>,
    seqs: HashSet<u64>,
    /// The sequence numbers received by sessions the dispatcher moved.
    moved: HashSet<u64>,
    /// Per sequence number, the latest publish-to-receipt time.
    last: HashMap<u64, u64>,
}

struct Worker {
    args: WorkerArgs,
    sources: Vec<IpAddr>,
    conns: Vec<Conn>,
    poll: Poll,
    tags: HashMap<String, Tag>,
    errors: u64,
    dispatched: u64,
    api: Vec<Option<ApiClient>>,
    buf: Vec<u8>,
    /// Sessions waiting for their turn to dial the port (see "Ramping").
    waiting: VecDeque<usize>,
    /// Sessions dialled and not yet welcomed.
    handshaking: u64,
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Runs the load process until `quit` or the end of stdin.
pub(crate) fn run(args: WorkerArgs) -> Result<(), crate::BoxError> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKE)?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
            let _ = waker.wake();
        }
        let _ = tx.send("quit".into());
        let _ = waker.wake();
    });
    let signer = Signer::new(&Secret::development());
    let sources = args
        .sources
        .iter()
        .flat_map(|s| s.addrs().iter().copied())
        .collect();
    let heartbeat = Duration::from_secs(args.ping_secs * 2);
    let conns = (0..args.count)
        .map(|k| {
            let mut claims =
                Claims::new(format!("u{}", args.first + k), unix_now_secs() + 24 * 3600);
            claims.rooms = vec!["all".into()];
            let opts = SessionOptions {
                heartbeat,
                auto_ack: true,
                max_frame: 1 << 20,
                dedupe_window: 256,
            };
            let mut session = ClientSession::new(signer.sign(&claims), opts);
            session.join(b"all")?;
            Ok(Conn {
                sock: None,
                session,
                state: State::Up,
                welcomed: false,
                handshaking: false,
                moved: false,
            })
        })
        .collect::<Result<Vec<_>, loopwire_push::client::ClientError>>()?;
    let api = args.dispatch.iter().map(|_| None).collect();
    let mut w = Worker {
        args,
        sources,
        conns,
        poll,
        tags: HashMap::new(),
        errors: 0,
        dispatched: 0,
        api,
        buf: vec![0; 64 * 1024],
        waiting: VecDeque::new(),
        handshaking: 0,
    };
    w.waiting.extend(0..w.conns.len());
    w.serve(&rx)
}

impl Worker {
    fn source(&self, k: usize) -> Option<IpAddr> {
        (!self.sources.is_empty()).then(|| self.sources[k % self.sources.len()])
    }

    /// Session `k` is no longer between its connect and its WELCOME.
    fn handshake_over(&mut self, k: usize) {
        let c = &mut self.conns[k];
        if c.handshaking {
            c.handshaking = false;
            self.handshaking -= 1;
        }
    }

    /// Dials waiting sessions while fewer than `--max-connecting` are in their handshake.
    fn admit(&mut self) {
        while self.handshaking < self.args.max_connecting {
            let Some(k) = self.waiting.pop_front() else {
                return;
            };
            // A session parked again (`drop`) while it waited stays parked.
            if self.conns[k].state == State::Up && self.conns[k].sock.is_none() {
                self.dial(k, self.args.addr);
                self.flush(k);
            }
        }
    }

    /// Connects session `k` to `to` (a failure to start marks it for a redial).
    fn dial(&mut self, k: usize, to: SocketAddr) {
        self.handshake_over(k);
        let source = self.source(k);
        let c = &mut self.conns[k];
        c.sock = None;
        c.welcomed = false;
        match connect_nonblocking(to, source) {
            Ok(s) => {
                let mut s = TcpStream::from_std(s);
                if self
                    .poll
                    .registry()
                    .register(&mut s, Token(k), Interest::READABLE | Interest::WRITABLE)
                    .is_err()
                {
                    c.state = State::Redial(Instant::now() + Duration::from_millis(500));
                    return;
                }
                c.session.connected();
                c.sock = Some(s);
                c.state = State::Up;
                c.handshaking = true;
                self.handshaking += 1;
            }
            Err(e) => {
                eprintln!(
                    "worker: connect u{} from {source:?}: {e}",
                    self.args.first + k
                );
                c.state = State::Redial(Instant::now() + Duration::from_millis(500));
            }
        }
    }

    /// Session `k`'s connection ended without being asked to.
    fn lost(&mut self, k: usize) {
        self.handshake_over(k);
        let c = &mut self.conns[k];
        c.sock = None;
        c.welcomed = false;
        c.session.disconnected();
        if c.state == State::Up {
            c.state = State::Redial(Instant::now());
        }
    }

    fn flush(&mut self, k: usize) {
        let c = &mut self.conns[k];
        let Some(sock) = c.sock.as_mut() else { return };
        while !c.session.output().is_empty() {
            match sock.write(c.session.output()) {
                Ok(0) => return self.lost(k),
                Ok(n) => c.session.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.lost(k),
            }
        }
    }

    fn read(&mut self, k: usize) {
        loop {
            let c = &mut self.conns[k];
            let Some(sock) = c.sock.as_mut() else { return };
            match sock.read(&mut self.buf) {
                Ok(0) => return self.lost(k),
                Ok(n) => {
                    let fed = c.session.feed(&self.buf[..n]);
                    while let Some(ev) = c.session.poll_event() {
                        match ev {
                            Event::Welcome { .. } => {
                                c.welcomed = true;
                                if c.handshaking {
                                    c.handshaking = false;
                                    self.handshaking -= 1;
                                }
                            }
                            Event::Push { payload, .. } => {
                                record(&mut self.tags, &payload, c.moved);
                            }
                            Event::Error { code, reason } | Event::Kicked { code, reason } => {
                                eprintln!("worker: u{}: {code} {reason}", self.args.first + k);
                                self.errors += 1;
                            }
                            Event::Pong(_) => {}
                        }
                    }
                    if fed.is_err() {
                        self.errors += 1;
                        return self.lost(k);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.lost(k),
            }
        }
    }

    /// Where the dispatcher sends user `u<first+k>` (the first gateway it names).
    fn dispatch(&mut self, k: usize) -> Option<SocketAddr> {
        let uid = format!("u{}", self.args.first + k);
        for i in 0..self.api.len() {
            if self.api[i].is_none() {
                self.api[i] = ApiClient::connect(self.args.dispatch[i], String::new()).ok();
            }
            let Some(api) = self.api[i].as_mut() else {
                continue;
            };
            match api.get(&format!("/dispatch?uid={uid}")) {
                Ok((200, body)) => {
                    if let Some(addr) = first_gateway(&body) {
                        return Some(addr);
                    }
                }
                Ok(_) => {}
                Err(_) => self.api[i] = None,
            }
        }
        None
    }

    fn redial_due(&mut self) {
        let now = Instant::now();
        let mut done = 0;
        for k in 0..self.conns.len() {
            if done >= REDIALS_PER_TURN || now.elapsed() >= REDIAL_BUDGET {
                break;
            }
            if let State::Redial(at) = self.conns[k].state
                && at <= now
            {
                done += 1;
                match self.dispatch(k) {
                    Some(to) => {
                        self.dispatched += 1;
                        self.conns[k].moved = true;
                        self.dial(k, to);
                        self.flush(k);
                    }
                    None => {
                        self.conns[k].state = State::Redial(now + Duration::from_millis(500));
                    }
                }
            }
        }
    }

    fn command(&mut self, line: &str) -> Option<String> {
        let mut words = line.split_whitespace();
        match words.next()? {
            "stats" => {
                let count = |f: &dyn Fn(&Conn) -> bool| self.conns.iter().filter(|c| f(c)).count();
                Some(format!(
                    "stats live={} parked={} redialing={} errors={} dispatched={} moved={} \
                     waiting={} handshaking={}",
                    count(&|c| c.state == State::Up && c.welcomed),
                    count(&|c| c.state == State::Parked),
                    count(&|c| matches!(c.state, State::Redial(_))),
                    self.errors,
                    self.dispatched,
                    count(&|c| c.moved),
                    self.waiting.len(),
                    self.handshaking
                ))
            }
            "drop" => {
                let every: usize = words.next()?.parse().ok()?;
                let mut n = 0;
                for k in 0..self.conns.len() {
                    if (self.args.first + k).is_multiple_of(every.max(1)) {
                        self.handshake_over(k);
                        let c = &mut self.conns[k];
                        c.sock = None;
                        c.welcomed = false;
                        c.session.disconnected();
                        c.state = State::Parked;
                        n += 1;
                    }
                }
                Some(format!("dropped n={n}"))
            }
            "reconnect" => {
                let parked: Vec<usize> = (0..self.conns.len())
                    .filter(|&k| self.conns[k].state == State::Parked)
                    .collect();
                for &k in &parked {
                    self.conns[k].state = State::Up;
                    self.waiting.push_back(k);
                }
                self.admit();
                Some(format!("reconnecting n={}", parked.len()))
            }
            "report" => {
                let name = words.next()?;
                let t = self.tags.get(name);
                let lats = t.map_or(String::new(), |t| join(t.lats.iter()));
                let last = t
                    .filter(|t| t.last.len() <= 100)
                    .map_or(String::new(), |t| {
                        let v: Vec<String> =
                            t.last.iter().map(|(s, l)| format!("{s}:{l}")).collect();
                        v.join(",")
                    });
                Some(format!(
                    "report tag={name} n={} distinct={} moved={} lats={lats} last={last}",
                    t.map_or(0, |t| t.lats.len()),
                    t.map_or(0, |t| t.seqs.len()),
                    t.map_or(0, |t| t.moved.len()),
                ))
            }
            _ => Some(format!("unknown command {line:?}")),
        }
    }

    fn serve(&mut self, rx: &mpsc::Receiver<String>) -> Result<(), crate::BoxError> {
        let every = Duration::from_secs(self.args.ping_secs.max(1));
        let start = Instant::now();
        let n = self.conns.len().max(1);
        let mut due: VecDeque<(Instant, usize)> = (0..self.conns.len())
            .map(|k| (start + every.mul_f64(k as f64 / n as f64), k))
            .collect();
        let mut events = Events::with_capacity(1024);
        let mut out = io::stdout().lock();
        loop {
            let timeout = due.front().map_or(Duration::from_millis(100), |(t, _)| {
                t.saturating_duration_since(Instant::now())
            });
            match self
                .poll
                .poll(&mut events, Some(timeout.min(Duration::from_millis(100))))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            for ev in events.iter() {
                let k = ev.token().0;
                if ev.token() == WAKE || k >= self.conns.len() {
                    continue;
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read(k);
                }
                self.flush(k);
            }
            while let Ok(line) = rx.try_recv() {
                if line.trim() == "quit" {
                    return Ok(());
                }
                if let Some(answer) = self.command(&line) {
                    writeln!(out, "{answer}")?;
                    out.flush()?;
                }
            }
            self.admit();
            self.redial_due();
            let now = Instant::now();
            while let Some(&(t, k)) = due.front() {
                if t > now {
                    break;
                }
                due.pop_front();
                let c = &mut self.conns[k];
                if c.welcomed && c.sock.is_some() {
                    let _ = c.session.ping(b"p");
                    self.flush(k);
                }
                due.push_back((now + every, k));
            }
        }
    }
}

/// Records one received payload `TAG SEQ SENT_US ...`.
fn record(tags: &mut HashMap<String, Tag>, payload: &[u8], moved: bool) {
    let now = unix_us();
    let text = String::from_utf8_lossy(payload);
    let mut f = text.split(' ');
    let (Some(tag), Some(seq), Some(sent)) = (f.next(), f.next(), f.next()) else {
        return;
    };
    let (Ok(seq), Ok(sent)) = (seq.parse::<u64>(), sent.parse::<u64>()) else {
        return;
    };
    let t = tags.entry(tag.to_owned()).or_default();
    let lat = now.saturating_sub(sent);
    t.lats.push(lat);
    t.seqs.insert(seq);
    if moved {
        t.moved.insert(seq);
    }
    let l = t.last.entry(seq).or_insert(0);
    *l = (*l).max(lat);
}

fn join<'a>(v: impl Iterator<Item = &'a u64>) -> String {
    let v: Vec<String> = v.map(u64::to_string).collect();
    v.join(",")
}

/// The first address in the dispatcher's `{"gateways": ["host:port", ..]}`.
pub(crate) fn first_gateway(body: &str) -> Option<SocketAddr> {
    let list = body.split_once('[')?.1;
    let first = list.split('"').nth(1)?;
    first.parse().ok()
}
