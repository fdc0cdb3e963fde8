package io.kdefer.internal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code cpu/N}: the interrupt context of virtual CPU N. It runs the functions other threads
 * send it (inter-processor calls, ticks, device interrupts) in hardirq context, one at a time,
 * and after each one runs the CPU's pending softirqs on the way out ({@code irq_exit}).
 *
 * <p>Idle: when its inbox is empty it follows the kernel's idle strategy and parks (tickless:
 * nothing wakes it but new work).
 */
final class CpuThread extends KThread implements Parker.Condition {
    /** One queued call ({@code call_single_data}). */
    static final class Ipi {
        final Runnable fn;
        final Thread waiter;          // F: null when nobody waits
        Throwable error;              // written before done (release), read after (acquire)
        volatile boolean done;        // A

        Ipi(Runnable fn, Thread waiter) {
            this.fn = fn;
            this.waiter = waiter;
        }
    }

    private final Cpu cpu;                                          // F
    private final ConcurrentLinkedQueue<Ipi> inbox = new ConcurrentLinkedQueue<>(); // A

    CpuThread(KernelRuntime rt, Cpu cpu) {
        super(rt, cpu.id, "cpu/" + cpu.id);
        this.cpu = cpu;
    }

    /** Queues {@code fn} for hardirq context on this CPU; returns the request to wait on. */
    Ipi send(Runnable fn, boolean wait) {
        Ipi ipi = new Ipi(fn, wait ? Thread.currentThread() : null);
        inbox.add(ipi);
        parker.wake();
        return ipi;
    }

    /** Runs {@code fn} as a nested hardirq on this thread (the caller is this thread). */
    void runNested(Runnable fn) {
        runHardirq(fn, null);
    }

    /**
     * Waits, uninterruptibly, until {@code ipi} has run, as a kdefer blocking call: the thread's
     * sleep hooks hear of it. Rethrows what the function threw.
     */
    static void await(KernelRuntime rt, Ipi ipi) {
        if (!ipi.done) {
            TaskSleep s = new TaskSleep(ipi, false);
            try {
                while (!ipi.done) {
                    s.park();
                }
            } finally {
                s.finish();
            }
        }
        Throwable t = ipi.error;
        if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
    }

    /** O: the jiffy this thread's current idle period ends at (Long.MAX_VALUE: no deadline). */
    private long idleUntil = Long.MAX_VALUE;

    @Override
    public boolean hasWork() {
        return !inbox.isEmpty() || cpu.irqPendingAny() || stopRequested() || wakeupWork();
    }

    /**
     * Reads the next wake-up hint once: true when a timer that may wake this CPU is due, or when an
     * arm made an earlier timer than the one this idle period waits for (see TimerWheel).
     */
    private boolean wakeupWork() {
        long next = rt.nextWakeupHint(cpu.id);
        if (next == Long.MAX_VALUE || rt.clock.nanoTimeOf(next) == 0) {
            return false;
        }
        return rt.clock.jiffies() - next >= 0 || idleUntil == Long.MAX_VALUE || next - idleUntil < 0;
    }

    /** True when a timer that may wake this idle CPU is due (only with a clock that moves by itself). */
    private boolean timerDue() {
        // the lock-free hint: if it is stale (early), the tick it causes recomputes it
        long next = rt.nextWakeupHint(cpu.id);
        return next != Long.MAX_VALUE && rt.clock.nanoTimeOf(next) != 0 && rt.clock.jiffies() - next >= 0;
    }

    boolean inboxEmpty() {
        return inbox.isEmpty();
    }


    @Override
    public void run() {
        for (;;) {
            Ipi ipi = inbox.poll();
            if (ipi != null) {
                cpu.countIpi();
                runHardirq(ipi.fn, ipi);
                continue;
            }
            int irq = cpu.takeIrq();
            if (irq >= 0) {
                cpu.countIpi();
                runDeviceIrq(irq);
                continue;
            }
            if (stopRequested()) {
                return;
            }
            if (timerDue()) {
                cpu.countIpi();
                runHardirq(cpu.tick, null);   // the tick a busy CPU would have had
                continue;
            }
            parker.idle(this, idleDeadline());
        }
    }

    /** Tickless idle: sleep until the next timer that may wake this CPU, or until woken. */
    private long idleDeadline() {
        long hint = rt.nextWakeupHint(cpu.id);
        if (hint == Long.MAX_VALUE || rt.clock.nanoTimeOf(hint) == 0) {
            idleUntil = Long.MAX_VALUE;   // nothing armed, or the clock delivers its own ticks
            return 0;
        }
        long next = rt.nextWakeup(cpu.id);
        long nanos = next == Long.MAX_VALUE ? 0 : rt.clock.nanoTimeOf(next);
        idleUntil = nanos == 0 ? Long.MAX_VALUE : next;
        return nanos;
    }

    /** A device interrupt: the line's flow handler in hardirq context, then irq exit. */
    private void runDeviceIrq(int irq) {
        runHardirq(null, null, irq);
    }

    private void runHardirq(Runnable fn, Ipi ipi) {
        runHardirq(fn, ipi, -1);
    }

    /** Runs {@code fn}, or the flow handler of line {@code irq} when {@code fn} is null, then irq exit. */
    private void runHardirq(Runnable fn, Ipi ipi, int irq) {
        final CpuContext c = ctx;
        c.count += CpuContext.HARDIRQ_OFFSET;
        final int expected = c.count;
        try {
            if (fn != null) {
                fn.run();
            } else {
                rt.irqFlow().handle(irq);
            }
        } catch (Throwable t) {
            if (ipi != null && ipi.waiter != null) {
                ipi.error = t;
            } else {
                rt.reportError((fn == null ? "irq " + irq + " on cpu " : "hardirq on cpu ") + cpu.id, t);
            }
        } finally {
            if (c.count != expected) {
                rt.reportError(fn == null ? "irq " + irq : "cpu " + cpu.id, new IllegalStateException(
                        (fn == null ? "irq " + irq + " handler" : "hardirq handler") + " changed preempt_count from "
                                + String.format("%08x", expected) + " to " + c.countHex()));
                c.count = expected;
            }
            if (fn != cpu.tick) {
                rt.otherHardirq(cpu);
            }
            cpu.irqExit(c, this);
            if (ipi != null) {
                ipi.done = true;
                if (ipi.waiter != null) {
                    LockSupport.unpark(ipi.waiter);
                }
            }
        }
    }
}
