package io.kdefer.irq;

/**
 * An interrupt handler ({@code irq_handler_t}): a primary handler, called in hardirq context on
 * the line's CPU, or a thread function, called in the action's {@code irq/N-name} thread.
 *
 * <p>A handler of a shared line must check its own device and return {@link IrqReturn#NONE}
 * when it was not involved. A handler that throws is reported to the kernel's error handler and
 * counted as {@link IrqReturn#NONE}; a {@code null} result is a bogus return value, reported the
 * way {@code note_interrupt} reports one.
 */
@FunctionalInterface
public interface IrqHandler {
    /**
     * Handles interrupt {@code irq} for the device {@code devId} given at request time.
     *
     * @return what was done; {@link IrqReturn#WAKE_THREAD} from a primary handler wakes the
     *         action's thread function
     */
    IrqReturn handle(int irq, Object devId);
}
