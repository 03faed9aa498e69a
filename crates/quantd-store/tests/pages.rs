//! Cursor pagination of every list: each item exactly once, in the list's order, whatever the
//! page size; a cursor the store did not hand out is refused with a clear error.

use quantd_core::{CodeVersionId, ExecutionId, ExecutionKind};
use quantd_store::prelude::*;
use quantd_store::{ExecutionFilter, NewExecution, Page, Paged, SqliteStore, StoreError};
use std::future::Future;

/// Reads every page of a list with `limit` items per page.
async fn read_all<T, F, Fut>(limit: u32, mut page: F) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = quantd_store::Result<Paged<T>>>,
{
    let mut all = Vec::new();
    let mut next = Page::first(limit);
    loop {
        let p = page(next.clone()).await.unwrap();
        assert!(p.items.len() <= limit as usize);
        all.extend(p.items);
        match p.next {
            Some(c) => next = Page::after(c, limit),
            None => return all,
        }
    }
}

fn execution(i: u64, name: &str) -> NewExecution {
    NewExecution {
        // Several executions share a creation time, so the id must break ties.
        id: ExecutionId::from_parts(1_700_000_000_000 + i / 3, u128::from(i) * 7919),
        workspace: "default".into(),
        kind: ExecutionKind::Scan,
        name: Some(name.into()),
        spec: serde_json::json!({}),
        fingerprint: format!("f{i}"),
        pack_id: "p".into(),
        code_version: None,
        options: serde_json::json!({}),
        shards: vec![],
        now: 1_700_000_000_000 + (i / 3) as i64,
        first_claim: None,
    }
}

#[tokio::test]
async fn execution_pages_cover_everything_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    for i in 0..47 {
        store
            .create_execution(&execution(i, if i % 2 == 0 { "even" } else { "odd" }))
            .await
            .unwrap();
    }
    let everything = store
        .list_executions(&ExecutionFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(everything.items.len(), 47);
    assert_eq!(everything.next, None);
    for limit in [1, 5, 46, 47] {
        let paged = read_all(limit, |p| {
            let store = store.clone();
            async move {
                store
                    .list_executions(&ExecutionFilter {
                        after: p.after,
                        limit: p.limit,
                        ..Default::default()
                    })
                    .await
            }
        })
        .await;
        let ids: Vec<_> = paged.iter().map(|r| r.id.clone()).collect();
        let expected: Vec<_> = everything.items.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, expected, "page size {limit}");
    }
    let odd = read_all(4, |p| {
        let store = store.clone();
        async move {
            store
                .list_executions(&ExecutionFilter {
                    name: Some("odd".into()),
                    after: p.after,
                    limit: p.limit,
                    ..Default::default()
                })
                .await
        }
    })
    .await;
    assert_eq!(odd.len(), 23);
    assert!(odd.iter().all(|r| r.name.as_deref() == Some("odd")));
}

#[tokio::test]
async fn code_pages_and_bad_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    for n in 0..9 {
        let name = format!("scanner-{n}");
        for v in 0..3u8 {
            let id = CodeVersionId::from_digest([n * 3 + v; 32]);
            let src = format!("close > {v}");
            store
                .add_code("default", &name, &id, "expr", &src, &[])
                .await
                .unwrap();
        }
    }
    let names = read_all(2, |p| {
        let store = store.clone();
        async move { store.code_names("default", &p).await }
    })
    .await;
    let names: Vec<_> = names.into_iter().map(|n| n.name).collect();
    let expected: Vec<_> = (0..9).map(|n| format!("scanner-{n}")).collect();
    assert_eq!(names, expected);
    let versions = read_all(1, |p| {
        let store = store.clone();
        async move { store.code_versions("default", "scanner-4", &p).await }
    })
    .await;
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let bad = store
        .list_executions(&ExecutionFilter {
            after: Some("not-a-cursor".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(bad, StoreError::BadCursor(_)), "{bad}");
    assert!(bad.to_string().contains("`next` value"), "{bad}");
    let bad = store
        .code_versions("default", "scanner-1", &Page::after("x", 5))
        .await
        .unwrap_err();
    assert!(matches!(bad, StoreError::BadCursor(_)));
    // Well-formed but forged cursors (review H26) name no row: refused, not an empty page.
    let forged = store
        .list_executions(&ExecutionFilter {
            after: Some("1.ex_01m8vr4ba1p0v1zkyajp6n2gf9".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(forged, StoreError::BadCursor(_)), "{forged}");
    for bad in [
        store
            .code_versions("default", "scanner-1", &Page::after("999", 5))
            .await
            .err(),
        store
            .code_names("default", &Page::after("no-such-name", 5))
            .await
            .err(),
        store.list_packs(&Page::after("424242", 5)).await.err(),
    ] {
        assert!(matches!(bad, Some(StoreError::BadCursor(_))), "{bad:?}");
    }
}

#[tokio::test]
async fn code_names_belong_to_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let a = CodeVersionId::from_digest([1; 32]);
    let b = CodeVersionId::from_digest([2; 32]);
    store
        .add_code("team-a", "dip", &a, "expr", "close > 1", &[])
        .await
        .unwrap();
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
    assert_eq!((vb.version, vb.source.as_str()), (1, "close > 2"));
    assert!(
        store
            .code_version("team-c", "dip", None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.remove_code("team-a", "dip").await.unwrap());
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
}
