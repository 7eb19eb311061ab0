/**
 * A create that collides with a system of another owner (issue 12, error messages). Our ids are
 * `<name>-<hash>`: when Docker, containerd or another controller already has a system with that
 * id, HCS answers "already exists" and retrying can never help. The failure becomes permanent
 * (parked for this config hash) with a message that names the owner and says what to do.
 */
import type { HcsFailure } from './ports.ts';

/** Looks up the owner of a system id (HcsEnumerateComputeSystems by id); undefined if unknown. */
export type OwnerLookup = (id: string) => Promise<string | undefined>;

/** A permanent failure explaining the collision. */
export class IdCollision extends Error implements HcsFailure {
  readonly op = 'create';
  readonly kind = 'alreadyExists' as const;
  readonly permanent = true;
  constructor(readonly systemId: string, readonly hresult: number, owner: string | undefined, cause: string) {
    super(
      `create ${systemId}: a compute system with this id already exists${owner !== undefined ? ` and is owned by "${owner}"` : ''}, not by this controller; ` +
        `rename the manifest (metadata.name) so that its systems get other ids; not retried until the manifest changes (${cause})`,
    );
  }
}

/** `err` itself, or an {@link IdCollision} when it is an "already exists" of a create. */
export async function explainCollision(err: unknown, id: string, ourOwner: string, lookup: OwnerLookup): Promise<unknown> {
  const failure = err as Partial<HcsFailure> | undefined;
  if (failure?.kind !== 'alreadyExists') return err;
  const owner = await lookup(id).catch(() => undefined);
  // Ours after all (a list that raced with our own create): retrying (adopting) is right.
  if (owner !== undefined && owner.toLowerCase() === ourOwner.toLowerCase()) return err;
  return new IdCollision(id, failure.hresult ?? 0, owner, err instanceof Error ? err.message : String(err));
}
