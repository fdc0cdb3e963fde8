package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Worker;
import io.kdefer.workqueue.WorkqueueApiProbe.Gate;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.workqueue.WorkqueueApiProbe.awaitBlockedInKernel;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Disable and enable (6.10+) against spec §10.3 items 76-81: queueing while disabled is refused
 * and forgotten, the count nests, an unbalanced enable, {@code disableSync()} against
 * {@code disable()}, {@code enableAndQueue()}, and the saturation of the count at 65535.
 *
 * <p>Where the kernel WARNs (an unbalanced enable, an overflowing count), the default mode throws an
 * {@link IllegalStateException} naming the item and the rule, and a {@code faithful(true)} kernel
 * reports it to the error handler and goes on as the kernel does.
 */
class WorkqueueApiDisableTest {
    /** {@code WORK_OFFQ_DISABLE_BITS} = 16. */
    private static final int DISABLE_MAX = 65535;

    // ---------------------------------------------------------------- 76, 77

    /**
     * While an item is disabled every queueing returns false and is forgotten: after
     * {@code enable()} (true: the count is back at 0) nothing runs until the item is queued anew.
     * {@code disable()} of a pending item returns true and cancels it. Spec §10.3 item 76.
     */
    @Test
    void queueingWhileDisabledReturnsFalseAndIsForgotten(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api76", 1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);

        assertThat(w.disable()).as("idle").isFalse();
        assertThat(w.disableCount()).isEqualTo(1);
        assertThat(wq.queueOn(0, w)).isFalse();
        assertThat(wq.queueOn(1, w)).isFalse();
        assertThat(kernel.systemWq().queue(w)).isFalse();
        assertThat(w.isPending()).isFalse();
        assertThat(w.enable()).isTrue();
        wq.flush();
        kernel.systemWq().flush();
        assertThat(probe.runs).as("the refused requests were forgotten").hasValue(0);

        assertThat(wq.queueOn(0, w)).isTrue();
        w.flush();
        assertThat(probe.runs).hasValue(1);

        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            assertThat(wq.queueOn(0, w)).isTrue();
            assertThat(w.disable()).as("pending: cancelled").isTrue();
            assertThat(w.isPending()).isFalse();
        } finally {
            blocker.releaseAll();
        }
        wq.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(w.enable()).isTrue();
    }

    /**
     * A disabled delayed item refuses {@code queueDelayed} (false, no timer armed) and
     * {@code modDelayed} (false: it was not pending; nothing queued); {@code disable()} of an item
     * on its timer returns true and the timer is gone. Nothing runs however far the clock moves.
     * Spec §4.7, §10.3 item 76.
     */
    @Test
    void disabledDelayedItemRefusesQueueDelayedAndModDelayed(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api76d", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);

        assertThat(wq.queueDelayed(dw, 5)).isTrue();
        assertThat(dw.disable()).as("on its timer").isTrue();
        assertThat(dw.timer().isPending()).isFalse();
        assertThat(wq.queueDelayed(dw, 2)).isFalse();
        assertThat(wq.modDelayed(dw, 2)).isFalse();
        assertThat(wq.modDelayed(dw, 0)).isFalse();
        assertThat(dw.isPending()).isFalse();
        assertThat(dw.timer().isPending()).isFalse();

        clock.tick(10);
        wq.flush();
        assertThat(probe.runs).hasValue(0);
        assertThat(dw.enable()).isTrue();
        clock.tick(10);
        wq.flush();
        assertThat(probe.runs).hasValue(0);
    }

    /**
     * {@code disable()} nests: after two, the first {@code enable()} returns false and queueing is
     * still refused; the second returns true and queueing works. Spec §10.3 item 77.
     */
    @Test
    void disableNestsAndEnableReturnsTrueOnlyAtZero(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        w.disable();
        w.disable();
        assertThat(w.disableCount()).isEqualTo(2);

        assertThat(w.enable()).isFalse();
        assertThat(w.disableCount()).isEqualTo(1);
        assertThat(kernel.systemWq().queueOn(0, w)).isFalse();

        assertThat(w.enable()).isTrue();
        assertThat(w.disableCount()).isZero();
        assertThat(kernel.systemWq().queueOn(0, w)).isTrue();
        w.flush();
        assertThat(probe.runs).hasValue(1);
    }

    // ---------------------------------------------------------------- 78

    /**
     * Default mode: {@code enable()} of an item that is not disabled throws an
     * {@link IllegalStateException} naming the item and the rule, and the count stays 0 (the item
     * queues normally). Spec §10.3 item 78.
     */
    @Test
    void unbalancedEnableThrowsAndLeavesTheCountAtZero(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work fresh = new Work(probe);
        Work used = new Work(probe);
        kernel.systemWq().queueOn(0, used);
        used.flush();

        for (Work w : List.of(fresh, used)) {
            assertThatThrownBy(w::enable)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("enable_work()")
                    .hasMessageContaining(w.toString())
                    .hasMessageContaining("not disabled");
            assertThat(w.disableCount()).isZero();
        }
        assertThat(kernel.systemWq().queueOn(0, fresh)).isTrue();
        fresh.flush();
        assertThat(probe.runs).hasValue(2);
    }

    /**
     * Faithful mode: an unbalanced {@code enable()} is reported to the error handler (the kernel's
     * WARN), returns true (the count is 0) and leaves the count at 0. Spec §10.3 item 78.
     */
    @Test
    void unbalancedEnableIsReportedInFaithfulMode(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
            Work w = new Work(probe);
            kernel.systemWq().queueOn(0, w);
            w.flush();

            assertThat(w.enable()).isTrue();
            assertThat(w.disableCount()).isZero();
            List<Report> reports = errors.take();
            assertThat(reports).hasSize(1);
            assertThat(reports.get(0).source()).isSameAs(w);
            assertThat(reports.get(0).error()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("enable_work()")
                    .hasMessageContaining("not disabled");

            assertThat(kernel.systemWq().queueOn(0, w)).isTrue();
            w.flush();
            assertThat(probe.runs).hasValue(2);
        } finally {
            kernel.close();
        }
    }

    // ---------------------------------------------------------------- 79

    /**
     * {@code disable()} of an executing item returns at once (false: not pending) while the run
     * goes on; {@code disableSync()} blocks until the run has returned. Both raise the count.
     * Spec §10.3 item 79.
     */
    @Test
    void disableSyncWaitsForTheRunningInstanceAndDisableDoesNot(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        AtomicBoolean result = new AtomicBoolean(true);
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        Worker disabler = null;
        try {
            kernel.systemWq().queueOn(1, w);
            first.awaitStarted();

            assertThat(w.disable()).isFalse();
            assertThat(w.busy()).as("disable() returned while the run goes on").isEqualTo(Work.BUSY_RUNNING);
            assertThat(probe.finished).hasValue(0);

            disabler = Worker.start("disable_work_sync", () -> {
                result.set(w.disableSync());
                finishedAtReturn.set(probe.finished.get());
            });
            awaitBlockedInKernel(kernel, disabler);
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(disabler);
        }
        disabler.joinAndCheck();
        assertThat(result).isFalse();
        assertThat(finishedAtReturn).hasValue(1);
        assertThat(w.disableCount()).isEqualTo(2);
        assertThat(w.busy()).isZero();
        assertThat(w.enable()).isFalse();
        assertThat(w.enable()).isTrue();
    }

    // ---------------------------------------------------------------- 80

    /**
     * {@code enableAndQueue()} queues the item only when its enable brings the count to 0: false
     * (and nothing queued) at 2 → 1, true (queued, runs once) at 1 → 0. Spec §10.3 item 80.
     */
    @Test
    void enableAndQueueQueuesOnlyWhenTheCountReachesZero(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api80", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        w.disable();
        w.disable();

        assertThat(wq.enableAndQueue(w)).isFalse();
        assertThat(w.isPending()).isFalse();
        wq.flush();
        assertThat(probe.runs).hasValue(0);

        assertThat(wq.enableAndQueue(w)).isTrue();
        assertThat(w.disableCount()).isZero();
        w.flush();
        assertThat(probe.runs).hasValue(1);

        assertThatThrownBy(() -> wq.enableAndQueue(w)).as("not disabled: the unbalanced enable throws")
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not disabled");
        assertThat(w.isPending()).isFalse();
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * Faithful mode: {@code enableAndQueue()} of an item that is not disabled reports the
     * unbalanced enable (the kernel's WARN), which leaves the count at 0, so it queues the item and
     * returns true, as {@code enable_and_queue_work} does. Spec §10.3 items 78 and 80.
     */
    @Test
    void enableAndQueueOfANonDisabledItemReportsAndQueuesInFaithfulMode(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            Workqueue wq = kernel.allocWorkqueue("api80f", 0);
            WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
            Work w = new Work(probe);
            wq.queueOn(0, w);
            w.flush();

            assertThat(wq.enableAndQueue(w)).isTrue();
            w.flush();
            assertThat(probe.runs).hasValue(2);
            List<Report> reports = errors.take();
            assertThat(reports).hasSize(1);
            assertThat(reports.get(0).error()).hasMessageContaining("not disabled");
        } finally {
            kernel.close();
        }
    }

    // ---------------------------------------------------------------- 81

    /**
     * Default mode: the disable count saturates at 65535; one more {@code disable()} throws an
     * {@link IllegalStateException} naming the item and the limit, and the count stays 65535, so
     * that 65535 enables bring the item back. Spec §10.3 item 81.
     */
    @Test
    void disableCountSaturatesAt65535AndTheNextDisableThrows(Kernel kernel) {
        Work w = new Work(self -> { });
        kernel.systemWq().queueOn(0, w);
        w.flush();
        for (int i = 0; i < DISABLE_MAX; i++) {
            w.disable();
        }
        assertThat(w.disableCount()).isEqualTo(DISABLE_MAX);

        assertThatThrownBy(w::disable)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(w.toString())
                .hasMessageContaining(String.valueOf(DISABLE_MAX));
        assertThat(w.disableCount()).isEqualTo(DISABLE_MAX);
        assertThat(w.isPending()).isFalse();

        for (int i = 1; i < DISABLE_MAX; i++) {
            w.enable();
        }
        assertThat(w.enable()).isTrue();
        assertThat(kernel.systemWq().queueOn(0, w)).isTrue();
        w.flush();
    }

    /**
     * Faithful mode: the disable count saturates at 65535 and one more {@code disable()} is
     * reported to the error handler (the kernel's WARN) and leaves the count at 65535.
     * Spec §10.3 item 81.
     */
    @Test
    void disableCountSaturatesAt65535WithAReportInFaithfulMode(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            Work w = new Work(self -> { });
            kernel.systemWq().queueOn(0, w);
            w.flush();
            for (int i = 0; i < DISABLE_MAX; i++) {
                w.disable();
            }
            assertThat(errors.reports()).isEmpty();

            assertThat(w.disable()).isFalse();
            assertThat(w.disableCount()).isEqualTo(DISABLE_MAX);
            List<Report> reports = errors.take();
            assertThat(reports).hasSize(1);
            assertThat(reports.get(0).error()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(w.toString())
                    .hasMessageContaining(String.valueOf(DISABLE_MAX));

            assertThat(kernel.systemWq().queueOn(0, w)).isFalse();
        } finally {
            kernel.close();
        }
    }
}
