package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import io.kdefer.irq.IrqReturn;
import io.kdefer.tasklet.Tasklet;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shootout's mechanisms: each delivers the bottom half after a raise of its line, in the
 * context the kernel gives that mechanism (spec §1.2), and its close frees the line. A mechanism
 * built with {@link Deferrals#of}, the way the historical ones join, behaves the same. The lab's
 * registry: no §10 item of its own.
 */
class DeferralsTest {
    private static final int IRQ = 10;

    private static String context(Kernel k) {
        if (k.inServingSoftirq()) {
            return "softirq";
        }
        return k.inSoftirq() ? "task,bh-off" : "task";
    }

    private static String runOnce(Deferral d) throws InterruptedException {
        Kernel.Builder b = Kernel.builder().cpus(2);
        d.configure(b);
        try (Kernel k = b.build()) {
            CountDownLatch ran = new CountDownLatch(1);
            String[] where = new String[1];
            try (Deferral.Installed in = d.install(k, IRQ, 1, () -> {
                where[0] = context(k);
                ran.countDown();
            })) {
                k.irqs().raise(IRQ);
                assertThat(ran.await(30, TimeUnit.SECONDS)).as("%s ran its bottom half", d.name()).isTrue();
            }
            Object dev = new Object();
            k.irqs().requestIrq(IRQ, (l, x) -> IrqReturn.HANDLED, "again", dev);   // throws if the line were still taken
            k.irqs().freeIrq(IRQ, dev);
            return where[0];
        }
    }

    /** Each registry entry runs the bottom half once per raise, in its mechanism's context, and frees its line. */
    @Test
    void everyMechanismDeliversTheBottomHalfInItsContext() throws Exception {
        List<String> seen = new ArrayList<>();
        for (Deferral d : Deferrals.SHOOTOUT) {
            seen.add(d.name() + "=" + runOnce(d));
        }
        assertThat(seen).containsExactly(
                "tasklet=softirq", "tasklet-hi=softirq", "tasklet@bh-wq=softirq", "tasklet@wq-2007=task,bh-off",
                "bh-work=softirq", "percpu-work=task", "highpri-work=task", "unbound-work=task",
                "threaded-irq=task", "forced-threading=softirq", "timer-now=softirq",
                "old-bh=softirq", "tq-immediate=softirq", "keventd=task");
    }

    /** A mechanism assembled from an object, a scheduling call and a teardown, as the historical ones are. */
    @Test
    void mechanismBuiltWithOfRunsItsBottomHalf() throws Exception {
        Deferral d = Deferrals.of("plugged", b -> b.threadIrqs(false),
                (k, bh) -> Tasklet.setup(k, t -> bh.run()), Tasklet::hiSchedule, Tasklet::kill);
        assertThat(d.name()).isEqualTo("plugged");
        assertThat(runOnce(d)).isEqualTo("softirq");
    }
}
