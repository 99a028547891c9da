//! The WebSocket module (`loopwire_push::ws`) inside a real event loop, driven by a real
//! client: a small echo [`EventHandler`] (binary messages back as they came, text too when
//! the server takes text) on 127.0.0.1 port 0, and `tungstenite`'s blocking client. Frames
//! the client library will not send (unmasked, reserved bits, ...) are made with tungstenite's
//! own frame encoder and written to its socket directly. Assertions are on contents and close
//! codes, never on timing.

mod util;

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use loopwire::{Action, Conn, Engine, EngineHandle, EventHandler, Network};
use loopwire_push::ws::{
    Decoder, DecoderConfig, FrameHead, HandshakeConfig, Message, OpCode, OriginPolicy, PROTOCOL,
    TextPolicy, Upgrade, encode_text,
};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode as TOpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};
use tungstenite::protocol::{Role, WebSocket};
use tungstenite::{Bytes, Message as TMessage};
use util::ReadMessage;

/// Upper bound of any single wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// A client's WebSocket over a blocking socket.
type Ws = WebSocket<TcpStream>;

// ---- the server under test --------------------------------------------------------------

/// A connection: the handshake, then frames.
#[derive(Debug, Default)]
enum Phase {
    #[default]
    Handshake,
    Open(Decoder),
}

/// Echoes binary (and, if the decoder takes them, text) messages.
struct WsEcho {
    handshake: HandshakeConfig,
    decoder: DecoderConfig,
}

thread_local! {
    /// Where each loop thread unmasks payloads, shared by its connections.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl EventHandler for WsEcho {
    type State = Phase;

    fn on_traffic(&self, c: &mut Conn<'_, Phase>) -> Action {
        if matches!(c.state(), Phase::Handshake) {
            match Upgrade::parse(c.inbound(), &self.handshake) {
                Ok(None) => return Action::None,
                Ok(Some((used, upgrade))) => {
                    c.discard(used);
                    c.write(&upgrade.accept());
                    *c.state_mut() = Phase::Open(Decoder::default());
                }
                Err(e) => {
                    c.write(&e.response());
                    return Action::Close;
                }
            }
        }
        SCRATCH.with_borrow_mut(|scratch| self.messages(c, scratch))
    }
}

