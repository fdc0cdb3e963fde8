package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sub-jiffy sampler ({@link FastSampler}) on kernels whose clock moves by itself: a pool where
 * the jiffy sampler found a worker blocked in plain JDK code is watched every 100 µs for a while,
 * so the next such block is noticed well within a jiffy. A {@code ManualClock} kernel never
 * starts it ({@code WorkqueuePoolTest#itemBlockedInJdkCodeIsFoundByTheSamplerAndTheNextOneStarts}). Spec §10.4 item 87 (concurrency management when a worker blocks), with §5.2's
 * sampler as kdefer models it (docs/deviations.md).
 */
class WorkqueueFastSamplerTest {
    private static long fastPasses(Kernel kernel) {
        return kernel.workqueues().counters()[5];
    }

    private static long sampledSleeps(Kernel kernel) {
        return kernel.workqueues().counters()[0];
    }

    /**
     * An item blocked on a JDK latch holds up the next item of its CPU until a sampler notices the
     * blocked worker; the first notice (by the jiffy sampler) puts the pool under the fast
     * sampler, which then runs passes. A second blocked item is noticed too, and the item queued
     * behind it runs while it still blocks.
     */
    @Test
    void aPoolWhereAWorkerBlockedInJdkCodeIsWatchedByTheFastSampler() {
        CollectingErrors errors = new CollectingErrors();
        try (Kernel kernel = TestKernels.track(Kernel.builder().cpus(1).hz(1000).errorHandler(errors).build())) {
            Workqueue wq = kernel.allocWorkqueue("fast", 0);
            CountDownLatch releaseA = new CountDownLatch(1);
            CountDownLatch bRan = new CountDownLatch(1);
            CountDownLatch releaseC = new CountDownLatch(1);
            CountDownLatch dRan = new CountDownLatch(1);
            Work a = new Work(w -> Waits.await(releaseA, "the test releases A"));
            Work b = new Work(w -> bRan.countDown());
            Work c = new Work(w -> Waits.await(releaseC, "the test releases C"));
            Work d = new Work(w -> dRan.countDown());
            try {
                assertThat(wq.queueOn(0, a)).isTrue();
                assertThat(wq.queueOn(0, b)).isTrue();
                Waits.await(bRan, "B runs while A blocks in a JDK latch");
                assertThat(sampledSleeps(kernel)).isEqualTo(1);
                Waits.spinUntil(() -> fastPasses(kernel) > 0, "the fast sampler watches the pool");

                assertThat(wq.queueOn(0, c)).isTrue();
                assertThat(wq.queueOn(0, d)).isTrue();
                Waits.await(dRan, "D runs while C blocks");
                assertThat(sampledSleeps(kernel)).isEqualTo(2);
            } finally {
                releaseA.countDown();
                releaseC.countDown();
            }
            wq.flush();
        }
        errors.assertNone();
    }
}
