package io.kdefer.tasklet;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class SmokeTest {
    @Test
    void selfReschedulingTaskletRuns() throws Exception {
        ManualClock clock = new ManualClock();
        try (Kernel k = Kernel.builder().cpus(2).clock(clock).build()) {
            AtomicInteger n = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(1);
            StringBuilder names = new StringBuilder();
            Tasklet t = Tasklet.setup(k, self -> {
                names.append(Thread.currentThread().getName()).append(k.inServingSoftirq() ? "+" : "-").append(' ');
                if (n.incrementAndGet() < 25) self.schedule(); else done.countDown();
            });
            k.smpCallFunctionSingle(0, t::schedule, true);
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            System.out.println(names);
            System.out.println(k.stats());
            System.out.println(k.softirqs().procSoftirqs());
        }
    }
}
