//! Persistent worker threads for the engine's batch chunks.
//!
//! A training step calls its engines two to six times (jets, then adjoint,
//! per batch), a few hundred microseconds apart, which is short next to the
//! cost of starting a thread or waking a parked one. So the workers persist
//! and wait for [`Workers::SPIN`] after each round before they park —
//! spinning for the first tenth, then yielding the core — : back-to-back
//! calls hand over without a wake-up, and an idle process costs nothing
//! after the wait. There is one set of workers per process ([`run_parts`]):
//! a worker per engine would spin beside the others' rounds and take their
//! cores.
//!
//! [`run_parts`] is a scope: `f(i)` runs for every `i < parts` (index 0 on
//! the calling thread) and it returns only when all have finished, so `f`
//! may borrow from the caller's stack. A panic in any part is re-raised on
//! the calling thread after every part has finished. While another thread
//! holds the workers, the parts run one after another on the caller: the
//! engine's chunks and their summation order are fixed, so results are the
//! same bits either way.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The task of the current round: `f(i)` for worker `i`, with its lifetime
/// erased (see the safety argument in [`Workers::run`]).
type Task = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Bumped by the caller to publish a round (or the shutdown).
    round: AtomicU64,
    /// Parts of the current round.
    parts: AtomicUsize,
    /// Threads in all (workers + the caller): the stride between a thread's parts.
    threads: usize,
    /// Workers still running the current round.
    pending: AtomicUsize,
    task: UnsafeCell<Option<Task>>,
    shutdown: AtomicBool,
    panicked: AtomicBool,
    lock: Mutex<()>,
    /// Workers wait here for a round, the caller for its end.
    wake: Condvar,
}

// SAFETY: `task` is written by the caller only while no worker reads it (all
// workers have finished the previous round: `pending == 0`) and read by the
// workers only after the `round` bump that publishes it (release/acquire).
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// `threads − 1` persistent workers (the caller is the first thread).
pub struct Workers {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// How long a thread waits for the next round (or for the workers to
    /// finish) before it parks.
    pub const SPIN: Duration = Duration::from_micros(500);

    /// Workers for `threads` parts in all (`threads − 1` new threads).
    pub fn new(threads: usize) -> Self {
        let shared = Arc::new(Shared {
            round: AtomicU64::new(0),
            parts: AtomicUsize::new(0),
            threads: threads.max(1),
            pending: AtomicUsize::new(0),
            task: UnsafeCell::new(None),
            shutdown: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let handles = (1..threads.max(1))
            .map(|index| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("symdlnn-engine-{index}"))
                    .spawn(move || worker(&shared, index))
                    .expect("the engine cannot start a worker thread")
            })
            .collect();
        Self { shared, handles }
    }

    /// Number of parts a round runs (workers + the caller).
    pub fn threads(&self) -> usize {
        self.handles.len() + 1
    }

    /// Run `f(i)` for `i = 0 … parts − 1` and return when all have
    /// finished: thread `t` of `T` (this one is 0) runs parts `t, t + T,
    /// t + 2T, …`. (`&mut`: one round at a time.)
    pub fn run(&mut self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        let workers = self.handles.len();
        if workers == 0 || parts <= 1 {
            (0..parts).for_each(f);
            return;
        }
        let sh = &*self.shared;
        // SAFETY: the lifetime of `f` is erased to store it; it outlives every
        // use because this function does not return (nor unwind) before
        // `pending` is back to zero, i.e. before every worker has finished
        // calling it and will not touch it again until the next round.
        let task: Task = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Task>(f) };
        // SAFETY: no worker reads `task` now (the previous round is over).
        unsafe { *sh.task.get() = Some(task) };
        sh.parts.store(parts, Ordering::Relaxed);
        sh.pending.store(workers, Ordering::Relaxed);
        {
            let _guard = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.round.fetch_add(1, Ordering::Release);
        }
        sh.wake.notify_all();
        let stride = workers + 1;
        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (0..parts).step_by(stride).for_each(f)
        }));
        wait_until(sh, || sh.pending.load(Ordering::Acquire) == 0);
        let worker_panicked = sh.panicked.swap(false, Ordering::Relaxed);
        if let Err(payload) = own {
            std::panic::resume_unwind(payload);
        }
        assert!(!worker_panicked, "an engine worker thread panicked");
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let sh = &*self.shared;
        sh.shutdown.store(true, Ordering::Relaxed);
        {
            let _guard = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.round.fetch_add(1, Ordering::Release);
        }
        sh.wake.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// The process's workers (grown to the largest part count asked for).
static WORKERS: Mutex<Option<Workers>> = Mutex::new(None);

