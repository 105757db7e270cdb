// The modal and App Home builders: what they build passes Slack's view rules (the emulator's, the
// ones views.open and views.publish enforce), offers what an operator expects (this channel's
// services, the live history with kubectl's default target first), reads a submission back, and
// never lets a name ping.
import { describe, expect, it } from 'vitest';
import type { RevisionEntry } from '../../../src/rollback/revisions.js';
import { buildAppHome, type HomeRow } from '../../../src/slack/blocks/home-blocks.js';
import {
  buildNoServiceModal,
  buildRollbackModal,
  MODAL,
  readModal,
  revisionActionOf,
} from '../../../src/slack/blocks/modal-blocks.js';
import type { Json } from '../../support/slack-emulator/types.js';
import { checkView } from '../../support/slack-emulator/views.js';

const rev = (revision: number, current = false): RevisionEntry => ({
  revision,
  replicaSet: `web-${revision}`,
  images: [`registry.test/web:v${revision}`],
  changeCause: undefined,
  createdAt: '2026-12-01T10:00:00Z',
  current,
  replicas: current ? 3 : 0,
  readyReplicas: current ? 3 : 0,
  annotations: {},
  templateAnnotations: {},
});

const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as Json;

describe('the rollback modal', () => {
  it("passes Slack's modal rules, preselecting kubectl's default target and leaving out the current revision", () => {
    const view = buildRollbackModal({
      services: ['web', 'api'],
      history: [rev(1), rev(2), rev(3, true)],
      metadata: { channel: 'C1' },
    });
    const checked = checkView(asJson(view), 'modal');
    expect(checked.ok, JSON.stringify(checked)).toBe(true);
    const revision = view.blocks.find((b) => b.block_id === MODAL.revision) as {
      element: {
        action_id: string;
        options: { value: string; text: { text: string } }[];
        initial_option: { value: string };
      };
    };
    // Picking a service is sent at once; the revisions say whose history they are.
    expect(view.blocks.find((b) => b.block_id === MODAL.service)).toMatchObject({ dispatch_action: true });
    expect(revision.element.action_id).toBe(revisionActionOf('web'));
    expect(revision.element.initial_option.value).toBe('0');
    expect(revision.element.options.map((o) => o.value)).toEqual(['0', '2', '1']);
    expect(revision.element.options[0]?.text.text).toContain('revision 2 (previous)');
    expect(JSON.parse(view.private_metadata ?? '{}')).toEqual({ channel: 'C1' });
  });

  it('lists the chosen service first-selected, with its history', () => {
    const view = buildRollbackModal({
      services: ['web', 'api'],
      selected: 'api',
      history: [rev(1), rev(2, true)],
      metadata: { channel: 'C1' },
    });
    expect(checkView(asJson(view), 'modal').ok).toBe(true);
    const text = JSON.stringify(view.blocks);
    expect(text).toContain('"initial_option":{"text":{"type":"plain_text","text":"api"},"value":"api"}');
    expect(text).toContain(`"action_id":"${revisionActionOf('api')}"`);
    expect(text).toContain('live rollout history of api');
  });

  it('stays within 100 options and 75-character labels for a long history', () => {
    const long = Array.from({ length: 150 }, (_, i) => ({
      ...rev(i + 1, i === 149),
      images: [`registry.test/${'x'.repeat(90)}:v${i}`],
    }));
    const view = buildRollbackModal({ services: ['web'], history: long, metadata: { channel: 'C1' } });
    expect(checkView(asJson(view), 'modal').ok).toBe(true);
  });

  it('says why the history is unknown instead of offering revisions it could not read', () => {
    const view = buildRollbackModal({
      services: ['web'],
      history: 'the apiserver did not answer',
      metadata: { channel: 'C1' },
    });
    expect(checkView(asJson(view), 'modal').ok).toBe(true);
    expect(JSON.stringify(view.blocks)).toContain('could not be read: the apiserver did not answer');
    expect(view.blocks.some((b) => b.type === 'input' && b.block_id === MODAL.revision)).toBe(false);
  });

  it('names where rollbacks run when none runs in this channel, with nothing to submit', () => {
    const view = buildNoServiceModal(['#payments', '#payments', '#web']);
    expect(checkView(asJson(view), 'modal').ok).toBe(true);
    expect(view.submit).toBeUndefined();
    expect(JSON.stringify(view.blocks)).toContain('They run in #payments, #web.');
  });

  it('reads a submission as Slack sends it', () => {
    const values = {
      [MODAL.service]: { [MODAL.service]: { type: 'static_select', selected_option: { value: 'api' } } },
      [MODAL.revision]: {
        [revisionActionOf('api')]: { type: 'static_select', selected_option: { value: '7' } },
      },
      [MODAL.reason]: { [MODAL.reason]: { type: 'plain_text_input', value: '  error spike  ' } },
      [MODAL.dryRun]: { [MODAL.dryRun]: { type: 'checkboxes', selected_options: [{ value: 'dry_run' }] } },
    };
    expect(readModal(values)).toEqual({
      service: 'api',
      toRevision: 7,
      revisionsOf: 'api',
      reason: 'error spike',
      dryRun: true,
    });
    expect(readModal({ [MODAL.reason]: { [MODAL.reason]: { value: null } } })).toEqual({
      service: undefined,
      toRevision: 0,
      revisionsOf: undefined,
      reason: '',
      dryRun: false,
    });
    // A revision select that names no service: said, so the listener can refuse it.
    const older = { [MODAL.revision]: { [MODAL.revision]: { selected_option: { value: '7' } } } };
    expect(readModal(older).revisionsOf).toBe('');
  });
});

