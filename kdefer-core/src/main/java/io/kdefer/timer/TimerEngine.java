package io.kdefer.timer;

import io.kdefer.internal.CpuContext;
import io.kdefer.internal.KernelRuntime;
import io.kdefer.internal.Cpu;
import io.kdefer.internal.Subsystem;
import io.kdefer.softirq.SoftirqVector;

import java.lang.invoke.VarHandle;
import java.util.function.Consumer;

/**
 * The timer machinery of one kernel: two wheels per CPU (normal and deferrable), the TIMER softirq
 * action ({@code run_timer_softirq}), and what the tick, the idle loop and close() ask of it.
 * Built with the kernel, as its {@code TIMERS} subsystem.
 */
final class TimerEngine implements Subsystem {

    /** Marks a timer that is moving between wheels ({@code TIMER_MIGRATING}). */
    static final TimerWheel MIGRATING = new TimerWheel(-1, false, 1000, 0);

    final KernelRuntime rt;            // F
    private final TimerWheel[] normal;         // F: per CPU
    private final TimerWheel[] deferrable;     // F: per CPU

    TimerEngine(KernelRuntime rt) {
        this.rt = rt;
        long now = rt.clock.jiffies();
        normal = new TimerWheel[rt.nrCpus];
        deferrable = new TimerWheel[rt.nrCpus];
        for (int c = 0; c < rt.nrCpus; c++) {
            normal[c] = new TimerWheel(c, false, rt.hz, now);
            deferrable[c] = new TimerWheel(c, true, rt.hz, now);
        }
        rt.softirqs.openOwned(SoftirqVector.TIMER, this::runTimerSoftirq);
    }

    static TimerEngine of(KernelRuntime rt) {
        return rt.subsystem(TimerEngine.class);
    }

    @Override
    public String name() {
        return "timers";
    }

    /** The wheels of every CPU, each under its lock: see {@link TimerWheel#checkInvariants}. */
    @Override
    public void checkInvariants(boolean quiescent, java.util.List<String> out) {
        for (int c = 0; c < rt.nrCpus; c++) {
            normal[c].checkInvariants("cpu " + c + "'s timer wheel", quiescent, out);
            deferrable[c].checkInvariants("cpu " + c + "'s deferrable timer wheel", quiescent, out);
        }
    }

    TimerWheel wheel(int cpu, boolean deferrableWheel) {
        return deferrableWheel ? deferrable[cpu] : normal[cpu];
    }

    // ---------------------------------------------------------------- the tick and the idle loop

    /**
     * {@code run_local_timers()}: true when one of the CPU's bases has expired timers. Deferrable
     * timers count only when the CPU is {@code awake}.
     */
    @Override
    public boolean tick(int cpu, long jiffies, boolean awake) {
        return due(normal[cpu], jiffies) || (awake && due(deferrable[cpu], jiffies));
    }

    /** Woken by another interrupt, the CPU is awake: due deferrable timers run now. */
    @Override
    public boolean hardirqExit(int cpu, long jiffies) {
        return due(deferrable[cpu], jiffies);
    }

    @Override
    public boolean wakesCpus() {
        return true;
    }

    /** The earliest expiry of a timer that may wake an idle CPU (not deferrable), exact. */

    @Override
    public long nextWakeup(int cpu) {
        TimerWheel w = normal[cpu];
        long next = w.nextExpiryVolatile();
        return next == Long.MAX_VALUE ? next : w.nextExpiryExact();
    }

    /**
     * As {@link #nextWakeup} without the lock: the last published value, which may be earlier than
     * the exact one after a removal.
     */
    @Override
    public long nextWakeupHint(int cpu) {
        return normal[cpu].nextExpiryVolatile();
    }

    private static boolean due(TimerWheel w, long jiffies) {
        long next = w.nextExpiryVolatile();
        return next != Long.MAX_VALUE && jiffies - next >= 0;
    }

    /**
     * An arm made a timer its wheel's earliest: wake that CPU's interrupt thread if it sleeps, so it
     * re-reads its idle deadline ({@code trigger_dyntick_cpu}). Deferrable timers never wake a CPU;
     * with a manual clock the ticks come from the clock. The caller published the new expiry with a
     * volatile store first (TimerWheel.publishNextExpiry, where the litmus test is): either the
     * wake-up finds cpu/N announced asleep, or cpu/N's re-check finds the new expiry
     * ({@code kdefer-jcstress: TimerArmWakesIdleCpuTest}).
     */
    void kick(TimerWheel w) {
        if (!w.deferrable && rt.clock.nanoTimeOf(w.nextExpiryVolatile()) != 0) {
            rt.kickCpu(w.cpu);
        }
    }

    // ---------------------------------------------------------------- expiry (TIMER_SOFTIRQ)

