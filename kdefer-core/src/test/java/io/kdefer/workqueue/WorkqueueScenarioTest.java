package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.wait.Completion;
import io.kdefer.workqueue.PoolScript.Gate;
import io.kdefer.workqueue.PoolScript.Timeline;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static io.kdefer.workqueue.PoolScript.cpuIntensiveViolations;
import static io.kdefer.workqueue.PoolScript.probe;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The workqueue documentation's example (spec §12.1), on one CPU: w0 burns CPU for 5 ms, sleeps
 * 10 ms, burns 5 ms more; w1 and w2 burn 5 ms and sleep 10 ms. Each test plays the example's
 * timeline on the manual clock (HZ 1000: a jiffy is a millisecond) and checks when each item
 * started, slept, woke and ended against the documented ideal timeline for one kind of queue.
 *
 * <p>"Burning CPU" is spinning at a {@link Gate} while the test ticks the clock through the burn
 * (the pool's sampler looks at the spinning worker on those ticks and finds it running, below the
 * 10 ms CPU-intensive threshold); "sleeping" is a wait on a {@link Completion}, which tells the pool
 * the worker sleeps, and which the test completes when the sleep is over. The test moves on only
 * once the item it expects to start has started, so every recorded time is the jiffy at which the
 * pool made the item run; an item that started too early shows up with an earlier time, one that
 * does not start fails the wait.
 */
@KdeferTest(cpus = 1)
class WorkqueueScenarioTest {

    /** One item of the example and what the test steers it with. */
    private static final class Item {
        final String name;
        final Gate burn = new Gate();
        final Completion sleep;
        final Gate secondBurn;   // w0 only
        final Work work;

        Item(Kernel kernel, Timeline tl, String name, boolean burnsTwice) {
            this.name = name;
            this.sleep = new Completion(kernel);
            this.secondBurn = burnsTwice ? new Gate() : null;
            this.work = new Work(self -> {
                tl.record(name + " starts");
                burn.pass();
                tl.record(name + " sleeps");
                sleep.waitForCompletion();
                if (secondBurn != null) {
                    tl.record(name + " wakes");
                    secondBurn.pass();
                }
                tl.record(name + " ends");
            });
        }

        /** Lets everything the item may still wait for go (for finally blocks). */
        void release() {
            burn.open();
            sleep.completeAll();
            if (secondBurn != null) {
                secondBurn.open();
            }
        }
    }

