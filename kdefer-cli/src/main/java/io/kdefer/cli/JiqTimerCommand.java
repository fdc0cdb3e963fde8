package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.timer.KernelTimer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code /proc/jiqtimer}: the reader prints the header and a first row itself (task context,
 * {@code preempt} 0, its own name), arms a kernel timer one second ({@code HZ} jiffies) ahead and
 * sleeps on the module's wait queue; the timer's function prints the second row and wakes the
 * reader. The page holds two rows. (The module arms first and prints next; this command arms
 * relative to the jiffies of the printed row, so the second delta is the timer's own lateness.)
 *
 * <p>The second row comes from the reader CPU's timer softirq ({@code preempt} 256,
 * {@code SOFTIRQ_OFFSET}): {@code cpu/N} at an irq exit or {@code ksoftirqd/N}, where LDD3 showed
 * whatever task the tick interrupted ({@code swapper} on an idle machine). Its delta is never less
 * than {@code delay + 1}: the wheel fires at the first multiple of the level's granularity after
 * the expiry, so one second at HZ 1000 (level 2, 64-jiffy granules) prints 1001 to 1064, where
 * LDD3's 2.6 wheel printed 1000.
 */
@Command(name = "timer", mixinStandardHelpOptions = true,
        description = {"/proc/jiqtimer: the reader prints a row, arms a kernel timer one second (HZ jiffies)"
                + " ahead and sleeps; the timer prints the second row (softirq context, preempt 256) and wakes"
                + " it. The wheel never fires early: the delta is at least delay + 1, up to a level's"
                + " granule more (1001-1064 at HZ 1000).",
                "Columns: jiffies, jiffies since the previous row, preempt_count(), thread id, CPU, thread name."})
final class JiqTimerCommand extends JiqFileCommand {
    @Option(names = "--delay", description = "Jiffies until the timer (default: HZ, one second, as in the module).")
    Long delay;

    /** The timer of the current read, for tests that drive a manual clock. */
    volatile KernelTimer timer;

    @Override
    void checkOptions() {
        if (delay != null && delay < 0) {
            throw new ParameterException(spec.commandLine(), "--delay must not be negative: " + delay);
        }
    }

    /** True while the current read's timer is armed. */
    boolean timerPending() {
        KernelTimer t = timer;
        return t != null && t.isPending();
    }

    @Override
    String read(Kernel kernel) {
        final long d = delay != null ? delay : kernel.hz();
        return kernel.runOnCpu(cpu, () -> {
            JiqPage page = new JiqPage(kernel, JiqPage::sameName);
            // jiq_timedout: print a row, wake the reader
            KernelTimer t = KernelTimer.setup(kernel, self -> {
                page.print();
                page.wakeReader();
            });
            timer = t;
            page.print();
            t.add(page.lastJiffies() + d);   // jiq_timer.expires = jiffies + HZ; add_timer()
            page.awaitFull(JiqPage.saturatedMultiply(2, JiqPage.saturatedAdd(d, 1)));
            t.deleteSync();   // the function has returned
            return page.format();
        });
    }
}
