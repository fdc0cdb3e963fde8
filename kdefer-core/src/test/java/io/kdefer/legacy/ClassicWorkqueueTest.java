package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitWaiting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The 2.6.0–2.6.35 workqueue ({@link ClassicWorkqueue}), spec §4.13 and §8.3: one thread per CPU
 * per queue (or one), items in process context on their CPU's thread, the pending bit, flushing,
 * delayed items on the timer wheel, destroy, and the missing concurrency management (a sleeping
 * item holds up its CPU's later items, not the other CPUs').
 */
class ClassicWorkqueueTest {

    /** §4.13: create_workqueue makes name/N threads, one per CPU; the single-thread variant one named name. */
    @Test
    void threadsAreNamedPerCpuOrSingle(Kernel kernel) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kblockd", false);
        ClassicWorkqueue single = kernel.createClassicWorkqueue("kmirrord", true);
        assertThat(wq.threads()).extracting(Thread::getName).containsExactly("kblockd/0", "kblockd/1");
        assertThat(single.threads()).extracting(Thread::getName).containsExactly("kmirrord");
        assertThat(kernel.classicEvents().threads()).extracting(Thread::getName)
                .containsExactly("events/0", "events/1");
        assertThat(kernel.classicEvents()).isSameAs(kernel.classicEvents());
    }

    /** §4.13: an item runs in process context on the thread of the CPU it was queued on. */
    @Test
    void itemsRunInProcessContextOnTheirCpusThread(Kernel kernel) throws Exception {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kdisk", false);
        List<String> runs = Collections.synchronizedList(new ArrayList<>());
        Runnable probe = () -> runs.add(Thread.currentThread().getName() + " cpu " + kernel.smpProcessorId()
                + " task " + kernel.inTask());
        assertThat(wq.queueWorkOn(1, probe)).isTrue();
        wq.flush();
        kernel.runOnCpu(0, () -> wq.queueWork(probe));
        wq.flush();
        assertThat(runs).containsExactly("kdisk/1 cpu 1 task true", "kdisk/0 cpu 0 task true");
        ClassicWorkqueue single = kernel.createClassicWorkqueue("kone", true);
        single.queueWorkOn(1, probe);
        single.flush();
        assertThat(runs).last().isEqualTo("kone cpu 0 task true");
    }

    /** §4.13: queue_work returns false while the item is pending; the bit clears before the item runs. */
    @Test
    void queueWorkReturnsFalseWhilePending(Kernel kernel) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kpend", false);
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        wq.queueWorkOn(0, () -> {
            in.countDown();
            await(release);
        });
        await(in);
        AtomicInteger runs = new AtomicInteger();
        List<Boolean> pendingInside = new ArrayList<>();
        Runnable[] item = new Runnable[1];
        item[0] = () -> {
            runs.incrementAndGet();
            pendingInside.add(wq.isPending(item[0]));
        };
        assertThat(wq.queueWorkOn(0, item[0])).isTrue();
        assertThat(wq.queueWorkOn(1, item[0])).isFalse();
        assertThat(wq.isPending(item[0])).isTrue();
        release.countDown();
        wq.flush();
        assertThat(runs).hasValue(1);
        assertThat(pendingInside).containsExactly(false);
    }

    /** §4.13: flush_workqueue waits for the items queued before it, on every CPU. */
    @Test
    void flushWaitsForEveryCpusEarlierItems(Kernel kernel) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kflush", false);
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger done = new AtomicInteger();
        wq.queueWorkOn(1, () -> {
            in.countDown();
            await(release);
            done.incrementAndGet();
        });
        wq.queueWorkOn(0, done::incrementAndGet);
        await(in);
        Worker flusher = Worker.start("flusher", wq::flush);
        awaitWaiting(flusher);
        assertThat(flusher.isAlive()).isTrue();
        release.countDown();
        flusher.joinAndCheck();
        assertThat(done).hasValue(2);
    }

    /**
     * §4.13: no concurrency management: an item that sleeps holds up the later items of its CPU's
     * thread, while another CPU's thread of the same queue goes on.
     */
    @Test
    void aSleepingItemHoldsUpItsCpuOnly(Kernel kernel, ManualClock clock) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kslow", false);
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch sleeping = new CountDownLatch(1);
        CountDownLatch otherCpu = new CountDownLatch(1);
        wq.queueWorkOn(0, () -> {
            sleeping.countDown();
            kernel.msleep(2);
            order.add("sleeper");
        });
        wq.queueWorkOn(0, () -> order.add("behind"));
        await(sleeping);
        wq.queueWorkOn(1, () -> {
            order.add("cpu1");
            otherCpu.countDown();
        });
        await(otherCpu);
        awaitWaiting(wq.threads().get(0));
        assertThat(order).containsExactly("cpu1");
        clock.tick(4);   // msleep(2): a timer 3 jiffies ahead; the sleeper returns at the next tick
        wq.flush();
        assertThat(order).containsExactly("cpu1", "sleeper", "behind");
    }

    /** §4.13: queue_delayed_work arms a timer; the item is queued when it fires, on the chosen CPU. */
    @Test
    void delayedItemsWaitForTheirTimer(Kernel kernel, ManualClock clock) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kdelay", false);
        List<String> runs = Collections.synchronizedList(new ArrayList<>());
        Runnable item = () -> runs.add(Thread.currentThread().getName() + " at " + kernel.jiffies());
        long start = kernel.jiffies();
        assertThat(wq.queueDelayedWorkOn(1, item, 3)).isTrue();
        assertThat(wq.queueDelayedWork(item, 3)).isFalse();   // pending while armed
        // the timer expires at start + 3 and, as kdefer's wheel does for every timer armed between
        // two ticks, fires at the tick after that (spec §10.8 item 157: tdelay + 1)
        clock.tick(3);
        wq.flush();
        assertThat(runs).isEmpty();
        assertThat(wq.isPending(item)).isTrue();
        clock.tick();
        wq.flush();   // the timer queued it at this tick; flush waits for it
        assertThat(runs).containsExactly("kdelay/1 at " + (start + 4));
        assertThat(wq.isPending(item)).isFalse();

        Runnable cancelled = () -> runs.add("cancelled ran");
        assertThat(wq.queueDelayedWork(cancelled, 2)).isTrue();
        assertThat(wq.cancelDelayedWork(cancelled)).isTrue();
        assertThat(wq.cancelDelayedWork(cancelled)).isFalse();
        clock.tick(3);
        wq.flush();
        assertThat(runs).hasSize(1);
    }

    /** destroy_workqueue flushes, joins the threads, and later calls are refused. */
    @Test
    void destroyFlushesAndJoins(Kernel kernel) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kgone", false);
        AtomicInteger runs = new AtomicInteger();
        wq.queueWorkOn(0, runs::incrementAndGet);
        wq.queueWorkOn(1, runs::incrementAndGet);
        wq.destroy();
        assertThat(runs).hasValue(2);
        assertThat(wq.threads()).allSatisfy(t -> assertThat(t.isAlive()).isFalse());
        assertThatThrownBy(() -> wq.queueWork(() -> { })).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("queue_work(kgone): the workqueue is destroyed");
        assertThatThrownBy(wq::destroy).isInstanceOf(IllegalStateException.class);
    }

    /** Misuse: flushing from the queue's own thread, destroying with armed delayed items. */
    @Test
    void misuseIsRefused(Kernel kernel) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kmis", false);
        AtomicReference<Throwable> fromItself = new AtomicReference<>();
        wq.queueWorkOn(1, () -> {
            try {
                wq.flush();
            } catch (Throwable t) {
                fromItself.set(t);
            }
        });
        wq.flush();
        assertThat(fromItself.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("flush_workqueue(kmis) from its own thread kmis/1");
        Runnable d = () -> { };
        wq.queueDelayedWork(d, 10);
        assertThatThrownBy(wq::destroy).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("delayed item(s) still armed");
        wq.cancelDelayedWork(d);
        wq.destroy();
        assertThatThrownBy(() -> kernel.createClassicWorkqueue("", false)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Close runs what the classic queues still hold and joins their threads. */
    @Test
    void closeRunsQueuedItemsAndJoinsTheThreads(Kernel kernel) {
        ClassicWorkqueue wq = kernel.createClassicWorkqueue("kclose", false);
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        wq.queueWorkOn(0, () -> {
            in.countDown();
            await(release);
        });
        await(in);
        for (int i = 0; i < 50; i++) {
            wq.queueWorkOn(i % 2, runs::incrementAndGet);
        }
        Worker closer = Worker.start("closer", kernel::close);
        release.countDown();
        closer.joinAndCheck();
        assertThat(runs).hasValue(50);
        assertThat(wq.threads()).allSatisfy(t -> assertThat(t.isAlive()).isFalse());
    }
}
