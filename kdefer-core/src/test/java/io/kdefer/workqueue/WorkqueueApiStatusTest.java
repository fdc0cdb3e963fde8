package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import io.kdefer.timer.KernelTimer;
import io.kdefer.workqueue.WorkqueueApiProbe.Gate;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Status queries and allocation limits against spec §10.3 items 82, 83 and 85: {@code busy()}
 * ({@code work_busy}), {@code currentWork()} ({@code current_work}) and the {@code max_active}
 * range ({@code WQ_DFL_ACTIVE}, {@code WQ_MAX_ACTIVE}), thrown by default and clamped with a report
 * in faithful mode.
 */
class WorkqueueApiStatusTest {
    private static final Object NONE = new Object();

    // ---------------------------------------------------------------- 82

    /**
     * {@code busy()} in quiescent states: 0 for a new or finished item, PENDING while queued or on
     * its delay timer, RUNNING while executing, both while executing and queued again.
     * Spec §10.3 item 82.
     */
    @Test
    void busyReportsPendingAndRunning(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api82", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate second = probe.hold(2);
        DelayedWork w = new DelayedWork(probe);
        assertThat(w.busy()).as("new").isZero();
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            wq.queueOn(0, w);
            assertThat(w.busy()).as("queued behind a held item").isEqualTo(Work.BUSY_PENDING);
        } finally {
            blocker.releaseAll();
        }
        wq.flush();
        assertThat(w.busy()).as("finished").isZero();
        try {
            wq.queueOn(1, w);
            second.awaitStarted();
            assertThat(w.busy()).as("executing").isEqualTo(Work.BUSY_RUNNING);
            wq.queueOn(1, w);
            assertThat(w.busy()).as("executing and queued").isEqualTo(Work.BUSY_PENDING | Work.BUSY_RUNNING);
        } finally {
            probe.releaseAll();
        }
        wq.flush();
        assertThat(w.busy()).isZero();

