package io.kdefer.jcstress;

import io.kdefer.IdleStrategy;
import io.kdefer.internal.Parker;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The no-lost-wake-up protocol of {@code io.kdefer.internal.Parker}: the waker publishes work and
 * then calls {@code wake()}; the sleeper announces {@code beginSleep()} and then checks for work.
 * At least one of them sees the other's write: either {@code wake()} finds the sleeper announced
 * and unparks it, or the sleeper finds the work and does not park.
 * <pre>
 *   waker: work = 1 (volatile); r0 = parker.wake()     sleeper: parker.beginSleep(); r1 = (work == 1)
 *   Forbidden: r0 == false, r1 == false   (the wake-up was elided and the sleeper would park
 *                                          with work pending: a lost wake-up)
 * </pre>
 * The sleeper stops where it would decide to park, so the actors always terminate. The parker is
 * bound to no thread, so a successful {@code wake()} unparks nobody.
 *
 * <p>Result: {@code r1} = {@code wake()} unparked (true) or elided (false); {@code r2} = the
 * sleeper saw the work.
 */
@JCStressTest
@Outcome(id = "true, true", expect = ACCEPTABLE,
        desc = "Both saw each other: the wake-up is spent on a sleeper that will not park (harmless).")
@Outcome(id = "true, false", expect = ACCEPTABLE,
        desc = "The sleeper missed the work but the waker saw it announced and unparks it.")
@Outcome(id = "false, true", expect = ACCEPTABLE,
        desc = "The waker elided the wake-up; the sleeper saw the work and does not park.")
@Outcome(id = "false, false", expect = FORBIDDEN,
        desc = "LOST WAKE-UP: the waker elided the wake-up and the sleeper saw no work.")
@State
public class ParkerNoLostWakeupTest {
    private final Parker parker = new Parker(IdleStrategy.park());
    private volatile int work;

    @Actor
    public void waker(ZZ_Result r) {
        work = 1;
        r.r1 = parker.wake();
    }

    @Actor
    public void sleeper(ZZ_Result r) {
        parker.beginSleep();
        r.r2 = work == 1;
    }
}
