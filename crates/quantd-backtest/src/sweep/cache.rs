//! [`SeriesCache`]: indicator series of one ticker, computed once and reused by every parameter
//! set that asks for the same series (`SMA(close, 10)` is computed once per ticker, however many
//! `slow` values are paired with `fast = 10`). Bounded: least recently used series are evicted
//! between parameter sets, and their buffers reused.

use std::collections::HashMap;

/// A handle to a series in a [`SeriesCache`], valid until the cache's next
/// [`SeriesCache::begin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesId {
    slot: usize,
    generation: u64,
}

#[derive(Debug)]
struct Slot {
    key: Box<[u64]>,
    data: Vec<f64>,
    generation: u64,
    last_used: u64,
    live: bool,
}

/// A bounded cache of one ticker's derived series, keyed by a caller-chosen `&[u64]` (e.g.
/// `[SMA, 10]`, or an expression node id and its parameters' `f64::to_bits`).
///
/// Within one parameter set, [`ensure`](SeriesCache::ensure) every series first, then read them
/// with [`get`](SeriesCache::get); the sweep driver (through [`crate::from_fn`]) calls
/// [`begin`](SeriesCache::begin) before each parameter set, which is the only time series are
/// evicted.
#[derive(Debug)]
pub struct SeriesCache {
    len: usize,
    capacity: usize,
    index: HashMap<Box<[u64]>, usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    tick: u64,
    computed: u64,
    hits: u64,
}

impl SeriesCache {
    /// The default number of series kept between parameter sets.
    pub const DEFAULT_CAPACITY: usize = 64;

    /// A cache for series of `len` values (the ticker's bar count).
    pub fn new(len: usize) -> Self {
        Self::with_capacity(len, Self::DEFAULT_CAPACITY)
    }

    /// A cache that keeps at most `capacity` series between parameter sets (one parameter set
    /// may use more; the surplus is evicted at the next [`begin`](SeriesCache::begin)).
    pub fn with_capacity(len: usize, capacity: usize) -> Self {
        SeriesCache {
            len,
            capacity,
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            tick: 0,
            computed: 0,
            hits: 0,
        }
    }

    /// The length of every series.
    pub fn series_len(&self) -> usize {
        self.len
    }

    /// Starts a parameter set: evicts the least recently used series beyond the capacity.
    /// Every [`SeriesId`] handed out before is invalid afterwards.
    pub fn begin(&mut self) {
        self.tick += 1;
        while self.index.len() > self.capacity {
            let Some(victim) = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.live)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(i, _)| i)
            else {
                break;
            };
            let slot = &mut self.slots[victim];
            slot.live = false;
            slot.generation += 1;
            self.index.remove(&slot.key);
            self.free.push(victim);
        }
    }

    /// The series under `key`, computed by `compute` (into a buffer of
    /// [`series_len`](SeriesCache::series_len) values) if the cache does not hold it. A failed
    /// computation is not kept.
    pub fn ensure<E>(
        &mut self,
        key: &[u64],
        compute: impl FnOnce(&mut [f64]) -> Result<(), E>,
    ) -> Result<SeriesId, E> {
        if let Some(&slot) = self.index.get(key) {
            self.hits += 1;
            let s = &mut self.slots[slot];
            s.last_used = self.tick;
            return Ok(SeriesId {
                slot,
                generation: s.generation,
            });
        }
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    key: Box::new([]),
                    data: Vec::new(),
                    generation: 0,
                    last_used: 0,
                    live: false,
                });
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[slot];
        s.data.clear();
        s.data.resize(self.len, f64::NAN);
        if let Err(e) = compute(&mut s.data) {
            self.free.push(slot);
            return Err(e);
        }
        self.computed += 1;
        s.key = key.into();
        s.live = true;
        s.last_used = self.tick;
        self.index.insert(s.key.clone(), slot);
        Ok(SeriesId {
            slot,
            generation: s.generation,
        })
    }

    /// The series behind `id`.
    ///
    /// # Panics
    /// If `id` was evicted (it is from before the last [`begin`](SeriesCache::begin)).
    pub fn get(&self, id: SeriesId) -> &[f64] {
        let s = &self.slots[id.slot];
        assert!(
            s.live && s.generation == id.generation,
            "SeriesId used after its series was evicted"
        );
        &s.data
    }

    /// The number of series held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// How many series were computed (cache misses).
    pub fn computed(&self) -> u64 {
        self.computed
    }

    /// How many requests were served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(v: f64) -> impl FnOnce(&mut [f64]) -> Result<(), ()> {
        move |out| {
            out.fill(v);
            Ok(())
        }
    }

    #[test]
    fn computes_once_and_evicts_least_recently_used() {
        let mut c = SeriesCache::with_capacity(3, 2);
        c.begin();
        let a = c.ensure(&[1, 10], fill(1.0)).unwrap();
        let b = c.ensure(&[1, 20], fill(2.0)).unwrap();
        assert_eq!(c.get(a), [1.0; 3]);
        assert_eq!(c.get(b), [2.0; 3]);
        c.begin();
        let a = c.ensure(&[1, 10], fill(9.0)).unwrap();
        assert_eq!(c.get(a), [1.0; 3], "served from the cache");
        let _ = c.ensure(&[1, 30], fill(3.0)).unwrap();
        assert_eq!((c.computed(), c.hits(), c.len()), (3, 1, 3));
        c.begin(); // [1, 20] is the least recently used
        assert_eq!(c.len(), 2);
        let b = c.ensure(&[1, 20], fill(4.0)).unwrap();
        assert_eq!(c.get(b), [4.0; 3], "recomputed after eviction");
        assert!(c.ensure(&[2], |_| Err::<(), _>("bad")).is_err());
        assert_eq!(c.len(), 3);
    }

    #[test]
    #[should_panic(expected = "evicted")]
    fn stale_ids_are_caught() {
        let mut c = SeriesCache::with_capacity(1, 0);
        let a = c.ensure(&[1], fill(1.0)).unwrap();
        c.begin();
        let _ = c.get(a);
    }
}
