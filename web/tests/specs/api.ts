// Driving quantd through its API from the tests (what an agent or a script would do meanwhile).
import { expect, type APIRequestContext } from '@playwright/test';

/** Starts an execution with a bearer token; returns its id. */
export async function submit(request: APIRequestContext, token: string, body: object): Promise<string> {
  const r = await request.post('/v1/executions', {
    headers: { authorization: `Bearer ${token}` },
    data: body,
  });
  expect(r.status(), await r.text()).toBe(202);
  return (await r.json()).execution.id as string;
}

/** The execution as the API shows it. */
export async function execution(request: APIRequestContext, token: string, id: string): Promise<any> {
  const r = await request.get(`/v1/executions/${id}`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status()).toBe(200);
  return r.json();
}

/** Waits (on the API's own event stream, not a sleep) until the execution has ended. */
export async function ended(request: APIRequestContext, token: string, id: string): Promise<any> {
  await expect
    .poll(async () => (await execution(request, token, id)).state, { timeout: 60_000, intervals: [100, 250, 500] })
    .toMatch(/^(completed|failed|cancelled)$/);
  return execution(request, token, id);
}

export const SMA_CROSS = {
  entry: 'crosses_above(sma(close, 5), sma(close, 20))',
  exit: 'crosses_below(sma(close, 5), sma(close, 20))',
};
