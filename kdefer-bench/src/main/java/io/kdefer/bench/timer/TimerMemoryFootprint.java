package io.kdefer.bench.timer;

import io.kdefer.IdleStrategy;
import io.kdefer.Kernel;
import io.kdefer.timer.KernelTimer;
import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.TimerTask;
import org.agrona.DeadlineTimerWheel;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Heap retained by armed timers: arms {@code n} timers (default 1,000,000) with the delays of
 * {@link TimerWorkload} and prints the live heap after a full GC minus the live heap before.
 *
 * <pre>
 *   java -cp benchmarks.jar io.kdefer.bench.timer.TimerMemoryFootprint [n] [--kdefer-only]
 * </pre>
 *
 * Every subject keeps what a caller has to keep to cancel its timers: an array of the
 * {@code KernelTimer}s, of the executor's futures, of Netty's timeouts, or of Agrona's
 * {@code long} ids. That array is measured on its own and reported apart from the subject's
 * own memory. For kdefer the subject's memory includes the kernel (its per-CPU wheels and
 * structures) and every {@code KernelTimer}; the timers share one callback object, as timers
 * embedded in a driver's structures share one function.
 */
public final class TimerMemoryFootprint {
    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();
    private static final double MB = 1024.0 * 1024.0;
    /** The target for kdefer: a million armed timers, kernel and timer objects included. */
    private static final double KDEFER_TARGET_MB = 64.0;

    private TimerMemoryFootprint() {
    }

    public static void main(String[] args) throws Exception {
        int n = 1_000_000;
        boolean peers = true;
        for (String a : args) {
            if ("--kdefer-only".equals(a)) {
                peers = false;
            } else {
                n = Integer.parseInt(a);
            }
        }
        System.out.printf(Locale.ROOT, "# timer memory: %,d armed timers; %s %s; max heap %.0f MB; %s%n", n,
                System.getProperty("java.vm.name"), System.getProperty("java.version"),
                Runtime.getRuntime().maxMemory() / MB, compressedOops());
        long[] delays = TimerWorkload.otherDelays(n);
        boolean ok = kdefer(delays);
        if (peers) {
            stpe(delays);
            netty(delays);
            agrona(delays);
        }
        if (!ok) {
            System.exit(1);
        }
    }

    private static boolean kdefer(long[] delays) throws InterruptedException {
        int n = delays.length;
        long before = liveHeap();
        KernelTimer[] timers = new KernelTimer[n];
        long afterHolder = liveHeap();
        Kernel kernel = TimerWorkload.manualKernel(IdleStrategy.park());
        // the kernel (with its timer wheels, two per CPU) is counted apart from the timers
        KernelTimer first = KernelTimer.setup(kernel, TimerWorkload.NEVER_FIRES);
        long afterKernel = liveHeap();
        long now = kernel.jiffies();
        for (int i = 0; i < n; i++) {
            KernelTimer t = i == 0 ? first : KernelTimer.setup(kernel, TimerWorkload.NEVER_FIRES);
            t.mod(now + delays[i]);
            timers[i] = t;
        }
        long afterTimers = liveHeap();
        int pending = 0;
        for (KernelTimer t : timers) {
            if (t.isPending()) {
                pending++;
            }
        }
        Reference.reachabilityFence(timers);
        TimerWorkload.closeKdefer(kernel, timers);

        long total = afterTimers - afterHolder;
        double totalMb = total / MB;
        boolean ok = totalMb <= KDEFER_TARGET_MB && pending == n;
        System.out.printf(Locale.ROOT,
                "kdefer KernelTimer      : %.1f MB for %,d armed timers (kernel %.2f MB + timers %.1f B each);"
                        + " caller's array %.1f MB; pending %,d; target <= %.0f MB: %s%n",
                totalMb, n, (afterKernel - afterHolder) / MB, (double) (afterTimers - afterKernel) / n,
                (afterHolder - before) / MB, pending, KDEFER_TARGET_MB, ok ? "met" : "NOT MET");
        return ok;
    }

