package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.KdeferTest;
import io.kdefer.timer.KernelTimer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static io.kdefer.testkit.Waits.HANG_GUARD_SECONDS;
import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.spinUntil;
import static java.util.concurrent.TimeUnit.MICROSECONDS;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Workqueue#asScheduledExecutorService()} against the {@code ScheduledExecutorService}
 * contract, with the behaviours that the JSR-166 TCK's {@code ScheduledExecutorTest} checks used as
 * a checklist (each test names the TCK behaviour it mirrors); the delays run on the kernel's timer
 * wheel. The spec's §10 has no item for the JDK views.
 *
 * <p>Time is the {@link ManualClock}'s (HZ 1000 unless a test says otherwise: one jiffy per
 * millisecond), so every claim about when a task runs is exact. After each tick a test waits until
 * the run that tick caused has finished: for a one-shot task with {@code wq.flush()} (the tick
 * returns after its timer queued the item), for a periodic one until its timer is armed again. A
 * timer of the wheel's first level fires at the tick after its expiry (spec §6.4), so a task with a
 * deadline of {@code d} jiffies from now runs at the {@code (d + 1)}th tick; tests that pin the tick
 * say so.
 */
class WorkqueueScheduledExecutorServiceTest {

    private static Workqueue unbound(Kernel kernel) {
        return kernel.allocWorkqueue("sched-unbound", 0, WqFlag.UNBOUND);
    }

    /** The task's work item is waiting on its timer. */
    private static boolean armed(Future<?> f) {
        KernelTimer t = ((DelayedWork) f).timer();
        return t != null && t.isPending();
    }

    /** Ticks once, then waits until a run the tick caused is over and the task is armed again. */
    private static void tickPeriodic(ManualClock clock, Future<?> f) {
        clock.tick();
        spinUntil(() -> armed(f), "the periodic task is armed again");
    }

    private static <T> T get(Future<T> f) throws Exception {
        return f.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    }

