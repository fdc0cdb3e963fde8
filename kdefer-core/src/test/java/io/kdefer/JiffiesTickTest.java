package io.kdefer;

import io.kdefer.testkit.Waits;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.internal.JiffiesTick;
import io.kdefer.internal.Secrets;
import io.kdefer.softirq.SoftirqVector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code tick} thread that keeps the copy of {@code jiffies} the softirq loop's restart test
 * reads (spec §2.2 step 3, {@code time_before(jiffies, end)}), for kernels on the system clock.
 */
class JiffiesTickTest {
    private CollectingErrors errors;
    private Kernel kernel;

    @BeforeEach
    void newKernel() {
        errors = new CollectingErrors();
        kernel = TestKernels.track(Kernel.builder().cpus(1).hz(1000).errorHandler(errors).build());
    }

    @AfterEach
    void closeKernel() {
        kernel.close();
        errors.assertNone();
    }

    private JiffiesTick tick() {
        JiffiesTick tick = Secrets.runtime(kernel).tick;
        assertThat(tick).as("a system-clock kernel keeps a tick").isNotNull();
        return tick;
    }

    /**
     * The copy the loop counts its budget in is never ahead of the clock's jiffies read after it.
     * Spec §10.1 item 5.
     */
    @Test
    void theCopyIsNeverAheadOfTheClock() {
        JiffiesTick tick = tick();
        for (int i = 0; i < 200_000; i++) {
            long copy = (i & 1) == 0 ? tick.jiffies() : tick.peek();
            long clock = kernel.jiffies();
            assertThat(Jiffies.timeAfter(copy, clock)).as("copy %d ahead of the clock %d", copy, clock).isFalse();
        }
    }

    /**
     * A tick thread that is not scheduled (here: never started) leaves the copy behind the clock;
     * a {@code jiffies} read by a callback ({@link JiffiesTick#observe}, which
     * {@link Kernel#jiffies()} calls) moves it up, so the loop's budget and what its callbacks read
     * agree, as they read one variable in the kernel. Spec §10.1 item 5.
     */
    @Test
    void aReadOfJiffiesMovesALaggingCopyUp() {
        Clock clock = kernel.clock();
        JiffiesTick stalled = new JiffiesTick(clock);
        long j0 = stalled.jiffies();   // the copy is wanted from now on; nobody refreshes it
        Waits.spinUntil(() -> clock.jiffies() - j0 >= 2, "the clock moves two jiffies");
        assertThat(stalled.jiffies()).as("the copy lags while its thread does not run").isEqualTo(j0);
        long now = clock.jiffies();
        stalled.observe(now);
        assertThat(stalled.jiffies()).isEqualTo(now);
        stalled.observe(j0);
        assertThat(stalled.jiffies()).as("an older read never moves the copy back").isEqualTo(now);
    }

    /**
     * Tickless: with no restarting loop reading the copy, the thread ends up parked without a
     * deadline, and a reader wakes it again (it then ticks and goes back to sleep).
     */
    @Test
    void theThreadSleepsWithoutReadersAndAReaderWakesIt() {
        JiffiesTick tick = tick();
        awaitAsleep(tick);
        long ticks = tick.ticks();
        tick.jiffies();
        Waits.spinUntil(() -> tick.ticks() != ticks, "the reader woke the tick thread");
        awaitAsleep(tick);
    }

    /**
     * A softirq that keeps re-raising itself on a system-clock kernel: the loop restarts through the
     * copy and still hands the rest to {@code ksoftirqd/0}, and every raise runs. Spec §10.1 items 4, 7, 17.
     */
    @Test
    void aSelfRaisingSoftirqOnTheSystemClockRunsToTheEnd() throws InterruptedException {
        AtomicInteger left = new AtomicInteger(5_000);
        CountDownLatch done = new CountDownLatch(1);
        kernel.softirqs().open(SoftirqVector.NET_RX, () -> {
            if (left.decrementAndGet() > 0) {
                kernel.softirqs().raise(SoftirqVector.NET_RX);
            } else {
                done.countDown();
            }
        });
        kernel.smpCallFunctionSingle(0, () -> kernel.softirqs().raise(SoftirqVector.NET_RX), true);
        Waits.await(done, "5000 self-raised NET_RX runs");
        assertThat(kernel.stats().total(KernelStats.Counter.KSOFTIRQD_BATCHES)).isPositive();
        // the restarts asked for the copy, so the tick thread was woken and stored it
        JiffiesTick tick = tick();
        Waits.spinUntil(() -> tick.ticks() != 0, "the restarts woke the tick thread");
    }

    /** close() stops and joins the tick thread with the others. */
    @Test
    void closeJoinsTheTickThread() {
        JiffiesTick tick = tick();
        tick.jiffies();
        kernel.close();
        assertThat(tick.thread().isAlive()).isFalse();
    }

    /** A manual clock's jiffies are already a field: no tick thread. */
    @Test
    void aManualClockKernelHasNoTick() {
        try (Kernel manual = TestKernels.track(TestKernels.manual(1, errors).build())) {
            assertThat(Secrets.runtime(manual).tick).isNull();
        }
    }

    /** Waits until the tick thread parks without a deadline (it sleeps until a reader comes). */
    private static void awaitAsleep(JiffiesTick tick) {
        Waits.spinUntil(() -> tick.thread().getState() == Thread.State.WAITING,
                "the tick thread parks without a deadline");
    }
}
