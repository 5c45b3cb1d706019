/**
 * Entry of an rd-fgw worker thread (started by threads.ts, never imported): one FGW distortion per
 * message, answered with the same id. Errors are caught and sent back (wire.ts); an error that
 * escapes — a bug here, or out of memory — ends the thread, and the pool rejects its job and starts
 * another thread for the next one.
 */
import { parentPort } from 'node:worker_threads';
import { solveDistortion } from './distortion.ts';
import { type FgwReply, type FgwRequest, encodeError, packPlan, plainError } from './wire.ts';

const port = parentPort;
if (!port) throw new Error('plugins/rd-fgw/worker is the entry of rd-fgw worker threads; it is not meant to be imported');

port.on('message', (request: FgwRequest & { id: number }) => {
  let reply: FgwReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const { summary, result } = solveDistortion(request.source, request.target, request.options);
    const plan = packPlan(result.plan, result.n1, result.n2, request.options.planThreshold);
    reply = { id: request.id, ok: true, result: { ...summary, plan } };
    transfer = [plan.buffer as ArrayBuffer];
  } catch (error) {
    reply = { id: request.id, ok: false, error: encodeError(error) };
  }
  try {
    port.postMessage(reply, transfer);
  } catch {
    // Details that cannot be cloned (a function, a symbol) travel as JSON.
    if (!reply.ok) port.postMessage({ ...reply, error: plainError(reply.error) });
    else throw new Error('rd-fgw worker: the result could not be sent');
  }
});
