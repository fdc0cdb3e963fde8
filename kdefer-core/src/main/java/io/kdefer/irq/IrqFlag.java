package io.kdefer.irq;

/**
 * Request flags ({@code IRQF_*}, {@code include/linux/interrupt.h}). Each constant carries the
 * kernel's value for reference.
 *
 * <p>Every kdefer line latches an assertion like an edge-triggered line: a raise while the line
 * is disabled or masked is delivered once later. The trigger flags take part in the sharing
 * rules (all sharers must agree) and in the {@code /proc/interrupts} text, nothing else.
 */
public enum IrqFlag {
    /** {@code IRQF_TRIGGER_RISING} (0x01). */
    TRIGGER_RISING(0x01),
    /** {@code IRQF_TRIGGER_FALLING} (0x02). */
    TRIGGER_FALLING(0x02),
    /** {@code IRQF_TRIGGER_HIGH} (0x04). */
    TRIGGER_HIGH(0x04),
    /** {@code IRQF_TRIGGER_LOW} (0x08). */
    TRIGGER_LOW(0x08),
    /** {@code IRQF_SHARED} (0x80): allow sharing the line; requires a non-null {@code devId}. */
    SHARED(0x80),
    /** {@code IRQF_ONESHOT} (0x2000): keep the line masked until the woken thread functions return. */
    ONESHOT(0x2000),
    /** {@code IRQF_NO_THREAD} (0x10000): never force-thread this handler. */
    NO_THREAD(0x10000),
    /** {@code IRQF_NO_AUTOEN} (0x80000): the line starts disabled; the caller must {@code enableIrq}. */
    NO_AUTOEN(0x80000),
    /** {@code IRQF_NO_DEBUG} (0x100000): exclude the line from spurious-interrupt detection. */
    NO_DEBUG(0x100000),
    /** {@code IRQF_COND_ONESHOT} (0x200000): take ONESHOT when the line's sharers already use it. */
    COND_ONESHOT(0x200000);

    /** Trigger-type bits ({@code IRQF_TRIGGER_MASK}). */
    static final int TRIGGER_MASK = 0x0f;

    private final int value;

    IrqFlag(int value) {
        this.value = value;
    }

    /** The kernel's value of this flag. */
    public int value() {
        return value;
    }

    static int mask(IrqFlag... flags) {
        int m = 0;
        for (IrqFlag f : flags) {
            m |= java.util.Objects.requireNonNull(f, "flag").value;
        }
        return m;
    }
}
