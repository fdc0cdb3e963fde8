package io.kdefer;

import io.kdefer.tasklet.Tasklet;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.KernelInvariants;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelCheck}'s quiet rules, on states a test can make without corrupting anything, and
 * the testkit's extension as kdefer-core's tests get it: registered for every test class by
 * auto-detection (this class names no extension), a fresh manual-clock kernel per test, checked
 * and closed after it.
 */
class KernelCheckTest {

    /** The parameters resolve without {@code @ExtendWith}: the extension is registered for every core test. */
    @Test
    void everyCoreTestGetsTheExtension(Kernel k, ManualClock clock, CollectingErrors errors) {
        assertThat(k.clock()).isSameAs(clock);
        assertThat(k.nrCpus()).isEqualTo(2);
        long j = k.jiffies();
        clock.tick();
        assertThat(k.jiffies()).isEqualTo(j + 1);
        assertThat(KernelInvariants.whenQuiet(k)).isEmpty();
        assertThat(errors.reports()).isEmpty();
    }

    /**
     * Inside {@code localBhDisable()} with a tasklet scheduled, the kernel is not quiet: its CPU's
     * bottom halves have an owner and TASKLET is pending. Both are named; after the section, the
     * tasklet has run and every rule holds.
     */
    @Test
    void aBottomHalfOwnerAndAPendingSoftirqAreReported(Kernel k) {
        AtomicInteger runs = new AtomicInteger();
        Tasklet t = Tasklet.setup(k, self -> runs.incrementAndGet());
        k.runOnCpu(0, () -> {
            k.localBhDisable();
            try {
                t.schedule();
                assertThat(KernelCheck.violations(k, true)).contains(
                        "cpu 0: softirq TASKLET pending (rule: a quiet kernel has no softirq pending)",
                        "cpu 0: bottom halves owned by " + Thread.currentThread().getName()
                                + " (rule: a quiet kernel has no bottom-half owner)");
                assertThat(KernelCheck.violations(k, false)).as("the rules that hold at any time").isEmpty();
            } finally {
                k.localBhEnable();
            }
            return null;
        });
        assertThat(runs).hasValue(1);
        assertThat(KernelInvariants.whenQuiet(k)).isEmpty();
    }

    /** A thread waiting in {@code disable()} for a running callback is a waiter on the wait queue. */
    @Test
    void aWaiterOnTheWaitQueueIsReported(Kernel k) {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Tasklet t = Tasklet.setup(k, self -> {
            entered.countDown();
            Waits.await(release);
        });
        Worker disabler = null;
        try {
            k.smpCallFunctionSingle(0, t::schedule, false);
            Waits.await(entered, "the callback runs");
            disabler = Worker.start("disabler", t::disable);
            Waits.awaitWaiting(disabler);
            assertThat(KernelCheck.violations(k, true))
                    .contains("wait queue: 1 thread(s) waiting (rule: a quiet kernel has no waiter)");
        } finally {
            release.countDown();
            Worker.joinQuietly(disabler);
        }
        disabler.joinAndCheck();
        t.enable();
        assertThat(KernelInvariants.whenQuiet(k)).isEmpty();
    }

    /** A test that expects a callback error takes it; the extension then passes the test. */
    @Test
    void errorsATestTakesDoNotFailIt(Kernel k, CollectingErrors errors) {
        IllegalStateException boom = new IllegalStateException("boom");
        Tasklet t = Tasklet.setup(k, self -> {
            throw boom;
        });
        k.smpCallFunctionSingle(0, t::schedule, true);
        assertThat(errors.take()).singleElement().satisfies(r -> assertThat(r.error()).isSameAs(boom));
    }
}
