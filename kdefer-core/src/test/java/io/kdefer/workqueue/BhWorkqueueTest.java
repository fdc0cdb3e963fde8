package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.ManualClock;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import io.kdefer.timer.KernelTimer;
import io.kdefer.timer.TimerFlag;
import io.kdefer.workqueue.PoolScript.Gate;
import io.kdefer.workqueue.PoolScript.Timeline;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.KernelStats.Counter.SOFTIRQ_INVOCATIONS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_PASSES;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * BH workqueues against spec §10.5 (items 102-108): the allocation rules, softirq context on the
 * queueing CPU, cross-CPU queueing, the HI and TASKLET vectors, the 10-item and 2 ms bounds of one
 * BH worker invocation, {@code cancel_work_sync} from BH context, and queueing while disabled.
 *
 * <p>Items are queued from hardirqs ({@code smpCallFunctionSingle} with wait, whose irq exit runs
 * the raised vectors before the call returns), from task context placed on a CPU
 * ({@code runOnCpu}), or inside bottom-half-disabled sections; the clock moves only when a test
 * ticks it. Which invocation of a vector ran an item is read from {@code /proc/softirqs}
 * ({@code softirqs().count}), which counts an invocation before the action runs.
 */
class BhWorkqueueTest {

    // ---------------------------------------------------------------- 102

    /**
     * {@code alloc_workqueue} refuses a BH queue with a non-zero max_active, with a flag other than
     * HIGHPRI and PERCPU, or ordered; BH, BH|HIGHPRI, BH|PERCPU and BH|HIGHPRI|PERCPU with max_active
     * 0 are accepted (and report max_active 0, which {@code setMaxActive} may not change).
     * Spec §10.5 item 102.
     */
    @Test
    void allocRefusesABhQueueWithMaxActiveOrOtherFlags(Kernel kernel) {
        assertThatThrownBy(() -> kernel.allocWorkqueue("bh-max", 1, WqFlag.BH))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max_active");
        assertThatThrownBy(() -> kernel.allocWorkqueue("bh-max-hi", 16, WqFlag.BH, WqFlag.HIGHPRI))
                .isInstanceOf(IllegalArgumentException.class);
        for (WqFlag f : new WqFlag[] {WqFlag.UNBOUND, WqFlag.CPU_INTENSIVE, WqFlag.MEM_RECLAIM, WqFlag.FREEZABLE,
                WqFlag.POWER_EFFICIENT}) {
            assertThatThrownBy(() -> kernel.allocWorkqueue("bh-" + f, 0, WqFlag.BH, f))
                    .as("BH with " + f).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> kernel.allocOrderedWorkqueue("bh-ordered", WqFlag.BH))
                .isInstanceOf(IllegalArgumentException.class);

        WqFlag[][] allowed = {
            {WqFlag.BH}, {WqFlag.BH, WqFlag.HIGHPRI}, {WqFlag.BH, WqFlag.PERCPU},
            {WqFlag.BH, WqFlag.HIGHPRI, WqFlag.PERCPU}};
        for (WqFlag[] flags : allowed) {
            Workqueue wq = kernel.allocWorkqueue("bh-ok", 0, flags);
            assertThat(wq).isNotNull();
            assertThat(wq.maxActive()).isZero();
            assertThatThrownBy(() -> wq.setMaxActive(1)).isInstanceOf(IllegalStateException.class);
            wq.destroy();
        }
    }

    /**
     * In faithful mode the refused allocations return null, as the kernel's {@code alloc_workqueue}
     * does, and the warning goes to the error handler. Spec §10.5 item 102.
     */
    @Test
    void faithfulAllocOfAMisconfiguredBhQueueReturnsNullAndWarns(CollectingErrors errors) {
        try (Kernel k = TestKernels.start(TestKernels.manual(2, errors).faithful(true))) {
            assertThat(k.allocWorkqueue("bh-max", 4, WqFlag.BH)).isNull();
            assertThat(k.allocWorkqueue("bh-unbound", 0, WqFlag.BH, WqFlag.UNBOUND)).isNull();
            assertThat(k.allocWorkqueue("bh-fine", 0, WqFlag.BH, WqFlag.HIGHPRI)).isNotNull();

            List<Report> warnings = errors.take();
            assertThat(warnings).hasSize(2);
            assertThat(warnings.get(0).error()).hasMessageContaining("bh-max");
            assertThat(warnings.get(1).error()).hasMessageContaining("bh-unbound");
        }
    }