        wq.queueDelayed(w, 5);
        assertThat(w.busy()).as("on its timer").isEqualTo(Work.BUSY_PENDING);
        w.cancel();
        assertThat(w.busy()).isZero();
        assertThat(probe.runs).hasValue(3);
    }

    // ---------------------------------------------------------------- 83

    /**
     * {@code currentWork()} is the executing item inside its function, on per-CPU, unbound and BH
     * queues alike; it is null on a thread that is not a worker, in a hardirq, in a timer callback
     * and in a tasklet. Spec §10.3 item 83.
     */
    @Test
    void currentWorkIsTheExecutingItemInsideItsFunctionAndNullElsewhere(Kernel kernel, ManualClock clock) {
        assertThat(kernel.currentWork()).isNull();
        assertThat(kernel.workqueues().currentWork()).isNull();

        Workqueue unbound = kernel.allocWorkqueue("api83u", 0, WqFlag.UNBOUND);
        for (Workqueue wq : List.of(kernel.systemWq(), unbound, kernel.systemBhWq(), kernel.systemBhHighpriWq())) {
            AtomicReference<Object> seen = new AtomicReference<>(NONE);
            AtomicReference<Object> seenViaWorkqueues = new AtomicReference<>(NONE);
            Work w = new Work(self -> {
                seen.set(kernel.currentWork());
                seenViaWorkqueues.set(kernel.workqueues().currentWork());
            });
            wq.queueOn(1, w);
            w.flush();
            assertThat(seen.get()).as(wq.name()).isSameAs(w);
            assertThat(seenViaWorkqueues.get()).as(wq.name()).isSameAs(w);
        }

        AtomicReference<Object> inHardirq = new AtomicReference<>(NONE);
        kernel.smpCallFunctionSingle(1, () -> inHardirq.set(kernel.currentWork()), true);
        assertThat(inHardirq.get()).as("hardirq").isNull();

        CountDownLatch timerRan = new CountDownLatch(1);
        AtomicReference<Object> inTimer = new AtomicReference<>(NONE);
        KernelTimer t = KernelTimer.setup(kernel, self -> {
            inTimer.set(kernel.currentWork());
            timerRan.countDown();
        });
        t.add(kernel.jiffies() + 1);
        clock.tick(2);
        Waits.await(timerRan);
        assertThat(inTimer.get()).as("timer callback").isNull();

        CountDownLatch taskletRan = new CountDownLatch(1);
        AtomicReference<Object> inTasklet = new AtomicReference<>(NONE);
        Tasklet tl = Tasklet.setup(kernel, self -> {
            inTasklet.set(kernel.currentWork());
            taskletRan.countDown();
        });
        kernel.workOnCpu(1, tl::schedule);
        Waits.await(taskletRan);
        assertThat(inTasklet.get()).as("tasklet").isNull();
    }

    // ---------------------------------------------------------------- 85

    /**
     * {@code max_active} 0 means {@code WQ_DFL_ACTIVE} (1024, the 6.13+ value); 1 and
     * {@code WQ_MAX_ACTIVE} (2048) are taken as given; ordered queues have 1. Default mode: values
     * above 2048 or below 1 are refused with an {@link IllegalArgumentException} naming the queue
     * and the range, at allocation and in {@code setMaxActive} (where 0 is out of range too), and
     * nothing changes; {@code setMaxActive} on an ordered queue is refused (spec §4.9).
     * Spec §10.3 item 85.
     */
    @Test
    void maxActiveZeroIsTheDefaultAndOutOfRangeValuesAreRefused(Kernel kernel) {
        assertThat(Workqueue.WQ_MAX_ACTIVE).isEqualTo(2048);
        assertThat(Workqueue.WQ_DFL_ACTIVE).isEqualTo(1024);
        assertThat(kernel.allocWorkqueue("api85dfl", 0).maxActive()).isEqualTo(1024);
        assertThat(kernel.allocWorkqueue("api85u", 0, WqFlag.UNBOUND).maxActive()).isEqualTo(1024);
        assertThat(kernel.allocWorkqueue("api85one", 1).maxActive()).isEqualTo(1);
        assertThat(kernel.allocWorkqueue("api85max", 2048).maxActive()).isEqualTo(2048);
        assertThat(kernel.allocOrderedWorkqueue("api85ord").maxActive()).isEqualTo(1);
        assertThat(kernel.systemWq().maxActive()).isEqualTo(1024);

        assertThatThrownBy(() -> kernel.allocWorkqueue("api85big", 2049))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("api85big")
                .hasMessageContaining("2049")
                .hasMessageContaining("2048");
        assertThatThrownBy(() -> kernel.allocWorkqueue("api85neg", -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("api85neg")
                .hasMessageContaining("-1");

        Workqueue wq = kernel.allocWorkqueue("api85set", 16);
        assertThatThrownBy(() -> wq.setMaxActive(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("api85set");
        assertThatThrownBy(() -> wq.setMaxActive(4096)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("api85set");
        assertThat(wq.maxActive()).isEqualTo(16);
        wq.setMaxActive(2048);
        assertThat(wq.maxActive()).isEqualTo(2048);

        Workqueue ordered = kernel.allocOrderedWorkqueue("api85ord2");
        assertThatThrownBy(() -> ordered.setMaxActive(4)).as("spec §4.9: refused on an ordered queue")
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("api85ord2");
        assertThat(ordered.maxActive()).isEqualTo(1);
    }

    /**
     * Faithful mode: out-of-range {@code max_active} values are clamped into [1, 2048] and each
     * clamp is reported to the error handler (the kernel's warning) naming the queue; a clamped
     * queue works. {@code setMaxActive} on an ordered queue is reported and ignored (spec §4.9).
     * Spec §10.3 item 85.
     */
    @Test
    void maxActiveOutOfRangeIsClampedWithAReportInFaithfulMode(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            Workqueue big = kernel.allocWorkqueue("api85fbig", 5000);
            assertThat(big.maxActive()).isEqualTo(2048);
            assertReport(errors.take(), "api85fbig", "2048");

            Workqueue neg = kernel.allocWorkqueue("api85fneg", -7);
            assertThat(neg.maxActive()).isEqualTo(1);
            assertReport(errors.take(), "api85fneg", "clamped to 1");

            assertThat(kernel.allocWorkqueue("api85fdfl", 0).maxActive()).isEqualTo(1024);
            assertThat(errors.reports()).as("0 is the default, not out of range").isEmpty();

            neg.setMaxActive(9999);
            assertThat(neg.maxActive()).isEqualTo(2048);
            assertReport(errors.take(), "api85fneg", "2048");
            neg.setMaxActive(0);
            assertThat(neg.maxActive()).isEqualTo(1);
            assertReport(errors.take(), "api85fneg", "clamped to 1");

            Workqueue ordered = kernel.allocOrderedWorkqueue("api85ford");
            ordered.setMaxActive(4);
            assertThat(ordered.maxActive()).as("ignored, as the kernel does").isEqualTo(1);
            assertThat(errors.take()).hasSize(1).allSatisfy(r -> assertThat(r.error())
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("api85ford"));

            WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
            Work w = new Work(probe);
            assertThat(big.queueOn(1, w)).isTrue();
            w.flush();
            assertThat(probe.runs).hasValue(1);
        } finally {
            kernel.close();
        }
    }

    private static void assertReport(List<Report> reports, String queue, String text) {
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).error()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(queue)
                .hasMessageContaining(text);
    }
}
