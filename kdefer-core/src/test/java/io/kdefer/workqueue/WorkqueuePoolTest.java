package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.internal.WaitQueue;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.testkit.Waits;
import io.kdefer.wait.Completion;
import io.kdefer.workqueue.PoolScript.Gate;
import io.kdefer.workqueue.PoolScript.Timeline;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.workqueue.PoolScript.awaitIdle;
import static io.kdefer.workqueue.PoolScript.cpuIntensiveViolations;
import static io.kdefer.workqueue.PoolScript.culled;
import static io.kdefer.workqueue.PoolScript.liveThreads;
import static io.kdefer.workqueue.PoolScript.probe;
import static io.kdefer.workqueue.PoolScript.sampledSleeps;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cmwq worker pools against spec §10.4 (items 86-95 and 101): concurrency management on
 * per-CPU pools (one running worker while items burn CPU, another when one sleeps, in a kdefer
 * wait or in plain JDK code, or runs past the CPU-intensive threshold), {@code max_active} per CPU
 * and system-wide, unbound, CPU-intensive, highpri and ordered queues, idle culling, and flush
 * colors under 16 concurrent flushers.
 *
 * <p>Every test is deterministic: items "burn CPU" by spinning at a {@link Gate} the test opens
 * (RUNNABLE, so nothing takes them for asleep), "sleep" in a {@link Completion} the test completes
 * (the pool is told), and the clock moves only when a test ticks it (the pool's sampler runs on
 * ticks). A claim that an item has not started is made only where nothing can start it in a
 * correct pool, and where a free worker has provably looked at the worklist (a probe item queued
 * behind it ran), checking the item's {@link Work#busy()} state.
 *
 * <p>The rescuer and the lockup watchdog (items 96-98) are tested in
 * {@link WorkqueueRescuerWatchdogTest}; CPU hotplug (99) and freezing (100) are not modelled
 * (docs/deviations.md).
 */
class WorkqueuePoolTest {

    // ---------------------------------------------------------------- 86

