//! The smaller leaks of issue 25, each shut and tried through the binary: credential
//! fingerprints nobody can guess offline.

use serde_json::Value;

use crate::dotdigital::{OLD_PASSWORD, OLD_USER};

/// The hex digest of `sha256(username NUL password)`: what saved plans and journals held.
fn unsalted(username: &str, password: &str) -> String {
    relinker::secret::Fingerprint::of(format!("{username}\0{password}").as_bytes())
        .as_str()
        .trim_start_matches("sha256:")
        .to_owned()
}

/// Every string value at a key named `credential` or `credentials` (fingerprints), in order.
fn fingerprints(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("credential" | "credentials", Value::String(print)) => {
                        out.push(print.clone());
                    }
                    _ => fingerprints(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| fingerprints(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn saved_plans_and_journals_hold_no_credential_fingerprint_a_dictionary_can_find() {
    let sandbox = crate::dotdigital::sandbox(crate::dotdigital::FIXTURE).await;
    let work = crate::dotdigital::workspace(&sandbox);
    let plan_out =
        |out: &str| crate::dotdigital::relinker(&work, &["plan", "plan.yaml", "--out", out], None);
    plan_out("saved.json").run().await.code(0);
    plan_out("again.json").run().await.code(0);
    let read = |name: &str| std::fs::read_to_string(work.path().join(name)).unwrap();
    let (saved, again) = (read("saved.json"), read("again.json"));
    let old_credential = unsalted(OLD_USER, OLD_PASSWORD);
    assert!(
        !saved.contains(&old_credential),
        "the saved plan holds sha256(username NUL password), which a dictionary finds"
    );
    let prints = |text: &str| {
        let mut out = Vec::new();
        fingerprints(&serde_json::from_str(text).unwrap(), &mut out);
        out
    };
    let (saved_prints, again_prints) = (prints(&saved), prints(&again));
    // Both integrations use the old credential: one fingerprint within a saved plan, a salted
    // argon2id, and another one in another saved plan.
    assert_eq!(saved_prints.len(), 2, "{saved}");
    assert_eq!(saved_prints[0], saved_prints[1]);
    assert!(saved_prints[0].starts_with("$argon2id$v=19$"), "{saved}");
    assert_ne!(
        saved_prints[0], again_prints[0],
        "two saved plans, two salts"
    );

    // The saved plan applies: its apply fingerprints the same credential the same way, and the
    // run's journal records it so, never unsalted.
    let applied = crate::dotdigital::relinker(
        &work,
        &["apply", "saved.json", "--yes", "--gate-wait", "0"],
        None,
    )
    .run()
    .await;
    applied.code(4).never_says("live state changed");
    let journal = work.state_files();
    assert!(
        !journal.contains(&old_credential),
        "the journal holds sha256(username NUL password)"
    );
    assert!(
        journal.contains(&saved_prints[0]),
        "the run records the saved plan's fingerprints"
    );
}

#[tokio::test]
async fn a_saved_plan_of_an_older_relinker_is_compared_the_old_way_with_a_warning() {
    let sandbox = crate::dotdigital::sandbox(crate::dotdigital::FIXTURE).await;
    let work = crate::dotdigital::workspace(&sandbox);
    crate::dotdigital::relinker(&work, &["plan", "plan.yaml", "--out", "saved.json"], None)
        .run()
        .await
        .code(0);
    // What an older relinker wrote: unsalted SHA-256, and no derivation recorded.
    let path = work.path().join("saved.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    saved
        .as_object_mut()
        .unwrap()
        .remove("credential_fingerprints");
    let mut prints = Vec::new();
    fingerprints(&saved, &mut prints);
    let old = format!("sha256:{}", unsalted(OLD_USER, OLD_PASSWORD));
    let text = prints.iter().fold(saved.to_string(), |text, print| {
        text.replace(print.as_str(), &old)
    });
    std::fs::write(&path, text).unwrap();
    crate::dotdigital::relinker(
        &work,
        &["apply", "saved.json", "--yes", "--gate-wait", "0"],
        None,
    )
    .run()
    .await
    .code(4)
    .says("holds unsalted SHA-256 credential fingerprints (an older relinker saved it)")
    .never_says("live state changed");
}
