//! Independent pieces of a benchmark (one protocol's row each) measured on one worker thread
//! per core. Each simulation stays on the thread that runs it, so this changes no result, only
//! how long the whole benchmark takes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `measure` applied to every item, on up to one thread per core, each thread taking the next
/// item not yet taken; the results come back in the items' order.
pub fn map_on_cores<T: Sync, R: Send>(items: &[T], measure: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else { break };
                let result = measure(item);
                *results[index].lock().expect("a result's lock") = Some(result);
            });
        }
    });
    results
        .into_iter()
        .map(|result| result.into_inner().expect("a result's lock").expect("every item was measured"))
        .collect()
}
