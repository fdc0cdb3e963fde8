package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.testkit.Worker;
import io.kdefer.workqueue.WorkqueueApiProbe.Gate;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Delayed work against spec §10.3 items 57-61, 64 and 70: {@code queueDelayed} (in jiffies and as
 * a {@link Duration}), {@code queueDelayedOn}, {@code modDelayed}, {@code flush} and
 * {@code cancel} of a {@link DelayedWork}.
 *
 * <p>Time moves only when a test ticks the manual clock. A delay timer armed {@code d} jiffies
 * ahead sits at level 0 of the wheel and fires on the tick that makes {@code jiffies} reach
 * {@code expires + 1} (spec §6.4); {@code tick()} returns after the timer's callback queued the
 * item, so "still on its timer after {@code d} ticks" and "queued after {@code d + 1}" are exact.
 */
class WorkqueueApiDelayedTest {

    /**
     * {@code queueDelayed} with delay 0 queues at once, without a timer: a fresh item never gets
     * one, an item that used its timer before leaves it idle, and both run without any tick.
     * Spec §10.3 item 57.
     */
    @Test
    void zeroDelayQueuesAtOnceWithoutATimer(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api57", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);
        long j = kernel.jiffies();

        assertThat(wq.queueDelayedOn(1, dw, 0)).isTrue();
        assertThat(dw.timer()).as("no timer was set up").isNull();
        dw.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(probe.run(1).cpu()).isEqualTo(1);

        assertThat(wq.queueDelayed(dw, 2)).isTrue();
        clock.tick(3);
        wq.flush();
        assertThat(probe.runs).hasValue(2);

        assertThat(wq.queueDelayed(dw, 0)).isTrue();
        assertThat(dw.timer().isPending()).as("the timer stays idle").isFalse();
        dw.flush();
        assertThat(probe.runs).hasValue(3);
        assertThat(kernel.jiffies()).isEqualTo(j + 3);
    }

    /**
     * {@code queueDelayed} on an item already waiting on its timer returns false and leaves the
     * timer as it was (expiry and CPU), whatever delay or CPU the failed call asked for; the item
     * runs once, at the first expiry. Spec §10.3 item 58.
     */
    @Test
    void queueDelayedOnAPendingItemReturnsFalseAndKeepsItsTimer(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api58", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);
        long j = kernel.jiffies();

        assertThat(wq.queueDelayedOn(0, dw, 10)).isTrue();
        assertThat(dw.timer().expires()).isEqualTo(j + 10);
        assertThat(wq.queueDelayed(dw, 2)).isFalse();
        assertThat(wq.queueDelayed(dw, 50)).isFalse();
        assertThat(wq.queueDelayedOn(1, dw, 1)).isFalse();
        assertThat(kernel.systemWq().queueDelayed(dw, 1)).isFalse();
        assertThat(dw.timer().expires()).isEqualTo(j + 10);
        assertThat(dw.timer().cpu()).isZero();

        clock.tick(10);
        assertThat(dw.timer().isPending()).as("not before its expiry").isTrue();
        clock.tick();
        assertThat(dw.timer().isPending()).isFalse();
        wq.flush();
        clock.tick(50);
        wq.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(probe.run(1).cpu()).isZero();
    }

