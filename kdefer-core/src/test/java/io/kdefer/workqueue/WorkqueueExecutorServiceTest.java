package io.kdefer.workqueue;

import io.kdefer.Kernel;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static io.kdefer.testkit.Waits.HANG_GUARD_SECONDS;
import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Workqueue#asExecutorService()} against the {@code ExecutorService} contract, with the
 * behaviours that the JSR-166 TCK's {@code AbstractExecutorServiceTest} and
 * {@code ThreadPoolExecutorTest} check used as a checklist (each test names the TCK behaviour it
 * mirrors). The spec's §10 has no item for the JDK views.
 *
 * <p>No test waits for time: blocking tasks hold latches that the test releases, queues that must
 * run one task at a time are ordered workqueues, and blocking tasks that must run side by side use
 * unbound queues (whose workers are not concurrency-managed, so a blocked one holds back nothing).
 * The only timeouts are the hang guard and the ones a test expects to expire (a timed get or
 * awaitTermination on work that is held back by a latch).
 */
class WorkqueueExecutorServiceTest {

    private static Workqueue unbound(Kernel kernel) {
        return kernel.allocWorkqueue("exec-unbound", 0, WqFlag.UNBOUND);
    }

    private static Workqueue ordered(Kernel kernel) {
        return kernel.allocOrderedWorkqueue("exec-ordered");
    }

    private static <T> T get(Future<T> f) throws Exception {
        return f.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    }

    private static void awaitTerminated(ExecutorService es) throws InterruptedException {
        assertThat(es.awaitTermination(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).as("terminated").isTrue();
        assertThat(es.isTerminated()).isTrue();
    }

    /**
     * A task that reports its start, then parks until its thread is interrupted, records that, and
     * returns with the interrupt status still set (as a task that ignores interrupts would), so that
     * what the worker is given back with shows whether the view cleared it.
     */
    private static final class Blocker implements Callable<String> {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch interrupted = new CountDownLatch(1);
        volatile Thread thread;

        @Override
        public String call() {
            thread = Thread.currentThread();
            started.countDown();
            while (!Thread.currentThread().isInterrupted()) {
                LockSupport.park(this);
            }
            interrupted.countDown();
            return "interrupted";
        }
    }

    // ---------------------------------------------------------------- submit and execute

    /**
     * {@code submit(Callable)} returns a future that completes with the callable's result; the
     * callable runs on a worker of the queue. Mirrors {@code AbstractExecutorServiceTest
     * .testSubmitCallable}.
     */
    @Test
    void submitCallableCompletesWithItsResultOnAWorkerOfTheQueue(Kernel kernel) throws Exception {
        ExecutorService es = kernel.systemWq().asExecutorService();
        Future<String> f = es.submit(() -> Thread.currentThread().getName());
        assertThat(get(f)).startsWith("kworker/");
        assertThat(f.isDone()).isTrue();
        assertThat(f.isCancelled()).isFalse();
    }

    /**
     * {@code submit(Runnable)} completes with null, {@code submit(Runnable, result)} with the given
     * result, each after the runnable ran. Mirrors {@code testSubmitRunnable} and
     * {@code testSubmitRunnable2}.
     */
    @Test
    void submitRunnableCompletesWithNullOrTheGivenResult(Kernel kernel) throws Exception {
        ExecutorService es = kernel.systemWq().asExecutorService();
        AtomicInteger runs = new AtomicInteger();
        Runnable count = () -> {
            runs.incrementAndGet();
        };
        Future<?> plain = es.submit(count);
        Future<String> withResult = es.submit(count, "result");
        assertThat(get(plain)).isNull();
        assertThat(get(withResult)).isEqualTo("result");
        assertThat(runs.get()).isEqualTo(2);
    }

    /** {@code execute} runs the command once. Mirrors {@code testExecuteRunnable}. */
    @Test
    void executeRunsTheCommand(Kernel kernel) {
        ExecutorService es = kernel.systemWq().asExecutorService();
        CountDownLatch ran = new CountDownLatch(1);
        es.execute(ran::countDown);
        await(ran, "the command ran");
    }

    /**
     * A null task is refused with {@link NullPointerException} by every entry point. Mirrors
     * {@code testExecuteNullRunnable}, {@code testSubmitNullRunnable}, {@code testSubmitNullCallable}
     * ({@code assertNullTaskSubmissionThrowsNullPointerException}).
     */
    @Test
    void nullTasksAreRefusedWithNullPointerException(Kernel kernel) {
        ExecutorService es = kernel.systemWq().asExecutorService();
        assertThatThrownBy(() -> es.execute(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.submit((Runnable) null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.submit((Runnable) null, "x")).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.submit((Callable<String>) null)).isInstanceOf(NullPointerException.class);
        es.shutdown();
        assertThat(es.isTerminated()).as("no half-accepted task is left behind").isTrue();
    }

    /**
     * What a submitted callable throws completes its future exceptionally ({@code get} throws
     * {@link ExecutionException} with it as the cause) and is not reported to the kernel's error
     * handler: the future captures it, as {@code FutureTask} does in {@code ThreadPoolExecutor}.
     * Mirrors {@code AbstractExecutorServiceTest.testSubmitEE}.
     */
    @Test
    void submittedThrowGoesIntoTheFutureOnly(Kernel kernel, CollectingErrors errors) throws Exception {
        ExecutorService es = kernel.systemWq().asExecutorService();
        IOException boom = new IOException("boom");
        Future<String> f = es.submit(() -> {
            throw boom;
        });
        assertThatThrownBy(() -> get(f)).isInstanceOf(ExecutionException.class).hasCause(boom);
        assertThat(f.isDone()).isTrue();
        es.shutdown();
        awaitTerminated(es);   // a report would have been made before the task counted as finished
        assertThat(errors.reports()).isEmpty();
    }

    /**
     * What a command given to {@code execute} throws is reported to the kernel's error handler,
     * with the task as source, and the worker that ran it lives on and runs the next task.
     * Mirrors {@code ThreadPoolExecutorTest}'s throwing-task behaviour (the exception reaches the
     * pool's failure path, the pool keeps running tasks; TPE replaces the worker, a kworker
     * survives).
     */
    @Test
    void executeThrowIsReportedAndTheWorkerGoesOn(Kernel kernel, CollectingErrors errors) throws Exception {
        ExecutorService es = ordered(kernel).asExecutorService();
        IllegalStateException boom = new IllegalStateException("boom");
        AtomicReference<Thread> thrower = new AtomicReference<>();
        es.execute(() -> {
            thrower.set(Thread.currentThread());
            throw boom;
        });
        Future<String> next = es.submit(() -> "next");
        assertThat(get(next)).isEqualTo("next");
        es.shutdown();
        awaitTerminated(es);
        List<Report> reports = errors.take();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).error()).isSameAs(boom);
        assertThat(reports.get(0).source()).isInstanceOf(Work.class);
        assertThat(thrower.get().isAlive()).as("the worker survived the throw").isTrue();
    }

