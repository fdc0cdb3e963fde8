package io.kdefer;

import io.kdefer.testkit.Waits;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.irq.IrqReturn;
import io.kdefer.irq.Irqs;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.workqueue.Work;
import io.kdefer.workqueue.Workqueue;
import io.kdefer.timer.KernelTimer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitBlocked;
import static io.kdefer.testkit.Waits.join;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Kernel#close()} under load: every call racing it from outside the kernel's threads is
 * either refused with {@link IllegalStateException} or fully served (run, or reported by close),
 * nothing hangs, and close joins every thread it started. The entry protocol is described in
 * {@code io.kdefer.internal.Lifecycle} ("States", "Entry protocol"); each of its races has a
 * jcstress test in {@code io.kdefer.jcstress.close}. No spec §10 item: the kernel has no close (see
 * docs/deviations.md, Model).
 */
class CloseUnderLoadTest {
    private static final int ROUNDS = 30;
    private static final int CPUS = 2;
    /** Calls each caller makes before the round's close() starts, so that close meets a load. */
    private static final int WARM_CALLS = 200;
    private static final int IRQ = 7;

    /** What one kind of caller promises: its counts must balance once the kernel is closed. */
    private abstract static class Caller implements Runnable {
        final String name;
        final CountDownLatch warm;
        final SplittableRandom random;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread;

        Caller(String name, CountDownLatch warm, long seed) {
            this.name = name;
            this.warm = warm;
            this.random = new SplittableRandom(seed);
        }

        /** One call; throws IllegalStateException when refused. */
        abstract void call();

        /** Fails when the round's promise is broken. */
        abstract void check();

        @Override
        public void run() {
            try {
                for (int n = 1; ; n++) {
                    try {
                        call();
                    } catch (IllegalStateException refused) {
                        assertThat(refused).hasMessageStartingWith("kernel is clos");
                        return;
                    }
                    if (n == WARM_CALLS) {
                        // wait for the slowest caller, so that all of them meet close() together
                        warm.countDown();
                        Waits.await(warm);
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
                warm.countDown();
            }
        }
    }

    /**
     * Many rounds of: a dozen threads schedule tasklets (both vectors), arm timers (add, mod,
     * addOn to the other CPU), send hardirq calls (waiting and not), raise an interrupt line and
     * a softirq, run work on a CPU and tick the manual clock, while the test thread (and in every
     * other round a second thread too) closes the kernel. Afterwards: runs = {@code true}
     * schedules for every tasklet; every timer an arm returned for ran or was reported exactly
     * once; every hardirq call and {@code runOnCpu} that returned ran its function exactly once;
     * the last accepted interrupt and softirq raise were each followed by their handler; every
     * caller ended (none hung); no kdefer thread is alive; nothing else was reported.
     */
    @Test
    void everyCallRacingCloseIsRefusedOrServed() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            runRound(round);
        }
    }

