package io.kdefer.internal;

import io.kdefer.Kernel;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A thread that waits for a CPU's bottom halves ({@code local_bh_disable} from a task, or an
 * interrupt thread under forced threading) gets them at the end of {@code ksoftirqd}'s current
 * batch, even while a self-rescheduling tasklet keeps the daemon busy: the daemon starts no new
 * batch while someone waits. In the kernel the interrupt thread is SCHED_FIFO and preempts
 * {@code ksoftirqd} at that point (spec §2.5; the forced-threading setting of §10.1 item 16 and
 * §10.7 item 150, where the irq thread runs its handler with bottom halves disabled); without the rule the daemon
 * took the word back at once and a waiter could starve for as long as the flood lasted (the lab's
 * softirq-flood measured a threaded handler waiting 0.8 s).
 */
class BhWaiterFirstTest {

    @Test
    void aTaskWaitingInLocalBhDisableGetsTheBottomHalvesAfterAtMostOneMoreBatch(Kernel kernel) {
        Cpu cpu = Secrets.runtime(kernel).cpu(0);
        AtomicBoolean stop = new AtomicBoolean();
        Tasklet flood = Tasklet.setup(kernel, self -> {
            if (!stop.get()) {
                self.schedule();
            }
        });
        AtomicLong batchesAtAcquire = new AtomicLong(-1);
        Worker waiter = null;
        try {
            kernel.runOnCpu(0, flood::schedule);   // from a task: ksoftirqd/0 runs it, batch after batch
            long start = cpu.stat(Cpu.STAT_KSOFTIRQD_BATCHES);
            Waits.spinUntil(() -> cpu.stat(Cpu.STAT_KSOFTIRQD_BATCHES) - start >= 3, "ksoftirqd/0 runs the flood");

            waiter = Worker.start("bh-waiter", () -> kernel.runOnCpu(0, () -> {
                kernel.localBhDisable();
                try {
                    batchesAtAcquire.set(cpu.stat(Cpu.STAT_KSOFTIRQD_BATCHES));
                } finally {
                    kernel.localBhEnable();
                }
                return null;
            }));
            Waits.spinUntil(() -> cpu.bhContended() || batchesAtAcquire.get() >= 0, "the waiter waits for the word");
            long batchesWhileWaiting = cpu.stat(Cpu.STAT_KSOFTIRQD_BATCHES);
            waiter.joinAndCheck();
            waiter = null;

            // the batch running when the waiter arrived may end; no other starts before it is served
            assertThat(batchesAtAcquire.get() - batchesWhileWaiting).isLessThanOrEqualTo(1L);
        } finally {
            stop.set(true);
            if (waiter != null) {
                Worker.joinQuietly(waiter);
            }
        }
    }
}
