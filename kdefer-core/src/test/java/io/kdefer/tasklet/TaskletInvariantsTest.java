package io.kdefer.tasklet;

import io.kdefer.KernelCheck;
import io.kdefer.internal.Secrets;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelCheck} on the tasklet lists: a deliberately corrupted list is reported, so the check
 * that runs after every test cannot pass everything. Each corruption is made on the thread that
 * owns CPU 0's bottom halves (inside {@code localBhDisable}), where the lists are quiescent, and
 * undone before the section ends. Spec §3.1 (the SCHED bit, the per-CPU lists).
 */
class TaskletInvariantsTest {

    private static List<String> violations(TaskletHarness h) {
        return KernelCheck.violations(h.kernel, true);
    }

    /** A tasklet on CPU 0's list whose SCHED bit was cleared is reported, and the runner refuses it. */
    @Test
    void aListedTaskletWithoutSchedIsReported() {
        try (TaskletHarness h = new TaskletHarness(2)) {
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

    /** A tasklet also pushed on the HI list of its CPU is reported as on two lists. */
    @Test
    void aTaskletOnTwoListsIsReported() {
        try (TaskletHarness h = new TaskletHarness(2)) {
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
        try (TaskletHarness h = new TaskletHarness(1)) {
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
}
