package io.kdefer.jcstress;

import io.kdefer.Clock;
import io.kdefer.internal.JiffiesTick;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The sleep protocol of {@code io.kdefer.internal.JiffiesTick}, the thread that keeps the copy of
 * {@code jiffies} the softirq loop's restarts read: a reader that starts relying on the copy marks
 * it wanted and then looks whether the tick thread sleeps; the thread announces that it sleeps and
 * then looks whether the copy is wanted. At least one sees the other's write.
 * <pre>
 *   reader: r1 = announceReader(now)       tick thread: r2 = beginSleep()
 *   Forbidden: r1 == false, r2 == true     (the reader did not wake the thread, and the thread
 *                                           parks although a reader relies on its copy)
 * </pre>
 * The thread of the tick object is never started: the actors run the two halves of the protocol
 * and stop where the thread would park or the reader would unpark.
 *
 * <p>Result: {@code r1} = the reader found the thread asleep (and would unpark it); {@code r2} =
 * the thread would park.
 */
@JCStressTest
@Outcome(id = "true, true", expect = ACCEPTABLE,
        desc = "The thread parks and the reader saw it announced: it unparks the thread.")
@Outcome(id = "false, false", expect = ACCEPTABLE,
        desc = "The thread saw the reader and stays awake; the reader did not need to wake it.")
@Outcome(id = "true, false", expect = ACCEPTABLE,
        desc = "Both saw each other: a harmless unpark of a thread that does not park.")
@Outcome(id = "false, true", expect = FORBIDDEN,
        desc = "LOST WAKE-UP: the thread parks while a reader relies on a copy nobody updates.")
@State
public class JiffiesTickNoLostWakeupTest {
    private final JiffiesTick tick = new JiffiesTick(Clock.system());

    @Actor
    public void reader(ZZ_Result r) {
        r.r1 = tick.announceReader(0);
    }

    @Actor
    public void tickThread(ZZ_Result r) {
        r.r2 = tick.beginSleep();
    }
}
