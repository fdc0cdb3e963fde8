package io.kdefer.cli.lab;

import io.kdefer.Kernel;
import io.kdefer.softirq.SoftirqVector;
import io.kdefer.tasklet.Tasklet;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A mechanism of the {@code bottom-halves} experiment: each CPU has deferred work that, once
 * started, re-arms itself through the mechanism after every run while {@code on} says so. How many
 * runs complete per second as CPUs are added shows how much the mechanism lets CPUs run their
 * deferred work at the same time.
 *
 * <p>The old bottom halves (one global lock: {@code mark_bh} from each CPU, no two running at once
 * anywhere) join {@link #BOTTOM_HALVES} as one entry once the historical package is there.
 */
public interface ParallelDeferral {
    /** The row name. */
    String name();

    /**
     * Prepares the work of CPUs {@code 0..cpus-1} on {@code kernel}: each run calls {@code unit}
     * and re-arms while {@code on} is true.
     *
     * @return per CPU, the action that starts its work (called in hardirq context on that CPU)
     */
    List<Runnable> install(Kernel kernel, int cpus, Runnable unit, BooleanSupplier on);

    /** Distinct tasklets, one per CPU, each scheduled on its CPU and rescheduling itself. */
    ParallelDeferral TASKLETS = new ParallelDeferral() {
        @Override
        public String name() {
            return "tasklets";
        }

        @Override
        public List<Runnable> install(Kernel kernel, int cpus, Runnable unit, BooleanSupplier on) {
            List<Runnable> out = new ArrayList<>();
            for (int c = 0; c < cpus; c++) {
                Tasklet t = Tasklet.setup(kernel, self -> {
                    unit.run();
                    if (on.getAsBoolean()) {
                        self.schedule();
                    }
                });
                out.add(t::schedule);
            }
            return out;
        }
    };

    /** One softirq vector (NET_RX), raised on every CPU: its action runs on all of them at once. */
    ParallelDeferral SOFTIRQ = new ParallelDeferral() {
        @Override
        public String name() {
            return "softirq";
        }

        @Override
        public List<Runnable> install(Kernel kernel, int cpus, Runnable unit, BooleanSupplier on) {
            kernel.softirqs().open(SoftirqVector.NET_RX, () -> {
                if (on.getAsBoolean()) {
                    unit.run();
                    kernel.softirqs().raise(SoftirqVector.NET_RX);
                }
            });
            List<Runnable> out = new ArrayList<>();
            for (int c = 0; c < cpus; c++) {
                out.add(() -> kernel.softirqs().raise(SoftirqVector.NET_RX));
            }
            return out;
        }
    };

    /** The rows of the bottom-halves experiment, in table order. */
    List<ParallelDeferral> BOTTOM_HALVES = List.of(TASKLETS, SOFTIRQ);
}
