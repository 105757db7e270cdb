// Who may tick the post-rollback checklist: the service's approvers (users, or members of its approver
// groups) and the person who asked for the rollback. Not every channel member: the ticks are evidence
// in the incident report ("verified by"), so they come from the people accountable for the rollback.
// This needs no Slack scope and no extra API call (conversations.members would need channels:read and
// groups:read and a paginated Tier 4 call per tick); anyone else can ask one of them to tick.
import type { CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';
import type { Actor, Rollback } from './model.js';

export function assertMayTickChecklist(svc: CatalogEntry, r: Rollback, actor: Actor): void {
  const requester = r.requestedBy.kind === 'user' && r.requestedBy.id === actor.id;
  const { users, groups } = svc.approvers;
  const approver = users.includes(actor.id) || (actor.groups ?? []).some((g) => groups.includes(g));
  if (requester || approver) return;
  throw new CodedError(
    'rollback_unauthorized',
    `only ${svc.name}'s approvers and the requester tick this checklist; your tick was not recorded`,
    {
      remedy: `Ask one of them (${[...users.map((u) => `<@${u}>`), ...groups.map((g) => `<!subteam^${g}>`), ...(r.requestedBy.kind === 'user' ? [`<@${r.requestedBy.id}>`] : [])].join(', ') || 'none configured'}) to tick it.`,
      details: { rollbackId: r.id, actor: actor.id },
    },
  );
}
