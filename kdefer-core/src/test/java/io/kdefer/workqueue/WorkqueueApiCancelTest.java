package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import io.kdefer.workqueue.WorkqueueApiProbe.Gate;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.workqueue.WorkqueueApiProbe.awaitBlockedInKernel;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cancelling against spec §10.3 items 68-75: {@code cancel()} and {@code cancelSync()} on queued,
 * executing, self-requeueing and delayed items, queueing during and after a cancel, and the
 * return values.
 *
 * <p>"Queued but not running" is made by holding another item inside its function: of the same
 * {@code max_active} 1 queue (the item waits inactive), or of another queue of the same pool (the
 * item waits active on the pool's worklist, since the held worker stays counted as running while the
 * manual clock does not tick). A {@code cancelSync()} that must wait is made on a testkit
 * {@link Worker}, observed asleep in the kernel's wait queue, and joined after the release.
 */
class WorkqueueApiCancelTest {
    private static final int SELF_REQUEUE_CAP = 1_000_000;

    /**
     * {@code cancel()} of an item that is queued and has not started returns true and the item never
     * runs, both when it waits inactive behind a held item of its {@code max_active} 1 queue and
     * when it waits active on the worklist of a pool whose worker is held by another queue's item.
     * Spec §10.3 item 68.
     */
    @Test
    void cancelOfAQueuedItemReturnsTrueAndItNeverRuns(Kernel kernel) {
        Workqueue limited = kernel.allocWorkqueue("api68a", 1);
        Workqueue other = kernel.allocWorkqueue("api68b", 0);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work inactive = new Work(probe);
        Work active = new Work(probe);
        try {
            limited.queueOn(0, new Work(blocker));
            held.awaitStarted();
            assertThat(limited.queueOn(0, inactive)).isTrue();
            assertThat(other.queueOn(0, active)).isTrue();

            assertThat(inactive.cancel()).isTrue();
            assertThat(active.cancel()).isTrue();
            assertThat(inactive.isPending()).isFalse();
            assertThat(active.isPending()).isFalse();
            assertThat(inactive.cancel()).as("nothing left to cancel").isFalse();
        } finally {
            blocker.releaseAll();
        }
        limited.flush();
        other.flush();
        assertThat(blocker.finished).hasValue(1);
        assertThat(probe.runs).hasValue(0);
        assertThat(inactive.flush()).isFalse();
        assertThat(active.flush()).isFalse();
    }