    // ---------------------------------------------------------------- 103

    /**
     * Items queued from a hardirq on CPU 1 run at that hardirq's exit, in softirq context, on
     * {@code cpu/1}, in queueing order, all in the first invocation of TASKLET_SOFTIRQ there; CPU 0
     * runs no TASKLET_SOFTIRQ.
     * Spec §10.5 item 103.
     */
    @Test
    void itemsQueuedInAHardirqRunInSoftirqContextOnThatCpuInQueueingOrder(Kernel kernel) {
        Timeline tl = new Timeline(kernel);
        Workqueue bh = kernel.systemBhWq();
        Work[] b = items(kernel, tl, "b", 5);
        List<Long> invocations = Collections.synchronizedList(new ArrayList<>());
        Work last = new Work(self -> invocations.add(kernel.softirqs().count(1, SoftirqVector.TASKLET)));
        Work first = new Work(self -> invocations.add(kernel.softirqs().count(1, SoftirqVector.TASKLET)));
        List<Boolean> queued = Collections.synchronizedList(new ArrayList<>());

        kernel.smpCallFunctionSingle(1, () -> {
            queued.add(bh.queue(first));
            for (Work w : b) {
                queued.add(bh.queue(w));
            }
            queued.add(bh.queue(last));
        }, true);

        assertThat(queued).containsOnly(true).hasSize(7);
        assertThat(tl.events()).containsExactly(
                "b0 in softirq", "b1 in softirq", "b2 in softirq", "b3 in softirq", "b4 in softirq");
        for (String e : tl.events()) {
            assertThat(tl.cpu(e)).isEqualTo(1);
            assertThat(tl.threadName(e)).isEqualTo("cpu/1");
        }
        assertThat(invocations).as("one invocation of TASKLET_SOFTIRQ ran them all").containsExactly(1L, 1L);
        assertThat(kernel.softirqs().count(0, SoftirqVector.TASKLET)).isZero();
    }

    /**
     * Items queued from task context on CPU 1 run in softirq context on CPU 1 (in
     * {@code ksoftirqd/1}, woken because the vector was raised outside interrupt context), in
     * queueing order. Spec §10.5 item 103.
     */
    @Test
    void itemsQueuedFromTaskContextRunInSoftirqContextOnThatCpuInQueueingOrder(Kernel kernel) {
        Timeline tl = new Timeline(kernel);
        Workqueue bh = kernel.systemBhWq();
        Work[] b = items(kernel, tl, "b", 3);

        kernel.runOnCpu(1, () -> {
            for (Work w : b) {
                assertThat(bh.queue(w)).isTrue();
            }
            return null;
        });
        for (int i = 0; i < b.length; i++) {
            tl.await("b" + i + " in softirq");
        }

        assertThat(tl.events()).containsExactly("b0 in softirq", "b1 in softirq", "b2 in softirq");
        for (String e : tl.events()) {
            assertThat(tl.cpu(e)).isEqualTo(1);
            assertThat(tl.threadName(e)).isEqualTo("ksoftirqd/1");
        }
        assertThat(kernel.softirqs().count(0, SoftirqVector.TASKLET)).isZero();
    }

    // ---------------------------------------------------------------- 104

    /**
     * {@code queueOn(1, ...)} from CPU 0, from task context or from a hardirq, runs the item on CPU 1
     * in softirq context: the kick reaches {@code cpu/1} as an interrupt whose exit runs the vector.
     * CPU 0 runs no TASKLET_SOFTIRQ at all. Spec §10.5 item 104.
     */
    @Test
    void itemQueuedForAnotherCpuRunsThereInSoftirqContext(Kernel kernel) {
        Timeline tl = new Timeline(kernel);
        Workqueue bh = kernel.systemBhWq();
        Work a = new Work(self -> tl.record("a" + (kernel.inServingSoftirq() ? " in softirq" : " outside softirq")));
        Work b = new Work(self -> tl.record("b" + (kernel.inServingSoftirq() ? " in softirq" : " outside softirq")));

        assertThat(kernel.runOnCpu(0, () -> bh.queueOn(1, a))).isTrue();
        tl.await("a in softirq");
        AtomicBoolean queued = new AtomicBoolean();
        kernel.smpCallFunctionSingle(0, () -> queued.set(bh.queueOn(1, b)), true);
        assertThat(queued).isTrue();
        tl.await("b in softirq");

        assertThat(tl.events()).containsExactly("a in softirq", "b in softirq");
        for (String e : tl.events()) {
            assertThat(tl.cpu(e)).isEqualTo(1);
            assertThat(tl.threadName(e)).isEqualTo("cpu/1");
        }
        assertThat(kernel.softirqs().count(0, SoftirqVector.TASKLET)).isZero();
        assertThat(kernel.softirqs().count(1, SoftirqVector.TASKLET)).isEqualTo(2);
    }

