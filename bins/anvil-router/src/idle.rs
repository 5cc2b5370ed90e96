//! Work a request leaves for when its worker thread is idle.
//!
//! Once a non-streamed answer is in hand, what stands between the upstream's last byte and the
//! client's is anvil's own bookkeeping: reading `usage` out of the answer, the decision record,
//! the budget charge, and freeing the request's parsed forms. None of it changes the response (a
//! request that charges a session budget is the exception: its charge must land before the
//! session's next request is planned, so it runs before the answer is out). A
//! worker that runs out of tasks parks (waits in `epoll_wait`); tokio calls
//! [`run_deferred`] just before, from the runtime's `on_thread_park` hook, so [`defer`]red work
//! runs after hyper has written the response, in time the thread would otherwise spend waiting.
//!
//! On a thread without the hook (another runtime, a test, a blocking thread) [`defer`] runs the
//! work at once, and a queue that holds [`MAX_QUEUED`] items (a worker that never idles) takes no
//! more: the work then runs at once too. Whatever is left when the thread exits runs then.

use std::cell::{Cell, RefCell};

/// The most work items a worker keeps for later.
pub(crate) const MAX_QUEUED: usize = 64;

type Work = Box<dyn FnOnce()>;

/// The queue, which runs what it still holds when its thread exits.
#[derive(Default)]
struct Queue(Vec<Work>);

impl Drop for Queue {
    fn drop(&mut self) {
        for work in std::mem::take(&mut self.0) {
            run(work);
        }
    }
}

/// Runs one item. A panic in bookkeeping is logged and contained: outside a task, it would
/// otherwise unwind through the runtime's worker loop.
fn run(work: Work) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
        tracing::error!("deferred request bookkeeping panicked; its decision record may be lost");
    }
}

thread_local! {
    /// Whether this thread runs [`run_deferred`] before it parks: set by its first call, so
    /// only a runtime's worker threads (not its blocking threads) queue work.
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

/// Runs `work` when this thread next has nothing else to do, or now (see the module docs).
pub(crate) fn defer(work: impl FnOnce() + 'static) {
    let mut work: Option<Work> = Some(Box::new(work));
    if ENABLED.try_with(Cell::get).unwrap_or(false) {
        let _ = QUEUE.try_with(|queue| {
            if let Ok(mut queue) = queue.try_borrow_mut() {
                if queue.0.len() < MAX_QUEUED {
                    queue.0.extend(work.take());
                }
            }
        });
    }
    if let Some(work) = work {
        run(work);
    }
}

/// Runs the work this thread deferred, including work that work defers (the runtime's
/// `on_thread_park` hook), and lets the thread defer work from now on.
pub fn run_deferred() {
    let _ = ENABLED.try_with(|enabled| enabled.set(true));
    loop {
        let mut batch = QUEUE
            .try_with(|queue| {
                queue
                    .try_borrow_mut()
                    .map(|mut queue| std::mem::take(&mut queue.0))
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if batch.is_empty() {
            return;
        }
        for work in batch.drain(..) {
            run(work);
        }
        // hand the emptied buffer back, so the next request's work does not allocate a new one
        let _ = QUEUE.try_with(|queue| {
            if let Ok(mut queue) = queue.try_borrow_mut() {
                if queue.0.is_empty() {
                    queue.0 = batch;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::sync::mpsc;

    use super::*;

    type Seen = Rc<RefCell<Vec<u32>>>;

    fn log() -> (Seen, impl Fn(u32) -> Work) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let push = {
            let seen = Rc::clone(&seen);
            move |n: u32| {
                let seen = Rc::clone(&seen);
                Box::new(move || seen.borrow_mut().push(n)) as Work
            }
        };
        (seen, push)
    }

    #[test]
    fn without_the_park_hook_work_runs_at_once() {
        let (seen, push) = log();
        defer(push(1));
        assert_eq!(*seen.borrow(), [1]);
    }

    #[test]
    fn after_the_first_park_work_waits_for_the_next_and_runs_in_order() {
        run_deferred();
        let (seen, push) = log();
        defer(push(1));
        let again = push(3);
        defer(move || {
            again();
            // work that work defers runs in the same drain
            defer(|| {});
        });
        defer(push(2));
        assert!(
            seen.borrow().is_empty(),
            "nothing runs before the thread idles"
        );
        run_deferred();
        assert_eq!(*seen.borrow(), [1, 3, 2]);
        assert!(QUEUE.with(|q| q.borrow().0.is_empty()));
    }

    #[test]
    fn a_full_queue_runs_new_work_at_once() {
        run_deferred();
        let (seen, push) = log();
        for n in 0..MAX_QUEUED as u32 {
            defer(push(n));
        }
        defer(push(999));
        assert_eq!(*seen.borrow(), [999]);
        run_deferred();
        assert_eq!(seen.borrow().len(), MAX_QUEUED + 1);
    }

    #[test]
    fn a_panicking_item_does_not_stop_the_others() {
        run_deferred();
        let (seen, push) = log();
        defer(push(1));
        defer(|| panic!("bookkeeping bug"));
        defer(push(2));
        run_deferred();
        assert_eq!(*seen.borrow(), [1, 2]);
    }

    #[test]
    fn leftovers_run_when_the_thread_exits() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            run_deferred();
            defer(move || tx.send("ran").unwrap());
        })
        .join()
        .unwrap();
        assert_eq!(rx.try_recv(), Ok("ran"));
    }

    #[test]
    fn a_runtime_with_the_hook_runs_deferred_work_when_its_worker_idles() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .on_thread_park(run_deferred)
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        runtime.block_on(async move {
            // the worker's first park enables deferring on it; do it now, without a race
            tokio::spawn(async { run_deferred() }).await.unwrap();
            tokio::spawn(async move {
                let deferred_tx = tx.clone();
                defer(move || deferred_tx.send("deferred").unwrap());
                tx.send("task").unwrap();
            })
            .await
            .unwrap();
        });
        assert_eq!(rx.recv().unwrap(), "task", "the task finishes first");
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(),
            "deferred"
        );
        drop(runtime);
    }
}
