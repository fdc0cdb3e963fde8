package io.kdefer;

import io.kdefer.testkit.TestKernels;
import io.kdefer.timer.KernelTimer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Jiffies}: the start value, the wrap-safe comparisons, the conversions and the rounding
 * helpers, checked against the kernel's definitions ({@code include/linux/jiffies.h},
 * {@code kernel/time/time.c}, {@code round_jiffies_common} in {@code kernel/time/timer.c}); and
 * the counter and the timer wheel across the 32-bit wrap of jiffies.
 */
class JiffiesTest {
    private static final long WRAP = 1L << 32;

    // ---------------------------------------------------------------- start value

    /**
     * {@code INITIAL_JIFFIES} is {@code (unsigned int)(-300 * HZ)}: 300 seconds of ticks before
     * the low 32 bits wrap, and a kernel driven by a {@link ManualClock} starts there.
     * Spec §6.8, §11.1; §10 item 129.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {100, 250, 300, 1000})
    void jiffiesStartFiveMinutesBeforeThe32BitWrap(int hz) {
        assertThat(Jiffies.initialJiffies(hz)).isEqualTo(WRAP - 300L * hz);
        assertThat(Clock.initialJiffies(hz)).isEqualTo(WRAP - 300L * hz);
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(hz).clock(new ManualClock()).build())) {
            assertThat(k.jiffies()).isEqualTo(WRAP - 300L * hz);
            assertThat((int) k.jiffies()).isNegative();
        }
    }

    // ---------------------------------------------------------------- comparisons

    /**
     * {@code time_after}, {@code time_before}, {@code time_after_eq}, {@code time_before_eq} and
     * {@code time_in_range} compare by signed difference, so they stay right across the point
     * where the low 32 bits wrap (and across the wrap of the whole 64-bit counter), where a plain
     * comparison of the low 32 bits is wrong. Spec §6.8; §10 item 129.
     */
    @Test
    void comparisonsAreRightAcrossTheWrap() {
        long before = WRAP - 5;    // low 32 bits 0xFFFFFFFB
        long after = WRAP + 5;     // low 32 bits 0x00000005
        assertThat(Integer.toUnsignedLong((int) after)).isLessThan(Integer.toUnsignedLong((int) before));

        assertThat(Jiffies.timeAfter(after, before)).isTrue();
        assertThat(Jiffies.timeAfter(before, after)).isFalse();
        assertThat(Jiffies.timeAfter(after, after)).isFalse();
        assertThat(Jiffies.timeBefore(before, after)).isTrue();
        assertThat(Jiffies.timeBefore(after, before)).isFalse();
        assertThat(Jiffies.timeBefore(before, before)).isFalse();
        assertThat(Jiffies.timeAfterEq(after, before)).isTrue();
        assertThat(Jiffies.timeAfterEq(after, after)).isTrue();
        assertThat(Jiffies.timeAfterEq(before, after)).isFalse();
        assertThat(Jiffies.timeBeforeEq(before, after)).isTrue();
        assertThat(Jiffies.timeBeforeEq(before, before)).isTrue();
        assertThat(Jiffies.timeBeforeEq(after, before)).isFalse();

        assertThat(Jiffies.timeInRange(WRAP, before, after)).isTrue();
        assertThat(Jiffies.timeInRange(before, before, after)).isTrue();
        assertThat(Jiffies.timeInRange(after, before, after)).isTrue();
        assertThat(Jiffies.timeInRange(before - 1, before, after)).isFalse();
        assertThat(Jiffies.timeInRange(after + 1, before, after)).isFalse();

        // the low 32 bits alone, as time_after32 sees them
        assertThat(Jiffies.timeAfter32(after, before)).isTrue();
        assertThat(Jiffies.timeAfter32(0x5L, 0xFFFF_FFFBL)).isTrue();
        assertThat(Jiffies.timeAfter32(0xFFFF_FFFBL, 0x5L)).isFalse();

        // the 64-bit counter's own wrap
        assertThat(Jiffies.timeAfter(Long.MIN_VALUE, Long.MAX_VALUE)).isTrue();
        assertThat(Jiffies.timeBefore(Long.MAX_VALUE, Long.MIN_VALUE)).isTrue();
        assertThat(Jiffies.timeInRange(Long.MIN_VALUE, Long.MAX_VALUE - 1, Long.MIN_VALUE + 1)).isTrue();
    }