    // ---------------------------------------------------------------- 105

    /**
     * An item of {@code system_bh_highpri_wq} runs in an invocation of HI_SOFTIRQ (and none of
     * TASKLET_SOFTIRQ), an item of {@code system_bh_wq} in one of TASKLET_SOFTIRQ.
     * Spec §10.5 item 105.
     */
    @Test
    void highpriBhItemsRunInHiAndNormalOnesInTasklet(Kernel kernel) {
        long[] seen = new long[4];
        Work hi = new Work(self -> {
            seen[0] = kernel.softirqs().count(0, SoftirqVector.HI);
            seen[1] = kernel.softirqs().count(0, SoftirqVector.TASKLET);
        });
        Work normal = new Work(self -> {
            seen[2] = kernel.softirqs().count(0, SoftirqVector.HI);
            seen[3] = kernel.softirqs().count(0, SoftirqVector.TASKLET);
        });

        kernel.smpCallFunctionSingle(0, () -> kernel.systemBhHighpriWq().queue(hi), true);
        kernel.smpCallFunctionSingle(0, () -> kernel.systemBhWq().queue(normal), true);

        assertThat(seen).containsExactly(1, 0, 1, 1);
        assertThat(kernel.softirqs().count(0, SoftirqVector.HI)).isEqualTo(1);
        assertThat(kernel.softirqs().count(0, SoftirqVector.TASKLET)).isEqualTo(1);
    }

    /**
     * With HI, TIMER and TASKLET pending together on one CPU, the pass runs the highpri BH item
     * (ahead of the HI tasklets), then the expired timer, then the normal BH item (ahead of the
     * tasklets), whatever order they were queued in. They are made pending inside a
     * bottom-half-disabled section on CPU 0, across ticks that expire the timer; the section's
     * closing {@code localBhEnable()} runs them. Spec §10.5 item 105.
     */
    @Test
    void highpriBhItemsRunBeforeTimersAndNormalBhItemsAfter(Kernel kernel, ManualClock clock) {
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        Work hiItem = new Work(self -> order.add("events_bh_highpri item"));
        Work item = new Work(self -> order.add("events_bh item"));
        Tasklet hiTasklet = Tasklet.setup(kernel, t -> order.add("HI tasklet"));
        Tasklet tasklet = Tasklet.setup(kernel, t -> order.add("tasklet"));
        KernelTimer timer = KernelTimer.setup(kernel, t -> order.add("timer"), TimerFlag.PINNED);
        long j = kernel.jiffies();

        kernel.runOnCpu(0, () -> {
            kernel.localBhDisable();
            try {
                assertThat(tasklet.schedule()).isTrue();
                assertThat(kernel.systemBhWq().queue(item)).isTrue();
                timer.mod(j + 1);
                assertThat(hiTasklet.hiSchedule()).isTrue();
                assertThat(kernel.systemBhHighpriWq().queue(hiItem)).isTrue();
                for (int i = 0; i < 3 && (kernel.softirqs().pending(0) & SoftirqVector.TIMER.mask()) == 0; i++) {
                    clock.tick();
                }
                assertThat(kernel.softirqs().pending(0) & SoftirqVector.TIMER.mask()).isNotZero();
                assertThat(order).isEmpty();
            } finally {
                kernel.localBhEnable();
            }
            return null;
        });

        assertThat(order).containsExactly("events_bh_highpri item", "HI tasklet", "timer", "events_bh item", "tasklet");
    }

    // ---------------------------------------------------------------- 106

