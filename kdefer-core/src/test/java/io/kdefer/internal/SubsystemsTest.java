package io.kdefer.internal;

import io.kdefer.Kernel;
import io.kdefer.testkit.TestKernels;
import io.kdefer.testkit.CollectingErrors;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;
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

    /** Softirqs, tasklets, timers and interrupt lines, in that order, before any of them is used. */
    @Test
    void everyKernelBuildsEverySubsystemInOrder() {
        try (Kernel k = TestKernels.start(TestKernels.manual(1, new CollectingErrors()))) {
            KernelRuntime rt = Secrets.runtime(k);
            List<String> names = new ArrayList<>();
            for (Subsystem s : rt.subsystems()) {
                names.add(s.name());
            }
            assertThat(names).containsExactly("softirqs", "tasklets", "timers", "irqs");
            assertThat(rt.subsystems()[0]).isSameAs(rt.softirqs);
        }
    }

    /**
     * A handler registered at the WORK stage of TASKLET runs before the tasklets of the same
     * invocation; one on HI runs before the HI tasklets, and the whole HI vector before TASKLET.
     */
    @Test
    void bottomHalfWorkRunsBeforeTaskletsOnTheSameVector() throws Exception {
        CollectingErrors errors = new CollectingErrors();
        try (Kernel k = TestKernels.start(TestKernels.manual(1, errors))) {
            KernelRuntime rt = Secrets.runtime(k);
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            rt.softirqs.registerBh(SoftirqVector.HI, SoftirqTable.BhStage.WORK, () -> order.add("hi work"));
            rt.softirqs.registerBh(SoftirqVector.TASKLET, SoftirqTable.BhStage.WORK, () -> order.add("work"));
            Tasklet normal = Tasklet.setup(k, t -> order.add("tasklet"));
            Tasklet hi = Tasklet.setup(k, t -> order.add("hi tasklet"));
            k.workOnCpu(0, () -> {
                k.localBhDisable();
                try {
                    normal.schedule();
                    hi.hiSchedule();
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
            assertThatThrownBy(() -> table.registerBh(SoftirqVector.NET_RX, SoftirqTable.BhStage.WORK, () -> { }))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a bottom-half vector");
            assertThatThrownBy(() -> k.softirqs().open(SoftirqVector.TASKLET, () -> { }))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("kdefer owns this vector");
        }
    }
}
