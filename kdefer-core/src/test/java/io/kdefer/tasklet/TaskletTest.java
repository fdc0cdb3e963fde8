package io.kdefer.tasklet;

import io.kdefer.testkit.Waits;
import io.kdefer.Kernel;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
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
 * <p>Every test is deterministic: it steers execution with hardirqs ({@code smpCallFunctionSingle}
 * with wait), bottom-half-disabled sections (whose softirqs run on the test thread), latches held
 * by callbacks, thread states and the kernel's counters; the clock never moves unless a test ticks
 * it. A test that asserts "it did not run" first waits until a runner has looked at the tasklet
 * after the relevant change (the {@code TASKLET_REQUEUES} counter), so the claim is not a guess.
 */
class TaskletTest {
    /** Self-rescheduling callbacks in kill tests stop here, so a broken kill ends in a failure. */
    private static final int SELF_RESCHEDULE_CAP = 1000;

    /** A callback that counts its runs and records where each one ran. */
    private static final class Recorder implements Consumer<Tasklet> {
        final Kernel kernel;
        final AtomicInteger runs = new AtomicInteger();
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> cpus = Collections.synchronizedList(new ArrayList<>());
        final List<Boolean> servingSoftirq = Collections.synchronizedList(new ArrayList<>());
        volatile CountDownLatch ran = new CountDownLatch(1);

        Recorder(Kernel kernel) {
            this.kernel = kernel;
        }

        @Override
        public void accept(Tasklet self) {
            threads.add(Thread.currentThread().getName());
            cpus.add(kernel.smpProcessorId());
            servingSoftirq.add(kernel.inServingSoftirq());
            runs.incrementAndGet();
            ran.countDown();
        }
    }

    // ---------------------------------------------------------------- 19, 20

    /**
     * A schedule from task context on CPU 1 queues the tasklet and raises TASKLET_SOFTIRQ there;
     * with bottom halves enabled that wakes {@code ksoftirqd/1}, which runs the callback exactly
     * once, on CPU 1, in softirq context. Spec §10 item 19.
     */
    @Test
    void scheduleFromTaskContextRunsOnceOnThatCpuInKsoftirqd() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
            Tasklet t = Tasklet.setup(h.kernel, rec);

            boolean queued = h.kernel.workOnCpu(1, t::schedule);

