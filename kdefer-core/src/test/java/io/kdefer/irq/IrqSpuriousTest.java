package io.kdefer.irq;

import io.kdefer.testkit.CollectingErrors;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Spurious-interrupt detection ({@code note_interrupt}, spec §7.11, checklist §10.7 items 147–149).
 * Bursts of interrupts are delivered from the line's {@code cpu/N} in hardirq context, so each
 * raise runs the flow handler at once and the counts are exact.
 */
class IrqSpuriousTest {

    /** Raises {@code irq} {@code n} times on {@code cpu}, each handled before the next. */
    private static void burst(IrqHarness h, int irq, int cpu, int n) {
        h.kernel.smpCallFunctionSingle(cpu, () -> {
            for (int i = 0; i < n; i++) {
                h.irqs.raise(irq);
            }
        }, true);
    }

    /**
     * §10.7 item 147: more than 99,900 unhandled of 100,000 disables the line ("nobody cared"), and
     * a poller calls the handlers of the (shared) line every HZ/10.
     */
    @Test
    void item147_nobodyCaredDisablesTheLineAndPollsIt() throws Exception {
        try (IrqHarness h = new IrqHarness(1, b -> b.hz(100))) {
            AtomicInteger calls = new AtomicInteger();
            AtomicReference<Boolean> polledInSoftirq = new AtomicReference<>();
            h.irqs.requestIrq(11, (irq, dev) -> {
                if (calls.incrementAndGet() > 100_000) {
                    polledInSoftirq.set(h.kernel.inServingSoftirq());
                }
                return IrqReturn.NONE;
            }, "stuck", "dev", IrqFlag.SHARED);
            burst(h, 11, 0, 99_999);
            assertThat(h.irqs.isDisabled(11)).isFalse();
            burst(h, 11, 0, 1);
            assertThat(h.irqs.isDisabled(11)).as("disabled at the 100,000th").isTrue();
            List<CollectingErrors.Report> reports = h.takeErrors();
            assertThat(reports).singleElement().satisfies(r -> assertThat(r.error().getMessage())
                    .contains("irq 11: nobody cared (try booting with the \"irqpoll\" option)")
                    .contains("[stuck]").contains("Disabling IRQ #11"));
            burst(h, 11, 0, 3);
            assertThat(calls).as("a disabled line is not delivered").hasValue(100_000);
            // the poll timer is armed for now + HZ/10; a level-0 wheel timer runs one tick after its
            // expiry jiffy (spec §6.4), so the poll comes at the 11th tick
            h.clock().tick(10);
            assertThat(calls).as("no poll before HZ/10 jiffies").hasValue(100_000);
            h.clock().tick();
            assertThat(calls).as("polled once after HZ/10").hasValue(100_001);
            assertThat(polledInSoftirq.get()).as("the poller runs from a timer").isTrue();
            h.clock().tick(11);
            assertThat(calls).as("and again HZ/10 later").hasValue(100_002);
            // a new sharer re-enables the line and restarts the counts
            h.irqs.requestIrq(11, (irq, dev) -> IrqReturn.HANDLED, "fixed", "dev2", IrqFlag.SHARED);
            assertThat(h.irqs.isDisabled(11)).isFalse();
            h.clock().tick(11);
            assertThat(calls).as("the poller stopped with the line re-enabled").hasValue(100_002);
        }
    }

