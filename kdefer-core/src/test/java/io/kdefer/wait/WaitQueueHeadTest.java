package io.kdefer.wait;

import io.kdefer.testkit.Waits;
import io.kdefer.wait.WaitHarness.Waiter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link WaitQueueHead} ({@code include/linux/wait.h}) on a {@code ManualClock} kernel: the
 * {@code wait_event*} return conventions, wake-ups that re-check conditions, timeouts on the timer
 * wheel, interrupts for signals, and the refusal to sleep in atomic context. LDD3's
 * {@code /proc/jitqueue} (spec §9.1) is the {@code waitEventInterruptibleTimeout} with a condition
 * that is never true; there is no §10 item for wait queues, timeouts follow §6.8 and item 116.
 */
class WaitQueueHeadTest {
    private final WaitHarness h = new WaitHarness(2);
    private final WaitQueueHead wq = new WaitQueueHead(h.kernel);

    @AfterEach
    void close() throws InterruptedException {
        h.close();
    }

    /**
     * The condition is checked before anything else: already true, a timed wait returns the whole
     * timeout (1 for a zero timeout); a zero timeout with a false condition returns 0 at once. None
     * of them sleeps. Spec §9.1.
     */
    @Test
    void fastPaths() throws InterruptedException {
        Waiter w = h.start("fast", () -> {
            assertThat(wq.waitEventTimeout(() -> true, 7)).isEqualTo(7);
            assertThat(wq.waitEventInterruptibleTimeout(() -> true, 0)).isEqualTo(1);
            assertThat(wq.waitEventTimeout(() -> false, 0)).isZero();
            wq.waitEvent(() -> true);
            wq.waitEventInterruptible(() -> true);
            return 0;
        });
        w.join();
        assertThat(w.hooks.events()).isEmpty();
        assertThat(wq.waitqueueActive()).isFalse();
    }

    /**
     * A wake-up after the condition became true ends the wait before the timeout and returns the
     * jiffies left: no tick happened, so all of them. Spec §9.1.
     */
    @Test
    void wakeUpWithConditionTrueReturnsJiffiesLeft() throws InterruptedException {
        AtomicBoolean cond = new AtomicBoolean();
        Waiter w = h.start("waiter", () -> wq.waitEventInterruptibleTimeout(cond::get, 10)).awaitParkedOn(wq);
        assertThat(wq.waitqueueActive()).isTrue();
        cond.set(true);
        wq.wakeUp();
        assertThat(w.join()).isEqualTo(10);
        assertThat(wq.waitqueueActive()).isFalse();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");
    }

    /**
     * A wake-up while the condition is still false makes the waiter check it again and go back to
     * sleep (registered again); it does not end the wait. Spec §9.1.
     */
    @Test
    void wakeUpWithConditionFalseSleepsAgain() throws InterruptedException {
        AtomicBoolean cond = new AtomicBoolean();
        AtomicInteger checks = new AtomicInteger();
        Waiter w = h.start("waiter", () -> {
            wq.waitEvent(() -> {
                checks.incrementAndGet();
                return cond.get();
            });
            return 0;
        }).awaitParkedOn(wq);
        int before = checks.get();
        wq.wakeUp();
        Waits.spinUntil(() -> checks.get() > before && wq.waitqueueActive(),
                "the waiter re-checked and registered again");
        w.awaitParkedOn(wq);
        assertThat(w.ended()).isFalse();
        cond.set(true);
        wq.wakeUpAll();
        w.join();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");
    }

    /**
     * With a condition that never comes true, as in jitqueue, only the timeout ends the wait: it
     * returns 0 at the tick where its timer fires ({@code start + 11} for 10 jiffies), not before.
     * Spec §9.1, §6.8; §10 item 116.
     */
    @Test
    void timeoutReturnsZeroNotEarly() throws InterruptedException {
        long start = h.kernel.jiffies();
        Waiter w = h.start("jitqueue", () -> wq.waitEventInterruptibleTimeout(() -> false, 10)).awaitParkedOn(wq);
        h.tickWhileAsleep(w, wq, start + 10);
        h.clock.tick();
        assertThat(w.join()).isZero();
        assertThat(w.returnedAt).isEqualTo(start + 11);
        assertThat(wq.waitqueueActive()).isFalse();
    }

    /**
     * A condition that is true when the timeout elapses (nobody called {@code wakeUp()}; the timer
     * woke the waiter) returns 1, the kernel's "condition true at timeout". Spec §6.8.
     */
    @Test
    void conditionTrueAtTimeoutReturnsOne() throws InterruptedException {
        long start = h.kernel.jiffies();
        AtomicBoolean cond = new AtomicBoolean();
        Waiter w = h.start("waiter", () -> wq.waitEventTimeout(cond::get, 5)).awaitParkedOn(wq);
        h.tickWhileAsleep(w, wq, start + 5);
        cond.set(true);   // no wake-up: only the timer will make it look
        h.clock.tick();
        assertThat(w.join()).isEqualTo(1);
        assertThat(w.returnedAt).isEqualTo(start + 6);
    }

