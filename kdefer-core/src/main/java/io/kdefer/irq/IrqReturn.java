package io.kdefer.irq;

/**
 * What an interrupt handler returns ({@code irqreturn_t}, {@code include/linux/irqreturn.h}).
 * The result of a line is the bitwise OR of its handlers' {@link #bits()}.
 */
public enum IrqReturn {
    /** {@code IRQ_NONE} (0): not my device, nothing done. */
    NONE(0),
    /** {@code IRQ_HANDLED} (1): handled. */
    HANDLED(1),
    /** {@code IRQ_WAKE_THREAD} (2): the primary handler asks for the action's thread to run. */
    WAKE_THREAD(2);

    private final int bits;

    IrqReturn(int bits) {
        this.bits = bits;
    }

    /** The kernel's numeric value. */
    public int bits() {
        return bits;
    }

    /** {@code IRQ_RETVAL(x)}: {@link #HANDLED} when {@code handled}, else {@link #NONE}. */
    public static IrqReturn retval(boolean handled) {
        return handled ? HANDLED : NONE;
    }
}
