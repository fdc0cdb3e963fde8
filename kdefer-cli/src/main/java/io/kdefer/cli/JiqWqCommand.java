package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.workqueue.DelayedWork;
import io.kdefer.workqueue.Work;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.util.function.UnaryOperator;

/**
 * {@code /proc/jiqwq} and {@code /proc/jiqwqdelay}: the reader, in task context on {@code --cpu},
 * queues a work item on the system workqueue ({@code schedule_work}, or
 * {@code schedule_delayed_work(&work, delay)}) and sleeps on the module's wait queue; the work
 * function prints a row and queues itself again the same way, until the page is full, and then
 * wakes the reader.
 *
 * <p>What the rows show: the function runs in process context ({@code preempt} 0) on a worker of the
 * reader's CPU, today {@code kworker/N:M}; LDD3's 2.6 kernel ran it in the workqueue's own thread
 * {@code events/N} ({@code --legacy-names} prints those names). A function that queues itself runs
 * again on the same worker as soon as it returns, so {@code jiqwq}'s deltas are mostly 0: the page
 * fills within a jiffy or two. {@code jiqwqdelay} goes through a kernel timer each time: a delay of
 * {@code d} jiffies fires at the first tick after {@code jiffies + d} (the wheel never fires early;
 * since 4.8 that is one jiffy later than 2.6, which fired at {@code jiffies + d}), so its deltas are
 * {@code d + 1} for the delays below 63, one row per {@code d + 1} jiffies.
 */
abstract class JiqWqCommand extends JiqFileCommand {
    @Option(names = "--legacy-names", description = "Print a per-CPU worker as a 2.6 kernel named it,"
            + " events/N, instead of kworker/N:M (a shorter name: more rows fit in the page).")
    boolean legacyNames;

    /** The work item in use by the current read, for tests that drive a manual clock. */
    volatile Work work;

    /** The names to print. */
    UnaryOperator<String> names() {
        return legacyNames ? JiqPage::legacyName : JiqPage::sameName;
    }

    /** True while the current read's item waits on its delay timer. */
    boolean timerPending() {
        return false;
    }

    @Override
    String read(Kernel kernel) {
        return kernel.runOnCpu(cpu, () -> {
            JiqPage page = new JiqPage(kernel, names());   // data->jiffies = jiffies
            Work w = submitFirst(kernel, page);
            work = w;
            page.awaitFull(expectedJiffies());
            w.flush();   // the run that found the page full has returned
            return page.format();
        });
    }

    /** Creates the item for {@code page} and submits it the first time; returns it. */
    abstract Work submitFirst(Kernel kernel, JiqPage page);

    /** Jiffies the page should take to fill. */
    abstract long expectedJiffies();

    @Command(name = "wq", mixinStandardHelpOptions = true,
            description = {"/proc/jiqwq: a work item on the system workqueue (schedule_work) re-queues itself"
                    + " until the page is full; rows from kworker/N:M of the reader's CPU, preempt 0, deltas"
                    + " mostly 0.",
                    "Columns: jiffies, jiffies since the previous row (the first: since the read),"
                            + " preempt_count(), thread id, CPU, thread name."})
    static final class Wq extends JiqWqCommand {
        @Override
        Work submitFirst(Kernel kernel, JiqPage page) {
            // jiq_print_wq
            Work w = new Work(self -> {
                if (page.print()) {
                    kernel.scheduleWork(self);
                }
            });
            kernel.scheduleWork(w);
            return w;
        }

        @Override
        long expectedJiffies() {
            return 0;
        }
    }

    @Command(name = "wqdelay", mixinStandardHelpOptions = true,
            description = {"/proc/jiqwqdelay: a delayed work item (schedule_delayed_work with --delay) re-queues"
                    + " itself until the page is full. The timer fires at the first tick after jiffies + delay,"
                    + " so the deltas are delay + 1 (LDD3's 2.6 wheel printed delay).",
                    "Columns: jiffies, jiffies since the previous row (the first: since the read),"
                            + " preempt_count(), thread id, CPU, thread name."})
    static final class Wqdelay extends JiqWqCommand {
        @Option(names = "--delay", defaultValue = "1",
                description = "Jiffies of each delay, the module's delay parameter (default: ${DEFAULT-VALUE}).")
        long delay;

        @Override
        void checkOptions() {
            if (delay < 0) {
                throw new ParameterException(spec.commandLine(), "--delay must not be negative: " + delay);
            }
        }

        @Override
        Work submitFirst(Kernel kernel, JiqPage page) {
            final long d = delay;
            // jiq_print_wq_delayed
            DelayedWork w = new DelayedWork(self -> {
                if (page.print()) {
                    kernel.scheduleDelayedWork((DelayedWork) self, d);
                }
            });
            kernel.scheduleDelayedWork(w, d);
            return w;
        }

        @Override
        boolean timerPending() {
            Work w = work;
            return w instanceof DelayedWork && ((DelayedWork) w).timer() != null
                    && ((DelayedWork) w).timer().isPending();
        }

        @Override
        long expectedJiffies() {
            // every row waits delay + 1 jiffies, up to a granule more above level 0: allow twice that
            long perRow = JiqPage.saturatedMultiply(2, JiqPage.saturatedAdd(delay, 1));
            return JiqPage.saturatedMultiply(perRow, JiqPage.PAGE_SIZE / 36 + 1);
        }
    }
}
