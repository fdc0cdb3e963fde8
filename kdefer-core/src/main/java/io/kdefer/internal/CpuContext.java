package io.kdefer.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The execution context of one thread: the kernel's {@code preempt_count} word and the virtual
 * CPU the thread is on.
 *
 * <p>Every field but one is confined to the owning thread (access code {@code O}): a context is
 * created for a thread and only that thread reads or writes it, so plain accesses suffice. The
 * exception is {@link #inFlight}, the depth of the thread's entry sections, which the closing
 * thread reads (see "Entry protocol" in {@link KernelRuntime}).
 *
 * <p>Layout of {@link #count}, as in {@code include/linux/preempt.h}:
 * <pre>
 *   bits  0- 7  PREEMPT   preemption-disabled depth
 *   bits  8-15  SOFTIRQ   SOFTIRQ_OFFSET (0x100) once while serving softirqs (odd multiple),
 *                         SOFTIRQ_DISABLE_OFFSET (0x200) per local_bh_disable()
 *   bits 16-19  HARDIRQ   hardirq nesting depth
 *   bits 20-23  NMI       unused here (no NMIs on a virtual CPU)
 * </pre>
 */
public final class CpuContext {
    private static final VarHandle IN_FLIGHT;

    static {
        try {
            IN_FLIGHT = MethodHandles.lookup().findVarHandle(CpuContext.class, "inFlight", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    public static final int PREEMPT_MASK = 0x000000ff;
    public static final int SOFTIRQ_OFFSET = 0x100;
    public static final int SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET;
    public static final int SOFTIRQ_MASK = 0x0000ff00;
    public static final int HARDIRQ_OFFSET = 0x10000;
    public static final int HARDIRQ_MASK = 0x000f0000;
    public static final int NMI_MASK = 0x00f00000;

    /** O: the preempt-count word. */
    public int count;
    /** O: the virtual CPU this thread is on (its home CPU, or the one {@code workOnCpu} chose). */
    public int cpu;
    /** F: the CPU a foreign thread returns to after {@code workOnCpu}; a kdefer thread's CPU. */
    public final int homeCpu;
    /** F: true for threads the kernel started ({@code cpu/N}, {@code ksoftirqd/N}, ...). */
    public final boolean kdeferThread;
    /** O: the object whose callback this thread is executing now (self-deadlock detection). */
    public Object running;
    /**
     * A: entry sections this thread is in (foreign threads only). Written by the owner only:
     * volatile on entry (the store must be ordered before its read of the kernel state), release
     * on exit (the queueing it did is ordered before it); read volatile by {@code close()}.
     */
    @SuppressWarnings("unused")
    private volatile int inFlight;

    public CpuContext(int homeCpu, boolean kdeferThread) {
        this.homeCpu = homeCpu;
        this.cpu = homeCpu;
        this.kdeferThread = kdeferThread;
    }

    /** Opens an entry section: a volatile store, so it is ordered before the state read that follows. */
    void enterSection() {
        IN_FLIGHT.setVolatile(this, (int) IN_FLIGHT.get(this) + 1);
    }

    /** Closes an entry section: a release store, ordered after everything the section queued. */
    void exitSection() {
        IN_FLIGHT.setRelease(this, (int) IN_FLIGHT.get(this) - 1);
    }

    /** True while the owner is inside an entry section. The owner only (a plain read of its own writes). */
    boolean inSectionOwner() {
        return (int) IN_FLIGHT.get(this) != 0;
    }

    /** True while the owner is inside an entry section. Any thread. */
    boolean inSectionVolatile() {
        return (int) IN_FLIGHT.getVolatile(this) != 0;
    }

    /** {@code in_hardirq()}. */
    public boolean inHardirq() {
        return (count & HARDIRQ_MASK) != 0;
    }

    /** {@code in_serving_softirq()}: the softirq loop runs on this thread now. */
    public boolean inServingSoftirq() {
        return (count & SOFTIRQ_OFFSET) != 0;
    }

    /** {@code in_softirq()}: serving softirqs or bottom halves disabled. */
    public boolean inSoftirq() {
        return (count & SOFTIRQ_MASK) != 0;
    }

    /** {@code in_interrupt()}: hardirq, softirq (serving or BH disabled) or NMI. */
    public boolean inInterrupt() {
        return (count & (HARDIRQ_MASK | SOFTIRQ_MASK | NMI_MASK)) != 0;
    }

    /** {@code in_task()}: none of hardirq, serving softirq, NMI. */
    public boolean inTask() {
        return (count & (HARDIRQ_MASK | SOFTIRQ_OFFSET | NMI_MASK)) == 0;
    }

    /** Hex form of the count, as the kernel prints it in its warnings. */
    public String countHex() {
        return String.format("%08x", count);
    }
}
