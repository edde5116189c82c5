// The server's clock, as seen from here: the registration window opens by
// the server's clock, and a laptop's may be minutes off. Each read of the
// window carries the server's time; half the round trip is added, and the
// sample with the shortest round trip is believed.

let offsetMs = 0;
let bestRtt = Infinity;

/** Server time minus local time, in milliseconds. */
export const offset = () => offsetMs;

/** The server's "now", in epoch milliseconds. */
export const serverNow = () => Date.now() + offsetMs;

/** Takes one sample: `serverTime` read between `sentAt` and `receivedAt`. */
export function sample(serverTime, sentAt, receivedAt) {
  const at = Date.parse(serverTime);
  if (!Number.isFinite(at)) return;
  const rtt = receivedAt - sentAt;
  // Old samples age: a clock adjusted since is learned again.
  bestRtt = Math.min(bestRtt * 1.5, bestRtt + 50);
  if (rtt <= bestRtt) {
    bestRtt = rtt;
    offsetMs = at + rtt / 2 - receivedAt;
  }
}
