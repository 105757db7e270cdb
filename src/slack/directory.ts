// Which approver groups a person belongs to: usergroups.users.list per group, cached for a minute
// (the method is Tier 2, ~20 calls a minute).
import type { webApi } from '@slack/bolt';

type WebClient = webApi.WebClient;

const TTL_MS = 60_000;

export function createDirectory(client: WebClient, now: () => number = Date.now) {
  const cache = new Map<string, { at: number; users: Promise<string[]> }>();

  function members(group: string): Promise<string[]> {
    const hit = cache.get(group);
    if (hit && now() - hit.at < TTL_MS) return hit.users;
    const users = client.usergroups.users
      .list({ usergroup: group })
      .then((r) => r.users ?? [])
      .catch((err: unknown) => {
        cache.delete(group);
        throw err;
      });
    cache.set(group, { at: now(), users });
    return users;
  }

  return {
    /** The groups among `candidates` that list the user. */
    async groupsOf(userId: string, candidates: string[]): Promise<string[]> {
      const found = await Promise.all(
        candidates.map(async (g) => ((await members(g)).includes(userId) ? g : undefined)),
      );
      return found.filter((g): g is string => g !== undefined);
    },
  };
}
export type Directory = ReturnType<typeof createDirectory>;
