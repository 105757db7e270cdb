// `npm run demo`, exactly as the README gives it: headless with --yes (the whole story, exit 0), and
// with a person clicking "Roll back" on the emulated #incidents page in a real Chromium.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';

const ARTIFACTS = 'test-artifacts';

interface Demo {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts the demo in its own process group, as a terminal would, so Ctrl-C can reach all of it. */
function startDemo(args: string[]): Demo {
  let out = '';
  const proc = spawn('npm', ['run', 'demo', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

async function waitForOutput(demo: Demo, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(demo.output());
    if (m) return m;
    if (demo.proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`demo output never matched ${pattern}:\n${demo.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The demo's world must be gone once the demo is: no process still runs from its directory. */
function leftoverProcesses(output: string): string[] {
  const root = /\[world\] starting in (\S+)/.exec(output)?.[1];
  if (!root) throw new Error(`the demo never said where its world is:\n${output.slice(-2000)}`);
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(root));
}

describe('npm run demo', () => {
  let running: Demo | undefined;
  afterEach(() => {
    // A failed test must not leave a second world behind for the files that follow.
    if (running?.proc.exitCode === null && running.proc.pid) process.kill(-running.proc.pid, 'SIGKILL');
    running = undefined;
  });

  it('--yes tells the whole story (bad release → alert → approval → rollback → verified → report) and exits 0', async () => {
    // Literally the README's line: npm turns `--yes` into npm_config_yes for the script.
    const demo = startDemo(['--yes']);
    running = demo;
    const code = await Promise.race([
      demo.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 480_000)),
    ]);
    const out = demo.output();
    expect(code, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/Open the #incidents channel: +http:\/\/127\.0\.0\.1:\d+\/channel\/C0INCIDENTS/);
    // Posted on its own: a watch trigger or an Alertmanager alert asked for it, not a person.
    expect(out).toMatch(/Requested by .+ \((watch|alert)\)/);
    expect(out).toMatch(/Why: .+ since \d{4}-/);
    expect(out).toContain('--yes: approving as @alice');
    expect(out).toMatch(/Approved by (@alice|<@U0SRE00001> \(alice\))/);
    expect(out).toContain('successfully rolled out');
    expect(out).toContain('rollback verified');
    expect(out).toContain('# Incident Report: Rollback of release-manager');
    expect(out).toContain('image now: registry.test/release-manager:v2024.01.14');
    // App Home after the rollback, then the form `/rollback` opens.
    expect(out).toContain('App Home for @alice');
    expect(out).toMatch(/release-manager · deployment production\/release-manager-prod/);
    expect(out).toMatch(/Last rollback: .*completed/);
    expect(out).toContain('`/rollback` with no service opens the rollback form');
    expect(out).toMatch(/Default: revision \d+ \(previous\)/);
    expect(out).toContain('Only assess: change nothing');
    expect(leftoverProcesses(out)).toEqual([]);
  }, 540_000);

  it('lets a person approve on the #incidents page in Chromium, then stops everything on Ctrl-C', async () => {
    const demo = startDemo([]);
    running = demo;
    const url = (await waitForOutput(demo, /Open the #incidents channel: +(\S+)/, 120_000))[1]!;
    const browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await page.goto(url);
      await page.waitForFunction('document.body.dataset.ready === "1"');
      const rollBack = page.locator('button[data-action-id="rollback_approve"]');
      await rollBack.waitFor({ timeout: 180_000 });
      expect(await rollBack.textContent()).toBe('Roll back');
      await page.screenshot({ path: join(ARTIFACTS, 'demo-proposal.png'), fullPage: true });
      await rollBack.click();
      // Our Approve button carries a Slack confirm dialog; the page shows it like Slack does.
      const confirm = page.locator('#confirm-yes');
      if (await confirm.isVisible({ timeout: 2000 }).catch(() => false)) await confirm.click();
      await page.getByText('complete and verified').first().waitFor({ timeout: 240_000 });
      await expect(page.locator('#messages').textContent()).resolves.toContain(
        'Approved by @Alice (SRE on call)',
      );
      await page.screenshot({ path: join(ARTIFACTS, 'demo-verified.png'), fullPage: true });
    } finally {
      await browser.close();
    }
    await waitForOutput(demo, /demo complete/, 60_000);

    process.kill(-demo.proc.pid!, 'SIGINT');
    await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 30_000))]);
    expect(demo.proc.exitCode ?? demo.proc.signalCode).not.toBeNull();
    expect(demo.output()).toContain('stopping the bot, the emulator and the world');
    expect(leftoverProcesses(demo.output())).toEqual([]);
  }, 540_000);
});
