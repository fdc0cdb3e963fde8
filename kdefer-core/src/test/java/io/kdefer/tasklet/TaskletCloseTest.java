package io.kdefer.tasklet;

import io.kdefer.testkit.Waits;
import io.kdefer.Kernel;
import io.kdefer.testkit.CollectingErrors.Report;
import io.kdefer.testkit.Worker;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.kdefer.KernelStats.Counter.TASKLET_REQUEUES;
import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.awaitWaiting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Tasklets and {@link Kernel#close()}: close runs what is still queued (and what callbacks queue
 * while it drains), refuses new work from outside, reports and drops a tasklet that is disabled
 * and scheduled (it could never run), and afterwards every tasklet call that needs the kernel
 * throws. Each test runs on every {@link TaskletBackend}; only the order in which close runs what
 * was queued depends on it.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TaskletBackend.class)
class TaskletCloseTest {

    private final TaskletBackend backend;

    TaskletCloseTest(TaskletBackend backend) {
        this.backend = backend;
    }


    /**
     * Tasklets queued when close begins (normal and HI, held up behind a callback that blocks the
     * CPU) all run before close returns, as does a tasklet a callback schedules during close;
     * a schedule from outside the kernel's threads during close is refused. The order they run in:
     * <ul>
     *   <li>{@code SOFTIRQ}: the HI vector first in the next pass, then TASKLET in schedule order.</li>
     *   <li>{@code BH_WORKQUEUE}: the BH worker that ran the blocker goes on with the items queued
     *       behind it on {@code system_bh_wq}, the one the blocker queued included (its batch holds
     *       10), before the pass ends and the HI vector gets its turn: HI last.</li>
     *   <li>{@code WORKQUEUE}: the normal carriers in schedule order; the HI carrier's kworker
     *       ({@code ktasklets_hi}) waits for the CPU's bottom halves like them, and takes its turn
     *       in no defined place among them.</li>
     * </ul>
     */
    @Test
    void closeRunsQueuedTaskletsAndRefusesOutsideWork() throws Exception {
        TaskletHarness h = new TaskletHarness(backend, 2);
        try (h) {
            Kernel k = h.kernel;
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch blockerStarted = new CountDownLatch(1);
            CountDownLatch releaseBlocker = new CountDownLatch(1);
            AtomicBoolean lateScheduleAccepted = new AtomicBoolean();
            Tasklet late = Tasklet.setup(k, self -> order.add("late"));
            Tasklet blocker = Tasklet.setup(k, self -> {
                blockerStarted.countDown();
                await(releaseBlocker);
                order.add("blocker");
                lateScheduleAccepted.set(late.schedule());   // from a kdefer thread: accepted
            });
            Tasklet a = Tasklet.setup(k, self -> order.add("a"));
            Tasklet b = Tasklet.setup(k, self -> order.add("b"));
            Tasklet hi = Tasklet.setup(k, self -> order.add("hi"));
            Tasklet outsider = Tasklet.setup(k, self -> order.add("outsider"));

            Worker closer = null;
            AtomicReference<Throwable> outsideSchedule = new AtomicReference<>();
            try {
                h.onCpu(0, blocker::schedule);
                await(blockerStarted);
                // queued behind the blocked callback: none can run before close begins
                h.onCpu(0, () -> {
                    a.schedule();
                    b.schedule();
                    hi.hiSchedule();
                });
                assertThat(order).isEmpty();

                closer = Worker.start("closer", k::close);
                awaitWaiting(closer);   // close began and waits for CPU 0 to drain
                try {
                    outsider.schedule();
                } catch (Throwable e) {
                    outsideSchedule.set(e);
                }
            } finally {
                releaseBlocker.countDown();
                Worker.joinQuietly(closer);
            }
            closer.joinAndCheck();

            assertThat(k.isClosed()).isTrue();
            assertThat(outsideSchedule.get())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closing");
            assertThat(lateScheduleAccepted).isTrue();
            switch (backend) {
                case SOFTIRQ:
                    assertThat(order).containsExactly("blocker", "hi", "a", "b", "late");
                    break;
                case BH_WORKQUEUE:
                    assertThat(order).containsExactly("blocker", "a", "b", "late", "hi");
                    break;
                default:
                    assertThat(order).hasSize(5).startsWith("blocker").contains("hi");
                    assertThat(order.stream().filter(e -> !e.equals("hi")))
                            .containsExactly("blocker", "a", "b", "late");
                    break;
            }
            assertThat(outsider.isScheduled()).isFalse();
        }
    }

    /**
     * A tasklet that is disabled and scheduled when the kernel closes can never run: close reports
     * it to the error handler (counted in {@code errors()}), unqueues it and returns.
     */
    @ParameterizedTest(name = "hi={0}")
    @ValueSource(booleans = {false, true})
    void closeReportsAndDropsDisabledScheduledTasklet(boolean hi) {
        TaskletHarness h = new TaskletHarness(backend, 2);
        try (h) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            t.disable();
            h.onCpu(0, hi ? t::hiSchedule : t::schedule);
            h.awaitStat(0, TASKLET_REQUEUES, 2);

            h.kernel.close();

            List<Report> errors = h.takeErrors();
            assertThat(errors).singleElement().satisfies(r -> {
                assertThat(r.source()).isSameAs(t);
                assertThat(r.error())
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("disabled and scheduled");
            });
            assertThat(h.kernel.stats().errors()).isEqualTo(1);
            assertThat(h.kernel.isClosed()).isTrue();
            assertThat(t.isScheduled()).isFalse();
            assertThat(t.count()).isEqualTo(1);
            assertThat(runs).hasValue(0);
        }
    }

    /**
     * After close, every tasklet call that needs the kernel throws {@link IllegalStateException}:
     * creating, scheduling (normal and HI), disabling, enabling and killing. Nothing runs.
     */
    @Test
    void taskletCallsAfterCloseThrow() {
        TaskletHarness h = new TaskletHarness(backend, 1);
        try (h) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            Tasklet d = Tasklet.setupDisabled(h.kernel, self -> runs.incrementAndGet());
            h.kernel.close();

            Map<String, ThrowingCallable> calls = Map.of(
                    "schedule", t::schedule,
                    "hiSchedule", t::hiSchedule,
                    "disable", t::disable,
                    "disableNosync", t::disableNosync,
                    "enable", d::enable,
                    "kill", t::kill,
                    "setup", () -> Tasklet.setup(h.kernel, self -> { }),
                    "init", () -> Tasklet.init(h.kernel, data -> { }, 1));
            calls.forEach((name, call) -> assertThatThrownBy(call)
                    .as(name)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("kernel is closed"));

            assertThat(t.isScheduled()).isFalse();
            assertThat(d.count()).isEqualTo(1);
            assertThat(runs).hasValue(0);
        }
    }
}