impl WsEcho {
    fn messages(&self, c: &mut Conn<'_, Phase>, scratch: &mut Vec<u8>) -> Action {
        loop {
            let inbound = c.inbound();
            let Phase::Open(decoder) = c.state_mut() else {
                return Action::Close;
            };
            let d = match decoder.next(&self.decoder, inbound, scratch) {
                Ok(Some(d)) => d,
                Ok(None) => return Action::None,
                Err(e) => {
                    c.write(e.close_frame().as_bytes());
                    return Action::Close;
                }
            };
            c.discard(d.consumed);
            if let Some(reply) = d.message.reply() {
                c.write(reply.as_bytes());
            }
            match d.message {
                Message::Binary(p) => {
                    let head = FrameHead::server(OpCode::Binary, p.len()).encode();
                    c.writev(&[head.as_bytes(), p]);
                }
                Message::Text(t) => {
                    let mut out = Vec::new();
                    encode_text(t, &mut out);
                    c.write(&out);
                }
                Message::Close(_) => return Action::Close,
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    }
}

/// The echo server on one loop; stops when dropped.
struct Server(EngineHandle);

impl Server {
    fn start(handshake: HandshakeConfig, decoder: DecoderConfig) -> Self {
        let engine = Engine::builder()
            .addr("tcp://127.0.0.1:0")
            .loops(1)
            .start(WsEcho { handshake, decoder })
            .expect("engine starts");
        Self(engine)
    }

    /// Messages up to 1 MiB, binary only.
    fn binary() -> Self {
        let decoder = DecoderConfig {
            max_message: 1 << 20,
            ..DecoderConfig::default()
        };
        Self::start(HandshakeConfig::default(), decoder)
    }

    fn with_decoder(decoder: DecoderConfig) -> Self {
        Self::start(HandshakeConfig::default(), decoder)
    }

    fn addr(&self) -> SocketAddr {
        self.0
            .addrs()
            .iter()
            .find(|a| a.network == Network::Tcp)
            .and_then(|a| a.addr)
            .expect("a TCP address")
    }

    fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s.set_write_timeout(Some(WAIT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        s
    }

    /// A tungstenite client, handshake done.
    fn ws(&self) -> Ws {
        let url = format!("ws://{}/push", self.addr());
        let (ws, resp) = tungstenite::client(url, self.tcp()).expect("handshake");
        assert_eq!(resp.status(), 101);
        ws
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.stop();
    }
}

// ---- client helpers ----------------------------------------------------------------------

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The next data message, answering nothing and skipping pongs.
fn recv(ws: &mut Ws) -> TMessage {
    loop {
        match ws.next_message().expect("read") {
            TMessage::Pong(_) => {}
            m => return m,
        }
    }
}

/// Waits for the server's Close and returns its code; then the server closes the socket.
fn expect_close(ws: &mut Ws) -> u16 {
    let code = loop {
        match ws.next_message() {
            Ok(TMessage::Close(Some(f))) => break u16::from(f.code),
            Ok(TMessage::Close(None)) => panic!("Close without a code"),
            Ok(_) => {}
            Err(e) => panic!("no Close from the server: {e}"),
        }
    };
    expect_eof(ws.get_mut());
    code
}

/// Reads until the server closes the connection; returns what came.
fn expect_eof(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("not closed: {e}"),
        }
    }
}

/// A frame as tungstenite's encoder writes it, masked with `mask` (`None`: unmasked).
fn raw(mut frame: Frame, mask: Option<[u8; 4]>) -> Vec<u8> {
    frame.header_mut().mask = mask;
    let mut out = Vec::new();
    frame.format(&mut out).expect("format");
    out
}

const MASK: Option<[u8; 4]> = Some([0x0F, 0xF0, 0x5A, 0xA5]);

fn binary_frame(data: &[u8], fin: bool) -> Frame {
    Frame::message(
        Bytes::copy_from_slice(data),
        TOpCode::Data(Data::Binary),
        fin,
    )
}

/// A Close frame with any body (tungstenite's `Frame::close` only makes valid ones).
fn close_frame(body: &'static [u8]) -> Frame {
    let head = FrameHeader {
        opcode: TOpCode::Control(Control::Close),
        ..FrameHeader::default()
    };
    Frame::from_payload(head, Bytes::from_static(body))
}

fn continuation(data: &[u8], fin: bool) -> Frame {
    Frame::message(
        Bytes::copy_from_slice(data),
        TOpCode::Data(Data::Continue),
        fin,
    )
}

/// Sends raw bytes on the client's socket, after the handshake.
fn send_raw(ws: &mut Ws, bytes: &[u8]) {
    ws.get_mut().write_all(bytes).expect("write");
}

/// Reads an HTTP response head, up to and with its blank line.
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("UTF-8 head")
}

/// Sends a raw request; returns the whole response, once the server closed the connection.
fn raw_request(server: &Server, request: &str) -> String {
    let mut s = server.tcp();
    s.write_all(request.as_bytes()).expect("write");
    String::from_utf8(expect_eof(&mut s)).expect("UTF-8 response")
}

