package io.kdefer.timer;

import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import io.kdefer.Kernel;
import io.kdefer.KernelStats;
import io.kdefer.ManualClock;
import io.kdefer.internal.WaitQueue;
import io.kdefer.softirq.SoftirqVector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.testkit.Waits.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelTimer}: arming, re-arming, deleting and shutting down timers, the context their
 * callbacks run in, and waiting for a running callback, under a {@link ManualClock} (each tick
 * advances jiffies by one and returns after the TIMER softirq it raised has run).
 */
class KernelTimerTest {
    private ManualClock clock;
    private Kernel k;
    private final ConcurrentLinkedQueue<Object[]> errors = new ConcurrentLinkedQueue<>();
    /** Latches that hold a callback; released at the end even when an assertion failed first. */
    private final List<CountDownLatch> releases = new ArrayList<>();
    private final List<Worker> workers = new ArrayList<>();

    @BeforeEach
    void start() {
        clock = new ManualClock();
        k = TestKernels.track(Kernel.builder().cpus(2).hz(1000).clock(clock)
                .errorHandler((source, error) -> errors.add(new Object[] {source, error}))
                .build());
    }

    @AfterEach
    void close() throws InterruptedException {
        try {
            releases.forEach(CountDownLatch::countDown);
            for (Worker w : workers) {
                Worker.joinQuietly(w);
            }
        } finally {
            k.close();
        }
    }

    // ---------------------------------------------------------------- helpers

    private <T> T on(int cpu, Callable<T> fn) {
        return k.runOnCpu(cpu, fn);
    }

    private void tickUntil(long jiffies) {
        while (k.jiffies() - jiffies < 0) {
            clock.tick();
        }
    }

    /** A timer that records the jiffy of each run. */
    private KernelTimer recording(int cpu, List<Long> runs, TimerFlag... flags) {
        return on(cpu, () -> KernelTimer.setup(k, t -> runs.add(k.jiffies()), flags));
    }

    private CountDownLatch latch() {
        CountDownLatch l = new CountDownLatch(1);
        releases.add(l);
        return l;
    }

    private Worker start(String name, Worker.Body body) {
        Worker w = Worker.start(name, body);
        workers.add(w);
        return w;
    }

    private static List<Long> syncList() {
        return Collections.synchronizedList(new ArrayList<>());
    }

    /** Spins until {@code t} is parked on a kdefer wait queue (e.g. in deleteSync). */
    static void awaitWaitingOnWaitQueue(Thread t) {
        Waits.awaitParkedOn(t, WaitQueue.class::isInstance);
        assertThat(t.isAlive()).as(t.getName() + " alive").isTrue();
    }

    // ---------------------------------------------------------------- arming

