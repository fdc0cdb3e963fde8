package io.kdefer.irq;

import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.Waits;
import io.kdefer.tasklet.Tasklet;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;

/** Primary handlers, threaded handlers and ONESHOT: spec §7.4–7.7, checklist §10.7. */
class IrqThreadedTest {

    /** The context a handler saw. */
    record Seen(String thread, int cpu, boolean hardirq, boolean servingSoftirq, boolean softirq, boolean task) {
    }

    private static Seen seen(IrqHarness h) {
        return new Seen(Thread.currentThread().getName(), h.kernel.smpProcessorId(), h.kernel.inHardirq(),
                h.kernel.inServingSoftirq(), h.kernel.inSoftirq(), h.kernel.inTask());
    }

    /**
     * A raise from a thread outside the kernel runs the primary handler on the line's CPU in hardirq
     * context; a tasklet the handler schedules runs on that CPU's irq exit (spec §7.5, DESIGN).
     */
    @Test
    void raiseFromForeignThreadRunsPrimaryInHardirqThenSoftirqsOnIrqExit() throws Exception {
        try (IrqHarness h = new IrqHarness(2)) {
            AtomicReference<Seen> inHandler = new AtomicReference<>();
            AtomicReference<Seen> inTasklet = new AtomicReference<>();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                inTasklet.set(seen(h));
                ran.countDown();
            });
            h.irqs.requestIrq(3, (irq, dev) -> {
                inHandler.set(seen(h));
                t.schedule();
                return IrqReturn.HANDLED;
            }, "dev3", null);
            h.irqs.raise(3);
            await(ran, "tasklet scheduled by the hard handler");
            assertThat(inHandler.get()).isEqualTo(new Seen("cpu/1", 1, true, false, false, false));
            assertThat(inTasklet.get()).isEqualTo(new Seen("cpu/1", 1, false, true, true, false));
            assertThat(h.irqs.count(3, 1)).isEqualTo(1);
            assertThat(h.irqs.count(3, 0)).isZero();
            assertThat(h.irqs.procInterrupts()).contains("  3:").contains("dev3");
        }
    }

    /** §10.7 item 133: WAKE_THREAD runs the thread function once, in irq/N-name, in task context. */
    @Test
    void item133_wakeThreadRunsThreadFunctionOnceInItsThread() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            ConcurrentLinkedQueue<Seen> runs = new ConcurrentLinkedQueue<>();
            h.irqs.requestThreadedIrq(5, (irq, dev) -> IrqReturn.WAKE_THREAD, (irq, dev) -> {
                runs.add(seen(h));
                return IrqReturn.HANDLED;
            }, "nic", null);
            h.raiseSync(5, 0);
            h.irqs.synchronizeIrq(5);
            assertThat(runs).containsExactly(new Seen("irq/5-nic", 0, false, false, false, true));
        }
    }

    /** §10.7 item 134: IRQ_HANDLED from the primary does not run the thread function. */
    @Test
    void item134_handledDoesNotWakeThread() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger threadRuns = new AtomicInteger();
            IrqReturn[] primary = {IrqReturn.HANDLED};
            h.irqs.requestThreadedIrq(5, (irq, dev) -> primary[0], (irq, dev) -> {
                threadRuns.incrementAndGet();
                return IrqReturn.HANDLED;
            }, "nic", null);
            h.raiseSync(5, 0);
            h.irqs.synchronizeIrq(5);
            assertThat(threadRuns).hasValue(0);
            primary[0] = IrqReturn.WAKE_THREAD;   // the same line does wake it when asked
            h.raiseSync(5, 0);
            h.irqs.synchronizeIrq(5);
            assertThat(threadRuns).hasValue(1);
        }
    }

    /**
     * §10.7 items 135 and 136: wakes that arrive while the thread has not taken the previous one
     * collapse into one run; a wake during a run causes exactly one more run after it returns.
     */
    @Test
    void item135_136_wakesCollapseAndAWakeDuringARunGivesOneMoreRun() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch firstEntered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            h.irqs.requestThreadedIrq(5, (irq, dev) -> IrqReturn.WAKE_THREAD, (irq, dev) -> {
                if (runs.incrementAndGet() == 1) {
                    firstEntered.countDown();
                    await(release, "test releases the first run");
                }
                return IrqReturn.HANDLED;
            }, "nic", null);
            h.raiseSync(5, 0);
            await(firstEntered, "first thread run");
            for (int i = 0; i < 3; i++) {
                h.raiseSync(5, 0);   // three wakes while the thread runs: RUNTHREAD is one bit
            }
            assertThat(h.irqs.count(5, 0)).isEqualTo(4);
            release.countDown();
            h.irqs.synchronizeIrq(5);
            assertThat(runs).as("one run, then exactly one more for the three wakes").hasValue(2);
            h.raiseSync(5, 0);
            h.irqs.synchronizeIrq(5);
            assertThat(runs).hasValue(3);
        }
    }

    /**
     * §10.7 item 137: an ONESHOT line stays masked from the hard interrupt until the thread
     * function returns; a raise meanwhile is held and delivered once after the unmask.
     */
    @Test
    void item137_oneshotLineMaskedUntilThreadReturns() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger primaries = new AtomicInteger();
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            h.irqs.requestThreadedIrq(7, (irq, dev) -> {
                primaries.incrementAndGet();
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                if (runs.incrementAndGet() == 1) {
                    entered.countDown();
                    await(release, "test releases the thread");
                }
                return IrqReturn.HANDLED;
            }, "i2c", null, IrqFlag.ONESHOT);
            h.raiseSync(7, 0);
            await(entered, "thread run");
            assertThat(h.irqs.isMasked(7)).isTrue();
            h.raiseSync(7, 0);
            assertThat(primaries).as("masked line: the hard handler is not called").hasValue(1);
            release.countDown();
            spinUntil(() -> runs.get() == 2, "replayed interrupt runs the thread again");
            h.irqs.synchronizeIrq(7);
            assertThat(primaries).hasValue(2);
            assertThat(h.irqs.isMasked(7)).isFalse();
        }
    }

    /** §10.7 item 130 (positive side): a null primary with ONESHOT is the default one, waking the thread. */
    @Test
    void nullPrimaryWithOneshotWakesThread() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger runs = new AtomicInteger();
            h.irqs.requestThreadedIrq(7, null, (irq, dev) -> {
                runs.incrementAndGet();
                return IrqReturn.HANDLED;
            }, "sensor", null, IrqFlag.ONESHOT);
            h.raiseSync(7, 0);
            h.irqs.synchronizeIrq(7);
            assertThat(runs).hasValue(1);
            assertThat(h.irqs.isMasked(7)).isFalse();
        }
    }

    /** §10.7 item 138: a shared ONESHOT line with two woken threads is unmasked only after both return. */
    @Test
    void item138_sharedOneshotUnmaskedAfterBothThreads() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            CountDownLatch aIn = new CountDownLatch(1);
            CountDownLatch bIn = new CountDownLatch(1);
            CountDownLatch aGo = new CountDownLatch(1);
            CountDownLatch bGo = new CountDownLatch(1);
            AtomicInteger primaries = new AtomicInteger();
            AtomicInteger aRuns = new AtomicInteger();
            Object devA = "a";
            Object devB = "b";
            h.irqs.requestThreadedIrq(9, (irq, dev) -> {
                primaries.incrementAndGet();
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                aRuns.incrementAndGet();
                aIn.countDown();
                await(aGo, "release a");
                return IrqReturn.HANDLED;
            }, "a", devA, IrqFlag.SHARED, IrqFlag.ONESHOT);
            h.irqs.requestThreadedIrq(9, null, (irq, dev) -> {
                bIn.countDown();
                await(bGo, "release b");
                return IrqReturn.HANDLED;
            }, "b", devB, IrqFlag.SHARED, IrqFlag.ONESHOT);
            h.raiseSync(9, 0);
            await(aIn, "thread a");
            await(bIn, "thread b");
            aGo.countDown();
            spinUntil(() -> h.errors.reports().isEmpty() && aRuns.get() == 1 && !threadBusy(h, "irq/9-a"),
                    "thread a finished");
            assertThat(h.irqs.isMasked(9)).as("b still runs").isTrue();
            h.raiseSync(9, 0);
            assertThat(primaries).as("still masked: held").hasValue(1);
            bGo.countDown();
            spinUntil(() -> primaries.get() == 2, "held interrupt delivered after both threads returned");
            h.irqs.synchronizeIrq(9);
            assertThat(h.irqs.isMasked(9)).isFalse();
        }
    }

    /** True while the named thread is runnable (not parked in its idle wait). */
    private static boolean threadBusy(IrqHarness h, String name) {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals(name)) {
                Thread.State s = t.getState();
                return !(s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING);
            }
        }
        return false;
    }

    /** §10.7 item 144: freeing one sharer leaves the other working and returns the name given at request. */
    @Test
    void item144_freeOneSharerKeepsTheOther() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
            Object devA = new Object();
            Object devB = new Object();
            h.irqs.requestIrq(4, (irq, dev) -> {
                calls.add("a");
                return IrqReturn.NONE;
            }, "uart-a", devA, IrqFlag.SHARED);
            h.irqs.requestIrq(4, (irq, dev) -> {
                calls.add("b");
                return IrqReturn.HANDLED;
            }, "uart-b", devB, IrqFlag.SHARED);
            assertThat(h.irqs.freeIrq(4, devA)).isEqualTo("uart-a");
            h.raiseSync(4, 0);
            assertThat(calls).containsExactly("b");
            assertThat(h.irqs.procInterrupts()).contains("uart-b").doesNotContain("uart-a");
        }
    }

    /** §10.7 item 145: handlers of a shared line run in registration order; the results are OR-ed. */
    @Test
    void item145_sharedHandlersInOrderResultsOred() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
            AtomicInteger threadRuns = new AtomicInteger();
            h.irqs.requestIrq(6, (irq, dev) -> {
                calls.add("first");
                return IrqReturn.NONE;
            }, "first", "d1", IrqFlag.SHARED);
            h.irqs.requestThreadedIrq(6, (irq, dev) -> {
                calls.add("second");
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                threadRuns.incrementAndGet();
                return IrqReturn.HANDLED;
            }, "second", "d2", IrqFlag.SHARED);
            h.irqs.requestIrq(6, (irq, dev) -> {
                calls.add("third");
                return IrqReturn.HANDLED;
            }, "third", "d3", IrqFlag.SHARED);
            h.raiseSync(6, 0);
            h.irqs.synchronizeIrq(6);
            assertThat(calls).containsExactly("first", "second", "third");
            assertThat(threadRuns).hasValue(1);
            // NONE | WAKE_THREAD | HANDLED counts as handled: no unhandled interrupt is recorded
            assertThat(h.irqs.spurious(6)).contains("unhandled 0");
        }
    }

    /** §10.7 item 146: WAKE_THREAD from an action without thread function warns once, no crash. */
    @Test
    void item146_wakeThreadWithoutThreadFunctionWarnsOnce() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestIrq(2, (irq, dev) -> {
                calls.incrementAndGet();
                return IrqReturn.WAKE_THREAD;
            }, "confused", null);
            h.raiseSync(2, 0);
            h.raiseSync(2, 0);
            assertThat(calls).hasValue(2);
            List<CollectingErrors.Report> reports = h.takeErrors();
            assertThat(reports).hasSize(1);
            assertThat(reports.get(0).error()).hasMessageContaining("returned IRQ_WAKE_THREAD but no thread function");
        }
    }

    /** setAffinity moves delivery to another CPU; the thread function follows at its next run. */
    @Test
    void setAffinityMovesDeliveryAndTheThreadFollows() throws Exception {
        try (IrqHarness h = new IrqHarness(2)) {
            ConcurrentLinkedQueue<Seen> primaries = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Integer> threadCpus = new ConcurrentLinkedQueue<>();
            h.irqs.requestThreadedIrq(0, (irq, dev) -> {
                primaries.add(seen(h));
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                threadCpus.add(h.kernel.smpProcessorId());
                return IrqReturn.HANDLED;
            }, "mover", null);
            h.raiseSync(0, 0);
            h.irqs.synchronizeIrq(0);
            h.irqs.setAffinity(0, 1);
            CountDownLatch second = new CountDownLatch(1);
            h.fork("device", () -> {
                h.irqs.raise(0);
                second.countDown();
            });
            await(second, "raise");
            spinUntil(() -> threadCpus.size() == 2, "second thread run");
            assertThat(primaries).extracting(Seen::thread).containsExactly("cpu/0", "cpu/1");
            assertThat(threadCpus).containsExactly(0, 1);
            assertThat(h.irqs.count(0, 0)).isEqualTo(1);
            assertThat(h.irqs.count(0, 1)).isEqualTo(1);
        }
    }

    /** free_irq lets a pending thread run complete, then joins the thread (spec §7.6, §7.8). */
    @Test
    void freeIrqRunsThePendingThreadRunAndEndsTheThread() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicReference<Thread> irqThread = new AtomicReference<>();
            Object dev = new Object();
            h.irqs.requestThreadedIrq(8, (irq, d) -> IrqReturn.WAKE_THREAD, (irq, d) -> {
                irqThread.set(Thread.currentThread());
                if (runs.incrementAndGet() == 1) {
                    entered.countDown();
                    await(release, "release");
                }
                return IrqReturn.HANDLED;
            }, "disk", dev);
            h.raiseSync(8, 0);
            await(entered, "first run");
            h.raiseSync(8, 0);                         // RUNTHREAD set again while running
            AtomicReference<String> freed = new AtomicReference<>();
            Thread freer = h.fork("freer", () -> freed.set(h.irqs.freeIrq(8, dev)));
            io.kdefer.testkit.Waits.awaitBlocked(freer);
            assertThat(freed.get()).as("free_irq waits for the thread").isNull();
            release.countDown();
            io.kdefer.testkit.Waits.join(freer);
            assertThat(freed.get()).isEqualTo("disk");
            assertThat(runs).as("the pending run completed before the thread ended").hasValue(2);
            assertThat(irqThread.get().isAlive()).isFalse();
            h.raiseSync(8, 0);                         // no handler left: dropped, counted as ERR
            assertThat(h.irqs.procInterrupts()).contains("ERR:          1");
        }
    }

    /** A handler that throws is reported and counted as NONE; the line and cpu/N carry on. */
    @Test
    void throwingHandlerIsReportedAndTheLineCarriesOn() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestThreadedIrq(1, (irq, dev) -> {
                if (calls.incrementAndGet() == 1) {
                    throw new IllegalArgumentException("device on fire");
                }
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                throw new IllegalStateException("thread on fire");
            }, "flaky", null);
            h.raiseSync(1, 0);
            h.raiseSync(1, 0);
            h.irqs.synchronizeIrq(1);
            h.raiseSync(1, 0);
            h.irqs.synchronizeIrq(1);
            assertThat(calls).hasValue(3);
            assertThat(h.takeErrors()).extracting(r -> r.error().getMessage())
                    .containsExactly("device on fire", "thread on fire", "thread on fire");
        }
    }

    /** close() lets a woken thread run finish, joins the irq threads, and refuses raises after. */
    @Test
    void closeRunsPendingThreadWorkAndJoinsIrqThreads() throws Exception {
        IrqHarness h = new IrqHarness(1);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Thread> irqThread = new AtomicReference<>();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        h.irqs.requestThreadedIrq(3, (irq, dev) -> IrqReturn.WAKE_THREAD, (irq, dev) -> {
            irqThread.set(Thread.currentThread());
            if (runs.incrementAndGet() == 1) {
                entered.countDown();
                await(release, "release");
            }
            return IrqReturn.HANDLED;
        }, "late", null);
        h.raiseSync(3, 0);
        await(entered, "run");
        h.raiseSync(3, 0);
        Thread closer = h.fork("closer", () -> h.kernel.close());
        io.kdefer.testkit.Waits.awaitBlocked(closer);
        release.countDown();
        io.kdefer.testkit.Waits.join(closer);
        assertThat(runs).hasValue(2);
        assertThat(irqThread.get().isAlive()).isFalse();
        org.assertj.core.api.Assertions.assertThatIllegalStateException()
                .isThrownBy(() -> h.irqs.raise(3)).withMessageContaining("closed");
        h.close();
    }
}
