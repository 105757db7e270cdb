// Every block action through one Bolt listener, dispatched by action_id. Bolt runs the middleware of
// every registered listener for every request (a copy of the arguments each), so one listener per
// button made each slash command and click pay for all seventeen: the bench's ack profile showed it
// (Bolt's listener loop and the garbage it leaves were a third of the bot's CPU per command). One
// exact lookup also replaces the "any other id" pattern, which matched ids it did not list.
import type { AllMiddlewareArgs, App, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';

export type ActionArgs<A extends BlockAction = BlockAction> = SlackActionMiddlewareArgs<A> &
  AllMiddlewareArgs;
export type ActionHandler<A extends BlockAction = BlockAction> = (args: ActionArgs<A>) => Promise<void>;

export interface ActionRouter {
  /** The handler for one action_id; an id registered twice is a programming error. */
  action<A extends BlockAction = BlockAction>(actionId: string, handler: ActionHandler<A>): void;
  /** What an action_id no handler claims gets (an old message, a forged payload). */
  otherwise(handler: ActionHandler): void;
}

export function createActionRouter(app: App): ActionRouter {
  const handlers = new Map<string, ActionHandler>();
  let fallback: ActionHandler = async ({ ack }) => {
    await ack();
  };
  app.action<BlockAction>(/.*/, async (args) => {
    const handler = handlers.get(args.action.action_id) ?? fallback;
    await handler(args);
  });
  return {
    action(actionId, handler) {
      if (handlers.has(actionId)) throw new Error(`action ${actionId} has a handler already`);
      handlers.set(actionId, handler as unknown as ActionHandler);
    },
    otherwise(handler) {
      fallback = handler;
    },
  };
}
