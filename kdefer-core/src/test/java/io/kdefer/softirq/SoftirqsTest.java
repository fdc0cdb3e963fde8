package io.kdefer.softirq;

import io.kdefer.testkit.Waits;
import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.ManualClock;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.tasklet.Tasklet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

import static io.kdefer.KernelStats.Counter.HARDIRQS;
import static io.kdefer.KernelStats.Counter.KSOFTIRQD_BATCHES;
import static io.kdefer.KernelStats.Counter.KSOFTIRQD_WAKEUPS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_HANDOFFS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_INVOCATIONS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_PASSES;
import static io.kdefer.softirq.SoftirqVector.BLOCK;
import static io.kdefer.softirq.SoftirqVector.HI;
import static io.kdefer.softirq.SoftirqVector.HRTIMER;
import static io.kdefer.softirq.SoftirqVector.IRQ_POLL;
import static io.kdefer.softirq.SoftirqVector.NET_RX;
import static io.kdefer.softirq.SoftirqVector.NET_TX;
import static io.kdefer.softirq.SoftirqVector.RCU;
import static io.kdefer.softirq.SoftirqVector.SCHED;
import static io.kdefer.softirq.SoftirqVector.TASKLET;
import static io.kdefer.softirq.SoftirqVector.TIMER;
import static io.kdefer.testkit.TestKernels.onCpu;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The softirq table and the processing loop: spec §10.1 items 1–15 and 17, plus the table's own
 * API ({@code open}, {@code /proc/softirqs}, errors in actions).
 *
 * <p>Every kernel here runs on a {@link ManualClock} that only the tests advance, and is started
 * with {@link TestKernels#start} so its threads are parked before the first raise. Which thread ran
 * an action, and in which invocation of the loop, is then fully determined by the scenario.
 */
class SoftirqsTest {
    /** The vectors a user may open: all but HI, TIMER and TASKLET. */
    private static final SoftirqVector[] USER_VECTORS = {NET_TX, NET_RX, BLOCK, IRQ_POLL, SCHED, HRTIMER, RCU};

    private CollectingErrors errors;

    /** The test's error collector; the extension fails the test on an error it did not take. */
    @BeforeEach
    void errors(CollectingErrors collector) {
        errors = collector;
    }

    private Kernel start(int cpus) {
        return TestKernels.start(TestKernels.manual(cpus, errors));
    }

    private Kernel start(int cpus, int hz) {
        return TestKernels.start(TestKernels.manual(cpus, errors).hz(hz));
    }

    // ------------------------------------------------------------------ items 1-3: one pass

    /**
     * Raising a vector that is already pending adds nothing: two raises in one hardirq, and three
     * raises inside one bottom-half-disabled section, each give exactly one invocation. Spec §10
     * item 1.
     */
    @Test
    void raisingAPendingVectorAgainGivesOneInvocation() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            AtomicInteger runs = new AtomicInteger();
            s.open(NET_RX, runs::incrementAndGet);

            k.smpCallFunctionSingle(0, () -> {
                s.raise(NET_RX);
                s.raise(NET_RX);
            }, true);
            assertThat(runs).hasValue(1);
            assertThat(s.count(0, NET_RX)).isEqualTo(1);

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    s.raise(NET_RX);
                    s.raise(NET_RX);
                    s.raise(NET_RX);
                    assertThat(s.pending(0)).isEqualTo(NET_RX.mask());
                } finally {
                    k.localBhEnable();
                }
            });
            assertThat(runs).hasValue(2);
            assertThat(s.count(0, NET_RX)).isEqualTo(2);
            assertThat(s.pending(0)).isZero();
        }
    }

    /**
     * Vectors pending together run in one pass, lowest number first, whatever order they were
     * raised in: HI (a high-priority tasklet) first, TASKLET between IRQ_POLL and SCHED, RCU last.
     * Spec §10 item 2.
     */
    @Test
    void onePassRunsPendingVectorsInAscendingVectorOrder() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            for (SoftirqVector v : USER_VECTORS) {
                s.open(v, () -> order.add(v.name()));
            }
            Tasklet hi = Tasklet.setup(k, t -> order.add("HI"));
            Tasklet normal = Tasklet.setup(k, t -> order.add("TASKLET"));

            k.smpCallFunctionSingle(0, () -> {
                s.raise(RCU);
                s.raise(HRTIMER);
                s.raise(SCHED);
                normal.schedule();
                s.raise(IRQ_POLL);
                s.raise(BLOCK);
                s.raise(NET_RX);
                s.raise(NET_TX);
                hi.hiSchedule();
            }, true);

            assertThat(order).containsExactly(
                    "HI", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU");
            KernelStats st = k.stats();
            assertThat(st.get(0, SOFTIRQ_INVOCATIONS)).isEqualTo(1);
            assertThat(st.get(0, SOFTIRQ_PASSES)).isEqualTo(1);
            for (SoftirqVector v : SoftirqVector.values()) {
                assertThat(s.count(0, v)).as(v.name()).isEqualTo(v == TIMER ? 0 : 1);
            }
        }
    }

    /**
     * A vector raised by an action while a pass runs is not run again in that pass, even when it
     * is a lower vector than the one running or a higher one not yet reached; it runs in the next
     * pass of the same invocation, after the higher vectors of that pass are ordered by number.
     * Spec §10 item 3.
     */
    @Test
    void vectorRaisedDuringAPassRunsInTheNextPassOfTheSameInvocation() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger blockRuns = new AtomicInteger();
            s.open(NET_TX, () -> log.add("NET_TX@" + k.stats().get(0, SOFTIRQ_PASSES)));
            s.open(BLOCK, () -> {
                log.add("BLOCK@" + k.stats().get(0, SOFTIRQ_PASSES));
                if (blockRuns.incrementAndGet() == 1) {
                    s.raise(NET_TX);   // lower than BLOCK: already passed in this pass
                    s.raise(BLOCK);    // itself
                    s.raise(RCU);      // higher, but not in this pass's snapshot
                }
            });
            s.open(RCU, () -> log.add("RCU@" + k.stats().get(0, SOFTIRQ_PASSES)));

            k.smpCallFunctionSingle(0, () -> {
                s.raise(BLOCK);
                s.raise(NET_TX);
            }, true);

            assertThat(log).containsExactly("NET_TX@1", "BLOCK@1", "NET_TX@2", "BLOCK@2", "RCU@2");
            KernelStats st = k.stats();
            assertThat(st.get(0, SOFTIRQ_INVOCATIONS)).isEqualTo(1);
            assertThat(st.get(0, SOFTIRQ_PASSES)).isEqualTo(2);
            assertThat(st.get(0, SOFTIRQ_HANDOFFS)).isZero();
        }
    }

    // ------------------------------------------------------------------ items 4-7, 17: budgets

    /**
     * A vector that re-raises itself 25 times with the clock standing still: the invocation at
     * irq_exit on {@code cpu/0} makes exactly 10 passes and hands off; {@code ksoftirqd/0} runs
     * the rest in batches of at most 10 passes (10, then 5). Spec §10 items 4, 7 and 17.
     */
    @Test
    void oneInvocationMakesAtMostTenPassesAndKsoftirqdRunsTheRestInBatchesOfTen() throws Exception {
        Chain chain;
        KernelStats st;
        try (Kernel k = start(1)) {
            long j0 = k.jiffies();
            chain = new Chain(k, NET_RX, 25, n -> { });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), true);
            chain.awaitDone(0);
            assertThat(k.jiffies()).isEqualTo(j0);
            assertThat(k.softirqs().count(0, NET_RX)).isEqualTo(25);
            k.close();
            st = k.stats();
        }
        assertThat(chain.invocations(0)).containsExactly("cpu/0 x10", "ksoftirqd/0 x10", "ksoftirqd/0 x5");
        assertThat(st.get(0, SOFTIRQ_PASSES)).isEqualTo(25);
        assertThat(st.get(0, SOFTIRQ_INVOCATIONS)).isEqualTo(3);
        assertThat(st.get(0, SOFTIRQ_HANDOFFS)).isEqualTo(2);
        assertThat(st.get(0, KSOFTIRQD_BATCHES)).isEqualTo(2);
        assertThat(st.get(0, KSOFTIRQD_WAKEUPS)).isPositive();
    }

    /**
     * The time budget: the loop stops restarting once jiffies reach its start plus
     * {@code msecs_to_jiffies(2)}, i.e. 2 jiffies at HZ=1000 and 1 jiffy at HZ=300, 250 and 100,
     * even though fewer than 10 passes were made. The action ticks the clock in calls 3 and 5: at
     * HZ=1000 the first invocation stops after pass 5; below, after pass 3, and the ksoftirqd
     * batch that follows stops after its own one-jiffy budget (call 5). A tick from a softirq on
     * {@code cpu/0} runs nested; from {@code ksoftirqd/0} it is delivered to {@code cpu/0}.
     * Spec §10 items 5, 7 and 17.
     */
    @ParameterizedTest(name = "HZ={0}")
    @CsvSource({
            "1000, cpu/0 x5 | ksoftirqd/0 x7",
            "300,  cpu/0 x3 | ksoftirqd/0 x2 | ksoftirqd/0 x7",
            "250,  cpu/0 x3 | ksoftirqd/0 x2 | ksoftirqd/0 x7",
            "100,  cpu/0 x3 | ksoftirqd/0 x2 | ksoftirqd/0 x7",
    })
    void loopStopsRestartingWhenJiffiesReachStartPlusMaxSoftirqTime(int hz, String expected) throws Exception {
        Chain chain;
        try (Kernel k = start(1, hz)) {
            ManualClock clock = TestKernels.clock(k);
            long j0 = k.jiffies();
            chain = new Chain(k, NET_RX, 12, n -> {
                if (n == 3 || n == 5) {
                    clock.tick();
                }
            });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), true);
            chain.awaitDone(0);
            assertThat(k.jiffies()).isEqualTo(j0 + 2);
        }
        assertThat(chain.invocations(0)).containsExactly(expected.split(" \\| "));
    }

    /**
     * {@code need_resched}: an action that marks the CPU as needing a reschedule ends the restart
     * loop after the current pass; the rest goes to {@code ksoftirqd/0}, which clears the mark
     * and runs full batches. Spec §10 items 6 and 7.
     */
    @ParameterizedTest(name = "need_resched set in call {0}")
    @CsvSource({
            "1, cpu/0 x1 | ksoftirqd/0 x10 | ksoftirqd/0 x1",
            "2, cpu/0 x2 | ksoftirqd/0 x10",
            "5, cpu/0 x5 | ksoftirqd/0 x7",
    })
    void needReschedEndsTheRestartLoopAfterTheCurrentPass(int setInCall, String expected) throws Exception {
        Chain chain;
        KernelStats st;
        try (Kernel k = start(1)) {
            chain = new Chain(k, NET_RX, 12, n -> {
                if (n == setInCall) {
                    k.setNeedResched(0);
                }
            });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), true);
            chain.awaitDone(0);
            k.close();
            st = k.stats();
        }
        assertThat(chain.invocations(0)).containsExactly(expected.split(" \\| "));
        assertThat(st.get(0, SOFTIRQ_PASSES)).isEqualTo(12);
    }

    /**
     * Work left over by an invocation on CPU 1 is run by {@code ksoftirqd/1}, never by another
     * CPU's threads, and every CPU keeps its own pending bits: four CPUs each run a 25-call
     * self-raising chain at the same time; each call runs on the CPU that raised it, the first 10
     * on {@code cpu/N}, the other 15 on {@code ksoftirqd/N}. Spec §10 items 7 and 8.
     */
    @Test
    void aRaisedVectorRunsOnlyOnTheRaisingCpuAndItsKsoftirqd() throws Exception {
        final int cpus = 4;
        Chain chain;
        try (Kernel k = start(cpus)) {
            chain = new Chain(k, NET_RX, 25, n -> { });
            for (int c = 0; c < cpus; c++) {
                k.smpCallFunctionSingle(c, () -> k.softirqs().raise(NET_RX), false);
            }
            for (int c = 0; c < cpus; c++) {
                chain.awaitDone(c);
            }
            for (int c = 0; c < cpus; c++) {
                assertThat(k.softirqs().count(c, NET_RX)).isEqualTo(25);
            }
        }
        for (int c = 0; c < cpus; c++) {
            for (Call call : chain.calls()) {
                if (call.cpu == c) {
                    assertThat(call.thread).isIn("cpu/" + c, "ksoftirqd/" + c);
                }
            }
            assertThat(chain.invocations(c)).containsExactly(
                    "cpu/" + c + " x10", "ksoftirqd/" + c + " x10", "ksoftirqd/" + c + " x5");
        }
    }

    /**
     * The builder's budget replaces the kernel's 10 passes: with 3 passes a 10-call self-raising
     * chain runs 3 calls on {@code cpu/0}, the rest in batches of 3 on {@code ksoftirqd/0}; with no
     * budget all 10 run in one invocation on {@code cpu/0}. Out-of-range budgets are refused.
     * Spec §10 item 7 (the budget), as the lab's softirq-flood experiment varies it.
     */
    @Test
    void theBuilderSetsOrRemovesTheSoftirqBudget() throws Exception {
        Chain three;
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors).softirqBudget(3, java.time.Duration.ofSeconds(1)))) {
            three = new Chain(k, NET_RX, 10, n -> { });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), false);
            three.awaitDone(0);
        }
        assertThat(three.invocations(0)).containsExactly("cpu/0 x3", "ksoftirqd/0 x3", "ksoftirqd/0 x3",
                "ksoftirqd/0 x1");

        Chain unlimited;
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors).noSoftirqBudget())) {
            unlimited = new Chain(k, NET_RX, 25, n -> { });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), false);
            unlimited.awaitDone(0);
        }
        assertThat(unlimited.invocations(0)).containsExactly("cpu/0 x25");

        assertThatThrownBy(() -> Kernel.builder().softirqBudget(0, java.time.Duration.ofMillis(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("passes per invocation must be >= 1");
        assertThatThrownBy(() -> Kernel.builder().softirqBudget(10, java.time.Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not be negative");
    }

    /**
     * Once an invocation on {@code cpu/0} has handed its work to {@code ksoftirqd/0}, the daemon
     * keeps it until nothing is pending: interrupts that arrive meanwhile (a stream of hardirqs,
     * some of them between two of ksoftirqd's batches, when nobody owns the bottom halves) leave
     * the vector to it, as an idle CPU that switched to the woken ksoftirqd would. So every call
     * that ran on {@code cpu/0} comes before the first one on {@code ksoftirqd/0}. Spec §10
     * items 7 and 27.
     */
    @Test
    void afterAHandOffLaterInterruptsLeaveTheWorkToKsoftirqd() throws Exception {
        final int limit = 400;
        Chain chain;
        try (Kernel k = start(1)) {
            chain = new Chain(k, NET_RX, limit, n -> { });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), false);
            while (chain.count(0) < limit) {
                k.smpCallFunctionSingle(0, () -> { }, true);   // a hardirq, then irq exit on cpu/0
            }
            chain.awaitDone(0);
        }
        List<String> threads = new ArrayList<>();
        for (Call call : chain.calls()) {
            threads.add(call.thread);
        }
        int firstDaemon = threads.indexOf("ksoftirqd/0");
        assertThat(firstDaemon).as("the first invocation hands off after its 10 passes").isEqualTo(10);
        assertThat(threads.subList(firstDaemon, threads.size())).containsOnly("ksoftirqd/0");
    }

    /**
     * Raising from task context with bottom halves enabled wakes that CPU's {@code ksoftirqd},
     * which runs the vector: from a task on its home CPU and from {@code runOnCpu(1)}. Spec §10
     * items 8 and 9.
     */
    @Test
    void raisingFromTaskContextWakesThatCpusKsoftirqd() throws Exception {
        List<String> ran = Collections.synchronizedList(new ArrayList<>());
        KernelStats st;
        int home;
        try (Kernel k = start(2)) {
            Softirqs s = k.softirqs();
            CountDownLatch[] done = {new CountDownLatch(1), new CountDownLatch(1)};
            s.open(NET_RX, () -> {
                ran.add(Thread.currentThread().getName() + " cpu " + k.smpProcessorId());
                done[ran.size() - 1].countDown();
            });
            home = k.smpProcessorId();
            assertThat(home).isEqualTo((int) (Thread.currentThread().getId() % 2));
            s.raise(NET_RX);
            Waits.await(done[0], "the raise on the home CPU");
            onCpu(k, 1 - home, () -> s.raise(NET_RX));
            Waits.await(done[1], "the raise on the other CPU");
            k.close();
            st = k.stats();
        }
        assertThat(ran).containsExactly("ksoftirqd/" + home + " cpu " + home,
                "ksoftirqd/" + (1 - home) + " cpu " + (1 - home));
        for (int c = 0; c < 2; c++) {
            assertThat(st.get(c, KSOFTIRQD_WAKEUPS)).as("wake-ups of ksoftirqd/" + c).isEqualTo(1);
            assertThat(st.get(c, KSOFTIRQD_BATCHES)).isEqualTo(1);
            assertThat(st.get(c, SOFTIRQ_INVOCATIONS)).isEqualTo(1);
        }
    }

    // ------------------------------------------------------------------ items 10-12: where it runs

    /**
     * A vector raised in a hardirq does not wake {@code ksoftirqd}: it runs on {@code cpu/0} at
     * the exit of the outermost interrupt, not at the exit of a nested one, and before
     * {@code smpCallFunctionSingle(..., wait=true)} returns. Spec §10 item 10.
     */
    @Test
    void vectorRaisedInHardirqRunsAtOutermostIrqExitWithoutWakingKsoftirqd() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            List<String> ran = Collections.synchronizedList(new ArrayList<>());
            s.open(NET_RX, () -> ran.add(Thread.currentThread().getName()));
            AtomicInteger pendingAfterNested = new AtomicInteger(-1);
            AtomicInteger runsAfterNested = new AtomicInteger(-1);

            k.smpCallFunctionSingle(0, () -> {
                k.smpCallFunctionSingle(0, () -> s.raise(NET_RX), true);   // nested hardirq
                pendingAfterNested.set(s.pending(0));
                runsAfterNested.set(ran.size());
            }, true);

            assertThat(runsAfterNested).as("runs when the nested interrupt had exited").hasValue(0);
            assertThat(pendingAfterNested).hasValue(NET_RX.mask());
            assertThat(ran).containsExactly("cpu/0");
            KernelStats st = k.stats();
            assertThat(st.get(0, KSOFTIRQD_WAKEUPS)).isZero();
            assertThat(st.get(0, KSOFTIRQD_BATCHES)).isZero();
            assertThat(st.get(0, SOFTIRQ_INVOCATIONS)).isEqualTo(1);
        }
    }

    /**
     * A vector raised inside a bottom-half-disabled section neither runs there nor wakes
     * {@code ksoftirqd}; the outermost {@code localBhEnable()} runs it on the calling thread, in
     * softirq context, before returning. Spec §10 item 11.
     */
    @Test
    void vectorRaisedWithBhDisabledRunsInsideTheOutermostEnable() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            List<String> ran = Collections.synchronizedList(new ArrayList<>());
            s.open(NET_RX, () -> ran.add(Thread.currentThread().getName() + " serving=" + k.inServingSoftirq()));
            String me = Thread.currentThread().getName();

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    s.raise(NET_RX);
                    assertThat(ran).isEmpty();
                    assertThat(s.pending(0)).isEqualTo(NET_RX.mask());
                } finally {
                    k.localBhEnable();
                }
                assertThat(ran).containsExactly(me + " serving=true");
            });

            KernelStats st = k.stats();
            assertThat(st.get(0, KSOFTIRQD_WAKEUPS)).isZero();
            assertThat(st.get(0, KSOFTIRQD_BATCHES)).isZero();
            assertThat(st.get(0, SOFTIRQ_INVOCATIONS)).isEqualTo(1);
        }
    }

    /**
     * A hardirq that raises a vector while a task has bottom halves disabled on the same CPU does
     * not run it at its irq_exit and wakes nobody: the task's outermost {@code localBhEnable()}
     * runs it, on the task's thread. Spec §10 items 10 and 11.
     */
    @Test
    void vectorRaisedByAHardirqDuringATasksBhSectionRunsAtTheTasksEnable() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            List<String> ran = Collections.synchronizedList(new ArrayList<>());
            s.open(BLOCK, () -> ran.add(Thread.currentThread().getName()));
            String me = Thread.currentThread().getName();

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    k.smpCallFunctionSingle(0, () -> s.raise(BLOCK), true);
                    assertThat(ran).isEmpty();
                    assertThat(s.pending(0)).isEqualTo(BLOCK.mask());
                } finally {
                    k.localBhEnable();
                }
                assertThat(ran).containsExactly(me);
            });
            assertThat(k.stats().get(0, KSOFTIRQD_WAKEUPS)).isZero();
        }
    }

    /**
     * With nested {@code localBhDisable()} sections only the outermost enable runs what was
     * raised; inner enables leave it pending. Spec §10 item 12.
     */
    @Test
    void nestedBhSectionsRunPendingVectorsOnlyAtTheOutermostEnable() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            AtomicInteger runs = new AtomicInteger();
            s.open(NET_TX, runs::incrementAndGet);

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    k.localBhDisable();
                    try {
                        k.localBhDisable();
                        try {
                            s.raise(NET_TX);
                        } finally {
                            k.localBhEnable();
                        }
                        assertThat(runs).hasValue(0);
                    } finally {
                        k.localBhEnable();
                    }
                    assertThat(runs).hasValue(0);
                    assertThat(s.pending(0)).isEqualTo(NET_TX.mask());
                    assertThat(k.inSoftirq()).isTrue();
                } finally {
                    k.localBhEnable();
                }
                assertThat(runs).hasValue(1);
                assertThat(k.inSoftirq()).isFalse();
            });
            assertThat(k.stats().get(0, KSOFTIRQD_WAKEUPS)).isZero();
        }
    }

    /**
     * Inside a softirq action a bottom-half section is allowed, and its enable does not run
     * anything (the thread is already in interrupt context): a vector raised there runs in the
     * next pass of the loop that is running. Spec §2.7; related to §10 items 3 and 12.
     */
    @Test
    void bhSectionInsideAnActionDefersToTheNextPass() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            s.open(NET_TX, () -> log.add("NET_TX@" + k.stats().get(0, SOFTIRQ_PASSES)));
            s.open(NET_RX, () -> {
                k.localBhDisable();
                try {
                    log.add("count " + Integer.toHexString(k.preemptCount()));
                    s.raise(NET_TX);
                } finally {
                    k.localBhEnable();
                }
                log.add("after enable " + Integer.toHexString(k.preemptCount()) + " pending " + s.pending(0));
            });

            k.smpCallFunctionSingle(0, () -> s.raise(NET_RX), true);

            assertThat(log).containsExactly(
                    "count 300", "after enable 100 pending " + NET_TX.mask(), "NET_TX@2");
        }
    }

    // ------------------------------------------------------------------ items 13-15: context

    /** What the context predicates said at one place. */
    private static final class Seen {
        final String where;
        final String thread;
        final boolean inInterrupt;
        final boolean inServingSoftirq;

        Seen(Kernel k, String where) {
            this.where = where;
            this.thread = Thread.currentThread().getName();
            this.inInterrupt = k.inInterrupt();
            this.inServingSoftirq = k.inServingSoftirq();
        }

        @Override
        public String toString() {
            return where + ": in_interrupt=" + inInterrupt + " in_serving_softirq=" + inServingSoftirq;
        }
    }

    /**
     * {@code in_interrupt()} is true inside a hardirq, inside a bottom-half-disabled section and
     * inside softirq actions (run at irq_exit, by ksoftirqd, or at localBhEnable), and false in
     * plain task context. {@code in_serving_softirq()} is true only inside the actions, ksoftirqd
     * included, and false in a mere bottom-half-disabled section. Spec §10 items 13 and 14.
     */
    @Test
    void contextPredicatesInEveryContext() throws Exception {
        List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
        try (Kernel k = start(2)) {
            Softirqs s = k.softirqs();
            AtomicReference<String> label = new AtomicReference<>();
            CountDownLatch[] ran = {new CountDownLatch(1)};
            s.open(NET_RX, () -> {
                seen.add(new Seen(k, label.get()));
                ran[0].countDown();
            });

            seen.add(new Seen(k, "task"));
            onCpu(k, 1, () -> seen.add(new Seen(k, "task on cpu 1")));
            k.smpCallFunctionSingle(0, () -> seen.add(new Seen(k, "hardirq")), true);

            label.set("softirq at irq_exit");
            k.smpCallFunctionSingle(0, () -> s.raise(NET_RX), true);

            label.set("softirq at local_bh_enable");
            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    seen.add(new Seen(k, "bh disabled"));
                    s.raise(NET_RX);
                } finally {
                    k.localBhEnable();
                }
            });

            label.set("softirq in ksoftirqd");
            ran[0] = new CountDownLatch(1);
            onCpu(k, 1, () -> s.raise(NET_RX));
            Waits.await(ran[0], "NET_RX in ksoftirqd/1");
        }

        assertThat(seen).extracting(x -> x.toString()).containsExactly(
                "task: in_interrupt=false in_serving_softirq=false",
                "task on cpu 1: in_interrupt=false in_serving_softirq=false",
                "hardirq: in_interrupt=true in_serving_softirq=false",
                "softirq at irq_exit: in_interrupt=true in_serving_softirq=true",
                "bh disabled: in_interrupt=true in_serving_softirq=false",
                "softirq at local_bh_enable: in_interrupt=true in_serving_softirq=true",
                "softirq in ksoftirqd: in_interrupt=true in_serving_softirq=true");
        assertThat(seen.get(3).thread).isEqualTo("cpu/0");
        assertThat(seen.get(5).thread).isEqualTo(Thread.currentThread().getName());
        assertThat(seen.get(6).thread).isEqualTo("ksoftirqd/1");
    }

    /**
     * {@code localBhEnable()} (and {@code localBhDisable()}) from hardirq context is refused with
     * an {@link IllegalStateException}, which {@code smpCallFunctionSingle(..., wait=true)} hands
     * back; the CPU's context is intact afterwards and it keeps serving softirqs. Spec §10 item 15
     * (there is no "interrupts disabled" state to test the second half of the item with).
     */
    @Test
    void localBhEnableFromHardirqIsRejected() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            AtomicInteger runs = new AtomicInteger();
            s.open(NET_RX, runs::incrementAndGet);

            assertThatThrownBy(() -> k.smpCallFunctionSingle(0, k::localBhEnable, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("local_bh_enable()")
                    .hasMessageContaining("hardirq");
            assertThatThrownBy(() -> k.smpCallFunctionSingle(0, k::localBhDisable, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("local_bh_disable()")
                    .hasMessageContaining("hardirq");

            AtomicInteger countInHardirq = new AtomicInteger();
            k.smpCallFunctionSingle(0, () -> {
                countInHardirq.set(k.preemptCount());
                s.raise(NET_RX);
            }, true);
            assertThat(countInHardirq).hasValue(0x10000);
            assertThat(runs).hasValue(1);
        }
    }

    /**
     * {@code localBhEnable()} inside a softirq action without a matching disable is refused: the
     * serving bit is not a disable count. Spec §1.1 and §2.3; related to §10 item 15.
     */
    @Test
    void localBhEnableInsideAnActionWithoutDisableIsRejected() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            s.open(NET_RX, () -> {
                try {
                    k.localBhEnable();
                } catch (Throwable t) {
                    thrown.set(t);
                }
            });
            k.smpCallFunctionSingle(0, () -> s.raise(NET_RX), true);
            assertThat(thrown.get())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("without a matching local_bh_disable()");
        }
    }

    /**
     * In ksoftirqd the same budgets hold per batch: with the clock standing still a batch makes at
     * most 10 passes; with ticks in calls 3 and 5 (HZ=1000) the first batch stops after pass 5;
     * with need_resched set in call 4 it stops after pass 4 and the next batch is a full one.
     * Spec §10 item 17 (the yield between batches is not observable deterministically).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "passes,      ksoftirqd/0 x10 | ksoftirqd/0 x10 | ksoftirqd/0 x10 | ksoftirqd/0 x5",
            "ticks,       ksoftirqd/0 x5 | ksoftirqd/0 x10 | ksoftirqd/0 x10 | ksoftirqd/0 x10",
            "needResched, ksoftirqd/0 x4 | ksoftirqd/0 x10 | ksoftirqd/0 x10 | ksoftirqd/0 x10 | ksoftirqd/0 x1",
    })
    void ksoftirqdBatchesObeyTheSameBudgets(String limit, String expected) throws Exception {
        Chain chain;
        KernelStats st;
        try (Kernel k = start(1)) {
            ManualClock clock = TestKernels.clock(k);
            IntConsumer hook;
            switch (limit) {
                case "passes":
                    hook = n -> { };
                    break;
                case "ticks":
                    hook = n -> {
                        if (n == 3 || n == 5) {
                            clock.tick();
                        }
                    };
                    break;
                default:
                    hook = n -> {
                        if (n == 4) {
                            k.setNeedResched(0);
                        }
                    };
            }
            int total = Arrays.stream(expected.split(" \\| "))
                    .mapToInt(x -> Integer.parseInt(x.substring(x.indexOf('x') + 1))).sum();
            chain = new Chain(k, NET_RX, total, hook);
            k.softirqs().raise(NET_RX);   // from the test thread: task context, home CPU 0
            chain.awaitDone(0);
            k.close();
            st = k.stats();
        }
        List<String> batches = Arrays.asList(expected.split(" \\| "));
        assertThat(chain.invocations(0)).containsExactlyElementsOf(batches);
        assertThat(st.get(0, KSOFTIRQD_BATCHES)).isEqualTo(batches.size());
        assertThat(st.get(0, SOFTIRQ_HANDOFFS)).isEqualTo(batches.size() - 1);
    }

    // ------------------------------------------------------------------ raise variants

    /**
     * {@code raiseIrqoff} ({@code __raise_softirq_irqoff}) only marks the vector pending: from
     * task context it wakes nobody and the vector waits; the next interrupt on that CPU (a tick)
     * runs it at irq_exit, before {@code tick()} returns. Spec §2.3.
     */
    @Test
    void raiseIrqoffWakesNobodyAndTheNextIrqExitRunsIt() {
        try (Kernel k = start(2)) {
            Softirqs s = k.softirqs();
            List<String> ran = Collections.synchronizedList(new ArrayList<>());
            s.open(SCHED, () -> ran.add(Thread.currentThread().getName()));

            onCpu(k, 1, () -> s.raiseIrqoff(SCHED));
            assertThat(s.pending(1)).isEqualTo(SCHED.mask());
            assertThat(s.pending(0)).isZero();
            assertThat(ran).isEmpty();
            assertThat(k.stats().get(1, KSOFTIRQD_WAKEUPS)).isZero();

            TestKernels.clock(k).tick();
            assertThat(ran).containsExactly("cpu/1");
            assertThat(s.pending(1)).isZero();
        }
    }

    // ------------------------------------------------------------------ the table

    /**
     * {@code open} refuses the vectors kdefer serves itself (HI, TIMER, TASKLET), before and after
     * the tasklet machinery installed its actions, and refuses a second action for a vector;
     * {@code pending} and {@code count} check the CPU number. Spec §2.1, §2.3.
     */
    @Test
    void openRefusesOwnedVectorsAndSecondOpens() {
        try (Kernel k = start(2)) {
            Softirqs s = k.softirqs();
            for (SoftirqVector v : new SoftirqVector[] {HI, TIMER, TASKLET}) {
                assertThatThrownBy(() -> s.open(v, () -> { }))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining(v.name());
            }
            Tasklet.setup(k, t -> { });
            for (SoftirqVector v : new SoftirqVector[] {HI, TIMER, TASKLET}) {
                assertThatThrownBy(() -> s.open(v, () -> { })).isInstanceOf(IllegalStateException.class);
            }
            s.open(NET_RX, () -> { });
            assertThatThrownBy(() -> s.open(NET_RX, () -> { }))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("NET_RX");
            for (SoftirqVector v : USER_VECTORS) {
                if (v != NET_RX) {
                    s.open(v, () -> { });
                }
            }
            assertThatThrownBy(() -> s.open(null, () -> { })).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> s.open(NET_TX, null)).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> s.raise(null)).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> s.pending(2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> s.count(-1, NET_RX)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /**
     * A raised vector without an action is consumed silently (counted, nothing called), as the
     * kernel calls whatever the table holds. Spec §2.4 step 5.
     */
    @Test
    void raisingAVectorWithoutActionIsHarmless() {
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            k.smpCallFunctionSingle(0, () -> s.raise(IRQ_POLL), true);
            assertThat(s.pending(0)).isZero();
            assertThat(s.count(0, IRQ_POLL)).isEqualTo(1);
        }
    }

    /**
     * {@code procSoftirqs()} prints the kernel's {@code /proc/softirqs} layout: a header of
     * {@code CPU%-8d} columns after 20 spaces, then one row per vector, {@code %12s:} and
     * {@code " %10d"} per CPU, counting invocations per CPU. Spec §2.4 step 5.
     */
    @Test
    void procSoftirqsHasTheKernelsLayout() {
        try (Kernel k = start(2)) {
            Softirqs s = k.softirqs();
            s.open(NET_RX, () -> { });
            s.open(RCU, () -> { });
            k.smpCallFunctionSingle(0, () -> s.raise(NET_RX), true);
            for (int i = 0; i < 12; i++) {
                k.smpCallFunctionSingle(1, () -> s.raise(NET_RX), true);
            }
            k.smpCallFunctionSingle(1, () -> s.raise(RCU), true);

            String expected = "                    CPU0       CPU1       \n"
                    + "          HI:          0          0\n"
                    + "       TIMER:          0          0\n"
                    + "      NET_TX:          0          0\n"
                    + "      NET_RX:          1         12\n"
                    + "       BLOCK:          0          0\n"
                    + "    IRQ_POLL:          0          0\n"
                    + "     TASKLET:          0          0\n"
                    + "       SCHED:          0          0\n"
                    + "     HRTIMER:          0          0\n"
                    + "         RCU:          0          1\n";
            assertThat(s.procSoftirqs()).isEqualTo(expected);
        }
    }

    /**
     * An action that throws is reported to the error handler with the vector and CPU named; the
     * rest of the pass runs, and the CPU keeps serving softirqs afterwards. Spec §2.4;
     * DESIGN "a callback that throws never kills a kdefer thread".
     */
    @Test
    void anActionThatThrowsIsReportedAndTheCpuKeepsServing() {
        RuntimeException boom = new RuntimeException("boom");
        List<String> ran = Collections.synchronizedList(new ArrayList<>());
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            s.open(NET_TX, () -> {
                ran.add("NET_TX");
                throw boom;
            });
            s.open(BLOCK, () -> ran.add("BLOCK"));

            k.smpCallFunctionSingle(0, () -> {
                s.raise(NET_TX);
                s.raise(BLOCK);
            }, true);
            k.smpCallFunctionSingle(0, () -> s.raise(BLOCK), true);
            assertThat(k.stats().errors()).isEqualTo(1);
        }
        assertThat(ran).containsExactly("NET_TX", "BLOCK", "BLOCK");
        List<CollectingErrors.Report> reports = errors.reports();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).error()).isSameAs(boom);
        assertThat(reports.get(0).source().toString()).contains("NET_TX").contains("cpu 0");
        errors.take();   // the expected reports were checked above
    }

    /**
     * An action that returns with a different preempt count (here: a {@code localBhDisable()}
     * without enable) is reported ("huh, entered softirq ...") and the count is put back, so the
     * following vectors and later interrupts run normally. Spec §2.4 step 5.
     */
    @Test
    void anActionThatLeaksAPreemptCountIsReportedAndRepaired() {
        AtomicInteger countInBlock = new AtomicInteger();
        try (Kernel k = start(1)) {
            Softirqs s = k.softirqs();
            s.open(NET_RX, k::localBhDisable);
            s.open(BLOCK, () -> countInBlock.set(k.preemptCount()));
            k.smpCallFunctionSingle(0, () -> {
                s.raise(NET_RX);
                s.raise(BLOCK);
            }, true);
            assertThat(countInBlock).hasValue(0x100);

            AtomicInteger countInHardirq = new AtomicInteger();
            k.smpCallFunctionSingle(0, () -> countInHardirq.set(k.preemptCount()), true);
            assertThat(countInHardirq).hasValue(0x10000);
            assertThat(k.stats().get(0, HARDIRQS)).isEqualTo(2);
        }
        List<CollectingErrors.Report> reports = errors.reports();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).error()).hasMessageContaining("huh, entered softirq 3 NET_RX");
        errors.take();   // the expected reports were checked above
    }

    // ------------------------------------------------------------------ helpers

    /** One call of a {@link Chain}'s action. */
    private static final class Call {
        final int cpu;
        final String thread;
        final long invocation;

        Call(int cpu, String thread, long invocation) {
            this.cpu = cpu;
            this.thread = thread;
            this.invocation = invocation;
        }
    }

    /**
     * A self-raising softirq: each CPU's action re-raises the vector until it has been called
     * {@code limit} times on that CPU. Every call is logged with its CPU, thread and the number
     * of the loop invocation it ran in (the CPU's SOFTIRQ_INVOCATIONS counter, which only that
     * invocation's thread changes while it runs).
     */
    private static final class Chain implements Runnable {
        private final Kernel k;
        private final SoftirqVector vector;
        private final int limit;
        private final IntConsumer hook;
        private final AtomicIntegerArray calls;
        private final CountDownLatch[] done;
        private final ConcurrentLinkedQueue<Call> log = new ConcurrentLinkedQueue<>();

        Chain(Kernel k, SoftirqVector vector, int limit, IntConsumer hook) {
            this.k = k;
            this.vector = vector;
            this.limit = limit;
            this.hook = hook;
            this.calls = new AtomicIntegerArray(k.nrCpus());
            this.done = new CountDownLatch[k.nrCpus()];
            for (int c = 0; c < done.length; c++) {
                done[c] = new CountDownLatch(1);
            }
            k.softirqs().open(vector, this);
        }

        @Override
        public void run() {
            int cpu = k.smpProcessorId();
            int n = calls.incrementAndGet(cpu);
            log.add(new Call(cpu, Thread.currentThread().getName(), k.stats().get(cpu, SOFTIRQ_INVOCATIONS)));
            hook.accept(n);
            if (n < limit) {
                k.softirqs().raise(vector);
            } else if (n == limit) {
                done[cpu].countDown();
            }
        }

        int count(int cpu) {
            return calls.get(cpu);
        }

        void awaitDone(int cpu) throws InterruptedException {
            Waits.await(done[cpu], limit + " calls of " + vector + " on cpu " + cpu);
        }

        List<Call> calls() {
            return new ArrayList<>(log);
        }

        /** One entry per loop invocation on {@code cpu}, in order: "thread xPasses". */
        List<String> invocations(int cpu) {
            List<String> out = new ArrayList<>();
            long current = -1;
            String thread = null;
            int passes = 0;
            for (Call c : log) {
                if (c.cpu != cpu) {
                    continue;
                }
                if (c.invocation != current) {
                    if (thread != null) {
                        out.add(thread + " x" + passes);
                    }
                    current = c.invocation;
                    thread = c.thread;
                    passes = 0;
                }
                assertThat(c.thread).as("one invocation runs on one thread").isEqualTo(thread);
                passes++;
            }
            if (thread != null) {
                out.add(thread + " x" + passes);
            }
            return out;
        }
    }
}
