// Errors: every failure the server answers is an RFC 9457 problem document (docs/api.md,
// "Errors"); `QuantdError` carries it whole, with its diagnostics (line and column for code).

import type { components } from './schema.js';

/** A problem document as the server sends it (`application/problem+json`). */
export type Problem = components['schemas']['Problem'];
/** One code diagnostic of an `invalid-code` problem: message, line, column, help. */
export type CodeDiagnostic = components['schemas']['CodeDiagnostic'];

/** The prefix of every problem type quantd defines (`urn:quantd:problem:not-found`). */
export const PROBLEM_PREFIX = 'urn:quantd:problem:';

/** An error answered by the server (a problem document), or a transport failure (`status` 0). */
export class QuantdError extends Error {
  /** The problem document (for a transport failure or a body that was not one, a stand-in). */
  readonly problem: Problem;
  /** The HTTP status (0 when no response came). */
  readonly status: number;
  /** The response's headers, when there was a response (`Retry-After`, `traceparent`, …). */
  readonly headers: Headers | undefined;

  constructor(problem: Problem, headers?: Headers, options?: { cause?: unknown }) {
    super(problemMessage(problem), options);
    this.name = 'QuantdError';
    this.problem = problem;
    this.status = problem.status;
    this.headers = headers;
  }

  /** The problem's type URI (`urn:quantd:problem:invalid-code`). */
  get type(): string {
    return this.problem.type;
  }

  /** The type without its `urn:quantd:problem:` prefix (`invalid-code`). */
  get slug(): string {
    const t = this.problem.type;
    return t.startsWith(PROBLEM_PREFIX) ? t.slice(PROBLEM_PREFIX.length) : t;
  }

  get title(): string {
    return this.problem.title;
  }

  get detail(): string {
    return this.problem.detail;
  }

  /** Code diagnostics with line and column (`invalid-code`); empty otherwise. */
  get diagnostics(): CodeDiagnostic[] {
    return this.problem.errors ?? [];
  }

  /** The request's W3C trace id: quote it when reporting a problem. */
  get traceId(): string | undefined {
    return this.problem.trace_id ?? undefined;
  }

  /** `Retry-After` in seconds (503 `pack-warming`, `unavailable`, `store-unavailable`), if sent. */
  get retryAfter(): number | undefined {
    const v = this.headers?.get('retry-after');
    if (v == null || !/^[0-9]+$/.test(v.trim())) return undefined;
    return Number(v.trim());
  }
}

function problemMessage(p: Problem): string {
  const where = (p.errors ?? [])
    .map((e) => `${e.line}:${e.column}: ${e.message}`)
    .join('; ');
  const detail = p.detail && where && !p.detail.includes(where) ? `${p.detail} (${where})` : p.detail || where;
  return `${p.status} ${p.title}: ${detail}`;
}

/** Whether a parsed JSON value looks like a problem document. */
export function isProblem(v: unknown): v is Problem {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.type === 'string' && typeof o.title === 'string' && typeof o.status === 'number';
}

/** The error of a response that is not a success: its problem document, or one made from its text. */
export async function errorOf(res: Response): Promise<QuantdError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isProblem(body)) return new QuantdError(body, res.headers);
  return new QuantdError(
    {
      type: 'about:blank',
      title: res.statusText || 'HTTP error',
      status: res.status,
      detail: text.slice(0, 2000) || `HTTP ${res.status}`,
    },
    res.headers,
  );
}

/** A transport failure (no response: refused, reset, aborted) as a `QuantdError` with status 0. */
export function transportError(what: string, cause: unknown): QuantdError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new QuantdError(
    { type: 'urn:quantd:client:transport', title: 'Transport error', status: 0, detail: `${what}: ${reason}` },
    undefined,
    { cause },
  );
}
