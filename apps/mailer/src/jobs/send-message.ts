import { MESSAGE_STATES, type mailQueue, type PayloadOf, type ResultOf } from "@finanzas/contracts";
import type { JobContext } from "@finanzas/queue";
import { type SendDeps, sendBatch } from "./send-batch.js";

/** One outbox row (a person's resend, or a job queued before send-batch existed): a batch of one. */
export async function sendMessage(
  deps: SendDeps,
  payload: PayloadOf<typeof mailQueue, "send-message">,
  ctx: JobContext,
): Promise<ResultOf<typeof mailQueue, "send-message">> {
  const { states } = await sendBatch(deps, { messageIds: [payload.messageId] }, ctx);
  return { messageId: payload.messageId, state: MESSAGE_STATES.find((s) => states[s] > 0) ?? "cancelled" };
}
