package io.kdefer.legacy;

import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.testkit.CollectingErrors;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Task queues ({@link TaskQueue}) against spec §10.8 item 155 and §8.2: the sync bit, the run that
 * clears it before each routine (so a routine requeues itself for the next run), {@code tq_timer}
 * from the tick, {@code tq_immediate} with {@code IMMEDIATE_BH}, and what close does with tasks
 * nobody ran.
 */
class TaskQueueTest {

    /** §10.8 item 155: queue_task returns 1 the first time and 0 while the task is queued. */
    @Test
    void queueTaskReturnsTrueThenFalseWhileQueued(Kernel kernel) {
        TaskQueue q = new TaskQueue(kernel, "tq_test");
        AtomicInteger runs = new AtomicInteger();
        Runnable task = runs::incrementAndGet;
        assertThat(q.queueTask(task)).isTrue();
        assertThat(q.queueTask(task)).isFalse();
        assertThat(q.size()).isEqualTo(1);
        assertThat(runs).hasValue(0);   // queueing runs nothing
        q.run();
        assertThat(runs).hasValue(1);
        assertThat(q.isEmpty()).isTrue();
        assertThat(q.queueTask(task)).isTrue();   // the bit is clear again
        q.run();
        assertThat(runs).hasValue(2);
        assertThat(q.runs()).isEqualTo(2);
    }

    /** §10.8 item 155: one sync bit per task: a task waiting on one queue cannot join another. */
    @Test
    void aQueuedTaskCannotJoinAnotherQueue(Kernel kernel) {
        TaskQueue a = new TaskQueue(kernel, "a");
        TaskQueue b = new TaskQueue(kernel, "b");
        Runnable task = () -> { };
        assertThat(a.queueTask(task)).isTrue();
        assertThat(b.queueTask(task)).isFalse();
        a.run();
        assertThat(b.queueTask(task)).isTrue();
        b.run();
    }

    /**
     * §10.8 item 155: run_task_queue clears the sync bit before calling the routine, so the routine
     * requeues itself, and that lands on the next run, not this one.
     */
    @Test
    void aRoutineRequeuesItselfForTheNextRun(Kernel kernel) {
        TaskQueue q = new TaskQueue(kernel, "tq_self");
        List<Boolean> requeued = new ArrayList<>();
        AtomicInteger runs = new AtomicInteger();
        Runnable[] self = new Runnable[1];
        self[0] = () -> {
            if (runs.incrementAndGet() == 1) {
                requeued.add(q.queueTask(self[0]));
            }
        };
        q.queueTask(self[0]);
        q.run();
        assertThat(runs).hasValue(1);   // not run again within the same run
        assertThat(requeued).containsExactly(true);
        assertThat(q.size()).isEqualTo(1);
        q.run();
        assertThat(runs).hasValue(2);
        assertThat(q.isEmpty()).isTrue();
    }

    /** §8.2: tasks run in queueing order; a throwing task is reported and the run goes on. */
    @Test
    void tasksRunInOrderAndAThrowingTaskIsReported(Kernel kernel, CollectingErrors errors) {
        TaskQueue q = new TaskQueue(kernel, "tq_order");
        List<String> order = new ArrayList<>();
        q.queueTask(() -> order.add("a"));
        q.queueTask(() -> {
            throw new IllegalArgumentException("bad task");
        });
        q.queueTask(() -> order.add("c"));
        q.run();
        assertThat(order).containsExactly("a", "c");
        assertThat(errors.take()).singleElement().satisfies(r -> {
            assertThat(r.source().toString()).contains("tq_order");
            assertThat(r.error()).hasMessage("bad task");
        });
    }

    /** §8.2: tq_timer runs from the tick (TQUEUE_BH, HI softirq context), one tick after queueing. */
    @Test
    void tqTimerRunsFromTheNextTickInBottomHalfContext(Kernel kernel, ManualClock clock) {
        TaskQueue timer = kernel.taskQueue(TaskQueue.TIMER);
        assertThat(timer.name()).isEqualTo("tq_timer");
        List<Boolean> softirq = new ArrayList<>();
        List<Long> at = new ArrayList<>();
        timer.queueTask(() -> {
            softirq.add(kernel.inServingSoftirq());
            at.add(kernel.jiffies());
        });
        long queuedAt = kernel.jiffies();
        assertThat(softirq).isEmpty();
        clock.tick();
        assertThat(softirq).containsExactly(true);
        assertThat(at).containsExactly(queuedAt + 1);
        assertThat(timer.isEmpty()).isTrue();
    }

    /** §8.2: tq_immediate runs when IMMEDIATE_BH is marked, on the marking CPU, in softirq context. */
    @Test
    void tqImmediateRunsWhenImmediateBhIsMarked(Kernel kernel) {
        TaskQueue imm = kernel.taskQueue(TaskQueue.IMMEDIATE);
        BottomHalves bh = kernel.bottomHalves();
        List<Integer> cpus = new ArrayList<>();
        Runnable task = () -> cpus.add(kernel.smpProcessorId());
        kernel.smpCallFunctionSingle(1, () -> assertThat(imm.queueTask(task)).isTrue(), true);
        assertThat(cpus).isEmpty();   // queued, but nobody marked IMMEDIATE_BH
        kernel.smpCallFunctionSingle(1, () -> bh.mark(BottomHalves.IMMEDIATE_BH), true);
        assertThat(cpus).containsExactly(1);
        kernel.smpCallFunctionSingle(0, () -> assertThat(bh.queueImmediate(task)).isTrue(), true);
        assertThat(cpus).containsExactly(1, 0);
    }

    /** tq_context belongs to keventd: running it from anywhere else is refused. */
    @Test
    void onlyKeventdRunsTheSchedulerQueue(Kernel kernel) {
        TaskQueue ctx = kernel.taskQueue(TaskQueue.SCHEDULER);
        assertThat(ctx.name()).isEqualTo("tq_context");
        assertThatThrownBy(ctx::run).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("run_task_queue(tq_context)").hasMessageContaining("only keventd");
    }

    /**
     * Close loses nothing: tq_immediate tasks whose queuer never marked IMMEDIATE_BH are run, and
     * tasks left on a queue of the user's are reported.
     */
    @Test
    void closeRunsThePredefinedQueuesAndReportsTheUsersLeftovers(Kernel kernel, CollectingErrors errors) {
        AtomicInteger runs = new AtomicInteger();
        kernel.taskQueue(TaskQueue.IMMEDIATE).queueTask(runs::incrementAndGet);
        kernel.taskQueue(TaskQueue.TIMER).queueTask(runs::incrementAndGet);
        TaskQueue mine = new TaskQueue(kernel, "tq_mine");
        mine.queueTask(() -> { });
        kernel.close();
        assertThat(runs).hasValue(2);
        assertThat(errors.take()).singleElement().satisfies(r ->
                assertThat(r.error()).hasMessageContaining("tq_mine").hasMessageContaining("1 task(s) still queued"));
        assertThatThrownBy(() -> mine.queueTask(() -> { })).isInstanceOf(IllegalStateException.class);
    }
}
