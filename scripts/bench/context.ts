// What every bench section is given: the one world of the run and a way to say what it is doing.

import type { WorldInfo } from '../../test/support/world/world.js';
import type { Figure } from './figures.js';

export interface BenchContext {
  world: WorldInfo;
  /** Progress lines on stderr, so stdout stays the table. */
  log(line: string): void;
}

export type Section = (ctx: BenchContext) => Promise<Figure[]>;
