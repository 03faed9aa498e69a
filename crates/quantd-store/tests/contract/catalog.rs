//! The other areas of the contract: the pack catalog's state changes, code names per
//! workspace, access tokens and idempotency keys.

use crate::harness::{Harness, T0, create};
use chrono::{NaiveDate, Utc};
use quantd_core::{CodeVersionId, PackId, PackState, Rights};
use quantd_store::prelude::*;
use quantd_store::{NewPack, NewToken, Page};

fn new_pack(name: &str, byte: u8, token: &str) -> NewPack {
    NewPack {
        name: name.into(),
        id: PackId::from_digest([byte; 32]),
        import_token: token.into(),
        estimated_ready: Utc::now(),
        tickers: 2,
        bars: 10,
        first_date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        last_date: NaiveDate::from_ymd_opt(2024, 1, 8).unwrap(),
        timing: quantd_store::PackTiming {
            interval: "1h".into(),
            zone: "America/New_York".into(),
            first_bar: "2024-01-02T09:30:00-05:00".into(),
            last_bar: "2024-01-08T15:30:00-05:00".into(),
        },
        columns: vec!["open".into(), "close".into()],
        rows_dropped: 1,
        origin: "test.csv".into(),
        rights: Rights {
            license: Some("CC-BY".into()),
            export: quantd_core::ExportPolicy::Deny,
            provider: None,
            ..Rights::default()
        },
    }
}

async fn state(store: &impl Store, name: &str, byte: u8) -> PackState {
    let id = PackId::from_digest([byte; 32]);
    store
        .find_packs(name)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
        .state
}

/// warming → fresh; a newer import makes the previous fresh pack stale, and importing the old
/// content again brings it back; rows keep what was registered.
pub async fn a_newer_import_makes_the_previous_one_stale_and_back<H: Harness>(h: &H) {
    let store = h.open().await;
    let a = new_pack("u", 1, "t1");
    store.begin_import(&a).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Warming);
    assert!(
        store.newest_fresh_pack().await.unwrap().is_none(),
        "warming packs are not offered"
    );
    store.make_fresh("u", &a.id, None).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Fresh);
    let b = new_pack("u", 2, "t2");
    store.begin_import(&b).await.unwrap();
    assert_eq!(
        state(&store, "u", 1).await,
        PackState::Fresh,
        "fresh while b warms"
    );
    store.make_fresh("u", &b.id, None).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Stale);
    assert_eq!(state(&store, "u", 2).await, PackState::Fresh);
    store.make_fresh("u", &a.id, None).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Fresh);
    assert_eq!(state(&store, "u", 2).await, PackState::Stale);
    assert_eq!(store.newest_fresh_pack().await.unwrap().unwrap().id, a.id);
    let rec = store.find_packs("u").await.unwrap().remove(0);
    assert_eq!(rec.rights.license.as_deref(), Some("CC-BY"));
    assert_eq!(rec.rights.export, quantd_core::ExportPolicy::Deny);
    assert_eq!((rec.rows_dropped, rec.columns.len()), (1, 2));
    assert_eq!(rec.timing, a.timing, "interval, zone and bars are kept");
    let listed = store.list_packs(&Page::first(1)).await.unwrap();
    assert_eq!(listed.items[0].id, a.id, "newest first");
    let rest = store
        .list_packs(&Page::after(listed.next.unwrap(), 5))
        .await
        .unwrap();
    assert_eq!((rest.items.len(), rest.next), (1, None));
}

/// Changes that do not apply to a pack's state are refused; an errored import may start again.
pub async fn illegal_pack_changes_are_refused<H: Harness>(h: &H) {
    let store = h.open().await;
    let a = new_pack("u", 1, "t1");
    assert!(
        store.make_fresh("u", &a.id, None).await.is_err(),
        "nothing to make fresh"
    );
    store.begin_import(&a).await.unwrap();
    let again = store.begin_import(&a).await.unwrap_err();
    assert!(again.to_string().contains("already warming"), "{again}");
    store.fail_import("u", &a.id, "disk full").await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Error);
    assert!(
        store.make_fresh("u", &a.id, None).await.is_err(),
        "error is terminal"
    );
    store.begin_import(&a).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Warming);
}

/// Warming rows whose importer is gone become `error` with the fix; live ones stay.
pub async fn orphaned_imports_fail_and_live_ones_stay<H: Harness>(h: &H) {
    let store = h.open().await;
    store
        .begin_import(&new_pack("dead", 1, "gone"))
        .await
        .unwrap();
    store
        .begin_import(&new_pack("alive", 2, "held"))
        .await
        .unwrap();
    let failed = store
        .fail_orphaned_imports(|token| token == "held")
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, "dead");
    assert_eq!(state(&store, "dead", 1).await, PackState::Error);
    assert_eq!(state(&store, "alive", 2).await, PackState::Warming);
    let err = store
        .find_packs("dead")
        .await
        .unwrap()
        .remove(0)
        .error
        .unwrap();
    assert!(err.contains("import the file again"), "{err}");
}

