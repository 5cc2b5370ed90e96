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
//! before returning; a wake at any other time goes straight to the task's waker. After
//! [`MAX_REPOLLS`] rounds in one poll it yields the ordinary way, so a connection that keeps waking
//! itself cannot hold a worker.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// How many times one poll may poll the inner future before yielding to the scheduler.
pub(crate) const MAX_REPOLLS: u32 = 16;

const IDLE: u8 = 0;
const POLLING: u8 = 1;
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
        match self
            .state
            .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            // the poll in progress will poll again; an earlier wake already asked it to
            Ok(_) | Err(WOKEN) => {}
            Err(_) => self.task.wake(),
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
            state: AtomicU8::new(IDLE),
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
        for _ in 0..MAX_REPOLLS {
            this.shared.state.store(POLLING, Ordering::Release);
            if let Poll::Ready(output) = this.inner.as_mut().poll(&mut inner_cx) {
                this.shared.state.store(IDLE, Ordering::Release);
                return Poll::Ready(output);
            }
            if this
                .shared
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Pending;
            }
            // woken while it was being polled: its work is ready now, so do it now
        }
        this.shared.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
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
        let mut future = Repoll::new(SelfWaking { left: 3, polls: 0 });
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(4));
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
