package io.kdefer.irq;

import io.kdefer.testkit.Waits;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.timer.KernelTimer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.testkit.Waits.await;
import static org.assertj.core.api.Assertions.assertThat;

/** Forced threading, the {@code threadirqs} boot option (spec §7.10, checklist §10.7 items 150–151). */
class IrqForcedThreadingTest {

    record Seen(String thread, boolean hardirq, boolean softirqDisabled, boolean servingSoftirq) {
    }

    private static Seen seen(IrqHarness h) {
        return new Seen(Thread.currentThread().getName(), h.kernel.inHardirq(),
                h.kernel.inSoftirq() && !h.kernel.inServingSoftirq(), h.kernel.inServingSoftirq());
    }

    /**
     * §10.7 item 150: a plain request_irq handler runs in irq/N-name with bottom halves disabled,
     * and the line behaves as ONESHOT (masked until the handler returns).
     */
    @Test
    void item150_plainHandlerRunsInThreadWithBhDisabledAsOneshot() throws Exception {
        try (IrqHarness h = new IrqHarness(1, b -> b.threadIrqs(true))) {
            AtomicReference<Seen> where = new AtomicReference<>();
            AtomicInteger calls = new AtomicInteger();
            CountDownLatch in = new CountDownLatch(1);
            CountDownLatch go = new CountDownLatch(1);
            h.irqs.requestIrq(5, (irq, dev) -> {
                where.set(seen(h));
                if (calls.incrementAndGet() == 1) {
                    in.countDown();
                    await(go, "release");
                }
                return IrqReturn.HANDLED;
            }, "eth", null);
            h.irqs.raise(5);
            await(in, "forced-threaded handler");
            assertThat(where.get()).isEqualTo(new Seen("irq/5-eth", false, true, false));
            assertThat(h.irqs.isMasked(5)).as("ONESHOT: masked while the threaded primary runs").isTrue();
            h.raiseSync(5, 0);
            assertThat(calls).hasValue(1);
            go.countDown();
            Waits.spinUntil(() -> calls.get() == 2, "held interrupt after unmask");
            h.irqs.synchronizeIrq(5);
            assertThat(h.irqs.isMasked(5)).isFalse();
            assertThat(h.kernel.threadIrqs()).isTrue();
        }
    }

    /** §10.7 item 151: with handler and thread_fn, the thread_fn runs in irq/N-s-name, woken by the primary. */
    @Test
    void item151_secondaryThreadRunsOriginalThreadFunction() throws Exception {
        try (IrqHarness h = new IrqHarness(1, b -> b.threadIrqs(true))) {
            AtomicReference<Seen> primary = new AtomicReference<>();
            AtomicReference<Seen> secondary = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(1);
            h.irqs.requestThreadedIrq(6, (irq, dev) -> {
                primary.set(seen(h));
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                secondary.set(seen(h));
                done.countDown();
                return IrqReturn.HANDLED;
            }, "spi", null);
            h.irqs.raise(6);
            await(done, "secondary thread");
            assertThat(primary.get()).isEqualTo(new Seen("irq/6-spi", false, true, false));
            assertThat(secondary.get()).isEqualTo(new Seen("irq/6-s-spi", false, false, false));
        }
    }

    /**
     * NO_THREAD keeps a handler in hardirq context; softirqs it raises are not run on irq exit but
     * by ksoftirqd/N; timer softirqs run in ktimers/N. Spec §10.1 item 16.
     */
    @Test
    void noThreadHandlerStaysHardirqAndSoftirqsGoToDaemons() throws Exception {
        try (IrqHarness h = new IrqHarness(1, b -> b.threadIrqs(true))) {
            AtomicReference<Seen> hard = new AtomicReference<>();
            AtomicReference<Seen> tasklet = new AtomicReference<>();
            AtomicReference<Seen> timer = new AtomicReference<>();
            CountDownLatch taskletRan = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                tasklet.set(seen(h));
                taskletRan.countDown();
            });
            h.irqs.requestIrq(7, (irq, dev) -> {
                hard.set(seen(h));
                t.schedule();
                return IrqReturn.HANDLED;
            }, "timer-ish", null, IrqFlag.NO_THREAD);
            h.raiseSync(7, 0);
            await(taskletRan, "tasklet");
            assertThat(hard.get()).isEqualTo(new Seen("cpu/0", true, false, false));
            assertThat(tasklet.get().thread()).isEqualTo("ksoftirqd/0");
            KernelTimer timerObj = KernelTimer.setup(h.kernel, self -> timer.set(seen(h)));
            timerObj.mod(h.kernel.jiffies() + 1);
            h.clock().tick(2);   // a level-0 timer runs at the tick after its expiry jiffy (spec §6.4)
            assertThat(timer.get()).as("tick returns after ktimers ran the timer")
                    .isEqualTo(new Seen("ktimers/0", false, false, true));
        }
    }
}