            assertThat(queued).isTrue();
            await(rec.ran);
            h.kernel.close();   // runs whatever is still queued: nothing may be
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.cpus).containsExactly(1);
            assertThat(rec.threads).containsExactly("ksoftirqd/1");
            assertThat(rec.servingSoftirq).containsExactly(true);
            assertThat(h.kernel.stats().get(1, TASKLET_RUNS)).isEqualTo(1);
            assertThat(h.kernel.stats().get(0, TASKLET_RUNS)).isZero();
            assertThat(t.isScheduled()).isFalse();
            assertThat(t.isRunning()).isFalse();
        }
    }

    /**
     * A schedule (normal or HI) from a hardirq on CPU 1 runs the callback exactly once, on CPU 1,
     * in softirq context. Spec §10 item 19.
     */
    @ParameterizedTest(name = "hi={0}")
    @ValueSource(booleans = {false, true})
    void scheduleFromHardirqRunsOnceOnThatCpuInSoftirqContext(boolean hi) {
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            AtomicBoolean queued = new AtomicBoolean();

            h.hardirq(1, () -> queued.set(hi ? t.hiSchedule() : t.schedule()));

            assertThat(queued).isTrue();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.cpus).containsExactly(1);
            assertThat(rec.threads).singleElement().asString().endsWith("/1");
            assertThat(rec.servingSoftirq).containsExactly(true);
            assertThat(h.kernel.stats().total(TASKLET_RUNS)).isEqualTo(1);
        }
    }

    /**
     * N schedules made before the tasklet runs (inside one bottom-half-disabled section, so it
     * cannot run in between) give one run: the first returns true, the others false. Mixing
     * {@code schedule} and {@code hiSchedule} coalesces too (one SCHED bit). Spec §10 item 20.
     */
    @Test
    void schedulesBeforeTheRunCoalesceIntoOneRun() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            List<Boolean> results = new ArrayList<>();

            h.bhSection(0, () -> {
                for (int i = 0; i < 5; i++) {
                    results.add(t.schedule());
                }
                results.add(t.hiSchedule());
                assertThat(rec.runs).hasValue(0);
            });

            // the section's localBhEnable() ran the softirq on this thread
            assertThat(rec.runs).hasValue(1);
            assertThat(results).containsExactly(true, false, false, false, false, false);
            assertThat(rec.threads).containsExactly(Thread.currentThread().getName());
            assertThat(rec.servingSoftirq).containsExactly(true);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
        }
    }

    /**
     * N schedules inside one hardirq give one run; once it ran, the next schedule queues a new
     * run. Spec §10 item 20.
     */
    @Test
    void schedulesInOneHardirqCoalesceAndTheNextScheduleQueuesAgain() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
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
        try (TaskletHarness h = new TaskletHarness(1)) {
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
        try (TaskletHarness h = new TaskletHarness(1)) {
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
     * runners keep finding it disabled; after {@code enable()} it runs once, when the vector next
     * runs on that CPU (driven here by a tick). Spec §10 items 22 and 31.
     */
    @ParameterizedTest(name = "legacy={0}")
    @ValueSource(booleans = {false, true})
    void createdDisabledRunsOnlyAfterEnable(boolean legacy) {
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            t.disable();

            assertThat(h.kernel.workOnCpu(0, t::schedule)).isTrue();
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
     * created-disabled tasklet after its enable), the TASKLET vector runs on both CPUs (another
     * tasklet, ticks) and the kernel drains at close, and neither callback ever runs.
     * Spec §10 item 32.
     */
    @Test
    void enableDoesNotScheduleAnUnscheduledTasklet() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            Tasklet d = Tasklet.setupDisabled(h.kernel, self -> runs.incrementAndGet());
            t.disable();
            t.enable();
            d.enable();

            Recorder other = new Recorder(h.kernel);
            Tasklet u = Tasklet.setup(h.kernel, other);
            h.bhSection(0, u::schedule);
            h.bhSection(1, u::schedule);
            h.clock.tick(3);
            h.kernel.close();

            assertThat(other.runs).hasValue(2);
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
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
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
     * A disabled tasklet that is scheduled is not lost: it keeps being put back on its CPU's list
     * with the vector re-raised, so the loop hands over to {@code ksoftirqd} again and again (batches,
     * hand-offs and requeues keep growing) and the tasklet stays scheduled; it runs once after
     * enable. Spec §10 items 31 and 37.
     */
    @Test
    void disabledScheduledTaskletKeepsBeingRequeuedAndIsNotLost() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            t.disable();
            h.onCpu(0, t::schedule);

            h.awaitStat(0, TASKLET_REQUEUES, 100);
            h.awaitStat(0, KSOFTIRQD_BATCHES, 5);
            h.awaitStat(0, SOFTIRQ_HANDOFFS, 4);
            assertThat(rec.runs).hasValue(0);
            assertThat(t.isScheduled()).isTrue();
            assertThat(h.stat(1, TASKLET_REQUEUES)).isZero();

            t.enable();
            await(rec.ran);
            h.kernel.close();
            assertThat(rec.runs).hasValue(1);
            assertThat(rec.threads).containsExactly("ksoftirqd/0");
        }
    }

    // ---------------------------------------------------------------- 23, 24

    /**
     * Tasklets scheduled on one CPU run in the order of their schedule calls (not of creation),
     * within each vector. Spec §10 item 23.
     */
    @ParameterizedTest(name = "hi={0}")
    @ValueSource(booleans = {false, true})
    void taskletsOfOneCpuRunInScheduleOrder(boolean hi) {
        try (TaskletHarness h = new TaskletHarness(2)) {
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            List<Tasklet> ts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int id = i;
                ts.add(Tasklet.setup(h.kernel, self -> order.add(id)));
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

            assertThat(order).containsExactly(4, 1, 5, 0, 3, 2);
        }
    }

    /**
     * FIFO across the owner's fast path and foreign schedules: the thread that owns CPU 1's bottom
     * halves queues without atomics only while no foreign schedule waits, so schedules ordered by
     * happens-before run in that order whichever thread made them. Spec §10 item 23.
     */
    @Test
    void ownerAndForeignSchedulesOfOneCpuRunInScheduleOrder() throws Exception {
        try (TaskletHarness h = new TaskletHarness(2)) {
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            List<Tasklet> ts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int id = i;
                ts.add(Tasklet.setup(h.kernel, self -> order.add(id)));
            }
            h.bhSection(1, () -> {
                ts.get(0).schedule();                  // owner, nothing foreign waiting: owner queue
                foreignSchedule(h, ts.get(1));         // foreign, joined: happens before what follows
                ts.get(2).schedule();                  // owner: must queue behind 1
                ts.get(3).schedule();
            });
            assertThat(order).containsExactly(0, 1, 2, 3);
            h.bhSection(1, () -> {
                foreignSchedule(h, ts.get(4));
                ts.get(5).schedule();
            });
            assertThat(order).containsExactly(0, 1, 2, 3, 4, 5);
        }
    }

    /** Schedules {@code t} from a new thread in task context on CPU 1, and joins it. */
    private static void foreignSchedule(TaskletHarness h, Tasklet t) throws InterruptedException {
        Thread foreign = new Thread(() -> h.onCpu(1, t::schedule), "foreign");
        foreign.start();
        io.kdefer.testkit.Waits.join(foreign);
    }

    /**
     * A HI tasklet scheduled after a normal one runs first, and both run in the same pass of the
     * same softirq invocation (HI is vector 0, TASKLET vector 6). Spec §10 item 24.
     */
    @Test
    void hiTaskletRunsBeforeNormalTaskletInTheSamePass() {
        try (TaskletHarness h = new TaskletHarness(2)) {
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

    // ---------------------------------------------------------------- 26, 27

    /**
     * SCHED is clear while the callback runs (RUN is set), so a schedule from inside the callback
     * returns true and queues exactly one more run. Spec §10 item 26.
     */
    @Test
    void scheduleFromOwnCallbackQueuesOneMoreRun() {
        try (TaskletHarness h = new TaskletHarness(1)) {
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
     * A self-rescheduling tasklet scheduled from a hardirq runs 10 times inside that irq_exit's
     * softirq invocation on {@code cpu/0} (one run per restart pass, the clock standing still),
     * then the loop hands over and {@code ksoftirqd/0} runs the rest in batches of at most 10
     * passes. Spec §10 item 27 (with §10 items 4 and 7).
     */
    @Test
    void selfReschedulingTaskletUsesTheRestartBudgetThenKsoftirqd() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            int total = 25;
            List<String> threads = Collections.synchronizedList(new ArrayList<>());
            List<Boolean> serving = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                threads.add(Thread.currentThread().getName());
                serving.add(h.kernel.inServingSoftirq());
                if (threads.size() < total) {
                    self.schedule();
                } else {
                    done.countDown();
                }
            });

            h.hardirq(0, t::schedule);
            await(done);
            h.kernel.close();

            List<String> expected = new ArrayList<>();
            expected.addAll(Collections.nCopies(10, "cpu/0"));
            expected.addAll(Collections.nCopies(total - 10, "ksoftirqd/0"));
            assertThat(threads).containsExactlyElementsOf(expected);
            assertThat(serving).containsOnly(true);
            assertThat(h.stat(0, TASKLET_RUNS)).isEqualTo(total);
            assertThat(h.stat(0, SOFTIRQ_PASSES)).isEqualTo(total);
            assertThat(h.stat(0, SOFTIRQ_INVOCATIONS)).isEqualTo(3);   // irq_exit + 2 ksoftirqd batches
            assertThat(h.stat(0, KSOFTIRQD_BATCHES)).isEqualTo(2);
            assertThat(h.stat(0, SOFTIRQ_HANDOFFS)).isEqualTo(2);
        }
    }

    // ---------------------------------------------------------------- 28, 29, 30

    /**
     * Scheduled on CPU 1 while its callback runs on CPU 0, the tasklet is queued on CPU 1, where
     * the runner keeps finding it locked and re-queues it; it runs next on CPU 1, only after the
     * run on CPU 0 finished, and the two runs never overlap. Spec §10 items 28 and 29.
     */
    @Test
    void scheduledElsewhereWhileRunningRunsThereAfterTheCurrentRun() {
        try (TaskletHarness h = new TaskletHarness(2)) {
            AtomicInteger inside = new AtomicInteger();
            AtomicBoolean overlap = new AtomicBoolean();
            AtomicInteger runs = new AtomicInteger();
            List<String> events = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch firstStarted = new CountDownLatch(1);
            CountDownLatch releaseFirst = new CountDownLatch(1);
            CountDownLatch secondDone = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                if (inside.incrementAndGet() != 1) {
                    overlap.set(true);
                }
                int n = runs.incrementAndGet();
                events.add("start " + n + " on cpu " + h.kernel.smpProcessorId());
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
            try {
                assertThat(h.kernel.workOnCpu(0, t::schedule)).isTrue();
                await(firstStarted);

                long r0 = h.stat(1, TASKLET_REQUEUES);
                assertThat(h.kernel.workOnCpu(1, t::schedule)).isTrue();
                h.awaitStat(1, TASKLET_REQUEUES, r0 + 2);
                assertThat(runs).hasValue(1);
                assertThat(t.isScheduled()).isTrue();
                assertThat(t.isRunning()).isTrue();
            } finally {
                releaseFirst.countDown();
            }
            await(secondDone);
            h.kernel.close();

            assertThat(events).containsExactly("start 1 on cpu 0", "end 1", "start 2 on cpu 1", "end 2");
            assertThat(overlap).isFalse();
            assertThat(h.stat(0, TASKLET_RUNS)).isEqualTo(1);
            assertThat(h.stat(1, TASKLET_RUNS)).isEqualTo(1);
        }
    }

    /**
     * Two different tasklets scheduled on two CPUs run at the same time: each callback waits at a
     * barrier that opens only when both are inside. Spec §10 item 30.
     */
    @Test
    void differentTaskletsOnTwoCpusRunConcurrently() {
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
                    h.kernel.workOnCpu(1, () -> {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
            Tasklet t = Tasklet.setup(h.kernel, rec);
            Tasklet disabled = Tasklet.setupDisabled(h.kernel, self -> { });

            t.kill();
            disabled.kill();

            assertThat(t.isScheduled()).isFalse();
            assertThat(t.isRunning()).isFalse();
            assertThat(disabled.isScheduled()).isFalse();
            assertThat(disabled.count()).isEqualTo(1);
            assertThat(h.kernel.workOnCpu(1, t::schedule)).isTrue();
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
                scheduledDuringKill = h.kernel.workOnCpu(1, t::schedule);
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
            assertThat(h.kernel.workOnCpu(1, t::schedule)).isTrue();
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(2)) {
            Recorder rec = new Recorder(h.kernel);
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
        try (TaskletHarness h = new TaskletHarness(2)) {
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
            Recorder follower = new Recorder(h.kernel);
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
