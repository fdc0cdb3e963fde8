package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.workqueue.WorkqueueApiProbe.Gate;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Queueing ({@code queue_work}, {@code queue_work_on}) against spec §10.3 items 48-56: the return
 * value, one execution per successful queueing, PENDING cleared before the function runs, the
 * publication of the caller's stores, where an item runs, and non-reentrancy.
 *
 * <p>Every test is deterministic on a manual clock that only the test ticks: an item is kept
 * queued by holding another item of a {@code max_active} 1 queue (or of the same pool) inside its
 * function, and "while executing" means inside a run held by {@link WorkqueueApiProbe}.
 */
class WorkqueueApiQueueTest {

    /**
     * {@code queue()} returns true when it queues an idle item and false while the item is still
     * pending, whether it is queued (here inactive behind a held item of a {@code max_active} 1
     * queue) or waiting on its delay timer; the false calls change nothing. Spec §10.3 item 48.
     */
    @Test
    void queueReturnsTrueForAnIdleItemAndFalseWhileItIsPending(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api48", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        try {
            assertThat(wq.queueOn(0, new Work(blocker))).isTrue();
            held.awaitStarted();

            assertThat(wq.queueOn(0, w)).as("idle item").isTrue();
            assertThat(w.isPending()).isTrue();
            assertThat(wq.queueOn(0, w)).as("queued item, same CPU").isFalse();
            assertThat(wq.queueOn(1, w)).as("queued item, another CPU").isFalse();
            assertThat(kernel.systemWq().queue(w)).as("queued item, another workqueue").isFalse();
            assertThat(probe.runs).hasValue(0);
        } finally {
            blocker.releaseAll();
        }
        wq.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(w.isPending()).isFalse();

        WorkqueueApiProbe delayedProbe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(delayedProbe);
        assertThat(wq.queueDelayed(dw, 5)).as("idle delayed item").isTrue();
        long expires = dw.timer().expires();
        assertThat(wq.queue(dw)).as("on its timer: queue").isFalse();
        assertThat(wq.queueDelayed(dw, 1)).as("on its timer: queueDelayed").isFalse();
        assertThat(dw.timer().isPending()).isTrue();
        assertThat(dw.timer().expires()).isEqualTo(expires);

