package io.kdefer.internal;

import java.util.List;

/**
 * A mechanism of the kernel (softirqs, tasklets, timers, interrupt lines; workqueues next) as the
 * kernel's lifecycle sees it. Every kernel builds all of them when it is built, in the order of
 * {@link Subsystems.Kind}, and the tick, the idle loop of {@code cpu/N}, the drain and
 * {@code close()} loop over that list: a CPU behaves the same whether or not a timer was ever
 * created, and adding a mechanism means adding one implementation, not hooks in the core.
 *
 * <p>Every method has a do-nothing default; a mechanism overrides what it takes part in.
 *
 * <pre>
 *   build    KernelRuntime.install(): each Kind's factory, in order; each may register
 *            bottom-half handlers (HI, TASKLET) and open the vectors it owns (TIMER)
 *   tick     cpu/N, hardirq: tick(cpu, jiffies, awake) on each; any true raises TIMER_SOFTIRQ
 *   hardirq  cpu/N, at the exit of every other hardirq: hardirqExit(cpu, jiffies), the same
 *   idle     cpu/N sleeps until the earliest nextWakeup(cpu) of the subsystems that wake CPUs
 *   close    quiesceCallers() on each (entry protocol), then closing() on each; then drain
 *            rounds: drainHardirq(cpu) on each CPU, wait for quiet(cpu) of each, awaitIdle() of
 *            each, until activity() stops moving; then stopThreads() on each; then the CPUs stop
 *   check    checkInvariants(quiescent, out) on each ({@link Invariants}): tests and tools only
 * </pre>
 */
public interface Subsystem {
    /** "No wake-up": the value {@link #nextWakeup} and {@link #nextWakeupHint} return for none. */
    long NONE = Long.MAX_VALUE;

    /** A short name for diagnostics ({@code "tasklets"}, {@code "timers"}, ...). */
    String name();

    // ---------------------------------------------------------------- per CPU (cpu/N)

    /**
     * The tick on {@code cpu} ({@code update_process_times}), in hardirq context on its
     * {@code cpu/N}. True when TIMER_SOFTIRQ must be raised. {@code awake}: the CPU did other
     * work since its previous tick (an idle, tickless CPU would not have had this tick).
     */
    default boolean tick(int cpu, long jiffies, boolean awake) {
        return false;
    }

    /**
     * The exit of a hardirq other than the tick on {@code cpu} (the CPU is awake). True when
     * TIMER_SOFTIRQ must be raised. Called only on subsystems whose {@link #wakesCpus()} is true.
     */
    default boolean hardirqExit(int cpu, long jiffies) {
        return false;
    }

    /**
     * True when this subsystem has deadlines that must wake an idle CPU ({@link #nextWakeup},
     * {@link #nextWakeupHint}, {@link #hardirqExit}); the idle loop asks only these.
     */
    default boolean wakesCpus() {
        return false;
    }

    /** The earliest jiffy at which {@code cpu} must be awake for this subsystem, exact; {@link #NONE}. */
    default long nextWakeup(int cpu) {
        return NONE;
    }

    /**
     * As {@link #nextWakeup} without locking: the last published value, which may be earlier than
     * the exact one. Read by an idle {@code cpu/N} on every check, so it must be cheap.
     */
    default long nextWakeupHint(int cpu) {
        return NONE;
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * A count that moves whenever this subsystem did work outside the CPUs' hardirqs and softirq
     * loops (which the runtime counts itself): its own threads' runs. Close repeats its drain
     * rounds until no count moves.
     */
    default long activity() {
        return 0;
    }

    /**
     * close() has set CLOSING: wait until every call of this subsystem that checked the state under
     * a lock of its own before that has finished queueing (see "Entry protocol" in
     * {@link KernelRuntime}).
     */
    default void quiesceCallers() {
    }

    /** close() began: stop background activity that would re-arm itself. */
    default void closing() {
    }

    /**
     * One drain round on {@code cpu}, in hardirq context on its {@code cpu/N}, while the kernel
     * closes: raise whatever must still run or be reported there (the irq exit that follows runs
     * it).
     */
    default void drainHardirq(Cpu cpu) {
    }

    /** True when nothing of this subsystem is pending or running on {@code cpu}. */
    default boolean quiet(Cpu cpu) {
        return true;
    }

    /** Waits until this subsystem's own threads have nothing pending or running. */
    default void awaitIdle() {
    }

    /** Stops and joins this subsystem's own threads; everything is drained by now. */
    default void stopThreads() {
    }

    // ---------------------------------------------------------------- consistency (Invariants)

    /**
     * Adds to {@code out} one message per broken rule of this subsystem's data structures, each
     * naming the object and the rule. Structures guarded by a lock of this subsystem may be
     * checked at any time, under that lock; structures that only their owner may read without one
     * (the tasklet lists) are walked only when {@code quiescent}: the caller asserts that no thread
     * uses the kernel meanwhile. See {@link Invariants}.
     */
    default void checkInvariants(boolean quiescent, List<String> out) {
    }
}
