//! Pushes through the push API for pushload: a message to a room, or to a user for a target
//! named `user:<id>`, over the library's keep-alive [`ApiClient`].

use loopwire_examples::cli::{BoxError, Context};
use loopwire_push::client::ApiClient;

/// Pushes one message (`body`: its JSON fields) to a room, or to a user for a target named
/// `user:<id>`.
pub(crate) fn push(api: &mut ApiClient, room: &[u8], body: &str) -> Result<(), BoxError> {
    let room = String::from_utf8_lossy(room);
    let (path, target) = match room.strip_prefix("user:") {
        Some(user) => ("/v1/push/user", format!("\"user\":\"{user}\"")),
        None => ("/v1/push/room", format!("\"room\":\"{room}\"")),
    };
    let (status, answer) = api
        .post(path, &format!("{{{target},{body}}}"))
        .context(|| format!("cannot push to {room}"))?;
    if status != 200 {
        return Err(format!("the API answered {status} to a push to {room}: {answer}").into());
    }
    Ok(())
}
