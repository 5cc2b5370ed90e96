//! A connection future polled again, in place, when it wakes itself while being polled.
//!
//! hyper's HTTP/1 server runs the service inside the connection task, and its request-body channel
//! wakes the reading side whenever the service takes a chunk, even after the reader has finished and
//! let go of the body (hyper 1.12, `body/chan.rs`, `Receiver::poll_next`). So every request with a
//! body woke its own connection task once. tokio treats a task woken during its own poll as a yield:
//! it goes to the back of the run queue and another worker is unparked to come and steal it. On the
//! 2-core bench machine that cost a futex wake, a context switch on the other core and, often, the
//! request moving to the other core halfway through (`docs/BENCHMARKS.md`).
//!
//! [`Repoll`] gives the inner future a waker of its own. A wake that arrives while the inner future
//! is being polled (from this thread or any other) is remembered and answered by polling again
//! before returning; a wake at any other time goes straight to the task's waker. It polls again at
//! most [`MAX_REPOLLS`] times per poll, and not once the task's tokio budget is spent; then it
//! yields the ordinary way. So hyper's own yield (its dispatcher wakes itself after 16 rounds of a
//! pipelining client or a streaming body) is still a yield, one round later.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// How many times one poll may poll the inner future again before yielding to the scheduler. One
/// answers the request-body wake; the second is slack.
pub(crate) const MAX_REPOLLS: u32 = 2;

/// The inner future is being polled.
const POLLING: u8 = 1;
/// A wake came (while polling: poll again; otherwise it was forwarded).
const WOKEN: u8 = 2;

struct Shared {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // read-modify-write: the poll that reads WOKEN sees everything done before this wake
        if self.state.fetch_or(WOKEN, Ordering::AcqRel) & POLLING == 0 {
            self.task.wake();
        }
    }
}

/// See the module docs.
pub(crate) struct Repoll<F> {
    inner: Pin<Box<F>>,
    shared: Arc<Shared>,
    waker: Waker,
}

impl<F: Future> Repoll<F> {
    pub(crate) fn new(inner: F) -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(0),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(Arc::clone(&shared));
        Self {
            inner: Box::pin(inner),
            shared,
            waker,
        }
    }
}

impl<F: Future> Future for Repoll<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.shared.task.register(cx.waker());
        let mut inner_cx = Context::from_waker(&this.waker);
        let mut repolls = 0;
        loop {
            // a wake from before this poll is answered by this poll
            this.shared.state.swap(POLLING, Ordering::AcqRel);
            let polled = this.inner.as_mut().poll(&mut inner_cx);
            let state = this.shared.state.swap(0, Ordering::AcqRel);
            if polled.is_ready() || state & WOKEN == 0 {
                return polled;
            }
            // woken while it was being polled: its work is ready now
            if repolls == MAX_REPOLLS || !tokio::task::coop::has_budget_remaining() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            repolls += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    use super::*;

    /// Counts the wakes the outer task receives.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        (count, waker)
    }

    /// Pending `n` times, each time waking itself before returning, then ready with its poll count.
    struct SelfWaking {
        left: u32,
        polls: u32,
    }

    impl Future for SelfWaking {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            self.polls += 1;
            if self.left == 0 {
                return Poll::Ready(self.polls);
            }
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn a_self_wake_is_answered_in_the_same_poll_without_waking_the_task() {
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut future = Repoll::new(SelfWaking {
            left: MAX_REPOLLS,
            polls: 0,
        });
        assert_eq!(
            Pin::new(&mut future).poll(&mut cx),
            Poll::Ready(MAX_REPOLLS + 1)
        );
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_after_the_bound() {
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut future = Repoll::new(SelfWaking {
            left: MAX_REPOLLS + 2,
            polls: 0,
        });
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "yielded the ordinary way"
        );
        assert_eq!(
            Pin::new(&mut future).poll(&mut cx),
            Poll::Ready(MAX_REPOLLS + 3)
        );
    }

    /// Pending until its stored waker is woken from outside.
    struct Parked {
        waker: Arc<Mutex<Option<Waker>>>,
        ready: Arc<AtomicUsize>,
    }

    impl Future for Parked {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.ready.load(Ordering::SeqCst) > 0 {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn a_wake_between_polls_reaches_the_task() {
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let stored = Arc::new(Mutex::new(None));
        let ready = Arc::new(AtomicUsize::new(0));
        let mut future = Repoll::new(Parked {
            waker: Arc::clone(&stored),
            ready: Arc::clone(&ready),
        });
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);

        let inner_waker = stored.lock().unwrap().take().unwrap();
        ready.store(1, Ordering::SeqCst);
        let from = std::thread::spawn(move || inner_waker.wake());
        from.join().unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the wake was forwarded");
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_racing_the_poll_from_other_threads_are_never_lost() {
        // A channel fed from another thread: each value is sent while the receiving side may be
        // in the middle of a poll. A lost wake would hang this test.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
        let sender = std::thread::spawn(move || {
            for i in 0..20_000 {
                tx.blocking_send(i).unwrap();
            }
        });
        let received = tokio::spawn(Repoll::new(async move {
            let mut n = 0u32;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        }));
        assert_eq!(received.await.unwrap(), 20_000);
        sender.join().unwrap();
    }
}
