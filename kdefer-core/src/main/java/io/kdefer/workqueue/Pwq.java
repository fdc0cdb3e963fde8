package io.kdefer.workqueue;

/**
 * The link between one workqueue and one worker pool ({@code struct pool_workqueue}): the
 * workqueue's {@code max_active} accounting on that pool, its inactive list, and its in-flight
 * counts per flush color.
 *
 * <p>Every field but the finals is guarded by the pool's lock ({@code L}).
 */
final class Pwq {
    /** {@code WORK_NR_COLORS}. */
    static final int NR_COLORS = 16;

    final Workqueue wq;          // F
    final WorkerPool pool;       // F
    final WorkList inactive;     // L: inactive_works (max_active overflow), FIFO
    int nrActive;                // L
    int maxActive;               // L
    final int[] nrInFlight = new int[NR_COLORS];   // L: per color, queued + running
    int workColor;               // L: color given to new items (the workqueue's, copied)
    int flushColor = -1;         // L: the color the first flusher waits for on this pwq, or -1

    Pwq(Workqueue wq, WorkerPool pool, int maxActive) {
        this.wq = wq;
        this.pool = pool;
        this.maxActive = maxActive;
        this.inactive = new WorkList(wq.name() + " on " + pool + " inactive");
    }

    /** L: the item and what follows it linked, moved to the pool's worklist and counted active. */
    void activate(Work w) {
        if (!w.inactive()) {
            return;
        }
        w.setInactive(false);
        nrActive++;
        if (pool.worklist.isEmpty()) {
            pool.watchdogTs = pool.rt.clock.jiffies();
            pool.engine.watchdogNeeded();
        }
        w.list.moveLinked(w, pool.worklist);
    }

    /** L: {@code pwq_activate_first_inactive} while a slot is free. True when one was activated. */
    boolean activateInactive() {
        boolean any = false;
        Work w;
        while (nrActive < maxActive && (w = inactive.first()) != null) {
            if (w.func == null) {
                // a barrier whose target left: it never counts, run it from the worklist
                inactive.moveLinked(w, pool.worklist);
            } else {
                activate(w);
            }
            any = true;
        }
        return any;
    }

    /**
     * L: {@code pwq_dec_nr_in_flight()}: an item of {@code color} retired (ran or was taken off);
     * frees its active slot, activates the next inactive item, and completes the flush of the color
     * when this was its last item on this pwq.
     */
    void decInFlight(int color, boolean countsActive) {
        if (countsActive) {
            nrActive--;
            if (activateInactive()) {
                pool.kick(pool.rt.context());
            }
        }
        nrInFlight[color]--;
        if (color == flushColor && nrInFlight[color] == 0) {
            flushColor = -1;
            wq.pwqFlushDone();
        }
    }

    /** L: the number of items queued, inactive or running through this pwq. */
    int inFlight() {
        int n = 0;
        for (int c : nrInFlight) {
            n += c;
        }
        return n;
    }
}
