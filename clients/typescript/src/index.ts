// @quantd/client: a typed client of the quantd HTTP API (README.md).
export { Client, type ListQuery, type ResultFormat, type SubmitOptions } from './client.js';
export { Transport, type CallInit, type ClientOptions, type JsonBody, type JsonResult, type Method, type Operation, type PathsWith } from './http.js';
export { QuantdError, PROBLEM_PREFIX, isProblem, type CodeDiagnostic, type Problem } from './errors.js';
export {
  ExecutionEvents,
  WorkspaceEvents,
  type CommandAck,
  type EventStreamOptions,
  type ReconnectInfo,
  type RetryOptions,
  type WebSocketConstructor,
  type WebSocketLike,
  type WorkspaceStreamOptions,
} from './events.js';
export { SseParser, sseMessages, type SseMessage } from './sse.js';
export * from './types.js';
export type { components, operations, paths } from './schema.js';
