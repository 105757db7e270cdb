// The bench's load generator, in a process of its own (forked by ack.ts with an IPC channel): it
// sends each signed request it is handed at once and times it from here, so the bench process, which
// also hosts the Slack emulator, adds none of its own work (checking answers, serving the bot's Web
// API calls) to the acks it measures. One message in: { id, url, headers, body, timeoutMs }; one out:
// { id, status, body, contentType, ms, timedOut } (status 0 and timedOut once timeoutMs passed, as
// Slack gives up), or { id, error } when the bot could not be reached.
//
// Answers are held until no request is in flight, then sent together: the emulator checks each
// answer it is given (the help's blocks against Block Kit's rules, for one), and doing that while the
// bot still answers the rest of a burst would take one of the two cores from the bot alone (the
// minimal app's empty acks need no check), so the bot's rounds would be measured on a busier machine.
let inFlight = 0;
const held = [];

function answer(message) {
  held.push(message);
  inFlight -= 1;
  if (inFlight > 0) return;
  for (const m of held.splice(0)) process.send(m);
}

process.on('message', async ({ id, url, headers, body, timeoutMs }) => {
  inFlight += 1;
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    const took = ms();
    answer({
      id,
      status: res.status,
      body: text,
      contentType: res.headers.get('content-type') ?? '',
      ms: took,
      timedOut: false,
    });
  } catch (err) {
    if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      answer({ id, status: 0, body: '', contentType: '', ms: ms(), timedOut: true });
    } else {
      answer({ id, error: String(err) });
    }
  }
});
// Ready once the channel is open: the bench waits for this before the first burst.
process.send({ ready: true });