        clock.tick(6);
        wq.flush();
        assertThat(delayedProbe.runs).hasValue(1);
        assertThat(dw.isPending()).isFalse();
    }

    /**
     * An item that is executing but not pending is queued again by {@code queue()} (true), and runs
     * a second time after the first run has returned, never at the same time as it.
     * Spec §10.3 item 49.
     */
    @Test
    void queueOfAnExecutingItemReturnsTrueAndRunsItAgainAfterwards(Kernel kernel) {
        Workqueue wq = kernel.systemWq();
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        try {
            assertThat(wq.queueOn(0, w)).isTrue();
            first.awaitStarted();
            assertThat(w.isPending()).as("PENDING is clear while the function runs").isFalse();

            assertThat(wq.queueOn(0, w)).isTrue();
            assertThat(w.busy()).isEqualTo(Work.BUSY_PENDING | Work.BUSY_RUNNING);
        } finally {
            probe.releaseAll();
        }
        w.flush();
        assertThat(probe.runs).hasValue(2);
        assertThat(probe.finished).hasValue(2);
        assertThat(probe.maxInside).as("never concurrent with itself").hasValue(1);
    }

    /**
     * An item runs once per successful queueing: ten false-returning {@code queue()} calls (and five
     * {@code queueDelayed()} calls on an item waiting on its timer) add no execution.
     * Spec §10.3 item 50.
     */
    @Test
    void failedQueueCallsAddNoExecutions(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("api50", 1);
        WorkqueueApiProbe blocker = new WorkqueueApiProbe(kernel);
        Gate held = blocker.hold(1);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        try {
            wq.queueOn(0, new Work(blocker));
            held.awaitStarted();
            assertThat(wq.queueOn(0, w)).isTrue();
            for (int i = 0; i < 10; i++) {
                assertThat(wq.queueOn(i % 2, w)).isFalse();
            }
        } finally {
            blocker.releaseAll();
        }
        wq.flush();
        wq.flush();
        assertThat(probe.runs).hasValue(1);
        assertThat(w.flush()).as("nothing left to wait for").isFalse();

        WorkqueueApiProbe delayedProbe = new WorkqueueApiProbe(kernel);
        DelayedWork dw = new DelayedWork(delayedProbe);
        assertThat(wq.queueDelayed(dw, 3)).isTrue();
        for (int i = 0; i < 5; i++) {
            assertThat(wq.queueDelayed(dw, 3)).isFalse();
        }
        clock.tick(4);
        wq.flush();
        clock.tick(10);
        wq.flush();
        assertThat(delayedProbe.runs).hasValue(1);
    }

    /**
     * PENDING is cleared before the function is called: the function sees its item not pending, and
     * a function that queues its own item once (which returns true) causes exactly one more
     * execution. Spec §10.3 item 51.
     */
    @Test
    void pendingIsClearedBeforeTheFunctionSoASelfQueueRunsExactlyOnceMore(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api51", 0);
        List<Boolean> requeued = Collections.synchronizedList(new ArrayList<>());
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel).then((self, n) -> {
            if (n == 1) {
                requeued.add(wq.queue(self));
            }
        });
        Work w = new Work(probe);

        assertThat(wq.queueOn(0, w)).isTrue();
        wq.drain();   // waits for the self-queued run too

        assertThat(probe.runs).hasValue(2);
        assertThat(requeued).containsExactly(true);
        assertThat(probe.run(1).pendingOnEntry()).isFalse();
        assertThat(probe.run(2).pendingOnEntry()).isFalse();
        wq.flush();
        assertThat(probe.runs).hasValue(2);
        assertThat(w.isPending()).isFalse();
    }

    /**
     * Plain (non-volatile) stores made before a successful {@code queue()} are visible to the work
     * function, on either CPU. The racy form of this contract is a jcstress test; here each of 200
     * items checks the value written just before its own queueing. Spec §10.3 item 52.
     */
    @Test
    void storesBeforeASuccessfulQueueAreVisibleToTheFunction(Kernel kernel) {
        final class Box {
            int value;      // plain on purpose
            int seen = -1;  // written by the function, read after the flush
        }
        Workqueue wq = kernel.allocWorkqueue("api52", 0);
        Box[] boxes = new Box[200];
        for (int i = 0; i < boxes.length; i++) {
            Box box = new Box();
            boxes[i] = box;
            Work w = new Work(self -> box.seen = box.value);
            box.value = 1000 + i;
            assertThat(wq.queueOn(i % 2, w)).isTrue();
        }
        wq.flush();
        for (int i = 0; i < boxes.length; i++) {
            assertThat(boxes[i].seen).as("item %d", i).isEqualTo(1000 + i);
        }
    }

    /**
     * {@code queue()} on a per-CPU workqueue runs the item on the queueing CPU: from task context
     * on CPU 0 and CPU 1 ({@code workOnCpu}), and from a hardirq on CPU 1, the item runs on a
     * {@code kworker/N:M} of that CPU (a {@code kworker/N:MH} for the highpri queue). kdefer's CPUs
     * never go offline, so "while the CPU stays online" always holds. Spec §10.3 item 53.
     */
    @Test
    void queueOnAPerCpuWorkqueueRunsOnTheQueueingCpu(Kernel kernel) {
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        for (int cpu = 0; cpu < 2; cpu++) {
            Work w = new Work(probe);
            assertThat(kernel.workOnCpu(cpu, () -> kernel.systemWq().queue(w))).isTrue();
            w.flush();
            Work h = new Work(probe);
            assertThat(kernel.workOnCpu(cpu, () -> kernel.systemHighpriWq().queue(h))).isTrue();
            h.flush();
        }
        Work fromIrq = new Work(probe);
        boolean[] queued = new boolean[1];
        kernel.smpCallFunctionSingle(1, () -> queued[0] = kernel.systemWq().queue(fromIrq), true);
        assertThat(queued[0]).isTrue();
        fromIrq.flush();

        assertThat(probe.log()).extracting(WorkqueueApiProbe.Run::cpu).containsExactly(0, 0, 1, 1, 1);
        assertThat(probe.run(1).threadName()).matches("kworker/0:\\d+");
        assertThat(probe.run(2).threadName()).matches("kworker/0:\\d+H");
        assertThat(probe.run(3).threadName()).matches("kworker/1:\\d+");
        assertThat(probe.run(4).threadName()).matches("kworker/1:\\d+H");
        assertThat(probe.run(5).threadName()).matches("kworker/1:\\d+");
    }

    /**
     * {@code queueOn(cpu, ...)} runs the item on that CPU's pool, whatever CPU the caller is on.
     * Spec §10.3 item 54.
     */
    @Test
    void queueOnRunsTheItemOnThatCpusPool(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api54", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work a = new Work(probe);
        Work b = new Work(probe);
        Work c = new Work(probe);
        assertThat(kernel.workOnCpu(0, () -> wq.queueOn(1, a))).isTrue();
        a.flush();
        assertThat(kernel.workOnCpu(1, () -> wq.queueOn(0, b))).isTrue();
        b.flush();
        assertThat(kernel.workOnCpu(0, () -> kernel.systemHighpriWq().queueOn(1, c))).isTrue();
        c.flush();

        assertThat(probe.log()).extracting(WorkqueueApiProbe.Run::cpu).containsExactly(1, 0, 1);
        assertThat(probe.run(1).threadName()).matches("kworker/1:\\d+");
        assertThat(probe.run(2).threadName()).matches("kworker/0:\\d+");
        assertThat(probe.run(3).threadName()).matches("kworker/1:\\d+H");
    }

    /**
     * {@code queueOn} and {@code queueDelayedOn} for a CPU that does not exist throw an
     * {@link IllegalArgumentException} naming it and leave the item idle;
     * {@link Workqueue#WORK_CPU_UNBOUND} means "no CPU requested" (the caller's CPU).
     * Spec §4.4, §10.3 item 54.
     */
    @Test
    void queueOnACpuThatDoesNotExistIsRefused(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api54x", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Work w = new Work(probe);
        DelayedWork dw = new DelayedWork(probe);
        for (int cpu : new int[] {2, -2}) {
            assertThatThrownBy(() -> wq.queueOn(cpu, w)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cpu " + cpu);
            assertThatThrownBy(() -> wq.queueDelayedOn(cpu, dw, 1)).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(w.isPending()).isFalse();
        assertThat(dw.isPending()).isFalse();

        assertThat(kernel.workOnCpu(1, () -> wq.queueOn(Workqueue.WORK_CPU_UNBOUND, w))).isTrue();
        w.flush();
        assertThat(probe.run(1).cpu()).isEqualTo(1);
    }

    /**
     * Non-reentrancy: an item executing on CPU 0 and queued again from CPU 1 to the same per-CPU
     * workqueue is redirected to the worker that runs it, so its second run happens on CPU 0, on
     * the same worker, after the first. The test proves the second run did not go to CPU 1: an
     * item queued on CPU 1 after it has run there while the first run is still held.
     * Spec §10.3 item 55.
     */
    @Test
    void requeueFromAnotherCpuRunsAfterTheCurrentRunOnTheSameCpu(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("api55", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Work w = new Work(probe);
        try {
            assertThat(wq.queueOn(0, w)).isTrue();
            first.awaitStarted();

            assertThat(kernel.workOnCpu(1, () -> wq.queue(w))).isTrue();
            Work marker = new Work(self -> { });
            assertThat(wq.queueOn(1, marker)).isTrue();
            marker.flush();
            assertThat(probe.runs).as("the second run did not start on CPU 1").hasValue(1);
            assertThat(w.busy()).isEqualTo(Work.BUSY_PENDING | Work.BUSY_RUNNING);
        } finally {
            probe.releaseAll();
        }
        w.flush();

        assertThat(probe.runs).hasValue(2);
        assertThat(probe.maxInside).hasValue(1);
        assertThat(probe.log()).extracting(WorkqueueApiProbe.Run::cpu).containsExactly(0, 0);
        assertThat(probe.run(2).thread()).isSameAs(probe.run(1).thread());
    }

    /**
     * The redirect to a running instance applies within one workqueue only: the same item queued,
     * while it runs on CPU 0 through one queue, to another queue on CPU 1 (another pool) runs there
     * at the same time. Spec §10.3 item 56.
     */
    @Test
    void sameItemOnAnotherWorkqueueAndPoolMayRunConcurrently(Kernel kernel) {
        Workqueue wqA = kernel.allocWorkqueue("api56a", 0);
        Workqueue wqB = kernel.allocWorkqueue("api56b", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.hold(1);
        Gate second = probe.hold(2);
        Work w = new Work(probe);
        try {
            assertThat(wqA.queueOn(0, w)).isTrue();
            first.awaitStarted();

            assertThat(wqB.queueOn(1, w)).isTrue();
            second.awaitStarted();   // while the first run is still held

            assertThat(probe.maxInside).hasValue(2);
            assertThat(probe.log()).extracting(WorkqueueApiProbe.Run::cpu).containsExactly(0, 1);
            assertThat(w.busy()).isEqualTo(Work.BUSY_RUNNING);
        } finally {
            probe.releaseAll();
        }
        wqA.flush();
        wqB.flush();
        assertThat(probe.finished).hasValue(2);
    }

    /**
     * Within one pool the busy-hash check serialises an item whatever queue queued it: while it runs
     * on CPU 0 through one queue (its worker asleep in a kdefer wait, so the pool starts another
     * worker), the same item queued through another per-CPU queue on CPU 0 is handed to the worker
     * running it. Another item queued after it runs meanwhile on the other worker; the item's second
     * run comes after the first, on the first's worker. Spec §10.3 item 56.
     */
    @Test
    void sameItemOnAnotherWorkqueueOfTheSamePoolIsSerialised(Kernel kernel) {
        Workqueue wqA = kernel.allocWorkqueue("api56c", 0);
        Workqueue wqB = kernel.allocWorkqueue("api56d", 0);
        WorkqueueApiProbe probe = new WorkqueueApiProbe(kernel);
        Gate first = probe.holdSleeping(1);
        Work w = new Work(probe);
        Thread[] markerThread = new Thread[1];
        try {
            assertThat(wqA.queueOn(0, w)).isTrue();
            first.awaitStarted();

            assertThat(wqB.queueOn(0, w)).isTrue();
            Work marker = new Work(self -> markerThread[0] = Thread.currentThread());
            assertThat(wqB.queueOn(0, marker)).isTrue();
            marker.flush();

            assertThat(markerThread[0]).as("another worker of CPU 0 ran the marker")
                    .isNotSameAs(probe.run(1).thread());
            assertThat(markerThread[0].getName()).matches("kworker/0:\\d+");
            assertThat(probe.runs).as("the second run waits for the first").hasValue(1);
        } finally {
            probe.releaseAll();
        }
        wqA.flush();
        wqB.flush();
        assertThat(probe.runs).hasValue(2);
        assertThat(probe.maxInside).hasValue(1);
        assertThat(probe.run(2).thread()).isSameAs(probe.run(1).thread());
    }
}
