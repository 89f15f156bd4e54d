//! Operations: what one step does, tagged by the platform it belongs to.
//!
//! Each provider defines its own operations and implements [`Operation`] for them; [`Op`] is
//! the provider-tagged union the rest of relinker stores and passes around without knowing any
//! platform. Serialized, an operation is its provider's object (`{"op": "create_user", …}`)
//! plus a `provider` key for every provider but Marketo, whose journals predate the key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::platform::RunFacts;
use super::step::{Performer, Reversibility, Verification};
use super::{dotdigital, marketo, movius};
use crate::ids::{ServiceName, UserId};
use crate::plan::ProviderKind;

/// What every provider's operations say about themselves.
pub trait Operation: Sized {
    /// Who performs it.
    fn performer(&self) -> Performer;
    /// How its effect becomes known.
    fn verification(&self) -> Verification;
    /// Whether it can be undone.
    fn reversibility(&self) -> Reversibility;
    /// The operation that undoes it, if any.
    fn compensation(&self) -> Option<Self>;
    /// One line for people.
    fn describe(&self) -> String;
    /// The users it touches: what a run holds a claim on.
    fn users(&self) -> Vec<&UserId>;
    /// Whether undoing it would delete something it created: such an effect is the run's only
    /// when the run itself saw the thing missing and acted, never inferred from the plan.
    fn creates(&self) -> bool;
    /// For an operation that creates something, the operation that deletes exactly what it
    /// made, named by `identity` as the run recorded it right after the creation held (see
    /// [`crate::provider::Platform::made`]): never whatever the plan's references name later.
    fn undo_made(&self, made: &Made) -> Option<Self>;
    /// Whether it is its rotation's proof (the verification that is the rotation's pivot).
    fn is_proof(&self) -> bool;
    /// Whether it deletes a user (what `policy.max_deletions` counts).
    fn deletes(&self) -> bool;
    /// What a plan summary counts it as: singular and plural nouns.
    fn tally(&self) -> (&'static str, &'static str);
    /// Whether a finished run names it among what it proved: its proof, and whatever else the
    /// platform's promise rests on (the old credential refused).
    fn proves(&self) -> bool {
        self.is_proof()
    }
    /// For a step that proves, the promise it kept once it passed, in words; otherwise its
    /// description.
    fn promise(&self) -> String {
        self.describe()
    }
    /// The earliest moment it may be done (the end of a soak), if it has one.
    fn not_before(&self, facts: &dyn RunFacts) -> Option<DateTime<Utc>> {
        let _ = facts;
        None
    }
    /// The users that must exist for it to be done (a service can only be linked to a user
    /// that exists): before a person is asked for it, whichever of them the run made is read
    /// again.
    fn needs(&self) -> Vec<&UserId> {
        Vec::new()
    }
    /// The service whose link a person is asked to change by it, if any, from which user to
    /// which: a link read from something older than that ask (a Marketo token) may still show
    /// the first though the person did it.
    fn relinks(&self) -> Option<(&ServiceName, &UserId, &UserId)> {
        None
    }
}

/// One step's operation, on whichever platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Marketo.
    Marketo(marketo::Op),
    /// dotdigital.
    Dotdigital(dotdigital::Op),
    /// Movius MultiLine.
    Movius(movius::Op),
}

macro_rules! each {
    ($self:expr, $op:ident => $body:expr) => {
        match $self {
            Op::Marketo($op) => $body,
            Op::Dotdigital($op) => $body,
            Op::Movius($op) => $body,
        }
    };
}

impl Op {
    /// The platform it belongs to.
    pub fn provider(&self) -> ProviderKind {
        match self {
            Op::Marketo(_) => ProviderKind::Marketo,
            Op::Dotdigital(_) => ProviderKind::Dotdigital,
            Op::Movius(_) => ProviderKind::Movius,
        }
    }

