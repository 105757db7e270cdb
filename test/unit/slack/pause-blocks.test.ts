// The pause switch's blocks: valid Block Kit by the emulator's rules (what chat.postMessage and
// chat.update enforce), the Pause button behind an "are you sure?", and what replaces it says who
// paused, until when, and offers Resume.
import { describe, expect, it } from 'vitest';
import {
  buildLapsed,
  buildPaused,
  buildPauseOffer,
  buildResumed,
} from '../../../src/slack/blocks/pause-blocks.js';
import { ACTION } from '../../../src/slack/ids.js';
import { checkBlocks } from '../../support/slack-emulator/block-kit.js';
import type { Json } from '../../support/slack-emulator/types.js';

const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as Json;
const buttons = (blocks: unknown[]) =>
  JSON.parse(JSON.stringify(blocks)).flatMap((b: { elements?: { action_id?: string }[] }) =>
    (b.elements ?? []).filter((e) => e.action_id),
  ) as { action_id: string; value: string; confirm?: unknown }[];

describe('pause blocks', () => {
  const p = {
    service: 'release-manager',
    namespace: 'prod',
    deployment: 'release-manager-prod',
    by: { kind: 'user' as const, id: 'U0SRE00001', name: 'alice' },
    at: '2026-12-07T01:00:00.000Z',
    until: '2026-12-07T05:00:00.000Z',
  };

  it('offers Pause with a confirmation, for the service', () => {
    const b = buildPauseOffer('release-manager', '4 h');
    expect(checkBlocks(asJson(b)).ok).toBe(true);
    const [pause] = buttons(b);
    expect(pause).toMatchObject({ action_id: ACTION.pause, value: 'release-manager' });
    expect(JSON.stringify(pause)).toContain('Pause auto-rollbacks for 4 h');
    expect(JSON.stringify(pause?.confirm)).toContain('For 4 h the bot will not roll');
    expect(JSON.stringify(buildPauseOffer('release-manager', '90 min'))).toContain('for 90 min');
  });

  it('says who paused and until when, and offers Resume; once resumed, Pause again', () => {
    const paused = buildPaused('release-manager', p);
    expect(checkBlocks(asJson(paused)).ok).toBe(true);
    expect(JSON.stringify(paused)).toContain('paused by <@U0SRE00001> until 2026-12-07 05:00 UTC');
    expect(buttons(paused).map((x) => x.action_id)).toEqual([ACTION.resume]);
    expect(JSON.stringify(buildPaused('release-manager'))).toContain('are paused');
    const resumed = buildResumed('release-manager', 'U0SRE00002', '4 h');
    expect(checkBlocks(asJson(resumed)).ok).toBe(true);
    expect(JSON.stringify(resumed)).toContain('resumed by <@U0SRE00002>');
    expect(buttons(resumed).map((x) => x.action_id)).toEqual([ACTION.pause]);
  });

  it('says in the channel whose pause lapsed and when, and offers Pause again', () => {
    const lapsed = buildLapsed(p, '4 h');
    expect(checkBlocks(asJson(lapsed)).ok).toBe(true);
    expect(JSON.stringify(lapsed)).toContain(
      'pause of automatic rollbacks of `release-manager` by <@U0SRE00001> lapsed at 2026-12-07 05:00 UTC',
    );
    expect(buttons(lapsed).map((x) => x.action_id)).toEqual([ACTION.pause]);
  });
});
