package io.kdefer.cli;

import io.kdefer.Kernel;
import io.kdefer.timer.KernelTimer;

import java.util.function.BooleanSupplier;

/**
 * A wait queue head ({@code wait_queue_head_t}) with the two calls {@code /proc/jitqueue} needs:
 * {@code wait_event_interruptible_timeout()} and {@code wake_up_interruptible()}.
 *
 * <p>The queue's monitor plays the part of the wait-queue spinlock: a waiter checks its condition
 * while holding it and releases it only by waiting, and {@link #wakeUp()} takes it to notify. A
 * waker that makes the condition true before calling {@link #wakeUp()} therefore cannot be missed.
 * The timeout is an ordinary kernel timer armed on the waiter's CPU, as {@code schedule_timeout()}
 * arms one: its callback (softirq context) holds the monitor only to set a flag and notify.
 */
final class JitWaitQueue {
    /** {@code -ERESTARTSYS}: the wait was interrupted (the kernel's pending signal). */
    static final long ERESTARTSYS = -512;

    /**
     * {@code wait_event_interruptible_timeout(wq, condition, timeout)}, task context only.
     *
     * @return 0 if the timeout elapsed with the condition false; 1 if the condition was true when
     *         the timeout elapsed; the jiffies left (at least 1) if the condition became true
     *         earlier; {@link #ERESTARTSYS} if the thread was interrupted (its interrupt status stays set)
     */
    long waitEventInterruptibleTimeout(Kernel kernel, BooleanSupplier condition, long timeout) {
        if (timeout < 0) {
            throw new IllegalArgumentException("wait_event_interruptible_timeout(" + timeout + "): negative timeout");
        }
        if (!kernel.inTask() || kernel.inSoftirq()) {
            throw new IllegalStateException("wait_event_interruptible_timeout() sleeps: not allowed in atomic context");
        }
        // the fast path: the condition is checked once before any sleeping setup
        if (condition.getAsBoolean()) {
            return timeout == 0 ? 1 : timeout;
        }
        if (timeout == 0) {
            return 0;
        }
        final long expire = kernel.jiffies() + timeout;
        final boolean[] fired = new boolean[1];      // guarded by this
        KernelTimer timer = KernelTimer.setup(kernel, t -> {
            synchronized (this) {
                fired[0] = true;
                notifyAll();
            }
        });
        timer.mod(expire);
        try {
            synchronized (this) {
                for (;;) {
                    boolean cond = condition.getAsBoolean();
                    long left = fired[0] ? 0 : Math.max(expire - kernel.jiffies(), 0);
                    if (cond) {
                        return left == 0 ? 1 : left;
                    }
                    if (left == 0) {
                        return 0;
                    }
                    if (Thread.currentThread().isInterrupted()) {
                        return ERESTARTSYS;
                    }
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();   // seen at the top of the loop
                    }
                }
            }
        } finally {
            timer.deleteSync();
        }
    }

    /** {@code wake_up_interruptible()}: every waiter re-checks its condition. */
    synchronized void wakeUp() {
        notifyAll();
    }
}