/// Packs are found by name, id or an id prefix of 8+ characters, from any handle opened later.
pub async fn packs_are_found_by_name_id_or_prefix_from_a_new_handle<H: Harness>(h: &H) {
    {
        let store = h.open().await;
        let a = new_pack("alpha", 0xab, "t");
        store.begin_import(&a).await.unwrap();
        store.make_fresh("alpha", &a.id, None).await.unwrap();
    }
    let store = h.open().await;
    let id = PackId::from_digest([0xab; 32]);
    assert_eq!(store.find_packs("alpha").await.unwrap().len(), 1);
    assert_eq!(store.find_packs(id.as_str()).await.unwrap().len(), 1);
    assert_eq!(store.find_packs("abababab").await.unwrap().len(), 1);
    assert!(
        store.find_packs("abab").await.unwrap().is_empty(),
        "prefixes need 8 characters"
    );
    assert!(store.find_packs("beta").await.unwrap().is_empty());
}

/// Code names belong to a workspace: the same name in two workspaces is two codes.
pub async fn code_names_belong_to_a_workspace<H: Harness>(h: &H) {
    let store = h.open().await;
    let a = CodeVersionId::from_digest([1; 32]);
    let b = CodeVersionId::from_digest([2; 32]);
    let added = store
        .add_code("team-a", "dip", &a, "expr", "close > 1", &["n".into()])
        .await
        .unwrap();
    assert_eq!((added.version.version, added.unchanged), (1, false));
    let same = store
        .add_code("team-a", "dip", &a, "expr", "close > 1", &["n".into()])
        .await
        .unwrap();
    assert!(same.unchanged, "same content: nothing added");
    store
        .add_code("team-b", "dip", &b, "expr", "close > 2", &[])
        .await
        .unwrap();
    let va = store
        .code_version("team-a", "dip", None)
        .await
        .unwrap()
        .unwrap();
    let vb = store
        .code_version("team-b", "dip", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((va.version, va.source.as_str()), (1, "close > 1"));
    assert_eq!(va.params, ["n"]);
    assert_eq!((vb.version, vb.source.as_str()), (1, "close > 2"));
    assert!(
        store
            .code_version("team-c", "dip", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.code_by_id(&b).await.unwrap().unwrap().source,
        "close > 2"
    );
    assert!(store.remove_code("team-a", "dip").await.unwrap());
    assert!(
        store
            .code_version("team-a", "dip", None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .code_version("team-a", "dip", Some(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .code_version("team-b", "dip", None)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .code_names("team-a", &Page::all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        !store.set_current_code("team-a", "dip", 1).await.unwrap(),
        "removed"
    );
}

/// Tokens are found by id (one or many at once) until revoked, listed per workspace; an
/// idempotency key keeps the first execution it created.
pub async fn tokens_and_idempotency_keys<H: Harness>(h: &H) {
    let store = h.open().await;
    for (id, ws) in [("t1", "a"), ("t2", "b"), ("t3", "a")] {
        store
            .create_token(&NewToken {
                id: id.into(),
                workspace: ws.into(),
                name: Some(format!("{id}'s")),
                secret_hash: format!("hash-{id}"),
                admin: id == "t2",
            })
            .await
            .unwrap();
    }
    let t2 = store.token("t2").await.unwrap().unwrap();
    assert_eq!(
        (t2.workspace.as_str(), t2.admin, t2.secret_hash.as_str()),
        ("b", true, "hash-t2")
    );
    let ids = |v: Vec<quantd_store::TokenRecord>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_tokens(Some("a")).await.unwrap()),
        ["t1", "t3"]
    );
    assert_eq!(store.list_tokens(None).await.unwrap().len(), 3);
    let asked: Vec<String> = ["t1", "t2", "t3", "nope"].map(String::from).into();
    let live = store.live_tokens(&asked).await.unwrap();
    assert_eq!(live.len(), 3);
    assert!(store.live_tokens(&[]).await.unwrap().is_empty());
    assert!(store.revoke_token("t1").await.unwrap());
    assert!(!store.revoke_token("t1").await.unwrap(), "already revoked");
    assert!(store.token("t1").await.unwrap().is_none());
    assert_eq!(ids(store.list_tokens(Some("a")).await.unwrap()), ["t3"]);
    let live = store.live_tokens(&asked).await.unwrap();
    let mut live: Vec<_> = live.into_iter().collect();
    live.sort();
    assert_eq!(live, ["t2", "t3"], "a revoked token is not live");

    let first = create(&store, 1, 0).await;
    let second = create(&store, 2, 0).await;
    assert!(store.idempotency_key("a", "k").await.unwrap().is_none());
    assert!(
        store
            .save_idempotency_key("a", "k", "h1", &first, T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_idempotency_key("a", "k", "h2", &second, T0)
            .await
            .unwrap()
    );
    let kept = store.idempotency_key("a", "k").await.unwrap().unwrap();
    assert_eq!((kept.request_hash.as_str(), kept.execution), ("h1", first));
    assert!(
        store.idempotency_key("b", "k").await.unwrap().is_none(),
        "per workspace"
    );
}

/// Providers are stored and replaced by name; a pack names one (every row of its name); a
/// provider a pack names cannot be removed; a pack's rows are found by content id.
pub async fn providers_are_kept_and_named_by_packs<H: Harness>(h: &H) {
    let store = h.open().await;
    let body = serde_json::json!({"name": "acme", "export": "deny"});
    assert!(store.put_provider("acme", &body, T0).await.unwrap());
    let replaced = serde_json::json!({"name": "acme", "export": "watermark"});
    assert!(!store.put_provider("acme", &replaced, T0 + 1).await.unwrap());
    assert_eq!(
        store.providers().await.unwrap(),
        [("acme".to_string(), replaced)]
    );

    let mut p = new_pack("lic", 7, "t7");
    p.rights.provider = Some("acme".into());
    p.rights.export = quantd_core::ExportPolicy::Watermark;
    store.begin_import(&p).await.unwrap();
    store.make_fresh("lic", &p.id, None).await.unwrap();
    let rows = store.packs_by_id(&p.id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].rights.provider.as_deref(), Some("acme"));
    assert_eq!(rows[0].rights.export, quantd_core::ExportPolicy::Watermark);

    let err = store.remove_provider("acme").await.unwrap_err();
    assert!(err.to_string().contains("named by pack lic"), "{err}");
    assert_eq!(store.set_pack_provider("lic", None).await.unwrap(), 1);
    assert!(store.remove_provider("acme").await.unwrap());
    assert!(!store.remove_provider("acme").await.unwrap());
    assert!(store.providers().await.unwrap().is_empty());
    assert_eq!(
        store.packs_by_id(&p.id).await.unwrap()[0].rights.provider,
        None
    );
}

/// The audit trail reads newest first, page by page, filtered by workspace, execution and
/// exports; a forged cursor is refused.
pub async fn the_audit_trail_reads_newest_first_by_filter<H: Harness>(h: &H) {
    use quantd_store::{AuditFilter, NewAuditEntry};
    let store = h.open().await;
    let id = create(&store, 1, 1).await;
    let entry = |ws: &str, action: &str, exec: Option<&quantd_core::ExecutionId>| NewAuditEntry {
        at: T0,
        workspace: ws.into(),
        actor: "token abc (ci)".into(),
        action: action.into(),
        execution: exec.cloned(),
        provider: action.starts_with("export").then(|| "acme".to_string()),
        detail: format!("{action} detail"),
    };
    store
        .append_audit(&entry("w1", "created", Some(&id)))
        .await
        .unwrap();
    store
        .append_audit(&entry("w1", "export.refused", Some(&id)))
        .await
        .unwrap();
    store
        .append_audit(&entry("w2", "paused", None))
        .await
        .unwrap();
    store
        .append_audit(&entry("w1", "cancelled", Some(&id)))
        .await
        .unwrap();

    let all = store
        .audit(&AuditFilter::default(), &Page::all())
        .await
        .unwrap();
    let actions: Vec<&str> = all.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["cancelled", "paused", "export.refused", "created"]
    );

    let w1 = AuditFilter {
        workspace: Some("w1".into()),
        ..Default::default()
    };
    let first = store.audit(&w1, &Page::first(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = store
        .audit(&w1, &Page::after(first.next.clone().unwrap(), 2))
        .await
        .unwrap();
    let seen: Vec<&str> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(seen, ["cancelled", "export.refused", "created"]);
    assert!(rest.next.is_none());

    let exports = AuditFilter {
        exports_only: true,
        execution: Some(id.clone()),
        ..Default::default()
    };
    let refused = store.audit(&exports, &Page::all()).await.unwrap().items;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].provider.as_deref(), Some("acme"));
    assert_eq!(refused[0].execution.as_deref(), Some(id.as_str()));
    assert!(store.audit(&w1, &Page::after("x1", 2)).await.is_err());
}