    /**
     * {@code modDelayed} on an idle item returns false and queues it after the new delay.
     * Spec §10.3 item 59.
     */
    @Test
    void modDelayedOnAnIdleItemReturnsFalseAndQueuesAfterTheDelay(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api59", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);
        long j = kernel.jiffies();

        assertThat(wq.modDelayed(dw, 5)).isFalse();
        assertThat(dw.isPending()).isTrue();
        assertThat(dw.timer().expires()).isEqualTo(j + 5);
        clock.tick(5);
        assertThat(dw.timer().isPending()).isTrue();
        assertThat(probe.runs).hasValue(0);
        clock.tick();
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * {@code modDelayed} on an item waiting on its timer returns true and re-times it: it runs once,
     * at the new expiry, whether that is later or earlier than the old one. Spec §10.3 item 60.
     */
    @Test
    void modDelayedOnATimerPendingItemReturnsTrueAndRunsOnceAtTheNewExpiry(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api60", 0);
        WorkqueueApiProbe later = new WorkqueueApiProbe(kernel);
        WorkqueueApiProbe earlier = new WorkqueueApiProbe(kernel);
        DelayedWork dwLater = new DelayedWork(later);
        DelayedWork dwEarlier = new DelayedWork(earlier);
        long j = kernel.jiffies();

        wq.queueDelayed(dwLater, 3);
        wq.queueDelayed(dwEarlier, 20);
        assertThat(wq.modDelayed(dwLater, 10)).isTrue();
        assertThat(wq.modDelayed(dwEarlier, 4)).isTrue();
        assertThat(dwLater.timer().expires()).isEqualTo(j + 10);
        assertThat(dwEarlier.timer().expires()).isEqualTo(j + 4);

        clock.tick(5);
        assertThat(dwEarlier.timer().isPending()).isFalse();
        assertThat(dwLater.timer().isPending()).as("the old expiry passed without firing").isTrue();
        wq.flush();
        assertThat(earlier.runs).hasValue(1);
        assertThat(later.runs).hasValue(0);

        clock.tick(6);
        assertThat(dwLater.timer().isPending()).isFalse();
        clock.tick(20);
        wq.flush();
        assertThat(later.runs).hasValue(1);
        assertThat(earlier.runs).as("the old, later expiry brought nothing").hasValue(1);
    }

    /**
     * {@code modDelayed} on an item that is queued (here inactive behind a held item of a
     * {@code max_active} 1 queue) returns true, takes it off the queue and puts it on its timer: a
     * queue flush does not run it, the timer does, once. Spec §10.3 item 60.
     */
    @Test
    void modDelayedOnAQueuedItemReturnsTrueAndMovesItToItsTimer(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api60q", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);
        long j = kernel.jiffies();
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            assertThat(wq.queueDelayedOn(0, dw, 0)).isTrue();
            assertThat(wq.modDelayedOn(0, dw, 5)).isTrue();
            assertThat(dw.timer().isPending()).isTrue();
            assertThat(dw.timer().expires()).isEqualTo(j + 5);
        } finally {
            blocker.releaseAll();
        }
        wq.flush();
        assertThat(probe.runs).as("taken off the queue").hasValue(0);
        clock.tick(6);
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * {@code modDelayed} with delay 0 makes an item waiting on a far timer run at once, without a
     * tick; the old timer is gone. Spec §10.3 item 61.
     */
    @Test
    void modDelayedWithZeroDelayRunsAtOnce(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api61", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);

        wq.queueDelayedOn(1, dw, 1000);
        assertThat(wq.modDelayedOn(1, dw, 0)).isTrue();
        assertThat(dw.timer().isPending()).isFalse();
        dw.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(probe.run(1).cpu()).isEqualTo(1);
        clock.tick(1001);
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * {@code modDelayed} on an item that is executing and not pending returns false (it was not
     * pending) and arranges one more run after the delay. Spec §4.7 (cancel vs requeue races),
     * §10.3 items 59 and 60.
     */
    @Test
    void modDelayedOnAnExecutingItemReturnsFalseAndRunsItOnceMore(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api60x", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        DelayedWork dw = new DelayedWork(probe);
        try {
            wq.queueOn(0, dw);
            first.awaitStarted();
            assertThat(wq.modDelayed(dw, 3)).isFalse();
            assertThat(dw.timer().isPending()).isTrue();
        } finally {
            probe.releaseAll();
        }
        wq.flush();
        assertThat(probe.runs).hasValue(1);
        clock.tick(4);
        wq.flush();
        assertThat(probe.runs).hasValue(2);
        assertThat(probe.maxInside).hasValue(1);
    }

    /**
     * {@code flush()} of a delayed item waiting on its timer deletes the timer, queues the item at
     * once on the CPU it was meant for, and waits until it ran; no tick is needed. To see the wait,
     * CPU 1's pool is held by another queue's item, so the flushed item waits on the worklist until
     * the test releases it. A delayed item that was never queued, or has run, flushes to false.
     * Spec §10.3 item 64.
     */
    @Test
    void flushOfATimerPendingDelayedItemRunsItNowAndWaits(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api64", 0);
        Workqueue other = kernel.allocWorkqueue("api64b", 0);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);
        long j = kernel.jiffies();
        assertThat(dw.flush()).as("never queued").isFalse();

        AtomicBoolean result = new AtomicBoolean();
        AtomicInteger finishedAtReturn = new AtomicInteger(-1);
        Worker flusher = null;
        try {
            other.queueOn(1, new Work(blocker));
            held.awaitStarted();
            assertThat(kernel.workOnCpu(0, () -> wq.queueDelayedOn(1, dw, 100))).isTrue();
            flusher = Worker.start("flush_delayed_work", () -> {
                result.set(dw.flush());
                finishedAtReturn.set(probe.finished.get());
            });
            WorkqueueApiProbe.awaitBlockedInKernel(kernel, flusher);
            assertThat(dw.timer().isPending()).as("the flush took it off its timer").isFalse();
            assertThat(dw.busy()).as("and queued it").isEqualTo(Work.BUSY_PENDING);
        } finally {
            blocker.releaseAll();
            Worker.joinQuietly(flusher);
        }
        flusher.joinAndCheck();

        assertThat(result).isTrue();
        assertThat(finishedAtReturn).hasValue(1);
        assertThat(probe.run(1).cpu()).isEqualTo(1);
        assertThat(probe.run(1).threadName()).matches("kworker/1:\\d+");
        assertThat(dw.isPending()).isFalse();
        assertThat(kernel.jiffies()).isEqualTo(j);
        assertThat(dw.flush()).as("idle again").isFalse();
    }

    /**
     * {@code cancel()} of a delayed item waiting on its timer returns true and the function never
     * runs, however far the clock moves; a second cancel finds nothing. Spec §10.3 item 70.
     */
    @Test
    void cancelOfATimerPendingDelayedItemReturnsTrueAndItNeverRuns(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api70", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);

        wq.queueDelayed(dw, 5);
        assertThat(dw.cancel()).isTrue();
        assertThat(dw.isPending()).isFalse();
        assertThat(dw.timer().isPending()).isFalse();
        assertThat(dw.cancel()).isFalse();

        clock.tick(20);
        wq.flush();
        assertThat(dw.flush()).isFalse();
        assertThat(probe.runs).hasValue(0);
        assertThat(wq.queueDelayed(dw, 1)).as("usable again").isTrue();
        clock.tick(2);
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * {@code queueDelayedOn(cpu, ...)} arms the timer on that CPU and the item runs on that CPU's
     * pool, whatever CPU queued it. Spec §4.4 ({@code queue_delayed_work_on}), §10.3 item 54.
     */
    @Test
    void queueDelayedOnArmsTheTimerAndRunsTheItemOnThatCpu(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api54d", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);

        assertThat(kernel.workOnCpu(0, () -> wq.queueDelayedOn(1, dw, 3))).isTrue();
        assertThat(dw.timer().cpu()).isEqualTo(1);
        clock.tick(4);
        wq.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(probe.run(1).cpu()).isEqualTo(1);
        assertThat(probe.run(1).threadName()).matches("kworker/1:\\d+");
    }

    /**
     * A {@link Duration} delay becomes whole jiffies, rounded up (never shorter than asked): at HZ
     * 1000, 7 ms is 7 jiffies. Negative delays are refused and leave the item idle.
     * Spec §4.4 ({@code queue_delayed_work}), §10.3 item 58.
     */
    @Test
    void durationDelayIsWholeJiffies(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("apidur", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(probe);
        long j = kernel.jiffies();

        assertThatThrownBy(() -> wq.queueDelayed(dw, Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> wq.queueDelayed(dw, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> wq.modDelayed(dw, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(dw.isPending()).isFalse();

        assertThat(wq.queueDelayed(dw, Duration.ofMillis(7))).isTrue();
        assertThat(dw.timer().expires()).isEqualTo(j + 7);
        clock.tick(7);
        assertThat(dw.timer().isPending()).isTrue();
        clock.tick();
        wq.flush();
        assertThat(probe.runs).hasValue(1);
    }

    /**
     * At HZ 100 (10 ms a jiffy) 15 ms is 2 jiffies and 1 ns is 1 jiffy; {@link Duration#ZERO}
     * queues at once, without a timer. Spec §4.4, §10.3 items 57 and 58.
     */
    @Test
    @KdeferTest(hz = 100)
    void durationDelayRoundsUpToTheNextJiffy(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("apidur100", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        DelayedWork a = new DelayedWork(probe);
        DelayedWork b = new DelayedWork(probe);
        DelayedWork c = new DelayedWork(probe);
        long j = kernel.jiffies();

        assertThat(wq.queueDelayed(a, Duration.ofMillis(15))).isTrue();
        assertThat(wq.queueDelayed(b, Duration.ofNanos(1))).isTrue();
        assertThat(a.timer().expires()).isEqualTo(j + 2);
        assertThat(b.timer().expires()).isEqualTo(j + 1);

        assertThat(wq.queueDelayed(c, Duration.ZERO)).isTrue();
        assertThat(c.timer()).isNull();
        c.flush();
        assertThat(probe.runs).hasValue(1);

        clock.tick(3);
        wq.flush();
        assertThat(probe.runs).hasValue(3);
    }
}