    /**
     * One invocation of the BH worker runs at most 10 items ({@code BH_WORKER_RESTARTS}), then
     * re-raises the vector for the rest: 25 items queued in one hardirq run 10, 10 and 5 per
     * invocation of TASKLET_SOFTIRQ, in order, all in restarts (passes) of the one softirq invocation
     * of that hardirq's exit (the clock does not move, so only the item bound applies).
     * Spec §10.5 item 106.
     */
    @Test
    void oneBhWorkerInvocationRunsAtMostTenItems(Kernel kernel) {
        final int n = 25;
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        long[] invocation = new long[n];
        Work[] w = new Work[n];
        for (int i = 0; i < n; i++) {
            final int k = i;
            w[i] = new Work(self -> {
                invocation[k] = kernel.softirqs().count(0, SoftirqVector.TASKLET);
                order.add(k);
            });
        }
        KernelStats before = kernel.stats();
        long base = kernel.softirqs().count(0, SoftirqVector.TASKLET);

        kernel.smpCallFunctionSingle(0, () -> {
            for (Work item : w) {
                kernel.systemBhWq().queue(item);
            }
        }, true);

        assertThat(order).hasSize(n);
        for (int i = 0; i < n; i++) {
            assertThat(order.get(i)).isEqualTo(i);
        }
        assertThat(itemsPerInvocation(invocation)).containsExactly(
                Map.entry(base + 1, 10), Map.entry(base + 2, 10), Map.entry(base + 3, 5));
        KernelStats after = kernel.stats();
        assertThat(after.get(0, SOFTIRQ_INVOCATIONS) - before.get(0, SOFTIRQ_INVOCATIONS)).isEqualTo(1);
        assertThat(after.get(0, SOFTIRQ_PASSES) - before.get(0, SOFTIRQ_PASSES)).isGreaterThanOrEqualTo(3);
    }

    /**
     * One invocation of the BH worker also stops once its time budget ({@code BH_WORKER_JIFFIES},
     * 2 ms: one jiffy at HZ 100) is spent: the first item spins until the clock moves (a tick from
     * another thread), so that invocation runs it alone; the other items run 10 and then 1 per
     * invocation. Spec §10.5 item 106.
     */
    @Test
    @KdeferTest(hz = 100)
    void bhWorkerInvocationStopsWhenItsTimeBudgetIsSpent(Kernel kernel, ManualClock clock) {
        final int n = 12;
        long[] invocation = new long[n];
        AtomicBoolean firstStarted = new AtomicBoolean();
        long start = kernel.jiffies();
        Work[] w = new Work[n];
        for (int i = 0; i < n; i++) {
            final int k = i;
            w[i] = new Work(self -> {
                invocation[k] = kernel.softirqs().count(0, SoftirqVector.TASKLET);
                if (k == 0) {
                    firstStarted.set(true);
                    Waits.spinUntil(() -> kernel.jiffies() != start, "the clock moved");
                }
            });
        }
        long base = kernel.softirqs().count(0, SoftirqVector.TASKLET);

        kernel.smpCallFunctionSingle(0, () -> {
            for (Work item : w) {
                kernel.systemBhWq().queue(item);
            }
        }, false);
        Waits.spinUntil(firstStarted::get, "the first item started");
        io.kdefer.testkit.Worker ticker = io.kdefer.testkit.Worker.start("ticker", clock::tick);
        ticker.joinAndCheck();
        w[n - 1].flush();

        assertThat(itemsPerInvocation(invocation).values()).containsExactly(1, 10, 1);
        assertThat(itemsPerInvocation(invocation).keySet()).first().isEqualTo(base + 1);
    }

    /** Invocation count -> number of items that saw it, in invocation order. */
    private static Map<Long, Integer> itemsPerInvocation(long[] invocation) {
        Map<Long, Integer> out = new LinkedHashMap<>();
        for (long c : invocation) {
            out.merge(c, 1, Integer::sum);
        }
        return out;
    }

    // ---------------------------------------------------------------- 107

