/**
 * The world's convention for a bad release: an image whose tag is `bad` or ends in `-bad`
 * (e.g. `registry.test/release-manager:v2024.01.15-bad`). KWOK's crash-loop stage uses the same rule.
 */
export function isBadImage(image: string): boolean {
  return /:([^:/@]*-)?bad$/.test(image);
}

/**
 * A degraded release: pods start and pass their probes, but the service fails requests and is slow
 * (tag `degraded` or ending in `-degraded`). For rolling back onto a revision that is bad too.
 */
export function isDegradedImage(image: string): boolean {
  return /:([^:/@]*-)?degraded$/.test(image);
}

/** A release that starts slowly: pods Ready (and /ready 200) only SLOW_READY_SECONDS after they start. */
export function isSlowReadyImage(image: string): boolean {
  return /:([^:/@]*-)?slow$/.test(image);
}

/**
 * A release that runs and passes its probes but fails one request in 40 (2.5%): under the procedure's
 * 5% trigger and over both its 1% pass bar and the dashboard review's 0.1% (tag ending in `-flaky`).
 */
export function isFlakyImage(image: string): boolean {
  return /:([^:/@]*-)?flaky$/.test(image);
}

/** A healthy release that uses several times the CPU and memory of the others (tag ending in `-hungry`). */
export function isHungryImage(image: string): boolean {
  return /:([^:/@]*-)?hungry$/.test(image);
}

/**
 * What one container of an image uses, as cAdvisor would report it: a good release 50 m CPU and
 * 64 MiB; a bad or degraded one 4× the CPU and 2.5× the memory (it spins and leaks); a `-hungry` one 6×
 * and 4× (healthy otherwise, so only the resource check fails on it).
 */
export function resourcesOf(image: string): { cpuCores: number; memoryBytes: number } {
  const MiB = 2 ** 20;
  if (isHungryImage(image)) return { cpuCores: 0.3, memoryBytes: 256 * MiB };
  if (isBadImage(image) || isDegradedImage(image)) return { cpuCores: 0.2, memoryBytes: 160 * MiB };
  return { cpuCores: 0.05, memoryBytes: 64 * MiB };
}
