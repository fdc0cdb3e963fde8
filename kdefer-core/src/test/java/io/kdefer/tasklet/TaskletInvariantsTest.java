package io.kdefer.tasklet;

import io.kdefer.KernelCheck;
import io.kdefer.internal.Secrets;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static io.kdefer.KernelStats.Counter.TASKLET_REQUEUES;
import static io.kdefer.testkit.Waits.await;
import static io.kdefer.testkit.Waits.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelCheck} on the tasklet lists: a deliberately corrupted list is reported, so the check
 * that runs after every test cannot pass everything. Each corruption is made on the thread that
 * owns CPU 0's bottom halves (inside {@code localBhDisable}), where the lists are quiescent, and
 * undone before the section ends. Spec §3.1 (the SCHED bit, the per-CPU lists).
 *
 * <p>The lists carry tasklets on {@code SOFTIRQ} only; on the workqueue backends a schedule queues
 * a carrier work item instead, so the list tests are skipped there. The runner's own check (a
 * queued tasklet without SCHED is not called) is tested on every backend.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TaskletBackend.class)
class TaskletInvariantsTest {
    private static final String LISTS_ON_SOFTIRQ_ONLY =
            "the per-CPU tasklet lists are not used; a schedule queues the tasklet's carrier work item";

    private final TaskletBackend backend;

    TaskletInvariantsTest(TaskletBackend backend) {
        this.backend = backend;
    }


    private static List<String> violations(TaskletHarness h) {
        return KernelCheck.violations(h.kernel, true);
    }

    /** A tasklet on CPU 0's list whose SCHED bit was cleared is reported, and the runner refuses it. */
    @Test
    void aListedTaskletWithoutSchedIsReported() {
        TaskletHarness.assumeBackend(backend, TaskletBackend.SOFTIRQ, LISTS_ON_SOFTIRQ_ONLY);
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            h.bhSection(0, () -> {
                t.schedule();
                assertThat(violations(h)).noneMatch(v -> v.contains("tasklet"));
                assertThat(t.clearSchedForRun()).isTrue();   // the corruption
                assertThat(violations(h)).anySatisfy(v -> assertThat(v)
                        .contains("on cpu 0's TASKLET list: SCHED clear")
                        .contains("rule: a listed tasklet has SCHED set"));
            });
            assertThat(runs).as("the runner does not call a listed tasklet without SCHED").hasValue(0);
            assertThat(h.takeErrors()).singleElement().satisfies(r -> assertThat(r.error())
                    .hasMessageContaining("without SCHED set"));
        }
    }

    /**
     * The converse rule, which needs the kernel's object registry ({@code debugObjects}, on in the
     * test kit): a tasklet with SCHED set that is on no list (here taken off CPU 0's list) is
     * reported; put back, it runs. Spec §3.1 (SCHED means "on exactly one list").
     */
    @Test
    void aScheduledTaskletOnNoListIsReported() {
        TaskletHarness.assumeBackend(backend, TaskletBackend.SOFTIRQ, LISTS_ON_SOFTIRQ_ONLY);
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            TaskletList list = TaskletEngine.of(Secrets.runtime(h.kernel)).normal[0];
            h.bhSection(0, () -> {
                t.schedule();
                assertThat(list.detachFifo()).isSameAs(t);     // the corruption: SCHED set, on no list
                assertThat(violations(h)).anySatisfy(v -> assertThat(v)
                        .contains("SCHED set but on no list")
                        .contains("rule: a scheduled tasklet is on exactly one list"));
                list.pushOwner(t);                             // undone
                assertThat(violations(h)).noneMatch(v -> v.contains("tasklet"));
            });
            assertThat(runs).hasValue(1);
        }
    }

    /** A tasklet also pushed on the HI list of its CPU is reported as on two lists. */
    @Test
    void aTaskletOnTwoListsIsReported() {
        TaskletHarness.assumeBackend(backend, TaskletBackend.SOFTIRQ, LISTS_ON_SOFTIRQ_ONLY);
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            TaskletEngine engine = TaskletEngine.of(Secrets.runtime(h.kernel));
            h.bhSection(0, () -> {
                t.schedule();
                engine.hi[0].push(t);                            // the corruption
                assertThat(violations(h)).anySatisfy(v -> assertThat(v)
                        .contains("on cpu 0's HI list and on cpu 0's TASKLET list")
                        .contains("rule: a tasklet is on at most one list"));
                assertThat(engine.hi[0].detachFifo()).isSameAs(t);   // undone
                t.next = null;
                assertThat(violations(h)).noneMatch(v -> v.contains("tasklet"));
            });
            assertThat(runs).hasValue(1);
        }
    }

    /** A tasklet queued twice on one list (here a cycle of one) is reported, and the walk ends. */
    @Test
    void aTaskletTwiceOnOneListIsReported() {
        TaskletHarness.assumeBackend(backend, TaskletBackend.SOFTIRQ, LISTS_ON_SOFTIRQ_ONLY);
        try (TaskletHarness h = new TaskletHarness(backend, 1)) {
            AtomicInteger runs = new AtomicInteger();
            Tasklet t = Tasklet.setup(h.kernel, self -> runs.incrementAndGet());
            TaskletList list = TaskletEngine.of(Secrets.runtime(h.kernel)).normal[0];
            h.bhSection(0, () -> {
                t.schedule();
                list.pushOwner(t);                               // the corruption: t -> t
                assertThat(violations(h)).anySatisfy(v -> assertThat(v)
                        .contains("cpu 0's TASKLET list: a tasklet is on it twice")
                        .contains("rule: a tasklet is on a list at most once"));
                assertThat(list.detachFifo()).isSameAs(t);       // undone: t -> null
                list.pushOwner(t);
                assertThat(violations(h)).noneMatch(v -> v.contains("tasklet"));
            });
            assertThat(runs).hasValue(1);
        }
    }

    /**
     * A tasklet whose SCHED bit is cleared while it waits for its run (runners keep finding it
     * locked: this thread holds RUN) is not called when its run comes; the runner reports it
     * ({@code tasklet_clear_sched()} WARNs in the kernel) and leaves it idle, and it can be scheduled
     * again. The runner is {@code tasklet_action} on {@code SOFTIRQ}, the carrier's function on the
     * workqueue backends. Spec §3.4.
     */
    @Test
    void aQueuedTaskletWithoutSchedIsNotCalledAndIsReported() {
        try (TaskletHarness h = new TaskletHarness(backend, 2)) {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch ran = new CountDownLatch(1);
            Tasklet t = Tasklet.setup(h.kernel, self -> {
                runs.incrementAndGet();
                ran.countDown();
            });
            assertThat(t.tryLock()).isTrue();
            try {
                h.onCpu(1, t::schedule);
                h.awaitStat(1, TASKLET_REQUEUES, 1);               // a runner found it locked
                assertThat(t.clearSchedForRun()).isTrue();         // the corruption
            } finally {
                t.unlock();
            }
            spinUntil(() -> h.kernel.stats().errors() == 1, "the runner reports the tasklet");
            t.unlockWait();

            assertThat(h.takeErrors()).singleElement().satisfies(r -> {
                assertThat(r.source()).isSameAs(t);
                assertThat(r.error()).hasMessageContaining("without SCHED set");
            });
            assertThat(runs).hasValue(0);
            assertThat(t.isScheduled()).isFalse();
            assertThat(h.kernel.runOnCpu(0, t::schedule)).isTrue();
            await(ran);
            h.kernel.close();
            assertThat(runs).hasValue(1);
        }
    }
}
