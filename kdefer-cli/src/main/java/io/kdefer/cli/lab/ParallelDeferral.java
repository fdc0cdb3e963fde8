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
 * <p>Rows: old bottom halves (one slot per CPU, each marked on its CPU, but one global lock: no
 * two run at once anywhere), distinct tasklets (one per CPU, in parallel), and one softirq vector
 * raised on every CPU (its action runs on all of them at once).
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

    /** The first old-bottom-half slot used: CPU {@code c} marks slot {@code FIRST_BH + c}. */
    int FIRST_BH = 16;

    /** Old bottom halves: CPU {@code c}'s work is slot {@code FIRST_BH + c}, which marks itself again. */
    ParallelDeferral OLD_BOTTOM_HALVES = new ParallelDeferral() {
        @Override
        public String name() {
            return "old-bh";
        }

        @Override
        public List<Runnable> install(Kernel kernel, int cpus, Runnable unit, BooleanSupplier on) {
            io.kdefer.legacy.BottomHalves bhs = kernel.bottomHalves();
            if (FIRST_BH + cpus > io.kdefer.legacy.BottomHalves.NR_BH) {
                throw new IllegalArgumentException("old bottom halves: at most "
                        + (io.kdefer.legacy.BottomHalves.NR_BH - FIRST_BH) + " CPUs in this experiment, not " + cpus);
            }
            List<Runnable> out = new ArrayList<>();
            for (int c = 0; c < cpus; c++) {
                final int nr = FIRST_BH + c;
                bhs.init(nr, () -> {
                    unit.run();
                    if (on.getAsBoolean()) {
                        bhs.mark(nr);
                    }
                });
                out.add(() -> bhs.mark(nr));
            }
            return out;
        }
    };

    /** The rows of the bottom-halves experiment, in table order. */
    List<ParallelDeferral> BOTTOM_HALVES = List.of(OLD_BOTTOM_HALVES, TASKLETS, SOFTIRQ);
}
