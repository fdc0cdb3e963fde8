package io.kdefer;

/**
 * A clock that moves only when told to, for deterministic tests.
 *
 * <p>{@link #tick()} advances {@code jiffies} by one and then delivers a timer interrupt to every
 * virtual CPU (a hardirq whose {@code irq_exit} runs that CPU's pending softirqs). It returns once
 * every CPU has handled its tick and run the softirqs that tick raised, unless another thread
 * owned that CPU's bottom halves at the time (they then run when that owner releases them).
 *
 * <pre>{@code
 * ManualClock clock = new ManualClock();
 * try (Kernel k = Kernel.builder().cpus(2).hz(1000).clock(clock).build()) {
 *     long j0 = k.jiffies();
 *     clock.tick(5);
 *     assert k.jiffies() == j0 + 5;
 * }
 * }</pre>
 */
public final class ManualClock extends Clock {
    private volatile long jiffies;
    private volatile Runnable tickHook;

    public ManualClock() {
    }

    @Override
    void onBind(Runnable tickHook) {
        this.jiffies = initialJiffiesValue();
        this.tickHook = tickHook;
    }

    @Override
    public long jiffies() {
        return jiffies;
    }

    /** Advances {@code jiffies} by one and runs the tick on every CPU. */
    public void tick() {
        Runnable hook = tickHook;
        if (hook == null) {
            throw new IllegalStateException("this ManualClock is not bound to a kernel yet");
        }
        synchronized (this) {
            jiffies = jiffies + 1;
        }
        hook.run();
    }

    /** {@code n} ticks, one after another. */
    public void tick(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("ticks must not be negative: " + n);
        }
        for (int i = 0; i < n; i++) {
            tick();
        }
    }
}
