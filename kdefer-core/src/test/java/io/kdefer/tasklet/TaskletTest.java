package io.kdefer.tasklet;

import io.kdefer.tasklet.TaskletHarness.From;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import io.kdefer.workqueue.Work;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static io.kdefer.KernelStats.Counter.KSOFTIRQD_BATCHES;
import static io.kdefer.KernelStats.Counter.KSOFTIRQD_WAKEUPS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_HANDOFFS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_INVOCATIONS;
import static io.kdefer.KernelStats.Counter.SOFTIRQ_PASSES;
import static io.kdefer.KernelStats.Counter.TASKLET_REQUEUES;
import static io.kdefer.KernelStats.Counter.TASKLET_RUNS;
import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitWaiting;
import static io.kdefer.testkit.Waits.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Behaviour of {@link Tasklet} against spec §10.2 (items 19-47): scheduling, coalescing, both
 * callback APIs, order, self-rescheduling, self-serialisation across CPUs, disable/enable, kill,
 * the run lock, and callbacks that throw. Misuse rules are in {@link TaskletMisuseTest}, shutdown
 * in {@link TaskletCloseTest}.
 *
 * <p>Every test runs on each {@link TaskletBackend}. The state machine (SCHED, RUN, the disable
 * count) is the same on all three; where the carrier shows (the thread and context of a run, the
 * softirq budget and counters, where a re-queue goes, the order against BH work), a test states
 * each backend's own expectation, taken from {@link TaskletHarness}, or skips a property a backend
 * does not have with an assumption that says why.
 *
 * <p>Every test is deterministic: it steers execution with hardirqs ({@code smpCallFunctionSingle}
 * with wait), bottom-half-disabled sections (whose softirqs run on the test thread), latches held
 * by callbacks, thread states and the kernel's counters; the clock never moves unless a test ticks
 * it. A test that asserts "it did not run" first waits until a runner has looked at the tasklet
 * after the relevant change (the {@code TASKLET_REQUEUES} counter), so the claim is not a guess.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TaskletBackend.class)
class TaskletTest {
    /** Self-rescheduling callbacks in kill tests stop here, so a broken kill ends in a failure. */
    private static final int SELF_RESCHEDULE_CAP = 1000;

    private final TaskletBackend backend;

    TaskletTest(TaskletBackend backend) {
        this.backend = backend;
    }

    /** A callback that counts its runs and records where each one ran. */
    private static final class Recorder implements Consumer<Tasklet> {
        final TaskletHarness h;
        final AtomicInteger runs = new AtomicInteger();
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> cpus = Collections.synchronizedList(new ArrayList<>());
        /** {@link TaskletHarness#context()} at each run. */
        final List<String> contexts = Collections.synchronizedList(new ArrayList<>());
        volatile CountDownLatch ran = new CountDownLatch(1);

        Recorder(TaskletHarness h) {
            this.h = h;
        }

        @Override
        public void accept(Tasklet self) {
            threads.add(Thread.currentThread().getName());
            cpus.add(h.kernel.smpProcessorId());
            contexts.add(h.context());
            runs.incrementAndGet();
            ran.countDown();
        }
    }

    // ---------------------------------------------------------------- 19, 20

