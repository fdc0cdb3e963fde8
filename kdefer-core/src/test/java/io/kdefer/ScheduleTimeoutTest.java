package io.kdefer;

import io.kdefer.testkit.KdeferTest;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import io.kdefer.timer.KernelTimer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Kernel#scheduleTimeout} and {@link Kernel#msleep}: a task sleeps on a kernel timer while
 * the test ticks a {@link ManualClock}; the jiffies at return and the returned remainder are
 * exact. Sleeping is refused in atomic context.
 */
@KdeferTest(cpus = 2, hz = 1000)
class ScheduleTimeoutTest {
    private ManualClock clock;
    private Kernel k;
    private final List<Sleeper> sleepers = new ArrayList<>();

    /** The test's kernel: two CPUs, HZ 1000, a manual clock; checked and closed by the extension. */
    @BeforeEach
    void start(Kernel kernel, ManualClock manual) {
        k = kernel;
        clock = manual;
    }

    @AfterEach
    void close() throws InterruptedException {
        try {
            for (Sleeper s : sleepers) {
                s.thread.interrupt();
                for (int i = 0; i < 1000 && s.thread.isAlive(); i++) {
                    clock.tick();              // wakes an uninterruptible sleeper too
                }
                Worker.joinQuietly(s.thread);
            }
        } finally {
            k.close();
        }
    }

    /** A task thread that makes one sleeping call and records what it returned, and when. */
    final class Sleeper {
        interface Call {
            long sleep() throws Exception;
        }

        final Worker thread;
        final AtomicReference<Long> result = new AtomicReference<>();
        final AtomicReference<Long> returnedAt = new AtomicReference<>();
        volatile boolean interruptedAtReturn;

        Sleeper(Call call) {
            thread = new Worker("sleeper", () -> {
                long r = call.sleep();
                returnedAt.set(k.jiffies());
                interruptedAtReturn = Thread.currentThread().isInterrupted();
                result.set(r);
            });
            sleepers.add(this);
            thread.start();
        }

        /** Spins until the sleeper is parked in the kernel's sleep (its blocker is the kernel), or has returned. */
        void awaitAsleepOrDone() {
            Waits.awaitParkedOn(thread, b -> b == k);
        }

        boolean returned() {
            return result.get() != null;
        }

        void join() {
            thread.joinAndCheck();
        }
    }

    /** Ticks one jiffy at a time up to {@code until}, checking after each that the sleeper still sleeps. */
    private void tickWhileAsleep(Sleeper s, long until) {
        while (k.jiffies() - until < 0) {
            clock.tick();
            s.awaitAsleepOrDone();
            assertThat(s.returned()).as("returned early, at jiffies %d", s.returnedAt.get()).isFalse();
        }
    }

    // ---------------------------------------------------------------- scheduleTimeout

    /**
     * {@code scheduleTimeout(10)} arms a timer at {@code jiffies + 10}; it fires (and the task
     * returns, with 0 left) at the tick where jiffies reach {@code start + 11}, not before.
     * Spec §6.8; §10 item 116.
     */
    @Test
    void scheduleTimeoutReturnsZeroWhenTheTimeoutHasPassed() throws Exception {
        long start = k.jiffies();
        Sleeper s = new Sleeper(() -> k.scheduleTimeout(10));
        s.awaitAsleepOrDone();
        tickWhileAsleep(s, start + 10);
        clock.tick();
        s.join();
        assertThat(s.result.get()).isZero();
        assertThat(s.returnedAt.get()).isEqualTo(start + 11);
    }

    /**
     * An interrupt (the kernel's signal) ends {@code scheduleTimeout} early: it returns the
     * jiffies still left (here 100 - 30 = 70) and leaves the interrupt pending, like a pending
     * signal. Its timer is gone: later ticks change nothing. Spec §6.8.
     */
    @Test
    void interruptEndsScheduleTimeoutWithTheRemainingJiffies() throws Exception {
        long start = k.jiffies();
        Sleeper s = new Sleeper(() -> k.scheduleTimeout(100));
        s.awaitAsleepOrDone();
        tickWhileAsleep(s, start + 30);
        s.thread.interrupt();
        s.join();
        assertThat(s.result.get()).isEqualTo(70);
        assertThat(s.returnedAt.get()).isEqualTo(start + 30);
        assertThat(s.interruptedAtReturn).isTrue();
        clock.tick(100);
        assertThat(k.stats().errors()).isZero();
    }

