package io.kdefer.internal;

/**
 * {@code ksoftirqd/N}: runs CPU N's softirqs when they were raised from task context, or when an
 * invocation of the loop ran out of its 10-pass / 2 ms budget.
 *
 * <p>Each batch is one call of the loop with the same limits ({@code run_ksoftirqd} calls
 * {@code handle_softirqs(true)}); between batches it calls the equivalent of
 * {@code cond_resched()}: it yields the host CPU when a reschedule was asked for.
 *
 * <p>Idle: parks (or spins, per the idle strategy) while nothing is pending, another thread owns
 * the CPU's bottom halves, or a thread waits for them ({@link Cpu#lockBh}); the owner wakes it
 * when it releases with work left.
 */
final class SoftirqDaemon extends KThread implements Parker.Condition {
    private final Cpu cpu;          // F

    SoftirqDaemon(KernelRuntime rt, Cpu cpu) {
        super(rt, cpu.id, "ksoftirqd/" + cpu.id);
        this.cpu = cpu;
    }

    @Override
    public boolean hasWork() {
        return (cpu.pendingVolatile() != 0 && !cpu.bhOwned() && !cpu.bhContended()) || stopRequested();
    }


    @Override
    public void run() {
        final Cpu c = cpu;
        for (;;) {
            // a thread waiting for the bottom halves goes first (Cpu.lockBh): no new batch meanwhile
            if (c.pendingVolatile() != 0 && !c.bhContended() && c.tryLockBh(this)) {
                try {
                    // ksoftirqd got the CPU: the reschedule request that sent work here is served
                    if (c.needResched()) {
                        c.clearNeedResched();
                    }
                    if (c.pendingVolatile() != 0) {
                        c.handleSoftirqs(ctx, true);
                    }
                } finally {
                    c.unlockBh();
                }
                if (c.needResched()) {
                    Thread.yield();   // cond_resched()
                }
                continue;
            }
            if (c.pendingVolatile() == 0) {
                c.ksoftirqdIdle();   // it leaves the CPU: irq exits run softirqs inline again
                if (stopRequested()) {
                    return;
                }
            }
            parker.idle(this, 0);
        }
    }
}