    /**
     * {@code cancelSync()} of a BH item may be called from BH context: a tasklet on CPU 1 cancels an
     * item that runs (spinning) in CPU 0's softirq and was queued again meanwhile. The cancel takes
     * the pending instance off the queue (returns true), then busy-waits until the running one ends;
     * the item does not run again. Spec §10.5 item 107.
     */
    @Test
    void cancelSyncFromBhContextBusyWaitsForTheRunningInstance(Kernel kernel) {
        Timeline tl = new Timeline(kernel);
        Workqueue bh = kernel.systemBhWq();
        Gate release = new Gate();
        AtomicInteger runs = new AtomicInteger();
        Work x = new Work(self -> {
            tl.record("x start " + runs.incrementAndGet());
            release.pass();
            tl.record("x end");
        });
        AtomicBoolean cancelled = new AtomicBoolean();
        Tasklet canceller = Tasklet.setup(kernel, t -> {
            tl.record("cancel start" + (kernel.inServingSoftirq() ? " in softirq" : ""));
            cancelled.set(x.cancelSync());
            tl.record("cancel end");
        });
        try {
            kernel.smpCallFunctionSingle(0, () -> bh.queue(x), false);
            tl.await("x start 1");
            assertThat(kernel.runOnCpu(1, () -> bh.queueOn(0, x))).isTrue();
            assertThat(x.busy()).isEqualTo(Work.BUSY_PENDING | Work.BUSY_RUNNING);

            kernel.smpCallFunctionSingle(1, canceller::schedule, false);
            tl.await("cancel start in softirq");
            // the cancel took PENDING and holds its disable count while it waits for the run
            Waits.spinUntil(() -> !x.isPending() && x.disableCount() == 1, "the cancel waits for the running x");
            assertThat(tl.has("cancel end")).isFalse();
        } finally {
            release.open();
        }
        tl.await("cancel end");

        assertThat(tl.events()).containsExactly("x start 1", "cancel start in softirq", "x end", "cancel end");
        assertThat(tl.cpu("cancel start in softirq")).isEqualTo(1);
        assertThat(cancelled).isTrue();
        assertThat(x.isPending()).isFalse();
        assertThat(x.disableCount()).isZero();
        assertThat(x.flush()).isFalse();
        assertThat(runs).hasValue(1);
    }

    // ---------------------------------------------------------------- 108

    /**
     * A BH item queued while disabled is dropped: the queue returns false and nothing is kept, so
     * after {@code enable()} it still never runs (a later item on the same CPU runs alone). A
     * disabled tasklet, by contrast, keeps a schedule and runs after its enable.
     * Spec §10.5 item 108.
     */
    @Test
    void bhItemQueuedWhileDisabledIsDroppedUnlikeATasklet(Kernel kernel) {
        Workqueue bh = kernel.systemBhWq();
        AtomicInteger xRuns = new AtomicInteger();
        AtomicInteger yRuns = new AtomicInteger();
        Work x = new Work(self -> xRuns.incrementAndGet());
        Work y = new Work(self -> yRuns.incrementAndGet());
        AtomicBoolean queued = new AtomicBoolean(true);

        assertThat(x.disable()).isFalse();
        kernel.smpCallFunctionSingle(0, () -> queued.set(bh.queue(x)), true);
        assertThat(queued).isFalse();
        assertThat(x.isPending()).isFalse();
        assertThat(x.enable()).isTrue();
        kernel.smpCallFunctionSingle(0, () -> bh.queue(y), true);
        assertThat(yRuns).hasValue(1);
        assertThat(xRuns).hasValue(0);
        assertThat(x.busy()).isZero();

        AtomicInteger tRuns = new AtomicInteger();
        Tasklet t = Tasklet.setup(kernel, self -> tRuns.incrementAndGet());
        t.disable();
        assertThat(kernel.runOnCpu(0, t::schedule)).isTrue();
        assertThat(t.isScheduled()).isTrue();
        t.enable();
        Waits.spinUntil(() -> tRuns.get() == 1, "the tasklet ran after its enable");
        assertThat(xRuns).hasValue(0);
    }

    // ---------------------------------------------------------------- helpers

    /** {@code n} items named {@code prefix0..}, each recording its name and whether it runs in softirq context. */
    private static Work[] items(Kernel kernel, Timeline tl, String prefix, int n) {
        Work[] w = new Work[n];
        for (int i = 0; i < n; i++) {
            final String name = prefix + i;
            w[i] = new Work(self -> tl.record(name + (kernel.inServingSoftirq() ? " in softirq" : " outside softirq")));
        }
        return w;
    }
}
