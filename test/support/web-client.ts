// The real @slack/web-api client in tests against the Slack emulator: quiet, and a helper that reads a
// refusal's Slack error (code and response_metadata) so a test checks it, not just that a call threw.
import { webApi } from '@slack/bolt';

export const silentWebLogger: webApi.Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => webApi.LogLevel.ERROR,
  setName: () => {},
};

/** Runs a call that must fail and returns the platform error's data. */
export async function refusal(
  p: Promise<unknown>,
): Promise<{ error: string; response_metadata?: { messages?: string[] } }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof webApi.WebAPIPlatformError) return e.data as never;
    throw e;
  }
  throw new Error('expected the call to be refused');
}
