package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.internal.Secrets;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rescuer of {@code WQ_MEM_RECLAIM} queues (spec §4.10) and the lockup watchdog (§5.7), on
 * {@code ManualClock} kernels. Worker creation is made to fail with the engine's test hook, as when
 * the JVM cannot start another thread.
 */
class WorkqueueRescuerWatchdogTest {

    private static WorkqueueEngine engine(Kernel kernel) {
        return Secrets.runtime(kernel).subsystem(WorkqueueEngine.class);
    }

    /**
     * §10.4 items 96 and 97: with no worker to be had, the items of a queue without rescuer stall,
     * while the MEM_RECLAIM queue's item runs on its rescuer {@code kworker/R-<name>} once the mayday
     * timer (10 ms at HZ 1000) fires; the rescuer runs only its own queue's items.
     */
    @Test
    void rescuerRunsItsOwnQueuesItemsWhenNoWorkerCanBeCreated(Kernel kernel, ManualClock clock) {
        try {
            checkRescue(kernel, clock);
        } finally {
            engine(kernel).workerCreationFails = false;   // else close() waits for the stalled item forever
        }
    }

    private static void checkRescue(Kernel kernel, ManualClock clock) {
        engine(kernel).workerCreationFails = true;
        Workqueue reclaim = kernel.allocWorkqueue("reclaim", 0, WqFlag.MEM_RECLAIM);
        Workqueue plain = kernel.allocWorkqueue("plain", 0);
        String[] ranOn = new String[1];
        CountDownLatch rescued = new CountDownLatch(1);
        AtomicInteger plainRuns = new AtomicInteger();
        Work r = new Work(w -> {
            ranOn[0] = Thread.currentThread().getName();
            rescued.countDown();
        });
        Work p = new Work(w -> plainRuns.incrementAndGet());
        plain.queueOn(0, p);
        reclaim.queueOn(0, r);
        clock.tick((int) engine(kernel).maydayInitialTimeout - 1);
        assertThat(rescued.getCount()).as("before the mayday timeout").isEqualTo(1);
        clock.tick(2);   // the timer's level-0 expiry (one jiffy after its time, never early)
        Waits.await(rescued);
        assertThat(ranOn[0]).isEqualTo("kworker/R-reclaim");
        assertThat(plainRuns.get()).as("the queue without rescuer stalls").isZero();
        assertThat(p.isPending()).isTrue();
        assertThat(kernel.workqueues().counters()[3]).isPositive();

        // workers can be made again: the stalled item runs at the next kick
        engine(kernel).workerCreationFails = false;
        Work kick = new Work(w -> { });
        plain.queueOn(0, kick);
        plain.flush();
        assertThat(plainRuns.get()).isEqualTo(1);
        reclaim.destroy();
        plain.destroy();
    }

    /**
     * §10.4 item 98: a pool whose worklist makes no progress for longer than the threshold is
     * reported once per threshold, naming the items its busy workers are stuck in, with a stack of
     * one of them; while its worklist is empty (the items it runs are merely long) it is not.
     * Two items spin on cpu 0 (each becomes CPU-intensive at a sampler tick and hands over); worker
     * creation then fails, so a third item waits on the worklist with nobody to run it.
     */
    @Test
    void watchdogReportsAStuckPoolWithItsWorkersAndNotABusyOne(CollectingErrors errors) {
        try (Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).workqueueWatchdogThresh(1))) {
            ManualClock clock = TestKernels.clock(kernel);
            WorkqueueEngine engine = engine(kernel);
            java.util.concurrent.atomic.AtomicBoolean release = new java.util.concurrent.atomic.AtomicBoolean();
            CountDownLatch started = new CountDownLatch(2);
            Work a = new Work(w -> spin(started, release));
            Work b = new Work(w -> spin(started, release));
            Work c = new Work(w -> { });
            try {
                checkLockup(kernel, clock, engine, errors, started, a, b, c);
            } finally {
                release.set(true);   // a failed assertion must not leave close() waiting for spinners
                engine.workerCreationFails = false;
            }
            kernel.systemWq().flush();
            assertThat(c.isPending()).isFalse();
        }
    }

    private static void checkLockup(Kernel kernel, ManualClock clock, WorkqueueEngine engine, CollectingErrors errors,
                                    CountDownLatch started, Work a, Work b, Work c) {
        {
            kernel.systemWq().queueOn(0, a);
            Waits.spinUntil(() -> started.getCount() == 1, "a started");
            engine.workerCreationFails = true;
            kernel.systemWq().queueOn(0, b);
            // the sampler makes a CPU-intensive at its threshold and kicks the pool: the spare worker
            // takes b (no more ticks meanwhile: b waiting a whole threshold would be a lockup)
            clock.tick((int) engine.cpuIntensiveThresh + 2);
            Waits.spinUntil(() -> started.getCount() == 0, "b started");
            // the watchdog timer (deferrable, at level 2 of the wheel: up to 64 jiffies late) fires
            clock.tick(2 * kernel.hz() + 128);
            assertThat(errors.take()).as("two long items and an empty worklist are no lockup").isEmpty();

            kernel.systemWq().queueOn(0, c);
            Waits.spinUntil(() -> {
                clock.tick();
                return !errors.reports().isEmpty();
            }, "a lockup report");
            List<CollectingErrors.Report> reported = errors.take();
            assertThat(reported).hasSize(1);
            Throwable lockup = reported.get(0).error();
            assertThat(lockup.getMessage()).startsWith("BUG: workqueue lockup - pool cpu 0 pool stuck for 1s!")
                    .contains(" runs " + a).contains(" runs " + b);
            assertThat(lockup.getStackTrace()).anySatisfy(e -> assertThat(e.getMethodName()).isEqualTo("spin"));
            assertThat(kernel.workqueues().counters()[4]).isEqualTo(1);
        }
    }

    private static void spin(CountDownLatch started, java.util.concurrent.atomic.AtomicBoolean release) {
        started.countDown();
        while (!release.get()) {
            Thread.onSpinWait();
        }
    }
}
