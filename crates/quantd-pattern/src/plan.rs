//! The order a pattern runs in: steps in topological order, grouped into levels whose steps
//! depend only on earlier levels (so each level's steps can run in parallel). Ties keep document
//! order, so the same pattern always plans the same way. A cycle is named in full.

use crate::document::Pattern;
use std::collections::HashMap;

/// A pattern's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Step indexes, each after every step it depends on.
    pub order: Vec<usize>,
    /// The same steps by level: level 0 depends on nothing, level n only on levels < n.
    pub levels: Vec<Vec<usize>>,
    /// For each step, the steps it depends on (indexes, sorted).
    pub depends_on: Vec<Vec<usize>>,
}

impl Plan {
    /// The plan of `p` over the dependencies `depends_on[i]` (step indexes) — or, when the
    /// steps cannot be ordered, one cycle as step ids, first id repeated at the end.
    pub fn of(p: &Pattern, depends_on: Vec<Vec<usize>>) -> Result<Plan, Vec<String>> {
        let n = p.steps.len();
        let mut waiting: Vec<usize> = depends_on.iter().map(Vec::len).collect();
        let mut dependants = vec![Vec::new(); n];
        for (i, deps) in depends_on.iter().enumerate() {
            for &d in deps {
                dependants[d].push(i);
            }
        }
        let mut level: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
        let (mut order, mut levels) = (Vec::with_capacity(n), Vec::new());
        while !level.is_empty() {
            let mut next = Vec::new();
            for &i in &level {
                for &j in &dependants[i] {
                    waiting[j] -= 1;
                    if waiting[j] == 0 {
                        next.push(j);
                    }
                }
            }
            next.sort_unstable();
            order.extend_from_slice(&level);
            levels.push(std::mem::replace(&mut level, next));
        }
        if order.len() < n {
            return Err(cycle(p, &depends_on, &waiting));
        }
        Ok(Plan {
            order,
            levels,
            depends_on,
        })
    }
}

/// One cycle among the steps still waiting: walk dependencies from one of them until a step
/// repeats (each waiting step has a waiting dependency, so the walk must close).
fn cycle(p: &Pattern, depends_on: &[Vec<usize>], waiting: &[usize]) -> Vec<String> {
    let start = (0..waiting.len()).find(|&i| waiting[i] > 0).unwrap_or(0);
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut path = Vec::new();
    let mut at = start;
    while !seen.contains_key(&at) {
        seen.insert(at, path.len());
        path.push(at);
        match depends_on[at].iter().find(|&&d| waiting[d] > 0) {
            Some(&d) => at = d,
            None => break,
        }
    }
    let from = seen.get(&at).copied().unwrap_or(0);
    // The walk follows "depends on"; a cycle reads in the direction work flows, from its step
    // that comes first in the document.
    let mut cycle: Vec<usize> = path[from..].iter().rev().copied().collect();
    if let Some(first) = (0..cycle.len()).min_by_key(|&k| cycle[k]) {
        cycle.rotate_left(first);
    }
    let mut ids: Vec<String> = cycle.iter().map(|&i| p.steps[i].id.clone()).collect();
    if let Some(first) = ids.first().cloned() {
        ids.push(first);
    }
    ids
}