    /**
     * Two items that never block, queued to one per-CPU workqueue (max_active 2) on the same CPU,
     * run one after the other in queueing order on a single worker: the first keeps the pool's
     * running count at one, so nobody is woken for the second, not even at the sampler's ticks
     * while the first burns. Spec §10.4 item 86.
     */
    @Test
    void cpuBoundItemsOnOneCpuRunOneAfterTheOtherOnOneWorker(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("cpubound", 2);
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Work w0 = new Work(self -> {
            tl.record("w0 start");
            burn.pass();
            tl.record("w0 end");
        });
        Work w1 = new Work(self -> {
            tl.record("w1 start");
            tl.record("w1 end");
        });
        try {
            assertThat(kernel.runOnCpu(0, () -> wq.queue(w0))).isTrue();
            tl.await("w0 start");
            assertThat(kernel.runOnCpu(0, () -> wq.queue(w1))).isTrue();
            clock.tick(5);   // the sampler looks at the pool: w0 runs, below the CPU-intensive threshold

            assertThat(w1.busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(tl.events()).containsExactly("w0 start");
        } finally {
            burn.open();
        }
        w1.flush();

        assertThat(tl.events()).containsExactly("w0 start", "w0 end", "w1 start", "w1 end");
        assertThat(tl.thread("w1 start")).isSameAs(tl.thread("w0 start"));
        assertThat(tl.threadName("w0 start")).matches("kworker/0:\\d+");
        assertThat(cpuIntensiveViolations(kernel)).isZero();
    }

    // ---------------------------------------------------------------- 87

    /**
     * When an item sleeps in a kdefer wait (a completion), the next pending item of the pool, queued
     * while the first one still burned CPU, starts on another worker of the same CPU, and finishes,
     * before the first one resumes. The pool learns of the sleep from the wait itself, not from the
     * sampler (no tick happens). Spec §10.4 item 87.
     */
    @Test
    void itemSleepingInACompletionLetsTheNextOneStartOnAnotherWorkerOfItsCpu(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("sleepy", 0);
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Completion wake = new Completion(kernel);
        Work w0 = new Work(self -> {
            tl.record("w0 start");
            burn.pass();
            tl.record("w0 sleeps");
            wake.waitForCompletion();
            tl.record("w0 end");
        });
        Work w1 = new Work(self -> {
            tl.record("w1 start");
            tl.record("w1 end");
        });
        try {
            assertThat(wq.queueOn(1, w0)).isTrue();
            tl.await("w0 start");
            assertThat(wq.queueOn(1, w1)).isTrue();
            assertThat(w1.busy()).isEqualTo(Work.BUSY_PENDING);
            burn.open();
            tl.await("w1 end");
            assertThat(tl.has("w0 end")).isFalse();
        } finally {
            burn.open();
            wake.completeAll();
        }
        w0.flush();

        assertThat(tl.events()).containsExactly("w0 start", "w0 sleeps", "w1 start", "w1 end", "w0 end");
        assertThat(tl.thread("w1 start")).isNotSameAs(tl.thread("w0 start"));
        assertThat(tl.threadName("w0 start")).matches("kworker/1:\\d+");
        assertThat(tl.threadName("w1 start")).matches("kworker/1:\\d+");
        assertThat(tl.cpu("w0 start")).isEqualTo(1);
        assertThat(tl.cpu("w1 start")).isEqualTo(1);
        assertThat(sampledSleeps(kernel)).isZero();
    }

    /**
     * The same with {@code msleep()}: while the first item sleeps (its timer needs ticks, and none
     * happens yet) the second, queued while the first still burned CPU, starts and finishes on
     * another worker of the CPU; the sleeper resumes once the clock has moved. Spec §10.4 item 87.
     */
    @Test
    void itemInMsleepLetsTheNextOneStartOnAnotherWorkerOfItsCpu(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("napper", 0);
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Work w0 = new Work(self -> {
            tl.record("w0 start");
            burn.pass();
            kernel.msleep(10);
            tl.record("w0 end");
        });
        Work w1 = new Work(self -> {
            tl.record("w1 start");
            tl.record("w1 end");
        });
        try {
            assertThat(wq.queueOn(0, w0)).isTrue();
            tl.await("w0 start");
            assertThat(wq.queueOn(0, w1)).isTrue();
            assertThat(w1.busy()).isEqualTo(Work.BUSY_PENDING);
            burn.open();
            tl.await("w1 end");
            assertThat(tl.has("w0 end")).isFalse();
        } finally {
            burn.open();
            for (int i = 0; i < 100 && !tl.has("w0 end"); i++) {
                clock.tick();   // msleep(10) needs at least 11 jiffies
            }
        }
        tl.await("w0 end");

        assertThat(tl.events()).containsExactly("w0 start", "w1 start", "w1 end", "w0 end");
        assertThat(tl.thread("w1 start")).isNotSameAs(tl.thread("w0 start"));
        assertThat(tl.threadName("w1 start")).matches("kworker/0:\\d+");
        assertThat(tl.threadName("w0 start")).matches("kworker/0:\\d+");
    }

    /**
     * An item blocked in plain JDK code (a {@link CountDownLatch}) is invisible to the pool until the
     * sampler, a timer that runs on ticks while a counted worker is busy, finds its thread WAITING:
     * before any tick the next item stays pending; after the sampler's tick it starts on another
     * worker of the same CPU, before the blocked item resumes. The sub-jiffy sampler stays off on a
     * ManualClock kernel. Spec §10.4 item 87.
     */
    @Test
    void itemBlockedInJdkCodeIsFoundByTheSamplerAndTheNextOneStarts(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("jdkblock", 0);
        Timeline tl = new Timeline(kernel);
        CountDownLatch release = new CountDownLatch(1);
        Work w0 = new Work(self -> {
            tl.record("w0 start");
            Waits.await(release, "the test releases w0");
            tl.record("w0 end");
        });
        Work w1 = new Work(self -> {
            tl.record("w1 start");
            tl.record("w1 end");
        });
        try {
            assertThat(wq.queueOn(0, w0)).isTrue();
            tl.await("w0 start");
            Waits.awaitParked(tl.thread("w0 start"));
            assertThat(wq.queueOn(0, w1)).isTrue();
            assertThat(w1.busy()).isEqualTo(Work.BUSY_PENDING);   // nothing told the pool yet

            long before = sampledSleeps(kernel);
            for (int i = 0; i < 2 && sampledSleeps(kernel) == before; i++) {
                clock.tick();
            }
            assertThat(sampledSleeps(kernel)).isEqualTo(before + 1);
            assertThat(kernel.workqueues().counters()[5]).as("fast sampler passes on a ManualClock kernel").isZero();
            tl.await("w1 end");
            assertThat(tl.has("w0 end")).isFalse();
        } finally {
            release.countDown();
        }
        w0.flush();

        assertThat(tl.events()).containsExactly("w0 start", "w1 start", "w1 end", "w0 end");
        assertThat(tl.thread("w1 start")).isNotSameAs(tl.thread("w0 start"));
        assertThat(tl.threadName("w1 start")).matches("kworker/0:\\d+");
    }

    // ---------------------------------------------------------------- 88

    /**
     * With max_active 1 on a per-CPU queue, one item of the queue is active on the CPU even while
     * it sleeps: a probe item of another queue, queued behind the other two, runs on a free worker
     * while they stay pending (inactive). They are activated in queueing order, one per completion.
     * Spec §10.4 item 88.
     */
    @Test
    void maxActiveOneActivatesWaitingItemsInOrderOnePerCompletion(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("one-at-a-time", 1);
        Timeline tl = new Timeline(kernel);
        Completion[] done = new Completion[3];
        Work[] w = new Work[3];
        for (int i = 0; i < 3; i++) {
            final int n = i;
            done[i] = new Completion(kernel);
            w[i] = new Work(self -> {
                tl.record("w" + n + " start");
                done[n].waitForCompletion();
                tl.record("w" + n + " end");
            });
        }
        try {
            for (Work item : w) {
                assertThat(wq.queueOn(0, item)).isTrue();
            }
            tl.await("w0 start");
            assertThat(probe(kernel.systemWq(), 0, () -> tl.has("w1 start"))).isTrue();
            assertThat(w[1].busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(w[2].busy()).isEqualTo(Work.BUSY_PENDING);

            done[0].complete();
            tl.await("w1 start");
            assertThat(probe(kernel.systemWq(), 0, () -> tl.has("w2 start"))).isTrue();
            assertThat(w[2].busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(tl.events()).containsExactly("w0 start", "w0 end", "w1 start");

            done[1].complete();
            tl.await("w2 start");
            done[2].complete();
            wq.flush();
        } finally {
            for (Completion c : done) {
                c.completeAll();
            }
        }

        assertThat(tl.events()).containsExactly("w0 start", "w0 end", "w1 start", "w1 end", "w2 start", "w2 end");
    }

    // ---------------------------------------------------------------- 89

    /**
     * max_active of a per-CPU queue counts per CPU: with max_active 1, an item on CPU 0 and one on
     * CPU 1 are active at the same time, while a second item on CPU 0 waits (a probe behind it
     * runs, it stays pending) until the first one there finishes. Spec §10.4 item 89.
     */
    @Test
    void maxActiveOfAPerCpuQueueCountsPerCpu(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("per-cpu-limit", 1);
        Timeline tl = new Timeline(kernel);
        Completion hold = new Completion(kernel);
        Work a0 = new Work(self -> {
            tl.record("a0 start");
            hold.waitForCompletion();
            tl.record("a0 end");
        });
        Work a1 = new Work(self -> {
            tl.record("a1 start");
            hold.waitForCompletion();
            tl.record("a1 end");
        });
        Work a2 = new Work(self -> tl.record("a2 start"));
        try {
            assertThat(wq.queueOn(0, a0)).isTrue();
            assertThat(wq.queueOn(1, a1)).isTrue();
            tl.await("a0 start");
            tl.await("a1 start");
            assertThat(wq.queueOn(0, a2)).isTrue();
            assertThat(probe(kernel.systemWq(), 0, () -> tl.has("a2 start"))).isTrue();
            assertThat(a2.busy()).isEqualTo(Work.BUSY_PENDING);
        } finally {
            hold.completeAll();
        }
        wq.flush();

        List<String> events = tl.events();
        assertThat(events).containsExactlyInAnyOrder("a0 start", "a1 start", "a0 end", "a1 end", "a2 start");
        assertThat(events.indexOf("a2 start")).isGreaterThan(events.indexOf("a0 end"));
        assertThat(tl.cpu("a0 start")).isZero();
        assertThat(tl.cpu("a1 start")).isEqualTo(1);
        assertThat(tl.cpu("a2 start")).isZero();
    }

    /**
     * max_active of an unbound queue counts system-wide: with max_active 2, one item queued from
     * each CPU are both active, and a third, queued from CPU 1 (where a per-CPU count would have
     * room), waits until one of them finishes. Spec §10.4 item 89.
     */
    @Test
    void maxActiveOfAnUnboundQueueCountsSystemWide(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("unbound-limit", 2, WqFlag.UNBOUND);
        Timeline tl = new Timeline(kernel);
        Completion done0 = new Completion(kernel);
        Completion done1 = new Completion(kernel);
        Work u0 = new Work(self -> {
            tl.record("u0 start");
            done0.waitForCompletion();
            tl.record("u0 end");
        });
        Work u1 = new Work(self -> {
            tl.record("u1 start");
            done1.waitForCompletion();
            tl.record("u1 end");
        });
        Work u2 = new Work(self -> tl.record("u2 start"));
        try {
            assertThat(kernel.runOnCpu(0, () -> wq.queue(u0))).isTrue();
            assertThat(kernel.runOnCpu(1, () -> wq.queue(u1))).isTrue();
            tl.await("u0 start");
            tl.await("u1 start");
            assertThat(kernel.runOnCpu(1, () -> wq.queue(u2))).isTrue();
            assertThat(probe(kernel.systemUnboundWq(), Workqueue.WORK_CPU_UNBOUND, () -> tl.has("u2 start"))).isTrue();
            assertThat(u2.busy()).isEqualTo(Work.BUSY_PENDING);

            done0.complete();
            tl.await("u2 start");
            assertThat(tl.has("u1 end")).isFalse();
        } finally {
            done0.completeAll();
            done1.completeAll();
        }
        wq.flush();

        List<String> events = tl.events();
        assertThat(events.indexOf("u2 start")).isGreaterThan(events.indexOf("u0 end"));
        assertThat(tl.threadName("u0 start")).matches("kworker/u\\d+:\\d+");
        assertThat(tl.thread("u1 start")).isNotSameAs(tl.thread("u0 start"));
    }

    // ---------------------------------------------------------------- 90

    /**
     * Items of an unbound queue start concurrently, one worker each, up to max_active, although
     * none of them blocks: three items burn CPU side by side on three {@code kworker/u} threads,
     * and a fourth (max_active 3) waits behind a probe that runs. Spec §10.4 item 90.
     */
    @Test
    void unboundItemsStartConcurrentlyUpToMaxActiveWithoutBlocking(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("spread", 3, WqFlag.UNBOUND);
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Work[] u = new Work[3];
        for (int i = 0; i < 3; i++) {
            final int n = i;
            u[i] = new Work(self -> {
                tl.record("u" + n + " start");
                burn.pass();
                tl.record("u" + n + " end");
            });
        }
        Work u3 = new Work(self -> tl.record("u3 start"));
        try {
            for (Work item : u) {
                assertThat(wq.queue(item)).isTrue();
            }
            for (int i = 0; i < 3; i++) {
                tl.await("u" + i + " start");
            }
            assertThat(wq.queue(u3)).isTrue();
            assertThat(probe(kernel.systemUnboundWq(), Workqueue.WORK_CPU_UNBOUND, () -> tl.has("u3 start"))).isTrue();
            assertThat(u3.busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(tl.events()).containsExactlyInAnyOrder("u0 start", "u1 start", "u2 start");
        } finally {
            burn.open();
        }
        wq.flush();

        Set<Thread> workers = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            assertThat(tl.threadName("u" + i + " start")).matches("kworker/u\\d+:\\d+");
            workers.add(tl.thread("u" + i + " start"));
        }
        assertThat(workers).hasSize(3);
        assertThat(tl.has("u3 start")).isTrue();
    }

    // ---------------------------------------------------------------- 91

    /**
     * Items of a {@code WQ_CPU_INTENSIVE} per-CPU queue do not count as running: while two of them
     * burn CPU on CPU 0, a normal item queued there starts and finishes on a third worker.
     * Spec §10.4 item 91.
     */
    @Test
    void cpuIntensiveItemsDoNotHoldBackOtherItemsOfTheirPool(Kernel kernel) {
        Workqueue intensive = kernel.allocWorkqueue("crunch", 0, WqFlag.CPU_INTENSIVE);
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Work i0 = new Work(self -> {
            tl.record("i0 start");
            burn.pass();
            tl.record("i0 end");
        });
        Work i1 = new Work(self -> {
            tl.record("i1 start");
            burn.pass();
            tl.record("i1 end");
        });
        Work n = new Work(self -> tl.record("n run"));
        try {
            assertThat(intensive.queueOn(0, i0)).isTrue();
            tl.await("i0 start");
            assertThat(intensive.queueOn(0, i1)).isTrue();
            tl.await("i1 start");
            assertThat(kernel.systemWq().queueOn(0, n)).isTrue();
            tl.await("n run");
            assertThat(tl.events()).containsExactly("i0 start", "i1 start", "n run");
        } finally {
            burn.open();
        }
        intensive.flush();

        Set<Thread> workers = Set.of(tl.thread("i0 start"), tl.thread("i1 start"), tl.thread("n run"));
        assertThat(workers).hasSize(3);
        for (Thread t : workers) {
            assertThat(t.getName()).matches("kworker/0:\\d+");
        }
    }

    // ---------------------------------------------------------------- 92

    /**
     * A per-CPU item that burns CPU without sleeping is reclassified CPU-intensive at the sampler
     * tick where it has run for the threshold (10 ms, 10 jiffies at HZ 1000), not before; the pool
     * then starts the next pending item on another worker while the first still runs.
     * Spec §10.4 item 92.
     */
    @Test
    void itemRunningPastTheCpuIntensiveThresholdLetsTheNextOneStart(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("hog", 0);
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Work w0 = new Work(self -> {
            tl.record("w0 start");
            burn.pass();
            tl.record("w0 end");
        });
        Work w1 = new Work(self -> tl.record("w1 run"));
        try {
            assertThat(wq.queueOn(0, w0)).isTrue();
            tl.await("w0 start");
            assertThat(wq.queueOn(0, w1)).isTrue();

            clock.tick(9);
            assertThat(cpuIntensiveViolations(kernel)).isZero();
            assertThat(w1.busy()).isEqualTo(Work.BUSY_PENDING);

            clock.tick();
            assertThat(cpuIntensiveViolations(kernel)).isEqualTo(1);
            tl.await("w1 run");
            assertThat(tl.has("w0 end")).isFalse();
        } finally {
            burn.open();
        }
        wq.flush();

        assertThat(tl.events()).containsExactly("w0 start", "w1 run", "w0 end");
        assertThat(tl.thread("w1 run")).isNotSameAs(tl.thread("w0 start"));
        assertThat(tl.threadName("w1 run")).matches("kworker/0:\\d+");
    }

    // ---------------------------------------------------------------- 93

    /**
     * A {@code WQ_HIGHPRI} item runs in the CPU's highpri pool ({@code kworker/N:MH}) while the
     * normal pool of that CPU is busy with an item that burns CPU and another one waits behind it.
     * Spec §10.4 item 93.
     */
    @Test
    void highpriItemIsNotDelayedByABusyNormalPool(Kernel kernel) {
        Timeline tl = new Timeline(kernel);
        Gate burn = new Gate();
        Work w0 = new Work(self -> {
            tl.record("w0 start");
            burn.pass();
            tl.record("w0 end");
        });
        Work w1 = new Work(self -> tl.record("w1 run"));
        Work h = new Work(self -> tl.record("h run"));
        try {
            assertThat(kernel.systemWq().queueOn(0, w0)).isTrue();
            tl.await("w0 start");
            assertThat(kernel.systemWq().queueOn(0, w1)).isTrue();
            assertThat(kernel.systemHighpriWq().queueOn(0, h)).isTrue();
            tl.await("h run");
            assertThat(w1.busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(tl.events()).containsExactly("w0 start", "h run");
        } finally {
            burn.open();
        }
        w1.flush();

        assertThat(tl.events()).containsExactly("w0 start", "h run", "w0 end", "w1 run");
        assertThat(tl.threadName("h run")).matches("kworker/0:\\d+H");
        assertThat(tl.threadName("w0 start")).matches("kworker/0:\\d+");
        assertThat(tl.cpu("h run")).isZero();
    }

    // ---------------------------------------------------------------- 94

    /**
     * An ordered workqueue runs its items one at a time in queueing order, whichever CPU queued
     * them, even while the first one sleeps (a non-ordered queue would start the next): the second
     * stays pending behind a probe of the unbound pool that runs. Spec §10.4 item 94.
     */
    @Test
    void orderedQueueRunsOneItemAtATimeInQueueingOrder(Kernel kernel) {
        Workqueue wq = kernel.allocOrderedWorkqueue("strict");
        Timeline tl = new Timeline(kernel);
        Completion hold = new Completion(kernel);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger mostInside = new AtomicInteger();
        int n = 8;
        Work[] o = new Work[n];
        for (int i = 0; i < n; i++) {
            final int k = i;
            o[i] = new Work(self -> {
                mostInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                tl.record("o" + k + " start");
                if (k == 0) {
                    hold.waitForCompletion();
                }
                tl.record("o" + k + " end");
                inside.decrementAndGet();
            });
        }
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add("o" + i + " start");
            expected.add("o" + i + " end");
        }
        try {
            assertThat(kernel.runOnCpu(0, () -> wq.queue(o[0]))).isTrue();
            tl.await("o0 start");
            for (int i = 1; i < n; i++) {
                final Work item = o[i];
                assertThat(kernel.runOnCpu(i % 2, () -> wq.queue(item))).isTrue();
            }
            assertThat(probe(kernel.systemUnboundWq(), Workqueue.WORK_CPU_UNBOUND, () -> tl.has("o1 start"))).isTrue();
            assertThat(o[1].busy()).isEqualTo(Work.BUSY_PENDING);
        } finally {
            hold.completeAll();
        }
        wq.flush();

        assertThat(tl.events()).containsExactlyElementsOf(expected);
        assertThat(mostInside).hasValue(1);
    }

    // ---------------------------------------------------------------- 95

    /**
     * Idle workers beyond the two a pool keeps are destroyed only once they have been idle for
     * {@code IDLE_WORKER_TIMEOUT} (300 s), oldest first, and the two most recently idle ones stay.
     * Six items that sleep make the pool start six workers and a spare; they finish 10 s apart.
     * The clock then moves in steps (HZ 100), each ending with a hardirq that wakes the idle CPU,
     * since the idle timer is deferrable; at every step no worker idle for less than 300 s may be
     * gone. Spec §10.4 item 95.
     */
    @Test
    @KdeferTest(cpus = 1, hz = 100)
    void idleWorkersBeyondTwoAreCulledOldestFirstAfterThreeHundredSeconds(Kernel kernel, ManualClock clock) {
        final int n = 6;
        final long timeout = 300L * kernel.hz();
        final int gap = 10 * kernel.hz();
        Set<String> before = liveThreads("kworker/0:\\d+").keySet();
        Workqueue wq = kernel.allocWorkqueue("cull", 0);
        Timeline tl = new Timeline(kernel);
        Completion[] done = new Completion[n];
        Work[] w = new Work[n];
        for (int i = 0; i < n; i++) {
            final int k = i;
            done[i] = new Completion(kernel);
            w[i] = new Work(self -> {
                tl.record("w" + k + " start");
                done[k].waitForCompletion();
                tl.record("w" + k + " end");
            });
        }
        Map<Thread, Long> idleSince = new LinkedHashMap<>();   // oldest first
        try {
            for (Work item : w) {
                assertThat(wq.queueOn(0, item)).isTrue();
            }
            Thread[] worker = new Thread[n];
            for (int i = 0; i < n; i++) {
                tl.await("w" + i + " start");
                worker[i] = tl.thread("w" + i + " start");
            }
            Map<String, Thread> started = liveThreads("kworker/0:\\d+");
            started.keySet().removeAll(before);
            assertThat(started).as("six busy workers and one idle spare").hasSize(n + 1);
            List<Thread> spare = new ArrayList<>(started.values());
            spare.removeAll(List.of(worker));
            assertThat(spare).hasSize(1);
            awaitIdle(spare.get(0));
            idleSince.put(spare.get(0), kernel.jiffies());

            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    advance(kernel, clock, gap);
                }
                done[i].complete();
                tl.await("w" + i + " end");
                awaitIdle(worker[i]);
                idleSince.put(worker[i], kernel.jiffies());
            }
        } finally {
            for (Completion c : done) {
                c.completeAll();
            }
        }
        assertThat(culled(kernel)).isZero();

        // step to every "idle for 300 s" mark and past it, in steps of at most 1 s
        List<Thread> candidates = new ArrayList<>(idleSince.keySet());
        List<Thread> ended = new ArrayList<>();
        long last = 0;
        for (long since : idleSince.values()) {
            last = Math.max(last, since);
        }
        long stopAt = last + timeout + 10L * kernel.hz();
        while (kernel.jiffies() < stopAt) {
            long now = kernel.jiffies();
            long next = Math.min(now + kernel.hz(), stopAt);
            for (long since : idleSince.values()) {
                long mark = since + timeout - 1;   // the last jiffy before it has idled 300 s
                if (mark > now && mark < next) {
                    next = mark;
                }
            }
            advance(kernel, clock, (int) (next - now));
            long c = culled(kernel);
            Waits.spinUntil(() -> endedCount(candidates) == c,
                    () -> c + " workers culled, but these ended: " + endedOf(candidates));
            for (Thread t : candidates) {
                if (!t.isAlive() && !ended.contains(t)) {
                    ended.add(t);
                }
            }
            long eligible = 0;
            for (long since : idleSince.values()) {
                if (kernel.jiffies() - since >= timeout) {
                    eligible++;
                }
            }
            assertThat(c).as("culled at jiffy %d, idle for 300 s by then: %d", kernel.jiffies(), eligible)
                    .isLessThanOrEqualTo(eligible);
        }

        assertThat(culled(kernel)).isEqualTo(n - 1);
        assertThat(ended).containsExactlyElementsOf(candidates.subList(0, n - 1));
        for (Thread kept : candidates.subList(n - 1, n + 1)) {
            assertThat(kept.isAlive()).as(kept.getName() + " kept").isTrue();
        }
    }

    /** Ticks {@code n} jiffies, then wakes CPU 0 with an empty hardirq so that due deferrable timers run. */
    private static void advance(Kernel kernel, ManualClock clock, int n) {
        clock.tick(n);
        kernel.smpCallFunctionSingle(0, () -> { }, true);
    }

    private static long endedCount(List<Thread> threads) {
        long n = 0;
        for (Thread t : threads) {
            if (!t.isAlive()) {
                n++;
            }
        }
        return n;
    }

    private static List<String> endedOf(List<Thread> threads) {
        List<String> out = new ArrayList<>();
        for (Thread t : threads) {
            if (!t.isAlive()) {
                out.add(t.getName());
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- 101

    /**
     * Sixteen flushers of one queue at once, each started behind one more sleeping item (spread
     * over both CPUs): fifteen take the fifteen flush colors that can be in flight, the sixteenth
     * waits for a color; one more sleeping item is queued after all of them. Finishing the items of
     * the later half first releases nobody; then each item of the first half releases exactly its
     * flusher, in order (the first flusher is not held back by the item queued after it, which a
     * sixteenth color in flight would have given the first flusher's color); the last of them
     * releases flushers 8 to 14, and the sixteenth returns once the extra item is done too. Every
     * flusher returns only after every item queued before its call has finished. Spec §10.4 item
     * 101.
     */
    @Test
    void sixteenConcurrentFlushersAllCompleteInOrder(Kernel kernel) {
        final int n = 16;
        Workqueue wq = kernel.allocWorkqueue("colors", 0);
        Completion[] done = new Completion[n + 1];
        AtomicBoolean[] finished = new AtomicBoolean[n + 1];
        Work[] items = new Work[n + 1];
        for (int i = 0; i <= n; i++) {
            final int k = i;
            done[i] = new Completion(kernel);
            finished[i] = new AtomicBoolean();
            items[i] = new Work(self -> {
                done[k].waitForCompletion();
                finished[k].set(true);
            });
        }
        boolean[] priorDoneAtReturn = new boolean[n];
        io.kdefer.testkit.Worker[] flushers = new io.kdefer.testkit.Worker[n];
        try {
            for (int i = 0; i < n; i++) {
                final int k = i;
                assertThat(wq.queueOn(i % 2, items[i])).isTrue();
                flushers[i] = io.kdefer.testkit.Worker.start("flusher-" + i, () -> {
                    wq.flush();
                    boolean all = true;
                    for (int j = 0; j <= k; j++) {
                        all &= finished[j].get();
                    }
                    priorDoneAtReturn[k] = all;
                });
                Waits.awaitParkedOn(flushers[i], b -> b instanceof WaitQueue);
            }
            assertThat(wq.queueOn(0, items[n])).isTrue();

            for (int i = n - 1; i >= n / 2; i--) {
                done[i].complete();
            }
            for (int i = n / 2; i < n; i++) {
                final int k = i;
                Waits.spinUntil(finished[k]::get, () -> "item " + k + " finished");
            }
            for (int i = 0; i < n / 2; i++) {
                done[i].complete();
                flushers[i].joinAndCheck();
                assertThat(priorDoneAtReturn[i]).as("flusher %d returned after items 0..%d", i, i).isTrue();
                for (int j = i + 1; j < n && i < n / 2 - 1; j++) {
                    assertThat(flushers[j].isAlive()).as("flusher %d still waits", j).isTrue();
                }
            }
            for (int i = n / 2; i < n - 1; i++) {
                flushers[i].joinAndCheck();
                assertThat(priorDoneAtReturn[i]).as("flusher %d returned after items 0..%d", i, i).isTrue();
            }
            done[n].complete();
            flushers[n - 1].joinAndCheck();
            assertThat(priorDoneAtReturn[n - 1]).as("flusher %d returned after items 0..%d", n - 1, n - 1).isTrue();
        } finally {
            for (Completion c : done) {
                c.completeAll();
            }
            for (io.kdefer.testkit.Worker f : flushers) {
                io.kdefer.testkit.Worker.joinQuietly(f);
            }
        }
    }
}
