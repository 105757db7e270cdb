// What the domain tells the bot's own metrics (/metrics). Counting only: a metrics failure never
// changes what a rollback does, so every method is fire-and-forget and must not throw.
import type { Signal, SignalKind } from './signal.js';

export interface MetricsPort {
  /** A signal reached the bot: from the alert webhook or the watch triggers, by kind ('none': no kind). */
  signal(source: Signal['source'], kind: SignalKind | 'none'): void;
  /** An automatic rollback a guard rail held back (cooldown, max per window, a pause, …). */
  suppressed(guard: string): void;
  /** This process continued a rollback whose lease another process had held. */
  leaseTakeover(): void;
}

export const noMetrics: MetricsPort = {
  signal: () => undefined,
  suppressed: () => undefined,
  leaseTakeover: () => undefined,
};
