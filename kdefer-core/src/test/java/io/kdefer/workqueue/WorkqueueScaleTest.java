package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.testkit.Waits;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Queued items are list nodes, not threads: 10^5 items queued behind a busy worker leave the pool
 * with its worker and one spare, and all of them run afterwards (the "10^5 queued items
 * take no thread per item"; spec §5.5: CPU-bound items of one CPU run on one worker).
 */
class WorkqueueScaleTest {

    @Test
    void hundredThousandQueuedItemsTakeNoThreadEach(Kernel kernel) {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        Work blocker = new Work(w -> {
            started.countDown();
            Waits.await(release);   // plain JDK wait; no tick, so the sampler does not run
        });
        AtomicInteger runs = new AtomicInteger();
        Workqueue wq = kernel.systemWq();
        try {
            wq.queueOn(0, blocker);
            Waits.await(started);
            for (int i = 0; i < 100_000; i++) {
                assertThat(wq.queueOn(0, new Work(w -> runs.incrementAndGet()))).isTrue();
            }
            assertThat(kworkers("kworker/0:")).as("the running worker and its spare").isEqualTo(2);
        } finally {
            release.countDown();
        }
        wq.flush();
        assertThat(runs.get()).isEqualTo(100_000);
        assertThat(kworkers("kworker/0:")).isLessThanOrEqualTo(2);
    }

    private static int kworkers(String prefix) {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith(prefix) && !t.getName().startsWith(prefix + "BH") && t.isAlive()) {
                n++;
            }
        }
        return n;
    }
}
