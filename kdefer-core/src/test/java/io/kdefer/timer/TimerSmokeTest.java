package io.kdefer.timer;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TimerSmokeTest {
    @Test
    void firesOneJiffyLateAtLevelZeroAndLevelOneOnBucket() throws Exception {
        ManualClock clock = new ManualClock();
        try (Kernel k = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
            List<String> log = new ArrayList<>();
            long j0 = k.jiffies();
            KernelTimer a = k.workOnCpu(1, () -> KernelTimer.setup(k, t -> log.add("a@" + (k.jiffies() - j0) + " " + Thread.currentThread().getName())));
            KernelTimer b = k.workOnCpu(1, () -> KernelTimer.setup(k, t -> log.add("b@" + (k.jiffies() - j0))));
            k.workOnCpu(1, () -> { a.mod(j0 + 10); b.mod(j0 + 100); return null; });
            for (int i = 0; i < 120; i++) clock.tick();
            System.out.println(log);
            assertThat(log).containsExactly("a@11 cpu/1", "b@104");
        }
    }

    @Test
    void closeReportsOrRunsArmedTimers() {
        for (io.kdefer.TimerClosePolicy p : io.kdefer.TimerClosePolicy.values()) {
            ManualClock clock = new ManualClock();
            List<Object> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
            Kernel k = Kernel.builder().cpus(2).clock(clock).timersOnClose(p).errorHandler((s, e) -> errors.add(s)).build();
            KernelTimer periodic = KernelTimer.setup(k, t -> { runs.incrementAndGet(); t.mod(k.jiffies() + 1); });
            periodic.mod(k.jiffies() + 1000);
            k.close();
            if (p == io.kdefer.TimerClosePolicy.RUN) {
                assertThat(runs.get()).isEqualTo(1);
                assertThat(errors).isEmpty();
            } else {
                assertThat(runs.get()).isZero();
                assertThat(errors).containsExactly(periodic);
            }
            assertThat(periodic.isPending()).isFalse();
            assertThat(periodic.isShutdown()).isTrue();
        }
    }
}
