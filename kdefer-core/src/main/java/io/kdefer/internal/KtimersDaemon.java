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
    private final Cpu cpu;          // F

    KtimersDaemon(KernelRuntime rt, Cpu cpu) {
        super(rt, cpu.id, "ktimers/" + cpu.id);
        this.cpu = cpu;
    }

    @Override
    public boolean hasWork() {
        return (cpu.timerPendingVolatile() != 0 && !cpu.bhOwned() && !cpu.bhContended()) || stopRequested();
    }


    @Override
    public void run() {
        final Cpu c = cpu;
        for (;;) {
            // a thread waiting for the bottom halves goes first (Cpu.lockBh), as for ksoftirqd/N
            if (c.timerPendingVolatile() != 0 && !c.bhContended() && c.tryLockBh(this)) {
                try {
                    if (c.takeTimerPending() != 0 || c.pendingVolatile() != 0) {
                        c.handleSoftirqs(ctx, true);
                    }
                } finally {
                    c.unlockBh();
                }
                continue;
            }
            if (stopRequested() && c.timerPendingVolatile() == 0) {
                return;
            }
            parker.idle(this, 0);
        }
    }
}
