package io.kdefer.wait;

import io.kdefer.timer.KernelTimer;
import io.kdefer.wait.WaitHarness.Waiter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Completion} ({@code kernel/sched/completion.c}) on a {@code ManualClock} kernel: the count,
 * FIFO release, {@code complete_all} until {@code reinit}, timeouts on the timer wheel, interrupts
 * for signals, and the refusal to sleep in atomic context. The spec has no §10 item for
 * completions; timeouts follow §6.8 ({@code schedule_timeout}) and item 116.
 */
class CompletionTest {
    private final WaitHarness h = new WaitHarness(2);
    private final Completion c = new Completion(h.kernel);

    @AfterEach
    void close() throws InterruptedException {
        h.close();
    }

    // ---------------------------------------------------------------- the count

    /**
     * {@code complete()} before anyone waits is remembered: each one lets exactly one later wait
     * return at once, without sleeping (no sleep hooks called).
     */
    @Test
    void completeBeforeWaitLetsOneWaitReturnAtOnce() throws InterruptedException {
        c.complete();
        c.complete();
        assertThat(c.completionDone()).isTrue();
        assertThat(c.doneCount()).isEqualTo(2);

        Waiter w = h.start("waiter", () -> {
            c.waitForCompletion();
            return c.waitForCompletionTimeout(5);
        });
        assertThat(w.join()).as("a timed wait on a done completion returns the whole timeout").isEqualTo(5);
        assertThat(w.hooks.events()).isEmpty();
        assertThat(c.completionDone()).isFalse();
        assertThat(c.tryWaitForCompletion()).isFalse();
    }

    /** {@code tryWaitForCompletion()} consumes one event if there is one and never waits. */
    @Test
    void tryWaitConsumesOneEvent() {
        assertThat(c.tryWaitForCompletion()).isFalse();
        c.complete();
        assertThat(c.tryWaitForCompletion()).isTrue();
        assertThat(c.tryWaitForCompletion()).isFalse();
        assertThat(c.completionDone()).isFalse();
    }

    /**
     * A zero timeout is a try: 1 (success, "timeout ?: 1") when done, 0 when not, without sleeping.
     */
    @Test
    void zeroTimeoutIsATry() {
        assertThat(c.waitForCompletionTimeout(0)).isZero();
        c.complete();
        assertThat(c.waitForCompletionTimeout(0)).isEqualTo(1);
        assertThat(c.completionDone()).isFalse();
    }

