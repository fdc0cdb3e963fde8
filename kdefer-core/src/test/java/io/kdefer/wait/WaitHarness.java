package io.kdefer.wait;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.internal.SleepHooks;
import io.kdefer.internal.TaskSleep;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.Waits;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link ManualClock} kernel for the wait tests, and {@link Waiter} threads that make one blocking
 * call each, record what it returned or threw, and are joined by {@link #close()}. Each waiter
 * carries {@link RecordingHooks}, so every test also sees which sleep/wake calls it made.
 */
final class WaitHarness implements AutoCloseable {
    final CollectingErrors errors = new CollectingErrors();
    final Kernel kernel;
    final ManualClock clock;
    private final List<Waiter> waiters = new ArrayList<>();

    WaitHarness(int cpus) {
        kernel = TestKernels.track(TestKernels.manual(cpus, errors).build());
        clock = TestKernels.clock(kernel);
    }

    /** A blocking call made by a {@link Waiter}. */
    interface Call {
        long call() throws Exception;
    }

    /** The hooks a waiter installs: every call in order, as "sleeping" or "running". */
    static final class RecordingHooks implements SleepHooks {
        final ConcurrentLinkedQueue<String> events = new ConcurrentLinkedQueue<>();

        @Override
        public void sleeping(Thread thread) {
            assertThat(thread).isSameAs(Thread.currentThread());
            events.add("sleeping");
        }

        @Override
        public void running(Thread thread) {
            assertThat(thread).isSameAs(Thread.currentThread());
            events.add("running");
        }

        List<String> events() {
            return new ArrayList<>(events);
        }
    }

    /** A task thread that installs {@link RecordingHooks} and makes one blocking call. */
    final class Waiter {
        final Thread thread;
        final RecordingHooks hooks = new RecordingHooks();
        final AtomicReference<Long> result = new AtomicReference<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile long returnedAt;
        volatile boolean interruptedAtReturn;

        Waiter(String name, Call call) {
            thread = new Thread(() -> {
                TaskSleep.setHooks(hooks);
                try {
                    long r = call.call();
                    returnedAt = kernel.jiffies();
                    interruptedAtReturn = Thread.currentThread().isInterrupted();
                    result.set(r);
                } catch (Throwable e) {
                    returnedAt = kernel.jiffies();
                    interruptedAtReturn = Thread.currentThread().isInterrupted();
                    failure.set(e);
                } finally {
                    TaskSleep.setHooks(null);
                }
            }, name);
            thread.setDaemon(true);
            waiters.add(this);
            thread.start();
        }

        /** Spins until the waiter is parked on {@code blocker} (it registered and sleeps), or ended. */
        Waiter awaitParkedOn(Object blocker) {
            Waits.spinUntil(() -> !thread.isAlive()
                    || (thread.getState() == Thread.State.WAITING && LockSupport.getBlocker(thread) == blocker),
                    thread.getName() + " parked on " + blocker);
            return this;
        }

        boolean ended() {
            return result.get() != null || failure.get() != null;
        }

        /** Joins the waiter and returns what its call returned; fails if it threw. */
        long join() throws InterruptedException {
            Waits.join(thread);
            if (failure.get() != null) {
                throw new AssertionError(thread.getName() + " failed", failure.get());
            }
            return result.get();
        }

        /** Joins the waiter and returns what its call threw; fails if it returned. */
        Throwable joinFailure() throws InterruptedException {
            Waits.join(thread);
            assertThat(failure.get()).as(thread.getName() + " threw").isNotNull();
            return failure.get();
        }
    }

    Waiter start(String name, Call call) {
        return new Waiter(name, call);
    }

    /**
     * Ticks one jiffy at a time until jiffies reach {@code until}, checking after each tick that
     * {@code w} is still parked on {@code blocker} and has not returned.
     */
    void tickWhileAsleep(Waiter w, Object blocker, long until) {
        while (kernel.jiffies() - until < 0) {
            clock.tick();
            w.awaitParkedOn(blocker);
            assertThat(w.ended()).as("%s returned early, at jiffies %d", w.thread.getName(), w.returnedAt).isFalse();
        }
    }

    /** Interrupts and wakes every waiter still running, joins them all, and closes the kernel. */
    @Override
    public void close() throws InterruptedException {
        try {
            for (Waiter w : waiters) {
                for (int i = 0; i < 1000 && w.thread.isAlive(); i++) {
                    w.thread.interrupt();
                    clock.tick();
                    Thread.onSpinWait();
                }
                Waits.join(w.thread);
            }
            errors.assertNone();
        } finally {
            kernel.close();
        }
    }
}
