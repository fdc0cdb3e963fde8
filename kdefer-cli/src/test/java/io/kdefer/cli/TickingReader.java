package io.kdefer.cli;

import io.kdefer.ManualClock;
import io.kdefer.testkit.Waits;
import io.kdefer.testkit.Worker;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * One read of a command on a reader thread of its own while the test drives a {@link ManualClock}:
 * the clock ticks each time {@code waitingOnTimer} says the read waits for a timer, and only then,
 * so each timer fires at the first tick that may fire it and nothing else moves the clock. Bounded
 * by the test kit's hang guard; if the read hangs, the clock is moved far ahead so that the reader
 * ends and is joined before the test fails.
 */
final class TickingReader {
    /** A read that may throw anything. */
    @FunctionalInterface
    interface Read {
        String read() throws Exception;
    }

    /** Jiffies a hung read gets to reach its own timeouts before it is joined. */
    private static final int UNSTICK_TICKS = 120_000;

    private TickingReader() {
    }

    /**
     * Runs {@code read} on a reader thread named {@code name}; {@code firstTick} runs once, just
     * before the first tick (the reader has armed its timer by then). Returns what the read returned.
     */
    static String read(String name, ManualClock clock, BooleanSupplier waitingOnTimer, Runnable firstTick, Read read) {
        AtomicReference<String> result = new AtomicReference<>();
        Worker reader = Worker.start(name, () -> result.set(read.read()));
        boolean[] ticked = {false};
        try {
            Waits.spinUntil(() -> {
                if (!reader.isAlive()) {
                    return true;
                }
                if (waitingOnTimer.getAsBoolean()) {
                    if (!ticked[0]) {
                        ticked[0] = true;
                        firstTick.run();
                    }
                    clock.tick();
                }
                return false;
            }, name + " finished its read");
        } finally {
            if (reader.isAlive()) {
                clock.tick(UNSTICK_TICKS);
            }
            Worker.joinQuietly(reader);
        }
        reader.joinAndCheck();
        return result.get();
    }
}
