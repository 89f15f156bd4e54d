//! What a person does in Marketo's UI for relinker: relink a LaunchPoint service.

use serde_json::json;

use crate::executor::PersonError;
use crate::provider::marketo::Op;
use crate::sandbox::operator::{Desk, segment};

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
        other => Err(Desk::refused(
            crate::provider::Operation::describe(other),
            "only relinking a service is a person's step in Marketo",
        )),
    }
}
