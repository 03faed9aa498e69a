//! Pages and filters: every list gives each item exactly once, in its order, whatever the page
//! size; filters combine; a cursor the store did not hand out for that list is refused with a
//! clear error, never answered with an empty or wrong page.

use crate::harness::{Harness, T0, execution};
use quantd_core::{CodeVersionId, ExecutionKind, ExecutionState};
use quantd_store::prelude::*;
use quantd_store::{ExecutionFilter, ExecutionRecord, Page, Paged, StoreError};
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
        assert!(p.items.len() <= limit.max(1) as usize);
        all.extend(p.items);
        match p.next {
            Some(c) => next = Page::after(c, limit),
            None => return all,
        }
    }
}

/// Every page of executions matching `filter`.
async fn executions(
    store: &impl Store,
    filter: &ExecutionFilter,
    limit: u32,
) -> Vec<ExecutionRecord> {
    read_all(limit, |p| {
        let f = ExecutionFilter {
            after: p.after,
            limit: p.limit,
            ..filter.clone()
        };
        async move { store.list_executions(&f).await }
    })
    .await
}

/// 47 executions, several per creation time (the id breaks ties): every page size gives them
/// all once, newest first; filters by workspace, name, kind, state and time combine.
pub async fn execution_pages_cover_everything_once_in_order<H: Harness>(h: &H) {
    let store = h.open().await;
    for i in 0..47u64 {
        let mut e = execution(i, if i % 5 == 0 { "other" } else { "default" }, 0);
        e.now = T0 + (i / 3) as i64;
        e.kind = if i % 4 == 0 {
            ExecutionKind::Backtest
        } else {
            ExecutionKind::Scan
        };
        e.shards = if i % 3 == 0 {
            vec![serde_json::json!({})]
        } else {
            vec![]
        };
        store.create_execution(&e).await.unwrap();
    }
    let everything = store
        .list_executions(&ExecutionFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (everything.items.len(), everything.next.clone()),
        (47, None)
    );
    let order: Vec<_> = everything
        .items
        .iter()
        .map(|r| (r.created_at, r.id.clone()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(order, sorted, "newest first, ties by id");
    for limit in [0, 1, 5, 46, 47] {
        let ids: Vec<_> = executions(&store, &ExecutionFilter::default(), limit)
            .await
            .into_iter()
            .map(|r| r.id)
            .collect();
        let expected: Vec<_> = everything.items.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, expected, "page size {limit}");
    }
    let filter = ExecutionFilter {
        workspace: Some("default".into()),
        name: Some("code-1".into()),
        kind: Some(ExecutionKind::Scan),
        state: Some(ExecutionState::Completed),
        since: Some(T0 + 3),
        ..Default::default()
    };
    let got = executions(&store, &filter, 2).await;
    let expected: Vec<_> = everything
        .items
        .iter()
        .filter(|r| {
            r.workspace == "default"
                && r.name.as_deref() == Some("code-1")
                && r.kind == ExecutionKind::Scan
                && r.state == ExecutionState::Completed
                && r.created_at >= T0 + 3
        })
        .cloned()
        .collect();
    assert!(
        expected.len() >= 5,
        "the filter keeps a few: {}",
        expected.len()
    );
    assert_eq!(got, expected);
    let other = executions(
        &store,
        &ExecutionFilter {
            workspace: Some("other".into()),
            ..Default::default()
        },
        4,
    )
    .await;
    assert_eq!(other.len(), 10);
    assert!(other.iter().all(|r| r.workspace == "other"));
}

/// Cursors that do not parse, that parse but name no execution (forged: review H26), or that
/// name another workspace's execution are refused on every list.
pub async fn bad_cursors_are_refused_on_every_list<H: Harness>(h: &H) {
    let store = h.open().await;
    for i in 0..3 {
        store
            .create_execution(&execution(i, "team-a", 0))
            .await
            .unwrap();
        store
            .create_execution(&execution(10 + i, "team-b", 0))
            .await
            .unwrap();
    }
    let b_page = store
        .list_executions(&ExecutionFilter {
            workspace: Some("team-b".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let b_cursor = b_page.next.expect("a next page");
    for after in [
        "not-a-cursor".to_string(),
        "1.ex_01m8vr4ba1p0v1zkyajp6n2gf9".to_string(),
        b_cursor,
    ] {
        let err = store
            .list_executions(&ExecutionFilter {
                workspace: Some("team-a".into()),
                after: Some(after.clone()),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::BadCursor(_)), "{after}: {err}");
        assert!(err.to_string().contains("`next` value"), "{err}");
    }
    let id = CodeVersionId::from_digest([7; 32]);
    store
        .add_code("team-a", "dip", &id, "expr", "close > 1", &[])
        .await
        .unwrap();
    for bad in [
        store
            .code_versions("team-a", "dip", &Page::after("x", 5))
            .await
            .err(),
        store
            .code_versions("team-a", "dip", &Page::after("999", 5))
            .await
            .err(),
        store
            .code_versions("team-b", "dip", &Page::after("1", 5))
            .await
            .err(),
        store
            .code_names("team-a", &Page::after("no-such-name", 5))
            .await
            .err(),
        store
            .code_names("team-b", &Page::after("dip", 5))
            .await
            .err(),
        store.list_packs(&Page::after("424242", 5)).await.err(),
        store.list_packs(&Page::after("seven", 5)).await.err(),
    ] {
        assert!(matches!(bad, Some(StoreError::BadCursor(_))), "{bad:?}");
    }
}

/// Code names and versions page like executions, per workspace.
pub async fn code_pages_cover_everything_once<H: Harness>(h: &H) {
    let store = h.open().await;
    for n in 0..9u8 {
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
    let names: Vec<_> = names
        .into_iter()
        .map(|n| (n.name, n.versions, n.current))
        .collect();
    let expected: Vec<_> = (0..9).map(|n| (format!("scanner-{n}"), 3, 3)).collect();
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
    assert!(
        store
            .code_names("elsewhere", &Page::all())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