    private static void stpe(long[] delays) throws InterruptedException {
        int n = delays.length;
        long before = liveHeap();
        ScheduledFuture<?>[] futures = new ScheduledFuture<?>[n];
        long afterHolder = liveHeap();
        ScheduledThreadPoolExecutor executor =
                new ScheduledThreadPoolExecutor(1, TimerArmCancelBenchmark.daemon("stpe-timer"));
        executor.setRemoveOnCancelPolicy(true);
        Runnable task = () -> { };
        for (int i = 0; i < n; i++) {
            futures[i] = executor.schedule(task, TimerWorkload.REAL_CLOCK_OFFSET_MS + delays[i], TimeUnit.MILLISECONDS);
        }
        long afterTimers = liveHeap();
        int queued = executor.getQueue().size();
        Reference.reachabilityFence(futures);
        executor.shutdownNow();
        executor.awaitTermination(10, TimeUnit.SECONDS);
        report("JDK STPE (1 thread)     ", afterTimers - afterHolder, n, afterHolder - before,
                "queued " + String.format(Locale.ROOT, "%,d", queued));
    }

    private static void netty(long[] delays) throws InterruptedException {
        int n = delays.length;
        long before = liveHeap();
        Timeout[] timeouts = new Timeout[n];
        long afterHolder = liveHeap();
        HashedWheelTimer timer = new HashedWheelTimer(TimerArmCancelBenchmark.daemon("netty-wheel"),
                1, TimeUnit.MILLISECONDS, 512, false, -1);
        timer.start();
        TimerTask task = timeout -> { };
        for (int i = 0; i < n; i++) {
            timeouts[i] = timer.newTimeout(task, TimerWorkload.REAL_CLOCK_OFFSET_MS + delays[i], TimeUnit.MILLISECONDS);
        }
        // the worker moves at most 100,000 queued timeouts per 1 ms tick into the buckets
        Thread.sleep(100 + n / 100_000 * 5L);
        long afterTimers = liveHeap();
        long pending = timer.pendingTimeouts();
        Reference.reachabilityFence(timeouts);
        timer.stop();
        report("Netty HashedWheelTimer  ", afterTimers - afterHolder, n, afterHolder - before,
                "pending " + String.format(Locale.ROOT, "%,d", pending));
    }

    private static void agrona(long[] delays) throws InterruptedException {
        int n = delays.length;
        long before = liveHeap();
        long[] ids = new long[n];
        long afterHolder = liveHeap();
        DeadlineTimerWheel wheel = new DeadlineTimerWheel(TimeUnit.MILLISECONDS, 0, 1, 1 << 16, 16);
        for (int i = 0; i < n; i++) {
            ids[i] = wheel.scheduleTimer(delays[i]);
        }
        long afterTimers = liveHeap();
        Reference.reachabilityFence(ids);
        report("Agrona DeadlineTimerWheel", afterTimers - afterHolder, n, afterHolder - before,
                "timers " + String.format(Locale.ROOT, "%,d", wheel.timerCount()) + ", 65,536 spokes");
        Reference.reachabilityFence(wheel);
    }

    private static void report(String subject, long bytes, int n, long holder, String note) {
        System.out.printf(Locale.ROOT, "%s: %.1f MB for %,d armed timers (%.1f B each); caller's array %.1f MB; %s%n",
                subject, bytes / MB, n, (double) bytes / n, holder / MB, note);
    }

    /**
     * Heap in use after full collections, once two in a row agree. Collections are spaced out so
     * that objects kept for one more cycle by a finalizer (Netty's wheel has one) are gone.
     */
    private static long liveHeap() throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 10; i++) {
            System.gc();
            long used = MEMORY.getHeapMemoryUsage().getUsed();
            if (i >= 2 && used == last) {
                return used;
            }
            last = used;
            Thread.sleep(20);
        }
        return last;
    }

    private static String compressedOops() {
        try {
            com.sun.management.HotSpotDiagnosticMXBean hs =
                    ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return "UseCompressedOops=" + hs.getVMOption("UseCompressedOops").getValue();
        } catch (RuntimeException | LinkageError e) {
            return "UseCompressedOops=?";
        }
    }
}
