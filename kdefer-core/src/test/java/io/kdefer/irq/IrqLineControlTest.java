package io.kdefer.irq;

import io.kdefer.testkit.Waits;
import io.kdefer.testkit.TestKernels;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.testkit.Waits.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

/** Request rules, disable/enable/synchronize and misuse: spec §7.4, §7.8, checklist §10.7. */
class IrqLineControlTest {

    private static IrqHandler counting(AtomicInteger calls) {
        return (irq, dev) -> {
            calls.incrementAndGet();
            return IrqReturn.HANDLED;
        };
    }

    /** §10.7 item 130: a null primary without ONESHOT is refused (-EINVAL). */
    @Test
    void item130_nullPrimaryWithoutOneshotIsInvalid() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> h.irqs.requestThreadedIrq(5, null, (i, d) -> IrqReturn.HANDLED, "s", null))
                    .withMessageContaining("Threaded irq requested with handler=NULL and !ONESHOT for s (irq 5)");
            assertThat(h.irqs.procInterrupts()).doesNotContain("  5:");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> h.irqs.requestThreadedIrq(5, null, null, "s", null, IrqFlag.ONESHOT))
                    .withMessageContaining("both handler and thread_fn are null");
        }
    }

    /** §10.7 item 131: SHARED with a null devId is refused (-EINVAL). */
    @Test
    void item131_sharedWithoutDevIdIsInvalid() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> h.irqs.requestIrq(5, (i, d) -> IrqReturn.HANDLED, "s", null, IrqFlag.SHARED))
                    .withMessageContaining("IRQF_SHARED requires a non-null devId");
        }
    }

    /** §10.7 item 132: mismatched sharing (SHARED missing, ONESHOT or trigger differs) is -EBUSY. */
    @Test
    void item132_sharingMismatchIsBusy() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            IrqHandler any = (i, d) -> IrqReturn.HANDLED;
            h.irqs.requestIrq(1, any, "excl", "e");
            assertThatIllegalStateException()
                    .isThrownBy(() -> h.irqs.requestIrq(1, any, "x", "x", IrqFlag.SHARED))
                    .withMessageContaining("-EBUSY").withMessageContaining("flags mismatch irq 1");
            h.irqs.requestThreadedIrq(2, null, any, "a", "a", IrqFlag.SHARED, IrqFlag.ONESHOT);
            assertThatIllegalStateException()
                    .isThrownBy(() -> h.irqs.requestThreadedIrq(2, any, any, "b", "b", IrqFlag.SHARED))
                    .withMessageContaining("-EBUSY");
            h.irqs.requestIrq(3, any, "r", "r", IrqFlag.SHARED, IrqFlag.TRIGGER_RISING);
            assertThatIllegalStateException()
                    .isThrownBy(() -> h.irqs.requestIrq(3, any, "f", "f", IrqFlag.SHARED, IrqFlag.TRIGGER_FALLING))
                    .withMessageContaining("-EBUSY");
            // agreeing sharers are accepted, and COND_ONESHOT joins an ONESHOT line
            h.irqs.requestThreadedIrq(2, any, any, "c", "c", IrqFlag.SHARED, IrqFlag.COND_ONESHOT);
            h.irqs.requestIrq(3, any, "r2", "r2", IrqFlag.SHARED, IrqFlag.TRIGGER_RISING);
            assertThat(h.irqs.procInterrupts()).contains("a, c").contains("r, r2");
        }
    }

    /** §10.7 item 139: disable nests; the handler runs again only after the last enable. */
    @Test
    void item139_disableNests() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestIrq(4, counting(calls), "n", null);
            h.irqs.disableIrq(4);
            h.irqs.disableIrq(4);
            h.irqs.enableIrq(4);
            assertThat(h.irqs.isDisabled(4)).isTrue();
            h.raiseSync(4, 0);
            assertThat(calls).hasValue(0);
            h.irqs.enableIrq(4);
            h.irqs.synchronizeIrq(4);
            Waits.spinUntil(() -> calls.get() == 1, "held interrupt delivered on the last enable");
            assertThat(h.irqs.isDisabled(4)).isFalse();
        }
    }

    /** §10.7 item 140: enable of an enabled line is "Unbalanced enable" and changes nothing. */
    @Test
    void item140_unbalancedEnableThrows() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestIrq(4, counting(calls), "n", null);
            assertThatIllegalStateException().isThrownBy(() -> h.irqs.enableIrq(4))
                    .withMessageContaining("Unbalanced enable for IRQ 4");
            h.irqs.disableIrq(4);
            assertThat(h.irqs.isDisabled(4)).as("one disable still disables: depth was unchanged").isTrue();
        }
    }

    /** §10.7 item 140 in faithful mode: the kernel's warning is reported, nothing changes. */
    @Test
    void item140_unbalancedEnableWarnsInFaithfulMode() throws Exception {
        try (IrqHarness h = new IrqHarness(1, b -> b.faithful(true))) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestIrq(4, counting(calls), "n", null);
            h.irqs.enableIrq(4);
            assertThat(h.takeErrors()).singleElement()
                    .satisfies(r -> assertThat(r.error()).hasMessageContaining("Unbalanced enable for IRQ 4"));
            h.irqs.disableIrq(4);
            assertThat(h.irqs.isDisabled(4)).isTrue();
            h.irqs.enableIrq(4);
            h.raiseSync(4, 0);
            assertThat(calls).hasValue(1);
        }
    }

    /** §10.7 item 141: any number of raises while disabled are delivered once on enable. */
    @Test
    void item141_raisesWhileDisabledDeliveredOnce() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestIrq(4, counting(calls), "n", null);
            h.irqs.disableIrqNosync(4);
            for (int i = 0; i < 5; i++) {
                h.raiseSync(4, 0);
            }
            assertThat(calls).hasValue(0);
            h.irqs.enableIrq(4);
            Waits.spinUntil(() -> calls.get() == 1, "replay on enable");
            h.raiseSync(4, 0);   // cpu/0 has taken the replay before this one: a later raise is a new one
            assertThat(calls).hasValue(2);
            assertThat(h.irqs.count(4, 0)).isEqualTo(2);
        }
    }

    /**
     * §10.7 item 142: disable_irq returns only after the running hard handler and thread function
     * finished; disable_irq_nosync returns at once.
     */
    @Test
    void item142_disableWaitsForRunningHandlersNosyncDoesNot() throws Exception {
        try (IrqHarness h = new IrqHarness(2)) {
            CountDownLatch hardIn = new CountDownLatch(1);
            CountDownLatch hardGo = new CountDownLatch(1);
            CountDownLatch threadIn = new CountDownLatch(1);
            CountDownLatch threadGo = new CountDownLatch(1);
            AtomicBoolean hardDone = new AtomicBoolean();
            AtomicBoolean threadDone = new AtomicBoolean();
            h.irqs.requestThreadedIrq(0, (irq, dev) -> {
                hardIn.countDown();
                await(hardGo, "release hard handler");
                hardDone.set(true);
                return IrqReturn.WAKE_THREAD;
            }, (irq, dev) -> {
                threadIn.countDown();
                await(threadGo, "release thread");
                threadDone.set(true);
                return IrqReturn.HANDLED;
            }, "slow", null);
            h.irqs.raise(0);
            await(hardIn, "hard handler running on cpu/0");
            h.irqs.disableIrqNosync(0);   // returns although the hard handler runs
            assertThat(hardDone).isFalse();
            AtomicBoolean disabled = new AtomicBoolean();
            AtomicBoolean bothDoneAtReturn = new AtomicBoolean();
            Thread disabler = h.fork("disabler", () -> {
                h.irqs.disableIrq(0);
                bothDoneAtReturn.set(hardDone.get() && threadDone.get());
                disabled.set(true);
            });
            Waits.awaitBlocked(disabler);
            hardGo.countDown();
            await(threadIn, "thread running");
            Waits.awaitBlocked(disabler);
            assertThat(disabled).as("disable_irq still waits for the thread function").isFalse();
            threadGo.countDown();
            Waits.join(disabler);
            assertThat(disabled).isTrue();
            assertThat(bothDoneAtReturn).as("hard handler and thread function had finished").isTrue();
            h.irqs.enableIrq(0);
            h.irqs.enableIrq(0);
        }
    }

    /** §10.7 item 143: synchronize_irq waits for an in-progress thread function. */
    @Test
    void item143_synchronizeWaitsForThreadFunction() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            CountDownLatch in = new CountDownLatch(1);
            CountDownLatch go = new CountDownLatch(1);
            AtomicBoolean done = new AtomicBoolean();
            h.irqs.requestThreadedIrq(2, null, (irq, dev) -> {
                in.countDown();
                await(go, "release");
                done.set(true);
                return IrqReturn.HANDLED;
            }, "t", null, IrqFlag.ONESHOT);
            h.raiseSync(2, 0);
            await(in, "thread function running");
            AtomicBoolean synced = new AtomicBoolean();
            Thread syncer = h.fork("syncer", () -> {
                h.irqs.synchronizeIrq(2);
                synced.set(done.get());
            });
            Waits.awaitBlocked(syncer);
            go.countDown();
            Waits.join(syncer);
            assertThat(synced).as("synchronize_irq returned after the thread function finished").isTrue();
        }
    }

    /** NO_AUTOEN: the line starts disabled; an interrupt meanwhile is delivered on enable. */
    @Test
    void noAutoenStartsDisabled() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger calls = new AtomicInteger();
            h.irqs.requestIrq(4, counting(calls), "late", null, IrqFlag.NO_AUTOEN);
            assertThat(h.irqs.isDisabled(4)).isTrue();
            h.raiseSync(4, 0);
            assertThat(calls).hasValue(0);
            h.irqs.enableIrq(4);
            Waits.spinUntil(() -> calls.get() == 1, "replay");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> h.irqs.requestIrq(6, counting(calls), "x", "x", IrqFlag.SHARED, IrqFlag.NO_AUTOEN));
        }
    }

    /** Calls that sleep are refused in atomic context; waits on a line from its own thread are refused. */
    @Test
    void sleepingCallsRefusedInAtomicContextAndFromOwnThread() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            java.util.List<Throwable> caught = new java.util.concurrent.CopyOnWriteArrayList<>();
            Object dev = new Object();
            h.irqs.requestThreadedIrq(3, (irq, d) -> {
                for (Runnable r : new Runnable[] {
                        () -> h.irqs.disableIrq(3), () -> h.irqs.synchronizeIrq(3), () -> h.irqs.freeIrq(3, dev),
                        () -> h.irqs.requestIrq(9, (i, x) -> IrqReturn.HANDLED, "x", null)}) {
                    try {
                        r.run();
                    } catch (IllegalStateException e) {
                        caught.add(e);
                    }
                }
                return IrqReturn.WAKE_THREAD;
            }, (irq, d) -> {
                for (Runnable r : new Runnable[] {() -> h.irqs.disableIrq(3), () -> h.irqs.synchronizeIrq(3),
                        () -> h.irqs.freeIrq(3, dev)}) {
                    try {
                        r.run();
                    } catch (IllegalStateException e) {
                        caught.add(e);
                    }
                }
                return IrqReturn.HANDLED;
            }, "self", dev);
            h.raiseSync(3, 0);
            h.irqs.synchronizeIrq(3);
            assertThat(caught).extracting(Throwable::getMessage).satisfiesExactly(
                    m -> assertThat(m).contains("disable_irq(3) sleeps: not allowed in atomic context"),
                    m -> assertThat(m).contains("synchronize_irq(3) sleeps"),
                    m -> assertThat(m).contains("Trying to free IRQ 3 from IRQ context"),
                    m -> assertThat(m).contains("request_threaded_irq(9, 'x') sleeps"),
                    m -> assertThat(m).contains("disable_irq(3) called from the line's own thread irq/3-self"),
                    m -> assertThat(m).contains("synchronize_irq(3) called from the line's own thread"),
                    m -> assertThat(m).contains("free_irq(3) called from the action's own thread"));
            assertThat(h.irqs.isDisabled(3)).as("the refused disable_irq changed nothing").isFalse();
        }
    }

    /** Bad line numbers, freeing what is not there, enabling a line without handler. */
    @Test
    void badArgumentsAreRefused() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            IrqHandler any = (i, d) -> IrqReturn.HANDLED;
            assertThatIllegalArgumentException().isThrownBy(() -> h.irqs.raise(Irqs.NR_IRQS))
                    .withMessageContaining("irq " + Irqs.NR_IRQS + " does not exist");
            assertThatIllegalArgumentException().isThrownBy(() -> h.irqs.requestIrq(-1, any, "n", null));
            assertThatIllegalStateException().isThrownBy(() -> h.irqs.freeIrq(3, "nobody"))
                    .withMessageContaining("Trying to free already-free IRQ 3");
            assertThatIllegalStateException().isThrownBy(() -> h.irqs.enableIrq(3))
                    .withMessageContaining("before request_irq");
            assertThatIllegalArgumentException().isThrownBy(() -> h.irqs.setAffinity(3, 1))
                    .withMessageContaining("cpu 1 does not exist");
        }
    }

    /** irq_wake_thread wakes the action's thread as if its primary had returned WAKE_THREAD. */
    @Test
    void irqWakeThreadWakesTheActionsThread() throws Exception {
        try (IrqHarness h = new IrqHarness(1)) {
            AtomicInteger runs = new AtomicInteger();
            Object dev = new Object();
            h.irqs.requestThreadedIrq(2, (i, d) -> IrqReturn.HANDLED, (i, d) -> {
                runs.incrementAndGet();
                return IrqReturn.HANDLED;
            }, "w", dev);
            h.irqs.irqWakeThread(2, dev);
            h.irqs.synchronizeIrq(2);
            assertThat(runs).hasValue(1);
        }
    }
}
