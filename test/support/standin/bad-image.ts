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
