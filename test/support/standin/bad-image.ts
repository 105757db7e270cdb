/**
 * The world's convention for a bad release: an image whose tag is `bad` or ends in `-bad`
 * (e.g. `registry.test/release-manager:v2024.01.15-bad`). KWOK's crash-loop stage uses the same rule.
 */
export function isBadImage(image: string): boolean {
  return /:([^:/@]*-)?bad$/.test(image);
}
