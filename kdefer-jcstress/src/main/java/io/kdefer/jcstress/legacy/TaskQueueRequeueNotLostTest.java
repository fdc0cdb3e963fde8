package io.kdefer.jcstress.legacy;

import io.kdefer.Kernel;
import io.kdefer.legacy.TaskQueue;
import io.kdefer.testkit.BoundedSpin;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * {@code run_task_queue} clears a task's sync bit before calling its routine, so a
 * {@code queue_task} racing the run either lands in this run (it finds the bit set and returns
 * false, and the routine called after the clear sees the queuer's writes) or in the next one (it
 * returns true): never lost (spec §8.2; §10.8 item 155; {@code TaskQueue} "Protocol and ordering").
 * <pre>
 *   setup: q.queueTask(t)                       t: seen = x; (first run: wait for about; linger); runs++
 *   T0: x = 1; about = 1; r1 = q.queueTask(t)   T1: q.run()
 *   arbiter: q.run(); r2 = runs; r3 = seen (of the last run)
 *   Forbidden: r3 == 0 (the last run did not see the write made before a queueTask)
 *   Forbidden: r2 != 1 + r1 (a true got no run of its own, or a false got one)
 * </pre>
 * {@code x} is a plain field: what publishes it is the task-queue lock that both the queuer's
 * test of the bit and the runner's clear take. The first run holds (bounded) until T0 is about to
 * call and then lingers for 30 spin hints, so T0's call falls inside the routine whenever T1's run
 * started first: the case the clear-before-call rule is for.
 *
 * <p>How it fails. Checked by a temporary edit of the core ({@code TaskQueue.runBatch} clearing
 * the bit after the routine returns instead of before calling it; sanity mode, JDK 17, 2-CPU
 * x86-64, 28 JVM configurations): 4 of the 28 configurations failed, with the outcome
 * {@code 0, 1, 0} (T0's call found the bit still set while the routine had already read
 * {@code x}, and no run followed). Without the first run's hold the window was too narrow for
 * sanity mode to see it (28 of 28 passed on the broken core), which is why the hold is there. The
 * unmodified core passed 28 of 28, with both acceptable outcomes seen.
 *
 * <p>Result: {@code r1} = T0's queueTask (1 true); {@code r2} = runs after the arbiter's run;
 * {@code r3} = {@code x} as the last run saw it.
 */
@JCStressTest
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE,
        desc = "T0 found the task queued; the run that followed the clear saw x = 1.")
@Outcome(id = "1, 2, 1", expect = ACCEPTABLE,
        desc = "T0 queued the task again (bit already clear): the next run ran it and saw x = 1.")
@Outcome(id = ".*, .*, 0", expect = FORBIDDEN,
        desc = "LOST: the last run did not see the write made before queueTask.")
@Outcome(expect = FORBIDDEN, desc = "Runs differ from the queueTask calls that returned true.")
@State
public class TaskQueueRequeueNotLostTest {
    static final Kernel KERNEL = Kernel.builder().cpus(2).build();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(KERNEL::close, "kdefer-jcstress-close"));
    }

    private final TaskQueue q = new TaskQueue(KERNEL, "jcstress");
    private int x;
    private int runs;     // written by the runner only; the arbiter reads after its own run
    private int seen = -1;
    private volatile boolean about;
    private final Runnable task = () -> {
        seen = x;
        if (runs == 0) {
            BoundedSpin.hold(() -> about);   // the first run lasts until T0 is about to queue
            BoundedSpin.spin(30);
        }
        runs++;
    };

    public TaskQueueRequeueNotLostTest() {
        q.queueTask(task);
    }

    @Actor
    public void t0(III_Result r) {
        x = 1;
        about = true;
        r.r1 = q.queueTask(task) ? 1 : 0;
    }

    @Actor
    public void t1() {
        q.run();
    }

    @Arbiter
    public void arbiter(III_Result r) {
        q.run();
        r.r2 = runs;
        r.r3 = seen;
    }
}