    /**
     * {@code cancel()} of an executing, not pending item returns false and does not stop the run,
     * which completes. Spec §10.3 item 69.
     */
    @Test
    void cancelOfAnExecutingItemReturnsFalseAndTheRunCompletes(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        try {
            kernel.systemWq().queueOn(0, w);
            first.awaitStarted();
            assertThat(w.cancel()).isFalse();
            assertThat(w.busy()).isEqualTo(Work.BUSY_RUNNING);
        } finally {
            probe.releaseAll();
        }
        w.flush();
        assertThat(probe.finished).hasValue(1);
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * {@code cancelSync()} of an executing item blocks until the run has returned; on return the
     * item is neither pending nor running. Spec §10.3 item 71.
     */
    @Test
    void cancelSyncReturnsOnlyAfterTheRunningInstanceFinished(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        AtomicBoolean result = new AtomicBoolean(true);
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        AtomicInteger busyAtReturn = new AtomicInteger(-1);
        Worker canceler = null;
        try {
            kernel.systemWq().queueOn(1, w);
            first.awaitStarted();
            canceler = Worker.start("cancel_work_sync", () -> {
                result.set(w.cancelSync());
                finishedAtReturn.set(probe.finished.get());
                busyAtReturn.set(w.busy());
            });
            awaitBlockedInKernel(kernel, canceler);
            assertThat(probe.finished).hasValue(0);
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(canceler);
        }
        canceler.joinAndCheck();
        assertThat(result).as("it was running, not pending").isFalse();
        assertThat(finishedAtReturn).hasValue(1);
        assertThat(busyAtReturn).hasValue(0);
    }

    /**
     * {@code cancelSync()} of an item that re-queues itself from its function terminates: the
     * re-queue attempted while the cancel waits for the run returns false, and the item is idle
     * afterwards (a queue flush finds nothing more to run). Spec §10.3 item 72.
     */
    @Test
    void cancelSyncOfASelfRequeueingItemMakesTheRequeueFail(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api72", 0);
        List<Boolean> requeued = Collections.synchronizedList(new ArrayList<>());
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel).then((self, n) -> requeued.add(wq.queue(self)));
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        Worker canceler = null;
        try {
            wq.queueOn(0, w);
            first.awaitStarted();
            canceler = Worker.start("cancel_work_sync", w::cancelSync);
            awaitBlockedInKernel(kernel, canceler);
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(canceler);
        }
        canceler.joinAndCheck();
        assertThat(requeued).containsExactly(false);
        assertThat(w.busy()).isZero();
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * A free-running self-requeueing item (it re-queues on every run) is stopped by
     * {@code cancelSync()}: on return it is idle, and nothing runs it again. Spec §10.3 item 72.
     */
    @Test
    void cancelSyncStopsAFreeRunningSelfRequeueingItem(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api72b", 0);
        AtomicInteger failedRequeues = new AtomicInteger();
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel).then((self, n) -> {
            if (n < SELF_REQUEUE_CAP && !wq.queue(self)) {
                failedRequeues.incrementAndGet();
            }
        });
        Work w = new Work(probe);
        wq.queueOn(1, w);
        Waits.spinUntil(() -> probe.runs.get() >= 3, "three runs");

        w.cancelSync();
        int runs = probe.runs.get();
        assertThat(w.busy()).isZero();
        wq.flush();
        assertThat(probe.runs).hasValue(runs);
        assertThat(runs).isLessThan(SELF_REQUEUE_CAP);
        assertThat(failedRequeues.get()).as("at most the run the cancel waited for tried").isLessThanOrEqualTo(1);
    }

    /**
     * While {@code cancelSync()} waits for a running instance, every other queueing of the item
     * (from the test thread on either CPU, through another queue, with a delay) returns false and
     * queues nothing. Spec §10.3 item 73.
     */
    @Test
    void queueDuringCancelSyncReturnsFalse(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api73", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        DelayedWork w = new DelayedWork(probe);
        Worker canceler = null;
        try {
            wq.queueOn(0, w);
            first.awaitStarted();
            canceler = Worker.start("cancel_work_sync", w::cancelSync);
            awaitBlockedInKernel(kernel, canceler);

            assertThat(wq.queueOn(0, w)).isFalse();
            assertThat(wq.queueOn(1, w)).isFalse();
            assertThat(kernel.workOnCpu(1, () -> wq.queue(w))).isFalse();
            assertThat(kernel.systemWq().queue(w)).isFalse();
            assertThat(wq.queueDelayed(w, 2)).isFalse();
            assertThat(w.isPending()).isFalse();
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(canceler);
        }
        canceler.joinAndCheck();
        clock.tick(5);
        wq.flush();
        kernel.systemWq().flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(w.busy()).isZero();
    }

    /**
     * After {@code cancelSync()} returned, the item queues normally again (true) and runs, plain
     * and delayed. Spec §10.3 item 74.
     */
    @Test
    void afterCancelSyncTheItemQueuesNormally(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api74", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        DelayedWork w = new DelayedWork(probe);
        Worker canceler = null;
        try {
            wq.queueOn(0, w);
            first.awaitStarted();
            canceler = Worker.start("cancel_work_sync", w::cancelSync);
            awaitBlockedInKernel(kernel, canceler);
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(canceler);
        }
        canceler.joinAndCheck();
        assertThat(w.disableCount()).isZero();

        assertThat(wq.queueOn(1, w)).isTrue();
        w.flush();
        assertThat(probe.runs).hasValue(2);
        assertThat(wq.queueDelayed(w, 2)).isTrue();
        assertThat(w.cancelSync()).isTrue();
        assertThat(wq.queueDelayed(w, 2)).isTrue();
        clock.tick(3);
        wq.flush();
        assertThat(probe.runs).hasValue(3);
    }

