package io.kdefer.softirq;

/**
 * The ten softirq vectors, in the kernel's order ({@code include/linux/interrupt.h}). Within one
 * pass of the softirq loop, pending vectors run lowest number first: {@link #HI} first,
 * {@link #RCU} last.
 */
public enum SoftirqVector {
    /** 0: high-priority tasklets ({@code tasklet_hi_schedule}); kdefer owns it. */
    HI,
    /** 1: the timer wheel; kdefer owns it. */
    TIMER,
    /** 2: network transmit. */
    NET_TX,
    /** 3: network receive. */
    NET_RX,
    /** 4: block-layer completions. */
    BLOCK,
    /** 5: {@code irq_poll}. */
    IRQ_POLL,
    /** 6: normal tasklets ({@code tasklet_schedule}); kdefer owns it. */
    TASKLET,
    /** 7: scheduler load balancing. */
    SCHED,
    /** 8: softirq-mode high-resolution timers. */
    HRTIMER,
    /** 9: RCU callbacks (kept last on purpose). */
    RCU;

    /** The bit of this vector in a pending mask. */
    public int mask() {
        return 1 << ordinal();
    }
}