    /**
     * A kernel at HZ 100, ticked from {@code INITIAL_JIFFIES} across the 32-bit wrap (30 000
     * ticks): the counter keeps counting past 2^32, the comparisons order times on both sides,
     * and timers armed just before the wrap with expiries after it (levels 0, 1 and 2) fire at
     * exactly the kernel's bucket expiry. Spec §6.4, §6.8; §10 items 116, 129.
     */
    @Test
    void counterAndTimersAcrossThe32BitWrap() {
        ManualClock clock = new ManualClock();
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(100).clock(clock).build())) {
            long start = k.jiffies();
            assertThat(start).isEqualTo(WRAP - 30_000);
            clock.tick(30_000 - 20);
            long armed = k.jiffies();
            assertThat(armed).isEqualTo(WRAP - 20);
            Map<String, Long> fired = new ConcurrentHashMap<>();
            Map<String, Long> expected = new TreeMap<>();
            // level 0: expires + 1; level 1: next multiple of 8; level 2: next multiple of 64
            arm(k, "level0", WRAP + 20, fired);
            expected.put("level0", WRAP + 21);
            arm(k, "level0-at-wrap", WRAP - 1, fired);
            expected.put("level0-at-wrap", WRAP);
            arm(k, "level1", WRAP + 100, fired);
            expected.put("level1", WRAP + 104);
            arm(k, "level2", WRAP + 580, fired);
            expected.put("level2", WRAP + 640);
            clock.tick(19);
            assertThat(fired).isEmpty();
            clock.tick();
            assertThat(k.jiffies()).isEqualTo(WRAP);
            assertThat((int) k.jiffies()).isZero();
            assertThat(fired).containsOnlyKeys("level0-at-wrap");
            clock.tick(700);
            assertThat(new TreeMap<>(fired)).isEqualTo(expected);

            long now = k.jiffies();
            assertThat(now).isEqualTo(WRAP + 700);
            assertThat(Jiffies.timeAfter(now, start)).isTrue();
            assertThat(Jiffies.timeBefore(start, now)).isTrue();
            assertThat(Jiffies.timeAfter32(now, start)).isTrue();
            assertThat(Jiffies.timeInRange(WRAP, start, now)).isTrue();
        }
    }

    private static void arm(Kernel k, String name, long expires, Map<String, Long> fired) {
        KernelTimer.setup(k, t -> fired.put(name, k.jiffies())).mod(expires);
    }

    // ---------------------------------------------------------------- conversions

    /**
     * {@code msecs_to_jiffies} rounds up, so a delay is never shorter than asked: hand-computed
     * values at HZ 1000, 300, 250 and 100, the same through {@code Kernel.msecsToJiffies}.
     * Spec §6.8.
     */
    @Test
    void msecsToJiffiesRoundsUp() {
        long[][] table = {
                // ms, HZ 1000, HZ 300, HZ 250, HZ 100
                {0, 0, 0, 0, 0},
                {1, 1, 1, 1, 1},
                {3, 3, 1, 1, 1},
                {4, 4, 2, 1, 1},
                {5, 5, 2, 2, 1},
                {10, 10, 3, 3, 1},
                {11, 11, 4, 3, 2},
                {100, 100, 30, 25, 10},
                {101, 101, 31, 26, 11},
                {999, 999, 300, 250, 100},
                {1000, 1000, 300, 250, 100},
                {1001, 1001, 301, 251, 101},
        };
        int[] hzs = {1000, 300, 250, 100};
        for (int h = 0; h < hzs.length; h++) {
            try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(hzs[h]).clock(new ManualClock()).build())) {
                for (long[] row : table) {
                    assertThat(Jiffies.msecsToJiffies(row[0], hzs[h])).as("%d ms at HZ %d", row[0], hzs[h])
                            .isEqualTo(row[h + 1]);
                    assertThat(k.msecsToJiffies(row[0])).as("kernel: %d ms at HZ %d", row[0], hzs[h])
                            .isEqualTo(row[h + 1]);
                }
            }
        }
    }

    /**
     * For every millisecond count up to 5 s at each HZ, {@code msecsToJiffies} is the smallest
     * number of jiffies that lasts at least that long. Spec §6.8.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {100, 250, 300, 1000})
    void msecsToJiffiesIsTheSmallestLongEnoughCount(int hz) {
        List<String> wrong = new ArrayList<>();
        for (long ms = 1; ms <= 5000; ms++) {
            long j = Jiffies.msecsToJiffies(ms, hz);
            if (j * 1000 < ms * hz || (j - 1) * 1000 >= ms * hz) {
                wrong.add(ms + " ms -> " + j);
            }
        }
        assertThat(wrong).isEmpty();
    }

    /**
     * {@code usecs_to_jiffies} rounds up too: hand-computed values and the smallest-count
     * property up to 100 ms. Spec §6.8.
     */
    @Test
    void usecsToJiffiesRoundsUp() {
        assertThat(Jiffies.usecsToJiffies(0, 1000)).isZero();
        assertThat(Jiffies.usecsToJiffies(1, 1000)).isEqualTo(1);
        assertThat(Jiffies.usecsToJiffies(1000, 1000)).isEqualTo(1);
        assertThat(Jiffies.usecsToJiffies(1001, 1000)).isEqualTo(2);
        assertThat(Jiffies.usecsToJiffies(4000, 250)).isEqualTo(1);
        assertThat(Jiffies.usecsToJiffies(4001, 250)).isEqualTo(2);
        assertThat(Jiffies.usecsToJiffies(10_000, 100)).isEqualTo(1);
        assertThat(Jiffies.usecsToJiffies(10_001, 100)).isEqualTo(2);
        assertThat(Jiffies.usecsToJiffies(3334, 300)).isEqualTo(2);
        assertThat(Jiffies.usecsToJiffies(3333, 300)).isEqualTo(1);
        List<String> wrong = new ArrayList<>();
        for (int hz : new int[] {100, 250, 300, 1000}) {
            try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(hz).clock(new ManualClock()).build())) {
                for (long us = 1; us <= 100_000; us += 7) {
                    long j = Jiffies.usecsToJiffies(us, hz);
                    if (j * 1_000_000 < us * hz || (j - 1) * 1_000_000 >= us * hz || k.usecsToJiffies(us) != j) {
                        wrong.add(us + " us at HZ " + hz + " -> " + j + " (kernel " + k.usecsToJiffies(us) + ")");
                    }
                }
            }
        }
        assertThat(wrong).isEmpty();
    }

    /**
     * {@code jiffies_to_msecs}: exact where HZ divides 1000, rounded up at HZ 300
     * ({@code DIV_ROUND_UP} in {@code kernel/time/time.c}). Spec §6.8.
     */
    @Test
    void jiffiesToMsecs() {
        assertThat(Jiffies.jiffiesToMsecs(7, 1000)).isEqualTo(7);
        assertThat(Jiffies.jiffiesToMsecs(7, 250)).isEqualTo(28);
        assertThat(Jiffies.jiffiesToMsecs(7, 100)).isEqualTo(70);
        assertThat(Jiffies.jiffiesToMsecs(1, 300)).isEqualTo(4);
        assertThat(Jiffies.jiffiesToMsecs(2, 300)).isEqualTo(7);
        assertThat(Jiffies.jiffiesToMsecs(3, 300)).isEqualTo(10);
        assertThat(Jiffies.jiffiesToMsecs(300, 300)).isEqualTo(1000);
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(300).clock(new ManualClock()).build())) {
            assertThat(k.jiffiesToMsecs(2)).isEqualTo(7);
        }
        // a round trip never shrinks a duration
        List<String> shrunk = new ArrayList<>();
        for (int hz : new int[] {100, 250, 300, 1000}) {
            for (long ms = 0; ms < 3000; ms++) {
                long back = Jiffies.jiffiesToMsecs(Jiffies.msecsToJiffies(ms, hz), hz);
                if (back < ms) {
                    shrunk.add(ms + " ms at HZ " + hz + " -> " + back);
                }
            }
        }
        assertThat(shrunk).isEmpty();
    }

    /**
     * {@code jiffies_to_usecs}: exact where HZ divides 10^6; at HZ 300 the kernel truncates
     * ({@code (j * HZ_TO_USEC_NUM) / HZ_TO_USEC_DEN} on 64-bit, {@code kernel/time/time.c}), unlike
     * {@code jiffies_to_msecs}. Spec §6.8.
     */
    @Test
    void jiffiesToUsecsTruncatesLikeTheKernel() {
        assertThat(Jiffies.jiffiesToUsecs(3, 1000)).isEqualTo(3000);
        assertThat(Jiffies.jiffiesToUsecs(3, 250)).isEqualTo(12_000);
        assertThat(Jiffies.jiffiesToUsecs(3, 300)).isEqualTo(10_000);
        assertThat(Jiffies.jiffiesToUsecs(1, 300)).isEqualTo(3333);
        assertThat(Jiffies.jiffiesToUsecs(2, 300)).isEqualTo(6666);
    }

    /**
     * Conversions of very long durations do not overflow into short or negative ones: the kernel
     * clamps them to {@code MAX_JIFFY_OFFSET} ("infinite timeout"); at the least, a longer
     * duration never gives fewer jiffies (otherwise {@code msleep(Long.MAX_VALUE)} would return
     * after two ticks). At HZ 100, 250, 300 and 1000. Spec §6.8.
     */
    @Test
    void hugeDurationsDoNotOverflow() {
        for (int hz : new int[] {100, 250, 300, 1000}) {
            long reference = Jiffies.msecsToJiffies(Long.MAX_VALUE / 2000, hz);
            assertThat(reference).isPositive();
            assertThat(Jiffies.msecsToJiffies(Long.MAX_VALUE / 2, hz)).as("HZ %d", hz).isGreaterThanOrEqualTo(reference);
            assertThat(Jiffies.msecsToJiffies(Long.MAX_VALUE, hz)).as("HZ %d", hz).isGreaterThanOrEqualTo(reference);
            long usReference = Jiffies.usecsToJiffies(Long.MAX_VALUE / 2_000_000, hz);
            assertThat(Jiffies.usecsToJiffies(Long.MAX_VALUE, hz)).as("HZ %d", hz).isGreaterThanOrEqualTo(usReference);
            try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(hz).clock(new ManualClock()).build())) {
                assertThat(k.msecsToJiffies(Long.MAX_VALUE)).as("HZ %d", hz).isGreaterThanOrEqualTo(reference);
            }
        }
    }

    // ---------------------------------------------------------------- rounding

    /**
     * {@code round_jiffies}: adds 3 jiffies per CPU, rounds to a multiple of HZ (down when the
     * remainder is below {@code HZ / 4}, up otherwise), takes the skew off again, and returns the
     * original value when the result would not be after {@code now}. {@code round_jiffies_up}
     * never rounds down, so an exact second goes to the next one. Spec §6.8.
     */
    @Test
    void roundJiffiesFollowsTheKernelRule() {
        long now = 4_000_000;
        // HZ 1000, CPU 0: quarter second = 250
        assertThat(Jiffies.roundJiffies(5_000_249, 0, 1000, now)).isEqualTo(5_000_000);
        assertThat(Jiffies.roundJiffies(5_000_250, 0, 1000, now)).isEqualTo(5_001_000);
        assertThat(Jiffies.roundJiffies(5_000_999, 0, 1000, now)).isEqualTo(5_001_000);
        assertThat(Jiffies.roundJiffies(5_000_000, 0, 1000, now)).isEqualTo(5_000_000);
        assertThat(Jiffies.roundJiffiesUp(5_000_001, 0, 1000, now)).isEqualTo(5_001_000);
        assertThat(Jiffies.roundJiffiesUp(5_000_000, 0, 1000, now)).isEqualTo(5_001_000);
        // CPU 2: skewed by 6 jiffies
        assertThat(Jiffies.roundJiffies(5_000_100, 2, 1000, now)).isEqualTo(4_999_994);
        assertThat(Jiffies.roundJiffies(5_000_243, 2, 1000, now)).isEqualTo(4_999_994);
        assertThat(Jiffies.roundJiffies(5_000_244, 2, 1000, now)).isEqualTo(5_000_994);
        assertThat(Jiffies.roundJiffiesUp(5_000_100, 2, 1000, now)).isEqualTo(5_000_994);
        // HZ 250: quarter = 62; HZ 100: quarter = 25
        assertThat(Jiffies.roundJiffies(1_000_061, 0, 250, now - 3_500_000)).isEqualTo(1_000_000);
        assertThat(Jiffies.roundJiffies(1_000_062, 0, 250, now - 3_500_000)).isEqualTo(1_000_250);
        assertThat(Jiffies.roundJiffies(1_000_024, 0, 100, now - 3_500_000)).isEqualTo(1_000_000);
        assertThat(Jiffies.roundJiffies(1_000_025, 0, 100, now - 3_500_000)).isEqualTo(1_000_100);
        assertThat(Jiffies.roundJiffies(1_000_024, 1, 100, now - 3_500_000)).isEqualTo(1_000_097);
        // a result that is not after now: the value comes back unchanged
        assertThat(Jiffies.roundJiffies(5_000_100, 0, 1000, 5_000_000)).isEqualTo(5_000_100);
        assertThat(Jiffies.roundJiffies(5_000_100, 0, 1000, 4_999_999)).isEqualTo(5_000_000);
        assertThat(Jiffies.roundJiffiesUp(5_000_100, 0, 1000, 5_001_000)).isEqualTo(5_000_100);
    }

    /**
     * {@code Kernel.roundJiffies} and {@code roundJiffiesUp} use the caller's CPU for the skew and
     * the current jiffies as "now", across the 32-bit wrap (the kernel's {@code j % HZ} on an
     * unsigned value). Spec §6.8.
     */
    @Test
    void kernelRoundJiffiesUsesTheCallersCpu() {
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(4).hz(1000).clock(new ManualClock()).build())) {
            long now = k.jiffies();
            long j = WRAP + 100;                        // WRAP = 4 294 967 296: remainder 296 + 100
            for (int cpu = 0; cpu < 4; cpu++) {
                long skew = 3L * cpu;
                long rem = (j + skew) % 1000;
                long down = j + skew - rem - skew;
                long up = down + 1000;
                long expected = rem < 250 ? down : up;
                assertThat(k.runOnCpu(cpu, () -> k.roundJiffies(j))).as("cpu %d", cpu).isEqualTo(expected);
                assertThat(k.runOnCpu(cpu, () -> k.roundJiffiesUp(j))).as("cpu %d", cpu).isEqualTo(up);
                assertThat(k.runOnCpu(cpu, () -> k.roundJiffies(j)))
                        .isEqualTo(Jiffies.roundJiffies(j, cpu, 1000, now));
            }
            assertThat(k.runOnCpu(0, () -> k.roundJiffies(WRAP + 4))).isEqualTo(WRAP + 1000 - 296);
        }
    }
}
