//! What a person does in Marketo's UI for relinker: relink a LaunchPoint service.

use serde_json::json;

use super::{Desk, segment};
use crate::provider::PersonError;
use crate::provider::marketo::Op;

/// Does `op` through the control API.
pub(crate) async fn perform(desk: &Desk, op: &Op) -> Result<(), PersonError> {
    match op {
        Op::LinkService { service, to, .. } => {
            let action = format!("link `{service}` to `{to}`");
            desk.post(
                &action,
                &format!("/_sandbox/services/{}/link", segment(service.as_str())),
                json!({ "userid": to.as_str() }),
            )
            .await
            .map(|_| ())
        }
        Op::CreateUser { user, .. } => {
            // A pending invitation: the invited user accepts it.
            let action = format!("accept the invitation of `{user}`");
            desk.post(
                &action,
                &format!("/_sandbox/invitations/{}/accept", segment(user.as_str())),
                serde_json::Value::Null,
            )
            .await
            .map(|_| ())
        }
        // Nothing in the sandbox's UI unblocks these: relinker retries them itself.
        _ => Ok(()),
    }
}
