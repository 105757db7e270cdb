// A real browser for the demo page test: Debian's chromium, driven by playwright-core (which ships no
// browser of its own). Installed like the world's servers: by us when root, else the exact apt line.
import { type Browser, chromium } from 'playwright-core';
import { ensureDebianPackages } from './world/debian.js';

const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  ensureDebianPackages((l) => console.error(l), [{ bin: CHROMIUM, pkg: 'chromium' }]);
  // --no-sandbox: the test runs as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}