describe('the App Home tab', () => {
  const row = (i: number, o: Partial<HomeRow> = {}): HomeRow => ({
    service: `svc-${i}`,
    workload: `deployment production/svc-${i}`,
    current: { revision: 4, images: ['registry.test/svc:v4'] },
    policy: 'auto',
    openIncidents: 0,
    ...o,
  });

  it("passes Slack's Home rules and shows each service's revision, last rollback, policy, pause and incidents", () => {
    const view = buildAppHome(
      [
        row(1, {
          lastRollback: { state: 'completed', at: '2026-12-01T10:05:00Z', by: 'alice', id: 'rb-1' },
          pause: { until: '2026-12-01T14:05:00Z', by: 'bob' },
          openIncidents: 1,
        }),
        row(2, { current: { unknown: 'forbidden' }, policy: 'propose' }),
      ],
      '2026-12-01T10:06:00Z',
    );
    expect(checkView(asJson(view), 'home').ok).toBe(true);
    const text = JSON.stringify(view.blocks);
    expect(text).toContain('revision 4');
    expect(text).toContain('completed');
    expect(text).toContain('*paused* until 2026-12-01 14:05 UTC by bob');
    expect(text).toContain('1 open incident');
    expect(text).toContain('current revision unknown: forbidden');
  });

  it('stays under 100 blocks for 200 services, counting the ones it leaves out', () => {
    const view = buildAppHome(
      Array.from({ length: 200 }, (_, i) => row(i)),
      '2026-12-01T10:06:00Z',
    );
    expect(checkView(asJson(view), 'home').ok).toBe(true);
    expect(JSON.stringify(view.blocks)).toContain('…and 155 more services');
  });

  it('never lets a requester name ping or link', () => {
    const view = buildAppHome(
      [
        row(1, {
          lastRollback: {
            state: 'failed',
            at: '2026-12-01T10:05:00Z',
            by: '<!channel> <https://evil|x>',
            id: 'rb-2',
          },
        }),
      ],
      '2026-12-01T10:06:00Z',
    );
    const text = JSON.stringify(view.blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<https://evil');
  });
});
