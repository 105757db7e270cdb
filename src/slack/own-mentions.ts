// The mentions the bot writes itself and may keep live in text it cannot otherwise tell from untrusted
// text (error messages that name approvers): the catalog's approvers, approver groups, engineering
// managers and monitoring groups, plus the person the reply is for. Anything else is escaped.
import type { Catalog } from '../config/catalog-schema.js';

export function ownMentions(catalog: Catalog, ...userIds: string[]): Set<string> {
  const users = new Set(userIds);
  const groups = new Set<string>();
  for (const s of catalog.services.values()) {
    for (const u of s.approvers.users) users.add(u);
    for (const g of s.approvers.groups) groups.add(g);
    if (s.notify.engineeringManager) users.add(s.notify.engineeringManager);
    if (s.notify.monitoringGroup) groups.add(s.notify.monitoringGroup);
  }
  return new Set([...[...users].map((u) => `<@${u}>`), ...[...groups].map((g) => `<!subteam^${g}>`)]);
}