    private static void awaitTerminated(ScheduledExecutorService ses) throws InterruptedException {
        assertThat(ses.awaitTermination(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).as("terminated").isTrue();
        assertThat(ses.isTerminated()).isTrue();
    }

    /** Records the jiffies at the start and the end of each run. */
    private static class Runs implements Runnable {
        final Kernel kernel;
        final List<Long> starts = Collections.synchronizedList(new ArrayList<>());
        final List<Long> ends = Collections.synchronizedList(new ArrayList<>());

        Runs(Kernel kernel) {
            this.kernel = kernel;
        }

        @Override
        public void run() {
            starts.add(kernel.jiffies());
            during(starts.size());
            ends.add(kernel.jiffies());
        }

        /** What the {@code n}th run (from 1) does between its two records. */
        void during(int n) {
        }

        int count() {
            return starts.size();
        }
    }

    // ---------------------------------------------------------------- one-shot delays

    /**
     * A callable scheduled 3 ms ahead (3 jiffies) does not run before its deadline, runs when its
     * timer fires (the tick after the deadline) and completes with its result. Mirrors
     * {@code ScheduledExecutorTest.testSchedule1}.
     */
    @Test
    void scheduledCallableRunsAfterItsDelayInTicks(Kernel kernel, ManualClock clock) throws Exception {
        Workqueue wq = unbound(kernel);
        ScheduledExecutorService ses = wq.asScheduledExecutorService();
        long start = kernel.jiffies();
        ScheduledFuture<Long> f = ses.schedule(kernel::jiffies, 3, MILLISECONDS);
        assertThat(armed(f)).isTrue();
        for (int i = 1; i <= 3; i++) {
            clock.tick();
            wq.flush();
            assertThat(f.isDone()).as("after %d ticks", i).isFalse();
        }
        clock.tick();
        wq.flush();
        assertThat(f.isDone()).isTrue();
        assertThat(get(f)).as("ran at the tick after its deadline").isEqualTo(start + 4);
        assertThat(armed(f)).isFalse();
    }

    /**
     * A scheduled runnable completes with null after its delay. Mirrors {@code testSchedule3}.
     */
    @Test
    void scheduledRunnableCompletesWithNull(Kernel kernel, ManualClock clock) throws Exception {
        Workqueue wq = unbound(kernel);
        ScheduledExecutorService ses = wq.asScheduledExecutorService();
        AtomicInteger ran = new AtomicInteger();
        ScheduledFuture<?> f = ses.schedule(() -> {
            ran.incrementAndGet();
        }, 1, MILLISECONDS);
        clock.tick(2);
        assertThat(get(f)).isNull();
        assertThat(ran.get()).isEqualTo(1);
    }

    /**
     * A zero or negative delay means now: the task runs without any tick and without a timer
     * (STPE: "zero and negative delays ... are treated as requests for immediate execution").
     */
    @Test
    void zeroOrNegativeDelayRunsAtOnceWithoutATimer(Kernel kernel) throws Exception {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        ScheduledFuture<String> zero = ses.schedule(() -> "zero", 0, MILLISECONDS);
        ScheduledFuture<String> negative = ses.schedule(() -> "negative", -5, SECONDS);
        assertThat(get(zero)).isEqualTo("zero");
        assertThat(get(negative)).isEqualTo("negative");
        assertThat(((DelayedWork) zero).timer()).isNull();
        assertThat(((DelayedWork) negative).timer()).isNull();
    }

    /**
     * {@code getDelay} is the time left to the deadline at the kernel's HZ and counts down by one
     * jiffy per tick: 10 ms, then 6 after 4 ticks, 0 at the deadline (the task still waits for its
     * timer), -1 ms after the run. Mirrors the {@code getDelay} checks of
     * {@code testShutdown_cancellation} ({@code getDelay <= 0} for an immediate task).
     */
    @Test
    void getDelayCountsDownWithTicks(Kernel kernel, ManualClock clock) throws Exception {
        Workqueue wq = unbound(kernel);
        ScheduledExecutorService ses = wq.asScheduledExecutorService();
        ScheduledFuture<String> f = ses.schedule(() -> "x", 10, MILLISECONDS);
        assertThat(f.getDelay(MILLISECONDS)).isEqualTo(10);
        assertThat(f.getDelay(MICROSECONDS)).isEqualTo(10_000);
        clock.tick(4);
        assertThat(f.getDelay(MILLISECONDS)).isEqualTo(6);
        clock.tick(6);
        wq.flush();
        assertThat(f.getDelay(NANOSECONDS)).isZero();
        assertThat(f.isDone()).isFalse();
        clock.tick();
        assertThat(get(f)).isEqualTo("x");
        assertThat(f.getDelay(MILLISECONDS)).isEqualTo(-1);
        Future<?> now = ses.submit(() -> { });
        assertThat(now).isInstanceOf(ScheduledFuture.class);
        get(now);
        assertThat(((ScheduledFuture<?>) now).getDelay(NANOSECONDS)).as("an immediate task").isLessThanOrEqualTo(0);
    }

    /**
     * A delay becomes whole jiffies, rounded up: at HZ 1000, 1500 us waits 2 jiffies and 1 ns one
     * jiffy; a delay of {@code Long.MAX_VALUE} days saturates (as {@link TimeUnit#toNanos} does)
     * without overflowing.
     */
    @Test
    void delaysAreRoundedUpToWholeJiffies(Kernel kernel) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        ScheduledFuture<?> a = ses.schedule(() -> { }, 1500, MICROSECONDS);
        ScheduledFuture<?> b = ses.schedule(() -> { }, 1, NANOSECONDS);
        ScheduledFuture<?> c = ses.schedule(() -> { }, Long.MAX_VALUE, TimeUnit.DAYS);
        assertThat(a.getDelay(MICROSECONDS)).isEqualTo(2000);
        assertThat(b.getDelay(NANOSECONDS)).isEqualTo(1_000_000);
        assertThat(c.getDelay(TimeUnit.DAYS)).as("saturated like TimeUnit.toNanos, about 292 years")
                .isEqualTo(NANOSECONDS.toDays(Long.MAX_VALUE));
        assertThat(ses.shutdownNow()).containsExactly((Runnable) a, (Runnable) b, (Runnable) c);
    }