    /**
     * A task whose interrupt is already pending does not sleep: {@code scheduleTimeout} returns
     * the whole timeout at once. Spec §6.8.
     */
    @Test
    void pendingInterruptReturnsTheWholeTimeoutAtOnce() throws Exception {
        Sleeper s = new Sleeper(() -> {
            Thread.currentThread().interrupt();
            return k.scheduleTimeout(25);
        });
        s.join();
        assertThat(s.result.get()).isEqualTo(25);
        assertThat(s.interruptedAtReturn).isTrue();
    }

    /**
     * {@code scheduleTimeout(MAX_SCHEDULE_TIMEOUT)} sleeps through any number of ticks until
     * interrupted, and then returns {@code MAX_SCHEDULE_TIMEOUT}. Spec §6.8, §11.1.
     */
    @Test
    void maxScheduleTimeoutSleepsUntilInterrupted() throws Exception {
        long start = k.jiffies();
        Sleeper s = new Sleeper(() -> k.scheduleTimeout(Jiffies.MAX_SCHEDULE_TIMEOUT));
        s.awaitAsleepOrDone();
        tickWhileAsleep(s, start + 200);
        s.thread.interrupt();
        s.join();
        assertThat(s.result.get()).isEqualTo(Long.MAX_VALUE);
    }

    // ---------------------------------------------------------------- msleep

    /**
     * {@code msleep(10)} at HZ 1000 sleeps {@code msecs_to_jiffies(10) + 1 = 11} jiffies: its
     * timer expires at {@code start + 11} and the task returns at the tick that reaches
     * {@code start + 12}. Spec §6.8.
     */
    @Test
    void msleepSleepsMsecsToJiffiesPlusOne() throws Exception {
        long start = k.jiffies();
        Sleeper s = new Sleeper(() -> {
            k.msleep(10);
            return 0;
        });
        s.awaitAsleepOrDone();
        tickWhileAsleep(s, start + 11);
        clock.tick();
        s.join();
        assertThat(s.returnedAt.get()).isEqualTo(start + 12);
    }

    /**
     * {@code msleep} is uninterruptible: an interrupt does not shorten it (the task still returns
     * at {@code start + 12} for 10 ms) and is still pending afterwards. Spec §6.8.
     */
    @Test
    void msleepIgnoresInterrupts() throws Exception {
        long start = k.jiffies();
        Sleeper s = new Sleeper(() -> {
            k.msleep(10);
            return 0;
        });
        s.awaitAsleepOrDone();
        clock.tick(3);
        s.thread.interrupt();
        while (k.jiffies() - (start + 11) < 0) {
            clock.tick();
            assertThat(s.returned()).isFalse();
        }
        clock.tick();
        s.join();
        assertThat(s.returnedAt.get()).isEqualTo(start + 12);
        assertThat(s.interruptedAtReturn).isTrue();
    }

    /**
     * At HZ 100, {@code msleep(15)} is {@code 2 + 1} jiffies: it returns at {@code start + 4}.
     * Spec §6.8.
     */
    @Test
    void msleepAtHz100() throws Exception {
        ManualClock c100 = new ManualClock();
        try (Kernel k100 = TestKernels.track(Kernel.builder().cpus(1).hz(100).clock(c100).build())) {
            long start = k100.jiffies();
            AtomicReference<Long> at = new AtomicReference<>();
            Worker t = Worker.start("sleeper100", () -> {
                k100.msleep(15);
                at.set(k100.jiffies());
            });
            try {
                Waits.awaitParkedOn(t, b -> b == k100);
                c100.tick(3);
                assertThat(at.get()).isNull();
                c100.tick();
            } finally {
                Worker.joinQuietly(t);
            }
            t.joinAndCheck();
            assertThat(at.get()).isEqualTo(start + 4);
        }
    }

    // ---------------------------------------------------------------- atomic context

    /**
     * Sleeping is refused in atomic context: inside {@code localBhDisable()}, in a timer callback
     * (softirq) and in hardirq context, {@code scheduleTimeout} and {@code msleep} throw
     * {@link IllegalStateException} naming the rule. Spec §1.2, §6.8.
     */
    @Test
    void sleepingIsRefusedInAtomicContext() {
        k.localBhDisable();
        try {
            assertThatThrownBy(() -> k.scheduleTimeout(5))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");
            assertThatThrownBy(() -> k.msleep(5))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");
        } finally {
            k.localBhEnable();
        }

        AtomicReference<Throwable> inTimer = new AtomicReference<>();
        KernelTimer t = KernelTimer.setup(k, self -> {
            try {
                k.msleep(1);
            } catch (Throwable e) {
                inTimer.set(e);
            }
        });
        t.mod(k.jiffies() + 1);
        clock.tick(3);
        assertThat(inTimer.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");

        assertThatThrownBy(() -> k.smpCallFunctionSingle(1, () -> k.scheduleTimeout(1), true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");
        assertThat(k.stats().errors()).isZero();
    }
}
