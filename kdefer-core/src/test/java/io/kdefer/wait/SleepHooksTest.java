package io.kdefer.wait;

import io.kdefer.internal.KThread;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.TaskSleep;
import io.kdefer.internal.WaitQueue;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;
import io.kdefer.testkit.Waits;
import io.kdefer.wait.WaitHarness.RecordingHooks;
import io.kdefer.wait.WaitHarness.Waiter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sleep/wake hooks ({@code wq_worker_sleeping} / {@code wq_worker_running}, spec §5.2) that a
 * worker pool needs to count its running workers: every kdefer blocking helper calls
 * {@code sleeping} before its thread parks and {@code running} when it wakes to return, in pairs,
 * and a call that does not park calls neither. Concurrency management (§10 items 86-92, item 87
 * in particular) builds on them; these tests check the hooks alone.
 */
class SleepHooksTest {
    private final WaitHarness h = new WaitHarness(2);

    @AfterEach
    void close() throws InterruptedException {
        h.close();
    }

    /**
     * Sleeping/running pairs, in order. A timed sleep whose timer fired may add a second pair: its
     * {@code timer_delete_sync} can wait for the callback that woke it, and that wait is a sleep too.
     */
    private static void assertPairs(List<String> events) {
        assertThat(events).isNotEmpty();
        assertThat(events.size() % 2).as("pairs: %s", events).isZero();
        for (int i = 0; i < events.size(); i++) {
            assertThat(events.get(i)).as("event %d of %s", i, events).isEqualTo(i % 2 == 0 ? "sleeping" : "running");
        }
    }

    /** While a waiter sleeps its hooks saw exactly {@code sleeping}; after it returns, one pair. */
    @Test
    void internalWaitQueueAwait() throws InterruptedException {
        WaitQueue q = Secrets.runtime(h.kernel).waitQueue();
        Object key = new Object();
        AtomicBoolean done = new AtomicBoolean();
        Waiter w = h.start("await", () -> {
            q.await(key, done::get);
            return 0;
        }).awaitParkedOn(q);
        assertThat(w.hooks.events()).containsExactly("sleeping");
        done.set(true);
        q.wakeAll(key);
        w.join();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");
    }

    /** {@code scheduleTimeout} and {@code msleep}: one pair per sleep, ended by the timer. Spec §6.8. */
    @Test
    void scheduleTimeoutAndMsleep() throws InterruptedException {
        long start = h.kernel.jiffies();
        Waiter st = h.start("schedule_timeout", () -> h.kernel.scheduleTimeout(5)).awaitParkedOn(h.kernel);
        assertThat(st.hooks.events()).containsExactly("sleeping");
        h.tickWhileAsleep(st, h.kernel, start + 5);
        h.clock.tick();   // the timer at start + 5 fires at the tick that reaches start + 6
        assertThat(st.join()).isZero();
        assertPairs(st.hooks.events());

        long start2 = h.kernel.jiffies();
        Waiter ms = h.start("msleep", () -> {
            h.kernel.msleep(2);
            return 0;
        }).awaitParkedOn(h.kernel);
        assertThat(ms.hooks.events()).containsExactly("sleeping");
        h.tickWhileAsleep(ms, h.kernel, start2 + 3);   // msleep(2): 2 + 1 jiffies
        h.clock.tick();
        ms.join();
        assertThat(ms.returnedAt).isEqualTo(start2 + 4);
        assertPairs(ms.hooks.events());
    }

    /** The completion waits, ended by {@code complete()} or by the timeout. */
    @Test
    void completionWaits() throws InterruptedException {
        Completion c = new Completion(h.kernel);
        Waiter w = h.start("wait_for_completion", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        assertThat(w.hooks.events()).containsExactly("sleeping");
        c.complete();
        w.join();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");

        long start = h.kernel.jiffies();
        Waiter t = h.start("timeout", () -> c.waitForCompletionTimeout(2)).awaitParkedOn(c);
        h.tickWhileAsleep(t, c, start + 2);
        h.clock.tick();
        assertThat(t.join()).isZero();
        assertPairs(t.hooks.events());
    }

    /** The wait-queue-head waits, ended by {@code wakeUp()} or by the timeout. */
    @Test
    void waitQueueHeadWaits() throws InterruptedException {
        WaitQueueHead wq = new WaitQueueHead(h.kernel);
        AtomicBoolean cond = new AtomicBoolean();
        Waiter w = h.start("wait_event", () -> { wq.waitEventInterruptible(cond::get); return 0; }).awaitParkedOn(wq);
        assertThat(w.hooks.events()).containsExactly("sleeping");
        cond.set(true);
        wq.wakeUp();
        w.join();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");

        long start = h.kernel.jiffies();
        Waiter t = h.start("timeout", () -> wq.waitEventTimeout(() -> false, 2)).awaitParkedOn(wq);
        h.tickWhileAsleep(t, wq, start + 2);
        h.clock.tick();
        assertThat(t.join()).isZero();
        assertPairs(t.hooks.events());
    }

    /**
     * A kdefer thread carries its hooks in a field: a threaded interrupt handler ({@code irq/N-name},
     * task context) installs hooks and waits for a completion; they see one pair.
     */
    @Test
    void kdeferThreadCarriesItsHooks() throws Exception {
        Completion c = new Completion(h.kernel);
        RecordingHooks hooks = new RecordingHooks();
        AtomicReference<Thread> irqThread = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(1);
        Irqs irqs = h.kernel.irqs();
        Object dev = new Object();
        irqs.requestThreadedIrq(9, (irq, d) -> IrqReturn.WAKE_THREAD, (irq, d) -> {
            try {
                irqThread.set(Thread.currentThread());
                TaskSleep.setHooks(hooks);
                c.waitForCompletion();
                TaskSleep.setHooks(null);
            } catch (Throwable e) {
                failure.set(e);
            } finally {
                finished.countDown();
            }
            return IrqReturn.HANDLED;
        }, "hooks", dev);
        irqs.raise(9);
        Waits.spinUntil(() -> irqThread.get() != null, "the irq thread ran");
        Thread t = irqThread.get();
        assertThat(t).isInstanceOf(KThread.class);
        Waits.spinUntil(() -> t.getState() == Thread.State.WAITING
                && LockSupport.getBlocker(t) == c, "the irq thread waits on the completion");
        assertThat(((KThread) t).sleepHooks()).isSameAs(hooks);
        assertThat(hooks.events()).containsExactly("sleeping");
        c.complete();
        Waits.await(finished, "the thread function returned");
        assertThat(failure.get()).isNull();
        assertThat(hooks.events()).containsExactly("sleeping", "running");
        irqs.freeIrq(9, dev);
    }
}
