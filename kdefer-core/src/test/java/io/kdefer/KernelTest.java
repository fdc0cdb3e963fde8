package io.kdefer;

import io.kdefer.testkit.Waits;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.softirq.Softirqs;
import io.kdefer.tasklet.Tasklet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.ThrowingConsumer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.KernelStats.Counter.HARDIRQS;
import static io.kdefer.softirq.SoftirqVector.BLOCK;
import static io.kdefer.softirq.SoftirqVector.NET_RX;
import static io.kdefer.testkit.TestKernels.onCpu;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * The {@link Kernel} itself: context predicates, bottom-half sections, {@code runOnCpu},
 * {@code smpCallFunctionSingle}, the {@link ManualClock}, the builder, and {@code close()}.
 */
class KernelTest {
    private CollectingErrors errors;

    /** The test's error collector; the extension fails the test on an error it did not take. */
    @BeforeEach
    void errors(CollectingErrors collector) {
        errors = collector;
    }

    private Kernel start(int cpus) {
        return TestKernels.start(TestKernels.manual(cpus, errors));
    }

    /** The context as one line: preempt count and the predicates that hold. */
    private static String context(Kernel k) {
        return String.format("%05x", k.preemptCount())
                + (k.inHardirq() ? " hardirq" : "")
                + (k.inServingSoftirq() ? " serving" : "")
                + (k.inSoftirq() ? " softirq" : "")
                + (k.inInterrupt() ? " interrupt" : "")
                + (k.inTask() ? " task" : "");
    }

    // ------------------------------------------------------------------ context