fn request(extra: &str) -> String {
    format!(
        "GET /push HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

// ---- tests -------------------------------------------------------------------------------

#[test]
fn binary_echo_of_every_length_form() {
    let server = Server::binary();
    let mut ws = server.ws();
    for len in [0, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
        let p = payload(len);
        ws.send(TMessage::binary(p.clone())).expect("send");
        match recv(&mut ws) {
            TMessage::Binary(got) => assert!(got[..] == p[..], "echo of {len} bytes differs"),
            other => panic!("expected binary, got {other:?}"),
        }
    }
    ws.close(None).expect("close");
    assert!(matches!(ws.next_message(), Ok(TMessage::Close(None))));
}

#[test]
fn fragmented_message_with_a_ping_between_fragments() {
    let server = Server::binary();
    let mut ws = server.ws();
    let p = payload(70_000);
    ws.write(TMessage::Frame(binary_frame(&p[..10], false)))
        .expect("write");
    ws.write(TMessage::Frame(Frame::ping(Bytes::from_static(b"mid"))))
        .expect("write");
    ws.write(TMessage::Frame(continuation(&p[10..60_000], false)))
        .expect("write");
    ws.write(TMessage::Frame(continuation(&[], false)))
        .expect("write");
    ws.send(TMessage::Frame(continuation(&p[60_000..], true)))
        .expect("send");
    // The pong answers the ping at once; the message comes whole once its last frame is in.
    assert_eq!(
        ws.next_message().expect("pong"),
        TMessage::Pong(Bytes::from_static(b"mid"))
    );
    assert_eq!(recv(&mut ws), TMessage::binary(p));
}

#[test]
fn ping_gets_a_pong_with_its_payload() {
    let server = Server::binary();
    let mut ws = server.ws();
    for p in [&b""[..], b"hello", &[7; 125]] {
        ws.send(TMessage::Ping(Bytes::copy_from_slice(p)))
            .expect("ping");
        assert_eq!(
            ws.next_message().expect("pong"),
            TMessage::Pong(Bytes::copy_from_slice(p))
        );
    }
}

#[test]
fn close_handshake_echoes_the_code() {
    let server = Server::binary();
    let mut ws = server.ws();
    let frame = CloseFrame {
        code: 4000.into(),
        reason: "bye".into(),
    };
    ws.close(Some(frame)).expect("close");
    match ws.next_message().expect("the server's Close") {
        TMessage::Close(Some(f)) => assert_eq!(u16::from(f.code), 4000),
        other => panic!("expected Close 4000, got {other:?}"),
    }
    expect_eof(ws.get_mut());
}

#[test]
fn text_is_refused_with_1003_by_default() {
    let server = Server::binary();
    let mut ws = server.ws();
    ws.send(TMessage::text("hello")).expect("send");
    assert_eq!(expect_close(&mut ws), 1003);
}

#[test]
fn text_is_echoed_when_accepted_and_bad_utf8_gets_1007() {
    let server = Server::with_decoder(DecoderConfig {
        text: TextPolicy::Utf8,
        ..DecoderConfig::default()
    });
    let mut ws = server.ws();
    ws.send(TMessage::text("héllo")).expect("send");
    assert_eq!(recv(&mut ws), TMessage::text("héllo"));
    let bad = Frame::message(
        Bytes::from_static(&[b'a', 0xFF]),
        TOpCode::Data(Data::Text),
        true,
    );
    send_raw(&mut ws, &raw(bad, MASK));
    assert_eq!(expect_close(&mut ws), 1007);
}

#[test]
fn oversized_message_gets_1009() {
    let server = Server::with_decoder(DecoderConfig {
        max_message: 4096,
        ..DecoderConfig::default()
    });
    let mut ws = server.ws();
    ws.send(TMessage::binary(payload(4096))).expect("send");
    assert_eq!(recv(&mut ws), TMessage::binary(payload(4096)));
    ws.send(TMessage::binary(payload(4097))).expect("send");
    assert_eq!(expect_close(&mut ws), 1009);

    // Fragments adding up to too much.
    let mut ws = server.ws();
    send_raw(&mut ws, &raw(binary_frame(&payload(4000), false), MASK));
    send_raw(&mut ws, &raw(continuation(&payload(97), true), MASK));
    assert_eq!(expect_close(&mut ws), 1009);
}

#[test]
fn oversized_message_is_refused_from_its_header() {
    let server = Server::binary();
    let mut ws = server.ws();
    // A header announcing 1 MiB + 1, and only 3 payload bytes: no need to wait for the rest.
    let mut head = vec![0x82, 0xFF];
    head.extend_from_slice(&((1u64 << 20) + 1).to_be_bytes());
    head.extend_from_slice(&[1, 2, 3, 4, 9, 9, 9]);
    send_raw(&mut ws, &head);
    assert_eq!(expect_close(&mut ws), 1009);
}

#[test]
fn protocol_violations_get_1002() {
    let server = Server::binary();
    let mut rsv1 = binary_frame(b"x", true);
    rsv1.header_mut().rsv1 = true;
    let mut fragmented_ping = Frame::ping(Bytes::from_static(b"p"));
    fragmented_ping.header_mut().is_final = false;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unmasked", raw(binary_frame(b"x", true), None)),
        ("reserved bit", raw(rsv1, MASK)),
        ("reserved opcode", vec![0x83, 0x80, 1, 2, 3, 4]),
        ("fragmented ping", raw(fragmented_ping, MASK)),
        ("ping of 126 bytes", {
            let mut b = vec![0x89, 0xFE, 0, 126, 1, 2, 3, 4];
            b.extend_from_slice(&[0; 126]);
            b
        }),
        ("lone continuation", raw(continuation(b"x", true), MASK)),
        ("close code 1005", raw(close_frame(&[0x03, 0xED]), MASK)),
        ("close body of 1 byte", raw(close_frame(&[0x03]), MASK)),
    ];
    for (what, bytes) in cases {
        let mut ws = server.ws();
        send_raw(&mut ws, &bytes);
        assert_eq!(expect_close(&mut ws), 1002, "{what}");
    }
}

#[test]
fn bad_handshakes_get_an_http_error_then_close() {
    let server = Server::binary();
    let missing_key = raw_request(&server, &request(""));
    assert!(missing_key.starts_with("HTTP/1.1 400 "), "{missing_key}");

    let v8 = request(KEY).replace("Version: 13", "Version: 8");
    let v8 = raw_request(&server, &v8);
    assert!(v8.starts_with("HTTP/1.1 426 "), "{v8}");
    assert!(v8.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{v8}");

    let post = raw_request(&server, &request(KEY).replacen("GET", "POST", 1));
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    let plain = raw_request(&server, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(plain.starts_with("HTTP/1.1 426 "), "{plain}");
    assert!(plain.contains("\r\nUpgrade: websocket\r\n"), "{plain}");

    let huge = request(&format!("{KEY}X-Pad: {}\r\n", "a".repeat(9000)));
    let huge = raw_request(&server, &huge);
    assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
}

#[test]
fn origin_allow_list() {
    let handshake = HandshakeConfig {
        origin: OriginPolicy::AllowList(vec!["https://app.example".into()]),
        ..HandshakeConfig::default()
    };
    let server = Server::start(handshake, DecoderConfig::default());
    let mut s = server.tcp();
    let ok = request(&format!("{KEY}Origin: https://app.example\r\n"));
    s.write_all(ok.as_bytes()).expect("write");
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let evil = raw_request(
        &server,
        &request(&format!("{KEY}Origin: https://evil.example\r\n")),
    );
    assert!(evil.starts_with("HTTP/1.1 403 "), "{evil}");
}

#[test]
fn subprotocol_is_selected() {
    use tungstenite::client::IntoClientRequest;
    let server = Server::binary();
    let mut req = format!("ws://{}/", server.addr())
        .into_client_request()
        .expect("request");
    let offer = format!("other, {PROTOCOL}");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        offer.parse().expect("header value"),
    );
    let (mut ws, resp) = tungstenite::client(req, server.tcp()).expect("handshake");
    let chosen = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .expect("selected");
    assert_eq!(chosen, PROTOCOL);
    ws.send(TMessage::binary(&b"push frame"[..])).expect("send");
    assert_eq!(recv(&mut ws), TMessage::binary(&b"push frame"[..]));
}

#[test]
fn many_messages_in_one_write() {
    let server = Server::binary();
    let mut ws = server.ws();
    let mut bytes = Vec::new();
    for i in 0..300 {
        bytes.extend(raw(binary_frame(&payload(i), true), MASK));
        if i % 50 == 0 {
            bytes.extend(raw(Frame::ping(Bytes::from(vec![i as u8])), MASK));
        }
    }
    send_raw(&mut ws, &bytes);
    let mut pongs = 0;
    let mut i = 0;
    while i < 300 {
        match ws.next_message().expect("read") {
            TMessage::Pong(p) => {
                assert_eq!(p[..], [(pongs * 50) as u8]);
                pongs += 1;
            }
            TMessage::Binary(got) => {
                assert!(got[..] == payload(i)[..], "message {i}");
                i += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pongs, 6);
}

#[test]
fn handshake_and_frames_byte_by_byte() {
    let server = Server::binary();
    let mut s = server.tcp();
    let mut wire = request(KEY).into_bytes();
    let p = payload(300);
    wire.extend(raw(binary_frame(&p[..100], false), MASK));
    wire.extend(raw(Frame::ping(Bytes::from_static(b"between")), MASK));
    wire.extend(raw(continuation(&p[100..], true), MASK));
    wire.extend(raw(binary_frame(b"", true), MASK));
    for b in &wire {
        s.write_all(&[*b]).expect("write");
    }
    let head = read_head(&mut s);
    let accept = tungstenite::handshake::derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains(&format!("\r\nSec-WebSocket-Accept: {accept}\r\n")),
        "{head}"
    );
    let mut ws = WebSocket::from_raw_socket(s, Role::Client, None);
    assert_eq!(
        ws.next_message().expect("pong"),
        TMessage::Pong(Bytes::from_static(b"between"))
    );
    assert_eq!(ws.next_message().expect("message"), TMessage::binary(p));
    assert_eq!(
        ws.next_message().expect("empty"),
        TMessage::binary(Vec::new())
    );
}

#[test]
fn frames_right_behind_the_head_in_one_write() {
    let server = Server::binary();
    let mut s = server.tcp();
    let mut wire = request(KEY).into_bytes();
    wire.extend(raw(binary_frame(b"early", true), MASK));
    s.write_all(&wire).expect("write");
    // The 101 head, read byte by byte so no frame byte is taken with it.
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let mut ws = WebSocket::from_raw_socket(s, Role::Client, None);
    assert_eq!(
        ws.next_message().expect("echo"),
        TMessage::binary(&b"early"[..])
    );
}

#[test]
fn frames_per_message_and_handshake_head_at_the_bound_exactly() {
    let server = Server::binary();
    let max_frames = usize::from(DecoderConfig::default().max_frames);
    let mut bystander = server.ws();
    // A message of exactly max_frames frames (one byte each) is echoed whole...
    let fragmented = |ws: &mut Ws, frames: usize| {
        send_raw(ws, &raw(binary_frame(b"f", frames == 1), MASK));
        for i in 1..frames {
            send_raw(ws, &raw(continuation(b"f", i + 1 == frames), MASK));
        }
    };
    let mut ws = server.ws();
    fragmented(&mut ws, max_frames);
    assert_eq!(recv(&mut ws), TMessage::binary(vec![b'f'; max_frames]));
    // ...one more frame is refused with 1009, then the close.
    fragmented(&mut ws, max_frames + 1);
    assert_eq!(expect_close(&mut ws), 1009);
    bystander.send(TMessage::binary(payload(10))).expect("send");
    assert_eq!(recv(&mut bystander), TMessage::binary(payload(10)));

    // A request head of exactly max_head bytes (blank line included) is upgraded; one byte
    // more is 431, then the close.
    let max_head = HandshakeConfig::default().max_head;
    let head_of = |len: usize| {
        let bare = request(&format!("{KEY}X-Pad: \r\n")).len();
        request(&format!("{KEY}X-Pad: {}\r\n", "p".repeat(len - bare)))
    };
    let at = head_of(max_head);
    assert_eq!(at.len(), max_head);
    let mut s = server.tcp();
    s.write_all(at.as_bytes()).expect("write");
    let answer = read_head(&mut s);
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    let over = raw_request(&server, &head_of(max_head + 1));
    assert!(over.starts_with("HTTP/1.1 431 "), "{over}");
    bystander.send(TMessage::binary(payload(10))).expect("send");
    assert_eq!(recv(&mut bystander), TMessage::binary(payload(10)));
}