    private void runTimerSoftirq() {
        CpuContext ctx = rt.context();
        if (rt.isClosing()) {
            closeWheel(normal[ctx.cpu], ctx);
            closeWheel(deferrable[ctx.cpu], ctx);
            return;
        }
        runTimers(normal[ctx.cpu], ctx);
        runTimers(deferrable[ctx.cpu], ctx);
    }

    /**
     * close() began: takes and releases every wheel lock once, so that every arm that checked the
     * kernel state under one of them before CLOSING has finished (the entry protocol's timer side).
     */
    @Override
    public void quiesceCallers() {
        for (int c = 0; c < rt.nrCpus; c++) {
            normal[c].lock();
            normal[c].unlock();
            deferrable[c].lock();
            deferrable[c].unlock();
        }
    }

    /**
     * A drain round while the kernel closes: if timers are still armed on this CPU, raise
     * TIMER_SOFTIRQ, whose action (seeing the kernel closing) runs or reports them and shuts them
     * down.
     */
    @Override
    public void drainHardirq(Cpu cpu) {
        int c = cpu.id;
        if (normal[c].nextExpiryVolatile() != Long.MAX_VALUE || deferrable[c].nextExpiryVolatile() != Long.MAX_VALUE) {
            cpu.raiseTimerSoftirq();
        }
    }

    /**
     * Kernel close: every timer still armed on this wheel is shut down first (so its callback cannot
     * re-arm it), then run once or reported, as the close policy says.
     */
    private void closeWheel(TimerWheel w, CpuContext ctx) {
        for (;;) {
            KernelTimer t;
            w.lock();
            try {
                t = firstArmed(w);
                if (t == null) {
                    w.recalcNextExpiry();   // publishes "none armed", so close stops raising TIMER
                    return;
                }
                w.detachIfPending(t);
                w.running = t;
            } finally {
                w.unlock();
            }
            VarHandle.fullFence();   // as in expireTimers: pairs with mod()'s lock-free fast path
            Consumer<KernelTimer> fn = t.functionAcquire();
            t.shutdownForClose();
            try {
                if (fn == null || t.kernelOwned()) {
                    continue;   // shut down: a subsystem's housekeeping is neither run nor reported
                }
                if (rt.runTimersOnClose) {
                    t.invoke(fn, ctx);
                } else {
                    rt.reportError(t, new IllegalStateException("kernel closing: " + t
                            + " was armed and is not run (TimerClosePolicy.REPORT); shut down"));
                }
            } finally {
                w.lock();
                w.running = null;
                w.unlock();
                rt.waitQueue().wakeAll(t);
            }
        }
    }

    private static KernelTimer firstArmed(TimerWheel w) {
        for (KernelTimer t : w.heads) {
            if (t != null) {
                return t;
            }
        }
        return null;
    }

    /** {@code __run_timer_base()} / {@code __run_timers()}. */
    private void runTimers(TimerWheel w, CpuContext ctx) {
        long next = w.nextExpiryVolatile();
        if (next == Long.MAX_VALUE || rt.clock.jiffies() - next < 0) {
            return;
        }
        w.lock();
        try {
            if (w.running != null) {
                return;
            }
            for (;;) {
                long jiffies = rt.clock.jiffies();
                if (jiffies - w.clk < 0 || jiffies - w.nextExpiry < 0) {
                    break;
                }
                int levels = w.collectExpired();
                // while callbacks run, clk is one ahead, so a re-arm at "now" goes to the next tick
                w.clk++;
                w.recalcNextExpiry();
                while (levels-- > 0) {
                    expireTimers(w, levels, ctx);
                }
            }
        } finally {
            w.unlock();
        }
    }

    /** {@code expire_timers()}: the collected list of one level, most recently armed first. */
    private void expireTimers(TimerWheel w, int level, CpuContext ctx) {
        for (;;) {
            KernelTimer t = w.expiring[level];
            if (t == null) {
                return;
            }
            w.running = t;
            w.detachIfPending(t);
            // pairs with the volatile index read of mod()'s lock-free fast path: a mod() that still
            // saw the timer pending returned true and relies on this run; the fence orders "no
            // longer pending" before everything the callback reads (TimerModCoalescedVolatileTest)
            VarHandle.fullFence();
            Consumer<KernelTimer> fn = t.functionAcquire();
            if (fn == null) {
                w.running = null;
                continue;
            }
            w.unlock();
            try {
                t.invoke(fn, ctx);
            } finally {
                w.lock();
                w.running = null;
                rt.waitQueue().wakeAll(t);
            }
        }
    }

    /** True while {@code t}'s callback runs on the wheel that owns it. */
    boolean isRunning(KernelTimer t) {
        TimerWheel b = t.lockBase();
        try {
            return b.running == t;
        } finally {
            b.unlock();
        }
    }

    void warn(String message) {
        System.getLogger("io.kdefer").log(System.Logger.Level.WARNING, message);
    }
}