    /**
     * {@code get()} on a future whose task has not finished throws {@link InterruptedException} when
     * the waiting thread is interrupted, and the task is not affected. Mirrors
     * {@code AbstractExecutorServiceTest.testInterruptedSubmit}.
     */
    @Test
    void getIsInterruptible(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        CountDownLatch release = new CountDownLatch(1);
        Future<String> f = es.submit(() -> {
            release.await();
            return "done";
        });
        Worker waiter = Worker.start("getter", () -> f.get());
        Waits.awaitWaiting(waiter);
        waiter.interrupt();
        assertThat(waiter.joinFailure()).isInstanceOf(InterruptedException.class);
        assertThat(f.isDone()).isFalse();
        release.countDown();
        assertThat(get(f)).isEqualTo("done");
    }

    /**
     * A timed {@code get()} on a task held back by a latch throws {@link TimeoutException}; a zero
     * timeout does so without waiting. Mirrors {@code FutureTaskTest.testGet_TimeoutException}.
     */
    @Test
    void timedGetOfAnUnfinishedTaskTimesOut(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        CountDownLatch release = new CountDownLatch(1);
        Future<String> f = es.submit(() -> {
            release.await();
            return "done";
        });
        assertThatThrownBy(() -> f.get(0, TimeUnit.NANOSECONDS)).isInstanceOf(TimeoutException.class);
        assertThatThrownBy(() -> f.get(1, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
        assertThatThrownBy(() -> f.get(1, null)).isInstanceOf(NullPointerException.class);
        release.countDown();
        assertThat(get(f)).isEqualTo("done");
    }

    // ---------------------------------------------------------------- invokeAll, invokeAny

    /**
     * {@code invokeAll}: a null collection or a null element throws {@link NullPointerException},
     * an empty collection returns an empty list. Mirrors {@code testInvokeAll1}, {@code 2},
     * {@code 3} and {@code testTimedInvokeAllNullTimeUnit}.
     */
    @Test
    void invokeAllArgumentChecks(Kernel kernel) throws Exception {
        ExecutorService es = kernel.systemWq().asExecutorService();
        assertThatThrownBy(() -> es.invokeAll(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.invokeAll(null, 1, TimeUnit.SECONDS)).isInstanceOf(NullPointerException.class);
        List<Callable<String>> withNull = new ArrayList<>();
        withNull.add(() -> "a");
        withNull.add(null);
        assertThatThrownBy(() -> es.invokeAll(withNull)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.invokeAll(List.of(() -> "a"), 1, null))
                .isInstanceOf(NullPointerException.class);
        assertThat(es.invokeAll(Collections.<Callable<String>>emptyList())).isEmpty();
    }

    /**
     * {@code invokeAll} returns when every task is done, with one future per task in the order
     * given: a normal one yields its result, a failing one's {@code get} throws
     * {@link ExecutionException} with the task's exception. Mirrors {@code testInvokeAll4} and
     * {@code testInvokeAll5}.
     */
    @Test
    void invokeAllReturnsEveryFutureDoneInOrder(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        List<Callable<String>> tasks = List.of(() -> "a", () -> {
            throw new NullPointerException("b");
        }, () -> "c");
        List<Future<String>> futures = es.invokeAll(tasks);
        assertThat(futures).hasSize(3).allMatch(Future::isDone);
        assertThat(futures.get(0).get()).isEqualTo("a");
        assertThatThrownBy(() -> futures.get(1).get()).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(NullPointerException.class);
        assertThat(futures.get(2).get()).isEqualTo("c");
    }

    /**
     * A timed {@code invokeAll} returns with every future done; a task still running when the
     * timeout passes is cancelled and interrupted (or, had it not started, never runs). Mirrors
     * {@code testTimedInvokeAll6}, without its timing: the blocked task can only end by the
     * cancellation.
     */
    @Test
    void timedInvokeAllCancelsWhatDidNotFinish(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        Blocker blocker = new Blocker();
        List<Future<String>> futures = es.invokeAll(List.<Callable<String>>of(() -> "a", blocker), 20, TimeUnit.MILLISECONDS);
        assertThat(futures).hasSize(2).allMatch(Future::isDone);
        if (!futures.get(0).isCancelled()) {
            assertThat(futures.get(0).get()).isEqualTo("a");
        }
        assertThat(futures.get(1).isCancelled()).isTrue();
        es.shutdown();
        awaitTerminated(es);
        assertThat(blocker.started.getCount() == 0).as("started implies interrupted")
                .isEqualTo(blocker.interrupted.getCount() == 0);
    }

    /**
     * {@code invokeAny}: a null collection or element throws {@link NullPointerException}, an empty
     * one {@link IllegalArgumentException}. Mirrors {@code testInvokeAny1}, {@code 2}, {@code 3}.
     */
    @Test
    void invokeAnyArgumentChecks(Kernel kernel) {
        ExecutorService es = kernel.systemWq().asExecutorService();
        assertThatThrownBy(() -> es.invokeAny(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.invokeAny(Collections.<Callable<String>>emptyList()))
                .isInstanceOf(IllegalArgumentException.class);
        List<Callable<String>> withNull = new ArrayList<>();
        withNull.add(() -> "a");
        withNull.add(null);
        assertThatThrownBy(() -> es.invokeAny(withNull)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> es.invokeAny(List.of(() -> "a"), 1, null))
                .isInstanceOf(NullPointerException.class);
    }

    /**
     * {@code invokeAny} returns the result of a task that completed; when every task fails it
     * throws {@link ExecutionException} with a task's exception as the cause. Mirrors
     * {@code testInvokeAny4} and {@code testInvokeAny5}.
     */
    @Test
    void invokeAnyReturnsAResultOrThrowsWhenAllFail(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        List<Callable<String>> both = List.of(() -> "a", () -> "a");
        assertThat(es.invokeAny(both)).isEqualTo("a");
        List<Callable<String>> failing = List.of(() -> {
            throw new NullPointerException("first");
        }, () -> {
            throw new NullPointerException("second");
        });
        assertThatThrownBy(() -> es.invokeAny(failing)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(NullPointerException.class);
    }

    /**
     * Once {@code invokeAny} has a result it cancels the other tasks with interrupt: a task still
     * running is interrupted. Deterministic: the winning task returns only after the other one has
     * started, and the other one can end only by the interrupt. Mirrors the contract that
     * {@code invokeAny} cancels tasks that have not completed ({@code testTimedInvokeAny*}).
     */
    @Test
    void invokeAnyCancelsTheRest(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        Blocker loser = new Blocker();
        Callable<String> winner = () -> {
            loser.started.await();
            return "won";
        };
        assertThat(es.invokeAny(List.<Callable<String>>of(loser, winner))).isEqualTo("won");
        await(loser.interrupted, "the losing task was interrupted");
        es.shutdown();
        awaitTerminated(es);
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * {@code isShutdown} is false before {@code shutdown} and true after; every submission after it
     * is refused with {@link RejectedExecutionException}. Mirrors {@code testIsShutdown},
     * {@code testSubmittedTasksRejectedWhenShutdown} and {@code assertTaskSubmissionsAreRejected}.
     */
    @Test
    void shutdownRefusesEverySubmissionAfterIt(Kernel kernel) {
        ExecutorService es = kernel.systemWq().asExecutorService();
        assertThat(es.isShutdown()).isFalse();
        es.shutdown();
        assertThat(es.isShutdown()).isTrue();
        assertThatThrownBy(() -> es.execute(() -> { })).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> es.submit(() -> { })).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> es.submit(() -> { }, "x")).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> es.submit(() -> "x")).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> es.invokeAll(List.of(() -> "x"))).isInstanceOf(RejectedExecutionException.class);
        assertThatThrownBy(() -> es.invokeAny(List.of(() -> "x"))).isInstanceOf(RejectedExecutionException.class);
        assertThat(es.isTerminated()).isTrue();
    }

    /**
     * {@code shutdown} drains: tasks accepted before it still run, in order; the view is not
     * terminated while one is left, {@code awaitTermination} returns false before and true once the
     * last has finished. Mirrors {@code testIsTerminated} and {@code testAwaitTermination}.
     */
    @Test
    void shutdownLetsAcceptedTasksRunThenTerminates(Kernel kernel) throws Exception {
        ExecutorService es = ordered(kernel).asExecutorService();
        CountDownLatch gateStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        es.execute(() -> {
            gateStarted.countDown();
            await(release, "released");
            order.add(0);
        });
        for (int i = 1; i <= 3; i++) {
            int n = i;
            es.execute(() -> order.add(n));
        }
        await(gateStarted, "the first task started");
        es.shutdown();
        assertThat(es.isShutdown()).isTrue();
        assertThat(es.isTerminated()).isFalse();
        assertThat(es.awaitTermination(1, TimeUnit.MILLISECONDS)).as("a task is held back").isFalse();
        release.countDown();
        awaitTerminated(es);
        assertThat(order).containsExactly(0, 1, 2, 3);
    }

    /**
     * A view with nothing accepted terminates at its {@code shutdown}; {@code awaitTermination}
     * then returns true at once, even with a zero timeout. Mirrors
     * {@code testAwaitTermination} (terminated case).
     */
    @Test
    void shutdownOfAnIdleViewTerminatesAtOnce(Kernel kernel) throws Exception {
        ExecutorService es = kernel.systemWq().asExecutorService();
        es.shutdown();
        assertThat(es.isTerminated()).isTrue();
        assertThat(es.awaitTermination(0, TimeUnit.NANOSECONDS)).isTrue();
        es.shutdown();   // again: no change
        assertThat(es.shutdownNow()).isEmpty();
        assertThat(es.isTerminated()).isTrue();
    }

    /**
     * {@code awaitTermination} on a view that was not shut down returns false when its timeout
     * passes. Mirrors {@code testAwaitTermination_timesOut}.
     */
    @Test
    void awaitTerminationWithoutShutdownTimesOut(Kernel kernel) throws Exception {
        ExecutorService es = kernel.systemWq().asExecutorService();
        assertThat(es.awaitTermination(0, TimeUnit.NANOSECONDS)).isFalse();
        assertThat(es.awaitTermination(1, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(es.isTerminated()).isFalse();
    }

    /**
     * {@code shutdownNow} returns, in submission order, the tasks that never started (the command
     * itself for {@code execute}, the future for {@code submit}), takes their work items off the
     * queue, leaves their futures open, and interrupts the running task; none of the returned
     * tasks runs, and the view terminates once the interrupted task has ended. A returned future can
     * still be run by its caller. Mirrors {@code ThreadPoolExecutorTest.testShutdownNow}.
     */
    @Test
    void shutdownNowReturnsTheUnstartedTasksAndInterruptsTheRunningOne(Kernel kernel) throws Exception {
        ExecutorService es = ordered(kernel).asExecutorService();
        Blocker running = new Blocker();
        Future<String> runningFuture = es.submit(running);
        AtomicInteger ran = new AtomicInteger();
        Runnable r1 = ran::incrementAndGet;
        Runnable r2 = ran::incrementAndGet;
        es.execute(r1);
        es.execute(r2);
        Future<Integer> f3 = es.submit(ran::incrementAndGet);
        await(running.started, "the first task started");

        List<Runnable> unstarted = es.shutdownNow();

        assertThat(es.isShutdown()).isTrue();
        assertThat(unstarted).containsExactly(r1, r2, (Runnable) f3);
        assertThat(f3.isDone()).isFalse();
        assertThat(((Work) f3).isPending()).as("its work item left the queue").isFalse();
        await(running.interrupted, "the running task was interrupted");
        awaitTerminated(es);
        assertThat(runningFuture.get()).isEqualTo("interrupted");
        assertThat(ran.get()).as("no returned task ran").isZero();
        assertThat(running.thread.isInterrupted()).as("the worker was given back without the interrupt").isFalse();

        ((Runnable) f3).run();
        assertThat(f3.get()).isEqualTo(1);
    }

    /**
     * A task that leaves its thread's interrupt status set does not pass it on: the worker is given
     * back clean, as {@code ThreadPoolExecutor} clears it between tasks.
     */
    @Test
    void aTaskThatInterruptsItselfDoesNotLeaveTheWorkerInterrupted(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        es.execute(() -> {
            ranOn.set(Thread.currentThread());
            Thread.currentThread().interrupt();
        });
        es.shutdown();
        awaitTerminated(es);
        assertThat(ranOn.get().isInterrupted()).isFalse();
    }

    /**
     * {@code cancel(true)} of a running task interrupts it; the future is cancelled
     * ({@code get} throws {@link CancellationException}) and the worker is given back without the
     * interrupt. Mirrors {@code FutureTaskTest.testCancelInterrupt} on an executor.
     */
    @Test
    void cancelWithInterruptStopsARunningTask(Kernel kernel) throws Exception {
        ExecutorService es = unbound(kernel).asExecutorService();
        Blocker blocker = new Blocker();
        Future<String> f = es.submit(blocker);
        await(blocker.started, "started");
        assertThat(f.cancel(true)).isTrue();
        assertThat(f.isCancelled()).isTrue();
        assertThat(f.isDone()).isTrue();
        assertThat(f.cancel(true)).as("a second cancel").isFalse();
        assertThatThrownBy(f::get).isInstanceOf(CancellationException.class);
        await(blocker.interrupted, "interrupted");
        es.shutdown();
        awaitTerminated(es);
        assertThat(blocker.thread.isInterrupted()).isFalse();
    }

    /**
     * {@code cancel} of a task that has not started takes its work item off the queue at once: it
     * never runs, and does not hold back termination. Mirrors {@code FutureTaskTest
     * .testCancelBeforeRun} on an executor (like STPE's remove-on-cancel policy).
     */
    @Test
    void cancelOfAQueuedTaskRemovesIt(Kernel kernel) throws Exception {
        ExecutorService es = ordered(kernel).asExecutorService();
        CountDownLatch gateStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        es.execute(() -> {
            gateStarted.countDown();
            await(release, "released");
        });
        AtomicInteger ran = new AtomicInteger();
        Future<Integer> f = es.submit(ran::incrementAndGet);
        await(gateStarted, "the gate task started");
        assertThat(((Work) f).isPending()).isTrue();
        assertThat(f.cancel(false)).isTrue();
        assertThat(((Work) f).isPending()).isFalse();
        assertThat(((WorkqueueExecutorService) es).liveTasks()).as("only the gate task is left").isEqualTo(1);
        release.countDown();
        es.shutdown();
        awaitTerminated(es);
        assertThat(ran.get()).isZero();
        assertThatThrownBy(f::get).isInstanceOf(CancellationException.class);
    }

    /**
     * A submit racing with a shutdown is either refused or accepted, and every accepted task runs
     * ({@code shutdown}) or runs or is handed back ({@code shutdownNow}): none is lost, none runs
     * after being handed back. The class javadoc's ordering claim; {@code ThreadPoolExecutor}'s
     * {@code execute} recheck gives the same.
     */
    @Test
    void submitRacingWithShutdownIsNeverLost(Kernel kernel) throws Exception {
        for (int round = 0; round < 40; round++) {
            boolean now = round % 2 == 1;
            ExecutorService es = kernel.allocWorkqueue("race" + round, 0, WqFlag.UNBOUND).asExecutorService();
            AtomicInteger ran = new AtomicInteger();
            AtomicInteger accepted = new AtomicInteger();
            List<Future<?>> futures = Collections.synchronizedList(new ArrayList<>());
            Worker submitter = Worker.start("submitter", () -> {
                for (;;) {
                    try {
                        futures.add(es.submit(ran::incrementAndGet));
                        accepted.incrementAndGet();
                    } catch (RejectedExecutionException refused) {
                        return;
                    }
                }
            });
            try {
                spinUntil(() -> accepted.get() >= 20, "twenty tasks accepted");
                List<Runnable> returned = now ? es.shutdownNow() : List.of();
                if (!now) {
                    es.shutdown();
                }
                submitter.joinAndCheck();
                awaitTerminated(es);
                assertThat(futures).hasSize(accepted.get());
                assertThat(ran.get() + returned.size()).as("round " + round).isEqualTo(accepted.get());
                for (Runnable r : returned) {
                    assertThat(((Future<?>) r).isDone()).as("a returned task did not run").isFalse();
                }
            } finally {
                Worker.joinQuietly(submitter);
            }
        }
    }

    // ---------------------------------------------------------------- the queue behind the view

    /**
     * When the queue refuses the item (it was destroyed) the view throws
     * {@link RejectedExecutionException} with the queue's reason as the cause, keeps nothing of the
     * task, and is not itself shut down.
     */
    @Test
    void aDestroyedQueueRefusesTheViewsTasks(Kernel kernel) {
        Workqueue wq = kernel.allocWorkqueue("destroyed", 0);
        ExecutorService es = wq.asExecutorService();
        wq.destroy();
        assertThatThrownBy(() -> es.execute(() -> { })).isInstanceOf(RejectedExecutionException.class)
                .hasCauseInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> es.submit(() -> "x")).isInstanceOf(RejectedExecutionException.class);
        assertThat(es.isShutdown()).isFalse();
        es.shutdown();
        assertThat(es.isTerminated()).isTrue();
    }

    /**
     * Shutting a view down neither destroys its queue nor affects another view of the same queue.
     */
    @Test
    void viewsAreIndependentOfTheQueueAndOfEachOther(Kernel kernel) throws Exception {
        Workqueue wq = kernel.allocWorkqueue("shared", 0);
        ExecutorService a = wq.asExecutorService();
        ExecutorService b = wq.asExecutorService();
        a.shutdown();
        assertThat(get(b.submit(() -> "b"))).isEqualTo("b");
        CountDownLatch ran = new CountDownLatch(1);
        assertThat(wq.queue(new Work(w -> ran.countDown()))).isTrue();
        await(ran, "a plain work item ran");
        assertThat(b.isShutdown()).isFalse();
    }

    /**
     * On a BH workqueue the view's tasks run in softirq context, and their futures complete as
     * anywhere else.
     */
    @Test
    void onABhQueueTasksRunInSoftirqContext(Kernel kernel) throws Exception {
        ExecutorService es = kernel.systemBhWq().asExecutorService();
        assertThat(get(es.submit(kernel::inServingSoftirq))).isTrue();
        es.shutdown();
        awaitTerminated(es);
    }
}
