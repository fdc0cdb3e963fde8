package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitWaiting;
import static io.kdefer.testkit.Waits.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The old-style bottom halves ({@link BottomHalves}) against spec §10.8 items 152–154 and §8.1:
 * marking, the 32 slots, global serialisation across CPUs (including the lock-busy re-mark of
 * 2.4's {@code bh_action}), nested disabling, removal, and misuse.
 *
 * <p>Runs are placed with hardirqs ({@code smpCallFunctionSingle} with wait: the HI softirq of
 * that irq exit has run when it returns) or with a bottom-half-disabled section on the test
 * thread (the softirqs it raised run at its outermost enable). The clock never moves.
 */
class BottomHalvesTest {

    /** §10.8 item 152: mark_bh is idempotent until the handler runs; the handler runs once per marking. */
    @Test
    void markIsIdempotentAndTheHandlerRunsOnce(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        AtomicInteger runs = new AtomicInteger();
        List<Boolean> context = new ArrayList<>();
        bh.init(BottomHalves.SERIAL_BH, () -> {
            runs.incrementAndGet();
            context.add(kernel.inServingSoftirq());
        });
        kernel.localBhDisable();
        boolean first;
        boolean second;
        try {
            first = bh.mark(BottomHalves.SERIAL_BH);
            second = bh.mark(BottomHalves.SERIAL_BH);
            assertThat(bh.isMarked(BottomHalves.SERIAL_BH)).isTrue();
            assertThat(runs).hasValue(0);
        } finally {
            kernel.localBhEnable();   // runs HI here, on this thread
        }
        assertThat(first).isTrue();
        assertThat(second).isFalse();
        assertThat(runs).hasValue(1);
        assertThat(context).containsExactly(true);
        assertThat(bh.isMarked(BottomHalves.SERIAL_BH)).isFalse();

        kernel.smpCallFunctionSingle(1, () -> bh.mark(BottomHalves.SERIAL_BH), true);
        assertThat(runs).hasValue(2);
        assertThat(bh.runs()).isEqualTo(2);
    }

    /** §10.8 item 152: at most 32 slots; numbers outside 0..31 are refused by every operation. */
    @Test
    void thereAreThirtyTwoSlots(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        assertThat(BottomHalves.NR_BH).isEqualTo(32);
        AtomicInteger runs = new AtomicInteger();
        bh.init(31, runs::incrementAndGet);
        kernel.smpCallFunctionSingle(0, () -> bh.mark(31), true);
        assertThat(runs).hasValue(1);
        for (int nr : new int[] {-1, 32}) {
            assertThatThrownBy(() -> bh.init(nr, () -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("init_bh(" + nr + ")").hasMessageContaining("0..31");
            assertThatThrownBy(() -> bh.mark(nr)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("mark_bh(" + nr + ")");
            assertThatThrownBy(() -> bh.disable(nr)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> bh.enable(nr)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> bh.remove(nr)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** §8.1: the 2.4 slot numbers, and the slots kdefer keeps for itself. */
    @Test
    void slotNumbersFollowLinux24AndKdeferOwnsThree(Kernel kernel) {
        assertThat(BottomHalves.TIMER_BH).isZero();
        assertThat(BottomHalves.TQUEUE_BH).isEqualTo(1);
        assertThat(BottomHalves.SCSI_BH).isEqualTo(8);
        assertThat(BottomHalves.IMMEDIATE_BH).isEqualTo(9);
        assertThat(BottomHalves.ISICOM_BH).isEqualTo(14);
        BottomHalves bh = kernel.bottomHalves();
        for (int nr : new int[] {BottomHalves.TIMER_BH, BottomHalves.TQUEUE_BH, BottomHalves.IMMEDIATE_BH}) {
            assertThatThrownBy(() -> bh.init(nr, () -> { })).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("belongs to kdefer");
            assertThatThrownBy(() -> bh.remove(nr)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("belongs to kdefer");
        }
        assertThat(bh.isInstalled(BottomHalves.TQUEUE_BH)).isTrue();
        assertThat(bh.isInstalled(BottomHalves.IMMEDIATE_BH)).isTrue();
        assertThatThrownBy(() -> bh.mark(BottomHalves.TIMER_BH)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("mark_bh(0)").hasMessageContaining("TIMER_SOFTIRQ");
    }

    /** Misuse: marking an empty slot, installing twice, removing an empty slot, unbalanced enable. */
    @Test
    void misuseIsRefusedWithTheRule(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        assertThatThrownBy(() -> bh.mark(BottomHalves.DIGI_BH)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("mark_bh(2)").hasMessageContaining("no handler");
        bh.init(BottomHalves.DIGI_BH, () -> { });
        assertThatThrownBy(() -> bh.init(BottomHalves.DIGI_BH, () -> { }))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has a handler");
        assertThatThrownBy(() -> bh.remove(BottomHalves.ESP_BH)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("remove_bh(7)").hasMessageContaining("no handler");
        assertThatThrownBy(() -> bh.enable(BottomHalves.DIGI_BH)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("enable_bh(2) without a matching disable_bh");
        kernel.smpCallFunctionSingle(0, () -> assertThatThrownBy(() -> bh.remove(BottomHalves.DIGI_BH))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("interrupt context"), true);
    }

    /**
     * §10.8 item 153: while one CPU runs a bottom half, another CPU's bottom half finds the global
     * lock busy, re-marks itself, and runs only once the first has finished.
     */
    @Test
    void aBusyGlobalLockReMarksAndTheBottomHalfRunsLater(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        CountDownLatch inA = new CountDownLatch(1);
        CountDownLatch releaseA = new CountDownLatch(1);
        AtomicInteger active = new AtomicInteger();
        AtomicInteger overlap = new AtomicInteger();
        AtomicInteger bRuns = new AtomicInteger();
        List<Integer> bCpu = new ArrayList<>();
        bh.init(BottomHalves.DIGI_BH, () -> {
            if (active.incrementAndGet() > 1) {
                overlap.incrementAndGet();
            }
            inA.countDown();
            await(releaseA);
            active.decrementAndGet();
        });
        bh.init(BottomHalves.SCSI_BH, () -> {
            if (active.incrementAndGet() > 1) {
                overlap.incrementAndGet();
            }
            bCpu.add(kernel.smpProcessorId());
            bRuns.incrementAndGet();
            active.decrementAndGet();
        });
        kernel.smpCallFunctionSingle(0, () -> bh.mark(BottomHalves.DIGI_BH), false);
        await(inA);
        assertThat(bh.runningOn()).isZero();
        kernel.smpCallFunctionSingle(1, () -> bh.mark(BottomHalves.SCSI_BH), false);
        spinUntil(() -> bh.retries() >= 3, "SCSI_BH re-marked itself on cpu 1 while DIGI_BH held the lock");
        assertThat(bRuns).hasValue(0);
        releaseA.countDown();
        spinUntil(() -> bRuns.get() == 1, "SCSI_BH ran once the lock was free");
        assertThat(bCpu).containsExactly(1);
        assertThat(overlap).hasValue(0);
        spinUntil(() -> bh.runningOn() == -1, "the global lock released");
    }

    /**
     * §10.8 item 153: CPUs marking different bottom halves at the same time never run two of them
     * at once; every marking that took is served.
     */
    @Test
    @KdeferTest(cpus = 4)
    void noTwoBottomHalvesRunAtOnceOnAnyCpus(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        int rounds = 300;
        AtomicInteger active = new AtomicInteger();
        AtomicInteger overlap = new AtomicInteger();
        AtomicInteger[] runs = new AtomicInteger[4];
        int[] slots = {BottomHalves.DIGI_BH, BottomHalves.SERIAL_BH, BottomHalves.RISCOM8_BH, BottomHalves.SCSI_BH};
        for (int i = 0; i < 4; i++) {
            AtomicInteger r = new AtomicInteger();
            runs[i] = r;
            bh.init(slots[i], () -> {
                if (active.incrementAndGet() > 1) {
                    overlap.incrementAndGet();
                }
                for (int k = 0; k < 200; k++) {
                    Thread.onSpinWait();   // widen the window a second CPU would need
                }
                r.incrementAndGet();
                active.decrementAndGet();
            });
        }
        CyclicBarrier start = new CyclicBarrier(4);
        List<Worker> workers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            final int cpu = i;
            workers.add(Worker.start("marker-" + cpu, () -> {
                await(start);
                for (int k = 0; k < rounds; k++) {
                    // one marking per round: wait until the previous one has run
                    final int done = k;
                    spinUntil(() -> runs[cpu].get() == done, "round " + done + " of cpu " + cpu);
                    kernel.smpCallFunctionSingle(cpu, () -> bh.mark(slots[cpu]), false);
                }
            }));
        }
        for (Worker w : workers) {
            w.joinAndCheck();
        }
        for (int i = 0; i < 4; i++) {
            final int cpu = i;
            spinUntil(() -> runs[cpu].get() == rounds, "every marking of cpu " + cpu + " ran");
        }
        assertThat(overlap).hasValue(0);
    }

    /** §10.8 item 154: disable_bh nests; a bottom half marked while disabled runs after the last enable. */
    @Test
    void disableNestsAndAMarkedBottomHalfRunsAfterTheLastEnable(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        AtomicInteger runs = new AtomicInteger();
        bh.init(BottomHalves.CYCLADES_BH, runs::incrementAndGet);
        bh.disable(BottomHalves.CYCLADES_BH);
        bh.disable(BottomHalves.CYCLADES_BH);
        assertThat(bh.disableCount(BottomHalves.CYCLADES_BH)).isEqualTo(2);
        kernel.smpCallFunctionSingle(0, () -> assertThat(bh.mark(BottomHalves.CYCLADES_BH)).isTrue(), true);
        assertThat(runs).hasValue(0);   // HI ran on that irq exit and kept it, disabled
        assertThat(bh.isMarked(BottomHalves.CYCLADES_BH)).isTrue();

        bh.enable(BottomHalves.CYCLADES_BH);
        kernel.smpCallFunctionSingle(0, () -> kernel.softirqs().raise(SoftirqVector.HI), true);
        assertThat(runs).hasValue(0);   // one enable of two: still disabled
        assertThat(bh.isMarked(BottomHalves.CYCLADES_BH)).isTrue();

        bh.enable(BottomHalves.CYCLADES_BH);
        kernel.smpCallFunctionSingle(0, () -> kernel.softirqs().raise(SoftirqVector.HI), true);
        spinUntil(() -> runs.get() == 1, "CYCLADES_BH ran after the last enable");
        assertThat(bh.disableCount(BottomHalves.CYCLADES_BH)).isZero();
        assertThat(bh.isMarked(BottomHalves.CYCLADES_BH)).isFalse();
    }

    /** remove_bh waits for a running handler (synchronize_bh), and the slot is free afterwards. */
    @Test
    void removeWaitsForTheRunningHandler(Kernel kernel) {
        BottomHalves bh = kernel.bottomHalves();
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        bh.init(BottomHalves.JS_BH, () -> {
            in.countDown();
            await(release);
        });
        kernel.smpCallFunctionSingle(1, () -> bh.mark(BottomHalves.JS_BH), false);
        await(in);
        Worker remover = Worker.start("remover", () -> bh.remove(BottomHalves.JS_BH));
        awaitWaiting(remover);
        assertThat(remover.isAlive()).isTrue();
        release.countDown();
        remover.joinAndCheck();
        assertThat(bh.isInstalled(BottomHalves.JS_BH)).isFalse();
        bh.init(BottomHalves.JS_BH, () -> { });   // free again
    }

    /** A handler that throws is reported; the global lock is released and the next bottom half runs. */
    @Test
    void aThrowingHandlerIsReportedAndReleasesTheLock(Kernel kernel, io.kdefer.testkit.CollectingErrors errors) {
        BottomHalves bh = kernel.bottomHalves();
        AtomicInteger runs = new AtomicInteger();
        bh.init(BottomHalves.AURORA_BH, () -> {
            throw new IllegalStateException("boom");
        });
        bh.init(BottomHalves.ESP_BH, runs::incrementAndGet);
        kernel.smpCallFunctionSingle(0, () -> bh.mark(BottomHalves.AURORA_BH), true);
        kernel.smpCallFunctionSingle(1, () -> bh.mark(BottomHalves.ESP_BH), true);
        assertThat(runs).hasValue(1);
        assertThat(bh.runningOn()).isEqualTo(-1);
        assertThat(errors.take()).singleElement().satisfies(r -> {
            assertThat(r.source().toString()).contains("bottom half 6");
            assertThat(r.error()).hasMessage("boom");
        });
    }
}
