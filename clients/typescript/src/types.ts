// Names for the generated schema's types, and the shapes the OpenAPI document leaves open: the
// events of the live streams (quantd-core's `Event`, serialized with a kebab-case `type`) and
// the rows of results, trades and equity (the document types them as any JSON).

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
export type ErrorClass =
  | 'validation'
  | 'data'
  | 'execution'
  | 'timeout'
  | 'resource'
  | 'policy'
  | 'internal'
  | 'network'
  | 'circuit_open';

/** What every event carries: its execution, its sequence number (from 1) and when it was appended. */
export interface EventEnvelope {
  execution: string;
  seq: number;
  /** RFC 3339, UTC. */
  at: string;
}

/** What happened, by `type`. */
export type EventBody =
  | { type: 'execution-created'; shards: number }
  | { type: 'execution-started' }
  | { type: 'execution-paused' }
  | { type: 'execution-resumed' }
  | { type: 'execution-completed'; failed_shards: number }
  | { type: 'execution-failed'; class: ErrorClass; message: string }
  | { type: 'execution-cancelled' }
  | { type: 'shard-started'; shard: number; attempt: number }
  | { type: 'shard-completed'; shard: number; rows: number }
  | { type: 'shard-failed'; shard: number; class: ErrorClass; message: string }
  | { type: 'shard-retrying'; shard: number; attempt: number; delay_ms: number; class: ErrorClass }
  | { type: 'progress'; done: number; total: number; bars: number; rows: number; eta_ms: number | null }
  | { type: 'phase'; phase: string; done: number; total: number }
  | { type: 'step-started'; step: string; child: string | null; attempt: number }
  | { type: 'step-completed'; step: string; child: string | null; attempt: number; duration_ms: number; cached: boolean }
  | { type: 'step-skipped'; step: string; reason: string }
  | {
      type: 'step-failed';
      step: string;
      child: string | null;
      attempt: number;
      duration_ms: number;
      class: ErrorClass;
      message: string;
    }
  | {
      type: 'order';
      bar: number;
      time: string;
      status: string;
      order: number;
      client_id?: number;
      ticker?: string;
      size?: number;
      price?: number;
      trade?: number;
      partial?: boolean;
      reason?: string;
    }
  | {
      type: 'session-day';
      date: string;
      bar: number;
      equity: number;
      cash: number;
      pnl: number;
      open_trades: number;
      fills: number;
      positions: Record<string, number>;
    }
  | { type: 'live-start'; bar: number; held: Record<string, number> }
  | {
      type: 'live-order';
      bar: number;
      time: string;
      status: string;
      ticker?: string;
      size?: number;
      price?: number;
      placed?: number;
      reason?: string;
    }
  | { type: 'health'; score: number; band: string };

/** One event of an execution, as the SSE and WebSocket streams send it. */
export type ExecutionEvent = EventEnvelope & EventBody;

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
/** A page of a paper session's record (`GET /v1/executions/{id}/orders`). */
export interface OrdersPage {
  events: Array<Record<string, unknown> & { seq: number; at: string; type: 'order' | 'session-day' }>;
  /** The `after` of the next page; null on the last page so far. */
  next: number | null;
}
