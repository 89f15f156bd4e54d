//! What a person does in Movius's Administrators tool for relinker: add, edit and delete API
//! users; and in an integration's settings, enter the credentials Movius emailed.

use serde_json::{Map, Value, json};

use super::{Desk, segment};
use crate::provider::Operation;
use crate::provider::PersonError;
use crate::provider::movius::Op;

/// Does `op` through the control API.
pub(crate) async fn perform(desk: &Desk, op: &Op) -> Result<(), PersonError> {
    let action = op.describe();
    let action = action.as_str();
    let user = |email: &str, rest: &str| format!("/_sandbox/api-users/{}{rest}", segment(email));
    match op {
        Op::Rename {
            user: email,
            to,
            first_name,
            last_name,
            ..
        } => {
            let mut form = Map::new();
            form.insert("email".into(), json!(to.as_str()));
            if let Some(first) = first_name {
                form.insert("first_name".into(), json!(first));
            }
            if let Some(last) = last_name {
                form.insert("last_name".into(), json!(last));
            }
            desk.post(action, &user(email.as_str(), "/edit"), Value::Object(form))
                .await
                .map(|_| ())
        }
        Op::AddUser {
            user: email,
            first_name,
            last_name,
            applications,
            ..
        } => desk
            .post(
                action,
                "/_sandbox/api-users",
                json!({
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": email.as_str(),
                    "applications": applications,
                }),
            )
            .await
            .map(|_| ()),
        Op::DeleteNewUser { user: email, .. } | Op::DeleteUser { user: email, .. } => {
            desk.delete(action, &user(email.as_str(), "")).await
        }
        Op::Switch {
            integration, to, ..
        } => desk
            .post(
                action,
                &format!(
                    "/_sandbox/integrations/{}/switch",
                    segment(integration.service.as_str())
                ),
                json!({ "email": to.as_str() }),
            )
            .await
            .map(|_| ()),
        // The operator watched the integrations work through the sandbox: its word is that.
        Op::Verify { .. } => Ok(()),
    }
}
