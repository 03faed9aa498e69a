//! Names never shadow content (review D15): a pack may not be named like an id or an id prefix,
//! ids and prefixes resolve before names (also against a catalog that already holds such a
//! name), and an execution reads its pack by the content id it recorded.

use quantd_core::NoProgress;
use quantd_data::SynthSpec;
use quantd_engine::{DataDir, EngineError, Packs};
use quantd_store::NewPack;
use quantd_store::prelude::*;
use std::sync::Arc;

fn spec(seed: u64) -> SynthSpec {
    SynthSpec {
        tickers: 3,
        days: 50,
        seed,
        ..Default::default()
    }
}

#[tokio::test]
async fn names_that_look_like_ids_are_refused_and_ids_win_over_old_impostor_names() {
    let dir = tempfile::tempdir().unwrap();
    let packs = Packs::open(DataDir::new(dir.path())).await.unwrap();
    let u = packs
        .synth("u", spec(7), Arc::new(NoProgress))
        .await
        .unwrap()
        .pack;
    let v = packs
        .synth("v", spec(8), Arc::new(NoProgress))
        .await
        .unwrap()
        .pack;
    let uid = u.id.as_str().to_string();
    for name in [uid.clone(), uid[..12].to_string(), uid[..8].to_uppercase()] {
        let err = packs
            .synth(&name, spec(8), Arc::new(NoProgress))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EngineError::Invalid(m) if m.contains("looks like a pack id")),
            "{name}: {err}"
        );
    }
    // A name with a letter beyond a–f is a name.
    packs
        .synth("deadbeefz", spec(9), Arc::new(NoProgress))
        .await
        .unwrap();

    // A catalog written before this rule: v's content under the name of u's id.
    let store = quantd_store::SqliteStore::open(dir.path()).await.unwrap();
    for name in [uid.clone(), uid[..12].to_string()] {
        let impostor = NewPack {
            name: name.clone(),
            id: v.id.clone(),
            import_token: "old".into(),
            estimated_ready: chrono::Utc::now(),
            tickers: v.tickers,
            bars: v.bars,
            first_date: v.first_date,
            last_date: v.last_date,
            timing: Default::default(),
            columns: v.columns.clone(),
            rows_dropped: 0,
            origin: "test".into(),
            rights: v.rights.clone(),
        };
        store.begin_import(&impostor).await.unwrap();
        store.make_fresh(&name, &v.id, None).await.unwrap();
    }
    for key in [uid.as_str(), &uid[..12], &uid[..8]] {
        assert_eq!(packs.find(Some(key)).await.unwrap().id, u.id, "{key}");
    }
    assert_eq!(packs.by_id(&uid).await.unwrap().id, u.id);
    assert!(
        packs.by_id(&uid[..12]).await.is_err(),
        "by_id takes whole ids only"
    );
}