    /** The same at HZ 100: 1 ms is one jiffy of 10 ms, 25 ms is 3 jiffies. */
    @Test
    @KdeferTest(hz = 100)
    void delaysFollowTheKernelsHz(Kernel kernel) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        ScheduledFuture<?> a = ses.schedule(() -> { }, 1, MILLISECONDS);
        ScheduledFuture<?> b = ses.schedule(() -> { }, 25, MILLISECONDS);
        assertThat(a.getDelay(MILLISECONDS)).isEqualTo(10);
        assertThat(b.getDelay(MILLISECONDS)).isEqualTo(30);
        assertThat(ses.shutdownNow()).hasSize(2);
    }

    /**
     * {@code compareTo} orders scheduled futures by deadline, equal deadlines by when they were
     * scheduled; a foreign {@link Delayed} by {@code getDelay}. The order {@code DelayQueue} and
     * STPE's queue rely on.
     */
    @Test
    void compareToOrdersByDeadlineThenBySchedulingOrder(Kernel kernel) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        ScheduledFuture<?> a = ses.schedule(() -> { }, 5, MILLISECONDS);
        ScheduledFuture<?> b = ses.schedule(() -> { }, 3, MILLISECONDS);
        ScheduledFuture<?> c = ses.schedule(() -> { }, 5, MILLISECONDS);
        assertThat(a.compareTo(a)).isZero();
        assertThat(b.compareTo(a)).isNegative();
        assertThat(a.compareTo(b)).isPositive();
        assertThat(a.compareTo(c)).isNegative();
        assertThat(c.compareTo(a)).isPositive();
        Delayed foreign = new Delayed() {
            @Override
            public long getDelay(TimeUnit unit) {
                return unit.convert(4, MILLISECONDS);
            }

            @Override
            public int compareTo(Delayed o) {
                return Long.compare(getDelay(NANOSECONDS), o.getDelay(NANOSECONDS));
            }
        };
        assertThat(b.compareTo(foreign)).isNegative();
        assertThat(a.compareTo(foreign)).isPositive();
        assertThat(ses.shutdownNow()).hasSize(3);
    }

    // ---------------------------------------------------------------- periodic tasks

    /**
     * A fixed-rate task with a 5 ms period runs once every 5 jiffies: over 51 ticks exactly 10
     * runs, 5 jiffies apart, the first at the tick after its initial delay. Mirrors
     * {@code testSchedule4} and {@code testFixedRateSequence}, counted in ticks.
     */
    @Test
    void fixedRateRunsOncePerPeriodOfTicks(Kernel kernel, ManualClock clock) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        Runs runs = new Runs(kernel);
        long start = kernel.jiffies();
        ScheduledFuture<?> f = ses.scheduleAtFixedRate(runs, 5, 5, MILLISECONDS);
        for (int i = 0; i < 51; i++) {
            tickPeriodic(clock, f);
        }
        assertThat(runs.count()).isEqualTo(10);
        assertThat(runs.starts.get(0)).isEqualTo(start + 6);
        for (int i = 1; i < runs.count(); i++) {
            assertThat(runs.starts.get(i) - runs.starts.get(i - 1)).as("period of run %d", i).isEqualTo(5);
        }
        assertThat(f.getDelay(MILLISECONDS)).as("next deadline: start + 55").isEqualTo(4);
        assertThat(f.cancel(false)).isTrue();
        assertThat(armed(f)).isFalse();
    }

    /**
     * A fixed rate does not drift with the timer's lateness: with a 1 ms period each timer fires a
     * jiffy late, and the run it causes is followed at once by the one now due, so after {@code t}
     * ticks exactly the runs whose deadlines have passed have happened ({@code t + 1} counting the
     * one at time 0, rounded down to the timer's two-tick rhythm). Mirrors
     * {@code testFixedRateSequence}'s bound {@code cycles - 1 <= elapsed / period < cycles}.
     */
    @Test
    void fixedRateDoesNotDriftWithTheTimersLateness(Kernel kernel, ManualClock clock) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        Runs runs = new Runs(kernel);
        ScheduledFuture<?> f = ses.scheduleAtFixedRate(runs, 0, 1, MILLISECONDS);
        spinUntil(() -> armed(f), "the first run (at once) is over");
        assertThat(runs.count()).isEqualTo(1);
        for (int t = 1; t <= 20; t++) {
            tickPeriodic(clock, f);
            assertThat(runs.count()).as("runs after %d ticks", t).isEqualTo(1 + t - t % 2);
        }
        f.cancel(false);
    }

    /**
     * A fixed-delay task waits the delay after the end of each run: with an initial delay of 2 and
     * a delay of 3 jiffies, a run that takes 2 ticks pushes the next one back by those 2 ticks. The
     * gap from the end of a run to the start of the next is the delay plus the timer's jiffy.
     * Mirrors {@code testSchedule5} and {@code testFixedDelaySequence} (each run starts at least the
     * delay after the previous one ended).
     */
    @Test
    void fixedDelayCountsFromTheEndOfEachRun(Kernel kernel, ManualClock clock) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        CountDownLatch inSecondRun = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Runs runs = new Runs(kernel) {
            @Override
            void during(int n) {
                if (n == 2) {
                    inSecondRun.countDown();
                    await(release, "released by the test");
                }
            }
        };
        long start = kernel.jiffies();
        ScheduledFuture<?> f = ses.scheduleWithFixedDelay(runs, 2, 3, MILLISECONDS);
        for (int i = 0; i < 6; i++) {
            tickPeriodic(clock, f);
        }
        assertThat(runs.count()).isEqualTo(1);
        clock.tick();
        await(inSecondRun, "the second run started");
        clock.tick(2);   // the second run takes two ticks
        release.countDown();
        spinUntil(() -> armed(f), "armed after the long run");
        while (runs.count() < 3) {
            tickPeriodic(clock, f);
        }
        assertThat(runs.starts).containsExactly(start + 3, start + 7, start + 13);
        assertThat(runs.ends).containsExactly(start + 3, start + 9, start + 13);
        for (int i = 1; i < 3; i++) {
            assertThat(runs.starts.get(i) - runs.ends.get(i - 1)).isGreaterThanOrEqualTo(3).isEqualTo(4);
        }
        f.cancel(false);
        assertThat(armed(f)).isFalse();
    }

    /**
     * A periodic run that throws ends the series: the future completes exceptionally with what it
     * threw, no timer is left armed, no further run happens, and nothing is reported to the error
     * handler (it is the future's). Mirrors STPE's "if any execution of the task encounters an
     * exception, subsequent executions are suppressed" ({@code testShutdown_cancellation}'s
     * throwing {@code PeriodicTask}).
     */
    @Test
    void aThrowStopsAPeriodicTaskAndFailsItsFuture(Kernel kernel, ManualClock clock, CollectingErrors errors)
            throws Exception {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        IllegalStateException boom = new IllegalStateException("third run");
        Runs runs = new Runs(kernel) {
            @Override
            void during(int n) {
                if (n == 3) {
                    throw boom;
                }
            }
        };
        ScheduledFuture<?> f = ses.scheduleAtFixedRate(runs, 1, 2, MILLISECONDS);
        for (int i = 0; i < 50 && !f.isDone(); i++) {
            clock.tick();
            spinUntil(() -> armed(f) || f.isDone(), "armed again or done");
        }
        assertThat(f.isDone()).isTrue();
        assertThat(f.isCancelled()).isFalse();
        assertThatThrownBy(() -> get(f)).isInstanceOf(ExecutionException.class).hasCause(boom);
        assertThat(armed(f)).isFalse();
        clock.tick(10);
        assertThat(runs.count()).isEqualTo(3);
        ses.shutdown();
        awaitTerminated(ses);
        assertThat(errors.reports()).isEmpty();
    }

    // ---------------------------------------------------------------- cancel

    /**
     * {@code cancel} before the deadline deletes the task's timer: the task never runs, its future
     * is cancelled, and it no longer holds back termination. Mirrors STPE's cancel with
     * {@code setRemoveOnCancelPolicy(true)} ({@code testRemove}, {@code testPurge}).
     */
    @Test
    void cancelBeforeTheDeadlineDeletesTheTimer(Kernel kernel, ManualClock clock) throws Exception {
        Workqueue wq = unbound(kernel);
        ScheduledExecutorService ses = wq.asScheduledExecutorService();
        AtomicInteger ran = new AtomicInteger();
        ScheduledFuture<Integer> f = ses.schedule(ran::incrementAndGet, 5, MILLISECONDS);
        assertThat(armed(f)).isTrue();
        assertThat(f.cancel(false)).isTrue();
        assertThat(armed(f)).isFalse();
        assertThat(((Work) f).isPending()).isFalse();
        assertThat(f.isCancelled()).isTrue();
        assertThat(f.isDone()).isTrue();
        assertThatThrownBy(f::get).isInstanceOf(CancellationException.class);
        clock.tick(10);
        wq.flush();
        assertThat(ran.get()).isZero();
        ses.shutdown();
        assertThat(ses.isTerminated()).as("nothing left").isTrue();
    }

    /**
     * A periodic task cancelled between two runs never runs again and leaves no armed timer.
     * Mirrors {@code testSchedule4}/{@code testSchedule5}'s {@code f.cancel(true)} ending the series.
     */
    @Test
    void aCancelledPeriodicTaskNeverRunsAgain(Kernel kernel, ManualClock clock) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        Runs runs = new Runs(kernel);
        ScheduledFuture<?> f = ses.scheduleAtFixedRate(runs, 3, 3, MILLISECONDS);
        for (int i = 0; i < 7; i++) {
            tickPeriodic(clock, f);
        }
        assertThat(runs.count()).isEqualTo(2);
        assertThat(f.cancel(true)).isTrue();
        assertThat(armed(f)).isFalse();
        clock.tick(20);
        assertThat(runs.count()).isEqualTo(2);
        assertThat(f.isCancelled()).isTrue();
        assertThatThrownBy(f::get).isInstanceOf(CancellationException.class);
        assertThat(((WorkqueueExecutorService) ses).liveTasks()).isZero();
    }

    /**
     * A periodic task cancelled while it runs finishes that run and is not armed again: no timer,
     * no further run. The race the view's lock orders (the re-arm checks the future under it).
     */
    @Test
    void aPeriodicTaskCancelledWhileRunningIsNotReArmed(Kernel kernel, ManualClock clock) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        CountDownLatch inRun = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Runs runs = new Runs(kernel) {
            @Override
            void during(int n) {
                inRun.countDown();
                await(release, "released by the test");
            }
        };
        ScheduledFuture<?> f = ses.scheduleAtFixedRate(runs, 1, 2, MILLISECONDS);
        clock.tick(2);
        await(inRun, "the first run started");
        assertThat(f.cancel(false)).isTrue();
        release.countDown();
        spinUntil(() -> ((WorkqueueExecutorService) ses).liveTasks() == 0, "the view let go of the task");
        assertThat(armed(f)).isFalse();
        clock.tick(10);
        assertThat(runs.count()).isEqualTo(1);
        assertThat(runs.ends).hasSize(1);
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * {@code shutdown} with STPE's default policies: periodic tasks are cancelled (their timers
     * deleted; one that is running finishes its run and is not re-armed), a one-shot delayed task
     * still runs at its deadline, and the view terminates after it. Every later submission is
     * refused. Mirrors {@code testShutdown_cancellation} (default policies),
     * {@code testSubmittedTasksRejectedWhenShutdown} and the {@code testSchedule*_RejectedExecution}
     * tests.
     */
    @Test
    void shutdownCancelsPeriodicTasksAndLetsDelayedOnesRun(Kernel kernel, ManualClock clock) throws Exception {
        Workqueue wq = unbound(kernel);
        ScheduledExecutorService ses = wq.asScheduledExecutorService();
        long start = kernel.jiffies();
        Runs fixedRate = new Runs(kernel);
        Runs fixedDelay = new Runs(kernel);
        CountDownLatch inRun = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Runs running = new Runs(kernel) {
            @Override
            void during(int n) {
                inRun.countDown();
                await(release, "released by the test");
            }
        };
        ScheduledFuture<?> p1 = ses.scheduleAtFixedRate(fixedRate, 1, 5, MILLISECONDS);
        ScheduledFuture<?> p2 = ses.scheduleWithFixedDelay(fixedDelay, 1, 5, MILLISECONDS);
        ScheduledFuture<?> p3 = ses.scheduleAtFixedRate(running, 0, 1, MILLISECONDS);
        ScheduledFuture<Long> delayed = ses.schedule(kernel::jiffies, 5, MILLISECONDS);
        await(inRun, "the third periodic task runs");

        ses.shutdown();

        assertThat(ses.isShutdown()).isTrue();
        assertThat(ses.isTerminated()).isFalse();
        assertThat(p1.isCancelled() && p2.isCancelled() && p3.isCancelled()).isTrue();
        assertThat(armed(p1) || armed(p2)).isFalse();
        assertThat(delayed.isDone()).isFalse();
        assertThat(armed(delayed)).isTrue();
        Runnable r = () -> { };
        assertThatThrownBy(() -> ses.schedule(r, 1, SECONDS)).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> ses.schedule(() -> "x", 1, SECONDS)).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> ses.scheduleAtFixedRate(r, 1, 1, SECONDS))
                .isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> ses.scheduleWithFixedDelay(r, 1, 1, SECONDS))
                .isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> ses.execute(r)).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> ses.submit(r)).isInstanceOf(RejectedExecutionException.class);

        release.countDown();
        spinUntil(() -> running.ends.size() == 1, "the running periodic task finished its run");
        clock.tick(5);
        wq.flush();
        assertThat(ses.isTerminated()).as("the delayed task is still to run").isFalse();
        clock.tick();
        awaitTerminated(ses);
        assertThat(get(delayed)).isEqualTo(start + 6);
        assertThat(armed(p3)).isFalse();
        assertThat(fixedRate.count() + fixedDelay.count()).isZero();
        assertThat(running.count()).isEqualTo(1);
    }

    /**
     * {@code shutdownNow} returns every task that waits on its timer (one-shot and periodic, as
     * {@link ScheduledFuture}s, in scheduling order), deletes their timers, leaves their futures
     * open, and the view terminates. Mirrors {@code testShutdownNow_delayedTasks}.
     */
    @Test
    void shutdownNowReturnsTheDelayedAndPeriodicTasks(Kernel kernel) throws Exception {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        List<ScheduledFuture<?>> tasks = new ArrayList<>();
        Runnable r = () -> { };
        for (int i = 0; i < 3; i++) {
            tasks.add(ses.schedule(r, 9, SECONDS));
            tasks.add(ses.scheduleAtFixedRate(r, 9, 9, SECONDS));
            tasks.add(ses.scheduleWithFixedDelay(r, 9, 9, SECONDS));
        }
        List<Runnable> unstarted = ses.shutdownNow();
        assertThat(ses.isShutdown()).isTrue();
        assertThat(unstarted).containsExactlyElementsOf(tasks.stream().map(t -> (Runnable) t).toList());
        for (ScheduledFuture<?> t : tasks) {
            assertThat(t.isDone()).isFalse();
            assertThat(t.isCancelled()).isFalse();
            assertThat(armed(t)).isFalse();
        }
        awaitTerminated(ses);
    }

    /**
     * {@code shutdownNow} interrupts a running periodic task, which is then cancelled instead of
     * re-armed; a task given to {@code execute} and not started comes back as a
     * {@link ScheduledFuture}, not as the command. Mirrors {@code testShutdownNow} (STPE's
     * "each element of this list is a ScheduledFuture").
     */
    @Test
    void shutdownNowInterruptsARunningPeriodicTaskAndEndsIt(Kernel kernel) throws Exception {
        ScheduledExecutorService ses = kernel.allocOrderedWorkqueue("sched-ordered").asScheduledExecutorService();
        CountDownLatch started = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        ScheduledFuture<?> p = ses.scheduleAtFixedRate(() -> {
            runs.incrementAndGet();
            started.countDown();
            while (!Thread.currentThread().isInterrupted()) {
                LockSupport.park(this);
            }
        }, 0, 1, MILLISECONDS);
        Runnable command = () -> { };
        await(started, "the periodic task runs");
        ses.execute(command);

        List<Runnable> unstarted = ses.shutdownNow();

        assertThat(unstarted).hasSize(1);
        assertThat(unstarted.get(0)).isNotSameAs(command).isInstanceOf(ScheduledFuture.class);
        awaitTerminated(ses);
        assertThat(p.isCancelled()).isTrue();
        assertThat(armed(p)).isFalse();
        assertThat(runs.get()).isEqualTo(1);
    }

    // ---------------------------------------------------------------- arguments, submit, execute

    /**
     * Null commands or units throw {@link NullPointerException}; a non-positive period or fixed
     * delay throws {@link IllegalArgumentException}. Mirrors {@code testScheduleNull},
     * {@code testNullTaskSubmission} and STPE's argument checks for periods.
     */
    @Test
    void argumentChecks(Kernel kernel) {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        Runnable r = () -> { };
        Callable<String> c = () -> "x";
        assertThatThrownBy(() -> ses.schedule((Runnable) null, 1, SECONDS)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.schedule((Callable<String>) null, 1, SECONDS))
                .isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.schedule(r, 1, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.schedule(c, 1, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.scheduleAtFixedRate(null, 1, 1, SECONDS)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.scheduleAtFixedRate(r, 1, 1, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.scheduleWithFixedDelay(null, 1, 1, SECONDS))
                .isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.scheduleWithFixedDelay(r, 1, 1, null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.scheduleAtFixedRate(r, 1, 0, SECONDS))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ses.scheduleAtFixedRate(r, 1, -1, SECONDS))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ses.scheduleWithFixedDelay(r, 1, 0, SECONDS))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ses.execute(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> ses.submit((Runnable) null)).isInstanceOf(NullPointerException.class);
        ses.shutdown();
        assertThat(ses.isTerminated()).as("no refused task was kept").isTrue();
    }

    /**
     * {@code submit} runs at once and returns a {@link ScheduledFuture}; {@code invokeAll} and
     * {@code invokeAny} work as on any executor. Mirrors {@code ScheduledExecutorTest
     * .testSubmitCallable}, {@code testInvokeAll5} and {@code testInvokeAny4}.
     */
    @Test
    void submitAndInvokeRunAtOnce(Kernel kernel) throws Exception {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        Future<String> f = ses.submit(() -> "now");
        assertThat(f).isInstanceOf(ScheduledFuture.class);
        assertThat(get(f)).isEqualTo("now");
        List<Future<String>> all = ses.invokeAll(List.<Callable<String>>of(() -> "a", () -> "b"));
        assertThat(all.get(0).get()).isEqualTo("a");
        assertThat(all.get(1).get()).isEqualTo("b");
        assertThatThrownBy(() -> ses.invokeAny(List.<Callable<String>>of(() -> {
            throw new NullPointerException("only");
        }))).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(NullPointerException.class);
        ses.shutdown();
        awaitTerminated(ses);
    }

    /**
     * {@code execute} runs the command at once; what it throws is reported to the kernel's error
     * handler (STPE would keep it in a future nobody sees; see the class javadoc). Mirrors
     * {@code ScheduledExecutorTest.testExecute}.
     */
    @Test
    void executeRunsAtOnceAndReportsAThrow(Kernel kernel, CollectingErrors errors) throws Exception {
        ScheduledExecutorService ses = unbound(kernel).asScheduledExecutorService();
        CountDownLatch ran = new CountDownLatch(1);
        ses.execute(ran::countDown);
        await(ran, "the command ran");
        IllegalStateException boom = new IllegalStateException("boom");
        ses.execute(() -> {
            throw boom;
        });
        ses.shutdown();
        awaitTerminated(ses);
        List<Report> reports = errors.take();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).error()).isSameAs(boom);
    }
}
