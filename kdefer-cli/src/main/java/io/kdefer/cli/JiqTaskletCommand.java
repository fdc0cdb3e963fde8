package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.tasklet.Tasklet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code /proc/jiqtasklet}: the reader schedules a tasklet and sleeps on the module's wait queue;
 * the tasklet prints a row and schedules itself again until the page is full, then wakes the
 * reader.
 *
 * <p>Every row is in softirq context on the reader's CPU ({@code preempt} 256,
 * {@code SOFTIRQ_OFFSET}). A tasklet that schedules itself runs again in the next pass of the same
 * softirq run, so the first rows come from one run at an irq exit of {@code cpu/N}; after 10
 * passes (or 2 ms) the run hands the rest to {@code ksoftirqd/N}, which prints the remaining rows.
 * Most deltas are 0. LDD3's machine showed the task each interrupt happened to interrupt
 * ({@code cat}, {@code swapper}) and then {@code ksoftirqd/0}.
 *
 * <p>Where the first run happens: the module schedules from the read (process context). As in
 * {@code jit tasklet}, kdefer has no periodic tick whose irq exit would pick the tasklet up, so by
 * default the reader hands the schedule to its CPU's interrupt context; {@code --from-task}
 * schedules from the reader's own task context, where the raise wakes {@code ksoftirqd/N} at once
 * and every row comes from it.
 */
@Command(name = "tasklet", mixinStandardHelpOptions = true,
        description = {"/proc/jiqtasklet: a tasklet re-schedules itself until the page is full; rows in softirq"
                + " context (preempt 256) on the reader's CPU, from cpu/N's irq exit until the 10-pass budget"
                + " runs out, then from ksoftirqd/N; deltas mostly 0.",
                "Columns: jiffies, jiffies since the previous row (the first: since the read),"
                        + " preempt_count(), thread id, CPU, thread name."})
final class JiqTaskletCommand extends JiqFileCommand {
    @Option(names = "--from-task", description = "Schedule from the reader's task context (wakes ksoftirqd)"
            + " instead of from the CPU's interrupt context.")
    boolean fromTask;

    @Override
    String read(Kernel kernel) {
        return kernel.runOnCpu(cpu, () -> {
            JiqPage page = new JiqPage(kernel, JiqPage::sameName);
            // jiq_print_tasklet
            Tasklet tasklet = Tasklet.setup(kernel, self -> {
                if (page.print()) {
                    self.schedule();
                }
            });
            if (fromTask) {
                tasklet.schedule();
            } else {
                kernel.smpCallFunctionSingle(cpu, tasklet::schedule, false);
            }
            page.awaitFull(0);
            tasklet.kill();   // the run that found the page full has returned
            return page.format();
        });
    }
}