    /**
     * Waiters queued on the completion are released one per {@code complete()}, in the order they
     * started waiting (the kernel's swait queue is FIFO).
     */
    @Test
    void completeReleasesWaitersInFifoOrder() throws InterruptedException {
        Waiter a = h.start("a", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        Waiter b = h.start("b", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        Waiter d = h.start("d", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        assertThat(c.queuedWaiters()).isEqualTo(3);

        c.complete();
        a.join();
        assertThat(c.queuedWaiters()).as("b and d still queued").isEqualTo(2);
        assertThat(b.ended() || d.ended()).isFalse();

        c.complete();
        b.join();
        assertThat(c.queuedWaiters()).isEqualTo(1);
        assertThat(d.ended()).isFalse();

        c.complete();
        d.join();
        assertThat(c.doneCount()).as("every event went to a waiter").isZero();
        assertThat(c.completionDone()).isFalse();
    }

    /**
     * {@code completeAll()} releases every current waiter and every later wait, which no longer
     * consumes anything, until {@code reinit()} makes the completion not done again.
     */
    @Test
    void completeAllReleasesCurrentAndFutureWaitersUntilReinit() throws InterruptedException {
        Waiter a = h.start("a", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        Waiter b = h.start("b", () -> c.waitForCompletionTimeout(100)).awaitParkedOn(c);
        c.completeAll();
        a.join();
        assertThat(b.join()).as("no tick happened: all 100 jiffies left").isEqualTo(100);

        assertThat(c.doneCount()).isEqualTo(Completion.UINT_MAX);
        for (int i = 0; i < 3; i++) {
            c.waitForCompletion();
            assertThat(c.tryWaitForCompletion()).isTrue();
        }
        c.complete();
        assertThat(c.doneCount()).as("complete() does not count past UINT_MAX").isEqualTo(Completion.UINT_MAX);
        assertThat(c.completionDone()).isTrue();

        c.reinit();
        assertThat(c.completionDone()).isFalse();
        assertThat(c.tryWaitForCompletion()).isFalse();
        assertThat(c.waitForCompletionTimeout(0)).isZero();
    }

    /**
     * The count saturates like the kernel's {@code unsigned int}: {@code complete()} at
     * {@code UINT_MAX - 1} reaches {@code UINT_MAX}, which behaves as {@code complete_all}.
     */
    @Test
    void countSaturatesAtUintMax() {
        Completion nearlyFull = new Completion(h.kernel, Completion.UINT_MAX - 1);
        nearlyFull.complete();
        assertThat(nearlyFull.doneCount()).isEqualTo(Completion.UINT_MAX);
        nearlyFull.complete();
        nearlyFull.waitForCompletion();
        assertThat(nearlyFull.doneCount()).isEqualTo(Completion.UINT_MAX);
    }

    // ---------------------------------------------------------------- timeouts

    /**
     * {@code waitForCompletionTimeout(10)} arms a timer at {@code start + 10}; with nothing
     * completing it, the wait returns 0 at the tick where that timer fires ({@code start + 11}),
     * not before, and leaves no waiter queued. Spec §6.8; §10 item 116.
     */
    @Test
    void timeoutReturnsZeroWhenTheTimerFires() throws InterruptedException {
        long start = h.kernel.jiffies();
        Waiter w = h.start("timed", () -> c.waitForCompletionTimeout(10)).awaitParkedOn(c);
        h.tickWhileAsleep(w, c, start + 10);
        h.clock.tick();
        assertThat(w.join()).isZero();
        assertThat(w.returnedAt).isEqualTo(start + 11);
        assertThat(c.queuedWaiters()).isZero();
        c.complete();
        assertThat(c.doneCount()).as("a later complete() is not lost to the departed waiter").isEqualTo(1);
    }

    /**
     * A completion before the timeout ends the wait with the jiffies left: 10 - 3 = 7 after three
     * ticks. Spec §6.8.
     */
    @Test
    void completeBeforeTimeoutReturnsJiffiesLeft() throws InterruptedException {
        long start = h.kernel.jiffies();
        Waiter w = h.start("timed", () -> c.waitForCompletionTimeout(10)).awaitParkedOn(c);
        h.tickWhileAsleep(w, c, start + 3);
        c.complete();
        assertThat(w.join()).isEqualTo(7);
        assertThat(w.returnedAt).isEqualTo(start + 3);
        assertThat(c.doneCount()).isZero();
    }

    /** A negative timeout is an argument error, as {@code schedule_timeout}'s. */
    @Test
    void negativeTimeoutIsRefused() {
        assertThatThrownBy(() -> c.waitForCompletionTimeout(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative timeout");
    }

    // ---------------------------------------------------------------- interrupts

    /**
     * {@code waitForCompletion()} is uninterruptible: an interrupt does not end it; it returns when
     * completed, with the interrupt re-asserted.
     */
    @Test
    void uninterruptibleWaitKeepsWaitingAndReassertsTheInterrupt() throws InterruptedException {
        Waiter w = h.start("uninterruptible", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        w.thread.interrupt();
        w.awaitParkedOn(c);   // it swallowed the interrupt and parked again
        assertThat(w.ended()).isFalse();
        assertThat(c.queuedWaiters()).isEqualTo(1);
        c.complete();
        w.join();
        assertThat(w.interruptedAtReturn).isTrue();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");
    }

    /**
     * {@code waitForCompletionInterruptible()} ends with {@link InterruptedException} (the kernel's
     * {@code -ERESTARTSYS}) when interrupted, clears the interrupt status and leaves the queue; the
     * next {@code complete()} is counted for a later wait.
     */
    @Test
    void interruptibleWaitThrowsOnInterrupt() throws InterruptedException {
        Waiter w = h.start("interruptible", () -> { c.waitForCompletionInterruptible(); return 0; }).awaitParkedOn(c);
        w.thread.interrupt();
        assertThat(w.joinFailure()).isInstanceOf(InterruptedException.class).hasMessageContaining("Completion@");
        assertThat(w.interruptedAtReturn).isFalse();
        assertThat(c.queuedWaiters()).isZero();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");
        c.complete();
        assertThat(c.completionDone()).isTrue();
    }

    /**
     * As in the kernel, the event wins over a pending signal: an interruptible wait on a done
     * completion succeeds and leaves the interrupt pending; on a not-done one it throws at once.
     */
    @Test
    void pendingInterruptLosesToADoneCompletion() throws InterruptedException {
        c.complete();
        Waiter done = h.start("done", () -> {
            Thread.currentThread().interrupt();
            return c.waitForCompletionInterruptibleTimeout(9);
        });
        assertThat(done.join()).isEqualTo(9);
        assertThat(done.interruptedAtReturn).isTrue();

        Waiter notDone = h.start("not-done", () -> {
            Thread.currentThread().interrupt();
            c.waitForCompletionInterruptible();
            return 0;
        });
        assertThat(notDone.joinFailure()).isInstanceOf(InterruptedException.class);
        assertThat(notDone.hooks.events()).as("it never slept").isEmpty();
    }

    // ---------------------------------------------------------------- context

    /**
     * Waiting is refused in atomic context (bottom halves disabled, a timer callback in softirq
     * context, hardirq context) with {@link IllegalStateException} naming the call, the completion
     * and the rule, even when the completion is done; {@code complete()}, {@code tryWaitForCompletion()}
     * and {@code completionDone()} work in hardirq context. Spec §1.2.
     */
    @Test
    void waitingIsRefusedInAtomicContext() {
        c.complete();
        h.kernel.localBhDisable();
        try {
            assertThatThrownBy(c::waitForCompletion).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("wait_for_completion()").hasMessageContaining("Completion@")
                    .hasMessageContaining("atomic context");
        } finally {
            h.kernel.localBhEnable();
        }

        AtomicReference<Throwable> inTimer = new AtomicReference<>();
        KernelTimer t = KernelTimer.setup(h.kernel, self -> {
            try {
                c.waitForCompletionTimeout(1);
            } catch (Throwable e) {
                inTimer.set(e);
            }
        });
        t.mod(h.kernel.jiffies() + 1);
        h.clock.tick(3);
        assertThat(inTimer.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("wait_for_completion_timeout()").hasMessageContaining("atomic context");

        assertThatThrownBy(() -> h.kernel.smpCallFunctionSingle(1, () -> {
            try {
                c.waitForCompletionInterruptible();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }, true)).isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");
        assertThat(c.doneCount()).as("no refused wait consumed the event").isEqualTo(1);

        h.kernel.smpCallFunctionSingle(1, () -> {
            assertThat(c.tryWaitForCompletion()).isTrue();
            assertThat(c.completionDone()).isFalse();
            c.complete();
            c.complete();
        }, true);
        assertThat(c.doneCount()).isEqualTo(2);
    }

    /** A waiter is released by a {@code complete()} from hardirq context on another CPU. */
    @Test
    void completeFromHardirqReleasesAWaiter() throws InterruptedException {
        Waiter w = h.start("waiter", () -> { c.waitForCompletion(); return 0; }).awaitParkedOn(c);
        h.kernel.smpCallFunctionSingle(1, c::complete, true);
        w.join();
        assertThat(w.hooks.events()).containsExactly("sleeping", "running");
    }
}
