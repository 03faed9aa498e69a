//! The pack catalog's state changes, through a real SQLite file.

use chrono::{NaiveDate, Utc};
use quantd_core::{PackId, PackState, Rights};
use quantd_store::{NewPack, PackCatalog, SqliteStore};

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
        columns: vec!["open".into(), "close".into()],
        rows_dropped: 1,
        origin: "test.csv".into(),
        rights: Rights {
            license: Some("CC-BY".into()),
            export_allowed: false,
            ..Rights::default()
        },
    }
}

async fn state(store: &SqliteStore, name: &str, byte: u8) -> PackState {
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

#[tokio::test]
async fn a_newer_import_makes_the_previous_one_stale_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
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
        "still fresh while b warms"
    );
    store.make_fresh("u", &b.id, None).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Stale);
    assert_eq!(state(&store, "u", 2).await, PackState::Fresh);

    // Importing a's content again: stale → fresh, b → stale.
    store.make_fresh("u", &a.id, None).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Fresh);
    assert_eq!(state(&store, "u", 2).await, PackState::Stale);
    assert_eq!(store.newest_fresh_pack().await.unwrap().unwrap().id, a.id);

    // Rows keep what was registered.
    let rec = store.find_packs("u").await.unwrap().remove(0);
    assert_eq!(rec.rights.license.as_deref(), Some("CC-BY"));
    assert!(!rec.rights.export_allowed);
    assert_eq!((rec.rows_dropped, rec.columns.len()), (1, 2));
}

#[tokio::test]
async fn illegal_changes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
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
    // An errored import may be retried: it registers anew.
    store.begin_import(&a).await.unwrap();
    assert_eq!(state(&store, "u", 1).await, PackState::Warming);
}

#[tokio::test]
async fn orphaned_imports_fail_and_live_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
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

#[tokio::test]
async fn packs_are_found_by_name_id_or_prefix_and_the_schema_persists() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let a = new_pack("alpha", 0xab, "t");
        store.begin_import(&a).await.unwrap();
        store.make_fresh("alpha", &a.id, None).await.unwrap();
    }
    let store = SqliteStore::open(dir.path()).await.unwrap();
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
