package io.kdefer.irq;

import io.kdefer.Kernel;
import io.kdefer.internal.Secrets;
import io.kdefer.internal.Subsystems;

import java.util.Objects;

/**
 * The interrupt lines of a kernel ({@code kernel/irq/manage.c}): request and free handlers,
 * disable, enable and synchronize lines, move them between CPUs, and raise them as a device
 * would.
 *
 * <pre>{@code
 * Irqs irqs = kernel.irqs();
 * irqs.requestThreadedIrq(10, (irq, dev) -> {          // hardirq context, on the line's CPU
 *         ring.ack();                                  // quick: silence the device
 *         return IrqReturn.WAKE_THREAD;
 *     }, (irq, dev) -> {                               // irq/10-nic: task context, may sleep
 *         ring.drain();
 *         return IrqReturn.HANDLED;
 *     }, "nic", ring, IrqFlag.ONESHOT);
 * irqs.raise(10);                                      // from a selector thread, say
 * }</pre>
 *
 * <h2>Lines and CPUs</h2>
 * Lines are numbered {@code 0 ..} {@link #NR_IRQS}{@code - 1}; line {@code n} starts on CPU
 * {@code n % nrCpus} and {@link #setAffinity} moves it. {@link #raise} from any thread delivers the
 * interrupt to that CPU's {@code cpu/N} thread, which runs the primary handlers in hardirq
 * context and then, on irq exit, the CPU's pending softirqs. Raising allocates nothing.
 * A line latches assertions like an edge-triggered line: raises that arrive before the CPU takes
 * the first one, or while the line is disabled or masked, are delivered once.
 *
 * <h2>Threads</h2>
 * Each action with a thread function has its own thread, {@code irq/N-name}. A primary handler
 * returning {@link IrqReturn#WAKE_THREAD} wakes it; wakes before it runs collapse into one run,
 * a wake while it runs makes exactly one more run follow. With {@link IrqFlag#ONESHOT} the line
 * stays masked from the hard interrupt until every woken thread function of the line returned.
 *
 * <h2>Errors</h2>
 * Bad arguments ({@code -EINVAL}) throw {@link IllegalArgumentException}; a line that cannot be
 * shared as asked ({@code -EBUSY}), calls that would sleep in atomic context, waits on a line from
 * its own thread, an unbalanced {@link #enableIrq} and freeing an action that does not exist throw
 * {@link IllegalStateException}. A handler that throws is reported to the kernel's error handler
 * and counts as {@link IrqReturn#NONE}. Kernel warnings that are not misuse ("nobody cared",
 * bogus return values, WAKE_THREAD without a thread function) go to the error handler.
 */
public final class Irqs {
    /** Number of interrupt lines. */
    public static final int NR_IRQS = IrqEngine.NR_IRQS;

    static {
        Subsystems.provide(Subsystems.Kind.IRQS, (kernel, rt) -> new IrqEngine((Kernel) kernel, rt));
    }

    private final IrqEngine engine;

    private Irqs(IrqEngine engine) {
        this.engine = engine;
    }

    /** The interrupt lines of {@code kernel}; the same lines as {@code kernel.irqs()}. */
    public static Irqs of(Kernel kernel) {
        Objects.requireNonNull(kernel, "kernel");
        return new Irqs(IrqEngine.of(Secrets.runtime(kernel)));
    }

    /**
     * {@code request_irq()}: installs a hardirq handler on line {@code irq} and enables the line
     * (unless {@link IrqFlag#NO_AUTOEN}). Task context only.
     *
     * @throws IllegalArgumentException for {@code -EINVAL}: no handler, SHARED without a devId,
     *         SHARED with NO_AUTOEN, a line that does not exist
     * @throws IllegalStateException for {@code -EBUSY}: the line is taken and cannot be shared as
     *         asked (either side lacks SHARED, trigger types or ONESHOT differ)
     */
    public void requestIrq(int irq, IrqHandler handler, String name, Object devId, IrqFlag... flags) {
        Objects.requireNonNull(handler, "handler");
        engine.manage.request(irq, handler, null, name, devId, IrqFlag.mask(flags));
    }

    /**
     * {@code request_threaded_irq()}: installs a primary handler and a thread function, which runs
     * in a new thread {@code irq/N-name} whenever the primary returns
     * {@link IrqReturn#WAKE_THREAD}. A {@code null} handler means the default primary, which only
     * wakes the thread; it requires {@link IrqFlag#ONESHOT}, as the kernel does. Task context only.
     *
     * <p>With forced threading ({@code Kernel.builder().threadIrqs(true)}) a handler without
     * {@link IrqFlag#NO_THREAD} or {@link IrqFlag#ONESHOT} is moved into the thread (with bottom
     * halves disabled there), the line becomes ONESHOT, and a thread function given here runs in a
     * second thread {@code irq/N-s-name} woken by the threaded primary.
     *
     * @throws IllegalArgumentException for {@code -EINVAL} (see also {@link #requestIrq})
     * @throws IllegalStateException for {@code -EBUSY}
     */
    public void requestThreadedIrq(int irq, IrqHandler handler, IrqHandler threadFn, String name, Object devId,
                                   IrqFlag... flags) {
        engine.manage.request(irq, handler, threadFn, name, devId, IrqFlag.mask(flags));
    }

