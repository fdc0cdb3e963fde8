package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.testkit.Worker;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitParked;
import static io.kdefer.testkit.Waits.awaitWaiting;
import static io.kdefer.testkit.Waits.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code keventd} and {@code schedule_task} ({@link Keventd}) against spec §10.8 item 156 and
 * §8.3: interrupt-context scheduling, the single process-context thread, the already-queued
 * answer, flushing, head-of-line blocking by a sleeping task, and close under load.
 */
class KeventdTest {

    /**
     * §10.8 item 156: schedule_task from interrupt context returns true and the routine runs
     * later, in process context, on the one thread named keventd.
     */
    @Test
    void scheduleTaskFromInterruptContextRunsLaterOnKeventd(Kernel kernel) {
        Keventd k = kernel.keventd();
        List<String> where = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<Boolean> queued = new AtomicReference<>();
        Runnable task = () -> where.add(Thread.currentThread().getName() + " task=" + kernel.inTask()
                + " keventd=" + k.currentIsKeventd());
        kernel.smpCallFunctionSingle(1, () -> {
            queued.set(k.scheduleTask(task));
            assertThat(where).isEmpty();   // not run inline from the hardirq
        }, true);
        assertThat(queued.get()).isTrue();
        k.flushScheduledTasks();
        assertThat(where).containsExactly("keventd task=true keventd=true");
        assertThat(k.currentIsKeventd()).isFalse();
        // a second task runs on the same single thread
        Thread first = k.thread();
        k.scheduleTask(() -> where.add(Thread.currentThread().getName()));
        k.flushScheduledTasks();
        assertThat(k.thread()).isSameAs(first);
        assertThat(where).hasSize(2).last().isEqualTo("keventd");
    }

    /** §10.8 item 156: schedule_task returns false while the task is already queued; it then runs once. */
    @Test
    void scheduleTaskReturnsFalseWhileQueued(Kernel kernel) {
        Keventd k = kernel.keventd();
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        k.scheduleTask(() -> {
            in.countDown();
            await(release);
        });
        await(in);   // keventd is busy: what follows stays queued
        AtomicInteger runs = new AtomicInteger();
        Runnable task = runs::incrementAndGet;
        assertThat(k.scheduleTask(task)).isTrue();
        assertThat(k.scheduleTask(task)).isFalse();
        assertThat(kernel.taskQueue(TaskQueue.SCHEDULER).queueTask(task)).isFalse();
        assertThat(k.queued()).isEqualTo(1);
        release.countDown();
        k.flushScheduledTasks();
        assertThat(runs).hasValue(1);
    }

    /** §8.3: flush_scheduled_tasks waits until the tasks scheduled before it have run. */
    @Test
    void flushWaitsForEarlierTasks(Kernel kernel) {
        Keventd k = kernel.keventd();
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger after = new AtomicInteger();
        k.scheduleTask(() -> {
            in.countDown();
            await(release);
        });
        k.scheduleTask(after::incrementAndGet);
        await(in);
        Worker flusher = Worker.start("flusher", k::flushScheduledTasks);
        awaitWaiting(flusher);
        assertThat(flusher.isAlive()).isTrue();
        assertThat(after).hasValue(0);
        release.countDown();
        flusher.joinAndCheck();
        assertThat(after).hasValue(1);   // the flush returned after the second task too
    }

    /**
     * §8.3: a task that sleeps delays every other scheduled task (one thread, no concurrency
     * management): the second task runs only once the first one's msleep has ended.
     */
    @Test
    void aSleepingTaskDelaysTheOthers(Kernel kernel, ManualClock clock) {
        Keventd k = kernel.keventd();
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch sleeping = new CountDownLatch(1);
        k.scheduleTask(() -> {
            order.add("sleeper starts");
            sleeping.countDown();
            kernel.msleep(5);
            order.add("sleeper wakes at " + kernel.jiffies());
        });
        k.scheduleTask(() -> order.add("second"));
        await(sleeping);
        awaitWaiting(k.thread());   // asleep in msleep
        long start = kernel.jiffies();
        // msleep(5) at HZ 1000: a timer 5 + 1 jiffies ahead, and the task returns at the tick
        // after it expired (the wheel's "never early")
        clock.tick(6);
        assertThat(order).containsExactly("sleeper starts");
        awaitWaiting(k.thread());
        clock.tick();
        k.flushScheduledTasks();
        assertThat(order).containsExactly("sleeper starts", "sleeper wakes at " + (start + 7), "second");
    }

    /** §8.3: a task that requeues itself is run again by keventd, in a later pass. */
    @Test
    void aSelfRequeueingTaskRunsAgainInTheNextPass(Kernel kernel) {
        Keventd k = kernel.keventd();
        AtomicInteger runs = new AtomicInteger();
        Runnable[] self = new Runnable[1];
        self[0] = () -> {
            if (runs.incrementAndGet() < 3) {
                assertThat(k.scheduleTask(self[0])).isTrue();
            }
        };
        k.scheduleTask(self[0]);
        spinUntil(() -> runs.get() == 3 && k.queued() == 0, "three runs");
        k.flushScheduledTasks();
        assertThat(runs).hasValue(3);
    }

    /** Misuse: flushing from keventd itself, or from atomic context. */
    @Test
    void flushFromKeventdOrAtomicContextIsRefused(Kernel kernel) {
        Keventd k = kernel.keventd();
        AtomicReference<Throwable> fromKeventd = new AtomicReference<>();
        k.scheduleTask(() -> {
            try {
                k.flushScheduledTasks();
            } catch (Throwable t) {
                fromKeventd.set(t);
            }
        });
        k.flushScheduledTasks();
        assertThat(fromKeventd.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("flush_scheduled_tasks() from keventd itself");
        kernel.smpCallFunctionSingle(0, () -> assertThatThrownBy(k::flushScheduledTasks)
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("atomic context"), true);
    }

    /** A task that throws is reported; keventd goes on with the next one. */
    @Test
    void aThrowingTaskIsReportedAndKeventdGoesOn(Kernel kernel, CollectingErrors errors) {
        Keventd k = kernel.keventd();
        AtomicInteger runs = new AtomicInteger();
        k.scheduleTask(() -> {
            throw new IllegalStateException("task failed");
        });
        k.scheduleTask(runs::incrementAndGet);
        k.flushScheduledTasks();
        assertThat(runs).hasValue(1);
        assertThat(errors.take()).singleElement()
                .satisfies(r -> assertThat(r.error()).hasMessage("task failed"));
        assertThat(k.thread().isAlive()).isTrue();
    }

    /**
     * Close under load loses no task: tasks queued behind a busy keventd, and tasks those tasks
     * schedule while close drains, all run; then keventd is joined and scheduling is refused.
     */
    @Test
    void closeRunsEveryQueuedTaskAndJoinsKeventd(Kernel kernel) {
        Keventd k = kernel.keventd();
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        k.scheduleTask(() -> {
            in.countDown();
            await(release);
        });
        await(in);
        for (int i = 0; i < 100; i++) {
            k.scheduleTask(() -> {
                runs.incrementAndGet();
                k.scheduleTask(runs::incrementAndGet);   // each schedules one more
            });
        }
        Thread keventd = k.thread();
        Worker closer = Worker.start("closer", kernel::close);
        awaitParked(closer);   // close() waits for keventd's pass
        release.countDown();
        closer.joinAndCheck();
        assertThat(runs).hasValue(200);
        assertThat(keventd.isAlive()).isFalse();
        assertThatThrownBy(() -> k.scheduleTask(() -> { })).isInstanceOf(IllegalStateException.class);
    }
}
