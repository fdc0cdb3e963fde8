package io.kdefer.timer;

import io.kdefer.testkit.TestKernels;
import io.kdefer.Jiffies;
import io.kdefer.Kernel;
import io.kdefer.ManualClock;
import io.kdefer.internal.Secrets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the wheel puts a timer and when it fires: the level boundaries, the bucket rounding, the
 * clamp at the wheel's capacity and the order of expiry within one tick, at HZ 1000, 250 and 100.
 *
 * <p>The expected values come from the kernel's rule, recomputed here: level {@code n} is the
 * lowest whose range holds {@code delta = expires - clk} ({@code delta < LVL_START(n + 1)} with
 * {@code LVL_START(n) = 63 << 3(n-1)}), and the bucket's expiry is
 * {@code ((expires >> 3n) + 1) << 3n}. The wheel's clock is forwarded to {@code jiffies} when a
 * timer is armed on an otherwise empty wheel, so for these tests {@code clk} is the arming jiffy.
 * Low levels fire end to end under a {@link ManualClock}; for the high levels, which would need
 * millions of ticks, the arithmetic is checked through {@link TimerWheel#calcWheelIndex} and the
 * bucket a real {@code mod()} chose through the engine's next expiry.
 */
class TimerWheelGeometryTest {

    // ---------------------------------------------------------------- the kernel's rule, restated

    static int depth(int hz) {
        return hz > 100 ? 9 : 8;
    }

    /** {@code LVL_START(n)}, n >= 1. */
    static long lvlStart(int n) {
        return 63L << (3 * (n - 1));
    }

    static long cutoff(int depth) {
        return lvlStart(depth);
    }

    static long timeoutMax(int depth) {
        return cutoff(depth) - (1L << (3 * (depth - 1)));
    }

    /** The level the kernel picks for {@code delta >= 0}. */
    static int level(long delta, int depth) {
        int lvl = 0;
        while (lvl < depth - 1 && delta >= lvlStart(lvl + 1)) {
            lvl++;
        }
        return lvl;
    }

    /** Bucket expiry (the jiffy at whose tick the timer runs) for a timer armed with wheel clock {@code clk}. */
    static long expectedFire(long clk, long expires, int depth) {
        long delta = expires - clk;
        if (delta < 0) {
            return clk;
        }
        if (delta >= cutoff(depth)) {
            expires = clk + timeoutMax(depth);
        }
        int shift = 3 * level(delta, depth);
        return ((expires >>> shift) + 1) << shift;
    }

    /** Bucket index: {@code level * 64 + (((expires >> 3n) + 1) & 63)}. */
    static int expectedIndex(long clk, long expires, int depth) {
        long delta = expires - clk;
        if (delta < 0) {
            return (int) (clk & 63);
        }
        if (delta >= cutoff(depth)) {
            expires = clk + timeoutMax(depth);
        }
        int lvl = level(delta, depth);
        return lvl * 64 + (int) (((expires >>> (3 * lvl)) + 1) & 63);
    }

    /** The deltas on both sides of every level boundary up to {@code maxLevel}, plus a few inside levels. */
    static List<Long> boundaryDeltas(int maxLevel) {
        List<Long> d = new ArrayList<>(List.of(0L, 1L, 2L, 7L, 8L, 61L));
        for (int n = 1; n <= maxLevel; n++) {
            long s = lvlStart(n);
            long gran = 1L << (3 * n);
            d.add(s - 1);
            d.add(s);
            d.add(s + 1);
            d.add(s + gran - 1);
            d.add(s + gran);
        }
        return d;
    }

    // ---------------------------------------------------------------- arithmetic

    /**
     * The constants of the geometry: 9 levels above HZ 100, 8 at HZ 100; capacity
     * {@code WHEEL_TIMEOUT_MAX} = 1 040 187 392 and 130 023 424 jiffies. Spec §6.3, §11.5; §10 item 119.
     */
    @Test
    void depthCutoffAndTimeoutMaxMatchTheKernel() {
        TimerWheel w1000 = new TimerWheel(0, false, 1000, 0);
        TimerWheel w250 = new TimerWheel(0, false, 250, 0);
        TimerWheel w100 = new TimerWheel(0, false, 100, 0);
        assertThat(w1000.depth).isEqualTo(9);
        assertThat(w250.depth).isEqualTo(9);
        assertThat(w100.depth).isEqualTo(8);
        assertThat(w1000.cutoff).isEqualTo(1_056_964_608L);
        assertThat(w1000.timeoutMax).isEqualTo(1_040_187_392L);
        assertThat(w250.timeoutMax).isEqualTo(1_040_187_392L);
        assertThat(w100.cutoff).isEqualTo(132_120_576L);
        assertThat(w100.timeoutMax).isEqualTo(130_023_424L);
        assertThat(TimerWheel.lvlStart(1)).isEqualTo(63);
        assertThat(TimerWheel.lvlStart(2)).isEqualTo(504);
        assertThat(TimerWheel.lvlStart(3)).isEqualTo(4032);
        assertThat(TimerWheel.lvlStart(8)).isEqualTo(132_120_576L);
        assertThat(TimerWheel.lvlGran(8)).isEqualTo(16_777_216L);
    }

    /**
     * Hand-computed buckets with the wheel clock at 0: just below {@code LVL_START(n)} a timer is
     * the last bucket of level n-1 (expiring at {@code LVL_START(n)}); at {@code LVL_START(n)} it
     * is bucket 8 of level n (expiring at {@code 8 << 3n}). Spec §6.3, §6.4; §10 items 116, 119.
     */
    @Test
    void bucketsAtLevelBoundariesFromClockZero() {
        TimerWheel w = new TimerWheel(0, false, 1000, 0);
        long[][] cases = {
                // delta, index, bucket expiry
                {0, 1, 1},
                {62, 63, 63},
                {63, 72, 64},
                {503, 127, 504},
                {504, 136, 512},
                {4031, 191, 4032},
                {4032, 200, 4096},
                {32255, 255, 32256},
                {32256, 264, 32768},
        };
        for (long[] c : cases) {
            assertThat(w.calcWheelIndex(c[0], 0)).as("index for delta %d", c[0]).isEqualTo((int) c[1]);
            assertThat(w.lastBucketExpiry).as("bucket expiry for delta %d", c[0]).isEqualTo(c[2]);
        }
        for (int n = 1; n < 9; n++) {
            assertThat(w.calcWheelIndex(lvlStart(n) - 1, 0)).isEqualTo((n - 1) * 64 + 63);
            assertThat(w.lastBucketExpiry).isEqualTo(lvlStart(n));
            assertThat(w.calcWheelIndex(lvlStart(n), 0)).isEqualTo(n * 64 + 8);
            assertThat(w.lastBucketExpiry).isEqualTo(8L << (3 * n));
        }
    }

    /**
     * At every level boundary of every level, for wheel clocks that are aligned, unaligned and on
     * both sides of the 32-bit wrap, {@code calcWheelIndex} picks the kernel's level and bucket;
     * the bucket never expires before {@code expires + 1} and at most one granule of its level
     * after {@code expires}. Spec §6.3, §6.4; §10 items 116, 117.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {1000, 250, 100})
    void everyLevelBoundaryPicksTheKernelsBucket(int hz) {
        int depth = depth(hz);
        long[] clks = {0, Jiffies.initialJiffies(hz), (1L << 32) - 1, 1L << 32, (1L << 32) + 4095,
                12_345_678_901L, (1L << 40) + 511, 7L << 21, (7L << 24) - 1};
        for (long clk : clks) {
            TimerWheel w = new TimerWheel(0, false, hz, clk);
            for (long delta : boundaryDeltas(depth - 1)) {
                long expires = clk + delta;
                int idx = w.calcWheelIndex(expires, clk);
                long bucket = w.lastBucketExpiry;
                int lvl = level(delta, depth);
                assertThat(idx / 64).as("level of delta %d at clk %d", delta, clk).isEqualTo(lvl);
                assertThat(idx).as("index of delta %d at clk %d", delta, clk)
                        .isEqualTo(expectedIndex(clk, expires, depth));
                assertThat(bucket).as("bucket expiry of delta %d at clk %d", delta, clk)
                        .isEqualTo(expectedFire(clk, expires, depth));
                assertThat(bucket - expires).as("lateness of delta %d at clk %d", delta, clk)
                        .isBetween(1L, 1L << (3 * lvl));
                assertThat(bucket & ((1L << (3 * lvl)) - 1)).as("bucket expiry is a multiple of the granule")
                        .isZero();
            }
        }
    }

    /**
     * A timeout at or beyond {@code WHEEL_TIMEOUT_CUTOFF} goes to the last level's bucket for
     * {@code clk + WHEEL_TIMEOUT_MAX}, however far out it is (it fires early); one jiffy less is
     * not clamped. Spec §6.3; §10 item 119.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {1000, 250, 100})
    void timeoutBeyondCapacityIsClampedToTimeoutMax(int hz) {
        int depth = depth(hz);
        long cutoff = cutoff(depth);
        long max = timeoutMax(depth);
        long lastGran = 1L << (3 * (depth - 1));
        for (long clk : new long[] {0, Jiffies.initialJiffies(hz), (1L << 32) - 3, 99_999_999_999L}) {
            TimerWheel w = new TimerWheel(0, false, hz, clk);
            long clampedBucket = (((clk + max) >>> (3 * (depth - 1))) + 1) << (3 * (depth - 1));
            int clampedIndex = (depth - 1) * 64 + (int) ((((clk + max) >>> (3 * (depth - 1))) + 1) & 63);
            for (long delta : new long[] {cutoff, cutoff + 1, 2 * cutoff, 1L << 40, Long.MAX_VALUE - clk}) {
                assertThat(w.calcWheelIndex(clk + delta, clk)).as("index for delta %d", delta).isEqualTo(clampedIndex);
                assertThat(w.lastBucketExpiry).as("bucket for delta %d", delta).isEqualTo(clampedBucket);
                assertThat(w.lastBucketExpiry - clk).isBetween(max + 1, max + lastGran);
            }
            // one jiffy below the cutoff: the last level, not clamped, never early
            int idx = w.calcWheelIndex(clk + cutoff - 1, clk);
            assertThat(idx / 64).isEqualTo(depth - 1);
            assertThat(w.lastBucketExpiry - (clk + cutoff - 1)).isBetween(1L, lastGran);
        }
        assertThat(max).isEqualTo(hz == 100 ? 130_023_424L : 1_040_187_392L);
    }

    /**
     * An expiry before the wheel clock goes to the clock's own bucket at level 0 (it fires at the
     * next tick). Spec §6.3; §10 item 118.
     */
    @Test
    void pastExpiryGoesToTheClocksBucket() {
        long clk = Jiffies.initialJiffies(1000) + 77;
        TimerWheel w = new TimerWheel(0, false, 1000, clk);
        for (long back : new long[] {1, 2, 63, 100_000, 1L << 40}) {
            assertThat(w.calcWheelIndex(clk - back, clk)).isEqualTo((int) (clk & 63));
            assertThat(w.lastBucketExpiry).isEqualTo(clk);
        }
    }

    // ---------------------------------------------------------------- end to end

    /**
     * Timers armed at both sides of every level boundary up to the start of level 3 (level 4 at
     * HZ 100) fire at exactly the jiffy the kernel's rule gives, once each, on the CPU that armed
     * them: at an unaligned arming jiffy on CPU 0 and at a jiffy aligned to 512 on CPU 1. (About
     * 5 000 ticks, 37 000 at HZ 100.) Spec §6.3, §6.4, §6.7; §10 items 109, 116.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {1000, 250, 100})
    void timersAtLevelBoundariesFireAtTheBucketExpiry(int hz) {
        int maxLevel = hz == 100 ? 4 : 3;
        List<Long> deltas = boundaryDeltas(maxLevel);
        deltas.removeIf(d -> d > lvlStart(maxLevel) + 1);
        ManualClock clock = new ManualClock();
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(2).hz(hz).clock(clock).build())) {
            Map<String, Long> fired = new ConcurrentHashMap<>();
            Map<String, Integer> runs = new ConcurrentHashMap<>();
            Map<String, Integer> ranOn = new ConcurrentHashMap<>();
            Map<String, Long> expected = new TreeMap<>();
            long last = 0;
            for (int cpu = 0; cpu < 2; cpu++) {
                long armAt = cpu == 0 ? k.jiffies() : ((k.jiffies() >> 9) + 1) << 9;
                while (k.jiffies() != armAt) {
                    clock.tick();
                }
                final int c = cpu;
                for (long d : deltas) {
                    String key = "cpu" + c + "+" + d;
                    long expires = armAt + d;
                    expected.put(key, expectedFire(armAt, expires, depth(hz)));
                    last = Math.max(last, expected.get(key));
                    k.runOnCpu(c, () -> {
                        KernelTimer t = KernelTimer.setup(k, self -> {
                            fired.put(key, k.jiffies());
                            runs.merge(key, 1, Integer::sum);
                            ranOn.put(key, k.smpProcessorId());
                        });
                        t.mod(expires);
                        return null;
                    });
                }
            }
            while (k.jiffies() - last < 8) {
                clock.tick();
            }
            assertThat(new TreeMap<>(fired)).isEqualTo(expected);
            assertThat(runs.values()).allMatch(n -> n == 1);
            ranOn.forEach((key, cpu) -> assertThat(key).startsWith("cpu" + cpu + "+"));
            assertThat(k.stats().errors()).isZero();
        }
    }

    /**
     * High levels and the clamp through the real arming path: after {@code mod()} of a timer at
     * each boundary of levels 4 and up, and beyond the capacity, the CPU's next timer event is
     * that timer's bucket expiry; when an earlier level-0 timer is deleted again, the recomputed
     * next event is again the high-level bucket. Spec §6.3, §6.4, §6.5; §10 item 119.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {1000, 250, 100})
    void highLevelAndClampedTimersSitInTheKernelsBucket(int hz) {
        int depth = depth(hz);
        ManualClock clock = new ManualClock();
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(hz).clock(clock).build())) {
            KernelTimer far = KernelTimer.setup(k, t -> { });
            KernelTimer near = KernelTimer.setup(k, t -> { });
            TimerEngine engine = TimerEngine.of(Secrets.runtime(k));
            List<Long> deltas = boundaryDeltas(depth - 1);
            deltas.removeIf(d -> d < lvlStart(4) - 1);
            deltas.addAll(List.of(cutoff(depth) - 1, cutoff(depth), 3 * cutoff(depth), 1L << 45));
            for (long d : deltas) {
                clock.tick(3);   // a new arming jiffy each time: the clock is forwarded at the arm
                long now = k.jiffies();
                far.mod(now + d);
                long bucket = expectedFire(now, now + d, depth);
                assertThat(engine.nextWakeup(0)).as("next event for delta %d", d).isEqualTo(bucket);
                near.mod(now + 5);
                assertThat(engine.nextWakeup(0)).isEqualTo(now + 6);
                assertThat(near.delete()).isTrue();
                assertThat(engine.nextWakeup(0)).as("recomputed next event for delta %d", d).isEqualTo(bucket);
                if (d >= cutoff(depth)) {
                    assertThat(bucket - now).as("clamped: fires at the capacity").isLessThanOrEqualTo(
                            timeoutMax(depth) + (1L << (3 * (depth - 1))));
                    assertThat(bucket - now).isLessThan(d);
                }
                assertThat(far.delete()).isTrue();
                assertThat(engine.nextWakeup(0)).isEqualTo(Long.MAX_VALUE);
            }
        }
    }

    /**
     * Item 117: at HZ 1000 a timer 100 ms out (level 1, 8 ms granule) fires within (100, 108]
     * ms of arming; at HZ 250 a timer 1 s out (250 jiffies, level 1, 32 ms granule) fires within
     * (1.000, 1.032] s. Armed at 8 consecutive jiffies, so every phase of the granule is covered;
     * each fires at exactly the kernel's bucket expiry. Spec §6.3, §6.4; §10 item 117.
     */
    @ParameterizedTest(name = "HZ={0}")
    @ValueSource(ints = {1000, 250})
    void item117LatenessBoundAtHz1000And250(int hz) {
        long timeoutMs = hz == 1000 ? 100 : 1000;
        ManualClock clock = new ManualClock();
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(1).hz(hz).clock(clock).build())) {
            long timeout = k.msecsToJiffies(timeoutMs);
            assertThat(timeout).isEqualTo(hz == 1000 ? 100 : 250);
            Map<Long, Long> fired = new ConcurrentHashMap<>();
            Map<Long, Long> expected = new TreeMap<>();
            for (int phase = 0; phase < 8; phase++) {
                long armedAt = k.jiffies();
                expected.put(armedAt, expectedFire(armedAt, armedAt + timeout, 9));
                KernelTimer.setup(k, t -> fired.put(armedAt, k.jiffies())).mod(armedAt + timeout);
                clock.tick();
            }
            clock.tick((int) timeout + 16);
            assertThat(new TreeMap<>(fired)).isEqualTo(expected);
            List<Long> latenessMs = new ArrayList<>();
            for (Map.Entry<Long, Long> e : fired.entrySet()) {
                long elapsedMs = k.jiffiesToMsecs(e.getValue() - e.getKey());
                assertThat(elapsedMs).isGreaterThan(timeoutMs).isLessThanOrEqualTo(timeoutMs + (hz == 1000 ? 8 : 32));
                latenessMs.add(elapsedMs - timeoutMs);
            }
            // the 8 phases of an 8-jiffy granule give 8 different lateness values
            assertThat(latenessMs).doesNotHaveDuplicates();
        }
    }

    /**
     * Timers that expire at the same tick from different levels run higher level first, and the
     * timers of one bucket run most recently armed first, whatever their {@code expires}: two
     * level-2, two level-1 and two level-0 timers all due at one multiple of 64. Spec §6.5, §6.7;
     * §10 item 120.
     */
    @Test
    void sameTickHigherLevelFirstAndLifoWithinABucket() {
        ManualClock clock = new ManualClock();
        try (Kernel k = TestKernels.track(Kernel.builder().cpus(2).hz(1000).clock(clock).build())) {
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            Map<String, Long> at = new ConcurrentHashMap<>();
            long t = (((k.jiffies() + 600) >> 6) + 1) << 6;
            // level 2 (armed >= 504 jiffies ahead): c1 then c2
            arm(k, 1, "c1", t - 40, order, at);
            arm(k, 1, "c2", t - 1, order, at);
            while (k.jiffies() != t - 100) {
                clock.tick();
            }
            // level 1 (63..503 ahead), same bucket: b1 (later expires) armed before b2
            arm(k, 1, "b1", t - 7, order, at);
            arm(k, 1, "b2", t - 2, order, at);
            while (k.jiffies() != t - 10) {
                clock.tick();
            }
            // level 0, same expires
            arm(k, 1, "a1", t - 1, order, at);
            arm(k, 1, "a2", t - 1, order, at);
            while (k.jiffies() != t - 1) {
                clock.tick();
            }
            assertThat(order).isEmpty();
            clock.tick();
            assertThat(order).containsExactly("c2", "c1", "b2", "b1", "a2", "a1");
            assertThat(at.values()).containsOnly(t);
        }
    }

    private static void arm(Kernel k, int cpu, String name, long expires,
                            ConcurrentLinkedQueue<String> order, Map<String, Long> at) {
        k.runOnCpu(cpu, () -> {
            KernelTimer.setup(k, self -> {
                order.add(name);
                at.put(name, k.jiffies());
            }).mod(expires);
            return null;
        });
    }
}
