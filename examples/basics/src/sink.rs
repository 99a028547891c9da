//! [`Sink`]: where a protocol example's replies go, so the same writer code serves the
//! loopwire handler (a [`Conn`]), the tokio peer and the tests (a `Vec<u8>`).

use loopwire::Conn;

/// Appends reply bytes: to a [`Conn`]'s outbound bytes in a server, to a `Vec<u8>` in a peer
/// or a test.
pub trait Sink {
    /// Appends `bytes` to the reply stream.
    fn put(&mut self, bytes: &[u8]);
}

impl<S> Sink for Conn<'_, S> {
    fn put(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}