    /**
     * Per-CPU queue with max_active >= 3: w0 starts at 0 and sleeps at 5; only then does w1 start
     * (5), and only when w1 sleeps does w2 (10); w2 sleeps at 15 while w0 wakes and burns to 20;
     * w1 ends 20, w2 ends 25. Concurrency management keeps one item burning at a time and hands
     * the CPU to the next pending item whenever the burning one sleeps. Spec §12.1, first case;
     * §10.4 items 86 and 87.
     */
    @Test
    void perCpuQueueRunsTheNextItemWhenTheBurningOneSleeps(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("example", 3);
        Timeline tl = new Timeline(kernel);
        Item w0 = new Item(kernel, tl, "w0", true);
        Item w1 = new Item(kernel, tl, "w1", false);
        Item w2 = new Item(kernel, tl, "w2", false);
        try {
            queueAll(wq, w0, w1, w2);
            tl.await("w0 starts");
            clock.tick(5);
            assertThat(w1.work.busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(w2.work.busy()).isEqualTo(Work.BUSY_PENDING);
            w0.burn.open();                  // t = 5
            tl.await("w1 starts");
            clock.tick(5);
            w1.burn.open();                  // t = 10
            tl.await("w2 starts");
            clock.tick(5);
            w2.burn.open();                  // t = 15
            tl.await("w2 sleeps");
            w0.sleep.complete();
            tl.await("w0 wakes");
            clock.tick(5);
            w0.secondBurn.open();            // t = 20
            tl.await("w0 ends");
            w1.sleep.complete();
            tl.await("w1 ends");
            clock.tick(5);
            w2.sleep.complete();             // t = 25
            tl.await("w2 ends");
        } finally {
            releaseAll(w0, w1, w2);
        }

        assertThat(tl.timed()).containsExactly(
                "0 w0 starts", "5 w0 sleeps", "5 w1 starts", "10 w1 sleeps", "10 w2 starts", "15 w2 sleeps",
                "15 w0 wakes", "20 w0 ends", "20 w1 ends", "25 w2 ends");
        assertThat(threadsOf(tl, "w0", "w1", "w2")).hasSize(3);
        assertThat(tl.threadName("w0 starts")).matches("kworker/0:\\d+");
        assertThat(cpuIntensiveViolations(kernel)).isZero();
    }

    /**
     * The same queue with max_active 1: strictly serial, w0 0-20, w1 20-35, w2 35-50. The time an
     * item sleeps is not given to the next item of the queue: while w0 (later w1) sleeps, a probe
     * item of another queue runs on the pool, and the next item of this queue stays pending.
     * Spec §12.1, second case; §10.4 item 88.
     */
    @Test
    void maxActiveOneRunsTheItemsStrictlyOneAfterTheOther(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("example", 1);
        Timeline tl = new Timeline(kernel);
        Item w0 = new Item(kernel, tl, "w0", true);
        Item w1 = new Item(kernel, tl, "w1", false);
        Item w2 = new Item(kernel, tl, "w2", false);
        try {
            queueAll(wq, w0, w1, w2);
            tl.await("w0 starts");
            clock.tick(5);
            w0.burn.open();                  // t = 5
            tl.await("w0 sleeps");
            assertThat(probe(kernel.systemWq(), 0, () -> tl.has("w1 starts"))).isTrue();
            assertThat(w1.work.busy()).isEqualTo(Work.BUSY_PENDING);
            clock.tick(10);
            w0.sleep.complete();             // t = 15
            tl.await("w0 wakes");
            clock.tick(5);
            w0.secondBurn.open();            // t = 20
            tl.await("w1 starts");
            clock.tick(5);
            w1.burn.open();                  // t = 25
            tl.await("w1 sleeps");
            assertThat(probe(kernel.systemWq(), 0, () -> tl.has("w2 starts"))).isTrue();
            assertThat(w2.work.busy()).isEqualTo(Work.BUSY_PENDING);
            clock.tick(10);
            w1.sleep.complete();             // t = 35
            tl.await("w2 starts");
            clock.tick(5);
            w2.burn.open();                  // t = 40
            tl.await("w2 sleeps");
            clock.tick(10);
            w2.sleep.complete();             // t = 50
            tl.await("w2 ends");
        } finally {
            releaseAll(w0, w1, w2);
        }

        assertThat(tl.timed()).containsExactly(
                "0 w0 starts", "5 w0 sleeps", "15 w0 wakes", "20 w0 ends",
                "20 w1 starts", "25 w1 sleeps", "35 w1 ends",
                "35 w2 starts", "40 w2 sleeps", "50 w2 ends");
    }

    /**
     * w0 on a normal per-CPU queue, w1 and w2 on a {@code WQ_CPU_INTENSIVE} one: w1 and w2 wait for
     * the concurrency-managed w0 to sleep, then both start at 5 (a CPU-intensive item does not count
     * as running, so w1 burning does not hold w2 back); w1 sleeps at 10, w2 at 15 while w0 wakes;
     * w0 and w1 end at 20, w2 at 25. Spec §12.1, third case; §10.4 item 91.
     */
    @Test
    void cpuIntensiveItemsBothStartWhenTheManagedOneSleeps(Kernel kernel, ManualClock clock) {
        Workqueue normal = kernel.allocWorkqueue("example", 3);
        Workqueue intensive = kernel.allocWorkqueue("example_intensive", 3, WqFlag.CPU_INTENSIVE);
        Timeline tl = new Timeline(kernel);
        Item w0 = new Item(kernel, tl, "w0", true);
        Item w1 = new Item(kernel, tl, "w1", false);
        Item w2 = new Item(kernel, tl, "w2", false);
        try {
            assertThat(normal.queue(w0.work)).isTrue();
            assertThat(intensive.queue(w1.work)).isTrue();
            assertThat(intensive.queue(w2.work)).isTrue();
            tl.await("w0 starts");
            clock.tick(5);
            assertThat(w1.work.busy()).isEqualTo(Work.BUSY_PENDING);
            assertThat(w2.work.busy()).isEqualTo(Work.BUSY_PENDING);
            w0.burn.open();                  // t = 5
            tl.await("w1 starts");
            tl.await("w2 starts");
            clock.tick(5);
            w1.burn.open();                  // t = 10
            tl.await("w1 sleeps");
            clock.tick(5);
            w2.burn.open();                  // t = 15
            tl.await("w2 sleeps");
            w0.sleep.complete();
            tl.await("w0 wakes");
            clock.tick(5);
            w0.secondBurn.open();            // t = 20
            tl.await("w0 ends");
            w1.sleep.complete();
            tl.await("w1 ends");
            clock.tick(5);
            w2.sleep.complete();             // t = 25
            tl.await("w2 ends");
        } finally {
            releaseAll(w0, w1, w2);
        }

        List<String> timed = tl.timed();
        assertThat(timed).containsExactlyInAnyOrder(
                "0 w0 starts", "5 w0 sleeps", "5 w1 starts", "5 w2 starts", "10 w1 sleeps", "15 w2 sleeps",
                "15 w0 wakes", "20 w0 ends", "20 w1 ends", "25 w2 ends");
        assertThat(timed.indexOf("5 w1 starts")).isGreaterThan(timed.indexOf("5 w0 sleeps"));
        assertThat(timed.indexOf("5 w2 starts")).isGreaterThan(timed.indexOf("5 w0 sleeps"));
        assertThat(threadsOf(tl, "w0", "w1", "w2")).hasSize(3);
    }

    /**
     * An unbound queue: all three items start at once, on three different workers, while all
     * three burn. Spec §12.1, fourth case; §10.4 item 90.
     */
    @Test
    void unboundQueueStartsAllThreeAtOnce(Kernel kernel, ManualClock clock) {
        Workqueue wq = kernel.allocWorkqueue("example_unbound", 3, WqFlag.UNBOUND);
        Timeline tl = new Timeline(kernel);
        Item w0 = new Item(kernel, tl, "w0", true);
        Item w1 = new Item(kernel, tl, "w1", false);
        Item w2 = new Item(kernel, tl, "w2", false);
        try {
            queueAll(wq, w0, w1, w2);
            tl.await("w0 starts");
            tl.await("w1 starts");
            tl.await("w2 starts");
            clock.tick(5);
            for (Item w : new Item[] {w0, w1, w2}) {
                w.burn.open();               // t = 5
                tl.await(w.name + " sleeps");
            }
            clock.tick(10);
            for (Item w : new Item[] {w0, w1, w2}) {
                w.sleep.complete();          // t = 15
            }
            tl.await("w0 wakes");
            tl.await("w1 ends");
            tl.await("w2 ends");
            clock.tick(5);
            w0.secondBurn.open();            // t = 20
            tl.await("w0 ends");
        } finally {
            releaseAll(w0, w1, w2);
        }

        assertThat(tl.timed()).containsExactlyInAnyOrder(
                "0 w0 starts", "0 w1 starts", "0 w2 starts", "5 w0 sleeps", "5 w1 sleeps", "5 w2 sleeps",
                "15 w0 wakes", "15 w1 ends", "15 w2 ends", "20 w0 ends");
        assertThat(threadsOf(tl, "w0", "w1", "w2")).hasSize(3);
        assertThat(tl.threadName("w0 starts")).matches("kworker/u\\d+:\\d+");
    }

    private static void queueAll(Workqueue wq, Item... items) {
        for (Item w : items) {
            assertThat(wq.queue(w.work)).as("queue " + w.name).isTrue();
        }
    }

    private static void releaseAll(Item... items) {
        for (Item w : items) {
            w.release();
        }
    }

    private static Set<Thread> threadsOf(Timeline tl, String... names) {
        java.util.HashSet<Thread> out = new java.util.HashSet<>();
        for (String n : names) {
            out.add(tl.thread(n + " starts"));
        }
        return out;
    }
}