    /**
     * {@code wakeUp()} wakes every (non-exclusive) waiter; each returns only if its own condition
     * holds.
     */
    @Test
    void wakeUpWakesEveryWaiterAndEachChecksItsOwnCondition() throws InterruptedException {
        AtomicBoolean first = new AtomicBoolean();
        AtomicBoolean second = new AtomicBoolean();
        Waiter a = h.start("a", () -> { wq.waitEvent(first::get); return 0; }).awaitParkedOn(wq);
        Waiter b = h.start("b", () -> { wq.waitEvent(second::get); return 0; }).awaitParkedOn(wq);
        first.set(true);
        wq.wakeUp();
        a.join();
        Waits.spinUntil(wq::waitqueueActive, "b registered again");
        b.awaitParkedOn(wq);
        assertThat(b.ended()).isFalse();
        second.set(true);
        wq.wakeUp();
        b.join();
    }

    /**
     * The plain waits are uninterruptible: an interrupt does not end them; the wait returns when the
     * condition holds, with the interrupt re-asserted.
     */
    @Test
    void uninterruptibleWaitReassertsTheInterrupt() throws InterruptedException {
        AtomicBoolean cond = new AtomicBoolean();
        Waiter w = h.start("uninterruptible", () -> { wq.waitEvent(cond::get); return 0; }).awaitParkedOn(wq);
        w.thread.interrupt();
        w.awaitParkedOn(wq);
        assertThat(w.ended()).isFalse();
        cond.set(true);
        wq.wakeUp();
        w.join();
        assertThat(w.interruptedAtReturn).isTrue();
    }

    /**
     * An interrupt (the kernel's signal) ends an interruptible wait with
     * {@link InterruptedException} in place of {@code -ERESTARTSYS}, and clears the interrupt status.
     * Spec §9.1.
     */
    @Test
    void interruptEndsAnInterruptibleWait() throws InterruptedException {
        Waiter w = h.start("interruptible", () -> wq.waitEventInterruptibleTimeout(() -> false, 10)).awaitParkedOn(wq);
        w.thread.interrupt();
        assertThat(w.joinFailure()).isInstanceOf(InterruptedException.class).hasMessageContaining("WaitQueueHead@");
        assertThat(w.interruptedAtReturn).isFalse();
        assertThat(wq.waitqueueActive()).isFalse();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");

        Waiter untimed = h.start("untimed", () -> { wq.waitEventInterruptible(() -> false); return 0; }).awaitParkedOn(wq);
        untimed.thread.interrupt();
        assertThat(untimed.joinFailure()).isInstanceOf(InterruptedException.class);
    }

    /**
     * As in {@code ___wait_event}, a true condition wins over a pending interrupt: the wait returns
     * normally and the interrupt stays pending.
     */
    @Test
    void trueConditionWinsOverPendingInterrupt() throws InterruptedException {
        Waiter w = h.start("pending", () -> {
            Thread.currentThread().interrupt();
            return wq.waitEventInterruptibleTimeout(() -> true, 4);
        });
        assertThat(w.join()).isEqualTo(4);
        assertThat(w.interruptedAtReturn).isTrue();
    }

    /**
     * Waiting is refused in atomic context with {@link IllegalStateException} naming the call, the
     * queue and the rule; {@code wakeUp()} works in hardirq context. A negative timeout is an
     * argument error. Spec §1.2.
     */
    @Test
    void misuse() {
        h.kernel.localBhDisable();
        try {
            assertThatThrownBy(() -> wq.waitEvent(() -> true)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("wait_event()").hasMessageContaining("WaitQueueHead@")
                    .hasMessageContaining("atomic context");
        } finally {
            h.kernel.localBhEnable();
        }
        assertThatThrownBy(() -> h.kernel.smpCallFunctionSingle(0, () -> wq.waitEventTimeout(() -> true, 1), true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("wait_event_timeout()")
                .hasMessageContaining("atomic context");
        h.kernel.smpCallFunctionSingle(0, wq::wakeUp, true);
        assertThatThrownBy(() -> wq.waitEventTimeout(() -> false, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative timeout");
    }

    /** A waiter is woken by a {@code wakeUp()} from hardirq context on another CPU. */
    @Test
    void wakeUpFromHardirqEndsAWait() throws InterruptedException {
        AtomicBoolean cond = new AtomicBoolean();
        Waiter w = h.start("waiter", () -> { wq.waitEvent(cond::get); return 0; }).awaitParkedOn(wq);
        h.kernel.smpCallFunctionSingle(1, () -> {
            cond.set(true);
            wq.wakeUp();
        }, true);
        w.join();
    }
}
