//! What a person does in dotdigital's UI for relinker: in Settings > Access > API users, create
//! a user with the plan's new password, set a password, untick or tick Enabled, delete a user;
//! in an integration's settings, type in a credential.

use serde_json::json;

use super::{Desk, segment};
use crate::provider::Operation;
use crate::provider::PersonError;
use crate::provider::dotdigital::Op;

/// Does `op` through the control API.
pub(crate) async fn perform(desk: &Desk, op: &Op) -> Result<(), PersonError> {
    let action = op.describe();
    let action = action.as_str();
    let user = |name: &str, rest: &str| format!("/_sandbox/api-users/{}{rest}", segment(name));
    match op {
        Op::CreateUser { replaces, new, .. } => {
            let new = desk.login(action, new)?;
            let created = desk
                .post(
                    action,
                    "/_sandbox/api-users",
                    json!({
                        "password": new.password.expose(),
                        "description": format!("replaces {replaces}"),
                    }),
                )
                .await?;
            // The UI generates the username; the plan's reference must name the same one.
            if created["username"].as_str().map(str::to_lowercase)
                != Some(new.username.to_lowercase())
            {
                return Err(Desk::refused(
                    action,
                    format!(
                        "dotdigital generated `{}`, and the plan's reference names `{}`",
                        created["username"].as_str().unwrap_or("?"),
                        new.username
                    ),
                ));
            }
            Ok(())
        }
        Op::DeleteNewUser { new, .. } => {
            let new = desk.login(action, new)?;
            desk.delete(action, &user(&new.username, "")).await
        }
        Op::SetPassword { user: name, to, .. } => {
            let to = desk.login(action, to)?;
            desk.post(
                action,
                &user(name.as_str(), "/password"),
                json!({ "password": to.password.expose() }),
            )
            .await
            .map(|_| ())
        }
        Op::Switch {
            integration,
            to,
            from,
            ..
        } => {
            let to = desk.login(action, to)?;
            // A person told to switch to the user the integration is switched from changes
            // nothing and says so: their word must not count as a switch.
            if desk
                .login(action, from)
                .is_ok_and(|from| from.username.eq_ignore_ascii_case(&to.username))
            {
                return Err(Desk::refused(
                    action,
                    format!(
                        "the credential to switch to is `{}`'s, the user it is switched from: there is nothing to switch to",
                        to.username
                    ),
                ));
            }
            desk.post(
                action,
                &format!(
                    "/_sandbox/integrations/{}/credential",
                    segment(integration.service.as_str())
                ),
                json!({ "username": to.username, "password": to.password.expose() }),
            )
            .await
            .map(|_| ())
        }
        Op::Disable { user: name, .. } | Op::Enable { user: name, .. } => desk
            .post(
                action,
                &user(name.as_str(), "/enabled"),
                json!({ "enabled": matches!(op, Op::Enable { .. }) }),
            )
            .await
            .map(|_| ()),
        Op::Delete { user: name, .. } => desk.delete(action, &user(name.as_str(), "")).await,
        Op::Verify { .. } => Err(Desk::refused(action, "relinker verifies this itself")),
    }
}
