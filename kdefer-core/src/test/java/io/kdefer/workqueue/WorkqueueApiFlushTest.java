package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Worker;
import io.kdefer.workqueue.WorkqueueApiProbe.Gate;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.workqueue.WorkqueueApiProbe.awaitBlockedInKernel;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Flushing, draining and destroying against spec §10.3 items 62, 63, 65-67 and 84:
 * {@code Work.flush()}, {@code Workqueue.flush()}, {@code drain()} and {@code destroy()}, what each
 * waits for and what it does not, and the refusal of outside queueing while a queue drains.
 *
 * <p>A blocking call is made on a testkit {@link Worker}; the test waits until that thread sleeps
 * in the kernel's wait queue (the call is blocked), then releases the held item it waits for, and
 * reads what the call saw at the moment it returned from values the worker recorded right then.
 */
class WorkqueueApiFlushTest {

    /** A self-requeueing item stops after this many runs, so that a broken core ends in a failure. */
    private static final int SELF_REQUEUE_CAP = 1_000_000;

    // ---------------------------------------------------------------- 62, 63

    /**
     * {@code flush()} returns false for an item that was never queued or has finished, and true
     * after waiting for a pending instance: it blocks while the item is queued behind a held item,
     * and when it returns the item has run. Spec §10.3 item 62.
     */
    @Test
    void flushReturnsFalseWhenIdleAndTrueAfterWaitingForAPendingInstance(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api62", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        assertThat(w.flush()).as("never queued").isFalse();

        AtomicBoolean result = new AtomicBoolean();
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        Worker flusher = null;
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            wq.queueOn(0, w);
            flusher = Worker.start("flush_work", () -> {
                result.set(w.flush());
                finishedAtReturn.set(probe.finished.get());
            });
            awaitBlockedInKernel(kernel, flusher);
            assertThat(probe.runs).hasValue(0);
        } finally {
            blocker.releaseAll();
            Worker.joinQuietly(flusher);
        }
        flusher.joinAndCheck();
        assertThat(result).isTrue();
        assertThat(finishedAtReturn).hasValue(1);
        assertThat(w.flush()).as("finished").isFalse();
    }

    /**
     * {@code flush()} of an executing (not pending) item blocks until the run returns, then returns
     * true. Spec §10.3 item 62.
     */
    @Test
    void flushWaitsForARunningInstance(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        AtomicBoolean result = new AtomicBoolean();
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        Worker flusher = null;
        try {
            kernel.systemWq().queueOn(1, w);
            first.awaitStarted();
            flusher = Worker.start("flush_work", () -> {
                result.set(w.flush());
                finishedAtReturn.set(probe.finished.get());
            });
            awaitBlockedInKernel(kernel, flusher);
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(flusher);
        }
        flusher.joinAndCheck();
        assertThat(result).isTrue();
        assertThat(finishedAtReturn).hasValue(1);
    }

    /**
     * {@code flush()} waits for the instance running when it was called, not for a re-queue that
     * the function issues after the flush began: it returns while the second run is still held
     * (or not started). Spec §10.3 item 63.
     */
    @Test
    void flushDoesNotWaitForARequeueIssuedAfterItBegan(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api63", 0);
        List<Boolean> requeued = Collections.synchronizedList(new ArrayList<>());
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel).then((self, n) -> {
            if (n == 1) {
                requeued.add(wq.queue(self));
            }
        });
        Gate first = probe.hold(1);
        probe.hold(2);   // the re-queued run stays held until the end
        Work w = new Work(probe);
        AtomicBoolean result = new AtomicBoolean();
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        Worker flusher = null;
        try {
            wq.queueOn(0, w);
            first.awaitStarted();
            flusher = Worker.start("flush_work", () -> {
                result.set(w.flush());
                finishedAtReturn.set(probe.finished.get());
            });
            awaitBlockedInKernel(kernel, flusher);
            first.release();
            flusher.joinAndCheck();   // returns although the re-queued run is held

            assertThat(result).isTrue();
            assertThat(finishedAtReturn).hasValue(1);
            assertThat(requeued).containsExactly(true);
            assertThat(w.busy()).as("the re-queued run is pending or held").isNotZero();
        } finally {
            probe.releaseAll();
            Worker.joinQuietly(flusher);
        }
        wq.flush();
        assertThat(probe.finished).hasValue(2);
    }

    // ---------------------------------------------------------------- 65

    /**
     * {@code Workqueue.flush()} waits for every item queued before the call, inactive ones
     * included (three items parked behind a held item of a {@code max_active} 1 queue), and
     * returns even though another item of the queue keeps re-queueing itself. Spec §10.3 item 65.
     */
    @Test
    void workqueueFlushWaitsForEarlierItemsAndIsNotLiveLockedBySelfRequeues(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api65", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe parked = new WorkqueueApiProbe(kernel);
        AtomicBoolean stop = new AtomicBoolean();
        WorkqueueApiProbe looping = new WorkqueueApiProbe(kernel).then((self, n) -> {
            if (!stop.get() && n < SELF_REQUEUE_CAP) {
                wq.queue(self);
            }
        });
        Work loop = new Work(looping);
        AtomicInteger parkedAtReturn = new AtomicInteger(-1);
        AtomicInteger blockerAtReturn = new AtomicInteger(-1);
        Worker flusher = null;
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            for (int i = 0; i < 3; i++) {
                assertThat(wq.queueOn(0, new Work(parked))).isTrue();
            }
            assertThat(wq.queueOn(1, loop)).isTrue();
            flusher = Worker.start("flush_workqueue", () -> {
                wq.flush();
                parkedAtReturn.set(parked.finished.get());
                blockerAtReturn.set(blocker.finished.get());
            });
            awaitBlockedInKernel(kernel, flusher);
            assertThat(parked.runs).hasValue(0);
            blocker.releaseAll();
            flusher.joinAndCheck();

            assertThat(blockerAtReturn).hasValue(1);
            assertThat(parkedAtReturn).hasValue(3);
            assertThat(looping.finished.get()).as("the looping item's first instance ran").isPositive();
        } finally {
            blocker.releaseAll();
            stop.set(true);
            Worker.joinQuietly(flusher);
        }
        loop.cancelSync();
        assertThat(loop.busy()).isZero();
        assertThat(looping.runs.get()).isLessThan(SELF_REQUEUE_CAP);
    }

    // ---------------------------------------------------------------- 66, 67

    /**
     * {@code drain()} returns only when the queue holds no active or inactive item: the held item,
     * an item parked behind it, and a chain that re-queues itself four times and then queues
     * another item of the queue (chained queueing, allowed while draining) have all run by then.
     * Spec §10.3 item 66.
     */
    @Test
    void drainReturnsWhenNothingIsLeftAndLetsChainsFinish(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api66", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe parked = new WorkqueueApiProbe(kernel);
        WorkqueueApiProbe tail = new WorkqueueApiProbe(kernel);
        Work tailItem = new Work(tail);
        List<Boolean> chainQueued = Collections.synchronizedList(new ArrayList<>());
        WorkqueueApiProbe chain = new WorkqueueApiProbe(kernel).then((self, n) -> {
            if (n < 5) {
                chainQueued.add(wq.queue(self));
            } else {
                chainQueued.add(wq.queueOn(1, tailItem));
            }
        });
        Work chainItem = new Work(chain);
        AtomicReference<String> atReturn = new AtomicReference<>();
        Worker drainer = null;
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            Work parkedItem = new Work(parked);
            wq.queueOn(0, parkedItem);
            wq.queueOn(0, chainItem);
            drainer = Worker.start("drain_workqueue", () -> {
                wq.drain();
                atReturn.set("blocker=" + blocker.finished + " parked=" + parked.finished + " chain="
                        + chain.finished + " tail=" + tail.finished + " busy=" + (chainItem.busy() | tailItem.busy()
                        | parkedItem.busy()));
            });
            awaitBlockedInKernel(kernel, drainer);
            blocker.releaseAll();
            drainer.joinAndCheck();
        } finally {
            blocker.releaseAll();
            Worker.joinQuietly(drainer);
        }
        assertThat(atReturn).hasValue("blocker=1 parked=1 chain=5 tail=1 busy=0");
        assertThat(chainQueued).containsExactly(true, true, true, true, true);
        assertThat(wq.queueOn(0, chainItem)).as("draining is over").isTrue();
        wq.flush();
        assertThat(chain.finished).hasValue(6);
    }

    /**
     * Default mode: while a queue drains, a queueing from outside its own items (the test thread,
     * another queue's item, a delay timer firing) is refused with an {@link IllegalStateException}
     * naming the queue and the rule, the item is left idle and never runs; the refusal from the
     * timer reaches the error handler. Once the drain returned, queueing works again.
     * Spec §10.3 item 67.
     */
    @Test
    void outsideQueueingWhileDrainingIsRefused(Kernel kernel, ManualClock clock, CollectingErrors errors) {
        Workqueue wq = kernel.allocWorkqueue("api67", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe outside = new WorkqueueApiProbe(kernel);
        Work fromTest = new Work(outside);
        Work fromOtherQueue = new Work(outside);
        DelayedWork fromTimer = new DelayedWork(outside);
        AtomicReference<Throwable> otherQueueSaw = new AtomicReference<>();
        Worker drainer = null;
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            assertThat(wq.queueDelayedOn(0, fromTimer, 2)).isTrue();
            drainer = Worker.start("drain_workqueue", wq::drain);
            awaitBlockedInKernel(kernel, drainer);

            assertThatThrownBy(() -> wq.queueOn(0, fromTest))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("api67")
                    .hasMessageContaining("draining");
            assertThat(fromTest.isPending()).isFalse();

            Work foreign = new Work(self -> {
                try {
                    wq.queueOn(1, fromOtherQueue);
                } catch (Throwable t) {
                    otherQueueSaw.set(t);
                }
            });
            kernel.systemWq().queueOn(1, foreign);
            foreign.flush();
            assertThat(otherQueueSaw.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("api67");
            assertThat(fromOtherQueue.isPending()).isFalse();

            clock.tick(3);
            assertThat(fromTimer.timer().isPending()).isFalse();
            List<Report> reports = errors.take();
            assertThat(reports).hasSize(1);
            assertThat(reports.get(0).error()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("api67");
            assertThat(fromTimer.isPending()).isFalse();
        } finally {
            blocker.releaseAll();
            Worker.joinQuietly(drainer);
        }
        drainer.joinAndCheck();
        wq.flush();
        assertThat(outside.runs).hasValue(0);

        assertThat(wq.queueOn(0, fromTest)).isTrue();
        fromTest.flush();
        assertThat(outside.runs).hasValue(1);
    }

    /**
     * Faithful mode: an outside queueing while the queue drains is reported to the error handler
     * (the kernel WARNs "cannot queue ... on wq ..."), {@code queue()} still returns true as
     * {@code queue_work_on} does, and the item is dropped with PENDING set: it never runs, and later
     * queueing of it returns false. Spec §4.4 ({@code __queue_work}), §10.3 item 67.
     */
    @Test
    void outsideQueueingWhileDrainingIsReportedAndWedgesTheItemInFaithfulMode(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            Workqueue wq = kernel.allocWorkqueue("api67f", 1);
            WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
            Gate held = blocker.hold(1);
            WorkqueueApiProbe outside = new WorkqueueApiProbe(kernel);
            Work w = new Work(outside);
            Worker drainer = null;
            try {
                wq.queueOn(0, new Work(blocker));
                held.awaitStarted();
                drainer = Worker.start("drain_workqueue", wq::drain);
                awaitBlockedInKernel(kernel, drainer);

                assertThat(wq.queueOn(0, w)).isTrue();
                List<Report> reports = errors.take();
                assertThat(reports).hasSize(1);
                assertThat(reports.get(0).source()).isSameAs(wq);
                assertThat(reports.get(0).error()).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("api67f")
                        .hasMessageContaining("draining");
            } finally {
                blocker.releaseAll();
                Worker.joinQuietly(drainer);
            }
            drainer.joinAndCheck();
            wq.flush();
            assertThat(outside.runs).hasValue(0);
            assertThat(w.isPending()).as("left pending, as the kernel leaves it").isTrue();
            assertThat(wq.queueOn(0, w)).isFalse();
            assertThat(outside.runs).hasValue(0);
        } finally {
            kernel.close();
        }
    }

    // ---------------------------------------------------------------- 84

    /**
     * {@code destroy()} drains first: the held item, an item parked behind it, an item on the other
     * CPU and an item that one of the queue's own items queues meanwhile all run; an outside
     * queueing during the destroy is refused ({@link IllegalStateException} naming the queue); after
     * it every way of queueing is refused, a second destroy does nothing, and a system workqueue
     * cannot be destroyed. Spec §10.3 item 84.
     */
    @Test
    void destroyDrainsFirstThenRefusesQueueing(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api84", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work chained = new Work(probe);
        List<Boolean> chainedQueued = Collections.synchronizedList(new ArrayList<>());
        Work parent = new Work(self -> chainedQueued.add(wq.queueOn(0, chained)));
        Work outside = new Work(probe);
        AtomicReference<String> atReturn = new AtomicReference<>();
        Worker destroyer = null;
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            wq.queueOn(0, new Work(probe));
            wq.queueOn(1, new Work(probe));
            wq.queueOn(0, parent);
            destroyer = Worker.start("destroy_workqueue", () -> {
                wq.destroy();
                atReturn.set("blocker=" + blocker.finished + " probe=" + probe.finished + " destroyed="
                        + wq.isDestroyed());
            });
            awaitBlockedInKernel(kernel, destroyer);

            assertThatThrownBy(() -> wq.queueOn(1, outside))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("api84")
                    .hasMessageContaining("destroyed");
            assertThat(outside.isPending()).isFalse();
            assertThat(wq.isDestroyed()).isFalse();
        } finally {
            blocker.releaseAll();
            Worker.joinQuietly(destroyer);
        }
        destroyer.joinAndCheck();
        assertThat(atReturn).hasValue("blocker=1 probe=3 destroyed=true");
        assertThat(chainedQueued).containsExactly(true);

        DelayedWork dw = new DelayedWork(probe);
        assertThatThrownBy(() -> wq.queue(outside)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("api84").hasMessageContaining("destroyed");
        assertThatThrownBy(() -> wq.queueOn(0, outside)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> wq.queueDelayed(dw, 5)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> wq.queueDelayed(dw, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> wq.modDelayed(dw, 5)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> wq.execute(() -> { })).isInstanceOf(RejectedExecutionException.class);
        assertThat(outside.isPending()).isFalse();
        assertThat(dw.isPending()).isFalse();
        assertThat(probe.runs).hasValue(3);

        wq.destroy();
        assertThat(wq.isDestroyed()).isTrue();
        assertThatThrownBy(() -> kernel.systemWq().destroy()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("events");
    }

    /**
     * Faithful mode: an outside queueing while the queue is being destroyed is reported (the
     * kernel's WARN) and the item never runs; once destroyed, queueing is refused with an
     * {@link IllegalStateException} as in the default mode (the kernel's queue is freed: a use
     * after free, which kdefer never reproduces). Spec §10.3 item 84.
     */
    @Test
    void destroyInFaithfulModeReportsOutsideQueueingAndThenRefuses(CollectingErrors errors) {
        Kernel kernel = TestKernels.start(TestKernels.manual(2, errors).faithful(true));
        try {
            Workqueue wq = kernel.allocWorkqueue("api84f", 1);
            WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
            Gate held = blocker.hold(1);
            WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
            Work outside = new Work(probe);
            Worker destroyer = null;
            try {
                wq.queueOn(0, new Work(blocker));
                held.awaitStarted();
                wq.queueOn(0, new Work(probe));
                destroyer = Worker.start("destroy_workqueue", wq::destroy);
                awaitBlockedInKernel(kernel, destroyer);

                assertThat(wq.queueOn(1, outside)).isTrue();
                List<Report> reports = errors.take();
                assertThat(reports).hasSize(1);
                assertThat(reports.get(0).error()).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("api84f");
            } finally {
                blocker.releaseAll();
                Worker.joinQuietly(destroyer);
            }
            destroyer.joinAndCheck();
            assertThat(probe.runs).hasValue(1);
            assertThat(wq.isDestroyed()).isTrue();
            assertThatThrownBy(() -> wq.queue(new Work(probe))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("api84f");
            assertThat(probe.runs).hasValue(1);
        } finally {
            kernel.close();
        }
    }
}
