package io.kdefer.internal;

/**
 * {@code ktimers/N}: with forced interrupt threading ({@code threadirqs}), runs the timer softirqs
 * the tick raised on CPU N ({@code run_ktimerd}), so that timer callbacks do not wait behind the
 * other softirqs queued for {@code ksoftirqd/N}.
 *
 * <p>It moves the timer vectors into the CPU's pending mask and runs the softirq loop once, which
 * serves whatever else is pending too, as {@code __do_softirq()} does in the kernel.
 */
final class KtimersDaemon extends KThread implements Parker.Condition {
    final Parker parker;            // F
    private final Cpu cpu;          // F
    private volatile boolean stop;  // A

    KtimersDaemon(KernelRuntime rt, Cpu cpu) {
        super(rt, cpu.id, "ktimers/" + cpu.id);
        this.cpu = cpu;
        this.parker = new Parker(rt.idleStrategy);
        parker.bind(this);
    }

    @Override
    public boolean hasWork() {
        return (cpu.timerPendingVolatile() != 0 && !cpu.bhOwned()) || stop;
    }

    void requestStop() {
        stop = true;
        java.util.concurrent.locks.LockSupport.unpark(this);
    }

    @Override
    public void run() {
        final Cpu c = cpu;
        for (;;) {
            if (c.timerPendingVolatile() != 0 && c.tryLockBh(this)) {
                try {
                    if (c.takeTimerPending() != 0 || c.pendingVolatile() != 0) {
                        c.handleSoftirqs(ctx, true);
                    }
                } finally {
                    c.unlockBh();
                }
                continue;
            }
            if (stop && c.timerPendingVolatile() == 0) {
                return;
            }
            parker.idle(this, 0);
        }
    }
}
