// Sign-offs: the report's Approval lines ("Release Manager: ____ Date: ____"), filled in Slack by the
// people the catalog names for each role, once the rollback has ended. Each is recorded in the audit
// trail and re-renders the stored report, which is posted again.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import type { Actor, Rollback, RollbackEvent, SignOffRole } from './model.js';
import type { StorePort } from './ports.js';
import { TERMINAL } from './states.js';

export const ROLE_LABEL: Record<SignOffRole, string> = {
  release_manager: 'Release Manager',
  engineering_manager: 'Engineering Manager',
};

/** Who may sign as `role` for this service. */
export function signers(svc: CatalogEntry, role: SignOffRole): string[] {
  if (role === 'release_manager') return svc.signOff.releaseManagers;
  if (svc.signOff.engineeringManagers.length) return svc.signOff.engineeringManagers;
  return svc.notify.engineeringManager ? [svc.notify.engineeringManager] : [];
}

export interface SignOffDeps {
  store: StorePort;
  now: () => Date;
  serviceOf: (r: Rollback) => CatalogEntry;
  note: (r: Rollback, actor: Actor, data: Record<string, unknown>) => RollbackEvent;
  renderReport: (r: Rollback, events: RollbackEvent[]) => string;
  kick: (id: string) => void;
}

export function createSignOff(deps: SignOffDeps) {
  return async function signOff(id: string, role: SignOffRole, actor: Actor): Promise<Rollback> {
    const { store } = deps;
    const r = await store.get(id);
    if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
    if (!TERMINAL.has(r.state))
      throw new CodedError('rollback_wrong_state', 'the report is signed once the rollback has ended');
    const label = ROLE_LABEL[role];
    const allowed = signers(deps.serviceOf(r), role);
    if (!allowed.includes(actor.id)) {
      const message = `<@${actor.id}> may not sign off as ${label} for ${r.service}`;
      await store.append(
        deps.note(r, actor, { kind: 'unauthorized', decision: `sign_off_${role}`, message }),
      );
      throw new CodedError('rollback_unauthorized', message, {
        remedy: allowed.length
          ? `Ask ${allowed.map((u) => `<@${u}>`).join(', ')}.`
          : `Nobody is configured: set signOff in the catalog entry of ${r.service}.`,
      });
    }
    const done = r.signOffs?.find((s) => s.role === role);
    if (done)
      throw new CodedError(
        'rollback_wrong_state',
        `already signed off as ${label} by ${done.by.name ?? done.by.id} at ${done.at}`,
      );
    const at = deps.now().toISOString();
    const next: Rollback = { ...r, signOffs: [...(r.signOffs ?? []), { role, by: actor, at }] };
    const event = deps.note(r, actor, { kind: 'sign_off', role });
    const report = deps.renderReport(next, [...(await store.events(id)), event]);
    const saved = await store.commit(
      { state: r.state, version: r.version },
      { ...next, report },
      event,
      undefined,
      r.thread
        ? [{ kind: 'reportUpdated', text: `signed off as ${label} by ${actor.name ?? actor.id}` }]
        : [],
    );
    deps.kick(id);
    return saved;
  };
}