    /**
     * {@code mod()} of a new timer returns false (it was inactive); the callback runs once, in
     * TIMER softirq context ({@code in_serving_softirq}, not hardirq, not task) on {@code cpu/1},
     * the CPU that armed the pinned timer, at {@code expires + 1}. Spec §6.5, §6.7; §10 item 109.
     */
    @Test
    void modOfAnInactiveTimerReturnsFalseAndRunsOnceInTimerSoftirqOnTheArmingCpu() {
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<String> seen = new AtomicReference<>();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            runs.incrementAndGet();
            seen.set(Thread.currentThread().getName() + " cpu=" + k.smpProcessorId()
                    + " serving=" + k.inServingSoftirq() + " hardirq=" + k.inHardirq() + " task=" + k.inTask()
                    + " timerSoftirqs=" + k.softirqs().count(1, SoftirqVector.TIMER)
                    + " pending=" + self.isPending() + " at=" + (k.jiffies() - j));
        }, TimerFlag.PINNED));
        assertThat(t.flags()).containsExactly(TimerFlag.PINNED);
        assertThat(t.isPending()).isFalse();
        assertThat(on(1, () -> t.mod(j + 3))).isFalse();
        assertThat(t.isPending()).isTrue();
        assertThat(t.expires()).isEqualTo(j + 3);
        assertThat(t.cpu()).isEqualTo(1);
        clock.tick(50);
        assertThat(runs).hasValue(1);
        assertThat(seen.get()).isEqualTo("cpu/1 cpu=1 serving=true hardirq=false task=false timerSoftirqs=1"
                + " pending=false at=4");
        assertThat(t.isPending()).isFalse();
        assertThat(k.softirqs().count(0, SoftirqVector.TIMER)).isZero();
    }

    /**
     * {@code mod()} of a pending timer returns true, and the timer fires at the new expiry only,
     * whether that is later or earlier than the old one. Spec §6.5; §10 item 110.
     */
    @Test
    void modOfAPendingTimerReturnsTrueAndFiresOnlyAtTheNewExpiry() {
        List<Long> later = syncList();
        List<Long> earlier = syncList();
        long j = k.jiffies();
        KernelTimer a = recording(0, later);
        KernelTimer b = recording(0, earlier);
        on(0, () -> a.mod(j + 10));
        on(0, () -> b.mod(j + 30));
        assertThat(on(0, () -> a.mod(j + 30))).isTrue();
        assertThat(on(0, () -> b.mod(j + 5))).isTrue();
        assertThat(a.expires()).isEqualTo(j + 30);
        tickUntil(j + 60);
        assertThat(later).containsExactly(j + 31);
        assertThat(earlier).containsExactly(j + 6);
    }

    /**
     * {@code mod()} with the expiry the pending timer already has returns true and leaves it where
     * it is: two timers of one bucket still run most recently armed first, as if nothing happened
     * (a re-queue would have put the modified one at the head). Spec §6.5; §10 item 111.
     */
    @Test
    void modWithTheSameExpiryReturnsTrueWithoutRequeueing() {
        ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
        long j = k.jiffies();
        KernelTimer a = on(0, () -> KernelTimer.setup(k, t -> order.add("a@" + (k.jiffies() - j))));
        KernelTimer b = on(0, () -> KernelTimer.setup(k, t -> order.add("b@" + (k.jiffies() - j))));
        on(0, () -> a.mod(j + 20));
        on(0, () -> b.mod(j + 20));
        assertThat(on(0, () -> a.mod(j + 20))).isTrue();
        assertThat(on(1, () -> a.mod(j + 20))).as("from another CPU too: nothing moves").isTrue();
        assertThat(a.cpu()).isZero();
        tickUntil(j + 30);
        assertThat(order).containsExactly("b@21", "a@21");
    }

    /**
     * {@code mod()} to a different expiry that maps to the same level-1 bucket returns true,
     * stores the new {@code expires}, keeps the timer's place in the bucket, and the timer fires
     * at the bucket's expiry. Spec §6.5; §10 item 112.
     */
    @Test
    void modToAnotherExpiryInTheSameBucketOnlyUpdatesExpires() {
        ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
        long j = k.jiffies();
        long bucket = (((j + 100) >> 3) + 1) << 3;     // level 1: 8-jiffy granule
        KernelTimer a = on(0, () -> KernelTimer.setup(k, t -> order.add("a@" + (k.jiffies() - bucket))));
        KernelTimer b = on(0, () -> KernelTimer.setup(k, t -> order.add("b@" + (k.jiffies() - bucket))));
        on(0, () -> a.mod(bucket - 8));
        on(0, () -> b.mod(bucket - 3));
        assertThat(on(0, () -> a.mod(bucket - 1))).isTrue();
        assertThat(a.expires()).isEqualTo(bucket - 1);
        assertThat(a.isPending()).isTrue();
        tickUntil(bucket - 1);
        assertThat(order).isEmpty();
        clock.tick();
        assertThat(order).containsExactly("b@0", "a@0");
    }

    /**
     * {@code modPending()} of an inactive timer returns false and does not start it; of a pending
     * one it returns true and re-times it. Spec §6.5; §10 item 113.
     */
    @Test
    void modPendingNeverStartsAnInactiveTimer() {
        List<Long> runs = syncList();
        long j = k.jiffies();
        KernelTimer t = recording(0, runs);
        assertThat(on(0, () -> t.modPending(j + 5))).isFalse();
        assertThat(t.isPending()).isFalse();
        tickUntil(j + 80);
        assertThat(runs).isEmpty();

        long j2 = k.jiffies();
        on(0, () -> t.mod(j2 + 5));
        assertThat(on(0, () -> t.modPending(j2 + 9))).isTrue();
        tickUntil(j2 + 40);
        assertThat(runs).containsExactly(j2 + 10);
    }

    /**
     * {@code reduce()} moves a pending timer earlier and never later (returning true either way),
     * and starts an inactive one (returning false). Spec §6.5; §10 item 114.
     */
    @Test
    void reduceMovesEarlierButNeverLater() {
        List<Long> kept = syncList();
        List<Long> moved = syncList();
        List<Long> started = syncList();
        long j = k.jiffies();
        KernelTimer a = recording(0, kept);
        KernelTimer b = recording(0, moved);
        KernelTimer c = recording(0, started);
        on(0, () -> a.mod(j + 20));
        on(0, () -> b.mod(j + 20));
        assertThat(on(0, () -> a.reduce(j + 40))).isTrue();
        assertThat(on(0, () -> a.reduce(j + 20))).isTrue();
        assertThat(a.expires()).isEqualTo(j + 20);
        assertThat(on(0, () -> b.reduce(j + 7))).isTrue();
        assertThat(b.expires()).isEqualTo(j + 7);
        assertThat(on(0, () -> c.reduce(j + 12))).isFalse();
        tickUntil(j + 60);
        assertThat(kept).containsExactly(j + 21);
        assertThat(moved).containsExactly(j + 8);
        assertThat(started).containsExactly(j + 13);
    }

    /**
     * A level-0 timer with {@code expires = E} is still pending and has not run at the tick where
     * jiffies reach E; it runs at the tick where they reach E + 1. Spec §6.4; §10 item 116.
     */
    @Test
    void neverFiresBeforeItsExpiry() {
        List<Long> runs = syncList();
        long j = k.jiffies();
        KernelTimer t = recording(1, runs);
        on(1, () -> t.mod(j + 40));
        tickUntil(j + 40);
        assertThat(runs).isEmpty();
        assertThat(t.isPending()).isTrue();
        clock.tick();
        assertThat(runs).containsExactly(j + 41);
    }

    /**
     * A timer armed with an expiry in the past (by {@code mod} or {@code add}), or equal to the
     * current jiffy, runs at the next tick. Spec §6.3, §6.5; §10 item 118.
     */
    @Test
    void pastExpiryFiresAtTheNextTick() {
        clock.tick(10);
        List<Long> a = syncList();
        List<Long> b = syncList();
        List<Long> c = syncList();
        long j = k.jiffies();
        KernelTimer ta = recording(0, a);
        KernelTimer tb = recording(1, b);
        KernelTimer tc = recording(1, c);
        on(0, () -> ta.mod(j - 5));
        on(1, () -> {
            tb.add(j - 1_000_000);
            return null;
        });
        on(1, () -> tc.mod(j));
        clock.tick();
        assertThat(a).containsExactly(j + 1);
        assertThat(b).containsExactly(j + 1);
        assertThat(c).containsExactly(j + 1);
        clock.tick(5);
        assertThat(a).hasSize(1);
    }

    /**
     * A callback that re-arms its own timer at the current jiffy does not run again in the same
     * tick (the wheel clock is one ahead while callbacks run): it runs once per tick. Spec §6.7;
     * §10 items 118, 121.
     */
    @Test
    void reArmAtTheCurrentJiffyFromTheCallbackRunsAtTheNextTick() {
        List<Long> runs = syncList();
        long j = k.jiffies();
        KernelTimer t = on(0, () -> KernelTimer.setup(k, self -> {
            runs.add(k.jiffies());
            if (runs.size() < 4) {
                self.mod(k.jiffies());
            }
        }));
        on(0, () -> t.mod(j + 1));
        tickUntil(j + 10);
        assertThat(runs).containsExactly(j + 2, j + 3, j + 4, j + 5);
    }

    /**
     * A callback may re-arm its own timer: a periodic timer re-armed at {@code jiffies + 3} runs
     * every 4 jiffies (level 0 fires one jiffy after {@code expires}), on its CPU, and never
     * overlaps with itself. Spec §6.7; §10 item 121.
     */
    @Test
    void periodicTimerReArmedFromItsCallbackHonoursEachNewExpiry() {
        List<Long> runs = syncList();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        AtomicInteger wrongCpu = new AtomicInteger();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
            runs.add(k.jiffies());
            if (k.smpProcessorId() != 1) {
                wrongCpu.incrementAndGet();
            }
            if (runs.size() < 6) {
                assertThat(self.isPending()).isFalse();
                self.mod(k.jiffies() + 3);
            }
            inside.decrementAndGet();
        }));
        on(1, () -> t.mod(j + 2));
        tickUntil(j + 60);
        assertThat(runs).containsExactly(j + 3, j + 7, j + 11, j + 15, j + 19, j + 23);
        assertThat(maxInside).hasValue(1);
        assertThat(wrongCpu).hasValue(0);
        assertThat(errors).isEmpty();
    }

    /**
     * While a timer's callback runs on CPU 1, {@code mod()} from CPU 0 re-arms it but does not
     * move it: it stays on CPU 1's wheel, so a tick that CPU 0 handles meanwhile cannot start a
     * second, overlapping run; the re-armed timer runs on CPU 1 after the first run returned.
     * Spec §6.5, §6.7; §10 item 121.
     */
    @Test
    void modFromAnotherCpuWhileTheCallbackRunsNeverMovesOrOverlapsIt() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = latch();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        ConcurrentLinkedQueue<Integer> cpus = new ConcurrentLinkedQueue<>();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
            cpus.add(k.smpProcessorId());
            if (cpus.size() == 1) {
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            inside.decrementAndGet();
        }));
        on(1, () -> t.mod(j + 1));
        Worker ticker = start("ticker", () -> clock.tick(2));
        await(entered);
        assertThat(t.isPending()).isFalse();
        assertThat(on(0, () -> t.mod(k.jiffies()))).isFalse();
        assertThat(t.cpu()).as("a running timer is not moved").isEqualTo(1);
        assertThat(t.isPending()).isTrue();
        // another tick while the first run is blocked: CPU 0 handles it now, CPU 1 after the release
        Worker ticker2 = start("ticker2", clock::tick);
        while (k.jiffies() != j + 3 || k.stats().get(0, KernelStats.Counter.TICKS) != 3) {
            assertThat(ticker2.isAlive()).isTrue();
            Thread.onSpinWait();
        }
        k.smpCallFunctionSingle(0, () -> { }, true);   // CPU 0's tick and its irq exit are done
        assertThat(cpus).containsExactly(1);
        release.countDown();
        ticker.joinAndCheck();
        ticker2.joinAndCheck();
        clock.tick();
        assertThat(cpus).containsExactly(1, 1);
        assertThat(maxInside).hasValue(1);
    }

    /**
     * {@code mod()} of a pending timer from another CPU moves it there (timers are enqueued on
     * the arming CPU's wheel); {@code addOn(cpu)} arms it on the given CPU whatever the caller's.
     * Spec §6.2, §6.5; §10 item 109.
     */
    @Test
    void modMovesAPendingTimerToTheArmingCpuAndAddOnChoosesTheCpu() {
        ConcurrentLinkedQueue<String> ran = new ConcurrentLinkedQueue<>();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k,
                self -> ran.add(Thread.currentThread().getName() + "@" + (k.jiffies() - j))));
        on(1, () -> t.mod(j + 10));
        assertThat(t.cpu()).isEqualTo(1);
        assertThat(on(0, () -> t.mod(j + 12))).isTrue();
        assertThat(t.cpu()).isZero();
        tickUntil(j + 20);
        assertThat(ran).containsExactly("cpu/0@13");

        on(0, () -> {
            t.addOn(1, j + 25);
            return null;
        });
        assertThat(t.cpu()).isEqualTo(1);
        tickUntil(j + 40);
        assertThat(ran).containsExactly("cpu/0@13", "cpu/1@26");
    }

    // ---------------------------------------------------------------- deleting

    /**
     * {@code delete()} returns true for a pending timer, which then never runs, and false for an
     * inactive one (never armed, already deleted, or already run). Spec §6.6; §10 item 122.
     */
    @Test
    void deleteReturnsTrueForAPendingTimerWhichNeverFires() {
        List<Long> deleted = syncList();
        List<Long> fired = syncList();
        long j = k.jiffies();
        KernelTimer a = recording(0, deleted);
        KernelTimer b = recording(1, fired);
        assertThat(a.delete()).isFalse();
        on(0, () -> a.mod(j + 5));
        on(1, () -> b.mod(j + 5));
        assertThat(a.delete()).isTrue();
        assertThat(a.isPending()).isFalse();
        assertThat(a.delete()).isFalse();
        tickUntil(j + 30);
        assertThat(deleted).isEmpty();
        assertThat(fired).containsExactly(j + 6);
        assertThat(b.delete()).isFalse();
    }

    /**
     * {@code deleteSync()} called while the callback runs on another CPU waits (the caller parks)
     * until the callback returned, and everything the callback did is visible when it returns;
     * meanwhile {@code deleteSyncTry()} returns -1 and changes nothing. Spec §6.6; §10 items 123, 124.
     */
    @Test
    void deleteSyncWaitsForTheCallbackRunningOnAnotherCpu() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = latch();
        AtomicBoolean finished = new AtomicBoolean();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            finished.set(true);
        }));
        on(1, () -> t.mod(j + 1));
        Worker ticker = start("ticker", () -> clock.tick(2));
        await(entered);
        assertThat(t.deleteSyncTry()).isEqualTo(-1);
        assertThat(on(0, t::deleteSyncTry)).isEqualTo(-1);
        AtomicReference<Boolean> result = new AtomicReference<>();
        AtomicBoolean finishedAtReturn = new AtomicBoolean();
        Worker deleter = start("deleter", () -> {
            result.set(k.runOnCpu(0, t::deleteSync));
            finishedAtReturn.set(finished.get());
        });
        awaitWaitingOnWaitQueue(deleter);
        assertThat(result.get()).isNull();
        assertThat(finished).isFalse();
        release.countDown();
        deleter.joinAndCheck();
        ticker.joinAndCheck();
        assertThat(result.get()).as("it was not pending").isFalse();
        assertThat(finishedAtReturn).as("returned after the callback finished").isTrue();
        assertThat(t.deleteSyncTry()).isZero();
    }

    /**
     * A timer whose callback re-arms it: {@code deleteSyncTry()} returns -1 while it runs even
     * though it is pending again, and {@code deleteSync()} waits for the run, removes the re-armed
     * timer and returns true; the timer never runs again. Spec §6.6; §10 items 123, 124.
     */
    @Test
    void deleteSyncOfASelfRearmingTimerLeavesItNeitherPendingNorRunning() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = latch();
        AtomicInteger runs = new AtomicInteger();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            runs.incrementAndGet();
            self.mod(k.jiffies() + 1);
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        on(1, () -> t.mod(j + 1));
        Worker ticker = start("ticker", () -> clock.tick(2));
        await(entered);
        assertThat(t.isPending()).isTrue();
        assertThat(t.deleteSyncTry()).isEqualTo(-1);
        assertThat(t.isPending()).isTrue();
        AtomicReference<Boolean> result = new AtomicReference<>();
        Worker deleter = start("deleter", () -> result.set(t.deleteSync()));
        awaitWaitingOnWaitQueue(deleter);
        release.countDown();
        deleter.joinAndCheck();
        ticker.joinAndCheck();
        assertThat(result.get()).isTrue();
        assertThat(t.isPending()).isFalse();
        clock.tick(20);
        assertThat(runs).hasValue(1);
    }

    /**
     * A callback that re-arms its timer on another CPU with {@code addOn()} and is still running:
     * the class contract says a timer is never moved to another CPU while its callback runs, and
     * {@code deleteSync()} returns only when the callback is not running anywhere. So a
     * {@code deleteSync()} called now must wait for the run on CPU 1 to finish. Spec §6.6; §10
     * item 123.
     */
    @Test
    void deleteSyncAfterAddOnFromTheRunningCallbackStillWaitsForIt() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = latch();
        AtomicBoolean finished = new AtomicBoolean();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            self.addOn(0, k.jiffies() + 1000);
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            finished.set(true);
        }));
        on(1, () -> t.mod(j + 1));
        Worker ticker = start("ticker", () -> clock.tick(2));
        await(entered);
        AtomicBoolean finishedAtReturn = new AtomicBoolean();
        Worker deleter = start("deleter", () -> {
            t.deleteSync();
            finishedAtReturn.set(finished.get());
        });
        Waits.awaitParkedOn(deleter, WaitQueue.class::isInstance);
        release.countDown();
        deleter.joinAndCheck();
        ticker.joinAndCheck();
        assertThat(finishedAtReturn).as("deleteSync returned after the callback finished").isTrue();
        assertThat(t.isPending()).isFalse();
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * {@code shutdownSync()} while the callback runs on another CPU waits for it; the re-arm the
     * callback attempts after the shutdown is ignored ({@code mod} returns false), and nothing
     * runs again. Spec §6.6; §10 items 126, 127.
     */
    @Test
    void shutdownSyncWaitsForTheCallbackAndItsReArmIsIgnored() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = latch();
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Boolean> reArm = new AtomicReference<>();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            runs.incrementAndGet();
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reArm.set(self.mod(k.jiffies() + 1));
        }));
        on(1, () -> t.mod(j + 1));
        Worker ticker = start("ticker", () -> clock.tick(2));
        await(entered);
        AtomicReference<Boolean> result = new AtomicReference<>();
        Worker stopper = start("stopper", () -> result.set(t.shutdownSync()));
        awaitWaitingOnWaitQueue(stopper);
        assertThat(reArm.get()).isNull();
        release.countDown();
        stopper.join();
        ticker.joinAndCheck();
        assertThat(result.get()).isFalse();
        assertThat(reArm.get()).isFalse();
        assertThat(t.isShutdown()).isTrue();
        assertThat(t.isPending()).isFalse();
        clock.tick(20);
        assertThat(runs).hasValue(1);
    }

    /**
     * {@code shutdown()} (not waiting) while the callback runs on another CPU returns at once;
     * the callback's own re-arm afterwards does not take effect. Spec §6.6; §10 item 127.
     */
    @Test
    void shutdownWhileTheCallbackRunsDefeatsItsOwnReArm() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = latch();
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Boolean> reArm = new AtomicReference<>();
        long j = k.jiffies();
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            runs.incrementAndGet();
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reArm.set(self.mod(k.jiffies() + 1));
        }));
        on(1, () -> t.mod(j + 1));
        Worker ticker = start("ticker", () -> clock.tick(2));
        await(entered);
        assertThat(t.shutdown()).isFalse();
        release.countDown();
        ticker.joinAndCheck();
        assertThat(reArm.get()).isFalse();
        assertThat(t.isPending()).isFalse();
        clock.tick(20);
        assertThat(runs).hasValue(1);
    }

    // ---------------------------------------------------------------- failures

    /**
     * A callback that throws is reported to the error handler (with the timer as the source) and
     * counted; the other timers of its bucket still run, and the timer is not left stuck: it can
     * be re-armed and runs again. DESIGN "fail fast"; spec §6.7.
     */
    @Test
    void aThrowingCallbackIsReportedAndTheTimerCanBeReArmed() {
        AtomicInteger runs = new AtomicInteger();
        List<Long> neighbour = syncList();
        RuntimeException boom = new IllegalArgumentException("boom");
        long j = k.jiffies();
        KernelTimer other = recording(1, neighbour);
        KernelTimer t = on(1, () -> KernelTimer.setup(k, self -> {
            if (runs.incrementAndGet() == 1) {
                throw boom;
            }
        }));
        on(1, () -> other.mod(j + 4));
        on(1, () -> t.mod(j + 4));     // same bucket, armed later: runs first
        tickUntil(j + 10);
        assertThat(runs).hasValue(1);
        assertThat(neighbour).containsExactly(j + 5);
        assertThat(errors).hasSize(1);
        assertThat(errors.peek()[0]).isSameAs(t);
        assertThat(errors.peek()[1]).isSameAs(boom);
        assertThat(k.stats().errors()).isEqualTo(1);
        assertThat(t.isPending()).isFalse();
        assertThat(t.deleteSyncTry()).isZero();

        long j2 = k.jiffies();
        assertThat(on(1, () -> t.mod(j2 + 2))).isFalse();
        tickUntil(j2 + 10);
        assertThat(runs).hasValue(2);
        assertThat(k.stats().errors()).isEqualTo(1);
    }

    // ---------------------------------------------------------------- deferrable

    /**
     * A deferrable timer on a CPU that does nothing else is not run by the ticks past its expiry
     * (it stays pending, and a hardirq on another CPU does not help); the next other hardirq on
     * its CPU runs it, at that interrupt's exit, in softirq context. Spec §6.1; §10 item 128.
     */
    @Test
    void deferrableTimerWaitsUntilItsCpuIsWokenForAnotherReason() {
        AtomicReference<String> ran = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        long j = k.jiffies();
        KernelTimer d = on(1, () -> KernelTimer.setup(k, self -> {
            runs.incrementAndGet();
            ran.set(Thread.currentThread().getName() + " serving=" + k.inServingSoftirq() + " at=" + (k.jiffies() - j));
        }, TimerFlag.DEFERRABLE));
        assertThat(d.flags()).containsExactly(TimerFlag.DEFERRABLE);
        on(1, () -> d.mod(j + 5));
        tickUntil(j + 30);
        assertThat(runs).hasValue(0);
        assertThat(d.isPending()).isTrue();
        k.smpCallFunctionSingle(0, () -> { }, true);
        assertThat(runs).hasValue(0);
        k.smpCallFunctionSingle(1, () -> { }, true);
        assertThat(runs).hasValue(1);
        assertThat(ran.get()).isEqualTo("cpu/1 serving=true at=30");
        assertThat(d.isPending()).isFalse();
    }

    /**
     * A deferrable timer expires with the tick when its CPU is awake anyway: here a normal timer
     * due at the same jiffy on the same CPU; a deferrable timer on the other, idle CPU does not.
     * Spec §6.1, §6.7; §10 item 128.
     */
    @Test
    void deferrableTimerRunsWithTheTickWhenItsCpuIsBusy() {
        List<Long> deferrable = syncList();
        List<Long> normal = syncList();
        List<Long> idleCpu = syncList();
        long j = k.jiffies();
        KernelTimer d = recording(1, deferrable, TimerFlag.DEFERRABLE);
        KernelTimer n = recording(1, normal);
        KernelTimer e = recording(0, idleCpu, TimerFlag.DEFERRABLE);
        on(1, () -> d.mod(j + 5));
        on(1, () -> n.mod(j + 5));
        on(0, () -> e.mod(j + 5));
        tickUntil(j + 20);
        assertThat(normal).containsExactly(j + 6);
        assertThat(deferrable).containsExactly(j + 6);
        assertThat(idleCpu).isEmpty();
    }

    // ---------------------------------------------------------------- close

    /**
     * {@code close()} with the default policy ({@link io.kdefer.TimerClosePolicy#REPORT}): every
     * timer still armed (far out, already due but not yet ticked, deferrable, periodic) is
     * reported to the error handler with the timer as the source, is not run, and ends shut down
     * and not pending; a timer that is not armed is not reported. DESIGN "Nothing is lost on close".
     */
    @Test
    void closeReportsArmedTimersAndShutsThemDown() {
        ClosingSet set = new ClosingSet();
        int runsBefore = set.runs.get();
        k.close();
        assertThat(set.runs).hasValue(runsBefore);
        assertThat(errors).hasSize(4);
        assertThat(errors).allSatisfy(e -> assertThat(e[1]).isInstanceOf(IllegalStateException.class));
        assertThat(errors.stream().map(e -> e[0]).toList()).containsExactlyInAnyOrder(set.armed());
        for (KernelTimer t : set.armed()) {
            assertThat(t.isPending()).isFalse();
            assertThat(t.isShutdown()).isTrue();
        }
    }

    /**
     * {@code close()} with {@link io.kdefer.TimerClosePolicy#RUN}: every armed timer's callback
     * runs once, on its own CPU in softirq context; it is already shut down then, so its re-arm
     * is ignored; nothing is reported; an unarmed timer does not run. DESIGN "Nothing is lost on
     * close".
     */
    @Test
    void closeWithTheRunPolicyRunsEachArmedTimerOnce() {
        k.close();
        errors.clear();
        clock = new ManualClock();
        k = TestKernels.track(Kernel.builder().cpus(2).hz(1000).clock(clock).timersOnClose(io.kdefer.TimerClosePolicy.RUN)
                .errorHandler((source, error) -> errors.add(new Object[] {source, error}))
                .build());
        ClosingSet set = new ClosingSet();
        set.closing = true;
        k.close();
        assertThat(errors).isEmpty();
        assertThat(set.closeRuns).containsExactlyInAnyOrder(
                "far cpu=0 serving=true rearm=false",
                "due cpu=0 serving=true rearm=false",
                "deferrable cpu=1 serving=true rearm=false",
                "periodic cpu=1 serving=true rearm=false");
        for (KernelTimer t : set.armed()) {
            assertThat(t.isPending()).isFalse();
            assertThat(t.isShutdown()).isTrue();
        }
    }

    /** Timers in every state that matters at close, on a kernel that has ticked a little. */
    private final class ClosingSet {
        final AtomicInteger runs = new AtomicInteger();
        final ConcurrentLinkedQueue<String> closeRuns = new ConcurrentLinkedQueue<>();
        volatile boolean closing;
        final KernelTimer far;
        final KernelTimer due;
        final KernelTimer deferrable;
        final KernelTimer periodic;
        final KernelTimer idle;

        ClosingSet() {
            far = on(0, () -> KernelTimer.setup(k, self -> ran("far", self, false)));
            due = on(0, () -> KernelTimer.setup(k, self -> ran("due", self, false)));
            deferrable = on(1, () -> KernelTimer.setup(k, self -> ran("deferrable", self, false), TimerFlag.DEFERRABLE));
            periodic = on(1, () -> KernelTimer.setup(k, self -> ran("periodic", self, true)));
            idle = on(0, () -> KernelTimer.setup(k, self -> ran("idle", self, false)));
            long j = k.jiffies();
            on(1, () -> periodic.mod(j + 1));
            clock.tick(5);
            assertThat(runs.get()).isEqualTo(2);    // the periodic timer, at j + 2 and j + 4
            long now = k.jiffies();
            on(0, () -> far.mod(now + 100_000));
            on(0, () -> due.mod(now - 1));          // due, but no tick comes any more
            on(1, () -> deferrable.mod(now + 50));
        }

        KernelTimer[] armed() {
            return new KernelTimer[] {far, due, deferrable, periodic};
        }

        private void ran(String name, KernelTimer self, boolean reArm) {
            runs.incrementAndGet();
            if (closing) {
                boolean r = self.mod(k.jiffies() + 1);
                closeRuns.add(name + " cpu=" + k.smpProcessorId() + " serving=" + k.inServingSoftirq() + " rearm=" + r);
            } else if (reArm) {
                self.mod(k.jiffies() + 1);
            }
        }
    }
}