    /// It as one platform's own operation (`P` is that platform's `Op`), if it is one of
    /// that platform's: how a [`crate::provider::Platform`] takes the operations it is given,
    /// another platform's being an error there.
    pub fn narrow<P: Operation + 'static>(&self) -> Option<&P> {
        each!(self, op => (op as &dyn std::any::Any).downcast_ref::<P>())
    }

    /// Who performs it.
    pub fn performer(&self) -> Performer {
        each!(self, op => op.performer())
    }

    /// How its effect becomes known.
    pub fn verification(&self) -> Verification {
        each!(self, op => op.verification())
    }

    /// Whether it can be undone.
    pub fn reversibility(&self) -> Reversibility {
        each!(self, op => op.reversibility())
    }

    /// The operation that undoes it, if any.
    pub fn compensation(&self) -> Option<Op> {
        match self {
            Op::Marketo(op) => op.compensation().map(Op::Marketo),
            Op::Dotdigital(op) => op.compensation().map(Op::Dotdigital),
            Op::Movius(op) => op.compensation().map(Op::Movius),
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        each!(self, op => op.describe())
    }

    /// The users it touches.
    pub fn users(&self) -> Vec<&UserId> {
        each!(self, op => op.users())
    }

    /// Whether undoing it deletes something it created.
    pub fn creates(&self) -> bool {
        each!(self, op => op.creates())
    }

    /// The operation that deletes exactly what it made, as `made` names it.
    pub fn undo_made(&self, made: &Made) -> Option<Op> {
        match self {
            Op::Marketo(op) => op.undo_made(made).map(Op::Marketo),
            Op::Dotdigital(op) => op.undo_made(made).map(Op::Dotdigital),
            Op::Movius(op) => op.undo_made(made).map(Op::Movius),
        }
    }

    /// Whether it is its rotation's proof (its pivot).
    pub fn is_proof(&self) -> bool {
        each!(self, op => op.is_proof())
    }

    /// Whether it deletes a user.
    pub fn deletes(&self) -> bool {
        each!(self, op => op.deletes())
    }

    /// The users that must exist for it to be done.
    pub fn needs(&self) -> Vec<&UserId> {
        each!(self, op => op.needs())
    }

    /// The service whose link a person is asked to change by it, if any, from and to.
    pub fn relinks(&self) -> Option<(&ServiceName, &UserId, &UserId)> {
        each!(self, op => op.relinks())
    }

    /// The earliest moment it may be done, if it has one.
    pub fn not_before(&self, facts: &dyn RunFacts) -> Option<DateTime<Utc>> {
        each!(self, op => op.not_before(facts))
    }

    /// Whether a finished run names it among what it proved.
    pub fn proves(&self) -> bool {
        each!(self, op => op.proves())
    }

    /// For a step that proves, the promise it kept once it passed, in words.
    pub fn promise(&self) -> String {
        each!(self, op => op.promise())
    }

    /// What a plan summary counts it as.
    pub fn tally(&self) -> (&'static str, &'static str) {
        each!(self, op => op.tally())
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = match self {
            // Marketo's operations predate the key, and its journals do without it.
            Op::Marketo(op) => return op.serialize(serializer),
            Op::Dotdigital(op) => serde_json::to_value(op),
            Op::Movius(op) => serde_json::to_value(op),
        };
        let value = value
            .as_mut()
            .map_err(|e| serde::ser::Error::custom(e.to_string()))?;
        value["provider"] = self.provider().name().into();
        value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let provider = value
            .get("provider")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(ProviderKind::Marketo.name());
        let Some(provider) = ProviderKind::from_name(provider) else {
            return Err(serde::de::Error::unknown_variant(
                provider,
                &ProviderKind::NAMES,
            ));
        };
        match provider {
            ProviderKind::Marketo => serde_json::from_value(value).map(Op::Marketo),
            ProviderKind::Dotdigital => serde_json::from_value(value).map(Op::Dotdigital),
            ProviderKind::Movius => serde_json::from_value(value).map(Op::Movius),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// What a creating step made, as the run saw it right after the creation held: what its undo
/// deletes, and how to know that thing again whatever the plan's references say later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The thing made, as the platform names it (a userid, a generated username).
    pub identity: String,
    /// The fingerprint of the credential it was seen to answer to, where a platform knows a
    /// made thing only by its credential (dotdigital): a look with another credential says
    /// nothing of it.
    pub credential: Option<crate::secret::CredentialFingerprint>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StepId;

    /// An operation of `kind`'s platform.
    fn sample(kind: ProviderKind) -> Op {
        let user = UserId::parse("jane.doe@acme.example").unwrap();
        match kind {
            ProviderKind::Marketo => Op::Marketo(marketo::Op::DeleteUser { user }),
            ProviderKind::Dotdigital => Op::Dotdigital(dotdigital::Op::Delete {
                user,
                after: StepId::new("r1-verify"),
                soak: None,
            }),
            ProviderKind::Movius => Op::Movius(movius::Op::DeleteNewUser {
                replaces: UserId::parse("old@acme.example").unwrap(),
                user,
            }),
        }
    }

    #[test]
    fn every_platforms_operation_survives_a_journal_round_trip() {
        for kind in ProviderKind::ALL {
            let op = sample(kind);
            assert_eq!(op.provider(), kind);
            let line = serde_json::to_string(&op).unwrap();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            match kind {
                // Marketo's journals predate the key.
                ProviderKind::Marketo => assert!(value.get("provider").is_none(), "{line}"),
                ProviderKind::Dotdigital | ProviderKind::Movius => {
                    assert_eq!(value["provider"], kind.name(), "{line}");
                }
            }
            let back: Op = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(back, op);
        }
    }

    #[test]
    fn an_operation_narrows_to_its_own_platforms_only() {
        for kind in ProviderKind::ALL {
            let op = sample(kind);
            let narrowed = [
                (ProviderKind::Marketo, op.narrow::<marketo::Op>().is_some()),
                (
                    ProviderKind::Dotdigital,
                    op.narrow::<dotdigital::Op>().is_some(),
                ),
                (ProviderKind::Movius, op.narrow::<movius::Op>().is_some()),
            ];
            for (to, some) in narrowed {
                assert_eq!(some, to == kind, "{kind} narrowed to {to}");
            }
        }
    }

    #[test]
    fn an_operation_of_an_unknown_platform_names_the_known_ones() {
        let error = serde_json::from_value::<Op>(serde_json::json!({
            "op": "delete", "provider": "hubspot", "user": "jane.doe@acme.example"
        }))
        .unwrap_err();
        assert!(
            error.to_string().contains(
                "unknown variant `hubspot`, expected one of `marketo`, `dotdigital`, `movius`"
            ),
            "{error}"
        );
    }
}
