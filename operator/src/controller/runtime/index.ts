// The controller runtime: a TypeScript take on client-go / controller-runtime for the DeepSeekDeployment operator.
// See docs/controller-runtime.md. Test helpers (FakeClock, FakeApiServer) live in testing.ts and fakeapiserver.ts
// and are deliberately not exported here.
export { realClock, RealClock, type Clock, type TimerHandle } from "./clock.ts";
export { shareConnections } from "./connections.ts";
export {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
  type DefaultRateLimiterOptions,
  type RateLimiter,
} from "./ratelimiter.ts";
export { WorkQueue, type WorkQueueOptions } from "./workqueue.ts";
export {
  Controller,
  isPanic,
  splitKey,
  type ControllerOptions,
  type ReconcileContext,
  type ReconcileFn,
  type Result,
  type SyncSource,
} from "./controller.ts";
export {
  Informer,
  resourcePath,
  type InformerEventType,
  type InformerHandler,
  type InformerHealth,
  type InformerOptions,
  type ListFn,
  type ListOptions,
  type ResourceRef,
  type WatchLike,
} from "./informer.ts";
export {
  enqueueFor,
  generationChanged,
  labelPrefixMapper,
  ownerKeyMapper,
  selfKey,
  type KeyMapper,
  type KeyQueue,
  type OwnerKind,
  type Predicate,
} from "./handlers.ts";
export { key, objectKey } from "./keys.ts";
export {
  LeaderElector,
  type LeaderCallbacks,
  type LeaderElectionRecord,
  type LeaderElectorOptions,
  type LeaseLock,
} from "./leader.ts";
export { KubeLeaseLock, MemoryLeaseLock, MemoryLeaseStore, leaseSpecToRecord, recordToLeaseSpec } from "./leaselock.ts";
export {
  OperatorMetrics,
  RECONCILE_TIME_BUCKETS,
  WORKQUEUE_BUCKETS,
  serveMetrics,
  type ApiWriteVerb,
  type OperatorMetricsOptions,
} from "./metrics.ts";
export {
  HealthProbes,
  informersLive,
  informersSynced,
  ping,
  serveHealth,
  type HealthCheck,
  type HealthReporter,
} from "./health.ts";
export type { ListenOptions, RunningServer } from "./httpserver.ts";
export {
  EventRecorder,
  KubeEventSink,
  NOTE_MAX_BYTES,
  REPORTING_CONTROLLER,
  truncateUtf8,
  type EventRecorderOptions,
  type EventSink,
  type EventSpec,
  type EventType,
} from "./events.ts";
export {
  ApplyClient,
  DEFAULT_FIELD_MANAGER,
  type ApplyClientOptions,
  type ApplyOptions,
  type DeleteOptions,
  type FieldValidation,
  type ObjectHeader,
  type PatchOptions,
  type PatchType,
  type WriteOptions,
} from "./apply.ts";
export {
  KindNotServedError,
  KubeApiError,
  TerminalError,
  describeRef,
  httpCode,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isKindNotServed,
  isNotFound,
  isTerminalError,
  statusReason,
  type ObjectRef,
} from "./errors.ts";
export { requestOptions } from "./requestoptions.ts";