    /** §10.7 item 147, the boundary: exactly 99,900 unhandled of 100,000 is not "more than 99,900". */
    @Test
    void item147_exactly99900UnhandledIsTolerated() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            IrqReturn[] result = {IrqReturn.NONE};
            h.irqs.requestIrq(12, (irq, dev) -> result[0], "edge", null);
            burst(h, 12, 0, 99_900);
            result[0] = IrqReturn.HANDLED;
            burst(h, 12, 0, 100);
            assertThat(h.irqs.isDisabled(12)).isFalse();
            assertThat(h.irqs.spurious(12)).startsWith("count 0\nunhandled 0\n");
            result[0] = IrqReturn.NONE;
            burst(h, 12, 0, 99_901);
            result[0] = IrqReturn.HANDLED;
            burst(h, 12, 0, 99);
            assertThat(h.irqs.isDisabled(12)).as("99,901 of 100,000").isTrue();
            assertThat(h.takeErrors()).singleElement()
                    .satisfies(r -> assertThat(r.error()).hasMessageContaining("nobody cared"));
        }
    }

    /**
     * §10.7 item 148: an unhandled interrupt more than HZ/10 after the previous one restarts the
     * count at 1, so spaced unhandled interrupts never add up to a disable.
     */
    @Test
    void item148_spacedUnhandledInterruptsNeverDisable() throws Exception {
        try (IrqHarness h = new IrqHarness(1, b -> b.hz(100))) {
            h.irqs.requestIrq(13, (irq, dev) -> IrqReturn.NONE, "noisy", null);
            burst(h, 13, 0, 99_950);
            assertThat(h.irqs.spurious(13)).startsWith("count 99950\nunhandled 99950\n");
            h.clock().tick(10);
            burst(h, 13, 0, 1);
            assertThat(h.irqs.spurious(13)).as("HZ/10 apart is not more than HZ/10: the count goes on")
                    .startsWith("count 99951\nunhandled 99951\n");
            h.clock().tick(11);
            burst(h, 13, 0, 1);
            assertThat(h.irqs.spurious(13)).as("restarted").startsWith("count 99952\nunhandled 1\n");
            burst(h, 13, 0, 48);   // the window closes at 100,000 with 49 unhandled in it
            assertThat(h.irqs.isDisabled(13)).isFalse();
            assertThat(h.irqs.spurious(13)).startsWith("count 0\nunhandled 0\n");
        }
    }

    /**
     * §10.7 item 149: for a purely threaded line, interrupt k's verdict is whether a thread returned
     * HANDLED since interrupt k-1; the first interrupt only arms the deferral. Each thread run is
     * held until its interrupt's flow handler (and so its verdict) is over: a woken thread may
     * otherwise finish before that verdict is taken and count for it, in the kernel as here.
     */
    @Test
    void item149_threadedVerdictIsDeferredByOneInterrupt() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            IrqReturn[] threadResult = {IrqReturn.NONE};
            Semaphore go = new Semaphore(0);
            h.irqs.requestThreadedIrq(14, null, (irq, dev) -> {
                go.acquireUninterruptibly();
                return threadResult[0];
            }, "thr", null, IrqFlag.ONESHOT);
            Runnable interrupt = () -> {
                h.raiseSync(14, 0);
                go.release();
                h.irqs.synchronizeIrq(14);
            };
            interrupt.run();                     // 1: deferral armed, no verdict; its thread returns NONE
            assertThat(h.irqs.spurious(14)).startsWith("count 0\nunhandled 0\n");
            threadResult[0] = IrqReturn.HANDLED;
            interrupt.run();                     // 2: judges 1 (NONE) -> unhandled 1; its thread returns HANDLED
            assertThat(h.irqs.spurious(14)).startsWith("count 1\nunhandled 1\n");
            threadResult[0] = IrqReturn.NONE;
            interrupt.run();                     // 3: judges 2 (HANDLED) -> unhandled stays 1
            assertThat(h.irqs.spurious(14)).startsWith("count 2\nunhandled 1\n");
            interrupt.run();                     // 4: judges 3 (NONE) -> unhandled 2
            assertThat(h.irqs.spurious(14)).startsWith("count 3\nunhandled 2\n");
        }
    }

    /** A null result is a bogus return value: reported, and not counted either way. */
    @Test
    void bogusReturnValueIsReported() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            h.irqs.requestIrq(15, (irq, dev) -> null, "bogus", null);
            h.raiseSync(15, 0);
            assertThat(h.takeErrors()).singleElement()
                    .satisfies(r -> assertThat(r.error()).hasMessageContaining("irq event 15: bogus return value"));
            assertThat(h.irqs.spurious(15)).startsWith("count 0\nunhandled 0\n");
        }
    }

    /** NO_DEBUG lines are left out of spurious detection. */
    @Test
    void noDebugLineIsNotWatched() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            h.irqs.requestIrq(16, (irq, dev) -> IrqReturn.NONE, "ipi", null, IrqFlag.NO_DEBUG);
            burst(h, 16, 0, 100_000);
            assertThat(h.irqs.isDisabled(16)).isFalse();
            assertThat(h.irqs.spurious(16)).startsWith("count 0\nunhandled 0\n");
        }
    }
}
