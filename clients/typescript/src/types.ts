// Names for the generated schema's types (events included), and the shapes the OpenAPI document
// leaves open: the rows of results, trades and equity (the document types them as any JSON).

import type { components } from './schema.js';

type Schemas = components['schemas'];

export type SubmitRequest = Schemas['SubmitRequest'];
export type LookaheadRequest = Schemas['LookaheadRequest'];
export type Submitted = Schemas['Submitted'];
export type ExecutionView = Schemas['ExecutionView'];
export type ExecutionList = Schemas['ExecutionList'];
export type ExecutionKind = Schemas['ExecutionKind'];
export type PackView = Schemas['PackView'];
export type PackList = Schemas['PackList'];
export type CodeBody = Schemas['CodeBody'];
export type CodeAdded = Schemas['CodeAdded'];
export type CodeVersionView = Schemas['CodeVersionView'];
export type CodeList = Schemas['CodeList'];
export type Validated = Schemas['Validated'];
export type Executed = Schemas['Executed'];

/** Where an execution is in its life. */
export type ExecutionState = 'pending' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

/** The states an execution ends in. */
export const TERMINAL_STATES: readonly ExecutionState[] = ['completed', 'failed', 'cancelled'];

/** The class of a failure (quantd-core's `ErrorClass`). */
export type ErrorClass = Schemas['ErrorClass'];

/** What happened, by `type` (quantd-core's `Event`, generated from the document). */
export type EventBody = Schemas['Event'];

/** One event of an execution, as the SSE and WebSocket streams send it: its execution, its
 * sequence number (from 1), when it was appended (RFC 3339, UTC), and what happened. */
export type ExecutionEvent = Schemas['EventRecord'];

/** The event types that end an execution's stream. */
export const FINAL_EVENT_TYPES = ['execution-completed', 'execution-failed', 'execution-cancelled'] as const;

/** A row of results (scan signals, backtest statistics, …): column name to value. */
export type Row = Record<string, unknown>;

/**
 * Rows of an export, with what data rights attach to them: a `watermark` when the pack's
 * provider asks for one (the server then sends `{watermark, rows}`) and the `quantd-attribution`
 * header's text.
 */
export interface Rows<T = Row> {
  rows: T[];
  watermark: string | undefined;
  attribution: string | undefined;
}

/** One backtest trade (backtesting.py's trade columns). */
export type Trade = Record<string, unknown>;
/** The trades of one ticker of a backtest. */
export interface TickerTrades {
  ticker: string;
  trades: Trade[];
}
/** One point of an equity curve. */
export interface EquityPoint {
  /** `YYYY-MM-DD` for daily bars; RFC 3339 with the pack zone's offset for intraday bars. */
  date: string;
  equity: number;
  drawdown: number;
}
/** The equity curve of one ticker of a backtest. */
export interface TickerEquity {
  ticker: string;
  points: EquityPoint[];
}
/** A page of a paper or live session's record (`GET /v1/executions/{id}/orders`). */
export interface OrdersPage {
  /** Its `order`, `session-day`, `live-start` and `live-order` events, oldest first. */
  events: ExecutionEvent[];
  /** The `after` of the next page; null on the last page so far. */
  next: number | null;
}
