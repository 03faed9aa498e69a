//! The store is chosen at run time: `Engine` without parameters runs on whatever store the
//! configuration names (the data directory's SQLite file, or a database URL), and a
//! configuration that names no store this build has is refused before anything is created.

mod common;

use quantd_core::{ExecutionState, NoProgress};
use quantd_engine::exec::Engine;
use quantd_engine::{EngineError, Packs, StoreConfig};
use quantd_store::StoreError;
use std::sync::Arc;

#[tokio::test]
async fn the_engine_runs_on_the_store_its_configuration_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("queue.db");
    let config = StoreConfig::in_data_dir(&data).with_url(format!("sqlite://{}", db.display()));
    let packs = Packs::open_with(&config).await.unwrap();
    assert_eq!(packs.store().backend_name(), "sqlite");
    let spec = quantd_data::SynthSpec {
        tickers: 3,
        days: 60,
        seed: 1,
        ..Default::default()
    };
    packs.synth("u", spec, Arc::new(NoProgress)).await.unwrap();
    let engine: Engine = Engine::new(packs, common::options()).await.unwrap();
    let submitted = engine
        .submit(common::scan(Default::default()))
        .await
        .unwrap();
    let rec = engine.run(&submitted.execution.id, 1).await.unwrap();
    assert_eq!(rec.state, ExecutionState::Completed);
    assert!(db.exists(), "the queue is in the named file");
    assert!(
        !data.join("quantd.db").exists(),
        "and not in the data directory"
    );
    assert!(
        data.join("packs").is_dir(),
        "packs stay in the data directory"
    );

    // Another engine on the same configuration sees the execution.
    drop(engine);
    let again: Engine = Engine::new(Packs::open_with(&config).await.unwrap(), common::options())
        .await
        .unwrap();
    assert_eq!(
        again.execution(&rec.id).await.unwrap().state,
        ExecutionState::Completed
    );
}

#[tokio::test]
async fn a_store_this_build_cannot_open_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = StoreConfig::in_data_dir(&data).with_url("mysql://quantd:secret@db/quantd");
    let err = Packs::open_with(&config).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Store(StoreError::Config { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("unknown scheme `mysql`"), "{text}");
    assert!(text.contains("sqlite://PATH"), "says what works: {text}");
    assert!(!text.contains("secret"), "no password in errors: {text}");
    assert!(!data.exists(), "nothing was created");
}