    /**
     * A schedule from task context on CPU 1 queues the tasklet there and the callback runs exactly
     * once, on CPU 1. Serving a softirq: TASKLET_SOFTIRQ raised from task context with bottom halves
     * enabled wakes {@code ksoftirqd/1}, which runs it in softirq context (on {@code BH_WORKQUEUE}
     * the raise comes from queueing the carrier on {@code system_bh_wq}). On {@code WORKQUEUE} a
     * kworker of CPU 1 runs it with bottom halves disabled. Spec §10 item 19.
     */
    @Test
    void scheduleFromTaskContextRunsOnceOnThatCpu() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);

            boolean queued = h.kernel.runOnCpu(1, t::schedule);

            assertThat(queued).isTrue();
            await(rec.ran);
            h.kernel.close();   // runs whatever is still queued: nothing may be
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.cpus).containsExactly(1);
            assertThat(rec.threads).singleElement().asString().matches(h.runner(1, From.TASK, false));
            assertThat(rec.contexts).containsExactly(h.callbackContext());
            assertThat(h.kernel.stats().get(1, TASKLET_RUNS)).isEqualTo(1);
            assertThat(h.kernel.stats().get(0, TASKLET_RUNS)).isZero();
            assertThat(t.isScheduled()).isFalse();
            assertThat(t.isRunning()).isFalse();
        }
    }

    /**
     * A schedule (normal or HI) from a hardirq on CPU 1 runs the callback exactly once, on CPU 1:
     * serving a softirq at that hardirq's irq exit on {@code cpu/1}, or on {@code WORKQUEUE} on a
     * kworker of CPU 1's normal or highpri pool ({@code ktasklets}, {@code ktasklets_hi}) with
     * bottom halves disabled. Spec §10 item 19.
     */
    @ParameterizedTest(name = "hi={0}")
    @ValueSource(booleans = {false, true})
    void scheduleFromHardirqRunsOnceOnThatCpu(boolean hi) {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            AtomicBoolean queued = new AtomicBoolean();

            h.hardirq(1, () -> queued.set(hi ? t.hiSchedule() : t.schedule()));

            assertThat(queued).isTrue();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.cpus).containsExactly(1);
            assertThat(rec.threads).singleElement().asString().matches(h.runner(1, From.HARDIRQ, hi));
            assertThat(rec.contexts).containsExactly(h.callbackContext());
            assertThat(h.kernel.stats().total(TASKLET_RUNS)).isEqualTo(1);
        }
    }

    /**
     * N schedules made before the tasklet runs (inside one bottom-half-disabled section, so it
     * cannot run in between: serving a softirq it waits for the section's end, and on
     * {@code WORKQUEUE} the kworker's own {@code localBhDisable()} waits for it) give one run: the
     * first returns true, the others false. Mixing {@code schedule} and {@code hiSchedule} coalesces
     * too (one SCHED bit). Spec §10 item 20.
     */
    @Test
    void schedulesBeforeTheRunCoalesceIntoOneRun() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            List<Boolean> results = new ArrayList<>();

            h.bhSection(0, () -> {
                for (int i = 0; i < 5; i++) {
                    results.add(t.schedule());
                }
                results.add(t.hiSchedule());
                assertThat(rec.runs).hasValue(0);
            });

            h.awaitSectionRuns(rec.ran);
            assertThat(rec.runs).hasValue(1);
            assertThat(results).containsExactly(true, false, false, false, false, false);
            assertThat(rec.threads).singleElement().asString().matches(h.runner(0, From.BH_SECTION, false));
            assertThat(rec.contexts).containsExactly(h.callbackContext());
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
        }
    }

    /**
     * N schedules inside one hardirq give one run; once it ran, the next schedule queues a new
     * run. Serving a softirq the run waits for the hardirq's irq exit. Spec §10 item 20.
     *
     * <p>Not on {@code WORKQUEUE}: the first schedule wakes a kworker of CPU 0, and kdefer runs a
     * hardirq of {@code cpu/0} beside CPU 0's task threads instead of stopping them (see the model
     * deviations), so the callback may run between two schedules of the same hardirq, and the next
     * schedule then queues a second run. Coalescing there is shown by
     * {@link #schedulesBeforeTheRunCoalesceIntoOneRun}, where the kworker waits for the section.
     */
    @Test
    void schedulesInOneHardirqCoalesceAndTheNextScheduleQueuesAgain() {
        TaskletHarness.assumeServesSoftirq(backend, "a hardirq does not hold off the kworker that carries"
                + " the tasklet, so it may run between two schedules of one hardirq");
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            List<Boolean> results = Collections.synchronizedList(new ArrayList<>());

            h.hardirq(0, () -> {
                for (int i = 0; i < 4; i++) {
                    results.add(t.schedule());
                }
            });
            await(rec.ran);
            rec.ran = new CountDownLatch(1);
            h.hardirq(0, () -> results.add(t.schedule()));
            await(rec.ran);

            h.kernel.close();
            assertThat(results).containsExactly(true, false, false, false, true);
            assertThat(rec.runs).hasValue(2);
            assertThat(rec.cpus).containsOnly(0);
        }
    }

    // ---------------------------------------------------------------- 21, 47

    /**
     * The legacy API ({@code tasklet_init}) passes the registered data value to the function; the
     * callback API ({@code tasklet_setup}) passes the tasklet object itself, so its owner can be
     * found from it (here by identity, the Java stand-in for {@code from_tasklet}). Spec §10 item 21.
     */
    @Test
    void legacyFunctionGetsDataAndCallbackGetsTheTaskletItself() {
        try (TaskletHarness h = new TaskletHarness(backend, 1)) {
            AtomicLong seenData = new AtomicLong();
            AtomicReference<Tasklet> seenSelf = new AtomicReference<>();
            AtomicReference<String> owner = new AtomicReference<>();
            Map<Tasklet, String> owners = Collections.synchronizedMap(new IdentityHashMap<>());
            CountDownLatch both = new CountDownLatch(2);

            Tasklet legacy = Tasklet.init(h.kernel, data -> {
                seenData.set(data);
                both.countDown();
            }, 0xDEAD_BEEF_CAFEL);
            Tasklet modern = Tasklet.setup(h.kernel, self -> {
                seenSelf.set(self);
                owner.set(owners.get(self));
                both.countDown();
            });
            owners.put(modern, "rx ring 3");

            h.bhSection(0, () -> {
                legacy.schedule();
                modern.schedule();
            });

            await(both);
            assertThat(seenData).hasValue(0xDEAD_BEEF_CAFEL);
            assertThat(legacy.data()).isEqualTo(0xDEAD_BEEF_CAFEL);
            assertThat(seenSelf.get()).isSameAs(modern);
            assertThat(owner).hasValue("rx ring 3");
            assertThat(modern.data()).isZero();
        }
    }

    /**
     * Every factory makes a fresh tasklet: not scheduled, not running, count 0, or count 1 for the
     * {@code *Disabled} forms. Re-initialising a live object is not offered (the factories are the
     * only way to set a tasklet up), so "re-init resets state and count" holds by construction.
     * Spec §10 items 22 and 47.
     */
    @Test
    void factoriesCreateIdleTaskletsWithTheRightCount() {
        try (TaskletHarness h = new TaskletHarness(backend, 1)) {
            Tasklet a = Tasklet.setup(h.kernel, self -> { });
            Tasklet b = Tasklet.init(h.kernel, data -> { }, 7);
            Tasklet c = Tasklet.setupDisabled(h.kernel, self -> { });
            Tasklet d = Tasklet.initDisabled(h.kernel, data -> { }, 7);

            for (Tasklet t : List.of(a, b, c, d)) {
                assertThat(t.isScheduled()).as("%s scheduled", t).isFalse();
                assertThat(t.isRunning()).as("%s running", t).isFalse();
            }
            assertThat(a.count()).isZero();
            assertThat(b.count()).isZero();
            assertThat(c.count()).isEqualTo(1);
            assertThat(d.count()).isEqualTo(1);
        }
    }

    // ---------------------------------------------------------------- 22, 31, 32, 35, 37

    /**
     * A tasklet created disabled (both generations) is queued by a schedule but does not run while
     * runners keep finding it disabled (and re-queueing it: on its CPU's list, or its carrier on the
     * carrier's queue); after {@code enable()} it runs once, when a runner next looks at it. Ticks
     * in between change nothing. Spec §10 items 22 and 31.
     */
    @ParameterizedTest(name = "legacy={0}")
    @ValueSource(booleans = {false, true})
    void createdDisabledRunsOnlyAfterEnable(boolean legacy) {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = legacy
                    ? Tasklet.initDisabled(h.kernel, data -> {
                        runs.incrementAndGet();
                        ran.countDown();
                    }, 1)
                    : Tasklet.setupDisabled(h.kernel, self -> {
                        runs.incrementAndGet();
                        ran.countDown();
                    });
            assertThat(t.count()).isEqualTo(1);

            AtomicBoolean queued = new AtomicBoolean();
            h.hardirq(0, () -> queued.set(t.schedule()));
            h.awaitStat(0, TASKLET_REQUEUES, 3);
            h.clock.tick(2);

            assertThat(queued).isTrue();
            assertThat(runs).hasValue(0);
            assertThat(t.isScheduled()).isTrue();

            t.enable();
            h.clock.tick();
            await(ran);
            h.kernel.close();
            assertThat(runs).hasValue(1);
            assertThat(t.count()).isZero();
        }
    }

    /**
     * A schedule made while the tasklet is disabled is remembered: it stays queued, runners skip
     * it, and after the count returns to 0 it runs once with no further schedule call (the vector
     * stays pending while a disabled tasklet is queued). Spec §10 item 31.
     */
    @Test
    void scheduleWhileDisabledRunsOnceAfterEnableWithoutAnotherSchedule() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            t.disable();

            assertThat(h.kernel.runOnCpu(0, t::schedule)).isTrue();
            h.awaitStat(0, TASKLET_REQUEUES, 2);
            assertThat(rec.runs).hasValue(0);
            assertThat(t.isScheduled()).isTrue();

            t.enable();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.cpus).containsExactly(0);
            assertThat(t.isScheduled()).isFalse();
        }
    }

    /**
     * {@code enable()} never queues a tasklet that was not scheduled: after disable/enable (and a
     * created-disabled tasklet after its enable), other tasklets run on both CPUs, the clock
     * ticks and the kernel drains at close, and neither callback ever runs. Spec §10 item 32.
     */
    @Test
    void enableDoesNotScheduleAnUnscheduledTasklet() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            Tasklet d = Tasklet.setupDisabled(h.kernel, self -> runs.incrementAndGet());
            t.disable();
            t.enable();
            d.enable();

            Recorder other = new Recorder(h);
            other.ran = new CountDownLatch(2);
            Tasklet u0 = Tasklet.setup(h.kernel, other);
            Tasklet u1 = Tasklet.setup(h.kernel, other);
            h.bhSection(0, u0::schedule);
            h.bhSection(1, u1::schedule);
            h.awaitSectionRuns(other.ran);
            h.clock.tick(3);
            h.kernel.close();

            assertThat(other.runs).hasValue(2);
            assertThat(other.cpus).containsExactlyInAnyOrder(0, 1);
            assertThat(runs).hasValue(0);
            assertThat(t.isScheduled()).isFalse();
            assertThat(d.isScheduled()).isFalse();
            assertThat(h.kernel.stats().total(TASKLET_RUNS)).isEqualTo(2);
        }
    }

    /**
     * Disable nests: after two disables and one enable the queued tasklet still does not run (a
     * runner looked at it after that enable); the second enable lets it run. Spec §10 item 35.
     */
    @Test
    void twoDisablesNeedTwoEnables() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            t.disable();
            t.disableNosync();
            h.onCpu(0, t::schedule);

            t.enable();
            assertThat(t.count()).isEqualTo(1);
            // Requeue number r0 + 1 may have read the count before the enable; r0 + 2 read it after.
            long r0 = h.stat(0, TASKLET_REQUEUES);
            h.awaitStat(0, TASKLET_REQUEUES, r0 + 2);
            assertThat(rec.runs).hasValue(0);
            assertThat(t.isScheduled()).isTrue();

            t.enable();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
        }
    }

    /**
     * A disabled tasklet that is scheduled is not lost: it keeps being re-queued on its CPU and
     * stays scheduled; it runs once after enable. Serving a softirq, each re-queue re-raises the
     * vector (on {@code SOFTIRQ} the tasklet goes back on CPU 0's list, on {@code BH_WORKQUEUE} its
     * carrier back on {@code system_bh_wq}), so the loop hands over to {@code ksoftirqd/0} again and
     * again (batches, hand-offs and requeues keep growing) and the run after enable is there. On
     * {@code WORKQUEUE} the carrier goes back on CPU 0's {@code ktasklets} queue and its kworker takes
     * it again at once: it spins there with no softirq raised at all (no budget, no
     * {@code ksoftirqd}), and the run after enable is on that kworker. Spec §10 items 31 and 37.
     */
    @Test
    void disabledScheduledTaskletKeepsBeingRequeuedAndIsNotLost() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            t.disable();
            h.onCpu(0, t::schedule);

            h.awaitStat(0, TASKLET_REQUEUES, 100);
            if (h.servesSoftirq()) {
                h.awaitStat(0, KSOFTIRQD_BATCHES, 5);
                h.awaitStat(0, SOFTIRQ_HANDOFFS, 4);
            } else {
                assertThat(h.kernel.stats().total(SOFTIRQ_INVOCATIONS)).isZero();
                assertThat(h.kernel.stats().total(KSOFTIRQD_WAKEUPS)).isZero();
            }
            assertThat(rec.runs).hasValue(0);
            assertThat(t.isScheduled()).isTrue();
            assertThat(h.stat(1, TASKLET_REQUEUES)).isZero();

            t.enable();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.threads).singleElement().asString().matches(h.runner(0, From.TASK, false));
            assertThat(rec.contexts).containsExactly(h.callbackContext());
        }
    }

    /**
     * While a disabled, scheduled tasklet keeps being re-queued on CPU 0, other tasklets scheduled
     * on CPU 0 still run, there, each once: the re-queue goes to the tail (of the CPU's list, or of
     * the carrier queue's worklist), behind them. Spec §10 item 37 (with item 23).
     */
    @Test
    void otherTaskletsOfTheCpuRunWhileADisabledOneIsRequeued() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger spinnerRuns = new AtomicInteger();
            Tasklet spinner = Tasklet.setup(h.kernel, self -> spinnerRuns.incrementAndGet());
            spinner.disable();
            h.onCpu(0, spinner::schedule);
            h.awaitStat(0, TASKLET_REQUEUES, 10);

            Recorder rec = new Recorder(h);
            rec.ran = new CountDownLatch(3);
            List<Tasklet> others = List.of(Tasklet.setup(h.kernel, rec), Tasklet.setup(h.kernel, rec),
                    Tasklet.setup(h.kernel, rec));
            for (Tasklet o : others) {
                assertThat(h.kernel.runOnCpu(0, o::schedule)).isTrue();
            }
            await(rec.ran);

            assertThat(rec.cpus).containsExactly(0, 0, 0);
            assertThat(spinnerRuns).hasValue(0);
            assertThat(spinner.isScheduled()).isTrue();
            spinner.enable();
            spinner.kill();   // waits for the queued run
            assertThat(spinnerRuns).hasValue(1);
            h.kernel.close();
            assertThat(rec.runs).hasValue(3);
        }
    }

    /**
     * How often a disabled, scheduled tasklet is re-queued, measured by a self-rescheduling probe
     * tasklet of the same CPU, both queued in one bottom-half-disabled section (the disabled one
     * first): each probe run reads, on the thread that counts them, CPU 0's requeues and passes.
     * The two take turns on every backend, so the probe's k-th run sees exactly k requeues; what
     * differs is the softirq pass it runs in.
     * <ul>
     *   <li>{@code SOFTIRQ}: one turn per pass (both go back on the fresh list): run k in pass k,
     *       on this thread (the section's closing {@code localBhEnable()}).</li>
     *   <li>{@code BH_WORKQUEUE}: the BH worker runs 10 items per pass, the two carriers taking
     *       turns: five turns per pass, run k in pass (k + 4) / 5, on this thread.</li>
     *   <li>{@code WORKQUEUE}: no softirq pass at all (0); the turns happen on one kworker of CPU 0.</li>
     * </ul>
     * Spec §10 item 37.
     */
    @Test
    void disabledTaskletIsRequeuedOncePerTurnBehindTheOtherWorkOfItsCpu() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            int probeRuns = 10;
            Recorder disabledRec = new Recorder(h);
            Tasklet disabled = Tasklet.setup(h.kernel, disabledRec);
            disabled.disable();
            List<Long> requeuesAtRun = Collections.synchronizedList(new ArrayList<>());
            List<Long> passAtRun = Collections.synchronizedList(new ArrayList<>());
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch probeDone = new CountDownLatch(1);
            Tasklet probe = Tasklet.setup(h.kernel, self -> {
                requeuesAtRun.add(h.stat(0, TASKLET_REQUEUES));
                passAtRun.add(h.stat(0, SOFTIRQ_PASSES));
                threads.add(Thread.currentThread().getName());
                if (requeuesAtRun.size() < probeRuns) {
                    self.schedule();
                } else {
                    probeDone.countDown();
                }
            });

            h.bhSection(0, () -> {
                disabled.schedule();
                probe.schedule();
            });
            h.awaitSectionRuns(probeDone);
            assertThat(disabledRec.runs).hasValue(0);
            assertThat(disabled.isScheduled()).isTrue();
            disabled.enable();
            await(disabledRec.ran);
            h.kernel.close();

            List<Long> expectedRequeues = new ArrayList<>();
            List<Long> expectedPasses = new ArrayList<>();
            for (int k = 1; k <= probeRuns; k++) {
                expectedRequeues.add((long) k);
                switch (backend) {
                    case SOFTIRQ:
                        expectedPasses.add((long) k);
                        break;
                    case BH_WORKQUEUE:
                        expectedPasses.add((long) (k + 4) / 5);
                        break;
                    default:
                        expectedPasses.add(0L);
                        break;
                }
            }
            assertThat(requeuesAtRun).containsExactlyElementsOf(expectedRequeues);
            assertThat(passAtRun).containsExactlyElementsOf(expectedPasses);
            assertThat(threads).hasSize(probeRuns).containsOnly(threads.get(0));
            assertThat(threads.get(0)).matches(h.runner(0, From.BH_SECTION, false));
            assertThat(disabledRec.runs).hasValue(1);
            assertThat(disabledRec.cpus).containsExactly(0);
        }
    }

    // ---------------------------------------------------------------- 23, 24

    /**
     * Tasklets scheduled on one CPU run in the order of their schedule calls (not of creation),
     * within each vector: the order of the CPU's list, or of the carriers on the carrier queue of
     * that CPU. Spec §10 item 23.
     */
    @ParameterizedTest(name = "hi={0}")
    @ValueSource(booleans = {false, true})
    void taskletsOfOneCpuRunInScheduleOrder(boolean hi) {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch ran = new CountDownLatch(6);
            List<Tasklet> ts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int id = i;
                ts.add(Tasklet.setup(h.kernel, self -> {
                    order.add(id);
                    ran.countDown();
                }));
            }
            int[] scheduleOrder = {4, 1, 5, 0, 3, 2};

            h.bhSection(1, () -> {
                for (int i : scheduleOrder) {
                    if (hi) {
                        ts.get(i).hiSchedule();
                    } else {
                        ts.get(i).schedule();
                    }
                }
            });

            h.awaitSectionRuns(ran);
            assertThat(order).containsExactly(4, 1, 5, 0, 3, 2);
        }
    }

    /**
     * FIFO across the owner's fast path and foreign schedules: on {@code SOFTIRQ} the thread that
     * owns CPU 1's bottom halves queues without atomics only while no foreign schedule waits, so
     * schedules ordered by happens-before run in that order whichever thread made them. The
     * workqueue backends queue every carrier on the queue's worklist under the pool lock, so the
     * same order holds there. Spec §10 item 23.
     */
    @Test
    void ownerAndForeignSchedulesOfOneCpuRunInScheduleOrder() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            AtomicReference<CountDownLatch> ran = new AtomicReference<>(new CountDownLatch(4));
            List<Tasklet> ts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int id = i;
                ts.add(Tasklet.setup(h.kernel, self -> {
                    order.add(id);
                    ran.get().countDown();
                }));
            }
            h.bhSection(1, () -> {
                ts.get(0).schedule();                  // owner, nothing foreign waiting: owner queue
                foreignSchedule(h, ts.get(1));         // foreign, joined: happens before what follows
                ts.get(2).schedule();                  // owner: must queue behind 1
                ts.get(3).schedule();
            });
            h.awaitSectionRuns(ran.get());
            assertThat(order).containsExactly(0, 1, 2, 3);
            ran.set(new CountDownLatch(2));
            h.bhSection(1, () -> {
                foreignSchedule(h, ts.get(4));
                ts.get(5).schedule();
            });
            h.awaitSectionRuns(ran.get());
            assertThat(order).containsExactly(0, 1, 2, 3, 4, 5);
        }
    }

    /** Schedules {@code t} from a new thread in task context on CPU 1, and joins it. */
    private static void foreignSchedule(TaskletHarness h, Tasklet t) throws InterruptedException {
        Thread foreign = new Thread(() -> h.onCpu(1, t::schedule), "foreign");
        foreign.start();
        Waits.join(foreign);
    }

    /**
     * A HI tasklet scheduled after a normal one runs first, and both run in the same pass of the
     * same softirq invocation (HI is vector 0, TASKLET vector 6; on {@code BH_WORKQUEUE} the HI
     * carrier is on {@code system_bh_highpri_wq}, served by the HI vector). Spec §10 item 24.
     *
     * <p>Not on {@code WORKQUEUE}: there the two carriers sit on two kworker pools of the CPU
     * ({@code ktasklets_hi}, {@code ktasklets}) that take turns on the CPU's bottom halves in no
     * defined order, and no softirq pass is involved; the pools themselves are checked by
     * {@link #scheduleFromHardirqRunsOnceOnThatCpu}.
     */
    @Test
    void hiTaskletRunsBeforeNormalTaskletInTheSamePass() {
        TaskletHarness.assumeServesSoftirq(backend, "HI and normal tasklets are carried by two kworker pools"
                + " (ktasklets_hi, ktasklets) in no defined order, with no softirq pass");
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            List<Long> passAtRun = Collections.synchronizedList(new ArrayList<>());
            Tasklet normal = Tasklet.setup(h.kernel, self -> {
                order.add("normal");
                passAtRun.add(h.stat(0, SOFTIRQ_PASSES));
            });
            Tasklet high = Tasklet.setup(h.kernel, self -> {
                order.add("hi");
                passAtRun.add(h.stat(0, SOFTIRQ_PASSES));
            });
            long invocations0 = h.stat(0, SOFTIRQ_INVOCATIONS);
            long passes0 = h.stat(0, SOFTIRQ_PASSES);

            h.bhSection(0, () -> {
                normal.schedule();
                high.hiSchedule();
            });

            assertThat(order).containsExactly("hi", "normal");
            assertThat(passAtRun).containsExactly(passes0 + 1, passes0 + 1);
            assertThat(h.stat(0, SOFTIRQ_INVOCATIONS)).isEqualTo(invocations0 + 1);
            assertThat(h.stat(0, SOFTIRQ_PASSES)).isEqualTo(passes0 + 1);
        }
    }

    // ---------------------------------------------------------------- 25

    /**
     * A tasklet and a BH work item of the same CPU and priority ({@code system_bh_wq} with
     * {@code schedule}, {@code system_bh_highpri_wq} with {@code hiSchedule}), queued in either
     * order in one bottom-half-disabled section; the BH work always runs on this thread, at the
     * section's closing {@code localBhEnable()}.
     * <ul>
     *   <li>{@code SOFTIRQ}: the BH work runs first whatever the order: the vector runs its BH
     *       pool before its tasklet list.</li>
     *   <li>{@code BH_WORKQUEUE}: the tasklet's carrier is a BH work item of the same pool, so the
     *       two run in queueing order.</li>
     *   <li>{@code WORKQUEUE}: the BH work runs first whatever the order: the tasklet's kworker
     *       waits for the CPU's bottom halves, which this thread holds until the BH work ran.</li>
     * </ul>
     * Spec §10 item 25 (with item 105).
     */
    @ParameterizedTest(name = "hi={0}, taskletFirst={1}")
    @CsvSource({"false, false", "false, true", "true, false", "true, true"})
    void taskletAndBhWorkOfOneCpu(boolean hi, boolean taskletFirst) {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch ran = new CountDownLatch(2);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                order.add("tasklet");
                threads.add(Thread.currentThread().getName());
                ran.countDown();
            });
            Work w = new Work(self -> {
                order.add("bh work");
                threads.add(Thread.currentThread().getName());
                ran.countDown();
            });
            List<Boolean> queued = new ArrayList<>();
            Runnable schedule = () -> queued.add(hi ? t.hiSchedule() : t.schedule());
            Runnable queueBh = () -> queued.add((hi ? h.kernel.systemBhHighpriWq() : h.kernel.systemBhWq()).queue(w));

            h.bhSection(0, () -> {
                (taskletFirst ? schedule : queueBh).run();
                (taskletFirst ? queueBh : schedule).run();
            });

            h.awaitSectionRuns(ran);
            assertThat(queued).containsExactly(true, true);
            boolean inQueueingOrder = backend == TaskletBackend.BH_WORKQUEUE;
            assertThat(order).containsExactly(inQueueingOrder && taskletFirst
                    ? new String[] {"tasklet", "bh work"} : new String[] {"bh work", "tasklet"});
            String bhThread = threads.get(order.indexOf("bh work"));
            String taskletThread = threads.get(order.indexOf("tasklet"));
            assertThat(bhThread).isEqualTo(Thread.currentThread().getName());
            assertThat(taskletThread).matches(h.runner(0, From.BH_SECTION, hi));
        }
    }

    // ---------------------------------------------------------------- 26, 27

    /**
     * SCHED is clear while the callback runs (RUN is set), so a schedule from inside the callback
     * returns true and queues exactly one more run. Spec §10 item 26.
     */
    @Test
    void scheduleFromOwnCallbackQueuesOneMoreRun() {
        try (TaskletHarness h = new TaskletHarness(backend, 1)) {
            AtomicInteger runs = new AtomicInteger();
            List<String> seen = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch second = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                int n = runs.incrementAndGet();
                seen.add("run " + n + " sched=" + self.isScheduled() + " running=" + self.isRunning());
                if (n == 1) {
                    seen.add("schedule=" + self.schedule());
                    seen.add("again=" + self.schedule());
                } else {
                    second.countDown();
                }
            });

            h.hardirq(0, t::schedule);
            await(second);
            h.kernel.close();

            assertThat(seen).containsExactly(
                    "run 1 sched=false running=true", "schedule=true", "again=false",
                    "run 2 sched=false running=true");
            assertThat(runs).hasValue(2);
        }
    }

    /**
     * A self-rescheduling tasklet scheduled from a hardirq, under each backend's budget.
     * <ul>
     *   <li>Serving a softirq, the first runs use that irq exit's softirq invocation on
     *       {@code cpu/0} (10 restart passes, the clock standing still), then the loop hands over
     *       and {@code ksoftirqd/0} runs the rest in batches of at most 10 passes. On
     *       {@code SOFTIRQ} a pass runs it once (its re-schedule goes to the fresh list, seen by the
     *       next pass). On {@code BH_WORKQUEUE} the BH worker runs up to 10 items per pass
     *       ({@code BH_WORKER_RESTARTS}) and the re-queued carrier is each of them, so a pass runs it
     *       10 times; every re-queue kicks the BH pool, which raises the vector again, so after the
     *       last run one more pass finds the pool empty.</li>
     *   <li>On {@code WORKQUEUE} no softirq is involved and there is no budget: the kworker of CPU 0
     *       takes the re-queued carrier again and again, every run on that one thread.</li>
     * </ul>
     * Spec §10 item 27 (with §10 items 4, 7 and 106).
     */
    @Test
    void selfReschedulingTaskletRunsWithinTheBackendsBudget() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            int runsPerPass = backend == TaskletBackend.BH_WORKQUEUE ? 10 : 1;
            int runsPerInvocation = 10 * runsPerPass;
            int total = 2 * runsPerInvocation + runsPerInvocation / 2;
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            List<String> contexts = Collections.synchronizedList(new ArrayList<>());
            List<Long> passAtRun = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                threads.add(Thread.currentThread().getName());
                contexts.add(h.context());
                passAtRun.add(h.stat(0, SOFTIRQ_PASSES));   // read on the thread that counts them
                if (threads.size() < total) {
                    self.schedule();
                } else {
                    done.countDown();
                }
            });

            h.hardirq(0, t::schedule);
            await(done);
            int emptyLastPass = backend == TaskletBackend.BH_WORKQUEUE ? 1 : 0;
            int passes = total / runsPerPass + emptyLastPass;
            if (h.servesSoftirq()) {
                // the last pass may still be on its way; the counts are read before close(), whose
                // drain adds a TIMER pass where a timer is armed (the workqueue watchdog's, for BH work)
                Waits.spinUntil(() -> h.stat(0, SOFTIRQ_PASSES) >= passes, "the last pass");
            }
            long invocationsBeforeClose = h.kernel.stats().total(SOFTIRQ_INVOCATIONS);
            long passesBeforeClose = h.stat(0, SOFTIRQ_PASSES);
            long cpu0Invocations = h.stat(0, SOFTIRQ_INVOCATIONS);
            long batches = h.stat(0, KSOFTIRQD_BATCHES);
            long handoffs = h.stat(0, SOFTIRQ_HANDOFFS);
            h.kernel.close();

            assertThat(h.stat(0, TASKLET_RUNS)).isEqualTo(total);
            assertThat(contexts).hasSize(total).containsOnly(h.callbackContext());
            if (h.servesSoftirq()) {
                List<String> expectedThreads = new ArrayList<>();
                List<Long> expectedPasses = new ArrayList<>();
                for (int i = 0; i < total; i++) {
                    expectedThreads.add(i < runsPerInvocation ? "cpu/0" : "ksoftirqd/0");
                    expectedPasses.add((long) (i / runsPerPass + 1));
                }
                assertThat(threads).containsExactlyElementsOf(expectedThreads);
                assertThat(passAtRun).containsExactlyElementsOf(expectedPasses);
                assertThat(passesBeforeClose).isEqualTo(passes);
                assertThat(cpu0Invocations).isEqualTo(3);   // irq_exit + 2 ksoftirqd batches
                assertThat(batches).isEqualTo(2);
                assertThat(handoffs).isEqualTo(2);
            } else {
                assertThat(threads).hasSize(total).containsOnly(threads.get(0));
                assertThat(threads.get(0)).matches(h.runner(0, From.HARDIRQ, false));
                assertThat(passAtRun).containsOnly(0L);
                assertThat(invocationsBeforeClose).isZero();
            }
        }
    }

    // ---------------------------------------------------------------- 28, 29, 30

    /**
     * Scheduled on CPU 1 while its callback runs on CPU 0, the tasklet never runs twice at once,
     * and its next run starts only after the current one finished; where it runs depends on the
     * carrier.
     * <ul>
     *   <li>{@code SOFTIRQ}: it is queued on CPU 1's list, where the runner keeps finding it locked
     *       and re-queues it; it runs next on CPU 1 ({@code ksoftirqd/1}).</li>
     *   <li>Workqueue backends: the carrier is a work item still executing on CPU 0's pool, and the
     *       workqueue's non-reentrancy sends the re-queue to that pool ({@code __queue_work}'s
     *       last-pool check), where it waits behind the running instance (pending and running at
     *       once); it runs next on CPU 0, on the same thread, right after the current run, and no
     *       runner ever finds it locked.</li>
     * </ul>
     * Spec §10 items 28 and 29 (item 29 holds on {@code SOFTIRQ}; on the workqueue backends the
     * carrier follows item 55 instead).
     */
    @Test
    void scheduledElsewhereWhileRunningRunsOnlyAfterTheCurrentRun() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger inside = new AtomicInteger();
            AtomicBoolean overlap = new AtomicBoolean();
            AtomicInteger runs = new AtomicInteger();
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch firstStarted = new CountDownLatch(1);
            CountDownLatch releaseFirst = new CountDownLatch(1);
            CountDownLatch secondDone = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                if (inside.incrementAndGet() != 1) {
                    overlap.set(true);
                }
                int n = runs.incrementAndGet();
                events.add("start " + n + " on cpu " + h.kernel.smpProcessorId());
                threads.add(Thread.currentThread().getName());
                if (n == 1) {
                    firstStarted.countDown();
                    await(releaseFirst);
                }
                events.add("end " + n);
                inside.decrementAndGet();
                if (n == 2) {
                    secondDone.countDown();
                }
            });
            boolean softirqLists = backend == TaskletBackend.SOFTIRQ;
            try {
                assertThat(h.kernel.runOnCpu(0, t::schedule)).isTrue();
                await(firstStarted);

                long r0 = h.stat(1, TASKLET_REQUEUES);
                assertThat(h.kernel.runOnCpu(1, t::schedule)).isTrue();
                if (softirqLists) {
                    h.awaitStat(1, TASKLET_REQUEUES, r0 + 2);
                } else {
                    assertThat(h.carrier(t, false).busy()).isEqualTo(Work.BUSY_PENDING | Work.BUSY_RUNNING);
                }
                assertThat(runs).hasValue(1);
                assertThat(t.isScheduled()).isTrue();
                assertThat(t.isRunning()).isTrue();
            } finally {
                releaseFirst.countDown();
            }
            await(secondDone);
            h.kernel.close();

            int secondCpu = softirqLists ? 1 : 0;
            assertThat(events).containsExactly(
                    "start 1 on cpu 0", "end 1", "start 2 on cpu " + secondCpu, "end 2");
            assertThat(overlap).isFalse();
            assertThat(threads.get(0)).matches(h.runner(0, From.TASK, false));
            if (softirqLists) {
                assertThat(threads.get(1)).matches(h.runner(1, From.TASK, false));
                assertThat(h.stat(0, TASKLET_RUNS)).isEqualTo(1);
                assertThat(h.stat(1, TASKLET_RUNS)).isEqualTo(1);
            } else {
                assertThat(threads.get(1)).isEqualTo(threads.get(0));
                assertThat(h.stat(0, TASKLET_RUNS)).isEqualTo(2);
                assertThat(h.stat(1, TASKLET_RUNS)).isZero();
                assertThat(h.kernel.stats().total(TASKLET_REQUEUES)).isZero();
            }
        }
    }

    /**
     * Two different tasklets scheduled on two CPUs run at the same time: each callback waits at a
     * barrier that opens only when both are inside. Spec §10 item 30.
     */
    @Test
    void differentTaskletsOnTwoCpusRunConcurrently() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CyclicBarrier bothInside = new CyclicBarrier(2);
            List<Integer> passed = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(2);
            Consumer<Tasklet> body = self -> {
                try {
                    await(bothInside);
                    passed.add(h.kernel.smpProcessorId());
                } finally {
                    done.countDown();
                }
            };
            Tasklet a = Tasklet.setup(h.kernel, body);
            Tasklet b = Tasklet.setup(h.kernel, body);

            h.onCpu(0, a::schedule);
            h.onCpu(1, b::schedule);

            await(done);
            assertThat(passed).containsExactlyInAnyOrder(0, 1);
        }
    }

    // ---------------------------------------------------------------- 33, 34

    /**
     * {@code disable()} blocks while the callback runs on another CPU and returns only after it
     * finished; the count is raised before it waits. Spec §10 item 33.
     */
    @Test
    void disableWaitsForTheRunningCallback() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean finished = new AtomicBoolean();
            AtomicBoolean finishedWhenDisableReturned = new AtomicBoolean();
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                started.countDown();
                await(release);
                finished.set(true);
            });
            h.onCpu(0, t::schedule);
            await(started);

            Worker disabler = null;
            try {
                disabler = Worker.start("disabler", () -> {
                    h.kernel.runOnCpu(1, () -> {
                        t.disable();
                        return null;
                    });
                    finishedWhenDisableReturned.set(finished.get());
                });
                awaitWaiting(disabler);
                assertThat(finished).isFalse();
                assertThat(t.count()).isEqualTo(1);
                assertThat(t.isRunning()).isTrue();
            } finally {
                release.countDown();
                Worker.joinQuietly(disabler);
            }
            disabler.joinAndCheck();

            assertThat(finishedWhenDisableReturned).isTrue();
            assertThat(t.isRunning()).isFalse();
            t.enable();
        }
    }

    /**
     * {@code disableNosync()} returns at once while the callback is still running on another CPU:
     * the count is 1 and RUN is still set when it returns. Spec §10 item 34.
     */
    @Test
    void disableNosyncReturnsWhileTheCallbackRuns() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean finished = new AtomicBoolean();
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                started.countDown();
                await(release);
                finished.set(true);
            });
            try {
                h.onCpu(0, t::schedule);
                await(started);

                h.onCpu(1, t::disableNosync);

                assertThat(finished).isFalse();
                assertThat(t.isRunning()).isTrue();
                assertThat(t.count()).isEqualTo(1);
            } finally {
                release.countDown();
            }
            t.unlockWait();
            assertThat(finished).isTrue();
            t.enable();
        }
    }

    // ---------------------------------------------------------------- 38 - 42

    /**
     * {@code kill()} on an idle tasklet (enabled, or disabled but not scheduled) returns at once
     * and leaves it idle; a later schedule queues it and it runs. Spec §10 item 38.
     */
    @Test
    void killOnIdleTaskletReturnsAndItStaysSchedulable() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            Tasklet disabled = Tasklet.setupDisabled(h.kernel, self -> { });

            t.kill();
            disabled.kill();

            assertThat(t.isScheduled()).isFalse();
            assertThat(t.isRunning()).isFalse();
            assertThat(disabled.isScheduled()).isFalse();
            assertThat(disabled.count()).isEqualTo(1);
            assertThat(h.kernel.runOnCpu(1, t::schedule)).isTrue();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
        }
    }

    /**
     * {@code kill()} on a queued tasklet does not dequeue it: it waits while the run is held up
     * (another tasklet ahead of it blocks the CPU), lets it happen, and returns after it finished,
     * with the tasklet neither queued nor running. Spec §10 item 39.
     */
    @Test
    void killOnQueuedTaskletLetsThePendingRunHappen() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CountDownLatch blockerStarted = new CountDownLatch(1);
            CountDownLatch releaseBlocker = new CountDownLatch(1);
            Tasklet blocker = Tasklet.setup(h.kernel, self -> {
                blockerStarted.countDown();
                await(releaseBlocker);
            });
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            AtomicInteger runsWhenKillReturned = new AtomicInteger(-1);
            AtomicBoolean idleWhenKillReturned = new AtomicBoolean();

            h.onCpu(0, () -> {
                blocker.schedule();
                t.schedule();
            });
            Worker killer = null;
            try {
                await(blockerStarted);
                killer = Worker.start("killer", () -> {
                    t.kill();
                    runsWhenKillReturned.set(runs.get());
                    idleWhenKillReturned.set(!t.isScheduled() && !t.isRunning());
                });
                awaitWaiting(killer);
                assertThat(runs).hasValue(0);
                assertThat(t.isScheduled()).isTrue();
            } finally {
                releaseBlocker.countDown();
                Worker.joinQuietly(killer);
            }
            killer.joinAndCheck();

            assertThat(runsWhenKillReturned).hasValue(1);
            assertThat(idleWhenKillReturned).isTrue();
            h.kernel.close();
            assertThat(runs).hasValue(1);
        }
    }

    /**
     * {@code kill()} on a running tasklet returns only after the callback finished; a schedule
     * made while kill waits returns false and adds no run; after kill the tasklet can be scheduled
     * again. Spec §10 items 40 and 41.
     */
    @Test
    void killOnRunningTaskletWaitsAndDropsSchedulesMeanwhile() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean finished = new AtomicBoolean();
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch secondRun = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                if (runs.incrementAndGet() == 1) {
                    started.countDown();
                    await(release);
                    finished.set(true);
                } else {
                    secondRun.countDown();
                }
            });
            AtomicBoolean finishedWhenKillReturned = new AtomicBoolean();
            h.onCpu(0, t::schedule);
            await(started);

            Worker killer = null;
            boolean scheduledDuringKill;
            try {
                killer = Worker.start("killer", () -> {
                    t.kill();
                    finishedWhenKillReturned.set(finished.get());
                });
                awaitWaiting(killer);
                assertThat(finished).isFalse();
                scheduledDuringKill = h.kernel.runOnCpu(1, t::schedule);
            } finally {
                release.countDown();
                Worker.joinQuietly(killer);
            }
            killer.joinAndCheck();

            assertThat(scheduledDuringKill).isFalse();
            assertThat(finishedWhenKillReturned).isTrue();
            assertThat(t.isScheduled()).isFalse();
            assertThat(t.isRunning()).isFalse();
            // no run came from the dropped schedule; the next one works normally
            assertThat(runs).hasValue(1);
            assertThat(h.kernel.runOnCpu(1, t::schedule)).isTrue();
            await(secondRun);
            h.kernel.close();
            assertThat(runs).hasValue(2);
        }
    }

    /**
     * {@code kill()} begun while a self-rescheduling tasklet is running (its re-schedule not yet
     * made) stops it with no further run: the callback's own schedule returns false.
     * Spec §10 item 42 (with item 41).
     */
    @Test
    void killStopsSelfReschedulingTaskletKilledDuringItsRun() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            List<Boolean> reschedules = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch third = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                int n = runs.incrementAndGet();
                if (n == 3) {
                    third.countDown();
                    await(release);
                }
                if (n < SELF_RESCHEDULE_CAP) {   // a kill that failed to stop it fails the test, not hangs it
                    reschedules.add(self.schedule());
                }
            });
            h.onCpu(0, t::schedule);

            Worker killer = null;
            try {
                await(third);
                killer = Worker.start("killer", t::kill);
                awaitWaiting(killer);
            } finally {
                release.countDown();
                Worker.joinQuietly(killer);
            }
            killer.joinAndCheck();
            h.kernel.close();

            assertThat(runs).hasValue(3);
            assertThat(reschedules).containsExactly(true, true, false);
            assertThat(t.isScheduled()).isFalse();
        }
    }

    /**
     * {@code kill()} begun while a self-rescheduling tasklet is running and already queued again
     * waits for that queued run to start, takes the SCHED bit as it starts, and so swallows that
     * run's re-schedule: exactly one more run, then kill returns. Spec §10 item 42 (with item 39).
     *
     * <p>Kill can swallow schedules only once it holds SCHED; a re-schedule made in the instant
     * between the run clearing SCHED and kill taking it would win (as in the kernel) and cost one
     * more run. To check the bound deterministically, the fourth run waits until kill holds SCHED
     * before it re-schedules itself.
     */
    @Test
    void killStopsSelfReschedulingTaskletAfterAtMostOneMoreRun() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            List<Boolean> reschedules = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch third = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                int n = runs.incrementAndGet();
                if (n == 4) {
                    spinUntil(self::isScheduled, "kill() takes SCHED after the 4th run started");
                }
                if (n < SELF_RESCHEDULE_CAP) {
                    reschedules.add(self.schedule());
                }
                if (n == 3) {
                    third.countDown();
                    await(release);
                }
            });
            h.onCpu(0, t::schedule);

            Worker killer = null;
            try {
                await(third);
                killer = Worker.start("killer", t::kill);
                awaitWaiting(killer);
                assertThat(runs).hasValue(3);
            } finally {
                release.countDown();
                Worker.joinQuietly(killer);
            }
            killer.joinAndCheck();
            h.kernel.close();

            assertThat(runs).hasValue(4);
            assertThat(reschedules).containsExactly(true, true, true, false);
            assertThat(t.isScheduled()).isFalse();
        }
    }

    // ---------------------------------------------------------------- 46

    /**
     * While the callback runs, {@code tryLock()} fails and {@code unlockWait()} blocks until it
     * finished. Spec §10 item 46.
     */
    @Test
    void tryLockFailsAndUnlockWaitWaitsWhileTheCallbackRuns() throws Exception {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean finished = new AtomicBoolean();
            AtomicBoolean finishedWhenWaitReturned = new AtomicBoolean();
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                started.countDown();
                await(release);
                finished.set(true);
            });
            h.onCpu(0, t::schedule);
            await(started);

            Worker waiter = Worker.start("unlock-waiter", () -> {
                t.unlockWait();
                finishedWhenWaitReturned.set(finished.get());
            });
            try {
                assertThat(t.tryLock()).isFalse();
                awaitWaiting(waiter);
                assertThat(finished).isFalse();
            } finally {
                release.countDown();
            }
            waiter.joinAndCheck();

            assertThat(finishedWhenWaitReturned).isTrue();
            assertThat(t.isRunning()).isFalse();
        }
    }

    /**
     * A caller that holds the run lock with {@code tryLock()} keeps the tasklet from running (a
     * runner re-queues it); {@code unlock()} lets the queued run happen. Spec §10 item 46.
     */
    @Test
    void heldRunLockKeepsTheTaskletFromRunningUntilUnlock() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            Recorder rec = new Recorder(h);
            Tasklet t = Tasklet.setup(h.kernel, rec);

            assertThat(t.tryLock()).isTrue();
            assertThat(t.isRunning()).isTrue();
            assertThat(t.tryLock()).isFalse();
            try {
                h.onCpu(1, t::schedule);
                h.awaitStat(1, TASKLET_REQUEUES, 2);
                assertThat(rec.runs).hasValue(0);
            } finally {
                t.unlock();
            }
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.cpus).containsExactly(1);
        }
    }

    // ---------------------------------------------------------------- callbacks that throw

    /**
     * A callback that throws (an exception or an error) is reported to the error handler with the
     * tasklet as source and counted; the tasklet is not left RUNNING, the next tasklet of the same
     * batch still runs, the CPU's thread survives, and the tasklet runs again when scheduled.
     */
    @Test
    void throwingCallbackIsReportedAndEverythingGoesOn() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            RuntimeException boom = new IllegalArgumentException("boom");
            AssertionError bang = new AssertionError("bang");
            List<CountDownLatch> ran = List.of(new CountDownLatch(1), new CountDownLatch(1), new CountDownLatch(1));
            Tasklet thrower = Tasklet.setup(h.kernel, self -> {
                int n = runs.incrementAndGet();
                try {
                    if (n == 1) {
                        throw boom;
                    }
                    if (n == 2) {
                        throw bang;
                    }
                } finally {
                    ran.get(n - 1).countDown();
                }
            });
            Recorder follower = new Recorder(h);
            Tasklet next = Tasklet.setup(h.kernel, follower);

            h.hardirq(0, () -> {
                thrower.schedule();
                next.schedule();
            });
            await(ran.get(0));
            await(follower.ran);
            // the follower runs after the thrower's run lock was dropped (same batch, FIFO)
            assertThat(thrower.isRunning()).isFalse();
            assertThat(thrower.isScheduled()).isFalse();

            h.hardirq(0, thrower::schedule);
            await(ran.get(1));
            thrower.unlockWait();
            h.hardirq(0, thrower::schedule);
            await(ran.get(2));
            h.kernel.close();

            assertThat(runs).hasValue(3);
            assertThat(follower.runs).hasValue(1);
            assertThat(follower.cpus).containsExactly(0);
            List<Report> errors = h.takeErrors();
            assertThat(errors).extracting(Report::source).containsExactly(thrower, thrower);
            assertThat(errors).extracting(Report::error).containsExactly(boom, bang);
            assertThat(h.kernel.stats().errors()).isEqualTo(2);
            assertThat(h.stat(0, TASKLET_RUNS)).isEqualTo(4);
        }
    }
}
