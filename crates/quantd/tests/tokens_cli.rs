//! `quantd tokens create|list|revoke`: tokens are listed without secrets and stop working once
//! revoked.

mod common;
use common::*;

#[test]
fn tokens_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let created = json(
        d,
        &["tokens", "create", "--workspace", "ops", "--name", "ci"],
    );
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("qdt_{id}_")), "{token}");
    json(d, &["tokens", "create", "--workspace", "lab"]);

    let all = json(d, &["tokens", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let ops = json(d, &["tokens", "list", "--workspace", "ops"]);
    assert_eq!(ops[0]["id"], id.as_str());
    assert_eq!(ops[0]["name"], "ci");
    assert!(
        !ops.to_string().contains(&token[4 + id.len() + 1..]),
        "no secret listed"
    );

    // Revoking by the whole token works too (only its id is used).
    ok(d, &["tokens", "revoke", &token]);
    let ops = json(d, &["tokens", "list", "--workspace", "ops"]);
    assert_eq!(ops.as_array().unwrap().len(), 0, "{ops}");
    let again = run(d, &["tokens", "revoke", &id]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("no live token"), "{err}");
}