    /**
     * The predicates read the kernel's preempt-count layout: HARDIRQ_OFFSET 0x10000 per hardirq,
     * SOFTIRQ_OFFSET 0x100 while serving, SOFTIRQ_DISABLE_OFFSET 0x200 per bottom-half disable.
     * A bottom-half-disabled task is still {@code in_task()} but {@code in_interrupt()}; a
     * hardirq nested in a softirq on {@code cpu/0} is both hardirq and serving. Spec §1.1 and
     * §11.2; §10 items 13 and 14.
     */
    @Test
    void contextPredicatesFollowThePreemptCountLayout() {
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        try (Kernel k = start(1)) {
            k.softirqs().open(NET_RX, () -> {
                seen.add("softirq: " + context(k));
                k.smpCallFunctionSingle(0, () -> seen.add("hardirq in softirq: " + context(k)), true);
            });
            seen.add("task: " + context(k));
            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    seen.add("bh off: " + context(k));
                    k.localBhDisable();
                    try {
                        seen.add("bh off x2: " + context(k));
                    } finally {
                        k.localBhEnable();
                    }
                } finally {
                    k.localBhEnable();
                }
                seen.add("bh on: " + context(k));
            });
            k.smpCallFunctionSingle(0, () -> {
                seen.add("hardirq: " + context(k));
                k.softirqs().raise(NET_RX);
            }, true);
        }
        assertThat(seen).containsExactly(
                "task: 00000 task",
                "bh off: 00200 softirq interrupt task",
                "bh off x2: 00400 softirq interrupt task",
                "bh on: 00000 task",
                "hardirq: 10000 hardirq interrupt",
                "softirq: 00100 serving softirq interrupt",
                "hardirq in softirq: 10100 hardirq serving softirq interrupt");
    }

    // ------------------------------------------------------------------ bottom halves

    /**
     * {@code localBhEnable()} without a matching disable is refused and changes nothing: the
     * thread can disable and enable normally afterwards. Spec §2.3 ({@code local_bh_enable}); no §10
     * item.
     */
    @Test
    void localBhEnableWithoutDisableIsRejected() {
        try (Kernel k = start(1)) {
            assertThatThrownBy(k::localBhEnable)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("without a matching local_bh_disable()");
            assertThat(k.preemptCount()).isZero();
            k.localBhDisable();
            assertThat(k.preemptCount()).isEqualTo(0x200);
            k.localBhEnable();
            assertThat(k.preemptCount()).isZero();
            assertThatThrownBy(k::localBhEnable).isInstanceOf(IllegalStateException.class);
        }
    }

    /**
     * Bottom halves are per CPU: while one task has them disabled on CPU 0, another task's
     * {@code localBhDisable()} on CPU 0 waits until the first enables, and a task on CPU 1 is
     * not held up. DESIGN "Per-CPU exclusion", spec §12 ("BH execution lock"); no §10 item.
     */
    @Test
    void aBottomHalfSectionExcludesOtherTasksOnTheSameCpuOnly() throws Exception {
        try (Kernel k = start(2)) {
            AtomicBoolean entered = new AtomicBoolean();
            Thread sameCpu = new Thread(() -> onCpu(k, 0, () -> {
                k.localBhDisable();
                entered.set(true);
                k.localBhEnable();
            }), "task on cpu 0");
            Thread otherCpu = new Thread(() -> onCpu(k, 1, () -> {
                k.localBhDisable();
                k.localBhEnable();
            }), "task on cpu 1");

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    sameCpu.start();
                    Waits.awaitBlocked(sameCpu);
                    otherCpu.start();
                    Waits.join(otherCpu);
                    assertThat(entered).as("second task got in while the first held CPU 0").isFalse();
                } finally {
                    k.localBhEnable();
                }
            });
            Waits.join(sameCpu);
            assertThat(entered).isTrue();
        }
    }

    // ------------------------------------------------------------------ runOnCpu and workOnCpu

    /**
     * {@code runOnCpu} runs the callable on the calling thread, in task context, with
     * {@code smpProcessorId()} equal to the chosen CPU during the call only (also when nested and
     * when the callable throws). A task's home CPU is its thread id modulo the CPU count. Runtime
     * exceptions pass through, checked ones come back wrapped in {@link CompletionException}.
     * DESIGN "Which CPU is current"; no §10 item.
     */
    @Test
    void runOnCpuSwitchesTheCurrentCpuOnlyDuringTheCall() {
        try (Kernel k = start(3)) {
            int home = k.smpProcessorId();
            assertThat(home).isEqualTo((int) (Thread.currentThread().getId() % 3));
            Thread me = Thread.currentThread();

            String r = k.runOnCpu(2, () -> {
                assertThat(Thread.currentThread()).isSameAs(me);
                assertThat(k.inTask()).isTrue();
                int inner = k.runOnCpu(1, k::smpProcessorId);
                return k.smpProcessorId() + "," + inner;
            });
            assertThat(r).isEqualTo("2,1");
            assertThat(k.smpProcessorId()).isEqualTo(home);

            IllegalArgumentException iae = new IllegalArgumentException("x");
            assertThatThrownBy(() -> k.runOnCpu(1, () -> {
                throw iae;
            })).isSameAs(iae);
            assertThat(k.smpProcessorId()).isEqualTo(home);

            IOException io = new IOException("y");
            assertThatThrownBy(() -> k.runOnCpu(1, () -> {
                throw io;
            })).isInstanceOf(CompletionException.class).hasCause(io);
            assertThat(k.smpProcessorId()).isEqualTo(home);

            assertThatThrownBy(() -> k.runOnCpu(3, () -> 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> k.runOnCpu(-1, () -> 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> k.runOnCpu(0, null)).isInstanceOf(NullPointerException.class);
        }
    }

    /**
     * {@code workOnCpu} is the kernel's {@code work_on_cpu}: the callable runs on a kernel worker
     * of the chosen CPU ({@code kworker/N:M}, task context, that CPU), the caller waits for it;
     * results and exceptions come back as from {@code runOnCpu}; a callable that leaves bottom
     * halves disabled has them re-enabled and the call throws; atomic context is refused. A
     * worker calling it waits while another worker runs the callable. DESIGN "Which CPU is
     * current"; no §10 item.
     */
    @Test
    void workOnCpuRunsTheCallableOnAWorkerOfThatCpu() {
        try (Kernel k = start(2)) {
            String where = k.workOnCpu(1, () -> Thread.currentThread().getName() + " cpu " + k.smpProcessorId()
                    + " task " + k.inTask());
            assertThat(where).matches("kworker/1:\\d+ cpu 1 task true");

            IllegalArgumentException iae = new IllegalArgumentException("x");
            assertThatThrownBy(() -> k.workOnCpu(0, () -> {
                throw iae;
            })).isSameAs(iae);
            IOException io = new IOException("y");
            assertThatThrownBy(() -> k.workOnCpu(0, () -> {
                throw io;
            })).isInstanceOf(CompletionException.class).hasCause(io);
            assertThatThrownBy(() -> k.workOnCpu(0, () -> {
                k.localBhDisable();
                return 0;
            })).isInstanceOf(IllegalStateException.class).hasMessageContaining("bottom halves disabled");
            assertThat(k.workOnCpu(0, k::inSoftirq)).as("the worker got its bottom halves back").isFalse();

            // from a worker of cpu 0 to cpu 0 again: the caller sleeps, another worker runs it
            String nested = k.workOnCpu(0, () -> {
                String outer = Thread.currentThread().getName();
                String inner = k.workOnCpu(0, () -> Thread.currentThread().getName());
                return outer.equals(inner) ? "same" : "other";
            });
            assertThat(nested).isEqualTo("other");

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    assertThatThrownBy(() -> k.workOnCpu(1, () -> 0))
                            .isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context");
                } finally {
                    k.localBhEnable();
                }
            });
            assertThatThrownBy(() -> k.workOnCpu(2, () -> 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> k.workOnCpu(0, null)).isInstanceOf(NullPointerException.class);
        }
    }

    /**
     * {@code runOnCpu} may sleep in the kernel, so it is refused in atomic context: inside a
     * bottom-half-disabled section, in a hardirq and in a softirq action. Spec §0.2 ("must not"
     * becomes an exception); no §10 item.
     */
    @Test
    void runOnCpuIsRefusedInAtomicContext() {
        try (Kernel k = start(2)) {
            AtomicReference<Throwable> inSoftirq = new AtomicReference<>();
            k.softirqs().open(NET_RX, () -> inSoftirq.set(catchThrowable(() -> k.runOnCpu(1, () -> 0))));

            onCpu(k, 0, () -> {
                k.localBhDisable();
                try {
                    assertThatThrownBy(() -> k.runOnCpu(1, () -> 0))
                            .isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining("atomic context");
                    assertThat(k.smpProcessorId()).isZero();
                } finally {
                    k.localBhEnable();
                }
            });
            assertThatThrownBy(() -> k.smpCallFunctionSingle(0, () -> k.runOnCpu(1, () -> 0), true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("atomic context");
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), true);
            assertThat(inSoftirq.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("atomic context");
        }
    }

    /**
     * A callable that returns from {@code runOnCpu} with bottom halves still disabled would carry
     * CPU 1's bottom-half ownership back to its home CPU, where no enable can release it (the
     * kernel reports "workqueue leaked lock or atomic" when a work function does this). The call
     * must be refused with an {@link IllegalStateException} and CPU 1 must keep working. Spec §0.2;
     * no §10 item.
     *
     * <p>If the ownership did leak, the kernel cannot be closed (close waits for CPU 1's bottom
     * halves); the test then leaves it, parked, instead of hanging.
     */
    @Test
    void runOnCpuRefusesToReturnWithBottomHalvesDisabled() {
        Kernel k = start(2);
        boolean leaked = true;
        try {
            int other = 1 - k.smpProcessorId();
            AtomicInteger runs = new AtomicInteger();
            k.softirqs().open(NET_RX, runs::incrementAndGet);
            Throwable thrown = catchThrowable(() -> k.runOnCpu(other, () -> {
                k.localBhDisable();
                return null;
            }));
            leaked = k.inSoftirq();
            assertThat(thrown).isInstanceOf(IllegalStateException.class);
            assertThat(leaked).as("the calling thread still has bottom halves disabled").isFalse();
            k.smpCallFunctionSingle(other, () -> k.softirqs().raise(NET_RX), true);
            leaked = runs.get() != 1;
            assertThat(runs).as("CPU %d serves softirqs at irq_exit again", other).hasValue(1);
        } finally {
            if (!leaked) {
                k.close();
            }
        }
    }

    // ------------------------------------------------------------------ smpCallFunctionSingle

    /**
     * {@code smpCallFunctionSingle(cpu, fn, true)} runs {@code fn} on thread {@code cpu/N} in
     * hardirq context with {@code smpProcessorId() == N}, and returns after it ran; each call is
     * one hardirq in the stats. DESIGN "Which CPU is current"; no §10 item.
     */
    @Test
    void smpCallFunctionSingleRunsInHardirqOnTheTargetCpusThread() {
        try (Kernel k = start(3)) {
            for (int c = 0; c < 3; c++) {
                List<String> seen = new ArrayList<>();
                k.smpCallFunctionSingle(c, () -> seen.add(Thread.currentThread().getName()
                        + " cpu " + k.smpProcessorId() + " hardirq " + k.inHardirq()), true);
                assertThat(seen).containsExactly("cpu/" + c + " cpu " + c + " hardirq true");
            }
            KernelStats st = k.stats();
            for (int c = 0; c < 3; c++) {
                assertThat(st.get(c, HARDIRQS)).isEqualTo(1);
            }
            assertThatThrownBy(() -> k.smpCallFunctionSingle(3, () -> { }, true))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> k.smpCallFunctionSingle(0, null, true))
                    .isInstanceOf(NullPointerException.class);
        }
    }

    /**
     * With {@code wait} the exception {@code fn} threw is rethrown to the caller; without, it
     * goes to the error handler. Either way the CPU goes on serving calls (calls to one CPU run in
     * the order they were sent, so a waited call after an unwaited one sees its effects). DESIGN
     * "Fail fast"; no §10 item.
     */
    @Test
    void smpCallFunctionSingleRethrowsWhenWaitingAndReportsWhenNot() {
        IllegalStateException first = new IllegalStateException("first");
        IllegalStateException second = new IllegalStateException("second");
        try (Kernel k = start(1)) {
            assertThatThrownBy(() -> k.smpCallFunctionSingle(0, () -> {
                throw first;
            }, true)).isSameAs(first);
            errors.assertNone();

            k.smpCallFunctionSingle(0, () -> {
                throw second;
            }, false);
            AtomicBoolean after = new AtomicBoolean();
            k.smpCallFunctionSingle(0, () -> after.set(true), true);
            assertThat(after).isTrue();
            assertThat(errors.reports()).hasSize(1);
            assertThat(errors.reports().get(0).error()).isSameAs(second);
            assertThat(k.stats().errors()).isEqualTo(1);
        }
        errors.take();   // the expected reports were checked above
    }

    /**
     * From a hardirq on {@code cpu/0}, a call to CPU 0 runs nested, at once; a waited call to
     * another CPU is refused (two CPUs waiting for each other in hardirq context deadlock, the
     * kernel WARNs), while an unwaited one is delivered. Spec §0.2; no §10 item.
     */
    @Test
    void smpCallFunctionSingleFromHardirq() {
        try (Kernel k = start(2)) {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            AtomicReference<Throwable> waited = new AtomicReference<>();
            k.smpCallFunctionSingle(0, () -> {
                log.add("outer");
                k.smpCallFunctionSingle(0, () -> log.add("nested " + String.format("%05x", k.preemptCount())), true);
                log.add("outer again");
                waited.set(catchThrowable(() -> k.smpCallFunctionSingle(1, () -> log.add("never"), true)));
                k.smpCallFunctionSingle(1, () -> log.add("on cpu 1"), false);
            }, true);
            k.smpCallFunctionSingle(1, () -> { }, true);   // calls to one CPU run in order
            assertThat(log).containsExactly("outer", "nested 20000", "outer again", "on cpu 1");
            assertThat(waited.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("deadlock");
        }
    }

    // ------------------------------------------------------------------ clock

    /**
     * {@code jiffies} start at {@code INITIAL_JIFFIES = (unsigned int)(-300*HZ)}, so the low 32 bits
     * wrap 300 seconds after boot. Spec §11.1.
     */
    @ParameterizedTest(name = "HZ={0}")
    @CsvSource({"1000, 4294667296", "300, 4294877296", "250, 4294892296", "100, 4294937296"})
    void jiffiesStartAtInitialJiffies(int hz, long expected) {
        assertThat(Clock.initialJiffies(hz)).isEqualTo(expected);
        assertThat((expected + 300L * hz) & 0xFFFF_FFFFL).isZero();
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors).hz(hz))) {
            assertThat(k.hz()).isEqualTo(hz);
            assertThat(k.jiffies()).isEqualTo(expected);
            assertThat(k.clock().hz()).isEqualTo(hz);
        }
    }

    /**
     * {@code msecs_to_jiffies} rounds up, so a delay is never shorter than asked; this is why
     * MAX_SOFTIRQ_TIME is 2 jiffies at HZ=1000 and 1 jiffy at HZ=300, 250 and 100. Spec §2.4 and
     * §11.3.
     */
    @ParameterizedTest(name = "HZ={0}: {1} ms -> {2} jiffies")
    @CsvSource({
            "1000, 0, 0", "1000, 1, 1", "1000, 2, 2", "1000, 1500, 1500",
            "300, 1, 1", "300, 2, 1", "300, 4, 2", "300, 10, 3", "300, 1000, 300",
            "250, 1, 1", "250, 2, 1", "250, 4, 1", "250, 5, 2", "250, 10, 3",
            "100, 1, 1", "100, 2, 1", "100, 10, 1", "100, 11, 2", "100, 1000, 100",
    })
    void msecsToJiffiesRoundsUp(int hz, long ms, long jiffies) {
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors).hz(hz))) {
            assertThat(k.msecsToJiffies(ms)).isEqualTo(jiffies);
        }
    }

    /**
     * {@code ManualClock.tick()} advances {@code jiffies} by one and delivers one hardirq to every
     * CPU before it returns; {@code tick(n)} is n ticks; negative counts are refused. Spec §10
     * preamble (tests advance a manual clock); no §10 item of its own.
     */
    @Test
    void manualClockTickAdvancesJiffiesAndInterruptsEveryCpu() {
        try (Kernel k = start(3)) {
            ManualClock clock = TestKernels.clock(k);
            long j0 = k.jiffies();
            assertThat(j0).isEqualTo(Clock.initialJiffies(1000));
            clock.tick();
            assertThat(k.jiffies()).isEqualTo(j0 + 1);
            for (int c = 0; c < 3; c++) {
                assertThat(k.stats().get(c, HARDIRQS)).isEqualTo(1);
            }
            clock.tick(3);
            clock.tick(0);
            assertThat(k.jiffies()).isEqualTo(j0 + 4);
            for (int c = 0; c < 3; c++) {
                assertThat(k.stats().get(c, HARDIRQS)).isEqualTo(4);
            }
            assertThatThrownBy(() -> clock.tick(-1)).isInstanceOf(IllegalArgumentException.class);
            assertThat(k.jiffies()).isEqualTo(j0 + 4);
        }
    }

    /** A clock serves one kernel; an unbound manual clock cannot tick. No §10 item. */
    @Test
    void aClockServesOneKernel() {
        ManualClock clock = new ManualClock();
        assertThatThrownBy(clock::tick).isInstanceOf(IllegalStateException.class);
        try (Kernel k = TestKernels.start(Kernel.builder().cpus(1).clock(clock).errorHandler(errors))) {
            assertThat(k.clock()).isSameAs(clock);
            assertThatThrownBy(() -> TestKernels.track(Kernel.builder().cpus(1).clock(clock).build()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already serves a kernel");
        }
    }

    // ------------------------------------------------------------------ builder

    /**
     * The builder refuses CPU counts outside 1..4096, HZ values the kernel does not offer
     * (spec §11.1: 100, 250, 300, 1000), and nulls. No §10 item.
     */
    @Test
    void builderValidatesItsArguments() {
        for (int cpus : new int[] {0, -1, 4097}) {
            assertThatThrownBy(() -> Kernel.builder().cpus(cpus)).isInstanceOf(IllegalArgumentException.class);
        }
        for (int hz : new int[] {0, 24, 200, 500, 1024}) {
            assertThatThrownBy(() -> Kernel.builder().hz(hz)).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> Kernel.builder().clock(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> Kernel.builder().idleStrategy(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> Kernel.builder().errorHandler(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> IdleStrategy.spin(java.time.Duration.ofNanos(-1)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Defaults: one CPU per available processor, HZ 1000, not faithful; {@code faithful(true)} and
     * the spinning idle strategy are taken as given, and a kernel that spins when idle serves
     * softirqs like one that parks. No §10 item.
     */
    @Test
    void builderDefaultsAndOptions() {
        try (Kernel k = TestKernels.track(Kernel.builder().clock(new ManualClock()).errorHandler(errors).build())) {
            assertThat(k.nrCpus()).isEqualTo(Runtime.getRuntime().availableProcessors());
            assertThat(k.hz()).isEqualTo(1000);
            assertThat(k.faithful()).isFalse();
        }
        try (Kernel k = TestKernels.start(TestKernels.manual(2, errors)
                .faithful(true).idleStrategy(IdleStrategy.spin()))) {
            assertThat(k.faithful()).isTrue();
            AtomicInteger runs = new AtomicInteger();
            k.softirqs().open(NET_RX, runs::incrementAndGet);
            k.smpCallFunctionSingle(1, () -> k.softirqs().raise(NET_RX), true);
            assertThat(runs).hasValue(1);
            assertThat(k.softirqs().count(1, NET_RX)).isEqualTo(1);
        }
    }

    /**
     * An error handler that throws is ignored: the error is still counted and the CPU goes on.
     * DESIGN "Fail fast"; no §10 item.
     */
    @Test
    void anErrorHandlerThatThrowsDoesNotStopTheCpu() {
        AtomicInteger handled = new AtomicInteger();
        ErrorHandler throwing = (source, error) -> {
            handled.incrementAndGet();
            throw new IllegalStateException("handler failed");
        };
        try (Kernel k = TestKernels.start(Kernel.builder().cpus(1).clock(new ManualClock()).errorHandler(throwing))) {
            AtomicInteger runs = new AtomicInteger();
            k.softirqs().open(NET_RX, () -> {
                runs.incrementAndGet();
                throw new RuntimeException("action failed");
            });
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), true);
            k.smpCallFunctionSingle(0, () -> k.softirqs().raise(NET_RX), true);
            assertThat(runs).hasValue(2);
            assertThat(handled).hasValue(2);
            assertThat(k.stats().errors()).isEqualTo(2);
        }
    }

    // ------------------------------------------------------------------ close

    /**
     * {@code close()} runs what was raised before it, wherever it waits: a hardirq still queued
     * for {@code cpu/0}, a vector waiting for {@code ksoftirqd/1}, and a vector that re-raises
     * itself 25 times (which crosses into {@code ksoftirqd/0}), and returns only after all ran.
     * DESIGN "Nothing is lost on close"; no §10 item.
     */
    @Test
    void closeRunsWorkRaisedBeforeIt() {
        AtomicInteger rx = new AtomicInteger();
        AtomicInteger block = new AtomicInteger();
        Kernel k = start(2);
        try {
            Softirqs s = k.softirqs();
            s.open(NET_RX, () -> {
                if (rx.incrementAndGet() < 25) {
                    s.raise(NET_RX);
                }
            });
            s.open(BLOCK, block::incrementAndGet);
            k.smpCallFunctionSingle(0, () -> s.raise(NET_RX), false);
            onCpu(k, 1, () -> s.raise(BLOCK));
        } finally {
            k.close();
        }
        assertThat(rx).hasValue(25);
        assertThat(block).hasValue(1);
        assertThat(k.isClosed()).isTrue();
    }

    /**
     * {@code close()} is idempotent, and afterwards every call that would add work or enter the
     * kernel fails with {@code IllegalStateException("kernel is closed")}. DESIGN "Nothing is lost
     * on close"; no §10 item.
     */
    @Test
    void closeIsIdempotentAndLaterCallsAreRefused() {
        Kernel k = start(2);
        Softirqs s = k.softirqs();
        s.open(NET_RX, () -> { });
        assertThat(k.isClosed()).isFalse();
        k.close();
        assertThat(k.isClosed()).isTrue();
        k.close();
        assertThat(k.isClosed()).isTrue();

        List<ThrowingConsumer<Kernel>> calls = List.of(
                Kernel::softirqs,
                x -> s.raise(NET_RX),
                x -> s.raiseIrqoff(NET_RX),
                x -> s.open(BLOCK, () -> { }),
                x -> x.smpCallFunctionSingle(0, () -> { }, true),
                x -> x.smpCallFunctionSingle(1, () -> { }, false),
                x -> x.runOnCpu(0, () -> 0),
                Kernel::localBhDisable,
                x -> Tasklet.setup(x, t -> { }));
        for (ThrowingConsumer<Kernel> call : calls) {
            assertThatThrownBy(() -> call.accept(k))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("kernel is closed");
        }
        assertThat(k.preemptCount()).isZero();
    }

    /**
     * After {@code close()} returns, every thread the kernel started ({@code cpu/N} and
     * {@code ksoftirqd/N}, captured from inside callbacks that ran on them) has ended. DESIGN
     * "Nothing is lost on close"; no §10 item.
     */
    @Test
    void closeJoinsEveryThreadItStarted() throws Exception {
        Map<String, Thread> started = new HashMap<>();
        Map<String, Thread> captured = new ConcurrentHashMap<>();
        Kernel k = TestKernels.start(TestKernels.manual(2, errors), started);
        try {
            CountDownLatch[] ran = {new CountDownLatch(1)};
            k.softirqs().open(NET_RX, () -> {
                captured.put(Thread.currentThread().getName(), Thread.currentThread());
                ran[0].countDown();
            });
            for (int c = 0; c < 2; c++) {
                k.smpCallFunctionSingle(c, () -> captured.put(Thread.currentThread().getName(), Thread.currentThread()),
                        true);
                ran[0] = new CountDownLatch(1);
                onCpu(k, c, () -> k.softirqs().raise(NET_RX));
                Waits.await(ran[0], "NET_RX in ksoftirqd/" + c);
            }
        } finally {
            k.close();
        }
        assertThat(captured).containsOnlyKeys("cpu/0", "cpu/1", "ksoftirqd/0", "ksoftirqd/1");
        for (Map.Entry<String, Thread> e : captured.entrySet()) {
            assertThat(e.getValue()).as(e.getKey()).isSameAs(started.get(e.getKey()));
            assertThat(e.getValue().isAlive()).as(e.getKey() + " alive after close").isFalse();
        }
    }

    /**
     * A kernel cannot be closed from its own threads (close joins them): from a hardirq on
     * {@code cpu/0} and from a softirq action in {@code ksoftirqd/0} the call is refused, and the
     * kernel keeps running. No §10 item.
     */
    @Test
    void closeFromAKernelThreadIsRefused() throws Exception {
        try (Kernel k = start(1)) {
            AtomicReference<Throwable> fromKsoftirqd = new AtomicReference<>();
            CountDownLatch ran = new CountDownLatch(1);
            k.softirqs().open(NET_RX, () -> {
                fromKsoftirqd.set(catchThrowable(k::close));
                ran.countDown();
            });
            assertThatThrownBy(() -> k.smpCallFunctionSingle(0, k::close, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("cpu/0");
            k.softirqs().raise(NET_RX);
            Waits.await(ran, "NET_RX in ksoftirqd/0");
            assertThat(fromKsoftirqd.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("ksoftirqd/0");
            assertThat(k.isClosed()).isFalse();
            AtomicBoolean still = new AtomicBoolean();
            k.smpCallFunctionSingle(0, () -> still.set(true), true);
            assertThat(still).isTrue();
        }
    }

    /** Two threads closing at once both return, and only after the kernel is closed. No §10 item. */
    @Test
    void concurrentClosesBothReturnAfterTheKernelIsClosed() throws Exception {
        Kernel k = start(2);
        AtomicInteger sawClosed = new AtomicInteger();
        Runnable closer = () -> {
            k.close();
            if (k.isClosed()) {
                sawClosed.incrementAndGet();
            }
        };
        Thread a = new Thread(closer, "closer a");
        Thread b = new Thread(closer, "closer b");
        a.start();
        b.start();
        Waits.join(a);
        Waits.join(b);
        assertThat(sawClosed).hasValue(2);
    }

    /**
     * While {@code close()} drains, callbacks may add work, including softirq actions that a task
     * runs at its own {@code localBhEnable()}: here a vector raised inside a task's bottom-half
     * section re-raises itself after {@code close()} began, and every re-raise is served. DESIGN
     * "Nothing is lost on close"; no §10 item.
     */
    @Test
    void actionsRunAtLocalBhEnableMayRaiseWhileTheKernelCloses() throws Exception {
        Kernel k = start(1);
        AtomicInteger runs = new AtomicInteger();
        Softirqs s = k.softirqs();
        s.open(NET_RX, () -> {
            if (runs.incrementAndGet() < 5) {
                s.raise(NET_RX);
            }
        });
        Thread closer = new Thread(k::close, "closer");
        onCpu(k, 0, () -> {
            k.localBhDisable();
            try {
                s.raise(NET_RX);
                closer.start();
                // raising an already pending vector adds nothing; once it is refused, close() began
                while (catchThrowable(() -> s.raise(NET_RX)) == null) {
                    Thread.onSpinWait();
                }
            } finally {
                k.localBhEnable();
            }
        });
        Waits.join(closer);
        assertThat(k.isClosed()).isTrue();
        assertThat(runs).hasValue(5);
    }

    /**
     * {@code close()} from a task that has bottom halves disabled would wait for itself (close
     * waits until no thread owns a CPU's bottom halves); it must be refused with an
     * {@link IllegalStateException}, leaving the kernel open. The call is made on a helper thread
     * so that a close that does hang is seen (the kernel refuses outside work once closing began,
     * and the helper is parked) instead of hanging the test; such a kernel is then abandoned.
     * DESIGN "Fail fast where the kernel hangs"; no §10 item.
     */
    @Test
    void closeInsideABottomHalfSectionIsRefused() throws Exception {
        Kernel k = start(1);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread task = new Thread(() -> onCpu(k, 0, () -> {
            k.localBhDisable();
            try {
                thrown.set(catchThrowable(k::close));
            } finally {
                k.localBhEnable();
            }
        }), "closing task");
        task.setDaemon(true);
        task.start();
        boolean hung = false;
        for (;;) {
            if (!task.isAlive()) {
                break;
            }
            if (task.getState() == Thread.State.WAITING
                    && catchThrowable(() -> k.softirqs().raiseIrqoff(SoftirqVector.SCHED)) != null) {
                hung = true;   // closing began and the task waits: it waits for itself
                break;
            }
            Thread.onSpinWait();
        }
        assertThat(hung).as("close() from inside localBhDisable() waits for its own caller").isFalse();
        Waits.join(task);
        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class);
        assertThat(k.isClosed()).isFalse();
        k.close();
    }
}