/// Run `f(i)` for `i = 0 … parts − 1` on the process's workers (part 0 on
/// this thread), at most one thread per core (more parts than cores share
/// threads: spinning workers on an oversubscribed machine would take the
/// cores from the working ones), or all on this thread while another thread
/// uses them.
pub fn run_parts(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    if parts <= 1 {
        (0..parts).for_each(f);
        return;
    }
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let threads = parts.min(cores);
    if threads <= 1 {
        (0..parts).for_each(f);
        return;
    }
    let mut guard = match WORKERS.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => {
            (0..parts).for_each(f);
            return;
        }
    };
    if guard.as_ref().is_none_or(|w| w.threads() < threads) {
        *guard = Some(Workers::new(threads));
    }
    if let Some(workers) = guard.as_mut() {
        workers.run(parts, f);
    }
}

/// A mutable slice handed to the parts of one round, each part taking its
/// own disjoint ranges (parameter ranges, the engine's workspaces).
pub(crate) struct PartedSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: shared only to hand out disjoint ranges (see `range`), each used
// by one thread at a time, which needs `T: Send`.
unsafe impl<T: Send> Sync for PartedSlice<'_, T> {}

impl<'a, T> PartedSlice<'a, T> {
    pub(crate) fn new(x: &'a mut [T]) -> Self {
        Self {
            ptr: x.as_mut_ptr(),
            len: x.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// The elements `r`.
    ///
    /// # Safety
    /// No two ranges alive at the same time overlap.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn range(&self, r: std::ops::Range<usize>) -> &mut [T] {
        assert!(
            r.start <= r.end && r.end <= self.len,
            "range outside the slice"
        );
        // SAFETY: within the borrowed slice (checked); disjointness is the
        // caller's.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }
}

/// Spin, then yield, for [`Workers::SPIN`] until `done`; then wait on the
/// condition variable (every state change notifies under the lock).
fn wait_until(sh: &Shared, done: impl Fn() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while !done() {
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(64) {
            std::hint::spin_loop();
            continue;
        }
        let waited = start.elapsed();
        if waited < Workers::SPIN {
            // After a short pure spin, yield rather than burn the core: on a
            // busy machine another process's thread runs instead.
            if waited > Workers::SPIN / 10 {
                std::thread::yield_now();
            }
            continue;
        }
        let mut guard = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
        while !done() {
            guard = sh.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        return;
    }
}

fn worker(sh: &Shared, index: usize) {
    let mut seen = 0;
    loop {
        wait_until(sh, || sh.round.load(Ordering::Acquire) != seen);
        seen = sh.round.load(Ordering::Acquire);
        if sh.shutdown.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: published by the round bump above; valid until `pending`
        // reaches zero (see `Workers::run`).
        let task = unsafe { (*sh.task.get()).expect("a round has a task") };
        let f = unsafe { &*task };
        let (parts, stride) = (sh.parts.load(Ordering::Relaxed), sh.threads);
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (index..parts).step_by(stride).for_each(f)
        }));
        if mine.is_err() {
            sh.panicked.store(true, Ordering::Relaxed);
        }
        if sh.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _guard = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_per_round_and_results_are_visible_after() {
        let mut workers = Workers::new(3);
        assert_eq!(workers.threads(), 3);
        let slots: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        for round in 1..=2000 {
            workers.run(3, &|i| {
                slots[i].fetch_add(i + 1, Ordering::Relaxed);
            });
            for (i, s) in slots.iter().enumerate() {
                assert_eq!(s.load(Ordering::Relaxed), round * (i + 1));
            }
            if round % 500 == 0 {
                // Let the workers park, then wake them.
                std::thread::sleep(Workers::SPIN * 3);
            }
        }
    }

    #[test]
    fn a_panicking_part_is_reported_on_the_caller_and_the_workers_go_on() {
        let mut workers = Workers::new(2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            workers.run(2, &|i| assert!(i == 0, "part {i} fails"));
        }));
        assert!(caught.is_err());
        let count = AtomicUsize::new(0);
        workers.run(2, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn more_parts_than_threads_each_run_once() {
        let mut workers = Workers::new(2);
        let slots: Vec<AtomicUsize> = (0..7).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..100 {
            workers.run(7, &|i| {
                slots[i].fetch_add(1, Ordering::Relaxed);
            });
        }
        assert!(slots.iter().all(|s| s.load(Ordering::Relaxed) == 100));
    }

    #[test]
    fn fewer_parts_than_workers_and_the_shared_workers_from_several_threads() {
        let mut workers = Workers::new(3);
        let count = AtomicUsize::new(0);
        workers.run(2, &|i| {
            assert!(i < 2);
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
        // Several threads at once: each round's parts all run exactly once,
        // on the workers or inline.
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let parts: Vec<AtomicUsize> = (0..2).map(|_| AtomicUsize::new(0)).collect();
                        run_parts(2, &|i| {
                            parts[i].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(parts.iter().all(|p| p.load(Ordering::Relaxed) == 1));
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 2000);
    }
}
