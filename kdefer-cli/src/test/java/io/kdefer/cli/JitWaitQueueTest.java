package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** The wait queue behind {@code jit queue}, on a manual clock so that only the test's ticks end a timeout. */
class JitWaitQueueTest {
    private ManualClock clock;
    private Kernel kernel;
    private final JitWaitQueue wq = new JitWaitQueue();

    @BeforeEach
    void start() {
        clock = new ManualClock();
        kernel = Kernel.builder().cpus(2).hz(1000).clock(clock).build();
    }

    @AfterEach
    void stop() {
        kernel.close();
    }

    /** A waiter on its own thread; {@link #result} is its return value once it terminated. */
    private final class Waiter extends Thread {
        final AtomicLong result = new AtomicLong(Long.MIN_VALUE);
        final AtomicLong jiffiesAtReturn = new AtomicLong();
        private final BooleanSupplier condition;
        private final long timeout;

        Waiter(BooleanSupplier condition, long timeout) {
            super("jitqueue-waiter");
            this.condition = condition;
            this.timeout = timeout;
        }

        @Override
        public void run() {
            result.set(kernel.workOnCpu(1, () -> wq.waitEventInterruptibleTimeout(kernel, condition, timeout)));
            jiffiesAtReturn.set(kernel.jiffies());
        }

        /** Spins until the waiter sleeps on the queue's monitor (Object.wait). */
        void awaitSleeping() {
            while (getState() != State.WAITING) {
                assertThat(getState()).isNotEqualTo(State.TERMINATED);
                Thread.onSpinWait();
            }
        }
    }

    /**
     * A wake-up after the condition became true ends the wait before the timeout and returns the
     * jiffies left: no tick happened, so all of them. Spec §9.1 (jitqueue's
     * wait_event_interruptible_timeout; no §10 item).
     */
    @Test
    void wakeUpWithConditionTrueReturnsJiffiesLeft() throws InterruptedException {
        AtomicBoolean cond = new AtomicBoolean();
        Waiter w = new Waiter(cond::get, 10);
        w.start();
        w.awaitSleeping();
        cond.set(true);
        wq.wakeUp();
        w.join();
        assertThat(w.result.get()).isEqualTo(10);
    }

    /**
     * A wake-up while the condition is still false makes the waiter check it again and go back to
     * sleep; it does not end the wait. Spec §9.1 (no §10 item).
     */
    @Test
    void wakeUpWithConditionFalseSleepsAgain() throws InterruptedException {
        AtomicBoolean cond = new AtomicBoolean();
        AtomicInteger checks = new AtomicInteger();
        Waiter w = new Waiter(() -> {
            checks.incrementAndGet();
            return cond.get();
        }, 10);
        w.start();
        w.awaitSleeping();
        int before = checks.get();
        wq.wakeUp();
        while (checks.get() == before) {
            Thread.onSpinWait();
        }
        w.awaitSleeping();
        assertThat(w.isAlive()).isTrue();
        cond.set(true);
        wq.wakeUp();
        w.join();
        assertThat(w.result.get()).isEqualTo(10);
    }

    /**
     * With a condition that never comes true, as in jitqueue, only the timeout ends the wait: it
     * returns 0, not before {@code timeout} jiffies passed (its timer fires at the tick after the
     * expiry). Spec §10 item 116.
     */
    @Test
    void timeoutReturnsZeroNotEarly() throws InterruptedException {
        long j0 = kernel.jiffies();
        Waiter w = new Waiter(() -> false, 10);
        w.start();
        w.awaitSleeping();
        int ticks = 0;
        while (w.isAlive()) {
            if (w.getState() == Thread.State.WAITING) {
                clock.tick();
                ticks++;
            } else {
                Thread.onSpinWait();
            }
        }
        w.join();
        assertThat(w.result.get()).isZero();
        assertThat(ticks).isGreaterThanOrEqualTo(10);
        assertThat(w.jiffiesAtReturn.get()).isGreaterThanOrEqualTo(j0 + 10);
    }

    /**
     * An interrupt (the kernel's signal) ends the wait with -ERESTARTSYS and leaves the interrupt
     * status set. Spec §9.1 (no §10 item).
     */
    @Test
    void interruptReturnsErestartsys() throws InterruptedException {
        AtomicBoolean stillInterrupted = new AtomicBoolean();
        AtomicLong result = new AtomicLong();
        Thread t = new Thread(() -> {
            result.set(kernel.workOnCpu(0, () -> wq.waitEventInterruptibleTimeout(kernel, () -> false, 10)));
            stillInterrupted.set(Thread.currentThread().isInterrupted());
        }, "jitqueue-interrupted");
        t.start();
        while (t.getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        t.interrupt();
        t.join();
        assertThat(result.get()).isEqualTo(JitWaitQueue.ERESTARTSYS);
        assertThat(stillInterrupted).isTrue();
    }

    /**
     * The condition is checked before sleeping: already true returns the whole timeout (1 for a
     * zero timeout), and a zero timeout with a false condition returns 0 at once. Spec §9.1.
     */
    @Test
    void fastPaths() {
        assertThat(kernel.workOnCpu(0, () -> wq.waitEventInterruptibleTimeout(kernel, () -> true, 7))).isEqualTo(7);
        assertThat(kernel.workOnCpu(0, () -> wq.waitEventInterruptibleTimeout(kernel, () -> true, 0))).isEqualTo(1);
        assertThat(kernel.workOnCpu(0, () -> wq.waitEventInterruptibleTimeout(kernel, () -> false, 0))).isZero();
    }
}
