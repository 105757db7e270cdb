// The procedure's working states and the step that does each one's work.
import type { State } from '../states.js';
import { assessing } from './assessing.js';
import type { Step, StepContext } from './context.js';
import { migrating } from './migrating.js';
import { notifying } from './notifying.js';
import { reporting } from './reporting.js';
import { undoing } from './undoing.js';
import { verifying } from './verifying.js';

export const STEPS: Partial<Record<State, Step>> = {
  requested: (ctx: StepContext, r, lease) => ctx.move(r, 'start', lease, ctx.system),
  assessing,
  notifying,
  migrating,
  undoing,
  verifying,
  reporting,
};