    /**
     * {@code cancelSync()} returns whether the item was pending when it was called: false for an
     * idle item, true for a queued one (which then never runs), false for one that is only running,
     * true for one that is running and queued again (only the running instance completes), and true
     * for a delayed item on its timer. Spec §10.3 item 75.
     */
    @Test
    void cancelSyncReportsWhetherTheItemWasPending(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api75", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work idle = new Work(probe);
        Work queued = new Work(probe);
        assertThat(idle.cancelSync()).as("never queued").isFalse();
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            wq.queueOn(0, queued);
            assertThat(queued.cancelSync()).as("queued").isTrue();
        } finally {
            blocker.releaseAll();
        }
        wq.flush();
        assertThat(probe.runs).hasValue(0);

        WorkqueueApiProbe running = new WorkqueueApiProbe(kernel);
        Gate r1 = running.hold(1);
        Gate r2 = running.hold(2);
        Work onlyRunning = new Work(running);
        Worker canceler = null;
        AtomicBoolean result = new AtomicBoolean(true);
        try {
            wq.queueOn(1, onlyRunning);
            r1.awaitStarted();
            canceler = Worker.start("cancel_work_sync", () -> result.set(onlyRunning.cancelSync()));
            awaitBlockedInKernel(kernel, canceler);
            r1.release();
            canceler.joinAndCheck();
            assertThat(result).as("running only").isFalse();

            wq.queueOn(1, onlyRunning);
            r2.awaitStarted();
            assertThat(wq.queueOn(1, onlyRunning)).isTrue();
            assertThat(onlyRunning.busy()).isEqualTo(Work.BUSY_PENDING | Work.BUSY_RUNNING);
            canceler = Worker.start("cancel_work_sync", () -> result.set(onlyRunning.cancelSync()));
            awaitBlockedInKernel(kernel, canceler);
            r2.release();
            canceler.joinAndCheck();
            assertThat(result).as("running and queued again").isTrue();
        } finally {
            running.releaseAll();
            Worker.joinQuietly(canceler);
        }
        wq.flush();
        assertThat(running.runs).as("the queued third run never happened").hasValue(2);

        DelayedWork onTimer = new DelayedWork(probe);
        wq.queueDelayed(onTimer, 5);
        assertThat(onTimer.cancelSync()).as("on its timer").isTrue();
        assertThat(onTimer.timer().isPending()).isFalse();
        clock.tick(10);
        wq.flush();
        assertThat(probe.runs).hasValue(0);
    }

    /**
     * {@code cancelSync()} of a delayed item that is running and waiting on its timer for one more
     * run (re-armed by {@code modDelayed} during the run) deletes the timer, waits for the run and
     * returns true; the timer's run never happens. Spec §4.7 ({@code cancel_delayed_work_sync}),
     * §10.3 items 71 and 75.
     */
    @Test
    void cancelSyncOfARunningDelayedItemAlsoStealsItsTimer(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api71d", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        DelayedWork dw = new DelayedWork(probe);
        AtomicBoolean result = new AtomicBoolean();
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        Worker canceler = null;
        try {
            wq.queueOn(0, dw);
            first.awaitStarted();
            assertThat(wq.modDelayed(dw, 3)).isFalse();
            canceler = Worker.start("cancel_delayed_work_sync", () -> {
                result.set(dw.cancelSync());
                finishedAtReturn.set(probe.finished.get());
            });
            awaitBlockedInKernel(kernel, canceler);
            assertThat(dw.timer().isPending()).isFalse();
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(canceler);
        }
        canceler.joinAndCheck();
        assertThat(result).isTrue();
        assertThat(finishedAtReturn).hasValue(1);
        clock.tick(10);
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }
}
