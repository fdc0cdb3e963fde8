package io.kdefer.internal;

import io.kdefer.Kernel;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;
import io.kdefer.workqueue.Work;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The subsystem list and the shared bottom-half vectors: every kernel builds every mechanism, in a
 * fixed order, whether or not it is ever used; HI and TASKLET run their BH work stage before their
 * tasklets, in one invocation (Linux 6.9+, spec §4.12; the workqueue side is §10.2 item 25).
 */
class SubsystemsTest {

    /** Softirqs, tasklets, timers, interrupt lines, workqueues and the historical mechanisms, in that order, before any of them is used. */
    @Test
    void everyKernelBuildsEverySubsystemInOrder() {
        try (Kernel k = TestKernels.start(TestKernels.manual(1, new CollectingErrors()))) {
            KernelRuntime rt = Secrets.runtime(k);
            List<String> names = new ArrayList<>();
            for (Subsystem s : rt.subsystems()) {
                names.add(s.name());
            }
            assertThat(names).containsExactly("softirqs", "tasklets", "timers", "irqs", "workqueues", "legacy");
            assertThat(rt.subsystems()[0]).isSameAs(rt.softirqs);
        }
    }

    /**
     * The BH workqueues' handlers sit at the WORK stage: a BH work item on TASKLET runs before the
     * tasklets of the same invocation; one on HI before the HI tasklets, and the whole HI vector
     * before TASKLET (§10.5 item 105).
     */
    @Test
    void bottomHalfWorkRunsBeforeTaskletsOnTheSameVector() throws Exception {
        CollectingErrors errors = new CollectingErrors();
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors))) {
            KernelRuntime rt = Secrets.runtime(k);
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            Work hiWork = new Work(w -> order.add("hi work"));
            Work work = new Work(w -> order.add("work"));
            Tasklet normal = Tasklet.setup(k, t -> order.add("tasklet"));
            Tasklet hi = Tasklet.setup(k, t -> order.add("hi tasklet"));
            k.runOnCpu(0, () -> {
                k.localBhDisable();
                try {
                    normal.schedule();
                    k.systemBhWq().queue(work);
                    hi.hiSchedule();
                    k.systemBhHighpriWq().queue(hiWork);
                } finally {
                    k.localBhEnable();   // one invocation of the loop, on this thread
                }
                return null;
            });
            assertThat(order).containsExactly("hi work", "hi tasklet", "work", "tasklet");
            errors.assertNone();
        }
    }

    /** A stage takes one handler; only HI and TASKLET are shared; the others belong to one owner. */
    @Test
    void bottomHalfRegistrationRules() {
        try (Kernel k = TestKernels.start(TestKernels.manual(1, new CollectingErrors()))) {
            SoftirqTable table = Secrets.runtime(k).softirqs;
            assertThatThrownBy(() -> table.registerBh(SoftirqVector.TASKLET, SoftirqTable.BhStage.TASKLETS, () -> { }))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has a TASKLETS handler");
            assertThatThrownBy(() -> table.registerBh(SoftirqVector.HI, SoftirqTable.BhStage.WORK, () -> { }))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has a WORK handler");
            assertThatThrownBy(() -> table.registerBh(SoftirqVector.NET_RX, SoftirqTable.BhStage.WORK, () -> { }))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a bottom-half vector");
            assertThatThrownBy(() -> k.softirqs().open(SoftirqVector.TASKLET, () -> { }))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("kdefer owns this vector");
        }
    }
}
