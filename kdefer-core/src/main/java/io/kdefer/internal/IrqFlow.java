package io.kdefer.internal;

/** The interrupt lines' flow handler, as {@code cpu/N} calls it. Registered by their subsystem. */
@FunctionalInterface
public interface IrqFlow {
    /**
     * The flow handler of line {@code irq} ({@code handle_edge_irq} and friends), called on
     * {@code cpu/N} in hardirq context when a device asserted the line there. Its irq exit follows.
     */
    void handle(int irq);
}
