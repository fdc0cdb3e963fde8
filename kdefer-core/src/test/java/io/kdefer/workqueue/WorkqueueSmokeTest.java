package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.Waits;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** First end-to-end runs of the workqueue machinery: queue, run, flush, delayed, BH, close. */
class WorkqueueSmokeTest {

    @Test
    void queuedItemRunsOnAKworkerOfTheQueueingCpu(Kernel kernel) {
        AtomicInteger runs = new AtomicInteger();
        String[] thread = new String[1];
        int[] cpu = new int[1];
        Work w = new Work(self -> {
            thread[0] = Thread.currentThread().getName();
            cpu[0] = kernel.smpProcessorId();
            runs.incrementAndGet();
        });
        assertThat(kernel.systemWq().queueOn(1, w)).isTrue();
        w.flush();
        assertThat(runs.get()).isEqualTo(1);
        assertThat(thread[0]).startsWith("kworker/1:");
        assertThat(cpu[0]).isEqualTo(1);
        assertThat(w.flush()).isFalse();
    }

    @Test
    void workqueueFlushWaitsForEverything(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("smoke", 0, WqFlag.UNBOUND);
        AtomicInteger runs = new AtomicInteger();
        for (int i = 0; i < 100; i++) {
            assertThat(wq.queue(new Work(self -> runs.incrementAndGet()))).isTrue();
        }
        wq.flush();
        assertThat(runs.get()).isEqualTo(100);
        wq.destroy();
    }

    @Test
    void delayedItemRunsAfterItsTicks(Kernel kernel, ManualClock clock) {
        CountDownLatch ran = new CountDownLatch(1);
        DelayedWork dw = new DelayedWork(self -> ran.countDown());
        assertThat(kernel.scheduleDelayedWork(dw, 3)).isTrue();
        assertThat(kernel.scheduleDelayedWork(dw, 1)).isFalse();
        clock.tick(2);
        assertThat(ran.getCount()).isEqualTo(1);
        clock.tick(2);
        Waits.await(ran);
    }

    @Test
    void bhItemRunsInSoftirqContext(Kernel kernel) {
        String[] where = new String[1];
        Work w = new Work(self -> where[0] = Thread.currentThread().getName() + " " + kernel.inServingSoftirq()
                + " " + kernel.preemptCount() + " cpu " + kernel.smpProcessorId());
        kernel.systemBhWq().queueOn(0, w);
        w.flush();
        assertThat(where[0]).isEqualTo("cpu/0 true 256 cpu 0");
    }

    @Test
    void cancelSyncStopsASelfRequeueingItem(Kernel kernel) {
        AtomicInteger runs = new AtomicInteger();
        Work[] holder = new Work[1];
        holder[0] = new Work(self -> {
            runs.incrementAndGet();
            kernel.systemWq().queue(self);
        });
        kernel.systemWq().queue(holder[0]);
        Waits.spinUntil(() -> runs.get() > 5, "runs");
        holder[0].cancelSync();
        int after = runs.get();
        assertThat(holder[0].isPending()).isFalse();
        assertThat(holder[0].busy()).isZero();
        assertThat(runs.get()).isEqualTo(after);
    }
}