    /**
     * {@code free_irq()}: removes the action of {@code devId} from the line (the other sharers keep
     * working), shuts the line down when it was the last, waits for a running hard handler, lets a
     * pending thread run finish and joins the action's threads. Returns the name given at request.
     * Not from interrupt context, nor from the action's own thread.
     *
     * @throws IllegalStateException when the line has no action with this devId
     */
    public String freeIrq(int irq, Object devId) {
        return engine.manage.free(irq, devId);
    }

    /**
     * {@code disable_irq()}: disables the line (nesting: each call needs its own enable) and waits
     * until no hard handler and no thread function of the line is running. Task context only;
     * never from the line's own thread (the kernel deadlocks; {@code faithful} mode does too).
     * Verified by {@code kdefer-jcstress: IrqDisableWaitsForHandlersTest}.
     */
    public void disableIrq(int irq) {
        engine.control.disable(irq);
    }

    /** {@code disable_irq_nosync()}: disables the line (nesting) and returns at once. Any context. */
    public void disableIrqNosync(int irq) {
        engine.control.disableNosync(irq);
    }

    /**
     * {@code enable_irq()}: undoes one disable; the last one re-enables the line and delivers, once,
     * an interrupt raised while it was disabled. Any context. A raise still in flight to
     * {@code cpu/N} when the line is enabled may be delivered as well as the replay, as an
     * interrupt in flight and a resend may both arrive on a real machine.
     *
     * @throws IllegalStateException "Unbalanced enable" when the line is enabled (in faithful mode
     *         the kernel's warning goes to the error handler instead and nothing changes), or when
     *         the line has no handler
     */
    public void enableIrq(int irq) {
        engine.control.enable(irq);
    }

    /**
     * {@code synchronize_irq()}: waits until no hard handler and no thread function of the line is
     * running, and makes their writes visible to the caller. Does not stop new interrupts. Task
     * context only. Verified by {@code kdefer-jcstress: IrqSynchronizeWaitsForHandlersTest}.
     */
    public void synchronizeIrq(int irq) {
        engine.control.synchronize(irq);
    }

    /**
     * {@code synchronize_hardirq()}: waits (spinning) until no hard handler of the line runs;
     * returns true when no thread function is active either. Any context but the line's own hard
     * handler.
     */
    public boolean synchronizeHardirq(int irq) {
        return engine.control.synchronizeHardirq(irq);
    }

    /**
     * {@code irq_set_affinity()}: later raises of the line are delivered to {@code cpu}; its threads
     * follow at their next run.
     */
    public void setAffinity(int irq, int cpu) {
        engine.control.setAffinity(irq, cpu);
    }

    /**
     * A device asserts line {@code irq}, from any thread. The primary handlers run on the line's
     * CPU in hardirq context, then that CPU's pending softirqs run on irq exit. Called on
     * {@code cpu/N} in hardirq context for a line of that CPU, the handlers run at once, nested
     * ({@code generic_handle_irq} from a chained handler). A line without handlers drops the
     * interrupt and counts it in the {@code ERR} row of {@link #procInterrupts()}.
     *
     * <p>Writes made before {@code raise} are visible to the primary handler, and, when it returns
     * {@link IrqReturn#WAKE_THREAD}, to the thread function together with the primary's writes.
     * Verified by {@code kdefer-jcstress: IrqRaisePublishesPriorWritesTest} and
     * {@code IrqWakeThreadPublishesWritesTest}.
     *
     * @throws IllegalStateException from a thread outside the kernel once the kernel began to close
     *         (a raise that returns normally is delivered, even if close() began right after it)
     */
    public void raise(int irq) {
        engine.raise(irq);
    }

    /**
     * {@code irq_wake_thread()}: wakes the thread of the action of {@code devId} as if its primary
     * handler had returned {@link IrqReturn#WAKE_THREAD}.
     */
    public void irqWakeThread(int irq, Object devId) {
        engine.control.wakeThreadOf(irq, devId);
    }

    /** {@code kstat_irqs_cpu()}: interrupts of the line handled on {@code cpu}. */
    public long count(int irq, int cpu) {
        return engine.proc.count(irq, cpu);
    }

    /** The {@code /proc/interrupts} view: one row per requested line, one column per CPU. */
    public String procInterrupts() {
        return engine.proc.procInterrupts();
    }

    /** The {@code /proc/irq/N/spurious} view: {@code count}, {@code unhandled}, {@code last_unhandled}. */
    public String spurious(int irq) {
        return engine.proc.spurious(irq);
    }

    /** True while the line is disabled (by {@link #disableIrq}, NO_AUTOEN, or as spurious). */
    public boolean isDisabled(int irq) {
        return engine.proc.isDisabled(irq);
    }

    /** True while an ONESHOT line is masked, waiting for its woken thread functions. */
    public boolean isMasked(int irq) {
        return engine.proc.isMasked(irq);
    }

    @Override
    public String toString() {
        return procInterrupts();
    }
}
