package io.kdefer.jcstress;

import io.kdefer.internal.WaitQueue;
import io.kdefer.testkit.BoundedSpin;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import java.util.concurrent.locks.LockSupport;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The no-lost-wake-up protocol of the hashed {@code io.kdefer.internal.WaitQueue}: the waiter
 * registers in its key's bucket (count +1, a full fence) and then evaluates its condition; the
 * waker publishes (a volatile write) and then reads the bucket's count in {@code wakeAll}.
 * <pre>
 *   waker: done = 1 (volatile); wq.wakeAll(key)       waiter: wq.await(key, () -> done == 1)
 *   Forbidden: the waiter stays parked although done == 1 (a lost wake-up)
 * </pre>
 * The waiter really parks. The waker then waits, with a bounded budget ({@link Await#until}), for the
 * waiter's {@code await} to return. If the budget runs out while the waiter is parked on the queue,
 * it sleeps with its condition true and nobody left to wake it: that is reported as {@code TIMEOUT}
 * (-1), and the waker unparks the waiter itself so that the actors end. A waiter that is only late
 * (not parked on the queue) is waited for: it returns by itself.
 *
 * <p>Result: {@code r1} = 1 when the waiter returned, {@link Await#TIMEOUT} when it did not;
 * {@code r2} = how the waiter returned: 0 at its first check (before registering), 1 at the check
 * after registering, 2 after parking and being woken.
 */
@JCStressTest
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "The waiter saw done before registering.")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "The waiter registered, then saw done: it did not park.")
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "The waiter parked and the waker's wakeAll woke it.")
@Outcome(id = "-1, .*", expect = FORBIDDEN, desc = "LOST WAKE-UP: the waiter stayed parked with done == 1.")
@Outcome(expect = FORBIDDEN, desc = "impossible")
@State
public class WaitQueueNoLostWakeupTest {
    private final WaitQueue wq = new WaitQueue();
    private final Object key = new Object();
    private volatile int done;
    private volatile boolean returned;
    private volatile Thread waiterThread;

    @Actor
    public void waker(II_Result r) {
        done = 1;
        wq.wakeAll(key);
        if (BoundedSpin.until(() -> returned)) {
            r.r1 = 1;
            return;
        }
        // Out of budget. A waiter that is merely late (not started yet, or running on a loaded
        // machine) returns by itself, since done == 1; only one parked on the queue is lost.
        while (!returned) {
            if (parkedOnQueue()) {
                r.r1 = BoundedSpin.TIMEOUT;
                while (!returned) {   // rescue it, so that the run can go on to the next state
                    LockSupport.unpark(waiterThread);
                    Thread.yield();
                }
                return;
            }
            Thread.yield();
        }
        r.r1 = 1;
    }

    /** The waiter of this state sleeps in {@code await} (parked with the queue as its blocker). */
    private boolean parkedOnQueue() {
        Thread w = waiterThread;
        return w != null && w.getState() == Thread.State.WAITING && LockSupport.getBlocker(w) == wq;
    }

    @Actor
    public void waiter(II_Result r) {
        waiterThread = Thread.currentThread();
        int[] checks = new int[1];
        wq.await(key, () -> {
            checks[0]++;
            return done == 1;
        });
        r.r2 = Math.min(checks[0] - 1, 2);
        returned = true;
    }
}