    private void runRound(int round) throws Exception {
        Map<KernelTimer, AtomicInteger> timerServed = new ConcurrentHashMap<>();
        CollectingErrors errors = new CollectingErrors();
        Map<String, Thread> kthreads = new HashMap<>();
        Kernel k = TestKernels.start(TestKernels.manual(CPUS, errors), kthreads);
        ManualClock clock = TestKernels.clock(k);
        Irqs irqs = k.irqs();
        AtomicLong irqRaises = new AtomicLong();        // incremented before each raise
        AtomicLong irqSeenByHandler = new AtomicLong(); // the highest count a handler run started after
        irqs.requestIrq(IRQ, (irq, dev) -> {
            irqSeenByHandler.accumulateAndGet(irqRaises.get(), Math::max);
            return IrqReturn.HANDLED;
        }, "close-load", this);
        AtomicLong softirqRaises = new AtomicLong();
        AtomicLong softirqSeenByAction = new AtomicLong();
        k.softirqs().open(SoftirqVector.NET_RX,
                () -> softirqSeenByAction.accumulateAndGet(softirqRaises.get(), Math::max));

        List<Caller> callers = new ArrayList<>();
        CountDownLatch warm = new CountDownLatch(14);
        long seed = 1000L * round;
        for (int i = 0; i < 2; i++) {
            final boolean hi = i == 1;
            callers.add(new Caller("tasklets" + i, warm, seed++) {
                final Tasklet[] ts = new Tasklet[4];
                final AtomicInteger[] runs = new AtomicInteger[ts.length];
                final int[] accepted = new int[ts.length];

                {
                    for (int t = 0; t < ts.length; t++) {
                        AtomicInteger r = new AtomicInteger();
                        runs[t] = r;
                        ts[t] = Tasklet.setup(k, self -> r.incrementAndGet());
                    }
                }

                @Override
                void call() {
                    int t = random.nextInt(ts.length);
                    if (hi ? ts[t].hiSchedule() : ts[t].schedule()) {
                        accepted[t]++;
                    }
                }

                @Override
                void check() {
                    for (int t = 0; t < ts.length; t++) {
                        assertThat(runs[t].get()).as(name + ": runs of tasklet " + t + " = true schedules")
                                .isEqualTo(accepted[t]);
                        assertThat(ts[t].isScheduled()).as(name + ": tasklet " + t + " left queued").isFalse();
                    }
                }
            });
        }
        AtomicInteger timersArmed = new AtomicInteger();
        for (int i = 0; i < 3; i++) {
            final int kind = i;
            callers.add(new Caller(new String[] {"timer add", "timer mod", "timer addOn"}[i], warm, seed++) {
                int armed;

                @Override
                void call() {
                    AtomicInteger served = new AtomicInteger();
                    KernelTimer t = KernelTimer.setup(k, self -> served.incrementAndGet());
                    timerServed.put(t, served);
                    long expires = k.jiffies() + random.nextInt(4);   // some expire at the next ticks
                    switch (kind) {
                        case 0: t.add(expires); break;
                        case 1: t.mod(expires); break;
                        default: t.addOn(random.nextInt(CPUS), expires); break;
                    }
                    armed++;
                    timersArmed.incrementAndGet();
                }

                @Override
                void check() {
                    assertThat(armed).as(name + ": arms that returned").isPositive();
                }
            });
        }
        for (int i = 0; i < 2; i++) {
            final boolean wait = i == 0;
            callers.add(new Caller(wait ? "smp call, wait" : "smp call", warm, seed++) {
                final AtomicInteger ran = new AtomicInteger();
                int returned;

                @Override
                void call() {
                    k.smpCallFunctionSingle(random.nextInt(CPUS), ran::incrementAndGet, wait);
                    returned++;
                }

                @Override
                void check() {
                    assertThat(ran.get()).as(name + ": functions run = calls returned").isEqualTo(returned);
                }
            });
        }
        callers.add(new Caller("workOnCpu", warm, seed++) {
            final AtomicInteger ran = new AtomicInteger();
            int returned;

            @Override
            void call() {
                k.runOnCpu(random.nextInt(CPUS), ran::incrementAndGet);
                returned++;
            }

            @Override
            void check() {
                assertThat(ran.get()).as(name + ": functions run = calls returned").isEqualTo(returned);
            }
        });
        callers.add(new Caller("work queue", warm, seed++) {
            final Work[] ws = new Work[4];
            final AtomicInteger[] runs = new AtomicInteger[ws.length];
            final int[] accepted = new int[ws.length];

            {
                for (int w = 0; w < ws.length; w++) {
                    AtomicInteger r = new AtomicInteger();
                    runs[w] = r;
                    ws[w] = new Work(self -> r.incrementAndGet());
                }
            }

            @Override
            void call() {
                int w = random.nextInt(ws.length);
                Workqueue q = random.nextBoolean() ? k.systemWq() : k.systemUnboundWq();
                if (q.queueOn(random.nextInt(CPUS), ws[w])) {
                    accepted[w]++;
                }
            }

            @Override
            void check() {
                for (int w = 0; w < ws.length; w++) {
                    assertThat(runs[w].get()).as(name + ": runs of item " + w + " = true queueings").isEqualTo(accepted[w]);
                    assertThat(ws[w].isPending()).as(name + ": item " + w + " left pending").isFalse();
                }
            }
        });
        callers.add(new Caller("work_on_cpu", warm, seed++) {
            final AtomicInteger ran = new AtomicInteger();
            int returned;

            @Override
            void call() {
                k.workOnCpu(random.nextInt(CPUS), ran::incrementAndGet);
                returned++;
            }

            @Override
            void check() {
                assertThat(ran.get()).as(name + ": functions run = calls returned").isEqualTo(returned);
            }
        });
        callers.add(new Caller("irq raise", warm, seed++) {
            long lastAccepted;

            @Override
            void call() {
                long n = irqRaises.incrementAndGet();
                irqs.raise(IRQ);
                lastAccepted = n;
            }

            @Override
            void check() {
                assertThat(irqSeenByHandler.get()).as(name + ": a handler run followed the last accepted raise")
                        .isGreaterThanOrEqualTo(lastAccepted);
            }
        });
        callers.add(new Caller("softirq raise", warm, seed++) {
            long lastAccepted;

            @Override
            void call() {
                long n = softirqRaises.incrementAndGet();
                k.softirqs().raise(SoftirqVector.NET_RX);
                lastAccepted = n;
            }

            @Override
            void check() {
                assertThat(softirqSeenByAction.get()).as(name + ": an action run followed the last accepted raise")
                        .isGreaterThanOrEqualTo(lastAccepted);
            }
        });
        callers.add(new Caller("softirq raise in a bottom-half section", warm, seed++) {
            long lastAccepted;

            @Override
            void call() {
                long n = softirqRaises.incrementAndGet();
                k.localBhDisable();
                try {
                    k.softirqs().raise(SoftirqVector.NET_RX);
                } finally {
                    k.localBhEnable();   // runs it here, unless another owner had the CPU
                }
                lastAccepted = n;
            }

            @Override
            void check() {
                assertThat(softirqSeenByAction.get()).as(name + ": an action run followed the last accepted raise")
                        .isGreaterThanOrEqualTo(lastAccepted);
            }
        });
        callers.add(new Caller("ticker", warm, seed++) {
            int ticks;

            @Override
            void call() {
                clock.tick();   // ignored once close() began: it never throws
                ticks++;
                if (k.isClosed()) {
                    throw new IllegalStateException("kernel is closed: the ticker stops");
                }
            }

            @Override
            void check() {
                // it ended (joined): no tick waited forever for a CPU that had closed
                assertThat(ticks).as(name + ": ticks").isGreaterThanOrEqualTo(WARM_CALLS);
            }
        });
        assertThat(callers).hasSize((int) warm.getCount());

        for (Caller c : callers) {
            c.thread = new Thread(c, "close-load " + c.name);
            c.thread.start();
        }
        if (!warm.await(Waits.HANG_GUARD_SECONDS, java.util.concurrent.TimeUnit.SECONDS)) {
            StringBuilder sb = new StringBuilder("round " + round + ": callers stuck before " + WARM_CALLS + " calls:");
            for (Caller c : callers) {
                sb.append("\n").append(c.name).append(' ').append(c.thread.getState());
                for (StackTraceElement e : c.thread.getStackTrace()) {
                    sb.append("\n    at ").append(e);
                }
            }
            throw new AssertionError(sb.toString());
        }
        Thread secondCloser = null;
        if (round % 2 == 1) {
            secondCloser = new Thread(k::close, "second closer");
            secondCloser.start();
        }
        k.close();
        assertThat(k.isClosed()).isTrue();
        if (secondCloser != null) {
            join(secondCloser);
        }
        for (Caller c : callers) {
            join(c.thread);
        }
        for (Caller c : callers) {
            if (c.failure.get() != null) {
                throw new AssertionError("round " + round + ", " + c.name + " failed", c.failure.get());
            }
            c.check();
        }
        List<String> otherReports = new ArrayList<>();
        for (CollectingErrors.Report r : errors.reports()) {
            AtomicInteger served = r.source() instanceof KernelTimer ? timerServed.get(r.source()) : null;
            if (served != null) {
                served.incrementAndGet();   // TimerClosePolicy.REPORT: an armed timer reported
            } else {
                otherReports.add(r.toString());
            }
        }
        assertThat(otherReports).as("round " + round + ": other reports").isEmpty();
        int timersServed = 0;
        int mostServed = 0;
        for (AtomicInteger served : timerServed.values()) {
            mostServed = Math.max(mostServed, served.get());
            timersServed += served.get();
        }
        assertThat(mostServed).as("round " + round + ": a timer ran or was reported at most once")
                .isLessThanOrEqualTo(1);
        assertThat(timersServed).as("round " + round + ": timers run or reported = arms that returned")
                .isEqualTo(timersArmed.get());
        for (Map.Entry<String, Thread> e : kthreads.entrySet()) {
            assertThat(e.getValue().isAlive()).as("round " + round + ": " + e.getKey() + " alive after close")
                    .isFalse();
        }
        // afterwards every call fails, the coalescing fast paths included
        assertThatThrownBy(() -> Tasklet.setup(k, t -> { })).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> k.smpCallFunctionSingle(0, () -> { }, true))
                .isInstanceOf(IllegalStateException.class);
    }

    /**
     * A hardirq call waiting ({@code wait=true}) for a function that is still running when close()
     * begins returns normally once it ends: close's drain runs behind it.
     */
    @Test
    void aWaitingHardirqCallInFlightWhenCloseBeginsReturns() throws Exception {
        CollectingErrors errors = new CollectingErrors();
        Kernel k = TestKernels.start(TestKernels.manual(2, errors));
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean returned = new AtomicBoolean();
        Thread caller = new Thread(() -> {
            k.smpCallFunctionSingle(1, () -> {
                started.countDown();
                Waits.await(release);
            }, true);
            returned.set(true);
        }, "caller");
        caller.start();
        await(started, "the call's function runs on cpu/1");
        Thread closer = new Thread(k::close, "closer");
        closer.start();
        Waits.spinUntil(() -> closer.getState() != Thread.State.RUNNABLE || !closer.isAlive(),
                "close() waits for cpu/1");
        assertThatThrownBy(() -> k.smpCallFunctionSingle(0, () -> { }, false))
                .as("a new call from outside once close() began").isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closing");
        release.countDown();
        join(caller);
        join(closer);
        assertThat(returned).isTrue();
        assertThat(k.isClosed()).isTrue();
        errors.assertNone();
    }

    /**
     * {@code deleteSync()} waiting for a running timer callback when close() begins returns once
     * the callback ends, and reports that it deactivated nothing (the timer was running, not
     * pending); close() then finishes.
     */
    @Test
    void deleteSyncWaitingForACallbackWhenCloseBeginsReturns() throws Exception {
        CollectingErrors errors = new CollectingErrors();
        Kernel k = TestKernels.start(TestKernels.manual(1, errors));
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        KernelTimer timer = KernelTimer.setup(k, t -> {
            started.countDown();
            Waits.await(release);
        });
        timer.mod(k.jiffies());
        Thread ticker = new Thread(() -> TestKernels.clock(k).tick(), "ticker");
        ticker.start();
        await(started, "the timer callback runs");
        AtomicReference<Boolean> deleted = new AtomicReference<>();
        Thread deleter = new Thread(() -> deleted.set(timer.deleteSync()), "deleter");
        deleter.start();
        awaitBlocked(deleter);
        Thread closer = new Thread(k::close, "closer");
        closer.start();
        awaitBlocked(closer);
        release.countDown();
        join(deleter);
        join(closer);
        join(ticker);
        assertThat(deleted.get()).as("deleteSync() of a running, not pending, timer").isFalse();
        assertThat(k.isClosed()).isTrue();
        errors.assertNone();
    }

    /**
     * {@code Tasklet.disable()} waiting for a running callback when close() begins returns once the
     * callback ends; the tasklet, scheduled again by its callback and now disabled, can never run,
     * so close() reports and drops it (spec §10.2: close runs every runnable queued tasklet).
     */
    @Test
    void taskletDisableWaitingWhenCloseBeginsReturns() throws Exception {
        CollectingErrors errors = new CollectingErrors();
        Kernel k = TestKernels.start(TestKernels.manual(1, errors));
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        Tasklet t = Tasklet.setup(k, self -> {
            if (runs.incrementAndGet() == 1) {
                started.countDown();
                Waits.await(release);
                self.schedule();   // queued again while disable() waits
            }
        });
        Thread scheduler = new Thread(t::schedule, "scheduler");
        scheduler.start();
        join(scheduler);
        await(started, "the tasklet runs");
        Thread disabler = new Thread(t::disable, "disabler");
        disabler.start();
        awaitBlocked(disabler);
        Thread closer = new Thread(k::close, "closer");
        closer.start();
        awaitBlocked(closer);
        release.countDown();
        join(disabler);
        join(closer);
        assertThat(runs.get()).as("runs: the one that was running; the re-queued one is disabled").isEqualTo(1);
        assertThat(errors.reports()).as("close() reported the disabled, scheduled tasklet, and nothing else")
                .singleElement().satisfies(r -> assertThat(r.source()).isSameAs(t));
        assertThat(t.isScheduled()).isFalse();
    }
}
