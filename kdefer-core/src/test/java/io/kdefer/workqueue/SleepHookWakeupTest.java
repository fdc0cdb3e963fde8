package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.testkit.Waits;
import io.kdefer.wait.Completion;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A kworker that goes to sleep tells its pool first ({@code wq_worker_sleeping}), under the pool
 * lock. If it has to wait for that lock, it parks inside the lock, and that park consumes the
 * unpark its waker gives meanwhile: the sleep must look at its condition again before it really
 * parks, or the wake-up is lost and the item sleeps for ever. Spec §10.4 item 87 (a worker that
 * sleeps in a kdefer call), §5.2.
 */
class SleepHookWakeupTest {

    @Test
    void aCompletionThatCompletesWhileTheWorkerWaitsForItsPoolLockWakesIt(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("hook", 0);
        WorkerPool pool = kernel.workqueues().engine().cpuPool(0, false);
        Completion done = new Completion(kernel);
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch finished = new CountDownLatch(1);
        AtomicReference<Thread> worker = new AtomicReference<>();
        Work item = new Work(self -> {
            worker.set(Thread.currentThread());
            entered.countDown();
            Waits.await(go, "the test holds the pool lock");
            done.waitForCompletion();   // its sleep hook waits for the pool lock the test holds
            finished.countDown();
        });
        boolean locked = false;
        try {
            assertThat(wq.queueOn(0, item)).isTrue();
            Waits.await(entered, "the item runs");
            pool.lockPool();
            locked = true;
            go.countDown();
            Waits.awaitParkedOn(worker.get(), b -> b instanceof AbstractQueuedSynchronizer);
            done.complete();             // its unpark reaches a thread parked in the lock
            pool.lock.unlock();
            locked = false;
            Waits.await(finished, "the worker woke from its completion");
        } finally {
            if (locked) {
                pool.lock.unlock();
            }
            go.countDown();
            done.completeAll();
            Thread w = worker.get();
            if (w != null) {
                LockSupport.unpark(w);   // a worker whose wake-up was lost re-checks and leaves
            }
        }
        wq.flush();
    }
}
